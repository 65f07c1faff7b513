"""in_flight.py: a sync's requests hold a slot of its budget while they are sent, whoever sends them."""

import threading
import time
from contextlib import ExitStack

import pytest
import requests
from airbyte_cdk.sources.streams.call_rate import LimiterSession

from source_confluence.sync import in_flight
from source_confluence.sync.in_flight import IDLE_PAGES_IN_HAND, InFlightBudget, reading, workers
from unit_tests.local_http import LocalServer, QuietHandler

ANSWER_AFTER_SECONDS = 0.05
# How long a request waits for the others the server expects to hold at once (``SlowServer.together``).
TOGETHER_AT_MOST_SECONDS = 3.0


class SlowServer(LocalServer):
    """A local HTTP server that counts the requests it holds at once. Until ``together`` have been held at once,
    each waits for the others (at most ``TOGETHER_AT_MOST_SECONDS``): the peak does not depend on how fast
    threads start, only on how many requests the client lets out."""

    def __init__(self):
        counter = self
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.running = self.peak = self.total = 0
        self.together = 1

        class Handler(QuietHandler):
            def do_GET(self):
                with counter.lock:
                    counter.running += 1
                    counter.total += 1
                    counter.peak = max(counter.peak, counter.running)
                    counter.arrived.notify_all()
                    counter.arrived.wait_for(lambda: counter.peak >= counter.together, TOGETHER_AT_MOST_SECONDS)
                time.sleep(ANSWER_AFTER_SECONDS)
                with counter.lock:
                    counter.running -= 1
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.answer(b"ok")

        super().__init__(Handler)


@pytest.fixture
def server():
    with SlowServer() as slow:
        yield slow


def send_side_by_side(url, threads, path="/"):
    """``threads`` threads, each sending one GET through a CDK session (the class every CDK client uses)."""
    results = []

    def one():
        with LimiterSession(api_budget=_no_rate_limit()) as session:
            results.append(session.get(url + path, timeout=10).status_code)

    workers_ = [threading.Thread(target=one, daemon=True) for _ in range(threads)]
    for worker in workers_:
        worker.start()
    for worker in workers_:
        worker.join(30)
    assert not any(worker.is_alive() for worker in workers_), "a send waited for a slot that never came back"
    return results


def ends_within(seconds, call):
    """Run ``call`` in a daemon thread: a slot that never comes back fails the test instead of hanging the run."""
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "still waiting for a slot after %s s" % seconds
    return outcome[0]


def _no_rate_limit():
    from airbyte_cdk.sources.streams.call_rate import APIBudget

    return APIBudget(policies=[])


@pytest.mark.parametrize("num_workers", [1, 3])
def test_while_a_sync_reads_its_requests_through_the_cdk_hold_at_most_num_workers_slots(server, num_workers):
    budget = InFlightBudget(num_workers)
    server.together = num_workers
    with reading(budget):
        assert send_side_by_side(server.url, 8) == [200] * 8
    assert server.total == 8
    assert server.peak == num_workers  # the budget, not the eight threads, bounds them
    assert budget.peak == num_workers and budget.in_flight == 0


def test_outside_a_read_the_cdk_sends_as_before(server):
    in_flight.install()
    assert in_flight.current() is None
    server.together = 4
    assert send_side_by_side(server.url, 4) == [200] * 4
    assert server.peak == 4


def test_a_redirect_is_followed_in_the_slot_its_first_request_holds(server):
    # The hops of a redirect are sent from inside the first send: with one slot, a second would never come.
    budget = InFlightBudget(1)
    with reading(budget):
        assert send_side_by_side(server.url, 2, path="/redirect") == [200, 200]
    assert server.total == 4 and server.peak == 1


def test_a_request_that_fails_gives_its_slot_back():
    budget = InFlightBudget(1)

    def fail_twice():
        failures = 0
        with reading(budget), LimiterSession(api_budget=_no_rate_limit()) as session:
            for _ in range(2):  # a second failure would wait for ever if the first kept the only slot
                try:
                    session.get("http://127.0.0.1:9/", timeout=2)  # discard port: nothing listens
                except requests.ConnectionError:
                    failures += 1
        return failures

    assert ends_within(10, fail_twice) == 2
    assert budget.in_flight == 0 and budget.peak == 1


def test_a_block_that_holds_a_slot_takes_no_other_for_what_it_sends_inside():
    budget = InFlightBudget(1)

    def download():
        with budget.slot():
            with budget.slot():  # the attachment download's own request, inside the download's slot
                inside = budget.in_flight
            return inside, budget.in_flight

    assert ends_within(5, download) == (1, 1)
    assert budget.in_flight == 0


def test_a_send_nested_in_another_reads_slot_takes_none_of_the_read_begun_since():
    # Two reads in one process: a redirect's hop must not take a second slot from the newer read's budget.
    older, newer = InFlightBudget(1), InFlightBudget(1)

    def hop_after_a_newer_read_began():
        with reading(older), in_flight.slot():
            with reading(newer), in_flight.slot():
                return older.in_flight, newer.in_flight

    assert ends_within(5, hop_after_a_newer_read_began) == (1, 0)


def test_a_slot_is_given_back_when_the_block_raises():
    budget = InFlightBudget(1)
    with pytest.raises(RuntimeError):
        with budget.slot():
            raise RuntimeError("the body was cut short")
    acquired = threading.Event()

    def other_thread():
        with budget.slot():
            acquired.set()
    thread = threading.Thread(target=other_thread, daemon=True)
    thread.start()
    assert acquired.wait(5)
    thread.join(5)


def test_the_latest_read_begun_is_the_one_whose_budget_holds():
    first, second = InFlightBudget(2), InFlightBudget(5)
    with reading(first):
        assert in_flight.current() is first
        with reading(second):
            assert in_flight.current() is second
        assert in_flight.current() is first
    assert in_flight.current() is None


@pytest.mark.parametrize("configured, expected", [({"num_workers": 3}, 3), ({"num_workers": 0}, 8), ({}, 8), ({"num_workers": 40}, 40)])
def test_num_workers_is_the_budget_and_the_spec_default_fills_it(configured, expected):
    assert workers(configured) == expected


def test_a_budget_is_mostly_idle_while_fewer_than_half_its_slots_are_held():
    budget = InFlightBudget(4)
    release, holding = threading.Event(), threading.Semaphore(0)

    def hold_a_slot():
        with budget.slot():
            holding.release()
            release.wait(10)

    assert budget.mostly_idle()
    threads = [threading.Thread(target=hold_a_slot, daemon=True) for _ in range(2)]
    threads[0].start()
    assert holding.acquire(timeout=5) and budget.mostly_idle()  # one of four
    threads[1].start()
    assert holding.acquire(timeout=5) and not budget.mostly_idle()  # two of four: half
    release.set()
    for thread in threads:
        thread.join(5)
    assert budget.mostly_idle()


def test_a_budget_is_not_idle_while_many_pages_of_results_are_in_hand():
    """A full sync short of CPU holds few slots while its threads turn their pages into records: busy, not idle."""
    budget = InFlightBudget(8)
    with ExitStack() as pages:
        for _ in range(IDLE_PAGES_IN_HAND):  # a page of each walk of an incremental sync
            pages.enter_context(budget.page_in_hand())
        assert budget.mostly_idle()
        pages.enter_context(budget.page_in_hand())
        assert budget.pages_in_hand == IDLE_PAGES_IN_HAND + 1 and not budget.mostly_idle()
    assert budget.pages_in_hand == 0 and budget.mostly_idle()


def test_a_page_leaves_the_count_when_its_records_fail():
    budget = InFlightBudget(8)
    with pytest.raises(RuntimeError):
        with budget.page_in_hand():
            raise RuntimeError("the page could not be read")
    assert budget.pages_in_hand == 0
