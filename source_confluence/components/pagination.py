"""Follow Confluence's ``_links.next`` exactly as documented, and never anywhere else.

Why not ``CursorPagination`` + ``RequestPath`` on the raw link: the link is relative to
``_links.base`` on v1 but to the host on v2, both already contain ``/wiki`` (or a Data Center
context path), and behind the API gateway the link drops the ``/ex/confluence/{cloudId}`` prefix.
Joining any of them naively gives ``/wiki/wiki/...`` or a request to the site instead of the
gateway. Data Center may also clamp ``limit`` without moving ``start`` in the link, which re-reads
or skips rows. So this strategy keeps only what the link means (the API path after the API root
and its query), re-bases it on the requester's own ``url_base``, recomputes ``start`` from what was
actually returned, and refuses a link to another host instead of sending credentials there. On
Data Center's offset-paged search, the next page starts one result early, so that results which
moved up while the walk was read are noticed (``offset_walks``).
"""

from dataclasses import InitVar, dataclass
from typing import Any, Callable, List, Mapping, Optional, Tuple, Type
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.requesters.paginators.strategies.pagination_strategy import (
    PaginationStrategy,
)
from airbyte_cdk.sources.types import Config, Record
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_confluence.api.endpoints import endpoint_path
from source_confluence.components.offset_walks import offset_walks_of
from source_confluence.api.response_json import json_body
from source_confluence.sync.context import SyncContext

# Path segments an identifier follows (a page id, a space key, a group id or name) when more path comes after it.
_ID_HOLDERS = frozenset({
    "attachments", "blogposts", "comments", "content", "custom-content", "databases", "folders",
    "footer-comments", "group", "inline-comments", "label", "labels", "pages", "space", "spaces", "user", "whiteboards",
})


def endpoint_template(endpoint: str) -> str:
    """``pages/123/versions`` -> ``pages/{id}/versions``: one entry per kind of listing, not one per page or group.

    A sync with ``page_versions`` lists every page's versions; counting the concrete paths would make the
    progress line (and this counter) grow with the site.
    """
    segments = endpoint.split("/")
    for index in range(1, len(segments)):
        last = index == len(segments) - 1
        if segments[index].isdigit() or (segments[index - 1] in _ID_HOLDERS and not last):
            segments[index] = "{id}"
    return "/".join(segments)


def next_link_token(body: Mapping[str, Any], request_url: str) -> Optional[str]:
    """The next request as ``<endpoint path>?<query>``, relative to the API root, or None at the end."""
    links = body.get("_links") or {}
    link = links.get("next")
    if not link or not isinstance(link, str):
        return None
    parts = urlsplit(link)
    if parts.netloc and parts.netloc != urlsplit(request_url).netloc:
        base_host = urlsplit(str(links.get("base") or "")).netloc
        if parts.netloc != base_host:
            raise AirbyteTracedException(
                message="Confluence returned a next-page link to another host; the connector refused to follow it "
                "so that no credentials are sent there. Check that the base URL points at your Confluence site.",
                internal_message=f"next link host {parts.netloc!r} is neither the request host nor _links.base",
                failure_type=FailureType.system_error,
            )
    endpoint = endpoint_path(parts.path)
    if endpoint is None:
        raise AirbyteTracedException(
            message="Confluence returned a next-page link the connector does not understand; "
            "pagination stopped so that no page is read twice or skipped silently.",
            internal_message=f"next link path without a known API root: {parts.path!r}",
            failure_type=FailureType.system_error,
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    start = body.get("start")
    results = body.get("results")
    if isinstance(start, int) and isinstance(results, list) and any(k == "start" for k, _ in query):
        # Data Center offsets: trust what came back, not what the server wrote in the link.
        query = [(k, str(start + len(results)) if k == "start" else v) for k, v in query]
    return f"{endpoint}?{urlencode(query)}" if query else endpoint


def walk_list(
    get: Callable[..., Tuple[Any, Any]],
    path: str,
    params: Mapping[str, Any],
    unexpected: Type[Exception],
    on_page: Optional[Callable[[Any], None]] = None,
) -> List[Mapping[str, Any]]:
    """Every result of a list the look-ups read, following ``_links.next`` (re-based on the requester's root).

    ``get(path, params=None)`` returns ``(body, response)`` and raises its caller's own error; a body that is not
    an object raises ``unexpected``. Stops on a link seen before or an empty page, so a server that repeats
    itself cannot make a walk loop. ``on_page(response)`` sees each response (page-size learning).
    """
    out: List[Mapping[str, Any]] = []
    seen = set()
    body, response = get(path, params)
    while True:
        if on_page is not None:
            on_page(response)
        if not isinstance(body, Mapping):
            raise unexpected("unexpected body for %s" % path)
        results = body.get("results") or []
        out.extend(results)
        token = next_link_token(body, response.request.url if response.request is not None else "")
        if not token or token in seen or not results:
            return out
        seen.add(token)
        body, response = get(token)


def _overlapped(token: str, body: Mapping[str, Any], config: Config) -> str:
    """On Data Center's offset-paged search, the next page starts one result early (``offset_walks``)."""
    endpoint, _, query_string = token.partition("?")
    query = parse_qsl(query_string, keep_blank_values=True)
    results = body.get("results")
    overlapped = offset_walks_of(config).overlap_next(endpoint, query, results if isinstance(results, list) else [])
    return token if overlapped is query else f"{endpoint}?{urlencode(overlapped)}"


@dataclass
class NextLinkPagination(PaginationStrategy):
    """Pagination strategy for every Confluence list: pair it with ``page_token_option: RequestPath``.

    The token is the endpoint path plus the link's query; the requester joins it to its own
    ``url_base``, so the host, the gateway prefix and the context path always come from the config.
    The first request's parameters must be guarded with ``{% if not next_page_token %}`` in the
    manifest, because the link already carries them.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        pass

    @property
    def initial_token(self) -> Optional[Any]:
        return None

    def next_page_token(
        self,
        response: requests.Response,
        last_page_size: int,
        last_record: Optional[Record],
        last_page_token_value: Optional[Any],
        page_size_override: Optional[int] = None,
        stream_slice: Optional[Any] = None,
    ) -> Optional[Any]:
        sync = SyncContext.of(self.config)
        # The CDK calls this once the page's records are queued and observed: a state can now cover them.
        if last_record is not None:
            sync.page_done(last_record.stream_name, last_record.associated_slice)
        endpoint = endpoint_path(urlsplit(response.request.url).path) if response.request and response.request.url else None
        sync.count_result_page(endpoint_template(endpoint) if endpoint else "other")
        try:
            body = json_body(response)
        except ValueError:
            return None
        if not isinstance(body, Mapping):
            return None
        token = next_link_token(body, response.request.url if response.request else "")
        # A link that leads back to the page just read would loop forever (seen with empty
        # pages that still carry a link); a new link is followed even when this page was empty.
        if token is None or token == last_page_token_value:
            return None
        return _overlapped(token, body, self.config)

    def get_page_size(self) -> Optional[int]:
        return None
