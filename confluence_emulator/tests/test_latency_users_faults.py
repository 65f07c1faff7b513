"""The latency model (asserted on the computed delay the emulator reports, not on wall time), the user endpoints
(search/user, user/bulk, DC user/list) and their privacy rules, oauth_errors, and a check that every fault switch
the README documents is exercised by some test."""
import re
import time
from pathlib import Path

import pytest
import requests

from confluence_emulator import Emulator

from .conftest import Client

HERE = Path(__file__).resolve().parent


def lat(r):
    return float(r.headers["X-Emulator-Latency-Ms"])


# ------------------------------------------------------------------ latency model
def test_latency_model_reports_its_delay():
    with Emulator(profile="cloud", seed=3, pages=40, latency_ms=2, latency_per_item_ms=0.5, latency_per_body_item_ms=1.5) as emu:
        cl = Client(emu)
        emu.admin.reset_requests()
        r = cl.get(cl.v2 + "/pages?limit=10")
        assert r.status_code == 200 and len(r.json()["results"]) == 10
        assert lat(r) == pytest.approx(2 + 10 * 0.5)  # items without bodies
        t0 = time.perf_counter()
        r = cl.get(cl.v2 + "/pages?limit=10&body-format=storage")
        wall_ms = (time.perf_counter() - t0) * 1000
        assert lat(r) == pytest.approx(2 + 10 * 0.5 + 10 * 1.5)  # bodies cost more
        assert wall_ms >= lat(r) - 1  # the delay is really slept (a lower bound only, so it cannot flake)
        r = cl.get(cl.v2 + "/pages?limit=3&body-format=storage")
        assert lat(r) == pytest.approx(2 + 3 * 0.5 + 3 * 1.5)  # grows with the items returned
        r = cl.get(cl.v1 + "/content/search?cql=type=page&limit=4&expand=body.storage,version")
        assert len(r.json()["results"]) == 4 and lat(r) == pytest.approx(2 + 4 * 0.5 + 4 * 1.5)
        r = cl.get(cl.v1 + "/content/search?cql=type=page&limit=4&expand=version")
        assert lat(r) == pytest.approx(2 + 4 * 0.5)
        r = cl.get(cl.v1 + "/user/current")
        assert lat(r) == pytest.approx(2)  # base only
        st = emu.admin.stats()
        assert st["latency_ms"] == pytest.approx(7 + 22 + 8 + 10 + 4 + 2, abs=0.01)
        # changed at run time through the faults API; slow_ms adds to every request
        emu.admin.set_faults(latency_ms=0, latency_per_item_ms=0, latency_per_body_item_ms=0, slow_ms=3)
        r = cl.get(cl.v2 + "/pages?limit=5&body-format=storage")
        assert lat(r) == pytest.approx(3)
        emu.admin.set_faults(slow_ms=0)
        assert lat(cl.get(cl.v2 + "/pages?limit=5&body-format=storage")) == 0


def test_stats_count_the_peak_of_requests_in_flight():
    from concurrent.futures import ThreadPoolExecutor

    with Emulator(profile="cloud", seed=3, pages=20, faults={"slow_ms": 400}) as emu:
        cl = Client(emu)
        emu.admin.reset_requests()
        for _ in range(3):
            assert cl.get(cl.v1 + "/user/current").status_code == 200
        assert emu.admin.stats()["peak_in_flight"] == 1  # one after the other
        emu.admin.reset_requests()
        with ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(lambda _: requests.get(cl.v1 + "/user/current", auth=cl.s.auth, timeout=30).status_code, range(4)))
        assert codes == [200] * 4
        # four sent at once, each held 400 ms: at least two overlapped (a lower bound, so it cannot flake)
        assert 2 <= emu.admin.stats()["peak_in_flight"] <= 4


def test_latency_off_by_default(cloud):
    cl = Client(cloud)
    assert lat(cl.get(cl.v2 + "/pages?limit=5&body-format=storage")) == 0


# ------------------------------------------------------------------ oauth_errors
def test_oauth_errors(fresh_gateway):
    emu = fresh_gateway
    info = emu.info
    o = info["credentials"]["oauth2"]
    form = {"grant_type": "refresh_token", "client_id": o["client_id"], "client_secret": o["client_secret"],
            "refresh_token": o["refresh_token"]}
    emu.admin.set_faults(oauth_errors=1.0)
    r = requests.post(info["oauth_token_url"], json=form, timeout=30)
    assert r.status_code == 503 and r.headers["Retry-After"] == "1" and r.json() == {"error": "temporarily_unavailable"}
    # the refresh token was not consumed by the failed call, and the API itself is not faulted
    s = info["credentials"]["scoped_api_token"]
    gw = info["api_gateway_url"] + "/ex/confluence/%s/wiki" % info["cloud_id"]
    assert requests.get(gw + "/api/v2/spaces", auth=(s["email"], s["api_token"]), timeout=30).status_code == 200
    assert emu.admin.stats()["faults"].get("oauth_error") == 1
    emu.admin.reset_faults()
    r = requests.post(info["oauth_token_url"], json=form, timeout=30)
    assert r.status_code == 200 and r.json()["access_token"]


def test_malformed_ratio(fresh_cloud):
    emu = fresh_cloud
    cl = Client(emu)
    emu.admin.set_faults(malformed_ratio=1.0)
    r = cl.get(cl.v2 + "/pages?limit=5")
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(r.content)
    with pytest.raises(ValueError):
        r.json()
    emu.admin.reset_faults()
    assert emu.admin.stats()["faults"].get("malformed")


def test_space_permissions_denied_status(dc):
    """Data Center's space permissions for a non-admin: the documented 403, or the 500 that 9.1+ answers."""
    reader = Client(dc, role="reader")
    key = next(iter(dc.site.spaces))
    url = reader.v1 + "/space/%s/permissions" % key
    try:
        assert reader.get(url).status_code == 403
        dc.admin.set_faults(space_permissions_denied_status=500)
        assert reader.get(url).status_code == 500
        assert Client(dc).get(url).status_code == 200  # administrators still read them
    finally:
        dc.admin.reset_faults()


def test_every_readme_fault_switch_has_a_test():
    readme = (HERE.parent / "README.md").read_text()
    section = readme.split("## Faults", 1)[1].split("\n## ", 1)[0]
    switches = set()
    for row in re.findall(r"^\|([^|\n]*)\|", section, re.M):
        switches |= set(re.findall(r"`([a-z_]+)`", row))
    assert {"rate_limit", "error_ratio", "oauth_errors", "latency_per_body_item_ms"} <= switches
    tests = "\n".join(p.read_text() for p in HERE.glob("test_*.py") if p.name != Path(__file__).name) + \
        Path(__file__).read_text().split("def test_every_readme_fault_switch_has_a_test")[0]
    missing = sorted(s for s in switches if not re.search(r"\b%s\b" % s, tests))
    assert not missing, "fault switches without a test: %s" % missing


# ------------------------------------------------------------------ users
def test_search_user_paging_and_cql(cloud):
    cl = Client(cloud)
    users = cloud.site.users
    seen, url = [], cl.v1 + "/search/user?cql=type=user&limit=3"
    while url:
        b = cl.get(url).json()
        assert b["totalSize"] == len(users) and b["cqlQuery"] == "type=user" and b["limit"] == 3
        assert all(x["entityType"] == "user" and x["title"] == x["user"]["displayName"] for x in b["results"])
        seen += [x["user"]["accountId"] for x in b["results"]]
        nxt = b["_links"].get("next")
        if nxt:
            assert "start=%d" % (b["start"] + 3) in nxt
        url = b["_links"]["base"] + nxt if nxt else None
    assert sorted(seen) == sorted(users) and len(seen) == len(set(seen))
    reader = next(u for u in users.values() if u.username == "reader")
    b = cl.get(cl.v1 + '/search/user?cql=type=user AND user.fullname ~ "read only"').json()
    assert [x["user"]["accountId"] for x in b["results"]] == [reader.account_id]
    b = cl.get(cl.v1 + '/search/user?cql=user.accountid IN ("%s","nope")' % reader.account_id).json()
    assert b["size"] == 1
    assert cl.get(cl.v1 + "/search/user?cql=type=page").status_code == 400
    assert cl.get(cl.v1 + "/search/user?cql=space=ENG").status_code == 400
    assert cl.get(cl.v1 + "/search/user").status_code == 400
    assert requests.get(cl.v1 + "/search/user?cql=type=user", timeout=30).status_code == 403  # anonymous


def test_user_bulk(cloud):
    cl = Client(cloud)
    ids = sorted(cloud.site.users)
    b = cl.get(cl.v1 + "/user/bulk", params=[("accountId", ids[2]), ("accountId", ids[0] + "," + "nope"), ("accountId", ids[2])]).json()
    assert [u["accountId"] for u in b["results"]] == [ids[2], ids[0]] and b["size"] == 2 and b["limit"] == 100
    many = (ids * 60)[:150]
    b = cl.get(cl.v1 + "/user/bulk", params=[("accountId", a) for a in many]).json()
    assert b["size"] == len(set(many[:100]))  # only the first 100 ids are looked up
    assert cl.get(cl.v1 + "/user/bulk").status_code == 400
    assert requests.get(cl.v1 + "/user/bulk?accountId=" + ids[0], timeout=30).status_code == 403  # anonymous


def test_cloud_emails_follow_privacy(cloud):
    users = cloud.site.users
    private = [u for u in users.values() if not u.email_visible]
    assert private, "the generated site has users who keep their email private"
    p = private[0]
    admin, reader = Client(cloud), Client(cloud, role="reader")
    for path in ("/user/bulk?accountId=" + p.account_id, "/search/user?cql=user.accountid=" + p.account_id):
        a = admin.get(admin.v1 + path).json()["results"][0]
        r = reader.get(reader.v1 + path).json()["results"][0]
        a, r = a.get("user", a), r.get("user", r)
        assert a["email"] == p.email and r["email"] == ""
    assert reader.get(reader.v1 + "/user?accountId=" + p.account_id).json()["email"] == ""
    # the same rule inside content records (version.by, history.createdBy)
    page = next(c for c in cloud.site.content.values() if c.type == "page" and c.versions[0].by == p.account_id
                and cloud.site.can_view(next(u for u in users.values() if u.username == "reader"), c))
    r = reader.get(reader.v1 + "/content/search?cql=id=%s&expand=history" % page.id).json()["results"][0]
    assert r["history"]["createdBy"]["email"] == ""
    me = reader.get(reader.v1 + "/user/current").json()
    assert me["email"] == "reader@example.com"  # one's own address is always visible
    visible = next(u for u in users.values() if u.email_visible and u.email)
    assert reader.get(reader.v1 + "/user/bulk?accountId=" + visible.account_id).json()["results"][0]["email"] == visible.email


def test_dc_user_list(dc):
    cl = Client(dc)
    users = dc.site.users
    seen, url = [], cl.v1 + "/user/list?limit=4"
    while url:
        b = cl.get(url).json()
        assert b["totalCount"] == len(users) and b["limit"] == 4
        assert all("userKey" in u and "accountId" not in u for u in b["results"])
        seen += [u["username"] for u in b["results"]]
        nxt = b["_links"].get("next")
        url = b["_links"]["base"] + nxt if nxt else None
    assert seen == sorted(u.username for u in users.values())
    assert cl.get(cl.v1 + "/user/list").json()["limit"] == 100
    assert Client(dc, role="reader").get(cl.v1 + "/user/list").status_code == 200
    assert requests.get(cl.v1 + "/user/list", timeout=30).status_code == 403  # anonymous, as the DC spec documents
    # Cloud-only and DC-only routes stay apart
    assert cl.get(cl.v1 + "/user/bulk?accountId=x").status_code == 404
    assert cl.get(cl.v1 + "/search/user?cql=type=user").status_code == 404


def test_user_list_is_dc_only(cloud):
    cl = Client(cloud)
    assert cl.get(cl.v1 + "/user/list").status_code == 404
