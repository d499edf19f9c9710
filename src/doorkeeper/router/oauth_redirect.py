"""Where an OAuth flow may send the browser (SECURITY 33).

A target is either a path on the front end (`/welcome`, joined to the front end's
origin) or an absolute `http(s)` URL whose origin is allowed. Everything that a browser
might read as another site is refused: `//evil`, `/\\evil`, `https:evil`,
`javascript:...`, user-info (`https://app@evil`), control characters and whitespace,
backslashes, and the percent-encoded forms of all of these.
"""

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

__all__ = [
    "MAX_TARGET_LENGTH",
    "InvalidRedirect",
    "RedirectPolicy",
    "check_redirect_url",
    "with_query",
]

MAX_TARGET_LENGTH = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\\]")
_FORBIDDEN_DECODED = re.compile(r"[\x00-\x1f\x7f\\]")
"""Once decoded, a space is fine (`?q=a%20b`); controls and backslashes are not."""
_DECODING_ROUNDS = 3

Origin = tuple[str, str, int]


class InvalidRedirect(ValueError):
    """A redirect target that is not allowed."""


def _origin(url: str) -> Origin | None:
    """The origin of an absolute http(s) URL without user-info, or `None`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    return scheme, parts.hostname.lower(), port if port is not None else _DEFAULT_PORTS[scheme]


def _forms(target: str) -> list[str]:
    """`target` and what it decodes to, round after round."""
    forms = [target]
    for _ in range(_DECODING_ROUNDS):
        decoded = unquote(forms[-1])
        if decoded == forms[-1]:
            break
        forms.append(decoded)
    return forms


def _has_forbidden_characters(forms: list[str]) -> bool:
    raw, decoded = forms[0], forms[1:]
    if _FORBIDDEN.search(raw) or any(char.isspace() for char in raw):
        return True
    return any(_FORBIDDEN_DECODED.search(form) for form in decoded)


def _is_local_path(form: str) -> bool:
    """A path of this origin: one leading `/`, no scheme, no authority."""
    if not form.startswith("/") or form.startswith("//"):
        return False
    parts = urlsplit(form)
    return not parts.scheme and not parts.netloc


def check_redirect_url(url: str, allowed_origins: Iterable[str] = ()) -> str:
    """Check a configured absolute URL (the callback's `redirect_url`, the front end's
    URL); raise `ValueError` when it could not be a safe target."""
    origin = _origin(url)
    if origin is None or _has_forbidden_characters(_forms(url)):
        raise ValueError(f"{url!r} is not an absolute http(s) URL")
    allowed = {_origin(item) for item in allowed_origins}
    if allowed and origin not in allowed:
        raise ValueError(f"{url!r} is not on an allowed origin")
    return url


class RedirectPolicy:
    """:param frontend_url: where the browser goes after a callback when no target was
        asked for; its origin is allowed, and paths are joined to it.
    :param allowed_origins: further origins (`https://app.example.com`) targets may be on.
    """

    def __init__(self, frontend_url: str, allowed_origins: Iterable[str] = ()) -> None:
        origins = list(allowed_origins)
        for item in origins:
            if _origin(item) is None:
                raise ValueError(f"{item!r} is not an origin such as https://app.example.com")
        self.frontend_url = check_redirect_url(frontend_url)
        frontend = urlsplit(frontend_url)
        self._frontend_origin = f"{frontend.scheme}://{frontend.netloc}"
        self._allowed = {_origin(item) for item in [*origins, frontend_url]}

    def resolve(self, target: str | None) -> str:
        """The absolute URL to send the browser to; raises `InvalidRedirect`."""
        if target is None:
            return self.frontend_url
        if not target or len(target) > MAX_TARGET_LENGTH:
            raise InvalidRedirect(target)
        forms = _forms(target)
        if _has_forbidden_characters(forms):
            raise InvalidRedirect(target)
        if all(_is_local_path(form) for form in forms):
            return self._frontend_origin + target
        # An allowed origin has no percent sign in its authority: decoding changes only
        # the path, the query or the fragment, never where the URL points.
        if _origin(target) not in self._allowed:
            raise InvalidRedirect(target)
        return target


def with_query(url: str, **params: str) -> str:
    """`url` with `params` set in its query (replacing those of the same name)."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query) if key not in params]
    query.extend(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))
