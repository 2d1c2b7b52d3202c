"""The ``linoss`` command."""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Sequence

import numpy as np

from ._version import __version__
from .errors import LinOSSError, LogError, UnsupportedVersionError
from .oscillator import Oscillator

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CANNOT_START = 2


def _demo(args: argparse.Namespace) -> int:
    rng = np.random.default_rng(args.seed)
    size = args.oscillators
    A = rng.uniform(0.5, 4.0, size)
    G = rng.uniform(0.0, 0.3, size)
    osc = Oscillator(A, 0.05, G=G, mode="imex1")
    U = rng.standard_normal((args.steps, size))
    y0 = rng.standard_normal(size)
    z0 = np.zeros(size)

    start = time.perf_counter()
    Y, Z = osc.scan(U, y0, z0)
    elapsed = time.perf_counter() - start

    # Replay the run one step at a time: it must reproduce every byte.
    y, z = y0, z0
    for t in range(args.steps):
        y, z = osc.step(y, z, U[t])
        if y.tobytes() != Y[t].tobytes() or z.tobytes() != Z[t].tobytes():
            print(f"replay diverged at step {t}", file=sys.stderr)
            return EXIT_FAILED
    digest = hashlib.blake2b(Y.tobytes() + Z.tobytes(), digest_size=16).hexdigest()
    e0, e1 = osc.energy(y0, z0), osc.energy(Y[-1], Z[-1])
    print(f"{osc!r}")
    print(
        f"{args.steps} steps in {elapsed * 1e3:.1f} ms "
        f"({args.steps / elapsed:,.0f} steps/s); replayed step by step: identical"
    )
    print(f"energy {e0!r} -> {e1!r}")
    print(f"trajectory digest {digest}")
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


def _export(args: argparse.Namespace) -> int:
    from .export import export_jsonl

    if args.out == "-":
        export_jsonl(args.path, sys.stdout)
    else:
        with open(args.out, "w", encoding="utf-8") as out:
            lines = export_jsonl(args.path, out)
        print(f"wrote {lines} lines to {args.out}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linoss", description="Exact LinOSS oscillator dynamics."
    )
    parser.add_argument("--version", action="version", version=__version__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    demo = verbs.add_parser("demo", help="run a damped bank and replay it exactly")
    demo.add_argument("--steps", type=int, default=10_000)
    demo.add_argument("--oscillators", type=int, default=64)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_demo)

    schema = verbs.add_parser("schema", help="write the JSON Schemas of the models")
    schema.add_argument("--out", default="schemas", help="directory (default: schemas)")
    schema.add_argument(
        "--check", action="store_true", help="only check that the files are current"
    )
    schema.set_defaults(run=_schema)

    export = verbs.add_parser("export", help="write a log as JSON Lines")
    export.add_argument("path")
    export.add_argument(
        "--jsonl",
        action="store_true",
        required=True,
        help="JSON Lines (the only format)",
    )
    export.add_argument("--out", default="-", help="output file (default: stdout)")
    export.set_defaults(run=_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_CANNOT_START if exc.code else EXIT_OK
    try:
        code: int = args.run(args)
    except LinOSSError as exc:
        print(f"linoss {args.verb}: {exc}", file=sys.stderr)
        return _exit_code(exc)
    return code


def _exit_code(exc: LinOSSError) -> int:
    """1 for damage found inside a log; 2 for anything that stops a verb starting."""
    if isinstance(exc, UnsupportedVersionError):
        return EXIT_CANNOT_START
    if isinstance(exc, LogError) and exc.seq is not None and exc.seq >= 0:
        return EXIT_FAILED
    return EXIT_CANNOT_START
