"""The floor: the fastest client this benchmark can write for the connector's `pages` + `blog_posts` output,
with at most 8 requests in flight (the budget Atlassian's rate limits reward and the connector is held to).

    BENCH_EMAIL=E BENCH_TOKEN=T python -m bench.floor --base-url URL --ca CA [--in-flight 8] [--output full|bodies]
                                                      [--bodies cql|v2] [--out FILE] [--since "page=...,blogpost=..."]

Output: one JSON line per page or blog post, with what the connector's records carry from Confluence: id, type,
status, title, space (id and key), author, created and modified times, version, storage body, labels and
ancestors (id, type, title). Written to --out (default: nowhere, os.devnull), then one summary line on stdout,
`{"records": {"pages": N, "blog_posts": M}, ...}`, which bench/run.py reads.

--output full (the default): the same output as the connector's default config, so that "connector / floor"
compares like with like. Each record also gains
  * `bodyMarkdown`: the project's `source_confluence.text.markdown.storage_to_markdown` of the storage body, made
    in a process pool sized as the connector's (min(4, CPUs), forkserver), with the mention names below;
  * `effective_read_access`: `{"users", "restricted", "anonymous", "unknown"}`, who may read it: the space's
    readers narrowed by its own and every ancestor's read restriction. It fetches every input the connector
    fetches, with the same endpoints, batch sizes and expands (source_confluence/access/, people.py):
      - the content's own read restriction: the listing's expand
        `restrictions.read.restrictions.user,restrictions.read.restrictions.group`;
      - the read restrictions of ancestors not listed yet (each id asked once): CQL `content/search?cql=id IN
        (...) AND status IN (current, archived, trashed, draft)` with that expand, 200 ids a request; ids are
        buffered, a full batch goes at once, one of 50 or more before the next walk starts, a smaller one once
        the last walk has started;
      - each space's permissions once (Cloud v2 `/spaces/{id}/permissions`, 250 a page), the group directory
        once (`/group`, 200 a page: restrictions may name groups by name), each group's members once
        (`/group/{id}/membersByGroupId`, 200 a page) for the groups the spaces and restrictions name;
      - the tree probe, once (CQL `type IN (folder, whiteboard, database, embed)`, limit 1);
  * mention names: Cloud `user/bulk`, 100 account ids a request, each id once, for the `ri:account-id`s of each
    page of results (names go into the Markdown, as the connector's do).
  Every look-up is a job on the one queue of --in-flight workers (never more in flight); a page's records are
  written when its Markdown and its access inputs are in, while the walks go on.
  What it skips: the Airbyte protocol (messages, state), the start-up look-ups (server info, current user, the
  space list, the time zone), the schema's normalisation beyond the fields above, and the typed ancestors the
  connector reads from v2 parent links when the tree probe finds folders or the like (the benchmark's sites have
  none). Data Center look-ups (one request per mentioned user, space permissions by key) are not modelled.
  The access JSON is not the connector's (no group names, no reason); the requests behind it are.

--output bodies: the listing only (the fields above, none of the look-ups, no Markdown): the network-only floor.

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

--since (an incremental read, as `bench.ideal --since`): one walk per type from that type's cursor, nothing
counted or cut, with the same output and look-ups. What it asks besides the walks is what the connector's
output needs whatever the number of changes: each space's permissions, the group directory and the groups'
members, the tree probe (bench/report.py sets that against the 3% goal for an incremental sync's requests).
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import json
import math
import multiprocessing
import os
import queue
import sys
import threading
from concurrent.futures import ProcessPoolExecutor

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


# Job priorities: look-ups and body fetches first (records wait on them), counts before walks (every window is
# known early), a partial batch of ancestors before the next walk starts (pages wait on it, not for long), a
# small one after the last walk has started.
BODIES = LOOKUP = 0
COUNT, FLUSH, WALK, LAST = 1, 2, 3, 4


def minute(d: datetime.datetime) -> str:
    return d.strftime(CQL_FORMAT)


class Floor:
    """The jobs: the first look at the site, counting and cutting windows, walking them, fetching bodies by id."""

    def __init__(self, client, in_flight, bodies, sink, output="bodies", since=None):
        self.client, self.bodies, self.sink = client, bodies, sink
        self.since = since or {}  # content type -> datetime: an incremental read (--since)
        self.queue = WorkQueue(in_flight)
        self.enrichment = Enrichment(client, self.queue, client.base_url, self.emit) if output == "full" else None
        self.counts = {"pages": 0, "blog_posts": 0}
        self.windows = 0
        self.out_lock = threading.Lock()
        self.target = 500

    # ---------------------------------------------------------------- output
    def deliver(self, items):
        """A page of (content, storage body): written now (--output bodies), or once enriched (--output full)."""
        if self.enrichment is not None:
            self.enrichment.page(items)
            return
        for content, body_storage in items:
            self.emit(content, body_storage)

    def emit(self, content, body_storage, extra=None):
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
            **(extra or {}),
        }
        line = json.dumps(record)
        with self.out_lock:
            self.sink.write(line)
            self.sink.write("\n")
            self.counts[STREAMS[content["type"]]] += 1

    # ---------------------------------------------------------------- CQL
    @staticmethod
    def cql(lo=None, hi=None, ids=None, types=("page", "blogpost")):
        q = 'type IN (%s) AND status IN (%s)' % (", ".join(types), STATUSES)
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

    def walk(self, lo, hi, types=("page", "blogpost")):
        expand = BODY_EXPAND if self.bodies == "cql" else META_EXPAND
        if self.enrichment is not None:  # each content's own read restriction comes with the listing
            expand += "," + READ_RESTRICTION_EXPAND
        url, params = "/wiki/rest/api/content/search", {"cql": self.cql(lo, hi, types=types), "expand": expand, "limit": 250}
        while url:
            body = self.client.get(url, params)
            results = body.get("results", [])
            if self.bodies == "cql":
                self.deliver([(c, (c.get("body") or {}).get("storage") or {}) for c in results])
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
            found = []
            for r in body.get("results", []):
                c = wanted.pop(r["id"], None)
                if c is not None:
                    found.append((c, (r.get("body") or {}).get("storage") or {}))
            self.deliver(found)
            nxt = (body.get("_links") or {}).get("next")
            url, params = (nxt, None) if nxt else (None, None)
        missing = list(wanted)  # what v2 does not serve (archived blog posts): CQL by id, with the body, 50 a request
        for i in range(0, len(missing), 50):
            expand = BODY_EXPAND + ("," + READ_RESTRICTION_EXPAND if self.enrichment is not None else "")
            rest = self.client.get("/wiki/rest/api/content/search", {"cql": self.cql(ids=missing[i:i + 50]), "expand": expand, "limit": 50})
            self.deliver([(c, (c.get("body") or {}).get("storage") or {}) for c in rest.get("results", [])
                          if wanted.pop(c["id"], None) is not None])

    def run(self):
        if self.since:  # an incremental read: one walk per type from its cursor, nothing to count or cut
            for ctype, lo in self.since.items():
                self.queue.put(WALK, self.walk, lo, None, (ctype,))
        else:
            self.queue.put(COUNT, self.start)
        if self.enrichment is not None:  # its cells exist before any page can ask for them
            self.enrichment.start()
        self.queue.run()
        if self.enrichment is not None:
            self.enrichment.wait()


# ---------------------------------------------------------------------------------------------------------------
# --output full: what the connector adds to each record (bodyMarkdown, effective read access, mention names)
# ---------------------------------------------------------------------------------------------------------------
READ_RESTRICTION_EXPAND = "restrictions.read.restrictions.user,restrictions.read.restrictions.group"
ANCESTOR_IDS = 200  # ids per CQL `id IN (...)` look-up: content/search answers 200 results with a non-body expand
ANCESTOR_FLUSH = 50  # a partial batch this big goes before the next walk; a smaller one waits for the last walks
ANCESTOR_STATUSES = '"current", "archived", "trashed", "draft"'
USER_IDS = 100  # account ids per Cloud `user/bulk` request (as source_confluence/components/people.py)
TREE_PROBE_CQL = "type IN (folder, whiteboard, database, embed)"
MARKDOWN_WORKERS_MAX = 4  # as the connector's markdown pool: min(4, CPUs)
UNKNOWN = object()  # a look-up that failed: the record's access says unknown, never a guess


def markdown_of(jobs):
    """In a worker process: Markdown for (storage, base_url, space_key, user names) jobs, with the project's converter."""
    from source_confluence.text.markdown import storage_to_markdown
    return [storage_to_markdown(storage, base_url=base_url, space_key=space_key, user_names=names)
            for storage, base_url, space_key, names in jobs]


def restriction_of(content):
    """A v1 content's own read restriction from READ_RESTRICTION_EXPAND: None when it has none, else
    {"users": set of account ids, "groups": [{"id", "name"}]}; UNKNOWN when the expand is missing."""
    read = ((content.get("restrictions") or {}).get("read") or {}).get("restrictions")
    if read is None:
        return UNKNOWN
    users = {u.get("accountId") for u in (read.get("user") or {}).get("results") or [] if u.get("accountId")}
    groups = [{"id": g.get("id"), "name": g.get("name")} for g in (read.get("group") or {}).get("results") or []]
    return {"users": users, "groups": groups} if users or groups else None


class Cell:
    """One look-up's answer, set once; callbacks wait for it without holding a worker (or a request slot)."""

    def __init__(self):
        self.done, self.value, self.callbacks, self.lock = False, None, [], threading.Lock()

    def set(self, value):
        with self.lock:
            if self.done:
                return
            self.done, self.value = True, value
            callbacks, self.callbacks = self.callbacks, []
        for fn in callbacks:
            fn()

    def then(self, fn):
        with self.lock:
            if not self.done:
                self.callbacks.append(fn)
                return
        fn()


def when_all(cells, fn):
    """Call fn once every cell is set (at once if they are), in the thread that sets the last one."""
    cells = list(cells)
    left = [len(cells) + 1]
    lock = threading.Lock()

    def one_done():
        with lock:
            left[0] -= 1
            ready = left[0] == 0
        if ready:
            fn()
    for cell in cells:
        cell.then(one_done)
    one_done()


class Enrichment:
    """The look-ups and the Markdown of --output full, each asked once per run, as queue jobs of the one pool.

    Per page of listing results: the mention names it lacks (user/bulk, 100 ids a job), the restrictions of
    ancestors not listed yet (buffered into `id IN (...)` batches of 200), each new space's permissions, and
    then the members of every group those name. Its Markdown goes to the process pool as soon as its names are
    known; its records are written once the Markdown and all access inputs are in."""

    def __init__(self, client, work, base_url, write):
        self.client, self.work, self.write = client, work, write
        self.site_url = base_url.rstrip("/") + "/wiki"  # what the connector gives storage_to_markdown on Cloud
        self.lock = threading.Lock()
        self.cells = {}  # ("user"|"ancestor"|"space"|"group", id) -> Cell; ("directory",) -> Cell
        self.listed = {}  # content id -> its own read restriction, from the listing's expand
        self.ancestor_buffer = []
        self.flushes_queued = set()  # the priorities at which a flush of the ancestor buffer is queued
        self.pending_pages = 0
        self.idle = threading.Condition(self.lock)
        self.warnings = []
        self.requests_by_kind = {"ancestors": 0, "users": 0, "space_permissions": 0, "groups": 0, "directory": 0, "tree_probe": 0}
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:
            cpus = os.cpu_count() or 1
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["source_confluence.text.markdown"])
        self.markdown = ProcessPoolExecutor(max_workers=max(1, min(MARKDOWN_WORKERS_MAX, cpus)), mp_context=context)
        self.markdown.submit(markdown_of, [])  # start the workers now, not when the first page is in

    def start(self):
        """Once per run, as the connector does once per sync: the group directory and the tree probe."""
        self.cell(("directory",), LOOKUP, self.directory)
        self.work.put(LOOKUP, self.tree_probe)

    # ---- requests
    def counted(self, kind):
        with self.lock:
            self.requests_by_kind[kind] += 1

    def walk_v1(self, kind, path, params):
        """Every result of a v1 list, following `_links.next` (relative to `_links.base`)."""
        url, out = path, []
        while url:
            self.counted(kind)
            body = self.client.get(url, params)
            out += body.get("results", [])
            nxt = (body.get("_links") or {}).get("next")
            url, params = (body["_links"]["base"] + nxt, None) if nxt and body.get("results") else (None, None)
        return out

    def walk_v2(self, kind, path, params):
        url, out = path, []
        while url:
            self.counted(kind)
            body = self.client.get(url, params)
            out += body.get("results", [])
            url, params = (body.get("_links") or {}).get("next"), None
        return out

    def cell(self, key, priority, fetch, *args):
        """The cell for key; the first asker queues its look-up, whose answer (or UNKNOWN) sets it."""
        with self.lock:
            found = self.cells.get(key)
            if found is not None:
                return found
            cell = self.cells[key] = Cell()
        if fetch is not None:
            self.work.put(priority, self.answer, fetch, [cell], args)
        return cell

    def answer(self, fetch, cells, args):
        """Run a look-up; whatever happens, its cells are set (a failure costs those records their access, with a warning)."""
        try:
            values = fetch(*args)
        except Exception as e:
            with self.lock:
                self.warnings.append("%s: %s" % (type(e).__name__, e))
            values = [UNKNOWN] * len(cells)
        if len(cells) == 1 and not isinstance(values, list):
            values = [values]
        for cell, value in zip(cells, values):
            cell.set(value)

    def directory(self):
        groups = self.walk_v1("directory", "/wiki/rest/api/group", {"limit": 200})
        return {g["name"]: g["id"] for g in groups if g.get("name") and g.get("id")}

    def tree_probe(self):
        self.counted("tree_probe")
        self.client.get("/wiki/rest/api/content/search", {"cql": TREE_PROBE_CQL, "limit": 1})

    def space_permissions(self, space_id):
        """Cloud v2: who may read the space ({"users", "groups": ids, "anonymous"})."""
        users, groups, anonymous = set(), set(), False
        for p in self.walk_v2("space_permissions", "/wiki/api/v2/spaces/%s/permissions" % space_id, {"limit": 250}):
            op, who = p.get("operation") or {}, p.get("principal") or {}
            if op.get("key") != "read" or op.get("targetType") != "space":
                continue
            if who.get("type") == "user" and who.get("id"):
                users.add(who["id"])
            elif who.get("type") == "group" and who.get("id"):
                groups.add(who["id"])
            elif who.get("type") == "anonymous":
                anonymous = True
        return {"users": users, "groups": groups, "anonymous": anonymous}

    def group_members(self, group_id):
        members = self.walk_v1("groups", "/wiki/rest/api/group/%s/membersByGroupId" % group_id, {"limit": 200})
        return {m["accountId"] for m in members if m.get("accountId")}

    def users(self, ids):
        self.counted("users")
        found = {}
        for u in self.client.get("/wiki/rest/api/user/bulk", {"accountId": ids}).get("results", []):
            name = u.get("displayName") or u.get("publicName")
            if u.get("accountId") and name:
                found[u["accountId"]] = name
        return [found.get(i) for i in ids]

    def ancestors(self, ids):
        cql = "id IN (%s) AND status IN (%s)" % (",".join(ids), ANCESTOR_STATUSES)
        got = {c["id"]: restriction_of(c) for c in self.walk_v1(
            "ancestors", "/wiki/rest/api/content/search", {"cql": cql, "expand": READ_RESTRICTION_EXPAND, "limit": ANCESTOR_IDS})}
        return [got.get(i, UNKNOWN) for i in ids]  # not returned (deleted, no permission): unknown

    # ---- ancestor batches
    def want_ancestors(self, ids):
        """Buffer ids for `id IN (...)`: a full batch of 200 goes at once; one of ANCESTOR_FLUSH or more before the
        next walk starts (a page does not wait long for its batch); a smaller one once no walk is left to start
        (the ids of the last walks fill it). Never more than one flush queued at each of those priorities."""
        with self.lock:
            self.ancestor_buffer += ids
            full = []
            while len(self.ancestor_buffer) >= ANCESTOR_IDS:
                full.append(self.ancestor_buffer[:ANCESTOR_IDS])
                del self.ancestor_buffer[:ANCESTOR_IDS]
            flush = self.flush_priority_locked()
        for batch in full:
            self.ask_ancestors(batch)
        if flush is not None:
            self.work.put(flush, self.flush_ancestors, flush)

    def flush_priority_locked(self):
        """The priority of the flush to queue now for the buffer (self.lock held), or None; marks it queued."""
        if not self.ancestor_buffer:
            return None
        priority = FLUSH if len(self.ancestor_buffer) >= ANCESTOR_FLUSH else LAST
        if priority in self.flushes_queued or (priority == LAST and FLUSH in self.flushes_queued):
            return None
        self.flushes_queued.add(priority)
        return priority

    def flush_ancestors(self, priority):
        with self.lock:
            self.flushes_queued.discard(priority)
            batch, self.ancestor_buffer = self.ancestor_buffer[:ANCESTOR_IDS], self.ancestor_buffer[ANCESTOR_IDS:]
            again = self.flush_priority_locked()
        if again is not None:
            self.work.put(again, self.flush_ancestors, again)
        if batch:
            self.answer(self.ancestors, [self.cells[("ancestor", i)] for i in batch], (batch,))

    def ask_ancestors(self, batch):
        self.work.put(LOOKUP, self.answer, self.ancestors, [self.cells[("ancestor", i)] for i in batch], (batch,))

    # ---- a page of listing results
    def page(self, items):
        """items: [(content, storage)] from one listing page; called by the worker that fetched it."""
        from source_confluence.text.markdown import mentioned_user_ids
        if not items:
            return
        with self.lock:
            self.pending_pages += 1
            for c, _ in items:
                self.listed[c["id"]] = restriction_of(c)
            new_ancestors, ancestor_cells = [], {}
            for c, _ in items:
                for a in c.get("ancestors") or []:
                    aid = a["id"]
                    if aid in self.listed or aid in ancestor_cells:
                        continue
                    key = ("ancestor", aid)
                    if key not in self.cells:
                        self.cells[key] = Cell()
                        new_ancestors.append(aid)
                    ancestor_cells[aid] = self.cells[key]
            mentions = set().union(*(mentioned_user_ids(s.get("value")) for _, s in items))
            new_users = sorted(i for i in mentions if ("user", i) not in self.cells)
            for i in new_users:
                self.cells[("user", i)] = Cell()
            user_cells = {i: self.cells[("user", i)] for i in mentions}
        for start in range(0, len(new_users), USER_IDS):
            ids = new_users[start:start + USER_IDS]
            self.work.put(LOOKUP, self.answer, self.users, [user_cells[i] for i in ids], (ids,))
        if new_ancestors:
            self.want_ancestors(new_ancestors)
        spaces = {str(c["space"]["id"]) for c, _ in items if (c.get("space") or {}).get("id") is not None}
        space_cells = {s: self.cell(("space", s), LOOKUP, self.space_permissions, s) for s in spaces}
        state = {"parts": 2, "markdown": None, "members": {}}
        state_lock = threading.Lock()

        def part_done():
            with state_lock:
                state["parts"] -= 1
                last = state["parts"] == 0
            if last:
                self.finish(items, state, ancestor_cells, space_cells)

        def names_known():
            names = {i: cell.value for i, cell in user_cells.items() if isinstance(cell.value, str)}
            jobs = [(s.get("value") or "", self.site_url, (c.get("space") or {}).get("key"), names) for c, s in items]
            future = self.markdown.submit(markdown_of, jobs)

            def converted(f):
                state["markdown"] = f
                part_done()
            future.add_done_callback(converted)

        def access_known():
            group_cells = {}
            for g in self.groups_named(items, ancestor_cells, space_cells):
                group_cells[g] = self.cell(("group", g), LOOKUP, self.group_members, g)

            def members_known():
                state["members"] = {g: cell.value for g, cell in group_cells.items()}
                part_done()
            when_all(group_cells.values(), members_known)

        when_all(user_cells.values(), names_known)
        when_all(list(ancestor_cells.values()) + list(space_cells.values()) + [self.cells[("directory",)]], access_known)

    def group_id(self, group):
        if group.get("id"):
            return group["id"]
        directory = self.cells[("directory",)].value
        return directory.get(group.get("name")) if isinstance(directory, dict) else None

    def chain(self, content, ancestor_cells):
        """The read restrictions that bound who reads the content: every ancestor's, top-down, then its own."""
        return [ancestor_cells[a["id"]].value if a["id"] in ancestor_cells else self.listed.get(a["id"], UNKNOWN)
                for a in content.get("ancestors") or []] + [self.listed.get(content["id"], UNKNOWN)]

    def groups_named(self, items, ancestor_cells, space_cells):
        """Group ids named by the page's spaces and by its records' and their ancestors' restrictions (as the connector)."""
        groups = set()
        for cell in space_cells.values():
            if isinstance(cell.value, dict):
                groups |= cell.value["groups"]
        for c, _ in items:
            for r in self.chain(c, ancestor_cells):
                if isinstance(r, dict):
                    groups |= {g for g in map(self.group_id, r["groups"]) if g}
        return sorted(groups)

    def access(self, content, ancestor_cells, space_cells, members):
        """Who may read the content: the space's readers, narrowed by its own and every ancestor's read
        restriction (users named, or members of a group named). Unknown when any input is missing."""
        space = space_cells.get(str((content.get("space") or {}).get("id")))
        chain = self.chain(content, ancestor_cells)
        if space is None or not isinstance(space.value, dict) or any(r is UNKNOWN for r in chain):
            return {"unknown": True}

        def readers(users, group_ids):
            found = set(users)
            for g in group_ids:
                m = members.get(g)
                if m is UNKNOWN or m is None:
                    return None
                found |= m
            return found
        users = readers(space.value["users"], space.value["groups"])
        restrictions = [r for r in chain if r is not None]
        for r in restrictions:
            allowed = readers(r["users"], [g for g in map(self.group_id, r["groups"]) if g])
            if users is None or allowed is None:
                return {"unknown": True}
            users &= allowed
        return {"users": sorted(users), "restricted": bool(restrictions), "anonymous": space.value["anonymous"] and not restrictions,
                "unknown": False}

    def finish(self, items, state, ancestor_cells, space_cells):
        try:
            markdown = state["markdown"].result()
        except Exception as e:  # a broken conversion costs this page's Markdown, and fails the run
            self.work.errors.append("markdown: %s: %s" % (type(e).__name__, e))
            markdown = [None] * len(items)
        try:
            for (c, storage), md in zip(items, markdown):
                self.write(c, storage, {"bodyMarkdown": md,
                                        "effective_read_access": self.access(c, ancestor_cells, space_cells, state["members"])})
        finally:
            with self.lock:
                self.pending_pages -= 1
                self.idle.notify_all()

    def wait(self):
        """After the queue has drained: every page's Markdown done and its records written."""
        with self.lock:
            while self.pending_pages:
                self.idle.wait()
        self.markdown.shutdown(wait=True)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.floor")
    p.add_argument("--base-url", required=True)
    p.add_argument("--email", default=os.environ.get("BENCH_EMAIL"), help="default: $BENCH_EMAIL")
    p.add_argument("--token", default=os.environ.get("BENCH_TOKEN"), help="default: $BENCH_TOKEN (kept off the command line)")
    p.add_argument("--ca", default=None)
    p.add_argument("--in-flight", type=int, default=8, help="worker threads, hence the most requests in flight")
    p.add_argument("--bodies", choices=("cql", "v2"), default="cql",
                   help="cql: bodies in the window walk (50 a page); v2: walk without bodies (200 a page), bodies by id from v2 (250 a request)")
    p.add_argument("--output", choices=("full", "bodies"), default="full",
                   help="full: the connector's records (Markdown, effective read access inputs, mention names); bodies: the listing only")
    p.add_argument("--out", default=os.devnull, help="where the records go, one JSON line each")
    p.add_argument("--since", default=None, help='"page=YYYY-MM-DD HH:MM,blogpost=YYYY-MM-DD HH:MM" (as bench.ideal): an incremental '
                   "read, one walk per type from its cursor, with the same output")
    a = p.parse_args(argv)
    since = {ctype: datetime.datetime.strptime(minute, CQL_FORMAT)
             for ctype, minute in (pair.split("=", 1) for pair in a.since.split(","))} if a.since else None
    client = Client(a.base_url, a.email, a.token, a.ca)
    with open(a.out, "w") as sink:
        floor = Floor(client, a.in_flight, a.bodies, sink, a.output, since)
        floor.run()
    summary = {"records": floor.counts, "requests": client.requests, "windows": floor.windows, "errors": floor.queue.errors[:3]}
    if floor.enrichment is not None:
        summary.update(output="full", lookups=floor.enrichment.requests_by_kind, warnings=floor.enrichment.warnings[:3])
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")
    return 1 if floor.queue.errors else 0


if __name__ == "__main__":
    sys.exit(main())
