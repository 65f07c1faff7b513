"""`make demo`: the Confluence emulator's demo site, synced by PyAirbyte into a local DuckDB file.

    python -m demo.run_demo [--db demo/confluence.duckdb] [--profile cloud|gateway|data_center]
                            [--pages 120] [--seed 7] [--streams space,pages,...]

Offline from start to end: the emulator runs in this process on 127.0.0.1, the connector is the
``source-confluence`` executable installed in this environment, and PyAirbyte is kept away from
Airbyte's registry and telemetry (see demo/sync.py). Prints a per-stream summary and one page as
Markdown.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from demo.sync import UnknownStreams, parse_stream_list, render, set_offline_environment, sync_to_duckdb


DEFAULT_DB = Path(__file__).resolve().parent / "confluence.duckdb"

# The sign-in method the demo uses on each emulator profile.
AUTH_TYPE_BY_PROFILE = {"cloud": "api_token", "gateway": "scoped_api_token", "data_center": "personal_access_token"}


def emulator_config(info: Mapping[str, Any], auth_type: Optional[str] = None) -> Dict[str, Any]:
    """The connector config a user would type in for this emulator, signed in as its administrator."""
    auth_type = auth_type or AUTH_TYPE_BY_PROFILE[info["profile"]]
    config: Dict[str, Any] = {
        "base_url": info["base_url"],
        "deployment": "data_center" if info["profile"] == "data_center" else "cloud",
        "credentials": dict(info["credentials"][auth_type]),
        "cql_time_zone": info.get("time_zone") or "UTC",
    }
    for key in ("api_gateway_url", "oauth_token_url"):
        if info.get(key):
            config[key] = info[key]
    return config


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo.run_demo", description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help="DuckDB file to write (default: %(default)s)")
    parser.add_argument("--profile", choices=sorted(AUTH_TYPE_BY_PROFILE), default="cloud")
    parser.add_argument("--pages", type=int, default=120, help="pages on the generated site")
    parser.add_argument("--seed", type=int, default=7, help="the generated site and its secrets derive from it")
    parser.add_argument("--time-zone", default="America/New_York", help="the emulated site's time zone")
    parser.add_argument("--streams", default="*", help="comma-separated names from the connector's catalog, or * (default) for all")
    parser.add_argument("--markdown-lines", type=int, default=60, help="lines of the sample page to print")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    set_offline_environment()
    from confluence_emulator import Emulator

    streams = parse_stream_list(args.streams)
    started = time.monotonic()
    # The demo file is rebuilt from nothing on every run (a stale table from another profile would mislead).
    for stale in (args.db, args.db.with_name(args.db.name + ".wal")):
        stale.unlink(missing_ok=True)
    with Emulator(profile=args.profile, seed=args.seed, pages=args.pages, time_zone=args.time_zone) as emulator:
        counts = emulator.info.get("counts", {})
        print(f"Confluence emulator ({args.profile}) serving {emulator.base_url}: {counts}", flush=True)
        try:
            outcome = sync_to_duckdb(emulator_config(emulator.info), args.db, streams=streams)
        except UnknownStreams as unknown:
            print(unknown, file=sys.stderr)
            return 2
    print()
    print(render(outcome, markdown_lines=args.markdown_lines))
    print(f"\nDone in {time.monotonic() - started:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
