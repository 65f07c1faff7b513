"""Custom components for the pieces ``manifest.yaml`` cannot express.

Each module holds one API quirk and says in its docstring why YAML was not enough:

- ``config``: normalise the user's config once per run (legacy fields, URLs, Cloud id, CQL time window),
  and name an unreachable URL at start-up; ``config_spec`` reads validation and defaults from the spec.
- ``endpoints``: the API roots and paths of Cloud and Data Center.
- ``pagination``: follow Confluence ``_links.next`` links safely on v1 and v2, Cloud and Data Center;
  ``offset_walks`` keeps Data Center's offset-paged search from skipping results that moved.
- ``results``, ``response_json``: the results of a listing, with the Markdown of a page of bodies
  converted at once (``markdown_pool``).
- ``records``: turn what Cloud v2, Cloud v1 or Data Center v1 answered into one record shape per stream;
  ``people`` resolves @mentions to names.
- ``access``: each record's effective read access.
- ``attachments``, ``downloads``: attachment text and files.
- ``backoff``, ``skips``: retries and waits, and what a 404 about one item costs (that item).
- ``slicing``, ``work_windows``, ``visible_spaces``, ``space_catch_up``: the first sync's time windows (cut to
  about equal work), and the older content of spaces a state does not know yet.
- ``lookup_pool``: look-ups and counts side by side, inside the ``num_workers`` requests in flight.
- ``checkpoints``: a state after every page of results of the ordered content streams, through a
  cursor of our own built by a component factory of our own (``SourceConfluence.streams``).
- ``state``: the state file read at start-up, and the migration of 0.1.0's per-space state.
- ``sync_context``: what one sync's components share (caches, progress counts, skips, the Markdown
  pool, held states); ``sync_cache.per_sync`` is the caches' entry point.
"""
