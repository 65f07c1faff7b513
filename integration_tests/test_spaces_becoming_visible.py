"""Spaces that become visible after a sync: their older content arrives in the next incremental sync, once.

Each test builds its own emulator, because it changes the site's permissions.
"""

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Dict, Iterable, List, Set

from airbyte_cdk.models import SyncMode

from confluence_emulator import Emulator
from integration_tests.emulator_configs import connector_config
from integration_tests.reading import read_streams, records_by_stream
from integration_tests.test_incremental import (
    LOOKBACK,
    RESULTS_PER_PAGE,
    final_states,
    incremental_catalog,
    parse_utc,
    run_until,
    site_now_ms,
)

STREAMS = ["pages", "blog_posts"]
TYPE_OF_STREAM = {"pages": "page", "blog_posts": "blogpost"}


def sync(config, state=None):
    output = read_streams(config, STREAMS, SyncMode.incremental, state=state)
    assert not output.errors, [e.trace.error.message for e in output.errors]
    return records_by_stream(output), final_states(output)


def visible_ids(emulator, username: str, space_key: str, content_type: str) -> Set[str]:
    """What the user may read in the space, from the emulator's own truth."""
    site = emulator.site
    user = site.user_by_any(username)
    return {
        c.id
        for c in site.content.values()
        if c.type == content_type and c.space_key == space_key and c.status in ("current", "archived") and site.can_view(user, c)
    }


def spaces_in(states) -> Dict[str, List[str]]:
    return {state.stream.stream_descriptor.name: state.stream.stream_state.spaces for state in states}


def ids_in(records: Iterable[dict], space_key: str) -> List[str]:
    return [r["id"] for r in records if r.get("spaceKey") == space_key]


def test_a_space_granted_after_a_sync_is_caught_up_once_in_the_next_sync():
    with Emulator(profile="cloud", seed=31, pages=240, time_zone="America/New_York", clock_start_ms=site_now_ms()) as emulator:
        config = connector_config(emulator.info, "api_token", reader=True)
        first, state = sync(config)
        assert not any(ids_in(first[stream], "HR") for stream in STREAMS), "the reader cannot see HR yet"
        assert all("HR" not in spaces and "ENG" in spaces for spaces in spaces_in(state).values())
        # Each stream's next window starts at its newest record, minus the lookback and the zone's DST spread.
        overlap_start = {
            stream: max(parse_utc(r["lastModifiedAt"]) for r in first[stream]) - LOOKBACK - timedelta(hours=1) for stream in STREAMS
        }

        emulator.admin.grant_space("HR", users=["reader"])
        second, state = sync(config, state)
        for stream in STREAMS:
            expected = visible_ids(emulator, "reader", "HR", TYPE_OF_STREAM[stream])
            assert expected, f"HR has {stream} the reader can now read"
            delivered = Counter(ids_in(second[stream], "HR"))
            assert set(delivered) == expected and set(delivered.values()) == {1}, stream
            # Nothing old from the spaces read before: only the incremental window's overlap.
            assert all(parse_utc(r["lastModifiedAt"]) >= overlap_start[stream] for r in second[stream] if r["spaceKey"] != "HR")
        assert all("HR" in spaces for spaces in spaces_in(state).values())

        third, _ = sync(config, state)
        for stream in STREAMS:
            assert not ids_in(third[stream], "HR"), "a third sync re-reads nothing old"
            assert all(parse_utc(r["lastModifiedAt"]) >= overlap_start[stream] for r in third[stream])


def test_a_new_space_with_imported_old_content_is_caught_up_in_the_next_sync():
    with Emulator(profile="cloud", seed=34, pages=80, time_zone="UTC", clock_start_ms=site_now_ms()) as emulator:
        config = connector_config(emulator.info, "api_token")
        _, state = sync(config)
        emulator.admin.create_space("ARCH", name="Archive", pages=5, blogposts=2, modified_days_ago=90)
        second, state = sync(config, state)
        for stream in STREAMS:
            delivered = Counter(ids_in(second[stream], "ARCH"))
            assert set(delivered) == visible_ids(emulator, "admin", "ARCH", TYPE_OF_STREAM[stream]) and set(delivered.values()) == {1}
        assert all("ARCH" in spaces for spaces in spaces_in(state).values())


def test_a_space_added_to_space_keys_is_caught_up_in_the_next_sync():
    with Emulator(profile="data_center", seed=32, pages=160, time_zone="Asia/Shanghai", clock_start_ms=site_now_ms()) as emulator:
        config = connector_config(emulator.info, "personal_access_token", space_keys=["ENG"])
        first, state = sync(config)
        assert {r["spaceKey"] for r in first["pages"]} == {"ENG"}
        assert spaces_in(state)["pages"] == ["ENG"]

        second, state = sync({**config, "space_keys": ["ENG", "DOCS"]}, state)
        delivered = Counter(ids_in(second["pages"], "DOCS"))
        assert set(delivered) == visible_ids(emulator, "admin", "DOCS", "page") and set(delivered.values()) == {1}
        assert len(ids_in(second["pages"], "ENG")) < len(ids_in(first["pages"], "ENG")) / 5, "ENG is not read again"
        assert spaces_in(state)["pages"] == ["DOCS", "ENG"]


def test_a_sync_killed_during_a_catch_up_catches_the_space_up_when_resumed(tmp_path: Path):
    with Emulator(profile="cloud", seed=33, pages=900, time_zone="UTC", clock_start_ms=site_now_ms()) as emulator:
        config = connector_config(emulator.info, "api_token", reader=True, num_workers=2)
        config_path, catalog_path, state_path = tmp_path / "config.json", tmp_path / "catalog.json", tmp_path / "state.json"
        config_path.write_text(json.dumps(config))
        catalog_path.write_text(json.dumps(incremental_catalog(["pages"])))
        _, first_states = run_until(config_path, catalog_path, None, stop_after_records=None)
        emulator.admin.grant_space("HR", groups=["confluence-users"])
        hr_pages = visible_ids(emulator, "reader", "HR", "page")
        assert len(hr_pages) > 2 * RESULTS_PER_PAGE, "HR's catch-up takes several pages of results"

        state_path.write_text(json.dumps([first_states[-1]]))
        killed_ids, killed_states = run_until(config_path, catalog_path, state_path, stop_after_records=RESULTS_PER_PAGE + 25)
        # States were written during the catch-up (a page of results is one), none of them knows HR yet.
        assert len(killed_ids & hr_pages) > RESULTS_PER_PAGE
        assert killed_states and all("HR" not in s["stream"]["stream_state"].get("spaces", []) for s in killed_states)

        state_path.write_text(json.dumps([killed_states[-1]]))
        resumed_ids, resumed_states = run_until(config_path, catalog_path, state_path, stop_after_records=None)
        assert hr_pages <= resumed_ids, "the resumed sync reads the whole catch-up again"
        assert "HR" in resumed_states[-1]["stream"]["stream_state"]["spaces"]
