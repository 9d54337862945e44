"""Threads for model calls and child runs.

One process-wide elastic pool: idle threads are reused (starting a thread costs more than a
fast model call), a new one starts whenever none is idle, up to a bound (`RLM_MAX_THREADS`,
default 128), and idle threads exit after a minute. Each broker bounds its own concurrency
with a `BoundedRunner` on top.

The bound cannot deadlock the tree: a child RLM waits on its own sub-calls, and once the pool
is full a waiter runs the task it waits for itself (`help_run`) instead of waiting for a
thread that may never come. So nested `rlm_query_batched` calls stay within the bound instead
of growing threads as 16^depth.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
IDLE_SECONDS = 60.0
DEFAULT_MAX_THREADS = 128


class PoolTask(Future):
    """A future that carries its own work, so whichever thread claims it first runs it."""

    def __init__(self, fn: Callable[..., Any], args: tuple) -> None:
        super().__init__()
        self._fn, self._args = fn, args
        self._claim_lock = threading.Lock()
        self._claimed = False

    def claim(self) -> bool:
        """True for exactly one caller, and only if the task was not cancelled."""
        with self._claim_lock:
            if self._claimed:
                return False
            self._claimed = True
        return self.set_running_or_notify_cancel()

    def run(self) -> None:
        try:
            self.set_result(self._fn(*self._args))
        except BaseException as exc:  # handed to whoever waits on the future
            self.set_exception(exc)
        finally:
            del self._fn, self._args


class ElasticPool:
    def __init__(self, name: str = "rlm-worker", max_threads: int | None = None):
        self._name = name
        self.max_threads = max_threads or _max_threads_from_env()
        self._tasks: queue.SimpleQueue[PoolTask] = queue.SimpleQueue()
        self._lock = threading.Lock()
        # Every queued task is either promised to an idle thread (`_idle` was taken down for
        # it) or unpromised (`_unpromised`): a thread that finishes takes an unpromised task
        # before it counts itself idle. Otherwise a thread busy with such a task would still
        # count as idle, `saturated` would stay False, and waiters would never help: the
        # nested-batch deadlock CI hit under load.
        self._idle = 0
        self._unpromised = 0
        self._alive = 0
        self._count = 0

    @property
    def saturated(self) -> bool:
        """Every thread is busy and no more may start: queued tasks wait for a free one."""
        with self._lock:
            return self._idle == 0 and self._alive >= self.max_threads

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        task = PoolTask(fn, args)
        self._tasks.put(task)
        with self._lock:
            if self._idle > 0:
                self._idle -= 1  # an idle worker will take it
                return task
            if self._alive >= self.max_threads:
                self._unpromised += 1  # a busy worker (or a helping waiter) will take it
                return task
            self._alive += 1
            self._count += 1
            number = self._count
        threading.Thread(target=self._work, name=f"{self._name}-{number}", daemon=True).start()
        return task

    def _work(self) -> None:
        while True:
            try:
                task = self._tasks.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0 and self._tasks.empty():
                        self._idle -= 1
                        self._alive -= 1
                        return
                continue
            if task.claim():
                task.run()
            del task
            with self._lock:
                if self._unpromised > 0:
                    self._unpromised -= 1  # the next get() is one of those: still busy
                else:
                    self._idle += 1


def _max_threads_from_env() -> int:
    value = os.environ.get("RLM_MAX_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_MAX_THREADS


POOL = ElasticPool()


def help_run(future: Future[Any], pool: ElasticPool = POOL) -> bool:
    """Run `future`'s task on this (waiting) thread if the pool is full and nobody has
    started it; True if it did. This is what keeps the bounded pool deadlock-free."""
    if isinstance(future, PoolTask) and not future.done() and pool.saturated and future.claim():
        future.run()
        return True
    return False


class BoundedRunner:
    """Runs at most `limit` tasks at once on the shared pool; the rest wait in order.

    Only when the pool is full may a waiter run a queued task itself (`help_run`), so the
    limit can then be exceeded by the number of waiting threads, never by more."""

    def __init__(self, limit: int, pool: ElasticPool = POOL):
        self._limit = max(1, limit)
        self._pool = pool
        self._lock = threading.Lock()
        self._running = 0
        self._waiting: deque[PoolTask] = deque()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        task = PoolTask(fn, args)
        with self._lock:
            if self._running >= self._limit:
                self._waiting.append(task)
                return task
            self._running += 1
        self._pool.submit(self._run, task)
        return task

    def _run(self, first: PoolTask) -> None:
        # Queued tasks run on this same thread, one after another: no hand-off cost.
        task: PoolTask | None = first
        while task is not None:
            if task.claim():
                task.run()
            with self._lock:
                if self._waiting:
                    task = self._waiting.popleft()
                else:
                    self._running -= 1
                    task = None

    def cancel_waiting(self) -> None:
        with self._lock:
            waiting, self._waiting = list(self._waiting), deque()
        for task in waiting:
            task.cancel()


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
