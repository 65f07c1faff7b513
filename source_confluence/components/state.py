"""Carry a 0.1.0 state (one cursor per space) over to the site-wide cursor of the CQL content streams.

0.1.0 read pages, blog posts, comments and attachments one space at a time and kept a cursor per
space. The streams now read one site-wide window, whose state is a single ``lastModifiedAt``. Handed
the old shape, the CDK would find no cursor and silently re-read everything; instead the oldest
space cursor becomes the site cursor: what changed after it in any space is read again (a few
duplicates that de-duplication on ``id`` absorbs), nothing is skipped.

Why Python: a declarative ``state_migrations`` entry can only be a custom class.
"""

from dataclasses import InitVar, dataclass
from typing import Any, List, Mapping, Optional

from airbyte_cdk.sources.declarative.migrations.state_migration import StateMigration
from airbyte_cdk.sources.types import Config

from source_confluence.components.endpoints import parse_instant

CURSOR_FIELD = "lastModifiedAt"


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
