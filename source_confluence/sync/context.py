"""What the components of one sync share, in one object: ``SyncContext``.

It holds the caches (``per_sync``), the result pages read (for the progress line), the skip ledger
(for the end-of-read warnings), the Markdown pool, the content streams' page-checkpointing cursors
and the state messages they wait to release. Two syncs in one process (the fault tests run several;
Airbyte's harnesses build a source per command) each have their own: nothing is counted or cached
across them. The module globals that are not per sync: the budget of the read in progress
(``in_flight.py``, since the CDK's HTTP clients cannot be handed one) and the downloads waiting for the
file uploader (``downloads.py`` ``PREFETCHED``), keyed by URL.

How a component finds it: airbyte-cdk 7.39 hands a custom component only the config mapping and its
``$parameters``. The CDK gives every component of one source the very same config dict, the one
``NormaliseConfig`` transforms in place when the source is built; it writes a fresh sync id there
(``SYNC_ID_KEY``, see ``new_sync_id``), and ``SyncContext.of(config)`` finds the context by that id.
The index keeps the contexts of the last ``KEEP_SYNCS`` syncs, enough for several read side by side:
a context dropped while its sync still runs would start again empty. A config without an id (a
component built alone, in a unit test) gets one on first use.
Upstream change that would remove the index: a per-source object the CDK hands custom components
(e.g. ``ModelToComponentFactory`` passing a ``context`` to ``create_custom_component``).
"""

import json
import logging
import threading
import uuid
from collections import Counter, OrderedDict
from typing import Any, Callable, Dict, List, Mapping, MutableMapping, Optional, Protocol, Tuple, TypeVar

from airbyte_cdk.models import AirbyteMessage

from source_confluence.sync.lookup_pool import LookupPool
from source_confluence.sync.markdown_pool import MarkdownPool

LOGGER = logging.getLogger("airbyte")

T = TypeVar("T")

# The config key that names the sync; not a secret, not user-visible (like ``_derived``).
SYNC_ID_KEY = "_sync_id"
KEEP_SYNCS = 48


def new_sync_id() -> str:
    return uuid.uuid4().hex


def slice_key(stream_slice: Any) -> str:
    """A slice's identity, its partition and cursor window, as a string key for the maps kept per walk or
    window (read-ahead, checkpoints): a ``StreamSlice`` is not hashable cheaply (JSON and SHA-256 on every use)."""
    if stream_slice is None:
        return ""
    return json.dumps([dict(stream_slice.partition), dict(stream_slice.cursor_slice)], sort_keys=True, default=str)


class PageCheckpoints(Protocol):
    """A cursor that can save the progress of a listing's window when a page of results ends."""

    def checkpoint_window(self, window: Any) -> None: ...


class SkipLedger:
    """Items skipped per (stream, reason), and what one item of each stream is ("page", "group")."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter = Counter()
        self.items: Dict[str, str] = {}

    def add(self, stream: str, reason: str, item: str = "item") -> None:
        with self._lock:
            self._counts[(stream, reason)] += 1
            self.items[stream] = item

    def snapshot(self) -> Counter:
        with self._lock:
            return Counter(self._counts)

    def since(self, before: Mapping[Any, int]) -> Counter:
        now = self.snapshot()
        now.subtract(before)
        return +now


class SyncContext:
    # The index, not per-sync data: sync id -> context, least recently used first.
    _index: "OrderedDict[str, SyncContext]" = OrderedDict()
    _index_lock = threading.Lock()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._caches: Dict[str, Any] = {}
        self._result_pages: Counter = Counter()
        self.skips = SkipLedger()
        self.markdown = MarkdownPool()
        self._page_cursors: Dict[str, PageCheckpoints] = {}
        # (stream, records of it observed when the message was made, message), oldest first.
        self._held: List[Tuple[Optional[str], int, AirbyteMessage]] = []
        # Look-ups to start when the read begins (``at_read_start``), by name; None once started.
        self._read_start: Optional[Dict[str, Callable[[], Any]]] = {}

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> "SyncContext":
        """The context of the sync this config belongs to (created on first use)."""
        with cls._index_lock:
            sync_id = config.get(SYNC_ID_KEY) if isinstance(config, Mapping) else None
            context = cls._index.get(sync_id) if isinstance(sync_id, str) else None
            if context is not None:
                cls._index.move_to_end(sync_id)
                return context
            context = cls()
            if isinstance(config, MutableMapping):
                if not isinstance(sync_id, str):
                    sync_id = new_sync_id()
                    config[SYNC_ID_KEY] = sync_id
                cls._index[sync_id] = context
                while len(cls._index) > KEEP_SYNCS:
                    cls._index.popitem(last=False)
            return context

    def cache(self, name: str, factory: Callable[[], T]) -> T:
        with self._lock:
            if name not in self._caches:
                self._caches[name] = factory()
            return self._caches[name]

    def at_read_start(self, name: str, start: Callable[[], Any]) -> None:
        """Have ``start`` called when this sync's first stream begins reading (``read_started``): for a look-up
        the first page of results would otherwise wait for, built with the streams (so also by ``check`` and
        ``discover``, which read nothing and so start nothing). One per name; too late once reading began."""
        with self._lock:
            if self._read_start is not None:
                self._read_start.setdefault(name, start)

    def read_started(self) -> None:
        """A stream begins reading: start what ``at_read_start`` registered, once per sync. ``start`` must not
        block (it hands its look-up to the sync's pool); one that fails costs nothing but the head start."""
        with self._lock:
            starts, self._read_start = self._read_start, None
        for name, start in (starts or {}).items():
            try:
                start()
            except Exception as error:  # noqa: BLE001 - the look-up is made again when a page needs it
                LOGGER.debug("Could not start %s ahead of the read: %s", name, type(error).__name__)

    def count_result_page(self, endpoint_template: str) -> None:
        with self._lock:
            self._result_pages[endpoint_template] += 1

    def result_pages(self) -> Dict[str, int]:
        """Result pages read so far, by endpoint template (``content/search``, ``pages/{id}/versions``, ...)."""
        with self._lock:
            return dict(self._result_pages)

    def checkpoint_pages_of(self, stream_name: str, cursor: PageCheckpoints) -> None:
        """``cursor`` saves the progress of ``stream_name`` whenever one of its pages of results ends."""
        with self._lock:
            self._page_cursors[stream_name] = cursor

    def page_done(self, stream_name: Optional[str], window: Any) -> None:
        """A page of results of ``stream_name`` read in ``window`` is out: let its cursor save the progress."""
        with self._lock:
            cursor = self._page_cursors.get(stream_name) if stream_name else None
        if cursor is not None:
            cursor.checkpoint_window(window)

    def hold(self, message: AirbyteMessage, stream_name: Optional[str] = None, after_records: int = 0) -> None:
        """Release ``message`` once ``after_records`` records of ``stream_name`` have gone out (``release``)."""
        with self._lock:
            self._held.append((stream_name, after_records, message))

    def release(self, records_out: Mapping[str, int]) -> List[AirbyteMessage]:
        """The held messages whose records are all out, in the order they were made; the rest stay held.

        A later message of a stream never overtakes an earlier one of the same stream.
        """
        ready: List[AirbyteMessage] = []
        with self._lock:
            kept: List[Tuple[Optional[str], int, AirbyteMessage]] = []
            blocked: set = set()
            for stream_name, after_records, message in self._held:
                if stream_name in blocked or (stream_name is not None and records_out.get(stream_name, 0) < after_records):
                    blocked.add(stream_name)
                    kept.append((stream_name, after_records, message))
                else:
                    ready.append(message)
            self._held = kept
        return ready

    def close(self) -> None:
        """The sync is over: stop the Markdown pool's processes and the look-up threads."""
        self.markdown.close()
        with self._lock:
            caches = list(self._caches.values())
        for cache in caches:
            if isinstance(cache, LookupPool):
                cache.close()

