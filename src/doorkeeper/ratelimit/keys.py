"""The identifiers a counter is kept under: hashed, so that no e-mail address or IP
address appears in the storage's keys."""

import hashlib
import hmac

from doorkeeper.normalization import normalize_email

__all__ = ["KeyHasher"]

UNKNOWN_CLIENT = "unknown"
"""The identifier of a request whose client address is unknown."""


class KeyHasher:
    """Turns an address into a fixed-length hex identifier.

    With a `secret`, HMAC-SHA256 (someone reading the storage cannot test guesses);
    without, SHA-256. Instances sharing counters must share the secret.
    """

    def __init__(self, secret: str | bytes | None = None) -> None:
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        self._secret = secret

    def __call__(self, value: str) -> str:
        data = value.encode("utf-8")
        if self._secret is None:
            return hashlib.sha256(data).hexdigest()
        return hmac.new(self._secret, data, hashlib.sha256).hexdigest()

    def account(self, email: str) -> str:
        """The identifier of an account: its normalized e-mail, so that case, spaces and
        IDNA spellings of one address share one counter."""
        return self("account:" + normalize_email(email))

    def ip(self, address: str | None) -> str:
        """The identifier of a client address."""
        return self("ip:" + (address if address is not None else UNKNOWN_CLIENT))
