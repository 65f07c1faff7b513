"""The media host (media.py): Cloud downloads answer 302 to another origin that trusts only its own short-lived token."""
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from confluence_emulator import Emulator

from .conftest import Client


def first_attachment(emu):
    s = emu.site
    admin = s.user_by_any("admin")
    return next(c for c in sorted(s.content.values(), key=lambda c: c.num)
                if c.type == "attachment" and c.status == "current" and s.can_view(admin, c))


def rest_download(emu, a):
    prefix = "/rest/api" if emu.info["profile"] == "data_center" else "/wiki/rest/api"
    return emu.info["base_url"] + prefix + "/content/%s/child/attachment/%s/download" % (a.container_id, a.id)


@pytest.fixture
def media_cloud():
    with Emulator(profile="cloud", seed=31, pages=20) as emu:
        yield emu


def test_cloud_download_redirects_to_another_origin(media_cloud):
    emu, a = media_cloud, first_attachment(media_cloud)
    cl = Client(emu)
    r = cl.get(rest_download(emu, a), allow_redirects=False)
    assert r.status_code == 302 and "atlassian.xsrf.token" in r.cookies
    target = urlsplit(r.headers["Location"])
    site = urlsplit(emu.info["base_url"])
    assert (target.hostname, target.port) != (site.hostname, site.port) and target.hostname == "localhost"
    assert emu.info["media_url"] == "%s://%s" % (target.scheme, target.netloc)
    assert target.path == "/file/f%s/binary" % a.id[3:]
    query = parse_qs(target.query)
    assert set(query) == {"token", "client", "name"} and query["name"] == [a.filename]
    # the media host needs no Confluence credentials: the token is enough
    media = requests.get(r.headers["Location"], timeout=30)
    assert media.status_code == 200 and media.content == a.blob
    # the web path redirects the same way
    web = cl.get(emu.info["base_url"] + "/wiki/download/attachments/%s/%s" % (a.container_id, a.filename), allow_redirects=False)
    assert web.status_code == 302 and web.headers["Location"].startswith(emu.info["media_url"] + "/file/")


def test_tokens_are_deterministic_by_seed():
    locations = []
    for _ in range(2):
        with Emulator(profile="cloud", seed=31, pages=20) as emu:
            a = first_attachment(emu)
            r = Client(emu).get(rest_download(emu, a), allow_redirects=False)
            locations.append(parse_qs(urlsplit(r.headers["Location"]).query))
    assert locations[0] == locations[1]


def test_missing_wrong_foreign_and_expired_tokens_are_refused(media_cloud):
    emu = media_cloud
    cl = Client(emu)
    attachments = [c for c in sorted(emu.site.content.values(), key=lambda c: c.num) if c.type == "attachment"][:2]
    location = cl.get(rest_download(emu, attachments[0]), allow_redirects=False).headers["Location"]
    other = cl.get(rest_download(emu, attachments[1]), allow_redirects=False).headers["Location"]
    bare, token = location.split("?")[0], parse_qs(urlsplit(location).query)["token"][0]
    assert requests.get(bare, timeout=30).status_code == 401
    assert requests.get(bare + "?token=" + token[:-1] + "0", timeout=30).status_code in (401, 403)
    assert requests.get(bare + "?token=" + parse_qs(urlsplit(other).query)["token"][0], timeout=30).status_code == 403
    assert requests.get(location, timeout=30).status_code == 200
    emu.admin.advance_clock(301)  # tokens live 300 s of emulator time by default
    assert requests.get(location, timeout=30).status_code == 403
    fresh = cl.get(rest_download(emu, attachments[0]), allow_redirects=False).headers["Location"]
    assert requests.get(fresh, timeout=30).status_code == 200


def test_media_log_records_auth_and_cookie_presence_never_values(media_cloud):
    emu, a = media_cloud, first_attachment(media_cloud)
    emu.admin.reset_requests()
    location = Client(emu).get(rest_download(emu, a), allow_redirects=False).headers["Location"]
    requests.get(location, timeout=30)
    requests.get(location, headers={"Authorization": "Basic c2VjcmV0OnNlY3JldA==", "Cookie": "session=s3cret"}, timeout=30)
    log = emu.admin.media_requests()
    assert [(e["status"], e["authorization"], e["cookie"], e["token"]) for e in log] == [(200, False, False, True), (200, True, True, True)]
    raw = requests.get(emu.info["admin_url"] + "/media/requests", timeout=30).text
    assert "c2VjcmV0" not in raw and "s3cret" not in raw and parse_qs(urlsplit(location).query)["token"][0] not in raw
    emu.admin.reset_requests()
    assert emu.admin.media_requests() == []


def test_purged_file_is_404_on_the_media_host(media_cloud):
    emu, a = media_cloud, first_attachment(media_cloud)
    cl = Client(emu)
    location = cl.get(rest_download(emu, a), allow_redirects=False).headers["Location"]
    emu.admin.purge_file(a.id)
    # the record is still listed; its bytes are gone
    assert cl.get(cl.v2 + "/attachments/" + a.id).status_code == 200
    assert requests.get(location, timeout=30).status_code == 404


def test_redirect_off_and_data_center_serve_bytes_directly(dc):
    with Emulator(profile="gateway", seed=32, pages=20, media_redirect="off") as emu:
        assert emu.info["media_redirect"] == "off" and "media_url" not in emu.info
        a = first_attachment(emu)
        r = Client(emu).get(rest_download(emu, a), allow_redirects=False)
        assert r.status_code == 200 and r.content == a.blob
        emu.admin.purge_file(a.id)
        assert Client(emu).get(rest_download(emu, a)).status_code == 404
    assert dc.info["media_redirect"] == "off"
    a = first_attachment(dc)
    r = Client(dc).get(rest_download(dc, a), allow_redirects=False)
    assert r.status_code == 200 and r.content == a.blob
    with pytest.raises(ValueError):
        Emulator(profile="data_center", media_redirect="on")


def test_gateway_download_redirects_too():
    with Emulator(profile="gateway", seed=33, pages=20) as emu:
        a = first_attachment(emu)
        scoped = emu.info["credentials"]["scoped_api_token"]
        url = emu.info["api_gateway_url"] + "/ex/confluence/%s/wiki/rest/api/content/%s/child/attachment/%s/download" % (
            emu.info["cloud_id"], a.container_id, a.id)
        r = requests.get(url, auth=(scoped["email"], scoped["api_token"]), allow_redirects=False, timeout=30)
        assert r.status_code == 302 and r.headers["Location"].startswith(emu.info["media_url"])
        assert requests.get(r.headers["Location"], timeout=30).content == a.blob


@pytest.mark.parametrize("flags, expected", [([], "on"), (["--media-redirect", "off"], "off")])
def test_cli_switch(flags, expected):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    process = subprocess.Popen([sys.executable, "-m", "confluence_emulator.cli", "serve", "--profile", "cloud", "--pages", "5",
                                "--seed", "34", *flags], stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=root), cwd=root)
    try:
        info = json.loads(process.stdout.readline())
        assert info["media_redirect"] == expected and ("media_url" in info) == (expected == "on")
    finally:
        process.terminate()
        process.wait(timeout=30)
