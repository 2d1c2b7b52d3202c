"""``verify_many``, ``verify_each`` and ``dask_executor``: collections of logs.

A collection is verified here, in a process pool the function starts, on a
caller's ``ProcessPoolExecutor`` and on a Dask cluster of worker processes. The
expectation for every log comes from verifying it on its own, in this process,
with ``verify``: its report, or the message of the error that stops ``verify``.
The collection mixes intact logs of different sizes, a copy with one byte
flipped inside a frame, a missing path, a file that is not a log and a path
given twice; the order of ``results`` (failed, then error, then verified, each
in input order) is derived from the statuses and the input positions.

Lost workers are real: worker processes are killed with SIGKILL while the
collection runs. So that a loss does not depend on timing, one entry of such a
collection is a named pipe: the task that reads it blocks in ``open`` until
this process writes a log's bytes into the pipe, so it is certainly still
running when the workers are killed, and it can only finish once the log is
fed to a later attempt.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import logging
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import dask
import distributed
import fsspec
import logs
import psutil
import pytest
from fsspec.registry import known_implementations
from hypothesis import given, settings
from hypothesis import strategies as st

from linoss_dynamics import (
    CollectionReport,
    FailureCode,
    InvalidValueError,
    LinOSSError,
    LogStatus,
    LogVerification,
    VerificationReport,
    fleet,
    verify,
    verify_each,
    verify_many,
)

# A local cluster started without a dashboard still serves HTTP on port 8787;
# when another program holds that port, distributed warns and takes another,
# and tornado leaves the socket that failed to bind unclosed. Neither matters
# here. The tests that start such a cluster collect garbage before they end,
# so the unclosed socket is reported (and ignored) within them.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning"),
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <socket.socket:"
        "pytest.PytestUnraisableExceptionWarning"
    ),
]

RANK = {LogStatus.FAILED: 0, LogStatus.ERROR: 1, LogStatus.VERIFIED: 2}
LOST = "verification did not finish after"
WAIT_SECONDS = 60.0
FEED_SECONDS = 300.0


# -- logs ------------------------------------------------------------------------------


class Expected(NamedTuple):
    """What verifying one log on its own gives."""

    status: LogStatus
    report: VerificationReport | None
    error: str | None


def expected_of(path: str, status: LogStatus) -> Expected:
    """``verify(path)`` in this process: its report, or the message that stopped it."""
    if status is LogStatus.ERROR:
        with pytest.raises(LinOSSError) as info:
            verify(path)
        return Expected(status, None, str(info.value))
    report = verify(path)
    assert report.ok is (status is LogStatus.VERIFIED)
    return Expected(status, report, None)


class Collection(NamedTuple):
    """Logs of every kind and what each gives when verified on its own."""

    good: list[str]
    damaged: str
    missing: str
    not_log: str
    expected: dict[str, Expected]

    @property
    def mixed(self) -> list[str]:
        """Every kind, the first good log twice, the repeat beside its first place."""
        g0, g1, g2 = self.good
        return [g0, self.damaged, g0, self.missing, g1, self.not_log, g2]


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Collection:
    root = tmp_path_factory.mktemp("collection")
    good = [
        logs.record_noise(
            root / f"bank{size}.log", size=size, steps=150 + 50 * size, seed=size
        )
        for size in (4, 6, 8)
    ]
    damaged = logs.flip_middle_body(good[0], root / "damaged.log")
    not_log = root / "notes.txt"
    not_log.write_text("not a run log\n" * 20, encoding="utf-8")
    missing = root / "missing.log"
    expected = {str(p): expected_of(str(p), LogStatus.VERIFIED) for p in good}
    expected[str(damaged)] = expected_of(str(damaged), LogStatus.FAILED)
    expected[str(missing)] = expected_of(str(missing), LogStatus.ERROR)
    expected[str(not_log)] = expected_of(str(not_log), LogStatus.ERROR)
    failure = expected[str(damaged)].report.failure
    assert failure is not None
    assert failure.code is FailureCode.FRAME_CORRUPT
    return Collection(
        [str(p) for p in good], str(damaged), str(missing), str(not_log), expected
    )


# -- expectations ----------------------------------------------------------------------


def outcome(result: LogVerification) -> tuple[Any, ...]:
    return (result.path, result.status, result.report, result.error)


def expected_results(paths: list[str], expected: dict[str, Expected]) -> list[tuple]:
    """Outcomes in report order: failed, error, verified; each in input order."""
    places = sorted(
        range(len(paths)), key=lambda i: (RANK[expected[paths[i]].status], i)
    )
    return [(paths[i], *expected[paths[i]]) for i in places]


def assert_summary(
    report: CollectionReport, paths: list[str], expected: dict[str, Expected]
) -> None:
    """Counts, ``ok`` and ``events_verified`` follow from the logs' own reports."""
    statuses = Counter(expected[p].status for p in paths)
    assert report.logs == len(paths)
    assert report.verified == statuses[LogStatus.VERIFIED]
    assert report.failed == statuses[LogStatus.FAILED]
    assert report.errors == statuses[LogStatus.ERROR]
    assert report.ok is (statuses[LogStatus.VERIFIED] == len(paths))
    assert report.events_verified == sum(
        expected[p].report.events_verified
        for p in paths
        if expected[p].report is not None
    )


@contextlib.contextmanager
def placement(how: str) -> Iterator[dict[str, Any]]:
    """Keyword arguments that run a collection here, on its own pool, or on ours."""
    if how == "here":
        yield {}
    elif how == "own pool":
        yield {"workers": 2}
    else:
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(2, mp_context=context) as pool:
            yield {"executor": pool}


PLACEMENTS = ["here", "own pool", "caller's executor"]


# -- results ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", PLACEMENTS)
def test_each_log_gets_the_report_verify_gives_it(how, collection):
    paths = collection.mixed
    seen: list[LogVerification] = []
    with placement(how) as where:
        report = verify_many(paths, on_result=seen.append, **where)
    assert [outcome(r) for r in report.results] == expected_results(
        paths, collection.expected
    )
    assert all(r.attempts == 1 for r in report.results)
    assert_summary(report, paths, collection.expected)
    assert not report.ok
    # on_result saw every result once, as it arrived
    assert sorted(map(outcome, seen), key=repr) == sorted(
        map(outcome, report.results), key=repr
    )
    assert CollectionReport.model_validate_json(report.model_dump_json()) == report


@pytest.mark.parametrize("how", PLACEMENTS)
def test_verify_each_yields_one_result_per_path(how, collection):
    paths = collection.mixed
    with placement(how) as where:
        results = list(verify_each(paths, **where))
    assert Counter(r.path for r in results) == Counter(paths)
    for result in results:
        assert outcome(result)[1:] == tuple(collection.expected[result.path])
    if how == "here":  # one by one, in input order
        assert [r.path for r in results] == paths


@pytest.mark.parametrize(
    ("extra", "ok"), [((), True), (("damaged",), False), (("missing",), False)]
)
def test_ok_only_when_every_log_verified(collection, extra, ok):
    paths = collection.good + [getattr(collection, name) for name in extra]
    report = verify_many(paths)
    assert report.ok is ok
    assert (report.verified == report.logs) is ok
    assert_summary(report, paths, collection.expected)


@settings(max_examples=40)
@given(data=st.data())
def test_results_are_grouped_by_status_in_input_order(collection, data):
    pool = [
        *collection.good,
        collection.damaged,
        collection.missing,
        collection.not_log,
    ]
    paths = data.draw(st.permutations(pool)).copy()
    paths = paths[: data.draw(st.integers(1, len(paths)))]
    report = verify_many(paths)
    assert [outcome(r) for r in report.results] == expected_results(
        paths, collection.expected
    )
    assert_summary(report, paths, collection.expected)


def test_a_repeated_path_keeps_each_of_its_input_places(collection):
    g0, g1, _ = collection.good
    paths = [g0, g1, g0]
    report = verify_many(paths)
    assert [r.path for r in report.results] == paths


def test_paths_may_be_path_objects_and_any_iterable(collection):
    paths = [Path(p) for p in collection.good]
    report = verify_many(p for p in paths)
    assert [r.path for r in report.results] == collection.good
    assert report.ok


# -- bad arguments ---------------------------------------------------------------------


def _each(paths: Any, **kwargs: Any) -> list[LogVerification]:
    return list(verify_each(paths, **kwargs))


def _many(paths: Any, **kwargs: Any) -> CollectionReport:
    return verify_many(paths, **kwargs)


@pytest.mark.parametrize("run", [_each, _many], ids=["verify_each", "verify_many"])
@pytest.mark.parametrize(
    ("paths", "kwargs", "argument"),
    [
        ("run.log", {}, "paths"),
        (Path("run.log"), {}, "paths"),
        (b"run.log", {}, "paths"),
        ([1], {}, "paths"),
        (["run.log", None], {}, "paths"),
        ([b"run.log"], {}, "paths"),
        (["run.log"], {"retries": -1}, "retries"),
        (["run.log"], {"retries": True}, "retries"),
        (["run.log"], {"retries": 1.0}, "retries"),
        (["run.log"], {"workers": 0}, "workers"),
        (["run.log"], {"workers": True}, "workers"),
        (["run.log"], {"workers": 2, "executor": ThreadPoolExecutor(1)}, "workers"),
    ],
)
def test_bad_arguments_are_invalid_values(run, paths, kwargs, argument):
    with pytest.raises(InvalidValueError) as info:
        run(paths, **kwargs)
    assert info.value.argument == argument


class _BytesPath(os.PathLike):
    """A path-like object whose path is bytes, as ``os.scandir(b".")`` gives."""

    def __init__(self, path: str) -> None:
        self.path = os.fsencode(path)

    def __fspath__(self) -> bytes:
        return self.path


@pytest.mark.parametrize("run", [_each, _many], ids=["verify_each", "verify_many"])
def test_a_bytes_path_like_is_an_invalid_value(run, collection):
    with pytest.raises(InvalidValueError) as info:
        run([_BytesPath(collection.good[0])])
    assert info.value.argument == "paths"


# -- URLs ------------------------------------------------------------------------------


@pytest.fixture
def memory_url(collection: Collection) -> Iterator[str]:
    """A URL of fsspec's in-memory filesystem that holds the first good log."""
    memory = fsspec.filesystem("memory")
    name = f"/linoss-fleet-{os.getpid()}/run.log"
    memory.pipe(name, Path(collection.good[0]).read_bytes())
    yield f"memory://{name}"
    memory.rm(name)


def test_a_file_url_verifies_under_its_url(collection):
    local = collection.good[1]
    url = Path(local).as_uri()
    assert url.startswith("file://")
    report = verify_many([url])
    (result,) = report.results
    assert result.status is LogStatus.VERIFIED
    assert result.path == url
    assert result.report == collection.expected[local].report.model_copy(
        update={"path": url}
    )


def test_a_memory_url_verifies_in_process(collection, memory_url):
    report = verify_many([memory_url])
    (result,) = report.results
    assert result.status is LogStatus.VERIFIED
    assert result.path == memory_url
    assert result.report.path == memory_url
    assert result.report == collection.expected[collection.good[0]].report.model_copy(
        update={"path": memory_url}
    )
    assert report.events_verified == result.report.events_verified


def test_open_gives_local_paths_as_they_are_and_urls_as_streams(collection, memory_url):
    local = collection.good[0]
    assert fleet._open(local) == local
    assert fleet._open(Path(local).as_uri()) == local
    stream = fleet._open(memory_url)
    assert not isinstance(stream, str)
    with contextlib.closing(stream):
        assert stream.read() == Path(local).read_bytes()


def test_a_missing_memory_url_is_an_error_naming_it(memory_url):
    absent = memory_url.replace("run.log", "absent.log")
    (result,) = verify_many([absent]).results
    assert result.status is LogStatus.ERROR
    assert result.report is None
    assert absent in result.error


def test_an_unknown_protocol_is_an_error_naming_it():
    url = "linossnowhere://bucket/run.log"
    (result,) = verify_many([url]).results
    assert result.status is LogStatus.ERROR
    assert "linossnowhere" in result.error


def test_a_protocol_whose_package_is_missing_is_an_error(monkeypatch):
    """fsspec knows ``s3://`` and the like, and raises ImportError to open one
    whose package (s3fs, gcsfs) is not installed: the log is an ``error``."""
    monkeypatch.setitem(
        known_implementations,
        "linossabsent",
        {
            "class": "linoss_absent_backend.FileSystem",
            "err": "Install linoss_absent_backend to read linossabsent URLs",
        },
    )
    url = "linossabsent://bucket/run.log"
    report = verify_many([url])
    (result,) = report.results
    assert result.status is LogStatus.ERROR
    assert "linoss_absent_backend" in result.error


def test_a_url_without_fsspec_is_an_error_saying_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec", None)
    (result,) = verify_many(["memory://run.log"]).results
    assert result.status is LogStatus.ERROR
    assert "fsspec" in result.error


def test_dask_executor_without_distributed_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(LinOSSError) as info, fleet.dask_executor(workers=1):
        pass  # pragma: no cover - the cluster cannot start
    assert "linoss-dynamics[dask]" in str(info.value)
    assert not isinstance(info.value, ImportError)


# -- lost workers ----------------------------------------------------------------------


def wait_gone(pids: Iterable[int]) -> None:
    """Wait until each process has exited (a zombie holds no file open)."""
    deadline = time.monotonic() + WAIT_SECONDS
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.NoSuchProcess:
                break
            time.sleep(0.01)
        else:
            raise TimeoutError(f"process {pid} is still running")


class PipeFeeder:
    """Writes a log into a named pipe for the reader that comes after a kill.

    A reader blocked in ``open`` counts as the pipe's reader until its process
    exits, so once told which processes were killed (``killed``) the feeder
    waits for them to go before it opens the pipe. If no kill is reported in
    time, it feeds whichever reader there is, so that a failing test ends
    instead of waiting forever on the pipe. It waits for the next reader as
    long as the test does (a resubmitted task may take long to start on a
    busy machine), up to ``FEED_SECONDS``.
    """

    def __init__(self, pipe: Path, data: bytes, *, feed: bool = True) -> None:
        self.pipe = pipe
        self.data = data
        self.feed = feed
        self.gone: list[int] = []
        self.errors: list[BaseException] = []
        self._killed = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def killed(self, pids: list[int]) -> None:
        self.gone = pids
        self._killed.set()

    def _run(self) -> None:
        try:
            if self._killed.wait(WAIT_SECONDS):
                if not self.feed:
                    return
                wait_gone(self.gone)
            deadline = time.monotonic() + FEED_SECONDS
            while True:
                try:
                    fd = os.open(self.pipe, os.O_WRONLY | os.O_NONBLOCK)
                    break
                except OSError as exc:  # ENXIO: nobody has the pipe open to read
                    if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                        raise
                    if self._done.wait(0.01):
                        return  # the test has its results: no reader is coming
            os.set_blocking(fd, True)
            with os.fdopen(fd, "wb") as out:
                out.write(self.data)
        except BaseException as exc:  # reported by join()
            self.errors.append(exc)

    def join(self) -> None:
        self._killed.set()  # a feeder that is not to feed stops now
        self._done.set()
        self._thread.join(2 * WAIT_SECONDS)
        assert not self._thread.is_alive()
        assert not self.errors, self.errors


@pytest.fixture
def pipe(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.log"
    os.mkfifo(path)
    return path


def assert_survivors(
    report: CollectionReport,
    paths: list[str],
    expected: dict[str, Expected],
    *,
    retries: int,
) -> None:
    """Every path has one result: its own report, or an error saying it was lost."""
    assert Counter(r.path for r in report.results) == Counter(paths)
    for result in report.results:
        if result.status is LogStatus.VERIFIED:
            assert outcome(result)[1:] == tuple(expected[result.path])
            assert 1 <= result.attempts <= retries + 1
        else:
            assert result.status is LogStatus.ERROR
            assert result.report is None
            assert result.error.startswith(f"{LOST} {retries + 1} attempt")
            assert result.attempts == retries + 1
    assert report.errors == sum(r.status is LogStatus.ERROR for r in report.results)
    assert report.ok is (report.errors == 0)


def test_a_killed_pool_worker_is_replaced_and_its_logs_verified(collection, pipe):
    """The pipe's task is running when a worker of the pool is killed; the
    broken pool is replaced and every task resubmitted, the pipe's included."""
    source = collection.good[0]
    paths = [str(pipe), *collection.good, *collection.good]
    expected = dict(collection.expected)
    expected[str(pipe)] = Expected(
        LogStatus.VERIFIED,
        expected[source].report.model_copy(update={"path": str(pipe)}),
        None,
    )
    feeder = PipeFeeder(pipe, Path(source).read_bytes())
    before = {p.pid for p in multiprocessing.active_children()}
    killed: list[int] = []

    def kill_one(result: LogVerification) -> None:
        if killed:
            return
        pool = [p.pid for p in multiprocessing.active_children() if p.pid not in before]
        if pool:
            os.kill(pool[0], signal.SIGKILL)
            killed.append(pool[0])
            feeder.killed(pool)  # a broken pool stops all its workers

    report = verify_many(paths, workers=2, on_result=kill_one)
    feeder.join()
    assert len(killed) == 1
    assert report.ok
    assert_survivors(report, paths, expected, retries=fleet.DEFAULT_RETRIES)
    (piped,) = [r for r in report.results if r.path == str(pipe)]
    assert piped.attempts == 2


# -- Dask ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    """Two single-threaded worker processes; a task whose worker dies fails at once."""
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            cluster = distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            )
        with cluster, distributed.Client(cluster) as client:
            yield client
    finally:
        quiet.setLevel(level)


def dask_workers(client: Any) -> list[int]:
    client.wait_for_workers(2, timeout=WAIT_SECONDS)
    return sorted(client.run(os.getpid).values())


def test_a_dask_cluster_gives_the_reports_verify_gives(collection, dask_client):
    paths = collection.mixed
    report = verify_many(paths, executor=dask_client.get_executor(pure=False))
    assert [outcome(r) for r in report.results] == expected_results(
        paths, collection.expected
    )
    assert all(r.attempts == 1 for r in report.results)
    assert_summary(report, paths, collection.expected)


def test_dask_executor_starts_and_stops_a_local_cluster(collection):
    paths = collection.mixed
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        with fleet.dask_executor(workers=2) as executor:
            client = distributed.default_client()
            workers = dask_workers(client)
            assert len(workers) == 2
            assert os.getpid() not in workers
            report = verify_many(paths, executor=executor)
        assert client.status == "closed"
        wait_gone(workers)
    finally:
        quiet.setLevel(level)
        gc.collect()  # report an unclosed socket within this test
    assert [outcome(r) for r in report.results] == expected_results(
        paths, collection.expected
    )
    assert_summary(report, paths, collection.expected)


@pytest.mark.parametrize("retries", [0, 2])
def test_killed_dask_workers_lose_no_log(collection, dask_client, pipe, retries):
    """Every worker is killed after the first result, while the pipe's task
    runs: without retries it is an error; with them it is verified on a
    restarted worker. Other logs may or may not have been running."""
    source = collection.good[0]
    paths = [str(pipe), *collection.good, *collection.good]
    expected = dict(collection.expected)
    expected[str(pipe)] = Expected(
        LogStatus.VERIFIED,
        expected[source].report.model_copy(update={"path": str(pipe)}),
        None,
    )
    workers = dask_workers(dask_client)
    feeder = PipeFeeder(pipe, Path(source).read_bytes(), feed=retries > 0)
    killed: list[int] = []

    def kill_all(result: LogVerification) -> None:
        if killed:
            return
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        killed.extend(workers)
        feeder.killed(workers)

    report = verify_many(
        paths,
        executor=dask_client.get_executor(pure=False),
        retries=retries,
        on_result=kill_all,
    )
    feeder.join()
    assert killed == workers
    assert_survivors(report, paths, expected, retries=retries)
    (piped,) = [r for r in report.results if r.path == str(pipe)]
    if retries:
        assert piped.status is LogStatus.VERIFIED
        assert piped.attempts == 2
    else:
        assert piped.status is LogStatus.ERROR
        assert "KilledWorker" in piped.error
        assert not report.ok


# -- timeouts -------------------------------------------------------------------------


def release(pipe: Path) -> None:
    """Let a reader blocked in ``open`` of the pipe go on (it reads an empty log)."""
    with contextlib.suppress(OSError):  # ENXIO: no reader is left
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))


@pytest.mark.parametrize("retries", [0, 1])
def test_a_task_stuck_past_its_timeout_is_retried_then_an_error(
    collection, pipe, retries
):
    # Nobody writes the pipe: its task never finishes. The pool started for
    # the collection has its processes killed at the end.
    paths = [str(pipe), *collection.good]
    started = time.monotonic()

    report = verify_many(paths, workers=2, retries=retries, timeout=1.5)

    elapsed = time.monotonic() - started
    (stuck,) = [r for r in report.results if r.path == str(pipe)]
    assert stuck.status is LogStatus.ERROR
    assert stuck.attempts == retries + 1
    assert "TimeoutError: no result within 1.5 s" in stuck.error
    assert [r.status for r in report.results if r.path != str(pipe)] == [
        LogStatus.VERIFIED
    ] * len(collection.good)
    assert elapsed < 1.5 * (retries + 1) + WAIT_SECONDS


def test_a_timeout_on_a_callers_executor(collection, pipe):
    paths = [*collection.good, str(pipe)]
    with ThreadPoolExecutor(2) as executor:
        try:
            report = verify_many(paths, executor=executor, retries=0, timeout=1.0)
        finally:
            release(pipe)  # a thread cannot be stopped: let it finish

    assert report.errors == 1
    assert report.verified == len(collection.good)
    assert report.results[0].path == str(pipe)


@pytest.mark.parametrize("timeout", [0, -1.0, math.nan, math.inf, True, "1"], ids=repr)
def test_bad_timeouts_are_invalid_values(collection, timeout):
    with pytest.raises(InvalidValueError) as info:
        verify_many(collection.good, workers=1, timeout=timeout)

    assert info.value.argument == "timeout"


def test_a_timeout_needs_workers_or_an_executor(collection):
    with pytest.raises(InvalidValueError, match="workers=N or executor"):
        list(verify_each(collection.good, timeout=5.0))
