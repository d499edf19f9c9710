"""Pydantic schemas for reading, creating and updating users."""

from functools import lru_cache
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from pydantic.json_schema import WithJsonSchema
from pydantic.networks import validate_email

from doorkeeper import models

PASSWORD_MAX_LENGTH = 1024
"""Longer passwords are refused with 422 before any hashing (SECURITY 4)."""

Password = Annotated[str, StringConstraints(max_length=PASSWORD_MAX_LENGTH)]

SCHEMA = TypeVar("SCHEMA", bound=BaseModel)

PYDANTIC_V2 = True
"""FastAPI Users 12-14 told Pydantic 1 and 2 apart with this flag; Doorkeeper needs 2."""


def model_dump(model: BaseModel, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """`model.model_dump(...)` (FastAPI Users 12-14 helper, kept for apps that call it)."""
    return model.model_dump(*args, **kwargs)


def model_validate(schema: type[SCHEMA], obj: Any, *args: Any, **kwargs: Any) -> SCHEMA:
    """`schema.model_validate(obj, ...)` (FastAPI Users 12-14 helper, kept for apps that
    call it)."""
    return schema.model_validate(obj, *args, **kwargs)


@lru_cache(maxsize=4096)
def _checked_email(value: str) -> str:
    return validate_email(value)[1]


StoredEmail = Annotated[
    str, AfterValidator(_checked_email), WithJsonSchema({"type": "string", "format": "email"})
]
"""`EmailStr` with the same checks, errors and JSON schema, its answers remembered: a
read schema validates the same stored addresses on every request, and e-mail
validation was a tenth of the CPU time of `GET /users/me` (benchmarks/RESULTS.md)."""

_PRIVILEGED_FIELDS = {"id", "is_superuser", "is_active", "is_verified", "oauth_accounts"}
_NEVER_WRITTEN = {"id", "hashed_password", "current_password"}


class CreateUpdateDictModel(BaseModel):
    def create_update_dict(self) -> dict[str, Any]:
        """The fields a user may set on their own account (no privileged flags)."""
        return self.model_dump(exclude_unset=True, exclude=_PRIVILEGED_FIELDS | _NEVER_WRITTEN)

    def create_update_dict_superuser(self) -> dict[str, Any]:
        """The fields a superuser may set (everything declared but the id)."""
        return self.model_dump(exclude_unset=True, exclude=_NEVER_WRITTEN)


class BaseUser(CreateUpdateDictModel, Generic[models.ID]):
    """A user as returned by the API."""

    id: models.ID
    email: StoredEmail
    is_active: bool = True
    is_superuser: bool = False
    is_verified: bool = False

    model_config = ConfigDict(from_attributes=True)


class BaseUserCreate(CreateUpdateDictModel):
    email: EmailStr
    password: Password
    is_active: bool | None = True
    is_superuser: bool | None = False
    is_verified: bool | None = False


class BaseUserUpdate(CreateUpdateDictModel):
    password: Password | None = None
    current_password: Password | None = None
    """Required to change one's own password through `PATCH /users/me`."""
    email: EmailStr | None = None
    is_active: bool | None = None
    is_superuser: bool | None = None
    is_verified: bool | None = None


U = TypeVar("U", bound=BaseUser)  # type: ignore[type-arg]
UC = TypeVar("UC", bound=BaseUserCreate)
UU = TypeVar("UU", bound=BaseUserUpdate)


class BaseOAuthAccount(BaseModel, Generic[models.ID]):
    """An OAuth account linked to a user.

    The provider's tokens are read from the model but never serialized: no response
    carries them (SECURITY 35).
    """

    id: models.ID
    oauth_name: str
    access_token: str = Field(exclude=True, repr=False)
    expires_at: int | None = None
    refresh_token: str | None = Field(default=None, exclude=True, repr=False)
    account_id: str
    account_email: str

    model_config = ConfigDict(from_attributes=True)


class BaseOAuthAccountMixin(BaseModel):
    """Adds the list of OAuth accounts to a user schema."""

    oauth_accounts: list[BaseOAuthAccount] = []  # type: ignore[type-arg]
