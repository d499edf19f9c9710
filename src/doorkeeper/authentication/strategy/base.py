"""The strategy protocol: how a token is issued, checked and ended."""

from contextvars import ContextVar
from typing import Any, Generic, Protocol

from doorkeeper.manager import BaseUserManager
from doorkeeper.models import ID, UP

_accepted_token_expiry: ContextVar[float | None] = ContextVar(
    "doorkeeper_accepted_token_expiry", default=None
)


def note_token_expiry(expires_at: float | None) -> None:
    """Called by a strategy's `read_token` as it accepts a token: when (a Unix time) that
    token expires, `None` if never. The authenticator's cache (`AuthCache`) keeps the
    answer no longer than this. Strategies that do not call it are cached for the
    cache's own lifetime only."""
    _accepted_token_expiry.set(expires_at)


def take_token_expiry() -> float | None:
    """The expiry noted by the last `read_token` of this request, cleared."""
    expires_at = _accepted_token_expiry.get()
    _accepted_token_expiry.set(None)
    return expires_at


class StrategyDestroyNotSupportedError(Exception):
    """The strategy cannot end one token by itself (a JWT lives until it expires)."""


class Strategy(Protocol, Generic[UP, ID]):
    """Issues tokens for users and resolves tokens into users.

    Doorkeeper's strategies also have `token_id(token) -> str | None`: an identifier of a
    token that `read_token` has just accepted, used to spare the caller's own token when
    the manager revokes the user's tokens during that request. It is optional for
    strategies written for FastAPI Users.
    """

    async def read_token(
        self, token: str | None, user_manager: BaseUserManager[UP, ID]
    ) -> UP | None: ...

    async def write_token(self, user: UP) -> str: ...

    async def destroy_token(self, token: str, user: UP) -> None: ...


def get_token_id(strategy: Any, token: str) -> str | None:
    """The strategy's identifier of `token`, or `None` if it does not name its tokens."""
    token_id = getattr(strategy, "token_id", None)
    if not callable(token_id):
        return None
    value = token_id(token)
    return value if isinstance(value, str) else None


async def write_session_token(strategy: Any, user: Any, session_id: str) -> str:
    """A token for a new login session: one that names the session where the strategy
    can carry it (a JWT's `sid`), else an ordinary token."""
    writer = getattr(strategy, "write_session_token", None)
    if callable(writer):
        token: str = await writer(user, session_id)
        return token
    token = await strategy.write_token(user)
    return token


async def destroy_token_id(strategy: Any, token_id: str | None) -> None:
    """End the token named `token_id`, where the strategy stores its tokens (a JWT
    needs nothing: it is refused with its session)."""
    destroy = getattr(strategy, "destroy_token_id", None)
    if token_id is not None and callable(destroy):
        await destroy(token_id)
