"""pages: one site-wide CQL ``content/search`` window (or the chosen spaces), incremental on lastModifiedAt."""

import freezegun
from airbyte_cdk.models import SyncMode

from unit_tests.config_builder import ConfigBuilder
from unit_tests.conftest import read_streams, records_of, state_for, stream_requests
from unit_tests.request_builder import ConfluenceUrls, query_of, requests_to
from unit_tests.response_builder import content, list_page

NOW = "2024-06-15T12:00:00Z"
EXPAND = "body.storage,version,space,history,ancestors,metadata.labels,restrictions.read.restrictions.user,restrictions.read.restrictions.group"


def cql(lower: str, upper: str, status: str = '"current", "archived"', extra: str = "", content_type: str = "page", spaces: str = "") -> str:
    return (
        f"type IN ({content_type}){spaces} AND status IN ({status}) "
        f'AND lastmodified >= "{lower}" AND lastmodified <= "{upper}"{extra} ORDER BY lastmodified ASC'
    )


def cloud_pages(http, pages=()):
    urls = ConfluenceUrls.cloud_site()
    http.get(urls.content_search, json=list_page(list(pages)))
    return urls


def cursor_of(output) -> str:
    """The state's site-wide cursor (besides it, the stretches read: components/checkpoints.py)."""
    state = output.most_recent_state.stream_state.__dict__
    assert state["state_type"] == "date-range" and state["slices"]
    return state["lastModifiedAt"]


def sent_queries(http, urls):
    return [query_of(r.url) for r in requests_to(http, urls.content_search)]


@freezegun.freeze_time(NOW)
class TestPagesRequest:
    def test_cloud_cql_expand_and_limit(self, http):
        urls = cloud_pages(http, [content("1", when="2024-03-01T10:00:00.000Z")])
        output = read_streams(ConfigBuilder().with_start_date("2024-01-01T00:00:00Z").build(), "pages", sync_mode=SyncMode.incremental)
        assert sent_queries(http, urls) == [
            {"cql": [cql("2024-01-01 00:00", "2024-06-15 12:01")], "expand": [EXPAND], "limit": ["250"]}
        ]
        assert [r["id"] for r in records_of(output, "pages")] == ["1"]

    def test_one_window_reads_every_space_without_listing_them(self, http):
        urls = cloud_pages(http, [content("1", "ENG", when="2024-02-01T10:00:00.000Z"), content("2", "HR", when="2024-03-01T10:00:00.000Z")])
        output = read_streams(ConfigBuilder().with_start_date("2024-01-01T00:00:00Z").build(), "pages")
        assert [r.url for r in stream_requests(http) if "/spaces" in r.url] == []  # only the config-time key listing
        assert len(sent_queries(http, urls)) == 1
        assert sorted((r["id"], r["spaceKey"]) for r in records_of(output, "pages")) == [("1", "ENG"), ("2", "HR")]

    def test_chosen_spaces_are_named_in_the_query(self, http):
        urls = cloud_pages(http)
        read_streams(ConfigBuilder().with_space_keys("ENG", "HR").with_start_date("2024-01-01T00:00:00Z").build(), "pages")
        assert sent_queries(http, urls)[0]["cql"] == [cql("2024-01-01 00:00", "2024-06-15 12:01", spaces=' AND space IN ("ENG", "HR")')]

    def test_without_start_date_the_window_starts_at_the_epoch(self, http):
        urls = cloud_pages(http)
        read_streams(ConfigBuilder().build(), "pages")
        assert sent_queries(http, urls)[0]["cql"] == [cql("1970-01-01 00:00", "2024-06-15 12:01")]

    def test_records_outside_their_window_are_left_to_the_window_they_belong_to(self, http):
        # CQL reads minutes in the site's zone, so a window's query reaches into its neighbours';
        # each window keeps what was modified inside it (here: before the start date, and after now).
        urls = cloud_pages(http, [content("1", when="2023-12-31T23:59:30.000Z"), content("2", when="2024-03-01T10:00:00.000Z"),
                                  content("3", when="2024-06-15T12:00:30.000Z")])
        output = read_streams(ConfigBuilder().with_start_date("2024-01-01T00:00:00Z").build(), "pages", sync_mode=SyncMode.incremental)
        assert len(sent_queries(http, urls)) == 1
        assert [r["id"] for r in records_of(output, "pages")] == ["2"]

    def test_window_is_written_in_the_site_zone_widened_over_dst(self, http):
        urls = cloud_pages(http)
        read_streams(ConfigBuilder().with_time_zone("America/New_York").with_start_date("2024-01-01T00:00:00Z").build(), "pages")
        assert sent_queries(http, urls)[0]["cql"] == [cql("2023-12-31 19:00", "2024-06-15 08:01")]

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
                "2024-01-01 00:00",
                "2024-06-15 12:01",
                status='"current"',
                extra=' AND label IN ("howto", "faq") AND (ancestor = 123456 OR creator = currentUser())',
            )
        ]

    def test_data_center_asks_for_50_on_its_rest_api(self, http):
        urls = ConfluenceUrls.data_center()
        http.get(urls.content_search, json=list_page([content("1", when="2024-03-01T10:00:00.000Z")], start=0, limit=50))
        read_streams(ConfigBuilder().data_center().with_start_date("2024-01-01T00:00:00Z").build(), "pages")
        assert sent_queries(http, urls) == [
            {"cql": [cql("2024-01-01 00:00", "2024-06-15 12:01")], "expand": [EXPAND], "limit": ["50"]}
        ]


@freezegun.freeze_time(NOW)
class TestPagesIncremental:
    def test_state_is_the_latest_modification_across_spaces(self, http):
        cloud_pages(
            http,
            [
                content("1", "ENG", when="2024-02-01T10:00:00.000Z"),
                content("3", "HR", when="2024-02-15T08:30:00.000Z"),
                content("2", "ENG", when="2024-03-01T10:00:00.000Z"),
            ],
        )
        output = read_streams(ConfigBuilder().build(), "pages", sync_mode=SyncMode.incremental)
        assert cursor_of(output) == "2024-03-01T10:00:00.000000Z"

    def test_second_read_starts_at_the_cursor_minus_the_lookback(self, http):
        urls = cloud_pages(http, [content("1", when="2024-02-01T10:00:00.000Z")])
        config = ConfigBuilder().with_lookback_minutes(30).with_start_date("2024-01-01T00:00:00Z").build()
        first = read_streams(config, "pages", sync_mode=SyncMode.incremental)
        state = state_for("pages", first.most_recent_state.stream_state.__dict__)
        http.reset_mock()

        read_streams(config, "pages", sync_mode=SyncMode.incremental, state=state)

        assert [q["cql"] for q in sent_queries(http, urls)] == [[cql("2024-02-01 09:30", "2024-06-15 12:01")]]

    def test_default_lookback_is_fifteen_minutes(self, http):
        urls = cloud_pages(http)
        state = state_for("pages", {"lastModifiedAt": "2024-02-01T10:00:00.000000Z"})
        read_streams(ConfigBuilder().build(), "pages", sync_mode=SyncMode.incremental, state=state)
        assert sent_queries(http, urls)[0]["cql"] == [cql("2024-02-01 09:45", "2024-06-15 12:01")]

    def test_a_per_space_state_of_0_1_0_resumes_from_its_oldest_space(self, http):
        urls = cloud_pages(http)
        state = state_for(
            "pages",
            {
                "states": [
                    {"partition": {"parent_slice": {}, "space_key": "ENG"}, "cursor": {"lastModifiedAt": "2024-03-01T10:00:00.000000Z"}},
                    {"partition": {"parent_slice": {}, "space_key": "HR"}, "cursor": {"lastModifiedAt": "2024-02-01T10:00:00.000000Z"}},
                ],
                "use_global_cursor": False,
            },
        )
        output = read_streams(ConfigBuilder().build(), "pages", sync_mode=SyncMode.incremental, state=state)
        assert [q["cql"] for q in sent_queries(http, urls)] == [[cql("2024-02-01 09:45", "2024-06-15 12:01")]]
        assert cursor_of(output) == "2024-02-01T10:00:00.000000Z"


@freezegun.freeze_time(NOW)
class TestRenderedBodies:
    def test_body_format_view_asks_for_the_rendering_and_converts_it(self, http):
        rendered = content("1", when="2024-03-01T10:00:00.000Z")
        rendered["body"] = {"view": {"value": "<h2>Included</h2><p>Text from <strong>another page</strong></p>", "representation": "view"}}
        urls = cloud_pages(http, [rendered])
        config = ConfigBuilder().with_start_date("2024-01-01T00:00:00Z").build()
        config["body_format"] = "view"
        output = read_streams(config, "pages")
        assert sent_queries(http, urls)[0]["expand"] == [EXPAND.replace("body.storage", "body.view")]
        [record] = records_of(output, "pages")
        assert record["body"] == {"view": {"representation": "view", "value": rendered["body"]["view"]["value"]}}
        assert record["bodyMarkdown"].strip() == "## Included\n\nText from **another page**"
