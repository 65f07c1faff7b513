"""Ask for a listing's next page while the page just read is still being turned into records.

A content walk is a chain: page k's answer names page k+1 (Cloud pages by an opaque cursor). The CDK's
``SimpleRetriever`` asks for page k+1 only after every record of page k has been extracted (Markdown,
effective-access look-ups) and handed to the queue, so each walk idled for as long as it worked: in the
benchmark's request log, 250 ms between a page's answer and the next request, for 220 ms a request.

``ReadAheadRequester`` wraps the walk's ``HttpRequester`` (declared in the manifest as ``requester``):
when an answer carries a cursor link, it sends that request at once in the sync's look-up pool, inside
the ``num_workers`` budget of requests in flight (``sync/in_flight.py``); when the retriever then asks for
exactly that path, it gets the answer fetched ahead, waiting for it if it is still on its way. Every request
still goes through the wrapped requester (auth, error handler, retries), with the very arguments the retriever would pass: the
paginator's token as the path and no other parameter (the manifest guards the first request's with
``if not next_page_token``; ``RequestPath`` adds none).

A walk whose records get ``effective_read_access`` says so with ``queue_ancestors: true`` in its
``$parameters``: a page read ahead then queues its ancestors' restriction look-ups as soon as it arrives
(``access/transformation.py`` ``queue_listed_ancestors``), so they ride in a batch another page sends
meanwhile instead of holding up this page's records later.

While the sync's budget is mostly idle (an incremental sync: a walk or a few), a page read ahead has the
page after it read ahead too, up to ``MOST_PAGES_AHEAD`` pages before the retriever: such a walk then moves
at the network's pace instead of its records'. In an incremental sync of the real-shaped 20,000-page site the
walk's third page waited 0.2 s for the second page's records, which waited for the first effective-access
look-ups. Under load (a full sync) the budget is busy and a walk stays one page ahead, as before: a page read
further ahead would only hold a slot and memory another walk's page needs.

Only cursor links are read ahead. An offset link (Data Center's ``start``) is recomputed by the paginator
from what was returned (``pagination.py``), so the request it will send is not known in advance.

Why Python: airbyte-cdk 7.39 has no read-ahead; its ``SimpleRetriever`` computes the next token from the
page's records (``last_record``, ``last_page_size``). An upstream option to fetch the next page as soon as
the token is known from the response alone would remove this component.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import InitVar, dataclass, field
from typing import Any, Callable, List, Mapping, Optional, Tuple, Union
from urllib.parse import parse_qsl, urlsplit

import requests
from airbyte_cdk.sources.declarative.auth.declarative_authenticator import DeclarativeAuthenticator
from airbyte_cdk.sources.declarative.requesters.requester import HttpMethod, Requester
from airbyte_cdk.sources.types import Config, StreamSlice, StreamState

from source_confluence.access.transformation import queue_listed_ancestors
from source_confluence.sync.in_flight import in_flight_budget, workers
from source_confluence.sync.lookup_pool import lookup_pool
from source_confluence.components.pagination import next_link_token
from source_confluence.api.response_json import json_body
from source_confluence.sync.context import slice_key

LOGGER = logging.getLogger("airbyte")

# The most pages of one walk read ahead of its retriever, while the budget is mostly idle (module docstring).
MOST_PAGES_AHEAD = 4


def cursor_link_token(response: requests.Response) -> Optional[str]:
    """The paginator's token for the next page when the answer links to it by cursor, else None."""
    if response is None or not 200 <= response.status_code < 300 or response.request is None:
        return None
    try:
        body = json_body(response)
    except ValueError:
        return None
    if not isinstance(body, Mapping) or not body.get("results"):
        return None
    link = (body.get("_links") or {}).get("next")
    if not isinstance(link, str) or not any(key == "cursor" for key, _ in parse_qsl(urlsplit(link).query)):
        return None
    try:
        return next_link_token(body, response.request.url or "")
    except Exception:  # a link the paginator refuses: it will say so itself, nothing is read ahead
        return None


@dataclass
class ReadAheadRequester(Requester):
    """The wrapped ``requester``, plus the next page of a cursor-paged walk asked for ahead of time."""

    requester: Requester
    config: Config
    parameters: InitVar[Mapping[str, Any]]
    # walk -> the pages read ahead of its retriever, next first: (the paginator's token for it, its answer)
    _ahead: "OrderedDict[str, List[Tuple[str, Future]]]" = field(init=False, repr=False, default_factory=OrderedDict)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        # A walk whose next page is never asked for (a paginator that stopped early) leaves its answers
        # here: keep those of no more than two walks per worker, the oldest dropped first.
        self._keep = 2 * workers(self.config)
        self._queue_ancestors = bool((parameters or {}).get("queue_ancestors"))

    # ---- the Requester interface, delegated
    def get_authenticator(self) -> DeclarativeAuthenticator:
        return self.requester.get_authenticator()

    def get_url(self, **kwargs: Any) -> str:
        return self.requester.get_url(**kwargs)

    def get_url_base(self, **kwargs: Any) -> str:
        return self.requester.get_url_base(**kwargs)

    def get_path(self, **kwargs: Any) -> str:
        return self.requester.get_path(**kwargs)

    def get_method(self) -> HttpMethod:
        return self.requester.get_method()

    def get_request_params(self, **kwargs: Any) -> Mapping[str, Any]:
        return self.requester.get_request_params(**kwargs)

    def get_request_headers(self, **kwargs: Any) -> Mapping[str, Any]:
        return self.requester.get_request_headers(**kwargs)

    def get_request_body_data(self, **kwargs: Any) -> Union[Mapping[str, Any], str]:
        return self.requester.get_request_body_data(**kwargs)

    def get_request_body_json(self, **kwargs: Any) -> Mapping[str, Any]:
        return self.requester.get_request_body_json(**kwargs)

    # ---- sending, with the next page read ahead
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
        walk = slice_key(stream_slice)  # one walk's identity
        ahead = self._claim(walk, path)
        response = None
        if ahead is not None:
            try:
                response = ahead.result()
            except Exception as error:  # noqa: BLE001 - asked again below, where its error is the walk's own
                LOGGER.debug("A page read ahead failed (%s); asking for it again.", type(error).__name__)
        if response is None:
            response = self.requester.send_request(
                stream_state=stream_state,
                stream_slice=stream_slice,
                next_page_token=next_page_token,
                path=path,
                request_headers=request_headers,
                request_params=request_params,
                request_body_data=request_body_data,
                request_body_json=request_body_json,
                log_formatter=log_formatter,
            )
        token = cursor_link_token(response)
        if token is not None:
            self._read_ahead(walk, token, stream_slice, log_formatter)
        return response

    def _queue_listed_ancestors(self, response: Optional[requests.Response]) -> None:
        """An optimisation only: whatever goes wrong here, the page's records look their ancestors up later."""
        try:
            body = json_body(response) if response is not None and response.ok else None
            results = body.get("results") if isinstance(body, Mapping) else None
            if isinstance(results, list):
                queue_listed_ancestors(self.config, results)
        except Exception as error:  # noqa: BLE001
            LOGGER.debug("Queueing the ancestors of a page read ahead failed: %s", type(error).__name__)

    def _claim(self, walk: str, path: Optional[str]) -> Optional[Future]:
        with self._lock:
            pages = self._ahead.get(walk)
            if not pages:
                return None
            token, future = pages[0]
            if token == path:
                pages.pop(0)
                if not pages:
                    del self._ahead[walk]
                return future
            del self._ahead[walk]
        for _, stale in pages:  # the paginator went elsewhere: those answers are not this walk's
            stale.cancel()
        return None

    def _read_ahead(self, walk: str, token: str, stream_slice: Optional[StreamSlice], log_formatter: Any) -> None:
        """The retriever has page k: read page k+1 ahead, unless the page before had it read already."""
        with self._lock:
            pages = self._ahead.get(walk)
            if pages and pages[0][0] == token:
                # On its way already; the retriever took a page, so there may be room for one more.
                last_token, last = pages[-1]
                if last.done() and not last.cancelled() and last.exception() is None:
                    self._read_further_locked(walk, last_token, last.result(), stream_slice, log_formatter)
                return
            stale = self._ahead.pop(walk, [])
            self._submit(walk, token, stream_slice, log_formatter)
        for _, dropped in stale:
            dropped.cancel()

    def _read_further(self, walk: str, token: str, response: Optional[requests.Response], stream_slice: Optional[StreamSlice],
                      log_formatter: Any) -> None:
        with self._lock:
            self._read_further_locked(walk, token, response, stream_slice, log_formatter)

    def _read_further_locked(self, walk: str, token: str, response: Optional[requests.Response], stream_slice: Optional[StreamSlice],
                             log_formatter: Any) -> None:
        """The page ``token`` names, read ahead, has come: read the one after it too while the budget is mostly
        idle, ``token`` is still the last page of its walk read ahead, and fewer than ``MOST_PAGES_AHEAD`` are."""
        pages = self._ahead.get(walk)
        if not pages or pages[-1][0] != token or len(pages) >= MOST_PAGES_AHEAD:
            return
        if not in_flight_budget(self.config).mostly_idle():
            return
        following = cursor_link_token(response)
        if following is not None:
            self._submit(walk, following, stream_slice, log_formatter)

    def _submit(self, walk: str, token: str, stream_slice: Optional[StreamSlice], log_formatter: Any) -> None:
        """Read the page ``token`` names in the sync's look-up pool (called with ``_lock`` held, so the page is in
        ``_ahead`` before its answer can read further)."""
        def fetch() -> Optional[requests.Response]:
            response = self.requester.send_request(
                stream_state={},
                stream_slice=stream_slice,
                next_page_token={"next_page_token": token},
                path=token,
                log_formatter=log_formatter,
            )
            if self._queue_ancestors:
                self._queue_listed_ancestors(response)
            self._read_further(walk, token, response, stream_slice, log_formatter)
            return response

        self._ahead.setdefault(walk, []).append((token, lookup_pool(self.config).submit(fetch)))
        self._ahead.move_to_end(walk)
        while len(self._ahead) > self._keep:
            _, dropped = self._ahead.popitem(last=False)
            for _, future in dropped:
                future.cancel()
