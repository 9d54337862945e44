"""Backends and environments from installed packages (entry points), found by name."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PLUGIN = textwrap.dedent(
    """
    from rlm.clients import BaseLM
    from rlm.environments.local import LocalREPL
    from rlm.types import CallUsage, LMResponse

    class EchoLM(BaseLM):
        def complete(self, prompt, **sampling):
            return LMResponse("FINAL(from the plugin)", CallUsage(self.model_name, 1, 1, 0.0))

    class NamedREPL(LocalREPL):
        name = "named"
    """
)


def install_plugin(site: Path) -> None:
    """A real installed distribution: a package plus its .dist-info with entry points."""
    (site / "rlm_demo_plugin").mkdir()
    (site / "rlm_demo_plugin" / "__init__.py").write_text(PLUGIN)
    info = site / "rlm_demo_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rlm-demo-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[rlm.backends]\necho = rlm_demo_plugin:EchoLM\n\n"
        "[rlm.environments]\nnamed = rlm_demo_plugin:NamedREPL\n"
    )


def run(site: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path])}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


def test_a_plugin_backend_and_environment_are_used_by_name(tmp_path):
    install_plugin(tmp_path)
    proc = run(
        tmp_path,
        "from rlm import RLM\n"
        "r = RLM(backend='echo', backend_kwargs={'model_name': 'echo-1'}, environment='named')\n"
        "print(r.completion('ctx').response)",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "from the plugin"


def test_unknown_names_list_plugins_too(tmp_path):
    install_plugin(tmp_path)
    proc = run(
        tmp_path,
        "from rlm import RLM\ntry:\n    RLM(backend='nope')\nexcept Exception as e:\n    print(e)",
    )
    assert "Unknown backend 'nope'" in proc.stdout
    assert "echo" in proc.stdout and "openai" in proc.stdout
