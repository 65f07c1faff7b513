"""Airbyte's standard connector tests (spec, check, discover, basic read) on the real source class."""

from airbyte_cdk.test.models import ConnectorTestScenario
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from source_confluence import SourceConfluence

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]


class TestConfluenceStandard(SourceTestSuiteBase):
    """Scenarios come from acceptance-test-config.yml at the repository root."""

    @classmethod
    def create_connector(cls, scenario: ConnectorTestScenario | None) -> SourceConfluence:
        scenario = scenario or ConnectorTestScenario()
        config = scenario.get_config_dict(empty_if_missing=True, connector_root=cls.get_connector_root_dir())
        # Built like `source-confluence` builds it: config transformations need the config up front.
        return SourceConfluence(config=config or None)
