"""bench/floor.py, the benchmark's floor client: the records the connector's pages and blog_posts streams read,
each exactly once, with no more requests in flight than its budget; in its full mode (the default) with the
connector's Markdown and every look-up the connector's effective access and mention names make.

It runs as the benchmark runs it (a child process) against an emulator on a real-shaped site (recent edits,
one big space, deep trees), whose content is the truth the records are checked against.
"""

import collections
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from confluence_emulator import Emulator
from source_confluence.text.markdown import mentioned_user_ids, storage_to_markdown

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def real_site():
    # 10 ms a request: enough for requests to overlap, so the in-flight budget is what bounds them
    with Emulator(profile="cloud", seed=21, pages=400, time_zone="UTC", site_shape="real", latency_ms=10) as emulator:
        yield emulator


def run_floor(emulator, tmp_path, *args):
    cred = emulator.info["credentials"]["api_token"]
    out = tmp_path / "records.jsonl"
    env = dict(os.environ, BENCH_EMAIL=cred["email"], BENCH_TOKEN=cred["api_token"], PYTHONPATH=str(ROOT))
    emulator.admin.reset_requests()
    done = subprocess.run([sys.executable, "-m", "bench.floor", "--base-url", emulator.base_url, "--out", str(out), *args],
                          capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=300)
    assert done.returncode == 0, done.stdout[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    records = [json.loads(line) for line in out.read_text().splitlines()]
    return summary, records, emulator.admin.stats()


def expected(site):
    return {c.id: c for c in site.content.values() if c.type in ("page", "blogpost") and c.status in ("current", "archived")}


@pytest.mark.parametrize("output, bodies", [("full", "cql"), ("full", "v2"), ("bodies", "cql")])
def test_every_page_and_blog_post_once_with_body_labels_and_ancestors(real_site, tmp_path, output, bodies):
    summary, records, stats = run_floor(real_site, tmp_path, "--output", output, "--bodies", bodies)
    truth = expected(real_site.site)
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), "a record was read twice"
    assert set(ids) == set(truth)
    assert summary["records"] == {"pages": sum(c.type == "page" for c in truth.values()),
                                  "blog_posts": sum(c.type == "blogpost" for c in truth.values())}
    site = real_site.site
    for r in records:
        c = truth[r["id"]]
        assert r["body"]["storage"]["value"] == site.storage(c)
        assert [a["id"] for a in r["ancestors"]] == [a.id for a in site.ancestors(c)]
        assert r["spaceKey"] == c.space_key
        assert r["version"]["number"] == c.version.number
        assert ("bodyMarkdown" in r) == (output == "full")
    assert any(r["labels"] for r in records)
    assert any(len(r["ancestors"]) > 6 for r in records), "the real-shaped site has deep trees"
    assert stats["peak_in_flight"] <= 8


def test_requests_in_flight_stay_within_the_budget(real_site, tmp_path):
    summary, records, stats = run_floor(real_site, tmp_path, "--output", "full", "--in-flight", "3")
    assert len(records) == len(expected(real_site.site))
    assert 1 <= stats["peak_in_flight"] <= 3
    assert summary["windows"] > 1, "the site is cut into windows read side by side"


def lookups(emulator):
    """The floor's requests from the emulator's log, as (route, path, query dict)."""
    return [(r["route"], r["path"], parse_qs(r["query"])) for r in emulator.admin.requests()]


def test_full_output_asks_every_access_input_once_and_gets_the_sites_access(real_site, tmp_path):
    summary, records, stats = run_floor(real_site, tmp_path, "--output", "full")
    site = real_site.site
    truth = expected(site)
    log = lookups(real_site)
    assert stats["peak_in_flight"] <= 8
    assert not summary["warnings"]

    # every listing carries each content's own read restriction
    listings = [q for route, _, q in log if route == "v1.content_search" and "type IN (page, blogpost)" in q.get("cql", [""])[0]]
    assert listings and all("restrictions.read.restrictions.user,restrictions.read.restrictions.group" in q["expand"][0] for q in listings)

    # ancestors: CQL id batches of at most 200 with the restriction expand, each id asked once, and every
    # ancestor of every record is either looked up or was listed with its restriction
    batches = [q["cql"][0].split("(", 1)[1].split(")", 1)[0].split(",") for route, _, q in log
               if route == "v1.content_search" and q.get("cql", [""])[0].startswith("id IN (")]
    asked = [i for batch in batches for i in batch]
    assert batches and all(len(b) <= 200 for b in batches)
    assert len(asked) == len(set(asked)), "an ancestor's restrictions were asked twice"
    ancestors = {a.id for c in truth.values() for a in site.ancestors(c)}
    assert set(asked) <= ancestors
    assert ancestors <= set(asked) | set(truth)

    # each space's permissions once, for every space with content; the group directory once; members of a group once
    spaces = collections.Counter(path.split("/spaces/")[1].split("/")[0] for route, path, _ in log if route == "v2.space_permissions")
    assert set(spaces) == {str(site.spaces[c.space_key].id) for c in truth.values()}
    assert set(spaces.values()) == {1}
    assert sum(route == "v1.group_list" for route, _, _ in log) == 1
    groups = collections.Counter(path for route, path, _ in log if route == "v1.group_members_by_id")
    assert groups and set(groups.values()) == {1}

    # mention names: every mentioned account id asked once, 100 at most a request
    user_batches = [q["accountId"] for route, _, q in log if route == "v1.user_bulk"]
    mentioned = set().union(*(mentioned_user_ids(site.storage(c)) for c in truth.values()))
    assert mentioned and all(len(b) <= 100 for b in user_batches)
    assert sorted(i for b in user_batches for i in b) == sorted(mentioned)

    # what the look-ups are for: the site's own effective access, and the project's Markdown with the names
    by_id = {r["id"]: r for r in records}
    for cid, r in by_id.items():
        access = r["effective_read_access"]
        assert access["unknown"] is False
        assert access["users"] == site.effective_access(truth[cid])["users"], cid
    assert any(r["effective_read_access"]["restricted"] for r in records)
    site_url = real_site.base_url.rstrip("/") + "/wiki"
    with_mentions = [cid for cid in sorted(by_id) if mentioned_user_ids(site.storage(truth[cid]))]
    assert with_mentions
    for cid in sorted(by_id)[::10] + with_mentions[:20]:
        c = truth[cid]
        storage = site.storage(c)
        names = {i: site.users[i].display_name for i in mentioned_user_ids(storage) if i in site.users}
        assert by_id[cid]["bodyMarkdown"] == storage_to_markdown(storage, base_url=site_url, space_key=c.space_key, user_names=names)
    named = [cid for cid in with_mentions if any(site.users[i].display_name in by_id[cid]["bodyMarkdown"]
                                                 for i in mentioned_user_ids(site.storage(truth[cid])) if i in site.users)]
    assert named, "mentions are written with the names looked up"


def test_since_reads_what_changed_after_each_types_cursor_with_the_same_lookups(real_site, tmp_path):
    """--since (the incremental floor): one walk per type from its own cursor, and the look-ups of the full output."""
    site = real_site.site
    truth = expected(site)
    minute = {t: sorted(c.modified // 60000 for c in truth.values() if c.type == t) for t in ("page", "blogpost")}
    # the newest quarter of pages and half of blog posts: different cursors, so a shared one would be caught
    since = {"page": minute["page"][3 * len(minute["page"]) // 4], "blogpost": minute["blogpost"][len(minute["blogpost"]) // 2]}

    def cql_minute(epoch_minute):
        return datetime.datetime.fromtimestamp(epoch_minute * 60, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    summary, records, stats = run_floor(real_site, tmp_path, "--since", ",".join("%s=%s" % (t, cql_minute(m)) for t, m in since.items()))
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))
    assert set(ids) == {cid for cid, c in truth.items() if c.modified // 60000 >= since[c.type]}
    assert 0 < len(ids) < len(truth)
    routes = collections.Counter(route for route, _, _ in lookups(real_site))
    assert routes["v1.search"] == 0, "nothing is counted"
    walks = [q["cql"][0] for route, _, q in lookups(real_site) if route == "v1.content_search" and "lastmodified" in q.get("cql", [""])[0]]
    assert any(w.startswith("type IN (page) ") for w in walks) and any(w.startswith("type IN (blogpost) ") for w in walks)
    assert routes["v2.space_permissions"] >= 1 and routes["v1.group_list"] == 1 and routes["v1.group_members_by_id"] >= 1
    assert all(r["effective_read_access"]["users"] == site.effective_access(truth[r["id"]])["users"] for r in records)
    assert stats["peak_in_flight"] <= 8
