"""The sync's look-ups side by side, in threads of their own: ``LookupPool``.

A page's records wait for look-ups (effective access, mention names); a first sync's windows wait for
their counts; a walk's next page is read ahead. They run in this pool while the CDK's workers go on, and
a worker that needs one waits for its future (or ``side_by_side``).

The pool does not bound the requests in flight: every request of the sync, a look-up's or a stream's,
holds a slot of the sync's ``num_workers`` budget only while it is sent (``in_flight.py``). A thread
waiting here holds none. A look-up never waits on a queued one (``access/lookups.py`` ``_Once`` only makes
a caller wait for a computation already running, and an ancestors' batch waits for a request in flight),
so the pool's threads cannot all wait on work that has no thread.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Iterable, List, Mapping, Set, TypeVar

from source_confluence.sync.in_flight import workers

T = TypeVar("T")


def lookup_threads(num_workers: int) -> int:
    """More threads than requests in flight: a look-up that waits for another's answer (an ancestors' batch)
    keeps its thread, and the budget, not the threads, bounds the requests."""
    return 2 * num_workers + 2


class LookupPool:
    """Look-ups in threads of their own; their requests share the sync's budget of requests in flight."""

    def __init__(self, num_workers: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=lookup_threads(num_workers), thread_name_prefix="confluence-lookup")

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
        """The sync is over: look-ups not begun never run, and no thread waits for them."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def lookup_pool(config: Mapping[str, Any]) -> LookupPool:
    """The sync's pool (one per ``SyncContext``, closed with it)."""
    from source_confluence.sync.cache import per_sync

    return per_sync(config, "lookup_pool", lambda: LookupPool(workers(config)))
