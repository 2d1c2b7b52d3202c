"""The one transition the recorder applies and the verifier replays.

``Stepper`` holds a bank's current state, its energy and the ``Oscillator`` in
effect, and applies each kind of event to them. ``Recorder`` calls it to produce
events; ``verify`` calls the same methods to reproduce them. Keeping a single
implementation is what makes "recorded" and "replayed" the same computation.
"""

from __future__ import annotations

import math
from typing import Any, Final, NamedTuple

import numpy as np
import xxhash

from . import _validate as v
from ._typing import FloatArray
from .codec import StateHasher
from .energy import bank_energy, energy_weights, exact_half_sum, stacked_terms_into
from .errors import InvalidShapeError, NonFiniteStateError
from .oscillator import Oscillator

__all__ = ["StepOutcome", "Stepper", "normalize_input"]

_DT_CACHE_SIZE: Final = 16


class StepOutcome(NamedTuple):
    """What one step produced: the new state, its energies and its digest."""

    y: FloatArray
    z: FloatArray
    energy_before: float
    energy_after: float
    delta_energy: float
    state_digest: bytes


def normalize_input(name: str, value: Any) -> float | FloatArray | None:
    """An input or per-step ``dt`` as it is recorded: None, a float or a float64 array."""
    if value is None or type(value) is float:
        return value
    arr = v.real_array(name, value)
    if arr.ndim == 0:
        return float(arr)
    return arr


def state_energy(oscillator: Oscillator, y: FloatArray, z: FloatArray) -> float:
    """Exact energy of a 1-D state; refuses a non-finite one."""
    value = bank_energy(oscillator.A, y, z)
    assert isinstance(value, float)
    if not math.isfinite(value):
        raise NonFiniteStateError(
            f"energy must remain finite; got {value!r} (the state is not finite, or "
            "so large that its energy overflows)",
            argument="energy",
            value=value,
        )
    return value


def _frozen_state(name: str, value: Any, size: int) -> FloatArray:
    arr = v.finite_array(name, value)
    if arr.shape != (size,):
        raise InvalidShapeError(
            f"{name} must have shape ({size},) (one value per oscillator); got {arr.shape}",
            argument=name,
        )
    return v.frozen(np.array(arr, dtype=np.float64))


class Stepper:
    """Current state of one bank (shape (P,)) and the transitions that change it.

    Each step writes the new ``(y, z)`` into a fresh (2, P) array, which makes
    the energy three array operations on the stacked state and the state
    digest one hash over contiguous bytes. ``y`` and ``z`` are read-only rows
    of that array.
    """

    __slots__ = (
        "_dt_cache",
        "_prefix",
        "_scratch",
        "_square_rows",
        "_squares",
        "_terms",
        "_weights",
        "energy",
        "hasher",
        "oscillator",
        "y",
        "z",
    )

    def __init__(self, oscillator: Oscillator, y: Any, z: Any) -> None:
        size = oscillator.size
        self.oscillator = oscillator
        self.hasher = StateHasher((size,))
        self._prefix = self.hasher.prefix
        self._dt_cache: dict[Any, Oscillator] = {}
        self._weights = energy_weights(oscillator.A)
        self._squares = np.empty((2, size))
        self._square_rows = (self._squares[0], self._squares[1])
        self._terms = np.empty(size)
        self._scratch = np.empty(size)
        self.y = _frozen_state("y", y, size)
        self.z = _frozen_state("z", z, size)
        self.energy = state_energy(oscillator, self.y, self.z)

    def digest(self) -> bytes:
        """Digest of the current state."""
        return self.hasher.digest(self.y, self.z)

    def step(
        self, u: float | FloatArray | None, dt: float | FloatArray | None = None
    ) -> StepOutcome:
        """Advance one step; the state is unchanged if the step fails."""
        osc = self.oscillator if dt is None else self._with_dt(dt)
        state = np.empty((2, self.oscillator.size))
        y = state[0]
        z = state[1]
        try:
            osc.step_into(self.y, self.z, u, y, z, self._scratch)
            terms = stacked_terms_into(
                self._weights, state, self._squares, self._square_rows, self._terms
            )
            energy_after = exact_half_sum(terms)
        except (RuntimeWarning, FloatingPointError):
            # Overflow reported as an error by the caller's NumPy or warning
            # settings: the same outcome as a non-finite energy below.
            energy_after = math.inf
        if not math.isfinite(energy_after):
            self._explain_non_finite(u)
        digest = xxhash.xxh3_128_digest(self._prefix + state.tobytes())
        y.setflags(write=False)
        z.setflags(write=False)
        energy_before = self.energy
        self.y, self.z, self.energy = y, z, energy_after
        return StepOutcome(
            y, z, energy_before, energy_after, energy_after - energy_before, digest
        )

    def _explain_non_finite(self, u: Any) -> None:
        if u is not None:
            v.require_finite("u", np.asarray(u))
        raise NonFiniteStateError(
            "state must remain finite; this step overflowed (the parameters are outside "
            "the stable region, or the input is too large)",
            argument="u",
        )

    def _with_dt(self, dt: float | FloatArray) -> Oscillator:
        key = dt if isinstance(dt, float) else (np.shape(dt), np.asarray(dt).tobytes())
        osc = self._dt_cache.get(key)
        if osc is None:
            osc = self.oscillator.with_params(dt=dt)
            if len(self._dt_cache) >= _DT_CACHE_SIZE:
                self._dt_cache.clear()
            self._dt_cache[key] = osc
        return osc

    def set_oscillator(self, oscillator: Oscillator) -> None:
        """New parameters from now on; the energy of the state is recomputed."""
        if oscillator.size != self.oscillator.size:
            raise InvalidShapeError(
                f"new parameters must keep P = {self.oscillator.size} oscillators; got "
                f"{oscillator.size}",
                argument="A",
            )
        energy = state_energy(oscillator, self.y, self.z)
        self.oscillator = oscillator
        self._weights = energy_weights(oscillator.A)
        self._dt_cache.clear()
        self.energy = energy

    def set_state(self, y: Any, z: Any) -> None:
        """Replace the state (validated: shape (P,), finite)."""
        y_arr = _frozen_state("y", y, self.oscillator.size)
        z_arr = _frozen_state("z", z, self.oscillator.size)
        energy = state_energy(self.oscillator, y_arr, z_arr)
        self.y, self.z, self.energy = y_arr, z_arr, energy
