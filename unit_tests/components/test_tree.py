"""components/tree.py: typed ancestry from v2 parent links, the tree selection, and the Data Center refusal."""

import json
from typing import Any, Dict, List, Mapping, Optional

import pytest
import requests
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_confluence.components import tree
from source_confluence.components.access import ANCESTRY_UNKNOWN, EffectiveReadAccess
from source_confluence.components.records import normalise_tree_node


class FakeRequester:
    """Answers ``send_request`` from a table of path -> JSON (or status code), and records what was asked."""

    def __init__(self, answers: Mapping[str, Any]) -> None:
        self.answers = dict(answers)
        self.calls: List[Dict[str, Any]] = []

    def send_request(self, path: str, request_params: Optional[Mapping[str, Any]] = None, **_: Any) -> requests.Response:
        params = dict(request_params or {})
        self.calls.append({"path": path, **params})
        answer = self.answers[path](params) if callable(self.answers.get(path)) else self.answers.get(path, 404)
        response = requests.Response()
        response.status_code = answer if isinstance(answer, int) else 200
        response._content = json.dumps({} if isinstance(answer, int) else answer).encode()
        response.headers["Content-Type"] = "application/json"
        response.request = requests.Request("GET", "https://acme.test/wiki/api/v2/" + path).prepare()
        return response


# A site: home page 1 > folder 10 (restricted) > page 2 > page 3; home page 1 > page 4; folder 11 in folder 10.
V2_PAGES = {
    "1": {"id": "1", "title": "Home", "parentId": None},
    "2": {"id": "2", "title": "In folder", "parentId": "10", "parentType": "folder"},
    "3": {"id": "3", "title": "Deep", "parentId": "2", "parentType": "page"},
    "4": {"id": "4", "title": "Plain", "parentId": "1", "parentType": "page"},
}


def v2_pages(params):
    return {"results": [V2_PAGES[i] for i in params["id"].split(",") if i in V2_PAGES], "_links": {}}


def v2_site(**extra):
    return FakeRequester({"pages": v2_pages, "folders/10": {"id": "10", "title": "Team", "parentId": "1", "parentType": "page"},
                          **extra})


def v1_site(has_nodes=True):
    return FakeRequester({"content/search": {"results": [{"id": "10", "type": "folder"}] if has_nodes else []}})


def page(page_id, *ancestors):
    return {"id": page_id, "type": "page", "ancestors": [{"id": a, "type": "page", "title": "t%s" % a} for a in ancestors]}


class TestCompleteAncestors:
    def test_v1_ancestry_without_folders_becomes_the_typed_chain_from_v2(self):
        v1, v2 = v1_site(), v2_site()
        records = [page("3", "1", "2"), page("4", "1")]  # v1 left folder 10 out of page 3's ancestry
        tree.complete_ancestors({}, tree.TreeLookup(v1, v2, tree.TreeCache()), records)
        assert [(a["id"], a["type"], a["title"]) for a in records[0]["ancestors"]] == [
            ("1", "page", "Home"), ("10", "folder", "Team"), ("2", "page", "In folder")]
        assert [(a["id"], a["type"]) for a in records[1]["ancestors"]] == [("1", "page")]
        # one bulk request for every page and its page ancestors, the folder once
        assert [c["path"] for c in v2.calls] == ["pages", "folders/10"]
        assert sorted(v2.calls[0]["id"].split(",")) == ["1", "2", "3", "4"]

    def test_ids_go_250_a_request(self):
        v2 = FakeRequester({"pages": lambda params: {"results": [{"id": i, "parentId": None} for i in params["id"].split(",")]}})
        records = [page(str(n)) for n in range(1, 602)]
        tree.complete_ancestors({}, tree.TreeLookup(v1_site(), v2, tree.TreeCache()), records)
        assert [len(c["id"].split(",")) for c in v2.calls] == [250, 250, 101]
        assert all(ANCESTRY_UNKNOWN not in r for r in records)

    def test_a_site_without_folders_asks_nothing_of_v2(self):
        v1, v2 = v1_site(has_nodes=False), v2_site()
        records = [page("3", "1", "2")]
        cache = tree.TreeCache()
        tree.complete_ancestors({}, tree.TreeLookup(v1, v2, cache), records)
        tree.complete_ancestors({}, tree.TreeLookup(v1, v2, cache), [page("4", "1")])
        assert v2.calls == [] and len(v1.calls) == 1  # the probe, once a sync
        assert [a["id"] for a in records[0]["ancestors"]] == ["1", "2"]

    def test_data_center_is_left_alone(self):
        v1, v2 = v1_site(), v2_site()
        tree.complete_ancestors({"deployment": "data_center"}, tree.TreeLookup(v1, v2, tree.TreeCache()), [page("3", "1", "2")])
        assert v1.calls == [] and v2.calls == []

    def test_a_folder_v2_will_not_show_makes_the_ancestry_unknown_not_shorter(self):
        v2 = FakeRequester({"pages": v2_pages, "folders/10": 403})
        records = [page("3", "1", "2")]
        tree.complete_ancestors({}, tree.TreeLookup(v1_site(), v2, tree.TreeCache()), records)
        assert "HTTP 403" in records[0][ANCESTRY_UNKNOWN]
        assert [a["id"] for a in records[0]["ancestors"]] == ["1", "2"]

    def test_a_loop_in_parent_links_is_unknown(self):
        v2 = FakeRequester({"pages": lambda params: {"results": [{"id": "5", "parentId": "6", "parentType": "page"},
                                                                  {"id": "6", "parentId": "5", "parentType": "page"}]}})
        records = [page("5", "6")]
        tree.complete_ancestors({}, tree.TreeLookup(v1_site(), v2, tree.TreeCache()), records)
        assert "do not end" in records[0][ANCESTRY_UNKNOWN]


def test_an_unknown_ancestry_gives_unknown_access_and_leaves_no_marker():
    record = {"id": "3", "spaceKey": "ENG", "readRestriction": None, ANCESTRY_UNKNOWN: "its place in the content tree could not be read"}
    EffectiveReadAccess(config={}, parameters={}).transform(record)
    assert record["effective_read_access"]["unknown"] is True and record["effective_read_access"]["users"] is None
    assert ANCESTRY_UNKNOWN not in record


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

