"""bench/floor.py, the benchmark's floor client: the records the connector's pages and blog_posts streams read,
each exactly once, with no more requests in flight than its budget.

It runs as the benchmark runs it (a child process) against an emulator on a real-shaped site (recent edits,
one big space, deep trees), whose content is the truth the records are checked against.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from confluence_emulator import Emulator

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


@pytest.mark.parametrize("bodies", ["cql", "v2"])
def test_every_page_and_blog_post_once_with_body_labels_and_ancestors(real_site, tmp_path, bodies):
    summary, records, stats = run_floor(real_site, tmp_path, "--bodies", bodies)
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
    assert any(r["labels"] for r in records)
    assert any(len(r["ancestors"]) > 6 for r in records), "the real-shaped site has deep trees"
    assert stats["peak_in_flight"] <= 8


def test_requests_in_flight_stay_within_the_budget(real_site, tmp_path):
    summary, records, stats = run_floor(real_site, tmp_path, "--in-flight", "3")
    assert len(records) == len(expected(real_site.site))
    assert 1 <= stats["peak_in_flight"] <= 3
    assert summary["windows"] > 1, "the site is cut into windows read side by side"
