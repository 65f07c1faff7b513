"""The Cloud content tree beyond pages: folders, whiteboards, databases and embeds.

What the manifest cannot say about it, all resting on the same v2 parent links:

* ``NormaliseTreeNode`` (records.py, using ``get_json``): a ``content_tree`` record from the v1 CQL listing (one
  walk for every type, incremental on ``lastmodified``), completed with the node's v2 ``parentId``/``parentType``/
  ``position``/``ownerId``. v1 ancestry may leave folders out (Atlassian documents typed ancestry for v2 only), so
  the parent comes from v2: one request per node, and these nodes are few next to pages.
* Typed ancestors of pages for effective access: ``access/ancestors.py``, on ``get_json`` and
  ``walk_results`` from here.
* ``SelectedTrees`` / ``InSelectedTree``: ``page_ids`` (with ``include_descendants``) and ``folder_ids`` resolved
  once per sync to the ids of the content in those trees, and a record filter every content stream shares.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Iterable, List, Mapping, MutableMapping, Optional
from urllib.parse import quote

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.requesters.requester import Requester
from airbyte_cdk.sources.declarative.transformations.config_transformations.config_transformation import ConfigTransformation
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_confluence.components.pagination import walk_list
from source_confluence.api.response_json import json_body
from source_confluence.components.slicing import InSliceWindow
from source_confluence.sync.cache import per_sync

LOGGER = logging.getLogger("airbyte")

TREE_NODE_TYPES = ("folder", "whiteboard", "database", "embed")
# v2 collection of each type that can hold pages or be held by them.
V2_COLLECTIONS = {"page": "pages", "folder": "folders", "whiteboard": "whiteboards", "database": "databases", "embed": "embeds"}


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


def walk_results(requester: Requester, path: str, params: Mapping[str, Any]) -> List[Mapping[str, Any]]:
    """Every result of a list, following ``_links.next`` re-based on the requester's url_base."""
    return walk_list(lambda target, query=None: get_json(requester, target, query), path, params, TreeUnknown)


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
            for result in walk_results(self.requester, "content/search", {"cql": cql, "limit": 200}):
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
            for child in walk_results(self.v2_requester, path, {"limit": 250}):
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
