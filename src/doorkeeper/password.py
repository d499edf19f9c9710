"""Password hashing (pwdlib): Argon2id by default, bcrypt accepted and upgraded.

Passwords are NFKC-normalized before hashing so that the same password typed on two
keyboards verifies; hashes made before normalization still verify and are upgraded.
These methods are synchronous and CPU-bound: the manager runs them in a worker thread
(see `doorkeeper.concurrency`), never on the event loop.
"""

import dataclasses
import enum
import secrets
import threading
import unicodedata
from collections.abc import Hashable
from typing import Any, Protocol

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher


class PasswordHelperProtocol(Protocol):
    def verify_and_update(
        self, plain_password: str, hashed_password: str
    ) -> tuple[bool, str | None]: ...

    def hash(self, password: str) -> str: ...

    def generate(self) -> str: ...


def normalize_password(password: str) -> str:
    """NFKC normalization (SECURITY 7); letter case is preserved."""
    return unicodedata.normalize("NFKC", password)


def default_password_hash() -> PasswordHash:
    """Argon2id with argon2-cffi's defaults (t=3, m=64 MiB, p=4: above OWASP's rows),
    then bcrypt so that imported bcrypt hashes verify and are re-hashed."""
    return PasswordHash((Argon2Hasher(), BcryptHasher()))


# One dummy hash per hasher configuration per process (SECURITY C10). FastAPI Users' docs
# build a `UserManager` (and so a `PasswordHelper`) per request: a dummy hash made per
# instance would cost an unknown e-mail one hash *and* one verification, twice a wrong
# password's time. A cache that may be lost: a new process makes its own on first use.
_DUMMY_HASHES: dict[Hashable, str] = {}
_DUMMY_LOCK = threading.Lock()
_MAX_DEPTH = 4


def _config_key(value: Any, depth: int = 0) -> Hashable:
    """A hashable description of a hasher's configuration (its class and parameters).

    Two helpers with equal keys make hashes that cost the same to verify. Raises
    `TypeError` when the configuration cannot be described (then no cache is shared).
    """
    if value is None or isinstance(value, (bool, int, float, str, bytes, enum.Enum)):
        return value
    if depth >= _MAX_DEPTH:
        raise TypeError("hasher configuration nested too deeply")
    if isinstance(value, (tuple, list)):
        return tuple(_config_key(item, depth + 1) for item in value)
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    elif hasattr(value, "__dict__"):
        fields = dict(vars(value))
    else:
        slots = [name for cls in type(value).__mro__ for name in getattr(cls, "__slots__", ())]
        if not slots:
            raise TypeError(f"cannot describe {kind}")
        fields = {name: getattr(value, name) for name in slots if hasattr(value, name)}
    return (kind, tuple(sorted((k, _config_key(v, depth + 1)) for k, v in fields.items())))


_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")


class PasswordHelper(PasswordHelperProtocol):
    """Hashes, verifies and upgrades passwords.

    :param password_hash: a pwdlib `PasswordHash`; its first hasher makes new hashes,
        the others are only recognised (and trigger an upgrade on the next login).
    """

    def __init__(self, password_hash: PasswordHash | None = None) -> None:
        self.password_hash = password_hash if password_hash is not None else default_password_hash()
        self._dummy_hash: str | None = None

    def _verify(self, password: str, hashed_password: str) -> tuple[bool, str | None]:
        if hashed_password.startswith(_BCRYPT_PREFIXES) and len(password.encode()) > 72:
            # bcrypt reads 72 bytes: bcrypt 5 refuses more, bcrypt 4 would ignore the rest.
            return False, None
        try:
            return self.password_hash.verify_and_update(password, hashed_password)
        except (UnknownHashError, ValueError, TypeError):
            # Not a hash we know (an unusable password), or bcrypt refusing a password
            # over its 72-byte limit: a normal failure, never an error.
            return False, None

    def verify_and_update(
        self, plain_password: str, hashed_password: str
    ) -> tuple[bool, str | None]:
        """Check a password; the second item is a new hash when an upgrade is due."""
        normalized = normalize_password(plain_password)
        verified, updated = self._verify(normalized, hashed_password)
        if verified or normalized == plain_password:
            return verified, updated
        # A hash made from the raw form, before normalization was applied.
        verified, _ = self._verify(plain_password, hashed_password)
        return verified, (self.hash(plain_password) if verified else None)

    def hash(self, password: str) -> str:
        return self.password_hash.hash(normalize_password(password))

    def generate(self) -> str:
        """A random password of 256 bits, for accounts that sign in another way."""
        return secrets.token_urlsafe(32)

    def _dummy_key(self) -> Hashable | None:
        try:
            cls = type(self)
            hasher = self.password_hash.hashers[0]
            return (f"{cls.__module__}.{cls.__qualname__}", _config_key(hasher))
        except TypeError:
            return None

    def verify_dummy(self, password: str) -> None:
        """Spend the time of one verification, for a user that does not exist.

        The dummy hash is made once per hasher configuration per process and shared by
        every helper with that configuration, so a manager built per request (FastAPI
        Users' documented shape) pays one verification, not a hash and a verification.
        The first call in a process makes the dummy hash instead of verifying: one
        operation of the same hasher with the same parameters, so the same cost. A
        password that NFKC changes costs a second verification, as `verify_and_update`
        spends on a wrong one (it tries the raw form too).
        """
        normalized = normalize_password(password)
        if normalized != password:
            self._verify_dummy_once(password)
        self._verify_dummy_once(normalized)

    def _verify_dummy_once(self, password: str) -> None:
        dummy = self._dummy_hash
        key = self._dummy_key() if dummy is None else None
        if dummy is None and key is not None:
            with _DUMMY_LOCK:
                dummy = _DUMMY_HASHES.get(key)
        if dummy is not None:
            self._dummy_hash = dummy
            self._verify(password, dummy)
            return
        dummy = self.hash(secrets.token_urlsafe(16))
        if key is not None:
            with _DUMMY_LOCK:
                dummy = _DUMMY_HASHES.setdefault(key, dummy)
        self._dummy_hash = dummy
