"""metadata.yaml is valid for Airbyte's registry and CI, checked with Airbyte's own schema.

The schema comes from `airbyte-connector-models` (PyPI, pinned in the dev extra): Airbyte generates it
from airbyte-ci's metadata_service (`ConnectorMetadataDefinitionV0`), as a pydantic model and as a JSON
Schema. Both are used:

* the pydantic model is what Airbyte's metadata service loads;
* the JSON Schema file (draft-07) keeps the `$id` of each source YAML on its sub-schemas, which makes
  its own `#/properties/...` references point inside those sub-schemas; they resolve from the root
  once the nested `$id`s are dropped, which is all `bundled_schema()` changes.
"""

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any, Dict

import jsonschema
import pytest
import yaml
from airbyte_connector_models.metadata.v0.connector_metadata_definition_v0 import ConnectorMetadataDefinitionV0
from pydantic import ValidationError

ROOT = Path(__file__).resolve().parents[1]


def load_metadata() -> Dict[str, Any]:
    return yaml.safe_load((ROOT / "metadata.yaml").read_text())


def bundled_schema() -> Dict[str, Any]:
    text = (resources.files("airbyte_connector_models.metadata.v0") / "ConnectorMetadataDefinitionV0.json").read_text()
    schema = json.loads(text)

    def drop_nested_ids(node: Any, root: bool = False) -> None:
        if isinstance(node, dict):
            if not root:
                node.pop("$id", None)
            for value in node.values():
                drop_nested_ids(value)
        elif isinstance(node, list):
            for value in node:
                drop_nested_ids(value)

    drop_nested_ids(schema, root=True)
    return schema


def test_metadata_loads_into_airbytes_model() -> None:
    model = ConnectorMetadataDefinitionV0.model_validate(load_metadata())
    assert model.data.connector_type.value == "source"
    assert model.data.name == "Confluence"


def test_metadata_validates_against_airbytes_json_schema() -> None:
    errors = sorted(jsonschema.Draft7Validator(bundled_schema()).iter_errors(load_metadata()), key=str)
    assert not errors, [f"{list(error.absolute_path)}: {error.message}" for error in errors]


@pytest.mark.parametrize(
    "path, value",
    [
        (("data", "connectorType"), "sorce"),
        (("data", "definitionId"), "not-a-uuid"),
        (("data", "releaseStage"), "beta-ish"),
        (("data", "supportLevel"), "gold"),
        (("data", "unknownField"), 1),
    ],
)
def test_both_checks_reject_a_broken_metadata(path, value) -> None:
    broken = copy.deepcopy(load_metadata())
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert list(jsonschema.Draft7Validator(bundled_schema(), format_checker=jsonschema.FormatChecker()).iter_errors(broken))
    with pytest.raises(ValidationError):
        ConnectorMetadataDefinitionV0.model_validate(broken)


def test_metadata_agrees_with_the_project() -> None:
    """Fields the registry copies must match what the package and image really are."""
    import tomllib

    data = load_metadata()["data"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert data["dockerImageTag"] == project["version"]
    assert data["remoteRegistries"]["pypi"]["packageName"] == project["name"]
    assert "language:python" in data["tags"] and "cdk:low-code" in data["tags"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert data["connectorBuildOptions"]["baseImage"] in dockerfile
    assert f"io.airbyte.version={data['dockerImageTag']}" in dockerfile
    assert f"io.airbyte.name={data['dockerRepository']}" in dockerfile
    streams = set(yaml.safe_load((ROOT / "source_confluence" / "manifest.yaml").read_text())["definitions"])
    for stream in data["suggestedStreams"]["streams"]:
        assert f"{stream}_stream" in streams, stream


def test_docs_page_covers_every_config_field_stream_and_section() -> None:
    """docs/confluence.md (Airbyte's docs page format) stays in step with the manifest."""
    docs = (ROOT / "docs" / "confluence.md").read_text()
    manifest = yaml.safe_load((ROOT / "source_confluence" / "manifest.yaml").read_text())
    spec = manifest["spec"]["connection_specification"]
    fields = set(spec["properties"])
    for option in spec["properties"]["credentials"]["oneOf"]:
        fields |= set(option["properties"])
        fields.add(option["properties"]["auth_type"]["const"])
    missing = sorted(name for name in fields if f"`{name}`" not in docs and f"`credentials.{name}`" not in docs)
    assert not missing, f"docs/confluence.md does not mention these config fields: {missing}"
    streams = {ref.split("/")[-1] for ref in manifest["streams"] if isinstance(ref, str)}
    names = {manifest["definitions"][ref]["name"] for ref in streams if "name" in manifest["definitions"].get(ref, {})}
    for name in names:
        assert f"| `{name}` |" in docs, f"stream {name} is missing from the streams table"
    for section in ("## Prerequisites", "## Setup guide", "## Supported sync modes", "## Supported streams",
                    "## Permissions", "## Rate limits", "## Performance", "## Migrating", "## Changelog"):
        assert section in docs, section
    assert "bench/RESULTS.md" in docs
    assert f"| {load_metadata()['data']['dockerImageTag']} |" in docs, "the changelog lacks the current version"


def test_allowed_hosts_include_clouds_media_host() -> None:
    """Cloud attachment downloads redirect to api.media.atlassian.com (components/downloads.py)."""
    hosts = load_metadata()["data"]["allowedHosts"]["hosts"]
    assert "api.media.atlassian.com" in hosts
