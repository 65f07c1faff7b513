"""group: v1 ``group``, 200 a page; the id falls back to the name on Data Center."""

import freezegun

from unit_tests.config_builder import ConfigBuilder
from unit_tests.conftest import read_streams, records_of, stream_requests
from unit_tests.request_builder import ConfluenceUrls, query_of, url_without_query
from unit_tests.response_builder import group, list_page


@freezegun.freeze_time("2024-06-15T12:00:00Z")
class TestGroup:
    def test_cloud_group_keeps_its_id_and_drops_links(self, http):
        http.get(ConfluenceUrls.cloud_site().group, json=list_page([group("administrators", "0ca6e087")]))
        output = read_streams(ConfigBuilder().build(), "group")
        request = stream_requests(http)[0]
        assert url_without_query(request.url) == "https://acme.atlassian.net/wiki/rest/api/group"
        assert query_of(request.url) == {"limit": ["200"]}
        assert records_of(output, "group") == [{"type": "group", "name": "administrators", "id": "0ca6e087"}]

    def test_data_center_group_id_falls_back_to_its_name(self, http):
        http.get(ConfluenceUrls.data_center().group, json=list_page([group("confluence-users"), group("confluence-administrators")], start=0, limit=200))
        output = read_streams(ConfigBuilder().data_center().build(), "group")
        assert [r["id"] for r in records_of(output, "group")] == ["confluence-users", "confluence-administrators"]
        assert all("_links" not in r for r in records_of(output, "group"))
