"""Airbyte source for Confluence Cloud and Data Center.

The connector is declared in ``manifest.yaml``; ``components/`` holds the few pieces the
manifest cannot express; ``text/`` turns bodies and attachments into text and knows nothing of
Airbyte. ``SourceConfluence`` is what Airbyte's tooling imports.
"""

from typing import Any

__all__ = ["SourceConfluence"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `source_confluence.text` can be used without loading airbyte-cdk.
    if name == "SourceConfluence":
        from source_confluence.source import SourceConfluence

        return SourceConfluence
    raise AttributeError(f"module 'source_confluence' has no attribute {name!r}")
