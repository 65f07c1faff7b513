"""At most ``num_workers`` requests in flight, whoever sends them: the stream workers, the look-ups, the window
counts, the attachment downloads and the streams the CDK builds on its own (sync/in_flight.py)."""

from typing import Any, Iterable, List, Mapping

import pytest
from airbyte_cdk.models import SyncMode

from confluence_emulator.server import Emulator
from integration_tests.emulator_configs import connector_config
from integration_tests.reading import duplicate_ids, read_streams, records_by_stream
from bench.request_log import kind_of

NUM_WORKERS = 3
# Every kind of stream at once: the content streams, the CDK's own (space, group, users) and the downloads.
MIXED_STREAMS = ("pages", "blog_posts", "space", "group", "users", "attachments", "attachment_files")


@pytest.fixture(scope="module")
def real_site():
    # Requests slow enough to overlap: the budget, not the client, bounds how many are in flight.
    with Emulator(profile="cloud", seed=23, pages=1500, time_zone="UTC", site_shape="real", latency_ms=60) as emulator:
        yield emulator


def most_at_once(log: Iterable[Mapping[str, Any]]) -> int:
    """The most of these requests the emulator held at the same moment (each starts at ``time``, lasts ``elapsed_ms``)."""
    edges: List[Any] = []
    for entry in log:
        edges += [(entry["time"], 1), (entry["time"] + entry["elapsed_ms"] / 1000, -1)]
    peak = running = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):  # an end before a start at the same instant
        running += step
        peak = max(peak, running)
    return peak


def first_sync(site, streams, sync_mode=SyncMode.incremental, num_workers=NUM_WORKERS):
    site.admin.reset_requests()
    output = read_streams(connector_config(site.info, "api_token", num_workers=num_workers), streams, sync_mode)
    assert not output.errors, [error.trace.error.message for error in output.errors]
    return records_by_stream(output), site.admin.stats(), site.admin.requests()


@pytest.mark.parametrize("sync_mode", [SyncMode.incremental, SyncMode.full_refresh])
def test_reading_content_streams_the_window_counts_go_side_by_side_within_the_budget(real_site, sync_mode):
    records, stats, log = first_sync(real_site, ("pages", "blog_posts"), sync_mode)
    truth = {c.id for c in real_site.site.content.values() if c.type == "page" and c.status in ("current", "archived")}
    assert {r["id"] for r in records["pages"]} == truth and duplicate_ids(records["pages"]) == []
    assert stats["peak_in_flight"] <= NUM_WORKERS
    # The window counts run side by side in the look-up pool, within the budget. How many at once depends on
    # when the first walks (a stream that needs no cut) take slots: at least two, never more than the budget.
    counts = [entry for entry in log if kind_of(entry) == "count"]
    assert len(counts) > NUM_WORKERS
    assert 2 <= most_at_once(counts) <= NUM_WORKERS


def test_with_every_kind_of_stream_selected_the_budget_holds(real_site):
    records, stats, log = first_sync(real_site, MIXED_STREAMS, sync_mode=SyncMode.full_refresh)
    assert all(records[name] for name in MIXED_STREAMS), {name: len(records[name]) for name in MIXED_STREAMS}
    # The CDK has twice as many workers as the budget: without a slot per request they would exceed it.
    assert stats["peak_in_flight"] <= NUM_WORKERS
    assert most_at_once(log) <= NUM_WORKERS
