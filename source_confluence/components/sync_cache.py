"""One cache per sync, shared by every stream and partition of a source (threads included).

Why keyed on the config object: the CDK hands the same config dict to every component it builds
for one run of the connector, and a new run builds a new dict. The dict is kept referenced so its
id cannot be reused while the cache lives. The caches used last are kept, enough for several syncs
read side by side in one process (the fault tests run four): a cache dropped while its sync still
runs would be built again empty, re-asking what it had learned and forgetting what a walk expects.
"""

import threading
from collections import OrderedDict
from typing import Any, Callable, Mapping, Tuple, TypeVar

T = TypeVar("T")

_CACHES: "OrderedDict[Tuple[int, str], Tuple[Any, Any]]" = OrderedDict()
_LOCK = threading.Lock()
_KEEP = 48


def per_sync(config: Mapping[str, Any], name: str, factory: Callable[[], T]) -> T:
    key = (id(config), name)
    with _LOCK:
        entry = _CACHES.get(key)
        if entry is not None and entry[0] is config:
            _CACHES.move_to_end(key)
        else:
            entry = (config, factory())
            _CACHES[key] = entry
            while len(_CACHES) > _KEEP:
                _CACHES.popitem(last=False)
        return entry[1]
