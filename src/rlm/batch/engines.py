"""Where tasks run: `local` (worker processes on this machine) or `ray` (Ray tasks, on a
local runtime or an existing cluster). Both yield the same output lines as tasks finish."""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from rlm.batch.tasks import BatchTask
from rlm.batch.worker import run_task
from rlm.errors import ConfigurationError, MissingDependencyError

log = logging.getLogger(__name__)
ENGINES = ("local", "ray")


class Engine(Protocol):
    def run(self, tasks: list[BatchTask], base_kwargs: dict[str, Any],
            log_dir: str | None) -> Iterator[dict[str, Any]]: ...  # fmt: skip

    def close(self) -> None: ...


def _failed_line(task: BatchTask, exc: BaseException) -> dict[str, Any]:
    return {"id": task.id, "error": f"{type(exc).__name__}: {exc}",
            "error_type": type(exc).__name__, "time": None, "log_path": None}  # fmt: skip


class LocalEngine:
    """A pool of `workers` processes; each runs one task at a time."""

    def __init__(self, workers: int | None = None):
        self.workers = workers or os.cpu_count() or 1
        if self.workers < 1:
            raise ConfigurationError("workers must be >= 1")
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # forkserver: workers start from a clean process, not a fork of a threaded parent.
        method = "forkserver" if sys.platform.startswith("linux") else "spawn"
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(method))

    def run(self, tasks: list[BatchTask], base_kwargs: dict[str, Any],
            log_dir: str | None) -> Iterator[dict[str, Any]]:  # fmt: skip
        queue = iter(tasks)
        running: dict[Future, BatchTask] = {}

        def top_up() -> None:
            # A bounded window (2 per worker) keeps a huge batch out of the pool's queue.
            while len(running) < 2 * self.workers and (task := next(queue, None)) is not None:
                running[self._pool.submit(run_task, task.to_dict(), base_kwargs, log_dir)] = task

        top_up()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                task = running.pop(future, None)
                if task is None:  # already reported with the broken pool below
                    continue
                try:
                    yield future.result()
                except BrokenProcessPool as exc:
                    # A worker died (OOM killer, segfault): every task in the pool fails with
                    # it, and we cannot tell which one did it. Report them all; a fresh pool
                    # takes the rest (rerun with retry_errors to try these again).
                    log.warning("a batch worker process died; %d task(s) fail", len(running) + 1)
                    yield _failed_line(task, exc)
                    for other in list(running.values()):
                        yield _failed_line(other, exc)
                    running.clear()
                    self._pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._new_pool()
                except Exception as exc:  # the task could not even be sent (pickling)
                    yield _failed_line(task, exc)
            top_up()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayEngine:
    """Each task is a Ray task with its own resources (`task_cpus`) and its own RLM limits.
    Without `address`, a small local Ray runtime is started (no dashboard) and stopped after."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None,
                 task_cpus: float = 1.0, workers: int | None = None):  # fmt: skip
        try:
            import ray
        except ModuleNotFoundError as exc:
            raise MissingDependencyError("engine 'ray'", "ray", exc.name) from exc
        self._ray = ray
        self._started = False
        self.task_cpus = task_cpus
        self.window = workers
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "configure_logging": False}  # fmt: skip
            if address:
                kwargs["address"] = address
                ray.init(**kwargs)
            else:
                kwargs["num_cpus"] = num_cpus or os.cpu_count() or 1
                # Workers must import rlm (and the caller's modules) the way this process does.
                # They inherit the runtime's environment; a runtime_env would do it too, but
                # it gives tasks a separate, much slower worker pool (10x in our benchmark).
                saved = os.environ.get("PYTHONPATH")
                os.environ["PYTHONPATH"] = os.pathsep.join(p or os.getcwd() for p in sys.path)
                try:
                    ray.init(**kwargs)
                finally:
                    if saved is None:
                        os.environ.pop("PYTHONPATH", None)
                    else:
                        os.environ["PYTHONPATH"] = saved
            self._started = True
        self._remote = ray.remote(run_task).options(num_cpus=task_cpus, max_retries=0)

    def run(self, tasks: list[BatchTask], base_kwargs: dict[str, Any],
            log_dir: str | None) -> Iterator[dict[str, Any]]:  # fmt: skip
        ray = self._ray
        base_ref = ray.put(base_kwargs)  # one copy in the object store, not one per task
        window = (
            self.window or max(1, int(ray.cluster_resources().get("CPU", 1) / self.task_cpus)) * 2
        )
        queue = iter(tasks)
        running: dict[Any, BatchTask] = {}

        def top_up() -> None:
            while len(running) < window and (task := next(queue, None)) is not None:
                running[self._remote.remote(task.to_dict(), base_ref, log_dir)] = task

        top_up()
        while running:
            refs = list(running)
            done, rest = ray.wait(refs, num_returns=1)
            if rest:  # take every other finished task too, without waiting
                done += ray.wait(rest, num_returns=len(rest), timeout=0)[0]
            for ref in done:
                task = running.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as exc:  # the Ray task itself failed (worker died, OOM)
                    yield _failed_line(task, exc)
            top_up()

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()


def make_engine(name: str, *, workers: int | None = None, ray_address: str | None = None,
                ray_num_cpus: int | None = None, task_cpus: float = 1.0) -> Engine:  # fmt: skip
    if name == "local":
        return LocalEngine(workers)
    if name == "ray":
        return RayEngine(ray_address, ray_num_cpus, task_cpus, workers)
    raise ConfigurationError(f"Unknown batch engine {name!r}. Engines: {', '.join(ENGINES)}")
