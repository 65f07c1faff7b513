"""space: v2 ``spaces`` on Cloud, v1 ``space`` on Data Center, filtered by ``space_keys``."""

import time

import freezegun

from unit_tests.config_builder import ConfigBuilder
from unit_tests.conftest import read_streams, records_of, stream_requests
from unit_tests.request_builder import ConfluenceUrls, query_of, requests_to
from unit_tests.response_builder import dc_space, list_page, v2_space


@freezegun.freeze_time("2024-06-15T12:00:00Z")
class TestSpace:
    def test_cloud_first_request_asks_for_250_plain_descriptions(self, http):
        http.get(ConfluenceUrls.cloud_site().spaces, json=list_page([v2_space("1", "ENG")]))
        output = read_streams(ConfigBuilder().build(), "space")
        assert query_of(stream_requests(http)[0].url) == {"limit": ["250"], "description-format": ["plain"]}
        record = records_of(output, "space")[0]
        assert (record["id"], record["key"], record["description"]) == ("1", "ENG", "Engineering space")
        assert record["webUrl"] == "https://acme.atlassian.net/wiki/spaces/ENG"

    def test_cloud_space_keys_become_one_comma_separated_keys_parameter(self, http):
        http.get(ConfluenceUrls.cloud_site().spaces, json=list_page([v2_space("1", "A"), v2_space("2", "B")]))
        read_streams(ConfigBuilder().with_space_keys("A", "B").build(), "space")
        assert query_of(stream_requests(http)[0].url)["keys"] == ["A,B"]

    def test_data_center_asks_for_500_with_expansions(self, http):
        http.get(ConfluenceUrls.data_center().spaces, json=list_page([dc_space(98305, "ENG")], start=0, limit=500))
        output = read_streams(ConfigBuilder().data_center().build(), "space")
        assert query_of(stream_requests(http)[0].url) == {"limit": ["500"], "expand": ["description.plain,homepage,history"]}
        record = records_of(output, "space")[0]
        assert (record["id"], record["homepageId"], record["authorId"]) == ("98305", "65540", "8a7f808a")
        assert record["webUrl"] == "https://wiki.example.com/confluence/display/ENG"

    def test_data_center_space_keys_become_repeated_space_key_parameters(self, http):
        http.get(ConfluenceUrls.data_center().spaces, json=list_page([dc_space(1, "A"), dc_space(2, "B")]))
        read_streams(ConfigBuilder().data_center().with_space_keys("A", "B").build(), "space")
        query = query_of(stream_requests(http)[0].url)
        assert query["spaceKey"] == ["A", "B"]
        assert "keys" not in query

    def test_data_center_offset_pages_are_walked_with_recomputed_start(self, http):
        url = ConfluenceUrls.data_center().spaces
        http.get(
            url + "?limit=500&expand=description.plain,homepage,history",
            complete_qs=True,
            json={**list_page([dc_space(1, "A"), dc_space(2, "B")], start=0, limit=2), "_links": {"next": "/rest/api/space?limit=2&start=2"}},
        )
        http.get(url + "?limit=2&start=2", complete_qs=True, json=list_page([dc_space(3, "C")], start=2, limit=2))
        output = read_streams(ConfigBuilder().data_center().build(), "space")
        assert [r["key"] for r in records_of(output, "space")] == ["A", "B", "C"]


class TestSpaceAsAParentStream:
    def test_a_cut_short_space_list_is_fetched_again_not_replayed_from_a_cache(self, http, monkeypatch):
        # A 2xx whose JSON is cut short is retried (components/backoff.py); the CDK caches the responses of
        # parent streams, and a cached copy of the broken body would be replayed to every retry.
        monkeypatch.setattr(time, "sleep", lambda seconds: None)
        urls = ConfluenceUrls.cloud_site()
        cut_short = {"text": '{"results": [{"id": "1", "key": "EN', "headers": {"Content-Type": "application/json"}}
        http.get(urls.spaces, [cut_short, {"json": list_page([v2_space("1", "ENG")])}])
        http.get(urls.content_search, json=list_page([{"id": "5", "type": "page", "status": "current"}]))
        output = read_streams(ConfigBuilder().build(), "content_inventory")
        assert not output.errors, [e.trace.error.message for e in output.errors]
        assert [r["id"] for r in records_of(output, "content_inventory")] == ["5"]
        assert len(requests_to(http, urls.spaces)) == 2
