"""The ``linoss`` command."""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Sequence

import numpy as np

from . import __version__
from .errors import LinOSSError
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
        return EXIT_CANNOT_START
    return code
