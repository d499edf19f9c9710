"""The transport protocol: how a token travels between the client and the server."""

from typing import Protocol

from fastapi import Response
from fastapi.security.base import SecurityBase

from doorkeeper.openapi import OpenAPIResponseType as OpenAPIResponseType


class TransportLogoutNotSupportedError(Exception):
    """The transport has nothing to undo on logout (the client just drops its token)."""


class Transport(Protocol):
    """Carries a token: where the server reads it from a request (`scheme`), and how a
    login or logout response hands it to, or takes it from, the client."""

    scheme: SecurityBase

    async def get_login_response(self, token: str) -> Response: ...

    async def get_logout_response(self) -> Response: ...

    @staticmethod
    def get_openapi_login_responses_success() -> OpenAPIResponseType:
        """The `responses` entries describing a successful login."""
        ...

    @staticmethod
    def get_openapi_logout_responses_success() -> OpenAPIResponseType:
        """The `responses` entries describing a successful logout."""
        ...
