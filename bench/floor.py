"""The floor: the fastest client this benchmark can write for the connector's `pages` + `blog_posts` output,
with at most 8 requests in flight (the budget Atlassian's rate limits reward and the connector is held to).

    BENCH_EMAIL=E BENCH_TOKEN=T python -m bench.floor --base-url URL --ca CA [--in-flight 8] [--bodies cql|v2] [--out FILE]

Output: one JSON line per page or blog post, with what the connector's records carry from Confluence: id, type,
status, title, space (id and key), author, created and modified times, version, storage body, labels and
ancestors (id, type, title). Written to --out (default: nowhere, os.devnull), then one summary line on stdout,
`{"records": {"pages": N, "blog_posts": M}, ...}`, which bench/run.py reads.

What it skips, and the connector must do: listing spaces, the time-zone look-up, incremental state, the
schema's normalisation beyond the fields above, Markdown conversion, effective read access (space permissions,
restrictions of the content and its ancestors), mention names, the Airbyte protocol on stdout.

How it partitions (by work, not by calendar): every request is done by one of --in-flight worker threads, so
no more than that many are ever in flight. Work is a queue:
  1. two `/rest/api/search` requests side by side (`ORDER BY lastmodified ASC` and `DESC`, limit 1) give the
     site's size (`totalSize`, documented on Cloud's `/search`) and its oldest and newest edits; the span
     between them is cut into 8 equal-time windows (plus the open ends before and after it, normally empty);
  2. a window of `lastmodified` minutes is counted the same way; a window with more than the target (about
     1/32 of the site, between 250 and 2,000 items) is cut into equal-time parts that are counted again, so a
     month of heavy editing ends up in as many windows as a quiet year needs one; a small enough window
     becomes a walk. On a real-shaped site, where half the edits are in the last tenth of its age, the
     recent windows are short and the old ones long, each about the same number of items;
  3. --bodies cql (default): a walk is CQL `content/search` over its window with every expand the record
     needs (body.storage, version, space, history, ancestors, metadata.labels), 50 a page (the cap with a
     body), following `_links.next`;
     --bodies v2: a walk lists its window without bodies (the same expands minus the body, 200 a page), and
     each page of ids becomes body jobs on the queue: v2 `/pages?id=...` or `/blogposts?id=...` with
     `body-format=storage`, 250 ids a request. Ids v2 does not return (archived blog posts: v2 `/blogposts`
     knows no `archived` status) are asked of CQL `id IN (...)` with the body expand.
CQL date literals are in the site's time zone and `/search` answers in UTC: the windows assume a UTC site (as
the benchmark's is); on another zone they are shifted, and the open ends catch what the shift leaves out.
The queue runs walks and body jobs as soon as they are known, while other windows are still being counted,
so the workers stay busy until the last page, and the sequential tail is one window's walk (a few pages).
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import json
import math
import os
import queue
import sys
import threading

import requests

STATUSES = '"current", "archived"'
META_EXPAND = "version,space,history,ancestors,metadata.labels"
BODY_EXPAND = "body.storage," + META_EXPAND
CQL_FORMAT = "%Y-%m-%d %H:%M"
V2_IDS = 250
STREAMS = {"page": "pages", "blogpost": "blog_posts"}


class Client:
    """Requests through thread-local sessions; the worker pool's size is what bounds requests in flight."""

    def __init__(self, base_url, email, token, ca):
        self.base_url, self.auth, self.ca = base_url, (email, token), ca
        self.local = threading.local()
        self.requests = 0
        self.lock = threading.Lock()

    def get(self, url, params=None):
        s = getattr(self.local, "s", None)
        if s is None:
            s = self.local.s = requests.Session()
            s.auth = self.auth
            s.headers["Accept"] = "application/json"
        # verify per request: a Session's own `verify` loses to REQUESTS_CA_BUNDLE from the environment
        r = s.get(url if url.startswith("http") else self.base_url + url, params=params, timeout=300, verify=self.ca or True)
        with self.lock:
            self.requests += 1
        r.raise_for_status()
        return r.json()


class WorkQueue:
    """A fixed pool of workers over a priority queue of jobs that may add jobs; `run` returns when all are done.

    Lower priority numbers go first: body jobs before counts (so fetched metadata does not pile up), counts
    before walks (so every window is known early and the workers never wait for one)."""

    def __init__(self, workers):
        self.jobs = queue.PriorityQueue()
        self.workers = workers
        self.errors = []
        self.seq = itertools.count()

    def put(self, priority, fn, *args):
        self.jobs.put((priority, next(self.seq), fn, args))

    def run(self):
        def work():
            while True:
                _, _, fn, args = self.jobs.get()
                if fn is None:
                    return
                try:
                    fn(*args)
                except Exception as e:  # one failed job is reported, the others go on
                    self.errors.append("%s: %s" % (type(e).__name__, e))
                finally:
                    self.jobs.task_done()
        threads = [threading.Thread(target=work, daemon=True) for _ in range(self.workers)]
        for t in threads:
            t.start()
        self.jobs.join()
        for _ in threads:
            self.jobs.put((99, next(self.seq), None, ()))
        for t in threads:
            t.join()


BODIES, COUNT, WALK = 0, 1, 2


def minute(d: datetime.datetime) -> str:
    return d.strftime(CQL_FORMAT)


class Floor:
    """The jobs: the first look at the site, counting and cutting windows, walking them, fetching bodies by id."""

    def __init__(self, client, in_flight, bodies, sink):
        self.client, self.bodies, self.sink = client, bodies, sink
        self.queue = WorkQueue(in_flight)
        self.counts = {"pages": 0, "blog_posts": 0}
        self.windows = 0
        self.out_lock = threading.Lock()
        self.target = 500

    # ---------------------------------------------------------------- output
    def emit(self, content, body_storage):
        space = content.get("space") or {}
        version = content.get("version") or {}
        history = content.get("history") or {}
        record = {
            "id": content["id"], "type": content["type"], "status": content.get("status"), "title": content.get("title"),
            "spaceId": str(space.get("id")) if space.get("id") is not None else None, "spaceKey": space.get("key"),
            "authorId": (history.get("createdBy") or {}).get("accountId"), "createdAt": history.get("createdDate"),
            "lastModifiedAt": version.get("when"),
            "version": {"number": version.get("number"), "message": version.get("message"), "minorEdit": version.get("minorEdit"),
                        "createdAt": version.get("when"), "authorId": (version.get("by") or {}).get("accountId")},
            "labels": [{"id": l.get("id"), "name": l.get("name"), "prefix": l.get("prefix")}
                       for l in ((content.get("metadata") or {}).get("labels") or {}).get("results", [])],
            "body": {"storage": body_storage},
            "ancestors": [{"id": a["id"], "type": a.get("type"), "title": a.get("title")} for a in content.get("ancestors") or []],
            "parentId": (content.get("ancestors") or [{}])[-1].get("id"),
        }
        line = json.dumps(record)
        with self.out_lock:
            self.sink.write(line)
            self.sink.write("\n")
            self.counts[STREAMS[content["type"]]] += 1

    # ---------------------------------------------------------------- CQL
    @staticmethod
    def cql(lo=None, hi=None, ids=None):
        q = 'type IN (page, blogpost) AND status IN (%s)' % STATUSES
        if ids:
            q += " AND id IN (%s)" % ",".join(ids)
        if lo:
            q += ' AND lastmodified >= "%s"' % minute(lo)
        if hi:
            q += ' AND lastmodified < "%s"' % minute(hi)
        return q

    def count(self, lo, hi, order=None):
        cql = self.cql(lo, hi) + (" ORDER BY lastmodified %s" % order if order else "")
        body = self.client.get("/wiki/rest/api/search", {"cql": cql, "limit": 1})
        return body.get("totalSize", 0), body.get("results", [])

    def start(self):
        """The whole site's size, its oldest and its newest edit, asked side by side (two requests in flight);
        the first cut is 8 equal-time windows between the two edits, plus the open ends before and after."""
        self.edges = {}
        self.queue.put(COUNT, self.edge, "ASC")
        self.queue.put(COUNT, self.edge, "DESC")

    def edge(self, order):
        total, first = self.count(None, None, order=order)
        with self.out_lock:
            self.edges[order] = (total, first)
            if len(self.edges) < 2:
                return
        total = max(t for t, _ in self.edges.values())
        if not total:
            return
        self.target = min(2000, max(250, total // 32))
        oldest, newest = (datetime.datetime.fromisoformat(self.edges[o][1][0]["lastModified"].replace("Z", "+00:00"))
                          .replace(tzinfo=None, second=0, microsecond=0) for o in ("ASC", "DESC"))
        end = newest + datetime.timedelta(minutes=1)
        self.split(oldest, end, 8)
        # and what lies outside the first look (edited while this runs): normally empty, one request each
        self.queue.put(WALK, self.walk, None, oldest)
        self.queue.put(WALK, self.walk, end, None)

    def split(self, lo, hi, parts):
        step = (hi - lo) / parts
        edges = [(lo + step * i).replace(second=0, microsecond=0) for i in range(parts)] + [hi]
        for a, b in zip(edges, edges[1:]):
            if b > a:
                self.queue.put(COUNT, self.count_window, a, b)

    def count_window(self, lo, hi):
        n, _ = self.count(lo, hi)
        if not n:
            return
        if n <= self.target or hi - lo <= datetime.timedelta(minutes=1):
            with self.out_lock:
                self.windows += 1
            self.queue.put(WALK, self.walk, lo, hi)
            return
        self.split(lo, hi, min(16, math.ceil(n / self.target)))

    def walk(self, lo, hi):
        expand = BODY_EXPAND if self.bodies == "cql" else META_EXPAND
        url, params = "/wiki/rest/api/content/search", {"cql": self.cql(lo, hi), "expand": expand, "limit": 250}
        while url:
            body = self.client.get(url, params)
            results = body.get("results", [])
            if self.bodies == "cql":
                for c in results:
                    self.emit(c, ((c.get("body") or {}).get("storage") or {}))
            else:
                self.fetch_bodies(results)
            nxt = (body.get("_links") or {}).get("next")
            if not nxt or not results:
                break
            url, params = body["_links"]["base"] + nxt, None  # v1: `next` is relative to `base` (".../wiki")

    # ---------------------------------------------------------------- v2 bodies
    def fetch_bodies(self, metadata):
        by_type = {"page": [], "blogpost": []}
        for c in metadata:
            by_type[c["type"]].append(c)
        for ctype, items in by_type.items():
            for i in range(0, len(items), V2_IDS):
                self.queue.put(BODIES, self.v2_bodies, ctype, items[i:i + V2_IDS])

    def v2_bodies(self, ctype, items):
        wanted = {c["id"]: c for c in items}
        path = "/wiki/api/v2/%s" % ("pages" if ctype == "page" else "blogposts")
        params = {"id": ",".join(wanted), "body-format": "storage", "limit": V2_IDS}
        if ctype == "page":
            params["status"] = "current,archived"
        url = path
        while url:
            body = self.client.get(url, params)
            for r in body.get("results", []):
                c = wanted.pop(r["id"], None)
                if c is not None:
                    self.emit(c, (r.get("body") or {}).get("storage") or {})
            nxt = (body.get("_links") or {}).get("next")
            url, params = (nxt, None) if nxt else (None, None)
        missing = list(wanted)  # what v2 does not serve (archived blog posts): CQL by id, with the body, 50 a request
        for i in range(0, len(missing), 50):
            rest = self.client.get("/wiki/rest/api/content/search", {"cql": self.cql(ids=missing[i:i + 50]), "expand": BODY_EXPAND, "limit": 50})
            for c in rest.get("results", []):
                if wanted.pop(c["id"], None) is not None:
                    self.emit(c, ((c.get("body") or {}).get("storage") or {}))

    def run(self):
        self.queue.put(COUNT, self.start)
        self.queue.run()


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.floor")
    p.add_argument("--base-url", required=True)
    p.add_argument("--email", default=os.environ.get("BENCH_EMAIL"), help="default: $BENCH_EMAIL")
    p.add_argument("--token", default=os.environ.get("BENCH_TOKEN"), help="default: $BENCH_TOKEN (kept off the command line)")
    p.add_argument("--ca", default=None)
    p.add_argument("--in-flight", type=int, default=8, help="worker threads, hence the most requests in flight")
    p.add_argument("--bodies", choices=("cql", "v2"), default="cql",
                   help="cql: bodies in the window walk (50 a page); v2: walk without bodies (200 a page), bodies by id from v2 (250 a request)")
    p.add_argument("--out", default=os.devnull, help="where the records go, one JSON line each")
    a = p.parse_args(argv)
    client = Client(a.base_url, a.email, a.token, a.ca)
    with open(a.out, "w") as sink:
        floor = Floor(client, a.in_flight, a.bodies, sink)
        floor.run()
    json.dump({"records": floor.counts, "requests": client.requests, "windows": floor.windows, "errors": floor.queue.errors[:3]}, sys.stdout)
    sys.stdout.write("\n")
    return 1 if floor.queue.errors else 0


if __name__ == "__main__":
    sys.exit(main())
