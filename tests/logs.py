"""Small run logs for the log tests, recorded the way a recorder would.

A run here is an ``Oscillator``, a header (``RunStarted``) and a list of event
records computed by stepping the oscillator: every state digest and energy in
these logs is the one the core produced. ``record`` writes such a run into
memory and returns its bytes with the frame boundaries and chain digests the
writer reported, so tests can cut, flip and splice frames at known places.

The frame layout is parsed here independently of ``linoss_dynamics.logfile``
(``frame_spans``), from the layout its module docs give.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from linoss_dynamics import (
    Oscillator,
    Recorder,
    Scheme,
    _environment,
    codec,
    events,
    logfile,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS_DIR = REPO_ROOT / "tests"

P = 4
MAGIC_SIZE = 8
FRAME_HEAD = 8
PREV_SIZE = 16
CHECKSUM_SIZE = 8
FRAME_OVERHEAD = FRAME_HEAD + PREV_SIZE + CHECKSUM_SIZE


# -- runs ------------------------------------------------------------------------------


def bank(
    size: int = P,
    *,
    scheme: Scheme = Scheme.DAMPED_IMEX1,
    seed: int = 0,
    B: Any = None,
    dt: float | np.ndarray = 0.05,
) -> Oscillator:
    """A stable damped (or undamped) bank with stiffness in [0.5, 4]."""
    rng = np.random.default_rng(seed)
    A = rng.uniform(0.5, 4.0, size)
    G = rng.uniform(0.0, 0.5, size) if scheme.damped else None
    return Oscillator(A, dt, G=G, mode=scheme, B=B)


def initial_state(size: int = P, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 1000)
    return rng.standard_normal(size), rng.standard_normal(size)


def header(
    osc: Oscillator,
    y0: np.ndarray,
    z0: np.ndarray,
    *,
    library_version: str = "x",
    fingerprint: dict[str, Any] | None = None,
    schema_version: int = codec.SCHEMA_VERSION,
) -> events.RunStarted:
    return events.RunStarted(
        schema_version,
        library_version,
        codec.HASH_ALGORITHMS,
        events.spec_of(osc),
        y0,
        z0,
        _environment.fingerprint() if fingerprint is None else fingerprint,
    )


class RunBuilder:
    """Steps an oscillator and turns each step into its ``StepApplied`` record.

    Inputs come from a seeded generator and cycle through a float, an array
    (one value per oscillator, or per column of ``B``) and none.
    """

    def __init__(
        self,
        osc: Oscillator,
        y: np.ndarray,
        z: np.ndarray,
        *,
        seed: int = 0,
        keep_states: bool = False,
    ) -> None:
        self.osc = osc
        self.y = y
        self.z = z
        self.keep_states = keep_states
        self._rng = np.random.default_rng(seed)
        self._count = 0

    def step(self, seq: int, *, dt: float | None = None) -> events.StepApplied:
        u = self._input(self._count % 3)
        self._count += 1
        osc = self.osc if dt is None else self.osc.with_params(dt=dt)
        before = osc.energy(self.y, self.z)
        self.y, self.z = osc.step(self.y, self.z, u)
        after = osc.energy(self.y, self.z)
        return events.StepApplied(
            seq,
            u,
            dt,
            codec.state_digest(self.y, self.z),
            before,
            after,
            after - before,
            self.y if self.keep_states else None,
            self.z if self.keep_states else None,
        )

    def _input(self, form: int) -> float | np.ndarray | None:
        B = self.osc.B
        if form == 2:
            return None
        if B is not None and B.ndim == 2:
            return self._rng.standard_normal(B.shape[1])
        if form == 0 or B is not None:
            return float(self._rng.standard_normal())
        return self._rng.standard_normal(self.osc.size)

    def steps(
        self, start: int, count: int | None = None
    ) -> Iterator[events.StepApplied]:
        seq = start
        while count is None or seq < start + count:
            yield self.step(seq)
            seq += 1

    def state_written(
        self, seq: int, y: np.ndarray, z: np.ndarray
    ) -> events.StateWritten:
        self.y, self.z = y, z
        return events.StateWritten(
            seq, y, z, codec.state_digest(y, z), self.osc.energy(y, z)
        )

    def checkpoint(self, seq: int) -> events.CheckpointTaken:
        return events.CheckpointTaken(
            seq,
            events.spec_of(self.osc),
            self.y,
            self.z,
            codec.state_digest(self.y, self.z),
            self.osc.energy(self.y, self.z),
        )

    def params_changed(self, seq: int, osc: Oscillator) -> events.ParamsChanged:
        self.osc = osc
        return events.ParamsChanged(seq, events.spec_of(osc))


def mixed_events(
    osc: Oscillator, y0: np.ndarray, z0: np.ndarray, *, steps: int = 4, seed: int = 0
) -> list[events.Event]:
    """Steps with every event kind between them, each kind at least once.

    Includes steps with full states and a per-step ``dt``, new parameters with
    an input matrix, an external state write with extreme values, a checkpoint.
    """
    stepper = RunBuilder(osc, y0, z0, seed=seed)
    records: list[events.Event] = list(stepper.steps(0, steps))
    records.append(stepper.step(len(records), dt=0.01))
    stepper.keep_states = True
    records.append(stepper.step(len(records)))
    stepper.keep_states = False
    B = np.linspace(-1.0, 1.0, 2 * osc.size).reshape(osc.size, 2)
    records.append(stepper.params_changed(len(records), osc.with_params(B=B)))
    records.append(stepper.step(len(records)))
    extreme = np.resize(
        np.array([-0.0, 5e-324, 1e150, -1.2345678901234567e-100]), osc.size
    )
    records.append(
        stepper.state_written(len(records), extreme, np.flip(extreme).copy())
    )
    records.append(stepper.params_changed(len(records), osc))
    records.append(stepper.checkpoint(len(records)))
    records.extend(stepper.steps(len(records), steps))
    return records


# -- logs ------------------------------------------------------------------------------


class Log(NamedTuple):
    """A recorded log and what the writer said about it.

    Attributes:
        data: The file's bytes.
        header: The header written.
        events: The records written, the closing record included when closed.
        spans: ``(start, end)`` byte range of each frame; ``spans[0]`` is the header.
        digests: Chain digest after each event (``digests[-1]`` is the run digest).
        genesis: The chain's start.
    """

    data: bytes
    header: events.RunStarted
    events: list[events.Event]
    spans: list[tuple[int, int]]
    digests: list[bytes]
    genesis: bytes

    @property
    def run_digest(self) -> bytes:
        return self.digests[-1] if self.digests else self.genesis

    def event_span(self, seq: int) -> tuple[int, int]:
        return self.spans[seq + 1]


def record(
    head: events.RunStarted, records: Iterable[events.Event], *, close: bool = True
) -> Log:
    """Write a run into memory with ``LogWriter`` and describe the result."""
    stream = io.BytesIO()
    writer = logfile.LogWriter(stream, head)
    written = list(records)
    digests = [writer.write(event) for event in written]
    if close:
        written.append(
            events.RunClosed(writer.seq, writer.seq, writer.digest, writer.tree_root)
        )
    writer.close(clean=close)
    if close:
        digests.append(writer.digest)
    data = stream.getvalue()
    genesis = codec.genesis_digest(head.spec, head.y0, head.z0)
    return Log(data, head, written, frame_spans(data), digests, genesis)


def small_log(
    steps: int = 4,
    *,
    seed: int = 0,
    close: bool = True,
    mixed: bool = True,
    size: int = P,
) -> Log:
    """A short run of a P-oscillator bank, with every event kind when ``mixed``."""
    osc = bank(size, seed=seed)
    y0, z0 = initial_state(size, seed=seed)
    if mixed:
        records = mixed_events(osc, y0, z0, steps=steps, seed=seed)
    else:
        records = list(RunBuilder(osc, y0, z0, seed=seed).steps(0, steps))
    return record(header(osc, y0, z0), records, close=close)


def frame_spans(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the frames of an intact log, from the documented layout."""
    spans = []
    offset = MAGIC_SIZE
    while offset < len(data):
        (length,) = struct.unpack_from("<I", data, offset)
        end = offset + FRAME_OVERHEAD + length
        spans.append((offset, end))
        offset = end
    assert offset == len(data), "the log ends inside a frame"
    return spans


def body_of(data: bytes, span: tuple[int, int]) -> bytes:
    start, end = span
    return data[start + FRAME_HEAD + PREV_SIZE : end - CHECKSUM_SIZE]


def prev_of(data: bytes, span: tuple[int, int]) -> bytes:
    start, _ = span
    return data[start + FRAME_HEAD : start + FRAME_HEAD + PREV_SIZE]


def read_all(
    source: Any, **kwargs: Any
) -> tuple[logfile.LogReader, list[events.Event]]:
    """Every event of a log, with the reader (its ``digest`` is the run digest)."""
    with logfile.LogReader(source, **kwargs) as reader:
        return reader, list(reader)


def write_file(path: os.PathLike[str] | str, log: Log) -> Path:
    path = Path(path)
    path.write_bytes(log.data)
    return path


# -- comparing records -----------------------------------------------------------------


def _same(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray), f"{where}: {type(actual).__name__}"
        assert actual.dtype == np.float64, f"{where}: dtype {actual.dtype}"
        assert actual.shape == expected.shape, f"{where}: {actual.shape}"
        assert actual.tobytes() == expected.astype("<f8").tobytes(), where
    elif isinstance(expected, float):
        assert type(actual) is float, f"{where}: {type(actual).__name__}"
        assert struct.pack("<d", actual) == struct.pack("<d", expected), (
            f"{where}: {actual!r} != {expected!r}"
        )
    elif isinstance(expected, tuple) and not isinstance(expected, str):
        assert type(actual) is type(expected), f"{where}: {type(actual).__name__}"
        assert len(actual) == len(expected), where
        for name, a, e in zip(
            getattr(expected, "_fields", range(len(expected))),
            actual,
            expected,
            strict=True,
        ):
            _same(a, e, f"{where}.{name}")
    else:
        assert type(actual) is type(expected), f"{where}: {type(actual).__name__}"
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def assert_same_event(actual: Any, expected: Any) -> None:
    """Same record type, same fields; arrays and floats compared bit for bit."""
    _same(actual, expected, type(expected).__name__)


def assert_same_events(actual: list[Any], expected: list[Any]) -> None:
    assert len(actual) == len(expected), (len(actual), len(expected))
    for a, e in zip(actual, expected, strict=True):
        assert_same_event(a, e)


# -- a writer in another process -------------------------------------------------------


def python(
    code: str, *args: str, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a child interpreter that can import this module."""
    return subprocess.run(
        [sys.executable, "-c", child_code(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def child_code(code: str) -> str:
    return f"import sys; sys.path.insert(0, {str(TESTS_DIR)!r})\n{code}"


def write_until_killed(path: str, every: int, limit: int = 1_000_000) -> None:
    """Record a deterministic run, reporting on stdout how many events are synced.

    The events are ``killed_run_events``; each ``synced N`` line says events
    ``0 .. N-1`` reached the file and were fsynced.
    """
    osc = bank(seed=7)
    y0, z0 = initial_state(seed=7)
    stepper = RunBuilder(osc, y0, z0, seed=7)
    writer = logfile.LogWriter.create(
        path, header(osc, y0, z0), sync=logfile.SyncPolicy.every(every)
    )
    print("started", flush=True)
    for event in stepper.steps(0, limit):
        writer.write(event)
        if writer.seq % every == 0:
            print(f"synced {writer.seq}", flush=True)
    writer.close()


def killed_run_events(count: int) -> list[events.Event]:
    """The first ``count`` events ``write_until_killed`` writes."""
    osc = bank(seed=7)
    y0, z0 = initial_state(seed=7)
    return list(RunBuilder(osc, y0, z0, seed=7).steps(0, count))


# -- strategies for event records ------------------------------------------------------

# Boundaries of msgpack's integer forms: fixint, uint8, uint16, uint32, uint64.
SEQ_BOUNDARIES = (0, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1)

# Finite floats at the edges: signed zeros, subnormals, the extremes.
SPECIAL_FLOATS = (
    0.0,
    -0.0,
    5e-324,
    -5e-324,
    2.2250738585072009e-308,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    1.0 / 3.0,
)

finite_floats = st.one_of(
    st.sampled_from(SPECIAL_FLOATS),
    st.floats(allow_nan=False, allow_infinity=False),
)
seqs = st.one_of(st.sampled_from(SEQ_BOUNDARIES), st.integers(0, 2**64 - 1))
digests = st.binary(min_size=16, max_size=16)
tree_roots = st.none() | st.binary(min_size=32, max_size=32)


def float_arrays(shape: Any) -> st.SearchStrategy[np.ndarray]:
    """Float64 arrays of ``shape`` with any finite values."""
    return hnp.arrays(np.float64, shape, elements=finite_floats)


def values(size: int) -> st.SearchStrategy[float | np.ndarray | None]:
    """What a step's ``u`` or ``dt`` holds: nothing, a float or an array."""
    return st.one_of(st.none(), finite_floats, float_arrays(size))


@st.composite
def specs(draw: st.DrawFn, size: int) -> events.RunSpec:
    """Any ``RunSpec`` the codec can hold (the codec does not validate physics)."""
    columns = draw(st.integers(1, 3))
    return events.RunSpec(
        draw(st.sampled_from(tuple(Scheme))),
        draw(float_arrays(size)),
        draw(st.none() | float_arrays(size)),
        draw(finite_floats | float_arrays(size)),
        draw(st.none() | float_arrays(size) | float_arrays((size, columns))),
        draw(st.booleans()),
    )


@st.composite
def states(draw: st.DrawFn, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(y, z)`` of shape (P,) or (N, P)."""
    shape = draw(st.sampled_from([(size,), (2, size)]))
    return draw(float_arrays(shape)), draw(float_arrays(shape))


@st.composite
def step_records(draw: st.DrawFn, size: int | None = None) -> events.StepApplied:
    size = draw(st.integers(1, 6)) if size is None else size
    y, z = draw(states(size))
    keep = draw(st.booleans())
    return events.StepApplied(
        draw(seqs),
        draw(values(size)),
        draw(values(size)),
        draw(digests),
        draw(finite_floats),
        draw(finite_floats),
        draw(finite_floats),
        y if keep else None,
        z if keep else None,
    )


@st.composite
def event_records(draw: st.DrawFn) -> events.Event:
    """One record of any kind."""
    size = draw(st.integers(1, 6))
    kind = draw(st.sampled_from(list(events.EventKind)[1:]))
    if kind is events.EventKind.STEP_APPLIED:
        return draw(step_records(size))
    seq = draw(seqs)
    if kind is events.EventKind.PARAMS_CHANGED:
        return events.ParamsChanged(seq, draw(specs(size)))
    if kind is events.EventKind.RUN_CLOSED:
        return events.RunClosed(seq, draw(seqs), draw(digests), draw(tree_roots))
    y, z = draw(states(size))
    digest, energy = draw(digests), draw(finite_floats)
    if kind is events.EventKind.STATE_WRITTEN:
        return events.StateWritten(seq, y, z, digest, energy)
    return events.CheckpointTaken(seq, draw(specs(size)), y, z, digest, energy)


@st.composite
def headers(draw: st.DrawFn) -> events.RunStarted:
    size = draw(st.integers(1, 6))
    keys = st.text(min_size=1, max_size=8)
    extra = draw(st.dictionaries(keys, st.text(max_size=8) | finite_floats, max_size=4))
    return events.RunStarted(
        codec.SCHEMA_VERSION,
        draw(st.text(max_size=12)),
        codec.HASH_ALGORITHMS,
        draw(specs(size)),
        draw(float_arrays(size)),
        draw(float_arrays(size)),
        {**extra, **_environment.fingerprint()},
    )


def record_noise(
    path: Path,
    *,
    size: int = 4,
    steps: int = 300,
    seed: int = 0,
    checkpoint_every: int = 100,
) -> Path:
    """A log file of a damped bank of ``size`` oscillators driven by seeded noise."""
    osc = bank(size, seed=seed)
    y0, z0 = initial_state(size, seed=seed)
    U = np.random.default_rng(seed).standard_normal((steps, size))
    with Recorder(path, osc, y0, z0, checkpoint_every=checkpoint_every) as recorder:
        for u in U:
            recorder.step(u)
    return path


def flip_middle_body(source: Path, out: Path) -> Path:
    """A copy of ``source`` with one byte flipped inside its middle frame's body."""
    data = bytearray(source.read_bytes())
    spans = frame_spans(bytes(data))
    begin, end = spans[len(spans) // 2]
    body = (begin + FRAME_HEAD + PREV_SIZE, end - CHECKSUM_SIZE)
    data[sum(body) // 2] ^= 1
    out.write_bytes(bytes(data))
    return out
