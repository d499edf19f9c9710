"""`doorkeeper db upgrade | downgrade | current | history`, through typer's runner.

The commands run their own event loop, so these tests are synchronous."""

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import create_engine
from typer.testing import CliRunner

from doorkeeper.cli.db import DEFAULT_DATABASE_URL, db_app

runner = CliRunner()


def _sync_url(url: str) -> str:
    """The same SQLite database through the synchronous driver, to prepare it here."""
    return url.replace("sqlite+aiosqlite:", "sqlite:")


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in stderr
    return lines[0]


def test_upgrade_current_history_downgrade(database_url: str, db_kind: str) -> None:
    if db_kind == "postgresql":  # the local server trusts connections: any password works
        database_url = database_url.replace("postgres@", "postgres:hunter2@")
    options = ["--database-url", database_url]
    result = runner.invoke(db_app, ["current", *options])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "none"

    result = runner.invoke(db_app, ["upgrade", *options])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("is at revision dk0004.")
    assert "hunter2" not in result.stdout

    result = runner.invoke(db_app, ["current", *options])
    assert result.exit_code == 0 and result.stdout.strip() == "dk0004"

    result = runner.invoke(db_app, ["history"])
    assert result.exit_code == 0
    assert result.stdout.startswith("dk0001: ") and "(head)" in result.stdout

    result = runner.invoke(db_app, ["downgrade", "base", *options])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("is at revision none.")


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
def test_the_url_comes_from_the_environment(database_url: str) -> None:
    environment = {"DOORKEEPER_DATABASE_URL": database_url}
    result = runner.invoke(db_app, ["upgrade", "dk0001"], env=environment)
    assert result.exit_code == 0, result.output
    result = runner.invoke(db_app, ["current"], env=environment)
    assert result.stdout.strip() == "dk0001"


def test_the_default_is_a_sqlite_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///./doorkeeper.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DOORKEEPER_DATABASE_URL", raising=False)
    result = runner.invoke(db_app, ["current"])
    assert result.stdout.strip() == "none"
    assert not (tmp_path / "doorkeeper.db").exists()  # asking does not create it
    result = runner.invoke(db_app, ["upgrade"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "doorkeeper.db").exists()
    assert runner.invoke(db_app, ["current"]).stdout.strip() == "dk0004"


BAD_URLS = [
    ("not a url", "is not a valid URL"),
    ("postgres://u:secret@127.0.0.1/db", "unknown database or driver"),
    ("sqlite:///./x.db", "synchronous driver"),
    ("postgresql+asyncpg://u:secret@127.0.0.1:1/db", "Cannot reach the database"),
    ("sqlite+aiosqlite:////nonexistent/dir/x.db", "Cannot open the SQLite database"),
]


@pytest.mark.parametrize(
    ("command", "url", "expected"),
    [
        (command, url, expected)
        for command in ("upgrade", "downgrade", "current")
        for url, expected in BAD_URLS
        # `current` answers "none" for a SQLite file that does not exist (tested above)
        if not (command == "current" and url.startswith("sqlite+aiosqlite"))
    ],
)
def test_a_bad_url_is_one_line_and_a_non_zero_status(command: str, url: str, expected: str) -> None:
    arguments = [command, "--database-url", url]
    if command == "downgrade":
        arguments.insert(1, "base")
    result = runner.invoke(db_app, arguments)
    assert result.exit_code == 1
    line = _one_error_line(result.stderr)
    assert expected in line
    assert "secret" not in result.output


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
def test_an_unknown_revision_is_one_line(database_url: str) -> None:
    result = runner.invoke(db_app, ["upgrade", "nope", "--database-url", database_url])
    assert result.exit_code == 1
    assert "nope" in _one_error_line(result.stderr)


def _fastapi_users_with_case_duplicates(url: str) -> list[str]:
    emails = [" Ann@Example.com", "ann@example.com", "Bob@example.com"]
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    'CREATE TABLE "user" (id CHAR(36) PRIMARY KEY, email VARCHAR(320) NOT NULL, '
                    "hashed_password VARCHAR(1024) NOT NULL, is_active BOOLEAN NOT NULL, "
                    "is_superuser BOOLEAN NOT NULL, is_verified BOOLEAN NOT NULL)"
                )
            )
            for email in emails:
                connection.execute(
                    sa.text('INSERT INTO "user" VALUES (:id, :email, :h, true, false, false)'),
                    {"id": str(uuid.uuid4()), "email": email, "h": "h"},
                )
    finally:
        engine.dispose()
    return emails


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
def test_case_duplicates_are_printed_and_refused(database_url: str) -> None:
    _fastapi_users_with_case_duplicates(_sync_url(database_url))
    result = runner.invoke(db_app, ["upgrade", "--database-url", database_url])
    assert result.exit_code == 1
    line = _one_error_line(result.stderr)
    assert "Ann@Example.com, ann@example.com" in line
    assert "Bob@example.com" not in line
    assert runner.invoke(db_app, ["current", "--database-url", database_url]).stdout == "none\n"


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
def test_a_refused_downgrade_is_one_line(database_url: str) -> None:
    engine = create_engine(_sync_url(database_url))
    with engine.begin() as connection:
        connection.execute(sa.text('CREATE TABLE "user" (id CHAR(36), email_normalized TEXT)'))
    engine.dispose()
    assert runner.invoke(db_app, ["upgrade", "--database-url", database_url]).exit_code == 0
    result = runner.invoke(db_app, ["downgrade", "base", "--database-url", database_url])
    assert result.exit_code == 1
    assert "Cannot downgrade below dk0001" in _one_error_line(result.stderr)


def test_no_command_shows_the_help() -> None:
    result = runner.invoke(db_app, [])
    assert "upgrade" in result.output and "downgrade" in result.output
