"""What opaque tokens are stored as: their SHA-256 digest, never the token itself."""

import base64
import hashlib
import secrets

TOKEN_BYTES = 32
"""Random bytes in an opaque token (256 bits, from `secrets`)."""


def generate_token() -> str:
    """A new opaque token: 256 random bits, base64url (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The SHA-256 digest of `token`, base64url without padding (43 characters).

    A fast hash is enough: the tokens carry 256 random bits, so nothing can be guessed
    from a leaked digest, and a stolen table of digests cannot be replayed as tokens.
    """
    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
