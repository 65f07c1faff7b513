"""End-to-end behaviour: pagination walks, CQL, auth, OAuth rotation, gateway 410s, faults, admin mutations."""
from datetime import datetime
from urllib.parse import urlsplit

import pytest
import requests

from confluence_emulator import Emulator, cql
from confluence_emulator.clock import Clock

from .conftest import Client


def host(emu):
    u = urlsplit(emu.info["base_url"])
    return "%s://%s" % (u.scheme, u.netloc)


def walk_v2(cl, url):
    seen, nxt = [], url
    while nxt:
        r = cl.get(nxt)
        assert r.status_code == 200, r.text
        b = r.json()
        seen += [x["id"] for x in b["results"]]
        n = b["_links"].get("next")
        if n:
            assert n.startswith("/wiki/api/v2/") and "cursor=" in n
            assert r.headers["Link"].startswith("<%s>" % n)
        nxt = host(cl.emu) + n if n else None
    return seen


def walk_v1(cl, url):
    seen, nxt = [], url
    while nxt:
        r = cl.get(nxt)
        assert r.status_code == 200, r.text
        b = r.json()
        seen += [x.get("id") or x.get("name") for x in b["results"]]
        n = b["_links"].get("next")
        nxt = b["_links"]["base"] + n if n else None
    return seen


@pytest.mark.parametrize("limit", [1, 7, 250])
def test_v2_pages_walk_each_once(cloud, limit):
    cl = Client(cloud)
    got = walk_v2(cl, cl.v2 + "/pages?limit=%d&body-format=storage&sort=-modified-date&status=current,archived,trashed" % limit)
    want = [c.id for c in cloud.site.content.values() if c.type == "page" and cloud.site.can_view(cloud.site.user_by_any("admin"), c)]
    assert sorted(got) == sorted(want) and len(got) == len(set(got))


def test_v2_pages_by_id_answers_those_ids_only(cloud):
    cl = Client(cloud)
    site = cloud.site
    pages = [c.id for c in site.content.values() if c.type == "page" and c.status == "current"][:5]
    blogpost = next(c.id for c in site.content.values() if c.type == "blogpost")
    asked = pages + [blogpost, "999999999"]  # a blog post's id and an unknown id are not pages: left out
    got = walk_v2(cl, cl.v2 + "/pages?limit=2&body-format=storage&id=" + ",".join(asked))
    assert sorted(got) == sorted(pages)
    body = cl.get(cl.v2 + "/pages", params={"id": pages[0], "body-format": "storage"}).json()
    assert body["results"][0]["body"]["storage"]["value"] == site.storage(site.content[pages[0]])


@pytest.mark.parametrize("limit", [3, 25])
def test_v1_cloud_search_cursor_walk(cloud, limit):
    cl = Client(cloud)
    got = walk_v1(cl, cl.v1 + "/content/search?cql=type=page%%20order%%20by%%20lastmodified%%20desc&limit=%d&expand=version" % limit)
    want = [c.id for c in cloud.site.content.values() if c.type == "page" and c.status == "current"]
    assert sorted(got) == sorted(want) and len(got) == len(set(got))
    r = cl.get(cl.v1 + "/content/search?cql=type=page&limit=%d" % limit).json()
    assert "cursor=" in r["_links"]["next"] and r["_links"]["next"].startswith("/rest/api/content/search?next=true")


@pytest.mark.parametrize("limit", [4, 50])
def test_dc_offset_walks(dc, limit):
    cl = Client(dc)
    got = walk_v1(cl, cl.v1 + "/content/search?cql=type%%20in%%20(page,blogpost)&limit=%d&expand=body.storage" % limit)
    want = [c.id for c in dc.site.content.values() if c.type in ("page", "blogpost") and c.status == "current"
            and dc.site.can_view(dc.site.user_by_any("admin"), c)]
    assert sorted(got) == sorted(want) and len(set(got)) == len(got)
    groups = walk_v1(cl, cl.v1 + "/group?limit=%d" % limit)
    assert groups == sorted(dc.site.groups)
    spaces = walk_v1(cl, cl.v1 + "/space?limit=2")
    assert len(spaces) == len(dc.site.spaces)


def test_dc_scan_and_caps(dc):
    cl = Client(dc)
    seen, cur = [], None
    while True:
        r = cl.get(cl.v1 + "/content/scan", params={"limit": 9, **({"cursor": cur} if cur else {})}).json()
        seen += [x["id"] for x in r["results"]]
        cur = r.get("nextCursor")
        if not cur:
            break
    assert len(seen) == len(set(seen)) == sum(1 for c in dc.site.content.values() if c.type == "page" and c.status == "current")
    assert cl.get(cl.v1 + "/content/search?cql=type=page&limit=500&expand=body.storage").json()["limit"] == 50
    assert cl.get(cl.v1 + "/content/search?cql=type=page&limit=500&expand=version").json()["limit"] == 200
    b = cl.get(cl.v1 + "/content/search?cql=type=page&limit=2000").json()
    assert b["limit"] == 1000
    r = cl.get(cl.v1 + "/content/search?cql=type=page&limit=1&expand=version,history").json()["results"][0]
    assert r["version"]["when"].endswith("+08:00") and "username" in r["version"]["by"] and "accountId" not in r["version"]["by"]


def test_v1_limits_and_errors(cloud):
    cl = Client(cloud)
    assert cl.get(cl.v1 + "/content?limit=1001").json()["limit"] == 1000
    r = cl.get(cl.v1 + "/content?start=100001")
    assert r.status_code == 400 and r.json()["statusCode"] == 400
    r = cl.get(cl.v2 + "/pages?limit=251")
    assert r.status_code == 400 and r.json()["errors"][0]["status"] == 400
    r = cl.get(cl.v2 + "/pages/999999999")
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "NOT_FOUND"
    r = cl.get(cl.v1 + "/content/search?cql=type%20=")
    assert r.status_code == 400 and "Could not parse cql" in r.json()["message"]
    r = cl.get(cl.v1 + "/content?limit=1")
    assert r.headers["Deprecation"] and r.headers["Warning"].startswith("299")
    g = cl.get(cl.v1 + "/group?limit=5000").json()
    assert g["limit"] == 200


def test_expand_shapes(cloud):
    cl = Client(cloud)
    deep = max((c for c in cloud.site.content.values() if c.type == "page" and c.status == "current" and c.read_users is None
                and all(a.read_users is None for a in cloud.site.ancestors(c))), key=lambda c: len(cloud.site.ancestors(c)))
    b = cl.get(cl.v1 + "/content/search", params={"cql": "id = %s" % deep.id,
                                                  "expand": "body.storage,version,ancestors,history.lastUpdated,space"}).json()
    x = b["results"][0]
    assert [a["id"] for a in x["ancestors"]] == [a.id for a in cloud.site.ancestors(deep)]
    assert x["body"]["storage"]["value"] == cloud.site.storage(deep) and "ac:structured-macro" in x["body"]["storage"]["value"]
    assert x["version"]["when"].endswith("Z") and x["version"]["by"]["accountId"]
    assert x["history"]["lastUpdated"]["number"] == deep.version.number
    assert "children" in x["_expandable"] and "body" not in x["_expandable"]
    cur = cl.get(cl.v1 + "/user/current").json()
    assert cur["timeZone"] and cur["accountId"]
    assert cl.get(cl.v1 + "/settings/systemInfo").json()["defaultTimeZone"] == "America/New_York"


def test_cql_parser_and_dates():
    with pytest.raises(cql.CQLError):
        cql.parse("type = page AND")
    with pytest.raises(cql.CQLError):
        cql.parse("lastmodified ~ 2024-01-01")
    q = cql.parse('type in (page, blogpost) and (space = "A" or label != x) and not title ~ "foo" order by created desc, title')
    assert q.order == [("created", True), ("title", False)]
    tz = "America/New_York"
    m1 = cql.parse_date_literal("2026/03/08 01:30", tz)[0]
    m2 = cql.parse_date_literal("2026-03-08 03:30", tz)[0]
    assert m2 - m1 == 60  # 02:00-03:00 does not exist on the DST switch day: one real hour apart
    assert cql.parse_date_literal("2026/03/08", tz)[0] == cql.parse_date_literal("2026-03-08 00:00", tz)[0]
    # before DST: UTC-5; after: UTC-4
    assert datetime.utcfromtimestamp(cql.parse_date_literal("2026-03-07 12:00", tz)[0] * 60).hour == 17
    assert datetime.utcfromtimestamp(cql.parse_date_literal("2026-03-09 12:00", tz)[0] * 60).hour == 16


def test_cql_minute_precision_and_functions(fresh_cloud):
    emu = fresh_cloud
    cl = Client(emu)
    p = emu.admin.create_page("ENG", "Precision probe")
    ms = emu.site.content[p["id"]].modified
    local = datetime.fromtimestamp(ms / 1000, tz=__import__("zoneinfo").ZoneInfo("America/New_York"))
    lit = local.strftime("%Y/%m/%d %H:%M")
    ids = lambda q: [x["id"] for x in cl.get(cl.v1 + "/content/search", params={"cql": q, "limit": 200}).json()["results"]]
    assert p["id"] in ids('lastmodified >= "%s"' % lit)
    assert p["id"] in ids('lastmodified = "%s"' % lit)
    assert p["id"] not in ids('lastmodified > "%s"' % lit)
    assert p["id"] in ids('created > now("-1h")')
    assert p["id"] not in ids('created < now("-1h")')
    assert p["id"] in ids('title ~ "precision" and space = ENG')


def test_auth_failure_shapes(cloud, dc):
    base = cloud.info["base_url"] + "/wiki/rest/api/space"
    r = requests.get(base, auth=("admin@example.com", "wrong"))
    assert r.status_code == 403 and r.json()["statusCode"] == 403
    r = requests.get(base, headers={"Authorization": "Basic !!!"})
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    r = requests.get(base, headers={"Authorization": "Bearer abc"})
    assert r.status_code == 403 and r.json() == {"error": "Failed to parse Connect Session Auth Token"}
    assert requests.get(cloud.info["base_url"] + "/_edge/tenant_info").json() == {"cloudId": cloud.info["cloud_id"]}
    r = requests.get(dc.info["base_url"] + "/rest/api/space", auth=("admin", "nope"))
    assert r.status_code == 401 and "AUTHENTICATED_FAILED" in r.text
    pat = dc.info["credentials"]["personal_access_token"]["personal_access_token"]
    r = requests.get(dc.info["base_url"] + "/rest/api/user/current", headers={"Authorization": "Bearer " + pat})
    assert r.status_code == 200 and r.json()["username"] == "admin"
    rc = Client(cloud, "reader")
    assert rc.get(rc.v1 + "/audit").status_code == 403


def test_gateway_oauth_rotation_and_410(fresh_gateway):
    gateway = fresh_gateway  # advances its clock by 601 s and revokes a token family: not the shared session emulator
    info = gateway.info
    o = info["credentials"]["oauth2"]
    tok = lambda rt, **kw: requests.post(info["oauth_token_url"], json={"grant_type": "refresh_token", "client_id": o["client_id"],
                                                                       "client_secret": o["client_secret"], "refresh_token": rt}, **kw)
    r1 = tok(o["refresh_token"]).json()
    assert r1["expires_in"] == 3600 and r1["token_type"] == "Bearer"
    gw = info["api_gateway_url"] + "/ex/confluence/%s/wiki" % info["cloud_id"]
    H = lambda at: {"Authorization": "Bearer " + at}
    assert requests.get(gw + "/api/v2/pages", headers=H(r1["access_token"])).status_code == 200
    r = requests.get(gw + "/rest/api/space", headers=H(r1["access_token"]))
    assert r.status_code == 410 and "GoneException" in r.json()["message"]
    assert requests.get(gw + "/rest/api/content/search?cql=type=page", headers=H(r1["access_token"])).status_code == 200
    assert requests.get(info["api_gateway_url"] + "/ex/confluence/nope/wiki/api/v2/pages", headers=H(r1["access_token"])).status_code == 404
    res = requests.get(info["oauth_token_url"] + "/accessible-resources", headers=H(r1["access_token"])).json()
    assert res[0]["id"] == info["cloud_id"]
    r2 = requests.post(info["oauth_token_url"], data={"grant_type": "refresh_token", "client_id": o["client_id"],
                                                      "client_secret": o["client_secret"], "refresh_token": r1["refresh_token"]}).json()
    assert r2["refresh_token"] != r1["refresh_token"]
    assert tok(r1["refresh_token"]).status_code == 200  # reuse within Atlassian's 10-minute leeway is tolerated
    gateway.admin.advance_clock(601)
    bad = tok(r1["refresh_token"])  # after it, reuse of a retired token revokes the family
    assert bad.status_code == 403 and bad.json()["error"] == "invalid_grant"
    assert tok(r2["refresh_token"]).status_code == 403
    assert requests.get(gw + "/api/v2/pages", headers=H(r2["access_token"])).status_code == 401
    # The admin stats say how each refresh went: two with fresh tokens, one reuse tolerated, one that revoked, one refused.
    assert gateway.admin.stats()["oauth_refreshes"] == {"fresh": 2, "reused": 1, "revoked": 1, "refused": 1}
    # scoped token: works on the gateway, 401 on the site
    s = info["credentials"]["scoped_api_token"]
    assert requests.get(gw + "/api/v2/spaces", auth=(s["email"], s["api_token"])).status_code == 200
    assert requests.get(info["base_url"] + "/wiki/api/v2/spaces", auth=(s["email"], s["api_token"])).status_code == 401


def test_oauth_expiry_on_emulator_clock():
    with Emulator(profile="gateway", seed=2, pages=10) as emu:
        o = emu.info["reader_credentials"]["oauth2"]
        t = requests.post(emu.info["oauth_token_url"], json={"grant_type": "refresh_token", "client_id": o["client_id"],
                                                             "client_secret": o["client_secret"], "refresh_token": o["refresh_token"]}).json()
        url = emu.info["api_gateway_url"] + "/ex/confluence/%s/wiki/rest/api/user/current" % emu.info["cloud_id"]
        assert requests.get(url, headers={"Authorization": "Bearer " + t["access_token"]}).json()["email"] == "reader@example.com"
        emu.admin.advance_clock(3601)
        assert requests.get(url, headers={"Authorization": "Bearer " + t["access_token"]}).status_code == 401


def test_reader_cannot_see_restricted(cloud):
    s = cloud.site
    rc, ac = Client(cloud, "reader"), Client(cloud)
    reader = s.user_by_any("reader")
    hidden = [c for c in s.content.values() if c.type == "page" and c.status == "current" and not s.can_view(reader, c)]
    assert hidden
    inherited = [c for c in hidden if c.read_users is None and c.read_groups is None and s.can_view_space(reader, s.spaces[c.space_key])]
    assert inherited, "children of a restricted parent inherit the restriction"
    got = set(walk_v2(rc, rc.v2 + "/pages?limit=250"))
    assert not got & {c.id for c in hidden}
    got1 = set(walk_v1(rc, rc.v1 + "/content/search?cql=type=page&limit=100"))
    assert not got1 & {c.id for c in hidden}
    for c in hidden[:3]:
        assert rc.get(rc.v2 + "/pages/" + c.id).status_code == 404
        assert rc.get(rc.v1 + "/content/" + c.id).status_code == 404
        assert ac.get(ac.v2 + "/pages/" + c.id).status_code == 200
    hr = s.spaces["HR"]
    assert rc.get(rc.v2 + "/spaces/%d" % hr.id).status_code == 404
    ea = cloud.admin.effective_access(inherited[0].id)
    assert reader.account_id not in ea["users"] and ea["restricted"]


def test_admin_mutations(fresh_cloud):
    emu = fresh_cloud
    cl = Client(emu)
    p = emu.admin.create_page("ENG", "Mutable page", body="<p>v1</p>")
    before = cl.get(cl.v2 + "/pages/" + p["id"]).json()["version"]
    emu.admin.edit(p["id"], body="<p>v2</p>", message="second")
    after = cl.get(cl.v2 + "/pages/%s?body-format=storage" % p["id"]).json()
    assert after["version"]["number"] == 2 and after["version"]["createdAt"] > before["createdAt"]
    assert after["body"]["storage"]["value"] == "<p>v2</p>" and after["version"]["message"] == "second"
    emu.admin.trash(p["id"])
    ids = lambda q: [x["id"] for x in cl.get(cl.v2 + "/pages?limit=250" + q).json()["results"]]
    assert p["id"] not in ids("") and p["id"] in ids("&status=trashed")
    emu.admin.restore(p["id"])
    assert p["id"] in ids("")
    cm = emu.admin.add_comment(p["id"], "<p>hi</p>")
    emu.admin.add_comment(p["id"], "<p>reply</p>", parent_comment_id=cm["id"])
    fc = cl.get(cl.v2 + "/pages/%s/footer-comments" % p["id"]).json()["results"]
    assert [x["id"] for x in fc] == [cm["id"]]
    assert len(cl.get(cl.v2 + "/footer-comments/%s/children" % cm["id"]).json()["results"]) == 1
    a = emu.admin.add_attachment(p["id"], "n.txt", "text/plain", b"hello")
    r = cl.get(cl.v1 + "/content/%s/child/attachment/%s/download" % (p["id"], a["id"]))
    assert r.content == b"hello"
    emu.admin.set_restrictions(p["id"], read={"users": ["admin"], "groups": []})
    rc = Client(emu, "reader")
    assert rc.get(rc.v2 + "/pages/" + p["id"]).status_code == 404
    emu.admin.purge(p["id"])
    assert cl.get(cl.v2 + "/pages/" + p["id"]).status_code == 404
    assert p["id"] not in emu.admin.site()["page_ids"]


def test_real_attachment_files(cloud):
    cl = Client(cloud)
    s = cloud.site
    for mt, magic in (("application/pdf", b"%PDF"), ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK")):
        a = next(c for c in s.content.values() if c.type == "attachment" and c.media_type == mt and s.can_view(s.user_by_any("admin"), c))
        link = cl.get(cl.v2 + "/attachments/" + a.id).json()["downloadLink"]
        r = cl.get(cloud.info["base_url"] + "/wiki" + link)
        assert r.status_code == 200 and r.content.startswith(magic)


def test_faults(fresh_cloud):
    emu = fresh_cloud
    cl = Client(emu)
    emu.admin.set_faults(rate_limit_ratio=1.0)
    r = cl.get(cl.v2 + "/spaces")
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert emu.admin.site()["counts"]["pages"] > 0  # admin never faulted
    emu.admin.reset_faults()
    emu.admin.set_faults(unavailable_ratio=1.0)
    r = cl.get(cl.v2 + "/spaces")
    assert r.status_code == 503 and "Retry-After" in r.headers
    emu.admin.reset_faults()
    emu.admin.set_faults(error_ratio=1.0)
    assert cl.get(cl.v1 + "/space").status_code == 500
    emu.admin.reset_faults()
    emu.admin.set_faults(gateway_timeout_over_limit=100)
    assert cl.get(cl.v2 + "/pages?limit=200").status_code == 504
    assert cl.get(cl.v2 + "/pages?limit=50").status_code == 200
    emu.admin.reset_faults()
    emu.admin.set_faults(rate_limit={"per_second": 2, "retry_after": "http-date"})
    codes = [cl.get(cl.v2 + "/labels") for _ in range(5)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited and "GMT" in limited[0].headers["Retry-After"] and limited[0].headers["X-RateLimit-Remaining"] == "0"
    emu.admin.reset_faults()
    emu.admin.set_faults(reset_ratio=1.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(cl.v2 + "/spaces", auth=cl.s.auth, timeout=10)
    emu.admin.reset_faults()
    emu.admin.set_faults(truncate_ratio=1.0)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        requests.get(cl.v2 + "/pages?limit=20&body-format=storage", auth=cl.s.auth, timeout=10)
    emu.admin.reset_faults()
    emu.admin.set_faults(empty_page_with_next=True)
    got = walk_v2(cl, cl.v2 + "/pages?limit=10")
    assert len(got) == len(set(got)) == sum(1 for c in emu.site.content.values() if c.type == "page" and c.status in ("current", "archived"))
    emu.admin.reset_faults()
    st = emu.admin.stats()
    for f in ("rate_limit_ratio", "unavailable", "error", "gateway_timeout", "rate_limit", "reset", "truncate"):
        assert st["faults"].get(f), f
    log = emu.admin.requests()
    assert log and {"method", "path", "query", "status", "family"} <= set(log[-1])


def test_clock_and_determinism():
    a = Emulator(profile="cloud", seed=9, pages=30)
    b = Emulator(profile="cloud", seed=9, pages=30)
    assert a.site.summary()["page_ids"] == b.site.summary()["page_ids"]
    assert a.app.creds.info("admin") == b.app.creds.info("admin")
    c = Clock(0)
    c.advance(10)
    assert c.now_ms() == 10000


def test_dc_space_permissions(dc):
    """DC 9.1+ space permissions: admins get a bare array of read/administer grants; others get the documented 403."""
    admin = Client(dc)
    body = admin.get(admin.v1 + "/space/DOCS/permissions").json()
    assert isinstance(body, list)
    reads = [p["subject"] for p in body if p["operation"] == {"targetType": "space", "operationKey": "read"}]
    s = dc.site.spaces["DOCS"]
    assert sorted(x["identifier"] for x in reads if x["type"] == "group") == sorted(s.view_groups)
    assert [x for x in reads if x["type"] == "anonymous"] and s.anonymous_access
    assert any(p["operation"]["operationKey"] == "administer" for p in body)
    personal = next(k for k in dc.site.spaces if k.startswith("~") and dc.site.spaces[k].view_users)
    users = [p["subject"]["identifier"] for p in admin.get(admin.v1 + "/space/%s/permissions" % personal).json()
             if p["subject"]["type"] == "user"]
    assert users == sorted(dc.site.users[a].user_key for a in dc.site.spaces[personal].view_users)
    assert Client(dc, role="reader").get(Client(dc).v1 + "/space/ENG/permissions").status_code == 403
    assert admin.get(admin.v1 + "/space/NOPE/permissions").status_code == 404


def test_space_permissions_endpoint_is_dc_only(cloud):
    cl = Client(cloud)
    assert cl.get(cl.v1 + "/space/ENG/permissions").status_code == 404


def test_data_center_lists_a_page_history_newest_first_on_the_experimental_api():
    with Emulator(profile="data_center", seed=4, pages=10) as emu:
        token = emu.info["credentials"]["personal_access_token"]["personal_access_token"]
        page = next(c for c in emu.site.content.values() if c.type == "page" and c.status == "current")
        emu.admin.edit(page.id, title="second version")
        url = emu.base_url + "/rest/experimental/content/%s/version" % page.id
        first = requests.get(url, params={"limit": 1}, headers={"Authorization": "Bearer " + token}).json()
        assert [v["number"] for v in first["results"]] == [len(page.versions)]
        assert first["_links"]["next"].startswith("/rest/experimental/content/%s/version?" % page.id)
        rest = requests.get(emu.base_url + first["_links"]["next"], headers={"Authorization": "Bearer " + token}).json()
        assert [v["number"] for v in rest["results"]] == list(range(len(page.versions) - 1, 0, -1))
        assert requests.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_id_queries_are_answered_from_the_ids_alone():
    """``id IN (...)`` at the top level is looked up, not tested against every content (an index, as in
    Confluence); anywhere else (under OR, NOT) the query still sees the whole site."""
    assert cql.id_candidates(cql.parse('id IN (3, 1, 3) AND status IN ("current")')) == ["3", "1"]
    assert cql.id_candidates(cql.parse("id = 7")) == ["7"]
    assert cql.id_candidates(cql.parse("id = 7 OR type = page")) is None
    assert cql.id_candidates(cql.parse("NOT id IN (7)")) is None


def test_id_lookup_answers_as_a_full_scan_would(cloud):
    cl = Client(cloud)
    pages = walk_v1(cl, cl.v1 + "/content/search?cql=type=page&limit=200")
    ids = pages[:30] + ["999999999"]
    got = cl.get(cl.v1 + "/content/search", params={"cql": "id IN (%s) AND type = page" % ",".join(ids), "limit": 200}).json()
    assert sorted(r["id"] for r in got["results"]) == sorted(ids[:-1])
    blog = cl.get(cl.v1 + "/content/search", params={"cql": "id IN (%s) AND type = blogpost" % ",".join(ids), "limit": 200}).json()
    assert blog["results"] == []


def test_a_new_space_with_old_content_and_its_view_permission_granted_later(fresh_cloud):
    """`POST /__admin/spaces` then `PUT /__admin/spaces/{key}/permissions`: every listing follows the grant."""
    emu, s = fresh_cloud, fresh_cloud.site
    now_ms = s.clock.now_ms()
    created = emu.admin.create_space("ARCH", name="Archive", pages=3, blogposts=2, modified_days_ago=30,
                                     view={"groups": ["confluence-administrators"]})
    assert created["view_groups"] == ["confluence-administrators"] and created["homepage_id"]
    arch = [c for c in s.content.values() if c.space_key == "ARCH"]
    assert sorted(c.type for c in arch) == ["blogpost", "blogpost", "page", "page", "page", "page"]
    assert all(now_ms - 31 * 86_400_000 < c.modified < now_ms - 29 * 86_400_000 for c in arch)
    admin, reader = Client(emu), Client(emu, "reader")
    space_id = created["id"]
    search = "/content/search?cql=" + "space = ARCH AND lastmodified < now(\"-29d\")&limit=100"

    def reader_sees():
        return {
            "v2 spaces": "ARCH" in [x["key"] for x in reader.get(reader.v2 + "/spaces?limit=250").json()["results"]],
            "v2 space": reader.get(reader.v2 + "/spaces/%d" % space_id).status_code == 200,
            "v1 space": reader.get(reader.v1 + "/space/ARCH").status_code == 200,
            "cql": len(walk_v1(reader, reader.v1 + search)),
            "truth": s.user_by_any("reader").account_id in emu.admin.effective_access(created["homepage_id"])["users"],
        }

    assert len(walk_v1(admin, admin.v1 + search)) == 6
    assert reader_sees() == {"v2 spaces": False, "v2 space": False, "v1 space": False, "cql": 0, "truth": False}
    granted = emu.admin.grant_space("ARCH", users=["reader"])
    assert granted["view_users"] == [s.user_by_any("reader").account_id]
    assert reader_sees() == {"v2 spaces": True, "v2 space": True, "v1 space": True, "cql": 6, "truth": True}
    perms = admin.get(admin.v2 + "/spaces/%d/permissions" % space_id).json()["results"]
    assert {p["principal"]["id"] for p in perms if p["principal"]["type"] == "user"} == set(granted["view_users"])
    emu.admin.revoke_space("ARCH", users=["reader"])
    assert reader_sees()["cql"] == 0 and not reader_sees()["v2 spaces"]
    emu.admin.grant_space("ARCH", groups=["confluence-users"])  # reader is in it
    assert reader_sees()["cql"] == 6


def test_space_admin_api_rejects_what_it_cannot_do(fresh_cloud):
    admin = fresh_cloud.admin
    with pytest.raises(Exception, match="409"):
        admin.create_space("ENG")
    with pytest.raises(Exception, match="400"):
        admin.create_space("NEW", pages=-1)
    with pytest.raises(Exception, match="404"):
        admin.grant_space("NOPE", users=["reader"])
    with pytest.raises(Exception, match="400"):
        admin.grant_space("ENG", users=["nobody-by-this-name"])


def test_data_center_space_permissions_follow_a_grant():
    """DC's permissions listing and the reader's v1 space list follow a grant."""
    with Emulator(profile="data_center", seed=5, pages=20, time_zone="Asia/Shanghai") as dc:
        reader, admin = Client(dc, "reader"), Client(dc)
        hr_visible = lambda: "HR" in [x["key"] for x in reader.get(reader.v1 + "/space?limit=50").json()["results"]]
        assert not hr_visible()
        dc.admin.grant_space("HR", users=["reader"])
        assert hr_visible()
        users = [p["subject"]["identifier"] for p in admin.get(admin.v1 + "/space/HR/permissions").json()
                 if p["subject"]["type"] == "user"]
        assert users == [dc.site.user_by_any("reader").user_key]
        dc.admin.revoke_space("HR", users=["reader"])
        assert not hr_visible()


def test_a_lastmodified_range_answers_what_a_scan_of_the_site_answers_before_and_after_an_edit(fresh_cloud):
    # The range is taken from an index by modification time; the answer must be the scan's, in the site's zone.
    cl = Client(fresh_cloud)
    emu = fresh_cloud
    pages = sorted((c for c in emu.site.content.values() if c.type == "page" and c.status == "current"), key=lambda c: c.modified)
    low, high = pages[len(pages) // 4], pages[3 * len(pages) // 4]
    fmt = lambda c: datetime.fromtimestamp(c.modified / 1000, tz=cql.zone(emu.site.time_zone)).strftime("%Y-%m-%d %H:%M")

    def search(cql_text):
        body = cl.get(cl.v1 + "/search", params={"cql": cql_text, "limit": 1}).json()
        return body["totalSize"]

    ranged = 'type = page AND lastmodified >= "%s" AND lastmodified <= "%s"' % (fmt(low), fmt(high))
    expected = sum(1 for c in pages if fmt(low) <= fmt(c) <= fmt(high))
    assert search(ranged) == expected > 0
    assert search('type = page AND lastmodified >= "%s"' % fmt(high)) == sum(1 for c in pages if fmt(c) >= fmt(high))
    emu.admin.edit(low.id, body="<p>moved to now</p>", message="edit")
    assert search(ranged) == expected - 1  # its lastmodified is now, outside the range
