"""Shared list machinery: parameter parsing, keyset cursors, v1 and v2 envelopes (+ Link header)."""
from __future__ import annotations

import bisect

from .errors import ApiError
from .pagination import build_qs, decode_cursor, encode_cursor


def int_param(ctx, name, default, v2=False):
    raw = ctx.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        if v2:
            raise ApiError(400, "Invalid value for parameter '%s': %s" % (name, raw), code="INVALID_REQUEST_PARAMETER")
        raise ApiError(400, "org.springframework.web.method.annotation.MethodArgumentTypeMismatchException: Failed to convert "
                            "value of type 'java.lang.String' to required type 'int'; For input string: \"%s\"" % raw)


def desc_str(s: str):
    return [-ord(ch) for ch in s] + [1]


def sort_keyfn(sort: str | None, kind: str = "content"):
    """-> (signature, keyfn) for keyset paging."""
    s = (sort or "id").strip()
    desc = s.startswith("-")
    f = s.lstrip("-")
    if f == "id":
        return s, (lambda c: [-c.num] if desc else [c.num])
    if f in ("created-date", "created"):
        return s, (lambda c: [-c.created, -c.num] if desc else [c.created, c.num])
    if f in ("modified-date", "lastmodified"):
        return s, (lambda c: [-c.modified, -c.num] if desc else [c.modified, c.num])
    if f == "title":
        return s, (lambda c: [desc_str((c.title or "").lower()), -c.num] if desc else [(c.title or "").lower(), c.num])
    raise ApiError(400, "Invalid sort value: %s" % sort, code="INVALID_REQUEST_PARAMETER")


def keyset(items, keyfn, cursor_str, limit, sig):
    keys = [keyfn(x) for x in items]
    order = sorted(range(len(items)), key=keys.__getitem__)
    items = [items[i] for i in order]
    keys = [keys[i] for i in order]
    start = 0
    if cursor_str:
        cur = decode_cursor(cursor_str)
        if not isinstance(cur, dict) or cur.get("s") != sig:
            raise ApiError(400, "Invalid cursor", code="INVALID_REQUEST_PARAMETER")
        start = bisect.bisect_right(keys, cur.get("k"))
    page = items[start:start + limit]
    nxt = None
    if page and start + len(page) < len(items):
        nxt = encode_cursor({"s": sig, "k": keys[start + len(page) - 1]})
    return page, nxt


def v2_list(ctx, results, next_cursor, extra_drop=()):
    """v2 envelope + Link header; next link is host-relative and keeps the original query."""
    body = {"results": results, "_links": {"base": ctx.links_base}}
    if next_cursor:
        pairs = [("cursor", next_cursor)] + [(k, v) for k, v in ctx.args.items(multi=True) if k != "cursor" and k not in extra_drop]
        path = ctx.v2_prefix + ctx.request.path.split("/api/v2", 1)[1]
        nxt = path + "?" + build_qs(pairs)
        body["_links"] = {"next": nxt, "base": ctx.links_base}
        ctx.extra_headers["Link"] = '<%s>; rel="next", <%s>; rel="base"' % (nxt, ctx.links_base)
    return body


def v1_list(ctx, results, start, limit, has_next, cursor_next=None, cursor_prev=None, extra=None, with_prev=True):
    path = ctx.request.path
    rel = path[path.index("/rest/api") if "/rest/api" in path else path.index("/rest/experimental"):]
    base_pairs = [(k, v) for k, v in ctx.args.items(multi=True) if k not in ("next", "prev", "cursor", "start", "limit")]
    links = {"base": ctx.links_base, "context": ctx.context,
             "self": ctx.links_base + rel + (("?" + ctx.request.query_string.decode("latin-1")) if ctx.request.query_string else "")}
    if has_next:
        pairs = [("next", "true")] + ([("cursor", cursor_next)] if cursor_next else []) + base_pairs + \
            [("limit", str(limit)), ("start", str(start + limit))]
        links["next"] = rel + "?" + build_qs(pairs)
    if with_prev and (start > 0 or cursor_prev):
        pairs = [("prev", "true")] + ([("cursor", cursor_prev)] if cursor_prev else []) + base_pairs + \
            [("limit", str(limit)), ("start", str(max(0, start - limit)))]
        links["prev"] = rel + "?" + build_qs(pairs)
    body = {"results": results, "start": start, "limit": limit, "size": len(results)}
    if extra:
        body.update(extra)
    body["_links"] = links
    return body


def walk_key(ctx):
    return ctx.route + "?" + "&".join("%s=%s" % kv for kv in sorted(ctx.args.items(multi=True))
                                      if kv[0] not in ("cursor", "start", "next", "prev"))
