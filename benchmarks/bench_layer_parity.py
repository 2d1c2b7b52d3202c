"""LinOSSLayer against a float64 JAX parallel scan of the same layer: error and speed.

    python benchmarks/bench_layer_parity.py            # P = 64, H = 32
    python benchmarks/bench_layer_parity.py --quick    # small L, a smoke test

Run from the repository root with the package importable (``PYTHONPATH=src`` in
a checkout). JAX is installed on first use into ``scratch/jax``
(``python -m pip install --target scratch/jax jax jaxlib``, numpy from this
environment) unless it is importable already.

The JAX side is the research layers' formulation written from the papers'
equations: every step is ``x_t = M x_{t-1} + f_t`` with ``x = (y, z)`` and a 2x2
``M`` per oscillator; ``jax.lax.associative_scan`` composes the pairs
``(M, f)`` in a tree, in float64 (``jax_enable_x64``), with complex ``B u`` and
``Re(C y) + D u`` as matrix products. The reference is ``LinOSSLayer.forward``,
sequential and in a fixed order. Not part of CI.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from linoss_dynamics import LinOSSLayer, Scheme, __version__

ROOT = Path(__file__).resolve().parents[1]
JAX_DIR = ROOT / "scratch" / "jax"


def import_jax() -> Any:
    """jax with float64 enabled, installing it into scratch/jax when missing."""
    try:
        return _jax()
    except ImportError:
        pass
    if str(JAX_DIR) not in sys.path:
        sys.path.insert(0, str(JAX_DIR))
    try:
        return _jax()
    except ImportError:
        pass
    print(f"installing jax into {JAX_DIR} ...", file=sys.stderr)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--target",
            str(JAX_DIR),
            "--no-deps",
            "jax",
            "jaxlib",
            "ml_dtypes",
            "opt_einsum",
        ],
        check=True,
    )
    importlib.invalidate_caches()
    return _jax()


def _jax() -> Any:
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def parameters(scheme: Scheme, P: int, H: int, seed: int) -> dict[str, Any]:
    """Stable random parameters in the ranges the research layers start from."""
    rng = np.random.default_rng(seed)
    dt = rng.uniform(0.05, 0.5, P)
    A = rng.uniform(0.0, 10.0, P)
    params: dict[str, Any] = {"A": A, "dt": dt}
    if scheme.damped:
        G = rng.uniform(0.0, 1.0, P)
        if scheme is Scheme.DAMPED_EX:
            G = dt * A + rng.uniform(0.0, 0.5, P)
        params["G"] = G
    scale_B, scale_C = 1.0 / np.sqrt(H), 1.0 / np.sqrt(P)
    params["B"] = rng.uniform(-scale_B, scale_B, (P, H)) + 1j * rng.uniform(
        -scale_B, scale_B, (P, H)
    )
    params["C"] = rng.uniform(-scale_C, scale_C, (H, P)) + 1j * rng.uniform(
        -scale_C, scale_C, (H, P)
    )
    params["D"] = rng.normal(size=H)
    return params


def transition(scheme: Scheme, A: Any, G: Any, dt: Any) -> tuple[Any, ...]:
    """``(m11, m12, m21, m22, gy, gz)``: ``x' = M x + (gy F, gz F)`` for ``x = (y, z)``."""
    one = np.ones_like(A)
    if scheme is Scheme.IM:
        S = 1.0 / (1.0 + dt * dt * A)
        return S, dt * S, -dt * A * S, S, dt * dt * S, dt * S
    if scheme is Scheme.IMEX:
        return one - dt * dt * A, dt * one, -dt * A, one, dt * dt * one, dt * one
    if scheme in (Scheme.DAMPED_IM, Scheme.DAMPED_IMEX1):
        D = 1.0 + dt * G + (dt * dt * A if scheme is Scheme.DAMPED_IM else 0.0)
        return (
            one - dt * dt * A / D,
            dt / D,
            -dt * A / D,
            one / D,
            dt * dt / D,
            dt / D,
        )
    if scheme is Scheme.DAMPED_IMEX2:
        c = 1.0 - dt * G
        return one - dt * dt * A, dt * c, -dt * A, c, dt * dt * one, dt * one
    return one, dt * one, -dt * A, 1.0 - dt * G, 0.0 * one, dt * one  # EX


def jax_layer(jax: Any, scheme: Scheme, params: dict[str, Any]) -> Any:
    """A jitted ``U -> outputs`` of the layer as a parallel scan."""
    jnp = jax.numpy
    coefficients = transition(
        scheme,
        params["A"],
        params.get("G", np.zeros_like(params["A"])),
        np.broadcast_to(params["dt"], params["A"].shape),
    )
    m11, m12, m21, m22, gy, gz = (jnp.asarray(c) for c in coefficients)
    B, C, D = (jnp.asarray(params[k]) for k in ("B", "C", "D"))

    def combine(first: Any, second: Any) -> Any:
        # (M2, f2) after (M1, f1): x -> M2 (M1 x + f1) + f2.
        a11, a12, a21, a22, ay, az = first
        b11, b12, b21, b22, by, bz = second
        return (
            b11 * a11 + b12 * a21,
            b11 * a12 + b12 * a22,
            b21 * a11 + b22 * a21,
            b21 * a12 + b22 * a22,
            b11 * ay + b12 * az + by,
            b21 * ay + b22 * az + bz,
        )

    def forward(U: Any) -> Any:
        F = U @ B.T  # (L, P) complex
        length = U.shape[0]
        ones = jnp.ones((length, 1))
        elements = (m11 * ones, m12 * ones, m21 * ones, m22 * ones, gy * F, gz * F)
        y = jax.lax.associative_scan(combine, elements)[4]
        return (y @ C.T).real + D * U

    return jax.jit(forward)


def timed(function: Any, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--P", type=int, default=64)
    parser.add_argument("--H", type=int, default=32)
    parser.add_argument("--lengths", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="L = 1,000 only")
    args = parser.parse_args(argv)
    lengths = [1_000] if args.quick else args.lengths
    jax = import_jax()
    jnp = jax.numpy

    print(f"command: python {' '.join(sys.argv)}")
    print(
        f"linoss-dynamics {__version__}, jax {jax.__version__} on "
        f"{jax.default_backend()}, NumPy {np.__version__}, Python "
        f"{platform.python_version()}, {platform.machine()}"
    )
    print(f"P = {args.P}, H = {args.H}, median of {args.repeats} timed runs\n")
    print(
        "| scheme | L | max abs error | max abs error / max abs output "
        "| LinOSSLayer.forward | JAX scan (jit, compiled) |"
    )
    print("|---|---|---|---|---|---|")
    for s_index, scheme in enumerate(Scheme):
        params = parameters(scheme, args.P, args.H, seed=s_index)
        layer = LinOSSLayer(**params, scheme=scheme)
        for length in lengths:
            U = np.random.default_rng(100 + length).normal(size=(length, args.H))
            ours = layer.forward(U)
            scan = jax_layer(jax, scheme, params)
            U_jax = jnp.asarray(U)
            theirs = np.asarray(scan(U_jax).block_until_ready())  # compiles
            error = float(np.max(np.abs(ours - theirs)))
            scale = float(np.max(np.abs(ours)))
            t_ours = timed(lambda f=layer.forward, U=U: f(U), args.repeats)
            t_jax = timed(
                lambda f=scan, U=U_jax: f(U).block_until_ready(), args.repeats
            )
            print(
                f"| {scheme.value} | {length:,} | {error:.3g} | {error / scale:.3g} "
                f"| {t_ours * 1e3:,.0f} ms | {t_jax * 1e3:,.0f} ms |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
