"""At most ``num_workers`` requests in flight, look-ups and window counts included (sync/lookup_pool.py),
while the stream workers that have nothing to read lend their slots to the look-ups."""

from typing import Any, Iterable, List, Mapping

import pytest
from airbyte_cdk.models import SyncMode

from confluence_emulator.server import Emulator
from integration_tests.emulator_configs import connector_config
from integration_tests.reading import duplicate_ids, read_streams, records_by_stream
from bench.request_log import kind_of

# Three: with content streams only the CDK then has three workers and generates one stream's partitions at a
# time (half its workers, rounded down), so the window counts of one stream have the budget to themselves.
NUM_WORKERS = 3
# With another stream selected, four: the CDK has three workers and the pool one slot of its own
# (sync/lookup_pool.py), as with the default 8 (six and two).
MIXED_NUM_WORKERS = 4


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
def test_reading_only_content_streams_the_idle_workers_slots_count_windows_within_the_budget(real_site, sync_mode):
    records, stats, log = first_sync(real_site, ("pages", "blog_posts"), sync_mode)
    truth = {c.id for c in real_site.site.content.values() if c.type == "page" and c.status in ("current", "archived")}
    assert {r["id"] for r in records["pages"]} == truth and duplicate_ids(records["pages"]) == []
    assert stats["peak_in_flight"] <= NUM_WORKERS
    # The window counts run while the stream workers have no window to read yet: on the slots of the idle
    # workers and of the one generating the windows, which waits for them. The pool owns none here. Without the
    # idle workers' loan, only on the slot of the waiting one: one at a time.
    counts = [entry for entry in log if kind_of(entry) == "count"]
    assert len(counts) > NUM_WORKERS
    assert most_at_once(counts) == NUM_WORKERS


def test_with_another_stream_selected_no_worker_lends_its_slot_and_the_budget_holds(real_site):
    records, stats, log = first_sync(real_site, ("pages", "blog_posts", "space"), num_workers=MIXED_NUM_WORKERS)
    assert records["space"] and records["pages"]
    assert stats["peak_in_flight"] <= MIXED_NUM_WORKERS
    counts = [entry for entry in log if kind_of(entry) == "count"]
    # The space stream's worker may be sending: its slot stays its own.
    assert most_at_once(counts) <= MIXED_NUM_WORKERS - 1
