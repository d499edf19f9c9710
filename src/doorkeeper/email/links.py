"""Links in mails, built from the configured public URL only (never from a request)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

__all__ = ["DEFAULT_PATHS", "LinkBuilder", "normalize_public_url"]

#: Where each link points, relative to the public URL (or an absolute http(s) URL).
DEFAULT_PATHS: Mapping[str, str] = {
    "verify": "/verify",
    "reset_password": "/reset-password",
    "email_change": "/confirm-email",
    "forgot_password": "/forgot-password",
    "login": "/login",
}

_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
_PLACEHOLDER = "{token}"


def _check_absolute(url: str, what: str) -> None:
    if _UNSAFE.search(url):
        raise ValueError(f"{what} must not contain spaces, control characters or backslashes")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an absolute http(s) URL, not {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{what} must not contain credentials")


def normalize_public_url(public_url: str) -> str:
    """Checks that `public_url` is an absolute http(s) URL and drops its trailing slashes."""
    _check_absolute(public_url, "public_url")
    parts = urlsplit(public_url)
    if parts.query or parts.fragment or public_url.endswith(("?", "#")):
        raise ValueError("public_url must not have a query or a fragment")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


class LinkBuilder:
    """Builds `{public_url}{path}?token=...` for each kind of link.

    A path is relative to the public URL (it starts with "/") or an absolute http(s)
    URL (a front end on another origin). The token is percent-encoded and added as the
    `token` query parameter, or put where the path says `{token}` (e.g. "/#/verify/{token}").
    """

    def __init__(self, public_url: str, paths: Mapping[str, str] | None = None) -> None:
        self.public_url = normalize_public_url(public_url)
        unknown = set(paths or {}) - set(DEFAULT_PATHS)
        if unknown:
            raise ValueError(
                f"unknown link name(s) {sorted(unknown)}; known: {sorted(DEFAULT_PATHS)}"
            )
        self.paths = {**DEFAULT_PATHS, **(paths or {})}
        self._bases = {name: self._base(name, path) for name, path in self.paths.items()}

    def _base(self, name: str, path: str) -> str:
        if path.startswith("/") and not path.startswith("//"):
            if _UNSAFE.search(path):
                raise ValueError(f"path {name!r} must not contain spaces or control characters")
            return self.public_url + path
        _check_absolute(path, f"path {name!r} (neither '/...' nor an absolute URL)")
        return path

    def __call__(self, name: str, token: str | None = None) -> str:
        """The link `name`, carrying `token` if given."""
        base = self._bases[name]
        if token is None:
            return base.replace(_PLACEHOLDER, "")
        encoded = quote(token, safe="")
        if _PLACEHOLDER in base:
            return base.replace(_PLACEHOLDER, encoded)
        parts = urlsplit(base)
        query = [*parse_qsl(parts.query, keep_blank_values=True), ("token", token)]
        return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))
