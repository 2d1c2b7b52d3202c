"""The canonical msgpack profile and the digests, against the module docs.

The layouts, the array ext and the digests are re-implemented here from the
``linoss_dynamics.codec`` docstring alone, with plain ``msgpack.packb`` and
``xxhash``: an encoder that drifts from what the docs promise fails these tests.
Golden bytes are written out by hand from the msgpack specification.
"""

from __future__ import annotations

import math
import re
import struct
from typing import Any

import logs
import msgpack
import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st
from logs import (
    SEQ_BOUNDARIES,
    assert_same_event,
    event_records,
    headers,
    record,
    small_log,
    states,
    step_records,
)

from linoss_dynamics import Scheme, codec, events, logfile
from linoss_dynamics.codec import BodyError

DIGEST = bytes(range(16))
ROOT = bytes(range(100, 132))

# -- the documented profile, re-implemented --------------------------------------------


def ref_ext(arr: np.ndarray) -> msgpack.ExtType:
    """``ExtType(1, dtype code 1 | ndim | dims u32 LE | values <f8, C order)``."""
    arr = np.asarray(arr)
    dims = b"".join(struct.pack("<I", dim) for dim in arr.shape)
    values = arr.astype("<f8").tobytes(order="C")
    return msgpack.ExtType(1, bytes([1, arr.ndim]) + dims + values)


def ref_value(value: Any) -> Any:
    if value is None or isinstance(value, float):
        return value
    return ref_ext(value)


def ref_spec(spec: events.RunSpec) -> list[Any]:
    return [
        spec.scheme.value,
        ref_ext(spec.A),
        ref_value(spec.G),
        ref_value(spec.dt),
        ref_value(spec.B),
        spec.allow_unstable,
    ]


def ref_layout(event: Any) -> list[Any]:
    """``[code, field, ...]`` in the order of the module docs."""
    if isinstance(event, events.RunStarted):
        return [
            0,
            event.schema_version,
            event.library_version,
            list(event.hash_algorithms),
            ref_spec(event.spec),
            ref_ext(event.y0),
            ref_ext(event.z0),
            {key: event.fingerprint[key] for key in sorted(event.fingerprint)},
        ]
    if isinstance(event, events.StepApplied):
        return [
            1,
            event.seq,
            ref_value(event.u),
            ref_value(event.dt),
            event.state_digest,
            event.energy_before,
            event.energy_after,
            event.delta_energy,
            ref_value(event.y),
            ref_value(event.z),
        ]
    if isinstance(event, events.ParamsChanged):
        return [2, event.seq, ref_spec(event.spec)]
    if isinstance(event, events.StateWritten):
        return [
            3,
            event.seq,
            ref_ext(event.y),
            ref_ext(event.z),
            event.state_digest,
            event.energy,
        ]
    if isinstance(event, events.CheckpointTaken):
        return [
            4,
            event.seq,
            ref_spec(event.spec),
            ref_ext(event.y),
            ref_ext(event.z),
            event.state_digest,
            event.energy,
        ]
    assert isinstance(event, events.RunClosed)
    return [5, event.seq, event.events, event.run_digest, event.tree_root]


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def ref_state_digest(y: np.ndarray, z: np.ndarray) -> bytes:
    dims = b"".join(struct.pack("<I", dim) for dim in y.shape)
    data = b"<f8\0" + bytes([y.ndim]) + dims
    data += y.astype("<f8").tobytes() + z.astype("<f8").tobytes()
    return xxhash.xxh3_128_digest(data)


def ref_genesis(spec: events.RunSpec, y0: np.ndarray, z0: np.ndarray) -> bytes:
    body = pack([ref_spec(spec), ref_ext(y0), ref_ext(z0)])
    return xxhash.xxh3_128_digest(b"linoss-run\0" + body)


def sample_spec(size: int = 3, **changes: Any) -> events.RunSpec:
    spec = events.RunSpec(
        Scheme.DAMPED_IMEX1,
        np.linspace(0.5, 2.0, size),
        np.full(size, 0.25),
        0.125,
        None,
        False,
    )
    return spec._replace(**changes)


def sample_events(size: int = 3) -> list[Any]:
    """One record of each kind, with arrays where the layout allows them."""
    y = np.linspace(-1.0, 1.0, size)
    z = np.linspace(2.0, 3.0, size)
    return [
        events.StepApplied(7, 0.5, None, DIGEST, 1.5, 1.25, -0.25),
        events.StepApplied(8, y, z * 0.01, DIGEST, 1.5, 1.25, -0.25, y, z),
        events.ParamsChanged(9, sample_spec(size, B=np.ones((size, 2)))),
        events.StateWritten(10, y, z, DIGEST, 3.0),
        events.CheckpointTaken(11, sample_spec(size, dt=z * 0.01), y, z, DIGEST, 2.0),
        events.RunClosed(12, 12, DIGEST, ROOT),
    ]


def _kind_of(event: Any) -> str:
    return events.KIND_OF[type(event)].json_name


def sample_header(size: int = 3, **changes: Any) -> events.RunStarted:
    head = events.RunStarted(
        codec.SCHEMA_VERSION,
        "0.3.0",
        codec.HASH_ALGORITHMS,
        sample_spec(size),
        np.linspace(-1.0, 1.0, size),
        np.zeros(size),
        {"python": "3", "numpy": "2", "b": [1, 2.5], "a": {"x": "y"}},
    )
    return head._replace(**changes)


# -- layouts ---------------------------------------------------------------------------


class TestLayout:
    @given(step_records())
    def test_encode_step_is_msgpack_of_the_documented_list(self, event):
        expected = pack(ref_layout(event))

        fast = codec.encode_step(*event)
        general = codec.encode_event(event)

        assert fast == expected
        assert general == expected

    @given(event_records())
    def test_encode_event_is_msgpack_of_the_documented_list(self, event):
        expected = pack(ref_layout(event))

        body = codec.encode_event(event)

        assert body == expected

    @given(headers())
    def test_encode_header_is_msgpack_of_the_documented_list(self, head):
        expected = pack(ref_layout(head))

        body = codec.encode_header(head)

        assert body == expected

    def test_header_fingerprint_keys_are_sorted(self):
        head = sample_header(fingerprint={"b": 1, "a": 2, "c": 3})

        body = codec.encode_header(head)

        assert body.endswith(b"\x83\xa1a\x02\xa1b\x01\xa1c\x03")

    @pytest.mark.parametrize(
        ("seq", "expected"),
        [
            (0, "00"),
            (127, "7f"),
            (128, "cc80"),
            (255, "ccff"),
            (256, "cd0100"),
            (65535, "cdffff"),
            (65536, "ce00010000"),
            (2**32 - 1, "ceffffffff"),
            (2**32, "cf0000000100000000"),
            (2**64 - 1, "cfffffffffffffffff"),
        ],
    )
    def test_seq_takes_the_shortest_msgpack_integer(self, seq, expected):
        event = events.StepApplied(seq, None, None, DIGEST, 0.5, 0.25, -0.25)

        fast = codec.encode_step(*event)
        general = codec.encode_event(event)

        assert fast[2 : 2 + len(expected) // 2].hex() == expected
        assert general == fast

    def test_step_golden_bytes(self):
        # Hand-assembled from the msgpack spec: fixarray(10), code 1, seq 3,
        # nil u, nil dt, bin8(16) digest, three float64 energies, nil y, nil z.
        event = events.StepApplied(3, None, None, bytes(16), 0.5, 0.25, -0.25)
        expected = bytes.fromhex(
            "9a"
            "01"
            "03"
            "c0"
            "c0"
            "c410" + "00" * 16 + "cb3fe0000000000000"
            "cb3fd0000000000000"
            "cbbfd0000000000000"
            "c0"
            "c0"
        )

        body = codec.encode_step(*event)

        assert body == expected

    def test_array_golden_bytes(self):
        # ext8 (0xc7), payload length 22, type 1; then dtype code 1, ndim 1,
        # dim 2 (u32 LE), 1.0 and -0.0 as little-endian float64.
        u = np.array([1.0, -0.0])
        event = events.StepApplied(0, u, None, bytes(16), 0.0, 0.0, 0.0)
        expected_u = bytes.fromhex("c71601010102000000000000000000f03f0000000000000080")

        body = codec.encode_step(*event)

        assert body[3 : 3 + len(expected_u)] == expected_u

    def test_run_closed_golden_bytes(self):
        # Schema 2: fixarray(5), code 5, seq and events 300 as uint16,
        # bin8(16) run digest, bin8(32) Merkle root.
        event = events.RunClosed(300, 300, DIGEST, ROOT)
        expected = bytes.fromhex("9505cd012ccd012cc410") + DIGEST + b"\xc4\x20" + ROOT

        body = codec.encode_event(event)

        assert body == expected
        assert codec.decode_event(body) == event

    def test_run_closed_without_a_tree_root_golden_bytes(self):
        # A closing record upcast from schema 1 has a nil root (0xc0).
        event = events.RunClosed(300, 300, DIGEST)
        expected = bytes.fromhex("9505cd012ccd012cc410") + DIGEST + b"\xc0"

        body = codec.encode_event(event)

        assert body == expected
        assert codec.decode_event(body) == event

    @pytest.mark.parametrize(
        ("size", "ext_header"),
        [
            (0, "c70601"),  # 6-byte payload: ext8
            (31, "c7fe01"),  # 254 bytes: the largest ext8
            (32, "c8010601"),  # 262 bytes: ext16
            (8191, "c8fffe01"),  # 65534 bytes: the largest ext16
            (8192, "c90001000601"),  # 65542 bytes: ext32
        ],
    )
    def test_arrays_take_the_shortest_ext_form(self, size, ext_header):
        u = np.arange(size, dtype=np.float64)
        event = events.StepApplied(1, u, None, DIGEST, 0.5, 0.25, -0.25)

        body = codec.encode_step(*event)

        assert body[3 : 3 + len(ext_header) // 2].hex() == ext_header
        assert body == pack(ref_layout(event))
        assert_same_event(codec.decode_event(body), event)

    @pytest.mark.parametrize(
        "make",
        [
            lambda a: a.astype(">f8"),
            lambda a: np.repeat(a, 2)[::2],
            lambda a: np.asfortranarray(np.stack([a, a])),
        ],
        ids=["big-endian", "strided", "fortran-order"],
    )
    def test_array_bytes_are_little_endian_c_order_whatever_the_input(self, make):
        base = np.array([1.5, -0.0, 5e-324, -2.0])
        u = make(base)
        event = events.StepApplied(1, u, u, DIGEST, 0.5, 0.25, -0.25, u, u)

        fast = codec.encode_step(*event)
        general = codec.encode_event(event)

        expected = pack(ref_layout(event._replace(u=np.ascontiguousarray(u))))
        assert fast == expected
        assert general == expected

    def test_encode_event_rejects_a_non_record(self):
        with pytest.raises(TypeError, match="not an event record: dict"):
            codec.encode_event({"seq": 1})  # type: ignore[arg-type]


# -- round trips -----------------------------------------------------------------------


class TestRoundTrip:
    @given(event_records())
    def test_decode_inverts_encode_bit_for_bit(self, event):
        body = codec.encode_event(event)

        decoded = codec.decode_event(body)

        assert_same_event(decoded, event)
        assert codec.encode_event(decoded) == body

    @given(step_records())
    def test_decoded_step_from_the_fast_path(self, event):
        body = codec.encode_step(*event)

        decoded = codec.decode_event(body)

        assert_same_event(decoded, event)

    @given(headers())
    def test_header_round_trip(self, head):
        body = codec.encode_header(head)

        decoded = codec.decode_header(body)

        assert_same_event(
            decoded._replace(fingerprint=None), head._replace(fingerprint=None)
        )
        assert decoded.fingerprint == head.fingerprint
        assert codec.encode_header(decoded) == body

    @pytest.mark.parametrize("seq", SEQ_BOUNDARIES)
    def test_seq_boundaries_round_trip(self, seq):
        event = events.RunClosed(seq, seq, DIGEST)

        decoded = codec.decode_event(codec.encode_event(event))

        assert decoded == event

    @given(states(4))
    def test_decoded_arrays_do_not_share_the_body_buffer(self, state):
        y, z = state
        bodies = [
            bytearray(codec.encode_event(events.StateWritten(0, y, z, DIGEST, 1.0))),
            bytearray(codec.encode_step(0, y, y, DIGEST, 1.0, 1.0, 0.0, y, z)),
        ]

        decoded = [codec.decode_event(body) for body in bodies]
        for body in bodies:
            body[:] = bytes(len(body))

        assert_same_event(decoded[0].y, y)
        assert_same_event(decoded[0].z, z)
        assert_same_event(decoded[1].u, y)
        assert_same_event(decoded[1].dt, y)
        assert_same_event(decoded[1].y, y)
        assert_same_event(decoded[1].z, z)

    def test_every_kind_round_trips(self):
        samples = sample_events()

        decoded = [codec.decode_event(codec.encode_event(e)) for e in samples]

        for actual, expected in zip(decoded, samples, strict=True):
            assert_same_event(actual, expected)


# -- bodies that are not canonical -----------------------------------------------------


def closed_body(seq: bytes = b"\x03", events_: bytes = b"\x03") -> bytes:
    """A run_closed body with hand-written integer encodings."""
    return b"\x95\x05" + seq + events_ + b"\xc4\x10" + DIGEST + b"\xc4\x20" + ROOT


def with_field(event: Any, index: int, value: Any) -> bytes:
    layout = ref_layout(event)
    layout[index] = value
    return pack(layout)


def ext_raw(payload: bytes, code: int = 1) -> msgpack.ExtType:
    return msgpack.ExtType(code, payload)


NOT_CANONICAL = "not in the canonical profile"


class TestNonCanonical:
    def test_the_hand_written_body_is_canonical(self):
        body = closed_body()

        decoded = codec.decode_event(body)

        assert decoded == events.RunClosed(3, 3, DIGEST, ROOT)

    @pytest.mark.parametrize(
        "seq",
        ["cc03", "cd0003", "ce00000003", "cf0000000000000003", "d003", "d10003"],
    )
    def test_integer_in_a_longer_form(self, seq):
        body = closed_body(seq=bytes.fromhex(seq))

        with pytest.raises(BodyError, match=NOT_CANONICAL):
            codec.decode_event(body)

    def test_event_code_in_a_longer_form(self):
        body = b"\x95\xcc\x05" + closed_body()[2:]

        with pytest.raises(BodyError, match=NOT_CANONICAL):
            codec.decode_event(body)

    @pytest.mark.parametrize("form", [float, str, bytes, list, bool])
    def test_event_code_of_another_type(self, form):
        # 1.0 and true compare equal to 1 in Python but are other msgpack values,
        # so a body carrying them is another encoding of no event.
        accepted = []
        for event in sample_events():
            code = ref_layout(event)[0]
            value = {
                float: float(code),
                str: str(code),
                bytes: bytes([code]),
                list: [code],
                bool: code == 1,
            }[form]
            body = with_field(event, 0, value)

            try:
                codec.decode_event(body)
            except BodyError:
                continue
            accepted.append(f"{_kind_of(event)} with code {value!r}")

        assert accepted == []

    @pytest.mark.parametrize("code", [0.0, False], ids=repr)
    def test_header_code_of_another_type(self, code):
        body = with_field(sample_header(), 0, code)

        with pytest.raises(BodyError):
            codec.decode_header(body)

    @pytest.mark.parametrize("index", [5, 6, 7])
    def test_float32_energy(self, index):
        event = events.StepApplied(1, None, None, DIGEST, 0.5, 0.25, -0.25)
        layout = ref_layout(event)
        body = b"\x9a" + b"".join(
            struct.pack(">Bf", 0xCA, value) if i == index else pack(value)
            for i, value in enumerate(layout)
        )

        with pytest.raises(BodyError):
            codec.decode_event(body)

    def test_float32_everywhere(self):
        event = events.StateWritten(1, np.ones(2), np.ones(2), DIGEST, 0.5)
        body = msgpack.packb(
            ref_layout(event), use_bin_type=True, use_single_float=True
        )

        with pytest.raises(BodyError, match=NOT_CANONICAL):
            codec.decode_event(body)

    def test_digest_as_str(self):
        body = with_field(events.RunClosed(3, 3, DIGEST), 3, "0123456789abcdef")

        with pytest.raises(BodyError, match="run_digest must be 16 bytes of digest"):
            codec.decode_event(body)

    def test_tree_root_as_str(self):
        body = with_field(events.RunClosed(3, 3, DIGEST, ROOT), 4, ROOT.hex())

        with pytest.raises(BodyError, match="tree_root must be 32 bytes"):
            codec.decode_event(body)

    def test_digest_as_raw_without_bin_type(self):
        event = events.StateWritten(1, np.ones(2), np.ones(2), b"abcdefghijklmnop", 0.5)
        body = msgpack.packb(ref_layout(event), use_bin_type=False)

        with pytest.raises(BodyError, match="state_digest must be 16 bytes"):
            codec.decode_event(body)

    def test_library_version_as_bin(self):
        body = with_field(sample_header(), 2, b"0.3.0")

        with pytest.raises(BodyError, match="library_version must be a string"):
            codec.decode_header(body)

    def test_scheme_as_bin(self):
        layout = ref_layout(events.ParamsChanged(1, sample_spec()))
        layout[2][0] = b"damped_imex1"

        with pytest.raises(
            BodyError, match=r"spec\.scheme b'damped_imex1' is not a known"
        ):
            codec.decode_event(pack(layout))

    def test_unsorted_fingerprint_map(self):
        head = sample_header(fingerprint={"a": 1, "b": 2})
        layout = ref_layout(head)
        layout[7] = {"b": 2, "a": 1}
        body = pack(layout)
        assert body != codec.encode_header(head)

        with pytest.raises(BodyError, match=NOT_CANONICAL):
            codec.decode_header(body)

    def test_fingerprint_map_with_a_repeated_key(self):
        body = pack(ref_layout(sample_header(fingerprint={"a": 1})))
        assert body.endswith(b"\x81\xa1a\x01")
        body = body[:-4] + b"\x82\xa1a\x01\xa1a\x01"

        with pytest.raises(BodyError, match=NOT_CANONICAL):
            codec.decode_header(body)

    @pytest.mark.parametrize("tail", [b"\xc0", b"\x00", b"\x90"])
    def test_trailing_bytes(self, tail):
        body = codec.encode_event(events.RunClosed(3, 3, DIGEST)) + tail

        with pytest.raises(BodyError, match=r"not valid msgpack \(ExtraData"):
            codec.decode_event(body)

    def test_trailing_bytes_after_a_header(self):
        body = codec.encode_header(sample_header()) + b"\xc0"

        with pytest.raises(BodyError, match="not valid msgpack"):
            codec.decode_header(body)

    @pytest.mark.parametrize("cut", [1, 5, 17])
    def test_body_cut_short(self, cut):
        body = codec.encode_event(sample_events()[1])[:-cut]

        with pytest.raises(BodyError):
            codec.decode_event(body)

    def test_array_ext_in_a_longer_form(self):
        # A 22-byte payload fits ext8; ext16 is an alternative encoding.
        event = events.StepApplied(
            1, np.array([1.0, 2.0]), None, DIGEST, 0.5, 0.25, 0.0
        )
        body = codec.encode_step(*event)
        assert body[3:6] == b"\xc7\x16\x01"
        longer = body[:3] + b"\xc8\x00\x16\x01" + body[6:]

        with pytest.raises(BodyError, match=NOT_CANONICAL):
            codec.decode_event(longer)


def payload(dtype_code: int, dims: tuple[int, ...], values: bytes) -> bytes:
    head = bytes([dtype_code, len(dims)])
    return head + b"".join(struct.pack("<I", d) for d in dims) + values


ONES = np.ones(2).tobytes()


class TestBadArrays:
    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (payload(2, (2,), ONES), "u: array dtype code 2 is not 1 \\(float64\\)"),
            (payload(0, (2,), ONES), "u: array dtype code 0 is not 1"),
            (
                payload(1, (2,), ONES[:-1]),
                "array of shape \\(2,\\) needs 16 bytes of values; the payload has 15",
            ),
            (
                payload(1, (2,), ONES + ONES[:8]),
                "needs 16 bytes of values; the payload has 24",
            ),
            (payload(1, (1, 1, 2), ONES), "u: arrays have at most 2 dimensions; got 3"),
            (payload(1, (2**32 - 1, 2**32 - 1), ONES), "needs .* bytes of values"),
            (b"\x01", "u: array payload of 1 bytes is too short"),
            (b"", "u: array payload of 0 bytes is too short"),
            (b"\x01\x02\x05\x00\x00\x00", "u: array payload ends inside its shape"),
        ],
    )
    def test_malformed_payload(self, data, message):
        body = with_field(
            events.StepApplied(1, None, None, DIGEST, 0.5, 0.25, 0.0), 2, ext_raw(data)
        )

        with pytest.raises(BodyError, match=message):
            codec.decode_event(body)

    @pytest.mark.parametrize(
        "ext",
        [
            ext_raw(payload(1, (2,), ONES), 0),
            ext_raw(payload(1, (2,), ONES), 2),
            ext_raw(payload(1, (2,), ONES), 127),
            msgpack.Timestamp(0, 0),
        ],
        ids=["ext0", "ext2", "ext127", "timestamp"],
    )
    @pytest.mark.parametrize(
        ("event", "field", "name"),
        [
            (events.StateWritten(1, np.ones(2), np.ones(2), DIGEST, 0.5), 2, "y"),
            (events.StepApplied(1, None, None, DIGEST, 0.5, 0.25, 0.0), 2, "u"),
            (events.StepApplied(1, None, None, DIGEST, 0.5, 0.25, 0.0), 9, "z"),
        ],
        ids=["state_written.y", "step_applied.u", "step_applied.z"],
    )
    def test_ext_of_another_type(self, event, field, name, ext):
        body = with_field(event, field, ext)

        with pytest.raises(BodyError, match=f"^{name}"):
            codec.decode_event(body)

    @pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
    @pytest.mark.parametrize("field", [8, 9])
    def test_non_finite_state_values(self, field, bad):
        values = np.array([1.0, 2.0, bad])
        event = events.StepApplied(1, None, None, DIGEST, 0.5, 0.25, 0.0)
        name = {2: "u", 3: "dt", 8: "y", 9: "z"}[field]

        body = with_field(event, field, ref_ext(values))

        with pytest.raises(
            BodyError, match=f"{name}: values must be finite; got .* at flat index 2"
        ):
            codec.decode_event(body)

    def test_non_finite_step_input_arrays(self):
        # The module docs: an array's "values must be finite", inputs included.
        event = events.StepApplied(1, None, None, DIGEST, 0.5, 0.25, 0.0)
        outcomes = {}
        for name, field in (("u", 2), ("dt", 3)):
            for bad in (math.nan, math.inf, -math.inf):
                body = with_field(event, field, ref_ext(np.array([1.0, 2.0, bad])))

                try:
                    codec.decode_event(body)
                    outcome = "accepted"
                except BodyError as exc:
                    outcome = str(exc)
                outcomes[name, bad] = outcome

        wrong = {
            case: outcome
            for case, outcome in outcomes.items()
            if not re.match(
                rf"{case[0]}: values must be finite; got .* at flat index 2", outcome
            )
        }
        assert wrong == {}

    def test_nan_with_a_payload_is_refused(self):
        quiet = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_0000_1234))[0]
        values = payload(1, (1,), struct.pack("<d", quiet))
        event = events.StateWritten(1, np.ones(1), np.ones(1), DIGEST, 0.5)

        body = with_field(event, 3, ext_raw(values))

        with pytest.raises(BodyError, match="z: values must be finite"):
            codec.decode_event(body)

    @pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
    def test_non_finite_arrays_in_spec_and_header(self, bad):
        spec_layout = ref_layout(events.ParamsChanged(1, sample_spec()))
        spec_layout[2][1] = ref_ext(np.array([1.0, bad]))
        head_layout = ref_layout(sample_header())
        head_layout[5] = ref_ext(np.array([bad, 0.0, 0.0]))

        with pytest.raises(BodyError, match=r"spec\.A: values must be finite"):
            codec.decode_event(pack(spec_layout))
        with pytest.raises(BodyError, match="y0: values must be finite"):
            codec.decode_header(pack(head_layout))

    @pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
    @pytest.mark.parametrize(
        ("field", "name"),
        [
            (2, "u"),
            (3, "dt"),
            (5, "energy_before"),
            (6, "energy_after"),
            (7, "delta_energy"),
        ],
    )
    def test_non_finite_floats(self, field, name, bad):
        event = events.StepApplied(1, None, None, DIGEST, 0.5, 0.25, 0.0)

        body = with_field(event, field, bad)

        with pytest.raises(BodyError, match=f"{name} must be finite"):
            codec.decode_event(body)

    @pytest.mark.parametrize("bad", [math.nan, math.inf])
    def test_non_finite_energy_and_spec_dt(self, bad):
        written = with_field(sample_events()[3], 5, bad)
        checkpoint = with_field(sample_events()[4], 6, bad)
        layout = ref_layout(events.ParamsChanged(1, sample_spec()))
        layout[2][3] = bad

        with pytest.raises(BodyError, match="energy must be finite"):
            codec.decode_event(written)
        with pytest.raises(BodyError, match="energy must be finite"):
            codec.decode_event(checkpoint)
        with pytest.raises(BodyError, match=r"spec\.dt must be finite"):
            codec.decode_event(pack(layout))


# -- layouts of the wrong shape or with values of the wrong type -----------------------

ARRAY = ref_ext(np.ones(3))
INT_WRONG = [-1, 1.5, "1", True, None, [], b"\x01", ARRAY]
FLOAT_WRONG = [1, "1.0", True, None, [], b"\x01", ARRAY, {"x": 1.0}]
DIGEST_WRONG = [bytes(15), bytes(17), "0" * 16, None, 1, [], ARRAY]
ROOT_WRONG = [bytes(16), bytes(31), bytes(33), "0" * 64, 1, False, [], ARRAY]
VALUE_WRONG = [1, "x", True, [], [1.0], b"\x01", {"x": 1.0}, ext_raw(b"", 2)]
OPTIONAL_ARRAY_WRONG = [*VALUE_WRONG, 1.5]
ARRAY_WRONG = [*OPTIONAL_ARRAY_WRONG, None]
SPEC_WRONG = [None, 1, "im", [], {}, ["im"], [*ref_spec(sample_spec()), None]]

# For each kind: what each field after the code must not hold.
WRONG_FIELDS = {
    "step_applied": [
        INT_WRONG,
        VALUE_WRONG,
        VALUE_WRONG,
        DIGEST_WRONG,
        FLOAT_WRONG,
        FLOAT_WRONG,
        FLOAT_WRONG,
        OPTIONAL_ARRAY_WRONG,
        OPTIONAL_ARRAY_WRONG,
    ],
    "params_changed": [INT_WRONG, SPEC_WRONG],
    "state_written": [INT_WRONG, ARRAY_WRONG, ARRAY_WRONG, DIGEST_WRONG, FLOAT_WRONG],
    "checkpoint_taken": [
        INT_WRONG,
        SPEC_WRONG,
        ARRAY_WRONG,
        ARRAY_WRONG,
        DIGEST_WRONG,
        FLOAT_WRONG,
    ],
    "run_closed": [INT_WRONG, INT_WRONG, DIGEST_WRONG, ROOT_WRONG],
}
SPEC_FIELD_WRONG = [
    ["rk4", "IM", b"im", 1, None, ARRAY],
    ARRAY_WRONG,
    OPTIONAL_ARRAY_WRONG,
    [*VALUE_WRONG, None],
    OPTIONAL_ARRAY_WRONG,
    [0, 1, None, "true", 1.0],
]
HEADER_WRONG = [
    INT_WRONG,
    [b"0.3.0", 1, None, [], 1.5],
    ["xxh3-128", [1], [b"xxh3"], None, {}],
    SPEC_WRONG,
    ARRAY_WRONG,
    ARRAY_WRONG,
    [[], None, "x", 1, b"x", ARRAY],
]


def _wrong_type_cases() -> list[Any]:
    cases = []
    for event in sample_events():
        kind = _kind_of(event)
        for index, wrongs in enumerate(WRONG_FIELDS[kind], start=1):
            for value in wrongs:
                cases.append(
                    pytest.param(
                        event, index, value, id=f"{kind}[{index}]={value!r:.20}"
                    )
                )
    return cases


class TestWrongLayouts:
    @pytest.mark.parametrize(("event", "index", "value"), _wrong_type_cases())
    def test_wrong_type_in_a_field(self, event, index, value):
        body = with_field(event, index, value)

        with pytest.raises(BodyError):
            codec.decode_event(body)

    @pytest.mark.parametrize("index", range(6))
    @pytest.mark.parametrize("event", sample_events()[2:5:2], ids=_kind_of)
    def test_wrong_type_in_a_spec_field(self, event, index):
        for value in SPEC_FIELD_WRONG[index]:
            layout = ref_layout(event)
            layout[2][index] = value

            with pytest.raises(BodyError):
                codec.decode_event(pack(layout))

    @pytest.mark.parametrize("index", range(1, 8))
    def test_wrong_type_in_a_header_field(self, index):
        for value in HEADER_WRONG[index - 1]:
            body = with_field(sample_header(), index, value)

            with pytest.raises(BodyError):
                codec.decode_header(body)

    def test_spec_without_dt(self):
        layout = ref_layout(events.ParamsChanged(1, sample_spec()))
        layout[2][3] = None

        with pytest.raises(BodyError, match=r"spec\.dt is required"):
            codec.decode_event(pack(layout))

    @pytest.mark.parametrize("event", sample_events(), ids=_kind_of)
    @pytest.mark.parametrize("change", ["drop", "extra"])
    def test_wrong_field_count(self, event, change):
        layout = ref_layout(event)
        layout = layout[:-1] if change == "drop" else [*layout, None]
        count = len(ref_layout(event))

        with pytest.raises(
            BodyError,
            match=(
                f"{_kind_of(event)} must be a list of {count} fields; got {len(layout)}"
            ),
        ):
            codec.decode_event(pack(layout))

    @pytest.mark.parametrize("change", ["drop", "extra"])
    def test_wrong_field_count_in_spec_and_header(self, change):
        params = ref_layout(events.ParamsChanged(1, sample_spec()))
        params[2] = params[2][:-1] if change == "drop" else [*params[2], False]
        head = ref_layout(sample_header())
        head = head[:-1] if change == "drop" else [*head, {}]

        with pytest.raises(BodyError, match="spec must be a list of 6 fields"):
            codec.decode_event(pack(params))
        with pytest.raises(BodyError, match="run_started must be a list of 8 fields"):
            codec.decode_header(pack(head))

    @pytest.mark.parametrize("obj", [[], {}, 1, "step", None, b"\x01", 1.5])
    def test_not_a_list(self, obj):
        body = pack(obj)

        with pytest.raises(BodyError, match="an event must be a non-empty list"):
            codec.decode_event(body)

    @pytest.mark.parametrize("code", [0, 6, 127, 255, 2**32])
    def test_unknown_event_code(self, code):
        body = with_field(events.RunClosed(3, 3, DIGEST), 0, code)

        with pytest.raises(BodyError, match=f"unknown event code {code}"):
            codec.decode_event(body)

    def test_event_body_given_as_header(self):
        body = codec.encode_event(events.RunClosed(3, 3, DIGEST))

        with pytest.raises(
            BodyError, match="the first frame must be a run_started header"
        ):
            codec.decode_header(body)


class TestSchemaOne:
    """Schema-1 bodies, read through ``codec.UPCASTERS[1]``."""

    def test_a_closing_record_of_four_fields_gets_a_nil_root(self):
        body = pack([5, 3, 3, DIGEST])

        decoded = codec.decode_event(body, 1)

        assert decoded == events.RunClosed(3, 3, DIGEST, None)
        with pytest.raises(
            BodyError, match="run_closed must be a list of 5 fields; got 4"
        ):
            codec.decode_event(body)

    def test_a_schema_one_closing_record_with_a_root_is_refused(self):
        body = pack([5, 3, 3, DIGEST, ROOT])

        with pytest.raises(
            BodyError, match="run_closed must be a list of 5 fields; got 6"
        ):
            codec.decode_event(body, 1)

    @pytest.mark.parametrize("event", sample_events()[:-1], ids=_kind_of)
    def test_other_events_read_the_same_in_both_schemas(self, event):
        body = codec.encode_event(event)

        old = codec.decode_event(body, 1)

        assert_same_event(old, codec.decode_event(body))
        assert_same_event(old, event)


# -- digests ---------------------------------------------------------------------------


class TestStateDigest:
    @given(states(5))
    def test_matches_the_documented_digest(self, state):
        y, z = state

        digest = codec.state_digest(y, z)

        assert digest == ref_state_digest(y, z)
        assert len(digest) == 16

    @given(states(3))
    def test_state_hasher_is_the_same_digest(self, state):
        y, z = state

        digest = codec.StateHasher(y.shape).digest(y, z)

        assert digest == codec.state_digest(y, z)

    def test_same_bytes_in_another_shape_differ(self):
        y = np.arange(4.0)
        z = np.arange(4.0) + 10.0

        flat = codec.state_digest(y, z)
        square = codec.state_digest(y.reshape(2, 2), z.reshape(2, 2))
        row = codec.state_digest(y.reshape(1, 4), z.reshape(1, 4))

        assert len({flat, square, row}) == 3

    def test_covers_each_value_and_the_order_of_y_and_z(self):
        y = np.array([0.0, 1.0])
        z = np.array([2.0, 3.0])

        base = codec.state_digest(y, z)
        swapped = codec.state_digest(z, y)
        signed = codec.state_digest(np.array([-0.0, 1.0]), z)
        last = codec.state_digest(y, np.array([2.0, np.nextafter(3.0, 4.0)]))

        assert len({base, swapped, signed, last}) == 4

    def test_same_values_in_any_memory_layout(self):
        y = np.array([1.5, -0.0, 5e-324])
        z = np.array([2.0, 3.0, -4.0])

        native = codec.state_digest(y, z)
        big_endian = codec.state_digest(y.astype(">f8"), z.astype(">f8"))
        strided = codec.state_digest(np.repeat(y, 2)[::2], np.repeat(z, 2)[::2])

        assert big_endian == native
        assert strided == native


class TestGenesis:
    def test_matches_the_documented_digest(self):
        spec = sample_spec(B=np.ones((3, 2)), dt=np.array([0.1, 0.2, 0.3]))
        y0 = np.array([1.0, -0.0, 2.0])
        z0 = np.zeros(3)

        genesis = codec.genesis_digest(spec, y0, z0)

        assert genesis == ref_genesis(spec, y0, z0)

    @pytest.mark.parametrize(
        "change",
        [
            {"scheme": Scheme.DAMPED_IM},
            {"A": np.array([0.5, 1.25, np.nextafter(2.0, 3.0)])},
            {"G": None},
            {"G": np.zeros(3)},
            {"dt": np.full(3, 0.125)},
            {"B": np.ones(3)},
            {"allow_unstable": True},
        ],
        ids=lambda change: next(iter(change)),
    )
    def test_depends_on_every_spec_field(self, change):
        spec = sample_spec()
        y0, z0 = np.ones(3), np.zeros(3)

        before = codec.genesis_digest(spec, y0, z0)
        after = codec.genesis_digest(spec._replace(**change), y0, z0)

        assert before != after

    def test_depends_on_the_initial_state(self):
        spec = sample_spec()
        y0, z0 = np.ones(3), np.zeros(3)

        base = codec.genesis_digest(spec, y0, z0)
        signed = codec.genesis_digest(spec, y0, -z0)
        swapped = codec.genesis_digest(spec, z0, y0)

        assert len({base, signed, swapped}) == 3

    def test_depends_on_nothing_else_in_the_header(self):
        osc = logs.bank()
        y0, z0 = logs.initial_state()
        one = logs.header(osc, y0, z0, library_version="0.3.0")
        other = logs.header(
            osc,
            y0,
            z0,
            library_version="9.9.9-elsewhere",
            fingerprint={**one.fingerprint, "machine": "riscv64", "extra": [1, 2]},
        )

        first = record(one, [])
        second = record(other, [])

        assert first.data != second.data
        assert logfile.LogReader(first.data).genesis == ref_genesis(one.spec, y0, z0)
        assert logfile.LogReader(second.data).genesis == ref_genesis(one.spec, y0, z0)


class TestChainDigest:
    def test_each_event_digest_is_xxh3_of_prev_and_body(self):
        log = small_log()

        expected = []
        prev = log.genesis
        for span in log.spans[1:]:
            assert logs.prev_of(log.data, span) == prev
            prev = xxhash.xxh3_128_digest(prev + logs.body_of(log.data, span))
            expected.append(prev)

        assert expected == log.digests
        assert logs.prev_of(log.data, log.spans[0]) == log.genesis


class TestStrictStepDecoder:
    """The step decoder parses in place; it must still accept one encoding only."""

    @given(
        seq=st.integers(0, 2**64 - 1),
        size=st.integers(0, 20),
        full=st.booleans(),
        edits=st.lists(
            st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
            min_size=1,
            max_size=3,
        ),
    )
    @settings(max_examples=400)
    def test_whatever_it_accepts_encodes_back_to_the_same_bytes(
        self, seq, size, full, edits
    ):
        rng = np.random.default_rng(seq % 1000)
        u = rng.standard_normal(size)
        state = rng.standard_normal(size) if full else None
        body = bytearray(
            codec.encode_step(seq, u, None, bytes(16), 1.0, 2.0, 1.0, state, state)
        )
        for position, value in edits:
            body[position % len(body)] = value

        try:
            record = codec.decode_event(bytes(body))
        except codec.BodyError:
            return

        assert codec.encode_step(*record) == bytes(body)


class TestUsualStepLayout:
    """The fixed-position decoder of the usual step layout agrees with the
    general one: it takes exactly the canonical bodies, and hands every other
    body to the general path, which names what is wrong."""

    def warm(self, size: int = 4) -> None:
        # The fast path needs a u head seen before, as in a log being read.
        codec.decode_event(
            codec.encode_step(1, np.ones(size), None, b"\x01" * 16, 1.0, 1.0, 0.0)
        )

    @pytest.mark.parametrize(
        "body",
        [b"\x9a\x01\xcc", b"\x9a\x01\xcd\x01", b"\x9a\x01\xce\x00\x01"],
    )
    def test_short_bodies_are_body_errors_with_a_warm_cache(self, body):
        self.warm()

        with pytest.raises(BodyError, match="ends early"):
            codec.decode_event(body)

    @given(
        st.integers(0, 2**64 - 1),
        st.lists(
            st.floats(allow_nan=False, allow_infinity=False), min_size=4, max_size=4
        ),
        st.binary(min_size=16, max_size=16),
        st.floats(allow_nan=False, allow_infinity=False),
    )
    @settings(max_examples=200)
    def test_round_trip_at_every_seq_width(self, seq, values, digest, energy):
        self.warm()
        u = np.array(values)
        body = codec.encode_step(seq, u, None, digest, energy, energy, 0.0)

        record = codec.decode_event(body)

        assert record.seq == seq
        assert record.u.tobytes() == u.tobytes()
        assert record.state_digest == digest
        assert codec.encode_event(record) == body

    @pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
    def test_a_non_finite_input_is_refused(self, value):
        self.warm()
        u = np.ones(4)
        body = bytearray(codec.encode_step(7, u, None, b"\x02" * 16, 1.0, 1.0, 0.0))
        at = body.index(u.tobytes())
        body[at : at + 8] = struct.pack("<d", value)

        with pytest.raises(BodyError, match="finite"):
            codec.decode_event(bytes(body))

    def test_every_byte_changed_is_refused_or_decoded_as_the_general_path_does(self):
        self.warm()
        body = codec.encode_step(
            300, np.arange(4.0), None, b"\x03" * 16, 2.0, 1.0, -1.0
        )

        for at in range(len(body)):
            for bit in range(8):
                changed = bytearray(body)
                changed[at] ^= 1 << bit
                try:
                    record = codec.decode_event(bytes(changed))
                except BodyError:
                    continue
                # Accepted: it must be canonical, so it encodes back to itself.
                assert codec.encode_event(record) == bytes(changed)
