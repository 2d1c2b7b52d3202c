"""The public surface is declared once, in ``__all__``, and documented in the README."""

import re
from pathlib import Path

import linoss_dynamics

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_api_names() -> set[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## API", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])}


def test_readme_api_table_matches_all():
    documented = _readme_api_names()

    exported = set(linoss_dynamics.__all__)

    assert documented == exported


def test_every_exported_name_exists():
    missing = [
        name for name in linoss_dynamics.__all__ if not hasattr(linoss_dynamics, name)
    ]

    assert missing == []


def test_errors_share_one_base():
    errors = [
        getattr(linoss_dynamics, name)
        for name in linoss_dynamics.__all__
        if name.endswith("Error")
    ]

    assert all(issubclass(cls, linoss_dynamics.LinOSSError) for cls in errors)
    assert issubclass(linoss_dynamics.LinOSSError, ValueError)
