"""Convert a page of bodies to Markdown on every core of the machine, not one.

Why: storage-to-Markdown conversion is CPU work in Python (a walk over lxml's parse, about half a
millisecond per typical page; a few ms when it used BeautifulSoup + markdownify, which made it most
of a full sync's CPU); the CDK's worker threads share one
interpreter lock, so more threads do not help. A small process pool converts the bodies of a page
of results at once, while the threads go on reading; with one CPU, or if the pool cannot start,
bodies are converted in the thread as before. Output is the same either way.
"""

import atexit
import functools
import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, List, Mapping, Optional, Sequence, Tuple

from source_confluence.text.markdown import storage_to_markdown

LOGGER = logging.getLogger("airbyte")
# (storage, base_url, space_key, user names)
Job = Tuple[str, str, Optional[str], Mapping[str, str]]

def convert(job: Job) -> str:
    storage, base_url, space_key, user_names = job
    return storage_to_markdown(storage, base_url=base_url, space_key=space_key, user_names=user_names)


def convert_chunk(jobs: List[Job]) -> List[str]:
    return [convert(job) for job in jobs]


def _ready() -> None:
    """Nothing: submitted once per worker process so that it starts before the first bodies arrive."""


MAX_WORKERS = 4


def _cgroup_cpus() -> Optional[float]:
    """The container's CPU quota (cgroup v2 ``cpu.max``), which affinity does not show on Kubernetes."""
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
    except (OSError, ValueError):
        return None
    return None if quota == "max" else int(quota) / int(period)


@functools.lru_cache(maxsize=1)  # the machine's CPUs, read once: it was asked for every page of results
def _worker_count() -> int:
    try:
        cpus = float(len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        cpus = float(os.cpu_count() or 1)
    quota = _cgroup_cpus()
    if quota is not None:
        cpus = min(cpus, quota)
    return max(1, min(MAX_WORKERS, int(cpus)))


# Bodies converted in the thread before the pool starts. Starting it (a forkserver and a process per
# core, each importing lxml) costs more than an incremental sync's few hundred bodies at ~0.6 ms each.
POOL_AFTER_BODIES = 1000


class MarkdownPool:
    """One sync's pool (held by its ``SyncContext``): started once the sync has shown it has many
    bodies, closed when the sync ends, given up for the rest of the sync if it breaks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: Optional[ProcessPoolExecutor] = None
        self.failed = False
        self.converted_inline = 0

    def _started_pool(self) -> Optional[ProcessPoolExecutor]:
        with self._lock:
            if self._pool is None and not self.failed and _worker_count() > 1:
                try:
                    # forkserver: never fork the connector's own threads and locks into a child. Its
                    # server imports only this module (0.1 s): by default it would import `__main__`,
                    # the connector with airbyte-cdk (1 s and more), while the sync's workers wait.
                    # Each process it starts still imports the parent's main module (multiprocessing
                    # does, whatever the preload): the console script's stays light for that (run.py).
                    context = multiprocessing.get_context("forkserver")
                    context.set_forkserver_preload([__name__])
                    self._pool = ProcessPoolExecutor(max_workers=_worker_count(), mp_context=context)
                    atexit.register(self._pool.shutdown, wait=True, cancel_futures=True)
                except (OSError, ValueError) as error:
                    LOGGER.warning("Converting bodies in one process (%s).", type(error).__name__)
                    self.failed = True
            return self._pool

    def expect(self, bodies: int) -> None:
        """The sync will read about this many bodies: with enough of them, start the pool's processes now,
        in the background, so that they are ready when the first page of results is (not after it)."""
        if bodies < POOL_AFTER_BODIES:
            return
        with self._lock:
            self.converted_inline = max(self.converted_inline, POOL_AFTER_BODIES)
        pool = self._started_pool()
        if pool is not None:
            try:
                for _ in range(_worker_count()):
                    pool.submit(_ready)
            except Exception as error:  # the first page of results meets the same failure and falls back
                LOGGER.debug("Could not start the Markdown pool ahead: %s", type(error).__name__)

    def _worth_a_pool(self, count: int) -> bool:
        with self._lock:
            if self.converted_inline < POOL_AFTER_BODIES:
                self.converted_inline += count
                return False
        return count > 1

    def convert_all(self, jobs: Sequence[Job]) -> List[str]:
        """Markdown for each job, in order; parallel once the sync has shown it has many bodies, when there
        is more than one job and more than one CPU."""
        return self.submit_all(jobs)()

    def submit_all(self, jobs: Sequence[Job]) -> Callable[[], List[str]]:
        """Start converting the jobs and return what collects the Markdown, in order: the caller does its
        page's look-ups while the pool converts (the page then waits for the longer of the two, not both).

        A page's bodies go to one process, as one task: the sync's stream workers convert several pages at
        once, which keeps every process busy, and each task costs both sides pickling and a round trip. (In a
        micro-benchmark of 3,600 bodies this halved the processes' CPU against five tasks a page; a full sync's
        did not change, bench/NOTES.md.)"""
        pool = self._started_pool() if self._worth_a_pool(len(jobs)) else None
        if pool is None:
            return lambda: [convert(job) for job in jobs]
        try:
            future = pool.submit(convert_chunk, list(jobs))
        except Exception as error:  # a broken pool must not cost the page: convert here instead
            return self._given_up(error, jobs)

        def collect() -> List[str]:
            try:
                return future.result()
            except Exception as error:
                return self._given_up(error, jobs)()

        return collect

    def _given_up(self, error: Exception, jobs: Sequence[Job]) -> Callable[[], List[str]]:
        LOGGER.warning("Markdown pool failed (%s); converting in one process from now on.", type(error).__name__)
        self.failed = True
        return lambda: [convert(job) for job in jobs]

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            atexit.unregister(pool.shutdown)
            pool.shutdown(wait=True, cancel_futures=True)
