"""pages: one CQL ``content/search`` per space from the parent ``space`` stream, incremental on lastModifiedAt."""

import freezegun
from airbyte_cdk.models import SyncMode

from unit_tests.config_builder import ConfigBuilder
from unit_tests.conftest import read_streams, records_of, state_for
from unit_tests.request_builder import ConfluenceUrls, query_of, requests_to
from unit_tests.response_builder import content, dc_space, list_page, v2_space

NOW = "2024-06-15T12:00:00Z"
EXPAND = "body.storage,version,space,history,ancestors,metadata.labels,restrictions.read.restrictions.user,restrictions.read.restrictions.group"


def cql(space: str, lower: str, upper: str, status: str = '"current", "archived"', extra: str = "", content_type: str = "page") -> str:
    return (
        f'type IN ({content_type}) AND space = "{space}" AND status IN ({status}) '
        f'AND lastmodified >= "{lower}" AND lastmodified <= "{upper}"{extra} ORDER BY lastmodified ASC'
    )


def cloud_pages(http, spaces=("ENG",), pages_by_space=None):
    urls = ConfluenceUrls.cloud_site()
    http.get(urls.spaces, json=list_page([v2_space(str(i), key) for i, key in enumerate(spaces, 1)]))

    def search(request, context):
        space = query_of(request.url)["cql"][0].split('space = "')[1].split('"')[0]
        return list_page((pages_by_space or {}).get(space, []))

    http.get(urls.content_search, json=search)
    return urls


def sent_queries(http, urls):
    return [query_of(r.url) for r in requests_to(http, urls.content_search)]


@freezegun.freeze_time(NOW)
class TestPagesRequest:
    def test_cloud_cql_expand_and_limit(self, http):
        urls = cloud_pages(http, pages_by_space={"ENG": [content("1")]})
        output = read_streams(ConfigBuilder().with_start_date("2024-01-01T00:00:00Z").build(), "pages", sync_mode=SyncMode.incremental)
        assert sent_queries(http, urls) == [
            {"cql": [cql("ENG", "2024-01-01 00:00", "2024-06-15 12:01")], "expand": [EXPAND], "limit": ["250"]}
        ]
        assert [r["id"] for r in records_of(output, "pages")] == ["1"]

    def test_one_request_per_space_of_the_parent_stream(self, http):
        urls = cloud_pages(http, spaces=("ENG", "HR"), pages_by_space={"ENG": [content("1", "ENG")], "HR": [content("2", "HR")]})
        output = read_streams(ConfigBuilder().with_start_date("2024-01-01T00:00:00Z").build(), "pages")
        spaces = sorted(q["cql"][0].split('space = "')[1].split('"')[0] for q in sent_queries(http, urls))
        assert spaces == ["ENG", "HR"]
        assert sorted((r["id"], r["spaceKey"]) for r in records_of(output, "pages")) == [("1", "ENG"), ("2", "HR")]

    def test_without_start_date_the_window_starts_at_the_epoch(self, http):
        urls = cloud_pages(http)
        read_streams(ConfigBuilder().build(), "pages")
        assert sent_queries(http, urls)[0]["cql"] == [cql("ENG", "1970-01-01 00:00", "2024-06-15 12:01")]

    def test_window_is_written_in_the_site_zone_widened_over_dst(self, http):
        urls = cloud_pages(http)
        read_streams(ConfigBuilder().with_time_zone("America/New_York").with_start_date("2024-01-01T00:00:00Z").build(), "pages")
        assert sent_queries(http, urls)[0]["cql"] == [cql("ENG", "2023-12-31 19:00", "2024-06-15 08:01")]

    def test_labels_cql_filter_and_current_only(self, http):
        urls = cloud_pages(http)
        config = (
            ConfigBuilder()
            .with_start_date("2024-01-01T00:00:00Z")
            .with_labels("howto", "faq")
            .with_cql_filter("ancestor = 123456 OR creator = currentUser()")
            .with_include_archived(False)
            .build()
        )
        read_streams(config, "pages")
        assert sent_queries(http, urls)[0]["cql"] == [
            cql(
                "ENG",
                "2024-01-01 00:00",
                "2024-06-15 12:01",
                status='"current"',
                extra=' AND label IN ("howto", "faq") AND (ancestor = 123456 OR creator = currentUser())',
            )
        ]

    def test_data_center_asks_for_50_on_its_rest_api(self, http):
        urls = ConfluenceUrls.data_center()
        http.get(urls.spaces, json=list_page([dc_space(1, "ENG")]))
        http.get(urls.content_search, json=list_page([content("1")], start=0, limit=50))
        read_streams(ConfigBuilder().data_center().with_start_date("2024-01-01T00:00:00Z").build(), "pages")
        assert sent_queries(http, urls) == [
            {"cql": [cql("ENG", "2024-01-01 00:00", "2024-06-15 12:01")], "expand": [EXPAND], "limit": ["50"]}
        ]


@freezegun.freeze_time(NOW)
class TestPagesIncremental:
    def test_state_is_kept_per_space_at_the_latest_modification(self, http):
        cloud_pages(
            http,
            spaces=("ENG", "HR"),
            pages_by_space={
                "ENG": [content("1", "ENG", when="2024-02-01T10:00:00.000Z"), content("2", "ENG", when="2024-03-01T10:00:00.000Z")],
                "HR": [content("3", "HR", when="2024-02-15T08:30:00.000Z")],
            },
        )
        output = read_streams(ConfigBuilder().build(), "pages", sync_mode=SyncMode.incremental)
        state = output.most_recent_state.stream_state.__dict__
        cursors = {s["partition"]["space_key"]: s["cursor"]["lastModifiedAt"] for s in state["states"]}
        assert cursors == {"ENG": "2024-03-01T10:00:00.000000Z", "HR": "2024-02-15T08:30:00.000000Z"}

    def test_second_read_starts_at_the_cursor_minus_the_lookback(self, http):
        urls = cloud_pages(http, pages_by_space={"ENG": [content("1", when="2024-02-01T10:00:00.000Z")]})
        config = ConfigBuilder().with_lookback_minutes(30).with_start_date("2024-01-01T00:00:00Z").build()
        first = read_streams(config, "pages", sync_mode=SyncMode.incremental)
        state = state_for("pages", first.most_recent_state.stream_state.__dict__)
        http.reset_mock()

        read_streams(config, "pages", sync_mode=SyncMode.incremental, state=state)

        assert sent_queries(http, urls)[0]["cql"] == [cql("ENG", "2024-02-01 09:30", "2024-06-15 12:01")]

    def test_default_lookback_is_fifteen_minutes(self, http):
        urls = cloud_pages(http)
        state = state_for(
            "pages",
            {"states": [{"partition": {"parent_slice": {}, "space_key": "ENG"}, "cursor": {"lastModifiedAt": "2024-02-01T10:00:00.000000Z"}}]},
        )
        read_streams(ConfigBuilder().build(), "pages", sync_mode=SyncMode.incremental, state=state)
        assert sent_queries(http, urls)[0]["cql"] == [cql("ENG", "2024-02-01 09:45", "2024-06-15 12:01")]
