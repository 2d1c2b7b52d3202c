"""The same inputs give the same bytes in every environment NumPy lets us vary.

A fixed workload (every scheme through ``Oscillator.scan`` and a ``step`` loop,
a batch of banks, vector and matrix ``B``, a per-oscillator ``dt``, energies,
and the 0.2 functions) runs in fresh interpreters that differ in what could
change floating-point results if the package relied on them: NumPy's SIMD
code paths (switched off with ``NPY_DISABLE_CPU_FEATURES``) and the BLAS and
OpenMP thread counts. The SHA-256 of every output must be the same in each,
and the same as in this process.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import oracle
import pytest

from linoss_dynamics import (
    Oscillator,
    Scheme,
    damped_linoss_step,
    energy,
    linoss_scan,
    linoss_step,
)

_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def cpu_report() -> dict[str, list[str]]:
    """NumPy's view of the CPU: the baseline it was built for, the features it
    can dispatch to at run time, and the features enabled in this process."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # NumPy 1.x
        from numpy.core import _multiarray_umath as umath  # type: ignore[no-redef]
    return {
        "baseline": list(umath.__cpu_baseline__),
        "dispatch": list(umath.__cpu_dispatch__),
        "enabled": sorted(name for name, on in umath.__cpu_features__.items() if on),
    }


def workload() -> dict[str, np.ndarray]:
    """Every output of the fixed workload, by name, as float64 arrays."""
    rng = np.random.default_rng(31_415)
    # P is odd and not a multiple of any SIMD width, so vector loops and their
    # scalar remainders both run; N makes the batch paths run.
    P, N, L, m = 67, 5, 150, 3
    A = rng.uniform(0.0, 4.0, P)
    A[::9] = 0.0
    G = rng.uniform(0.0, 2.0, P)
    G[::7] = 0.0
    dt = 0.05
    dt_per_oscillator = rng.uniform(0.01, 0.1, P)
    B_vector = rng.normal(size=P)
    B_matrix = rng.normal(size=(P, m))
    y0 = rng.normal(size=(N, P))
    z0 = rng.normal(size=(N, P))
    U = rng.normal(size=(L, N, P))
    U_channel = rng.normal(size=L)
    U_columns = rng.normal(size=(L, N, m))
    out: dict[str, np.ndarray] = {}

    for scheme in Scheme:
        # Undamped EX grows for every A > 0 and damped EX wherever dt A > G;
        # the growth over L steps stays far from overflow.
        def bank(scheme: Scheme = scheme, **kwargs: Any) -> Oscillator:
            return Oscillator(
                A,
                kwargs.pop("dt", dt),
                G=G if scheme.damped else None,
                mode=scheme,
                allow_unstable=scheme is Scheme.DAMPED_EX,
                **kwargs,
            )

        name = scheme.value
        osc = bank()
        Y, Z = osc.scan(U, y0, z0)
        out[f"{name}/scan/Y"], out[f"{name}/scan/Z"] = Y, Z
        out[f"{name}/scan/energy"] = np.asarray(osc.energy(Y[-1], Z[-1]))

        y, z = y0[0], z0[0]
        rows = []
        for t in range(L):
            y, z = osc.step(y, z, U[t, 0])
            rows.append((y, z))
        out[f"{name}/steps/Y"] = np.array([row[0] for row in rows])
        out[f"{name}/steps/Z"] = np.array([row[1] for row in rows])
        out[f"{name}/steps/energy"] = np.asarray(osc.energy(y, z))

        Y, Z = bank(dt=dt_per_oscillator).scan(U, y0, z0)
        out[f"{name}/dt_vector/Y"], out[f"{name}/dt_vector/Z"] = Y, Z

        Y, Z = bank(B=B_matrix).scan(U_columns, y0, z0)
        out[f"{name}/B_matrix/Y"], out[f"{name}/B_matrix/Z"] = Y, Z

        Y, Z = bank(B=B_vector).scan(U_channel, y0[1], z0[1])
        out[f"{name}/B_vector/Y"], out[f"{name}/B_vector/Z"] = Y, Z

    y, z = y0[2], z0[2]
    for t in range(20):
        y, z, metrics = linoss_step(
            y, z, A, dt, mode="implicit", B=B_matrix, u=U_columns[t, 0]
        )
        out[f"compat/linoss_step/{t}/y"], out[f"compat/linoss_step/{t}/z"] = y, z
        out[f"compat/linoss_step/{t}/energy"] = np.array(
            [metrics["energy_before"], metrics["energy_after"], metrics["delta_energy"]]
        )
    for t in range(20):
        y, z, metrics = damped_linoss_step(y, z, A, G, dt, mode="imex", u=U[t, 2])
        out[f"compat/damped_linoss_step/{t}/y"] = y
        out[f"compat/damped_linoss_step/{t}/z"] = z
        out[f"compat/damped_linoss_step/{t}/energy"] = np.array(
            [metrics["energy_before"], metrics["energy_after"], metrics["delta_energy"]]
        )
    Y, Z, metrics_seq = linoss_scan(
        U_channel, A, dt, mode="imex", B=B_vector, y0=y0[3], z0=z0[3], damping=G
    )
    out["compat/linoss_scan/Y"], out["compat/linoss_scan/Z"] = Y, Z
    out["compat/linoss_scan/energy"] = np.array(
        [metrics["energy_after"] for metrics in metrics_seq]
    )
    out["compat/energy"] = np.array([energy(Y[-1], Z[-1], A)])
    return out


def digests(outputs: dict[str, np.ndarray]) -> dict[str, str]:
    """SHA-256 of each output's dtype, shape and bytes, and of all of them."""
    result = {}
    everything = hashlib.sha256()
    for name in sorted(outputs):
        array = np.ascontiguousarray(outputs[name])
        assert array.dtype == np.float64, f"{name} is {array.dtype}"
        digest = hashlib.sha256()
        for part in (
            name.encode(),
            array.dtype.str.encode(),
            repr(array.shape).encode(),
        ):
            digest.update(part)
        digest.update(array.tobytes())
        result[name] = digest.hexdigest()
        everything.update(digest.digest())
    result["*"] = everything.hexdigest()
    return result


_CHILD_SOURCE = """\
import test_determinism


def main(_):
    return {
        "cpu": test_determinism.cpu_report(),
        "digests": test_determinism.digests(test_determinism.workload()),
    }
"""


def _run_child(env: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = oracle.run_python(
        _CHILD_SOURCE, package_root=oracle.SRC_DIR, env=env
    )
    return result


def _above_baseline(report: dict[str, list[str]]) -> list[str]:
    """The features NumPy dispatches to at run time that this machine has."""
    return [name for name in report["dispatch"] if name in report["enabled"]]


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, Any]]:
    """The workload in a fresh interpreter per environment, keyed by a label."""
    default = _run_child({})
    disabled = _above_baseline(default["cpu"])
    environments = {
        "simd_disabled": {"NPY_DISABLE_CPU_FEATURES": ",".join(disabled)},
        "one_thread": dict.fromkeys(_THREAD_VARIABLES, "1"),
        "two_threads": dict.fromkeys(_THREAD_VARIABLES, "2"),
    }
    return {
        "default": default,
        **{label: _run_child(env) for label, env in environments.items()},
    }


def test_simd_disabled_child_runs_without_the_features_above_baseline(
    runs: dict[str, dict[str, Any]],
) -> None:
    default_cpu = runs["default"]["cpu"]
    disabled_cpu = runs["simd_disabled"]["cpu"]

    disabled = _above_baseline(default_cpu)

    assert set(disabled).isdisjoint(default_cpu["baseline"])
    still_enabled = [name for name in disabled if name in disabled_cpu["enabled"]]
    assert still_enabled == [], f"NPY_DISABLE_CPU_FEATURES left {still_enabled} on"
    assert _above_baseline(disabled_cpu) == []


@pytest.mark.parametrize("label", ["simd_disabled", "one_thread", "two_threads"])
def test_outputs_have_the_same_bytes_in_every_environment(
    runs: dict[str, dict[str, Any]], label: str
) -> None:
    expected = runs["default"]["digests"]

    actual = runs[label]["digests"]

    assert sorted(actual) == sorted(expected)
    differing = sorted(name for name in expected if actual[name] != expected[name])
    assert differing == [], f"{label}: outputs differ from the default run: {differing}"


def test_outputs_in_this_process_match_a_fresh_interpreter(
    runs: dict[str, dict[str, Any]],
) -> None:
    expected = runs["default"]["digests"]

    actual = digests(workload())

    differing = sorted(name for name in expected if actual.get(name) != expected[name])
    assert differing == [], f"outputs differ from the child's: {differing}"
    assert actual == expected


def test_workload_covers_every_scheme_and_input_form() -> None:
    names = set(workload())

    for scheme in Scheme:
        for part in ("scan", "steps", "dt_vector", "B_matrix", "B_vector"):
            assert f"{scheme.value}/{part}/Y" in names
        assert f"{scheme.value}/scan/energy" in names
    assert {"compat/linoss_scan/Y", "compat/energy"} <= names
