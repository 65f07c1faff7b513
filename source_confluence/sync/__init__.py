"""What one sync's components share, whoever reads it: one ``SyncContext`` per sync (``context.py``) with its
caches (``cache.py`` ``per_sync``), the budget that keeps every request inside ``num_workers``
(``in_flight.py``), the look-ups' threads (``lookup_pool.py``) and the processes that convert bodies to
Markdown (``markdown_pool.py``).

Not components: the manifest names none of these; the components it names use them.
"""
