"""Cut a sync of the CQL content streams by work, not by calendar.

On a real site most edits are recent: cut into equal stretches of time, the newest window of a first
sync held a quarter of the site and was walked page after page, alone, long after the others were done
(issue #16: 9 s of a 16 s sync). So the windows the manifest's cursor cuts (equal in time) are counted,
with the stream's own CQL query asked of `/rest/api/search`, whose `totalSize` Atlassian documents
(`content/search` does not have it on Cloud), one request of one result each:

* the windows are counted together first, one count for each stretch of windows that touch (a first
  sync's are one stretch), which gives the stream's total;
* a window that holds more than the target is cut into as many equal stretches of time as it needs,
  which are counted again, until each holds about the target or is one minute long (CQL's precision).
  The query is ordered by `lastmodified`, so the count's one result is the window's first edit: the
  cuts are spread from there, not from the window's start. That is how a first sync finds where the
  site's content begins (its window starts in 1970, or at ``start_date``) without a request of its own;
* a part no denser than the average part of its window, holding at most two and a half times the target,
  is halved in time and its halves are read uncounted. On an evenly edited site that is every part of the
  first cut: a second round of counts (a third of a 20,000-page sync's) only delayed the first walks.
  A denser part holds the recent skew or a burst, and is counted again (bench/NOTES.md);
* neighbouring windows that hold little are merged into one (an empty window still costs a request);
* a part that holds more than the target (or could not be counted) is never merged, so it is settled as soon
  as its own count is in, not when its siblings' are: on a big site the first walks start while the rest of
  the first cut is still being counted, instead of after the last count (bench/NOTES.md).

The target is the stream's total divided by ``WINDOWS_PER_SLOT`` windows per slot of the ``num_workers``
budget, at least ``MINIMUM_ITEMS`` (a few pages of 50: smaller windows cost more requests than they save) and at
most ``MAXIMUM_ITEMS``. Four windows a slot sent 2–4% fewer requests than six, as fast or faster
(bench/NOTES.md). The counts run in the sync's look-up pool (within ``num_workers`` requests in flight), and
windows are handed to the CDK as soon as they are settled, so reading starts while the busy stretches are
still being cut.

A count that fails or has no ``totalSize`` leaves its window as it is: slower, never wrong. Records
are kept to their window by ``InSliceWindow`` whatever the cut, so the cut changes requests, not output.
"""

from __future__ import annotations

import itertools
import logging
import math
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

from airbyte_cdk.sources.declarative.requesters.requester import Requester
from airbyte_cdk.sources.types import StreamSlice

from source_confluence.api.endpoints import parse_instant
from source_confluence.sync.lookup_pool import LookupPool
from source_confluence.api.response_json import json_body

LOGGER = logging.getLogger("airbyte")

WINDOWS_PER_SLOT = 4
MINIMUM_ITEMS = 300
# At most 40 pages of 50 walked one after the other: on a big site, larger windows would leave the last few
# walked alone, with the budget's other slots idle (the floor, bench/floor.py, caps its windows the same).
MAXIMUM_ITEMS = 2000
# A part of BURST_SPAN or less holding this share of the window it was cut from, twice in a row, is a burst
# (a bulk edit, an import): cutting it again in equal stretches of time would only find it again, one level
# down, so it is read whole.
BURST_SHARE = 0.9
BURST_SPAN = timedelta(days=1)
# Windows spanning less than this in all are read as they are: a later sync's tail and the gaps its state left.
# Two days, so that a daily sync (a day, the lookback and the schedule's jitter) is not counted: its count would
# cost a request per stream every day to find, nearly always, that a day's edits need no cut. A first sync, or
# one after a longer pause, is counted. Time an earlier sync read already does not count (``unread_span``).
COUNTED_SPAN = timedelta(days=2)
# A window is cut into at most this many parts at a time; the parts are counted again.
MAXIMUM_PARTS = 16
# A part holding at most this many times the target, and no more than EVEN_DENSITY times the average part of
# its window, is halved in time and the halves are read uncounted (module docstring).
UNCOUNTED_HALVES = 2.5
EVEN_DENSITY = 1.25
# CQL dates have minute precision: a shorter window cannot be told apart from its neighbours.
SHORTEST_WINDOW = timedelta(minutes=1)

Window = Tuple[datetime, datetime]  # first and last instant, both inclusive


class WindowCount(NamedTuple):
    """What one count says of a window: how many items it holds, and its first edit when the answer names it."""

    total: int
    first_edit: Optional[datetime] = None


# A counter answers a WindowCount, a bare total, or None when Confluence does not say.
Counter = Callable[[Window], Union[WindowCount, int, None]]


class PartGroup(NamedTuple):
    """The parts of one window being counted: the window's count, whether it was a burst in its own parent,
    the parts not settled yet with their counts' futures, and how many parts the window was cut into."""

    parent_count: int
    parent_was_burst: bool
    parts: List[Tuple[Window, Any]]
    siblings: int


def unread_span(windows: Sequence[Window], read_until: Optional[datetime] = None) -> timedelta:
    """How much of the windows' time lies after ``read_until``, all of it without one.

    A stream's cursor is its newest record, so a stream edited less often than it is synced (blog posts,
    comments on most sites) starts each sync's window days back, although the last sync read up to minutes
    ago. What the window holds before ``read_until`` was read then, bar the few edits Confluence indexed late
    (what the lookback is for): too little to cut, so that time does not make the window worth counting."""
    if read_until is None:
        return sum((end - start for start, end in windows), timedelta(0))
    return sum((end - max(start, read_until) for start, end in windows if end > read_until), timedelta(0))


def target_items(total: int, num_workers: int) -> int:
    share = math.ceil(total / max(1, WINDOWS_PER_SLOT * num_workers))
    return min(MAXIMUM_ITEMS, max(MINIMUM_ITEMS, share))


def split(window: Window, parts: int, granularity: timedelta, first_edit: Optional[datetime] = None) -> List[Window]:
    """``window`` cut into ``parts`` equal stretches (at whole minutes, each at least one minute).

    Given the window's ``first_edit``, the stretches are equal from there on, and the first one also
    holds the empty time before it: a first sync's window starts in 1970.
    """
    start, end = window
    cut_from = _minute(first_edit) if first_edit is not None and start < first_edit <= end else start
    cut_from = max(start, cut_from)
    parts = max(1, min(parts, int((end - cut_from) / SHORTEST_WINDOW)))
    step = (end - cut_from) / parts
    cuts = [start] + [_minute(cut_from + step * index) for index in range(1, parts)]
    cuts = sorted(set(cut for cut in cuts if start <= cut <= end))
    bounds = [(cuts[index], cuts[index + 1] - granularity) for index in range(len(cuts) - 1)]
    return bounds + [(cuts[-1], end)]


def merge_small(
    counted: Sequence[Tuple[Window, Optional[int]]], target: int, granularity: timedelta
) -> Iterator[Tuple[Window, Optional[int]]]:
    """Neighbouring windows joined while together they hold at most ``target``; unknown counts stay alone.

    Only windows that touch are joined: a resumed sync's windows are the gaps between stretches its
    state has read, and joining two gaps would read the stretch between them again.
    """
    run: Optional[Tuple[Window, int]] = None
    for window, count in counted:
        if count is not None and run is not None and touches(run[0], window, granularity) and run[1] + count <= target:
            run = ((run[0][0], window[1]), run[1] + count)
            continue
        if run is not None:
            yield run
            run = None
        if count is None or count > target:
            yield window, count
        else:
            run = (window, count)
    if run is not None:
        yield run


def touches(earlier: Window, later: Window, granularity: timedelta) -> bool:
    """Whether ``later`` starts right after ``earlier`` ends: nothing lies between them that a resumed state
    has read, so they may be counted or read as one."""
    return later[0] - earlier[1] <= granularity


def touching_runs(windows: Sequence[Window], granularity: timedelta) -> List[List[Window]]:
    """``windows`` in runs of neighbours that touch (``touches``)."""
    runs: List[List[Window]] = []
    for window in windows:
        if runs and touches(runs[-1][-1], window, granularity):
            runs[-1].append(window)
        else:
            runs.append([window])
    return runs


def _minute(instant: datetime) -> datetime:
    return instant.replace(second=0, microsecond=0)


class WorkWindows:
    """Counts windows with ``count`` and cuts them to about equal work (see the module docstring)."""

    def __init__(
        self,
        count: Counter,
        pool: LookupPool,
        num_workers: int,
        granularity: timedelta,
        on_total: Optional[Callable[[int], None]] = None,
    ) -> None:
        """``on_total`` hears how many items the windows hold in all, once the first counts are in."""
        self.count = count
        self.on_total = on_total
        self.pool = pool
        self.num_workers = num_workers
        self.granularity = granularity
        self.groups: Dict[int, PartGroup] = {}
        self.pending: Dict[Any, int] = {}  # a count not in yet -> its group
        self.first_edits: Dict[Window, datetime] = {}  # what the counts said of the windows' first edits
        self._group_ids = itertools.count()

    def cut(self, windows: Sequence[Window], read_until: Optional[datetime] = None) -> Iterator[Window]:
        """The windows to read, covering exactly what ``windows`` cover, in settled order.

        ``read_until``: where an earlier sync had read everything (the state's ``read_until``, checkpoints.py),
        if it is known."""
        if not windows or unread_span(windows, read_until) < COUNTED_SPAN:
            # A later sync's windows (the tail, and the gaps its state left) span less than two days:
            # counting them would cost more requests than it saves, most days.
            yield from windows
            return
        # One count per stretch of touching windows (a first sync: one in all), then its busy parts counted
        # again: fewer counts than one per window of the CDK, and the first walks start sooner.
        runs = touching_runs(windows, self.granularity)
        first = self._counted([(run[0][0], run[-1][1]) for run in runs])
        total = sum(count for _, count in first if count is not None)
        target = target_items(total, self.num_workers)
        if self.on_total is not None:
            self.on_total(total)
        LOGGER.info("%s items in %s windows; cutting them to about %s each.", total, len(windows), target)
        # A stretch that could not be counted is read in the CDK's windows, uncut.
        settling = [pair for run, (whole, count) in zip(runs, first)
                    for pair in ([(whole, count)] if count is not None else [(window, None) for window in run])]
        yield from self._settle(settling, target)
        while self.pending:
            for future in self.pool.first_done(list(self.pending)):
                group_id = self.pending.pop(future)
                if group_id in self.groups:
                    yield from self._settle_counted(group_id, target)

    def _settle_counted(self, group_id: int, target: int) -> Iterator[Window]:
        """Settle what a group's counts so far allow: each part that stands alone (more than the target, or
        not counted) at once; the small ones, which may merge with their neighbours, once all are counted."""
        group = self.groups[group_id]
        waiting: List[Tuple[Window, Any]] = []
        small: List[Tuple[Window, Optional[int]]] = []  # counted, at most the target: they may merge
        for part, counted in group.parts:
            if not counted.done():
                waiting.append((part, counted))
                continue
            count = self._result(part, counted)
            if count is None or count > target:
                yield from self._settle([(part, count)], target, group.parent_count, group.parent_was_burst, group.siblings)
            else:
                small.append((part, count))
                waiting.append((part, counted))
        if len(small) == len(waiting):
            del self.groups[group_id]
            # Parts settled alone lie between these: windows they separated do not touch, so are not merged.
            yield from self._settle(small, target, group.parent_count, group.parent_was_burst, group.siblings)
        else:
            self.groups[group_id] = group._replace(parts=waiting)

    def _settle(
        self,
        counted: Sequence[Tuple[Window, Optional[int]]],
        target: int,
        parent_count: Optional[int] = None,
        parent_was_burst: bool = False,
        siblings: Optional[int] = None,
    ) -> Iterator[Window]:
        """Small neighbours merged and handed out, big windows cut and their parts counted. ``siblings``: how many
        parts the parent was cut into (all of ``counted`` when not given)."""
        siblings = siblings or len(counted)
        for window, count in merge_small(counted, target, self.granularity):
            burst = parent_count is not None and count is not None and count >= BURST_SHARE * parent_count
            settled_burst = burst and parent_was_burst and window[1] - window[0] <= BURST_SPAN
            if count is None or count <= target or settled_burst or window[1] - window[0] <= SHORTEST_WINDOW:
                yield window
            elif self._even_enough(count, target, parent_count, siblings):
                yield from split(window, 2, self.granularity, self.first_edits.get(window))
            else:
                parts = split(window, min(MAXIMUM_PARTS, math.ceil(count / target)), self.granularity,
                              self.first_edits.get(window))
                if len(parts) < 2:  # a busy minute or two: CQL cannot cut it finer, so it is read whole
                    yield window
                else:
                    self._count_parts(parts, count, burst)

    @staticmethod
    def _even_enough(count: int, target: int, parent_count: Optional[int], siblings: int) -> bool:
        """Whether a part may be halved without counting the halves: it holds at most ``UNCOUNTED_HALVES`` times
        the target, and it is not much denser than the average part of its window (a part that is holds the
        edits' skew, or a burst, and is counted again)."""
        if parent_count is None or count > UNCOUNTED_HALVES * target:
            return False
        return count * siblings <= EVEN_DENSITY * parent_count

    def _counted(self, windows: Sequence[Window]) -> List[Tuple[Window, Optional[int]]]:
        futures = self.pool.side_by_side([lambda window=window: self.count(window) for window in windows])
        return [(window, self._result(window, future)) for window, future in zip(windows, futures)]

    def _count_parts(self, parts: List[Window], parent_count: int, parent_was_burst: bool) -> None:
        """Count the parts of one window side by side (``_settle_counted`` settles them)."""
        group = next(self._group_ids)
        futures = [(part, self.pool.submit(lambda part=part: self.count(part))) for part in parts]
        self.groups[group] = PartGroup(parent_count, parent_was_burst, futures, len(parts))
        for _, future in futures:
            self.pending[future] = group

    def _result(self, window: Window, future: Any) -> Optional[int]:
        """The window's count (None: unknown); its first edit is kept for when it is cut."""
        try:
            value = future.result()
        except Exception as error:  # an optimisation only: the window is read uncut
            LOGGER.debug("Counting a window failed: %s", type(error).__name__)
            return None
        if isinstance(value, WindowCount):
            if value.first_edit is not None:
                self.first_edits[window] = value.first_edit
            value = value.total
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def search_counter(requester: Requester, boundary_fields: Tuple[str, str], output: Callable[[datetime], Any]) -> Counter:
    """Counts a window with ``requester`` (the stream's own, asking `search` for one result, see
    ``count_requester_definition``): its ``totalSize`` and, from the one result of the query ordered by
    `lastmodified`, its first edit (`lastModified`, Cloud and Data Center); None when Confluence does not
    say how many."""
    start_field, end_field = boundary_fields

    def count(window: Window) -> Optional[WindowCount]:
        window_slice = StreamSlice(partition={}, cursor_slice={start_field: output(window[0]), end_field: output(window[1])})
        response = requester.send_request(stream_slice=window_slice)
        body = json_body(response) if response is not None and response.ok else None
        total = body.get("totalSize") if isinstance(body, dict) else None
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            return None
        results = body.get("results")
        first = results[0] if isinstance(results, list) and results and isinstance(results[0], dict) else {}
        return WindowCount(total, parse_instant(first.get("lastModified")))

    return count


def count_requester_definition(stream_definition: Any) -> Optional[Dict[str, Any]]:
    """The stream's own requester, asking `search` for one result of the same CQL query: the same auth,
    error handling, filters and windows, so the count is of exactly what the stream will read."""
    requester = ((stream_definition or {}).get("retriever") or {}).get("requester")
    while isinstance(requester, dict) and requester.get("type") == "CustomRequester":
        requester = requester.get("requester")  # a wrapper (read_ahead.py): the requester it wraps
    cql = ((requester or {}).get("request_parameters") or {}).get("cql")
    if not isinstance(requester, dict) or requester.get("type") != "HttpRequester" or not cql:
        return None
    definition = dict(requester)
    definition["path"] = "search"
    definition["request_parameters"] = {"cql": cql, "limit": "1"}
    return definition
