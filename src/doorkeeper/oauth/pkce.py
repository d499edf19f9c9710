"""PKCE (RFC 7636, S256 only) and OpenID Connect nonces."""

import base64
import hashlib
import secrets


def generate_code_verifier() -> str:
    """A fresh PKCE code verifier: 64 characters from the unreserved alphabet."""
    return secrets.token_urlsafe(48)


def code_challenge_s256(verifier: str) -> str:
    """The S256 code challenge of `verifier`: BASE64URL(SHA256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def generate_nonce() -> str:
    """A fresh OpenID Connect nonce (256 bits)."""
    return secrets.token_urlsafe(32)
