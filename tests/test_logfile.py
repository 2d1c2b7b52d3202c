"""The run log file: frames, the writer (lock, sync policy, recovery) and the reader."""

from __future__ import annotations

import io
import os
import signal
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import logs
import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)
from logs import assert_same_events, read_all, record, small_log

from linoss_dynamics import Scheme, _environment, codec, events, logfile
from linoss_dynamics.errors import (
    LinOSSError,
    LogCorruptError,
    LogError,
    LogFormatError,
    LogLockedError,
    LogTruncatedError,
)
from linoss_dynamics.logfile import LogReader, LogWriter, Recovery, SyncPolicy
from linoss_dynamics.merkle import MerkleTree


def steps_log(count: int = 5, *, seed: int = 0, close: bool = False) -> logs.Log:
    return small_log(count, seed=seed, close=close, mixed=False)


def root_of(bodies: list[bytes]) -> bytes:
    """The Merkle root of these event bodies."""
    tree = MerkleTree()
    for body in bodies:
        tree.append(body)
    return tree.root()


def flip(data: bytes, position: int, bit: int = 0) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 1 << bit
    return bytes(changed)


# -- the file layout -------------------------------------------------------------------


class TestLayout:
    def test_magic_is_the_documented_bytes(self):
        log = small_log()

        magic = log.data[:8]

        assert magic == b"\x89LINOSS\x01"
        assert magic == codec.MAGIC
        assert codec.FORMAT_VERSION == 1

    @given(st.binary(min_size=16, max_size=16), st.binary(max_size=300))
    def test_frame_is_the_documented_bytes(self, prev, body):
        length = struct.pack("<II", len(body), len(body) ^ 0xFFFFFFFF)
        core = length + prev + body
        expected = core + struct.pack("<Q", xxhash.xxh3_64_intdigest(core))

        data, digest = logfile.frame(prev, body)

        assert data == expected
        assert digest == xxhash.xxh3_128_digest(prev + body)

    def test_log_is_magic_then_one_frame_per_event(self):
        log = small_log()

        bodies = [logs.body_of(log.data, span) for span in log.spans]

        assert bodies[0] == codec.encode_header(log.header)
        assert bodies[1:] == [codec.encode_event(event) for event in log.events]

    def test_write_body_and_write_give_the_same_bytes(self):
        osc = logs.bank()
        y0, z0 = logs.initial_state()
        records = list(logs.RunBuilder(osc, y0, z0).steps(0, 6))
        head = logs.header(osc, y0, z0)
        stream = io.BytesIO()

        with LogWriter(stream, head) as writer:
            digests = [writer.write_body(codec.encode_step(*r)) for r in records]

        expected = record(head, records)
        assert stream.getvalue() == expected.data
        assert digests == expected.digests[:-1]


# -- writing and reading back ----------------------------------------------------------


class TestRoundTrip:
    def test_in_memory(self):
        log = small_log()

        reader, read = read_all(log.data)

        assert_same_events(read, log.events)
        logs.assert_same_event(reader.header, log.header)
        assert reader.genesis == log.genesis
        assert reader.digest == log.run_digest
        assert reader.offset == len(log.data)
        assert reader.seq == len(log.events)

    def test_file_path_and_stream(self, tmp_path):
        log = small_log()
        path = logs.write_file(tmp_path / "run.log", log)

        from_str = read_all(str(path))[1]
        from_path = read_all(path)[1]
        with open(path, "rb") as stream:
            from_stream = read_all(stream)[1]

        for read in (from_str, from_path, from_stream):
            assert_same_events(read, log.events)

    def test_created_file_equals_the_in_memory_log(self, tmp_path):
        log = small_log()
        path = tmp_path / "run.log"

        with LogWriter.create(path, log.header) as writer:
            for event in log.events[:-1]:
                writer.write(event)

        assert path.read_bytes() == log.data

    @settings(max_examples=15)
    @given(
        st.integers(0, 2**32 - 1),
        st.sampled_from(list(Scheme)),
        st.integers(1, 8),
        st.integers(0, 6),
    )
    def test_any_small_run(self, seed, scheme, size, steps):
        osc = logs.bank(size, scheme=scheme, seed=seed)
        y0, z0 = logs.initial_state(size, seed=seed)
        records = logs.mixed_events(osc, y0, z0, steps=steps, seed=seed)
        log = record(logs.header(osc, y0, z0), records)

        reader, read = read_all(log.data)

        assert_same_events(read, log.events)
        assert reader.digest == log.run_digest

    def test_clean_close_writes_run_closed(self):
        log = steps_log(3, close=True)

        closing = read_all(log.data)[1][-1]

        # The root covers the three steps before the closing record.
        bodies = [logs.body_of(log.data, span) for span in log.spans[1:4]]
        assert closing == events.RunClosed(3, 3, log.digests[2], root_of(bodies))

    def test_exception_in_the_with_block_leaves_the_log_open(self):
        log = steps_log(3)
        stream = io.BytesIO()
        writer = LogWriter(stream, log.header)

        def session() -> None:
            with writer:
                for event in log.events:
                    writer.write(event)
                raise RuntimeError("stop")

        with pytest.raises(RuntimeError, match="stop"):
            session()

        assert stream.getvalue() == log.data
        assert writer.closed

    def test_empty_run(self):
        osc = logs.bank()
        y0, z0 = logs.initial_state()
        log = record(logs.header(osc, y0, z0), [], close=False)

        reader, read = read_all(log.data)

        assert read == []
        assert reader.digest == reader.genesis == log.genesis


class TestRunDigest:
    def test_independent_of_fingerprint_and_library_version(self):
        osc = logs.bank()
        y0, z0 = logs.initial_state()
        records = logs.mixed_events(osc, y0, z0)
        here = logs.header(osc, y0, z0, library_version="0.3.0")
        elsewhere = logs.header(
            osc,
            y0,
            z0,
            library_version="0.3.1.dev7+local",
            fingerprint={
                **_environment.fingerprint(),
                "platform": "Windows-11",
                "machine": "arm64",
                "simd_found": [],
                "numpy": "3.0.0",
            },
        )

        first = record(here, records)
        second = record(elsewhere, records)
        first_reader, first_events = read_all(first.data)
        second_reader, second_events = read_all(second.data)

        assert first.data != second.data
        assert first_reader.digest == second_reader.digest
        assert first.digests == second.digests
        assert_same_events(first_events, second_events)

    def test_changes_with_one_ulp_of_one_input(self):
        osc = logs.bank()
        y0, z0 = logs.initial_state()
        records = list(logs.RunBuilder(osc, y0, z0).steps(0, 4))
        nudged = list(records)
        nudged[3] = nudged[3]._replace(u=np.nextafter(records[3].u, np.inf))
        head = logs.header(osc, y0, z0)

        one = record(head, records).run_digest
        other = record(head, nudged).run_digest

        assert one != other


class TestWriterErrors:
    def test_write_checks_the_sequence_number(self):
        log = steps_log(3)
        writer = LogWriter(io.BytesIO(), log.header)
        writer.write(log.events[0])

        with pytest.raises(
            LogError, match=r"event seq must be 1 \(the next in this log\); got 2"
        ) as info:
            writer.write(log.events[2])

        assert info.value.seq == 2
        assert writer.seq == 1

    def test_write_after_close(self):
        log = steps_log(1)
        writer = LogWriter(io.BytesIO(), log.header)
        writer.close()

        with pytest.raises(LogError, match="the log writer is closed"):
            writer.write_body(codec.encode_event(log.events[0]._replace(seq=1)))

    def test_close_twice_writes_one_closing_record(self):
        log = steps_log(1)
        stream = io.BytesIO()
        writer = LogWriter(stream, log.header)

        writer.close()
        writer.close()

        read = read_all(stream.getvalue())[1]
        assert [type(e).__name__ for e in read] == ["RunClosed"]

    def test_a_new_log_needs_a_header(self):
        with pytest.raises(LogError, match=r"a new log needs a header \(RunStarted\)"):
            LogWriter(io.BytesIO())

    def test_log_errors_are_linoss_value_errors(self):
        assert issubclass(LogError, LinOSSError)
        assert issubclass(LogError, ValueError)
        assert issubclass(LogLockedError, BlockingIOError)


# -- creating, locking, appending ------------------------------------------------------


class TestCreate:
    def test_refuses_an_existing_file(self, tmp_path):
        log = steps_log(2, close=True)
        path = logs.write_file(tmp_path / "run.log", log)

        with pytest.raises(
            LogError,
            match=r"already exists; append to it with LogWriter\.append or pass "
            r"overwrite=True",
        ) as info:
            LogWriter.create(path, log.header)

        assert info.value.path == str(path)
        assert path.read_bytes() == log.data

    def test_overwrite_replaces_the_file(self, tmp_path):
        old = steps_log(4, seed=1, close=True)
        new = steps_log(2, seed=2, close=True)
        path = logs.write_file(tmp_path / "run.log", old)

        with LogWriter.create(path, new.header, overwrite=True) as writer:
            for event in new.events[:-1]:
                writer.write(event)

        assert path.read_bytes() == new.data

    def test_missing_directory(self, tmp_path):
        log = steps_log(1)
        path = tmp_path / "missing" / "run.log"

        with pytest.raises(LogError, match=f"cannot create {path}: "):
            LogWriter.create(path, log.header)


LOCKED = "is being written by another writer; wait for it to close"


class TestLock:
    def test_second_writer_in_this_process_fails_at_once(self, tmp_path):
        log = steps_log(3)
        path = tmp_path / "run.log"
        with (
            LogWriter.create(path, log.header),
            pytest.raises(LogLockedError, match=f"{path} {LOCKED}") as info,
        ):
            LogWriter.append(path)

        assert isinstance(info.value, BlockingIOError)

    def test_a_reader_reads_while_the_writer_holds_the_lock(self, tmp_path):
        log = steps_log(3)
        path = tmp_path / "run.log"
        with LogWriter.create(path, log.header, sync=SyncPolicy.every_event()) as w:
            for event in log.events:
                w.write(event)

            read = read_all(path)[1]

        assert_same_events(read, log.events)

    def test_second_writer_in_another_process_fails_at_once(self, tmp_path):
        log = steps_log(3)
        path = tmp_path / "run.log"
        code = (
            "from linoss_dynamics.logfile import LogWriter\n"
            "from linoss_dynamics.errors import LogLockedError\n"
            "try:\n"
            "    LogWriter.append(sys.argv[1])\n"
            "except LogLockedError as exc:\n"
            "    print('locked:', exc)\n"
            "else:\n"
            "    print('appended')\n"
        )

        with LogWriter.create(path, log.header) as writer:
            locked = logs.python(code, str(path))
            reader_code = "import logs; print(len(logs.read_all(sys.argv[1])[1]))"
            writer.sync()
            reading = logs.python(reader_code, str(path))
        after = logs.python(code, str(path))

        assert (
            locked.stdout.strip()
            == f"locked: {path} {LOCKED} (readers may open it meanwhile)"
        )
        assert reading.stdout.strip() == "0", reading.stderr
        assert after.stdout.strip() == "appended", after.stderr

    def test_lock_is_released_on_close(self, tmp_path):
        log = steps_log(2)
        path = tmp_path / "run.log"
        with LogWriter.create(path, log.header) as writer:
            writer.write(log.events[0])
            writer.close(clean=False)

        second, recovery = LogWriter.append(path)
        second.write(log.events[1])
        second.close(clean=False)

        assert recovery.events == 1
        assert path.read_bytes() == log.data

    def test_overwrite_does_not_touch_a_log_being_written(self, tmp_path):
        log = steps_log(3)
        path = tmp_path / "run.log"
        with LogWriter.create(path, log.header, sync=SyncPolicy.every_event()) as w:
            for event in log.events:
                w.write(event)

            with pytest.raises(LogLockedError, match=LOCKED):
                LogWriter.create(path, log.header, overwrite=True)
            on_disk = path.read_bytes()

        assert on_disk == log.data


class TestAppend:
    def test_continues_the_chain(self, tmp_path):
        log = steps_log(6)
        path = tmp_path / "run.log"
        with LogWriter.create(path, log.header) as first:
            for event in log.events[:3]:
                first.write(event)
            first.close(clean=False)

        writer, recovery = LogWriter.append(path)
        with writer:
            assert writer.seq == 3
            assert writer.digest == log.digests[2]
            for event in log.events[3:]:
                writer.write(event)
            writer.close(clean=False)

        assert recovery == Recovery(3, log.spans[3][1], 0, None)
        assert path.read_bytes() == log.data
        reader, read = read_all(path)
        assert_same_events(read, log.events)
        assert reader.digest == log.run_digest

    def test_after_a_clean_close_the_sequence_goes_on(self, tmp_path):
        log = steps_log(2, close=True)
        path = logs.write_file(tmp_path / "run.log", log)
        extra = logs.RunBuilder(logs.bank(), *logs.initial_state()).steps(3, 1)

        writer, recovery = LogWriter.append(path)
        writer.write(next(extra))
        writer.close()

        read = read_all(path)[1]
        assert recovery.events == 3
        assert [(type(e).__name__, e.seq) for e in read] == [
            ("StepApplied", 0),
            ("StepApplied", 1),
            ("RunClosed", 2),
            ("StepApplied", 3),
            ("RunClosed", 4),
        ]
        assert read[-1].events == 4
        # The tree of the appended session goes on from the events before it.
        bodies = [codec.encode_event(event) for event in read[:4]]
        assert read[2].tree_root == root_of(bodies[:2])
        assert read[-1].tree_root == root_of(bodies)

    def test_torn_tail_at_every_byte_of_the_last_frame(self, tmp_path):
        log = steps_log(3)
        start, end = log.spans[-1]
        path = tmp_path / "run.log"

        for cut in range(start + 1, end):
            path.write_bytes(log.data[:cut])

            writer, recovery = LogWriter.append(path)
            size_after_recovery = path.stat().st_size
            writer.write(log.events[-1])
            writer.close(clean=False)

            assert recovery.events == 2
            assert recovery.valid_bytes == start
            assert recovery.discarded_bytes == cut - start
            assert recovery.reason.startswith("torn tail: ")
            assert "ends inside a frame" in recovery.reason
            assert size_after_recovery == start
            assert path.read_bytes() == log.data

    def test_cut_at_a_frame_boundary_is_intact(self, tmp_path):
        log = steps_log(3)
        path = tmp_path / "run.log"
        path.write_bytes(log.data[: log.spans[2][1]])

        writer, recovery = LogWriter.append(path)
        writer.close(clean=False)

        assert recovery == Recovery(2, log.spans[2][1], 0, None)

    def test_last_frame_failing_its_checksum_is_a_torn_tail(self, tmp_path):
        log = steps_log(3)
        start, end = log.spans[-1]
        path = logs.write_file(tmp_path / "run.log", log)
        path.write_bytes(flip(log.data, end - 20))

        writer, recovery = LogWriter.append(path)
        writer.close(clean=False)

        assert recovery.events == 2
        assert recovery.discarded_bytes == end - start
        assert "frame checksum does not match its bytes" in recovery.reason
        assert path.read_bytes() == log.data[:start]

    def test_torn_header_cannot_be_appended_to(self, tmp_path):
        log = steps_log(1)
        path = tmp_path / "run.log"
        path.write_bytes(log.data[: log.spans[0][1] - 1])

        with pytest.raises(LogTruncatedError, match="header"):
            LogWriter.append(path)

        assert path.read_bytes() == log.data[: log.spans[0][1] - 1]

    @pytest.mark.parametrize("seq", [0, 2, 3])
    def test_damage_followed_by_more_frames_is_refused(self, tmp_path, seq):
        log = steps_log(5)
        start, _ = log.event_span(seq)
        damaged = flip(log.data, start + 40, 3)
        path = tmp_path / "run.log"
        path.write_bytes(damaged)

        with pytest.raises(LogCorruptError) as info:
            LogWriter.append(path)

        message = str(info.value)
        assert message.startswith(f"cannot append to {path}: ")
        assert f"event seq {seq} (frame at byte {start})" in message
        assert (
            f"{len(damaged) - start} bytes from there to the end are not a torn tail"
            in message
        )
        assert "pass discard_damaged_tail=True" in message
        assert (info.value.seq, info.value.offset) == (seq, start)
        assert path.read_bytes() == damaged

    @pytest.mark.parametrize("seq", [0, 2, 3])
    def test_discard_damaged_tail_cuts_at_the_damaged_frame(self, tmp_path, seq):
        log = steps_log(5)
        start, _ = log.event_span(seq)
        path = tmp_path / "run.log"
        path.write_bytes(flip(log.data, start + 40, 3))

        writer, recovery = LogWriter.append(path, discard_damaged_tail=True)
        for event in log.events[seq:]:
            writer.write(event)
        writer.close(clean=False)

        assert recovery.events == seq
        assert recovery.valid_bytes == start
        assert recovery.discarded_bytes == len(log.data) - start
        assert path.read_bytes() == log.data

    def test_damaged_length_field_followed_by_more_frames_is_refused(self, tmp_path):
        log = steps_log(4)
        start, _ = log.event_span(1)
        path = tmp_path / "run.log"
        path.write_bytes(flip(log.data, start + 1))

        with pytest.raises(LogCorruptError, match="frame length field is damaged"):
            LogWriter.append(path)

    def test_missing_file(self, tmp_path):
        path = tmp_path / "none.log"

        with pytest.raises(LogError, match=f"cannot open {path}: "):
            LogWriter.append(path)


# -- durability ------------------------------------------------------------------------


class TestSyncPolicy:
    @pytest.mark.parametrize("n", [0, -1, 1.5, True, "3", None])
    def test_every_needs_a_positive_integer(self, n):
        with pytest.raises(
            LogError, match=r"SyncPolicy.every\(n\) needs a positive integer n; got "
        ):
            SyncPolicy.every(n)

    def test_constructors(self):
        assert SyncPolicy.every(7).every_n == 7
        assert SyncPolicy.every_event() == SyncPolicy.every(1)
        assert SyncPolicy.on_close().every_n == 0

    @staticmethod
    def _sizes(
        tmp_path: Path, policy: SyncPolicy | None, count: int
    ) -> tuple[logs.Log, list[int]]:
        """The file size after creating and after each write, then after close."""
        log = steps_log(count)
        path = tmp_path / "run.log"
        with LogWriter.create(path, log.header, sync=policy) as writer:
            sizes = [path.stat().st_size]
            for event in log.events:
                writer.write(event)
                sizes.append(path.stat().st_size)
            writer.close(clean=False)
        sizes.append(path.stat().st_size)
        assert path.read_bytes() == log.data
        return log, sizes

    def test_on_close_writes_events_only_at_close(self, tmp_path):
        log, sizes = self._sizes(tmp_path, None, 8)

        header_end = log.spans[0][1]

        assert sizes[:-1] == [header_end] * 9
        assert sizes[-1] == len(log.data)

    def test_every_event(self, tmp_path):
        log, sizes = self._sizes(tmp_path, SyncPolicy.every_event(), 5)

        ends = [end for _, end in log.spans]

        assert sizes == [*ends, ends[-1]]

    @pytest.mark.parametrize("n", [2, 3, 5])
    def test_every_n_events(self, tmp_path, n):
        log, sizes = self._sizes(tmp_path, SyncPolicy.every(n), 8)

        ends = [end for _, end in log.spans]
        expected = [ends[(k // n) * n] for k in range(9)]

        assert sizes[:-1] == expected
        assert sizes[-1] == len(log.data)

    def test_explicit_sync(self, tmp_path):
        log = steps_log(4)
        path = tmp_path / "run.log"
        with LogWriter.create(path, log.header) as writer:
            for event in log.events[:3]:
                writer.write(event)

            writer.sync()

            assert path.stat().st_size == log.spans[3][1]

    def test_large_buffers_reach_the_file_as_whole_frames(self, tmp_path):
        # Steps with full states of 20000 oscillators (about 320 kB per frame)
        # overflow the writer's buffer before close.
        size = 20_000
        osc = logs.bank(size)
        y0, z0 = logs.initial_state(size)
        stepper = logs.RunBuilder(osc, y0, z0, keep_states=True)
        path = tmp_path / "run.log"
        seen = []

        with LogWriter.create(path, logs.header(osc, y0, z0)) as writer:
            for event in stepper.steps(0, 8):
                writer.write(event)
                reader, read = read_all(path)
                seen.append(len(read))
                assert reader.offset == path.stat().st_size

        assert seen[-1] > 0
        assert seen == sorted(seen)
        assert len(read_all(path)[1]) == 9


KILL_AFTER_SYNCS = 5


def test_killed_writer_keeps_every_synced_event(tmp_path):
    path = tmp_path / "run.log"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            logs.child_code(
                f"import logs; logs.write_until_killed({str(path)!r}, every=10)"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines = []
    assert child.stdout is not None
    for line in child.stdout:
        lines.append(line)
        if len(lines) > KILL_AFTER_SYNCS:
            break
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    lines.extend(child.stdout.read().splitlines())
    child.stdout.close()
    synced = max(int(line.split()[1]) for line in lines if line.startswith("synced"))

    writer, recovery = LogWriter.append(path)
    writer.close(clean=False)
    reader, read = read_all(path)

    assert child.returncode == -signal.SIGKILL
    assert len(read) >= synced >= 10 * KILL_AFTER_SYNCS
    assert recovery.events == len(read)
    assert reader.offset == recovery.valid_bytes == path.stat().st_size
    assert_same_events(read, logs.killed_run_events(len(read)))


# -- reading ---------------------------------------------------------------------------


class TestReader:
    def test_missing_file(self, tmp_path):
        path = tmp_path / "none.log"

        with pytest.raises(LogFormatError, match=f"cannot open {path}: ") as info:
            LogReader(path)

        assert info.value.path == str(path)

    def test_errors_name_the_file(self, tmp_path):
        log = steps_log(3)
        start, _ = log.event_span(1)
        path = tmp_path / "run.log"
        path.write_bytes(flip(log.data, start + 30))

        with pytest.raises(LogCorruptError) as info:
            read_all(path)

        assert str(info.value).startswith(
            f"{path}: event seq 1 (frame at byte {start}): "
        )
        assert info.value.path == str(path)

    def test_does_not_close_a_stream_it_was_given(self):
        log = steps_log(2)
        stream = io.BytesIO(log.data)

        with LogReader(stream) as reader:
            list(reader)

        assert not stream.closed

    def test_max_frame_bytes_refuses_larger_frames(self):
        log = steps_log(2)
        start, end = log.spans[0]
        header_length = end - start - logs.FRAME_OVERHEAD

        with pytest.raises(LogCorruptError) as info:
            LogReader(log.data, max_frame_bytes=header_length - 1)
        read = read_all(log.data, max_frame_bytes=header_length)[1]

        assert str(info.value) == (
            f"header (frame at byte 8): frame declares {header_length} bytes, above "
            f"the bound of {header_length - 1} (pass max_frame_bytes= to read larger "
            "frames)"
        )
        assert (info.value.seq, info.value.offset) == (-1, 8)
        assert len(read) == 2


# -- the environment fingerprint -------------------------------------------------------


class TestFingerprint:
    def test_fields(self):
        fingerprint = _environment.fingerprint()

        assert set(fingerprint) == {
            "python",
            "numpy",
            "msgpack",
            "xxhash",
            "platform",
            "machine",
            "simd_baseline",
            "simd_found",
        }
        assert fingerprint["python"] == sys.version.split()[0]
        assert fingerprint["numpy"] == np.__version__
        assert all(
            type(v) is str for v in fingerprint.values() if not isinstance(v, list)
        )
        assert all(type(f) is str for f in fingerprint["simd_baseline"])
        assert all(type(f) is str for f in fingerprint["simd_found"])

    def test_fits_the_model_and_round_trips_through_a_header(self):
        fingerprint = _environment.fingerprint()
        log = steps_log(0)

        model = events.Fingerprint.model_validate(fingerprint)
        reader = LogReader(log.data)

        assert model.model_dump() == fingerprint
        assert reader.header.fingerprint == log.header.fingerprint == fingerprint

    def test_simd_features_are_two_lists(self):
        baseline, found = _environment.simd_features()

        assert isinstance(baseline, list)
        assert isinstance(found, list)


# -- a stateful run: write, sync, reopen, crash ----------------------------------------


class AppendMachine(RuleBasedStateMachine):
    """Sessions of a writer on one file, with crashes that tear the last frame.

    The model is the list of events that must be in the log; after every rule
    the file, synced, reads back as exactly that list.
    """

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.path = Path(self.folder.name) / "run.log"
        osc = logs.bank()
        y0, z0 = logs.initial_state()
        self.stepper = logs.RunBuilder(osc, y0, z0)
        self.writer = LogWriter.create(self.path, logs.header(osc, y0, z0))
        self.model: list[events.Event] = []

    def _write(self, event: events.Event) -> None:
        self.writer.write(event)
        self.model.append(event)

    @rule(count=st.integers(1, 4))
    def steps(self, count):
        for event in self.stepper.steps(len(self.model), count):
            self._write(event)

    @rule()
    def checkpoint(self):
        self._write(self.stepper.checkpoint(len(self.model)))

    @rule(sync=st.sampled_from([None, SyncPolicy.every(2), SyncPolicy.every_event()]))
    def reopen(self, sync):
        self.writer.close(clean=False)

        self.writer, recovery = LogWriter.append(self.path, sync=sync)

        assert recovery == Recovery(len(self.model), self.path.stat().st_size, 0, None)

    def _root(self) -> bytes:
        return root_of([codec.encode_event(event) for event in self.model])

    @rule()
    def close_and_reopen(self):
        digest = self.writer.digest
        root = self._root()
        self.writer.close()
        self.model.append(
            events.RunClosed(len(self.model), len(self.model), digest, root)
        )

        self.writer, recovery = LogWriter.append(self.path)

        assert recovery.events == len(self.model)

    @precondition(lambda self: self.model)
    @rule(keep=st.floats(0.0, 0.99))
    def crash_in_the_last_frame(self, keep):
        self.writer.close(clean=False)
        size = self.path.stat().st_size
        start = size - len(
            logfile.frame(bytes(16), codec.encode_event(self.model[-1]))[0]
        )
        cut = start + int(keep * (size - start))
        os.truncate(self.path, cut)
        self.model.pop()

        self.writer, recovery = LogWriter.append(self.path)

        assert recovery.events == len(self.model)
        assert recovery.valid_bytes == start
        assert recovery.discarded_bytes == cut - start

    @invariant()
    def reads_back_as_the_model(self):
        self.writer.sync()
        reader, read = read_all(self.path)
        assert_same_events(read, self.model)
        assert reader.digest == self.writer.digest
        assert self.writer.tree_root == self._root()

    def teardown(self):
        self.writer.close(clean=False)
        self.folder.cleanup()


TestAppendMachine = AppendMachine.TestCase
TestAppendMachine.settings = settings(max_examples=15, stateful_step_count=8)
