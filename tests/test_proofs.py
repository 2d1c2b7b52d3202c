"""Inclusion and consistency proofs of sealed logs, made from the log and checked without it.

A proof holds when it was made from the log its seal covers; it stops holding
when any bit of it changes (every bit of a real proof is flipped here), when it
is checked with another key, or when the log it was made from was rewritten
after it was sealed.
"""

from __future__ import annotations

import json
from pathlib import Path

import logs
import numpy as np
import pytest
import strategies
from hypothesis import given, settings
from hypothesis import strategies as st

from linoss_dynamics import (
    AuditError,
    InclusionProof,
    LogReader,
    Oscillator,
    Recorder,
    SealKey,
    check_proof,
    make_bundle,
    parse_proof,
    prove_consistency,
    prove_inclusion,
    read_seals,
    sealed_checkpoint,
    verify,
    verify_bundle,
)
from linoss_dynamics.events import CheckpointTaken, ParamsChanged, StepApplied

KEY = SealKey(bytes(range(32)))
OTHER_KEY = SealKey(bytes(range(1, 33)))


def record_sealed(
    path: Path, *, steps: int = 60, every: int = 20, seed: int = 0, key=KEY
) -> Path:
    osc = logs.bank(4, seed=seed)
    y0, z0 = logs.initial_state(4, seed=seed)
    U = np.random.default_rng(seed).standard_normal((steps, 4))
    with Recorder(path, osc, y0, z0, checkpoint_every=every, key=key) as recorder:
        for t, u in enumerate(U):
            recorder.step(u)
            if t == steps // 2:
                recorder.set_params(dt=0.04)
    return path


@pytest.fixture(scope="module")
def sealed(tmp_path_factory) -> Path:
    return record_sealed(tmp_path_factory.mktemp("proofs") / "run.log")


def two_recordings(folder: Path) -> tuple[Path, Path]:
    """One run recorded twice, sealed: the same parameters and initial state
    (so the same run id), inputs that differ from step 5 on, as if the key
    holder had rewritten the first and sealed it again."""
    osc = logs.bank(4, seed=0)
    y0, z0 = logs.initial_state(4, seed=0)
    U = np.random.default_rng(0).standard_normal((60, 4))
    V = U.copy()
    V[5] += 1.0
    paths = folder / "a.log", folder / "b.log"
    for path, inputs in zip(paths, (U, V), strict=True):
        with Recorder(path, osc, y0, z0, checkpoint_every=20, key=KEY) as recorder:
            for u in inputs:
                recorder.step(u)
    return paths


def accepted_flips(text: bytes) -> list[int]:
    """The bits of a proof's JSON whose flip leaves a proof that checks."""
    accepted = []
    for bit in range(len(text) * 8):
        changed = bytearray(text)
        changed[bit // 8] ^= 1 << (bit % 8)
        try:
            check_proof(parse_proof(bytes(changed)), key=KEY)
        except AuditError:
            continue
        accepted.append(bit)
    return accepted


def records_of(path: Path) -> list:
    with LogReader(path) as reader:
        return list(reader)


class TestInclusion:
    @given(st.data())
    @settings(max_examples=25, deadline=None)
    def test_every_event_has_a_proof_that_holds(self, sealed, data):
        records = records_of(sealed)
        seq = data.draw(st.integers(0, len(records) - 1), label="seq")

        proof = prove_inclusion(sealed, seq)
        result = check_proof(parse_proof(proof.model_dump_json()), key=KEY)

        assert result.ok
        assert result.sealed
        assert result.seq == seq
        record = records[seq]
        if isinstance(record, (StepApplied, CheckpointTaken)):
            assert result.state_digest == record.state_digest.hex()
        assert result.size > seq
        sizes = [c.size for c in read_seals(f"{sealed}.seals")]
        assert result.size == min(s for s in sizes if s > seq)

    def test_an_event_without_a_state_claims_none(self, sealed):
        seq = next(
            i for i, r in enumerate(records_of(sealed)) if type(r) is ParamsChanged
        )

        proof = prove_inclusion(sealed, seq)

        assert proof.state_digest is None
        assert check_proof(proof, key=KEY).state_digest is None

    def test_without_a_key_the_seal_is_not_checked(self, sealed):
        proof = prove_inclusion(sealed, 5)

        result = check_proof(proof)

        assert result.ok
        assert not result.sealed
        assert "NOT checked" in result.message

    def test_another_key_is_refused(self, sealed):
        proof = prove_inclusion(sealed, 5)

        with pytest.raises(AuditError, match="sealed with key"):
            check_proof(proof, key=OTHER_KEY)

    def test_every_bit_flip_of_a_proof_is_refused(self, sealed):
        text = prove_inclusion(sealed, 33).model_dump_json().encode()

        assert accepted_flips(text) == []

    def test_a_claim_about_another_state_is_refused(self, sealed):
        proof = prove_inclusion(sealed, 10)
        forged = proof.model_copy(update={"state_digest": "0" * 32})

        with pytest.raises(AuditError, match="claims state digest"):
            check_proof(forged, key=KEY)

    def test_a_proof_for_another_position_is_refused(self, sealed):
        proof = prove_inclusion(sealed, 10)
        moved = proof.model_copy(update={"seq": 11})

        with pytest.raises(AuditError, match="seq 11; its event is seq 10"):
            check_proof(moved, key=KEY)

    def test_a_fresh_seal_with_the_key(self, sealed):
        events = len(records_of(sealed))

        proof = prove_inclusion(sealed, 3, key=KEY)

        assert check_proof(proof, key=KEY).size == events

    def test_a_seal_of_a_given_size(self, sealed):
        size = read_seals(f"{sealed}.seals")[1].size

        proof = prove_inclusion(sealed, 3, size=size)

        assert check_proof(proof, key=KEY).size == size

    def test_no_seal_covers_the_event(self, sealed):
        with pytest.raises(AuditError, match="no sealed checkpoint of size 5"):
            prove_inclusion(sealed, 3, size=5)

    def test_an_unsealed_log_needs_the_key(self, tmp_path):
        path = record_sealed(tmp_path / "plain.log", key=None)

        with pytest.raises(AuditError, match="no seals file"):
            prove_inclusion(path, 3)

        assert check_proof(prove_inclusion(path, 3, key=KEY), key=KEY).ok

    def test_a_log_changed_after_its_seal_cannot_be_proved(self, tmp_path):
        a, b = two_recordings(tmp_path)
        # b's events, self-consistent, under a's seals.
        a.write_bytes(b.read_bytes())

        with pytest.raises(AuditError, match="changed after it was sealed"):
            prove_inclusion(a, 3)


class TestConsistency:
    @given(st.data())
    @settings(max_examples=10, deadline=None)
    def test_each_sealed_size_is_a_prefix_of_the_last(self, sealed, data):
        sizes = [c.size for c in read_seals(f"{sealed}.seals")]
        old = data.draw(st.sampled_from(sizes), label="old")

        proof = prove_consistency(sealed, old)
        result = check_proof(parse_proof(proof.model_dump_json()), key=KEY)

        assert result.ok
        assert result.kind == "consistency"
        assert (result.old_size, result.size) == (old, max(sizes))

    def test_every_bit_flip_of_a_proof_is_refused(self, sealed):
        text = prove_consistency(sealed, 21).model_dump_json().encode()

        assert accepted_flips(text) == []

    def test_a_rewritten_prefix_is_not_consistent_with_its_old_seal(self, tmp_path):
        a, b = two_recordings(tmp_path)
        kept = read_seals(f"{a}.seals")[0]  # what the auditor kept of a
        proof = prove_consistency(b, kept.size)
        assert check_proof(proof, key=KEY).ok  # b is consistent with itself

        forged = proof.model_copy(update={"old": kept.text()})

        with pytest.raises(AuditError, match="rewritten between the two seals"):
            check_proof(forged, key=KEY)

    def test_sizes_must_be_positive(self, sealed):
        with pytest.raises(AuditError, match="old_size must be at least 1"):
            prove_consistency(sealed, 0)


class TestParsing:
    @pytest.mark.parametrize(
        "text",
        [
            b"",
            b"{}",
            b"not json",
            b'{"format": "linoss-inclusion-proof/2"}',
            b"[1, 2, 3]",
            "\u00e9".encode(),
        ],
    )
    def test_what_is_not_a_proof(self, text):
        with pytest.raises(AuditError, match="not a proof"):
            parse_proof(text)

    def test_hex_must_be_lowercase(self, sealed):
        data = json.loads(prove_inclusion(sealed, 2).model_dump_json())
        data["event"] = data["event"].upper()

        with pytest.raises(AuditError, match="not a proof"):
            parse_proof(json.dumps(data))

    def test_models_round_trip(self, sealed):
        proof = prove_inclusion(sealed, 2)

        assert parse_proof(proof.model_dump_json()) == proof
        assert isinstance(proof, InclusionProof)


class TestSealedCheckpoint:
    def test_from_the_seals_file(self, sealed):
        checkpoint = sealed_checkpoint(sealed, covering=30)

        assert checkpoint.size == min(
            c.size for c in read_seals(f"{sealed}.seals") if c.size >= 30
        )
        checkpoint.check(KEY)

    def test_a_size_beyond_the_log(self, sealed):
        with pytest.raises(AuditError, match="the log has"):
            sealed_checkpoint(sealed, covering=1, size=10_000, key=KEY)


@given(
    bank=strategies.banks(sizes=st.integers(1, 6)),
    steps=st.integers(1, 40),
    every=st.integers(0, 9),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
@settings(max_examples=25, deadline=None)
def test_random_sealed_logs_verify_and_every_proof_holds(
    tmp_path_factory, bank, steps, every, seed, data
):
    # Any stable bank, run length and checkpoint policy: the log verifies with
    # its key, every sealed checkpoint is consistent with the last, and an
    # inclusion proof of any event, and a bundle ending at it, hold.
    osc = Oscillator(bank.A, bank.dt, G=bank.G, mode=bank.scheme)
    rng = np.random.default_rng(seed)
    path = tmp_path_factory.mktemp("random") / "run.log"
    with Recorder(
        path, osc, rng.standard_normal(osc.size), np.zeros(osc.size),
        checkpoint_every=every, key=KEY,
    ) as recorder:  # fmt: skip
        for u in rng.standard_normal((steps, osc.size)):
            recorder.step(u)
    seals = read_seals(f"{path}.seals")
    events = len(records_of(path))
    seq = data.draw(st.integers(0, events - 1), label="seq")

    report = verify(path, key=KEY)
    inclusion = check_proof(prove_inclusion(path, seq), key=KEY)
    consistency = [check_proof(prove_consistency(path, s.size), key=KEY) for s in seals]
    rerun = verify_bundle(make_bundle(path, seq), key=KEY)

    assert report.ok, report.failure
    assert report.seals_checked == len(seals)
    assert report.sealed_events == events
    assert inclusion.seq == seq
    assert all(c.ok and c.size == events for c in consistency)
    assert rerun.ok, rerun.failure
    assert rerun.last_seq == seq
