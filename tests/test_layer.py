"""``LinOSSLayer``: exact arithmetic, streaming equals batch, and typed refusals."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import oracle
import pytest
import strategies as sts
from hypothesis import given
from hypothesis import strategies as st
from test_determinism import cpu_report

from linoss_dynamics import (
    InvalidDampingError,
    InvalidDtypeError,
    InvalidShapeError,
    InvalidValueError,
    LayerState,
    LinOSSError,
    LinOSSLayer,
    NonFiniteStateError,
    Oscillator,
    Scheme,
    UnstableSchemeError,
    UnsupportedModeError,
    layer_from_module,
    load_equinox,
    load_layer,
    parameterize,
    save_layer,
)
from linoss_dynamics import layer as layer_module
from linoss_dynamics._forcing import ordered_matvec

ALL_SCHEMES = list(Scheme)


def _random_layer(
    scheme: Scheme, *, seed: int = 0, P: int = 5, H: int = 3, vector_dt: bool = True
) -> LinOSSLayer:
    rng = np.random.default_rng(seed)
    A = rng.uniform(0.0, 4.0, P)
    G = rng.uniform(0.0, 1.0, P) if scheme.damped else None
    if scheme is Scheme.DAMPED_EX:
        G = 0.2 * A + rng.uniform(0.1, 0.5, P)  # keeps dt A <= G for dt <= 0.2
    dt = rng.uniform(0.05, 0.2, P) if vector_dt else 0.1
    B = rng.normal(size=(P, H)) + 1j * rng.normal(size=(P, H))
    C = rng.normal(size=(H, P)) + 1j * rng.normal(size=(H, P))
    D = rng.normal(size=H)
    return LinOSSLayer(A, dt, B, C, D, G=G, scheme=scheme)


# -- streaming and batch ------------------------------------------------------


@pytest.mark.parametrize("scheme", ALL_SCHEMES, ids=lambda s: s.value)
@given(data=st.data())
def test_step_loop_gives_the_bytes_of_forward(scheme: Scheme, data: Any) -> None:
    case = data.draw(sts.layer_cases(schemes=st.just(scheme)))
    layer = case.layer()

    expected, final = layer.run(case.U)
    state = layer.initial_state()
    rows = []
    for u in case.U:
        out, state = layer.step(state, u)
        rows.append(out)

    streamed = np.array(rows).reshape(expected.shape)
    sts.assert_same_bytes(streamed, expected)
    sts.assert_same_bytes(state.y, final.y)
    sts.assert_same_bytes(state.z, final.z)


@pytest.mark.parametrize("scheme", ALL_SCHEMES, ids=lambda s: s.value)
def test_forward_in_small_chunks_gives_the_bytes_of_one_chunk(
    scheme: Scheme, monkeypatch: pytest.MonkeyPatch
) -> None:
    layer = _random_layer(scheme)
    U = np.random.default_rng(1).normal(size=(300, layer.width))
    whole = layer.forward(U)

    monkeypatch.setattr(layer_module, "_CHUNK_FLOATS", 7 * (8 * 5 + 3 * 3))
    chunked = layer.forward(U)

    sts.assert_same_bytes(chunked, whole)


@pytest.mark.parametrize("scheme", ALL_SCHEMES, ids=lambda s: s.value)
def test_a_sequence_split_in_two_resumes_from_the_state(scheme: Scheme) -> None:
    layer = _random_layer(scheme, seed=2)
    U = np.random.default_rng(3).normal(size=(40, layer.width))

    whole, final = layer.run(U)
    head, middle = layer.run(U[:17])
    tail, resumed = layer.run(U[17:], middle)

    sts.assert_same_bytes(np.concatenate([head, tail]), whole)
    sts.assert_same_bytes(resumed.y, final.y)
    sts.assert_same_bytes(resumed.z, final.z)


def test_step_leaves_the_given_state_unchanged() -> None:
    layer = _random_layer(Scheme.DAMPED_IMEX1)
    state = LayerState(np.ones((2, 5)), np.full((2, 5), 2.0))

    layer.step(state, np.ones(3))

    assert state.y.tobytes() == np.ones((2, 5)).tobytes()
    assert state.z.tobytes() == np.full((2, 5), 2.0).tobytes()


def test_an_empty_sequence_gives_no_rows_and_the_starting_state() -> None:
    layer = _random_layer(Scheme.IMEX)
    state = LayerState(np.ones((2, 5)), np.zeros((2, 5)))

    out, final = layer.run(np.empty((0, 3)), state)

    assert out.shape == (0, 3)
    sts.assert_same_bytes(final.y, state.y)


# -- agreement with the core and with plain complex arithmetic ----------------


@pytest.mark.parametrize("scheme", ALL_SCHEMES, ids=lambda s: s.value)
@given(data=st.data())
def test_each_channel_has_the_bytes_of_the_core_oscillator(
    scheme: Scheme, data: Any
) -> None:
    case = data.draw(sts.layer_cases(schemes=st.just(scheme)))
    layer = case.layer()
    osc = Oscillator(case.bank.A, case.bank.dt, G=case.bank.G, mode=scheme)
    zeros = np.zeros(case.bank.size)

    _, final = layer.run(case.U)
    channels = []
    for part in (case.B.real, case.B.imag):
        F = ordered_matvec(np.ascontiguousarray(part.T), case.U)
        channels.append(osc.scan(F, zeros, zeros) if len(case.U) else None)

    for row, scanned in enumerate(channels):
        if scanned is None:
            continue
        Y, Z = scanned
        sts.assert_same_bytes(final.y[row], Y[-1])
        sts.assert_same_bytes(final.z[row], Z[-1])


@pytest.mark.parametrize("scheme", ALL_SCHEMES, ids=lambda s: s.value)
def test_outputs_match_complex_arithmetic_to_rounding(scheme: Scheme) -> None:
    layer = _random_layer(scheme, seed=4)
    U = np.random.default_rng(5).normal(size=(50, layer.width))
    osc = layer.oscillator
    y = np.zeros(layer.state_size, dtype=complex)
    z = np.zeros(layer.state_size, dtype=complex)
    expected = []
    for u in U:
        F = layer.B @ u
        y_re, z_re = osc.step(y.real.copy(), z.real.copy(), F.real.copy())
        y_im, z_im = osc.step(y.imag.copy(), z.imag.copy(), F.imag.copy())
        y, z = y_re + 1j * y_im, z_re + 1j * z_im
        expected.append((layer.C @ y).real + layer.D * u)

    out = layer.forward(U)

    np.testing.assert_allclose(out, np.array(expected), rtol=1e-12, atol=1e-12)


# -- damping switched off -----------------------------------------------------


@pytest.mark.parametrize(
    ("damped", "undamped"),
    [(Scheme.DAMPED_IMEX1, Scheme.IMEX), (Scheme.DAMPED_IMEX2, Scheme.IMEX)],
    ids=["imex1", "imex2"],
)
@given(case=sts.layer_cases(schemes=st.just(Scheme.IMEX)))
def test_zero_damping_imex_gives_the_bytes_of_undamped_imex(
    damped: Scheme, undamped: Scheme, case: sts.LayerCase
) -> None:
    bank = case.bank

    plain = LinOSSLayer(bank.A, bank.dt, case.B, case.C, case.D, scheme=undamped)
    zero_G = LinOSSLayer(
        bank.A, bank.dt, case.B, case.C, case.D, G=np.zeros(bank.size), scheme=damped
    )

    sts.assert_same_bytes(zero_G.forward(case.U), plain.forward(case.U))


def test_zero_damping_im_agrees_with_undamped_im_to_rounding_only() -> None:
    # The core keeps two operation orders for IM (see ``schemes``): the undamped
    # one multiplies by S = 1 / (1 + dt^2 A), the damped one divides by
    # 1 + dt G + dt^2 A. At G = 0 the algebra is the same and the bytes are not.
    rng = np.random.default_rng(6)
    P, H = 8, 3
    A, dt = rng.uniform(0.0, 100.0, P), rng.uniform(0.01, 1.0, P)
    B = rng.normal(size=(P, H)) + 1j * rng.normal(size=(P, H))
    C = rng.normal(size=(H, P)) + 1j * rng.normal(size=(H, P))
    D, U = rng.normal(size=H), rng.normal(size=(200, H))

    plain = LinOSSLayer(A, dt, B, C, D, scheme="im").forward(U)
    zero_G = LinOSSLayer(A, dt, B, C, D, G=np.zeros(P), scheme="damped_im").forward(U)

    assert np.max(np.abs(plain - zero_G)) <= 1e-13 * np.max(np.abs(plain))


# -- golden tiny cases --------------------------------------------------------

# One oscillator, one channel: A = 4, dt = 1/2, B = 1 + 2i, C = 1/2 - i,
# D = 1/4, inputs u = 1, -2, 0. Each value was derived by hand in exact
# rational arithmetic from the scheme's update equations (README "Schemes"),
# channel by channel (F_re = u, F_im = 2u), then out = y_re / 2 + y_im + u / 4.
# Every intermediate is a dyadic rational with few bits, so float64 represents
# it exactly and any operation order must give these values. For example IM,
# step 1: z' = (z - dt A y + dt F) / (1 + dt^2 A) = (F / 2) / 2, so
# (y_re, y_im) = (1/8, 1/4) and out = 1/16 + 1/4 + 1/4 = 9/16.
GOLDEN = {
    Scheme.IM: (None, [9 / 16, -13 / 16, -15 / 32]),
    Scheme.IMEX: (None, [7 / 8, -9 / 8, -5 / 4]),
    Scheme.DAMPED_IM: (4.0, [13 / 32, -21 / 32, -25 / 128]),
    Scheme.DAMPED_IMEX1: (14.0, [21 / 64, -37 / 64, -45 / 512]),
    Scheme.DAMPED_IMEX2: (1.0, [7 / 8, -23 / 16, -25 / 32]),
    Scheme.DAMPED_EX: (3.0, [1 / 4, 1 / 8, -15 / 16]),
}


@pytest.mark.parametrize("scheme", ALL_SCHEMES, ids=lambda s: s.value)
def test_hand_computed_tiny_case(scheme: Scheme) -> None:
    G, expected = GOLDEN[scheme]
    layer = LinOSSLayer(
        [4.0],
        0.5,
        [[1 + 2j]],
        [[0.5 - 1j]],
        [0.25],
        G=None if G is None else [G],
        scheme=scheme,
    )

    out = layer.forward([[1.0], [-2.0], [0.0]])

    assert out[:, 0].tolist() == expected


# -- parameter forms ----------------------------------------------------------


@given(case=sts.layer_cases())
def test_real_imaginary_pairs_equal_complex_arrays(case: sts.LayerCase) -> None:
    bank = case.bank
    B_pairs = np.stack([case.B.real, case.B.imag], axis=-1)
    C_pairs = np.stack([case.C.real, case.C.imag], axis=-1)

    complex_layer = case.layer()
    pair_layer = LinOSSLayer(
        bank.A, bank.dt, B_pairs, C_pairs, case.D, G=bank.G, scheme=bank.scheme
    )

    sts.assert_same_bytes(pair_layer.forward(case.U), complex_layer.forward(case.U))


def test_a_real_input_matrix_has_zero_imaginary_part() -> None:
    rng = np.random.default_rng(7)
    B, C = rng.normal(size=(4, 2)), rng.normal(size=(2, 4)) + 1j
    U = rng.normal(size=(20, 2))

    real = LinOSSLayer(np.ones(4), 0.1, B, C, np.zeros(2), scheme="imex")
    as_complex = LinOSSLayer(np.ones(4), 0.1, B + 0j, C, np.zeros(2), scheme="imex")

    out, state = real.run(U)
    sts.assert_same_bytes(out, as_complex.forward(U))
    assert not state.y[1].any()
    assert not state.z[1].any()
    assert state.y[0].any()


def test_parameters_rebuild_an_identical_layer() -> None:
    layer = _random_layer(Scheme.DAMPED_IMEX2)
    U = np.random.default_rng(8).normal(size=(30, 3))

    rebuilt = LinOSSLayer(**layer.parameters(), scheme=layer.scheme)

    sts.assert_same_bytes(rebuilt.forward(U), layer.forward(U))


# -- refusals -----------------------------------------------------------------

_P, _H = 3, 2
_GOOD: dict[str, Any] = {
    "A": np.ones(_P),
    "dt": 0.1,
    "B": np.ones((_P, _H)) + 1j,
    "C": np.ones((_H, _P)) - 1j,
    "D": np.ones(_H),
}


def _with(**changes: Any) -> dict[str, Any]:
    return {**_GOOD, **changes}


@pytest.mark.parametrize(
    ("changes", "error", "argument"),
    [
        ({"A": np.ones((_P, 2))}, InvalidShapeError, "A"),
        ({"A": np.array([1.0, np.nan, 1.0])}, InvalidValueError, "A"),
        ({"A": np.array([1.0, -1.0, 1.0])}, InvalidValueError, "A"),
        ({"A": np.ones(_P) + 1j}, InvalidDtypeError, "A"),
        ({"dt": np.ones(_P + 1)}, InvalidShapeError, "dt"),
        ({"dt": 0.0}, InvalidValueError, "dt"),
        ({"B": np.ones((_P + 1, _H))}, InvalidShapeError, "B"),
        ({"B": np.ones((_P, _H, 3))}, InvalidShapeError, "B"),
        ({"B": np.ones(_P)}, InvalidShapeError, "B"),
        ({"B": np.array([["a"] * _H] * _P)}, InvalidDtypeError, "B"),
        ({"B": np.full((_P, _H), complex(1.0, np.nan))}, InvalidValueError, "B"),
        ({"C": np.ones((_P, _H))}, InvalidShapeError, "C"),
        ({"C": np.full((_H, _P, 2), np.inf)}, InvalidValueError, "C"),
        ({"D": np.ones(_H + 1)}, InvalidShapeError, "D"),
        ({"D": np.array([1.0, np.nan])}, InvalidValueError, "D"),
        ({"G": np.ones(_P)}, InvalidValueError, "G"),
        ({"G": -np.ones(_P), "scheme": "damped_im"}, InvalidDampingError, "G"),
        ({"scheme": "leapfrog"}, UnsupportedModeError, "scheme"),
        ({"dt": 3.0, "scheme": "imex"}, UnstableSchemeError, "dt"),
    ],
    ids=lambda x: repr(x)[:40] if isinstance(x, dict) else None,
)
def test_bad_parameters_raise_typed_errors_naming_the_array(
    changes: dict[str, Any], error: type[LinOSSError], argument: str
) -> None:
    kwargs = _with(**changes)

    with pytest.raises(error) as info:
        LinOSSLayer(**kwargs)

    assert info.value.argument is not None
    assert info.value.argument.split(" ")[0] == argument
    assert argument in str(info.value)


@pytest.mark.parametrize(
    ("U", "error"),
    [
        (np.ones((4, _H + 1)), InvalidShapeError),
        (np.ones(4), InvalidShapeError),
        (np.array([[1.0, np.nan]]), InvalidValueError),
        (np.ones((4, _H), dtype=complex), InvalidDtypeError),
    ],
    ids=["width", "rank", "nan", "complex"],
)
def test_bad_inputs_raise_typed_errors_naming_U(U: Any, error: type) -> None:
    layer = LinOSSLayer(**_GOOD)

    with pytest.raises(error) as info:
        layer.forward(U)

    assert info.value.argument == "U"


def test_bad_streaming_input_and_state_are_named() -> None:
    layer = LinOSSLayer(**_GOOD)
    state = layer.initial_state()

    with pytest.raises(InvalidShapeError) as bad_u:
        layer.step(state, np.ones(_H + 1))
    with pytest.raises(InvalidShapeError) as bad_state:
        layer.step(LayerState(np.ones(_P), np.ones(_P)), np.ones(_H))
    with pytest.raises(InvalidShapeError) as not_a_state:
        layer.step(3.0, np.ones(_H))  # type: ignore[arg-type]

    assert bad_u.value.argument == "u_t"
    assert bad_state.value.argument == "state.y"
    assert not_a_state.value.argument == "state"


def test_overflow_raises_non_finite_state_with_the_step() -> None:
    layer = LinOSSLayer(
        **_with(dt=10.0, scheme="imex", A=np.full(_P, 100.0)), allow_unstable=True
    )
    U = np.ones((400, _H))

    with pytest.raises(NonFiniteStateError) as info:
        layer.forward(U)

    assert info.value.step is not None
    assert 0 < info.value.step < 400


def test_the_layer_is_immutable() -> None:
    layer = LinOSSLayer(**_GOOD)

    with pytest.raises(AttributeError):
        layer.scheme = Scheme.IMEX  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        layer.D[0] = 5.0


# -- the training parameterisation --------------------------------------------


def test_parameterize_undamped_is_relu_and_sigmoid() -> None:
    raw_A = np.array([-1.0, 0.0, 2.5])
    raw_dt = np.array([-30.0, 0.0, 3.0])

    params = parameterize("imex", A=raw_A, dt=raw_dt)

    assert params["A"].tolist() == [0.0, 0.0, 2.5]
    np.testing.assert_allclose(params["dt"], 1.0 / (1.0 + np.exp(-raw_dt)), rtol=1e-15)
    assert set(params) == {"A", "dt"}


@pytest.mark.parametrize(
    "scheme",
    [Scheme.DAMPED_IMEX1, Scheme.DAMPED_IMEX2, Scheme.DAMPED_EX],
    ids=lambda s: s.value,
)
@given(raw=st.tuples(sts.arrays(6, 50.0), sts.arrays(6, 5.0), sts.arrays(6, 3.0)))
def test_parameterize_damped_lands_where_the_layer_runs(
    scheme: Scheme, raw: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    raw_A, raw_dt, raw_G = raw
    if scheme is Scheme.DAMPED_IMEX2:
        raw_G = np.minimum(np.abs(raw_G), 0.9)  # keeps s G < 1, where bounds exist
    if scheme is Scheme.DAMPED_EX:
        raw_A = np.abs(raw_A)  # G's lower bound is s A: negative for raw A < 0

    params = parameterize(scheme, A=raw_A, dt=raw_dt, G=raw_G)
    # The projections map onto closed regions whose edge (a double eigenvalue
    # on the unit circle) the core counts as unstable, so the edge is allowed.
    layer = LinOSSLayer(
        params["A"],
        params["dt"],
        np.ones((6, 1)),
        np.ones((1, 6)),
        np.ones(1),
        G=params["G"],
        scheme=scheme,
        allow_unstable=True,
    )

    assert (params["G"] >= 0.0).all()
    assert (params["A"] >= 0.0).all()
    assert ((params["dt"] > 0.0) & (params["dt"] < 1.0)).all()
    assert layer.state_size == 6


def test_parameterize_imex1_clips_stiffness_into_its_bounds() -> None:
    # With dt = sigmoid(0) = 1/2 and G = 2: dt G = 1, sqrt(1 + 1) = sqrt 2, the
    # bounds are (3 -+ 2 sqrt 2) * 4.
    raw_dt, raw_G = np.zeros(3), np.full(3, 2.0)
    raw_A = np.array([0.0, 5.0, 100.0])

    params = parameterize("damped_imex1", A=raw_A, dt=raw_dt, G=raw_G)

    low, high = 4 * (3 - 2 * np.sqrt(2)), 4 * (3 + 2 * np.sqrt(2))
    # lo + relu(A - lo) - relu(A - hi) rounds A - lo and A - hi: a few ULPs of A.
    np.testing.assert_allclose(params["A"], [low, 5.0, high], rtol=1e-14, atol=1e-13)


def test_parameterize_never_runs_inside_the_layer() -> None:
    raw_dt = np.zeros(_P)

    layer = LinOSSLayer(**_with(dt=raw_dt + 0.25))

    assert np.asarray(layer.dt).tolist() == [0.25] * _P


@pytest.mark.parametrize(
    ("scheme", "raw", "error", "argument"),
    [
        ("damped_imex2", {"G": np.full(_P, 10.0)}, InvalidValueError, "A"),
        ("damped_im", {"G": np.full(_P, -10.0)}, InvalidDampingError, "G"),
        ("damped_imex1", {}, InvalidValueError, "G"),
        ("im", {"A": np.array([1.0, np.nan, 0.0])}, InvalidValueError, "A"),
    ],
    ids=["imex2-sqrt-of-negative", "im-negative-G", "missing-G", "nan-A"],
)
def test_parameters_outside_the_valid_region_are_refused_by_name(
    scheme: str, raw: dict[str, Any], error: type, argument: str
) -> None:
    inputs = {"A": np.full(_P, 2.0), "dt": np.zeros(_P), **raw}

    def build() -> LinOSSLayer:
        return LinOSSLayer(**_with(**parameterize(scheme, **inputs)), scheme=scheme)

    with pytest.raises(error) as info:
        build()

    assert info.value.argument == argument


# -- determinism across processes --------------------------------------------

_CHILD = """\
import hashlib
import numpy as np
from linoss_dynamics import LinOSSLayer, Scheme


def main(_):
    rng = np.random.default_rng(2718)
    # P odd and not a multiple of a SIMD width: vector loops and their tails run.
    P, H, L = 67, 5, 120
    digests = {}
    for scheme in Scheme:
        A = rng.uniform(0.0, 4.0, P)
        G = 0.1 * A + rng.uniform(0.1, 1.0, P) if scheme.damped else None
        B = rng.normal(size=(P, H)) + 1j * rng.normal(size=(P, H))
        C = rng.normal(size=(H, P, 2))
        layer = LinOSSLayer(A, rng.uniform(0.01, 0.1, P), B, C, rng.normal(size=H),
                            G=G, scheme=scheme)
        out, state = layer.run(rng.normal(size=(L, H)))
        digest = hashlib.sha256(out.tobytes() + state.y.tobytes() + state.z.tobytes())
        digests[scheme.value] = digest.hexdigest()
    return digests
"""


def test_outputs_are_identical_with_simd_disabled() -> None:
    enabled = cpu_report()
    above = [name for name in enabled["dispatch"] if name in enabled["enabled"]]

    default = oracle.run_python(_CHILD, package_root=oracle.SRC_DIR)
    disabled = oracle.run_python(
        _CHILD,
        package_root=oracle.SRC_DIR,
        env={"NPY_DISABLE_CPU_FEATURES": ",".join(above)},
    )

    assert disabled == default
    assert len(set(default.values())) == len(ALL_SCHEMES)


# -- loading and saving -------------------------------------------------------


@pytest.mark.parametrize("scheme", ALL_SCHEMES, ids=lambda s: s.value)
def test_npz_round_trip_gives_a_layer_with_the_same_bytes(
    scheme: Scheme, tmp_path: Any
) -> None:
    layer = _random_layer(scheme, seed=9, vector_dt=scheme is not Scheme.IMEX)
    U = np.random.default_rng(10).normal(size=(25, layer.width))
    path = tmp_path / "layer.npz"

    save_layer(layer, path)
    loaded = load_layer(path)

    assert loaded.scheme is scheme
    sts.assert_same_bytes(loaded.forward(U), layer.forward(U))


def test_npz_in_the_research_layout_loads(tmp_path: Any) -> None:
    rng = np.random.default_rng(11)
    B, C = rng.normal(size=(4, 3, 2)), rng.normal(size=(3, 4, 2))
    path = tmp_path / "pairs.npz"
    np.savez(path, A=np.ones(4), dt=np.full(4, 0.1), B=B, C=C, D=np.ones(3))

    loaded = load_layer(path, scheme="imex")

    np.testing.assert_array_equal(loaded.B, B[..., 0] + 1j * B[..., 1])
    np.testing.assert_array_equal(loaded.C, C[..., 0] + 1j * C[..., 1])


def test_bad_npz_files_are_refused_by_name(tmp_path: Any) -> None:
    not_npz = tmp_path / "junk.npz"
    not_npz.write_bytes(b"not a zip file")
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, A=np.array([object()], dtype=object))
    no_D = tmp_path / "no_d.npz"
    np.savez(no_D, A=np.ones(2), dt=0.1, B=np.ones((2, 1)), C=np.ones((1, 2)))
    no_scheme = tmp_path / "no_scheme.npz"
    np.savez(
        no_scheme, A=np.ones(2), dt=0.1, B=np.ones((2, 1)), C=np.ones((1, 2)), D=[1.0]
    )

    with pytest.raises(LinOSSError) as junk:
        load_layer(not_npz)
    with pytest.raises(LinOSSError) as objects:
        load_layer(pickled, scheme="im")
    with pytest.raises(InvalidShapeError) as missing:
        load_layer(no_D, scheme="im")
    with pytest.raises(UnsupportedModeError) as schemeless:
        load_layer(no_scheme)

    assert junk.value.argument == "path"
    assert objects.value.argument == "path"
    assert missing.value.argument == "D"
    assert schemeless.value.argument == "scheme"


class DampedIMEX1Layer:
    """Stands in for the research module: the same field names, raw values."""

    def __init__(self, rng: np.random.Generator, P: int = 4, H: int = 2) -> None:
        self.A_diag = rng.uniform(0.0, 2.0, P).astype(np.float32)
        self.G_diag = rng.uniform(0.0, 1.0, P).astype(np.float32)
        self.dt = rng.normal(size=P).astype(np.float32)
        self.B = rng.uniform(-1.0, 1.0, (P, H, 2)).astype(np.float32)
        self.C = rng.uniform(-1.0, 1.0, (H, P, 2)).astype(np.float32)
        self.D = rng.normal(size=H).astype(np.float32)


class LinOSSLayerModule:
    def __init__(self, rng: np.random.Generator) -> None:
        source = DampedIMEX1Layer(rng)
        self.A_diag, self.steps, self.B, self.C, self.D = (
            source.A_diag,
            source.dt,
            source.B,
            source.C,
            source.D,
        )
        self.G_diag = None
        self.discretization, self.damping = "IMEX", False


def test_a_research_module_maps_through_parameterize() -> None:
    module = DampedIMEX1Layer(np.random.default_rng(12))

    layer = layer_from_module(module)

    expected = parameterize(
        "damped_imex1",
        A=module.A_diag.astype(np.float64),
        dt=module.dt.astype(np.float64),
        G=module.G_diag.astype(np.float64),
    )
    assert layer.scheme is Scheme.DAMPED_IMEX1
    sts.assert_same_bytes(layer.A, expected["A"])
    sts.assert_same_bytes(np.asarray(layer.dt), expected["dt"])
    assert layer.B[1, 1] == complex(module.B[1, 1, 0], module.B[1, 1, 1])


def test_a_module_with_discretization_fields_picks_its_scheme() -> None:
    module = LinOSSLayerModule(np.random.default_rng(13))

    layer = layer_from_module(module)

    assert layer.scheme is Scheme.IMEX
    assert layer.G is None


def test_a_module_missing_a_field_is_named() -> None:
    module = DampedIMEX1Layer(np.random.default_rng(14))
    del module.G_diag

    with pytest.raises(InvalidShapeError) as info:
        layer_from_module(module)

    assert info.value.argument == "G_diag"


def test_equinox_loading_without_equinox_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setitem(sys.modules, "equinox", None)

    with pytest.raises(LinOSSError, match="pip install equinox jax") as info:
        load_equinox(tmp_path / "model.eqx", like=object())

    assert info.value.argument == "equinox"
