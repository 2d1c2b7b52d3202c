"""Logs recorded in other environments replay here to the same run digest, and back.

Fresh interpreters record the same runs with NumPy's SIMD paths above the
baseline switched off (``NPY_DISABLE_CPU_FEATURES``) and with one and two BLAS
and OpenMP threads. Each of their logs must verify in this process, and every
run digest must equal the one of the same run recorded here; each child also
verifies the logs recorded here. The runs cover every scheme, an input matrix,
a per-oscillator ``dt``, parameter changes, a per-step ``dt``, an external state
write, checkpoints and full states, on a bank whose size is no multiple of any
SIMD width.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import oracle
import pytest
from test_determinism import _THREAD_VARIABLES, _above_baseline, cpu_report

from linoss_dynamics import Oscillator, Recorder, Scheme, verify

ENVIRONMENTS = ("simd_disabled", "one_thread", "two_threads")


def record_runs(directory: str) -> dict[str, str]:
    """Record one run per scheme into ``directory``; returns each run digest (hex)."""
    rng = np.random.default_rng(27_182)
    # P is odd and no multiple of a SIMD width: vector loops and their scalar
    # remainders both run.
    P, L, m = 67, 90, 3
    A = rng.uniform(0.0, 4.0, P)
    A[::9] = 0.0
    G = rng.uniform(0.0, 2.0, P)
    G[::7] = 0.0
    B = rng.normal(size=(P, m))
    dt_per_oscillator = rng.uniform(0.01, 0.06, P)
    y0, z0 = rng.normal(size=P), rng.normal(size=P)
    digests = {}
    for scheme in Scheme:
        # Undamped EX grows wherever dt A > G; over L steps it stays far from
        # overflow, and it still must replay exactly.
        osc = Oscillator(
            A,
            0.05,
            G=G if scheme.damped else None,
            mode=scheme,
            B=B if scheme in (Scheme.IMEX, Scheme.DAMPED_IMEX1) else None,
            allow_unstable=scheme is Scheme.DAMPED_EX,
        )
        U = rng.normal(size=(L, m if osc.B is not None else P))
        path = os.path.join(directory, f"{scheme.value}.log")
        with Recorder(
            path,
            osc,
            y0,
            z0,
            checkpoint_every=25,
            full_state=scheme is Scheme.IM,
        ) as recorder:
            for t, u in enumerate(U):
                recorder.step(u, dt=0.03 if t == 2 * L // 3 else None)
                if t == L // 3:
                    recorder.set_params(dt=dt_per_oscillator)
                if t == L // 2:
                    recorder.write_state(recorder.y * 0.5, -recorder.z)
        digests[scheme.value] = recorder.run_digest.hex()
    return digests


_CHILD_SOURCE = """\
import os

import test_cross_env_replay as here
import test_determinism
from linoss_dynamics import verify


def main(payload):
    digests = here.record_runs(payload["out"])
    verified = {}
    for path in payload["verify"]:
        report = verify(path)
        verified[os.path.basename(path)] = [report.ok, report.run_digest]
    return {
        "cpu": test_determinism.cpu_report(),
        "digests": digests,
        "verified": verified,
    }
"""


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The runs recorded in this process."""
    directory = tmp_path_factory.mktemp("local")
    return directory, record_runs(str(directory))


@pytest.fixture(scope="module")
def children(tmp_path_factory, local) -> dict[str, dict[str, Any]]:
    """Each environment's child: its CPU report, run digests and verdicts, and logs."""
    directory, _ = local
    environments = {
        "simd_disabled": {
            "NPY_DISABLE_CPU_FEATURES": ",".join(_above_baseline(cpu_report()))
        },
        "one_thread": dict.fromkeys(_THREAD_VARIABLES, "1"),
        "two_threads": dict.fromkeys(_THREAD_VARIABLES, "2"),
    }
    results = {}
    for label, env in environments.items():
        out = tmp_path_factory.mktemp(label)
        payload = {
            "out": str(out),
            "verify": sorted(str(p) for p in directory.glob("*.log")),
        }
        result = oracle.run_python(
            _CHILD_SOURCE, payload, package_root=oracle.SRC_DIR, env=env
        )
        results[label] = {**result, "dir": out}
    return results


def test_simd_child_ran_without_the_features_above_baseline(children):
    disabled = _above_baseline(cpu_report())

    child_cpu = children["simd_disabled"]["cpu"]

    assert [name for name in disabled if name in child_cpu["enabled"]] == []
    assert _above_baseline(child_cpu) == []


@pytest.mark.parametrize("label", ENVIRONMENTS)
def test_child_logs_verify_here_with_the_local_run_digest(children, local, label):
    _, expected = local
    child = children[label]

    reports = {name: verify(child["dir"] / f"{name}.log") for name in expected}

    assert (
        sorted(child["digests"]) == sorted(expected) == sorted(s.value for s in Scheme)
    )
    for name, report in reports.items():
        assert report.ok, (label, name, report.failure)
        assert report.closed
        assert report.run_digest == child["digests"][name] == expected[name], (
            label,
            name,
        )


@pytest.mark.parametrize("label", ENVIRONMENTS)
def test_local_logs_verify_in_the_child(children, local, label):
    _, expected = local

    verified = children[label]["verified"]

    assert verified == {
        f"{name}.log": [True, digest] for name, digest in expected.items()
    }


def test_local_logs_verify_here(local):
    directory, expected = local

    reports = {name: verify(directory / f"{name}.log") for name in expected}

    assert {name: r.run_digest for name, r in reports.items()} == expected
    assert all(r.ok for r in reports.values())
