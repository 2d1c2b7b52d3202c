"""The functional API of linoss-dynamics 0.2, kept so existing callers switch without edits.

This module exists for compatibility. It keeps 0.2's names, parameters,
defaults, accepted shapes, return shapes, metrics keys and the start of each
error message, and it runs the same kernels as ``Oscillator`` (see
``linoss_dynamics.schemes``), so ``y_next`` and ``z_next`` carry 0.2's bytes.
New code should build an ``Oscillator`` once and call its ``step`` and ``scan``:
they validate once instead of on every call.

Deliberate differences from 0.2, each a stricter check on input 0.2 accepted:

- ``A`` must be non-negative (0.2 stepped with negative stiffness).
- A matrix ``A`` or ``G`` must be exactly diagonal (0.2 dropped off-diagonal
  entries up to 1e-8 without saying so).
- ``u`` and ``U`` rows of more than one dimension are refused, not flattened;
  complex, boolean, object and string arrays are refused, not cast.
- The damped functions also accept the schemes 0.2 lacked (``"imex2"``,
  ``"ex"``); the undamped ones run them with ``G = 0``.
- ``B u`` for a matrix ``B`` is an ordered sum over columns rather than BLAS,
  so it may differ from 0.2 in the last bits (0.2's bytes depended on BLAS).
- ``energy`` sums with ``math.fsum`` (exactly rounded) rather than
  ``numpy.sum``; values may differ from 0.2's in the last bits.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _validate as v
from ._forcing import ordered_matvec
from ._typing import FloatArray
from .energy import bank_energy, convergence_window, delta_energy
from .errors import InvalidShapeError, NonFiniteStateError
from .schemes import Kernel, Scheme, make_kernel, resolve_scheme

__all__ = [
    "convergence_window",
    "damped_linoss_step",
    "delta_energy",
    "energy",
    "linoss_scan",
    "linoss_step",
    "linoss_step_impl",
]

Metrics = dict[str, Any]


def _state_vectors(y: Any, z: Any) -> tuple[FloatArray, FloatArray]:
    y_arr = v.real_array("y", y)
    z_arr = v.real_array("z", z)
    if y_arr.ndim > 1 or z_arr.ndim > 1:
        raise InvalidShapeError(
            f"y and z must each be scalar or 1-D, got {y_arr.shape} and {z_arr.shape} "
            "(the 0.2 functions take one bank; Oscillator takes a batch axis)",
            argument="y" if y_arr.ndim > 1 else "z",
        )
    y_arr = y_arr.reshape(-1)
    z_arr = z_arr.reshape(-1)
    if y_arr.shape != z_arr.shape:
        raise InvalidShapeError(
            f"y and z must have the same shape, got {y_arr.shape} and {z_arr.shape}",
            argument="z",
        )
    v.require_finite("y", y_arr)
    v.require_finite("z", z_arr)
    return y_arr, z_arr


def _forcing(B: Any, u: Any, size: int) -> Any:
    """``F`` for one step: None (no input), a float, or a length-``size`` array."""
    if u is None:
        if B is not None:
            _input_matrix(B, size)
        return None
    u_arr = v.finite_array("u", u)
    if u_arr.ndim > 1:
        raise InvalidShapeError(
            f"u must be scalar or 1-D; got shape {u_arr.shape}", argument="u"
        )
    if B is None:
        if u_arr.ndim == 0:
            return float(u_arr)
        if u_arr.size == size:
            return u_arr
        raise InvalidShapeError(
            f"u must be scalar or length-{size} when B is omitted; got shape "
            f"{u_arr.shape}",
            argument="u",
        )
    B_arr = _input_matrix(B, size)
    if B_arr.ndim == 1:
        if u_arr.ndim == 0:
            return B_arr * float(u_arr)
        if u_arr.size == size:
            return B_arr * u_arr
        raise InvalidShapeError(
            f"u must be scalar or length-{size} for vector B; got shape {u_arr.shape}",
            argument="u",
        )
    u_vec = u_arr.reshape(-1)
    if u_vec.size != B_arr.shape[1]:
        raise InvalidShapeError(
            f"B and u shapes are incompatible: B is {B_arr.shape}, so u must have "
            f"length {B_arr.shape[1]}; got shape {u_arr.shape}",
            argument="u",
        )
    return ordered_matvec(np.ascontiguousarray(B_arr.T), u_vec)


def _input_matrix(B: Any, size: int) -> FloatArray:
    B_arr = v.finite_array("B", B)
    if B_arr.ndim == 1:
        if B_arr.size != size:
            raise InvalidShapeError(
                f"B vector must have length {size}; got length {B_arr.size}",
                argument="B",
            )
        return B_arr
    if B_arr.ndim == 2 and B_arr.shape[0] == size:
        return B_arr
    raise InvalidShapeError(
        f"B must be length-{size} vector or matrix with {size} rows; got shape "
        f"{B_arr.shape}",
        argument="B",
    )


def _parameters(
    A: Any, G: Any | None, size: int, damped: bool
) -> tuple[FloatArray, FloatArray | None]:
    A_vec = v.diagonal_vector("A", A, size)
    v.require_non_negative("A", A_vec, "stiffness")
    if not damped:
        return A_vec, None
    G_vec = np.zeros(size) if G is None else v.diagonal_vector("G", G, size)
    v.require_non_negative("G", G_vec, "damping")
    return A_vec, G_vec


_KERNELS: dict[tuple[Any, ...], Kernel] = {}
_KERNEL_CACHE_SIZE = 16


def _kernel(scheme: Scheme, A: FloatArray, G: FloatArray | None, dt: float) -> Kernel:
    """The kernel for these parameters, reused across calls that repeat them.

    0.2 callers step in loops with the same parameters; building a kernel costs
    more than a step, so the last few are kept (keyed on the exact bytes).
    """
    key = (scheme, A.tobytes(), None if G is None else G.tobytes(), dt)
    kernel = _KERNELS.get(key)
    if kernel is None:
        if len(_KERNELS) >= _KERNEL_CACHE_SIZE:
            _KERNELS.clear()
        # 0.2 squares dt with Python's ``**`` (the C library's pow); keep its bytes.
        kernel = _KERNELS[key] = make_kernel(scheme, A, G, dt, dt_squared=dt**2)
    return kernel


def _energy_or_raise(A: FloatArray, y: FloatArray, z: FloatArray) -> float:
    value = bank_energy(A, y, z)
    assert isinstance(value, float)
    if not math.isfinite(value):
        raise NonFiniteStateError(
            f"energy must remain finite; got {value!r}", argument="energy", value=value
        )
    return value


def _advance(
    kernel: Kernel, y: FloatArray, z: FloatArray, f: Any
) -> tuple[FloatArray, FloatArray]:
    y_next = np.empty_like(y)
    z_next = np.empty_like(z)
    with np.errstate(over="ignore", invalid="ignore"):
        kernel(y, z, f, y_next, z_next, np.empty_like(y))
    for name, arr in (("y_next", y_next), ("z_next", z_next)):
        if not np.isfinite(arr).all():
            raise NonFiniteStateError(
                f"{name} must contain only finite values (the step overflowed: check "
                "dt against is_stable, and the size of the input)",
                argument=name,
            )
    return y_next, z_next


def _metrics(
    scheme: Scheme, before: float, after: float, G: FloatArray | None
) -> Metrics:
    metrics: Metrics = {
        "mode": scheme.compat_mode,
        "energy_before": before,
        "energy_after": after,
        "delta_energy": delta_energy(before, after),
        "damping_mode": "none" if G is None else "explicit_g",
    }
    if G is not None:
        metrics["damping"] = G.copy()
    return metrics


def _step(
    y: Any,
    z: Any,
    A: Any,
    G: Any | None,
    dt: Any,
    mode: Any,
    B: Any,
    u: Any,
    damped: bool,
) -> tuple[FloatArray, FloatArray, Metrics]:
    y_arr, z_arr = _state_vectors(y, z)
    A_vec, G_vec = _parameters(A, G, y_arr.size, damped)
    f = _forcing(B, u, y_arr.size)
    dt_f = v.scalar_dt(dt)
    scheme = resolve_scheme(mode, damped=damped)
    if scheme.damped and G_vec is None:
        G_vec = np.zeros(y_arr.size)
    before = _energy_or_raise(A_vec, y_arr, z_arr)
    y_next, z_next = _advance(_kernel(scheme, A_vec, G_vec, dt_f), y_arr, z_arr, f)
    after = _energy_or_raise(A_vec, y_next, z_next)
    return y_next, z_next, _metrics(scheme, before, after, G_vec)


def linoss_step(
    y: Any,
    z: Any,
    A: Any,
    dt: float,
    mode: str = "implicit",
    B: Any | None = None,
    u: Any | None = None,
    damping: Any | None = None,
    G: Any | None = None,
) -> tuple[FloatArray, FloatArray, Metrics]:
    """One step of the bank; with ``damping`` or ``G`` it is ``damped_linoss_step``.

    Args:
        y, z: Position and velocity, scalar or 1-D of length n.
        A: Stiffness ``>= 0``: scalar, length n, or n x n diagonal.
        dt: Time step, a positive finite scalar.
        mode: ``"implicit"`` / ``"im"`` or ``"implicit_explicit"`` / ``"imex"``
            (case-insensitive), or another scheme name (see ``Scheme``).
        B: Optional input matrix, length n or n x m.
        u: Optional input: scalar or length n without ``B``; scalar or length n
            with a vector ``B``; length m with a matrix ``B``.
        damping, G: Damping ``>= 0`` (``damping`` wins when both are given).

    Returns:
        ``(y_next, z_next, metrics)``; metrics has ``mode``, ``energy_before``,
        ``energy_after``, ``delta_energy``, ``damping_mode`` (and ``damping``
        when damped).
    """
    if damping is not None or G is not None:
        return damped_linoss_step(
            y=y,
            z=z,
            A=A,
            G=damping if damping is not None else G,
            dt=dt,
            mode=mode,
            B=B,
            u=u,
        )
    return _step(y, z, A, None, dt, mode, B, u, damped=False)


def damped_linoss_step(
    y: Any,
    z: Any,
    A: Any,
    G: Any,
    dt: float,
    mode: str = "implicit",
    B: Any | None = None,
    u: Any | None = None,
) -> tuple[FloatArray, FloatArray, Metrics]:
    """One step with explicit damping ``G >= 0`` (D-LinOSS IM, IMEX1, IMEX2 or EX).

    ``mode="implicit_explicit"`` is D-LinOSS IMEX1, as in 0.2. Arguments and
    result as for ``linoss_step``; metrics also hold ``damping``, the G vector.
    """
    if G is None:
        G = 0.0
    return _step(y, z, A, G, dt, mode, B, u, damped=True)


def linoss_step_impl(
    *args: Any, **kwargs: Any
) -> tuple[FloatArray, FloatArray, Metrics]:
    """Another name for ``linoss_step``, kept for 0.2 callers."""
    return linoss_step(*args, **kwargs)


def energy(y: Any, z: Any, A: Any, G: Any | None = None) -> float:
    """``1/2 sum(A y^2 + z^2)`` of one bank, exactly rounded. ``G`` is ignored."""
    del G
    y_arr, z_arr = _state_vectors(y, z)
    A_vec = v.diagonal_vector("A", A, y_arr.size)
    v.require_non_negative("A", A_vec, "stiffness")
    return _energy_or_raise(A_vec, y_arr, z_arr)


def _initial_state(
    y0: Any, z0: Any, A: Any, B: Any, U: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """0.2's rules: the size comes from y0, else z0, else A, else B, else U."""
    given = [
        (name, value) for name, value in (("y0", y0), ("z0", z0)) if value is not None
    ]
    arrays = {}
    for name, value in given:
        arr = v.finite_array(name, value)
        if arr.ndim > 1:
            raise InvalidShapeError(
                f"{name[0]} must be scalar or 1-D, got shape {arr.shape}", argument=name
            )
        arrays[name] = arr.reshape(-1)
    if arrays:
        size = next(iter(arrays.values())).size
    else:
        size = _size_from_parameters(A, B, U)
    y = arrays.get("y0", np.zeros(size))
    z = arrays.get("z0", np.zeros(size))
    if y.shape != z.shape:
        raise InvalidShapeError(
            f"y0 and z0 must have the same length, got {y.shape} and {z.shape}",
            argument="z0",
        )
    return y, z


def _size_from_parameters(A: Any, B: Any, U: FloatArray) -> int:
    A_arr = v.finite_array("A", A)
    if A_arr.ndim == 1:
        return A_arr.size
    if A_arr.ndim == 2 and A_arr.shape[0] == A_arr.shape[1]:
        return A_arr.shape[0]
    if A_arr.ndim != 0:
        raise InvalidShapeError(
            f"A must be scalar, a vector, or a diagonal square matrix; got {A_arr.shape}",
            argument="A",
        )
    if B is not None:
        B_arr = v.finite_array("B", B)
        if B_arr.ndim in (1, 2):
            return B_arr.shape[0]
        raise InvalidShapeError(
            f"Cannot infer state dimension from scalar A and B shape {B_arr.shape!r}",
            argument="B",
        )
    return U.shape[1] if U.ndim == 2 else 1


def linoss_scan(
    U: Any,
    A: Any,
    dt: float,
    *,
    mode: str = "implicit",
    B: Any | None = None,
    y0: Any | None = None,
    z0: Any | None = None,
    damping: Any | None = None,
    G: Any | None = None,
) -> tuple[FloatArray, FloatArray, list[Metrics]]:
    """Step through the rows of ``U``; the trajectory includes the initial state.

    Each step equals ``linoss_step`` (or ``damped_linoss_step`` when ``damping``
    or ``G`` is given) on the previous state, byte for byte, and parameters are
    validated once rather than per step.

    Args:
        U: Inputs, shape (T,) (a scalar per step) or (T, m).
        A, dt, mode, B, damping, G: As for ``linoss_step``.
        y0, z0: Initial state (zeros when omitted). Without either, the size n
            is taken from ``A``, else from ``B``, else from the columns of ``U``.

    Returns:
        ``(Y, Z, metrics)`` with ``Y`` and ``Z`` of shape (T + 1, n) (row 0 is
        the initial state) and one metrics dict per step.
    """
    U_arr = v.real_array("U", U)
    if U_arr.ndim not in (1, 2):
        raise InvalidShapeError(
            f"U must be 1-D (T,) or 2-D (T, m), got shape {U_arr.shape!r}", argument="U"
        )
    v.require_finite("U", U_arr)
    dt_f = v.scalar_dt(dt)
    damped = damping is not None or G is not None
    scheme = resolve_scheme(mode, damped=damped)
    y, z = _initial_state(y0, z0, A, B, U_arr)
    size = y.size
    A_vec, G_vec = _parameters(A, damping if damping is not None else G, size, damped)
    if scheme.damped and G_vec is None:
        G_vec = np.zeros(size)
    _forcing(B, 0.0 if U_arr.ndim == 1 else np.zeros(U_arr.shape[1]), size)

    kernel = _kernel(scheme, A_vec, G_vec, dt_f)
    steps = U_arr.shape[0]
    Y = np.empty((steps + 1, size))
    Z = np.empty((steps + 1, size))
    Y[0], Z[0] = y, z
    metrics: list[Metrics] = []
    before = _energy_or_raise(A_vec, y, z)
    scratch = np.empty(size)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            f = _forcing(B, U_arr[t], size)
            kernel(Y[t], Z[t], f, Y[t + 1], Z[t + 1], scratch)
            after = bank_energy(A_vec, Y[t + 1], Z[t + 1])
            if not math.isfinite(after):  # also catches a non-finite state
                _advance(kernel, Y[t], Z[t], f)
                _energy_or_raise(A_vec, Y[t + 1], Z[t + 1])
            metrics.append(_metrics(scheme, before, after, G_vec))  # type: ignore[arg-type]
            before = after  # type: ignore[assignment]
    return Y, Z, metrics
