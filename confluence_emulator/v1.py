"""REST v1 family (`/wiki/rest/api` on Cloud, `[context]/rest/api` on Data Center)."""
from __future__ import annotations

import time
from urllib.parse import unquote

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Response

from . import cql as cqlmod
from .encoding import EncodedList
from .errors import ApiError, gone
from .listing import int_param, v1_list, walk_key
from .pagination import decode_cursor, encode_cursor
from .shapes import (anonymous_v1, content_v1, content_v1_encoded, expand_key, group_v1, label_v1, parse_expand,
                     restriction_op_v1, space_v1, user_v1, webui)

DEPRECATION = {"Deprecation": "Wed, 1 Mar 2023",
               "Warning": '299 - "Deprecated API, will be removed on Mon, 31 Mar 2025" '
                          '"https://developer.atlassian.com/cloud/confluence/changelog/#CHANGE-864"'}
GONE_ON_GATEWAY = {"content_list", "content_get", "space_list", "space_get", "child_attachment", "child_comment",
                   "child_page", "content_labels", "content_child", "content_history"}
CLOUD_ONLY = {"system_info", "group_members_by_id", "search_user", "user_bulk"}
# Data Center endpoints newer than some supported releases: (major, minor) that added them (PEERS.md: Onyx reads
# space permissions over REST from 9.1 and over JSON-RPC before). An older `--dc-version` answers 404 as for
# any path it does not know.
DC_ADDED_IN = {"space_permissions": (9, 1)}
DC_ONLY = {"content_scan", "server_information", "group_member", "space_permissions", "user_list", "content_versions"}


def url_map():
    R = Rule
    return Map([
        R("/content", endpoint="content_list"),
        R("/content/search", endpoint="content_search"),
        R("/content/scan", endpoint="content_scan"),
        R("/content/<cid>", endpoint="content_get"),
        R("/content/<cid>/history", endpoint="content_history"),
        R("/experimental/content/<cid>/version", endpoint="content_versions"),
        R("/content/<cid>/child", endpoint="content_child"),
        R("/content/<cid>/child/attachment", endpoint="child_attachment"),
        R("/content/<cid>/child/attachment/<aid>/download", endpoint="attachment_download"),
        R("/content/<cid>/child/comment", endpoint="child_comment"),
        R("/content/<cid>/child/page", endpoint="child_page"),
        R("/content/<cid>/label", endpoint="content_labels"),
        R("/content/<cid>/restriction", endpoint="restriction"),
        R("/content/<cid>/restriction/byOperation", endpoint="restriction_by_op"),
        R("/content/<cid>/restriction/byOperation/<op>", endpoint="restriction_op"),
        R("/search", endpoint="search"),
        R("/search/user", endpoint="search_user"),
        R("/space", endpoint="space_list"),
        R("/space/<key>", endpoint="space_get"),
        R("/space/<key>/permissions", endpoint="space_permissions"),
        R("/group", endpoint="group_list"),
        R("/group/<gid>/membersByGroupId", endpoint="group_members_by_id"),
        R("/group/<name>/member", endpoint="group_member"),
        R("/audit", endpoint="audit"),
        R("/user/current", endpoint="user_current"),
        R("/user/anonymous", endpoint="user_anonymous"),
        R("/user", endpoint="user_get"),
        R("/user/bulk", endpoint="user_bulk"),
        R("/user/list", endpoint="user_list"),
        R("/settings/systemInfo", endpoint="system_info"),
        R("/server-information", endpoint="server_information"),
        R("/download/attachments/<cid>/<path:filename>", endpoint="web_download"),
    ], strict_slashes=False)


HANDLERS = {}


def handler(name):
    def deco(fn):
        def wrapped(ctx, **kw):
            if ctx.dc and name in CLOUD_ONLY or (not ctx.dc and name in DC_ONLY) \
                    or (ctx.dc and ctx.app.dc_version[:2] < DC_ADDED_IN.get(name, (0, 0))):
                raise ApiError(404, "null for uri: %s" % ctx.request.url)
            if ctx.surface == "gateway" and name in GONE_ON_GATEWAY:
                raise gone()
            out = fn(ctx, **kw)
            if ctx.surface == "site" and name in GONE_ON_GATEWAY:
                ctx.extra_headers.update(DEPRECATION)
            return out
        HANDLERS[name] = wrapped
        return fn
    return deco


# ------------------------------------------------------------------ helpers
def visible(ctx, c) -> bool:
    return ctx.site.can_view(ctx.user, c)


def get_content(ctx, cid, types=None):
    c = ctx.site.content.get(cid)
    if c is None or not visible(ctx, c) or (types and c.type not in types) or c.status == "deleted":
        raise ApiError(404, "No content found with id : ContentId{id=%s}" % cid)
    return c


def clamp_offset(ctx, default, cap):
    limit = int_param(ctx, "limit", default)
    start = int_param(ctx, "start", 0)
    if limit < 0:
        raise ApiError(400, "java.lang.IllegalArgumentException: limit cannot be less than zero")
    if start < 0:
        raise ApiError(400, "java.lang.IllegalArgumentException: start cannot be less than zero")
    if start > 100000:
        raise ApiError(400, "com.atlassian.confluence.api.service.exceptions.BadRequestException: Start of this size is no "
                            "longer supported, please use cursor-based pagination")
    return start, min(limit, cap)


def offset_page(ctx, items, default, cap, serialize):
    start, limit = clamp_offset(ctx, default, cap)
    page = items[start:start + limit]
    if ctx.app.faults.empty_page_once(walk_key(ctx), start == 0) and start + limit < len(items):
        page = []
    res = [serialize(x) for x in page]
    ctx.n_items += len(res)
    return v1_list(ctx, res, start, limit, start + limit < len(items))


def statuses(ctx, default=("current",)):
    raw = ctx.args.getlist("status")
    vals = []
    for r in raw:
        vals += [x.strip() for x in r.split(",") if x.strip()]
    if not vals:
        return set(default)
    if "any" in vals:
        return {"current", "trashed", "archived", "draft"}
    return set(vals)


# ------------------------------------------------------------------ content
@handler("content_list")
def content_list(ctx):
    site = ctx.site
    type_ = ctx.args.get("type", "page")
    space_key = ctx.args.get("spaceKey")
    title = ctx.args.get("title")
    sts = statuses(ctx)
    exp = parse_expand(ctx.args.get("expand", "space,history,version"))

    def listing():
        items = [c for c in site.content.values() if c.type == type_ and c.status in sts
                 and (space_key is None or c.space_key == space_key) and (title is None or c.title == title) and visible(ctx, c)]
        items.sort(key=lambda c: c.num)
        return items
    items = _listing_cache(ctx, ("content", type_, space_key, title, tuple(sorted(sts))), listing)
    if "body" in exp:
        ctx.n_body_items += min(len(items), int_param(ctx, "limit", 25))
    return offset_page(ctx, items, 25, 1000, lambda c: content_v1(ctx, c, exp))


@handler("content_get")
def content_get(ctx, cid):
    sts = statuses(ctx, default=("current", "archived"))
    c = ctx.site.content.get(cid)
    if c is None or not visible(ctx, c) or (c.status not in sts and not (c.status == "trashed" and "trashed" in sts)):
        raise ApiError(404, "No content found with id : ContentId{id=%s}" % cid)
    exp = parse_expand(ctx.args.get("expand", "space,history,version"))
    ctx.n_items += 1
    return content_v1(ctx, c, exp)


@handler("content_history")
def content_history(ctx, cid):
    from .shapes import history_v1
    c = get_content(ctx, cid)
    return history_v1(ctx, c, parse_expand(ctx.args.get("expand", "lastUpdated")))


@handler("content_versions")
def content_versions(ctx, cid):
    """DC `GET /rest/experimental/content/{id}/version`: the version history, newest first, offset-paged."""
    from .shapes import version_v1
    c = get_content(ctx, cid)
    return offset_page(ctx, list(reversed(c.versions)), 200, 200, lambda v: version_v1(ctx, c, v))


@handler("content_child")
def content_child(ctx, cid):
    c = get_content(ctx, cid)
    exp = parse_expand(ctx.args.get("expand", ""))
    return content_v1(ctx, c, {"children": exp})["children"]


def _search_caps(ctx, exp):
    caps = ctx.app.search_caps
    bodies = set(exp.get("body", {}))
    if bodies & {"export_view", "styled_view"}:
        return caps["export_view"]
    if "body" in exp:
        return caps["body"]
    if exp:
        return caps["expand"]
    return caps["none"]


_CLOCK_FUNCS = __import__("re").compile(r"(?i)\b(now|startof\w*|endof\w*|currentuser)\s*\(")


LISTING_CACHE_SIZE = 256


def _listing_cache(ctx, key, compute):
    """Memoise a full listing across the pages of one walk (a real Confluence answers page N from its index,
    not by re-scanning the site). The key holds everything the answer depends on: the caller, the admin
    mutation generation, the clock and the content count, so any change to the site starts afresh."""
    app = ctx.app
    cache = app.__dict__.setdefault("_listing_cache", {})
    # the clock only matters to queries with date functions (`now()`, `startOfDay()`…): without --real-time it
    # moves only with admin calls, which bump the generation anyway
    clock = ctx.site.clock.now_ms() if _CLOCK_FUNCS.search(repr(key)) else None
    full = (key, ctx.user.account_id if ctx.user else None, getattr(app, "generation", 0), ctx.site.generation, clock,
            len(ctx.site.content))
    hit = cache.pop(full, None)
    if hit is None:
        hit = compute()
        while len(cache) >= LISTING_CACHE_SIZE:  # least recently used first: one-off look-ups must not evict walks
            cache.pop(next(iter(cache)))
    cache[full] = hit
    return hit


def _modified_between(ctx, low_minute, high_minute):
    """The content modified from ``low_minute`` to ``high_minute`` (epoch minutes, either None), from an index
    by modification time kept until the site changes: a first sync's many `lastmodified` windows (and their
    counts) each cost a search of the index, as on Confluence, not a scan of the site."""
    import bisect

    app, site = ctx.app, ctx.site
    key = (getattr(app, "generation", 0), site.generation, len(site.content))
    index = app.__dict__.get("_modified_index")
    if index is None or index[0] != key:
        ordered = sorted(site.content.values(), key=lambda c: c.modified)
        index = (key, [c.modified for c in ordered], ordered)
        app.__dict__["_modified_index"] = index
    _, stamps, ordered = index
    lo = 0 if low_minute is None else bisect.bisect_left(stamps, low_minute * 60000)
    hi = len(ordered) if high_minute is None else bisect.bisect_right(stamps, (high_minute + 1) * 60000)
    return ordered[lo:hi]


def run_cql(ctx, cql_text, ctx_json=None, types=None):
    return _listing_cache(ctx, ("cql", cql_text, ctx_json, tuple(sorted(types)) if types else None),
                          lambda: _run_cql(ctx, cql_text, ctx_json, types))


def _run_cql(ctx, cql_text, ctx_json=None, types=None):
    site = ctx.site
    if not cql_text:
        raise ApiError(400, "CQL query parameter is required")
    try:
        q = cqlmod.parse(cql_text)
        pred = cqlmod.compile_query(q, cqlmod.EvalContext(site, site.time_zone, site.clock.now_ms(), ctx.user))
    except cqlmod.CQLError as e:
        raise ApiError(400, str(e))
    default_status = {"current"}
    if ctx_json:
        import json
        try:
            cc = json.loads(ctx_json)
        except ValueError:
            raise ApiError(400, "cqlcontext is not valid JSON: %s" % ctx_json)
        if cc.get("contentStatuses"):
            default_status = set(cc["contentStatuses"])
        sk = cc.get("spaceKey")
    else:
        sk = None
    names_status = q.names_field("status")
    ids = cqlmod.id_candidates(q)
    if ids is not None:
        candidates = [site.content[i] for i in ids if i in site.content]
    else:
        minutes = cqlmod.modified_minutes(q, site.time_zone)
        candidates = site.content.values() if minutes is None else _modified_between(ctx, *minutes)
    try:
        out = [c for c in candidates if (names_status or c.status in default_status) and (sk is None or c.space_key == sk)
               and (types is None or c.type in types) and pred(c) and site.can_view(ctx.user, c, in_index=True)]
    except cqlmod.CQLError as e:
        raise ApiError(400, str(e))
    if q.order:
        out = cqlmod.apply_order(out, q.order)
    return q, out


@handler("content_search")
def content_search(ctx):
    t0 = time.perf_counter()
    exp = parse_expand(ctx.args.get("expand"))
    ctx.site.purges.search_started()
    q, items = run_cql(ctx, ctx.args.get("cql"), ctx.args.get("cqlcontext"))
    cap = _search_caps(ctx, exp)
    limit = int_param(ctx, "limit", 25)
    if limit < 0:
        raise ApiError(400, "java.lang.IllegalArgumentException: limit cannot be less than zero")
    limit = min(limit, cap)
    extra = lambda n: {"totalSize": len(items), "cqlQuery": q.text, "searchDuration": int((time.perf_counter() - t0) * 1000)}
    if ctx.dc:
        start = int_param(ctx, "start", 0)
        page = items[start:start + limit]
        if ctx.app.faults.empty_page_once(walk_key(ctx), start == 0) and start + limit < len(items):
            page = []
        ctx.site.purges.listed(page)
        ekey = expand_key(exp)
        res = EncodedList(content_v1_encoded(ctx, c, exp, ekey) for c in page)
        ctx.n_items += len(res)
        if "body" in exp:
            ctx.n_body_items += len(res)
        return v1_list(ctx, res, start, limit, start + limit < len(items), extra=extra(0))
    ekey = expand_key(exp)
    return cursor_search(ctx, items, limit, lambda c: content_v1_encoded(ctx, c, exp, ekey), "body" in exp, q.text, extra,
                         encoded=True)


def cursor_search(ctx, items, limit, ser, bodies, sig, extra, encoded=False):
    """Cloud search paging: stateless cursor (ignores start), next link carries cursor= and keeps the query."""
    cur = ctx.args.get("cursor")
    pos = 0
    if cur:
        d = decode_cursor(cur[4:] if cur.startswith("_sa_") else cur)
        if not isinstance(d, dict) or "o" not in d:
            raise ApiError(400, "Invalid cursor")
        last = d.get("id")
        o = d.get("o")
        if isinstance(o, int) and 0 < o <= len(items) and items[o - 1].id == last:
            idx = o - 1  # the common case, without a scan
        else:
            idx = next((i for i, c in enumerate(items) if c.id == last), None)
        pos = idx + 1 if idx is not None else int(d["o"])
    page = items[pos:pos + limit]
    if ctx.app.faults.empty_page_once(walk_key(ctx), not cur) and pos + limit < len(items):
        res = []
        nxt = cur
    else:
        if encoded:  # content/search
            ctx.site.purges.listed(page)
        res = [ser(c) for c in page]
        if encoded:
            res = EncodedList(res)
        nxt = "_sa_" + encode_cursor({"o": pos + len(page), "id": page[-1].id}) if page and pos + len(page) < len(items) else None
    ctx.n_items += len(res)
    if bodies:
        ctx.n_body_items += len(res)
    prev = "_sa_" + encode_cursor({"o": max(0, pos - limit), "id": None, "p": 1}) if pos > 0 else None
    return v1_list(ctx, res, pos if not cur else int_param(ctx, "start", pos), limit, nxt is not None, cursor_next=nxt,
                   cursor_prev=prev, extra=extra(0))


@handler("content_scan")
def content_scan(ctx):
    site = ctx.site
    exp = parse_expand(ctx.args.get("expand"))
    types = {ctx.args.get("type", "page")}
    sts = statuses(ctx)
    sk = ctx.args.get("spaceKey")
    limit = min(max(1, int_param(ctx, "limit", 25)), 10000)
    items = [c for c in site.content.values() if c.type in types and c.status in sts and (sk is None or c.space_key == sk) and visible(ctx, c)]
    items.sort(key=lambda c: c.num)
    cur = ctx.args.get("cursor")
    after = -1
    if cur:
        try:
            d = decode_cursor(cur)
            after = int(d["after"])
        except (ApiError, KeyError, TypeError, ValueError):
            raise ApiError(400, "Invalid cursor: %s" % cur)
    import bisect
    nums = [c.num for c in items]
    i = bisect.bisect_right(nums, after)
    page = items[i:i + limit]
    res = [content_v1(ctx, c, exp) for c in page]
    ctx.n_items += len(res)
    if "body" in exp:
        ctx.n_body_items += len(res)
    has_next = i + limit < len(items)
    next_cursor = encode_cursor({"after": page[-1].num}) if has_next and page else None
    body = {"results": res, "nextCursor": next_cursor, "prevCursor": encode_cursor({"after": after, "prev": True}) if cur else None,
            "cursor": cur, "limit": limit, "size": len(res)}
    links = {"base": ctx.links_base, "context": ctx.context, "self": ctx.request.url}
    if next_cursor:
        from .pagination import build_qs
        pairs = [(k, v) for k, v in ctx.args.items(multi=True) if k != "cursor"] + [("cursor", next_cursor)]
        links["next"] = "/rest/api/content/scan?" + build_qs(pairs)
    body["_links"] = links
    return {k: v for k, v in body.items() if v is not None}


@handler("child_attachment")
def child_attachment(ctx, cid):
    c = get_content(ctx, cid)
    exp = parse_expand(ctx.args.get("expand", "version,container" if ctx.dc else "version"))
    fn = ctx.args.get("filename")
    mt = ctx.args.get("mediaType")
    items = sorted((a for a in ctx.site.children(c, "attachment") if a.status == "current" and (fn is None or a.filename == fn)
                    and (mt is None or a.media_type == mt)), key=lambda a: a.num)
    return offset_page(ctx, items, 50 if ctx.dc else 25, 200 if ctx.dc else 1000, lambda a: content_v1(ctx, a, exp))


@handler("child_comment")
def child_comment(ctx, cid):
    c = get_content(ctx, cid)
    exp = parse_expand(ctx.args.get("expand"))
    locs = set()
    for l in ctx.args.getlist("location"):
        locs |= {x.strip() for x in l.split(",") if x.strip()}
    depth = ctx.args.get("depth", "")
    items = []
    for cm in ctx.site.children(c, "comment"):
        if cm.status != "current":
            continue
        if depth != "all" and cm.parent_comment_id is not None:
            continue
        if locs:
            ok = cm.location in locs or ("resolved" in locs and cm.location == "inline" and cm.resolution == "resolved")
            if not ok:
                continue
        items.append(cm)
    items.sort(key=lambda x: x.num)
    if "body" in exp:
        ctx.n_body_items += len(items)
    return offset_page(ctx, items, 25, 1000, lambda cm: content_v1(ctx, cm, exp))


@handler("child_page")
def child_page(ctx, cid):
    c = get_content(ctx, cid)
    exp = parse_expand(ctx.args.get("expand"))
    items = sorted((p for p in ctx.site.children(c, "page") if p.status == "current" and visible(ctx, p)), key=lambda p: (p.position or 0, p.num))
    return offset_page(ctx, items, 25, 1000, lambda p: content_v1(ctx, p, exp))


@handler("content_labels")
def content_labels(ctx, cid):
    c = get_content(ctx, cid)
    prefix = ctx.args.get("prefix")
    items = [l for l in c.labels if prefix in (None, "global")]
    return offset_page(ctx, items, 200, 200, lambda l: label_v1(l, ctx.site))


@handler("attachment_download")
def attachment_download(ctx, cid, aid):
    c = get_content(ctx, cid)
    a = ctx.site.content.get(aid)
    if a is None or a.type != "attachment" or a.container_id != c.id or a.status == "deleted":
        raise ApiError(404, "No attachment found with id : %s" % aid)
    return _file_response(ctx, a)


def _file_response(ctx, a):
    ctx.n_items += 1
    media = ctx.app.media
    if media is not None and ctx.cloud:
        # Cloud hands the bytes over on its media host: a 302 with a short-lived token (media.py). Like
        # the real site, the answer also sets a cookie, which must never reach the media host either.
        r = Response(b"", status=302)
        r.headers["Location"] = media.location(a)
        r.headers["Cache-Control"] = "no-cache, no-store"
        r.set_cookie("atlassian.xsrf.token", "emu-xsrf-%s" % ctx.app.seed, path="/", httponly=False)
        return r
    if a.id in ctx.app.purged_files:
        raise ApiError(404, "No attachment found with id : %s" % a.id)
    r = Response(a.blob, content_type=a.media_type)
    r.headers["Content-Disposition"] = 'attachment; filename="%s"' % a.filename
    r.headers["ETag"] = '"%s-%d"' % (a.id, a.version.number)
    return r


@handler("web_download")
def web_download(ctx, cid, filename):
    c = get_content(ctx, cid)
    fn = unquote(filename)
    for a in ctx.site.children(c, "attachment"):
        if a.filename == fn and a.status != "deleted":
            return _file_response(ctx, a)
    raise ApiError(404, "Attachment not found")


# ------------------------------------------------------------------ restrictions
@handler("restriction")
def restriction(ctx, cid):
    c = get_content(ctx, cid)
    exp = parse_expand(ctx.args.get("expand", "restrictions.user,restrictions.group"))
    sub = exp.get("restrictions", {})
    res = [restriction_op_v1(ctx, c, op, sub) for op in ("read", "update")]
    body = v1_list(ctx, res, 0, 100, False)
    import zlib
    body["restrictionsHash"] = "%08x" % zlib.crc32(repr((sorted(c.read_users or ()), sorted(c.read_groups or ()),
                                                        sorted(c.update_users or ()), sorted(c.update_groups or ()))).encode())
    return body


@handler("restriction_by_op")
def restriction_by_op(ctx, cid):
    c = get_content(ctx, cid)
    exp = parse_expand(ctx.args.get("expand", "restrictions.user,restrictions.group"))
    sub = exp.get("restrictions", {})
    out = {op: restriction_op_v1(ctx, c, op, sub) for op in ("read", "update")}
    out["_links"] = {"base": ctx.links_base, "context": ctx.context}
    return out


@handler("restriction_op")
def restriction_op(ctx, cid, op):
    c = get_content(ctx, cid)
    if op not in ("read", "update"):
        raise ApiError(400, "Unknown operation: %s" % op)
    exp = parse_expand(ctx.args.get("expand", "restrictions.user,restrictions.group"))
    return restriction_op_v1(ctx, c, op, exp.get("restrictions", {}))


# ------------------------------------------------------------------ search
@handler("search")
def search(ctx):
    t0 = time.perf_counter()
    q, items = run_cql(ctx, ctx.args.get("cql"), ctx.args.get("cqlcontext"))
    limit = int_param(ctx, "limit", 25)
    exp = parse_expand(ctx.args.get("expand"))
    if limit < 0:
        raise ApiError(400, "java.lang.IllegalArgumentException: limit cannot be less than zero")
    limit = min(limit, 1000 if ctx.dc else 250)

    def ser(c):
        site = ctx.site
        sp = site.spaces.get(c.space_key)
        cont = content_v1(ctx, c, {k: v for k, v in exp.items() if k == "content"}.get("content", {}))
        return {"content": cont, "title": c.title, "excerpt": (site.storage(c)[:0] if c.type == "attachment" else c.title),
                "url": webui(ctx, c), "resultGlobalContainer": {"title": sp.name if sp else "", "displayUrl": "/spaces/%s" % c.space_key},
                "breadcrumbs": [], "entityType": "content", "iconCssClass": "aui-icon content-type-%s" % c.type,
                "lastModified": ctx.fmt_time(c.modified), "friendlyLastModified": _friendly_ago(ctx, c.modified), "score": 0.0}
    extra = lambda n: {"totalSize": len(items), "cqlQuery": q.text, "searchDuration": int((time.perf_counter() - t0) * 1000),
                       "archivedResultCount": 0}
    if ctx.dc:
        start = int_param(ctx, "start", 0)
        page = items[start:start + limit]
        res = [ser(c) for c in page]
        ctx.n_items += len(res)
        return v1_list(ctx, res, start, limit, start + limit < len(items), extra=extra(0))
    return cursor_search(ctx, items, limit, ser, False, q.text, extra)


def _friendly_ago(ctx, ms):
    days = (ctx.site.clock.now_ms() - ms) // 86400000
    if days <= 0:
        return "today"
    if days < 30:
        return "%d days ago" % days
    from .clock import friendly
    return friendly(ms)


# ------------------------------------------------------------------ spaces
@handler("space_list")
def space_list(ctx):
    site = ctx.site
    keys = set()
    for k in ctx.args.getlist("spaceKey") + ctx.args.getlist("spaceKeys"):
        keys |= {x.strip() for x in k.split(",") if x.strip()}
    ids = set()
    for k in ctx.args.getlist("spaceId") + ctx.args.getlist("spaceIds"):
        ids |= {int(x) for x in k.split(",") if x.strip().isdigit()}
    type_ = ctx.args.get("type")
    status = ctx.args.get("status")
    exp = parse_expand(ctx.args.get("expand"))
    items = [s for s in site.spaces.values() if (not keys or s.key in keys) and (not ids or s.id in ids)
             and (type_ is None or s.type == type_) and (status is None or s.status == status) and site.can_view_space(ctx.user, s)]
    items.sort(key=lambda s: s.key if ctx.dc else s.id)
    return offset_page(ctx, items, 25, 50 if ctx.dc else 1000, lambda s: space_v1(ctx, s, exp))


@handler("space_get")
def space_get(ctx, key):
    s = ctx.site.spaces.get(key)
    if s is None or not ctx.site.can_view_space(ctx.user, s):
        raise ApiError(404, "No space with key : %s" % key, authorized=False)
    return space_v1(ctx, s, parse_expand(ctx.args.get("expand")))


@handler("space_permissions")
def space_permissions(ctx, key):
    """DC 9.1+ `GET /rest/api/space/{spaceKey}/permissions`: a bare JSON array of SpacePermission.

    Only space/site administrators may read it. The DC spec documents 403; real DC 9.1+ answers 500 to non-admins
    (CONFSERVER-99908); the emulator sends the documented 403, or that 500 with the fault switch
    `space_permissions_denied_status: 500`. The spec's `Subject` names only `type` and
    `displayName`; users are identified by `userKey` only (CONFSERVER-100505), so each subject also carries
    `identifier` (the userKey, or the group name) as the real service does.
    """
    require_user(ctx)
    s = ctx.site.spaces.get(key)
    if s is None or not ctx.site.can_view_space(ctx.user, s):
        raise ApiError(404, "No space with key : %s" % key, authorized=False)
    if not ctx.user.site_admin:
        status = int(ctx.app.faults.cfg.get("space_permissions_denied_status") or 403)
        if status == 500:  # what DC 9.1+ really answers (CONFSERVER-99908)
            raise ApiError(500, "java.lang.NullPointerException")
        raise ApiError(status, "User %s does not have permission to view permissions of space %s" % (ctx.user.username, key))
    op = {"targetType": "space", "operationKey": "read"}
    out = []
    for g in sorted(s.view_groups):
        if g in ctx.site.groups:
            out.append({"operation": dict(op), "subject": {"type": "group", "displayName": g, "identifier": g},
                        "spaceKey": s.key, "spaceId": s.id})
    for a in sorted(s.view_users):
        u = ctx.site.users.get(a)
        if u is not None:
            out.append({"operation": dict(op), "subject": {"type": "user", "displayName": u.display_name, "identifier": u.user_key},
                        "spaceKey": s.key, "spaceId": s.id})
    if "confluence-administrators" in s.view_groups:
        out.append({"operation": {"targetType": "space", "operationKey": "administer"},
                     "subject": {"type": "group", "displayName": "confluence-administrators", "identifier": "confluence-administrators"},
                     "spaceKey": s.key, "spaceId": s.id})
    if s.anonymous_access:
        out.append({"operation": dict(op), "subject": {"type": "anonymous", "displayName": "Anonymous"}, "spaceKey": s.key,
                    "spaceId": s.id})
    ctx.n_items += len(out)
    return out


# ------------------------------------------------------------------ groups / users / audit / settings
def require_user(ctx):
    if ctx.user is None:
        raise ApiError(401 if ctx.dc else 403, "User must be authenticated" if ctx.dc else "Current user not permitted to use Confluence",
                       authorized=False)


@handler("group_list")
def group_list(ctx):
    require_user(ctx)
    items = sorted(ctx.site.groups.values(), key=lambda g: g.name)
    body = offset_page(ctx, items, 200, 200, lambda g: group_v1(ctx, g))
    return body


@handler("group_members_by_id")
def group_members_by_id(ctx, gid):
    require_user(ctx)
    g = next((g for g in ctx.site.groups.values() if g.id == gid), None)
    if g is None:
        raise ApiError(404, "Group not found with id : %s" % gid)
    members = [ctx.site.users[a] for a in g.members]
    exp = "operations" in (ctx.args.get("expand") or "")
    return offset_page(ctx, members, 200, 200, lambda u: user_v1(ctx, u.account_id))


@handler("group_member")
def group_member(ctx, name):
    require_user(ctx)
    g = ctx.site.groups.get(unquote(name))
    if g is None:
        raise ApiError(404, "No group found with name : %s" % name)
    members = [ctx.site.users[a] for a in g.members]
    return offset_page(ctx, members, 200, 200, lambda u: user_v1(ctx, u.account_id))


@handler("audit")
def audit(ctx):
    require_user(ctx)
    if not ctx.user.site_admin:
        raise ApiError(403, "Could not retrieve audit records: user is not a Confluence administrator" if ctx.cloud else
                       "User not permitted to view audit records")
    sd = int_param(ctx, "startDate", None)
    ed = int_param(ctx, "endDate", None)
    ss = (ctx.args.get("searchString") or "").lower()
    items = [r for r in ctx.site.audit if (sd is None or r.creation_ms >= sd) and (ed is None or r.creation_ms <= ed)
             and (not ss or ss in r.summary.lower() or ss in r.category.lower())]
    items = sorted(items, key=lambda r: -r.creation_ms)

    def ser(r):
        u = ctx.site.users.get(r.author_id)
        author = {"type": "user", "displayName": u.display_name if u else "System", "operations": None}
        if ctx.cloud:
            author.update({"isExternalCollaborator": False, "accountId": u.account_id if u else "", "accountType": "atlassian",
                           "publicName": u.display_name if u else "Unknown user", "externalCollaborator": False})
        else:
            author.update({"username": u.username if u else "", "userKey": u.user_key if u else ""})
        return {"author": author, "remoteAddress": r.remote_address,
                "creationDate": r.creation_ms, "summary": r.summary, "description": r.description, "category": r.category,
                "sysAdmin": r.sys_admin, "superAdmin": False,
                "affectedObject": {"name": r.affected_name, "objectType": r.affected_type},
                "changedValues": [], "associatedObjects": []}
    return offset_page(ctx, items, 1000, 1000, ser)


@handler("user_current")
def user_current(ctx):
    if ctx.user is None:
        return anonymous_v1(ctx)
    return user_v1(ctx, ctx.user.account_id, expand_tz=True)


@handler("user_anonymous")
def user_anonymous(ctx):
    return anonymous_v1(ctx)


@handler("user_get")
def user_get(ctx):
    require_user(ctx)
    ident = ctx.args.get("accountId") if ctx.cloud else (ctx.args.get("username") or ctx.args.get("key"))
    if not ident:
        raise ApiError(400, "accountId is required" if ctx.cloud else "username or key is required")
    u = ctx.site.users.get(ident) if ctx.cloud else next((x for x in ctx.site.users.values() if ident in (x.username, x.user_key)), None)
    if u is None:
        raise ApiError(404, "No user found with %s : %s" % ("accountId" if ctx.cloud else "username", ident))
    return user_v1(ctx, u.account_id)


USER_BULK_MAX = 100


@handler("user_bulk")
def user_bulk(ctx):
    """Cloud `GET /wiki/rest/api/user/bulk?accountId=a&accountId=b` (also comma-separated): BulkUserLookupArray.
    The first 100 ids are answered, in the order asked; unknown ids are left out; emails follow the privacy rule."""
    require_user(ctx)
    ids = []
    for v in ctx.args.getlist("accountId"):
        ids += [x.strip() for x in v.split(",") if x.strip()]
    if not ids:
        raise ApiError(400, "accountId is required")
    seen, res = set(), []
    for a in ids[:USER_BULK_MAX]:
        u = ctx.site.users.get(a)
        if u is None or a in seen:
            continue
        seen.add(a)
        res.append(user_v1(ctx, a))
    ctx.n_items += len(res)
    return {"results": res, "start": 0, "limit": USER_BULK_MAX, "size": len(res),
            "_links": {"base": ctx.links_base, "context": ctx.context, "self": ctx.request.url}}


_USER_CQL_CLAUSE = None


def _user_matcher(ctx, cql):
    """The user CQL of `search/user`: clauses joined by AND, each `type = user`, `user = "<accountId>"`,
    `user.accountid = "<id>"` / `IN (...)`, `user.fullname ~ "<text>"` / `= "<name>"`. Anything else → 400."""
    import re
    global _USER_CQL_CLAUSE
    if _USER_CQL_CLAUSE is None:
        _USER_CQL_CLAUSE = re.compile(r'^\s*(type|user|user\.accountid|user\.fullname)\s*(=|~|!=|in)\s*(.+?)\s*$', re.I)
    if not cql or not cql.strip():
        raise ApiError(400, "CQL query parameter is required")
    preds = []
    for clause in re.split(r"\s+AND\s+", cql.strip(), flags=re.I):
        m = _USER_CQL_CLAUSE.match(clause)
        if not m:
            raise ApiError(400, "Could not parse cql : %s" % cql)
        field, op, raw = m.group(1).lower(), m.group(2).lower(), m.group(3)
        if op == "in":
            if not (raw.startswith("(") and raw.endswith(")")):
                raise ApiError(400, "Could not parse cql : %s" % cql)
            vals = [v.strip().strip('"\'') for v in raw[1:-1].split(",") if v.strip()]
        else:
            vals = [raw.strip('"\'')]
        if field == "type":
            if op not in ("=", "in") or any(v.lower() != "user" for v in vals):
                raise ApiError(400, "The search/user endpoint only supports type = user: %s" % cql)
            continue
        if field in ("user", "user.accountid"):
            if op == "~":
                raise ApiError(400, "Could not parse cql : %s" % cql)
            want = set(vals)
            preds.append((lambda u, w=want, neg=(op == "!="): (u.account_id in w) != neg))
        else:  # user.fullname
            v = vals[0].lower()
            if op == "~":
                preds.append(lambda u, v=v: all(t in u.display_name.lower() for t in v.replace("*", " ").split()))
            elif op == "=":
                preds.append(lambda u, v=v: u.display_name.lower() == v)
            else:
                preds.append(lambda u, v=v: u.display_name.lower() != v)
    return lambda u: all(p(u) for p in preds)


@handler("search_user")
def search_user(ctx):
    """Cloud `GET /wiki/rest/api/search/user?cql=type=user`: offset `start`/`limit` (default 25, at most 1000);
    each result is a SearchResult `{"user": User, "title", "excerpt", "url", "breadcrumbs", "entityType": "user",
    "iconCssClass", "lastModified", "score"}` as in the 2026 v1 spec. Logged-in callers only; emails follow the
    privacy rule."""
    t0 = time.perf_counter()
    require_user(ctx)
    cql = ctx.args.get("cql")
    match = _user_matcher(ctx, cql)
    items = sorted((u for u in ctx.site.users.values() if match(u)), key=lambda u: (u.display_name.lower(), u.account_id))
    now = ctx.fmt_time(ctx.site.clock.now_ms())

    def ser(u):
        return {"user": user_v1(ctx, u.account_id), "title": u.display_name, "excerpt": "", "url": "/people/" + u.account_id,
                "breadcrumbs": [], "entityType": "user", "iconCssClass": "aui-icon content-type-profile", "lastModified": now,
                "score": 0.0}
    body = offset_page(ctx, items, 25, 1000, ser)
    links = body.pop("_links")
    body.update({"totalSize": len(items), "cqlQuery": cql, "searchDuration": int((time.perf_counter() - t0) * 1000),
                 "_links": links})
    return body


@handler("user_list")
def user_list(ctx):
    """Data Center `GET /rest/api/user/list` (10.0.3): every registered user, offset `start`/`limit` (default 100,
    at most 200), `{results: [Person], totalCount, start, limit, size, _links}`. Anonymous callers get 403, as the
    spec documents. (DC has no bulk lookup by user key: `GET /rest/api/user?key=` answers one user at a time.)"""
    if ctx.user is None:
        raise ApiError(403, "Anonymous users are not permitted to view the user list", authorized=False)
    items = sorted(ctx.site.users.values(), key=lambda u: u.username)
    body = offset_page(ctx, items, 100, 200, lambda u: user_v1(ctx, u.account_id))
    links = body.pop("_links")
    body["totalCount"] = len(items)
    body["_links"] = links
    return body


@handler("system_info")
def system_info(ctx):
    require_user(ctx)
    return {"cloudId": ctx.site.cloud_id, "commitHash": "emulator-" + str(ctx.site.seed), "baseUrl": ctx.site_base,
            "edition": "STANDARD", "siteTitle": "Confluence Emulator", "defaultLocale": "en_US",
            "defaultTimeZone": ctx.site.time_zone}


@handler("server_information")
def server_information(ctx):
    version = ".".join(str(n) for n in ctx.app.dc_version)
    major, minor, patch = ctx.app.dc_version
    return {"baseUrl": ctx.site_base, "displayInfo": "Confluence Data Center %s (emulator)" % version, "version": version,
            "buildNumber": major * 1000 + minor * 10 + patch, "buildDate": "2025-07-01T00:00:00.000Z", "serverTime": ctx.fmt_time(ctx.site.clock.now_ms()),
            "defaultTimeZone": ctx.site.time_zone}
