"""`confluence-emulator serve ...` — prints one JSON info line on stdout when ready, serves until SIGINT/SIGTERM."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading


def main(argv=None):
    p = argparse.ArgumentParser(prog="confluence-emulator")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run the emulator")
    s.add_argument("--profile", choices=["cloud", "gateway", "data_center"], default="cloud")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--pages", type=int, default=200)
    s.add_argument("--blogposts", type=int, default=None)
    s.add_argument("--spaces", type=int, default=4)
    s.add_argument("--site-shape", choices=["uniform", "real"], default="uniform",
                   help="uniform: edits spread over a year; real: most edits recent, one big space, huge bodies, deep trees")
    s.add_argument("--latency-ms", type=float, default=0)
    s.add_argument("--latency-per-item-ms", type=float, default=0)
    s.add_argument("--latency-per-body-item-ms", type=float, default=0)
    s.add_argument("--time-zone", default="UTC")
    s.add_argument("--context-path", default=None)
    s.add_argument("--faults", default=None, help="JSON object of fault switches")
    s.add_argument("--real-time", action="store_true", help="let the emulator clock follow wall-clock time")
    s.add_argument("--clock-start", default=None,
                   help="the site's time at start: 'now' (this machine's clock) or an ISO instant; default: fixed per seed")
    s.add_argument("--oauth-access-token-ttl", type=int, default=3600)
    s.add_argument("--search-caps", default=None, help='JSON, e.g. {"body": 50, "expand": 200, "none": 1000}')
    s.add_argument("--gateway-links", choices=["site", "gateway"], default="site")
    s.add_argument("--dc-version", default=None,
                   help="the Data Center release to answer as, e.g. 7.19, 8.5, 9.2, 10.0 (default 10.0.3); before 9.1 "
                        "there is no /rest/api/space/{key}/permissions")
    s.add_argument("--tls", action="store_true",
                   help="serve HTTPS with a certificate generated at start; info carries ca_cert_path for clients to trust")
    s.add_argument("--content-tree", choices=["pages", "rich"], default="pages",
                   help="rich: Cloud folders (nested, some restricted), whiteboards, databases and embeds in the tree")
    s.add_argument("--v1-ancestors-include-folders", choices=["yes", "no"], default="yes",
                   help="whether v1 expand=ancestors and CQL ancestor list folders (undocumented by Atlassian)")
    s.add_argument("--media-redirect", choices=["on", "off"], default=None,
                   help="Cloud/gateway downloads answer 302 to a separate media host (default on; Data Center: off)")
    s.add_argument("--media-host", default=None, help="host name in media URLs (default: localhost when --host is 127.0.0.1)")
    s.add_argument("--media-token-ttl", type=int, default=300, help="lifetime of media tokens in emulator-clock seconds")
    s.add_argument("--server", choices=["werkzeug", "keepalive"], default="werkzeug",
                   help="werkzeug: a new connection per request, connection faults available; "
                        "keepalive: kept-alive connections as on a real site (cheroot), no connection faults")
    a = p.parse_args(argv)
    from .clock import clock_start_ms
    from .server import Emulator
    emu = Emulator(profile=a.profile, seed=a.seed, pages=a.pages, blogposts=a.blogposts, spaces=a.spaces, port=a.port,
                   host=a.host, latency_ms=a.latency_ms, latency_per_item_ms=a.latency_per_item_ms,
                   latency_per_body_item_ms=a.latency_per_body_item_ms, time_zone=a.time_zone, context_path=a.context_path,
                   faults=json.loads(a.faults) if a.faults else None, real_time=a.real_time,
                   oauth_access_token_ttl=a.oauth_access_token_ttl,
                   search_caps=json.loads(a.search_caps) if a.search_caps else None, gateway_links=a.gateway_links,
                   tls=a.tls, clock_start_ms=clock_start_ms(a.clock_start), site_shape=a.site_shape, content_tree=a.content_tree,
                   v1_ancestors_include_folders=a.v1_ancestors_include_folders == "yes", dc_version=a.dc_version, media_redirect=a.media_redirect,
                   media_host=a.media_host, media_token_ttl=a.media_token_ttl, server=a.server)
    emu.start()
    stop = threading.Event()

    def on_signal(*_):
        stop.set()
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sys.stdout.write(json.dumps(emu.info) + "\n")
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
