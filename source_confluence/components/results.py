"""Take the ``results`` of a Confluence list response, fast, and never drop a page silently.

Why not ``DpathExtractor`` with ``field_path: ["results"]``: profiling a 2,000-page sync showed
dpath's generic path walk at about 10% of the connector's CPU, twice the cost of decoding the
JSON itself; and the CDK's JSON decoder turns a body it cannot parse into an empty page, which
would lose records without a word. Bodies that do not parse are retried by the error handler
(``components/backoff.py``) before they get here; one that still fails stops the stream loudly.
"""

from dataclasses import InitVar, dataclass
from typing import Any, Callable, Iterable, List, Mapping, MutableMapping, Optional, Tuple

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.extractors.record_extractor import RecordExtractor
from airbyte_cdk.sources.declarative.requesters.requester import Requester
from airbyte_cdk.sources.types import Config
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_confluence.access.ancestors import TreeLookup, complete_ancestors, tree_lookup_for
from source_confluence.access.lookups import in_background
from source_confluence.access.transformation import prefetch_access
from source_confluence.sync.context import SyncContext
from source_confluence.sync.in_flight import in_flight_budget
from source_confluence.components.offset_walks import offset_walks_of
from source_confluence.api.response_json import json_body
from source_confluence.components.people import user_names_for
from source_confluence.text.markdown import mentioned_user_ids

# Where BodyResultsExtractor leaves a record's Markdown for the record's normaliser.
PRECOMPUTED_MARKDOWN = "_bodyMarkdown"


# The body representations a record may carry: storage, or what `body_format` asked Confluence to render.
BODY_REPRESENTATIONS = ("storage", "view", "export_view")


def body_of(raw: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    """``(representation, value)`` of the body the record carries, or None without one."""
    body = raw.get("body") or {}
    for representation in BODY_REPRESENTATIONS:
        value = (body.get(representation) or {}).get("value")
        if value is not None:
            return representation, value
    return None


def body_value_of(raw: Mapping[str, Any]) -> Optional[str]:
    found = body_of(raw)
    return found[1] if found else None


@dataclass
class ResultsExtractor(RecordExtractor):
    """Yield ``body["results"]`` (or the body itself when it is a bare list, as some DC endpoints answer)."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    # Sends a Data Center search page again when results moved up during its walk (offset_walks).
    listing_requester: Optional[Requester] = None

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        pass

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        results = results_of(response)
        if results and response.request is not None and response.request.url:
            results = offset_walks_of(self.config).reconcile(response.request.url, results, self._read_again)
        yield from results

    def _read_again(self, path: str) -> List[Any]:
        if self.listing_requester is None:
            raise AirbyteTracedException(
                message="Confluence moved search results during a walk and this stream cannot read a page again; "
                "the sync stopped rather than skip records.",
                internal_message=f"no listing_requester on the record extractor to re-read {path.partition('?')[0]}",
                failure_type=FailureType.system_error,
            )
        response = self.listing_requester.send_request(path=path)
        return results_of(response) if response is not None else []


def results_of(response: requests.Response) -> List[Any]:
    """The list a response holds; empty for an empty body or for an error answer the error handler chose
    to skip (IGNORE, components/skips.py); a body that is not JSON stops the stream."""
    if not response.content or response.status_code >= 400:
        return []
    try:
        body = json_body(response)
    except ValueError:
        raise AirbyteTracedException(
            message="Confluence sent a response that is not valid JSON, even after retries; the sync stopped "
            "rather than skip the records it held.",
            internal_message=f"unparseable body from {response.request.url if response.request else 'unknown URL'}",
            failure_type=FailureType.transient_error,
        ) from None
    results = body.get("results") if isinstance(body, Mapping) else body
    return results if isinstance(results, list) else []


def lists_pages(parameters: Mapping[str, Any]) -> bool:
    """Whether the stream's ``$parameters`` (``content_types``, which the CDK hands down to its extractor) list
    pages: only pages have a place in the tree that folders and the like can take (``complete_ancestors``)."""
    return "page" in {kind.strip() for kind in str((parameters or {}).get("content_types") or "").split(",")}


@dataclass
class BodyResultsExtractor(ResultsExtractor):
    """The same records, each with its Markdown body already converted.

    Converting a whole page of results at once lets the bodies go to every core
    (the sync's ``markdown_pool``), lets @mentions be resolved for the page in one look-up, and lets the
    look-ups their effective access needs be made for the page, side by side (``access``).
    The Markdown rides along as ``_bodyMarkdown`` for ``NormaliseContent``/``NormaliseComment``.
    """

    requester: Optional[Requester] = None
    # Cloud v2, for pages' typed ancestors when the site has folders and the like (access/ancestors.py).
    v2_requester: Optional[Requester] = None

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        # Typed ancestors are Cloud's (Data Center has no folders): the sync's one tree look-up, else None.
        self._tree: Optional[TreeLookup] = None
        if (self.requester is not None and self.v2_requester is not None and self.config.get("deployment") != "data_center"
                and lists_pages(parameters)):
            self._tree = tree = tree_lookup_for(self.config, self.requester, self.v2_requester)
            # The probe for folders and the like goes out as the read begins, beside the first walks, instead
            # of after the first page of pages, which would wait for it before its access look-ups.
            SyncContext.of(self.config).at_read_start("tree_probe", lambda: in_background(self.config, tree.site_has_nodes))

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        with in_flight_budget(self.config).page_in_hand():
            records = self._enriched_records(response)
        yield from records

    def _enriched_records(self, response: requests.Response) -> List[MutableMapping[Any, Any]]:
        """The page's records with their Markdown and the look-ups their access needs done."""
        records = list(super().extract_records(response))
        with_body = [record for record in records if body_value_of(record) is not None]
        mentions = set().union(*(mentioned_user_ids(body_value_of(record)) for record in with_body))
        # The page's look-ups, side by side: the names it mentions (unless this sync has them all), and what
        # its access needs.
        names: Optional[Mapping[str, str]] = {}
        names_looked_up = None
        if mentions and self.requester is not None:
            user_names = user_names_for(self.config)
            names = user_names.known(mentions)
            if names is None:
                data_center = self.config.get("deployment") == "data_center"
                names_looked_up = in_background(self.config, lambda: user_names.names_for(mentions, self.requester, data_center))
        complete_ancestors(self.config, self._tree, records)
        # The Markdown is made by the pool while this thread does the page's access look-ups (a thread that
        # waits holds no slot of the request budget, sync/in_flight.py). When the names need a request, the
        # access look-ups go out first and the Markdown starts once both are in: a page then waits for the
        # longer of the two round trips, not for one after the other.
        markdown_of_page = self._markdown(with_body, names) if names is not None else None
        prefetch_access(self.config, records)
        if names_looked_up is not None:
            markdown_of_page = self._markdown(with_body, names_looked_up.result())
        if markdown_of_page is not None:
            for record, markdown in zip(with_body, markdown_of_page()):
                record[PRECOMPUTED_MARKDOWN] = markdown
        return records

    def _markdown(self, with_body: List[Mapping[str, Any]], names: Mapping[str, str]) -> Optional[Callable[[], List[str]]]:
        """Start converting the bodies (``markdown_pool``); what collects them, in order (None: no body)."""
        if not with_body:
            return None
        site_url = (self.config.get("_derived") or {}).get("site_url") or self.config.get("base_url", "")
        # One mapping for every job of the page: pickled once for the process that converts them.
        page_names = dict(names)
        jobs = [(body_value_of(record), site_url, (record.get("space") or {}).get("key"), page_names) for record in with_body]
        return SyncContext.of(self.config).markdown.submit_all(jobs)
