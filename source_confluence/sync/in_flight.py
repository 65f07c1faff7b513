"""At most ``num_workers`` requests in flight during a read, whichever thread sends them: ``InFlightBudget``.

Atlassian's rate limits reward about 8 requests in flight per site, and the user sets the budget with
``num_workers``. The budget is held around each request, not by threads: a thread that parses a page,
converts records or waits for a look-up holds nothing meanwhile. So the CDK may run more workers than the
budget (the manifest's ``concurrency_level``) and the look-ups run in threads of their own
(``lookup_pool.py``); only their requests wait for a slot, and a slot is always given back when its
request ends, so waiting for one cannot deadlock.

Why a patch of the CDK: airbyte-cdk 7.39 sends every request of its HTTP clients through
``LimiterMixin.send``, which calls the ``api_budget`` before a request and after its response but not
when the request fails (a timeout, a reset connection): a budget held through ``api_budget`` would lose
a slot at every failure. And the CDK builds the streams outside the content streams with its own
component factory and budget, which a connector cannot reach. So ``install`` wraps
``LimiterMixin.send`` once per process: while a sync reads (``reading``), each send holds a slot of that
sync's budget and gives it back however the send ends. Outside a read (spec, check, discover, other code
in the process) the wrapper only calls the CDK's. The attachment downloads' own sessions are CDK
``LimiterSession``s too; a body streamed after its send returned is read in a slot of its own (``slot``).

While a read runs, every CDK session in the process counts against its budget, and two reads at once in
one process (some tests) share the budget of the one that began last.
Upstream change that would remove the patch: ``LimiterMixin.send`` telling the budget when a request
fails, and a call-rate policy of concurrent calls.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator, List, Mapping, Optional

import requests
from airbyte_cdk.sources.streams.call_rate import LimiterMixin

from source_confluence.config_spec import spec_default
from source_confluence.sync.connections import share

DEFAULT_WORKERS = spec_default("num_workers")
# The most pages of results in hand while the budget still counts as mostly idle: one page of each walk of an
# incremental sync's streams with bodies (pages, blog posts, comments). 2 and 3 sent the same look-ups in full
# syncs of the real-shaped 20,000-page site (91 and 87 against 147-204 without the rule; bench/NOTES.md).
IDLE_PAGES_IN_HAND = 3


def workers(config: Mapping[str, Any]) -> int:
    """``num_workers``: the most requests this sync has in flight at once."""
    return max(1, int(config.get("num_workers") or DEFAULT_WORKERS))


# Whether this thread holds a slot, of any budget: a send nested in another (the hops of a redirect are sent
# from inside the first send) takes none, even if another read began meanwhile and ``current`` changed.
_held = threading.local()


class InFlightBudget:
    """A sync's slots: one per request in flight. A thread holds at most one, however deep its sends nest."""

    def __init__(self, slots: int) -> None:
        self.slots = max(1, int(slots))
        self._free = threading.BoundedSemaphore(self.slots)
        self._count_lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0  # the most slots held at once (the tests read it; the benchmark's emulator counts its own)
        self.pages_in_hand = 0  # pages of results being turned into records (``page_in_hand``)

    def mostly_idle(self) -> bool:
        """Fewer than half the slots held and at most ``IDLE_PAGES_IN_HAND`` pages of results being turned into
        records: an incremental sync's walk, or a full sync's last seconds. Work that only pays when nothing else
        would use the slots (reading further ahead, asking before a page's turn) goes then.

        Why the pages too: on a machine short of CPU, a full sync's threads spend their time on the records of
        the pages they hold, and the slots sit half empty although every walk is busy. The slots alone called
        that idle: each page read ahead sent its own ancestors' look-up at once, with a few ids, and the
        look-ups nearly doubled (real-shaped 20,000 pages on 2 slow CPUs: 147-204, and 87-91 with the pages
        counted; bench/NOTES.md)."""
        with self._count_lock:
            return 2 * self.in_flight < self.slots and self.pages_in_hand <= IDLE_PAGES_IN_HAND

    @contextmanager
    def page_in_hand(self) -> Iterator[None]:
        """Count a page of results while a thread turns it into records (``components/results.py``)."""
        with self._count_lock:
            self.pages_in_hand += 1
        try:
            yield
        finally:
            with self._count_lock:
                self.pages_in_hand -= 1

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a slot while the block sends; nested in a block that holds one already, take no other."""
        if getattr(_held, "slot", False):
            yield
            return
        self._free.acquire()
        _held.slot = True
        with self._count_lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            yield
        finally:
            _held.slot = False
            with self._count_lock:
                self.in_flight -= 1
            self._free.release()


def in_flight_budget(config: Mapping[str, Any]) -> InFlightBudget:
    """The sync's budget (one per ``SyncContext``); ``SourceConfluence.read`` holds its requests to it (``reading``)."""
    from source_confluence.sync.cache import per_sync

    return per_sync(config, "in_flight_budget", lambda: InFlightBudget(workers(config)))


_reading: List[InFlightBudget] = []
_reading_lock = threading.Lock()
_installed = False
_cdk_send = LimiterMixin.send


def current() -> Optional[InFlightBudget]:
    """The budget of the read in progress (the latest begun), if any."""
    with _reading_lock:
        return _reading[-1] if _reading else None


@contextmanager
def reading(budget: InFlightBudget) -> Iterator[InFlightBudget]:
    """Every request the CDK sends while the block runs holds a slot of ``budget``."""
    install()
    with _reading_lock:
        _reading.append(budget)
    try:
        yield budget
    finally:
        with _reading_lock:
            _reading.remove(budget)


@contextmanager
def slot() -> Iterator[None]:
    """A slot of the read in progress around work that is still a request in flight outside the CDK's send (a
    streamed body read after it returned); nothing outside a read."""
    budget = current()
    if budget is None:
        yield
        return
    with budget.slot():
        yield


def _send_in_a_slot(self: Any, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
    budget = current()
    if budget is None:
        return _cdk_send(self, request, **kwargs)
    share(self, request.url)  # one connection pool for all the sync's sessions (connections.py)
    with budget.slot():
        return _cdk_send(self, request, **kwargs)


def install() -> None:
    """Wrap the CDK's ``LimiterMixin.send`` (once per process; see the module docstring for why)."""
    global _installed
    with _reading_lock:
        if not _installed:
            LimiterMixin.send = _send_in_a_slot  # type: ignore[method-assign]
            _installed = True
