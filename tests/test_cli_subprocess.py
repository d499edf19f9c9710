"""The `doorkeeper` command as a real process: `python -m doorkeeper.cli`, and the
console script installed beside the interpreter."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_doorkeeper import PASSWORD, clean_environment  # noqa: F401
from tests.test_server import clean_environment_for

SCRIPT = Path(sys.executable).parent / "doorkeeper"


def run(
    tmp_path: Path, *args: str, script: bool = False, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    """`doorkeeper ARGS` in `tmp_path`, with no DOORKEEPER_* setting but `env`."""
    command = [str(SCRIPT)] if script else [sys.executable, "-m", "doorkeeper.cli"]
    return subprocess.run(  # noqa: S603 - our own command
        [*command, *args],
        cwd=tmp_path,
        env=clean_environment_for(tmp_path, **env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_python_dash_m(tmp_path: Path) -> None:
    result = run(tmp_path, "secret", "generate")
    assert result.returncode == 0 and len(result.stdout.strip()) == 64
    result = run(tmp_path, "users", "create", "ida@example.com", "--password-stdin", stdin=PASSWORD)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Created user ida@example.com (")
    listed = run(tmp_path, "users", "list")
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[1].split()[1:] == ["ida@example.com", "yes", "no", "yes"]


@pytest.mark.skipif(not SCRIPT.exists(), reason="the console script is not installed")
def test_the_installed_script(tmp_path: Path) -> None:
    result = run(tmp_path, "--help", script=True)
    assert result.returncode == 0 and "serve" in result.stdout
    result = run(tmp_path, "db", "upgrade", script=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("is at revision dk0004.")
    result = run(tmp_path, "users", "list", script=True)
    assert (result.returncode, result.stdout) == (0, "No users.\n")


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("users", "delete", "nobody@example.com", "--yes"), {}, "no user has the e-mail"),
        (("users", "list"), {"DOORKEEPER_DATABASE_URL": "x"}, "DOORKEEPER_DATABASE_URL: The"),
        (
            ("users", "list"),
            {"DOORKEEPER_DATABASE_URL": "mysql+aiomysql://root@127.0.0.1:1/x"},
            "Cannot reach the database at mysql+aiomysql://root@127.0.0.1:1/x",
        ),
        (("users", "list"), {"DOORKEEPER_SECRET": "x"}, "DOORKEEPER_SECRET is 1 bytes long"),
        (("db", "current"), {"DOORKEEPER_DATABASE_URL": "x://"}, "The database URL"),
    ],
)
def test_mistakes_are_one_line_and_status_1(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    result = run(tmp_path, *args, **env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
