"""The manifest's ConfigMigration: the official connector's domain_name/email/api_token become base_url/credentials.

Only what the migration must leave alone is tested here for now: the migration of a legacy config itself is
broken (see the ConfigAddFields condition in manifest.yaml, reported with the tests that show it).
"""

import freezegun

from source_confluence import SourceConfluence
from unit_tests.config_builder import ConfigBuilder
from unit_tests.conftest import control_configs


@freezegun.freeze_time("2024-06-15T12:00:00Z")
class TestLegacyConfigMigration:
    def test_current_config_is_not_migrated_and_nothing_is_emitted(self, http, capsys):
        SourceConfluence(config=ConfigBuilder().build())
        assert control_configs(capsys.readouterr().out) == []

    def test_base_url_wins_over_a_leftover_domain_name(self, http, capsys):
        config = {**ConfigBuilder().build(), "domain_name": "old.atlassian.net", "email": "x", "api_token": "y"}
        SourceConfluence(config=config)
        persisted = control_configs(capsys.readouterr().out)
        assert persisted == [ConfigBuilder().build()]
