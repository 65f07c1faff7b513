"""The record side of effective access: ``EffectiveReadAccess`` on each record, ``prefetch_access`` ahead of a page.

Why Python: the value joins several lists (space permissions, group memberships, the ancestors'
restrictions) that come from other requests than the record's. The declarative manifest cannot join
across requests or keep a cache for the whole sync; this transformation does, with requesters the
manifest declares (``lookups.py``) and the pure rule (``rule.py``).
"""

from __future__ import annotations

import logging
from dataclasses import InitVar, dataclass, field
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence

from airbyte_cdk.sources.declarative.requesters.requester import Requester
from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.types import Config, StreamSlice, StreamState

from source_confluence.access.lookups import BATCH_SIZE, AccessCache, AccessLookup, cache_for, in_background, side_by_side
from source_confluence.sync.in_flight import in_flight_budget, workers
from source_confluence.access.rule import (
    ANCESTRY_UNKNOWN,
    AccessUnknown,
    Principals,
    compute_effective_access,
    groups_needed,
    read_restriction_from_v1,
    restriction_principals,
    unknown_access,
)

LOGGER = logging.getLogger("airbyte")


@dataclass
class EffectiveReadAccess(RecordTransformation):
    """Adds ``effective_read_access`` to a normalised pages / blog_posts record (after NormaliseContent).

    ``{"users": [ids], "groups": [names], "anonymous": bool, "restricted": bool, "unknown": false}``; when
    something needed cannot be read, ``{"users": null, "groups": null, "anonymous": null, "restricted": …,
    "unknown": true, "reason": "…"}`` and one warning per space: never a guess, never over-shared.

    The record must carry ``readRestriction`` (see ``read_restriction_from_v1``), ``ancestors``,
    ``spaceKey`` and ``spaceId``. See the module docstring for why this is Python.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    requester: Optional[Requester] = None
    v2_requester: Optional[Requester] = None
    space_permissions_requester: Optional[Requester] = None
    _lookup: Optional[AccessLookup] = field(default=None, init=False, repr=False)

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        data_center = self.config.get("deployment") == "data_center"
        if self.requester is not None:
            cache = cache_for(self.config)
            # One ancestors' look-up in flight per 4 of the budget: the ids of several pages share a request.
            self._lookup = AccessLookup(self.requester, None if data_center else self.v2_requester, data_center,
                                        cache, self.space_permissions_requester, senders=workers(self.config) // 4)
            if cache.lookup is None:
                cache.lookup = self._lookup

    def access_for(self, record: Mapping[str, Any]) -> Dict[str, Any]:
        if self._lookup is None:
            raise AccessUnknown("no requester configured")
        if "readRestriction" not in record:
            raise AccessUnknown("the record has no readRestriction (restrictions not expanded)")
        own = restriction_principals(record.get("readRestriction"))
        space_key = record.get("spaceKey")
        if not space_key:
            raise AccessUnknown("the record has no spaceKey")
        with self._lookup.cache.lock:  # its descendants need not look it up again
            self._lookup.cache.restrictions.setdefault(str(record.get("id")), own)
        ancestors = ancestor_ids(record)
        chain = (self._lookup.restrictions(ancestors) if ancestors else []) + [own]
        space_view = self._lookup.space_view(space_key, record.get("spaceId"))
        key = (space_key, tuple(chain))
        with self._lookup.cache.lock:
            hit = self._lookup.cache.results.get(key)
        if hit is not None:
            return dict(hit, users=list(hit["users"]), groups=list(hit["groups"]))
        members = {group: self._lookup.members(group) for group in sorted(groups_needed(space_view, chain))}
        result = compute_effective_access(space_view, chain, members)
        with self._lookup.cache.lock:
            self._lookup.cache.results[key] = result
        return dict(result, users=list(result["users"]), groups=list(result["groups"]))

    def transform(
        self,
        record: Dict[str, Any],
        config: Optional[Config] = None,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> None:
        try:
            ancestry_unknown = record.pop(ANCESTRY_UNKNOWN, None)
            if ancestry_unknown:
                raise AccessUnknown(ancestry_unknown)
            record["effective_read_access"] = self.access_for(record)
        except AccessUnknown as error:
            own = record.get("readRestriction")
            restricted = True if own and not own.get("unknown") else None
            record["effective_read_access"] = unknown_access(str(error), restricted)
            space = record.get("spaceKey") or "?"
            cache = self._lookup.cache if self._lookup is not None else None
            message = (
                "Confluence: the effective read access of content in space %s could not be computed (%s); "
                "those records carry effective_read_access.unknown = true and grant nobody." % (space, error)
            )
            if cache is not None:
                cache.warn_once(("space", space), message)
            else:
                LOGGER.warning(message)


def prefetch_access(config: Mapping[str, Any], raw_records: Sequence[Mapping[str, Any]]) -> None:
    """Before a page of pages/blog posts is transformed, fetch what their effective access needs, side by side.

    Their own restrictions come with the listing; their ancestors' come in batched look-ups (side by side when
    there are more than one request carries), each
    space seen for the first time has its permissions read, and then every group those name has its
    members read, all at once rather than one record after the other. The per-record
    ``EffectiveReadAccess`` then finds everything cached. Failures are left for the record to report.
    """
    cache = cache_for(config)
    lookup = cache.lookup
    records = _with_restrictions(raw_records)
    if lookup is None or not records:
        return
    wanted = _note_listing(cache, records)
    spaces = {}
    for record in records:
        space = record.get("space") or {}
        if space.get("key"):
            spaces[space["key"]] = str(space["id"]) if space.get("id") is not None else None
    calls: List[Callable[[], Any]] = [
        lambda key=key, space_id=space_id: lookup.space_view(key, space_id)
        for key, space_id in spaces.items()
        if not cache.once.asked(("space", key))
    ]
    calls += restriction_batches(lookup, wanted)
    if calls and not lookup.data_center and not cache.once.asked(("directory",)):
        calls.append(lookup.group_directory)  # Cloud names groups by id in space permissions
    side_by_side(config, calls)
    groups = _groups_to_expand(lookup, spaces, records)
    side_by_side(config, [lambda group=group: lookup.members(group) for group in sorted(groups) if not cache.once.asked(("members", group))])


def queue_listed_ancestors(config: Mapping[str, Any], raw_records: Sequence[Mapping[str, Any]]) -> None:
    """A page of results has arrived ahead of its turn (``read_ahead.py``): queue its records' ancestors'
    ids, without waiting. By the time ``prefetch_access`` runs for that page, they were carried by the
    batch of an earlier page instead of a request of their own. Ids the page lists itself are left out
    (their restriction comes with the listing). Nothing is queued when no stream computes effective access.

    While the sync's budget is mostly idle (an incremental sync's walk, read ahead at the network's pace),
    nothing else would carry them soon: they are asked for at once, in the background, instead of when the
    page's turn comes, after the pages before it (in the real-shaped 20,000-page incremental sync, each
    page's look-ups went out 0.15-0.2 s after the page had come)."""
    cache = cache_for(config)
    records = _with_restrictions(raw_records)
    lookup = cache.lookup
    if lookup is None or not records:
        return
    listed = {str(r.get("id")) for r in records}
    wanted = sorted({i for record in records for i in ancestor_ids(record)} - listed)
    lookup.queue(wanted)
    if wanted and in_flight_budget(config).mostly_idle():
        for call in restriction_batches(lookup, wanted):
            in_background(config, call)


def restriction_batches(lookup: AccessLookup, ids: Iterable[str]) -> List[Callable[[], Any]]:
    """The look-ups of the read restrictions of ``ids``, a request's worth (``BATCH_SIZE``) each. More ancestors
    than one request carries (a page of results deep in a tree names hundreds) are marked ``side_by_side``:
    their batches go out together, up to the look-up's senders, not one after the other."""
    ordered = sorted(ids)
    several = len(ordered) > BATCH_SIZE
    return [lambda batch=ordered[start : start + BATCH_SIZE]: lookup.restrictions(batch, side_by_side=several)
            for start in range(0, len(ordered), BATCH_SIZE)]


def ancestor_ids(record: Mapping[str, Any]) -> List[str]:
    """The ids of a raw record's ancestors, root first, as strings (the cache's keys)."""
    return [str(a["id"]) for a in record.get("ancestors") or () if a.get("id") is not None]


def _with_restrictions(raw_records: Sequence[Any]) -> List[Mapping[str, Any]]:
    """The pages and blog posts of a listing (decoded JSON objects) that carry their restrictions (the ones
    effective access is for)."""
    return [r for r in raw_records if isinstance(r, dict) and r.get("type") in ("page", "blogpost") and "restrictions" in r]


def _note_listing(cache: AccessCache, records: Sequence[Mapping[str, Any]]) -> set:
    """Keep each listed record's own read restriction (its descendants need not look it up); the ids of
    their ancestors still unknown."""
    wanted: set = set()
    with cache.lock:
        known = len(cache.restrictions)
        for record in records:
            try:
                cache.restrictions.setdefault(str(record["id"]), restriction_principals(read_restriction_from_v1(record)))
            except AccessUnknown:
                continue
        if len(cache.restrictions) > known:
            cache.batches.notify_all()  # a thread may be waiting for one of these (``AccessLookup.restrictions``)
        for record in records:
            wanted.update(ancestor_ids(record))
        # Not ``wanted -= restrictions.keys()``: that walks every id the sync knows, under the lock, for each page.
        return {i for i in wanted if i not in cache.restrictions}


def _groups_to_expand(lookup: AccessLookup, spaces: Mapping[str, Optional[str]], records: Sequence[Mapping[str, Any]]) -> FrozenSet[str]:
    """The groups named by the page's spaces and by the restrictions of its records and their ancestors."""
    groups: set = set()
    for key, space_id in spaces.items():
        try:
            groups |= lookup.space_view(key, space_id).groups  # asked already: this waits or reads the cache
        except AccessUnknown:
            continue  # the record meets the same failure and says so
    ids = {str(r["id"]) for r in records} | {i for record in records for i in ancestor_ids(record)}
    with lookup.cache.lock:
        for content_id in ids:
            principals = lookup.cache.restrictions.get(content_id)
            if isinstance(principals, Principals):
                groups |= principals.groups
    return frozenset(groups)
