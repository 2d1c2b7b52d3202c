"""Offline bundles: a stretch of a sealed log, re-executed and checked without the log."""

from __future__ import annotations

import random
from pathlib import Path

import logs
import msgpack
import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from linoss_dynamics import (
    AuditError,
    FailureCode,
    Recorder,
    SealKey,
    make_bundle,
    verify_bundle,
)
from linoss_dynamics.bundle import BUNDLE_MAGIC
from linoss_dynamics.codec import encode_step
from linoss_dynamics.logfile import frame

KEY = SealKey(bytes(range(32)))
OTHER_KEY = SealKey(bytes(range(2, 34)))
STEPS = 50
EVERY = 10


def record_sealed(path: Path, *, seed: int = 0, key=KEY) -> Path:
    osc = logs.bank(4, seed=seed)
    y0, z0 = logs.initial_state(4, seed=seed)
    U = np.random.default_rng(seed).standard_normal((STEPS, 4))
    with Recorder(path, osc, y0, z0, checkpoint_every=EVERY, key=key) as recorder:
        for u in U:
            recorder.step(u)
    return path


@pytest.fixture(scope="module")
def sealed(tmp_path_factory) -> Path:
    return record_sealed(tmp_path_factory.mktemp("bundle") / "run.log")


def events_in(path: Path) -> int:
    return len(logs.frame_spans(path.read_bytes())) - 1


def reseal(data: bytes) -> bytes:
    """A bundle with its checksum made good again (as a forger would)."""
    head = data[:-16]
    return head + xxhash.xxh3_128_digest(head)


def parts_of(data: bytes) -> list:
    return msgpack.unpackb(data[len(BUNDLE_MAGIC) : -16], raw=False)


def bundle_of(parts: list) -> bytes:
    head = BUNDLE_MAGIC + msgpack.packb(parts, use_bin_type=True)
    return head + xxhash.xxh3_128_digest(head)


class TestRoundTrip:
    @given(st.data())
    @settings(max_examples=20, deadline=None)
    def test_any_stretch_re_executes(self, sealed, data):
        events = events_in(sealed)
        seq = data.draw(st.integers(0, events - 1), label="seq")
        last = data.draw(st.integers(seq, events - 1), label="to_seq")

        report = verify_bundle(make_bundle(sealed, seq, to_seq=last), key=KEY)

        assert report.ok, report.failure
        assert report.sealed
        assert report.last_seq == last
        assert report.first_seq <= seq
        assert report.first_seq == 0 or report.first_seq % (EVERY + 1) == EVERY
        assert report.events_verified == last - report.first_seq + 1

    def test_from_a_file(self, sealed, tmp_path):
        path = tmp_path / "part.bundle"
        path.write_bytes(make_bundle(sealed, 25))

        assert verify_bundle(path, key=KEY).ok

    def test_without_the_key_the_seal_is_not_checked(self, sealed):
        report = verify_bundle(make_bundle(sealed, 25))

        assert report.ok
        assert not report.sealed

    def test_another_key_is_refused(self, sealed):
        report = verify_bundle(make_bundle(sealed, 25), key=OTHER_KEY)

        assert not report.ok
        assert report.failure.code is FailureCode.SEAL_INVALID

    def test_a_bundle_is_small_beside_its_log(self, sealed):
        data = make_bundle(sealed, 40, to_seq=40)

        assert len(data) < sealed.stat().st_size / 3


class TestDamage:
    def test_every_bit_flip_is_refused(self, sealed):
        data = make_bundle(sealed, 30, to_seq=32)
        rng = random.Random(0)
        bits = rng.sample(range(len(data) * 8), 1500)

        for bit in bits:
            changed = bytearray(data)
            changed[bit // 8] ^= 1 << (bit % 8)
            with pytest.raises(AuditError):
                verify_bundle(bytes(changed), key=KEY)

    def test_every_bit_flip_with_the_checksum_made_good_is_refused(self, sealed):
        # A forger recomputes the checksum: the seal, the root or the replay
        # must still catch every change of the body.
        data = make_bundle(sealed, 30, to_seq=32)
        rng = random.Random(1)
        body = range(len(BUNDLE_MAGIC) * 8, (len(data) - 16) * 8)
        accepted = []

        for bit in rng.sample(body, 1500):
            changed = bytearray(data)
            changed[bit // 8] ^= 1 << (bit % 8)
            try:
                report = verify_bundle(reseal(bytes(changed)), key=KEY)
            except AuditError:
                continue
            if report.ok:
                accepted.append(bit)

        assert accepted == []

    def test_a_forged_event_is_caught_by_the_root(self, sealed):
        # The forger rewrites one step (a consistent frame, a different input)
        # and keeps the seal: the replay may pass, the root cannot.
        parts = parts_of(make_bundle(sealed, 30, to_seq=32))
        segment = parts[3]
        spans = logs.frame_spans(b"\x00" * logs.MAGIC_SIZE + segment)
        begin, end = (a - logs.MAGIC_SIZE for a in spans[1])
        prev = segment[begin + logs.FRAME_HEAD : begin + logs.FRAME_HEAD + 16]
        body = encode_step(
            parts[2] + 1, np.zeros(4), None, b"\x00" * 16, 0.0, 0.0, 0.0, None, None
        )
        forged, _ = frame(prev, body)
        parts[3] = segment[:begin] + forged + segment[end:]

        report = verify_bundle(bundle_of(parts), key=KEY)

        assert not report.ok
        assert report.failure.code in (
            FailureCode.TREE_ROOT_MISMATCH,
            FailureCode.CHAIN_BROKEN,
        )

    def test_events_of_another_run_are_refused(self, sealed, tmp_path):
        other = record_sealed(tmp_path / "other.log", seed=3)
        mine, theirs = (
            parts_of(make_bundle(sealed, 30)),
            parts_of(make_bundle(other, 30)),
        )
        mine[1] = theirs[1]  # their header: another run id

        report = verify_bundle(bundle_of(mine), key=KEY)

        assert not report.ok
        assert report.failure.code is FailureCode.SEAL_INVALID

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"", "not a bundle"),
            (b"\x89LINOSS\x01" + bytes(40), "not a bundle"),
            (BUNDLE_MAGIC + bytes(16), "checksum"),
            (bundle_of([1, 2, 3]), "body is not"),
            (reseal(BUNDLE_MAGIC + b"\xc1" + bytes(16)), "not msgpack"),
        ],
    )
    def test_what_is_not_a_bundle(self, data, message):
        with pytest.raises(AuditError, match=message):
            verify_bundle(data)

    def test_a_missing_file(self, tmp_path):
        with pytest.raises(AuditError, match="cannot read the bundle"):
            verify_bundle(tmp_path / "nothing.bundle")


class TestMaking:
    def test_a_range_beyond_the_log(self, sealed):
        with pytest.raises(AuditError, match="beyond it"):
            make_bundle(sealed, 3, to_seq=10_000)

    def test_an_empty_range(self, sealed):
        with pytest.raises(AuditError, match="seq <= to_seq"):
            make_bundle(sealed, 5, to_seq=4)

    def test_an_unsealed_log_needs_the_key(self, tmp_path):
        path = record_sealed(tmp_path / "plain.log", key=None)

        with pytest.raises(AuditError, match="no seals file"):
            make_bundle(path, 3)

        assert verify_bundle(make_bundle(path, 3, key=KEY), key=KEY).ok
