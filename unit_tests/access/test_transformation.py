"""access/transformation.py: EffectiveReadAccess and the prefetch against the emulator, equal to its truth."""

import copy
import logging
import threading

from airbyte_cdk.sources.declarative.requesters.http_requester import HttpRequester

from confluence_emulator import Emulator
from source_confluence.access import lookups
from source_confluence.access.rule import ANCESTRY_UNKNOWN
from source_confluence.access.transformation import EffectiveReadAccess, prefetch_access
from source_confluence.sync.context import SYNC_ID_KEY, new_sync_id
from unit_tests.access.emulated import build_transformation, emulator_config, raw_contents, record_from, truth


def test_factory_builds_nested_http_requesters(emu):
    config = emulator_config(emu)
    transformation = build_transformation(config)
    assert isinstance(transformation, EffectiveReadAccess)
    assert isinstance(transformation.requester, HttpRequester)
    assert isinstance(transformation.v2_requester, HttpRequester)
    assert transformation.requester.name == "effective_read_access"


def test_every_record_matches_the_truth_with_few_requests(emu):
    config = emulator_config(emu)
    data_center = config["deployment"] == "data_center"
    raws = raw_contents(emu, config)
    emu.admin.reset_requests()
    transformation = build_transformation(config)
    restricted_ancestor = 0
    for raw in raws:
        record = record_from(raw)
        transformation.transform(record)
        assert record["effective_read_access"] == truth(emu, record["id"], data_center), record["id"]
        if any(emu.site.content[a["id"]].read_users is not None for a in record["ancestors"]):
            restricted_ancestor += 1
    assert restricted_ancestor > 0, "the site should have pages under a restricted ancestor"
    routes = emu.admin.stats()["by_route"]
    spaces = len({r["space"]["key"] for r in raws})
    groups = len(emu.site.groups)
    assert sum(routes.values()) <= 2 * spaces + groups + 1 + LOOKUP_BUDGET * spaces, routes
    assert sum(routes.values()) < len(raws) / 2, routes


# Ancestors are looked up in batches, each id once per sync; in tree order they are all cached already.
LOOKUP_BUDGET = 2


def test_the_cache_is_shared_between_transformations_of_one_sync(emu):
    config = emulator_config(emu)
    raws = raw_contents(emu, config)
    first, second = build_transformation(config), build_transformation(config)
    pages = [r for r in raws if r["type"] == "page"]
    blog_posts = [r for r in raws if r["type"] == "blogpost"]
    emu.admin.reset_requests()
    for raw in pages:
        first.transform(record_from(raw))
    before = emu.admin.stats()["total"]
    for raw in blog_posts:
        second.transform(record_from(raw))
    # blog posts live in the spaces already seen: their access needs no request at all
    seen = {r["space"]["key"] for r in pages}
    if all(r["space"]["key"] in seen for r in blog_posts):
        assert emu.admin.stats()["total"] == before


def test_threads_share_one_lookup_per_space_and_group(emu):
    config = emulator_config(emu)
    raws = raw_contents(emu, config)
    transformation = build_transformation(config)
    emu.admin.reset_requests()
    errors = []

    def work(chunk):
        try:
            for raw in chunk:
                transformation.transform(record_from(raw))
        except Exception as error:  # pragma: no cover
            errors.append(error)

    threads = [threading.Thread(target=work, args=(raws[i::6],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    routes = emu.admin.stats()["by_route"]
    permissions = routes.get("v2.space_permissions", 0) + routes.get("v1.space_permissions", 0)
    assert permissions == len({r["space"]["key"] for r in raws})
    members = routes.get("v1.group_members_by_id", 0) + routes.get("v1.group_member", 0)
    assert members <= len(emu.site.groups)


def test_ancestors_of_many_spaces_share_one_batched_lookup(emu):
    """A page of results from a site-wide window mixes spaces: their missing ancestors cost one request
    per hundred ids, not one per space, and records read afterwards need no look-up at all."""
    config = emulator_config(emu)
    data_center = config["deployment"] == "data_center"
    raws = [r for r in raw_contents(emu, config) if r["type"] == "page"]
    children = [r for r in raws if r["ancestors"]][::-1][:40]  # deepest last-read first: ancestors not seen yet
    wanted = {a["id"] for r in children for a in r["ancestors"]} - {r["id"] for r in children}
    assert len({r["space"]["key"] for r in children}) > 1 and 0 < len(wanted) <= lookups.BATCH_SIZE
    transformation = build_transformation(config)
    emu.admin.reset_requests()
    prefetch_access(config, children)
    searches = emu.admin.stats()["by_route"].get("v1.content_search", 0)
    assert searches == 1
    asked_ahead = emu.admin.stats()["total"]
    for raw in children:
        record = record_from(raw)
        transformation.transform(record)
        assert record["effective_read_access"] == truth(emu, record["id"], data_center), record["id"]
    # Spaces' permissions and groups' members were asked ahead too: the records need no request at all.
    assert emu.admin.stats()["total"] == asked_ahead


class _KnownIds(dict):
    """The restrictions a sync knows, which refuse to be walked: a page's look-ups may only ask about its own ids."""

    def __iter__(self):
        raise AssertionError("walked every id the sync knows")

    def keys(self):
        raise AssertionError("walked every id the sync knows")


def test_a_page_of_results_looks_up_its_own_ids_not_every_id_the_sync_knows(emu):
    """Each page of results finds which of its ancestors are still unknown by asking about those ids only:
    walking the sync's whole cache for each page grows with the square of the site (100,000 pages: 50,000
    ancestors known, 2,000 pages of results), under the lock every look-up shares."""
    config = emulator_config(emu)
    data_center = config["deployment"] == "data_center"
    raws = [r for r in raw_contents(emu, config) if r["type"] == "page"]
    children = [r for r in raws if r["ancestors"]][::-1][:40]
    transformation = build_transformation(config)
    cache = lookups.cache_for(config)
    cache.restrictions = _KnownIds({"known-%d" % i: None for i in range(1000)})
    prefetch_access(config, children)
    for raw in children:
        record = record_from(raw)
        transformation.transform(record)
        assert record["effective_read_access"] == truth(emu, record["id"], data_center), record["id"]


def test_the_look_ups_of_a_page_are_asked_at_the_same_time(emu):
    """Ancestors and each new space's permissions are separate round trips; one after the other they
    made a small sync mostly waiting. The first two requests must be in flight together to pass."""
    config = emulator_config(emu)
    raws = [r for r in raw_contents(emu, config) if r["type"] == "page"]
    children = [r for r in raws if r["ancestors"]][::-1][:40]
    lookup = build_transformation(config)._lookup
    together, calls, lock = threading.Barrier(2, timeout=10), [], threading.Lock()

    def wrap(send):
        def send_request(**kwargs):
            with lock:
                calls.append(kwargs.get("path"))
                first_two = len(calls) <= 2
            if first_two:
                together.wait()  # raises BrokenBarrierError if the other never comes
            return send(**kwargs)
        return send_request

    for requester in {id(r): r for r in (lookup.requester, lookup.v2_requester, lookup.space_permissions_requester) if r}.values():
        requester.send_request = wrap(requester.send_request)
    prefetch_access(config, children)
    assert len(calls) >= 2 and not together.broken, calls


def test_ancestors_of_a_page_that_fill_several_requests_are_asked_side_by_side(emu, monkeypatch):
    """A page of results deep in a tree names more ancestors than one request carries: its batches go at
    the same time (up to the look-up's senders), not one after the other. The first two searches must be in
    flight together to pass, and each id is still asked once."""
    from source_confluence.access import transformation as transformation_module

    monkeypatch.setattr(lookups, "BATCH_SIZE", 4)
    monkeypatch.setattr(transformation_module, "BATCH_SIZE", 4)
    # No queue ever fills a second sender's request: the batches go side by side because they are one page's.
    monkeypatch.setattr(lookups, "SECOND_SENDER_FILL", 1000)
    config = emulator_config(emu)
    data_center = config["deployment"] == "data_center"
    raws = [r for r in raw_contents(emu, config) if r["type"] == "page"]
    children = [r for r in raws if r["ancestors"]][::-1][:40]
    wanted = {a["id"] for r in children for a in r["ancestors"]} - {r["id"] for r in children}
    assert len(wanted) > 2 * 4
    transformation = build_transformation(config)
    lookup = transformation._lookup
    assert lookup.senders >= 2
    together, searched, lock = threading.Barrier(2, timeout=10), [], threading.Lock()
    send = lookup.requester.send_request

    def send_request(**kwargs):
        if kwargs.get("path") == "content/search":
            with lock:
                searched.append(kwargs["request_params"]["cql"])
                first_two = len(searched) <= 2
            if first_two:
                together.wait()  # raises BrokenBarrierError if the second batch waits for the first
        return send(**kwargs)

    lookup.requester.send_request = send_request
    prefetch_access(config, children)
    assert not together.broken
    assert len(searched) == -(-len(wanted) // 4)
    for raw in children:
        record = record_from(raw)
        transformation.transform(record)
        assert record["effective_read_access"] == truth(emu, record["id"], data_center), record["id"]


def test_space_permissions_the_account_cannot_read(emu, caplog):
    """Cloud: unreadable permissions (here a space id that does not exist) give unknown and one warning a
    space. Data Center: the reader gets 403 on /permissions (admins only) and the space's permissions
    expand is asked instead, which gives the true access."""
    info = emu.info
    config = emulator_config(emu)
    data_center = config["deployment"] == "data_center"
    if data_center:
        config["credentials"] = dict(info["reader_credentials"]["personal_access_token"])
    else:
        config["credentials"] = dict(info["reader_credentials"]["api_token"])
    raws = [r for r in raw_contents(emu, emulator_config(emu)) if emu.site.can_view(emu.site.user_by_any("reader"), emu.site.content[r["id"]])]
    transformation = build_transformation(config)
    caplog.set_level(logging.WARNING, logger="airbyte")
    results = []
    for raw in raws[:20]:
        record = record_from(raw)
        if not data_center:
            record["spaceId"] = "999999999"
        transformation.transform(record)
        results.append((record["id"], record["effective_read_access"]))
    assert results
    if data_center:
        assert all(access == truth(emu, content_id, True) for content_id, access in results)
        return
    assert all(a["unknown"] is True and a["users"] is None and a["groups"] is None for _, a in results)
    warnings = [m for m in caplog.messages if "could not be computed" in m]
    assert len(warnings) == len({r["space"]["key"] for r in raws[:20]})


def test_data_center_500_on_space_permissions_is_not_retried():
    """DC 9.1+ answers a non-admin's space permissions with 500 (CONFSERVER-99908): one request a space,
    then the space's permissions expand, never the error handler's minutes of retries."""
    with Emulator(profile="data_center", seed=21, pages=60, time_zone="UTC", faults={"space_permissions_denied_status": 500}) as emu:
        config = emulator_config(emu)
        config["credentials"] = dict(emu.info["reader_credentials"]["personal_access_token"])
        reader = emu.site.user_by_any("reader")
        raws = [r for r in raw_contents(emu, emulator_config(emu)) if emu.site.can_view(reader, emu.site.content[r["id"]])][:20]
        spaces = {r["space"]["key"] for r in raws}
        transformation = build_transformation(config)
        emu.admin.reset_requests()
        for raw in raws:
            record = record_from(raw)
            transformation.transform(record)
            assert record["effective_read_access"] == truth(emu, record["id"], True)
        stats = emu.admin.stats()
        assert stats["by_route"].get("v1.space_permissions") == len(spaces)
        assert stats["by_status"].get("500", stats["by_status"].get(500)) == len(spaces)


def test_missing_read_restriction_is_unknown(emu):
    config = emulator_config(emu)
    transformation = build_transformation(config)
    record = record_from(raw_contents(emu, config)[0])
    del record["readRestriction"]
    transformation.transform(record)
    assert record["effective_read_access"]["unknown"] is True


def test_without_a_requester_everything_is_unknown():
    transformation = EffectiveReadAccess(config={}, parameters={})
    record = {"id": "1", "spaceKey": "ENG", "readRestriction": None, "ancestors": []}
    transformation.transform(record)
    assert record["effective_read_access"]["unknown"] is True


def test_restricted_ancestor_changes_are_seen_by_a_new_sync(emu):
    """A new sync (a config with a sync id of its own, as NormaliseConfig gives each source) gets a new cache:
    restrictions set in between are honoured."""
    config = emulator_config(emu)
    site = emu.site
    page = next(c for c in site.content.values() if c.type == "page" and c.status == "current" and len(site.ancestors(c)) >= 2
                and all(a.read_users is None and a.read_groups is None for a in site.ancestors(c) + [c]))
    grandparent = site.ancestors(page)[0]
    raw = next(r for r in raw_contents(emu, config) if r["id"] == page.id)
    build_transformation(config).transform(record_from(raw))
    emu.admin.set_restrictions(grandparent.id, read={"users": ["admin"], "groups": ["hr"]})
    try:
        record = record_from(raw)
        build_transformation({**copy.deepcopy(config), SYNC_ID_KEY: new_sync_id()}).transform(record)
        data_center = config["deployment"] == "data_center"
        assert record["effective_read_access"] == truth(emu, page.id, data_center)
        assert record["effective_read_access"]["restricted"] is True
    finally:
        emu.admin.set_restrictions(grandparent.id, read={"users": [], "groups": []})


def test_an_unknown_ancestry_gives_unknown_access_and_leaves_no_marker():
    record = {"id": "3", "spaceKey": "ENG", "readRestriction": None, ANCESTRY_UNKNOWN: "its place in the content tree could not be read"}
    EffectiveReadAccess(config={}, parameters={}).transform(record)
    assert record["effective_read_access"]["unknown"] is True and record["effective_read_access"]["users"] is None
    assert ANCESTRY_UNKNOWN not in record
