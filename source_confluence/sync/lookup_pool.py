"""The sync's look-ups side by side, in threads of their own: ``LookupPool``.

A page's records wait for look-ups (effective access, mention names); a first sync's windows wait for
their counts; a walk's next page is read ahead. They run in this pool while the CDK's workers go on, and
a worker that needs one waits for its future (or ``side_by_side``).

The pool does not bound the requests in flight: every request of the sync, a look-up's or a stream's,
holds a slot of the sync's ``num_workers`` budget only while it is sent (``in_flight.py``). A thread
waiting here holds none. A look-up never waits on a queued one (``access/lookups.py`` ``_Once`` only makes
a caller wait for a computation already running, and an ancestors' batch waits for a request in flight),
so the pool's threads cannot all wait on work that has no thread.

The threads are daemons (``DaemonThreads``), not a ``ThreadPoolExecutor``'s: Python joins those at exit, so a
look-up still running when its sync ended (a sync that failed, a reader that stopped early) kept the process
alive while it retried, minutes against a site that no longer answered (seen once in CI: 324 s after the
tests were done). When a sync is over, nothing a running look-up finds matters.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any, Callable, Iterable, List, Mapping, Optional, Set, Tuple, TypeVar

from source_confluence.sync.in_flight import workers

T = TypeVar("T")


def lookup_threads(num_workers: int) -> int:
    """More threads than requests in flight: a look-up that waits for another's answer (an ancestors' batch)
    keeps its thread, and the budget, not the threads, bounds the requests."""
    return 2 * num_workers + 2


class DaemonThreads:
    """Up to ``max_workers`` daemon threads running submitted calls, a thread started only when none is idle
    (as ``ThreadPoolExecutor`` does); ``shutdown`` cancels what has not begun and never waits (module docstring)."""

    def __init__(self, max_workers: int, name: str) -> None:
        self._max_workers = max_workers
        self._name = name
        self._work: "queue.SimpleQueue[Optional[Tuple[Future[Any], Callable[[], Any]]]]" = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads = 0
        self._closed = False

    def submit(self, call: Callable[[], T]) -> "Future[T]":
        future: "Future[T]" = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the sync is over: no look-up can start")
            self._work.put((future, call))
            if not self._idle.acquire(blocking=False) and self._threads < self._max_workers:
                self._threads += 1
                threading.Thread(target=self._run, name="%s_%d" % (self._name, self._threads), daemon=True).start()
        return future

    def _run(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            future, call = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except BaseException as error:  # the caller reads it from the future, as from an executor's
                    future.set_exception(error)
            del item, future, call  # an idle thread keeps no answer alive
            self._idle.release()

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            threads = self._threads
        while True:
            try:
                item = self._work.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        for _ in range(threads):
            self._work.put(None)


class LookupPool:
    """Look-ups in threads of their own; their requests share the sync's budget of requests in flight."""

    def __init__(self, num_workers: int) -> None:
        self._executor = DaemonThreads(lookup_threads(num_workers), "confluence-lookup")

    def submit(self, call: Callable[[], T]) -> "Future[T]":
        """Start a look-up that does not itself wait on queued look-ups; wait for its future, or use ``side_by_side``."""
        return self._executor.submit(call)

    def side_by_side(self, calls: Iterable[Callable[[], Any]]) -> List["Future[Any]"]:
        """Run the calls and wait for all; failures stay in the futures."""
        futures = [self.submit(call) for call in calls]
        wait(futures)
        return futures

    @staticmethod
    def first_done(futures: Iterable["Future[Any]"]) -> Set["Future[Any]"]:
        """Wait until at least one of the futures is done; the done ones."""
        pending = list(futures)
        done = {future for future in pending if future.done()}
        if done or not pending:
            return done
        return set(wait(pending, return_when=FIRST_COMPLETED).done)

    def close(self) -> None:
        """The sync is over: look-ups not begun never run, and nothing waits for those running."""
        self._executor.shutdown()


def lookup_pool(config: Mapping[str, Any]) -> LookupPool:
    """The sync's pool (one per ``SyncContext``, closed with it)."""
    from source_confluence.sync.cache import per_sync

    return per_sync(config, "lookup_pool", lambda: LookupPool(workers(config)))
