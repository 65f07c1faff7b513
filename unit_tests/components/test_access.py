"""effective_read_access: the pure intersection, the parsers, and the transformation against the emulator."""

import copy
import logging
import threading
from pathlib import Path

import pytest
import yaml
from airbyte_cdk.sources.declarative.models.declarative_component_schema import CustomTransformation as CustomTransformationModel
from airbyte_cdk.sources.declarative.parsers.manifest_component_transformer import ManifestComponentTransformer
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.sources.declarative.requesters.http_requester import HttpRequester

from confluence_emulator import Emulator
from source_confluence.components import access
from source_confluence.components.endpoints import api_roots
from source_confluence.components.access import (
    AccessUnknown,
    EffectiveReadAccess,
    Principals,
    compute_effective_access,
    read_restriction_from_v1,
    restriction_principals,
    space_view_from_dc,
    space_view_from_v1_expand,
    space_view_from_v2,
)
from source_confluence.components.records import normalise_content
from source_confluence.components.sync_context import SYNC_ID_KEY, new_sync_id

MANIFEST = Path(__file__).resolve().parents[2] / "source_confluence" / "manifest.yaml"

P = Principals.of
MEMBERS = {
    "users": {"alice", "bob", "carol", "dave"},
    "eng": {"alice", "bob"},
    "hr": {"carol"},
    "admins": {"dave"},
    "empty": set(),
}


def access_of(space, *chain):
    return compute_effective_access(space, list(chain), MEMBERS)


# ------------------------------------------------------------------------------------------ pure logic
class TestCompute:
    def test_unrestricted_page_is_the_space(self):
        result = access_of(P(["erin"], ["eng"]), None, None)
        assert result == {"users": ["alice", "bob", "erin"], "groups": ["eng"], "anonymous": False, "restricted": False,
                          "unknown": False}

    def test_anonymous_space_and_no_restriction(self):
        assert access_of(P([], ["users"], anonymous=True), None)["anonymous"] is True

    def test_any_restriction_removes_anonymous(self):
        result = access_of(P([], ["users"], anonymous=True), P([], ["users"]), None)
        assert result["anonymous"] is False and result["restricted"] is True
        assert result["users"] == ["alice", "bob", "carol", "dave"]

    def test_restriction_on_a_grandparent_only(self):
        # grandparent restricted to hr; parent and page unrestricted: only carol, and no group but hr
        result = access_of(P([], ["users", "hr"]), P([], ["hr"]), None, None)
        assert result["users"] == ["carol"]
        assert result["groups"] == ["hr"]
        assert result["restricted"] is True

    def test_user_named_by_the_page_but_not_allowed_in_the_space(self):
        result = access_of(P([], ["eng"]), P(["carol", "alice"], []))
        assert result["users"] == ["alice"]
        assert result["groups"] == []

    def test_group_allowed_by_the_page_but_not_by_an_ancestor(self):
        result = access_of(P([], ["users"]), P(["dave"], []), P([], ["eng", "admins"]))
        assert result["users"] == ["dave"]
        assert result["groups"] == []

    def test_group_allowed_by_the_page_but_not_by_the_space(self):
        result = access_of(P([], ["eng", "admins"]), P([], ["hr", "admins"]))
        assert result["groups"] == ["admins"]
        assert result["users"] == ["dave"]

    def test_every_level_must_allow(self):
        result = access_of(P([], ["users"]), P([], ["eng", "hr"]), P(["alice", "carol"], []), P([], ["hr"]))
        assert result["users"] == ["carol"]
        assert result["groups"] == []

    def test_user_through_a_group_at_one_level_and_by_name_at_another(self):
        result = access_of(P(["bob"], []), P([], ["eng"]), P(["bob"], []))
        assert result["users"] == ["bob"]

    def test_empty_restriction_lists_do_not_restrict(self):
        assert restriction_principals({"users": [], "groups": []}) is None
        assert restriction_principals(None) is None
        result = access_of(P([], ["eng"], anonymous=True), restriction_principals({"users": [], "groups": []}))
        assert result["restricted"] is False and result["anonymous"] is True

    def test_restriction_to_an_empty_group_lets_nobody_read(self):
        result = access_of(P([], ["users"]), P([], ["empty"]))
        assert result["users"] == [] and result["groups"] == [] and result["restricted"] is True

    def test_unknown_group_members_are_not_guessed(self):
        with pytest.raises(AccessUnknown):
            access_of(P([], ["nobody-knows"]))
        with pytest.raises(AccessUnknown):
            access_of(P([], ["users"]), P([], ["nobody-knows"]))

    def test_unknown_restriction_is_not_unrestricted(self):
        with pytest.raises(AccessUnknown):
            restriction_principals({"users": [], "groups": [], "unknown": True})


def v1_content(read_users=None, read_groups=None, update_users=None, expanded=True):
    restrictions = {"read": {"operation": "read", "restrictions": {}}, "update": {"operation": "update", "restrictions": {}}}
    if expanded:
        restrictions["read"]["restrictions"] = {
            "user": {"results": [{"type": "known", "accountId": u} for u in read_users or []], "size": len(read_users or [])},
            "group": {"results": [{"type": "group", "name": g, "id": "id-" + g} for g in read_groups or []]},
        }
    else:
        restrictions["read"]["restrictions"] = {"_expandable": {"user": "", "group": ""}}
    restrictions["update"]["restrictions"] = {"user": {"results": [{"accountId": u} for u in update_users or []]}, "group": {"results": []}}
    return {"id": "1", "type": "page", "restrictions": restrictions}


class TestParsers:
    def test_read_restriction_users_and_group_names(self):
        assert read_restriction_from_v1(v1_content(["b", "a"], ["eng"])) == {"users": ["a", "b"], "groups": ["eng"]}

    def test_dc_user_key(self):
        raw = v1_content()
        raw["restrictions"]["read"]["restrictions"]["user"]["results"] = [{"type": "known", "username": "jo", "userKey": "k1"}]
        assert read_restriction_from_v1(raw) == {"users": ["k1"], "groups": []}

    def test_no_read_restriction_is_none(self):
        assert read_restriction_from_v1(v1_content()) is None

    def test_edit_only_restriction_does_not_count(self):
        assert read_restriction_from_v1(v1_content(update_users=["alice"])) is None

    def test_not_expanded_is_unknown_not_unrestricted(self):
        assert read_restriction_from_v1(v1_content(expanded=False))["unknown"] is True
        assert read_restriction_from_v1({"id": "1"})["unknown"] is True

    def test_v2_space_permissions(self):
        perms = [
            {"principal": {"type": "group", "id": "g1"}, "operation": {"key": "read", "targetType": "space"}},
            {"principal": {"type": "group", "id": "g2"}, "operation": {"key": "administer", "targetType": "space"}},
            {"principal": {"type": "user", "id": "acc"}, "operation": {"key": "read", "targetType": "space"}},
            {"principal": {"type": "user", "id": "editor"}, "operation": {"key": "create", "targetType": "page"}},
            {"principal": {"type": "anonymous", "id": "anonymous"}, "operation": {"key": "read", "targetType": "space"}},
        ]
        view = space_view_from_v2(perms, {"g1": "eng", "g2": "admins"}.get)
        assert view == P(["acc"], ["eng"], anonymous=True)

    def test_dc_space_permissions(self):
        perms = [
            {"operation": {"targetType": "space", "operationKey": "read"}, "subject": {"type": "group", "identifier": "eng"}},
            {"operation": {"targetType": "space", "operationKey": "administer"}, "subject": {"type": "group", "identifier": "adm"}},
            {"operation": {"targetType": "space", "operationKey": "read"}, "subject": {"type": "user", "userKey": "k1"}},
            {"operation": {"targetType": "page", "operationKey": "create"}, "subject": {"type": "user", "identifier": "k2"}},
        ]
        assert space_view_from_dc(perms) == P(["k1"], ["eng"])

    def test_v1_space_expand(self):
        space = {"permissions": [
            {"operation": {"operation": "read", "targetType": "space"},
             "subjects": {"group": {"results": [{"name": "eng"}]}}},
            {"operation": {"operation": "read", "targetType": "space"},
             "subjects": {"user": {"results": [{"userKey": "k1"}]}}},
            {"operation": {"operation": "export", "targetType": "space"},
             "subjects": {"user": {"results": [{"userKey": "k9"}]}}},
            {"operation": {"operation": "read", "targetType": "space"}, "subjects": {}, "anonymousAccess": True},
        ]}
        assert space_view_from_v1_expand(space) == P(["k1"], ["eng"], anonymous=True)
        with pytest.raises(AccessUnknown):
            space_view_from_v1_expand({"key": "X"})


# ------------------------------------------------------------------------------------------ the transformation
def transformation_component():
    """The CustomTransformation exactly as the manifest declares it on the content streams."""
    manifest = yaml.safe_load(MANIFEST.read_text())
    return next(t for t in manifest["definitions"]["content_stream"]["transformations"] if t["class_name"].endswith("EffectiveReadAccess"))


def build_transformation(config):
    manifest = yaml.safe_load(MANIFEST.read_text())
    manifest["definitions"]["__access"] = transformation_component()
    resolved = ManifestReferenceResolver().preprocess_manifest(manifest)
    component = ManifestComponentTransformer().propagate_types_and_parameters("", resolved["definitions"]["__access"], {})
    return ModelToComponentFactory().create_component(CustomTransformationModel, component, config)


def emulator_config(emu):
    info = emu.info
    if info["profile"] == "data_center":
        config = {"base_url": info["base_url"], "deployment": "data_center", "credentials": dict(info["credentials"]["personal_access_token"])}
    else:
        config = {"base_url": info["base_url"], "deployment": "cloud", "credentials": dict(info["credentials"]["api_token"])}
    return dict(config, _derived=dict(api_roots(config)))  # what NormaliseConfig adds that the requesters read


def raw_contents(emu, config):
    """Every page and blog post as content/search returns them with the restriction expand (test input only)."""
    import requests

    info = emu.info
    if config["deployment"] == "data_center":
        url, auth = info["base_url"] + "/rest/api/content/search", None
        headers = {"Authorization": "Bearer " + config["credentials"]["personal_access_token"]}
    else:
        url, headers = info["base_url"] + "/wiki/rest/api/content/search", {}
        auth = (config["credentials"]["email"], config["credentials"]["api_token"])
    out, start = [], 0
    while True:
        body = requests.get(url, params={"cql": "type in (page, blogpost)", "expand": "space,ancestors," + access.READ_RESTRICTION_EXPAND,
                                         "limit": 200, "start": start}, headers=headers, auth=auth, timeout=30).json()
        out += body["results"]
        if "next" not in body["_links"] or config["deployment"] != "data_center":
            assert "next" not in body["_links"], "test helper reads one page on Cloud"
            return out
        start += len(body["results"])


def record_from(raw):
    record = normalise_content(raw, "http://x")
    record["readRestriction"] = read_restriction_from_v1(raw)
    return record


def truth(emu, content_id, data_center):
    t = emu.site.effective_access(emu.site.content[content_id])
    users = t["users"]
    if data_center:
        users = sorted(emu.site.users[a].user_key for a in users)
    return {"users": users, "groups": t["groups"], "anonymous": t["anonymous"], "restricted": t["restricted"], "unknown": False}


@pytest.fixture(scope="module", params=["cloud", "data_center"])
def emu(request):
    with Emulator(profile=request.param, seed=21, pages=120, time_zone="UTC") as emulator:
        yield emulator


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
    assert len({r["space"]["key"] for r in children}) > 1 and 0 < len(wanted) <= access.BATCH_SIZE
    transformation = build_transformation(config)
    emu.admin.reset_requests()
    access.prefetch_access(config, children)
    searches = emu.admin.stats()["by_route"].get("v1.content_search", 0)
    assert searches == 1
    asked_ahead = emu.admin.stats()["total"]
    for raw in children:
        record = record_from(raw)
        transformation.transform(record)
        assert record["effective_read_access"] == truth(emu, record["id"], data_center), record["id"]
    # Spaces' permissions and groups' members were asked ahead too: the records need no request at all.
    assert emu.admin.stats()["total"] == asked_ahead


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
    access.prefetch_access(config, children)
    assert len(calls) >= 2 and not together.broken, calls


def test_an_ancestors_look_up_that_raises_is_kept_as_unknown_and_never_waited_for_again():
    class Failing:
        calls = 0

        def send_request(self, **kwargs):
            Failing.calls += 1
            raise RuntimeError("the error handler gave up")

    lookup = access.AccessLookup(Failing(), None, False, access.AccessCache())
    for _ in range(2):  # the second call must neither hang on the first's pending ids nor ask again
        with pytest.raises(access.AccessUnknown, match="RuntimeError"):
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


@pytest.mark.parametrize("num_workers, threads", [(1, 1), (3, 3), (40, access.LOOKUP_THREADS)])
def test_look_ups_ahead_never_exceed_the_concurrency_the_user_chose(num_workers, threads):
    pool = access.lookup_pool({"num_workers": num_workers})
    assert pool._max_workers == threads


def test_threads_asking_for_the_same_ancestors_fetch_them_once(emu):
    config = emulator_config(emu)
    raws = [r for r in raw_contents(emu, config) if r["type"] == "page" and r["ancestors"]]
    ids = sorted({a["id"] for r in raws for a in r["ancestors"]})[: access.BATCH_SIZE]
    lookup = build_transformation(config)._lookup
    emu.admin.reset_requests()
    barrier, errors = threading.Barrier(6), []

    def work():
        barrier.wait()
        try:
            lookup.restrictions(ids)
        except access.AccessUnknown:
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
