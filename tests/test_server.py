"""The ready-made server: the app of `doorkeeper.server` in process, then `doorkeeper serve`
as a real process on 127.0.0.1, restarted with its data, and riding out a database that
goes away (through a TCP proxy this test controls) and comes back."""

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy.engine import make_url

from doorkeeper import DoorkeeperSettings
from doorkeeper.batteries.pages import PAGE_HEADERS
from doorkeeper.email import MemoryEmailSender
from doorkeeper.server import create_app
from tests.conftest import cheap_password_helper, create_database, drop_database
from tests.test_doorkeeper import PASSWORD, SECRET, clean_environment, link_token  # noqa: F401

START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- in process ----------------------------------------------------------------------


@asynccontextmanager
async def in_process(database_url: str, **values: Any) -> AsyncIterator[Any]:
    settings = DoorkeeperSettings(
        database_url=database_url, secret=SECRET, public_url="https://auth.example.com", **values
    )
    sender = MemoryEmailSender()
    app = create_app(settings, email_sender=sender, password_helper=cheap_password_helper())
    auth = app.state.doorkeeper
    async with auth.lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            client.sender = sender  # type: ignore[attr-defined]
            yield client


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_the_app_documents_every_route_and_serves_the_pages(database_url: str) -> None:
    async with in_process(database_url) as client:
        response = await client.get("/")
        assert (response.status_code, response.headers["location"]) == (307, "/docs")
        assert (await client.get("/docs")).status_code == 200
        schema = (await client.get("/openapi.json")).json()
        assert schema["info"]["title"] == "Doorkeeper"
        assert set(schema["paths"]) == {
            "/auth/bearer/login",
            "/auth/bearer/logout",
            "/auth/cookie/login",
            "/auth/cookie/logout",
            "/auth/register",
            "/auth/forgot-password",
            "/auth/reset-password",
            "/auth/request-verify-token",
            "/auth/verify",
            "/users/me",
            "/users/confirm-email",
            "/users/me/sessions",
            "/users/me/sessions/{session_id}",
            "/users/{id}/sessions",
            "/users/{id}/sessions/{session_id}",
            "/auth/bearer/refresh",
            "/auth/cookie/refresh",
            "/auth/cookie/csrf",
            "/users/{id}",
            "/admin/users",
            "/admin/users/{id}",
            "/admin/users/{id}/password",
            "/admin/users/{id}/activate",
            "/admin/users/{id}/deactivate",
            "/admin/users/{id}/sessions",
            "/admin/users/{id}/roles/{role}",
            "/admin/roles",
            "/admin/roles/{name}",
            "/health",
        }
        assert (await client.get("/health")).json() == {"status": "ok"}
        for path, endpoint in (
            ("/verify", "/auth/verify"),
            ("/reset-password", "/auth/reset-password"),
            ("/forgot-password", "/auth/forgot-password"),
            ("/confirm-email", "/users/confirm-email"),
        ):
            response = await client.get(f"{path}?token=abc")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/html")
            assert f'fetch("{endpoint}"' in response.text
            for name, value in PAGE_HEADERS.items():
                assert response.headers[name] == value
            assert "abc" not in response.text  # the token is read by the page, not written


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_links_in_mails_lead_to_the_servers_pages(database_url: str) -> None:
    async with in_process(database_url) as client:
        sender: MemoryEmailSender = client.sender  # type: ignore[attr-defined]
        body = {"email": "ann@example.com", "password": PASSWORD}
        assert (await client.post("/auth/register", json=body)).status_code == 202
        assert (await client.post("/auth/register", json=body)).status_code == 202
        verify, notice = sender.outbox
        token = link_token(verify, "https://auth.example.com/verify")
        assert "https://auth.example.com/docs" in notice.text  # where to sign in
        assert "https://auth.example.com/forgot-password" in notice.text
        response = await client.post("/auth/verify", json={"token": token})
        assert response.status_code == 200
        csrf = (await client.get("/auth/cookie/csrf")).json()["csrf_token"]
        response = await client.post(
            "/auth/cookie/login",
            data={"username": body["email"], "password": PASSWORD},
            # The CSRF cookie is Secure (an https public URL): this http client keeps it.
            headers={"X-CSRF-Token": csrf, "Cookie": f"doorkeeper_csrf={csrf}"},
        )
        assert response.status_code == 204
        cookies = response.headers.get_list("set-cookie")
        assert all("secure" in cookie.lower() for cookie in cookies)  # an https public URL


async def test_health_is_503_without_a_database() -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(
            app=create_app(
                DoorkeeperSettings(
                    secret=SECRET, database_url="postgresql+asyncpg://postgres@127.0.0.1:1/x"
                )
            )
        ),
        base_url="http://test",
    ) as client:
        response = await client.get("/health")
    assert (response.status_code, response.json()) == (503, {"detail": "SERVICE_UNAVAILABLE"})


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_health_checks_redis_too(database_url: str, redis: Any) -> None:
    async with in_process(database_url, redis_url="redis://127.0.0.1:6379/0") as client:
        assert (await client.get("/health")).status_code == 200
        app: Any = client._transport.app  # type: ignore[attr-defined]
        await app.state.doorkeeper.redis.aclose()
        app.state.doorkeeper.redis = __import__("redis.asyncio").asyncio.from_url(
            "redis://127.0.0.1:1/0"
        )
        assert (await client.get("/health")).status_code == 503


# --- as a process --------------------------------------------------------------------


def clean_environment_for(tmp_path: Path, **values: str) -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith("DOORKEEPER_") or "TEST" in name.upper()
    }
    environment.update(values, PYTHONUNBUFFERED="1")
    return environment


class ServerProcess:
    """`doorkeeper serve` on a free port, its output collected line by line."""

    def __init__(self, cwd: Path, port: int, env: dict[str, str]) -> None:
        self.cwd, self.port, self.env = cwd, port, env
        self.lines: list[str] = []
        self.base_url = f"http://127.0.0.1:{port}"
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "doorkeeper.cli", "serve", "--port", str(self.port),
            cwd=self.cwd, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read())
        async with httpx.AsyncClient(base_url=self.base_url) as client:
            deadline = asyncio.get_running_loop().time() + START_TIMEOUT
            while True:
                if self.process.returncode is not None:
                    await self._reader
                    pytest.fail(f"the server exited: {self.output}")
                with suppress(httpx.TransportError):
                    if (await client.get("/health")).status_code == 200:
                        return
                if asyncio.get_running_loop().time() > deadline:
                    pytest.fail(f"the server did not start: {self.output}")
                await asyncio.sleep(0.1)

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        async for line in self.process.stdout:
            self.lines.append(line.decode("utf-8", "replace"))

    @property
    def output(self) -> str:
        return "".join(self.lines)

    async def wait_for(self, pattern: str, after: int = 0, timeout: float = 20.0) -> re.Match[str]:
        """The first match of `pattern` in the output written after line `after`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            match = re.search(pattern, "".join(self.lines[after:]))
            if match is not None:
                return match
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"{pattern!r} never appeared in: {self.output}")
            await asyncio.sleep(0.05)

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:  # pragma: no cover - a hung server
                self.process.kill()
                await self.process.wait()
        if self._reader is not None:
            await self._reader
        assert self.process.returncode is not None
        return self.process.returncode


@asynccontextmanager
async def running(cwd: Path, env: dict[str, str], port: int) -> AsyncIterator[ServerProcess]:
    server = ServerProcess(cwd, port, env)
    try:
        await server.start()
        yield server
    finally:
        if server.process is not None:
            await server.stop()


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    response = await client.post(
        "/auth/bearer/login", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def test_serve_register_verify_login_then_restart(tmp_path: Path) -> None:
    port = free_port()
    env = clean_environment_for(tmp_path)
    email = "ada@example.com"
    async with running(tmp_path, env, port) as server:
        output = server.output
        assert f"Created the development secret in {tmp_path / '.doorkeeper-secret'}" in output
        assert f"Doorkeeper on http://127.0.0.1:{port} (API docs at /docs)" in output
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            docs = await client.get("/docs")
            assert docs.status_code == 200 and "swagger" in docs.text.lower()
            paths = (await client.get("/openapi.json")).json()["paths"]
            assert {"/auth/register", "/auth/verify", "/users/me"} <= set(paths)

            mark = len(server.lines)
            response = await client.post(
                "/auth/register", json={"email": email, "password": PASSWORD}
            )
            assert response.json() == {"detail": "CHECK_YOUR_MAILBOX"}
            link = (await server.wait_for(r"http://\S+/verify\?token=\S+", after=mark)).group(0)
            assert link.startswith(f"{server.base_url}/verify?token=")
            page = await client.get(link)  # what the user opens: the page asks to confirm
            assert page.status_code == 200 and 'fetch("/auth/verify"' in page.text
            token = parse_qs(urlsplit(link).query)["token"][0]
            verified = await client.post("/auth/verify", json={"token": token})
            assert verified.status_code == 200 and verified.json()["is_verified"] is True

            access = await login(client, email)
            me = await client.get("/users/me", headers={"Authorization": f"Bearer {access}"})
            assert me.status_code == 200 and me.json()["email"] == email
    assert server.process is not None and server.process.returncode == 0
    assert "Traceback" not in server.output

    async with running(tmp_path, env, port) as server:
        assert "Using the development secret" in server.output
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            # The session of before the restart is still valid, the user still there.
            me = await client.get("/users/me", headers={"Authorization": f"Bearer {access}"})
            assert me.status_code == 200 and me.json()["is_verified"] is True
            await login(client, email)


async def test_serve_start_up_errors_are_one_line(tmp_path: Path) -> None:
    for values, message in (
        ({"DOORKEEPER_PUBLIC_URL": "https://auth.example.com"}, "DOORKEEPER_SECRET is not set"),
        (
            {"DOORKEEPER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/a.db"},
            "Cannot open the SQLite database",
        ),
        (
            {"DOORKEEPER_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/x"},
            "Cannot reach the database at postgresql+asyncpg://postgres@127.0.0.1:1/x",
        ),
    ):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "doorkeeper.cli", "serve", "--port", str(free_port()),
            cwd=tmp_path, env=clean_environment_for(tmp_path, **values),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
        lines = stderr.decode().strip().splitlines()
        assert process.returncode == 1
        assert len(lines) == 1 and lines[0].startswith(f"Error: {message}"), stderr
        assert b"Uvicorn running" not in stdout + stderr


# --- a database that goes away -------------------------------------------------------


class TCPProxy:
    """Forwards 127.0.0.1:port to the target; `close()` drops every connection and stops
    listening (the database is gone), `open()` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for client, upstream in list(self.links):
            client.transport.abort()
            upstream.transport.abort()
        self.links.clear()
        await self.server.wait_closed()
        self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        link = (writer, upstream_writer)
        self.links.add(link)
        try:
            await asyncio.gather(
                self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
            )
        finally:
            self.links.discard(link)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()


async def test_a_database_that_goes_away_gives_503_then_recovers(tmp_path: Path) -> None:
    database_url = await create_database("postgresql", tmp_path)
    target = make_url(database_url)
    proxy = TCPProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.open()
    proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    env = clean_environment_for(tmp_path, DOORKEEPER_DATABASE_URL=proxied, DOORKEEPER_SECRET=SECRET)
    unavailable = {"detail": "SERVICE_UNAVAILABLE"}
    try:
        async with (
            running(tmp_path, env, free_port()) as server,
            httpx.AsyncClient(base_url=server.base_url) as client,
        ):
            email = "bea@example.com"
            await client.post("/auth/register", json={"email": email, "password": PASSWORD})
            await server.wait_for(r"verify\?token=")
            access = await login(client, email)
            headers = {"Authorization": f"Bearer {access}"}
            assert (await client.get("/users/me", headers=headers)).status_code == 200

            await proxy.close()
            for request in (
                client.build_request("GET", "/users/me", headers=headers),
                client.build_request("GET", "/health"),
                client.build_request(
                    "POST", "/auth/bearer/login", data={"username": email, "password": PASSWORD}
                ),
            ):
                response = await client.send(request)
                assert (response.status_code, response.json()) == (503, unavailable)

            await proxy.open()
            deadline = asyncio.get_running_loop().time() + 30
            while (await client.get("/users/me", headers=headers)).status_code != 200:
                assert asyncio.get_running_loop().time() < deadline, server.output
                await asyncio.sleep(0.2)
            assert (await client.get("/health")).status_code == 200
            await login(client, email)
        assert "Traceback" not in server.output
    finally:
        if proxy.server is not None:
            await proxy.close()
        await drop_database(database_url)


async def test_health_lets_a_bug_through(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(DoorkeeperSettings(secret=SECRET))

    async def broken() -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.state.doorkeeper.adapter, "ping", broken)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises(RuntimeError):
            await client.get("/health")
