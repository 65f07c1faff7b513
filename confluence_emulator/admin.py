"""Admin API (`/__admin`, no Confluence auth): truth, request log, clock, content mutations, restrictions, faults."""
from __future__ import annotations

import base64
import json

from werkzeug.routing import Map, Rule

from .site import Content, Space, Version

DAY_MS = 86_400_000
# What a new space grants unless told otherwise: every logged-in user, as the generated global spaces.
DEFAULT_SPACE_VIEW_GROUPS = ("confluence-users", "confluence-administrators")


class AdminError(Exception):
    def __init__(self, status, msg):
        super().__init__(msg)
        self.status = status


def url_map():
    R = Rule
    return Map([
        R("/site", endpoint="site", methods=["GET"]),
        R("/requests", endpoint="requests", methods=["GET"]),
        R("/requests/reset", endpoint="requests_reset", methods=["POST"]),
        R("/stats", endpoint="stats", methods=["GET"]),
        R("/clock", endpoint="clock", methods=["GET", "POST"]),
        R("/pages", endpoint="create_page", methods=["POST"]),
        R("/blogposts", endpoint="create_blogpost", methods=["POST"]),
        R("/content/<cid>", endpoint="edit", methods=["PATCH"]),
        R("/content/<cid>", endpoint="purge", methods=["DELETE"]),
        R("/content/<cid>/move", endpoint="move", methods=["POST"]),
        R("/content/<cid>/trash", endpoint="trash", methods=["POST"]),
        R("/content/<cid>/restore", endpoint="restore", methods=["POST"]),
        R("/content/<cid>/comments", endpoint="comment", methods=["POST"]),
        R("/content/<cid>/attachments", endpoint="attachment", methods=["POST"]),
        R("/content/<cid>/restrictions", endpoint="restrictions", methods=["PUT"]),
        R("/spaces", endpoint="create_space", methods=["POST"]),
        R("/spaces/<key>/permissions", endpoint="space_permissions", methods=["PUT"]),
        R("/faults", endpoint="faults", methods=["GET", "PUT"]),
        R("/truth/effective_access/<cid>", endpoint="effective_access", methods=["GET"]),
        R("/files/<aid>", endpoint="purge_file", methods=["DELETE"]),
        R("/media/requests", endpoint="media_requests", methods=["GET"]),
    ], strict_slashes=False)


HANDLERS = {}


def h(name):
    def deco(fn):
        HANDLERS[name] = fn
        return fn
    return deco


def body(request) -> dict:
    if not request.data:
        return {}
    try:
        return json.loads(request.data)
    except ValueError:
        raise AdminError(400, "body must be JSON")


def _content(app, cid) -> Content:
    c = app.site.content.get(cid)
    if c is None:
        raise AdminError(404, "no content %s" % cid)
    return c


def _user(app, ident):
    if not ident:
        return app.site.user_by_any("admin")
    u = app.site.user_by_any(ident)
    if u is None:
        raise AdminError(400, "unknown user %s" % ident)
    return u


def content_summary(c):
    return {"id": c.id, "type": c.type, "status": c.status, "title": c.title, "space_key": c.space_key,
            "parent_id": c.parent_id, "container_id": c.container_id, "version": c.version.number,
            "created_ms": c.created, "modified_ms": c.modified}


@h("site")
def site(app, request):
    return 200, app.site.summary()


@h("requests")
def requests_(app, request):
    with app.lock:
        return 200, {"requests": list(app.log), "count": len(app.log)}


@h("media_requests")
def media_requests(app, request):
    if app.media is None:
        return 200, {"requests": [], "count": 0, "enabled": False}
    with app.media.lock:
        return 200, {"requests": list(app.media.log), "count": len(app.media.log), "enabled": True}


@h("purge_file")
def purge_file(app, request, aid):
    a = _content(app, aid)
    if a.type != "attachment":
        raise AdminError(400, "%s is not an attachment" % aid)
    app.purged_files.add(a.id)
    return 200, {"purged_file": a.id}


@h("requests_reset")
def requests_reset(app, request):
    if app.media is not None:
        with app.media.lock:
            app.media.log.clear()
    with app.lock:
        app.log.clear()
        app.stats["total"] = 0
        for k in ("by_route", "by_status", "faults"):
            app.stats[k].clear()
        app.stats["latency_ms"] = 0.0
        app.stats["peak_in_flight"] = app.in_flight
    return 200, {"ok": True}


@h("stats")
def stats(app, request):
    with app.lock:
        s = app.stats
        return 200, {"total": s["total"], "by_route": dict(s["by_route"]), "by_status": dict(s["by_status"]), "faults": dict(s["faults"]),
                     "latency_ms": round(s.get("latency_ms", 0.0), 3), "peak_in_flight": s["peak_in_flight"],
                     "oauth_refreshes": dict(app.oauth.refresh_outcomes)}


@h("clock")
def clock(app, request):
    ck = app.site.clock
    if request.method == "POST":
        b = body(request)
        if "advance_seconds" in b:
            ck.advance(float(b["advance_seconds"]))
        elif "set" in b:
            ck.set(b["set"])
        else:
            raise AdminError(400, "expected advance_seconds or set")
    return 200, {"now": ck.iso(), "now_ms": ck.now_ms()}


def _create(app, request, type_):
    s = app.site
    b = body(request)
    sp = s.spaces.get(b.get("space_key"))
    if sp is None:
        raise AdminError(400, "unknown space_key %r" % b.get("space_key"))
    title = b.get("title")
    if not title:
        raise AdminError(400, "title required")
    if any(c.title == title and c.space_key == sp.key and c.type == type_ and c.status != "deleted" for c in s.content.values()):
        raise AdminError(409, "a %s with this title already exists in %s" % (type_, sp.key))
    parent = b.get("parent_id") or (sp.homepage_id if type_ == "page" else None)
    if parent is not None and parent not in s.content:
        raise AdminError(400, "unknown parent_id")
    u = _user(app, b.get("author"))
    t = s.clock.tick()
    c = Content(id=str(s.new_id()), type=type_, status="current", title=title, space_key=sp.key,
                parent_id=parent if type_ == "page" else None, position=len(s.kids.get(parent, ())) if type_ == "page" else None,
                author=u.account_id, owner=u.account_id, body=b.get("body") or "<p>%s</p>" % title, labels=list(b.get("labels", [])))
    c.num = int(c.id)
    c.versions = [Version(1, t, u.account_id, "", False)]
    s.add(c)
    for l in c.labels:
        s.label_id(l)
    s.touch()
    return 201, content_summary(c)


@h("create_page")
def create_page(app, request):
    return _create(app, request, "page")


@h("create_blogpost")
def create_blogpost(app, request):
    return _create(app, request, "blogpost")


@h("edit")
def edit(app, request, cid):
    s = app.site
    c = _content(app, cid)
    b = body(request)
    u = _user(app, b.get("author"))
    t = s.clock.tick()
    if "title" in b:
        c.title = b["title"]
    if "body" in b:
        c.body = b["body"]
        c.view = None
    else:
        s.storage(c)
        c.view = None
    if "labels" in b:
        c.labels = list(b["labels"])
        for l in c.labels:
            s.label_id(l)
    c.versions.append(Version(c.version.number + 1, t, u.account_id, b.get("message", ""), bool(b.get("minor_edit", False))))
    s.touch()
    return 200, content_summary(c)


@h("move")
def move(app, request, cid):
    s = app.site
    c = _content(app, cid)
    b = body(request)
    s.unlink(c)
    if b.get("space_key"):
        if b["space_key"] not in s.spaces:
            raise AdminError(400, "unknown space")
        new_space = b["space_key"]
        stack = [c]
        while stack:
            x = stack.pop()
            x.space_key = new_space
            stack.extend(s.content[i] for i in s.kids.get(x.id, ()))
        if not b.get("parent_id") and c.type == "page":
            c.parent_id = s.spaces[new_space].homepage_id
    if b.get("parent_id"):
        if b["parent_id"] not in s.content or b["parent_id"] == c.id:
            raise AdminError(400, "bad parent_id")
        c.parent_id = b["parent_id"]
    s.add(c)
    t = s.clock.tick()
    c.versions.append(Version(c.version.number + 1, t, _user(app, b.get("author")).account_id, "Moved", True))
    s.touch()
    return 200, content_summary(c)


@h("trash")
def trash(app, request, cid):
    c = _content(app, cid)
    c.prev_status = c.status
    c.status = "trashed"
    app.site.clock.tick()
    app.site.touch()
    return 200, content_summary(c)


@h("restore")
def restore(app, request, cid):
    c = _content(app, cid)
    c.status = c.prev_status if c.prev_status and c.prev_status != "trashed" else "current"
    app.site.clock.tick()
    app.site.touch()
    return 200, content_summary(c)


@h("purge")
def purge(app, request, cid):
    s = app.site
    c = _content(app, cid)
    s.clock.tick()
    for x in list(s.content.values()):
        if x.container_id == c.id:
            s.unlink(x)
            del s.content[x.id]
    for k in list(s.kids.get(c.id, ())):
        ch = s.content.get(k)
        if ch is not None and ch.type == "page":
            ch.parent_id = c.parent_id
            s.kids.setdefault(c.parent_id, []).append(ch.id)
    s.kids.pop(c.id, None)
    s.unlink(c)
    del s.content[c.id]
    s.touch()
    return 200, {"purged": cid}


@h("comment")
def comment(app, request, cid):
    s = app.site
    c = _content(app, cid)
    b = body(request)
    loc = b.get("location", "footer")
    if loc not in ("footer", "inline"):
        raise AdminError(400, "location must be footer or inline")
    parent = b.get("parent_comment_id")
    if parent and parent not in s.content:
        raise AdminError(400, "unknown parent_comment_id")
    u = _user(app, b.get("author"))
    t = s.clock.tick()
    cm = Content(id=str(s.new_id()), type="comment", status="current", title="Re: %s" % c.title, space_key=c.space_key,
                 container_id=c.id, author=u.account_id, location=loc, parent_comment_id=parent, body=b.get("body", "<p>comment</p>"))
    cm.num = int(cm.id)
    cm.versions = [Version(1, t, u.account_id, "", False)]
    if loc == "inline":
        cm.resolution = b.get("resolution", "open")
        cm.inline_selection = b.get("selection", "selected text")
    s.add(cm)
    s.touch()
    return 201, content_summary(cm)


@h("attachment")
def attachment(app, request, cid):
    s = app.site
    c = _content(app, cid)
    b = body(request)
    try:
        data = base64.b64decode(b.get("data_base64", ""))
    except Exception:
        raise AdminError(400, "data_base64 is not base64")
    if not b.get("filename"):
        raise AdminError(400, "filename required")
    u = _user(app, b.get("author"))
    t = s.clock.tick()
    a = Content(id="att" + str(s.new_id()), type="attachment", status="current", title=b["filename"], filename=b["filename"],
                space_key=c.space_key, container_id=c.id, author=u.account_id, media_type=b.get("media_type", "application/octet-stream"),
                blob=data, att_comment=b.get("comment", ""))
    a.num = int(a.id[3:])
    a.versions = [Version(1, t, u.account_id, "", False)]
    s.add(a)
    s.touch()
    return 201, content_summary(a)


@h("restrictions")
def restrictions(app, request, cid):
    s = app.site
    c = _content(app, cid)
    b = body(request)

    def resolve(spec):
        if spec is None:
            return None, None
        users = set()
        for ident in spec.get("users", []):
            u = s.user_by_any(ident)
            if u is None:
                raise AdminError(400, "unknown user %s" % ident)
            users.add(u.account_id)
        groups = set(spec.get("groups", []))
        for g in groups:
            if g not in s.groups:
                raise AdminError(400, "unknown group %s" % g)
        if not users and not groups:
            return None, None
        return users, groups
    if "read" in b:
        c.read_users, c.read_groups = resolve(b["read"])
    if "update" in b:
        c.update_users, c.update_groups = resolve(b["update"])
    s.clock.tick()
    s.touch()
    return 200, {"id": c.id, "read": {"users": sorted(c.read_users or ()), "groups": sorted(c.read_groups or ())},
                 "update": {"users": sorted(c.update_users or ()), "groups": sorted(c.update_groups or ())}}


def _principals(app, spec) -> tuple[set, set]:
    """(account ids, group names) named by ``{"users": [any user id], "groups": [names]}``."""
    s = app.site
    users = set()
    for ident in (spec or {}).get("users", []):
        u = s.user_by_any(ident)
        if u is None:
            raise AdminError(400, "unknown user %s" % ident)
        users.add(u.account_id)
    groups = set((spec or {}).get("groups", []))
    for g in groups:
        if g not in s.groups:
            raise AdminError(400, "unknown group %s" % g)
    return users, groups


def space_summary(sp: Space) -> dict:
    return {"key": sp.key, "id": sp.id, "name": sp.name, "homepage_id": sp.homepage_id,
            "view_users": sorted(sp.view_users), "view_groups": sorted(sp.view_groups)}


@h("create_space")
def create_space(app, request):
    """A global space, optionally with ``pages`` pages and ``blogposts`` blog posts last modified
    ``modified_days_ago`` days ago (one second apart): content that exists before a sync looks at the space.
    ``view`` (``{"users", "groups"}``) says who may see it; by default every logged-in user."""
    s = app.site
    b = body(request)
    key = b.get("key")
    if not isinstance(key, str) or not key or not key.isalnum():
        raise AdminError(400, "key must be letters and digits")
    if key in s.spaces:
        raise AdminError(409, "space %s exists" % key)
    counts = {}
    for field in ("pages", "blogposts", "modified_days_ago"):
        value = b.get(field, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise AdminError(400, "%s must be a whole number >= 0" % field)
        counts[field] = value
    if "view" in b:
        view_users, view_groups = _principals(app, b["view"])
    else:
        view_users, view_groups = set(), set(DEFAULT_SPACE_VIEW_GROUPS)
    author = _user(app, b.get("author"))
    now = s.clock.tick()
    when = now - counts["modified_days_ago"] * DAY_MS
    sp = Space(id=max(x.id for x in s.spaces.values()) + 3, key=key, name=b.get("name") or key, type="global",
               status="current", homepage_id=None, description="%s space." % (b.get("name") or key),
               created_ms=when, author_id=author.account_id, view_users=view_users, view_groups=view_groups)
    s.spaces[key] = sp

    def add(type_, title, parent_id, at):
        c = Content(id=str(s.new_id()), type=type_, status="current", title=title, space_key=key, parent_id=parent_id,
                    position=len(s.kids.get(parent_id, ())) if type_ == "page" else None, author=author.account_id,
                    owner=author.account_id, labels=[])
        c.num = int(c.id)
        c.versions = [Version(1, at, author.account_id, "", False)]
        return s.add(c)

    home = add("page", "%s Home" % sp.name, None, when)
    sp.homepage_id = home.id
    for i in range(counts["pages"]):
        add("page", "%s page %d" % (key, i + 1), home.id, when + (i + 1) * 1000)
    for i in range(counts["blogposts"]):
        add("blogpost", "%s blog post %d" % (key, i + 1), None, when + (i + 1) * 1000)
    s.touch()
    return 201, space_summary(sp)


@h("space_permissions")
def space_permissions(app, request, key):
    """Grant and/or revoke a space's view permission: ``{"grant": {"users", "groups"}, "revoke": {...}}``.
    Every listing, search and the effective-access truth follow at once."""
    s = app.site
    sp = s.spaces.get(key)
    if sp is None:
        raise AdminError(404, "no space %s" % key)
    b = body(request)
    if not set(b) & {"grant", "revoke"}:
        raise AdminError(400, "expected grant and/or revoke")
    grant_users, grant_groups = _principals(app, b.get("grant"))
    revoke_users, revoke_groups = _principals(app, b.get("revoke"))
    sp.view_users = (sp.view_users | grant_users) - revoke_users
    sp.view_groups = (sp.view_groups | grant_groups) - revoke_groups
    s.clock.tick()
    s.touch()
    return 200, space_summary(sp)


@h("faults")
def faults(app, request):
    if request.method == "PUT":
        b = body(request)
        try:
            cfg = app.faults.update(b, replace=bool(b.pop("_replace", False)) if isinstance(b, dict) else False)
            if "purge_after_listing" in b or not cfg.get("purge_after_listing"):
                app.site.purges.configure(cfg.get("purge_after_listing"), app.seed)
        except ValueError as e:
            raise AdminError(400, str(e))
        return 200, cfg
    return 200, dict(app.faults.cfg)


@h("effective_access")
def effective_access(app, request, cid):
    return 200, app.site.effective_access(_content(app, cid))


class AdminClient:
    """requests-based client for the admin API; method names mirror the routes."""

    def __init__(self, admin_url: str, verify=True):
        import requests
        self.url = admin_url.rstrip("/")
        self.http = requests.Session()
        self.verify = verify  # with TLS: the emulator's ca_cert_path (per request: REQUESTS_CA_BUNDLE beats Session.verify)

    def _do(self, method, path, payload=None):
        r = self.http.request(method, self.url + path, json=payload, timeout=30, verify=self.verify)
        if r.status_code >= 400:
            raise RuntimeError("admin %s %s -> %s %s" % (method, path, r.status_code, r.text))
        return r.json()

    def site(self):
        return self._do("GET", "/site")

    def requests(self):
        return self._do("GET", "/requests")["requests"]

    def stats(self):
        return self._do("GET", "/stats")

    def reset_requests(self):
        return self._do("POST", "/requests/reset")

    def clock(self):
        return self._do("GET", "/clock")

    def advance_clock(self, seconds):
        return self._do("POST", "/clock", {"advance_seconds": seconds})

    def set_clock(self, iso):
        return self._do("POST", "/clock", {"set": iso})

    def create_page(self, space_key, title, body=None, parent_id=None, **kw):
        return self._do("POST", "/pages", dict(space_key=space_key, title=title, body=body, parent_id=parent_id, **kw))

    def create_blogpost(self, space_key, title, body=None, **kw):
        return self._do("POST", "/blogposts", dict(space_key=space_key, title=title, body=body, **kw))

    def edit(self, content_id, title=None, body=None, message=None, **kw):
        p = {k: v for k, v in dict(title=title, body=body, message=message, **kw).items() if v is not None}
        return self._do("PATCH", "/content/%s" % content_id, p)

    def move(self, content_id, parent_id=None, space_key=None):
        return self._do("POST", "/content/%s/move" % content_id, {"parent_id": parent_id, "space_key": space_key})

    def trash(self, content_id):
        return self._do("POST", "/content/%s/trash" % content_id)

    def restore(self, content_id):
        return self._do("POST", "/content/%s/restore" % content_id)

    def purge(self, content_id):
        return self._do("DELETE", "/content/%s" % content_id)

    def add_comment(self, content_id, body, parent_comment_id=None, location="footer", **kw):
        return self._do("POST", "/content/%s/comments" % content_id, dict(body=body, parent_comment_id=parent_comment_id, location=location, **kw))

    def add_attachment(self, content_id, filename, media_type, data: bytes):
        return self._do("POST", "/content/%s/attachments" % content_id, {"filename": filename, "media_type": media_type,
                                                                        "data_base64": base64.b64encode(data).decode()})

    def purge_file(self, attachment_id):
        return self._do("DELETE", "/files/%s" % attachment_id)

    def media_requests(self):
        return self._do("GET", "/media/requests")["requests"]

    def set_restrictions(self, content_id, read=None, update=None):
        p = {}
        if read is not None:
            p["read"] = read
        if update is not None:
            p["update"] = update
        return self._do("PUT", "/content/%s/restrictions" % content_id, p)

    def create_space(self, key, name=None, pages=0, blogposts=0, modified_days_ago=0, view=None, author=None):
        payload = {"key": key, "pages": pages, "blogposts": blogposts, "modified_days_ago": modified_days_ago}
        payload.update({k: v for k, v in (("name", name), ("view", view), ("author", author)) if v is not None})
        return self._do("POST", "/spaces", payload)

    def grant_space(self, key, users=(), groups=()):
        return self._do("PUT", "/spaces/%s/permissions" % key, {"grant": {"users": list(users), "groups": list(groups)}})

    def revoke_space(self, key, users=(), groups=()):
        return self._do("PUT", "/spaces/%s/permissions" % key, {"revoke": {"users": list(users), "groups": list(groups)}})

    def set_faults(self, **faults):
        return self._do("PUT", "/faults", faults)

    def reset_faults(self):
        return self._do("PUT", "/faults", {"_replace": True})

    def faults(self):
        return self._do("GET", "/faults")

    def effective_access(self, content_id):
        return self._do("GET", "/truth/effective_access/%s" % content_id)
