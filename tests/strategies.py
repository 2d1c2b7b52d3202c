"""Hypothesis strategies for oscillator banks, states and inputs.

Every property test draws its data from here, so "a valid bank" means the same
thing everywhere: P in 1..16 oscillators, finite float64 values of moderate
size, ``A >= 0``, ``G >= 0`` and a time step inside the stable region of the
scheme (taken from ``linoss_dynamics.max_stable_dt``).

Nonzero values smaller than ``MIN_MAGNITUDE`` are replaced by a zero of the
same sign: squares of such values underflow, and the error bounds the tests
state are relative bounds that underflow would void.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from linoss_dynamics import Oscillator, Scheme, max_stable_dt

MAX_SIZE = 16
MAX_BATCH = 4
MAX_COLUMNS = 4
MAX_STATE = 1e3
MAX_STIFFNESS = 1e4
MAX_DAMPING = 1e2
MAX_INPUT_MATRIX = 1e2
MAX_DT = 10.0
MIN_DT = 1e-3
MIN_MAGNITUDE = 1e-6

ALL_SCHEMES = tuple(Scheme)
# The schemes whose stable region is bounded in dt.
CONDITIONAL_SCHEMES = (
    Scheme.IMEX,
    Scheme.DAMPED_IMEX1,
    Scheme.DAMPED_IMEX2,
    Scheme.DAMPED_EX,
)

sizes = st.integers(1, MAX_SIZE)
batch_sizes = st.integers(1, MAX_BATCH)
schemes = st.sampled_from(ALL_SCHEMES)
conditional_schemes = st.sampled_from(CONDITIONAL_SCHEMES)
_booleans = st.booleans()
_sequence_lengths = st.integers(0, 12)


def _no_tiny(x: float) -> float:
    return x if x == 0.0 or abs(x) >= MIN_MAGNITUDE else 0.0 * x


def reals(max_value: float, *, non_negative: bool = False) -> st.SearchStrategy[float]:
    """Finite floats in ``[-max_value, max_value]`` (or ``[0, max_value]``)."""
    return st.floats(
        min_value=0.0 if non_negative else -max_value,
        max_value=max_value,
        allow_nan=False,
        allow_infinity=False,
        allow_subnormal=False,
    ).map(_no_tiny)


def arrays(
    shape: int | tuple[int, ...],
    max_value: float = MAX_STATE,
    *,
    non_negative: bool = False,
) -> st.SearchStrategy[np.ndarray]:
    """Float64 arrays of ``shape`` with elements from ``reals``."""
    return hnp.arrays(
        np.float64, shape, elements=reals(max_value, non_negative=non_negative)
    )


def stiffness(size: int) -> st.SearchStrategy[np.ndarray]:
    """``A >= 0``, shape (size,)."""
    return arrays(size, MAX_STIFFNESS, non_negative=True)


def damping(size: int) -> st.SearchStrategy[np.ndarray]:
    """``G >= 0``, shape (size,)."""
    return arrays(size, MAX_DAMPING, non_negative=True)


def state_shapes(size: int) -> st.SearchStrategy[tuple[int, ...]]:
    """(P,) for one bank or (N, P) for a batch of N banks."""
    return st.one_of(st.just((size,)), batch_sizes.map(lambda n: (n, size)))


@st.composite
def stable_dt(
    draw: st.DrawFn,
    scheme: Scheme,
    A: np.ndarray,
    G: np.ndarray | None,
    *,
    per_oscillator: bool = False,
    fractions: st.SearchStrategy[float] | None = None,
) -> float | np.ndarray:
    """A time step that is ``fraction`` of the largest stable one, capped at MAX_DT.

    The stable set of every scheme is an interval ``(0, max_stable_dt)``, so any
    smaller positive step is stable too; the cap only keeps unconditionally
    stable schemes away from huge steps. The default fractions stay 5 % inside
    the boundary, away from the double eigenvalue on it.
    """
    fractions = st.floats(0.01, 0.95) if fractions is None else fractions
    bound = max_stable_dt(scheme, A, G)
    if per_oscillator:
        shape = A.shape
        fraction = draw(hnp.arrays(np.float64, shape, elements=fractions))
        cap = draw(hnp.arrays(np.float64, shape, elements=st.floats(MIN_DT, MAX_DT)))
        return np.minimum(fraction * bound, cap)
    fraction = draw(fractions)
    cap = draw(st.floats(MIN_DT, MAX_DT))
    return float(min(fraction * float(np.min(bound)), cap))


class Bank(NamedTuple):
    """The parameters of one valid oscillator bank."""

    scheme: Scheme
    A: np.ndarray
    G: np.ndarray | None
    dt: float | np.ndarray

    @property
    def size(self) -> int:
        return self.A.shape[0]

    def oscillator(self, B: Any = None) -> Oscillator:
        return Oscillator(self.A, self.dt, G=self.G, mode=self.scheme, B=B)


@st.composite
def banks(
    draw: st.DrawFn,
    schemes: st.SearchStrategy[Scheme] = schemes,
    sizes: st.SearchStrategy[int] = sizes,
    per_oscillator_dt: st.SearchStrategy[bool] = _booleans,
) -> Bank:
    """A scheme, ``A``, ``G`` (damped schemes only) and a stable ``dt``.

    Damped EX is stable only with ``G >= dt A``, so where it would draw
    ``A > 0`` with ``G = 0`` it uses ``G = 1`` instead.
    """
    scheme = draw(schemes)
    size = draw(sizes)
    A = draw(stiffness(size))
    G = draw(damping(size)) if scheme.damped else None
    if scheme is Scheme.DAMPED_EX:
        assert G is not None
        G = np.where((A > 0.0) & (G == 0.0), 1.0, G)
    dt = draw(stable_dt(scheme, A, G, per_oscillator=draw(per_oscillator_dt)))
    return Bank(scheme, A, G, dt)


def input_matrices(size: int) -> st.SearchStrategy[np.ndarray | None]:
    """``B``: None, a length-P vector, or a P x m matrix with m in 1..4."""
    return st.one_of(
        st.none(),
        arrays(size, MAX_INPUT_MATRIX),
        st.integers(1, MAX_COLUMNS).flatmap(
            lambda m: arrays((size, m), MAX_INPUT_MATRIX)
        ),
    )


def input_shapes(
    B: np.ndarray | None, state_shape: tuple[int, ...], *, batched: bool
) -> tuple[int, ...]:
    """The shape of one step's ``u`` for ``B``, shared or one per batch row."""
    batch = state_shape[:-1] if batched else ()
    if B is None:
        return (*batch, state_shape[-1])
    if B.ndim == 1:
        return batch
    return (*batch, B.shape[1])


@st.composite
def inputs(
    draw: st.DrawFn, B: np.ndarray | None, state_shape: tuple[int, ...]
) -> np.ndarray | float | None:
    """One step's ``u`` of any shape ``Oscillator.step`` accepts with ``B``."""
    choices: list[st.SearchStrategy[Any]] = [
        arrays(input_shapes(B, state_shape, batched=False))
    ]
    if len(state_shape) == 2:
        choices.append(arrays(input_shapes(B, state_shape, batched=True)))
    if B is None or B.ndim == 1:
        choices.append(reals(MAX_STATE))
        choices.append(st.none())
    return draw(st.one_of(choices))


@st.composite
def input_sequences(
    draw: st.DrawFn,
    B: np.ndarray | None,
    state_shape: tuple[int, ...],
    length: st.SearchStrategy[int] = _sequence_lengths,
) -> np.ndarray:
    """``U`` for ``scan``: (L,) + a shape ``step`` accepts for ``u``."""
    steps = draw(length)
    batched = len(state_shape) == 2 and draw(st.booleans())
    step_shape = input_shapes(B, state_shape, batched=batched)
    if B is None and not batched and draw(st.booleans()):
        step_shape = ()
    return draw(arrays((steps, *step_shape)))


def assert_same_bytes(actual: Any, expected: Any) -> None:
    """Assert two float64 arrays have the same shape and the same bytes.

    Stricter than ``==``: tells ``0.0`` from ``-0.0`` and compares NaN payloads.
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.dtype == np.float64, actual.dtype
    assert expected.dtype == np.float64, expected.dtype
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if actual.tobytes() != expected.tobytes():
        differ = actual.view(np.int64) != expected.view(np.int64)
        index = tuple(int(i) for i in np.argwhere(differ)[0])
        raise AssertionError(
            f"bytes differ at {index}: {actual[index]!r} != {expected[index]!r}"
        )


MAX_LAYER_WIDTH = 4
MAX_LAYER_WEIGHT = 10.0


class LayerCase(NamedTuple):
    """The parameters of one valid LinOSS layer and an input sequence for it."""

    bank: Bank
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray
    U: np.ndarray

    def layer(self) -> Any:
        from linoss_dynamics import LinOSSLayer

        return LinOSSLayer(
            self.bank.A,
            self.bank.dt,
            self.B,
            self.C,
            self.D,
            G=self.bank.G,
            scheme=self.bank.scheme,
        )


def _complex_matrices(shape: tuple[int, int]) -> st.SearchStrategy[np.ndarray]:
    parts = arrays((*shape, 2), MAX_LAYER_WEIGHT)
    return parts.map(lambda pair: pair[..., 0] + 1j * pair[..., 1])


@st.composite
def layer_cases(
    draw: st.DrawFn,
    schemes: st.SearchStrategy[Scheme] = schemes,
    length: st.SearchStrategy[int] = _sequence_lengths,
) -> LayerCase:
    """A valid bank (see ``banks``), complex ``B`` (P, H) and ``C`` (H, P), real
    ``D`` (H,) with H in 1..4, and inputs ``U`` (L, H)."""
    bank = draw(banks(schemes=schemes, sizes=st.integers(1, 8)))
    width = draw(st.integers(1, MAX_LAYER_WIDTH))
    B = draw(_complex_matrices((bank.size, width)))
    C = draw(_complex_matrices((width, bank.size)))
    D = draw(arrays(width, MAX_LAYER_WEIGHT))
    U = draw(arrays((draw(length), width)))
    return LayerCase(bank, B, C, D, U)
