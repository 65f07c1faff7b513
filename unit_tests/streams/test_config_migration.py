"""The manifest's ConfigMigration: the official connector's domain_name/email/api_token become base_url/credentials."""

import json

import freezegun
import pytest

from source_confluence import SourceConfluence
from unit_tests.config_builder import ConfigBuilder
from unit_tests.conftest import control_configs, read_streams, records_of, stream_requests
from unit_tests.request_builder import ConfluenceUrls, basic, url_without_query
from unit_tests.response_builder import list_page, v2_space

LEGACY = {"domain_name": "acme.atlassian.net", "email": "bot@acme.test", "api_token": "legacy-token", "cql_time_zone": "UTC"}
MIGRATED = {
    "base_url": "https://acme.atlassian.net",
    "deployment": "cloud",
    "credentials": {"auth_type": "api_token", "email": "bot@acme.test", "api_token": "legacy-token"},
    "cql_time_zone": "UTC",
}


@freezegun.freeze_time("2024-06-15T12:00:00Z")
class TestLegacyConfigMigration:
    @pytest.mark.parametrize("domain", ["acme.atlassian.net", "https://acme.atlassian.net", "http://acme.atlassian.net"])
    def test_legacy_config_is_migrated_and_emitted_as_a_control_message(self, http, capsys, domain):
        SourceConfluence(config={**LEGACY, "domain_name": domain})
        persisted = control_configs(capsys.readouterr().out)
        assert persisted == [MIGRATED]

    def test_migrated_config_is_written_back_to_the_config_file(self, http, tmp_path, capsys):
        path = tmp_path / "config.json"
        path.write_text(json.dumps(LEGACY))
        SourceConfluence(config=dict(LEGACY), config_path=str(path))
        assert json.loads(path.read_text()) == MIGRATED

    def test_legacy_config_reads_spaces_with_the_migrated_credentials(self, http):
        http.get(ConfluenceUrls.cloud_site().spaces, json=list_page([v2_space()]))
        output = read_streams(dict(LEGACY), "space")
        request = stream_requests(http)[0]
        assert url_without_query(request.url) == "https://acme.atlassian.net/wiki/api/v2/spaces"
        assert request.headers["Authorization"] == basic("bot@acme.test", "legacy-token")
        assert len(records_of(output, "space")) == 1

    def test_current_config_is_not_migrated_and_nothing_is_emitted(self, http, capsys):
        SourceConfluence(config=ConfigBuilder().build())
        assert control_configs(capsys.readouterr().out) == []

    def test_base_url_wins_over_a_leftover_domain_name(self, http, capsys):
        config = {**ConfigBuilder().build(), "domain_name": "old.atlassian.net", "email": "x", "api_token": "y"}
        SourceConfluence(config=config)
        persisted = control_configs(capsys.readouterr().out)
        assert persisted == [ConfigBuilder().build()]
