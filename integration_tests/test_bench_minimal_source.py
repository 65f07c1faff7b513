"""bench/minimal_source.py, the benchmark's measure of start-up on airbyte-cdk itself: it must really be a working
declarative source (the emulator's space list, read with the connector's config), or its first request would time
nothing the connector pays."""

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.run import MINIMAL_SOURCE_CATALOG
from confluence_emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]


def test_it_reads_every_space_with_the_connectors_config_in_one_request(tmp_path):
    with Emulator(profile="cloud", seed=5, pages=30) as emulator:
        config = {"base_url": emulator.base_url, "deployment": "cloud", "credentials": dict(emulator.info["credentials"]["api_token"])}
        (tmp_path / "config.json").write_text(json.dumps(config))
        (tmp_path / "catalog.json").write_text(json.dumps(MINIMAL_SOURCE_CATALOG))
        emulator.admin.reset_requests()
        done = subprocess.run([sys.executable, "-m", "bench.minimal_source", "read", "--config", str(tmp_path / "config.json"),
                               "--catalog", str(tmp_path / "catalog.json")], capture_output=True, text=True, cwd=str(ROOT),
                              env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        records = [json.loads(line)["record"]["data"] for line in done.stdout.splitlines() if line.startswith('{"type":"RECORD"')]
        assert sorted(r["key"] for r in records) == sorted(s.key for s in emulator.site.spaces.values())
        assert [r["path"] for r in emulator.admin.requests()] == ["/wiki/api/v2/spaces"]
