"""What a 404 means depends on what was asked: about one item, it costs that item, not the sync.

``ItemErrorHandler`` serves the requests made about one item a listing named (a page's versions, a
group's members, a space's permissions). Its manifest filters IGNORE 403/404/410: the item is skipped,
the listing's own record of it is kept. A 5xx that still fails after the retries is skipped too. Each
skip is counted in the sync's skip ledger (``SyncContext.skips``: stream -> reason -> count), and
``SourceConfluence.read`` turns the counts into one warning per stream at the end of the read
(``skip_warnings``).

Why Python: the CDK logs an IGNORE'd response at INFO, once per request, with its URL, and keeps no
count; a sync of 3,000 pages needs one line that says how many were skipped and why. And the CDK ends
the stream when a 5xx outlasts the retries; only the error handler sees the attempt that is the last.
"""

import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Union

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction

from source_confluence.components.backoff import ConfluenceErrorHandler
from source_confluence.sync.context import SyncContext

NOT_FOUND = "not_found"
FORBIDDEN = "forbidden"
GONE = "gone"
SERVER_ERROR = "server_error"

REASON_BY_STATUS = {404: NOT_FOUND, 403: FORBIDDEN, 410: GONE}
REASON_TEXT = {
    NOT_FOUND: "not found (HTTP 404: deleted or purged after the listing named it)",
    FORBIDDEN: "refused (HTTP 403: this account may not read it)",
    GONE: "gone (HTTP 410)",
    SERVER_ERROR: "failing with a server error (HTTP 5xx) after every retry",
}


@dataclass
class ItemErrorHandler(ConfluenceErrorHandler):
    """The shared error handler, for requests about one item: what its filters IGNORE, and a 5xx on the
    last allowed attempt, skip the item and are counted for the stream's warning."""

    # The stream whose items these requests read, and what one item is, for the warning.
    stream_name: str = ""
    item_name: str = "item"

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        # The CDK re-sends a failed request as it is: 5xx answers counted per method and URL (the response's
        # request is not always the very object that was sent, e.g. under requests-mock).
        self._server_errors: "OrderedDict[str, int]" = OrderedDict()
        self._lock = threading.Lock()

    def interpret_response(
        self, response_or_exception: Optional[Union[requests.Response, Exception]] = None
    ) -> ErrorResolution:
        resolution = super().interpret_response(response_or_exception)
        if not isinstance(response_or_exception, requests.Response):
            return resolution
        status = response_or_exception.status_code
        if resolution.response_action == ResponseAction.IGNORE:
            SyncContext.of(self.config).skips.add(self.stream_name, REASON_BY_STATUS.get(status, SERVER_ERROR if status >= 500 else "HTTP %s" % status),
                      self.item_name)
            return resolution
        key = "%s %s" % (getattr(response_or_exception.request, "method", ""), getattr(response_or_exception.request, "url", ""))
        if status < 500 or resolution.response_action not in (ResponseAction.RETRY, ResponseAction.RATE_LIMITED):
            self._server_errors.pop(key, None)
            return resolution
        with self._lock:
            failures = self._server_errors.pop(key, 0) + 1
            self._server_errors[key] = failures
            while len(self._server_errors) > 1000:  # requests given up by other means are forgotten, oldest first
                self._server_errors.popitem(last=False)
        if failures > (self.max_retries or 0):  # the CDK would give up on this attempt and end the stream
            self._server_errors.pop(key, None)
            SyncContext.of(self.config).skips.add(self.stream_name, SERVER_ERROR, self.item_name)
            return ErrorResolution(
                response_action=ResponseAction.IGNORE,
                failure_type=FailureType.transient_error,
                error_message=f"Skipping one {self.item_name} of {self.stream_name}: Confluence still answered HTTP {status} after {failures - 1} retries.",
            )
        return resolution


def skip_warnings(
    skipped: Mapping[Any, int], records_by_stream: Mapping[str, int], data_center: bool, items: Optional[Mapping[str, str]] = None
) -> List[str]:
    """One warning per stream with skipped items: how many, and why (no URL, no id, no secret).

    ``skipped`` counts per (stream, reason); ``items`` says what one item of a stream is ("page")."""
    by_stream: dict = {}
    for (stream, reason), count in skipped.items():
        if count > 0:
            by_stream.setdefault(stream, Counter())[reason] += count
    lines = []
    for stream in sorted(by_stream):
        reasons = by_stream[stream]
        item = (items or {}).get(stream, "item")
        total = sum(reasons.values())
        if stream == "space_permissions" and data_center and set(reasons) == {NOT_FOUND} and not records_by_stream.get(stream):
            lines.append(
                "Skipped the space_permissions stream: this Confluence Data Center has no /rest/api/space/{key}/permissions "
                f"(it came with 9.1; all {total} spaces answered 404). Effective read access still comes from each "
                "space's permissions expand."
            )
            continue
        if not records_by_stream.get(stream) and set(reasons) & {FORBIDDEN, SERVER_ERROR} and set(reasons) <= {FORBIDDEN, SERVER_ERROR}:
            lines.append(
                f"Skipped the {stream} stream: Confluence refused every {item} ({_reasons(reasons)}); this account "
                "probably lacks the rights to read it (space permissions need space administrator rights)."
            )
            continue
        lines.append(
            f"Skipped {total} {item}{'s' if total != 1 else ''} of stream {stream}: {_reasons(reasons)}. "
            "The rest of the stream was read; the listing's own records of these items were kept."
        )
    return lines


def _reasons(reasons: Mapping[str, int]) -> str:
    return ", ".join(f"{count} {REASON_TEXT.get(reason, reason)}" for reason, count in sorted(reasons.items()))
