"""Helpers for the access tests that run against the emulator: the transformation as the manifest declares it,
a config for the emulator, the raw listing as Confluence returns it, and the emulator's truth."""

from pathlib import Path

import requests
import yaml
from airbyte_cdk.sources.declarative.models.declarative_component_schema import CustomTransformation as CustomTransformationModel
from airbyte_cdk.sources.declarative.parsers.manifest_component_transformer import ManifestComponentTransformer
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory

from source_confluence.access.rule import READ_RESTRICTION_EXPAND, read_restriction_from_v1
from source_confluence.api.endpoints import api_roots
from source_confluence.components.records import normalise_content

MANIFEST = Path(__file__).resolve().parents[2] / "source_confluence" / "manifest.yaml"


def transformation_component():
    """The CustomTransformation exactly as the manifest declares it on the content streams."""
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert {"$ref": "#/definitions/effective_read_access"} in manifest["definitions"]["content_stream"]["transformations"]
    return {"$ref": "#/definitions/effective_read_access"}


def build_transformation(config):
    manifest = yaml.safe_load(MANIFEST.read_text())
    manifest["definitions"]["__access"] = transformation_component()
    resolved = ManifestReferenceResolver().preprocess_manifest(manifest)
    component = ManifestComponentTransformer().propagate_types_and_parameters("", resolved["definitions"]["__access"], {})
    return ModelToComponentFactory().create_component(CustomTransformationModel, component, config)


def emulator_config(emu):
    info = emu.info
    if info["profile"] == "data_center":
        config = {"base_url": info["base_url"], "deployment": "data_center", "credentials": dict(info["credentials"]["personal_access_token"])}
    else:
        config = {"base_url": info["base_url"], "deployment": "cloud", "credentials": dict(info["credentials"]["api_token"])}
    return dict(config, _derived=dict(api_roots(config)))  # what NormaliseConfig adds that the requesters read


def raw_contents(emu, config):
    """Every page and blog post as content/search returns them with the restriction expand (test input only)."""
    info = emu.info
    if config["deployment"] == "data_center":
        url, auth = info["base_url"] + "/rest/api/content/search", None
        headers = {"Authorization": "Bearer " + config["credentials"]["personal_access_token"]}
    else:
        url, headers = info["base_url"] + "/wiki/rest/api/content/search", {}
        auth = (config["credentials"]["email"], config["credentials"]["api_token"])
    out, start = [], 0
    while True:
        body = requests.get(url, params={"cql": "type in (page, blogpost)", "expand": "space,ancestors," + READ_RESTRICTION_EXPAND,
                                         "limit": 200, "start": start}, headers=headers, auth=auth, timeout=30).json()
        out += body["results"]
        if "next" not in body["_links"] or config["deployment"] != "data_center":
            assert "next" not in body["_links"], "test helper reads one page on Cloud"
            return out
        start += len(body["results"])


def record_from(raw):
    record = normalise_content(raw, "http://x")
    record["readRestriction"] = read_restriction_from_v1(raw)
    return record


def truth(emu, content_id, data_center):
    t = emu.site.effective_access(emu.site.content[content_id])
    users = t["users"]
    if data_center:
        users = sorted(emu.site.users[a].user_key for a in users)
    return {"users": users, "groups": t["groups"], "anonymous": t["anonymous"], "restricted": t["restricted"], "unknown": False}
