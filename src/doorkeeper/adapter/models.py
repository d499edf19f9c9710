"""The tables of `SQLAlchemyAdapter`: users, OAuth accounts, access tokens, login
sessions and their refresh tokens, one-time tokens, roles and their grants.

`user`, `oauth_account` and `accesstoken` keep FastAPI Users' table and column names;
`doorkeeper_one_time_token` holds the digests of verification, reset and e-mail change
tokens. For an app's own Alembic `env.py`::

    from doorkeeper.adapter.models import Base
    target_metadata = Base.metadata

Every index and constraint has a stable name (`NAMING_CONVENTION`), so the tables made by
`create_tables()` and by the shipped migrations are identical, and a future migration
can name what it changes. Primary and foreign keys follow PostgreSQL's own default names.
"""

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from doorkeeper.db.sqlalchemy import (
    GUID,
    SQLAlchemyBaseOAuthAccountTableUUID,
    SQLAlchemyBaseUserTableUUID,
    UTCDateTime,
    now_utc,
)
from doorkeeper.db.sqlalchemy.access_token import SQLAlchemyBaseAccessTokenTableUUID
from doorkeeper.rbac.tables import (
    SQLAlchemyBaseRolePermissionTable,
    SQLAlchemyBaseRoleTable,
    SQLAlchemyBaseUserRoleTableUUID,
)
from doorkeeper.sessions.sqlalchemy import (
    SQLAlchemyBaseRefreshTokenTable,
    SQLAlchemyBaseSessionTableUUID,
)
from doorkeeper.singleuse.sqlalchemy import SQLAlchemyBaseSingleUseTable

__all__ = [
    "NAMING_CONVENTION",
    "AccessToken",
    "Base",
    "OAuthAccount",
    "OneTimeToken",
    "RefreshToken",
    "Role",
    "RolePermission",
    "Session",
    "SingleUse",
    "User",
    "UserRole",
]

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}


class Base(DeclarativeBase):
    """The declarative base of Doorkeeper's tables (and only of them)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class OAuthAccount(SQLAlchemyBaseOAuthAccountTableUUID, Base):
    """An account at an OAuth provider, linked to one user.

    The provider's tokens are stored encrypted (`doorkeeper.oauth.crypto`), and some
    providers' are long (Microsoft's are JWTs): `TEXT` rather than FastAPI Users' 1,024
    characters (migration `dk0004`)."""

    if not TYPE_CHECKING:
        access_token: Mapped[str] = mapped_column(Text, nullable=False)
        refresh_token: Mapped[str | None] = mapped_column(Text, nullable=True)


# The user's accounts are loaded with the user: index the join column.
Index("ix_oauth_account_user_id", OAuthAccount.__table__.c.user_id)


class User(SQLAlchemyBaseUserTableUUID, Base):
    """A user: FastAPI Users' columns, plus the normalized e-mail and revocation columns."""

    oauth_accounts: Mapped[list[OAuthAccount]] = relationship(
        "OAuthAccount", lazy="joined", cascade="all, delete-orphan", passive_deletes=True
    )


class AccessToken(SQLAlchemyBaseAccessTokenTableUUID, Base):
    """A login session of the database strategy: the digest of its token, never the token."""


class Session(SQLAlchemyBaseSessionTableUUID, Base):
    """A login session: who, from where, since when, until when, and its access token."""


class RefreshToken(SQLAlchemyBaseRefreshTokenTable, Base):
    """A refresh token of a session: its digest, never the token; used at most once."""


class OneTimeToken(Base):
    """A single-use token (e-mail verification, password reset, e-mail change).

    `digest` is the SHA-256 digest of the token (base64url, 43 characters); the token
    itself is only ever in the link sent to the user. `payload` carries what the token
    stands for, e.g. the new address of a pending e-mail change.
    """

    __tablename__ = "doorkeeper_one_time_token"

    digest: Mapped[str] = mapped_column(String(length=43), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(length=32), nullable=False)
    user_id: Mapped[uuid.UUID] = mapped_column(
        GUID, ForeignKey("user.id", ondelete="cascade"), nullable=False, index=True
    )
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now_utc)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, default=None)


class Role(SQLAlchemyBaseRoleTable, Base):
    """A role: a unique name (see docs/rbac.md)."""


class RolePermission(SQLAlchemyBaseRolePermissionTable, Base):
    """A permission a role grants."""


class UserRole(SQLAlchemyBaseUserRoleTableUUID, Base):
    """A role a user holds."""


class SingleUse(SQLAlchemyBaseSingleUseTable, Base):
    """Spent OAuth states and one-time codes (digests only): see `doorkeeper.singleuse`."""
