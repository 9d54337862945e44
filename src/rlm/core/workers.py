"""Threads for model calls and child runs.

One process-wide elastic pool: idle threads are reused (starting a thread costs more than a
fast model call), a new one starts whenever none is idle (so a task that waits on other
tasks, as a child RLM does, can never deadlock the pool), and idle threads exit after a
minute. Each broker bounds its own concurrency with a `BoundedRunner` on top.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
IDLE_SECONDS = 60.0


class ElasticPool:
    def __init__(self, name: str = "rlm-worker"):
        self._name = name
        self._tasks: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._idle = 0
        self._count = 0

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        self._tasks.put((future, fn, args))
        with self._lock:
            if self._idle > 0:
                self._idle -= 1  # an idle worker will take it
                return future
            self._count += 1
            number = self._count
        threading.Thread(target=self._work, name=f"{self._name}-{number}", daemon=True).start()
        return future

    def _work(self) -> None:
        while True:
            try:
                future, fn, args = self._tasks.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0 and self._tasks.empty():
                        self._idle -= 1
                        return
                continue
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # handed to whoever waits on the future
                    future.set_exception(exc)
            del future, fn, args
            with self._lock:
                self._idle += 1


POOL = ElasticPool()


class BoundedRunner:
    """Runs at most `limit` tasks at once on the shared pool; the rest wait in order."""

    def __init__(self, limit: int, pool: ElasticPool = POOL):
        self._limit = max(1, limit)
        self._pool = pool
        self._lock = threading.Lock()
        self._running = 0
        self._waiting: deque[tuple[Future[Any], Callable[..., Any], tuple]] = deque()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        outer: Future[T] = Future()
        with self._lock:
            if self._running >= self._limit:
                self._waiting.append((outer, fn, args))
                return outer
            self._running += 1
        self._start(outer, fn, args)
        return outer

    def _start(self, outer: Future[Any], fn: Callable[..., Any], args: tuple) -> None:
        self._pool.submit(self._run, outer, fn, args)

    def _run(self, outer: Future[Any], fn: Callable[..., Any], args: tuple) -> None:
        # Queued tasks run on this same thread, one after another: no hand-off cost.
        item: tuple[Future[Any], Callable[..., Any], tuple] | None = (outer, fn, args)
        while item is not None:
            future, task, task_args = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(task(*task_args))
                except BaseException as exc:  # handed to whoever waits on the future
                    future.set_exception(exc)
            with self._lock:
                if self._waiting:
                    item = self._waiting.popleft()
                else:
                    self._running -= 1
                    item = None

    def cancel_waiting(self) -> None:
        with self._lock:
            waiting, self._waiting = list(self._waiting), deque()
        for future, _, _ in waiting:
            future.cancel()


class BackgroundLoop:
    """One process-wide asyncio loop on a daemon thread, for clients with native async.

    Sixty-four concurrent requests on one loop cost far less than sixty-four threads waking
    at once (measured in benchmarks/overhead.py), and a provider's async HTTP client keeps
    one connection pool for all of them.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="rlm-aio", daemon=True).start()
                self._loop = loop
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop())


LOOP = BackgroundLoop()
