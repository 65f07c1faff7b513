"""Incremental sync against the emulator: every change arrives, nothing unchanged is re-read.

Each test builds its own emulator, because it changes the site.
"""

import json
import random
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Dict, List

import pytest
from airbyte_cdk.models import AirbyteStateMessage, SyncMode

from confluence_emulator import Emulator
from integration_tests.emulator_configs import connector_config
from integration_tests.reading import read_streams, records_by_stream

INCREMENTAL_STREAMS = ["pages", "blog_posts", "comments", "attachments"]
LOOKBACK = timedelta(minutes=15)
# The emulator, as Confluence, returns at most 50 results a page when bodies are expanded.
RESULTS_PER_PAGE = 50


def final_states(output) -> List[AirbyteStateMessage]:
    """The last state of each stream: what the platform would hand to the next sync."""
    latest: Dict[str, AirbyteStateMessage] = {}
    for message in output.state_messages:
        latest[message.state.stream.stream_descriptor.name] = message.state
    return list(latest.values())


def requests_to(emulator, path_end: str) -> int:
    """Requests the emulator logged whose path ends with ``path_end``."""
    return sum(1 for entry in emulator.admin.requests() if entry["path"].endswith(path_end))


def content_search_requests(emulator) -> int:
    return requests_to(emulator, "/content/search")


def site_now_ms() -> int:
    """A site clock 10 minutes behind this machine's: recent, and edits made by the test stay in the past."""
    return int(time.time() * 1000) - 10 * 60 * 1000


def parse_utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def first_sync(emulator, config):
    output = read_streams(config, INCREMENTAL_STREAMS, SyncMode.incremental)
    assert not output.errors
    return records_by_stream(output), final_states(output)


@pytest.mark.parametrize("profile, auth_type", [("cloud", "api_token"), ("data_center", "personal_access_token")])
def test_second_sync_brings_every_change_and_grows_with_changes_not_site_size(profile, auth_type):
    # The site's clock is close to this machine's, as against a real site, so the second sync's window starts
    # minutes ago (it stays 10 minutes behind, so the changes below, stamped up to 80 s later, are not in the future).
    with Emulator(profile=profile, seed=21, pages=300, time_zone="America/New_York", clock_start_ms=site_now_ms()) as emulator:
        config = connector_config(emulator.info, auth_type)
        before, state = first_sync(emulator, config)
        site = emulator.site
        cursor = max(parse_utc(record["lastModifiedAt"]) for record in before["pages"])  # the site-wide state
        pages = sorted((c for c in site.content.values() if c.type == "page" and c.status == "current"), key=lambda c: c.id)
        edited, moved, commented, attached, trashed, purged = pages[10], pages[20], pages[30], pages[40], pages[50], pages[60]
        space_key = pages[0].space_key

        emulator.admin.reset_requests()
        emulator.admin.advance_clock(50)  # changes on both sides of a minute boundary
        emulator.admin.edit(edited.id, title=edited.title + " (edited)", message="second sync must see this")
        emulator.admin.advance_clock(30)
        created = emulator.admin.create_page(space_key, "Created between syncs", parent_id=pages[0].id)
        blog = emulator.admin.create_blogpost(space_key, "Blog post between syncs")
        emulator.admin.move(moved.id, parent_id=pages[1].id)
        comment = emulator.admin.add_comment(commented.id, "<p>a new reply</p>")
        attachment = emulator.admin.add_attachment(attached.id, "notes.txt", "text/plain", b"hello")
        emulator.admin.trash(trashed.id)
        emulator.admin.purge(purged.id)

        output = read_streams(config, INCREMENTAL_STREAMS + ["content_inventory"], SyncMode.incremental, state=state)
        assert not output.errors
        after = records_by_stream(output)
        page_ids = {r["id"] for r in after["pages"]}
        assert {edited.id, created["id"], moved.id} <= page_ids
        assert next(r for r in after["pages"] if r["id"] == edited.id)["title"].endswith("(edited)")
        assert next(r for r in after["pages"] if r["id"] == moved.id)["parentId"] == pages[1].id
        assert blog["id"] in {r["id"] for r in after["blog_posts"]}
        assert comment["id"] in {r["id"] for r in after["comments"]}
        assert attachment["id"] in {r["id"] for r in after["attachments"]}
        inventory = {r["id"]: r["status"] for r in after["content_inventory"]}
        assert inventory[trashed.id] == "trashed" and purged.id not in inventory

        # Unchanged content is not re-read: only what changed, plus what the overlap window covers.
        for record in after["pages"]:
            changed = record["id"] in {edited.id, created["id"], moved.id}
            overlap_start = cursor - LOOKBACK - timedelta(hours=1)  # + the zone's DST spread
            assert changed or parse_utc(record["lastModifiedAt"]) >= overlap_start, record["id"]
        assert len(after["pages"]) < len(before["pages"]) / 5
        # One site-wide window per content stream, content_inventory's walk per space, the probe for folders
        # and the like, and a batched look-up or two of the changed pages' ancestors for effective access:
        # none of it depends on how many pages the site has.
        spaces = len(site.spaces)
        assert content_search_requests(emulator) <= len(INCREMENTAL_STREAMS) + spaces + 1 + 2


@pytest.mark.parametrize(
    "before_change, after_change",
    [
        ("2026-03-08T06:40:00Z", "2026-03-08T07:20:00Z"),  # New York springs forward at 07:00 UTC
        ("2026-11-01T05:40:00Z", "2026-11-01T06:20:00Z"),  # and falls back at 06:00 UTC: 01:xx happens twice
    ],
)
def test_a_dst_change_between_two_syncs_loses_nothing(before_change, after_change):
    with Emulator(profile="data_center", seed=22, pages=120, time_zone="America/New_York") as emulator:
        config = connector_config(emulator.info, "personal_access_token")
        emulator.admin.set_clock(before_change)
        page_ids = sorted(c.id for c in emulator.site.content.values() if c.type == "page" and c.status == "current")
        emulator.admin.edit(page_ids[0], title="edited just before the change")
        _, state = first_sync(emulator, config)

        emulator.admin.set_clock(after_change)
        for page_id in page_ids[1:6]:
            emulator.admin.edit(page_id, title="edited after the change")
            emulator.admin.advance_clock(60)
        after = records_by_stream(read_streams(config, ["pages"], SyncMode.incremental, state=state))
        assert set(page_ids[1:6]) <= {r["id"] for r in after["pages"]}


def kill_and_resume(emulator, config, tmp_path: Path, stop_after_records: int):
    """Read pages until N records, kill the read, resume from its last state: (every page id, both reads' ids, states)."""
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(incremental_catalog(["pages"])))
    truth = {c.id for c in emulator.site.content.values() if c.type == "page" and c.status in ("current", "archived")}
    first_ids, states = run_until(config_path, catalog_path, None, stop_after_records=stop_after_records)
    assert len(first_ids) == stop_after_records < len(truth), "the read was killed part way"
    assert states, "at least one state was emitted before the kill"
    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps([states[-1]]))
    second_ids, _ = run_until(config_path, catalog_path, state_path, stop_after_records=None)
    assert truth <= first_ids | second_ids
    return first_ids, states, second_ids


def test_a_killed_read_resumes_from_its_last_state_without_losing_records(tmp_path: Path):
    with Emulator(profile="cloud", seed=23, pages=400, spaces=6, time_zone="UTC", clock_start_ms=site_now_ms()) as emulator:
        # Two workers: the first sync is four time windows, two at a time.
        config = connector_config(emulator.info, "api_token", num_workers=2)
        first_ids, _, second_ids = kill_and_resume(emulator, config, tmp_path, stop_after_records=250)
        # The state keeps every window's progress, not only the oldest one's: what is read twice is at
        # most the page each window in flight was reading, and the records at a stretch's end.
        read_twice = first_ids & second_ids
        assert len(read_twice) <= 2 * (RESULTS_PER_PAGE + 1), f"{len(read_twice)} records read again"


@pytest.mark.parametrize("profile, auth_type", [("cloud", "api_token"), ("data_center", "personal_access_token")])
def test_a_read_killed_inside_a_window_resumes_after_the_last_page_of_results_it_emitted(tmp_path: Path, profile, auth_type):
    with Emulator(profile=profile, seed=29, pages=400, spaces=4, time_zone="UTC", clock_start_ms=site_now_ms()) as emulator:
        # One worker and no lookback: the whole site is one window, so only a state per page of results
        # can save progress, and the resumed read re-reads exactly what the last state did not cover.
        config = connector_config(emulator.info, auth_type, num_workers=1, lookback_window_minutes=0)
        first_ids, states, second_ids = kill_and_resume(emulator, config, tmp_path, stop_after_records=230)
        # The emulator serves 50 results a page with a body: four pages were done before the kill.
        assert len(states) >= 4, "a state after every page of results"
        read_twice = first_ids & second_ids
        # What came after the last state (at most a page) and the records at its stretch's end.
        assert 0 < len(read_twice) <= RESULTS_PER_PAGE + 1, f"{len(read_twice)} records read again"


def incremental_catalog(streams):
    return {
        "streams": [
            {
                "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
                "sync_mode": "incremental",
                "destination_sync_mode": "append_dedup",
                "cursor_field": ["lastModifiedAt"],
                "primary_key": [["id"]],
            }
            for name in streams
        ]
    }


def run_until(config_path, catalog_path, state_path, stop_after_records):
    """Run `source-confluence read` as a user would; kill it after N records if asked."""
    command = [sys.executable, "-m", "source_confluence.run", "read", "--config", str(config_path), "--catalog", str(catalog_path)]
    if state_path:
        command += ["--state", str(state_path)]
    ids, states = set(), []
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for line in process.stdout:
            message = json.loads(line) if line.startswith("{") else {}
            if message.get("type") == "RECORD":
                ids.add(message["record"]["data"]["id"])
                if stop_after_records and len(ids) >= stop_after_records:
                    process.kill()
                    break
            elif message.get("type") == "STATE":
                states.append(message["state"])
    finally:
        process.kill()
        process.wait()
    return ids, states


@pytest.mark.parametrize("profile, auth_type", [("cloud", "api_token"), ("data_center", "personal_access_token")])
def test_page_versions_are_read_for_changed_pages_only_after_the_first_sync(profile, auth_type):
    with Emulator(profile=profile, seed=24, pages=80, time_zone="UTC") as emulator:
        config = connector_config(emulator.info, auth_type, lookback_window_minutes=0)
        output = read_streams(config, ["page_versions"], SyncMode.incremental)
        assert not output.errors
        site = emulator.site
        visible = [c for c in site.content.values() if c.type == "page" and c.status in ("current", "archived")]
        expected = {(c.id, v.number) for c in visible for v in c.versions}
        first = {(r["pageId"], r["number"]) for r in records_by_stream(output)["page_versions"]}
        assert first == expected

        edited = sorted(visible, key=lambda c: c.id)[5]
        emulator.admin.advance_clock(3600)
        emulator.admin.edit(edited.id, title="edited", message="new version")
        emulator.admin.reset_requests()
        second = read_streams(config, ["page_versions"], SyncMode.incremental, state=final_states(output))
        records = records_by_stream(second)["page_versions"]
        assert (edited.id, edited.versions[-1].number) in {(r["pageId"], r["number"]) for r in records}
        # Only changed pages, plus the newest page of each space, which the cursor's own minute re-reads.
        newest_per_space = {}
        for content in visible:
            if content.id != edited.id and content.modified >= newest_per_space.get(content.space_key, (0, None))[0]:
                newest_per_space[content.space_key] = (content.modified, content.id)
        allowed = {edited.id} | {page_id for _, page_id in newest_per_space.values()}
        assert {r["pageId"] for r in records} <= allowed
        version_requests = [e for e in emulator.admin.requests() if e["path"].endswith(("/versions", "/version"))]
        assert len(version_requests) <= len(allowed) < len(visible) / 4


def edit_during_the_walk(emulator, content_ids, after_search_pages: int) -> threading.Thread:
    """Edit the content once the walk has been served N search pages, as a person would mid-sync."""

    def edit_when_due():
        deadline = time.monotonic() + 60
        while content_search_requests(emulator) < after_search_pages and time.monotonic() < deadline:
            time.sleep(0.01)
        for content_id in content_ids:
            emulator.admin.edit(content_id, title="edited during the sync")

    editor = threading.Thread(target=edit_when_due, daemon=True)
    editor.start()
    return editor


@pytest.mark.parametrize("profile, auth_type", [("cloud", "api_token"), ("data_center", "personal_access_token")])
def test_edits_during_a_walk_make_it_skip_no_unchanged_page(profile, auth_type):
    # Data Center pages the search by offset and runs it again for each page: content edited behind the walk
    # leaves the results and every later result moves up. Slow requests so the edits land mid-walk.
    with Emulator(profile=profile, seed=31, pages=400, time_zone="UTC", latency_ms=150, clock_start_ms=site_now_ms()) as emulator:
        config = connector_config(emulator.info, auth_type, num_workers=1)
        pages = sorted(
            (c for c in emulator.site.content.values() if c.type == "page" and c.status in ("current", "archived")),
            key=lambda c: c.modified,
        )
        edited = [c.id for c in pages[3:40:12]]  # on the first page of results, already read by then
        editor = edit_during_the_walk(emulator, edited, after_search_pages=2)
        output = read_streams(config, ["pages"], SyncMode.incremental)
        editor.join()
        assert not output.errors
        first_records = records_by_stream(output)["pages"]
        first = {r["id"] for r in first_records}
        unchanged = {c.id for c in pages} - set(edited)
        assert unchanged - first == set(), "unchanged pages were skipped"
        # The edited pages were read before their edit; their new version arrives by the next sync at the latest.
        second = records_by_stream(read_streams(config, ["pages"], SyncMode.incremental, state=final_states(output)))["pages"]
        assert set(edited) <= first | {r["id"] for r in second}
        newest_title = {r["id"]: r["title"] for r in first_records + second}
        assert all(newest_title[page_id] == "edited during the sync" for page_id in edited)


def test_a_stream_of_edits_during_a_data_center_sync_read_side_by_side_loses_nothing():
    """Edits every 50 ms, anywhere in the site, while four windows are walked: 0.2.1 missed 3 to 5 unchanged pages."""
    rng = random.Random(41)
    with Emulator(profile="data_center", seed=41, pages=600, time_zone="UTC", latency_ms=60, clock_start_ms=site_now_ms()) as emulator:
        config = connector_config(emulator.info, "personal_access_token", num_workers=4)
        page_ids = [c.id for c in emulator.site.content.values() if c.type == "page" and c.status in ("current", "archived")]
        edited, done = set(), threading.Event()

        def keep_editing():
            while not done.is_set():
                page_id = rng.choice(page_ids)
                emulator.admin.edit(page_id, title="edited during the sync")
                edited.add(page_id)
                time.sleep(0.05)

        editor = threading.Thread(target=keep_editing, daemon=True)
        editor.start()
        try:
            output = read_streams(config, ["pages"], SyncMode.incremental)
        finally:
            done.set()
            editor.join()
        assert not output.errors
        assert len(edited) >= 10, "the edits did not overlap the sync"
        first = {r["id"] for r in records_by_stream(output)["pages"]}
        assert set(page_ids) - edited - first == set(), "unchanged pages were skipped"
        second = records_by_stream(read_streams(config, ["pages"], SyncMode.incremental, state=final_states(output)))["pages"]
        assert edited <= first | {r["id"] for r in second}


def search_counts(emulator) -> int:
    """Window counts: CQL asked of ``/rest/api/search`` (the listings use ``content/search``)."""
    return requests_to(emulator, "/rest/api/search")


def test_a_sync_soon_after_the_last_counts_nothing_though_the_newest_content_is_days_old():
    # Nothing edited in the five days before the syncs: each stream's cursor (its newest record) is five days
    # back, so its window spans five days, but the last sync read up to a minute ago (the state's read_until).
    five_days_ago = int(time.time() * 1000) - 5 * 24 * 3600 * 1000
    with Emulator(profile="cloud", seed=23, pages=120, clock_start_ms=five_days_ago) as emulator:
        config = connector_config(emulator.info, "api_token")
        output = read_streams(config, ["pages", "blog_posts"], SyncMode.incremental)
        assert not output.errors
        assert search_counts(emulator) > 0  # a first sync is counted
        state = final_states(output)
        assert all("read_until" in message.stream.stream_state.__dict__ for message in state)

        emulator.admin.reset_requests()
        second = read_streams(config, ["pages", "blog_posts"], SyncMode.incremental, state=state)
        assert not second.errors and second.records  # the lookback's overlap is read again
        assert search_counts(emulator) == 0

        # The same state without read_until (as written before it existed): the five days are counted.
        for message in state:
            del message.stream.stream_state.__dict__["read_until"]
        emulator.admin.reset_requests()
        third = read_streams(config, ["pages", "blog_posts"], SyncMode.incremental, state=state)
        assert not third.errors
        assert search_counts(emulator) == 2  # one count per stream
