"""`DoorkeeperSettings`: DOORKEEPER_* variables, `.env`, safe defaults, readable errors."""

from pathlib import Path
from typing import Any

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
        "OTHER_APP_SETTING=1\n"
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


# --- names that are not settings (issue 13.3) ------------------------------------------


def test_a_misspelt_argument_names_the_setting_meant() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown setting 'auth_strategy'.*'strategy'"):
        DoorkeeperSettings(secret=SECRET, auth_strategy="jwt")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(secret=SECRET, redis_ulr="redis://localhost")
    assert str(caught.value) == (
        "unknown setting 'redis_ulr' (DOORKEEPER_REDIS_ULR): "
        "did you mean 'redis_url' (DOORKEEPER_REDIS_URL)?"
    )
    with pytest.raises(ConfigurationError, match=r"unknown setting 'zzz'.*docs/doorkeeper.md"):
        load_settings(secret=SECRET, zzz=1)


def test_an_unknown_variable_names_the_variable_meant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOORKEEPER_SECRET", SECRET)
    monkeypatch.setenv("doorkeeper_stratgy", "jwt")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert str(caught.value) == (
        "unknown environment variable DOORKEEPER_STRATGY: did you mean DOORKEEPER_STRATEGY?"
    )


def test_an_unknown_variable_in_dotenv_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DOORKEEPER_SECRET={SECRET}\nDOORKEEPER_PUBLIC_ULR=x\n")
    with pytest.raises(ConfigurationError, match="PUBLIC_ULR: did you mean DOORKEEPER_PUBLIC_URL"):
        load_settings()


def test_variables_that_are_not_settings_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOORKEEPER_DEBUG", "1")
    monkeypatch.setenv("DOORKEEPER_TEST_ANYTHING", "1")
    assert load_settings(secret=SECRET).auth_strategy == "database"


def test_a_misspelt_doorkeeper_argument_names_the_one_meant() -> None:
    from doorkeeper import Doorkeeper

    with pytest.raises(TypeError, match=r"unknown argument 'redis_ur': did you mean 'redis_url'"):
        Doorkeeper(secret=SECRET, redis_ur="redis://localhost")  # type: ignore[call-arg]
    with pytest.raises(TypeError) as caught:
        Doorkeeper(secret=SECRET, auth_strategy="jwt")  # type: ignore[call-arg]
    assert "the setting 'strategy'" in str(caught.value)
    assert "DoorkeeperSettings(strategy=...)" in str(caught.value)
    with pytest.raises(TypeError, match="unknown argument 'qqq'"):
        Doorkeeper(secret=SECRET, qqq=1)  # type: ignore[call-arg]


def test_a_subclass_taking_any_keyword_is_not_second_guessed() -> None:
    from doorkeeper import Doorkeeper

    class Flexible(Doorkeeper):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.extra = kwargs.pop("extra")
            super().__init__(*args, **kwargs)

    assert Flexible(secret=SECRET, extra=1).extra == 1
