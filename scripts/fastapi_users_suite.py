"""Run FastAPI Users' own test suite against Doorkeeper, under the import rename.

    .venv/bin/python scripts/fastapi_users_suite.py            # counts, then each failure
    .venv/bin/python scripts/fastapi_users_suite.py --keep     # keep the work directory

Downloads the pinned sdists of FastAPI Users and fastapi-users-db-sqlalchemy (their
tests ship in them) into a temporary directory with `pip download`, renames their
imports (`fastapi_users_db_sqlalchemy` -> `doorkeeper.db.sqlalchemy`, `fastapi_users`
-> `doorkeeper`), and runs each suite with pytest and its own conftest. Their test-only
dependencies go into a throw-away venv that sees this project's `.venv`; nothing is
installed into `.venv` and nothing of theirs is kept.

Prints the pass and fail counts, the failures that test a behaviour Doorkeeper changed on
purpose counted by behaviour (docs/migration.md, section "FastAPI Users' own test suite
under the rename", with the SECURITY.md ids), and every other failure as "UNEXPECTED".
Exits 1 if any failure is unexpected or a suite cannot run. Needs network access to the
package registry; not part of `make test`.
"""

import argparse
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

FASTAPI_USERS = "fastapi-users==15.0.5"
FASTAPI_USERS_DB_SQLALCHEMY = "fastapi-users-db-sqlalchemy==7.0.0"
TEST_DEPENDENCIES = ("pytest-mock==3.17.0", "asgi-lifespan==2.1.0", "sniffio==1.3.1")
"""What their tests import beyond Doorkeeper's own dev dependencies."""

DELIBERATE: dict[str, str] = {
    # node id prefix -> why it fails (docs/migration.md)
    "tests/test_router_oauth.py::TestCallback::test_active_user": "H31/H32 foreign state",
    "tests/test_router_oauth.py::TestCallback::test_already_exists_error": "H31/H32 foreign state",
    "tests/test_router_oauth.py::TestCallback::test_redirect_url_router": "H31/H32 foreign state",
    "tests/test_router_oauth.py::TestCallback::test_email_not_available": "H31/H32 foreign state",
    "tests/test_router_oauth.py::TestAssociateCallback::test_active_user": "H31/H32 foreign state",
    "tests/test_router_oauth.py::TestAssociateCallback::test_redirect_url_router": (
        "H31/H32 foreign state"
    ),
    "tests/test_router_oauth.py::TestAssociateCallback::test_not_available_email": (
        "H31/H32 foreign state"
    ),
    "tests/test_openapi.py::TestOAuth2::test_oauth_callback_status_codes": "502, never 500",
    "tests/test_manager.py::TestOAuthCallback::test_existing_user_without_oauth_associate": (
        "H34 verified e-mail"
    ),
    "tests/test_authentication_strategy_db.py::TestReadToken::test_valid_token": "E23 digests",
    "tests/test_authentication_strategy_db.py::test_write_token": "E23 digests",
    "tests/test_authentication_strategy_db.py::test_destroy_token": "E23 digests",
    "tests/test_authentication_strategy_redis.py::TestReadToken::test_valid_token": "E23 digests",
    "tests/test_authentication_strategy_redis.py::test_write_token": "E23 digests",
    "tests/test_authentication_strategy_redis.py::test_destroy_token": "E23 digests",
    "tests/test_manager.py::TestUpdateUser::test_password_update_valid": "B9 current password",
    "tests/test_router_users.py::TestUpdateMe::test_invalid_password": "B9 current password",
    "tests/test_router_users.py::TestUpdateMe::test_valid_body_password": "B9 current password",
    "tests/test_router_users.py::TestUpdateMe::test_valid_body_password_verified_user": (
        "B9 current password"
    ),
    "tests/test_manager.py::TestForgotPassword::test_user_active": "I36 HMAC fingerprint",
    "tests/test_manager.py::TestResetPassword::test_valid_user_password": (
        "I36 compare-and-set reset"
    ),
}

_IMPORT_DB = re.compile(r"^(\s*)(from|import) fastapi_users_db_sqlalchemy\b", re.MULTILINE)
_IMPORT_ROOT = re.compile(r"^(\s*)(from|import) fastapi_users(?=[. ])", re.MULTILINE)


@dataclass
class Outcome:
    suite: str
    passed: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: int = 0
    error: str | None = None


def rename_imports(source: str) -> str:
    """Only import statements: `fastapi_users` is also a variable name in their tests."""
    source = _IMPORT_DB.sub(r"\1\2 doorkeeper.db.sqlalchemy", source)
    return _IMPORT_ROOT.sub(r"\1\2 doorkeeper", source)


def run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=False, text=True, capture_output=True, cwd=cwd)  # noqa: S603


def _is_top_pyproject(name: str) -> bool:
    return name.count("/") == 1 and name.endswith("/pyproject.toml")


def download(requirement: str, into: Path) -> Path:
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
    result = run([*pip, "--no-binary", ":all:", "--dest", str(into), requirement])
    if result.returncode != 0:
        raise SystemExit(f"pip download {requirement} failed:\n{result.stderr}")
    name = requirement.split("==")[0].replace("-", "_")
    [archive] = into.glob(f"{name}-*.tar.gz")
    return archive


def unpack_tests(archive: Path, into: Path) -> Path:
    """The sdist's `tests/` and `pyproject.toml` (their pytest settings) in `into`."""
    with tarfile.open(archive) as tar:
        members = [
            member
            for member in tar.getmembers()
            if member.isfile() and ("/tests/" in member.name or _is_top_pyproject(member.name))
        ]
        tar.extractall(into, members=members, filter="data")
    [root] = [path for path in into.iterdir() if path.is_dir()]
    for path in (root / "tests").rglob("*.py"):
        path.write_text(rename_imports(path.read_text(encoding="utf-8")), encoding="utf-8")
    return root


def make_venv(directory: Path) -> Path:
    """A venv with their test dependencies that also sees this project's `.venv`."""
    result = run([sys.executable, "-m", "venv", str(directory)])
    if result.returncode != 0:
        raise SystemExit(f"venv failed:\n{result.stderr}")
    python = directory / "bin" / "python"
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    ours = sysconfig.get_paths()["purelib"]
    Path(purelib.stdout.strip(), "doorkeeper-project.pth").write_text(
        f"import site; site.addsitedir({ours!r})\n", encoding="utf-8"
    )
    result = run([str(python), "-m", "pip", "install", "--quiet", *TEST_DEPENDENCIES])
    if result.returncode != 0:
        raise SystemExit(f"installing {TEST_DEPENDENCIES} failed:\n{result.stderr}")
    return python


def run_suite(python: Path, root: Path, suite: str) -> Outcome:
    report = root / "report.xml"
    result = run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={report}"],
        cwd=root,
    )
    outcome = Outcome(suite)
    if not report.exists():
        outcome.error = result.stdout[-3000:] + result.stderr[-3000:]
        return outcome
    for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314 - our own file
        # junit: classname "tests.test_x.TestY" (or "tests.test_x"), name "test_z[param]"
        module, _, klass = case.get("classname", "").partition(".Test")
        node = module.replace(".", "/") + ".py" + (f"::Test{klass}" if klass else "")
        node_id = f"{node}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            outcome.failed.append(node_id)
        elif case.find("skipped") is not None:
            outcome.skipped += 1
        else:
            outcome.passed += 1
    if result.returncode not in (0, 1):  # 1: some tests failed
        outcome.error = result.stdout[-3000:] + result.stderr[-3000:]
    return outcome


def deliberate_reason(node_id: str) -> str | None:
    base = node_id.split("[", 1)[0]
    return DELIBERATE.get(base)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fastapi-users-suite-"))
    try:
        downloads = work / "downloads"
        downloads.mkdir()
        python = make_venv(work / "venv")
        outcomes = []
        for suite, requirement in (
            ("fastapi-users", FASTAPI_USERS),
            ("fastapi-users-db-sqlalchemy", FASTAPI_USERS_DB_SQLALCHEMY),
        ):
            target = work / suite
            target.mkdir()
            root = unpack_tests(download(requirement, downloads), target)
            print(f"running {requirement} tests ...", flush=True)
            outcomes.append(run_suite(python, root, suite))
    finally:
        if args.keep:
            print(f"work directory: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    unexpected = 0
    total_passed = total = 0
    for outcome in outcomes:
        count = outcome.passed + len(outcome.failed)
        total_passed += outcome.passed
        total += count
        print(
            f"{outcome.suite}: {outcome.passed}/{count} passed, {len(outcome.failed)} failed"
            + (f", {outcome.skipped} skipped" if outcome.skipped else "")
        )
        if outcome.error is not None:
            unexpected += 1
            print(f"  the suite did not run cleanly:\n{outcome.error}")
        groups: dict[str, int] = {}
        for node_id in outcome.failed:
            reason = deliberate_reason(node_id)
            if reason is None:
                unexpected += 1
                print(f"  UNEXPECTED: {node_id}")
            else:
                groups[reason] = groups.get(reason, 0) + 1
        for reason, failures in sorted(groups.items()):
            print(f"  deliberate ({reason}): {failures}")
    share = 100 * total_passed / total if total else 0.0
    print(f"total: {total_passed}/{total} passed ({share:.1f}%); {unexpected} unexpected")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
