"""The storage protocol of the database strategy."""

from datetime import datetime
from typing import Any, Generic, Protocol

from doorkeeper.authentication.strategy.db.models import AP


class AccessTokenDatabase(Protocol, Generic[AP]):
    """Reads, creates, updates and deletes access token rows.

    An adapter may also offer `get_by_token_with_user(token, max_age)` returning the row
    and its user in one query (`None` if no row); the strategy then skips the user lookup.
    """

    async def get_by_token(self, token: str, max_age: datetime | None = None) -> AP | None:
        """The row whose `token` is `token`, created at or after `max_age` if given."""
        ...

    async def create(self, create_dict: dict[str, Any]) -> AP:
        """Store a new row."""
        ...

    async def update(self, access_token: AP, update_dict: dict[str, Any]) -> AP:
        """Change a row."""
        ...

    async def delete(self, access_token: AP) -> None:
        """Delete a row."""
        ...
