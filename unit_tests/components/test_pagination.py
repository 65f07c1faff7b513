"""NextLinkPagination / next_link_token: follow ``_links.next`` on v1 and v2, Cloud, gateway and Data Center."""

from urllib.parse import parse_qsl

import pytest
import requests
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_confluence.components.pagination import NextLinkPagination, endpoint_template, next_link_token

SITE = "https://acme.atlassian.net"
GATEWAY_V1 = "https://api.atlassian.com/ex/confluence/CID/wiki/rest/api"


def response(body, request_url: str) -> requests.Response:
    import json

    resp = requests.Response()
    resp.status_code = 200
    resp._content = json.dumps(body).encode()
    resp.request = requests.Request("GET", request_url).prepare()
    return resp


def paginator() -> NextLinkPagination:
    return NextLinkPagination(config={}, parameters={})


class TestNextLinkToken:
    def test_v2_host_relative_link_becomes_endpoint_and_query(self):
        body = {"results": [{}], "_links": {"next": "/wiki/api/v2/spaces?cursor=X&limit=250", "base": f"{SITE}/wiki"}}
        assert next_link_token(body, f"{SITE}/wiki/api/v2/spaces?limit=250") == "spaces?cursor=X&limit=250"

    def test_v1_cloud_link_relative_to_base_keeps_its_whole_query(self):
        link = '/rest/api/content/search?next=true&cursor=abc%3D&limit=250&cql=type+%3D+page+AND+space+%3D+%22ENG%22'
        body = {"results": [{}], "_links": {"next": link, "base": f"{SITE}/wiki", "context": "/wiki"}}
        token = next_link_token(body, f"{SITE}/wiki/rest/api/content/search?cql=x")
        path, _, query = token.partition("?")
        assert path == "content/search"
        assert parse_qsl(query) == [
            ("next", "true"),
            ("cursor", "abc="),
            ("limit", "250"),
            ("cql", 'type = page AND space = "ENG"'),
        ]

    def test_gateway_request_with_site_base_is_accepted_and_gateway_prefix_dropped(self):
        """Behind the gateway the link names the site (``_links.base``), not the gateway host."""
        body = {
            "results": [{}],
            "_links": {"next": f"{SITE}/wiki/rest/api/group?start=200&limit=200", "base": f"{SITE}/wiki"},
        }
        assert next_link_token(body, f"{GATEWAY_V1}/group?limit=200") == "group?start=200&limit=200"

    def test_data_center_offset_is_recomputed_from_what_was_returned(self):
        """DC clamps ``limit`` to 50 with a body expanded but writes start=250 in the link."""
        body = {
            "results": [{}] * 50,
            "start": 0,
            "limit": 50,
            "size": 50,
            "_links": {
                "next": "/rest/api/content/search?cql=space%3DENG&start=250&limit=250",
                "base": "https://wiki.example.com/confluence",
                "context": "/confluence",
            },
        }
        token = next_link_token(body, "https://wiki.example.com/confluence/rest/api/content/search?cql=space%3DENG")
        assert token == "content/search?cql=space%3DENG&start=50&limit=250"

    def test_data_center_context_path_in_link_is_not_repeated(self):
        body = {"results": [{}] * 3, "start": 3, "_links": {"next": "/confluence/rest/api/space?start=6&limit=3"}}
        assert next_link_token(body, "https://wiki.example.com/confluence/rest/api/space") == "space?start=6&limit=3"

    def test_no_next_link_ends_pagination(self):
        assert next_link_token({"results": [{}], "_links": {"base": SITE}}, f"{SITE}/wiki/api/v2/spaces") is None
        assert next_link_token({"results": []}, f"{SITE}/wiki/api/v2/spaces") is None

    def test_link_to_another_host_is_refused(self):
        body = {"results": [{}], "_links": {"next": "https://evil.example.com/wiki/api/v2/spaces?cursor=X", "base": f"{SITE}/wiki"}}
        with pytest.raises(AirbyteTracedException) as raised:
            next_link_token(body, f"{SITE}/wiki/api/v2/spaces")
        assert "another host" in raised.value.message
        assert "evil.example.com" in raised.value.internal_message

    def test_link_without_a_known_api_root_is_an_error(self):
        body = {"results": [{}], "_links": {"next": "/wiki/spaces/ENG/pages?cursor=X"}}
        with pytest.raises(AirbyteTracedException) as raised:
            next_link_token(body, f"{SITE}/wiki/api/v2/spaces")
        assert "does not understand" in raised.value.message
        assert "/wiki/spaces/ENG/pages" in raised.value.internal_message


class TestNextLinkPagination:
    def test_next_page_token_reads_the_link_of_the_response(self):
        resp = response({"results": [{}], "_links": {"next": "/wiki/api/v2/spaces?cursor=X&limit=250"}}, f"{SITE}/wiki/api/v2/spaces")
        assert paginator().next_page_token(resp, 1, None, None) == "spaces?cursor=X&limit=250"

    def test_data_center_search_next_page_starts_at_the_last_result_read(self):
        """The page must begin with the result before it, so results that moved up are noticed (offset_walks)."""
        body = {
            "results": [{"id": str(n)} for n in range(50)],
            "start": 100,
            "_links": {"next": "/rest/api/content/search?cql=x&start=150&limit=50", "base": "https://wiki.example.com/confluence"},
        }
        resp = response(body, "https://wiki.example.com/confluence/rest/api/content/search?cql=x&start=100&limit=50")
        assert paginator().next_page_token(resp, 50, None, None) == "content/search?cql=x&start=149&limit=50"

    def test_cloud_search_cursor_links_are_followed_as_they_are(self):
        body = {"results": [{"id": str(n)} for n in range(50)], "start": 0, "_links": {"next": "/rest/api/content/search?cql=x&cursor=C&start=50&limit=50"}}
        resp = response(body, f"{SITE}/wiki/rest/api/content/search?cql=x&limit=50")
        assert paginator().next_page_token(resp, 50, None, None) == "content/search?cql=x&cursor=C&start=50&limit=50"

    def test_link_equal_to_the_previous_token_stops(self):
        resp = response({"results": [], "_links": {"next": "/wiki/api/v2/spaces?cursor=X&limit=250"}}, f"{SITE}/wiki/api/v2/spaces?cursor=X&limit=250")
        assert paginator().next_page_token(resp, 0, None, "spaces?cursor=X&limit=250") is None

    def test_new_link_is_followed_even_after_an_empty_page(self):
        resp = response({"results": [], "_links": {"next": "/wiki/api/v2/spaces?cursor=Y&limit=250"}}, f"{SITE}/wiki/api/v2/spaces?cursor=X&limit=250")
        assert paginator().next_page_token(resp, 0, None, "spaces?cursor=X&limit=250") == "spaces?cursor=Y&limit=250"

    def test_no_link_stops(self):
        resp = response({"results": [{}], "_links": {}}, f"{SITE}/wiki/api/v2/spaces")
        assert paginator().next_page_token(resp, 1, None, None) is None

    def test_body_that_is_not_json_or_not_an_object_stops(self):
        resp = response([1, 2], f"{SITE}/wiki/api/v2/spaces")
        assert paginator().next_page_token(resp, 2, None, None) is None
        resp._content = b"<html>"
        assert paginator().next_page_token(resp, 0, None, None) is None

    def test_first_request_has_no_token_and_page_size_is_left_to_the_manifest(self):
        assert paginator().initial_token is None
        assert paginator().get_page_size() is None


# ------------------------------------------------------------------ through the real source

import freezegun  # noqa: E402

from unit_tests.config_builder import ConfigBuilder  # noqa: E402
from unit_tests.conftest import read_streams, records_of  # noqa: E402
from unit_tests.request_builder import ConfluenceUrls, query_of, requests_to, url_without_query  # noqa: E402
from unit_tests.response_builder import content, list_page, v2_space  # noqa: E402


@freezegun.freeze_time("2024-06-15T12:00:00Z")
class TestPaginationThroughTheSource:
    def test_three_v2_pages_return_each_space_once_and_follow_only_the_link_query(self, http):
        urls = ConfluenceUrls.cloud_site()
        http.get(
            urls.spaces + "?limit=250&description-format=plain",
            complete_qs=True,
            json=list_page([v2_space("1", "A")], next_link="/wiki/api/v2/spaces?cursor=C2&limit=250"),
        )
        http.get(
            urls.spaces + "?cursor=C2&limit=250",
            complete_qs=True,
            json=list_page([v2_space("2", "B")], next_link="/wiki/api/v2/spaces?cursor=C3&limit=250"),
        )
        http.get(urls.spaces + "?cursor=C3&limit=250", complete_qs=True, json=list_page([v2_space("3", "C")]))

        output = read_streams(ConfigBuilder().build(), "space")

        assert [r["key"] for r in records_of(output, "space")] == ["A", "B", "C"]
        # NormaliseConfig's listing of the visible spaces asks `spaces?limit=250` before the stream (unmocked here).
        sent = [r for r in requests_to(http, urls.spaces) if query_of(r.url) != {"limit": ["250"]}]
        assert [query_of(r.url) for r in sent] == [
            {"limit": ["250"], "description-format": ["plain"]},
            {"cursor": ["C2"], "limit": ["250"]},
            {"cursor": ["C3"], "limit": ["250"]},
        ]

    def test_three_cql_pages_send_cql_and_limit_once_per_request(self, http):
        urls = ConfluenceUrls.cloud_site()
        http.get(urls.spaces, json=list_page([v2_space("1", "ENG")]))
        link_cql = 'type = page AND space = "ENG"'
        second = "/rest/api/content/search?next=true&cursor=P2&limit=250&cql=type+%3D+page+AND+space+%3D+%22ENG%22"
        third = "/rest/api/content/search?next=true&cursor=P3&limit=250&cql=type+%3D+page+AND+space+%3D+%22ENG%22"

        def search(request, context):
            cursor = query_of(request.url).get("cursor", [None])[0]
            page = {None: ("1", second), "P2": ("2", third), "P3": ("3", None)}[cursor]
            return list_page([content(page[0], when=f"2024-02-0{page[0]}T10:00:00.000Z")], next_link=page[1], base=f"{SITE}/wiki")

        http.get(urls.content_search, json=search)

        output = read_streams(ConfigBuilder().build(), "pages")

        assert [r["id"] for r in records_of(output, "pages")] == ["1", "2", "3"]
        sent = [query_of(r.url) for r in requests_to(http, urls.content_search)]
        assert len(sent) == 3
        assert set(sent[0]) == {"cql", "expand", "limit"}
        for query, cursor in zip(sent[1:], ("P2", "P3")):
            assert query == {"next": ["true"], "cursor": [cursor], "limit": ["250"], "cql": [link_cql]}

    def test_gateway_next_link_naming_the_site_is_followed_on_the_gateway(self, http):
        config = ConfigBuilder().with_scoped_api_token(cloud_id="CID").build()
        urls = ConfluenceUrls.gateway(cloud_id="CID")
        http.get(urls.spaces, json=list_page([v2_space("1", "ENG")]))

        def search(request, context):
            if "cursor" in query_of(request.url):
                return list_page([content("2")])
            return list_page(
                [content("1")],
                next_link="/rest/api/content/search?next=true&cursor=GW2&limit=250&cql=type%3Dpage",
                base=f"{SITE}/wiki",
            )

        http.get(urls.content_search, json=search)

        output = read_streams(config, "pages")

        assert [r["id"] for r in records_of(output, "pages")] == ["1", "2"]
        sent = requests_to(http, urls.content_search)
        assert len(sent) == 2
        assert url_without_query(sent[1].url) == "https://api.atlassian.com/ex/confluence/CID/wiki/rest/api/content/search"
        assert query_of(sent[1].url) == {"next": ["true"], "cursor": ["GW2"], "limit": ["250"], "cql": ["type=page"]}
        assert not [r for r in http.request_history if r.hostname == "acme.atlassian.net"]

    def test_link_to_another_host_fails_the_stream_without_calling_that_host(self, http):
        urls = ConfluenceUrls.cloud_site()
        http.get(
            urls.spaces,
            json=list_page([v2_space("1", "A")], next_link="https://evil.example.com/wiki/api/v2/spaces?cursor=X", base=f"{SITE}/wiki"),
        )
        evil = http.get("https://evil.example.com/wiki/api/v2/spaces", json=list_page([]))

        output = read_streams(ConfigBuilder().build(), "space", expecting_exception=True)

        assert evil.call_count == 0
        assert output.errors, "the read must report an error"
        assert any("another host" in e.trace.error.message for e in output.errors)


@pytest.mark.parametrize(
    "endpoint, template",
    [
        ("pages/123/versions", "pages/{id}/versions"),
        ("content/123/version", "content/{id}/version"),
        ("group/confluence-users/member", "group/{id}/member"),
        ("group/6d2f-aa/membersByGroupId", "group/{id}/membersByGroupId"),
        ("space/ENG/permissions", "space/{id}/permissions"),
        ("spaces/98304/permissions", "spaces/{id}/permissions"),
        ("content/search", "content/search"),
        ("search/user", "search/user"),
        ("user/list", "user/list"),
        ("spaces", "spaces"),
        ("audit", "audit"),
    ],
)
def test_result_pages_are_counted_per_endpoint_template(endpoint, template):
    assert endpoint_template(endpoint) == template
