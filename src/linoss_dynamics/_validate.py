"""Argument checks shared by every public entry point.

Validation happens where data enters the package (constructors, the 0.2
functions, decoding a log), never inside the per-step loops. Each check raises
a typed error whose message names the argument, says what is allowed and shows
what was received.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._typing import FloatArray
from .errors import (
    InvalidDampingError,
    InvalidDtypeError,
    InvalidShapeError,
    InvalidValueError,
)

# Kinds of dtype accepted as real numbers: signed, unsigned, floating.
# Booleans, complex, objects, strings, bytes, dates and void are refused.
_REAL_KINDS = frozenset("iuf")


def real_array(name: str, value: Any) -> FloatArray:
    """Return ``value`` as a float64 array, refusing non-real dtypes."""
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as exc:
            raise InvalidShapeError(
                f"{name} must be a real number or a rectangular array of real "
                f"numbers; got {type(value).__name__} that NumPy cannot convert ({exc})",
                argument=name,
            ) from None
    if arr.dtype.kind not in _REAL_KINDS:
        raise InvalidDtypeError(
            f"{name} must hold real numbers (integer or floating dtype); got dtype "
            f"{arr.dtype}",
            argument=name,
            value=str(arr.dtype),
        )
    return arr.astype(np.float64, copy=False)


def require_finite(name: str, arr: FloatArray) -> None:
    """Raise if ``arr`` holds NaN or an infinity, naming the first one."""
    finite = np.isfinite(arr)
    if finite.all():
        return
    index = tuple(int(i) for i in np.argwhere(~finite)[0])
    where = f" at index {index[0] if len(index) == 1 else index}" if index else ""
    bad = float(arr[index]) if index else float(arr)
    raise InvalidValueError(
        f"{name} must contain only finite values; got {bad!r}{where}",
        argument=name,
        value=bad,
    )


def finite_array(name: str, value: Any) -> FloatArray:
    """``real_array`` followed by ``require_finite``."""
    arr = real_array(name, value)
    require_finite(name, arr)
    return arr


def require_non_negative(name: str, arr: FloatArray, what: str) -> None:
    """Raise if ``arr`` has a negative entry; ``what`` names the quantity."""
    negative = arr < 0.0
    if not negative.any():
        return
    index = int(np.argmax(negative.reshape(-1)))
    bad = float(arr.reshape(-1)[index])
    error = InvalidDampingError if name == "G" else InvalidValueError
    raise error(
        f"{name} {what} must be non-negative; got {bad!r} at index {index}",
        argument=name,
        value=bad,
    )


def scalar_dt(dt: Any) -> float:
    """A single positive finite time step, as a Python float."""
    arr = real_array("dt", dt)
    if arr.ndim != 0:
        raise InvalidShapeError(
            f"dt must be a scalar here; got shape {arr.shape} "
            "(per-oscillator dt is accepted by Oscillator)",
            argument="dt",
        )
    value = float(arr)
    if not np.isfinite(value) or value <= 0.0:
        raise InvalidValueError(
            f"dt must be finite and positive; got {value!r}", argument="dt", value=value
        )
    return value


def dt_array(dt: Any, size: int) -> float | FloatArray:
    """A scalar ``dt`` as a float, or a per-oscillator ``dt`` of length ``size``."""
    arr = real_array("dt", dt)
    if arr.ndim == 0:
        return scalar_dt(arr)
    if arr.shape != (size,):
        raise InvalidShapeError(
            f"dt must be a scalar or a length-{size} vector (one step per "
            f"oscillator); got shape {arr.shape}",
            argument="dt",
        )
    require_finite("dt", arr)
    if (arr <= 0.0).any():
        index = int(np.argmax(arr <= 0.0))
        raise InvalidValueError(
            f"dt must be finite and positive; got {float(arr[index])!r} at index {index}",
            argument="dt",
            value=float(arr[index]),
        )
    return frozen(arr.copy())


def diagonal_vector(
    name: str, value: Any, size: int, *, allow_broadcast: bool = True
) -> FloatArray:
    """A diagonal parameter (``A`` or ``G``) as a fresh length-``size`` vector.

    Accepts a vector of length ``size`` and a ``size x size`` matrix whose
    off-diagonal entries are exactly zero. With ``allow_broadcast`` (the 0.2
    functions), a scalar or a length-1 vector is repeated ``size`` times.
    """
    arr = finite_array(name, value)
    if allow_broadcast and arr.ndim == 0:
        return np.full(size, float(arr))
    if allow_broadcast and arr.shape == (1,):
        return np.full(size, float(arr[0]))
    if arr.shape == (size,):
        return arr.copy()
    if arr.shape == (size, size):
        off_diagonal = arr.copy()
        np.fill_diagonal(off_diagonal, 0.0)
        if not off_diagonal.any():
            return np.diag(arr).copy()
        i, j = (int(k) for k in np.argwhere(off_diagonal != 0.0)[0])
        raise InvalidShapeError(
            f"{name} must be {_diagonal_forms(size, allow_broadcast)}; got a matrix "
            f"with off-diagonal entry {float(arr[i, j])!r} at ({i}, {j}) (oscillators "
            "are independent: pass the diagonal)",
            argument=name,
        )
    raise InvalidShapeError(
        f"{name} must be {_diagonal_forms(size, allow_broadcast)}; got shape {arr.shape}",
        argument=name,
    )


def _diagonal_forms(size: int, allow_broadcast: bool) -> str:
    forms = f"length-{size} vector, or {size}x{size} diagonal matrix"
    return f"scalar, {forms}" if allow_broadcast else forms.replace(", or", " or")


def frozen(arr: FloatArray) -> FloatArray:
    """Mark ``arr`` read-only and return it."""
    arr.setflags(write=False)
    return arr


__all__ = [
    "diagonal_vector",
    "dt_array",
    "finite_array",
    "frozen",
    "real_array",
    "require_finite",
    "require_non_negative",
    "scalar_dt",
]
