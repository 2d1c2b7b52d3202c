"""Stability and spectral analysis of each scheme's per-oscillator transition.

Every scheme advances each oscillator as ``x' = M x + f`` with ``x = (y, z)``
and a 2x2 matrix ``M`` (see ``schemes``). The unforced bank stays bounded when
every ``M`` has spectral radius at most one (and no defective eigenvalue on the
unit circle). For ``p(l) = l^2 - tr(M) l + det(M)`` the Jury conditions
``|det M| <= 1``, ``p(1) >= 0`` and ``p(-1) >= 0`` turn that into one inequality
per scheme, which this module states and checks:

    ============  ==========================================  ===============
    scheme        stable while                                 largest dt
    ============  ==========================================  ===============
    IM            always (A >= 0)                              unbounded
    IMEX          dt^2 A < 4                                   2 / sqrt(A)
    damped IM     always (A, G >= 0)                           unbounded
    damped IMEX1  dt^2 A < 4 + 2 dt G                          (G + sqrt(G^2 + 4A)) / A
    damped IMEX2  dt^2 A + 2 dt G < 4                          4 / (G + sqrt(G^2 + 4A))
    damped EX     dt A <= G  and  2 dt G < 4 + dt^2 A          see ``max_stable_dt``
    ============  ==========================================  ===============

The boundaries are taken as unstable except ``dt A = G`` for EX, where the
eigenvalues are a distinct complex pair on the unit circle. This module uses
``sqrt`` and complex logarithms for analysis only; none of it touches a state.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from . import _validate as v
from ._typing import FloatArray
from .errors import InvalidShapeError, LinOSSError, UnstableSchemeError
from .schemes import Scheme, resolve_scheme

__all__ = [
    "STABLE_REGION",
    "SpectralAnalysis",
    "check_stable",
    "eigenvalues",
    "is_stable",
    "max_stable_dt",
    "spectral_analysis",
    "spectral_radius",
    "transition_matrices",
]


STABLE_REGION = {
    Scheme.IM: "A >= 0",
    Scheme.IMEX: "dt^2 A < 4",
    Scheme.DAMPED_IM: "A >= 0 and G >= 0",
    Scheme.DAMPED_IMEX1: "dt^2 A < 4 + 2 dt G",
    Scheme.DAMPED_IMEX2: "dt^2 A + 2 dt G < 4",
    Scheme.DAMPED_EX: "dt A <= G and 2 dt G < 4 + dt^2 A",
}
"""The stable region of each scheme, as the inequality ``check_stable`` tests."""


def transition_matrices(
    scheme: Scheme, A: FloatArray, G: FloatArray | None, dt: float | FloatArray
) -> FloatArray:
    """The matrices ``M`` of shape (P, 2, 2) acting on ``(y, z)`` per oscillator."""
    A = np.asarray(A, dtype=np.float64)
    G = np.zeros_like(A) if G is None else np.asarray(G, dtype=np.float64)
    dt = np.broadcast_to(np.asarray(dt, dtype=np.float64), A.shape)
    M = np.empty((*A.shape, 2, 2))
    if scheme is Scheme.IM:
        S = 1.0 / (1.0 + dt * dt * A)
        M[:, 0, 0], M[:, 0, 1], M[:, 1, 0], M[:, 1, 1] = S, dt * S, -dt * A * S, S
    elif scheme in (Scheme.IMEX, Scheme.DAMPED_IM, Scheme.DAMPED_IMEX1):
        if scheme is Scheme.IMEX:
            D = np.ones_like(A)
        elif scheme is Scheme.DAMPED_IM:
            D = 1.0 + dt * G + dt * dt * A
        else:
            D = 1.0 + dt * G
        M[:, 0, 0] = 1.0 - dt * dt * A / D
        M[:, 0, 1] = dt / D
        M[:, 1, 0] = -dt * A / D
        M[:, 1, 1] = 1.0 / D
    elif scheme is Scheme.DAMPED_IMEX2:
        C = 1.0 - dt * G
        M[:, 0, 0], M[:, 0, 1], M[:, 1, 0], M[:, 1, 1] = (
            1.0 - dt * dt * A,
            dt * C,
            -dt * A,
            C,
        )
    else:
        M[:, 0, 0], M[:, 0, 1], M[:, 1, 0], M[:, 1, 1] = 1.0, dt, -dt * A, 1.0 - dt * G
    return M


def eigenvalues(M: FloatArray) -> np.ndarray:
    """Eigenvalues of each 2x2 matrix, shape (P, 2) complex, larger modulus first."""
    half_trace = 0.5 * (M[:, 0, 0] + M[:, 1, 1])
    det = M[:, 0, 0] * M[:, 1, 1] - M[:, 0, 1] * M[:, 1, 0]
    root = np.sqrt((half_trace * half_trace - det).astype(np.complex128))
    pair = np.stack([half_trace + root, half_trace - root], axis=-1)
    order = np.argsort(-np.abs(pair), axis=-1, kind="stable")
    return np.take_along_axis(pair, order, axis=-1)


def spectral_radius(M: FloatArray) -> FloatArray:
    """Largest eigenvalue modulus of each 2x2 matrix, shape (P,)."""
    return np.abs(eigenvalues(M)[:, 0])


def max_stable_dt(
    scheme: Scheme | str, A: FloatArray, G: FloatArray | None
) -> FloatArray:
    """Per oscillator, the supremum of the stable time steps (``inf`` if none).

    Zero means no positive ``dt`` is stable (undamped EX with ``A > 0``).
    ``scheme`` may also be a mode spelling, resolved as ``Oscillator`` does.
    """
    if not isinstance(scheme, Scheme):
        scheme = resolve_scheme(scheme, damped=G is not None)
    A = np.asarray(A, dtype=np.float64)
    G = np.zeros_like(A) if G is None else np.asarray(G, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if scheme in (Scheme.IM, Scheme.DAMPED_IM):
            return np.full(A.shape, np.inf)
        if scheme is Scheme.IMEX:
            return np.where(A > 0, 2.0 / np.sqrt(A), np.inf)
        if scheme is Scheme.DAMPED_IMEX1:
            return np.where(A > 0, (G + np.sqrt(G * G + 4.0 * A)) / A, np.inf)
        if scheme is Scheme.DAMPED_IMEX2:
            bound = 4.0 / (G + np.sqrt(G * G + 4.0 * A))
            return np.where((A > 0) | (G > 0), bound, np.inf)
        # EX: dt <= G / A and A dt^2 - 2 G dt + 4 > 0.
        disc = G * G - 4.0 * A
        smaller_root = 4.0 / (G + np.sqrt(np.maximum(disc, 0.0)))
        ex = np.where(disc >= 0.0, smaller_root, G / np.where(A > 0, A, 1.0))
        ex = np.where(A > 0, ex, np.where(G > 0, 2.0 / G, np.inf))
        return np.where((A > 0) & (G == 0), 0.0, ex)


def _conditions(
    scheme: Scheme, A: FloatArray, G: FloatArray, dt: FloatArray
) -> list[tuple[str, FloatArray, FloatArray, bool]]:
    """(inequality, lhs, rhs, strict) for each condition of the stable region."""
    dt2A = dt * dt * A
    dtG = dt * G
    four = np.full(A.shape, 4.0)
    if scheme is Scheme.IMEX:
        return [("dt^2 A < 4", dt2A, four, True)]
    if scheme is Scheme.DAMPED_IMEX1:
        return [("dt^2 A < 4 + 2 dt G", dt2A, 4.0 + 2.0 * dtG, True)]
    if scheme is Scheme.DAMPED_IMEX2:
        return [("dt^2 A + 2 dt G < 4", dt2A + 2.0 * dtG, four, True)]
    if scheme is Scheme.DAMPED_EX:
        return [
            ("dt A <= G", dt * A, G, False),
            ("2 dt G < 4 + dt^2 A", 2.0 * dtG, 4.0 + dt2A, True),
        ]
    return []


def stability_violation(
    scheme: Scheme, A: FloatArray, G: FloatArray | None, dt: float | FloatArray
) -> str | None:
    """None when stable, else a sentence naming the oscillator, inequality and a fix."""
    G_arr = np.zeros_like(A) if G is None else G
    dt_arr = np.broadcast_to(np.asarray(dt, dtype=np.float64), A.shape)
    for text, lhs, rhs, strict in _conditions(scheme, A, G_arr, dt_arr):
        bad = lhs >= rhs if strict else lhs > rhs
        if not bad.any():
            continue
        i = int(np.argmax(bad))
        limits = max_stable_dt(scheme, A, G_arr)
        limit = float(np.min(limits))
        if limit > 0.0:
            fix = f"a dt below {limit!r}, for example {0.9 * limit!r}, is stable for every oscillator"
        else:
            fix = "no dt is stable: add damping (EX needs G >= dt A) or use an implicit scheme"
        return (
            f"{scheme.value} is unstable for oscillator {i}: {text} fails with "
            f"dt={float(dt_arr[i])!r}, A={float(A[i])!r}, G={float(G_arr[i])!r} "
            f"({float(lhs[i])!r} vs {float(rhs[i])!r}); {fix}"
        )
    return None


def check_stable(
    scheme: Scheme, A: FloatArray, G: FloatArray | None, dt: float | FloatArray
) -> None:
    """Raise ``UnstableSchemeError`` when the parameters are outside the region."""
    problem = stability_violation(scheme, A, G, dt)
    if problem is not None:
        raise UnstableSchemeError(
            problem + " (or pass allow_unstable=True)", argument="dt", value=dt
        )


def _flat_parameter(name: str, value: Any) -> FloatArray:
    arr = v.finite_array(name, value)
    if arr.ndim == 0:
        return arr.reshape(1).copy()
    if arr.ndim == 1:
        return arr.copy()
    if arr.ndim == 2 and arr.shape[0] == arr.shape[1]:
        return v.diagonal_vector(name, arr, arr.shape[0])
    raise InvalidShapeError(
        f"{name} must be scalar, a vector, or a diagonal square matrix; got shape "
        f"{arr.shape}",
        argument=name,
    )


def is_stable(
    A: Any, G: Any | None = None, dt: Any | None = None, mode: Any = "implicit"
) -> tuple[bool, str]:
    """Whether ``(A, G, dt)`` lies in the stable region of ``mode``, and why.

    Same call as linoss-dynamics 0.2 and every scheme of this package. ``dt``
    may be omitted for the unconditionally stable implicit schemes. Negative
    ``A`` or ``G`` and a bad ``dt`` give ``(False, reason)``; malformed arrays
    raise the package's typed errors.
    """
    scheme = resolve_scheme(mode, damped=G is not None)
    A_vec = _flat_parameter("A", A)
    G_vec = None if G is None else v.diagonal_vector("G", G, A_vec.size)
    if G_vec is None and scheme.damped:
        G_vec = np.zeros_like(A_vec)
    if A_vec.size == 0:
        return True, "no oscillators: nothing can grow"
    if (A_vec < 0).any():
        i = int(np.argmax(A_vec < 0))
        return False, f"A must be non-negative; A[{i}] = {float(A_vec[i])!r}"
    if G_vec is not None and (G_vec < 0).any():
        i = int(np.argmax(G_vec < 0))
        return False, f"G must be non-negative; G[{i}] = {float(G_vec[i])!r}"
    unconditional = scheme in (Scheme.IM, Scheme.DAMPED_IM)
    if dt is None:
        if unconditional:
            return True, f"{scheme.value} is stable for every dt > 0 when A, G >= 0"
        return False, f"{scheme.value} is stable only for some dt: pass dt to check it"
    try:
        dt_vec = v.dt_array(dt, A_vec.size)
    except LinOSSError as exc:
        return False, str(exc)
    if unconditional:
        return True, f"{scheme.value} is stable for every dt > 0 when A, G >= 0"
    problem = stability_violation(scheme, A_vec, G_vec, dt_vec)
    if problem is not None:
        return False, problem
    return (
        True,
        f"{scheme.value} is stable: {STABLE_REGION[scheme]} holds for all "
        f"{A_vec.size} oscillators",
    )


@dataclasses.dataclass(frozen=True)
class SpectralAnalysis:
    """Per-oscillator spectral view of one scheme at one ``dt``.

    Attributes:
        matrices: Transition matrices ``M``, shape (P, 2, 2), acting on ``(y, z)``.
        eigenvalues: Eigenvalues of each ``M``, shape (P, 2), larger modulus first.
        spectral_radius: ``max |eigenvalue|`` per oscillator, shape (P,).
        natural_frequency: Continuous-time ``sqrt(A)`` (rad per unit time).
        damping_ratio: Continuous-time ``G / (2 sqrt(A))`` (``inf`` at ``A = 0``
            with ``G > 0``, ``nan`` at ``A = G = 0``).
        discrete_frequency: ``|Im s|`` with ``s = log(eigenvalue) / dt``: the
            angular frequency the discrete scheme actually oscillates at.
        discrete_damping_ratio: ``-Re s / |s|`` of the same ``s``.
        stable: Whether every oscillator is inside the scheme's stable region.
    """

    matrices: FloatArray
    eigenvalues: np.ndarray
    spectral_radius: FloatArray
    natural_frequency: FloatArray
    damping_ratio: FloatArray
    discrete_frequency: FloatArray
    discrete_damping_ratio: FloatArray
    stable: bool


def spectral_analysis(
    scheme: Scheme, A: FloatArray, G: FloatArray | None, dt: float | FloatArray
) -> SpectralAnalysis:
    """Spectral analysis of validated parameters (see ``Oscillator.analysis``)."""
    M = transition_matrices(scheme, A, G, dt)
    lam = eigenvalues(M)
    G_arr = np.zeros_like(A) if G is None else G
    dt_arr = np.broadcast_to(np.asarray(dt, dtype=np.float64), A.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.log(lam[:, 0]) / dt_arr
        modulus = np.abs(s)
        discrete_ratio = np.where(modulus > 0, -s.real / modulus, np.nan)
        ratio = G_arr / (2.0 * np.sqrt(A))
    return SpectralAnalysis(
        matrices=M,
        eigenvalues=lam,
        spectral_radius=np.abs(lam[:, 0]),
        natural_frequency=np.sqrt(A),
        damping_ratio=ratio,
        discrete_frequency=np.abs(s.imag),
        discrete_damping_ratio=discrete_ratio,
        stable=stability_violation(scheme, A, G, dt) is None,
    )
