"""A state after every page of results, not only when a `lastmodified` window is done.

The CDK's concurrent cursor emits state when a partition closes, and a partition of the content
streams is a whole time window: on a first sync a twentieth of the site, on a later sync everything
changed since the last one. A sync killed half way through a window would read all of it again.

The CQL listing is ordered by `lastmodified` ascending, so once the records of a page of results are
out, the window is done up to the last one's cursor value. ``PageCheckpointingCursor`` then adds that
stretch of time to its state and emits it. The state is the CDK's `date-range` form: the list of
stretches already read, not one cursor value, so the windows read side by side all keep their
progress, and a resumed sync reads the gaps between them and what follows the last one (minus the
lookback). The state also keeps `lastModifiedAt`, the value up to which everything is read, as 0.2.0
wrote it; a state from 0.2.0 (only that value) is read as one stretch ending there.

A stretch ends just before its last record's value: records with that same value on the next page
are read again by a resumed sync, never lost. The last stretch ends at its newest record (see
``state``). If a listing ever comes back out of order, the cursor stops doing this for the rest of
the sync and only finished windows are saved.

A state of one stretch also keeps ``read_until``: the upper bound of the windows read, which the last stretch's
end no longer says. The next sync's windows start at the cursor, days back for a stream edited less often than
it is synced, and the time up to ``read_until`` holds nothing to cut them for (``work_windows.unread_span``).

The same cursor also reads the older content of spaces its state does not know yet (see
``space_catch_up``): extra slices narrowed to one space (``stream_partition.space_key`` in the
manifest's CQL), and the state's ``spaces`` list.

Why Python, and how it is wired through public interfaces only: the manifest's
`DatetimeBasedCursor` has no such option and airbyte-cdk 7.39 accepts no custom cursor in
``incremental_sync``, nor a component factory from a declarative source. So:

- ``PageCheckpointingCursor`` implements the CDK's public concurrent ``Cursor``. The windows are the
  CDK's: it asks a ``ConcurrentCursor`` (built by the CDK from the manifest, silenced) for its
  ``stream_slices``; the stretches read are its own, kept with the public state converter.
- The manifest names it: a stream whose ``$parameters`` hold ``checkpoint_cursor:
  source_confluence.components.checkpoints.PageCheckpointingCursor`` gets it (pages, blog_posts,
  comments, attachments). ``PageCheckpointingFactory`` is a ``ModelToComponentFactory`` whose public
  ``create_concurrent_cursor_from_datetime_based_cursor`` wraps the CDK's cursor in it for those
  streams; ``SourceConfluence.streams`` builds them again with it.
- Its first sync's windows are cut to about equal work (``work_windows``), counted through a
  requester built from the stream's own definition. Its request budget
  is a second instance of the manifest's ``api_budget``: the content streams and the other streams
  are each held to it (the CDK keeps its own factory's budget private).
- The pagination strategy, called after a page's records are queued and observed, tells the sync
  (``SyncContext.page_done``) which window a page of which stream ended in.
- A state is handed to the sync (``SyncContext.hold``) with the number of the stream's records it
  covers; ``SourceConfluence.read`` lets it out once that many records of the stream are out.

Upstream changes that would remove this: a custom cursor in ``incremental_sync`` (or a
``component_factory`` argument on ``ConcurrentDeclarativeSource``), and a hook on ``ConcurrentCursor``
to checkpoint inside a partition and to add state-persisted extra slices.
"""

import copy
import threading
from datetime import datetime, timedelta
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional, Sequence, Tuple

from airbyte_cdk.models import AirbyteMessage
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.declarative.interpolation import InterpolatedString
from airbyte_cdk.sources.declarative.models.declarative_component_schema import (
    DatetimeBasedCursor as DatetimeBasedCursorModel,
)
from airbyte_cdk.sources.declarative.models.declarative_component_schema import (
    DeclarativeStream as DeclarativeStreamModel,
)
from airbyte_cdk.sources.declarative.models.declarative_component_schema import HttpRequester as HttpRequesterModel
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.sources.message import InMemoryMessageRepository, NoopMessageRepository
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor, Cursor, CursorField
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.streams.concurrent.state_converters.abstract_stream_state_converter import (
    ConcurrencyCompatibleStateType,
)
from airbyte_cdk.sources.streams.concurrent.state_converters.datetime_stream_state_converter import (
    CustomFormatConcurrentStreamStateConverter,
)
from airbyte_cdk.sources.types import Record, StreamSlice
from isodate import parse_duration

from source_confluence.api.endpoints import parse_instant
from source_confluence.components.space_catch_up import STATE_KEY, SpaceCatchUp, remembered_spaces, windows_not_read
from source_confluence.sync.context import SyncContext, slice_key
from source_confluence.sync.in_flight import workers
from source_confluence.sync.lookup_pool import lookup_pool
from source_confluence.components.work_windows import WorkWindows, count_requester_definition, search_counter

# Streams read from CQL `ORDER BY lastmodified ASC` name this cursor in their manifest `$parameters`
# (`checkpoint_cursor`): a page of results done is a state.
CHECKPOINT_CURSOR_PARAMETER = "checkpoint_cursor"
STREAMS_WITH_BODIES = ("pages", "blog_posts", "comments")

# The slice partition field that narrows the manifest's CQL to one space.
SPACE_PARTITION_FIELD = "space_key"
# The state's key for where its one stretch's windows ended (the module docstring).
READ_UNTIL_KEY = "read_until"


def cursor_instant(value: Any, parse: Any) -> Any:
    """The record's cursor value as a datetime. The records' ``lastModifiedAt`` is ISO 8601 in UTC
    (``...Z``), which ``datetime.fromisoformat`` reads in a fraction of a microsecond; the converter's
    ``strptime`` over each manifest format took 10 µs a record. Anything else goes to the converter."""
    if isinstance(value, str) and value.endswith("Z") and len(value) >= 20 and value[10] == "T":
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return parse(value)


class WindowKeys:
    """A window's key in the cursor's per-window maps, made once per slice object.

    ``StreamSlice`` hashes itself with JSON and SHA-256 on every use (``SliceHasher``): once per record,
    that was a visible share of a sync's CPU. The records of one partition share its slice object, so
    the key is kept by the object's identity (the object is held, so the identity is not reused)."""

    def __init__(self) -> None:
        self._by_identity: Dict[int, Tuple[Any, Any]] = {}

    def __call__(self, window: Any) -> Any:
        entry = self._by_identity.get(id(window))
        if entry is not None and entry[0] is window:
            return entry[1]
        key = slice_key(window) if isinstance(window, StreamSlice) else window
        self._by_identity[id(window)] = (window, key)
        return key


class PageCheckpointingCursor(Cursor):
    """The CDK's windows, a state after every page of results in them, and the new spaces' catch-up."""

    def __init__(
        self,
        stream_name: str,
        windows: ConcurrentCursor,
        stream_state: Mapping[str, Any],
        converter: CustomFormatConcurrentStreamStateConverter,
        slice_boundary_fields: Tuple[str, str],
        cursor_granularity: Optional[timedelta],
        sync: SyncContext,
        catch_up: Optional[SpaceCatchUp] = None,
        work_windows: Optional[WorkWindows] = None,
    ) -> None:
        """``windows`` cuts the slices (its state, lookback and step are the manifest's); ``stream_state``
        is the state it was built from, which this cursor keeps growing."""
        self.stream_name = stream_name
        self.windows = windows
        self.converter = converter
        self.start_field, self.end_field = slice_boundary_fields
        self.granularity = cursor_granularity
        self.sync = sync
        self.catch_up = catch_up
        self.work_windows = work_windows
        self.read_so_far = self._stretches_from(copy.deepcopy(dict(stream_state)))
        self.read_until = self._read_until_from(self.read_so_far)
        self.newest_per_window: MutableMapping[Any, Any] = {}  # by ``window_key``
        self.window_key = WindowKeys()
        self.in_order = True
        self.observed = 0
        self.last_emitted: Optional[Mapping[str, Any]] = None
        self.lock = threading.Lock()
        self.states = ConnectorStateManager()  # this stream's only: builds the state messages

    def _stretches_from(self, stream_state: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        """The state as the CDK's cursor reads it: a date range, or 0.2.0's single value as one stretch."""
        if self.converter.is_state_message_compatible(stream_state):
            return self.converter.deserialize(stream_state)
        # The manifest's start: what a cursor without state starts from.
        start = self.windows.copy_without_state().start
        return self.converter.convert_from_sequential_state(self.windows.cursor_field, stream_state, start)[1]

    def _read_until_from(self, read_so_far: Mapping[str, Any]) -> Optional[datetime]:
        """The state's ``read_until``, if it has one stretch (with gaps, the time before it is not all read)."""
        value = read_so_far.get(READ_UNTIL_KEY)
        if not isinstance(value, str) or len(read_so_far.get("slices") or []) != 1:
            return None
        try:
            return self.converter.parse_value(value)
        except ValueError:
            return None

    @property
    def cursor_field(self) -> CursorField:
        return self.windows.cursor_field

    def stream_slices(self) -> Iterable[StreamSlice]:
        """The CDK's windows (cut to about equal work when there are several, ``work_windows``), then each
        new space alone over the time those windows leave out."""
        self.sync.read_started()  # the look-ups the first page of results would wait for (``at_read_start``)
        yield from self._windows()

    def _windows(self) -> Iterable[StreamSlice]:
        normal = list(self.windows.stream_slices())
        parse, output = self.converter.parse_value, self.converter.output_format
        if self.work_windows is None or not normal or any(window.partition for window in normal):
            yield from normal
        else:
            bounds = [(parse(window[self.start_field]), parse(window[self.end_field])) for window in normal]
            for start, end in self.work_windows.cut(bounds, self.read_until):
                yield StreamSlice(partition={}, cursor_slice={self.start_field: output(start), self.end_field: output(end)})
        catch_up = self.catch_up
        if catch_up is None or not catch_up.new or catch_up.since is None:
            return
        read = [(parse(window[self.start_field]), parse(window[self.end_field])) for window in normal]
        missing = windows_not_read(read, catch_up.since, self.granularity or timedelta(0))
        for space_key in catch_up.new:
            catch_up.cut_into(space_key, len(missing))
        for space_key in catch_up.new:
            for lower, upper in missing:
                yield StreamSlice(
                    partition={SPACE_PARTITION_FIELD: space_key},
                    cursor_slice={self.start_field: self.converter.output_format(lower), self.end_field: self.converter.output_format(upper)},
                )

    def should_be_synced(self, record: Record) -> bool:
        return self.windows.should_be_synced(record)

    @property
    def state(self) -> MutableMapping[str, Any]:
        """Every stretch read so far, since one cursor value cannot describe windows read side by side;
        and, for people and tools reading it, ``lastModifiedAt``: everything up to it is read.

        The last stretch ends at its newest record, not at the sync's upper bound: the next sync
        starts there (minus the lookback), so an edit Confluence indexed after this sync asked for its
        minute is still found, as with 0.2.0's single cursor value.
        """
        converter = self.converter
        start_key, end_key, newest_key = converter.START_KEY, converter.END_KEY, converter.MOST_RECENT_RECORD_KEY
        # Sorted and compared as datetimes, written once: this runs after every page, and parsing the written
        # values back was most of its cost.
        read = sorted(self.read_so_far.get("slices", []), key=lambda stretch: stretch[start_key])
        state = converter.serialize({"slices": read}, ConcurrencyCompatibleStateType.date_range)
        stretches = state["slices"]
        if len(read) == 1:  # everything is read up to the windows' end (the module docstring)
            read_until = read[0][end_key]
            if self.read_until is not None and self.read_until > read_until:
                read_until = self.read_until
            state[READ_UNTIL_KEY] = converter.output_format(read_until)
        if read:
            newest = read[-1].get(newest_key)
            if newest and newest < read[-1][end_key]:
                stretches[-1][end_key] = stretches[-1][newest_key]
            state[self.cursor_field.cursor_field_key] = stretches[0].get(newest_key) or stretches[0][start_key]
        spaces = self.catch_up.recorded() if self.catch_up is not None else remembered_spaces(self.read_so_far)
        if spaces is not None:
            state[STATE_KEY] = sorted(spaces)
        return state

    def observe(self, record: Record) -> None:
        """Called for every record: kept cheap (see ``cursor_instant`` and ``WindowKeys``)."""
        try:
            value = cursor_instant(self.cursor_field.extract_value(record), self.converter.parse_value)
        except ValueError:
            value = None
        window = self.window_key(record.associated_slice)
        with self.lock:
            self.observed += 1
            if value is None:
                return
            newest = self.newest_per_window.get(window)
            if newest is None or newest < value:
                self.newest_per_window[window] = value
            elif newest > value:
                self.in_order = False

    def close_partition(self, partition: Partition) -> None:
        """Called by the worker that read the partition, once its last record is queued."""
        window = partition.to_slice()
        with self.lock:
            space_key = (getattr(window, "partition", None) or {}).get(SPACE_PARTITION_FIELD)
            if space_key and self.catch_up is not None:
                self.catch_up.window_done(space_key)  # the state now knows the space if that was its last window
            self._add_stretch(
                self.converter.parse_value(window[self.start_field]),
                self.converter.parse_value(window[self.end_field]),
                self.newest_per_window.get(self.window_key(window)),
            )
            self._emit()

    def checkpoint_window(self, window: Any) -> None:
        """Record that the window is read up to its newest record so far, and emit the state if it grew."""
        if self.granularity is None or not window:
            return
        with self.lock:
            newest = self.newest_per_window.get(self.window_key(window))
            if not self.in_order or newest is None:
                return
            start = self.converter.parse_value(window[self.start_field])
            done_until = newest - self.granularity  # the next page may hold more records at `newest`
            if done_until < start:
                return
            self._add_stretch(start, done_until, done_until)
            state = self.state
            if state != self.last_emitted:
                self._emit(state)

    def ensure_at_least_one_state_emitted(self) -> None:
        with self.lock:
            self._emit()

    def _add_stretch(self, start: Any, end: Any, newest: Any) -> None:
        converter = self.converter
        stretches: List[MutableMapping[str, Any]] = self.read_so_far.setdefault("slices", [])
        stretches.append({converter.START_KEY: start, converter.END_KEY: end, converter.MOST_RECENT_RECORD_KEY: newest})
        self.read_so_far["slices"] = converter.merge_intervals(stretches)

    def _emit(self, state: Optional[MutableMapping[str, Any]] = None) -> None:
        """Hand the state to the sync, to go out once the records this cursor observed are out."""
        state = self.state if state is None else state
        self.last_emitted = state
        self.states.update_state_for_stream(self.stream_name, None, state)
        self.sync.hold(self.states.create_state_message(self.stream_name, None), self.stream_name, self.observed)


class HeldMessages(InMemoryMessageRepository):
    """The messages of the streams built by ``PageCheckpointingFactory`` (logs, mostly), handed to the
    sync, which lets them out with the CDK's own (``SourceConfluence.read``)."""

    def __init__(self, sync: SyncContext) -> None:
        super().__init__()
        self.sync = sync

    def emit_message(self, message: AirbyteMessage) -> None:
        self.sync.hold(message)


class PageCheckpointingFactory(ModelToComponentFactory):
    """The CDK's component factory, but the content streams' cursors checkpoint every page."""

    def __init__(self, sync: SyncContext, **kwargs: Any) -> None:
        super().__init__(message_repository=HeldMessages(sync), **kwargs)
        self.sync = sync
        # The manifest's definitions of the streams being built (``checkpointing_streams``), by name.
        self.stream_definitions: Mapping[str, Mapping[str, Any]] = {}

    def work_windows_for(
        self, stream_name: str, config: Mapping[str, Any], boundaries: Tuple[str, str], output: Any, granularity: Optional[timedelta]
    ) -> Optional[WorkWindows]:
        """Counting with the stream's own query on `search` (``work_windows``), when there is more than one worker."""
        definition = count_requester_definition(copy.deepcopy(self.stream_definitions.get(stream_name)))
        num_workers = workers(config)
        if definition is None or num_workers < 2:
            return None
        requester = self.create_component(HttpRequesterModel, definition, config, name=f"{stream_name}_window_counts")
        # The streams with bodies start the Markdown pool's processes as soon as they know there are many.
        on_total = self.sync.markdown.expect if stream_name in STREAMS_WITH_BODIES else None
        return WorkWindows(
            search_counter(requester, boundaries, output), lookup_pool(config), num_workers,
            granularity or timedelta(0), on_total,
        )

    def create_concurrent_cursor_from_datetime_based_cursor(  # type: ignore[override]
        self,
        model_type: Any,
        component_definition: Mapping[str, Any],
        stream_name: str,
        stream_namespace: Optional[str],
        stream_state: MutableMapping[str, Any],
        config: Mapping[str, Any],
        message_repository: Any = None,
        runtime_lookback_window: Optional[timedelta] = None,
        **kwargs: Any,
    ) -> Cursor:
        windows = super().create_concurrent_cursor_from_datetime_based_cursor(
            model_type,
            component_definition,
            stream_name,
            stream_namespace,
            copy.deepcopy(stream_state),
            config,
            message_repository=NoopMessageRepository(),  # it only cuts the windows: its state never goes out
            runtime_lookback_window=runtime_lookback_window,
            **kwargs,
        )
        model = DatetimeBasedCursorModel.parse_obj(component_definition)
        parameters = model.parameters or {}
        if not names_this_cursor(parameters):
            return windows
        granularity = parse_duration(model.cursor_granularity) if model.cursor_granularity else None
        converter = CustomFormatConcurrentStreamStateConverter(
            datetime_format=model.datetime_format,
            input_datetime_formats=model.cursor_datetime_formats,
            is_sequential_state=True,
            cursor_granularity=granularity,
        )
        boundaries = (
            InterpolatedString.create(model.partition_field_start or "start_time", parameters=parameters).eval(config=config),
            InterpolatedString.create(model.partition_field_end or "end_time", parameters=parameters).eval(config=config),
        )
        cursor = PageCheckpointingCursor(
            stream_name, windows, stream_state, converter, boundaries, granularity, self.sync, catch_up_for(config, stream_state),
            self.work_windows_for(stream_name, config, boundaries, converter.output_format, granularity),
        )
        self.sync.checkpoint_pages_of(stream_name, cursor)
        return cursor


def names_this_cursor(parameters: Mapping[str, Any]) -> bool:
    """Whether a stream's ``$parameters`` ask for ``PageCheckpointingCursor``; a name of another class is a
    mistake in the manifest, said at start-up rather than read without checkpoints."""
    named = (parameters or {}).get(CHECKPOINT_CURSOR_PARAMETER)
    if not named:
        return False
    this = f"{PageCheckpointingCursor.__module__}.{PageCheckpointingCursor.__qualname__}"
    if named != this:
        raise ValueError(f"manifest: {CHECKPOINT_CURSOR_PARAMETER} names {named!r}; the only cursor it can name is {this}.")
    return True


def catch_up_for(config: Mapping[str, Any], stream_state: Mapping[str, Any]) -> Optional[SpaceCatchUp]:
    """With the normalised config, the spaces the state does not know are caught up (``space_catch_up``)."""
    derived = (config or {}).get("_derived") or {}
    if "visible_space_keys" not in derived:  # filled by NormaliseConfig (components/visible_spaces.py)
        return None
    return SpaceCatchUp(remembered_spaces(stream_state), derived["visible_space_keys"], parse_instant(derived.get("content_start")))


def ordered_content_definitions(definitions: Sequence[Any]) -> List[Mapping[str, Any]]:
    """The manifest's top-level stream definitions whose ``$parameters`` name ``PageCheckpointingCursor``: the
    streams ``PageCheckpointingFactory`` builds (``SourceConfluence.streams``)."""
    return [
        d
        for d in definitions
        if isinstance(d, Mapping) and d.get("type") == "DeclarativeStream" and names_this_cursor(d.get("$parameters") or {})
    ]


def build_ordered_content_streams(
    definitions: Sequence[Mapping[str, Any]], factory: PageCheckpointingFactory, config: Mapping[str, Any]
) -> List[Any]:
    """Each of ``definitions`` (``ordered_content_definitions``) built by ``factory``, so its cursor checkpoints every page."""
    factory.stream_definitions = {d.get("name"): d for d in definitions}
    return [factory.create_component(DeclarativeStreamModel, copy.deepcopy(dict(d)), config) for d in definitions]
