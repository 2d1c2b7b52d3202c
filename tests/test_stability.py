"""Stable regions, ``is_stable``, ``max_stable_dt`` and the spectral analysis."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    ALL_SCHEMES,
    CONDITIONAL_SCHEMES,
    MAX_DAMPING,
    MAX_STIFFNESS,
    arrays,
    assert_same_bytes,
    banks,
    conditional_schemes,
    damping,
    sizes,
    stiffness,
)

from linoss_dynamics import (
    STABLE_REGION,
    InvalidShapeError,
    InvalidValueError,
    Oscillator,
    Scheme,
    UnstableSchemeError,
    UnsupportedModeError,
    is_stable,
    max_stable_dt,
)

UNSTABLE_MESSAGE = re.compile(
    r"^(?P<scheme>\w+) is unstable for oscillator (?P<index>\d+): "
    r"(?P<inequality>.+) fails with dt=(?P<dt>\S+), A=(?P<A>\S+), G=(?P<G>\S+) "
    r"\((?P<lhs>\S+) vs (?P<rhs>\S+)\); a dt below (?P<limit>\S+), for example "
    r"(?P<example>\S+), is stable for every oscillator "
    r"\(or pass allow_unstable=True\)$"
)

# Near a double eigenvalue the quadratic formula turns a rounding error of eps
# in the discriminant into sqrt(eps) ~ 1.5e-8 in the eigenvalues.
RADIUS_TOLERANCE = 1e-7


@st.composite
def _banks_with_a_bounded_dt(draw, schemes=conditional_schemes):
    """A conditional scheme, parameters with a finite largest stable dt, no dt.

    Every oscillator has ``A >= 0.01`` (and ``G >= 0.01`` for EX), so that
    stepping past its own bound by 5 % changes its spectral radius by more
    than rounding can hide.
    """
    scheme = draw(schemes)
    size = draw(sizes)
    A = draw(arrays(size, MAX_STIFFNESS, non_negative=True)) + 0.01
    G = draw(damping(size)) if scheme.damped else None
    if scheme is Scheme.DAMPED_EX:
        G = draw(arrays(size, MAX_DAMPING, non_negative=True)) + 0.01
    return scheme, A, G


def _at(G, i):
    return None if G is None else G[i]


def test_stable_region_states_one_inequality_per_scheme():
    regions = dict(STABLE_REGION)

    assert regions == {
        Scheme.IM: "A >= 0",
        Scheme.IMEX: "dt^2 A < 4",
        Scheme.DAMPED_IM: "A >= 0 and G >= 0",
        Scheme.DAMPED_IMEX1: "dt^2 A < 4 + 2 dt G",
        Scheme.DAMPED_IMEX2: "dt^2 A + 2 dt G < 4",
        Scheme.DAMPED_EX: "dt A <= G and 2 dt G < 4 + dt^2 A",
    }


class TestMaxStableDt:
    @pytest.mark.parametrize(
        ("scheme", "A", "G", "expected"),
        [
            (Scheme.IM, [0.0, 4.0], None, [math.inf, math.inf]),
            (Scheme.DAMPED_IM, [0.0, 4.0], [0.0, 1.0], [math.inf, math.inf]),
            # 2 / sqrt(A)
            (Scheme.IMEX, [4.0, 0.0, 0.25], None, [1.0, math.inf, 4.0]),
            # (G + sqrt(G^2 + 4 A)) / A
            (
                Scheme.DAMPED_IMEX1,
                [1.0, 2.0, 0.0],
                [0.0, 1.0, 1.0],
                [2.0, 2.0, math.inf],
            ),
            # 4 / (G + sqrt(G^2 + 4 A))
            (
                Scheme.DAMPED_IMEX2,
                [1.0, 0.0, 2.0, 0.0],
                [0.0, 2.0, 1.0, 0.0],
                [2.0, 1.0, 4.0 / 4.0, math.inf],
            ),
            # G / A while G^2 < 4 A, else the smaller root 4 / (G + sqrt(G^2 - 4 A));
            # 2 / G at A = 0; none at G = 0 < A.
            (
                Scheme.DAMPED_EX,
                [1.0, 1.0, 0.0, 1.0, 0.0],
                [1.0, 5.0, 2.0, 0.0, 0.0],
                [1.0, 4.0 / (5.0 + math.sqrt(21.0)), 1.0, 0.0, math.inf],
            ),
        ],
        ids=str,
    )
    def test_largest_stable_dt_by_hand(self, scheme, A, G, expected):
        G_arr = None if G is None else np.array(G)

        bound = max_stable_dt(scheme, np.array(A), G_arr)

        np.testing.assert_allclose(bound, expected, rtol=1e-15)

    @pytest.mark.parametrize(
        ("mode", "G"),
        [("imex", None), ("implicit_explicit", None), ("damped_imex2", [0.0])],
    )
    def test_mode_spellings_give_that_schemes_bound(self, mode, G):
        # Every other entry point takes a mode spelling; a plain string must
        # not fall through to the EX formula.
        A = np.array([4.0])

        bound = max_stable_dt(mode, A, None if G is None else np.array(G))

        assert_same_bytes(bound, [1.0])

    def test_unknown_mode_is_refused(self):
        with pytest.raises(
            UnsupportedModeError, match=r"^Unsupported LinOSS mode: 'rk4'"
        ):
            max_stable_dt("rk4", np.array([4.0]), None)

    @given(data=st.data(), parameters=_banks_with_a_bounded_dt())
    def test_bound_separates_stable_from_unstable_steps(self, data, parameters):
        scheme, A, G = parameters
        bound = max_stable_dt(scheme, A, G)
        inside = data.draw(st.floats(0.05, 0.95))
        outside = data.draw(st.floats(1.05, 20.0))

        verdicts = [
            (
                is_stable(A[i], _at(G, i), inside * bound[i], scheme)[0],
                is_stable(A[i], _at(G, i), outside * bound[i], scheme)[0],
            )
            for i in range(A.size)
        ]

        assert verdicts == [(True, False)] * A.size


class TestIsStable:
    @pytest.mark.parametrize(
        ("args", "expected"),
        [
            (
                ([1.0, 4.0], None, 0.1, "imex"),
                (True, "imex is stable: dt^2 A < 4 holds for all 2 oscillators"),
            ),
            (
                ([1.0, 4.0], None, None, "im"),
                (True, "im is stable for every dt > 0 when A, G >= 0"),
            ),
            (
                ([1.0], [0.5], 100.0, "im"),
                (True, "damped_im is stable for every dt > 0 when A, G >= 0"),
            ),
            (
                ([1.0, 4.0], None, None, "imex"),
                (False, "imex is stable only for some dt: pass dt to check it"),
            ),
            (
                ([1.0, -4.0], None, 0.1, "imex"),
                (False, "A must be non-negative; A[1] = -4.0"),
            ),
            (
                ([1.0, 4.0], [0.0, -0.5], 0.1, "imex"),
                (False, "G must be non-negative; G[1] = -0.5"),
            ),
            (
                ([1.0, 4.0], None, 0.0, "imex"),
                (False, "dt must be finite and positive; got 0.0"),
            ),
            (
                ([1.0, 4.0], None, -0.1, "im"),
                (False, "dt must be finite and positive; got -0.1"),
            ),
            (([], None, None, "im"), (True, "no oscillators: nothing can grow")),
        ],
    )
    def test_verdict_and_reason(self, args, expected):
        verdict = is_stable(*args)

        assert verdict == expected

    def test_unstable_reason_names_oscillator_inequality_and_fix(self):
        verdict = is_stable([1.0, 4.0], None, 1.5, "imex")

        assert verdict == (
            False,
            "imex is unstable for oscillator 1: dt^2 A < 4 fails with dt=1.5, A=4.0, "
            "G=0.0 (9.0 vs 4.0); a dt below 1.0, for example 0.9, is stable for every "
            "oscillator",
        )

    @pytest.mark.parametrize(
        ("A", "G", "dt", "mode", "stable"),
        [
            (4.0, None, 1.0, "imex", False),  # dt^2 A = 4: boundary excluded
            (1.0, 1.0, 1.0, "ex", True),  # dt A = G: boundary included
            (1.0, 1.5, 1.0, "imex1", True),  # 1 < 4 + 3
            (1.0, 0.0, 3.0, "imex1", False),  # 9 >= 4
            (0.0, 2.0, 1.0, "imex2", False),  # 0 + 4 >= 4
            (0.0, 0.0, 1e6, "imex2", True),
            (0.0, 0.0, 1e6, "ex", True),
        ],
    )
    def test_boundaries(self, A, G, dt, mode, stable):
        verdict, _ = is_stable(A, G, dt, mode)

        assert verdict is stable

    @pytest.mark.parametrize(
        ("A", "dt", "oscillator"),
        [(2.0, 1.5, 0), ([2.0, 2.0], [1.0, 1.5], 1), (np.diag([2.0, 2.0]), 1.5, 0)],
        ids=["scalar", "vector", "diagonal"],
    )
    def test_A_scalar_vector_or_diagonal_matrix(self, A, dt, oscillator):
        verdict, reason = is_stable(A, None, dt, "imex")

        assert verdict is False
        assert reason.startswith(f"imex is unstable for oscillator {oscillator}: ")

    def test_per_oscillator_dt(self):
        stable = is_stable([1.0, 100.0], None, [1.9, 0.19], "imex")

        unstable = is_stable([1.0, 100.0], None, [0.19, 1.9], "imex")

        assert stable[0] is True
        assert unstable[0] is False
        assert "oscillator 1" in unstable[1]

    @pytest.mark.parametrize(
        ("args", "error", "message"),
        [
            (
                (np.ones((1, 1, 1)),),
                InvalidShapeError,
                r"^A must be scalar, a vector, or a diagonal square matrix; got shape \(1, 1, 1\)$",
            ),
            (
                (np.ones((2, 3)),),
                InvalidShapeError,
                r"^A must be scalar, a vector, or a diagonal square matrix; got shape \(2, 3\)$",
            ),
            (
                (np.ones((2, 2)),),
                InvalidShapeError,
                r"^A must be .* off-diagonal entry 1\.0 at \(0, 1\)",
            ),
            (
                ([1.0, np.nan],),
                InvalidValueError,
                r"^A must contain only finite values; got nan at index 1$",
            ),
            (
                ([1.0, 2.0], [1.0, 2.0, 3.0]),
                InvalidShapeError,
                r"^G must be scalar, length-2 vector, or 2x2 diagonal matrix; got shape \(3,\)$",
            ),
            (
                ([1.0], None, 0.1, "rk4"),
                UnsupportedModeError,
                r"^Unsupported LinOSS mode: 'rk4'; expected one of damped_ex, ",
            ),
        ],
    )
    def test_malformed_arguments_raise(self, args, error, message):
        with pytest.raises(error, match=message):
            is_stable(*args)

    @given(data=st.data(), scheme=st.sampled_from(ALL_SCHEMES), size=sizes)
    def test_agrees_with_what_the_constructor_accepts(self, data, scheme, size):
        A = data.draw(stiffness(size))
        G = data.draw(damping(size)) if scheme.damped else None
        bound = max_stable_dt(scheme, A, G)
        # Steps around each bound (or anywhere when there is none, or no dt works).
        scale = np.where(np.isfinite(bound) & (bound > 0.0), bound, 1.0)
        fractions = data.draw(arrays(size, 1.5, non_negative=True)) + 0.5
        dt = (
            fractions * scale
            if data.draw(st.booleans())
            else float(np.min(fractions * scale))
        )

        verdict, _ = is_stable(A, G, dt, scheme)

        try:
            Oscillator(A, dt, G=G, mode=scheme)
        except UnstableSchemeError:
            accepted = False
        else:
            accepted = True
        assert accepted is verdict


class TestUnstableSchemeError:
    @given(data=st.data(), parameters=_banks_with_a_bounded_dt())
    def test_message_names_oscillator_inequality_and_a_dt_that_works(
        self, data, parameters
    ):
        scheme, A, G = parameters
        limit = float(np.min(max_stable_dt(scheme, A, G)))
        dt = limit * data.draw(st.floats(1.05, 20.0))
        alone = [
            is_stable(A[j], None if G is None else G[j], dt, scheme)
            for j in range(A.size)
        ]

        with pytest.raises(UnstableSchemeError) as info:
            Oscillator(A, dt, G=G, mode=scheme)

        match = UNSTABLE_MESSAGE.match(str(info.value))
        assert match, str(info.value)
        i = int(match["index"])
        # Inequalities are checked in the order STABLE_REGION states them; the
        # message names the first oscillator failing the first one that fails.
        fails = f": {match['inequality']} fails with"
        assert match["scheme"] == scheme.value
        assert match["inequality"] in STABLE_REGION[scheme].split(" and ")
        assert alone[i][0] is False
        assert fails in alone[i][1]
        assert not any(fails in reason for _, reason in alone[:i])
        assert float(match["dt"]) == dt
        assert float(match["A"]) == A[i]
        assert float(match["G"]) == (0.0 if G is None else G[i])
        assert float(match["limit"]) == limit
        assert info.value.argument == "dt"
        suggested = Oscillator(A, float(match["example"]), G=G, mode=scheme)
        assert suggested.analysis().stable

    def test_message_when_no_dt_is_stable(self):
        with pytest.raises(UnstableSchemeError) as info:
            Oscillator(np.array([1.0, 4.0]), 0.1, mode="ex")

        assert str(info.value) == (
            "damped_ex is unstable for oscillator 0: dt A <= G fails with dt=0.1, "
            "A=1.0, G=0.0 (0.1 vs 0.0); no dt is stable: add damping (EX needs "
            "G >= dt A) or use an implicit scheme (or pass allow_unstable=True)"
        )

    def test_message_for_per_oscillator_dt_shows_that_oscillators_dt(self):
        with pytest.raises(
            UnstableSchemeError,
            match=r"^imex is unstable for oscillator 1: dt\^2 A < 4 fails with dt=1\.9, "
            r"A=100\.0, G=0\.0 \(361\.0 vs 4\.0\); a dt below 0\.2, for example ",
        ):
            Oscillator(np.array([1.0, 100.0]), np.array([0.19, 1.9]), mode="imex")


class TestSpectralAnalysis:
    @given(bank=banks())
    def test_spectral_radius_at_most_one_inside_the_stable_region(self, bank):
        analysis = bank.oscillator().analysis()

        assert analysis.stable
        assert (analysis.spectral_radius <= 1.0 + RADIUS_TOLERANCE).all()

    @given(data=st.data(), parameters=_banks_with_a_bounded_dt())
    def test_spectral_radius_above_one_outside_the_stable_region(
        self, data, parameters
    ):
        scheme, A, G = parameters
        factors = data.draw(
            arrays(A.size, 20.0, non_negative=True).map(lambda f: 1.05 + f)
        )
        dt = factors * max_stable_dt(scheme, A, G)
        osc = Oscillator(A, dt, G=G, mode=scheme, allow_unstable=True)

        analysis = osc.analysis()

        assert not analysis.stable
        assert (analysis.spectral_radius > 1.0).all()

    @given(data=st.data(), bank=banks())
    def test_transition_matrices_describe_the_step(self, data, bank):
        y, z = data.draw(arrays(bank.size)), data.draw(arrays(bank.size))
        osc = bank.oscillator()
        M = osc.analysis().matrices

        y_next, z_next = osc.step(y, z)

        # Agreement up to rounding, measured against the terms each update adds
        # before they cancel: y + dt z' in y', z and dt A y in z'.
        dt, A = bank.dt, bank.A
        x = np.stack([y, z], axis=-1)
        expected = np.einsum("pij,pj->pi", M, x)
        terms = np.stack(
            [np.abs(y) + dt * np.abs(z_next), np.abs(z) + dt * A * np.abs(y)], axis=-1
        )
        scale = np.einsum("pij,pj->pi", np.abs(M), np.abs(x)) + terms
        actual = np.stack([y_next, z_next], axis=-1)
        assert (np.abs(actual - expected) <= 1e-13 * scale).all()

    def test_imex_oscillates_at_the_discrete_frequency_without_damping(self):
        # cos(theta) = 1 - dt^2 A / 2 = 1/2 with dt = 1, A = 1: theta = pi / 3.
        analysis = Oscillator(np.array([1.0]), 1.0, mode="imex").analysis()

        assert analysis.natural_frequency[0] == 1.0
        assert analysis.discrete_frequency[0] == pytest.approx(math.pi / 3, rel=1e-12)
        assert analysis.discrete_damping_ratio[0] == pytest.approx(0.0, abs=1e-12)
        assert analysis.spectral_radius[0] == pytest.approx(1.0, rel=1e-12)
        assert_same_bytes(analysis.matrices[0], [[0.0, 1.0], [-1.0, 1.0]])

    def test_continuous_damping_ratio_is_G_over_twice_the_frequency(self):
        analysis = Oscillator(np.array([4.0, 0.0]), 0.1, G=[1.0, 1.0]).analysis()

        assert_same_bytes(analysis.natural_frequency, [2.0, 0.0])
        assert_same_bytes(analysis.damping_ratio, [0.25, math.inf])

    def test_implicit_step_has_radius_one_over_sqrt_of_one_plus_dt_squared_A(self):
        # det M = S = 1 / (1 + dt^2 A) and the eigenvalues are a conjugate pair.
        analysis = Oscillator(np.array([3.0]), 1.0, mode="im").analysis()

        assert analysis.spectral_radius[0] == pytest.approx(0.5, rel=1e-15)
        assert analysis.eigenvalues.shape == (1, 2)

    @pytest.mark.parametrize("scheme", CONDITIONAL_SCHEMES, ids=str)
    def test_stable_flag_matches_is_stable(self, scheme):
        G = np.array([1.0, 1.0]) if scheme.damped else None
        osc = Oscillator(
            np.array([1.0, 9.0]), 0.9, G=G, mode=scheme, allow_unstable=True
        )

        stable = osc.analysis().stable

        assert stable is is_stable(osc.A, G, 0.9, scheme)[0]
