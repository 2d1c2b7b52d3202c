"""The schemes: names, hand-derived steps, operation order, zero-damping limits.

The expected values here are derived by hand: either exact dyadic arithmetic
checked against the update equations of the papers, or the operation order
documented in ``linoss_dynamics.schemes`` replayed with Python floats (one
rounding per operation, the same as NumPy's float64 ufuncs). A kernel that
changes its operation order fails these tests.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    ALL_SCHEMES,
    arrays,
    assert_same_bytes,
    banks,
    inputs,
    state_shapes,
)

from linoss_dynamics import Oscillator, Scheme, damped_linoss_step, linoss_step

EPS = float(np.finfo(np.float64).eps)

# -- the documented operation order, replayed with Python floats ----------------
#
# One oscillator; F is None for no input, which adds +0.0 where F would be added.


def _plus_force(acc: float, coefficient: float, F: float | None) -> float:
    return acc + 0.0 if F is None else acc + coefficient * F


def ref_im(y, z, A, G, dt, F, dt2=None):
    dt2 = dt * dt if dt2 is None else dt2
    S = 1.0 / (1.0 + dt2 * A)
    dtAS = (dt * A) * S
    dtS = dt * S
    dt2S = dt2 * S
    z_next = _plus_force((S * z) - (dtAS * y), dtS, F)
    y_next = _plus_force((S * y) + (dtS * z), dt2S, F)
    return y_next, z_next


def _ref_velocity_first(y, z, A, dt, F, D):
    z_next = _plus_force(z - (dt * A) * y, dt, F)
    if D is not None:
        z_next = z_next / D
    return y + dt * z_next, z_next


def ref_imex(y, z, A, G, dt, F, dt2=None):
    return _ref_velocity_first(y, z, A, dt, F, None)


def ref_damped_im(y, z, A, G, dt, F, dt2=None):
    dt2 = dt * dt if dt2 is None else dt2
    return _ref_velocity_first(y, z, A, dt, F, (1.0 + dt * G) + dt2 * A)


def ref_damped_imex1(y, z, A, G, dt, F, dt2=None):
    return _ref_velocity_first(y, z, A, dt, F, 1.0 + dt * G)


def _ref_old_velocity(y, z, A, G, dt, F, explicit_position):
    C = 1.0 - dt * G
    z_next = _plus_force((C * z) - ((dt * A) * y), dt, F)
    y_next = y + dt * z if explicit_position else y + dt * z_next
    return y_next, z_next


def ref_damped_imex2(y, z, A, G, dt, F, dt2=None):
    return _ref_old_velocity(y, z, A, G, dt, F, explicit_position=False)


def ref_damped_ex(y, z, A, G, dt, F, dt2=None):
    return _ref_old_velocity(y, z, A, G, dt, F, explicit_position=True)


REFERENCE = {
    Scheme.IM: ref_im,
    Scheme.IMEX: ref_imex,
    Scheme.DAMPED_IM: ref_damped_im,
    Scheme.DAMPED_IMEX1: ref_damped_imex1,
    Scheme.DAMPED_IMEX2: ref_damped_imex2,
    Scheme.DAMPED_EX: ref_damped_ex,
}


# -- the same algebra in another order: what a careless rewrite would compute --


def _alt_velocity_first(y, z, A, dt, F, D):
    z_next = z + dt * ((0.0 if F is None else F) - A * y)
    if D is not None:
        z_next = z_next * (1.0 / D)
    return y + z_next * dt, z_next


def _alt_old_velocity(y, z, A, G, dt, F, explicit_position):
    z_next = z + dt * ((0.0 if F is None else F) - A * y - G * z)
    y_next = y + dt * z if explicit_position else y + dt * z_next
    return y_next, z_next


REORDERED = {
    Scheme.IM: lambda y, z, A, G, dt, F: _alt_velocity_first(
        y, z, A, dt, F, 1.0 + dt * dt * A
    ),
    Scheme.IMEX: lambda y, z, A, G, dt, F: _alt_velocity_first(y, z, A, dt, F, None),
    Scheme.DAMPED_IM: lambda y, z, A, G, dt, F: _alt_velocity_first(
        y, z, A, dt, F, 1.0 + (dt * G + dt * dt * A)
    ),
    Scheme.DAMPED_IMEX1: lambda y, z, A, G, dt, F: _alt_velocity_first(
        y, z, A, dt, F, 1.0 + dt * G
    ),
    Scheme.DAMPED_IMEX2: lambda y, z, A, G, dt, F: _alt_old_velocity(
        y, z, A, G, dt, F, explicit_position=False
    ),
    Scheme.DAMPED_EX: lambda y, z, A, G, dt, F: _alt_old_velocity(
        y, z, A, G, dt, F, explicit_position=True
    ),
}

# (y, z, A, G, dt, F): short decimals, none exactly representable, all stable
# for every scheme (EX needs dt A <= G: 0.2, 0.9 and 0.035 are).
DECIMAL_CASES = [
    (0.3, -0.7, 2.0, 0.5, 0.1, 0.25),
    (1.1, 0.9, 3.0, 1.7, 0.3, None),
    (-0.2, 0.6, 0.7, 2.9, 0.05, -1.3),
]


def _ulps(a: float, b: float) -> int:
    """Distance between two finite floats in units in the last place."""

    def ordinal(x: float) -> int:
        bits = struct.unpack("<q", struct.pack("<d", x))[0]
        return bits if bits >= 0 else -(bits & 0x7FFF_FFFF_FFFF_FFFF)

    return abs(ordinal(a) - ordinal(b))


def _one_step(scheme: Scheme, y, z, A, G, dt, F):
    """``Oscillator.step`` on one oscillator, as Python floats."""
    osc = Oscillator(
        np.array([A]), dt, G=np.array([G]) if scheme.damped else None, mode=scheme
    )

    y_next, z_next = osc.step(
        np.array([y]), np.array([z]), None if F is None else np.array([F])
    )

    return float(y_next[0]), float(z_next[0])


class TestSchemeNames:
    def test_values_are_the_mode_spellings(self):
        values = [scheme.value for scheme in Scheme]

        assert values == [
            "im",
            "imex",
            "damped_im",
            "damped_imex1",
            "damped_imex2",
            "damped_ex",
        ]

    def test_only_the_linoss_schemes_are_undamped(self):
        undamped = [scheme for scheme in Scheme if not scheme.damped]

        assert undamped == [Scheme.IM, Scheme.IMEX]

    def test_compat_mode_is_the_02_metrics_name(self):
        names = {scheme: scheme.compat_mode for scheme in Scheme}

        assert names == {
            Scheme.IM: "implicit",
            Scheme.DAMPED_IM: "implicit",
            Scheme.IMEX: "implicit_explicit",
            Scheme.DAMPED_IMEX1: "implicit_explicit",
            Scheme.DAMPED_IMEX2: "implicit_explicit2",
            Scheme.DAMPED_EX: "explicit",
        }

    @pytest.mark.parametrize(
        ("mode", "undamped", "damped"),
        [
            (None, Scheme.IM, Scheme.DAMPED_IM),
            ("", Scheme.IM, Scheme.DAMPED_IM),
            ("im", Scheme.IM, Scheme.DAMPED_IM),
            ("implicit", Scheme.IM, Scheme.DAMPED_IM),
            ("IMPLICIT", Scheme.IM, Scheme.DAMPED_IM),
            ("imex", Scheme.IMEX, Scheme.DAMPED_IMEX1),
            ("implicit_explicit", Scheme.IMEX, Scheme.DAMPED_IMEX1),
            ("Implicit-Explicit", Scheme.IMEX, Scheme.DAMPED_IMEX1),
            ("imex1", Scheme.DAMPED_IMEX1, Scheme.DAMPED_IMEX1),
            ("implicit_explicit1", Scheme.DAMPED_IMEX1, Scheme.DAMPED_IMEX1),
            ("imex2", Scheme.DAMPED_IMEX2, Scheme.DAMPED_IMEX2),
            ("implicit_explicit2", Scheme.DAMPED_IMEX2, Scheme.DAMPED_IMEX2),
            ("ex", Scheme.DAMPED_EX, Scheme.DAMPED_EX),
            ("EXPLICIT", Scheme.DAMPED_EX, Scheme.DAMPED_EX),
            ("damped_im", Scheme.DAMPED_IM, Scheme.DAMPED_IM),
            ("damped-imex1", Scheme.DAMPED_IMEX1, Scheme.DAMPED_IMEX1),
            ("damped_imex2", Scheme.DAMPED_IMEX2, Scheme.DAMPED_IMEX2),
            ("damped_ex", Scheme.DAMPED_EX, Scheme.DAMPED_EX),
            (Scheme.IM, Scheme.IM, Scheme.DAMPED_IM),
            (Scheme.IMEX, Scheme.IMEX, Scheme.DAMPED_IMEX1),
            (Scheme.DAMPED_IMEX2, Scheme.DAMPED_IMEX2, Scheme.DAMPED_IMEX2),
        ],
    )
    def test_mode_spelling_selects_scheme_with_and_without_damping(
        self, mode, undamped, damped
    ):
        A = np.array([1.0])

        without_G = Oscillator(A, 0.1, mode=mode, allow_unstable=True).scheme
        with_G = Oscillator(A, 0.1, G=1.0, mode=mode).scheme

        assert (without_G, with_G) == (undamped, damped)

    def test_damped_only_mode_without_G_runs_with_zero_damping(self):
        osc = Oscillator(np.array([1.0, 2.0]), 0.1, mode="imex2")

        G = osc.G

        assert_same_bytes(G, np.zeros(2))


class TestTextbookSteps:
    """Exact dyadic arithmetic, checked against the equations of the papers."""

    def test_im(self):
        # z' = z - dt A y', y' = y + dt z' with A = 3, dt = 1: 4 y' = y + z.
        osc = Oscillator(np.array([3.0]), 1.0, mode="im")

        y, z = osc.step(np.array([1.0]), np.array([2.0]))

        assert (y[0], z[0]) == (0.75, -0.25)

    def test_imex(self):
        # z' = z - dt A y = 0 - 0.5, y' = y + dt z' = 1 - 0.25.
        osc = Oscillator(np.array([1.0]), 0.5, mode="imex")

        y, z = osc.step(np.array([1.0]), np.array([0.0]))

        assert (y[0], z[0]) == (0.75, -0.5)

    def test_damped_im(self):
        # z' = z + dt (-A y' - G z' + F), y' = y + dt z': (1 + 1 + 2) z' = 3 - 2 + 1.
        osc = Oscillator(np.array([2.0]), 1.0, G=1.0, mode="im")

        y, z = osc.step(np.array([1.0]), np.array([3.0]), u=1.0)

        assert (y[0], z[0]) == (1.5, 0.5)

    def test_damped_imex1(self):
        # z' = z + dt (-A y - G z') = 2.5 + 0.5 (-2 - z'): 1.5 z' = 1.5.
        osc = Oscillator(np.array([2.0]), 0.5, G=1.0, mode="imex1")

        y, z = osc.step(np.array([1.0]), np.array([2.5]))

        assert (y[0], z[0]) == (1.5, 1.0)

    def test_damped_imex2(self):
        # z' = z + dt (-A y - G z + F) = 2 + 0.5 (-2 - 2 + 2).
        osc = Oscillator(np.array([2.0]), 0.5, G=1.0, mode="imex2")

        y, z = osc.step(np.array([1.0]), np.array([2.0]), u=2.0)

        assert (y[0], z[0]) == (1.5, 1.0)

    def test_damped_ex(self):
        # y' = y + dt z (old z) = 1 + 0.5; z' = 2 + 0.25 (-2 - 8).
        osc = Oscillator(np.array([2.0]), 0.25, G=4.0, mode="ex")

        y, z = osc.step(np.array([1.0]), np.array([2.0]))

        assert (y[0], z[0]) == (1.5, -0.5)

    def test_vector_B_scales_the_scalar_channel(self):
        # IMEX, A = 0, dt = 0.5: z' = z + dt B u, y' = y + dt z'.
        osc = Oscillator(np.zeros(2), 0.5, mode="imex", B=np.array([1.0, -2.0]))

        y, z = osc.step(np.zeros(2), np.zeros(2), u=4.0)

        assert_same_bytes(z, [2.0, -4.0])
        assert_same_bytes(y, [1.0, -2.0])

    def test_matrix_B_sums_columns_left_to_right(self):
        # B u = ((0.1 * 0.7) + (0.2 * 0.3)) + (0.7 * -0.1), three roundings in order.
        B = np.array([[0.1, 0.2, 0.7]])
        u = np.array([0.7, 0.3, -0.1])
        force = ((0.1 * 0.7) + (0.2 * 0.3)) + (0.7 * -0.1)
        osc = Oscillator(np.zeros(1), 1.0, mode="imex", B=B)

        _, z = osc.step(np.zeros(1), np.zeros(1), u=u)

        assert_same_bytes(z, [force])
        assert force != 0.1 * 0.7 + (0.2 * 0.3 + 0.7 * -0.1)  # the order matters


class TestOperationOrder:
    @pytest.mark.parametrize("scheme", ALL_SCHEMES, ids=str)
    @pytest.mark.parametrize("case", DECIMAL_CASES)
    def test_step_follows_the_documented_order(self, scheme, case):
        expected = REFERENCE[scheme](*case)

        actual = _one_step(scheme, *case)

        assert actual == expected

    @pytest.mark.parametrize("scheme", ALL_SCHEMES, ids=str)
    def test_cases_tell_the_documented_order_from_another(self, scheme):
        # Guards the test above: the cases must be able to catch a reordering.
        documented = [REFERENCE[scheme](*case) for case in DECIMAL_CASES]

        reordered = [REORDERED[scheme](*case) for case in DECIMAL_CASES]

        assert documented != reordered

    @pytest.mark.parametrize("scheme", ALL_SCHEMES, ids=str)
    def test_bank_with_per_oscillator_dt_steps_each_oscillator_alone(self, scheme):
        cases = [
            (*case[:5], 0.0 if case[5] is None else case[5]) for case in DECIMAL_CASES
        ]
        y, z, A, G, dt, F = (np.array(column) for column in zip(*cases, strict=True))
        osc = Oscillator(A, dt, G=G if scheme.damped else None, mode=scheme)
        expected = [REFERENCE[scheme](*case) for case in cases]

        y_next, z_next = osc.step(y, z, F)

        assert_same_bytes(y_next, [e[0] for e in expected])
        assert_same_bytes(z_next, [e[1] for e in expected])

    @pytest.mark.parametrize("dt", [0.1, 0.3, 8.25954134636013])
    @pytest.mark.parametrize("scheme", [Scheme.IM, Scheme.DAMPED_IM], ids=str)
    def test_dt_is_squared_by_multiplication_here_and_by_pow_in_02_functions(
        self, scheme, dt
    ):
        # The two agree unless the platform's pow misrounds dt**2; on glibc 2.36
        # it does for the last dt. Either way each path follows its own rule.
        y, z, A, G, F = 0.3, -0.7, 0.02, 0.5, 0.25
        step = damped_linoss_step if scheme.damped else linoss_step
        extra = {"G": G} if scheme.damped else {}

        own = _one_step(scheme, y, z, A, G, dt, F)
        compat_y, compat_z, _ = step(y, z, A=A, dt=dt, mode="im", u=F, **extra)

        assert own == REFERENCE[scheme](y, z, A, G, dt, F, dt2=dt * dt)
        assert (compat_y[0], compat_z[0]) == REFERENCE[scheme](
            y, z, A, G, dt, F, dt2=dt**2
        )


class TestUnforcedStep:
    @pytest.mark.parametrize("scheme", ALL_SCHEMES, ids=str)
    def test_no_input_has_the_bytes_of_zero_input(self, scheme):
        osc = Oscillator(
            np.array([1.0, 0.0]), 0.1, G=1.0 if scheme.damped else None, mode=scheme
        )
        y = np.array([-0.0, 0.0])
        z = np.array([-0.0, -0.0])

        unforced = osc.step(y, z)
        zero_input = osc.step(y, z, u=0.0)

        assert_same_bytes(unforced[0], zero_input[0])
        assert_same_bytes(unforced[1], zero_input[1])

    @pytest.mark.parametrize("scheme", ALL_SCHEMES, ids=str)
    def test_negative_zero_state_steps_to_positive_zero_except_explicit_position(
        self, scheme
    ):
        # z' ends with "+ 0.0" (the absent force) and -0.0 + 0.0 is +0.0; y'
        # adds dt * z' = +0.0, except in EX: y' = -0.0 + dt * (-0.0) = -0.0.
        osc = Oscillator(
            np.array([1.0]), 0.1, G=1.0 if scheme.damped else None, mode=scheme
        )
        expected_y = -0.0 if scheme is Scheme.DAMPED_EX else 0.0

        y, z = osc.step(np.array([-0.0]), np.array([-0.0]))

        assert_same_bytes(z, [0.0])
        assert_same_bytes(y, [expected_y])


class TestZeroDampingLimits:
    @given(data=st.data(), bank=banks(schemes=st.just(Scheme.IMEX)))
    def test_damped_imex1_at_zero_damping_is_imex_byte_for_byte(self, data, bank):
        shape = data.draw(state_shapes(bank.size))
        y, z = data.draw(arrays(shape)), data.draw(arrays(shape))
        u = data.draw(inputs(None, shape))
        imex = bank.oscillator()
        imex1 = Oscillator(bank.A, bank.dt, G=np.zeros(bank.size), mode="imex1")

        expected = imex.step(y, z, u)
        actual = imex1.step(y, z, u)

        assert imex1.scheme is Scheme.DAMPED_IMEX1
        assert_same_bytes(actual[0], expected[0])
        assert_same_bytes(actual[1], expected[1])

    @given(data=st.data(), bank=banks(schemes=st.just(Scheme.IMEX)))
    def test_damped_imex2_at_zero_damping_is_imex_byte_for_byte(self, data, bank):
        shape = data.draw(state_shapes(bank.size))
        y, z = data.draw(arrays(shape)), data.draw(arrays(shape))
        u = data.draw(inputs(None, shape))
        imex = bank.oscillator()
        imex2 = Oscillator(bank.A, bank.dt, G=np.zeros(bank.size), mode="imex2")

        expected = imex.step(y, z, u)
        actual = imex2.step(y, z, u)

        assert_same_bytes(actual[0], expected[0])
        assert_same_bytes(actual[1], expected[1])

    @given(data=st.data(), bank=banks(schemes=st.just(Scheme.IM)))
    def test_damped_im_at_zero_damping_from_rest_is_within_3_and_1_ulp_of_im(
        self, data, bank
    ):
        # From y = 0 without input no cancellation can occur: IM computes
        # y' = (dt * S) * z and z' = S * z with S = 1 / D (3 and 2 roundings),
        # damped IM y' = dt * (z / D) and z' = z / D (2 and 1), with the same D.
        # Analysis allows up to 5 and 3 ULP; 8e7 random samples over this range
        # never exceeded 3 and 1, which is the bound pinned here.
        z = data.draw(arrays(bank.size))
        y = np.zeros(bank.size)
        im = bank.oscillator()
        damped = Oscillator(bank.A, bank.dt, G=np.zeros(bank.size), mode="im")

        y_im, z_im = im.step(y, z)
        y_damped, z_damped = damped.step(y, z)

        assert max(map(_ulps, y_im, y_damped)) <= 3
        assert max(map(_ulps, z_im, z_damped)) <= 1

    @given(data=st.data(), bank=banks(schemes=st.just(Scheme.IM)))
    def test_damped_im_at_zero_damping_is_within_a_few_eps_of_im_normwise(
        self, data, bank
    ):
        # Both orders evaluate (y + dt z) / D and (z - dt A y) / D, which may
        # cancel, so their ULP distance is unbounded; the errors are bounded by
        # the sizes of the terms. Counting roundings (IM 3u|y|/D + 4u dt|z|/D in
        # y', damped IM 5u|y| + 4u dt|z|, using dt^2 A / D <= 1; and 3u|z| +
        # 4u dt A|y| against 2u|z| + 3u dt A|y| over D in z') bounds the gap by
        # 4 eps (|y| + dt |z|) and 3.5 eps (|z| + dt A |y|) / D. Measured: 2.8.
        y, z = data.draw(arrays(bank.size)), data.draw(arrays(bank.size))
        A, dt = bank.A, bank.dt
        D = 1.0 + dt * dt * A
        slack = 1.0 + 1e-9  # second-order terms of the rounding analysis
        im = bank.oscillator()
        damped = Oscillator(A, dt, G=np.zeros(bank.size), mode="im")

        y_im, z_im = im.step(y, z)
        y_damped, z_damped = damped.step(y, z)

        y_bound = 4.0 * EPS * (np.abs(y) + dt * np.abs(z)) * slack
        z_bound = 3.5 * EPS * (np.abs(z) + dt * A * np.abs(y)) / D * slack
        assert (np.abs(y_im - y_damped) <= y_bound).all()
        assert (np.abs(z_im - z_damped) <= z_bound).all()

    def test_damped_im_at_zero_damping_differs_by_many_ulp_after_cancellation(self):
        # The numerator z - dt A y = 0.3 - fl(0.1 * 3.0) cancels to -2^-54, one
        # ULP of 0.3. Damped IM divides it by D = 1.03; IM subtracts the rounded
        # products S * 0.3 and (fl(0.1 * 3.0) * S) * 1.0 and gets -2^-54. Both
        # are within the normwise bound above, yet about 2.6e14 ULP apart.
        y, z, A, dt = 1.0, 0.3, 3.0, 0.1
        im = ref_im(y, z, A, 0.0, dt, None)
        damped = ref_damped_im(y, z, A, 0.0, dt, None)

        actual_im = _one_step(Scheme.IM, y, z, A, 0.0, dt, None)
        actual_damped = _one_step(Scheme.DAMPED_IM, y, z, A, 0.0, dt, None)

        assert (actual_im, actual_damped) == (im, damped)
        assert im[1] == -(2.0**-54)
        assert _ulps(im[1], damped[1]) > 10**14
        assert abs(im[1] - damped[1]) <= 3.5 * EPS * (z + dt * A * y) / 1.03
        assert im[0] == damped[0] == 1.0
