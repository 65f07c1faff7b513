"""The real connector adds attachment text on Cloud, the gateway (OAuth 2.0) and Data Center; one bad file never stops it.

Each profile gets its own emulator (a corrupt attachment is added, which the shared ones must not carry).
Files are the emulator's real ones (confluence_emulator/files.py): their words are checked in `text`.
"""

import pytest

from confluence_emulator import Emulator
from integration_tests.emulator_configs import connector_config
from integration_tests.reading import read_streams, records_by_stream

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# extension -> (kind, words the emulator wrote into every such file)
EXPECTED = {
    "pdf": ("pdf", ["Quarterly report: revenue grew by 12 percent.", "This text layer is extractable."]),
    "docx": ("docx", ["Emulator Word document", "onboarding checklist", "owner | team-a"]),
    "csv": ("csv", ["id,name,value", "3,\"gamma, delta\",30"]),
    "md": ("markdown", ["* item one", "print('hello')"]),
    "txt": ("text", ["This attachment is plain text.", "quarterly budget"]),
}
CASES = [("cloud", "api_token", 41), ("gateway", "oauth2", 42), ("data_center", "personal_access_token", 43)]


def request_log(emulator):
    log = emulator.admin.requests()
    return log["requests"] if isinstance(log, dict) else log


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def case(request):
    profile, auth_type, seed = request.param
    with Emulator(profile=profile, seed=seed, pages=60) as emulator:
        page = next(c for c in sorted(emulator.site.content.values(), key=lambda c: str(c.id))
                    if c.type == "page" and c.status == "current" and c.space_key != "HR")
        emulator.admin.add_attachment(page.id, "broken.docx", DOCX, b"not a zip")
        yield emulator, auth_type, page.id


def read_attachments(config):
    output = read_streams(config, ["attachments"])
    assert not output.errors, [e.trace.error.message for e in output.errors]
    return records_by_stream(output)["attachments"]


def test_text_of_every_attachment(case):
    emulator, auth_type, broken_container = case
    baseline = read_attachments(connector_config(emulator.info, auth_type))
    assert baseline and all("text" not in r and "textExtraction" not in r for r in baseline)

    emulator.admin.reset_requests()
    records = read_attachments(connector_config(emulator.info, auth_type, extract_attachment_text=True))
    log = request_log(emulator)

    # every record arrives, the broken one included
    assert sorted(r["id"] for r in records) == sorted(r["id"] for r in baseline)
    broken = [r for r in records if r["fileName"] == "broken.docx"]
    assert len(broken) == 1 and broken[0]["containerId"] == str(broken_container)
    assert broken[0].get("text") is None  # null fields are left out of emitted records
    assert broken[0]["textExtraction"]["status"] == "failed" and broken[0]["textExtraction"]["kind"] == "docx"
    assert "could not read file" in broken[0]["textExtraction"]["reason"]

    seen = set()
    for record in records:
        if record is broken[0]:
            continue
        extension = record["fileName"].rsplit(".", 1)[-1]
        outcome = record["textExtraction"]
        if extension == "png":
            assert outcome["status"] == "unsupported" and record.get("text") is None, record
            continue
        kind, words = EXPECTED[extension]
        assert outcome == {"status": "extracted", "reason": None, "truncated": False, "kind": kind}, (record["fileName"], outcome)
        for word in words:
            assert word in record["text"], (record["fileName"], word, record["text"])
        seen.add(extension)
    assert seen == set(EXPECTED)

    downloads = [entry for entry in log if entry["path"].endswith("/download")]
    # one REST download per supported file, none for images; never the web path from the body
    assert len(downloads) == sum(1 for r in records if not r["fileName"].endswith(".png"))
    assert all("/child/attachment/" in entry["path"] for entry in downloads)
    assert not [entry for entry in log if "/download/attachments/" in entry["path"]]
    if emulator.info["profile"] == "gateway":
        assert all(entry["path"].startswith("/ex/confluence/") and entry["auth"] == "Bearer" for entry in downloads)


def test_size_cap_means_no_download(case):
    emulator, auth_type, _ = case
    emulator.admin.reset_requests()
    records = read_attachments(connector_config(emulator.info, auth_type, extract_attachment_text=True, attachment_max_bytes=1))
    downloads = [entry for entry in request_log(emulator) if entry["path"].endswith("/download")]
    assert records and not downloads
    for record in records:
        expected = "unsupported" if record["fileName"].endswith(".png") else "too_large"
        assert record["textExtraction"]["status"] == expected, record
