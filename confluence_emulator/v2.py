"""REST v2 family (`/wiki/api/v2`): cursor pagination, Link header, v2 error envelope."""
from __future__ import annotations

from werkzeug.routing import Map, Rule

from .errors import ApiError
from .listing import int_param, keyset, sort_keyfn, v2_list, walk_key
from .shapes import attachment_v2, comment_v2, label_v2, page_v2, space_v2, version_v2

LIST_BODY_FORMATS = {"storage", "atlas_doc_format"}
SINGLE_BODY_FORMATS = LIST_BODY_FORMATS | {"view", "export_view", "anonymous_export_view", "styled_view", "editor"}


def url_map():
    R = Rule
    return Map([
        R("/spaces", endpoint="spaces"), R("/spaces/<sid>", endpoint="space_get"),
        R("/spaces/<sid>/pages", endpoint="space_pages"), R("/spaces/<sid>/blogposts", endpoint="space_blogposts"),
        R("/spaces/<sid>/permissions", endpoint="space_permissions"),
        R("/pages", endpoint="pages"), R("/pages/<cid>", endpoint="page_get"),
        R("/pages/<cid>/attachments", endpoint="page_attachments"), R("/pages/<cid>/footer-comments", endpoint="page_footer"),
        R("/pages/<cid>/inline-comments", endpoint="page_inline"), R("/pages/<cid>/labels", endpoint="page_labels"),
        R("/pages/<cid>/ancestors", endpoint="page_ancestors"), R("/pages/<cid>/versions", endpoint="page_versions"),
        R("/pages/<cid>/children", endpoint="page_children"),
        R("/blogposts", endpoint="blogposts"), R("/blogposts/<cid>", endpoint="blogpost_get"),
        R("/blogposts/<cid>/attachments", endpoint="blogpost_attachments"), R("/blogposts/<cid>/footer-comments", endpoint="blogpost_footer"),
        R("/blogposts/<cid>/inline-comments", endpoint="blogpost_inline"), R("/blogposts/<cid>/labels", endpoint="blogpost_labels"),
        R("/blogposts/<cid>/versions", endpoint="blogpost_versions"),
        R("/attachments", endpoint="attachments"), R("/attachments/<aid>", endpoint="attachment_get"),
        R("/footer-comments", endpoint="footer_comments"), R("/footer-comments/<cid>", endpoint="footer_get"),
        R("/footer-comments/<cid>/children", endpoint="footer_children"),
        R("/inline-comments", endpoint="inline_comments"), R("/inline-comments/<cid>", endpoint="inline_get"),
        R("/inline-comments/<cid>/children", endpoint="inline_children"),
        R("/labels", endpoint="labels"),
    ], strict_slashes=False)


HANDLERS = {}


def handler(name):
    def deco(fn):
        HANDLERS[name] = fn
        return fn
    return deco


# ------------------------------------------------------------------ helpers
def csv_param(ctx, name, maxn=None):
    vals = []
    for raw in ctx.args.getlist(name):
        vals += [x.strip() for x in raw.split(",") if x.strip()]
    if maxn is not None and len(vals) > maxn:
        raise ApiError(400, "Too many values for '%s' (max %d)" % (name, maxn), code="INVALID_REQUEST_PARAMETER")
    return vals


def limit_param(ctx, default=25):
    limit = int_param(ctx, "limit", default, v2=True)
    if limit < 1 or limit > 250:
        raise ApiError(400, "limit must be between 1 and 250", code="INVALID_REQUEST_PARAMETER")
    return limit


def enum_param(ctx, name, allowed, default=None):
    v = ctx.args.get(name)
    if v is None or v == "":
        return default
    if v not in allowed:
        raise ApiError(400, "Invalid value '%s' for parameter '%s'" % (v, name), code="INVALID_REQUEST_PARAMETER")
    return v


def statuses(ctx, allowed, default):
    vals = csv_param(ctx, "status")
    for v in vals:
        if v not in allowed:
            raise ApiError(400, "Invalid status value '%s'" % v, code="INVALID_REQUEST_PARAMETER")
    return set(vals) if vals else set(default)


def visible(ctx, c):
    return ctx.site.can_view(ctx.user, c)


def get_visible(ctx, cid, type_, statuses_=("current", "archived", "trashed")):
    c = ctx.site.content.get(cid)
    if c is None or c.type != type_ or not visible(ctx, c) or c.status not in statuses_:
        raise ApiError(404, "Cannot find [%s] entity with id [%s]" % ({"blogpost": "blogpost"}.get(type_, type_), cid))
    return c


def paged(ctx, items, ser, sort=None, default_limit=25, body=False):
    limit = limit_param(ctx, default_limit)
    sig, keyfn = sort_keyfn(sort)
    cur = ctx.args.get("cursor")
    page, nxt = keyset(items, keyfn, cur, limit, sig)
    if nxt and ctx.app.faults.empty_page_once(walk_key(ctx), not cur):
        return v2_list(ctx, [], cur or nxt)
    res = [ser(x) for x in page]
    ctx.n_items += len(res)
    if body:
        ctx.n_body_items += len(res)
    return v2_list(ctx, res, nxt)


PAGE_SORTS = {"id", "-id", "created-date", "-created-date", "modified-date", "-modified-date", "title", "-title"}


def content_list(ctx, type_, space_ids=None, extra_filter=None):
    site = ctx.site
    if type_ == "page":
        sts = statuses(ctx, {"current", "archived", "deleted", "trashed"}, {"current", "archived"})
        sort = enum_param(ctx, "sort", PAGE_SORTS)
    else:
        sts = statuses(ctx, {"current", "deleted", "trashed"}, {"current"})
        sort = enum_param(ctx, "sort", PAGE_SORTS - {"title", "-title"})
    ids = set(csv_param(ctx, "id", 250))
    sids = space_ids if space_ids is not None else set(csv_param(ctx, "space-id", 100))
    title = ctx.args.get("title")
    fmt = enum_param(ctx, "body-format", LIST_BODY_FORMATS)
    spaces_by_key = {s.key: str(s.id) for s in site.spaces.values()}
    # with ids, from the ids (as Confluence answers from its index), not by scanning the site
    pool = [site.content[i] for i in ids if i in site.content] if ids else site.content.values()
    items = [c for c in pool if c.type == type_ and c.status in sts and (not ids or c.id in ids)
             and (not sids or spaces_by_key.get(c.space_key) in sids) and (title is None or c.title == title)
             and (extra_filter is None or extra_filter(c)) and visible(ctx, c)]
    return paged(ctx, items, lambda c: page_v2(ctx, c, fmt), sort, body=bool(fmt))


# ------------------------------------------------------------------ spaces
@handler("spaces")
def spaces(ctx):
    site = ctx.site
    ids = set(csv_param(ctx, "ids", 250))
    keys = set(csv_param(ctx, "keys", 250))
    type_ = enum_param(ctx, "type", {"global", "collaboration", "knowledge_base", "personal", "system", "onboarding", "xflow_sample_space"})
    status = enum_param(ctx, "status", {"current", "archived"})
    sort = enum_param(ctx, "sort", {"id", "-id", "key", "-key", "name", "-name"})
    dfmt = enum_param(ctx, "description-format", {"plain", "view"})
    items = [s for s in site.spaces.values() if (not ids or str(s.id) in ids) and (not keys or s.key in keys)
             and (type_ is None or s.type == type_) and (status is None or s.status == status) and site.can_view_space(ctx.user, s)]
    limit = limit_param(ctx)
    s = sort or "id"
    desc = s.startswith("-")
    f = s.lstrip("-")
    from .listing import desc_str
    if f == "id":
        keyfn = lambda sp: [-sp.id] if desc else [sp.id]
    else:
        attr = (lambda sp: sp.key) if f == "key" else (lambda sp: sp.name.lower())
        keyfn = (lambda sp: [desc_str(attr(sp)), -sp.id]) if desc else (lambda sp: [attr(sp), sp.id])
    cur = ctx.args.get("cursor")
    page, nxt = keyset(items, keyfn, cur, limit, "spaces:" + s)
    if nxt and ctx.app.faults.empty_page_once(walk_key(ctx), not cur):
        return v2_list(ctx, [], cur or nxt)
    res = [space_v2(ctx, sp, dfmt) for sp in page]
    ctx.n_items += len(res)
    return v2_list(ctx, res, nxt)


def get_space(ctx, sid):
    s = ctx.site.space_by_id(sid)
    if s is None or not ctx.site.can_view_space(ctx.user, s):
        raise ApiError(404, "Cannot find [space] entity with id [%s]" % sid)
    return s


@handler("space_get")
def space_get(ctx, sid):
    s = get_space(ctx, sid)
    return space_v2(ctx, s, enum_param(ctx, "description-format", {"plain", "view"}))


@handler("space_pages")
def space_pages(ctx, sid):
    s = get_space(ctx, sid)
    depth = enum_param(ctx, "depth", {"all", "root"}, "all")
    flt = (lambda c: c.parent_id is None) if depth == "root" else None
    return content_list(ctx, "page", {str(s.id)}, flt)


@handler("space_blogposts")
def space_blogposts(ctx, sid):
    s = get_space(ctx, sid)
    return content_list(ctx, "blogpost", {str(s.id)})


@handler("space_permissions")
def space_permissions(ctx, sid):
    s = get_space(ctx, sid)
    items = []
    n = s.id * 100
    for g in sorted(s.view_groups):
        grp = ctx.site.groups.get(g)
        if grp:
            n += 1
            items.append((n, {"id": str(n), "principal": {"type": "group", "id": grp.id}, "operation": {"key": "read", "targetType": "space"}}))
    for u in sorted(s.view_users):
        n += 1
        items.append((n, {"id": str(n), "principal": {"type": "user", "id": u}, "operation": {"key": "read", "targetType": "space"}}))
    if s.anonymous_access:
        n += 1
        items.append((n, {"id": str(n), "principal": {"type": "anonymous", "id": "anonymous"}, "operation": {"key": "read", "targetType": "space"}}))

    class W:
        __slots__ = ("num", "d")

        def __init__(self, num, d):
            self.num, self.d = num, d
    return paged(ctx, [W(a, b) for a, b in items], lambda w: w.d)


# ------------------------------------------------------------------ pages / blogposts
@handler("pages")
def pages(ctx):
    return content_list(ctx, "page")


@handler("blogposts")
def blogposts(ctx):
    return content_list(ctx, "blogpost")


def single(ctx, cid, type_):
    sts = set(csv_param(ctx, "status")) or {"current", "archived", "trashed"}
    c = get_visible(ctx, cid, type_, sts)
    fmt = enum_param(ctx, "body-format", SINGLE_BODY_FORMATS)
    d = page_v2(ctx, c, fmt)
    site = ctx.site
    if ctx.args.get("include-labels") == "true":
        d["labels"] = {"results": [label_v2(site, l) for l in c.labels[:50]], "meta": {"hasMore": False},
                       "_links": {"self": "/wiki/api/v2/%ss/%s/labels" % (type_, c.id)}}
    if ctx.args.get("include-versions") == "true":
        vs = [version_v2(c, v) for v in reversed(c.versions)][:50]
        d["versions"] = {"results": vs, "meta": {"hasMore": len(c.versions) > 50},
                         "_links": {"self": "/wiki/api/v2/%ss/%s/versions" % (type_, c.id)}}
    if ctx.args.get("include-version", "true") == "false":
        d.pop("version", None)
    d["_links"]["base"] = ctx.links_base
    ctx.n_items += 1
    return d


@handler("page_get")
def page_get(ctx, cid):
    return single(ctx, cid, "page")


@handler("blogpost_get")
def blogpost_get(ctx, cid):
    return single(ctx, cid, "blogpost")


@handler("page_ancestors")
def page_ancestors(ctx, cid):
    c = get_visible(ctx, cid, "page")
    limit = limit_param(ctx)
    anc = ctx.site.ancestors(c)[-limit:]
    return {"results": [{"id": a.id, "type": a.type} for a in anc]}


@handler("page_children")
def page_children(ctx, cid):
    c = get_visible(ctx, cid, "page")
    items = [p for p in ctx.site.children(c, "page") if p.status == "current" and visible(ctx, p)]
    return paged(ctx, items, lambda p: {"id": p.id, "status": p.status, "title": p.title, "spaceId": str(ctx.site.spaces[p.space_key].id),
                                        "childPosition": p.position or 0})


def versions(ctx, cid, type_):
    c = get_visible(ctx, cid, type_)
    sort = enum_param(ctx, "sort", {"modified-date", "-modified-date"}, "-modified-date")

    class V:
        __slots__ = ("num", "v")

        def __init__(self, v):
            self.v, self.num = v, v.number
    items = [V(v) for v in c.versions]
    key = "-id" if sort.startswith("-") else "id"
    ser = lambda w: dict(version_v2(c, w.v), **{"page" if type_ == "page" else "blogpost": {"id": c.id, "title": c.title}})
    return paged(ctx, items, ser, key)


@handler("page_versions")
def page_versions(ctx, cid):
    return versions(ctx, cid, "page")


@handler("blogpost_versions")
def blogpost_versions(ctx, cid):
    return versions(ctx, cid, "blogpost")


# ------------------------------------------------------------------ attachments
ATT_SORTS = {"created-date", "-created-date", "modified-date", "-modified-date"}


def attachment_list(ctx, container=None):
    site = ctx.site
    sts = statuses(ctx, {"current", "archived", "trashed"}, {"current", "archived"})
    mt = ctx.args.get("mediaType")
    fn = ctx.args.get("filename")
    sort = enum_param(ctx, "sort", ATT_SORTS)
    src = site.children(container, "attachment") if container is not None else (c for c in site.content.values() if c.type == "attachment")
    items = [a for a in src if a.status in sts and (mt is None or a.media_type == mt) and (fn is None or a.filename == fn) and visible(ctx, a)]
    return paged(ctx, items, lambda a: attachment_v2(ctx, a), sort, default_limit=50)


@handler("attachments")
def attachments(ctx):
    return attachment_list(ctx)


@handler("page_attachments")
def page_attachments(ctx, cid):
    return attachment_list(ctx, get_visible(ctx, cid, "page"))


@handler("blogpost_attachments")
def blogpost_attachments(ctx, cid):
    return attachment_list(ctx, get_visible(ctx, cid, "blogpost"))


@handler("attachment_get")
def attachment_get(ctx, aid):
    a = ctx.site.content.get(aid if aid.startswith("att") else "att" + aid)
    if a is None or a.type != "attachment" or not visible(ctx, a):
        raise ApiError(404, "Cannot find [attachment] entity with id [%s]" % aid)
    d = attachment_v2(ctx, a)
    d["_links"]["base"] = ctx.links_base
    return d


# ------------------------------------------------------------------ comments
COMMENT_SORTS = {"created-date", "-created-date", "modified-date", "-modified-date"}


def comment_list(ctx, location, container=None, roots_only=True, parent=None, model="page"):
    site = ctx.site
    fmt = enum_param(ctx, "body-format", LIST_BODY_FORMATS)
    sort = enum_param(ctx, "sort", COMMENT_SORTS)
    sts = statuses(ctx, {"current", "deleted", "trashed", "historical", "draft"}, {"current"})
    res_st = set(csv_param(ctx, "resolution-status"))
    if parent is not None:
        src = [c for c in site.children(site.content[parent.container_id], "comment") if c.parent_comment_id == parent.id]
    elif container is not None:
        src = site.children(container, "comment")
    else:
        src = (c for c in site.content.values() if c.type == "comment")
    items = [c for c in src if c.location == location and c.status in sts and (not roots_only or c.parent_comment_id is None)
             and (not res_st or c.resolution in res_st) and visible(ctx, c)]
    return paged(ctx, items, lambda c: comment_v2(ctx, c, fmt, model), sort, body=bool(fmt))


@handler("page_footer")
def page_footer(ctx, cid):
    return comment_list(ctx, "footer", get_visible(ctx, cid, "page"))


@handler("blogpost_footer")
def blogpost_footer(ctx, cid):
    return comment_list(ctx, "footer", get_visible(ctx, cid, "blogpost"))


@handler("page_inline")
def page_inline(ctx, cid):
    return comment_list(ctx, "inline", get_visible(ctx, cid, "page"), model="inline")


@handler("blogpost_inline")
def blogpost_inline(ctx, cid):
    return comment_list(ctx, "inline", get_visible(ctx, cid, "blogpost"), model="inline")


@handler("footer_comments")
def footer_comments(ctx):
    return comment_list(ctx, "footer", roots_only=False, model="footer")


@handler("inline_comments")
def inline_comments(ctx):
    return comment_list(ctx, "inline", roots_only=False, model="inline")


def get_comment(ctx, cid, location):
    c = ctx.site.content.get(cid)
    if c is None or c.type != "comment" or c.location != location or not visible(ctx, c):
        raise ApiError(404, "Cannot find [comment] entity with id [%s]" % cid)
    return c


@handler("footer_get")
def footer_get(ctx, cid):
    c = get_comment(ctx, cid, "footer")
    return comment_v2(ctx, c, enum_param(ctx, "body-format", SINGLE_BODY_FORMATS), "footer")


@handler("inline_get")
def inline_get(ctx, cid):
    c = get_comment(ctx, cid, "inline")
    return comment_v2(ctx, c, enum_param(ctx, "body-format", SINGLE_BODY_FORMATS), "inline")


@handler("footer_children")
def footer_children(ctx, cid):
    return comment_list(ctx, "footer", parent=get_comment(ctx, cid, "footer"), roots_only=False, model="children")


@handler("inline_children")
def inline_children(ctx, cid):
    return comment_list(ctx, "inline", parent=get_comment(ctx, cid, "inline"), roots_only=False, model="children")


# ------------------------------------------------------------------ labels
class _L:
    __slots__ = ("num", "name")

    def __init__(self, name, lid):
        self.name, self.num = name, int(lid)


def label_list(ctx, names):
    prefix = set(csv_param(ctx, "prefix"))
    sort = enum_param(ctx, "sort", {"id", "-id", "name", "-name", "created-date", "-created-date"})
    items = [_L(n, ctx.site.label_id(n)) for n in names if not prefix or "global" in prefix]
    return paged(ctx, items, lambda l: label_v2(ctx.site, l.name), "-id" if sort and sort.startswith("-") else "id")


@handler("page_labels")
def page_labels(ctx, cid):
    return label_list(ctx, get_visible(ctx, cid, "page").labels)


@handler("blogpost_labels")
def blogpost_labels(ctx, cid):
    return label_list(ctx, get_visible(ctx, cid, "blogpost").labels)


@handler("labels")
def labels(ctx):
    ids = set(csv_param(ctx, "label-id"))
    names = [n for n in ctx.site.label_ids if not ids or ctx.site.label_id(n) in ids]
    return label_list(ctx, names)
