"""Portable column types: a UUID type and a timezone-aware timestamp."""

import sys
import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import CHAR, TIMESTAMP, DateTime, Dialect, TypeDecorator
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.types import TypeEngine


class GUID(TypeDecorator[uuid.UUID]):
    """A UUID: PostgreSQL's native UUID type, CHAR(36) elsewhere (FastAPI Users' layout)."""

    impl = CHAR(36)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(UUID(as_uuid=True))
        return dialect.type_descriptor(CHAR(36))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        parsed = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
        if dialect.name == "postgresql":
            return parsed
        return str(parsed)

    def process_result_value(self, value: Any, dialect: Dialect) -> uuid.UUID | None:
        if value is None or isinstance(value, uuid.UUID):
            return value
        return uuid.UUID(str(value))

    @property
    def python_type(self) -> type[uuid.UUID]:
        return uuid.UUID


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def _as_utc(value: datetime | None, dialect: Dialect) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


class TIMESTAMPAware(TypeDecorator[datetime]):
    """A timestamp read back as an aware UTC datetime on every database."""

    impl = TIMESTAMP
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return _as_utc(value, dialect)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime with microseconds on every database.

    PostgreSQL stores `timestamptz`; SQLite and MySQL/MariaDB store naive UTC
    (`DATETIME(6)` on MySQL, whose plain DATETIME would drop the fraction).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        value = _as_utc(value, dialect)
        if value is not None and dialect.name != "postgresql":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return _as_utc(value, dialect)


if "alembic.autogenerate" in sys.modules:
    # Under `alembic revision --autogenerate`: render these types with their import.
    from doorkeeper.db.sqlalchemy.autogenerate import register

    register()
