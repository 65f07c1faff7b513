"""The Cloud content tree end to end: the content_tree stream, typed ancestors and access under folders,
and page/folder selection, on a rich emulator site whose v1 ancestry lists folders (``yes``) or skips them
(``no``, undocumented by Atlassian: the connector must be right under both)."""

from typing import Dict, Iterator

import pytest

from confluence_emulator import Emulator
from integration_tests.cli import catalog_for, run_cli
from integration_tests.emulator_configs import connector_config

TREE_TYPES = ("folder", "whiteboard", "database", "embed")


@pytest.fixture(scope="module")
def rich_emulators() -> Iterator[Dict[str, Emulator]]:
    with Emulator(profile="cloud", seed=11, pages=80, content_tree="rich", v1_ancestors_include_folders=True) as listing, \
            Emulator(profile="cloud", seed=11, pages=80, content_tree="rich", v1_ancestors_include_folders=False) as skipping:
        yield {"yes": listing, "no": skipping}


def read(config, streams):
    result = run_cli("read", config, catalog_for(streams), timeout=300)
    assert result.returncode == 0 and not result.errors, result.describe()
    return result


def expected_access(site, content):
    truth = site.effective_access(content)
    return {"users": truth["users"], "groups": truth["groups"], "anonymous": truth["anonymous"],
            "restricted": truth["restricted"], "unknown": False}


@pytest.mark.parametrize("v1_lists_folders", ["yes", "no"])
def test_every_folder_whiteboard_database_and_embed_arrives_once_with_its_v2_parent(rich_emulators, v1_lists_folders):
    emulator = rich_emulators[v1_lists_folders]
    site_ids = emulator.admin.site()
    records = read(connector_config(emulator.info, "api_token"), ["content_tree"]).records("content_tree")

    ids = [record["id"] for record in records]
    assert len(ids) == len(set(ids))
    expected = {i: t for t in TREE_TYPES for i in site_ids[t + "_ids"]}
    assert len(expected) >= 20
    assert set(ids) == set(expected)
    site = emulator.site
    for record in records:
        node = site.content[record["id"]]
        parent = site.content[node.parent_id]
        assert record["type"] == expected[record["id"]]
        assert (record["parentId"], record["parentType"]) == (parent.id, parent.type), record["id"]
        assert record["position"] == node.position
        assert record["spaceKey"] == node.space_key and record["spaceId"]
        assert record["ownerId"] == node.owner and record["authorId"] == node.author
        assert record["version"]["number"] == len(node.versions)
        assert record["webUrl"].endswith("/%s/%s" % (node.type, node.id))
        assert record["createdAt"] and record["lastModifiedAt"]
        assert (record.get("embedUrl") is not None) == (node.type == "embed")
    # under folders, so v1 ancestry alone would have named the wrong parent with "no"
    assert sum(1 for record in records if record["parentType"] == "folder") >= 5


@pytest.mark.parametrize("v1_lists_folders", ["yes", "no"])
def test_pages_carry_typed_ancestors_and_the_access_of_every_folder_above_them(rich_emulators, v1_lists_folders):
    emulator = rich_emulators[v1_lists_folders]
    site = emulator.site
    emulator.admin.reset_requests()
    records = read(connector_config(emulator.info, "api_token"), ["pages"]).records("pages")
    stats = emulator.admin.stats()["by_route"]
    assert len(records) >= 70
    # v2 parent links in bulk (250 ids a request), each folder-like node once: never a request per page
    assert 0 < stats.get("v2.pages", 0) <= stats["v1.content_search"]  # at most one per page of results
    assert stats.get("v2.tree_get", 0) <= len([c for c in site.content.values() if c.type in TREE_TYPES])
    assert stats.get("v2.pages", 0) + stats.get("v2.tree_get", 0) < len(records) / 2

    under_restricted_folder = under_open_folder = 0
    for record in records:
        page = site.content[record["id"]]
        chain = site.ancestors(page)
        assert [(a["id"], a["type"]) for a in record["ancestors"]] == [(a.id, a.type) for a in chain], record["id"]
        assert all(a["title"] for a in record["ancestors"])
        parent = chain[-1] if chain else None
        assert (record.get("parentId"), record.get("parentType")) == ((parent.id, parent.type) if parent else (None, None))
        assert record["effective_read_access"] == expected_access(site, page), record["id"]
        def restricted(node):
            return node.read_users is not None or node.read_groups is not None
        folders = [a for a in chain if a.type == "folder"]
        if folders and not any(restricted(n) for n in chain + [page] if n.type != "folder"):
            if any(restricted(f) for f in folders):  # only a folder restricts it
                under_restricted_folder += 1
                assert record["effective_read_access"]["restricted"] is True
                assert len(record["effective_read_access"]["users"]) < len(expected_access(site, chain[0])["users"])
            else:
                under_open_folder += 1
                assert record["effective_read_access"]["restricted"] is False
    assert under_restricted_folder >= 2 and under_open_folder >= 5


def test_a_uniform_site_reads_no_v2_parent_links(cloud_emulator):
    cloud_emulator.admin.reset_requests()
    records = read(connector_config(cloud_emulator.info, "api_token"), ["pages"]).records("pages")
    stats = cloud_emulator.admin.stats()["by_route"]
    assert records and not stats.get("v2.pages") and not stats.get("v2.tree_get")
    assert all(a["type"] == "page" for record in records for a in record["ancestors"])


def _tree_under(site, root_id):
    """Every node id under root (root included), by the emulator's own parent links."""
    out = {root_id}
    changed = True
    while changed:
        changed = False
        for content in site.content.values():
            if content.type in ("page",) + TREE_TYPES and content.parent_id in out and content.id not in out \
                    and content.status in ("current", "archived"):
                out.add(content.id)
                changed = True
    return out


@pytest.mark.parametrize("v1_lists_folders", ["yes", "no"])
def test_page_ids_with_descendants_and_folder_ids_read_exactly_their_trees(rich_emulators, v1_lists_folders):
    emulator = rich_emulators[v1_lists_folders]
    site = emulator.site
    # a top folder holding pages, nested folders and other nodes; a page with a folder somewhere under it
    folder = max((c for c in site.content.values() if c.type == "folder" and c.space_key == "DOCS"),
                 key=lambda c: len(_tree_under(site, c.id)))
    page = max((c for c in site.content.values() if c.type == "page" and c.parent_id and c.space_key == "ENG"
                and site.content[c.parent_id].type == "page"),
               key=lambda c: (any(site.content[i].type == "folder" for i in _tree_under(site, c.id)), len(_tree_under(site, c.id))))
    config = connector_config(emulator.info, "api_token", page_ids=[page.id], folder_ids=[folder.id])
    result = read(config, ["pages", "blog_posts", "comments", "attachments", "content_tree", "content_inventory"])

    wanted = _tree_under(site, page.id) | _tree_under(site, folder.id)
    assert len(wanted) >= 6
    got = {r["id"] for r in result.records("pages")} | {r["id"] for r in result.records("content_tree")}
    assert got == wanted
    assert {r["id"] for r in result.records("content_inventory")} == {i for i in wanted if site.content[i].type == "page"}
    assert not result.records("blog_posts")
    comments = {c.id for c in site.content.values() if c.type == "comment" and c.container_id in wanted and c.status == "current"}
    assert {r["id"] for r in result.records("comments")} == comments

    only_page = read(connector_config(emulator.info, "api_token", page_ids=[page.id], include_descendants=False), ["pages"])
    assert [r["id"] for r in only_page.records("pages")] == [page.id]


def test_data_center_with_every_stream_selected_succeeds_and_content_tree_says_why_it_is_empty(data_center_emulator):
    config = connector_config(data_center_emulator.info, "personal_access_token")
    streams = [s["name"] for s in run_cli("discover", config).of_type("CATALOG")[0]["catalog"]["streams"]]
    assert "content_tree" in streams
    result = read(config, streams)
    assert result.records("pages") and not result.records("content_tree")
    notes = [line for line in result.logs() if "Data Center has no folders" in line]
    assert len(notes) == 1

    refused = run_cli("check", dict(config, folder_ids=["123"]))
    assert refused.connection_status["status"] == "FAILED"
    assert "Data Center has no folders" in refused.connection_status["message"]


def test_through_the_api_gateway_with_v1_skipping_folders_access_still_matches_the_truth():
    with Emulator(profile="gateway", seed=12, pages=60, content_tree="rich", v1_ancestors_include_folders=False) as emulator:
        site = emulator.site
        records = read(connector_config(emulator.info, "scoped_api_token"), ["pages"]).records("pages")
        assert len(records) >= 50
        for record in records:
            page = site.content[record["id"]]
            assert [a["id"] for a in record["ancestors"]] == [a.id for a in site.ancestors(page)]
            assert record["effective_read_access"] == expected_access(site, page), record["id"]
        assert any(a["type"] == "folder" for record in records for a in record["ancestors"])


def test_page_ids_with_descendants_on_data_center(data_center_emulator):
    site = data_center_emulator.site
    page = max((c for c in site.content.values() if c.type == "page" and c.parent_id and c.status == "current"),
               key=lambda c: len(_tree_under(site, c.id)))
    wanted = _tree_under(site, page.id)
    assert len(wanted) >= 3
    config = connector_config(data_center_emulator.info, "personal_access_token", page_ids=[page.id])
    result = read(config, ["pages", "blog_posts", "attachments"])
    assert {r["id"] for r in result.records("pages")} == wanted
    assert not result.records("blog_posts")
    assert {r["containerId"] for r in result.records("attachments")} <= wanted
