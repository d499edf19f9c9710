"""What an access token row looks like to the database strategy."""

from datetime import datetime
from typing import Protocol, TypeVar

from doorkeeper.models import ID


class AccessTokenProtocol(Protocol[ID]):
    """An access token row. `token` holds what the strategy stores: with Doorkeeper's
    `DatabaseStrategy`, the SHA-256 digest of the token, never the token itself."""

    token: str
    user_id: ID
    created_at: datetime


AP = TypeVar("AP", bound=AccessTokenProtocol)  # type: ignore[type-arg]
