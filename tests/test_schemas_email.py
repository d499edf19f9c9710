"""The read schema's e-mail field: `EmailStr`'s checks, errors and JSON schema, with its
answers remembered (it validates the same stored addresses on every request)."""

import uuid

import pytest
from pydantic import BaseModel, EmailStr, ValidationError

from doorkeeper import schemas


class UserRead(schemas.BaseUser[uuid.UUID]):
    pass


class Reference(BaseModel):
    email: EmailStr


def outcome(model: type[BaseModel], value: str) -> object:
    """The validated address, or the validation errors."""
    try:
        return model.model_validate({"id": uuid.uuid4(), "email": value}).email  # type: ignore[attr-defined]
    except ValidationError as error:
        return error.errors()


@pytest.mark.parametrize("value", ["x", "a@b", "king@camelot..bt", "", "ünï@côde.example"])
def test_same_answers_and_errors_as_email_str(value: str) -> None:
    assert outcome(UserRead, value) == outcome(Reference, value)


def test_same_json_schema() -> None:
    ours = UserRead.model_json_schema()["properties"]["email"]
    assert ours == Reference.model_json_schema()["properties"]["email"]


def test_an_address_is_validated_once() -> None:
    address = f"{uuid.uuid4().hex}@Example.COM"
    before = schemas._checked_email.cache_info()
    for _ in range(3):
        assert UserRead(id=uuid.uuid4(), email=address).email == address.replace(
            "Example.COM", "example.com"
        )
    after = schemas._checked_email.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 2)
