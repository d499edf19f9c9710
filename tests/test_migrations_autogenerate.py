"""The other path: an app's own Alembic. `alembic revision --autogenerate`, run against a
database in FastAPI Users' schema with the app's models renamed to Doorkeeper
(`tests.app_models`), writes a revision that imports what it uses (no hand-added
`import doorkeeper.db.sqlalchemy.generics`), adds the three columns, fills
`email_normalized` on the existing rows and then creates its unique index."""

import importlib.util
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from doorkeeper.normalization import normalize_email
from tests.test_migrations_app_tables import EMAILS, _old_database, _select
from tests.test_migrations_schema import snapshot

ENV_PY = """
from alembic import context

from tests.app_models import Base

context.configure(
    connection=context.config.attributes["connection"], target_metadata=Base.metadata,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
"""


def _project(tmp_path: Path) -> Config:
    """A new Alembic project (`alembic init`), whose env.py uses the app's models."""
    directory = tmp_path / "migrations"
    config = Config(str(tmp_path / "alembic.ini"))
    command.init(config, str(directory))
    (directory / "env.py").write_text(ENV_PY)
    config.set_main_option("script_location", str(directory))
    return config


async def _run(url: str, config: Config, action: Any) -> None:
    engine = create_async_engine(url, poolclass=NullPool)

    def run(connection: sa.Connection) -> None:
        config.attributes["connection"] = connection
        action(config)

    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()


async def test_autogenerate_writes_a_revision_that_runs(tmp_path: Path, database_url: str) -> None:
    await _old_database(database_url)
    config = _project(tmp_path)

    await _run(database_url, config, lambda c: command.revision(c, "doorkeeper", autogenerate=True))

    (script,) = (tmp_path / "migrations" / "versions").glob("*.py")
    text = script.read_text()
    assert "import doorkeeper.db.sqlalchemy.generics" in text
    assert "from doorkeeper.migrations.ops import fill_email_normalized" in text
    assert "fill_email_normalized('users')" in text
    for column in ("email_normalized", "tokens_valid_after", "tokens_valid_except"):
        assert f"'{column}'" in text
    # The script imports cleanly on its own.
    spec = importlib.util.spec_from_file_location("generated_revision", script)
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))

    await _run(database_url, config, lambda c: command.upgrade(c, "head"))

    users = sa.table("users", sa.column("id"), sa.column("email"), sa.column("email_normalized"))
    rows = await _select(database_url, sa.select(users).order_by(users.c.id))
    assert [row.email for row in rows] == EMAILS  # every row kept
    assert [row.email_normalized for row in rows] == [normalize_email(e) for e in EMAILS]
    schema = await snapshot(database_url)
    assert "user" not in schema
    assert ("ix_users_email_normalized", ("email_normalized",), True) in schema["users"]["indexes"]
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            columns = await connection.run_sync(
                lambda sync: {c["name"]: c for c in sa.inspect(sync).get_columns("users")}
            )
    finally:
        await engine.dispose()
    assert columns["email_normalized"]["nullable"] is False
    # Nothing left to generate: the database now matches the models.
    await _run(database_url, config, lambda c: command.check(c))
