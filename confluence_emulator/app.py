"""The WSGI application: surface detection (site / gateway / DC), auth, faults, dispatch per API family, logging."""
from __future__ import annotations

import socket
import threading
import time
from collections import Counter

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.wrappers import Request, Response

from . import admin as admin_api
from . import v1 as v1_api
from . import v2 as v2_api
from . import tree as tree_api
from .auth import Credentials, OAuthService, authenticate
from .clock import http_date, fmt_utc
from .errors import ApiError, v1_body, v2_body
from .faults import Faults
from .encoding import dumps

JSON_CT = "application/json;charset=UTF-8"
# The WSGI environ key holding when the emulator began to handle a request: the log's elapsed_ms (time in the
# emulator, latency model included) lets a benchmark see how many requests a client really kept in flight.
STARTED = "confluence_emulator.started"

DEFAULT_DC_VERSION = "10.0.3"


def parse_dc_version(text: str) -> tuple:
    """"8.5" or "9.2.1" -> (major, minor, patch): the Data Center release the emulator answers as."""
    parts = [int(p) for p in str(text).strip().split(".") if p != ""]
    if not 1 <= len(parts) <= 3:
        raise ValueError("dc_version must look like 8.5 or 10.0.3, not %r" % text)
    return tuple((parts + [0, 0])[:3])


class Ctx:
    """Per-request context handed to handlers."""

    __slots__ = ("app", "request", "surface", "family", "user", "auth_kind", "dc", "host_url", "site_base", "links_base",
                 "context", "v2_prefix", "v1_prefix", "args", "n_items", "n_body_items", "route", "extra_headers", "site",
                 "memo")

    def __init__(self, app, request, surface, family):
        self.app = app
        self.site = app.site
        self.request = request
        self.surface = surface
        self.family = family
        self.user = None
        self.auth_kind = None
        self.dc = surface == "dc"
        self.host_url = app.host_url
        self.args = request.args
        self.n_items = 0
        self.n_body_items = 0
        self.route = None
        self.extra_headers = {}
        self.memo = None  # shapes shared by records (users, spaces, ancestors): shapes.shape_memo
        if self.dc:
            self.context = app.context_path
            self.site_base = app.host_url + app.context_path
            self.links_base = self.site_base
            self.v1_prefix = app.context_path + "/rest/api"
            self.v2_prefix = None
        else:
            self.context = "/wiki"
            self.site_base = app.host_url + "/wiki"
            gw_links = surface == "gateway" and app.gateway_links == "gateway"
            gw = "/ex/confluence/%s" % app.site.cloud_id
            self.links_base = (app.host_url + gw + "/wiki") if gw_links else self.site_base
            self.v2_prefix = (gw if gw_links else "") + "/wiki/api/v2"
            self.v1_prefix = (gw if surface == "gateway" else "") + "/wiki/rest/api"

    @property
    def cloud(self):
        return not self.dc

    def fmt_time(self, ms: int) -> str:
        return self.app.fmt_time(ms)

    def json(self, obj, status=200, headers=None) -> Response:
        r = Response(dumps(obj), status=status, content_type=JSON_CT)
        for k, v in (headers or {}).items():
            r.headers[k] = v
        return r


class EmulatorApp:
    def __init__(self, site, profile: str, seed: int, context_path: str = "", faults: dict | None = None,
                 oauth_ttl: int = 3600, search_caps: dict | None = None, gateway_links: str = "site", log_limit: int = 50000,
                 dc_version: str = DEFAULT_DC_VERSION):
        self.site = site
        self.dc_version = parse_dc_version(dc_version)
        self.profile = profile
        self.seed = seed
        self.context_path = ("/" + context_path.strip("/")) if context_path and context_path.strip("/") else ""
        self.host_url = "http://127.0.0.1:0"
        self.creds = Credentials(profile, seed, site)
        self.oauth = OAuthService(self.creds, site.clock, seed, oauth_ttl)
        self.faults = Faults(seed, faults)
        site.purges.configure(self.faults.cfg.get("purge_after_listing"), seed)
        self.search_caps = {"body": 50, "expand": 200, "none": 1000, "export_view": 25}
        if search_caps:
            self.search_caps.update(search_caps)
        self.gateway_links = gateway_links
        self.log = []
        self.log_limit = log_limit
        self.stats = {"total": 0, "by_route": Counter(), "by_status": Counter(), "faults": Counter(), "peak_in_flight": 0}
        self.in_flight = 0
        self.lock = threading.Lock()
        self.v1_map = v1_api.url_map()
        self.v2_map = v2_api.url_map()
        self.admin_map = admin_api.url_map()
        tree_api.add_rules(self.v1_map, self.v2_map)  # folders, whiteboards, databases, embeds (tree.py)
        self._tcache = {}
        # Attachments whose bytes were purged from storage while their records stay listed: a download
        # answers 404 (on the media host when it redirects there). Set with DELETE /__admin/files/<aid>.
        self.purged_files: set = set()
        self.media = None  # the Cloud media host (media.MediaHost) when downloads redirect there

    # ------------------------------------------------------------------ helpers
    def fmt_time(self, ms: int) -> str:
        s = self._tcache.get(ms)
        if s is None:
            if self.profile == "data_center":
                from .clock import fmt_local
                s = fmt_local(ms, self.site.time_zone)
            else:
                s = fmt_utc(ms)
            if len(self._tcache) > 200000:
                self._tcache.clear()
            self._tcache[ms] = s
        return s

    def record(self, request, status, family, surface, route, fault=None):
        with self.lock:
            self.stats["total"] += 1
            self.stats["by_route"][route or "unmatched"] += 1
            self.stats["by_status"][str(status)] += 1
            if fault:
                self.stats["faults"][fault] += 1
            if len(self.log) < self.log_limit:
                now = time.time()
                started = request.environ.get(STARTED, now)
                # ``time`` is when the request arrived, as the readers of the log take it (bench/request_log.py,
                # the start-up figures of bench/run.py); the moment of logging is one latency later.
                self.log.append({"method": request.method, "path": request.path, "query": request.query_string.decode("latin-1"),
                                 "status": status, "family": family, "surface": surface, "route": route, "fault": fault,
                                 "auth": request.headers.get("Authorization", "").split(" ")[0] or None,
                                 "time": started, "elapsed_ms": round((now - started) * 1000, 1)})

    # ------------------------------------------------------------------ WSGI
    def __call__(self, environ, start_response):
        environ[STARTED] = time.time()
        request = Request(environ)
        path = request.path
        if path.startswith("/__admin"):
            resp = self.handle_admin(request, path[len("/__admin"):] or "/")
            return resp(environ, start_response)
        # Requests in flight at once (until the answer, latency included): how hard a client pushes the site.
        with self.lock:
            self.in_flight += 1
            self.stats["peak_in_flight"] = max(self.stats["peak_in_flight"], self.in_flight)
        try:
            return self.serve_api(request, environ, start_response)
        finally:
            with self.lock:
                self.in_flight -= 1

    def serve_api(self, request, environ, start_response):
        path = request.path
        surface, family, sub = self.classify(path)
        route = None
        fault = None
        try:
            if surface is None:
                raise ApiError(404, "Not Found", body=None, raw=b"", content_type=None)
            # ---- unauthenticated endpoints
            if family == "edge":
                route = "edge.tenant_info"
                resp = Response(dumps({"cloudId": self.site.cloud_id}), content_type=JSON_CT)
                self.record(request, 200, family, surface, route)
                return resp(environ, start_response)
            if family == "oauth":
                route = "oauth." + sub
                if self.faults.roll("oauth_errors"):
                    fault = "oauth_error"
                    raise ApiError(503, "Service Unavailable", body={"error": "temporarily_unavailable"}, headers={"Retry-After": "1"})
                resp = self.handle_oauth(request, sub)
                self.record(request, resp.status_code, family, surface, route)
                return resp(environ, start_response)
            ctx = Ctx(self, request, surface, family)
            urls = (self.v1_map if family in ("v1", "download") else self.v2_map).bind("emulator", "/")
            try:
                endpoint, values = urls.match(sub, method=request.method)
            except (NotFound, MethodNotAllowed) as e:
                raise ApiError(404 if isinstance(e, NotFound) else 405, "No resource found for %s" % path,
                               body=None if family == "v2" else v1_body(404, "null for uri: %s" % request.url))
            route = "%s.%s" % (family, endpoint)
            ctx.route = route
            # ---- faults before work
            fault_resp = self.pre_faults(request, ctx, route)
            if fault_resp is not None:
                fault, resp = fault_resp
                if fault == "reset":
                    self.record(request, 0, family, surface, route, fault)
                    return self.reset_connection(environ, start_response)
                self.record(request, resp.status_code, family, surface, route, fault)
                return resp(environ, start_response)
            ctx.user, ctx.auth_kind = authenticate(self, request, "dc" if surface == "dc" else surface)
            handler = (v1_api.HANDLERS if family in ("v1", "download") else v2_api.HANDLERS)[endpoint]
            with self.site.lock:
                resp = handler(ctx, **values)
            if isinstance(resp, (dict, list)):
                resp = ctx.json(resp)
            for k, v in ctx.extra_headers.items():
                resp.headers[k] = v
        except ApiError as e:
            resp = self.error_response(e, family)
        except HTTPException as e:
            resp = Response(str(e), status=e.code)
        lat_ms = self.faults.latency_ms(0 if route is None else getattr(locals().get("ctx"), "n_items", 0),
                                        0 if route is None else getattr(locals().get("ctx"), "n_body_items", 0))
        if lat_ms > 0:
            time.sleep(lat_ms / 1000.0)
        # the delay the latency model (and slow_ms) added to this response, so tests can assert on it, not on wall time
        resp.headers["X-Emulator-Latency-Ms"] = "%.3f" % lat_ms
        with self.lock:
            self.stats["latency_ms"] = self.stats.get("latency_ms", 0.0) + lat_ms
        if route and 200 <= resp.status_code < 300 and self.faults.roll("malformed_ratio"):
            body = resp.get_data()
            resp.set_data(body[: len(body) // 2])  # what a misbehaving proxy forwards: valid HTTP, broken JSON
            self.record(request, resp.status_code, family, surface, route, "malformed")
            return resp(environ, start_response)
        if route and 200 <= resp.status_code < 300 and self.faults.roll("truncate_ratio"):
            self.record(request, resp.status_code, family, surface, route, "truncate")
            return self.truncated(environ, start_response, resp)
        self.record(request, resp.status_code, family, surface, route, fault)
        return resp(environ, start_response)

    def classify(self, path: str):
        """-> (surface, family, subpath)."""
        if self.profile == "data_center":
            cp = self.context_path
            if cp and not path.startswith(cp + "/"):
                return None, None, None
            rest = path[len(cp):]
            if rest.startswith("/rest/api/"):
                return "dc", "v1", rest[len("/rest/api"):]
            if rest.startswith("/rest/experimental/"):  # DC's experimental API: the version history list
                return "dc", "v1", "/experimental" + rest[len("/rest/experimental"):]
            if rest.startswith("/download/attachments/"):
                return "dc", "download", rest
            return None, None, None
        if path == "/_edge/tenant_info":
            return "site", "edge", ""
        if self.profile == "gateway":
            if path in ("/oauth/token", "/oauth/token/accessible-resources"):
                return "gateway", "oauth", "token" if path == "/oauth/token" else "accessible_resources"
            if path.startswith("/ex/confluence/"):
                parts = path.split("/", 4)
                if len(parts) < 5 or parts[3] != self.site.cloud_id:
                    return None, None, None
                rest = "/" + parts[4]
                if rest.startswith("/wiki/api/v2/"):
                    return "gateway", "v2", rest[len("/wiki/api/v2"):]
                if rest.startswith("/wiki/rest/api/"):
                    return "gateway", "v1", rest[len("/wiki/rest/api"):]
                return None, None, None
        if path.startswith("/wiki/api/v2/"):
            return "site", "v2", path[len("/wiki/api/v2"):]
        if path.startswith("/wiki/rest/api/"):
            return "site", "v1", path[len("/wiki/rest/api"):]
        if path.startswith("/wiki/download/attachments/"):
            return "site", "download", path[len("/wiki"):]
        return None, None, None

    def pre_faults(self, request, ctx, route):
        f = self.faults
        tok = f.take_token(route + ":" + request.method)
        if tok is not None and tok[0] == "limited":
            _, cap, rem, wait = tok
            retry = str(wait) if (f.cfg["rate_limit"] or {}).get("retry_after", "seconds") == "seconds" else \
                http_date(int((time.time() + wait) * 1000))
            hdr = {"Retry-After": retry, "X-RateLimit-Limit": str(cap), "X-RateLimit-Remaining": "0",
                   "X-RateLimit-Reset": fmt_utc(int((time.time() + wait) * 1000)).replace(".000Z", "Z"),
                   "RateLimit-Reason": "confluence-burst-based"}
            return "rate_limit", self.error_response(ApiError(429, "Rate limit exceeded", headers=hdr), ctx.family)
        if tok is not None:
            ctx.extra_headers.update({"X-RateLimit-Limit": str(tok[1]), "X-RateLimit-Remaining": str(tok[2])})
            if tok[2] < 0.2 * tok[1]:
                ctx.extra_headers["X-RateLimit-NearLimit"] = "true"
        if f.roll("rate_limit_ratio"):
            hdr = {"Retry-After": "1", "X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                   "RateLimit-Reason": "confluence-quota-tenant-based"}
            return "rate_limit_ratio", self.error_response(ApiError(429, "Rate limit exceeded", headers=hdr), ctx.family)
        if f.roll("unavailable_ratio"):
            return "unavailable", self.error_response(ApiError(503, "Service Unavailable", headers={"Retry-After": "1"}), ctx.family)
        if f.roll("error_ratio"):
            return "error", self.error_response(ApiError(500, "java.lang.RuntimeException: Internal server error"), ctx.family)
        lim = f.cfg.get("gateway_timeout_over_limit")
        if lim is not None:
            try:
                if int(request.args.get("limit", "0")) > int(lim):
                    r = Response(b"<html><body><h1>504 Gateway Time-out</h1></body></html>", status=504, content_type="text/html")
                    return "gateway_timeout", r
            except ValueError:
                pass
        if f.roll("reset_ratio"):
            return "reset", None
        return None

    def reset_connection(self, environ, start_response):
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass
        raise ConnectionResetError("emulated connection reset")

    def truncated(self, environ, start_response, resp):
        body = resp.get_data()
        headers = [(k, v) for k, v in resp.headers.items() if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(resp.status, headers)
        sock = environ.get("werkzeug.socket")

        def gen():
            yield body[: len(body) // 2]
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            raise ConnectionAbortedError("emulated truncation")
        return gen()

    def error_response(self, e: ApiError, family) -> Response:
        if e.raw is not None:
            r = Response(e.raw, status=e.status)
            if e.content_type:
                r.headers["Content-Type"] = e.content_type
            else:
                r.headers.pop("Content-Type", None)
        else:
            body = e.body
            if body is None:
                if family == "v2":
                    body = v2_body(e.status, e.message if e.status not in (401, 429, 500, 503) else None, code=e.code)
                else:
                    body = v1_body(e.status, e.message, authorized=e.authorized, valid=e.valid)
            r = Response(dumps(body), status=e.status, content_type=JSON_CT)
        for k, v in e.headers.items():
            r.headers[k] = v
        return r

    # ------------------------------------------------------------------ OAuth
    def handle_oauth(self, request, sub):
        if sub == "token":
            if request.method != "POST":
                return Response(dumps({"error": "method_not_allowed"}), status=405, content_type=JSON_CT)
            if request.is_json:
                form = request.get_json(silent=True) or {}
            else:
                form = request.form.to_dict()
            status, body = self.oauth.token(form)
            return Response(dumps(body), status=status, content_type=JSON_CT)
        h = request.headers.get("Authorization", "")
        acct = self.oauth.check_access(h.split(" ", 1)[1].strip()) if h.lower().startswith("bearer ") else None
        if not acct:
            return Response(dumps({"code": 401, "message": "Unauthorized"}), status=401, content_type=JSON_CT)
        return Response(dumps([{"id": self.site.cloud_id, "name": "emulator-%d" % self.seed, "url": self.host_url,
                                "scopes": OAuthService.SCOPES, "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/site.png"}]),
                        content_type=JSON_CT)

    # ------------------------------------------------------------------ admin
    def handle_admin(self, request, sub):
        urls = self.admin_map.bind("emulator", "/")
        try:
            endpoint, values = urls.match(sub, method=request.method)
        except (NotFound, MethodNotAllowed):
            return Response(dumps({"error": "no admin route %s %s" % (request.method, sub)}), status=404, content_type=JSON_CT)
        try:
            with self.site.lock:
                if request.method != "GET":
                    self.generation = getattr(self, "generation", 0) + 1  # invalidates the listing caches (v1.py)
                status, body = admin_api.HANDLERS[endpoint](self, request, **values)
        except admin_api.AdminError as e:
            status, body = e.status, {"error": str(e)}
        return Response(dumps(body), status=status, content_type=JSON_CT)
