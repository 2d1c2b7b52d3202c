"""Old logs stay readable: the schema-1 fixtures, read through the real upcaster.

The logs under fixtures/schema1/ were written in event schema 1, before closing
records carried a Merkle root. The library is at schema 2, and reads them
through ``codec.UPCASTERS[1]``, event by event: they verify with the run
digests recorded when they were written, and their closing records read with
a nil ``tree_root``. A reader without that upcaster refuses them, as it
refuses a schema newer than its own.
"""

import json
from pathlib import Path

import logs
import pytest

from linoss_dynamics import LogReader, UnsupportedVersionError, codec, verify
from linoss_dynamics.events import RunClosed

SCHEMA1 = Path(__file__).resolve().parents[1] / "fixtures" / "schema1"
INDEX = json.loads((SCHEMA1 / "index.json").read_text(encoding="utf-8"))
NAMES = sorted(INDEX)


def path_of(name: str) -> Path:
    return SCHEMA1 / INDEX[name]["file"]


def test_there_are_schema_one_fixtures():
    files = sorted(p.name for p in SCHEMA1.glob("*.log"))

    assert len(NAMES) >= 6
    assert sorted(entry["file"] for entry in INDEX.values()) == files


@pytest.mark.parametrize("name", NAMES)
def test_a_schema_one_log_is_read_through_the_upcaster(name, monkeypatch):
    real = codec.UPCASTERS[1]
    codes = []

    def counted(event):
        codes.append(event[0])
        return real(event)

    monkeypatch.setitem(codec.UPCASTERS, 1, counted)

    with LogReader(path_of(name)) as reader:
        records = list(reader)

    assert reader.header.schema_version == 1
    assert codec.SCHEMA_VERSION == 2
    assert len(codes) == len(records)
    assert codes[-1] == 5


@pytest.mark.parametrize("name", NAMES)
def test_a_schema_one_log_verifies_with_its_run_digest(name):
    report = verify(path_of(name))

    assert report.ok, report.failure
    assert report.closed
    assert report.run_digest == INDEX[name]["run_digest"]


@pytest.mark.parametrize("name", NAMES)
def test_its_closing_records_have_no_tree_root(name):
    with LogReader(path_of(name)) as reader:
        bodies = list(reader.bodies())

    with LogReader(path_of(name)) as reader:
        closing = [record for record in reader if type(record) is RunClosed]

    assert len(closing) == 1
    assert closing[0].tree_root is None
    # As written, the closing record is the schema-1 layout of four fields.
    assert bodies[-1][0] == 0x94


def test_the_upcaster_gives_a_closing_record_a_nil_root_and_nothing_else():
    closing = [5, 3, 3, bytes(16)]
    step = [1, 0, None, None, bytes(16), 0.5, 0.25, -0.25, None, None]

    assert codec.UPCASTERS[1](closing) == [*closing, None]
    assert codec.UPCASTERS[1](step) == step


@pytest.mark.parametrize("name", NAMES[:2])
def test_a_schema_without_an_upcaster_is_refused(name, monkeypatch):
    monkeypatch.delitem(codec.UPCASTERS, 1)

    with pytest.raises(UnsupportedVersionError, match="event schema version 1"):
        LogReader(path_of(name))


def test_a_future_schema_is_refused():
    osc = logs.bank()
    y0, z0 = logs.initial_state()
    log = logs.record(logs.header(osc, y0, z0, schema_version=3), [], close=False)

    with pytest.raises(
        UnsupportedVersionError,
        match="event schema version 3; this library reads versions 1 to 2",
    ):
        LogReader(log.data)
