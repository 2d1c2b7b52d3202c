"""Replay verification of recorded runs: ``verify``, ``state_at``, ``diff``.

``verify`` re-runs a log against the NumPy core, from its header's parameters
and initial state, through the same ``Stepper`` the recorder used, and checks
for every event the hash chain, the state digest and the exact bytes of the
energies. It streams: memory does not grow with the length of the log. The
first failure stops it and is described in the ``VerificationReport``.
``verify(path, workers=N)`` replays the stretches between checkpoints in N
processes with the same result (``segments``).
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Callable
from typing import IO, Any, Final, NamedTuple

import numpy as np

from . import codec
from ._typing import FloatArray
from .codec import BodyError, encode_step, is_step, step_inputs
from .errors import (
    AuditError,
    ChainBrokenError,
    InvalidValueError,
    LinOSSError,
    LogCorruptError,
    LogError,
    LogFormatError,
    LogTruncatedError,
    UnsupportedVersionError,
)
from .events import (
    CheckpointTaken,
    DiffReport,
    Event,
    Failure,
    FailureCode,
    ParamsChanged,
    RunClosed,
    RunSpec,
    StateWritten,
    StepApplied,
    ValueMismatch,
    VerificationReport,
    oscillator_of,
    spec_of,
)
from .logfile import DEFAULT_MAX_FRAME_BYTES, LogReader
from .merkle import EMPTY_ROOT, MerkleTree
from .seals import Key, read_seals, run_id, seals_path
from .transition import StepOutcome, Stepper

__all__ = ["Progress", "checkpoints", "diff", "state_at", "trajectory", "verify"]

Source = str | os.PathLike[str] | bytes | IO[bytes]
Progress = Callable[[int], None]
"""Called with the number of events verified so far, every ``PROGRESS_EVERY``."""

PROGRESS_EVERY: Final = 1 << 14
_CHECKPOINT_CODE: Final = 4


# -- exact comparison helpers ---------------------------------------------------


def _ordered(x: float) -> int:
    """A float's position on the number line of float64 values (for ULP distances)."""
    (i,) = struct.unpack("<q", struct.pack("<d", x))
    return i if i >= 0 else -(i & 0x7FFFFFFFFFFFFFFF)


def ulp_distance(a: float, b: float) -> int:
    """How many float64 values lie between ``a`` and ``b`` (0 when identical)."""
    return abs(_ordered(a) - _ordered(b))


def same_float(a: float, b: float) -> bool:
    """Bitwise equality of two finite floats (tells 0.0 from -0.0)."""
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def float_mismatch(field: str, expected: float, actual: float) -> ValueMismatch:
    """A scalar mismatch with exact hex values and the ULP distance."""
    return ValueMismatch(
        field=field,
        index=None,
        expected=float(expected).hex(),
        actual=float(actual).hex(),
        ulps=ulp_distance(expected, actual),
    )


def array_mismatch(field: str, expected: Any, actual: Any) -> ValueMismatch | None:
    """The first element where two arrays differ bitwise, or None if identical."""
    e = np.ascontiguousarray(expected, dtype=np.float64).reshape(-1)
    a = np.ascontiguousarray(actual, dtype=np.float64).reshape(-1)
    if e.shape != a.shape:
        return ValueMismatch(
            field=field,
            index=None,
            expected=f"shape {np.shape(expected)}",
            actual=f"shape {np.shape(actual)}",
            ulps=0,
        )
    differ = e.view(np.uint64) != a.view(np.uint64)
    if not differ.any():
        return None
    i = int(np.argmax(differ))
    return ValueMismatch(
        field=field,
        index=i,
        expected=float(e[i]).hex(),
        actual=float(a[i]).hex(),
        ulps=ulp_distance(float(e[i]), float(a[i])),
    )


def same_spec(a: RunSpec, b: RunSpec) -> bool:
    """Whether two parameter sets are bitwise identical."""

    def raw(x: Any) -> Any:
        return (
            None
            if x is None
            else (np.shape(x), np.asarray(x, dtype=np.float64).tobytes())
        )

    return (
        a.scheme is b.scheme
        and a.allow_unstable == b.allow_unstable
        and all(raw(x) == raw(y) for x, y in zip(a[1:5], b[1:5], strict=True))
    )


# -- verification ---------------------------------------------------------------


class _DivergenceError(Exception):
    """Internal: carries the failure of one event out of the replay loop."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


_LOG_ERRORS: Final = (
    (UnsupportedVersionError, FailureCode.UNSUPPORTED_VERSION),
    (LogTruncatedError, FailureCode.LOG_TRUNCATED),
    (ChainBrokenError, FailureCode.CHAIN_BROKEN),
    (LogCorruptError, FailureCode.FRAME_CORRUPT),
    (LogFormatError, FailureCode.FRAME_CORRUPT),
)


def failure_of(exc: LogError) -> Failure:
    """The report form of a log reading error."""
    code = next(
        (code for cls, code in _LOG_ERRORS if isinstance(exc, cls)),
        FailureCode.FRAME_CORRUPT,
    )
    return Failure(
        code=code,
        seq=-1 if exc.seq is None else exc.seq,
        offset=exc.offset,
        message=str(exc),
    )


def _diverged(
    code: FailureCode,
    seq: int,
    offset: int,
    message: str,
    *,
    field: str | None = None,
    expected_digest: bytes | None = None,
    actual_digest: bytes | None = None,
    mismatch: ValueMismatch | None = None,
) -> _DivergenceError:
    return _DivergenceError(
        Failure(
            code=code,
            seq=seq,
            offset=offset,
            message=message,
            field=field,
            expected_digest=None if expected_digest is None else expected_digest.hex(),
            actual_digest=None if actual_digest is None else actual_digest.hex(),
            mismatch=mismatch,
        )
    )


def _check_energy(
    seq: int, offset: int, field: str, recorded: float, replayed: float
) -> None:
    if not same_float(recorded, replayed):
        raise _diverged(
            FailureCode.ENERGY_DIVERGED,
            seq,
            offset,
            f"event seq {seq}: {field} replays as {replayed!r}, recorded {recorded!r}",
            field=field,
            mismatch=float_mismatch(field, recorded, replayed),
        )


def _check_state(
    seq: int,
    offset: int,
    stepper: Stepper,
    recorded_digest: bytes,
    replayed_digest: bytes,
    recorded_y: FloatArray | None,
    recorded_z: FloatArray | None,
) -> None:
    if recorded_digest == replayed_digest and recorded_y is None:
        return
    mismatch = None
    field = "state"
    for name, recorded, replayed in (
        ("y", recorded_y, stepper.y),
        ("z", recorded_z, stepper.z),
    ):
        if recorded is not None and mismatch is None:
            mismatch = array_mismatch(name, recorded, replayed)
            field = name if mismatch is not None else field
    if recorded_digest == replayed_digest and mismatch is None:
        return
    where = f" (first difference in {field})" if mismatch is not None else ""
    raise _diverged(
        FailureCode.STATE_DIVERGED,
        seq,
        offset,
        f"event seq {seq}: the replayed state differs from the recorded one{where}",
        field=field,
        expected_digest=recorded_digest,
        actual_digest=replayed_digest,
        mismatch=mismatch,
    )


def _step_failed(seq: int, offset: int, exc: LinOSSError) -> _DivergenceError:
    return _diverged(
        FailureCode.STATE_DIVERGED,
        seq,
        offset,
        f"event seq {seq}: the step cannot be replayed: {exc}",
        field="state",
    )


def _check_step(
    record: StepApplied, out: StepOutcome, stepper: Stepper, offset: int
) -> None:
    """Compare a decoded step with its replay, field by field."""
    seq = record.seq
    _check_state(
        seq, offset, stepper, record.state_digest, out.state_digest, record.y, record.z
    )
    _check_energy(seq, offset, "energy_before", record.energy_before, out.energy_before)
    _check_energy(seq, offset, "energy_after", record.energy_after, out.energy_after)
    _check_energy(seq, offset, "delta_energy", record.delta_energy, out.delta_energy)


def _apply_other(
    record: Event, stepper: Stepper, offset: int, chain_before: bytes
) -> None:
    """Replay an event that is not a step, raising ``_DivergenceError`` on a mismatch."""
    seq = record.seq
    if type(record) is CheckpointTaken:
        if not same_spec(record.spec, spec_of(stepper.oscillator)):
            raise _diverged(
                FailureCode.STATE_DIVERGED,
                seq,
                offset,
                f"event seq {seq}: checkpoint parameters differ from those in effect",
                field="spec",
            )
        _check_state(
            seq,
            offset,
            stepper,
            record.state_digest,
            stepper.digest(),
            record.y,
            record.z,
        )
        _check_energy(seq, offset, "energy", record.energy, stepper.energy)
    elif type(record) is ParamsChanged:
        try:
            stepper.set_oscillator(oscillator_of(record.spec))
        except LinOSSError as exc:
            raise _diverged(
                FailureCode.STATE_DIVERGED,
                seq,
                offset,
                f"event seq {seq}: recorded parameters are not valid: {exc}",
                field="spec",
            ) from None
    elif type(record) is StateWritten:
        try:
            stepper.set_state(record.y, record.z)
        except LinOSSError as exc:
            raise _diverged(
                FailureCode.STATE_DIVERGED,
                seq,
                offset,
                f"event seq {seq}: the written state is not valid: {exc}",
                field="state",
            ) from None
        _check_state(
            seq, offset, stepper, record.state_digest, stepper.digest(), None, None
        )
        _check_energy(seq, offset, "energy", record.energy, stepper.energy)
    elif type(record) is RunClosed and (
        record.events != seq or record.run_digest != chain_before
    ):
        raise _diverged(
            FailureCode.CHAIN_BROKEN,
            seq,
            offset,
            f"event seq {seq}: the closing record claims {record.events} events and "
            f"run digest {record.run_digest.hex()}; the log has {seq} and "
            f"{chain_before.hex()}",
            field="run_digest",
            expected_digest=record.run_digest,
            actual_digest=chain_before,
        )


class Claim(NamedTuple):
    """A Merkle root the log or a seal claims for its first ``size`` events,
    left for the caller to check when the tree of a stretch does not start at
    event 0 (``blocks`` then holds the stretch's subtrees up to ``size``)."""

    seq: int
    offset: int
    size: int
    root: bytes
    sealed: bool
    blocks: tuple[tuple[int, bytes], ...]
    closed: bool = False
    """The claim's event is a closing record (the report's ``closed`` if it fails)."""


def root_mismatch(claim: Claim, actual: bytes) -> Failure:
    """The failure of a claimed root that is not the root of the events read."""
    what = (
        f"the sealed checkpoint of size {claim.size}"
        if claim.sealed
        else "the closing record"
    )
    return Failure(
        code=FailureCode.TREE_ROOT_MISMATCH,
        seq=claim.seq,
        offset=claim.offset,
        message=(
            f"event seq {claim.seq}: {what} claims Merkle root {claim.root.hex()} for "
            f"events 0 to {claim.size - 1}; their root is {actual.hex()} (an event "
            "was changed, or the log was rewritten)"
        ),
        field="tree_root",
        expected_digest=claim.root.hex(),
        actual_digest=actual.hex(),
    )


class _Replay:
    """Replays the events of an open reader against a ``Stepper``.

    It also rebuilds the Merkle tree of the event bodies from the first event
    read, up to (not including) event ``leaf_end``, and checks the roots that
    the closing records and the ``sealed`` roots (``{size: root}``) claim:
    at once when the tree starts at event 0, else as ``claims`` for the caller.
    """

    def __init__(
        self,
        reader: LogReader,
        *,
        start: int | None,
        sealed: dict[int, bytes] | None = None,
        leaf_end: int | None = None,
    ) -> None:
        header = reader.header
        self.reader = reader
        self.stepper = Stepper(oscillator_of(header.spec), header.y0, header.z0)
        # When reading starts at a checkpoint, its state is taken, not checked.
        self.start_at_checkpoint = start is not None
        self.events = 0
        self.last_seq: int | None = None
        self.first_digest: bytes | None = None
        self.closed = False
        self.tree = MerkleTree(start or 0)
        self.sealed = sealed or {}
        self.seals_checked = 0
        self.claims: list[Claim] = []
        self.leaf_end = leaf_end

    def run(
        self,
        *,
        to_seq: int | None = None,
        progress: Progress | None = None,
        on_event: Callable[[int, Stepper], None] | None = None,
    ) -> None:
        reader = self.reader
        stepper = self.stepper
        tree = self.tree
        sealed = self.sealed
        leaf_end = self.leaf_end
        # Logs of an older schema are decoded (and upcast) event by event.
        fast = reader.header.schema_version == codec.SCHEMA_VERSION
        for body in reader.bodies():
            seq = reader.seq
            offset = reader.offset
            self.closed = False

            if fast and is_step(body):
                self._fast_step(body, seq, offset)
            else:
                record = reader.decode(body)
                if type(record) is StepApplied:
                    self._step(record, offset)
                else:
                    if self.start_at_checkpoint:
                        assert type(record) is CheckpointTaken
                        stepper.set_oscillator(oscillator_of(record.spec))
                        stepper.set_state(record.y, record.z)
                        self.start_at_checkpoint = False
                    _apply_other(record, stepper, offset, reader.digest_before_last)
                    if type(record) is RunClosed:
                        self.closed = True
                        if record.tree_root is not None:
                            self._claim(seq, offset, record.tree_root, sealed=False)

            # The event joins the tree; a sealed root may cover it now.
            if leaf_end is None or seq < leaf_end:
                tree.append(body)
                if tree.end in sealed:
                    self._claim(seq, offset, sealed[tree.end], sealed=True)

            if self.last_seq is None:
                self.first_digest = reader.digest
            self.events += 1
            self.last_seq = seq
            if on_event is not None:
                on_event(seq, stepper)
            if progress is not None and self.events % PROGRESS_EVERY == 0:
                progress(self.events)
            if to_seq is not None and seq >= to_seq:
                return

    def _claim(self, seq: int, offset: int, root: bytes, *, sealed: bool) -> None:
        """Check a claimed root of the tree as it stands, or keep it for later."""
        tree = self.tree
        if tree.start != 0:
            self.claims.append(
                Claim(
                    seq,
                    offset,
                    tree.end,
                    root,
                    sealed,
                    tuple(tree.blocks()),
                    self.closed,
                )
            )
            return
        actual = tree.root()
        if actual != root:
            claim = Claim(seq, offset, tree.end, root, sealed, ())
            raise _DivergenceError(root_mismatch(claim, actual))
        self.seals_checked += sealed

    def _fast_step(self, body: bytes, seq: int, offset: int) -> None:
        """Replay a step from its inputs, encode the event that should have been
        recorded and compare bytes; decode the body only if they differ."""
        try:
            body_seq, u, dt = step_inputs(body)
        except BodyError:
            self.reader.decode(body)  # raises the located LogFormatError
            raise  # pragma: no cover - decode raised
        try:
            out = self.stepper.step(u, dt)
        except LinOSSError as exc:
            raise _step_failed(seq, offset, exc) from None
        expected = encode_step(
            body_seq,
            u,
            dt,
            out.state_digest,
            out.energy_before,
            out.energy_after,
            out.delta_energy,
        )
        if body_seq != seq or expected != body:
            record = self.reader.decode(body)
            _check_step(record, out, self.stepper, offset)  # type: ignore[arg-type]

    def _step(self, record: StepApplied, offset: int) -> None:
        """Replay a decoded step and compare it field by field."""
        try:
            out = self.stepper.step(record.u, record.dt)
        except LinOSSError as exc:
            raise _step_failed(record.seq, offset, exc) from None
        _check_step(record, out, self.stepper, offset)


def checkpoints(
    source: Source, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
) -> list[tuple[int, int]]:
    """``(seq, byte offset)`` of every checkpoint in a log, found without decoding."""
    with LogReader(source, max_frame_bytes=max_frame_bytes) as reader:
        return [
            (seq, off) for seq, off, code in reader.scan() if code == _CHECKPOINT_CODE
        ]


def _rewind(source: Source) -> None:
    if hasattr(source, "seek"):
        source.seek(0)


class Stretch(NamedTuple):
    """What replaying one stretch of a log found (picklable, for worker processes)."""

    events: int
    last_seq: int | None
    digest: bytes
    """Chain digest after the last event read."""
    first_digest: bytes | None
    """Chain digest after the first event read (None if none was read)."""
    closed: bool
    failure: Failure | None
    root: bytes | None = None
    """Merkle root of the events read, when the stretch starts at the header."""
    seals_checked: int = 0
    blocks: tuple[tuple[int, bytes], ...] = ()
    """The Merkle subtrees of the stretch's events (see ``MerkleTree.blocks``)."""
    claims: tuple[Claim, ...] = ()


def replay_stretch(
    source: Source,
    start: tuple[int, int] | None,
    *,
    to_seq: int | None = None,
    progress: Progress | None = None,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    sealed: dict[int, bytes] | None = None,
    leaf_end: int | None = None,
) -> Stretch:
    """Replay a log from its header, or from the checkpoint ``start = (seq, offset)``.

    Stops after event ``to_seq``, at the end of the log or at the first failure.
    ``sealed`` and ``leaf_end`` are as for the Merkle tree of ``_Replay``.

    Raises:
        LogError: the log cannot be opened or its header is damaged.
    """
    with LogReader(source, max_frame_bytes=max_frame_bytes) as reader:
        replay = _Replay(
            reader,
            start=None if start is None else start[0],
            sealed=sealed,
            leaf_end=leaf_end,
        )
        failure = None
        try:
            if start is not None:
                reader.seek(start[1], start[0])
            replay.run(to_seq=to_seq, progress=progress)
        except _DivergenceError as exc:
            failure = exc.failure
        except LogError as exc:
            failure = failure_of(exc)
        tree = replay.tree
        return Stretch(
            replay.events,
            replay.last_seq,
            reader.digest,
            replay.first_digest,
            replay.closed,
            failure,
            root=tree.root() if tree.start == 0 else None,
            seals_checked=replay.seals_checked,
            blocks=tuple(tree.blocks()),
            claims=tuple(replay.claims),
        )


def _checkpoint_offset(
    source: Source, from_seq: int, max_frame_bytes: int
) -> tuple[list[tuple[int, int]], int]:
    """Every checkpoint of a log, and the offset of the one at ``from_seq``."""
    found = checkpoints(source, max_frame_bytes=max_frame_bytes)
    offsets = dict(found)
    if from_seq not in offsets:
        shown = sorted(offsets)[:5]
        more = "..." if len(offsets) > 5 else ""
        raise InvalidValueError(
            f"from_seq must be 0 or the seq of a checkpoint; got {from_seq} "
            f"(checkpoints at {shown}{more})",
            argument="from_seq",
        )
    return found, offsets[from_seq]


def verify(
    source: Source,
    *,
    from_seq: int | None = None,
    to_seq: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    key: Key | None = None,
    seals: str | os.PathLike[str] | None = None,
) -> VerificationReport:
    """Replay a log and check every event; the report names the first failure.

    Verified from its header, a log also has its Merkle tree rebuilt, and the
    root in each closing record is checked against it. With a seal ``key``,
    every sealed checkpoint in the seals file is checked: made with this key,
    for this run, and with the root of the tree at its size; a log without
    sealed checkpoints, or shorter than they say, fails.

    Args:
        source: Path, bytes or readable binary stream of a log.
        from_seq: Start at this checkpoint's sequence number instead of the
            header (the chain before it is then not checked).
        to_seq: Stop after this event.
        workers: Verify the stretches between checkpoints in this many
            processes at once. The report is the one a sequential verification
            gives, first failure included. A log without checkpoints in the
            range, or a source that is not a path, is verified sequentially
            with a ``SequentialVerifyWarning``.
        progress: Called with the count of verified events every so often.
        max_frame_bytes: Bound on a frame's declared size.
        key: The key to check sealed checkpoints with: a ``SealKey``, or for
            Ed25519 seals a ``VerifyKey`` (or the ``SigningKey``).
        seals: The seals file (default: ``<source>.seals``; needed with ``key``
            when ``source`` is not a path).

    Returns:
        The ``VerificationReport``; ``ok`` is False and ``failure`` is set when
        an event fails. Damage to the log is a failure in the report, not an
        exception.

    Raises:
        LogFormatError: the source cannot be opened or is not a run log.
        InvalidValueError: ``from_seq`` is not a checkpoint, the range is
            empty, ``workers`` is not a positive integer, or a ``key`` is given
            with ``from_seq`` (seals cover the tree from event 0) or without a
            seals file to check.
        AuditError: the seals file cannot be read or is not one.
    """
    path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
    sealed: dict[int, bytes] | None = None
    if key is not None:
        if from_seq:
            raise InvalidValueError(
                "seals cover the events from 0: verify with key from the header "
                "(without from_seq)",
                argument="from_seq",
            )
        sealed, refused = _sealed_roots(source, path, key, seals, max_frame_bytes)
        if refused is not None:
            return VerificationReport(
                ok=False, path=path, events_verified=0, failure=refused
            )
    if to_seq is not None and from_seq is not None and to_seq < from_seq:
        raise InvalidValueError(
            f"to_seq must be >= from_seq; got from {from_seq} to {to_seq}",
            argument="to_seq",
        )
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise InvalidValueError(
            f"workers must be a positive integer; got {workers!r}",
            argument="workers",
        )
    first_seq = from_seq or 0
    start = None
    found = None
    if from_seq:
        found, offset = _checkpoint_offset(source, from_seq, max_frame_bytes)
        start = (from_seq, offset)
        _rewind(source)
    if workers is not None and workers > 1:
        from .segments import verify_in_segments

        report = verify_in_segments(
            source,
            start,
            found,
            workers=workers,
            to_seq=to_seq,
            progress=progress,
            max_frame_bytes=max_frame_bytes,
            sealed=sealed,
        )
        if report is not None:
            return report
        _rewind(source)
    try:
        stretch = replay_stretch(
            source,
            start,
            to_seq=to_seq,
            progress=progress,
            max_frame_bytes=max_frame_bytes,
            sealed=sealed,
        )
    except LogError as exc:
        unopened = exc.seq is None or (
            exc.offset == 0 and not isinstance(exc, UnsupportedVersionError)
        )
        if unopened:
            raise  # missing, unreadable, or not a log at all: nothing to verify
        return VerificationReport(
            ok=False, path=path, events_verified=0, failure=failure_of(exc)
        )
    if stretch.failure is None and progress is not None:
        progress(stretch.events)
    return report_of(path, first_seq, stretch, sealed if to_seq is None else None)


def _sealed_roots(
    source: Source,
    path: str | None,
    key: Key,
    seals: str | os.PathLike[str] | None,
    max_frame_bytes: int,
) -> tuple[dict[int, bytes], Failure | None]:
    """The roots the seals file claims, ``{size: root}``, once every seal in it
    is found to be made with ``key`` for this run; else the failure."""
    if seals is None:
        if path is None:
            raise InvalidValueError(
                "a log that is not a file has no seals file beside it: pass seals=PATH",
                argument="seals",
            )
        seals = seals_path(path)
    try:
        with LogReader(source, max_frame_bytes=max_frame_bytes) as reader:
            header = reader.header
    except LogError:
        _rewind(source)
        return {}, None  # the replay reports what is wrong with the log
    _rewind(source)
    run = run_id(header.spec, header.y0, header.z0)
    if not os.path.exists(seals):
        return {}, Failure(
            code=FailureCode.SEAL_MISSING,
            seq=-1,
            message=(
                f"a key was given and there is no seals file {os.fspath(seals)}: the "
                "log was recorded without a key, or its seals were removed"
            ),
        )
    found = read_seals(seals)
    if not found:
        return {}, Failure(
            code=FailureCode.SEAL_MISSING,
            seq=-1,
            message=f"the seals file {os.fspath(seals)} holds no sealed checkpoint",
        )
    roots: dict[int, bytes] = {}
    for number, checkpoint in enumerate(found, 1):
        problem = None
        if checkpoint.run != run:
            problem = (
                f"is for run {checkpoint.run.hex()}, and this log is run {run.hex()}"
            )
        elif roots.get(checkpoint.size, checkpoint.root) != checkpoint.root:
            problem = "claims another root for a size sealed before it"
        else:
            try:
                checkpoint.check(key)
            except AuditError as exc:
                problem = f"does not hold: {exc}"
        if problem is not None:
            return {}, Failure(
                code=FailureCode.SEAL_INVALID,
                seq=max(checkpoint.size - 1, -1),
                message=f"sealed checkpoint {number} (size {checkpoint.size}) {problem}",
                field="seal",
            )
        roots[checkpoint.size] = checkpoint.root
    if roots.get(0, EMPTY_ROOT) != EMPTY_ROOT:
        return {}, Failure(
            code=FailureCode.TREE_ROOT_MISMATCH,
            seq=-1,
            message="a sealed checkpoint of size 0 claims a root other than the empty one",
            field="tree_root",
        )
    roots.pop(0, None)
    return roots, None


def report_of(
    path: str | None,
    first_seq: int,
    stretch: Stretch,
    sealed: dict[int, bytes] | None = None,
) -> VerificationReport:
    """The report of a verification that started at ``first_seq``.

    With the ``sealed`` roots of a verification to the end, a log shorter than
    its seals fails, and so does a closed log whose last events no seal covers:
    a recorder with a key seals the log as it closes it, so those events were
    added, or their seals removed, by someone else.
    """
    failure = stretch.failure
    events = first_seq + stretch.events
    if failure is None and sealed is not None:
        covered = max(sealed, default=0)
        if events < covered:
            failure = Failure(
                code=FailureCode.LOG_TRUNCATED,
                seq=events,
                message=(
                    f"the seals cover {covered} events and the log has {events}: "
                    "events were cut from its end"
                ),
            )
        elif stretch.closed and covered < events:
            failure = Failure(
                code=FailureCode.SEAL_MISSING,
                seq=covered,
                message=(
                    f"the log is closed after {events} events and its seals cover "
                    f"{covered}: the seal of its close is missing (events after seq "
                    f"{covered - 1} were added or their seals removed without the key)"
                ),
            )
    return VerificationReport(
        ok=failure is None,
        path=path,
        events_verified=stretch.events,
        first_seq=first_seq,
        last_seq=stretch.last_seq,
        run_digest=None if failure is not None else stretch.digest.hex(),
        closed=stretch.closed,
        tree_root=None if stretch.root is None else stretch.root.hex(),
        seals_checked=stretch.seals_checked,
        sealed_events=max(sealed, default=0) if sealed is not None else 0,
        failure=failure,
    )


def _run_or_raise(replay: _Replay, what: str, **options: Any) -> None:
    """Run a replay for a caller that wants states, not a report: fail loudly."""
    try:
        replay.run(**options)
    except _DivergenceError as exc:
        raise LogCorruptError(
            f"{what}: {exc}",
            path=replay.reader.path,
            seq=exc.failure.seq,
            offset=exc.failure.offset,
        ) from None


def state_at(
    source: Source, seq: int, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
) -> tuple[FloatArray, FloatArray]:
    """The state ``(y, z)`` after event ``seq`` (``seq = -1``: the initial state).

    Replays from the nearest checkpoint at or before ``seq``, checking every
    replayed event.

    Raises:
        LogError: the log fails before ``seq`` (damage, divergence).
        InvalidValueError: the log has no event ``seq``.
    """
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < -1:
        raise InvalidValueError(
            f"seq must be an integer >= -1; got {seq!r}", argument="seq"
        )
    found = checkpoints(source, max_frame_bytes=max_frame_bytes)
    start = max(((s, o) for s, o in found if s <= seq), default=None)
    _rewind(source)
    with LogReader(source, max_frame_bytes=max_frame_bytes) as reader:
        replay = _Replay(reader, start=None if start is None else start[0])
        if seq == -1:
            return replay.stepper.y, replay.stepper.z
        if start is not None:
            reader.seek(start[1], start[0])
        _run_or_raise(replay, f"cannot reconstruct the state at seq {seq}", to_seq=seq)
        if replay.last_seq != seq:
            raise InvalidValueError(
                f"seq must name an event of the log; it ends at seq {replay.last_seq}",
                argument="seq",
            )
        return replay.stepper.y, replay.stepper.z


def _first_difference(
    a: Event, b: Event
) -> tuple[FailureCode, str, ValueMismatch | None]:
    """The kind, field and detail of the first difference between two records."""
    if type(a) is not type(b):
        return FailureCode.EVENT_DIFFERS, "kind", None
    if type(a) is StepApplied and type(b) is StepApplied:
        for name in ("u", "dt"):
            x, y = getattr(a, name), getattr(b, name)
            if (x is None) != (y is None) or (
                x is not None and array_mismatch(name, x, y) is not None
            ):
                detail = None if x is None or y is None else array_mismatch(name, x, y)
                return FailureCode.INPUT_DIFFERS, name, detail
        if a.state_digest != b.state_digest:
            for name in ("y", "z"):
                x, y = getattr(a, name), getattr(b, name)
                if x is not None and y is not None:
                    detail = array_mismatch(name, x, y)
                    if detail is not None:
                        return FailureCode.STATE_DIVERGED, name, detail
            return FailureCode.STATE_DIVERGED, "state", None
        for name in ("energy_before", "energy_after", "delta_energy"):
            x, y = getattr(a, name), getattr(b, name)
            if not same_float(x, y):
                return FailureCode.ENERGY_DIVERGED, name, float_mismatch(name, x, y)
        return FailureCode.EVENT_DIFFERS, "y", None  # full state on one side only
    if type(a) is ParamsChanged and type(b) is ParamsChanged:
        return FailureCode.PARAMS_DIFFER, "spec", _spec_mismatch(a.spec, b.spec)
    if isinstance(a, (CheckpointTaken, StateWritten)) and isinstance(
        b, (CheckpointTaken, StateWritten)
    ):
        for name in ("y", "z"):
            detail = array_mismatch(name, getattr(a, name), getattr(b, name))
            if detail is not None:
                return FailureCode.STATE_DIVERGED, name, detail
        if (
            isinstance(a, CheckpointTaken)
            and isinstance(b, CheckpointTaken)
            and not same_spec(a.spec, b.spec)
        ):
            return FailureCode.PARAMS_DIFFER, "spec", _spec_mismatch(a.spec, b.spec)
        return (
            FailureCode.ENERGY_DIVERGED,
            "energy",
            float_mismatch("energy", a.energy, b.energy),
        )
    return FailureCode.EVENT_DIFFERS, "run_closed", None


def _spec_mismatch(a: RunSpec, b: RunSpec) -> ValueMismatch | None:
    for name in ("A", "G", "dt", "B"):
        x, y = getattr(a, name), getattr(b, name)
        if x is not None and y is not None:
            detail = array_mismatch(name, x, y)
            if detail is not None:
                return detail
    return None


def diff(
    a: Source, b: Source, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
) -> DiffReport:
    """Compare two logs of the same run and report the first event where they differ.

    Headers may differ in their fingerprint and library version (where and by
    what a log was written); parameters and initial state must match. Events
    are compared by their chain digests and decoded only where they differ.
    Damage in either log ends the comparison and is reported.

    Raises:
        LogFormatError: either source cannot be opened or is not a run log.
    """
    names = [
        os.fspath(x) if isinstance(x, (str, os.PathLike)) else None for x in (a, b)
    ]
    with (
        LogReader(a, max_frame_bytes=max_frame_bytes) as ra,
        LogReader(b, max_frame_bytes=max_frame_bytes) as rb,
    ):

        def report(difference: Failure | None, compared: int) -> DiffReport:
            return DiffReport(
                identical=difference is None,
                a=names[0],
                b=names[1],
                events_compared=compared,
                a_run_digest=ra.digest.hex(),
                b_run_digest=rb.digest.hex(),
                difference=difference,
            )

        if ra.genesis != rb.genesis:
            detail = (
                _spec_mismatch(ra.header.spec, rb.header.spec)
                or array_mismatch("y0", ra.header.y0, rb.header.y0)
                or array_mismatch("z0", ra.header.z0, rb.header.z0)
            )
            code = (
                FailureCode.PARAMS_DIFFER
                if not same_spec(ra.header.spec, rb.header.spec)
                else FailureCode.STATE_DIVERGED
            )
            return report(
                Failure(
                    code=code,
                    seq=-1,
                    message="the logs start from different parameters or initial states",
                    field=None if detail is None else detail.field,
                    mismatch=detail,
                ),
                0,
            )

        compared = 0
        bodies_a, bodies_b = ra.bodies(), rb.bodies()
        which = "a"
        try:
            while True:
                which = "a"
                body_a = next(bodies_a, None)
                which = "b"
                body_b = next(bodies_b, None)
                if body_a is None or body_b is None:
                    if body_a is None and body_b is None:
                        return report(None, compared)
                    longer = "a" if body_b is None else "b"
                    return report(
                        Failure(
                            code=FailureCode.LENGTH_DIFFERS,
                            seq=compared,
                            message=f"log {longer} goes on after {compared} common events",
                        ),
                        compared,
                    )
                if ra.digest != rb.digest:
                    which = "a"
                    record_a = ra.decode(body_a)
                    which = "b"
                    record_b = rb.decode(body_b)
                    code, field, detail = _first_difference(record_a, record_b)
                    return report(
                        Failure(
                            code=code,
                            seq=compared,
                            offset=ra.offset,
                            message=f"event seq {compared} differs in {field}",
                            field=field,
                            mismatch=detail,
                        ),
                        compared,
                    )
                compared += 1
        except LogError as exc:
            failure = failure_of(exc)
            return report(
                failure.model_copy(
                    update={"message": f"log {which}: {failure.message}"}
                ),
                compared,
            )


def trajectory(
    source: Source,
    *,
    oscillators: int = 4,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Replay a log and collect, per event, its seq, the energy and the first positions.

    Returns ``(seq, energy, y)`` with ``y`` of shape (events, min(oscillators, P)).
    Memory grows with the log: meant for plotting runs of moderate length.

    Raises:
        LogError: the log fails to replay.
    """
    seqs: list[int] = []
    energies: list[float] = []
    positions: list[FloatArray] = []

    def collect(seq: int, stepper: Stepper) -> None:
        seqs.append(seq)
        energies.append(stepper.energy)
        positions.append(stepper.y[:oscillators])

    with LogReader(source, max_frame_bytes=max_frame_bytes) as reader:
        replay = _Replay(reader, start=None)
        _run_or_raise(replay, "cannot replay the log", on_event=collect)
    width = min(oscillators, len(reader.header.y0))
    return (
        np.asarray(seqs, dtype=np.int64),
        np.asarray(energies, dtype=np.float64),
        np.asarray(positions, dtype=np.float64).reshape(len(seqs), width),
    )
