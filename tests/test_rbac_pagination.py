"""Listing 10,000 users over HTTP on SQLite, PostgreSQL and MariaDB: every page stable
and complete (no user twice, none missed) by keyset and by offset, filters included,
and one SQL statement per page."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, insert, select

from doorkeeper.adapter.models import Role, User, UserRole
from doorkeeper.normalization import normalize_email
from tests.rbac_apps import RbacApp, rbac_app

USERS = 10_000
PAGE = 1000


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[RbacApp]:
    async with rbac_app(database_url) as built:
        await built.adapter.role.create_role("member", ["forum:post"])
        role = await _role_id(built)
        users = [
            {
                "id": uuid.uuid4(),
                "email": f"user{n:05d}@example.com",
                "email_normalized": normalize_email(f"user{n:05d}@example.com"),
                "hashed_password": "x",
                "is_active": n % 7 != 0,
                "is_superuser": False,
                "is_verified": n % 2 == 0,
            }
            for n in range(USERS)
        ]
        # Straight to the tables, many rows per INSERT: no hashing, no manager.
        async with built.adapter.engine.begin() as connection:
            await connection.execute(insert(User), users)
            await connection.execute(
                insert(UserRole),
                [{"user_id": user["id"], "role_id": role} for user in users[::10]],
            )
        await built.create_user("root@example.com", is_superuser=True)
        yield built


async def _role_id(app: RbacApp) -> Any:
    async with app.adapter.session_maker() as session:
        return await session.scalar(select(Role.id).where(Role.name == "member"))


async def _walk(
    client: httpx.AsyncClient, headers: dict[str, str], *, keyset: bool, **filters: Any
) -> list[list[dict[str, Any]]]:
    """Every page, following `next_cursor` (keyset) or the offset, up to an empty page."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": PAGE, **filters}
        if keyset and cursor is not None:
            params["after"] = cursor
        if not keyset:
            params["offset"] = PAGE * len(pages)
        response = await client.get("/admin/users", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if keyset and cursor is None:
            return pages
        if not body["items"]:
            return pages


async def test_every_page_of_10000_users_is_complete_and_stable(app: RbacApp) -> None:
    async with app.client() as client:
        headers = await app.login(client, "root@example.com")
        by_keyset = await _walk(client, headers, keyset=True)
        by_offset = await _walk(client, headers, keyset=False)

        ids = [item["id"] for page in by_keyset for item in page]
        assert len(ids) == USERS + 1 and len(set(ids)) == USERS + 1  # none missed, none twice
        assert ids == sorted(ids, key=uuid.UUID)  # one stable order: by id
        assert [len(page) for page in by_keyset] == [PAGE] * 10 + [1]
        assert [item["id"] for page in by_offset for item in page] == ids
        assert by_offset[-1] == []  # past the end: an empty page

        members = await _walk(client, headers, keyset=True, role="member", is_active=True)
        listed = [item for page in members for item in page]
        expected = {f"user{n:05d}@example.com" for n in range(0, USERS, 10) if n % 7 != 0}
        assert {item["email"] for item in listed} == expected
        assert len(listed) == len(expected)
        assert all(item["roles"] == ["member"] for item in listed)

        prefixed = await _walk(client, headers, keyset=False, email="USER012")
        found = [item for page in prefixed for item in page]
        assert {item["email"] for item in found} == {
            f"user{n:05d}@example.com" for n in range(1200, 1300)
        }
        assert [item["id"] for item in found] == sorted(
            (item["id"] for item in found), key=uuid.UUID
        )


async def test_one_statement_per_page(app: RbacApp) -> None:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = app.adapter.engine.sync_engine
    async with app.client() as client:
        headers = await app.login(client, "root@example.com")
        assert (await client.get("/admin/users", headers=headers)).status_code == 200
        event.listen(engine, "before_cursor_execute", count)
        try:
            for params in (
                {"limit": PAGE},
                {"limit": PAGE, "offset": 500, "role": "member"},
                {"limit": 10, "email": "user09", "is_verified": True, "is_active": True},
            ):
                statements.clear()
                response = await client.get("/admin/users", params=params, headers=headers)
                assert response.status_code == 200
                assert response.json()["items"]
                # One to authenticate (the session with its user), one for the page.
                assert len(statements) == 2, statements
                assert "doorkeeper_user_role" in statements[1]
        finally:
            event.remove(engine, "before_cursor_execute", count)
