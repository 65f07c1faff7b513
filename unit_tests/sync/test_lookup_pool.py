"""lookup_pool.py: look-ups run side by side in threads of their own; the budget of requests is not theirs to keep."""

import subprocess
import sys
import threading
import time
from concurrent.futures import CancelledError
from pathlib import Path

import pytest

from source_confluence.sync.lookup_pool import LookupPool, lookup_threads
from unit_tests.conftest import eventually


class Running:
    """Counts calls running at once; each call blocks until released."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running = 0
        self.release = threading.Event()

    def call(self):
        with self.lock:
            self.running += 1
        self.release.wait(10)
        with self.lock:
            self.running -= 1
        return "done"

    def wait_for(self, running, seconds=5.0):
        def reached():
            with self.lock:
                return self.running == running

        return eventually(reached, seconds)


@pytest.mark.parametrize("num_workers", [1, 8])
def test_the_pool_runs_its_look_ups_all_at_once_without_waiting_for_a_slot(num_workers):
    # Only requests hold slots (in_flight.py): look-ups that wait for others' answers, or run no request, all run.
    pool, calls = LookupPool(num_workers), Running()
    futures = [pool.submit(calls.call) for _ in range(lookup_threads(num_workers))]
    assert calls.wait_for(lookup_threads(num_workers))
    calls.release.set()
    assert [f.result(5) for f in futures] == ["done"] * len(futures)
    pool.close()


def test_side_by_side_waits_for_all_and_keeps_failures_in_their_futures():
    pool = LookupPool(2)

    def fails():
        raise ValueError("HTTP 500 for spaces/1/permissions")

    futures = pool.side_by_side([lambda: 1, fails, lambda: 3])
    assert all(f.done() for f in futures)
    assert futures[0].result() == 1 and futures[2].result() == 3
    with pytest.raises(ValueError):
        futures[1].result()
    pool.close()


def test_first_done_returns_what_finished_while_the_rest_run_on():
    pool = LookupPool(8)
    gate = threading.Event()
    quick = pool.submit(lambda: time.sleep(0.05) or 1)  # most likely still running: first_done waits for it
    slow = pool.submit(lambda: gate.wait(5))
    done = pool.first_done([quick, slow])
    assert quick in done and slow not in done
    gate.set()
    assert slow.result(5) is True
    pool.close()


def test_a_look_up_not_begun_when_the_sync_ends_never_runs():
    pool, calls = LookupPool(1), Running()
    busy = [pool.submit(calls.call) for _ in range(lookup_threads(1))]
    assert calls.wait_for(len(busy))
    ran = []
    queued = pool.submit(lambda: ran.append("sent"))
    pool.close()
    with pytest.raises(CancelledError):
        queued.result(timeout=5)
    calls.release.set()
    assert [f.result(5) for f in busy] == ["done"] * len(busy)
    assert ran == []


def test_a_look_up_still_running_when_the_sync_ends_does_not_keep_the_process_alive():
    # A look-up retrying against a site that no longer answers, when a sync fails: the process must still exit.
    script = (
        "import time\n"
        "from source_confluence.sync.lookup_pool import LookupPool\n"
        "pool = LookupPool(2)\n"
        "started = pool.submit(lambda: 'started')\n"
        "started.result(10)\n"
        "pool.submit(lambda: time.sleep(120))\n"
        "time.sleep(0.2)\n"
        "pool.close()\n"
        "print('closed', flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=str(Path(__file__).resolve().parents[2]))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "closed"


def test_a_closed_pool_refuses_new_look_ups():
    pool = LookupPool(1)
    assert pool.submit(lambda: 1).result(5) == 1
    pool.close()
    with pytest.raises(RuntimeError):
        pool.submit(lambda: 2)
