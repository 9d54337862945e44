"""`python -m rlm.cli` is the `rlm` command."""

from rlm.cli.main import main

main()
