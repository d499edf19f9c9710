"""`FastAPIUsers`: ties a user manager and authentication backends to the routers."""

from collections.abc import Sequence
from typing import Generic

from fastapi import APIRouter

from doorkeeper import models, schemas
from doorkeeper.authentication import AuthenticationBackend, Authenticator
from doorkeeper.manager import UserManagerDependency
from doorkeeper.ratelimit import RateLimiter
from doorkeeper.router import (
    get_auth_router,
    get_register_router,
    get_reset_password_router,
    get_users_router,
    get_verify_router,
)
from doorkeeper.router.sessions import get_sessions_router


class FastAPIUsers(Generic[models.UP, models.ID]):
    """The main object of the compatible API.

    :param get_user_manager: dependency callable giving the user manager.
    :param auth_backends: the authentication backends, tried in order.
    :param rate_limiter: brute-force protection of the login, verify and reset routes
        (SECURITY 13-16); `None` keeps FastAPI Users' behaviour (no limits).

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
    ) -> None:
        self.rate_limiter = rate_limiter
        self.authenticator = Authenticator(auth_backends, get_user_manager)
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
