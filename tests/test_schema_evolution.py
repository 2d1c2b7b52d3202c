"""Old logs stay readable: the upcasting path, exercised on the schema-1 fixtures.

The fixtures under fixtures/logs/ were written in event schema 1. These tests
pretend the library has moved on to schema 2 (with an upcaster from 1 to 2) and
check that the fixtures are then read through it, event by event, and still
verify; and that without an upcaster they are refused with a clear error.
"""

from pathlib import Path

import pytest

from linoss_dynamics import LogReader, UnsupportedVersionError, codec, verify

LOGS = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "logs").glob("*.log"))


@pytest.fixture
def schema_two(monkeypatch):
    calls = []

    def one_to_two(event):
        calls.append(event[0])
        return list(event)  # schema 2 keeps schema 1's layouts in this rehearsal

    monkeypatch.setattr(codec, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(codec.UPCASTERS, 1, one_to_two)
    return calls


@pytest.mark.parametrize("path", LOGS, ids=[p.stem for p in LOGS])
def test_a_schema_one_log_is_read_through_the_upcaster(path, schema_two):
    with LogReader(path) as reader:
        events = list(reader)

    assert reader.header.schema_version == 1
    assert len(schema_two) == len(events)
    assert verify(path).ok


@pytest.mark.parametrize("path", LOGS[:1], ids=[p.stem for p in LOGS[:1]])
def test_a_schema_without_an_upcaster_is_refused(path, monkeypatch):
    monkeypatch.setattr(codec, "SCHEMA_VERSION", 2)

    with pytest.raises(UnsupportedVersionError, match="event schema version 1"):
        LogReader(path)


def test_there_are_schema_one_fixtures():
    assert len(LOGS) >= 6
