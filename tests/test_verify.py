"""``verify``, ``state_at``, ``checkpoints``, ``trajectory``, ``diff`` and ``summarize``.

Logs are recorded with ``Recorder``; damaged ones are rebuilt with ``LogWriter``
from the records ``LogReader`` returns, one field changed, so every frame
checksum and chain digest is valid and only the replay can find the change.
Expected byte offsets come from the frame layout documented in ``logfile``,
parsed by ``logs.frame_spans``.
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Callable
from typing import Any, NamedTuple

import logs
import numpy as np
import pytest
from strategies import assert_same_bytes

from linoss_dynamics import (
    FailureCode,
    InvalidValueError,
    LogCorruptError,
    LogFormatError,
    LogReader,
    LogWriter,
    Oscillator,
    Recorder,
    Scheme,
    _environment,
    checkpoints,
    diff,
    state_at,
    summarize,
    verify,
)
from linoss_dynamics import codec as codec_module
from linoss_dynamics.events import (
    CheckpointTaken,
    Event,
    ParamsChanged,
    RunClosed,
    StateWritten,
    StepApplied,
    spec_of,
)
from linoss_dynamics.verify import trajectory

verify_module = importlib.import_module("linoss_dynamics.verify")

P = 4


class Run(NamedTuple):
    """A recorded log and what the recorder returned while writing it.

    Attributes:
        data: The log's bytes.
        osc: The bank it started with.
        initial: ``(y0, z0)``.
        states: ``(y, z)`` after each event, by seq (the closing record included).
        kinds: The event type of each seq.
        run_digest: ``Recorder.run_digest`` after closing.
    """

    data: bytes
    osc: Oscillator
    initial: tuple[np.ndarray, np.ndarray]
    states: list[tuple[np.ndarray, np.ndarray]]
    kinds: list[type]
    run_digest: bytes

    @property
    def checkpoint_seqs(self) -> list[int]:
        return [s for s, kind in enumerate(self.kinds) if kind is CheckpointTaken]

    @property
    def step_seqs(self) -> list[int]:
        return [s for s, kind in enumerate(self.kinds) if kind is StepApplied]


def record_run(
    *,
    steps: int = 12,
    every: int = 4,
    full_state: bool = False,
    close: bool = True,
    seed: int = 0,
    scheme: Scheme = Scheme.DAMPED_IMEX1,
    inputs: np.ndarray | None = None,
    retune: dict[str, Any] | None = None,
) -> Run:
    """Steps with a parameter change and a state write in the middle of the run."""
    osc = logs.bank(P, scheme=scheme, seed=seed)
    y0, z0 = logs.initial_state(P, seed=seed)
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((steps, P)) if inputs is None else inputs
    buffer = io.BytesIO()
    states: list[tuple[np.ndarray, np.ndarray]] = []
    kinds: list[type] = []
    recorder = Recorder(
        buffer, osc, y0, z0, checkpoint_every=every, full_state=full_state
    )

    for t, u in enumerate(U):
        before = recorder.seq
        out = recorder.step(u)
        states.append((out.y, out.z))
        kinds.append(StepApplied)
        if recorder.seq > before + 1:  # the automatic checkpoint after it
            states.append((out.y, out.z))
            kinds.append(CheckpointTaken)
        if t == steps // 2:
            recorder.set_params(**(retune or {"dt": 0.04}))
            states.append((recorder.y, recorder.z))
            kinds.append(ParamsChanged)
        if t == steps // 2 + 2:
            recorder.write_state(out.y * 0.5, -out.z)
            states.append((recorder.y, recorder.z))
            kinds.append(StateWritten)
    if close:
        recorder.close()
        states.append((recorder.y, recorder.z))
        kinds.append(RunClosed)
    else:
        recorder.sync()  # frames reach the stream on sync or close
    assert len(states) == recorder.seq
    return Run(buffer.getvalue(), osc, (y0, z0), states, kinds, recorder.run_digest)


def rewrite(data: bytes, change: Callable[[Event], Event]) -> bytes:
    """The log rebuilt with ``change`` applied to each record, the chain made valid."""
    with LogReader(data) as reader:
        header = reader.header
        records = list(reader)
    out = io.BytesIO()
    writer = LogWriter(out, header)
    for record in records:
        if type(record) is RunClosed:
            record = RunClosed(writer.seq, writer.seq, writer.digest, writer.tree_root)
        writer.write(change(record))
    writer.close(clean=False)
    return out.getvalue()


def at(seq: int, replace: Callable[[Any], Any]) -> Callable[[Event], Event]:
    """A change for ``rewrite`` that replaces the record numbered ``seq``."""
    return lambda record: replace(record) if record.seq == seq else record


def one_ulp_up(x: float) -> float:
    return float(np.nextafter(x, np.inf))


def with_element(array: np.ndarray, index: int, value: float) -> np.ndarray:
    changed = array.copy()
    changed[index] = value
    return changed


def frame_offset(data: bytes, seq: int) -> int:
    return logs.frame_spans(data)[seq + 1][0]


def chain_digests(data: bytes) -> list[bytes]:
    with LogReader(data) as reader:
        digests = []
        for _ in reader:
            digests.append(reader.digest)
    return digests


@pytest.fixture(scope="module")
def run() -> Run:
    return record_run()


# -- verify on good logs -----------------------------------------------------------------


class TestVerifyIntactLogs:
    def test_counts_and_run_digest(self, run):
        report = verify(run.data)

        assert report.ok
        assert report.failure is None
        assert report.events_verified == len(run.kinds)
        assert report.first_seq == 0
        assert report.last_seq == len(run.kinds) - 1
        assert report.closed
        assert report.run_digest == run.run_digest.hex()
        assert report.path is None

    def test_run_has_every_event_kind(self, run):
        kinds = set(run.kinds)

        assert kinds == {
            StepApplied,
            ParamsChanged,
            StateWritten,
            CheckpointTaken,
            RunClosed,
        }

    def test_sources(self, run, tmp_path):
        path = tmp_path / "run.log"
        path.write_bytes(run.data)

        reports = [
            verify(run.data),
            verify(io.BytesIO(run.data)),
            verify(path),
            verify(str(path)),
        ]

        assert {r.run_digest for r in reports} == {run.run_digest.hex()}
        assert all(r.ok for r in reports)
        assert [r.path for r in reports] == [None, None, str(path), str(path)]

    @pytest.mark.parametrize("scheme", list(Scheme)[:5])
    @pytest.mark.parametrize("full_state", [False, True])
    def test_every_scheme(self, scheme, full_state):
        recorded = record_run(scheme=scheme, full_state=full_state, seed=3)

        report = verify(recorded.data)

        assert report.ok, report.failure
        assert report.run_digest == recorded.run_digest.hex()

    def test_unclosed_log(self):
        recorded = record_run(close=False)

        report = verify(recorded.data)

        assert report.ok
        assert report.closed is False
        assert report.events_verified == len(recorded.kinds)
        assert report.run_digest == recorded.run_digest.hex()

    def test_log_with_only_a_header(self):
        buffer = io.BytesIO()
        recorder = Recorder(buffer, logs.bank(P), *logs.initial_state(P))
        recorder.sync()

        report = verify(buffer.getvalue())

        assert report.ok
        assert (report.events_verified, report.last_seq) == (0, None)
        assert report.run_digest == recorder.run_digest.hex()


class TestVerifyRanges:
    def test_from_a_checkpoint(self, run):
        first = run.checkpoint_seqs[1]

        report = verify(run.data, from_seq=first)

        assert report.ok, report.failure
        assert report.first_seq == first
        assert report.events_verified == len(run.kinds) - first
        assert report.run_digest == run.run_digest.hex()
        assert report.closed

    def test_from_zero_is_the_whole_log(self, run):
        report = verify(run.data, from_seq=0)

        assert report == verify(run.data)

    @pytest.mark.parametrize("to_seq", [0, 5, 9])
    def test_to_seq(self, run, to_seq):
        report = verify(run.data, to_seq=to_seq)

        assert report.ok
        assert report.events_verified == to_seq + 1
        assert report.last_seq == to_seq
        assert report.run_digest == chain_digests(run.data)[to_seq].hex()
        assert report.closed is False

    def test_to_seq_beyond_the_end_verifies_everything(self, run):
        report = verify(run.data, to_seq=10_000)

        assert report == verify(run.data)

    def test_from_and_to(self, run):
        first = run.checkpoint_seqs[0]

        report = verify(run.data, from_seq=first, to_seq=first + 3)

        assert report.ok
        assert (report.first_seq, report.last_seq) == (first, first + 3)
        assert report.events_verified == 4
        assert report.run_digest == chain_digests(run.data)[first + 3].hex()

    def test_from_a_checkpoint_of_a_stream(self, run):
        first = run.checkpoint_seqs[0]

        report = verify(io.BytesIO(run.data), from_seq=first)

        assert report.ok, report.failure
        assert report.events_verified == len(run.kinds) - first

    def test_from_seq_must_be_a_checkpoint(self, run):
        not_a_checkpoint = run.checkpoint_seqs[0] + 1
        shown = str(run.checkpoint_seqs[:5])

        with pytest.raises(InvalidValueError) as caught:
            verify(run.data, from_seq=not_a_checkpoint)

        assert str(caught.value) == (
            f"from_seq must be 0 or the seq of a checkpoint; got {not_a_checkpoint} "
            f"(checkpoints at {shown})"
        )
        assert caught.value.argument == "from_seq"

    def test_to_seq_before_from_seq(self, run):
        first = run.checkpoint_seqs[1]

        with pytest.raises(
            InvalidValueError,
            match=f"to_seq must be >= from_seq; got from {first} to {first - 1}",
        ):
            verify(run.data, from_seq=first, to_seq=first - 1)

    def test_from_a_checkpoint_skips_damage_before_it(self, run):
        first = run.checkpoint_seqs[1]
        damaged = rewrite(
            run.data,
            at(1, lambda r: r._replace(energy_after=one_ulp_up(r.energy_after))),
        )

        whole = verify(damaged)
        tail = verify(damaged, from_seq=first)

        assert not whole.ok
        assert whole.failure.seq == 1
        assert tail.ok, tail.failure


class TestProgress:
    def test_called_with_the_count_at_the_end(self, run):
        calls = []

        verify(run.data, progress=calls.append)

        assert calls == [len(run.kinds)]

    def test_called_every_so_often(self, run, monkeypatch):
        monkeypatch.setattr(verify_module, "PROGRESS_EVERY", 5)
        calls = []

        verify(run.data, progress=calls.append)

        total = len(run.kinds)
        assert calls == [*range(5, total + 1, 5), total]


class TestVerifySources:
    def test_missing_file(self, tmp_path):
        path = tmp_path / "missing.log"

        with pytest.raises(LogFormatError, match=f"cannot open {path}"):
            verify(path)

    @pytest.mark.parametrize(
        "data", [b"", b"not a log at all", b"\x89LINO", b'{"kind": "run_started"}']
    )
    def test_not_a_log(self, data):
        with pytest.raises(
            LogFormatError,
            match="input is not a linoss run log",
        ) as caught:
            verify(data)

        assert (caught.value.seq, caught.value.offset) == (-1, 0)

    def test_not_a_log_file_names_it(self, tmp_path):
        path = tmp_path / "notes.txt"
        path.write_text("hello")

        with pytest.raises(LogFormatError, match=f"{path} is not a linoss run log"):
            verify(path)

    def test_unknown_format_version_is_a_failure_of_the_header(self, run):
        data = run.data[:7] + bytes([9]) + run.data[8:]

        report = verify(data)

        assert not report.ok
        assert report.failure.code is FailureCode.UNSUPPORTED_VERSION
        assert report.failure.seq == -1
        assert "written in log format version 9" in report.failure.message


# -- verify finds a changed value --------------------------------------------------------


class TestDivergence:
    @pytest.mark.parametrize("field", ["energy_before", "energy_after", "delta_energy"])
    def test_energy_one_ulp_off(self, run, field):
        seq = run.step_seqs[6]
        with LogReader(run.data) as reader:
            recorded = getattr(list(reader)[seq], field)
        changed = one_ulp_up(recorded)
        damaged = rewrite(run.data, at(seq, lambda r: r._replace(**{field: changed})))

        report = verify(damaged)

        failure = report.failure
        assert not report.ok
        assert report.run_digest is None
        assert failure.code is FailureCode.ENERGY_DIVERGED
        assert failure.seq == seq
        assert failure.offset == frame_offset(damaged, seq)
        assert failure.field == field
        assert failure.mismatch.field == field
        assert failure.mismatch.index is None
        assert failure.mismatch.expected == changed.hex()
        assert failure.mismatch.actual == recorded.hex()
        assert failure.mismatch.ulps == 1
        assert report.events_verified == seq

    def test_state_digest(self, run):
        seq = run.step_seqs[3]
        wrong = bytes(16)
        true = codec_module.state_digest(*run.states[seq])
        damaged = rewrite(run.data, at(seq, lambda r: r._replace(state_digest=wrong)))

        failure = verify(damaged).failure

        assert failure.code is FailureCode.STATE_DIVERGED
        assert failure.seq == seq
        assert failure.field == "state"
        assert failure.expected_digest == wrong.hex()
        assert failure.actual_digest == true.hex()
        assert failure.mismatch is None
        assert f"event seq {seq}: the replayed state differs" in failure.message

    @pytest.mark.parametrize(("name", "index", "ulps"), [("y", 2, 1), ("z", 0, 3)])
    def test_one_element_of_a_full_state(self, name, index, ulps):
        recorded = record_run(full_state=True, seed=4)
        seq = recorded.step_seqs[5]
        true = recorded.states[seq][0 if name == "y" else 1]
        changed = float(true[index])
        for _ in range(ulps):
            changed = one_ulp_up(changed)
        damaged = rewrite(
            recorded.data,
            at(
                seq,
                lambda r: r._replace(
                    **{name: with_element(getattr(r, name), index, changed)}
                ),
            ),
        )

        failure = verify(damaged).failure

        assert failure.code is FailureCode.STATE_DIVERGED
        assert failure.seq == seq
        assert failure.field == name
        assert failure.mismatch.field == name
        assert failure.mismatch.index == index
        assert failure.mismatch.expected == changed.hex()
        assert failure.mismatch.actual == float(true[index]).hex()
        assert failure.mismatch.ulps == ulps
        # The digest was left alone: the state itself is what differs.
        assert failure.expected_digest == failure.actual_digest

    @pytest.mark.parametrize(("name", "index"), [("y", 1), ("z", 3)])
    def test_one_element_of_a_checkpoint(self, run, name, index):
        seq = run.checkpoint_seqs[1]
        true = run.states[seq][0 if name == "y" else 1]
        changed = -float(true[index])
        damaged = rewrite(
            run.data,
            at(
                seq,
                lambda r: r._replace(
                    **{name: with_element(getattr(r, name), index, changed)}
                ),
            ),
        )

        failure = verify(damaged).failure

        assert failure.code is FailureCode.STATE_DIVERGED
        assert failure.seq == seq
        assert failure.field == name
        assert failure.mismatch.index == index
        assert failure.mismatch.expected == changed.hex()
        assert failure.mismatch.actual == float(true[index]).hex()

    def test_checkpoint_energy(self, run):
        seq = run.checkpoint_seqs[0]
        damaged = rewrite(
            run.data, at(seq, lambda r: r._replace(energy=one_ulp_up(r.energy)))
        )

        failure = verify(damaged).failure

        assert failure.code is FailureCode.ENERGY_DIVERGED
        assert (failure.seq, failure.field, failure.mismatch.ulps) == (seq, "energy", 1)

    def test_checkpoint_parameters(self, run):
        seq = run.checkpoint_seqs[0]
        other = spec_of(run.osc.with_params(dt=0.06))
        damaged = rewrite(run.data, at(seq, lambda r: r._replace(spec=other)))

        failure = verify(damaged).failure

        assert failure.code is FailureCode.STATE_DIVERGED
        assert (failure.seq, failure.field) == (seq, "spec")
        assert "checkpoint parameters differ from those in effect" in failure.message

    def test_written_state_energy(self, run):
        seq = run.kinds.index(StateWritten)
        damaged = rewrite(
            run.data, at(seq, lambda r: r._replace(energy=one_ulp_up(r.energy)))
        )

        failure = verify(damaged).failure

        assert failure.code is FailureCode.ENERGY_DIVERGED
        assert (failure.seq, failure.field) == (seq, "energy")

    def test_written_state_that_is_not_its_digest(self, run):
        seq = run.kinds.index(StateWritten)
        damaged = rewrite(run.data, at(seq, lambda r: r._replace(y=r.y + 1.0)))

        failure = verify(damaged).failure

        assert failure.code is FailureCode.STATE_DIVERGED
        assert (failure.seq, failure.field) == (seq, "state")

    def test_changed_parameters_diverge_at_the_next_step(self, run):
        seq = run.kinds.index(ParamsChanged)
        other = spec_of(run.osc.with_params(dt=0.03))
        damaged = rewrite(run.data, at(seq, lambda r: r._replace(spec=other)))

        failure = verify(damaged).failure

        assert failure.code is FailureCode.STATE_DIVERGED
        assert failure.seq == seq + 1

    def test_invalid_recorded_parameters(self, run):
        seq = run.kinds.index(ParamsChanged)
        negative = spec_of(run.osc)._replace(A=-np.ones(P))
        damaged = rewrite(run.data, at(seq, lambda r: r._replace(spec=negative)))

        failure = verify(damaged).failure

        assert failure.code is FailureCode.STATE_DIVERGED
        assert (failure.seq, failure.field) == (seq, "spec")
        assert "recorded parameters are not valid" in failure.message

    def test_changed_input(self, run):
        seq = run.step_seqs[2]
        damaged = rewrite(
            run.data,
            at(seq, lambda r: r._replace(u=with_element(r.u, 1, r.u[1] + 1.0))),
        )

        failure = verify(damaged).failure

        assert failure.code is FailureCode.STATE_DIVERGED
        assert (failure.seq, failure.field) == (seq, "state")

    def test_closing_record_with_the_wrong_count(self, run):
        last = len(run.kinds) - 1
        damaged = rewrite(run.data, at(last, lambda r: r._replace(events=r.events + 1)))

        report = verify(damaged)

        failure = report.failure
        assert failure.code is FailureCode.CHAIN_BROKEN
        assert (failure.seq, failure.field) == (last, "run_digest")
        assert f"claims {last + 1} events" in failure.message
        assert report.events_verified == last

    def test_closing_record_with_the_wrong_digest(self, run):
        last = len(run.kinds) - 1
        wrong = b"\x01" * 16
        before_close = chain_digests(run.data)[last - 1]
        damaged = rewrite(run.data, at(last, lambda r: r._replace(run_digest=wrong)))

        failure = verify(damaged).failure

        assert failure.code is FailureCode.CHAIN_BROKEN
        assert failure.seq == last
        assert failure.expected_digest == wrong.hex()
        assert failure.actual_digest == before_close.hex()

    def test_rewrite_without_a_change_verifies(self, run):
        same = rewrite(run.data, lambda record: record)

        report = verify(same)

        assert report.ok
        assert report.run_digest == run.run_digest.hex()


# -- state_at, checkpoints, trajectory ---------------------------------------------------


class TestStateAt:
    def test_every_seq(self, run):
        for seq, (y, z) in enumerate(run.states):
            got_y, got_z = state_at(run.data, seq)

            assert_same_bytes(got_y, y)
            assert_same_bytes(got_z, z)

    def test_initial_state(self, run):
        y, z = state_at(run.data, -1)

        assert_same_bytes(y, run.initial[0])
        assert_same_bytes(z, run.initial[1])

    def test_stream_source(self, run):
        seq = run.checkpoint_seqs[1] + 2

        y, _ = state_at(io.BytesIO(run.data), seq)

        assert_same_bytes(y, run.states[seq][0])

    def test_beyond_the_end(self, run):
        last = len(run.kinds) - 1

        with pytest.raises(
            InvalidValueError,
            match=f"seq must name an event of the log; it ends at seq {last}",
        ):
            state_at(run.data, last + 1)

    @pytest.mark.parametrize("seq", [-2, True, 1.0, "3", None])
    def test_seq_must_be_an_integer_from_minus_one(self, run, seq):
        with pytest.raises(
            InvalidValueError, match=f"seq must be an integer >= -1; got {seq!r}"
        ):
            state_at(run.data, seq)

    def test_replays_from_the_nearest_checkpoint(self, run):
        first = run.checkpoint_seqs[0]
        damaged = rewrite(
            run.data,
            at(1, lambda r: r._replace(energy_after=one_ulp_up(r.energy_after))),
        )

        y, _ = state_at(damaged, first + 1)
        with pytest.raises(
            LogCorruptError, match="cannot reconstruct the state at seq 2"
        ) as caught:
            state_at(damaged, 2)

        assert_same_bytes(y, run.states[first + 1][0])
        assert caught.value.seq == 1


class TestCheckpointsAndTrajectory:
    def test_checkpoints_are_seqs_and_frame_offsets(self, run):
        found = checkpoints(run.data)

        assert [seq for seq, _ in found] == run.checkpoint_seqs
        assert [offset for _, offset in found] == [
            frame_offset(run.data, seq) for seq in run.checkpoint_seqs
        ]

    def test_log_without_checkpoints(self):
        recorded = record_run(every=0)

        assert checkpoints(recorded.data) == []

    def test_trajectory(self):
        recorded = record_run(steps=6, every=0)
        energies = [recorded.osc.energy(y, z) for y, z in recorded.states]

        seqs, energy, y = trajectory(recorded.data, oscillators=2)

        assert seqs.tolist() == list(range(len(recorded.kinds)))
        assert y.shape == (len(recorded.kinds), 2)
        assert_same_bytes(y, np.array([s[0][:2] for s in recorded.states]))
        # The parameter change alters dt only, so one A gives every energy.
        assert [e.hex() for e in energy.tolist()] == [e.hex() for e in energies]

    def test_trajectory_of_a_damaged_log(self, run):
        damaged = rewrite(run.data, at(3, lambda r: r._replace(state_digest=bytes(16))))

        with pytest.raises(LogCorruptError, match="cannot replay the log") as caught:
            trajectory(damaged)

        assert caught.value.seq == 3


# -- diff ----------------------------------------------------------------------------------


def recorded_with_fingerprint(monkeypatch, tag: str, **kwargs: Any) -> Run:
    """A run recorded as if on another machine: only the header's fingerprint differs."""
    base = _environment.fingerprint()
    monkeypatch.setattr(
        "linoss_dynamics.recorder.fingerprint",
        lambda: {**base, "platform": f"{base['platform']} ({tag})"},
    )
    return record_run(**kwargs)


class TestDiff:
    def test_same_run_recorded_twice_is_identical(self, monkeypatch):
        a = recorded_with_fingerprint(monkeypatch, "machine a")
        b = recorded_with_fingerprint(monkeypatch, "machine b")

        report = diff(a.data, b.data)

        assert a.data != b.data
        assert report.identical
        assert report.difference is None
        assert report.events_compared == len(a.kinds)
        assert report.a_run_digest == report.b_run_digest == a.run_digest.hex()

    def test_header_library_version_may_differ(self, monkeypatch):
        a = record_run()
        monkeypatch.setattr("linoss_dynamics.recorder.__version__", "9.9.9")
        b = record_run()

        report = diff(a.data, b.data)

        assert summarize(b.data).library_version == "9.9.9"
        assert report.identical

    def test_one_input_element(self):
        U = np.random.default_rng(5).standard_normal((12, P))
        V = U.copy()
        V[7, 2] = one_ulp_up(V[7, 2])
        a, b = record_run(inputs=U), record_run(inputs=V)
        seq = a.step_seqs[7]

        report = diff(a.data, b.data)

        failure = report.difference
        assert not report.identical
        assert report.events_compared == seq
        assert failure.code is FailureCode.INPUT_DIFFERS
        assert (failure.seq, failure.field) == (seq, "u")
        assert failure.mismatch.index == 2
        assert failure.mismatch.expected == float(U[7, 2]).hex()
        assert failure.mismatch.actual == float(V[7, 2]).hex()
        assert failure.mismatch.ulps == 1
        assert failure.offset == frame_offset(a.data, seq)

    def test_a_per_step_dt(self):
        osc = logs.bank(P)
        logs_ = []
        for dt in (None, 0.02):
            buffer = io.BytesIO()
            with Recorder(buffer, osc, *logs.initial_state(P)) as recorder:
                recorder.step(np.ones(P))
                recorder.step(np.ones(P), dt=dt)
            logs_.append(buffer.getvalue())

        failure = diff(*logs_).difference

        assert failure.code is FailureCode.INPUT_DIFFERS
        assert (failure.seq, failure.field) == (1, "dt")

    def test_different_length(self):
        longer = record_run(steps=12, close=False)
        shorter = record_run(steps=12, close=False)
        shorter_data = logs.frame_spans(shorter.data)
        cut = shorter.data[: shorter_data[-3][1]]  # the last two events dropped
        kept = len(shorter.kinds) - 2

        forward = diff(cut, longer.data)
        backward = diff(longer.data, cut)

        for report, longer_name in ((forward, "b"), (backward, "a")):
            assert not report.identical
            assert report.difference.code is FailureCode.LENGTH_DIFFERS
            assert report.difference.seq == kept
            assert report.events_compared == kept
            assert report.difference.message == (
                f"log {longer_name} goes on after {kept} common events"
            )

    def test_closed_logs_of_different_length(self):
        a, b = record_run(steps=12), record_run(steps=13)

        report = diff(a.data, b.data)

        assert report.difference.code is FailureCode.EVENT_DIFFERS
        assert report.difference.field == "kind"
        assert report.difference.seq == len(a.kinds) - 1

    def test_different_parameters(self):
        a = record_run(seed=1)
        b = record_run(seed=1, scheme=Scheme.DAMPED_IMEX2)

        report = diff(a.data, b.data)

        assert report.difference.code is FailureCode.PARAMS_DIFFER
        assert report.difference.seq == -1
        assert report.events_compared == 0

    def test_different_stiffness_names_the_element(self):
        osc = logs.bank(P)
        y0, z0 = logs.initial_state(P)
        other = osc.with_params(A=with_element(osc.A, 3, 2.5))
        data = []
        for bank in (osc, other):
            buffer = io.BytesIO()
            with Recorder(buffer, bank, y0, z0) as recorder:
                recorder.step(np.ones(P))
            data.append(buffer.getvalue())

        failure = diff(*data).difference

        assert failure.code is FailureCode.PARAMS_DIFFER
        assert (failure.seq, failure.field) == (-1, "A")
        assert failure.mismatch.index == 3
        assert failure.mismatch.actual == (2.5).hex()

    def test_different_parameter_change_mid_run(self):
        a = record_run(retune={"dt": 0.04})
        b = record_run(retune={"dt": 0.03})
        seq = a.kinds.index(ParamsChanged)

        failure = diff(a.data, b.data).difference

        assert failure.code is FailureCode.PARAMS_DIFFER
        assert (failure.seq, failure.field) == (seq, "spec")
        assert failure.mismatch.field == "dt"

    def test_different_initial_state(self):
        osc = logs.bank(P)
        y0, z0 = logs.initial_state(P)
        data = []
        for y in (y0, with_element(y0, 1, 0.0)):
            buffer = io.BytesIO()
            Recorder(buffer, osc, y, z0).close()
            data.append(buffer.getvalue())

        failure = diff(*data).difference

        assert failure.code is FailureCode.STATE_DIVERGED
        assert (failure.seq, failure.field) == (-1, "y0")
        assert failure.mismatch.index == 1

    def test_damaged_log(self, run):
        start, _ = logs.frame_spans(run.data)[5]
        data = bytearray(run.data)
        data[start + 30] ^= 0x10

        report = diff(run.data, bytes(data))

        assert not report.identical
        assert report.difference.code is FailureCode.FRAME_CORRUPT
        assert report.difference.seq == 4
        assert report.difference.message.startswith("log b: ")

    def test_files_are_named(self, run, tmp_path):
        a, b = tmp_path / "a.log", tmp_path / "b.log"
        a.write_bytes(run.data)
        b.write_bytes(run.data)

        report = diff(a, b)

        assert report.identical
        assert (report.a, report.b) == (str(a), str(b))

    def test_missing_file(self, run, tmp_path):
        with pytest.raises(LogFormatError, match="cannot open"):
            diff(run.data, tmp_path / "missing.log")


# -- summarize ---------------------------------------------------------------------------


class TestSummarize:
    def test_report(self, run):
        steps = [i for i, kind in enumerate(run.kinds) if kind is StepApplied]
        with LogReader(run.data) as reader:
            header_model = reader.header_model
            records = list(reader)
        energies = [records[i].energy_before for i in steps] + [
            records[i].energy_after for i in steps
        ]

        report = summarize(run.data)

        assert report.events == len(run.kinds)
        assert report.counts == {
            "step_applied": run.kinds.count(StepApplied),
            "params_changed": 1,
            "state_written": 1,
            "checkpoint_taken": run.kinds.count(CheckpointTaken),
            "run_closed": 1,
        }
        assert report.closed
        assert report.run_digest == run.run_digest.hex()
        assert report.final_state_digest == (
            codec_module.state_digest(*run.states[-1]).hex()
        )
        assert report.scheme is Scheme.DAMPED_IMEX1
        assert report.oscillators == P
        assert (report.format_version, report.schema_version) == (1, 2)
        assert report.fingerprint == header_model.fingerprint
        assert report.energy.first == records[steps[0]].energy_before
        assert report.energy.last == records[steps[-1]].energy_after
        assert report.energy.min == min(energies)
        assert report.energy.max == max(energies)
        assert report.failure is None

    def test_log_without_events(self):
        buffer = io.BytesIO()
        y0, z0 = logs.initial_state(P)
        Recorder(buffer, logs.bank(P), y0, z0).sync()

        report = summarize(buffer.getvalue())

        assert (report.events, report.counts, report.closed) == (0, {}, False)
        assert report.energy is None
        assert report.final_state_digest == codec_module.state_digest(y0, z0).hex()

    def test_damage_ends_the_summary(self, run):
        spans = logs.frame_spans(run.data)
        cut = run.data[: spans[7][1] - 3]  # inside the frame of event 6

        report = summarize(cut)

        assert report.events == 6
        assert report.failure.code is FailureCode.LOG_TRUNCATED
        assert report.failure.seq == 6
        assert not report.closed

    def test_not_a_log(self):
        with pytest.raises(LogFormatError, match="is not a linoss run log"):
            summarize(b"nothing here")
