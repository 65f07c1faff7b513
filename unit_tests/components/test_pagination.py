"""NextLinkPagination / next_link_token: follow ``_links.next`` on v1 and v2, Cloud, gateway and Data Center."""

from urllib.parse import parse_qsl

import pytest
import requests
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_confluence.components.pagination import NextLinkPagination, next_link_token

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
