"""``summarize``: what a log holds, read in one streaming pass without replaying it."""

from __future__ import annotations

import math
import os
from typing import IO

from . import codec
from .errors import LogError
from .events import (
    KIND_OF,
    CheckpointTaken,
    EnergySummary,
    InspectReport,
    RunClosed,
    StateWritten,
    StepApplied,
)
from .logfile import DEFAULT_MAX_FRAME_BYTES, LogReader
from .verify import failure_of

__all__ = ["summarize"]


def summarize(
    source: str | os.PathLike[str] | bytes | IO[bytes],
    *,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
) -> InspectReport:
    """Header, fingerprint, event counts, energies, run and final state digests.

    Damage found on the way ends the pass; the report then covers the events
    before it and names the failure. Nothing is replayed: use ``verify`` to
    check that the recorded values are right.

    Raises:
        LogFormatError: the source cannot be opened or is not a run log.
    """
    path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
    with LogReader(source, max_frame_bytes=max_frame_bytes) as reader:
        header = reader.header
        counts: dict[str, int] = {}
        state_digest = codec.state_digest(header.y0, header.z0)
        first = last = None
        low, high = math.inf, -math.inf
        closed = False
        failure = None
        events = 0
        try:
            for record in reader:
                events += 1
                kind = KIND_OF[type(record)].json_name
                counts[kind] = counts.get(kind, 0) + 1
                closed = type(record) is RunClosed
                if type(record) is StepApplied:
                    energy = record.energy_after
                    first = record.energy_before if first is None else first
                    last = energy
                    low = min(low, record.energy_before)
                    high = max(high, record.energy_before)
                    low, high = min(low, energy), max(high, energy)
                    state_digest = record.state_digest
                elif type(record) in (CheckpointTaken, StateWritten):
                    state_digest = record.state_digest  # type: ignore[union-attr]
        except LogError as exc:
            failure = failure_of(exc)
        model = reader.header_model
        return InspectReport(
            path=path,
            format_version=model.format_version,
            schema_version=header.schema_version,
            library_version=header.library_version,
            scheme=header.spec.scheme,
            oscillators=int(header.spec.A.shape[0]),
            events=events,
            counts=counts,
            closed=closed,
            run_digest=reader.digest.hex(),
            final_state_digest=state_digest.hex(),
            energy=None
            if first is None or last is None
            else EnergySummary(first=first, last=last, min=low, max=high),
            fingerprint=model.fingerprint,
            failure=failure,
        )
