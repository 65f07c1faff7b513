"""lookup_pool.py: look-ups run side by side in threads of their own; the budget of requests is not theirs to keep."""

import threading
import time
from concurrent.futures import CancelledError, Future

import pytest

from source_confluence.sync.lookup_pool import LookupPool, lookup_threads


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
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                if self.running == running:
                    return True
            time.sleep(0.01)
        return False


@pytest.mark.parametrize("num_workers", [1, 8])
def test_look_ups_run_side_by_side_beyond_the_budget_since_only_their_requests_hold_slots(num_workers):
    # A look-up waiting for another's batch keeps its thread: the pool has more threads than the budget.
    pool, calls = LookupPool(num_workers), Running()
    futures = [pool.submit(calls.call) for _ in range(lookup_threads(num_workers))]
    assert lookup_threads(num_workers) > num_workers
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
        pool.result(futures[1])
    pool.close()


def test_wait_all_returns_once_work_that_is_not_a_look_up_is_done():
    # What a stream worker does while the Markdown processes convert its page (components/results.py).
    pool = LookupPool(2)
    conversion = Future()
    waiter = threading.Thread(target=pool.wait_all, args=([conversion],))
    waiter.start()
    time.sleep(0.05)
    assert waiter.is_alive()
    conversion.set_result("markdown")
    waiter.join(5)
    assert not waiter.is_alive()
    pool.close()


def test_first_done_returns_what_finished_while_the_rest_run_on():
    pool = LookupPool(8)
    gate = threading.Event()
    quick = pool.submit(lambda: 1)
    slow = pool.submit(lambda: gate.wait(5))
    quick.result(5)
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
