"""Sealed checkpoints: a keyed seal over (run id, size, Merkle root) of a log.

A sealed checkpoint says "the first ``size`` events of run ``run`` have the
Merkle root ``root``" (see ``merkle``), and carries a seal that only a holder
of the key can make. It is plain text, UTF-8, every line ending in ``\\n``::

    linoss-dynamics/checkpoint/v1
    run 5b1e...(64 hex digits)
    size 1000
    root 9c0d...(64 hex digits)

    seal blake2b-256 3fa1c2d4e5f60718 77ab...(64 hex digits)

- The first four lines are the body, and the seal covers exactly their bytes.
  Hex is lowercase; ``size`` is a decimal integer without leading zeros.
- ``run`` is the run id: BLAKE2b-256 (personalised ``linoss-run-id``) of the
  canonical bytes of the run's parameters and initial state, the same bytes the
  chain's genesis digest hashes. It does not depend on the machine.
- The seal line names the algorithm, the key id and the seal of the body:
  ``blake2b-256``, a MAC (BLAKE2b-256 keyed with a ``SealKey``, personalised
  ``linoss-seal``; 64 hex digits), or ``ed25519``, a signature by a
  ``SigningKey`` (128 hex digits) that anyone holding its ``VerifyKey`` can
  check without being able to seal. The key id is the first 8 bytes of
  BLAKE2b (personalised ``linoss-key-id``) of the MAC key or of the public key:
  it names the key without revealing it.

Only this exact text is accepted: a checkpoint is parsed, written again and
compared byte for byte, so one checkpoint has one spelling.

A seal key is 16 to 64 random bytes, kept as hex text in a file
(``linoss keygen KEYFILE``) or in the ``LINOSS_SEAL_KEY`` environment variable.
Ed25519 keys (``linoss keygen --ed25519 KEYFILE``, which also writes
``KEYFILE.pub``) are files of one line, ``ed25519-private <hex>`` or
``ed25519-public <hex>``, and need the optional ``cryptography`` package
(``pip install 'linoss-dynamics[sign]'``). ``load_key`` reads any of them. No
key is ever written to a log. A recorder given a key appends a sealed
checkpoint to the log's sidecar file ``<log>.seals`` at every checkpoint event
and when it closes; ``verify(path, key=...)`` checks each of them against the
tree it rebuilds.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Final

from . import codec
from .errors import AuditError, AuditFailedError, SealKeyError
from .events import RunSpec
from .merkle import HASH_NAME, HASH_SIZE

__all__ = [
    "KEY_ENV",
    "SEALS_SUFFIX",
    "Key",
    "SealKey",
    "SealedCheckpoint",
    "SigningKey",
    "VerifyKey",
    "load_key",
    "parse_key",
    "read_seals",
    "run_id",
    "seals_path",
]

KEY_ENV: Final = "LINOSS_SEAL_KEY"
"""The environment variable a seal key may be given in, as hex."""

SEALS_SUFFIX: Final = ".seals"
"""The sidecar of ``run.log`` is ``run.log.seals``."""

HEADER: Final = "linoss-dynamics/checkpoint/v1"
MAX_SEALS_BYTES: Final = 64 << 20
"""Largest sidecar read (64 MiB, about 300,000 checkpoints)."""

_MIN_KEY: Final = 16
_MAX_KEY: Final = 64
_KEY_ID_SIZE: Final = 8
MAC_NAME: Final = HASH_NAME
SIGNATURE_NAME: Final = "ed25519"
_SEAL_HEX: Final = {MAC_NAME: 64, SIGNATURE_NAME: 128}
_PRIVATE_PREFIX: Final = "ed25519-private "
_PUBLIC_PREFIX: Final = "ed25519-public "
_CHECKPOINT: Final = re.compile(
    rf"{re.escape(HEADER)}\n"
    r"run (?P<run>[0-9a-f]{64})\n"
    r"size (?P<size>0|[1-9][0-9]{0,18})\n"
    r"root (?P<root>[0-9a-f]{64})\n"
    r"\n"
    r"seal (?P<algorithm>blake2b-256|ed25519) (?P<key_id>[0-9a-f]{16}) "
    r"(?P<seal>[0-9a-f]{64}|[0-9a-f]{128})\n"
)


def run_id(spec: RunSpec, y0: object, z0: object) -> bytes:
    """The run id of a log with these parameters and initial state."""
    data = codec.run_bytes(spec, y0, z0)  # type: ignore[arg-type]
    return hashlib.blake2b(
        data, digest_size=HASH_SIZE, person=b"linoss-run-id"
    ).digest()


class SealKey:
    """A secret key for sealing checkpoints (16 to 64 bytes).

    Build with ``SealKey.generate()``, ``SealKey.from_hex(text)``,
    ``SealKey.from_file(path)`` or ``SealKey.from_env()``.
    """

    __slots__ = ("_key", "key_id")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or not _MIN_KEY <= len(key) <= _MAX_KEY:
            size = len(key) if isinstance(key, bytes) else type(key).__name__
            raise SealKeyError(
                f"a seal key must be {_MIN_KEY} to {_MAX_KEY} bytes; got {size}",
                argument="key",
            )
        self._key = key
        self.key_id = hashlib.blake2b(
            key, digest_size=_KEY_ID_SIZE, person=b"linoss-key-id"
        ).hexdigest()

    def __repr__(self) -> str:  # never show the key itself
        return f"SealKey(key_id={self.key_id!r})"

    @classmethod
    def generate(cls, size: int = 32) -> SealKey:
        return cls(secrets.token_bytes(size))

    def hex(self) -> str:
        """The key as the hex text a key file holds."""
        return self._key.hex()

    @classmethod
    def from_hex(cls, text: str, *, source: str = "the key") -> SealKey:
        stripped = text.strip()
        try:
            key = bytes.fromhex(stripped)
        except ValueError:
            raise SealKeyError(
                f"{source} must be hex text ({2 * _MIN_KEY} to {2 * _MAX_KEY} hex "
                "digits); make one with `linoss keygen KEYFILE`",
                argument="key",
            ) from None
        if not _MIN_KEY <= len(key) <= _MAX_KEY:
            raise SealKeyError(
                f"{source} must hold {_MIN_KEY} to {_MAX_KEY} bytes as hex; got "
                f"{len(key)} bytes; make one with `linoss keygen KEYFILE`",
                argument="key",
            )
        return cls(key)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> SealKey:
        name, text = _key_text(path)
        return cls.from_hex(text, source=f"the key file {name}")

    @classmethod
    def from_env(cls, variable: str = KEY_ENV) -> SealKey | None:
        """The key in the environment variable, or None when it is not set."""
        text = os.environ.get(variable)
        if text is None:
            return None
        return cls.from_hex(text, source=f"${variable}")

    algorithm: Final = MAC_NAME

    def mac(self, body: bytes) -> str:
        return hashlib.blake2b(
            body, key=self._key, digest_size=HASH_SIZE, person=b"linoss-seal"
        ).hexdigest()

    def seal(self, body: bytes) -> str:
        """The seal of ``body`` (its MAC, as hex)."""
        return self.mac(body)

    def holds(self, body: bytes, seal: str) -> bool:
        """Whether ``seal`` is this key's seal of ``body``."""
        return hmac.compare_digest(seal, self.mac(body))


def _ed25519() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise SealKeyError(
            "Ed25519 keys need the cryptography package: pip install "
            "'linoss-dynamics[sign]'",
            argument="key",
        ) from None
    return ed25519


def _key_id(public: bytes) -> str:
    return hashlib.blake2b(
        public, digest_size=_KEY_ID_SIZE, person=b"linoss-key-id"
    ).hexdigest()


class VerifyKey:
    """An Ed25519 public key: checks ``ed25519`` seals, cannot make them."""

    __slots__ = ("_key", "key_id", "public")

    algorithm: Final = SIGNATURE_NAME

    def __init__(self, public: bytes) -> None:
        ed25519 = _ed25519()
        if not isinstance(public, bytes) or len(public) != 32:
            raise SealKeyError("an Ed25519 public key is 32 bytes", argument="key")
        self.public = public
        self._key = ed25519.Ed25519PublicKey.from_public_bytes(public)
        self.key_id = _key_id(public)

    def __repr__(self) -> str:
        return f"VerifyKey(key_id={self.key_id!r})"

    def text(self) -> str:
        """The key as its key file holds it."""
        return f"{_PUBLIC_PREFIX}{self.public.hex()}\n"

    def seal(self, body: bytes) -> str:
        raise SealKeyError(
            "a public key checks seals and cannot make them: seal with the "
            "SigningKey (the private key)",
            argument="key",
        )

    def holds(self, body: bytes, seal: str) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            self._key.verify(bytes.fromhex(seal), body)
        except (InvalidSignature, ValueError):
            return False
        return True


class SigningKey:
    """An Ed25519 private key: makes ``ed25519`` seals that its ``verify_key`` checks."""

    __slots__ = ("_key", "key_id", "verify_key")

    algorithm: Final = SIGNATURE_NAME

    def __init__(self, private: bytes) -> None:
        ed25519 = _ed25519()
        if not isinstance(private, bytes) or len(private) != 32:
            raise SealKeyError("an Ed25519 private key is 32 bytes", argument="key")
        self._key = ed25519.Ed25519PrivateKey.from_private_bytes(private)
        from cryptography.hazmat.primitives import serialization

        public = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.verify_key = VerifyKey(public)
        self.key_id = self.verify_key.key_id

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(secrets.token_bytes(32))

    def __repr__(self) -> str:  # never show the key itself
        return f"SigningKey(key_id={self.key_id!r})"

    def text(self) -> str:
        """The key as its (private) key file holds it."""
        from cryptography.hazmat.primitives import serialization

        private = self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return f"{_PRIVATE_PREFIX}{private.hex()}\n"

    def seal(self, body: bytes) -> str:
        signature: bytes = self._key.sign(body)
        return signature.hex()

    def holds(self, body: bytes, seal: str) -> bool:
        return self.verify_key.holds(body, seal)


Key = SealKey | SigningKey | VerifyKey
"""Any key that checks seals; ``SealKey`` and ``SigningKey`` also make them."""


def parse_key(text: str, *, source: str = "the key") -> Key:
    """A key from its text: hex (a ``SealKey``) or an ``ed25519-...`` line."""
    stripped = text.strip()
    for prefix, cls in ((_PRIVATE_PREFIX, SigningKey), (_PUBLIC_PREFIX, VerifyKey)):
        if stripped.startswith(prefix):
            try:
                raw = bytes.fromhex(stripped[len(prefix) :])
            except ValueError:
                raise SealKeyError(
                    f"{source}: {prefix.strip()} must be followed by hex",
                    argument="key",
                ) from None
            if len(raw) != 32:
                raise SealKeyError(
                    f"{source}: an Ed25519 key is 32 bytes; got {len(raw)}",
                    argument="key",
                )
            key: Key = cls(raw)
            return key
    return SealKey.from_hex(stripped, source=source)


def load_key(path: str | os.PathLike[str]) -> Key:
    """The key in a key file: a ``SealKey``, a ``SigningKey`` or a ``VerifyKey``."""
    name, text = _key_text(path)
    return parse_key(text, source=f"the key file {name}")


def _key_text(path: str | os.PathLike[str]) -> tuple[str, str]:
    """A key file's name and text (at most a few hundred bytes are read)."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as handle:
            data = handle.read(4 * _MAX_KEY + 2)
    except OSError as exc:
        raise SealKeyError(
            f"cannot read the key file {name}: {exc.strerror}", argument="key_file"
        ) from None
    try:
        return name, data.decode("ascii")
    except UnicodeDecodeError:
        return name, "\0"  # not a key: refused as not hex by the caller


@dataclass(frozen=True)
class SealedCheckpoint:
    """A sealed checkpoint: ``size`` events of run ``run`` have Merkle root ``root``."""

    run: bytes
    size: int
    root: bytes
    key_id: str
    seal: str
    algorithm: str = MAC_NAME

    @classmethod
    def make(cls, run: bytes, size: int, root: bytes, key: Key) -> SealedCheckpoint:
        body = _body(run, size, root)
        return cls(run, size, root, key.key_id, key.seal(body), key.algorithm)

    @property
    def body(self) -> bytes:
        return _body(self.run, self.size, self.root)

    def text(self) -> str:
        """The checkpoint in its one text form."""
        return (
            self.body.decode("ascii")
            + f"\nseal {self.algorithm} {self.key_id} {self.seal}\n"
        )

    @classmethod
    def parse(cls, text: str) -> SealedCheckpoint:
        """Read a checkpoint's text; anything but the exact form is refused."""
        match = _CHECKPOINT.fullmatch(text)
        if match is None or len(match["seal"]) != _SEAL_HEX[match["algorithm"]]:
            raise AuditError(
                "not a sealed checkpoint: expected the text `linoss prove` and "
                f"`linoss checkpoint` write, starting {HEADER!r} (see "
                "linoss_dynamics.seals)",
                argument="checkpoint",
            )
        return cls(
            bytes.fromhex(match["run"]),
            int(match["size"]),
            bytes.fromhex(match["root"]),
            match["key_id"],
            match["seal"],
            match["algorithm"],
        )

    def check(self, key: Key) -> None:
        """Raise ``AuditError`` unless ``key`` made this seal (for a
        ``VerifyKey``: unless its ``SigningKey`` did)."""
        if self.algorithm != key.algorithm:
            raise AuditFailedError(
                f"the checkpoint of size {self.size} is sealed with {self.algorithm}; "
                f"the key given checks {key.algorithm} seals",
                argument="key",
            )
        if self.key_id != key.key_id:
            raise AuditFailedError(
                f"the checkpoint of size {self.size} was sealed with key "
                f"{self.key_id}; the key given is {key.key_id}",
                argument="key",
            )
        if not key.holds(self.body, self.seal):
            raise AuditFailedError(
                f"the seal of the checkpoint of size {self.size} does not match its "
                "run, size and root: the checkpoint was altered, or sealed by "
                "someone without this key",
                argument="seal",
            )


def _body(run: bytes, size: int, root: bytes) -> bytes:
    return f"{HEADER}\nrun {run.hex()}\nsize {size}\nroot {root.hex()}\n".encode(
        "ascii"
    )


def seals_path(log_path: str | os.PathLike[str]) -> str:
    """The sidecar file of sealed checkpoints of the log at ``log_path``."""
    return os.fspath(log_path) + SEALS_SUFFIX


def read_seals(path: str | os.PathLike[str]) -> list[SealedCheckpoint]:
    """The sealed checkpoints of a sidecar file, in order.

    Raises:
        AuditError: the file cannot be read, is too large, or holds anything
            but sealed checkpoints (the message names the line, or the byte
            that is not ASCII).
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as handle:
            data = handle.read(MAX_SEALS_BYTES + 1)
    except OSError as exc:
        raise AuditError(
            f"cannot read the seals file {name}: {exc.strerror}", argument="seals"
        ) from None
    if len(data) > MAX_SEALS_BYTES:
        raise AuditError(
            f"{name} is larger than {MAX_SEALS_BYTES} bytes: not a seals file",
            argument="seals",
        )
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise AuditError(
            f"{name}: byte {exc.start} is not ASCII: not a seals file",
            argument="seals",
        ) from None
    return list(_checkpoints(text, name))


def _checkpoints(text: str, name: str) -> Iterator[SealedCheckpoint]:
    if not text:
        return
    lines = text.split("\n")
    whole = text.endswith("\n")
    if whole:
        lines.pop()
    per = 6  # header, run, size, root, blank line, seal
    for start in range(0, len(lines), per):
        block = "\n".join(lines[start : start + per])
        # Every checkpoint ends with a newline, the last one included: a file
        # cut before it is cut short.
        if start + per < len(lines) or whole:
            block += "\n"
        try:
            yield SealedCheckpoint.parse(block)
        except AuditError:
            raise AuditError(
                f"{name}, line {start + 1}: not a sealed checkpoint (a seals file "
                "holds only the checkpoints a recorder appends); the file was "
                "altered or cut short",
                argument="seals",
            ) from None


class SealWriter:
    """Appends sealed checkpoints to a seals file once the log they cover is synced.

    ``target`` is a path (opened for appending; each flush is synced) or a
    writable text stream.
    """

    def __init__(
        self, target: str | os.PathLike[str] | IO[str], key: Key, run: bytes
    ) -> None:
        self.key = key
        self.run = run
        self._pending: list[str] = []
        self._owned = isinstance(target, (str, os.PathLike))
        if isinstance(target, (str, os.PathLike)):
            name = os.fspath(target)
            try:
                self._handle: IO[str] = open(  # noqa: SIM115
                    name, "a", encoding="ascii", newline="\n"
                )
            except OSError as exc:
                raise AuditError(
                    f"cannot open the seals file {name}: {exc.strerror}",
                    argument="seals",
                ) from None
        else:
            self._handle = target

    def seal(self, size: int, root: bytes) -> SealedCheckpoint:
        """Seal the tree of ``size`` events; written at the next ``flush``."""
        checkpoint = SealedCheckpoint.make(self.run, size, root, self.key)
        self._pending.append(checkpoint.text())
        return checkpoint

    def flush(self) -> None:
        """Write (and for a file, sync) the pending seals; call it once the log
        they cover is synced."""
        if self._pending:
            self._handle.write("".join(self._pending))
            self._handle.flush()
            if self._owned:
                os.fsync(self._handle.fileno())
            self._pending.clear()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._owned:
                self._handle.close()
