"""The discretization schemes: one kernel per scheme, with its exact operation order.

A bank of P independent oscillators, position ``y`` and velocity ``z``, obeys

    y'' = -A y - G y' + F,        F = B u,       A >= 0,  G >= 0.

Each scheme below advances ``(y, z)`` by one step ``dt`` as ``x' = M x + f`` with
a 2x2 matrix ``M`` per oscillator (``x = (y, z)``). Primes are new values.

Why the operation order is fixed
--------------------------------
Floating-point addition and multiplication are not associative, so the same
algebra evaluated in two orders gives two sets of bytes. Every kernel below
evaluates its formula in one documented order, using only correctly rounded
IEEE-754 float64 operations (``+ - * /``) applied elementwise, so the result is
identical on every CPU, NumPy build and thread count. Coefficients that do not
depend on the state are computed once, in the order written, when the kernel is
built; the kernel applies them in the order written. Changing either order
changes recorded bytes: the golden vectors in ``tests/`` pin them.

The undamped IM, undamped IMEX, damped IM and damped IMEX1 orders are those of
linoss-dynamics 0.2, whose results these kernels reproduce bit for bit. Note
that 0.2's undamped IM and its damped IM at ``G = 0`` are two different orders
of the same algebra and differ by about one ULP; both are kept, so that each 0.2
entry point keeps its bytes.

Squaring ``dt``: 0.2 computes ``dt**2`` with the C library's ``pow``, which is
not correctly rounded (on glibc about one ``dt`` in a thousand squares one ULP
off ``dt * dt``) and may differ between C libraries. Kernels built for
``Oscillator`` square with one multiplication, ``dt * dt``, which is portable;
the 0.2 compatibility functions pass ``dt_squared=dt**2`` to keep 0.2's bytes on
the platform they run on. The two agree whenever the platform's ``pow`` squares
``dt`` exactly, which is every ``dt`` in the usual decimal forms (0.1, 0.01, ...).

The forcing ``f`` handed to a kernel is ``F`` already computed (an array, a
Python float broadcast to every oscillator) or ``None`` for no input. ``None``
adds ``+0.0`` where ``F`` would be added, exactly as adding ``dt * 0`` does in
0.2, so an unforced step has the bytes of a step with ``F = 0`` (this matters
for signed zeros only: ``-0.0 + 0.0`` is ``+0.0``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, Final

import numpy as np

from ._typing import FloatArray
from .errors import UnsupportedModeError

__all__ = ["Kernel", "Scheme", "make_kernel", "resolve_scheme"]

Kernel = Callable[
    [FloatArray, FloatArray, Any, FloatArray, FloatArray, FloatArray], None
]
"""``kernel(y, z, f, y_out, z_out, scratch)`` writes one step into ``y_out, z_out``.

``y_out``, ``z_out`` and ``scratch`` must not alias ``y`` or ``z``; ``scratch``
has the shape of the state and its contents are discarded.
"""


class Scheme(str, enum.Enum):
    """The discretization schemes, named after the LinOSS and D-LinOSS papers."""

    IM = "im"
    """LinOSS implicit (undamped): z' = z + dt (-A y' + F), y' = y + dt z'."""

    IMEX = "imex"
    """LinOSS implicit-explicit, symplectic Euler: z' = z + dt (-A y + F), y' = y + dt z'."""

    DAMPED_IM = "damped_im"
    """D-LinOSS implicit: z' = z + dt (-A y' - G z' + F), y' = y + dt z'."""

    DAMPED_IMEX1 = "damped_imex1"
    """D-LinOSS IMEX1, damping on the new velocity: z' = z + dt (-A y - G z' + F)."""

    DAMPED_IMEX2 = "damped_imex2"
    """D-LinOSS IMEX2, damping on the old velocity: z' = z + dt (-A y - G z + F)."""

    DAMPED_EX = "damped_ex"
    """Fully explicit: z' = z + dt (-A y - G z + F), y' = y + dt z (old z)."""

    @property
    def damped(self) -> bool:
        """Whether the scheme has a damping term ``G``."""
        return self not in (Scheme.IM, Scheme.IMEX)

    @property
    def compat_mode(self) -> str:
        """The ``mode`` string the 0.2 functions report in their metrics."""
        return _COMPAT_MODE[self]


_COMPAT_MODE: Final = {
    Scheme.IM: "implicit",
    Scheme.DAMPED_IM: "implicit",
    Scheme.IMEX: "implicit_explicit",
    Scheme.DAMPED_IMEX1: "implicit_explicit",
    Scheme.DAMPED_IMEX2: "implicit_explicit2",
    Scheme.DAMPED_EX: "explicit",
}

# Mode spellings (lower case, '-' read as '_') -> (undamped scheme, damped scheme).
# A spelling that names a damped-only scheme maps to it in both columns: such a
# scheme run without G runs with G = 0.
_MODE_ALIASES: Final = {
    "im": (Scheme.IM, Scheme.DAMPED_IM),
    "implicit": (Scheme.IM, Scheme.DAMPED_IM),
    "imex": (Scheme.IMEX, Scheme.DAMPED_IMEX1),
    "implicit_explicit": (Scheme.IMEX, Scheme.DAMPED_IMEX1),
    "imex1": (Scheme.DAMPED_IMEX1, Scheme.DAMPED_IMEX1),
    "implicit_explicit1": (Scheme.DAMPED_IMEX1, Scheme.DAMPED_IMEX1),
    "imex2": (Scheme.DAMPED_IMEX2, Scheme.DAMPED_IMEX2),
    "implicit_explicit2": (Scheme.DAMPED_IMEX2, Scheme.DAMPED_IMEX2),
    "ex": (Scheme.DAMPED_EX, Scheme.DAMPED_EX),
    "explicit": (Scheme.DAMPED_EX, Scheme.DAMPED_EX),
    "damped_im": (Scheme.DAMPED_IM, Scheme.DAMPED_IM),
    "damped_imex1": (Scheme.DAMPED_IMEX1, Scheme.DAMPED_IMEX1),
    "damped_imex2": (Scheme.DAMPED_IMEX2, Scheme.DAMPED_IMEX2),
    "damped_ex": (Scheme.DAMPED_EX, Scheme.DAMPED_EX),
}


def resolve_scheme(mode: Any, *, damped: bool) -> Scheme:
    """The scheme a ``mode`` names, given whether damping ``G`` was supplied.

    ``mode`` is a ``Scheme`` or a case-insensitive spelling: ``"im"`` /
    ``"implicit"``, ``"imex"`` / ``"implicit_explicit"`` (IMEX1 when damped),
    ``"imex1"``, ``"imex2"``, ``"ex"`` / ``"explicit"``, or a ``Scheme`` value.
    ``None`` or ``""`` means implicit, as in 0.2.
    """
    if isinstance(mode, Scheme):
        if mode.damped or not damped:
            return mode
        return Scheme.DAMPED_IM if mode is Scheme.IM else Scheme.DAMPED_IMEX1
    if mode is None or mode == "":
        key = "implicit"
    elif isinstance(mode, str):
        key = mode.lower().replace("-", "_")
    else:
        key = ""
    try:
        undamped, with_damping = _MODE_ALIASES[key]
    except KeyError:
        allowed = ", ".join(sorted(_MODE_ALIASES))
        raise UnsupportedModeError(
            f"Unsupported LinOSS mode: {mode!r}; expected one of {allowed}",
            argument="mode",
            value=mode,
        ) from None
    return with_damping if damped else undamped


def make_kernel(
    scheme: Scheme,
    A: FloatArray,
    G: FloatArray | None,
    dt: float | FloatArray,
    *,
    dt_squared: float | FloatArray | None = None,
) -> Kernel:
    """Build the kernel of ``scheme`` for validated parameters.

    Args:
        scheme: The scheme.
        A: Stiffness, shape (P,), non-negative and finite.
        G: Damping, shape (P,), non-negative and finite; ignored by the undamped
            schemes, required by the damped ones.
        dt: Time step, a Python float or shape (P,), positive and finite.
        dt_squared: ``dt**2`` as the caller wants it rounded; ``dt * dt`` when
            omitted (see the module docs for why 0.2 compatibility passes it).

    Returns:
        The kernel, with every state-independent coefficient computed once.
    """
    dt2 = dt * dt if dt_squared is None else dt_squared
    # The kernels take array operands only: a NumPy ufunc with a Python float
    # operand costs half again as much per call, and an elementwise product
    # with a constant array has the bytes of the product with the scalar.
    dt = np.broadcast_to(np.asarray(dt, dtype=np.float64), A.shape).copy()
    dt2 = np.broadcast_to(np.asarray(dt2, dtype=np.float64), A.shape).copy()
    if scheme is Scheme.IM:
        return _implicit_undamped(A, dt, dt2)
    if scheme is Scheme.IMEX:
        return _velocity_first(A, dt, None)
    assert G is not None, "damped schemes need G"
    if scheme is Scheme.DAMPED_IM:
        return _velocity_first(A, dt, 1.0 + dt * G + dt2 * A)
    if scheme is Scheme.DAMPED_IMEX1:
        return _velocity_first(A, dt, 1.0 + dt * G)
    if scheme is Scheme.DAMPED_IMEX2:
        return _old_velocity_damped(A, G, dt, explicit_position=False)
    if scheme is Scheme.DAMPED_EX:
        return _old_velocity_damped(A, G, dt, explicit_position=True)
    raise UnsupportedModeError(
        f"Unsupported LinOSS mode: {scheme!r}"
    )  # pragma: no cover


# Kernels pass the output array positionally: NumPy parses it faster than the
# ``out=`` keyword, which is a measurable share of a ufunc call on 64 floats.
_mul = np.multiply
_add = np.add
_sub = np.subtract
_div = np.divide


def _implicit_undamped(A: FloatArray, dt: Any, dt2: Any) -> Kernel:
    """LinOSS IM, the 0.2 ``linoss_step(mode="implicit")`` order.

    With ``S = 1 / (1 + dt^2 A)`` (the Schur complement of the implicit system):

        M = [[ S,          dt S ],        f = [ dt^2 S F ]
             [ -dt A S,    S    ]],           [ dt S F   ]

    Operation order (each line one rounding step, left to right):

        S   = 1 / (1 + (dt2 * A))
        z'  = ((S * z) - (((dt * A) * S) * y)) + ((dt * S) * F)
        y'  = ((S * y) + ((dt * S) * z)) + ((dt2 * S) * F)

    Stable (spectral radius ``sqrt(S) <= 1``) for every ``A >= 0`` and ``dt > 0``.
    """
    S = 1.0 / (1.0 + dt2 * A)
    zero = np.zeros_like(A)
    dtAS = dt * A * S
    dtS = dt * S
    dt2S = dt2 * S

    def kernel(
        y: FloatArray,
        z: FloatArray,
        f: Any,
        yo: FloatArray,
        zo: FloatArray,
        t: FloatArray,
    ) -> None:
        _mul(S, z, zo)
        _mul(dtAS, y, t)
        _sub(zo, t, zo)
        if f is None:
            _add(zo, zero, zo)
        else:
            _mul(dtS, f, t)
            _add(zo, t, zo)
        _mul(S, y, yo)
        _mul(dtS, z, t)
        _add(yo, t, yo)
        if f is None:
            _add(yo, zero, yo)
        else:
            _mul(dt2S, f, t)
            _add(yo, t, yo)

    return kernel


def _velocity_first(A: FloatArray, dt: Any, D: FloatArray | None) -> Kernel:
    """Schemes that update the velocity first and then the position with it.

    Undamped IMEX (``D`` is None), damped IM (``D = 1 + dt G + dt^2 A``) and
    damped IMEX1 (``D = 1 + dt G``), the 0.2 orders:

        D   = (1 + (dt * G)) + (dt2 * A)         damped IM
        D   = 1 + (dt * G)                       damped IMEX1
        z'  = ((z - ((dt * A) * y)) + (dt * F)) / D     (no division for IMEX)
        y'  = y + (dt * z')

    Transition matrices (``D = 1`` for IMEX):

        M = [[ 1 - dt^2 A / D,   dt / D ],
             [ -dt A / D,        1 / D  ]],       det M = 1 / D

    IMEX is stable while ``dt^2 A < 4`` (``det M = 1``: energy is conserved in a
    modified norm, never dissipated); damped IM for every ``A, G >= 0``; damped
    IMEX1 while ``dt^2 A < 4 + 2 dt G``.
    """
    dtA = dt * A
    zero = np.zeros_like(A)

    def kernel(
        y: FloatArray,
        z: FloatArray,
        f: Any,
        yo: FloatArray,
        zo: FloatArray,
        t: FloatArray,
    ) -> None:
        _mul(dtA, y, t)
        _sub(z, t, zo)
        if f is None:
            _add(zo, zero, zo)
        else:
            _mul(dt, f, t)
            _add(zo, t, zo)
        if D is not None:
            _div(zo, D, zo)
        _mul(dt, zo, t)
        _add(y, t, yo)

    return kernel


def _old_velocity_damped(
    A: FloatArray, G: FloatArray, dt: Any, *, explicit_position: bool
) -> Kernel:
    """Damped IMEX2 and EX: damping applied to the old velocity.

    Operation order (chosen here; there is no 0.2 version to match):

        C   = 1 - (dt * G)
        z'  = ((C * z) - ((dt * A) * y)) + (dt * F)
        y'  = y + (dt * z')      IMEX2
        y'  = y + (dt * z)       EX (old velocity)

    At ``G = 0``, ``C = 1`` and IMEX2 gives the bytes of undamped IMEX.

    Transition matrices:

        IMEX2: M = [[ 1 - dt^2 A,  dt (1 - dt G) ],   det M = 1 - dt G
                    [ -dt A,       1 - dt G      ]]
        EX:    M = [[ 1,           dt            ],   det M = 1 - dt G + dt^2 A
                    [ -dt A,       1 - dt G      ]]

    IMEX2 is stable while ``dt^2 A + 2 dt G < 4``; EX while ``dt A <= G`` and
    ``2 dt G < 4 + dt^2 A`` (so undamped EX is unstable for any ``A > 0``).
    """
    C = 1.0 - dt * G
    dtA = dt * A
    zero = np.zeros_like(A)

    def kernel(
        y: FloatArray,
        z: FloatArray,
        f: Any,
        yo: FloatArray,
        zo: FloatArray,
        t: FloatArray,
    ) -> None:
        if explicit_position:
            _mul(dt, z, t)
            _add(y, t, yo)
        _mul(C, z, zo)
        _mul(dtA, y, t)
        _sub(zo, t, zo)
        if f is None:
            _add(zo, zero, zo)
        else:
            _mul(dt, f, t)
            _add(zo, t, zo)
        if not explicit_position:
            _mul(dt, zo, t)
            _add(y, t, yo)

    return kernel
