"""``Recorder``: every call returns what the core computes and leaves one event.

The model each test compares against is the core itself, called directly:
``Oscillator.step`` for the state and ``Oscillator.energy`` for the energies.
Recording must not change a single bit of either, whatever the scheme, input
matrix, per-step ``dt``, parameter change or external state write.
"""

from __future__ import annotations

import io
import itertools

import logs
import numpy as np
import pytest
from strategies import assert_same_bytes

from linoss_dynamics import (
    InvalidDtypeError,
    InvalidShapeError,
    InvalidValueError,
    LinOSSError,
    LogError,
    LogReader,
    NonFiniteStateError,
    Oscillator,
    Recorder,
    Scheme,
    UnstableSchemeError,
    checkpoints,
    state_at,
    verify,
)
from linoss_dynamics.events import CheckpointTaken, RunClosed, StepApplied
from linoss_dynamics.merkle import MerkleTree
from linoss_dynamics.recorder import DEFAULT_CHECKPOINT_EVERY

P = 4
DT = 0.05
B_FORMS = ("none", "vector", "matrix")


def make_bank(
    scheme: Scheme = Scheme.DAMPED_IMEX1, B_form: str = "none", *, seed: int = 0
) -> Oscillator:
    """A stable bank of P oscillators for ``scheme`` with an input matrix of ``B_form``."""
    rng = np.random.default_rng(seed)
    A = rng.uniform(0.5, 3.0, P)
    G = rng.uniform(0.1, 0.5, P) if scheme.damped else None
    if scheme is Scheme.DAMPED_EX:
        A = G / DT * 0.5  # EX is stable only while dt A <= G
    B = {
        "none": None,
        "vector": rng.uniform(-1.0, 1.0, P),
        "matrix": rng.uniform(-1.0, 1.0, (P, 3)),
    }[B_form]
    return Oscillator(A, DT, G=G, mode=scheme, B=B)


def make_inputs(osc: Oscillator, count: int, *, seed: int = 0) -> list:
    """``count`` inputs cycling through every form ``step`` accepts for ``osc.B``."""
    rng = np.random.default_rng(seed + 500)
    B = osc.B
    out: list = []
    for t in range(count):
        form = t % 3
        if form == 2:
            out.append(None)
        elif B is not None and B.ndim == 2:
            out.append(rng.standard_normal(B.shape[1]))
        elif B is not None:
            value = float(rng.standard_normal())
            out.append(value if form == 0 else np.float64(value))
        else:
            out.append(
                float(rng.standard_normal()) if form == 0 else rng.standard_normal(P)
            )
    return out


def start(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 1000)
    return rng.standard_normal(P), rng.standard_normal(P)


def same_float(actual: float, expected: float) -> None:
    assert type(actual) is float, type(actual)
    assert actual.hex() == expected.hex(), (actual, expected)


def events_of(data: bytes) -> list:
    with LogReader(data) as reader:
        return list(reader)


# -- what step returns ---------------------------------------------------------------


class TestStep:
    @pytest.mark.parametrize("B_form", B_FORMS)
    @pytest.mark.parametrize("scheme", list(Scheme))
    def test_returns_what_the_core_gives(self, scheme, B_form):
        osc = make_bank(scheme, B_form, seed=3)
        y, z = start(3)
        inputs = make_inputs(osc, 9, seed=3)
        recorder = Recorder(io.BytesIO(), osc, y, z)

        for seq, u in enumerate(inputs):
            out = recorder.step(u)

            energy_before = osc.energy(y, z)
            y, z = osc.step(y, z, u)
            energy_after = osc.energy(y, z)
            assert_same_bytes(out.y, y)
            assert_same_bytes(out.z, z)
            same_float(out.energy_before, energy_before)
            same_float(out.energy_after, energy_after)
            same_float(out.delta_energy, energy_after - energy_before)
            assert out.seq == seq
            same_float(recorder.energy, energy_after)

    @pytest.mark.parametrize("B_form", B_FORMS)
    @pytest.mark.parametrize("scheme", list(Scheme))
    def test_forced_run_has_the_bytes_of_scan(self, scheme, B_form):
        osc = make_bank(scheme, B_form, seed=5)
        y0, z0 = start(5)
        rng = np.random.default_rng(5)
        shape = {"none": (30, P), "vector": (30,), "matrix": (30, 3)}[B_form]
        U = rng.standard_normal(shape)
        recorder = Recorder(io.BytesIO(), osc, y0, z0, checkpoint_every=7)

        outs = [recorder.step(u if u.ndim else float(u)) for u in U]

        Y, Z = osc.scan(U, y0, z0)
        assert_same_bytes(np.array([out.y for out in outs]), Y)
        assert_same_bytes(np.array([out.z for out in outs]), Z)

    @pytest.mark.parametrize("scheme", list(Scheme))
    def test_unforced_run_has_the_bytes_of_scan(self, scheme):
        osc = make_bank(scheme, seed=6)
        y0, z0 = start(6)
        U = np.zeros((30, P))
        recorder = Recorder(io.BytesIO(), osc, y0, z0, checkpoint_every=7)

        outs = [recorder.step(u) for u in U]

        Y, Z = osc.scan(U, y0, z0)
        assert_same_bytes(np.array([out.y for out in outs]), Y)
        assert_same_bytes(np.array([out.z for out in outs]), Z)

    @pytest.mark.parametrize("scheme", list(Scheme))
    def test_no_input_is_the_core_step_without_input(self, scheme):
        osc = make_bank(scheme, seed=7)
        y, z = start(7)
        recorder = Recorder(io.BytesIO(), osc, y, z)

        outs = [recorder.step() for _ in range(10)]

        for out in outs:
            y, z = osc.step(y, z)
            assert_same_bytes(out.y, y)
            assert_same_bytes(out.z, z)

    @pytest.mark.parametrize(
        "dt", [0.03, 0.07, np.array([0.01, 0.02, 0.03, 0.04])], ids=repr
    )
    @pytest.mark.parametrize("scheme", list(Scheme))
    def test_per_step_dt_is_the_core_with_that_dt(self, scheme, dt):
        osc = make_bank(scheme, "vector", seed=8)
        y, z = start(8)
        recorder = Recorder(io.BytesIO(), osc, y, z)
        recorder.step(0.5)
        y, z = osc.step(y, z, 0.5)

        out = recorder.step(-0.25, dt=dt)
        after = recorder.step(0.125)

        y1, z1 = osc.with_params(dt=dt).step(y, z, -0.25)
        assert_same_bytes(out.y, y1)
        assert_same_bytes(out.z, z1)
        same_float(out.energy_after, osc.energy(y1, z1))
        y2, z2 = osc.step(y1, z1, 0.125)  # the step after uses the bank's dt again
        assert_same_bytes(after.y, y2)
        assert_same_bytes(after.z, z2)

    def test_after_set_params_and_write_state(self):
        osc = make_bank(Scheme.DAMPED_IMEX2, "matrix", seed=9)
        y, z = start(9)
        rng = np.random.default_rng(9)
        recorder = Recorder(io.BytesIO(), osc, y, z)
        u0 = rng.standard_normal(3)
        recorder.step(u0)
        y, z = osc.step(y, z, u0)

        retuned = recorder.set_params(G=osc.G * 0.5, dt=0.04)
        u1 = rng.standard_normal(3)
        out1 = recorder.step(u1)
        written_y, written_z = rng.standard_normal(P), rng.standard_normal(P)
        recorder.write_state(written_y, written_z)
        u2 = rng.standard_normal(3)
        out2 = recorder.step(u2)
        recorder.set_params(mode="im")
        u3 = rng.standard_normal(3)
        out3 = recorder.step(u3)

        expected = osc.with_params(G=osc.G * 0.5, dt=0.04)
        assert retuned == expected
        y1, z1 = expected.step(y, z, u1)
        assert_same_bytes(out1.y, y1)
        assert_same_bytes(out1.z, z1)
        same_float(out1.energy_before, expected.energy(y, z))
        same_float(recorder.energy, expected.energy(out3.y, out3.z))
        y2, z2 = expected.step(written_y, written_z, u2)
        assert_same_bytes(out2.y, y2)
        same_float(out2.energy_before, expected.energy(written_y, written_z))
        im = expected.with_params(mode="im")
        assert im.scheme is Scheme.DAMPED_IM
        y3, z3 = im.step(y2, z2, u3)
        assert_same_bytes(out3.y, y3)
        assert_same_bytes(out3.z, z3)
        assert recorder.oscillator == im

    def test_energy_before_is_the_previous_energy_after(self):
        osc = make_bank(seed=10)
        recorder = Recorder(io.BytesIO(), osc, *start(10))
        initial = recorder.energy

        outs = [recorder.step(u) for u in make_inputs(osc, 6, seed=10)]

        same_float(outs[0].energy_before, initial)
        for previous, out in itertools.pairwise(outs):
            same_float(out.energy_before, previous.energy_after)

    def test_returned_arrays_are_read_only(self):
        recorder = Recorder(io.BytesIO(), make_bank(seed=11), *start(11))

        out = recorder.step(np.ones(P))

        for array in (out.y, out.z, recorder.y, recorder.z):
            assert not array.flags.writeable
            with pytest.raises(ValueError, match="read-only"):
                array[0] = 1.0

    def test_caller_arrays_are_copied(self):
        osc = make_bank(seed=12)
        y0, z0 = start(12)
        expected_first = osc.step(y0, z0)
        recorder = Recorder(io.BytesIO(), osc, y0, z0)

        y0[:] = 99.0
        first = recorder.step()
        written_y, written_z = np.ones(P), np.ones(P)
        recorder.write_state(written_y, written_z)
        written_y[:] = 7.0
        second = recorder.step()

        assert_same_bytes(first.y, expected_first[0])
        assert_same_bytes(first.z, expected_first[1])
        assert_same_bytes(second.y, osc.step(np.ones(P), np.ones(P))[0])


class TestNonFiniteSteps:
    @pytest.mark.parametrize(
        ("B_form", "u"),
        [
            ("none", np.array([0.0, np.nan, 0.0, 0.0])),
            ("vector", float("-inf")),
            ("matrix", np.array([1.0, np.inf, 0.0])),
        ],
        ids=["nan-array", "vector-B-inf", "matrix-B-inf"],
    )
    def test_non_finite_input_is_refused_naming_u(self, B_form, u):
        # Documented in Recorder.step: a non-finite input is an InvalidValueError
        # that names u; an overflowing step is a NonFiniteStateError.
        recorder = Recorder(io.BytesIO(), make_bank(B_form=B_form), *start())

        with pytest.raises(
            InvalidValueError, match="u must contain only finite values"
        ):
            recorder.step(u)

    @pytest.mark.parametrize(
        ("B_form", "u"),
        [
            ("none", np.array([0.0, np.nan, 0.0, 0.0])),
            ("none", float("inf")),
            ("vector", float("-inf")),
            ("matrix", np.array([1.0, np.inf, 0.0])),
            ("none", np.full(P, 1e308)),
            ("vector", 1e308),
        ],
        ids=[
            "nan-array",
            "inf-float",
            "vector-B-inf",
            "matrix-B-inf",
            "overflow",
            "vector-B-overflow",
        ],
    )
    def test_rejected_step_records_nothing_and_keeps_the_state(self, B_form, u):
        buffer = io.BytesIO()
        osc = make_bank(B_form=B_form, seed=13)
        recorder = Recorder(buffer, osc, *start(13))
        for v in make_inputs(osc, 3, seed=13):
            recorder.step(v)
        y, z, energy, seq = recorder.y, recorder.z, recorder.energy, recorder.seq

        with pytest.raises(LinOSSError, match=r"must .*finite"):
            recorder.step(u)

        assert recorder.seq == seq
        assert_same_bytes(recorder.y, y)
        assert_same_bytes(recorder.z, z)
        same_float(recorder.energy, energy)
        after = recorder.step(make_inputs(osc, 1, seed=14)[0])
        assert after.seq == seq
        recorder.close()
        report = verify(buffer.getvalue())
        assert report.ok, report.failure
        assert report.events_verified == 5
        assert report.closed

    def test_overflow_is_a_non_finite_state_error(self):
        recorder = Recorder(io.BytesIO(), make_bank(), *start())

        with pytest.raises(NonFiniteStateError, match="state must remain finite"):
            recorder.step(np.full(P, 1e308))

        assert recorder.seq == 0


# -- bad arguments ---------------------------------------------------------------------


BAD_CALLS = [
    (
        "u-shape",
        lambda r: r.step(np.ones(P + 1)),
        InvalidShapeError,
        r"u must have shape \(\) or \(4,\)",
    ),
    (
        "u-complex",
        lambda r: r.step(np.ones(P) * 1j),
        InvalidDtypeError,
        "u must hold real numbers",
    ),
    (
        "dt-nan",
        lambda r: r.step(np.ones(P), dt=float("nan")),
        InvalidValueError,
        "dt must be finite and positive; got nan",
    ),
    (
        "dt-negative",
        lambda r: r.step(np.ones(P), dt=-0.01),
        InvalidValueError,
        "dt must be finite and positive; got -0.01",
    ),
    (
        "dt-shape",
        lambda r: r.step(np.ones(P), dt=np.full(P + 1, 0.01)),
        InvalidShapeError,
        "dt must be a scalar or a length-4 vector",
    ),
    (
        "params-nan-dt",
        lambda r: r.set_params(dt=float("nan")),
        InvalidValueError,
        "dt must be finite and positive",
    ),
    (
        "params-negative-A",
        lambda r: r.set_params(A=-np.ones(P)),
        InvalidValueError,
        "A stiffness must be non-negative",
    ),
    (
        "params-other-size",
        lambda r: r.set_params(A=np.ones(P + 1), G=None),
        InvalidShapeError,
        "new parameters must keep P = 4 oscillators; got 5",
    ),
    (
        "params-unstable",
        lambda r: r.set_params(mode="imex2", dt=9.0),
        UnstableSchemeError,
        "damped_imex2 is unstable for oscillator 0",
    ),
    (
        "state-shape",
        lambda r: r.write_state(np.ones(P + 1), np.ones(P)),
        InvalidShapeError,
        r"y must have shape \(4,\) \(one value per oscillator\); got \(5,\)",
    ),
    (
        "state-nan",
        lambda r: r.write_state(np.ones(P), np.array([0.0, 0.0, np.nan, 0.0])),
        InvalidValueError,
        "z must contain only finite values; got nan at index 2",
    ),
    (
        "state-overflowing-energy",
        lambda r: r.write_state(np.full(P, 1e200), np.ones(P)),
        NonFiniteStateError,
        "energy must remain finite",
    ),
]


class TestBadArguments:
    @pytest.mark.parametrize(
        ("call", "error", "message"),
        [case[1:] for case in BAD_CALLS],
        ids=[case[0] for case in BAD_CALLS],
    )
    def test_raise_typed_errors_and_lose_nothing(self, call, error, message):
        buffer = io.BytesIO()
        osc = make_bank(seed=15)
        recorder = Recorder(buffer, osc, *start(15), checkpoint_every=2)
        outs = [recorder.step(u) for u in make_inputs(osc, 3, seed=15)]
        y, z, seq = recorder.y, recorder.z, recorder.seq

        with pytest.raises(error, match=message):
            call(recorder)

        assert recorder.seq == seq
        assert recorder.oscillator == osc
        assert_same_bytes(recorder.y, y)
        assert_same_bytes(recorder.z, z)
        recorder.close()
        report = verify(buffer.getvalue())
        assert report.ok, report.failure
        assert report.events_verified == seq + 1
        state = state_at(buffer.getvalue(), outs[-1].seq)
        assert_same_bytes(state[0], outs[-1].y)

    @pytest.mark.parametrize("every", [-1, 1.5, True, "3", None])
    def test_checkpoint_every_must_be_a_non_negative_integer(self, every):
        with pytest.raises(
            InvalidValueError,
            match=f"checkpoint_every must be a non-negative integer; got {every!r}",
        ) as caught:
            Recorder(io.BytesIO(), make_bank(), *start(), checkpoint_every=every)

        assert caught.value.argument == "checkpoint_every"

    @pytest.mark.parametrize("oscillator", [None, "im", {"A": [1.0]}])
    def test_oscillator_must_be_an_oscillator(self, oscillator):
        buffer = io.BytesIO()

        with pytest.raises(
            InvalidValueError,
            match=f"oscillator must be an Oscillator; got {type(oscillator).__name__}",
        ):
            Recorder(buffer, oscillator, *start())

        assert buffer.getvalue() == b""

    @pytest.mark.parametrize(
        ("y0", "error", "message"),
        [
            (np.ones(P + 1), InvalidShapeError, r"y must have shape \(4,\)"),
            (np.ones((2, P)), InvalidShapeError, r"y must have shape \(4,\)"),
            (np.full(P, np.inf), InvalidValueError, "y must contain only finite"),
        ],
    )
    def test_initial_state_is_validated_before_anything_is_written(
        self, y0, error, message
    ):
        buffer = io.BytesIO()

        with pytest.raises(error, match=message):
            Recorder(buffer, make_bank(), y0, np.zeros(P))

        assert buffer.getvalue() == b""

    def test_step_after_close_is_refused(self):
        buffer = io.BytesIO()
        recorder = Recorder(buffer, make_bank(), *start())
        recorder.step(np.ones(P))
        recorder.close()
        data = buffer.getvalue()

        with pytest.raises(LogError, match="the log writer is closed"):
            recorder.step(np.ones(P))

        assert buffer.getvalue() == data


# -- checkpoints -------------------------------------------------------------------------


def expected_checkpoint_seqs(steps: int, every: int) -> list[int]:
    """Seqs of the automatic checkpoints of a run of ``steps`` steps and nothing else."""
    seqs, seq, since = [], 0, 0
    for _ in range(steps):
        seq += 1
        since += 1
        if every and since == every:
            seqs.append(seq)
            seq += 1
            since = 0
    return seqs


class TestCheckpoints:
    def test_default_policy(self):
        buffer = io.BytesIO()
        osc = make_bank(seed=16)
        recorder = Recorder(buffer, osc, *start(16))
        U = np.random.default_rng(16).standard_normal((2 * DEFAULT_CHECKPOINT_EVERY, P))

        outs = [recorder.step(u) for u in U]
        recorder.close()

        assert DEFAULT_CHECKPOINT_EVERY == 1000
        assert [seq for seq, _ in checkpoints(buffer.getvalue())] == [1000, 2001]
        records = events_of(buffer.getvalue())
        first = records[1000]
        assert type(first) is CheckpointTaken
        assert_same_bytes(first.y, outs[999].y)
        assert_same_bytes(first.z, outs[999].z)
        assert outs[1000].seq == 1001
        assert type(records[2001]) is CheckpointTaken
        assert type(records[2002]) is RunClosed

    @pytest.mark.parametrize("every", [0, 1, 3, 7])
    def test_every_k_steps(self, every):
        buffer = io.BytesIO()
        osc = make_bank(seed=17)
        recorder = Recorder(buffer, osc, *start(17), checkpoint_every=every)

        for u in make_inputs(osc, 20, seed=17):
            recorder.step(u)
        recorder.close()

        expected = expected_checkpoint_seqs(20, every)
        found = checkpoints(buffer.getvalue())
        assert [seq for seq, _ in found] == expected
        spans = logs.frame_spans(buffer.getvalue())
        assert [offset for _, offset in found] == [spans[s + 1][0] for s in expected]
        kinds = [type(r) for r in events_of(buffer.getvalue())]
        assert [i for i, kind in enumerate(kinds) if kind is CheckpointTaken] == (
            expected
        )

    def test_only_steps_count_and_an_explicit_checkpoint_restarts_the_count(self):
        buffer = io.BytesIO()
        osc = make_bank(seed=18)
        recorder = Recorder(buffer, osc, *start(18), checkpoint_every=3)

        recorder.step(1.0)  # 0
        recorder.set_params(dt=0.04)  # 1
        recorder.write_state(np.ones(P), np.zeros(P))  # 2
        recorder.step(1.0)  # 3
        explicit = recorder.checkpoint()  # 4
        recorder.step(1.0)  # 5
        recorder.step(1.0)  # 6
        recorder.step(1.0)  # 7, then the automatic checkpoint at 8
        recorder.step(1.0)  # 9
        recorder.close()

        assert explicit == 4
        assert [seq for seq, _ in checkpoints(buffer.getvalue())] == [4, 8]
        assert verify(buffer.getvalue()).ok

    def test_checkpoint_holds_the_state_parameters_and_energy(self):
        buffer = io.BytesIO()
        osc = make_bank(Scheme.DAMPED_IM, "matrix", seed=19)
        recorder = Recorder(buffer, osc, *start(19), checkpoint_every=0)
        recorder.step(np.ones(3))
        recorder.set_params(dt=0.02)

        seq = recorder.checkpoint()
        recorder.close()

        record = events_of(buffer.getvalue())[seq]
        assert type(record) is CheckpointTaken
        assert record.seq == 2
        assert_same_bytes(record.y, recorder.y)
        assert_same_bytes(record.z, recorder.z)
        same_float(record.energy, recorder.energy)
        assert record.spec.dt == 0.02
        assert record.spec.scheme is Scheme.DAMPED_IM
        assert_same_bytes(record.spec.B, osc.B)


# -- the log -----------------------------------------------------------------------------


class TestLog:
    def test_in_memory_recording_verifies(self):
        buffer = io.BytesIO()
        osc = make_bank(Scheme.IMEX, "vector", seed=20)

        with Recorder(buffer, osc, *start(20), checkpoint_every=4) as recorder:
            for u in make_inputs(osc, 10, seed=20):
                recorder.step(u)
            recorder.set_params(dt=0.03)
            recorder.step(0.5, dt=0.01)
            recorder.write_state(np.ones(P), np.zeros(P))
            recorder.step()

        report = verify(buffer.getvalue())
        assert report.ok, report.failure
        assert report.closed
        assert report.events_verified == recorder.seq
        assert report.run_digest == recorder.run_digest.hex()
        assert recorder.path is None

    def test_file_recording_verifies(self, tmp_path):
        path = tmp_path / "run.log"
        osc = make_bank(seed=21)

        with Recorder(path, osc, *start(21)) as recorder:
            for u in make_inputs(osc, 5, seed=21):
                recorder.step(u)

        assert recorder.path == str(path)
        report = verify(path)
        assert report.ok, report.failure
        assert report.path == str(path)
        assert report.run_digest == recorder.run_digest.hex()

    def test_refuses_an_existing_file_unless_overwrite(self, tmp_path):
        path = tmp_path / "run.log"
        path.write_bytes(b"keep me")
        osc = make_bank(seed=22)

        with pytest.raises(LogError, match="already exists"):
            Recorder(path, osc, *start(22))
        unchanged = path.read_bytes()
        with Recorder(path, osc, *start(22), overwrite=True) as recorder:
            recorder.step(np.ones(P))

        assert unchanged == b"keep me"
        assert verify(path).ok

    def test_exception_in_the_with_block_leaves_an_unclosed_verifiable_log(self):
        buffer = io.BytesIO()
        osc = make_bank(seed=23)
        recorder = Recorder(buffer, osc, *start(23), checkpoint_every=3)

        def interrupted_run():
            with recorder:
                for u in make_inputs(osc, 5, seed=23):
                    recorder.step(u)
                raise RuntimeError("stop")

        with pytest.raises(RuntimeError, match="stop"):
            interrupted_run()

        records = events_of(buffer.getvalue())
        assert len(records) == 6  # five steps and the checkpoint after the third
        assert not any(type(r) is RunClosed for r in records)
        report = verify(buffer.getvalue())
        assert report.ok, report.failure
        assert report.closed is False
        assert report.events_verified == 6
        assert report.run_digest == recorder.run_digest.hex()

    def test_exception_while_recording_to_a_file(self, tmp_path):
        path = tmp_path / "run.log"
        recorder = Recorder(path, make_bank(seed=24), *start(24))

        def failing_run():
            with recorder:
                recorder.step(np.ones(P))
                recorder.step(np.ones(P + 2))

        with pytest.raises(InvalidShapeError):
            failing_run()

        report = verify(path)
        assert report.ok, report.failure
        assert (report.closed, report.events_verified) == (False, 1)

    def test_close_writes_the_closing_record_once(self):
        buffer = io.BytesIO()
        recorder = Recorder(buffer, make_bank(seed=25), *start(25))
        recorder.step(np.ones(P))
        before_close = recorder.run_digest
        root_before_close = recorder.tree_root

        recorder.close()
        data = buffer.getvalue()
        recorder.close()

        assert buffer.getvalue() == data
        with LogReader(data) as reader:
            first_body = next(iter(reader.bodies()))
        tree = MerkleTree()
        tree.append(first_body)
        assert root_before_close == tree.root()
        closing = events_of(data)[-1]
        assert closing == RunClosed(1, 1, before_close, root_before_close)
        assert verify(data).run_digest == recorder.run_digest.hex()

    def test_run_digest_is_the_chain_digest_of_the_last_event(self):
        buffer = io.BytesIO()
        osc = make_bank(seed=26)
        recorder = Recorder(buffer, osc, *start(26), checkpoint_every=2)
        for u in make_inputs(osc, 5, seed=26):
            recorder.step(u)
        recorder.sync()

        with LogReader(buffer.getvalue()) as reader:
            count = sum(1 for _ in reader)
            digest = reader.digest

        assert count == recorder.seq == 7
        assert digest == recorder.run_digest

    def test_full_state_records_y_and_z_in_every_step(self):
        buffer = io.BytesIO()
        osc = make_bank(seed=27)

        with Recorder(buffer, osc, *start(27), full_state=True) as recorder:
            outs = [recorder.step(u) for u in make_inputs(osc, 4, seed=27)]

        steps = [r for r in events_of(buffer.getvalue()) if type(r) is StepApplied]
        assert len(steps) == 4
        for record, out in zip(steps, outs, strict=True):
            assert_same_bytes(record.y, out.y)
            assert_same_bytes(record.z, out.z)
        assert verify(buffer.getvalue()).ok

    def test_without_full_state_steps_hold_no_state(self):
        buffer = io.BytesIO()
        osc = make_bank(seed=28)

        with Recorder(buffer, osc, *start(28)) as recorder:
            for u in make_inputs(osc, 3, seed=28):
                recorder.step(u)

        steps = [r for r in events_of(buffer.getvalue()) if type(r) is StepApplied]
        assert [(r.y, r.z) for r in steps] == [(None, None)] * 3

    def test_step_records_its_input_and_dt(self):
        buffer = io.BytesIO()
        osc = make_bank(B_form="matrix", seed=29)
        u = np.array([0.5, -0.0, 2.0])
        dt = np.array([0.01, 0.02, 0.03, 0.04])

        with Recorder(buffer, osc, *start(29)) as recorder:
            recorder.step(u, dt=dt)
            recorder.step(None, dt=0.02)

        first, second = events_of(buffer.getvalue())[:2]
        assert_same_bytes(first.u, u)
        assert_same_bytes(first.dt, dt)
        assert second.u is None
        same_float(second.dt, 0.02)
