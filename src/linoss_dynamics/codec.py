"""The canonical msgpack profile of a run log, and its digests.

One event has exactly one encoding, so it has exactly one digest. The profile:

- An event body is a msgpack **array** whose first element is the event code
  (``EventKind``) and whose other elements come in the fixed order below.
  Maps appear only in the header's fingerprint, with string keys in sorted order.
- Integers take their shortest msgpack form; floats are always float64
  (``0xcb`` + 8 big-endian bytes, the msgpack rule); strings are UTF-8 ``str``;
  digests are 16-byte ``bin``; ``nil`` marks an absent optional field.
- A NumPy array is ``ExtType(1, payload)`` with payload ``dtype code (u8: 1 =
  little-endian float64) | ndim (u8) | ndim x u32 little-endian dims | the
  values, little-endian, C order``, in the shortest ext form msgpack has for
  the payload length. It is the only ExtType; nothing is pickled. Values must be
  finite.
- Decoding re-encodes what it decoded and refuses the body unless the bytes are
  identical: a non-shortest integer, a float32, a ``bin`` where ``str`` belongs,
  an unsorted map, trailing bytes, each makes a body non-canonical.

Event layouts (``[code, field, ...]``)::

    RunStarted       [0, schema_version, library_version, hash_algorithms, spec, y0, z0, fingerprint]
    StepApplied      [1, seq, u, dt, state_digest, energy_before, energy_after, delta_energy, y, z]
    ParamsChanged    [2, seq, spec]
    StateWritten     [3, seq, y, z, state_digest, energy]
    CheckpointTaken  [4, seq, spec, y, z, state_digest, energy]
    RunClosed        [5, seq, events, run_digest, tree_root]
    spec             [scheme, A, G, dt, B, allow_unstable]

``tree_root`` is the 32-byte BLAKE2b-256 Merkle root of the bodies of events 0
to ``seq - 1`` (see ``merkle``); schema 1 had no ``tree_root``, and its closing
records are upcast with ``tree_root`` nil.

``u`` is nil, a float or an array; ``dt`` (per step) nil, a float or an array;
``y``, ``z`` in a step are nil unless the recorder keeps full states.

Digests (all xxh3-128, 16 bytes):

- state digest: of ``"<f8\\0" | ndim (u8) | dims (u32 LE) | y bytes | z bytes``,
  so it covers dtype, shape and values;
- genesis: of ``"linoss-run\\0" | msgpack([spec, y0, z0])``: the run's
  parameters and initial state, and nothing else;
- chain: ``digest_k = xxh3_128(digest_{k-1} | body_k)`` with ``digest_{-1}`` the
  genesis. The digest after the last event is the **run digest**: it depends
  only on parameters, inputs and resulting states, never on the machine,
  versions or time, so two recordings of one run compare with one value.

xxh3 detects accidental damage and divergence; it is not a cryptographic hash
and does not stop someone who rewrites a log on purpose. The Merkle root in the
closing record and the sealed checkpoints of ``seals`` do.

Schema versions: 1, the first; 2 adds ``tree_root`` to the closing record.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any, Final

import msgpack
import numpy as np
import xxhash

from ._typing import FloatArray
from .events import (
    CheckpointTaken,
    Event,
    EventKind,
    ParamsChanged,
    RunClosed,
    RunSpec,
    RunStarted,
    StateWritten,
    StepApplied,
)
from .schemes import Scheme

__all__ = [
    "FORMAT_VERSION",
    "HASH_ALGORITHMS",
    "MAGIC",
    "SCHEMA_VERSION",
    "BodyError",
    "StateHasher",
    "decode_event",
    "decode_header",
    "encode_event",
    "encode_header",
    "encode_step",
    "genesis_digest",
    "state_digest",
]

FORMAT_VERSION: Final = 1
"""Version of the file layout (magic, frames). Part of the magic bytes."""

MAGIC_PREFIX: Final = b"\x89LINOSS"
MAGIC: Final = MAGIC_PREFIX + bytes([FORMAT_VERSION])

SCHEMA_VERSION: Final = 2
"""Version of the event layouts above. Older logs are upcast on reading."""

HASH_ALGORITHMS: Final = ("xxh3-128", "xxh3-64")
"""Chain, state and genesis digests; frame checksums."""

ARRAY_EXT: Final = 1
_DIMS: Final = (struct.Struct("<"), struct.Struct("<I"), struct.Struct("<II"))
# Every byte value except 0x7F and 0xFF (see ``decode_array``).
_NOT_TOP_OF_NON_FINITE: Final = bytes(b for b in range(256) if b not in (0x7F, 0xFF))
_DTYPE_F64: Final = 1
_LE_F64: Final = np.dtype("<f8")
# The float64 dtype of this machine's arrays, when it is little-endian: arrays of
# it need no conversion before their bytes are written.
_NATIVE_LE_F64: Final = np.dtype(np.float64) if np.little_endian else None

DIGEST_SIZE: Final = 16
TREE_ROOT_SIZE: Final = 32


class BodyError(Exception):
    """A frame body that is not a canonical event; the reader adds where it is."""


# -- arrays -------------------------------------------------------------------


def array_payload(arr: FloatArray) -> bytes:
    """The ext payload of a float64 array (see the module docs)."""
    head = struct.pack(f"<BB{arr.ndim}I", _DTYPE_F64, arr.ndim, *arr.shape)
    return head + np.ascontiguousarray(arr, dtype=_LE_F64).tobytes()


def _ext_header(length: int) -> bytes:
    """msgpack's shortest ext header for a payload of ``length`` bytes."""
    fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}.get(length)
    if fixed is not None:
        return bytes((fixed, ARRAY_EXT))
    if length < 0x100:
        return bytes((0xC7, length, ARRAY_EXT))
    if length < 0x10000:
        return struct.pack(">BHB", 0xC8, length, ARRAY_EXT)
    return struct.pack(">BIB", 0xC9, length, ARRAY_EXT)


def decode_array(payload: bytes, name: str) -> FloatArray:
    """A float64 array from an ext payload; refuses NaN and infinities.

    The array is read-only and owns (through ``payload``) the memory it uses.
    """
    if len(payload) < 2:
        raise BodyError(f"{name}: array payload of {len(payload)} bytes is too short")
    dtype_code, ndim = payload[0], payload[1]
    if dtype_code != _DTYPE_F64:
        raise BodyError(f"{name}: array dtype code {dtype_code} is not 1 (float64)")
    if ndim > 2:
        raise BodyError(f"{name}: arrays have at most 2 dimensions; got {ndim}")
    start = 2 + 4 * ndim
    if len(payload) < start:
        raise BodyError(f"{name}: array payload ends inside its shape")
    shape = _DIMS[ndim].unpack_from(payload, 2)
    count = 1
    for dim in shape:
        count *= dim
    if len(payload) - start != 8 * count:
        raise BodyError(
            f"{name}: array of shape {shape} needs {8 * count} bytes of values; the "
            f"payload has {len(payload) - start}"
        )
    arr = np.frombuffer(payload, dtype=_LE_F64, offset=start, count=count)
    if ndim != 1:
        arr = arr.reshape(shape)
    if _NATIVE_LE_F64 is None:  # pragma: no cover - big-endian machines
        arr = arr.astype(np.float64)
    # A float64 is NaN or infinite only if its exponent bits are all ones, and
    # then its most significant byte is 0x7F or 0xFF. Screening those bytes is
    # much cheaper than isfinite; only a hit pays for the exact check.
    top_bytes = payload[start + 7 :: 8]
    if top_bytes.translate(None, _NOT_TOP_OF_NON_FINITE) and not np.isfinite(arr).all():
        flat = arr.reshape(-1)
        index = int(np.argmax(~np.isfinite(flat)))
        raise BodyError(
            f"{name}: values must be finite; got {flat[index]!r} at flat index {index}"
        )
    return arr


def _ext(arr: FloatArray | None) -> msgpack.ExtType | None:
    return None if arr is None else msgpack.ExtType(ARRAY_EXT, array_payload(arr))


def _number_or_ext(value: float | FloatArray | None) -> Any:
    if value is None or isinstance(value, float):
        return value
    return _ext(value)


# -- digests ------------------------------------------------------------------


class StateHasher:
    """State digests for one state shape, with the prefix computed once."""

    __slots__ = ("prefix",)

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.prefix = struct.pack(f"<4sB{len(shape)}I", b"<f8\0", len(shape), *shape)

    def digest(self, y: FloatArray, z: FloatArray) -> bytes:
        """xxh3-128 of the prefix, then ``y`` and ``z`` as little-endian bytes."""
        return xxhash.xxh3_128_digest(self.prefix + y.tobytes() + z.tobytes())


def state_digest(y: FloatArray, z: FloatArray) -> bytes:
    """The digest of a state ``(y, z)`` (see the module docs)."""
    y = np.ascontiguousarray(y, dtype=_LE_F64)
    z = np.ascontiguousarray(z, dtype=_LE_F64)
    return StateHasher(y.shape).digest(y, z)


def _spec_obj(spec: RunSpec) -> list[Any]:
    return [
        spec.scheme.value,
        _ext(spec.A),
        _ext(spec.G),
        _number_or_ext(spec.dt),
        _ext(spec.B),
        bool(spec.allow_unstable),
    ]


def run_bytes(spec: RunSpec, y0: FloatArray, z0: FloatArray) -> bytes:
    """The canonical bytes of a run's parameters and initial state, which both
    the chain's genesis digest and the run id (``seals.run_id``) hash."""
    data: bytes = msgpack.packb(
        [_spec_obj(spec), _ext(y0), _ext(z0)], use_bin_type=True
    )
    return data


def genesis_digest(spec: RunSpec, y0: FloatArray, z0: FloatArray) -> bytes:
    """The digest the chain starts from: parameters and initial state only."""
    return xxhash.xxh3_128_digest(b"linoss-run\0" + run_bytes(spec, y0, z0))


# -- encoding -----------------------------------------------------------------


def _pack(obj: Any) -> bytes:
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return data


def encode_header(header: RunStarted) -> bytes:
    """The canonical body of a header."""
    return _pack(
        [
            int(EventKind.RUN_STARTED),
            header.schema_version,
            header.library_version,
            list(header.hash_algorithms),
            _spec_obj(header.spec),
            _ext(header.y0),
            _ext(header.z0),
            _canonical_map(header.fingerprint),
        ]
    )


def _canonical_map(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: mapping[key] for key in sorted(mapping)}


def encode_event(record: Event) -> bytes:
    """The canonical body of any event (the general, slower path)."""
    if isinstance(record, StepApplied):
        return encode_step(*record)
    if isinstance(record, ParamsChanged):
        obj: list[Any] = [
            int(EventKind.PARAMS_CHANGED),
            record.seq,
            _spec_obj(record.spec),
        ]
    elif isinstance(record, StateWritten):
        obj = [
            int(EventKind.STATE_WRITTEN),
            record.seq,
            _ext(record.y),
            _ext(record.z),
            record.state_digest,
            float(record.energy),
        ]
    elif isinstance(record, CheckpointTaken):
        obj = [
            int(EventKind.CHECKPOINT_TAKEN),
            record.seq,
            _spec_obj(record.spec),
            _ext(record.y),
            _ext(record.z),
            record.state_digest,
            float(record.energy),
        ]
    elif isinstance(record, RunClosed):
        obj = [
            int(EventKind.RUN_CLOSED),
            record.seq,
            record.events,
            record.run_digest,
            record.tree_root,
        ]
    else:
        raise TypeError(f"not an event record: {type(record).__name__}")
    return _pack(obj)


_STEP_HEAD: Final = bytes((0x9A, int(EventKind.STEP_APPLIED)))
_STEP_MIDDLE: Final = struct.Struct(">BB16sBdBdBd")
_NIL: Final = b"\xc0"
_TWO_NILS: Final = b"\xc0\xc0"
_F64: Final = struct.Struct(">Bd")


def _uint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    if value < 0x100:
        return bytes((0xCC, value))
    if value < 0x10000:
        return struct.pack(">BH", 0xCD, value)
    if value < 0x100000000:
        return struct.pack(">BI", 0xCE, value)
    return struct.pack(">BQ", 0xCF, value)


_VALUE_PREFIX: dict[tuple[int, ...], bytes] = {}


def _append_value(parts: list[bytes], value: float | FloatArray | None) -> None:
    """Append the encoding of nil, a float64 or an array to ``parts``."""
    if value is None:
        parts.append(_NIL)
    elif isinstance(value, float):
        parts.append(_F64.pack(0xCB, value))
    else:
        # Arrays of one shape share their ext header and payload head: cache them.
        prefix = _VALUE_PREFIX.get(value.shape)
        if prefix is None:
            head = struct.pack(
                f"<BB{value.ndim}I", _DTYPE_F64, value.ndim, *value.shape
            )
            prefix = _ext_header(len(head) + 8 * value.size) + head
            if len(_VALUE_PREFIX) < 64:
                _VALUE_PREFIX[value.shape] = prefix
        if value.dtype is not _NATIVE_LE_F64 or not value.flags.c_contiguous:
            value = np.ascontiguousarray(value, dtype=_LE_F64)
        parts.append(prefix)
        parts.append(value.tobytes())


def encode_step(
    seq: int,
    u: float | FloatArray | None,
    dt: float | FloatArray | None,
    state_digest: bytes,
    energy_before: float,
    energy_after: float,
    delta_energy: float,
    y: FloatArray | None = None,
    z: FloatArray | None = None,
) -> bytes:
    """The canonical body of a step event, built directly (the hot path).

    Byte-identical to packing the event's list with msgpack (tests pin it).
    """
    parts = [_STEP_HEAD, _uint(seq)]
    _append_value(parts, u)
    _append_value(parts, dt)
    parts.append(
        _STEP_MIDDLE.pack(
            0xC4,
            DIGEST_SIZE,
            state_digest,
            0xCB,
            energy_before,
            0xCB,
            energy_after,
            0xCB,
            delta_energy,
        )
    )
    if y is None and z is None:
        parts.append(_TWO_NILS)
    else:
        _append_value(parts, y)
        _append_value(parts, z)
    return b"".join(parts)


# -- decoding -----------------------------------------------------------------

Upcaster = Callable[[list[Any]], list[Any]]


def _closing_record_gets_a_tree_root(event: list[Any]) -> list[Any]:
    """Schema 1 to 2: a closing record without a Merkle root has a nil one."""
    if _code(event) == EventKind.RUN_CLOSED:
        return [*event, None]
    return event


UPCASTERS: dict[int, Upcaster] = {1: _closing_record_gets_a_tree_root}
"""``UPCASTERS[v]`` turns a decoded event list of schema ``v`` into schema ``v + 1``.

Each schema change adds one function here and a fixture log written in the old
schema under ``fixtures/``; readers then upcast old logs event by event (the
canonical check applies to the bytes as written, before upcasting).
"""


def _unpack(body: bytes | memoryview) -> Any:
    try:
        # Without a max_*_len argument, unpackb bounds every container and string
        # by the length of the body, so a hostile length cannot allocate more.
        return msgpack.unpackb(body, raw=False, strict_map_key=True, use_list=True)
    except Exception as exc:  # msgpack raises many types for bad input
        raise BodyError(f"not valid msgpack ({type(exc).__name__}: {exc})") from None


def _sorted_maps(obj: Any) -> bool:
    """Whether every map in ``obj`` has its keys in sorted order.

    Re-packing a decoded map keeps the order it was read in, so the byte
    comparison in ``_canonical`` cannot see an unsorted map: check it here.
    """
    if type(obj) is dict:
        keys = list(obj)
        return keys == sorted(keys) and all(_sorted_maps(v) for v in obj.values())
    if type(obj) is list:
        return all(_sorted_maps(item) for item in obj)
    return True


def _code(obj: Any) -> int | None:
    """The event code of a decoded event list: an int, never a float or bool."""
    if type(obj) is not list or not obj or type(obj[0]) is not int:
        return None
    return obj[0]


def _canonical(obj: Any, body: bytes | memoryview) -> None:
    try:
        again = _pack(obj)
    except Exception as exc:  # pragma: no cover - decoded objects always pack
        raise BodyError(f"cannot re-encode ({exc})") from None
    if again != body or not _sorted_maps(obj):
        raise BodyError(
            "body is valid msgpack but not in the canonical profile (a non-shortest "
            "integer, a float32, an unsorted map or another alternative encoding)"
        )


def _int(value: Any, name: str) -> int:
    if type(value) is not int or value < 0:
        raise BodyError(f"{name} must be a non-negative integer; got {value!r}")
    return value


def _float(value: Any, name: str) -> float:
    if type(value) is not float:
        raise BodyError(f"{name} must be a float64; got {type(value).__name__}")
    if not math.isfinite(value):
        raise BodyError(f"{name} must be finite; got {value!r}")
    return value


def _digest(value: Any, name: str) -> bytes:
    if type(value) is not bytes or len(value) != DIGEST_SIZE:
        raise BodyError(
            f"{name} must be {DIGEST_SIZE} bytes of digest; got {value!r:.60}"
        )
    return value


def _root(value: Any) -> bytes:
    if type(value) is not bytes or len(value) != TREE_ROOT_SIZE:
        raise BodyError(f"tree_root must be {TREE_ROOT_SIZE} bytes (bin) or nil")
    return value


def _array(value: Any, name: str) -> FloatArray:
    if not isinstance(value, msgpack.ExtType) or value.code != ARRAY_EXT:
        raise BodyError(
            f"{name} must be an array (ExtType 1); got {type(value).__name__}"
        )
    return decode_array(value.data, name)


def _optional_array(value: Any, name: str) -> FloatArray | None:
    return None if value is None else _array(value, name)


def _number_or_array(value: Any, name: str) -> float | FloatArray | None:
    if value is None:
        return None
    if type(value) is float:
        return _float(value, name)
    return _array(value, name)


def _spec(value: Any) -> RunSpec:
    if type(value) is not list or len(value) != 6:
        raise BodyError(
            "spec must be a list of 6 fields [scheme, A, G, dt, B, allow_unstable]"
        )
    scheme_name, A, G, dt, B, allow_unstable = value
    try:
        scheme = Scheme(scheme_name)
    except ValueError:
        raise BodyError(f"spec.scheme {scheme_name!r} is not a known scheme") from None
    if type(allow_unstable) is not bool:
        raise BodyError("spec.allow_unstable must be a boolean")
    dt_value = _number_or_array(dt, "spec.dt")
    if dt_value is None:
        raise BodyError("spec.dt is required")
    A_arr = _array(A, "spec.A")
    return RunSpec(
        scheme=scheme,
        A=A_arr,
        G=_optional_array(G, "spec.G"),
        dt=dt_value,
        B=_optional_array(B, "spec.B"),
        allow_unstable=allow_unstable,
    )


def _list(obj: Any, length: int, what: str) -> list[Any]:
    if type(obj) is not list or len(obj) != length:
        size = len(obj) if type(obj) is list else type(obj).__name__
        raise BodyError(f"{what} must be a list of {length} fields; got {size}")
    return obj


def decode_header(body: bytes | memoryview) -> RunStarted:
    """Decode and check a header body (the caller checks the schema version first)."""
    obj = _unpack(body)
    _canonical(obj, body)
    if _code(obj) != EventKind.RUN_STARTED:
        raise BodyError("the first frame must be a run_started header")
    obj = _list(obj, 8, "run_started")
    _, schema_version, library_version, hashes, spec, y0, z0, fingerprint = obj
    if type(library_version) is not str:
        raise BodyError("library_version must be a string")
    if type(hashes) is not list or not all(type(h) is str for h in hashes):
        raise BodyError("hash_algorithms must be a list of strings")
    if type(fingerprint) is not dict:
        raise BodyError("fingerprint must be a map")
    y_arr = _array(y0, "y0")
    z_arr = _array(z0, "z0")
    return RunStarted(
        schema_version=_int(schema_version, "schema_version"),
        library_version=library_version,
        hash_algorithms=tuple(hashes),
        spec=_spec(spec),
        y0=y_arr,
        z0=z_arr,
        fingerprint=fingerprint,
    )


def header_schema_version(body: bytes | memoryview) -> int:
    """The schema version of a header body, read before anything else is trusted."""
    obj = _unpack(body)
    if _code(obj) != EventKind.RUN_STARTED or len(obj) < 2:
        raise BodyError("the first frame must be a run_started header")
    return _int(obj[1], "schema_version")


_FIXEXT_SIZE: Final = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}
_UINT_FORMS: Final = {
    0xCC: struct.Struct(">B"),
    0xCD: struct.Struct(">H"),
    0xCE: struct.Struct(">I"),
    0xCF: struct.Struct(">Q"),
}
_BE_F64: Final = struct.Struct(">d")
_U16: Final = struct.Struct(">H")
_U32: Final = struct.Struct(">I")
_ENERGIES: Final = struct.Struct(">dxdxd")
_STEP_CODE: Final = int(EventKind.STEP_APPLIED)


def _shortest_ext_marker(size: int) -> int:
    fixed = _FIXEXT_MARKER.get(size)
    if fixed is not None:
        return fixed
    return 0xC7 if size < 0x100 else 0xC8 if size < 0x10000 else 0xC9


_FIXEXT_MARKER: Final = {size: marker for marker, size in _FIXEXT_SIZE.items()}
_UINT_MINIMUM: Final = {0xCC: 0x80, 0xCD: 0x100, 0xCE: 0x10000, 0xCF: 0x100000000}


# The ext header and payload head (dtype, shape) last validated for each field
# of a step, with the array's shape and byte length. A run repeats them in every
# event, so a byte comparison replaces parsing them again. A pure memo of
# validated bytes: it changes no result, and holds four small entries at most.
_ARRAY_HEADS: dict[str, tuple[bytes, tuple[int, ...], int]] = {}


def _read_value(body: bytes, pos: int, name: str) -> tuple[Any, int]:
    """One nil, float64 or array value at ``pos``, in its canonical form only.

    Returns the value and the next position. Arrays are read-only views of
    ``body`` (which is immutable bytes).
    """
    marker = body[pos]
    if marker == 0xC0:
        return None, pos + 1
    if marker == 0xCB:
        return _float(_BE_F64.unpack_from(body, pos + 1)[0], name), pos + 9
    known = _ARRAY_HEADS.get(name)
    if known is not None and body.startswith(known[0], pos):
        head, shape, nbytes = known
        start = pos + len(head)
        end = start + nbytes
        if end > len(body):
            raise BodyError(f"{name}: array runs past the end of the body")
        arr = np.frombuffer(body, _LE_F64, nbytes >> 3, start)
        if body[start + 7 : end : 8].translate(None, _NOT_TOP_OF_NON_FINITE):
            decode_array(body[start - 2 - 4 * len(shape) : end], name)  # locates it
        return (arr if len(shape) == 1 else arr.reshape(shape)), end
    if marker == 0xC7:
        size, start = body[pos + 1], pos + 3
    elif marker == 0xC8:
        size, start = struct.unpack_from(">H", body, pos + 1)[0], pos + 4
    elif marker == 0xC9:
        size, start = struct.unpack_from(">I", body, pos + 1)[0], pos + 6
    elif marker in _FIXEXT_SIZE:
        size, start = _FIXEXT_SIZE[marker], pos + 2
    else:
        raise BodyError(
            f"{name} must be nil, a float64 or an array; got marker 0x{marker:02x}"
        )
    if marker != _shortest_ext_marker(size):
        raise BodyError(
            f"{name}: body is not in the canonical profile (the ext header is not "
            f"the shortest for {size} bytes)"
        )
    if body[start - 1] != ARRAY_EXT:
        raise BodyError(f"{name}: unknown ExtType {body[start - 1]}")
    if start + size > len(body):
        raise BodyError(f"{name}: array runs past the end of the body")
    arr = decode_array(body[start : start + size], name)
    values = start + 2 + 4 * arr.ndim
    _ARRAY_HEADS[name] = (body[pos:values], arr.shape, 8 * arr.size)
    return arr, start + size


def _step_head(
    body: bytes,
) -> tuple[int, float | FloatArray | None, float | FloatArray | None, int]:
    """``(seq, u, dt, position after dt)`` of a step body, canonical forms only."""
    try:
        marker = body[2]
        if marker < 0x80:
            seq, pos = marker, 3
        elif marker in _UINT_FORMS:
            form = _UINT_FORMS[marker]
            seq, pos = form.unpack_from(body, 3)[0], 3 + form.size
            if seq < _UINT_MINIMUM[marker]:
                raise BodyError(
                    f"body is not in the canonical profile (seq {seq} is not in its "
                    "shortest integer form)"
                )
        else:
            raise BodyError(
                f"seq must be a non-negative integer; got marker 0x{marker:02x}"
            )
        u, pos = _read_value(body, pos, "u")
        if body[pos] == 0xC0:  # no per-step dt: the usual case
            dt, pos = None, pos + 1
        else:
            dt, pos = _read_value(body, pos, "dt")
    except (IndexError, struct.error):
        raise BodyError("step_applied body ends early") from None
    return seq, u, dt, pos


def is_step(body: bytes) -> bool:
    """Whether a body is laid out as a step event (checked in full by decoding)."""
    return len(body) > 2 and body[0] == 0x9A and body[1] == _STEP_CODE


def step_inputs(
    body: bytes,
) -> tuple[int, float | FloatArray | None, float | FloatArray | None]:
    """``(seq, u, dt)`` of a step body, without decoding the rest.

    For replay: the replayed event is encoded again and compared with ``body``
    byte for byte, which checks every other field and the canonical form.
    """
    return _step_head(body)[:3]


_USUAL_TAIL: Final = struct.Struct(">BBB16sBdBdBdBB")
_USUAL_MARKERS: Final = (0xC0, 0xC4, DIGEST_SIZE, 0xCB, 0xCB, 0xCB, 0xC0, 0xC0)
_isfinite: Final = math.isfinite


def _decode_usual_step(body: bytes) -> StepApplied | None:
    """The step layout the recorder writes nearly always, by fixed positions:
    ``u`` an array of a shape seen before, no per-step ``dt``, no full state.

    Every byte is either compared with the one the canonical encoding puts
    there or is a value, and the length must match, so exactly the canonical
    bodies of this layout are taken; None sends any other body to
    ``_decode_step``, which decodes it or says what is wrong.
    """
    known = _ARRAY_HEADS.get("u")
    if known is None or len(body) < _USUAL_TAIL.size + 8:
        return None  # too short to index by position: the general path says why
    marker = body[2]
    if marker < 0x80:
        seq, pos = marker, 3
    elif marker == 0xCC and body[3] >= 0x80:
        seq, pos = body[3], 4
    elif marker == 0xCD and (seq := _U16.unpack_from(body, 3)[0]) >= 0x100:
        pos = 5
    elif marker == 0xCE and (seq := _U32.unpack_from(body, 3)[0]) >= 0x10000:
        pos = 7
    else:
        return None  # an eight-byte seq, or not canonical: the general path
    head, shape, nbytes = known
    start = pos + len(head)
    end = start + nbytes
    if len(body) != end + _USUAL_TAIL.size or not body.startswith(head, pos):
        return None
    dt, c4, size, digest, f0, e0, f1, e1, f2, de, ny, nz = _USUAL_TAIL.unpack_from(
        body, end
    )
    if (dt, c4, size, f0, f1, f2, ny, nz) != _USUAL_MARKERS or not (
        _isfinite(e0) and _isfinite(e1) and _isfinite(de)
    ):
        return None
    if body[start + 7 : end : 8].translate(None, _NOT_TOP_OF_NON_FINITE):
        return None  # a value that may not be finite: checked on the general path
    u = np.frombuffer(body, _LE_F64, nbytes >> 3, start)
    return StepApplied(
        seq, u if len(shape) == 1 else u.reshape(shape), None, digest, e0, e1, de
    )


def _decode_step(body: bytes) -> StepApplied:
    """A step body, parsed in place, accepting the canonical layout only.

    Gives the record the general decoder would, without building and
    re-packing msgpack objects (which costs more than replaying the step):
    each field's form is checked to be the one ``encode_step`` writes, and
    nothing may follow the last field, so one event has one encoding here too.
    """
    seq, u, dt, pos = _step_head(body)
    # Fixed part: bin8 marker and length, the digest, three float64 markers.
    if len(body) < pos + 47 or (
        body[pos] != 0xC4
        or body[pos + 1] != DIGEST_SIZE
        or body[pos + 18] != 0xCB
        or body[pos + 27] != 0xCB
        or body[pos + 36] != 0xCB
    ):
        raise BodyError(
            "step_applied: body is not in the canonical profile (state_digest must be "
            "16 bytes of bin and the energies float64)"
        )
    digest = body[pos + 2 : pos + 18]
    e0, e1, de = _ENERGIES.unpack_from(body, pos + 19)
    pos += 45
    if body[pos] == 0xC0 and body[pos + 1] == 0xC0:  # no full state: the usual case
        y = z = None
        pos += 2
    else:
        try:
            y, pos = _read_value(body, pos, "y")
            z, pos = _read_value(body, pos, "z")
        except (IndexError, struct.error):
            raise BodyError("step_applied body ends early") from None
        if type(y) is float or type(z) is float:
            raise BodyError("y and z must be arrays or nil")
    if pos != len(body):
        raise BodyError(
            f"step_applied: body is not in the canonical profile ({len(body) - pos} "
            "bytes after the last field)"
        )
    if not (math.isfinite(e0) and math.isfinite(e1) and math.isfinite(de)):
        _float(e0, "energy_before")
        _float(e1, "energy_after")
        _float(de, "delta_energy")
    return StepApplied(seq, u, dt, digest, e0, e1, de, y, z)


def decode_event(
    body: bytes | memoryview, schema_version: int = SCHEMA_VERSION
) -> Event:
    """Decode one canonical event body into its record.

    Raises:
        BodyError: the body is not msgpack, not canonical, or not an event of
            the expected layout (the message names the field).
    """
    if type(body) is not bytes:
        body = bytes(body)
    if (
        schema_version == SCHEMA_VERSION
        and len(body) > 2
        and body[0] == 0x9A
        and body[1] == EventKind.STEP_APPLIED
    ):
        return _decode_usual_step(body) or _decode_step(body)
    obj = _unpack(body)
    _canonical(obj, body)
    if type(obj) is not list or not obj:
        raise BodyError(f"an event must be a non-empty list; got {type(obj).__name__}")
    for version in range(schema_version, SCHEMA_VERSION):
        obj = UPCASTERS[version](obj)
    code = _code(obj)
    if code == EventKind.STEP_APPLIED:
        _, seq, u, dt, digest, e0, e1, de, y, z = _list(obj, 10, "step_applied")
        return StepApplied(
            _int(seq, "seq"),
            _number_or_array(u, "u"),
            _number_or_array(dt, "dt"),
            _digest(digest, "state_digest"),
            _float(e0, "energy_before"),
            _float(e1, "energy_after"),
            _float(de, "delta_energy"),
            _optional_array(y, "y"),
            _optional_array(z, "z"),
        )
    if code == EventKind.PARAMS_CHANGED:
        _, seq, spec = _list(obj, 3, "params_changed")
        return ParamsChanged(_int(seq, "seq"), _spec(spec))
    if code == EventKind.STATE_WRITTEN:
        _, seq, y, z, digest, energy = _list(obj, 6, "state_written")
        return StateWritten(
            _int(seq, "seq"),
            _array(y, "y"),
            _array(z, "z"),
            _digest(digest, "state_digest"),
            _float(energy, "energy"),
        )
    if code == EventKind.CHECKPOINT_TAKEN:
        _, seq, spec, y, z, digest, energy = _list(obj, 7, "checkpoint_taken")
        return CheckpointTaken(
            _int(seq, "seq"),
            _spec(spec),
            _array(y, "y"),
            _array(z, "z"),
            _digest(digest, "state_digest"),
            _float(energy, "energy"),
        )
    if code == EventKind.RUN_CLOSED:
        _, seq, events, run_digest, tree_root = _list(obj, 5, "run_closed")
        return RunClosed(
            _int(seq, "seq"),
            _int(events, "events"),
            _digest(run_digest, "run_digest"),
            None if tree_root is None else _root(tree_root),
        )
    raise BodyError(f"unknown event code {code!r}")
