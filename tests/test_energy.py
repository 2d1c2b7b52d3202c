"""Energy: exact evaluation, dissipation by damped IM, boundedness of IMEX."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import arrays, banks, batch_sizes, state_shapes

from linoss_dynamics import Oscillator, Scheme

EPS = float(np.finfo(np.float64).eps)


class TestEvaluation:
    def test_energy_by_hand(self):
        osc = Oscillator(np.array([2.0, 0.5]), 0.1)

        value = osc.energy(np.array([1.0, 2.0]), np.array([3.0, 4.0]))

        assert value == 14.5
        assert type(value) is float

    def test_sum_is_exactly_rounded(self):
        # Terms 1e16, 1, 1: left to right 1e16 + 1 rounds back to 1e16 (ties to
        # even) twice; the exact sum 1e16 + 2 is representable.
        osc = Oscillator(np.ones(3), 0.1)

        value = osc.energy(np.array([1e8, 1.0, 1.0]), np.zeros(3))

        assert value == 5000000000000001.0

    def test_terms_are_A_times_y_squared_plus_z_squared(self):
        # One oscillator: E = 0.5 * ((A * (y * y)) + (z * z)), three roundings.
        A, y, z = 0.1, 1.3, 0.1
        expected = 0.5 * ((A * (y * y)) + (z * z))
        osc = Oscillator(np.array([A]), 0.1)

        value = osc.energy(np.array([y]), np.array([z]))

        assert value == expected
        assert expected != 0.5 * (((A * y) * y) + (z * z))  # the order matters

    def test_batch_gives_one_energy_per_row(self):
        osc = Oscillator(np.array([2.0, 0.5]), 0.1)
        y = np.array([[1.0, 2.0], [0.0, 0.0], [1.0, 0.0]])
        z = np.array([[3.0, 4.0], [0.0, 0.0], [0.0, 1.0]])

        values = osc.energy(y, z)

        assert values.dtype == np.float64
        assert values.tolist() == [14.5, 0.0, 1.5]

    def test_overflowing_energy_is_inf_without_a_warning(self):
        osc = Oscillator(np.array([1.0, 1.0]), 0.1)

        value = osc.energy(np.array([1e200, 0.0]), np.zeros(2))

        assert value == math.inf

    def test_nan_state_gives_nan_energy(self):
        osc = Oscillator(np.array([1.0, 1.0]), 0.1)

        value = osc.energy(np.array([np.nan, 0.0]), np.zeros(2))

        assert math.isnan(value)

    @given(data=st.data(), bank=banks())
    def test_energy_does_not_depend_on_the_order_of_the_oscillators(self, data, bank):
        y, z = data.draw(arrays(bank.size)), data.draw(arrays(bank.size))
        order = data.draw(st.permutations(range(bank.size)))
        osc = Oscillator(bank.A, 1.0, allow_unstable=True)
        shuffled = Oscillator(bank.A[order], 1.0, allow_unstable=True)

        value = osc.energy(y, z)

        assert shuffled.energy(y[order], z[order]) == value

    @given(data=st.data(), bank=banks(), rows=batch_sizes)
    def test_batch_energies_equal_the_energies_of_the_rows(self, data, bank, rows):
        y, z = (
            data.draw(arrays((rows, bank.size))),
            data.draw(arrays((rows, bank.size))),
        )
        osc = bank.oscillator()

        values = osc.energy(y, z)

        assert values.shape == (rows,)
        assert values.tolist() == [osc.energy(y[i], z[i]) for i in range(rows)]


class TestDampedImplicitDissipates:
    def test_energy_decreases_by_hand(self):
        # (1 + 1 + 2) z' = 3 - 2: E goes from (2 + 9) / 2 to (2 * 1.5625 + 0.0625) / 2.
        osc = Oscillator(np.array([2.0]), 1.0, G=1.0, mode="im")

        y, z = osc.step(np.array([1.0]), np.array([3.0]))

        assert (y[0], z[0]) == (1.25, 0.25)
        assert (
            osc.energy(y, z) == 1.59375 < osc.energy(np.array([1.0]), np.array([3.0]))
        )

    @given(data=st.data(), bank=banks(schemes=st.just(Scheme.DAMPED_IM)))
    def test_unforced_energy_never_increases(self, data, bank):
        # In exact arithmetic one step changes the energy by
        #   -dt G z'^2 - (A / 2) (dt z')^2 - (z' - z)^2 / 2 <= 0,
        # which can be as small as O(dt^2) relative (G = 0, small dt). Rounding
        # perturbs the new state by a few u relative in the energy norm, and each
        # energy is evaluated to within 3u (three roundings per term, exact sum),
        # so a computed increase is at most a few eps relative. Measured over
        # 2e5 random states: 1 eps; asserted: 4 eps.
        shape = data.draw(state_shapes(bank.size))
        y0, z0 = data.draw(arrays(shape)), data.draw(arrays(shape))
        steps = data.draw(st.integers(1, 40))
        osc = bank.oscillator()

        Y, Z = osc.scan(np.zeros(steps), y0, z0)

        energies = [osc.energy(y0, z0)] + [osc.energy(Y[t], Z[t]) for t in range(steps)]
        for before, after in itertools.pairwise(energies):
            assert np.all(after <= before * (1.0 + 4.0 * EPS))


class TestSymplecticEulerIsBounded:
    @given(data=st.data(), bank=banks(schemes=st.just(Scheme.IMEX)))
    def test_unforced_energy_stays_within_the_modified_energy_bound(self, data, bank):
        # IMEX conserves the modified energy  H = (A y^2 + z^2 - dt A y z) / 2
        # exactly in exact arithmetic (M^T Q M = Q). With r = dt sqrt(A) / 2 < 1,
        # |dt A y z| <= r (A y^2 + z^2), so (1 - r) E <= H <= (1 + r) E and
        #   E(t) <= H / (1 - r) = H(0) / (1 - r) <= E(0) (1 + r) / (1 - r).
        # Rounding drifts H by about 5e-14 E(0) over these runs (measured).
        y0, z0 = data.draw(arrays(bank.size)), data.draw(arrays(bank.size))
        A = bank.A
        dt = np.broadcast_to(bank.dt, A.shape)
        osc = bank.oscillator()

        Y, Z = osc.scan(np.zeros(2000), y0, z0)

        E0 = 0.5 * (A * y0 * y0 + z0 * z0)
        H0 = 0.5 * (A * y0 * y0 + z0 * z0 - dt * A * y0 * z0)
        E = 0.5 * (A * Y * Y + Z * Z)
        H = 0.5 * (A * Y * Y + Z * Z - dt * A * Y * Z)
        r = dt * np.sqrt(A) / 2.0
        assert (r < 1.0).all()
        assert (E0 * (1.0 + r) / (1.0 - r) * (1.0 + 1e-9) >= E).all()
        assert (np.abs(H - H0) <= 1e-10 * E0).all()

    def test_energy_oscillates_rather_than_decays(self):
        # Undamped IMEX neither dissipates nor grows: after a full discrete
        # period the energy of A = 1, dt = 1 (theta = pi / 3, period 6) returns.
        osc = Oscillator(np.array([1.0]), 1.0, mode="imex")

        Y, Z = osc.scan(np.zeros(6), np.array([1.0]), np.array([0.0]))

        assert (Y[-1, 0], Z[-1, 0]) == (1.0, 0.0)
        assert {osc.energy(Y[t], Z[t]) for t in range(6)} == {0.5, 1.0}


@pytest.mark.parametrize("scheme", [Scheme.IMEX, Scheme.DAMPED_IM], ids=str)
def test_zero_state_has_zero_energy_forever(scheme):
    osc = Oscillator(
        np.array([1.0, 3.0]), 0.5, G=0.0 if scheme.damped else None, mode=scheme
    )

    Y, Z = osc.scan(np.zeros(5), np.zeros(2), np.zeros(2))

    assert [osc.energy(Y[t], Z[t]) for t in range(5)] == [0.0] * 5
