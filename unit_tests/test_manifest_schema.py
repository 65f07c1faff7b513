"""The manifest is a valid CDK declarative manifest, and the Connector Builder can load and test-read it.

* Schema: ``source_confluence/manifest.yaml`` is pre-processed as the CDK does it (``$ref``s resolved,
  types and ``$parameters`` propagated) and validated against the installed CDK's
  ``declarative_component_schema.yaml``, with the CDK's own ``validate_manifest``.
* Connector Builder: the Builder receives the manifest injected into the config and builds the source
  with ``connector_builder_handler.create_source`` (custom components count as untrusted code there,
  so ``AIRBYTE_ENABLE_UNSAFE_CODE`` must be set, as the Builder does when it is given components).
  Every construct outside ``Custom*`` components must be a schema component, and every custom class
  must live in this package (``source_confluence``).
"""

import copy
import importlib
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import yaml
from airbyte_cdk.connector_builder.connector_builder_handler import TestLimits, create_source, read_stream, resolve_manifest
from airbyte_cdk.models import ConfiguredAirbyteCatalogSerializer, Type
from airbyte_cdk.sources.declarative.concurrent_declarative_source import (
    get_declarative_component_schema,
    validate_manifest,
)
from airbyte_cdk.sources.declarative.parsers.manifest_component_transformer import ManifestComponentTransformer
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver
from jsonschema import ValidationError

MANIFEST_PATH = Path(__file__).resolve().parents[1] / "source_confluence" / "manifest.yaml"
CUSTOM_PACKAGE = "source_confluence."


def load_manifest() -> Dict[str, Any]:
    return yaml.safe_load(MANIFEST_PATH.read_text())


def preprocess(manifest: Dict[str, Any]) -> Dict[str, Any]:
    """What ConcurrentDeclarativeSource._pre_process_manifest does before it validates."""
    manifest = copy.deepcopy(manifest)
    manifest.setdefault("type", "DeclarativeSource")
    resolved = ManifestReferenceResolver().preprocess_manifest(manifest)
    return ManifestComponentTransformer().propagate_types_and_parameters("", resolved, {})


# Keys whose values are JSON schemas (their `type` is a JSON type, not a component), or free-form parameters.
JSON_SCHEMA_KEYS = (
    "connection_specification", "schema", "json_schema", "$parameters", "parameters",
    # advanced_auth's OAuth blobs (AuthFlow.oauth_config_specification)
    "complete_oauth_output_specification", "complete_oauth_server_input_specification",
    "complete_oauth_server_output_specification", "oauth_user_input_from_connector_config_specification",
)


def components(node: Any, path: str = "") -> Iterator[tuple]:
    """(path, dict) for every mapping with a `type`, not descending into JSON schemas or custom components."""
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            yield path, node
            if node["type"].startswith("Custom"):
                return
        for key, value in node.items():
            if key in JSON_SCHEMA_KEYS:
                continue
            yield from components(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from components(value, f"{path}/{index}")


def component_types(schema: Any) -> set:
    """Every value a `type` property may take in the component schema (definitions and inline objects)."""
    found: set = set()
    if isinstance(schema, dict):
        type_property = (schema.get("properties") or {}).get("type")
        if isinstance(type_property, dict):
            found.update(type_property.get("enum") or [])
            if "const" in type_property:
                found.add(type_property["const"])
        for value in schema.values():
            found |= component_types(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= component_types(value)
    return found


@pytest.fixture(scope="module")
def schema() -> Dict[str, Any]:
    return get_declarative_component_schema()


def test_manifest_version_is_the_installed_cdk(schema: Dict[str, Any]) -> None:
    from importlib.metadata import version

    assert str(load_manifest()["version"]) == version("airbyte-cdk")


def test_manifest_validates_against_the_declarative_component_schema(schema: Dict[str, Any]) -> None:
    validate_manifest(preprocess(load_manifest()), schema)


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(lambda m: m["definitions"]["results_selector"]["extractor"].update(type="DpathExtractorr"), id="unknown-type"),
        pytest.param(lambda m: m["definitions"]["space_stream"].update(primary_key={"not": "a key"}), id="bad-primary-key"),
        pytest.param(lambda m: m["definitions"]["rest_api_requester"].update(http_method="FETCH"), id="bad-enum"),
    ],
)
def test_validation_catches_a_broken_manifest(schema: Dict[str, Any], breakage) -> None:
    """The check above has teeth: the same call fails on a manifest broken in a typical way."""
    manifest = load_manifest()
    breakage(manifest)
    with pytest.raises(ValidationError):
        validate_manifest(preprocess(manifest), schema)


def test_every_construct_is_a_schema_component_or_a_custom_component_of_this_package(schema: Dict[str, Any]) -> None:
    known = component_types(schema)
    unknown: List[str] = []
    custom: List[str] = []
    for path, node in components(preprocess(load_manifest())):
        if node["type"] not in known:
            unknown.append(f"{path}: {node['type']}")
        if node["type"].startswith("Custom"):
            class_name = node.get("class_name", "")
            custom.append(class_name)
            assert class_name.startswith(CUSTOM_PACKAGE), f"{path}: {class_name} is outside {CUSTOM_PACKAGE}"
            module_name, _, attribute = class_name.rpartition(".")
            assert hasattr(importlib.import_module(module_name), attribute), f"{path}: {class_name} does not import"
    assert not unknown, unknown
    assert custom, "expected the manifest's custom components to be found"


@pytest.fixture
def builder_config(monkeypatch: pytest.MonkeyPatch) -> Dict[str, Any]:
    # The Builder treats class_name code as untrusted unless this is set.
    monkeypatch.setenv("AIRBYTE_ENABLE_UNSAFE_CODE", "true")
    return {
        "__injected_declarative_manifest": load_manifest(),
        "__command": "resolve_manifest",
        "base_url": "https://wiki.example.com/confluence",
        "deployment": "data_center",
        "credentials": {"auth_type": "personal_access_token", "personal_access_token": "token"},
        "cql_time_zone": "UTC",
    }


def test_connector_builder_resolves_the_manifest(builder_config: Dict[str, Any]) -> None:
    source = create_source(builder_config, TestLimits())
    message = resolve_manifest(source)
    assert message.type == Type.RECORD, message
    resolved = message.record.data["manifest"]
    names = []
    for entry in resolved["streams"]:  # ConditionalStreams entries hold their streams one level down
        names.extend(stream["name"] for stream in entry.get("streams", [entry]))
    # Grouped by family: site & people, content, content details, files, permissions, audit.
    assert names[:2] == ["space", "group"] and names[-1] == "audit"
    assert names.index("pages") < names.index("page_versions") < names.index("attachments") < names.index("content_restrictions")
    for name in ("space_permissions", "users", "group_members", "page_versions", "content_tree"):
        assert names.count(name) == 2, "one definition per deployment, chosen by ConditionalStreams: %s" % name


def test_connector_builder_test_reads_a_stream(builder_config: Dict[str, Any], requests_mock) -> None:
    """The Builder's "Test" button on the `group` stream: one page of groups comes back as records."""
    requests_mock.get(
        "https://wiki.example.com/confluence/rest/api/group",
        json={"results": [{"type": "group", "name": "confluence-users"}, {"type": "group", "name": "admins"}], "size": 2, "_links": {}},
    )
    config = dict(builder_config, __command="test_read")
    catalog = ConfiguredAirbyteCatalogSerializer.load(
        {
            "streams": [
                {
                    "stream": {"name": "group", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                    "sync_mode": "full_refresh",
                    "destination_sync_mode": "overwrite",
                }
            ]
        }
    )
    limits = TestLimits()
    source = create_source(config, limits, catalog=catalog)
    message = read_stream(source, config, catalog, [], limits)
    assert message.type == Type.RECORD, message
    slices = message.record.data["slices"]
    records = [record for slice_ in slices for page in slice_["pages"] for record in page["records"]]
    assert sorted(record["id"] for record in records) == ["admins", "confluence-users"]
