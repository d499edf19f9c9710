"""Database strategy: opaque tokens whose SHA-256 digests are rows in a table."""

from datetime import datetime, timedelta, timezone
from typing import Any, Generic

from doorkeeper import exceptions
from doorkeeper.authentication.strategy.base import Strategy, note_token_expiry
from doorkeeper.authentication.strategy.db.adapter import AccessTokenDatabase
from doorkeeper.authentication.strategy.db.models import AP
from doorkeeper.authentication.strategy.digest import generate_token, hash_token
from doorkeeper.jwt import MAX_TOKEN_LENGTH
from doorkeeper.manager import BaseUserManager
from doorkeeper.models import ID, UP
from doorkeeper.revocation import as_utc, is_token_revoked


class DatabaseStrategy(Strategy[UP, ID], Generic[UP, ID, AP]):
    """:param database: The access token storage.
    :param lifetime_seconds: Tokens older than this are refused; `None`: no limit.

    The client gets a 256-bit random token; the table only holds its digest.
    """

    def __init__(self, database: AccessTokenDatabase[AP], lifetime_seconds: int | None = None):
        self.database = database
        self.lifetime_seconds = lifetime_seconds

    async def read_token(
        self, token: str | None, user_manager: BaseUserManager[UP, ID]
    ) -> UP | None:
        if token is None or len(token) > MAX_TOKEN_LENGTH:
            return None
        digest = hash_token(token)
        found = await self._load(digest, self._max_age(), user_manager)
        if found is None:
            return None
        access_token, user = found
        if is_token_revoked(user, access_token.created_at, digest):
            return None
        if self.lifetime_seconds:
            created = as_utc(access_token.created_at).timestamp()
            note_token_expiry(created + self.lifetime_seconds)
        return user

    def _max_age(self) -> datetime | None:
        if not self.lifetime_seconds:
            return None
        return datetime.now(timezone.utc) - timedelta(seconds=self.lifetime_seconds)

    async def _load(
        self, digest: str, max_age: datetime | None, user_manager: BaseUserManager[UP, ID]
    ) -> tuple[AP, UP] | None:
        """The row and its user: in one query when the storage can join them."""
        get_with_user = getattr(self.database, "get_by_token_with_user", None)
        if get_with_user is not None and self._shares_session(user_manager):
            found: tuple[AP, UP | None] | None = await get_with_user(digest, max_age)
            if found is None:
                return None
            access_token, joined_user = found
            if joined_user is not None:
                return access_token, joined_user
        else:
            row = await self.database.get_by_token(digest, max_age)
            if row is None:
                return None
            access_token = row
        try:
            user = await user_manager.get(user_manager.parse_id(access_token.user_id))
        except (exceptions.InvalidID, exceptions.UserNotExists):
            return None
        return access_token, user

    def _shares_session(self, user_manager: BaseUserManager[UP, ID]) -> bool:
        """Whether a user loaded by the token storage may be handed to the manager: a
        SQLAlchemy object belongs to the session that loaded it."""
        token_session = getattr(self.database, "session", None)
        user_session = getattr(getattr(user_manager, "user_db", None), "session", None)
        return token_session is None or user_session is None or token_session is user_session

    async def write_token(self, user: UP) -> str:
        token = generate_token()
        await self.database.create(self._create_access_token_dict(user, token))
        return token

    def _create_access_token_dict(self, user: UP, token: str) -> dict[str, Any]:
        return {"token": hash_token(token), "user_id": user.id}

    async def destroy_token(self, token: str, user: UP) -> None:
        if len(token) > MAX_TOKEN_LENGTH:
            return
        access_token = await self.database.get_by_token(hash_token(token))
        if access_token is not None:
            await self.database.delete(access_token)

    async def destroy_token_id(self, token_id: str) -> None:
        """End the token whose digest is `token_id` (a session ended from elsewhere)."""
        delete_by_token = getattr(self.database, "delete_by_token", None)
        if delete_by_token is not None:
            await delete_by_token(token_id)
            return
        access_token = await self.database.get_by_token(token_id)
        if access_token is not None:
            await self.database.delete(access_token)

    def token_id(self, token: str) -> str:
        """The digest: what the table stores for this token."""
        return hash_token(token)
