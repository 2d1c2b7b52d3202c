"""Offline bundles: a stretch of a sealed log that re-executes without the log.

A bundle holds what an auditor needs to check "events ``first`` to ``last`` of
run R follow from the dynamics and are the ones sealed" on a machine that has
neither the log nor its author's trust:

- the header frame of the log (parameters, initial state, fingerprint), which
  gives the run id;
- the frames of events ``first`` to ``last`` as they are in the log, starting
  at a checkpoint (or at event 0), so the replay has its full starting state;
- a sealed checkpoint over (run id, size, root) with ``size > last``;
- the range proof: the roots of the subtrees outside ``first`` to ``last``
  that, with the bundled events, give the sealed root (O(log n) hashes).

``verify_bundle`` replays the events against the core exactly as ``verify``
does (chain, state digests, energies), rebuilds the root from the bundled
bodies and the range proof, compares it with the sealed root, and, given the
key, checks the seal. One file::

    b"\\x89LINOSSB" | version (u8) | body | xxh3-128 of everything before it

``body`` is msgpack ``[checkpoint text, header frame, first, frames, proof]``.
The trailing xxh3 catches accidental damage at once; tampering is caught by the
seal (with the key) and the replay.
"""

from __future__ import annotations

import io
import os
from typing import Any, Final

import msgpack
import xxhash

from . import codec
from .errors import AuditError, AuditFailedError, LogError
from .events import BundleReport, Failure, FailureCode
from .logfile import DEFAULT_MAX_FRAME_BYTES, LogReader
from .merkle import leaf_hash, range_proof, root_from_range
from .proofs import sealed_checkpoint
from .seals import Key, SealedCheckpoint, run_id
from .verify import checkpoints, failure_of, replay_stretch

__all__ = ["BUNDLE_MAGIC", "make_bundle", "verify_bundle"]

BUNDLE_MAGIC: Final = b"\x89LINOSSB\x01"
_CHECK_SIZE: Final = 16
MAX_BUNDLE_BYTES: Final = 1 << 30
"""Largest bundle ``verify_bundle`` reads from a path (1 GiB)."""

Source = str | os.PathLike[str]


def make_bundle(
    source: Source,
    seq: int,
    *,
    to_seq: int | None = None,
    key: Key | None = None,
    seals: Source | None = None,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
) -> bytes:
    """The bundle of events from the last checkpoint at or before ``seq`` to
    ``to_seq`` (default ``seq``), under a sealed checkpoint (see
    ``proofs.sealed_checkpoint``).

    Raises:
        AuditError: the range is empty or beyond the log, or no seal covers it.
        LogError: the log cannot be read.
    """
    last = seq if to_seq is None else to_seq
    if seq < 0 or last < seq:
        raise AuditError(
            f"need 0 <= seq <= to_seq; got seq {seq}, to_seq {last}", argument="seq"
        )
    found = checkpoints(source, max_frame_bytes=max_frame_bytes)
    first = max((s for s, _ in found if s <= seq), default=0)
    header_span, segment_span, events = _spans(source, first, last, max_frame_bytes)
    if segment_span is None:
        raise AuditError(
            f"the log has {events} events; to_seq {last} is beyond it",
            argument="to_seq",
        )
    checkpoint = sealed_checkpoint(
        source,
        covering=last + 1,
        key=key,
        seals=seals,
        max_frame_bytes=max_frame_bytes,
    )
    # Only the header's frame and the segment are read, not the log before it.
    with open(source, "rb") as handle:
        header_frame = _read_span(handle, header_span)
        segment = _read_span(handle, segment_span)
    with LogReader(source, max_frame_bytes=max_frame_bytes) as reader:
        if run_id(reader.header.spec, reader.header.y0, reader.header.z0) != (
            checkpoint.run
        ):
            raise AuditError("the sealed checkpoint is of another run")
        leaves = (leaf_hash(body) for body in reader.bodies())
        proof = range_proof(leaves, first, last + 1, checkpoint.size)
    body = msgpack.packb(
        [checkpoint.text(), header_frame, first, segment, proof], use_bin_type=True
    )
    head = BUNDLE_MAGIC + body
    return head + xxhash.xxh3_128_digest(head)


def _read_span(handle: Any, span: tuple[int, int]) -> bytes:
    handle.seek(span[0])
    data: bytes = handle.read(span[1] - span[0])
    if len(data) != span[1] - span[0]:
        raise LogError("the log changed while the bundle was made: make it again")
    return data


def _spans(
    source: Source, first: int, last: int, max_frame_bytes: int
) -> tuple[tuple[int, int], tuple[int, int] | None, int]:
    """Byte ranges of the header's frame and of the frames of events ``first``
    to ``last`` (None if the log ends before ``last``), and the events scanned."""
    start = end = None
    events = 0
    with LogReader(source, max_frame_bytes=max_frame_bytes) as reader:
        header = (len(codec.MAGIC), reader.offset)
        for seq, offset, _ in reader.scan():
            if seq == first:
                start = offset
            if seq == last + 1:
                end = offset
                break
            events = seq + 1
    if start is None or (end is None and events <= last):
        return header, None, events
    if end is None:
        end = os.path.getsize(source)
    return header, (start, end), events


def _parts(data: bytes) -> tuple[SealedCheckpoint, bytes, int, bytes, list[bytes]]:
    if len(data) < len(BUNDLE_MAGIC) + _CHECK_SIZE or not data.startswith(BUNDLE_MAGIC):
        raise AuditError(
            "not a bundle of this version (it starts with the bytes "
            f"{data[: len(BUNDLE_MAGIC)]!r}; a bundle starts with {BUNDLE_MAGIC!r})",
            argument="bundle",
        )
    head, check = data[:-_CHECK_SIZE], data[-_CHECK_SIZE:]
    if xxhash.xxh3_128_digest(head) != check:
        raise AuditFailedError(
            "the bundle is damaged: its checksum does not match its contents",
            argument="bundle",
        )
    try:
        parts: Any = msgpack.unpackb(
            head[len(BUNDLE_MAGIC) :], raw=False, strict_map_key=True
        )
    except Exception as exc:  # msgpack raises many types for bad input
        raise AuditError(
            f"the bundle's body is not msgpack ({type(exc).__name__})",
            argument="bundle",
        ) from None
    if (
        type(parts) is not list
        or len(parts) != 5
        or type(parts[0]) is not str
        or type(parts[1]) is not bytes
        or type(parts[2]) is not int
        or type(parts[3]) is not bytes
        or type(parts[4]) is not list
        or not all(type(p) is bytes and len(p) == 32 for p in parts[4])
        or parts[2] < 0
    ):
        raise AuditError(
            "the bundle's body is not [checkpoint, header frame, first seq, frames, "
            "proof]",
            argument="bundle",
        )
    return SealedCheckpoint.parse(parts[0]), parts[1], parts[2], parts[3], parts[4]


def verify_bundle(
    bundle: bytes | Source,
    *,
    key: Key | None = None,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
) -> BundleReport:
    """Re-execute a bundle and check it against its sealed root (and, with the
    key, its seal).

    Returns:
        The ``BundleReport``; ``ok`` is False and ``failure`` says why when a
        replayed event, the root or the seal does not hold.

    Raises:
        AuditError: not a bundle, or damaged (nothing to re-execute).
    """
    data = _read(bundle)
    checkpoint, header_frame, first, segment, proof = _parts(data)
    log = codec.MAGIC + header_frame + segment

    def failed(code: FailureCode, seq: int, message: str) -> BundleReport:
        return BundleReport(
            ok=False,
            run=checkpoint.run.hex(),
            first_seq=first,
            size=checkpoint.size,
            root=checkpoint.root.hex(),
            failure=Failure(code=code, seq=seq, message=message),
        )

    if key is not None:
        try:
            checkpoint.check(key)
        except AuditError as exc:
            return failed(FailureCode.SEAL_INVALID, -1, str(exc))

    # The run: the header's parameters and initial state are the sealed run's.
    try:
        with LogReader(log, max_frame_bytes=max_frame_bytes) as reader:
            header = reader.header
            offset = reader.offset
            # From event 0 the chain starts at the header; from a checkpoint
            # the replay takes its state and the chain from its frame.
            start = None if first == 0 else first
            if start is not None:
                reader.seek(offset, first)
            bodies = list(reader.bodies())
    except LogError as exc:
        failure = failure_of(exc)
        return failed(failure.code, failure.seq, failure.message)
    if run_id(header.spec, header.y0, header.z0) != checkpoint.run:
        return failed(
            FailureCode.SEAL_INVALID,
            -1,
            "the bundle's header is not that of the sealed run",
        )

    # The events: their bodies and the range proof give the sealed root.
    root = root_from_range(
        [leaf_hash(b) for b in bodies], first, checkpoint.size, proof
    )
    if root != checkpoint.root:
        return failed(
            FailureCode.TREE_ROOT_MISMATCH,
            first,
            f"the bundled events {first} to {first + len(bodies) - 1} and the proof "
            f"do not give the sealed root {checkpoint.root.hex()} of "
            f"{checkpoint.size} events",
        )

    # The dynamics: replay from the starting checkpoint (or the header).
    stretch = replay_stretch(
        io.BytesIO(log),
        None if start is None else (start, offset),
        max_frame_bytes=max_frame_bytes,
    )
    if stretch.failure is not None:
        return failed(
            stretch.failure.code, stretch.failure.seq, stretch.failure.message
        ).model_copy(update={"events_verified": stretch.events})
    return BundleReport(
        ok=True,
        run=checkpoint.run.hex(),
        first_seq=first,
        last_seq=stretch.last_seq,
        events_verified=stretch.events,
        size=checkpoint.size,
        root=checkpoint.root.hex(),
        sealed=key is not None,
    )


def _read(bundle: bytes | Source) -> bytes:
    if isinstance(bundle, bytes):
        return bundle
    name = os.fspath(bundle)
    try:
        with open(name, "rb") as handle:
            data = handle.read(MAX_BUNDLE_BYTES + 1)
    except OSError as exc:
        raise AuditError(
            f"cannot read the bundle {name}: {exc.strerror}", argument="bundle"
        ) from None
    if len(data) > MAX_BUNDLE_BYTES:
        raise AuditError(
            f"{name} is larger than {MAX_BUNDLE_BYTES} bytes: not a bundle",
            argument="bundle",
        )
    return data
