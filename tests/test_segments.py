"""Parallel verification of one log (``verify(path, workers=N)``) and ``LogReader.scan``.

Splitting a log at its checkpoints must change nothing but the time: for every
log, intact or damaged, and every range, ``verify(path, workers=2)`` returns the
report model ``verify(path)`` returns, field for field. Logs are recorded with
``Recorder`` (a small bank, a checkpoint every few steps, a parameter change, a
state write, steps with their own ``dt``); Hypothesis damages them three ways:
a flipped bit, a cut tail, and one record changed and rebuilt with a valid chain
so that only the replay can find it.

Where the parallel path has to fall back to a sequential one, the
``SequentialVerifyWarning`` is predicted from the frame layout, parsed
independently by ``logs.frame_spans``: a damaged header or frame length field
cannot be scanned, and a range without a checkpoint strictly inside it cannot
be split. A worker process lost mid-run is simulated by an executor that runs
tasks in this process and fails some of them the way a dead worker does.

Every parallel verification starts a process pool, so the logs are small and
the example counts modest.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, NamedTuple

import logs
import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from linoss_dynamics import (
    InvalidValueError,
    LinOSSError,
    LogFormatError,
    LogReader,
    LogWriter,
    Recorder,
    checkpoints,
    segments,
    verify,
)
from linoss_dynamics.errors import SequentialVerifyWarning
from linoss_dynamics.events import (
    CheckpointTaken,
    Event,
    EventKind,
    ParamsChanged,
    RunClosed,
    StateWritten,
    StepApplied,
    VerificationReport,
)

P = 4
CHECKPOINT = int(EventKind.CHECKPOINT_TAKEN)
# What ``scan`` reads of each frame: its head, the chain link and the first two
# body bytes (the array header and the event code).
SCANNED_BYTES = logs.FRAME_HEAD + logs.PREV_SIZE + 2

pool_settings = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class Run(NamedTuple):
    """A recorded log: its bytes, frame spans and the event code of each seq."""

    data: bytes
    spans: list[tuple[int, int]]
    codes: list[int]

    @property
    def checkpoint_seqs(self) -> list[int]:
        return [seq for seq, code in enumerate(self.codes) if code == CHECKPOINT]

    @property
    def last_seq(self) -> int:
        return len(self.codes) - 1


def event_codes(data: bytes) -> list[int]:
    """Each event's code, read from its body with a plain msgpack decoder."""
    return [
        msgpack.unpackb(logs.body_of(data, span), strict_map_key=False)[0]
        for span in logs.frame_spans(data)[1:]
    ]


def run_of(data: bytes) -> Run:
    return Run(data, logs.frame_spans(data), event_codes(data))


def record_run(
    *,
    steps: int = 150,
    every: int = 8,
    size: int = P,
    seed: int = 0,
    close: bool = True,
    full_state: bool = False,
) -> Run:
    """A run with irregular steps, a parameter change and a state write in it."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    recorder = Recorder(
        buffer,
        logs.bank(size, seed=seed),
        *logs.initial_state(size, seed=seed),
        checkpoint_every=every,
        full_state=full_state,
    )
    for t in range(steps):
        dt: float | np.ndarray | None = None
        if t % 7 == 3:
            dt = 0.02
        elif t % 11 == 5:
            dt = rng.uniform(0.01, 0.05, size)
        out = recorder.step(rng.standard_normal(size), dt=dt)
        if t == steps // 3:
            recorder.set_params(dt=0.03)
        if t == steps // 2:
            recorder.write_state(out.y * 0.5, -out.z)
    if close:
        recorder.close()
    else:
        recorder.sync()
    return run_of(buffer.getvalue())


def outcome(source: Any, **options: Any) -> VerificationReport | tuple[type, str]:
    """The report of ``verify``, or the type and message of what it raised."""
    try:
        return verify(source, **options)
    except LinOSSError as exc:
        return type(exc), str(exc)


def in_parallel(source: Any, **options: Any) -> tuple[Any, list[type]]:
    """``outcome`` with two workers, and the categories of the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = outcome(source, workers=2, **options)
    return result, [w.category for w in caught]


def assert_parallel_is_sequential(
    path: Path, *, falls_back: bool, **options: Any
) -> Any:
    """Both verifications agree; a warning comes exactly when one is predicted."""
    sequential = outcome(path, **options)

    parallel, warned = in_parallel(path, **options)

    assert parallel == sequential
    assert warned == ([SequentialVerifyWarning] if falls_back else [])
    return sequential


def observe(result: Any, falls_back: bool) -> None:
    """Label a Hypothesis example by its outcome (shown in its statistics)."""
    if type(result) is not VerificationReport:
        event(f"raises {result[0].__name__}")
    else:
        event("ok" if result.ok else f"fails: {result.failure.code.name}")
    event("falls back" if falls_back else "splits")


def splits(run: Run, from_seq: int | None, to_seq: int | None) -> bool:
    """Whether a checkpoint lies strictly inside the range, so the range can split."""
    first = from_seq or 0
    return any(
        first < seq and (to_seq is None or seq < to_seq) for seq in run.checkpoint_seqs
    )


def write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


# -- rebuilding a log with one record changed --------------------------------------------


def one_ulp_up(x: float) -> float:
    return float(np.nextafter(x, np.inf))


def tamper(record: Event, variant: int) -> Event:
    """One of a few changes that leave the record decodable but untrue."""
    changes: list[Callable[[Any], Event]]
    if type(record) is StepApplied:
        changes = [
            lambda r: r._replace(energy_after=one_ulp_up(r.energy_after)),
            lambda r: r._replace(state_digest=bytes(16)),
            lambda r: r._replace(delta_energy=one_ulp_up(r.delta_energy)),
        ]
    elif type(record) is CheckpointTaken:
        changes = [
            lambda r: r._replace(energy=one_ulp_up(r.energy)),
            lambda r: r._replace(y=r.y + 1.0),
            lambda r: r._replace(state_digest=bytes(16)),
            lambda r: r._replace(spec=r.spec._replace(dt=0.045)),
        ]
    elif type(record) is StateWritten:
        changes = [
            lambda r: r._replace(energy=one_ulp_up(r.energy)),
            lambda r: r._replace(y=r.y + 1.0),
        ]
    elif type(record) is ParamsChanged:
        changes = [lambda r: r._replace(spec=r.spec._replace(dt=0.045))]
    else:
        assert type(record) is RunClosed
        changes = [lambda r: r._replace(events=r.events + 1)]
    return changes[variant % len(changes)](record)


def rebuilt(data: bytes, seq: int, variant: int) -> bytes:
    """The log written again with the record ``seq`` tampered, every frame valid."""
    with LogReader(data) as reader:
        header = reader.header
        records = list(reader)
    out = io.BytesIO()
    writer = LogWriter(out, header)
    for record in records:
        if type(record) is RunClosed:
            record = RunClosed(writer.seq, writer.seq, writer.digest, writer.tree_root)
        writer.write(tamper(record, variant) if record.seq == seq else record)
    writer.close(clean=False)
    return out.getvalue()


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run() -> Run:
    return record_run()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("segments")


@pytest.fixture(scope="module")
def run_path(run: Run, scratch: Path) -> Path:
    return write(scratch, "run.log", run.data)


def test_the_run_is_worth_splitting(run):
    # Enough checkpoints for more stretches than two workers take at once, and
    # every event kind between them.
    assert len(run.checkpoint_seqs) > 2 * segments.TASKS_PER_WORKER
    assert set(run.codes) == {int(kind) for kind in EventKind} - {0}
    assert run.codes[-1] == int(EventKind.RUN_CLOSED)


# -- intact logs ---------------------------------------------------------------------------


class TestIntactLogs:
    @pytest.mark.parametrize(
        "options",
        [
            {},
            {"close": False},
            {"full_state": True, "seed": 2},
            {"every": 5, "steps": 90, "seed": 3},
            {"every": 20, "steps": 70, "seed": 4},
            {"every": 8, "steps": 80, "close": False},
        ],
        ids=[
            "closed",
            "unclosed",
            "full-state",
            "every-5",
            "two-checkpoints",
            "ends-with-a-checkpoint",
        ],
    )
    def test_whole_log(self, scratch, options):
        recorded = record_run(**options)
        path = write(scratch, "whole.log", recorded.data)

        report = assert_parallel_is_sequential(path, falls_back=False)

        assert report.ok, report.failure
        assert report.events_verified == len(recorded.codes)
        assert report.path == str(path)

    def test_checkpoints_back_to_back(self, scratch):
        # A checkpoint before any step, and stretches of one and two events.
        rng = np.random.default_rng(5)
        buffer = io.BytesIO()
        with Recorder(
            buffer, logs.bank(P), *logs.initial_state(P), checkpoint_every=0
        ) as recorder:
            recorder.checkpoint()
            for t in range(30):
                recorder.step(rng.standard_normal(P))
                if t % 3 == 0:
                    recorder.checkpoint()
                    recorder.checkpoint()
        recorded = run_of(buffer.getvalue())
        path = write(scratch, "back-to-back.log", recorded.data)

        report = assert_parallel_is_sequential(path, falls_back=False)
        from_first = assert_parallel_is_sequential(
            path, falls_back=False, from_seq=recorded.checkpoint_seqs[1]
        )

        assert recorded.checkpoint_seqs[:3] == [0, 2, 3]
        assert report.ok, report.failure
        assert from_first.ok, from_first.failure

    @pytest.mark.parametrize("workers", [3, 40])
    def test_more_workers(self, run, run_path, workers):
        sequential = verify(run_path)

        assert verify(run_path, workers=workers) == sequential

    @pytest.mark.parametrize(
        "bounds",
        [
            pytest.param(lambda c, last: (None, c[3]), id="to-a-checkpoint"),
            pytest.param(lambda c, last: (None, c[3] - 1), id="to-just-before-one"),
            pytest.param(lambda c, last: (None, c[3] + 1), id="to-just-after-one"),
            pytest.param(lambda c, last: (None, c[0] + 1), id="past-the-first-only"),
            pytest.param(lambda c, last: (None, last), id="to-the-last-event"),
            pytest.param(lambda c, last: (None, last + 50), id="to-past-the-end"),
            pytest.param(lambda c, last: (0, None), id="from-zero"),
            pytest.param(lambda c, last: (c[2], None), id="from-a-checkpoint"),
            pytest.param(lambda c, last: (c[2], c[6]), id="checkpoint-to-checkpoint"),
            pytest.param(lambda c, last: (c[2], c[3] + 1), id="over-one-boundary"),
            pytest.param(lambda c, last: (c[5], last + 50), id="from-one-past-the-end"),
            pytest.param(lambda c, last: (c[-2], c[-1] + 2), id="near-the-end"),
        ],
    )
    def test_ranges_that_split(self, run, run_path, bounds):
        from_seq, to_seq = bounds(run.checkpoint_seqs, run.last_seq)
        assert splits(run, from_seq, to_seq)

        report = assert_parallel_is_sequential(
            run_path, falls_back=False, from_seq=from_seq, to_seq=to_seq
        )

        assert report.ok, report.failure
        assert report.first_seq == (from_seq or 0)
        assert report.last_seq == min(to_seq or run.last_seq, run.last_seq)

    @pytest.mark.parametrize(
        "bounds",
        [
            pytest.param(lambda c, last: (None, 0), id="the-first-event"),
            pytest.param(lambda c, last: (None, c[0]), id="to-the-first-checkpoint"),
            pytest.param(lambda c, last: (c[2], c[2]), id="one-checkpoint"),
            pytest.param(lambda c, last: (c[2], c[3]), id="one-stretch"),
            pytest.param(lambda c, last: (c[-1], None), id="from-the-last-checkpoint"),
        ],
    )
    def test_ranges_without_a_checkpoint_inside(self, run, run_path, bounds):
        from_seq, to_seq = bounds(run.checkpoint_seqs, run.last_seq)
        assert not splits(run, from_seq, to_seq)

        report = assert_parallel_is_sequential(
            run_path, falls_back=True, from_seq=from_seq, to_seq=to_seq
        )

        assert report.ok, report.failure

    def test_from_seq_must_be_a_checkpoint(self, run, run_path):
        not_a_checkpoint = run.checkpoint_seqs[1] + 1

        with pytest.raises(InvalidValueError, match="from_seq must be 0 or the seq"):
            verify(run_path, workers=2, from_seq=not_a_checkpoint)


# -- damaged logs --------------------------------------------------------------------------


def frame_bits(run: Run, seqs: list[int]) -> st.SearchStrategy[int]:
    """Bit positions inside the frames of the events ``seqs``."""
    return st.sampled_from(seqs).flatmap(
        lambda seq: st.integers(
            8 * run.spans[seq + 1][0], 8 * run.spans[seq + 1][1] - 1
        )
    )


def unscannable_flip(run: Run, byte: int) -> bool:
    """A flip in the magic, the header, or an event's length field."""
    header_end = run.spans[0][1]
    return byte < header_end or any(
        start <= byte < start + logs.FRAME_HEAD for start, _ in run.spans[1:]
    )


def unsplittable_cut(run: Run, size: int) -> bool:
    """Whether a log cut to ``size`` bytes cannot be scanned or has no checkpoint."""
    if size < run.spans[0][1]:
        return True
    starts = [start for start, _ in run.spans[1:] if start < size]
    if starts and size - starts[-1] < SCANNED_BYTES:
        return True
    return not any(
        run.spans[seq + 1][0] + SCANNED_BYTES <= size for seq in run.checkpoint_seqs
    )


class TestDamagedLogs:
    @pool_settings
    @given(data=st.data())
    def test_a_flipped_bit(self, run, scratch, data):
        later = run.checkpoint_seqs[len(run.checkpoint_seqs) // 2 :]
        bit = data.draw(
            st.one_of(
                st.integers(0, 8 * len(run.data) - 1),
                frame_bits(run, run.checkpoint_seqs),
                frame_bits(run, list(range(later[0], run.last_seq + 1))),
            ),
            label="bit",
        )
        damaged = bytearray(run.data)
        damaged[bit // 8] ^= 1 << (bit % 8)
        path = write(scratch, "flipped.log", bytes(damaged))
        falls_back = unscannable_flip(run, bit // 8)

        result = assert_parallel_is_sequential(path, falls_back=falls_back)

        observe(result, falls_back)

    @pool_settings
    @given(data=st.data())
    def test_a_cut_tail(self, run, scratch, data):
        size = data.draw(
            st.one_of(
                st.integers(0, len(run.data) - 1),
                st.sampled_from(run.checkpoint_seqs).flatmap(
                    lambda seq: st.integers(*run.spans[seq + 1])
                ),
            ),
            label="size",
        )
        path = write(scratch, "cut.log", run.data[:size])
        falls_back = unsplittable_cut(run, size)

        result = assert_parallel_is_sequential(path, falls_back=falls_back)

        observe(result, falls_back)

    @pool_settings
    @given(data=st.data())
    def test_a_record_changed_with_a_valid_chain(self, run, scratch, data):
        from_seq = data.draw(
            st.none() | st.sampled_from([0, *run.checkpoint_seqs]), label="from_seq"
        )
        first = from_seq or 0
        length = data.draw(st.none() | st.integers(0, run.last_seq), label="length")
        to_seq = None if length is None else first + length
        end = run.last_seq if to_seq is None else min(to_seq, run.last_seq)
        inside = [seq for seq in run.checkpoint_seqs if first <= seq <= end]
        seq = data.draw(
            st.one_of(
                st.sampled_from(inside or run.checkpoint_seqs),
                st.integers(first, end),
                st.integers(max(first, end - 20), end),
                st.integers(0, run.last_seq),
            ),
            label="seq",
        )
        variant = data.draw(st.integers(0, 3), label="variant")
        path = write(scratch, "changed.log", rebuilt(run.data, seq, variant))
        falls_back = not splits(run, from_seq, to_seq)

        report = assert_parallel_is_sequential(
            path, falls_back=falls_back, from_seq=from_seq, to_seq=to_seq
        )

        observe(report, falls_back)
        if (from_seq or 0) < seq and (to_seq is None or seq < to_seq):
            # Found at the changed record, or for new parameters at the next event.
            assert type(report) is VerificationReport
            assert report.failure is not None
            assert seq <= report.failure.seq <= seq + 1

    @pytest.mark.parametrize("where", ["first", "middle", "last"])
    def test_a_tampered_checkpoint_fails_at_itself(self, run, scratch, where):
        seqs = run.checkpoint_seqs
        seq = {"first": seqs[0], "middle": seqs[len(seqs) // 2], "last": seqs[-1]}
        changed = rebuilt(run.data, seq[where], variant=1)  # y moved, digest kept
        path = write(scratch, "checkpoint.log", changed)

        report = assert_parallel_is_sequential(path, falls_back=False)

        assert report.failure.seq == seq[where]
        assert report.failure.offset == run.spans[seq[where] + 1][0]
        assert report.events_verified == seq[where]

    @pytest.mark.parametrize(
        ("kind", "code"),
        [(EventKind.STEP_APPLIED, CHECKPOINT), (CHECKPOINT, EventKind.STEP_APPLIED)],
        ids=["a-step-read-as-a-checkpoint", "a-checkpoint-read-as-a-step"],
    )
    @pytest.mark.parametrize("where", [0.3, 0.9])
    def test_a_damaged_event_code(self, run, scratch, kind, code, where):
        # Scan trusts the code byte without the checksum, so the split points
        # move; the frame's checksum still fails, wherever the split falls.
        seqs = [seq for seq, c in enumerate(run.codes) if c == kind]
        seq = seqs[int(where * len(seqs))]
        start, _ = run.spans[seq + 1]
        damaged = bytearray(run.data)
        damaged[start + logs.FRAME_HEAD + logs.PREV_SIZE + 1] = code
        path = write(scratch, "code.log", bytes(damaged))

        with LogReader(path) as reader:
            scanned = [c for _, _, c in reader.scan()]
        report = assert_parallel_is_sequential(path, falls_back=False)

        assert scanned[seq] == code
        assert report.failure.seq == seq
        assert report.failure.offset == start


# -- falling back to a sequential verification ---------------------------------------------


class TestFallbacks:
    def test_bytes(self, run):
        with pytest.warns(SequentialVerifyWarning, match="by path; got bytes"):
            report = verify(run.data, workers=2)

        assert report == verify(run.data)

    def test_stream(self, run):
        with pytest.warns(SequentialVerifyWarning, match="by path; got bytes"):
            report = verify(io.BytesIO(run.data), workers=2)

        assert report == verify(io.BytesIO(run.data))

    def test_stream_from_a_checkpoint(self, run):
        first = run.checkpoint_seqs[3]

        with pytest.warns(SequentialVerifyWarning):
            report = verify(io.BytesIO(run.data), workers=2, from_seq=first)

        assert report == verify(io.BytesIO(run.data), from_seq=first)
        assert report.ok

    def test_log_without_checkpoints(self, scratch):
        recorded = record_run(every=0, steps=40)
        path = write(scratch, "plain.log", recorded.data)

        with pytest.warns(SequentialVerifyWarning, match="no checkpoint to split at"):
            report = verify(path, workers=2)

        assert recorded.checkpoint_seqs == []
        assert report == verify(path)
        assert report.ok

    def test_not_a_log(self, scratch):
        path = write(scratch, "other.bin", b"not a run log at all")

        with (
            pytest.warns(SequentialVerifyWarning, match="cannot be split"),
            pytest.raises(LogFormatError) as parallel,
        ):
            verify(path, workers=2)
        with pytest.raises(LogFormatError) as sequential:
            verify(path)

        assert str(parallel.value) == str(sequential.value)

    @pytest.mark.parametrize("workers", [1, None])
    def test_one_worker_or_none_never_warns(self, run, run_path, scratch, workers):
        plain = write(scratch, "plain-1.log", record_run(every=0, steps=10).data)

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            reports = [
                verify(source, workers=workers)
                for source in (run_path, run.data, io.BytesIO(run.data), plain)
            ]

        assert caught == []
        assert reports[0] == verify(run_path)
        assert reports[1] == reports[2] == verify(run.data)
        assert reports[3] == verify(plain)

    @pytest.mark.parametrize("workers", [0, -1, True, False, 2.5, "2"])
    def test_workers_must_be_a_positive_integer(self, run_path, workers):
        with pytest.raises(InvalidValueError) as caught:
            verify(run_path, workers=workers)

        assert caught.value.argument == "workers"
        assert str(caught.value) == (
            f"workers must be a positive integer; got {workers!r}"
        )


# -- a worker process lost -----------------------------------------------------------------


class LosingExecutor:
    """Stands in for ``ProcessPoolExecutor``: runs each task here at once, except
    those whose number ``lost(number, tasks)`` picks, which fail as the tasks of
    a dead worker do."""

    def __init__(self, lost: Callable[[int, int], bool], tasks: int, **_: Any) -> None:
        self.lost = lost
        self.tasks = tasks
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        index = self.submitted
        self.submitted += 1
        future: Future[Any] = Future()
        if self.lost(index, self.tasks):
            future.set_exception(BrokenProcessPool("a worker process died"))
        else:
            future.set_result(fn(*args))
        return future

    def __enter__(self) -> LosingExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


LOSSES = {
    "the-first": lambda i, n: i == 0,
    "the-last": lambda i, n: i == n - 1,
    "every-other": lambda i, n: i % 2 == 1,
    "all": lambda i, n: True,
}


class TestWorkerLost:
    @pytest.fixture
    def losing(self, monkeypatch, run):
        """Patch in a ``LosingExecutor`` for the plan of ``run`` with two workers."""

        def patch(lost: Callable[[int, int], bool]) -> list[LosingExecutor]:
            made: list[LosingExecutor] = []
            tasks = min(2 * segments.TASKS_PER_WORKER, len(run.checkpoint_seqs) + 1)

            def executor(**options: Any) -> LosingExecutor:
                made.append(LosingExecutor(lost, tasks, **options))
                return made[-1]

            monkeypatch.setattr(segments, "ProcessPoolExecutor", executor)
            return made

        return patch

    @pytest.mark.parametrize("lost", LOSSES.values(), ids=LOSSES.keys())
    def test_intact_log(self, run_path, losing, lost):
        made = losing(lost)

        with pytest.warns(SequentialVerifyWarning, match="worker process was lost"):
            report = verify(run_path, workers=2)

        assert made[0].submitted == made[0].tasks
        assert report == verify(run_path)
        assert report.ok

    @pytest.mark.parametrize("lost", LOSSES.values(), ids=LOSSES.keys())
    @pytest.mark.parametrize("where", [0.1, 0.6, 0.95])
    def test_damaged_log(self, run, scratch, losing, lost, where):
        seq = int(where * run.last_seq)
        path = write(scratch, "lost.log", rebuilt(run.data, seq, variant=0))
        losing(lost)

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = verify(path, workers=2)

        assert report == verify(path)
        assert report.failure is not None
        assert report.failure.seq == seq
        # Once the failing stretch and those before it are in, the rest is not
        # waited for, so a loss after them may pass unnoticed.
        assert {w.category for w in caught} <= {SequentialVerifyWarning}
        assert all("worker process was lost" in str(w.message) for w in caught)
        if lost is LOSSES["all"]:
            assert len(caught) == 1

    def test_nothing_lost_gives_no_warning(self, run_path, losing):
        losing(lambda i, n: False)

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = verify(run_path, workers=2)

        assert caught == []
        assert report == verify(run_path)


# -- progress ------------------------------------------------------------------------------


class TestProgress:
    def test_counts_grow_to_the_events_verified(self, run_path):
        calls: list[int] = []

        report = verify(run_path, workers=3, progress=calls.append)

        assert report.ok
        assert len(calls) > 1
        assert calls == sorted(calls)
        assert max(calls) == calls[-1] == report.events_verified

    def test_counts_of_a_range(self, run, run_path):
        calls: list[int] = []
        first, last = run.checkpoint_seqs[1], run.checkpoint_seqs[-3] + 2

        report = verify(
            run_path, workers=3, from_seq=first, to_seq=last, progress=calls.append
        )

        assert report.ok
        assert calls == sorted(calls)
        assert max(calls) == calls[-1] == report.events_verified
        assert report.events_verified == last - first + 1

    def test_counts_when_falling_back(self, run):
        calls: list[int] = []

        with pytest.warns(SequentialVerifyWarning):
            report = verify(run.data, workers=2, progress=calls.append)

        assert calls[-1] == report.events_verified == len(run.codes)


# -- scanning a log larger than one read ---------------------------------------------------


@pytest.fixture(scope="module")
def large(scratch: Path) -> tuple[Run, Path]:
    recorded = record_run(size=64, steps=2500, every=100, seed=9, close=False)
    return recorded, write(scratch, "large.log", recorded.data)


class TestScan:
    def test_the_log_is_larger_than_one_read(self, large):
        recorded, _ = large

        assert len(recorded.data) > 1 << 20

    @pytest.mark.parametrize("form", ["path", "bytes", "stream"])
    def test_every_frame(self, large, form):
        recorded, path = large
        source = {
            "path": path,
            "bytes": recorded.data,
            "stream": io.BytesIO(recorded.data),
        }[form]
        expected = [
            (seq, start, code)
            for seq, ((start, _), code) in enumerate(
                zip(recorded.spans[1:], recorded.codes, strict=True)
            )
        ]

        with LogReader(source) as reader:
            found = list(reader.scan())

        assert found == expected
        assert found[-1][0] == recorded.last_seq

    def test_code_is_the_second_body_byte(self, large):
        recorded, _ = large

        assert [
            logs.body_of(recorded.data, span)[1] for span in recorded.spans[1:]
        ] == recorded.codes

    def test_checkpoints(self, large):
        recorded, path = large
        expected = [
            (seq, recorded.spans[seq + 1][0]) for seq in recorded.checkpoint_seqs
        ]

        assert len(expected) == 2500 // 100
        assert checkpoints(path) == expected
        assert checkpoints(recorded.data) == expected

    def test_parallel_verification(self, large):
        _, path = large

        report = verify(path, workers=2)

        assert report.ok, report.failure
        assert report == verify(path)
