"""The Cloud content tree (tree.py): folders, whiteboards, databases and embeds, their v2 endpoints checked against the
Cloud v2 spec, typed ancestors under both values of the v1 switch, CQL by type, folder restrictions, and Data
Center's error for types it does not have."""
import pytest

from confluence_emulator import Emulator

from .conftest import Client
from .test_contract import validate

TREE_TYPES = ("folder", "whiteboard", "database", "embed")
PLURAL = {"folder": "folders", "whiteboard": "whiteboards", "database": "databases", "embed": "embeds"}


@pytest.fixture(scope="module")
def rich():
    with Emulator(profile="cloud", seed=7, pages=60, time_zone="America/New_York", content_tree="rich") as emu:
        yield emu


@pytest.fixture(scope="module")
def rich_v1_skips_folders():
    with Emulator(profile="cloud", seed=7, pages=60, content_tree="rich", v1_ancestors_include_folders=False) as emu:
        yield emu


def of_type(emu, type_):
    return [c for c in emu.site.content.values() if c.type == type_]


def restricted_folder_with_pages(emu, space_key):
    s = emu.site
    for f in of_type(emu, "folder"):
        if f.space_key == space_key and f.read_groups is not None and any(
                s.content[i].type == "page" for i in s.kids.get(f.id, ())):
            return f
    raise AssertionError("no restricted folder holding pages in %s" % space_key)


def page_under(emu, folder):
    s = emu.site
    return next(s.content[i] for i in s.kids[folder.id] if s.content[i].type == "page" and s.content[i].read_users is None)


def open_folder_page(emu, space_key="ENG"):
    """A page with a folder among its ancestors, where nothing on its chain is read-restricted."""
    s = emu.site
    for p in of_type(emu, "page"):
        if p.space_key != space_key:
            continue
        chain = s.ancestors(p) + [p]
        if any(a.type == "folder" for a in chain) and all(n.read_users is None and n.read_groups is None for n in chain):
            return p
    raise AssertionError("no page under an open folder")


def nested_folder_page(emu):
    """A page whose parent is a folder inside another folder."""
    s = emu.site
    for p in of_type(emu, "page"):
        parent = s.content.get(p.parent_id)
        if parent is not None and parent.type == "folder" and s.content[parent.parent_id].type == "folder":
            return p
    raise AssertionError("no page in a nested folder")


# ------------------------------------------------------------------ generation
def test_off_by_default_and_leaves_the_plain_site_unchanged(rich):
    plain = Emulator(profile="cloud", seed=7, pages=60, time_zone="America/New_York")  # built, not served
    assert not [c for c in plain.site.content.values() if c.type in TREE_TYPES]
    rich_pages = {c.id: c for c in of_type(rich, "page")}
    plain_pages = {c.id: c for c in plain.site.content.values() if c.type == "page"}
    assert rich_pages.keys() == plain_pages.keys()
    for cid in plain_pages:
        assert rich_pages[cid].title == plain_pages[cid].title
        assert rich.site.storage(rich_pages[cid]) == plain.site.storage(plain_pages[cid])
    other = lambda site: sorted(c.id for c in site.content.values() if c.type in ("blogpost", "comment", "attachment"))
    assert other(rich.site) == other(plain.site)


def test_rich_tree_is_deterministic_by_seed_and_covers_every_type(rich):
    again = Emulator(profile="cloud", seed=7, pages=60, time_zone="America/New_York", content_tree="rich")
    shape = lambda site: sorted((c.id, c.type, c.title, c.parent_id, c.space_key) for c in site.content.values()
                                if c.type in TREE_TYPES + ("page",))
    assert shape(again.site) == shape(rich.site)
    s = rich.site
    for t in TREE_TYPES:
        nodes = of_type(rich, t)
        assert nodes, t
        assert {s.content[n.parent_id].type for n in nodes} <= {"page", "folder"}
    parents = {s.content[n.parent_id].type for t in ("whiteboard", "database", "embed") for n in of_type(rich, t)}
    assert parents == {"page", "folder"}  # under pages and under folders
    pages_in_folders = [p for p in of_type(rich, "page") if any(a.type == "folder" for a in s.ancestors(p))]
    assert 0 < len(pages_in_folders) < len(of_type(rich, "page"))
    assert nested_folder_page(rich)


def test_data_center_never_gets_the_new_types():
    emu = Emulator(profile="data_center", seed=5, pages=30, content_tree="rich")
    assert not [c for c in emu.site.content.values() if c.type in TREE_TYPES]


# ------------------------------------------------------------------ v2 contract
def _v2_cases(emu):
    s = emu.site
    cases = []
    for t in TREE_TYPES:
        n = of_type(emu, t)[0]
        base = "/%s/{id}" % PLURAL[t]
        cases += [(base, "/%s/%s" % (PLURAL[t], n.id)),
                  (base + "/ancestors", "/%s/%s/ancestors" % (PLURAL[t], n.id)),
                  (base + "/direct-children", "/%s/%s/direct-children" % (PLURAL[t], n.id)),
                  (base + "/descendants", "/%s/%s/descendants?depth=3" % (PLURAL[t], n.id))]
    folder = restricted_folder_with_pages(emu, "ENG")
    page = nested_folder_page(emu)
    home = s.content[s.spaces["ENG"].homepage_id]
    cases += [("/folders/{id}/direct-children", "/folders/%s/direct-children?sort=-title&limit=2" % folder.id),
              ("/pages/{id}/direct-children", "/pages/%s/direct-children" % home.id),
              ("/pages/{id}/descendants", "/pages/%s/descendants?depth=4&limit=10" % home.id),
              ("/pages/{id}/ancestors", "/pages/%s/ancestors" % page.id),
              ("/pages/{id}", "/pages/%s?body-format=storage" % page.id),
              ("/pages", "/pages?id=%s" % page.id)]
    return cases


@pytest.mark.contract
def test_each_new_v2_endpoint_matches_the_spec(rich):
    cl = Client(rich)
    cases = _v2_cases(rich)
    assert len(cases) == 22
    for path, url in cases:
        r = cl.get(cl.v2 + url)
        assert r.status_code == 200, (url, r.text)
        body = r.json()
        validate("v2", path, body)
        if path.endswith("}") and path != "/pages/{id}":
            assert body["type"] in TREE_TYPES and body["_links"]["webui"].endswith("/" + body["id"])


@pytest.mark.contract
def test_v1_reads_of_the_new_types_match_the_spec(rich):
    cl = Client(rich)
    folder = restricted_folder_with_pages(rich, "ENG")
    home = rich.site.spaces["ENG"].homepage_id
    for spec_path, url in [
        ("/wiki/rest/api/content/search", "/content/search?cql=type%20IN%20(folder,whiteboard,database,embed)&limit=50"
         "&expand=ancestors,version,space,restrictions.read.restrictions.user,restrictions.read.restrictions.group"),
        ("/wiki/rest/api/content/{id}/descendant/{type}", "/content/%s/descendant/folder?expand=ancestors" % home),
        ("/wiki/rest/api/content/{id}/restriction", "/content/%s/restriction" % folder.id),
        ("/wiki/rest/api/content/{id}/restriction/byOperation", "/content/%s/restriction/byOperation" % folder.id),
    ]:
        r = cl.get(cl.v1 + url)
        assert r.status_code == 200, (url, r.text)
        validate("v1", spec_path, r.json())


# ------------------------------------------------------------------ v2 behaviour
def test_pages_carry_their_parent_type_and_typed_ancestors(rich):
    cl = Client(rich)
    s = rich.site
    page = nested_folder_page(rich)
    body = cl.get(cl.v2 + "/pages/%s" % page.id).json()
    assert (body["parentId"], body["parentType"]) == (page.parent_id, "folder")
    anc = cl.get(cl.v2 + "/pages/%s/ancestors" % page.id).json()["results"]
    assert anc == [{"id": a.id, "type": a.type} for a in s.ancestors(page)]
    assert [a["type"] for a in anc][-2:] == ["folder", "folder"]
    listed = cl.get(cl.v2 + "/pages?id=%s" % page.id).json()["results"][0]
    assert listed["parentType"] == "folder"


def test_direct_children_list_every_type_in_position_order_and_page_by_cursor(rich):
    cl = Client(rich)
    s = rich.site
    home = s.content[s.spaces["ENG"].homepage_id]
    expected = sorted((s.content[i] for i in s.kids[home.id] if s.content[i].status in ("current", "archived")),
                      key=lambda c: (c.position, c.num))
    seen, url = [], cl.v2 + "/pages/%s/direct-children?limit=2" % home.id
    while url:
        r = cl.get(url)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += body["results"]
        nxt = body["_links"].get("next")
        url = rich.base_url + nxt if nxt else None
    assert [(x["id"], x["type"]) for x in seen] == [(c.id, c.type) for c in expected]
    assert {"page", "folder"} <= {x["type"] for x in seen}
    by_title = cl.get(cl.v2 + "/pages/%s/direct-children?sort=title&limit=250" % home.id).json()["results"]
    assert [x["title"] for x in by_title] == sorted(x["title"] for x in seen)


def test_descendants_go_top_to_bottom_down_to_depth(rich):
    cl = Client(rich)
    s = rich.site
    folder = restricted_folder_with_pages(rich, "ENG")
    one = cl.get(cl.v2 + "/folders/%s/descendants?depth=1&limit=250" % folder.id).json()["results"]
    kids = cl.get(cl.v2 + "/folders/%s/direct-children?limit=250" % folder.id).json()["results"]
    assert [x["id"] for x in one] == [x["id"] for x in kids]
    deep = cl.get(cl.v2 + "/folders/%s/descendants?depth=10&limit=250" % folder.id).json()["results"]
    expected = set()
    for c in s.content.values():
        if c.type in TREE_TYPES + ("page",) and c.status == "current" and folder in s.ancestors(c):
            expected.add(c.id)
    assert {x["id"] for x in deep} == expected
    depths = [x["depth"] for x in deep]
    assert depths == sorted(depths) and depths[0] == 1
    for x in deep:
        assert x["parentId"] == s.content[x["id"]].parent_id
    assert cl.get(cl.v2 + "/folders/%s/descendants?depth=11" % folder.id).status_code == 400


def test_each_type_is_only_found_at_its_own_endpoint(rich):
    cl = Client(rich)
    folder = of_type(rich, "folder")[0]
    assert cl.get(cl.v2 + "/folders/%s" % folder.id).status_code == 200
    assert cl.get(cl.v2 + "/whiteboards/%s" % folder.id).status_code == 404
    assert cl.get(cl.v2 + "/pages/%s" % folder.id).status_code == 404
    embed = of_type(rich, "embed")[0]
    assert cl.get(cl.v2 + "/embeds/%s" % embed.id).json()["embedUrl"].startswith("https://")


# ------------------------------------------------------------------ folder restrictions
def test_a_restricted_folder_hides_itself_and_its_tree_from_the_reader(rich):
    admin, reader = Client(rich), Client(rich, role="reader")
    folder = restricted_folder_with_pages(rich, "ENG")
    page = page_under(rich, folder)
    assert page.read_users is None and page.read_groups is None  # restricted only through the folder
    for cl, status in ((admin, 200), (reader, 404)):
        assert cl.get(cl.v2 + "/folders/%s" % folder.id).status_code == status
        assert cl.get(cl.v2 + "/pages/%s" % page.id).status_code == status
        assert cl.get(cl.v1 + "/content/%s" % page.id).status_code == status
    home = rich.site.spaces["ENG"].homepage_id
    reader_kids = {x["id"] for x in reader.get(reader.v2 + "/pages/%s/direct-children?limit=250" % home).json()["results"]}
    assert folder.id not in reader_kids and reader_kids


def test_folder_restrictions_read_over_v1(rich):
    cl = Client(rich)
    folder = restricted_folder_with_pages(rich, "DOCS")
    body = cl.get(cl.v1 + "/content/%s/restriction/byOperation/read?expand=restrictions.group,restrictions.user" % folder.id).json()
    assert sorted(g["name"] for g in body["restrictions"]["group"]["results"]) == sorted(folder.read_groups)
    found = cl.get(cl.v1 + "/content/search?cql=type=folder%%20AND%%20id=%s&expand=restrictions.read.restrictions.group" %
                   folder.id).json()["results"]
    assert [r["id"] for r in found] == [folder.id]
    groups = found[0]["restrictions"]["read"]["restrictions"]["group"]["results"]
    assert sorted(g["name"] for g in groups) == sorted(folder.read_groups)


def test_effective_access_intersects_every_ancestor_whatever_its_type(rich):
    s = rich.site
    for space_key in ("ENG", "DOCS"):
        folder = restricted_folder_with_pages(rich, space_key)
        page = page_under(rich, folder)
        truth = rich.admin.effective_access(page.id)
        assert truth["restricted"] is True
        reader = next(u for u in s.users.values() if u.username == "reader")
        assert reader.account_id not in truth["users"]
        allowed = set(folder.read_users or ()) | {u.account_id for u in s.users.values() if u.groups & set(folder.read_groups or ())}
        assert truth["users"] and set(truth["users"]) <= allowed
        assert set(truth["groups"]) <= set(folder.read_groups)
    # a page under an open folder keeps the space's audience
    page = open_folder_page(rich)
    truth = rich.admin.effective_access(page.id)
    space_truth = rich.admin.effective_access(s.spaces[page.space_key].homepage_id)
    assert truth["restricted"] is False
    assert truth["users"] == space_truth["users"] and truth["groups"] == space_truth["groups"]


# ------------------------------------------------------------------ v1: ancestors under both switch values, CQL by type
def test_v1_ancestors_list_folders_when_the_switch_says_yes(rich):
    cl = Client(rich)
    page = nested_folder_page(rich)
    anc = cl.get(cl.v1 + "/content/%s?expand=ancestors" % page.id).json()["ancestors"]
    assert [(a["id"], a["type"]) for a in anc] == [(a.id, a.type) for a in rich.site.ancestors(page)]
    assert "folder" in {a["type"] for a in anc}
    found = cl.get(cl.v1 + "/content/search?cql=ancestor=%s%%20AND%%20type=page&limit=1000" % page.parent_id).json()["results"]
    assert page.id in {r["id"] for r in found}


def test_v1_ancestors_skip_folders_when_the_switch_says_no(rich_v1_skips_folders):
    emu = rich_v1_skips_folders
    cl = Client(emu)
    page = nested_folder_page(emu)
    full = emu.site.ancestors(page)
    anc = cl.get(cl.v1 + "/content/%s?expand=ancestors" % page.id).json()["ancestors"]
    assert [a["id"] for a in anc] == [a.id for a in full if a.type != "folder"]
    assert anc and all(a["type"] == "page" for a in anc)
    found = cl.get(cl.v1 + "/content/search?cql=ancestor=%s&limit=1000" % page.parent_id).json()["results"]
    assert found == []
    # v2 still lists the whole typed chain
    v2 = cl.get(cl.v2 + "/pages/%s/ancestors" % page.id).json()["results"]
    assert [a["id"] for a in v2] == [a.id for a in full]


def test_cql_by_type(rich):
    admin, reader = Client(rich), Client(rich, role="reader")
    s = rich.site

    def cql(cl, q):
        r = cl.get(cl.v1 + "/content/search", params={"cql": q, "limit": 1000})
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["results"]]
    for t in TREE_TYPES:
        got = cql(admin, "type = %s" % t)
        assert sorted(got) == sorted(c.id for c in of_type(rich, t)), t
        assert all(x["type"] == t for x in admin.get(admin.v1 + "/content/search",
                                                      params={"cql": "type = %s" % t}).json()["results"])
    both = cql(admin, "type IN (whiteboard, database) AND space = ENG")
    assert sorted(both) == sorted(c.id for c in of_type(rich, "whiteboard") + of_type(rich, "database") if c.space_key == "ENG")
    hidden = restricted_folder_with_pages(rich, "ENG")
    reader_folders = cql(reader, "type = folder")
    assert hidden.id not in reader_folders
    assert sorted(reader_folders) == sorted(c.id for c in of_type(rich, "folder") if s.can_view(
        next(u for u in s.users.values() if u.username == "reader"), c))


def test_v1_descendants_by_type(rich):
    cl = Client(rich)
    s = rich.site
    home = s.content[s.spaces["ENG"].homepage_id]
    for t in TREE_TYPES + ("page",):
        got = cl.get(cl.v1 + "/content/%s/descendant/%s?limit=200" % (home.id, t)).json()
        expected = {c.id for c in s.content.values() if c.type == t and c.status == "current" and home in s.ancestors(c)}
        assert {x["id"] for x in got["results"]} == expected, t
        assert got["size"] == len(expected)
    folder = restricted_folder_with_pages(rich, "ENG")
    reader = Client(rich, role="reader")
    assert reader.get(reader.v1 + "/content/%s/descendant/page" % folder.id).status_code == 404
    under = {x["id"] for x in reader.get(reader.v1 + "/content/%s/descendant/page?limit=200" % home.id).json()["results"]}
    assert page_under(rich, folder).id not in under


def test_cql_type_is_empty_on_a_plain_cloud_site(cloud):
    cl = Client(cloud)
    r = cl.get(cl.v1 + "/content/search", params={"cql": "type = folder"})
    assert r.status_code == 200 and r.json()["results"] == []


# ------------------------------------------------------------------ Data Center
@pytest.mark.parametrize("cql,bad", [("type = folder", "folder"), ("type IN (page, whiteboard)", "whiteboard"),
                                     ("space = ENG AND type = embed", "embed"), ("type = database", "database")])
def test_data_center_has_no_binding_for_the_new_types(dc, cql, bad):
    cl = Client(dc)
    r = cl.get(cl.v1 + "/content/search", params={"cql": cql})
    assert r.status_code == 400
    body = r.json()
    assert body["statusCode"] == 400 and "No ContentTypeBinding found for type: %s" % bad in body["message"]


def test_data_center_still_answers_pages_and_descendant_pages(dc):
    cl = Client(dc)
    assert cl.get(cl.v1 + "/content/search", params={"cql": "type = page", "limit": 1}).status_code == 200
    home = dc.site.spaces["ENG"].homepage_id
    assert cl.get(cl.v1 + "/content/%s/descendant/page" % home).json()["size"] > 0
    r = cl.get(cl.v1 + "/content/%s/descendant/folder" % home)
    assert r.status_code == 400 and "No ContentTypeBinding found for type: folder" in r.json()["message"]


# ------------------------------------------------------------------ admin mutations and the command line
def test_pages_created_or_moved_into_a_restricted_folder_inherit_its_restriction():
    with Emulator(profile="cloud", seed=3, pages=40, content_tree="rich") as emu:
        folder = restricted_folder_with_pages(emu, "ENG")
        reader = Client(emu, role="reader")
        created = emu.admin.create_page("ENG", "Made in a folder", parent_id=folder.id)
        open_page = open_folder_page(emu)
        assert reader.get(reader.v2 + "/pages/%s" % open_page.id).status_code == 200
        emu.admin.move(open_page.id, parent_id=folder.id)
        for cid in (created["id"], open_page.id):
            assert reader.get(reader.v2 + "/pages/%s" % cid).status_code == 404
            assert emu.admin.effective_access(cid)["restricted"] is True
        anc = Client(emu).get(Client(emu).v2 + "/pages/%s/ancestors" % created["id"]).json()["results"]
        assert anc[-1] == {"id": folder.id, "type": "folder"}


def test_command_line_switches(tmp_path):
    import json
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=str(__import__("pathlib").Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([sys.executable, "-m", "confluence_emulator.cli", "serve", "--seed", "7", "--pages", "30",
                             "--content-tree", "rich", "--v1-ancestors-include-folders", "no"],
                            stdout=subprocess.PIPE, env=env, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        import requests
        site = requests.get(info["admin_url"] + "/site", timeout=30).json()
        assert site["counts"]["folders"] > 0 and site["folder_ids"]
        c = info["credentials"]["api_token"]
        auth = (c["email"], c["api_token"])
        for fid in site["folder_ids"]:
            r = requests.get(info["base_url"] + "/wiki/rest/api/content/search",
                             params={"cql": "ancestor = %s" % fid}, auth=auth, timeout=30)
            assert r.status_code == 200 and r.json()["results"] == []  # v1 leaves folders out of every ancestry
    finally:
        proc.terminate()
        proc.wait(timeout=30)
