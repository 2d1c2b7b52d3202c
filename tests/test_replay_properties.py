"""Properties of replay: damage is found at the right event; any state can be rebuilt.

Every damaged log here is an intact recording with one mutation: a bit flipped,
a tail cut, a frame dropped, duplicated or swapped. What ``verify`` must report
is derived from the frame layout documented in ``logfile`` (parsed by
``logs.frame_spans``), not from the reader: a flip inside a frame damages that
frame (its doubled length or its checksum no longer matches), a cut inside a
frame tears it, and a frame out of place breaks the chain where it lands.

A stateful test drives a ``Recorder`` with any sequence of calls and mirrors
each with the core (``Oscillator.step`` and ``Oscillator.energy``).
"""

from __future__ import annotations

import functools
import io
from typing import Any, NamedTuple

import logs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)
from strategies import arrays, assert_same_bytes

from linoss_dynamics import (
    FailureCode,
    LogFormatError,
    LogReader,
    Oscillator,
    Recorder,
    Scheme,
    checkpoints,
    state_at,
    verify,
)

P = 4
MAGIC_SIZE = 8
VERSION_BYTE = 7
# Schemes whose stable region holds every dt and A these tests draw.
SCHEMES = (
    Scheme.IM,
    Scheme.IMEX,
    Scheme.DAMPED_IM,
    Scheme.DAMPED_IMEX1,
    Scheme.DAMPED_IMEX2,
)


# -- recording a program of calls -----------------------------------------------------


class Played(NamedTuple):
    """A recorded log and the state after each of its events, by seq."""

    data: bytes
    initial: tuple[np.ndarray, np.ndarray]
    states: list[tuple[np.ndarray, np.ndarray]]
    run_digest: bytes


def play(
    program: list[tuple[Any, ...]],
    *,
    scheme: Scheme = Scheme.DAMPED_IMEX1,
    every: int = 3,
    full_state: bool = False,
    seed: int = 0,
) -> Played:
    """Record ``program``: ``("step", u, dt)``, ``("params", changes)``,
    ``("write", y, z)`` and ``("checkpoint",)`` calls, then close."""
    osc = logs.bank(P, scheme=scheme, seed=seed)
    y0, z0 = logs.initial_state(P, seed=seed)
    buffer = io.BytesIO()
    states: list[tuple[np.ndarray, np.ndarray]] = []
    with Recorder(
        buffer, osc, y0, z0, checkpoint_every=every, full_state=full_state
    ) as recorder:
        for op, *args in program:
            if op == "step":
                recorder.step(args[0], dt=args[1])
            elif op == "params":
                recorder.set_params(**args[0])
            elif op == "write":
                recorder.write_state(*args)
            else:
                recorder.checkpoint()
            # One event, or a step and the automatic checkpoint after it: both
            # leave the state the call returned.
            while len(states) < recorder.seq:
                states.append((recorder.y, recorder.z))
    states.append((recorder.y, recorder.z))  # the closing record
    return Played(buffer.getvalue(), (y0, z0), states, recorder.run_digest)


def mixed_program(steps: int, *, seed: int = 0) -> list[tuple[Any, ...]]:
    rng = np.random.default_rng(seed)
    program: list[tuple[Any, ...]] = []
    for t in range(steps):
        dt = 0.02 if t % 5 == 4 else None
        program.append(("step", rng.standard_normal(P) if t % 3 else None, dt))
        if t == steps // 3:
            program.append(("params", {"dt": 0.04, "G": np.full(P, 0.1)}))
        if t == steps // 2:
            program.append(("write", rng.standard_normal(P), rng.standard_normal(P)))
    return program


@functools.cache
def sample_logs() -> tuple[Played, ...]:
    """A short log, and a longer one with full states and every event kind."""
    return (
        play(mixed_program(3), every=2),
        play(mixed_program(14, seed=1), full_state=True, seed=1),
    )


def frame_at(spans: list[tuple[int, int]], position: int) -> int:
    """Index of the frame holding byte ``position`` (0 is the header's frame)."""
    for index, (begin, end) in enumerate(spans):
        if begin <= position < end:
            return index
    raise AssertionError(f"byte {position} is in no frame")


def chain_digests(data: bytes) -> list[bytes]:
    """Genesis, then the chain digest after each event (from a clean read)."""
    with LogReader(data) as reader:
        digests = [reader.digest]
        for _ in reader:
            digests.append(reader.digest)
    return digests


# -- bit flips ---------------------------------------------------------------------------


def check_flip(played: Played, position: int, bit: int) -> None:
    data = bytearray(played.data)
    data[position] ^= 1 << bit
    spans = logs.frame_spans(played.data)

    if position < VERSION_BYTE:
        with pytest.raises(LogFormatError, match="is not a linoss run log"):
            verify(bytes(data))
        return
    report = verify(bytes(data))

    assert not report.ok
    assert report.run_digest is None
    if position == VERSION_BYTE:
        assert report.failure.code is FailureCode.UNSUPPORTED_VERSION
        assert (report.failure.seq, report.failure.offset) == (-1, 0)
        return
    frame = frame_at(spans, position)
    assert report.failure.code is FailureCode.FRAME_CORRUPT, report.failure
    assert report.failure.seq == frame - 1
    assert report.failure.offset == spans[frame][0]
    assert report.events_verified == max(frame - 1, 0)


class TestBitFlips:
    @settings(max_examples=150)
    @given(data=st.data())
    def test_any_single_bit(self, data):
        played = data.draw(st.sampled_from(sample_logs()), label="log")
        position = data.draw(st.integers(0, len(played.data) - 1), label="position")
        bit = data.draw(st.integers(0, 7), label="bit")

        check_flip(played, position, bit)

    def test_every_byte_of_a_short_log(self):
        played = sample_logs()[0]

        for position in range(len(played.data)):
            check_flip(played, position, position % 8)

    @pytest.mark.parametrize("bit", range(8))
    def test_every_bit_of_the_magic_and_the_first_frame_head(self, bit):
        played = sample_logs()[1]

        for position in range(MAGIC_SIZE + 8):
            check_flip(played, position, bit)


# -- truncation --------------------------------------------------------------------------


def check_cut(played: Played, size: int) -> None:
    spans = logs.frame_spans(played.data)
    cut = played.data[:size]

    if size < MAGIC_SIZE:
        with pytest.raises(LogFormatError, match="is not a linoss run log"):
            verify(cut)
        return
    report = verify(cut)

    ends = [end for _, end in spans]
    if size in ends:
        kept = ends.index(size)  # event frames kept after the header
        assert report.ok, report.failure
        assert report.events_verified == kept
        assert report.closed == (size == len(played.data))
        assert report.run_digest == chain_digests(played.data)[kept].hex()
        return
    frame = frame_at(spans, size)  # the torn frame: the header's for the magic alone
    assert not report.ok
    assert report.failure.code is FailureCode.LOG_TRUNCATED, report.failure
    assert report.failure.seq == frame - 1
    assert report.failure.offset == spans[frame][0]
    assert report.events_verified == max(frame - 1, 0)
    assert not report.closed


class TestTruncation:
    @settings(max_examples=100)
    @given(data=st.data())
    def test_any_cut(self, data):
        played = data.draw(st.sampled_from(sample_logs()), label="log")
        size = data.draw(st.integers(0, len(played.data)), label="size")

        check_cut(played, size)

    def test_every_cut_of_a_short_log(self):
        played = sample_logs()[0]

        for size in range(len(played.data) + 1):
            check_cut(played, size)

    def test_cut_at_every_frame_boundary(self):
        played = sample_logs()[1]

        for _, end in logs.frame_spans(played.data):
            check_cut(played, end)


# -- frames out of place ---------------------------------------------------------------


def frames(data: bytes) -> tuple[bytes, list[bytes]]:
    """The bytes before the first event frame, and each event frame."""
    spans = logs.frame_spans(data)
    head = data[: spans[0][1]]
    return head, [data[begin:end] for begin, end in spans[1:]]


events_in = st.sampled_from(sample_logs()).flatmap(
    lambda played: st.tuples(
        st.just(played), st.integers(0, len(frames(played.data)[1]) - 1)
    )
)


class TestFramesOutOfPlace:
    @settings(max_examples=60)
    @given(case=events_in)
    def test_dropped_frame(self, case):
        played, k = case
        head, body = frames(played.data)
        data = head + b"".join(body[:k] + body[k + 1 :])

        report = verify(data)

        if k == len(body) - 1:  # the closing record: an intact, unclosed prefix
            assert report.ok
            assert (report.closed, report.events_verified) == (False, k)
            return
        assert report.failure.code is FailureCode.CHAIN_BROKEN
        assert report.failure.seq == k
        assert report.failure.offset == len(head) + sum(map(len, body[:k]))
        assert report.events_verified == k

    @settings(max_examples=60)
    @given(case=events_in)
    def test_duplicated_frame(self, case):
        played, k = case
        head, body = frames(played.data)
        data = head + b"".join([*body[: k + 1], body[k], *body[k + 1 :]])

        report = verify(data)

        assert report.failure.code is FailureCode.CHAIN_BROKEN
        assert report.failure.seq == k + 1
        assert report.failure.offset == len(head) + sum(map(len, body[: k + 1]))

    @settings(max_examples=60)
    @given(case=events_in)
    def test_swapped_frames(self, case):
        played, k = case
        head, body = frames(played.data)
        if k == len(body) - 1:
            k -= 1
        data = head + b"".join([*body[:k], body[k + 1], body[k], *body[k + 2 :]])

        report = verify(data)

        assert report.failure.code is FailureCode.CHAIN_BROKEN
        assert report.failure.seq == k
        assert report.events_verified == k

    def test_frame_from_another_run(self):
        short, long = sample_logs()
        head, body = frames(long.data)
        _, foreign = frames(short.data)
        data = head + b"".join([body[0], foreign[1], *body[2:]])

        report = verify(data)

        assert report.failure.code is FailureCode.CHAIN_BROKEN
        assert report.failure.seq == 1


# -- state_at --------------------------------------------------------------------------------


def programs() -> st.SearchStrategy[list[tuple[Any, ...]]]:
    values = arrays(P, 10.0)
    step = st.tuples(
        st.just("step"),
        st.none() | values | st.floats(-10.0, 10.0),
        st.none() | st.floats(0.01, 0.1),
    )
    params = st.tuples(
        st.just("params"),
        st.fixed_dictionaries(
            {},
            optional={
                "dt": st.floats(0.01, 0.1),
                "A": arrays(P, 4.0, non_negative=True),
                "G": arrays(P, 0.5, non_negative=True),
            },
        ),
    )
    write = st.tuples(st.just("write"), values, values)
    checkpoint = st.just(("checkpoint",))
    return st.lists(
        st.one_of(step, step, step, params, write, checkpoint), min_size=1, max_size=30
    )


class TestStateAt:
    @settings(max_examples=40)
    @given(
        program=programs(),
        scheme=st.sampled_from([Scheme.DAMPED_IM, Scheme.DAMPED_IMEX1]),
        every=st.integers(0, 4),
        data=st.data(),
    )
    def test_any_seq_is_the_state_the_recorder_returned(
        self, program, scheme, every, data
    ):
        played = play(program, scheme=scheme, every=every)
        seqs = data.draw(
            st.lists(st.integers(-1, len(played.states) - 1), min_size=1, max_size=4),
            label="seqs",
        )

        for seq in seqs:
            y, z = state_at(played.data, seq)

            expected = played.initial if seq == -1 else played.states[seq]
            assert_same_bytes(y, expected[0])
            assert_same_bytes(z, expected[1])
        assert verify(played.data).ok


# -- a stateful model of the recorder -----------------------------------------------------


def same_float(actual: float, expected: float) -> None:
    assert actual.hex() == expected.hex(), (actual, expected)


class RecorderMachine(RuleBasedStateMachine):
    """A ``Recorder`` into memory and, beside it, the core stepped by hand."""

    @initialize(
        scheme=st.sampled_from(SCHEMES),
        every=st.integers(0, 4),
        full_state=st.booleans(),
        seed=st.integers(0, 3),
    )
    def start(self, scheme, every, full_state, seed):
        self.osc = logs.bank(P, scheme=scheme, seed=seed)
        self.y, self.z = logs.initial_state(P, seed=seed)
        self.initial = (self.y, self.z)
        self.every = every
        self.since_checkpoint = 0
        self.states: list[tuple[np.ndarray, np.ndarray]] = []
        self.checkpoint_seqs: list[int] = []
        self.buffer = io.BytesIO()
        self.recorder = Recorder(
            self.buffer,
            self.osc,
            self.y,
            self.z,
            checkpoint_every=every,
            full_state=full_state,
        )

    def _event(self) -> int:
        self.states.append((self.y, self.z))
        return len(self.states) - 1

    def _checkpoint(self) -> int:
        self.since_checkpoint = 0
        seq = self._event()
        self.checkpoint_seqs.append(seq)
        return seq

    @rule(
        u=st.none() | arrays(P, 10.0) | st.floats(-10.0, 10.0),
        dt=st.none() | st.floats(0.01, 0.1),
    )
    def step(self, u, dt):
        out = self.recorder.step(u, dt=dt)

        osc: Oscillator = self.osc if dt is None else self.osc.with_params(dt=dt)
        before = self.osc.energy(self.y, self.z)
        self.y, self.z = osc.step(self.y, self.z, u)
        after = self.osc.energy(self.y, self.z)
        assert out.seq == self._event()
        assert_same_bytes(out.y, self.y)
        assert_same_bytes(out.z, self.z)
        same_float(out.energy_before, before)
        same_float(out.energy_after, after)
        same_float(out.delta_energy, after - before)
        self.since_checkpoint += 1
        if self.every and self.since_checkpoint == self.every:
            self._checkpoint()

    @rule(
        changes=st.fixed_dictionaries(
            {},
            optional={
                "dt": st.floats(0.01, 0.1),
                "A": arrays(P, 4.0, non_negative=True),
            },
        ),
        scale_damping=st.floats(0.0, 2.0),
    )
    def set_params(self, changes, scale_damping):
        if self.osc.G is not None:
            changes = {**changes, "G": self.osc.G * scale_damping}

        new = self.recorder.set_params(**changes)

        self.osc = self.osc.with_params(**changes)
        assert new == self.osc
        self._event()

    @rule(y=arrays(P, 10.0), z=arrays(P, 10.0))
    def write_state(self, y, z):
        self.recorder.write_state(y, z)

        self.y, self.z = y.copy(), z.copy()
        self._event()
        assert_same_bytes(self.recorder.y, y)

    @rule()
    def checkpoint(self):
        seq = self.recorder.checkpoint()

        assert seq == self._checkpoint()

    @invariant()
    def same_state_and_energy(self):
        assert self.recorder.seq == len(self.states)
        assert_same_bytes(self.recorder.y, self.y)
        assert_same_bytes(self.recorder.z, self.z)
        same_float(self.recorder.energy, self.osc.energy(self.y, self.z))

    def teardown(self):
        if not hasattr(self, "recorder"):
            return
        self.recorder.close()
        data = self.buffer.getvalue()
        self._event()  # the closing record

        report = verify(data)

        assert report.ok, report.failure
        assert report.closed
        assert report.events_verified == len(self.states)
        assert report.run_digest == self.recorder.run_digest.hex()
        assert [seq for seq, _ in checkpoints(data)] == self.checkpoint_seqs
        last = len(self.states) - 1
        for seq in sorted({-1, 0, last // 2, last}):
            y, z = state_at(data, seq)
            expected = self.initial if seq == -1 else self.states[seq]
            assert_same_bytes(y, expected[0])
            assert_same_bytes(z, expected[1])


RecorderMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=25, deadline=None
)
TestRecorderMachine = RecorderMachine.TestCase
