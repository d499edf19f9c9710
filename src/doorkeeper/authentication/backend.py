"""An authentication backend: a transport and a strategy under one name."""

from typing import Generic

from fastapi import Response, status

from doorkeeper.authentication.strategy import Strategy, StrategyDestroyNotSupportedError
from doorkeeper.authentication.transport import Transport, TransportLogoutNotSupportedError
from doorkeeper.manager import BaseUserManager
from doorkeeper.models import ID, UP
from doorkeeper.types import DependencyCallable


class AuthenticationBackend(Generic[UP, ID]):
    """:param name: The backend's name (unique among an app's backends; used in routes).
    :param transport: How the token travels.
    :param get_strategy: A dependency returning the strategy that issues and reads tokens.
    """

    name: str
    transport: Transport

    def __init__(
        self,
        name: str,
        transport: Transport,
        get_strategy: DependencyCallable[Strategy[UP, ID]],
    ) -> None:
        self.name = name
        self.transport = transport
        self.get_strategy = get_strategy

    async def login(self, strategy: Strategy[UP, ID], user: UP) -> Response:
        """Issue a new token for `user` and the response that hands it over."""
        token = await strategy.write_token(user)
        return await self.transport.get_login_response(token)

    async def logout(
        self,
        strategy: Strategy[UP, ID],
        user: UP,
        token: str,
        user_manager: BaseUserManager[UP, ID] | None = None,
    ) -> Response:
        """End `token` server-side, and the response that drops it client-side.

        A strategy that cannot end one token (JWT) gets the user's tokens revoked through
        `user_manager.revoke_tokens`: every token of the user issued until now ends.
        """
        try:
            await strategy.destroy_token(token, user)
        except StrategyDestroyNotSupportedError:
            if user_manager is not None:
                await user_manager.revoke_tokens(user)
        try:
            return await self.transport.get_logout_response()
        except TransportLogoutNotSupportedError:
            return Response(status_code=status.HTTP_204_NO_CONTENT)
