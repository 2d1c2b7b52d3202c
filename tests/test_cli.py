"""The ``linoss`` command: every verb, its output and its exit codes.

Exit codes, as documented at the top of ``cli.py``: 0 verified or done, 1
verification failed (divergence, broken chain, corruption, truncation), 2 could
not start (missing file, not a log, unsupported version, bad arguments). Most
tests call ``cli.main`` in this process; a few run ``python -m linoss_dynamics``
to check the real command, its exit status and that it never prints a traceback.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import logs
import numpy as np
import pytest

from linoss_dynamics import (
    LogReader,
    LogWriter,
    Oscillator,
    Recorder,
    __version__,
    checkpoints,
    summarize,
    verify,
)
from linoss_dynamics.cli import main
from linoss_dynamics.events import RunClosed, StepApplied
from linoss_dynamics.merkle import MerkleTree

P = 4
STEPS = 20
DIGEST = re.compile(r"run digest ([0-9a-f]{32})")
SCHEMAS = logs.REPO_ROOT / "schemas"
SMALL_DEMO = ("demo", "--steps", 50, "--oscillators", 3)


class _CrashError(Exception):
    """Leaves a ``Recorder`` block early, as a crash would, without a closing record."""


def record_file(path: Path, *, steps: int = STEPS, close: bool = True) -> Path:
    """A run of a damped bank with checkpoints every 5 steps, written to ``path``."""
    osc = logs.bank(P, seed=2)
    U = np.random.default_rng(2).standard_normal((steps, P))
    y0, z0 = logs.initial_state(P, seed=2)
    with (
        contextlib.suppress(_CrashError),
        Recorder(path, osc, y0, z0, checkpoint_every=5) as recorder,
    ):
        for u in U:
            recorder.step(u)
        if not close:
            raise _CrashError
    return path


@pytest.fixture
def log_path(tmp_path) -> Path:
    return record_file(tmp_path / "run.log")


def damaged(path: Path, how: str) -> Path:
    """A copy of the log at ``path`` with event 3 corrupt, torn, or diverged."""
    data = path.read_bytes()
    begin, end = logs.frame_spans(data)[4]  # event seq 3
    out = path.with_name(f"{how}.log")
    if how == "corrupt":
        changed = bytearray(data)
        changed[begin + 40] ^= 0x04
        out.write_bytes(bytes(changed))
    elif how == "truncated":
        out.write_bytes(data[: end - 5])
    else:  # "diverged": a valid chain whose energy is one ULP off
        with LogReader(data) as reader:
            header, records = reader.header, list(reader)
        buffer = io.BytesIO()
        writer = LogWriter(buffer, header)
        for record in records:
            if type(record) is StepApplied and record.seq == 3:
                bumped = float(np.nextafter(record.energy_after, np.inf))
                record = record._replace(energy_after=bumped)
            if type(record) is not RunClosed:
                writer.write(record)
        writer.close()
        out.write_bytes(buffer.getvalue())
    return out


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out, captured.err


def command(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m linoss_dynamics ARGV`` in a child process."""
    proc = subprocess.run(
        [sys.executable, "-m", "linoss_dynamics", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


# -- demo ---------------------------------------------------------------------------------


class TestDemo:
    def test_records_verifies_and_prints_the_run_digest(self, capsys, tmp_path):
        path = tmp_path / "demo.log"

        code, out, _ = run(
            capsys, "demo", "--steps", 200, "--oscillators", 8, "--out", path
        )

        assert code == 0
        assert "recorded 200 steps of 8 damped oscillators" in out
        assert "verified 202 events by replay: ok" in out
        (digest,) = DIGEST.findall(out)
        assert digest == verify(path).run_digest
        assert summarize(path).counts == {
            "step_applied": 200,
            "params_changed": 1,
            "run_closed": 1,
        }

    def test_same_seed_same_run(self, capsys, tmp_path):
        digests = []
        for name in ("a.log", "b.log"):
            run(capsys, *SMALL_DEMO, "--out", tmp_path / name)
            digests.append(verify(tmp_path / name).run_digest)

        code, out, _ = run(
            capsys, *SMALL_DEMO, "--seed", 1, "--out", tmp_path / "c.log"
        )

        assert digests[0] == digests[1]
        assert code == 0
        assert DIGEST.findall(out) != [digests[0]]

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["--steps", "0"], "must be a positive integer; got 0"),
            (["--oscillators", "-3"], "must be a positive integer; got -3"),
            (["--steps", "many"], "invalid _positive value: 'many'"),
            (["--seed", "1.5"], "invalid int value: '1.5'"),
        ],
    )
    def test_bad_arguments(self, capsys, tmp_path, argv, message):
        code, _, err = run(capsys, "demo", *argv, "--out", tmp_path / "x.log")

        assert code == 2
        assert message in err
        assert not (tmp_path / "x.log").exists()

    def test_as_a_command(self, tmp_path):
        path = tmp_path / "demo.log"

        proc = command("demo", "--steps", 200, "--oscillators", 8, "--out", path)

        assert proc.returncode == 0, proc.stderr
        (digest,) = DIGEST.findall(proc.stdout)
        assert digest == verify(path).run_digest


# -- record --------------------------------------------------------------------------------


def record_args(config, inputs, out) -> list:
    return ["record", "--config", config, "--inputs", inputs, "--out", out]


def write_config(path: Path, **fields) -> Path:
    path.write_text(json.dumps(fields), encoding="utf-8")
    return path


CONFIG = {
    "scheme": "damped_imex2",
    "A": [1.0, 2.0, 0.5, 3.0],
    "G": [0.1, 0.2, 0.3, 0.0],
    "dt": 0.05,
    "B": None,
    "allow_unstable": False,
    "y0": [1.0, 0.0, -1.0, 0.5],
}


class TestRecord:
    def test_record_then_verify(self, capsys, tmp_path):
        config = write_config(tmp_path / "run.json", **CONFIG)
        U = np.random.default_rng(4).standard_normal((30, P))
        np.save(tmp_path / "u.npy", U)
        out_path = tmp_path / "run.log"

        code, out, _ = run(capsys, *record_args(config, tmp_path / "u.npy", out_path))
        verified = run(capsys, "verify", out_path)

        assert code == 0
        assert out.startswith("recorded 30 steps in ")
        assert f" s to {out_path}\n" in out
        osc = Oscillator(
            np.array(CONFIG["A"]), 0.05, G=np.array(CONFIG["G"]), mode="imex2"
        )
        buffer = io.BytesIO()
        with Recorder(buffer, osc, np.array(CONFIG["y0"]), np.zeros(P)) as recorder:
            for u in U:
                recorder.step(u)
        assert verified == (
            0,
            f"ok: 31 events verified, run digest {recorder.run_digest.hex()}\n"
            f"Merkle root {recorder.tree_root.hex()}\n",
            "",
        )

    def test_prints_the_run_digest_of_the_log(self, capsys, tmp_path):
        config = write_config(tmp_path / "run.json", **CONFIG)
        np.save(tmp_path / "u.npy", np.ones((3, P)))
        out_path = tmp_path / "run.log"

        code, out, _ = run(capsys, *record_args(config, tmp_path / "u.npy", out_path))

        assert code == 0
        # The digest `verify` and `inspect` print for the closed log.
        assert DIGEST.findall(out) == [verify(out_path).run_digest]

    def test_scalar_inputs_checkpoints_and_full_state(self, capsys, tmp_path):
        config = write_config(
            tmp_path / "run.json",
            **{**CONFIG, "B": [1.0, -1.0, 0.5, 0.0], "dt": [0.01, 0.02, 0.03, 0.04]},
            checkpoint_every=4,
            full_state=True,
        )
        np.save(tmp_path / "u.npy", np.linspace(-1.0, 1.0, 10))
        out_path = tmp_path / "run.log"

        code, _, _ = run(capsys, *record_args(config, tmp_path / "u.npy", out_path))

        assert code == 0
        assert verify(out_path).ok
        assert [seq for seq, _ in checkpoints(out_path)] == [4, 9]
        with LogReader(out_path) as reader:
            steps = [r for r in reader if type(r) is StepApplied]
        assert all(r.y is not None and type(r.u) is float for r in steps)

    def test_refuses_an_existing_log_unless_overwrite(self, capsys, tmp_path):
        config = write_config(tmp_path / "run.json", **CONFIG)
        np.save(tmp_path / "u.npy", np.zeros((3, P)))
        out_path = tmp_path / "run.log"
        out_path.write_text("precious")
        argv = ["record", "--config", config, "--inputs", tmp_path / "u.npy"]

        refused = run(capsys, *argv, "--out", out_path)
        kept = out_path.read_text()
        replaced = run(capsys, *argv, "--out", out_path, "--overwrite")

        assert refused[0] == 2
        assert f"linoss record: {out_path} already exists" in refused[2]
        assert kept == "precious"
        assert replaced[0] == 0
        assert verify(out_path).ok

    @pytest.mark.parametrize(
        ("config", "inputs", "message"),
        [
            (None, np.zeros((3, P)), "linoss record: cannot read"),
            ("{not json", np.zeros((3, P)), "is not a run config"),
            ({**CONFIG, "colour": "blue"}, np.zeros((3, P)), "is not a run config"),
            ({**CONFIG, "scheme": "rk4"}, np.zeros((3, P)), "is not a run config"),
            (
                {**CONFIG, "A": [1.0, -2.0, 0.5, 3.0]},
                np.zeros((3, P)),
                "A stiffness must be non-negative; got -2.0 at index 1",
            ),
            (CONFIG, None, "linoss record: cannot read"),
            (CONFIG, np.float64(1.0), "must hold one input per step"),
            (CONFIG, np.full((3, P), "a"), "u must hold real numbers"),
            (CONFIG, np.zeros((3, P + 1)), "u must have shape"),
        ],
        ids=[
            "missing-config",
            "not-json",
            "unknown-key",
            "unknown-scheme",
            "negative-stiffness",
            "missing-inputs",
            "scalar-inputs",
            "string-inputs",
            "wrong-input-shape",
        ],
    )
    def test_cannot_start(self, capsys, tmp_path, config, inputs, message):
        config_path = tmp_path / "run.json"
        if isinstance(config, dict):
            write_config(config_path, **config)
        elif isinstance(config, str):
            config_path.write_text(config)
        if inputs is not None:
            np.save(tmp_path / "u.npy", inputs)

        code, _, err = run(
            capsys, *record_args(config_path, tmp_path / "u.npy", tmp_path / "run.log")
        )

        assert code == 2
        assert message in err

    def test_object_arrays_are_not_unpickled(self, capsys, tmp_path):
        config = write_config(tmp_path / "run.json", **CONFIG)
        np.save(tmp_path / "u.npy", np.array([{"a": 1}], dtype=object))

        code, _, err = run(
            capsys, *record_args(config, tmp_path / "u.npy", tmp_path / "run.log")
        )

        assert code == 2
        assert "cannot read" in err

    def test_missing_arguments(self, capsys, tmp_path):
        code, _, err = run(capsys, "record", "--config", tmp_path / "run.json")

        assert code == 2
        assert "the following arguments are required: --inputs, --out" in err


# -- verify --------------------------------------------------------------------------------


REPORT_KEYS = {
    "ok",
    "path",
    "events_verified",
    "first_seq",
    "last_seq",
    "run_digest",
    "closed",
    "tree_root",
    "seals_checked",
    "sealed_events",
    "failure",
}


class TestVerify:
    def test_ok(self, capsys, log_path):
        code, out, _ = run(capsys, "verify", log_path)

        report = verify(log_path)
        assert code == 0
        assert out == (
            f"ok: {report.events_verified} events verified, run digest "
            f"{report.run_digest}\nMerkle root {report.tree_root}\n"
        )

    def test_json(self, capsys, log_path):
        code, out, _ = run(capsys, "verify", log_path, "--json")

        payload = json.loads(out)
        assert code == 0
        assert set(payload) == REPORT_KEYS
        assert payload["ok"] is True
        assert payload["failure"] is None
        assert payload["events_verified"] == STEPS + STEPS // 5 + 1
        assert payload["run_digest"] == verify(log_path).run_digest
        assert payload["path"] == str(log_path)
        with LogReader(log_path) as reader:
            tree = MerkleTree()
            for body in reader.bodies():
                tree.append(body)
        assert payload["tree_root"] == tree.root().hex()
        assert payload["seals_checked"] == 0

    @pytest.mark.parametrize(
        ("how", "failure_code"),
        [
            ("corrupt", "frame_corrupt"),
            ("truncated", "log_truncated"),
            ("diverged", "energy_diverged"),
        ],
    )
    def test_failed(self, capsys, log_path, how, failure_code):
        path = damaged(log_path, how)

        code, out, _ = run(capsys, "verify", path, "--json")
        human = run(capsys, "verify", path)

        payload = json.loads(out)
        assert code == 1
        assert payload["ok"] is False
        assert payload["run_digest"] is None
        assert payload["failure"]["code"] == failure_code
        assert payload["failure"]["seq"] == 3
        assert human[0] == 1
        assert human[1].startswith("FAILED after 3 verified events\n")
        assert f"  {failure_code} at seq 3: " in human[1]

    def test_failed_energy_shows_the_exact_values(self, capsys, log_path):
        path = damaged(log_path, "diverged")
        failure = verify(path).failure

        code, out, _ = run(capsys, "verify", path)

        assert code == 1
        assert (
            f"  energy_after: expected {failure.mismatch.expected}, actual "
            f"{failure.mismatch.actual} (1 ulp)"
        ) in out

    def test_unclosed_log(self, capsys, tmp_path):
        path = record_file(tmp_path / "open.log", close=False)

        code, out, _ = run(capsys, "verify", path)

        assert code == 0
        assert out.splitlines()[0].endswith(
            "(no closing record: the run may have stopped early)"
        )

    def test_from_a_checkpoint_and_to(self, capsys, log_path):
        code, out, _ = run(capsys, "verify", log_path, "--from", 5, "--to", 8, "--json")

        payload = json.loads(out)
        assert code == 0
        assert (payload["first_seq"], payload["last_seq"]) == (5, 8)
        assert payload["events_verified"] == 4

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["--from", "4"], "from_seq must be 0 or the seq of a checkpoint; got 4"),
            (["--from", "-1"], "must be a sequence number >= 0; got -1"),
            (["--to", "x"], "invalid _seq value: 'x'"),
            (["--from", "11", "--to", "5"], "to_seq must be >= from_seq"),
            (["--colour"], "unrecognized arguments: --colour"),
        ],
    )
    def test_bad_arguments(self, capsys, log_path, argv, message):
        code, out, err = run(capsys, "verify", log_path, *argv)

        assert code == 2
        assert message in err
        assert out == ""

    def test_missing_file(self, capsys, tmp_path):
        path = tmp_path / "missing.log"

        code, _, err = run(capsys, "verify", path)

        assert code == 2
        assert err == f"linoss verify: cannot open {path}: No such file or directory\n"

    @pytest.mark.parametrize("content", [b"", b"hello", b'{"kind": "run_started"}\n'])
    def test_not_a_log(self, capsys, tmp_path, content):
        path = tmp_path / "notes.txt"
        path.write_bytes(content)

        code, _, err = run(capsys, "verify", path)

        assert code == 2
        assert f"{path} is not a linoss run log" in err

    def test_unsupported_version(self, capsys, log_path):
        data = bytearray(log_path.read_bytes())
        data[7] = 2
        log_path.write_bytes(bytes(data))

        code, out, _ = run(capsys, "verify", log_path, "--json")

        assert code == 2
        assert json.loads(out)["failure"]["code"] == "unsupported_version"


# -- inspect -------------------------------------------------------------------------------


class TestInspect:
    def test_json(self, capsys, log_path):
        code, out, _ = run(capsys, "inspect", log_path, "--json")

        payload = json.loads(out)
        expected = json.loads(summarize(log_path).model_dump_json())
        assert code == 0
        assert {"events", "run_digest", "final_state_digest", "fingerprint"} <= set(
            payload
        )
        assert payload == expected
        assert payload["run_digest"] == verify(log_path).run_digest
        assert payload["events"] == STEPS + STEPS // 5 + 1

    def test_human(self, capsys, log_path):
        report = summarize(log_path)

        code, out, _ = run(capsys, "inspect", log_path)

        assert code == 0
        assert out.startswith(f"{log_path}: damped_imex1, {P} oscillators\n")
        assert f"  run digest {report.run_digest}\n" in out
        assert f"  final state digest {report.final_state_digest}\n" in out
        assert "4 checkpoint_taken, 1 run_closed, 20 step_applied" in out

    @pytest.mark.parametrize("how", ["corrupt", "truncated"])
    def test_damaged(self, capsys, log_path, how):
        path = damaged(log_path, how)

        code, out, _ = run(capsys, "inspect", path, "--json")

        assert code == 1
        assert json.loads(out)["failure"]["seq"] == 3

    def test_missing_and_not_a_log(self, capsys, tmp_path):
        (tmp_path / "text.log").write_text("text")

        missing = run(capsys, "inspect", tmp_path / "missing.log")
        text = run(capsys, "inspect", tmp_path / "text.log")

        assert missing[0] == text[0] == 2
        assert "cannot open" in missing[2]
        assert "is not a linoss run log" in text[2]

    def test_plot(self, capsys, log_path, tmp_path):
        png = tmp_path / "plot.png"
        has_matplotlib = importlib.util.find_spec("matplotlib") is not None

        code, _, err = run(capsys, "inspect", log_path, "--plot", png)

        if has_matplotlib:
            assert code == 0
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        else:
            assert code == 2
            assert err == (
                "linoss inspect --plot needs matplotlib: pip install "
                "'linoss-dynamics[plot]'\n"
            )
            assert not png.exists()


# -- diff, export, schema -------------------------------------------------------------------


class TestDiff:
    def test_identical(self, capsys, log_path, tmp_path):
        other = record_file(tmp_path / "again.log")

        code, out, _ = run(capsys, "diff", log_path, other)

        assert code == 0
        digest = verify(log_path).run_digest
        assert (
            out == f"identical: {STEPS + STEPS // 5 + 1} events, run digest {digest}\n"
        )

    def test_different(self, capsys, log_path, tmp_path):
        shorter = record_file(tmp_path / "short.log", steps=STEPS - 1)

        code, out, _ = run(capsys, "diff", log_path, shorter, "--json")
        human = run(capsys, "diff", log_path, shorter)

        payload = json.loads(out)
        assert code == 1
        assert payload["identical"] is False
        assert payload["difference"]["seq"] == STEPS - 1 + (STEPS - 1) // 5
        assert human[0] == 1
        assert "the logs differ after" in human[1]

    def test_damaged_and_missing(self, capsys, log_path, tmp_path):
        corrupt = damaged(log_path, "corrupt")

        found = run(capsys, "diff", log_path, corrupt, "--json")
        missing = run(capsys, "diff", log_path, tmp_path / "missing.log")

        assert found[0] == 1
        assert json.loads(found[1])["difference"]["code"] == "frame_corrupt"
        assert missing[0] == 2
        assert "linoss diff: cannot open" in missing[2]


class TestExport:
    def test_jsonl_to_stdout(self, capsys, log_path):
        code, out, _ = run(capsys, "export", log_path, "--jsonl")

        lines = [json.loads(line) for line in out.splitlines()]
        assert code == 0
        assert len(lines) == summarize(log_path).events + 1
        assert lines[0]["kind"] == "run_started"
        assert lines[-1]["kind"] == "run_closed"
        assert [line.get("seq") for line in lines[1:]] == list(range(len(lines) - 1))
        for line in lines:
            schema = json.loads(
                (SCHEMAS / f"{line['kind']}.schema.json").read_text(encoding="utf-8")
            )
            jsonschema.validate(line, schema)

    def test_jsonl_to_a_file(self, capsys, log_path, tmp_path):
        out_path = tmp_path / "run.jsonl"

        code, out, _ = run(capsys, "export", log_path, "--jsonl", "--out", out_path)

        lines = out_path.read_text(encoding="utf-8").splitlines()
        assert code == 0
        assert out == f"wrote {len(lines)} lines to {out_path}\n"
        assert len(lines) == summarize(log_path).events + 1

    def test_exit_codes(self, capsys, log_path, tmp_path):
        corrupt = damaged(log_path, "corrupt")

        no_format = run(capsys, "export", log_path)
        damage = run(capsys, "export", corrupt, "--jsonl", "--out", tmp_path / "x")
        missing = run(capsys, "export", tmp_path / "missing.log", "--jsonl")

        assert no_format[0] == 2
        assert "the following arguments are required: --jsonl" in no_format[2]
        assert damage[0] == 1
        assert "event seq 3 (frame at byte" in damage[2]
        assert missing[0] == 2


class TestSchema:
    def test_committed_schemas_are_current(self, capsys):
        code, out, _ = run(capsys, "schema", "--check", "--out", SCHEMAS)

        assert code == 0
        assert out == f"schemas in {SCHEMAS} match the models\n"

    def test_write_then_check(self, capsys, tmp_path):
        folder = tmp_path / "schemas"

        stale = run(capsys, "schema", "--check", "--out", folder)
        written = run(capsys, "schema", "--out", folder)
        current = run(capsys, "schema", "--check", "--out", folder)

        names = sorted(p.name for p in SCHEMAS.glob("*.schema.json"))
        assert stale[0] == 1
        assert f"{len(names)} schema file(s) in {folder} differ" in stale[2]
        assert written == (0, f"wrote {len(names)} schemas to {folder}\n", "")
        assert sorted(p.name for p in folder.iterdir()) == names
        assert current[0] == 0

    def test_a_changed_schema_is_stale(self, capsys, tmp_path):
        folder = tmp_path / "schemas"
        run(capsys, "schema", "--out", folder)
        (folder / "run_closed.schema.json").write_text("{}\n")

        code, _, err = run(capsys, "schema", "--check", "--out", folder)

        assert code == 1
        assert "1 schema file(s)" in err
        assert "run_closed.schema.json" in err


# -- the command as a whole -------------------------------------------------------------------


class TestArguments:
    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            ([], "the following arguments are required: VERB"),
            (["replay"], "invalid choice: 'replay'"),
            (["verify"], "the following arguments are required: path"),
            (["diff", "a.log"], "the following arguments are required: b"),
        ],
    )
    def test_bad_arguments(self, capsys, argv, message):
        code, _, err = run(capsys, *argv)

        assert code == 2
        assert message in err

    def test_version_and_help(self, capsys):
        version = run(capsys, "--version")
        helped = run(capsys, "verify", "--help")

        assert version == (0, f"{__version__}\n", "")
        assert helped[0] == 0
        assert "replay a log and check every event" in helped[1]


class TestExitCodesAreTheSameForEveryVerb:
    """Damage is exit 1 whichever verb finds it; a missing file is exit 2."""

    @pytest.mark.parametrize("verb", ["verify", "inspect", "export", "diff"])
    def test_damaged_event(self, capsys, log_path, verb):
        path = damaged(log_path, "truncated")
        extra = {"export": ["--jsonl"], "diff": [log_path]}.get(verb, [])

        code, _, _ = run(capsys, verb, path, *extra)

        assert code == 1

    @pytest.mark.parametrize("verb", ["verify", "inspect", "export", "diff"])
    def test_log_cut_inside_its_header(self, capsys, log_path, verb):
        data = log_path.read_bytes()
        header_end = logs.frame_spans(data)[0][1]
        log_path.write_bytes(data[: header_end - 10])
        extra = {"export": ["--jsonl"], "diff": [log_path]}.get(verb, [])

        code, _, _ = run(capsys, verb, log_path, *extra)

        assert code == 1  # "1 verification failed (... truncation)"

    @pytest.mark.parametrize("verb", ["verify", "inspect", "export", "diff"])
    def test_missing_file(self, capsys, tmp_path, verb):
        path = tmp_path / "missing.log"
        extra = {"export": ["--jsonl"], "diff": [path]}.get(verb, [])

        code, _, err = run(capsys, verb, path, *extra)

        assert code == 2
        assert err.startswith(f"linoss {verb}: cannot open {path}")


class TestAsACommand:
    def test_verify_exit_codes(self, log_path, tmp_path):
        corrupt = damaged(log_path, "corrupt")

        ok = command("verify", log_path, "--json")
        failed = command("verify", corrupt, "--json")
        missing = command("verify", tmp_path / "missing.log")

        assert ok.returncode == 0
        assert json.loads(ok.stdout)["ok"] is True
        assert failed.returncode == 1
        assert json.loads(failed.stdout)["failure"]["code"] == "frame_corrupt"
        assert missing.returncode == 2
        assert "linoss verify: cannot open" in missing.stderr

    def test_bad_arguments(self):
        proc = command("verify", "--from", "minus")

        assert proc.returncode == 2
        assert proc.stderr.startswith("usage: linoss verify")

    def test_inspect_plot(self, log_path, tmp_path):
        png = tmp_path / "plot.png"
        has_matplotlib = importlib.util.find_spec("matplotlib") is not None

        proc = command("inspect", log_path, "--plot", png)

        assert proc.returncode == (0 if has_matplotlib else 2)
        assert png.exists() == has_matplotlib
        if not has_matplotlib:
            assert "needs matplotlib" in proc.stderr

    def test_record_verify_inspect(self, tmp_path):
        write_config(tmp_path / "run.json", **CONFIG)
        np.save(tmp_path / "u.npy", np.ones((5, P)))

        recorded = command(*record_args("run.json", "u.npy", "run.log"), cwd=tmp_path)
        verified = command("verify", "run.log", cwd=tmp_path)
        inspected = command("inspect", "run.log", "--json", cwd=tmp_path)

        assert recorded.returncode == 0, recorded.stderr
        assert verified.returncode == 0
        (digest,) = DIGEST.findall(verified.stdout)
        root = verify(tmp_path / "run.log").tree_root
        assert verified.stdout == (
            f"ok: 6 events verified, run digest {digest}\nMerkle root {root}\n"
        )
        assert json.loads(inspected.stdout)["run_digest"] == digest

    @pytest.mark.parametrize(
        "inputs",
        [np.array(["0.5", "x"]), np.array([1 + 2j, 3 - 1j])],
        ids=["strings", "complex"],
    )
    def test_record_refuses_scalar_inputs_that_are_not_real(self, tmp_path, inputs):
        write_config(tmp_path / "run.json", **{**CONFIG, "B": [1.0, 0.5, 0.0, 2.0]})
        np.save(tmp_path / "u.npy", inputs)

        proc = command(*record_args("run.json", "u.npy", "run.log"), cwd=tmp_path)

        assert proc.returncode == 2, proc.stdout
        assert "u must hold real numbers" in proc.stderr
