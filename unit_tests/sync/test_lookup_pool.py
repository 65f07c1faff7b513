"""lookup_pool.py: look-ups fit in the num_workers budget with the stream workers, and a waiting worker lends its slot."""

import threading
import time
from concurrent.futures import CancelledError

import pytest

from source_confluence.sync.lookup_pool import LookupPool, base_slots, workers


class InFlight:
    """Counts calls running at once; each call blocks until released."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.release = threading.Event()

    def call(self):
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
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

    def settles_at(self, running):
        """``running`` calls run, and no more start in the next tenth of a second (the rest wait for a slot)."""
        reached = self.wait_for(running)
        time.sleep(0.1)
        return reached and self.running == running

    def finish(self, pool, futures):
        """Let every call end; each returned, and the pool closes."""
        self.release.set()
        assert [f.result(5) for f in futures] == ["done"] * len(futures)
        pool.close()


@pytest.mark.parametrize("num_workers, pool_slots", [(1, 0), (3, 0), (4, 1), (8, 2), (40, 10)])
def test_the_pool_owns_a_quarter_of_the_budget_and_the_stream_workers_the_rest(num_workers, pool_slots):
    assert base_slots(num_workers) == pool_slots
    assert workers({"num_workers": num_workers}) == num_workers


def test_without_a_waiting_worker_only_the_pools_own_slots_run():
    pool, calls = LookupPool(8), InFlight()
    futures = [pool.submit(calls.call) for _ in range(6)]
    assert calls.settles_at(2)  # the other four wait for a slot, not for a thread
    calls.finish(pool, futures)
    assert calls.peak == 2


def test_a_worker_waiting_for_a_look_up_lends_its_slot_and_takes_it_back():
    pool, calls = LookupPool(8), InFlight()
    futures = [pool.submit(calls.call) for _ in range(4)]
    assert calls.wait_for(2)
    waiter = threading.Thread(target=lambda: pool.result(futures[-1]))
    waiter.start()
    assert calls.wait_for(3)  # the waiting worker's slot runs a third look-up
    time.sleep(0.1)
    assert calls.running == 3
    calls.release.set()
    waiter.join(5)
    assert not waiter.is_alive()
    # Every slot lent is back: two run at once again.
    calls.release.clear()
    more = [pool.submit(calls.call) for _ in range(3)]
    assert calls.wait_for(2)
    time.sleep(0.1)
    assert calls.running == 2
    calls.release.set()
    assert [f.result(5) for f in more] == ["done"] * 3
    pool.close()


def test_a_slot_lent_by_hand_runs_one_more_look_up_until_it_is_taken_back():
    # What a thread does while another thread's request carries its ids (access/lookups.py restrictions).
    pool, calls = LookupPool(8), InFlight()
    futures = [pool.submit(calls.call) for _ in range(4)]
    assert calls.wait_for(2)
    pool.lend_slot()
    assert calls.wait_for(3)
    taken_back = threading.Thread(target=pool.take_slot_back)
    taken_back.start()
    time.sleep(0.1)
    assert taken_back.is_alive()  # every slot is busy: the thread waits for one before it sends again
    calls.release.set()
    taken_back.join(5)
    assert not taken_back.is_alive()
    assert [f.result(5) for f in futures] == ["done"] * 4
    assert calls.peak == 3
    pool.close()


def test_a_worker_waiting_for_other_work_lends_its_slot_until_that_work_is_done():
    # What a stream worker does while the Markdown processes convert its page (components/results.py).
    from concurrent.futures import Future

    pool, calls = LookupPool(8), InFlight()
    futures = [pool.submit(calls.call) for _ in range(4)]
    assert calls.settles_at(2)
    conversion = Future()
    waiter = threading.Thread(target=pool.wait_all, args=([conversion],))
    waiter.start()
    assert calls.settles_at(3)  # its slot runs a third look-up meanwhile
    conversion.set_result("markdown")
    time.sleep(0.1)
    assert waiter.is_alive()  # done waiting, it waits for a slot before it may send again
    calls.finish(pool, futures)
    waiter.join(5)
    assert not waiter.is_alive()


def test_with_one_worker_the_look_ups_run_one_at_a_time_on_the_callers_lent_slot():
    pool = LookupPool(1)
    calls = InFlight()
    calls.release.set()
    futures = pool.side_by_side([calls.call for _ in range(5)])
    assert [f.result() for f in futures] == ["done"] * 5
    assert calls.peak == 1


def test_first_done_returns_what_finished_while_the_rest_run_on():
    pool = LookupPool(8)
    gate = threading.Event()
    quick = pool.submit(lambda: 1)
    slow = pool.submit(lambda: gate.wait(5))
    done = pool.first_done([quick, slow])
    assert quick in done and slow not in done
    gate.set()
    assert slow.result(5) is True
    pool.close()


def test_idle_stream_workers_lend_their_slots_until_tasks_take_them_back():
    # 8 in all: the CDK then has 8 workers, which lend theirs while no task of theirs holds them.
    pool, calls = LookupPool(8), InFlight()
    pool.lend_idle_workers()
    pool.lend_idle_workers()  # once per sync: a second call lends nothing more
    for _ in range(3):
        pool.task_started()  # three workers have a task: their slots are theirs again
    futures = [pool.submit(calls.call) for _ in range(10)]
    assert calls.settles_at(5)
    pool.task_done()  # a task is over: its worker's slot serves the look-ups
    assert calls.settles_at(6)
    calls.finish(pool, futures)
    assert calls.peak == 6


def test_more_tasks_than_workers_hold_no_more_slots_than_the_workers_have():
    # The CDK runs at most as many tasks as it has workers (8 here); the others wait in its queue, sending nothing.
    pool, calls = LookupPool(8), InFlight()
    pool.lend_idle_workers()
    for _ in range(11):
        pool.task_started()  # 8 take a slot, 3 queue: never blocks, since look-ups hold none
    futures = [pool.submit(calls.call) for _ in range(4)]
    assert calls.settles_at(0)  # every slot is a worker's, the pool's own included
    for _ in range(3):
        pool.task_done()  # the queued ones' turn: still eight readers, no slot comes free
    assert calls.settles_at(0)
    pool.task_done()
    assert calls.settles_at(1)
    calls.finish(pool, futures)


def test_with_a_cdk_worker_per_slot_look_ups_run_only_on_the_slots_of_idle_or_waiting_workers():
    # 8 in all and 8 CDK workers: once every worker has a task, no slot is left for the look-ups.
    pool, calls = LookupPool(8), InFlight()
    pool.lend_idle_workers()
    assert pool.stream_workers == 8
    for _ in range(7):
        pool.task_started()
    futures = [pool.submit(calls.call) for _ in range(4)]
    assert calls.settles_at(1)  # the eighth worker is idle: its slot serves them, and no other
    pool.lend_slot()  # a worker with a task waits for a look-up
    assert calls.settles_at(2)
    calls.finish(pool, futures)
    assert calls.peak == 2


def test_without_the_loan_tasks_change_nothing():
    # Another stream's tasks may run on any worker: no worker's slot is lent, and none is taken back.
    pool, calls = LookupPool(8), InFlight()
    pool.task_started()
    pool.task_done()
    pool.task_done()
    futures = [pool.submit(calls.call) for _ in range(4)]
    assert calls.settles_at(2)
    calls.finish(pool, futures)


def test_a_look_up_nobody_waits_for_gives_up_its_thread_when_the_sync_ends_without_a_slot_for_it():
    """Two workers: the pool owns no slot and no worker lends one. A look-up started at the read's start
    (``SyncContext.at_read_start``) waited for a slot forever, and the process for its thread at exit."""
    pool = LookupPool(2)
    ran = []
    future = pool.submit(lambda: ran.append("sent"))
    time.sleep(0.1)
    assert not future.done()
    pool.close()
    with pytest.raises(CancelledError):
        future.result(timeout=5)
    assert ran == []
