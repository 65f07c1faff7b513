"""The source class Airbyte's tooling imports: the YAML manifest, a state per page of results for the
content streams (components/checkpoints.py), and progress lines for long syncs.

Each read has one ``SyncContext`` (sync/context.py): the source lets the content streams'
states out once their records are out, counts progress and skips from it, and closes it at the end."""

import copy
import logging
import time
from collections import Counter
from typing import Any, Dict, Iterator, List, Mapping, Optional, Set, cast

from airbyte_cdk.models import (
    AirbyteCatalog,
    AirbyteConnectionStatus,
    AirbyteLogMessage,
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteCatalogSerializer,
    Level,
    Status,
    Type,
)
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver

from source_confluence.components.checkpoints import PageCheckpointingFactory, build_ordered_content_streams, ordered_content_definitions
from source_confluence.components.skips import skip_warnings
from source_confluence.config_spec import manifest
from source_confluence.sync.context import SyncContext
from source_confluence.sync.in_flight import in_flight_budget, reading

PROGRESS_EVERY_SECONDS = 30.0
# A log line a person can read, whatever the size of the site.
PROGRESS_LINE_MAX_CHARS = 1000


class SourceConfluence(ConcurrentDeclarativeSource):
    def __init__(
        self,
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        config: Optional[Mapping[str, Any]] = None,
        state: Optional[List[AirbyteStateMessage]] = None,
        config_path: Optional[str] = None,
    ) -> None:
        super().__init__(
            catalog=catalog or ConfiguredAirbyteCatalog(streams=[]),
            config=config or {},
            state=state or [],
            source_config=manifest_for(catalog),
            config_path=config_path,
        )
        self._built_with_config = bool(config)
        # What the streams are built from, kept for the content streams built again (``streams``).
        self._catalog_given = catalog
        self._state_given = state

    def _for(
        self,
        config: Mapping[str, Any],
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> "SourceConfluence":
        """The declarative engine builds its streams from the config it was constructed with.

        Tools that construct the source empty and pass the config per command (Airbyte's
        ``airbyte-cdk connector test``, some harnesses) get a source built for that config.
        """
        if self._built_with_config:
            return self
        return SourceConfluence(config=config, catalog=catalog, state=state)

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        source = self._for(config)
        if source is not self:
            return source.check(logger, config)
        status = super().check(logger, config)
        if status.status == Status.SUCCEEDED:
            missing = self._missing_space_keys(logger, config)
            if missing:
                return AirbyteConnectionStatus(
                    status=Status.FAILED,
                    message=f"These space keys do not exist or this account cannot see them: {', '.join(missing)}. "
                    "Check 'space_keys' (keys are case-sensitive, e.g. ENG) and the account's space permissions.",
                )
        return status

    def _missing_space_keys(self, logger: logging.Logger, config: Mapping[str, Any]) -> List[str]:
        """The configured space keys the `space` stream does not list (absent, or hidden from this account)."""
        wanted = [key for key in config.get("space_keys") or [] if isinstance(key, str)]
        if not wanted:
            return []
        catalog = ConfiguredAirbyteCatalogSerializer.load(
            {"streams": [{"stream": {"name": "space", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                          "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}
        )
        seen = set()
        for message in super().read(logger, config, catalog, []):
            if message.type == Type.RECORD and message.record is not None:
                seen.add(str(message.record.data.get("key")))
            elif message.type == Type.TRACE and message.trace is not None and message.trace.error is not None:
                return []  # the listing itself failed, and the stream check above has said so
        return [key for key in wanted if key not in seen]

    def streams(self, config: Mapping[str, Any]) -> List[Any]:
        """The CDK's streams, but the ordered content streams are built by ``PageCheckpointingFactory``, so that
        their cursor checkpoints every page. ``config`` is the normalised config the CDK passes here.

        The CDK is handed the manifest without them while it builds the rest: it builds every stream it is
        given, and a content stream (its requesters, authenticators and look-ups) is the manifest's largest;
        built by the CDK and then again here, they were about half of the 0.2–0.3 s a sync of pages and blog
        posts spent building its streams (bench/NOTES.md). The streams come back in the manifest's order.
        """
        manifest = cast(Dict[str, Any], self.resolved_manifest)
        definitions = manifest.get("streams") or []
        content = ordered_content_definitions(definitions)
        manifest["streams"] = [d for d in definitions if not any(d is c for c in content)]
        try:
            others = super().streams(config)
        finally:
            manifest["streams"] = definitions
        factory = PageCheckpointingFactory(
            SyncContext.of(config),
            connector_state_manager=ConnectorStateManager(self._state_given),
            configured_catalog=self._catalog_given,
        )
        budget = manifest.get("api_budget")
        if budget:
            factory.set_api_budget(budget, config)
        built = others + build_ordered_content_streams(content, factory, config)
        position = {name: i for i, name in enumerate(stream_names(definitions))}
        return sorted(built, key=lambda stream: position.get(stream.name, len(position)))  # stable: dynamic streams last

    def discover(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteCatalog:
        source = self._for(config)
        return super().discover(logger, config) if source is self else source.discover(logger, config)

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> Iterator[AirbyteMessage]:
        source = self._for(config, catalog, state)
        if source is not self:  # that source does all of the below for its own sync
            yield from source.read(logger, config, catalog, state)
            return
        sync = SyncContext.of(config)
        skipped_before = sync.skips.snapshot()
        records: Counter = Counter()
        try:
            with reading(in_flight_budget(config)):  # at most num_workers requests in flight, whoever sends them
                for message in with_progress(with_held_messages(super().read(logger, config, catalog, state), sync), sync):
                    if message.type == Type.RECORD and message.record is not None:
                        records[message.record.stream] += 1
                    yield message
        except Exception:
            yield from skip_messages(sync, skipped_before, records, config)
            raise
        finally:
            sync.close()
        yield from skip_messages(sync, skipped_before, records, config)


def manifest_for(catalog: Optional[ConfiguredAirbyteCatalog]) -> Dict[str, Any]:
    """The manifest the engine is built from: a copy (the CDK edits it in place), with only the streams a
    read's catalog selects.

    Why not all: the CDK builds every stream of the manifest before a read, whatever the catalog selects,
    and this one has 15; a sync of pages and blog posts spent about 0.3 s of its start-up building the
    other 13 (bench/NOTES.md). A stream the catalog names that the manifest lacks is still reported by
    the CDK, as before. Without a catalog (spec, check, discover) every stream stays.
    """
    document = copy.deepcopy(manifest())
    selected = {configured.stream.name for configured in catalog.streams} if catalog and catalog.streams else set()
    if not selected:
        return document
    resolved = ManifestReferenceResolver().preprocess_manifest(document)
    resolved["streams"] = streams_named(resolved.get("streams") or [], selected)
    # Every reference is resolved: the CDK would only propagate types and parameters through the
    # definitions again, which took as long as building the streams.
    resolved.pop("definitions", None)
    return resolved


def stream_names(entries: List[Any]) -> List[str]:
    """The names of the manifest's streams in its order, those inside a ``ConditionalStreams`` where it stands."""
    names: List[str] = []
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("type") == "ConditionalStreams":
            names += stream_names(list(entry.get("streams") or []))
        elif isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            names.append(entry["name"])
    return names


def streams_named(entries: List[Any], names: Set[str]) -> List[Any]:
    """The resolved manifest's ``streams`` entries that define one of ``names``; a ``ConditionalStreams``
    keeps its condition and the named streams it holds, and goes if it holds none."""
    kept: List[Any] = []
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("type") == "ConditionalStreams":
            inner = streams_named(list(entry.get("streams") or []), names)
            if inner:
                kept.append({**entry, "streams": inner})
        elif not isinstance(entry, Mapping) or entry.get("name") in names:
            kept.append(entry)  # what this cannot name (a dynamic form) is left to the CDK
    return kept


def with_held_messages(messages: Iterator[AirbyteMessage], sync: SyncContext) -> Iterator[AirbyteMessage]:
    """The CDK's messages, and those the sync holds (the content streams' states) as soon as the records
    they cover are out: before the next message of the CDK, so a stream's final state precedes its
    completion status."""
    records_out: Counter = Counter()
    for message in messages:
        yield from sync.release(records_out)
        yield message
        if message.type == Type.RECORD and message.record is not None:
            records_out[message.record.stream] += 1
            yield from sync.release(records_out)
    yield from sync.release(records_out)


def skip_messages(sync: SyncContext, skipped_before: Counter, records: Counter, config: Mapping[str, Any]) -> Iterator[AirbyteMessage]:
    """After the CDK's messages: one warning per stream that skipped items about which Confluence answered
    403/404/410 or a lasting 5xx (components/skips.py)."""
    data_center = config.get("deployment") == "data_center"
    for line in skip_warnings(sync.skips.since(skipped_before), records, data_center, sync.skips.items):
        yield AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=Level.WARN, message=line))


def with_progress(
    messages: Iterator[AirbyteMessage], sync: SyncContext, every_seconds: float = PROGRESS_EVERY_SECONDS
) -> Iterator[AirbyteMessage]:
    """Pass messages through, adding a log line with records per stream and result pages so far.

    Stream status traces already tell the platform which stream runs; these lines tell a person
    watching a sync of 100,000 pages that it is moving, and how fast.
    """
    records: Counter = Counter()
    pages_before = sync.result_pages()

    def pages_since() -> Dict[str, int]:
        return {endpoint: count - pages_before.get(endpoint, 0) for endpoint, count in sync.result_pages().items()}

    last_report = time.monotonic()
    for message in messages:
        yield message
        if message.type == Type.RECORD and message.record is not None:
            records[message.record.stream] += 1
        now = time.monotonic()
        if records and now - last_report >= every_seconds:
            last_report = now
            yield progress_message(records, pages_since())
    if records:
        yield progress_message(records, pages_since(), final=True)


def progress_message(records: Mapping[str, int], pages: Mapping[str, int], final: bool = False) -> AirbyteMessage:
    """One line of at most ``PROGRESS_LINE_MAX_CHARS``: records per stream, result pages per endpoint template.

    Endpoints are counted by template (``pages/{id}/versions``), so the line does not grow with the site;
    the largest counts come first, and what does not fit is summed up as ``+N more``.
    """
    prefix = "Read in total" if final else "Progress"
    head = f"{prefix}: records by stream: "
    middle = "; result pages by endpoint: "
    room = PROGRESS_LINE_MAX_CHARS - len(head) - len(middle)
    streams = _bounded_counts(records, room // 2)
    endpoints = _bounded_counts({e: c for e, c in pages.items() if c}, room - len(streams)) or "none"
    return AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=Level.INFO, message=f"{head}{streams}{middle}{endpoints}"))


def _bounded_counts(counts: Mapping[str, int], room: int) -> str:
    """``name count, ...`` by descending count (then name), within ``room`` characters, ending ``+N more``."""
    items = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown: List[str] = []
    for index, (name, count) in enumerate(items):
        entry = f"{name} {count:,}"
        left = len(items) - index - 1
        tail = len(f", +{left} more") if left else 0
        if len(", ".join(shown + [entry])) + tail > room:
            return ", ".join(shown + [f"+{len(items) - index} more"])
        shown.append(entry)
    return ", ".join(shown)
