"""Energy of an oscillator bank, exactly rounded.

``E = 1/2 * sum(A * y**2 + z**2)``. The elementwise terms are correctly rounded
float64 operations in a fixed order, ``(A * (y * y)) + (z * z)``; the sum is
``math.fsum``, which returns the correctly rounded value of the exact sum
whatever the order of its terms. NumPy's ``sum`` uses pairwise summation whose
blocking depends on the build, so it is not used here: with ``fsum`` the energy
has the same bytes on every platform and NumPy version. (It may differ from
0.2's ``energy``, which uses ``numpy.sum``, in the last bits.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ._typing import FloatArray
from .errors import InvalidValueError

__all__ = [
    "bank_energy",
    "convergence_window",
    "delta_energy",
    "energy_terms",
    "energy_weights",
    "exact_half_sum",
    "stacked_terms_into",
]


def energy_weights(A: FloatArray) -> FloatArray:
    """``[A, 1]`` stacked, shape (2, P): the weights of ``y*y`` and ``z*z``."""
    return np.stack((A, np.ones_like(A)))


def stacked_terms_into(
    weights: FloatArray,
    state: FloatArray,
    squares: FloatArray,
    rows: tuple[FloatArray, FloatArray],
    out: FloatArray,
) -> FloatArray:
    """``energy_terms`` for a stacked state ``[y, z]``, written into ``out``.

    The same operations per element as ``energy_terms``, three array calls
    instead of four: ``w * (s * s)`` on both rows at once (with ``w = [A, 1]``,
    and ``1 * (z * z)`` is exact), then one addition of the two rows.
    ``state`` and ``squares`` have shape (2, ...); ``weights`` broadcasts to it;
    ``rows`` are the two rows of ``squares`` (views made once by the caller).
    """
    np.multiply(state, state, squares)
    np.multiply(weights, squares, squares)
    np.add(rows[0], rows[1], out)
    return out


def energy_terms(A: FloatArray, y: FloatArray, z: FloatArray) -> FloatArray:
    """The per-oscillator terms ``(A * (y * y)) + (z * z)``, same shape as ``y``."""
    with np.errstate(over="ignore", invalid="ignore"):
        terms = np.multiply(y, y)
        np.multiply(A, terms, out=terms)
        np.add(terms, np.multiply(z, z), out=terms)
    return terms


def exact_half_sum(terms: FloatArray) -> float:
    """``0.5 * fsum(terms)`` for a contiguous 1-D array; ``inf`` if the sum overflows."""
    try:
        # A memoryview yields the float64 values as Python floats without
        # building a list first.
        return 0.5 * math.fsum(memoryview(terms))  # type: ignore[arg-type]
    except OverflowError:
        return math.inf
    except ValueError:  # inf and -inf among the terms
        return math.nan


def bank_energy(A: FloatArray, y: FloatArray, z: FloatArray) -> float | FloatArray:
    """Energy of one bank (1-D state) as a float, or of each row of a batch.

    No validation: ``A`` has shape (P,), ``y`` and ``z`` shape (P,) or (N, P),
    all float64. A non-finite state gives a non-finite energy.
    """
    terms = energy_terms(A, y, z)
    if terms.ndim == 1:
        return exact_half_sum(terms)
    return np.array([exact_half_sum(row) for row in terms], dtype=np.float64)


def delta_energy(previous_energy: float, next_energy: float) -> float:
    """Signed change ``next_energy - previous_energy``, one float64 subtraction."""
    return float(next_energy) - float(previous_energy)


def convergence_window(deltas: Sequence[float], threshold: float, window: int) -> bool:
    """True when each of the last ``window`` deltas has magnitude below ``threshold``.

    Returns False while fewer than ``window`` deltas exist.

    Raises:
        InvalidValueError: ``window`` is not a positive integer.
    """
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)):
        raise InvalidValueError(
            f"window must be positive; got {window!r} (an integer count of deltas)",
            argument="window",
            value=window,
        )
    if window <= 0:
        raise InvalidValueError(
            f"window must be positive; got {window!r}", argument="window", value=window
        )
    if len(deltas) < window:
        return False
    limit = float(threshold)
    return all(abs(float(d)) < limit for d in deltas[-window:])
