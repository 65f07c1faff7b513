"""Each sign-in method: which host the ``space`` request goes to, with which Authorization header; and check."""

import freezegun
import pytest
from airbyte_cdk.models import Status

from unit_tests.config_builder import DC_BASE, GATEWAY, SITE, TOKEN_URL, ConfigBuilder
from unit_tests.conftest import check, control_configs, read_streams, records_of, stream_requests
from unit_tests.request_builder import ConfluenceUrls, basic, bearer, url_without_query
from unit_tests.response_builder import dc_space, error, list_page, v2_space


def only_space_request(http):
    sent = stream_requests(http)
    assert len(sent) == 1, [r.url for r in sent]
    return sent[0]


@freezegun.freeze_time("2024-06-15T12:00:00Z")
class TestSpaceRequestPerSignIn:
    def test_api_token_is_basic_auth_to_the_site(self, http):
        http.get(ConfluenceUrls.cloud_site().spaces, json=list_page([v2_space()]))
        output = read_streams(ConfigBuilder().with_api_token("me@acme.test", "tok-1").build(), "space")
        request = only_space_request(http)
        assert url_without_query(request.url) == f"{SITE}/wiki/api/v2/spaces"
        assert request.headers["Authorization"] == basic("me@acme.test", "tok-1")
        assert len(records_of(output, "space")) == 1

    def test_scoped_api_token_is_basic_auth_to_the_gateway(self, http):
        http.get(ConfluenceUrls.gateway(cloud_id="cid-9").spaces, json=list_page([v2_space()]))
        output = read_streams(ConfigBuilder().with_scoped_api_token("me@acme.test", "scoped-1", cloud_id="cid-9").build(), "space")
        request = only_space_request(http)
        assert url_without_query(request.url) == f"{GATEWAY}/ex/confluence/cid-9/wiki/api/v2/spaces"
        assert request.headers["Authorization"] == basic("me@acme.test", "scoped-1")
        assert len(records_of(output, "space")) == 1

    def test_scoped_api_token_without_cloud_id_uses_the_looked_up_one(self, http):
        http.get(f"{SITE}/_edge/tenant_info", json={"cloudId": "looked-up"})
        http.get(ConfluenceUrls.gateway(cloud_id="looked-up").spaces, json=list_page([v2_space()]))
        read_streams(ConfigBuilder().with_scoped_api_token(cloud_id=None).build(), "space")
        assert url_without_query(stream_requests(http)[-1].url) == f"{GATEWAY}/ex/confluence/looked-up/wiki/api/v2/spaces"

    def test_oauth2_refreshes_then_sends_bearer_to_the_gateway_and_persists_the_rotated_token(self, http, capsys):
        config = ConfigBuilder().with_oauth2("cid", "secret", "refresh-1").build()
        fields_when_refreshing = []

        def refreshed(request, context):
            fields_when_refreshing.append((set(config), set(config["credentials"])))
            return {"access_token": "access-2", "refresh_token": "refresh-2", "expires_in": 3600}

        token = http.post(TOKEN_URL, json=refreshed)
        http.get(ConfluenceUrls.gateway().spaces, json=list_page([v2_space()]))

        output = read_streams(config, "space")

        assert token.call_count == 1
        form = dict(pair.split("=", 1) for pair in token.last_request.text.split("&"))
        assert form["grant_type"] == "refresh_token"
        assert (form["client_id"], form["client_secret"], form["refresh_token"]) == ("cid", "secret", "refresh-1")
        space_request = [r for r in stream_requests(http) if r.method == "GET"][0]
        assert url_without_query(space_request.url) == ConfluenceUrls.gateway().spaces
        assert space_request.headers["Authorization"] == bearer("access-2")
        assert len(records_of(output, "space")) == 1
        persisted = control_configs(capsys.readouterr().out)
        assert persisted, "the rotated refresh token must be emitted as a CONTROL message"
        assert persisted[-1]["credentials"]["refresh_token"] == "refresh-2"
        assert persisted[-1]["credentials"]["access_token"] == "access-2"
        assert config["credentials"]["refresh_token"] == "refresh-2"
        # The refresh replaced values and added no field: other threads walk the config meanwhile (config.py
        # ``reserve_refreshed_fields``), and a dict that grows under a walk fails it.
        assert fields_when_refreshing == [(set(config), set(config["credentials"]))]

    def test_personal_access_token_is_bearer_to_the_data_center_rest_api(self, http):
        http.get(ConfluenceUrls.data_center().spaces, json=list_page([dc_space()]))
        output = read_streams(ConfigBuilder().data_center().with_personal_access_token("pat-1").build(), "space")
        request = only_space_request(http)
        assert url_without_query(request.url) == f"{DC_BASE}/rest/api/space"
        assert request.headers["Authorization"] == bearer("pat-1")
        assert len(records_of(output, "space")) == 1

    def test_password_is_basic_auth_to_the_data_center_rest_api(self, http):
        http.get(ConfluenceUrls.data_center().spaces, json=list_page([dc_space()]))
        read_streams(ConfigBuilder().data_center().with_password("admin", "pw").build(), "space")
        request = only_space_request(http)
        assert url_without_query(request.url) == f"{DC_BASE}/rest/api/space"
        assert request.headers["Authorization"] == basic("admin", "pw")


@freezegun.freeze_time("2024-06-15T12:00:00Z")
class TestCheck:
    def test_check_succeeds_when_spaces_can_be_listed(self, http):
        http.get(ConfluenceUrls.cloud_site().spaces, json=list_page([v2_space()]))
        output = check(ConfigBuilder().build())
        assert output.connection_status_messages[-1].connectionStatus.status == Status.SUCCEEDED

    @pytest.mark.parametrize(
        "status, expected",
        [
            (401, "did not accept the credentials (HTTP 401)"),
            (403, "refused the request (HTTP 403)"),
            (404, "check 'base_url'"),
        ],
    )
    def test_check_fails_with_a_message_saying_what_to_fix(self, http, status, expected):
        http.get(ConfluenceUrls.cloud_site().spaces, status_code=status, json=error(status, "nope"))
        output = check(ConfigBuilder().build())
        connection = output.connection_status_messages[-1].connectionStatus
        assert connection.status == Status.FAILED
        assert expected in connection.message
        assert len(stream_requests(http)) == 1, "a config error is not retried"

    def test_404_message_names_the_url_that_was_not_found(self, http):
        http.get(ConfluenceUrls.data_center().spaces, status_code=404, json=error(404, "nope"))
        connection = check(ConfigBuilder().data_center().build()).connection_status_messages[-1].connectionStatus
        assert f"{DC_BASE}/rest/api/space" in connection.message
