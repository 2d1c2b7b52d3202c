"""The committed conformance vectors, the checker and ``linoss conformance``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import logs
import numpy as np
import pytest

from linoss_dynamics import LinOSSError, LinOSSLayer, Scheme
from linoss_dynamics.cli import main
from linoss_dynamics.codec import state_digest
from linoss_dynamics.conformance import (
    check_implementation,
    load_case,
    load_index,
    reference,
    ulp_distance,
)
from linoss_dynamics.export import json_schemas

FIXTURES = logs.REPO_ROOT / "fixtures" / "conformance"
SCHEMAS = logs.REPO_ROOT / "schemas"
INDEX = load_index(FIXTURES)
CASES = {case.name: case for case in INDEX.cases}


# -- implementations the checker is run on ------------------------------------


def outputs_only(params: dict[str, Any], U: np.ndarray, scheme: str) -> np.ndarray:
    return reference(params, U, scheme)[0]


def one_ulp_up(params: dict[str, Any], U: np.ndarray, scheme: str) -> np.ndarray:
    out = outputs_only(params, U, scheme)
    return np.nextafter(out, np.inf)


def as_float32(params: dict[str, Any], U: np.ndarray, scheme: str) -> np.ndarray:
    return outputs_only(params, U, scheme).astype(np.float32)


def float32_parameters(
    params: dict[str, Any], U: np.ndarray, scheme: str
) -> np.ndarray:
    # A port that keeps its weights in float32: parameters and inputs rounded.
    def rounded(a: np.ndarray) -> np.ndarray:
        kind = np.complex64 if a.dtype.kind == "c" else np.float32
        return a.astype(kind).astype(a.dtype)

    rounded_params = {key: rounded(value) for key, value in params.items()}
    return outputs_only(rounded_params, rounded(U), scheme).astype(np.float32)


def raises_on_damped(params: dict[str, Any], U: np.ndarray, scheme: str) -> Any:
    if "G" in params:
        raise NotImplementedError("no damping in this port")
    return reference(params, U, scheme)


def wrong_shape(params: dict[str, Any], U: np.ndarray, scheme: str) -> np.ndarray:
    return outputs_only(params, U, scheme)[:, :1]


def nan_output(params: dict[str, Any], U: np.ndarray, scheme: str) -> np.ndarray:
    out = outputs_only(params, U, scheme)
    out[0, 0] = np.nan
    return out


# -- the vectors ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_committed_outputs_are_what_the_layer_computes_now(name: str) -> None:
    case = CASES[name]
    params, U, expected, final = load_case(FIXTURES, case)

    out, state = LinOSSLayer(**params, scheme=case.scheme).run(U)

    assert out.tobytes() == expected.tobytes()
    assert state.y.tobytes() == final.y.tobytes()
    assert state.z.tobytes() == final.z.tobytes()
    assert hashlib.sha256(out.tobytes()).hexdigest() == case.expected_sha256
    assert state_digest(state.y[0], state.z[0]).hex() == case.state_digest_real
    assert state_digest(state.y[1], state.z[1]).hex() == case.state_digest_imag


def test_index_covers_every_scheme_in_several_sizes() -> None:
    by_scheme = {
        scheme: [c for c in INDEX.cases if c.scheme is scheme] for scheme in Scheme
    }

    sizes = {(c.P, c.H, c.L, c.dt) for c in INDEX.cases}

    assert all(len(cases) >= 3 for cases in by_scheme.values())
    assert len(sizes) >= 3
    assert {"scalar", "vector"} <= {c.dt for c in INDEX.cases}


def test_index_validates_against_its_committed_schema() -> None:
    schema = json.loads((SCHEMAS / "conformance_index.schema.json").read_text())
    index = json.loads((FIXTURES / "index.json").read_text())

    jsonschema.validate(index, schema)

    assert (SCHEMAS / "conformance_index.schema.json").read_text() == json_schemas()[
        "conformance_index.schema.json"
    ]


def test_vectors_stay_small_and_hold_no_pickles() -> None:
    files = sorted(FIXTURES.glob("*.npz"))

    total = sum(path.stat().st_size for path in files)
    for path in files:
        with np.load(path, allow_pickle=False) as data:
            assert all(data[key].dtype.kind in "fc" for key in data.files)

    assert len(files) == len(INDEX.cases)
    assert total < 1_000_000


def test_writing_the_vectors_again_gives_the_same_index(tmp_path: Path) -> None:
    from linoss_dynamics.conformance import write_fixtures

    index = write_fixtures(tmp_path)

    assert index.cases == INDEX.cases


# -- the checker ----------------------------------------------------------------


def test_the_reference_passes_exactly_and_its_state_digests_match() -> None:
    report = check_implementation(reference, FIXTURES)

    assert report.passed
    assert len(report.cases) == len(INDEX.cases)
    assert all(case.max_ulps == 0 for case in report.cases)
    assert all(case.state_digests_match is True for case in report.cases)


def test_one_ulp_off_fails_exact_and_passes_one_ulp() -> None:
    exact = check_implementation(one_ulp_up, FIXTURES, names=["imex-small"])

    loose = check_implementation(one_ulp_up, FIXTURES, max_ulps=1, names=["imex-small"])

    assert not exact.passed
    assert exact.cases[0].max_ulps == 1
    assert exact.cases[0].failing == CASES["imex-small"].L * CASES["imex-small"].H
    assert exact.cases[0].state_digests_match is None
    assert loose.passed


def test_float32_results_are_counted_in_float32_ulps() -> None:
    report = check_implementation(as_float32, FIXTURES, names=["damped_im-medium"])

    result = report.cases[0]

    assert result.dtype == "float32"
    assert result.max_ulps == 0  # rounding the exact value is the best float32 can do
    assert result.max_abs_error is not None
    assert 0.0 < result.max_abs_error < 1e-6
    assert report.passed


def test_tolerances_decide_for_an_inexact_float32_port() -> None:
    exact = check_implementation(float32_parameters, FIXTURES)

    loose = check_implementation(float32_parameters, FIXTURES, rtol=1e-4, atol=1e-4)

    assert not exact.passed
    assert max(case.max_ulps or 0 for case in exact.cases) > 0
    assert loose.passed


def test_a_raising_or_malformed_port_fails_its_cases_and_the_rest_run() -> None:
    raising = check_implementation(raises_on_damped, FIXTURES)
    shaped = check_implementation(wrong_shape, FIXTURES, names=["im-small"])
    nan = check_implementation(nan_output, FIXTURES, names=["im-small"], atol=1.0)

    failed = {case.name for case in raising.cases if not case.passed}
    assert failed == {c.name for c in INDEX.cases if c.scheme.damped}
    assert "NotImplementedError" in (raising.cases[-1].error or "")
    assert "shape" in (shaped.cases[0].error or "")
    assert nan.cases[0].nonfinite == 1
    assert not nan.passed


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("no_colon", "module:function"),
        ("no_such_module_xyz:f", "cannot import"),
        ("linoss_dynamics.conformance:missing", "no attribute"),
        ("linoss_dynamics.conformance:INDEX_NAME", "not a function"),
    ],
)
def test_bad_impl_specs_are_refused_by_name(spec: str, words: str) -> None:
    with pytest.raises(LinOSSError, match=words) as info:
        check_implementation(spec, FIXTURES)

    assert info.value.argument == "impl"


def test_missing_vectors_and_unknown_cases_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LinOSSError, match="no conformance vectors") as missing:
        check_implementation(reference, tmp_path)
    with pytest.raises(LinOSSError, match="unknown") as unknown:
        check_implementation(reference, FIXTURES, names=["im-huge"])

    assert missing.value.argument == "fixtures"
    assert unknown.value.argument == "case"


def test_ulp_distance_counts_representable_steps() -> None:
    tiny = np.array([5e-324])
    one = np.array([1.0])
    one32 = np.array([1.0], dtype=np.float32)

    assert ulp_distance(np.nextafter(one, 2.0), one).tolist() == [1]
    assert ulp_distance(np.array([-0.0]), np.array([0.0])).tolist() == [0]
    assert ulp_distance(-tiny, tiny).tolist() == [2]
    assert ulp_distance(np.array([-np.inf]), np.array([np.inf])).tolist() == [
        2 * 0x7FF0000000000000
    ]
    assert ulp_distance(np.nextafter(one32, np.float32(0.0)), one32).tolist() == [1]


# -- the command ----------------------------------------------------------------


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["conformance", "--fixtures", str(FIXTURES), *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_passes_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--impl", "linoss_dynamics.conformance:reference")

    assert code == 0
    assert f"{len(INDEX.cases)}/{len(INDEX.cases)} cases pass" in out


def test_cli_fails_a_port_one_ulp_off_unless_allowed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    failing, out, _ = _run(capsys, "--impl", "test_conformance:one_ulp_up")
    allowed, _, _ = _run(
        capsys, "--impl", "test_conformance:one_ulp_up", "--max-ulps", "1"
    )

    assert failing == 1
    assert "FAIL im-small" in out
    assert allowed == 0


def test_cli_json_report_validates_against_its_schema(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(
        capsys,
        "--impl",
        "test_conformance:float32_parameters",
        "--json",
        "--case",
        "im-small",
    )

    schema = json.loads((SCHEMAS / "conformance_report.schema.json").read_text())
    report = json.loads(out)
    jsonschema.validate(report, schema)
    assert code == 1
    assert report["cases"][0]["dtype"] == "float32"


@pytest.mark.parametrize(
    "argv",
    [
        ["--impl", "nonsense"],
        ["--impl", "no_such_module_xyz:f"],
        [
            "--impl",
            "linoss_dynamics.conformance:reference",
            "--fixtures",
            "/nonexistent",
        ],
        ["--impl", "linoss_dynamics.conformance:reference", "--rtol", "-1"],
    ],
    ids=["spec", "import", "fixtures", "threshold"],
)
def test_cli_cannot_start_exits_2_with_a_message(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code = main(["conformance", "--fixtures", str(FIXTURES), *argv])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("linoss conformance: ")
