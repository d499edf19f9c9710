"""`python -m doorkeeper.cli`: the `doorkeeper` command."""

from doorkeeper.cli import main

main()
