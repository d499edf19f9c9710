"""The models of the documented FastAPI Users shape, used across the tests."""

from sqlalchemy import Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from doorkeeper.db import (
    SQLAlchemyBaseOAuthAccountTableUUID,
    SQLAlchemyBaseUserTable,
    SQLAlchemyBaseUserTableUUID,
)
from doorkeeper.db.sqlalchemy.access_token import SQLAlchemyBaseAccessTokenTableUUID
from doorkeeper.sessions.sqlalchemy import (
    SQLAlchemyBaseRefreshTokenTable,
    SQLAlchemyBaseSessionTableUUID,
)


class Base(DeclarativeBase):
    pass


class OAuthAccount(SQLAlchemyBaseOAuthAccountTableUUID, Base):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    first_name: Mapped[str | None] = mapped_column(String(length=100), nullable=True)
    oauth_accounts: Mapped[list[OAuthAccount]] = relationship("OAuthAccount", lazy="joined")


class AccessToken(SQLAlchemyBaseAccessTokenTableUUID, Base):
    pass


class Session(SQLAlchemyBaseSessionTableUUID, Base):
    pass


class RefreshToken(SQLAlchemyBaseRefreshTokenTable, Base):
    pass


class IntBase(DeclarativeBase):
    pass


class IntUser(SQLAlchemyBaseUserTable[int], IntBase):
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
