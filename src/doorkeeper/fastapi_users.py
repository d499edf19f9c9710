"""`FastAPIUsers`: ties a user manager and authentication backends to the routers."""

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic

from fastapi import APIRouter

from doorkeeper import models, schemas
from doorkeeper.authentication import AuthCache, AuthenticationBackend, Authenticator
from doorkeeper.jwt import SecretType
from doorkeeper.manager import UserManagerDependency
from doorkeeper.ratelimit import RateLimiter
from doorkeeper.rbac.records import RoleStore
from doorkeeper.router import (
    get_auth_router,
    get_register_router,
    get_reset_password_router,
    get_users_router,
    get_verify_router,
)
from doorkeeper.router.admin_roles import get_admin_roles_router
from doorkeeper.router.admin_users import get_admin_users_router
from doorkeeper.router.sessions import get_sessions_router

if TYPE_CHECKING:  # the `oauth` extra
    from httpx_oauth.oauth2 import BaseOAuth2


class FastAPIUsers(Generic[models.UP, models.ID]):
    """The main object of the compatible API.

    :param get_user_manager: dependency callable giving the user manager.
    :param auth_backends: the authentication backends, tried in order.
    :param rate_limiter: brute-force protection of the login, verify and reset routes
        (SECURITY 13-16); `None` keeps FastAPI Users' behaviour (no limits).
    :param role_store: where roles are kept (e.g. `adapter.role`), for
        `current_user(roles=..., permissions=...)`, `require_permission` and the admin
        routers (docs/rbac.md); also settable later as `fastapi_users.role_store`.
    :param auth_cache: an `AuthCache`: tokens accepted recently are answered from
        memory, with immediate invalidation (docs/performance.md); `None` reads storage
        on every authenticated request, as FastAPI Users does.

    `current_user(...)` (the authenticator's) makes the dependency that gives the
    authenticated user; the `get_*_router` methods make the routers to include.
    """

    authenticator: Authenticator[models.UP, models.ID]

    def __init__(
        self,
        get_user_manager: UserManagerDependency[models.UP, models.ID],
        auth_backends: Sequence[AuthenticationBackend[models.UP, models.ID]],
        *,
        rate_limiter: RateLimiter | None = None,
        role_store: RoleStore | None = None,
        auth_cache: AuthCache | None = None,
    ) -> None:
        self.rate_limiter = rate_limiter
        self.authenticator = Authenticator(
            auth_backends, get_user_manager, role_store=role_store, auth_cache=auth_cache
        )
        self.get_user_manager = get_user_manager
        self.current_user = self.authenticator.current_user

    def get_register_router(
        self,
        user_schema: type[schemas.U],
        user_create_schema: type[schemas.UC],
        enumeration_safe: bool = False,
    ) -> APIRouter:
        """The router with POST /register.

        :param user_schema: the schema of a user as returned.
        :param user_create_schema: the schema of the registration body.
        :param enumeration_safe: answer 202 `CHECK_YOUR_MAILBOX` whether the address is
            new or taken (SECURITY 12); `False` keeps FastAPI Users' 201 / 400 answers.
        """
        return get_register_router(
            self.get_user_manager, user_schema, user_create_schema, enumeration_safe
        )

    def get_verify_router(self, user_schema: type[schemas.U]) -> APIRouter:
        """The router with POST /request-verify-token and POST /verify.

        :param user_schema: the schema of a user as returned.
        """
        return get_verify_router(self.get_user_manager, user_schema, rate_limiter=self.rate_limiter)

    def get_reset_password_router(self) -> APIRouter:
        """The router with POST /forgot-password and POST /reset-password."""
        return get_reset_password_router(self.get_user_manager, rate_limiter=self.rate_limiter)

    def get_auth_router(
        self,
        backend: AuthenticationBackend[models.UP, models.ID],
        requires_verification: bool = False,
        *,
        refresh: bool = False,
    ) -> APIRouter:
        """The router with POST /login and POST /logout for `backend`.

        :param backend: the authentication backend.
        :param requires_verification: refuse users whose e-mail is not verified.
        :param refresh: login also returns a refresh token, and POST /refresh rotates
            it (the backend needs `sessions`).
        """
        return get_auth_router(
            backend,
            self.get_user_manager,
            self.authenticator,
            requires_verification,
            rate_limiter=self.rate_limiter,
            refresh=refresh,
        )

    def get_sessions_router(self, requires_verification: bool = False) -> APIRouter:
        """The routes listing and ending login sessions (`/me/sessions`, and the
        superusers' `/{id}/sessions`), over every backend with `sessions`; include it
        with the users router's prefix."""
        return get_sessions_router(
            self.authenticator.backends,
            self.get_user_manager,
            self.authenticator,
            requires_verification,
        )

    def get_oauth_router(
        self,
        oauth_client: "BaseOAuth2[Any]",
        backend: AuthenticationBackend[models.UP, models.ID],
        state_secret: SecretType,
        redirect_url: str | None = None,
        associate_by_email: bool = False,
        is_verified_by_default: bool = False,
        **options: Any,
    ) -> APIRouter:
        """The router with GET /authorize and GET /callback signing in with
        `oauth_client` (an httpx-oauth client; needs the `oauth` extra) through `backend`.

        `options` are the keyword arguments of `doorkeeper.router.oauth.get_oauth_router`:
        FastAPI Users' `csrf_token_cookie_*`, and Doorkeeper's (`state_store`,
        `frontend_url`, `allowed_redirect_origins`, `refresh`, ...; docs/oauth.md).
        """
        from doorkeeper.router.oauth import get_oauth_router

        return get_oauth_router(
            oauth_client,
            backend,
            self.get_user_manager,
            state_secret,
            redirect_url,
            associate_by_email,
            is_verified_by_default,
            **options,
        )

    def get_oauth_associate_router(
        self,
        oauth_client: "BaseOAuth2[Any]",
        user_schema: type[schemas.U],
        state_secret: SecretType,
        redirect_url: str | None = None,
        requires_verification: bool = False,
        **options: Any,
    ) -> APIRouter:
        """The router with GET /authorize and GET /callback linking an `oauth_client`
        account to the signed-in user; `options` as for `get_oauth_router`."""
        from doorkeeper.router.oauth import get_oauth_associate_router

        return get_oauth_associate_router(
            oauth_client,
            self.authenticator,
            self.get_user_manager,
            user_schema,
            state_secret,
            redirect_url,
            requires_verification,
            **options,
        )

    def get_oauth_accounts_router(self, requires_verification: bool = False) -> APIRouter:
        """GET /me/oauth-accounts and DELETE /me/oauth-accounts/{id}: the caller's linked
        provider accounts; include it with the users router's prefix."""
        from doorkeeper.router.oauth_accounts import get_oauth_accounts_router

        return get_oauth_accounts_router(
            self.get_user_manager, self.authenticator, requires_verification
        )

    def get_users_router(
        self,
        user_schema: type[schemas.U],
        user_update_schema: type[schemas.UU],
        requires_verification: bool = False,
        *,
        email_change: bool = False,
    ) -> APIRouter:
        """The router with /me and the superusers' /{id} routes.

        :param user_schema: the schema of a user as returned.
        :param user_update_schema: the schema of an update body.
        :param requires_verification: refuse users whose e-mail is not verified.
        :param email_change: add POST /confirm-email, for a manager whose e-mail changes
            wait for a confirmation from the new address (docs/email-change.md).
        """
        return get_users_router(
            self.get_user_manager,
            user_schema,
            user_update_schema,
            self.authenticator,
            requires_verification,
            rate_limiter=self.rate_limiter,
            email_change=email_change,
        )

    # --- roles and permissions (docs/rbac.md) ----------------------------------------

    @property
    def role_store(self) -> RoleStore | None:
        """Where roles are kept; set it before asking for role or permission checks."""
        return self.authenticator.role_store

    @role_store.setter
    def role_store(self, store: RoleStore | None) -> None:
        self.authenticator.role_store = store

    def require_permission(
        self, *permissions: str, verified: bool = False
    ) -> Callable[..., Awaitable[models.UP | None]]:
        """A dependency: the active user whose roles grant every permission (403
        `INSUFFICIENT_PERMISSIONS` otherwise; a superuser passes)."""
        return self.current_user(active=True, verified=verified, permissions=permissions)

    def require_role(
        self, *roles: str, verified: bool = False
    ) -> Callable[..., Awaitable[models.UP | None]]:
        """A dependency: the active user holding every role (403 `FORBIDDEN_ROLE`
        otherwise; a superuser passes)."""
        return self.current_user(active=True, verified=verified, roles=roles)

    def get_admin_users_router(
        self,
        user_schema: type[schemas.U],
        user_create_schema: type[schemas.UC],
        requires_verification: bool = False,
    ) -> APIRouter:
        """User administration (`users:admin`): list, create, set a password, activate,
        deactivate, end sessions, grant and revoke roles (`roles:admin`). Include it with
        a prefix such as `/admin/users`."""
        return get_admin_users_router(
            self.get_user_manager,
            user_schema,
            user_create_schema,
            self.authenticator,
            self.role_store,
            self.authenticator.backends,
            requires_verification,
        )

    def get_admin_roles_router(self, requires_verification: bool = False) -> APIRouter:
        """Role administration (`roles:admin`): list, create, rename, edit permissions,
        delete. Include it with a prefix such as `/admin/roles`."""
        return get_admin_roles_router(
            self.get_user_manager, self.authenticator, self.role_store, requires_verification
        )
