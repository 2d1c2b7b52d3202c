"""Ed25519 seals: made with the private key, checked with the public key alone.

The same sealed-checkpoint text as a MAC seal, with ``ed25519`` as its
algorithm: a log, its proofs and its bundles are checked by anyone holding the
public key, who cannot seal anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

import logs
import numpy as np
import pytest

from linoss_dynamics import (
    AuditError,
    FailureCode,
    Recorder,
    SealedCheckpoint,
    SealKey,
    SealKeyError,
    SigningKey,
    VerifyKey,
    check_proof,
    load_key,
    make_bundle,
    prove_inclusion,
    read_seals,
    verify,
    verify_bundle,
)
from linoss_dynamics.seals import parse_key

SIGNER = SigningKey(bytes(range(32)))
PUBLIC = SIGNER.verify_key


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("signed") / "run.log"
    osc = logs.bank(4, seed=0)
    y0, z0 = logs.initial_state(4, seed=0)
    with Recorder(path, osc, y0, z0, checkpoint_every=10, key=SIGNER) as recorder:
        for u in np.random.default_rng(0).standard_normal((40, 4)):
            recorder.step(u)
    return path


class TestKeys:
    def test_key_files_round_trip(self, tmp_path):
        private, public = tmp_path / "k", tmp_path / "k.pub"
        private.write_text(SIGNER.text())
        public.write_text(PUBLIC.text())

        loaded, checker = load_key(private), load_key(public)

        assert isinstance(loaded, SigningKey)
        assert isinstance(checker, VerifyKey)
        assert loaded.key_id == checker.key_id == SIGNER.key_id
        assert loaded.text() == SIGNER.text()

    def test_a_public_key_cannot_seal(self):
        with pytest.raises(SealKeyError, match="cannot make them"):
            SealedCheckpoint.make(bytes(32), 1, bytes(32), PUBLIC)

    @pytest.mark.parametrize(
        "text",
        ["ed25519-private zz", "ed25519-public " + "00" * 31, "ed25519-private "],
    )
    def test_bad_key_text(self, text):
        with pytest.raises(SealKeyError):
            parse_key(text)

    def test_repr_never_shows_the_private_key(self):
        private_hex = SIGNER.text().split()[1]

        assert private_hex not in repr(SIGNER)
        assert SIGNER.key_id in repr(SIGNER)

    def test_without_cryptography_the_error_says_what_to_install(self, monkeypatch):
        monkeypatch.setitem(
            sys.modules, "cryptography.hazmat.primitives.asymmetric", None
        )

        with pytest.raises(SealKeyError, match=r"linoss-dynamics\[sign\]"):
            SigningKey(bytes(32))


class TestCheckpoints:
    def test_text_round_trip_and_check(self):
        checkpoint = SealedCheckpoint.make(bytes(range(32)), 7, bytes(32), SIGNER)

        parsed = SealedCheckpoint.parse(checkpoint.text())

        assert parsed == checkpoint
        assert parsed.algorithm == "ed25519"
        parsed.check(PUBLIC)
        parsed.check(SIGNER)

    def test_every_bit_flip_is_refused(self):
        text = SealedCheckpoint.make(bytes(range(32)), 7, bytes(32), SIGNER).text()
        data = text.encode()
        accepted = []

        for bit in range(len(data) * 8):
            changed = bytearray(data)
            changed[bit // 8] ^= 1 << (bit % 8)
            try:
                SealedCheckpoint.parse(changed.decode("ascii")).check(PUBLIC)
            except (AuditError, UnicodeDecodeError):
                continue
            accepted.append(bit)

        assert accepted == []

    def test_a_mac_key_does_not_check_a_signature(self):
        checkpoint = SealedCheckpoint.make(bytes(32), 7, bytes(32), SIGNER)

        with pytest.raises(AuditError, match="sealed with ed25519"):
            checkpoint.check(SealKey(bytes(32)))

    def test_another_signer_is_refused(self):
        checkpoint = SealedCheckpoint.make(bytes(32), 7, bytes(32), SIGNER)
        other = SigningKey(bytes(range(1, 33))).verify_key

        with pytest.raises(AuditError, match="sealed with key"):
            checkpoint.check(other)


class TestSignedLogs:
    def test_verify_with_the_public_key(self, signed):
        report = verify(signed, key=PUBLIC)

        assert report.ok, report.failure
        assert report.seals_checked == len(read_seals(f"{signed}.seals"))
        assert all(c.algorithm == "ed25519" for c in read_seals(f"{signed}.seals"))

    def test_another_public_key_fails(self, signed):
        other = SigningKey(bytes(range(5, 37))).verify_key

        report = verify(signed, key=other)

        assert report.failure.code is FailureCode.SEAL_INVALID

    def test_proofs_and_bundles_with_the_public_key(self, signed):
        proof = prove_inclusion(signed, 25)
        bundle = make_bundle(signed, 25)

        assert check_proof(proof, key=PUBLIC).sealed
        assert verify_bundle(bundle, key=PUBLIC).ok

    def test_a_public_key_cannot_seal_afresh(self, signed):
        with pytest.raises(SealKeyError, match="cannot make them"):
            prove_inclusion(signed, 25, key=PUBLIC)

    def test_a_recorder_refuses_a_public_key(self, tmp_path):
        osc = logs.bank(4, seed=0)

        with pytest.raises(ValueError, match="a key that can seal"):
            Recorder(tmp_path / "x.log", osc, np.zeros(4), np.zeros(4), key=PUBLIC)
