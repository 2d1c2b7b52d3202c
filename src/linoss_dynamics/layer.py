"""``LinOSSLayer``: the LinOSS and D-LinOSS sequence layer as an exact reference.

The layer maps a real input sequence ``u_0, ..., u_{L-1}`` (each of length H)
to a real output sequence of the same shape through a bank of P oscillators::

    F_t   = B u_t                               complex, (P,)
    x_t   = M x_{t-1} + f(F_t)                  one step of the scheme, x = (y, z)
    out_t = Re(C y_t) + D * u_t                 real, (H,)

with ``B`` complex (P, H), ``C`` complex (H, P), ``D`` real (H,), and stiffness
``A``, damping ``G`` and step ``dt`` real per oscillator. The state starts at
zero. The readout uses the position ``y`` after the step that consumed
``u_t``: this is the convention of both the LinOSS and the D-LinOSS research
layers, whose parallel scans keep the position half of the state.

Real and imaginary channels
---------------------------
``A``, ``G`` and ``dt`` are real, so each scheme's recurrence is real-linear and
the real and imaginary parts of the state evolve independently, each driven
by its own part of ``F``. The layer therefore never forms a complex number: it
runs the core's kernel (``schemes.make_kernel``, the same one ``Oscillator``
runs) on a state of shape (2, P) whose row 0 is the real channel and row 1 the
imaginary channel. Each row gets exactly the bytes ``Oscillator.scan`` gives
for that channel's forcing.

Operation order
---------------
Every value is float64; every operation is one correctly rounded ``+ - * /``
applied elementwise, in the order below; no BLAS and no library reduction is
used, so the bytes are the same on every CPU and NumPy build.

Forcing, per channel ``c`` (re, im) and oscillator ``p``, over the columns of
``B`` in order (the order of ``_forcing.ordered_matvec``)::

    F[c, p] = ((B_c[p, 0] * u[0] + B_c[p, 1] * u[1]) + B_c[p, 2] * u[2]) + ...

Step: the scheme's kernel on each channel (``schemes`` documents each order).

Readout, per output ``h``, over the oscillators in order::

    t[h, p] = (C_re[h, p] * y_re[p]) - (C_im[h, p] * y_im[p])
    out[h]  = (((t[h, 0] + t[h, 1]) + t[h, 2]) + ... + t[h, P-1]) + (D[h] * u[h])

The first partial sum is ``t[h, 0]`` itself, not ``0 + t[h, 0]`` (the two
differ for ``-0.0``). ``t[h, p]`` is the real part of the complex product
``C[h, p] * y[p]``.

What it does not do
-------------------
No training, gradients, batch normalisation, GLU or dropout (the blocks around
the layer in the research models); no batch axis (run sequences one by one);
no complex ``A``, ``G`` or ``dt``; no negative damping (the D-LinOSS IM and
EX projections can produce ``G < 0``, which the core refuses);
float64 only. The training-time parameterisation is ``parameterize``, applied
only when the caller calls it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import numpy as np

from . import _validate as v
from ._typing import FloatArray
from .errors import (
    InvalidDtypeError,
    InvalidShapeError,
    InvalidValueError,
    NonFiniteStateError,
    UnsupportedModeError,
)
from .oscillator import Oscillator
from .schemes import Kernel, Scheme, make_kernel

__all__ = ["LayerState", "LinOSSLayer", "parameterize"]

# ``forward`` works through the sequence in chunks of about this many floats of
# per-step temporaries (16 MiB): enough steps to amortise the ufunc calls of the
# forcing and readout, few enough to bound memory at any L.
_CHUNK_FLOATS: Final = 1 << 21


class LayerState(NamedTuple):
    """The layer's oscillator state: position ``y`` and velocity ``z``.

    Each has shape (2, P), float64: row 0 is the real channel, row 1 the
    imaginary channel, so the complex position is ``y[0] + 1j * y[1]``.
    """

    y: FloatArray
    z: FloatArray


def _scheme(value: Any) -> Scheme:
    if isinstance(value, Scheme):
        return value
    if isinstance(value, str):
        try:
            return Scheme(value.lower().replace("-", "_"))
        except ValueError:
            pass
    allowed = ", ".join(s.value for s in Scheme)
    raise UnsupportedModeError(
        f"scheme must be one of {allowed} (or a Scheme); got {value!r}",
        argument="scheme",
        value=value,
    )


def _complex_matrix(name: str, value: Any, shape: tuple[int, ...] | None) -> Any:
    """A complex matrix as ``(real, imag)`` float64 arrays of one 2-D shape.

    Accepts a complex array, a real array (imaginary part zero) or the research
    code's layout, a real array with a trailing axis of length 2 holding the
    real and imaginary parts.
    """
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as exc:
            raise InvalidShapeError(
                f"{name} must be a rectangular array; got {type(value).__name__} "
                f"that NumPy cannot convert ({exc})",
                argument=name,
            ) from None
    if arr.dtype.kind == "c":
        if arr.ndim != 2:
            raise _matrix_shape_error(name, arr.shape, shape)
        re = arr.real.astype(np.float64)
        im = arr.imag.astype(np.float64)
    elif arr.dtype.kind in "iuf":
        arr = arr.astype(np.float64)
        if arr.ndim == 3 and arr.shape[-1] == 2:
            re, im = arr[..., 0].copy(), arr[..., 1].copy()
        elif arr.ndim == 2:
            re, im = arr.copy(), np.zeros_like(arr)
        else:
            raise _matrix_shape_error(name, arr.shape, shape)
    else:
        raise InvalidDtypeError(
            f"{name} must be complex, or real with a trailing (real, imaginary) axis "
            f"of length 2; got dtype {arr.dtype}",
            argument=name,
            value=str(arr.dtype),
        )
    if shape is not None and re.shape != shape:
        raise _matrix_shape_error(name, arr.shape, shape)
    if re.size == 0:
        raise InvalidShapeError(
            f"{name} must not be empty; got shape {arr.shape}", argument=name
        )
    v.require_finite(f"{name} (real part)", re)
    v.require_finite(f"{name} (imaginary part)", im)
    return re, im


def _matrix_shape_error(
    name: str, got: tuple[int, ...], shape: tuple[int, ...] | None
) -> InvalidShapeError:
    want = "(rows, cols)" if shape is None else str(shape)
    pairs = "(rows, cols, 2)" if shape is None else str((*shape, 2))
    return InvalidShapeError(
        f"{name} must have shape {want} (complex or real) or {pairs} (real and "
        f"imaginary parts); got {got}",
        argument=name,
    )


class LinOSSLayer:
    """One LinOSS / D-LinOSS layer: ``out_t = Re(C y_t) + D * u_t``.

    ``y_t`` is the position of P oscillators ``y'' = -A y - G y' + B u``
    discretized by ``scheme`` (see ``linoss_dynamics.schemes``), started at rest.
    The module documentation gives the exact float64 operation order; every
    result is byte-identical across CPUs and NumPy builds, and ``step`` in a
    loop gives the bytes of ``forward``.

    Args:
        A: Stiffness, ``>= 0``, shape (P,) (or P x P diagonal): the values the
            layer runs on, after any training parameterisation (``parameterize``).
        dt: Time step, ``> 0``: a scalar or shape (P,).
        B: Input matrix, shape (P, H): complex, real, or real (P, H, 2) with the
            real and imaginary parts on the last axis (the research layout).
        C: Readout, shape (H, P), in the same forms as ``B``.
        D: Skip connection, real, shape (H,).
        G: Damping, ``>= 0``, shape (P,), for the damped schemes; a damped
            scheme without ``G`` runs with ``G = 0``. Refused for ``im`` and
            ``imex``, which have no damping term.
        scheme: A ``Scheme`` or its value: ``"im"``, ``"imex"``, ``"damped_im"``,
            ``"damped_imex1"``, ``"damped_imex2"``, ``"damped_ex"``.
        allow_unstable: Accept parameters outside the scheme's stable region.

    Raises:
        InvalidShapeError, InvalidDtypeError, InvalidValueError,
        InvalidDampingError, UnsupportedModeError, UnstableSchemeError: a
            parameter is malformed; the error's ``argument`` names it.
    """

    __slots__ = (
        "_B_im",
        "_B_re",
        "_Bt",
        "_C_im",
        "_C_re",
        "_Ct_im",
        "_Ct_re",
        "_D",
        "_kernel",
        "_oscillator",
        "_size",
        "_width",
    )

    _B_im: FloatArray
    _B_re: FloatArray
    _Bt: FloatArray
    _C_im: FloatArray
    _C_re: FloatArray
    _Ct_im: FloatArray
    _Ct_re: FloatArray
    _D: FloatArray
    _kernel: Kernel
    _oscillator: Oscillator
    _size: int
    _width: int

    def __init__(
        self,
        A: Any,
        dt: Any,
        B: Any,
        C: Any,
        D: Any,
        *,
        G: Any | None = None,
        scheme: Any = Scheme.IM,
        allow_unstable: bool = False,
    ) -> None:
        resolved = _scheme(scheme)
        if G is not None and not resolved.damped:
            raise InvalidValueError(
                f"G was given but scheme {resolved.value!r} has no damping term; "
                "use a damped scheme (damped_im, damped_imex1, damped_imex2, "
                "damped_ex) or omit G",
                argument="G",
            )
        oscillator = Oscillator(
            A, dt, G=G, mode=resolved, allow_unstable=allow_unstable
        )
        size = oscillator.size
        B_re, B_im = _complex_matrix("B", B, None)
        if B_re.shape[0] != size:
            raise InvalidShapeError(
                f"B must have {size} rows (one per oscillator, P = len(A)); got "
                f"shape {np.shape(B)}",
                argument="B",
            )
        width = B_re.shape[1]
        C_re, C_im = _complex_matrix("C", C, (width, size))
        D_arr = v.finite_array("D", D)
        if D_arr.shape != (width,):
            raise InvalidShapeError(
                f"D must have shape ({width},) (one skip weight per input channel, "
                f"H = B.shape[1]); got {D_arr.shape}",
                argument="D",
            )
        # Column h of B, both channels, as one (2, P) row: the forcing loop
        # multiplies it by u[h] for every step of a chunk at once.
        Bt = np.ascontiguousarray(np.stack([B_re.T, B_im.T], axis=1))
        for name, value in (
            ("oscillator", oscillator),
            ("size", size),
            ("width", width),
            ("B_re", v.frozen(B_re)),
            ("B_im", v.frozen(B_im)),
            ("Bt", v.frozen(Bt)),
            ("C_re", v.frozen(C_re)),
            ("C_im", v.frozen(C_im)),
            ("Ct_re", v.frozen(np.ascontiguousarray(C_re.T))),
            ("Ct_im", v.frozen(np.ascontiguousarray(C_im.T))),
            ("D", v.frozen(D_arr.copy())),
            (
                "kernel",
                make_kernel(
                    oscillator.scheme, oscillator.A, oscillator.G, oscillator.dt
                ),
            ),
        ):
            object.__setattr__(self, "_" + name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"LinOSSLayer is immutable; build a new one to change {name}"
        )

    # -- parameters ---------------------------------------------------------

    @property
    def scheme(self) -> Scheme:
        """The discretization scheme."""
        return self._oscillator.scheme

    @property
    def state_size(self) -> int:
        """P, the number of oscillators."""
        return self._size

    @property
    def width(self) -> int:
        """H, the number of input (and output) channels."""
        return self._width

    @property
    def A(self) -> FloatArray:
        """Stiffness, shape (P,), read-only."""
        return self._oscillator.A

    @property
    def G(self) -> FloatArray | None:
        """Damping, shape (P,), read-only; ``None`` for ``im`` and ``imex``."""
        return self._oscillator.G

    @property
    def dt(self) -> float | FloatArray:
        """Time step: a float, or shape (P,) read-only."""
        return self._oscillator.dt

    @property
    def B(self) -> Any:
        """Input matrix as a new complex128 array, shape (P, H)."""
        return self._B_re + 1j * self._B_im

    @property
    def C(self) -> Any:
        """Readout as a new complex128 array, shape (H, P)."""
        return self._C_re + 1j * self._C_im

    @property
    def D(self) -> FloatArray:
        """Skip weights, shape (H,), read-only."""
        return self._D

    @property
    def oscillator(self) -> Oscillator:
        """The oscillator bank the layer runs (its ``B`` is ``None``: the layer
        computes the forcing itself)."""
        return self._oscillator

    def parameters(self) -> dict[str, Any]:
        """The parameters as arrays: ``A``, ``dt``, ``B``, ``C`` (complex), ``D``,
        and ``G`` for the damped schemes; ``LinOSSLayer(**p, scheme=...)`` rebuilds
        the layer."""
        params: dict[str, Any] = {
            "A": self.A.copy(),
            "dt": np.array(self.dt, dtype=np.float64),
            "B": self.B,
            "C": self.C,
            "D": self._D.copy(),
        }
        if self.G is not None:
            params["G"] = self.G.copy()
        return params

    def __repr__(self) -> str:
        return (
            f"LinOSSLayer(scheme={self.scheme.value}, P={self._size}, "
            f"H={self._width}, allow_unstable={self._oscillator.allow_unstable})"
        )

    # -- running ------------------------------------------------------------

    def initial_state(self) -> LayerState:
        """The state the layer starts from: all zeros."""
        shape = (2, self._size)
        return LayerState(np.zeros(shape), np.zeros(shape))

    def forward(self, U: Any, state: LayerState | None = None) -> FloatArray:
        """The outputs for a whole sequence, shape (L, H).

        Args:
            U: Inputs, real, shape (L, H).
            state: The state to start from; zeros (the research layers') when
                omitted.

        Raises:
            InvalidShapeError, InvalidDtypeError, InvalidValueError: ``U`` or
                ``state`` is malformed.
            NonFiniteStateError: the state overflowed.
        """
        return self.run(U, state)[0]

    def run(
        self, U: Any, state: LayerState | None = None
    ) -> tuple[FloatArray, LayerState]:
        """``forward`` that also returns the state after the last step."""
        U_arr = self._inputs(U)
        y, z = self._start(state)
        length, size, width = U_arr.shape[0], self._size, self._width
        out = np.empty((length, width))
        chunk = max(1, min(length, _CHUNK_FLOATS // (8 * size + 3 * width)))
        F = np.empty((chunk, 2, size))
        Y = np.empty((chunk, 2, size))
        Z = np.empty((chunk, 2, size))
        work = np.empty((chunk, 2, size))
        scratch = np.empty((2, size))
        terms = np.empty((3, chunk, width))
        kernel = self._kernel
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, length, chunk):
                n = min(chunk, length - start)
                u = U_arr[start : start + n]
                self._force(u, F[:n], work[:n])
                for f, y_out, z_out in zip(F[:n], Y[:n], Z[:n], strict=True):
                    kernel(y, z, f, y_out, z_out, scratch)
                    y, z = y_out, z_out
                self._readout(Y[:n], u, out[start : start + n], terms[:, :n])
                # The next chunk overwrites Y and Z: carry the state out of them.
                y, z = y.copy(), z.copy()
        if not length:
            return out, LayerState(y.copy(), z.copy())
        if not (np.isfinite(y).all() and np.isfinite(out[-1]).all()):
            bad = ~np.isfinite(out).all(axis=1)
            first = int(np.argmax(bad)) if bad.any() else length - 1
            raise NonFiniteStateError(
                f"state must remain finite; the output of step {first} is not "
                "(the parameters are outside the stable region, or the input is "
                "too large)",
                argument="U",
                step=first,
            )
        return out, LayerState(y, z)

    def step(self, state: LayerState, u_t: Any) -> tuple[FloatArray, LayerState]:
        """One step for streaming: ``(out_t, next_state)``; ``state`` is unchanged.

        A ``step`` loop from ``initial_state()`` gives the bytes of ``forward``.
        ``u_t`` is real, shape (H,); non-finite values are not looked for here
        (``forward`` checks its whole input once).
        """
        y, z = self._start(state)
        u = v.real_array("u_t", u_t)
        if u.shape != (self._width,):
            raise InvalidShapeError(
                f"u_t must have shape ({self._width},) (one value per input "
                f"channel); got {u.shape}",
                argument="u_t",
            )
        size, width = self._size, self._width
        row = u[np.newaxis]
        F = np.empty((1, 2, size))
        self._force(row, F, np.empty((1, 2, size)))
        y_next = np.empty((2, size))
        z_next = np.empty((2, size))
        self._kernel(y, z, F[0], y_next, z_next, np.empty((2, size)))
        out = np.empty((1, width))
        self._readout(y_next[np.newaxis], row, out, np.empty((3, 1, width)))
        return out[0], LayerState(y_next, z_next)

    # -- the ordered sums ---------------------------------------------------

    def _force(self, u: FloatArray, F: FloatArray, work: FloatArray) -> None:
        """``F[t] = B u[t]`` for each row of ``u`` (n, H) into ``F`` (n, 2, P)."""
        Bt = self._Bt
        np.multiply(Bt[0], u[:, 0, np.newaxis, np.newaxis], F)
        for h in range(1, self._width):
            np.multiply(Bt[h], u[:, h, np.newaxis, np.newaxis], work)
            np.add(F, work, F)

    def _readout(
        self, Y: FloatArray, u: FloatArray, out: FloatArray, terms: FloatArray
    ) -> None:
        """``out[t] = Re(C y_t) + D u_t`` for states ``Y`` (n, 2, P), inputs (n, H)."""
        re, im, acc = terms[0], terms[1], terms[2]
        Ct_re, Ct_im = self._Ct_re, self._Ct_im
        for p in range(self._size):
            np.multiply(Ct_re[p], Y[:, 0, p, np.newaxis], re)
            np.multiply(Ct_im[p], Y[:, 1, p, np.newaxis], im)
            np.subtract(re, im, acc if p == 0 else re)
            if p:
                np.add(acc, re, acc)
        np.multiply(self._D, u, re)
        np.add(acc, re, out)

    # -- input checking -----------------------------------------------------

    def _inputs(self, U: Any) -> FloatArray:
        U_arr = v.finite_array("U", U)
        if U_arr.ndim != 2 or U_arr.shape[1] != self._width:
            raise InvalidShapeError(
                f"U must have shape (L, {self._width}) (one row of H = "
                f"{self._width} inputs per step); got {U_arr.shape}",
                argument="U",
            )
        return U_arr

    def _start(self, state: LayerState | None) -> tuple[FloatArray, FloatArray]:
        if state is None:
            zeros = self.initial_state()
            return zeros.y, zeros.z
        shape = (2, self._size)
        try:
            y_raw, z_raw = state
        except (TypeError, ValueError):
            raise InvalidShapeError(
                "state must be a LayerState (y, z) of two (2, P) arrays; got "
                f"{type(state).__name__}",
                argument="state",
            ) from None
        arrays = []
        for name, value in (("state.y", y_raw), ("state.z", z_raw)):
            arr = value
            if not (type(arr) is np.ndarray and arr.dtype == np.float64):
                arr = v.real_array(name, value)
            if arr.shape != shape:
                raise InvalidShapeError(
                    f"{name} must have shape {shape} (row 0 real, row 1 imaginary "
                    f"channel); got {arr.shape}",
                    argument=name,
                )
            arrays.append(arr)
        return arrays[0], arrays[1]


# -- the training parameterisation ------------------------------------------


def _sigmoid(x: FloatArray) -> FloatArray:
    # exp of a non-positive argument only, so neither branch overflows.
    e = np.exp(-np.abs(x))
    result: FloatArray = np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))
    return result


def _relu(x: FloatArray) -> FloatArray:
    return np.maximum(x, 0.0)


def parameterize(
    scheme: Any, *, A: Any, dt: Any, G: Any | None = None
) -> dict[str, FloatArray]:
    """Map a trained layer's raw parameters to the values ``LinOSSLayer`` runs on.

    The research layers store unconstrained values and map them, on every
    forward pass, into the region where the scheme is valid. This function is
    that map, applied once, explicitly; ``LinOSSLayer`` never applies it.

    With ``s = sigmoid(dt)`` and ``relu(x) = max(x, 0)``:

    - ``im``, ``imex``: ``A = relu(A)``, ``dt = s``.
    - ``damped_imex1``: ``G = relu(G)``; ``A`` is clipped into
      ``[(2 + s G - 2 sqrt(1 + s G)) / s^2, (2 + s G + 2 sqrt(1 + s G)) / s^2]``
      as ``lo + relu(A - lo) - relu(A - hi)``.
    - ``damped_imex2``: as IMEX1 with ``s G`` replaced by ``-s G`` in the bounds
      (they exist while ``s G <= 1``; beyond, they are NaN and the layer refuses).
    - ``damped_im``: ``G = -s A + relu(G + s A)``, then ``A = G^2 / 4 + relu(A - G^2 / 4)``.
      ``G`` may come out negative, which the core does not support.
    - ``damped_ex``: ``G = s A + relu(G - s A)``, then ``A = G^2 / 4 + relu(A - G^2 / 4)``
      (with the raw ``A``: ``G`` comes out negative where raw ``A`` and ``G`` are).

    Args:
        scheme: A ``Scheme`` or its value.
        A: Raw stiffness (the research field ``A_diag``), shape (P,).
        dt: Raw time step (``steps`` or ``dt``), shape (P,), before the sigmoid.
        G: Raw damping (``G_diag``), shape (P,); required by the damped schemes.

    Returns:
        ``{"A", "dt"}`` and, for the damped schemes, ``"G"``: float64 arrays.

    The D-LinOSS projections map onto closed regions: an ``A`` clipped to its
    upper bound sits on the edge of the stable region (a double eigenvalue at
    -1), which ``LinOSSLayer`` refuses with ``UnstableSchemeError`` unless it
    is built with ``allow_unstable=True``.

    The sigmoid and square root are library functions, not elementwise
    arithmetic: their last bits may differ between platforms and from JAX.
    That is harmless for the layer's determinism, which starts from the
    parameterised values (the conformance vectors store those), but it means
    two platforms may parameterise the same raw values a few ULPs apart.
    """
    resolved = _scheme(scheme)
    raw_A = v.finite_array("A", A)
    raw_dt = v.finite_array("dt", dt)
    s = _sigmoid(raw_dt)
    if not resolved.damped:
        if G is not None:
            raise InvalidValueError(
                f"G was given but scheme {resolved.value!r} has no damping term",
                argument="G",
            )
        return {"A": _relu(raw_A), "dt": s}
    if G is None:
        raise InvalidValueError(
            f"scheme {resolved.value!r} is damped: pass the raw damping G (G_diag)",
            argument="G",
        )
    raw_G = v.finite_array("G", G)
    if resolved in (Scheme.DAMPED_IMEX1, Scheme.DAMPED_IMEX2):
        G_out = _relu(raw_G)
        sg = s * G_out if resolved is Scheme.DAMPED_IMEX1 else -(s * G_out)
        with np.errstate(invalid="ignore"):
            root = 2.0 * np.sqrt(1.0 + sg)
        s2 = s * s
        lo = (2.0 + sg - root) / s2
        hi = (2.0 + sg + root) / s2
        A_out = lo + _relu(raw_A - lo) - _relu(raw_A - hi)
    else:
        low = -(s * raw_A) if resolved is Scheme.DAMPED_IM else s * raw_A
        G_out = low + _relu(raw_G - low)
        quarter = 0.25 * (G_out * G_out)
        A_out = quarter + _relu(raw_A - quarter)
    return {"A": A_out, "dt": s, "G": G_out}


def layer_from_mapping(
    params: Mapping[str, Any], scheme: Any, *, allow_unstable: bool = False
) -> LinOSSLayer:
    """A layer from a mapping with keys ``A``, ``dt``, ``B``, ``C``, ``D`` (and ``G``).

    Raises ``InvalidShapeError`` naming the first missing key.
    """
    missing = [key for key in ("A", "dt", "B", "C", "D") if key not in params]
    if missing:
        raise InvalidShapeError(
            f"parameters must include A, dt, B, C and D (and G for a damped "
            f"scheme); missing {', '.join(missing)}",
            argument=missing[0],
        )
    G = params.get("G")
    return LinOSSLayer(
        params["A"],
        params["dt"],
        params["B"],
        params["C"],
        params["D"],
        G=G,
        scheme=scheme,
        allow_unstable=allow_unstable,
    )
