"""Who may read a page or blog post: ``effective_read_access``, computed the way Confluence decides it.

Confluence lets a person read content only when **all** of these hold (PEERS.md pitfall 18):

* the space grants them ``read`` (VIEWSPACE), directly or through a group;
* for the content itself and for **every** ancestor page that carries a *read* restriction, they are
  named in that restriction, directly or through a group.

Edit (update) restrictions never grant reading. A blog post has no ancestors; comments and attachments
inherit their container's access. "Closest restriction wins" or "page only" (as some peers do) over-shares,
so this module intersects the whole chain, and when anything it needs cannot be read it says
``unknown`` rather than guessing.

Identifiers: users are Cloud ``accountId`` / Data Center ``userKey`` (as everywhere in the connector);
groups are **names** on both deployments. Cloud v1 restrictions and the group stream name groups, Data
Center knows groups only by name, and the emulator's truth uses names; v2 space permissions name a group
by id, so ids are translated through one walk of ``/rest/api/group`` per sync.

Why Python: the value joins several lists (space permissions, group memberships, the ancestors'
restrictions) that come from other requests than the record's. The declarative manifest cannot join
across requests or keep a cache for the whole sync; this transformation does, with the connector's own
requester (auth, retries, error handler) and a cache shared by every partition and stream of the sync.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import InitVar, dataclass, field
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import quote

from airbyte_cdk.sources.declarative.requesters.requester import Requester
from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.types import Config, StreamSlice, StreamState

from source_confluence.components.backoff import query_int
from source_confluence.components.pagination import next_link_token
from source_confluence.components.response_json import json_body
from source_confluence.components.slicing import workers
from source_confluence.components.sync_cache import per_sync

LOGGER = logging.getLogger("airbyte")

READ_RESTRICTION_EXPAND = "restrictions.read.restrictions.user,restrictions.read.restrictions.group"
# Ancestor ids per CQL request: content/search answers up to 200 results with a non-body expand, so a
# batch is one request; 200 ids keep the URL near 2 KB.
BATCH_SIZE = 200
CQL_STATUSES = '"current", "archived", "trashed", "draft"'
# Where a page whose place in the content tree could not be read says why (components/tree.py); the
# record's access is then unknown, and the marker is taken off before the record is emitted.
ANCESTRY_UNKNOWN = "_ancestryUnknown"
# The look-ups a page of results needs (its ancestors, its spaces' permissions, their groups' members,
# the names it mentions) are independent round trips: asked one after the other, they were most of
# a small incremental sync (bench/NOTES.md). They run side by side in a pool per sync, no larger than
# `num_workers`, the concurrency the user chose. A task never submits to the pool itself: it does its
# requests in its own thread, and at most waits for a look-up another running thread is doing, so the
# pool cannot fill with tasks waiting for queued ones.
LOOKUP_THREADS = 8


def lookup_pool(config: Mapping[str, Any]) -> ThreadPoolExecutor:
    return per_sync(config, "lookup_pool", lambda: ThreadPoolExecutor(max_workers=min(LOOKUP_THREADS, workers(config)),
                                                                     thread_name_prefix="confluence-lookup"))


def in_background(config: Mapping[str, Any], call: Callable[[], Any]) -> "Future[Any]":
    """Start one look-up that does not submit others (see above); the caller waits on the future."""
    return lookup_pool(config).submit(call)


def side_by_side(config: Mapping[str, Any], calls: Iterable[Callable[[], Any]]) -> None:
    """Run the calls in the look-up pool and wait for all; a failure is left for the caller to meet again.

    Every look-up keeps its result, failures included (``_Once``, ``AccessCache.restrictions``), so the
    record that needs it later reports the same failure the prefetch met.
    """
    futures = [in_background(config, call) for call in calls]
    wait(futures)
    for future in futures:
        error = future.exception()
        if error is not None and not isinstance(error, AccessUnknown):
            LOGGER.debug("A look-up ahead of a page of results failed: %s", type(error).__name__)


# ---------------------------------------------------------------------------------------------------
# Pure part: inputs in, access out.
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principals:
    """A set of users and groups; ``anonymous`` only means something for a space's view permission."""

    users: FrozenSet[str] = frozenset()
    groups: FrozenSet[str] = frozenset()
    anonymous: bool = False

    @classmethod
    def of(cls, users: Iterable[str] = (), groups: Iterable[str] = (), anonymous: bool = False) -> "Principals":
        return cls(frozenset(u for u in users if u), frozenset(g for g in groups if g), bool(anonymous))


class AccessUnknown(Exception):
    """Something needed to decide access could not be read; the record gets ``unknown: true``."""


def user_id(user: Optional[Mapping[str, Any]]) -> Optional[str]:
    """Cloud ``accountId``; Data Center ``userKey`` (then ``username``), as in records.py."""
    if not user:
        return None
    return user.get("accountId") or user.get("userKey") or user.get("username")


def read_restriction_from_v1(raw_content: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The read restriction carried by a v1 content object fetched with ``READ_RESTRICTION_EXPAND``.

    Returns None when the content has no read restriction of its own (empty user and group lists mean
    "not restricted" in Confluence), ``{"users": [ids], "groups": [names]}`` when it has one, and
    ``{"users": [], "groups": [], "unknown": True}`` when the restriction was not expanded, so that a
    missing expand can never be mistaken for "anyone in the space may read it".
    """
    read = ((raw_content.get("restrictions") or {}).get("read") or {})
    restrictions = read.get("restrictions")
    if not isinstance(restrictions, Mapping) or "user" not in restrictions or "group" not in restrictions:
        return {"users": [], "groups": [], "unknown": True}
    users = {user_id(u) for u in ((restrictions.get("user") or {}).get("results") or [])}
    groups = {g.get("name") or g.get("id") for g in ((restrictions.get("group") or {}).get("results") or [])}
    users.discard(None)
    groups.discard(None)
    if not users and not groups:
        return None
    return {"users": sorted(users), "groups": sorted(groups)}


def restriction_principals(restriction: Optional[Mapping[str, Any]]) -> Optional[Principals]:
    """A ``readRestriction`` dict as Principals; None when it restricts nothing; raises when unknown."""
    if restriction is None:
        return None
    if restriction.get("unknown"):
        raise AccessUnknown("a read restriction was not returned by Confluence")
    principals = Principals.of(restriction.get("users") or (), restriction.get("groups") or ())
    if not principals.users and not principals.groups:
        return None
    return principals


def groups_needed(space_view: Principals, chain: Sequence[Optional[Principals]]) -> FrozenSet[str]:
    """Every group whose members must be known to compute the access."""
    needed = set(space_view.groups)
    for level in chain:
        if level is not None:
            needed |= level.groups
    return frozenset(needed)


def compute_effective_access(
    space_view: Principals,
    chain: Sequence[Optional[Principals]],
    members: Mapping[str, Iterable[str]],
) -> Dict[str, Any]:
    """Space view ∩ every read restriction of the chain (ancestors top-down, then the content itself).

    ``chain`` holds one entry per level: None for a level without a read restriction. ``members`` maps
    each group name to its users' ids; a group missing from it raises AccessUnknown (never guess).
    """
    restricted_levels = [level for level in chain if level is not None and (level.users or level.groups)]

    def expand(principals: Principals) -> set:
        users = set(principals.users)
        for group in principals.groups:
            if group not in members:
                raise AccessUnknown("members of group %r are unknown" % group)
            users.update(members[group])
        return users

    users = expand(space_view)
    groups = set(space_view.groups)
    for level in restricted_levels:
        users &= expand(level)
        groups &= level.groups
    return {
        "users": sorted(users),
        "groups": sorted(groups),
        "anonymous": bool(space_view.anonymous and not restricted_levels),
        "restricted": bool(restricted_levels),
        "unknown": False,
    }


def unknown_access(reason: str, restricted: Optional[bool] = None) -> Dict[str, Any]:
    """What a record gets when its access cannot be decided: nothing granted, and a marker saying why."""
    return {"users": None, "groups": None, "anonymous": None, "restricted": restricted, "unknown": True, "reason": reason}


def space_view_from_v2(permissions: Iterable[Mapping[str, Any]], group_name: Callable[[str], str]) -> Principals:
    """Cloud v2 ``/spaces/{id}/permissions`` results: keep ``read`` on ``space`` only."""
    users, groups, anonymous = set(), set(), False
    for permission in permissions:
        operation = permission.get("operation") or {}
        if operation.get("key") != "read" or operation.get("targetType") != "space":
            continue
        principal = permission.get("principal") or {}
        kind, ident = principal.get("type"), principal.get("id")
        if kind == "user" and ident:
            users.add(ident)
        elif kind == "group" and ident:
            groups.add(group_name(ident))
        elif kind == "anonymous":
            anonymous = True
    return Principals.of(users, groups, anonymous)


def space_view_from_dc(permissions: Iterable[Mapping[str, Any]]) -> Principals:
    """Data Center 9.1+ ``/space/{key}/permissions``: ``operation{targetType,operationKey}``, ``subject``.

    The spec documents only ``subject.type``/``displayName``; users are identified by ``userKey``
    (CONFSERVER-100505), so several spellings of the identifier are accepted.
    """
    users, groups, anonymous = set(), set(), False
    for permission in permissions:
        operation = permission.get("operation") or {}
        if (operation.get("operationKey") or operation.get("key")) != "read" or operation.get("targetType") != "space":
            continue
        subject = permission.get("subject") or {}
        kind = subject.get("type")
        if kind == "user":
            ident = subject.get("identifier") or subject.get("userKey") or subject.get("key")
            if ident:
                users.add(ident)
        elif kind == "group":
            ident = subject.get("identifier") or subject.get("name") or subject.get("groupName")
            if ident:
                groups.add(ident)
        elif kind == "anonymous":
            anonymous = True
    return Principals.of(users, groups, anonymous)


def space_view_from_v1_expand(space: Mapping[str, Any]) -> Principals:
    """A v1 space with ``expand=permissions`` (older Data Center): ``subjects.user|group.results``."""
    if "permissions" not in space:
        raise AccessUnknown("space permissions were not returned")
    users, groups, anonymous = set(), set(), False
    for permission in space.get("permissions") or []:
        operation = permission.get("operation") or {}
        if operation.get("operation") != "read" or operation.get("targetType") != "space":
            continue
        if permission.get("anonymousAccess"):
            anonymous = True
        subjects = permission.get("subjects") or {}
        for user in ((subjects.get("user") or {}).get("results") or []):
            if user_id(user):
                users.add(user_id(user))
        for group in ((subjects.get("group") or {}).get("results") or []):
            if group.get("name"):
                groups.add(group["name"])
    return Principals.of(users, groups, anonymous)


# ---------------------------------------------------------------------------------------------------
# Fetching, with one cache per sync shared by every stream and partition (thread-safe).
# ---------------------------------------------------------------------------------------------------


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
        self.pending: Dict[str, threading.Event] = {}  # content id -> set when its look-up has finished
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
    """One access cache per sync (see ``sync_cache``)."""
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
    ) -> None:
        self.requester = requester
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
        out: List[Mapping[str, Any]] = []
        seen = set()
        body, response = self._get(requester, path, params)
        while True:
            self._learn_page_size(kind, response, params.get("limit"))
            if not isinstance(body, Mapping):
                raise AccessUnknown("unexpected body for %s" % path)
            results = body.get("results") or []
            out.extend(results)
            token = next_link_token(body, response.request.url if response.request is not None else "")
            if not token or token in seen or not results:
                return out
            seen.add(token)
            body, response = self._get(requester, token)

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
    def _store_restrictions(self, results: Iterable[Mapping[str, Any]]) -> None:
        with self.cache.lock:
            for raw in results:
                if raw.get("id") is None:
                    continue
                try:
                    self.cache.restrictions[str(raw["id"])] = restriction_principals(read_restriction_from_v1(raw))
                except AccessUnknown as error:
                    self.cache.restrictions[str(raw["id"])] = error

    def _search(self, cql: str) -> List[Mapping[str, Any]]:
        return self._walk(self.requester, "content/search", {"cql": cql, "expand": READ_RESTRICTION_EXPAND, "limit": 200}, "ancestors")

    def restrictions(self, ids: Sequence[str]) -> List[Optional[Principals]]:
        """The read restriction of each id (an ancestor chain), fetching what the cache lacks in batches.

        Ids from any space share a batch. No lock is held during a request: an id another thread is
        already fetching is waited for, not fetched twice, so workers reading the same space do not
        queue behind one another.
        """
        with self.cache.lock:
            mine = [i for i in dict.fromkeys(ids) if i not in self.cache.restrictions and i not in self.cache.pending]
            theirs = {self.cache.pending[i] for i in ids if i in self.cache.pending}
            done = threading.Event()
            for i in mine:
                self.cache.pending[i] = done
        failure: Optional[AccessUnknown] = None
        try:
            for start in range(0, len(mine), BATCH_SIZE):
                batch = mine[start : start + BATCH_SIZE]
                self._store_restrictions(self._search("id IN (%s) AND status IN (%s)" % (",".join(batch), CQL_STATUSES)))
        except AccessUnknown as error:
            failure = error
        except Exception as error:  # the error handler gave up: kept as unknown (as _Once does), never guessed
            failure = AccessUnknown("%s: %s" % (type(error).__name__, error))
        finally:
            with self.cache.lock:
                for i in mine:  # not returned: drafts, trashed ancestors the search hides, no permission
                    self.cache.restrictions.setdefault(i, failure or AccessUnknown("ancestor %s was not returned" % i))
                    self.cache.pending.pop(i, None)
            done.set()
        for event in theirs:
            event.wait()
        with self.cache.lock:
            values = [self.cache.restrictions[i] for i in ids]
        for value in values:
            if isinstance(value, AccessUnknown):
                raise value
        return values


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
            self._lookup = AccessLookup(self.requester, None if data_center else self.v2_requester, data_center,
                                        cache, self.space_permissions_requester)
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
        ancestor_ids = [str(a["id"]) for a in (record.get("ancestors") or []) if a.get("id") is not None]
        chain = (self._lookup.restrictions(ancestor_ids) if ancestor_ids else []) + [own]
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

    Their own restrictions come with the listing; their ancestors' come in one batched look-up, each
    space seen for the first time has its permissions read, and then every group those name has its
    members read, all at once rather than one record after the other. The per-record
    ``EffectiveReadAccess`` then finds everything cached. Failures are left for the record to report.
    """
    cache = cache_for(config)
    lookup = cache.lookup
    records = [r for r in raw_records if r.get("type") in ("page", "blogpost") and "restrictions" in r]
    if lookup is None or not records:
        return
    wanted: set = set()
    with cache.lock:
        for record in records:
            try:
                cache.restrictions.setdefault(str(record["id"]), restriction_principals(read_restriction_from_v1(record)))
            except AccessUnknown:
                continue
        for record in records:
            wanted.update(str(a["id"]) for a in record.get("ancestors") or [] if a.get("id") is not None)
        wanted -= cache.restrictions.keys()
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
    if wanted:
        calls.append(lambda: lookup.restrictions(sorted(wanted)))
    if calls and not lookup.data_center and not cache.once.asked(("directory",)):
        calls.append(lookup.group_directory)  # Cloud names groups by id in space permissions
    side_by_side(config, calls)
    groups = _groups_to_expand(lookup, spaces, records)
    side_by_side(config, [lambda group=group: lookup.members(group) for group in sorted(groups) if not cache.once.asked(("members", group))])


def _groups_to_expand(lookup: AccessLookup, spaces: Mapping[str, Optional[str]], records: Sequence[Mapping[str, Any]]) -> FrozenSet[str]:
    """The groups named by the page's spaces and by the restrictions of its records and their ancestors."""
    groups: set = set()
    for key, space_id in spaces.items():
        try:
            groups |= lookup.space_view(key, space_id).groups  # asked already: this waits or reads the cache
        except AccessUnknown:
            continue  # the record meets the same failure and says so
    ids = {str(r["id"]) for r in records} | {str(a["id"]) for r in records for a in r.get("ancestors") or [] if a.get("id") is not None}
    with lookup.cache.lock:
        for content_id in ids:
            principals = lookup.cache.restrictions.get(content_id)
            if isinstance(principals, Principals):
                groups |= principals.groups
    return frozenset(groups)
