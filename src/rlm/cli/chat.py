"""`rlm chat`: a conversation with an AgentRLM in the terminal, kept as a resumable session.

The answer streams to stdout as the model writes it; progress lines (steps, sub-calls, tool
calls) go to stderr, dimmed. Ctrl-C during a turn cancels that turn (it is recorded as
cancelled); Ctrl-D or /exit leaves. Each turn's trajectory is logged under
`<log dir>/sessions/<session>/`, where `rlm view` shows it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import IO, Any

from rich.console import Console

from rlm.cli.config import Settings, default_log_dir
from rlm.cli.run import build_rlm_kwargs
from rlm.errors import RLMError

HELP = """commands:
  /sessions       list the stored sessions
  /resume NAME    continue session NAME
  /usage          tokens, cost and time of this session
  /exit           leave (Ctrl-D too); Ctrl-C stops the running turn"""
RECENT = 4  # messages shown when a session is resumed


class ChatApp:
    def __init__(
        self,
        settings: Settings,
        backend_kwargs: dict[str, Any],
        store: str | None,
        out: IO[str],
        err: Console,
    ):
        self.rlm_kwargs = build_rlm_kwargs(settings, backend_kwargs)
        self.log_root = Path(settings.get("log_dir") or default_log_dir()).expanduser()
        self.store_path = store
        self.out = out
        self.err = err
        self.agent: Any = None

    # -- sessions ---------------------------------------------------------------------------
    def open(self, session: str | None) -> None:
        from rlm.agent import AgentRLM
        from rlm.agent.agent import check_session_name

        name = session or time.strftime("chat-%Y%m%d-%H%M%S")
        check_session_name(name)
        if self.agent is not None:
            self.agent.close()
            self.agent = None
        self.agent = AgentRLM(
            **self.rlm_kwargs,
            session=name,
            store=self.store_path,
            log_dir=self.log_root / "sessions" / name,
        )
        messages = self.agent.messages
        state = f"resumed, {len(messages) // 2} turn(s)" if messages else "new"
        self.err.print(f"session {name} ({state}); /help for commands", style="dim")
        for message in messages[-RECENT:]:
            who = "you" if message["role"] == "user" else "rlm"
            self.err.print(f"  {who}: {message['content']}", style="dim")

    def list_sessions(self) -> None:
        for row in self.agent.store.sessions():
            mark = "*" if row["name"] == self.agent.session else " "
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(row["updated"]))
            tokens = row["input_tokens"] + row["output_tokens"]
            self.out.write(
                f"{mark} {row['name']}  {row['turns']} turn(s)  {tokens} tokens  {when}\n"
            )
        self.out.flush()

    def show_usage(self) -> None:
        totals = self.agent.usage()
        cost = "unknown" if totals["cost"] is None else f"${totals['cost']:.4f}"
        self.out.write(
            f"session {self.agent.session}: {totals['turns']} turn(s), "
            f"{totals['input_tokens']} input + {totals['output_tokens']} output tokens, "
            f"cost {cost}, {totals['time']:.1f}s\n"
        )
        self.out.flush()

    # -- a turn -----------------------------------------------------------------------------
    async def _turn(self, message: str) -> None:
        async for chunk in self.agent.chat(message, stream=True):
            if chunk.kind == "progress":
                self.err.print(chunk.rstrip("\n"), style="dim")
            elif chunk.kind == "replace":
                self.out.write(f"\n(revised) {chunk}")
            else:
                self.out.write(chunk)
            self.out.flush()
        self.out.write("\n")
        self.out.flush()

    def turn(self, message: str) -> None:
        self.out.write("rlm> ")
        self.out.flush()
        try:
            asyncio.run(self._turn(message))
        except KeyboardInterrupt:
            self.out.write("\n")
            self.err.print("(turn cancelled)", style="yellow")
        except RLMError as exc:
            self.out.write("\n")
            self.err.print(f"error: {exc}", style="red")

    # -- the loop ---------------------------------------------------------------------------
    def handle(self, line: str) -> bool:
        """Run one input line; False means leave."""
        command, _, argument = line.strip().partition(" ")
        if command in ("/exit", "/quit"):
            return False
        if command == "/help":
            self.out.write(HELP + "\n")
        elif command == "/sessions":
            self.list_sessions()
        elif command == "/usage":
            self.show_usage()
        elif command == "/resume":
            if not argument.strip():
                self.err.print("usage: /resume NAME (see /sessions)", style="yellow")
            else:
                self.open(argument.strip())
        elif command.startswith("/"):
            self.err.print(f"unknown command {command}; /help lists them", style="yellow")
        elif line.strip():
            self.turn(line.strip())
        return True

    def loop(self) -> int:
        try:
            while True:
                try:
                    line = input("you> ")
                except EOFError:
                    self.out.write("\n")
                    return 0
                except KeyboardInterrupt:
                    self.out.write("\n")
                    continue
                try:
                    if not self.handle(line):
                        return 0
                except RLMError as exc:
                    self.err.print(f"error: {exc}", style="red")
        finally:
            if self.agent is not None:
                self.agent.close()


def run_chat(
    session: str | None,
    settings: Settings,
    backend_kwargs: dict[str, Any],
    store: str | None,
    out: IO[str],
    err: Console,
) -> int:
    """The `rlm chat` command; returns the exit code."""
    try:
        app = ChatApp(settings, backend_kwargs, store, out, err)
        app.open(session)
    except RLMError as exc:
        err.print(f"error: {exc}", style="red")
        return 2
    return app.loop()
