"""The console script imports airbyte-cdk's protocol models with their serializers' JSON schemas left out."""

from unit_tests.standalone import printed_alone

PROBE = """
import dataclasses
import serpyco_rs
from serpyco_rs import _main
build_schema = _main.get_json_schema
import source_confluence.run
from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, AirbyteRecordMessage, Type
message = AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream="pages", data={"id": "1"}, emitted_at=5))
print(AirbyteMessageSerializer.load(AirbyteMessageSerializer.dump(message)) == message)
print(AirbyteMessageSerializer.get_json_schema() is None)
print(_main.get_json_schema is build_schema)
@dataclasses.dataclass
class Later:
    size: int
print(serpyco_rs.Serializer(Later).get_json_schema()["components"]["schemas"]["__main__.Later"]["properties"]["size"]["type"])
"""


def test_the_models_load_and_dump_messages_without_the_schemas_and_later_serializers_get_theirs():
    round_trip, skipped, restored, later = printed_alone(PROBE)
    assert round_trip == "True"
    # If this fails, serpyco-rs builds its schema elsewhere now and start-up is 0.35 s slower again (startup.py).
    assert skipped == "True"
    assert restored == "True"
    assert later == "integer"
