"""The SQLAlchemy snippets of FastAPI Users' documentation (shared/seeds/001_*) run
with only `fastapi_users` renamed to `doorkeeper`, on SQLite, PostgreSQL and MariaDB.

The snippets are kept verbatim (renamed) in tests/seeds/; where the seed documents are
beside the repository (CI, a developer's machine), the test also checks that the kept
copy still matches the document."""

import types
import uuid
from pathlib import Path

import pytest

from doorkeeper import schemas
from doorkeeper.manager import BaseUserManager, IntegerIDMixin, UUIDIDMixin
from tests.conftest import cheap_password_helper

SEEDS = Path(__file__).parent / "seeds"
SHARED_SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def load_snippet(name: str, database_url: str) -> types.ModuleType:
    source = (SEEDS / name).read_text()
    source = source.replace(
        'DATABASE_URL = "sqlite+aiosqlite:///./test.db"', f"DATABASE_URL = {database_url!r}"
    )
    module = types.ModuleType(f"seed_{uuid.uuid4().hex}")
    exec(compile(source, name, "exec"), module.__dict__)  # noqa: S102 - our own test data
    return module


def test_kept_snippet_matches_the_seed_document() -> None:
    documents = sorted(SHARED_SEEDS.glob("001_*")) if SHARED_SEEDS.exists() else []
    if not documents:
        pytest.skip("shared/seeds is not beside the repository")
    text = documents[0].read_text()
    kept = (SEEDS / "db_sqlalchemy_uuid.py.txt").read_text()
    assert kept.replace("doorkeeper", "fastapi_users").strip() in text
    assert "class User(SQLAlchemyBaseUserTable[int], Base):" in text
    assert "id: Mapped[int] = mapped_column(Integer, primary_key=True)" in text


@pytest.mark.parametrize(
    ("snippet", "mixin"),
    [("db_sqlalchemy_uuid.py.txt", UUIDIDMixin), ("db_sqlalchemy_int.py.txt", IntegerIDMixin)],
)
async def test_snippet_runs(database_url: str, snippet: str, mixin: type) -> None:
    seed = load_snippet(snippet, database_url)
    try:
        await seed.create_db_and_tables()
        await seed.create_db_and_tables()  # create_all is idempotent

        class UserManager(mixin, BaseUserManager):  # type: ignore[misc, valid-type]
            reset_password_token_secret = "x" * 32
            verification_token_secret = "x" * 32

        sessions = seed.get_async_session()
        session = await anext(sessions)
        user_dbs = seed.get_user_db(session)
        user_db = await anext(user_dbs)
        manager = UserManager(user_db, cheap_password_helper())
        user = await manager.create(
            schemas.BaseUserCreate(email="King.Arthur@camelot.bt", password="guinevere-1")
        )
        found = await manager.get_by_email("king.arthur@CAMELOT.bt")
        assert found.id == user.id
        assert (await manager.get(manager.parse_id(str(user.id)))).email == "King.Arthur@camelot.bt"
        await user_dbs.aclose()
        await sessions.aclose()
    finally:
        await seed.engine.dispose()
