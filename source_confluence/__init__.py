"""Airbyte source for Confluence Cloud and Data Center.

The connector is declared in ``manifest.yaml``. Beside it:

- ``components/``: the pieces the manifest cannot express, each named in it (``class_name``) or a helper of
  one that is;
- ``access/``: effective read access (the pure rule, its look-ups, the record transformation);
- ``text/``: bodies and attachments turned into text; knows nothing of Airbyte;
- ``sync/``: what one sync's components share (its context, caches, request budget, Markdown workers);
- ``api/``: where Confluence's API lives and how requests to it are signed, and a response's JSON read once;
- ``config_spec.py``: defaults and validation read from the manifest's spec.

``SourceConfluence`` (``source.py``) is what Airbyte's tooling imports; ``run.py`` is the console script.
"""

from typing import Any

__all__ = ["SourceConfluence"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `source_confluence.text` can be used without loading airbyte-cdk.
    if name == "SourceConfluence":
        from source_confluence.source import SourceConfluence

        return SourceConfluence
    raise AttributeError(f"module 'source_confluence' has no attribute {name!r}")
