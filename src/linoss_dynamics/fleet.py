"""Verify a collection of logs: in this process, a process pool or a Dask cluster.

Each log is verified where the task runs: the task carries only the log's path
(or a URL that fsspec opens, such as ``s3://bucket/run.log``, where fsspec is
installed) and returns a ``LogVerification``, so nothing that depends on the
caller's process is pickled. Results stream back as they finish
(``verify_each``) or are gathered into one ``CollectionReport``
(``verify_many``).

A task that does not finish (its worker process was killed, or the cluster
lost it) is submitted again, up to ``retries`` times; a log that still has no
result is reported with the status ``error``, never dropped. A process pool
that ``verify_many`` started itself (``workers=N``) is replaced when it
breaks; a caller's executor is used as it is.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import ProcessPoolExecutor
from typing import IO, Any, Final

from .errors import InvalidValueError, LinOSSError, LogError
from .events import CollectionReport, LogStatus, LogVerification
from .logfile import DEFAULT_MAX_FRAME_BYTES
from .segments import pool_context
from .verify import verify

__all__ = ["DEFAULT_RETRIES", "dask_executor", "verify_each", "verify_many"]

DEFAULT_RETRIES: Final = 2
"""Further attempts for a log whose verification did not finish."""

_ORDER: Final = {LogStatus.FAILED: 0, LogStatus.ERROR: 1, LogStatus.VERIFIED: 2}


def _open(path: str) -> str | IO[bytes]:
    """A local path as it is; a URL through fsspec, where fsspec is installed."""
    if "://" not in path:
        return path
    if path.startswith("file://"):
        return path[len("file://") :]
    try:
        import fsspec
    except ImportError:
        raise LogError(
            f"{path}: reading a URL needs fsspec: pip install fsspec (Dask installs it)",
            path=path,
        ) from None
    try:
        stream: IO[bytes] = fsspec.open(path, "rb").open()
    except (OSError, ValueError, ImportError) as exc:
        # ImportError: fsspec knows the protocol but its package (s3fs, gcsfs,
        # ...) is not installed where this runs; its message names the package.
        raise LogError(f"cannot open {path}: {exc}", path=path) from None
    return stream


def verify_log(
    path: str, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
) -> LogVerification:
    """Verify one log where this runs; a log that cannot be verified is an ``error``."""
    started = time.perf_counter()
    try:
        source = _open(path)
        try:
            report = verify(source, max_frame_bytes=max_frame_bytes)
        finally:
            if not isinstance(source, str):
                source.close()
    except (LinOSSError, OSError) as exc:
        return LogVerification(
            path=path,
            status=LogStatus.ERROR,
            error=str(exc),
            attempts=1,
            seconds=time.perf_counter() - started,
        )
    return LogVerification(
        path=path,
        status=LogStatus.VERIFIED if report.ok else LogStatus.FAILED,
        report=report.model_copy(update={"path": path}),
        attempts=1,
        seconds=time.perf_counter() - started,
    )


def _paths(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise InvalidValueError(
            "paths must be a collection of paths; got a single one: pass [path]",
            argument="paths",
        )
    out = []
    for path in paths:
        name = os.fspath(path) if isinstance(path, os.PathLike) else path
        if not isinstance(name, str):
            raise InvalidValueError(
                "paths must hold str or os.PathLike of str; got "
                f"{type(path).__name__} ({type(name).__name__} path)",
                argument="paths",
            )
        out.append(name)
    return out


def _check_count(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidValueError(
            f"{name} must be an integer >= {low}; got {value!r}", argument=name
        )


class _OwnPool:
    """A process pool that is replaced when a lost worker breaks it."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool = self._new()

    def _new(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=pool_context())

    def submit(
        self, fn: Callable[..., LogVerification], *args: Any
    ) -> Future[LogVerification]:
        try:
            return self.pool.submit(fn, *args)
        except RuntimeError:  # BrokenProcessPool: a worker died
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._new()
            return self.pool.submit(fn, *args)

    def shutdown(self, *, abandoned: bool = False) -> None:
        """Stop the pool; with ``abandoned`` tasks (timed out, perhaps still
        running) its processes are killed rather than waited for."""
        if not abandoned:
            self.pool.shutdown(wait=True, cancel_futures=True)
            return
        # ProcessPoolExecutor has no public way to stop a running task before
        # Python 3.14 (terminate_workers); until then, its processes directly.
        processes = list(getattr(self.pool, "_processes", {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.kill()
        for process in processes:
            process.join(timeout=5)


def _lost(path: str, attempts: int, exc: BaseException) -> LogVerification:
    return LogVerification(
        path=path,
        status=LogStatus.ERROR,
        error=(
            f"verification did not finish after {attempts} attempt"
            f"{'s' if attempts > 1 else ''}: {type(exc).__name__}: {exc}"
        ),
        attempts=attempts,
        seconds=0.0,
    )


def verify_each(
    paths: Iterable[str | os.PathLike[str]],
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    retries: int = DEFAULT_RETRIES,
    timeout: float | None = None,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
) -> Iterator[LogVerification]:
    """Verify each log and yield its ``LogVerification`` as soon as it is known.

    Args:
        paths: Paths of the logs (or URLs fsspec can open where the tasks run).
        executor: Run the verifications on this ``concurrent.futures.Executor``
            (a process pool, or a Dask cluster's ``client.get_executor()``).
        workers: Without an executor: verify in a process pool of this many
            workers. With neither, the logs are verified here, one by one.
        retries: Submit a task that did not finish (a lost worker) again, this
            many times, before reporting its log as an ``error``.
        timeout: Seconds a task may run (with an executor or workers): one that
            takes longer counts as lost (cancelled where the executor can,
            then retried or reported), so a worker stuck on a log, a hung
            file system for instance, cannot stall the collection. A pool
            started here has its processes killed at the end if a task was
            given up on.
        max_frame_bytes: Bound on a frame's declared size.

    Results come in the order they finish (in input order without an executor
    or workers). Every log gets exactly one result. Arguments are checked
    here, before the first result is asked for.
    """
    names = _paths(paths)
    _check_options(executor, workers, retries, timeout)
    indexed = _verify_indexed(
        names,
        executor=executor,
        workers=workers,
        retries=retries,
        timeout=timeout,
        max_frame_bytes=max_frame_bytes,
    )
    return (result for _, result in indexed)


def _check_options(
    executor: Executor | None,
    workers: int | None,
    retries: int,
    timeout: float | None,
) -> None:
    _check_count("retries", retries, 0)
    if timeout is not None:
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not timeout > 0
            or timeout == float("inf")
        ):
            raise InvalidValueError(
                f"timeout must be a positive number of seconds; got {timeout!r}",
                argument="timeout",
            )
        if executor is None and workers is None:
            raise InvalidValueError(
                "timeout applies to tasks on an executor or workers; logs verified "
                "here run to the end: pass workers=N or executor=...",
                argument="timeout",
            )
    if workers is not None:
        _check_count("workers", workers, 1)
        if executor is not None:
            raise InvalidValueError(
                "pass executor or workers, not both", argument="workers"
            )


def _verify_indexed(
    names: list[str],
    *,
    executor: Executor | None,
    workers: int | None,
    retries: int,
    timeout: float | None,
    max_frame_bytes: int,
) -> Iterator[tuple[int, LogVerification]]:
    """``verify_each`` with each result's input position, as results finish."""
    if executor is None and workers is None:
        for i, name in enumerate(names):
            yield i, verify_log(name, max_frame_bytes)
        return
    own = None
    if executor is None:
        own = _OwnPool(workers or 1)
        submit: Callable[..., Future[LogVerification]] = own.submit
    else:
        submit = executor.submit
    # Each pending task: its log's position, its attempt, and when it is due.
    pending: dict[Future[LogVerification], tuple[int, int, float]] = {}
    abandoned = False

    def start(i: int, attempt: int) -> None:
        due = math.inf if timeout is None else time.monotonic() + timeout
        pending[submit(verify_log, names[i], max_frame_bytes)] = (i, attempt, due)

    try:
        for i in range(len(names)):
            start(i, 1)
        while pending:
            soonest = min(due for _, _, due in pending.values())
            wait_for = (
                None if soonest == math.inf else max(0.0, soonest - time.monotonic())
            )
            done, _ = wait(pending, timeout=wait_for, return_when=FIRST_COMPLETED)
            now = time.monotonic()
            finished: list[tuple[Future[LogVerification], BaseException | None]] = [
                (future, None) for future in done
            ]
            for future, (_, _, due) in list(pending.items()):
                if future not in done and due <= now:
                    future.cancel()
                    abandoned = True
                    finished.append(
                        (future, TimeoutError(f"no result within {timeout:g} s"))
                    )
            for future, late in finished:
                i, attempt, _ = pending.pop(future)
                try:
                    if late is not None:
                        raise late
                    result = future.result()
                except Exception as exc:  # the task did not finish: retry or report
                    if attempt <= retries:
                        with contextlib.suppress(Exception):
                            start(i, attempt + 1)
                            continue
                    yield i, _lost(names[i], attempt, exc)
                    continue
                yield i, result.model_copy(update={"attempts": attempt})
    finally:
        if own is not None:
            own.shutdown(abandoned=abandoned or bool(pending))


def verify_many(
    paths: Iterable[str | os.PathLike[str]],
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    retries: int = DEFAULT_RETRIES,
    timeout: float | None = None,
    on_result: Callable[[LogVerification], None] | None = None,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
) -> CollectionReport:
    """Verify a collection of logs and summarize: failures first, then errors.

    Takes the arguments of ``verify_each``; ``on_result`` is called with each
    log's result as it arrives.
    """
    started = time.perf_counter()
    names = _paths(paths)
    _check_options(executor, workers, retries, timeout)
    arrived = []
    for i, result in _verify_indexed(
        names,
        executor=executor,
        workers=workers,
        retries=retries,
        timeout=timeout,
        max_frame_bytes=max_frame_bytes,
    ):
        arrived.append((_ORDER[result.status], i, result))
        if on_result is not None:
            on_result(result)
    arrived.sort(key=lambda entry: entry[:2])
    results = [result for _, _, result in arrived]
    counts = {status: 0 for status in LogStatus}
    for result in results:
        counts[result.status] += 1
    return CollectionReport(
        ok=counts[LogStatus.VERIFIED] == len(results),
        logs=len(results),
        verified=counts[LogStatus.VERIFIED],
        failed=counts[LogStatus.FAILED],
        errors=counts[LogStatus.ERROR],
        events_verified=sum(
            r.report.events_verified for r in results if r.report is not None
        ),
        seconds=time.perf_counter() - started,
        results=results,
    )


@contextlib.contextmanager
def dask_executor(
    address: str | None = None, *, workers: int | None = None
) -> Iterator[Executor]:
    """An executor on a Dask cluster: the scheduler at ``address``, or a local
    cluster of ``workers`` single-threaded processes started here and stopped
    on exit.

    Raises:
        LinOSSError: Dask's distributed scheduler is not installed.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise LinOSSError(
            "verifying on Dask needs dask.distributed: pip install "
            "'linoss-dynamics[dask]'",
            argument="scheduler",
        ) from None
    with contextlib.ExitStack() as stack:
        if address is None:
            cluster = stack.enter_context(
                LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=workers or os.cpu_count() or 1,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
            )
            client = stack.enter_context(Client(cluster))  # type: ignore[no-untyped-call]
        else:
            client = stack.enter_context(Client(address))  # type: ignore[no-untyped-call]
        # Not pure: a task submitted again after a lost worker must run again.
        yield client.get_executor(pure=False)
