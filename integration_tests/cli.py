"""Run the connector's real console entry point (`python -m source_confluence.run`) as a subprocess.

Every byte of stdout and stderr is kept, so tests can scan them (for secrets, for stack traces)
and read the Airbyte messages the platform would see.
"""

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional

ROOT = Path(__file__).resolve().parents[1]




@dataclass
class CliResult:
    command: List[str]
    returncode: int
    stdout: bytes
    stderr: bytes
    messages: List[Dict[str, Any]] = field(default_factory=list)
    unparsed_lines: List[bytes] = field(default_factory=list)

    def of_type(self, message_type: str) -> List[Dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == message_type]

    @property
    def errors(self) -> List[Dict[str, Any]]:
        return [m["trace"]["error"] for m in self.of_type("TRACE") if m["trace"].get("type") == "ERROR"]

    @property
    def connection_status(self) -> Optional[Dict[str, Any]]:
        statuses = self.of_type("CONNECTION_STATUS")
        return statuses[-1]["connectionStatus"] if statuses else None

    @property
    def controls(self) -> List[Dict[str, Any]]:
        return self.of_type("CONTROL")

    def records(self, stream: Optional[str] = None) -> List[Dict[str, Any]]:
        return [m["record"]["data"] for m in self.of_type("RECORD") if stream is None or m["record"]["stream"] == stream]

    def logs(self, level: Optional[str] = None) -> List[str]:
        return [m["log"]["message"] for m in self.of_type("LOG") if level is None or m["log"]["level"] == level]

    def describe(self) -> str:
        tail = b"\n".join(self.stdout.splitlines()[-15:]).decode(errors="replace")
        return f"{' '.join(self.command)} -> exit {self.returncode}\nstdout tail:\n{tail}\nstderr:\n{self.stderr[-3000:].decode(errors='replace')}"


def _write(directory: str, name: str, document: Any) -> str:
    path = os.path.join(directory, name)
    data = document if isinstance(document, (str, bytes)) else json.dumps(document)
    with open(path, "wb") as handle:
        handle.write(data.encode() if isinstance(data, str) else data)
    return path


def catalog_for(streams: Iterable[str], sync_mode: str = "full_refresh") -> Dict[str, Any]:
    return {
        "streams": [
            {
                "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
                "sync_mode": sync_mode,
                "destination_sync_mode": "append" if sync_mode == "incremental" else "overwrite",
            }
            for name in streams
        ]
    }


def run_cli(
    command: str,
    config: Any = None,
    catalog: Any = None,
    state: Any = None,
    *,
    debug: bool = False,
    timeout: float = 120,
    extra_env: Optional[Mapping[str, str]] = None,
) -> CliResult:
    """`python -m source_confluence.run <command> [--config] [--catalog] [--state] [--debug]`.

    ``config``/``catalog``/``state`` are JSON values (written as JSON) or str/bytes (written as is,
    to test files that are not JSON).
    """
    with tempfile.TemporaryDirectory(prefix="confluence-cli-") as directory:
        args = [sys.executable, "-m", "source_confluence.run", command]
        if config is not None:
            args += ["--config", _write(directory, "config.json", config)]
        if catalog is not None:
            args += ["--catalog", _write(directory, "catalog.json", catalog)]
        if state is not None:
            args += ["--state", _write(directory, "state.json", state)]
        if debug:
            args.append("--debug")
        env = dict(os.environ, PYTHONPATH=str(ROOT), **(extra_env or {}))
        env.pop("LOG_LEVEL", None)
        completed = subprocess.run(args, capture_output=True, cwd=str(ROOT), env=env, timeout=timeout)
    result = CliResult(command=args[3:], returncode=completed.returncode, stdout=completed.stdout, stderr=completed.stderr)
    for line in completed.stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            result.unparsed_lines.append(line)
            continue
        if isinstance(message, dict):
            result.messages.append(message)
        else:
            result.unparsed_lines.append(line)
    return result
