"""Core performance: ``Oscillator.step`` and ``scan`` against 0.2.2 and bare NumPy.

Usage::

    python benchmarks/bench_core.py [--quick] [--json OUT]

Contenders, for P = 64 float64 oscillators:

- ``Oscillator.step`` (IM and IMEX, a length-P force ``u``), the 0.2 compatible
  ``linoss_step`` of this package, and linoss-dynamics 0.2.2's ``linoss_step``
  (in a worker process: it shares our import name);
- the bare floor of a step: the kernel's own ufunc sequence (10 ufuncs for IM,
  6 for IMEX) with preallocated ``out=`` buffers and nothing else, and one
  ufunc alone;
- ``Oscillator.scan`` at L steps against 0.2.2's ``linoss_scan`` and against a
  bare loop of the same ufuncs writing the rows of preallocated ``Y, Z``, both
  for one bank and for a (32, 64) batch;
- ``Oscillator.energy`` against 0.2.2's ``energy``.

Everything is measured in one run, each group of contenders in interleaved
rounds (see ``_harness``); the tables report medians over rounds and, for each
pair, the median of the per-round ratios.
Targets are printed next to the figures; the exit status never depends on them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

import linoss_dynamics
from linoss_dynamics import Oscillator, linoss_step


@dataclass(frozen=True)
class Config:
    """Sizes and budgets of one run."""

    P: int
    L: int
    batch: int
    batch_steps: int
    dt: float
    seed: int
    step_rounds: int
    scan_rounds: int
    ref_scan_rounds: int
    batch_rounds: int
    block_seconds: float


FULL = Config(
    P=64,
    L=10_000,
    batch=32,
    batch_steps=10_000,
    dt=0.05,
    seed=20240,
    step_rounds=301,
    scan_rounds=31,
    ref_scan_rounds=9,
    batch_rounds=11,
    block_seconds=0.005,
)
QUICK = Config(
    P=64,
    L=1_000,
    batch=32,
    batch_steps=200,
    dt=0.05,
    seed=20240,
    step_rounds=5,
    scan_rounds=3,
    ref_scan_rounds=2,
    batch_rounds=3,
    block_seconds=0.002,
)


def bench_inputs(P: int, L: int, seed: int) -> dict[str, Any]:
    """The parameters and inputs both processes time, drawn from one seed."""
    # Imported here because the reference worker runs this function's source.
    import numpy as np

    rng = np.random.default_rng(seed)
    return {
        "A": rng.uniform(0.5, 4.0, P),
        "y0": rng.standard_normal(P),
        "z0": rng.standard_normal(P),
        "u": rng.standard_normal(P),
        "U": rng.standard_normal((L, P)),
    }


def reference_benchmarks(P: int, L: int, dt: float, seed: int) -> dict[str, Any]:
    """Blocks of linoss-dynamics 0.2.2 calls; runs in the reference worker."""
    from linoss_dynamics import energy, linoss_scan, linoss_step

    data = bench_inputs(P, L, seed)
    A, y0, z0, u, U = data["A"], data["y0"], data["z0"], data["u"], data["U"]

    def step(mode: str) -> Any:
        def block(n: int) -> None:
            y, z = y0, z0
            for _ in range(n):
                y, z, _metrics = linoss_step(y, z, A, dt, mode=mode, u=u)

        return block

    def scan(n: int) -> None:
        for _ in range(n):
            linoss_scan(U, A, dt, mode="implicit", y0=y0, z0=z0)

    def bank_energy(n: int) -> None:
        for _ in range(n):
            energy(y0, z0, A)

    return {
        "step_im": step("implicit"),
        "step_imex": step("implicit_explicit"),
        "scan_im": scan,
        "energy": bank_energy,
    }


# -- the bare floors ------------------------------------------------------------
#
# The same ufuncs in the same order as the kernels of ``linoss_dynamics.schemes``,
# with array coefficients and ``out=`` buffers, and no other work: no checks, no
# dispatch, no allocation. ``check_bare_bytes`` confirms that they compute the
# very bytes of ``Oscillator.scan``, so the comparison is like for like.


def im_coefficients(A: np.ndarray, dt: float) -> tuple[np.ndarray, ...]:
    """``S, dt A S, dt S, dt^2 S`` as arrays, rounded as ``Oscillator`` does."""
    dt_arr = np.full_like(A, dt)
    dt2 = dt_arr * dt_arr
    S = 1.0 / (1.0 + dt2 * A)
    return S, dt_arr * A * S, dt_arr * S, dt2 * S


def bare_im_step_block(
    A: np.ndarray, dt: float, y0: np.ndarray, z0: np.ndarray, u: np.ndarray
) -> h.Block:
    """IM steps as 10 ufuncs, ping-ponging between two preallocated states."""
    S, dtAS, dtS, dt2S = im_coefficients(A, dt)
    mul, add, sub = np.multiply, np.add, np.subtract

    def block(n: int) -> None:
        y, z = y0.copy(), z0.copy()
        yo, zo, t = np.empty_like(y), np.empty_like(z), np.empty_like(y)
        for _ in range(n):
            mul(S, z, out=zo)
            mul(dtAS, y, out=t)
            sub(zo, t, out=zo)
            mul(dtS, u, out=t)
            add(zo, t, out=zo)
            mul(S, y, out=yo)
            mul(dtS, z, out=t)
            add(yo, t, out=yo)
            mul(dt2S, u, out=t)
            add(yo, t, out=yo)
            y, z, yo, zo = yo, zo, y, z

    return block


def bare_imex_step_block(
    A: np.ndarray, dt: float, y0: np.ndarray, z0: np.ndarray, u: np.ndarray
) -> h.Block:
    """IMEX steps as 6 ufuncs, ping-ponging between two preallocated states."""
    dt_arr = np.full_like(A, dt)
    dtA = dt_arr * A
    mul, add, sub = np.multiply, np.add, np.subtract

    def block(n: int) -> None:
        y, z = y0.copy(), z0.copy()
        yo, zo, t = np.empty_like(y), np.empty_like(z), np.empty_like(y)
        for _ in range(n):
            mul(dtA, y, out=t)
            sub(z, t, out=zo)
            mul(dt_arr, u, out=t)
            add(zo, t, out=zo)
            mul(dt_arr, zo, out=t)
            add(y, t, out=yo)
            y, z, yo, zo = yo, zo, y, z

    return block


def bare_im_scan(
    A: np.ndarray, dt: float
) -> Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``scan(U, y0, z0) -> (Y, Z)``: the IM loop over the rows of ``Y, Z``.

    ``Y`` and ``Z`` are allocated once per call, before the loop, as
    ``Oscillator.scan`` does; state may be (P,) or (N, P).
    """
    S, dtAS, dtS, dt2S = im_coefficients(A, dt)
    mul, add, sub = np.multiply, np.add, np.subtract

    def scan(
        U: np.ndarray, y0: np.ndarray, z0: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        Y = np.empty((U.shape[0], *y0.shape))
        Z = np.empty((U.shape[0], *y0.shape))
        t = np.empty(y0.shape)
        y, z = y0, z0
        for i in range(U.shape[0]):
            yo, zo, f = Y[i], Z[i], U[i]
            mul(S, z, out=zo)
            mul(dtAS, y, out=t)
            sub(zo, t, out=zo)
            mul(dtS, f, out=t)
            add(zo, t, out=zo)
            mul(S, y, out=yo)
            mul(dtS, z, out=t)
            add(yo, t, out=yo)
            mul(dt2S, f, out=t)
            add(yo, t, out=yo)
            y, z = yo, zo
        return Y, Z

    return scan


def check_bare_bytes(osc: Oscillator, data: Mapping[str, Any], batch: int) -> bool:
    """Whether the bare IM loop reproduces ``Oscillator.scan`` byte for byte."""
    scan = bare_im_scan(osc.A, float(osc.dt))
    rng = np.random.default_rng(7)
    U1 = data["U"][:200]
    UN = rng.standard_normal((50, batch, osc.size))
    yN = rng.standard_normal((batch, osc.size))
    zN = rng.standard_normal((batch, osc.size))
    same = True
    for U, y, z in ((U1, data["y0"], data["z0"]), (UN, yN, zN)):
        ours = osc.scan(U, y, z)
        bare = scan(U, y, z)
        same &= all(a.tobytes() == b.tobytes() for a, b in zip(ours, bare, strict=True))
    return same


# -- figures ------------------------------------------------------------------


FIGURES = (
    h.Figure(
        "1. IM step: `Oscillator.step` vs 0.2.2 `linoss_step`",
        "step_im.ours",
        "step_im.ref",
        "speedup",
        15.0,
    ),
    h.Figure(
        "1. IMEX step: `Oscillator.step` vs 0.2.2 `linoss_step`",
        "step_imex.ours",
        "step_imex.ref",
        "speedup",
        15.0,
    ),
    h.Figure(
        "2. IM step vs bare floor (10 ufuncs, `out=`)",
        "step_im.ours",
        "step_im.bare",
        "overhead",
    ),
    h.Figure(
        "2. IMEX step vs bare floor (6 ufuncs, `out=`)",
        "step_imex.ours",
        "step_imex.bare",
        "overhead",
    ),
    h.Figure(
        "3. IM scan, per step: `Oscillator.scan` vs 0.2.2 `linoss_scan`",
        "scan_ref.ours",
        "scan_ref.ref",
        "speedup",
        15.0,
    ),
    h.Figure(
        "3. IM scan, per step: `Oscillator.scan` vs bare loop",
        "scan.ours",
        "scan.bare",
        "overhead",
        1.3,
    ),
    h.Figure(
        "4. IM scan, (32, 64) batch, per step: `Oscillator.scan` vs bare loop",
        "batch.ours",
        "batch.bare",
        "overhead",
        1.3,
    ),
    h.Figure(
        "5. IM step: compat `linoss_step` vs 0.2.2 `linoss_step`",
        "step_im.compat",
        "step_im.ref",
        "speedup",
    ),
    h.Figure(
        "5. IMEX step: compat `linoss_step` vs 0.2.2 `linoss_step`",
        "step_imex.compat",
        "step_imex.ref",
        "speedup",
    ),
    h.Figure(
        "5. energy: `Oscillator.energy` vs 0.2.2 `energy`",
        "energy.ours",
        "energy.ref",
        "speedup",
    ),
)


# -- the run ------------------------------------------------------------------


def run(config: Config, log: Callable[[str], None]) -> dict[str, Any]:
    """Measure every group; returns the results (``_``-prefixed keys are not JSON)."""
    started = time.perf_counter()
    P, dt, block = config.P, config.dt, config.block_seconds
    data = bench_inputs(P, config.L, config.seed)
    A, y0, z0, u, U = data["A"], data["y0"], data["z0"], data["u"], data["U"]
    osc_im = Oscillator(A, dt, mode="im")
    osc_imex = Oscillator(A, dt, mode="imex")

    rng = np.random.default_rng(config.seed + 1)
    shape = (config.batch, P)
    U_batch = rng.standard_normal((config.batch_steps, *shape))
    y_batch, z_batch = rng.standard_normal(shape), rng.standard_normal(shape)

    bare_scan = bare_im_scan(A, dt)
    bare_bytes = check_bare_bytes(osc_im, data, config.batch)

    def step_block(osc: Oscillator) -> h.Block:
        step = osc.step

        def block(n: int) -> None:
            y, z = y0, z0
            for _ in range(n):
                y, z = step(y, z, u)

        return block

    def compat_block(mode: str) -> h.Block:
        def block(n: int) -> None:
            y, z = y0, z0
            for _ in range(n):
                y, z, _metrics = linoss_step(y, z, A, dt, mode=mode, u=u)

        return block

    def calls(fn: Callable[[], object]) -> h.Block:
        def block(n: int) -> None:
            for _ in range(n):
                fn()

        return block

    out = np.empty(P)

    def one_ufunc(n: int) -> None:
        add = np.add
        for _ in range(n):
            add(y0, z0, out=out)

    timings = h.Timings(log)
    results, rounds, measure = timings.results, timings.rounds, timings.measure
    worker, reference = h.start_reference(
        reference_benchmarks,
        log=log,
        helpers=[bench_inputs],
        P=P,
        L=config.L,
        dt=dt,
        seed=config.seed,
    )

    def ref(label: str, name: str, **kwargs: Any) -> list[h.Contender]:
        if worker is None:
            return []
        return [worker.contender(label, name, **kwargs)]

    try:
        measure(
            "IM step",
            [
                h.local_contender(
                    "step_im.ours", step_block(osc_im), target_seconds=block
                ),
                h.local_contender(
                    "step_im.compat", compat_block("implicit"), target_seconds=block
                ),
                h.local_contender(
                    "step_im.bare",
                    bare_im_step_block(A, dt, y0, z0, u),
                    target_seconds=block,
                ),
                h.local_contender("step_im.one_ufunc", one_ufunc, target_seconds=block),
                *ref("step_im.ref", "step_im", target_seconds=block),
            ],
            config.step_rounds,
        )
        measure(
            "IMEX step",
            [
                h.local_contender(
                    "step_imex.ours", step_block(osc_imex), target_seconds=block
                ),
                h.local_contender(
                    "step_imex.compat",
                    compat_block("implicit_explicit"),
                    target_seconds=block,
                ),
                h.local_contender(
                    "step_imex.bare",
                    bare_imex_step_block(A, dt, y0, z0, u),
                    target_seconds=block,
                ),
                *ref("step_imex.ref", "step_imex", target_seconds=block),
            ],
            config.step_rounds,
        )
        # One scan call per block, and the two back to back in every round.
        per_scan: dict[str, Any] = {
            "target_seconds": block,
            "units": config.L,
            "unit": "step",
            "number": 1,
        }
        measure(
            f"IM scan against the bare loop, L = {config.L}",
            [
                h.local_contender(
                    "scan.ours", calls(lambda: osc_im.scan(U, y0, z0)), **per_scan
                ),
                h.local_contender(
                    "scan.bare", calls(lambda: bare_scan(U, y0, z0)), **per_scan
                ),
            ],
            config.scan_rounds,
        )
        if worker is not None:
            # One 0.2.2 scan takes ~20 of ours: our block repeats the scan to
            # last as long, so that both blocks average over the same stretch
            # of the machine's noise.
            ref_scan = worker.contender("scan_ref.ref", "scan_im", **per_scan)
            long_block = ref_scan.measure() * config.L
            measure(
                f"IM scan against 0.2.2, L = {config.L}",
                [
                    h.local_contender(
                        "scan_ref.ours",
                        calls(lambda: osc_im.scan(U, y0, z0)),
                        target_seconds=long_block,
                        units=config.L,
                        unit="step",
                    ),
                    ref_scan,
                ],
                config.ref_scan_rounds,
            )
        measure(
            f"IM scan, batch {shape}, L = {config.batch_steps}",
            [
                h.local_contender(
                    "batch.ours",
                    calls(lambda: osc_im.scan(U_batch, y_batch, z_batch)),
                    **{**per_scan, "units": config.batch_steps},
                ),
                h.local_contender(
                    "batch.bare",
                    calls(lambda: bare_scan(U_batch, y_batch, z_batch)),
                    **{**per_scan, "units": config.batch_steps},
                ),
            ],
            config.batch_rounds,
        )
        measure(
            "energy",
            [
                h.local_contender(
                    "energy.ours",
                    calls(lambda: osc_im.energy(y0, z0)),
                    target_seconds=block,
                ),
                *ref("energy.ref", "energy", target_seconds=block),
            ],
            config.step_rounds,
        )
    finally:
        if worker is not None:
            worker.close()
    elapsed = time.perf_counter() - started

    batch_step = results["batch.ours"].median
    return {
        **h.run_header(),
        "package": {
            "version": linoss_dynamics.__version__,
            "revision": h.source_revision(),
        },
        "reference": reference,
        "config": asdict(config),
        "timing_seconds": elapsed,
        "bare_loops_match_scan_bytes": bare_bytes,
        "batch_oscillator_steps_per_second": config.batch * P / batch_step,
        "contenders": {name: s.as_dict() for name, s in results.items()},
        "rounds": rounds,
        "figures": [h.figure_row(f, results) for f in FIGURES],
        "_samples": results,
    }


def report(result: dict[str, Any]) -> str:
    machine, config = result["machine"], result["config"]
    batch = f"({config['batch']}, {config['P']})"
    lines = [
        f"`{result['command']}`",
        "",
        f"- date: {result['date']}; timing took {result['timing_seconds']:.0f} s",
        f"- machine: {h.describe_machine(machine)}; both processes pinned to "
        f"CPU {result['pinned_cpu']}",
        f"- ours: linoss-dynamics {result['package']['version']} (source "
        f"{result['package']['revision']}); reference: "
        f"{h.describe_reference(result['reference'])}",
        f"- P = {config['P']} float64, dt = {config['dt']}, scan L = {config['L']}, "
        f"batch {batch} with L = {config['batch_steps']}",
        f"- interleaved rounds: {config['step_rounds']} for steps and energy, "
        f"{config['scan_rounds']} for scan vs bare, {config['ref_scan_rounds']} for "
        f"scan vs 0.2.2, {config['batch_rounds']} for the batch; {h.ROUNDS_NOTE}",
        "- bare loops reproduce `Oscillator.scan` bytes: "
        + ("yes" if result["bare_loops_match_scan_bytes"] else "**no**"),
        "",
        h.summary_table(result["figures"]),
        "",
        f"Batch {batch} throughput of `Oscillator.scan`: "
        f"{result['batch_oscillator_steps_per_second'] / 1e6:.3g} million "
        "oscillator-steps per second.",
        "",
        h.contender_table(result["_samples"], result["rounds"]),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return h.main(argv, doc=__doc__, full=FULL, quick=QUICK, run=run, report=report)


if __name__ == "__main__":
    sys.exit(main())
