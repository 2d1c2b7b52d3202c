"""Every error path: the typed error class and the message, which is a contract.

Messages name the argument, say what is allowed and show what was received;
callers match on them, so the tests match the whole text where it is fixed.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from linoss_dynamics import (
    InvalidDampingError,
    InvalidDtypeError,
    InvalidShapeError,
    InvalidValueError,
    LinOSSError,
    NonFiniteStateError,
    Oscillator,
    UnstableSchemeError,
    UnsupportedModeError,
    damped_linoss_step,
    energy,
    linoss_scan,
    linoss_step,
)

A2 = np.array([1.0, 4.0])
Z2 = np.zeros(2)
MODES = (
    "damped_ex, damped_im, damped_imex1, damped_imex2, ex, explicit, im, imex, "
    "imex1, imex2, implicit, implicit_explicit, implicit_explicit1, "
    "implicit_explicit2"
)
RAGGED = [[1.0, 2.0], [3.0]]


def exactly(message: str) -> str:
    """A ``match`` pattern for the whole of ``message``."""
    return f"^{re.escape(message)}$"


def starts_with(message: str) -> str:
    """A ``match`` pattern for a message that continues with NumPy's own words."""
    return f"^{re.escape(message)}"


def _osc(**kwargs):
    return Oscillator(**{"A": A2, "dt": 0.1, **kwargs})


class TestHierarchy:
    @pytest.mark.parametrize(
        "error",
        [
            InvalidShapeError,
            InvalidDampingError,
            UnsupportedModeError,
            InvalidValueError,
            InvalidDtypeError,
            UnstableSchemeError,
            NonFiniteStateError,
        ],
    )
    def test_every_error_is_a_linoss_error_and_a_value_error(self, error):
        assert issubclass(error, LinOSSError)
        assert issubclass(error, ValueError)

    def test_dtype_errors_are_also_type_errors(self):
        assert issubclass(InvalidDtypeError, TypeError)

    def test_non_finite_state_errors_are_also_arithmetic_errors(self):
        assert issubclass(NonFiniteStateError, ArithmeticError)

    def test_errors_keep_the_argument_and_value(self):
        with pytest.raises(InvalidDampingError) as info:
            _osc(G=[0.5, -0.25])

        assert info.value.argument == "G"
        assert info.value.value == -0.25

    def test_non_finite_state_error_step_defaults_to_none(self):
        error = NonFiniteStateError("state must remain finite", argument="U")

        assert error.step is None
        assert error.argument == "U"


NON_REAL = [
    pytest.param(np.array([1.0 + 0j, 2.0]), "complex128", id="complex"),
    pytest.param(np.array([1.0, None], dtype=object), "object", id="object"),
    pytest.param(np.array(["1", "2"]), "<U1", id="string"),
    pytest.param(np.array([True, False]), "bool", id="bool"),
    pytest.param(np.array([b"1", b"2"]), "|S1", id="bytes"),
]


class TestOscillatorConstructor:
    @pytest.mark.parametrize("argument", ["A", "G", "dt", "B"])
    @pytest.mark.parametrize(("value", "dtype"), NON_REAL)
    def test_non_real_dtypes_are_refused(self, argument, value, dtype):
        with pytest.raises(
            InvalidDtypeError,
            match=exactly(
                f"{argument} must hold real numbers (integer or floating dtype); got "
                f"dtype {dtype}"
            ),
        ) as info:
            _osc(**{argument: value})

        assert isinstance(info.value, TypeError)
        assert info.value.argument == argument

    @pytest.mark.parametrize("argument", ["A", "G", "B"])
    @pytest.mark.parametrize(
        ("bad", "shown"), [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")]
    )
    def test_non_finite_parameters_are_refused(self, argument, bad, shown):
        value = np.array([1.0, bad])

        with pytest.raises(
            InvalidValueError,
            match=exactly(
                f"{argument} must contain only finite values; got {shown} at index 1"
            ),
        ):
            _osc(**{argument: value})

    def test_non_finite_matrix_entry_is_located(self):
        with pytest.raises(
            InvalidValueError,
            match=exactly("A must contain only finite values; got inf at index (0, 1)"),
        ):
            _osc(A=np.array([[1.0, np.inf], [0.0, 1.0]]))

    @pytest.mark.parametrize(
        ("dt", "message"),
        [
            (0.0, "dt must be finite and positive; got 0.0"),
            (-0.1, "dt must be finite and positive; got -0.1"),
            (np.nan, "dt must be finite and positive; got nan"),
            (np.inf, "dt must be finite and positive; got inf"),
            ([0.1, 0.0], "dt must be finite and positive; got 0.0 at index 1"),
            ([-0.1, 0.1], "dt must be finite and positive; got -0.1 at index 0"),
            ([0.1, np.inf], "dt must contain only finite values; got inf at index 1"),
            ([np.nan, 0.1], "dt must contain only finite values; got nan at index 0"),
        ],
    )
    def test_dt_must_be_finite_and_positive(self, dt, message):
        with pytest.raises(InvalidValueError, match=exactly(message)):
            _osc(dt=dt)

    @pytest.mark.parametrize(
        ("dt", "shape"),
        [([0.1, 0.1, 0.1], "(3,)"), ([0.1], "(1,)"), (np.full((2, 2), 0.1), "(2, 2)")],
    )
    def test_dt_is_a_scalar_or_one_per_oscillator(self, dt, shape):
        with pytest.raises(
            InvalidShapeError,
            match=exactly(
                "dt must be a scalar or a length-2 vector (one step per oscillator); "
                f"got shape {shape}"
            ),
        ):
            _osc(dt=dt)

    def test_negative_stiffness_is_refused(self):
        with pytest.raises(
            InvalidValueError,
            match=exactly("A stiffness must be non-negative; got -4.0 at index 1"),
        ):
            _osc(A=[1.0, -4.0])

    @pytest.mark.parametrize("G", [-0.5, [0.5, -0.5], np.diag([0.5, -0.5])])
    def test_negative_damping_is_refused(self, G):
        index = 0 if np.ndim(G) == 0 else 1

        with pytest.raises(
            InvalidDampingError,
            match=exactly(f"G damping must be non-negative; got -0.5 at index {index}"),
        ):
            _osc(G=G)

    @pytest.mark.parametrize(
        ("A", "shape"),
        [(1.0, "()"), (np.ones((1, 1, 1)), "(1, 1, 1)")],
        ids=["scalar", "3-D"],
    )
    def test_A_is_a_vector_or_a_diagonal_matrix(self, A, shape):
        with pytest.raises(
            InvalidShapeError,
            match=exactly(
                "A must be a length-P vector or a PxP diagonal matrix (P = number of "
                f"oscillators); got shape {shape}"
            ),
        ):
            _osc(A=A)

    def test_non_square_A_is_refused(self):
        with pytest.raises(
            InvalidShapeError,
            match=exactly(
                "A must be length-2 vector or 2x2 diagonal matrix; got shape (2, 3)"
            ),
        ):
            _osc(A=np.ones((2, 3)))

    def test_empty_A_is_refused(self):
        with pytest.raises(
            InvalidShapeError,
            match=exactly(
                "A must describe at least one oscillator; got an empty array"
            ),
        ):
            _osc(A=np.zeros(0))

    def test_off_diagonal_A_is_refused_naming_what_is_allowed(self):
        # Oscillator takes no scalar A (P is its length), so the message must
        # not offer one.
        with pytest.raises(
            InvalidShapeError,
            match=exactly(
                "A must be length-2 vector or 2x2 diagonal matrix; got a matrix with "
                "off-diagonal entry 0.5 at (0, 1) (oscillators are independent: pass "
                "the diagonal)"
            ),
        ):
            _osc(A=np.array([[1.0, 0.5], [0.0, 4.0]]))

    def test_off_diagonal_G_is_refused(self):
        with pytest.raises(
            InvalidShapeError,
            match=exactly(
                "G must be scalar, length-2 vector, or 2x2 diagonal matrix; got a matrix "
                "with off-diagonal entry 1e-300 at (1, 0) (oscillators are independent: "
                "pass the diagonal)"
            ),
        ):
            _osc(G=np.array([[0.5, 0.0], [1e-300, 0.5]]))

    @pytest.mark.parametrize(
        ("G", "shape"),
        [
            ([0.1, 0.2, 0.3], "(3,)"),
            (np.zeros((2, 2, 2)), "(2, 2, 2)"),
            (np.zeros((2, 3)), "(2, 3)"),
        ],
    )
    def test_G_shape_is_checked(self, G, shape):
        with pytest.raises(
            InvalidShapeError,
            match=exactly(
                f"G must be scalar, length-2 vector, or 2x2 diagonal matrix; got shape {shape}"
            ),
        ):
            _osc(G=G)

    @pytest.mark.parametrize(
        ("B", "shape"),
        [
            (np.ones(3), "(3,)"),
            (np.ones((3, 2)), "(3, 2)"),
            (np.ones((2, 0)), "(2, 0)"),
            (np.ones((2, 2, 2)), "(2, 2, 2)"),
            (1.0, "()"),
        ],
    )
    def test_B_shape_is_checked(self, B, shape):
        with pytest.raises(
            InvalidShapeError,
            match=exactly(
                f"B must be length-2 vector or matrix with 2 rows; got shape {shape}"
            ),
        ):
            _osc(B=B)

    @pytest.mark.parametrize("argument", ["A", "G", "dt", "B"])
    def test_ragged_lists_are_refused(self, argument):
        with pytest.raises(
            InvalidShapeError,
            match=starts_with(
                f"{argument} must be a real number or a rectangular array of real "
                "numbers; got list that NumPy cannot convert ("
            ),
        ):
            _osc(**{argument: RAGGED})

    @pytest.mark.parametrize(
        ("mode", "shown"),
        [("rk4", "'rk4'"), ("imex3", "'imex3'"), (3, "3"), (b"im", "b'im'")],
    )
    def test_unknown_mode_is_refused_listing_the_known_ones(self, mode, shown):
        with pytest.raises(
            UnsupportedModeError,
            match=exactly(f"Unsupported LinOSS mode: {shown}; expected one of {MODES}"),
        ) as info:
            _osc(mode=mode)

        assert info.value.argument == "mode"

    def test_unstable_parameters_are_refused(self):
        with pytest.raises(UnstableSchemeError) as info:
            _osc(dt=1.5, mode="imex")

        assert str(info.value) == (
            "imex is unstable for oscillator 1: dt^2 A < 4 fails with dt=1.5, A=4.0, "
            "G=0.0 (9.0 vs 4.0); a dt below 1.0, for example 0.9, is stable for every "
            "oscillator (or pass allow_unstable=True)"
        )

    def test_with_params_validates_like_the_constructor(self):
        osc = _osc(G=0.5)

        with pytest.raises(
            InvalidDampingError,
            match=exactly("G damping must be non-negative; got -1.0 at index 0"),
        ):
            osc.with_params(G=-1.0)

    @pytest.mark.parametrize(
        ("kwargs", "error", "message"),
        [
            (
                {"omega": [-1.0], "zeta": 0.1},
                InvalidValueError,
                "omega frequency must be non-negative; got -1.0 at index 0",
            ),
            (
                {"omega": [1.0], "zeta": [0.1, -0.1]},
                InvalidValueError,
                "zeta damping ratio must be non-negative; got -0.1 at index 1",
            ),
            (
                {"omega": [np.nan], "zeta": 0.1},
                InvalidValueError,
                "omega must contain only finite values; got nan at index 0",
            ),
            (
                {"omega": [1.0], "zeta": 1j},
                InvalidDtypeError,
                "zeta must hold real numbers (integer or floating dtype); got dtype complex128",
            ),
        ],
    )
    def test_from_frequency_damping_validates_its_own_arguments(
        self, kwargs, error, message
    ):
        with pytest.raises(error, match=exactly(message)):
            Oscillator.from_frequency_damping(dt=0.1, **kwargs)


class TestStep:
    @pytest.mark.parametrize(
        ("y", "z", "argument", "shape"),
        [
            (np.zeros((2, 1)), np.zeros((2, 1)), "y", "(2, 1)"),
            (np.zeros(3), np.zeros(3), "y", "(3,)"),
            (np.zeros((1, 1, 2)), np.zeros((1, 1, 2)), "y", "(1, 1, 2)"),
            (0.0, 0.0, "y", "()"),
            (Z2, [0.0, 0.0, 0.0], "z", "(3,)"),
        ],
    )
    def test_state_has_shape_P_or_N_by_P(self, y, z, argument, shape):
        with pytest.raises(
            InvalidShapeError,
            match=exactly(f"{argument} must have shape (2,) or (N, 2); got {shape}"),
        ):
            _osc().step(y, z)

    @pytest.mark.parametrize(
        ("z", "shape"),
        [
            (np.zeros(3), "(3,)"),
            (np.zeros((2, 1)), "(2, 1)"),
            (np.zeros((3, 3)), "(3, 3)"),
        ],
    )
    def test_z_shape_is_checked_like_y(self, z, shape):
        with pytest.raises(
            InvalidShapeError,
            match=exactly(f"z must have shape (2,) or (N, 2); got {shape}"),
        ):
            _osc().step(Z2, z)

    @pytest.mark.parametrize(
        ("y", "z"),
        [(Z2, np.zeros((3, 2))), (np.zeros((3, 2)), Z2), (np.zeros((1, 2)), Z2)],
    )
    def test_y_and_z_must_match(self, y, z):
        with pytest.raises(
            InvalidShapeError,
            match=exactly(
                f"y and z must have the same shape, got {y.shape} and {z.shape}"
            ),
        ):
            _osc().step(y, z)

    @pytest.mark.parametrize(("value", "dtype"), NON_REAL)
    @pytest.mark.parametrize("argument", ["y", "z", "u"])
    def test_non_real_dtypes_are_refused(self, argument, value, dtype):
        args = {"y": Z2, "z": Z2, "u": None, argument: value}

        with pytest.raises(
            InvalidDtypeError,
            match=exactly(
                f"{argument} must hold real numbers (integer or floating dtype); got "
                f"dtype {dtype}"
            ),
        ):
            _osc().step(**args)

    @pytest.mark.parametrize(
        ("B", "u", "message"),
        [
            (
                None,
                np.zeros((2, 1)),
                "u must have shape () or (2,) (the force itself, state shape (2,)); got (2, 1)",
            ),
            (
                None,
                [1.0, 2.0, 3.0],
                "u must have shape () or (2,) (the force itself, state shape (2,)); got (3,)",
            ),
            (
                None,
                np.zeros(1),
                "u must have shape () or (2,) (the force itself, state shape (2,)); got (1,)",
            ),
            (
                [1.0, 2.0],
                Z2,
                "u must have shape () (one scalar channel for vector B, state shape (2,)); got (2,)",
            ),
            (
                [1.0, 2.0],
                np.zeros(1),
                "u must have shape () (one scalar channel for vector B, state shape (2,)); got (1,)",
            ),
            (
                np.ones((2, 3)),
                1.0,
                "u must have shape (3,) (one value per column of B, state shape (2,)); got ()",
            ),
            (
                np.ones((2, 3)),
                np.ones((3, 1)),
                "u must have shape (3,) (one value per column of B, state shape (2,)); got (3, 1)",
            ),
        ],
        ids=[
            "column",
            "long",
            "length-1",
            "vector-B",
            "vector-B-length-1",
            "matrix-B-scalar",
            "matrix-B-column",
        ],
    )
    def test_input_shape_is_never_flattened_or_broadcast(self, B, u, message):
        with pytest.raises(InvalidShapeError, match=exactly(message)):
            _osc(B=B).step(Z2, Z2, u)

    @pytest.mark.parametrize(
        ("B", "u", "message"),
        [
            (
                None,
                np.zeros((4, 2)),
                "u must have shape () or (2,) or (3, 2) (the force itself, state shape (3, 2)); got (4, 2)",
            ),
            (
                [1.0, 2.0],
                np.zeros((3, 1)),
                "u must have shape () or (3,) (one scalar channel for vector B, state shape (3, 2)); got (3, 1)",
            ),
            (
                np.ones((2, 3)),
                np.ones((3, 3, 1)),
                "u must have shape (3,) or (3, 3) (one value per column of B, state shape (3, 2)); got (3, 3, 1)",
            ),
        ],
        ids=["B-none", "vector-B", "matrix-B"],
    )
    def test_batched_input_shape_is_checked(self, B, u, message):
        state = np.zeros((3, 2))

        with pytest.raises(InvalidShapeError, match=exactly(message)):
            _osc(B=B).step(state, state, u)

    @pytest.mark.parametrize(
        ("u", "shown"), [(np.nan, "nan"), (np.inf, "inf"), (np.array(-np.inf), "-inf")]
    )
    def test_non_finite_scalar_input_is_refused(self, u, shown):
        with pytest.raises(
            InvalidValueError,
            match=exactly(f"u must contain only finite values; got {shown}"),
        ):
            _osc().step(Z2, Z2, u)

    def test_ragged_input_is_refused(self):
        with pytest.raises(
            InvalidShapeError,
            match=starts_with(
                "u must be a real number or a rectangular array of real numbers; got list"
            ),
        ):
            _osc().step(Z2, Z2, RAGGED)


class TestScan:
    @pytest.mark.parametrize(
        ("U", "message"),
        [
            (
                np.ones((3, 2, 1)),
                "U[t] must have shape () or (2,) (the force itself, state shape (2,)); got (2, 1)",
            ),
            (
                np.ones((0, 2, 1)),
                "U[t] must have shape () or (2,) (the force itself, state shape (2,)); got (2, 1)",
            ),
            (
                np.ones((3, 1)),
                "U[t] must have shape () or (2,) (the force itself, state shape (2,)); got (1,)",
            ),
            (1.0, "U must have a leading time axis (one input per step); got a scalar"),
        ],
        ids=["column-rows", "empty-column-rows", "length-1-rows", "scalar"],
    )
    def test_input_sequence_shape_is_checked(self, U, message):
        with pytest.raises(InvalidShapeError, match=exactly(message)):
            _osc().scan(U, Z2, Z2)

    @pytest.mark.parametrize(
        ("U", "y0", "z0", "message"),
        [
            (
                np.ones(2),
                [0.0, np.nan],
                Z2,
                "y0 must contain only finite values; got nan at index 1",
            ),
            (
                np.ones(2),
                np.zeros((3, 2)),
                np.array([[0, 0], [0, np.inf], [0, 0]]),
                "z0 must contain only finite values; got inf at index (1, 1)",
            ),
            (
                np.array([[1.0, 1.0], [1.0, np.nan]]),
                Z2,
                Z2,
                "U must contain only finite values; got nan at index (1, 1)",
            ),
            (
                np.array([1.0, -np.inf]),
                Z2,
                Z2,
                "U must contain only finite values; got -inf at index 1",
            ),
        ],
        ids=["y0", "z0", "U", "scalar-U"],
    )
    def test_non_finite_values_are_refused(self, U, y0, z0, message):
        with pytest.raises(InvalidValueError, match=exactly(message)):
            _osc().scan(U, y0, z0)

    def test_initial_states_must_match(self):
        with pytest.raises(
            InvalidShapeError,
            match=exactly("y0 and z0 must have the same shape, got (3, 2) and (2,)"),
        ):
            _osc().scan(np.ones(2), np.zeros((3, 2)), Z2)

    def test_initial_state_shape_is_checked(self):
        with pytest.raises(
            InvalidShapeError,
            match=exactly("y0 must have shape (2,) or (N, 2); got (2, 1)"),
        ):
            _osc().scan(np.ones(2), np.zeros((2, 1)), np.zeros((2, 1)))

    @pytest.mark.parametrize(("value", "dtype"), NON_REAL)
    @pytest.mark.parametrize("argument", ["U", "y0", "z0"])
    def test_non_real_dtypes_are_refused(self, argument, value, dtype):
        args = {"U": np.ones(2), "y0": Z2, "z0": Z2, argument: value}

        with pytest.raises(
            InvalidDtypeError,
            match=exactly(
                f"{argument} must hold real numbers (integer or floating dtype); got "
                f"dtype {dtype}"
            ),
        ):
            _osc().scan(**args)

    def test_ragged_input_sequence_is_refused(self):
        with pytest.raises(
            InvalidShapeError,
            match=starts_with("U must be a real number or a rectangular array"),
        ):
            _osc().scan(RAGGED, Z2, Z2)


class TestEnergy:
    def test_state_shapes_must_match(self):
        with pytest.raises(
            InvalidShapeError,
            match=exactly("y and z must have the same shape, got (2,) and (1, 2)"),
        ):
            _osc().energy(Z2, np.zeros((1, 2)))

    def test_state_must_fit_the_bank(self):
        with pytest.raises(
            InvalidShapeError,
            match=exactly("z must have shape (2,) or (N, 2); got (3,)"),
        ):
            _osc().energy(Z2, np.zeros(3))

    def test_non_real_state_is_refused(self):
        with pytest.raises(
            InvalidDtypeError,
            match=exactly(
                "y must hold real numbers (integer or floating dtype); got dtype complex128"
            ),
        ):
            _osc().energy(np.zeros(2, dtype=complex), Z2)


class TestCompatFunctions:
    @pytest.mark.parametrize(
        ("kwargs", "error", "message"),
        [
            (
                {"y": np.zeros((2, 1))},
                InvalidShapeError,
                "y and z must each be scalar or 1-D, got (2, 1) and (2,) (the 0.2 functions take one bank; Oscillator takes a batch axis)",
            ),
            (
                {"z": [0.0]},
                InvalidShapeError,
                "y and z must have the same shape, got (2,) and (1,)",
            ),
            (
                {"y": [0.0, np.nan]},
                InvalidValueError,
                "y must contain only finite values; got nan at index 1",
            ),
            (
                {"z": [np.inf, 0.0]},
                InvalidValueError,
                "z must contain only finite values; got inf at index 0",
            ),
            (
                {"y": np.array([1j, 0])},
                InvalidDtypeError,
                "y must hold real numbers (integer or floating dtype); got dtype complex128",
            ),
            (
                {"u": np.zeros((2, 1))},
                InvalidShapeError,
                "u must be scalar or 1-D; got shape (2, 1)",
            ),
            (
                {"u": [1.0, 2.0, 3.0]},
                InvalidShapeError,
                "u must be scalar or length-2 when B is omitted; got shape (3,)",
            ),
            (
                {"u": [True, False]},
                InvalidDtypeError,
                "u must hold real numbers (integer or floating dtype); got dtype bool",
            ),
            (
                {"u": [np.nan, 0.0]},
                InvalidValueError,
                "u must contain only finite values; got nan at index 0",
            ),
            (
                {"B": [1.0, 1.0], "u": [1.0, 2.0, 3.0]},
                InvalidShapeError,
                "u must be scalar or length-2 for vector B; got shape (3,)",
            ),
            (
                {"B": np.ones((2, 3)), "u": [1.0, 2.0]},
                InvalidShapeError,
                "B and u shapes are incompatible: B is (2, 3), so u must have length 3; got shape (2,)",
            ),
            (
                {"B": np.ones(3), "u": 1.0},
                InvalidShapeError,
                "B vector must have length 2; got length 3",
            ),
            (
                {"B": np.ones(3)},
                InvalidShapeError,
                "B vector must have length 2; got length 3",
            ),
            (
                {"B": np.ones((3, 2)), "u": [1.0, 2.0]},
                InvalidShapeError,
                "B must be length-2 vector or matrix with 2 rows; got shape (3, 2)",
            ),
            (
                {"B": [1.0, np.inf], "u": 1.0},
                InvalidValueError,
                "B must contain only finite values; got inf at index 1",
            ),
            (
                {"dt": [0.1, 0.1]},
                InvalidShapeError,
                "dt must be a scalar here; got shape (2,) (per-oscillator dt is accepted by Oscillator)",
            ),
            ({"dt": 0.0}, InvalidValueError, "dt must be finite and positive; got 0.0"),
            (
                {"dt": -1.0},
                InvalidValueError,
                "dt must be finite and positive; got -1.0",
            ),
            (
                {"dt": np.nan},
                InvalidValueError,
                "dt must be finite and positive; got nan",
            ),
            (
                {"dt": "0.1"},
                InvalidDtypeError,
                "dt must hold real numbers (integer or floating dtype); got dtype <U3",
            ),
            (
                {"A": [1.0, 2.0, 3.0]},
                InvalidShapeError,
                "A must be scalar, length-2 vector, or 2x2 diagonal matrix; got shape (3,)",
            ),
            (
                {"A": [[1.0, 1e-9], [0.0, 1.0]]},
                InvalidShapeError,
                "A must be scalar, length-2 vector, or 2x2 diagonal matrix; got a matrix with off-diagonal entry 1e-09 at (0, 1) (oscillators are independent: pass the diagonal)",
            ),
            (
                {"A": [1.0, -1.0]},
                InvalidValueError,
                "A stiffness must be non-negative; got -1.0 at index 1",
            ),
            (
                {"A": [1.0, np.nan]},
                InvalidValueError,
                "A must contain only finite values; got nan at index 1",
            ),
            (
                {"damping": -0.5},
                InvalidDampingError,
                "G damping must be non-negative; got -0.5 at index 0",
            ),
            (
                {"G": [0.5, -0.5]},
                InvalidDampingError,
                "G damping must be non-negative; got -0.5 at index 1",
            ),
            (
                {"mode": "rk4"},
                UnsupportedModeError,
                f"Unsupported LinOSS mode: 'rk4'; expected one of {MODES}",
            ),
        ],
    )
    def test_linoss_step(self, kwargs, error, message):
        args = {"y": [1.0, 2.0], "z": [0.0, 0.0], "A": 1.0, "dt": 0.1, **kwargs}

        with pytest.raises(error, match=exactly(message)):
            linoss_step(**args)

    def test_damped_linoss_step_refuses_negative_damping(self):
        with pytest.raises(
            InvalidDampingError,
            match=exactly("G damping must be non-negative; got -1.0 at index 0"),
        ):
            damped_linoss_step([1.0], [0.0], A=1.0, G=-1.0, dt=0.1)

    @pytest.mark.parametrize(
        ("kwargs", "error", "message"),
        [
            (
                {"U": np.ones((2, 2, 2))},
                InvalidShapeError,
                "U must be 1-D (T,) or 2-D (T, m), got shape (2, 2, 2)",
            ),
            (
                {"U": [1.0, np.nan]},
                InvalidValueError,
                "U must contain only finite values; got nan at index 1",
            ),
            (
                {"U": [1j]},
                InvalidDtypeError,
                "U must hold real numbers (integer or floating dtype); got dtype complex128",
            ),
            (
                {"A": np.ones((2, 3))},
                InvalidShapeError,
                "A must be scalar, a vector, or a diagonal square matrix; got (2, 3)",
            ),
            (
                {"B": 2.0},
                InvalidShapeError,
                "Cannot infer state dimension from scalar A and B shape ()",
            ),
            (
                {"y0": [1.0, 2.0], "z0": [1.0]},
                InvalidShapeError,
                "y0 and z0 must have the same length, got (2,) and (1,)",
            ),
            (
                {"y0": np.ones((2, 1))},
                InvalidShapeError,
                "y must be scalar or 1-D, got shape (2, 1)",
            ),
            (
                {"z0": [np.inf]},
                InvalidValueError,
                "z0 must contain only finite values; got inf at index 0",
            ),
            (
                {"y0": [1.0, 2.0], "B": np.ones((3, 2)), "U": np.ones((2, 2))},
                InvalidShapeError,
                "B must be length-2 vector or matrix with 2 rows; got shape (3, 2)",
            ),
            (
                {"y0": [1.0, 2.0], "B": np.ones((2, 3)), "U": np.ones((2, 2))},
                InvalidShapeError,
                "B and u shapes are incompatible: B is (2, 3), so u must have length 3; got shape (2,)",
            ),
            (
                {"y0": [1.0, 2.0], "U": np.ones((2, 3))},
                InvalidShapeError,
                "u must be scalar or length-2 when B is omitted; got shape (3,)",
            ),
            ({"dt": 0.0}, InvalidValueError, "dt must be finite and positive; got 0.0"),
            (
                {"mode": "rk4"},
                UnsupportedModeError,
                f"Unsupported LinOSS mode: 'rk4'; expected one of {MODES}",
            ),
            (
                {"G": -1.0},
                InvalidDampingError,
                "G damping must be non-negative; got -1.0 at index 0",
            ),
        ],
    )
    def test_linoss_scan(self, kwargs, error, message):
        args = {"U": np.ones(2), "A": 1.0, "dt": 0.1, **kwargs}

        with pytest.raises(error, match=exactly(message)):
            linoss_scan(**args)

    @pytest.mark.parametrize(
        ("kwargs", "error", "message"),
        [
            (
                {"A": [1.0, 2.0, 3.0]},
                InvalidShapeError,
                "A must be scalar, length-2 vector, or 2x2 diagonal matrix; got shape (3,)",
            ),
            (
                {"z": [0.0]},
                InvalidShapeError,
                "y and z must have the same shape, got (2,) and (1,)",
            ),
            (
                {"y": [np.nan, 0.0]},
                InvalidValueError,
                "y must contain only finite values; got nan at index 0",
            ),
            (
                {"A": [1.0, -1.0]},
                InvalidValueError,
                "A stiffness must be non-negative; got -1.0 at index 1",
            ),
        ],
    )
    def test_energy(self, kwargs, error, message):
        args = {"y": [1.0, 2.0], "z": [0.0, 0.0], "A": 1.0, **kwargs}

        with pytest.raises(error, match=exactly(message)):
            energy(**args)
