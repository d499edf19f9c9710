"""How the `Doorkeeper` object builds its parts from its settings: storage, Redis, mail,
rate limits, CSRF protection and login sessions. Each raises `ConfigurationError` (one
line naming the setting) for an unusable value."""

from typing import Any
from urllib.parse import urlsplit

from doorkeeper.adapter import SQLAlchemyAdapter
from doorkeeper.authentication import AuthCache, CSRFProtection
from doorkeeper.authentication.sessions import SessionService
from doorkeeper.email import ConsoleEmailSender, EmailSender, EmailTemplates
from doorkeeper.ratelimit import RateLimiter, RateLimits
from doorkeeper.sessions.records import SessionStore
from doorkeeper.settings import ConfigurationError, DoorkeeperSettings, derive_secret


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def make_adapter(settings: DoorkeeperSettings) -> SQLAlchemyAdapter:
    try:
        return SQLAlchemyAdapter(settings.database_url)
    except ValueError as error:
        raise ConfigurationError(f"DOORKEEPER_DATABASE_URL: {error}") from None


def make_email_sender(settings: DoorkeeperSettings) -> EmailSender:
    if settings.smtp_host is None:
        return ConsoleEmailSender()
    from doorkeeper.email import SMTPEmailSender

    try:
        return SMTPEmailSender(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            from_address=settings.email_from,
            security=settings.smtp_security,
        )
    except (ValueError, ImportError) as error:
        raise ConfigurationError(f"DOORKEEPER_SMTP_*: {error}") from None


def make_email_templates(settings: DoorkeeperSettings) -> EmailTemplates:
    try:
        return EmailTemplates(settings.email_templates_dir, app_name=settings.app_name)
    except ValueError as error:
        raise ConfigurationError(f"DOORKEEPER_EMAIL_TEMPLATES_DIR: {error}") from None


def make_redis(settings: DoorkeeperSettings) -> Any:
    """One Redis client for the app's lifetime, if a store the settings name (strategy,
    sessions, OAuth states) or the authentication cache's channel needs it."""
    wanted = (
        settings.auth_strategy == "redis"
        or settings.session_store == "redis"
        or settings.oauth_state_store == "redis"
        or (settings.auth_cache_seconds > 0 and settings.redis_url is not None)
    )
    if not wanted:
        return None
    try:
        import redis.asyncio
    except ImportError:
        raise ConfigurationError(
            "DOORKEEPER_REDIS_URL needs the redis package: pip install 'doorkeeper[redis]'"
        ) from None
    try:
        return redis.asyncio.from_url(settings.redis_url or "", decode_responses=True)
    except ValueError as error:
        raise ConfigurationError(f"DOORKEEPER_REDIS_URL: {error}") from None


def make_auth_cache(settings: DoorkeeperSettings, redis: Any) -> AuthCache | None:
    """The authentication cache, when `auth_cache_seconds` asks for one."""
    if not settings.auth_cache_seconds:
        return None
    return AuthCache(settings.auth_cache_seconds, redis=redis, single_process=redis is None)


def make_rate_limiter(settings: DoorkeeperSettings) -> RateLimiter:
    """Brute-force limits (SECURITY 13-16): in Redis when `redis_url` is set, shared
    by every instance; in memory otherwise (docs/rate-limits.md)."""
    try:
        limits = RateLimits(
            **{
                name: getattr(settings, f"rate_limit_{name}")
                for name in (
                    "login_per_account",
                    "login_per_ip",
                    "token_per_ip",
                    "forgot_password_per_address",
                    "forgot_password_per_ip",
                    "request_verify_per_address",
                    "request_verify_per_ip",
                )
            }
        )
        return RateLimiter(
            limits,
            redis_url=settings.redis_url if settings.rate_limit_store == "redis" else None,
            key_prefix=settings.rate_limit_key_prefix,
            trusted_proxies=settings.trusted_proxies,
            enabled=settings.rate_limits_enabled,
            secret=derive_secret(settings.secret, "doorkeeper:ratelimit"),
        )
    except ValueError as error:
        raise ConfigurationError(
            f"DOORKEEPER_RATE_LIMIT_* / DOORKEEPER_TRUSTED_PROXIES: {error}"
        ) from None


def make_csrf(settings: DoorkeeperSettings) -> CSRFProtection:
    """CSRF protection of the cookie backend (SECURITY 30; docs/csrf.md)."""
    try:
        return CSRFProtection(
            settings.secret,
            cookie_secure=settings.secure_cookies,
            cookie_samesite=settings.cookie_samesite,
            trusted_origins=[origin_of(settings.public_url), *settings.csrf_trusted_origins],
        )
    except ValueError as error:
        raise ConfigurationError(f"DOORKEEPER_CSRF_TRUSTED_ORIGINS: {error}") from None


def make_sessions(
    settings: DoorkeeperSettings, redis: Any, adapter: SQLAlchemyAdapter, redis_key_prefix: str
) -> SessionService:
    """Login sessions where `session_store` says (default: Redis with the Redis
    strategy, else the database)."""
    store: SessionStore
    if settings.session_store == "redis":
        from doorkeeper.sessions.redis import RedisSessionStore

        store = RedisSessionStore(redis, key_prefix=redis_key_prefix)
    else:
        store = adapter.login_sessions
    return SessionService(
        store,
        idle_timeout_seconds=settings.session_idle_timeout_seconds,
        absolute_lifetime_seconds=settings.session_lifetime_seconds,
        trusted_proxies=tuple(settings.trusted_proxies),
    )
