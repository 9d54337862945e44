"""The stdin/stdout channel used by `docker`, exercised without a Docker daemon.

A stand-in `docker` CLI (a shell script) answers `info` and turns `docker run ... python3
ARGS` into running the local interpreter with ARGS, so the real DockerREPL code runs end to
end over pipes: fd moving in the worker, framing over stdin/stdout, recovery.
"""

from __future__ import annotations

import stat
import sys

import pytest

from env_support import EchoHost
from rlm.environments.docker import DockerREPL


@pytest.fixture
def fake_docker(tmp_path):
    script = tmp_path / "docker"
    script.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        '  info) echo "0.0-fake"; exit 0 ;;\n'
        "  kill) exit 0 ;;\n"
        '  run) shift; while [ "$1" != "python3" ]; do shift; done; shift\n'
        f'       exec {sys.executable} "$@" ;;\n'
        "esac\n"
        "exit 1\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_stdio_channel_runs_cells_and_callbacks(fake_docker):
    env = DockerREPL(host=EchoHost(), docker=fake_docker, cell_timeout=2)
    try:
        env.load_context("x" * 3_000_000 + "tail")
        result = env.execute_code("print(len(context), context[-4:], llm_query('hi'))")
        assert result.stdout.strip() == "3000004 tail echo:hi"
        # print() and raw writes to fd 1 must not reach the channel (fd 1 is /dev/null now)
        forged = env.execute_code(
            "import os\nos.write(1, b'\\x00\\x00\\x00\\x02J{}')\nprint('plain')\nFINAL('ok')"
        )
        assert forged.stdout.strip() == "plain" and forged.final_answer == "ok"
        lost = env.execute_code("while True:\n    pass")
        assert lost.state_lost
        assert env.execute_code("print(context[-4:])").stdout.strip() == "tail"
    finally:
        env.close()


def test_docker_without_a_daemon_is_a_clear_error(tmp_path):
    from rlm.errors import SandboxUnavailableError

    with pytest.raises(SandboxUnavailableError, match="environment='sandbox'"):
        DockerREPL(host=EchoHost(), docker=str(tmp_path / "no-docker-here"))
