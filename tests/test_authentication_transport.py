"""Transports: the login and logout responses, cookie flags, and the OpenAPI entries."""

import pytest
from fastapi.security import APIKeyCookie, OAuth2PasswordBearer

from doorkeeper.authentication import BearerTransport, CookieTransport
from doorkeeper.authentication.transport import (
    BearerResponse,
    TransportLogoutNotSupportedError,
)


def _cookie_attributes(header: str) -> dict[str, str]:
    """The attributes of one Set-Cookie header, lower-cased names."""
    parts = [part.strip() for part in header.split(";")]
    attributes = {}
    for part in parts[1:]:
        name, _, value = part.partition("=")
        attributes[name.lower()] = value
    return attributes


async def test_bearer_login_returns_the_token_in_json() -> None:
    transport = BearerTransport(tokenUrl="auth/jwt/login")
    response = await transport.get_login_response("TOKEN")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.body == b'{"access_token":"TOKEN","token_type":"bearer"}'
    assert "set-cookie" not in response.headers


def test_bearer_scheme_does_not_raise_by_itself() -> None:
    transport = BearerTransport(tokenUrl="auth/jwt/login")
    assert isinstance(transport.scheme, OAuth2PasswordBearer)
    assert transport.scheme.auto_error is False
    assert transport.scheme.model.flows.password.tokenUrl == "auth/jwt/login"  # type: ignore[union-attr]


async def test_bearer_logout_is_not_supported() -> None:
    with pytest.raises(TransportLogoutNotSupportedError):
        await BearerTransport(tokenUrl="login").get_logout_response()


def test_bearer_openapi_responses() -> None:
    login = BearerTransport.get_openapi_login_responses_success()
    assert list(login) == [200]
    assert login[200]["model"] is BearerResponse
    example = login[200]["content"]["application/json"]["example"]
    assert example["token_type"] == "bearer"
    assert BearerTransport.get_openapi_logout_responses_success() == {}


async def test_cookie_login_defaults_are_safe() -> None:
    transport = CookieTransport()
    assert isinstance(transport.scheme, APIKeyCookie)
    assert transport.scheme.model.name == "fastapiusersauth"
    assert transport.scheme.auto_error is False
    response = await transport.get_login_response("TOKEN")
    assert response.status_code == 204
    assert response.body == b""
    header = response.headers["set-cookie"]
    assert header.startswith("fastapiusersauth=TOKEN;")
    attributes = _cookie_attributes(header)
    assert attributes["path"] == "/"
    assert attributes["samesite"] == "lax"
    assert "httponly" in attributes
    assert "secure" in attributes
    assert "domain" not in attributes
    assert "max-age" not in attributes  # a session cookie by default


async def test_cookie_login_honours_every_setting() -> None:
    transport = CookieTransport(
        cookie_name="auth",
        cookie_max_age=3600,
        cookie_path="/app",
        cookie_domain="example.com",
        cookie_secure=False,
        cookie_httponly=False,
        cookie_samesite="strict",
    )
    response = await transport.get_login_response("TOKEN")
    header = response.headers["set-cookie"]
    assert header.startswith("auth=TOKEN;")
    attributes = _cookie_attributes(header)
    assert attributes["max-age"] == "3600"
    assert attributes["path"] == "/app"
    assert attributes["domain"] == "example.com"
    assert attributes["samesite"] == "strict"
    assert "secure" not in attributes
    assert "httponly" not in attributes


async def test_cookie_logout_expires_the_cookie_with_the_same_scope() -> None:
    transport = CookieTransport(
        cookie_name="auth", cookie_path="/app", cookie_domain="example.com", cookie_max_age=60
    )
    response = await transport.get_logout_response()
    assert response.status_code == 204
    header = response.headers["set-cookie"]
    assert header.startswith('auth="";')
    attributes = _cookie_attributes(header)
    assert attributes["max-age"] == "0"
    assert attributes["expires"] == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert attributes["path"] == "/app"
    assert attributes["domain"] == "example.com"
    assert attributes["samesite"] == "lax"
    assert "secure" in attributes
    assert "httponly" in attributes


async def test_host_prefixed_cookie_is_accepted() -> None:
    transport = CookieTransport(cookie_name="__Host-auth")
    response = await transport.get_login_response("TOKEN")
    header = response.headers["set-cookie"]
    assert header.startswith("__Host-auth=TOKEN;")
    attributes = _cookie_attributes(header)
    assert attributes["path"] == "/"
    assert "secure" in attributes
    assert "domain" not in attributes


@pytest.mark.parametrize(
    "settings",
    [
        {"cookie_secure": False},
        {"cookie_path": "/app"},
        {"cookie_domain": "example.com"},
    ],
)
def test_host_prefixed_cookie_refuses_what_browsers_would_drop(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="__Host-"):
        CookieTransport(cookie_name="__Host-auth", **settings)  # type: ignore[arg-type]


def test_secure_prefixed_cookie_needs_secure() -> None:
    CookieTransport(cookie_name="__Secure-auth", cookie_domain="example.com")
    with pytest.raises(ValueError, match="__Secure-"):
        CookieTransport(cookie_name="__Secure-auth", cookie_secure=False)


def test_cookie_openapi_responses() -> None:
    assert CookieTransport.get_openapi_login_responses_success() == {204: {"model": None}}
    assert CookieTransport.get_openapi_logout_responses_success() == {204: {"model": None}}
