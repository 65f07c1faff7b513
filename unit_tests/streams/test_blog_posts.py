"""blog_posts: the pages query with ``type IN (blogpost)``."""

import freezegun
from airbyte_cdk.models import SyncMode

from unit_tests.config_builder import ConfigBuilder
from unit_tests.conftest import read_streams, records_of
from unit_tests.request_builder import ConfluenceUrls, query_of, requests_to
from unit_tests.response_builder import content, list_page


@freezegun.freeze_time("2024-06-15T12:00:00Z")
class TestBlogPosts:
    def test_cql_asks_for_blog_posts_of_the_site(self, http):
        urls = ConfluenceUrls.cloud_site()
        http.get(urls.content_search, json=list_page([content("7", content_type="blogpost", title="News", when="2024-03-01T10:00:00.000Z")]))
        output = read_streams(ConfigBuilder().with_start_date("2024-01-01T00:00:00Z").build(), "blog_posts", sync_mode=SyncMode.incremental)
        sent = [query_of(r.url) for r in requests_to(http, urls.content_search)]
        assert sent[0]["cql"] == [
            'type IN (blogpost) AND status IN ("current", "archived") '
            'AND lastmodified >= "2024-01-01 00:00" AND lastmodified <= "2024-06-15 12:01" ORDER BY lastmodified ASC'
        ]
        record = records_of(output, "blog_posts")[0]
        assert (record["id"], record["type"], record["title"]) == ("7", "blogpost", "News")
        assert output.most_recent_state.stream_descriptor.name == "blog_posts"
