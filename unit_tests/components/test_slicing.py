"""components/slicing.py: the first sync's windows, from the oldest content's date."""

from datetime import datetime, timedelta, timezone

import pytest

from source_confluence.components.config import NormaliseConfig
from source_confluence.components.slicing import discover_oldest_modification, slice_plan
from unit_tests.config_builder import ConfigBuilder, DC_BASE, SITE
from unit_tests.conftest import is_oldest_content_lookup, mock_time_zone_lookups
from unit_tests.request_builder import basic, bearer, query_of

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=timezone.utc)


def minutes(step: str) -> int:
    assert step.startswith("PT") and step.endswith("M"), step
    return int(step[2:-1])


class TestSlicePlan:
    def test_the_span_from_a_day_before_the_oldest_content_is_cut_into_two_windows_per_worker(self):
        oldest = NOW - timedelta(days=99)
        plan = slice_plan(ConfigBuilder().with_workers(10).build(), oldest, NOW)
        assert plan["content_start"] == "2024-03-07T12:00:00Z"  # 100 days before now
        assert minutes(plan["content_slice_step"]) == 100 * 24 * 60 // 20

    def test_a_later_start_date_wins_over_the_oldest_content(self):
        config = ConfigBuilder().with_workers(4).with_start_date("2024-06-07T12:00:00Z").build()
        plan = slice_plan(config, NOW - timedelta(days=400), NOW)
        assert plan["content_start"] == "2024-06-07T12:00:00Z"
        assert minutes(plan["content_slice_step"]) == 24 * 60  # 8 days / 8 windows

    def test_windows_are_never_shorter_than_a_day(self):
        plan = slice_plan(ConfigBuilder().with_workers(20).build(), NOW - timedelta(hours=5), NOW)
        assert minutes(plan["content_slice_step"]) == 24 * 60

    @pytest.mark.parametrize("workers, oldest", [(10, None), (1, NOW - timedelta(days=99))])
    def test_one_window_without_a_bound_or_without_a_second_worker(self, workers, oldest):
        plan = slice_plan(ConfigBuilder().with_workers(workers).build(), oldest, NOW)
        assert plan["content_slice_step"] == "P36500D"
        assert plan["content_start"] == ("1970-01-01T00:00:00Z" if oldest is None else "2024-03-07T12:00:00Z")


class TestOldestContentLookup:
    def test_asks_for_one_result_in_lastmodified_order_with_the_site_credentials(self, requests_mock):
        requests_mock.get(f"{SITE}/wiki/rest/api/content/search", json={"results": [{"id": "9", "version": {"when": "2021-05-04T03:02:01.000Z"}}]})
        config = ConfigBuilder().with_workers(8).with_space_keys("ENG").with_include_archived(False).build()
        assert discover_oldest_modification(config) == datetime(2021, 5, 4, 3, 2, 1, tzinfo=timezone.utc)
        (request,) = requests_mock.request_history
        assert query_of(request.url) == {
            "cql": ['type IN (page, blogpost, comment, attachment) AND status IN ("current") AND space IN ("ENG") ORDER BY lastmodified ASC'],
            "limit": ["1"],
            "expand": ["version"],
        }
        assert request.headers["Authorization"] == basic("bot@acme.test", "cloud-token")

    def test_data_center_uses_its_rest_api_and_the_token(self, requests_mock):
        requests_mock.get(f"{DC_BASE}/rest/api/content/search", json={"results": [{"version": {"when": "2020-01-02T03:04:05.000+01:00"}}]})
        assert discover_oldest_modification(ConfigBuilder().data_center().with_workers(8).build()) == datetime(2020, 1, 2, 2, 4, 5, tzinfo=timezone.utc)
        assert requests_mock.request_history[0].headers["Authorization"] == bearer("dc-pat")

    @pytest.mark.parametrize(
        "answer",
        [
            {"status_code": 500, "json": {"message": "boom"}},
            {"status_code": 200, "text": "<html>not json</html>"},
            {"status_code": 200, "json": {"results": []}},
            {"status_code": 200, "json": {"results": [{"version": {"when": "yesterday"}}]}},
        ],
    )
    def test_anything_unexpected_means_unknown(self, requests_mock, answer):
        requests_mock.get(f"{SITE}/wiki/rest/api/content/search", **answer)
        assert discover_oldest_modification(ConfigBuilder().with_workers(8).build()) is None

    def test_oauth_without_a_live_access_token_never_refreshes_here(self, requests_mock):
        assert discover_oldest_modification(ConfigBuilder().with_oauth2().with_workers(8).build()) is None
        assert requests_mock.call_count == 0

    def test_one_worker_does_not_ask(self, requests_mock):
        assert discover_oldest_modification(ConfigBuilder().with_workers(1).build()) is None
        assert requests_mock.call_count == 0


def test_normalise_config_puts_the_plan_under_derived(requests_mock):
    mock_time_zone_lookups(requests_mock)
    oldest = datetime.now(timezone.utc) - timedelta(days=30)
    requests_mock.get(f"{SITE}/wiki/rest/api/content/search", json={"results": [{"version": {"when": oldest.isoformat()}}]})
    config = ConfigBuilder().with_workers(5).build()
    NormaliseConfig().transform(config)
    assert config["_derived"]["content_start"] == (oldest - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert minutes(config["_derived"]["content_slice_step"]) == pytest.approx(31 * 24 * 60 / 10, abs=2)
    assert [r for r in requests_mock.request_history if is_oldest_content_lookup(r)]
