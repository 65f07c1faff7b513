"""One record shape per stream, whichever Confluence answered (Cloud v2, Cloud v1 or Data Center v1).

Why Python: Cloud and Data Center send the same v1 content object with different user ids
(``accountId`` vs ``userKey``/``username``) and different timestamps (UTC vs the server's local
offset), and the Markdown body needs a real converter. Doing this with a dozen ``AddFields``
Jinja expressions per stream would be slower and harder to read than this one function, which
the JSON schemas in ``schemas/`` document field by field.
"""

import logging
import re
import threading
from dataclasses import InitVar, dataclass
from datetime import datetime, timezone
from urllib.parse import quote
from typing import Any, Dict, List, Mapping, Optional

from airbyte_cdk.sources.declarative.requesters.requester import Requester
from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.types import Config, StreamSlice, StreamState

from source_confluence.access.rule import ANCESTRY_UNKNOWN, read_restriction_from_v1
from source_confluence.components.results import PRECOMPUTED_MARKDOWN, body_of
from source_confluence.components.tree import V2_COLLECTIONS, TreeUnknown, get_json
from source_confluence.text.markdown import storage_to_markdown

LOGGER = logging.getLogger("airbyte")


# A timestamp already in the output's form, and a valid one whatever the month (days up to 28): Cloud sends
# most of its dates so. Why: parsing and formatting each again was 3.6 µs a date, 0.3 s of CPU in a full sync
# of 20,000 pages (four dates a record); this match is 0.6 µs (bench/NOTES.md).
_UTC_MILLISECONDS = re.compile(r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z")


def to_utc(value: Any) -> Optional[str]:
    """ISO-8601 in UTC with milliseconds (``2024-03-11T11:24:06.964Z``), from any offset or epoch ms."""
    if value in (None, ""):
        return None
    if isinstance(value, str) and _UTC_MILLISECONDS.fullmatch(value):
        return value
    if isinstance(value, (int, float)):
        moment = datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    else:
        text = str(value).replace("Z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user_id(user: Optional[Mapping[str, Any]]) -> Optional[str]:
    """Cloud identifies people by ``accountId``; Data Center by ``userKey`` (then ``username``)."""
    if not user:
        return None
    return user.get("accountId") or user.get("userKey") or user.get("username")


def absolute_url(site_url: str, link: Optional[str]) -> Optional[str]:
    if not link:
        return None
    if link.startswith("http://") or link.startswith("https://"):
        return link
    return site_url.rstrip("/") + "/" + link.lstrip("/")


def content_fields(raw: Mapping[str, Any], site_url: str) -> Dict[str, Any]:
    """The fields every content record shares: identity, space, authorship, version and links."""
    history = raw.get("history") or {}
    version = raw.get("version") or {}
    space = raw.get("space") or {}
    links = raw.get("_links") or {}
    modified_at = to_utc(version.get("when"))
    return {
        "id": str(raw["id"]),
        "type": raw.get("type"),
        "status": raw.get("status"),
        "title": raw.get("title"),
        "spaceId": str(space["id"]) if space.get("id") is not None else None,
        "spaceKey": space.get("key"),
        "authorId": user_id(history.get("createdBy")),
        "createdAt": to_utc(history.get("createdDate")),
        "lastModifiedAt": modified_at,
        "version": {
            "number": version.get("number"),
            "message": version.get("message") or "",
            "minorEdit": bool(version.get("minorEdit")),
            "createdAt": modified_at,
            "authorId": user_id(version.get("by")),
        },
        "webUrl": absolute_url(site_url, links.get("webui")),
    }


def _body(raw: Mapping[str, Any], site_url: str) -> Dict[str, Any]:
    """The body as Confluence sent it (storage, or the rendering `body_format` asked for), and the same as
    Markdown (converted by the extractor for a whole page of results at once, or here for a record that
    comes alone); the converter reads rendered HTML as well as storage XHTML."""
    found = body_of(raw)
    if found is None:
        return {"body": None, "bodyMarkdown": None}
    representation, value = found
    markdown = raw.get(PRECOMPUTED_MARKDOWN)
    if markdown is None:
        markdown = storage_to_markdown(value, base_url=site_url, space_key=(raw.get("space") or {}).get("key"))
    return {"body": {representation: {"representation": representation, "value": value}}, "bodyMarkdown": markdown}


def normalise_content(raw: Mapping[str, Any], site_url: str) -> Dict[str, Any]:
    """A page or blog post with its body, labels and place in the tree."""
    links = raw.get("_links") or {}
    ancestors: List[Mapping[str, Any]] = raw.get("ancestors") or []
    labels = (((raw.get("metadata") or {}).get("labels") or {}).get("results")) or []
    parent = ancestors[-1] if ancestors else None
    record = content_fields(raw, site_url)
    record.update(
        {
            "parentId": str(parent["id"]) if parent else None,
            "parentType": parent.get("type") if parent else None,
            "ancestors": [{"id": str(a.get("id")), "type": a.get("type"), "title": a.get("title")} for a in ancestors],
            "labels": [
                {"id": str(label.get("id")), "name": label.get("name"), "prefix": label.get("prefix")} for label in labels
            ],
            "_links": {key: links[key] for key in ("webui", "tinyui", "editui") if key in links},
            "readRestriction": read_restriction_from_v1(raw),
        }
    )
    if raw.get(ANCESTRY_UNKNOWN):  # for EffectiveReadAccess, which takes it off (access/ancestors.py)
        record[ANCESTRY_UNKNOWN] = raw[ANCESTRY_UNKNOWN]
    record.update(_body(raw, site_url))
    return record


def normalise_tree_node(raw: Mapping[str, Any], detail: Optional[Mapping[str, Any]], site_url: str) -> Dict[str, Any]:
    """A folder, whiteboard, database or embed: the v1 listing's fields, the v2 node's parent and owner.

    ``detail`` is the v2 ``/{type}s/{id}`` answer, or None when it could not be read: the parent is then left
    empty rather than taken from v1 ancestry, which may skip folders.
    """
    record = content_fields(raw, site_url)
    detail = detail or {}
    position = detail.get("position")
    if position is None:
        position = (raw.get("extensions") or {}).get("position")
    record.update(
        {
            "parentId": str(detail["parentId"]) if detail.get("parentId") is not None else None,
            "parentType": detail.get("parentType") if detail.get("parentId") is not None else None,
            "position": position if isinstance(position, int) else None,
            "ownerId": detail.get("ownerId"),
            "embedUrl": detail.get("embedUrl"),
        }
    )
    if detail and not record.get("spaceId") and detail.get("spaceId") is not None:
        record["spaceId"] = str(detail["spaceId"])
    return record


@dataclass
class NormaliseTreeNode(RecordTransformation):
    """Turns a v1 folder/whiteboard/database/embed into a ``content_tree`` record (see the module docstring).

    ``v2_requester`` must answer 403/404 without failing the sync (the manifest's ``tree_node_requester``): a
    node deleted or hidden since the listing keeps its record, with no parent, and one warning.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    v2_requester: Optional[Requester] = None

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._warned = False
        self._lock = threading.Lock()

    def transform(
        self,
        record: Dict[str, Any],
        config: Optional[Config] = None,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> None:
        site_url = (self.config.get("_derived") or {}).get("site_url") or self.config.get("base_url", "")
        detail = None
        collection = V2_COLLECTIONS.get(record.get("type") or "")
        if self.v2_requester is not None and collection and self.config.get("deployment") != "data_center":
            try:
                detail, _ = get_json(self.v2_requester, "%s/%s" % (collection, quote(str(record["id"]), safe="")))
            except TreeUnknown as error:
                with self._lock:
                    warn, self._warned = not self._warned, True
                if warn:
                    LOGGER.warning("Confluence: the parent of %s %s could not be read (%s); such records have no parentId.",
                                   record.get("type"), record.get("id"), error)
        normalised = normalise_tree_node(record, detail if isinstance(detail, Mapping) else None, site_url)
        record.clear()
        record.update(normalised)


def _container(raw: Mapping[str, Any]) -> Dict[str, Any]:
    container = raw.get("container") or {}
    return {
        "containerId": str(container["id"]) if container.get("id") is not None else None,
        "containerType": container.get("type"),
        "containerTitle": container.get("title"),
    }


def normalise_comment(raw: Mapping[str, Any], site_url: str) -> Dict[str, Any]:
    """A footer or inline comment; a reply names its parent, the last comment among its ancestors."""
    extensions = raw.get("extensions") or {}
    inline = extensions.get("inlineProperties") or {}
    resolution = extensions.get("resolution") or {}
    parents = [a for a in raw.get("ancestors") or [] if a.get("type") == "comment"]
    record = content_fields(raw, site_url)
    record.update(_container(raw))
    record.update(
        {
            "parentCommentId": str(parents[-1]["id"]) if parents else None,
            "location": extensions.get("location"),
            "resolutionStatus": resolution.get("status"),
            "inlineOriginalSelection": inline.get("originalSelection"),
        }
    )
    record.update(_body(raw, site_url))
    return record


def normalise_attachment(raw: Mapping[str, Any], site_url: str) -> Dict[str, Any]:
    """Attachment metadata; Cloud puts media type and size under ``extensions``, older DC under ``metadata``."""
    extensions = raw.get("extensions") or {}
    metadata = raw.get("metadata") or {}
    links = raw.get("_links") or {}
    record = content_fields(raw, site_url)
    record.update(_container(raw))
    file_size = extensions.get("fileSize")
    record.update(
        {
            "fileName": raw.get("title"),
            "mediaType": extensions.get("mediaType") or metadata.get("mediaType"),
            "fileSize": int(file_size) if isinstance(file_size, (int, float, str)) and str(file_size).isdigit() else None,
            "comment": extensions.get("comment") or metadata.get("comment"),
            "downloadUrl": absolute_url(site_url, links.get("download")),
        }
    )
    return record


def _principals(restriction: Optional[Mapping[str, Any]]) -> Dict[str, List[str]]:
    inner = (restriction or {}).get("restrictions") or {}
    users = (inner.get("user") or {}).get("results") or []
    groups = (inner.get("group") or {}).get("results") or []
    return {
        "users": sorted(filter(None, (user_id(user) for user in users))),
        "groups": sorted(filter(None, (group.get("name") or group.get("id") for group in groups))),
    }


def normalise_restrictions(raw: Mapping[str, Any], site_url: str) -> Dict[str, Any]:
    """Who may read and who may edit a page or blog post, as set on the content itself."""
    restrictions = raw.get("restrictions") or {}
    space = raw.get("space") or {}
    read = _principals(restrictions.get("read"))
    update = _principals(restrictions.get("update"))
    return {
        "contentId": str(raw["id"]),
        "contentType": raw.get("type"),
        "title": raw.get("title"),
        "spaceKey": space.get("key"),
        "lastModifiedAt": to_utc((raw.get("version") or {}).get("when")),
        "read": read,
        "update": update,
        "readRestricted": bool(read["users"] or read["groups"]),
        "updateRestricted": bool(update["users"] or update["groups"]),
    }


def normalise_space_permission(raw: Mapping[str, Any], space: Mapping[str, Any]) -> Dict[str, Any]:
    """One grant in a space: Cloud v2 ``{principal, operation}`` or Data Center ``{subject, operation}``."""
    principal = raw.get("principal") or {}
    subject = raw.get("subject") or {}
    operation = raw.get("operation") or {}
    principal_type = principal.get("type") or subject.get("type")
    principal_id = principal.get("id") or subject.get("identifier") or subject.get("userKey") or subject.get("name")
    operation_key = operation.get("key") or operation.get("operationKey")
    target_type = operation.get("targetType")
    space_key = space.get("key") or raw.get("spaceKey")
    permission_id = raw.get("id") or ":".join(str(part) for part in (space_key, principal_type, principal_id, operation_key, target_type))
    return {
        "id": str(permission_id),
        "spaceId": str(space.get("id") or raw.get("spaceId") or "") or None,
        "spaceKey": space_key,
        "principalType": principal_type,
        "principalId": principal_id,
        "operation": operation_key,
        "targetType": target_type,
    }


def normalise_version(raw: Mapping[str, Any], site_url: str) -> Dict[str, Any]:
    """One version of a page: Cloud v2 ``{number, createdAt, authorId, ...}`` or DC ``{number, when, by, ...}``."""
    return {
        "number": raw.get("number"),
        "createdAt": to_utc(raw.get("createdAt") or raw.get("when")),
        "message": raw.get("message") or "",
        "minorEdit": bool(raw.get("minorEdit")),
        "authorId": raw.get("authorId") or user_id(raw.get("by")),
    }


def normalise_space(raw: Mapping[str, Any], site_url: str) -> Dict[str, Any]:
    """A v2 space (Cloud) or a v1 space with ``description.plain,homepage,history`` expanded (DC)."""
    description = raw.get("description") or {}
    plain = description.get("plain") or {}
    homepage = raw.get("homepage") or {}
    links = raw.get("_links") or {}
    history = raw.get("history") or {}
    homepage_id = raw.get("homepageId") or homepage.get("id")
    return {
        "id": str(raw["id"]),
        "key": raw.get("key"),
        "name": raw.get("name"),
        "type": raw.get("type"),
        "status": raw.get("status"),
        "description": plain.get("value") if isinstance(plain, Mapping) else None,
        "homepageId": str(homepage_id) if homepage_id is not None else None,
        "authorId": raw.get("authorId") or user_id(history.get("createdBy")),
        "createdAt": to_utc(raw.get("createdAt") or history.get("createdDate")),
        "webUrl": absolute_url(site_url, links.get("webui")),
        "_links": {key: links[key] for key in ("webui",) if key in links},
    }


@dataclass
class _Normalise(RecordTransformation):
    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._site_url = (self.config.get("_derived") or {}).get("site_url") or self.config.get("base_url", "")

    @staticmethod
    def shape(raw: Mapping[str, Any], site_url: str) -> Dict[str, Any]:
        raise NotImplementedError

    def reshape(self, record: Mapping[str, Any], stream_slice: Optional[StreamSlice]) -> Dict[str, Any]:
        return self.shape(record, self._site_url)

    def transform(
        self,
        record: Dict[str, Any],
        config: Optional[Config] = None,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> None:
        normalised = self.reshape(record, stream_slice)
        record.clear()
        record.update(normalised)


class NormaliseContent(_Normalise):
    """Replace a v1 content object by the pages / blog_posts record (``schemas/pages.json``)."""

    shape = staticmethod(normalise_content)


class NormaliseSpace(_Normalise):
    """Replace a v2 or v1 space by the space record (``schemas/space.json``)."""

    shape = staticmethod(normalise_space)


class NormaliseComment(_Normalise):
    """Replace a v1 comment by the comments record (``schemas/comments.json``)."""

    shape = staticmethod(normalise_comment)


class NormaliseAttachment(_Normalise):
    """Replace a v1 attachment by the attachments record (``schemas/attachments.json``)."""

    shape = staticmethod(normalise_attachment)


class NormaliseSpacePermission(_Normalise):
    """Replace a space permission (Cloud v2 or Data Center) by the space_permissions record.

    The space comes from the partition (its id) and the parent record (its key).
    """

    def reshape(self, record: Mapping[str, Any], stream_slice: Optional[StreamSlice]) -> Dict[str, Any]:
        partition = (stream_slice.partition if stream_slice is not None else {}) or {}
        extra = (getattr(stream_slice, "extra_fields", None) or {}) if stream_slice is not None else {}
        return normalise_space_permission(record, {"id": partition.get("space_id"), "key": extra.get("key")})


class NormaliseVersion(_Normalise):
    """Replace a Cloud v2 or Data Center version by the page_versions record (the page id is added after)."""

    shape = staticmethod(normalise_version)


class NormaliseRestrictions(_Normalise):
    """Replace a v1 content object by its content_restrictions record."""

    shape = staticmethod(normalise_restrictions)
