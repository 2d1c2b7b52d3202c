"""The environment fingerprint stored in log headers: reported, never hashed or required."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any

import numpy as np

__all__ = ["fingerprint", "simd_features"]


def simd_features() -> tuple[list[str], list[str]]:
    """NumPy's CPU baseline features and the dispatched features it found here.

    NumPy exposes these only on a private module (the same data
    ``numpy.show_runtime`` prints); when it moves, both lists come back empty.
    """
    module: Any = None
    for name in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        try:
            module = __import__(name, fromlist=["__cpu_baseline__"])
            break
        except ImportError:
            continue
    if module is None:  # pragma: no cover - depends on the NumPy layout
        return [], []
    baseline = list(getattr(module, "__cpu_baseline__", []))
    features = getattr(module, "__cpu_features__", {})
    dispatch = getattr(module, "__cpu_dispatch__", [])
    found = [name for name in dispatch if features.get(name)]
    return baseline, found


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:  # pragma: no cover - dependencies installed
        return "unknown"


def fingerprint() -> dict[str, Any]:
    """Versions, platform and SIMD features of this process."""
    baseline, found = simd_features()
    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "msgpack": _version("msgpack"),
        "xxhash": _version("xxhash"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "simd_baseline": baseline,
        "simd_found": found,
    }
