"""Cookie transport: the login response sets the token in a cookie, which the browser
sends back; logout expires it."""

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Literal

from fastapi import Response, status
from fastapi.security import APIKeyCookie

from doorkeeper.authentication.transport.base import OpenAPIResponseType, Transport

if TYPE_CHECKING:  # the CSRF module builds on this one
    from doorkeeper.authentication.csrf import CSRFProtection

HOST_PREFIX = "__Host-"
SECURE_PREFIX = "__Secure-"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def check_cookie_prefix(name: str, secure: bool, path: str, domain: str | None) -> None:
    """Browsers drop prefixed cookies that break their rules: refuse such a setup early."""
    if name.startswith(HOST_PREFIX) and (not secure or path != "/" or domain is not None):
        raise ValueError(
            f"A {HOST_PREFIX} cookie needs cookie_secure=True, cookie_path='/' and no cookie_domain"
        )
    if name.startswith(SECURE_PREFIX) and not secure:
        raise ValueError(f"A {SECURE_PREFIX} cookie needs cookie_secure=True")


class CookieTransport(Transport):
    """:param cookie_name: The cookie's name; a `__Host-` name pins it to this host.
    :param cookie_max_age: Its lifetime in seconds; `None` makes a session cookie.
    :param cookie_path: Its path.
    :param cookie_domain: Its domain; `None` (the default) keeps it to this host.
    :param cookie_secure: Send it over HTTPS only.
    :param cookie_httponly: Hide it from JavaScript.
    :param cookie_samesite: Its SameSite policy.
    :param csrf: Check every state-changing request this cookie authenticates, login
        and logout included (SECURITY 30; see docs/csrf.md). `None` (the default) checks
        nothing, as FastAPI Users did. Login and logout responses then also set a fresh
        CSRF token cookie.
    """

    scheme: APIKeyCookie

    def __init__(
        self,
        cookie_name: str = "fastapiusersauth",
        cookie_max_age: int | None = None,
        cookie_path: str = "/",
        cookie_domain: str | None = None,
        cookie_secure: bool = True,
        cookie_httponly: bool = True,
        cookie_samesite: Literal["lax", "strict", "none"] = "lax",
        *,
        csrf: "CSRFProtection | None" = None,
    ) -> None:
        check_cookie_prefix(cookie_name, cookie_secure, cookie_path, cookie_domain)
        self.cookie_name = cookie_name
        self.cookie_max_age = cookie_max_age
        self.cookie_path = cookie_path
        self.cookie_domain = cookie_domain
        self.cookie_secure = cookie_secure
        self.cookie_httponly = cookie_httponly
        self.cookie_samesite = cookie_samesite
        self.csrf = csrf
        self.scheme = APIKeyCookie(name=cookie_name, auto_error=False)

    async def get_login_response(self, token: str) -> Response:
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        self._rotate_csrf_token(response)
        return self._set_login_cookie(response, token)

    async def get_logout_response(self) -> Response:
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        self._rotate_csrf_token(response)
        return self._set_logout_cookie(response)

    def _rotate_csrf_token(self, response: Response) -> None:
        """A new CSRF token whenever the session changes (login, logout)."""
        if self.csrf is not None:
            self.csrf.set_cookie(response)

    def _set_login_cookie(self, response: Response, token: str) -> Response:
        response.set_cookie(
            self.cookie_name,
            token,
            max_age=self.cookie_max_age,
            path=self.cookie_path,
            domain=self.cookie_domain,
            secure=self.cookie_secure,
            httponly=self.cookie_httponly,
            samesite=self.cookie_samesite,
        )
        return response

    def _set_logout_cookie(self, response: Response) -> Response:
        response.set_cookie(
            self.cookie_name,
            "",
            max_age=0,
            expires=_EPOCH,
            path=self.cookie_path,
            domain=self.cookie_domain,
            secure=self.cookie_secure,
            httponly=self.cookie_httponly,
            samesite=self.cookie_samesite,
        )
        return response

    @staticmethod
    def get_openapi_login_responses_success() -> OpenAPIResponseType:
        return {status.HTTP_204_NO_CONTENT: {"model": None}}

    @staticmethod
    def get_openapi_logout_responses_success() -> OpenAPIResponseType:
        return {status.HTTP_204_NO_CONTENT: {"model": None}}
