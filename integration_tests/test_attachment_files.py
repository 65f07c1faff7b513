"""File-transfer mode: the `attachment_files` stream hands every attachment's bytes to the platform (CDK file_uploader)."""

from pathlib import Path

import pytest

from confluence_emulator import Emulator
from integration_tests.emulator_configs import connector_config
from integration_tests.reading import read_streams

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def request_log(emulator):
    log = emulator.admin.requests()
    return log["requests"] if isinstance(log, dict) else log


@pytest.mark.parametrize("profile, auth_type", [("cloud", "api_token"), ("gateway", "oauth2"), ("data_center", "password")])
def test_files_are_staged_with_a_file_reference(profile, auth_type, tmp_path, monkeypatch):
    from airbyte_cdk.sources.declarative.retrievers.file_uploader import default_file_uploader

    monkeypatch.setattr(default_file_uploader, "get_files_directory", lambda: str(tmp_path))
    with Emulator(profile=profile, seed=51, pages=40) as emulator:
        page = next(c for c in sorted(emulator.site.content.values(), key=lambda c: str(c.id))
                    if c.type == "page" and c.status == "current" and c.space_key != "HR")
        emulator.admin.add_attachment(page.id, "broken.docx", DOCX, b"not a zip")
        emulator.admin.reset_requests()
        output = read_streams(connector_config(emulator.info, auth_type), ["attachment_files"])
        assert not output.errors, [e.trace.error.message for e in output.errors]
        log = request_log(emulator)
        blobs = {c.id: c.blob for c in emulator.site.content.values() if c.type == "attachment"}

    messages = [m.record for m in output.records]
    assert len(messages) > 3
    for message in messages:
        reference = message.file_reference
        assert reference is not None, message.data["id"]
        data = message.data
        assert reference.source_file_relative_path == "attachment_files/%s/%s/%s-%s" % (data["spaceKey"], data["containerId"], data["id"], data["fileName"])
        staged = Path(reference.staging_file_url)
        assert staged.is_relative_to(tmp_path) and staged.read_bytes() == blobs[data["id"]]
        assert reference.file_size_bytes == len(blobs[data["id"]])
    assert any(m.data["fileName"] == "broken.docx" for m in messages)
    downloads = [e for e in log if e["path"].endswith("/download")]
    assert len(downloads) == len(messages) and all("/child/attachment/" in e["path"] for e in downloads)
