"""What the CLI tests share: a process environment with no API keys and no RLM_* settings."""

from __future__ import annotations

import os

from rlm.cli.config import API_KEY_BACKENDS, SETTINGS

# The variables the CLI reads to pick a backend, from its own table.
KEYS = frozenset(name for name, _ in API_KEY_BACKENDS)
# The CLI's own settings variables; others (e.g. the test guard RLM_BLOCK_REAL_REQUESTS) stay.
CLI_VARS = frozenset({f"RLM_{name.upper()}" for name in SETTINGS} | {"RLM_CONFIG"})


def isolate_cli(tmp_path, monkeypatch) -> None:
    """No API keys, no RLM_* settings; config and data dirs under tmp_path."""
    for name in list(os.environ):
        if name in CLI_VARS or name in KEYS:
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def scripted(*responses: str) -> list[str]:
    """`rlm run` flags for a scripted model in the in-process environment (these tests are
    about the command, not the sandbox)."""
    import json

    return [
        "--backend",
        "scripted",
        "--backend-kwargs",
        json.dumps({"responses": list(responses)}),
        "--environment",
        "local",
    ]
