"""The benchmark script keeps working: its quick mode runs end to end and prints every
workload's row. No figure is asserted (timings belong to `make bench`, not to tests)."""

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.services import POSTGRES_URL, REDIS_URL, service_missing

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "benchmarks" / "run.py"
# The quick mode loads both CPUs: never beside the timing tests (conftest.py).
pytestmark = pytest.mark.xdist_group("timing")

W1_ROWS = [
    "| W1 jwt GET /users/me",
    "| W1 db GET /users/me",
    "| W1 redis GET /users/me",
    "| W1 graph floor GET /floor/users/me",
    "| W1 bare GET /bare",
]
AUTH_CACHE_ROWS = [
    "| W1 jwt + AuthCache GET /users/me",
    "| W1 db + AuthCache GET /users/me",
    "| W1 redis + AuthCache GET /users/me",
]
QUICK_ROWS = [
    *W1_ROWS,
    *AUTH_CACHE_ROWS,
    "| W2 logins/s",
    "| W3 /users/me p99 during W2",
    "| W4 login p50, 200 users",
    "| W4 login p50, 1k users",
    "| W5 20 concurrent registrations, one e-mail",
    "| W5 20 concurrent registrations, case variants",
    "| W6 RSS after 200 logins, db strategy",
    "| W6 RSS after 200 logins, redis strategy",
]


@pytest.fixture(scope="module")
def bench_env() -> dict[str, str]:
    """The services' URLs, as the benchmark reads them; skips (or fails in CI) without them."""
    import redis

    url = make_url(POSTGRES_URL).set(drivername="postgresql", database="postgres")
    env = {
        **os.environ,
        "BENCH_POSTGRES_URL": url.render_as_string(hide_password=False),
        "BENCH_REDIS_URL": REDIS_URL,
    }
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as error:
        service_missing("Redis", error)
    finally:
        client.close()
    try:
        asyncio.run(_postgres_ping(env["BENCH_POSTGRES_URL"]))
    except (OSError, asyncpg.PostgresError) as error:
        service_missing("PostgreSQL", error)
    return env


async def _postgres_ping(url: str) -> None:
    connection = await asyncpg.connect(url, timeout=5)
    await connection.close()


def run_bench(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own script, our arguments
        [sys.executable, str(RUN), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_quick_mode_prints_every_workload(bench_env: dict[str, str]) -> None:
    output = run_bench(bench_env, "--quick")
    assert "# Doorkeeper vs FastAPI Users: benchmark" in output
    for fact in ("- machine: 2 cores" if os.cpu_count() == 2 else "- machine:", "- commit:"):
        assert fact in output
    assert "- load generator:" in output
    assert "- Doorkeeper side: python" in output
    table = output.split("## Comparison", 1)[1].split("## Every figure", 1)[0]
    for row in QUICK_ROWS:
        assert row in table, f"{row!r} missing from:\n{table}"
    rows = {line.split(" |", 1)[0]: line for line in table.splitlines() if line.startswith("| W1")}
    # Both Doorkeeper variants are judged against FastAPI Users, the bare endpoint and
    # the graph floor; the floor is given as a share of bare.
    for row in ("| W1 jwt", "| W1 jwt + AuthCache"):
        verdict = rows[row + " GET /users/me req/s (c=32)"]
        assert "of bare" in verdict and "of floor" in verdict, verdict
    assert "Doorkeeper without it" in rows["| W1 jwt + AuthCache GET /users/me req/s (c=32)"]
    assert "% of bare" in rows["| W1 graph floor GET /floor/users/me req/s (c=32)"]
    assert "- Doorkeeper + AuthCache (W1 only):" in output
    assert "- W1 graph floor:" in output
    figures = output.split("## Every figure", 1)[1]
    assert "| W1 jwt | doorkeeper+cache | rps |" in figures
    assert "| W1 floor | doorkeeper | rps |" in figures
    assert "W4: plans of the e-mail lookup" in output
    assert "Index Scan using" in output  # Doorkeeper's lookup of email_normalized
    if (ROOT / "benchmarks" / ".venv-fastapi-users" / "bin" / "python").exists():
        assert "- FastAPI Users side: python" in output
    else:
        assert "FastAPI Users' environment is absent" in output


def test_the_other_load_generator(bench_env: dict[str, str]) -> None:
    """The quick run above used wrk when installed, loadgen.py otherwise: this one the
    other, without the AuthCache variant (`--no-auth-cache`)."""
    other = "python" if shutil.which("wrk") else "wrk"
    if other == "wrk":
        pytest.skip("wrk is not installed: loadgen.py ran the quick mode above")
    output = run_bench(
        bench_env,
        *("--quick", "--loadgen", other, "--only", "W1", "--libs", "doorkeeper"),
        "--no-auth-cache",
    )
    assert "- load generator: loadgen.py (Python)" in output
    for row in W1_ROWS:
        assert row in output
    for row in AUTH_CACHE_ROWS:
        assert row not in output
    assert "Doorkeeper + AuthCache" not in output
    assert "| W2 logins/s" not in output
