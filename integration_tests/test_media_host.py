"""Cloud attachment downloads through the media host, with the real connector (`run_cli`) over HTTP.

The emulator's Cloud and gateway profiles answer every download with a 302 to a media host on another
origin (confluence_emulator/media.py), which logs whether an Authorization header or a cookie reached it.
Text extraction (`attachments` with extract_attachment_text) and file transfer (`attachment_files`) must
both get the bytes from there without ever sending either; a file purged before its download, or a media
token that has expired, costs that one file with a warning.
"""

import re
from pathlib import Path

import pytest

from confluence_emulator import Emulator
from integration_tests.cli import catalog_for, run_cli
from integration_tests.emulator_configs import connector_config

SUPPORTED = (".txt", ".csv", ".md", ".pdf", ".docx")
# A media token as the emulator issues it (expiry ms "." hmac), wherever it might leak.
MEDIA_TOKEN = re.compile(rb"\d{13}\.[0-9a-f]{40}")
CASES = [("cloud", "api_token", 61), ("gateway", "oauth2", 62), ("gateway", "scoped_api_token", 63)]


def read_both(emulator, auth_type, staging: Path, **overrides):
    config = connector_config(emulator.info, auth_type, extract_attachment_text=True, **overrides)
    return run_cli("read", config, catalog_for(["attachments", "attachment_files"]), timeout=300,
                   extra_env={"AIRBYTE_STAGING_DIRECTORY": str(staging)})


def file_records(result):
    return [m["record"] for m in result.of_type("RECORD") if m["record"]["stream"] == "attachment_files"]


def visible_attachments(emulator):
    site = emulator.site
    admin = site.user_by_any("admin")
    return [c for c in sorted(site.content.values(), key=lambda c: c.num)
            if c.type == "attachment" and c.status == "current" and site.can_view(admin, c)]


@pytest.mark.parametrize("profile, auth_type, seed", CASES, ids=["-".join(c[:2]) for c in CASES])
def test_downloads_go_through_the_media_host_without_credentials(profile, auth_type, seed, tmp_path):
    with Emulator(profile=profile, seed=seed, pages=30) as emulator:
        assert emulator.info["media_redirect"] == "on"
        attachments = visible_attachments(emulator)
        purged = next(a for a in attachments if a.filename.endswith((".txt", ".pdf")))
        emulator.admin.purge_file(purged.id)  # still listed; its download now answers 404
        blobs = {a.id: a.blob for a in attachments}
        emulator.admin.reset_requests()

        result = read_both(emulator, auth_type, tmp_path)
        media_log = emulator.admin.media_requests()
        site_log = emulator.admin.requests()

    assert result.returncode == 0 and not result.errors, result.describe()

    # text: every attachment has its record; the purged one says why it has no text
    texts = {r["id"]: r for r in result.records("attachments")}
    assert set(texts) == set(blobs)
    assert texts[purged.id]["textExtraction"]["status"] == "failed"
    assert texts[purged.id]["textExtraction"]["reason"] == "download failed: HTTP 404"
    extracted = [r for r in texts.values() if r["textExtraction"]["status"] == "extracted"]
    assert extracted and all(r["fileName"].endswith(SUPPORTED) for r in extracted)
    assert len(extracted) == sum(1 for a in blobs if a != purged.id and texts[a]["fileName"].endswith(SUPPORTED))

    # files: every file but the purged one, staged with the bytes the site holds; no record for the purged one
    files = file_records(result)
    assert sorted(f["data"]["id"] for f in files) == sorted(a for a in blobs if a != purged.id)
    for record in files:
        reference = record["file_reference"]
        assert Path(reference["staging_file_url"]).read_bytes() == blobs[record["data"]["id"]]
        assert reference["file_size_bytes"] == len(blobs[record["data"]["id"]])
    assert [m for m in result.logs("WARN") if purged.id in m and "skipped" in m]

    # the media host served the bytes, and never saw a credential or a cookie
    assert {e["status"] for e in media_log} == {200, 404}
    assert sum(1 for e in media_log if e["status"] == 200) == len(extracted) + len(files)
    assert not [e for e in media_log if e["authorization"] or e["cookie"] or not e["token"]]
    # the site got every download request, with the credentials
    downloads = [e for e in site_log if e["path"].endswith("/download")]
    assert downloads and all(e["auth"] in ("Basic", "Bearer") and e["status"] == 302 for e in downloads)
    if profile == "gateway":
        assert all(e["path"].startswith("/ex/confluence/") for e in downloads)
    # short-lived or not, a media token is never printed
    assert not MEDIA_TOKEN.search(result.stdout + result.stderr)


def test_expired_media_tokens_cost_each_file_not_the_sync(tmp_path):
    # Tokens that expire at once: the connector asks Confluence for a fresh redirect once, then gives that file up.
    with Emulator(profile="cloud", seed=64, pages=20, media_token_ttl=0) as emulator:
        attachments = visible_attachments(emulator)
        emulator.admin.reset_requests()
        result = read_both(emulator, "api_token", tmp_path)
        media_log = emulator.admin.media_requests()

    assert result.returncode == 0 and not result.errors, result.describe()
    texts = result.records("attachments")
    assert len(texts) == len(attachments)
    for record in texts:
        expected = ("failed", "download failed: HTTP 403") if record["fileName"].endswith(SUPPORTED) else ("unsupported", None)
        assert (record["textExtraction"]["status"], record["textExtraction"]["reason"] if expected[1] else None) == expected
    assert file_records(result) == []
    skipped = [m for m in result.logs("WARN") if "skipped" in m]
    assert len(skipped) == len(attachments)
    assert media_log and {e["status"] for e in media_log} == {403}
    assert not [e for e in media_log if e["authorization"] or e["cookie"]]
    assert not MEDIA_TOKEN.search(result.stdout + result.stderr)


def test_debug_output_names_no_media_token(tmp_path):
    # --debug logs requests with their URLs and headers; a redirect's Location and a media URL carry the token.
    with Emulator(profile="cloud", seed=65, pages=10) as emulator:
        config = connector_config(emulator.info, "api_token", extract_attachment_text=True)
        result = run_cli("read", config, catalog_for(["attachments", "attachment_files"]), debug=True, timeout=300,
                         extra_env={"AIRBYTE_STAGING_DIRECTORY": str(tmp_path)})
        served = [e for e in emulator.admin.media_requests() if e["status"] == 200]
    assert result.returncode == 0 and not result.errors, result.describe()
    assert served and [m for m in result.messages if m.get("type") == "DEBUG"]
    assert not MEDIA_TOKEN.search(result.stdout + result.stderr)
