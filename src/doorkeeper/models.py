"""Protocols the ORM models follow, and the type variables used across the package."""

from typing import Generic, Protocol, TypeVar

ID = TypeVar("ID")


class UserProtocol(Protocol[ID]):
    """What Doorkeeper needs from a user object."""

    id: ID
    email: str
    hashed_password: str
    is_active: bool
    is_superuser: bool
    is_verified: bool


class OAuthAccountProtocol(Protocol[ID]):
    """What Doorkeeper needs from an OAuth account object."""

    id: ID
    oauth_name: str
    access_token: str
    expires_at: int | None
    refresh_token: str | None
    account_id: str
    account_email: str


UP = TypeVar("UP", bound=UserProtocol)  # type: ignore[type-arg]
OAP = TypeVar("OAP", bound=OAuthAccountProtocol)  # type: ignore[type-arg]


class UserOAuthProtocol(UserProtocol[ID], Generic[ID, OAP]):
    """A user that also holds its list of OAuth accounts."""

    id: ID
    email: str
    hashed_password: str
    is_active: bool
    is_superuser: bool
    is_verified: bool
    oauth_accounts: list[OAP]


UOAP = TypeVar("UOAP", bound=UserOAuthProtocol)  # type: ignore[type-arg]
