"""`make connector-test`: Airbyte's `airbyte-cdk connector test`, offline, against the Confluence emulator.

What the CDK command needs, and what this script supplies (airbyte_cdk/cli/airbyte_cdk/_connector.py
and test/standard_tests/util.py in airbyte-cdk 7.39.1):

1. A connector directory whose *name* is the connector's name. The command takes the folder name as
   the connector name (it resolves symlinks first), picks the Python source suite only for a
   `source-*` name with a `language:python` tag in metadata.yaml, and imports `<name>` with dashes
   as underscores (`source_confluence.SourceConfluence`). A clone called anything else fails with
   "Unsupported language for connector '<folder>': python". When this checkout is not named
   `source-confluence`, the script copies its tracked files into a temporary `source-confluence`
   folder and runs the command there (the code under test is still this checkout's installed package).
2. The configs that acceptance-test-config.yml lists under secrets/. They must point at a live
   Confluence; here two emulators (Cloud and Data Center) run in this process while the command runs.
3. pytest (the `dev` extra), and no Docker: the image tests are deselected with `-m 'not image_tests'`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
CONNECTOR_NAME = "source-confluence"


def write_secrets(secrets_dir: Path, cloud_info: dict, data_center_info: dict) -> None:
    from demo.run_demo import emulator_config

    cloud = emulator_config(cloud_info, "api_token")
    data_center = emulator_config(data_center_info, "personal_access_token")
    wrong_token = json.loads(json.dumps(cloud))
    wrong_token["credentials"]["api_token"] = "not-the-token"
    wrong_deployment = dict(data_center, deployment="cloud", credentials=cloud["credentials"])
    secrets_dir.mkdir(parents=True, exist_ok=True)
    configs: Dict[str, dict] = {
        "config_cloud.json": cloud,
        "config_data_center.json": data_center,
        "invalid_config_wrong_token.json": wrong_token,
        "invalid_config_wrong_deployment.json": wrong_deployment,
    }
    for name, config in configs.items():
        (secrets_dir / name).write_text(json.dumps(config, indent=2))


def stage_connector_directory(workdir: Path) -> Path:
    """This checkout if it is already named source-confluence, else a copy of its tracked files that is."""
    if ROOT.name == CONNECTOR_NAME:
        return ROOT
    target = workdir / CONNECTOR_NAME
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for relative in filter(None, tracked):
        source = ROOT / relative
        if source.is_file():
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    return target


def main(argv: Optional[List[str]] = None) -> int:
    from confluence_emulator import Emulator

    extra = list(sys.argv[1:] if argv is None else argv)
    cli = Path(sys.executable).parent / "airbyte-cdk"
    with tempfile.TemporaryDirectory(prefix="connector-test-") as workdir:
        connector_dir = stage_connector_directory(Path(workdir))
        with Emulator(profile="cloud", seed=11, pages=40, time_zone="America/New_York") as cloud, Emulator(
            profile="data_center", seed=13, pages=40, time_zone="Asia/Singapore"
        ) as data_center:
            write_secrets(connector_dir / "secrets", cloud.info, data_center.info)
            command = [str(cli), "connector", "test", str(connector_dir), "--pytest-arg=-m", "--pytest-arg=not image_tests"]
            command += [f"--pytest-arg={arg}" for arg in extra]
            print("$ " + " ".join(command), flush=True)
            return subprocess.run(command, cwd=connector_dir).returncode


if __name__ == "__main__":
    sys.exit(main())
