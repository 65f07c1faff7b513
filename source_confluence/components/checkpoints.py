"""A state after every page of results, not only when a `lastmodified` window is done.

The CDK's concurrent cursor emits state when a partition closes, and a partition of the content
streams is a whole time window: on a first sync a twentieth of the site, on a later sync everything
changed since the last one. A sync killed half way through a window would read all of it again.

The CQL listing is ordered by `lastmodified` ascending, so once the records of a page of results are
out, the window is done up to the last one's cursor value. This cursor then adds that stretch of
time to its state and emits it. The state is the CDK's `date-range` form: the list of stretches
already read, not one cursor value, so the windows read side by side all keep their progress, and
a resumed sync reads the gaps between them and what follows the last one (minus the lookback).
The state also keeps `lastModifiedAt`, the value up to which everything is read, as 0.2.0 wrote it;
a state from 0.2.0 (only that value) is read as one stretch ending there.

A stretch ends just before its last record's value: records with that same value on the next page
are read again by a resumed sync, never lost. The last stretch ends at its newest record (see
``state``). If a listing ever comes back out of order, the cursor
stops doing this for the rest of the sync and the CDK's per-window state remains.

Why Python: the manifest's `DatetimeBasedCursor` has no such option and airbyte-cdk 7.39 accepts no
custom cursor in `incremental_sync`. The source gives the content streams' cursors this class once
the CDK has built them (``SourceConfluence.streams``), and the pagination strategy, which the CDK
calls in the reading thread after a page's records have been queued and observed, says when a page
ends (``page_done``).

The same cursor also reads the older content of spaces its state does not know yet (see
``space_catch_up``): extra slices narrowed to one space (``stream_partition.space_key`` in the
manifest's CQL), and the state's ``spaces`` list. Upstream hooks that would remove the class swap:
a custom cursor in ``incremental_sync``, or a state-persisted extra-slices hook on ``ConcurrentCursor``.
"""

import threading
from datetime import timedelta
from typing import Any, Iterable, MutableMapping, Optional, Sequence

from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor
from airbyte_cdk.sources.streams.concurrent.state_converters.abstract_stream_state_converter import (
    ConcurrencyCompatibleStateType,
)
from airbyte_cdk.sources.types import Record, StreamSlice

from source_confluence.components.endpoints import parse_instant
from source_confluence.components.space_catch_up import STATE_KEY, SpaceCatchUp, remembered_spaces, windows_not_read

# The slice partition field that narrows the manifest's CQL to one space.
SPACE_PARTITION_FIELD = "space_key"

# The cursor and window of the records this thread observed since the last page ended.
_unfinished_page = threading.local()


class PageCheckpointingCursor(ConcurrentCursor):
    """A ``ConcurrentCursor`` that also emits state when a page of an ordered listing is done.

    An existing cursor takes this class (see ``checkpoint_every_page``) with the state the CDK built
    for it; its only attribute of its own is the space catch-up, set by ``catch_up_new_spaces``.
    """

    def catch_up_new_spaces(self, visible: Optional[Sequence[str]], content_start: Optional[str]) -> None:
        """Before the sync: compare the visible spaces with the state's list (``space_catch_up``)."""
        self._space_catch_up = SpaceCatchUp(remembered_spaces(self._concurrent_state), visible, parse_instant(content_start))

    def stream_slices(self) -> Iterable[StreamSlice]:
        """The CDK's windows, then each new space alone over the time those windows leave out."""
        normal = list(super().stream_slices())
        yield from normal
        catch_up: Optional[SpaceCatchUp] = getattr(self, "_space_catch_up", None)
        if catch_up is None or not catch_up.new or catch_up.since is None or not self._slice_boundary_fields:
            return
        converter = self._connector_state_converter
        start_field, end_field = self._slice_boundary_fields
        read = [(converter.parse_value(window[start_field]), converter.parse_value(window[end_field])) for window in normal]
        missing = windows_not_read(read, catch_up.since, self._cursor_granularity or timedelta(0))
        for space_key in catch_up.new:
            catch_up.cut_into(space_key, len(missing))
        for space_key in catch_up.new:
            for lower, upper in missing:
                yield StreamSlice(
                    partition={SPACE_PARTITION_FIELD: space_key},
                    cursor_slice={start_field: converter.output_format(lower), end_field: converter.output_format(upper)},
                )

    @property
    def state(self) -> MutableMapping[str, Any]:
        """Every stretch read so far, since one cursor value cannot describe windows read side by side;
        and, for people and tools reading it, ``lastModifiedAt``: everything up to it is read.

        The last stretch ends at its newest record, not at the sync's upper bound: the next sync
        starts there (minus the lookback), so an edit Confluence indexed after this sync asked for its
        minute is still found, as with 0.2.0's single cursor value.
        """
        converter = self._connector_state_converter
        state = converter.serialize(self._concurrent_state, ConcurrencyCompatibleStateType.date_range)
        stretches = sorted(state["slices"], key=lambda stretch: converter.parse_value(stretch[converter.START_KEY]))
        if stretches:
            first, last = stretches[0], stretches[-1]
            newest = last.get(converter.MOST_RECENT_RECORD_KEY)
            if newest and converter.parse_value(newest) < converter.parse_value(last[converter.END_KEY]):
                last[converter.END_KEY] = newest
            state[self.cursor_field.cursor_field_key] = first.get(converter.MOST_RECENT_RECORD_KEY) or first[converter.START_KEY]
        state["slices"] = stretches
        catch_up: Optional[SpaceCatchUp] = getattr(self, "_space_catch_up", None)
        spaces = catch_up.recorded() if catch_up is not None else self._concurrent_state.get(STATE_KEY)
        if spaces is not None:
            state[STATE_KEY] = spaces
        return state

    def observe(self, record: Record) -> None:
        super().observe(record)
        _unfinished_page.cursor = self
        _unfinished_page.window = record.associated_slice

    def close_partition(self, partition: Any) -> None:
        if getattr(_unfinished_page, "cursor", None) is self:
            _unfinished_page.cursor = None  # the window's own state covers it
        super().close_partition(partition)
        space_key = (getattr(partition.to_slice(), "partition", None) or {}).get(SPACE_PARTITION_FIELD)
        catch_up: Optional[SpaceCatchUp] = getattr(self, "_space_catch_up", None)
        if space_key and catch_up is not None and catch_up.window_done(space_key):
            with self._lock:
                self._emit_state_message()  # the state now knows the space

    def checkpoint_window_progress(self, window: Any) -> None:
        """Record that the window is read up to its newest record so far, and emit the state if it grew."""
        if not self._is_ascending_order or not self._slice_boundary_fields or self._cursor_granularity is None:
            return
        newest = self._most_recent_cursor_value_per_partition.get(window)
        if newest is None:
            return
        converter = self._connector_state_converter
        start = converter.parse_value(window[self._slice_boundary_fields[self._START_BOUNDARY]])
        done_until = newest - self._cursor_granularity  # the next page may hold more records at `newest`
        if done_until < start:
            return
        with self._lock:
            slices = self._concurrent_state.setdefault("slices", [])
            slices.append({converter.START_KEY: start, converter.END_KEY: done_until, converter.MOST_RECENT_RECORD_KEY: done_until})
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


def checkpoint_every_page(cursor: Any, config: Optional[Any] = None) -> bool:
    """Give a CDK-built ``ConcurrentCursor`` this behaviour; False (unchanged) for any other cursor.

    With the normalised config, the cursor also catches up the spaces its state does not know.
    """
    if type(cursor) is not ConcurrentCursor:
        return False
    cursor.__class__ = PageCheckpointingCursor
    derived = (config or {}).get("_derived") or {}
    if "visible_space_keys" in derived:  # filled by NormaliseConfig (components/visible_spaces.py)
        cursor.catch_up_new_spaces(derived["visible_space_keys"], derived.get("content_start"))
    return True
