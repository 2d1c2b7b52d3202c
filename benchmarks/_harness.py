"""Timing, reporting and the command line shared by the benchmarks.

The benchmarks run on small, shared machines where a single timing says little.
So every figure is a median over rounds, and within a round every contender is
timed once, back to back, in an order that rotates from round to round: a burst
of load from a neighbour then hits all contenders alike instead of one of them.
Ratios pair the contenders round by round (see ``ratio``).

linoss-dynamics 0.2.2, the reference, is imported as ``linoss_dynamics``, the
name of this package, so it cannot live in the benchmark's process. It runs in a
worker process (this file, run as a script) that times blocks of calls on
request; while it does, the benchmark's process waits on the pipe and takes no
CPU, and the other way round.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import hashlib
import inspect
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import textwrap
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[1]
REFERENCE_VERSION = "0.2.2"
REFERENCE_DIR = REPO / "scratch" / f"reference-{REFERENCE_VERSION}"

Block = Callable[[int], object]
"""``block(n)`` makes ``n`` calls of the operation being timed."""


# -- timing -------------------------------------------------------------------


def time_block(block: Block, number: int) -> float:
    """Seconds per call of ``block(number)``, with the garbage collector paused.

    The collector is paused as ``timeit`` does, so that a collection triggered
    by one contender's garbage is not charged to whichever runs next.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        block(number)
        elapsed = time.perf_counter() - start
    finally:
        if was_enabled:
            gc.enable()
    return elapsed / number


def calibrate(block: Block, target_seconds: float) -> int:
    """The number of calls for which ``block`` takes about ``target_seconds``.

    Runs one untimed call first (caches, lazy imports), then doubles the count
    until a block is long enough to time reliably, and scales from there.
    """
    block(1)
    number = 1
    while True:
        total = time_block(block, number) * number
        if total >= target_seconds / 4 or number >= 1 << 24:
            break
        number *= 2
    return max(1, round(number * target_seconds / max(total, 1e-9)))


@dataclass(frozen=True)
class Samples:
    """One contender's timings, one per round, in seconds per unit of work."""

    name: str
    seconds: tuple[float, ...]
    unit: str = "call"

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def low(self) -> float:
        return min(self.seconds)

    @property
    def high(self) -> float:
        return max(self.seconds)

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "median_s": self.median,
            "min_s": self.low,
            "max_s": self.high,
            "samples_s": list(self.seconds),
        }


@dataclass(frozen=True)
class Contender:
    """Something to time: ``measure()`` times one block, in seconds per unit."""

    name: str
    measure: Callable[[], float]
    unit: str = "call"


def local_contender(
    name: str,
    block: Block,
    *,
    target_seconds: float,
    units: int = 1,
    unit: str = "call",
    number: int | None = None,
) -> Contender:
    """A contender timed in this process.

    Args:
        name: Label in the results.
        block: ``block(n)`` makes ``n`` calls.
        target_seconds: How long one block should take (sets the call count).
        units: Units of work per call (e.g. the L steps of one scan call).
        unit: The name of the unit, for the results.
        number: Calls per block, instead of calibrating (one untimed call is
            still made first).
    """
    if number is None:
        number = calibrate(block, target_seconds)
    else:
        block(1)
    count = number
    return Contender(name, lambda: time_block(block, count) / units, unit)


def interleave(contenders: Sequence[Contender], rounds: int) -> dict[str, Samples]:
    """Time every contender once per round, rotating the order each round."""
    times: dict[str, list[float]] = {c.name: [] for c in contenders}
    for r in range(rounds):
        for i in range(len(contenders)):
            contender = contenders[(r + i) % len(contenders)]
            times[contender.name].append(contender.measure())
    return {c.name: Samples(c.name, tuple(times[c.name]), c.unit) for c in contenders}


class Timings:
    """The samples of every contender a run times, and how many rounds each had.

    Attributes:
        results: Each contender's samples, by name, in the order they were timed.
        rounds: Each contender's number of rounds, by name.
    """

    def __init__(self, log: Callable[[str], None]) -> None:
        self._log = log
        self.results: dict[str, Samples] = {}
        self.rounds: dict[str, int] = {}

    def measure(self, title: str, contenders: list[Contender], n_rounds: int) -> None:
        """Time ``contenders`` together in ``n_rounds`` interleaved rounds.

        Args:
            title: What the group is, for the progress log.
            contenders: The group, timed back to back in every round.
            n_rounds: How many rounds.
        """
        self._log(f"timing {title}: {', '.join(c.name for c in contenders)}")
        for name, samples in interleave(contenders, n_rounds).items():
            self.results[name] = samples
            self.rounds[name] = n_rounds


def each(fn: Callable[..., object], args: Sequence[tuple[Any, ...]]) -> Block:
    """``fn(*args[k])`` for k cycling through ``args`` (a power-of-two count)."""
    mask = len(args) - 1

    def block(n: int) -> None:
        for i in range(n):
            fn(*args[i & mask])

    return block


# -- files written across rounds ----------------------------------------------


class Sink:
    """An open file a write contender appends to, renewed between rounds.

    ``opener(path)`` returns the object the contender writes through (a file,
    a log writer, a recorder); ``close`` closes it with its ``close()`` and
    removes its file. ``seq`` is free for a contender that numbers what it
    writes through this sink, across files.

    Attributes:
        path: The file being written.
        target: What ``opener`` returned for it.
        seq: A counter for the contender's own use, kept across renewals.
    """

    def __init__(
        self,
        directory: Path,
        name: str,
        opener: Callable[[Path], Any],
        rotate_bytes: int,
        suffix: str = "",
    ) -> None:
        """Opens the sink's first file.

        Args:
            directory: Where the files go.
            name: Stem of the file names: ``{name}.{count}{suffix}``.
            opener: Opens one file, by path.
            rotate_bytes: Size past which ``renew_if_full`` starts a new file.
            suffix: Ending of the file names.
        """
        self._directory = directory
        self._name = name
        self._suffix = suffix
        self._opener = opener
        self._rotate_bytes = rotate_bytes
        self._files = 0
        self.seq = 0
        self.path = self._next_path()
        self.target = opener(self.path)

    def _next_path(self) -> Path:
        self._files += 1
        return self._directory / f"{self._name}.{self._files}{self._suffix}"

    def renew_if_full(self) -> None:
        if self.path.stat().st_size < self._rotate_bytes:
            return
        self.close()
        self.path = self._next_path()
        self.target = self._opener(self.path)

    def close(self) -> None:
        self.target.close()
        self.path.unlink()


def sink_contender(
    name: str,
    sink: Sink,
    block: Block,
    *,
    target_seconds: float,
    unit: str,
    number: int | None = None,
) -> Contender:
    """A contender writing through ``sink``, renewed when full outside the timing.

    Args:
        name: Label in the results.
        sink: The sink ``block`` writes through.
        block: ``block(n)`` writes ``n`` times.
        target_seconds: How long one block should take (sets the call count).
        unit: What one call writes, for the results.
        number: Calls per block, instead of calibrating.
    """
    timed = local_contender(
        name, block, target_seconds=target_seconds, unit=unit, number=number
    )

    def measure() -> float:
        sink.renew_if_full()
        return timed.measure()

    return Contender(name, measure, unit)


@dataclass(frozen=True)
class Ratio:
    """A ratio of two contenders' times: the median and quartiles over rounds."""

    median: float
    q1: float
    q3: float

    def as_dict(self) -> dict[str, float]:
        return {"median": self.median, "q1": self.q1, "q3": self.q3}


def ratio(numerator: Samples, denominator: Samples) -> Ratio:
    """How many times longer ``numerator`` took than ``denominator``.

    Paired by round: the two were timed back to back in each round of one
    ``interleave`` call, so a slow spell of the machine that lasts longer than a
    round scales both and cancels in their quotient. The ratio is the median of
    the per-round quotients, with their quartiles to show the spread.
    """
    if len(numerator.seconds) != len(denominator.seconds):
        raise ValueError(
            f"{numerator.name} and {denominator.name} must come from the same "
            f"interleaved rounds; got {len(numerator.seconds)} and "
            f"{len(denominator.seconds)} samples"
        )
    quotients = [
        a / b for a, b in zip(numerator.seconds, denominator.seconds, strict=True)
    ]
    if len(quotients) == 1:
        return Ratio(quotients[0], quotients[0], quotients[0])
    q1, median, q3 = statistics.quantiles(quotients, n=4, method="inclusive")
    return Ratio(median, q1, q3)


# -- the reference, in a worker process ----------------------------------------


class ReferenceUnavailableError(RuntimeError):
    """The reference package could not be installed or imported."""


def ensure_reference(target: Path = REFERENCE_DIR) -> Path:
    """Install linoss-dynamics 0.2.2 into ``target`` unless it is already there.

    ``--no-deps``: the reference runs on this environment's NumPy, so the two
    sides of a ratio use the same NumPy build.
    """
    if (target / "linoss_dynamics" / "__init__.py").is_file():
        return target
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--target",
        str(target),
        "--no-deps",
        f"linoss-dynamics=={REFERENCE_VERSION}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ReferenceUnavailableError(
            f"could not install linoss-dynamics {REFERENCE_VERSION} into {target} "
            f"({shlex.join(command)} exited {done.returncode}): "
            f"{done.stderr.strip()[-500:]}"
        )
    return target


class ReferenceWorker:
    """A worker process that imports the reference package and times blocks.

    Use as a context manager. ``setup`` ships the source of a self-contained
    factory function (it imports what it needs; helper functions it calls are
    shipped alongside) that returns ``{name: block}``; ``contender`` then wraps
    one of those blocks as a ``Contender`` for ``interleave``.

    Attributes:
        version: The reference's version, from its installed metadata.
        location: The file the reference was imported from.
        numpy_version: NumPy as seen by the worker.
    """

    def __init__(self, target: Path = REFERENCE_DIR) -> None:
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", str(target)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=str(target),
        )
        hello = self._receive()
        self.version: str = hello["version"]
        self.location: str = hello["location"]
        self.numpy_version: str = hello["numpy"]

    def __enter__(self) -> ReferenceWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            self._process.wait(timeout=30)

    def _receive(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise ReferenceUnavailableError(
                f"reference worker exited with status {self._process.wait()}"
            )
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise ReferenceUnavailableError(
                f"reference worker failed:\n{reply['error']}"
            )
        return reply

    def _request(self, **message: Any) -> dict[str, Any]:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(message) + "\n")
        self._process.stdin.flush()
        return self._receive()

    def setup(
        self,
        factory: Callable[..., Mapping[str, Block]],
        *,
        helpers: Iterable[Callable[..., Any]] = (),
        **params: Any,
    ) -> list[str]:
        """Build the worker's blocks with ``factory(**params)``; returns their names.

        ``params`` must be JSON values. ``factory`` and ``helpers`` must be
        module-level functions: their source is sent, not the objects.
        """
        source = "\n\n".join(
            textwrap.dedent(inspect.getsource(fn)) for fn in (*helpers, factory)
        )
        reply = self._request(
            op="setup", source=source, factory=factory.__name__, params=params
        )
        return list(reply["names"])

    def time(self, name: str, number: int) -> float:
        """Seconds per call of the worker's block ``name`` over ``number`` calls."""
        return float(self._request(op="time", name=name, number=number)["seconds"])

    def contender(
        self,
        label: str,
        name: str,
        *,
        target_seconds: float,
        units: int = 1,
        unit: str = "call",
        number: int | None = None,
    ) -> Contender:
        """The worker's block ``name`` as a contender (see ``local_contender``)."""
        if number is None:
            number = int(
                self._request(op="calibrate", name=name, target=target_seconds)[
                    "number"
                ]
            )
        else:
            self.time(name, 1)
        count = number
        return Contender(label, lambda: self.time(name, count) / units, unit)


def start_reference(
    factory: Callable[..., Mapping[str, Block]],
    *,
    log: Callable[[str], None],
    helpers: Iterable[Callable[..., Any]] = (),
    **params: Any,
) -> tuple[ReferenceWorker | None, dict[str, Any]]:
    """Start a reference worker with ``factory``'s blocks, if the reference runs.

    Args:
        factory: Passed to ``ReferenceWorker.setup``, with ``helpers``.
        log: Told when the reference is unavailable.
        helpers: Module-level functions ``factory`` calls.
        **params: ``factory``'s arguments, JSON values.

    Returns:
        The worker, or None when the reference could not be installed or
        imported; and the record of it for the results: its version and
        location, or the error.
    """
    reference: dict[str, Any] = {"version": None, "error": None}
    worker: ReferenceWorker | None = None
    try:
        ensure_reference()
        worker = ReferenceWorker()
        worker.setup(factory, helpers=helpers, **params)
        reference.update(version=worker.version, location=worker.location)
    except ReferenceUnavailableError as exc:
        if worker is not None:
            worker.close()
            worker = None
        reference["error"] = str(exc)
        log(f"reference unavailable, its rows are n/a: {exc}")
    return worker, reference


def _worker_main(target: Path) -> None:
    """The worker's loop: one JSON request per line in, one reply per line out."""
    protocol = sys.stdout
    # Anything the reference might print must not corrupt the protocol.
    sys.stdout = sys.stderr
    sys.path.insert(0, str(target))

    def reply(**message: Any) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    try:
        import importlib.metadata

        import numpy

        import linoss_dynamics

        location = Path(linoss_dynamics.__file__).resolve()
        if target.resolve() not in location.parents:
            raise ImportError(f"linoss_dynamics came from {location}, not {target}")
        (dist,) = importlib.metadata.distributions(path=[str(target)])
        reply(version=dist.version, location=str(location), numpy=numpy.__version__)
    except Exception:
        reply(error=traceback.format_exc())
        return

    blocks: dict[str, Block] = {}
    for line in sys.stdin:
        try:
            request = json.loads(line)
            op = request["op"]
            if op == "setup":
                namespace: dict[str, Any] = {"__name__": "reference_benchmarks"}
                exec(compile(request["source"], "<benchmarks>", "exec"), namespace)
                blocks = dict(namespace[request["factory"]](**request["params"]))
                reply(names=sorted(blocks))
            elif op == "calibrate":
                number = calibrate(blocks[request["name"]], request["target"])
                reply(number=number)
            elif op == "time":
                seconds = time_block(blocks[request["name"]], request["number"])
                reply(seconds=seconds)
            else:
                reply(error=f"unknown request {op!r}")
        except Exception:
            reply(error=traceback.format_exc())


def pin_to_one_cpu() -> int | None:
    """Pin this process, and the workers it starts afterwards, to one CPU.

    Contenders in different processes then run on the same core, so a ratio
    between them does not also measure the difference between two cores of a
    shared machine. Returns the CPU, or None where affinity is not supported.
    """
    try:
        cpu = max(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
    except (AttributeError, OSError):
        return None
    return cpu


# -- reporting ----------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """CPU count and model, Python and NumPy versions, for the record."""
    import numpy

    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        model = platform.processor() or "unknown"
    return {
        "nproc": os.cpu_count() or 0,
        "cpu_model": model,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "platform": platform.platform(),
    }


def describe_machine(machine: Mapping[str, Any]) -> str:
    """``machine_info()`` in a line: CPUs and model, Python and NumPy versions."""
    return (
        f"{machine['nproc']} CPUs, {machine['cpu_model']}; Python "
        f"{machine['python']}, NumPy {machine['numpy']}"
    )


def describe_reference(reference: Mapping[str, Any]) -> str:
    """The record of ``start_reference`` in words."""
    if reference["version"]:
        return f"linoss-dynamics {reference['version']} in a worker process"
    return f"unavailable ({reference['error']})"


ROUNDS_NOTE = (
    "times are medians over rounds, ratios medians of the per-round ratios "
    "(quartiles beside them)"
)
"""How the tables summarise the interleaved rounds, for the reports' preambles."""


def run_header() -> dict[str, Any]:
    """The command, the date (UTC, now) and the machine, to open the results."""
    return {
        "command": command_line(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "machine": machine_info(),
    }


def measured_sources(modules: Sequence[str]) -> dict[str, Any]:
    """The commit, and a digest of each measured module as it was when measured.

    The modules may differ from the commit (a working tree); the digests say
    which version the figures belong to.

    Args:
        modules: File names of modules of the package, such as ``"codec.py"``.

    Returns:
        ``commit``, the short hash of HEAD; ``modules_sha256``, the first 12
        hex digits of each module's sha256, by name; ``changed_modules``, the
        modules git sees changed against HEAD.
    """
    # Imported here: the reference worker runs this file with the reference
    # under the same name.
    import linoss_dynamics

    root = Path(linoss_dynamics.__file__).resolve().parent
    found = {
        name: hashlib.sha256((root / name).read_bytes()).hexdigest()[:12]
        for name in modules
    }

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--", *modules)
    return {
        "commit": git("rev-parse", "--short", "HEAD") or "unknown",
        "modules_sha256": found,
        "changed_modules": sorted(
            line.split("/")[-1] for line in changed.splitlines() if line
        ),
    }


def source_revision() -> str:
    """The commit measured, with ``+changes`` when ``src/`` differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command that ran this benchmark, as it could be typed again."""
    args = sys.argv if argv is None else argv
    return shlex.join(["python", *args])


def format_seconds(seconds: float) -> str:
    """A duration with a unit that keeps three significant digits readable."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def format_ratio(value: float) -> str:
    return f"{value:.3g}x"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def describe_met(met: bool | None) -> str:
    """Whether a figure met its target, for a table cell (``-``: no target)."""
    return {None: "-", True: "yes", False: "**no**"}[met]


SUMMARY_HEADER = ("figure", "ours", "against", "ratio", "quartiles", "target", "met")
"""The columns of a summary of figures."""


def contender_table(
    results: Mapping[str, Samples],
    rounds: Mapping[str, int],
    *,
    leave_out: tuple[str, ...] = (),
) -> str:
    """Every contender's median, min and max, and its rounds, as a markdown table.

    Args:
        results: The samples, by contender name.
        rounds: The rounds, by contender name.
        leave_out: Name prefixes of contenders reported elsewhere.
    """
    return markdown_table(
        ["contender", "median", "min", "max", "rounds"],
        (
            [
                f"`{s.name}`",
                f"{format_seconds(s.median)} per {s.unit}",
                format_seconds(s.low),
                format_seconds(s.high),
                str(rounds[s.name]),
            ]
            for s in results.values()
            if not s.name.startswith(leave_out)
        ),
    )


# -- figures ------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One line of the summary: ``ours`` against ``other``, as a ratio.

    ``kind`` is ``"speedup"`` (ratio ``other / ours``, the target a minimum) or
    ``"overhead"`` (ratio ``ours / other``, the target a maximum).
    """

    label: str
    ours: str
    other: str
    kind: str
    target: float | None = None


def figure_row(
    figure: Figure, results: Mapping[str, Samples], *, units_per_side: bool = False
) -> dict[str, Any]:
    """The figure's ratio and whether it met its target, as JSON-ready data.

    Args:
        figure: The figure.
        results: The samples, by contender name; where either side is missing
            (the reference unavailable), ``ratio`` and ``met`` are None.
        units_per_side: Give each side's unit (``ours_unit``, ``other_unit``)
            rather than one ``unit``, for figures whose sides time different
            units of work.
    """
    ours, other = results.get(figure.ours), results.get(figure.other)
    row: dict[str, Any] = asdict(figure)
    if ours is None or other is None:
        return {**row, "ratio": None, "met": None}
    if figure.kind == "speedup":
        value = ratio(other, ours)
        met = None if figure.target is None else value.median >= figure.target
    else:
        value = ratio(ours, other)
        met = None if figure.target is None else value.median <= figure.target
    if units_per_side:
        sides = {
            "ours_s": ours.median,
            "ours_unit": ours.unit,
            "other_s": other.median,
            "other_unit": other.unit,
        }
    else:
        sides = {"ours_s": ours.median, "other_s": other.median, "unit": ours.unit}
    return {**row, **sides, "ratio": value.as_dict(), "met": met}


def describe_ratio(kind: str, value: float) -> str:
    """A figure's ratio in words: ``faster``/``slower``, or ``the time``."""
    if kind != "speedup":
        return f"{format_ratio(value)} the time"
    if value >= 1.0:
        return f"{format_ratio(value)} faster"
    return f"{format_ratio(1.0 / value)} slower"


def summary_table(rows: Iterable[Mapping[str, Any]]) -> str:
    """The ``figure_row`` rows as a markdown table, n/a where a side is missing."""

    def cells(row: Mapping[str, Any]) -> list[str]:
        sign = ">=" if row["kind"] == "speedup" else "<="
        target = "-" if row["target"] is None else f"{sign} {row['target']:g}x"
        if row["ratio"] is None:
            return [row["label"], "n/a", "n/a", "n/a", "-", target, "-"]
        if "unit" in row:
            ours_unit = other_unit = row["unit"]
        else:
            ours_unit, other_unit = row["ours_unit"], row["other_unit"]
        r = row["ratio"]
        return [
            row["label"],
            f"{format_seconds(row['ours_s'])} per {ours_unit}",
            f"{format_seconds(row['other_s'])} per {other_unit}",
            describe_ratio(row["kind"], r["median"]),
            f"{r['q1']:.3g}-{r['q3']:.3g}",
            target,
            describe_met(row["met"]),
        ]

    return markdown_table(SUMMARY_HEADER, (cells(r) for r in rows))


# -- the command line ---------------------------------------------------------

ConfigT = TypeVar("ConfigT")


def log_to_stderr(message: str) -> None:
    """Progress goes to stderr, so that stdout holds the report alone."""
    print(message, file=sys.stderr)


def main(
    argv: Sequence[str] | None,
    *,
    doc: str | None,
    full: ConfigT,
    quick: ConfigT,
    run: Callable[[ConfigT, Callable[[str], None]], dict[str, Any]],
    report: Callable[[dict[str, Any]], str],
) -> int:
    """A benchmark's command line: ``[--quick] [--json OUT]``.

    Pins the process to one CPU, runs ``run(config, log)`` with ``full`` or,
    with ``--quick``, ``quick``, and prints ``report(result)``; ``--json OUT``
    also writes the result, but for its ``_``-prefixed keys, to ``OUT``. The
    result gains ``pinned_cpu``, and ``_quick`` for the report.

    Args:
        argv: The arguments, or None for ``sys.argv[1:]``.
        doc: The benchmark's docstring; its first line describes the command.
        full: The configuration of a full run.
        quick: The configuration of a ``--quick`` run.
        run: Measures everything; returns the results.
        report: The results as markdown.

    Returns:
        The exit status, 0: targets never change it.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, a few seconds (smoke test)"
    )
    parser.add_argument(
        "--json", metavar="OUT", type=Path, help="also write the results as JSON"
    )
    args = parser.parse_args(argv)

    cpu = pin_to_one_cpu()
    result = run(quick if args.quick else full, log_to_stderr)
    result["pinned_cpu"] = cpu
    result["_quick"] = args.quick

    print(report(result))
    if args.json is not None:
        data = {k: v for k, v in result.items() if not k.startswith("_")}
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        _worker_main(Path(sys.argv[2]))
    else:
        sys.exit(
            "usage: _harness.py --worker REFERENCE_DIR (started by the benchmarks)"
        )
