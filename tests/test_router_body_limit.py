"""SECURITY 43: request bodies on Doorkeeper's routes are capped (64 KiB by default):
413 `REQUEST_BODY_TOO_LARGE` before parsing, for JSON and forms, declared or chunked,
and nothing is written."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from doorkeeper import Doorkeeper
from doorkeeper.router.body_limit import (
    APP_STATE_ATTRIBUTE,
    DEFAULT_MAX_BODY_BYTES,
    REQUEST_BODY_TOO_LARGE,
)
from tests.apps import PASSWORD, App, build_app
from tests.test_doorkeeper import (  # noqa: F401
    clean_environment,
    design_example,
    make_auth,
    serving,
)

TEN_MB = 10 * 1024 * 1024


@pytest.fixture
def dk(session_maker: async_sessionmaker[AsyncSession]) -> App:
    return build_app(session_maker, transport="cookie")


def big_json(size: int) -> bytes:
    padding = "x" * size
    return f'{{"email": "big@example.com", "password": "{PASSWORD}", "pad": "{padding}"}}'.encode()


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.json() == {"detail": REQUEST_BODY_TOO_LARGE}


def chunks(total: int, size: int = 16 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"a" * size
        sent += size


async def achunks(data: bytes, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_a_ten_megabyte_registration_is_refused_unread(dk: App) -> None:
    async with dk.client() as client:
        response = await client.post(
            "/auth/register", content=big_json(TEN_MB), headers={"content-type": "application/json"}
        )
        assert_too_large(response)
    assert await dk.get_user("big@example.com") is None


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_a_chunked_body_is_cut_off_at_the_limit(dk: App) -> None:
    """No `Content-Length`: the bytes received are counted, and parsing stops."""
    async with dk.client() as client:
        response = await client.post(
            "/auth/register",
            content=achunks(big_json(DEFAULT_MAX_BODY_BYTES + 1)),
            headers={"content-type": "application/json"},
        )
        assert "content-length" not in response.request.headers
        assert_too_large(response)
        form = await client.post(
            f"{dk.prefix}/login",
            content=achunks(b"username=a%40b.co&password=" + b"p" * (2 * DEFAULT_MAX_BODY_BYTES)),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert_too_large(form)
    assert await dk.get_user("big@example.com") is None


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("{prefix}/login", "application/x-www-form-urlencoded", b"username=a%40b.co&password="),
        ("{prefix}/login", "multipart/form-data; boundary=xyz", b"--xyz\r\n"),
        ("/auth/forgot-password", "application/json", b'{"email": "a@b.co", "x": "'),
        ("/auth/verify", "application/json", b'{"token": "'),
        ("/auth/reset-password", "application/json", b'{"token": "'),
        ("/users/me", "application/json", b'{"first_name": "'),
    ],
)
async def test_every_route_refuses_a_declared_oversized_body(
    dk: App, path: str, content_type: str, body: bytes
) -> None:
    async with dk.client() as client:
        method = "PATCH" if path == "/users/me" else "POST"
        response = await client.request(
            method,
            path.format(prefix=dk.prefix),
            content=body + b"a" * (DEFAULT_MAX_BODY_BYTES + 1),
            headers={"content-type": content_type},
        )
        assert_too_large(response)


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_a_body_at_the_limit_is_read(dk: App) -> None:
    body = big_json(0)
    body = body[:-1] + b', "pad2": "' + b"y" * (DEFAULT_MAX_BODY_BYTES - len(body) - 12) + b'"}'
    assert len(body) == DEFAULT_MAX_BODY_BYTES
    async with dk.client() as client:
        response = await client.post(
            "/auth/register", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 201, response.text


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_the_app_sets_its_own_limit(dk: App) -> None:
    setattr(dk.app.state, APP_STATE_ATTRIBUTE, 100)
    async with dk.client() as client:
        response = await client.post("/auth/register", content=big_json(100))
        assert_too_large(response)
        small = await client.post(
            "/auth/register", json={"email": "small@example.com", "password": PASSWORD}
        )
        assert small.status_code == 201


async def test_the_doorkeeper_object_takes_the_limit_from_its_settings(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOORKEEPER_MAX_BODY_BYTES", "1024")
    auth, _ = make_auth(database_url)
    assert auth.settings.max_body_bytes == 1024
    app = design_example(auth)
    async with serving(app, auth) as client:
        response = await client.post("/auth/register", content=big_json(2000))
        assert_too_large(response)
        login = await client.post(
            "/auth/bearer/login", data={"username": "a@b.co", "password": "p" * 2000}
        )
        assert_too_large(login)


def test_the_limit_defaults_to_64_kib() -> None:
    from tests.test_doorkeeper import SECRET

    auth: Any = Doorkeeper("sqlite+aiosqlite:///./limit.db", SECRET)
    assert auth.settings.max_body_bytes == DEFAULT_MAX_BODY_BYTES == 65536
