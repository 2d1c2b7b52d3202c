"""Conformance vectors for ports of the LinOSS layer, and the checker that runs them.

The vectors
-----------
A directory (``fixtures/conformance/`` in the repository) holds ``index.json``,
which validates against ``schemas/conformance_index.schema.json``, and one
``.npz`` file per case. Each case file holds, all little-endian, no pickles:

    A   float64 (P,)       stiffness, after the training parameterisation
    G   float64 (P,)       damping (damped schemes only)
    dt  float64 () or (P,) time step, after the sigmoid
    B   complex128 (P, H)  input matrix
    C   complex128 (H, P)  readout
    D   float64 (H,)       skip weights
    U   float64 (L, H)     inputs
    expected float64 (L, H)  the outputs ``LinOSSLayer.forward(U)`` gives
    y, z  float64 (2, P)   the state after the last step: row 0 the real
                           channel, row 1 the imaginary channel

The index gives per case its scheme, sizes, the SHA-256 of ``expected``'s
bytes, and two state digests (``codec.state_digest``, xxh3-128 of
``"<f8\\0" | ndim | dims | y bytes | z bytes``): one of the real channel
``(y[0], z[0])`` and one of the imaginary channel ``(y[1], z[1])``. The
parameters are stored after parameterisation, so that a port is checked on
the layer's arithmetic alone, not on a platform's sigmoid.

Checking an implementation
--------------------------
An implementation is a callable ``fn(params, U, scheme)``: ``params`` maps
``"A"``, ``"dt"``, ``"B"``, ``"C"``, ``"D"`` (and ``"G"`` for damped schemes) to
the arrays above, ``U`` is (L, H) float64, ``scheme`` is a ``Scheme`` value
(``"im"``, ``"imex"``, ``"damped_im"``, ``"damped_imex1"``, ``"damped_imex2"``,
``"damped_ex"``). It returns the outputs (L, H) as any floating array, or a
pair ``(outputs, state)`` with ``state`` a mapping of ``"y_re"``, ``"y_im"``,
``"z_re"``, ``"z_im"`` (each (P,)); when a state is returned its digests are
compared too (reported, not part of passing).

Per case the checker reports the largest absolute error, relative error
(over expected values that are not zero) and ULP distance, counted in the
precision the implementation returned: float32 outputs are compared with the
expected values rounded to float32. An element passes when its ULP distance
is at most ``max_ulps`` or its absolute error is at most
``atol + rtol * |expected|``; a case passes when every element does and none is
NaN or infinite. The defaults (0, 0, 0) demand the exact bytes.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._typing import FloatArray
from ._version import __version__
from .codec import state_digest
from .errors import LinOSSError
from .layer import LayerState, LinOSSLayer, layer_from_mapping
from .schemes import Scheme

__all__ = [
    "CaseResult",
    "ConformanceCase",
    "ConformanceIndex",
    "ConformanceReport",
    "check_implementation",
    "expected_sha256",
    "load_case",
    "load_index",
    "reference",
    "resolve_impl",
    "ulp_distance",
    "write_fixtures",
]

INDEX_NAME = "index.json"
Implementation = Callable[[dict[str, Any], FloatArray, str], Any]


class ConformanceCase(BaseModel):
    """One conformance case in ``index.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="unique name: scheme and size")
    scheme: Scheme = Field(description="the discretization scheme")
    file: str = Field(description="the case's .npz, relative to the index")
    P: int = Field(ge=1, description="number of oscillators")
    H: int = Field(ge=1, description="input and output channels")
    L: int = Field(ge=0, description="sequence length")
    dt: Literal["scalar", "vector"] = Field(description="one dt, or one per oscillator")
    expected_sha256: str = Field(
        pattern="^[0-9a-f]{64}$",
        description="SHA-256 of the expected outputs' float64 little-endian C-order bytes",
    )
    state_digest_real: str = Field(
        pattern="^[0-9a-f]{32}$",
        description="codec.state_digest(y[0], z[0]) of the final state, hex",
    )
    state_digest_imag: str = Field(
        pattern="^[0-9a-f]{32}$",
        description="codec.state_digest(y[1], z[1]) of the final state, hex",
    )


class ConformanceIndex(BaseModel):
    """``index.json`` of a directory of conformance vectors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: Literal[1] = 1
    generated_by: str = Field(description="library version that wrote the vectors")
    cases: list[ConformanceCase]


class CaseResult(BaseModel):
    """How one implementation did on one case."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    scheme: Scheme
    passed: bool
    dtype: str | None = Field(
        default=None, description="dtype the implementation returned"
    )
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    max_ulps: int | None = Field(default=None, description="in the returned precision")
    failing: int = Field(default=0, description="elements outside the thresholds")
    nonfinite: int = Field(default=0, description="NaN or infinite outputs")
    state_digests_match: bool | None = Field(
        default=None, description="None when the implementation returns no state"
    )
    error: str | None = Field(default=None, description="why the case could not run")


class ConformanceReport(BaseModel):
    """``linoss conformance --json``: every case's result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    impl: str
    fixtures: str
    max_ulps: int
    rtol: float
    atol: float
    passed: bool
    cases: list[CaseResult]


# -- loading ------------------------------------------------------------------


def resolve_impl(spec: str) -> Implementation:
    """The callable ``"package.module:function"`` names.

    Raises:
        LinOSSError: the spec is malformed, the module does not import, or the
            attribute is missing or not callable (``argument`` is ``"impl"``).
    """
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise LinOSSError(
            f"--impl must be module:function (for example "
            f"linoss_dynamics.conformance:reference); got {spec!r}",
            argument="impl",
            value=spec,
        )
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:  # any import failure is the implementation's
        raise LinOSSError(
            f"cannot import {module_name!r} for --impl {spec}: "
            f"{type(exc).__name__}: {exc} (is it on PYTHONPATH?)",
            argument="impl",
            value=spec,
        ) from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise LinOSSError(
                f"{module_name!r} has no attribute {attribute!r} (--impl {spec})",
                argument="impl",
                value=spec,
            ) from None
    if not callable(target):
        raise LinOSSError(
            f"--impl {spec} names a {type(target).__name__}, not a function",
            argument="impl",
            value=spec,
        )
    implementation: Implementation = target
    return implementation


def load_index(directory: str | os.PathLike[str]) -> ConformanceIndex:
    """Read and validate ``index.json`` in ``directory``.

    Raises:
        LinOSSError: no index there, or it does not fit ``ConformanceIndex``.
    """
    path = Path(directory) / INDEX_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LinOSSError(
            f"no conformance vectors at {directory}: cannot read {path} "
            f"({exc.strerror or exc}); pass --fixtures DIR",
            argument="fixtures",
            value=str(directory),
        ) from None
    try:
        return ConformanceIndex.model_validate_json(text)
    except ValidationError as exc:
        raise LinOSSError(
            f"{path} is not a conformance index: {exc}",
            argument="fixtures",
            value=str(path),
        ) from None


def load_case(
    directory: str | os.PathLike[str], case: ConformanceCase
) -> tuple[dict[str, Any], FloatArray, FloatArray, LayerState]:
    """``(params, U, expected, final_state)`` of one case."""
    path = Path(directory) / case.file
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise LinOSSError(
            f"cannot read conformance case {case.name} from {path}: {exc}",
            argument="fixtures",
            value=str(path),
        ) from None
    keys = ["A", "dt", "B", "C", "D", *(["G"] if case.scheme.damped else [])]
    missing = [k for k in (*keys, "U", "expected", "y", "z") if k not in arrays]
    if missing:
        raise LinOSSError(
            f"conformance case {case.name} ({path}) lacks {', '.join(missing)}",
            argument="fixtures",
            value=str(path),
        )
    params = {key: arrays[key] for key in keys}
    state = LayerState(arrays["y"], arrays["z"])
    return params, arrays["U"], arrays["expected"], state


# -- the reference implementation ---------------------------------------------


def reference(
    params: Mapping[str, Any], U: Any, scheme: str
) -> tuple[FloatArray, dict[str, FloatArray]]:
    """``LinOSSLayer`` as an implementation: outputs and the final state."""
    layer = layer_from_mapping(params, scheme)
    out, state = layer.run(U)
    return out, {
        "y_re": state.y[0],
        "y_im": state.y[1],
        "z_re": state.z[0],
        "z_im": state.z[1],
    }


def expected_sha256(outputs: FloatArray) -> str:
    """SHA-256 (hex) of float64 outputs as little-endian C-order bytes."""
    data = np.ascontiguousarray(outputs, dtype="<f8").tobytes()
    return hashlib.sha256(data).hexdigest()


def _digests(y: FloatArray, z: FloatArray) -> tuple[str, str]:
    return state_digest(y[0], z[0]).hex(), state_digest(y[1], z[1]).hex()


# -- comparing ----------------------------------------------------------------

_INTS = {2: (np.int16, np.uint16), 4: (np.int32, np.uint32), 8: (np.int64, np.uint64)}


def ulp_distance(actual: Any, expected: Any) -> Any:
    """Elementwise ULP distance of two arrays of one floating dtype (2, 4 or 8 bytes).

    The distance between adjacent floats is 1, between ``0.0`` and ``-0.0`` 0;
    it is exact integer arithmetic on the bit patterns, so it never saturates.
    Returns an unsigned integer array.
    """
    a = np.ascontiguousarray(actual)
    e = np.ascontiguousarray(expected, dtype=a.dtype)
    signed, unsigned = _INTS[a.dtype.itemsize]
    low = np.iinfo(signed).min

    def ordinal(x: Any) -> Any:
        bits = x.view(signed)
        return np.where(bits < 0, low - bits, bits)

    oa, oe = ordinal(a), ordinal(e)
    ua, ue = oa.view(unsigned), oe.view(unsigned)
    # Unsigned subtraction wraps modulo 2^n, which is the exact distance when
    # taken from the larger ordinal.
    return np.where(oa >= oe, ua - ue, ue - ua)


def _compare(
    name: str,
    scheme: Scheme,
    returned: Any,
    expected: FloatArray,
    final: LayerState,
    *,
    max_ulps: int,
    rtol: float,
    atol: float,
) -> CaseResult:
    state: Any = None
    if isinstance(returned, tuple):
        if len(returned) != 2:
            return _error(name, scheme, "returned a tuple that is not (outputs, state)")
        returned, state = returned
    try:
        actual = np.asarray(returned)
    except Exception as exc:  # whatever the port returned
        return _error(name, scheme, f"returned something NumPy cannot read: {exc}")
    if actual.dtype.kind != "f":
        return _error(name, scheme, f"returned dtype {actual.dtype}, not floating")
    if actual.shape != expected.shape:
        return _error(
            name, scheme, f"returned shape {actual.shape}, expected {expected.shape}"
        )
    dtype = str(actual.dtype)
    if actual.dtype.itemsize not in _INTS:
        actual = actual.astype(np.float64)
    finite = np.isfinite(actual)
    nonfinite = int((~finite).sum())
    a64 = actual.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        abs_err = np.abs(a64 - expected)
        scale = np.abs(expected)
        ulps = ulp_distance(actual, expected.astype(actual.dtype))
        within = (ulps <= max_ulps) | (abs_err <= atol + rtol * scale)
    within &= finite
    nonzero = finite & (expected != 0.0)
    rel = abs_err[nonzero] / scale[nonzero]
    finite_abs = abs_err[finite]
    matches: bool | None = None
    if state is not None:
        try:
            y = np.array([state["y_re"], state["y_im"]], dtype=np.float64)
            z = np.array([state["z_re"], state["z_im"]], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            return _error(name, scheme, f"returned a state without y_re..z_im: {exc}")
        matches = y.shape == final.y.shape and _digests(y, z) == _digests(
            final.y, final.z
        )
    return CaseResult(
        name=name,
        scheme=scheme,
        passed=bool(within.all()),
        dtype=dtype,
        max_abs_error=float(finite_abs.max()) if finite_abs.size else 0.0,
        max_rel_error=float(rel.max()) if rel.size else 0.0,
        max_ulps=int(ulps[finite].max()) if finite.any() else 0,
        failing=int((~within).sum()),
        nonfinite=nonfinite,
        state_digests_match=matches,
    )


def _error(name: str, scheme: Scheme, message: str) -> CaseResult:
    return CaseResult(name=name, scheme=scheme, passed=False, error=message)


def check_implementation(
    impl: str | Implementation,
    directory: str | os.PathLike[str],
    *,
    max_ulps: int = 0,
    rtol: float = 0.0,
    atol: float = 0.0,
    names: Sequence[str] | None = None,
) -> ConformanceReport:
    """Run ``impl`` on every case in ``directory`` (or those in ``names``).

    An exception inside ``impl`` fails that case (its message is kept) and the
    next case runs.

    Raises:
        LinOSSError: ``impl`` cannot be resolved, the vectors cannot be read,
            a name is unknown, or a threshold is negative.
    """
    if max_ulps < 0 or not rtol >= 0.0 or not atol >= 0.0:
        raise LinOSSError(
            f"thresholds must be non-negative; got max_ulps={max_ulps}, "
            f"rtol={rtol}, atol={atol}",
            argument="threshold",
        )
    label = impl if isinstance(impl, str) else getattr(impl, "__qualname__", repr(impl))
    function = resolve_impl(impl) if isinstance(impl, str) else impl
    index = load_index(directory)
    cases = index.cases
    if names is not None:
        known = {case.name for case in cases}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise LinOSSError(
                f"unknown conformance case(s) {', '.join(unknown)}; the index has "
                f"{', '.join(sorted(known))}",
                argument="case",
            )
        cases = [case for case in cases if case.name in set(names)]
    results = []
    for case in cases:
        params, U, expected, final = load_case(directory, case)
        try:
            returned = function(
                {key: value.copy() for key, value in params.items()},
                U.copy(),
                case.scheme.value,
            )
        except Exception as exc:  # a failing port fails its case, not the run
            results.append(
                _error(case.name, case.scheme, f"raised {type(exc).__name__}: {exc}")
            )
            continue
        results.append(
            _compare(
                case.name,
                case.scheme,
                returned,
                expected,
                final,
                max_ulps=max_ulps,
                rtol=rtol,
                atol=atol,
            )
        )
    return ConformanceReport(
        impl=str(label),
        fixtures=str(directory),
        max_ulps=max_ulps,
        rtol=rtol,
        atol=atol,
        passed=all(result.passed for result in results),
        cases=results,
    )


# -- writing the vectors --------------------------------------------------------

# (suffix, P, H, L, per-oscillator dt): small cases to debug by hand, a wide
# one, and a long one that exercises many steps.
_SIZES = (
    ("small", 3, 2, 8, False),
    ("medium", 32, 16, 128, True),
    ("long", 8, 4, 512, True),
)


def _case_parameters(
    scheme: Scheme, seed: int, P: int, H: int, vector_dt: bool
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    dt: Any = rng.uniform(0.05, 0.5, P) if vector_dt else np.float64(0.1)
    A = rng.uniform(0.0, 10.0, P)
    A[0] = 0.0  # a free oscillator: no restoring force
    params: dict[str, Any] = {"A": A, "dt": np.asarray(dt, dtype=np.float64)}
    if scheme.damped:
        G = rng.uniform(0.0, 1.0, P)
        if scheme is Scheme.DAMPED_EX:
            G = np.asarray(dt) * A + rng.uniform(0.0, 0.5, P)  # EX needs dt A <= G
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


def write_fixtures(directory: str | os.PathLike[str]) -> ConformanceIndex:
    """Write every case and ``index.json`` into ``directory``; returns the index.

    Parameters and inputs come from generators seeded per case, so writing
    again gives the same arrays; the expected values are ``LinOSSLayer``'s.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for s_index, scheme in enumerate(Scheme):
        for z_index, (suffix, P, H, L, vector_dt) in enumerate(_SIZES):
            seed = 1000 * s_index + z_index
            params = _case_parameters(scheme, seed, P, H, vector_dt)
            U = np.random.default_rng(seed + 500).normal(size=(L, H))
            layer: LinOSSLayer = layer_from_mapping(params, scheme)
            expected, final = layer.run(U)
            name = f"{scheme.value}-{suffix}"
            file = f"{name}.npz"
            np.savez_compressed(
                folder / file, U=U, expected=expected, y=final.y, z=final.z, **params
            )
            real, imag = _digests(final.y, final.z)
            cases.append(
                ConformanceCase(
                    name=name,
                    scheme=scheme,
                    file=file,
                    P=P,
                    H=H,
                    L=L,
                    dt="vector" if vector_dt else "scalar",
                    expected_sha256=expected_sha256(expected),
                    state_digest_real=real,
                    state_digest_imag=imag,
                )
            )
    index = ConformanceIndex(generated_by=f"linoss-dynamics {__version__}", cases=cases)
    text = json.dumps(index.model_dump(mode="json"), indent=2) + "\n"
    (folder / INDEX_NAME).write_text(text, encoding="utf-8")
    return index
