"""The Cloud content tree beyond pages: folders, whiteboards, databases and embeds (Smart Links).

Confluence Cloud's tree holds these since 2023-2024 (Atlassian RFC-23, RFC-52). They are off unless the emulator
is started with `content_tree="rich"` (`--content-tree rich`): `build_content_tree` then adds them to a generated
Cloud site after everything else, from its own random stream and with new ids, so the pages, bodies and ids of the
plain site stay as they are. Data Center has none of these types.

Routes served here (added to the v1/v2 maps by `add_rules`):
* v2 `/{folders|whiteboards|databases|embeds}/{id}`, and `ancestors`, `direct-children`, `descendants` of each,
  plus `/pages/{id}/direct-children` and `/pages/{id}/descendants`;
* v1 `content/{id}/descendant/{type}`.
"""
from __future__ import annotations

import random

from werkzeug.routing import Rule

from . import v1 as v1_api
from . import v2 as v2_api
from .clock import fmt_utc
from .errors import ApiError
from .listing import int_param
from .shapes import content_v1, parse_expand, version_v2
from .site import TREE_NODE_TYPES, Content, Version

TREE_TYPES = ("folder", "whiteboard", "database", "embed")
CONTENT_TREE_MODES = ("pages", "rich")
DAY = 86400 * 1000
_V2_PLURAL = {"folders": "folder", "whiteboards": "whiteboard", "databases": "database", "embeds": "embed", "pages": "page"}
_EMBED_HOSTS = ["https://www.figma.com/file/%s", "https://www.youtube.com/watch?v=%s", "https://docs.google.com/document/d/%s",
                "https://miro.com/app/board/%s"]
_WHITEBOARD_TITLES = ["Retro board", "Architecture sketch", "Planning canvas", "Journey map"]
_DATABASE_TITLES = ["Release tracker", "Vendor list", "Risk register", "OKR table"]
_FOLDER_TITLES = ["Team handbook", "Archive", "Projects", "Meeting notes", "Specs", "Drafts", "Customers", "Playbooks"]


# ------------------------------------------------------------------ generation
def build_content_tree(site, seed: int) -> dict:
    """Adds folders (nested, some read-restricted), whiteboards, databases and embeds to a generated Cloud site.

    A share of each global space's top-level pages moves under folders, with their subtrees; the new nodes take
    ids after every existing one. Returns {type: [ids]} of what was added."""
    rng = random.Random(seed * 7919 + 104729)
    now = site.clock.now_ms()
    by_name = {u.username: u for u in site.users.values()}
    admin = by_name["admin"]
    authors = [u for u in site.users.values() if u.username not in ("admin", "reader", "automation")]
    pool = authors + [admin]
    added = {t: [] for t in TREE_TYPES}

    def next_position(parent):  # among the parent's tree children (its kids also hold comments and attachments)
        return sum(1 for i in site.kids.get(parent.id, ()) if site.content[i].type in TREE_NODE_TYPES)

    def node(type_, title, space_key, parent):
        a = rng.choice(pool)
        created = now - rng.randint(2 * DAY, 300 * DAY) + rng.randint(0, 999)
        c = Content(id=str(site.new_id(rng.randint(1, 3))), type=type_, status="current", title=title, space_key=space_key,
                    parent_id=parent.id, position=next_position(parent), author=a.account_id, owner=a.account_id,
                    body="", view="")
        c.num = int(c.id)
        c.versions = [Version(1, created, a.account_id, "", False)]
        t = created
        for k in range(2, 2 + rng.choice([0, 0, 1, 2])):
            t += rng.randint(60_000, 20 * DAY)
            if t >= now - 60_000:
                break
            c.versions.append(Version(k, t, rng.choice(pool).account_id, "", rng.random() < 0.3))
        if type_ == "embed":
            c.embed_url = rng.choice(_EMBED_HOSTS) % ("%016x" % rng.getrandbits(64))
        site.add(c)
        added[type_].append(c.id)
        return c

    def move(page, parent):
        site.storage(page)  # its body keeps naming the page it was generated under, as in the plain site
        site.unlink(page)
        page.parent_id = parent.id
        page.position = next_position(parent)
        site.kids.setdefault(parent.id, []).append(page.id)

    glob = [s for s in site.spaces.values() if s.type == "global"]
    n_title = 0
    for si, sp in enumerate(glob):
        home = site.content[sp.homepage_id]
        pages = [c for c in site.content.values() if c.type == "page" and c.space_key == sp.key and c.id != home.id
                 and c.status == "current"]
        top_pages = [c for c in pages if c.parent_id == home.id]
        folders = []
        for k in range(min(4, 1 + len(pages) // 12)):
            n_title += 1
            top = node("folder", "%s %d" % (_FOLDER_TITLES[n_title % len(_FOLDER_TITLES)], n_title), sp.key, home)
            folders.append(top)
            parent = top
            for depth in range(rng.choice([0, 1, 1, 2])):  # nested folders, up to three levels
                n_title += 1
                parent = node("folder", "%s %d" % (_FOLDER_TITLES[n_title % len(_FOLDER_TITLES)], n_title), sp.key, parent)
                folders.append(parent)
        # a share of the top-level pages (with their subtrees) now lives under folders: one in each top folder
        # first, the rest anywhere
        tops = [f for f in folders if f.parent_id == home.id]
        movable = [c for c in top_pages if rng.random() < 0.5]
        movable += [c for c in top_pages if c not in movable][:max(0, len(tops) - len(movable))]
        for i, p in enumerate(movable):
            move(p, tops[i] if i < len(tops) else rng.choice(folders))
        # a folder deeper in the page tree, holding a leaf page moved there from elsewhere in the space
        inner = [c for c in pages if c.parent_id != home.id and c.parent_id is not None]
        if inner:
            host = rng.choice(inner)
            n_title += 1
            sub = node("folder", "%s %d" % (_FOLDER_TITLES[n_title % len(_FOLDER_TITLES)], n_title), sp.key, host)
            folders.append(sub)
            leaves = [c for c in pages if not site.kids.get(c.id) and c.id != host.id]
            if leaves:
                move(rng.choice(leaves), sub)
        # whiteboards, databases and embeds under pages and folders
        hosts = folders + pages[:20]
        for type_, titles in (("whiteboard", _WHITEBOARD_TITLES), ("database", _DATABASE_TITLES), ("embed", None)):
            for j in range(1 + (si == 0)):
                n_title += 1
                parent = folders[j % len(folders)] if j == 0 else rng.choice(hosts)
                title = "%s %d" % (titles[n_title % len(titles)], n_title) if titles else "Embed %d" % n_title
                node(type_, title, sp.key, parent)
        # restrictions: the first space's first top folder is readable by two people and the admins' group (the
        # reader cannot see it or anything under it); a nested folder of the second space is readable by two groups
        if si == 0:
            f = folders[0]
            f.read_users = {admin.account_id, authors[0].account_id}
            f.read_groups = {"confluence-administrators"}
            f.update_users = {admin.account_id}
            f.update_groups = set()
        elif si == 1:
            f = next((x for x in folders if site.content[x.parent_id].type == "folder"), folders[-1])
            f.read_users = set()
            f.read_groups = {"engineering", "confluence-administrators"}
        if si in (0, 1) and not any(site.content[i].type == "page" and site.content[i].read_users is None
                                    for i in site.kids.get(f.id, ())):
            # the restricted folder holds an unrestricted page, so only the folder's rule narrows who reads it
            leaves = [c for c in pages if not site.kids.get(c.id) and c.read_users is None and c.parent_id != f.id]
            if leaves:
                move(rng.choice(leaves), f)
        if si == 2 and len(folders) > 1:
            f = folders[1]  # update-only: does not narrow who can read
            f.update_users = {admin.account_id}
            f.update_groups = set()
    site.touch()
    return added


# ------------------------------------------------------------------ v2 shapes
def webui_path(c) -> str:
    return "/spaces/%s/%s/%s" % (c.space_key, c.type, c.id)


def node_v2(ctx, c) -> dict:
    """FolderSingle / WhiteboardSingle / DatabaseSingle / SmartLinkSingle (Cloud v2 spec)."""
    site = ctx.site
    parent = site.content.get(c.parent_id) if c.parent_id else None
    d = {"id": c.id, "type": c.type, "status": c.status, "title": c.title}
    if parent is not None:
        d["parentId"] = parent.id
        d["parentType"] = parent.type
    d["position"] = c.position or 0
    d["authorId"] = c.versions[0].by
    d["ownerId"] = c.owner or c.author
    d["createdAt"] = fmt_utc(c.created)  # an ISO string as the spec says (md2conf #290 saw epoch ms on folders)
    if c.type == "embed":
        d["embedUrl"] = c.embed_url
    d["spaceId"] = str(site.spaces[c.space_key].id)
    d["version"] = version_v2(c, c.version)
    d["_links"] = {"webui": webui_path(c), "base": ctx.links_base}
    if c.type == "whiteboard":
        d["_links"]["editui"] = webui_path(c) + "/edit"
    return d


def _get_node(ctx, kind, cid):
    type_ = _V2_PLURAL[kind]
    c = ctx.site.content.get(cid)
    if c is None or c.type != type_ or c.status not in ("current", "archived") or not ctx.site.can_view(ctx.user, c):
        raise ApiError(404, "Cannot find [%s] entity with id [%s]" % (type_, cid))
    return c


class _Ordered:
    """A node in tree order for keyset paging: `num` is its rank in the listing (the default order)."""
    __slots__ = ("num", "c", "depth", "created", "modified", "title")

    def __init__(self, rank, c, depth=1):
        self.num, self.c, self.depth = rank, c, depth
        self.created, self.modified, self.title = c.created, c.modified, c.title


def _tree_children(ctx, c):
    out = []
    for i in ctx.site.kids.get(c.id, ()):
        x = ctx.site.content.get(i)
        if x is not None and x.type in TREE_NODE_TYPES and x.status in ("current", "archived") and ctx.site.can_view(ctx.user, x):
            out.append(x)
    out.sort(key=lambda x: (x.position or 0, x.num))
    return out


_CHILD_SORTS = {"created-date", "-created-date", "id", "-id", "modified-date", "-modified-date", "child-position",
                "-child-position", "title", "-title"}


@v2_api.handler("tree_get")
def tree_get(ctx, kind, cid):
    c = _get_node(ctx, kind, cid)
    ctx.n_items += 1
    return node_v2(ctx, c)


@v2_api.handler("tree_ancestors")
def tree_ancestors(ctx, kind, cid):
    """`/{type}/{id}/ancestors`: top-to-bottom `{id, type}`, not cursor-paged (the last `limit` ancestors)."""
    c = _get_node(ctx, kind, cid)
    limit = v2_api.limit_param(ctx)
    anc = ctx.site.ancestors(c)[-limit:]
    ctx.n_items += len(anc)
    return {"results": [{"id": a.id, "type": a.type} for a in anc]}


@v2_api.handler("tree_direct_children")
def tree_direct_children(ctx, kind, cid):
    """`/{type}/{id}/direct-children`: ChildrenResponse of every type, by child position unless `sort` says."""
    c = _get_node(ctx, kind, cid)
    sort = v2_api.enum_param(ctx, "sort", _CHILD_SORTS) or "child-position"
    kids = _tree_children(ctx, c)
    if sort.lstrip("-") == "child-position":
        items = [_Ordered(i, x) for i, x in enumerate(kids)]
        sort = "-id" if sort.startswith("-") else "id"
    else:
        items = [_Ordered(x.num, x) for x in kids]
    space_id = str(ctx.site.spaces[c.space_key].id)
    return v2_api.paged(ctx, items, lambda w: {"id": w.c.id, "status": w.c.status, "title": w.c.title, "type": w.c.type,
                                               "spaceId": space_id, "childPosition": w.c.position or 0}, sort)


@v2_api.handler("tree_descendants")
def tree_descendants(ctx, kind, cid):
    """`/{type}/{id}/descendants`: DescendantsResponse down to `depth` (1-10, default 2), top to bottom."""
    c = _get_node(ctx, kind, cid)
    depth = int_param(ctx, "depth", 2, v2=True)
    if depth < 1 or depth > 10:
        raise ApiError(400, "depth must be between 1 and 10", code="INVALID_REQUEST_PARAMETER")
    items, level, frontier = [], 1, [c]
    while frontier and level <= depth:
        nxt = []
        for parent in frontier:
            for x in _tree_children(ctx, parent):
                items.append(_Ordered(len(items), x, level))
                nxt.append(x)
        frontier, level = nxt, level + 1
    return v2_api.paged(ctx, items, lambda w: {"id": w.c.id, "status": w.c.status, "title": w.c.title, "type": w.c.type,
                                               "parentId": w.c.parent_id, "depth": w.depth,
                                               "childPosition": w.c.position or 0}, "id")


# ------------------------------------------------------------------ v1
DC_UNKNOWN_TYPES = set(TREE_TYPES)


def dc_type_error(type_):
    """What Data Center answers when asked for a type it does not have (reported by LlamaIndex users, #19964)."""
    return ApiError(400, "No ContentTypeBinding found for type: %s" % type_)


@v1_api.handler("content_descendant_type")
def content_descendant_type(ctx, cid, type_):
    """v1 `content/{id}/descendant/{type}`: every visible descendant of that type, in tree order, offset-paged."""
    if ctx.dc and type_ in DC_UNKNOWN_TYPES:
        raise dc_type_error(type_)
    if type_ not in TREE_NODE_TYPES and type_ not in ("comment", "attachment"):
        raise ApiError(400, "Content type %s is not supported for descendants" % type_)
    c = v1_api.get_content(ctx, cid)
    site = ctx.site
    if type_ in ("comment", "attachment"):
        items = sorted((x for x in site.children(c, type_) if x.status == "current" and site.can_view(ctx.user, x)),
                       key=lambda x: x.num)
    else:
        items, stack = [], [c]
        while stack:
            parent = stack.pop()
            kids = [site.content[i] for i in site.kids.get(parent.id, ()) if i in site.content]
            kids = [x for x in kids if x.type in TREE_NODE_TYPES and x.status == "current" and site.can_view(ctx.user, x)]
            kids.sort(key=lambda x: (x.position or 0, x.num))
            items += [x for x in kids if x.type == type_]
            stack += reversed(kids)
    exp = parse_expand(ctx.args.get("expand", ""))
    return v1_api.offset_page(ctx, items, 25, 200, lambda x: content_v1(ctx, x, exp))


def add_rules(v1_map, v2_map):
    """Adds this module's routes to the app's v1 and v2 url maps."""
    kinds = "any(folders,whiteboards,databases,embeds)"
    with_pages = "any(folders,whiteboards,databases,embeds,pages)"
    for rule in (Rule("/<%s:kind>/<cid>" % kinds, endpoint="tree_get"),
                 Rule("/<%s:kind>/<cid>/ancestors" % kinds, endpoint="tree_ancestors"),
                 Rule("/<%s:kind>/<cid>/direct-children" % with_pages, endpoint="tree_direct_children"),
                 Rule("/<%s:kind>/<cid>/descendants" % with_pages, endpoint="tree_descendants")):
        v2_map.add(rule)
    v1_map.add(Rule("/content/<cid>/descendant/<type_>", endpoint="content_descendant_type"))
