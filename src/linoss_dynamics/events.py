"""What a run log holds: event records for the hot path, pydantic models at the edges.

Two views of the same facts:

- **Records** (``RunStarted``, ``StepApplied``, ...) are NamedTuples holding
  float64 NumPy arrays and raw 16-byte digests. The writer, the reader and the
  verifier pass them around; building one costs a tuple.
- **Models** (``RunStartedModel``, ``StepAppliedModel``, ...) are pydantic v2
  models of the JSON form: arrays as lists of floats, digests as hex strings.
  They validate at the boundaries (a log's header on opening, exports,
  reports) and generate the JSON Schemas in ``schemas/``.

Event names are explicit and stable (``EventKind``): they are written into logs
and exports and never derived from class paths. Events are past-tense facts.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, NonNegativeInt

from ._typing import FloatArray
from .oscillator import Oscillator
from .schemes import Scheme

__all__ = [
    "BundleReport",
    "CheckpointTaken",
    "CheckpointTakenModel",
    "CollectionReport",
    "ConsistencyProof",
    "DiffReport",
    "EnergySummary",
    "Event",
    "EventKind",
    "EventModel",
    "Failure",
    "FailureCode",
    "Fingerprint",
    "InclusionProof",
    "InspectReport",
    "LogStatus",
    "LogVerification",
    "ParamsChanged",
    "ParamsChangedModel",
    "ProofCheck",
    "RunClosed",
    "RunClosedModel",
    "RunSpec",
    "RunSpecModel",
    "RunStarted",
    "RunStartedModel",
    "StateWritten",
    "StateWrittenModel",
    "StepApplied",
    "StepAppliedModel",
    "ValueMismatch",
    "VerificationReport",
    "header_to_model",
    "oscillator_of",
    "record_to_model",
    "spec_of",
    "spec_to_model",
]


class EventKind(enum.IntEnum):
    """Event types, with the code written in the binary log and the JSON name."""

    RUN_STARTED = 0
    STEP_APPLIED = 1
    PARAMS_CHANGED = 2
    STATE_WRITTEN = 3
    CHECKPOINT_TAKEN = 4
    RUN_CLOSED = 5

    @property
    def json_name(self) -> str:
        """The stable name used in JSON exports and schemas."""
        return self.name.lower()


# -- records (hot path) -------------------------------------------------------


class RunSpec(NamedTuple):
    """The parameters of an ``Oscillator``, exactly: what a replay needs to rebuild it."""

    scheme: Scheme
    A: FloatArray
    G: FloatArray | None
    dt: float | FloatArray
    B: FloatArray | None
    allow_unstable: bool


class RunStarted(NamedTuple):
    """The header: versions, parameters, initial state, environment fingerprint."""

    schema_version: int
    library_version: str
    hash_algorithms: tuple[str, ...]
    spec: RunSpec
    y0: FloatArray
    z0: FloatArray
    fingerprint: dict[str, Any]


class StepApplied(NamedTuple):
    """One transition: its input, optional per-step ``dt``, and what it produced."""

    seq: int
    u: float | FloatArray | None
    dt: float | FloatArray | None
    state_digest: bytes
    energy_before: float
    energy_after: float
    delta_energy: float
    y: FloatArray | None = None
    z: FloatArray | None = None


class ParamsChanged(NamedTuple):
    """New parameters in effect from the next event on."""

    seq: int
    spec: RunSpec


class StateWritten(NamedTuple):
    """The state was replaced from outside the dynamics."""

    seq: int
    y: FloatArray
    z: FloatArray
    state_digest: bytes
    energy: float


class CheckpointTaken(NamedTuple):
    """The full state and parameters at ``seq``: a point to seek to or start from."""

    seq: int
    spec: RunSpec
    y: FloatArray
    z: FloatArray
    state_digest: bytes
    energy: float


class RunClosed(NamedTuple):
    """The writer closed the log cleanly after ``events`` events."""

    seq: int
    events: int
    run_digest: bytes
    tree_root: bytes | None = None
    """Merkle root of events 0 to ``seq - 1``; None in logs of schema 1."""


Event = StepApplied | ParamsChanged | StateWritten | CheckpointTaken | RunClosed

KIND_OF: dict[type, EventKind] = {  # the record type of each event kind
    RunStarted: EventKind.RUN_STARTED,
    StepApplied: EventKind.STEP_APPLIED,
    ParamsChanged: EventKind.PARAMS_CHANGED,
    StateWritten: EventKind.STATE_WRITTEN,
    CheckpointTaken: EventKind.CHECKPOINT_TAKEN,
    RunClosed: EventKind.RUN_CLOSED,
}


# -- models (JSON form) -------------------------------------------------------

Digest = Annotated[
    str,
    Field(pattern=r"^[0-9a-f]{32}$", description="xxh3-128 digest, 32 hex digits"),
]
TreeRoot = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{64}$",
        description="BLAKE2b-256 Merkle root, 64 hex digits",
    ),
]
AnyDigest = Annotated[
    str,
    Field(
        pattern=r"^([0-9a-f]{32}|[0-9a-f]{64})$",
        description="an xxh3-128 digest (32 hex digits) or a Merkle root (64)",
    ),
]
Vector = list[FiniteFloat]
Matrix = list[list[FiniteFloat]]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunSpecModel(_Model):
    """Oscillator parameters. Floats are written with round-trip precision."""

    scheme: Scheme
    A: Vector
    G: Vector | None
    dt: FiniteFloat | Vector
    B: Vector | Matrix | None
    allow_unstable: bool


class Fingerprint(_Model):
    """Where a log was written. Reported, never required to match."""

    model_config = ConfigDict(extra="allow", frozen=True)

    python: str
    numpy: str
    msgpack: str
    xxhash: str
    platform: str
    machine: str
    simd_baseline: list[str]
    simd_found: list[str]


class RunStartedModel(_Model):
    """The first record of a log."""

    kind: Literal["run_started"] = "run_started"
    format_version: int
    schema_version: int
    library_version: str
    hash_algorithms: list[str]
    spec: RunSpecModel
    y0: Vector
    z0: Vector
    fingerprint: Fingerprint
    genesis: Digest


class StepAppliedModel(_Model):
    """One transition."""

    kind: Literal["step_applied"] = "step_applied"
    seq: NonNegativeInt
    u: FiniteFloat | Vector | None
    dt: FiniteFloat | Vector | None
    state_digest: Digest
    energy_before: FiniteFloat
    energy_after: FiniteFloat
    delta_energy: FiniteFloat
    y: Vector | None = None
    z: Vector | None = None
    digest: Digest


class ParamsChangedModel(_Model):
    """New parameters from the next event on."""

    kind: Literal["params_changed"] = "params_changed"
    seq: NonNegativeInt
    spec: RunSpecModel
    digest: Digest


class StateWrittenModel(_Model):
    """An external state write."""

    kind: Literal["state_written"] = "state_written"
    seq: NonNegativeInt
    y: Vector
    z: Vector
    state_digest: Digest
    energy: FiniteFloat
    digest: Digest


class CheckpointTakenModel(_Model):
    """A full-state checkpoint."""

    kind: Literal["checkpoint_taken"] = "checkpoint_taken"
    seq: NonNegativeInt
    spec: RunSpecModel
    y: Vector
    z: Vector
    state_digest: Digest
    energy: FiniteFloat
    digest: Digest


class RunClosedModel(_Model):
    """The closing record."""

    kind: Literal["run_closed"] = "run_closed"
    seq: NonNegativeInt
    events: NonNegativeInt
    run_digest: Digest
    tree_root: TreeRoot | None = Field(
        default=None, description="Merkle root of the events before; null in schema 1"
    )
    digest: Digest


EventModel = Annotated[
    StepAppliedModel
    | ParamsChangedModel
    | StateWrittenModel
    | CheckpointTakenModel
    | RunClosedModel,
    Field(discriminator="kind"),
]


def _plain(value: Any) -> Any:
    """Arrays to (nested) lists of Python floats; everything else unchanged."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def spec_to_model(spec: RunSpec) -> RunSpecModel:
    """The JSON form of a ``RunSpec``."""
    return RunSpecModel(
        scheme=spec.scheme,
        A=_plain(spec.A),
        G=_plain(spec.G),
        dt=_plain(spec.dt),
        B=_plain(spec.B),
        allow_unstable=spec.allow_unstable,
    )


def header_to_model(
    header: RunStarted, *, format_version: int, genesis: bytes
) -> RunStartedModel:
    """The JSON form of a header (validates it)."""
    return RunStartedModel(
        format_version=format_version,
        schema_version=header.schema_version,
        library_version=header.library_version,
        hash_algorithms=list(header.hash_algorithms),
        spec=spec_to_model(header.spec),
        y0=_plain(header.y0),
        z0=_plain(header.z0),
        fingerprint=Fingerprint.model_validate(header.fingerprint),
        genesis=genesis.hex(),
    )


def record_to_model(record: Event, digest: bytes) -> BaseModel:
    """The JSON form of an event record; ``digest`` is its chain digest."""
    hexd = digest.hex()
    if isinstance(record, StepApplied):
        return StepAppliedModel(
            seq=record.seq,
            u=_plain(record.u),
            dt=_plain(record.dt),
            state_digest=record.state_digest.hex(),
            energy_before=record.energy_before,
            energy_after=record.energy_after,
            delta_energy=record.delta_energy,
            y=_plain(record.y),
            z=_plain(record.z),
            digest=hexd,
        )
    if isinstance(record, ParamsChanged):
        return ParamsChangedModel(
            seq=record.seq, spec=spec_to_model(record.spec), digest=hexd
        )
    if isinstance(record, StateWritten):
        return StateWrittenModel(
            seq=record.seq,
            y=_plain(record.y),
            z=_plain(record.z),
            state_digest=record.state_digest.hex(),
            energy=_plain(record.energy),
            digest=hexd,
        )
    if isinstance(record, CheckpointTaken):
        return CheckpointTakenModel(
            seq=record.seq,
            spec=spec_to_model(record.spec),
            y=_plain(record.y),
            z=_plain(record.z),
            state_digest=record.state_digest.hex(),
            energy=_plain(record.energy),
            digest=hexd,
        )
    return RunClosedModel(
        seq=record.seq,
        events=record.events,
        run_digest=record.run_digest.hex(),
        tree_root=None if record.tree_root is None else record.tree_root.hex(),
        digest=hexd,
    )


def spec_of(oscillator: Oscillator) -> RunSpec:
    """The exact parameters of an ``Oscillator``."""
    dt = oscillator.dt
    return RunSpec(
        scheme=oscillator.scheme,
        A=oscillator.A,
        G=oscillator.G,
        dt=dt if isinstance(dt, float) else np.array(dt),
        B=oscillator.B,
        allow_unstable=oscillator.allow_unstable,
    )


def oscillator_of(spec: RunSpec) -> Oscillator:
    """Rebuild the ``Oscillator`` a ``RunSpec`` describes (validating it again)."""
    return Oscillator(
        spec.A,
        spec.dt,
        G=spec.G,
        mode=spec.scheme,
        B=spec.B,
        allow_unstable=spec.allow_unstable,
    )


# -- verification report ------------------------------------------------------


class FailureCode(str, enum.Enum):
    """Why a verification failed. Stable values: scripts match on them."""

    CHAIN_BROKEN = "chain_broken"
    TREE_ROOT_MISMATCH = "tree_root_mismatch"
    """A Merkle root in the log or in a sealed checkpoint differs from the
    root of the events as read."""
    SEAL_INVALID = "seal_invalid"
    """A sealed checkpoint was not made with the key given, or not for this run."""
    SEAL_MISSING = "seal_missing"
    """A key was given, and the log has no sealed checkpoint to check."""
    STATE_DIVERGED = "state_diverged"
    ENERGY_DIVERGED = "energy_diverged"
    FRAME_CORRUPT = "frame_corrupt"
    LOG_TRUNCATED = "log_truncated"
    UNSUPPORTED_VERSION = "unsupported_version"
    # Differences between two logs (``diff``), beyond the kinds above.
    PARAMS_DIFFER = "params_differ"
    INPUT_DIFFERS = "input_differs"
    EVENT_DIFFERS = "event_differs"
    LENGTH_DIFFERS = "length_differs"


class ValueMismatch(_Model):
    """The first element where a recorded value and the replayed one differ."""

    field: str
    index: int | None = Field(description="flat element index; None for a scalar")
    expected: str = Field(description="recorded value, as an exact hex float")
    actual: str = Field(description="replayed value, as an exact hex float")
    ulps: int = Field(description="distance in units in the last place")


class Failure(_Model):
    """The first failing event of a verification."""

    code: FailureCode
    seq: int = Field(
        description="sequence number of the failing event; -1 for the header"
    )
    offset: int | None = Field(default=None, description="byte offset of its frame")
    message: str
    field: str | None = None
    expected_digest: AnyDigest | None = None
    actual_digest: AnyDigest | None = None
    mismatch: ValueMismatch | None = None


class VerificationReport(_Model):
    """The result of replaying a log against the core."""

    ok: bool
    path: str | None = None
    events_verified: NonNegativeInt
    first_seq: NonNegativeInt = 0
    last_seq: int | None = None
    run_digest: Digest | None = Field(
        default=None, description="chain digest after the last verified event"
    )
    closed: bool = Field(default=False, description="the log ends with run_closed")
    tree_root: TreeRoot | None = Field(
        default=None,
        description="Merkle root of the events verified (when verified from the header)",
    )
    seals_checked: NonNegativeInt = Field(
        default=0, description="sealed checkpoints checked against the tree"
    )
    sealed_events: NonNegativeInt = Field(
        default=0,
        description=(
            "events covered by the largest sealed checkpoint (the rest of an "
            "unclosed log is not sealed)"
        ),
    )
    failure: Failure | None = None


class LogStatus(str, enum.Enum):
    """What became of one log of a collection. Stable values: scripts match on them."""

    VERIFIED = "verified"
    FAILED = "failed"
    """Replayed, and an event failed: the report says which."""
    ERROR = "error"
    """Not verified: missing, not a log, or its verification did not finish."""


class LogVerification(_Model):
    """The verification of one log of a collection."""

    path: str
    status: LogStatus
    report: VerificationReport | None = Field(
        default=None, description="None when the log could not be verified"
    )
    error: str | None = Field(
        default=None, description="why the log could not be verified"
    )
    attempts: int = Field(ge=1, description="1, or more when a worker was lost")
    seconds: float = Field(ge=0, description="time the last attempt took")


class CollectionReport(_Model):
    """The verification of a collection of logs."""

    ok: bool = Field(description="every log verified")
    logs: NonNegativeInt
    verified: NonNegativeInt
    failed: NonNegativeInt
    errors: NonNegativeInt
    events_verified: NonNegativeInt = Field(description="over every log")
    seconds: float = Field(ge=0, description="wall time of the whole collection")
    results: list[LogVerification] = Field(
        description="failed logs first, then errors, then verified; each in input order"
    )


class DiffReport(_Model):
    """The first difference between two logs of the same run."""

    identical: bool = Field(description="same parameters, inputs, states and energies")
    a: str | None = None
    b: str | None = None
    events_compared: NonNegativeInt
    a_run_digest: Digest | None = None
    b_run_digest: Digest | None = None
    difference: Failure | None = None


class EnergySummary(_Model):
    """Energies after each step of a log."""

    first: FiniteFloat
    last: FiniteFloat
    min: FiniteFloat
    max: FiniteFloat


class InspectReport(_Model):
    """What a log holds, read without replaying it."""

    path: str | None = None
    format_version: int
    schema_version: int
    library_version: str
    scheme: Scheme
    oscillators: int
    events: NonNegativeInt
    counts: dict[str, int] = Field(description="events per kind")
    closed: bool
    run_digest: Digest
    final_state_digest: Digest = Field(
        description="state digest after the last event (the initial state's if none)"
    )
    energy: EnergySummary | None = None
    fingerprint: Fingerprint
    failure: Failure | None = Field(
        default=None, description="damage found while reading, if any"
    )


# -- audit documents ----------------------------------------------------------

HexBytes = Annotated[
    str,
    Field(pattern=r"^(?:[0-9a-f]{2})+$", description="bytes as lowercase hex"),
]


class InclusionProof(_Model):
    """Proof that event ``seq``, with these exact bytes, is in a sealed log.

    ``checkpoint`` is the sealed checkpoint text (run id, size, Merkle root,
    seal); ``event`` the event's canonical body; ``state_digest`` the claim
    the event makes about the state (null for events without a state);
    ``path`` the RFC 6962 audit path from the event's leaf to the root.
    """

    format: Literal["linoss-inclusion-proof/1"] = "linoss-inclusion-proof/1"
    checkpoint: str
    seq: NonNegativeInt
    event: HexBytes
    state_digest: Digest | None
    path: list[TreeRoot]


class ConsistencyProof(_Model):
    """Proof that the sealed log of ``old`` is a prefix of the sealed log of ``new``."""

    format: Literal["linoss-consistency-proof/1"] = "linoss-consistency-proof/1"
    old: str = Field(description="sealed checkpoint text of the shorter log")
    new: str = Field(description="sealed checkpoint text of the longer log")
    path: list[TreeRoot]


class ProofCheck(_Model):
    """What checking a proof established."""

    ok: bool
    kind: Literal["inclusion", "consistency"]
    run: TreeRoot
    size: NonNegativeInt = Field(description="events under the (newer) sealed root")
    root: TreeRoot
    sealed: bool = Field(description="the seal was checked with a key")
    seq: int | None = None
    state_digest: Digest | None = None
    old_size: int | None = None
    message: str


class BundleReport(_Model):
    """The result of re-executing an offline bundle."""

    ok: bool
    run: TreeRoot | None = None
    first_seq: int | None = None
    last_seq: int | None = None
    events_verified: NonNegativeInt = 0
    size: int | None = Field(default=None, description="events under the sealed root")
    root: TreeRoot | None = None
    sealed: bool = Field(default=False, description="the seal was checked with a key")
    failure: Failure | None = None
