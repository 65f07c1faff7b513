"""run.py's ``emit``: the messages go straight to stdout, whole, in order, with the logger's lines between them;
``main``: the console script leaves nothing unwritten and no exit handler unrun."""

import gc
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from source_confluence.startup import GC_YOUNG_THRESHOLD, THREAD_SWITCH_SECONDS

ROOT = Path(__file__).resolve().parents[1]

# A child process, as the console script runs: the CDK's logger writes into PRINT_BUFFER, emit() prints.
CHILD = textwrap.dedent(
    """
    import logging, sys, threading
    from airbyte_cdk.logger import init_logger
    from source_confluence.run import emit

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


def test_a_reader_that_closes_stdout_gets_no_stack_trace_on_stderr():
    """``source-confluence spec | head -c 50``: the reader takes the first line (a log line) and goes away
    before the spec is written."""
    process = subprocess.Popen(
        [sys.executable, "-m", "source_confluence.run", "spec"],
        cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    first = process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert json.loads(first)["type"] == "LOG"
    assert process.wait(timeout=60) == 1  # the output was cut short
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr[-2000:]


# The console script's way out (``main``), with exit handlers as the CDK's logging and the Markdown pool add
# them: one writes to stdout without flushing, one leaves a file behind.
MAIN_CHILD = textwrap.dedent(
    """
    import atexit, gc, sys
    from pathlib import Path
    marker = Path(sys.argv[1])
    atexit.register(lambda: marker.write_text(
        f"ran, switching threads every {sys.getswitchinterval()} s, young garbage every {gc.get_threshold()[0]}, "
        f"{'some' if gc.get_freeze_count() > 10000 else 'no'} start-up objects frozen"))
    atexit.register(lambda: sys.stdout.write("written by an exit handler\\n"))
    sys.argv = ["source-confluence", "spec"]
    from source_confluence.run import main
    main()
    """
)


def test_the_console_script_flushes_everything_and_runs_the_exit_handlers_before_it_leaves(tmp_path):
    marker = tmp_path / "handler-ran"
    buffered = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}  # stdout block-buffered
    done = subprocess.run([sys.executable, "-c", MAIN_CHILD, str(marker)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=buffered)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(lines[-2])["type"] == "SPEC"
    assert lines[-1] == "written by an exit handler"
    assert marker.read_text() == (
        f"ran, switching threads every {THREAD_SWITCH_SECONDS} s, young garbage every {GC_YOUNG_THRESHOLD}, some start-up objects frozen"
    )
    # this process (pytest) kept CPython's defaults
    assert THREAD_SWITCH_SECONDS < sys.getswitchinterval()
    assert gc.get_threshold()[0] < GC_YOUNG_THRESHOLD
