"""The look-ups effective access needs, with one cache per sync shared by every stream and partition.

Space permissions once per space, group members once per group, the group directory (Cloud names groups
by id in space permissions) once per sync, and the read restrictions of ancestors in CQL batches of
``BATCH_SIZE``. They go through requesters the manifest declares (auth, retries, error handler), so a
failure is kept as ``AccessUnknown`` and the record says ``unknown``, never a guess. The typed-ancestor
chain of Cloud pages (folders included) is the other look-up, in ``ancestors.py``.

Why these walk lists themselves instead of reading the manifest's ``group``, ``group_members`` and
``space_permissions`` streams: those streams may not be selected, run in another order, and would hand
over every record of the site; access needs a few keyed answers, cached, and asked side by side.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import quote

from airbyte_cdk.sources.declarative.requesters.requester import Requester

from source_confluence.access.rule import (
    READ_RESTRICTION_EXPAND,
    AccessUnknown,
    Principals,
    read_restriction_from_v1,
    restriction_principals,
    space_view_from_dc,
    space_view_from_v1_expand,
    space_view_from_v2,
    user_id,
)
from source_confluence.components.backoff import query_int
from source_confluence.components.pagination import walk_list
from source_confluence.api.response_json import json_body
from source_confluence.sync.lookup_pool import lookup_pool
from source_confluence.sync.cache import per_sync

LOGGER = logging.getLogger("airbyte")

# Ancestor ids per CQL request: content/search answers up to 200 results with a non-body expand, so a
# batch is one request; 200 ids keep the URL near 2 KB.
BATCH_SIZE = 200
CQL_STATUSES = '"current", "archived", "trashed", "draft"'
# How long a thread waiting for others' ancestor look-ups sleeps between looks when nothing notifies it.
WAIT_SECONDS = 0.5
# While one ancestors' look-up is in flight, another goes out only with this share of a full batch queued;
# fewer ids wait for the look-up in flight to end and go in the next. Half the look-ups of a full sync carried
# under 20 ids before; with this rule, 3-6% fewer requests in a full sync of 20,000 pages, as fast (bench/NOTES.md).
SECOND_SENDER_FILL = 0.25


def in_background(config: Mapping[str, Any], call: Callable[[], Any]) -> "Future[Any]":
    """Start one look-up that does not submit others; wait for its ``result()``."""
    return lookup_pool(config).submit(call)


def side_by_side(config: Mapping[str, Any], calls: Iterable[Callable[[], Any]]) -> None:
    """Run the calls in the sync's look-up pool (``sync/lookup_pool.py``) and wait for all; a failure
    is left for the caller to meet again.

    The look-ups a page of results needs (its ancestors, its spaces' permissions, their groups' members,
    the names it mentions) are independent round trips: asked one after the other, they were most of a
    small incremental sync (bench/NOTES.md). Every look-up keeps its result, failures included (``_Once``,
    ``AccessCache.restrictions``), so the record that needs it later reports the same failure.
    """
    for future in lookup_pool(config).side_by_side(calls):
        error = future.exception()
        if error is not None and not isinstance(error, AccessUnknown):
            LOGGER.debug("A look-up ahead of a page of results failed: %s", type(error).__name__)


class _Once:
    """Compute a value once per key, even when several threads ask at the same time; failures are kept too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: Dict[Any, Tuple[threading.Event, List[Any]]] = {}

    def asked(self, key: Any) -> bool:
        """Whether the key was computed, or is being computed, already."""
        with self._lock:
            return key in self._entries

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            owner = entry is None
            if owner:
                entry = self._entries[key] = (threading.Event(), [])
        event, slot = entry
        if owner:
            try:
                slot.append(("ok", compute()))
            except AccessUnknown as error:
                slot.append(("unknown", error))
            except Exception as error:  # the connector's error handler gave up: never guess
                slot.append(("unknown", AccessUnknown("%s: %s" % (type(error).__name__, error))))
            finally:
                event.set()
        else:
            event.wait()
        kind, value = slot[0]
        if kind == "unknown":
            raise value
        return value


class AccessCache:
    """Everything looked up for effective access during one sync."""

    def __init__(self) -> None:
        self.once = _Once()
        self.lock = threading.Lock()
        self.restrictions: Dict[str, Any] = {}  # content id -> Principals | None | AccessUnknown
        # Ancestor ids waiting for a restrictions look-up, and those in one now (``AccessLookup.restrictions``).
        self.batches = threading.Condition(self.lock)
        self.queued: Dict[str, None] = {}  # an ordered set
        self.in_flight: set = set()
        self.sending = 0
        self.warned: set = set()
        self.results: Dict[Any, Dict[str, Any]] = {}
        self.page_sizes: Dict[str, int] = {}  # kind of list -> the page size that answered after 504s
        # The look-ups of the sync's EffectiveReadAccess, for the prefetch ahead of each page of results.
        self.lookup: Optional["AccessLookup"] = None

    def warn_once(self, key: Any, message: str) -> None:
        with self.lock:
            if key in self.warned:
                return
            self.warned.add(key)
        LOGGER.warning(message)


def cache_for(config: Mapping[str, Any]) -> AccessCache:
    """One access cache per sync (see ``sync/cache.py``)."""
    return per_sync(config, "effective_read_access", AccessCache)


class AccessLookup:
    """The requests: space permissions once per space, members once per group, restrictions in batches."""

    def __init__(
        self,
        requester: Requester,
        v2_requester: Optional[Requester],
        data_center: bool,
        cache: AccessCache,
        space_permissions_requester: Optional[Requester] = None,
        senders: int = 1,
    ) -> None:
        self.requester = requester
        # Ancestor look-ups in flight at once (``restrictions``): few, so that batches fill under load.
        self.senders = max(1, senders)
        self.v2_requester = v2_requester
        # Data Center's space permissions: its own error handling (see the manifest), else the main one.
        self.space_permissions_requester = space_permissions_requester or requester
        self.data_center = data_center
        self.cache = cache

    # ---- HTTP
    @staticmethod
    def _get(requester: Requester, path: str, params: Optional[Mapping[str, Any]] = None) -> Any:
        response = requester.send_request(path=path, request_params=dict(params or {}))
        if response is None:
            raise AccessUnknown("no response for %s" % path)
        if response.status_code >= 400:
            raise AccessUnknown("HTTP %s for %s" % (response.status_code, path))
        try:
            return json_body(response), response
        except ValueError:
            raise AccessUnknown("no JSON body for %s" % path)

    def _walk(self, requester: Requester, path: str, params: Mapping[str, Any], kind: str) -> List[Mapping[str, Any]]:
        """Every result of a list, following ``_links.next`` (re-based on the requester's own url_base).

        A page size Confluence answered 504 for, and the error handler halved, is remembered for the
        sync per kind of list: the next walk starts with the size that worked instead of timing out
        again (each halving costs a retry and its wait).
        """
        params = dict(params)
        if kind in self.cache.page_sizes and "limit" in params:
            params["limit"] = min(int(params["limit"]), self.cache.page_sizes[kind])
        return walk_list(lambda target, query=None: self._get(requester, target, query), path, params, AccessUnknown,
                         on_page=lambda response: self._learn_page_size(kind, response, params.get("limit")))

    def _learn_page_size(self, kind: str, response: Any, asked: Optional[Any]) -> None:
        sent = query_int(getattr(response.request, "url", None) or "", "limit") if response.request is not None else None
        if sent is not None and asked is not None and sent < int(asked):
            with self.cache.lock:
                self.cache.page_sizes[kind] = min(sent, self.cache.page_sizes.get(kind, sent))

    # ---- groups
    def group_directory(self) -> Dict[str, Dict[str, str]]:
        """Cloud: group id <-> name, from one walk of ``/group``."""

        def load() -> Dict[str, Dict[str, str]]:
            by_id, by_name = {}, {}
            for group in self._walk(self.requester, "group", {"limit": 200}, "group directory"):
                if group.get("id") and group.get("name"):
                    by_id[group["id"]] = group["name"]
                    by_name[group["name"]] = group["id"]
            return {"by_id": by_id, "by_name": by_name}

        return self.cache.once.get(("directory",), load)

    def group_name(self, group_id: str) -> str:
        return self.group_directory()["by_id"].get(group_id, group_id)

    def members(self, group: str) -> FrozenSet[str]:
        def load() -> FrozenSet[str]:
            if self.data_center:
                path = "group/%s/member" % quote(group, safe="")
            else:
                group_id = self.group_directory()["by_name"].get(group, group)
                path = "group/%s/membersByGroupId" % quote(group_id, safe="")
            return frozenset(filter(None, (user_id(u) for u in self._walk(self.requester, path, {"limit": 200}, "group members"))))

        return self.cache.once.get(("members", group), load)

    # ---- spaces
    def space_view(self, space_key: str, space_id: Optional[str]) -> Principals:
        def load() -> Principals:
            if self.data_center:
                try:
                    body, _ = self._get(self.space_permissions_requester, "space/%s/permissions" % quote(space_key, safe=""))
                    if isinstance(body, list):
                        return space_view_from_dc(body)
                except AccessUnknown:
                    pass
                # Data Center before 9.1 (or an answer the connector does not understand): the space's expand.
                # Its own error handling too: a space deleted since it was listed is `unknown`, not a failed sync.
                body, _ = self._get(self.space_permissions_requester, "space/%s" % quote(space_key, safe=""), {"expand": "permissions"})
                return space_view_from_v1_expand(body)
            if self.v2_requester is None or not space_id:
                raise AccessUnknown("Cloud space permissions need the v2 API and the space id")
            results = self._walk(self.v2_requester, "spaces/%s/permissions" % quote(str(space_id), safe=""), {"limit": 250}, "space permissions")
            return space_view_from_v2(results, self.group_name)

        return self.cache.once.get(("space", space_key), load)

    # ---- ancestors' restrictions
    def _search(self, cql: str) -> List[Mapping[str, Any]]:
        return self._walk(self.requester, "content/search", {"cql": cql, "expand": READ_RESTRICTION_EXPAND, "limit": 200}, "ancestors")

    def restrictions(self, ids: Sequence[str], side_by_side: bool = False) -> List[Optional[Principals]]:
        """The read restriction of each id (an ancestor chain), fetching what the cache lacks in shared batches.

        Ids wait in one queue for the whole sync, whatever space or thread asked for them. At most
        ``senders`` look-ups are in flight, and while one is, another goes only for ``SECOND_SENDER_FILL`` of
        a batch queued, or for one of the batches of a page that names more ids than one request carries
        (``side_by_side``: that page waits for all of them, and nothing else would join its last one in an
        incremental sync); meanwhile new ids gather, and the next caller to find a sender free takes up to
        ``BATCH_SIZE`` of them (its own first). So under load a request carries
        the ids of several pages of results instead of one page's, and an id a walk lists meanwhile (its
        own restriction comes with the listing, ``prefetch_access``) leaves the queue unasked. No lock is
        held during a request, and an id is never asked twice.
        """
        wanted = list(dict.fromkeys(ids))
        cache = self.cache
        with cache.batches:
            for i in wanted:
                if i not in cache.restrictions and i not in cache.in_flight:
                    cache.queued.setdefault(i, None)
            while True:
                missing = [i for i in wanted if i not in cache.restrictions]
                if not missing:
                    break
                batch = self._take_batch(missing) if self._may_send(side_by_side) else []
                if batch:
                    cache.sending += 1
                    cache.in_flight.update(batch)
                    results: List[Mapping[str, Any]] = []
                    failure: Optional[AccessUnknown] = AccessUnknown("the look-up of ancestors %s stopped" % ",".join(batch))
                    cache.batches.release()  # the request goes out without the lock
                    try:
                        results, failure = self._fetch_restrictions(batch)
                    finally:
                        cache.batches.acquire()
                        self._store_batch(batch, results, failure)
                        cache.sending -= 1
                        cache.in_flight.difference_update(batch)
                        cache.batches.notify_all()
                    continue
                # Another thread's request carries the rest, or a walk lists them meanwhile: both notify.
                # The timeout only bounds the wait should a notification be missed (a record kept alone).
                cache.batches.wait(timeout=WAIT_SECONDS)
            values = [cache.restrictions[i] for i in wanted]
        for value in values:
            if isinstance(value, AccessUnknown):
                raise value
        return values

    def queue(self, ids: Iterable[str]) -> None:
        """Put ids in the queue without waiting for them: a page of results read ahead lists its ancestors
        before its records are transformed (``queue_listed_ancestors``), so they ride in a batch that
        another page's look-up sends meanwhile, and are answered by the time their page needs them."""
        cache = self.cache
        with cache.batches:
            added = False
            for i in ids:
                if i not in cache.restrictions and i not in cache.in_flight and i not in cache.queued:
                    cache.queued[i] = None
                    added = True
            if added:
                cache.batches.notify_all()  # a thread waiting for a sender may take them along

    def _may_send(self, side_by_side: bool) -> bool:
        """Whether a caller may send a look-up now (called with ``cache.batches`` held): a sender is free, and
        none is busy, or the caller's page needs several batches, or enough ids are queued to fill a request
        worth its slot."""
        cache = self.cache
        if cache.sending >= self.senders:
            return False
        return cache.sending == 0 or side_by_side or len(cache.queued) >= BATCH_SIZE * SECOND_SENDER_FILL

    def _take_batch(self, missing: Sequence[str]) -> List[str]:
        """Up to BATCH_SIZE queued ids (the caller's first), dropping those a listing has answered since."""
        cache = self.cache
        for i in [i for i in cache.queued if i in cache.restrictions]:
            del cache.queued[i]
        batch = [i for i in missing if i in cache.queued][:BATCH_SIZE]
        for i in cache.queued:
            if len(batch) >= BATCH_SIZE:
                break
            if i not in batch:
                batch.append(i)
        for i in batch:
            del cache.queued[i]
        return batch

    def _fetch_restrictions(self, batch: Sequence[str]) -> Tuple[List[Mapping[str, Any]], Optional[AccessUnknown]]:
        try:
            return self._search("id IN (%s) AND status IN (%s)" % (",".join(batch), CQL_STATUSES)), None
        except AccessUnknown as error:
            return [], error
        except Exception as error:  # the error handler gave up: kept as unknown (as _Once does), never guessed
            return [], AccessUnknown("%s: %s" % (type(error).__name__, error))

    def _store_batch(self, batch: Sequence[str], results: Iterable[Mapping[str, Any]], failure: Optional[AccessUnknown]) -> None:
        """Called with ``cache.batches`` held."""
        restrictions = self.cache.restrictions
        for raw in results:
            if raw.get("id") is None:
                continue
            try:
                restrictions[str(raw["id"])] = restriction_principals(read_restriction_from_v1(raw))
            except AccessUnknown as error:
                restrictions[str(raw["id"])] = error
        for i in batch:  # not returned: drafts, trashed ancestors the search hides, no permission
            restrictions.setdefault(i, failure or AccessUnknown("ancestor %s was not returned" % i))
