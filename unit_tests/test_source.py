"""SourceConfluence: progress lines for long syncs, and a source built without config."""

from airbyte_cdk.models import AirbyteMessage, AirbyteRecordMessage, Type

from source_confluence.source import with_progress


def record(stream: str) -> AirbyteMessage:
    return AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream=stream, data={"id": "1"}, emitted_at=0))


def logs(messages):
    return [m.log.message for m in messages if m.type == Type.LOG]


def test_progress_passes_every_message_through_and_ends_with_the_counts_per_stream():
    source_messages = [record("pages"), record("pages"), record("space")]
    out = list(with_progress(iter(source_messages), every_seconds=3600))
    assert [m for m in out if m.type == Type.RECORD] == source_messages
    assert logs(out) == ["Read in total: records by stream: pages 2, space 1; result pages by endpoint: none"]


def test_progress_reports_while_reading_when_the_interval_has_passed():
    out = list(with_progress(iter([record("pages"), record("pages")]), every_seconds=0))
    progress = [line for line in logs(out) if line.startswith("Progress")]
    assert progress == [
        "Progress: records by stream: pages 1; result pages by endpoint: none",
        "Progress: records by stream: pages 2; result pages by endpoint: none",
    ]


def test_no_progress_line_for_a_read_without_records():
    assert logs(with_progress(iter([]))) == []
