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
    entries = [ref for entry in manifest["streams"] for ref in (entry["streams"] if isinstance(entry, dict) else [entry])]
    streams = {ref.split("/")[-1] for ref in entries}
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


# What Airbyte's official Confluence connector (1.x, airbytehq/airbyte source-confluence manifest.yaml)
# declares per stream: its primary key and its schema's top-level properties with their JSON types. It has
# no incremental stream. A stream of ours that differs in any of these is a breaking change for its users.
OFFICIAL_1X = {
    "audit": (["creationDate"], {
        "description": "string", "affectedObject": "object", "associatedObjects": "array", "author": "object",
        "category": "string", "changedValues": "array", "creationDate": "integer", "remoteAddress": "string",
        "summary": "string", "superAdmin": "boolean", "sysAdmin": "boolean"}),
    "blog_posts": (["id"], {
        "version": "object", "id": "string", "status": "string", "title": "string", "spaceId": "string",
        "authorId": "string", "createdAt": "string", "body": "object", "_links": "object"}),
    "group": (["id"], {"type": "string", "_links": "object", "id": "string", "name": "string"}),
    "pages": (["id"], {
        "version": "object", "id": "string", "status": "string", "title": "string", "spaceId": "string",
        "parentId": "string", "parentType": "string", "position": "integer", "authorId": "string",
        "ownerId": "string", "lastOwnerId": "string", "createdAt": "string", "body": "object", "_links": "object"}),
    "space": (["id"], {
        "type": "string", "description": "object", "id": "string", "key": "string", "name": "string",
        "status": "string", "authorId": "string", "createdAt": "string", "homepageId": "string",
        "icon": "object", "_links": "object"}),
}
OFFICIAL_PYPI_NAME_OF_ANOTHER_PROJECT = "source-confluence"


def resolved_stream_definitions() -> Dict[str, Dict[str, Any]]:
    from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver

    manifest = ManifestReferenceResolver().preprocess_manifest(
        yaml.safe_load((ROOT / "source_confluence" / "manifest.yaml").read_text())
    )
    return {d["name"]: d for d in manifest["streams"] if isinstance(d, dict) and "name" in d}


def streams_changed_against_official_1x() -> set:
    changed = set()
    definitions = resolved_stream_definitions()
    for name, (official_key, official_properties) in OFFICIAL_1X.items():
        stream = definitions[name]
        key = stream["primary_key"] if isinstance(stream["primary_key"], list) else [stream["primary_key"]]
        schema = json.loads((ROOT / stream["schema_loader"]["file_path"]).read_text())
        ours = schema["properties"]
        types_differ = any(
            field not in ours or official_type not in (ours[field].get("type") if isinstance(ours[field].get("type"), list) else [ours[field].get("type")])
            for field, official_type in official_properties.items()
        )
        if key != official_key or stream.get("incremental_sync") or types_differ:
            changed.add(name)
    return changed


def changelog_versions() -> list:
    docs = (ROOT / "docs" / "confluence.md").read_text()
    changelog = docs.split("## Changelog", 1)[1]
    return [line.split("|")[1].strip() for line in changelog.splitlines() if line.startswith("| ") and line.split("|")[1].strip()[:1].isdigit()]


def test_icon_file_exists_and_is_an_svg() -> None:
    import xml.etree.ElementTree as ElementTree

    icon = ROOT / load_metadata()["data"]["icon"]
    assert icon.is_file(), icon
    assert ElementTree.parse(icon).getroot().tag == "{http://www.w3.org/2000/svg}svg"


def test_the_package_has_a_name_of_its_own_and_keeps_the_console_script() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    data = load_metadata()["data"]
    assert project["name"] != OFFICIAL_PYPI_NAME_OF_ANOTHER_PROJECT
    assert data["remoteRegistries"]["pypi"]["packageName"] == project["name"]
    assert project["scripts"]["source-confluence"] == "source_confluence.run:main"
    # Extras that install the package itself must name it as it is now called.
    for requirement in project["optional-dependencies"]["dev"]:
        if requirement.startswith("source-confluence"):
            assert requirement.split("[")[0] == project["name"]
    assert not data["dockerRepository"].startswith("airbyte/")
    assert "docs.airbyte.com" not in data["documentationUrl"]
    # Airbyte Cloud does not run custom Docker connectors.
    assert data["registryOverrides"]["cloud"]["enabled"] is False
    assert data["registryOverrides"]["oss"]["enabled"] is True


def test_version_agrees_in_pyproject_metadata_dockerfile_and_changelog() -> None:
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert int(version.split(".")[0]) >= 2, "the successor of the official 1.x must be 2.0.0 or later"
    assert load_metadata()["data"]["dockerImageTag"] == version
    assert f"LABEL io.airbyte.version={version}\n" in (ROOT / "Dockerfile").read_text()
    assert changelog_versions()[0] == version


def test_breaking_change_names_every_stream_changed_against_the_official_connector() -> None:
    data = load_metadata()["data"]
    breaking = data["releases"]["breakingChanges"]["2.0.0"]
    impacted = {name for scope in breaking["scopedImpact"] for name in scope["impactedScopes"]}
    changed = streams_changed_against_official_1x()
    assert "audit" in changed  # its primary key moved from creationDate to id
    assert impacted == changed
    for stream in changed:
        assert f"`{stream}`" in breaking["message"], stream
    # The entry links to the migration guide, which exists in the docs.
    anchor = breaking["migrationDocumentationUrl"].split("#", 1)[1]
    assert breaking["migrationDocumentationUrl"].startswith(data["documentationUrl"])
    assert "## Migrating from the official Airbyte Confluence connector" in (ROOT / "docs" / "confluence.md").read_text()
    assert anchor == "migrating-from-the-official-airbyte-confluence-connector"


def test_readme_links_to_the_docs_instead_of_copying_their_tables() -> None:
    import re

    readme = (ROOT / "README.md").read_text()
    docs = (ROOT / "docs" / "confluence.md").read_text()
    assert "| `base_url` |" not in readme and "| `page_versions` |" not in readme
    anchors = set(re.findall(r"docs/confluence\.md#([a-z0-9-]+)", readme))
    assert {"install-the-connector", "configuration-fields", "supported-streams"} <= anchors

    def anchor(heading: str) -> str:
        return re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")

    headings = {anchor(line.lstrip("#").strip()) for line in docs.splitlines() if line.startswith("#")}
    assert anchors <= headings, sorted(anchors - headings)
