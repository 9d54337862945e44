"""`rlm chat` in a pseudo-terminal: a two-turn conversation, then a new process resumes it."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_support import isolate_cli
from env_support import sandbox_skip_reason
from rlm.viewer.store import LogStore

pytestmark = pytest.mark.skipif(
    sandbox_skip_reason() is not None, reason=str(sandbox_skip_reason())
)

# One reply per turn: code that reads the conversation from `history` and answers with it.
REPLY = (
    "```repl\n"
    "said = [m['content'] for m in history if m['role'] == 'user']\n"
    "FINAL('heard ' + str(len(said)) + ' before: ' + ' / '.join(said))\n"
    "```"
)
GIVE_UP = 120.0  # seconds: only so that a broken build fails instead of hanging


class Terminal:
    """`rlm chat` running on a pty, read and typed into like a user would."""

    def __init__(self, args: list[str], env: dict[str, str]):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rlm.cli", "chat", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            close_fds=True,
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str) -> str:
        """Read until `text` appears; returns everything read up to and including it."""
        give_up = time.monotonic() + GIVE_UP
        while text not in self.seen:
            left = give_up - time.monotonic()
            ready, _, _ = select.select([self.master], [], [], max(0.0, left))
            if not ready:
                raise AssertionError(f"never saw {text!r}; the terminal shows:\n{self.seen}")
            try:
                data = os.read(self.master, 4096)
            except OSError:  # the child closed the pty
                data = b""
            if not data:
                raise AssertionError(f"exited before {text!r}; the terminal shows:\n{self.seen}")
            self.seen += data.decode("utf-8", "replace").replace("\r\n", "\n")
        head, _, rest = self.seen.partition(text)
        self.seen = rest
        return head + text

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def ask(self, line: str) -> str:
        """Type a line; everything printed until the next prompt."""
        self.type(line)
        return self.expect("you> ")

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=GIVE_UP)
        finally:
            os.close(self.master)


def chat_command(session: str, responses: list[str]) -> tuple[list[str], dict[str, str]]:
    """Arguments and environment of `rlm chat` with a scripted model in the sandbox."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "200"}
    args = ["--session", session, "-b", "scripted", "-e", "sandbox"]
    return [*args, "--backend-kwargs", json.dumps({"responses": responses})], env


def test_rlm_chat_holds_a_conversation_and_resumes_it(tmp_path: Path, monkeypatch) -> None:
    isolate_cli(tmp_path, monkeypatch)
    args, env = chat_command("pty-demo", [REPLY] * 4)

    first = Terminal(args, env)
    first.expect("session pty-demo (new)")
    first.expect("you> ")
    assert "heard 0 before" in first.ask("my name is Ada")
    assert "heard 1 before: my name is Ada" in first.ask("what did I say?")
    first.type("/exit")
    assert first.close() == 0

    second = Terminal(args, env)
    second.expect("session pty-demo (resumed, 2 turn(s))")
    second.expect("you> ")
    assert "2 turn(s)" in second.ask("/usage")
    answer = second.ask("and now?")
    assert "heard 2 before: my name is Ada / what did I say?" in answer
    assert "* pty-demo  3 turn(s)" in second.ask("/sessions")
    second.type("/exit")
    assert second.close() == 0
    # One trajectory per turn under the default log directory, which `rlm view` serves:
    # the viewer's run list names the session and the turn of each.
    runs = LogStore(tmp_path / "data" / "rlm" / "logs").runs()
    turns = sorted((r.summary()["session"], r.summary()["turn"]) for r in runs)
    assert turns == [("pty-demo", 0), ("pty-demo", 1), ("pty-demo", 2)]


def test_ctrl_c_cancels_the_running_turn_and_the_chat_goes_on(tmp_path: Path, monkeypatch) -> None:
    isolate_cli(tmp_path, monkeypatch)
    slow = "```repl\nimport time\ntime.sleep(120)\n```"
    args, env = chat_command("interrupted", [slow, REPLY])

    chat = Terminal(args, env)
    chat.expect("you> ")
    chat.type("take your time")
    chat.expect("step 1")
    chat.proc.send_signal(signal.SIGINT)  # what Ctrl-C delivers to the foreground process
    chat.expect("(turn cancelled)")
    chat.expect("you> ")
    assert "heard 0 before" in chat.ask("are you there?")  # a cancelled turn is not in history
    assert "2 turn(s)" in chat.ask("/usage")
    chat.type("/exit")
    assert chat.close() == 0
