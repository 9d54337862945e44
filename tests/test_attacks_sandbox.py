"""Round-two attacks on the default environment, at the environment level.

Every payload in `attack_payloads` runs in a shared `sandbox` worker; after each, every
detector in `attack_support` runs (host file metadata, host secrets, host processes and
signals, host peak RSS, output caps) and the environment must answer the next cell.

Where a layer depends on the kernel, the payloads run twice: on this kernel with every layer,
and as an older kernel would have it (Landlock ABI 5, which does not scope signals, and no
namespaces), so seccomp alone must hold the metadata calls and the fcntl/ioctl signal route.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from attack_payloads import CALLBACKS, CLEANUP, FLOOD, FORGED, INFO, METADATA, PRELUDE, SIGNALS
from attack_support import Detectors, World, assert_caps, everything, make_world
from env_support import EchoHost, make_env, require_sandbox
from rlm.core.feedback import format_result
from rlm.environments.sandbox.env import SandboxREPL

OUTPUT_CHARS = 100_000
MODES = {
    "this-kernel": {},
    "no-bwrap": {"namespaces": "unshare"},  # the sandbox's own namespace launcher
    "older-kernel": {"landlock_max_abi": 5, "bubblewrap": False,
                     "allow_degraded": ["namespaces"]},
}  # fmt: skip


class WorldHost(EchoHost):
    """The engine's part: `llm_query('touch')` makes the host create a file in the watched
    host directory (what an inotify watch would report)."""

    def __init__(self, world: World):
        super().__init__()
        self.world = world
        self.touched = 0

    def call(self, name: str, payload: dict[str, Any]) -> Any:
        if name == "llm_query" and payload.get("prompt") == "touch":
            self.touched += 1
            with open(os.path.join(self.world.victim_dir, f"{self.world.token}-new"), "w"):
                pass
            self.world.take_snapshot()  # the host's own change is not an attack
        return super().call(name, payload)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = make_world(tmp_path_factory.mktemp("attack-world"))
    yield w
    w.close()


@pytest.fixture(scope="module")
def envs(world):
    made: dict[str, Any] = {}

    def get(mode: str) -> Any:
        if mode not in made:
            made[mode] = make_env(
                "sandbox",
                host=WorldHost(world),
                cell_timeout=10.0,
                max_output_chars=OUTPUT_CHARS,
                **MODES[mode],
            )
        return made[mode]

    yield get
    for env in made.values():
        env.close()


def run_payload(env: Any, world: World, name: str, code: str) -> Any:
    detectors = Detectors(world)
    rss_before = detectors.before()
    result = env.execute_code(PRELUDE + "\n" + code.format(**world.vars()))
    assert_caps(result, OUTPUT_CHARS)
    assert result.final_answer != "pwned"
    detectors.check(name, everything(result), rss_before)
    nxt = env.execute_code("print('still answering')")
    if nxt.state_lost:  # the attack cost its worker: a fresh one must answer
        nxt = env.execute_code("print('still answering')")
    assert nxt.stdout.strip() == "still answering", nxt.stderr[-500:]
    env.execute_code(CLEANUP)
    return result


def _cases(payloads: list[tuple[str, str]], modes: list[str]) -> list[Any]:
    return [pytest.param(mode, name, code, id=f"{mode}:{name}")
            for mode in modes for name, code in payloads]  # fmt: skip


BOTH = ["this-kernel", "older-kernel"]


@pytest.mark.parametrize(("mode", "name", "code"), _cases(METADATA + SIGNALS, BOTH))
def test_metadata_and_signal_routes_stay_closed(envs, world, mode, name, code):
    env = envs(mode)
    assert env.lockdown_report.get("namespaces") in (None, "bwrap", "unshare")
    if mode == "older-kernel":
        report = env.lockdown_report
        assert report["landlock"] == 5 and "namespaces" in report["degraded"]
    run_payload(env, world, name, code)


@pytest.mark.parametrize(("mode", "name", "code"), _cases(INFO, ["this-kernel", "no-bwrap"]))
def test_nothing_outside_the_temp_dir_exists_for_the_worker(envs, world, mode, name, code):
    env = envs(mode)
    assert env.lockdown_report["namespaces"] == ("unshare" if mode == "no-bwrap" else "bwrap")
    result = run_payload(env, world, name, code)
    if name == "inotify-host-dir":
        assert "fd -1" in result.stdout  # refused before any watch could exist


@pytest.mark.parametrize(("mode", "name", "code"), _cases(CALLBACKS + FORGED, ["this-kernel"]))
def test_callbacks_and_forged_frames_cannot_grow_the_host(envs, world, mode, name, code):
    run_payload(envs(mode), world, name, code)


@pytest.mark.parametrize(("mode", "name", "code"), _cases(FLOOD, ["this-kernel"]))
def test_variable_names_cannot_flood_the_next_prompt(envs, world, mode, name, code):
    result = run_payload(envs(mode), world, name, code)
    limit = 20_000
    assert len(format_result(result, limit)) <= limit + 100


def test_the_old_kernel_mode_really_lacks_signal_scoping(envs):
    """The older-kernel worker must be what it claims: Landlock without ABI 6 scoping."""
    report = envs("older-kernel").lockdown_report
    assert report["landlock"] == 5
    assert envs("this-kernel").lockdown_report["landlock"] >= 6 or pytest.skip(
        "this kernel's Landlock is older than ABI 6 already"
    )


def test_there_are_enough_payloads():
    from test_attacks_engine import ENGINE_PAYLOADS

    ids = [n for n, _ in METADATA + SIGNALS + INFO + CALLBACKS + FORGED + FLOOD]
    ids += [n for n, *_ in ENGINE_PAYLOADS]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 120, len(ids)


@pytest.mark.parametrize(
    "name", ["chmod-setuid-victim", "stat-size", "proc-host-pid-stat", "fcntl-stderr-pipe-owner"]
)
def test_detectors_fire_when_a_layer_is_really_missing(world, name):
    """The detectors are live: with seccomp and the namespaces switched off (an explicit
    opt-in), these payloads do harm, and the detector for that harm says so."""
    code = dict(METADATA + SIGNALS + INFO)[name]
    require_sandbox()

    class Weakened(SandboxREPL):
        layers = ("rlimits", "capabilities", "landlock")  # no namespaces, no seccomp

    env = Weakened(host=WorldHost(world), landlock_max_abi=5)
    detectors = Detectors(world)
    try:
        result = env.execute_code(PRELUDE + "\n" + code.format(**world.vars()))
        with pytest.raises(AssertionError, match=r"changed|learned|signalled"):
            detectors.check(name, everything(result), detectors.before())
    finally:
        env.close()
        os.chmod(world.victim, 0o644)
        for sig in world.signals:
            world.signals[sig] = 0
        world.take_snapshot()
