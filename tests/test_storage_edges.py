"""Edges of the storage and manager layers: custom databases, custom hashers, models
without Doorkeeper's columns, and the portable column types."""

import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import Column, ForeignKey, MetaData, String, Table
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from doorkeeper import BaseUserManager, UUIDIDMixin, schemas
from doorkeeper.concurrency import cpu_limit
from doorkeeper.db import BaseUserDatabase
from doorkeeper.db.sqlalchemy import GUID, TIMESTAMPAware, UTCDateTime
from doorkeeper.db.sqlalchemy.access_token import SQLAlchemyAccessTokenDatabase
from doorkeeper.db.sqlalchemy.generics import now_utc
from doorkeeper.exceptions import UserNotExists
from doorkeeper.password import PasswordHelper
from tests.conftest import cheap_password_helper
from tests.models import AccessToken


class PlainUser:
    """A user of an app's own storage, without Doorkeeper's revocation columns."""

    def __init__(self, email: str, hashed_password: str) -> None:
        self.id = uuid.uuid4()
        self.email = email
        self.hashed_password = hashed_password
        self.is_active = True
        self.is_superuser = False
        self.is_verified = False


class MemoryUserDatabase(BaseUserDatabase[PlainUser, uuid.UUID]):
    def __init__(self) -> None:
        self.users: dict[uuid.UUID, PlainUser] = {}

    async def get(self, id: uuid.UUID) -> PlainUser | None:
        return self.users.get(id)

    async def get_by_email(self, email: str) -> PlainUser | None:
        return next((u for u in self.users.values() if u.email.lower() == email.lower()), None)

    async def create(self, create_dict: dict[str, Any]) -> PlainUser:
        user = PlainUser(create_dict["email"], create_dict["hashed_password"])
        self.users[user.id] = user
        return user

    async def update(self, user: PlainUser, update_dict: dict[str, Any]) -> PlainUser:
        for key, value in update_dict.items():
            setattr(user, key, value)
        return user


class HashOnlyHelper:
    """A PasswordHelperProtocol of an app's own, without `verify_dummy`."""

    def __init__(self) -> None:
        self.inner = cheap_password_helper()
        self.hashed: list[str] = []

    def verify_and_update(
        self, plain_password: str, hashed_password: str
    ) -> tuple[bool, str | None]:
        return self.inner.verify_and_update(plain_password, hashed_password)

    def hash(self, password: str) -> str:
        self.hashed.append(password)
        return self.inner.hash(password)

    def generate(self) -> str:
        return self.inner.generate()


class MemoryManager(UUIDIDMixin, BaseUserManager[PlainUser, uuid.UUID]):
    reset_password_token_secret = "r" * 32
    verification_token_secret = "v" * 32


async def test_manager_over_a_custom_database_and_hasher() -> None:
    helper = HashOnlyHelper()
    manager = MemoryManager(MemoryUserDatabase(), helper)
    user = await manager.create(
        schemas.BaseUserCreate(email="a@camelot.bt", password="a-good-password")
    )
    form = OAuth2PasswordRequestForm(username="unknown@camelot.bt", password="whatever-password")
    assert await manager.authenticate(form) is None
    assert helper.hashed[-1] == "whatever-password"  # the fallback spends one hash

    # No revocation columns: revoking is a no-op, and updates still work.
    assert await manager.revoke_tokens(user) is user
    assert not hasattr(user, "tokens_valid_after")
    updated = await manager.update(
        schemas.BaseUserUpdate(password="another-good-password", is_superuser=None), user
    )
    assert not hasattr(updated, "tokens_valid_after")
    # `null` for a column that cannot hold one means "unchanged", never a 500.
    assert updated.is_superuser is False


async def test_update_with_an_explicit_null_password_keeps_the_password() -> None:
    manager = MemoryManager(MemoryUserDatabase(), cheap_password_helper())
    user = await manager.create(
        schemas.BaseUserCreate(email="b@camelot.bt", password="a-good-password")
    )
    before = user.hashed_password
    await manager.update(schemas.BaseUserUpdate(password=None), user)
    assert user.hashed_password == before


async def test_parse_id_must_be_provided() -> None:
    manager: BaseUserManager[PlainUser, uuid.UUID] = BaseUserManager(MemoryUserDatabase())
    assert isinstance(manager.password_helper, PasswordHelper)
    with pytest.raises(NotImplementedError):
        manager.parse_id("x")
    with pytest.raises(UserNotExists):
        await manager.get(uuid.uuid4())


def test_cpu_limit_without_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert cpu_limit() == 1


def test_portable_types() -> None:
    guid = GUID()
    value = uuid.uuid4()
    assert guid.python_type is uuid.UUID
    assert guid.process_bind_param(None, sqlite.dialect()) is None
    assert guid.process_bind_param(str(value), sqlite.dialect()) == str(value)
    assert guid.process_bind_param(value, postgresql.dialect()) == value
    assert guid.process_result_value(str(value), sqlite.dialect()) == value
    assert guid.process_result_value(None, sqlite.dialect()) is None

    naive = datetime(2026, 1, 1, 12, 0)
    aware = TIMESTAMPAware().process_result_value(naive, sqlite.dialect())
    assert aware == naive.replace(tzinfo=timezone.utc)
    assert TIMESTAMPAware().process_result_value(None, sqlite.dialect()) is None

    utc = UTCDateTime()
    assert utc.process_bind_param(now_utc(), mysql.dialect()).tzinfo is None  # type: ignore[union-attr]
    assert utc.process_bind_param(None, mysql.dialect()) is None
    local = datetime(2026, 1, 1, 14, 0, tzinfo=timezone.utc).astimezone()
    assert utc.process_bind_param(local, postgresql.dialect()) == local
    assert utc.process_result_value(naive, mysql.dialect()).tzinfo is timezone.utc  # type: ignore[union-attr]


async def test_access_tokens_with_an_unmapped_user_table(engine: AsyncEngine) -> None:
    metadata = MetaData()
    Table("plain_user", metadata, Column("id", GUID, primary_key=True))

    class TokenBase(DeclarativeBase):
        pass

    TokenBase.metadata = metadata

    class PlainToken(TokenBase):
        __tablename__ = "plain_token"
        token: Mapped[str] = mapped_column(String(43), primary_key=True)
        created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
        user_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("plain_user.id"))

    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    owner = uuid.uuid4()
    async with engine.begin() as connection:
        await connection.execute(metadata.tables["plain_user"].insert().values(id=owner))
    async with async_sessionmaker(engine)() as session:  # expire_on_commit=True
        tokens = SQLAlchemyAccessTokenDatabase(session, PlainToken)
        created = await tokens.create({"token": "t" * 43, "user_id": owner})
        assert created.user_id == owner
        updated = await tokens.update(created, {"user_id": owner})
        assert updated.token == "t" * 43
        pair = await tokens.get_by_token_with_user("t" * 43)
        assert pair is not None and pair[1] is None  # no mapped user class to join
        assert await tokens.get_by_token_with_user("u" * 43) is None


async def test_access_tokens_join_needs_the_foreign_key(engine: AsyncEngine) -> None:
    tokens = SQLAlchemyAccessTokenDatabase(async_sessionmaker(engine)(), AccessToken)
    assert tokens._user_class() is not None
