"""The ideal client: the fewest requests any client could make for pages and blog posts with bodies.

    python -m bench.ideal --base-url URL --email E --token T --spaces KEY,KEY --ca CA [--concurrency 12]
    python -m bench.ideal ... --since "page=YYYY-MM-DD HH:MM,blogpost=YYYY-MM-DD HH:MM"   (the ideal incremental sync)

It knows the space keys (no space listing), asks CQL `content/search` for each (space, type) with the
largest page the API allows with a body expanded (the server caps it: 50 on the emulator, as on Data
Center and Cloud with `body.storage`), follows `_links.next` and does nothing with the records but count
them: no parsing beyond `json.loads`, no transformation, no output. Every walk runs at once (one thread
each, up to --concurrency), because a cursor walk is sequential by nature and the walks are independent.
So: requests = sum over walks of ceil(items / cap) (one extra partial page per walk at most), and wall
time = the longest walk. That is the floor for any client that reads with cursor pagination.

With --since it is the ideal incremental sync: one walk per type over the whole site, from that type's
cursor minute (the site's time zone; the benchmark's site is in UTC). No lookback and no look-ups: the floor
for reading what changed since a previous sync.
"""
import argparse
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

EXPAND = "body.storage,version,space,history,ancestors,metadata.labels"


def walk(session, base_url, space, ctype, limit, window=None, since=None):
    cql = 'type = %s AND status IN ("current", "archived")' % ctype
    if space:
        cql += ' AND space = "%s"' % space
    if since:
        cql += ' AND lastmodified >= "%s"' % since
    if window:
        cql += ' AND lastmodified >= "%s" AND lastmodified < "%s"' % window
    url, params, n, reqs = base_url + "/wiki/rest/api/content/search", {"cql": cql, "expand": EXPAND, "limit": limit}, 0, 0
    while url:
        r = session.get(url, params=params, timeout=120)
        r.raise_for_status()
        body = r.json()
        reqs += 1
        n += len(body.get("results", []))
        nxt = body.get("_links", {}).get("next")
        if not nxt or not body.get("results"):
            break
        url, params = body["_links"]["base"] + nxt, None
    return ctype, n, reqs


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--base-url", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--spaces", required=True)
    p.add_argument("--ca", default=None)
    p.add_argument("--limit", type=int, default=250, help="asked for; the server clamps it to its cap")
    p.add_argument("--concurrency", type=int, default=40)
    p.add_argument("--windows", type=int, default=1,
                   help="split each (space, type) walk into this many equal lastmodified windows, for concurrency inside a space")
    p.add_argument("--now", default=None, help="the site's current time (ISO, UTC); windows cover the 400 days before it")
    p.add_argument("--since", default=None,
                   help="type=minute,...: only what changed from each type's minute on, one walk per type (incremental)")
    a = p.parse_args(argv)
    local = threading.local()

    def session():
        s = getattr(local, "s", None)
        if s is None:
            s = local.s = requests.Session()
            s.auth = (a.email, a.token)
            s.headers["Accept"] = "application/json"
            if a.ca:
                s.verify = a.ca
        return s

    windows = [None]
    if a.windows > 1:
        import datetime
        end = datetime.datetime.fromisoformat(a.now.replace("Z", "+00:00")).replace(tzinfo=None) + datetime.timedelta(days=1)
        start = end - datetime.timedelta(days=401)
        edges = [start + (end - start) * i / a.windows for i in range(a.windows + 1)]
        edges[0] = datetime.datetime(1970, 1, 1)
        edges[-1] = end + datetime.timedelta(days=3650)
        fmt = lambda d: d.strftime("%Y-%m-%d %H:%M")
        windows = [(fmt(edges[i]), fmt(edges[i + 1])) for i in range(a.windows)]
    since = dict(pair.split("=", 1) for pair in a.since.split(",")) if a.since else {}
    spaces = [None] if since else a.spaces.split(",")
    jobs = [(sp, t, w) for sp in spaces for t in ("page", "blogpost") for w in windows]
    counts = {"page": 0, "blogpost": 0}
    with ThreadPoolExecutor(max_workers=min(a.concurrency, len(jobs))) as pool:
        for ctype, n, _ in pool.map(lambda j: walk(session(), a.base_url, j[0], j[1], a.limit, j[2], since.get(j[1])), jobs):
            counts[ctype] += n
    json.dump({"records": {"pages": counts["page"], "blog_posts": counts["blogpost"]}}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
