"""Run source-confluence with PyAirbyte into a DuckDB file, then summarise what landed.

PyAirbyte (``airbyte`` on PyPI) is Airbyte's own Python runner: it runs a connector executable,
feeds it a config and catalog, and writes the records into a cache (here a DuckDB file), as the
platform would write them into a destination.

Nothing here reaches the internet:

* the connector is the ``source-confluence`` executable already installed beside this Python
  (``local_executable=``), so PyAirbyte installs and downloads nothing;
* ``AIRBYTE_OFFLINE_MODE=1`` stops PyAirbyte from loading Airbyte's connector registry (it would
  otherwise fetch it even for a local executable) and turns its telemetry off, like ``DO_NOT_TRACK``.
  PyAirbyte reads both when it is imported, so this module sets them before the first
  ``import airbyte`` (always import it through :func:`airbyte_module`).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

CONTENT_STREAMS = ("pages", "blog_posts", "comments", "attachments")
CONNECTOR_NAME = "source-confluence"


def set_offline_environment(*, force: bool = True) -> None:
    """Keep PyAirbyte off the network: no registry look-up, no telemetry.

    ``force=False`` leaves a value the user exported alone (the real-site example does that).
    """
    values = {"AIRBYTE_OFFLINE_MODE": "1", "DO_NOT_TRACK": "1"}
    for name, value in values.items():
        if force or name not in os.environ:
            os.environ[name] = value
    # Plain progress lines instead of a live terminal widget when the output is not a terminal (CI, pipes).
    if not sys.stdout.isatty():
        os.environ.setdefault("NO_LIVE_PROGRESS", "1")


def airbyte_module() -> Any:
    """``import airbyte`` after the offline settings are in place."""
    if "airbyte" not in sys.modules:
        set_offline_environment(force=False)
        # PyAirbyte imports Google's cloud clients, which warn about Python 3.11's end of life on import.
        warnings.filterwarnings("ignore", category=FutureWarning, message="You are using a Python version")
    import airbyte

    return airbyte


class UnknownStreams(ValueError):
    """Stream names the connector's catalog does not have; ``available`` lists the ones it has."""

    def __init__(self, unknown: Sequence[str], available: Sequence[str]) -> None:
        self.unknown = list(unknown)
        self.available = list(available)
        super().__init__(f"Unknown stream(s): {', '.join(self.unknown)}. The streams are: {', '.join(self.available)}.")


def parse_stream_list(text: str) -> Sequence[str] | str:
    """``--streams`` as given: ``*`` for every stream, else the comma-separated names."""
    return "*" if text.strip() == "*" else [name.strip() for name in text.split(",") if name.strip()]


def connector_executable() -> Path:
    """The ``source-confluence`` script of this environment (``.venv/bin``), else the one on PATH."""
    beside_python = Path(sys.executable).parent / CONNECTOR_NAME
    if beside_python.exists():
        return beside_python
    found = shutil.which(CONNECTOR_NAME)
    if not found:
        raise SystemExit(
            f"{CONNECTOR_NAME} is not installed in this environment: run `make demo` (or `pip install -e .`) first."
        )
    return Path(found)


@dataclass
class StreamSummary:
    name: str
    rows: int
    detail: str = ""


@dataclass
class SyncOutcome:
    db_path: Path
    summaries: List[StreamSummary] = field(default_factory=list)
    sample_page: Optional[Dict[str, Any]] = None

    def rows(self) -> Dict[str, int]:
        return {summary.name: summary.rows for summary in self.summaries}


def sync_to_duckdb(
    config: Mapping[str, Any],
    db_path: Path,
    *,
    streams: Sequence[str] | str = "*",
    full_refresh: bool = True,
) -> SyncOutcome:
    """Read ``streams`` with PyAirbyte into the DuckDB file ``db_path`` and summarise the tables.

    ``full_refresh`` reads everything again; the real-site example passes False, so its second run
    is an incremental sync from the state PyAirbyte keeps in the same DuckDB file.
    """
    ab = airbyte_module()
    from airbyte.caches import DuckDBCache

    db_path = Path(db_path).absolute()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    source = ab.get_source(CONNECTOR_NAME, config=dict(config), local_executable=connector_executable())
    # The stream list comes from the connector's own catalog (discover), so every stream it has can be chosen.
    available = source.get_available_streams()
    if streams == "*":
        source.select_all_streams()
    else:
        unknown = [name for name in streams if name not in available]
        if unknown:
            raise UnknownStreams(unknown, available)
        source.select_streams(list(streams))
    # cache_dir holds PyAirbyte's temporary batch files only; the records end up in db_path.
    with tempfile.TemporaryDirectory(prefix="confluence-pyairbyte-") as scratch:
        cache = DuckDBCache(db_path=db_path, cache_dir=Path(scratch))
        # "merge" upserts on each stream's primary key. Not "replace" (nor "auto", which picks it for a
        # full refresh): PyAirbyte 0.71.3 swaps the new table in with an unquoted
        # `ALTER TABLE ... RENAME TO group`, a DuckDB syntax error for the `group` stream.
        source.read(cache=cache, force_full_refresh=full_refresh, write_strategy="merge")
        selected = list(source.get_selected_streams())
        # DuckDB locks the file while any engine of the cache is open; summarise() opens it again.
        cache.close()
        cache.dispose_engine()
    return summarise(db_path, selected)


def _columns(connection: Any, table: str) -> set:
    rows = connection.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ?",
        [table],
    ).fetchall()
    return {row[0] for row in rows}


def _column(columns: set, *candidates: str) -> Optional[str]:
    """PyAirbyte lower-cases column names (``lastModifiedAt`` -> ``lastmodifiedat``); accept either."""
    for candidate in candidates:
        for name in (candidate, candidate.lower()):
            if name in columns:
                return name
    return None


def summarise(db_path: Path, streams: Sequence[str]) -> SyncOutcome:
    """Rows per stream table, the spaces and newest cursor of the content streams, and one sample page."""
    import duckdb

    outcome = SyncOutcome(db_path=Path(db_path))
    connection = duckdb.connect(str(db_path), read_only=True)
    try:
        tables = {row[0] for row in connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()}
        for stream in streams:
            if stream not in tables:
                outcome.summaries.append(StreamSummary(stream, 0, "no table (the stream returned nothing)"))
                continue
            rows = connection.execute(f'SELECT count(*) FROM main."{stream}"').fetchone()[0]
            detail = ""
            columns = _columns(connection, stream)
            space_key = _column(columns, "spaceKey")
            modified = _column(columns, "lastModifiedAt")
            if stream in CONTENT_STREAMS and space_key and modified and rows:
                spaces, newest = connection.execute(
                    f'SELECT count(DISTINCT "{space_key}"), max("{modified}") FROM main."{stream}"'
                ).fetchone()
                detail = f"{spaces} spaces, newest lastModifiedAt {newest}"
            elif stream == "space" and rows:
                key = _column(columns, "key")
                if key:
                    keys = [row[0] for row in connection.execute(f'SELECT "{key}" FROM main."space" ORDER BY 1').fetchall()]
                    detail = "keys " + ", ".join(str(k) for k in keys[:12]) + (" ..." if len(keys) > 12 else "")
            outcome.summaries.append(StreamSummary(stream, rows, detail))
        if "pages" in tables:
            outcome.sample_page = _sample_page(connection)
    finally:
        connection.close()
    return outcome


def _sample_page(connection: Any) -> Optional[Dict[str, Any]]:
    """The current page with the richest Markdown body, which shows the macro conversion best."""
    columns = _columns(connection, "pages")
    title = _column(columns, "title")
    markdown = _column(columns, "bodyMarkdown")
    space_key = _column(columns, "spaceKey")
    web_url = _column(columns, "webUrl")
    status = _column(columns, "status")
    if not (title and markdown):
        return None
    where = f'"{markdown}" IS NOT NULL' + (f" AND \"{status}\" = 'current'" if status else "")
    row = connection.execute(
        f'SELECT "{title}", "{space_key or title}", "{web_url or title}", "{markdown}" FROM main."pages" '
        f'WHERE {where} ORDER BY length("{markdown}") DESC, "{title}" LIMIT 1'
    ).fetchone()
    if not row:
        return None
    return {"title": row[0], "spaceKey": row[1], "webUrl": row[2], "bodyMarkdown": row[3]}


def render(outcome: SyncOutcome, *, markdown_lines: int = 60) -> str:
    """The per-stream table and the sample page, as printed by the demo."""
    width = max([len("stream")] + [len(s.name) for s in outcome.summaries])
    lines = [f"DuckDB file: {outcome.db_path}", "", f"{'stream'.ljust(width)}  {'rows':>7}  detail"]
    lines.append(f"{'-' * width}  {'-' * 7}  {'-' * 6}")
    for summary in outcome.summaries:
        lines.append(f"{summary.name.ljust(width)}  {summary.rows:>7}  {summary.detail}")
    page = outcome.sample_page
    if page:
        body = page["bodyMarkdown"].rstrip().splitlines()
        shown = body[:markdown_lines]
        lines += [
            "",
            f"Sample page: {page['title']!r} in space {page['spaceKey']} ({page['webUrl']}), as Markdown:",
            "",
            textwrap.indent("\n".join(shown), "    "),
        ]
        if len(body) > len(shown):
            lines.append(f"    ... ({len(body) - len(shown)} more lines in column bodyMarkdown)")
    lines += [
        "",
        f"Explore it: .venv/bin/python -c \"import duckdb; print(duckdb.connect('{outcome.db_path}').sql('SELECT title, spacekey FROM pages LIMIT 5'))\"",
    ]
    return "\n".join(lines)
