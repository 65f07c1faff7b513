"""Sync a real Confluence into a local DuckDB file with PyAirbyte, configured from environment variables.

    export CONFLUENCE_BASE_URL=https://acme.atlassian.net
    export CONFLUENCE_EMAIL=me@acme.com CONFLUENCE_API_TOKEN=...       # Cloud, classic API token
    # or: export CONFLUENCE_DEPLOYMENT=data_center CONFLUENCE_PAT=...    # Data Center personal access token
    # or: export CONFLUENCE_DEPLOYMENT=data_center CONFLUENCE_USERNAME=... CONFLUENCE_PASSWORD=...
    export CONFLUENCE_SPACE_KEYS=ENG,DOCS      # optional: only these spaces
    export CONFLUENCE_START_DATE=2025-01-01T00:00:00Z   # optional
    .venv/bin/python -m demo.real_site [--db confluence.duckdb] [--streams space,pages]

The first run reads everything; later runs against the same DuckDB file are incremental for pages and
blog posts (PyAirbyte keeps the connector's state in the file). Nothing but your Confluence is
contacted: the connector is the local `source-confluence`, and PyAirbyte's registry look-up and
telemetry stay off unless you export AIRBYTE_OFFLINE_MODE=0 yourself.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from demo.sync import UnknownStreams, parse_stream_list, render, set_offline_environment, sync_to_duckdb



class MissingSetting(SystemExit):
    pass


def config_from_environment(env: Mapping[str, str] = os.environ) -> Dict[str, Any]:
    """The connector config (see docs/confluence.md) from CONFLUENCE_* variables."""

    def get(name: str) -> Optional[str]:
        value = env.get(name, "").strip()
        return value or None

    base_url = get("CONFLUENCE_BASE_URL")
    if not base_url:
        raise MissingSetting("Set CONFLUENCE_BASE_URL, e.g. https://acme.atlassian.net or https://wiki.example.com/confluence.")
    deployment = get("CONFLUENCE_DEPLOYMENT") or ("cloud" if ".atlassian.net" in base_url else "data_center")
    if get("CONFLUENCE_PAT"):
        credentials = {"auth_type": "personal_access_token", "personal_access_token": get("CONFLUENCE_PAT")}
    elif get("CONFLUENCE_USERNAME") and get("CONFLUENCE_PASSWORD"):
        credentials = {"auth_type": "password", "username": get("CONFLUENCE_USERNAME"), "password": get("CONFLUENCE_PASSWORD")}
    elif get("CONFLUENCE_EMAIL") and get("CONFLUENCE_API_TOKEN"):
        auth_type = "scoped_api_token" if get("CONFLUENCE_TOKEN_SCOPED") in ("1", "true", "yes") else "api_token"
        credentials = {"auth_type": auth_type, "email": get("CONFLUENCE_EMAIL"), "api_token": get("CONFLUENCE_API_TOKEN")}
        if get("CONFLUENCE_CLOUD_ID"):
            credentials["cloud_id"] = get("CONFLUENCE_CLOUD_ID")
    else:
        raise MissingSetting(
            "Set CONFLUENCE_EMAIL and CONFLUENCE_API_TOKEN (Cloud), CONFLUENCE_PAT (Data Center), "
            "or CONFLUENCE_USERNAME and CONFLUENCE_PASSWORD (Data Center)."
        )
    config: Dict[str, Any] = {"base_url": base_url.rstrip("/"), "deployment": deployment, "credentials": credentials}
    if get("CONFLUENCE_SPACE_KEYS"):
        config["space_keys"] = [key.strip() for key in get("CONFLUENCE_SPACE_KEYS").split(",") if key.strip()]
    if get("CONFLUENCE_START_DATE"):
        config["start_date"] = get("CONFLUENCE_START_DATE")
    if get("CONFLUENCE_TIME_ZONE"):
        config["cql_time_zone"] = get("CONFLUENCE_TIME_ZONE")
    if get("CONFLUENCE_NUM_WORKERS"):
        config["num_workers"] = int(get("CONFLUENCE_NUM_WORKERS"))
    return config


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.real_site", description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("confluence.duckdb"), help="DuckDB file (default: %(default)s)")
    parser.add_argument("--streams", default="*", help="comma-separated names from the connector's catalog; * for all")
    parser.add_argument("--full-refresh", action="store_true", help="read everything again instead of incrementally")
    args = parser.parse_args(argv)
    set_offline_environment(force=False)
    try:
        config = config_from_environment()
    except MissingSetting as missing:
        print(missing, file=sys.stderr)
        return 2
    streams = parse_stream_list(args.streams)
    print(f"Syncing {config['base_url']} ({config['deployment']}, {config['credentials']['auth_type']}) into {args.db}", flush=True)
    try:
        outcome = sync_to_duckdb(config, args.db, streams=streams, full_refresh=args.full_refresh)
    except UnknownStreams as unknown:
        print(unknown, file=sys.stderr)
        return 2
    print()
    print(render(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main())
