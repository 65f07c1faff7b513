"""per_sync: one cache per sync, kept while the sync uses it, even with other syncs in the same process."""

from source_confluence.sync.cache import per_sync

NAMES = ("lookup_pool", "effective_read_access", "user_names", "offset_walks")


def test_one_cache_per_config_and_name():
    first, second = {"base_url": "a"}, {"base_url": "a"}
    cache = per_sync(first, "things", dict)
    assert per_sync(first, "things", dict) is cache
    assert per_sync(second, "things", dict) is not cache
    assert per_sync(first, "other", dict) is not cache


def test_a_cache_in_use_outlives_any_number_of_syncs_that_come_and_go():
    running = {"base_url": "running"}
    cache = per_sync(running, "things", dict)
    for n in range(200):
        for name in NAMES:
            per_sync({"base_url": f"finished {n}"}, name, dict)
        assert per_sync(running, "things", dict) is cache


def test_syncs_read_side_by_side_keep_their_caches():
    """The fault tests read four sites at once in one process, each sync with its four caches."""
    configs = [{"base_url": f"site {n}"} for n in range(8)]
    caches = {(n, name): per_sync(config, name, dict) for n, config in enumerate(configs) for name in NAMES}
    for _ in range(3):
        for n, config in enumerate(configs):
            for name in NAMES:
                assert per_sync(config, name, dict) is caches[(n, name)]
