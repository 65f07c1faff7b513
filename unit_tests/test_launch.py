"""launch.py's ``emit``: the messages go straight to stdout, whole, in order, with the logger's lines between them."""

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A child process, as the console script runs: the CDK's logger writes into PRINT_BUFFER, emit() prints.
CHILD = textwrap.dedent(
    """
    import logging, sys, threading
    from airbyte_cdk.logger import init_logger
    from source_confluence.launch import emit

    log = init_logger("airbyte")
    mode = sys.argv[1]

    def record(i):
        return '{"type":"RECORD","record":{"stream":"s","data":{"i":%d,"pad":"%s"},"emitted_at":1}}' % (i, "x" * 3000)

    def busy():
        chatter = threading.Thread(target=lambda: [log.info("from a worker %d", j) for j in range(300)])
        chatter.start()
        for i in range(2000):
            if i == 1000:
                log.info("halfway")
            yield record(i)
        chatter.join()
        yield '{"type":"STATE","state":{"type":"STREAM"}}'

    def quiet():
        yield record(0)
        yield '{"type":"STATE","state":{"type":"STREAM"}}'
        sys.stdin.readline()  # the test reads the state before letting the run go on

    emit(busy() if mode == "busy" else quiet())
    """
)


def child(mode):
    return subprocess.Popen([sys.executable, "-c", CHILD, mode], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_messages_stay_whole_and_ordered_with_log_lines_between_them():
    output, _ = child("busy").communicate(timeout=120)
    lines = [json.loads(line) for line in output.splitlines()]  # a line cut by another write would not parse
    records = [line["record"]["data"]["i"] for line in lines if line["type"] == "RECORD"]
    logs = [line["log"]["message"] for line in lines if line["type"] == "LOG"]
    assert records == list(range(2000))
    assert sorted(logs) == sorted(["halfway"] + [f"from a worker {j}" for j in range(300)])
    halfway = next(index for index, line in enumerate(lines) if line["type"] == "LOG" and line["log"]["message"] == "halfway")
    before = [line["record"]["data"]["i"] for line in lines[:halfway] if line["type"] == "RECORD"]
    assert before[-1] == 999  # logged before record 1000 was emitted, and after 999
    assert lines[-1]["type"] == "STATE"


def test_a_state_reaches_stdout_at_once_not_when_the_next_message_comes():
    run = child("quiet")
    seen = []
    reader = threading.Thread(target=lambda: seen.extend(json.loads(run.stdout.readline())["type"] for _ in range(2)))
    reader.start()
    reader.join(timeout=60)  # the run now waits for stdin: only a pushed state can be read
    try:
        assert seen == ["RECORD", "STATE"]
    finally:
        run.communicate("go\n", timeout=60)
    assert run.returncode == 0
