"""Verification at scale: one long log split over processes, and many logs at once.

Usage::

    python benchmarks/bench_scale.py [--quick] [--json OUT]

For banks of P = 64 float64 oscillators in IM mode (dt = 0.05, A drawn uniform
in [0.5, 4]) driven by the rows of a seeded (256, P) input array, cycled, all in
one run:

1. one long log (1,000,000 steps; 50,000 with ``--quick``) recorded by a
   ``Recorder`` with the default policies (a checkpoint every 1000 steps):
   ``verify(path)`` against ``verify(path, workers=2)``, which splits the log
   at its checkpoints and replays the stretches in a pool of two worker
   processes; beside them ``checkpoints(path)``, the scan that plans the split,
   and the fixed cost of starting the pool, on a tiny log with checkpoints:
   the first parallel call of the process (which also starts the forkserver
   the pools fork from) and later calls, against a sequential verify of the
   same log, here and again in a fresh ``python -c`` process, whose workers
   have no script to import again;
2. many logs (200 of 5,000 steps; 40 of 1,000 with ``--quick``), each driven
   from its own offset in the inputs: ``verify_many(paths)``, a loop in this
   process, against ``verify_many(paths, executor=...)`` on a two-worker Dask
   ``LocalCluster`` (started before the timing, its start timed apart) and
   against ``verify_many(paths, workers=2)``, which starts its own process
   pool inside the timing, as a caller pays it; and the per-log cost of the
   cluster, estimated from the rounds as (wall time x workers - the sum of
   the per-log ``seconds`` in the results) / logs, and measured directly on
   logs of 10 steps, where scheduling is nearly all there is; and the CPU
   time this process spends meanwhile (the cluster's client and scheduler
   run in it). The cluster stays up, idle, while the other contenders of the
   group run.

The sequential and parallel reports must be equal, field for field (the
per-log ``seconds`` and ``attempts`` of a collection aside): the run logs both
and fails after printing its tables when they are not.

Unlike the other benchmarks this one does not pin itself to one CPU: the
parallel contenders need both cores of the machine, and the sequential ones run
on whichever core is free. Contenders are timed in rounds, the order rotating
from round to round (see ``_harness``); tables give medians over rounds and
medians of the per-round ratios. Logs live in a temporary directory removed at
the end. Targets are printed next to the figures; the exit status never depends
on them. A full run takes about five minutes, most of it recording and
verifying the long log and the many logs; ``--quick`` about 15 seconds.

Worker processes started from the forkserver import this script again (as
``__mp_main__``), and Dask's spawned workers do too, so it imports Dask only
inside the functions that need it: a module-level import would be paid by every
pool worker, at every parallel call. What it does import (``_harness`` and the
standard library modules it needs) is part of the pool's cost measured here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

import linoss_dynamics
from linoss_dynamics import (
    CollectionReport,
    Oscillator,
    Recorder,
    Scheme,
    VerificationReport,
    checkpoints,
    verify,
    verify_many,
)
from linoss_dynamics.errors import SequentialVerifyWarning
from linoss_dynamics.recorder import DEFAULT_CHECKPOINT_EVERY


@dataclass(frozen=True)
class Config:
    """Sizes and budgets of one run."""

    P: int
    dt: float
    seed: int
    distinct_inputs: int
    workers: int
    long_steps: int
    long_rounds: int
    scan_rounds: int
    tiny_log_steps: int
    tiny_log_checkpoint_every: int
    pool_rounds: int
    many_logs: int
    many_steps: int
    many_rounds: int
    small_logs: int
    small_steps: int
    small_rounds: int


FULL = Config(
    P=64,
    dt=0.05,
    seed=20241,
    distinct_inputs=256,
    workers=2,
    long_steps=1_000_000,
    long_rounds=3,
    scan_rounds=5,
    tiny_log_steps=64,
    tiny_log_checkpoint_every=8,
    pool_rounds=7,
    many_logs=200,
    many_steps=5_000,
    many_rounds=3,
    small_logs=200,
    small_steps=10,
    small_rounds=5,
)
QUICK = Config(
    P=64,
    dt=0.05,
    seed=20241,
    distinct_inputs=256,
    workers=2,
    long_steps=50_000,
    long_rounds=2,
    scan_rounds=3,
    tiny_log_steps=64,
    tiny_log_checkpoint_every=8,
    pool_rounds=3,
    many_logs=40,
    many_steps=1_000,
    many_rounds=2,
    small_logs=50,
    small_steps=10,
    small_rounds=2,
)

MEASURED_MODULES = (
    "verify.py",
    "segments.py",
    "fleet.py",
    "logfile.py",
    "codec.py",
    "transition.py",
    "oscillator.py",
)
"""The modules whose digests the report gives."""


def bench_data(P: int, K: int, seed: int) -> dict[str, Any]:
    """Stiffnesses, initial state and K inputs, all drawn from one seed."""
    rng = np.random.default_rng(seed)
    return {
        "A": rng.uniform(0.5, 4.0, P),
        "y0": rng.standard_normal(P),
        "z0": rng.standard_normal(P),
        "U": rng.standard_normal((K, P)),
    }


def record_log(
    path: Path,
    osc: Oscillator,
    y0: np.ndarray,
    z0: np.ndarray,
    U: Sequence[np.ndarray],
    steps: int,
    *,
    offset: int = 0,
    **options: Any,
) -> float:
    """Record ``steps`` steps, the k-th with input ``U[(offset + k) % len(U)]``.

    Returns the seconds taken, the closing ``fsync`` included.
    """
    mask = len(U) - 1
    started = time.perf_counter()
    with Recorder(path, osc, y0, z0, **options) as recorder:
        step = recorder.step
        for k in range(offset, offset + steps):
            step(U[k & mask])
    return time.perf_counter() - started


def timed_once(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call of ``fn`` takes (collector paused), and what it returned."""
    box: list[Any] = []
    seconds = h.time_block(lambda _n: box.append(fn()), 1)
    return seconds, box[0]


def recording_contender(
    name: str,
    fn: Callable[[], Any],
    outcomes: list[Any],
    *,
    units: int = 1,
    unit: str,
) -> h.Contender:
    """A contender making one call of ``fn`` per round; keeps each call's result."""

    def measure() -> float:
        seconds, outcome = timed_once(fn)
        outcomes.append(outcome)
        return seconds / units

    return h.Contender(name, measure, unit)


# -- checking the results ---------------------------------------------------------


def log_verification_key(report: CollectionReport) -> dict[str, Any]:
    """A collection's outcome by path, without what depends on where it ran.

    ``seconds`` and ``attempts`` differ from run to run; the status, the
    report and the error must not.
    """
    return {
        r.path: (r.status, r.report, r.error)
        for r in sorted(report.results, key=lambda r: r.path)
    }


def check_reports(
    what: str,
    expected: VerificationReport,
    others: Mapping[str, Sequence[VerificationReport]],
    log: Callable[[str], None],
) -> list[str]:
    """Every report in ``others`` must equal ``expected``; returns the mismatches."""
    mismatches = []
    for name, reports in others.items():
        for i, report in enumerate(reports):
            if report != expected:
                message = (
                    f"{what}: report {i} of {name} differs from the sequential one:\n"
                    f"  sequential: {expected!r}\n  {name}: {report!r}"
                )
                log(message)
                mismatches.append(message)
    return mismatches


def check_collections(
    what: str,
    expected: CollectionReport,
    others: Mapping[str, Sequence[CollectionReport]],
    log: Callable[[str], None],
) -> list[str]:
    """Every collection in ``others`` must equal ``expected`` log for log."""
    want = log_verification_key(expected)
    mismatches = []
    if not expected.ok:
        message = f"{what}: the sequential loop did not verify every log: {expected!r}"
        log(message)
        mismatches.append(message)
    for name, reports in others.items():
        for i, report in enumerate(reports):
            got = log_verification_key(report)
            if got == want:
                continue
            differing = sorted(
                p for p in want.keys() | got.keys() if want.get(p) != got.get(p)
            )
            first = differing[0]
            message = (
                f"{what}: collection {i} of {name} differs from the sequential one "
                f"for {len(differing)} logs; first {first}:\n"
                f"  sequential: {want.get(first)!r}\n  {name}: {got.get(first)!r}"
            )
            log(message)
            mismatches.append(message)
    return mismatches


# Run by a fresh interpreter from ``-c``: with no script file, the pool's workers
# have no main module to import again, so the calls time the library alone.
_POOL_CHILD = """
import json, sys, time, warnings
started = time.perf_counter()
from linoss_dynamics import SequentialVerifyWarning, verify
imported = time.perf_counter() - started
warnings.simplefilter("error", SequentialVerifyWarning)
path, workers, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def timed(**options):
    started = time.perf_counter()
    report = verify(path, **options)
    return time.perf_counter() - started, report

first, expected = timed(workers=workers)
later, sequential = [], []
for i in range(calls):
    for parallel in ((True, False) if i % 2 == 0 else (False, True)):
        seconds, report = timed(workers=workers) if parallel else timed()
        assert report == expected, (report, expected)
        (later if parallel else sequential).append(seconds)
print(json.dumps({
    "import_s": imported, "first_s": first, "later_s": later,
    "sequential_s": sequential, "ok": expected.ok,
}))
"""


def pool_cost_in_fresh_process(path: Path, workers: int, calls: int) -> dict[str, Any]:
    """The first and later ``verify(path, workers=...)`` calls of a fresh process.

    The child asserts that every report equals the first parallel one.
    """
    done = subprocess.run(
        [sys.executable, "-c", _POOL_CHILD, str(path), str(workers), str(calls)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"the fresh verifying process exited {done.returncode}: "
            f"{done.stderr[-2000:]}"
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- 1. one long log ----------------------------------------------------------------


def measure_long_log(
    directory: Path,
    osc: Oscillator,
    y0: np.ndarray,
    z0: np.ndarray,
    U: Sequence[np.ndarray],
    config: Config,
    timings: h.Timings,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """The pool's fixed cost, the checkpoint scan, and the long log both ways."""
    workers = config.workers

    # The pool's fixed cost comes first: the first parallel verification of the
    # process also starts the forkserver.
    tiny = directory / "tiny.log"
    record_log(
        tiny,
        osc,
        y0,
        z0,
        U,
        config.tiny_log_steps,
        checkpoint_every=config.tiny_log_checkpoint_every,
    )
    tiny_checkpoints = len(checkpoints(tiny))
    log("timing the first parallel verification of the process (forkserver start)")
    first_seconds, first_report = timed_once(lambda: verify(tiny, workers=workers))
    tiny_reports: dict[str, list[VerificationReport]] = {
        "pool.tiny_parallel": [first_report],
        "pool.tiny_sequential": [],
    }
    timings.measure(
        f"the pool's fixed cost, a {config.tiny_log_steps}-step log",
        [
            recording_contender(
                "pool.tiny_parallel",
                lambda: verify(tiny, workers=workers),
                tiny_reports["pool.tiny_parallel"],
                unit="log",
            ),
            recording_contender(
                "pool.tiny_sequential",
                lambda: verify(tiny),
                tiny_reports["pool.tiny_sequential"],
                unit="log",
            ),
        ],
        config.pool_rounds,
    )
    log("timing the same in a fresh process started with -c")
    fresh = pool_cost_in_fresh_process(tiny, workers, config.pool_rounds)
    tiny_expected = tiny_reports["pool.tiny_sequential"][0]
    mismatches = check_reports(
        "tiny log",
        tiny_expected,
        {"pool.tiny_parallel": tiny_reports["pool.tiny_parallel"]},
        log,
    )

    path = directory / "long.log"
    log(f"recording a {config.long_steps:,}-step log")
    record_seconds = record_log(path, osc, y0, z0, U, config.long_steps)
    size = path.stat().st_size
    found: list[list[tuple[int, int]]] = []
    timings.measure(
        "the checkpoint scan",
        [
            recording_contender(
                "long.checkpoints", lambda: checkpoints(path), found, unit="log"
            )
        ],
        config.scan_rounds,
    )
    reports: dict[str, list[VerificationReport]] = {
        "long.sequential": [],
        "long.parallel": [],
    }
    timings.measure(
        f"verify, a {config.long_steps:,}-step log",
        [
            recording_contender(
                "long.sequential",
                lambda: verify(path),
                reports["long.sequential"],
                unit="log",
            ),
            recording_contender(
                "long.parallel",
                lambda: verify(path, workers=workers),
                reports["long.parallel"],
                unit="log",
            ),
        ],
        config.long_rounds,
    )
    expected = reports["long.sequential"][0]
    if not expected.ok:
        message = f"long log: the sequential verification failed: {expected!r}"
        log(message)
        mismatches.append(message)
    mismatches += check_reports(
        "long log",
        expected,
        {
            "long.sequential": reports["long.sequential"][1:],
            "long.parallel": reports["long.parallel"],
        },
        log,
    )
    path.unlink()
    tiny.unlink()
    return {
        "steps": config.long_steps,
        "events": expected.events_verified,
        "checkpoints": len(found[0]),
        "log_bytes": size,
        "record_seconds": record_seconds,
        "tiny": {
            "steps": config.tiny_log_steps,
            "checkpoint_every": config.tiny_log_checkpoint_every,
            "checkpoints": tiny_checkpoints,
            "events": tiny_expected.events_verified,
        },
        "first_parallel_call_s": first_seconds,
        "fresh_process": fresh,
        "reports_equal": not mismatches,
        "_mismatches": mismatches,
    }


# -- 2. many logs -------------------------------------------------------------------


def record_logs(
    directory: Path,
    stem: str,
    count: int,
    steps: int,
    osc: Oscillator,
    y0: np.ndarray,
    z0: np.ndarray,
    U: Sequence[np.ndarray],
) -> tuple[list[Path], float]:
    """``count`` logs of ``steps`` steps, log k starting at input offset k."""
    paths = [directory / f"{stem}-{k:04d}.log" for k in range(count)]
    started = time.perf_counter()
    for k, path in enumerate(paths):
        record_log(path, osc, y0, z0, U, steps, offset=k)
    return paths, time.perf_counter() - started


@dataclass
class CollectionRounds:
    """A ``verify_many`` contender: the collection it returned in each round,
    and the CPU time this process spent on it (the loop itself, or the client
    and the scheduler of the cluster, or the pool's management)."""

    name: str
    fn: Callable[[], CollectionReport]
    workers: int
    reports: list[CollectionReport] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)

    def call(self) -> CollectionReport:
        started = time.process_time()
        report = self.fn()
        self.cpu_s.append(time.process_time() - started)
        return report

    def contender(self, *, units: int = 1, unit: str) -> h.Contender:
        return recording_contender(
            self.name, self.call, self.reports, units=units, unit=unit
        )

    def rounds(self, samples: h.Samples, units: int) -> list[dict[str, Any]]:
        """Per round: wall time, this process's CPU time, the sum of per-log
        seconds, and the estimate of the cost per log beyond its own
        verification."""
        out = []
        for seconds, cpu, report in zip(
            samples.seconds, self.cpu_s, self.reports, strict=True
        ):
            wall = seconds * units
            work = sum(r.seconds for r in report.results)
            out.append(
                {
                    "wall_s": wall,
                    "this_process_cpu_s": cpu,
                    "report_seconds": report.seconds,
                    "sum_log_seconds": work,
                    "overhead_per_log_s": (wall * self.workers - work) / report.logs,
                }
            )
        return out


@contextlib.contextmanager
def dask_cluster(
    workers: int, log: Callable[[str], None]
) -> Iterator[tuple[Any, dict[str, float]]]:
    """A local Dask cluster's executor, and the seconds its start and stop took.

    ``stop_s`` is filled in on exit.
    """
    from linoss_dynamics.fleet import dask_executor

    times: dict[str, float] = {}
    log(f"starting a {workers}-worker Dask LocalCluster")
    with contextlib.ExitStack() as stack:
        started = time.perf_counter()
        executor = stack.enter_context(dask_executor(workers=workers))
        times["start_s"] = time.perf_counter() - started
        try:
            yield executor, times
        finally:
            started = time.perf_counter()
            stack.close()
            times["stop_s"] = time.perf_counter() - started


def measure_many_logs(
    directory: Path,
    osc: Oscillator,
    y0: np.ndarray,
    z0: np.ndarray,
    U: Sequence[np.ndarray],
    config: Config,
    timings: h.Timings,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """``verify_many`` in this process, on a Dask cluster and on its own pool."""
    workers = config.workers
    log(f"recording {config.many_logs} logs of {config.many_steps:,} steps")
    paths, record_seconds = record_logs(
        directory, "many", config.many_logs, config.many_steps, osc, y0, z0, U
    )
    many_bytes = sum(p.stat().st_size for p in paths)
    log(f"recording {config.small_logs} logs of {config.small_steps} steps")
    small, small_record_seconds = record_logs(
        directory, "small", config.small_logs, config.small_steps, osc, y0, z0, U
    )

    with dask_cluster(workers, log) as (executor, cluster_times):
        # The workers import the package on their first task; that is paid once
        # per cluster, and timed here, apart from the rounds.
        log("first verify_many on the cluster (the workers import the package)")
        first_cluster_s, first_cluster = timed_once(
            lambda: verify_many(small, executor=executor)
        )
        many = [
            CollectionRounds("many.sequential", lambda: verify_many(paths), 1),
            CollectionRounds(
                "many.dask", lambda: verify_many(paths, executor=executor), workers
            ),
            CollectionRounds(
                "many.pool", lambda: verify_many(paths, workers=workers), workers
            ),
        ]
        timings.measure(
            f"verify_many, {config.many_logs} logs of {config.many_steps:,} steps",
            [c.contender(unit=f"{config.many_logs} logs") for c in many],
            config.many_rounds,
        )
        few = [
            CollectionRounds("small.in_process", lambda: verify_many(small), 1),
            CollectionRounds(
                "small.dask", lambda: verify_many(small, executor=executor), workers
            ),
            CollectionRounds(
                "small.pool", lambda: verify_many(small, workers=workers), workers
            ),
        ]
        n = config.small_logs
        timings.measure(
            f"verify_many, {n} logs of {config.small_steps} steps",
            [c.contender(units=n, unit="log") for c in few],
            config.small_rounds,
        )
    results = timings.results
    expected = many[0].reports[0]
    mismatches = check_collections(
        "many logs",
        expected,
        {c.name: c.reports[1:] if c is many[0] else c.reports for c in many},
        log,
    )
    small_expected = few[0].reports[0]
    mismatches += check_collections(
        "small logs",
        small_expected,
        {
            "first call on the cluster": [first_cluster],
            **{c.name: c.reports[1:] if c is few[0] else c.reports for c in few},
        },
        log,
    )
    for path in (*paths, *small):
        path.unlink()
    return {
        "logs": config.many_logs,
        "steps": config.many_steps,
        "events": expected.events_verified,
        "log_bytes": many_bytes,
        "record_seconds": record_seconds,
        "small_logs": n,
        "small_steps": config.small_steps,
        "small_events": small_expected.events_verified,
        "small_record_seconds": small_record_seconds,
        "cluster_start_s": cluster_times["start_s"],
        "cluster_stop_s": cluster_times["stop_s"],
        "first_cluster_call_s": first_cluster_s,
        "rounds": {c.name: c.rounds(results[c.name], 1) for c in many},
        "small_rounds": {c.name: c.rounds(results[c.name], n) for c in few},
        "reports_equal": not mismatches,
        "_mismatches": mismatches,
    }


# -- the run ------------------------------------------------------------------------

FIGURES = (
    h.Figure(
        "1. one long log: `verify(path, workers=2)` vs `verify(path)`",
        "long.parallel",
        "long.sequential",
        "speedup",
        1.7,
    ),
    h.Figure(
        "2. many logs: `verify_many` on a 2-worker Dask cluster vs a loop here",
        "many.dask",
        "many.sequential",
        "speedup",
        1.6,
    ),
    h.Figure(
        "2. many logs: `verify_many(workers=2)`, pool start included, vs a loop here",
        "many.pool",
        "many.sequential",
        "speedup",
    ),
    h.Figure(
        "2. 10-step logs, per log: on the Dask cluster vs here",
        "small.dask",
        "small.in_process",
        "overhead",
    ),
    h.Figure(
        "2. 10-step logs, per log: `verify_many(workers=2)` vs here",
        "small.pool",
        "small.in_process",
        "overhead",
    ),
    h.Figure(
        "1. a 64-step log: `verify(path, workers=2)` (pool start) vs `verify(path)`",
        "pool.tiny_parallel",
        "pool.tiny_sequential",
        "overhead",
    ),
)


def software() -> dict[str, str]:
    """Versions of what the measured code runs on."""
    import importlib.metadata

    out = {}
    for name in ("numpy", "msgpack", "xxhash", "pydantic", "dask", "distributed"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def run(config: Config, log: Callable[[str], None]) -> dict[str, Any]:
    """Measure every group; returns the results (``_``-prefixed keys are not JSON)."""
    started = time.perf_counter()
    data = bench_data(config.P, config.distinct_inputs, config.seed)
    y0, z0 = data["y0"], data["z0"]
    U = tuple(data["U"])
    assert len(U) & (len(U) - 1) == 0, "distinct_inputs must be a power of two"
    osc = Oscillator(data["A"], config.dt, mode=Scheme.IM)
    sources = h.measured_sources(MEASURED_MODULES)
    timings = h.Timings(log)

    with (
        tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp,
        warnings.catch_warnings(),
    ):
        # A verification that falls back to sequential would time the wrong thing.
        warnings.simplefilter("error", SequentialVerifyWarning)
        directory = Path(tmp)
        long_log = measure_long_log(directory, osc, y0, z0, U, config, timings, log)
        many_logs = measure_many_logs(directory, osc, y0, z0, U, config, timings, log)
    elapsed = time.perf_counter() - started
    results = timings.results

    return {
        **h.run_header(),
        "software": software(),
        "cpus": sorted(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
        "package": {"version": linoss_dynamics.__version__},
        "sources": sources,
        "config": asdict(config),
        "checkpoint_every": DEFAULT_CHECKPOINT_EVERY,
        "total_seconds": elapsed,
        "long_log": {k: v for k, v in long_log.items() if not k.startswith("_")},
        "many_logs": {k: v for k, v in many_logs.items() if not k.startswith("_")},
        "mismatches": long_log["_mismatches"] + many_logs["_mismatches"],
        "contenders": {name: s.as_dict() for name, s in results.items()},
        "rounds": timings.rounds,
        "figures": [h.figure_row(f, results) for f in FIGURES],
        "_samples": results,
    }


# -- report -------------------------------------------------------------------------


def megabytes(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def median_of(rounds: Sequence[Mapping[str, Any]], key: str) -> float:
    return float(np.median([r[key] for r in rounds]))


def run_table(result: Mapping[str, Any]) -> str:
    machine, config, src, soft = (
        result["machine"],
        result["config"],
        result["sources"],
        result["software"],
    )
    changed = src["changed_modules"]
    cpus = result["cpus"]
    rows = [
        ["command", f"`{result['command']}`"],
        ["date", f"{result['date']}; the whole run {result['total_seconds']:.0f} s"],
        [
            "machine",
            f"{machine['nproc']} CPUs, {machine['cpu_model']}; {machine['platform']}",
        ],
        [
            "CPUs",
            "not pinned: the parallel contenders need both cores; this process "
            "could run on CPUs "
            + ("unknown" if cpus is None else ", ".join(map(str, cpus))),
        ],
        [
            "software",
            f"Python {machine['python']}, "
            + ", ".join(f"{k} {v}" for k, v in soft.items()),
        ],
        [
            "ours",
            f"linoss-dynamics {result['package']['version']} at commit {src['commit']}"
            + (
                f", with uncommitted changes to {', '.join(changed)}"
                if changed
                else " (measured modules as committed)"
            ),
        ],
        [
            "module digests",
            ", ".join(f"{k} {v}" for k, v in src["modules_sha256"].items()),
        ],
        [
            "sizes",
            f"IM, P = {config['P']} float64, dt = {config['dt']}, A uniform in "
            f"[0.5, 4], {config['distinct_inputs']} seeded inputs cycled, a "
            f"checkpoint every {result['checkpoint_every']} steps; "
            f"{config['workers']} workers; one log of {config['long_steps']:,} "
            f"steps; {config['many_logs']} logs of {config['many_steps']:,} steps "
            f"and {config['small_logs']} of {config['small_steps']}",
        ],
        [
            "rounds",
            f"{config['long_rounds']} for the long log, {config['scan_rounds']} for "
            f"the checkpoint scan, {config['pool_rounds']} for the pool's fixed "
            f"cost, {config['many_rounds']} for many logs, {config['small_rounds']} "
            f"for the 10-step logs; {h.ROUNDS_NOTE}",
        ],
    ]
    if result["_quick"]:
        rows.append(["mode", "`--quick`: small sizes, a smoke test, not the figures"])
    return h.markdown_table(["run", ""], rows)


def details_table(result: Mapping[str, Any]) -> str:
    samples: Mapping[str, h.Samples] = result["_samples"]
    long_log, many = result["long_log"], result["many_logs"]
    workers = result["config"]["workers"]
    fmt = h.format_seconds

    def med(name: str) -> float:
        return samples[name].median

    seq, par = med("long.sequential"), med("long.parallel")
    events = long_log["events"]
    scan = med("long.checkpoints")
    tiny_par, tiny_seq = med("pool.tiny_parallel"), med("pool.tiny_sequential")
    fresh = long_log["fresh_process"]
    rows = [
        [
            "1. the long log",
            f"{long_log['steps']:,} steps, {events:,} events, "
            f"{long_log['checkpoints']:,} checkpoints, "
            f"{megabytes(long_log['log_bytes'])}; recorded in "
            f"{long_log['record_seconds']:.1f} s (once)",
        ],
        [
            "`verify(path)`",
            f"{fmt(seq)} ({fmt(seq / events)} per event)",
        ],
        [
            f"`verify(path, workers={workers})`",
            f"{fmt(par)} ({fmt(par / events)} per event); a perfect split would "
            f"take {fmt(seq / workers)}, "
            + (
                f"so {fmt(par - seq / workers)} goes beyond it"
                if par >= seq / workers
                else f"{fmt(seq / workers - par)} more than this took (the "
                "workers' rounds ran faster than the sequential ones)"
            ),
        ],
        [
            "- of which `checkpoints(path)`, the scan that plans the split",
            f"{fmt(scan)} ({100 * scan / par:.0f}% of the parallel time)",
        ],
        [
            "- of which starting the pool, about (below)",
            f"{fmt(tiny_par - tiny_seq)}",
        ],
        [
            f"pool's fixed cost: a {long_log['tiny']['steps']}-step log, "
            f"{long_log['tiny']['checkpoints']} checkpoints",
            f"here: `verify(path)` {fmt(tiny_seq)}; `verify(path, "
            f"workers={workers})` first call of the process (forkserver start "
            f"included) {fmt(long_log['first_parallel_call_s'])}, later calls "
            f"{fmt(tiny_par)}, each worker importing this script again",
        ],
        [
            "- the same in a fresh `python -c` process (no script for the "
            "workers to import)",
            f"`verify(path)` {fmt(float(np.median(fresh['sequential_s'])))}; "
            f"`verify(path, workers={workers})` first call "
            f"{fmt(fresh['first_s'])}, later calls "
            f"{fmt(float(np.median(fresh['later_s'])))} (median of "
            f"{len(fresh['later_s'])}); importing the package "
            f"{fmt(fresh['import_s'])}",
        ],
        [
            "reports equal (sequential and parallel, every round)",
            "yes" if long_log["reports_equal"] else "**no**",
        ],
    ]
    logs, per = many["logs"], many["rounds"]
    rows += [
        [
            "2. many logs",
            f"{logs} logs of {many['steps']:,} steps, {many['events']:,} events, "
            f"{megabytes(many['log_bytes'])}; recorded in "
            f"{many['record_seconds']:.1f} s (once)",
        ],
        [
            "Dask cluster",
            f"start {fmt(many['cluster_start_s'])}, stop "
            f"{fmt(many['cluster_stop_s'])} (outside the rounds); first "
            f"`verify_many` on it ({many['small_logs']} 10-step logs, the "
            f"workers importing the package) {fmt(many['first_cluster_call_s'])}",
        ],
    ]
    labels = {
        "many.sequential": "loop here",
        "many.dask": f"Dask, {workers} workers",
        "many.pool": f"`workers={workers}` (own pool)",
    }
    for name, label in labels.items():
        rounds = per[name]
        wall = median_of(rounds, "wall_s")
        work = median_of(rounds, "sum_log_seconds")
        overhead = median_of(rounds, "overhead_per_log_s")
        cpu = median_of(rounds, "this_process_cpu_s")
        w = 1 if name == "many.sequential" else workers
        rows.append(
            [
                f"- {label}",
                f"wall {fmt(wall)}; sum of the per-log `seconds` {fmt(work)} "
                f"({fmt(work / logs)} per log); (wall x {w} - sum) / logs "
                f"= {fmt(overhead)} per log; CPU time of this process "
                f"{fmt(cpu)}",
            ]
        )
    small, small_per = many["small_logs"], many["small_rounds"]
    here = med("small.in_process")
    for name, label in (
        ("small.dask", f"Dask, {workers} workers"),
        ("small.pool", f"`workers={workers}` (own pool, its start included)"),
    ):
        per_log = med(name)
        cpu = median_of(small_per[name], "this_process_cpu_s") / small
        rows.append(
            [
                f"- {small} logs of {many['small_steps']} steps, {label}",
                f"{fmt(per_log)} per log against {fmt(here)} here: "
                f"{fmt(per_log - here)} more per log of wall time, "
                f"{fmt(per_log * workers - here)} more of wall x {workers}; "
                f"(wall x {workers} - sum) / logs = "
                f"{fmt(median_of(small_per[name], 'overhead_per_log_s'))}; CPU "
                f"time of this process {fmt(cpu)} per log",
            ]
        )
    rows.append(
        [
            "collections equal (every log's status and report, every round)",
            "yes" if many["reports_equal"] else "**no**",
        ]
    )
    return h.markdown_table(["details", "value"], rows)


def report(result: dict[str, Any]) -> str:
    lines = [
        run_table(result),
        "",
        h.summary_table(result["figures"]),
        "",
        details_table(result),
        "",
        h.contender_table(result["_samples"], result["rounds"]),
    ]
    if result["mismatches"]:
        lines += ["", "**Reports differ:**", ""]
        lines += [f"- {m}" for m in result["mismatches"]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``[--quick] [--json OUT]``, as ``_harness.main`` but without pinning to one
    CPU: the parallel contenders need every core."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, a minute or two (smoke test)"
    )
    parser.add_argument(
        "--json", metavar="OUT", type=Path, help="also write the results as JSON"
    )
    args = parser.parse_args(argv)

    result = run(QUICK if args.quick else FULL, h.log_to_stderr)
    result["pinned_cpu"] = None
    result["_quick"] = args.quick

    print(report(result))
    if args.json is not None:
        data = {k: v for k, v in result.items() if not k.startswith("_")}
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if result["mismatches"]:
        raise AssertionError(
            f"{len(result['mismatches'])} parallel results differ from the "
            "sequential ones (listed above)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
