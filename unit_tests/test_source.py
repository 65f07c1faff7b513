"""SourceConfluence: the manifest it is built from, progress lines for long syncs, and a source built without config."""

import json
from collections import Counter

import requests
import yaml
from airbyte_cdk.models import AirbyteMessage, AirbyteRecordMessage, Type
from airbyte_cdk.sources.declarative.models.declarative_component_schema import DeclarativeStream as DeclarativeStreamModel
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory

from source_confluence.components.checkpoints import PageCheckpointingCursor
from source_confluence.components.pagination import NextLinkPagination
from source_confluence.config_spec import MANIFEST_PATH, YAML_LOADER, manifest
from source_confluence.sync.context import SyncContext
from source_confluence.source import PROGRESS_LINE_MAX_CHARS, manifest_for, progress_message, stream_names, streams_named, with_progress
from unit_tests.conftest import catalog, get_source
from unit_tests.config_builder import ConfigBuilder


def test_the_manifest_reads_the_same_with_the_fast_yaml_loader_as_with_the_safe_one():
    text = MANIFEST_PATH.read_text()
    assert yaml.load(text, Loader=YAML_LOADER) == yaml.safe_load(text)


def test_a_read_builds_the_engine_from_the_streams_its_catalog_selects_and_nothing_else():
    document = manifest_for(catalog("pages", "content_tree"))
    # content_tree has a Cloud and a Data Center definition, each under its deployment's condition.
    assert stream_names(document["streams"]) == ["pages", "content_tree", "content_tree"]
    conditions = [entry["condition"] for entry in document["streams"] if entry.get("type") == "ConditionalStreams"]
    assert conditions == ["{{ config.deployment != 'data_center' }}", "{{ config.deployment == 'data_center' }}"]
    # Resolved: the definitions are gone and nothing refers to them.
    text = json.dumps(document)
    assert "definitions" not in document and "$ref" not in text and "#/definitions/" not in text
    assert document["spec"]["connection_specification"] == manifest()["spec"]["connection_specification"]


def test_without_a_catalog_the_engine_gets_every_stream_and_the_shared_manifest_stays_as_read():
    document = manifest_for(None)
    assert document == manifest()
    document["streams"].clear()
    document["definitions"]["pages_stream"]["name"] = "changed"
    assert manifest() == yaml.safe_load(MANIFEST_PATH.read_text())


def test_a_conditional_entry_keeps_its_condition_and_the_selected_streams_and_goes_when_it_holds_none():
    entries = [
        {"name": "space"},
        {"type": "ConditionalStreams", "condition": "{{ a }}", "streams": [{"name": "users"}, {"name": "group_members"}]},
        {"type": "ConditionalStreams", "condition": "{{ b }}", "streams": [{"name": "audit"}]},
    ]
    assert streams_named(entries, {"space", "group_members"}) == [
        {"name": "space"},
        {"type": "ConditionalStreams", "condition": "{{ a }}", "streams": [{"name": "group_members"}]},
    ]


def cdk_workers(document, num_workers):
    """The worker threads the CDK builds from this manifest's ``concurrency_level`` for this config."""
    from airbyte_cdk.sources.declarative.models.declarative_component_schema import ConcurrencyLevel as ConcurrencyLevelModel
    from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory

    level = ModelToComponentFactory().create_component(ConcurrencyLevelModel, document["concurrency_level"], {"num_workers": num_workers})
    return level.get_concurrency_level()


def test_the_cdk_has_twice_as_many_workers_as_requests_in_flight_whatever_the_catalog():
    # The budget is held around each request (sync/in_flight.py), so a worker turning a page into records
    # or waiting for its look-ups leaves its slot to another worker's request.
    assert cdk_workers(manifest_for(catalog("pages", "blog_posts")), 8) == 16
    assert cdk_workers(manifest_for(catalog("pages", "space")), 3) == 6
    assert cdk_workers(manifest_for(None), 1) == 2
    assert cdk_workers(manifest_for(None), 40) == 40  # the manifest's max_concurrency


def test_the_source_for_a_read_builds_the_selected_streams_only(http, tmp_path):
    source = get_source(ConfigBuilder().build(), catalog("space", "pages"))
    config = source.configure(ConfigBuilder().build(), str(tmp_path))  # the normalised config the CDK passes on
    assert sorted(stream.name for stream in source.streams(config)) == ["pages", "space"]


def test_stream_names_lists_the_streams_inside_conditional_entries_where_they_stand():
    entries = [{"type": "DeclarativeStream", "name": "space"},
               {"type": "ConditionalStreams", "condition": "{{ true }}", "streams": [{"type": "DeclarativeStream", "name": "users"}]},
               {"type": "DeclarativeStream", "name": "pages"}, "a form this cannot name"]
    assert stream_names(entries) == ["space", "users", "pages"]


def test_a_read_builds_each_stream_once_the_content_streams_with_page_checkpoints_in_the_manifests_order(http, tmp_path, monkeypatch):
    built = Counter()
    create = ModelToComponentFactory.create_component

    def counting(factory, model_type, component_definition, config, **kwargs):
        if model_type is DeclarativeStreamModel:
            built[component_definition["name"]] += 1
        return create(factory, model_type, component_definition, config, **kwargs)
    monkeypatch.setattr(ModelToComponentFactory, "create_component", counting)
    source = get_source(ConfigBuilder().build(), catalog("blog_posts", "space", "pages"))
    config = source.configure(ConfigBuilder().build(), str(tmp_path))
    streams = source.streams(config)
    assert [stream.name for stream in streams] == ["space", "pages", "blog_posts"]  # the manifest's order
    assert built == {"space": 1, "pages": 1, "blog_posts": 1}
    by_name = {stream.name: stream for stream in streams}
    assert isinstance(by_name["pages"].cursor, PageCheckpointingCursor)
    assert isinstance(by_name["blog_posts"].cursor, PageCheckpointingCursor)
    assert not isinstance(by_name["space"].cursor, PageCheckpointingCursor)
    assert stream_names(source.resolved_manifest["streams"]) == ["space", "pages", "blog_posts"], "the manifest is left whole"


def record(stream: str) -> AirbyteMessage:
    return AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream=stream, data={"id": "1"}, emitted_at=0))


def logs(messages):
    return [m.log.message for m in messages if m.type == Type.LOG]


def test_progress_passes_every_message_through_and_ends_with_the_counts_per_stream():
    source_messages = [record("pages"), record("pages"), record("space")]
    out = list(with_progress(iter(source_messages), SyncContext(), every_seconds=3600))
    assert [m for m in out if m.type == Type.RECORD] == source_messages
    assert logs(out) == ["Read in total: records by stream: pages 2, space 1; result pages by endpoint: none"]


def test_progress_reports_while_reading_when_the_interval_has_passed():
    out = list(with_progress(iter([record("pages"), record("pages")]), SyncContext(), every_seconds=0))
    progress = [line for line in logs(out) if line.startswith("Progress")]
    assert progress == [
        "Progress: records by stream: pages 1; result pages by endpoint: none",
        "Progress: records by stream: pages 2; result pages by endpoint: none",
    ]


def test_no_progress_line_for_a_read_without_records():
    assert logs(with_progress(iter([]), SyncContext())) == []


def test_progress_line_stays_under_1_kb_on_a_20000_page_read_with_page_versions():
    """Every page's versions are listed at their own path; the line counts them under one template."""
    def listed(url: str) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response._content = b'{"results": []}'
        response.request = requests.Request("GET", url).prepare()
        return response

    config: dict = {}
    paginator = NextLinkPagination(config=config, parameters={})
    site = "https://acme.atlassian.net/wiki"
    for page_id in range(20_000):
        paginator.next_page_token(listed(f"{site}/api/v2/pages/{1_000_000 + page_id}/versions?limit=250"), 0, None, None)
    for group in range(300):
        paginator.next_page_token(listed(f"{site}/rest/api/group/g-{group:04x}/membersByGroupId?limit=200"), 0, None, None)
    for page in range(400):
        paginator.next_page_token(listed(f"{site}/rest/api/content/search?cql=type%3Dpage&limit=250&cursor=c{page}"), 0, None, None)
    streams = ["pages", "blog_posts", "comments", "attachments", "attachment_files", "content_restrictions",
               "content_inventory", "page_versions", "space", "group", "group_members", "users", "space_permissions", "audit"]
    records = Counter({stream: 1_234_567 + index for index, stream in enumerate(streams)})

    line = progress_message(records, SyncContext.of(config).result_pages(), final=True).log.message
    assert len(line.encode()) < 1024, len(line.encode())
    assert "pages/{id}/versions 20,000" in line
    assert "group/{id}/membersByGroupId 300" in line
    assert "content/search 400" in line
    assert "pages/1000000" not in line


def test_progress_line_cut_short_says_how_many_entries_it_left_out():
    records = Counter({f"stream_with_a_rather_long_name_{index:03d}": index + 1 for index in range(200)})
    line = progress_message(records, {}).log.message
    assert len(line) <= PROGRESS_LINE_MAX_CHARS
    # The biggest counts are kept; the rest are counted, not dropped silently.
    assert "stream_with_a_rather_long_name_199 200" in line
    shown = line.count("stream_with_a_rather_long_name_")
    assert f"+{200 - shown} more" in line


def test_a_held_state_goes_out_right_after_the_records_it_covers_and_before_what_follows():
    from airbyte_cdk.models import AirbyteLogMessage, Level

    from source_confluence.source import with_held_messages

    sync = SyncContext()
    state = AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=Level.INFO, message="state after 2 pages records"))
    done = AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=Level.INFO, message="stream complete"))

    def cdk_messages():
        yield record("pages")
        sync.hold(state, "pages", after_records=2)  # a worker thread saved the state of two records
        yield record("pages")
        yield done

    out = list(with_held_messages(cdk_messages(), sync))
    assert out == [record("pages"), record("pages"), state, done]
