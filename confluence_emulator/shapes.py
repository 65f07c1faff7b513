"""Object shapes: v1 Content/Space/User (Cloud and DC flavours, with `expand` + `_expandable`) and v2 models."""
from __future__ import annotations

import base64
import html
import re
from functools import lru_cache
from urllib.parse import quote, quote_plus

from .clock import friendly
from .encoding import dumps_str
from .files import MEDIA_DESC
from .site import TREE_NODE_TYPES

BODY_FORMATS = ["storage", "view", "export_view", "styled_view", "anonymous_export_view", "editor", "atlas_doc_format", "dynamic", "editor2"]


def parse_expand(s: str | None) -> dict:
    tree: dict = {}
    for part in (s or "").split(","):
        part = part.strip()
        if not part:
            continue
        node = tree
        for seg in part.split("."):
            node = node.setdefault(seg, {})
    return tree


@lru_cache(maxsize=65536)
def tiny(cid: str) -> str:
    n = int(cid[3:]) if cid.startswith("att") else int(cid)
    raw = n.to_bytes(max(1, (n.bit_length() + 7) // 8), "little")
    return "/x/" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


_PLAIN_TITLE = re.compile(r"[A-Za-z0-9_.~ -]*").fullmatch


def slug(title: str) -> str:
    if title and _PLAIN_TITLE(title):
        return title.replace(" ", "+")  # what quote_plus gives for these characters, without its per-call cost
    return quote_plus(title or "")


SHAPE_MEMO_MAX = 200000


def shape_memo(ctx) -> dict:
    """Shapes shared by many records (users, spaces, ancestors, containers), reused across requests.

    One dict per (links base, Cloud/DC, caller), so whatever depends on the surface or on what the caller may see
    (emails, visible children) stays apart; all of them are dropped when the site generation moves (any admin
    mutation). The dicts are never mutated by their users, only serialised."""
    memo = ctx.memo
    if memo is None:
        app = ctx.app
        gen = (ctx.site.generation, getattr(app, "generation", 0))
        store = app.__dict__.get("_shape_memo")
        if store is None or store[0] != gen:
            store = app._shape_memo = [gen, {}]
        part = (ctx.links_base, ctx.dc, ctx.user.account_id if ctx.user else None)
        memo = store[1].get(part)
        if memo is None or len(memo) > SHAPE_MEMO_MAX:
            memo = store[1][part] = {}
        ctx.memo = memo
    return memo


def memoised(ctx, key, build):
    """The shape stored under `key` in this caller's memo, built once."""
    memo = shape_memo(ctx)
    shape = memo.get(key)
    if shape is None:
        shape = memo[key] = build()
    return shape


def expand_key(exp: dict) -> str:
    return repr(exp) if exp else ""


# ------------------------------------------------------------------ links
def webui(ctx, c) -> str:
    site = ctx.site
    if c.type == "page":
        if ctx.dc:
            return "/display/%s/%s" % (c.space_key, slug(c.title)) if c.num % 5 else "/pages/viewpage.action?pageId=%s" % c.id
        return "/spaces/%s/pages/%s/%s" % (c.space_key, c.id, slug(c.title))
    if c.type == "blogpost":
        from datetime import datetime, timezone
        d = datetime.fromtimestamp(c.created / 1000, tz=timezone.utc)
        if ctx.dc:
            return "/display/%s/%s/%s" % (c.space_key, d.strftime("%Y/%m/%d"), slug(c.title))
        return "/spaces/%s/blog/%s/%s/%s" % (c.space_key, d.strftime("%Y/%m/%d"), c.id, slug(c.title))
    if c.type in ("folder", "whiteboard", "database", "embed"):
        return "/spaces/%s/%s/%s" % (c.space_key, c.type, c.id)
    if c.type == "comment":
        cont = site.content.get(c.container_id)
        base = webui(ctx, cont) if cont else "/"
        return base + "?focusedCommentId=%s#comment-%s" % (c.id, c.id)
    cont_id = c.container_id
    return "/pages/viewpageattachments.action?pageId=%s&preview=%s" % (cont_id, quote("/%s/%s/%s" % (cont_id, c.id, c.filename)))


def download_path(c) -> str:
    return "/download/attachments/%s/%s?version=%d&modificationDate=%d&api=v2" % (
        c.container_id, quote(c.filename), c.version.number, c.modified)


# ------------------------------------------------------------------ users
def user_v1(ctx, account_id, expand_tz=False) -> dict:
    """A v1 user. Without `expand_tz` the same dict is reused for every mention of the user in one response
    (callers never mutate it)."""
    if expand_tz:
        return _user_v1(ctx, account_id, True)
    return memoised(ctx, ("u", account_id), lambda: _user_v1(ctx, account_id, False))


def _user_v1(ctx, account_id, expand_tz=False) -> dict:
    u = ctx.site.users.get(account_id)
    if u is None:
        return {"type": "anonymous", "profilePicture": {"path": "/wiki/s/avatar.png", "width": 48, "height": 48, "isDefault": True},
                "displayName": "Anonymous", "_expandable": {"operations": "", "personalSpace": ""}, "_links": {}}
    if ctx.dc:
        d = {"type": "known", "username": u.username, "userKey": u.user_key,
             "profilePicture": {"path": ctx.context + "/images/icons/profilepics/default.svg", "width": 48, "height": 48, "isDefault": True},
             "displayName": u.display_name,
             "_links": {"self": ctx.links_base + "/rest/api/user?key=" + u.user_key},
             "_expandable": {"status": ""}}
        return d
    d = {"type": "known", "accountId": u.account_id, "accountType": u.account_type, "email": visible_email(ctx, u),
         "publicName": u.display_name, "profilePicture": {"path": "/wiki/aa-avatar/" + u.account_id, "width": 48, "height": 48, "isDefault": False},
         "displayName": u.display_name, "isExternalCollaborator": False}
    if expand_tz:
        d["timeZone"] = u.time_zone
    d["_expandable"] = {"operations": "", "personalSpace": ""}
    d["_links"] = {"self": ctx.links_base + "/rest/api/user?accountId=" + u.account_id}
    return d


def visible_email(ctx, u) -> str:
    """Cloud hides an address the user keeps private ("" as the spec says), except from the user and site admins."""
    viewer = ctx.user
    if u.email_visible or (viewer is not None and (viewer.account_id == u.account_id or viewer.site_admin)):
        return u.email
    return ""


def anonymous_v1(ctx) -> dict:
    return {"type": "anonymous", "profilePicture": {"path": "/wiki/s/anon.png" if ctx.cloud else ctx.context + "/images/icons/profilepics/anonymous.svg",
                                                    "width": 48, "height": 48, "isDefault": True},
            "displayName": "Anonymous", "_links": {"self": ctx.links_base + "/rest/api/user/anonymous"}, "_expandable": {"operations": ""}}


def group_v1(ctx, g) -> dict:
    if ctx.dc:
        return {"type": "group", "name": g.name, "_links": {"self": ctx.links_base + "/rest/api/group/" + quote(g.name)}}
    return {"type": "group", "name": g.name, "id": g.id, "_links": {"self": ctx.links_base + "/rest/api/group/by-id?id=" + g.id}}


# ------------------------------------------------------------------ spaces
def space_v1(ctx, s, exp: dict | None = None) -> dict:
    """A v1 space; reused within one response for the same (space, expand)."""
    return memoised(ctx, ("s", s.key, expand_key(exp)), lambda: _space_v1(ctx, s, exp))


def _space_v1(ctx, s, exp: dict | None = None) -> dict:
    exp = exp or {}
    site = ctx.site
    d = {"id": s.id, "key": s.key, "name": s.name}
    if ctx.cloud:
        d["alias"] = s.key if not s.key.startswith("~") else None
        if d["alias"] is None:
            del d["alias"]
    if "icon" in exp:
        d["icon"] = {"path": "/images/logo/default-space-logo.svg", "width": 48, "height": 48, "isDefault": True}
    if "description" in exp:
        sub = exp["description"] or {"plain": {}}
        dd = {}
        if "plain" in sub:
            dd["plain"] = {"value": s.description, "representation": "plain", "embeddedContent": []}
        if "view" in sub:
            dd["view"] = {"value": "<p>%s</p>" % html.escape(s.description), "representation": "view", "embeddedContent": []}
        d["description"] = dd
    if "homepage" in exp and s.homepage_id in site.content:
        d["homepage"] = content_v1(ctx, site.content[s.homepage_id], exp["homepage"])
    d["type"] = s.type
    d["status"] = s.status
    if "metadata" in exp:
        d["metadata"] = {"labels": {"results": [label_v1(l) for l in s.labels], "start": 0, "limit": 200, "size": len(s.labels)}}
    if "history" in exp:
        d["history"] = {"createdDate": ctx.fmt_time(s.created_ms), "createdBy": user_v1(ctx, s.author_id)}
    if "permissions" in exp:
        d["permissions"] = space_permissions_v1(ctx, s)
    ex = {}
    for k, v in (("settings", "/rest/api/space/%s/settings" % s.key), ("metadata", ""), ("operations", ""),
                 ("lookAndFeel", "/rest/api/settings/lookandfeel?spaceKey=%s" % s.key), ("identifiers", ""),
                 ("permissions", ""), ("icon", ""), ("description", ""), ("theme", "/rest/api/space/%s/theme" % s.key),
                 ("history", ""), ("homepage", "/rest/api/content/%s" % s.homepage_id)):
        if k not in exp:
            ex[k] = v
    d["_expandable"] = ex
    d["_links"] = {"webui": ("/spaces/%s" % s.key) if ctx.cloud else ("/display/%s" % s.key),
                   "self": ctx.links_base + "/rest/api/space/" + quote(s.key)}
    return d


def space_permissions_v1(ctx, s) -> list:
    out = []
    n = s.id * 10
    for g in sorted(s.view_groups):
        grp = ctx.site.groups.get(g)
        if grp is None:
            continue
        n += 1
        out.append({"id": n, "subjects": {"group": {"results": [group_v1(ctx, grp)], "size": 1}, "_expandable": {"user": ""}},
                    "operation": {"operation": "read", "targetType": "space"}, "anonymousAccess": False, "unlicensedAccess": False})
    for u in sorted(s.view_users):
        n += 1
        out.append({"id": n, "subjects": {"user": {"results": [user_v1(ctx, u)], "size": 1}, "_expandable": {"group": ""}},
                    "operation": {"operation": "read", "targetType": "space"}, "anonymousAccess": False, "unlicensedAccess": False})
    if s.anonymous_access:
        n += 1
        out.append({"id": n, "subjects": {"_expandable": {"user": "", "group": ""}}, "operation": {"operation": "read", "targetType": "space"},
                    "anonymousAccess": True, "unlicensedAccess": False})
    return out


def label_v1(name: str, site=None) -> dict:
    lid = site.label_id(name) if site else "0"
    return {"prefix": "global", "name": name, "id": lid, "label": name}


# ------------------------------------------------------------------ content
def version_v1(ctx, c, v) -> dict:
    if ctx.dc:
        return {"by": user_v1(ctx, v.by), "when": ctx.fmt_time(v.when), "message": v.message, "number": v.number,
                "minorEdit": v.minor, "hidden": False,
                "_links": {"self": ctx.links_base + "/rest/experimental/content/%s/version/%d" % (c.id, v.number)},
                "_expandable": {"content": "/rest/api/content/" + c.id}}
    return {"by": user_v1(ctx, v.by), "when": ctx.fmt_time(v.when), "friendlyWhen": friendly(v.when), "message": v.message,
            "number": v.number, "minorEdit": v.minor, "confRev": "confluence$content$%s.%d" % (c.id, v.number),
            "contentTypeModified": False, "_expandable": {"collaborators": "", "content": "/rest/api/content/" + c.id},
            "_links": {"self": ctx.links_base + "/rest/api/content/%s/version/%d" % (c.id, v.number)}}


def history_v1(ctx, c, exp: dict) -> dict:
    d = {"latest": c.status == "current" or c.status == "archived", "createdBy": user_v1(ctx, c.versions[0].by),
         "createdDate": ctx.fmt_time(c.created)}
    if "lastUpdated" in exp:
        d["lastUpdated"] = version_v1(ctx, c, c.version)
    if "previousVersion" in exp and len(c.versions) > 1:
        d["previousVersion"] = version_v1(ctx, c, c.versions[-2])
    if "contributors" in exp:
        pubs = sorted({v.by for v in c.versions})
        d["contributors"] = {"publishers": {"users": [user_v1(ctx, p) for p in pubs], "userKeys" if ctx.dc else "userAccountIds":
                                            [ctx.site.users[p].user_key if ctx.dc else p for p in pubs]}}
    ex = {}
    for k in ("lastUpdated", "previousVersion", "contributors", "nextVersion"):
        if k not in exp:
            ex[k] = ""
    if ctx.cloud:
        ex.update({"lastOwnedBy": "", "ownedBy": ""})
    d["_expandable"] = ex
    d["_links"] = {"self": ctx.links_base + "/rest/api/content/%s/history" % c.id}
    return d


def restrictions_v1(ctx, c, exp: dict) -> dict:
    d = {}
    for op in ("read", "update"):
        if op not in exp:
            continue
        d[op] = restriction_op_v1(ctx, c, op, exp[op].get("restrictions", {}))
    ex = {op: "" for op in ("read", "update") if op not in exp}
    d["_expandable"] = ex
    d["_links"] = {"self": ctx.links_base + "/rest/api/content/%s/restriction/byOperation" % c.id}
    return d


def restriction_op_v1(ctx, c, op: str, sub: dict | None = None, full=False) -> dict:
    users = (c.read_users if op == "read" else c.update_users) or set()
    groups = (c.read_groups if op == "read" else c.update_groups) or set()
    r = {}
    ex = {}
    if full or "user" in (sub or {}):
        ul = [user_v1(ctx, u) for u in sorted(users)]
        r["user"] = {"results": ul, "start": 0, "limit": 200, "size": len(ul)}
    else:
        ex["user"] = ""
    if full or "group" in (sub or {}):
        gl = [group_v1(ctx, ctx.site.groups[g]) for g in sorted(groups) if g in ctx.site.groups]
        r["group"] = {"results": gl, "start": 0, "limit": 200, "size": len(gl)}
    else:
        ex["group"] = ""
    if ex:
        r["_expandable"] = ex
    return {"operation": op, "restrictions": r, "_expandable": {"content": "/rest/api/content/" + c.id},
            "_links": {"self": ctx.links_base + "/rest/api/content/%s/restriction/byOperation/%s" % (c.id, op)}}


def body_v1(ctx, c, exp: dict) -> dict:
    site = ctx.site
    d = {}
    for fmt in list(exp):
        if fmt == "storage":
            d["storage"] = {"value": site.storage(c), "representation": "storage"}
        elif fmt in ("view", "export_view", "styled_view", "anonymous_export_view"):
            d[fmt] = {"value": site.view_html(c), "representation": fmt}
        elif fmt == "atlas_doc_format":
            import json
            d[fmt] = {"value": json.dumps({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": c.title}]}]}),
                      "representation": "atlas_doc_format"}
        elif fmt == "editor":
            d[fmt] = {"value": site.storage(c), "representation": "editor"}
        else:
            continue
        if ctx.cloud:
            d[fmt]["embeddedContent"] = []
        d[fmt]["_expandable"] = {"content": "/rest/api/content/" + c.id}
        if fmt == "view" and ctx.cloud:
            d[fmt]["_expandable"].update({"webresource": "", "embeddedContent": "", "mediaToken": ""})
    ex = {}
    for f in (BODY_FORMATS if ctx.cloud else ["editor", "view", "export_view", "styled_view", "anonymous_export_view"]):
        if f not in d:
            ex[f] = ""
    d["_expandable"] = ex
    return d


def child_list_v1(ctx, c, kind, items, sub, path) -> dict:
    res = [content_v1(ctx, x, sub) for x in items[:25]]
    return {"results": res, "start": 0, "limit": 25, "size": len(res),
            "_links": {"self": ctx.links_base + "/rest/api/content/%s/%s/%s" % (c.id, path, kind)}}


def extensions_v1(ctx, c) -> dict:
    if c.type in TREE_NODE_TYPES:
        return {"position": "none"} if ctx.dc else {"position": c.position if c.position is not None else 0}
    if c.type == "blogpost":
        return {}
    if c.type == "comment":
        e = {"location": c.location}
        if c.location == "inline":
            e["inlineProperties"] = {"originalSelection": c.inline_selection, "markerRef": "marker-%s" % c.id}
            e["resolution"] = {"status": c.resolution, "lastModifier": user_v1(ctx, c.author),
                               "lastModifiedDate": ctx.fmt_time(c.modified)}
        return e
    return {"mediaType": c.media_type, "fileSize": c.file_size, "comment": c.att_comment or "",
            "mediaTypeDescription": MEDIA_DESC.get(c.media_type, "File"), "fileId": "f" + c.id[3:]}


def content_v1(ctx, c, exp: dict | None = None) -> dict:
    exp = exp or {}
    site = ctx.site
    space = site.spaces.get(c.space_key)
    d = {"id": c.id, "type": c.type, "status": c.status, "title": c.title}
    if "space" in exp and space:
        d["space"] = space_v1(ctx, space, exp["space"])
    if "history" in exp:
        d["history"] = history_v1(ctx, c, exp["history"])
    if "version" in exp:
        d["version"] = version_v1(ctx, c, c.version)
    if "ancestors" in exp:
        anc = site.v1_ancestors(c) if c.type in TREE_NODE_TYPES else ([site.content[c.container_id]] if c.container_id in site.content else [])
        if c.type == "comment":  # a reply lists the comments it answers, after the page it is on
            chain, parent_id = [], c.parent_comment_id
            while parent_id in site.content:
                chain.append(site.content[parent_id])
                parent_id = site.content[parent_id].parent_comment_id
            anc = anc + chain[::-1]
        d["ancestors"] = [_content_v1_memo(ctx, a, exp["ancestors"]) for a in anc]
    if "container" in exp:
        if c.type in ("comment", "attachment") and c.container_id in site.content:
            d["container"] = _content_v1_memo(ctx, site.content[c.container_id], exp["container"])
        elif space:
            d["container"] = space_v1(ctx, space, exp["container"])
    if "children" in exp:
        ch = {}
        sub = exp["children"]
        for kind in ("page", "attachment", "comment"):
            if kind in sub:
                items = [x for x in site.children(c, kind) if x.status == "current" and site.can_view(ctx.user, x)]
                if kind == "comment":
                    items = [x for x in items if x.parent_comment_id is None]
                ch[kind] = child_list_v1(ctx, c, kind, sorted(items, key=lambda x: x.num), sub[kind], "child")
        ch["_expandable"] = {k: "/rest/api/content/%s/child/%s" % (c.id, k) for k in ("attachment", "comment", "page") if k not in sub}
        ch["_links"] = {"self": ctx.links_base + "/rest/api/content/%s/child" % c.id}
        d["children"] = ch
    if "descendants" in exp:
        de = {}
        sub = exp["descendants"]
        for kind in ("comment", "attachment"):
            if kind in sub:
                items = [x for x in site.children(c, kind) if x.status == "current"]
                de[kind] = child_list_v1(ctx, c, kind, sorted(items, key=lambda x: x.num), sub[kind], "descendant")
        de["_expandable"] = {k: "/rest/api/content/%s/descendant/%s" % (c.id, k) for k in ("attachment", "comment", "page") if k not in sub}
        de["_links"] = {"self": ctx.links_base + "/rest/api/content/%s/descendant" % c.id}
        d["descendants"] = de
    if c.type in ("page", "blogpost") and ctx.cloud:
        d["macroRenderedOutput"] = {}
    if "body" in exp:
        d["body"] = body_v1(ctx, c, exp["body"])
    if "restrictions" in exp:
        d["restrictions"] = restrictions_v1(ctx, c, exp["restrictions"])
    if "metadata" in exp:
        md = {}
        sub = exp["metadata"]
        if "labels" in sub:
            md["labels"] = {"results": [label_v1(l, site) for l in c.labels], "start": 0, "limit": 200, "size": len(c.labels),
                            "_links": {"self": ctx.links_base + "/rest/api/content/%s/label" % c.id}}
        if c.type == "attachment":
            md["mediaType"] = c.media_type
            md["comment"] = c.att_comment or ""
        md["_expandable"] = {k: "" for k in ("currentuser", "comments", "simple", "properties", "frontend", "likes", "labels") if k not in sub}
        d["metadata"] = md
    d["extensions"] = extensions_v1(ctx, c)
    ex = {}
    sp_link = "/rest/api/space/" + c.space_key
    for k, v in (("childTypes", ""), ("container", sp_link if c.type in TREE_NODE_TYPES or c.type == "blogpost" else "/rest/api/content/%s" % c.container_id),
                 ("metadata", ""), ("operations", ""), ("children", "/rest/api/content/%s/child" % c.id),
                 ("restrictions", "/rest/api/content/%s/restriction/byOperation" % c.id), ("history", "/rest/api/content/%s/history" % c.id),
                 ("ancestors", ""), ("body", ""), ("version", ""), ("descendants", "/rest/api/content/%s/descendant" % c.id),
                 ("space", sp_link)):
        if k not in exp:
            if ctx.dc and k == "childTypes":
                continue
            ex[k] = v
    if ctx.cloud and c.type in ("page", "blogpost"):
        ex["schedulePublishInfo"] = ""
        ex["schedulePublishDate"] = ""
    d["_expandable"] = ex
    links = {}
    if c.type == "attachment":
        links["webui"] = webui(ctx, c)
        links["download"] = download_path(c)
        links["thumbnail"] = download_path(c)
    else:
        links["webui"] = webui(ctx, c)
        if ctx.dc:
            links["edit"] = "/pages/resumedraft.action?draftId=%s" % c.id
        else:
            links["editui"] = "/pages/resumedraft.action?draftId=%s" % c.id
        links["tinyui"] = tiny(c.id) if c.type != "comment" else tiny(c.id)
    links["self"] = ctx.links_base + "/rest/api/content/" + c.id
    d["_links"] = links
    return d


def _content_v1_memo(ctx, c, exp):
    """Ancestors and containers repeat across the records of one response (siblings share them)."""
    return memoised(ctx, ("c", c.id, expand_key(exp)), lambda: content_v1(ctx, c, exp))


def content_v1_encoded(ctx, c, exp: dict, ekey: str) -> str:
    """`content_v1` encoded as compact JSON, reused across requests while the site is unchanged.

    A record depends on the content, the site (titles of ancestors, spaces, users, labels, restrictions), the
    expand, the surface (links base, Cloud or DC) and, for safety, the caller. The key holds all of them; the
    cache is dropped whole whenever the site generation moves (any admin mutation); once it reaches its budget it
    keeps what it holds and stops adding (a walk repeated in order then still finds its first records).
    """
    app = ctx.app
    gen = (ctx.site.generation, getattr(app, "generation", 0))
    cache = app.__dict__.get("_frag_cache")
    if cache is None or cache[0] != gen:
        cache = app._frag_cache = [gen, {}, 0]
    key = (c.id, ekey, ctx.links_base, ctx.dc, ctx.user.account_id if ctx.user else None)
    hit = cache[1].get(key)
    if hit is None:
        hit = dumps_str(content_v1(ctx, c, exp))
        if cache[2] + len(hit) <= FRAGMENT_CACHE_BYTES:  # when full, keep what is cached (walks repeat in order)
            cache[1][key] = hit
            cache[2] += len(hit)
    return hit


FRAGMENT_CACHE_BYTES = 96 * 1024 * 1024


def count_body_items(exp: dict) -> bool:
    return "body" in exp


# ------------------------------------------------------------------ v2
def version_v2(c, v) -> dict:
    return {"createdAt": _utc(v.when), "message": v.message, "number": v.number, "minorEdit": v.minor, "authorId": v.by}


def _utc(ms):
    from .clock import fmt_utc
    return fmt_utc(ms)


def body_v2(ctx, c, fmt: str | None) -> dict:
    if not fmt:
        return {}
    if fmt == "storage":
        return {"storage": {"representation": "storage", "value": ctx.site.storage(c)}}
    if fmt == "atlas_doc_format":
        import json
        return {"atlas_doc_format": {"representation": "atlas_doc_format", "value": json.dumps(
            {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": c.title}]}]})}}
    return {fmt: {"representation": fmt, "value": ctx.site.view_html(c)}}


def page_v2(ctx, c, fmt=None) -> dict:
    space = ctx.site.spaces.get(c.space_key)
    d = {"id": c.id, "status": c.status, "title": c.title, "spaceId": str(space.id) if space else None}
    if c.type == "page":
        d["parentId"] = c.parent_id
        parent = ctx.site.content.get(c.parent_id) if c.parent_id else None
        d["parentType"] = parent.type if parent is not None else None  # a folder, whiteboard… on a rich Cloud tree
        d["position"] = c.position or 0
    d["authorId"] = c.versions[0].by
    if c.type == "page":
        d["ownerId"] = c.owner or c.author
        d["lastOwnerId"] = None
        d["subtype"] = None
    d["createdAt"] = _utc(c.created)
    d["version"] = version_v2(c, c.version)
    d["body"] = body_v2(ctx, c, fmt)
    d["_links"] = {"webui": webui(ctx, c), "editui": "/pages/resumeedit.action?draftId=%s" % c.id, "tinyui": tiny(c.id)}
    if c.type == "page" and d["parentId"] is None:
        del d["parentType"]
        del d["parentId"]
    if d.get("lastOwnerId") is None:
        d.pop("lastOwnerId", None)
    if d.get("subtype") is None:
        d.pop("subtype", None)
    return d


def space_v2(ctx, s, desc_fmt=None) -> dict:
    d = {"id": str(s.id), "key": s.key, "name": s.name, "type": s.type, "status": s.status, "authorId": s.author_id,
         "spaceOwnerId": s.author_id, "createdAt": _utc(s.created_ms), "homepageId": s.homepage_id}
    if s.type == "global":
        d["currentActiveAlias"] = s.key
    if desc_fmt in ("plain", "view"):
        d["description"] = {desc_fmt: {"representation": desc_fmt, "value": s.description if desc_fmt == "plain" else "<p>%s</p>" % html.escape(s.description)}}
    d["_links"] = {"webui": "/spaces/" + s.key}
    return d


def attachment_v2(ctx, a) -> dict:
    cont = ctx.site.content.get(a.container_id)
    d = {"id": a.id, "status": a.status, "title": a.title, "createdAt": _utc(a.created)}
    if cont is not None and cont.type == "page":
        d["pageId"] = cont.id
    elif cont is not None:
        d["blogPostId"] = cont.id
    d.update({"mediaType": a.media_type, "mediaTypeDescription": MEDIA_DESC.get(a.media_type, "File"), "comment": a.att_comment or "",
              "fileId": "f" + a.id[3:], "fileSize": a.file_size, "webuiLink": webui(ctx, a), "downloadLink": download_path(a),
              "version": version_v2(a, a.version), "_links": {"webui": webui(ctx, a), "download": download_path(a)}})
    return d


def comment_v2(ctx, cm, fmt=None, model="page") -> dict:
    cont = ctx.site.content.get(cm.container_id)
    d = {"id": cm.id, "status": cm.status, "title": cm.title}
    if model in ("footer", "inline", "page"):
        if cont is not None and cont.type == "page":
            d["pageId"] = cont.id
        elif cont is not None:
            d["blogPostId"] = cont.id
    if model in ("footer", "inline", "children") and cm.parent_comment_id:
        d["parentCommentId"] = cm.parent_comment_id
    d["version"] = version_v2(cm, cm.version)
    d["body"] = body_v2(ctx, cm, fmt)
    if cm.location == "inline" and model != "children":
        d["resolutionStatus"] = cm.resolution
        d["properties"] = {"inlineMarkerRef": "marker-%s" % cm.id, "inlineOriginalSelection": cm.inline_selection,
                           "inline-marker-ref": "marker-%s" % cm.id, "inline-original-selection": cm.inline_selection}
        if cm.resolution in ("resolved", "reopened"):
            d["resolutionLastModifierId"] = cm.author
            d["resolutionLastModifiedAt"] = _utc(cm.modified)
    d["_links"] = {"webui": webui(ctx, cm)}
    return d


def label_v2(site, name) -> dict:
    return {"id": site.label_id(name), "name": name, "prefix": "global"}
