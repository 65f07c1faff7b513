"""access/ancestors.py: typed ancestry of Cloud pages from v2 parent links."""

from source_confluence.access.ancestors import TreeCache, TreeLookup, complete_ancestors
from source_confluence.access.rule import ANCESTRY_UNKNOWN
from unit_tests.components.fake_requester import FakeRequester


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
        complete_ancestors({}, TreeLookup(v1, v2, TreeCache()), records)
        assert [(a["id"], a["type"], a["title"]) for a in records[0]["ancestors"]] == [
            ("1", "page", "Home"), ("10", "folder", "Team"), ("2", "page", "In folder")]
        assert [(a["id"], a["type"]) for a in records[1]["ancestors"]] == [("1", "page")]
        # one bulk request for every page and its page ancestors, the folder once
        assert [c["path"] for c in v2.calls] == ["pages", "folders/10"]
        assert sorted(v2.calls[0]["id"].split(",")) == ["1", "2", "3", "4"]

    def test_ids_go_250_a_request(self):
        v2 = FakeRequester({"pages": lambda params: {"results": [{"id": i, "parentId": None} for i in params["id"].split(",")]}})
        records = [page(str(n)) for n in range(1, 602)]
        complete_ancestors({}, TreeLookup(v1_site(), v2, TreeCache()), records)
        assert [len(c["id"].split(",")) for c in v2.calls] == [250, 250, 101]
        assert all(ANCESTRY_UNKNOWN not in r for r in records)

    def test_a_site_without_folders_asks_nothing_of_v2(self):
        v1, v2 = v1_site(has_nodes=False), v2_site()
        records = [page("3", "1", "2")]
        cache = TreeCache()
        complete_ancestors({}, TreeLookup(v1, v2, cache), records)
        complete_ancestors({}, TreeLookup(v1, v2, cache), [page("4", "1")])
        assert v2.calls == [] and len(v1.calls) == 1  # the probe, once a sync
        assert [a["id"] for a in records[0]["ancestors"]] == ["1", "2"]

    def test_data_center_is_left_alone(self):
        v1, v2 = v1_site(), v2_site()
        complete_ancestors({"deployment": "data_center"}, TreeLookup(v1, v2, TreeCache()), [page("3", "1", "2")])
        assert v1.calls == [] and v2.calls == []

    def test_a_folder_v2_will_not_show_makes_the_ancestry_unknown_not_shorter(self):
        v2 = FakeRequester({"pages": v2_pages, "folders/10": 403})
        records = [page("3", "1", "2")]
        complete_ancestors({}, TreeLookup(v1_site(), v2, TreeCache()), records)
        assert "HTTP 403" in records[0][ANCESTRY_UNKNOWN]
        assert [a["id"] for a in records[0]["ancestors"]] == ["1", "2"]

    def test_a_loop_in_parent_links_is_unknown(self):
        v2 = FakeRequester({"pages": lambda params: {"results": [{"id": "5", "parentId": "6", "parentType": "page"},
                                                                  {"id": "6", "parentId": "5", "parentType": "page"}]}})
        records = [page("5", "6")]
        complete_ancestors({}, TreeLookup(v1_site(), v2, TreeCache()), records)
        assert "do not end" in records[0][ANCESTRY_UNKNOWN]
