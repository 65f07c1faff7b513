"""Airbyte source for Confluence Cloud and Data Center.

The connector is declared in ``manifest.yaml``; ``components/`` holds the few pieces the
manifest cannot express. ``SourceConfluence`` is what Airbyte's tooling imports.
"""

from source_confluence.source import SourceConfluence

__all__ = ["SourceConfluence"]
