"""``Oscillator``: construction, immutability, step, scan and their exactness."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    ALL_SCHEMES,
    arrays,
    assert_same_bytes,
    banks,
    batch_sizes,
    input_matrices,
    input_sequences,
    input_shapes,
    inputs,
    state_shapes,
)

from linoss_dynamics import (
    InvalidShapeError,
    NonFiniteStateError,
    Oscillator,
    Scheme,
    UnstableSchemeError,
)

A2 = np.array([1.0, 4.0])


def _step_loop(osc, U, y, z):
    """The states after each step of ``osc.step`` over the rows of ``U``."""
    Y, Z = [], []
    for u in U:
        y, z = osc.step(y, z, u)
        Y.append(y)
        Z.append(z)
    return Y, Z


class TestConstruction:
    def test_diagonal_matrix_A_is_its_diagonal(self):
        matrix = np.diag([0.5, 2.0, 0.0])

        osc = Oscillator(matrix, 0.1)

        assert_same_bytes(osc.A, [0.5, 2.0, 0.0])
        assert osc.size == 3

    def test_integer_parameters_become_float64(self):
        osc = Oscillator([1, 4], 1, G=[0, 2], mode="im", B=[[1, 2], [3, 4]])

        assert_same_bytes(osc.A, [1.0, 4.0])
        assert_same_bytes(osc.G, [0.0, 2.0])
        assert_same_bytes(osc.B, [[1.0, 2.0], [3.0, 4.0]])
        assert osc.dt == 1.0
        assert type(osc.dt) is float

    @pytest.mark.parametrize(
        ("G", "expected"),
        [
            (0.5, [0.5, 0.5]),
            (np.array(0.5), [0.5, 0.5]),
            ([0.5], [0.5, 0.5]),
            ([0.5, 0.25], [0.5, 0.25]),
            (np.diag([0.5, 0.25]), [0.5, 0.25]),
        ],
    )
    def test_G_scalar_vector_or_diagonal_matrix(self, G, expected):
        osc = Oscillator(A2, 0.1, G=G)

        assert_same_bytes(osc.G, expected)
        assert osc.scheme is Scheme.DAMPED_IM

    def test_no_G_means_undamped(self):
        osc = Oscillator(A2, 0.1, mode="imex")

        assert osc.G is None
        assert osc.scheme is Scheme.IMEX

    def test_per_oscillator_dt_is_kept_as_a_vector(self):
        osc = Oscillator(A2, [0.1, 0.2], mode="imex")

        assert_same_bytes(osc.dt, [0.1, 0.2])
        assert not osc.dt.flags.writeable

    @pytest.mark.parametrize("B", [None, [1.0, -1.0], [[1.0], [2.0]], np.ones((2, 3))])
    def test_B_none_vector_or_matrix_is_kept_as_given(self, B):
        osc = Oscillator(A2, 0.1, B=B)

        if B is None:
            assert osc.B is None
        else:
            assert_same_bytes(osc.B, np.asarray(B, dtype=np.float64))
            assert not osc.B.flags.writeable

    def test_parameters_are_copied(self):
        A = np.array([1.0, 2.0])
        G = np.array([0.1, 0.2])
        dt = np.array([0.1, 0.1])
        B = np.array([1.0, 1.0])
        osc = Oscillator(A, dt, G=G, B=B)

        for array in (A, G, dt, B):
            array[0] = 99.0

        assert_same_bytes(osc.A, [1.0, 2.0])
        assert_same_bytes(osc.G, [0.1, 0.2])
        assert_same_bytes(osc.dt, [0.1, 0.1])
        assert_same_bytes(osc.B, [1.0, 1.0])

    def test_allow_unstable_accepts_parameters_outside_the_region(self):
        osc = Oscillator(A2, 1.5, mode="imex", allow_unstable=True)

        assert osc.allow_unstable is True
        assert osc.analysis().stable is False

    def test_repr_names_size_scheme_dt_damping_and_B(self):
        scalar = Oscillator(A2, 0.1, G=0.5, mode="imex2", B=np.ones((2, 3)))
        vector = Oscillator(A2, [0.1, 0.2])

        assert repr(scalar) == (
            "Oscillator(P=2, scheme=damped_imex2, dt=0.1, damped=True, "
            "B=array(shape=(2, 3)))"
        )
        assert repr(vector) == (
            "Oscillator(P=2, scheme=im, dt=array(shape=(2,)), damped=False, B=None)"
        )

    def test_equal_parameters_give_equal_and_equally_hashed_oscillators(self):
        first = Oscillator(A2, 0.1, G=[0.5, 0.5], mode="imex1")
        second = Oscillator(np.diag(A2), 0.1, G=0.5, mode="implicit_explicit")

        assert first == second
        assert hash(first) == hash(second)
        assert first != first.with_params(dt=0.2)
        assert first != first.with_params(mode="imex2")
        assert first != "not an oscillator"


class TestImmutability:
    @pytest.mark.parametrize("name", ["A", "G", "dt", "scheme", "_A", "extra"])
    def test_attributes_cannot_be_set(self, name):
        osc = Oscillator(A2, 0.1, G=0.5)

        with pytest.raises(
            AttributeError,
            match=rf"^Oscillator is immutable; use with_params\(\) to change {name}$",
        ):
            setattr(osc, name, 1.0)

    @pytest.mark.parametrize("name", ["A", "G", "dt", "B"])
    def test_parameter_arrays_are_read_only(self, name):
        osc = Oscillator(A2, [0.1, 0.1], G=0.5, B=[1.0, 1.0])
        array = getattr(osc, name)
        before = array.copy()

        with pytest.raises(ValueError, match="read-only"):
            array[0] = 2.0

        assert_same_bytes(getattr(osc, name), before)

    def test_stepping_does_not_change_the_oscillator(self):
        osc = Oscillator(A2, 0.1, G=0.5, mode="imex1")
        before = Oscillator(A2, 0.1, G=0.5, mode="imex1")

        osc.step(np.ones(2), np.ones(2), u=1.0)
        osc.scan(np.ones((3, 2)), np.ones(2), np.ones(2))

        assert osc == before


class TestFromFrequencyDamping:
    def test_A_is_omega_squared_and_G_twice_zeta_omega(self):
        omega = np.array([0.3, 1.7])
        zeta = np.array([0.1, 0.7])

        osc = Oscillator.from_frequency_damping(omega, zeta, 0.05)

        assert_same_bytes(osc.A, [0.3 * 0.3, 1.7 * 1.7])
        assert_same_bytes(osc.G, [(2.0 * 0.1) * 0.3, (2.0 * 0.7) * 1.7])
        assert osc.scheme is Scheme.DAMPED_IM

    def test_mode_B_and_allow_unstable_are_passed_on(self):
        osc = Oscillator.from_frequency_damping(
            [1.0, 2.0], 0.0, 3.0, mode="imex", B=[1.0, 1.0], allow_unstable=True
        )

        assert osc.scheme is Scheme.DAMPED_IMEX1
        assert_same_bytes(osc.G, [0.0, 0.0])
        assert_same_bytes(osc.B, [1.0, 1.0])
        assert osc.allow_unstable

    def test_zero_damping_ratio_still_selects_a_damped_scheme(self):
        osc = Oscillator.from_frequency_damping([2.0], [0.0], 0.1, mode="imex")

        assert osc.scheme is Scheme.DAMPED_IMEX1


class TestWithParams:
    def test_without_changes_gives_an_equal_new_oscillator(self):
        osc = Oscillator(A2, [0.1, 0.2], G=0.5, mode="imex2", B=np.eye(2))

        copy = osc.with_params()

        assert copy == osc
        assert copy is not osc

    def test_changes_one_parameter_and_keeps_the_rest(self):
        osc = Oscillator(A2, 0.1, G=0.5, mode="imex2", B=[1.0, 2.0])

        changed = osc.with_params(dt=0.2)

        assert changed.dt == 0.2
        assert changed.scheme is Scheme.DAMPED_IMEX2
        assert_same_bytes(changed.G, [0.5, 0.5])
        assert_same_bytes(changed.B, [1.0, 2.0])
        assert osc.dt == 0.1

    def test_adding_G_to_an_undamped_oscillator_selects_the_damped_scheme(self):
        osc = Oscillator(A2, 0.1, mode="imex")

        damped = osc.with_params(G=0.5)

        assert damped.scheme is Scheme.DAMPED_IMEX1

    def test_changed_parameters_are_validated_again(self):
        osc = Oscillator(A2, 0.5, mode="imex")

        with pytest.raises(UnstableSchemeError, match="oscillator 1: dt\\^2 A < 4"):
            osc.with_params(dt=1.0)

        assert osc.with_params(dt=1.0, allow_unstable=True).allow_unstable


class TestStepInputs:
    @pytest.mark.parametrize(
        "u",
        [2.5, 2, np.float64(2.5), np.array(2.5), [2.5, 2.5], np.array([2.5, 2.5])],
        ids=["float", "int", "float64", "0-d", "list", "vector"],
    )
    def test_scalar_force_equals_the_same_force_on_every_oscillator(self, u):
        osc = Oscillator(A2, 0.1, G=0.3, mode="imex2")
        y, z = np.array([0.3, -0.2]), np.array([0.1, 0.7])
        expected = osc.step(y, z, np.full(2, float(u if np.ndim(u) == 0 else u[0])))

        actual = osc.step(y, z, u)

        assert_same_bytes(actual[0], expected[0])
        assert_same_bytes(actual[1], expected[1])

    def test_vector_B_times_scalar_u_is_the_force_B_u(self):
        B = np.array([0.3, -1.7])
        with_B = Oscillator(A2, 0.1, mode="imex", B=B)
        without_B = Oscillator(A2, 0.1, mode="imex")
        y, z = np.array([0.3, -0.2]), np.array([0.1, 0.7])

        actual = with_B.step(y, z, 0.9)

        expected = without_B.step(y, z, np.array([0.3 * 0.9, -1.7 * 0.9]))
        assert_same_bytes(actual[0], expected[0])
        assert_same_bytes(actual[1], expected[1])

    def test_matrix_B_force_is_the_column_sum_in_order(self):
        B = np.array([[0.1, 0.2, 0.7], [-1.3, 0.6, 0.01]])
        u = np.array([0.7, 0.3, -0.1])
        force = [((row[0] * 0.7) + (row[1] * 0.3)) + (row[2] * -0.1) for row in B]
        with_B = Oscillator(A2, 0.1, mode="im", B=B)
        without_B = Oscillator(A2, 0.1, mode="im")
        y, z = np.array([0.3, -0.2]), np.array([0.1, 0.7])

        actual = with_B.step(y, z, u)

        expected = without_B.step(y, z, np.array(force))
        assert_same_bytes(actual[0], expected[0])
        assert_same_bytes(actual[1], expected[1])

    @pytest.mark.parametrize(
        ("B", "u_shape"),
        [
            (None, (2,)),
            (None, (3, 2)),
            ("vector", ()),
            ("vector", (3,)),
            ("matrix", (4,)),
            ("matrix", (3, 4)),
        ],
    )
    def test_batched_state_accepts_shared_and_per_row_inputs(self, B, u_shape):
        matrix = {"vector": np.array([1.0, 2.0]), "matrix": np.ones((2, 4)), None: None}
        osc = Oscillator(A2, 0.1, mode="imex", B=matrix[B])
        u = np.full(u_shape, 0.5)

        y, z = osc.step(np.ones((3, 2)), np.zeros((3, 2)), u)

        assert y.shape == z.shape == (3, 2)

    def test_lists_of_integers_are_accepted_as_state(self):
        osc = Oscillator(A2, 0.5, mode="imex")

        y, z = osc.step([1, 0], [0, 0])

        assert_same_bytes(z, [-0.5, 0.0])
        assert_same_bytes(y, [0.75, 0.0])

    def test_non_finite_state_is_not_scanned_by_step(self):
        # step is the hot path: it checks shapes only and lets NaN propagate.
        osc = Oscillator(A2, 0.1, mode="im")

        y, z = osc.step(np.array([np.nan, 1.0]), np.zeros(2))

        assert np.isnan([y[0], z[0]]).all()
        assert np.isfinite([y[1], z[1]]).all()


class TestStepProperties:
    @given(data=st.data(), bank=banks())
    def test_step_is_pure_and_returns_new_arrays(self, data, bank):
        B = data.draw(input_matrices(bank.size))
        shape = data.draw(state_shapes(bank.size))
        y, z = data.draw(arrays(shape)), data.draw(arrays(shape))
        u = data.draw(inputs(B, shape))
        arrays_in = [a for a in (y, z, u) if isinstance(a, np.ndarray)]
        snapshot = [np.copy(a) for a in arrays_in]
        osc = bank.oscillator(B)

        y_next, z_next = osc.step(y, z, u)

        for before, after in zip(snapshot, arrays_in, strict=True):
            assert_same_bytes(after, before)
        for result in (y_next, z_next):
            assert result.shape == shape
            assert not np.shares_memory(result, y)
            assert not np.shares_memory(result, z)
        assert not np.shares_memory(y_next, z_next)

    @given(data=st.data(), bank=banks())
    def test_step_into_writes_the_bytes_step_returns(self, data, bank):
        B = data.draw(input_matrices(bank.size))
        shape = data.draw(state_shapes(bank.size))
        y, z = data.draw(arrays(shape)), data.draw(arrays(shape))
        u = data.draw(inputs(B, shape))
        osc = bank.oscillator(B)
        y_out, z_out, scratch = np.empty(shape), np.empty(shape), np.empty(shape)

        osc.step_into(y, z, u, y_out, z_out, scratch)

        expected = osc.step(y, z, u)
        assert_same_bytes(y_out, expected[0])
        assert_same_bytes(z_out, expected[1])

    @given(data=st.data(), bank=banks(per_oscillator_dt=st.just(False)))
    def test_scalar_dt_equals_the_same_dt_for_every_oscillator(self, data, bank):
        B = data.draw(input_matrices(bank.size))
        shape = data.draw(state_shapes(bank.size))
        y, z = data.draw(arrays(shape)), data.draw(arrays(shape))
        U = data.draw(input_sequences(B, shape))
        scalar = bank.oscillator(B)
        vector = scalar.with_params(dt=np.full(bank.size, bank.dt))

        expected = scalar.scan(U, y, z)
        actual = vector.scan(U, y, z)

        assert_same_bytes(actual[0], expected[0])
        assert_same_bytes(actual[1], expected[1])
        if len(U):
            one = vector.step(y, z, U[0])
            assert_same_bytes(one[0], expected[0][0])

    @given(data=st.data(), bank=banks(), rows=batch_sizes)
    def test_batch_rows_equal_separate_steps(self, data, bank, rows):
        B = data.draw(input_matrices(bank.size))
        shape = (rows, bank.size)
        y, z = data.draw(arrays(shape)), data.draw(arrays(shape))
        batched = data.draw(st.booleans())
        u = data.draw(arrays(input_shapes(B, shape, batched=batched)))
        osc = bank.oscillator(B)

        y_next, z_next = osc.step(y, z, u)

        for i in range(rows):
            alone = osc.step(y[i], z[i], u[i] if batched else u)
            assert_same_bytes(y_next[i], alone[0])
            assert_same_bytes(z_next[i], alone[1])

    @given(data=st.data(), bank=banks(), rows=batch_sizes)
    def test_batch_rows_equal_separate_scans(self, data, bank, rows):
        B = data.draw(input_matrices(bank.size))
        shape = (rows, bank.size)
        y0, z0 = data.draw(arrays(shape)), data.draw(arrays(shape))
        U = data.draw(input_sequences(B, shape))
        batched = U.ndim == 1 + len(input_shapes(B, shape, batched=True))
        osc = bank.oscillator(B)

        Y, Z = osc.scan(U, y0, z0)

        for i in range(rows):
            alone = osc.scan(U[:, i] if batched else U, y0[i], z0[i])
            assert_same_bytes(Y[:, i], alone[0])
            assert_same_bytes(Z[:, i], alone[1])


class TestScan:
    @given(data=st.data(), bank=banks())
    def test_scan_equals_a_step_loop(self, data, bank):
        B = data.draw(input_matrices(bank.size))
        shape = data.draw(state_shapes(bank.size))
        y0, z0 = data.draw(arrays(shape)), data.draw(arrays(shape))
        U = data.draw(input_sequences(B, shape))
        osc = bank.oscillator(B)

        Y, Z = osc.scan(U, y0, z0)

        Y_loop, Z_loop = _step_loop(osc, U, y0, z0)
        assert Y.shape == Z.shape == (len(U), *shape)
        for t in range(len(U)):
            assert_same_bytes(Y[t], Y_loop[t])
            assert_same_bytes(Z[t], Z_loop[t])

    @pytest.mark.parametrize("scheme", ALL_SCHEMES, ids=str)
    def test_scan_of_no_steps_returns_empty_trajectories(self, scheme):
        osc = Oscillator(A2, 0.1, G=1.0 if scheme.damped else None, mode=scheme)

        Y, Z = osc.scan(np.empty((0, 3, 2)), np.ones((3, 2)), np.ones((3, 2)))

        assert Y.shape == Z.shape == (0, 3, 2)

    def test_scan_does_not_modify_its_inputs(self):
        osc = Oscillator(A2, 0.1, mode="imex", B=np.ones((2, 3)))
        U = np.arange(12.0).reshape(4, 3)
        y0, z0 = np.array([1.0, -1.0]), np.array([0.5, 0.25])
        snapshot = [np.copy(a) for a in (U, y0, z0)]

        osc.scan(U, y0, z0)

        for before, after in zip(snapshot, (U, y0, z0), strict=True):
            assert_same_bytes(after, before)

    def test_overflow_raises_with_the_first_non_finite_step(self):
        # EX with A = 0, dt = 1: z' = (1 - G) z, so z_t = (-1e100)^(t+1) after
        # step t: 1e100, 1e200, 1e300 are finite and step 3 overflows.
        osc = Oscillator(np.zeros(2), 1.0, G=1e100, mode="ex", allow_unstable=True)
        y0 = np.zeros((2, 2))
        z0 = np.array([[0.0, 0.0], [0.0, 1.0]])

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(NonFiniteStateError) as info:
                osc.scan(np.zeros(10), y0, z0)

        assert info.value.step == 3
        assert info.value.argument == "U"
        assert str(info.value) == (
            "state must remain finite; step 3 overflowed (the parameters are outside "
            "the stable region, or the input is too large)"
        )
        assert isinstance(info.value, ArithmeticError)

    def test_overflow_step_matches_the_step_loop(self):
        osc = Oscillator(np.array([1.0, 100.0]), 1.0, mode="imex", allow_unstable=True)
        U = np.zeros(400)
        with np.errstate(over="ignore", invalid="ignore"):
            Y, Z = _step_loop(osc, U, np.ones(2), np.zeros(2))
        finite = [
            np.isfinite(y).all() and np.isfinite(z).all()
            for y, z in zip(Y, Z, strict=True)
        ]
        first = finite.index(False)

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(NonFiniteStateError) as info:
                osc.scan(U, np.ones(2), np.zeros(2))

        assert 0 < first < len(U) - 1
        assert info.value.step == first

    def test_unstable_parameters_that_stay_finite_scan_normally(self):
        osc = Oscillator(np.array([100.0]), 1.0, mode="imex", allow_unstable=True)

        Y, Z = osc.scan(np.zeros(3), np.ones(1), np.zeros(1))

        # z' = z - 100 y, y' = y + z' from (1, 0): exact in float64.
        assert_same_bytes(Z[:, 0], [-100.0, 9800.0, -960300.0])
        assert_same_bytes(Y[:, 0], [-99.0, 9701.0, -950599.0])

    def test_scan_over_shared_input_matches_scan_over_repeated_input(self):
        osc = Oscillator(A2, 0.1, mode="imex2", G=0.2)
        U = np.array([[0.5, -0.5], [1.0, 2.0]])
        y0 = np.ones((3, 2))

        shared = osc.scan(U, y0, y0)
        repeated = osc.scan(np.repeat(U[:, np.newaxis], 3, axis=1), y0, y0)

        assert_same_bytes(shared[0], repeated[0])
        assert_same_bytes(shared[1], repeated[1])


def test_scan_rejects_a_scalar_U():
    osc = Oscillator(A2, 0.1)

    with pytest.raises(InvalidShapeError, match="U must have a leading time axis"):
        osc.scan(1.0, np.zeros(2), np.zeros(2))
