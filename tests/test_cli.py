"""The `doorkeeper` command through typer's runner: every command, its happy path and
its mistakes (one line on stderr, exit status 1, no traceback).

The commands run their own event loop, so these tests are synchronous."""

import asyncio
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from doorkeeper import Doorkeeper
from doorkeeper.adapter.models import User
from doorkeeper.cli import app
from doorkeeper.cli.common import DEV_SECRET_FILE
from tests.test_doorkeeper import PASSWORD, SECRET, clean_environment  # noqa: F401

NEW_PASSWORD = "another-long-passphrase-for-tests-77"
runner = CliRunner()


def invoke(*args: str, input: str | None = None, **env: str) -> Result:
    return runner.invoke(app, list(args), input=input, env=env or None)


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def one_error(result: Result) -> str:
    """The single `Error: ...` line of a failed command."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0].removeprefix("Error: ")


def get_user(email: str, database_url: str = "sqlite+aiosqlite:///./doorkeeper.db") -> User | None:
    async def main() -> User | None:
        auth = Doorkeeper(database_url, SECRET)
        try:
            await auth.startup()
            return await auth.adapter.user.get_by_email(email)
        finally:
            await auth.shutdown()

    return asyncio.run(main())


def verifies(email: str, password: str) -> bool:
    from doorkeeper.password import PasswordHelper

    user = get_user(email)
    assert user is not None
    return PasswordHelper().verify_and_update(password, user.hashed_password)[0]


def test_help_lists_every_command() -> None:
    output = ok(invoke("--help"))
    for command in ("serve", "users", "db", "secret"):
        assert command in output
    output = ok(invoke("users", "--help"))
    for command in ("create", "list", "set-password", "activate", "deactivate", "delete"):
        assert command in output
    assert "upgrade" in ok(invoke("db", "--help"))
    assert "dk0001" in ok(invoke("db", "history"))


def test_secret_generate() -> None:
    first, second = ok(invoke("secret", "generate")).strip(), invoke("secret", "generate").stdout
    assert len(first) == 64 and first != second.strip()
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_users_lifecycle_with_the_development_secret(tmp_path: Path) -> None:
    result = invoke(
        "users", "create", "Admin@Example.com", "--superuser", "--password-stdin", input=PASSWORD
    )
    assert ok(result).startswith("Created superuser Admin@example.com (")
    assert result.stderr == ""
    mode = (tmp_path / DEV_SECRET_FILE).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    secret = (tmp_path / DEV_SECRET_FILE).read_text().strip()
    assert len(secret) == 64

    # Asked twice when not on stdin; the development secret is reused.
    result = invoke("users", "create", "bob@example.com", input=f"{PASSWORD}\n{PASSWORD}\n")
    prompts, created = ok(result).rsplit("\n", 2)[:2]
    assert prompts == "Password: \nRepeat for confirmation: "
    assert created.startswith("Created user bob@example.com (")
    assert (tmp_path / DEV_SECRET_FILE).read_text().strip() == secret

    lines = ok(invoke("users", "list")).splitlines()
    assert lines[0].split() == ["ID", "E-MAIL", "ACTIVE", "SUPERUSER", "VERIFIED"]
    rows = [line.split() for line in lines[1:]]
    assert [row[1:] for row in rows] == [
        ["Admin@example.com", "yes", "yes", "yes"],
        ["bob@example.com", "yes", "no", "yes"],
    ]
    admin = get_user("admin@example.com")
    assert admin is not None and rows[0][0] == str(admin.id)

    result = invoke(
        "users", "set-password", "BOB@example.com", "--password-stdin", input=NEW_PASSWORD
    )
    assert "sessions have ended" in ok(result)
    assert verifies("bob@example.com", NEW_PASSWORD)
    bob = get_user("bob@example.com")
    assert bob is not None and bob.tokens_valid_after is not None

    assert ok(invoke("users", "deactivate", "bob@example.com")).startswith("bob@example.com is")
    assert "bob@example.com  no" in " ".join(ok(invoke("users", "list")).split("  "))
    bob = get_user("bob@example.com")
    assert bob is not None and bob.is_active is False
    ok(invoke("users", "activate", "bob@example.com"))
    bob = get_user("bob@example.com")
    assert bob is not None and bob.is_active is True

    result = invoke("users", "delete", "bob@example.com", input="n\n")
    assert result.exit_code == 1 and get_user("bob@example.com") is not None
    assert ok(invoke("users", "delete", "bob@example.com", input="y\n")).endswith(
        "Deleted bob@example.com.\n"
    )
    assert get_user("bob@example.com") is None
    ok(invoke("users", "delete", "admin@example.com", "--yes"))
    assert ok(invoke("users", "list")) == "No users.\n"


def test_users_commands_take_the_configured_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    ok(invoke("users", "create", "carol@example.com", "--password-stdin", input=PASSWORD,
              DOORKEEPER_DATABASE_URL=url, DOORKEEPER_SECRET=SECRET))  # fmt: skip
    assert get_user("carol@example.com", url) is not None
    assert not (tmp_path / DEV_SECRET_FILE).exists()  # a secret was given
    listed = ok(invoke("users", "list", "--database-url", url, DOORKEEPER_SECRET=SECRET))
    assert "carol@example.com" in listed


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["create", "not-an-email"], PASSWORD, "not a valid e-mail address: An email address"),
        (["create", "dave@example.com"], "password", "password refused: Password is too common."),
        (["create", "dave@example.com"], "dave@example.com", "password refused: Password shoul"),
        (["create", "dave@example.com"], "x" * 1025, "password: String should have at most 1024"),
        (["create", "dave@example.com"], "", "no password on standard input"),
        (["set-password", "dave@example.com"], "short", "password refused: Password should be"),
        (["set-password", "dave@example.com"], "x" * 1025, "password: String should have at mos"),
        (["set-password", "nobody@example.com"], PASSWORD, "no user has the e-mail address 'nob"),
    ],
)
def test_bad_users_input(args: list[str], stdin: str, message: str) -> None:
    ok(invoke("users", "create", "dave@example.com", "--password-stdin", input=PASSWORD))
    result = invoke("users", *args, "--password-stdin", input=stdin)
    assert one_error(result).startswith(message)


def test_existing_user_and_unknown_users() -> None:
    ok(invoke("users", "create", "erin@example.com", "--password-stdin", input=PASSWORD))
    result = invoke("users", "create", "ERIN@example.com", "--password-stdin", input=PASSWORD)
    assert one_error(result) == "a user with the e-mail address 'ERIN@example.com' exists"
    for command in (["activate"], ["deactivate"], ["delete", "--yes"]):
        result = invoke("users", *command, "frank@example.com")
        assert one_error(result) == "no user has the e-mail address 'frank@example.com'"


def test_the_password_prompt_wants_the_same_password_twice() -> None:
    result = invoke("users", "create", "gina@example.com", input=f"{PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 1
    assert "do not match" in result.output
    assert get_user("gina@example.com") is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DOORKEEPER_DATABASE_URL": "nonsense"}, "DOORKEEPER_DATABASE_URL: The database URL 'no"),
        (
            {"DOORKEEPER_DATABASE_URL": "mysql://root@localhost/x"},
            "DOORKEEPER_DATABASE_URL: The driver 'MySQLdb' of the database URL mysql://root@l",
        ),
        (
            {"DOORKEEPER_DATABASE_URL": "postgresql+asyncpg://postgres:hunter2@127.0.0.1:1/x"},
            "Cannot reach the database at postgresql+asyncpg://postgres:***@127.0.0.1:1/x: ",
        ),
        (
            {"DOORKEEPER_DATABASE_URL": "sqlite+aiosqlite:////nonexistent-dir/auth.db"},
            "Cannot open the SQLite database '/nonexistent-dir/auth.db'",
        ),
        (
            {"DOORKEEPER_PUBLIC_URL": "https://auth.example.com"},
            "DOORKEEPER_SECRET is not set (a development secret is only made when DOORKEEPER_P",
        ),
        ({"DOORKEEPER_SECRET": "too-short"}, "DOORKEEPER_SECRET is 9 bytes long"),
        ({"DOORKEEPER_SECRET": ""}, "DOORKEEPER_SECRET is not set: generate one with `doorkee"),
        ({"DOORKEEPER_STRATEGY": "redis"}, "DOORKEEPER_STRATEGY=redis needs DOORKEEPER_REDIS_URL"),
    ],
)
@pytest.mark.parametrize("command", [["users", "list"], ["serve"]])
def test_bad_settings(env: dict[str, str], message: str, command: list[str]) -> None:
    result = invoke(*command, **env)
    error = one_error(result)
    assert error.startswith(message), error
    assert "hunter2" not in result.output


def test_a_secret_in_dotenv_is_used(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DOORKEEPER_SECRET={SECRET}\n")
    ok(invoke("users", "list"))
    assert not (tmp_path / DEV_SECRET_FILE).exists()


@pytest.mark.parametrize(
    ("content", "mode", "message"),
    [
        ("x" * 64, 0o644, "can be read by other users: run `chmod 600 .doorkeeper-secret`"),
        ("short", 0o600, "holds less than 32 bytes: delete it to get a new one"),
        (None, 0o700, "cannot read the development secret file"),
    ],
)
def test_a_broken_development_secret_file(
    tmp_path: Path, content: str | None, mode: int, message: str
) -> None:
    path = tmp_path / DEV_SECRET_FILE
    if content is None:
        path.mkdir()
    else:
        path.write_text(content)
    path.chmod(mode)
    assert message in one_error(invoke("users", "list"))


def test_no_place_for_the_development_secret(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    os.chdir(gone)
    gone.rmdir()
    error = one_error(invoke("users", "list"))
    assert error.startswith("cannot create the development secret file .doorkeeper-secret: ")
    assert "set DOORKEEPER_SECRET" in error


def test_unexpected_errors_are_one_line_unless_debugging(monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    import doorkeeper.cli.users

    async def broken(adapter: Any) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(doorkeeper.cli.users, "prepare_storage", broken)
    error = one_error(invoke("users", "list"))
    assert error == "RuntimeError: boom (set DOORKEEPER_DEBUG=1 for details)"
    result = invoke("users", "list", DOORKEEPER_DEBUG="1")
    assert isinstance(result.exception, RuntimeError)

    async def gone(adapter: Any) -> None:
        raise OperationalError("SELECT 1", {}, ConnectionResetError("reset"))

    monkeypatch.setattr(doorkeeper.cli.users, "prepare_storage", gone)
    error = one_error(invoke("users", "list"))
    assert error == "the database (or Redis) cannot be reached: OperationalError"


def test_serve_checks_then_runs_uvicorn(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    result = invoke("serve", "--port", "8123")
    output = ok(result)
    assert f"Created the development secret in {tmp_path / DEV_SECRET_FILE}" in output
    assert "Doorkeeper on http://127.0.0.1:8123 (API docs at /docs); database sqlite" in output
    assert "tokens: database; mail: console; links to http://127.0.0.1:8123." in output
    ((served, options),) = calls
    assert options == {"host": "127.0.0.1", "port": 8123, "log_level": "info"}
    assert served.state.doorkeeper.settings.public_url == "http://127.0.0.1:8123"
    assert (tmp_path / "doorkeeper.db").exists()  # made by the check

    # A configured public URL is kept; 0.0.0.0 is shown as localhost.
    wildcard = "0.0.0.0"  # noqa: S104 - uvicorn.run is a stub here
    output = ok(invoke("serve", "--host", wildcard, DOORKEEPER_PUBLIC_URL="http://localhost:9"))
    assert f"Using the development secret in {tmp_path / DEV_SECRET_FILE}" in output
    assert "Doorkeeper on http://localhost:8000" in output
    assert calls[-1][0].state.doorkeeper.settings.public_url == "http://localhost:9"


def test_serve_reload_hands_the_settings_to_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    monkeypatch.setenv("DOORKEEPER_ENUMERATION_SAFE_REGISTRATION", "true")  # restored after
    try:
        ok(invoke("serve", "--reload", "--host", "::1", "--port", "8124"))
        assert os.environ["DOORKEEPER_PUBLIC_URL"] == "http://[::1]:8124"
        assert os.environ["DOORKEEPER_SECRET"] == DEV_SECRET_FILE.read_text().strip()
    finally:
        os.environ.pop("DOORKEEPER_PUBLIC_URL", None)
        os.environ.pop("DOORKEEPER_SECRET", None)
    ((target, options),) = calls
    assert target == "doorkeeper.server:create_app"
    assert options["factory"] is True and options["reload"] is True


def test_serve_with_redis_unreachable() -> None:
    result = invoke(
        "serve", DOORKEEPER_REDIS_URL="redis://:hunter2@127.0.0.1:1/0", DOORKEEPER_SECRET=SECRET
    )
    error = one_error(result)
    assert error.startswith("Cannot reach Redis at redis://127.0.0.1:1/0: ")
    assert "hunter2" not in result.output


def test_main_and_python_dash_m(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    import runpy
    import sys

    from doorkeeper.cli import main

    monkeypatch.setattr(sys, "argv", ["doorkeeper", "secret", "generate"])
    with pytest.raises(SystemExit) as caught:
        main()
    assert caught.value.code == 0
    with pytest.raises(SystemExit) as caught:
        runpy.run_module("doorkeeper.cli", run_name="__main__")
    assert caught.value.code == 0
    assert len(capsys.readouterr().out.split()) == 2


def test_users_list_reads_every_page(monkeypatch: pytest.MonkeyPatch) -> None:
    import doorkeeper.cli.users

    for name in ("a", "b", "c"):
        ok(invoke("users", "create", f"{name}@example.com", "--password-stdin", input=PASSWORD))
    monkeypatch.setattr(doorkeeper.cli.users, "PAGE_SIZE", 2)
    lines = ok(invoke("users", "list")).splitlines()
    assert [line.split()[1] for line in lines[1:]] == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]


def test_serve_reload_with_configured_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    calls: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(app))
    monkeypatch.setenv("DOORKEEPER_SECRET", SECRET)
    monkeypatch.setenv("DOORKEEPER_PUBLIC_URL", "https://auth.example.com")
    output = ok(invoke("serve", "--reload"))
    assert "development secret" not in output
    assert "links to https://auth.example.com." in output
    assert os.environ["DOORKEEPER_SECRET"] == SECRET  # left as it was
    assert calls == ["doorkeeper.server:create_app"]
    assert not DEV_SECRET_FILE.exists()
