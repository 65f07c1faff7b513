"""components/endpoints.py: one place decides where each API lives for a config."""

from datetime import datetime, timedelta, timezone

from source_confluence.components.endpoints import api_roots, rest_api_root_and_auth
from unit_tests.config_builder import CLOUD_ID, DC_BASE, GATEWAY, SITE, ConfigBuilder


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


def test_oauth_signs_with_a_live_access_token_only():
    config = gateway_config(ConfigBuilder().with_oauth2())
    assert rest_api_root_and_auth(config) is None
    live = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    config["credentials"].update(access_token="at-1", token_expiry_date=live)
    root, signing = rest_api_root_and_auth(config)
    assert root == f"{GATEWAY}/ex/confluence/{CLOUD_ID}/wiki/rest/api" and signing == {"headers": {"Authorization": "Bearer at-1"}}
    config["credentials"]["token_expiry_date"] = (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat()
    assert rest_api_root_and_auth(config) is None  # about to expire: the authenticator will refresh it, not us
