"""Verify one log in parallel, split at its checkpoints.

A checkpoint holds the full state and parameters, so the stretch of a log
between two checkpoints can be replayed on its own: start from the first
checkpoint's state, replay every event and, at the next checkpoint, compare the
replayed state with the recorded one. Stretches go to a pool of worker
processes; each opens the log itself, so only a path, two numbers and the
result cross process boundaries.

The result is exactly as strong as a sequential verification:

- Each stretch ends by reading the checkpoint the next one starts from. It
  checks that frame's chain link and its full state, so the state a stretch
  starts from is the one the sequential replay would have reached, and the
  chain is checked across every boundary.
- Both stretches hash that frame; the two digests must agree, which also
  catches a log that changed between the two reads.
- The first failing stretch, in log order, gives the report's failure: every
  stretch before it passed, so its replay is the sequential one, and the
  failure is the one a sequential verification meets first.
- Each stretch rebuilds the Merkle subtrees of its own events (up to, not
  including, the checkpoint the next one starts at) and keeps the roots that
  closing records and seals claim within it, with its subtrees at that point.
  Here the subtrees are joined in log order into the tree of the whole log,
  and each claim is checked against the root of the tree at its size: the
  check a sequential verification makes as it reads.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Final

from .errors import LogError, SequentialVerifyWarning
from .events import Failure, FailureCode, VerificationReport
from .merkle import MerkleTree
from .verify import (
    Progress,
    Source,
    Stretch,
    checkpoints,
    failure_of,
    replay_stretch,
    report_of,
    root_mismatch,
)

__all__ = ["TASKS_PER_WORKER", "verify_in_segments"]

TASKS_PER_WORKER: Final = 8
"""Stretches handed to each worker, about: enough to even out the load at the
end of the run, few enough that opening the log per task costs nothing."""

Start = tuple[int, int] | None
"""Where a stretch starts: ``(seq, offset)`` of a checkpoint, or None for the header."""


def pool_context() -> multiprocessing.context.BaseContext:
    """Worker processes forked from a clean server process that has imported the
    package once (no inherited threads or locks, no import per worker) where the
    platform has one, else spawned.

    As with any process pool, a script that verifies in parallel must guard its
    entry point with ``if __name__ == "__main__":``.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def _verify_stretch(
    path: str,
    start: Start,
    to_seq: int | None,
    max_frame_bytes: int,
    sealed: dict[int, bytes] | None,
    last: bool,
) -> Stretch:
    """Worker task: replay one stretch; a log that cannot be opened is its failure.

    The stretch's tree stops before its last event unless it is the ``last``
    stretch: that checkpoint starts the next one, whose tree it joins.
    """
    try:
        return replay_stretch(
            path,
            start,
            to_seq=to_seq,
            max_frame_bytes=max_frame_bytes,
            sealed=sealed,
            leaf_end=None if last else to_seq,
        )
    except LogError as exc:
        return Stretch(0, None, b"", None, False, failure_of(exc))


def _plan(
    found: list[tuple[int, int]],
    start: Start,
    to_seq: int | None,
    tasks: int,
) -> list[tuple[Start, int | None]]:
    """Stretches as ``(start, to_seq)``, about ``tasks`` of them, in log order."""
    first_seq = 0 if start is None else start[0]
    points: list[Start] = [start]
    points += [
        (seq, offset)
        for seq, offset in found
        if seq > first_seq and (to_seq is None or seq < to_seq)
    ]
    count = min(tasks, len(points))
    chosen = [points[i * len(points) // count] for i in range(count)]
    ends: list[int | None] = [p[0] for p in chosen[1:] if p is not None]
    return list(zip(chosen, [*ends, to_seq], strict=True))


def _seq_of(start: Start) -> int:
    return 0 if start is None else start[0]


def _changed(seq: int) -> Failure:
    return Failure(
        code=FailureCode.CHAIN_BROKEN,
        seq=seq,
        message=(
            f"event seq {seq}: the log changed while it was being verified (two "
            "readers of this checkpoint saw different bytes); verify it again"
        ),
    )


def _combine(
    path: str,
    plan: list[tuple[Start, int | None]],
    results: list[Stretch | None],
    sealed: dict[int, bytes] | None,
    whole: bool,
) -> VerificationReport:
    """One report from the stretches that decide it: every one up to the first
    failing one, or all of them. ``whole``: verified to the end, so a log
    shorter than its ``sealed`` roots fails."""
    first_seq = _seq_of(plan[0][0])
    tree = MerkleTree() if plan[0][0] is None else None
    seals_checked = 0
    previous: Stretch | None = None
    for i, ((begin, _), stretch) in enumerate(zip(plan, results, strict=True)):
        assert stretch is not None
        seq = _seq_of(begin)
        if previous is not None:
            if previous.last_seq != seq or previous.digest != stretch.first_digest:
                stretch = Stretch(0, None, b"", None, False, _changed(seq))
            if stretch.last_seq is None:
                stretch = stretch._replace(last_seq=previous.last_seq)
        if tree is not None:
            # Claims made inside this stretch, against the tree of the log so far.
            for claim in stretch.claims:
                if stretch.failure is not None and stretch.failure.seq < claim.seq:
                    break
                actual = tree.root_with(claim.blocks)
                if actual != claim.root:
                    failed = root_mismatch(claim, actual)
                    stretch = stretch._replace(
                        events=claim.seq - seq,
                        last_seq=claim.seq - 1 if claim.seq > first_seq else None,
                        closed=claim.closed,
                        failure=failed,
                        # The tree as it stood at the claim, as a sequential
                        # verification reports it.
                        blocks=claim.blocks,
                    )
                    break
                seals_checked += claim.sealed
            seals_checked += stretch.seals_checked
            tree.extend(stretch.blocks)
        if stretch.failure is not None or i == len(plan) - 1:
            # Events before this stretch's start, then its own.
            counted = stretch._replace(
                events=seq - first_seq + stretch.events,
                root=None if tree is None else tree.root(),
                seals_checked=seals_checked,
            )
            return report_of(path, first_seq, counted, sealed if whole else None)
        previous = stretch
    raise AssertionError("unreachable: the last stretch returns")  # pragma: no cover


def verify_in_segments(
    source: Source,
    start: Start,
    found: list[tuple[int, int]] | None,
    *,
    workers: int,
    to_seq: int | None,
    progress: Progress | None,
    max_frame_bytes: int,
    sealed: dict[int, bytes] | None = None,
) -> VerificationReport | None:
    """Verify a log's stretches between checkpoints in ``workers`` processes.

    ``found`` lists the log's checkpoints as ``(seq, offset)`` if the caller
    has them already. Returns None, after a ``SequentialVerifyWarning``, when the log is better
    verified sequentially: a source that is not a path, a log that cannot be
    scanned (damaged, or not a log: the sequential verification then reports
    exactly where), or no checkpoint to split at.
    """
    if not isinstance(source, (str, os.PathLike)):
        _notice("worker processes open the log by path; got bytes or a stream")
        return None
    path = os.fspath(source)
    if found is None:
        try:
            found = checkpoints(path, max_frame_bytes=max_frame_bytes)
        except LogError as exc:
            _notice(f"the log cannot be split ({exc})")
            return None
    plan = _plan(found, start, to_seq, workers * TASKS_PER_WORKER)
    if len(plan) == 1:
        _notice("the log has no checkpoint to split at in the range verified")
        return None

    # The arguments of each stretch's task, in log order.
    tasks = [
        (path, begin, end, max_frame_bytes, _within(sealed, begin, end), i == len(plan) - 1)
        for i, (begin, end) in enumerate(plan)
    ]  # fmt: skip
    results: list[Stretch | None] = [None] * len(plan)
    with ProcessPoolExecutor(
        max_workers=min(workers, len(plan)), mp_context=pool_context()
    ) as pool:
        futures: dict[Future[Stretch], int] = {
            pool.submit(_verify_stretch, *task): i for i, task in enumerate(tasks)
        }
        try:
            _collect(futures, results, progress)
        except BrokenProcessPool as exc:
            _notice(f"a worker process was lost ({exc}); the rest runs here")
        finally:
            for future in futures:
                future.cancel()
    needed = _needed(results)
    for i in range(needed):
        if results[i] is None:
            results[i] = _verify_stretch(*tasks[i])
            needed = _needed(results)
    report = _combine(
        path, plan[:needed], results[:needed], sealed, whole=to_seq is None
    )
    if progress is not None and report.ok:
        progress(report.events_verified)
    return report


def _within(
    sealed: dict[int, bytes] | None, begin: Start, end: int | None
) -> dict[int, bytes] | None:
    """The sealed roots whose size a stretch's tree reaches (it holds the
    events from ``begin`` to before ``end``)."""
    if not sealed:
        return None
    low = _seq_of(begin)
    return {
        size: root
        for size, root in sealed.items()
        if low < size and (end is None or size <= end)
    }


def _needed(results: list[Stretch | None]) -> int:
    """How many stretches, from the first, decide the report."""
    for i, stretch in enumerate(results):
        if stretch is not None and stretch.failure is not None:
            return i + 1
    return len(results)


def _collect(
    futures: dict[Future[Stretch], int],
    results: list[Stretch | None],
    progress: Progress | None,
) -> None:
    """Gather results as they finish; stop once the ones that decide are in."""
    verified = 0
    for future in as_completed(futures):
        if future.cancelled():
            continue
        i = futures[future]
        stretch = results[i] = future.result()
        # A stretch after the first starts at the checkpoint that the one
        # before it ended on: count that event once.
        verified += stretch.events - (i > 0 and stretch.events > 0)
        if stretch.failure is not None:
            for other, j in futures.items():
                if j > i:
                    other.cancel()
        needed = _needed(results)
        if all(r is not None for r in results[:needed]):
            return
        if progress is not None:
            progress(verified)


def _notice(why: str) -> None:
    warnings.warn(
        f"verifying sequentially: {why}", SequentialVerifyWarning, stacklevel=4
    )
