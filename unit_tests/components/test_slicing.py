"""components/slicing.py: the first sync's window from start_date or 1970, with no look-up of the content."""

from datetime import datetime, timedelta, timezone

import pytest

from source_confluence.components.slicing import slice_plan
from unit_tests.config_builder import ConfigBuilder, SITE
from unit_tests.conftest import mock_time_zone_lookups, normalise_config

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=timezone.utc)


def minutes(step: str) -> int:
    assert step.startswith("PT") and step.endswith("M"), step
    return int(step[2:-1])


class TestSlicePlan:
    def test_without_start_date_the_first_sync_is_one_window_from_1970(self):
        # work_windows cuts it from the first edit its first count names: no look-up before the sync.
        plan = slice_plan(ConfigBuilder().with_workers(10).build(), NOW)
        assert plan == {"content_start": "1970-01-01T00:00:00Z", "content_slice_step": "P36500D"}

    def test_a_start_date_is_cut_into_two_windows_per_worker(self):
        config = ConfigBuilder().with_workers(4).with_start_date("2024-06-07T12:00:00Z").build()
        plan = slice_plan(config, NOW)
        assert plan["content_start"] == "2024-06-07T12:00:00Z"
        assert minutes(plan["content_slice_step"]) == 24 * 60  # 8 days / 8 windows

    def test_windows_are_never_shorter_than_a_day(self):
        config = ConfigBuilder().with_workers(20).with_start_date("2024-06-15T07:00:00Z").build()
        assert minutes(slice_plan(config, NOW)["content_slice_step"]) == 24 * 60

    def test_one_worker_reads_one_window_from_the_start_date(self):
        config = ConfigBuilder().with_workers(1).with_start_date("2024-03-07T12:00:00Z").build()
        assert slice_plan(config, NOW) == {"content_start": "2024-03-07T12:00:00Z", "content_slice_step": "P36500D"}


def test_normalise_config_puts_the_plan_under_derived_without_asking_for_content(requests_mock):
    mock_time_zone_lookups(requests_mock)
    requests_mock.get(f"{SITE}/wiki/api/v2/spaces", json={"results": [{"key": "ENG"}], "_links": {}})
    config = ConfigBuilder().with_workers(5).with_start_date("2024-01-01T00:00:00Z").build()
    normalise_config().transform(config)
    assert config["_derived"]["content_start"] == "2024-01-01T00:00:00Z"
    assert minutes(config["_derived"]["content_slice_step"]) == pytest.approx(
        (datetime.now(timezone.utc) - datetime(2024, 1, 1, tzinfo=timezone.utc)).total_seconds() / 60 / 10, abs=2)
    assert not [r for r in requests_mock.request_history if "search" in r.url]
