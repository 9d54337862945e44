"""The `rlm` command line (entry point: `rlm.cli.main:main`)."""
