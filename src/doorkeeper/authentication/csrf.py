"""CSRF protection for cookie-authenticated requests (SECURITY 30).

A browser attaches cookies to every request, a forged cross-site one included. Every
state-changing request (any method but GET, HEAD, OPTIONS and TRACE) authenticated by a
cookie therefore passes two checks:

* **Origin**: `Sec-Fetch-Site: cross-site` is refused; so is an `Origin` header (or,
  lacking one, a `Referer`) naming neither the request's own origin nor a trusted one.
* **Signed double-submit token**: a readable cookie and a request header must both carry
  the same token, and the token must carry a valid signature. Another site can neither
  read the cookie nor set a custom header on a cross-origin request (unless CORS lets
  it); a cookie forced upon the browser from a sibling subdomain (cookie tossing) fails
  the signature.

A token is a random nonce and an HMAC-SHA256 of that nonce under a key derived from the
secret and bound to this one purpose, so that no other token signed with the same secret
passes for a CSRF token, nor the other way round.
"""

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from typing import Literal
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Response, status
from pydantic import SecretStr

from doorkeeper.authentication.transport.cookie import check_cookie_prefix

CSRF_ORIGIN_MISMATCH = "CSRF_ORIGIN_MISMATCH"
"""The request comes from another site (`Origin`, `Referer` or `Sec-Fetch-Site`)."""
CSRF_TOKEN_MISSING = "CSRF_TOKEN_MISSING"  # noqa: S105
"""The CSRF cookie or the CSRF header is missing."""
CSRF_TOKEN_INVALID = "CSRF_TOKEN_INVALID"  # noqa: S105
"""The CSRF cookie and header differ, or the token's signature is wrong."""

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
"""Methods that never change state, so never need a token (SECURITY 30)."""
MIN_SECRET_BYTES = 32

_KEY_LABEL = b"doorkeeper/csrf-key/v1"
_PURPOSE = b"doorkeeper.csrf-token.v1\x00"
_NONCE_BYTES = 32
_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}")
_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int | None]
"""(scheme, host, port) with the scheme's default port filled in."""


def parse_origin(url: str) -> Origin | None:
    """The origin of an absolute URL, or `None` for anything else (`null` included)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not scheme or not parts.hostname:
        return None
    return scheme, parts.hostname, port if port is not None else _DEFAULT_PORTS.get(scheme)


def _secret_bytes(secret: str | bytes | SecretStr) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def csrf_forbidden(code: str) -> HTTPException:
    """The 403 answered to a request failing a CSRF check."""
    return HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=code)


class CSRFProtection:
    """Origin check and signed double-submit token for cookie-authenticated requests.

    Pass it to `CookieTransport(..., csrf=CSRFProtection(secret))`: the authenticator
    then checks every unsafe request the cookie authenticates, the login route of that
    backend checks it too (login CSRF), and `GET /csrf` hands out a token.

    :param secret: At least 32 bytes; the key is derived from it, so it may be the
        secret of the JWT strategy.
    :param cookie_name: The readable cookie holding the token.
    :param header_name: The request header that must repeat the token.
    :param cookie_secure: Send the cookie over HTTPS only.
    :param cookie_samesite: The cookie's SameSite policy.
    :param cookie_path: The cookie's path.
    :param cookie_domain: The cookie's domain; `None` keeps it to this host.
    :param trusted_origins: Other origins allowed to send state-changing requests, as
        `scheme://host[:port]` (a single-page app served from another origin).
    """

    def __init__(
        self,
        secret: str | bytes | SecretStr,
        *,
        cookie_name: str = "doorkeeper_csrf",
        header_name: str = "X-CSRF-Token",
        cookie_secure: bool = True,
        cookie_samesite: Literal["lax", "strict", "none"] = "lax",
        cookie_path: str = "/",
        cookie_domain: str | None = None,
        trusted_origins: Sequence[str] = (),
    ) -> None:
        secret_bytes = _secret_bytes(secret)
        if len(secret_bytes) < MIN_SECRET_BYTES:
            raise ValueError(
                f"The CSRF secret is {len(secret_bytes)} bytes long; use at least "
                f"{MIN_SECRET_BYTES} random bytes (e.g. secrets.token_urlsafe(32))"
            )
        check_cookie_prefix(cookie_name, cookie_secure, cookie_path, cookie_domain)
        self._key = hmac.new(secret_bytes, _KEY_LABEL, hashlib.sha256).digest()
        self.cookie_name = cookie_name
        self.header_name = header_name
        self.cookie_secure = cookie_secure
        self.cookie_samesite = cookie_samesite
        self.cookie_path = cookie_path
        self.cookie_domain = cookie_domain
        self.trusted_origins = frozenset(self._trusted_origin(origin) for origin in trusted_origins)

    @staticmethod
    def _trusted_origin(origin: str) -> Origin:
        parsed = parse_origin(origin)
        path = urlsplit(origin.strip()).path
        if parsed is None or path not in ("", "/"):
            raise ValueError(f"A trusted origin is scheme://host[:port], not {origin!r}")
        return parsed

    # Tokens

    def _signature(self, nonce: str) -> str:
        mac = hmac.new(self._key, _PURPOSE + nonce.encode("ascii"), hashlib.sha256).digest()
        return _b64(mac)

    def generate_token(self) -> str:
        """A new signed token."""
        nonce = _b64(secrets.token_bytes(_NONCE_BYTES))
        return f"{nonce}.{self._signature(nonce)}"

    def verify_token(self, token: str) -> bool:
        """Whether `token` is well formed and signed with this protection's key."""
        if not _TOKEN_PATTERN.fullmatch(token):
            return False
        nonce, _, signature = token.partition(".")
        return hmac.compare_digest(signature, self._signature(nonce))

    def set_cookie(self, response: Response, token: str | None = None) -> str:
        """Set the readable token cookie on `response` (a new token unless given one);
        return the token."""
        if token is None:
            token = self.generate_token()
        response.set_cookie(
            self.cookie_name,
            token,
            path=self.cookie_path,
            domain=self.cookie_domain,
            secure=self.cookie_secure,
            httponly=False,  # the page's script reads it to send it back in the header
            samesite=self.cookie_samesite,
        )
        return token

    def current_token(self, request: Request) -> str | None:
        """The valid token the request's cookie carries, if any."""
        token = request.cookies.get(self.cookie_name)
        return token if token is not None and self.verify_token(token) else None

    # Checks

    def check_origin(self, request: Request) -> None:
        """403 `CSRF_ORIGIN_MISMATCH` for a request sent by another site."""
        if request.headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
            raise csrf_forbidden(CSRF_ORIGIN_MISMATCH)
        claimed = request.headers.get("origin") or request.headers.get("referer")
        if not claimed:
            return  # not sent by a browser, or stripped: the token still has to match
        origin = parse_origin(claimed)
        if origin is None or (
            origin != parse_origin(str(request.url)) and origin not in self.trusted_origins
        ):
            raise csrf_forbidden(CSRF_ORIGIN_MISMATCH)

    def check_token(self, request: Request) -> None:
        """403 unless the cookie and the header carry one and the same valid token."""
        cookie = request.cookies.get(self.cookie_name)
        header = request.headers.get(self.header_name)
        if not cookie or not header:
            raise csrf_forbidden(CSRF_TOKEN_MISSING)
        if not _TOKEN_PATTERN.fullmatch(header) or not hmac.compare_digest(
            header.encode("ascii"), cookie.encode("utf-8", "surrogateescape")
        ):
            raise csrf_forbidden(CSRF_TOKEN_INVALID)
        if not self.verify_token(cookie):
            raise csrf_forbidden(CSRF_TOKEN_INVALID)

    def protect(self, request: Request) -> None:
        """Both checks, for a request of an unsafe method; nothing for GET and the like."""
        if request.method.upper() in SAFE_METHODS:
            return
        self.check_origin(request)
        self.check_token(request)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
