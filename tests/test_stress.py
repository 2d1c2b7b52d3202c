"""Long stress runs, marked slow: ``pytest -m slow``.

``LINOSS_STRESS=short`` shrinks each run so CI can afford it on every change;
without it the runs are long enough to shake out rare failures.
"""

from __future__ import annotations

import io
import os
import random
import tracemalloc

import numpy as np
import pytest

from linoss_dynamics import (
    FailureCode,
    LogFormatError,
    Oscillator,
    Recorder,
    state_at,
    verify,
)
from linoss_dynamics.codec import MAGIC

SHORT = os.environ.get("LINOSS_STRESS", "").lower() == "short"

pytestmark = pytest.mark.slow


def _size(short: int, full: int) -> int:
    return short if SHORT else full


def _record(steps: int, P: int = 64, seed: int = 0) -> tuple[bytes, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    osc = Oscillator(
        rng.uniform(0.5, 4.0, P), 0.05, G=rng.uniform(0, 0.3, P), mode="imex1"
    )
    buffer = io.BytesIO()
    states = []
    with Recorder(buffer, osc, rng.standard_normal(P), np.zeros(P)) as recorder:
        for t in range(steps):
            out = recorder.step(rng.standard_normal(P))
            if t % 997 == 0:
                states.append((out.seq, out.y))
            if t == steps // 3:
                recorder.set_params(G=osc.G * 0.5)
    return buffer.getvalue(), states


def test_a_long_run_verifies_in_bounded_memory():
    steps = _size(20_000, 300_000)
    log, _ = _record(steps)

    tracemalloc.start()
    report = verify(log)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert report.ok, report.failure
    assert report.events_verified > steps
    # The log itself is in memory here (it is a bytes source); the replay must
    # not add more than a few chunks on top of it.
    assert peak < len(log) + 16 * 2**20


def test_state_at_agrees_with_the_recording_all_along_a_long_run():
    log, states = _record(_size(10_000, 100_000), seed=1)

    for seq, y in states:
        replayed, _ = state_at(log, seq)

        assert replayed.tobytes() == y.tobytes()


def test_many_single_bit_flips_are_all_detected():
    log, _ = _record(_size(300, 3_000), P=8, seed=2)
    rng = random.Random(3)
    flips = _size(2_000, 50_000)

    missed = []
    for _ in range(flips):
        damaged = bytearray(log)
        position = rng.randrange(len(damaged))
        damaged[position] ^= 1 << rng.randrange(8)
        if position < len(MAGIC) - 1:
            # A damaged magic number is "not a log"; its last byte is the
            # format version, reported as unsupported.
            with pytest.raises(LogFormatError):
                verify(bytes(damaged))
            continue
        report = verify(bytes(damaged))
        if position == len(MAGIC) - 1:
            assert report.failure.code is FailureCode.UNSUPPORTED_VERSION
        if report.ok:
            missed.append(position)
        else:
            assert report.failure.code in set(FailureCode)

    assert missed == []
