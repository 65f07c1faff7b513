"""`purge_after_listing` (content purged between the search that lists it and the look-ups about it) and
`--dc-version` (older Data Center releases without `space/{key}/permissions`)."""
import subprocess
import sys
import json

import pytest

from confluence_emulator import Emulator

from .conftest import Client

CQL = 'type IN (page, blogpost) ORDER BY lastmodified ASC'


def search_ids(cl, limit=1000):
    r = cl.get(cl.v1 + "/content/search", params={"cql": CQL, "limit": limit})
    assert r.status_code == 200
    return [c["id"] for c in r.json()["results"]]


def test_purge_after_listing_picks_victims_by_seed():
    picks = []
    for _ in range(2):
        with Emulator(profile="cloud", seed=21, pages=40, faults={"purge_after_listing": {"count": 3}}) as emu:
            picks.append(emu.admin.site()["listing_purges"]["waiting"])
    assert len(picks[0]) == 3 and picks[0] == picks[1]


@pytest.mark.parametrize("profile", ["cloud", "data_center"])
def test_purged_after_listing_answers_404_everywhere_while_the_index_still_lists_it(profile):
    with Emulator(profile=profile, seed=22, pages=40, faults={"purge_after_listing": {"count": 2, "types": ["page"]}}) as emu:
        cl = Client(emu)
        victims = emu.admin.site()["listing_purges"]["waiting"]
        page = next(c for c in emu.site.content.values() if c.type == "page" and c.id in victims)
        comment = next((c for c in emu.site.content.values() if c.type == "comment" and c.container_id == page.id), None)
        assert cl.get(cl.v1 + "/content/%s" % page.id).status_code == 200  # not purged before it is listed
        listed = search_ids(cl)
        assert set(victims) <= set(listed)
        summary = emu.admin.site()
        assert sorted(summary["listing_purges"]["purged"]) == sorted(victims)
        assert not set(victims) & set(summary["page_ids"])  # the truth: purged
        lookups = ["/content/%s" % page.id, "/content/%s/child/comment" % page.id, "/content/%s/label" % page.id,
                   "/content/%s/restriction/byOperation" % page.id]
        if profile == "data_center":
            lookups.append("/experimental/content/%s/version" % page.id)
            base = emu.base_url + "/rest"
            urls = [base + ("" if path.startswith("/experimental") else "/api") + path for path in lookups]
        else:
            urls = [cl.v1 + path for path in lookups]
            urls += [cl.v2 + "/pages/%s" % page.id, cl.v2 + "/pages/%s/versions" % page.id, cl.v2 + "/pages/%s/labels" % page.id,
                     cl.v2 + "/pages/%s/footer-comments" % page.id, cl.v2 + "/pages/%s/attachments" % page.id]
        if comment is not None:
            urls.append(cl.v1 + "/content/%s" % comment.id)
        for url in urls:
            r = cl.get(url)
            assert r.status_code == 404, url
            body = r.json()
            assert ("errors" in body) if "/api/v2/" in url else (body["statusCode"] == 404), url
        # the index still lists them until the clock moves, then forgets them
        assert set(victims) <= set(search_ids(cl))
        emu.admin.advance_clock(60)
        assert not set(victims) & set(search_ids(cl))
        assert set(summary["page_ids"]) <= set(search_ids(cl)) | set(summary["status"])


def test_index_lingers_a_given_number_of_searches():
    with Emulator(profile="cloud", seed=23, pages=30) as emu:
        cl = Client(emu)
        victim = emu.admin.site()["page_ids"][5]
        emu.admin.set_faults(purge_after_listing={"ids": [victim], "index_lingers_searches": 2})
        assert victim in search_ids(cl)      # listed, then purged
        assert victim in search_ids(cl)      # 1st search after the purge
        assert victim in search_ids(cl)      # 2nd
        assert victim not in search_ids(cl)  # forgotten
        assert cl.get(cl.v2 + "/pages/%s" % victim).status_code == 404


@pytest.mark.parametrize("version, has_permissions", [("7.19", False), ("8.5", False), ("9.2", True), (None, True)])
def test_dc_version_decides_space_permissions_and_server_information(version, has_permissions):
    with Emulator(profile="data_center", seed=24, pages=10, dc_version=version) as emu:
        cl = Client(emu)
        info = cl.get(cl.v1 + "/server-information").json()
        assert info["version"] == {None: "10.0.3", "7.19": "7.19.0", "8.5": "8.5.0", "9.2": "9.2.0"}[version]
        key = emu.admin.site()["spaces"][0]["key"]
        r = cl.get(cl.v1 + "/space/%s/permissions" % key)
        if has_permissions:
            assert r.status_code == 200 and isinstance(r.json(), list)
        else:
            assert r.status_code == 404 and r.json()["message"].startswith("null for uri")
        # the space's own permissions expand, and the other endpoints the connector reads, stay
        assert cl.get(cl.v1 + "/space/%s" % key, params={"expand": "permissions"}).status_code == 200
        assert cl.get(cl.v1 + "/user/list").status_code == 200


def test_cli_takes_dc_version():
    proc = subprocess.Popen([sys.executable, "-m", "confluence_emulator.cli", "serve", "--profile", "data_center",
                             "--pages", "5", "--dc-version", "8.5"], stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        assert info["dc_version"] == "8.5.0"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
