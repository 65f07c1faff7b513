"""Shared helpers: build the real source over ``manifest.yaml`` and run it as Airbyte would."""

import copy
import functools
import json
import re
import time
from urllib.parse import parse_qs, urlsplit
from pathlib import Path
from typing import Any, Callable, List, Mapping, Optional

import pytest
from airbyte_cdk.models import AirbyteStateMessage, ConfiguredAirbyteCatalog, SyncMode
from airbyte_cdk.sources.declarative.models.declarative_component_schema import (
    CustomConfigTransformation as CustomConfigTransformationModel,
)
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from airbyte_cdk.test.state_builder import StateBuilder

from source_confluence import SourceConfluence
from unit_tests.request_builder import is_content_tree_probe

# The shared Confluence API references live beside the checkout: <root>/shared/confluence-api.
SHARED_API_DIR = Path(__file__).resolve().parents[2] / "shared" / "confluence-api"
SAMPLES_DIR = SHARED_API_DIR / "samples"


@functools.lru_cache(maxsize=1)
def _normalise_config_definition() -> Mapping[str, Any]:
    rules = SourceConfluence().resolved_manifest["spec"]["config_normalization_rules"]["transformations"]
    return next(rule for rule in rules if rule.get("class_name", "").endswith(".NormaliseConfig"))


def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Whether ``condition()`` holds, looking again every 10 ms for up to ``seconds``: for what another thread
    does in its own time (a look-up sent in the background, a page read ahead)."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def normalise_config() -> Any:
    """``NormaliseConfig`` as the manifest builds it: with the authenticator definition its look-ups sign with."""
    return ModelToComponentFactory().create_component(CustomConfigTransformationModel, copy.deepcopy(dict(_normalise_config_definition())), {})


def manifest_authenticator() -> Mapping[str, Any]:
    """The manifest's authenticator definition, resolved (``definitions.authenticator``)."""
    return copy.deepcopy(_normalise_config_definition()["$parameters"]["lookups"]["authenticator"])


# NormaliseConfig asks Cloud (API token sign-ins) for the account's and the site's time zone.
USER_CURRENT = re.compile(r"/rest/api/user/current$")
SYSTEM_INFO = re.compile(r"/rest/api/settings/systemInfo$")


def is_time_zone_lookup(request) -> bool:
    path = urlsplit(request.url).path  # not request.path: requests_mock lower-cases it
    return bool(USER_CURRENT.search(path) or SYSTEM_INFO.search(path))


def is_visible_spaces_lookup(request) -> bool:
    """NormaliseConfig's listing of the visible space keys (components/visible_spaces.py): the space
    listing without the descriptions the ``space`` stream asks for."""
    parts = urlsplit(request.url)
    query = parse_qs(parts.query)
    return parts.path.endswith(("/api/v2/spaces", "/rest/api/space")) and "description-format" not in query and "expand" not in query


def mock_time_zone_lookups(mocker, user_zone: Optional[str] = None, site_zone: Optional[str] = None) -> None:
    """Answer the time-zone lookups; a zone left None answers 404, so ``cql_time_zone`` decides."""
    for matcher, field, zone in ((USER_CURRENT, "timeZone", user_zone), (SYSTEM_INFO, "defaultTimeZone", site_zone)):
        if zone:
            mocker.get(matcher, json={field: zone})
        else:
            mocker.get(matcher, status_code=404, json={"message": "not found"})


@pytest.fixture
def http(requests_mock):
    """``requests_mock`` with the config-time lookups answered, so only the streams' requests matter."""
    mock_time_zone_lookups(requests_mock)
    return requests_mock


def stream_requests(mocker) -> list:
    """The requests the streams sent: everything but the look-ups before them (time zones, spaces, tree probe)."""
    return [
        r for r in mocker.request_history
        if not is_time_zone_lookup(r) and not is_visible_spaces_lookup(r)
        and not is_content_tree_probe(r)
    ]


def load_sample(name: str) -> Any:
    path = SAMPLES_DIR / name
    if not path.exists():
        pytest.skip(f"sample {name} not found in {SAMPLES_DIR} (the ../shared folder beside the checkout is absent)")
    return json.loads(path.read_text())


def catalog(*streams: str, sync_mode: SyncMode = SyncMode.full_refresh) -> ConfiguredAirbyteCatalog:
    builder = CatalogBuilder()
    for name in streams:
        builder.with_stream(name, sync_mode)
    return builder.build()


def get_source(
    config: Mapping[str, Any],
    catalog: Optional[ConfiguredAirbyteCatalog] = None,
    state: Optional[List[AirbyteStateMessage]] = None,
) -> SourceConfluence:
    return SourceConfluence(config=config, catalog=catalog, state=state)


def read_streams(
    config: Mapping[str, Any],
    *streams: str,
    sync_mode: SyncMode = SyncMode.full_refresh,
    state: Optional[List[AirbyteStateMessage]] = None,
    expecting_exception: bool = False,
) -> EntrypointOutput:
    configured = catalog(*streams, sync_mode=sync_mode)
    source = get_source(config, configured, state)
    return read(source, config, configured, state, expecting_exception=expecting_exception)


def state_for(stream: str, stream_state: Mapping[str, Any]) -> List[AirbyteStateMessage]:
    return StateBuilder().with_stream_state(stream, dict(stream_state)).build()


def records_of(output: EntrypointOutput, stream: str) -> List[Mapping[str, Any]]:
    return [m.record.data for m in output.records if m.record.stream == stream]


def log_messages(output: EntrypointOutput) -> List[str]:
    return [m.log.message for m in output.logs]


def control_configs(stdout: str) -> List[Mapping[str, Any]]:
    """The configs carried by CONTROL/CONNECTOR_CONFIG messages printed on stdout."""
    configs = []
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("type") == "CONTROL" and message["control"].get("type") == "CONNECTOR_CONFIG":
            configs.append(message["control"]["connectorConfig"]["config"])
    return configs


def check(config: Mapping[str, Any]) -> EntrypointOutput:
    """Run ``check --config <file>`` through the Airbyte entrypoint, as the platform does."""
    import tempfile

    from airbyte_cdk.test.entrypoint_wrapper import _run_command, make_file

    with tempfile.TemporaryDirectory() as tmp:
        path = make_file(Path(tmp) / "config.json", dict(config))
        return _run_command(get_source(config), ["check", "--config", path])
