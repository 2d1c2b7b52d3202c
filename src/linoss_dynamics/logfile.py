"""The run log file: append-only checksummed frames, one writer, streaming readers.

Layout::

    MAGIC (8 bytes: b"\\x89LINOSS" + format version)
    frame 0: the header (RunStarted)
    frame 1..: one event each

    frame = length (u32 LE) | ~length (u32 LE) | prev (16 bytes) | body | checksum (u64 LE)

``body`` is the event's canonical msgpack (see ``codec``); ``prev`` is the chain
digest before this event (the genesis for the header and the first event), so
the event's own chain digest is xxh3-128 of the contiguous ``prev | body``;
``checksum`` is xxh3-64 of everything in the frame before it. The writer also
keeps the Merkle tree of the event bodies (``merkle``) and writes its root into
the closing record; with a seal key it seals the tree into the sidecar file of
sealed checkpoints (``seals``) when asked and when it closes. The doubled length
tells a damaged length field from a cut tail, so a reader always knows whether a
frame was torn (the file ends inside it: ``LogTruncatedError``), damaged
(``LogCorruptError``) or intact but out of place (``ChainBrokenError``).

Durability (``SyncPolicy``): frames are buffered in memory and written to the
file in large blocks; ``fsync`` makes them durable.

- ``SyncPolicy.on_close()`` (default): one ``fsync`` when the writer closes. A
  crash or power failure before that may lose every event of the session; the
  file is never damaged before the torn tail, which reopening discards.
- ``SyncPolicy.every(n)``: write and ``fsync`` every ``n`` events: loses at most
  the last ``n - 1`` events.
- ``SyncPolicy.every_event()``: write and ``fsync`` each event: loses nothing
  acknowledged, at the cost of one ``fsync`` per event: 160 to 220 microseconds
  on the virtual disk measured in BENCHMARKS.md, against 3 to 5 microseconds
  for an event buffered under ``on_close``. ``every(100)`` cost 1.25 times
  ``on_close`` per recorded step there.

A killed process (not a power failure) loses only what was still in the
in-memory buffer; the operating system keeps what was written.

One writer at a time: the writer takes an exclusive advisory lock
(``flock``) on the file and a second writer fails at once with
``LogLockedError``. Readers take no lock and never block.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import struct
from collections.abc import Iterator
from typing import IO, Any, BinaryIO, Final, cast

import xxhash
from pydantic import ValidationError

from . import codec
from .errors import (
    ChainBrokenError,
    LogCorruptError,
    LogError,
    LogFormatError,
    LogLockedError,
    LogTruncatedError,
    UnsupportedVersionError,
)
from .events import Event, RunClosed, RunStarted, RunStartedModel, header_to_model
from .merkle import MerkleTree
from .seals import Key, SealedCheckpoint, SealWriter, run_id, seals_path

try:  # POSIX advisory locks; elsewhere the writer runs without one.
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_MAX_FRAME_BYTES",
    "LogReader",
    "LogWriter",
    "Recovery",
    "SyncPolicy",
]

DEFAULT_MAX_FRAME_BYTES: Final = 64 << 20
"""Largest frame a reader accepts unless told otherwise (64 MiB).

A real frame holds one event: at P = 1,000,000 oscillators a checkpoint is
about 16 MB. A damaged or hostile length field beyond the bound is refused
before anything is allocated.
"""

_FRAME_HEAD: Final = struct.Struct("<II")
_CHECKSUM: Final = struct.Struct("<Q")
_HEAD_SIZE: Final = _FRAME_HEAD.size
_PREV_SIZE: Final = codec.DIGEST_SIZE
_TAIL_SIZE: Final = _CHECKSUM.size
_OVERHEAD: Final = _HEAD_SIZE + _PREV_SIZE + _TAIL_SIZE
_MASK: Final = 0xFFFFFFFF
_BUFFER_BYTES: Final = 1 << 20
_CHUNK_BYTES: Final = 1 << 20


@dataclasses.dataclass(frozen=True)
class SyncPolicy:
    """When the writer makes events durable (see the module docs for what each loses).

    Build with ``SyncPolicy.on_close()``, ``SyncPolicy.every(n)`` or
    ``SyncPolicy.every_event()``.
    """

    every_n: int = 0
    """Sync every ``every_n`` events; 0 means only on close."""

    @classmethod
    def on_close(cls) -> SyncPolicy:
        return cls(0)

    @classmethod
    def every(cls, n: int) -> SyncPolicy:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise LogError(f"SyncPolicy.every(n) needs a positive integer n; got {n!r}")
        return cls(n)

    @classmethod
    def every_event(cls) -> SyncPolicy:
        return cls(1)


@dataclasses.dataclass(frozen=True)
class Recovery:
    """What reopening a log for append found.

    Attributes:
        events: Events kept (after the header).
        valid_bytes: Length of the file that was kept.
        discarded_bytes: Bytes cut from a torn tail (0 if the log was intact).
        reason: Why they were discarded, or None.
    """

    events: int
    valid_bytes: int
    discarded_bytes: int
    reason: str | None


def frame(prev: bytes, body: bytes) -> tuple[bytes, bytes]:
    """One frame's bytes and the event's chain digest."""
    buffer = bytearray()
    digest = frame_into(buffer, prev, body)
    return bytes(buffer), digest


def frame_into(buffer: bytearray, prev: bytes, body: bytes) -> bytes:
    """Append the frame of ``body`` to ``buffer``; returns the event's chain digest."""
    length = len(body)
    core = b"".join((_FRAME_HEAD.pack(length, length ^ _MASK), prev, body))
    buffer += core
    buffer += _CHECKSUM.pack(xxhash.xxh3_64_intdigest(core))
    return xxhash.xxh3_128_digest(memoryview(core)[_HEAD_SIZE:])


class LogWriter:
    """Appends events to a run log, keeping the hash chain and the sync policy.

    Create a new log with ``LogWriter.create(path, header)``, continue one with
    ``LogWriter.append(path)``, or write to an in-memory binary stream with
    ``LogWriter(stream, header)``. Use as a context manager, or call ``close``.
    """

    def __init__(
        self,
        stream: IO[bytes],
        header: RunStarted | None = None,
        *,
        sync: SyncPolicy | None = None,
        path: str | None = None,
        seals: SealWriter | None = None,
        _resume: tuple[bytes, int, MerkleTree] | None = None,
    ) -> None:
        self._stream = stream
        self._path = path
        self._sync = sync or SyncPolicy.on_close()
        self._buffer = bytearray()
        self._since_sync = 0
        self._closed = False
        self._fd: int | None = None
        self._seals = seals
        if _resume is not None:
            self._prev, self._seq, self._tree = _resume
            return
        if header is None:
            raise LogError("a new log needs a header (RunStarted)", path=path)
        self._tree = MerkleTree()
        genesis = codec.genesis_digest(header.spec, header.y0, header.z0)
        self._buffer += codec.MAGIC
        frame_into(self._buffer, genesis, codec.encode_header(header))
        self._prev = genesis
        self._seq = 0
        self._flush()

    # -- opening ------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        header: RunStarted,
        *,
        sync: SyncPolicy | None = None,
        overwrite: bool = False,
        key: Key | None = None,
    ) -> LogWriter:
        """Start a new log at ``path`` (refuses an existing file unless ``overwrite``).

        With a seal key, sealed checkpoints go to ``<path>.seals`` (replaced
        along with the log when ``overwrite``).
        """
        name = os.fspath(path)
        # Never O_TRUNC here: the file may be another writer's, and only the
        # lock says so. Truncate once the lock is ours.
        flags = os.O_WRONLY | os.O_CREAT | (0 if overwrite else os.O_EXCL)
        try:
            fd = os.open(name, flags, 0o644)
        except FileExistsError:
            raise LogError(
                f"{name} already exists; append to it with LogWriter.append or pass "
                "overwrite=True",
                path=name,
            ) from None
        except OSError as exc:
            raise LogError(f"cannot create {name}: {exc.strerror}", path=name) from None
        stream = _locked_stream(fd, name, "wb")
        if overwrite:
            os.ftruncate(fd, 0)
        sealer = None
        if key is not None:
            try:
                if overwrite:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(seals_path(name))
                sealer = SealWriter(
                    seals_path(name), key, run_id(header.spec, header.y0, header.z0)
                )
            except BaseException:
                stream.close()
                raise
        writer = cls(stream, header, sync=sync, path=name, seals=sealer)
        writer._fd = fd
        return writer

    @classmethod
    def append(
        cls,
        path: str | os.PathLike[str],
        *,
        sync: SyncPolicy | None = None,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        discard_damaged_tail: bool = False,
        key: Key | None = None,
    ) -> tuple[LogWriter, Recovery]:
        """Continue an existing log after its last valid frame.

        A torn tail (the file ends inside a frame, or its last frame fails its
        checksum) is cut off and reported in the returned ``Recovery``. Damage
        followed by more data is not what a killed process leaves and is refused,
        unless ``discard_damaged_tail`` says to cut the log at the first damaged
        frame (a power failure can persist later blocks before earlier ones, so
        the region after the last sync may look like that).

        The Merkle tree is rebuilt from the events kept (hashing each once); with
        a seal key, further sealed checkpoints are appended to ``<path>.seals``.
        """
        name = os.fspath(path)
        try:
            fd = os.open(name, os.O_RDWR)
        except OSError as exc:
            raise LogError(f"cannot open {name}: {exc.strerror}", path=name) from None
        stream = _locked_stream(fd, name, "r+b")
        try:
            recovery, prev, seq, tree, run = _recover(
                name, max_frame_bytes, discard_damaged_tail
            )
            if recovery.discarded_bytes:
                os.ftruncate(fd, recovery.valid_bytes)
                os.fsync(fd)
            stream.seek(recovery.valid_bytes)
            sealer = None if key is None else SealWriter(seals_path(name), key, run)
        except BaseException:
            stream.close()
            raise
        writer = cls(
            stream, sync=sync, path=name, seals=sealer, _resume=(prev, seq, tree)
        )
        writer._fd = fd
        return writer, recovery

    # -- writing ------------------------------------------------------------

    @property
    def seq(self) -> int:
        """Sequence number the next event gets."""
        return self._seq

    @property
    def digest(self) -> bytes:
        """Chain digest after the last event: the run digest so far."""
        return self._prev

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def sealed(self) -> bool:
        """Whether this writer has a seal key."""
        return self._seals is not None

    def attach_seals(self, seals: SealWriter) -> None:
        """Seal into ``seals`` from now on (a writer made without a key)."""
        self._seals = seals

    @property
    def tree_root(self) -> bytes:
        """Merkle root of the events written so far."""
        return self._tree.root()

    def seal(self) -> SealedCheckpoint:
        """Seal the events so far into the sidecar file (written at the next sync).

        Raises:
            LogError: the writer has no seal key.
        """
        if self._seals is None:
            raise LogError(
                "this log writer has no seal key: open it with key=SealKey(...)",
                path=self._path,
                seq=self._seq,
            )
        return self._seals.seal(self._seq, self._tree.root())

    def write_body(self, body: bytes) -> bytes:
        """Append one canonical event body; returns its chain digest.

        The caller built ``body`` for sequence number ``self.seq`` (the recorder
        and ``write`` do); the writer does not decode it again.
        """
        if self._closed:
            raise LogError("the log writer is closed", path=self._path, seq=self._seq)
        buffer = self._buffer
        digest = frame_into(buffer, self._prev, body)
        self._tree.append(body)
        self._prev = digest
        self._seq += 1
        if self._sync.every_n:
            self._since_sync += 1
            if self._since_sync >= self._sync.every_n:
                self.sync()
        elif len(buffer) >= _BUFFER_BYTES:
            self._flush()
        return digest

    def write(self, record: Event) -> bytes:
        """Append an event record (its ``seq`` must be ``self.seq``)."""
        if record.seq != self._seq:
            raise LogError(
                f"event seq must be {self._seq} (the next in this log); got {record.seq}",
                path=self._path,
                seq=record.seq,
            )
        return self.write_body(codec.encode_event(record))

    def _flush(self) -> None:
        if self._buffer:
            self._stream.write(self._buffer)
            self._buffer.clear()

    def sync(self) -> None:
        """Write buffered frames and make them durable (``fsync`` for files)."""
        self._flush()
        self._stream.flush()
        if self._fd is not None:
            os.fsync(self._fd)
        self._since_sync = 0
        if self._seals is not None:
            # Only once the events they cover are durable.
            self._seals.flush()

    def close(self, *, clean: bool = True) -> None:
        """Write the closing record (when ``clean``), sync and release the lock."""
        if self._closed:
            return
        try:
            if clean:
                self.write(
                    RunClosed(self._seq, self._seq, self._prev, self._tree.root())
                )
                if self._seals is not None:
                    self.seal()
            self.sync()
        finally:
            self._closed = True
            if self._seals is not None:
                self._seals.close()
            if self._fd is not None:
                self._stream.close()

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        # After an exception the events written so far are kept and synced, but
        # the log is not marked closed: it shows the run stopped early.
        self.close(clean=exc_type is None)


def _locked_stream(fd: int, name: str, mode: str) -> BinaryIO:
    """An unbuffered stream on ``fd`` once this process holds the writer's lock."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LogLockedError(
                f"{name} is being written by another writer; wait for it to close "
                "(readers may open it meanwhile)",
                path=name,
            ) from None
    return cast(BinaryIO, os.fdopen(fd, mode, buffering=0))


def _recover(
    name: str, max_frame_bytes: int, discard_damaged_tail: bool
) -> tuple[Recovery, bytes, int, MerkleTree, bytes]:
    reader = LogReader(name, max_frame_bytes=max_frame_bytes)
    try:
        header = reader.header
        run = run_id(header.spec, header.y0, header.z0)
        tree = MerkleTree()
        events = 0
        try:
            for body in reader.bodies():
                reader.decode(body)
                tree.append(body)
                events += 1
        except (LogTruncatedError, LogCorruptError) as exc:
            size = os.path.getsize(name)
            torn = isinstance(exc, LogTruncatedError) or (
                reader.frame_end is not None and reader.frame_end == size
            )
            if not torn and not discard_damaged_tail:
                raise LogCorruptError(
                    f"cannot append to {name}: {exc}, and {size - reader.offset} bytes "
                    "from there to the end are not a torn tail (a crash only cuts the "
                    "last frame short); verify the log to see the damage, or pass "
                    "discard_damaged_tail=True to cut the log at the damaged frame",
                    path=name,
                    seq=exc.seq,
                    offset=exc.offset,
                ) from None
            valid = reader.offset
            return (
                Recovery(events, valid, size - valid, f"torn tail: {exc}"),
                reader.digest,
                events,
                tree,
                run,
            )
        return (
            Recovery(events, reader.offset, 0, None),
            reader.digest,
            events,
            tree,
            run,
        )
    finally:
        reader.close()


class LogReader:
    """Streams the events of a log, checking frames, canonical bodies and the chain.

    Memory stays constant: the data is read in chunks of 1 MiB (or one frame,
    if larger), and frames are checked and handed out one at a time.
    The header is read and validated on opening (``header``); iterating yields
    event records in order. ``digest`` is the chain digest after the last event
    read (the run digest once iteration ends), ``offset`` the byte offset where
    the next frame starts.

    Args:
        source: A path, bytes, or a readable binary stream.
        max_frame_bytes: Refuse frames that declare more than this.

    Raises (on opening or while iterating), each naming the frame's sequence
    number and byte offset:
        LogFormatError: not a log, or a frame that is not a canonical event.
        UnsupportedVersionError: a format or schema version this library lacks.
        LogCorruptError: a length check or checksum fails.
        LogTruncatedError: the data ends inside a frame.
        ChainBrokenError: a frame is intact but not the next one of this chain.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | bytes | IO[bytes],
        *,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> None:
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._stream: IO[bytes] = io.BytesIO(bytes(source))
            self.path: str | None = None
        elif isinstance(source, (str, os.PathLike)):
            self.path = os.fspath(source)
            try:
                # Unbuffered: the reader reads in chunks of its own.
                self._stream = open(self.path, "rb", buffering=0)  # noqa: SIM115
            except OSError as exc:
                raise LogFormatError(
                    f"cannot open {self.path}: {exc.strerror}", path=self.path
                ) from None
        else:
            self._stream = source
            self.path = getattr(source, "name", None)
        self._owns = not hasattr(source, "read")
        self._max = max_frame_bytes
        self._chunk = b""
        self._view = memoryview(self._chunk)
        self._pos = 0
        self.offset = 0
        self.header_model: RunStartedModel
        self.frame_end: int | None = None
        self.seq = -1
        try:
            self._read_magic()
            self.header, self.genesis = self._read_header()
        except BaseException:
            self.close()
            raise
        self.digest = self.genesis
        self.digest_before_last = self.genesis

    def close(self) -> None:
        if self._owns:
            self._stream.close()

    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- frames -------------------------------------------------------------

    def _error(self, cls: type[LogError], what: str) -> LogError:
        where = "header" if self.seq < 0 else f"event seq {self.seq}"
        name = f"{self.path}: " if self.path else ""
        return cls(
            f"{name}{where} (frame at byte {self.offset}): {what}",
            path=self.path,
            seq=self.seq,
            offset=self.offset,
        )

    def _read_magic(self) -> None:
        magic = self._stream.read(len(codec.MAGIC))
        if magic == codec.MAGIC:
            self.offset = len(magic)
            return
        if len(magic) == len(codec.MAGIC) and magic.startswith(codec.MAGIC_PREFIX):
            raise UnsupportedVersionError(
                f"{self.path or 'log'}: written in log format version {magic[-1]}; this "
                f"library reads version {codec.FORMAT_VERSION}: upgrade linoss-dynamics",
                path=self.path,
                seq=-1,
                offset=0,
            )
        raise LogFormatError(
            f"{self.path or 'input'} is not a linoss run log (it does not start with the "
            "log magic bytes)",
            path=self.path,
            seq=-1,
            offset=0,
        )

    def _fill(self, need: int) -> int:
        """Make ``need`` bytes available from ``_pos`` if the data has them.

        Returns how many are available. Reads in large chunks, so memory stays
        bounded by the chunk size or the largest frame, whichever is larger.
        """
        available = len(self._chunk) - self._pos
        if available >= need:
            return available
        parts = [self._chunk[self._pos :]]
        while available < need:
            more = self._stream.read(max(_CHUNK_BYTES, need - available))
            if not more:
                break
            parts.append(more)
            available += len(more)
        self._chunk = b"".join(parts)
        self._view = memoryview(self._chunk)
        self._pos = 0
        return available

    def _drop_chunk(self) -> None:
        self._chunk = b""
        self._view = memoryview(self._chunk)
        self._pos = 0

    def _next_frame(self) -> int | None:
        """Check the frame at ``_pos``; returns its body length, None at a clean end."""
        self.frame_end = None
        available = self._fill(_HEAD_SIZE)
        if available == 0:
            return None
        if available < _HEAD_SIZE:
            raise self._error(LogTruncatedError, "the log ends inside a frame header")
        length, check = _FRAME_HEAD.unpack_from(self._chunk, self._pos)
        if length ^ _MASK != check:
            raise self._error(LogCorruptError, "frame length field is damaged")
        if length > self._max:
            raise self._error(
                LogCorruptError,
                f"frame declares {length} bytes, above the bound of {self._max} "
                "(pass max_frame_bytes= to read larger frames)",
            )
        total = _OVERHEAD + length
        self.frame_end = self.offset + total
        available = self._fill(total)
        if available < total:
            raise self._error(
                LogTruncatedError,
                f"the log ends inside a frame ({available - _HEAD_SIZE} of "
                f"{total - _HEAD_SIZE} bytes)",
            )
        end = self._pos + total - _TAIL_SIZE
        (checksum,) = _CHECKSUM.unpack_from(self._chunk, end)
        if xxhash.xxh3_64_intdigest(self._view[self._pos : end]) != checksum:
            raise self._error(
                LogCorruptError, "frame checksum does not match its bytes"
            )
        return length

    def _advance(self, length: int) -> None:
        """Move past the current frame."""
        self._pos += _OVERHEAD + length
        self.offset += _OVERHEAD + length

    def _read_header(self) -> tuple[RunStarted, bytes]:
        length = self._next_frame()
        if length is None:
            raise self._error(LogTruncatedError, "the log has no header")
        start = self._pos + _HEAD_SIZE
        prev = self._chunk[start : start + _PREV_SIZE]
        body = self._chunk[start + _PREV_SIZE : start + _PREV_SIZE + length]
        try:
            version = codec.header_schema_version(body)
        except codec.BodyError as exc:
            raise self._error(LogFormatError, str(exc)) from None
        if version > codec.SCHEMA_VERSION or (
            version < codec.SCHEMA_VERSION and version not in codec.UPCASTERS
        ):
            raise self._error(
                UnsupportedVersionError,
                f"written in event schema version {version}; this library reads "
                f"versions 1 to {codec.SCHEMA_VERSION}: upgrade linoss-dynamics",
            )
        try:
            header = codec.decode_header(body)
        except codec.BodyError as exc:
            raise self._error(LogFormatError, str(exc)) from None
        genesis = codec.genesis_digest(header.spec, header.y0, header.z0)
        try:
            # The header is validated in full once, here; events are checked by
            # the canonical decoder, which is much cheaper per event.
            self.header_model = header_to_model(
                header, format_version=codec.FORMAT_VERSION, genesis=genesis
            )
        except ValidationError as exc:
            raise self._error(
                LogFormatError, f"header does not fit its model: {exc}"
            ) from None
        if prev != genesis:
            raise self._error(
                ChainBrokenError,
                "the header's chain start does not match its parameters and initial state",
            )
        self._advance(length)
        self.seq = 0
        return header, genesis

    def scan(self) -> Iterator[tuple[int, int, int]]:
        """``(seq, offset, event code)`` of each remaining frame, fast.

        Reads the data in chunks and looks only at frame heads and the first
        bytes of each body, checking the length fields but not checksums or
        bodies; use it to find checkpoints, then ``seek`` to one and iterate to
        check everything from there. Leaves the reader positioned after the
        last frame.
        """
        need = _HEAD_SIZE + _PREV_SIZE + 2
        code_at = _HEAD_SIZE + _PREV_SIZE + 1
        seq = self.seq
        self._drop_chunk()
        chunk = b""
        base = self.offset  # where chunk[0] lies in the data
        while True:
            self.frame_end = None
            pos = self.offset - base
            if pos + need > len(chunk):
                self._stream.seek(self.offset)
                chunk = self._stream.read(_CHUNK_BYTES)
                base, pos = self.offset, 0
                if len(chunk) < need:
                    if chunk:
                        raise self._error(
                            LogTruncatedError, "the log ends inside a frame"
                        )
                    return
            length, check = _FRAME_HEAD.unpack_from(chunk, pos)
            if length ^ _MASK != check or length > self._max or length < 2:
                raise self._error(LogCorruptError, "frame length field is damaged")
            yield seq, self.offset, chunk[pos + code_at]
            self.offset += _OVERHEAD + length
            self.seq = seq = seq + 1

    def seek(self, offset: int, seq: int) -> None:
        """Continue reading at the frame at ``offset``, the event numbered ``seq``.

        The chain is taken up from that frame's stored ``prev`` digest, so the
        events before it are not checked; the caller vouches for them (for
        example by checking the chain of the preceding segment separately).
        """
        self._drop_chunk()
        self._stream.seek(offset + _HEAD_SIZE)
        prev = self._stream.read(_PREV_SIZE)
        if len(prev) != _PREV_SIZE:
            raise self._error(LogTruncatedError, f"no frame at byte {offset}")
        self._stream.seek(offset)
        self.offset = offset
        self.seq = seq
        self.digest = prev

    def bodies(self) -> Iterator[bytes]:
        """The body of each remaining event, checksum and chain checked.

        ``seq`` and ``offset`` describe the body while it is current (its
        sequence number is not checked against the body: ``decode`` does that).
        """
        while True:
            length = self._next_frame()
            if length is None:
                return
            start = self._pos + _HEAD_SIZE
            chunk = self._chunk
            if chunk[start : start + _PREV_SIZE] != self.digest:
                raise self._error(
                    ChainBrokenError,
                    "frame does not continue the chain (an event before it is missing, "
                    "duplicated, moved, or the frame comes from another log)",
                )
            self.digest_before_last = self.digest
            stop = start + _PREV_SIZE + length
            self.digest = xxhash.xxh3_128_digest(self._view[start:stop])
            yield chunk[start + _PREV_SIZE : stop]
            self._advance(length)
            self.seq += 1

    def decode(self, body: bytes) -> Event:
        """Decode the current body (from ``bodies``) and check its sequence number."""
        try:
            record = codec.decode_event(body, self.header.schema_version)
        except codec.BodyError as exc:
            raise self._error(LogFormatError, str(exc)) from None
        if record.seq != self.seq:
            raise self._error(
                ChainBrokenError, f"event carries seq {record.seq}, expected {self.seq}"
            )
        return record

    def __iter__(self) -> Iterator[Event]:
        for body in self.bodies():
            yield self.decode(body)
