"""Where a client's requests went, from the emulator's request log: ``python -m bench.request_log LOG.json``.

The emulator stamps every request with when it started (``time``) and how long it held it (``elapsed_ms``, see
``confluence_emulator/README.md``). Grouped by what each request was for (a page of a CQL walk, an ancestors'
look-up, a window count, the rest) and summed, they give the table of ``bench/NOTES.md``: held seconds per kind,
and the requests in flight on average (all held seconds over the span from the first start to the last end).

``python -m bench.run --connector-only`` leaves each sync's log in ``bench/.work/requests-<shape>-<pages>-<sync>.json``;
``GET <admin_url>/requests`` gives it for any other client.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Dict, Iterable, List, Mapping
from urllib.parse import parse_qsl

KINDS = ("walk", "ancestors", "count", "other")
DESCRIPTIONS = {
    "walk": "CQL `content/search` pages of the walks",
    "ancestors": "ancestors' read restrictions, CQL `id IN (...)`",
    "count": "window counts on `/search`",
    "other": "start-up and its probes, access set-up, mention names, everything else",
}


def kind_of(entry: Mapping[str, Any]) -> str:
    path = str(entry.get("path") or "")
    if path.endswith("/rest/api/search"):
        return "count"
    if path.endswith("/content/search"):
        query = dict(parse_qsl(str(entry.get("query") or "")))
        if query.get("cql", "").startswith("id IN ("):
            return "ancestors"
        # One result: a start-up probe (whether the site has folders), not a walk.
        return "other" if query.get("limit") == "1" else "walk"
    return "other"


def summarise(log: Iterable[Mapping[str, Any]]) -> Dict[str, Any]:
    """Per kind: requests, seconds held, and the seconds (from the first request's start) of its first start
    and last end; and in all: the span and the requests in flight on average over it."""
    entries = [e for e in log if isinstance(e.get("time"), (int, float))]
    if not entries:
        return {"kinds": {}, "span_s": 0.0, "held_s": 0.0, "in_flight": 0.0}
    origin = min(e["time"] for e in entries)
    kinds: Dict[str, Dict[str, float]] = {}
    for entry in entries:
        start = entry["time"] - origin
        held = float(entry.get("elapsed_ms") or 0) / 1000
        row = kinds.setdefault(kind_of(entry), {"requests": 0, "held_s": 0.0, "first_s": start, "last_s": start + held})
        row["requests"] += 1
        row["held_s"] += held
        row["first_s"] = min(row["first_s"], start)
        row["last_s"] = max(row["last_s"], start + held)
    span = max(row["last_s"] for row in kinds.values())
    held_total = sum(row["held_s"] for row in kinds.values())
    return {"kinds": kinds, "span_s": span, "held_s": held_total, "in_flight": held_total / span if span else 0.0}


def render(summary: Mapping[str, Any]) -> str:
    lines = ["| requests | held in total (s) | from (s) | to (s) | what |", "|---:|---:|---:|---:|---|"]
    for kind in KINDS:
        row = summary["kinds"].get(kind)
        if row:
            lines.append("| %d | %.1f | %.2f | %.2f | %s |" % (row["requests"], row["held_s"], row["first_s"], row["last_s"], DESCRIPTIONS[kind]))
    lines.append("")
    lines.append("%.1f s held over %.1f s: %.1f requests in flight on average." % (summary["held_s"], summary["span_s"], summary["in_flight"]))
    return "\n".join(lines)


def load(path: str) -> List[Mapping[str, Any]]:
    with open(path) as handle:
        document = json.load(handle)
    return document.get("requests", []) if isinstance(document, dict) else document


def main(argv: Any = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.request_log", description=__doc__.splitlines()[0])
    parser.add_argument("log", help="the emulator's request log: the JSON of GET <admin_url>/requests")
    print(render(summarise(load(parser.parse_args(argv).log))))


if __name__ == "__main__":
    main()
