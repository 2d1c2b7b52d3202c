"""Sealed checkpoints: seal keys, the checkpoint text, the seals file, and
verification with a key, sequential and split at checkpoints.

The checkpoint text, the key id, the MAC and the run id are re-implemented here
from the ``linoss_dynamics.seals`` docstring with ``hashlib`` alone. The logs are
recorded with ``Recorder(..., key=KEY)``: a small bank with a checkpoint every
``EVERY`` steps, a step with its own ``dt``, a parameter change and a state
write. The key property of the audit layer is tested with a forger who holds
no key: they change one step's input, replay the dynamics from there, and write
every later frame again with a valid chain and a valid closing root. Without
the key such a log verifies (it is self-consistent); with the key it fails at
the first seal that covers the change.

Every report with a key is also computed with ``workers=2`` and must be the
sequential one, field for field (``both``). Worker processes import this
module, so it runs under pytest only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import itertools
import shutil
import warnings
from pathlib import Path
from typing import Any

import logs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linoss_dynamics import (
    AuditError,
    InvalidValueError,
    LogReader,
    LogWriter,
    Recorder,
    SealedCheckpoint,
    SealKey,
    SealKeyError,
    checkpoints,
    codec,
    read_seals,
    state_at,
    verify,
)
from linoss_dynamics.errors import LogError, SequentialVerifyWarning
from linoss_dynamics.events import (
    CheckpointTaken,
    FailureCode,
    ParamsChanged,
    RunClosed,
    StateWritten,
    StepApplied,
    VerificationReport,
    oscillator_of,
)
from linoss_dynamics.merkle import EMPTY_ROOT, MerkleTree
from linoss_dynamics.seals import KEY_ENV

P = 4
STEPS = 43  # three steps after the last checkpoint, sealed only on close
EVERY = 8
# Fixed test keys: the seals they make are the same in every run.
KEY = SealKey(bytes(range(32)))
OTHER = SealKey(bytes(range(100, 132)))
HEADER = "linoss-dynamics/checkpoint/v1"


# -- the documented hashes, re-implemented -------------------------------------------


def ref_key_id(key: bytes) -> str:
    return hashlib.blake2b(key, digest_size=8, person=b"linoss-key-id").hexdigest()


def ref_mac(key: bytes, body: bytes) -> str:
    return hashlib.blake2b(
        body, key=key, digest_size=32, person=b"linoss-seal"
    ).hexdigest()


def ref_run_id(path: Path) -> bytes:
    with LogReader(path) as reader:
        header = reader.header
    data = codec.run_bytes(header.spec, header.y0, header.z0)
    return hashlib.blake2b(data, digest_size=32, person=b"linoss-run-id").digest()


def ref_text(key: bytes, run: bytes, size: int, root: bytes) -> str:
    body = f"{HEADER}\nrun {run.hex()}\nsize {size}\nroot {root.hex()}\n"
    mac = ref_mac(key, body.encode("ascii"))
    return f"{body}\nseal blake2b-256 {ref_key_id(key)} {mac}\n"


# -- sealed logs -------------------------------------------------------------------------


class _CrashError(Exception):
    """Leaves a ``Recorder`` block early, as a crash would."""


def record_sealed(
    path: Path,
    *,
    seed: int = 0,
    key: SealKey = KEY,
    close: bool = True,
    seals: Any = None,
    overwrite: bool = False,
) -> Path:
    """A sealed run: inputs from a seeded generator, every event kind in it."""
    rng = np.random.default_rng(seed)
    with (
        contextlib.suppress(_CrashError),
        Recorder(
            path,
            logs.bank(P, seed=seed),
            *logs.initial_state(P, seed=seed),
            checkpoint_every=EVERY,
            key=key,
            seals=seals,
            overwrite=overwrite,
        ) as recorder,
    ):
        for t in range(STEPS):
            out = recorder.step(rng.standard_normal(P), dt=0.02 if t == 3 else None)
            if t == 5:
                recorder.set_params(dt=0.03)
            if t == 12:
                recorder.write_state(out.y * 0.5, -out.z)
        if not close:
            raise _CrashError  # leaves the log synced, without a closing record
    return path


def bodies_of(path: Path) -> list[bytes]:
    with LogReader(path) as reader:
        return list(reader.bodies())


def records_of(path: Path) -> list[Any]:
    with LogReader(path) as reader:
        return list(reader)


def root_of(bodies: list[bytes]) -> bytes:
    tree = MerkleTree()
    for body in bodies:
        tree.append(body)
    return tree.root()


def seals_file(path: Path) -> Path:
    return Path(f"{path}.seals")


def copy_log(path: Path, to: Path, *, seals: bool = True) -> Path:
    shutil.copyfile(path, to)
    if seals:
        shutil.copyfile(seals_file(path), seals_file(to))
    return to


def both(path: Path, **options: Any) -> VerificationReport:
    """The sequential report, once the split one (two workers) is found equal."""
    sequential = verify(path, **options)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parallel = verify(path, workers=2, **options)

    assert parallel == sequential
    assert [w.category for w in caught if w.category is SequentialVerifyWarning] == []
    return sequential


def forge(path: Path, to: Path, k: int) -> Path:
    """The log at ``path`` with step ``k``'s input changed, forged without a key.

    Events before ``k`` are kept byte for byte. From ``k`` on the dynamics are
    replayed with the new input, so every state digest, energy and checkpoint
    is the one the core gives; each frame is written again with a valid chain,
    and the closing record gets the run digest and Merkle root of the forgery.
    The seals file is not touched (a forger without the key cannot seal).
    """
    with LogReader(path) as reader:
        header = reader.header
        bodies = list(reader.bodies())
    records = [codec.decode_event(body) for body in bodies]
    assert type(records[k]) is StepApplied
    spec = header.spec
    for record in records[:k]:
        if type(record) in (ParamsChanged, CheckpointTaken):
            spec = record.spec
    osc = oscillator_of(spec)
    y, z = state_at(path, k - 1)
    out = io.BytesIO()
    writer = LogWriter(out, header)
    for body in bodies[:k]:
        writer.write_body(body)
    for record in records[k:]:
        if type(record) is StepApplied:
            u = record.u + 0.5 if record.seq == k else record.u
            step = osc if record.dt is None else osc.with_params(dt=record.dt)
            before = step.energy(y, z)
            y, z = step.step(y, z, u)
            after = step.energy(y, z)
            digest = codec.state_digest(y, z)
            writer.write(
                StepApplied(
                    record.seq, u, record.dt, digest, before, after, after - before
                )
            )
        elif type(record) is CheckpointTaken:
            digest = codec.state_digest(y, z)
            writer.write(
                record._replace(y=y, z=z, state_digest=digest, energy=osc.energy(y, z))
            )
        elif type(record) is ParamsChanged:
            osc = oscillator_of(record.spec)
            writer.write(record)
        elif type(record) is StateWritten:
            y, z = record.y, record.z
            writer.write(record)
        else:
            assert type(record) is RunClosed
            writer.write(
                RunClosed(writer.seq, writer.seq, writer.digest, writer.tree_root)
            )
    writer.close(clean=False)
    to.write_bytes(out.getvalue())
    return to


def cut_after(path: Path, to: Path, seq: int) -> Path:
    """A copy of the log cut after the frame of event ``seq``, with all its seals."""
    data = path.read_bytes()
    end = logs.frame_spans(data)[seq + 1][1]
    to.write_bytes(data[:end])
    shutil.copyfile(seals_file(path), seals_file(to))
    return to


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("seals")


@pytest.fixture(scope="module")
def sealed(scratch: Path) -> Path:
    return record_sealed(scratch / "sealed.log")


@pytest.fixture(scope="module")
def seals(sealed: Path) -> list[SealedCheckpoint]:
    return read_seals(seals_file(sealed))


@pytest.fixture(scope="module")
def checkpoint_seqs(sealed: Path) -> list[int]:
    return [seq for seq, _ in checkpoints(sealed)]


def test_the_run_has_every_event_kind_and_several_seals(sealed, checkpoint_seqs):
    kinds = {type(record) for record in records_of(sealed)}

    assert kinds == {
        StepApplied,
        ParamsChanged,
        StateWritten,
        CheckpointTaken,
        RunClosed,
    }
    assert len(checkpoint_seqs) == STEPS // EVERY


# -- SealKey -------------------------------------------------------------------------------


class TestSealKey:
    def test_generate_gives_a_fresh_key_of_the_size_asked(self):
        keys = [SealKey.generate(), SealKey.generate(), SealKey.generate(16)]

        sizes = [len(bytes.fromhex(key.hex())) for key in keys]

        assert sizes == [32, 32, 16]
        assert keys[0].hex() != keys[1].hex()
        assert len(SealKey.generate(64).hex()) == 128

    @given(st.binary(min_size=16, max_size=64))
    def test_hex_round_trip(self, data):
        key = SealKey(data)

        again = SealKey.from_hex(key.hex())

        assert key.hex() == data.hex() == again.hex()
        assert again.key_id == key.key_id == ref_key_id(data)
        assert again.mac(b"body") == key.mac(b"body") == ref_mac(data, b"body")

    def test_from_hex_takes_the_text_of_a_key_file(self):
        text = f"  {KEY.hex()}\r\n"

        key = SealKey.from_hex(text)

        assert key.key_id == KEY.key_id

    def test_from_file_round_trip(self, tmp_path):
        path = tmp_path / "seal.key"
        path.write_text(KEY.hex() + "\n", encoding="ascii")

        key = SealKey.from_file(path)

        assert key.hex() == KEY.hex()
        assert key.key_id == KEY.key_id

    def test_from_env_round_trip(self, monkeypatch):
        monkeypatch.setenv(KEY_ENV, KEY.hex())
        monkeypatch.setenv("OTHER_SEAL_KEY", OTHER.hex())

        default = SealKey.from_env()
        named = SealKey.from_env("OTHER_SEAL_KEY")
        monkeypatch.delenv(KEY_ENV)
        unset = SealKey.from_env()

        assert KEY_ENV == "LINOSS_SEAL_KEY"
        assert default is not None
        assert default.hex() == KEY.hex()
        assert named is not None
        assert named.key_id == OTHER.key_id
        assert unset is None

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("00" * 15, "must hold 16 to 64 bytes as hex; got 15 bytes"),
            ("00" * 65, "must hold 16 to 64 bytes as hex; got 65 bytes"),
            ("", "must hold 16 to 64 bytes as hex; got 0 bytes"),
            ("zz" * 16, "must be hex text"),
            ("0" * 33, "must be hex text"),
            ("0x" + "00" * 16, "must be hex text"),
        ],
        ids=["too-short", "too-long", "empty", "not-hex", "odd-length", "0x-prefix"],
    )
    def test_bad_hex_is_refused_naming_the_problem(self, text, message):
        with pytest.raises(SealKeyError, match=message) as info:
            SealKey.from_hex(text, source="the test key")

        assert str(info.value).startswith("the test key must")
        assert isinstance(info.value, AuditError)
        if text:
            assert text not in str(info.value)  # the message never echoes the key

    @pytest.mark.parametrize(
        ("value", "message"),
        [(bytes(15), "got 15"), (bytes(65), "got 65"), ("00" * 16, "got str")],
        ids=["15-bytes", "65-bytes", "str"],
    )
    def test_raw_keys_of_the_wrong_size_or_type(self, value, message):
        with pytest.raises(SealKeyError, match=f"16 to 64 bytes; {message}"):
            SealKey(value)

    def test_a_missing_key_file(self, tmp_path):
        path = tmp_path / "missing.key"

        with pytest.raises(SealKeyError) as info:
            SealKey.from_file(path)

        assert str(info.value) == (
            f"cannot read the key file {path}: No such file or directory"
        )

    def test_an_unreadable_key_file(self, tmp_path):
        with pytest.raises(SealKeyError, match=f"cannot read the key file {tmp_path}"):
            SealKey.from_file(tmp_path)  # a directory

    @pytest.mark.parametrize(
        "data",
        [b"\x80" * 32, bytes(range(256)), KEY.hex().encode() + b"\xff"],
        ids=["high-bytes", "every-byte", "key-then-binary"],
    )
    def test_a_binary_key_file(self, tmp_path, data):
        path = tmp_path / "binary.key"
        path.write_bytes(data)

        with pytest.raises(SealKeyError, match=f"the key file {path} must be hex text"):
            SealKey.from_file(path)

    def test_a_key_file_of_the_wrong_size(self, tmp_path):
        path = tmp_path / "short.key"
        path.write_text("ab" * 8 + "\n", encoding="ascii")

        with pytest.raises(SealKeyError, match="got 8 bytes"):
            SealKey.from_file(path)

    def test_a_bad_key_in_the_environment_names_the_variable(self, monkeypatch):
        monkeypatch.setenv(KEY_ENV, "not a key")

        with pytest.raises(SealKeyError, match=r"\$LINOSS_SEAL_KEY must be hex text"):
            SealKey.from_env()

    def test_repr_never_shows_the_key(self):
        key = SealKey(bytes(range(200, 232)))
        secret = key.hex()

        shown = [repr(key), str(key), f"{key}", repr([key])]

        assert shown[0] == f"SealKey(key_id={key.key_id!r})"
        for text in shown:
            # Not even 8 bytes of it.
            assert all(secret[i : i + 16] not in text for i in range(len(secret) - 15))


# -- SealedCheckpoint ------------------------------------------------------------------

roots = st.binary(min_size=32, max_size=32)
sizes = st.one_of(
    st.sampled_from([0, 1, 9, 10, 10**19 - 1]), st.integers(0, 10**19 - 1)
)


class TestSealedCheckpoint:
    @given(run=roots, size=sizes, root=roots)
    def test_text_round_trip(self, run, size, root):
        checkpoint = SealedCheckpoint.make(run, size, root, KEY)
        text = checkpoint.text()

        parsed = SealedCheckpoint.parse(text)

        assert parsed == checkpoint
        assert parsed.text() == text
        assert text == ref_text(bytes(range(32)), run, size, root)
        parsed.check(KEY)

    def test_the_checkpoints_of_a_log_round_trip(self, seals):
        texts = [seal.text() for seal in seals]

        parsed = [SealedCheckpoint.parse(text) for text in texts]

        assert parsed == seals
        assert [seal.text() for seal in parsed] == texts

    def test_every_bit_flip_is_refused_or_fails_its_seal(self, seals):
        data = seals[1].text().encode("ascii")
        refused = failed = 0
        accepted = []

        for index in range(len(data)):
            for bit in range(8):
                changed = bytearray(data)
                changed[index] ^= 1 << bit
                try:
                    checkpoint = SealedCheckpoint.parse(changed.decode("latin-1"))
                except AuditError:
                    refused += 1
                    continue
                try:
                    checkpoint.check(KEY)
                except AuditError:
                    failed += 1
                    continue
                accepted.append((index, bit))

        assert accepted == []
        assert refused + failed == 8 * len(data)
        assert refused > 0
        assert failed > 0

    def test_another_key_fails_naming_both_key_ids(self, seals):
        checkpoint = seals[0]

        with pytest.raises(AuditError) as info:
            checkpoint.check(OTHER)

        message = str(info.value)
        assert f"sealed with key {KEY.key_id}" in message
        assert f"the key given is {OTHER.key_id}" in message
        assert KEY.key_id != OTHER.key_id

    @pytest.mark.parametrize("field", ["run", "size", "root"])
    def test_a_seal_does_not_hold_for_another_body(self, seals, field):
        checkpoint = seals[0]
        change = {
            "run": bytes(32),
            "size": checkpoint.size + 1,
            "root": bytes(32),
        }[field]
        altered = dataclasses.replace(checkpoint, **{field: change})

        with pytest.raises(AuditError, match="does not match its run, size and root"):
            altered.check(KEY)

    @pytest.mark.parametrize(
        "edit",
        [
            lambda t: t.upper(),
            lambda t: t.replace("size ", "size 0"),
            lambda t: t[:-1],
            lambda t: t + "\n",
            lambda t: t.replace("\n", "\r\n"),
            lambda t: t.replace("\n\n", "\n"),
            lambda t: t.replace("blake2b-256", "blake2b-512"),
            lambda t: t.replace("seal ", "seal  "),
            lambda t: " " + t,
        ],
        ids=[
            "uppercase",
            "leading-zero",
            "no-final-newline",
            "extra-newline",
            "crlf",
            "no-blank-line",
            "other-hash",
            "double-space",
            "leading-space",
        ],
    )
    def test_only_the_exact_text_parses(self, seals, edit):
        text = edit(seals[0].text())

        with pytest.raises(AuditError, match="not a sealed checkpoint"):
            SealedCheckpoint.parse(text)


# -- read_seals ----------------------------------------------------------------------------


def several(count: int = 3) -> list[SealedCheckpoint]:
    rng = np.random.default_rng(11)
    run = rng.bytes(32)
    return [
        SealedCheckpoint.make(run, 10 * (i + 1), rng.bytes(32), KEY)
        for i in range(count)
    ]


class TestReadSeals:
    def test_several_checkpoints_in_order(self, tmp_path):
        written = several()
        path = tmp_path / "run.log.seals"
        path.write_text("".join(c.text() for c in written), encoding="ascii")

        found = read_seals(path)

        assert found == written

    def test_an_empty_file_holds_no_checkpoint(self, tmp_path):
        path = tmp_path / "run.log.seals"
        path.write_bytes(b"")

        found = read_seals(path)

        assert found == []

    def test_every_cut(self, tmp_path):
        written = several()
        texts = [c.text() for c in written]
        data = "".join(texts)
        ends = list(itertools.accumulate(len(t) for t in texts))
        path = tmp_path / "cut.seals"
        wrong = []

        for cut in range(len(data)):
            path.write_text(data[:cut], encoding="ascii")
            try:
                outcome: Any = read_seals(path)
            except AuditError as exc:
                outcome = str(exc)
            # A cut at a checkpoint's end leaves whole checkpoints; any other
            # cut, even just before a checkpoint's final newline, names the
            # first line of the checkpoint it falls in.
            kept = sum(1 for end in ends if end <= cut)
            if cut == 0 or cut in ends:
                expected: Any = written[:kept]
            else:
                expected = (
                    f"{path}, line {6 * kept + 1}: not a sealed checkpoint (a "
                    "seals file holds only the checkpoints a recorder appends); the "
                    "file was altered or cut short"
                )
            if outcome != expected:
                wrong.append((cut, outcome))

        assert wrong == []

    @pytest.mark.parametrize(
        ("edit", "line"),
        [
            (lambda t: t.replace("size 20", "size 021"), 7),
            (lambda t: t.replace("size 30", "Size 30"), 13),
            (lambda t: t.replace(f"\n{HEADER}", f"\n\n{HEADER}", 1), 7),
            (lambda t: t.replace("seal blake2b-256", "seal  blake2b-256", 1), 1),
            (lambda t: t + "\n", 19),
        ],
        ids=["size", "case", "blank-line", "seal-line", "trailing-line"],
    )
    def test_an_altered_file_names_the_line(self, tmp_path, edit, line):
        path = tmp_path / "altered.seals"
        path.write_text(edit("".join(c.text() for c in several())), encoding="ascii")

        with pytest.raises(AuditError) as info:
            read_seals(path)

        assert str(info.value).startswith(f"{path}, line {line}: not a sealed")

    def test_a_non_ascii_file_names_the_byte(self, tmp_path):
        data = "".join(c.text() for c in several()).encode("ascii")
        at = data.index(b"size 20")
        path = tmp_path / "latin.seals"
        path.write_bytes(data[:at] + "é".encode() + data[at:])

        with pytest.raises(AuditError) as info:
            read_seals(path)

        assert str(info.value) == (f"{path}: byte {at} is not ASCII: not a seals file")

    def test_an_unreadable_file(self, tmp_path):
        missing = tmp_path / "missing.seals"

        with pytest.raises(AuditError, match=f"cannot read the seals file {missing}"):
            read_seals(missing)
        with pytest.raises(AuditError, match=f"cannot read the seals file {tmp_path}"):
            read_seals(tmp_path)


# -- the recorder seals; verify checks the seals ---------------------------------------------


class TestRecorderSeals:
    def test_one_seal_per_checkpoint_and_one_at_close(
        self, sealed, seals, checkpoint_seqs
    ):
        count = len(bodies_of(sealed))

        found = [seal.size for seal in seals]

        # A checkpoint event at seq s is sealed with the s + 1 events up to it;
        # the seal on close covers the closing record too.
        assert found == [seq + 1 for seq in checkpoint_seqs] + [count]

    def test_each_seal_is_the_root_of_its_events(self, sealed, seals):
        bodies = bodies_of(sealed)
        run = ref_run_id(sealed)

        wrong = [
            seal.size for seal in seals if seal.root != root_of(bodies[: seal.size])
        ]

        assert wrong == []
        assert {seal.run for seal in seals} == {run}
        assert {seal.key_id for seal in seals} == {KEY.key_id}
        for seal in seals:
            seal.check(KEY)

    def test_the_seals_file_is_the_documented_text(self, sealed, seals):
        bodies = bodies_of(sealed)
        run = ref_run_id(sealed)

        expected = "".join(
            ref_text(bytes(range(32)), run, seal.size, root_of(bodies[: seal.size]))
            for seal in seals
        )

        assert seals_file(sealed).read_text(encoding="ascii") == expected

    def test_verify_with_the_key(self, sealed, seals):
        plain = verify(sealed)

        report = both(sealed, key=KEY)

        assert report.ok, report.failure
        assert report.seals_checked == len(seals)
        assert report.tree_root == root_of(bodies_of(sealed)).hex()
        assert report.run_digest == plain.run_digest
        assert plain.seals_checked == 0
        assert plain.tree_root == report.tree_root

    def test_seals_into_a_stream_are_the_same_text(self, sealed, tmp_path):
        stream = io.StringIO()

        record_sealed(tmp_path / "streamed.log", seals=stream)

        assert stream.getvalue() == seals_file(sealed).read_text(encoding="ascii")
        assert not seals_file(tmp_path / "streamed.log").exists()

    def test_a_log_in_a_stream_needs_a_seals_target(self):
        osc = logs.bank(P)
        y0, z0 = logs.initial_state(P)

        with pytest.raises(InvalidValueError, match="seals="):
            Recorder(io.BytesIO(), osc, y0, z0, key=KEY)
        with pytest.raises(InvalidValueError, match="pass key=SealKey"):
            Recorder(io.BytesIO(), osc, y0, z0, seals=io.StringIO())

    def test_overwrite_replaces_the_seals_too(self, tmp_path):
        path = record_sealed(tmp_path / "again.log", seed=1)

        record_sealed(path, seed=2, overwrite=True)

        found = read_seals(seals_file(path))
        assert {seal.run for seal in found} == {ref_run_id(path)}
        assert len(found) == STEPS // EVERY + 1
        assert both(path, key=KEY).ok


class TestDamage:
    def test_another_key(self, sealed, seals):
        report = both(sealed, key=OTHER)

        assert not report.ok
        assert report.failure.code is FailureCode.SEAL_INVALID
        assert report.failure.seq == seals[0].size - 1
        assert KEY.key_id in report.failure.message
        assert OTHER.key_id in report.failure.message
        assert report.seals_checked == 0

    def test_no_seals_file(self, sealed, scratch):
        path = copy_log(sealed, scratch / "unsealed.log", seals=False)

        report = both(path, key=KEY)
        plain = verify(path)

        assert report.failure.code is FailureCode.SEAL_MISSING
        assert str(seals_file(path)) in report.failure.message
        assert plain.ok

    def test_an_empty_seals_file(self, sealed, scratch):
        path = copy_log(sealed, scratch / "emptied.log")
        seals_file(path).write_bytes(b"")

        report = both(path, key=KEY)

        assert report.failure.code is FailureCode.SEAL_MISSING
        assert "holds no sealed checkpoint" in report.failure.message

    def test_only_a_seal_of_nothing(self, sealed, scratch, seals):
        # A genuine seal of the empty tree covers no event: the closed log's
        # close is not sealed.
        path = copy_log(sealed, scratch / "nothing-sealed.log")
        empty = SealedCheckpoint.make(seals[0].run, 0, EMPTY_ROOT, KEY)
        seals_file(path).write_text(empty.text())

        report = both(path, key=KEY)

        assert report.failure.code is FailureCode.SEAL_MISSING
        assert report.failure.seq == 0
        assert report.sealed_events == 0

    def test_seals_of_another_run(self, sealed, scratch):
        other = record_sealed(scratch / "other-run.log", seed=5)
        path = copy_log(sealed, scratch / "swapped.log", seals=False)
        shutil.copyfile(seals_file(other), seals_file(path))

        report = both(path, key=KEY)

        assert report.failure.code is FailureCode.SEAL_INVALID
        assert report.failure.message.startswith("sealed checkpoint 1 ")
        assert f"this log is run {ref_run_id(path).hex()}" in report.failure.message

    @pytest.mark.parametrize("which", [0, 2, 3])
    def test_cut_after_a_sealed_checkpoint(self, sealed, scratch, seals, which):
        size = seals[which].size
        path = cut_after(sealed, scratch / f"cut-{which}.log", size - 1)

        report = both(path, key=KEY)
        plain = verify(path)

        assert plain.ok  # an unclosed log, as after a crash
        assert report.failure.code is FailureCode.LOG_TRUNCATED
        assert report.failure.seq == size
        assert report.events_verified == size
        assert report.seals_checked == which + 1
        assert f"the seals cover {seals[-1].size} events" in report.failure.message

    def test_cut_between_checkpoints(self, sealed, scratch, seals):
        seq = seals[1].size + 3
        path = cut_after(sealed, scratch / "cut-between.log", seq)

        report = both(path, key=KEY)

        assert report.failure.code is FailureCode.LOG_TRUNCATED
        assert report.failure.seq == seq + 1
        assert report.seals_checked == 2

    def test_cut_and_closed_again(self, sealed, scratch, seals):
        size = seals[1].size
        path = cut_after(sealed, scratch / "reclosed.log", size - 1)
        writer, _ = LogWriter.append(path)
        writer.close()
        sizes = {seal.size for seal in seals}

        report = both(path, key=KEY)

        assert size + 1 not in sizes
        assert verify(path).ok
        assert report.failure.code is FailureCode.LOG_TRUNCATED
        assert report.failure.seq == size + 1
        assert report.closed

    def test_a_closing_record_with_a_wrong_root(self, sealed, scratch, seals):
        # Re-chained, so only the Merkle root is wrong; no key is needed to see it.
        bodies = bodies_of(sealed)
        with LogReader(sealed) as reader:
            header = reader.header
        out = io.BytesIO()
        writer = LogWriter(out, header)
        for body in bodies[:-1]:
            writer.write_body(body)
        writer.write(RunClosed(writer.seq, writer.seq, writer.digest, bytes(32)))
        writer.close(clean=False)
        path = scratch / "wrong-root.log"
        path.write_bytes(out.getvalue())
        closing = len(bodies) - 1

        report = both(path)

        assert report.failure.code is FailureCode.TREE_ROOT_MISMATCH
        assert report.failure.seq == closing
        assert report.failure.expected_digest == bytes(32).hex()
        assert report.failure.actual_digest == root_of(bodies[:-1]).hex()
        assert "the closing record claims" in report.failure.message
        assert report.events_verified == closing


# -- a log forged without the key ------------------------------------------------------------


def first_step_after(path: Path, seq: int) -> int:
    records = records_of(path)
    return next(r.seq for r in records[seq:] if type(r) is StepApplied)


class TestForgery:
    @pytest.fixture(scope="class", params=["first-step", "after-write", "late", "last"])
    def forged(self, request, sealed, scratch, seals):
        k = {
            "first-step": 0,
            "after-write": first_step_after(sealed, seals[1].size),
            "late": seals[-2].size - 2,
            "last": first_step_after(sealed, seals[-2].size),
        }[request.param]
        path = forge(sealed, scratch / f"forged-{request.param}.log", k)
        shutil.copyfile(seals_file(sealed), seals_file(path))
        return path, k

    def test_the_forgery_is_self_consistent(self, forged, sealed):
        path, k = forged
        records = records_of(path)

        report = both(path)

        assert report.ok, report.failure
        assert report.closed
        assert report.events_verified == len(bodies_of(sealed))
        assert report.run_digest != verify(sealed).run_digest
        assert bodies_of(path)[:k] == bodies_of(sealed)[:k]
        assert records[-1].tree_root == root_of(bodies_of(path)[:-1])

    def test_with_the_key_it_fails_at_the_first_seal_covering_the_change(
        self, forged, seals
    ):
        path, k = forged
        first = next(seal for seal in seals if seal.size > k)
        bodies = bodies_of(path)

        report = both(path, key=KEY)

        assert report.failure.code is FailureCode.TREE_ROOT_MISMATCH
        assert report.failure.seq == first.size - 1
        assert report.failure.expected_digest == first.root.hex()
        assert report.failure.actual_digest == root_of(bodies[: first.size]).hex()
        assert f"the sealed checkpoint of size {first.size}" in report.failure.message
        assert report.events_verified == first.size - 1
        assert report.seals_checked == sum(1 for seal in seals if seal.size <= k)
        assert report.run_digest is None

    def test_with_the_seals_after_the_change_removed_it_fails(self, forged, seals):
        # The forger also cuts the seals file back to the seals made before
        # the change: every remaining seal holds, but the closed log's close
        # is no longer sealed.
        path, k = forged
        kept = [seal for seal in seals if seal.size <= k]
        trimmed = copy_log(path, path.with_name(f"{path.stem}-trimmed.log"))
        seals_file(trimmed).write_text("".join(seal.text() for seal in kept))
        events = len(bodies_of(path))

        report = both(trimmed, key=KEY)

        if not kept:
            assert report.failure.code is FailureCode.SEAL_MISSING
            assert report.failure.seq == -1
            return
        assert report.failure.code is FailureCode.SEAL_MISSING
        assert report.failure.seq == kept[-1].size
        assert f"closed after {events} events" in report.failure.message
        assert report.seals_checked == len(kept)
        assert report.sealed_events == kept[-1].size

    def test_without_its_seals_file_it_fails_with_the_key(self, forged):
        path, _ = forged
        bare = copy_log(path, path.with_name(f"{path.stem}-bare.log"), seals=False)

        report = both(bare, key=KEY)

        assert report.failure.code is FailureCode.SEAL_MISSING

    def test_a_seal_forged_with_another_key_fails(self, forged, seals):
        path, _ = forged
        bodies = bodies_of(path)
        run = ref_run_id(path)
        extra = path.with_name(f"{path.stem}-resealed.log")
        copy_log(path, extra)
        forged_seal = SealedCheckpoint.make(run, len(bodies), root_of(bodies), OTHER)
        with open(seals_file(extra), "a", encoding="ascii") as handle:
            handle.write(forged_seal.text())

        report = both(extra, key=KEY)

        # The seal on close already sealed that size, with the true root.
        assert report.failure.code is FailureCode.SEAL_INVALID
        assert report.failure.message == (
            f"sealed checkpoint {len(seals) + 1} (size {len(bodies)}) claims another "
            "root for a size sealed before it"
        )
        assert report.failure.seq == len(bodies) - 1

    def test_seals_made_again_with_another_key_fail(self, forged):
        path, _ = forged
        bodies = bodies_of(path)
        run = ref_run_id(path)
        resealed = path.with_name(f"{path.stem}-other-key.log")
        copy_log(path, resealed, seals=False)
        seals_file(resealed).write_text(
            SealedCheckpoint.make(run, len(bodies), root_of(bodies), OTHER).text(),
            encoding="ascii",
        )

        with_other = verify(resealed, key=OTHER)
        report = both(resealed, key=KEY)

        assert with_other.ok  # the other key holds for its own seal
        assert report.failure.code is FailureCode.SEAL_INVALID
        assert KEY.key_id in report.failure.message
        assert OTHER.key_id in report.failure.message


# -- appending to a sealed log --------------------------------------------------------------


def more_steps(path: Path, count: int, *, seed: int) -> list[StepApplied]:
    """Steps that go on from the end of the log at ``path``."""
    records = records_of(path)
    with LogReader(path) as reader:
        spec = reader.header.spec
    for record in records:
        if type(record) in (ParamsChanged, CheckpointTaken):
            spec = record.spec
    builder = logs.RunBuilder(
        oscillator_of(spec), *state_at(path, len(records) - 1), seed=seed
    )
    return list(builder.steps(len(records), count))


class TestAppend:
    def test_append_continues_the_tree_and_the_seals(self, tmp_path):
        path = record_sealed(tmp_path / "appended.log", close=False)
        before = read_seals(seals_file(path))
        kept = bodies_of(path)

        writer, recovery = LogWriter.append(path, key=KEY)
        root_on_open = writer.tree_root
        for step in more_steps(path, 5, seed=3):
            writer.write(step)
        writer.seal()
        writer.close()
        report = both(path, key=KEY)

        after = read_seals(seals_file(path))
        bodies = bodies_of(path)
        assert recovery.events == len(kept)
        assert root_on_open == root_of(kept)
        assert after[: len(before)] == before
        assert [seal.size for seal in after[len(before) :]] == [
            len(kept) + 5,
            len(kept) + 6,
        ]
        assert [seal.root for seal in after] == [
            root_of(bodies[: seal.size]) for seal in after
        ]
        assert records_of(path)[-1].tree_root == root_of(bodies[:-1])
        assert report.ok, report.failure
        assert report.seals_checked == len(before) + 2

    def test_append_after_a_clean_close(self, tmp_path):
        path = record_sealed(tmp_path / "closed-then-appended.log")
        before = len(read_seals(seals_file(path)))

        writer, _ = LogWriter.append(path, key=KEY)
        for step in more_steps(path, 3, seed=4):
            writer.write(step)
        writer.close()
        report = both(path, key=KEY)

        assert report.ok, report.failure
        assert report.seals_checked == before + 1
        assert report.events_verified == len(bodies_of(path))

    def test_a_writer_without_a_key_cannot_seal(self, tmp_path):
        path = record_sealed(tmp_path / "no-key.log", close=False)
        seals_before = seals_file(path).read_bytes()
        writer, _ = LogWriter.append(path)

        with pytest.raises(LogError, match="this log writer has no seal key"):
            writer.seal()

        writer.close()

        assert not writer.sealed
        # Closing without a key adds no seal.
        assert seals_file(path).read_bytes() == seals_before
