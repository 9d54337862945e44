"""Sessions in SQLite: messages, turns (usage, status, log file), tool calls, REPL variables.

One database file holds many sessions. Every process may open it: the database runs in WAL
mode (readers never block the writer), each write is one short `BEGIN IMMEDIATE` transaction
(one writer at a time across processes), and a busy timeout makes a second writer wait
instead of failing. Within a process a lock serialises use of the shared connection.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlm.errors import ConfigurationError

__all__ = ["SessionStore", "TurnRecord", "data_dir", "default_store_path"]

BUSY_TIMEOUT_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    session TEXT NOT NULL REFERENCES sessions(name),
    turn INTEGER NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_session ON messages(session, id);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY,
    session TEXT NOT NULL REFERENCES sessions(name),
    turn INTEGER NOT NULL,
    message TEXT NOT NULL,
    answer TEXT,
    status TEXT NOT NULL,
    error TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL,
    execution_time REAL NOT NULL DEFAULT 0,
    usage TEXT,
    log_file TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_session ON turns(session, turn);
CREATE TABLE IF NOT EXISTS tool_calls (
    id INTEGER PRIMARY KEY,
    session TEXT NOT NULL REFERENCES sessions(name),
    turn INTEGER NOT NULL,
    name TEXT NOT NULL,
    arguments TEXT NOT NULL,
    result TEXT,
    error TEXT,
    duration REAL NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS variables (
    session TEXT NOT NULL REFERENCES sessions(name),
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (session, name)
);
"""


def _switch_to_wal(db: sqlite3.Connection) -> None:
    """WAL mode, set once per file. Changing the journal mode needs a moment alone with the
    file, and SQLite may answer "locked" at once instead of waiting (when another process
    is creating the same file), so this one statement is retried."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def data_dir() -> Path:
    """Where rlm keeps user data: $RLM_DATA_DIR, else the platform's user data directory
    (XDG on Linux, ~/Library/Application Support on macOS, %LOCALAPPDATA% on Windows)."""
    explicit = os.environ.get("RLM_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "rlm"
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "rlm"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rlm"


def default_store_path() -> Path:
    return data_dir() / "sessions.db"


@dataclass(frozen=True)
class TurnRecord:
    """One finished (or cancelled, or failed) turn of a session."""

    turn: int
    message: str
    answer: str | None
    status: str  # "ok", "cancelled" or "error"
    error: str | None
    input_tokens: int
    output_tokens: int
    cost: float | None
    execution_time: float
    log_file: str | None


class SessionStore:
    """A SQLite file of agent sessions. Safe to share between threads and processes."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,  # transactions are explicit (BEGIN IMMEDIATE)
                check_same_thread=False,
            )
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA synchronous = NORMAL")
            _switch_to_wal(self._db)
            with self._write() as db:  # idempotent (IF NOT EXISTS), under the write lock
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigurationError(
                f"cannot open the session store {self.path} ({exc}); pass store= a writable "
                "SQLite file path"
            ) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE takes the database's single write lock up
        front, so two processes never interleave half-done writes."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- sessions ---------------------------------------------------------------------------
    def ensure_session(self, name: str) -> None:
        now = time.time()
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO sessions(name, created, updated) VALUES (?, ?, ?)",
                (name, now, now),
            )

    def sessions(self) -> list[dict[str, Any]]:
        """Every session, most recently used first, with its turn count and totals."""
        rows = self._read(
            "SELECT s.name, s.created, s.updated, COUNT(t.id), COALESCE(SUM(t.input_tokens), 0),"
            " COALESCE(SUM(t.output_tokens), 0), SUM(t.cost) FROM sessions s"
            " LEFT JOIN turns t ON t.session = s.name GROUP BY s.name ORDER BY s.updated DESC"
        )
        return [
            {
                "name": r[0],
                "created": r[1],
                "updated": r[2],
                "turns": r[3],
                "input_tokens": r[4],
                "output_tokens": r[5],
                "cost": r[6],
            }
            for r in rows
        ]

    def has_session(self, name: str) -> bool:
        return bool(self._read("SELECT 1 FROM sessions WHERE name = ?", (name,)))

    # -- a turn -----------------------------------------------------------------------------
    def next_turn(self, session: str) -> int:
        rows = self._read("SELECT COALESCE(MAX(turn), -1) FROM turns WHERE session = ?", (session,))
        return int(rows[0][0]) + 1

    def record_turn(
        self,
        session: str,
        record: TurnRecord,
        usage: dict[str, Any] | None,
        messages: list[dict[str, str]],
        variables: dict[str, Any] | None,
    ) -> None:
        """A turn, the messages it added and (when known) the REPL's JSON variables after
        it, written together: a crash never leaves half a turn."""
        now = time.time()
        with self._write() as db:
            db.execute(
                "INSERT INTO turns(session, turn, message, answer, status, error, input_tokens,"
                " output_tokens, cost, execution_time, usage, log_file, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session,
                    record.turn,
                    record.message,
                    record.answer,
                    record.status,
                    record.error,
                    record.input_tokens,
                    record.output_tokens,
                    record.cost,
                    record.execution_time,
                    json.dumps(usage) if usage is not None else None,
                    record.log_file,
                    now,
                ),
            )
            db.executemany(
                "INSERT INTO messages(session, turn, role, content, created) VALUES (?, ?, ?, ?, ?)",
                [(session, record.turn, m["role"], m["content"], now) for m in messages],
            )
            if variables is not None:
                # Upserted, never deleted: a REPL restarted mid-turn (state lost) must not
                # erase what earlier turns saved.
                db.executemany(
                    "INSERT OR REPLACE INTO variables(session, name, value) VALUES (?, ?, ?)",
                    [(session, k, json.dumps(v)) for k, v in variables.items()],
                )
            db.execute("UPDATE sessions SET updated = ? WHERE name = ?", (now, session))

    def record_tool_call(
        self,
        session: str,
        turn: int,
        name: str,
        arguments: dict[str, Any],
        result: str | None,
        error: str | None,
        duration: float,
    ) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO tool_calls(session, turn, name, arguments, result, error, duration,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session,
                    turn,
                    name,
                    json.dumps(arguments, default=repr),
                    result,
                    error,
                    duration,
                    time.time(),
                ),
            )

    # -- reading a session back -------------------------------------------------------------
    def messages(self, session: str) -> list[dict[str, str]]:
        rows = self._read(
            "SELECT role, content FROM messages WHERE session = ? ORDER BY id", (session,)
        )
        return [{"role": role, "content": content} for role, content in rows]

    def turns(self, session: str) -> list[TurnRecord]:
        rows = self._read(
            "SELECT turn, message, answer, status, error, input_tokens, output_tokens, cost,"
            " execution_time, log_file FROM turns WHERE session = ? ORDER BY turn, id",
            (session,),
        )
        return [TurnRecord(*row) for row in rows]

    def tool_calls(self, session: str) -> list[dict[str, Any]]:
        rows = self._read(
            "SELECT turn, name, arguments, result, error, duration FROM tool_calls"
            " WHERE session = ? ORDER BY id",
            (session,),
        )
        keys = ("turn", "name", "arguments", "result", "error", "duration")
        out = [dict(zip(keys, row, strict=True)) for row in rows]
        for call in out:
            call["arguments"] = json.loads(call["arguments"])
        return out

    def variables(self, session: str) -> dict[str, Any]:
        rows = self._read("SELECT name, value FROM variables WHERE session = ?", (session,))
        return {name: json.loads(value) for name, value in rows}

    def totals(self, session: str) -> dict[str, Any]:
        """Spend of every recorded turn: tokens, cost (None if no turn reported one), time."""
        row = self._read(
            "SELECT COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), SUM(cost),"
            " COALESCE(SUM(execution_time), 0), COUNT(*) FROM turns WHERE session = ?",
            (session,),
        )[0]
        return {
            "input_tokens": int(row[0]),
            "output_tokens": int(row[1]),
            "tokens": int(row[0]) + int(row[1]),
            "cost": row[2],
            "time": float(row[3]),
            "turns": int(row[4]),
        }

    def close(self) -> None:
        with self._lock:
            self._db.close()
