"""Connector runs forked from one process that has already imported the connector (test speed only).

Importing airbyte-cdk costs about 2 s of CPU in every new Python process (most of it building the
protocol serializers); the integration tests start the connector more than a hundred times. ``python -m
integration_tests.forked_cli`` imports the connector (``source_confluence.launch``, what the console script
``source_confluence.run`` imports when it runs) once and then, for each request it
reads on stdin, forks a process that sets up what ``subprocess.run`` would give a fresh one (argv,
the whole environment, working directory, stdin from /dev/null, stdout and stderr into files) and calls
``source_confluence.run.main()`` at module level, as ``python -m source_confluence.run`` does: the exit
code, an uncaught exception's traceback on stderr and the atexit handlers come from the same ends
(``main``'s own, or the interpreter's ordinary shutdown). ``integration_tests/cli.py`` decides when to use it.

Protocol: one JSON request a line on stdin ({"id", "args", "env", "cwd", "stdout", "stderr"}); on stdout
one line {"id", "pid"} when the run started and one {"id", "returncode"} when it ended (negative: the
signal that ended it, as ``subprocess`` reports it). Each run is watched by its own forked waiter, so
runs overlap; the lines are shorter than PIPE_BUF, so their writes never interleave.
"""

import json
import os
import signal
import sys
from typing import Any, Dict

import source_confluence.run  # first, as the console script: its malloc settings before airbyte-cdk loads
import source_confluence.launch  # noqa: F401 - the import every run would otherwise pay for


def _report(channel: int, **fields: Any) -> None:
    os.write(channel, (json.dumps(fields) + "\n").encode())


def _serve() -> Dict[str, Any]:
    """Fork a waiter per request; returns only in the forked run, with the request it is to run."""
    channel = os.dup(1)
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)  # nothing but reports goes to the channel
    os.close(quiet)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # waiters are reaped as they end
    pending = b""
    while True:
        chunk = os.read(0, 65536)  # unbuffered: sys.stdin's buffer stays empty for the runs
        if not chunk:
            os._exit(0)  # the test session closed stdin: it is over
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in filter(None, lines):
            request = json.loads(line)
            if os.fork() == 0:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # this waiter waits for its run
                pid = os.fork()
                if pid == 0:
                    os.close(channel)
                    return request
                _report(channel, id=request["id"], pid=pid)
                _, status = os.waitpid(pid, 0)
                _report(channel, id=request["id"], returncode=os.waitstatus_to_exitcode(status))
                os._exit(0)


def _become(request: Dict[str, Any]) -> None:
    """What a fresh ``subprocess.run(args, capture_output=True, cwd=..., env=...)`` process would have."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    for descriptor, path in ((1, request["stdout"]), (2, request["stderr"])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, descriptor)
        os.close(target)
    sys.argv = [source_confluence.run.__file__, *request["args"]]


if __name__ == "__main__":
    _become(_serve())
    source_confluence.run.main()
