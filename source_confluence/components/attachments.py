"""Attachment files: their text for the ``attachments`` stream, and their REST download path.

``AttachmentText`` adds ``text`` and ``textExtraction`` to an attachment record (after NormaliseAttachment)
when the config says ``extract_attachment_text: true``; otherwise it does nothing and makes no request.

Why Python: the manifest can describe requests and records, but it cannot download a file with a byte
cap, parse a PDF or an Office document, or turn a per-file failure into a field of the record instead of
a failed sync. This transformation does that with the connector's ``AttachmentDownloader`` (same host,
auth and retries as every other request; Cloud's redirect to its media host is followed without the
credentials, see downloads.py) and ``source_confluence.text.extraction`` for the parsing.

Rules (PEERS.md pitfall 16, 21):

* The file is fetched from the v1 REST download path built from ``containerId`` and ``id``
  (``content/{containerId}/child/attachment/{id}/download``, relative to the requester's ``/rest/api``
  base), which answers on the Cloud site, through the API gateway and on Data Center. A URL taken from the
  response body (``downloadUrl``, ``_links.download``) is never requested.
* Unsupported kinds (images, legacy Office, ...) are decided from the media type and file name, and a
  file whose ``fileSize`` is over ``attachment_max_bytes`` is refused, both **before** any request.
* The body is streamed; a ``Content-Length`` over the cap stops before the body is read, and an unknown
  size stops reading as soon as the cap is passed. At most the cap plus one chunk is held.
* A corrupt file, a 403/404/410 on download, or a download that fails after the requester's retries is
  recorded in ``textExtraction`` (``status: failed`` and the reason) and the sync goes on.

``AttachmentDownloadTarget`` gives the same path to Airbyte's ``file_uploader`` (file-transfer mode),
whose ``download_target_extractor`` only sees the record and cannot interpolate it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import InitVar, dataclass, field
from typing import Any, Dict, Iterable, Mapping, MutableMapping, Optional

import requests
from airbyte_cdk.sources.declarative.extractors.record_extractor import RecordExtractor
from airbyte_cdk.sources.declarative.requesters.requester import Requester
from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.types import Config, StreamSlice, StreamState

from source_confluence.config_spec import spec_default
from source_confluence.components.downloads import DownloadRefused, download_path, redact
from source_confluence.sync import in_flight
from source_confluence.text.extraction import ExtractionResult, detect_kind, extract_text, should_download

LOGGER = logging.getLogger("airbyte")

DEFAULT_MAX_BYTES = spec_default("attachment_max_bytes")
DEFAULT_MAX_CHARS = spec_default("attachment_max_chars")
CHUNK_SIZE = 64 * 1024
_REASON_LIMIT = 200


def config_flag(config: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = config.get(key, default)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def config_int(config: Mapping[str, Any], key: str, default: int) -> int:
    value = config.get(key)
    try:
        number = int(value) if value is not None and value != "" else default
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def extraction_fields(result: ExtractionResult) -> Dict[str, Any]:
    """The record fields for one result: ``text`` and ``textExtraction``."""
    return {
        "text": result.text,
        "textExtraction": {"status": result.status, "reason": result.reason, "truncated": result.truncated, "kind": result.kind},
    }


def _short(message: str) -> str:
    message = " ".join(str(message).split())
    return message if len(message) <= _REASON_LIMIT else message[: _REASON_LIMIT - 1] + "…"


def _content_length(response: requests.Response) -> Optional[int]:
    value = response.headers.get("Content-Length")
    if value is None or not str(value).strip().isdigit():
        return None
    # A gzip-encoded body's Content-Length is the compressed size: it says nothing about the cap.
    if response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity"):
        return None
    return int(value)


def read_capped(response: requests.Response, max_bytes: int) -> Optional[bytes]:
    """The body, or None as soon as it passes ``max_bytes`` (the rest is never read)."""
    buffer = bytearray()
    for chunk in response.iter_content(chunk_size=CHUNK_SIZE):
        if not chunk:
            continue
        buffer += chunk
        if len(buffer) > max_bytes:
            return None
    return bytes(buffer)


@dataclass
class AttachmentText(RecordTransformation):
    """Adds ``text`` and ``textExtraction`` ``{status, reason, truncated, kind}`` to an attachment record.

    Does nothing unless ``config.extract_attachment_text`` is true. Config: ``attachment_max_bytes``
    (default 20 MB, checked against ``fileSize`` before the download and while streaming) and
    ``attachment_max_chars`` (default 100,000). ``requester`` is the v1 REST requester (``/rest/api``
    base); its error handler should IGNORE 403/404/410 so those come back as a response to record. See the
    module docstring for why this is Python.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    requester: Optional[Requester] = None
    enabled: bool = field(default=False, init=False)
    max_bytes: int = field(default=DEFAULT_MAX_BYTES, init=False)
    max_chars: int = field(default=DEFAULT_MAX_CHARS, init=False)

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self.enabled = config_flag(self.config, "extract_attachment_text")
        self.max_bytes = config_int(self.config, "attachment_max_bytes", DEFAULT_MAX_BYTES)
        self.max_chars = config_int(self.config, "attachment_max_chars", DEFAULT_MAX_CHARS)
        if self.enabled and self.requester is not None and hasattr(self.requester, "stream_response"):
            # Built from a manifest requester without a streaming decoder, an HttpRequester reads the whole
            # body before returning; this requester belongs to the transformation, so make it stream.
            self.requester.stream_response = True  # type: ignore[attr-defined]

    # ---- the decision, in order: what it is, how big it says it is, then the download
    def extract(self, record: Mapping[str, Any]) -> ExtractionResult:
        filename, media_type = record.get("fileName") or record.get("title"), record.get("mediaType")
        kind = detect_kind(filename, media_type)
        if kind is None:
            # Same result extract_text gives an unsupported file, without downloading it.
            return extract_text(b"", filename=filename, media_type=media_type, max_chars=self.max_chars, max_bytes=self.max_bytes)
        file_size = record.get("fileSize")
        too_large = should_download(file_size if isinstance(file_size, int) else None, self.max_bytes)
        if too_large is not None:
            return dataclasses.replace(too_large, kind=kind)
        try:
            path = download_path(record)
        except DownloadRefused as error:
            return ExtractionResult("failed", None, "not downloaded: %s" % error, kind=kind)
        if self.requester is None:
            return ExtractionResult("failed", None, "not downloaded: no requester configured", kind=kind)
        data = self._download(path, kind)
        if isinstance(data, ExtractionResult):
            return data
        return extract_text(data, filename=filename, media_type=media_type, max_chars=self.max_chars, max_bytes=self.max_bytes)

    def _download(self, path: str, kind: str) -> Any:
        # The body is streamed after the requester returns: the request is in flight until it is read, so
        # the send and the body share one slot (held, for this file, through the send's retries' waits).
        with in_flight.slot():
            return self._download_in_a_slot(path, kind)

    def _download_in_a_slot(self, path: str, kind: str) -> Any:
        try:
            # Headers (Accept: */*) come from the requester's declaration: passing them here would collide with it.
            response = self.requester.send_request(path=path)  # type: ignore[union-attr]
        except Exception as error:  # retries exhausted, or a FAIL filter: this file only
            return ExtractionResult("failed", None, "download failed: %s" % _short(_error_message(error)), kind=kind)
        if response is None:
            return ExtractionResult("failed", None, "download failed: no response", kind=kind)
        try:
            if response.status_code >= 400:
                return ExtractionResult("failed", None, "download failed: HTTP %s" % response.status_code, kind=kind)
            length = _content_length(response)
            if length is not None and length > self.max_bytes:
                return ExtractionResult(
                    "too_large", None,
                    "file is %d bytes (Content-Length), over the cap of %d bytes; not downloaded" % (length, self.max_bytes),
                    kind=kind,
                )
            try:
                data = read_capped(response, self.max_bytes)
            except (requests.RequestException, OSError) as error:
                return ExtractionResult("failed", None, "download failed: %s" % _short(_error_message(error)), kind=kind)
            if data is None:
                return ExtractionResult(
                    "too_large", None,
                    "file is over the cap of %d bytes; download stopped at the cap" % self.max_bytes,
                    kind=kind,
                )
            return data
        finally:
            response.close()

    def transform(
        self,
        record: Dict[str, Any],
        config: Optional[Config] = None,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> None:
        if not self.enabled:
            return
        try:
            result = self.extract(record)
        except Exception as error:  # never let one file stop the sync
            result = ExtractionResult("failed", None, "could not extract: %s" % _short("%s: %s" % (type(error).__name__, error)),
                                      kind=detect_kind(record.get("fileName"), record.get("mediaType")))
        if result.status == "failed":
            LOGGER.warning("Confluence: no text for attachment %s (%s): %s", record.get("id"), record.get("fileName"), result.reason)
        record.update(extraction_fields(result))


def _error_message(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return redact("%s: %s" % (type(error).__name__, message))


@dataclass
class AttachmentDownloadTarget(RecordExtractor):
    """``download_target_extractor`` for the ``file_uploader``: the record's REST download path.

    The CDK applies this extractor to the record (serialised as a response body) and passes the single
    string it yields to the uploader's requester as ``download_target``; the requester's ``path`` is
    ``"{{ download_target }}"`` on the ``/rest/api`` base, so the file comes from the configured host.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        pass

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        record = json.loads(response.content)
        yield download_path(record)  # type: ignore[misc]  # the uploader expects a str
