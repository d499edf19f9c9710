"""Transports: how a token travels between client and server."""

from doorkeeper.authentication.transport.base import (
    OpenAPIResponseType,
    Transport,
    TransportLogoutNotSupportedError,
)
from doorkeeper.authentication.transport.bearer import BearerResponse, BearerTransport
from doorkeeper.authentication.transport.cookie import CookieTransport

__all__ = [
    "BearerResponse",
    "BearerTransport",
    "CookieTransport",
    "OpenAPIResponseType",
    "Transport",
    "TransportLogoutNotSupportedError",
]
