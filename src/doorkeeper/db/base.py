"""The storage protocol the user manager talks to."""

from typing import Any, Generic

from doorkeeper.models import ID, OAP, UOAP, UP
from doorkeeper.types import DependencyCallable


class BaseUserDatabase(Generic[UP, ID]):
    """Base adapter for retrieving, creating and updating users in a database.

    Subclasses implement the methods below. `update_if` has a default built on `update`;
    adapters that can make it atomic (the SQLAlchemy one does) override it.
    """

    async def get(self, id: ID) -> UP | None:
        """Get a single user by id."""
        raise NotImplementedError()

    async def get_by_email(self, email: str) -> UP | None:
        """Get a single user by e-mail, whatever its letter case."""
        raise NotImplementedError()

    async def get_by_oauth_account(self, oauth: str, account_id: str) -> UP | None:
        """Get a single user by OAuth account id."""
        raise NotImplementedError()

    async def create(self, create_dict: dict[str, Any]) -> UP:
        """Create a user; raise `UserAlreadyExists` if the e-mail is taken."""
        raise NotImplementedError()

    async def update(self, user: UP, update_dict: dict[str, Any]) -> UP:
        """Update a user; raise `UserAlreadyExists` if a new e-mail is taken."""
        raise NotImplementedError()

    async def update_if(
        self, user: UP, update_dict: dict[str, Any], expected: dict[str, Any]
    ) -> UP | None:
        """Update only if the stored values still equal `expected`; `None` otherwise.

        Used to make single-use tokens single-use under concurrency. This default
        compares the values held by `user`; storage adapters make it atomic.
        """
        for key, value in expected.items():
            if getattr(user, key) != value:
                return None
        return await self.update(user, update_dict)

    async def delete(self, user: UP) -> None:
        """Delete a user."""
        raise NotImplementedError()

    async def add_oauth_account(
        self: "BaseUserDatabase[UOAP, ID]", user: UOAP, create_dict: dict[str, Any]
    ) -> UOAP:
        """Create an OAuth account and add it to the user."""
        raise NotImplementedError()

    async def update_oauth_account(
        self: "BaseUserDatabase[UOAP, ID]",
        user: UOAP,
        oauth_account: OAP,
        update_dict: dict[str, Any],
    ) -> UOAP:
        """Update an OAuth account of a user."""
        raise NotImplementedError()

    async def delete_oauth_account(
        self: "BaseUserDatabase[UOAP, ID]", user: UOAP, oauth_account: OAP
    ) -> UOAP:
        """Unlink an OAuth account from its user (Doorkeeper's addition)."""
        raise NotImplementedError()


UserDatabaseDependency = DependencyCallable[BaseUserDatabase[UP, ID]]
