"""SyncContext: what one sync's components share, and nothing another sync in the process can see."""

from airbyte_cdk.models import AirbyteLogMessage, AirbyteMessage, Level, Type

from source_confluence.sync.context import SYNC_ID_KEY, SyncContext


def log(text: str) -> AirbyteMessage:
    return AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=Level.INFO, message=text))


def texts(messages):
    return [m.log.message for m in messages]


def test_every_component_given_the_same_config_finds_the_same_context():
    config: dict = {}
    assert SyncContext.of(config) is SyncContext.of(config)
    assert isinstance(config[SYNC_ID_KEY], str)


def test_two_syncs_in_one_process_share_no_counts_caches_or_skips():
    first, second = {"base_url": "a"}, {"base_url": "a"}
    SyncContext.of(first).count_result_page("content/search")
    SyncContext.of(first).skips.add("page_versions", "not_found", "page")
    cache = SyncContext.of(first).cache("user_names", dict)
    assert SyncContext.of(second).result_pages() == {}
    assert SyncContext.of(second).skips.snapshot() == {}
    assert SyncContext.of(second).cache("user_names", dict) is not cache
    assert SyncContext.of(first).result_pages() == {"content/search": 1}


def test_a_config_that_carries_another_syncs_id_still_finds_that_sync_only_by_that_id():
    running: dict = {}
    SyncContext.of(running).count_result_page("spaces")
    copied = dict(running)  # e.g. a config written back with its id
    assert SyncContext.of(copied) is SyncContext.of(running)


def test_a_held_message_goes_out_once_the_records_it_covers_are_out():
    sync = SyncContext()
    sync.hold(log("pages read up to record 2"), "pages", after_records=2)
    sync.hold(log("a log"), None)
    assert texts(sync.release({"pages": 1})) == ["a log"]
    assert texts(sync.release({"pages": 2})) == ["pages read up to record 2"]
    assert sync.release({"pages": 2}) == []


def test_a_later_state_of_a_stream_never_overtakes_an_earlier_one():
    sync = SyncContext()
    sync.hold(log("first"), "pages", after_records=5)
    sync.hold(log("second"), "pages", after_records=3)
    sync.hold(log("blog posts"), "blog_posts", after_records=0)
    assert texts(sync.release({"pages": 4})) == ["blog posts"]
    assert texts(sync.release({"pages": 5})) == ["first", "second"]


def test_what_stays_held_after_a_release_still_goes_out_when_its_records_are_out():
    sync = SyncContext()
    sync.hold(log("pages up to 1"), "pages", after_records=1)
    sync.hold(log("pages up to 3"), "pages", after_records=3)
    assert texts(sync.release({"pages": 1})) == ["pages up to 1"]
    sync.hold(log("blog posts up to 2"), "blog_posts", after_records=2)
    assert sync.release({"pages": 2, "blog_posts": 1}) == []
    assert texts(sync.release({"pages": 3, "blog_posts": 1})) == ["pages up to 3"]
    assert texts(sync.release({"pages": 3, "blog_posts": 2})) == ["blog posts up to 2"]
    assert sync.release({"pages": 9, "blog_posts": 9}) == []


def test_page_done_reaches_the_cursor_of_that_stream_only():
    sync = SyncContext()
    seen = []

    class Cursor:
        def checkpoint_window(self, window):
            seen.append(window)

    sync.checkpoint_pages_of("pages", Cursor())
    sync.page_done("pages", {"start_time": "a"})
    sync.page_done("space", {"start_time": "b"})
    sync.page_done(None, {"start_time": "c"})
    assert seen == [{"start_time": "a"}]


def test_what_starts_with_the_read_starts_once_when_reading_begins_and_never_before():
    sync, started = SyncContext(), []
    sync.at_read_start("probe", lambda: started.append("probe"))
    sync.at_read_start("probe", lambda: started.append("the same name again"))  # the streams are built twice
    assert started == []  # built streams (check, discover) start nothing
    sync.read_started()
    sync.read_started()  # the second stream begins: nothing again
    assert started == ["probe"]
    sync.at_read_start("late", lambda: started.append("late"))
    sync.read_started()
    assert started == ["probe"]  # registered after reading began: the page that needs it asks itself


def test_a_start_that_fails_costs_the_others_nothing():
    sync, started = SyncContext(), []

    def broken():
        raise RuntimeError("no pool")

    sync.at_read_start("broken", broken)
    sync.at_read_start("probe", lambda: started.append("probe"))
    sync.read_started()
    assert started == ["probe"]
