"""Token counting: `tiktoken` where installed and its encoding is on disk, else an estimate.

Used where rlm has to guess a size before a provider reports one: the compaction threshold
(the conversation about to be sent), the router (does the context fit the model's window?)
and the offline backends' usage (so budgets behave as with a real provider).

- `pip install 'rlm[tokens]'` installs tiktoken. Its encodings are files tiktoken downloads
  once into its cache (`TIKTOKEN_CACHE_DIR`). rlm never triggers that download by itself
  (a token count must not open a connection): set `RLM_TIKTOKEN_DOWNLOAD=1` to allow it, or
  fill the cache beforehand, or pass your own `tiktoken.Encoding` to `set_encoding`.
- Without an encoding: `ceil(characters / 4)` (`CHARS_PER_TOKEN`), the usual rule of thumb
  for English text and code; dense text (numbers, CJK) has more tokens per character.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from typing import Any

__all__ = [
    "CHARS_PER_TOKEN",
    "count_message_tokens",
    "count_tokens",
    "encoding_for",
    "estimate_tokens",
    "set_encoding",
]

log = logging.getLogger("rlm")
CHARS_PER_TOKEN = 4
DEFAULT_ENCODING = "cl100k_base"  # non-OpenAI models: an approximation, closer than chars/4
MESSAGE_OVERHEAD = 3  # tokens per chat message (role and separators), OpenAI's accounting

_lock = threading.Lock()
_loaded: dict[str, Any] = {}  # encoding name -> Encoding or None; "tiktoken" -> module or None
_override: Any = None


def estimate_tokens(text: str) -> int:
    """The fallback: about four characters a token, rounded up."""
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def set_encoding(encoding: Any) -> None:
    """Count every model's tokens with this `tiktoken.Encoding` (None: back to automatic)."""
    global _override
    _override = encoding


def encoding_for(model: str | None = None) -> Any:
    """The tiktoken Encoding for `model` (or the default one), or None when tiktoken or the
    encoding's file is not available offline."""
    if _override is not None:
        return _override
    tiktoken = _tiktoken()
    if tiktoken is None:
        return None
    name = DEFAULT_ENCODING
    if model:
        try:
            name = tiktoken.encoding_name_for_model(model)
        except KeyError:
            pass  # not an OpenAI model: the default encoding approximates it
    with _lock:
        if name not in _loaded:
            _loaded[name] = _load(tiktoken, name)
        return _loaded[name]


def _tiktoken() -> Any:
    """The tiktoken module, or None; looked up once (a failed import is not cheap)."""
    if "tiktoken" not in _loaded:
        try:
            import tiktoken
        except ImportError:
            tiktoken = None
        _loaded["tiktoken"] = tiktoken
    return _loaded["tiktoken"]


def _load(tiktoken: Any, name: str) -> Any:
    import tiktoken.load as tiktoken_load

    allow_download = os.environ.get("RLM_TIKTOKEN_DOWNLOAD") == "1"
    original = tiktoken_load.read_file

    def cached_only(blobpath: str) -> bytes:
        if "://" in blobpath and not allow_download:
            raise FileNotFoundError(f"{blobpath} is not in tiktoken's cache")
        return original(blobpath)

    # tiktoken reads through load.read_file only on a cache miss; for the length of this
    # call a miss fails instead of downloading. Once per encoding name (results are kept).
    tiktoken_load.read_file = cached_only
    try:
        return tiktoken.get_encoding(name)
    except Exception as exc:  # missing file, bad cache, unknown name: estimate instead
        log.info(
            "tiktoken encoding %s unavailable offline (%s); counting ~%d characters a token. "
            "Set RLM_TIKTOKEN_DOWNLOAD=1 to let tiktoken fetch it once.",
            name,
            exc,
            CHARS_PER_TOKEN,
        )
        return None
    finally:
        tiktoken_load.read_file = original


def count_tokens(text: str, model: str | None = None) -> int:
    encoding = encoding_for(model)
    if encoding is None:
        return estimate_tokens(text)
    return len(encoding.encode(text, disallowed_special=()))


def count_message_tokens(messages: Iterable[dict[str, Any]], model: str | None = None) -> int:
    """Tokens of a chat prompt: each message's content plus a small per-message overhead."""
    total = 0
    for message in messages:
        content = message.get("content")
        text = content if isinstance(content, str) else ("" if content is None else str(content))
        total += count_tokens(text, model) + MESSAGE_OVERHEAD
    return total
