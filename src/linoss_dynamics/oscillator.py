"""``Oscillator``: a validated, immutable bank of P oscillators with fast step and scan."""

from __future__ import annotations

import math
import threading
from typing import Any, Final

import numpy as np

from . import _validate as v
from ._forcing import ordered_matvec
from ._typing import FloatArray
from .energy import bank_energy
from .errors import InvalidShapeError, NonFiniteStateError
from .schemes import Kernel, Scheme, make_kernel, resolve_scheme
from .stability import SpectralAnalysis, check_stable, spectral_analysis

__all__ = ["Oscillator"]

_F64: Final = np.dtype(np.float64)
# Scan precomputes the forcing of this many floats at a time (32 MiB): large
# enough to amortise the call overhead, small enough to bound the temporaries.
_FORCING_CHUNK_FLOATS: Final = 1 << 22


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Final = _Unset()


class Oscillator:
    """A bank of P forced, optionally damped oscillators, discretized by one scheme.

    ``y'' = -A y - G y' + B u``, advanced with step ``dt`` by ``scheme`` (see
    ``linoss_dynamics.schemes`` for each scheme's equations, operation order and
    stable region). Everything is validated once, here; the coefficients of the
    scheme are computed once; the object cannot be changed afterwards (use
    ``with_params`` to derive another).

    Args:
        A: Stiffness, ``A >= 0``: a length-P vector or a P x P diagonal matrix.
            P, the number of oscillators, is its length.
        dt: Time step, ``> 0``: a scalar or one per oscillator (length P).
        G: Damping, ``G >= 0``: scalar, length P, or P x P diagonal. ``None``
            means the undamped LinOSS schemes; a damped-only ``mode`` with no
            ``G`` runs with ``G = 0``.
        mode: A ``Scheme`` or its spelling (``"im"``, ``"imex"``, ``"imex1"``,
            ``"imex2"``, ``"ex"``; ``"im"`` and ``"imex"`` become the damped IM
            and IMEX1 schemes when ``G`` is given).
        B: Input matrix. ``None``: the input ``u`` is the force itself (a scalar
            or length P). Length-P vector: ``u`` is one scalar channel. P x m
            matrix: ``u`` has length m and ``B u`` is summed over the columns in
            order, ``((B[:, 0] u[0] + B[:, 1] u[1]) + ...)``, never with BLAS.
        allow_unstable: Accept parameters outside the scheme's stable region.

    State: ``y`` and ``z`` are float64 arrays of shape (P,), or (N, P) for a
    batch of N independent banks sharing the parameters. Inputs then have a
    leading N axis too, or the unbatched shape to drive every row alike.

    Raises:
        InvalidShapeError, InvalidDtypeError, InvalidValueError,
        InvalidDampingError, UnsupportedModeError: malformed parameters.
        UnstableSchemeError: parameters outside the stable region, naming the
            oscillator, the inequality and a ``dt`` that would work.
    """

    __slots__ = (
        "_A",
        "_B",
        "_Bt",
        "_G",
        "_allow_unstable",
        "_dt",
        "_kernel",
        "_local",
        "_scheme",
        "_shape",
        "_size",
    )

    _A: FloatArray
    _B: FloatArray | None
    _Bt: FloatArray | None
    _G: FloatArray | None
    _allow_unstable: bool
    _dt: float | FloatArray
    _kernel: Kernel
    _local: threading.local
    _scheme: Scheme
    _shape: tuple[int]
    _size: int

    def __init__(
        self,
        A: Any,
        dt: Any,
        G: Any | None = None,
        mode: Any = "im",
        B: Any | None = None,
        *,
        allow_unstable: bool = False,
    ) -> None:
        scheme = resolve_scheme(mode, damped=G is not None)
        A_arr = v.finite_array("A", A)
        if A_arr.ndim not in (1, 2):
            raise InvalidShapeError(
                f"A must be a length-P vector or a PxP diagonal matrix (P = number "
                f"of oscillators); got shape {A_arr.shape}",
                argument="A",
            )
        size = A_arr.shape[0]
        if size == 0:
            raise InvalidShapeError(
                "A must describe at least one oscillator; got an empty array",
                argument="A",
            )
        A_vec = v.diagonal_vector("A", A_arr, size, allow_broadcast=False)
        v.require_non_negative("A", A_vec, "stiffness")
        G_vec: FloatArray | None = None
        if scheme.damped:
            G_vec = np.zeros(size) if G is None else v.diagonal_vector("G", G, size)
            v.require_non_negative("G", G_vec, "damping")
        dt_val = v.dt_array(dt, size)
        B_arr, Bt = _input_matrix(B, size)
        if not allow_unstable:
            check_stable(scheme, A_vec, G_vec, dt_val)

        self._set(
            A=v.frozen(A_vec),
            G=None if G_vec is None else v.frozen(G_vec),
            dt=dt_val,
            B=B_arr,
            Bt=Bt,
            scheme=scheme,
            size=size,
            shape=(size,),
            allow_unstable=bool(allow_unstable),
        )

    def _set(self, **fields: Any) -> None:
        for name, value in fields.items():
            object.__setattr__(self, "_" + name, value)
        object.__setattr__(
            self, "_kernel", make_kernel(self._scheme, self._A, self._G, self._dt)
        )
        object.__setattr__(self, "_local", threading.local())

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"Oscillator is immutable; use with_params() to change {name}"
        )

    @classmethod
    def from_frequency_damping(
        cls,
        omega: Any,
        zeta: Any,
        dt: Any,
        mode: Any = "im",
        B: Any | None = None,
        *,
        allow_unstable: bool = False,
    ) -> Oscillator:
        """Build from natural frequency ``omega`` and damping ratio ``zeta``.

        ``A = omega**2`` and ``G = 2 zeta omega`` (the full coefficient of ``y'``).
        """
        omega_arr = v.finite_array("omega", omega)
        zeta_arr = v.finite_array("zeta", zeta)
        v.require_non_negative("omega", omega_arr, "frequency")
        v.require_non_negative("zeta", zeta_arr, "damping ratio")
        return cls(
            omega_arr * omega_arr,
            dt,
            G=2.0 * zeta_arr * omega_arr,
            mode=mode,
            B=B,
            allow_unstable=allow_unstable,
        )

    def with_params(
        self,
        *,
        A: Any = _UNSET,
        dt: Any = _UNSET,
        G: Any = _UNSET,
        mode: Any = _UNSET,
        B: Any = _UNSET,
        allow_unstable: Any = _UNSET,
    ) -> Oscillator:
        """A new ``Oscillator`` with some parameters replaced, validated again."""
        return Oscillator(
            self._A if A is _UNSET else A,
            self._dt if dt is _UNSET else dt,
            G=self._G if G is _UNSET else G,
            mode=self._scheme if mode is _UNSET else mode,
            B=self._B if B is _UNSET else B,
            allow_unstable=(
                self._allow_unstable if allow_unstable is _UNSET else allow_unstable
            ),
        )

    # -- parameters ---------------------------------------------------------

    @property
    def A(self) -> FloatArray:
        """Stiffness, shape (P,), read-only."""
        return self._A

    @property
    def G(self) -> FloatArray | None:
        """Damping, shape (P,), read-only; ``None`` for the undamped schemes."""
        return self._G

    @property
    def dt(self) -> float | FloatArray:
        """Time step: a float, or shape (P,) read-only."""
        return self._dt

    @property
    def B(self) -> FloatArray | None:
        """Input matrix as given (shape (P,) or (P, m)), read-only, or ``None``."""
        return self._B

    @property
    def scheme(self) -> Scheme:
        """The discretization scheme."""
        return self._scheme

    @property
    def size(self) -> int:
        """P, the number of oscillators."""
        return self._size

    @property
    def allow_unstable(self) -> bool:
        """Whether parameters outside the stable region were accepted."""
        return self._allow_unstable

    def __repr__(self) -> str:
        dt = (
            self._dt
            if isinstance(self._dt, float)
            else f"array(shape={self._dt.shape})"
        )
        B = None if self._B is None else f"array(shape={self._B.shape})"
        return (
            f"Oscillator(P={self._size}, scheme={self._scheme.value}, dt={dt}, "
            f"damped={self._G is not None}, B={B})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Oscillator):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[Any, ...]:
        def raw(a: Any) -> Any:
            return None if a is None else (np.shape(a), np.asarray(a).tobytes())

        return (
            self._scheme,
            raw(self._A),
            raw(self._G),
            raw(self._dt),
            raw(self._B),
            self._allow_unstable,
        )

    # -- dynamics -----------------------------------------------------------

    def step(
        self, y: Any, z: Any, u: Any | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Advance the bank one step; returns new arrays ``(y_next, z_next)``.

        Pure: the inputs are not modified. Shapes and dtypes are checked (cheap);
        values are not scanned on this hot path, so a non-finite input gives a
        non-finite output. ``scan`` checks its inputs once, and the 0.2
        functions check every call. Bytes equal ``linoss_step`` /
        ``damped_linoss_step`` on the same inputs (see ``schemes`` for the one
        documented exception, a platform ``pow`` that misrounds ``dt**2``).
        """
        # Fast path: one bank of float64 arrays skips the general checks.
        shape = self._shape
        if not (
            type(y) is np.ndarray
            and type(z) is np.ndarray
            and y.dtype is _F64
            and z.dtype is _F64
            and y.shape == shape
            and z.shape == shape
        ):
            y = self._state("y", y)
            z = self._state("z", z)
            shape = y.shape
            if shape != z.shape:
                raise InvalidShapeError(
                    f"y and z must have the same shape, got {y.shape} and {z.shape}",
                    argument="z",
                )
        # The usual input (the force itself, one float64 array per oscillator) is
        # recognised here; everything else goes through the general check.
        if u is None:
            f = None
        elif (
            type(u) is np.ndarray
            and u.shape == shape
            and u.dtype is _F64
            and self._B is None
        ):
            f = u
        else:
            f = self._forcing(u, shape)
        y_next = np.empty(shape)
        z_next = np.empty(shape)
        self._kernel(y, z, f, y_next, z_next, self._scratch(shape))
        return y_next, z_next

    def _scratch(self, shape: tuple[int, ...]) -> FloatArray:
        """A scratch array for one kernel call, kept per thread for one bank.

        Kernels write their scratch before reading it, so its contents never
        reach a result; keeping one per thread saves an allocation per step
        while calls from different threads still never share one.
        """
        if shape != self._shape:
            return np.empty(shape)
        try:
            scratch: FloatArray = self._local.scratch
        except AttributeError:
            scratch = self._local.scratch = np.empty(shape)
        return scratch

    def step_into(
        self,
        y: FloatArray,
        z: FloatArray,
        u: Any,
        y_out: FloatArray,
        z_out: FloatArray,
        scratch: FloatArray,
    ) -> None:
        """``step`` writing into caller-owned arrays; for loops that own buffers.

        ``y`` and ``z`` must be float64 arrays of the state shape (checked by
        ``step``, trusted here); ``u`` is checked as in ``step``. The outputs and
        ``scratch`` have the state shape and must not overlap the inputs. The
        bytes written are those ``step`` returns.
        """
        f = self._forcing(u, y.shape)
        self._kernel(y, z, f, y_out, z_out, scratch)

    def scan(self, U: Any, y0: Any, z0: Any) -> tuple[FloatArray, FloatArray]:
        """Run the recurrence over a sequence of inputs.

        Byte-identical to calling ``step`` in a loop (the same kernel, the same
        forcing arithmetic), with preallocated outputs.

        Args:
            U: Inputs, one per step along the first axis: shape (L,) + the shape
                ``step`` accepts for ``u``. ``None`` is not allowed here; pass
                zeros for an unforced run of known length.
            y0, z0: Initial state, shape (P,) or (N, P), finite.

        Returns:
            ``(Y, Z)``, each of shape (L,) + state shape: the states after each
            step (the initial state is not repeated).

        Raises:
            NonFiniteStateError: the state overflowed; ``.step`` is the first
                step whose result is not finite.
        """
        y0 = v.finite_array("y0", self._state("y0", y0))
        z0 = v.finite_array("z0", self._state("z0", z0))
        if y0.shape != z0.shape:
            raise InvalidShapeError(
                f"y0 and z0 must have the same shape, got {y0.shape} and {z0.shape}",
                argument="z0",
            )
        U_arr = v.finite_array("U", U)
        if U_arr.ndim == 0:
            raise InvalidShapeError(
                "U must have a leading time axis (one input per step); got a scalar",
                argument="U",
            )
        length = U_arr.shape[0]
        shape = y0.shape
        Y = np.empty((length, *shape))
        Z = np.empty((length, *shape))
        if length == 0:
            self._forces(U_arr, shape)  # still reject a malformed U
            return Y, Z

        kernel = self._kernel
        scratch = np.empty(shape)
        chunk = max(
            1, _FORCING_CHUNK_FLOATS // max(1, self._forcing_floats(U_arr, shape))
        )
        y, z = y0, z0
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, length, chunk):
                F = self._forces(U_arr[start : start + chunk], shape)
                stop = start + len(F)
                # Iterating rows yields views faster than indexing them.
                for y_out, z_out, f in zip(
                    Y[start:stop], Z[start:stop], F, strict=True
                ):
                    kernel(y, z, f, y_out, z_out, scratch)
                    y, z = y_out, z_out
        if not (np.isfinite(Y[-1]).all() and np.isfinite(Z[-1]).all()):
            axes = tuple(range(1, Y.ndim))
            bad = ~(np.isfinite(Y).all(axis=axes) & np.isfinite(Z).all(axis=axes))
            first = int(np.argmax(bad))
            raise NonFiniteStateError(
                f"state must remain finite; step {first} overflowed (the parameters "
                "are outside the stable region, or the input is too large)",
                argument="U",
                step=first,
            )
        return Y, Z

    def energy(self, y: Any, z: Any) -> float | FloatArray:
        """``1/2 sum(A y^2 + z^2)``, exactly rounded (see ``linoss_dynamics.energy``).

        A float for a state of shape (P,); one float per row, shape (N,), for a
        batch. Non-finite values give a non-finite energy.
        """
        y = self._state("y", y)
        z = self._state("z", z)
        if y.shape != z.shape:
            raise InvalidShapeError(
                f"y and z must have the same shape, got {y.shape} and {z.shape}",
                argument="z",
            )
        return bank_energy(self._A, y, z)

    def analysis(self) -> SpectralAnalysis:
        """Transition matrices, eigenvalues, spectral radius, frequencies, damping."""
        return spectral_analysis(self._scheme, self._A, self._G, self._dt)

    # -- input checking -----------------------------------------------------

    def _state(self, name: str, value: Any) -> FloatArray:
        if type(value) is not np.ndarray or value.dtype != _F64:
            value = v.real_array(name, value)
        if value.ndim not in (1, 2) or value.shape[-1] != self._size:
            raise InvalidShapeError(
                f"{name} must have shape ({self._size},) or (N, {self._size}); got "
                f"{value.shape}",
                argument=name,
            )
        return value

    def _input_shapes(
        self, state_shape: tuple[int, ...]
    ) -> tuple[tuple[int, ...], ...]:
        """The shapes ``u`` may have for a state of ``state_shape``."""
        batch = state_shape[:-1]
        if self._B is None:
            return ((), (self._size,), state_shape)
        if self._Bt is None:
            return ((), batch) if batch else ((),)
        m = self._Bt.shape[0]
        return ((m,), (*batch, m))

    def _bad_input(
        self, name: str, shape: tuple[int, ...], state: tuple[int, ...]
    ) -> InvalidShapeError:
        allowed = " or ".join(str(s) for s in dict.fromkeys(self._input_shapes(state)))
        meaning = (
            "the force itself"
            if self._B is None
            else "one scalar channel for vector B"
            if self._Bt is None
            else "one value per column of B"
        )
        return InvalidShapeError(
            f"{name} must have shape {allowed} ({meaning}, state shape {state}); got "
            f"{shape}",
            argument=name,
        )

    def _forcing(self, u: Any, state_shape: tuple[int, ...]) -> Any:
        """The forcing a kernel takes for input ``u``: None, ``u`` itself, or ``B u``."""
        if u is None:
            return None
        if (
            self._B is None
            and type(u) is np.ndarray
            and u.dtype is _F64
            and (u.shape == self._shape or u.shape == state_shape)
        ):
            return u
        return self._force(u, state_shape)

    def _force(self, u: Any, state_shape: tuple[int, ...]) -> Any:
        """The forcing ``F`` of one step, in the exact arithmetic ``scan`` uses."""
        if type(u) is float:
            if self._Bt is not None:
                raise self._bad_input("u", (), state_shape)
            if not math.isfinite(u):
                v.require_finite("u", np.asarray(u))
            return u if self._B is None else np.multiply(self._B, u)
        arr = v.real_array("u", u)
        if arr.shape not in self._input_shapes(state_shape):
            raise self._bad_input("u", arr.shape, state_shape)
        if arr.ndim == 0:
            value = float(arr)
            if not math.isfinite(value):
                v.require_finite("u", arr)
            return value if self._B is None else np.multiply(self._B, value)
        return self._forces(arr[np.newaxis], state_shape)[0]

    def _forcing_floats(self, U: FloatArray, state_shape: tuple[int, ...]) -> int:
        """Floats of temporary forcing per step of ``U``."""
        per_state = int(np.prod(state_shape))
        if self._Bt is None:
            return per_state
        return per_state * self._Bt.shape[0]

    def _forces(self, U: FloatArray, state_shape: tuple[int, ...]) -> Any:
        """Forcing of consecutive steps; row ``i`` is exactly ``_force(U[i])``.

        Each element is computed by the same float64 operations in the same
        order whether one step or many are computed at once.
        """
        step_shape = U.shape[1:]
        if step_shape not in self._input_shapes(state_shape):
            raise self._bad_input("U[t]", step_shape, state_shape)
        if self._B is None:
            return U
        if self._Bt is None:
            # Scalar channel: F = B * u (per batch row when u has a batch axis).
            return np.multiply(self._B, U[..., np.newaxis])
        return ordered_matvec(self._Bt, U)


def _input_matrix(B: Any, size: int) -> tuple[FloatArray | None, FloatArray | None]:
    """Validate ``B``; returns it read-only and, for a matrix, its columns as rows."""
    if B is None:
        return None, None
    B_arr = v.finite_array("B", B)
    if B_arr.shape == (size,):
        return v.frozen(B_arr.copy()), None
    if B_arr.ndim == 2 and B_arr.shape[0] == size and B_arr.shape[1] > 0:
        return v.frozen(B_arr.copy()), v.frozen(np.ascontiguousarray(B_arr.T))
    raise InvalidShapeError(
        f"B must be length-{size} vector or matrix with {size} rows; got shape "
        f"{B_arr.shape}",
        argument="B",
    )
