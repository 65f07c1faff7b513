"""The content streams' state handling beside the manifest's ``state_migrations``.

Carry a 0.1.0 state (one cursor per space) over to the site-wide cursor of the CQL content streams.

0.1.0 read pages, blog posts, comments and attachments one space at a time and kept a cursor per
space. The streams now read one site-wide window, whose state is a single ``lastModifiedAt``. Handed
the old shape, the CDK would find no cursor and silently re-read everything; instead the oldest
space cursor becomes the site cursor: what changed after it in any space is read again (a few
duplicates that de-duplication on ``id`` absorbs), nothing is skipped.

Why Python: a declarative ``state_migrations`` entry can only be a custom class.

``parse_state`` turns the state file into Airbyte state messages, or says what is wrong with it, before
the sync starts (the console entry point, launch.py): a legacy per-stream object becomes per-stream
messages, and a ``date-range`` state (components/checkpoints.py) whose stretches the cursor could not
read (``unreadable_stretch``) is refused rather than silently read from the start.
"""

from dataclasses import InitVar, dataclass
from datetime import datetime
from typing import Any, List, Mapping, Optional

import orjson
from airbyte_cdk.models import AirbyteStateMessageSerializer, FailureType
from airbyte_cdk.sources.declarative.migrations.state_migration import StateMigration
from airbyte_cdk.sources.types import Config
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_confluence.config_spec import manifest
from source_confluence.api.endpoints import parse_instant

CURSOR_FIELD = "lastModifiedAt"
STATE_TYPES = ("STREAM", "GLOBAL", "LEGACY")


def state_error(message: str) -> AirbyteTracedException:
    return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.config_error)


def is_per_space_state(state: Any) -> bool:
    return isinstance(state, Mapping) and isinstance(state.get("states"), list) and CURSOR_FIELD not in state


def site_state_from_space_states(state: Mapping[str, Any]) -> Mapping[str, Any]:
    """The oldest space cursor as the site cursor; no cursor at all means nothing was synced yet."""
    values: List[str] = []
    for entry in state.get("states") or []:
        cursor = (entry or {}).get("cursor") if isinstance(entry, Mapping) else None
        if isinstance(cursor, Mapping) and parse_instant(cursor.get(CURSOR_FIELD)):
            values.append(cursor[CURSOR_FIELD])
    if not values:
        return {}
    return {CURSOR_FIELD: min(values, key=parse_instant)}


@dataclass
class SiteCursorFromSpaceCursors(StateMigration):
    """For pages, blog_posts, comments and attachments; with ``parent_stream``, for the copy of a
    parent's state that a child keeps (page_versions keeps the pages cursor it depends on)."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    parent_stream: Optional[str] = None

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        pass

    def _target(self, stream_state: Mapping[str, Any]) -> Any:
        if not self.parent_stream:
            return stream_state
        return ((stream_state or {}).get("parent_state") or {}).get(self.parent_stream)

    def should_migrate(self, stream_state: Mapping[str, Any]) -> bool:
        return is_per_space_state(self._target(stream_state))

    def migrate(self, stream_state: Mapping[str, Any]) -> Mapping[str, Any]:
        migrated = site_state_from_space_states(self._target(stream_state))
        if not self.parent_stream:
            return migrated
        parents = {**stream_state["parent_state"], self.parent_stream: migrated}
        return {**stream_state, "parent_state": parents}


def is_cursor_time(value: Any) -> bool:
    """A time the content streams' cursor can read: one of its formats in the manifest."""
    for time_format in manifest()["definitions"]["last_modified_cursor"]["cursor_datetime_formats"]:
        try:
            datetime.strptime(value, time_format)
            return True
        except (TypeError, ValueError):
            continue
    return False


def unreadable_stretch(stream_state: Any) -> Any:
    """In a ``date-range`` state, the first entry of ``slices`` that is not an object with a ``start`` and an
    ``end`` the cursor can read; None when all are (or the state is not a date range)."""
    if not isinstance(stream_state, Mapping) or stream_state.get("state_type") != "date-range":
        return None
    stretches = stream_state.get("slices")
    if not isinstance(stretches, list):
        return stretches
    for stretch in stretches:
        if not isinstance(stretch, Mapping) or not all(is_cursor_time(stretch.get(key)) for key in ("start", "end")):
            return stretch
    return None


def parse_state(document: Any) -> List[Any]:
    """Airbyte state messages from a state file, or a config_error that says what is wrong with it.

    A JSON object is the pre-per-stream (legacy) format, `{"<stream>": {<stream state>}}`: it is
    migrated to one per-stream message each, which the streams' cursors then migrate further. Anything
    else that is not a list of state messages is refused: a sync must never silently start over.
    """
    hint = (
        "Fix or remove the state (in Airbyte: reset the connection's state), or restore the state a previous "
        "sync of this connector wrote."
    )
    if document is None or document == [] or document == {}:
        return []
    if isinstance(document, Mapping):
        if all(isinstance(value, Mapping) for value in document.values()):
            document = [
                {"type": "STREAM", "stream": {"stream_descriptor": {"name": str(name)}, "stream_state": dict(value)}}
                for name, value in document.items()
            ]
        else:
            bad = next(str(name) for name, value in document.items() if not isinstance(value, Mapping))
            raise state_error(
                f"The state is not a list of Airbyte state messages, and as a legacy per-stream object its entry {bad!r} "
                f"is not an object. {hint}"
            )
    if not isinstance(document, list):
        raise state_error(f"The state must be a list of Airbyte state messages; got a JSON {type(document).__name__}. {hint}")
    messages = []
    for index, item in enumerate(document):
        where = f"State message #{index + 1}"
        if not isinstance(item, Mapping):
            raise state_error(f"{where} is not an object (got {orjson.dumps(item).decode()[:60]}). {hint}")
        kind = item.get("type", "LEGACY" if "data" in item else None)
        if kind not in STATE_TYPES:
            raise state_error(f"{where} has type {kind!r}; expected one of {', '.join(STATE_TYPES)}. {hint}")
        if kind == "STREAM":
            stream = item.get("stream")
            if not isinstance(stream, Mapping) or not isinstance(stream.get("stream_descriptor"), Mapping) or not isinstance(
                stream["stream_descriptor"].get("name"), str
            ):
                raise state_error(f"{where} (type STREAM) has no stream.stream_descriptor.name. {hint}")
            stream_state = stream.get("stream_state")
            if stream_state is not None and not isinstance(stream_state, Mapping):
                raise state_error(
                    f"{where}: the state of stream {stream['stream_descriptor']['name']!r} is not an object "
                    f"(got {orjson.dumps(stream_state).decode()[:60]}). {hint}"
                )
            bad_stretch = unreadable_stretch(stream_state)
            if bad_stretch is not None:
                raise state_error(
                    f"{where}: the state of stream {stream['stream_descriptor']['name']!r} lists a stretch of time "
                    f"without a valid start and end (got {orjson.dumps(bad_stretch).decode()[:80]}). {hint}"
                )
        if kind == "GLOBAL" and not isinstance(item.get("global"), Mapping):
            raise state_error(f"{where} (type GLOBAL) has no 'global' object. {hint}")
        try:
            messages.append(AirbyteStateMessageSerializer.load(dict(item)))
        except Exception as error:
            raise state_error(f"{where} is not a valid Airbyte state message ({type(error).__name__}). {hint}") from None
    return messages
