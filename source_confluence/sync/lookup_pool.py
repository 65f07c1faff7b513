"""The sync's look-ups side by side, inside one budget of requests in flight: ``num_workers``.

Atlassian's rate limits reward about 8 requests in flight per site, and the user sets the budget with
``num_workers``. The CDK's workers read the streams; the look-ups (effective access, mention names, the
counts that cut a first sync by work) run in this pool. Both must fit in the one budget, so:

* the pool runs a look-up only while it holds a slot, and a CDK worker that waits for look-ups
  (``side_by_side``, ``result``) lends its own slot for as long as it waits, since it sends nothing meanwhile;
* when the CDK's workers may run tasks this connector does not see (a catalog with other streams than the
  content streams), the pool owns ``base_slots(num_workers)`` of the slots and the CDK gets the rest as
  threads (``concurrency_level`` in the manifest), so look-ups always have a slot of their own.

So at most ``num_workers`` requests are in flight, and a worker waiting for its page's look-ups never
leaves its slot idle. A look-up never waits on a queued one (``access/lookups.py`` ``_Once`` only makes a
caller wait for a computation already running), so lending cannot deadlock.

A CDK worker with no task sends nothing either, but the CDK says nothing of its workers. When every stream
a sync reads is one whose tasks this connector sees begin and end (the content streams'
``PageCheckpointingCursor``: generating its partitions, reading each one), the idle workers' slots are lent
too (``lend_idle_workers``): each task holds one while it lasts (``task_started``/``task_done``), up to as
many as the CDK has workers, and the rest serve the look-ups. That is what a first sync's window counts and
an incremental sync's first look-ups run on, while the CDK's workers have little to read yet. The CDK then
gets a thread per slot (``stream_workers``; ``source.py`` ``manifest_for`` sets its concurrency) and the pool
none of its own: with six workers and two slots kept for look-ups, the walks of a full sync had about 4.6
requests in flight of 8, the look-ups 1.6 (bench/NOTES.md); look-ups still run whenever a worker waits, which
is when a page needs them.

Why Python: the CDK's concurrency is one pool of stream workers and its ``api_budget`` limits calls per
second, not calls in flight.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Iterable, List, Mapping, Optional, Set, TypeVar

from source_confluence.config_spec import spec_default

LOGGER = logging.getLogger("airbyte")
T = TypeVar("T")
DEFAULT_WORKERS = spec_default("num_workers")
# How often a look-up waiting for a slot checks whether the sync has ended (``LookupPool.close``).
SLOT_POLL_SECONDS = 0.5


def workers(config: Mapping[str, Any]) -> int:
    """``num_workers``: the most requests this sync has in flight at once."""
    return max(1, int(config.get("num_workers") or DEFAULT_WORKERS))


def base_slots(num_workers: int) -> int:
    """The slots the look-up pool owns when the CDK's workers do not lend theirs: a quarter of the budget
    (none below 4, where look-ups only run on lent slots). The CDK's workers get the rest (manifest
    ``concurrency_level``)."""
    return num_workers // 4


def stream_workers(num_workers: int, idle_workers_lend: bool) -> int:
    """The CDK's worker threads: one per slot when its idle workers lend theirs (``lend_idle_workers``),
    else the budget less the pool's own slots."""
    return num_workers if idle_workers_lend else num_workers - base_slots(num_workers)


class LookupPool:
    """Look-ups in threads of their own, each holding one of the budget's slots while it runs."""

    def __init__(self, num_workers: int) -> None:
        self._num_workers = num_workers
        self._slots = threading.Semaphore(base_slots(num_workers))
        # The slots the CDK's workers hold (and lend, ``lend_idle_workers``): all but the pool's own.
        self._workers_slots = num_workers - base_slots(num_workers)
        self._stream_workers = stream_workers(num_workers, idle_workers_lend=False)
        # Set by ``lend_idle_workers``: the CDK tasks begun and not done, of which ``_stream_workers`` at most hold a slot.
        self._tasks: Optional[int] = None
        self._loan_lock = threading.Lock()
        # More threads than slots: a look-up that waits for another's answer (ancestors' batches) lends its
        # slot but keeps its thread, and the slots, not the threads, bound the requests in flight.
        self._closed = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=2 * num_workers + 2, thread_name_prefix="confluence-lookup")

    def submit(self, call: Callable[[], T]) -> "Future[T]":
        """Start a look-up that does not itself wait on queued look-ups; wait for it with ``result``/``side_by_side``."""

        def in_a_slot() -> T:
            # A look-up nobody waits for (``SyncContext.at_read_start``) may find no slot free until the sync
            # ends: then it gives up, rather than keep its thread, and the process, waiting at exit.
            while not self._slots.acquire(timeout=SLOT_POLL_SECONDS):
                if self._closed.is_set():
                    raise CancelledError("the sync ended before this look-up had a slot")
            try:
                return call()
            finally:
                self._slots.release()

        return self._executor.submit(in_a_slot)

    def side_by_side(self, calls: Iterable[Callable[[], Any]]) -> List["Future[Any]"]:
        """Run the calls and wait for all, lending the caller's slot meanwhile; failures stay in the futures."""
        futures = [self.submit(call) for call in calls]
        self._wait(futures)
        return futures

    def result(self, future: "Future[T]") -> T:
        """The look-up's result (or its exception), lending the caller's slot while it is not done."""
        self._wait([future])
        return future.result()

    def wait_all(self, futures: Iterable["Future[Any]"]) -> None:
        """Wait until every future is done, lending the caller's slot meanwhile: for work that is not a request
        (the Markdown processes' conversion of a page), during which this thread would hold its slot idle."""
        self._wait(list(futures))

    def first_done(self, futures: Iterable["Future[Any]"]) -> Set["Future[Any]"]:
        """Wait until at least one of the futures is done (lending the caller's slot); the done ones."""
        pending = list(futures)
        done = {future for future in pending if future.done()}
        if done or not pending:
            return done
        self.lend_slot()
        try:
            return set(wait(pending, return_when=FIRST_COMPLETED).done)
        finally:
            self.take_slot_back()

    def lend_slot(self) -> None:
        """The calling thread (a stream worker, or a look-up in its slot) will send nothing until
        ``take_slot_back``: another look-up may use its slot meanwhile. Never blocks."""
        self._slots.release()

    def take_slot_back(self) -> None:
        """Before the thread sends again; blocks until a slot is free. Never call it holding a lock that a
        thread needs in order to lend or finish."""
        self._slots.acquire()

    @property
    def stream_workers(self) -> int:
        """The CDK's worker threads this pool counts on: at most this many tasks hold a slot."""
        return self._stream_workers

    def lend_idle_workers(self) -> None:
        """The CDK's stream workers lend their slots while no task of theirs holds them. Only when every stream
        the sync reads reports its tasks (``task_started``/``task_done``): a worker busy with another stream
        would send on a slot lent away. The CDK then has a thread per slot (``stream_workers``, ``source.py``
        ``manifest_for``): up to that many tasks hold the budget's slots, the pool's own included.
        Once per sync; later calls change nothing."""
        with self._loan_lock:
            if self._tasks is not None:
                return
            self._tasks = 0
            self._stream_workers = stream_workers(self._num_workers, idle_workers_lend=True)
        for _ in range(self._workers_slots):
            self._slots.release()

    def task_started(self) -> None:
        """A CDK task begins (a stream generating its partitions; a partition, just before the CDK is handed it):
        it takes back the slot of the worker that runs it, blocking until one is free, unless as many tasks as
        the CDK has workers hold one already (the others wait in its queue, sending nothing)."""
        with self._loan_lock:
            if self._tasks is None:
                return
            self._tasks += 1
            takes_a_slot = self._tasks <= self._stream_workers
        if takes_a_slot:
            self._slots.acquire()

    def task_done(self) -> None:
        """A CDK task is over: its worker sends nothing more, and its slot serves the look-ups again."""
        with self._loan_lock:
            if not self._tasks:  # not lending, or more ends than beginnings (never expected): change nothing
                return
            held_a_slot = self._tasks <= self._stream_workers
            self._tasks -= 1
        if held_a_slot:
            self._slots.release()

    def _wait(self, futures: List["Future[Any]"]) -> None:
        if not futures or all(future.done() for future in futures):
            return
        self.lend_slot()  # this thread sends nothing while it waits
        try:
            wait(futures)
        finally:
            self.take_slot_back()  # before this thread sends again

    def close(self) -> None:
        self._closed.set()  # a look-up still waiting for a slot gives up (``submit``)
        self._executor.shutdown(wait=False, cancel_futures=True)


def lookup_pool(config: Mapping[str, Any]) -> LookupPool:
    """The sync's pool (one per ``SyncContext``, closed with it)."""
    from source_confluence.sync.cache import per_sync

    return per_sync(config, "lookup_pool", lambda: LookupPool(workers(config)))
