"""`docker`: the same worker runtime and broker, inside a throwaway container.

`docker run -i --rm` with no network, a read-only root, all capabilities dropped,
no-new-privileges, a pids limit and a memory limit; the channel is the container's
stdin/stdout (the worker moves it off fds 0/1 before running model code). Inside, the worker
applies rlimits; Landlock and seccomp are left to Docker's own profile because the image's
paths are not the host's.

environment_kwargs: image ("python:3.12-slim"; any image with python3 >= 3.11 works),
docker (binary, default "docker"), plus every `sandbox` keyword that makes sense
(cell_timeout, memory_limit, max_output_chars, ...).
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from typing import Any

from rlm.environments.sandbox.env import GiB, SandboxREPL
from rlm.errors import SandboxUnavailableError

CONTAINER_TMP = "/tmp/rlm"


def docker_available(binary: str = "docker") -> str | None:
    """None when a Docker daemon answers, else the reason it does not."""
    path = shutil.which(binary)
    if path is None:
        return f"`{binary}` is not installed"
    try:
        proc = subprocess.run(
            [path, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`{binary} info` failed: {exc}"
    if proc.returncode != 0 or not proc.stdout.strip():
        return f"no Docker daemon: {(proc.stderr or proc.stdout).strip()[:200]}"
    return None


class DockerREPL(SandboxREPL):
    name = "docker"
    layers = ("rlimits",)
    use_socketpair = False
    memory_in_place = False  # the cap is the container's --memory: a new context restarts it

    def __init__(self, *args: Any, image: str = "python:3.12-slim", docker: str = "docker",
                 **kwargs: Any):  # fmt: skip
        self.image = image
        self.docker = docker
        reason = docker_available(docker)
        if reason is not None:
            raise SandboxUnavailableError(
                f"environment 'docker' cannot start: {reason}. Start Docker, or use "
                "environment='sandbox'."
            )
        kwargs.setdefault("start_timeout", 180.0)
        super().__init__(*args, **kwargs)

    def _argv(self) -> list[str]:
        memory = self._memory_limit()
        self._container = f"rlm-worker-{uuid.uuid4().hex[:12]}"
        return [
            shutil.which(self.docker) or self.docker, "run", "-i", "--rm",
            "--name", self._container,
            "--network", "none", "--read-only", "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges", "--pids-limit", "64",
            "--memory", str(memory), "--memory-swap", str(memory),
            "--tmpfs", f"{CONTAINER_TMP}:rw,size={GiB},mode=1777",
            "--workdir", CONTAINER_TMP, "--env", "HOME=" + CONTAINER_TMP,
            "--user", "65534:65534",
            self.image, "python3", "-I", "-B",
        ]  # fmt: skip

    def _worker_config(self) -> dict[str, Any]:
        config = super()._worker_config()
        config["lockdown"]["read_only"] = []
        config["lockdown"]["read_write"] = [CONTAINER_TMP]
        config["lockdown"]["env"] = {"HOME": CONTAINER_TMP, "TMPDIR": CONTAINER_TMP,
                                     "LANG": "C.UTF-8", "MALLOC_ARENA_MAX": "2"}  # fmt: skip
        return config

    def _worker_env(self) -> dict[str, str]:
        # The docker CLI itself needs PATH and the user's docker config; the container
        # does not see this environment.
        import os

        keep = ("PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT")
        return {k: v for k, v in os.environ.items() if k in keep}

    def _on_worker_kill(self) -> None:
        # Killing the `docker run` client does not stop its container: ask the daemon.
        name = getattr(self, "_container", None)
        if name:
            subprocess.Popen(
                [shutil.which(self.docker) or self.docker, "kill", name],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
