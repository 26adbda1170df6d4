"""`python -m shared.ops <command>` (see `shared/ops/cli.py` and `shared/ops/README.md`)."""

from shared.ops.cli import main

main()
