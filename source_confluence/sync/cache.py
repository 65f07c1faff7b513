"""One cache per sync, shared by every stream and partition of a source (threads included).

``per_sync(config, name, factory)``: the cache called ``name`` of the sync that ``config`` belongs to,
made by ``factory`` on first use. The caches live in the sync's ``SyncContext`` (``context.py``),
so two syncs in one process never share one, and a sync's caches go when its context does.
"""

from typing import Any, Callable, Mapping, TypeVar

from source_confluence.sync.context import SyncContext

T = TypeVar("T")


def per_sync(config: Mapping[str, Any], name: str, factory: Callable[[], T]) -> T:
    return SyncContext.of(config).cache(name, factory)
