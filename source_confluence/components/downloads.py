"""Attachment downloads: Confluence's credentials go to Confluence only, never to Cloud's media host.

Confluence Cloud answers a download (``content/{id}/child/attachment/{attId}/download``, also through the
API gateway) with a 302 to ``api.media.atlassian.com/file/{fileId}/binary?token=…``; the media host trusts
that short-lived token and needs no credentials. Data Center sends the bytes itself.

Why Python: an ``HttpRequester`` lets ``requests`` follow redirects inside the CDK's ``HttpClient``. The
CDK puts the authenticator on the session (``session.auth``), so the Authorization header is set on the
first request and a redirect keeps it unless ``requests`` decides to strip it (it does when the host,
scheme or port changes, but a ``.netrc`` entry for the new host is added back, and the session's cookie
jar is sent to any host its cookies match, e.g. a ``.atlassian.com`` cookie to ``api.media.atlassian.com``).
Rather than rely on that, ``AttachmentDownloader`` follows redirects itself:

* the request to Confluence goes through an ``HttpClient`` with the configured authenticator, retries and
  error handler, with ``allow_redirects=False`` and a session that keeps no cookies;
* a redirect to the same origin (scheme, host, port) stays on that client; the first one elsewhere, and
  every hop after it, goes through a second ``HttpClient`` whose session has no authenticator, keeps no
  cookies and strips any ``Authorization``/``Cookie`` header before sending (its own ``media_error_handler``);
* a media host that refuses its token (401/403: it expired between the redirect and the request) gets one
  more try with a fresh redirect from Confluence.

``DownloadableAttachments`` makes a failed file cost only that file for the ``attachment_files`` stream:
the CDK's ``DefaultFileUploader`` writes whatever body an IGNOREd response has and gives the record a file
reference to it (a bogus file), and an exception in it fails the whole partition. So the record filter
downloads the file first, drops the record with a warning when that fails, and hands the response to the
uploader's requester (``PREFETCHED``), which then sends nothing.
"""

from __future__ import annotations

import logging
import re
import threading
from contextlib import nullcontext
from dataclasses import InitVar, dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Union
from urllib.parse import quote, urljoin, urlsplit

import requests
from airbyte_cdk.sources.declarative.extractors.record_filter import RecordFilter
from airbyte_cdk.sources.declarative.requesters.error_handlers import ErrorHandler
from airbyte_cdk.sources.declarative.requesters.http_requester import HttpRequester
from airbyte_cdk.sources.streams.call_rate import APIBudget, LimiterSession
from airbyte_cdk.sources.streams.http import HttpClient
from airbyte_cdk.sources.types import StreamSlice, StreamState
from requests.auth import AuthBase

from source_confluence.components.slicing import InSliceWindow
from source_confluence.sync import in_flight

LOGGER = logging.getLogger("airbyte")

MAX_REDIRECTS = 5
# A media URL's query holds its short-lived token: never put it in a message.
_URL_SECRETS = re.compile(r"(?i)\b(token|signature|sig|jwt)=[^&\s'\"]+")


def redact(text: str) -> str:
    """``text`` with query-string tokens replaced by ``***``."""
    return _URL_SECRETS.sub(lambda match: match.group(1) + "=***", str(text))


def origin(url: str) -> tuple:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())


# Confluence ids are numeric (pages, blog posts) or "att" + digits (attachments). Anything else is not
# put into a path, so a record can never steer the request elsewhere.
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class DownloadRefused(Exception):
    """The record cannot name a download (missing or odd ids)."""


def download_path(record: Mapping[str, Any]) -> str:
    """``content/{containerId}/child/attachment/{id}/download``, relative to the v1 ``/rest/api`` base."""
    container_id, attachment_id = record.get("containerId"), record.get("id")
    for name, value in (("containerId", container_id), ("id", attachment_id)):
        if value is None or not _SAFE_ID.match(str(value)):
            raise DownloadRefused("the record has no usable %s (%r)" % (name, value))
    return "content/%s/child/attachment/%s/download" % (quote(str(container_id), safe=""), quote(str(attachment_id), safe=""))


class DownloadFailed(Exception):
    """A download that could not be completed (too many redirects, or no answer after retries); its message has no URL secrets."""


class NoCredentials(AuthBase):
    """Session auth for the media host: removes any Authorization or Cookie header before a request leaves.

    Setting it also keeps ``requests`` from adding ``.netrc`` credentials, which it does only for a
    session without auth.
    """

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        for header in ("Authorization", "Cookie", "Proxy-Authorization"):
            request.headers.pop(header, None)
        return request


def cookieless_session(auth: Optional[AuthBase] = None, api_budget: Optional[APIBudget] = None) -> requests.Session:
    """A session whose cookie jar accepts nothing, so no cookie from one host can be sent to another.

    A CDK ``LimiterSession``, as the CDK's own clients use: each request (each hop of a redirect) is held to
    ``api_budget``'s call rate and holds a slot of the sync's requests in flight (``sync/in_flight.py``) while
    it is sent, and gives it back while the client waits to retry."""
    session = LimiterSession(api_budget=api_budget or APIBudget(policies=[]))
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    if auth is not None:
        session.auth = auth
    return session


class PrefetchedDownloads:
    """Responses downloaded by ``DownloadableAttachments``, waiting for the uploader's requester, by URL.

    The record filter and the uploader run one after the other for the same record in the same thread
    (the record selector filters, then uploads, record by record), so this holds at most one response per
    partition being read.
    """

    def __init__(self) -> None:
        self._responses: Dict[str, requests.Response] = {}
        self._lock = threading.Lock()

    def put(self, url: str, response: requests.Response) -> None:
        with self._lock:
            self._responses[url] = response

    def take(self, url: str) -> Optional[requests.Response]:
        with self._lock:
            return self._responses.pop(url, None)


PREFETCHED = PrefetchedDownloads()


@dataclass
class AttachmentDownloader(HttpRequester):
    """An ``HttpRequester`` for attachment bytes that never sends Confluence's credentials off Confluence's origin.

    Declared like an ``HttpRequester`` (``url_base``, ``path``, ``authenticator``, ``error_handler``, timeouts),
    plus ``media_error_handler`` for the hops on other hosts. ``send_request`` returns the final response,
    which may be an IGNOREd 4xx; see the module docstring.
    """

    media_error_handler: Optional[ErrorHandler] = None

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        # Two clients of its own (the inherited one follows redirects and is not used): one to Confluence,
        # held to the manifest's call rate, and one with no credentials for the media host.
        timeout = (self.connect_timeout_in_seconds, self.read_timeout_in_seconds)
        # Not at debug level: the CDK's debug lines hold the redirect's Location and the media URL, token included.
        logger = logging.getLogger(self.logger.name + ".downloads")
        logger.setLevel(max(logging.INFO, logger.getEffectiveLevel()))
        self.confluence_client = HttpClient(
            name=self.name,
            logger=logger,
            error_handler=self.error_handler,
            api_budget=self.api_budget,
            authenticator=self.get_authenticator(),
            backoff_strategy=getattr(self.error_handler, "backoff_strategies", None),
            session=cookieless_session(api_budget=self.api_budget),
            message_repository=self.message_repository,
            request_timeout=timeout,
        )
        self.media_client = HttpClient(
            name=self.name + "_media_host",
            logger=logger,
            error_handler=self.media_error_handler,
            backoff_strategy=getattr(self.media_error_handler, "backoff_strategies", None),
            session=cookieless_session(auth=NoCredentials()),
            message_repository=self.message_repository,
            request_timeout=timeout,
        )

    def download_url(self, path: Optional[str], stream_state: Optional[StreamState], stream_slice: Optional[StreamSlice],
                     next_page_token: Optional[Mapping[str, Any]]) -> str:
        base = self.get_url_base(stream_state=stream_state, stream_slice=stream_slice, next_page_token=next_page_token)
        if path is None:
            path = self.get_path(stream_state=stream_state, stream_slice=stream_slice, next_page_token=next_page_token)
        return urljoin(base if base.endswith("/") else base + "/", path.lstrip("/"))

    def send_request(
        self,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
        path: Optional[str] = None,
        request_headers: Optional[Mapping[str, Any]] = None,
        request_params: Optional[Mapping[str, Any]] = None,
        request_body_data: Optional[Union[Mapping[str, Any], str]] = None,
        request_body_json: Optional[Mapping[str, Any]] = None,
        log_formatter: Optional[Callable[[requests.Response], Any]] = None,
    ) -> Optional[requests.Response]:
        url = self.download_url(path, stream_state, stream_slice, next_page_token)
        prefetched = PREFETCHED.take(url)
        if prefetched is not None:
            return prefetched
        return self.download(url)

    def download(self, url: str) -> requests.Response:
        response, from_media_host = self._follow(url)
        if from_media_host and response.status_code in (401, 403):
            # The token expired between Confluence's redirect and this request: ask Confluence for a new one, once.
            response.close()
            response, from_media_host = self._follow(url)
        return response

    def _follow(self, url: str) -> tuple:
        confluence = origin(url)
        response = self._get(self.confluence_client, url)
        left_confluence = False
        for _ in range(MAX_REDIRECTS):
            if not response.is_redirect:
                return response, left_confluence
            target = urljoin(response.url or url, response.headers["Location"])
            response.close()
            left_confluence = left_confluence or origin(target) != confluence
            response = self._get(self.media_client if left_confluence else self.confluence_client, target)
        response.close()
        raise DownloadFailed("more than %d redirects" % MAX_REDIRECTS)

    def _get(self, client: HttpClient, url: str) -> requests.Response:
        try:
            _, response = client.send_request(
                http_method="GET",
                url=url,
                request_kwargs={"stream": self.stream_response, "allow_redirects": False},
                headers={"Accept": "*/*"},
            )
        except Exception as error:
            if client is self.confluence_client:
                raise
            # The media URL carries its token: say what failed without the URL.
            raise DownloadFailed("the media host did not answer (%s)" % redact(getattr(error, "message", None) or type(error).__name__)) from None
        return response


@dataclass
class DownloadableAttachments(InSliceWindow):
    """``record_filter`` for ``attachment_files``: keeps a record only if its file could be downloaded.

    After the slice-window test (``InSliceWindow``), downloads the record's file with ``requester`` (an
    ``AttachmentDownloader``). A 4xx (403/404/410: deleted or no longer readable), a failed retry or a body
    cut short drops the record with a warning: that file is missed, the sync goes on. A downloaded response
    is handed to the ``file_uploader``'s requester through ``PREFETCHED``, so the file is fetched once.
    """

    requester: Optional[AttachmentDownloader] = None

    def filter_records(
        self,
        records: Iterable[Mapping[str, Any]],
        stream_state: Any,
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Mapping[str, Any]]:
        for record in super().filter_records(records, stream_state, stream_slice, next_page_token):
            # Filters see the record as Confluence sent it (before NormaliseAttachment): the page is `container`.
            container = record.get("containerId") or (record.get("container") or {}).get("id")
            name = record.get("fileName") or record.get("title")
            try:
                path = download_path({"id": record.get("id"), "containerId": container})
                url = self.requester.download_url(path, None, None, None)  # type: ignore[union-attr]
                response = self.requester.download(url)  # type: ignore[union-attr]
                if response.status_code >= 400:
                    response.close()
                    raise DownloadFailed("HTTP %s" % response.status_code)
                # Read it now: a body cut short costs this file, not the upload. A streamed body is still on its
                # way: its request is in flight until it is in. Otherwise the send read it, in its own slot.
                streamed = self.requester.stream_response  # type: ignore[union-attr]
                with in_flight.slot() if streamed else nullcontext():
                    response.content
            except Exception as error:  # a 4xx, retries exhausted, a broken body: this file only
                LOGGER.warning("Confluence: attachment %s (%s) skipped: its file could not be downloaded: %s",
                               record.get("id"), name, redact(getattr(error, "message", None) or error))
                continue
            PREFETCHED.put(url, response)
            yield record
