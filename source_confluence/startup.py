"""What the console script does before anything else imports airbyte-cdk or starts a thread.

Memory: glibc's malloc gives threads that contend for it arenas of their own, up to eight per CPU, and
memory freed in one arena serves only that arena. A sync's threads (the CDK's workers, the look-ups, the
pages read ahead) each build large bodies and records by turns, so most of a sync's resident memory was
freed memory kept in a dozen arenas: on the benchmark's real-shaped site 174 MB at 20,000 pages and 202 MB at
100,000, against 133 MB and 154 MB in two arenas: as fast at 20,000 pages, perhaps 3% slower at 100,000, within
the benchmark machine's noise (bench/NOTES.md). ``limit_malloc_arenas`` sets that limit (glibc's
``MALLOC_ARENA_MAX``, which is how a container would set it too) unless the environment already does; elsewhere
than glibc it does nothing.

Large blocks: glibc serves a block of 128 KB or more with pages of its own (mmap) and gives them back when it is
freed, but the first time it frees one it raises that threshold to the block's size, for good. A real site's few
huge bodies (responses of megabytes) thereby move every later block under their size into the arenas, where freed
memory is kept and fragments: the real-shaped 100,000-page sync kept growing to 208-227 MB, against 183-185 MB
with the threshold fixed at 128 KB, which it reaches within 20 s and holds. At 128 KB every page of results
(a few hundred KB) is mapped and unmapped too: a full sync of 20,000 pages took 1 s more CPU (7%). So the
threshold is fixed at 1 MB, above those pages and below the huge ones: as fast as glibc's own rule in
alternating runs, and 200 MB at 100,000 pages (bench/NOTES.md). ``map_large_blocks`` fixes it (glibc's
``MALLOC_MMAP_THRESHOLD_``), unless the environment already sets it.

Imports: ``airbyte_cdk.models`` builds its protocol serializers (serpyco-rs) when it is imported, and serpyco-rs
gives each serializer a JSON schema, reading the docstring of every field of the protocol's dataclasses from their
source files (``inspect.getsource``, which on Python 3.11 parses the whole module again for each class). That
was 0.44 s of the console script's 1.27 s of imports on the benchmark machine, 0.09 s without (bench/NOTES.md).
Neither the CDK nor this connector reads those schemas: they dump and load messages. So they are left out while
the CDK's models are imported; every serializer built afterwards gets its schema as usual. The same goes for the
fields' docstrings, which serpyco-rs reads for every dataclass it describes whether a schema is built or not
(``get_attributes_doc``: the source again, and ``ast.parse`` of it), only to put them in that schema: 0.1 s of
CPU at every start on the benchmark machine (bench/NOTES.md).

If serpyco-rs no longer builds the schema where this expects it, the models are imported the usual way.

Thread switches: a sync is a dozen threads waiting on sockets and a few turning responses into records. When
a response arrives, its thread needs the GIL, and CPython makes a thread that holds it busy hand it over only
every switch interval (5 ms by default); a request takes several such hand-overs (TLS reads, headers, the
body), so on a busy process each answer waited tens of milliseconds before anyone read it, and the next
request of its walk left that much later. ``shorten_thread_switches`` sets 1 ms for the console script's
process. Alternating runs on the benchmark: full syncs of 20,000 pages 0.2–0.9 s faster (uniform 18.9–19.2 s
against 19.7–19.8 s), of 3,000 pages 0.1–0.2 s, incremental syncs 0.1 s; 2 ms gained less (bench/NOTES.md). Not at
import: an in-process caller keeps its own interpreter's setting.

Garbage collection: a page of results parses into some 20,000 dicts and lists that live until its records are
out, so CPython's cyclic collector (a young collection every 700 container allocations, and full ones as the heap
grows) ran 3,000 times in a full sync of the real-shaped 20,000-page site, 2.6 s with every thread stopped, while
what a sync frees goes by reference counting. ``collect_garbage_less_often`` freezes what the imports built (the
CDK's and the manifest's objects live as long as the process) and collects the young generation every
``GC_YOUNG_THRESHOLD`` allocations: 0.2 s of collections; full syncs of 20,000 pages 1–2 s faster, of 100,000
pages 5–13 s, with the same peak memory (bench/NOTES.md). Cycles are still collected, less often. Console script
only, as the switch interval; not the Markdown processes, whose trees are cyclic garbage (no gain there).
"""

import ctypes
import gc
import importlib
import os
import sys
from typing import Any, Dict, Optional

# glibc's malloc.h: mallopt's parameters for the most arenas and for the size served by mmap.
M_ARENA_MAX = -8
M_MMAP_THRESHOLD = -3
MALLOC_ARENAS = 2
# Above a page of results with bodies (a few hundred KB), below a huge body's response (module docstring).
MMAP_THRESHOLD_BYTES = 1024 * 1024
# Seconds a thread holding the GIL runs before it must let a waiting one have it (CPython's default is 0.005).
THREAD_SWITCH_SECONDS = 0.001
# Net container allocations between two collections of the young generation (CPython's default is 700).
GC_YOUNG_THRESHOLD = 50_000


def collect_garbage_less_often(young_threshold: int = GC_YOUNG_THRESHOLD) -> None:
    """Leave what is alive now out of every collection, and collect the young generation less often (module
    docstring); the older generations keep CPython's ratios to it."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)


def shorten_thread_switches(seconds: float = THREAD_SWITCH_SECONDS) -> None:
    """Let a thread whose response has arrived have the GIL sooner (module docstring)."""
    sys.setswitchinterval(seconds)


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """At most ``arenas`` malloc arenas for this process, unless ``MALLOC_ARENA_MAX`` is set; whether glibc took it.

    Call it before threads start: an arena made already stays."""
    return _mallopt("MALLOC_ARENA_MAX", M_ARENA_MAX, arenas)


def map_large_blocks(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Blocks of ``threshold`` bytes and more get pages of their own and give them back when freed, for the whole
    sync (module docstring), unless ``MALLOC_MMAP_THRESHOLD_`` is set; whether glibc took it."""
    return _mallopt("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, threshold)


def _mallopt(environment_name: str, parameter: int, value: int) -> bool:
    """glibc's ``mallopt(parameter, value)`` unless the environment sets the same knob; whether glibc took it."""
    if os.environ.get(environment_name):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError, TypeError):  # not glibc: macOS, Windows, a libc without mallopt
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return mallopt(parameter, value) == 1


def import_protocol_models() -> None:
    """Import ``airbyte_cdk.models``, its serializers built without JSON schemas or field docstrings (a no-op once
    it is imported)."""
    skipped = [
        # (serpyco-rs module, the name it calls, what it gets meanwhile)
        ("serpyco_rs._main", "get_json_schema", _no_schema),
        ("serpyco_rs._describe", "get_attributes_doc", _no_docstrings),
    ]
    restore = []
    for module_name, name, stand_in in skipped:
        try:
            module: Optional[Any] = importlib.import_module(module_name)
        except ImportError:
            module = None
        original = getattr(module, name, None)
        if callable(original):
            setattr(module, name, stand_in)
            restore.append((module, name, original))
    try:
        importlib.import_module("airbyte_cdk.models")
    finally:
        for module, name, original in restore:
            setattr(module, name, original)


def _no_schema(type_info: Any) -> None:
    return None


def _no_docstrings(cls: Any) -> Dict[str, str]:
    return {}
