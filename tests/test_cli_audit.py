"""The audit verbs of ``linoss``: keygen, checkpoint, prove, check-proof, bundle,
verify-bundle, and verify with a key; their output and exit codes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import logs
import numpy as np
import pytest

from linoss_dynamics import (
    Recorder,
    SealedCheckpoint,
    SealKey,
    SigningKey,
    VerifyKey,
    load_key,
    read_seals,
)
from linoss_dynamics.cli import main


def run(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out, captured.err


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Path, Path]:
    """A sealed log and its key file."""
    key_file = tmp_path / "seal.key"
    key = SealKey(bytes(range(40)))
    key_file.write_text(key.hex() + "\n")
    osc = logs.bank(4, seed=0)
    y0, z0 = logs.initial_state(4, seed=0)
    path = tmp_path / "run.log"
    with Recorder(path, osc, y0, z0, checkpoint_every=15, key=key) as recorder:
        for u in np.random.default_rng(0).standard_normal((50, 4)):
            recorder.step(u)
    return path, key_file


class TestKeygen:
    def test_writes_a_private_key_file(self, capsys, tmp_path):
        path = tmp_path / "k.key"

        code, out, _ = run(capsys, "keygen", path)

        key = SealKey.from_file(path)
        assert code == 0
        assert key.key_id in out
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_ed25519_writes_a_private_and_a_public_key(self, capsys, tmp_path):
        path = tmp_path / "signer.key"

        code, out, _ = run(capsys, "keygen", path, "--ed25519")

        private, public = load_key(path), load_key(f"{path}.pub")
        assert code == 0
        assert isinstance(private, SigningKey)
        assert isinstance(public, VerifyKey)
        assert private.key_id == public.key_id
        assert private.key_id in out
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_record_signs_and_the_public_key_verifies(self, capsys, tmp_path):
        key = tmp_path / "signer.key"
        run(capsys, "keygen", key, "--ed25519")
        config = tmp_path / "run.json"
        config.write_text(
            json.dumps(
                {"scheme": "im", "A": [1.0, 2.0], "G": None, "dt": 0.1, "B": None}
                | {"allow_unstable": False, "checkpoint_every": 5}
            )
        )
        np.save(tmp_path / "u.npy", np.ones((12, 2)))
        log = tmp_path / "run.log"

        recorded = run(
            capsys, "record", "--config", config, "--inputs", tmp_path / "u.npy",
            "--out", log, "--key-file", key,
        )  # fmt: skip
        verified = run(capsys, "verify", log, "--key-file", f"{key}.pub")

        assert recorded[0] == 0
        assert verified[0] == 0
        assert "3 sealed checkpoints checked" in verified[1]

    def test_never_replaces_a_key(self, capsys, tmp_path):
        path = tmp_path / "k.key"
        path.write_text("keep me")

        code, _, err = run(capsys, "keygen", path)

        assert code == 2
        assert "not replacing" in err
        assert path.read_text() == "keep me"


class TestVerifyWithKey:
    def test_ok_counts_the_seals(self, capsys, sealed):
        path, key_file = sealed

        code, out, _ = run(capsys, "verify", path, "--key-file", key_file)

        assert code == 0
        assert f"{len(read_seals(f'{path}.seals'))} sealed checkpoints checked" in out

    def test_json_report(self, capsys, sealed):
        path, key_file = sealed

        code, out, _ = run(capsys, "verify", path, "--key-file", key_file, "--json")

        report = json.loads(out)
        assert code == 0
        assert report["seals_checked"] == len(read_seals(f"{path}.seals"))
        assert len(report["tree_root"]) == 64

    def test_key_from_the_environment(self, capsys, sealed, monkeypatch):
        path, key_file = sealed
        monkeypatch.setenv("LINOSS_SEAL_KEY", key_file.read_text())

        code, _, _ = run(capsys, "verify", path, "--key-env")

        assert code == 0

    def test_another_key_fails(self, capsys, sealed, tmp_path):
        path, _ = sealed
        other = tmp_path / "other.key"
        other.write_text(SealKey.generate().hex())

        code, out, _ = run(capsys, "verify", path, "--key-file", other)

        assert code == 1
        assert "seal_invalid" in out

    def test_missing_seals_fail(self, capsys, sealed):
        path, key_file = sealed
        os.remove(f"{path}.seals")

        code, out, _ = run(capsys, "verify", path, "--key-file", key_file)

        assert code == 1
        assert "seal_missing" in out

    @pytest.mark.parametrize("content", ["", "zz", "00" * 8, "00" * 65])
    def test_a_bad_key_file_cannot_start(self, capsys, sealed, tmp_path, content):
        path, _ = sealed
        bad = tmp_path / "bad.key"
        bad.write_text(content)

        code, _, err = run(capsys, "verify", path, "--key-file", bad)

        assert code == 2
        assert "key file" in err

    def test_the_env_variable_unset(self, capsys, sealed, monkeypatch):
        path, _ = sealed
        monkeypatch.delenv("LINOSS_SEAL_KEY", raising=False)

        code, _, err = run(capsys, "verify", path, "--key-env")

        assert code == 2
        assert "LINOSS_SEAL_KEY is not set" in err


class TestCheckpoint:
    def test_prints_a_sealed_checkpoint_of_the_whole_log(self, capsys, sealed):
        path, key_file = sealed

        code, out, _ = run(capsys, "checkpoint", path, "--key-file", key_file)

        checkpoint = SealedCheckpoint.parse(out)
        checkpoint.check(SealKey.from_file(key_file))
        assert code == 0
        assert checkpoint.size == len(logs.frame_spans(path.read_bytes())) - 1

    def test_needs_the_key(self, capsys, sealed):
        path, _ = sealed

        code, _, err = run(capsys, "checkpoint", path)

        assert code == 2
        assert "--key-file" in err


class TestProofs:
    def test_prove_then_check(self, capsys, sealed, tmp_path):
        path, key_file = sealed
        proof = tmp_path / "p.json"

        code, out, _ = run(capsys, "prove", path, "--seq", 20)
        proof.write_text(out)
        checked = run(capsys, "check-proof", proof, "--key-file", key_file)

        assert code == 0
        assert checked[0] == 0
        assert checked[1].startswith("ok: event 20 is in the first")

    def test_consistency(self, capsys, sealed, tmp_path):
        path, key_file = sealed
        proof = tmp_path / "c.json"
        first = read_seals(f"{path}.seals")[0].size

        code, out, _ = run(capsys, "prove", path, "--from-size", first)
        proof.write_text(out)
        checked = run(capsys, "check-proof", proof, "--key-file", key_file, "--json")

        assert code == 0
        assert checked[0] == 0
        assert json.loads(checked[1])["old_size"] == first

    def test_a_damaged_proof_fails(self, capsys, sealed, tmp_path):
        path, key_file = sealed
        proof = tmp_path / "p.json"
        _, out, _ = run(capsys, "prove", path, "--seq", 20)
        data = json.loads(out)
        data["path"][0] = "0" * 64
        proof.write_text(json.dumps(data))

        code, out, _ = run(capsys, "check-proof", proof, "--key-file", key_file)

        assert code == 1
        assert out.startswith("FAILED: the audit path does not lead")

    def test_proving_a_log_changed_after_its_seal_fails(self, capsys, sealed):
        path, _ = sealed
        seals = read_seals(f"{path}.seals")
        forged = SealedCheckpoint(
            seals[0].run, seals[0].size, bytes(32), seals[0].key_id, seals[0].seal
        )
        Path(f"{path}.seals").write_text(forged.text())

        code, _, err = run(capsys, "prove", path, "--seq", 3)

        assert code == 1
        assert "changed after it was sealed" in err

    def test_not_a_proof_cannot_start(self, capsys, tmp_path):
        path = tmp_path / "p.json"
        path.write_text("{}")

        code, _, err = run(capsys, "check-proof", path)

        assert code == 2
        assert "not a proof" in err

    def test_prove_needs_one_of_seq_and_from_size(self, capsys, sealed):
        path, _ = sealed

        assert run(capsys, "prove", path)[0] == 2
        assert run(capsys, "prove", path, "--seq", 1, "--from-size", 2)[0] == 2


class TestBundles:
    def test_bundle_then_verify(self, capsys, sealed, tmp_path):
        path, key_file = sealed
        out_file = tmp_path / "part.bundle"

        code, _, _ = run(
            capsys, "bundle", path, "--seq", 20, "--to", 30, "--out", out_file
        )
        verified = run(capsys, "verify-bundle", out_file, "--key-file", key_file)

        assert code == 0
        assert verified[0] == 0
        assert "to 30 of run" in verified[1]

    def test_a_damaged_bundle_fails(self, capsys, sealed, tmp_path):
        path, key_file = sealed
        out_file = tmp_path / "part.bundle"
        run(capsys, "bundle", path, "--seq", 20, "--out", out_file)
        data = bytearray(out_file.read_bytes())
        data[len(data) // 2] ^= 4
        out_file.write_bytes(bytes(data))

        code, _, err = run(capsys, "verify-bundle", out_file, "--key-file", key_file)

        assert code == 1
        assert "damaged" in err

    def test_another_key_fails(self, capsys, sealed, tmp_path):
        path, _ = sealed
        out_file = tmp_path / "part.bundle"
        other = tmp_path / "other.key"
        other.write_text(SealKey.generate().hex())
        run(capsys, "bundle", path, "--seq", 20, "--out", out_file)

        code, out, _ = run(capsys, "verify-bundle", out_file, "--key-file", other)

        assert code == 1
        assert "seal_invalid" in out

    def test_not_a_bundle_cannot_start(self, capsys, tmp_path):
        path = tmp_path / "x.bundle"
        path.write_bytes(b"hello")

        code, _, err = run(capsys, "verify-bundle", path)

        assert code == 2
        assert "not a bundle" in err
