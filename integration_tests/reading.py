"""Run the real connector, in process, against an emulator over HTTP."""

from collections import Counter, defaultdict
from typing import Any, Dict, Iterable, List, Mapping, Optional

from airbyte_cdk.models import AirbyteStateMessage, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read

from source_confluence import SourceConfluence


def read_streams(
    config: Mapping[str, Any],
    streams: Iterable[str],
    sync_mode: SyncMode = SyncMode.full_refresh,
    state: Optional[List[AirbyteStateMessage]] = None,
) -> EntrypointOutput:
    catalog_builder = CatalogBuilder()
    for stream in streams:
        catalog_builder = catalog_builder.with_stream(stream, sync_mode)
    catalog = catalog_builder.build()
    source = SourceConfluence(config=dict(config), catalog=catalog, state=state)
    return read(source, dict(config), catalog, state=state)


def records_by_stream(output: EntrypointOutput) -> Dict[str, List[Dict[str, Any]]]:
    grouped: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
    for message in output.records:
        grouped[message.record.stream].append(message.record.data)
    return grouped


def duplicate_ids(records: Iterable[Mapping[str, Any]]) -> List[str]:
    counts = Counter(record["id"] for record in records)
    return sorted(record_id for record_id, count in counts.items() if count > 1)
