"""Emulator: builds the site, runs it on a threaded HTTP server (in-process or from the CLI).

Two servers, chosen by `server=`:

* ``werkzeug`` (the default): werkzeug's development server. It closes the connection after every response
  (werkzeug 3: "Always close the connection"), so every request pays a new TCP (and TLS) handshake. It can
  emulate connection faults (`reset_ratio`, `truncate_ratio`), which need the raw socket.
* ``keepalive``: cheroot's WSGI server, which keeps HTTP/1.1 connections alive as Confluence's edge does. The
  benchmark uses it: with a handshake per request the emulator's CPU, shared with the client on a small
  machine, made every extra request cost far more than it does against a real site. It cannot emulate
  connection faults. Like a real edge it keeps every idle connection until it times out (cheroot's default
  closed all but 10).
"""
from __future__ import annotations

import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from .admin import AdminClient
from .app import DEFAULT_DC_VERSION, EmulatorApp
from .clock import Clock, start_ms_for_seed
from .generator import build_site
from .tree import CONTENT_TREE_MODES, build_content_tree
from .media import MediaHost

PROFILES = ("cloud", "gateway", "data_center")
SERVERS = ("werkzeug", "keepalive")
# Faults that need the raw socket, which only werkzeug's server hands to the application.
_SOCKET_FAULTS = ("reset_ratio", "truncate_ratio")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *a, **k):
        pass

    def log_error(self, *a, **k):
        pass

    def log(self, *a, **k):
        pass


class _WerkzeugServer:
    """werkzeug's threaded development server on a daemon thread (one connection per request)."""

    def __init__(self, host, port, app, ssl_context, tls_paths, name):
        self._server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler, ssl_context=ssl_context)
        self._server.daemon_threads = True
        self.port = self._server.server_port
        threading.Thread(target=self._server.serve_forever, name=name, daemon=True).start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


class _KeepAliveServer:
    """cheroot's WSGI server on a daemon thread: HTTP/1.1 connections stay open between requests."""

    # Each request holds a thread for its emulated latency too: enough threads that a client's in-flight
    # requests never queue behind one another (the benchmark's clients keep at most 8 to 20 in flight).
    MIN_THREADS, MAX_THREADS = 32, 128

    def __init__(self, host, port, app, ssl_context, tls_paths, name):
        from cheroot import wsgi
        self._server = wsgi.Server((host, port), app, numthreads=self.MIN_THREADS, max=self.MAX_THREADS,
                                   server_name=name)
        # cheroot answers "Connection: close" once 10 idle connections are open, whoever holds them. A real site's
        # edge keeps a client's idle connections until they time out: a client with a connection pool per
        # endpoint (an Airbyte connector has one per stream) otherwise paid a TLS handshake on most requests.
        self._server.keep_alive_conn_limit = None
        # Quiet, as werkzeug's handler is here: a client that drops a connection is not news.
        self._server.error_log = lambda *args, **kwargs: None
        if ssl_context is not None:
            from cheroot.ssl.builtin import BuiltinSSLAdapter
            adapter = BuiltinSSLAdapter(tls_paths["cert_path"], tls_paths["key_path"])
            adapter.context = ssl_context
            self._server.ssl_adapter = adapter
        self._server.prepare()  # binds now, so the port is known before start() returns
        self.port = self._server.bind_addr[1]
        threading.Thread(target=self._server.serve, name=name, daemon=True).start()

    def stop(self):
        self._server.stop()


class Emulator:
    def __init__(self, profile: str = "cloud", seed: int = 1, pages: int = 200, blogposts: int | None = None,
                 spaces: int = 4, port: int = 0, host: str = "127.0.0.1", latency_ms: float = 0,
                 latency_per_item_ms: float = 0, latency_per_body_item_ms: float = 0, time_zone: str = "UTC",
                 context_path: str | None = None, faults: dict | None = None, real_time: bool = False,
                 oauth_access_token_ttl: int = 3600, search_caps: dict | None = None, gateway_links: str = "site",
                 tls: bool = False, clock_start_ms: int | None = None, site_shape: str = "uniform", content_tree: str = "pages",
                 v1_ancestors_include_folders: bool = True, dc_version: str | None = None,
                 media_redirect: str | None = None, media_host: str | None = None, media_token_ttl: int = 300,
                 server: str = "werkzeug"):
        if profile not in PROFILES:
            raise ValueError("profile must be one of %s" % (PROFILES,))
        if server not in SERVERS:
            raise ValueError("server must be one of %s" % (SERVERS,))
        if server == "keepalive" and any((faults or {}).get(k) for k in _SOCKET_FAULTS):
            raise ValueError("the keepalive server cannot emulate %s: use server='werkzeug'" % " or ".join(_SOCKET_FAULTS))
        self.server = server
        # Cloud downloads redirect to the media host by default, as Cloud does; Data Center serves bytes itself.
        if media_redirect is None:
            media_redirect = "off" if profile == "data_center" else "on"
        if media_redirect not in ("on", "off"):
            raise ValueError("media_redirect must be 'on' or 'off'")
        if media_redirect == "on" and profile == "data_center":
            raise ValueError("Data Center serves attachment bytes itself: media_redirect must be 'off'")
        self.media_redirect = media_redirect
        # Another host name makes the media host another origin (and another cookie domain), not just another port.
        self.media_host = media_host or ("localhost" if host == "127.0.0.1" else host)
        self.profile = profile
        self.seed = seed
        self.host = host
        self.tls = tls
        self.tls_paths = None
        self.port = port
        # The site's "now" at start: fixed per seed by default (repeatable tests), or given (the benchmark
        # starts at wall-clock time, so a client's own clock and the site's agree as they do in real life).
        self.clock = Clock(start_ms_for_seed(seed) if clock_start_ms is None else clock_start_ms, real_time=real_time)
        self.site = build_site(profile, seed, self.clock, time_zone, pages, blogposts, spaces, site_shape)
        if content_tree not in CONTENT_TREE_MODES:
            raise ValueError("content_tree must be one of %s" % (CONTENT_TREE_MODES,))
        if content_tree == "rich" and profile != "data_center":  # Data Center has none of these types
            build_content_tree(self.site, seed)
        self.site.v1_ancestors_include_folders = v1_ancestors_include_folders
        if context_path is None:
            context_path = "/confluence" if profile == "data_center" else ""
        f = dict(faults or {})
        f.setdefault("latency_ms", latency_ms)
        f.setdefault("latency_per_item_ms", latency_per_item_ms)
        f.setdefault("latency_per_body_item_ms", latency_per_body_item_ms)
        self.app = EmulatorApp(self.site, profile, seed, context_path if profile == "data_center" else "", f,
                               oauth_ttl=oauth_access_token_ttl, search_caps=search_caps, gateway_links=gateway_links,
                               dc_version=dc_version or DEFAULT_DC_VERSION)
        if media_redirect == "on":
            self.app.media = MediaHost(self.site, seed, self.app.purged_files, token_ttl_seconds=media_token_ttl)
        self._media_server = None
        self._server = None
        self.info = None
        self.admin = None

    @property
    def base_url(self) -> str:
        return self.info["base_url"]

    def _build_info(self, host_url: str) -> dict:
        app = self.app
        info = {"profile": self.profile}
        if self.profile == "data_center":
            info["base_url"] = host_url + app.context_path
            info["context_path"] = app.context_path
            info["dc_version"] = ".".join(str(n) for n in app.dc_version)
        else:
            info["base_url"] = host_url
        if self.profile == "gateway":
            info["api_gateway_url"] = host_url
            info["oauth_token_url"] = host_url + "/oauth/token"
        if self.profile != "data_center":
            info["cloud_id"] = self.site.cloud_id
        info["admin_url"] = host_url + "/__admin"
        info["media_redirect"] = self.media_redirect
        if self.app.media is not None:
            info["media_url"] = self.app.media.url
        if self.tls_paths:
            info["ca_cert_path"] = self.tls_paths["ca_cert_path"]
        info["time_zone"] = self.site.time_zone
        info["clock"] = self.clock.iso()
        info["credentials"] = app.creds.info("admin")
        info["reader_credentials"] = app.creds.info("reader")
        info["counts"] = {"pages": sum(1 for c in self.site.content.values() if c.type == "page"),
                          "blogposts": sum(1 for c in self.site.content.values() if c.type == "blogpost"),
                          "spaces": len(self.site.spaces)}
        return info

    def start(self):
        ssl_context = None
        if self.tls:
            from .tls import make_certificates, server_context
            self.tls_paths = make_certificates(self.host)
            ssl_context = server_context(self.tls_paths)
        serve = _KeepAliveServer if self.server == "keepalive" else _WerkzeugServer
        self._server = serve(self.host, self.port, self.app, ssl_context, self.tls_paths, "confluence-emulator")
        scheme = "https" if self.tls else "http"
        host_url = "%s://%s:%d" % (scheme, self.host, self._server.port)
        self.app.host_url = host_url
        if self.app.media is not None:
            self._media_server = serve(self.host, 0, self.app.media, ssl_context, self.tls_paths, "confluence-emulator-media")
            self.app.media.url = "%s://%s:%d" % (scheme, self.media_host, self._media_server.port)
        self.info = self._build_info(host_url)
        self.info["server"] = self.server
        self.admin = AdminClient(self.info["admin_url"], verify=self.info.get("ca_cert_path", True))
        return self

    def stop(self):
        for server in (self._media_server, self._server):
            if server is not None:
                server.stop()
        self._media_server = self._server = None
        if self.tls_paths:
            import shutil
            shutil.rmtree(self.tls_paths["directory"], ignore_errors=True)
            self.tls_paths = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
