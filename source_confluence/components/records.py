"""One record shape per stream, whichever Confluence answered (Cloud v2, Cloud v1 or Data Center v1).

Why Python: Cloud and Data Center send the same v1 content object with different user ids
(``accountId`` vs ``userKey``/``username``) and different timestamps (UTC vs the server's local
offset), and the Markdown body needs a real converter. Doing this with a dozen ``AddFields``
Jinja expressions per stream would be slower and harder to read than this one function, which
the JSON schemas in ``schemas/`` document field by field.
"""

from dataclasses import InitVar, dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional

from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.types import Config, StreamSlice, StreamState

from source_confluence.markdown import storage_to_markdown


def to_utc(value: Any) -> Optional[str]:
    """ISO-8601 in UTC with milliseconds (``2024-03-11T11:24:06.964Z``), from any offset or epoch ms."""
    if value in (None, ""):
        return None
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


def normalise_content(raw: Mapping[str, Any], site_url: str) -> Dict[str, Any]:
    history = raw.get("history") or {}
    version = raw.get("version") or {}
    space = raw.get("space") or {}
    links = raw.get("_links") or {}
    ancestors: List[Mapping[str, Any]] = raw.get("ancestors") or []
    labels = (((raw.get("metadata") or {}).get("labels") or {}).get("results")) or []
    storage = ((raw.get("body") or {}).get("storage") or {}).get("value")
    parent = ancestors[-1] if ancestors else None
    modified_at = to_utc(version.get("when"))
    return {
        "id": str(raw["id"]),
        "type": raw.get("type"),
        "status": raw.get("status"),
        "title": raw.get("title"),
        "spaceId": str(space["id"]) if space.get("id") is not None else None,
        "spaceKey": space.get("key"),
        "parentId": str(parent["id"]) if parent else None,
        "parentType": parent.get("type") if parent else None,
        "ancestors": [{"id": str(a.get("id")), "type": a.get("type"), "title": a.get("title")} for a in ancestors],
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
        "labels": [
            {"id": str(label.get("id")), "name": label.get("name"), "prefix": label.get("prefix")} for label in labels
        ],
        "body": {"storage": {"representation": "storage", "value": storage}} if storage is not None else None,
        "bodyMarkdown": storage_to_markdown(storage, base_url=site_url, space_key=space.get("key")) if storage is not None else None,
        "webUrl": absolute_url(site_url, links.get("webui")),
        "_links": {key: links[key] for key in ("webui", "tinyui", "editui") if key in links},
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

    def transform(
        self,
        record: Dict[str, Any],
        config: Optional[Config] = None,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> None:
        normalised = self.shape(record, self._site_url)
        record.clear()
        record.update(normalised)


class NormaliseContent(_Normalise):
    """Replace a v1 content object by the pages / blog_posts record (``schemas/pages.json``)."""

    shape = staticmethod(normalise_content)


class NormaliseSpace(_Normalise):
    """Replace a v2 or v1 space by the space record (``schemas/space.json``)."""

    shape = staticmethod(normalise_space)
