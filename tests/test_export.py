"""JSON Lines export and the JSON Schemas in ``schemas/``.

Every exported line is checked with the ``jsonschema`` library against the
schema files in the repository (Draft 2020-12), and every float in it is
compared bit for bit with the float64 the log holds.
"""

from __future__ import annotations

import functools
import io
import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import logs
import numpy as np
import pytest
from hypothesis import given
from logs import finite_floats, float_arrays, record, small_log

from linoss_dynamics import codec, events, export
from linoss_dynamics.errors import LogCorruptError

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = REPO_ROOT / "schemas"
HEX_DIGEST = r"^[0-9a-f]{32}$"


@functools.cache
def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def export_lines(data: bytes) -> list[dict[str, Any]]:
    out = io.StringIO()
    count = export.export_jsonl(data, out)
    text = out.getvalue()
    assert text.endswith("\n")
    lines = text.splitlines()
    assert count == len(lines)
    return [json.loads(line) for line in lines]


def same_float(actual: Any, expected: float) -> bool:
    return type(actual) is float and struct.pack("<d", actual) == struct.pack(
        "<d", expected
    )


def assert_same_numbers(actual: Any, expected: Any, where: str) -> None:
    """JSON numbers (or nested lists of them) equal to the log's float64 values."""
    if expected is None:
        assert actual is None, where
    elif isinstance(expected, np.ndarray):
        values = np.array(actual, dtype=np.float64)
        assert values.shape == expected.shape, where
        assert values.tobytes() == expected.tobytes(), where
        flat = np.array(actual, dtype=object).reshape(-1)
        assert all(type(v) is float for v in flat), where
    else:
        assert same_float(actual, expected), (where, actual, expected)


def assert_spec(actual: dict[str, Any], spec: events.RunSpec, where: str) -> None:
    assert actual["scheme"] == spec.scheme.value
    assert actual["allow_unstable"] is spec.allow_unstable
    for name in ("A", "G", "dt", "B"):
        assert_same_numbers(actual[name], getattr(spec, name), f"{where}.spec.{name}")


def assert_line_matches(line: dict[str, Any], event: Any, digest: bytes) -> None:
    """One exported event against its record and chain digest."""
    kind = events.KIND_OF[type(event)].json_name
    assert line["kind"] == kind
    assert line["seq"] == event.seq
    assert line["digest"] == digest.hex()
    for field in ("u", "dt", "y", "z", "energy_before", "energy_after"):
        if field in event._fields:
            assert_same_numbers(line[field], getattr(event, field), f"{kind}.{field}")
    for field in ("delta_energy", "energy"):
        if field in event._fields:
            assert_same_numbers(line[field], getattr(event, field), f"{kind}.{field}")
    if "spec" in event._fields:
        assert_spec(line["spec"], event.spec, kind)
    if "state_digest" in event._fields:
        assert line["state_digest"] == event.state_digest.hex()
    if isinstance(event, events.RunClosed):
        assert line["events"] == event.events
        assert line["run_digest"] == event.run_digest.hex()
        root = event.tree_root
        assert line["tree_root"] == (None if root is None else root.hex())


class TestExportJsonl:
    def test_lines_validate_against_the_schema_files(self):
        log = small_log()

        lines = export_lines(log.data)

        validator("run_started").validate(lines[0])
        for line in lines[1:]:
            validator("event").validate(line)
            validator(line["kind"]).validate(line)

    def test_header_line(self):
        log = small_log()

        header = export_lines(log.data)[0]

        assert header["kind"] == "run_started"
        assert header["format_version"] == codec.FORMAT_VERSION
        assert header["schema_version"] == codec.SCHEMA_VERSION
        assert header["library_version"] == log.header.library_version
        assert header["hash_algorithms"] == list(codec.HASH_ALGORITHMS)
        assert header["genesis"] == log.genesis.hex()
        assert header["fingerprint"] == log.header.fingerprint
        assert_same_numbers(header["y0"], log.header.y0, "y0")
        assert_same_numbers(header["z0"], log.header.z0, "z0")
        assert_spec(header["spec"], log.header.spec, "header")

    def test_event_lines_carry_the_exact_values_and_digests(self):
        log = small_log()

        lines = export_lines(log.data)[1:]

        assert [line["kind"] for line in lines] == [
            events.KIND_OF[type(e)].json_name for e in log.events
        ]
        for line, event, digest in zip(lines, log.events, log.digests, strict=True):
            assert_line_matches(line, event, digest)
        assert lines[-1]["digest"] == log.run_digest.hex()

    def test_digests_are_lowercase_hex(self):
        log = small_log()

        lines = export_lines(log.data)

        digests = [lines[0]["genesis"]]
        for line in lines[1:]:
            digests += [
                line[k] for k in ("digest", "state_digest", "run_digest") if k in line
            ]
        assert len(digests) > len(lines)
        for digest in digests:
            assert len(digest) == 32
            assert digest == digest.lower()
            int(digest, 16)

    @given(float_arrays(logs.P), float_arrays(logs.P), finite_floats)
    def test_any_finite_float64_round_trips(self, y, z, energy):
        osc = logs.bank()
        y0, z0 = logs.initial_state()
        written = events.StateWritten(0, y, z, codec.state_digest(y, z), energy)
        log = record(logs.header(osc, y0, z0), [written])

        line = export_lines(log.data)[1]

        validator("state_written").validate(line)
        assert_same_numbers(line["y"], y, "y")
        assert_same_numbers(line["z"], z, "z")
        assert_same_numbers(line["energy"], energy, "energy")

    def test_extreme_values_are_written_as_shortest_round_trip_numbers(self):
        values = np.array([-0.0, 5e-324, 1.7976931348623157e308, 0.1])
        osc = logs.bank()
        y0, z0 = logs.initial_state()
        written = events.StateWritten(0, values, values, bytes(16), 0.1)
        log = record(logs.header(osc, y0, z0), [written])
        out = io.StringIO()

        export.export_jsonl(log.data, out)

        text = out.getvalue().splitlines()[1]
        assert json.loads(text)["y"] == [-0.0, 5e-324, 1.7976931348623157e308, 0.1]
        assert str(json.loads(text)["y"][0]) == "-0.0"
        assert '"energy":0.1' in text.replace(" ", "")

    def test_iter_models_raises_after_the_intact_events(self):
        log = small_log()
        start, _ = log.event_span(3)
        damaged = bytearray(log.data)
        damaged[start + 30] ^= 1
        models = []

        with pytest.raises(LogCorruptError) as info:
            models.extend(export.iter_models(bytes(damaged)))

        assert len(models) == 4
        assert (info.value.seq, info.value.offset) == (3, start)


class TestSchemas:
    def test_schema_files_are_current(self):
        stale = export.stale_schemas(SCHEMAS)

        assert stale == []

    def test_schema_files_are_current_from_the_repo_root(self, monkeypatch):
        monkeypatch.chdir(REPO_ROOT)

        stale = export.stale_schemas("schemas")

        assert stale == []

    def test_every_model_has_a_file(self):
        names = set(export.json_schemas())

        assert {"run_started.schema.json", "event.schema.json"} <= names
        assert names <= {path.name for path in SCHEMAS.glob("*.schema.json")}

    @pytest.mark.parametrize("name", sorted(export.json_schemas()))
    def test_each_is_a_draft_2020_12_schema(self, name):
        schema = json.loads(export.json_schemas()[name])

        jsonschema.Draft202012Validator.check_schema(schema)

        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"].endswith(f"/schemas/{name}")

    def test_write_then_check(self, tmp_path):
        written = export.write_schemas(tmp_path)

        stale_fresh = export.stale_schemas(tmp_path)
        (tmp_path / "event.schema.json").write_text("{}\n", encoding="utf-8")
        (tmp_path / "run_closed.schema.json").unlink()
        stale_after = export.stale_schemas(tmp_path)

        assert sorted(written) == sorted(export.json_schemas())
        assert stale_fresh == []
        assert sorted(stale_after) == ["event.schema.json", "run_closed.schema.json"]

    def test_written_files_equal_the_repository_files(self, tmp_path):
        export.write_schemas(tmp_path)

        for path in tmp_path.iterdir():
            assert path.read_bytes() == (SCHEMAS / path.name).read_bytes(), path.name

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("state_digest", "ABCDEF"),
            ("state_digest", "0" * 31),
            ("energy_before", "1.0"),
            ("seq", -1),
            ("kind", "step_skipped"),
            ("extra", 1),
        ],
    )
    def test_the_event_schema_refuses_malformed_lines(self, field, value):
        line = export_lines(small_log().data)[1]
        line[field] = value

        with pytest.raises(jsonschema.ValidationError):
            validator("event").validate(line)

    def test_the_header_schema_requires_the_genesis(self):
        line = export_lines(small_log().data)[0]
        del line["genesis"]

        with pytest.raises(jsonschema.ValidationError, match="'genesis' is a required"):
            validator("run_started").validate(line)


# -- the command line ------------------------------------------------------------------


def linoss(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "linoss_dynamics", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )


class TestCommandLine:
    def test_schema_check(self):
        result = linoss("schema", "--check")

        assert result.returncode == 0, result.stderr
        assert result.stdout == "schemas in schemas match the models\n"

    def test_schema_check_of_a_stale_directory(self, tmp_path):
        export.write_schemas(tmp_path)
        (tmp_path / "step_applied.schema.json").write_text("{}\n", encoding="utf-8")

        result = linoss("schema", "--check", "--out", str(tmp_path))

        assert result.returncode == 1
        assert "step_applied.schema.json" in result.stderr

    def test_export_jsonl_to_stdout_and_to_a_file(self, tmp_path):
        log = small_log()
        path = logs.write_file(tmp_path / "run.log", log)
        expected = io.StringIO()
        export.export_jsonl(log.data, expected)
        out = tmp_path / "run.jsonl"

        to_stdout = linoss("export", str(path), "--jsonl")
        to_file = linoss("export", str(path), "--jsonl", "--out", str(out))

        assert to_stdout.returncode == 0, to_stdout.stderr
        assert to_stdout.stdout == expected.getvalue()
        assert to_file.returncode == 0, to_file.stderr
        assert out.read_text(encoding="utf-8") == expected.getvalue()
        assert f"lines to {out}" in to_file.stdout
