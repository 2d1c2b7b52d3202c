"""Bad input for the log reader: damage, cuts, splices and hostile frames.

Whatever the bytes, reading either yields the events of an intact log (or an
intact prefix of one, for a cut at a frame boundary) or raises one of the typed
``LogError`` subclasses naming the sequence number and byte offset of the frame
at fault, never a raw msgpack, ``KeyError``, ``ValueError``, ``struct.error`` or
``IndexError``. Hostile frames are built with ``logfile.frame``, so they carry
valid checksums and reach the body decoder.
"""

from __future__ import annotations

import json
import random
import struct
import tracemalloc
from typing import Any

import logs
import msgpack
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from logs import assert_same_events, record, small_log

from linoss_dynamics import codec, events, export, logfile
from linoss_dynamics.errors import (
    ChainBrokenError,
    LogCorruptError,
    LogError,
    LogFormatError,
    LogTruncatedError,
    UnsupportedVersionError,
)

TYPED = (
    LogFormatError,
    UnsupportedVersionError,
    LogCorruptError,
    LogTruncatedError,
    ChainBrokenError,
)
NOT_A_LOG = "input is not a linoss run log (it does not start with the log magic bytes)"
SEED = 20240611


def read(data: bytes, **kwargs: Any) -> list[events.Event]:
    """Every event of ``data``; lets only ``LogError`` out, checked for its locator."""
    try:
        with logfile.LogReader(data, **kwargs) as reader:
            return list(reader)
    except LogError as exc:
        check_locator(exc, data)
        raise


def check_locator(exc: LogError, data: bytes) -> None:
    assert type(exc) in TYPED, type(exc)
    assert type(exc.seq) is int, exc.seq
    assert type(exc.offset) is int, exc.offset
    assert 0 <= exc.offset <= len(data)
    if exc.offset == 0:
        assert exc.seq == -1
        return
    where = "header" if exc.seq < 0 else f"event seq {exc.seq}"
    assert str(exc).startswith(f"{where} (frame at byte {exc.offset}): "), str(exc)


def outcome(data: bytes, **kwargs: Any) -> tuple[type, int, int] | list[events.Event]:
    """``(error type, seq, offset)``, or the events when the log reads to its end."""
    try:
        return read(data, **kwargs)
    except LogError as exc:
        return type(exc), exc.seq, exc.offset


def frame_index(log: logs.Log, position: int) -> int:
    """Index of the frame holding byte ``position`` (0 is the header)."""
    for index, (start, end) in enumerate(log.spans):
        if start <= position < end:
            return index
    raise AssertionError(position)


def flip(data: bytes, position: int, bit: int) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 1 << bit
    return bytes(changed)


def splice(log: logs.Log, frames: list[bytes]) -> bytes:
    return log.data[: logs.MAGIC_SIZE] + b"".join(frames)


def frames_of(log: logs.Log) -> list[bytes]:
    return [log.data[start:end] for start, end in log.spans]


TINY = small_log(1, mixed=False)
SMALL = small_log(3)
OTHER = small_log(3, seed=99)


# -- arbitrary bytes -------------------------------------------------------------------


class TestArbitraryBytes:
    @given(st.binary(max_size=2000))
    def test_random_bytes_are_not_a_log(self, data):
        with pytest.raises(LogError) as info:
            read(data)

        if data[:7] == codec.MAGIC_PREFIX and len(data) >= 8:
            assert type(info.value) in (
                UnsupportedVersionError,
                LogCorruptError,
                LogTruncatedError,
            )
        else:
            assert type(info.value) is LogFormatError
            assert str(info.value) == NOT_A_LOG

    @given(st.binary(max_size=2000))
    def test_random_bytes_after_the_magic(self, data):
        with pytest.raises(LogError) as info:
            read(codec.MAGIC + data)

        assert info.value.seq == -1
        assert info.value.offset == 8

    @given(st.binary(min_size=1, max_size=2000))
    def test_random_bytes_after_the_header(self, data):
        header_end = SMALL.spans[0][1]

        with pytest.raises(LogError) as info:
            read(SMALL.data[:header_end] + data)

        assert (info.value.seq, info.value.offset) == (0, header_end)

    @given(st.data())
    def test_random_bytes_over_part_of_a_log(self, data):
        log = SMALL
        start = data.draw(st.integers(0, len(log.data) - 1))
        patch = data.draw(st.binary(min_size=1, max_size=64))
        damaged = log.data[:start] + patch + log.data[start + len(patch) :]
        damaged = damaged[: len(log.data)]
        first = next(
            (
                i
                for i, (a, b) in enumerate(zip(damaged, log.data, strict=True))
                if a != b
            ),
            None,
        )

        result = outcome(damaged)

        if first is None:
            assert_same_events(result, log.events)
        else:
            assert result == expected_flip(log, first)

    @pytest.mark.parametrize(
        "data",
        [
            b"",
            b"hello",
            b"\x89PNG\r\n\x1a\n" + bytes(64),
            b"\x89LINOS",
            SMALL.data[8:],
            SMALL.data[::-1],
            json.dumps({"kind": "run_started"}).encode(),
        ],
        ids=["empty", "text", "png", "short-magic", "no-magic", "reversed", "json"],
    )
    def test_not_a_log(self, data):
        with pytest.raises(LogFormatError) as info:
            read(data)

        assert str(info.value) == NOT_A_LOG
        assert (info.value.seq, info.value.offset) == (-1, 0)

    def test_not_a_log_file_names_the_file(self, tmp_path):
        path = tmp_path / "notes.txt"
        path.write_text("just some notes\n")

        with pytest.raises(LogFormatError) as info:
            logfile.LogReader(path)

        assert str(info.value) == (
            f"{path} is not a linoss run log (it does not start with the log magic "
            "bytes)"
        )

    def test_jsonl_export_is_not_a_log(self):
        text = export.iter_models(SMALL.data)
        data = "\n".join(model.model_dump_json() for model in text).encode()

        with pytest.raises(LogFormatError, match="is not a linoss run log"):
            read(data)


# -- versions --------------------------------------------------------------------------


class TestVersions:
    @pytest.mark.parametrize("version", [0, 2, 255])
    def test_unknown_format_version_in_the_magic(self, version):
        data = SMALL.data[:7] + bytes([version]) + SMALL.data[8:]

        with pytest.raises(UnsupportedVersionError) as info:
            read(data)

        assert str(info.value) == (
            f"log: written in log format version {version}; this library reads "
            "version 1: upgrade linoss-dynamics"
        )
        assert (info.value.seq, info.value.offset) == (-1, 0)

    @pytest.mark.parametrize("version", [0, 3, 127, 2**64 - 1])
    def test_unknown_schema_version_in_the_header(self, version):
        log = record(SMALL.header._replace(schema_version=version), [])

        with pytest.raises(UnsupportedVersionError) as info:
            read(log.data)

        assert str(info.value) == (
            f"header (frame at byte 8): written in event schema version {version}; "
            "this library reads versions 1 to 2: upgrade linoss-dynamics"
        )

    @pytest.mark.parametrize("version", [1, 2])
    def test_known_schema_versions_in_the_header(self, version):
        log = record(SMALL.header._replace(schema_version=version), [], close=False)

        with logfile.LogReader(log.data) as reader:
            read_back = list(reader)

        assert codec.SCHEMA_VERSION == 2
        assert reader.header.schema_version == version
        assert read_back == []

    def test_unsupported_version_is_a_format_error(self):
        assert issubclass(UnsupportedVersionError, LogFormatError)


# -- cuts ------------------------------------------------------------------------------


def expected_cut(log: logs.Log, cut: int) -> Any:
    if cut < 8:
        return LogFormatError, -1, 0
    if cut == 8:
        return LogTruncatedError, -1, 8
    for index, (start, end) in enumerate(log.spans):
        if cut == end:
            return log.events[:index]
        if start < cut < end:
            return LogTruncatedError, index - 1, start
    raise AssertionError(cut)


class TestTruncation:
    @pytest.mark.parametrize("log", [TINY, SMALL], ids=["tiny", "small"])
    def test_every_cut(self, log):
        for cut in range(len(log.data) + 1):
            expected = expected_cut(log, cut)

            result = outcome(log.data[:cut])

            if isinstance(expected, list):
                assert isinstance(result, list), (cut, result)
                assert_same_events(result, expected)
            else:
                assert result == expected, cut

    def test_messages_of_a_cut(self):
        start, end = SMALL.event_span(2)

        with pytest.raises(LogTruncatedError) as in_head:
            read(SMALL.data[: start + 5])
        with pytest.raises(LogTruncatedError) as in_body:
            read(SMALL.data[: end - 1])
        with pytest.raises(LogTruncatedError) as no_header:
            read(SMALL.data[:8])

        length = end - start - 8
        assert str(in_head.value).endswith(": the log ends inside a frame header")
        assert str(in_body.value).endswith(
            f": the log ends inside a frame ({length - 1} of {length} bytes)"
        )
        assert str(no_header.value) == "header (frame at byte 8): the log has no header"


# -- bit flips -------------------------------------------------------------------------


def expected_flip(log: logs.Log, position: int) -> tuple[type, int, int]:
    if position < 7:
        return LogFormatError, -1, 0
    if position == 7:
        return UnsupportedVersionError, -1, 0
    index = frame_index(log, position)
    start, _ = log.spans[index]
    return LogCorruptError, index - 1, start


class TestBitFlips:
    def test_every_bit_of_a_tiny_log(self):
        log = TINY
        missed = []

        for position in range(len(log.data)):
            expected = expected_flip(log, position)
            for bit in range(8):
                result = outcome(flip(log.data, position, bit))
                if result != expected:
                    missed.append((position, bit, result))

        assert missed == []

    def test_sampled_bits_of_a_log_with_every_event_kind(self):
        log = SMALL
        rng = random.Random(SEED)
        missed = []

        for _ in range(3000):
            position = rng.randrange(len(log.data))
            bit = rng.randrange(8)
            expected = expected_flip(log, position)

            result = outcome(flip(log.data, position, bit))

            if result != expected:
                missed.append((position, bit, result))

        assert missed == []

    def test_messages_name_what_failed(self):
        start, _ = SMALL.event_span(1)

        with pytest.raises(LogCorruptError) as length:
            read(flip(SMALL.data, start + 2, 0))
        with pytest.raises(LogCorruptError) as checksum:
            read(flip(SMALL.data, start + 30, 0))

        assert str(length.value) == (
            f"event seq 1 (frame at byte {start}): frame length field is damaged"
        )
        assert str(checksum.value) == (
            f"event seq 1 (frame at byte {start}): frame checksum does not match its "
            "bytes"
        )


# -- frames moved around ---------------------------------------------------------------


CHAIN = "frame does not continue the chain"


class TestChain:
    @pytest.mark.parametrize("k", range(len(SMALL.events)))
    def test_duplicated_frame(self, k):
        frames = frames_of(SMALL)
        frames.insert(k + 1, frames[k + 1])

        with pytest.raises(ChainBrokenError, match=CHAIN) as info:
            read(splice(SMALL, frames))

        assert (info.value.seq, info.value.offset) == (k + 1, SMALL.event_span(k)[1])

    @pytest.mark.parametrize("k", range(len(SMALL.events) - 1))
    def test_swapped_frames(self, k):
        frames = frames_of(SMALL)
        frames[k + 1], frames[k + 2] = frames[k + 2], frames[k + 1]

        with pytest.raises(ChainBrokenError, match=CHAIN) as info:
            read(splice(SMALL, frames))

        assert (info.value.seq, info.value.offset) == (k, SMALL.event_span(k)[0])

    @pytest.mark.parametrize("k", range(len(SMALL.events) - 1))
    def test_deleted_frame(self, k):
        frames = frames_of(SMALL)
        del frames[k + 1]

        with pytest.raises(ChainBrokenError, match=CHAIN) as info:
            read(splice(SMALL, frames))

        assert (info.value.seq, info.value.offset) == (k, SMALL.event_span(k)[0])

    def test_deleting_the_last_frame_leaves_an_unclosed_prefix(self):
        frames = frames_of(SMALL)[:-1]

        result = read(splice(SMALL, frames))

        assert_same_events(result, SMALL.events[:-1])

    @pytest.mark.parametrize("k", range(len(SMALL.events)))
    def test_frame_inserted_from_another_log(self, k):
        frames = frames_of(SMALL)
        frames.insert(k + 1, frames_of(OTHER)[k + 1])

        with pytest.raises(ChainBrokenError, match=CHAIN) as info:
            read(splice(SMALL, frames))

        assert (info.value.seq, info.value.offset) == (k, SMALL.event_span(k)[0])

    @pytest.mark.parametrize("k", range(len(SMALL.events)))
    def test_frame_replaced_by_the_same_position_of_another_log(self, k):
        frames = frames_of(SMALL)
        frames[k + 1] = frames_of(OTHER)[k + 1]

        with pytest.raises(ChainBrokenError, match=CHAIN) as info:
            read(splice(SMALL, frames))

        assert info.value.seq == k

    def test_header_of_another_run(self):
        frames = frames_of(SMALL)
        frames[0] = frames_of(OTHER)[0]

        with pytest.raises(ChainBrokenError, match=CHAIN) as info:
            read(splice(SMALL, frames))

        assert (info.value.seq, info.value.offset) == (0, OTHER.spans[0][1])

    def test_header_not_starting_from_its_genesis(self):
        body = codec.encode_header(SMALL.header)
        data, _ = logfile.frame(OTHER.genesis, body)

        with pytest.raises(ChainBrokenError) as info:
            read(codec.MAGIC + data)

        assert str(info.value) == (
            "header (frame at byte 8): the header's chain start does not match its "
            "parameters and initial state"
        )

    @pytest.mark.parametrize("seq", [0, 2, 5, 2**64 - 1])
    def test_frame_in_the_chain_with_the_wrong_seq(self, seq):
        at = 2
        prefix = SMALL.data[: SMALL.event_span(at)[0]]
        event = SMALL.events[at]._replace(seq=seq if seq != at else seq + 1)
        data, _ = logfile.frame(SMALL.digests[at - 1], codec.encode_event(event))

        with pytest.raises(ChainBrokenError) as info:
            read(prefix + data)

        assert str(info.value).endswith(f"event carries seq {event.seq}, expected {at}")
        assert (info.value.seq, info.value.offset) == (at, len(prefix))


# -- hostile frames with valid checksums -----------------------------------------------


HEADER_END = SMALL.spans[0][1]


def after_header(body: bytes) -> bytes:
    """A log whose first event frame carries ``body``, chained and checksummed."""
    data, _ = logfile.frame(SMALL.genesis, body)
    return SMALL.data[:HEADER_END] + data


def as_header(body: bytes) -> bytes:
    data, _ = logfile.frame(SMALL.genesis, body)
    return codec.MAGIC + data


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def after_header_at(seq: int, body: bytes) -> bytes:
    """SMALL cut before event ``seq``, then a chained frame carrying ``body``."""
    start, _ = SMALL.event_span(seq)
    prev = SMALL.digests[seq - 1] if seq else SMALL.genesis
    data, _ = logfile.frame(prev, body)
    return SMALL.data[:start] + data


def assert_format_error(data: bytes, seq: int, match: str | None = None) -> LogError:
    with pytest.raises(LogFormatError, match=match) as info:
        read(data)
    assert type(info.value) is LogFormatError
    assert info.value.seq == seq
    assert info.value.offset == (8 if seq < 0 else HEADER_END)
    return info.value


NESTING = 100_000


class TestHostileFrames:
    @pytest.mark.parametrize(
        "body",
        [
            b"\x91" * NESTING + b"\xc0",
            b"\x81\xa1k" * NESTING + b"\xc0",
            b"\x9a\x01" + b"\x91" * NESTING + b"\xc0",
        ],
        ids=["arrays", "maps", "inside-a-step"],
    )
    def test_deep_nesting(self, body):
        assert_format_error(after_header(body), 0)
        assert_format_error(as_header(body), -1)

    @pytest.mark.parametrize(
        "head",
        [
            "ddffffffff",  # array32
            "dfffffffff",  # map32
            "dbffffffff",  # str32
            "c6ffffffff",  # bin32
            "c9ffffffff01",  # ext32
            "9a01c9ffffffff01",  # a step whose u claims 4 GiB
            "9a01cf0000000000000001c7ff01",  # a step whose u claims 255 bytes
            "9504dcffff",  # a checkpoint holding an array16 of 65535
        ],
    )
    def test_huge_declared_sizes(self, head):
        body = bytes.fromhex(head) + bytes(16)

        tracemalloc.start()
        try:
            assert_format_error(after_header(body), 0)
            assert_format_error(as_header(body), -1)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

        assert peak < 1 << 20

    def test_declared_frame_length_above_the_bound(self):
        hostile = struct.pack("<II", 2**32 - 1, 0) + bytes(24)
        data = SMALL.data[:HEADER_END] + hostile

        tracemalloc.start()
        try:
            with pytest.raises(LogCorruptError) as small_bound:
                read(data, max_frame_bytes=1024)
            with pytest.raises(LogCorruptError) as default_bound:
                read(data)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

        assert str(small_bound.value) == (
            f"event seq 0 (frame at byte {HEADER_END}): frame declares 4294967295 "
            "bytes, above the bound of 1024 (pass max_frame_bytes= to read larger "
            "frames)"
        )
        assert "above the bound of 67108864" in str(default_bound.value)
        assert peak < 1 << 20

    def test_declared_length_within_the_bound_but_past_the_end(self):
        hostile = struct.pack("<II", 1000, 1000 ^ 0xFFFFFFFF) + bytes(24)

        with pytest.raises(LogTruncatedError) as info:
            read(SMALL.data[:HEADER_END] + hostile, max_frame_bytes=1024)

        assert (info.value.seq, info.value.offset) == (0, HEADER_END)

    @pytest.mark.parametrize("event", SMALL.events[:-1], ids=lambda e: type(e).__name__)
    def test_wrong_type_in_every_field(self, event):
        layout = msgpack.unpackb(codec.encode_event(event), raw=False)
        failures = []

        for index in range(len(layout)):
            for wrong in ("x", [], {"k": 1}, -1):
                changed = list(layout)
                changed[index] = wrong
                body = pack(changed)

                result = outcome(after_header_at(event.seq, body))

                if result[:2] != (LogFormatError, event.seq):
                    failures.append((index, wrong, result))

        assert failures == []

    def test_wrong_type_in_every_header_field(self):
        layout = msgpack.unpackb(codec.encode_header(SMALL.header), raw=False)
        failures = []

        for index in range(len(layout)):
            for wrong in (1.5, -1, None, True):
                changed = list(layout)
                changed[index] = wrong

                result = outcome(as_header(pack(changed)))

                if result != (LogFormatError, -1, 8):
                    failures.append((index, wrong, result))

        assert failures == []

    @pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
    def test_non_finite_states_and_energies(self, bad):
        P = logs.P
        y = np.full(P, 1.0)
        y[1] = bad
        cases = {
            "y: values must be finite": codec.encode_step(
                0, None, None, bytes(16), 1.0, 1.0, 0.0, y, np.ones(P)
            ),
            "z: values must be finite": codec.encode_step(
                0, None, None, bytes(16), 1.0, 1.0, 0.0, np.ones(P), y
            ),
            "energy_before must be finite": codec.encode_step(
                0, 0.5, None, bytes(16), bad, 1.0, 0.0
            ),
            "delta_energy must be finite": codec.encode_step(
                0, 0.5, None, bytes(16), 1.0, 1.0, bad
            ),
            "energy must be finite": codec.encode_event(
                events.StateWritten(0, np.ones(P), np.ones(P), bytes(16), bad)
            ),
        }

        for message, body in cases.items():
            error = assert_format_error(after_header(body), 0, match=message)
            assert message in str(error)

    @pytest.mark.parametrize("bad", [float("nan"), float("inf")])
    def test_non_finite_initial_state(self, bad):
        y0 = SMALL.header.y0.copy()
        y0[0] = bad
        body = codec.encode_header(SMALL.header._replace(y0=y0))

        assert_format_error(as_header(body), -1, match="y0: values must be finite")

    @pytest.mark.parametrize("code", [6, 9, 127, 255])
    def test_unknown_event_code(self, code):
        body = pack([code, 0])

        assert_format_error(after_header(body), 0, match=f"unknown event code {code}")

    def test_second_header_in_the_middle(self):
        body = codec.encode_header(SMALL.header)

        assert_format_error(after_header(body), 0, match="unknown event code 0")

    def test_event_where_the_header_belongs(self):
        body = codec.encode_event(SMALL.events[0])

        assert_format_error(
            as_header(body), -1, match="the first frame must be a run_started header"
        )

    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"\xc0",
            b"\x90",
            b"\x80",
            b"\x01",
            b"\xc1",
            b"\x9a\x01",
            b"\x9a\x01\x00",
        ],
        ids=lambda b: b.hex() or "empty",
    )
    def test_tiny_bodies(self, body):
        assert_format_error(after_header(body), 0)
        assert_format_error(as_header(body), -1)

    @given(st.binary(max_size=200))
    def test_random_bodies(self, body):
        as_event = outcome(after_header(body))
        as_first = outcome(as_header(body))

        assert_refused_or_canonical(as_event, body)
        assert as_first[:2] in ((LogFormatError, -1), (ChainBrokenError, -1))

    @given(st.binary(max_size=64))
    def test_random_bodies_that_look_like_a_step(self, tail):
        body = b"\x9a\x01" + tail

        result = outcome(after_header(body))

        assert_refused_or_canonical(result, body)


def assert_refused_or_canonical(result: Any, body: bytes) -> None:
    """A body is refused as event 0, or it is the canonical encoding of event 0."""
    if isinstance(result, list):
        assert len(result) == 1
        assert result[0].seq == 0
        assert codec.encode_event(result[0]) == body
    else:
        assert result[:2] == (LogFormatError, 0)
