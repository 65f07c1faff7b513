"""The pure rule of effective read access: inputs in, access out; no request, no cache, no CDK.

Confluence lets a person read content only when **all** of these hold (PEERS.md pitfall 18):

* the space grants them ``read`` (VIEWSPACE), directly or through a group;
* for the content itself and for **every** ancestor (page or folder) that carries a *read* restriction,
  they are named in that restriction, directly or through a group.

Edit (update) restrictions never grant reading. A blog post has no ancestors; comments and attachments
inherit their container's access. "Closest restriction wins" or "page only" (as some peers do) over-shares,
so the rule intersects the whole chain, and when anything it needs is missing it says ``unknown``
rather than guessing.

Identifiers: users are Cloud ``accountId`` / Data Center ``userKey`` (as everywhere in the connector);
groups are **names** on both deployments (v2 space permissions name a group by id: the caller passes
a ``group_name`` translation, see ``lookups.AccessLookup.group_name``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, Iterable, Mapping, Optional, Sequence

READ_RESTRICTION_EXPAND = "restrictions.read.restrictions.user,restrictions.read.restrictions.group"
# Where a page whose place in the content tree could not be read says why (access/ancestors.py); the
# record's access is then unknown, and the marker is taken off before the record is emitted.
ANCESTRY_UNKNOWN = "_ancestryUnknown"


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
