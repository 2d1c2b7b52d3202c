"""``linoss verify-many`` and ``linoss verify --workers``: verifying at scale.

The command is run in this process through ``cli.main`` with its output
captured. What it prints is checked against verifying the same logs here with
``verify`` and ``verify_many``: every ``ok`` line carries the event count and
run digest ``verify`` reports for that log, every ``FAILED`` line the code and
sequence number of its first failure, and ``--json`` output parses as the
``CollectionReport`` ``verify_many`` returns, timings aside. Exit codes are the
documented ones: 0 every log verified, 1 a log failed or could not be
verified, 2 the command could not start.
"""

from __future__ import annotations

import gc
import json
import re
import socket
from pathlib import Path
from typing import Any

import dask
import distributed  # noqa: F401  (its defaults join dask.config before a test sets one)
import logs
import pytest

from linoss_dynamics import (
    CollectionReport,
    LinOSSError,
    LogVerification,
    VerificationReport,
    checkpoints,
    verify,
    verify_many,
)
from linoss_dynamics.cli import main

PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] (ok|FAILED|ERROR) +(.+?): (.*)$")
SUMMARY = re.compile(
    r"^(ok|FAILED): (\d+) of (\d+) logs verified, (\d+) failed, (\d+) not verified; "
    r"([\d,]+) events in [\d.]+ s$"
)


def record(path: Path, *, size: int = 4, seed: int = 0, every: int = 50) -> Path:
    """A damped bank driven by seeded noise for 200 steps."""
    return logs.record_noise(
        path, size=size, steps=200, seed=seed, checkpoint_every=every
    )


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    root = tmp_path_factory.mktemp("good")
    return [
        str(record(root / f"bank{size}.log", size=size, seed=size))
        for size in (4, 6, 8)
    ]


@pytest.fixture(scope="module")
def damaged(good: list[str]) -> str:
    return str(
        logs.flip_middle_body(Path(good[0]), Path(good[0]).with_name("damaged.log"))
    )


def run(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out, captured.err


def outcomes(report: CollectionReport) -> list[tuple[Any, ...]]:
    """Each result without its timing."""
    return [(r.path, r.status, r.report, r.error, r.attempts) for r in report.results]


def parse_json(out: str) -> CollectionReport:
    """The whole of stdout is one ``CollectionReport``."""
    keys = set(json.loads(out))
    assert {"ok", "logs", "results"} <= keys
    return CollectionReport.model_validate_json(out)


def progress_lines(out: str) -> list[re.Match[str]]:
    matches = [PROGRESS.match(line) for line in out.splitlines()]
    return [m for m in matches if m is not None]


# -- verify-many: human output ---------------------------------------------------------


def test_every_log_verified_prints_a_line_each_and_exits_0(capsys, good):
    code, out, err = run(capsys, "verify-many", *good)

    assert code == 0
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == len(good) + 1
    progress = progress_lines(out)
    assert len(progress) == len(good)
    assert [int(m[1]) for m in progress] == list(range(1, len(good) + 1))
    assert {int(m[2]) for m in progress} == {len(good)}
    assert [m[4] for m in progress] == good  # here, one by one, in input order
    for match in progress:
        report = verify(match[4])
        assert match[3] == "ok"
        assert match[5] == (
            f"{report.events_verified:,} events, run digest {report.run_digest}"
        )
    summary = SUMMARY.match(lines[-1])
    assert summary is not None
    assert summary.groups()[:5] == ("ok", "3", "3", "0", "0")
    events = sum(verify(path).events_verified for path in good)
    assert int(summary[6].replace(",", "")) == events


def test_a_damaged_log_is_reported_failed_and_exits_1(capsys, good, damaged):
    paths = [good[0], damaged, good[1]]
    expected = verify(damaged)
    assert expected.failure is not None

    code, out, _ = run(capsys, "verify-many", *paths)

    assert code == 1
    progress = {m[4]: m for m in progress_lines(out)}
    assert set(progress) == set(paths)
    failure = expected.failure
    assert progress[damaged][3] == "FAILED"
    assert progress[damaged][5] == (
        f"{failure.code.value} at seq {failure.seq}: {failure.message}"
    )
    lines = out.splitlines()
    summary = SUMMARY.match(lines[-2])
    assert summary is not None
    assert summary.groups()[:5] == ("FAILED", "2", "3", "1", "0")
    assert lines[-1] == f"  failed: {damaged}"


def test_a_missing_log_is_reported_as_an_error_and_exits_1(capsys, good, tmp_path):
    missing = str(tmp_path / "missing.log")
    with pytest.raises(LinOSSError) as info:
        verify(missing)

    code, out, _ = run(capsys, "verify-many", good[0], missing)

    assert code == 1
    progress = {m[4]: m for m in progress_lines(out)}
    assert progress[missing][3] == "ERROR"
    assert progress[missing][5] == str(info.value)
    lines = out.splitlines()
    summary = SUMMARY.match(lines[-2])
    assert summary is not None
    assert summary.groups()[:5] == ("FAILED", "1", "2", "0", "1")
    assert lines[-1] == f"  error: {missing}"


# -- verify-many: the list of logs -----------------------------------------------------


def test_no_logs_exits_2(capsys, tmp_path):
    only_comments = tmp_path / "runs.txt"
    only_comments.write_text("# nothing yet\n\n   \n", encoding="utf-8")

    for argv in (("verify-many",), ("verify-many", "--from-file", only_comments)):
        code, out, err = run(capsys, *argv)
        assert code == 2
        assert out == ""
        assert err.startswith("linoss verify-many: no logs given")


def _unreadable(tmp_path: Path, how: str) -> Path:
    if how == "missing":
        return tmp_path / "absent.txt"
    if how == "directory":
        return tmp_path
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9.log\n".encode("latin-1"))
    return path


@pytest.mark.parametrize("how", ["missing", "directory", "not utf-8"])
def test_an_unreadable_list_exits_2(capsys, good, tmp_path, how):
    listing = _unreadable(tmp_path, how)

    code, out, err = run(capsys, "verify-many", good[0], "--from-file", listing)

    assert code == 2
    assert out == ""
    assert err.startswith(f"linoss verify-many: cannot read {listing}")


def test_a_list_skips_blank_and_comment_lines(capsys, good, damaged, tmp_path):
    listing = tmp_path / "runs.txt"
    listing.write_text(
        f"# runs of the week\n\n{good[1]}\n   \n  {damaged}  \n#{good[2]}\n"
        f"   # {good[2]}\n{good[2]}\n",
        encoding="utf-8",
    )
    given = [good[0], good[1], damaged, good[2]]

    code, out, _ = run(capsys, "verify-many", good[0], "--from-file", listing, "--json")

    assert code == 1
    report = parse_json(out)
    assert report.logs == len(given)
    assert outcomes(report) == outcomes(verify_many(given))


# -- verify-many: JSON, workers, arguments ---------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_json_is_the_collection_report(capsys, good, damaged, tmp_path, workers):
    paths = [*good, damaged, str(tmp_path / "missing.log"), good[1]]

    code, out, err = run(capsys, "verify-many", *paths, "--workers", workers, "--json")

    assert code == 1
    assert err == ""
    report = parse_json(out)
    expected = verify_many(paths)
    assert outcomes(report) == outcomes(expected)
    assert report.model_dump(exclude={"seconds", "results"}) == expected.model_dump(
        exclude={"seconds", "results"}
    )


@pytest.mark.parametrize(
    "argv",
    [
        ("--workers", "0"),
        ("--workers", "two"),
        ("--retries", "-1"),
        ("--retries", "x"),
        ("--timeout", "0"),
        ("--timeout", "-3"),
        ("--timeout", "inf"),
        ("--timeout", "soon"),
    ],
)
def test_bad_arguments_exit_2(capsys, good, argv):
    code, out, err = run(capsys, "verify-many", good[0], *argv)

    assert code == 2
    assert out == ""
    assert err.startswith("usage: linoss verify-many")


def test_an_unreachable_scheduler_exits_2(capsys, good):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code, out, err = run(capsys, "verify-many", good[0], "--scheduler", address)

    assert code == 2
    assert out == ""
    assert err.startswith(
        f"linoss verify-many: cannot reach the Dask scheduler at {address}"
    )


# ``--dask`` starts a local cluster whose scheduler serves HTTP on port 8787 even
# without a dashboard; when another program holds that port, distributed warns
# and takes another, and tornado leaves the socket that failed to bind unclosed.
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning")
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <socket.socket:"
    "pytest.PytestUnraisableExceptionWarning"
)
def test_dask_runs_a_local_cluster_end_to_end(capsys, good, damaged):
    paths = [*good, damaged]
    try:
        code, out, _ = run(
            capsys, "verify-many", *paths, "--dask", "--workers", 2, "--json"
        )
    finally:
        gc.collect()  # report an unclosed socket within this test

    assert code == 1
    report = parse_json(out)
    assert outcomes(report) == outcomes(verify_many(paths))


# -- verify --workers ------------------------------------------------------------------


def _verify_json(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[str, str]:
    code, out, err = run(capsys, "verify", *argv, "--json")
    assert code == 0
    VerificationReport.model_validate_json(out)
    return out, err


def test_verify_with_workers_prints_the_sequential_report(capsys, good):
    path = good[2]
    assert len(checkpoints(path)) >= 2  # stretches to split at

    alone, _ = _verify_json(capsys, path)
    split, err = _verify_json(capsys, path, "--workers", 2)

    assert split == alone
    assert json.loads(split) == json.loads(verify(path).model_dump_json())
    assert err == ""


def test_verify_with_workers_on_a_log_without_checkpoints_says_so(capsys, tmp_path):
    path = record(tmp_path / "whole.log", every=0)
    assert checkpoints(path) == []

    alone, quiet = _verify_json(capsys, path)
    split, err = _verify_json(capsys, path, "--workers", 2)

    assert split == alone
    assert quiet == ""
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("linoss verify: notice: ")


def test_verify_with_workers_0_exits_2(capsys, good):
    code, out, err = run(capsys, "verify", good[0], "--workers", 0)

    assert code == 2
    assert out == ""
    assert err.startswith("usage: linoss verify")


def test_verify_results_are_log_verifications(capsys, good):
    """One result line of ``--json`` round-trips through ``LogVerification``."""
    code, out, _ = run(capsys, "verify-many", good[0], "--json")
    assert code == 0
    (result,) = json.loads(out)["results"]
    parsed = LogVerification.model_validate(result)
    assert parsed.path == good[0]
    assert parsed.report == verify(good[0])


def test_a_timeout_runs_in_a_pool_and_verifies(capsys, good):
    code, out, _ = run(capsys, "verify-many", *good, "--timeout", "60", "--json")

    report = json.loads(out)
    assert code == 0
    assert report["verified"] == len(good)
