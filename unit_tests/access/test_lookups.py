"""access/lookups.py: failures kept, page sizes learned, ids fetched once across threads (the pool: test_lookup_pool.py)."""

import threading
import time

import pytest

from confluence_emulator import Emulator
from source_confluence.access import lookups
from source_confluence.access.rule import AccessUnknown
from unit_tests.access.emulated import build_transformation, emulator_config, raw_contents
from unit_tests.conftest import eventually


def test_an_ancestors_look_up_that_raises_is_kept_as_unknown_and_never_waited_for_again():
    class Failing:
        calls = 0

        def send_request(self, **kwargs):
            Failing.calls += 1
            raise RuntimeError("the error handler gave up")

    lookup = lookups.AccessLookup(Failing(), None, False, lookups.AccessCache())
    for _ in range(2):  # the second call must neither hang on the first's pending ids nor ask again
        with pytest.raises(AccessUnknown, match="RuntimeError"):
            lookup.restrictions(["11", "12"])
    assert Failing.calls == 1


def test_a_page_size_refused_with_504_is_not_asked_again_in_the_same_sync():
    # Data Center behind a gateway that times out on pages over 40 items: the error handler halves
    # the page (200, 100, 50, 25), and the next look-up of the same kind starts at 25.
    with Emulator(profile="data_center", seed=21, pages=120, time_zone="UTC", faults={"gateway_timeout_over_limit": 40}) as emulator:
        config = emulator_config(emulator)
        lookup = build_transformation(config)._lookup
        ids = sorted({c.parent_id for c in emulator.site.content.values() if c.type == "page" and c.parent_id})
        assert len(ids) > 2
        lookup.restrictions(ids[:1])
        timeouts = emulator.admin.stats()["faults"]["gateway_timeout"]
        assert timeouts == 3
        lookup.restrictions(ids[1:])
        assert emulator.admin.stats()["faults"]["gateway_timeout"] == timeouts
        assert all("limit=25" in r["query"] for r in emulator.admin.requests() if r["path"].endswith("/content/search") and r["status"] == 200)


def test_threads_asking_for_the_same_ancestors_fetch_them_once(emu):
    config = emulator_config(emu)
    raws = [r for r in raw_contents(emu, config) if r["type"] == "page" and r["ancestors"]]
    ids = sorted({a["id"] for r in raws for a in r["ancestors"]})[: lookups.BATCH_SIZE]
    lookup = build_transformation(config)._lookup
    emu.admin.reset_requests()
    barrier, errors = threading.Barrier(6), []

    def work():
        barrier.wait()
        try:
            lookup.restrictions(ids)
        except AccessUnknown:
            pass
        except Exception as error:  # pragma: no cover
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert emu.admin.stats()["by_route"].get("v1.content_search", 0) == 1
    assert all(i in lookup.cache.restrictions for i in ids)


class _HeldFirst:
    """The wrapped requester, its first request held until ``release`` is set."""

    def __init__(self, requester):
        self.requester, self.release, self.first_sent, self.calls = requester, threading.Event(), threading.Event(), 0

    def send_request(self, **kwargs):
        self.calls += 1
        if self.calls == 1:
            self.first_sent.set()
            self.release.wait(10)
        return self.requester.send_request(**kwargs)


def _ancestor_ids(emu, config):
    raws = [r for r in raw_contents(emu, config) if r["type"] == "page" and r["ancestors"]]
    return sorted({a["id"] for r in raws for a in r["ancestors"]})


def test_ids_asked_while_a_look_up_is_in_flight_share_the_next_request(emu):
    config = emulator_config(emu)
    ids = _ancestor_ids(emu, config)
    assert len(ids) >= 6
    lookup = build_transformation(config)._lookup
    lookup.senders = 1  # what num_workers below 8 gives; the default 8 has two
    held = lookup.requester = _HeldFirst(lookup.requester)
    emu.admin.reset_requests()
    first = threading.Thread(target=lookup.restrictions, args=(ids[:2],))
    first.start()
    assert held.first_sent.wait(10)
    # Four more pages of results want other ancestors while the first look-up is out.
    others = [threading.Thread(target=lookup.restrictions, args=(ids[2 + n : 3 + n],)) for n in range(4)]
    for thread in others:
        thread.start()
    time.sleep(0.2)  # all four queued behind the one sender
    held.release.set()
    for thread in [first] + others:
        thread.join(10)
    searches = [r for r in emu.admin.requests() if r["path"].endswith("/content/search")]
    assert len(searches) == 2  # one for the first two ids, one for the four that gathered meanwhile
    assert all(i in lookup.cache.restrictions for i in ids[:6])


def test_a_second_look_up_waits_for_the_first_unless_enough_ids_are_queued(emu):
    config = emulator_config(emu)
    ids = _ancestor_ids(emu, config)
    assert len(ids) >= 4
    lookup = build_transformation(config)._lookup
    assert lookup.senders == 2  # the default num_workers (8) gives two senders
    held = lookup.requester = _HeldFirst(lookup.requester)
    first = threading.Thread(target=lookup.restrictions, args=(ids[:1],))
    first.start()
    assert held.first_sent.wait(10)
    # One id, with a sender free: it waits for the look-up in flight instead of a request of its own.
    few = threading.Thread(target=lookup.restrictions, args=(ids[1:2],))
    few.start()
    time.sleep(0.3)
    assert held.calls == 1
    held.release.set()
    for thread in (first, few):
        thread.join(10)
    assert held.calls == 2 and ids[1] in lookup.cache.restrictions

    # With a request's worth queued, the second sender goes while the first is still out.
    lookup.cache.restrictions.clear()
    held.calls, held.release, held.first_sent = 0, threading.Event(), threading.Event()
    first = threading.Thread(target=lookup.restrictions, args=(ids[2:3],))
    first.start()
    assert held.first_sent.wait(10)
    lookup.queue([str(9_000_000 + n) for n in range(int(lookups.BATCH_SIZE * lookups.SECOND_SENDER_FILL))])  # a page read ahead named these
    many = threading.Thread(target=lookup.restrictions, args=(ids[3:4],))
    many.start()
    assert eventually(lambda: held.calls == 2)
    assert not held.release.is_set()
    many.join(10)
    assert ids[3] in lookup.cache.restrictions
    held.release.set()
    first.join(10)


def test_an_id_a_walk_lists_while_it_waits_is_not_asked(emu):
    config = emulator_config(emu)
    ids = _ancestor_ids(emu, config)
    lookup = build_transformation(config)._lookup
    lookup.senders = 1
    held = lookup.requester = _HeldFirst(lookup.requester)
    emu.admin.reset_requests()
    first = threading.Thread(target=lookup.restrictions, args=(ids[:1],))
    first.start()
    assert held.first_sent.wait(10)
    answers = []
    second = threading.Thread(target=lambda: answers.append(lookup.restrictions(ids[1:3])))
    second.start()
    time.sleep(0.1)
    with lookup.cache.lock:  # what prefetch_access stores when a walk lists ids[1] and ids[2]
        lookup.cache.restrictions[ids[1]] = None
        lookup.cache.restrictions[ids[2]] = None
    held.release.set()
    first.join(10)
    second.join(10)
    assert answers == [[None, None]]
    queries = [r["query"] for r in emu.admin.requests() if r["path"].endswith("/content/search")]
    assert len(queries) == 1 and ids[1] not in queries[0] and ids[2] not in queries[0]


def test_queued_ids_ride_in_the_next_batch_and_are_not_asked_again(emu):
    config = emulator_config(emu)
    ids = _ancestor_ids(emu, config)
    assert len(ids) >= 5
    lookup = build_transformation(config)._lookup
    emu.admin.reset_requests()
    lookup.queue(ids[2:5])  # a page read ahead listed these; nobody waits for them yet
    assert emu.admin.requests() == []  # queueing sends nothing
    lookup.restrictions(ids[:2])
    lookup.restrictions(ids[2:5])  # that page's records, later: answered already
    queries = [r["query"] for r in emu.admin.requests() if r["path"].endswith("/content/search")]
    assert len(queries) == 1 and all(i in queries[0] for i in ids[:5])
