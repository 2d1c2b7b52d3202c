"""Run linoss-dynamics 0.2.2, or this package, in a child interpreter.

The differential tests compare this package with the release it replaces,
linoss-dynamics 0.2.2 from PyPI. Both import as ``linoss_dynamics``, so the
reference can never share an interpreter with the code under test: it is
installed once into ``<repo>/scratch/reference-0.2.2`` (without dependencies,
so it runs on the NumPy of the current environment) and driven in a child
process whose ``sys.path`` puts that directory first.

Values cross the process boundary as JSON in which every float is written with
``float.hex`` and every array as its dtype, shape and raw bytes in hex, so that
nothing is rounded on the way (``-0.0`` and NaN payloads included) and nothing
is unpickled.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REFERENCE_VERSION = "0.2.2"
REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS_DIR = REPO_ROOT / "tests"
SRC_DIR = REPO_ROOT / "src"
REFERENCE_DIR = REPO_ROOT / "scratch" / f"reference-{REFERENCE_VERSION}"

# Variables that change what NumPy or the import system does in a child; each
# child starts without them and gets only the ones its caller asks for.
_CONTROLLED_VARIABLES = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSAFEPATH",
    "NPY_DISABLE_CPU_FEATURES",
    "NPY_ENABLE_CPU_FEATURES",
)


# -- encoding ----------------------------------------------------------------


def encode(value: Any) -> Any:
    """A JSON-ready form of ``value`` that ``decode`` turns back into equal bytes.

    Supports None, bool, int, float (NumPy float64 scalars become Python
    floats), str, NumPy arrays of numeric dtype, other NumPy scalars (as 0-d
    arrays), and lists, tuples and string-keyed dicts of those.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        return {"float": float(value).hex()}
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, np.generic):
        return encode(np.asarray(value))
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"cannot encode an array of dtype {value.dtype}")
        return {
            "array": value.dtype.str,
            "shape": list(value.shape),
            "hex": np.ascontiguousarray(value).tobytes().hex(),
        }
    if isinstance(value, tuple):
        return {"tuple": [encode(item) for item in value]}
    if isinstance(value, list):
        return {"list": [encode(item) for item in value]}
    if isinstance(value, Mapping):
        return {"dict": [[str(key), encode(item)] for key, item in value.items()]}
    raise TypeError(f"cannot encode {type(value).__name__}")


def decode(data: Any) -> Any:
    """The inverse of ``encode``."""
    if data is None or isinstance(data, (bool, str)):
        return data
    if "float" in data:
        return float.fromhex(data["float"])
    if "int" in data:
        return int(data["int"])
    if "array" in data:
        raw = bytes.fromhex(data["hex"])
        flat = np.frombuffer(raw, dtype=np.dtype(data["array"])).copy()
        return flat.reshape(data["shape"])
    if "tuple" in data:
        return tuple(decode(item) for item in data["tuple"])
    if "list" in data:
        return [decode(item) for item in data["list"]]
    if "dict" in data:
        return {key: decode(item) for key, item in data["dict"]}
    raise ValueError(f"not an encoded value: {data!r}")


# -- child processes ---------------------------------------------------------

# The child's entry point. ``sys.path[0]`` is the temporary directory holding
# this script, then PYTHONPATH (the package to test), then site-packages: the
# package directory the caller expects must win, and this is checked.
_HARNESS = """\
import json
import sys
from pathlib import Path

sys.path.append({tests_dir!r})
import linoss_dynamics
import oracle

_where = Path(linoss_dynamics.__file__).resolve()
if not _where.is_relative_to(Path({package_root!r}).resolve()):
    raise SystemExit(f"imported linoss_dynamics from {{_where}}, not from {package_root!r}")

namespace = {{"__name__": "oracle_child"}}
exec(compile(Path(sys.argv[1]).read_text(), "child_source", "exec"), namespace)
payload = oracle.decode(json.loads(Path(sys.argv[2]).read_text()))
result = namespace["main"](payload)
Path(sys.argv[3]).write_text(json.dumps(oracle.encode(result)))
"""


def run_python(
    source: str,
    payload: Any = None,
    *,
    package_root: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 300.0,
) -> Any:
    """Run ``source`` in a fresh interpreter and return ``main(payload)`` from it.

    Args:
        source: Python code defining ``main(payload)``; its return value must be
            encodable (see ``encode``).
        payload: Argument of ``main``, encodable.
        package_root: Directory put on PYTHONPATH; ``linoss_dynamics`` must be
            imported from it, or the child fails.
        env: Extra environment variables for the child.
        timeout: Seconds before the child is killed.

    Raises:
        AssertionError: The child failed; the message holds its stderr.
    """
    child_env = {
        key: value
        for key, value in os.environ.items()
        if key not in _CONTROLLED_VARIABLES
    }
    child_env["PYTHONPATH"] = str(package_root)
    child_env.update(env or {})
    with tempfile.TemporaryDirectory(prefix="linoss-oracle-") as tmp:
        work = Path(tmp)
        harness = work / "harness.py"
        harness.write_text(
            _HARNESS.format(tests_dir=str(TESTS_DIR), package_root=str(package_root))
        )
        (work / "source.py").write_text(source)
        (work / "payload.json").write_text(json.dumps(encode(payload)))
        proc = subprocess.run(
            [
                sys.executable,
                str(harness),
                str(work / "source.py"),
                str(work / "payload.json"),
                str(work / "result.json"),
            ],
            cwd=work,
            env=child_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise AssertionError(
                f"child interpreter (linoss_dynamics from {package_root}) exited "
                f"with {proc.returncode}:\n{proc.stderr[-4000:]}"
            )
        return decode(json.loads((work / "result.json").read_text()))


# -- the reference installation ------------------------------------------------


def _installed(directory: Path) -> bool:
    return (directory / "linoss_dynamics" / "solver.py").is_file() and (
        directory / f"linoss_dynamics-{REFERENCE_VERSION}.dist-info"
    ).is_dir()


def _fail(message: str) -> None:
    import pytest

    pytest.fail(message, pytrace=False)


_IMPORT_CHECK = """\
import json
import sys
from pathlib import Path

import numpy
import linoss_dynamics
from linoss_dynamics import linoss_step

print(json.dumps({"package": linoss_dynamics.__file__, "numpy": numpy.__file__}))
"""


def _check_import(directory: Path) -> None:
    """The freshly installed reference imports, with the NumPy of this environment."""
    env = {k: v for k, v in os.environ.items() if k not in _CONTROLLED_VARIABLES}
    env["PYTHONPATH"] = str(directory)
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_CHECK],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        _fail(
            f"linoss-dynamics=={REFERENCE_VERSION} installed into {directory} but "
            f"does not import with NumPy {np.__version__}:\n{proc.stderr[-4000:]}"
        )
    where = json.loads(proc.stdout.strip().splitlines()[-1])
    package = Path(where["package"]).resolve()
    numpy_file = Path(where["numpy"]).resolve()
    if not package.is_relative_to(directory.resolve()):
        _fail(f"the reference check imported linoss_dynamics from {package}")
    if numpy_file.is_relative_to(directory.resolve()):
        _fail(f"the reference brought its own NumPy ({numpy_file}); expected ours")


def reference_dir() -> Path:
    """The directory holding linoss-dynamics 0.2.2, installing it on first use.

    The install goes to a private staging directory that is checked and then
    renamed into place in one step, so concurrent test runs never see a half
    installed reference: the first rename wins and the others discard theirs.
    A failed install fails the calling test (the differential tests have no
    other oracle); it needs PyPI once.
    """
    if _installed(REFERENCE_DIR):
        return REFERENCE_DIR
    REFERENCE_DIR.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f".{REFERENCE_DIR.name}-", dir=REFERENCE_DIR.parent)
    )
    try:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--target",
            str(staging),
            "--no-deps",
            "--no-input",
            "--disable-pip-version-check",
            f"linoss-dynamics=={REFERENCE_VERSION}",
        ]
        try:
            proc = subprocess.run(
                command, capture_output=True, text=True, timeout=600, check=False
            )
        except subprocess.TimeoutExpired:
            _fail(f"installing the reference timed out: {' '.join(command)}")
        if proc.returncode != 0 or not _installed(staging):
            _fail(
                f"could not install the reference linoss-dynamics=={REFERENCE_VERSION}"
                f" (the oracle of the differential tests; PyPI must be reachable "
                f"once, after which {REFERENCE_DIR} is reused).\n"
                f"$ {' '.join(command)}\nexit status {proc.returncode}\n"
                f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
            )
        _check_import(staging)
        try:
            staging.rename(REFERENCE_DIR)
        except OSError:
            if not _installed(REFERENCE_DIR):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return REFERENCE_DIR


# -- calling the reference -------------------------------------------------------

_CALLS_SOURCE = """\
import linoss_dynamics


def main(calls):
    results = []
    for name, kwargs in calls:
        try:
            value = getattr(linoss_dynamics, name)(**kwargs)
        except Exception as exc:
            results.append({
                "raised": type(exc).__name__,
                "mro": [cls.__name__ for cls in type(exc).__mro__],
                "message": str(exc),
            })
        else:
            results.append({"returned": value})
    return results
"""


def reference_calls(calls: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
    """Call functions of linoss-dynamics 0.2.2, all in one child process.

    Args:
        calls: ``(function name, keyword arguments)`` pairs, in order.

    Returns:
        One dict per call: ``{"returned": value}``, or ``{"raised": class name,
        "mro": class names, "message": str(exception)}``.
    """
    payload = [(name, dict(kwargs)) for name, kwargs in calls]
    result: list[Any] = run_python(_CALLS_SOURCE, payload, package_root=reference_dir())
    return result
