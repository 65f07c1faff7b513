"""The listing of the visible space keys before a sync (components/visible_spaces.py)."""

from urllib.parse import parse_qs, urlsplit

from source_confluence.components import visible_spaces
from source_confluence.api.endpoints import signing_headers
from source_confluence.components.visible_spaces import visible_space_keys as listed_with
from unit_tests.conftest import manifest_authenticator

SITE = "https://acme.atlassian.net"
GATEWAY = "https://api.atlassian.com"
DC = "https://wiki.example.com/confluence"


def cloud(**extra):
    return {"base_url": SITE, "deployment": "cloud", "credentials": {"auth_type": "api_token", "email": "me@acme.test", "api_token": "tok"}, **extra}


def visible_space_keys(config):
    """The listing as NormaliseConfig runs it: signed by the manifest's authenticator."""
    return listed_with(config, signing_headers(config, manifest_authenticator()))


def query(request):
    return parse_qs(urlsplit(request.url).query)


def test_cloud_walks_v2_spaces_and_asks_each_next_page_at_its_own_root(requests_mock):
    config = {**cloud(), "api_gateway_url": GATEWAY,
              "credentials": {"auth_type": "scoped_api_token", "email": "me@acme.test", "api_token": "tok", "cloud_id": "c1"}}
    root = f"{GATEWAY}/ex/confluence/c1/wiki/api/v2/spaces"
    # As real Atlassian, the gateway's next link points at the site.
    requests_mock.get(root, [
        {"json": {"results": [{"key": "ENG"}, {"key": "HR"}], "_links": {"next": "/wiki/api/v2/spaces?cursor=abc&limit=250"}}},
        {"json": {"results": [{"key": "DOCS"}], "_links": {}}},
    ])
    assert visible_space_keys(config) == ["DOCS", "ENG", "HR"]
    first, second = requests_mock.request_history
    assert query(first) == {"limit": ["250"]} and query(second) == {"cursor": ["abc"], "limit": ["250"]}
    assert second.url.startswith(root)


def test_space_keys_narrow_the_listing(requests_mock):
    requests_mock.get(f"{SITE}/wiki/api/v2/spaces", json={"results": [{"key": "ENG"}, {"key": "OTHER"}]})
    assert visible_space_keys(cloud(space_keys=["ENG", "HR"])) == ["ENG"]
    assert query(requests_mock.request_history[0])["keys"] == ["ENG,HR"]


def test_data_center_walks_v1_space_by_offset(requests_mock):
    config = {"base_url": DC, "deployment": "data_center", "space_keys": ["A", "B"],
              "credentials": {"auth_type": "personal_access_token", "personal_access_token": "pat"}}
    requests_mock.get(f"{DC}/rest/api/space", [
        {"json": {"results": [{"key": "A"}], "_links": {"next": "/rest/api/space?spaceKey=A&spaceKey=B&limit=1&start=1"}}},
        {"json": {"results": [{"key": "B"}], "_links": {}}},
    ])
    assert visible_space_keys(config) == ["A", "B"]
    first, second = requests_mock.request_history
    assert query(first) == {"limit": ["500"], "spaceKey": ["A", "B"]} and query(second)["start"] == ["1"]
    assert first.headers["Authorization"] == "Bearer pat"


def test_a_failed_listing_is_unknown_not_empty(requests_mock):
    requests_mock.get(f"{SITE}/wiki/api/v2/spaces", status_code=500, json={})
    assert visible_space_keys(cloud()) is None


def test_oauth_without_a_live_access_token_asks_nothing(requests_mock):
    config = {**cloud(), "api_gateway_url": GATEWAY,
              "credentials": {"auth_type": "oauth2", "client_id": "i", "client_secret": "s", "refresh_token": "r", "cloud_id": "c1"}}
    assert visible_space_keys(config) is None
    assert requests_mock.call_count == 0


def test_more_spaces_than_a_state_should_carry_are_not_tracked(requests_mock, monkeypatch):
    monkeypatch.setattr(visible_spaces, "MAX_TRACKED_SPACES", 2)
    requests_mock.get(f"{SITE}/wiki/api/v2/spaces", json={"results": [{"key": "A"}, {"key": "B"}, {"key": "C"}]})
    assert visible_space_keys(cloud()) is None


def test_a_next_link_that_repeats_ends_the_listing_as_unknown_instead_of_looping(requests_mock):
    # The same page again and again, each time linking to the same next page.
    requests_mock.get(f"{SITE}/wiki/api/v2/spaces",
                      json={"results": [{"key": "ENG"}], "_links": {"next": "/wiki/api/v2/spaces?cursor=X&limit=250"}})
    assert visible_space_keys(cloud()) is None
    assert len(requests_mock.request_history) == 2  # the first page and the linked one, which links to itself again


def test_an_empty_page_ends_the_listing_even_with_a_next_link(requests_mock):
    requests_mock.get(f"{SITE}/wiki/api/v2/spaces", [
        {"json": {"results": [{"key": "ENG"}], "_links": {"next": "/wiki/api/v2/spaces?cursor=A&limit=250"}}},
        {"json": {"results": [], "_links": {"next": "/wiki/api/v2/spaces?cursor=B&limit=250"}}},
    ])
    assert visible_space_keys(cloud()) == ["ENG"]
    assert len(requests_mock.request_history) == 2
