"""The README's Python examples run as written, in order, in one namespace."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_python_examples_run(tmp_path, monkeypatch):
    blocks = re.findall(
        r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S
    )
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}

    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)

    assert len(blocks) >= 3
    assert (tmp_path / "run.log").exists()
