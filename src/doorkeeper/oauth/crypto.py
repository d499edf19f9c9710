"""Provider tokens encrypted at rest (SECURITY 35): AES-256-GCM under keys derived from
the app's secret.

A stored value reads `dkenc1:<key id>:<base64url(nonce | ciphertext | tag)>`. The key id
names the key that encrypted it, so that keys can be rotated: `TokenCipher(new, old)`
encrypts with `new` and decrypts values made under either; `rotate(value)` re-encrypts a
value under the newest key. Values without the prefix (written before encryption was on)
are returned as they are by `decrypt`, and re-encrypted by `rotate`.

Each key is derived with HKDF-SHA256 from a secret and a purpose, so the same secret can
sign JWTs and encrypt tokens without one key ever serving both.
"""

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

__all__ = [
    "DEFAULT_PURPOSE",
    "PREFIX",
    "TokenCipher",
    "TokenDecryptionError",
    "encrypted_length",
]

PREFIX = "dkenc1:"
DEFAULT_PURPOSE = "doorkeeper:oauth-provider-tokens"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_KEY_ID_LENGTH = 8


class TokenDecryptionError(ValueError):
    """A value that none of the cipher's keys can decrypt (unknown key id, tampering)."""


def _secret_bytes(secret: str | bytes | SecretStr) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def derive_key(secret: str | bytes | SecretStr, purpose: str) -> bytes:
    """A 256-bit key for `purpose`, derived from `secret` with HKDF-SHA256."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"doorkeeper", info=purpose.encode())
    return hkdf.derive(_secret_bytes(secret))


def encrypted_length(plaintext_length: int) -> int:
    """How long the stored value of an ASCII token of this length is."""
    body = _NONCE_BYTES + plaintext_length + _TAG_BYTES
    return len(PREFIX) + _KEY_ID_LENGTH + 1 + (4 * body + 2) // 3


class _Key:
    def __init__(self, key: bytes) -> None:
        self.aead = AESGCM(key)
        digest = hmac.new(key, b"doorkeeper:key-id", hashlib.sha256).digest()
        self.id = _b64encode(digest)[:_KEY_ID_LENGTH]

    def header(self) -> bytes:
        return f"{PREFIX}{self.id}:".encode("ascii")


class TokenCipher:
    """Encrypts and decrypts provider tokens.

    :param secret: the current secret (32 random bytes or more); new values use its key.
    :param old_secrets: earlier secrets, newest first: their values still decrypt.
    :param purpose: what the keys are for; one purpose never decrypts another's values.
    """

    def __init__(
        self,
        secret: str | bytes | SecretStr,
        *old_secrets: str | bytes | SecretStr,
        purpose: str = DEFAULT_PURPOSE,
    ) -> None:
        secrets: Sequence[str | bytes | SecretStr] = (secret, *old_secrets)
        self._keys = [_Key(derive_key(item, purpose)) for item in secrets]
        self._by_id = {key.id: key for key in reversed(self._keys)}

    @property
    def key_id(self) -> str:
        """The id of the key new values are encrypted with."""
        return self._keys[0].id

    @staticmethod
    def is_encrypted(value: str) -> bool:
        return value.startswith(PREFIX)

    def encrypt(self, plaintext: str) -> str:
        key = self._keys[0]
        nonce = os.urandom(_NONCE_BYTES)
        header = key.header()
        sealed = key.aead.encrypt(nonce, plaintext.encode("utf-8"), header)
        return header.decode("ascii") + _b64encode(nonce + sealed)

    def decrypt(self, value: str) -> str:
        """The plaintext of a stored value; a value without the prefix is returned as it
        is. Raises `TokenDecryptionError` for a value no key can open."""
        if not self.is_encrypted(value):
            return value
        key_id, _, body = value[len(PREFIX) :].partition(":")
        key = self._by_id.get(key_id)
        if key is None:
            raise TokenDecryptionError("no key of this cipher encrypted the value")
        try:
            data = _b64decode(body)
            nonce, sealed = data[:_NONCE_BYTES], data[_NONCE_BYTES:]
            plaintext = key.aead.decrypt(nonce, sealed, key.header())
            return plaintext.decode("utf-8")
        except (InvalidTag, ValueError) as error:
            raise TokenDecryptionError("the value is damaged or forged") from error

    def needs_rotation(self, value: str) -> bool:
        """Whether `value` is plaintext or encrypted under an older key."""
        return not value.startswith(self._keys[0].header().decode("ascii"))

    def rotate(self, value: str) -> str:
        """`value` encrypted under the newest key (unchanged if it already is)."""
        if not self.needs_rotation(value):
            return value
        return self.encrypt(self.decrypt(value))
