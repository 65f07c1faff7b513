"""content_tree: one CQL walk over folders, whiteboards, databases and embeds, each completed from its v2 node."""

import freezegun
from airbyte_cdk.models import SyncMode

from unit_tests.config_builder import ConfigBuilder
from unit_tests.conftest import log_messages, read_streams, records_of
from unit_tests.request_builder import ConfluenceUrls, query_of, requests_to
from unit_tests.response_builder import error, list_page, tree_node, v2_tree_node


@freezegun.freeze_time("2024-06-15T12:00:00Z")
class TestCloudContentTree:
    def test_one_cql_walk_for_every_type_and_the_parent_from_v2(self, http):
        urls = ConfluenceUrls.cloud_site()
        http.get(urls.content_search, json=list_page([tree_node("7001", "folder"), tree_node("7002", "embed", "Figma")]))
        http.get(f"{urls.v2_root}/folders/7001", json=v2_tree_node("7001", "folder", "7000", "folder"))
        http.get(f"{urls.v2_root}/embeds/7002", json=v2_tree_node("7002", "embed", "5001", "page", embedUrl="https://figma.com/f/1"))
        output = read_streams(ConfigBuilder().with_start_date("2024-01-01T00:00:00Z").build(), "content_tree",
                              sync_mode=SyncMode.incremental)
        sent = [query_of(r.url) for r in requests_to(http, urls.content_search)]
        assert sent[0]["cql"] == [
            'type IN (folder, whiteboard, database, embed) AND status IN ("current", "archived") '
            'AND lastmodified >= "2024-01-01 00:00" AND lastmodified <= "2024-06-15 12:01" ORDER BY lastmodified ASC'
        ]
        assert sent[0]["expand"] == ["version,space,history"]
        folder, embed = sorted(records_of(output, "content_tree"), key=lambda r: r["id"])
        assert (folder["type"], folder["parentId"], folder["parentType"], folder["ownerId"]) == ("folder", "7000", "folder", "557058:owner")
        assert (folder["spaceKey"], folder["spaceId"], folder["position"], folder["version"]["number"]) == ("ENG", "100", 1, 2)
        assert folder["webUrl"] == "https://acme.atlassian.net/wiki/spaces/ENG/folder/7001"
        assert (embed["parentId"], embed["parentType"], embed["embedUrl"]) == ("5001", "page", "https://figma.com/f/1")
        assert output.most_recent_state.stream_descriptor.name == "content_tree"

    def test_a_node_gone_from_v2_keeps_its_record_without_a_parent(self, http):
        urls = ConfluenceUrls.cloud_site()
        http.get(urls.content_search, json=list_page([tree_node("7001", "whiteboard")]))
        http.get(f"{urls.v2_root}/whiteboards/7001", status_code=404, json=error(404, "Cannot find [whiteboard]"))
        output = read_streams(ConfigBuilder().with_start_date("2024-01-01T00:00:00Z").build(), "content_tree")
        assert not output.errors
        [record] = records_of(output, "content_tree")
        # emitted records leave None values out
        assert (record["id"], record.get("parentId"), record["position"]) == ("7001", None, 4)


@freezegun.freeze_time("2024-06-15T12:00:00Z")
class TestDataCenterContentTree:
    def test_no_content_type_binding_is_an_empty_stream_said_once(self, http):
        urls = ConfluenceUrls.data_center()
        http.get(urls.content_search, status_code=400, json=error(400, "No ContentTypeBinding found for type: folder"))
        output = read_streams(ConfigBuilder().data_center().build(), "content_tree", sync_mode=SyncMode.incremental)
        assert not output.errors and records_of(output, "content_tree") == []
        assert len([m for m in log_messages(output) if "Data Center has no folders" in m]) == 1
        # one request (its CQL is the probe's, which requests_to leaves out)
        assert len([r for r in http.request_history if r.url.startswith(urls.content_search)]) == 1
