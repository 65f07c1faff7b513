"""Custom components for the pieces ``manifest.yaml`` cannot express.

Every module here is named in the manifest (``class_name``, or ``checkpoint_cursor`` in a stream's
``$parameters``) or imported only by modules that are; ``unit_tests/test_manifest_map.py`` keeps it so.
What several of them share lives outside: ``sync/``, ``api/``, ``access/``, ``config_spec.py``.
Each module holds one API quirk and says in its docstring why YAML was not enough:

- ``config``: normalise the user's config once per run (legacy fields, URLs, Cloud id, CQL time window),
  and name an unreachable URL at start-up.
- ``pagination``: follow Confluence ``_links.next`` links safely on v1 and v2, Cloud and Data Center;
  ``offset_walks`` keeps Data Center's offset-paged search from skipping results that moved.
- ``results``: the results of a listing, with the Markdown of a page of bodies converted at once.
- ``records``: turn what Cloud v2, Cloud v1 or Data Center v1 answered into one record shape per stream;
  ``people`` resolves @mentions to names.
- ``attachments``, ``downloads``: attachment text and files.
- ``backoff``, ``skips``: retries and waits, and what a 404 about one item costs (that item).
- ``slicing``, ``work_windows``, ``visible_spaces``, ``space_catch_up``: the first sync's time windows (cut to
  about equal work), and the older content of spaces a state does not know yet.
- ``read_ahead``: a cursor-paged walk's next page asked for while this one becomes records.
- ``checkpoints``: a state after every page of results of the ordered content streams, through a
  cursor of our own built by a component factory of our own (``SourceConfluence.streams``).
- ``state``: the state file read at start-up, and the migration of 0.1.0's per-space state.
"""
