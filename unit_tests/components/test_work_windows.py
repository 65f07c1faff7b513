"""work_windows.py: windows cut to about equal work from counts, covering exactly the same time."""

import json
import math
import threading
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from source_confluence.sync.lookup_pool import LookupPool
from source_confluence.components.work_windows import (
    MAXIMUM_ITEMS,
    MAXIMUM_PARTS,
    MINIMUM_ITEMS,
    WINDOWS_PER_SLOT,
    WindowCount,
    WorkWindows,
    count_requester_definition,
    merge_small,
    search_counter,
    split,
    target_items,
    unread_span,
)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
US = timedelta(microseconds=1)


def at(minutes):
    return T0 + timedelta(minutes=minutes)


def equal_windows(parts, minutes_each):
    return [(at(i * minutes_each), at((i + 1) * minutes_each) - US) for i in range(parts - 1)] + [
        (at((parts - 1) * minutes_each), at(parts * minutes_each))
    ]


def covers_exactly(windows, start, end):
    ordered = sorted(windows)
    assert ordered[0][0] == start and ordered[-1][1] == end
    for (_, end_a), (start_b, _) in zip(ordered, ordered[1:]):
        assert start_b - end_a == US  # no gap, no overlap
    return True


def test_split_cuts_at_whole_minutes_without_gap_or_overlap():
    parts = split((at(0), at(60)), 4, US)
    assert [p[0] for p in parts] == [at(0), at(15), at(30), at(45)]
    assert covers_exactly(parts, at(0), at(60))


def test_split_spreads_the_cuts_from_the_first_edit_and_the_first_part_keeps_the_time_before_it():
    parts = split((at(0), at(1060)), 4, US, first_edit=at(1000) + timedelta(seconds=30))
    assert [p[0] for p in parts] == [at(0), at(1015), at(1030), at(1045)]
    assert covers_exactly(parts, at(0), at(1060))


def test_split_ignores_a_first_edit_outside_the_window():
    # The CQL window is widened by the zones' offsets, so its first result may lie just before the UTC window.
    for outside in (at(-5), at(61)):
        assert [p[0] for p in split((at(0), at(60)), 4, US, first_edit=outside)] == [at(0), at(15), at(30), at(45)]


def test_split_never_makes_a_window_shorter_than_a_minute():
    parts = split((at(0), at(3) - US), 10, US)
    assert len(parts) <= 3 and covers_exactly(parts, at(0), at(3) - US)


def test_small_neighbours_merge_up_to_the_target_and_unknown_counts_stay_alone():
    windows = equal_windows(5, 10)
    merged = list(merge_small(list(zip(windows, [10, 20, None, 300, 5])), 100, US))
    assert [count for _, count in merged] == [30, None, 300, 5]
    assert merged[0][0] == (windows[0][0], windows[1][1])


def test_windows_with_a_stretch_read_between_them_are_never_merged():
    # A resumed sync: its windows are the gaps its state left; the stretch between them is read already.
    gaps = [(at(0), at(10) - US), (at(20), at(30))]
    merged = list(merge_small(list(zip(gaps, [10, 10])), 100, US))
    assert [window for window, _ in merged] == gaps


def test_the_target_is_a_share_of_the_total_per_slot_but_never_tiny_nor_huge():
    # A big site gives each slot of the budget WINDOWS_PER_SLOT windows of about equal size.
    assert math.ceil(24_000 / target_items(24_000, 6)) == WINDOWS_PER_SLOT * 6
    assert target_items(300, 6) == MINIMUM_ITEMS
    # A huge one gets more windows than that, none of them a long walk alone at the end.
    assert target_items(1_000_000, 8) == MAXIMUM_ITEMS


class Site:
    """Items at given minutes; counts a window like `search` would, and which counts were asked."""

    def __init__(self, minutes):
        self.minutes = minutes
        self.counts = 0
        self.asked = []
        self.lock = threading.Lock()

    def count(self, window):
        with self.lock:
            self.counts += 1
            self.asked.append(window)
            if self.counts > 500:  # a cut that never settles: stop it (the count fails, the window is read whole)
                raise RuntimeError("counted forever")
        return sum(1 for m in self.minutes if window[0] <= at(m) <= window[1])


def test_a_recent_burst_is_cut_until_no_window_holds_much_more_than_the_target():
    # A year of minutes, a few old edits and 3,000 in the last two days: equal-time windows put
    # nearly everything in the newest.
    year = 365 * 24 * 60
    minutes = [i * 1000 for i in range(100)] + [year - 2 * 24 * 60 + i for i in range(0, 2 * 24 * 60, 1)][:3000]
    site = Site(minutes)
    windows = equal_windows(16, year // 16)
    cut = list(WorkWindows(site.count, LookupPool(8), 6, US).cut(windows))
    assert covers_exactly(cut, windows[0][0], windows[-1][1])
    target = target_items(len(minutes), 6)
    sizes = [site.count(w) for w in cut]
    assert sum(sizes) == len(minutes)
    assert max(sizes) <= 2 * target  # no sequential tail
    assert len(cut) < 3 * len(minutes) / target  # and not cut needlessly fine


def test_a_window_that_cannot_be_counted_is_read_whole():
    windows = equal_windows(4, 60)
    cut = list(WorkWindows(lambda window: None, LookupPool(8), 6, US).cut(windows))
    assert cut == windows


def test_one_short_window_is_not_counted():
    site = Site([1, 2, 3])
    windows = equal_windows(1, 60)
    assert list(WorkWindows(site.count, LookupPool(8), 6, US).cut(windows)) == windows
    assert site.counts == 0


def test_one_long_window_is_counted_and_cut():
    # A counter that does not name the first edit: the cut still settles, with more counts.
    site = Site([10_000_000 + i for i in range(1000)])
    windows = [(at(0), at(10_001_000))]
    cut = list(WorkWindows(site.count, LookupPool(8), 2, US).cut(windows))
    assert covers_exactly(cut, windows[0][0], windows[0][1])
    assert len(cut) > 1 and max(site.count(w) for w in cut) <= 2 * target_items(1000, 2)


class FirstEditSite(Site):
    """Counts like `search` ordered by `lastmodified`: the total and the window's first edit."""

    def count(self, window):
        total = super().count(window)
        inside = [at(m) for m in self.minutes if window[0] <= at(m) <= window[1]]
        return WindowCount(total, min(inside) if inside else None)


def test_a_first_syncs_window_from_1970_is_cut_from_the_first_edit_its_count_names():
    # No start_date: one window from 1970 (slicing.py). 1,000 evenly spread edits in the last 1,000 minutes.
    minutes = [10_000_000 + i for i in range(1000)]
    site, blind = FirstEditSite(minutes), Site(minutes)
    windows = [(at(0), at(10_001_000))]
    cut = list(WorkWindows(site.count, LookupPool(8), 2, US).cut(windows))
    assert covers_exactly(cut, windows[0][0], windows[0][1])
    target = target_items(1000, 2)
    # One count for the window, one for each part: the parts hold equal shares of the edits.
    assert site.counts == 1 + math.ceil(1000 / target)
    parts = math.ceil(1000 / target)
    assert [site.count(w).total for w in cut] == [1000 // parts] * parts
    list(WorkWindows(blind.count, LookupPool(8), 2, US).cut(windows))
    assert blind.counts > site.counts  # cut from 1970, the parts are found again a level down


def test_parts_of_an_evenly_edited_site_are_halved_without_a_second_round_of_counts():
    # 20,000 edits evenly over 16,000 minutes: the first cut's 16 parts each hold twice the target. Each is
    # halved in time, uncounted: the first walks need not wait for 32 more counts.
    site = FirstEditSite([i * 0.8 for i in range(20_000)])
    windows = [(at(0), at(16_000))]
    cut = list(WorkWindows(site.count, LookupPool(8), 8, US).cut(windows))
    target = target_items(20_000, 8)
    assert site.counts == 1 + MAXIMUM_PARTS
    assert len(cut) == 2 * MAXIMUM_PARTS and covers_exactly(cut, *windows[0])
    assert max(site.count(w).total for w in cut) <= target
    assert sum(site.count(w).total for w in cut) == 20_000


def test_a_part_above_the_target_is_settled_without_waiting_for_its_siblings_counts():
    # The evenly edited site above, the newest part's count held back: the other fifteen parts are above the
    # target, so none can merge with a neighbour, and their halves are read while that count is out.
    release = threading.Event()
    site = FirstEditSite([i * 0.8 for i in range(20_000)])

    def count(window):
        if window[0] > at(0) and window[1] >= at(15_999):
            assert release.wait(10)
        return site.count(window)

    windows = [(at(0), at(16_000))]
    cut, done = [], threading.Event()

    def read():
        for window in WorkWindows(count, LookupPool(8), 8, US).cut(windows):
            cut.append(window)
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    for _ in range(500):
        if len(cut) >= 2 * (MAXIMUM_PARTS - 1):
            break
        threading.Event().wait(0.01)
    assert len(cut) == 2 * (MAXIMUM_PARTS - 1) and not done.is_set()
    assert all(end < at(15_000) for _, end in cut)
    release.set()
    assert done.wait(10)
    assert len(cut) == 2 * MAXIMUM_PARTS and covers_exactly(cut, *windows[0])


def test_a_part_denser_than_its_siblings_is_counted_again_not_halved_blind():
    # 16 parts of 353 edits spread evenly, and 207 more in the newest one's last 100 minutes: it holds less
    # than twice the target (300), but half as much again as the average part. Halved blind, one half
    # would hold 384; counted, no window holds more than the target.
    minutes = [p * 1000 + i * 1000 / 353 for p in range(16) for i in range(353)]
    minutes += [15_900 + i * 100 / 207 for i in range(207)]
    site = FirstEditSite(sorted(minutes))
    windows = [(at(0), at(16_000))]
    cut = list(WorkWindows(site.count, LookupPool(8), 8, US).cut(windows))
    target = target_items(len(minutes), 8)
    newest = (at(15_000), at(16_000))
    assert any(newest[0] <= start and end <= newest[1] and (start, end) != newest for start, end in site.asked)
    assert not any(end < at(15_000) and end - start < timedelta(minutes=999) for start, end in site.asked)
    assert max(site.count(w).total for w in cut) <= target
    assert covers_exactly(cut, *windows[0]) and sum(site.count(w).total for w in cut) == len(minutes)


def test_the_count_reads_the_total_and_the_first_results_last_modified():
    class Requester:
        def __init__(self, body):
            self.body, self.slices = body, []

        def send_request(self, stream_slice):
            self.slices.append(stream_slice)
            return SimpleNamespace(ok=True, content=json.dumps(self.body).encode())

    output = lambda instant: instant.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    answer = {"totalSize": 42, "results": [{"lastModified": "2026-01-01T00:07:30.000Z", "content": {"id": "1"}}]}
    requester = Requester(answer)
    assert search_counter(requester, ("start_time", "end_time"), output)((at(0), at(60))) == WindowCount(42, at(7) + timedelta(seconds=30))
    assert requester.slices[0].cursor_slice == {"start_time": "2026-01-01T00:00:00.000000Z", "end_time": "2026-01-01T01:00:00.000000Z"}
    assert search_counter(Requester({"totalSize": 0, "results": []}), ("a", "b"), output)((at(0), at(1))) == WindowCount(0, None)
    assert search_counter(Requester({"results": []}), ("a", "b"), output)((at(0), at(1))) is None


def test_the_count_asks_search_with_the_streams_own_query_for_one_result():
    stream = {"retriever": {"requester": {"type": "HttpRequester", "path": "content/search", "authenticator": {"type": "X"},
                                          "request_parameters": {"cql": "type IN (page) {{ stream_interval }}", "expand": "body.storage", "limit": "250"}}}}
    definition = count_requester_definition(stream)
    assert definition["path"] == "search"
    assert definition["request_parameters"] == {"cql": "type IN (page) {{ stream_interval }}", "limit": "1"}
    assert definition["authenticator"] == {"type": "X"}
    assert stream["retriever"]["requester"]["path"] == "content/search"  # the stream's own is left alone
    assert count_requester_definition({"retriever": {"requester": {"type": "CustomRequester"}}}) is None


def test_every_checkpointing_stream_of_the_manifest_has_a_count_requester():
    # The manifest may wrap a stream's requester (read_ahead.py): the count must still find its query, or a
    # first sync silently goes back to equal-time windows (a benchmark run caught exactly that).
    from source_confluence.components.checkpoints import names_this_cursor
    from unit_tests.test_manifest_schema import load_manifest, preprocess

    manifest = preprocess(load_manifest())
    streams = [s for s in manifest["streams"] if s.get("type") == "DeclarativeStream"]
    streams += [c for s in manifest["streams"] if s.get("type") == "ConditionalStreams" for c in s["streams"]]
    checkpointing = {s["name"]: s for s in streams if names_this_cursor(s.get("$parameters") or {})}
    assert {"pages", "blog_posts"} <= set(checkpointing)
    for name, stream in checkpointing.items():
        definition = count_requester_definition(stream)
        assert definition is not None, name
        assert definition["path"] == "search" and "lastmodified" in definition["request_parameters"]["cql"], name


def test_a_burst_inside_two_minutes_is_read_whole_instead_of_counted_forever():
    # 1% of a site edited within 90 seconds: more than the target, but CQL cannot cut under a minute.
    site = Site([10 + i / 200 for i in range(300)])  # minutes 10.0 to 11.5, in windows spanning more than a day
    windows = [(at(-2000), at(10) - US), (at(10), at(11) + timedelta(seconds=30))]
    cut = list(WorkWindows(site.count, LookupPool(8), 1, US).cut(windows))
    assert covers_exactly(cut, windows[0][0], windows[-1][1])
    assert site.counts < 10


def test_a_later_syncs_windows_spanning_minutes_are_not_counted():
    # The tail from the saved cursor and the gaps a resumed state left: a few minutes in all.
    site = Site([1, 2, 3, 21, 22])
    windows = [(at(0), at(5) - US), (at(20), at(25))]
    assert list(WorkWindows(site.count, LookupPool(8), 6, US).cut(windows)) == windows
    assert site.counts == 0


def test_a_daily_syncs_window_is_read_without_a_count():
    # A day since the last sync, plus the 15-minute lookback and a schedule that ran half an hour late.
    site = Site([i * 3 for i in range(500)])
    windows = [(at(0), at(24 * 60 + 45))]
    assert list(WorkWindows(site.count, LookupPool(8), 6, US).cut(windows)) == windows
    assert site.counts == 0


def test_a_long_window_read_until_a_day_ago_is_read_without_a_count():
    # The stream's newest record is five days old, but the last sync read everything up to a day ago.
    site = Site([i * 3 for i in range(500)])
    windows = [(at(0), at(5 * 24 * 60))]
    read_until = at(4 * 24 * 60)
    assert list(WorkWindows(site.count, LookupPool(8), 6, US).cut(windows, read_until)) == windows
    assert site.counts == 0


def test_a_long_window_read_until_three_days_ago_is_counted():
    site = Site([i * 6 for i in range(1000)])
    windows = [(at(0), at(5 * 24 * 60))]
    cut = list(WorkWindows(site.count, LookupPool(8), 2, US).cut(windows, at(2 * 24 * 60)))
    assert site.counts > 0 and covers_exactly(cut, *windows[0])


def test_only_the_windows_time_after_read_until_is_unread():
    windows = [(at(0), at(60)), (at(120), at(180))]
    assert unread_span(windows) == timedelta(minutes=120)
    assert unread_span(windows, at(30)) == timedelta(minutes=90)
    assert unread_span(windows, at(150)) == timedelta(minutes=30)
    assert unread_span(windows, at(200)) == timedelta(0)


def test_a_window_spanning_more_than_two_days_is_counted_and_cut():
    site = Site([i * 6 for i in range(1000)])  # 1,000 edits over four days: more than the target
    windows = [(at(0), at(4 * 24 * 60))]
    cut = list(WorkWindows(site.count, LookupPool(8), 2, US).cut(windows))
    assert site.counts > 1 and len(cut) > 1 and covers_exactly(cut, *windows[0])


def test_a_bulk_edit_found_again_in_one_part_twice_is_read_whole():
    # Three days since the last sync, and 2,000 pages edited in the same minute at its end.
    three_days = 3 * 24 * 60
    site = Site([three_days - 1 + i / 4000 for i in range(2000)])
    windows = [(at(0), at(three_days) - US), (at(three_days), at(three_days + 1))]
    cut = list(WorkWindows(site.count, LookupPool(8), 6, US).cut(windows))
    assert site.counts > 0
    assert covers_exactly(cut, at(0), at(three_days + 1))
    assert site.counts <= len(windows) + 2 * 16  # the first counts, and two cuts of the busy window


def test_a_first_syncs_windows_are_counted_once_as_one_stretch_then_cut_by_their_total():
    # 1,100 evenly spread items in 16 windows of the CDK: one count for all, then one for each of four parts.
    site = Site([i * 14.5 for i in range(1100)])
    windows = equal_windows(16, 1000)
    cut = list(WorkWindows(site.count, LookupPool(8), 6, US).cut(windows))
    assert site.asked[0] == (windows[0][0], windows[-1][1])
    assert site.counts == 1 + math.ceil(1100 / target_items(1100, 6)) < len(windows)
    assert covers_exactly(cut, windows[0][0], windows[-1][1])
    assert sum(site.count(w) for w in cut) == 1100


def test_a_resumed_syncs_gaps_are_counted_apart_so_the_stretch_read_between_them_is_not_read_again():
    day = 24 * 60
    site = Site([i for i in range(0, 6 * day, 10)])
    gaps = equal_windows(3, day)[:2] + [(at(4 * day), at(6 * day))]  # days 2-3 were read before the pause
    cut = list(WorkWindows(site.count, LookupPool(8), 6, US).cut(gaps))
    assert sorted(site.asked[:2]) == [(gaps[0][0], gaps[1][1]), gaps[2]]  # the two touching windows as one
    assert not any(at(2 * day) <= start <= at(4 * day) - US for start, _ in cut)
    assert sum(site.count(w) for w in cut) == sum(1 for m in site.minutes if not 2 * day <= m < 4 * day)
