"""Exact NumPy runtime for LinOSS oscillator dynamics.

A bank of P oscillators ``y'' = -A y - G y' + B u`` advanced by the LinOSS and
D-LinOSS schemes with a fixed order of correctly rounded float64 operations,
so the same inputs give the same bytes on every CPU, NumPy build and thread
count.

- ``Oscillator``: validate once, then ``step``, ``scan`` and ``energy`` fast.
- The functional API of linoss-dynamics 0.2 (``linoss_step``, ...), unchanged.
- ``is_stable`` and ``Oscillator.analysis`` for the stable regions and spectra.
- ``Recorder`` writes a run as a canonical, hash-chained log; ``verify`` replays
  it against the core and names the first event that differs; ``verify_many``
  checks collections of logs on a process pool or a Dask cluster.
- Merkle roots, sealed checkpoints, inclusion and consistency proofs and
  offline bundles let an auditor check a log's claims without the whole log.
- ``LinOSSLayer`` is the whole LinOSS / D-LinOSS layer, ``Re(C y) + D u``, as a
  bit-exact reference for ports, with conformance vectors to check them.
"""

from ._version import __version__
from .bundle import make_bundle, verify_bundle
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
    AuditError,
    AuditFailedError,
    ChainBrokenError,
    InvalidDampingError,
    InvalidDtypeError,
    InvalidShapeError,
    InvalidValueError,
    LinOSSError,
    LogCorruptError,
    LogError,
    LogFormatError,
    LogLockedError,
    LogTruncatedError,
    NonFiniteStateError,
    SealKeyError,
    SequentialVerifyWarning,
    UnstableSchemeError,
    UnsupportedModeError,
    UnsupportedVersionError,
)
from .events import (
    BundleReport,
    CollectionReport,
    ConsistencyProof,
    DiffReport,
    Failure,
    FailureCode,
    InclusionProof,
    InspectReport,
    LogStatus,
    LogVerification,
    ProofCheck,
    VerificationReport,
)
from .export import export_jsonl
from .fleet import verify_each, verify_many
from .layer import LayerState, LinOSSLayer, parameterize
from .layer_io import layer_from_module, load_equinox, load_layer, save_layer
from .logfile import LogReader, LogWriter, SyncPolicy
from .oscillator import Oscillator
from .proofs import (
    check_proof,
    parse_proof,
    prove_consistency,
    prove_inclusion,
    sealed_checkpoint,
)
from .recorder import Recorder, Transition
from .schemes import Scheme
from .seals import (
    SealedCheckpoint,
    SealKey,
    SigningKey,
    VerifyKey,
    load_key,
    read_seals,
)
from .stability import (
    STABLE_REGION,
    SpectralAnalysis,
    is_stable,
    max_stable_dt,
)
from .summary import summarize
from .verify import checkpoints, diff, state_at, verify

__all__ = [
    "STABLE_REGION",
    "AuditError",
    "AuditFailedError",
    "BundleReport",
    "ChainBrokenError",
    "CollectionReport",
    "ConsistencyProof",
    "DiffReport",
    "Failure",
    "FailureCode",
    "InclusionProof",
    "InspectReport",
    "InvalidDampingError",
    "InvalidDtypeError",
    "InvalidShapeError",
    "InvalidValueError",
    "LayerState",
    "LinOSSError",
    "LinOSSLayer",
    "LogCorruptError",
    "LogError",
    "LogFormatError",
    "LogLockedError",
    "LogReader",
    "LogStatus",
    "LogTruncatedError",
    "LogVerification",
    "LogWriter",
    "NonFiniteStateError",
    "Oscillator",
    "ProofCheck",
    "Recorder",
    "Scheme",
    "SealKey",
    "SealKeyError",
    "SealedCheckpoint",
    "SequentialVerifyWarning",
    "SigningKey",
    "SpectralAnalysis",
    "SyncPolicy",
    "Transition",
    "UnstableSchemeError",
    "UnsupportedModeError",
    "UnsupportedVersionError",
    "VerificationReport",
    "VerifyKey",
    "__version__",
    "check_proof",
    "checkpoints",
    "convergence_window",
    "damped_linoss_step",
    "delta_energy",
    "diff",
    "energy",
    "export_jsonl",
    "is_stable",
    "layer_from_module",
    "linoss_scan",
    "linoss_step",
    "linoss_step_impl",
    "load_equinox",
    "load_key",
    "load_layer",
    "make_bundle",
    "max_stable_dt",
    "parameterize",
    "parse_proof",
    "prove_consistency",
    "prove_inclusion",
    "read_seals",
    "save_layer",
    "sealed_checkpoint",
    "state_at",
    "summarize",
    "verify",
    "verify_bundle",
    "verify_each",
    "verify_many",
]
