"""Data Center's offset paging of ``content/search``, made safe against edits during the walk.

Data Center pages a CQL search by offset (``start``) and runs the search again for every page.
Content edited while a ``lastmodified`` window is being walked leaves that window's results (its
new date is past the window) or moves to their end. Every result after it moves up one place, so a
next page at ``start + size`` begins one result too far: one unchanged result is skipped, and as
its date is older than the cursor, the syncs after it skip it too.

So each next page starts one result early, at the last result of the page before
(``overlap_next``), and must begin with it (``OffsetWalks.reconcile``):

- It does: nothing before it moved. That result, already emitted, is dropped.
- It comes later in the page: something was inserted before it. Everything up to it is dropped.
- It is not there: something before it left the results, so the results that moved up are in front
  of this page. The page before this one is read again, and what in it was not emitted yet goes
  out ahead of this page's results, so the records stay in ``lastmodified`` order and the
  checkpoint after this page (``SyncContext.page_done``) still covers only what was emitted.

The cost is one repeated result a page; the extra request is paid only when something moved.
Cloud pages search results with a cursor, which carries the position: its walks are left alone.
More than a page of results leaving between two requests of one walk could still skip some; with
pages of 50 and requests a fraction of a second apart, that is not a real site.
"""

import logging
import threading
from datetime import datetime
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit

from source_confluence.api.endpoints import endpoint_path, parse_instant
from source_confluence.sync.cache import per_sync

logger = logging.getLogger("airbyte")

# The one listing walked by offset whose order moves under edits: CQL, by lastmodified.
OVERLAPPED_ENDPOINTS = frozenset({"content/search"})


class Expected(NamedTuple):
    """The result a page must begin with: the last one of the page before."""

    content_id: str
    modified_at: Optional[datetime]
    page_size: int  # what the server returned a page, which may be less than the ``limit`` asked


def walk_key(endpoint: str, query: Sequence[Tuple[str, str]]) -> Tuple[str, Tuple[Tuple[str, str], ...]]:
    """What identifies one page of one walk: its endpoint and query, without ``limit``.

    ``limit`` is left out because a 504 makes the retry ask for a smaller page (``backoff.py``).
    """
    return endpoint, tuple(sorted((k, v) for k, v in query if k != "limit"))


def _modified_at(result: Any) -> Optional[datetime]:
    """When a result was last modified. The pagination strategy sees the page's results after the
    stream's transformations ran on them, so the normalised ``lastModifiedAt`` is read too."""
    if not isinstance(result, Mapping):
        return None
    return parse_instant((result.get("version") or {}).get("when") or result.get("lastModifiedAt"))


def _not_older(result: Any, than: Optional[datetime]) -> bool:
    modified_at = _modified_at(result)
    return than is None or modified_at is None or modified_at >= than


def _id(result: Any) -> Optional[str]:
    if isinstance(result, Mapping) and result.get("id") is not None:
        return str(result["id"])
    return None


class OffsetWalks:
    """What each Data Center walk in flight expects its next page to begin with.

    One per sync: a walk's pages are requested one after the other, and walks side by side differ
    in their query (each window has its own ``lastmodified`` bounds), so their keys differ.
    """

    def __init__(self) -> None:
        self._expected: Dict[Any, Expected] = {}
        self._lock = threading.Lock()

    def overlap_next(self, endpoint: str, query: List[Tuple[str, str]], results: Sequence[Any]) -> List[Tuple[str, str]]:
        """The next page's query, one result earlier than ``query`` says, if this walk is overlapped."""
        if endpoint not in OVERLAPPED_ENDPOINTS or any(k == "cursor" for k, _ in query) or len(results) < 2:
            return query
        last = results[-1]
        last_id = _id(last)
        starts = [v for k, v in query if k == "start"]
        if last_id is None or len(starts) != 1 or not starts[0].isdigit() or int(starts[0]) < 1:
            return query
        overlapped = [(k, str(int(v) - 1) if k == "start" else v) for k, v in query]
        with self._lock:
            self._expected[walk_key(endpoint, overlapped)] = Expected(last_id, _modified_at(last), len(results))
        return overlapped

    def reconcile(
        self,
        request_url: str,
        results: List[Any],
        read_again: Callable[[str], List[Any]],
    ) -> List[Any]:
        """This page's results without those already emitted, preceded by any that moved up past its start.

        ``read_again`` takes a request path (``endpoint?query``, as the pagination strategy gives
        the requester) and returns that page's results.
        """
        parts = urlsplit(request_url)
        endpoint = endpoint_path(parts.path)
        if endpoint not in OVERLAPPED_ENDPOINTS:
            return results
        query = parse_qsl(parts.query, keep_blank_values=True)
        with self._lock:
            expected = self._expected.pop(walk_key(endpoint, query), None)
        if expected is None:
            return results
        ids = [_id(result) for result in results]
        if expected.content_id in ids:
            return results[ids.index(expected.content_id) + 1 :]
        # Something before this page left the results: read the page before again for what moved up.
        start = int(dict(query)["start"])
        before = [(k, str(max(0, start - expected.page_size)) if k == "start" else v) for k, v in query]
        earlier = read_again(f"{endpoint}?{urlencode(before)}")
        earlier_ids = [_id(result) for result in earlier]
        if expected.content_id in earlier_ids:
            moved_up = earlier[earlier_ids.index(expected.content_id) + 1 :]
        else:
            # The last result emitted is the one that moved (it was edited) or more than a page
            # moved: keep what is not older than it, which is all that can be unread.
            moved_up = [r for r in earlier if _not_older(r, expected.modified_at)]
        on_this_page = set(ids)
        moved_up = [r for r in moved_up if _id(r) not in on_this_page and _id(r) != expected.content_id]
        logger.info(
            f"Confluence moved results up while a {endpoint} walk was read (content edited meanwhile); "
            f"read the page before again and recovered {len(moved_up)} result(s)."
        )
        return moved_up + results


def offset_walks_of(config: Mapping[str, Any]) -> OffsetWalks:
    """The walks of this sync (see ``sync/cache.py``): an expectation never outlives its sync."""
    return per_sync(config, "offset_walks", OffsetWalks)

