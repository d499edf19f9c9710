"""What the routers declare: route names, OpenAPI documentation, error codes, and the
`FastAPIUsers` object that makes them."""

import json
import uuid
from typing import Any

import pytest
from fastapi import FastAPI

from doorkeeper import FastAPIUsers
from doorkeeper.authentication import Authenticator
from doorkeeper.router import ErrorCode
from doorkeeper.router.common import ErrorCodeReasonModel, ErrorModel
from tests.apps import App, build_app

FASTAPI_USERS_ERROR_CODES = [
    "REGISTER_INVALID_PASSWORD",
    "REGISTER_USER_ALREADY_EXISTS",
    "OAUTH_NOT_AVAILABLE_EMAIL",
    "OAUTH_USER_ALREADY_EXISTS",
    "OAUTH_INVALID_STATE",
    "LOGIN_BAD_CREDENTIALS",
    "LOGIN_USER_NOT_VERIFIED",
    "RESET_PASSWORD_BAD_TOKEN",
    "RESET_PASSWORD_INVALID_PASSWORD",
    "VERIFY_USER_BAD_TOKEN",
    "VERIFY_USER_ALREADY_VERIFIED",
    "UPDATE_USER_EMAIL_ALREADY_EXISTS",
    "UPDATE_USER_INVALID_PASSWORD",
    "ACCESS_TOKEN_ALREADY_EXPIRED",
    "ACCESS_TOKEN_DECODE_ERROR",
]


def app_without_database(transport: str = "bearer") -> App:
    """Routes and OpenAPI need no database: the session maker is never called."""
    return build_app(None, transport=transport)  # type: ignore[arg-type]


def test_error_codes_are_fastapi_users_ones() -> None:
    # FastAPI Users' codes come first, in their order; Doorkeeper's own follow.
    count = len(FASTAPI_USERS_ERROR_CODES)
    assert [code.name for code in ErrorCode][:count] == FASTAPI_USERS_ERROR_CODES
    assert [code.value for code in ErrorCode][:count] == FASTAPI_USERS_ERROR_CODES
    assert all(code.name == code.value for code in ErrorCode)
    assert all(isinstance(code, str) for code in ErrorCode)
    assert ErrorCode.LOGIN_BAD_CREDENTIALS == "LOGIN_BAD_CREDENTIALS"
    assert ErrorModel(detail="X").detail == "X"
    assert ErrorModel(detail={"code": "C", "reason": "R"}).detail == {"code": "C", "reason": "R"}
    assert ErrorCodeReasonModel(code="C", reason="R").model_dump() == {"code": "C", "reason": "R"}


def test_route_names() -> None:
    app = app_without_database().app
    some_id = str(uuid.uuid4())
    expected = {
        ("auth:jwt.login", ()): "/auth/jwt/login",
        ("auth:jwt.logout", ()): "/auth/jwt/logout",
        ("register:register", ()): "/auth/register",
        ("verify:request-token", ()): "/auth/request-verify-token",
        ("verify:verify", ()): "/auth/verify",
        ("reset:forgot_password", ()): "/auth/forgot-password",
        ("reset:reset_password", ()): "/auth/reset-password",
        ("users:current_user", ()): "/users/me",
        ("users:patch_current_user", ()): "/users/me",
        ("users:user", ("id",)): f"/users/{some_id}",
        ("users:patch_user", ("id",)): f"/users/{some_id}",
        ("users:delete_user", ("id",)): f"/users/{some_id}",
    }
    for (name, params), path in expected.items():
        assert app.url_path_for(name, **dict.fromkeys(params, some_id)) == path
    operations = {
        (path, method.upper()) for path, item in app.openapi()["paths"].items() for method in item
    }
    assert operations == {
        ("/auth/jwt/login", "POST"),
        ("/auth/jwt/logout", "POST"),
        ("/auth/register", "POST"),
        ("/auth/request-verify-token", "POST"),
        ("/auth/verify", "POST"),
        ("/auth/forgot-password", "POST"),
        ("/auth/reset-password", "POST"),
        ("/users/me", "GET"),
        ("/users/me", "PATCH"),
        ("/users/{id}", "GET"),
        ("/users/{id}", "PATCH"),
        ("/users/{id}", "DELETE"),
    }


def responses_of(app: FastAPI, path: str, method: str) -> dict[str, Any]:
    operation = app.openapi()["paths"][path][method]
    responses: dict[str, Any] = operation["responses"]
    return responses


def examples(responses: dict[str, Any], status: str) -> dict[str, Any]:
    content = responses[status]["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/ErrorModel"}
    found: dict[str, Any] = content["examples"]
    return found


@pytest.mark.parametrize("transport", ["bearer", "cookie"])
def test_openapi_responses(transport: str) -> None:
    app = app_without_database(transport).app
    # Like FastAPI Users: the cookie transport documents 204 next to FastAPI's default 200.
    success = {"200"} if transport == "bearer" else {"200", "204"}

    login = responses_of(app, "/auth/jwt/login", "post")
    assert set(login) == {*success, "400", "422"}
    assert {k: v["value"] for k, v in examples(login, "400").items()} == {
        "LOGIN_BAD_CREDENTIALS": {"detail": "LOGIN_BAD_CREDENTIALS"},
        "LOGIN_USER_NOT_VERIFIED": {"detail": "LOGIN_USER_NOT_VERIFIED"},
    }
    logout = responses_of(app, "/auth/jwt/logout", "post")
    # The bearer logout answers 204 (no body); its OpenAPI says so (schemathesis).
    assert set(logout) == {"200", "204", "401"}
    assert logout["401"]["description"] == "Missing token or inactive user."

    register = responses_of(app, "/auth/register", "post")
    assert set(register) == {"201", "400", "422"}
    register_examples = examples(register, "400")
    assert register_examples["REGISTER_USER_ALREADY_EXISTS"]["value"] == {
        "detail": "REGISTER_USER_ALREADY_EXISTS"
    }
    assert register_examples["REGISTER_INVALID_PASSWORD"]["value"]["detail"]["code"] == (
        "REGISTER_INVALID_PASSWORD"
    )

    assert set(responses_of(app, "/auth/request-verify-token", "post")) == {"202", "422"}
    assert set(responses_of(app, "/auth/forgot-password", "post")) == {"202", "422"}
    verify = responses_of(app, "/auth/verify", "post")
    assert set(examples(verify, "400")) == {"VERIFY_USER_BAD_TOKEN", "VERIFY_USER_ALREADY_VERIFIED"}
    reset = responses_of(app, "/auth/reset-password", "post")
    assert set(reset) == {"200", "400", "422"}
    assert set(examples(reset, "400")) == {
        "RESET_PASSWORD_BAD_TOKEN",
        "RESET_PASSWORD_INVALID_PASSWORD",
    }

    assert set(responses_of(app, "/users/me", "get")) == {"200", "401"}
    patch_me = responses_of(app, "/users/me", "patch")
    assert set(patch_me) == {"200", "400", "401", "422"}
    assert set(examples(patch_me, "400")) == {
        "UPDATE_USER_EMAIL_ALREADY_EXISTS",
        "UPDATE_USER_INVALID_PASSWORD",
    }
    get_user = responses_of(app, "/users/{id}", "get")
    assert set(get_user) == {"200", "401", "403", "404", "422"}
    assert get_user["403"]["description"] == "Not a superuser."
    assert get_user["404"]["description"] == "The user does not exist."
    patch_user = responses_of(app, "/users/{id}", "patch")
    assert set(patch_user) == {"200", "400", "401", "403", "404", "422"}
    delete_user = responses_of(app, "/users/{id}", "delete")
    assert set(delete_user) == {"204", "401", "403", "404", "422"}


@pytest.mark.parametrize("transport", ["bearer", "cookie"])
def test_no_schema_shows_a_password_hash(transport: str) -> None:
    document = json.dumps(app_without_database(transport).app.openapi())
    assert "hashed_password" not in document
    assert "/auth/register" in document
    user_read = app_without_database(transport).app.openapi()["components"]["schemas"]["UserRead"]
    assert set(user_read["properties"]) == {
        "id",
        "email",
        "is_active",
        "is_superuser",
        "is_verified",
        "first_name",
    }


def test_fastapi_users_object() -> None:
    dk = app_without_database()
    fastapi_users = dk.fastapi_users
    assert isinstance(fastapi_users, FastAPIUsers)
    assert isinstance(fastapi_users.authenticator, Authenticator)
    assert fastapi_users.authenticator.backends == [dk.backend]
    assert fastapi_users.current_user == fastapi_users.authenticator.current_user
    assert fastapi_users.get_user_manager is fastapi_users.authenticator.get_user_manager
