"""A state after every page of results of the ordered CQL listing, inside one `lastmodified` window."""

from typing import List, Tuple

import freezegun
from airbyte_cdk.models import SyncMode, Type
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor, FinalStateCursor

from source_confluence.components.checkpoints import PageCheckpointingCursor, checkpoint_every_page
from unit_tests.config_builder import ConfigBuilder
from unit_tests.conftest import get_source, read_streams, state_for
from unit_tests.request_builder import ConfluenceUrls
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
    http.get(ConfluenceUrls.cloud_site().content_search, responses)


def messages(output) -> List[Tuple[str, str]]:
    """("record", id) and ("state", lastModifiedAt) in the order the connector printed them."""
    found = []
    for message in output.records_and_state_messages:
        if message.type == Type.RECORD:
            found.append(("record", message.record.data["id"]))
        else:
            found.append(("state", message.state.stream.stream_state.__dict__["lastModifiedAt"]))
    return found


@freezegun.freeze_time(NOW)
class TestStateAfterEveryPage:
    def test_each_page_is_followed_by_a_state_at_its_newest_record(self, http):
        pages_of_results(
            http,
            ["2024-02-01T10:00:00.000Z", "2024-02-02T10:00:00.000Z"],
            ["2024-03-01T10:00:00.000Z", "2024-03-02T10:00:00.000Z"],
            ["2024-04-01T10:00:00.000Z"],
        )
        output = read_streams(ConfigBuilder().with_start_date("2024-01-01T00:00:00Z").build(), "pages", sync_mode=SyncMode.incremental)
        printed = messages(output)
        # One window (one worker), so without these states nothing would be saved before the end.
        assert printed[:6] == [
            ("record", "10"),
            ("record", "11"),
            ("state", "2024-02-02T10:00:00.000000Z"),
            ("record", "20"),
            ("record", "21"),
            ("state", "2024-03-02T10:00:00.000000Z"),
        ]
        assert printed[6] == ("record", "30")
        assert set(printed[7:]) == {("state", "2024-04-01T10:00:00.000000Z")}

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


class TestWhichCursorsCheckpointEveryPage:
    def test_the_content_streams_get_it_and_the_others_keep_the_cdk_cursor(self):
        config = ConfigBuilder().build()
        cursors = {stream.name: stream.cursor for stream in get_source(config).streams(config)}
        for name in ("pages", "blog_posts", "comments", "attachments"):
            assert type(cursors[name]) is PageCheckpointingCursor, name
        # page_versions is read per page, in no order a cursor could trust; space is full refresh.
        assert not isinstance(cursors["page_versions"], PageCheckpointingCursor)
        assert not isinstance(cursors["space"], PageCheckpointingCursor)

    def test_only_a_plain_concurrent_cursor_is_changed(self):
        final = FinalStateCursor("space", None, message_repository=None)
        assert checkpoint_every_page(final) is False
        assert type(final) is FinalStateCursor
        assert PageCheckpointingCursor.__mro__[1] is ConcurrentCursor
