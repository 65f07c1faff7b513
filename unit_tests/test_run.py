"""run.py, the console script: it leaves nothing unwritten and no exit handler unrun, and its module imports
nothing heavy, so that the Markdown pool's processes, which import the main module of their parent, do not
import airbyte-cdk."""

import gc
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from source_confluence.startup import GC_YOUNG_THRESHOLD, THREAD_SWITCH_SECONDS
from unit_tests.standalone import printed_alone

ROOT = Path(__file__).resolve().parents[1]


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


# A process whose main module is the console script's (main() not called), with airbyte-cdk imported as a sync
# has it, starts the sync's Markdown pool and asks one of its processes what it imported. `python -m
# source_confluence.run` names its main module (the children import it by name); the installed `source-confluence`
# script is a file (the children run it by path).
SCRIPT = Path(sys.executable).with_name("source-confluence")  # installed by `make install`
AS_MODULE = 'sys.modules["__main__"].__spec__ = importlib.util.find_spec("source_confluence.run")'
AS_SCRIPT = 'sys.modules["__main__"].__spec__ = None; sys.modules["__main__"].__file__ = %r' % str(SCRIPT)
POOL_PROBE = """
import importlib.util, sys
{main}
import source_confluence.launch
from source_confluence.sync import markdown_pool
pool = markdown_pool.MarkdownPool()
started = pool._started_pool()
print(started is not None)
print(started.submit(eval, "sorted(m for m in ('airbyte_cdk', 'source_confluence.launch') if m in __import__('sys').modules)").result(timeout=60))
pool.close()
"""


@pytest.mark.parametrize("main", [AS_MODULE, AS_SCRIPT], ids=["module", "script"])
def test_the_markdown_processes_of_the_console_script_do_not_import_airbyte_cdk(main):
    assert main is AS_MODULE or SCRIPT.is_file()
    started, imported = printed_alone(POOL_PROBE.replace("{main}", main))
    assert started == "True"
    assert imported == "[]"


def test_the_console_script_module_imports_no_airbyte_cdk_until_main_runs():
    # What multiprocessing does in each child process with its parent's main module (spawn.prepare).
    (imported,) = printed_alone(
        "import runpy, sys; runpy.run_module('source_confluence.run', run_name='__mp_main__', alter_sys=True);"
        "print('airbyte_cdk' in sys.modules)"
    )
    assert imported == "False"
