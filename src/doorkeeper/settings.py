"""`DoorkeeperSettings`: the configuration of the `Doorkeeper` object and of the ready-made
server, read from `DOORKEEPER_*` environment variables or a `.env` file (pydantic-settings).

One secret is enough: the keys of verification, reset and access tokens are derived from
it (HMAC-SHA256 with a distinct label each), so a token of one kind never verifies as
another and no derived key reveals the secret.
"""

import difflib
import hashlib
import hmac
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from doorkeeper.adapter.engine import parse_database_url
from doorkeeper.email.links import normalize_public_url
from doorkeeper.rbac.permissions import validate_role_name

__all__ = [
    "ENV_PREFIX",
    "GENERATE_SECRET_COMMAND",
    "MIN_SECRET_BYTES",
    "ConfigurationError",
    "DoorkeeperSettings",
    "derive_secret",
    "is_local_url",
    "load_settings",
]

ENV_PREFIX = "DOORKEEPER_"
MIN_SECRET_BYTES = 32
GENERATE_SECRET_COMMAND = "doorkeeper secret generate"  # noqa: S105 - a command
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
_ERROR_PREFIX = "Value error, "
NOT_SETTINGS = frozenset({f"{ENV_PREFIX}DEBUG"})
"""`DOORKEEPER_*` variables that are not settings: the CLI's `DOORKEEPER_DEBUG`."""
RESERVED_ENV_PREFIX = f"{ENV_PREFIX}TEST_"
"""Variables under this prefix belong to Doorkeeper's own test suite, not to settings."""


class ConfigurationError(ValueError):
    """The settings are unusable; the message is one line naming the variable to fix."""


def derive_secret(secret: str | SecretStr, label: str) -> str:
    """HMAC-SHA256(secret, label) in hex: a key of its own for each use of one secret."""
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return hmac.new(value.encode("utf-8"), label.encode("utf-8"), hashlib.sha256).hexdigest()


def closest_name(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like `name` (a misspelling's likely intent), if any is close."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    if matches:
        return matches[0]
    # A name that contains a valid one (`auth_strategy` for `strategy`), or the reverse.
    parts = set(name.split("_"))
    overlapping = [c for c in candidates if parts & set(c.split("_"))]
    return max(overlapping, key=lambda c: len(parts & set(c.split("_"))), default=None)


def unknown_name_message(
    kind: str, name: str, candidates: Iterable[str], show: Callable[[str], str] = str
) -> str:
    """`unknown <kind> x: did you mean y?`, or a pointer to the list of names; `show`
    writes a name as the message gives it."""
    suggestion = closest_name(name, candidates)
    hint = f"did you mean {show(suggestion)}?" if suggestion else "see docs/doorkeeper.md"
    return f"unknown {kind} {show(name)}: {hint}"


def _env_files(setting: Any) -> list[Path]:
    """The `.env` files a settings class reads that exist (`env_file` may be a list)."""
    if setting is None:
        return []
    paths = [setting] if isinstance(setting, (str, os.PathLike)) else list(setting)
    return [Path(path) for path in paths if Path(path).is_file()]


def _as_setting(name: str) -> str:
    return f"'{name}' ({ENV_PREFIX}{name.upper()})"


def is_local_url(url: str) -> bool:
    """Whether `url` is plain http on this machine (a development set-up)."""
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS


class DoorkeeperSettings(BaseSettings):
    """Every setting, as `DOORKEEPER_<NAME>` (e.g. `DOORKEEPER_SECRET`); see docs/doorkeeper.md."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",  # unknown names are refused by `_check_names`, by name
        hide_input_in_errors=True,  # never echo a secret in an error
        validate_default=False,
    )

    database_url: str = "sqlite+aiosqlite:///./doorkeeper.db"
    """SQLAlchemy async URL: sqlite+aiosqlite, postgresql+asyncpg or mysql+aiomysql."""
    secret: SecretStr = Field(default=SecretStr(""), validate_default=True)
    """At least 32 random bytes; `doorkeeper secret generate` prints one."""
    public_url: str = "http://localhost:8000"
    """Where users reach the server: the links in mails start with it."""
    redis_url: str | None = None
    strategy: Literal["database", "jwt", "redis"] | None = None
    """How access tokens are kept: database rows, signed JWTs, or Redis keys.
    `None`: "redis" if `redis_url` is set, else "database"."""
    session_store: Literal["database", "redis"] | None = None
    """Where login sessions and refresh tokens live. `None`: "redis" with the Redis
    strategy, else "database" (the auth cache or rate limits never move them)."""
    oauth_state_store: Literal["database", "redis"] | None = None
    """Where spent OAuth states are remembered (single use). `None`: as `session_store`."""
    rate_limit_store: Literal["memory", "redis"] | None = None
    """Where rate-limit counters live. `None`: "redis" if `redis_url` is set (shared by
    every instance), else "memory" (one process only)."""
    access_token_lifetime_seconds: int = Field(default=3600, gt=0)
    refresh_tokens: bool = True
    """Login also returns a refresh token; POST /auth/{backend}/refresh rotates it."""
    session_idle_timeout_seconds: int | None = Field(default=7 * 86400, gt=0)
    """A session with no login or refresh for this long ends (`None`: never idle)."""
    session_lifetime_seconds: int = Field(default=30 * 86400, gt=0)
    """A session and its refresh tokens end this long after the login, whatever happens."""
    auth_cache_seconds: float = Field(default=0, ge=0)
    """Answer a token accepted recently from memory for up to this long (0: off); any
    change through Doorkeeper ends the answer at once in every process (docs/performance.md).
    Needs `redis_url`, or `auth_cache_single_process`."""
    auth_cache_single_process: bool = False
    """Declare that one process serves the app, so the cache needs no Redis channel."""
    cookie_name: str = "doorkeeper_auth"
    cookie_secure: bool | None = None
    """`None`: Secure, unless `public_url` is http://localhost or http://127.0.0.1."""
    cookie_samesite: Literal["lax", "strict", "none"] = "lax"
    trusted_proxies: list[str] = []
    """Proxies (addresses or CIDR blocks) whose `X-Forwarded-For` names the client: used
    by rate limits, sessions and audit events. Empty: the peer address is the client."""
    rate_limits_enabled: bool = True
    rate_limit_key_prefix: str = "doorkeeper:ratelimit"
    rate_limit_login_per_account: str | None = "10/15 minutes"
    rate_limit_login_per_ip: str | None = "100/15 minutes"
    rate_limit_token_per_ip: str | None = "20/15 minutes"  # noqa: S105 - a rate
    rate_limit_forgot_password_per_address: str | None = "5/15 minutes"  # noqa: S105
    rate_limit_forgot_password_per_ip: str | None = "50/15 minutes"  # noqa: S105
    rate_limit_request_verify_per_address: str | None = "5/15 minutes"
    rate_limit_request_verify_per_ip: str | None = "50/15 minutes"
    csrf_trusted_origins: list[str] = []
    """Other origins (`https://app.example.com`) whose pages may send cookie-authenticated
    requests; the origin of `public_url` is always trusted."""
    enumeration_safe_registration: bool = True
    email_change_requires_confirmation: bool = True
    """PATCH /users/me with a new e-mail waits for a confirmation from the new address."""
    enumeration_safe_email_change: bool = True
    """With confirmation on, a taken new address gets the answer a free one gets."""
    """POST /auth/register answers 202 whether the address is new or taken."""
    password_min_length: int = Field(default=8, ge=1, le=64)
    verification_token_lifetime_seconds: int = Field(default=86400, gt=0)
    reset_password_token_lifetime_seconds: int = Field(default=3600, gt=0)
    smtp_host: str | None = None
    """`None`: mails are printed to the console instead of being sent."""
    smtp_port: int | None = Field(default=None, gt=0, lt=65536)
    """`None`: 587 for starttls, 465 for tls, 25 for none."""
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    email_from: str = "Doorkeeper <no-reply@localhost>"
    email_templates_dir: Path | None = None
    """A directory of mail templates overriding the shipped ones, file by file."""
    app_name: str = "Doorkeeper"
    """The name mails and the OpenAPI page use."""
    default_role: str | None = None
    """A role every new user gets (made at start-up if missing); `None`: no role."""
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    """The largest request body a Doorkeeper route reads; larger ones get 413 before
    parsing (SECURITY 43)."""
    admin_api: bool = True
    """Mount the admin routes (`/admin/users`, `/admin/roles`; docs/rbac.md)."""

    _derived: frozenset[str] = PrivateAttr(default=frozenset())
    """The fields given as `None` and derived from the others."""

    def __init__(self, **values: Any) -> None:
        fields = type(self).model_fields
        for name in values:
            if not name.startswith("_") and name not in fields:
                raise ConfigurationError(unknown_name_message("setting", name, fields, _as_setting))
        super().__init__(**values)

    @model_validator(mode="before")
    @classmethod
    def _check_variables(cls, data: Any) -> Any:
        """Refuse unknown `DOORKEEPER_*` variables, in the environment or `.env`."""
        prefix = str(cls.model_config.get("env_prefix") or "").upper()
        if not prefix:
            return data
        known = {f"{prefix}{name.upper()}" for name in cls.model_fields}
        names = list(os.environ)
        for path in _env_files(cls.model_config.get("env_file")):
            names.extend(dotenv_values(path))
        for variable in sorted({name.upper() for name in names}):
            if (
                variable.startswith(prefix)
                and variable not in known
                and variable not in NOT_SETTINGS
                and not variable.startswith(RESERVED_ENV_PREFIX)
            ):
                raise ValueError(
                    unknown_name_message("environment variable", variable, sorted(known))
                )
        return data

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: SecretStr) -> SecretStr:
        length = len(value.get_secret_value().encode("utf-8"))
        if length == 0:
            raise ValueError(
                f"{ENV_PREFIX}SECRET is not set: generate one with `{GENERATE_SECRET_COMMAND}` "
                f"and set {ENV_PREFIX}SECRET to it"
            )
        if length < MIN_SECRET_BYTES:
            raise ValueError(
                f"{ENV_PREFIX}SECRET is {length} bytes long, it needs at least "
                f"{MIN_SECRET_BYTES}: generate one with `{GENERATE_SECRET_COMMAND}`"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        parse_database_url(value)
        return value.strip()

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        return normalize_public_url(value.strip())

    @field_validator("redis_url", "smtp_host", "smtp_username", "default_role")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value if value is None or value.strip() else None

    @field_validator("default_role")
    @classmethod
    def _check_default_role(cls, value: str | None) -> str | None:
        return None if value is None else validate_role_name(value.strip())

    @model_validator(mode="after")
    def _check_together(self) -> "DoorkeeperSettings":
        if self.strategy == "redis" and self.redis_url is None:
            raise ValueError(
                f"{ENV_PREFIX}STRATEGY=redis needs {ENV_PREFIX}REDIS_URL (e.g. redis://localhost:6379/0)"
            )
        if self.auth_cache_seconds and not (self.redis_url or self.auth_cache_single_process):
            raise ValueError(
                f"{ENV_PREFIX}AUTH_CACHE_SECONDS needs {ENV_PREFIX}REDIS_URL (invalidations "
                f"reach every process) or {ENV_PREFIX}AUTH_CACHE_SINGLE_PROCESS=true"
            )
        derived = set()
        if self.strategy is None:
            self.strategy = "redis" if self.redis_url is not None else "database"
            derived.add("strategy")
        redis_or_database: Literal["database", "redis"] = (
            "redis" if self.strategy == "redis" else "database"
        )
        if self.session_store is None:
            self.session_store = redis_or_database
            derived.add("session_store")
        if self.oauth_state_store is None:
            self.oauth_state_store = self.session_store
            derived.add("oauth_state_store")
        if self.rate_limit_store is None:
            self.rate_limit_store = "redis" if self.redis_url is not None else "memory"
            derived.add("rate_limit_store")
        for name in ("session_store", "oauth_state_store", "rate_limit_store"):
            if getattr(self, name) == "redis" and self.redis_url is None:
                raise ValueError(
                    f"{ENV_PREFIX}{name.upper()}=redis needs {ENV_PREFIX}REDIS_URL "
                    "(e.g. redis://localhost:6379/0)"
                )
        if self.cookie_secure is None:
            self.cookie_secure = not is_local_url(self.public_url)
            derived.add("cookie_secure")
        self._derived = frozenset(derived)
        return self

    @property
    def auth_strategy(self) -> Literal["database", "jwt", "redis"]:
        """The strategy in force (see `strategy`)."""
        assert self.strategy is not None  # derived by the validator
        return self.strategy

    @property
    def uses_redis(self) -> bool:
        """Whether any piece of state, or the auth cache's channel, lives in Redis."""
        return self.redis_url is not None and (
            "redis" in self.state_locations.values() or bool(self.auth_cache_seconds)
        )

    @property
    def state_locations(self) -> dict[str, str]:
        """Where each piece of state lives, by name: `database`, `redis` or `memory`."""
        strategy = self.auth_strategy
        return {
            "users": "database",
            "access tokens": {"jwt": "signed tokens", "database": "database"}.get(
                strategy, strategy
            ),
            "sessions": str(self.session_store),
            "oauth states": str(self.oauth_state_store),
            "rate limits": str(self.rate_limit_store) if self.rate_limits_enabled else "off",
            "auth cache": (
                "off"
                if not self.auth_cache_seconds
                else ("memory, invalidated over redis" if self.redis_url else "memory")
            ),
        }

    @property
    def secure_cookies(self) -> bool:
        """Whether the login cookie is `Secure` (see `cookie_secure`)."""
        return bool(self.cookie_secure)

    @property
    def verification_token_secret(self) -> str:
        return derive_secret(self.secret, "doorkeeper:verify")

    @property
    def reset_password_token_secret(self) -> str:
        return derive_secret(self.secret, "doorkeeper:reset-password")

    @property
    def access_token_secret(self) -> str:
        return derive_secret(self.secret, "doorkeeper:access-token")


def describe_validation_error(error: ValidationError) -> str:
    """One line: what is wrong, by variable name."""
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        message = str(item["msg"]).removeprefix(_ERROR_PREFIX)
        location = item.get("loc") or ()
        if location and not message.startswith(ENV_PREFIX):
            message = f"{ENV_PREFIX}{str(location[0]).upper()}: {message}"
        parts.append(message)
    return "; ".join(parts)


def load_settings(
    settings: DoorkeeperSettings | None = None,
    settings_class: type[DoorkeeperSettings] = DoorkeeperSettings,
    **overrides: Any,
) -> DoorkeeperSettings:
    """Settings from the environment (or `settings`), with the non-`None` `overrides`
    applied; raises `ConfigurationError` with one readable line."""
    values = {name: value for name, value in overrides.items() if value is not None}
    try:
        if settings is None:
            return settings_class(**values)
        if not values:
            return settings
        merged = {name: getattr(settings, name) for name in type(settings).model_fields}
        merged.update(values)
        for derived in settings._derived - values.keys():
            merged[derived] = None  # derived again, from the values in force
        return type(settings)(**merged)
    except ValidationError as error:
        raise ConfigurationError(describe_validation_error(error)) from None
