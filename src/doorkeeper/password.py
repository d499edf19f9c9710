"""Password hashing (pwdlib): Argon2id by default, bcrypt accepted and upgraded.

Passwords are NFKC-normalized before hashing so that the same password typed on two
keyboards verifies; hashes made before normalization still verify and are upgraded.
These methods are synchronous and CPU-bound: the manager runs them in a worker thread
(see `doorkeeper.concurrency`), never on the event loop.
"""

import secrets
import unicodedata
from typing import Protocol

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


class PasswordHelper(PasswordHelperProtocol):
    """Hashes, verifies and upgrades passwords.

    :param password_hash: a pwdlib `PasswordHash`; its first hasher makes new hashes,
        the others are only recognised (and trigger an upgrade on the next login).
    """

    def __init__(self, password_hash: PasswordHash | None = None) -> None:
        self.password_hash = password_hash if password_hash is not None else default_password_hash()
        self._dummy_hash: str | None = None

    def _verify(self, password: str, hashed_password: str) -> tuple[bool, str | None]:
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

    def verify_dummy(self, password: str) -> None:
        """Spend the time of one verification, for a user that does not exist."""
        if self._dummy_hash is None:
            self._dummy_hash = self.hash(secrets.token_urlsafe(16))
        self._verify(normalize_password(password), self._dummy_hash)
