"""Making an app's own `alembic revision --autogenerate` produce a migration that runs.

Alembic renders a column type of a package other than SQLAlchemy by its module path
(`doorkeeper.db.sqlalchemy.generics.UTCDateTime(timezone=True)`) without importing that
module: the revision failed with `NameError: name 'doorkeeper' is not defined` unless
one added `import doorkeeper.db.sqlalchemy.generics` by hand. And it adds
`email_normalized` as `NOT NULL` with no value, which fails (or on MySQL fills `''`,
and then the unique index fails) on a table that has rows.

`register()` hooks into Alembic's autogenerate (its global comparator and renderer
registries, which third-party plugins use) so that a revision generated against a
database in FastAPI Users' schema:

* imports the module of every Doorkeeper type it uses;
* adds `email_normalized` as nullable, fills it with
  `doorkeeper.migrations.ops.fill_email_normalized` (the same normalization the
  application uses, in batches), then makes it `NOT NULL`, and only then creates its
  unique index.

It is registered when `doorkeeper.db.sqlalchemy` is imported after Alembic (as under
`alembic revision --autogenerate`, which loads your env.py, which imports your models),
and whenever `doorkeeper.migrations` is imported.
"""

from typing import Any

from alembic.autogenerate import comparators, renderers
from alembic.operations import ops

__all__ = ["FillEmailNormalizedOp", "ImportsOp", "register"]

FILL_IMPORT = "from doorkeeper.migrations.ops import fill_email_normalized"
_registered = False


class FillEmailNormalizedOp(ops.MigrateOperation):
    """Fill `table.email_normalized` from `email` (rendered as a call of
    `doorkeeper.migrations.ops.fill_email_normalized`); `undo` renders a comment."""

    def __init__(self, table_name: str, schema: str | None = None, undo: bool = False) -> None:
        self.table_name = table_name
        self.schema = schema
        self.undo = undo

    def reverse(self) -> "FillEmailNormalizedOp":
        return FillEmailNormalizedOp(self.table_name, self.schema, not self.undo)


class ImportsOp(ops.MigrateOperation):
    """Renders no line, but the imports of `modules` (Alembic resets the imports
    gathered while comparing: only renderers can add them)."""

    def __init__(self, modules: set[str]) -> None:
        self.modules = modules

    def reverse(self) -> "ImportsOp":
        return self


def _render_imports(autogen_context: Any, op: ImportsOp) -> list[str]:
    autogen_context.imports.update(f"import {module}" for module in op.modules)
    return []


def _render_fill(autogen_context: Any, op: FillEmailNormalizedOp) -> str:
    if op.undo:
        return f"# {op.table_name}.email_normalized: nothing to undo before dropping it"
    autogen_context.imports.add(FILL_IMPORT)
    schema = f", schema={op.schema!r}" if op.schema else ""
    return f"fill_email_normalized({op.table_name!r}{schema})"


def _types(operation: Any) -> list[Any]:
    if isinstance(operation, ops.AddColumnOp):
        return [operation.column.type]
    if isinstance(operation, ops.CreateTableOp):
        return [column.type for column in operation.columns if hasattr(column, "type")]
    if isinstance(operation, ops.AlterColumnOp):
        return [operation.modify_type, operation.existing_type]
    return []


def _walk(container: Any) -> list[Any]:
    found = []
    for operation in getattr(container, "ops", ()):
        found.append(operation)
        found += _walk(operation)
    return found


def _split_email_normalized(upgrade_ops: Any) -> None:
    """[add email_normalized NOT NULL, ..., index] → [add it nullable], fill, [NOT NULL,
    ..., index]: existing rows get their value before the constraint and the index."""
    rewritten: list[Any] = []
    for operation in upgrade_ops.ops:
        adds = [
            item
            for item in getattr(operation, "ops", ())
            if isinstance(operation, ops.ModifyTableOps)
            and isinstance(item, ops.AddColumnOp)
            and item.column.name == "email_normalized"
            and not item.column.nullable
        ]
        if not adds:
            rewritten.append(operation)
            continue
        column = adds[0].column._copy()  # the model's own column stays NOT NULL
        column.nullable = True
        table, schema = operation.table_name, operation.schema
        columns = [
            ops.AddColumnOp(table, column, schema=schema) if item is adds[0] else item
            for item in operation.ops
            if isinstance(item, ops.AddColumnOp)
        ]
        rest = [item for item in operation.ops if not isinstance(item, ops.AddColumnOp)]
        not_null = ops.AlterColumnOp(
            table,
            "email_normalized",
            schema=schema,
            existing_type=column.type,
            existing_nullable=True,
            modify_nullable=False,
        )
        rewritten += [
            ops.ModifyTableOps(table, columns, schema=schema),
            FillEmailNormalizedOp(table, schema),
            ops.ModifyTableOps(table, [not_null, *rest], schema=schema),
        ]
    upgrade_ops.ops[:] = rewritten


def _doorkeeper_schema(autogen_context: Any, upgrade_ops: Any, schemas: Any) -> None:
    """Runs after Alembic's own comparison of the schemas (registered later)."""
    _split_email_normalized(upgrade_ops)
    modules = set()
    for operation in _walk(upgrade_ops):
        for type_ in _types(operation):
            module = type(type_).__module__
            if type_ is not None and module.split(".")[0] == "doorkeeper":
                modules.add(module)
    if modules:
        upgrade_ops.ops.insert(0, ImportsOp(modules))


def register() -> None:
    """Hook Doorkeeper's rendering into Alembic's autogenerate (once per process)."""
    global _registered
    if _registered:
        return
    _registered = True
    try:  # Alembic 1.18 and later: after its own comparisons, whatever the order
        from alembic.util import DispatchPriority

        priority: dict[str, Any] = {"priority": DispatchPriority.LAST}
    except ImportError:  # earlier: in the order of registration, after Alembic's own
        priority = {}
    comparators.dispatch_for("schema", **priority)(_doorkeeper_schema)
    renderers.dispatch_for(FillEmailNormalizedOp)(_render_fill)
    renderers.dispatch_for(ImportsOp)(_render_imports)
