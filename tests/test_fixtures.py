"""The golden logs in fixtures/logs/: they verify, and recording them again gives them back.

The logs were recorded once and committed with their run digests in
``index.json``. Recording each scenario again must give the same run digest
and the same event frames byte for byte (only the header's environment
fingerprint may differ), so a change to one bit of the dynamics, the energy or
the encoding fails here. The logs are in event schema version 2: their
closing records carry the Merkle root of the events, and each is sealed with
the public test key ``fixtures/logs/fixture-seal.key`` into ``<log>.seals``;
recording again must give the same roots and the same seals text byte for
byte. (The same scenarios in schema 1 are in ``fixtures/schema1/``; see
test_schema_evolution.py.)
"""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType

import logs
import pytest

from linoss_dynamics import (
    LogReader,
    Scheme,
    SealKey,
    codec,
    read_seals,
    summarize,
    verify,
)
from linoss_dynamics.events import (
    CheckpointTaken,
    ParamsChanged,
    RunClosed,
    StateWritten,
    StepApplied,
)
from linoss_dynamics.merkle import MerkleTree

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


def seals_of(name: str) -> Path:
    return LOGS / f"{INDEX[name]['file']}.seals"


def root_of(bodies: list[bytes]) -> bytes:
    tree = MerkleTree()
    for body in bodies:
        tree.append(body)
    return tree.root()


def test_index_lists_every_scenario_and_every_log():
    files = sorted(p.name for p in LOGS.glob("*.log"))
    sealed = sorted(p.name for p in LOGS.glob("*.log.seals"))

    assert sorted(scenarios.SCENARIOS) == NAMES
    assert sorted(entry["file"] for entry in INDEX.values()) == files
    assert all(INDEX[name]["file"] == f"{name}.log" for name in NAMES)
    assert sealed == [f"{file}.seals" for file in files]


def test_the_fixture_key_is_the_one_the_scenarios_seal_with():
    key = SealKey.from_file(LOGS / "fixture-seal.key")

    ids = {seal.key_id for name in NAMES for seal in read_seals(seals_of(name))}

    assert scenarios.fixture_key().key_id == key.key_id
    assert ids == {key.key_id}


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

    def test_is_schema_version_2(self, name):
        data = path_of(name).read_bytes()

        with LogReader(data) as reader:
            header, model = reader.header, reader.header_model

        assert data[:8] == b"\x89LINOSS\x01"
        assert header.schema_version == 2 == codec.SCHEMA_VERSION
        assert model.schema_version == 2
        assert model.format_version == 1
        assert summarize(data).schema_version == 2

    def test_closing_record_holds_the_root_of_the_events_before_it(self, name):
        with LogReader(path_of(name)) as reader:
            bodies = list(reader.bodies())
        closing = codec.decode_event(bodies[-1])

        assert type(closing) is RunClosed
        assert closing.seq == len(bodies) - 1
        assert closing.tree_root == root_of(bodies[:-1])

    def test_verifies_with_the_fixture_key(self, name):
        key = scenarios.fixture_key()
        seals = read_seals(seals_of(name))

        report = verify(path_of(name), key=key)

        assert report.ok, report.failure
        assert report.run_digest == INDEX[name]["run_digest"]
        assert len(seals) == scenarios.STEPS // 10 + 1
        assert report.seals_checked == len(seals)
        # The last seal, made on close, covers every event, the closing one too.
        assert seals[-1].size == report.events_verified
        assert seals[-1].root.hex() == report.tree_root

    def test_recording_again_gives_the_same_run(self, name):
        buffer = io.BytesIO()
        seals = io.StringIO()
        committed = path_of(name).read_bytes()

        digest = scenarios.record(name, buffer, seals=seals)

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
            fresh_bodies, golden_bodies = list(fresh.bodies()), list(golden.bodies())
        assert root_of(fresh_bodies) == root_of(golden_bodies)
        assert verify(again).tree_root == verify(committed).tree_root
        # The seals cover only the run, never the machine: the same text.
        assert seals.getvalue() == seals_of(name).read_text(encoding="ascii")

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
