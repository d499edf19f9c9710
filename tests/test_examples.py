"""The runnable examples in `examples/`: each one starts under uvicorn on 127.0.0.1 and
serves a whole session (register, login, an authenticated route, logout), and each one
is FastAPI Users' documented app with only its imports renamed."""

import ast
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.services import REDIS_URL

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
JWT_EXAMPLE = EXAMPLES / "sqlalchemy"
COOKIE_REDIS_EXAMPLE = EXAMPLES / "sqlalchemy_cookie_redis"
ALL_EXAMPLES = [JWT_EXAMPLE, COOKIE_REDIS_EXAMPLE]
# An interpreter with FastAPI Users installed, to run the examples renamed back.
REF_PYTHON = Path(
    os.environ.get("DOORKEEPER_TEST_REFERENCE_PYTHON", "/tmp/ref/bin/python")  # noqa: S108
)
START_TIMEOUT = 20.0
PASSWORD = "correct-horse-battery-staple-42"
NEW_PASSWORD = "another-long-passphrase-for-tests-77"
COOKIE_NAME = "fastapiusersauth"
# The example renamed back: FastAPI Users' import roots for Doorkeeper's (longest first).
RENAMES = [
    ("doorkeeper.db.sqlalchemy", "fastapi_users_db_sqlalchemy"),
    ("doorkeeper", "fastapi_users"),
]


@dataclass
class Server:
    base_url: str
    process: "subprocess.Popen[bytes]"
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def printed(self, pattern: str, count: int = 1) -> str:
        """The `count`-th match of `pattern` (one group) in the server's output: the hooks
        print after the response is sent, so wait a bit for it."""
        deadline = time.monotonic() + 10
        while True:
            found = re.findall(pattern, self.log())
            if len(found) >= count:
                return str(found[count - 1])
            if time.monotonic() > deadline:
                pytest.fail(f"{pattern!r} never printed; server output:\n{self.log()}")
            await asyncio.sleep(0.05)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(process: "subprocess.Popen[bytes]") -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


async def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2) as client:
        while True:
            if server.process.poll() is not None:
                pytest.fail(f"the example exited at start-up; output:\n{server.log()}")
            try:
                if (await client.get("/openapi.json")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no answer within {START_TIMEOUT} s; output:\n{server.log()}")
            await asyncio.sleep(0.1)


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Start an example under uvicorn (cwd = its folder, so each `app` package is its
    own); every server started is stopped at the end of the test."""
    processes: list[subprocess.Popen[bytes]] = []

    async def start(example: Path, env: dict[str, str | None]) -> Server:
        """`env` adds variables to ours; a `None` value removes one."""
        port = _free_port()
        log_path = tmp_path / f"{example.name}-{port}.log"
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        full_env = {name: value for name, value in full_env.items() if value is not None}
        command = [sys.executable, "-m", "uvicorn", "app.app:app"]
        command += ["--host", "127.0.0.1", "--port", str(port)]
        with log_path.open("wb") as log:
            process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
                command, cwd=example, env=full_env, stdout=log, stderr=subprocess.STDOUT
            )
        processes.append(process)
        server = Server(f"http://127.0.0.1:{port}", process, log_path)
        await _wait_ready(server)
        return server

    try:
        yield start
    finally:
        for process in processes:
            _stop(process)


async def _register(client: httpx.AsyncClient, email: str) -> dict[str, Any]:
    response = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()
    assert user["email"] == email
    assert "hashed_password" not in user
    return user


async def _hello(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.get("/authenticated-route", headers=headers)


def _credentials(email: str, password: str = PASSWORD) -> dict[str, str]:
    return {"username": email, "password": password}


# --- The JWT example (examples/sqlalchemy) ---------------------------------------------


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"], indirect=True)
async def test_jwt_example_serves_a_session(
    launch: Callable[..., Any], database_url: str, db_kind: str
) -> None:
    # On SQLite, the example's own default secret; on PostgreSQL, one set as in production.
    secret = uuid.uuid4().hex * 2 if db_kind == "postgresql" else None
    env = {"DATABASE_URL": database_url, "SECRET": secret}
    server = await launch(JWT_EXAMPLE, env)
    email = f"arthur-{uuid.uuid4().hex[:8]}@camelot.example.com"

    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        user = await _register(client, email)
        assert await server.printed(r"User (\S+) has registered\.") == user["id"]

        wrong = await client.post("/auth/jwt/login", data=_credentials(email, "not-it-at-all"))
        assert wrong.status_code == 400
        assert wrong.json() == {"detail": "LOGIN_BAD_CREDENTIALS"}

        login = await client.post("/auth/jwt/login", data=_credentials(email))
        assert login.status_code == 200, login.text
        assert login.json()["token_type"] == "bearer"
        bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}

        hello = await _hello(client, bearer)
        assert hello.status_code == 200
        assert hello.json() == {"message": f"Hello {email}!"}
        me = await client.get("/users/me", headers=bearer)
        assert me.status_code == 200
        assert me.json()["id"] == user["id"]
        assert (await _hello(client, {})).status_code == 401

        logout = await client.post("/auth/jwt/logout", headers=bearer)
        assert logout.status_code == 204
        assert (await _hello(client, bearer)).status_code == 401
        assert (await client.get("/users/me", headers=bearer)).status_code == 401

        # The hooks print the tokens, which the verify and reset routes accept.
        requested = await client.post("/auth/request-verify-token", json={"email": email})
        assert requested.status_code == 202
        verify_token = await server.printed(r"Verification token: (\S+)")
        verified = await client.post("/auth/verify", json={"token": verify_token})
        assert verified.status_code == 200, verified.text
        assert verified.json()["is_verified"] is True

        forgot = await client.post("/auth/forgot-password", json={"email": email})
        assert forgot.status_code == 202
        reset_token = await server.printed(r"Reset token: (\S+)")
        reset = await client.post(
            "/auth/reset-password", json={"token": reset_token, "password": NEW_PASSWORD}
        )
        assert reset.status_code == 200, reset.text
        old = await client.post("/auth/jwt/login", data=_credentials(email))
        assert old.status_code == 400
        new = await client.post("/auth/jwt/login", data=_credentials(email, NEW_PASSWORD))
        assert new.status_code == 200
        fresh = {"Authorization": f"Bearer {new.json()['access_token']}"}
        assert (await _hello(client, fresh)).status_code == 200

    assert "InsecureSecretWarning" not in server.log()
    assert "Traceback" not in server.log()


# --- The cookie + database / bearer + Redis example -------------------------------------


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"], indirect=True)
async def test_cookie_redis_example_serves_sessions(
    launch: Callable[..., Any], database_url: str, redis: Any
) -> None:
    prefix: str = redis.test_prefix
    env = {"DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "REDIS_KEY_PREFIX": prefix}
    server = await launch(COOKIE_REDIS_EXAMPLE, env)
    email = f"lancelot-{uuid.uuid4().hex[:8]}@camelot.example.com"

    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        await _register(client, email)

        # Cookie + database strategy.
        login = await client.post("/auth/cookie/login", data=_credentials(email))
        assert login.status_code == 204, login.text
        set_cookie = login.headers["set-cookie"]
        for attribute in ("HttpOnly", "Secure", "SameSite=lax", "Path=/", "Max-Age=3600"):
            assert attribute in set_cookie
        token = login.cookies[COOKIE_NAME]
        # The cookie is `Secure`: a client only sends it over HTTPS, so send it by hand.
        cookie = {"Cookie": f"{COOKIE_NAME}={token}"}
        hello = await _hello(client, cookie)
        assert hello.status_code == 200
        assert hello.json() == {"message": f"Hello {email}!"}

        logout = await client.post("/auth/cookie/logout", headers=cookie)
        assert logout.status_code == 204
        assert 'fastapiusersauth=""' in logout.headers["set-cookie"]
        assert "Max-Age=0" in logout.headers["set-cookie"]
        assert (await _hello(client, cookie)).status_code == 401

        # Bearer + Redis strategy, under the configured key prefix.
        login = await client.post("/auth/redis/login", data=_credentials(email))
        assert login.status_code == 200, login.text
        redis_token = login.json()["access_token"]
        keys = [key async for key in redis.scan_iter(match=prefix + "*")]
        assert len(keys) == 1
        assert redis_token not in keys[0]  # stored hashed
        bearer = {"Authorization": f"Bearer {redis_token}"}
        hello = await _hello(client, bearer)
        assert hello.status_code == 200
        assert hello.json() == {"message": f"Hello {email}!"}

        logout = await client.post("/auth/redis/logout", headers=bearer)
        assert logout.status_code == 204
        assert [key async for key in redis.scan_iter(match=prefix + "*")] == []
        assert (await _hello(client, bearer)).status_code == 401

    assert "Traceback" not in server.log()


# --- Only the imports renamed -----------------------------------------------------------


def _sources(example: Path) -> list[Path]:
    return sorted(example.rglob("*.py"))


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=lambda path: path.name)
def test_example_imports_doorkeeper_only(example: Path) -> None:
    roots: set[str] = set()
    for path in _sources(example):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                roots.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                roots.update(alias.name.split(".")[0] for alias in node.names)
    assert "doorkeeper" in roots
    assert not {"fastapi_users", "fastapi_users_db_sqlalchemy"} & roots


def _rename_imports(source: str) -> str:
    """The same source with its Doorkeeper imports turned into FastAPI Users' ones."""

    def rename(match: re.Match[str]) -> str:
        module = match.group(2)
        for new, old in RENAMES:
            if module == new or module.startswith(new + "."):
                return match.group(1) + old + module[len(new) :]
        return match.group(0)

    return re.sub(r"^(from |import )([\w.]+)", rename, source, flags=re.MULTILINE)


OPENAPI_SCRIPT = """
import json, sys
sys.path.append(sys.argv[1])  # packages the reference lacks (drivers), after its own
from app.app import app
print(json.dumps(app.openapi()["paths"]))
"""


def _operations(python: Path | str, cwd: Path, database: Path) -> dict[str, Any]:
    """The app's operations as its OpenAPI schema gives them: per path and method, the
    operation id (from the route name), the response status codes and the security."""
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    env.pop("PYTHONPATH", None)
    site_packages = str(Path(httpx.__file__).resolve().parent.parent)
    result = subprocess.run(  # noqa: S603 (our own interpreters and arguments)
        [str(python), "-c", OPENAPI_SCRIPT, site_packages],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    paths: dict[str, dict[str, Any]] = json.loads(result.stdout)
    return {
        f"{method.upper()} {path}": {
            "operationId": operation["operationId"],
            "responses": sorted(operation["responses"]),
            "security": operation.get("security"),
            "body": sorted(operation.get("requestBody", {}).get("content", {})),
        }
        for path, operations in paths.items()
        for method, operation in operations.items()
    }


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=lambda path: path.name)
def test_example_is_the_fastapi_users_app_with_imports_renamed(
    example: Path, tmp_path: Path
) -> None:
    """Renamed back, the example is a FastAPI Users app with the very same routes."""
    if not REF_PYTHON.exists():
        pytest.skip(f"no reference FastAPI Users install at {REF_PYTHON}")
    renamed = tmp_path / example.name
    shutil.copytree(example, renamed, ignore=shutil.ignore_patterns("__pycache__", "*.db"))
    changed = 0
    for path in _sources(renamed):
        original = path.read_text()
        source = _rename_imports(original)
        old_lines, new_lines = original.splitlines(), source.splitlines()
        assert len(old_lines) == len(new_lines)
        for old_line, new_line in zip(old_lines, new_lines, strict=True):
            if old_line != new_line:  # only import lines differ
                assert re.match(r"(from|import) doorkeeper", old_line)
                changed += 1
        assert "doorkeeper" not in source
        path.write_text(source)
    assert changed > 0

    reference = _operations(REF_PYTHON, renamed, tmp_path / "reference.db")
    ours = _operations(sys.executable, example, tmp_path / "doorkeeper.db")
    assert ours == reference
    expected = {"POST /auth/register", "GET /authenticated-route", "PATCH /users/me"}
    assert expected <= set(ours)
