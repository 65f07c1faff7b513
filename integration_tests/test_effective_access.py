"""The real connector computes effective_read_access exactly as Confluence decides it, in few requests."""

import pytest

from integration_tests.emulator_configs import connector_config
from integration_tests.reading import read_streams, records_by_stream

ACCESS_ROUTES = ("v2.space_permissions", "v1.space_permissions", "v1.space_get", "v1.group_list",
                 "v1.group_members_by_id", "v1.group_member")


def run(config, streams):
    output = read_streams(config, streams)
    assert not output.errors, [e.trace.error.message for e in output.errors]
    return records_by_stream(output)


def expected(site, content_id, data_center):
    truth = site.effective_access(site.content[content_id])
    users = truth["users"] if not data_center else sorted(site.users[a].user_key for a in truth["users"])
    return {"users": users, "groups": truth["groups"], "anonymous": truth["anonymous"], "restricted": truth["restricted"],
            "unknown": False}


@pytest.mark.parametrize("profile, auth_type", [("cloud", "api_token"), ("gateway", "scoped_api_token"),
                                                ("data_center", "personal_access_token")])
def test_every_page_and_blog_post_matches_the_truth_in_few_requests(emulators, profile, auth_type):
    emulator = emulators[profile]
    site = emulator.site
    data_center = profile == "data_center"
    # one more restricted grandparent than the generator makes: a page two levels under it must inherit it
    deep = next(c for c in site.content.values() if c.type == "page" and c.status == "current" and len(site.ancestors(c)) >= 3
                and all(a.read_users is None and a.read_groups is None for a in site.ancestors(c) + [c]))
    grandparent = site.ancestors(deep)[0]
    emulator.admin.set_restrictions(grandparent.id, read={"users": ["admin"], "groups": ["hr", "engineering"]})
    try:
        emulator.admin.reset_requests()
        records = run(connector_config(emulator.info, auth_type), ["space", "pages", "blog_posts"])
        stats = emulator.admin.stats()["by_route"]
        log = emulator.admin.requests()
        log = log["requests"] if isinstance(log, dict) else log
        content = records["pages"] + records["blog_posts"]
        truth = {record["id"]: expected(site, record["id"], data_center) for record in content}
    finally:
        emulator.admin.set_restrictions(grandparent.id, read={"users": [], "groups": []})

    assert len(records["pages"]) > 50 and records["blog_posts"]
    under_restricted = 0
    for record in content:
        # None values are left out of emitted records: no readRestriction means "not restricted"
        assert "unknown" not in (record.get("readRestriction") or {}), record["id"]
        assert record["effective_read_access"] == truth[record["id"]], record["id"]
        if any(site.content[a["id"]].read_users is not None or site.content[a["id"]].read_groups is not None
               for a in record["ancestors"]):
            under_restricted += 1
    assert under_restricted >= 3
    by_id = {r["id"]: r for r in content}
    assert by_id[deep.id]["effective_read_access"]["restricted"] is True
    assert by_id[deep.id]["effective_read_access"]["anonymous"] is False

    # Requests the access lookup made: space permissions once per space, members once per group, the
    # group directory once (Cloud), ancestors' restrictions in batches; never one per page.
    spaces = len(records["space"])
    access_requests = sum(stats.get(route, 0) for route in ACCESS_ROUTES)
    restriction_searches = sum(1 for entry in log if entry["route"] == "v1.content_search"
                               and "restrictions" in entry["query"] and "type+IN+%28" not in entry["query"]
                               and "type IN (" not in entry["query"])
    print("\n%s: %d records, %d spaces, %d access requests %s, %d restriction searches" % (
        profile, len(content), spaces, access_requests, {r: stats.get(r) for r in ACCESS_ROUTES if stats.get(r)},
        restriction_searches))
    assert access_requests <= spaces + len(site.groups) + 1
    assert restriction_searches <= spaces * 4
    assert access_requests + restriction_searches < len(content) / 2
