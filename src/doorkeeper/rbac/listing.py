"""The statement of one page of users for the admin listing: filters, a stable order
(by id, unique and never changing) and each user's role names, in one SELECT.

The role names come from a correlated subquery aggregating them into one string
(`string_agg` on PostgreSQL, `group_concat` on SQLite and MySQL/MariaDB); role names
hold no comma, so the string splits back into names.
"""

from typing import Any

from sqlalchemy import Select, exists, func, select

from doorkeeper.normalization import normalize_email
from doorkeeper.rbac.records import UserQuery

__all__ = ["ROLES_LABEL", "split_role_names", "user_page_statement"]

ROLES_LABEL = "doorkeeper_roles"
_SEPARATOR = ","


def split_role_names(value: str | None) -> list[str]:
    """The aggregated role names of a row, sorted."""
    return sorted(value.split(_SEPARATOR)) if value else []


def user_page_statement(
    user_table: Any, user_role_table: Any, role_table: Any, query: UserQuery
) -> Select[Any]:
    """SELECT the users of one page, each with its aggregated role names."""
    role_names = (
        select(func.aggregate_strings(role_table.name, _SEPARATOR))
        .select_from(user_role_table)
        .join(role_table, role_table.id == user_role_table.role_id)
        .where(user_role_table.user_id == user_table.id)
        .correlate(user_table)
        .scalar_subquery()
        .label(ROLES_LABEL)
    )
    statement = select(user_table, role_names)
    if query.after is not None:
        statement = statement.where(user_table.id > query.after)
    if query.email_prefix:
        prefix = normalize_email(query.email_prefix)
        statement = statement.where(user_table.email_normalized.startswith(prefix, autoescape=True))
    for column in ("is_active", "is_verified", "is_superuser"):
        value = getattr(query, column)
        if value is not None:
            statement = statement.where(getattr(user_table, column) == value)
    if query.role is not None:
        statement = statement.where(
            exists()
            .where(user_role_table.user_id == user_table.id)
            .where(user_role_table.role_id == role_table.id)
            .where(role_table.name == query.role)
        )
    return statement.order_by(user_table.id).offset(query.offset).limit(query.limit)
