"""The provenance log: one JSON line per gateway call, flushed as written, hash-chained.

Each record: `time`, `client`, `tool`, `arguments`, `handles` (files touched), `bytes` and
`sha256` of the exact text returned, `ok` (and `error`), and `prev`: the SHA-256 of the
previous line, so an edited, inserted or deleted line breaks the chain `verify` walks.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
FIELDS: dict[str, type | tuple[type, ...]] = {
    "time": str,
    "client": str,
    "tool": str,
    "arguments": dict,
    "handles": list,
    "bytes": int,
    "sha256": str,
    "ok": bool,
    "prev": str,
}


def default_audit_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "rlm" / "mcp-audit.jsonl"


def _digest(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


class AuditLog:
    """Append-only JSONL writer, safe to share between the server's worker threads."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._prev = GENESIS
        if self.path.exists():
            last = _last_line(self.path)
            if last:
                self._prev = _digest(last)
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held for the server's life

    def record(
        self,
        *,
        client: str,
        tool: str,
        arguments: dict[str, Any],
        handles: list[str],
        returned: str,
        ok: bool,
        error: str | None = None,
    ) -> dict[str, Any]:
        data = returned.encode("utf-8")
        entry: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "client": client,
            "tool": tool,
            "arguments": arguments,
            "handles": handles,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "ok": ok,
        }
        if error is not None:
            entry["error"] = error
        with self._lock:
            entry["prev"] = self._prev
            line = json.dumps(entry, ensure_ascii=False, sort_keys=True, default=str)
            self._fh.write(line + "\n")
            self._fh.flush()  # a crash loses nothing already answered
            self._prev = _digest(line)
        return entry

    def close(self) -> None:
        with self._lock:
            self._fh.close()


@dataclass
class Verification:
    records: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(path: str | os.PathLike[str]) -> Verification:
    """Parse every line, check its fields and the hash chain; report each problem by line."""
    result = Verification()
    prev = GENESIS
    with open(path, encoding="utf-8") as fh:
        for number, raw in enumerate(fh, 1):
            line = raw.rstrip("\n")
            try:
                entry = json.loads(line)
            except ValueError:
                result.problems.append(f"line {number}: not JSON")
                prev = _digest(line)
                continue
            if not isinstance(entry, dict):
                result.problems.append(f"line {number}: not a JSON object")
                prev = _digest(line)
                continue
            for name, kind in FIELDS.items():
                if not isinstance(entry.get(name), kind):
                    result.problems.append(f"line {number}: field {name!r} missing or mistyped")
            if entry.get("prev") != prev:
                result.problems.append(
                    f"line {number}: chain broken (a line before it was edited, inserted or removed)"
                )
            result.records.append(entry)
            prev = _digest(line)
    return result


def _last_line(path: Path) -> str:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - (1 << 20)))
        tail = fh.read().decode("utf-8", "replace")
    lines = [line for line in tail.split("\n") if line]
    return lines[-1] if lines else ""
