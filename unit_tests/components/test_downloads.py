"""AttachmentDownloader and DownloadableAttachments, built from the manifest, against requests_mock.

The point under test: Confluence's credentials (Basic, Bearer/OAuth, PAT) and cookies reach Confluence's
origin only, never the media host a Cloud download redirects to.
"""

import base64
import logging
from pathlib import Path
from typing import Any, Dict, Mapping

import pytest
import requests
import yaml
from airbyte_cdk.sources.declarative.models.declarative_component_schema import CustomRecordFilter as CustomRecordFilterModel
from airbyte_cdk.sources.declarative.models.declarative_component_schema import CustomRequester as CustomRequesterModel
from airbyte_cdk.sources.declarative.parsers.manifest_component_transformer import ManifestComponentTransformer
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.sources.types import StreamSlice

from confluence_emulator import Emulator
from source_confluence.components.downloads import (
    PREFETCHED,
    AttachmentDownloader,
    DownloadableAttachments,
    DownloadFailed,
    redact,
)
from source_confluence.api.endpoints import api_roots

MANIFEST = Path(__file__).resolve().parents[2] / "source_confluence" / "manifest.yaml"
SITE = "https://acme.atlassian.net"
GATEWAY = "https://api.atlassian.com"
CLOUD_ID = "c0ffee"
MEDIA = "https://api.media.atlassian.com"
MEDIA_URL = MEDIA + "/file/f42/binary?token=eyJsecret.jwt&client=cl&name=a.txt"

CREDENTIALS = {
    "api_token": {"auth_type": "api_token", "email": "a@b.c", "api_token": "classic-token"},
    "scoped_api_token": {"auth_type": "scoped_api_token", "email": "a@b.c", "api_token": "scoped-token"},
    "oauth2": {"auth_type": "oauth2", "client_id": "id", "client_secret": "cs", "refresh_token": "rt",
               "access_token": "oauth-access", "token_expiry_date": "2999-01-01T00:00:00+00:00"},
    "personal_access_token": {"auth_type": "personal_access_token", "personal_access_token": "the-pat"},
}


def config_for(auth_type: str) -> Dict[str, Any]:
    if auth_type == "personal_access_token":
        config = {"base_url": "https://wiki.example.com/confluence", "deployment": "data_center"}
    else:
        config = {"base_url": SITE, "deployment": "cloud", "cloud_id": CLOUD_ID, "api_gateway_url": GATEWAY,
                  "oauth_token_url": GATEWAY + "/oauth/token"}
    config["credentials"] = dict(CREDENTIALS[auth_type])
    return dict(config, _derived=dict(api_roots(config)))


def _component(definition: Mapping[str, Any], model: Any, config: Mapping[str, Any]) -> Any:
    manifest = yaml.safe_load(MANIFEST.read_text())
    manifest["definitions"]["__under_test"] = definition
    resolved = ManifestReferenceResolver().preprocess_manifest(manifest)
    component = ManifestComponentTransformer().propagate_types_and_parameters("", resolved["definitions"]["__under_test"], {})
    return ModelToComponentFactory().create_component(model, component, dict(config))


def downloader(config: Mapping[str, Any]) -> AttachmentDownloader:
    built = _component({"$ref": "#/definitions/attachment_download_requester"}, CustomRequesterModel, config)
    assert isinstance(built, AttachmentDownloader)
    return built


def download_url(config: Mapping[str, Any]) -> str:
    return config["_derived"]["rest_api_url"].rstrip("/") + "/content/1001/child/attachment/att42/download"


def secrets_of(auth_type: str) -> list:
    creds = CREDENTIALS[auth_type]
    values = [v for k, v in creds.items() if k in ("api_token", "access_token", "personal_access_token")]
    if "email" in creds:
        values.append(base64.b64encode(("%s:%s" % (creds["email"], creds["api_token"])).encode()).decode())
    return values


@pytest.mark.parametrize("auth_type", ["api_token", "scoped_api_token", "oauth2", "personal_access_token"])
def test_redirect_to_the_media_host_carries_no_credentials_and_no_cookie(requests_mock, auth_type):
    config = config_for(auth_type)
    url = download_url(config)
    # The gateway (api.atlassian.com) may set a cookie for .atlassian.com, which a plain session would send
    # on to api.media.atlassian.com.
    requests_mock.get(url, status_code=302, headers={"Location": MEDIA_URL, "Set-Cookie": "tenant=t1; Domain=.atlassian.com; Path=/"})
    requests_mock.get(MEDIA_URL, content=b"the bytes")
    response = downloader(config).send_request(path="content/1001/child/attachment/att42/download")
    assert response.status_code == 200 and response.content == b"the bytes"
    to_confluence, to_media = requests_mock.request_history
    assert to_confluence.url == url and "Authorization" in to_confluence.headers
    assert to_media.url == MEDIA_URL
    assert "Authorization" not in to_media.headers and "Cookie" not in to_media.headers
    sent_to_media = repr(dict(to_media.headers)) + to_media.url
    assert not [secret for secret in secrets_of(auth_type) if secret in sent_to_media]


def test_cookies_never_reach_the_media_host_even_under_the_same_host_name():
    """Why the downloader keeps no cookies: requests strips Authorization on a port change, but cookies ignore ports.

    The emulator's media host here is 127.0.0.1 on another port; the site sets a cookie with its 302.
    """
    with Emulator(profile="cloud", seed=23, pages=20, media_host="127.0.0.1") as emu:
        attachment = next(c for c in sorted(emu.site.content.values(), key=lambda c: c.num) if c.type == "attachment")
        creds = emu.info["credentials"]["api_token"]
        url = emu.info["base_url"] + "/wiki/rest/api/content/%s/child/attachment/%s/download" % (attachment.container_id, attachment.id)
        plain = requests.Session()
        plain.auth = (creds["email"], creds["api_token"])
        assert plain.get(url, timeout=30).content == attachment.blob
        assert [(e["authorization"], e["cookie"]) for e in emu.admin.media_requests()] == [(False, True)]

        emu.admin.reset_requests()
        config = {"base_url": emu.info["base_url"], "deployment": "cloud", "credentials": dict(creds)}
        config["_derived"] = dict(api_roots(config))
        ours = downloader(config)
        for _ in range(2):
            assert ours.download(url).content == attachment.blob
        log = emu.admin.media_requests()
        assert len(log) == 2 and all(e["status"] == 200 and not e["authorization"] and not e["cookie"] for e in log)


def test_netrc_credentials_are_never_added_for_the_media_host(requests_mock, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.media.atlassian.com login someone password netrc-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    config = config_for("api_token")
    requests_mock.get(download_url(config), status_code=302, headers={"Location": MEDIA_URL})
    requests_mock.get(MEDIA_URL, content=b"x")
    downloader(config).download(download_url(config))
    assert "Authorization" not in requests_mock.request_history[1].headers


def test_same_origin_redirect_keeps_credentials_and_another_port_is_another_origin(requests_mock):
    config = config_for("personal_access_token")
    url = download_url(config)
    same = "https://wiki.example.com/confluence/download/attachments/1001/a.txt?version=1"
    other_port = "https://wiki.example.com:8443/files/a.txt"
    requests_mock.get(url, status_code=302, headers={"Location": "/confluence/download/attachments/1001/a.txt?version=1"})
    requests_mock.get(same, status_code=307, headers={"Location": other_port})
    requests_mock.get(other_port, status_code=302, headers={"Location": same + "&back=1"})
    requests_mock.get(same + "&back=1", content=b"x")
    assert downloader(config).download(url).content == b"x"
    sent = [(r.url, r.headers.get("Authorization")) for r in requests_mock.request_history]
    assert sent == [(url, "Bearer the-pat"), (same, "Bearer the-pat"), (other_port, None), (same + "&back=1", None)]


def test_expired_media_token_gets_one_fresh_redirect(requests_mock):
    config = config_for("api_token")
    url = download_url(config)
    fresh = MEDIA + "/file/f42/binary?token=fresh&client=cl"
    requests_mock.get(url, [{"status_code": 302, "headers": {"Location": MEDIA_URL}},
                            {"status_code": 302, "headers": {"Location": fresh}}])
    requests_mock.get(MEDIA_URL, status_code=403, json={"error": {"code": "Forbidden"}})
    requests_mock.get(fresh, content=b"fresh bytes")
    assert downloader(config).download(url).content == b"fresh bytes"
    assert [r.url for r in requests_mock.request_history] == [url, MEDIA_URL, url, fresh]


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_media_host_refusal_is_returned_not_raised(requests_mock, status):
    config = config_for("api_token")
    url = download_url(config)
    requests_mock.get(url, status_code=302, headers={"Location": MEDIA_URL})
    requests_mock.get(MEDIA_URL, status_code=status, json={"error": {"code": "x"}})
    assert downloader(config).download(url).status_code == status
    expected = 4 if status in (401, 403) else 2  # a refused token is asked for once more, a missing file is not
    assert requests_mock.call_count == expected


@pytest.mark.parametrize("status", [400, 500])
def test_media_host_errors_never_log_the_token(requests_mock, caplog, status):
    config = config_for("api_token")
    url = download_url(config)
    requests_mock.get(url, status_code=302, headers={"Location": MEDIA_URL})
    requests_mock.get(MEDIA_URL, status_code=status, json={"error": {"code": "x"}})
    requests_mock_downloader = downloader(config)
    requests_mock_downloader.media_error_handler.max_retries = 0
    with caplog.at_level(logging.DEBUG, logger="airbyte"):
        try:
            outcome = requests_mock_downloader.download(url).status_code
        except DownloadFailed as error:
            outcome = str(error)
    assert outcome == 400 if status == 400 else "the media host did not answer" in outcome
    airbyte_logs = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("airbyte"))
    assert airbyte_logs and "eyJsecret" not in airbyte_logs + str(outcome)


def test_redirect_loop_fails_that_download_without_the_token(requests_mock):
    config = config_for("api_token")
    url = download_url(config)
    requests_mock.get(url, status_code=302, headers={"Location": MEDIA_URL})
    requests_mock.get(MEDIA_URL, status_code=302, headers={"Location": MEDIA_URL})
    with pytest.raises(DownloadFailed) as raised:
        downloader(config).download(url)
    assert "eyJsecret" not in str(raised.value)


def test_redact():
    assert redact("GET https://m/file/1/binary?token=abc.def&client=x failed") == "GET https://m/file/1/binary?token=***&client=x failed"
    assert redact("no secrets here") == "no secrets here"


# ------------------------------------------------------------------------------------------ attachment_files
def record_filter(config: Mapping[str, Any]) -> DownloadableAttachments:
    definition = {"type": "CustomRecordFilter", "class_name": "source_confluence.components.downloads.DownloadableAttachments",
                  "requester": {"$ref": "#/definitions/attachment_download_requester"}}
    return _component(definition, CustomRecordFilterModel, config)


def raw_attachment(att_id: str) -> Dict[str, Any]:
    """An attachment as content/search returns it, before NormaliseAttachment."""
    return {"id": att_id, "type": "attachment", "title": att_id + ".txt", "container": {"id": "1001", "type": "page"}}


def test_a_file_that_cannot_be_downloaded_drops_its_record_with_a_warning(requests_mock, caplog):
    config = config_for("api_token")
    base = config["_derived"]["rest_api_url"].rstrip("/") + "/content/1001/child/attachment/%s/download"
    requests_mock.get(base % "att1", status_code=302, headers={"Location": MEDIA + "/file/f1/binary?token=t1"})
    requests_mock.get(MEDIA + "/file/f1/binary?token=t1", content=b"one")
    requests_mock.get(base % "att2", status_code=404, json={"statusCode": 404, "message": "No attachment found"})
    requests_mock.get(base % "att3", status_code=302, headers={"Location": MEDIA + "/file/f3/binary?token=t3"})
    requests_mock.get(MEDIA + "/file/f3/binary?token=t3", status_code=404, json={"error": {"code": "FileNotFound"}})
    requests_mock.get(base % "att4", status_code=302, headers={"Location": MEDIA + "/file/f4/binary?token=t4"})
    requests_mock.get(MEDIA + "/file/f4/binary?token=t4", content=b"four")
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        kept = list(record_filter(config).filter_records([raw_attachment("att%d" % n) for n in (1, 2, 3, 4)], stream_state={}))
    assert [r["id"] for r in kept] == ["att1", "att4"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "skipped" in r.getMessage()]
    assert len(warnings) == 2 and "att2" in warnings[0] and "HTTP 404" in warnings[0] and "att3" in warnings[1]
    assert not [w for w in warnings if "token=t" in w]

    # The uploader's requester gets the file already downloaded: no second request.
    calls = requests_mock.call_count
    # as the manifest's file_uploader declares it
    uploader_requester = _component({"$ref": "#/definitions/attachment_download_requester", "path": "{{ download_target }}"},
                                    CustomRequesterModel, config)
    for att_id, data in (("att1", b"one"), ("att4", b"four")):
        slice_ = StreamSlice(partition={}, cursor_slice={}, extra_fields={"download_target": "content/1001/child/attachment/%s/download" % att_id})
        assert uploader_requester.send_request(stream_slice=slice_).content == data
    assert requests_mock.call_count == calls
    assert PREFETCHED.take(base % "att1") is None


def test_an_oauth_token_expired_server_side_is_refreshed_for_a_download(requests_mock, capsys):
    """The download requester uses the shared error handler: a 401 with OAuth 2.0 refreshes the token once and
    retries, as every other request does, instead of failing the sync as wrong credentials."""
    config = config_for("oauth2")
    url = download_url(config)
    requests_mock.post(config["oauth_token_url"], json={"access_token": "oauth-access-2", "refresh_token": "rt-2", "expires_in": 3600})
    requests_mock.get(url, [{"status_code": 401, "json": {"message": "expired"}}, {"status_code": 200, "content": b"the bytes"}])
    assert downloader(config).download(url).content == b"the bytes"
    downloads = [r for r in requests_mock.request_history if r.method == "GET"]
    refreshes = [r for r in requests_mock.request_history if r.method == "POST"]
    assert len(downloads) == 2 and len(refreshes) == 1  # the retry re-sends the same request, now signed anew
    assert downloads[-1].headers["Authorization"] == "Bearer oauth-access-2"


def test_each_request_of_a_download_holds_a_slot_of_the_reads_budget_and_its_call_rate(requests_mock):
    # The download clients' sessions are not the CDK's own: they are CDK LimiterSessions all the same, so
    # the Confluence request and the media host's each hold a slot while sent (sync/in_flight.py).
    from airbyte_cdk.sources.streams.call_rate import APIBudget, LimiterSession

    from source_confluence.components.downloads import cookieless_session
    from source_confluence.sync.in_flight import InFlightBudget, reading

    config = config_for("api_token")
    url = download_url(config)
    budget, held = InFlightBudget(2), []

    def answer(status, **headers):
        def callback(request, context):
            held.append(budget.in_flight)
            context.status_code, context.headers = status, headers
            return b"the bytes" if status == 200 else b""
        return callback

    requests_mock.get(url, content=answer(302, Location=MEDIA_URL))
    requests_mock.get(MEDIA_URL, content=answer(200))
    built = downloader(config)
    assert isinstance(built.confluence_client._session, LimiterSession)
    rate = APIBudget(policies=[])
    assert cookieless_session(api_budget=rate)._api_budget is rate  # the manifest's call rate, when the factory has one
    with reading(budget):
        response = built.send_request(path="content/1001/child/attachment/att42/download")
    assert response.content == b"the bytes"
    assert held == [1, 1]  # each hop in a slot, one at a time
    assert budget.in_flight == 0 and budget.peak == 1
