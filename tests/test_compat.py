"""The functional API kept from linoss-dynamics 0.2."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import (
    arrays,
    assert_same_bytes,
    banks,
    input_matrices,
    inputs,
)

from linoss_dynamics import (
    InvalidShapeError,
    InvalidValueError,
    NonFiniteStateError,
    Oscillator,
    convergence_window,
    damped_linoss_step,
    delta_energy,
    energy,
    linoss_scan,
    linoss_step,
    linoss_step_impl,
)

UNDAMPED_KEYS = {
    "mode",
    "energy_before",
    "energy_after",
    "delta_energy",
    "damping_mode",
}


def _compat_step(bank, y, z, B, u):
    """The 0.2 function that runs ``bank.scheme``."""
    if bank.scheme.damped:
        return damped_linoss_step(
            y, z, A=bank.A, G=bank.G, dt=bank.dt, mode=bank.scheme.value, B=B, u=u
        )
    return linoss_step(y, z, A=bank.A, dt=bank.dt, mode=bank.scheme.value, B=B, u=u)


@st.composite
def _scan_inputs(draw, B, size):
    """``U`` for ``linoss_scan``: a scalar or a row per step, as B allows."""
    steps = draw(st.integers(0, 8))
    if B is not None and B.ndim == 2:
        return draw(arrays((steps, B.shape[1])))
    if B is None and draw(st.booleans()):
        return draw(arrays((steps, size)))
    return draw(arrays(steps))


class TestLinossStep:
    def test_implicit_step_and_metrics_by_hand(self):
        # 4 y' = y + z with A = 3, dt = 1; E = (A y^2 + z^2) / 2.
        y, z, metrics = linoss_step(1.0, 2.0, A=3.0, dt=1.0, mode="implicit")

        assert_same_bytes(y, [0.75])
        assert_same_bytes(z, [-0.25])
        assert metrics == {
            "mode": "implicit",
            "energy_before": 3.5,
            "energy_after": 0.875,
            "delta_energy": -2.625,
            "damping_mode": "none",
        }

    def test_imex_step_by_hand(self):
        y, z, metrics = linoss_step([1.0], [0.0], A=1.0, dt=0.5, mode="imex")

        assert_same_bytes(y, [0.75])
        assert_same_bytes(z, [-0.5])
        assert metrics["mode"] == "implicit_explicit"
        assert metrics["energy_after"] == 0.40625

    def test_damped_step_and_metrics_by_hand(self):
        # (1 + dt G + dt^2 A) z' = z - dt A y + dt u: 4 z' = 3 - 2 + 1.
        y, z, metrics = damped_linoss_step(
            [1.0], [3.0], A=2.0, G=1.0, dt=1.0, mode="implicit", u=1.0
        )

        assert_same_bytes(y, [1.5])
        assert_same_bytes(z, [0.5])
        assert set(metrics) == {*UNDAMPED_KEYS, "damping"}
        assert metrics["damping_mode"] == "explicit_g"
        assert_same_bytes(metrics["damping"], [1.0])
        assert (metrics["energy_before"], metrics["energy_after"]) == (5.5, 2.375)

    @pytest.mark.parametrize(
        ("mode", "reported"),
        [
            ("implicit", "implicit"),
            ("implicit_explicit", "implicit_explicit"),
            ("imex2", "implicit_explicit2"),
            ("ex", "explicit"),
        ],
    )
    def test_damped_modes_report_the_02_mode_name(self, mode, reported):
        _, _, metrics = damped_linoss_step(
            [1.0], [0.0], A=1.0, G=2.0, dt=0.1, mode=mode
        )

        assert metrics["mode"] == reported

    def test_damping_or_G_turns_linoss_step_into_the_damped_step(self):
        args = ([0.3, -0.2], [0.1, 0.7])
        expected = damped_linoss_step(*args, A=[1.0, 2.0], G=0.5, dt=0.1)

        via_damping = linoss_step(*args, A=[1.0, 2.0], dt=0.1, damping=0.5, G=9.0)
        via_G = linoss_step(*args, A=[1.0, 2.0], dt=0.1, G=0.5)

        for actual in (via_damping, via_G):
            assert_same_bytes(actual[0], expected[0])
            assert_same_bytes(actual[1], expected[1])
            assert_same_bytes(actual[2]["damping"], [0.5, 0.5])

    def test_damped_step_without_G_runs_with_zero_damping(self):
        _, _, metrics = damped_linoss_step([1.0], [0.0], A=1.0, G=None, dt=0.1)

        assert_same_bytes(metrics["damping"], [0.0])

    def test_linoss_step_impl_is_linoss_step(self):
        args = ([0.3, -0.2], [0.1, 0.7], [1.0, 2.0], 0.1, "imex")

        expected = linoss_step(*args, u=[0.5, 0.25], damping=0.1)
        actual = linoss_step_impl(*args, u=[0.5, 0.25], damping=0.1)

        assert_same_bytes(actual[0], expected[0])
        assert_same_bytes(actual[1], expected[1])
        assert actual[2].keys() == expected[2].keys()

    @pytest.mark.parametrize(
        "A", [2.0, [2.0], [2.0, 2.0], np.diag([2.0, 2.0])], ids=str
    )
    def test_A_scalar_length_one_vector_or_diagonal_matrix(self, A):
        expected = linoss_step([0.3, -0.2], [0.1, 0.7], A=np.array([2.0, 2.0]), dt=0.1)

        actual = linoss_step([0.3, -0.2], [0.1, 0.7], A=A, dt=0.1)

        assert_same_bytes(actual[0], expected[0])
        assert_same_bytes(actual[1], expected[1])

    @pytest.mark.parametrize(
        ("B", "u", "force"),
        [
            (None, 0.5, [0.5, 0.5]),
            (None, [0.5, -0.25], [0.5, -0.25]),
            ([0.3, -1.7], 0.9, [0.3 * 0.9, -1.7 * 0.9]),
            ([0.3, -1.7], [0.9, 0.1], [0.3 * 0.9, -1.7 * 0.1]),
            (
                [[0.1, 0.2], [0.3, -0.4]],
                [0.7, 0.3],
                [0.1 * 0.7 + 0.2 * 0.3, 0.3 * 0.7 + -0.4 * 0.3],
            ),
        ],
        ids=["scalar", "vector", "B-vector-scalar-u", "B-vector-vector-u", "B-matrix"],
    )
    def test_force_from_B_and_u(self, B, u, force):
        y, z = [0.3, -0.2], [0.1, 0.7]
        expected = linoss_step(y, z, A=[1.0, 2.0], dt=0.1, u=np.array(force))

        actual = linoss_step(y, z, A=[1.0, 2.0], dt=0.1, B=B, u=u)

        assert_same_bytes(actual[0], expected[0])
        assert_same_bytes(actual[1], expected[1])

    def test_scalar_state_is_a_bank_of_one(self):
        y, z, _ = linoss_step(1.0, 0.0, A=1.0, dt=0.5, mode="imex")

        assert y.shape == z.shape == (1,)

    def test_stability_is_not_checked_as_in_02(self):
        # dt^2 A = 9: outside IMEX's region, still one step.
        y, z, _ = linoss_step([1.0], [0.0], A=1.0, dt=3.0, mode="imex")

        assert_same_bytes(z, [-3.0])
        assert_same_bytes(y, [-8.0])

    def test_overflowing_step_raises(self):
        with pytest.raises(NonFiniteStateError) as info:
            linoss_step([0.0], [0.0], A=0.0, dt=1e10, mode="imex", u=1e300)

        assert str(info.value) == (
            "y_next must contain only finite values (the step overflowed: check dt "
            "against is_stable, and the size of the input)"
        )
        assert info.value.argument == "y_next"

    def test_energy_overflow_raises(self):
        with pytest.raises(
            NonFiniteStateError, match=r"^energy must remain finite; got inf$"
        ):
            linoss_step([1e200], [0.0], A=1.0, dt=0.1)

    @given(data=st.data(), bank=banks(per_oscillator_dt=st.just(False)))
    def test_oscillator_step_has_the_bytes_of_the_02_functions(self, data, bank):
        # 0.2 squares dt with pow, Oscillator with one multiplication.
        assume(bank.dt**2 == bank.dt * bank.dt)
        B = data.draw(input_matrices(bank.size))
        y, z = data.draw(arrays(bank.size)), data.draw(arrays(bank.size))
        u = data.draw(inputs(B, (bank.size,)))
        osc = bank.oscillator(B)

        y_next, z_next, metrics = _compat_step(bank, y, z, B, u)

        expected = osc.step(y, z, u)
        assert_same_bytes(y_next, expected[0])
        assert_same_bytes(z_next, expected[1])
        assert metrics["mode"] == bank.scheme.compat_mode
        assert metrics["energy_before"] == osc.energy(y, z)
        assert metrics["energy_after"] == osc.energy(y_next, z_next)
        assert (
            metrics["delta_energy"]
            == metrics["energy_after"] - metrics["energy_before"]
        )


class TestLinossScan:
    def test_trajectory_starts_with_the_initial_state(self):
        Y, Z, metrics = linoss_scan(
            np.zeros(2), A=1.0, dt=0.5, mode="imex", y0=[1.0], z0=[0.0]
        )

        assert_same_bytes(Y[:, 0], [1.0, 0.75, 0.3125])
        assert_same_bytes(Z[:, 0], [0.0, -0.5, -0.875])
        assert len(metrics) == 2

    @given(data=st.data(), bank=banks(per_oscillator_dt=st.just(False)))
    def test_each_row_is_the_02_step_of_the_previous_row(self, data, bank):
        B = data.draw(input_matrices(bank.size))
        y0, z0 = data.draw(arrays(bank.size)), data.draw(arrays(bank.size))
        U = data.draw(_scan_inputs(B, bank.size))
        damping = {"G": bank.G} if bank.scheme.damped else {}

        Y, Z, metrics = linoss_scan(
            U,
            A=bank.A,
            dt=bank.dt,
            mode=bank.scheme.value,
            B=B,
            y0=y0,
            z0=z0,
            **damping,
        )

        assert Y.shape == Z.shape == (len(U) + 1, bank.size)
        assert_same_bytes(Y[0], y0)
        assert_same_bytes(Z[0], z0)
        for t in range(len(U)):
            y, z, expected = _compat_step(bank, Y[t], Z[t], B, U[t])
            assert_same_bytes(Y[t + 1], y)
            assert_same_bytes(Z[t + 1], z)
            assert metrics[t].keys() == expected.keys()
            for key in ("mode", "energy_before", "energy_after", "delta_energy"):
                assert metrics[t][key] == expected[key]

    @pytest.mark.parametrize(
        ("kwargs", "size"),
        [
            ({"A": [1.0, 2.0, 3.0]}, 3),
            ({"A": np.diag([1.0, 2.0])}, 2),
            ({"A": 1.0, "B": np.ones((4, 3))}, 4),
            ({"A": 1.0, "B": np.ones(5)}, 5),
            ({"A": 1.0, "U": np.zeros((2, 6))}, 6),
            ({"A": 1.0}, 1),
            ({"A": 1.0, "y0": [1.0, 2.0]}, 2),
            ({"A": 1.0, "z0": [1.0, 2.0, 3.0]}, 3),
        ],
    )
    def test_size_comes_from_y0_z0_A_B_then_U(self, kwargs, size):
        kwargs = {"U": np.zeros(2), **kwargs}
        if "B" in kwargs and kwargs["B"].ndim == 2:
            kwargs["U"] = np.zeros((2, kwargs["B"].shape[1]))

        Y, Z, _ = linoss_scan(dt=0.1, **kwargs)

        assert Y.shape == Z.shape == (3, size)

    def test_missing_initial_state_is_zero(self):
        Y, Z, _ = linoss_scan(np.zeros(1), A=[1.0, 1.0], dt=0.1, y0=[1.0, 2.0])

        assert_same_bytes(Z[0], [0.0, 0.0])
        assert_same_bytes(Y[0], [1.0, 2.0])

    def test_damping_keyword_selects_the_damped_scheme(self):
        _, _, metrics = linoss_scan(
            np.zeros(1), A=1.0, dt=0.1, mode="imex", y0=[1.0], damping=0.5
        )

        assert metrics[0]["damping_mode"] == "explicit_g"
        assert_same_bytes(metrics[0]["damping"], [0.5])

    def test_consecutive_metrics_chain_their_energies(self):
        _, _, metrics = linoss_scan(
            np.linspace(-1.0, 1.0, 5), A=[1.0, 3.0], dt=0.2, y0=[1.0, -1.0]
        )

        for previous, current in itertools.pairwise(metrics):
            assert current["energy_before"] == previous["energy_after"]

    def test_overflow_raises(self):
        # The energy A y^2 overflows long before the state does.
        with pytest.raises(
            NonFiniteStateError, match=r"^energy must remain finite; got inf$"
        ):
            linoss_scan(np.zeros(500), A=100.0, dt=1.0, mode="imex", y0=[1.0])


class TestEnergyHelpers:
    def test_energy_by_hand(self):
        # (2 * 1 + 9) + (0.5 * 4 + 16) = 29.
        value = energy([1.0, 2.0], [3.0, 4.0], A=[2.0, 0.5])

        assert value == 14.5

    def test_energy_ignores_G_and_broadcasts_scalar_A(self):
        without_G = energy([1.0, 2.0], [3.0, 4.0], A=2.0)

        with_G = energy([1.0, 2.0], [3.0, 4.0], A=np.diag([2.0, 2.0]), G=[5.0, 5.0])

        assert without_G == with_G == 0.5 * (2.0 + 9.0 + 8.0 + 16.0)

    def test_energy_matches_the_oscillator(self):
        y, z = np.array([0.3, -0.7, 1.1]), np.array([0.9, 0.01, -2.5])
        A = np.array([0.1, 7.0, 3.3])

        value = energy(y, z, A)

        assert value == Oscillator(A, 0.1).energy(y, z)

    def test_delta_energy_is_next_minus_previous(self):
        assert delta_energy(1.0, 0.25) == -0.75
        assert delta_energy(0.1, 0.3) == 0.3 - 0.1

    @pytest.mark.parametrize(
        ("deltas", "threshold", "window", "expected"),
        [
            ([], 1e-3, 1, False),
            ([1e-4, 1e-4], 1e-3, 3, False),
            ([1.0, 1e-4, -1e-4, 1e-5], 1e-3, 3, True),
            ([1.0, 1e-4, -1e-4, 1e-5], 1e-3, 4, False),
            ([1e-4, 1e-3], 1e-3, 2, False),
            ((1e-4, -1e-4), 1e-3, np.int64(2), True),
        ],
    )
    def test_convergence_window(self, deltas, threshold, window, expected):
        converged = convergence_window(deltas, threshold, window)

        assert converged is expected

    @pytest.mark.parametrize("window", [0, -1])
    def test_convergence_window_needs_a_positive_window(self, window):
        with pytest.raises(
            InvalidValueError, match=rf"^window must be positive; got {window}$"
        ):
            convergence_window([0.0], 1.0, window)

    @pytest.mark.parametrize("window", [True, 2.0, "2"])
    def test_convergence_window_needs_an_integer_window(self, window):
        with pytest.raises(
            InvalidValueError,
            match=rf"^window must be positive; got {window!r} \(an integer count of deltas\)$",
        ):
            convergence_window([0.0], 1.0, window)


def test_compat_rejects_batched_state():
    y = np.zeros((2, 3))

    with pytest.raises(
        InvalidShapeError,
        match=r"^y and z must each be scalar or 1-D, got \(2, 3\) and \(2, 3\)",
    ):
        linoss_step(y, y, A=1.0, dt=0.1)
