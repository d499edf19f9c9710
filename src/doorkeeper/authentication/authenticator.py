"""Dependencies resolving the current user from the request, over every backend."""

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from inspect import Parameter, Signature
from typing import Any, Generic, cast

from fastapi import Depends, HTTPException, Request, status

from doorkeeper.authentication.backend import AuthenticationBackend
from doorkeeper.authentication.cache import AuthCache
from doorkeeper.authentication.errors import (
    is_unavailable_error,
    schema_outdated_response_error,
    service_unavailable,
)
from doorkeeper.authentication.rbac import access_checked
from doorkeeper.authentication.strategy import Strategy, get_token_id
from doorkeeper.authentication.strategy.base import take_token_expiry
from doorkeeper.authentication.transport import CookieTransport
from doorkeeper.manager import BaseUserManager, UserManagerDependency
from doorkeeper.models import ID, UP
from doorkeeper.rbac.records import RoleStore
from doorkeeper.types import DependencyCallable

logger = logging.getLogger("doorkeeper.authentication")

INVALID_CHARS_PATTERN = re.compile(r"[^0-9a-zA-Z_]")
INVALID_LEADING_CHARS_PATTERN = re.compile(r"^[^a-zA-Z_]+")
REQUEST_PARAMETER = "doorkeeper_request"
UNAUTHORIZED_HEADERS = {"WWW-Authenticate": "Bearer"}


def name_to_variable_name(name: str) -> str:
    """A backend name made usable as a parameter name."""
    name = re.sub(INVALID_CHARS_PATTERN, "", name)
    return re.sub(INVALID_LEADING_CHARS_PATTERN, "", name)


def name_to_strategy_variable_name(name: str) -> str:
    """The parameter name of a backend's strategy."""
    return f"strategy_{name_to_variable_name(name)}"


class DuplicateBackendNamesError(Exception):
    """Two backends have the same name (once made usable as parameter names)."""


EnabledBackendsDependency = DependencyCallable[Sequence[AuthenticationBackend[UP, ID]]]


class Authenticator(Generic[UP, ID]):
    """Builds the `current_user` dependencies: the first backend whose strategy accepts
    the request's token wins; otherwise 401.

    :param backends: The authentication backends, tried in this order.
    :param get_user_manager: The user manager dependency.
    :param role_store: Where users' roles are kept, for `current_user(roles=...,
        permissions=...)` (docs/rbac.md).
    :param auth_cache: Answer tokens accepted recently from memory, with immediate
        invalidation (`AuthCache`, docs/performance.md); `None`: read storage every time.
    """

    backends: Sequence[AuthenticationBackend[UP, ID]]

    def __init__(
        self,
        backends: Sequence[AuthenticationBackend[UP, ID]],
        get_user_manager: UserManagerDependency[UP, ID],
        *,
        role_store: RoleStore | None = None,
        auth_cache: AuthCache | None = None,
    ) -> None:
        self.backends = backends
        self.get_user_manager = get_user_manager
        self.role_store = role_store
        self.auth_cache = auth_cache
        self._get_dependency_signature()  # refuse clashing backend names now

    def current_user_token(
        self,
        optional: bool = False,
        active: bool = False,
        verified: bool = False,
        superuser: bool = False,
        get_enabled_backends: EnabledBackendsDependency[UP, ID] | None = None,
    ) -> Callable[..., Awaitable[tuple[UP | None, str | None]]]:
        """A dependency returning `(user, token)` of the authenticated request.

        :param optional: Return `(None, None)` instead of raising 401/403.
        :param active: 401 if the user is inactive.
        :param verified: 403 if the user is not verified.
        :param superuser: 403 if the user is not a superuser.
        :param get_enabled_backends: A dependency returning the backends to try for this
            request (every backend still appears in the OpenAPI schema).
        """
        signature = self._get_dependency_signature(get_enabled_backends)

        async def current_user_token_dependency(**kwargs: Any) -> tuple[UP | None, str | None]:
            return await self._authenticate(
                optional=optional, active=active, verified=verified, superuser=superuser, **kwargs
            )

        current_user_token_dependency.__signature__ = signature  # type: ignore[attr-defined]
        return current_user_token_dependency

    def current_user(
        self,
        optional: bool = False,
        active: bool = False,
        verified: bool = False,
        superuser: bool = False,
        get_enabled_backends: EnabledBackendsDependency[UP, ID] | None = None,
        *,
        roles: str | Sequence[str] | None = None,
        permissions: str | Sequence[str] | None = None,
    ) -> Callable[..., Awaitable[UP | None]]:
        """A dependency returning the authenticated user; see `current_user_token`.

        :param roles: 403 `FORBIDDEN_ROLE` unless the user holds every one of them.
        :param permissions: 403 `INSUFFICIENT_PERMISSIONS` unless the user's roles grant
            every one of them (wildcards allowed in granted permissions).

        A superuser passes both checks; they need the `role_store` (docs/rbac.md).
        """
        signature = self._get_dependency_signature(get_enabled_backends)

        async def current_user_dependency(**kwargs: Any) -> UP | None:
            user, _ = await self._authenticate(
                optional=optional, active=active, verified=verified, superuser=superuser, **kwargs
            )
            return user

        current_user_dependency.__signature__ = signature  # type: ignore[attr-defined]
        if roles or permissions:
            return access_checked(
                current_user_dependency,
                self.role_store,
                roles=roles,
                permissions=permissions,
                optional=optional,
            )
        return current_user_dependency

    async def _authenticate(
        self,
        *,
        user_manager: BaseUserManager[UP, ID],
        optional: bool = False,
        active: bool = False,
        verified: bool = False,
        superuser: bool = False,
        **kwargs: Any,
    ) -> tuple[UP | None, str | None]:
        request: Request = kwargs[REQUEST_PARAMETER]
        user, token, token_id = await self._first_user(user_manager, kwargs)
        status_code = status.HTTP_401_UNAUTHORIZED
        if user is not None:
            self._check_csrf(request, token, kwargs)
            status_code = status.HTTP_403_FORBIDDEN
            if active and not user.is_active:
                status_code = status.HTTP_401_UNAUTHORIZED
                user = None
            elif (verified and not user.is_verified) or (superuser and not user.is_superuser):
                user = None
        if user is None:
            if not optional:
                headers = UNAUTHORIZED_HEADERS if status_code == 401 else None
                raise HTTPException(status_code=status_code, headers=headers)
            return None, token
        request.state.doorkeeper_token_id = token_id
        return user, token

    def _check_csrf(self, request: Request, token: str | None, kwargs: dict[str, Any]) -> None:
        """CSRF checks (403) when the accepted token came in the cookie of a backend
        with CSRF protection; a token sent in a bearer header is exempt.

        The accepted token is matched against the token each enabled backend was given:
        a cookie carrying the very token that authenticated the request is checked.
        """
        enabled: Sequence[AuthenticationBackend[UP, ID]] = kwargs.get(
            "enabled_backends", self.backends
        )
        for backend in self.backends:
            transport = backend.transport
            if (
                isinstance(transport, CookieTransport)
                and transport.csrf is not None
                and backend in enabled
                and kwargs[name_to_variable_name(backend.name)] == token
            ):
                transport.csrf.protect(request)

    async def _first_user(
        self, user_manager: BaseUserManager[UP, ID], kwargs: dict[str, Any]
    ) -> tuple[UP | None, str | None, str | None]:
        """The user of the first backend accepting its token, the token, and its id.

        A backend whose storage is down is skipped; if no other backend accepts the
        request, that failure becomes a 503 (never an anonymous pass).
        """
        enabled: Sequence[AuthenticationBackend[UP, ID]] = kwargs.get(
            "enabled_backends", self.backends
        )
        token: str | None = None
        unavailable = False
        cache = self.auth_cache
        for backend in self.backends:
            if backend not in enabled:
                continue
            token = kwargs[name_to_variable_name(backend.name)]
            strategy: Strategy[UP, ID] = kwargs[name_to_strategy_variable_name(backend.name)]
            if token is None:
                continue
            epoch = 0
            if cache is not None:
                cached = cache.get(backend, token, user_manager)
                if cached is not None:
                    return cached[0], token, cached[1]
                epoch = cache.epoch
                take_token_expiry()  # forget any expiry noted before this read
            try:
                user = await strategy.read_token(token, user_manager)
            except Exception as error:
                outdated = schema_outdated_response_error(error)
                if outdated is not None:
                    raise outdated from None
                if not is_unavailable_error(error):
                    raise
                logger.warning(
                    "Backend %r could not reach its storage (%s)",
                    backend.name,
                    type(error).__name__,
                )
                if cache is not None:  # fail closed: no cached answer while storage is out
                    cache.clear()
                unavailable = True
                continue
            if user is not None:
                token_id = get_token_id(strategy, token)
                if cache is not None:
                    cache.put(backend, token, user, token_id, take_token_expiry(), epoch)
                return user, token, token_id
        if unavailable:
            raise service_unavailable()
        return None, token, None

    def _get_dependency_signature(
        self, get_enabled_backends: EnabledBackendsDependency[UP, ID] | None = None
    ) -> Signature:
        """A signature with one security-scheme parameter per backend, so that FastAPI
        resolves every scheme and lists them all in the OpenAPI schema."""
        for backend in self.backends:
            if not name_to_variable_name(backend.name):
                raise ValueError(f"The backend name {backend.name!r} has no usable character")
        try:
            return Signature(self._dependency_parameters(get_enabled_backends))
        except ValueError as error:  # two parameters with one name
            raise DuplicateBackendNamesError(str(error)) from error

    def _dependency_parameters(
        self, get_enabled_backends: EnabledBackendsDependency[UP, ID] | None
    ) -> list[Parameter]:
        parameters = [
            Parameter(
                name="user_manager",
                kind=Parameter.KEYWORD_ONLY,
                default=Depends(self.get_user_manager),
            ),
            Parameter(name=REQUEST_PARAMETER, kind=Parameter.KEYWORD_ONLY, annotation=Request),
        ]
        for backend in self.backends:
            parameters.append(
                Parameter(
                    name=name_to_variable_name(backend.name),
                    kind=Parameter.KEYWORD_ONLY,
                    default=Depends(cast(Callable[..., Any], backend.transport.scheme)),
                )
            )
            parameters.append(
                Parameter(
                    name=name_to_strategy_variable_name(backend.name),
                    kind=Parameter.KEYWORD_ONLY,
                    default=Depends(backend.get_strategy),
                )
            )
        if get_enabled_backends is not None:
            parameters.append(
                Parameter(
                    name="enabled_backends",
                    kind=Parameter.KEYWORD_ONLY,
                    default=Depends(get_enabled_backends),
                )
            )
        return parameters
