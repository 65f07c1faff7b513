"""In-memory Confluence site model: the single source of truth behind every API family."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional


@dataclass
class User:
    account_id: str
    username: str
    user_key: str
    display_name: str
    email: str
    groups: set = field(default_factory=set)
    site_admin: bool = False
    account_type: str = "atlassian"
    time_zone: str = "UTC"
    email_visible: bool = True  # Cloud profile privacy: False -> only the user and site admins see the address


@dataclass
class Group:
    id: str
    name: str
    members: list = field(default_factory=list)  # account ids


@dataclass
class Space:
    id: int
    key: str
    name: str
    type: str  # global | personal
    status: str
    homepage_id: Optional[str]
    description: str
    created_ms: int
    author_id: str
    view_users: set = field(default_factory=set)
    view_groups: set = field(default_factory=set)
    anonymous_access: bool = False
    labels: list = field(default_factory=list)


class Version:
    __slots__ = ("number", "when", "by", "message", "minor")

    def __init__(self, number, when, by, message="", minor=False):
        self.number = number
        self.when = when
        self.by = by
        self.message = message
        self.minor = minor


# what sits in the page tree, linked by `parent_id` (Cloud's folders, whiteboards, databases, embeds: tree.py)
TREE_NODE_TYPES = frozenset({"page", "folder", "whiteboard", "database", "embed"})


class Content:
    """A page, blog post, comment or attachment (ids are strings; attachments are `att<n>`), or a Cloud folder,
    whiteboard, database or embed (see tree.py)."""

    __slots__ = (
        "id", "num", "type", "status", "title", "space_key", "parent_id", "position", "versions",
        "author", "owner", "labels", "body", "view", "read_users", "read_groups", "update_users",
        "update_groups", "container_id", "location", "parent_comment_id", "resolution",
        "inline_selection", "filename", "media_type", "blob", "att_comment", "prev_status", "template", "embed_url",
    )

    def __init__(self, **kw):
        for s in self.__slots__:
            setattr(self, s, None)
        self.labels = []
        self.versions = []
        for k, v in kw.items():
            setattr(self, k, v)

    @property
    def created(self) -> int:
        return self.versions[0].when

    @property
    def modified(self) -> int:
        return self.versions[-1].when

    @property
    def version(self) -> Version:
        return self.versions[-1]

    @property
    def file_size(self) -> int:
        return len(self.blob) if self.blob is not None else 0


@dataclass
class AuditRecord:
    author_id: str
    remote_address: str
    creation_ms: int
    summary: str
    description: str
    category: str
    affected_name: str
    affected_type: str
    sys_admin: bool = False


_GENERATED_VIEW = "\x00generated view, rendered on demand\x00"  # marker in Content.view (compared by identity)


class Site:
    """Holds everything. Mutations go through methods that bump `generation` (invalidates caches)."""

    def __init__(self, profile: str, seed: int, time_zone: str, clock, cloud_id: str):
        self.profile = profile
        self.seed = seed
        self.time_zone = time_zone
        self.clock = clock
        self.cloud_id = cloud_id
        self.users: dict[str, User] = {}          # account_id -> User
        self.groups: dict[str, Group] = {}        # name -> Group
        self.spaces: dict[str, Space] = {}        # key -> Space
        self.content: dict[str, Content] = {}    # id -> Content
        self.audit: list[AuditRecord] = []
        self.label_ids: dict[str, str] = {}
        self.lock = threading.RLock()
        self.generation = 0
        self._next_id = 65537
        self._vis_cache: dict = {}
        self.body_repeat: dict = {}  # content id -> how many extra sections its body has (real-shaped sites' huge bodies)
        self.kids: dict = {}  # container/parent id -> list of child ids (pages by parent, comments/attachments by container)
        self.body_renderer: Optional[Callable] = None
        self.v1_ancestors_include_folders = True  # whether v1 lists folders among ancestors (tree.v1_ancestors)
        from .purges import ListingPurges
        self.purges = ListingPurges(self)  # content purged right after a search listed it (fault purge_after_listing)

    # ---------------- ids & lookup
    def new_id(self, step: int = 1) -> int:
        self._next_id += step
        return self._next_id

    def label_id(self, name: str) -> str:
        lid = self.label_ids.get(name)
        if lid is None:
            lid = self.label_ids[name] = str(1000 + len(self.label_ids) * 7)
        return lid

    def space_by_id(self, sid) -> Optional[Space]:
        try:
            sid = int(sid)
        except (TypeError, ValueError):
            return None
        for s in self.spaces.values():
            if s.id == sid:
                return s
        return None

    def user_by_any(self, ident: str) -> Optional[User]:
        u = self.users.get(ident)
        if u:
            return u
        for u in self.users.values():
            if ident in (u.username, u.user_key, u.email):
                return u
        return None

    def touch(self):
        self.generation += 1
        self._vis_cache.clear()

    # ---------------- tree
    def ancestors(self, c: Content) -> list[Content]:
        """Top-to-bottom ancestors of a tree node, whatever their type (empty for root pages and blog posts)."""
        out = []
        pid = c.parent_id
        while pid is not None:
            p = self.content.get(pid)
            if p is None:
                break
            out.append(p)
            pid = p.parent_id
        out.reverse()
        return out

    def v1_ancestors(self, c: Content) -> list[Content]:
        """The ancestors v1 lists (`expand=ancestors`, CQL `ancestor`): all, or without folders when the site runs
        with `v1_ancestors_include_folders` off (undocumented by Atlassian: README, "Content tree: what is known")."""
        anc = self.ancestors(c)
        return anc if self.v1_ancestors_include_folders else [a for a in anc if a.type != "folder"]

    def add(self, c: Content) -> Content:
        self.content[c.id] = c
        link = c.parent_id if c.type in TREE_NODE_TYPES else c.container_id
        if link is not None:
            self.kids.setdefault(link, []).append(c.id)
        return c

    def unlink(self, c: Content):
        link = c.parent_id if c.type in TREE_NODE_TYPES else c.container_id
        lst = self.kids.get(link)
        if lst and c.id in lst:
            lst.remove(c.id)

    def children(self, c: Content, type_: str) -> list[Content]:
        out = []
        for i in self.kids.get(c.id, ()):
            x = self.content.get(i)
            if x is not None and x.type == type_:
                out.append(x)
        return out

    def container_of(self, c: Content) -> Optional[Content]:
        return self.content.get(c.container_id) if c.container_id else None

    def page_like_root(self, c: Content) -> Content:
        """For comments/attachments: the page/blogpost they belong to (restrictions come from there)."""
        seen = 0
        while c.container_id and seen < 10:
            nxt = self.content.get(c.container_id)
            if nxt is None:
                break
            c = nxt
            seen += 1
        return c

    # ---------------- permissions
    def user_groups(self, user: Optional[User]) -> set:
        return set(user.groups) if user else set()

    def can_view_space(self, user: Optional[User], space: Space) -> bool:
        if user is None:
            return space.anonymous_access
        return user.account_id in space.view_users or bool(user.groups & space.view_groups)

    def restriction_chain(self, c: Content) -> list[Content]:
        root = self.page_like_root(c)
        return self.ancestors(root) + [root]

    def can_view(self, user: Optional[User], c: Content, in_index: bool = False) -> bool:
        """`in_index`: as the search index sees it, which keeps listing purged content for a while (purges.py)."""
        if self.purges.purged and self.purges.hides(c, in_index):
            return False
        key = (user.account_id if user else None, c.id)
        hit = self._vis_cache.get(key)
        if hit is not None:
            return hit
        sp = self.spaces.get(c.space_key)
        ok = sp is not None and self.can_view_space(user, sp)
        if ok:
            for node in self.restriction_chain(c):
                if node.read_users is None and node.read_groups is None:
                    continue
                if user is None:
                    ok = False
                    break
                if user.account_id in (node.read_users or ()) or (user.groups & (node.read_groups or set())):
                    continue
                ok = False
                break
        self._vis_cache[key] = ok
        return ok

    def effective_access(self, c: Content) -> dict:
        """Space view permission ∩ page read restriction ∩ every ancestor's read restriction."""
        sp = self.spaces[c.space_key]
        users = [u for u in self.users.values() if self.can_view(u, c)]
        groups = set(sp.view_groups)
        for node in self.restriction_chain(c):
            if node.read_users is None and node.read_groups is None:
                continue
            groups &= set(node.read_groups or ())
        return {
            "content_id": c.id,
            "space_key": sp.key,
            "anonymous": self.can_view(None, c),
            "users": sorted(u.account_id for u in users),
            "usernames": sorted(u.username for u in users),
            "groups": sorted(groups),
            "restricted": any(n.read_users is not None or n.read_groups is not None for n in self.restriction_chain(c)),
        }

    # ---------------- bodies
    def storage(self, c: Content) -> str:
        if c.body is None:
            c.body, c.view = self.body_renderer(self, c)
            if c.view is None:
                c.view = _GENERATED_VIEW
        return c.body

    def view_html(self, c: Content) -> str:
        v = c.view
        if v is None or v is _GENERATED_VIEW:
            if c.body is None:
                self.storage(c)
                v = c.view
            from .bodies import storage_to_view
            # a generated body renders its view with the site (user names); one set through /__admin, as before, without
            c.view = v = storage_to_view(c.body, self) if v is _GENERATED_VIEW else storage_to_view(c.body)
        return v

    # ---------------- queries
    def iter_type(self, types: Iterable[str]):
        types = set(types)
        return (c for c in self.content.values() if c.type in types)

    def summary(self) -> dict:
        by = {}
        for c in self.content.values():
            if not (self.purges.purged and self.purges.hides(c, False)):  # purged after a listing: gone
                by.setdefault(c.type, []).append(c)
        def ids(t, status=None):
            return [c.id for c in by.get(t, []) if status is None or c.status == status]
        out = {
            "profile": self.profile,
            "clock": self.clock.iso(),
            "time_zone": self.time_zone,
            "generation": self.generation,
            "counts": {
                "spaces": len(self.spaces), "users": len(self.users), "groups": len(self.groups),
                "audit": len(self.audit),
                **{t + "s": len(v) for t, v in by.items()},
                "pages_current": len(ids("page", "current")),
                "blogposts_current": len(ids("blogpost", "current")),
            },
            "spaces": [{"key": s.key, "id": s.id, "type": s.type, "status": s.status, "homepage_id": s.homepage_id,
                        "anonymous_access": s.anonymous_access} for s in self.spaces.values()],
            "page_ids": ids("page"),
            "blogpost_ids": ids("blogpost"),
            "comment_ids": ids("comment"),
            "attachment_ids": ids("attachment"),
            **{t + "_ids": ids(t) for t in ("folder", "whiteboard", "database", "embed") if t in by},
            "status": {c.id: c.status for c in self.content.values() if c.status != "current"},
            "restricted_ids": [c.id for c in self.content.values() if c.read_users is not None or c.read_groups is not None],
            "users": [{"account_id": u.account_id, "username": u.username, "user_key": u.user_key, "email": u.email,
                       "display_name": u.display_name, "groups": sorted(u.groups), "site_admin": u.site_admin}
                      for u in self.users.values()],
            "groups": [{"id": g.id, "name": g.name, "members": list(g.members)} for g in self.groups.values()],
            "labels": sorted(self.label_ids),
            "listing_purges": self.purges.summary(),
        }
        return out
