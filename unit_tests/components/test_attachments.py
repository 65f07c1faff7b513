"""AttachmentText: every outcome, with the requester the manifest declares, against requests_mock and the emulator."""

import io
import json
from pathlib import Path
from typing import Any, Dict, Mapping

import pytest
import requests
import yaml
from airbyte_cdk.sources.declarative.models.declarative_component_schema import CustomTransformation as CustomTransformationModel
from airbyte_cdk.sources.declarative.parsers.manifest_component_transformer import ManifestComponentTransformer
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory

from confluence_emulator import Emulator, files
from source_confluence.components.attachments import (
    AttachmentDownloadTarget,
    AttachmentText,
    DownloadRefused,
    download_path,
    read_capped,
)
from source_confluence.api.endpoints import api_roots
from source_confluence.components.records import normalise_attachment

MANIFEST = Path(__file__).resolve().parents[2] / "source_confluence" / "manifest.yaml"
SITE = "https://acme.atlassian.net"
API = SITE + "/wiki/rest/api"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# The requester the manifest gives AttachmentText: an AttachmentDownloader (components/downloads.py).
DOWNLOAD_REQUESTER = {"$ref": "#/definitions/attachment_download_requester"}


def build(config: Mapping[str, Any]) -> AttachmentText:
    manifest = yaml.safe_load(MANIFEST.read_text())
    manifest["definitions"]["__attachment_text"] = {
        "type": "CustomTransformation",
        "class_name": "source_confluence.components.attachments.AttachmentText",
        "requester": DOWNLOAD_REQUESTER,
    }
    resolved = ManifestReferenceResolver().preprocess_manifest(manifest)
    component = ManifestComponentTransformer().propagate_types_and_parameters("", resolved["definitions"]["__attachment_text"], {})
    return ModelToComponentFactory().create_component(CustomTransformationModel, component, dict(config))


def cloud_config(**extra: Any) -> Dict[str, Any]:
    config = {"base_url": SITE, "deployment": "cloud", "credentials": {"auth_type": "api_token", "email": "a@b.c", "api_token": "t"},
              "extract_attachment_text": True}
    config.update(extra)
    return with_api_roots(config)


def with_api_roots(config: Dict[str, Any]) -> Dict[str, Any]:
    """What NormaliseConfig adds that the component's requester reads: the API roots."""
    return dict(config, _derived=dict(api_roots(config)))


def record(file_name: str, media_type: str, size: Any, att_id: str = "att42", container: str = "1001") -> Dict[str, Any]:
    return {"id": att_id, "containerId": container, "fileName": file_name, "mediaType": media_type, "fileSize": size}


def url(att_id: str = "att42", container: str = "1001") -> str:
    return "%s/content/%s/child/attachment/%s/download" % (API, container, att_id)


class CountingBody(io.BytesIO):
    """A response body that remembers how many bytes were read from it (it is closed with the response)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, *args: Any) -> bytes:
        chunk = super().read(*args)
        self.bytes_read += len(chunk)
        return chunk

    def read1(self, *args: Any) -> bytes:
        chunk = super().read1(*args)
        self.bytes_read += len(chunk)
        return chunk

    def readinto(self, buffer: Any) -> int:
        n = super().readinto(buffer)
        self.bytes_read += n
        return n


def run(transformation: AttachmentText, rec: Dict[str, Any]) -> Dict[str, Any]:
    transformation.transform(rec)
    return rec


# ------------------------------------------------------------------------------------------ requests_mock
class TestOutcomes:
    @pytest.mark.parametrize(
        "name, media_type, data, kind, words",
        [
            ("report.pdf", "application/pdf", files.pdf_file(), "pdf", ["revenue grew by 12 percent"]),
            ("guide.docx", DOCX, files.docx_file(), "docx", ["onboarding checklist", "owner | team-a"]),
            ("data.csv", "text/csv", files.csv_file("Roadmap"), "csv", ["2,beta,20", "4,Roadmap,40"]),
            ("notes.md", "binary/octet-stream", files.md_file("Runbook"), "markdown", ["# Runbook", "* item two"]),
        ],
    )
    def test_extracted(self, requests_mock, name, media_type, data, kind, words):
        requests_mock.get(url(), content=data, headers={"Content-Type": media_type})
        rec = run(build(cloud_config()), record(name, media_type, len(data)))
        assert rec["textExtraction"] == {"status": "extracted", "reason": None, "truncated": False, "kind": kind}
        for word in words:
            assert word in rec["text"]
        assert requests_mock.call_count == 1
        sent = requests_mock.last_request
        assert sent.headers["Authorization"].startswith("Basic ") and sent.headers["Accept"] == "*/*"

    def test_truncated_at_max_chars(self, requests_mock):
        data = files.text_file("Long") * 50
        requests_mock.get(url(), content=data)
        rec = run(build(cloud_config(attachment_max_chars=30)), record("a.txt", "text/plain", len(data)))
        assert rec["textExtraction"]["status"] == "extracted" and rec["textExtraction"]["truncated"] is True
        assert len(rec["text"]) == 30

    def test_too_large_by_file_size_makes_no_request(self, requests_mock):
        rec = run(build(cloud_config(attachment_max_bytes=1000)), record("big.pdf", "application/pdf", 5000))
        assert rec["text"] is None
        assert rec["textExtraction"]["status"] == "too_large" and rec["textExtraction"]["kind"] == "pdf"
        assert "5000 bytes" in rec["textExtraction"]["reason"] and "not downloaded" in rec["textExtraction"]["reason"]
        assert requests_mock.call_count == 0

    def test_default_cap_is_20_mb(self, requests_mock):
        rec = run(build(cloud_config()), record("big.pdf", "application/pdf", 20_000_001))
        assert rec["textExtraction"]["status"] == "too_large" and requests_mock.call_count == 0

    def test_too_large_by_content_length_reads_no_body(self, requests_mock):
        body = CountingBody(b"x" * 5000)
        requests_mock.get(url(), body=body, headers={"Content-Length": "5000"})
        rec = run(build(cloud_config(attachment_max_bytes=1000)), record("a.txt", "text/plain", None))
        assert rec["textExtraction"]["status"] == "too_large"
        assert "Content-Length" in rec["textExtraction"]["reason"]
        assert body.bytes_read == 0  # not a byte of the body was read

    def test_too_large_while_streaming_unknown_size(self, requests_mock):
        cap = 200_000
        body = CountingBody(b"a" * (cap * 10))  # no Content-Length: the size is only known by reading
        requests_mock.get(url(), body=body)
        rec = run(build(cloud_config(attachment_max_bytes=cap)), record("huge.txt", "text/plain", None))
        assert rec["text"] is None and rec["textExtraction"]["status"] == "too_large"
        assert "stopped at the cap" in rec["textExtraction"]["reason"]
        assert requests_mock.call_count == 1
        assert 0 < body.bytes_read <= cap + 64 * 1024  # stopped one chunk past the cap, not at the end

    def test_streams_the_response(self, requests_mock):
        requests_mock.get(url(), content=b"hello")
        transformation = build(cloud_config())
        assert transformation.requester.stream_response is True
        assert run(transformation, record("a.txt", "text/plain", 5))["text"] == "hello"

    def test_the_streamed_body_is_read_within_the_slot_of_its_request(self, requests_mock):
        # The requester returns once the headers are in; the body follows, still one request in flight.
        from source_confluence.sync.in_flight import InFlightBudget, reading

        budget, seen = InFlightBudget(1), []

        class Body(CountingBody):
            def read(self, *args: Any) -> bytes:
                seen.append(budget.in_flight)
                return super().read(*args)

        requests_mock.get(url(), body=Body(b"hello"))
        with reading(budget):
            assert run(build(cloud_config()), record("a.txt", "text/plain", 5))["text"] == "hello"
        assert seen and set(seen) == {1}
        assert budget.in_flight == 0

    def test_corrupt_file_fails_with_reason(self, requests_mock):
        requests_mock.get(url(), content=b"not a zip")
        rec = run(build(cloud_config()), record("broken.docx", DOCX, 9))
        assert rec["text"] is None
        assert rec["textExtraction"]["status"] == "failed" and rec["textExtraction"]["kind"] == "docx"
        assert "could not read file" in rec["textExtraction"]["reason"]

    @pytest.mark.parametrize("status", [404, 403, 410])
    def test_http_error_on_download_is_recorded(self, requests_mock, status):
        requests_mock.get(url(), status_code=status, json={"statusCode": status, "message": "No attachment found"})
        rec = run(build(cloud_config()), record("gone.pdf", "application/pdf", 100))
        assert rec["text"] is None
        assert rec["textExtraction"] == {"status": "failed", "reason": "download failed: HTTP %d" % status, "truncated": False,
                                         "kind": "pdf"}
        assert requests_mock.call_count == 1  # not retried

    def test_exhausted_retries_are_recorded_not_raised(self, requests_mock):
        requests_mock.get(url(), status_code=500, json={"message": "boom"})
        transformation = build(cloud_config())
        transformation.requester.error_handler.max_retries = 0
        rec = run(transformation, record("a.pdf", "application/pdf", 100))
        assert rec["textExtraction"]["status"] == "failed" and rec["textExtraction"]["reason"].startswith("download failed:")

    def test_unsupported_image_is_not_downloaded(self, requests_mock):
        rec = run(build(cloud_config()), record("diagram.png", "image/png", 120))
        assert rec["text"] is None and rec["textExtraction"]["status"] == "unsupported"
        assert "OCR is not enabled" in rec["textExtraction"]["reason"]
        assert requests_mock.call_count == 0

    def test_disabled_adds_nothing_and_requests_nothing(self, requests_mock):
        rec = record("a.pdf", "application/pdf", 100)
        run(build(cloud_config(extract_attachment_text=False)), rec)
        run(build({k: v for k, v in cloud_config().items() if k != "extract_attachment_text"}), rec)
        assert "text" not in rec and "textExtraction" not in rec and requests_mock.call_count == 0

    def test_odd_ids_are_never_put_in_a_path(self, requests_mock):
        rec = run(build(cloud_config()), record("a.pdf", "application/pdf", 100, container="../../evil"))
        assert rec["textExtraction"]["status"] == "failed" and "containerId" in rec["textExtraction"]["reason"]
        rec = run(build(cloud_config()), record("a.pdf", "application/pdf", 100, att_id=None))
        assert rec["textExtraction"]["status"] == "failed"
        assert requests_mock.call_count == 0

    def test_data_center_and_gateway_bases(self, requests_mock):
        dc = with_api_roots({"base_url": "https://wiki.example.com/confluence", "deployment": "data_center", "extract_attachment_text": True,
                             "credentials": {"auth_type": "personal_access_token", "personal_access_token": "p"}})
        requests_mock.get("https://wiki.example.com/confluence/rest/api/content/7/child/attachment/att8/download", content=b"dc text")
        assert run(build(dc), record("a.txt", "text/plain", 7, "att8", "7"))["text"] == "dc text"
        assert requests_mock.last_request.headers["Authorization"] == "Bearer p"


def test_download_path_and_target_extractor():
    assert download_path({"id": "att5", "containerId": "12"}) == "content/12/child/attachment/att5/download"
    with pytest.raises(DownloadRefused):
        download_path({"id": "att5", "containerId": "https://evil.example/x"})
    extractor = AttachmentDownloadTarget(config={}, parameters={})
    response = requests.Response()
    response._content = json.dumps({"id": "att5", "containerId": "12", "downloadUrl": "https://elsewhere/x"}).encode()
    assert list(extractor.extract_records(response)) == ["content/12/child/attachment/att5/download"]


def test_read_capped_exact_cap():
    class Fake:
        def iter_content(self, chunk_size):
            yield b"12345"
            yield b"67890"

    assert read_capped(Fake(), 10) == b"1234567890"
    assert read_capped(Fake(), 9) is None


# ------------------------------------------------------------------------------------------ the emulator
@pytest.fixture(scope="module")
def emulator():
    with Emulator(profile="cloud", seed=21, pages=40) as emu:
        yield emu


def emulator_attachments(emu) -> Dict[str, Dict[str, Any]]:
    """Every attachment as the connector normalises it, by file extension (first one of each)."""
    info = emu.info
    creds = info["credentials"]["api_token"]
    body = requests.get(info["base_url"] + "/wiki/rest/api/content/search", auth=(creds["email"], creds["api_token"]), timeout=30,
                        params={"cql": "type = attachment", "expand": "version,history,container,space", "limit": 200}).json()
    out: Dict[str, Dict[str, Any]] = {}
    for raw in body["results"]:
        rec = normalise_attachment(raw, info["base_url"] + "/wiki")
        out.setdefault(rec["fileName"].rsplit(".", 1)[-1], rec)
    return out


def emulator_config(emu, **extra):
    return with_api_roots(dict({"base_url": emu.info["base_url"], "deployment": "cloud", "credentials": dict(emu.info["credentials"]["api_token"]),
                                "extract_attachment_text": True}, **extra))


class TestAgainstEmulator:
    def test_real_files(self, emulator):
        attachments = emulator_attachments(emulator)
        transformation = build(emulator_config(emulator))
        expected = {"pdf": ("pdf", "revenue grew by 12 percent"), "docx": ("docx", "onboarding checklist"),
                    "csv": ("csv", "1,alpha,10"), "md": ("markdown", "* item one"), "txt": ("text", "quarterly budget")}
        for ext, (kind, words) in expected.items():
            rec = run(transformation, dict(attachments[ext]))
            assert rec["textExtraction"]["status"] == "extracted", (ext, rec["textExtraction"])
            assert rec["textExtraction"]["kind"] == kind and words in rec["text"]
        emulator.admin.reset_requests()
        png = run(transformation, dict(attachments["png"]))
        assert png["textExtraction"]["status"] == "unsupported"
        assert emulator.admin.stats()["total"] == 0

    def test_size_cap_applies_before_the_download(self, emulator):
        pdf = emulator_attachments(emulator)["pdf"]
        emulator.admin.reset_requests()
        rec = run(build(emulator_config(emulator, attachment_max_bytes=pdf["fileSize"] - 1)), dict(pdf))
        assert rec["textExtraction"]["status"] == "too_large"
        assert emulator.admin.stats()["total"] == 0
        unknown = run(build(emulator_config(emulator, attachment_max_bytes=pdf["fileSize"] - 1)), dict(pdf, fileSize=None))
        assert unknown["textExtraction"]["status"] == "too_large"

    def test_corrupt_and_missing(self, emulator):
        page = next(c for c in emulator.site.content.values() if c.type == "page" and c.status == "current")
        added = emulator.admin.add_attachment(page.id, "broken.docx", DOCX, b"not a zip")
        att_id = added.get("id") if isinstance(added, dict) else None
        transformation = build(emulator_config(emulator))
        broken = next(a for a in emulator.site.content.values() if a.type == "attachment" and a.filename == "broken.docx")
        rec = run(transformation, {"id": att_id or broken.id, "containerId": page.id, "fileName": "broken.docx", "mediaType": DOCX,
                                   "fileSize": 9})
        assert rec["textExtraction"]["status"] == "failed" and rec["textExtraction"]["kind"] == "docx"
        missing = run(transformation, {"id": "att999999", "containerId": page.id, "fileName": "x.pdf", "mediaType": "application/pdf",
                                       "fileSize": 10})
        assert missing["textExtraction"]["reason"] == "download failed: HTTP 404"
