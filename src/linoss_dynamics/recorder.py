"""``Recorder``: run a bank step by step and record every transition in a log."""

from __future__ import annotations

import os
from typing import IO, Any, Final, NamedTuple

import numpy as np

from . import codec
from ._environment import fingerprint
from ._typing import FloatArray
from ._version import __version__
from .errors import InvalidValueError
from .events import (
    CheckpointTaken,
    ParamsChanged,
    RunStarted,
    StateWritten,
    spec_of,
)
from .logfile import LogWriter, SyncPolicy
from .oscillator import Oscillator
from .seals import Key, SealedCheckpoint, SealKey, SealWriter, SigningKey, run_id
from .transition import Stepper, normalize_input

__all__ = ["DEFAULT_CHECKPOINT_EVERY", "Recorder", "Transition"]

_F64: Final = np.dtype(np.float64)

DEFAULT_CHECKPOINT_EVERY: Final = 1000
"""Steps between automatic checkpoints.

At P = 64 a checkpoint costs about two step events of space; every 1000 steps
it adds a fraction of a percent to the log while bounding ``state_at`` to at
most 1000 replayed steps and giving parallel verification segments to share.
"""


class Transition(NamedTuple):
    """The result of ``Recorder.step``: the new state and its energies.

    ``y`` and ``z`` are read-only arrays; ``seq`` is the event's sequence number.
    """

    y: FloatArray
    z: FloatArray
    energy_before: float
    energy_after: float
    delta_energy: float
    seq: int


class Recorder:
    """Records a run of an ``Oscillator`` as a verifiable log, one event per call.

    Recording changes no bit of the dynamics: ``step`` returns exactly what
    ``Oscillator.step`` and the exact energy give on the same state and input.

    Args:
        target: A path for a new log file, or a writable binary stream (for
            example ``io.BytesIO()``) to record in memory.
        oscillator: The bank's parameters.
        y0, z0: Initial state, shape (P,), finite.
        sync: Durability policy of the file (default: sync on close).
        checkpoint_every: Take a checkpoint after every this many steps (0 for
            none; default ``DEFAULT_CHECKPOINT_EVERY``).
        full_state: Record ``y`` and ``z`` in every step event, so a divergence
            can be located element by element at any step (the log grows by
            16 P bytes per step).
        overwrite: Replace an existing file at ``target``.
        key: A ``SealKey`` (or an Ed25519 ``SigningKey``): seal the Merkle
            tree of the log at every checkpoint
            and when the log closes, into the sidecar file ``<target>.seals``
            (see ``seals``). The key is never written to the log.
        seals: Where the sealed checkpoints go instead: a path, or a writable
            text stream (needed with ``key`` when ``target`` is a stream).

    Use as a context manager, or call ``close`` (which writes the closing record
    and syncs). An exception inside the ``with`` block keeps the events written
    so far but leaves the log without its closing record.
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | IO[bytes],
        oscillator: Oscillator,
        y0: Any,
        z0: Any,
        *,
        sync: SyncPolicy | None = None,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        full_state: bool = False,
        overwrite: bool = False,
        key: Key | None = None,
        seals: str | os.PathLike[str] | IO[str] | None = None,
    ) -> None:
        if not isinstance(oscillator, Oscillator):
            raise InvalidValueError(
                f"oscillator must be an Oscillator; got {type(oscillator).__name__}",
                argument="oscillator",
            )
        if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int):
            raise InvalidValueError(
                f"checkpoint_every must be a non-negative integer; got {checkpoint_every!r}",
                argument="checkpoint_every",
            )
        if checkpoint_every < 0:
            raise InvalidValueError(
                f"checkpoint_every must be a non-negative integer; got {checkpoint_every!r}",
                argument="checkpoint_every",
            )
        self._stepper = Stepper(oscillator, y0, z0)
        header = RunStarted(
            schema_version=codec.SCHEMA_VERSION,
            library_version=__version__,
            hash_algorithms=codec.HASH_ALGORITHMS,
            spec=spec_of(oscillator),
            y0=self._stepper.y,
            z0=self._stepper.z,
            fingerprint=fingerprint(),
        )
        if key is not None and not isinstance(key, (SealKey, SigningKey)):
            raise InvalidValueError(
                "key must be a SealKey or an Ed25519 SigningKey (a key that can "
                f"seal); got {type(key).__name__}",
                argument="key",
            )
        if seals is not None and key is None:
            raise InvalidValueError(
                "seals names where sealed checkpoints go: pass key=SealKey(...) too",
                argument="seals",
            )
        sealer = None
        if seals is not None and key is not None:
            sealer = SealWriter(
                seals,
                key,
                run_id(header.spec, header.y0, header.z0),
            )
        if isinstance(target, (str, os.PathLike)):
            if sealer is None:
                self._writer = LogWriter.create(
                    target, header, sync=sync, overwrite=overwrite, key=key
                )
            else:
                self._writer = LogWriter.create(
                    target, header, sync=sync, overwrite=overwrite
                )
                self._writer.attach_seals(sealer)
            self.path: str | None = os.fspath(target)
        else:
            if key is not None and sealer is None:
                raise InvalidValueError(
                    "a log recorded into a stream keeps its sealed checkpoints where "
                    "seals= says: pass seals=PATH or a text stream",
                    argument="seals",
                )
            self._writer = LogWriter(target, header, sync=sync, seals=sealer)
            self.path = getattr(target, "name", None)
        self._checkpoint_every = checkpoint_every
        self._full_state = bool(full_state)
        self._steps_since_checkpoint = 0

    # -- state --------------------------------------------------------------

    @property
    def oscillator(self) -> Oscillator:
        """The parameters in effect."""
        return self._stepper.oscillator

    @property
    def y(self) -> FloatArray:
        """Current position (read-only)."""
        return self._stepper.y

    @property
    def z(self) -> FloatArray:
        """Current velocity (read-only)."""
        return self._stepper.z

    @property
    def energy(self) -> float:
        """Exact energy of the current state."""
        return self._stepper.energy

    @property
    def seq(self) -> int:
        """Sequence number the next event gets."""
        return self._writer.seq

    @property
    def run_digest(self) -> bytes:
        """Chain digest after the last event."""
        return self._writer.digest

    @property
    def tree_root(self) -> bytes:
        """Merkle root of the events so far."""
        return self._writer.tree_root

    # -- events -------------------------------------------------------------

    def step(self, u: Any = None, dt: Any = None) -> Transition:
        """Advance one step with input ``u`` (and, for irregular time, this step's ``dt``).

        Raises:
            InvalidValueError: ``u`` or ``dt`` holds NaN or an infinity.
            NonFiniteStateError: the step would leave a non-finite state
                (parameters outside the stable region, or a huge input).
            In both cases nothing is recorded and the state is unchanged.
        """
        if u is not None and (type(u) is not np.ndarray or u.dtype is not _F64):
            u = normalize_input("u", u)
        if dt is not None:
            dt = normalize_input("dt", dt)
        out = self._stepper.step(u, dt)
        seq = self._writer.seq
        full = self._full_state
        self._writer.write_body(
            codec.encode_step(
                seq,
                u,
                dt,
                out.state_digest,
                out.energy_before,
                out.energy_after,
                out.delta_energy,
                out.y if full else None,
                out.z if full else None,
            )
        )
        if self._checkpoint_every:
            self._steps_since_checkpoint += 1
            if self._steps_since_checkpoint >= self._checkpoint_every:
                self.checkpoint()
        return Transition(
            out.y, out.z, out.energy_before, out.energy_after, out.delta_energy, seq
        )

    def set_params(self, **changes: Any) -> Oscillator:
        """Change parameters (``A``, ``dt``, ``G``, ``mode``, ``B``, ``allow_unstable``).

        The new ``Oscillator`` is validated like any other and applies from the
        next step; returns it.
        """
        oscillator = self._stepper.oscillator.with_params(**changes)
        self._stepper.set_oscillator(oscillator)
        self._writer.write(ParamsChanged(self._writer.seq, spec_of(oscillator)))
        return oscillator

    def write_state(self, y: Any, z: Any) -> None:
        """Replace the state from outside the dynamics (shape (P,), finite)."""
        self._stepper.set_state(y, z)
        s = self._stepper
        self._writer.write(
            StateWritten(self._writer.seq, s.y, s.z, s.digest(), s.energy)
        )

    def checkpoint(self) -> int:
        """Record the full state and parameters now; returns the event's seq."""
        s = self._stepper
        seq = self._writer.seq
        self._writer.write(
            CheckpointTaken(seq, spec_of(s.oscillator), s.y, s.z, s.digest(), s.energy)
        )
        self._steps_since_checkpoint = 0
        if self._writer.sealed:
            self._writer.seal()
        return seq

    def seal(self) -> SealedCheckpoint:
        """Seal the events so far (the recorder needs a key); returns the
        sealed checkpoint, which is written to the seals file at the next sync."""
        return self._writer.seal()

    def sync(self) -> None:
        """Make every event so far durable."""
        self._writer.sync()

    def close(self) -> None:
        """Write the closing record and sync. Idempotent."""
        self._writer.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        self._writer.close(clean=exc_type is None)
