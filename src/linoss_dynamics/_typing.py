"""Array aliases used across the package."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
"""A float64 array of any shape."""

Scalar: TypeAlias = float
"""A float64 value held as a Python float."""

DtLike: TypeAlias = "float | FloatArray"
"""A time step: one Python float for the bank, or one float64 per oscillator."""
