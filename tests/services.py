"""Where the test services are, and what to do when one is missing.

URLs come from environment variables, with this machine's local services as defaults.
Outside CI a missing service skips the tests that need it, naming the service; with
DOORKEEPER_TEST_REQUIRE_SERVICES=1 (set by .ci/run) a missing service fails them instead.
"""

import os

import pytest

POSTGRES_URL = os.environ.get(
    "DOORKEEPER_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
MYSQL_URL = os.environ.get("DOORKEEPER_TEST_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("DOORKEEPER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("DOORKEEPER_TEST_REQUIRE_SERVICES", "") not in ("", "0", "false")


def service_missing(name: str, error: BaseException) -> None:
    message = f"{name} is unreachable ({type(error).__name__}: {error})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; DOORKEEPER_TEST_REQUIRE_SERVICES is set", pytrace=False)
    pytest.skip(message)
