"""The golden logs in fixtures/logs/: they verify, and recording them again gives them back.

The logs were recorded once and committed with their run digests in
``index.json``. Recording each scenario again must give the same run digest
and the same event frames byte for byte (only the header's environment
fingerprint may differ), so a change to one bit of the dynamics, the energy or
the encoding fails here. The logs are in event schema version 1 and must keep
reading as such.
"""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType

import logs
import pytest

from linoss_dynamics import LogReader, Scheme, codec, summarize, verify
from linoss_dynamics.events import (
    CheckpointTaken,
    ParamsChanged,
    StateWritten,
    StepApplied,
)

FIXTURES = logs.REPO_ROOT / "fixtures"
LOGS = FIXTURES / "logs"
INDEX = json.loads((LOGS / "index.json").read_text(encoding="utf-8"))
NAMES = sorted(INDEX)


def load_scenarios() -> ModuleType:
    """fixtures/scenarios.py, imported by path (fixtures/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "linoss_fixture_scenarios", FIXTURES / "scenarios.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scenarios = load_scenarios()


def path_of(name: str) -> Path:
    return LOGS / INDEX[name]["file"]


def test_index_lists_every_scenario_and_every_log():
    files = sorted(p.name for p in LOGS.glob("*.log"))

    assert sorted(scenarios.SCENARIOS) == NAMES
    assert sorted(entry["file"] for entry in INDEX.values()) == files
    assert all(INDEX[name]["file"] == f"{name}.log" for name in NAMES)


def test_scenarios_cover_every_scheme():
    with_schemes = {summarize(path_of(name)).scheme for name in NAMES}

    assert with_schemes == set(Scheme)


@pytest.mark.parametrize("name", NAMES)
class TestGoldenLog:
    def test_verifies_with_the_indexed_run_digest(self, name):
        report = verify(path_of(name))

        assert report.ok, report.failure
        assert report.closed
        assert report.run_digest == INDEX[name]["run_digest"]

    def test_is_schema_version_1(self, name):
        data = path_of(name).read_bytes()

        with LogReader(data) as reader:
            header, model = reader.header, reader.header_model

        assert data[:8] == b"\x89LINOSS\x01"
        assert header.schema_version == 1
        assert model.schema_version == 1
        assert model.format_version == 1
        assert summarize(data).schema_version == 1

    def test_recording_again_gives_the_same_run(self, name):
        buffer = io.BytesIO()
        committed = path_of(name).read_bytes()

        digest = scenarios.record(name, buffer)

        assert digest.hex() == INDEX[name]["run_digest"]
        again = buffer.getvalue()
        # Event frames are the same bytes; the header may hold another fingerprint.
        assert (
            again[logs.frame_spans(again)[0][1] :]
            == (committed[logs.frame_spans(committed)[0][1] :])
        )
        with LogReader(again) as fresh, LogReader(committed) as golden:
            assert fresh.genesis == golden.genesis
            assert fresh.header.spec.scheme is golden.header.spec.scheme

    def test_holds_every_kind_of_event(self, name):
        with LogReader(path_of(name)) as reader:
            records = list(reader)
        kinds = [type(record) for record in records]

        assert kinds.count(StepApplied) == scenarios.STEPS
        assert kinds.count(ParamsChanged) == 1
        assert kinds.count(StateWritten) == 1
        assert kinds.count(CheckpointTaken) == scenarios.STEPS // 10
        assert any(type(r) is StepApplied and r.dt is not None for r in records)
        full = [r.y is not None for r in records if type(r) is StepApplied]
        expected_full = scenarios.SCENARIOS[name].get("full_state", False)
        assert full == [expected_full] * scenarios.STEPS

    def test_declared_hash_algorithms(self, name):
        with LogReader(path_of(name)) as reader:
            algorithms = reader.header.hash_algorithms

        assert tuple(algorithms) == codec.HASH_ALGORITHMS == ("xxh3-128", "xxh3-64")
