"""One pool of connections for every HTTP session the CDK builds for a sync: ``share``.

Why: airbyte-cdk 7.39 gives each HttpClient (one per stream, per requester of a look-up, per counter) a
requests session of its own, with its own connection pool, and a sync builds about twenty of them. Each
opened connections of its own: in the benchmark's full sync of 20,000 pages, 43 TLS connections where the
sync never has more than ``num_workers`` (8) requests in flight. Against Confluence Cloud a new connection is a
TLS handshake (a round trip or two to Atlassian's edge, and CPU on both sides), and the first request of
each session paid one on the way: the config look-ups, then the window counts, then the walks. With one
pool, a connection one session has finished with serves the next request of any other.

How: the CDK mounts a plain ``requests.adapters.HTTPAdapter`` on each session and offers no option to share
one, so the first time a session sends while a read runs (``in_flight``'s wrapper of the CDK's send), its
adapter is pointed at the process's urllib3 ``PoolManager``; the look-ups before the read send through it with
``get``. Adapters of other kinds (the CDK's TCP keep-alive one, a test's mock) keep their own. Connections are
keyed by scheme, host, port and TLS settings as before, so sessions with other verify or certificate settings
never share one.
"""

from __future__ import annotations

import threading
from typing import Any, Optional

import requests
from airbyte_cdk.sources.http_config import MAX_CONNECTION_POOL_SIZE
from urllib3 import PoolManager

# Hosts the shared pool keeps connections to (the least recently used is closed past that): a sync talks to its
# site, and to a media host for attachments.
HOSTS_KEPT = 10
_lock = threading.Lock()
_pool: Optional["_SharedPoolManager"] = None
_SHARED = "_confluence_shared_pool"


class _SharedPoolManager(PoolManager):
    """A pool no one session owns: a session closing (the CDK closes its own at the end of a read, the config
    look-ups theirs after each answer) must not close the connections the others are using or will reuse. Its
    idle connections close with the process, or when their host is the least recently used past ``HOSTS_KEPT``."""

    def clear(self) -> None:
        pass


def shared_pool() -> PoolManager:
    """The process's pool, made on first use with the CDK's own size of a host's pool."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = _SharedPoolManager(num_pools=HOSTS_KEPT, maxsize=MAX_CONNECTION_POOL_SIZE, block=False)
        return _pool


def share(session: Any, url: str) -> None:
    """Point the adapter ``session`` sends ``url`` with at the shared pool (once per adapter)."""
    get_adapter = getattr(session, "get_adapter", None)
    if get_adapter is None:
        return
    try:
        adapter = get_adapter(url)
    except requests.exceptions.InvalidSchema:
        return  # the send itself reports it
    if type(adapter) is not requests.adapters.HTTPAdapter or getattr(adapter, _SHARED, False):
        return
    pool = shared_pool()
    with _lock:
        if not getattr(adapter, _SHARED, False):
            previous, adapter.poolmanager = adapter.poolmanager, pool
            setattr(adapter, _SHARED, True)
            previous.clear()  # what it holds idle; a connection in use is closed when given back


def get(url: str, **kwargs: Any) -> requests.Response:
    """``requests.get`` on the shared pool's connections: the look-ups a sync makes before the CDK's sessions
    exist (``components/config.py``, ``visible_spaces.py``) leave their connections to the sync's first requests."""
    with requests.Session() as session:
        share(session, url)
        return session.get(url, **kwargs)
