"""The Cloud content tree beyond pages: folders, whiteboards, databases and embeds.

What the manifest cannot say about it, all resting on the same v2 parent links:

* ``NormaliseTreeNode`` (records.py, using ``get_json``): a ``content_tree`` record from the v1 CQL listing (one
  walk for every type, incremental on ``lastmodified``), completed with the node's v2 ``parentId``/``parentType``/
  ``position``/``ownerId``. v1 ancestry may leave folders out (Atlassian documents typed ancestry for v2 only), so
  the parent comes from v2: one request per node, and these nodes are few next to pages.
* ``complete_ancestors``: before a page of pages is transformed, its v1 ``ancestors`` are rebuilt from v2 parent
  links (``/pages?id=`` in batches of 250, then ``/{folders|whiteboards|…}/{id}`` once per node per sync), so
  every ancestor appears with its type whether or not v1 lists folders, and ``effective_read_access`` intersects
  a folder's restriction too. A site without such nodes (one CQL probe per sync) skips all of it. When the chain
  cannot be built, the record carries ``ANCESTRY_UNKNOWN`` and its access becomes ``unknown``.
* ``SelectedTrees`` / ``InSelectedTree``: ``page_ids`` (with ``include_descendants``) and ``folder_ids`` resolved
  once per sync to the ids of the content in those trees, and a record filter every content stream shares.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional, Sequence, Tuple
from urllib.parse import quote

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.requesters.requester import Requester
from airbyte_cdk.sources.declarative.transformations.config_transformations.config_transformation import ConfigTransformation
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_confluence.components.access import ANCESTRY_UNKNOWN
from source_confluence.components.pagination import next_link_token
from source_confluence.components.response_json import json_body
from source_confluence.components.slicing import InSliceWindow
from source_confluence.components.sync_cache import per_sync

LOGGER = logging.getLogger("airbyte")

TREE_NODE_TYPES = ("folder", "whiteboard", "database", "embed")
# v2 collection of each type that can hold pages or be held by them.
V2_COLLECTIONS = {"page": "pages", "folder": "folders", "whiteboard": "whiteboards", "database": "databases", "embed": "embeds"}
# v2 `/pages` takes at most 250 ids (Cloud v2 spec, `id` maxItems).
PAGE_IDS_PER_REQUEST = 250
# A parent chain longer than this is taken as a loop in what Confluence answered.
MAX_DEPTH = 200
TREE_PROBE_CQL = "type IN (%s)" % ", ".join(TREE_NODE_TYPES)


class TreeUnknown(Exception):
    """A parent link needed to place content in the tree could not be read."""


def get_json(requester: Requester, path: str, params: Optional[Mapping[str, Any]] = None) -> Any:
    """The JSON of one GET; ``TreeUnknown`` for anything but a 2xx JSON answer (the requester retried already)."""
    try:
        response = requester.send_request(path=path, request_params=dict(params or {}))
    except Exception as error:  # the error handler gave up on this request
        raise TreeUnknown("%s for %s" % (type(error).__name__, path)) from None
    if response is None or response.status_code >= 400:
        raise TreeUnknown("HTTP %s for %s" % (getattr(response, "status_code", "no response"), path))
    try:
        return json_body(response), response
    except ValueError:
        raise TreeUnknown("no JSON body for %s" % path) from None


def _walk(requester: Requester, path: str, params: Mapping[str, Any]) -> List[Mapping[str, Any]]:
    """Every result of a list, following ``_links.next`` re-based on the requester's url_base."""
    out: List[Mapping[str, Any]] = []
    seen = set()
    body, response = get_json(requester, path, params)
    while True:
        if not isinstance(body, Mapping):
            raise TreeUnknown("unexpected body for %s" % path)
        results = body.get("results") or []
        out.extend(results)
        token = next_link_token(body, response.request.url if response.request is not None else "")
        if not token or token in seen or not results:
            return out
        seen.add(token)
        body, response = get_json(requester, token)


# ---------------------------------------------------------------------------------------------------
# Typed ancestors of pages, from v2 parent links
# ---------------------------------------------------------------------------------------------------


class TreeCache:
    """What one sync learned about the tree: whether the site has nodes, and each content's parent link."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.has_nodes: Optional[bool] = None
        self.probe_lock = threading.Lock()
        # content id -> (type, title, parent id or None, parent type or None)
        self.links: Dict[str, Tuple[str, Optional[str], Optional[str], Optional[str]]] = {}
        self.missing: Dict[str, str] = {}  # content id -> why its parent link could not be read


def tree_cache_for(config: Mapping[str, Any]) -> TreeCache:
    return per_sync(config, "content_tree", TreeCache)


class TreeLookup:
    """The requests behind typed ancestry: one probe per sync, pages in batches, other nodes once each."""

    def __init__(self, requester: Requester, v2_requester: Requester, cache: TreeCache) -> None:
        self.requester = requester
        self.v2_requester = v2_requester
        self.cache = cache

    def site_has_nodes(self) -> bool:
        """One CQL search per sync for any folder, whiteboard, database or embed; a failed probe says yes."""
        with self.cache.probe_lock:
            if self.cache.has_nodes is None:
                try:
                    body, _ = get_json(self.requester, "content/search", {"cql": TREE_PROBE_CQL, "limit": 1})
                    self.cache.has_nodes = bool(isinstance(body, Mapping) and body.get("results"))
                except TreeUnknown as error:
                    LOGGER.info("Confluence: could not tell whether the site has folders (%s); reading page ancestry from v2.", error)
                    self.cache.has_nodes = True
            return self.cache.has_nodes

    def _store(self, node_type: str, node: Mapping[str, Any]) -> None:
        parent = node.get("parentId")
        self.cache.links[str(node["id"])] = (
            node_type,
            node.get("title"),
            str(parent) if parent not in (None, "") else None,
            node.get("parentType") if parent not in (None, "") else None,
        )

    def load_pages(self, ids: Iterable[str]) -> None:
        """v2 parent links of pages, 250 a request; pages not returned are remembered as missing."""
        with self.cache.lock:
            wanted = sorted({i for i in ids if i not in self.cache.links and i not in self.cache.missing}, key=_id_order)
        for start in range(0, len(wanted), PAGE_IDS_PER_REQUEST):
            batch = wanted[start : start + PAGE_IDS_PER_REQUEST]
            try:
                results = _walk(self.v2_requester, "pages", {"id": ",".join(batch), "status": "current,archived,trashed",
                                                              "limit": PAGE_IDS_PER_REQUEST})
                reason = "page %s was not returned by v2"
            except TreeUnknown as error:
                results, reason = [], "%%s: %s" % error
            with self.cache.lock:
                for page in results:
                    if page.get("id") is not None:
                        self._store("page", page)
                for i in batch:
                    if i not in self.cache.links:
                        self.cache.missing[i] = reason % i

    def load_node(self, node_id: str, node_type: str) -> None:
        collection = V2_COLLECTIONS.get(node_type)
        with self.cache.lock:
            if node_id in self.cache.links or node_id in self.cache.missing:
                return
        if collection is None:
            with self.cache.lock:
                self.cache.missing[node_id] = "unknown content type %r" % node_type
            return
        if collection == "pages":
            self.load_pages([node_id])
            return
        try:
            node, _ = get_json(self.v2_requester, "%s/%s" % (collection, quote(node_id, safe="")))
            with self.cache.lock:
                self._store(node_type, node)
        except TreeUnknown as error:
            with self.cache.lock:
                self.cache.missing[node_id] = str(error)

    def chain(self, content_id: str, content_type: str = "page") -> List[Dict[str, Any]]:
        """Every ancestor of the content, top-down, each ``{id, type, title}``; TreeUnknown when a link is missing."""
        out: List[Dict[str, Any]] = []
        current, current_type = content_id, content_type
        for _ in range(MAX_DEPTH):
            self.load_node(current, current_type)
            with self.cache.lock:
                link = self.cache.links.get(current)
                missing = self.cache.missing.get(current)
            if link is None:
                raise TreeUnknown(missing or "no parent link for %s" % current)
            _, _, parent_id, parent_type = link
            if parent_id is None:
                out.reverse()
                return out
            self.load_node(parent_id, parent_type or "page")
            with self.cache.lock:
                parent_link = self.cache.links.get(parent_id)
            out.append({"id": parent_id, "type": parent_type or "page", "title": parent_link[1] if parent_link else None})
            current, current_type = parent_id, parent_type or "page"
        raise TreeUnknown("the parent links of %s do not end" % content_id)


def _id_order(value: str) -> Tuple[int, str]:
    return (int(value), value) if value.isdigit() else (0, value)


def tree_lookup_for(config: Mapping[str, Any], requester: Requester, v2_requester: Requester) -> TreeLookup:
    cache = tree_cache_for(config)
    return per_sync(config, "content_tree_lookup", lambda: TreeLookup(requester, v2_requester, cache))


def complete_ancestors(config: Mapping[str, Any], lookup: Optional[TreeLookup], raw_records: Sequence[Dict[str, Any]]) -> None:
    """Replace the v1 ``ancestors`` of Cloud pages with the typed chain their v2 parent links give.

    Pages only (blog posts have no ancestors). Nothing is asked on Data Center or on a site without
    folders, whiteboards, databases or embeds. A page whose chain cannot be built keeps its v1 ancestors
    and gets ``ANCESTRY_UNKNOWN``, which makes its effective access ``unknown``.
    """
    pages = [r for r in raw_records if r.get("type") == "page" and r.get("id") is not None]
    if lookup is None or not pages or config.get("deployment") == "data_center" or not lookup.site_has_nodes():
        return
    ids = {str(r["id"]) for r in pages}
    ids |= {str(a["id"]) for r in pages for a in r.get("ancestors") or [] if a.get("id") is not None and a.get("type") in (None, "page")}
    lookup.load_pages(ids)
    for record in pages:
        titles = {str(a.get("id")): a.get("title") for a in record.get("ancestors") or []}
        try:
            chain = lookup.chain(str(record["id"]))
        except TreeUnknown as error:
            record[ANCESTRY_UNKNOWN] = "its place in the content tree could not be read (%s)" % error
            continue
        for ancestor in chain:
            if ancestor["title"] is None:
                ancestor["title"] = titles.get(ancestor["id"])
        record["ancestors"] = chain


# ---------------------------------------------------------------------------------------------------
# Selection: page_ids (+ descendants) and folder_ids
# ---------------------------------------------------------------------------------------------------


def selection_active(config: Mapping[str, Any]) -> bool:
    return bool(config.get("page_ids") or config.get("folder_ids"))


class SelectedTrees:
    """The ids of every page, folder, whiteboard, database and embed in the chosen trees, resolved once a sync.

    Pages under a folder are found from the folder's v2 ``direct-children`` (nested folders and other nodes
    walked the same way), then everything under those pages with CQL ``ancestor IN (…)``, which v1 answers
    for pages whether or not it lists folders; CQL ``ancestor = <folder>`` is never relied on.
    """

    def __init__(self, config: Mapping[str, Any], requester: Requester, v2_requester: Optional[Requester]) -> None:
        self.config = config
        self.requester = requester
        self.v2_requester = v2_requester
        self.lock = threading.Lock()
        self._ids: Optional[frozenset] = None

    def ids(self) -> frozenset:
        with self.lock:
            if self._ids is None:
                try:
                    self._ids = frozenset(self._resolve())
                except TreeUnknown as error:
                    raise AirbyteTracedException(
                        message="Confluence: the pages and folders chosen in page_ids/folder_ids could not be read (%s). "
                        "Check that they exist and that this account may see them." % error,
                        failure_type=FailureType.config_error,
                    ) from None
            return self._ids

    def _resolve(self) -> set:
        data_center = self.config.get("deployment") == "data_center"
        for value in list(self.config.get("page_ids") or []) + list(self.config.get("folder_ids") or []):
            if not str(value).isdigit():  # they go into CQL
                raise TreeUnknown("%r is not a content id (digits only)" % (value,))
        page_ids = [str(i) for i in self.config.get("page_ids") or []]
        descendants = self.config.get("include_descendants", True)
        selected = set(page_ids)
        roots = list(page_ids) if descendants else []
        for folder_id in self.config.get("folder_ids") or []:
            if data_center or self.v2_requester is None:
                raise TreeUnknown("Data Center has no folders")
            selected.add(str(folder_id))
            roots.extend(self._walk_node(str(folder_id), "folder", selected))
        types = "page" if data_center else "page, " + ", ".join(TREE_NODE_TYPES)
        for start in range(0, len(roots), 100):
            batch = roots[start : start + 100]
            cql = "type IN (%s) AND ancestor IN (%s) AND status IN (\"current\", \"archived\")" % (types, ",".join(batch))
            for result in _walk(self.requester, "content/search", {"cql": cql, "limit": 200}):
                if result.get("id") is not None:
                    selected.add(str(result["id"]))
        return selected

    def _walk_node(self, node_id: str, node_type: str, selected: set) -> List[str]:
        """The pages directly under a folder-like node, walking nested non-page nodes; every node id is selected."""
        pages: List[str] = []
        stack = [(node_id, node_type)]
        seen = set()
        while stack:
            current, kind = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            path = "%s/%s/direct-children" % (V2_COLLECTIONS[kind], quote(current, safe=""))
            for child in _walk(self.v2_requester, path, {"limit": 250}):
                child_id, child_type = str(child.get("id")), child.get("type")
                selected.add(child_id)
                if child_type == "page":
                    pages.append(child_id)
                elif child_type in TREE_NODE_TYPES:
                    stack.append((child_id, child_type))
        return pages


def selected_trees_for(config: Mapping[str, Any], requester: Requester, v2_requester: Optional[Requester]) -> SelectedTrees:
    return per_sync(config, "selected_trees", lambda: SelectedTrees(config, requester, v2_requester))


@dataclass
class InSelectedTree(InSliceWindow):
    """``InSliceWindow``, and then only content in the trees of ``page_ids``/``folder_ids`` (when set).

    A page or node is kept when its id was selected; a comment or attachment when its container was.
    Blog posts belong to no page tree: with a selection, they (and their comments) are left out.
    ``in_slice_window: false`` for the full-refresh streams that have no time windows.
    """

    requester: Optional[Requester] = None
    v2_requester: Optional[Requester] = None
    in_slice_window: bool = True

    def filter_records(
        self,
        records: Iterable[Mapping[str, Any]],
        stream_state: Any,
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Mapping[str, Any]]:
        if self.in_slice_window:
            records = super().filter_records(records, stream_state, stream_slice, next_page_token)
        if not selection_active(self.config) or self.requester is None:
            yield from records
            return
        ids = selected_trees_for(self.config, self.requester, self.v2_requester).ids()
        for record in records:
            container = record.get("container") or {}
            if str(record.get("id")) in ids or (container.get("id") is not None and str(container["id"]) in ids):
                yield record


@dataclass
class RefuseFoldersOnDataCenter(ConfigTransformation):
    """``folder_ids`` on Data Center, where folders do not exist, is a config error that ``check`` reports.

    A config transformation because the spec cannot make one field depend on another's value with a message
    a user understands; it runs after ``NormaliseConfig`` has settled ``deployment``.
    """

    def transform(self, config: MutableMapping[str, Any]) -> None:
        if config.get("deployment") == "data_center" and config.get("folder_ids"):
            message = (
                "folder_ids cannot be used with Confluence Data Center: Data Center has no folders. "
                "Select page trees with page_ids instead."
            )
            raise AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.config_error)
