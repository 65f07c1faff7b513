"""Custom components for the pieces ``manifest.yaml`` cannot express.

Each module holds one API quirk and says in its docstring why YAML was not enough:

- ``pagination``: follow Confluence ``_links.next`` links safely on v1 and v2, Cloud and Data Center.
- ``config``: normalise the user's config once per run (legacy fields, URLs, Cloud id, CQL time window).
- ``records``: turn what Cloud v2, Cloud v1 or Data Center v1 answered into one record shape per stream.
"""
