"""Inclusion and consistency proofs for sealed logs.

An inclusion proof lets an auditor check a claim such as "event 812,331 of run
R says the state digest was H" with a few hundred bytes instead of the log: it
holds the event's canonical body, the RFC 6962 audit path from its leaf to the
Merkle root, and a sealed checkpoint over (run id, size, root). A consistency
proof shows that the sealed log of one size is a prefix of the sealed log of a
larger size: nothing sealed earlier was rewritten later.

Both are JSON (``InclusionProof`` and ``ConsistencyProof``, schemas in
``schemas/``), made from a log with ``prove_inclusion`` / ``prove_consistency``
(``linoss prove``) and checked with ``check_proof`` (``linoss check-proof``).
The sealed checkpoint comes from the log's seals file, or is made afresh when
the prover holds the key. Proofs hold O(log n) hashes: 20 at 10^6 events.

A proof is checked without the log. It proves inclusion, not correctness of
the dynamics: that needs the replay of ``verify`` or of an offline bundle.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from pydantic import ValidationError

from . import codec
from .errors import AuditError, AuditFailedError, LogError
from .events import (
    CheckpointTaken,
    ConsistencyProof,
    InclusionProof,
    ProofCheck,
    StateWritten,
    StepApplied,
)
from .logfile import DEFAULT_MAX_FRAME_BYTES, LogReader
from .merkle import (
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from .seals import Key, SealedCheckpoint, read_seals, run_id, seals_path

__all__ = [
    "check_proof",
    "log_leaves",
    "parse_proof",
    "prove_consistency",
    "prove_inclusion",
    "sealed_checkpoint",
]

Source = str | os.PathLike[str]


def log_leaves(
    source: Source, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
) -> Iterator[bytes]:
    """The leaf hash of each event body of a log, in order (frames and chain checked)."""
    with LogReader(source, max_frame_bytes=max_frame_bytes) as reader:
        for body in reader.bodies():
            yield leaf_hash(body)


class _Tracked:
    """Leaf hashes of a log's first ``size`` events, building their tree and
    keeping the body of event ``keep`` as they go by."""

    def __init__(self, reader: LogReader, size: int, keep: int | None) -> None:
        self.tree = MerkleTree()
        self.kept: bytes | None = None
        # One generator for every pass: a proof reads part of the leaves and
        # ``finish`` the rest.
        self._bodies = enumerate(reader.bodies())
        self._size = size
        self._keep = keep

    def __iter__(self) -> Iterator[bytes]:
        if self.tree.size >= self._size:
            return
        for index, body in self._bodies:
            if index == self._keep:
                self.kept = body
            digest = leaf_hash(body)
            self.tree.append_block(1, digest)
            yield digest
            if index + 1 >= self._size:
                return

    def finish(self) -> bytes:
        """Read the rest of the first ``size`` events; the root of their tree."""
        for _ in self:
            pass
        if self.tree.size < self._size:
            raise AuditError(
                f"the log has {self.tree.size} events; the proof is for a log of "
                f"{self._size}",
                argument="size",
            )
        return self.tree.root()


def _log_run(reader: LogReader) -> bytes:
    header = reader.header
    return run_id(header.spec, header.y0, header.z0)


def _count(source: Source, max_frame_bytes: int) -> int:
    with LogReader(source, max_frame_bytes=max_frame_bytes) as reader:
        return sum(1 for _ in reader.scan())


def sealed_checkpoint(
    source: Source,
    *,
    covering: int,
    size: int | None = None,
    key: Key | None = None,
    seals: Source | None = None,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
) -> SealedCheckpoint:
    """A sealed checkpoint of the log covering at least ``covering`` events.

    With a key: a fresh seal at ``size`` (default: every event of the log).
    Without one: from the seals file, the one of ``size`` or else the smallest
    that covers ``covering`` events.

    Raises:
        AuditError: no seal fits and no key was given, or the log does not have
            the root its seal claims.
    """
    if key is not None:
        target = size if size is not None else _count(source, max_frame_bytes)
        if target < covering:
            raise AuditError(
                f"size must cover {covering} events; got {target}", argument="size"
            )
        with LogReader(source, max_frame_bytes=max_frame_bytes) as reader:
            tracked = _Tracked(reader, target, None)
            root = tracked.finish()
            return SealedCheckpoint.make(_log_run(reader), target, root, key)
    name = seals_path(source) if seals is None else os.fspath(seals)
    if not os.path.exists(name):
        raise AuditError(
            f"no seals file {name}: pass the seal key to seal the log now",
            argument="seals",
        )
    found = [
        c
        for c in read_seals(name)
        if c.size >= covering and (size is None or c.size == size)
    ]
    if not found:
        wanted = f"of size {size}" if size is not None else f"covering {covering}"
        raise AuditError(
            f"{name} holds no sealed checkpoint {wanted} events: pass the seal key "
            "to seal the log now",
            argument="size",
        )
    return min(found, key=lambda c: c.size)


def prove_inclusion(
    source: Source,
    seq: int,
    *,
    size: int | None = None,
    key: Key | None = None,
    seals: Source | None = None,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
) -> InclusionProof:
    """The inclusion proof of event ``seq`` under a sealed checkpoint (see
    ``sealed_checkpoint`` for which one).

    Raises:
        AuditError: no seal covers the event, or the log does not match it.
        LogError: the log cannot be read.
    """
    checkpoint = sealed_checkpoint(
        source,
        covering=seq + 1,
        size=size,
        key=key,
        seals=seals,
        max_frame_bytes=max_frame_bytes,
    )
    with LogReader(source, max_frame_bytes=max_frame_bytes) as reader:
        _same_run(checkpoint, _log_run(reader))
        tracked = _Tracked(reader, checkpoint.size, seq)
        path = inclusion_proof(iter(tracked), seq, checkpoint.size)
        root = tracked.finish()
        _same_root(checkpoint, root)
        assert tracked.kept is not None
        body = tracked.kept
        try:
            record = codec.decode_event(body, reader.header.schema_version)
        except codec.BodyError as exc:
            raise LogError(f"event seq {seq}: {exc}", seq=seq) from None
    return InclusionProof(
        checkpoint=checkpoint.text(),
        seq=seq,
        event=body.hex(),
        state_digest=_state_digest(record),
        path=[p.hex() for p in path],
    )


def prove_consistency(
    source: Source,
    old_size: int,
    *,
    size: int | None = None,
    key: Key | None = None,
    seals: Source | None = None,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
) -> ConsistencyProof:
    """The proof that the log's first ``old_size`` events, as sealed, are a
    prefix of its first ``size`` (default: all, or the largest seal).

    Raises:
        AuditError: no seal fits, or the log does not match its seals.
    """
    if old_size < 1:
        raise AuditError(
            f"old_size must be at least 1; got {old_size}", argument="old_size"
        )
    old = sealed_checkpoint(
        source, covering=old_size, size=old_size, key=key, seals=seals,
        max_frame_bytes=max_frame_bytes,
    )  # fmt: skip
    if size is None and key is None:
        name = seals_path(source) if seals is None else os.fspath(seals)
        size = max(c.size for c in read_seals(name))
    new = sealed_checkpoint(
        source, covering=old_size, size=size, key=key, seals=seals,
        max_frame_bytes=max_frame_bytes,
    )  # fmt: skip
    with LogReader(source, max_frame_bytes=max_frame_bytes) as reader:
        run = _log_run(reader)
        _same_run(old, run)
        _same_run(new, run)
        tracked = _Tracked(reader, new.size, None)
        path = consistency_proof(iter(tracked), old.size, new.size)
        _same_root(new, tracked.finish())
    return ConsistencyProof(
        old=old.text(), new=new.text(), path=[p.hex() for p in path]
    )


def _same_run(checkpoint: SealedCheckpoint, run: bytes) -> None:
    if checkpoint.run != run:
        raise AuditFailedError(
            f"the sealed checkpoint is for run {checkpoint.run.hex()}; the log is run "
            f"{run.hex()}",
            argument="checkpoint",
        )


def _same_root(checkpoint: SealedCheckpoint, root: bytes) -> None:
    if checkpoint.root != root:
        raise AuditFailedError(
            f"the log's first {checkpoint.size} events have Merkle root {root.hex()}; "
            f"their sealed checkpoint says {checkpoint.root.hex()}: the log was "
            "changed after it was sealed",
            argument="checkpoint",
        )


def _state_digest(record: object) -> str | None:
    if isinstance(record, (StepApplied, CheckpointTaken, StateWritten)):
        return record.state_digest.hex()
    return None


def parse_proof(text: str | bytes) -> InclusionProof | ConsistencyProof:
    """Read a proof's JSON; anything that is not one is an ``AuditError``."""
    errors = []
    for model in (InclusionProof, ConsistencyProof):
        try:
            return model.model_validate_json(text, strict=True)
        except ValidationError as exc:
            errors.append(f"{model.__name__}: {exc.error_count()} error(s), first: "
                          f"{exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}")  # fmt: skip
    raise AuditError(
        "not a proof (neither an inclusion nor a consistency proof of `linoss "
        f"prove`): {'; '.join(errors)}",
        argument="proof",
    )


def check_proof(
    proof: InclusionProof | ConsistencyProof, *, key: Key | None = None
) -> ProofCheck:
    """Check a proof without the log; with ``key``, also its seal(s).

    Returns the ``ProofCheck`` of a proof that holds.

    Raises:
        AuditError: the proof does not hold (the message says which part).
    """
    if isinstance(proof, InclusionProof):
        return _check_inclusion(proof, key)
    return _check_consistency(proof, key)


def _checkpoint(text: str, key: Key | None) -> SealedCheckpoint:
    checkpoint = SealedCheckpoint.parse(text)
    if key is not None:
        checkpoint.check(key)
    return checkpoint


def _check_inclusion(proof: InclusionProof, key: Key | None) -> ProofCheck:
    checkpoint = _checkpoint(proof.checkpoint, key)
    body = bytes.fromhex(proof.event)
    try:
        record = codec.decode_event(body)
    except codec.BodyError as exc:
        raise AuditFailedError(
            f"the proof's event is not a canonical event: {exc}"
        ) from None
    if record.seq != proof.seq:
        raise AuditFailedError(
            f"the proof is for seq {proof.seq}; its event is seq {record.seq}",
            argument="seq",
        )
    if _state_digest(record) != proof.state_digest:
        raise AuditFailedError(
            f"the proof claims state digest {proof.state_digest}; its event holds "
            f"{_state_digest(record)}",
            argument="state_digest",
        )
    path = [bytes.fromhex(p) for p in proof.path]
    if not verify_inclusion(
        leaf_hash(body), proof.seq, checkpoint.size, path, checkpoint.root
    ):
        raise AuditFailedError(
            f"the audit path does not lead from event {proof.seq} to the sealed root "
            f"{checkpoint.root.hex()} of {checkpoint.size} events",
            argument="path",
        )
    sealed = key is not None
    return ProofCheck(
        ok=True,
        kind="inclusion",
        run=checkpoint.run.hex(),
        size=checkpoint.size,
        root=checkpoint.root.hex(),
        sealed=sealed,
        seq=proof.seq,
        state_digest=proof.state_digest,
        message=(
            f"event {proof.seq} is in the first {checkpoint.size} events of run "
            f"{checkpoint.run.hex()}"
            + ("" if proof.state_digest is None else f", state digest {proof.state_digest}")
            + ("; sealed with key " + checkpoint.key_id if sealed else "; seal NOT checked (no key)")
        ),
    )  # fmt: skip


def _check_consistency(proof: ConsistencyProof, key: Key | None) -> ProofCheck:
    old = _checkpoint(proof.old, key)
    new = _checkpoint(proof.new, key)
    if old.run != new.run:
        raise AuditFailedError(
            f"the checkpoints are of two runs ({old.run.hex()}, {new.run.hex()})",
            argument="checkpoint",
        )
    path = [bytes.fromhex(p) for p in proof.path]
    if not verify_consistency(old.size, new.size, old.root, new.root, path):
        raise AuditFailedError(
            f"the proof does not show the {old.size} sealed events to be a prefix of "
            f"the {new.size}: the log was rewritten between the two seals",
            argument="path",
        )
    sealed = key is not None
    return ProofCheck(
        ok=True,
        kind="consistency",
        run=new.run.hex(),
        size=new.size,
        root=new.root.hex(),
        sealed=sealed,
        old_size=old.size,
        message=(
            f"the first {old.size} events of run {new.run.hex()} are a prefix of its "
            f"first {new.size}"
            + ("; both sealed with key " + new.key_id if sealed else "; seals NOT checked (no key)")
        ),
    )  # fmt: skip
