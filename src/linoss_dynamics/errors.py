"""Every error the package raises, under one base.

``LinOSSError`` is a ``ValueError`` so that callers of linoss-dynamics 0.2 who
catch ``ValueError`` keep working. Each subclass also inherits the builtin a
caller would naturally catch for that kind of problem. Messages start with the
wording 0.2 used (callers match on it) and then say what was received and what
to do; the offending argument and value are kept as attributes.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuditError",
    "AuditFailedError",
    "ChainBrokenError",
    "InvalidDampingError",
    "InvalidDtypeError",
    "InvalidShapeError",
    "InvalidValueError",
    "LinOSSError",
    "LogCorruptError",
    "LogError",
    "LogFormatError",
    "LogLockedError",
    "LogTruncatedError",
    "NonFiniteStateError",
    "SealKeyError",
    "SequentialVerifyWarning",
    "UnstableSchemeError",
    "UnsupportedModeError",
    "UnsupportedVersionError",
]


class LinOSSError(ValueError):
    """Base error for every failure of the package.

    Attributes:
        argument: Name of the argument or field at fault, when there is one.
        value: The offending value (or a short summary of it), when useful.
    """

    def __init__(
        self, message: str, *, argument: str | None = None, value: Any = None
    ) -> None:
        super().__init__(message)
        self.argument = argument
        self.value = value


class InvalidShapeError(LinOSSError):
    """An array has a shape the oscillator bank cannot use."""


class InvalidDampingError(LinOSSError):
    """Damping ``G`` is negative or otherwise outside the supported range."""


class UnsupportedModeError(LinOSSError):
    """The discretization scheme (``mode``) is not one the package implements."""


class InvalidValueError(LinOSSError):
    """A value is out of range: non-finite, negative stiffness, ``dt <= 0``."""


class InvalidDtypeError(LinOSSError, TypeError):
    """An array is not made of real numbers (complex, object, strings, bool)."""


class UnstableSchemeError(LinOSSError):
    """Parameters lie outside the stable region of the chosen scheme."""


class NonFiniteStateError(LinOSSError, ArithmeticError):
    """A transition produced a non-finite state or energy.

    Attributes:
        step: Index of the first step whose result was not finite, if known.
    """

    def __init__(
        self,
        message: str,
        *,
        argument: str | None = None,
        value: Any = None,
        step: int | None = None,
    ) -> None:
        super().__init__(message, argument=argument, value=value)
        self.step = step


class LogError(LinOSSError):
    """A run log cannot be read, written or trusted.

    Attributes:
        path: The log, when it is a file.
        seq: Sequence number of the event at fault (``-1`` for the header).
        offset: Byte offset of the frame at fault.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        seq: int | None = None,
        offset: int | None = None,
    ) -> None:
        super().__init__(message, argument="log", value=path)
        self.path = path
        self.seq = seq
        self.offset = offset


class LogFormatError(LogError):
    """Not a run log, or a frame whose content is not a canonical event."""


class UnsupportedVersionError(LogFormatError):
    """The log was written in a format or schema version this library does not know."""


class LogCorruptError(LogError):
    """A frame's checksum or length check fails: the bytes were damaged."""


class LogTruncatedError(LogError):
    """The log ends inside a frame (a torn or cut tail)."""


class ChainBrokenError(LogError):
    """Frames are intact but out of order: missing, duplicated, moved or foreign."""


class LogLockedError(LogError, BlockingIOError):
    """Another writer holds the log."""


class AuditError(LinOSSError):
    """A seal key, sealed checkpoint, proof or bundle is malformed or does not verify."""


class AuditFailedError(AuditError):
    """A proof, seal or bundle was read and does not hold: it was altered, made
    with another key, or the log it speaks of was changed."""


class SealKeyError(AuditError):
    """No usable seal key: missing, unreadable, or not 16 to 64 bytes of hex."""


class SequentialVerifyWarning(UserWarning):
    """Parallel verification was asked for, but the log was verified sequentially.

    The message says why: no checkpoints to split at, a source that worker
    processes cannot open, or a worker process lost. The report is the same
    either way; only the time differs.
    """
