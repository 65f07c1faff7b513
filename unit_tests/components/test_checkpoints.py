"""A state after every page of results of the ordered CQL listing, inside one `lastmodified` window."""

import json
import re
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import List, Tuple

import freezegun
from airbyte_cdk.models import SyncMode, Type
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import NoopMessageRepository
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor, CursorField
from airbyte_cdk.sources.streams.concurrent.state_converters.datetime_stream_state_converter import (
    CustomFormatConcurrentStreamStateConverter,
)
from airbyte_cdk.sources.types import Record, StreamSlice

from source_confluence.components.checkpoints import (
    PageCheckpointingCursor,
    WindowKeys,
    catch_up_for,
    cursor_instant,
)
from source_confluence.sync.context import SyncContext
from unit_tests.config_builder import ConfigBuilder
from unit_tests.conftest import get_source, is_content_tree_probe, read_streams, state_for
from unit_tests.request_builder import ConfluenceUrls, query_of
from unit_tests.response_builder import content, list_page

SITE = "https://example.atlassian.net"
NOW = "2024-06-15T12:00:00Z"


def pages_of_results(http, *pages_of_times: List[str]) -> None:
    """The CQL listing, one response per page, each pointing at the next."""
    responses = []
    for number, times in enumerate(pages_of_times, start=1):
        results = [content(f"{number}{index}", when=when) for index, when in enumerate(times)]
        next_link = f"/rest/api/content/search?cursor=P{number + 1}&limit=250" if number < len(pages_of_times) else None
        responses.append({"json": list_page(results, next_link=next_link, base=f"{SITE}/wiki")})
    # The content-tree probe (is the site holding folders?) asks the same endpoint once: it must not take a page.
    http.get(ConfluenceUrls.cloud_site().content_search, responses, additional_matcher=lambda r: not is_content_tree_probe(r))
    http.get(ConfluenceUrls.cloud_site().content_search, json=list_page([]), additional_matcher=is_content_tree_probe)


def messages(output) -> List[Tuple[str, str]]:
    """("record", id) and ("state", lastModifiedAt) in the order the connector printed them."""
    found = []
    for message in output.records_and_state_messages:
        if message.type == Type.RECORD:
            found.append(("record", message.record.data["id"]))
        else:
            found.append(("state", message.state.stream.stream_state.__dict__["lastModifiedAt"]))
    return found


def stretches(output) -> List[Tuple[str, str]]:
    """The (start, end) stretches of the last state: what a resumed sync would not read again."""
    state = output.most_recent_state.stream_state.__dict__
    assert state["state_type"] == "date-range"
    return [(stretch["start"], stretch["end"]) for stretch in state["slices"]]


def checkpointing_cursor(stream_state, config=None):
    """The cursor as the factory builds it for ``pages``: around the CDK's cursor, which cuts the windows."""
    def converter():
        return CustomFormatConcurrentStreamStateConverter(datetime_format="%Y-%m-%dT%H:%M:%S.%fZ", cursor_granularity=timedelta(microseconds=1))

    windows = ConcurrentCursor(
        "pages", None, json.loads(json.dumps(stream_state)), NoopMessageRepository(), ConnectorStateManager(), converter(),
        CursorField("lastModifiedAt"), ("start_time", "end_time"), datetime(2024, 1, 1, tzinfo=timezone.utc),
        lambda: datetime(2024, 3, 1, tzinfo=timezone.utc), slice_range=timedelta(days=31), cursor_granularity=timedelta(microseconds=1),
    )
    sync = SyncContext()
    cursor = PageCheckpointingCursor(
        "pages", windows, stream_state, converter(), ("start_time", "end_time"), timedelta(microseconds=1), sync,
        catch_up_for(config or {}, stream_state),
    )
    sync.checkpoint_pages_of("pages", cursor)
    return cursor, sync


def states_out(sync):
    """The states the sync lets out once every record is out."""
    return [m.state.stream.stream_state.__dict__ for m in sync.release({"pages": 10**9}) if m.type == Type.STATE]


@freezegun.freeze_time(NOW)
class TestStateAfterEveryPage:
    def test_each_page_is_followed_by_a_state_just_before_its_newest_record(self, http):
        pages_of_results(
            http,
            ["2024-02-01T10:00:00.000Z", "2024-02-02T10:00:00.000Z"],
            ["2024-03-01T10:00:00.000Z", "2024-03-02T10:00:00.000Z"],
            ["2024-04-01T10:00:00.000Z"],
        )
        output = read_streams(ConfigBuilder().with_start_date("2024-01-01T00:00:00Z").build(), "pages", sync_mode=SyncMode.incremental)
        printed = messages(output)
        # One window (one worker), so without these states nothing would be saved before the end. Each
        # stops a microsecond before the page's newest record: the next page may hold more at that time.
        assert printed[:6] == [
            ("record", "10"),
            ("record", "11"),
            ("state", "2024-02-02T09:59:59.999999Z"),
            ("record", "20"),
            ("record", "21"),
            ("state", "2024-03-02T09:59:59.999999Z"),
        ]
        assert printed[6] == ("record", "30")
        # Done: one stretch, ending at the newest record, where the next sync starts (minus the lookback).
        assert stretches(output) == [("2024-01-01T00:00:00.000000Z", "2024-04-01T10:00:00.000000Z")]
        assert printed[-1] == ("state", "2024-04-01T10:00:00.000000Z")

    def test_a_listing_out_of_order_saves_nothing_before_its_window_is_done(self, http):
        pages_of_results(
            http,
            ["2024-03-01T10:00:00.000Z", "2024-02-01T10:00:00.000Z"],
            ["2024-04-01T10:00:00.000Z"],
        )
        output = read_streams(ConfigBuilder().with_start_date("2024-01-01T00:00:00Z").build(), "pages", sync_mode=SyncMode.incremental)
        printed = messages(output)
        assert [kind for kind, _ in printed[:3]] == ["record", "record", "record"]
        assert {value for kind, value in printed if kind == "state"} == {"2024-04-01T10:00:00.000000Z"}

    def test_records_re_read_by_the_lookback_do_not_move_the_state_back(self, http):
        saved = "2024-05-01T10:00:00.000000Z"
        pages_of_results(
            http,
            ["2024-05-01T09:50:00.000Z", "2024-05-01T09:55:00.000Z"],
            ["2024-05-02T10:00:00.000Z"],
        )
        output = read_streams(ConfigBuilder().build(), "pages", sync_mode=SyncMode.incremental, state=state_for("pages", {"lastModifiedAt": saved}))
        states = [value for kind, value in messages(output) if kind == "state"]
        assert states and min(states) >= saved
        assert states[-1] == "2024-05-02T10:00:00.000000Z"

    def test_a_state_of_0_2_0_is_one_stretch_and_the_next_one_keeps_growing_it(self, http):
        # 0.2.0 wrote only the cursor value; the sync reads from it (minus the 15-minute lookback).
        pages_of_results(http, ["2024-06-01T10:00:00.000Z"])
        output = read_streams(ConfigBuilder().build(), "pages", sync_mode=SyncMode.incremental,
                              state=state_for("pages", {"lastModifiedAt": "2024-05-01T10:00:00.000000Z"}))
        (request,) = [r for r in http.request_history if "lastmodified" in r.url]
        assert 'lastmodified >= "2024-05-01 09:45"' in query_of(request.url)["cql"][0]
        assert stretches(output) == [("1970-01-01T00:00:00.000000Z", "2024-06-01T10:00:00.000000Z")]

    def test_a_resumed_sync_reads_only_the_gaps_between_the_stretches_already_read(self, http):
        # A first sync stopped with its first window read up to March and its second from June on.
        state = {
            "state_type": "date-range",
            "slices": [
                {"start": "2024-01-01T00:00:00.000000Z", "end": "2024-03-01T00:00:00.000000Z"},
                {"start": "2024-06-01T00:00:00.000000Z", "end": "2024-06-10T00:00:00.000000Z"},
            ],
            "lastModifiedAt": "2024-03-01T00:00:00.000000Z",
        }
        http.get(ConfluenceUrls.cloud_site().content_search, json=list_page([]))
        read_streams(ConfigBuilder().with_start_date("2024-01-01T00:00:00Z").build(), "pages", sync_mode=SyncMode.incremental,
                     state=state_for("pages", state))
        windows = sorted(re.findall(r'lastmodified >= "([^"]+)" AND lastmodified <= "([^"]+)"', query_of(r.url)["cql"][0])[0]
                         for r in http.request_history if "lastmodified" in r.url)
        # The gap between the stretches, then from the second one's end (minus the lookback) to now.
        assert windows == [("2024-03-01 00:00", "2024-06-01 00:00"), ("2024-06-09 23:45", "2024-06-15 12:01")]


class TestWindowsReadSideBySide:
    """The cursor on its own: two windows in flight, pages finishing in the order threads finish them."""

    FIRST = StreamSlice(partition={}, cursor_slice={"start_time": "2024-01-01T00:00:00.000000Z", "end_time": "2024-01-31T23:59:59.999999Z"})
    SECOND = StreamSlice(partition={}, cursor_slice={"start_time": "2024-02-01T00:00:00.000000Z", "end_time": "2024-02-29T23:59:59.999999Z"})

    def cursor(self):
        return checkpointing_cursor({})

    @staticmethod
    def read_page(cursor, window, *times):
        for when in times:
            cursor.observe(Record(data={"lastModifiedAt": when}, stream_name="pages", associated_slice=window))
        cursor.sync.page_done("pages", window)  # as the pagination strategy says it

    @staticmethod
    def last_state(sync):
        states = states_out(sync)
        return states[-1] if states else None

    def test_a_later_window_keeps_its_progress_while_the_first_is_still_read(self):
        cursor, sync = self.cursor()
        self.read_page(cursor, self.SECOND, "2024-02-03T10:00:00.000000Z", "2024-02-05T10:00:00.000000Z")
        state = self.last_state(sync)
        assert [(s["start"], s["end"]) for s in state["slices"]] == [
            ("2024-01-01T00:00:00.000000Z", "2024-01-01T00:00:00.000000Z"),  # nothing of January yet
            ("2024-02-01T00:00:00.000000Z", "2024-02-05T09:59:59.999999Z"),
        ]
        assert state["lastModifiedAt"] == "2024-01-01T00:00:00.000000Z"

        self.read_page(cursor, self.FIRST, "2024-01-10T10:00:00.000000Z")
        cursor.close_partition(SimpleNamespace(to_slice=lambda: self.FIRST))
        state = self.last_state(sync)
        # January done: it joins February's stretch, and everything up to February 5 is read.
        assert [(s["start"], s["end"]) for s in state["slices"]] == [("2024-01-01T00:00:00.000000Z", "2024-02-05T09:59:59.999999Z")]
        assert state["lastModifiedAt"] == "2024-02-05T09:59:59.999999Z"

    def test_one_stretch_read_whole_keeps_where_its_windows_ended_and_a_gap_drops_it(self):
        cursor, sync = self.cursor()
        self.read_page(cursor, self.SECOND, "2024-02-03T10:00:00.000000Z")
        cursor.close_partition(SimpleNamespace(to_slice=lambda: self.SECOND))
        assert "read_until" not in self.last_state(sync)  # January is a gap: the time before February is not all read
        self.read_page(cursor, self.FIRST, "2024-01-10T10:00:00.000000Z")
        cursor.close_partition(SimpleNamespace(to_slice=lambda: self.FIRST))
        state = self.last_state(sync)
        # The stretch ends at the newest record (the next sync starts there), read_until where the windows ended.
        assert [(s["start"], s["end"]) for s in state["slices"]] == [("2024-01-01T00:00:00.000000Z", "2024-02-03T10:00:00.000000Z")]
        assert state["read_until"] == "2024-02-29T23:59:59.999999Z"

    def test_read_until_is_carried_to_the_next_state_until_the_read_passes_it(self):
        earlier = {
            "state_type": "date-range",
            "slices": [{"start": "2024-01-01T00:00:00.000000Z", "end": "2024-02-03T10:00:00.000000Z",
                        "most_recent_cursor_value": "2024-02-03T10:00:00.000000Z"}],
            "read_until": "2024-02-29T23:59:59.999999Z",
        }
        cursor, sync = checkpointing_cursor(earlier)
        assert cursor.read_until == datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=timezone.utc)
        cursor.ensure_at_least_one_state_emitted()
        assert self.last_state(sync)["read_until"] == "2024-02-29T23:59:59.999999Z"  # not moved back to the stretch's end
        # A state with gaps: its read_until says nothing of the time before it.
        gappy = dict(earlier, slices=earlier["slices"] + [{"start": "2024-03-01T00:00:00.000000Z", "end": "2024-03-02T00:00:00.000000Z"}])
        assert checkpointing_cursor(gappy)[0].read_until is None

    def test_a_page_ending_on_the_first_instant_of_its_window_saves_nothing(self):
        cursor, sync = self.cursor()
        self.read_page(cursor, self.SECOND, "2024-02-01T00:00:00.000000Z")
        assert self.last_state(sync) is None


class TestWhichCursorsCheckpointEveryPage:
    def test_the_content_streams_get_it_and_the_others_keep_the_cdk_cursor(self, http, tmp_path):
        source = get_source(ConfigBuilder().build())
        config = source.configure(ConfigBuilder().build(), str(tmp_path))  # the normalised config the CDK passes on
        cursors = {stream.name: stream.cursor for stream in source.streams(config)}
        for name in ("pages", "blog_posts", "comments", "attachments"):
            assert type(cursors[name]) is PageCheckpointingCursor, name
        # page_versions is read per page, in no order a cursor could trust; space is full refresh.
        assert type(cursors["page_versions"]) is not PageCheckpointingCursor
        assert type(cursors["space"]) is not PageCheckpointingCursor


class TestSpacesTheStateDoesNotKnow:
    """The state's ``spaces`` list and the catch-up slices of new spaces (components/space_catch_up.py)."""

    FIRST_STRETCH = {"start": "2024-01-01T00:00:00.000000Z", "end": "2024-01-20T00:00:00.000000Z"}
    SECOND_STRETCH = {"start": "2024-02-01T00:00:00.000000Z", "end": "2024-02-20T00:00:00.000000Z"}

    @staticmethod
    def cursor(stream_state, visible=("ENG", "HR")):
        config = {"_derived": {"visible_space_keys": list(visible) if visible is not None else None, "content_start": "2024-01-01T00:00:00Z"}}
        return checkpointing_cursor(stream_state, config)

    @staticmethod
    def date_range(*stretches, spaces=None):
        state = {"state_type": "date-range", "slices": [dict(stretch) for stretch in stretches]}
        return {**state, "spaces": spaces} if spaces is not None else state

    @staticmethod
    def windows(slices):
        return [(s.partition.get("space_key"), s["start_time"], s["end_time"]) for s in slices]

    @staticmethod
    def close(cursor, window):
        cursor.close_partition(SimpleNamespace(to_slice=lambda: window))

    def test_a_state_without_the_list_adopts_the_spaces_visible_now_and_reads_nothing_old(self):
        cursor, _ = self.cursor(self.date_range({**self.FIRST_STRETCH, "end": "2024-02-20T00:00:00.000000Z"}))
        assert self.windows(cursor.stream_slices()) == [(None, "2024-02-20T00:00:00.000000Z", "2024-03-01T00:00:00.000000Z")]
        assert cursor.state["spaces"] == ["ENG", "HR"]

    def test_a_first_sync_records_the_spaces_it_reads(self):
        cursor, _ = self.cursor({})
        assert all(space is None for space, _, _ in self.windows(cursor.stream_slices()))
        assert cursor.state["spaces"] == ["ENG", "HR"]

    def test_a_new_space_is_read_alone_up_to_the_incremental_window_then_known(self):
        cursor, sync = self.cursor(self.date_range({**self.FIRST_STRETCH, "end": "2024-02-20T00:00:00.000000Z"}, spaces=["ENG"]))
        slices = list(cursor.stream_slices())
        assert self.windows(slices) == [
            (None, "2024-02-20T00:00:00.000000Z", "2024-03-01T00:00:00.000000Z"),
            ("HR", "2024-01-01T00:00:00.000000Z", "2024-02-19T23:59:59.999999Z"),
        ]
        self.close(cursor, slices[0])
        assert cursor.state["spaces"] == ["ENG"], "not known before its catch-up is done"
        self.close(cursor, slices[1])
        assert cursor.state["spaces"] == ["ENG", "HR"]
        last = states_out(sync)[-1]
        assert last["spaces"] == ["ENG", "HR"]
        # The catch-up's window lies inside what was read already: the stretches do not change.
        assert [(s["start"], s["end"]) for s in last["slices"]] == [("2024-01-01T00:00:00.000000Z", "2024-03-01T00:00:00.000000Z")]

    def test_a_space_no_longer_visible_leaves_the_list(self):
        cursor, _ = self.cursor(self.date_range(self.FIRST_STRETCH, spaces=["ENG", "HR"]), visible=["ENG"])
        assert cursor.state["spaces"] == ["ENG"]
        assert all(space is None for space, _, _ in self.windows(cursor.stream_slices()))

    def test_when_the_spaces_cannot_be_listed_the_list_is_kept_and_nothing_caught_up(self):
        cursor, _ = self.cursor(self.date_range(self.FIRST_STRETCH, spaces=["ENG"]), visible=None)
        assert all(space is None for space, _, _ in self.windows(cursor.stream_slices()))
        assert cursor.state["spaces"] == ["ENG"]

    def test_a_sync_killed_during_a_catch_up_catches_the_space_up_again_when_resumed(self):
        cursor, sync = self.cursor(self.date_range({**self.FIRST_STRETCH, "end": "2024-02-20T00:00:00.000000Z"}, spaces=["ENG"]))
        catch_up = list(cursor.stream_slices())[1]
        TestWindowsReadSideBySide.read_page(cursor, catch_up, "2024-01-05T10:00:00.000000Z", "2024-01-06T10:00:00.000000Z")
        saved = states_out(sync)
        assert saved and saved[-1]["spaces"] == ["ENG"], "a page of the catch-up is saved, the space is not yet known"

        # Killed here. The resumed sync also has a gap to read: HR is caught up over both stretches.
        resumed, _ = self.cursor(self.date_range(self.FIRST_STRETCH, self.SECOND_STRETCH, spaces=saved[-1]["spaces"]))
        assert self.windows(resumed.stream_slices()) == [
            (None, "2024-01-20T00:00:00.000001Z", "2024-01-31T23:59:59.999999Z"),
            (None, "2024-02-20T00:00:00.000000Z", "2024-03-01T00:00:00.000000Z"),
            ("HR", "2024-01-01T00:00:00.000000Z", "2024-01-20T00:00:00.000000Z"),
            ("HR", "2024-02-01T00:00:00.000000Z", "2024-02-19T23:59:59.999999Z"),
        ]


def test_the_fast_cursor_value_is_the_converters_for_every_form_the_records_carry():
    converter = CustomFormatConcurrentStreamStateConverter(
        datetime_format="%Y-%m-%dT%H:%M:%S.%fZ", input_datetime_formats=["%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"]
    )
    for value in ("2026-11-02T15:51:12.345Z", "2026-11-02T15:51:12Z", "2026-11-02T15:51:12.3Z", "2026-11-02T15:51:12.123456Z"):
        assert cursor_instant(value, converter.parse_value) == converter.parse_value(value), value
    calls = []
    assert cursor_instant("2026-11-02 15:51", lambda v: calls.append(v) or "parsed") == "parsed"  # not ...Z: the converter decides
    assert calls == ["2026-11-02 15:51"]


def test_window_keys_are_equal_for_equal_slices_and_made_once_per_slice_object():
    keys = WindowKeys()
    window = StreamSlice(partition={"space_key": "ENG"}, cursor_slice={"start_time": "a", "end_time": "b"})
    same_content = StreamSlice(partition={"space_key": "ENG"}, cursor_slice={"start_time": "a", "end_time": "b"})
    other = StreamSlice(partition={"space_key": "OPS"}, cursor_slice={"start_time": "a", "end_time": "b"})
    assert keys(window) == keys(same_content) != keys(other)
    assert keys(window) is keys(window)  # kept, not made again


def test_generating_the_windows_starts_what_the_sync_starts_with_the_read():
    cursor, sync = checkpointing_cursor({})
    started = []
    sync.at_read_start("probe", lambda: started.append("probe"))
    generated = cursor.stream_slices()
    assert started == []  # a generator: nothing before the CDK asks for the first window
    next(generated)
    assert started == ["probe"]
