"""access/lookups.py: failures kept, page sizes learned, ids fetched once across threads (the pool: test_lookup_pool.py)."""

import threading

import pytest

from confluence_emulator import Emulator
from source_confluence.components.access import lookups
from source_confluence.components.access.rule import AccessUnknown
from unit_tests.components.access.emulated import build_transformation, emulator_config, raw_contents


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
