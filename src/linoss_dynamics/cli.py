"""The ``linoss`` command: record, verify, inspect, compare and export run logs.

Exit codes, the same for every verb: 0 verified or done; 1 verification failed
(divergence, broken chain, corruption, truncation); 2 could not start (missing
file, not a log, unsupported version, bad arguments). ``--json`` prints the
report model; human output is short and exact. Only this module prints.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

import numpy as np
from pydantic import BaseModel, ConfigDict, FiniteFloat, ValidationError

from ._version import __version__
from .errors import (
    AuditFailedError,
    LinOSSError,
    LogError,
    SequentialVerifyWarning,
    UnsupportedVersionError,
)
from .events import (
    FailureCode,
    LogStatus,
    LogVerification,
    RunSpecModel,
    VerificationReport,
)
from .oscillator import Oscillator

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CANNOT_START = 2


class RunConfig(RunSpecModel):
    """``linoss record --config``: the header's parameters and an initial state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    y0: list[FiniteFloat] | None = None
    z0: list[FiniteFloat] | None = None
    checkpoint_every: int | None = None
    full_state: bool = False


class _Progress:
    """A one-line progress counter on a terminal; silent when stderr is piped."""

    def __init__(self, what: str, stream: TextIO = sys.stderr) -> None:
        self.what = what
        self.stream = stream
        self.active = stream.isatty()

    def __call__(self, count: int) -> None:
        if self.active:
            self.stream.write(f"\r{self.what} {count:,} events")
            self.stream.flush()

    def done(self) -> None:
        if self.active:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _print_json(model: BaseModel) -> None:
    print(model.model_dump_json(indent=2))


def _verification_exit(report: VerificationReport) -> int:
    if report.ok:
        return EXIT_OK
    if (
        report.failure is not None
        and report.failure.code is FailureCode.UNSUPPORTED_VERSION
    ):
        return EXIT_CANNOT_START
    return EXIT_FAILED


def _describe_failure(report: Any) -> str:
    failure = report.failure if hasattr(report, "failure") else report.difference
    lines = [f"  {failure.code.value} at seq {failure.seq}: {failure.message}"]
    if failure.expected_digest or failure.actual_digest:
        lines.append(
            f"  digests: recorded {failure.expected_digest}, replayed {failure.actual_digest}"
        )
    if failure.mismatch is not None:
        m = failure.mismatch
        where = "" if m.index is None else f"[{m.index}]"
        lines.append(
            f"  {m.field}{where}: expected {m.expected}, actual {m.actual} ({m.ulps} ulp)"
        )
    return "\n".join(lines)


# -- verbs ---------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from .recorder import Recorder
    from .verify import verify

    if args.steps < 1 or args.oscillators < 1:
        print(
            "linoss demo: --steps and --oscillators must be positive", file=sys.stderr
        )
        return EXIT_CANNOT_START
    path = args.out or os.path.join(
        tempfile.gettempdir(), f"linoss-demo-{args.seed}.log"
    )
    rng = np.random.default_rng(args.seed)
    size = args.oscillators
    osc = Oscillator(
        A=rng.uniform(0.5, 4.0, size),
        dt=0.05,
        G=rng.uniform(0.0, 0.5, size),
        mode="imex1",
    )
    U = rng.standard_normal((args.steps, size))
    y0 = rng.standard_normal(size)

    # Record: a damped bank driven by seeded noise, retuned halfway through.
    start = time.perf_counter()
    with Recorder(path, osc, y0, np.zeros(size), overwrite=True) as recorder:
        for t in range(args.steps):
            if t == args.steps // 2:
                recorder.set_params(G=osc.G * 0.5)  # type: ignore[operator]
            recorder.step(U[t])
    recorded = time.perf_counter() - start

    # Verify: replay the log against the core and compare every byte.
    progress = _Progress("verified")
    start = time.perf_counter()
    report = verify(path, progress=progress)
    verified = time.perf_counter() - start
    progress.done()

    print(
        f"recorded {args.steps:,} steps of {size} damped oscillators (D-LinOSS IMEX1)"
    )
    print(
        f"  {args.steps / recorded:,.0f} steps/s ({recorded * 1e6 / args.steps:.1f} us "
        f"per recorded step), {os.path.getsize(path):,} bytes: {path}"
    )
    print(
        f"verified {report.events_verified:,} events by replay: "
        f"{'ok' if report.ok else 'FAILED'} "
        f"({verified * 1e6 / max(report.events_verified, 1):.1f} us per event)"
    )
    print(f"run digest {report.run_digest}")
    if not report.ok:
        print(_describe_failure(report))
    return _verification_exit(report)


def _record(args: argparse.Namespace) -> int:
    from .events import oscillator_of
    from .recorder import DEFAULT_CHECKPOINT_EVERY, Recorder

    try:
        with open(args.config, encoding="utf-8") as handle:
            config = RunConfig.model_validate_json(handle.read())
    except OSError as exc:
        print(
            f"linoss record: cannot read {args.config}: {exc.strerror}", file=sys.stderr
        )
        return EXIT_CANNOT_START
    except ValidationError as exc:
        print(
            f"linoss record: {args.config} is not a run config:\n{exc}", file=sys.stderr
        )
        return EXIT_CANNOT_START
    try:
        inputs = np.load(args.inputs, allow_pickle=False)
    except (OSError, ValueError) as exc:
        print(f"linoss record: cannot read {args.inputs}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    if inputs.ndim == 0:
        print(
            f"linoss record: {args.inputs} must hold one input per step (a leading time "
            f"axis); got shape {inputs.shape}",
            file=sys.stderr,
        )
        return EXIT_CANNOT_START

    from .events import RunSpec

    spec = RunSpec(
        scheme=config.scheme,
        A=np.asarray(config.A, dtype=np.float64),
        G=None if config.G is None else np.asarray(config.G, dtype=np.float64),
        dt=config.dt if isinstance(config.dt, float) else np.asarray(config.dt),
        B=None if config.B is None else np.asarray(config.B, dtype=np.float64),
        allow_unstable=config.allow_unstable,
    )
    osc = oscillator_of(spec)
    size = osc.size
    y0 = np.zeros(size) if config.y0 is None else np.asarray(config.y0)
    z0 = np.zeros(size) if config.z0 is None else np.asarray(config.z0)
    every = (
        DEFAULT_CHECKPOINT_EVERY
        if config.checkpoint_every is None
        else config.checkpoint_every
    )
    start = time.perf_counter()
    with Recorder(
        args.out,
        osc,
        y0,
        z0,
        checkpoint_every=every,
        full_state=config.full_state,
        overwrite=args.overwrite,
        key=_key(args),
    ) as recorder:
        for u in inputs:
            recorder.step(u)
    digest = recorder.run_digest.hex()  # after the closing record
    elapsed = time.perf_counter() - start
    print(f"recorded {len(inputs):,} steps in {elapsed:.2f} s to {args.out}")
    print(f"run digest {digest}")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from .verify import verify

    key = _key(args)
    progress = _Progress("verified")
    with _notices("verify"):
        report = verify(
            args.path,
            from_seq=args.from_seq,
            to_seq=args.to_seq,
            workers=args.workers,
            progress=progress,
            key=key,
            seals=args.seals,
        )
    progress.done()
    if args.json:
        _print_json(report)
    elif report.ok:
        closed = (
            ""
            if report.closed
            else " (no closing record: the run may have stopped early)"
        )
        print(
            f"ok: {report.events_verified:,} events verified, run digest {report.run_digest}{closed}"
        )
        if report.tree_root is not None:
            print(f"Merkle root {report.tree_root}")
        if key is not None:
            print(
                f"{report.seals_checked:,} sealed checkpoints checked (key "
                f"{key.key_id}); {report.sealed_events:,} of "
                f"{report.first_seq + report.events_verified:,} events under seal"
            )
    else:
        print(f"FAILED after {report.events_verified:,} verified events")
        print(_describe_failure(report))
    return _verification_exit(report)


@contextlib.contextmanager
def _notices(verb: str) -> Iterator[None]:
    """Print the package's warnings as one-line notices on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SequentialVerifyWarning)
        try:
            yield
        finally:
            for warning in caught:
                print(f"linoss {verb}: notice: {warning.message}", file=sys.stderr)


def _key(args: argparse.Namespace, *, required: bool = False) -> Any:
    """The key of ``--key-file``, or of ``$LINOSS_SEAL_KEY`` with ``--key-env``:
    a seal key, or an Ed25519 private or public key."""
    from .seals import KEY_ENV, load_key, parse_key

    if getattr(args, "key_file", None) is not None:
        return load_key(args.key_file)
    if getattr(args, "key_env", False):
        text = os.environ.get(KEY_ENV)
        if text is None:
            raise LinOSSError(f"--key-env: ${KEY_ENV} is not set", argument="key")
        return parse_key(text, source=f"${KEY_ENV}")
    if required:
        raise LinOSSError(
            "this needs the seal key: pass --key-file FILE or --key-env", argument="key"
        )
    return None


def _write_new(path: str, text: str, mode: int) -> bool:
    """Write ``text`` to a file that must not exist yet; False if it does."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
    return True


def _keygen(args: argparse.Namespace) -> int:
    from .seals import SealKey, SigningKey

    public = f"{args.keyfile}.pub"
    if args.ed25519 and os.path.exists(public):
        print(f"linoss keygen: {public} exists; not replacing a key", file=sys.stderr)
        return EXIT_CANNOT_START
    key: Any = SigningKey.generate() if args.ed25519 else SealKey.generate()
    text = key.text() if args.ed25519 else key.hex() + "\n"
    if not _write_new(args.keyfile, text, 0o600):
        print(
            f"linoss keygen: {args.keyfile} exists; not replacing a key",
            file=sys.stderr,
        )
        return EXIT_CANNOT_START
    if args.ed25519:
        _write_new(public, key.verify_key.text(), 0o644)
        print(
            f"wrote a new Ed25519 signing key {key.key_id} to {args.keyfile} (keep it "
            f"secret) and its public key to {public}"
        )
    else:
        print(f"wrote a new seal key {key.key_id} to {args.keyfile} (keep it secret)")
    return EXIT_OK


def _checkpoint(args: argparse.Namespace) -> int:
    from .proofs import sealed_checkpoint

    checkpoint = sealed_checkpoint(
        args.path, covering=0, size=args.size, key=_key(args, required=True)
    )
    sys.stdout.write(checkpoint.text())
    return EXIT_OK


def _prove(args: argparse.Namespace) -> int:
    from .proofs import prove_consistency, prove_inclusion

    key = _key(args)
    if (args.seq is None) == (args.from_size is None):
        print("linoss prove: pass --seq N or --from-size M", file=sys.stderr)
        return EXIT_CANNOT_START
    proof: BaseModel
    if args.seq is not None:
        proof = prove_inclusion(
            args.path, args.seq, size=args.size, key=key, seals=args.seals
        )
    else:
        proof = prove_consistency(
            args.path, args.from_size, size=args.size, key=key, seals=args.seals
        )
    _print_json(proof)
    return EXIT_OK


def _read_text(path: str, verb: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read(1 << 24)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"linoss {verb}: cannot read {path}: {exc}", file=sys.stderr)
        return None


def _check_proof(args: argparse.Namespace) -> int:
    from .proofs import check_proof, parse_proof

    text = _read_text(args.proof, "check-proof")
    if text is None:
        return EXIT_CANNOT_START
    key = _key(args)
    proof = parse_proof(text)
    try:
        result = check_proof(proof, key=key)
    except AuditFailedError as exc:
        print(f"FAILED: {exc}")
        return EXIT_FAILED
    if args.json:
        _print_json(result)
    else:
        print(f"ok: {result.message}")
    return EXIT_OK


def _bundle(args: argparse.Namespace) -> int:
    from .bundle import make_bundle

    data = make_bundle(
        args.path, args.seq, to_seq=args.to_seq, key=_key(args), seals=args.seals
    )
    with open(args.out, "wb") as handle:
        handle.write(data)
    print(f"wrote {len(data):,} bytes to {args.out}")
    return EXIT_OK


def _verify_bundle(args: argparse.Namespace) -> int:
    from .bundle import verify_bundle

    key = _key(args)
    report = verify_bundle(args.bundle, key=key)
    if args.json:
        _print_json(report)
    elif report.ok:
        sealed = (
            f"sealed with key {key.key_id}"
            if key is not None
            else "seal NOT checked (no key)"
        )
        print(
            f"ok: events {report.first_seq} to {report.last_seq} of run {report.run} "
            f"re-executed ({report.events_verified:,} events); they are under the "
            f"root {report.root} of {report.size:,} events, {sealed}"
        )
    else:
        assert report.failure is not None
        print(
            f"FAILED: {report.failure.code.value} at seq {report.failure.seq}: {report.failure.message}"
        )
    return EXIT_OK if report.ok else EXIT_FAILED


def _list_paths(args: argparse.Namespace) -> list[str] | None:
    paths = list(args.paths)
    if args.from_file is not None:
        try:
            with open(args.from_file, encoding="utf-8") as handle:
                lines = [line.strip() for line in handle]
        except (OSError, UnicodeDecodeError) as exc:
            print(
                f"linoss verify-many: cannot read {args.from_file}: {exc}",
                file=sys.stderr,
            )
            return None
        paths += [line for line in lines if line and not line.startswith("#")]
    if not paths:
        print(
            "linoss verify-many: no logs given: pass paths or --from-file LIST",
            file=sys.stderr,
        )
        return None
    return paths


def _verify_many(args: argparse.Namespace) -> int:
    from .fleet import dask_executor, verify_many

    paths = _list_paths(args)
    if paths is None:
        return EXIT_CANNOT_START
    total = len(paths)
    done = 0

    def show(result: LogVerification) -> None:
        nonlocal done
        done += 1
        if args.json:
            return
        report = result.report
        if result.status is LogStatus.VERIFIED and report is not None:
            line = f"ok      {result.path}: {report.events_verified:,} events, run digest {report.run_digest}"
        elif report is not None and report.failure is not None:
            f = report.failure
            line = f"FAILED  {result.path}: {f.code.value} at seq {f.seq}: {f.message}"
        else:
            line = f"ERROR   {result.path}: {result.error}"
        print(f"[{done}/{total}] {line}", flush=True)

    with contextlib.ExitStack() as stack:
        executor = None
        workers = args.workers
        if args.dask or args.scheduler is not None:
            try:
                executor = stack.enter_context(
                    dask_executor(args.scheduler, workers=args.workers)
                )
            except OSError as exc:
                print(
                    f"linoss verify-many: cannot reach the Dask scheduler at "
                    f"{args.scheduler}: {exc}",
                    file=sys.stderr,
                )
                return EXIT_CANNOT_START
            workers = None
        elif workers == 1 and args.timeout is None:
            workers = None  # in this process
        report = verify_many(
            paths,
            executor=executor,
            workers=workers,
            retries=args.retries,
            timeout=args.timeout,
            on_result=show,
        )
    if args.json:
        _print_json(report)
    else:
        print(
            f"{'ok' if report.ok else 'FAILED'}: {report.verified:,} of {report.logs:,} "
            f"logs verified, {report.failed:,} failed, {report.errors:,} not verified; "
            f"{report.events_verified:,} events in {report.seconds:.2f} s"
        )
        for result in report.results:
            if result.status is not LogStatus.VERIFIED:
                print(f"  {result.status.value}: {result.path}")
    return EXIT_OK if report.ok else EXIT_FAILED


def _inspect(args: argparse.Namespace) -> int:
    from .summary import summarize

    report = summarize(args.path)
    if args.plot:
        code = _plot(args.path, args.plot)
        if code != EXIT_OK:
            return code
    if args.json:
        _print_json(report)
    else:
        print(f"{report.path}: {report.scheme.value}, {report.oscillators} oscillators")
        print(
            f"  written by linoss-dynamics {report.library_version} (schema "
            f"{report.schema_version}) on {report.fingerprint.platform}, NumPy "
            f"{report.fingerprint.numpy}"
        )
        counts = ", ".join(f"{n:,} {kind}" for kind, n in sorted(report.counts.items()))
        print(f"  {report.events:,} events: {counts or 'none'}")
        if report.energy is not None:
            e = report.energy
            print(f"  energy {e.first!r} -> {e.last!r} (min {e.min!r}, max {e.max!r})")
        print(f"  run digest {report.run_digest}")
        print(f"  final state digest {report.final_state_digest}")
        if not report.closed:
            print("  no closing record: the run may have stopped early")
        if report.failure is not None:
            print(_describe_failure(report))
    return EXIT_OK if report.failure is None else EXIT_FAILED


def _plot(path: str, out: str) -> int:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            "linoss inspect --plot needs matplotlib: pip install 'linoss-dynamics[plot]'",
            file=sys.stderr,
        )
        return EXIT_CANNOT_START
    from .verify import trajectory

    steps, energies, positions = trajectory(path, oscillators=4)
    figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(8, 6))
    top.plot(steps, energies)
    top.set_ylabel("energy")
    for i in range(positions.shape[1]):
        bottom.plot(steps, positions[:, i], label=f"y[{i}]")
    bottom.set_xlabel("event seq")
    bottom.set_ylabel("position")
    bottom.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(out)
    print(f"plot written to {out}")
    return EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    from .verify import diff

    report = diff(args.a, args.b)
    if args.json:
        _print_json(report)
    elif report.identical:
        print(
            f"identical: {report.events_compared:,} events, run digest {report.a_run_digest}"
        )
    else:
        print(f"the logs differ after {report.events_compared:,} identical events")
        print(_describe_failure(report))
    return EXIT_OK if report.identical else EXIT_FAILED


def _export(args: argparse.Namespace) -> int:
    from .export import export_jsonl

    if args.out == "-":
        export_jsonl(args.path, sys.stdout)
    else:
        with open(args.out, "w", encoding="utf-8") as out:
            lines = export_jsonl(args.path, out)
        print(f"wrote {lines:,} lines to {args.out}")
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    from .export import stale_schemas, write_schemas

    if args.check:
        stale = stale_schemas(args.out)
        if stale:
            print(
                f"{len(stale)} schema file(s) in {args.out} differ from the models: "
                f"{', '.join(stale)}; run `linoss schema --out {args.out}`",
                file=sys.stderr,
            )
            return EXIT_FAILED
        print(f"schemas in {args.out} match the models")
        return EXIT_OK
    written = write_schemas(args.out)
    print(f"wrote {len(written)} schemas to {args.out}")
    return EXIT_OK


def _conformance(args: argparse.Namespace) -> int:
    from .conformance import check_implementation

    report = check_implementation(
        args.impl,
        args.fixtures,
        max_ulps=args.max_ulps,
        rtol=args.rtol,
        atol=args.atol,
        names=args.case,
    )
    if args.json:
        _print_json(report)
    else:
        for case in report.cases:
            verdict = "pass" if case.passed else "FAIL"
            detail = case.error or (
                f"max abs {case.max_abs_error:.3g}, rel {case.max_rel_error:.3g}, "
                f"{case.max_ulps} ulp ({case.dtype}); {case.failing} outside"
            )
            print(f"{verdict} {case.name}: {detail}")
        passed = sum(case.passed for case in report.cases)
        print(f"{passed}/{len(report.cases)} cases pass {report.impl}")
    return EXIT_OK if report.passed else EXIT_FAILED


# -- parser --------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {value}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0; got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds; got {text!r}"
        ) from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be a positive number of seconds; got {text}"
        )
    return value


def _seq(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a sequence number >= 0; got {value}")
    return value


def _key_options(parser: argparse.ArgumentParser, *, seals: bool = True) -> None:
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument(
        "--key-file",
        metavar="FILE",
        help="the seal key (hex), as `linoss keygen` writes it",
    )
    keys.add_argument(
        "--key-env", action="store_true", help="the seal key in $LINOSS_SEAL_KEY"
    )
    if seals:
        parser.add_argument(
            "--seals", metavar="FILE", help="the seals file (default: PATH.seals)"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linoss",
        description="Record LinOSS oscillator runs and prove them byte-identical by replay.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    def verb(
        name: str, run: Callable[[argparse.Namespace], int], text: str
    ) -> argparse.ArgumentParser:
        sub = verbs.add_parser(name, help=text, description=text)
        sub.set_defaults(run=run)
        return sub

    demo = verb(
        "demo", _demo, "record a damped run, verify it by replay, say what happened"
    )
    demo.add_argument("--steps", type=_positive, default=20_000)
    demo.add_argument("--oscillators", type=_positive, default=64)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--out", help="log path (default: a file in the temp directory)")

    record = verb(
        "record", _record, "record a run from a JSON config and a .npy of inputs"
    )
    record.add_argument(
        "--config", required=True, help="JSON: scheme, A, G, dt, B, y0, z0"
    )
    record.add_argument("--inputs", required=True, help=".npy with one input per step")
    record.add_argument("--out", required=True, help="the log to write")
    record.add_argument(
        "--overwrite", action="store_true", help="replace an existing log"
    )
    _key_options(record, seals=False)

    check = verb("verify", _verify, "replay a log and check every event")
    check.add_argument("path")
    check.add_argument(
        "--from", dest="from_seq", type=_seq, help="start at this checkpoint"
    )
    check.add_argument("--to", dest="to_seq", type=_seq, help="stop after this event")
    check.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="verify the stretches between checkpoints in N processes",
    )
    _key_options(check)
    check.add_argument("--json", action="store_true", help="print the report as JSON")

    keygen = verb("keygen", _keygen, "write a new random seal key to a file")
    keygen.add_argument("keyfile")
    keygen.add_argument(
        "--ed25519",
        action="store_true",
        help="an Ed25519 signing key, and its public key in KEYFILE.pub",
    )

    sealed = verb(
        "checkpoint", _checkpoint, "print a sealed checkpoint of a log (needs the key)"
    )
    sealed.add_argument("path")
    sealed.add_argument("--size", type=_count, help="events to seal (default: all)")
    _key_options(sealed)

    prove = verb(
        "prove", _prove, "print an inclusion or consistency proof of a sealed log"
    )
    prove.add_argument("path")
    prove.add_argument("--seq", type=_seq, help="prove that this event is in the log")
    prove.add_argument(
        "--from-size",
        type=_positive,
        metavar="M",
        help="prove that the log's first M events, as sealed, are a prefix",
    )
    prove.add_argument(
        "--size", type=_positive, help="under the seal of this many events"
    )
    _key_options(prove)

    checker = verb("check-proof", _check_proof, "check a proof without the log")
    checker.add_argument("proof", help="a proof's JSON, as `linoss prove` prints it")
    _key_options(checker, seals=False)
    checker.add_argument("--json", action="store_true", help="print the result as JSON")

    bundle = verb(
        "bundle", _bundle, "write an offline bundle of a stretch of a sealed log"
    )
    bundle.add_argument("path")
    bundle.add_argument(
        "--seq", type=_seq, required=True, help="from the checkpoint at or before it"
    )
    bundle.add_argument("--to", dest="to_seq", type=_seq, help="to this event")
    bundle.add_argument("--out", required=True, help="the bundle file to write")
    _key_options(bundle)

    rerun = verb(
        "verify-bundle", _verify_bundle, "re-execute an offline bundle and check it"
    )
    rerun.add_argument("bundle")
    _key_options(rerun, seals=False)
    rerun.add_argument("--json", action="store_true", help="print the report as JSON")

    many = verb(
        "verify-many",
        _verify_many,
        "verify a collection of logs, here, in a process pool or on a Dask cluster",
    )
    many.add_argument("paths", nargs="*", metavar="PATH", help="logs (or URLs)")
    many.add_argument(
        "--from-file",
        metavar="LIST",
        help="also verify the logs listed in this file, one per line",
    )
    many.add_argument(
        "--workers",
        type=_positive,
        default=1,
        metavar="N",
        help="processes (default 1: in this process); with --dask, local workers",
    )
    many.add_argument(
        "--dask",
        action="store_true",
        help="run on Dask: a local cluster, or the one at --scheduler",
    )
    many.add_argument(
        "--scheduler", metavar="ADDRESS", help="a Dask scheduler (implies --dask)"
    )
    many.add_argument(
        "--retries",
        type=_count,
        default=2,
        help="resubmit a log whose worker was lost this many times (default 2)",
    )
    many.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="give up on a log whose task runs longer (it is retried, then an error)",
    )
    many.add_argument("--json", action="store_true", help="print the report as JSON")

    inspect = verb("inspect", _inspect, "summarize a log without replaying it")
    inspect.add_argument("path")
    inspect.add_argument(
        "--json", action="store_true", help="print the summary as JSON"
    )
    inspect.add_argument(
        "--plot", metavar="FILE.png", help="plot energy and trajectories"
    )

    compare = verb("diff", _diff, "report the first event where two logs differ")
    compare.add_argument("a")
    compare.add_argument("b")
    compare.add_argument("--json", action="store_true", help="print the report as JSON")

    export = verb("export", _export, "write a log as JSON Lines")
    export.add_argument("path")
    export.add_argument(
        "--jsonl", action="store_true", required=True, help="JSON Lines"
    )
    export.add_argument("--out", default="-", help="output file (default: stdout)")

    conform = verb(
        "conformance", _conformance, "check a layer implementation on the vectors"
    )
    conform.add_argument(
        "--impl", required=True, metavar="MODULE:FUNCTION", help="fn(params, U, scheme)"
    )
    conform.add_argument("--fixtures", default="fixtures/conformance", metavar="DIR")
    conform.add_argument("--max-ulps", type=_count, default=0, help="default 0")
    conform.add_argument("--rtol", type=float, default=0.0, help="default 0")
    conform.add_argument("--atol", type=float, default=0.0, help="default 0")
    conform.add_argument("--case", action="append", help="only this case (repeatable)")
    conform.add_argument("--json", action="store_true", help="print the report as JSON")

    schema = verb("schema", _schema, "write (or check) the JSON Schemas of the models")
    schema.add_argument("--out", default="schemas", help="directory (default: schemas)")
    schema.add_argument(
        "--check", action="store_true", help="only check they are current"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help
        return EXIT_CANNOT_START if exc.code else EXIT_OK
    try:
        code: int = args.run(args)
    except LinOSSError as exc:
        print(f"linoss {args.verb}: {exc}", file=sys.stderr)
        return _exit_code(exc)
    except OSError as exc:
        print(f"linoss {args.verb}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    except KeyboardInterrupt:
        print(f"linoss {args.verb}: interrupted", file=sys.stderr)
        return EXIT_FAILED
    return code


def _exit_code(exc: LinOSSError) -> int:
    """1 for damage found in a log or a proof, seal or bundle that does not hold;
    2 for anything that stops a verb starting."""
    if isinstance(exc, AuditFailedError):
        return EXIT_FAILED
    if isinstance(exc, UnsupportedVersionError):
        return EXIT_CANNOT_START
    if isinstance(exc, LogError) and exc.seq is not None and exc.offset != 0:
        return EXIT_FAILED  # damage at a known place, the header's included
    return EXIT_CANNOT_START  # unreadable, not a log, bad arguments
