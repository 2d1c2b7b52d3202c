"""Event-log performance: the step event's encoding, framing, file I/O and decoding.

Usage::

    python benchmarks/bench_log.py [--quick] [--json OUT]

One step event at P = 64 float64: ``u`` a length-64 array, a 16-byte state
digest and three energies (``dt``, ``y``, ``z`` absent, as a recorder writes
it). Per event, all in one run, each group of contenders in interleaved rounds
(see ``_harness``):

1. write floors: one ``struct.pack`` of ``seq``, ``u`` as 64 doubles, the
   digest and the energies, one ``xxh3_128_digest`` of the packed bytes, both
   appended to a file opened with ``open(path, "wb")`` (default buffering).
   ``u`` goes into the pack either as 64 ``d`` fields (the floor of the
   targets) or as its 512 raw bytes (``512s``: the same bytes, a stricter
   floor shown beside it);
2. ours: ``codec.encode_step`` and ``LogWriter.write_body`` into a log file
   (``SyncPolicy.on_close``); and, for reference, ``msgpack.packb`` of a dict
   per event (``u`` as a list) with the same digest and writes as the floor;
3. read floors: the packed records read back from their file, unpacked and
   their digest checked; ours: iterating a ``LogReader`` (frame checksum,
   chain, canonical decode into records);
4. bytes per step event on disk beyond the raw payload (u, digest, energies);
5. xxh3-128 throughput on state-sized and larger buffers, and its call cost;
6. ``fsync`` per event (``SyncPolicy.every_event``) against ``on_close``;
7. ``StepAppliedModel.model_validate`` of an event's JSON form against
   ``codec.decode_event`` of its body.

A profile of the pieces follows (packing, hashing, appending, unpacking, the
canonical re-encode), with sketches of specialised hot paths: a fixed-layout
encoder and decoder of the step event, a frame appended in place, and a reader
that walks frames in 1 MiB chunks. The run checks each against ``codec`` and
``LogReader`` (same bytes, same records) and reports whether they agree: they
show what the hot paths could cost, not what they do.

Files live in a temporary directory, removed at the end. Write contenders keep
one file open across rounds and start a new one between rounds once it passes
``rotate_bytes``, so they time the steady state, flushes included, and never
the opening, the closing or its ``fsync``. Targets are printed next to the
figures; the exit status never depends on them.
"""

from __future__ import annotations

import math
import os
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

import msgpack
import numpy as np
import pydantic
import xxhash

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

import linoss_dynamics
from linoss_dynamics import Oscillator, Scheme, _environment, codec, events, logfile

DIGEST_SIZE = 16
ENERGIES = 3


@dataclass(frozen=True)
class Config:
    """Sizes and budgets of one run."""

    P: int
    distinct_events: int
    read_events: int
    rounds: int
    piece_rounds: int
    block_seconds: float
    hash_sizes: tuple[int, ...]
    hash_rounds: int
    fsync_events: int
    fsync_rounds: int
    rotate_bytes: int
    seed: int


FULL = Config(
    P=64,
    distinct_events=256,
    read_events=4096,
    rounds=61,
    piece_rounds=21,
    block_seconds=0.02,
    hash_sizes=(2 * 64 * 8, 64 << 10, 1 << 20, 16 << 20),
    hash_rounds=21,
    fsync_events=300,
    fsync_rounds=5,
    rotate_bytes=48 << 20,
    seed=20240,
)
QUICK = Config(
    P=64,
    distinct_events=64,
    read_events=512,
    rounds=5,
    piece_rounds=3,
    block_seconds=0.004,
    hash_sizes=(2 * 64 * 8, 64 << 10, 1 << 20),
    hash_rounds=3,
    fsync_events=40,
    fsync_rounds=2,
    rotate_bytes=8 << 20,
    seed=20240,
)


# -- the events ---------------------------------------------------------------


@dataclass(frozen=True)
class StepData:
    """Distinct step events, as a recorder would hand them to the codec.

    Computed by stepping an IM bank, so digests and energies are real ones.
    ``u[k]`` are rows of one (K, P) array: C-contiguous float64, as the rows of
    a scan's input are.
    """

    header: events.RunStarted
    u: tuple[np.ndarray, ...]
    digests: tuple[bytes, ...]
    energies: tuple[tuple[float, float, float], ...]

    @property
    def size(self) -> int:
        return len(self.u)


def step_data(P: int, count: int, seed: int) -> StepData:
    rng = np.random.default_rng(seed)
    osc = Oscillator(rng.uniform(0.5, 4.0, P), 0.05, mode=Scheme.IM)
    y, z = rng.standard_normal(P), rng.standard_normal(P)
    header = events.RunStarted(
        codec.SCHEMA_VERSION,
        linoss_dynamics.__version__,
        codec.HASH_ALGORITHMS,
        events.spec_of(osc),
        y,
        z,
        _environment.fingerprint(),
    )
    U = rng.standard_normal((count, P))
    hasher = codec.StateHasher(y.shape)
    digests, energies = [], []
    for k in range(count):
        before = float(osc.energy(y, z))
        y, z = osc.step(y, z, U[k])
        after = float(osc.energy(y, z))
        digests.append(hasher.digest(y, z))
        energies.append((before, after, after - before))
    return StepData(header, tuple(U), tuple(digests), tuple(energies))


def raw_payload_bytes(P: int) -> int:
    """What a step event says, as bare bytes: u, the digest, the energies."""
    return 8 * P + DIGEST_SIZE + 8 * ENERGIES


# -- files --------------------------------------------------------------------
#
# Write contenders append through an ``h.Sink``. The floors number their events
# with the sink's ``seq``, so that their sequence numbers grow across files as
# in a long run; a ``LogWriter`` counts its own.


def open_log(header: events.RunStarted, sync: logfile.SyncPolicy) -> Callable[..., Any]:
    def opener(path: Path) -> logfile.LogWriter:
        return logfile.LogWriter.create(path, header, sync=sync)

    return opener


def open_buffered(path: Path) -> BinaryIO:
    return open(path, "wb")


# -- write blocks ---------------------------------------------------------------
#
# Every write block has the same loop: pick the k-th distinct event, turn it
# into bytes, append them. Only the middle differs.

FLOOR_D = "<Q{P}d16s3d"
FLOOR_BYTES = "<Q{Pb}s16s3d"


def floor_structs(P: int) -> tuple[struct.Struct, struct.Struct]:
    """``u`` as P doubles, and as its 8 P raw bytes: the same packed bytes."""
    return struct.Struct(FLOOR_D.format(P=P)), struct.Struct(
        FLOOR_BYTES.format(Pb=8 * P)
    )


def floor_d_write(data: StepData, sink: h.Sink, packer: struct.Struct) -> h.Block:
    U, D, E, mask = data.u, data.digests, data.energies, data.size - 1
    pack, digest = packer.pack, xxhash.xxh3_128_digest

    def block(n: int) -> None:
        write = sink.target.write
        seq = sink.seq
        for i in range(n):
            k = i & mask
            e0, e1, de = E[k]
            packed = pack(seq + i, *U[k].tolist(), D[k], e0, e1, de)
            write(packed)
            write(digest(packed))
        sink.seq = seq + n

    return block


def floor_bytes_write(data: StepData, sink: h.Sink, packer: struct.Struct) -> h.Block:
    U, D, E, mask = data.u, data.digests, data.energies, data.size - 1
    pack, digest = packer.pack, xxhash.xxh3_128_digest

    def block(n: int) -> None:
        write = sink.target.write
        seq = sink.seq
        for i in range(n):
            k = i & mask
            e0, e1, de = E[k]
            packed = pack(seq + i, U[k].tobytes(), D[k], e0, e1, de)
            write(packed)
            write(digest(packed))
        sink.seq = seq + n

    return block


def msgpack_dict_write(data: StepData, sink: h.Sink) -> h.Block:
    U, D, E, mask = data.u, data.digests, data.energies, data.size - 1
    packb, digest = msgpack.packb, xxhash.xxh3_128_digest

    def block(n: int) -> None:
        write = sink.target.write
        seq = sink.seq
        for i in range(n):
            k = i & mask
            e0, e1, de = E[k]
            packed = packb(
                {
                    "seq": seq + i,
                    "u": U[k].tolist(),
                    "state_digest": D[k],
                    "energy_before": e0,
                    "energy_after": e1,
                    "delta_energy": de,
                }
            )
            write(packed)
            write(digest(packed))
        sink.seq = seq + n

    return block


def ours_write(data: StepData, sink: h.Sink) -> h.Block:
    U, D, E, mask = data.u, data.digests, data.energies, data.size - 1
    encode_step = codec.encode_step

    def block(n: int) -> None:
        writer = sink.target
        write_body = writer.write_body
        seq = writer.seq
        for i in range(n):
            k = i & mask
            e0, e1, de = E[k]
            write_body(encode_step(seq + i, U[k], None, D[k], e0, e1, de))

    return block


# -- read blocks ----------------------------------------------------------------


def write_floor_file(
    path: Path, data: StepData, packer: struct.Struct, count: int
) -> None:
    """``count`` records of the ``512s`` floor (the same bytes as the ``d`` one)."""
    with open(path, "wb") as out:
        for seq in range(count):
            k = seq % data.size
            packed = packer.pack(
                seq, data.u[k].tobytes(), data.digests[k], *data.energies[k]
            )
            out.write(packed)
            out.write(xxhash.xxh3_128_digest(packed))


def write_log_file(path: Path, data: StepData, count: int) -> None:
    with logfile.LogWriter.create(path, data.header) as writer:
        for seq in range(count):
            k = seq % data.size
            writer.write_body(
                codec.encode_step(
                    seq, data.u[k], None, data.digests[k], *data.energies[k]
                )
            )


class DamagedRecordError(Exception):
    """A floor record whose digest does not match (never raised on good files)."""


def floor_read(path: Path, packer: struct.Struct, count: int) -> h.Block:
    """One pass per call: every record read, unpacked and its digest checked."""
    size, unpack, digest = packer.size, packer.unpack, xxhash.xxh3_128_digest

    def block(n: int) -> None:
        for _ in range(n):
            with open(path, "rb") as stream:
                read = stream.read
                for _ in range(count):
                    packed = read(size)
                    unpack(packed)
                    if digest(packed) != read(DIGEST_SIZE):
                        raise DamagedRecordError(path)

    return block


def ours_read(path: Path) -> h.Block:
    """One pass per call: open the log (header checks included) and iterate it."""

    def block(n: int) -> None:
        for _ in range(n):
            with logfile.LogReader(path) as reader:
                for _record in reader:
                    pass

    return block


def ours_read_frames(path: Path) -> h.Block:
    """As ``ours_read``, but stopping at ``LogReader.bodies``: frames and chain only."""

    def block(n: int) -> None:
        for _ in range(n):
            with logfile.LogReader(path) as reader:
                for _body in reader.bodies():
                    pass

    return block


# -- pieces -------------------------------------------------------------------


def append_block(chunks: Sequence[bytes], limit: int = 1 << 20) -> h.Block:
    """``buffer += chunk`` into a bytearray cleared at ``limit``, as the writer does."""
    mask = len(chunks) - 1
    buffer = bytearray()

    def block(n: int) -> None:
        buf = buffer
        for i in range(n):
            buf += chunks[i & mask]
            if len(buf) >= limit:
                buf.clear()

    return block


_LE_F64 = np.dtype("<f8")

# Fixed-layout sketches of the step event's hot paths, for the profile: what a
# step body costs to build, frame and decode when its layout (u an array of a
# known length; dt, y, z absent) is known in advance. ``sketches_agree`` checks
# them against ``codec`` and ``logfile`` on every run.

_SKETCH_HEAD = bytes((0x9A, int(events.EventKind.STEP_APPLIED)))
# After u: dt nil, the digest as bin 8, three float64s, y and z nil.
_SKETCH_TAIL = struct.Struct(">BBB16sBdBdBdBB")
_TAIL_MARKERS = (0xC0, 0xC4, DIGEST_SIZE, 0xCB, 0xCB, 0xCB, 0xC0, 0xC0)
_U16, _U32 = struct.Struct(">H"), struct.Struct(">I")
# Bytes whose low 7 bits are not all ones: a float64 whose top byte is one of
# these has an exponent below 0x7f0, so it is finite.
_NOT_TOP_EXPONENT = bytes(b for b in range(256) if b & 0x7F != 0x7F)


def sketch_u_head(P: int) -> bytes:
    """ext 16 header, dtype code, ndim and length of a length-P u (32 <= P < 8191)."""
    return struct.pack(">BHB", 0xC8, 6 + 8 * P, codec.ARRAY_EXT) + struct.pack(
        "<BBI", 1, 1, P
    )


def sketch_uint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    if value < 0x100:
        return bytes((0xCC, value))
    if value < 0x10000:
        return b"\xcd" + _U16.pack(value)
    return b"\xce" + _U32.pack(value)


def sketch_encoder(P: int) -> Callable[..., bytes]:
    """A step body from five pieces: head, seq, u header, u bytes, one tail pack."""
    u_head, pack_tail = sketch_u_head(P), _SKETCH_TAIL.pack

    def encode(
        seq: int, u: np.ndarray, digest: bytes, e0: float, e1: float, de: float
    ) -> bytes:
        tail = pack_tail(
            0xC0, 0xC4, DIGEST_SIZE, digest, 0xCB, e0, 0xCB, e1, 0xCB, de, 0xC0, 0xC0
        )
        return b"".join((_SKETCH_HEAD, sketch_uint(seq), u_head, u.tobytes(), tail))

    return encode


_FRAME_HEAD = struct.Struct("<II")
_FRAME_CHECKSUM = struct.Struct("<Q")


def sketch_frame_into(buffer: bytearray, prev: bytes, body: bytes) -> bytes:
    """Append ``body``'s frame to ``buffer`` in place; returns its chain digest.

    Both hashes read the frame where it lies in the buffer instead of a joined
    copy of it.
    """
    length, start = len(body), len(buffer)
    buffer += _FRAME_HEAD.pack(length, length ^ 0xFFFFFFFF)
    buffer += prev
    buffer += body
    with memoryview(buffer) as view:
        digest = xxhash.xxh3_128_digest(view[start + _FRAME_HEAD.size :])
        checksum = xxhash.xxh3_64_intdigest(view[start:])
    buffer += _FRAME_CHECKSUM.pack(checksum)
    return digest


class SketchRefusedError(Exception):
    """A body the fixed-layout sketch does not take (the general path would)."""


def sketch_decoder(P: int) -> Callable[[bytes], events.StepApplied]:
    """Decode the step layout above by its fixed byte positions.

    Every byte is either compared with the byte canonical encoding puts there,
    or is a value: the seq must be in its shortest form, floats and u finite,
    the body exactly as long as the layout. So it accepts exactly the canonical
    bodies of this layout; anything else would go to the general decoder.
    ``body`` must be ``bytes`` (immutable): u is a read-only view of it, as
    ``codec.decode_array`` gives a read-only view of its payload.
    """
    u_head = sketch_u_head(P)
    head_len, u_len = len(u_head), 8 * P
    unpack_tail, tail_size = _SKETCH_TAIL.unpack_from, _SKETCH_TAIL.size
    u16, u32 = _U16.unpack_from, _U32.unpack_from
    isfinite = math.isfinite

    def decode(body: bytes) -> events.StepApplied:
        if body[:2] != _SKETCH_HEAD:
            raise SketchRefusedError("not a step event")
        marker = body[2]
        if marker < 0x80:
            seq, pos = marker, 3
        elif marker == 0xCC and body[3] >= 0x80:
            seq, pos = body[3], 4
        elif marker == 0xCD and (seq := u16(body, 3)[0]) >= 0x100:
            pos = 5
        elif marker == 0xCE and (seq := u32(body, 3)[0]) >= 0x10000:
            pos = 7
        else:
            raise SketchRefusedError("seq form")
        start = pos + head_len
        end = start + u_len
        if body[pos:start] != u_head or len(body) != end + tail_size:
            raise SketchRefusedError("layout")
        nil, c4, size, digest, f0, e0, f1, e1, f2, de, ny, nz = unpack_tail(body, end)
        if (nil, c4, size, f0, f1, f2, ny, nz) != _TAIL_MARKERS:
            raise SketchRefusedError("layout")
        if not (isfinite(e0) and isfinite(e1) and isfinite(de)):
            raise SketchRefusedError("non-finite energy")
        u = np.frombuffer(body, _LE_F64, P, start)
        # A non-finite float64 has an all-ones exponent, so a top byte (the 8th,
        # little-endian) of 0x7f or 0xff. Screening the top bytes runs in C; a
        # hit (|x| >= 2**1009, rare) gets the exact check.
        top = body[start + 7 : end : 8].translate(None, _NOT_TOP_EXPONENT)
        if top and not np.isfinite(u).all():
            raise SketchRefusedError("non-finite u")
        return events.StepApplied(seq, u, None, digest, e0, e1, de)

    return decode


class SketchReadError(Exception):
    """A frame the reading sketch refuses (never raised on the benchmark's logs)."""


_CHUNK = 1 << 20


def sketch_read(
    path: Path, decode_step: Callable[[bytes], events.StepApplied]
) -> Iterator[events.Event]:
    """The events of a log: checksums, chain and seq checked, bodies decoded.

    Reads the file in 1 MiB chunks and finds each frame in its chunk by offset:
    one ``unpack_from`` for the length fields, the hashes over views of the
    chunk, the prev digest compared as a 16-byte slice, and the body handed on
    as ``bytes``. Step bodies take the fixed-layout decoder, anything else
    ``codec.decode_event``. The header is read by ``LogReader``, as ours does.
    """
    with logfile.LogReader(path) as reader:
        offset, digest = reader.offset, reader.digest
    unpack_head, unpack_sum = _FRAME_HEAD.unpack_from, _FRAME_CHECKSUM.unpack_from
    xxh64, xxh128 = xxhash.xxh3_64_intdigest, xxhash.xxh3_128_digest
    head, prev_end, tail = _FRAME_HEAD.size, _FRAME_HEAD.size + DIGEST_SIZE, 8
    seq = 0
    with open(path, "rb", buffering=0) as stream:
        stream.seek(offset)
        chunk, pos = b"", 0
        view = memoryview(chunk)
        while True:
            if len(chunk) - pos >= head:
                length, check = unpack_head(chunk, pos)
                if (
                    length ^ 0xFFFFFFFF != check
                    or length > logfile.DEFAULT_MAX_FRAME_BYTES
                ):
                    raise SketchReadError(f"damaged length at seq {seq}")
                end = pos + prev_end + length + tail
                if end <= len(chunk):
                    if (
                        xxh64(view[pos : end - tail])
                        != unpack_sum(chunk, end - tail)[0]
                    ):
                        raise SketchReadError(f"checksum at seq {seq}")
                    if chunk[pos + head : pos + prev_end] != digest:
                        raise SketchReadError(f"chain at seq {seq}")
                    digest = xxh128(view[pos + head : end - tail])
                    body = chunk[pos + prev_end : end - tail]
                    try:
                        record: events.Event = decode_step(body)
                    except SketchRefusedError:
                        record = codec.decode_event(body)
                    if record.seq != seq:
                        raise SketchReadError(f"seq {record.seq} at {seq}")
                    yield record
                    seq += 1
                    pos = end
                    continue
            more = stream.read(_CHUNK)
            if not more:
                if pos == len(chunk):
                    return
                raise SketchReadError(f"truncated at seq {seq}")
            chunk, pos = chunk[pos:] + more, 0
            view = memoryview(chunk)


def sketch_read_block(path: Path, P: int) -> h.Block:
    decode = sketch_decoder(P)

    def block(n: int) -> None:
        for _ in range(n):
            for _record in sketch_read(path, decode):
                pass

    return block


def sketches_agree(data: StepData) -> bool:
    """Whether the sketches match ``codec`` and ``logfile`` on the benchmark's events.

    Also on edge cases: every seq width the sketches take, huge finite values
    (which the finiteness screen passes on to the exact check), and non-finite
    values (refused).
    """
    P = data.u[0].shape[0]
    encode, decode = sketch_encoder(P), sketch_decoder(P)
    huge = np.array(data.u[0])
    huge[::3] = np.finfo(np.float64).max
    huge[1] = -(2.0**1009)
    cases = [
        *zip(data.u, data.digests, data.energies, strict=True),
        (huge, data.digests[0], data.energies[0]),
    ]
    buffer, prev = bytearray(), data.digests[-1]
    for seq in (0, 127, 128, 255, 256, 65_535, 65_536, 4_000_000_000):
        for u, digest, energies in cases:
            body = codec.encode_step(seq, u, None, digest, *energies)
            if encode(seq, u, digest, *energies) != body:
                return False
            if not _same_record(codec.decode_event(body), decode(body)):
                return False
            start = len(buffer)
            framed, chained = logfile.frame(prev, body)
            if sketch_frame_into(buffer, prev, body) != chained:
                return False
            if buffer[start:] != framed:
                return False
            prev = chained
    body = codec.encode_step(1, data.u[0], None, data.digests[0], 1.0, 2.0, 1.0)
    for bad_value in (np.inf, -np.inf, np.nan):
        bad = np.array(data.u[0])
        bad[5] = bad_value
        try:
            decode(body.replace(data.u[0].tobytes(), bad.tobytes()))
        except SketchRefusedError:
            continue
        return False
    return True


def sketch_reader_agrees(path: Path, P: int) -> bool:
    """Whether the reading sketch yields ``LogReader``'s records for the log at ``path``."""
    with logfile.LogReader(path) as reader:
        ours = list(reader)
    sketch = list(sketch_read(path, sketch_decoder(P)))
    return len(ours) == len(sketch) and all(
        _same_record(a, b)
        if isinstance(a, events.StepApplied) and isinstance(b, events.StepApplied)
        else a == b
        for a, b in zip(ours, sketch, strict=True)
    )


def _same_record(a: events.StepApplied, b: events.StepApplied) -> bool:
    return (
        a.seq == b.seq
        and isinstance(a.u, np.ndarray)
        and isinstance(b.u, np.ndarray)
        and a.u.tobytes() == b.u.tobytes()
        and a[2:7] == b[2:7]
        and a.y is b.y is None
    )


# -- the run ------------------------------------------------------------------


def run(config: Config, log: Callable[[str], None]) -> dict[str, Any]:
    """Measure every group; returns the results as JSON-ready data."""
    P, block_s = config.P, config.block_seconds
    data = step_data(P, config.distinct_events, config.seed)
    mask = data.size - 1
    assert data.size & mask == 0, "distinct_events must be a power of two"
    packer_d, packer_bytes = floor_structs(P)
    timings = h.Timings(log)
    results, rounds, measure = timings.results, timings.rounds, timings.measure

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-log-") as tmp:
        directory = Path(tmp)
        on_close = logfile.SyncPolicy.on_close()
        every_event = logfile.SyncPolicy.every_event()
        sinks: list[h.Sink] = []

        def sink(name: str, opener: Callable[[Path], Any]) -> h.Sink:
            s = h.Sink(directory, name, opener, config.rotate_bytes)
            sinks.append(s)
            return s

        try:
            # 1, 2: writing.
            s_floor = sink("floor_d", open_buffered)
            s_bytes = sink("floor_bytes", open_buffered)
            s_dict = sink("msgpack_dict", open_buffered)
            s_ours = sink("ours", open_log(data.header, on_close))
            measure(
                "writing",
                [
                    h.sink_contender(
                        "write.floor",
                        s_floor,
                        floor_d_write(data, s_floor, packer_d),
                        target_seconds=block_s,
                        unit="event",
                    ),
                    h.sink_contender(
                        "write.floor_bytes",
                        s_bytes,
                        floor_bytes_write(data, s_bytes, packer_bytes),
                        target_seconds=block_s,
                        unit="event",
                    ),
                    h.sink_contender(
                        "write.msgpack_dict",
                        s_dict,
                        msgpack_dict_write(data, s_dict),
                        target_seconds=block_s,
                        unit="event",
                    ),
                    h.sink_contender(
                        "write.ours",
                        s_ours,
                        ours_write(data, s_ours),
                        target_seconds=block_s,
                        unit="event",
                    ),
                ],
                config.rounds,
            )
            for s in (s_floor, s_bytes, s_dict, s_ours):
                s.close()
            sinks.clear()

            # 3: reading; 4: bytes on disk.
            M = config.read_events
            floor_path, log_path = directory / "floor.bin", directory / "run.log"
            write_floor_file(floor_path, data, packer_bytes, M)
            write_log_file(log_path, data, M)
            disk = disk_figures(log_path, floor_path, data, M)
            reader_agrees = sketch_reader_agrees(log_path, P)
            # The log holds M step events and the closing record.
            per_pass = {"target_seconds": block_s, "unit": "event"}
            measure(
                "reading",
                [
                    h.local_contender(
                        "read.floor",
                        floor_read(floor_path, packer_d, M),
                        units=M,
                        **per_pass,
                    ),
                    h.local_contender(
                        "read.floor_bytes",
                        floor_read(floor_path, packer_bytes, M),
                        units=M,
                        **per_pass,
                    ),
                    h.local_contender(
                        "read.ours", ours_read(log_path), units=M + 1, **per_pass
                    ),
                    h.local_contender(
                        "read.ours_frames",
                        ours_read_frames(log_path),
                        units=M + 1,
                        **per_pass,
                    ),
                    h.local_contender(
                        "read.sketch",
                        sketch_read_block(log_path, P),
                        units=M + 1,
                        **per_pass,
                    ),
                ],
                config.rounds,
            )

            # 5: hashing.
            rng = np.random.default_rng(config.seed + 1)
            buffers = {n: rng.bytes(n) for n in config.hash_sizes}
            hasher = codec.StateHasher((P,))
            y, z = rng.standard_normal(P), rng.standard_normal(P)
            digest128 = xxhash.xxh3_128_digest
            measure(
                "xxh3-128",
                [
                    h.local_contender(
                        "hash.call_0B",
                        h.each(digest128, [(b"",)]),
                        target_seconds=block_s,
                    ),
                    *(
                        h.local_contender(
                            f"hash.{n}B",
                            h.each(digest128, [(buf,)]),
                            target_seconds=block_s,
                        )
                        for n, buf in buffers.items()
                    ),
                    h.local_contender(
                        "hash.state_digest",
                        h.each(hasher.digest, [(y, z)]),
                        target_seconds=block_s,
                    ),
                ],
                config.hash_rounds,
            )

            # 6: fsync per event.
            s_sync = sink("every_event", open_log(data.header, every_event))
            s_async = sink("on_close", open_log(data.header, on_close))
            sync_block = ours_write(data, s_sync)
            sync_block(1)
            measure(
                "fsync",
                [
                    h.Contender(
                        "fsync.every_event",
                        lambda: h.time_block(sync_block, config.fsync_events),
                        "event",
                    ),
                    h.sink_contender(
                        "fsync.on_close",
                        s_async,
                        ours_write(data, s_async),
                        target_seconds=block_s,
                        unit="event",
                    ),
                ],
                config.fsync_rounds,
            )
            for s in sinks:
                s.close()
            sinks.clear()
        finally:
            for s in sinks:
                s.close()

    # 7, and the pieces, touch no files.
    measure_validation(data, block_s, config.rounds, measure)
    agree = sketches_agree(data)
    notes = measure_pieces(
        data, block_s, config.piece_rounds, measure, packer_d, packer_bytes
    )
    elapsed = time.perf_counter() - started

    return {
        **h.run_header(),
        "package": {"version": linoss_dynamics.__version__},
        "sources": measured_sources(),
        "libraries": {
            "msgpack": ".".join(map(str, msgpack.version)),
            "xxhash": xxhash.VERSION,
            "pydantic": pydantic.VERSION,
        },
        "config": asdict(config),
        "timing_seconds": elapsed,
        "disk": disk,
        "sketches_agree_with_codec": agree and reader_agrees,
        "contenders": {name: s.as_dict() for name, s in results.items()},
        "rounds": rounds,
        "figures": [figure_row(f, results) for f in FIGURES],
        "hashing": hash_rows(results, config, P),
        "fsync": fsync_figure(results),
        "pieces": {
            name: {"note": note, "median_s": results[name].median}
            for name, note in notes.items()
        },
        "_samples": results,
    }


def measured_sources() -> dict[str, Any]:
    """The commit, the measured modules' digests, and whether they match the commit."""
    sources = h.measured_sources(("codec.py", "logfile.py"))
    changed = sources.pop("changed_modules")
    return {**sources, "modules_match_commit": not changed}


def disk_figures(
    log_path: Path, floor_path: Path, data: StepData, M: int
) -> dict[str, Any]:
    """Bytes per step event in the log beyond the raw payload, from the file itself."""
    P = data.u[0].shape[0]
    with logfile.LogReader(log_path) as reader:
        for _ in reader:
            pass
        run_digest = reader.digest
    # length, ~length, prev digest, checksum
    overhead = 4 + 4 + DIGEST_SIZE + 8
    header_frame = overhead + len(codec.encode_header(data.header))
    closed = events.RunClosed(M, M, run_digest)
    closed_frame = overhead + len(codec.encode_event(closed))
    size = log_path.stat().st_size
    steps = size - len(codec.MAGIC) - header_frame - closed_frame
    raw = raw_payload_bytes(P)

    def frame_size(seq: int) -> int:
        k = seq % data.size
        body = codec.encode_step(
            seq, data.u[k], None, data.digests[k], *data.energies[k]
        )
        return overhead + len(body)

    seqs = (0, 200, 60_000, 100_000, (1 << 32) - 1, 1 << 32)

    return {
        "raw_payload_bytes": raw,
        "log_bytes": size,
        "step_events": M,
        "log_bytes_per_step": steps / M,
        "log_extra_per_step": steps / M - raw,
        "log_bytes_per_step_from_bodies": sum(map(frame_size, range(M))) / M,
        "extra_by_seq": {str(s): frame_size(s) - raw for s in seqs},
        "floor_bytes_per_step": floor_path.stat().st_size / M,
        "floor_extra_per_step": floor_path.stat().st_size / M - raw,
        "msgpack_dict_bytes_per_step": len(
            msgpack.packb(
                {
                    "seq": M,
                    "u": data.u[0].tolist(),
                    "state_digest": data.digests[0],
                    "energy_before": 1.0,
                    "energy_after": 2.0,
                    "delta_energy": 1.0,
                }
            )
        )
        + DIGEST_SIZE,
    }


def measure_validation(
    data: StepData, block_s: float, n_rounds: int, measure: Callable[..., None]
) -> None:
    """7: pydantic validation of an event's JSON form against our decoder."""
    bodies, dumps, records = [], [], []
    prev = b"\0" * DIGEST_SIZE
    for k in range(data.size):
        body = codec.encode_step(
            1000 + k, data.u[k], None, data.digests[k], *data.energies[k]
        )
        _, prev = logfile.frame(prev, body)
        record = codec.decode_event(body)
        model = events.record_to_model(record, prev)
        bodies.append((body,))
        dumps.append((model.model_dump(),))
        records.append((record, prev))
    measure(
        "validation",
        [
            h.local_contender(
                "validate.pydantic",
                h.each(events.StepAppliedModel.model_validate, dumps),
                target_seconds=block_s,
            ),
            h.local_contender(
                "validate.record_to_model",
                h.each(events.record_to_model, records),
                target_seconds=block_s,
            ),
            h.local_contender(
                "validate.decode_event",
                h.each(codec.decode_event, bodies),
                target_seconds=block_s,
            ),
            h.local_contender(
                "validate.sketch_decode",
                h.each(sketch_decoder(data.u[0].shape[0]), bodies),
                target_seconds=block_s,
            ),
        ],
        n_rounds,
    )


def measure_pieces(
    data: StepData,
    block_s: float,
    n_rounds: int,
    measure: Callable[..., None],
    packer_d: struct.Struct,
    packer_bytes: struct.Struct,
) -> dict[str, str]:
    """Where the time of a write and a read goes, one piece at a time.

    Returns a note on each piece, by name.
    """
    P, K = data.u[0].shape[0], data.size
    steps = [
        (1000 + k, data.u[k], None, data.digests[k], *data.energies[k])
        for k in range(K)
    ]
    sketch_args = [(s[0], s[1], *s[3:]) for s in steps]
    bodies = [codec.encode_step(*s) for s in steps]
    body_args = [(b,) for b in bodies]
    # Bodies as views into a reused buffer, as a caller holding a view passes them
    # (`LogReader.bodies` yields `bytes`).
    views = [(memoryview(bytearray(b)),) for b in bodies]
    prev = b"\0" * DIGEST_SIZE
    frames = [logfile.frame(prev, b)[0] for b in bodies]
    head = _FRAME_HEAD.size
    u_start = len(bodies[0]) - 8 * P - _SKETCH_TAIL.size
    payloads = [(b[u_start - 6 : u_start + 8 * P], "u") for b in bodies]
    arrays = [(np.frombuffer(b, _LE_F64, P, u_start),) for b in bodies]
    packed = [packer_bytes.pack(s[0], s[1].tobytes(), *s[3:]) for s in steps]
    objs = [msgpack.unpackb(b, raw=False, strict_map_key=True) for b in bodies]
    u_args = [(u,) for u in data.u]
    encode_sketch, decode_sketch = sketch_encoder(P), sketch_decoder(P)
    frame_buffer = bytearray()

    def frame_into(body: bytes) -> None:
        sketch_frame_into(frame_buffer, prev, body)
        if len(frame_buffer) >= 1 << 20:
            frame_buffer.clear()

    with (
        open(os.devnull, "wb", buffering=0) as null,
        open(os.devnull, "wb") as null_buffered,
    ):
        null_writer = logfile.LogWriter(null, data.header)
        write = null_buffered.write
        pieces = [
            (
                "loop.empty",
                "the loop around each piece, with a no-op C call",
                h.each(id, body_args),
            ),
            # the floors
            (
                "w.u_tolist",
                "`u.tolist()` (64 Python floats)",
                h.each(np.ndarray.tolist, u_args),
            ),
            ("w.u_tobytes", "`u.tobytes()`", h.each(np.ndarray.tobytes, u_args)),
            (
                "w.struct_pack_d",
                "floor pack, `u` as 64 `d` (with its `tolist`)",
                h.each(
                    lambda s, u, d, a, b, c: packer_d.pack(s, *u.tolist(), d, a, b, c),
                    sketch_args,
                ),
            ),
            (
                "w.struct_pack_bytes",
                "floor pack, `u` as `512s` (with its `tobytes`)",
                h.each(
                    lambda s, u, d, a, b, c: packer_bytes.pack(
                        s, u.tobytes(), d, a, b, c
                    ),
                    sketch_args,
                ),
            ),
            (
                "w.xxh3_128_record",
                "xxh3-128 of a floor record (576 B)",
                h.each(xxhash.xxh3_128_digest, [(r,) for r in packed]),
            ),
            (
                "w.buffered_write_2",
                "record + digest written to a buffered file (on /dev/null)",
                h.each(
                    lambda r, d: (write(r), write(d)),
                    [(r, data.digests[0]) for r in packed],
                ),
            ),
            # our write path
            ("w.encode_step", "`codec.encode_step`", h.each(codec.encode_step, steps)),
            (
                "w.frame",
                "`logfile.frame`: join, xxh3-128, xxh3-64, checksum concatenation",
                h.each(logfile.frame, [(prev, b) for b in bodies]),
            ),
            (
                "w.join_head_prev_body",
                '`b"".join` of length fields, prev and body (in frame)',
                h.each(
                    lambda b: b"".join(
                        (_FRAME_HEAD.pack(len(b), len(b) ^ 0xFFFFFFFF), prev, b)
                    ),
                    body_args,
                ),
            ),
            (
                "w.xxh3_128_core",
                "xxh3-128 of `prev | body` (in frame)",
                h.each(xxhash.xxh3_128_digest, [(f[head:-8],) for f in frames]),
            ),
            (
                "w.xxh3_64_frame",
                "xxh3-64 of a frame (in frame)",
                h.each(xxhash.xxh3_64_intdigest, [(f[:-8],) for f in frames]),
            ),
            (
                "w.bytearray_append",
                "`buffer += frame` (the writer's buffer, cleared at 1 MiB)",
                append_block(frames),
            ),
            (
                "w.write_body_devnull",
                "`LogWriter.write_body` on /dev/null: frame, append, flushes",
                h.each(null_writer.write_body, body_args),
            ),
            (
                "w.sketch_encode_step",
                "sketch: step body from 5 pieces, one tail `struct.pack`",
                h.each(encode_sketch, sketch_args),
            ),
            (
                "w.sketch_frame_into",
                "sketch: frame appended in place, hashed where it lies",
                h.each(frame_into, body_args),
            ),
            # the read floors
            (
                "r.struct_unpack_d",
                "floor unpack, `u` as 64 floats",
                h.each(packer_d.unpack, [(r,) for r in packed]),
            ),
            (
                "r.struct_unpack_bytes",
                "floor unpack, `u` as 512 bytes",
                h.each(packer_bytes.unpack, [(r,) for r in packed]),
            ),
            # our read path
            (
                "r.decode_event_bytes",
                "`codec.decode_event` of a `bytes` body",
                h.each(codec.decode_event, body_args),
            ),
            (
                "r.decode_event_view",
                "`codec.decode_event` of a `memoryview` body (`LogReader` yields `bytes`)",
                h.each(codec.decode_event, views),
            ),
            (
                "r.bytes_eq_view",
                "`bytes == memoryview`, 573 B (a canonical compare against a view)",
                h.each(
                    lambda b, v: b == v,
                    [(b, v[0]) for b, v in zip(bodies, views, strict=True)],
                ),
            ),
            (
                "r.bytes_of_view",
                "`bytes(view)`, 573 B (a copy that makes compares cheap)",
                h.each(bytes, views),
            ),
            (
                "r.decode_array",
                "`codec.decode_array` of u's payload (finiteness checked)",
                h.each(codec.decode_array, payloads),
            ),
            (
                "r.frombuffer",
                "`np.frombuffer` of u's 512 bytes",
                h.each(lambda b: np.frombuffer(b, _LE_F64, P, u_start), body_args),
            ),
            (
                "r.isfinite_all",
                "`np.isfinite(u).all()`",
                h.each(lambda a: np.isfinite(a).all(), arrays),
            ),
            (
                "r.msgpack_unpackb",
                "`msgpack.unpackb` of a body (the general decoder)",
                h.each(
                    lambda b: msgpack.unpackb(b, raw=False, strict_map_key=True),
                    body_args,
                ),
            ),
            (
                "r.msgpack_repack",
                "`msgpack.packb` of the decoded list + compare (its canonical check)",
                h.each(
                    lambda o, b: msgpack.packb(o, use_bin_type=True) == b,
                    list(zip(objs, bodies, strict=True)),
                ),
            ),
            (
                "r.sketch_decode_step",
                "sketch: fixed-layout step decode, every byte checked, u finite",
                h.each(decode_sketch, body_args),
            ),
        ]
        measure(
            "pieces",
            [
                h.local_contender(name, block, target_seconds=block_s / 4)
                for name, _, block in pieces
            ],
            n_rounds,
        )
        null_writer.close()
    return {name: note for name, note, _ in pieces}


# -- figures ------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One line of the summary: ``ours`` over ``other`` (``None``: no ratio)."""

    label: str
    ours: str
    other: str | None
    target: float | None = None


FIGURES = (
    Figure(
        "1. write floor: pack (`u` as 64 d) + xxh3-128 + buffered write",
        "write.floor",
        None,
    ),
    Figure(
        "1. stricter write floor: pack (`u` as 512 s) + xxh3-128 + buffered write",
        "write.floor_bytes",
        None,
    ),
    Figure(
        "2. `encode_step` + `write_body` (on_close) vs write floor",
        "write.ours",
        "write.floor",
        2.5,
    ),
    Figure(
        "2. `encode_step` + `write_body` (on_close) vs stricter write floor",
        "write.ours",
        "write.floor_bytes",
    ),
    Figure(
        "2. plain msgpack dict + xxh3-128 + write vs write floor (reference)",
        "write.msgpack_dict",
        "write.floor",
    ),
    Figure("3. read floor: read + unpack (`u` as 64 d) + xxh3-128", "read.floor", None),
    Figure("3. `LogReader` iteration vs read floor", "read.ours", "read.floor", 3.0),
    Figure(
        "3. `LogReader` iteration vs stricter read floor (`u` as 512 s)",
        "read.ours",
        "read.floor_bytes",
    ),
    Figure(
        "3. `LogReader.bodies` (frames + chain, no decoding) vs read floor",
        "read.ours_frames",
        "read.floor",
    ),
    Figure(
        "3. sketch: chunked frame reader + fixed-layout decode vs read floor",
        "read.sketch",
        "read.floor",
    ),
    Figure(
        "7. pydantic `StepAppliedModel.model_validate` vs `decode_event`",
        "validate.pydantic",
        "validate.decode_event",
    ),
    Figure(
        "7. `record_to_model` (tolist + hex + validate) vs `decode_event`",
        "validate.record_to_model",
        "validate.decode_event",
    ),
    Figure(
        "7. pydantic `model_validate` vs the fixed-layout decode sketch",
        "validate.pydantic",
        "validate.sketch_decode",
    ),
)


def figure_row(figure: Figure, results: Mapping[str, h.Samples]) -> dict[str, Any]:
    row: dict[str, Any] = asdict(figure)
    ours = results[figure.ours]
    row.update(ours_s=ours.median, unit=ours.unit)
    if figure.other is None:
        return {**row, "ratio": None, "met": None}
    other = results[figure.other]
    value = h.ratio(ours, other)
    met = None if figure.target is None else value.median <= figure.target
    return {**row, "other_s": other.median, "ratio": value.as_dict(), "met": met}


def hash_rows(
    results: Mapping[str, h.Samples], config: Config, P: int
) -> list[dict[str, Any]]:
    rows = [
        {
            "what": "xxh3_128_digest(b'') (call cost)",
            "bytes": 0,
            "median_s": results["hash.call_0B"].median,
        }
    ]
    for n in config.hash_sizes:
        seconds = results[f"hash.{n}B"].median
        what = f"xxh3_128_digest, {n} B" + (" (2 P float64)" if n == 2 * P * 8 else "")
        rows.append(
            {"what": what, "bytes": n, "median_s": seconds, "GB_s": n / seconds / 1e9}
        )
    rows.append(
        {
            "what": f"StateHasher.digest(y, z), P = {P} (prefix + tobytes + hash)",
            "bytes": 2 * P * 8,
            "median_s": results["hash.state_digest"].median,
        }
    )
    return rows


def fsync_figure(results: Mapping[str, h.Samples]) -> dict[str, Any]:
    sync, buffered = results["fsync.every_event"], results["fsync.on_close"]
    paired = [a - b for a, b in zip(sync.seconds, buffered.seconds, strict=True)]
    return {
        "every_event_s": sync.median,
        "on_close_s": buffered.median,
        "per_fsync_s": statistics.median(paired),
        "per_fsync_low_s": min(paired),
        "per_fsync_high_s": max(paired),
    }


# -- report -------------------------------------------------------------------


def summary_table(rows: list[dict[str, Any]]) -> str:
    def cells(row: dict[str, Any]) -> list[str]:
        per = f"{h.format_seconds(row['ours_s'])} per {row['unit']}"
        if row["ratio"] is None:
            return [row["label"], per, "-", "-", "-", "-", "-"]
        r = row["ratio"]
        target = "-" if row["target"] is None else f"<= {row['target']:g}x"
        return [
            row["label"],
            per,
            h.format_seconds(row["other_s"]),
            h.format_ratio(r["median"]),
            f"{r['q1']:.3g}-{r['q3']:.3g}",
            target,
            h.describe_met(row["met"]),
        ]

    return h.markdown_table(h.SUMMARY_HEADER, (cells(r) for r in rows))


def disk_table(disk: Mapping[str, Any]) -> str:
    raw = disk["raw_payload_bytes"]
    rows = [
        [
            f"log, mean over {disk['step_events']} step events (seq < 65536)",
            f"{disk['log_bytes_per_step']:.1f}",
            f"{disk['log_extra_per_step']:.1f}",
            "<= 64",
            "yes" if disk["log_extra_per_step"] <= 64 else "**no**",
        ]
    ]
    for seq, extra in disk["extra_by_seq"].items():
        rows.append(
            [
                f"log, one step event at seq = {int(seq):,}",
                str(raw + extra),
                str(extra),
                "<= 64",
                "yes" if extra <= 64 else "**no**",
            ]
        )
    rows.append(
        [
            "floor record (seq u64 + packed fields + digest)",
            f"{disk['floor_bytes_per_step']:.0f}",
            f"{disk['floor_extra_per_step']:.0f}",
            "-",
            "-",
        ]
    )
    rows.append(
        [
            "plain msgpack dict + digest",
            str(disk["msgpack_dict_bytes_per_step"]),
            str(disk["msgpack_dict_bytes_per_step"] - raw),
            "-",
            "-",
        ]
    )
    return h.markdown_table(
        [
            "4. bytes per step event",
            "on disk",
            f"beyond the raw {raw} B",
            "target",
            "met",
        ],
        rows,
    )


def hash_table(rows: list[dict[str, Any]]) -> str:
    return h.markdown_table(
        ["5. hashing", "time per call", "throughput"],
        (
            [
                r["what"],
                h.format_seconds(r["median_s"]),
                f"{r['GB_s']:.3g} GB/s" if "GB_s" in r else "-",
            ]
            for r in rows
        ),
    )


def fsync_table(fig: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    return h.markdown_table(
        ["6. durability", "per event"],
        [
            [
                f"`SyncPolicy.every_event()` ({config['fsync_events']} events per block)",
                h.format_seconds(fig["every_event_s"]),
            ],
            ["`SyncPolicy.on_close()`", h.format_seconds(fig["on_close_s"])],
            [
                "cost of one write + fsync (paired difference, median; min-max)",
                f"{h.format_seconds(fig['per_fsync_s'])} "
                f"({h.format_seconds(fig['per_fsync_low_s'])}-"
                f"{h.format_seconds(fig['per_fsync_high_s'])})",
            ],
        ],
    )


def pieces_table(pieces: Mapping[str, Mapping[str, Any]]) -> str:
    return h.markdown_table(
        ["piece", "median per call", "what"],
        (
            [f"`{name}`", h.format_seconds(piece["median_s"]), piece["note"]]
            for name, piece in pieces.items()
        ),
    )


def report(result: dict[str, Any]) -> str:
    machine, config, libs = result["machine"], result["config"], result["libraries"]
    src = result["sources"]
    lines = [
        f"`{result['command']}`",
        "",
        f"- date: {result['date']}; timing took {result['timing_seconds']:.0f} s; "
        f"pinned to CPU {result['pinned_cpu']}",
        f"- machine: {h.describe_machine(machine)}, msgpack {libs['msgpack']}, "
        f"xxhash {libs['xxhash']}, pydantic {libs['pydantic']}",
        f"- linoss-dynamics {result['package']['version']}; P = {config['P']} "
        f"float64; {config['distinct_events']} distinct step events cycled; read "
        f"passes over {config['read_events']} events; files in a temporary directory",
        f"- measured sources: commit {src['commit']}, codec.py "
        f"{src['modules_sha256']['codec.py']}, logfile.py "
        f"{src['modules_sha256']['logfile.py']} (sha256 prefixes; "
        + (
            "as committed)"
            if src["modules_match_commit"]
            else "working tree, not committed)"
        ),
        f"- interleaved rounds: {config['rounds']} for writing, reading and "
        f"validation, {config['hash_rounds']} for hashing, {config['fsync_rounds']} "
        f"for fsync, {config['piece_rounds']} for the pieces; {h.ROUNDS_NOTE}",
        "- fixed-layout sketches agree with `codec` (bytes and records): "
        + ("yes" if result["sketches_agree_with_codec"] else "**no**"),
        "",
        summary_table(result["figures"]),
        "",
        disk_table(result["disk"]),
        "",
        hash_table(result["hashing"]),
        "",
        fsync_table(result["fsync"], config),
        "",
        pieces_table(result["pieces"]),
        "",
        h.contender_table(
            result["_samples"], result["rounds"], leave_out=("w.", "r.", "loop.")
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return h.main(argv, doc=__doc__, full=FULL, quick=QUICK, run=run, report=report)


if __name__ == "__main__":
    sys.exit(main())
