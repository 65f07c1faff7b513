"""bench/request_log.py: the emulator's request log grouped by what each request was for."""

from bench.request_log import kind_of, render, summarise

WALK = {"path": "/wiki/rest/api/content/search", "query": "cql=type+IN+%28page%29+ORDER+BY+lastmodified+ASC&limit=250"}
NEXT = {"path": "/wiki/rest/api/content/search", "query": "next=true&cursor=_sa_x&cql=type+IN+%28page%29&limit=50"}
ANCESTORS = {"path": "/wiki/rest/api/content/search", "query": "cql=id+IN+%2811%2C12%29+AND+status+IN+%28%22current%22%29"}
COUNT = {"path": "/wiki/rest/api/search", "query": "cql=type+IN+%28page%29&limit=1"}
OTHER = {"path": "/wiki/api/v2/spaces", "query": "limit=250"}
PROBE = {"path": "/wiki/rest/api/content/search", "query": "cql=type+IN+%28folder%2C+whiteboard%29&limit=1"}


def test_each_request_is_told_by_what_it_was_for():
    kinds = [kind_of(e) for e in (WALK, NEXT, ANCESTORS, COUNT, OTHER, PROBE)]
    assert kinds == ["walk", "walk", "ancestors", "count", "other", "other"]


def test_held_seconds_and_requests_in_flight_on_average():
    log = [
        dict(OTHER, time=100.0, elapsed_ms=100),  # 0.0-0.1
        dict(COUNT, time=100.1, elapsed_ms=100),  # 0.1-0.2
        dict(WALK, time=100.2, elapsed_ms=300),  # 0.2-0.5
        dict(NEXT, time=100.3, elapsed_ms=500),  # 0.3-0.8, alongside the first walk page
        dict(ANCESTORS, time=100.4, elapsed_ms=200),  # 0.4-0.6
        {"path": "/no/time"},  # not a request the emulator answered: left out
    ]
    summary = summarise(log)
    walk = summary["kinds"]["walk"]
    assert walk["requests"] == 2 and abs(walk["held_s"] - 0.8) < 1e-9
    assert abs(walk["first_s"] - 0.2) < 1e-9 and abs(walk["last_s"] - 0.8) < 1e-9
    assert abs(summary["span_s"] - 0.8) < 1e-9
    assert abs(summary["in_flight"] - 1.2 / 0.8) < 1e-9  # 1.2 s held over 0.8 s
    table = render(summary)
    assert "| 2 | 0.8 |" in table and "1.5 requests in flight on average" in table


def test_an_empty_log_gives_an_empty_summary():
    assert summarise([]) == {"kinds": {}, "span_s": 0.0, "held_s": 0.0, "in_flight": 0.0}
