"""Exact NumPy runtime for LinOSS oscillator dynamics.

A bank of P oscillators ``y'' = -A y - G y' + B u`` advanced by the LinOSS and
D-LinOSS schemes with a fixed order of correctly rounded float64 operations,
so the same inputs give the same bytes on every CPU, NumPy build and thread
count.

- ``Oscillator``: validate once, then ``step``, ``scan`` and ``energy`` fast.
- The functional API of linoss-dynamics 0.2 (``linoss_step``, ...), unchanged.
- ``is_stable`` and ``Oscillator.analysis`` for the stable regions and spectra.
"""

from ._version import __version__
from .compat import (
    convergence_window,
    damped_linoss_step,
    delta_energy,
    energy,
    linoss_scan,
    linoss_step,
    linoss_step_impl,
)
from .errors import (
    InvalidDampingError,
    InvalidDtypeError,
    InvalidShapeError,
    InvalidValueError,
    LinOSSError,
    NonFiniteStateError,
    UnstableSchemeError,
    UnsupportedModeError,
)
from .oscillator import Oscillator
from .schemes import Scheme
from .stability import (
    STABLE_REGION,
    SpectralAnalysis,
    is_stable,
    max_stable_dt,
)

__all__ = [
    "STABLE_REGION",
    "InvalidDampingError",
    "InvalidDtypeError",
    "InvalidShapeError",
    "InvalidValueError",
    "LinOSSError",
    "NonFiniteStateError",
    "Oscillator",
    "Scheme",
    "SpectralAnalysis",
    "UnstableSchemeError",
    "UnsupportedModeError",
    "__version__",
    "convergence_window",
    "damped_linoss_step",
    "delta_energy",
    "energy",
    "is_stable",
    "linoss_scan",
    "linoss_step",
    "linoss_step_impl",
    "max_stable_dt",
]
