"""The `spec` a user's Airbyte renders: OAuth 2.0 through "Authenticate", test-only and legacy fields hidden.

Runs the source's real `spec` (manifest `spec` block) and reads it the way the platform does.
"""

import logging
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from airbyte_cdk.models import ConnectorSpecificationSerializer

from source_confluence import SourceConfluence

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def spec() -> dict:
    # Serialised as the `spec` command prints it (the protocol's own serializer).
    specification = SourceConfluence().spec(logging.getLogger("test"))
    return ConnectorSpecificationSerializer.dump(specification)


def credentials_option(spec: dict, auth_type: str) -> dict:
    options = spec["connectionSpecification"]["properties"]["credentials"]["oneOf"]
    return next(o for o in options if o["properties"]["auth_type"].get("const") == auth_type)


def at_path(spec: dict, path: list) -> dict:
    """The property a `path_in_connector_config` points at, looking inside the oneOf option it belongs to."""
    properties = spec["connectionSpecification"]["properties"]
    head, *rest = path
    node = properties[head]
    if rest:
        option = credentials_option(spec, spec["advanced_auth"]["predicate_value"])
        assert head == "credentials"
        node = option["properties"][rest[0]]
    return node


def test_advanced_auth_runs_atlassians_oauth_for_the_oauth2_option(spec) -> None:
    auth = spec["advanced_auth"]
    assert auth["auth_flow_type"] == "oauth2.0"
    assert auth["predicate_key"] == ["credentials", "auth_type"]
    option = credentials_option(spec, auth["predicate_value"])
    assert option["properties"]["auth_type"]["const"] == "oauth2"


def test_every_oauth_output_lands_in_an_existing_config_field(spec) -> None:
    oauth = spec["advanced_auth"]["oauth_config_specification"]
    outputs = oauth["complete_oauth_output_specification"]["properties"]
    server_outputs = oauth["complete_oauth_server_output_specification"]["properties"]
    assert set(outputs) == {"access_token", "refresh_token", "token_expiry_date"}
    assert set(server_outputs) == set(oauth["complete_oauth_server_input_specification"]["properties"]) == {"client_id", "client_secret"}
    for field in {**outputs, **server_outputs}.values():
        assert at_path(spec, field["path_in_connector_config"])["type"] == field["type"]
    extracted = oauth["oauth_connector_input_specification"]["extract_output"]
    assert set(extracted) <= set(outputs) and {"access_token", "refresh_token"} <= set(extracted)


def test_consent_url_asks_atlassian_for_the_read_scopes_and_a_refresh_token(spec) -> None:
    connector_input = spec["advanced_auth"]["oauth_config_specification"]["oauth_connector_input_specification"]
    url = connector_input["consent_url"]
    assert url.startswith("https://auth.atlassian.com/authorize?")
    query = parse_qs(urlsplit(url).query)
    assert query["audience"] == ["api.atlassian.com"] and query["response_type"] == ["code"] and query["prompt"] == ["consent"]
    for placeholder in ("client_id_value", "redirect_uri_value", "state_value", "scope_value"):
        assert placeholder in url
    assert connector_input["access_token_url"] == "https://auth.atlassian.com/oauth/token"
    assert connector_input["access_token_params"]["grant_type"] == "authorization_code"
    scopes = set(connector_input["scope"].split())
    assert "offline_access" in scopes
    assert not [scope for scope in scopes if scope.startswith(("write:", "delete:", "manage:"))]
    # Every granular scope the docs' permissions table asks for is requested.
    docs = (ROOT / "docs" / "confluence.md").read_text()
    permissions = docs.split("## Permissions", 1)[1].split("\n## ", 1)[0]
    documented = set()
    for line in permissions.splitlines():
        cells = line.split("|")
        if len(cells) > 3:
            documented |= set(re.findall(r"`([a-z\-.:]+:confluence)`", cells[3].split("(classic")[0]))
    assert documented and documented <= scopes, sorted(documented - scopes)


def test_test_only_and_legacy_fields_are_hidden_and_the_rest_shown(spec) -> None:
    properties = spec["connectionSpecification"]["properties"]
    for name in ("api_gateway_url", "oauth_token_url", "domain_name", "email", "api_token"):
        assert properties[name].get("airbyte_hidden") is True, name
    oauth = credentials_option(spec, "oauth2")["properties"]
    for name in ("access_token", "token_expiry_date"):
        assert oauth[name].get("airbyte_hidden") is True, name
    assert oauth["access_token"].get("airbyte_secret") is True
    for name in ("client_id", "client_secret", "refresh_token", "cloud_id"):
        assert not oauth[name].get("airbyte_hidden"), name
    for name in ("base_url", "deployment", "credentials", "space_keys", "start_date", "num_workers"):
        assert not properties[name].get("airbyte_hidden"), name
    # Hidden fields keep working: the defaults are still there for the connector to use.
    assert properties["api_gateway_url"]["default"] == "https://api.atlassian.com"


def test_documentation_url_is_this_projects_docs(spec) -> None:
    metadata = yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]
    assert spec["documentationUrl"] == metadata["documentationUrl"]
