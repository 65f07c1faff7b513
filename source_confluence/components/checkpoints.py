"""A state after every page of results, not only when a `lastmodified` window is done.

The CDK's concurrent cursor emits state when a partition closes, and a partition of the content
streams is a whole time window: on a first sync a twentieth of the site, on a later sync everything
changed since the last one. A sync killed half way through a window would read all of it again.

The CQL listing is ordered by `lastmodified` ascending, so once the records of a page of results are
out, everything in that window up to the last one's cursor value is done. For the oldest window
still being read, that moves the sync's cursor; this cursor then adds the finished part of the
window to its state and emits it. Later windows' progress is kept and counts once the windows before
them are done. If a listing ever comes back out of order, the cursor stops doing this for the rest
of the sync and falls back to the CDK's per-window state.

The claim is inclusive: a record with the same cursor value on the next page is read again by the
next sync (the window starts at the saved value, minus the lookback), never lost.

Why Python: the manifest's `DatetimeBasedCursor` has no such option and airbyte-cdk 7.39 accepts no
custom cursor in `incremental_sync`. The source gives the content streams' cursors this class once
the CDK has built them (``SourceConfluence.streams``), and the pagination strategy, which the CDK
calls in the reading thread after a page's records have been queued and observed, says when a page
ends (``page_done``).
"""

import threading
from typing import Any, Optional

from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor
from airbyte_cdk.sources.types import Record

# The cursor and window of the records this thread observed since the last page ended.
_unfinished_page = threading.local()


class PageCheckpointingCursor(ConcurrentCursor):
    """A ``ConcurrentCursor`` that also emits state when a page of an ordered listing is done.

    It adds no attributes of its own, so an existing cursor can take this class (see
    ``checkpoint_every_page``) with the state the CDK built for it.
    """

    def observe(self, record: Record) -> None:
        super().observe(record)
        _unfinished_page.cursor = self
        _unfinished_page.window = record.associated_slice

    def close_partition(self, partition: Any) -> None:
        if getattr(_unfinished_page, "cursor", None) is self:
            _unfinished_page.cursor = None  # the window's own state covers it
        super().close_partition(partition)

    def checkpoint_window_progress(self, window: Any) -> None:
        """Record that the window is read up to its newest record so far, and emit the state if it moved."""
        if not self._is_ascending_order or not self._slice_boundary_fields:
            return
        newest = self._most_recent_cursor_value_per_partition.get(window)
        if newest is None:
            return
        converter = self._connector_state_converter
        start = converter.parse_value(window[self._slice_boundary_fields[self._START_BOUNDARY]])
        with self._lock:
            slices = self._concurrent_state.setdefault("slices", [])
            slices.append({converter.START_KEY: start, converter.END_KEY: newest, converter.MOST_RECENT_RECORD_KEY: newest})
            self._merge_partitions()
            if self.state != self._connector_state_manager.get_stream_state(self._stream_name, self._stream_namespace):
                self._emit_state_message()


def page_done() -> None:
    """Called by the pagination strategy after a page's records: checkpoint the window they came from."""
    cursor: Optional[PageCheckpointingCursor] = getattr(_unfinished_page, "cursor", None)
    if cursor is None:
        return
    _unfinished_page.cursor = None
    cursor.checkpoint_window_progress(_unfinished_page.window)


def checkpoint_every_page(cursor: Any) -> bool:
    """Give a CDK-built ``ConcurrentCursor`` this behaviour; False (unchanged) for any other cursor."""
    if type(cursor) is not ConcurrentCursor:
        return False
    cursor.__class__ = PageCheckpointingCursor
    return True
