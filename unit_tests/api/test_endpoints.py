"""api/endpoints.py: one place decides where each API lives for a config."""

import base64
from datetime import datetime, timedelta, timezone

from source_confluence.api.endpoints import api_roots, signing_headers
from unit_tests.config_builder import CLOUD_ID, DC_BASE, GATEWAY, SITE, ConfigBuilder
from unit_tests.conftest import manifest_authenticator


def gateway_config(builder):
    return dict(builder.build(), api_gateway_url=GATEWAY)


def test_cloud_api_token_reads_the_site():
    assert api_roots(ConfigBuilder().build()) == {
        "rest_api_url": f"{SITE}/wiki/rest/api", "v2_api_url": f"{SITE}/wiki/api/v2", "versions_api_url": f"{SITE}/wiki/api/v2"}


def test_scoped_tokens_and_oauth_read_through_the_gateway_with_the_cloud_id():
    wiki = f"{GATEWAY}/ex/confluence/{CLOUD_ID}/wiki"
    for builder in (ConfigBuilder().with_scoped_api_token(), ConfigBuilder().with_oauth2()):
        assert api_roots(gateway_config(builder)) == {
            "rest_api_url": f"{wiki}/rest/api", "v2_api_url": f"{wiki}/api/v2", "versions_api_url": f"{wiki}/api/v2"}


def test_data_center_has_its_rest_and_experimental_roots():
    assert api_roots(ConfigBuilder().data_center().build()) == {
        "rest_api_url": f"{DC_BASE}/rest/api", "v2_api_url": f"{DC_BASE}/rest/api", "versions_api_url": f"{DC_BASE}/rest/experimental"}


def signing(config):
    return signing_headers(config, manifest_authenticator())


def test_the_lookups_sign_as_the_manifest_authenticator_does_for_each_sign_in():
    basic = lambda user, secret: "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
    assert signing(ConfigBuilder().with_api_token("me@acme.test", "tok").build()) == {"Authorization": basic("me@acme.test", "tok")}
    scoped = gateway_config(ConfigBuilder().with_scoped_api_token())
    assert signing(scoped) == {"Authorization": basic(scoped["credentials"]["email"], scoped["credentials"]["api_token"])}
    pat = ConfigBuilder().data_center().build()
    assert signing(pat) == {"Authorization": f"Bearer {pat['credentials']['personal_access_token']}"}
    password = ConfigBuilder().data_center().with_password("admin", "pw").build()
    assert signing(password) == {"Authorization": basic("admin", "pw")}


def test_without_a_definition_nothing_is_signed():
    assert signing_headers(ConfigBuilder().build(), None) is None


def test_oauth_signs_with_a_live_access_token_only_and_never_refreshes(requests_mock):
    config = gateway_config(ConfigBuilder().with_oauth2())
    assert signing(config) is None
    live = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    config["credentials"].update(access_token="at-1", token_expiry_date=live)
    assert signing(config) == {"Authorization": "Bearer at-1"}
    config["credentials"]["token_expiry_date"] = (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat()
    assert signing(config) is None  # about to expire: the streams' authenticators will refresh it, not the look-ups
    assert requests_mock.call_count == 0  # no token request: a refresh here would spend the rotating refresh token
    assert config["credentials"]["refresh_token"] == ConfigBuilder().with_oauth2().build()["credentials"]["refresh_token"]
