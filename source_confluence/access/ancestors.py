"""Typed ancestors of Cloud pages, from v2 parent links: the look-up that lets access see folders.

v1 ``ancestors`` may leave folders out (Atlassian documents typed ancestry for v2 only), so before a
page of pages is transformed, ``complete_ancestors`` rebuilds each page's chain from v2 parent links
(``/pages?id=`` in batches of 250, then ``/{folders|whiteboards|…}/{id}`` once per node per sync), and
``effective_read_access`` intersects a folder's restriction too. A site without such nodes (one CQL
probe per sync) skips all of it. When a chain cannot be built, the record carries ``ANCESTRY_UNKNOWN``
and its access becomes ``unknown``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import quote

from airbyte_cdk.sources.declarative.requesters.requester import Requester

from source_confluence.access.rule import ANCESTRY_UNKNOWN
from source_confluence.sync.cache import per_sync
from source_confluence.components.tree import TREE_NODE_TYPES, V2_COLLECTIONS, TreeUnknown, get_json, walk_results

LOGGER = logging.getLogger("airbyte")

# v2 `/pages` takes at most 250 ids (Cloud v2 spec, `id` maxItems).
PAGE_IDS_PER_REQUEST = 250
# A parent chain longer than this is taken as a loop in what Confluence answered.
MAX_DEPTH = 200
TREE_PROBE_CQL = "type IN (%s)" % ", ".join(TREE_NODE_TYPES)


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
                results = walk_results(self.v2_requester, "pages", {"id": ",".join(batch), "status": "current,archived,trashed",
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
