"""Alembic environment of Doorkeeper's shipped migrations.

Run them with `doorkeeper db upgrade` or `doorkeeper.migrations.api`, which hand this
file an open connection (no alembic.ini needed); see `api.run_environment`.
"""

from doorkeeper.migrations.api import run_environment

run_environment()
