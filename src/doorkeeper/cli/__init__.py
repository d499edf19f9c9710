"""The `doorkeeper` command: `serve`, `users ...`, `roles ...`, `db ...` and `secret generate`.

Each command reads the `DOORKEEPER_*` settings (environment, then `.env`); a mistake
(a wrong URL, an unreachable database, a missing secret, an unknown user) gives one line
on stderr and exit status 1, never a traceback.

The commands are built on typer (the `server` extra). A plain install, without typer,
still runs `doorkeeper db ...` (the migrations, which the storage docs tell FastAPI
Users migrators to run) through `doorkeeper.cli.plain`, on argparse.
"""

import sys
from typing import Any

__all__ = ["app", "main", "typer_available"]


def typer_available() -> bool:
    """Whether typer (and click under it) can be imported."""
    try:
        import typer  # noqa: F401
    except ImportError as error:
        if (error.name or "").split(".")[0] not in ("typer", "click"):
            raise
        return False
    return True


def __getattr__(name: str) -> Any:
    if name == "app":  # the typer application, imported only when asked for
        from doorkeeper.cli.typer_app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """The console script's entry point."""
    if not typer_available():
        from doorkeeper.cli import plain

        sys.exit(plain.main(sys.argv[1:]))
    from doorkeeper.cli.typer_app import app

    app()
