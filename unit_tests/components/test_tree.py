"""components/tree.py: tree nodes, the tree selection, and the Data Center refusal (typed ancestry: access/test_ancestors.py)."""

import pytest
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_confluence.components import tree
from source_confluence.components.records import normalise_tree_node
from unit_tests.components.fake_requester import FakeRequester


class TestNormaliseTreeNode:
    RAW = {"id": "10", "type": "folder", "status": "current", "title": "Team", "space": {"id": 7, "key": "ENG"},
           "history": {"createdBy": {"accountId": "a1"}, "createdDate": 1732000000000},
           "version": {"number": 2, "when": "2024-11-20T10:00:00.000Z", "by": {"accountId": "a2"}},
           "ancestors": [{"id": "1", "type": "page"}], "extensions": {"position": 3}, "_links": {"webui": "/spaces/ENG/folder/10"}}

    def test_parent_position_and_owner_come_from_v2(self):
        detail = {"parentId": "11", "parentType": "folder", "position": 0, "ownerId": "a3"}
        record = normalise_tree_node(self.RAW, detail, "https://acme.atlassian.net/wiki")
        assert (record["parentId"], record["parentType"], record["position"], record["ownerId"]) == ("11", "folder", 0, "a3")
        assert record["webUrl"] == "https://acme.atlassian.net/wiki/spaces/ENG/folder/10"
        assert record["createdAt"] == "2024-11-19T07:06:40.000Z"  # folders' epoch milliseconds (md2conf #290)
        assert (record["spaceKey"], record["spaceId"], record["authorId"], record["version"]["number"]) == ("ENG", "7", "a1", 2)

    def test_without_v2_the_parent_is_left_empty_rather_than_taken_from_v1(self):
        record = normalise_tree_node(self.RAW, None, "https://acme.atlassian.net/wiki")
        assert (record["parentId"], record["parentType"], record["position"]) == (None, None, 3)


class TestSelection:
    def search(self, params):
        cql = params["cql"]
        assert "ancestor IN (" in cql
        roots = cql.split("ancestor IN (")[1].split(")")[0].split(",")
        under = {"2": ["3", "30"], "4": ["40"]}
        return {"results": [{"id": i} for root in roots for i in under.get(root, [])]}

    def resolve(self, **config):
        v1 = FakeRequester({"content/search": self.search})
        v2 = FakeRequester({"folders/10/direct-children": {"results": [{"id": "2", "type": "page"}, {"id": "11", "type": "folder"}]},
                            "folders/11/direct-children": {"results": [{"id": "4", "type": "page"}, {"id": "12", "type": "whiteboard"}]},
                            "whiteboards/12/direct-children": {"results": []}})
        return tree.SelectedTrees(config, v1, v2).ids(), v1

    def test_folder_ids_walk_nested_folders_then_pages_descendants(self):
        ids, v1 = self.resolve(folder_ids=["10"])
        assert ids == {"10", "2", "11", "4", "12", "3", "30", "40"}
        assert "folder" in v1.calls[0]["cql"]  # nodes under the pages are selected too

    def test_page_ids_with_and_without_descendants(self):
        assert self.resolve(page_ids=["2"])[0] == {"2", "3", "30"}
        ids, v1 = self.resolve(page_ids=["2"], include_descendants=False)
        assert ids == {"2"} and v1.calls == []

    def test_ids_that_are_not_numbers_never_reach_cql(self):
        with pytest.raises(AirbyteTracedException, match="not a content id"):
            tree.SelectedTrees({"page_ids": ["1) OR (type = page"]}, FakeRequester({}), None).ids()

    def test_a_missing_folder_is_a_config_error(self):
        v2 = FakeRequester({})
        with pytest.raises(AirbyteTracedException, match="could not be read"):
            tree.SelectedTrees({"folder_ids": ["99"]}, FakeRequester({}), v2).ids()

    def test_the_filter_keeps_tree_content_and_what_it_contains(self):
        config = {"page_ids": ["2"], "include_descendants": False}
        selection = tree.selected_trees_for(config, FakeRequester({}), None)
        assert selection.ids() == {"2"}
        keep = tree.InSelectedTree(config=config, parameters={}, requester=FakeRequester({}), in_slice_window=False)
        records = [{"id": "2"}, {"id": "3"}, {"id": "50", "container": {"id": "2"}}, {"id": "51", "container": {"id": "7"}}]
        assert [r["id"] for r in keep.filter_records(records, {})] == ["2", "50"]

    def test_no_selection_keeps_everything_and_asks_nothing(self):
        v1 = FakeRequester({})
        keep = tree.InSelectedTree(config={}, parameters={}, requester=v1, in_slice_window=False)
        assert len(list(keep.filter_records([{"id": "1"}, {"id": "2"}], {}))) == 2 and v1.calls == []


def test_folder_ids_on_data_center_are_refused():
    with pytest.raises(AirbyteTracedException, match="Data Center has no folders"):
        tree.RefuseFoldersOnDataCenter().transform({"deployment": "data_center", "folder_ids": ["1"]})
    tree.RefuseFoldersOnDataCenter().transform({"deployment": "cloud", "folder_ids": ["1"]})
    tree.RefuseFoldersOnDataCenter().transform({"deployment": "data_center", "page_ids": ["1"]})

