"""Which spaces a content stream's state knows, and the catch-up of the ones it does not.

The content streams read one site-wide `lastmodified` window, so an incremental sync reads what
changed since the last one. A space that became visible since (a grant, a new space with imported
content, ``space_keys`` extended) has older content that window never reaches. So the state keeps
the keys of the spaces its syncs covered (``spaces``, sorted), and a sync that sees a space the state
does not know also reads that space alone over the time its normal windows skip: from the start of
the content up to where the incremental window begins, and every stretch between. Every other space
was read over that time already, so the catch-up's windows may join the state's stretches.

A space is recorded as known only once all its catch-up windows are done: a sync killed half way
catches it up again. A state without the list (written before it existed, or the first sync) takes
the spaces visible now as known: no surprise re-read. A space that is no longer visible is
forgotten, so if it comes back its content is read again. When the visible spaces cannot be listed
(see ``visible_spaces``), the state keeps the list it had and nothing is caught up.

This module is the bookkeeping only; ``checkpoints.PageCheckpointingCursor`` cuts the slices.
"""

import threading
from datetime import datetime, timedelta
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

STATE_KEY = "spaces"
Window = Tuple[datetime, datetime]


def remembered_spaces(stream_state: Any) -> Optional[Set[str]]:
    """The space keys a state knows, or None when it has no list (or a list this version cannot read)."""
    keys = stream_state.get(STATE_KEY) if isinstance(stream_state, Mapping) else None
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        return None
    return set(keys)


def windows_not_read(normal: Sequence[Window], start: datetime, granularity: timedelta) -> List[Window]:
    """The time from ``start`` up to the last normal window that no normal window covers.

    Normal windows are the gaps in the state and the incremental window; what lies between them is
    the state's stretches, read before for every space the state knows.
    """
    missing: List[Window] = []
    cursor = start
    for window_start, window_end in sorted(normal):
        if window_start > cursor:
            missing.append((cursor, window_start - granularity))
        cursor = max(cursor, window_end + granularity)
    return missing


class SpaceCatchUp:
    """The known spaces of one stream in one sync, and the catch-up windows still running per space."""

    def __init__(self, remembered: Optional[Set[str]], visible: Optional[Sequence[str]], since: Optional[datetime] = None) -> None:
        self.since = since  # where a catch-up starts: the start of the content
        self._lock = threading.Lock()
        self._pending: Dict[str, int] = {}
        if visible is None:
            self._known, self.new = remembered, []
        elif remembered is None:
            self._known, self.new = set(visible), []
        else:
            self._known, self.new = remembered & set(visible), sorted(set(visible) - remembered)

    def recorded(self) -> Optional[List[str]]:
        """What the state says: the known spaces, sorted; None when nothing is known."""
        with self._lock:
            return None if self._known is None else sorted(self._known)

    def cut_into(self, space_key: str, windows: int) -> None:
        """The catch-up of ``space_key`` is cut into ``windows`` windows (none: nothing to catch up)."""
        with self._lock:
            if windows:
                self._pending[space_key] = windows
            elif self._known is not None:
                self._known.add(space_key)

    def window_done(self, space_key: str) -> bool:
        """One catch-up window of the space is read; True when that was its last one."""
        with self._lock:
            left = self._pending.get(space_key)
            if left is None:
                return False
            if left > 1:
                self._pending[space_key] = left - 1
                return False
            del self._pending[space_key]
            if self._known is not None:
                self._known.add(space_key)
            return True
