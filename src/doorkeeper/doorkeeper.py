"""`Doorkeeper`: one object wiring storage, the user manager, the backends, the routers
and mail with safe defaults, built only from the compatible building blocks::

    auth = Doorkeeper(database_url="sqlite+aiosqlite:///./auth.db", secret=SECRET)
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)  # /auth/..., /users/...

    @app.get("/hello")
    async def hello(user: User = Depends(auth.current_user(active=True))): ...
"""

import inspect
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import SecretStr

from doorkeeper import schemas
from doorkeeper.adapter import SQLAlchemyAdapter
from doorkeeper.adapter.engine import describe_url
from doorkeeper.adapter.models import User
from doorkeeper.authentication import (
    AuthenticationBackend,
    BearerTransport,
    CookieTransport,
    JWTStrategy,
    Strategy,
)
from doorkeeper.authentication.strategy.db import DatabaseStrategy
from doorkeeper.batteries.hooks import Hook, HookMethods
from doorkeeper.batteries.manager import DoorkeeperUserManager
from doorkeeper.batteries.storage import ping_redis, prepare_storage, redis_location
from doorkeeper.batteries.wiring import (
    make_adapter,
    make_auth_cache,
    make_csrf,
    make_email_sender,
    make_email_templates,
    make_rate_limiter,
    make_redis,
    make_sessions,
)
from doorkeeper.db.sqlalchemy import SQLAlchemyUserDatabase
from doorkeeper.db.sqlalchemy.access_token import SQLAlchemyAccessTokenDatabase
from doorkeeper.email import EmailSender, EmailTemplates, Mailer
from doorkeeper.fastapi_users import FastAPIUsers
from doorkeeper.manager import BaseUserManager
from doorkeeper.password import PasswordHelperProtocol
from doorkeeper.password_policy import PasswordPolicy
from doorkeeper.rbac.errors import RoleNotFound
from doorkeeper.router.body_limit import APP_STATE_ATTRIBUTE
from doorkeeper.settings import (
    ENV_PREFIX,
    DoorkeeperSettings,
    closest_name,
    load_settings,
    unknown_name_message,
)
from doorkeeper.types import DependencyCallable

__all__ = ["Doorkeeper", "DoorkeeperUserManager", "UserCreate", "UserRead", "UserUpdate"]

TOKEN_AUDIENCE = "doorkeeper:auth"  # noqa: S105 - a JWT audience, not a secret
REDIS_KEY_PREFIX = "doorkeeper:token:"
REDIS_SESSION_KEY_PREFIX = "doorkeeper:session:"
logger = logging.getLogger("doorkeeper")


def _set_by_subclass(cls: type, name: str) -> bool:
    """Whether a class below `BaseUserManager` (the app's manager) sets `name`."""
    base = set(BaseUserManager.__mro__)
    return any(name in vars(klass) for klass in cls.__mro__ if klass not in base)


class UserRead(schemas.BaseUser[uuid.UUID]):
    """A user as the API returns it."""


class UserCreate(schemas.BaseUserCreate):
    """The body of POST /auth/register."""


class UserUpdate(schemas.BaseUserUpdate):
    """The body of PATCH /users/me and /users/{id}."""


class Doorkeeper(HookMethods):
    """Users, sign-in, verification and reset for a FastAPI app, in one object.

    :param database_url: SQLAlchemy async URL (`DOORKEEPER_DATABASE_URL`).
    :param secret: at least 32 random bytes (`DOORKEEPER_SECRET`); every token key is
        derived from it.
    :param redis_url: keep access tokens in Redis (`DOORKEEPER_REDIS_URL`).
    :param settings: all settings at once; values not given come from `DOORKEEPER_*`
        environment variables and `.env`. The three arguments above override them.
    :param adapter: storage of your own (e.g. `SQLAlchemyAdapter(engine=...)`).
    :param user_manager_class: a subclass of `DoorkeeperUserManager` to change flows.
    :param email_sender: where mails go; default: SMTP if `smtp_host` is set, else the
        console.
    :param email_templates: mail templates; default: the shipped ones (or those of
        `email_templates_dir`).
    :param email_paths: where the links in mails point, relative to `public_url`
        (see `doorkeeper.email.DEFAULT_PATHS`).
    :param password_helper: hashes passwords (default: Argon2id).
    :param oauth_providers: httpx-oauth clients (e.g. `doorkeeper.oauth.google(...)`;
        the `oauth` extra) to sign in with, each under `/auth/{client.name}` (docs/oauth.md).
    :param oauth_frontend_url: where the browser goes after a social sign-in (default:
        `public_url`); `next` targets may be on its origin or a `csrf_trusted_origins` one.
    :param oauth_token_cipher: encrypts provider tokens (default: a key derived from the
        secret; give `TokenCipher(new_secret, old_secret)` to rotate).
    :param on_after_register: and the other `on_*` arguments: callables (sync or async)
        called by the manager's hook of the same name, with its arguments. Subclasses
        may override the methods of the same name instead.

    Raises `ConfigurationError` (one line naming the setting) for unusable settings.
    """

    user_manager_class: type[BaseUserManager[User, uuid.UUID]] = DoorkeeperUserManager
    user_schema: type[schemas.BaseUser[uuid.UUID]] = UserRead
    user_create_schema: type[schemas.BaseUserCreate] = UserCreate
    user_update_schema: type[schemas.BaseUserUpdate] = UserUpdate
    redis_key_prefix: str = REDIS_KEY_PREFIX
    """Namespace of the Redis strategy's keys."""
    redis_session_key_prefix: str = REDIS_SESSION_KEY_PREFIX
    """Namespace of the login sessions' keys, with the Redis strategy."""

    def __new__(cls, *args: Any, **kwargs: Any) -> "Doorkeeper":
        # Python's own TypeError for a misspelt keyword does not say what was meant.
        parameters = inspect.signature(cls.__init__).parameters
        if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            return super().__new__(cls)
        for name in kwargs:
            if name in parameters:
                continue
            valid = [p for p in parameters if p != "self"]
            message = unknown_name_message("argument", name, valid, repr)
            setting = closest_name(name, DoorkeeperSettings.model_fields)
            if closest_name(name, valid) is None and setting is not None:
                message = (
                    f"unknown argument {name!r}: did you mean the setting {setting!r} "
                    f"(settings=DoorkeeperSettings({setting}=...) or {ENV_PREFIX}"
                    f"{setting.upper()})?"
                )
            raise TypeError(f"{cls.__name__}(): {message}")
        return super().__new__(cls)

    def __init__(
        self,
        database_url: str | None = None,
        secret: str | SecretStr | None = None,
        redis_url: str | None = None,
        *,
        settings: DoorkeeperSettings | None = None,
        adapter: SQLAlchemyAdapter | None = None,
        user_manager_class: type[BaseUserManager[User, uuid.UUID]] | None = None,
        email_sender: EmailSender | None = None,
        email_templates: EmailTemplates | None = None,
        email_paths: dict[str, str] | None = None,
        password_helper: PasswordHelperProtocol | None = None,
        oauth_providers: Sequence[Any] = (),
        oauth_frontend_url: str | None = None,
        oauth_token_cipher: Any = None,
        on_after_register: Hook | None = None,
        on_after_register_existing: Hook | None = None,
        on_after_login: Hook | None = None,
        on_after_request_verify: Hook | None = None,
        on_after_verify: Hook | None = None,
        on_after_forgot_password: Hook | None = None,
        on_after_reset_password: Hook | None = None,
        on_after_update: Hook | None = None,
        on_before_delete: Hook | None = None,
        on_after_delete: Hook | None = None,
        on_after_request_email_change: Hook | None = None,
        on_email_change_pending: Hook | None = None,
        on_after_request_email_change_existing: Hook | None = None,
        on_after_email_change: Hook | None = None,
    ) -> None:
        self.settings = load_settings(
            settings, database_url=database_url, secret=secret, redis_url=redis_url
        )
        if user_manager_class is not None:
            self.user_manager_class = user_manager_class
        hooks = {
            "on_after_register": on_after_register,
            "on_after_register_existing": on_after_register_existing,
            "on_after_login": on_after_login,
            "on_after_request_verify": on_after_request_verify,
            "on_after_verify": on_after_verify,
            "on_after_forgot_password": on_after_forgot_password,
            "on_after_reset_password": on_after_reset_password,
            "on_after_update": on_after_update,
            "on_before_delete": on_before_delete,
            "on_after_delete": on_after_delete,
            "on_after_request_email_change": on_after_request_email_change,
            "on_email_change_pending": on_email_change_pending,
            "on_after_request_email_change_existing": on_after_request_email_change_existing,
            "on_after_email_change": on_after_email_change,
        }
        self.hooks: dict[str, Hook] = {name: h for name, h in hooks.items() if h is not None}
        self.password_helper = password_helper
        self.oauth_providers = list(oauth_providers)
        self.oauth_frontend_url = oauth_frontend_url
        self.oauth_token_cipher = oauth_token_cipher
        self.password_policy = PasswordPolicy(min_length=self.settings.password_min_length)
        self.adapter = adapter if adapter is not None else make_adapter(self.settings)
        self.get_session = self.adapter.get_session
        self.get_user_db = self.adapter.get_user_db
        self.get_access_token_db = self.adapter.get_access_token_db
        self.mailer = Mailer(
            email_sender if email_sender is not None else make_email_sender(self.settings),
            email_templates if email_templates is not None else make_email_templates(self.settings),
            self.settings.public_url,
            paths=email_paths,
        )
        self.redis: Any = make_redis(self.settings)
        self.sessions = make_sessions(
            self.settings, self.redis, self.adapter, self.redis_session_key_prefix
        )
        self.get_user_manager = self._user_manager_dependency()
        self.get_strategy = self._strategy_dependency()
        self.bearer_backend = AuthenticationBackend[User, uuid.UUID](
            name="bearer",
            transport=BearerTransport(tokenUrl="auth/bearer/login"),
            get_strategy=self.get_strategy,
            sessions=self.sessions,
        )
        self.cookie_backend = AuthenticationBackend[User, uuid.UUID](
            name="cookie",
            transport=CookieTransport(
                cookie_name=self.settings.cookie_name,
                cookie_max_age=self.settings.access_token_lifetime_seconds,
                cookie_secure=self.settings.secure_cookies,
                cookie_samesite=self.settings.cookie_samesite,
                csrf=make_csrf(self.settings),
            ),
            get_strategy=self.get_strategy,
            sessions=self.sessions,
        )
        self.backends = [self.bearer_backend, self.cookie_backend]
        self.rate_limiter = make_rate_limiter(self.settings)
        self.auth_cache = make_auth_cache(self.settings, self.redis)
        self.fastapi_users = FastAPIUsers[User, uuid.UUID](
            self.get_user_manager,
            self.backends,
            rate_limiter=self.rate_limiter,
            role_store=self.adapter.role,
            auth_cache=self.auth_cache,
        )
        self.router = self.build_router()

    # --- construction ----------------------------------------------------------------

    def create_user_manager(self, user_db: Any) -> BaseUserManager[User, uuid.UUID]:
        """A user manager on `user_db`: the request's database, or `adapter.user` outside
        requests (CLI, scripts)."""
        manager = self.user_manager_class(user_db, self.password_helper)
        settings = self.settings
        defaults = {
            "verification_token_secret": settings.verification_token_secret,
            "verification_token_lifetime_seconds": settings.verification_token_lifetime_seconds,
            "reset_password_token_secret": settings.reset_password_token_secret,
            "reset_password_token_lifetime_seconds": (
                settings.reset_password_token_lifetime_seconds
            ),
            "password_policy": self.password_policy,
            "trusted_proxies": tuple(settings.trusted_proxies),
            "email_change_requires_confirmation": settings.email_change_requires_confirmation,
            "email_change_enumeration_safe": settings.enumeration_safe_email_change,
        }
        for name, value in defaults.items():
            if not _set_by_subclass(type(manager), name):
                setattr(manager, name, value)
        manager.doorkeeper = self  # type: ignore[attr-defined]
        return manager

    def _user_manager_dependency(
        self,
    ) -> Callable[..., AsyncIterator[BaseUserManager[User, uuid.UUID]]]:
        async def get_user_manager(
            user_db: SQLAlchemyUserDatabase[User, uuid.UUID] = Depends(self.get_user_db),
        ) -> AsyncIterator[BaseUserManager[User, uuid.UUID]]:
            yield self.create_user_manager(user_db)

        return get_user_manager

    def _strategy_dependency(self) -> DependencyCallable[Strategy[User, uuid.UUID]]:
        # Async getters: a sync dependency would cost a thread-pool hop on every
        # authenticated request. JWT and Redis strategies hold no per-request state, so
        # one instance serves every request.
        settings = self.settings
        lifetime = settings.access_token_lifetime_seconds
        if settings.auth_strategy == "jwt":
            jwt_strategy: Strategy[User, uuid.UUID] = JWTStrategy(
                settings.access_token_secret,
                lifetime,
                token_audience=[TOKEN_AUDIENCE],
                sessions=self.sessions,
            )

            async def get_jwt_strategy() -> Strategy[User, uuid.UUID]:
                return jwt_strategy

            return get_jwt_strategy
        if settings.auth_strategy == "redis":
            from doorkeeper.authentication.strategy.redis import RedisStrategy

            async def get_redis_strategy() -> Strategy[User, uuid.UUID]:
                return RedisStrategy(self.redis, lifetime, key_prefix=self.redis_key_prefix)

            return get_redis_strategy

        async def get_database_strategy(
            access_token_db: SQLAlchemyAccessTokenDatabase[User] = Depends(
                self.get_access_token_db
            ),
        ) -> Strategy[User, uuid.UUID]:
            return DatabaseStrategy(access_token_db, lifetime)

        return get_database_strategy

    def build_router(self) -> APIRouter:
        """Every route: /auth/{bearer,cookie}/login|logout, /auth/register, the verify
        and reset routes under /auth, /users/me, /users/{id}, and (with `admin_api`)
        /admin/users and /admin/roles."""
        users = self.fastapi_users
        router = APIRouter()
        for backend in self.backends:
            router.include_router(
                users.get_auth_router(backend, refresh=self.settings.refresh_tokens),
                prefix=f"/auth/{backend.name}",
                tags=["auth"],
            )
        router.include_router(
            users.get_register_router(
                self.user_schema,
                self.user_create_schema,
                enumeration_safe=self.settings.enumeration_safe_registration,
            ),
            prefix="/auth",
            tags=["auth"],
        )
        router.include_router(users.get_reset_password_router(), prefix="/auth", tags=["auth"])
        router.include_router(
            users.get_verify_router(self.user_schema), prefix="/auth", tags=["auth"]
        )
        router.include_router(users.get_sessions_router(), prefix="/users", tags=["users"])
        router.include_router(
            users.get_users_router(
                self.user_schema,
                self.user_update_schema,
                email_change=self.settings.email_change_requires_confirmation,
            ),
            prefix="/users",
            tags=["users"],
        )
        if self.settings.admin_api:
            router.include_router(
                users.get_admin_users_router(self.user_schema, self.user_create_schema),
                prefix="/admin/users",
                tags=["admin"],
            )
            router.include_router(
                users.get_admin_roles_router(), prefix="/admin/roles", tags=["admin"]
            )
        if self.oauth_providers:  # imported here: the `oauth` extra is optional
            from doorkeeper.batteries.oauth import build_oauth_router, check_provider_names

            check_provider_names(self.oauth_providers)
            router.include_router(build_oauth_router(self))
        return router

    # --- use -------------------------------------------------------------------------

    def current_user(
        self,
        optional: bool = False,
        active: bool = False,
        verified: bool = False,
        superuser: bool = False,
        *,
        roles: str | Sequence[str] | None = None,
        permissions: str | Sequence[str] | None = None,
    ) -> Callable[..., Awaitable[User | None]]:
        """The dependency giving the signed-in user (see `FastAPIUsers.current_user`);
        `roles` and `permissions` must all be held (a superuser passes; docs/rbac.md)."""
        return self.fastapi_users.current_user(
            optional=optional,
            active=active,
            verified=verified,
            superuser=superuser,
            roles=roles,
            permissions=permissions,
        )

    def require_permission(self, *permissions: str) -> Callable[..., Awaitable[User | None]]:
        """A dependency: the active user whose roles grant every permission."""
        return self.fastapi_users.require_permission(*permissions)

    def require_role(self, *roles: str) -> Callable[..., Awaitable[User | None]]:
        """A dependency: the active user holding every role."""
        return self.fastapi_users.require_role(*roles)

    async def grant_default_role(self, user: User) -> None:
        """Give a new user the `default_role` setting's role, if set (the user manager
        calls it on registration); a role deleted meanwhile is made again."""
        role = self.settings.default_role
        if role is None:
            return
        try:
            await self.adapter.role.assign_role(user.id, role)
        except RoleNotFound:
            await self.adapter.role.ensure_role(role)
            await self.adapter.role.assign_role(user.id, role)

    def describe_state(self) -> str:
        """One line: where each piece of state lives (logged at start-up)."""
        settings = self.settings
        places = {"database": describe_url(self.adapter.engine.url)}
        if settings.redis_url is not None:
            places["redis"] = redis_location(settings.redis_url)
        parts = [
            f"{what}: {where} ({places[where]})" if where in places else f"{what}: {where}"
            for what, where in settings.state_locations.items()
        ]
        return "Doorkeeper state: " + "; ".join(parts)

    async def startup(self) -> None:
        """Get the database ready (see `prepare_storage`) and check Redis answers."""
        logger.info(self.describe_state())
        await prepare_storage(self.adapter)
        if self.settings.default_role is not None:
            await self.adapter.role.ensure_role(self.settings.default_role)
        if self.redis is not None:
            await ping_redis(self.redis, self.settings.redis_url or "")

    async def shutdown(self) -> None:
        """Close the connection pools."""
        if self.auth_cache is not None:
            await self.auth_cache.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        await self.rate_limiter.aclose()
        await self.adapter.dispose()

    @asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """`FastAPI(lifespan=auth.lifespan)`: `startup()` before serving, `shutdown()` after.

        It also sets the app's request body limit for Doorkeeper's routes
        (`max_body_bytes`; `doorkeeper.router.body_limit`)."""
        state = getattr(app, "state", None)
        if state is not None:
            setattr(state, APP_STATE_ATTRIBUTE, self.settings.max_body_bytes)
        try:
            await self.startup()
        except BaseException:
            await self.shutdown()
            raise
        try:
            yield
        finally:
            await self.shutdown()
