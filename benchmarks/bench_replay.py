"""Replay engine, end to end: recording with ``Recorder``, checking with ``verify``.

Usage::

    python benchmarks/bench_replay.py [--quick] [--json OUT]

For a bank of P = 64 float64 oscillators driven by a length-P input ``u`` (rows
of a seeded (256, P) array, cycled), all in one run:

1. a recorded step, ``Recorder.step(u)`` writing to a file with the default
   policies (sync on close, energies, a checkpoint every 1000 steps), against
   a bare ``Oscillator.step(y, z, u)`` of the same scheme, for damped IMEX1 and
   for undamped IM;
2. the recorded IM step against linoss-dynamics 0.2.2's ``linoss_step`` in IM
   mode with ``u`` (in a worker process: it shares our import name);
3. ``verify(path)`` of a recorded log, per event, against a recorded step;
4. the peak memory of verifying a long log (1,000,000 steps; 50,000 with
   ``--quick``) in a fresh process: its peak resident set (``VmHWM``) and, in
   a second fresh process, the peak of ``tracemalloc``; and the log's size;
5. ``SyncPolicy.every(100)`` and ``SyncPolicy.every_event()`` per step.

A breakdown follows: the pieces of a recorded step (the kernel, the energy, the
state digest, the encoding, the framed write, the amortized checkpoint) and of
a verified event (reading the frame, extracting the inputs, the replayed step,
the re-encode and the byte comparison), each timed alone.

Contenders are timed in interleaved rounds (see ``_harness``); the tables give
medians over rounds and medians of the per-round ratios. Recorders keep one
file open across rounds and start a new one between rounds once it passes
``rotate_bytes``, so opening and closing (and the closing ``fsync``) are never
timed. Files live in a temporary directory, removed at the end. Targets are
printed next to the figures; the exit status never depends on them.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

import linoss_dynamics
from linoss_dynamics import (
    LogReader,
    LogWriter,
    Oscillator,
    Recorder,
    Scheme,
    SyncPolicy,
    verify,
)
from linoss_dynamics.recorder import DEFAULT_CHECKPOINT_EVERY


@dataclass(frozen=True)
class Config:
    """Sizes and budgets of one run."""

    P: int
    dt: float
    seed: int
    distinct_inputs: int
    verify_steps: int
    piece_log_steps: int
    memory_steps: int
    rounds: int
    verify_rounds: int
    sync_rounds: int
    piece_rounds: int
    block_seconds: float
    every_event_steps: int
    rotate_bytes: int


FULL = Config(
    P=64,
    dt=0.05,
    seed=20240,
    distinct_inputs=256,
    verify_steps=20_000,
    piece_log_steps=2_048,
    memory_steps=1_000_000,
    rounds=61,
    verify_rounds=15,
    sync_rounds=5,
    piece_rounds=21,
    block_seconds=0.02,
    every_event_steps=200,
    rotate_bytes=64 << 20,
)
QUICK = Config(
    P=64,
    dt=0.05,
    seed=20240,
    distinct_inputs=256,
    verify_steps=1_000,
    piece_log_steps=512,
    memory_steps=50_000,
    rounds=5,
    verify_rounds=3,
    sync_rounds=2,
    piece_rounds=3,
    block_seconds=0.004,
    every_event_steps=20,
    rotate_bytes=16 << 20,
)


def bench_inputs(P: int, K: int, seed: int) -> dict[str, Any]:
    """Parameters, initial state and K inputs, drawn from one seed in both processes."""
    # Imported here because the reference worker runs this function's source.
    import numpy as np

    rng = np.random.default_rng(seed)
    return {
        "A": rng.uniform(0.5, 4.0, P),
        "G": rng.uniform(0.05, 0.5, P),
        "y0": rng.standard_normal(P),
        "z0": rng.standard_normal(P),
        "U": rng.standard_normal((K, P)),
    }


def reference_benchmarks(P: int, K: int, dt: float, seed: int) -> dict[str, Any]:
    """Blocks of linoss-dynamics 0.2.2 calls; runs in the reference worker."""
    from linoss_dynamics import linoss_step

    data = bench_inputs(P, K, seed)
    A, y0, z0 = data["A"], data["y0"], data["z0"]
    U = tuple(data["U"])
    mask = len(U) - 1

    def step_im(n: int) -> None:
        y, z = y0, z0
        for i in range(n):
            y, z, _metrics = linoss_step(y, z, A, dt, mode="implicit", u=U[i & mask])

    return {"step_im": step_im}


# -- recording ------------------------------------------------------------------


def recorder_sink(
    directory: Path,
    name: str,
    oscillator: Oscillator,
    y0: np.ndarray,
    z0: np.ndarray,
    rotate_bytes: int,
    **options: Any,
) -> h.Sink:
    """A ``Recorder`` appending to a file, renewed between rounds once the file is full.

    Every renewal starts a new log from the initial state; the recorders are
    closed, and their files removed, outside the timing.
    """

    def opener(path: Path) -> Recorder:
        return Recorder(path, oscillator, y0, z0, **options)

    return h.Sink(directory, name, opener, rotate_bytes, suffix=".log")


def recorded_block(sink: h.Sink, U: Sequence[np.ndarray]) -> h.Block:
    """``n`` recorded steps, the k-th with input ``U[k % len(U)]``."""
    mask = len(U) - 1

    def block(n: int) -> None:
        step = sink.target.step
        for i in range(n):
            step(U[i & mask])

    return block


def recording_contender(
    name: str,
    sink: h.Sink,
    U: Sequence[np.ndarray],
    *,
    target_seconds: float,
    number: int | None = None,
) -> h.Contender:
    """``recorded_block`` through ``sink`` as a contender, timed per step."""
    block = recorded_block(sink, U)
    return h.sink_contender(
        name, sink, block, target_seconds=target_seconds, unit="step", number=number
    )


def bare_block(
    osc: Oscillator, y0: np.ndarray, z0: np.ndarray, U: Sequence[np.ndarray]
) -> h.Block:
    """``n`` bare steps with the same inputs as ``recorded_block``."""
    mask = len(U) - 1
    step = osc.step

    def block(n: int) -> None:
        y, z = y0, z0
        for i in range(n):
            y, z = step(y, z, U[i & mask])

    return block


def record_log(
    path: Path,
    osc: Oscillator,
    y0: np.ndarray,
    z0: np.ndarray,
    U: Sequence[np.ndarray],
    steps: int,
) -> float:
    """Record ``steps`` steps with the default policies; returns the seconds taken."""
    mask = len(U) - 1
    started = time.perf_counter()
    with Recorder(path, osc, y0, z0) as recorder:
        step = recorder.step
        for i in range(steps):
            step(U[i & mask])
    return time.perf_counter() - started


def verify_block(path: Path) -> h.Block:
    """``n`` verifications of the log at ``path``, each checked to succeed."""

    def block(n: int) -> None:
        for _ in range(n):
            report = verify(path)
            if not report.ok:
                raise RuntimeError(f"verification of {path} failed: {report.failure}")

    return block


# -- memory ---------------------------------------------------------------------

MEASURED_MODULES = (
    "recorder.py",
    "transition.py",
    "verify.py",
    "codec.py",
    "logfile.py",
    "oscillator.py",
)
"""The modules whose digests the report gives, and the verifying processes check."""

# Run by a fresh interpreter, so that its peak resident set is verify's alone
# (plus the imports, reported separately as the peak before verify starts).
_VERIFY_CHILD = """
import hashlib, json, pathlib, resource, sys, time, tracemalloc

def peak_rss_kib():
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None

import linoss_dynamics
from linoss_dynamics import verify

path, traced, modules = sys.argv[1], sys.argv[2] == "traced", sys.argv[3:]
root = pathlib.Path(linoss_dynamics.__file__).resolve().parent
digests = {
    name: hashlib.sha256((root / name).read_bytes()).hexdigest()[:12]
    for name in modules
}
before = peak_rss_kib()
if traced:
    tracemalloc.start()
started = time.perf_counter()
report = verify(path)
seconds = time.perf_counter() - started
traced_peak = tracemalloc.get_traced_memory()[1] if traced else None
print(json.dumps({
    "ok": report.ok,
    "events": report.events_verified,
    "seconds": seconds,
    "vm_hwm_before_kib": before,
    "vm_hwm_kib": peak_rss_kib(),
    "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "tracemalloc_peak_bytes": traced_peak,
    "package": linoss_dynamics.__file__,
    "modules_sha256": digests,
}))
"""


def verify_in_child(path: Path, *, traced: bool) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _VERIFY_CHILD,
            str(path),
            "traced" if traced else "plain",
            *MEASURED_MODULES,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"the verifying process exited {done.returncode}: {done.stderr[-2000:]}"
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(result["package"]).resolve() != Path(linoss_dynamics.__file__).resolve():
        raise RuntimeError(
            f"the verifying process imported {result['package']}, not "
            f"{linoss_dynamics.__file__}"
        )
    return result


def measure_memory(
    directory: Path,
    osc: Oscillator,
    y0: np.ndarray,
    z0: np.ndarray,
    U: Sequence[np.ndarray],
    steps: int,
    digests: Mapping[str, str],
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Record a long log, then verify it twice in fresh processes.

    The fresh processes import the package anew: ``differing_modules`` names
    any measured module that changed on disk since this process imported it.
    """
    path = directory / "long.log"
    log(f"recording a {steps:,}-step log for the memory figure")
    record_seconds = record_log(path, osc, y0, z0, U, steps)
    size = path.stat().st_size
    log("verifying it in a fresh process")
    plain = verify_in_child(path, traced=False)
    log("verifying it again under tracemalloc")
    traced = verify_in_child(path, traced=True)
    path.unlink()
    differing = sorted(
        name
        for child in (plain, traced)
        for name, digest in child["modules_sha256"].items()
        if digests.get(name) != digest
    )
    return {
        "steps": steps,
        "differing_modules": sorted(set(differing)),
        "events": plain["events"],
        "ok": plain["ok"] and traced["ok"],
        "log_bytes": size,
        "bytes_per_step": size / steps,
        "record_seconds": record_seconds,
        "record_per_step_s": record_seconds / steps,
        "verify_seconds": plain["seconds"],
        "verify_per_event_s": plain["seconds"] / plain["events"],
        "traced_verify_seconds": traced["seconds"],
        "peak_rss_bytes": plain["vm_hwm_kib"] * 1024,
        "peak_rss_before_verify_bytes": plain["vm_hwm_before_kib"] * 1024,
        "ru_maxrss_bytes": plain["ru_maxrss_kib"] * 1024,
        "tracemalloc_peak_bytes": traced["tracemalloc_peak_bytes"],
        "target_bytes": 150 * 10**6,
    }


# -- pieces ---------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """One piece of the breakdown; ``make`` builds its block."""

    name: str
    note: str
    make: Callable[[], h.Block]
    units: int = 1


def measure_pieces(
    directory: Path,
    osc: Oscillator,
    y0: np.ndarray,
    z0: np.ndarray,
    U: Sequence[np.ndarray],
    config: Config,
    measure: Callable[[str, list[h.Contender], int], None],
    log: Callable[[str], None],
) -> dict[str, dict[str, Any]]:
    """Where the time of a recorded step and a verified event goes (IM).

    Pieces that reach into the package's modules are built defensively: when a
    module has changed under the benchmark, the piece reads n/a and the rest
    still runs. Returns each piece's note, and its error if it could not run.
    """
    # Imported here: internal modules, used only to time pieces.
    from linoss_dynamics import codec, logfile
    from linoss_dynamics.transition import Stepper

    P, block_s = config.P, config.block_seconds
    K = len(U)
    log_path = directory / "pieces.log"
    record_log(log_path, osc, y0, z0, U, config.piece_log_steps)
    with LogReader(log_path) as reader:
        events = sum(1 for _ in reader.bodies())
    with LogReader(log_path) as reader:
        bodies, body_type = [], bytes
        for body in reader.bodies():
            body_type = type(body)
            if codec.is_step(body):
                bodies.append(bytes(body))
    bodies = bodies[:K]
    # Bodies in the form the reader hands them to the replay loop: a view into
    # a reused buffer, or bytes.
    if body_type is bytes:
        handed = [(bytes(bytearray(b)),) for b in bodies]
    else:
        handed = [(memoryview(bytearray(b)),) for b in bodies]
    form = f"`{body_type.__name__}`"

    # States and outcomes of K consecutive IM steps, for the pieces after the kernel.
    stepper = Stepper(osc, y0, z0)
    outs = [stepper.step(u) for u in U]
    states = [np.stack((o.y, o.z)) for o in outs]
    encode_args = [
        (1000 + k, U[k], None, o.state_digest, *o[2:5]) for k, o in enumerate(outs)
    ]
    encoded = [codec.encode_step(*a) for a in encode_args]

    def recorder_step() -> h.Block:
        sink = recorder_sink(directory, "pieces-rec", osc, y0, z0, config.rotate_bytes)
        sinks.append(sink)
        return recorded_block(sink, U)

    def stepper_step() -> h.Block:
        s = Stepper(osc, y0, z0)
        return h.each(s.step, [(u,) for u in U])

    def step_into() -> h.Block:
        state, scratch = np.empty((2, P)), np.empty(P)
        y, z = state
        args = [(o.y, o.z, U[k], y, z, scratch) for k, o in enumerate(outs)]
        return h.each(osc.step_into, args)

    def empty_state() -> h.Block:
        shape = (2, P)
        return h.each(np.empty, [(shape,)])

    def energy() -> h.Block:
        # As `Stepper.step` computes it: three ufuncs on the stacked state into
        # preallocated arrays, then the exact sum of the terms.
        from linoss_dynamics.energy import energy_weights, stacked_terms_into

        weights = energy_weights(osc.A)
        squares, terms = np.empty((2, P)), np.empty(P)
        rows = (squares[0], squares[1])

        def one(state: np.ndarray) -> float:
            stacked_terms_into(weights, state, squares, rows, terms)
            return 0.5 * math.fsum(memoryview(terms))  # type: ignore[arg-type]

        return h.each(one, [(s,) for s in states])

    def energy_fsum() -> h.Block:
        def one(terms: np.ndarray) -> float:
            return 0.5 * math.fsum(memoryview(terms))  # type: ignore[arg-type]

        terms = [(s[0] * s[0] + s[1] * s[1],) for s in states]
        return h.each(one, terms)

    def digest() -> h.Block:
        prefix = codec.StateHasher((P,)).prefix
        hash128 = xxhash.xxh3_128_digest

        def one(state: np.ndarray) -> bytes:
            return hash128(prefix + state.tobytes())

        return h.each(one, [(s,) for s in states])

    def encode_step() -> h.Block:
        return h.each(codec.encode_step, encode_args)

    def write_body() -> h.Block:
        return h.each(null_writer().write_body, [(b,) for b in encoded])

    # The writer appends frames in place where the log module offers it.
    frame_into = getattr(logfile, "frame_into", None)
    frame_name = "frame" if frame_into is None else "frame_into"

    def frame() -> h.Block:
        prev = b"\0" * codec.DIGEST_SIZE
        if frame_into is None:
            return h.each(logfile.frame, [(prev, b) for b in encoded])
        buffer = bytearray()

        def one(body: bytes) -> None:
            frame_into(buffer, prev, body)
            if len(buffer) >= 1 << 20:
                buffer.clear()

        return h.each(one, [(b,) for b in encoded])

    def null_writer() -> LogWriter:
        with LogReader(log_path) as reader:
            header = reader.header
        null = open(os.devnull, "wb")  # noqa: SIM115 - closed with the writers
        writer = LogWriter(null, header)
        writers.append(writer)
        return writer

    def composed_record() -> h.Block:
        s, writer = Stepper(osc, y0, z0), null_writer()
        step, encode, write_body = s.step, codec.encode_step, writer.write_body
        mask = K - 1

        def block(n: int) -> None:
            for i in range(n):
                u = U[i & mask]
                out = step(u)
                write_body(
                    encode(
                        writer.seq,
                        u,
                        None,
                        out.state_digest,
                        out.energy_before,
                        out.energy_after,
                        out.delta_energy,
                    )
                )

        return block

    def composed_replay() -> h.Block:
        is_step, step_inputs, encode = (
            codec.is_step,
            codec.step_inputs,
            codec.encode_step,
        )

        def block(n: int) -> None:
            for _ in range(n):
                with LogReader(log_path) as reader:
                    s = Stepper(osc, reader.header.y0, reader.header.z0)
                    for body in reader.bodies():
                        if not is_step(body):
                            continue  # checkpoints and the closing record
                        seq, u, dt = step_inputs(body)
                        out = s.step(u, dt)
                        expected = encode(
                            seq,
                            u,
                            dt,
                            out.state_digest,
                            out.energy_before,
                            out.energy_after,
                            out.delta_energy,
                        )
                        if expected != body:
                            raise RuntimeError(
                                f"the composed replay disagrees at seq {seq}"
                            )

        return block

    def checkpoint() -> h.Block:
        sink = recorder_sink(
            directory,
            "pieces-checkpoint",
            osc,
            y0,
            z0,
            config.rotate_bytes,
            checkpoint_every=0,
        )
        sinks.append(sink)

        def block(n: int) -> None:
            take = sink.target.checkpoint
            for _ in range(n):
                take()

        return block

    def osc_step() -> h.Block:
        return bare_block(osc, y0, z0, U)

    def verify_pass() -> h.Block:
        return verify_block(log_path)

    def bodies_pass() -> h.Block:
        def block(n: int) -> None:
            for _ in range(n):
                with LogReader(log_path) as reader:
                    for _body in reader.bodies():
                        pass

        return block

    def inputs() -> h.Block:
        is_step, step_inputs = codec.is_step, codec.step_inputs

        def one(body: Any) -> object:
            return is_step(body) and step_inputs(body)

        return h.each(one, handed)

    def compare() -> h.Block:
        # Equal contents in distinct objects, as the re-encode and the body are.
        pairs = [(bytes(bytearray(b[0])), b[0]) for b in handed]
        return h.each(lambda e, b: e != b, pairs)

    def isfinite_all() -> h.Block:
        return h.each(lambda a: np.isfinite(a).all(), [(u,) for u in U])

    pieces = [
        Piece("w.recorder_step", "`Recorder.step(u)`, whole", recorder_step),
        Piece(
            "w.stepper_step",
            "`Stepper.step(u)`: new state, energy, state digest",
            stepper_step,
        ),
        Piece(
            "w.step_into", "`Oscillator.step_into` (IM kernel, 10 ufuncs)", step_into
        ),
        Piece("w.empty_state", "`np.empty((2, P))`, the new state", empty_state),
        Piece("w.energy", "energy: 3 ufuncs on `[y, z]` + `math.fsum`", energy),
        Piece("w.energy_fsum", "`0.5 * math.fsum` of the terms alone", energy_fsum),
        Piece("w.digest", "state digest: `prefix + tobytes()`, xxh3-128", digest),
        Piece("w.encode_step", "`codec.encode_step`", encode_step),
        Piece(
            "w.write_body",
            "`LogWriter.write_body` (frame + buffer; `/dev/null` behind it)",
            write_body,
        ),
        Piece(
            "w.frame",
            f"`logfile.{frame_name}` (join, xxh3-64, xxh3-128, append)",
            frame,
        ),
        Piece(
            "w.composed",
            "`Stepper.step` + `encode_step` + `write_body` in a plain loop",
            composed_record,
        ),
        Piece("w.checkpoint", "`Recorder.checkpoint()`, one call", checkpoint),
        Piece("w.osc_step", "`Oscillator.step(y, z, u)` (for comparison)", osc_step),
        Piece(
            "r.verify",
            f"`verify(path)` per event, {config.piece_log_steps:,}-step log",
            verify_pass,
            events,
        ),
        Piece(
            "r.composed",
            "`bodies` + `step_inputs` + `Stepper.step` + `encode_step` + compare "
            "in a plain loop, per event",
            composed_replay,
            events,
        ),
        Piece(
            "r.bodies",
            "`LogReader.bodies()` per event: read frame, checksum, chain",
            bodies_pass,
            events,
        ),
        Piece(
            "r.inputs",
            f"`is_step` + `step_inputs` of a {form} body (seq, u)",
            inputs,
        ),
        Piece("r.compare", f"`expected != body` (`bytes` vs {form}, equal)", compare),
        Piece(
            "r.isfinite_all", "`np.isfinite(u).all()` (for comparison)", isfinite_all
        ),
    ]
    sinks: list[h.Sink] = []
    writers: list[LogWriter] = []
    contenders: list[h.Contender] = []
    notes: dict[str, dict[str, Any]] = {}
    try:
        for piece in pieces:
            notes[piece.name] = {"note": piece.note, "units": piece.units}
            try:
                block = piece.make()
                if piece.units > 1:
                    # One pass over the log per block.
                    contender = h.local_contender(
                        piece.name,
                        block,
                        target_seconds=block_s,
                        units=piece.units,
                        unit="event",
                        number=1,
                    )
                else:
                    contender = h.local_contender(
                        piece.name, block, target_seconds=block_s / 4
                    )
            except Exception as exc:
                notes[piece.name]["error"] = f"{type(exc).__name__}: {exc}"
                log(f"piece {piece.name} unavailable: {exc}")
                continue
            contenders.append(contender)
        measure("pieces", contenders, config.piece_rounds)
    finally:
        for sink in sinks:
            sink.close()
        for writer in writers:
            writer.close()
        log_path.unlink()
    return notes


# -- figures --------------------------------------------------------------------


FIGURES = (
    h.Figure(
        "1. damped IMEX1: `Recorder.step` vs `Oscillator.step`",
        "step.rec_imex1",
        "step.bare_imex1",
        "overhead",
        2.5,
    ),
    h.Figure(
        "1. IM: `Recorder.step` vs `Oscillator.step`",
        "step.rec_im",
        "step.bare_im",
        "overhead",
        2.5,
    ),
    h.Figure(
        "2. IM: `Recorder.step` vs 0.2.2 `linoss_step`",
        "step.rec_im",
        "step.ref_im",
        "speedup",
        8.0,
    ),
    h.Figure(
        "3. IM: `verify` per event vs `Recorder.step`",
        "verify.im",
        "verify.rec_im",
        "overhead",
        1.5,
    ),
    h.Figure(
        "3. damped IMEX1: `verify` per event vs `Recorder.step`",
        "verify.imex1",
        "verify.rec_imex1",
        "overhead",
        1.5,
    ),
    h.Figure(
        "6. IM: `Recorder.step`, `SyncPolicy.every(100)` vs default",
        "step.rec_im_every100",
        "step.rec_im",
        "overhead",
    ),
    h.Figure(
        "6. IM: `Recorder.step`, `SyncPolicy.every_event()` vs default",
        "sync.rec_im_every_event",
        "sync.rec_im",
        "overhead",
    ),
)


def breakdown(
    results: Mapping[str, h.Samples], notes: Mapping[str, Mapping[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """The pieces of a recorded step and of a verified event, with what is left."""

    def t(name: str) -> float | None:
        s = results.get(name)
        return None if s is None else s.median

    def row(
        name: str | None, what: str, seconds: float | None, whole: float | None
    ) -> dict[str, Any]:
        share = None if seconds is None or not whole else seconds / whole
        return {"piece": name, "what": what, "median_s": seconds, "share": share}

    def rest(whole: float | None, parts: Sequence[float | None]) -> float | None:
        if whole is None or any(p is None for p in parts):
            return None
        return whole - sum(p for p in parts if p is not None)

    def note(name: str) -> str:
        return str(notes.get(name, {}).get("note", name))

    rec, stepper = t("w.recorder_step"), t("w.stepper_step")
    composed = t("w.composed")
    checkpoint = t("w.checkpoint")
    per_step_checkpoint = (
        None if checkpoint is None else checkpoint / DEFAULT_CHECKPOINT_EVERY
    )
    kernel = ["w.step_into", "w.empty_state", "w.energy", "w.digest"]
    write = [
        row("w.recorder_step", note("w.recorder_step"), rec, rec),
        row("w.stepper_step", note("w.stepper_step"), stepper, rec),
        *(row(n, "- of which " + note(n), t(n), rec) for n in kernel),
        row(
            None,
            "- of which the rest of `Stepper.step` (finiteness check, NamedTuple)",
            rest(stepper, [t(n) for n in kernel]),
            rec,
        ),
        row("w.encode_step", note("w.encode_step"), t("w.encode_step"), rec),
        row("w.write_body", note("w.write_body"), t("w.write_body"), rec),
        row("w.frame", "- of which " + note("w.frame"), t("w.frame"), rec),
        row(
            "w.checkpoint",
            f"`Recorder.checkpoint()` / {DEFAULT_CHECKPOINT_EVERY} (amortized)",
            per_step_checkpoint,
            rec,
        ),
        row("w.composed", note("w.composed"), composed, rec),
        row(
            None,
            "- of which beyond its pieces (calls, attribute reads, pieces run "
            "together rather than alone)",
            rest(composed, [stepper, t("w.encode_step"), t("w.write_body")]),
            rec,
        ),
        row(
            None,
            "rest of `Recorder.step` beyond the plain loop (input check, "
            "`Transition`, checkpoint counter, amortized checkpoint)",
            rest(rec, [composed]),
            rec,
        ),
        row("w.osc_step", note("w.osc_step"), t("w.osc_step"), rec),
        row(
            "w.energy_fsum",
            "for comparison: " + note("w.energy_fsum"),
            t("w.energy_fsum"),
            rec,
        ),
    ]
    ver = t("r.verify")
    read_parts = [
        "r.bodies",
        "r.inputs",
        "w.stepper_step",
        "w.encode_step",
        "r.compare",
    ]
    read = [
        row("r.verify", note("r.verify"), ver, ver),
        row("r.bodies", note("r.bodies"), t("r.bodies"), ver),
        row("r.inputs", note("r.inputs"), t("r.inputs"), ver),
        row("w.stepper_step", note("w.stepper_step"), stepper, ver),
        row(
            "w.encode_step",
            note("w.encode_step") + " (the re-encode)",
            t("w.encode_step"),
            ver,
        ),
        row("r.compare", note("r.compare"), t("r.compare"), ver),
        row("r.composed", note("r.composed"), t("r.composed"), ver),
        row(
            None,
            "- of which beyond its pieces (calls, attribute reads, pieces run "
            "together rather than alone)",
            rest(t("r.composed"), [t(n) for n in read_parts]),
            ver,
        ),
        row(
            None,
            "rest of `verify` beyond the plain loop (checkpoints decoded and "
            "checked, seq and offset reads, counters, report)",
            rest(ver, [t("r.composed")]),
            ver,
        ),
        row("r.isfinite_all", note("r.isfinite_all"), t("r.isfinite_all"), ver),
    ]
    return {"recorded_step": write, "verified_event": read}


# -- the run --------------------------------------------------------------------


def run(config: Config, log: Callable[[str], None]) -> dict[str, Any]:
    """Measure every group; returns the results (``_``-prefixed keys are not JSON)."""
    started = time.perf_counter()
    P, dt, block_s = config.P, config.dt, config.block_seconds
    data = bench_inputs(P, config.distinct_inputs, config.seed)
    A, G, y0, z0 = data["A"], data["G"], data["y0"], data["z0"]
    U = tuple(data["U"])
    assert len(U) & (len(U) - 1) == 0, "distinct_inputs must be a power of two"
    osc_im = Oscillator(A, dt, mode=Scheme.IM)
    osc_imex1 = Oscillator(A, dt, G=G, mode=Scheme.DAMPED_IMEX1)
    sources = h.measured_sources(MEASURED_MODULES)

    timings = h.Timings(log)
    results, rounds, measure = timings.results, timings.rounds, timings.measure
    worker, reference = h.start_reference(
        reference_benchmarks,
        log=log,
        helpers=[bench_inputs],
        P=P,
        K=config.distinct_inputs,
        dt=dt,
        seed=config.seed,
    )

    sinks: list[h.Sink] = []
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        directory = Path(tmp)

        def sink(name: str, osc: Oscillator, **options: Any) -> h.Sink:
            s = recorder_sink(
                directory, name, osc, y0, z0, config.rotate_bytes, **options
            )
            sinks.append(s)
            return s

        def close_sinks() -> None:
            while sinks:
                sinks.pop().close()

        try:
            # 1, 2, 6: a recorded step against a bare one and against 0.2.2.
            s_imex1, s_im = sink("rec-imex1", osc_imex1), sink("rec-im", osc_im)
            s_every100 = sink("rec-im-every100", osc_im, sync=SyncPolicy.every(100))
            step_contenders = [
                recording_contender(
                    "step.rec_imex1", s_imex1, U, target_seconds=block_s
                ),
                h.local_contender(
                    "step.bare_imex1",
                    bare_block(osc_imex1, y0, z0, U),
                    target_seconds=block_s,
                    unit="step",
                ),
                recording_contender("step.rec_im", s_im, U, target_seconds=block_s),
                h.local_contender(
                    "step.bare_im",
                    bare_block(osc_im, y0, z0, U),
                    target_seconds=block_s,
                    unit="step",
                ),
                recording_contender(
                    "step.rec_im_every100", s_every100, U, target_seconds=block_s
                ),
            ]
            if worker is not None:
                step_contenders.append(
                    worker.contender(
                        "step.ref_im", "step_im", target_seconds=block_s, unit="step"
                    )
                )
            measure("recorded step", step_contenders, config.rounds)
            close_sinks()

            # 6: a sync per event, against the default, in the same rounds.
            s_sync = sink("sync-im-every-event", osc_im, sync=SyncPolicy.every_event())
            s_default = sink("sync-im", osc_im)
            measure(
                "SyncPolicy.every_event",
                [
                    recording_contender(
                        "sync.rec_im_every_event",
                        s_sync,
                        U,
                        target_seconds=block_s,
                        number=config.every_event_steps,
                    ),
                    recording_contender(
                        "sync.rec_im", s_default, U, target_seconds=block_s
                    ),
                ],
                config.sync_rounds,
            )
            close_sinks()

            # 3: verification, one whole verify per block, against recorded
            # steps in blocks of about the same length.
            verify_logs: dict[str, dict[str, Any]] = {}
            verify_contenders: list[h.Contender] = []
            for label, osc in (("im", osc_im), ("imex1", osc_imex1)):
                path = directory / f"verify-{label}.log"
                record_log(path, osc, y0, z0, U, config.verify_steps)
                report = verify(path)
                if not report.ok:
                    raise RuntimeError(f"{path} does not verify: {report.failure}")
                events = report.events_verified
                verify_logs[label] = {
                    "steps": config.verify_steps,
                    "events": events,
                    "log_bytes": path.stat().st_size,
                }
                one_verify = h.time_block(verify_block(path), 1)
                s_rec = sink(f"verify-rec-{label}", osc)
                verify_contenders += [
                    h.local_contender(
                        f"verify.{label}",
                        verify_block(path),
                        target_seconds=one_verify,
                        units=events,
                        unit="event",
                        number=1,
                    ),
                    recording_contender(
                        f"verify.rec_{label}", s_rec, U, target_seconds=one_verify
                    ),
                ]
            measure(
                f"verify, {config.verify_steps:,}-step logs",
                verify_contenders,
                config.verify_rounds,
            )
            close_sinks()
        finally:
            close_sinks()
            if worker is not None:
                worker.close()

        # The breakdown, then 4: memory (long, and needs no interleaving).
        try:
            notes = measure_pieces(directory, osc_im, y0, z0, U, config, measure, log)
        except Exception as exc:
            # The pieces reach into the package's modules, which may have
            # changed; the figures above do not depend on them.
            log(f"breakdown unavailable: {type(exc).__name__}: {exc}")
            notes = {
                "breakdown": {"note": "-", "error": f"{type(exc).__name__}: {exc}"}
            }
        timing_seconds = time.perf_counter() - started
        memory = measure_memory(
            directory,
            osc_im,
            y0,
            z0,
            U,
            config.memory_steps,
            sources["modules_sha256"],
            log,
        )
    elapsed = time.perf_counter() - started

    return {
        **h.run_header(),
        "package": {"version": linoss_dynamics.__version__},
        "sources": sources,
        "reference": reference,
        "config": asdict(config),
        "timing_seconds": timing_seconds,
        "total_seconds": elapsed,
        "verify_logs": verify_logs,
        "memory": memory,
        "contenders": {name: s.as_dict() for name, s in results.items()},
        "rounds": rounds,
        "figures": [h.figure_row(f, results, units_per_side=True) for f in FIGURES],
        "pieces": {
            name: {
                **info,
                "median_s": results[name].median if name in results else None,
            }
            for name, info in notes.items()
        },
        "breakdown": breakdown(results, notes),
        "_samples": results,
    }


# -- report -------------------------------------------------------------------


def megabytes(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def memory_table(memory: Mapping[str, Any], quick: bool) -> str:
    target = memory["target_bytes"]
    rss, traced = memory["peak_rss_bytes"], memory["tracemalloc_peak_bytes"]
    steps = f"{memory['steps']:,}" + (" (`--quick`: not 1,000,000)" if quick else "")
    rows = [
        ["steps recorded (IM, default policies)", steps, "-", "-"],
        ["events verified", f"{memory['events']:,}", "-", "-"],
        [
            "verifying processes ran the measured modules",
            "yes"
            if not memory["differing_modules"]
            else "**no**, changed since: " + ", ".join(memory["differing_modules"]),
            "-",
            "-",
        ],
        [
            "verified",
            "yes" if memory["ok"] else "**no**",
            "-",
            "-",
        ],
        [
            "peak RSS of the verifying process (`VmHWM`)",
            megabytes(rss),
            f"< {megabytes(target)}",
            "yes" if rss < target else "**no**",
        ],
        [
            "- of which after the imports, before `verify` starts",
            megabytes(memory["peak_rss_before_verify_bytes"]),
            "-",
            "-",
        ],
        [
            "`tracemalloc` peak during `verify` (a second fresh process)",
            megabytes(traced),
            f"< {megabytes(target)}",
            "yes" if traced < target else "**no**",
        ],
        ["log size on disk", megabytes(memory["log_bytes"]), "-", "-"],
        [
            "bytes per step (whole file / steps)",
            f"{memory['bytes_per_step']:.1f}",
            "-",
            "-",
        ],
        [
            "recording it (one run, closing `fsync` included)",
            f"{memory['record_seconds']:.1f} s, "
            f"{h.format_seconds(memory['record_per_step_s'])} per step",
            "-",
            "-",
        ],
        [
            "verifying it (the RSS run)",
            f"{memory['verify_seconds']:.1f} s, "
            f"{h.format_seconds(memory['verify_per_event_s'])} per event",
            "-",
            "-",
        ],
    ]
    return h.markdown_table(["4. long log", "value", "target", "met"], rows)


def breakdown_table(title: str, rows: list[dict[str, Any]]) -> str:
    def cells(row: dict[str, Any]) -> list[str]:
        seconds, share = row["median_s"], row["share"]
        return [
            row["what"],
            "n/a" if seconds is None else h.format_seconds(seconds),
            "-" if share is None else f"{100 * share:.0f}%",
        ]

    return h.markdown_table([title, "median", "share"], (cells(r) for r in rows))


def report(result: dict[str, Any]) -> str:
    machine, config, src = result["machine"], result["config"], result["sources"]
    changed = src["changed_modules"]
    logs = ", ".join(
        f"{label} {info['events']:,} events ({info['log_bytes'] / info['steps']:.1f} "
        "B per step)"
        for label, info in result["verify_logs"].items()
    )
    lines = [
        f"`{result['command']}`",
        "",
        f"- date: {result['date']}; timing took {result['timing_seconds']:.0f} s, "
        f"everything {result['total_seconds']:.0f} s; pinned to CPU "
        f"{result['pinned_cpu']}",
        f"- machine: {h.describe_machine(machine)}",
        f"- ours: linoss-dynamics {result['package']['version']} at commit "
        f"{src['commit']}"
        + (
            f", with uncommitted changes to {', '.join(changed)}"
            if changed
            else " (measured modules as committed)"
        )
        + f"; reference: {h.describe_reference(result['reference'])}",
        "- module digests (sha256 prefixes): "
        + ", ".join(f"{k} {v}" for k, v in src["modules_sha256"].items()),
        f"- P = {config['P']} float64, dt = {config['dt']}, "
        f"{config['distinct_inputs']} distinct inputs `u` cycled; recorders write "
        "files with the default policies unless said otherwise",
        f"- verified logs of {config['verify_steps']:,} steps: {logs}",
        f"- interleaved rounds: {config['rounds']} for steps, {config['sync_rounds']} "
        f"for `every_event`, {config['verify_rounds']} for verify, "
        f"{config['piece_rounds']} for the pieces; {h.ROUNDS_NOTE}",
        "",
        h.summary_table(result["figures"]),
        "",
        memory_table(result["memory"], result["_quick"]),
        "",
        "Where the time goes (IM; each piece timed alone, medians per call; share of "
        "the whole in the first row):",
        "",
        breakdown_table("recorded step", result["breakdown"]["recorded_step"]),
        "",
        breakdown_table("verified event", result["breakdown"]["verified_event"]),
    ]
    missing = {k: v["error"] for k, v in result["pieces"].items() if "error" in v}
    if missing:
        lines += [
            "",
            "Pieces not measured: "
            + "; ".join(f"{k}: {v}" for k, v in missing.items()),
        ]
    lines += ["", h.contender_table(result["_samples"], result["rounds"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return h.main(argv, doc=__doc__, full=FULL, quick=QUICK, run=run, report=report)


if __name__ == "__main__":
    sys.exit(main())
