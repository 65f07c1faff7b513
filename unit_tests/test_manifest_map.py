"""The manifest is the map: every module under ``components/`` is one it names, or a helper only those import.

A module no named component reaches would be wired through a side channel the manifest does not show; the
shared pieces (``sync/``, ``api/``, ``access/``, ``config_spec.py``) live outside ``components/``. The checks
read the source, not the running connector, so they fail on the commit that breaks the rule.
"""

import ast
import re
from pathlib import Path
from typing import Dict, Set

PACKAGE = Path(__file__).resolve().parents[1] / "source_confluence"
COMPONENTS = "source_confluence.components"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> Dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported_by(path: Path, known: Set[str]) -> Set[str]:
    """The package's modules ``path`` imports (``from a.b import c`` counts ``a.b.c`` when that is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found & known


def named_in_manifest(known: Set[str]) -> Set[str]:
    """The modules whose classes the manifest names (``class_name``, or a class path in ``$parameters``)."""
    text = (PACKAGE / "manifest.yaml").read_text()
    named = set()
    for path in re.findall(r"source_confluence(?:\.\w+)+", text):
        module = path.rsplit(".", 1)[0]
        assert module in known, f"the manifest names {path}, whose module does not exist"
        named.add(module)
    return named


def test_every_component_module_is_named_in_the_manifest_or_imported_only_by_modules_that_are():
    known = modules()
    names = set(known)
    named = named_in_manifest(names)
    importers: Dict[str, Set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for target in imported_by(path, names):
            if target != name:
                importers[target].add(name)
    components = [name for name in known if name.startswith(COMPONENTS + ".")]
    assert len(components) >= 10  # the walk found the package
    hidden = {
        name: sorted(importers[name] - named)
        for name in components
        if name not in named and (not importers[name] or importers[name] - named)
    }
    assert not hidden, f"component modules reached other than from the manifest (module: its unnamed importers): {hidden}"


def test_no_class_is_swapped_at_run_time():
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{number}"
        for path in PACKAGE.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"__class__\s*=(?!=)", line)
    ]
    assert not offenders
