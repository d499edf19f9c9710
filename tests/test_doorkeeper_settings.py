"""`DoorkeeperSettings`: DOORKEEPER_* variables, `.env`, safe defaults, readable errors."""

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from doorkeeper.settings import (
    ConfigurationError,
    DoorkeeperSettings,
    derive_secret,
    is_local_url,
    load_settings,
)
from tests.test_doorkeeper import SECRET, clean_environment  # noqa: F401 (autouse fixture)


def test_defaults() -> None:
    settings = DoorkeeperSettings(secret=SECRET)
    assert settings.database_url == "sqlite+aiosqlite:///./doorkeeper.db"
    assert settings.public_url == "http://localhost:8000"
    assert settings.redis_url is None
    assert settings.auth_strategy == "database"
    assert settings.enumeration_safe_registration is True
    assert settings.password_min_length == 8
    assert settings.access_token_lifetime_seconds == 3600
    assert settings.smtp_host is None
    assert settings.secure_cookies is False  # http://localhost


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOORKEEPER_SECRET", SECRET)
    monkeypatch.setenv("doorkeeper_public_url", "https://auth.example.com/base/")
    monkeypatch.setenv("DOORKEEPER_STRATEGY", "jwt")
    monkeypatch.setenv("DOORKEEPER_ENUMERATION_SAFE_REGISTRATION", "false")
    monkeypatch.setenv("DOORKEEPER_SMTP_PASSWORD", "hunter2-hunter2")
    monkeypatch.setenv("DOORKEEPER_REDIS_URL", "  ")
    settings = DoorkeeperSettings()
    assert settings.secret.get_secret_value() == SECRET
    assert settings.public_url == "https://auth.example.com/base"
    assert settings.auth_strategy == "jwt"
    assert settings.enumeration_safe_registration is False
    assert settings.redis_url is None
    assert settings.secure_cookies is True
    assert "hunter2" not in repr(settings) and SECRET not in repr(settings)


def test_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text(
        f"DOORKEEPER_SECRET={SECRET}\nDOORKEEPER_DATABASE_URL=sqlite+aiosqlite:///./x.db\n"
        "OTHER_APP_SETTING=1\nDOORKEEPER_UNKNOWN=2\n"
    )
    settings = DoorkeeperSettings()
    assert settings.database_url == "sqlite+aiosqlite:///./x.db"
    monkeypatch.setenv("DOORKEEPER_DATABASE_URL", "sqlite+aiosqlite:///./y.db")
    assert DoorkeeperSettings().database_url.endswith("y.db")  # the environment wins


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://localhost:8000", True),
        ("http://127.0.0.1", True),
        ("http://[::1]:8000", True),
        ("https://localhost:8000", False),
        ("http://example.com", False),
        ("http://localhost.example.com", False),
        ("https://auth.example.com", False),
    ],
)
def test_cookies_are_secure_unless_served_locally_over_http(url: str, local: bool) -> None:
    assert is_local_url(url) is local
    assert DoorkeeperSettings(secret=SECRET, public_url=url).secure_cookies is not local
    forced = DoorkeeperSettings(secret=SECRET, public_url=url, cookie_secure=True)
    assert forced.secure_cookies is True


def test_one_secret_makes_distinct_keys() -> None:
    settings = DoorkeeperSettings(secret=SECRET)
    keys = {
        settings.verification_token_secret,
        settings.reset_password_token_secret,
        settings.access_token_secret,
    }
    assert len(keys) == 3
    assert all(len(key) == 64 and SECRET not in key for key in keys)
    assert settings.verification_token_secret == derive_secret(SECRET, "doorkeeper:verify")
    assert derive_secret(SecretStr(SECRET), "x") == derive_secret(SECRET, "x")
    other = DoorkeeperSettings(secret=SECRET + "!")
    assert other.verification_token_secret != settings.verification_token_secret


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "DOORKEEPER_SECRET is not set: generate one with `doorkeeper secret generate`"),
        ({"secret": ""}, "DOORKEEPER_SECRET is not set"),
        ({"secret": "é" * 15}, "DOORKEEPER_SECRET is 30 bytes long, it needs at least 32"),
        ({"strategy": "redis"}, "DOORKEEPER_STRATEGY=redis needs DOORKEEPER_REDIS_URL"),
        ({"strategy": "memcached"}, "DOORKEEPER_STRATEGY: Input should be"),
        ({"public_url": "ftp://example.com"}, "DOORKEEPER_PUBLIC_URL: public_url must be"),
        ({"public_url": "https://a.example/?x=1"}, "must not have a query"),
        ({"database_url": ""}, "DOORKEEPER_DATABASE_URL: The database URL is empty"),
        ({"access_token_lifetime_seconds": 0}, "DOORKEEPER_ACCESS_TOKEN_LIFETIME_SECONDS: "),
        ({"password_min_length": 0}, "DOORKEEPER_PASSWORD_MIN_LENGTH: "),
        ({"smtp_port": 70000}, "DOORKEEPER_SMTP_PORT: "),
    ],
)
def test_errors_name_the_variable(values: dict[str, object], message: str) -> None:
    values = {"secret": SECRET, **values} if "secret" not in values and values else values
    with pytest.raises(ConfigurationError) as caught:
        load_settings(**values)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_errors_never_show_the_values() -> None:
    with pytest.raises(ValidationError) as caught:
        DoorkeeperSettings(secret="short-secret-value", smtp_password="hunter2", smtp_port=0)
    assert "short-secret-value" not in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_load_settings_overrides_and_derives_again() -> None:
    base = load_settings(secret=SECRET)
    assert load_settings(base) is base
    moved = load_settings(base, public_url="https://auth.example.com", redis_url="redis://r")
    assert moved.secure_cookies is True  # derived again from the new URL
    assert moved.auth_strategy == "redis"
    pinned = load_settings(secret=SECRET, cookie_secure=False, strategy="jwt")
    moved = load_settings(pinned, public_url="https://auth.example.com", redis_url="redis://r")
    assert moved.secure_cookies is False  # given, so kept
    assert moved.auth_strategy == "jwt"
    with pytest.raises(ConfigurationError, match="DOORKEEPER_SECRET is 3 bytes"):
        load_settings(base, secret="abc")


def test_the_documentation_lists_every_variable() -> None:
    import re

    documentation = (Path(__file__).parent.parent / "docs" / "doorkeeper.md").read_text()
    documented = set(re.findall(r"^\| `DOORKEEPER_([A-Z_]+)` \|", documentation, re.MULTILINE))
    assert documented == {name.upper() for name in DoorkeeperSettings.model_fields}
