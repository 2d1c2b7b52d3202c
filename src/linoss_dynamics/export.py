"""Logs as JSON Lines, and the JSON Schemas of every model.

The export is one JSON object per line: the header first, then each event in
order, each the ``model_dump_json`` of its pydantic model (floats written with
the shortest representation that reads back to the same float64, digests as
hex). Every line validates against the schema of its model in ``schemas/``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from .conformance import ConformanceIndex, ConformanceReport
from .errors import LogFormatError
from .events import (
    BundleReport,
    CheckpointTakenModel,
    CollectionReport,
    ConsistencyProof,
    DiffReport,
    EventModel,
    InclusionProof,
    InspectReport,
    ParamsChangedModel,
    ProofCheck,
    RunClosedModel,
    RunStartedModel,
    StateWrittenModel,
    StepAppliedModel,
    VerificationReport,
    record_to_model,
)
from .logfile import LogReader

__all__ = [
    "export_jsonl",
    "iter_models",
    "json_schemas",
    "stale_schemas",
    "write_schemas",
]


def iter_models(
    source: str | os.PathLike[str] | bytes | IO[bytes],
) -> Iterator[BaseModel]:
    """The header model, then one model per event, validated as they are built."""
    with LogReader(source) as reader:
        try:
            yield reader.header_model
            for record in reader:
                yield record_to_model(record, reader.digest)
        except ValidationError as exc:
            raise LogFormatError(
                f"event seq {reader.seq} does not fit its model: {exc}",
                path=reader.path,
                seq=reader.seq,
                offset=reader.offset,
            ) from None


def export_jsonl(
    source: str | os.PathLike[str] | bytes | IO[bytes], out: IO[str]
) -> int:
    """Write a log as JSON Lines to ``out``; returns the number of lines."""
    lines = 0
    for model in iter_models(source):
        out.write(model.model_dump_json())
        out.write("\n")
        lines += 1
    return lines


_SCHEMAS: dict[str, Any] = {
    "run_started": RunStartedModel,
    "step_applied": StepAppliedModel,
    "params_changed": ParamsChangedModel,
    "state_written": StateWrittenModel,
    "checkpoint_taken": CheckpointTakenModel,
    "run_closed": RunClosedModel,
    "event": TypeAdapter(EventModel),
    "verification_report": VerificationReport,
    "diff_report": DiffReport,
    "inspect_report": InspectReport,
    "collection_report": CollectionReport,
    "inclusion_proof": InclusionProof,
    "consistency_proof": ConsistencyProof,
    "proof_check": ProofCheck,
    "bundle_report": BundleReport,
    "conformance_index": ConformanceIndex,
    "conformance_report": ConformanceReport,
}


def json_schemas() -> dict[str, str]:
    """File name -> JSON text of each model's JSON Schema."""
    result = {}
    for name, model in _SCHEMAS.items():
        schema = (
            model.json_schema()
            if isinstance(model, TypeAdapter)
            else model.model_json_schema()
        )
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://linoss-dynamics.invalid/schemas/{name}.schema.json",
            **schema,
        }
        result[f"{name}.schema.json"] = (
            json.dumps(schema, indent=2, sort_keys=True) + "\n"
        )
    return result


def write_schemas(directory: str | os.PathLike[str]) -> list[str]:
    """Write every schema into ``directory``; returns the files written."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in json_schemas().items():
        (folder / name).write_text(text, encoding="utf-8")
        written.append(name)
    return written


def stale_schemas(directory: str | os.PathLike[str]) -> list[str]:
    """Schema files in ``directory`` that are missing or differ from the models."""
    folder = Path(directory)
    stale = []
    for name, text in json_schemas().items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale
