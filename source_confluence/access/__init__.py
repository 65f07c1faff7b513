"""Effective read access: who may read each page and blog post, computed the way Confluence decides it.

Three parts, read in this order:

* ``rule.py``: the pure rule, inputs in and access out (``compute_effective_access``, ``Principals``, the
  parsing of read restrictions and space permissions). No request, no cache.
* ``lookups.py`` and ``ancestors.py``: the look-ups, through requesters the manifest declares, cached once
  per sync and asked side by side: ancestors' restrictions in batches of 200, space permissions once per
  space, group members once per group, the group directory, and (``ancestors.py``) the typed-ancestor
  chain of Cloud pages from v2 parent links, so folders' restrictions count.
* ``transformation.py``: the record side, ``EffectiveReadAccess`` (named in the manifest) and the prefetch
  ``BodyResultsExtractor`` runs ahead of each page of results.

Not under ``components/``: it is a sub-package of its own, like ``text/``; the manifest names its
component by module (``source_confluence.access.transformation.EffectiveReadAccess``), and importing the
package loads nothing, so the pure rule can be used without airbyte-cdk.
"""
