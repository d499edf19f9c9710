"""Bearer transport: the token is returned in the login response body and sent back in
the `Authorization: Bearer` header."""

from fastapi import Response, status
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel

from doorkeeper.authentication.transport.base import (
    OpenAPIResponseType,
    Transport,
    TransportLogoutNotSupportedError,
)

_EXAMPLE_JWT = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI5MjIxZmZjOS02NDBmLTQzNzItODZkMy1jZTY0"
    "MmNiYTU2MDMiLCJhdWQiOiJmYXN0YXBpLXVzZXJzOmF1dGgiLCJleHAiOjE1NzE1MDQxOTN9."
    "M10bjOe45I5Ncu_uXvOmVV8QxnL-nZfcH96U90JaocI"
)


class BearerResponse(BaseModel):
    access_token: str
    token_type: str


class BearerTransport(Transport):
    """:param tokenUrl: The URL of the login route, shown in the OpenAPI schema."""

    scheme: OAuth2PasswordBearer

    def __init__(self, tokenUrl: str) -> None:
        self.scheme = OAuth2PasswordBearer(tokenUrl, auto_error=False)

    async def get_login_response(self, token: str) -> Response:
        body = BearerResponse(access_token=token, token_type="bearer")  # noqa: S106
        return JSONResponse(body.model_dump())

    async def get_logout_response(self) -> Response:
        raise TransportLogoutNotSupportedError()

    @staticmethod
    def get_openapi_login_responses_success() -> OpenAPIResponseType:
        return {
            status.HTTP_200_OK: {
                "model": BearerResponse,
                "content": {
                    "application/json": {
                        "example": {"access_token": _EXAMPLE_JWT, "token_type": "bearer"}
                    }
                },
            },
        }

    @staticmethod
    def get_openapi_logout_responses_success() -> OpenAPIResponseType:
        return {}
