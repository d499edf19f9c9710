"""The tables of roles, as mixins for an app's declarative base:

* `doorkeeper_role`: id, unique name, creation time;
* `doorkeeper_role_permission`: the permissions a role grants (role, permission);
* `doorkeeper_user_role`: the roles users hold (user, role, when granted).

Deleting a role or a user deletes its rows in the two others (`ON DELETE CASCADE`).
Names and permissions compare exactly, in letter case too, on every database (an ASCII
binary collation on MySQL/MariaDB, whose default collation ignores case).
"""

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic

from sqlalchemy import ForeignKey, String
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeEngine

from doorkeeper.db.sqlalchemy.generics import GUID, UTCDateTime, now_utc
from doorkeeper.models import ID
from doorkeeper.rbac.permissions import PERMISSION_MAX_LENGTH, ROLE_NAME_MAX_LENGTH

__all__ = [
    "ROLE_PERMISSION_TABLE",
    "ROLE_TABLE",
    "USER_ROLE_TABLE",
    "SQLAlchemyBaseRolePermissionTable",
    "SQLAlchemyBaseRoleTable",
    "SQLAlchemyBaseUserRoleTable",
    "SQLAlchemyBaseUserRoleTableUUID",
    "exact_string",
]

ROLE_TABLE = "doorkeeper_role"
ROLE_PERMISSION_TABLE = "doorkeeper_role_permission"
USER_ROLE_TABLE = "doorkeeper_user_role"


def exact_string(length: int) -> TypeEngine[Any]:
    """A string compared byte for byte: ASCII with a binary collation on MySQL/MariaDB."""
    return String(length).with_variant(
        mysql.VARCHAR(length, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
    )


class SQLAlchemyBaseRoleTable:
    """The `doorkeeper_role` table: a role's id, its unique name, when it was made."""

    __tablename__ = ROLE_TABLE

    if TYPE_CHECKING:
        id: uuid.UUID
        name: str
        created_at: datetime
    else:
        id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
        name: Mapped[str] = mapped_column(
            exact_string(ROLE_NAME_MAX_LENGTH), nullable=False, unique=True, index=True
        )
        created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now_utc)


class SQLAlchemyBaseRolePermissionTable:
    """The `doorkeeper_role_permission` table: one row per permission of a role."""

    __tablename__ = ROLE_PERMISSION_TABLE

    if TYPE_CHECKING:
        role_id: uuid.UUID
        permission: str
    else:

        @declared_attr
        def role_id(cls) -> Mapped[uuid.UUID]:
            return mapped_column(
                GUID,
                ForeignKey(f"{ROLE_TABLE}.id", ondelete="cascade"),
                primary_key=True,
                sort_order=-1,
            )

        permission: Mapped[str] = mapped_column(
            exact_string(PERMISSION_MAX_LENGTH), primary_key=True
        )


class SQLAlchemyBaseUserRoleTable(Generic[ID]):
    """The `doorkeeper_user_role` table: one row per role a user holds. A subclass
    declares `user_id` (a primary key column, foreign key to its user table with
    `ondelete="cascade"`), or uses `SQLAlchemyBaseUserRoleTableUUID`."""

    __tablename__ = USER_ROLE_TABLE

    if TYPE_CHECKING:
        user_id: ID
        role_id: uuid.UUID
        created_at: datetime
    else:

        @declared_attr
        def role_id(cls) -> Mapped[uuid.UUID]:
            return mapped_column(
                GUID,
                ForeignKey(f"{ROLE_TABLE}.id", ondelete="cascade"),
                primary_key=True,
                index=True,
                sort_order=-1,
            )

        created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now_utc)


class SQLAlchemyBaseUserRoleTableUUID(SQLAlchemyBaseUserRoleTable[uuid.UUID]):
    if TYPE_CHECKING:
        user_id: uuid.UUID
    else:

        @declared_attr
        def user_id(cls) -> Mapped[uuid.UUID]:
            return mapped_column(
                GUID, ForeignKey("user.id", ondelete="cascade"), primary_key=True, sort_order=-2
            )
