"""`python -m shared.ops <command>` (see `shared/ops/cli.py` and "Operations" in README.md)."""

from shared.ops.cli import main

main()
