"""The console script imports airbyte-cdk's protocol models with their serializers' JSON schemas and field
docstrings left out."""

from unit_tests.standalone import printed_alone

PROBE = """
import dataclasses
import serpyco_rs
from serpyco_rs import _describe, _main
build_schema = _main.get_json_schema
docstring_calls = []
def read_docstrings(cls, read=_describe.get_attributes_doc):
    docstring_calls.append(cls)
    return read(cls)
_describe.get_attributes_doc = read_docstrings
import source_confluence.launch
from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, AirbyteRecordMessage, Type
message = AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream="pages", data={"id": "1"}, emitted_at=5))
print(AirbyteMessageSerializer.load(AirbyteMessageSerializer.dump(message)) == message)
print(AirbyteMessageSerializer.get_json_schema() is None)
print(_main.get_json_schema is build_schema)
@dataclasses.dataclass
class Later:
    size: int
print(serpyco_rs.Serializer(Later).get_json_schema()["components"]["schemas"]["__main__.Later"]["properties"]["size"]["type"])
print(len([cls for cls in docstring_calls if cls.__module__.startswith("airbyte")]), len(docstring_calls) > 0)
print(_describe.get_attributes_doc is read_docstrings)
"""


def test_the_models_load_and_dump_messages_without_the_schemas_and_later_serializers_get_theirs():
    round_trip, skipped, restored, later, docstrings_read, docstrings_restored = printed_alone(PROBE)
    assert round_trip == "True"
    # If this fails, serpyco-rs builds its schema elsewhere now and start-up is 0.35 s slower again (startup.py).
    assert skipped == "True"
    assert restored == "True"
    assert later == "integer"
    # No protocol model's docstrings were read during the import (0.1 s, startup.py); the serializer built
    # afterwards read its class's as usual, through serpyco-rs's own function, which is back in place.
    assert docstrings_read == "0 True"
    assert docstrings_restored == "True"


# A fresh interpreter with glibc's malloc and free at hand: {knob} unset, then {before} (the console script, or not).
LIBC_PREAMBLE = """
import ctypes, os, tempfile, threading
os.environ.pop("{knob}", None)
{before}
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)
"""

ARENAS_PROBE = """

def churn():  # ctypes lets go of the GIL: the threads really contend for malloc
    for _ in range(20000):
        libc.free(libc.malloc(4096))

threads = [threading.Thread(target=churn) for _ in range(16)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
libc.fclose.argtypes = (ctypes.c_void_p,)
path = tempfile.mktemp()
stream = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, stream)
libc.fclose(stream)
print(open(path).read().count("<heap nr="))
os.remove(path)
"""


def probe(body: str, knob: str, before: str) -> str:
    return LIBC_PREAMBLE.format(knob=knob, before=before) + body


def test_the_console_script_keeps_malloc_to_two_arenas_however_many_threads_allocate():
    (arenas_with_the_script,) = printed_alone(probe(ARENAS_PROBE, "MALLOC_ARENA_MAX", "import source_confluence.run"))
    (arenas_without,) = printed_alone(probe(ARENAS_PROBE, "MALLOC_ARENA_MAX", ""))
    assert int(arenas_with_the_script) == 2
    assert int(arenas_without) > 2  # the probe does make glibc open more: the limit is what keeps it at 2


def test_an_arena_limit_set_in_the_environment_is_left_as_it_is(monkeypatch):
    from source_confluence.startup import limit_malloc_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False


MMAP_PROBE = """

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc.mallinfo2.restype = MallInfo2
libc.free(libc.malloc(8 * 1024 * 1024))  # a huge body, freed: glibc would raise its threshold past 8 MB
before = libc.mallinfo2().hblks
block = libc.malloc(2 * 1024 * 1024)
print(libc.mallinfo2().hblks - before)  # 1 if that block got pages of its own, 0 if it came from an arena
libc.free(block)
"""


def test_after_a_huge_block_is_freed_the_console_script_still_maps_large_blocks_apart():
    (mapped_with_the_script,) = printed_alone(probe(MMAP_PROBE, "MALLOC_MMAP_THRESHOLD_", "import source_confluence.run"))
    (mapped_without,) = printed_alone(probe(MMAP_PROBE, "MALLOC_MMAP_THRESHOLD_", ""))
    assert int(mapped_with_the_script) == 1
    assert int(mapped_without) == 0  # glibc's own rule does move it into the arena: the fixed threshold is what keeps it out


def test_an_mmap_threshold_set_in_the_environment_is_left_as_it_is(monkeypatch):
    from source_confluence.startup import map_large_blocks

    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert map_large_blocks() is False
