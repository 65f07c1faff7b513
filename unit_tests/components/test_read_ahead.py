"""read_ahead.py: a cursor-paged walk's next page is asked for as soon as its link is known, and handed over once;
further pages while the sync's budget is mostly idle."""

import threading
import time
from contextlib import contextmanager, nullcontext

import pytest

from airbyte_cdk.sources.types import StreamSlice

from source_confluence.access.lookups import AccessLookup, cache_for
from source_confluence.components.read_ahead import MOST_PAGES_AHEAD, ReadAheadRequester
from source_confluence.sync.in_flight import in_flight_budget
from source_confluence.sync.context import new_sync_id
from unit_tests.components.fake_requester import FakeRequester
from unit_tests.conftest import eventually

WINDOW = StreamSlice(partition={}, cursor_slice={"start_time": "2026-01-01T00:00:00Z", "end_time": "2026-02-01T00:00:00Z"})


@contextmanager
def busy_budget(config):
    """Half the sync's budget of requests in flight held by other requests while the block runs (a full sync)."""
    budget = in_flight_budget(config)
    release, held = threading.Event(), threading.Barrier(budget.slots // 2 + 1)

    def hold_a_slot():
        with budget.slot():
            held.wait()
            release.wait(10)

    holders = [threading.Thread(target=hold_a_slot) for _ in range(budget.slots // 2)]
    for holder in holders:
        holder.start()
    held.wait()
    try:
        yield
    finally:
        release.set()
        for holder in holders:
            holder.join()


def page(ids, next_link=None):
    body = {"results": [{"id": i} for i in ids], "_links": {"base": "https://acme.test/wiki"}}
    if next_link:
        body["_links"]["next"] = next_link
    return body


def read_ahead(answers, num_workers=8):
    inner = FakeRequester(answers)
    return ReadAheadRequester(requester=inner, config={"num_workers": num_workers, "_sync_id": new_sync_id()}, parameters={}), inner


def wait_for_calls(inner, count, seconds=5.0):
    """The calls the fake has seen once it has seen ``count`` (or ``seconds`` passed)."""
    eventually(lambda: len(inner.calls) >= count, seconds)
    return len(inner.calls)


def test_the_next_page_is_asked_for_before_the_walk_asks_and_handed_over_without_a_second_request():
    requester, inner = read_ahead({
        "content/search": page(["1", "2"], "/wiki/rest/api/content/search?cql=type%3Dpage&cursor=abc&limit=2"),
        "content/search?cql=type%3Dpage&cursor=abc&limit=2": page(["3"]),
    })
    first = requester.send_request(path="content/search", stream_slice=WINDOW)
    assert [r["id"] for r in first.json()["results"]] == ["1", "2"]
    # Nobody asked for page two yet: the requester did, in the background.
    assert wait_for_calls(inner, 2) == 2
    assert inner.calls[1]["path"] == "content/search?cql=type%3Dpage&cursor=abc&limit=2"
    second = requester.send_request(path="content/search?cql=type%3Dpage&cursor=abc&limit=2", stream_slice=WINDOW,
                                    next_page_token={"next_page_token": "content/search?cql=type%3Dpage&cursor=abc&limit=2"})
    assert [r["id"] for r in second.json()["results"]] == ["3"]
    assert len(inner.calls) == 2  # handed over, not asked again; the last page has no link: nothing more


def test_an_offset_link_is_not_read_ahead_because_the_paginator_recomputes_it():
    requester, inner = read_ahead({"content/search": page(["1", "2"], "/wiki/rest/api/content/search?cql=x&start=2&limit=2")})
    requester.send_request(path="content/search", stream_slice=WINDOW)
    assert wait_for_calls(inner, 2, seconds=0.3) == 1


def test_a_walk_that_asks_for_another_path_gets_a_fresh_answer():
    requester, inner = read_ahead({
        "content/search": page(["1"], "/wiki/rest/api/content/search?cursor=abc"),
        "content/search?cursor=abc": page(["2"]),
        "content/search?cursor=other": page(["9"]),
    })
    requester.send_request(path="content/search", stream_slice=WINDOW)
    wait_for_calls(inner, 2)
    other = requester.send_request(path="content/search?cursor=other", stream_slice=WINDOW)
    assert [r["id"] for r in other.json()["results"]] == ["9"]
    assert [c["path"] for c in inner.calls][-1] == "content/search?cursor=other"


def test_walks_of_two_windows_each_get_their_own_page():
    other_window = StreamSlice(partition={}, cursor_slice={"start_time": "2026-02-01T00:00:00Z", "end_time": "2026-03-01T00:00:00Z"})
    requester, inner = read_ahead({
        "a": page(["1"], "/wiki/rest/api/a?cursor=1"),
        "a?cursor=1": page(["2"]),
        "b": page(["7"], "/wiki/rest/api/b?cursor=1"),
        "b?cursor=1": page(["8"]),
    })
    requester.send_request(path="a", stream_slice=WINDOW)
    requester.send_request(path="b", stream_slice=other_window)
    wait_for_calls(inner, 4)
    assert requester.send_request(path="b?cursor=1", stream_slice=other_window).json()["results"] == [{"id": "8"}]
    assert requester.send_request(path="a?cursor=1", stream_slice=WINDOW).json()["results"] == [{"id": "2"}]
    assert len(inner.calls) == 4


def test_a_page_read_ahead_that_failed_is_asked_again_where_its_error_belongs_to_the_walk():
    attempts = []

    def failing(params):
        attempts.append(1)
        raise RuntimeError("the error handler gave up")

    requester, inner = read_ahead({"content/search": page(["1"], "/wiki/rest/api/content/search?cursor=abc"),
                                   "content/search?cursor=abc": failing})
    requester.send_request(path="content/search", stream_slice=WINDOW)
    wait_for_calls(inner, 2)
    with pytest.raises(RuntimeError, match="gave up"):
        requester.send_request(path="content/search?cursor=abc", stream_slice=WINDOW)
    assert len(attempts) == 2


def listed_page(content_id, ancestor_ids, next_link=None):
    """A page of a content walk with one page record, its own read restriction and its ancestors expanded."""
    body = page([], next_link)
    body["results"] = [{
        "id": content_id, "type": "page", "ancestors": [{"id": a} for a in ancestor_ids],
        "restrictions": {"read": {"restrictions": {"user": {"results": []}, "group": {"results": []}}}},
    }]
    return body


def walk_with_access(queue_ancestors, busy=True, lookups=None):
    inner = FakeRequester({
        "content/search": listed_page("10", ["1"], "/wiki/rest/api/content/search?cursor=abc"),
        "content/search?cursor=abc": listed_page("20", ["1", "2", "10"]) | {"results": [
            listed_page("20", ["1", "2", "10"])["results"][0], listed_page("21", ["1", "2", "10", "20"])["results"][0]]},
    })
    config = {"num_workers": 8, "_sync_id": new_sync_id()}
    cache = cache_for(config)
    cache.lookup = AccessLookup(lookups or FakeRequester({}), None, False, cache)  # what EffectiveReadAccess registers
    parameters = {"queue_ancestors": True} if queue_ancestors else {}
    requester = ReadAheadRequester(requester=inner, config=config, parameters=parameters)
    with busy_budget(config) if busy else nullcontext():
        requester.send_request(path="content/search", stream_slice=WINDOW)
        wait_for_calls(inner, 2)
        if busy and queue_ancestors:
            wait_until_queued(cache)  # before the budget is idle again
    return cache


def test_under_load_a_page_read_ahead_queues_its_ancestors_before_its_records_are_transformed():
    cache = walk_with_access(queue_ancestors=True, busy=True)
    # Page two, read ahead, lists 20 under 1, 2 and 10, and 21 under 20. Page one (the walk's own request)
    # queued nothing: its records' look-ups are theirs to make. 20 is listed: its restriction comes with it.
    assert sorted(cache.queued) == ["1", "10", "2"]
    assert not cache.in_flight and not cache.restrictions  # queued, not asked: the records' look-ups send them


def test_while_the_budget_is_idle_a_page_read_ahead_has_its_ancestors_asked_for_at_once():
    lookups = FakeRequester({"content/search": {"results": [
        {"id": i, "restrictions": {"read": {"restrictions": {"user": {"results": []}, "group": {"results": []}}}}}
        for i in ("1", "2", "10")]}})
    cache = walk_with_access(queue_ancestors=True, busy=False, lookups=lookups)
    # No record asked: the page read ahead did, in one look-up for the three ancestors it names.
    assert eventually(lambda: sorted(cache.restrictions) == ["1", "10", "2"])
    assert len(lookups.calls) == 1 and "id IN (1,10,2)" in lookups.calls[0]["cql"]
    assert not cache.queued


def test_a_walk_without_queue_ancestors_queues_nothing():
    cache = walk_with_access(queue_ancestors=False)
    time.sleep(0.2)
    assert not cache.queued


def wait_until_queued(cache, seconds=5.0):
    eventually(lambda: bool(cache.queued), seconds)
    return cache


def long_walk(pages):
    """Pages 1..pages of one walk, each linking to the next by cursor."""
    paths = ["content/search"] + ["content/search?cursor=%d" % n for n in range(2, pages + 1)]
    return paths, {path: page([str(n)], "/wiki/rest/api/" + paths[n] if n < pages else None) for n, path in enumerate(paths, start=1)}


def test_while_the_budget_is_idle_a_walk_reads_several_pages_ahead_and_keeps_that_many_ahead():
    paths, answers = long_walk(MOST_PAGES_AHEAD + 4)
    requester, inner = read_ahead(answers)
    requester.send_request(path=paths[0], stream_slice=WINDOW)
    assert wait_for_calls(inner, 1 + MOST_PAGES_AHEAD) == 1 + MOST_PAGES_AHEAD > 2  # more than the next page
    time.sleep(0.2)
    assert len(inner.calls) == 1 + MOST_PAGES_AHEAD  # and no further
    for number, path in enumerate(paths[1:], start=2):
        answer = requester.send_request(path=path, stream_slice=WINDOW, next_page_token={"next_page_token": path})
        assert answer.json()["results"] == [{"id": str(number)}]
        # The walk took a page: one more is read ahead, until the last.
        assert wait_for_calls(inner, min(len(paths), number + MOST_PAGES_AHEAD)) == min(len(paths), number + MOST_PAGES_AHEAD)
    assert [call["path"] for call in inner.calls] == paths  # each page asked for once, in order


def test_while_the_budget_is_busy_a_walk_stays_one_page_ahead():
    paths, answers = long_walk(5)
    requester, inner = read_ahead(answers)
    with busy_budget(requester.config):
        requester.send_request(path=paths[0], stream_slice=WINDOW)
        assert wait_for_calls(inner, 3, seconds=0.5) == 2
