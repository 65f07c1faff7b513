"""Run the connector's real console entry point (`python -m source_confluence.run`) as a subprocess.

Every byte of stdout and stderr is kept, so tests can scan them (for secrets, for stack traces)
and read the Airbyte messages the platform would see.

The process is forked from one that has already imported the connector (``forked_cli.py``), which saves
the ~2 s of imports each run would pay, whenever the run's environment is the one that process started
with; otherwise (``extra_env``, a test that changed os.environ) or with CONFLUENCE_TESTS_FORK=0 it is a
fresh ``python -m source_confluence.run``.
"""

import atexit
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional

ROOT = Path(__file__).resolve().parents[1]


class _Run:
    def __init__(self) -> None:
        self.started = threading.Event()
        self.ended = threading.Event()
        self.pid: Optional[int] = None
        self.returncode: Optional[int] = None


class ForkingLauncher:
    """The client of one ``python -m integration_tests.forked_cli`` process; safe to use from many threads."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "integration_tests.forked_cli"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=str(ROOT), env=self.env,
        )
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.runs: Dict[int, _Run] = {}
        self.forked_runs = 0
        threading.Thread(target=self._read_reports, name="forked-cli-reports", daemon=True).start()

    def _read_reports(self) -> None:
        for line in self.process.stdout:
            report = json.loads(line)
            with self.lock:
                run = self.runs[report["id"]]
            if "pid" in report:
                run.pid = report["pid"]
                run.started.set()
            else:
                run.returncode = report["returncode"]
                run.ended.set()
        with self.lock:  # the launcher died: nobody is left to report
            for run in self.runs.values():
                run.started.set()
                run.ended.set()

    def run(self, args: List[str], env: Mapping[str, str], stdout_path: str, stderr_path: str, timeout: float) -> int:
        run = _Run()
        with self.lock:
            run_id = next(self.ids)
            self.forked_runs += 1
            self.runs[run_id] = run
            request = {"id": run_id, "args": args, "env": dict(env), "cwd": str(ROOT), "stdout": stdout_path, "stderr": stderr_path}
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
        try:
            if not run.ended.wait(timeout):
                if run.pid:
                    os.kill(run.pid, signal.SIGKILL)
                run.ended.wait(10)
                raise subprocess.TimeoutExpired([sys.executable, "-m", "source_confluence.run", *args], timeout)
            if run.returncode is None:
                raise RuntimeError("the forked_cli launcher ended before the connector run did")
            return run.returncode
        finally:
            with self.lock:
                del self.runs[run_id]

    def close(self) -> None:
        try:
            self.process.stdin.close()
            self.process.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()


_launcher: Optional[ForkingLauncher] = None
_launcher_lock = threading.Lock()


def _connector_env(extra_env: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(extra_env or {}))
    env.pop("LOG_LEVEL", None)
    return env


# Variables others set for a while, which nothing the connector imports reads at start-up, so a
# change in them does not call for a fresh launcher: pytest sets the first around each test; the
# CDK's entrypoint sets the second to a fresh directory on every run, so an in-process run in a
# unit test leaves it behind.
_TRANSIENT_VARIABLES = ("PYTEST_CURRENT_TEST", "REQUEST_CACHE_PATH")


def _without_transient(env: Mapping[str, str]) -> Dict[str, str]:
    return {key: value for key, value in env.items() if key not in _TRANSIENT_VARIABLES}


# Taken when the tests are collected, before any test changes os.environ.
_LAUNCHER_ENV = _without_transient(_connector_env())


def _forking_launcher(env: Mapping[str, str]) -> Optional[ForkingLauncher]:
    """The launcher, when this run's environment is the one it starts with (imports may read the environment)."""
    global _launcher
    if os.environ.get("CONFLUENCE_TESTS_FORK", "1") == "0" or not hasattr(os, "fork") or _without_transient(env) != _LAUNCHER_ENV:
        return None
    with _launcher_lock:
        if _launcher is None or _launcher.process.poll() is not None:
            _launcher = ForkingLauncher(_LAUNCHER_ENV)
            atexit.register(_launcher.close)
        return _launcher


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
        env = _connector_env(extra_env)
        launcher = _forking_launcher(env)
        if launcher is None:
            completed = subprocess.run(args, capture_output=True, cwd=str(ROOT), env=env, timeout=timeout)
            returncode, stdout, stderr = completed.returncode, completed.stdout, completed.stderr
        else:
            stdout_path, stderr_path = os.path.join(directory, "stdout"), os.path.join(directory, "stderr")
            returncode = launcher.run(args[3:], env, stdout_path, stderr_path, timeout)
            stdout, stderr = Path(stdout_path).read_bytes(), Path(stderr_path).read_bytes()
    result = CliResult(command=args[3:], returncode=returncode, stdout=stdout, stderr=stderr)
    for line in stdout.splitlines():
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
