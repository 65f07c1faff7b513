"""Comments, attachments and restrictions: every object the site holds, exactly once, as the site has it."""

import pytest

from integration_tests.emulator_configs import connector_config
from integration_tests.reading import duplicate_ids, read_streams, records_by_stream

PROFILES = [("cloud", "api_token"), ("gateway", "oauth2"), ("data_center", "personal_access_token")]


@pytest.mark.parametrize("profile, auth_type", PROFILES)
def test_comments_and_attachments_arrive_exactly_once_with_their_place(emulators, profile, auth_type):
    emulator = emulators[profile]
    output = read_streams(connector_config(emulator.info, auth_type), ["comments", "attachments"])
    assert not output.errors
    records = records_by_stream(output)
    truth = emulator.admin.site()
    site = emulator.site

    assert duplicate_ids(records["comments"]) == [] and duplicate_ids(records["attachments"]) == []
    assert {r["id"] for r in records["comments"]} == set(truth["comment_ids"])
    assert {r["id"] for r in records["attachments"]} == set(truth["attachment_ids"])

    replies = inline = 0
    for record in records["comments"]:
        comment = site.content[record["id"]]
        assert record["containerId"] == comment.container_id
        assert record.get("parentCommentId") == comment.parent_comment_id
        assert record["location"] == comment.location
        assert record["bodyMarkdown"].strip() and "<ac:" not in record["bodyMarkdown"]
        replies += bool(comment.parent_comment_id)
        if comment.location == "inline":
            inline += 1
            assert record["inlineOriginalSelection"] == comment.inline_selection
            assert record["resolutionStatus"] == comment.resolution
    assert replies and inline, "the site has replies and inline comments, and the test saw them"

    for record in records["attachments"]:
        attachment = site.content[record["id"]]
        assert record["containerId"] == attachment.container_id
        assert record["fileName"] == attachment.title
        assert record["fileSize"] == len(attachment.blob)
        assert record["downloadUrl"].startswith(emulator.info["base_url"].split("/confluence")[0])


@pytest.mark.parametrize("profile, auth_type", [("cloud", "api_token"), ("data_center", "password")])
def test_content_restrictions_match_what_is_set_on_each_page(emulators, profile, auth_type):
    emulator = emulators[profile]
    output = read_streams(connector_config(emulator.info, auth_type), ["content_restrictions"])
    records = {r["contentId"]: r for r in records_by_stream(output)["content_restrictions"]}
    site = emulator.site
    restricted = {cid for cid, r in records.items() if r["readRestricted"]}
    visible_restricted = {
        c.id for c in site.content.values()
        if c.id in records and (c.read_users is not None or c.read_groups is not None)
    }
    assert restricted and restricted == visible_restricted
    for content_id in restricted:
        content = site.content[content_id]
        assert set(records[content_id]["read"]["groups"]) == set(content.read_groups or ())
        assert len(records[content_id]["read"]["users"]) == len(content.read_users or ())


@pytest.mark.parametrize("profile, auth_type", PROFILES)
def test_group_members_and_space_permissions_match_the_site(emulators, profile, auth_type):
    emulator = emulators[profile]
    output = read_streams(connector_config(emulator.info, auth_type), ["group_members", "space_permissions"])
    assert not output.errors
    records = records_by_stream(output)
    site = emulator.site
    data_center = profile == "data_center"

    def user_id(account_id):
        user = next(u for u in site.users.values() if u.account_id == account_id)
        return user.user_key if data_center else user.account_id

    group_key = {group.name: (group.name if data_center else group.id) for group in site.groups.values()}
    expected_members = {(group_key[group.name], user_id(member)) for group in site.groups.values() for member in group.members}
    members = [(r["groupId"], r["userId"]) for r in records["group_members"]]
    assert len(members) == len(set(members)) and set(members) == expected_members

    read_grants = {(r["spaceKey"], r["principalType"], r.get("principalId")) for r in records["space_permissions"]
                   if r["operation"] == "read" and r["targetType"] == "space"}
    expected_grants = {(space.key, "group", group_key[name]) for space in site.spaces.values() for name in space.view_groups}
    expected_grants |= {(space.key, "user", user_id(account)) for space in site.spaces.values() for account in space.view_users}
    anonymous_id = None if data_center else "anonymous"  # Data Center's anonymous subject has no identifier
    expected_grants |= {(space.key, "anonymous", anonymous_id) for space in site.spaces.values() if space.anonymous_access}
    assert read_grants == expected_grants


@pytest.mark.parametrize("profile, auth_type", PROFILES)
def test_users_are_listed_once_each_with_their_ids(emulators, profile, auth_type):
    emulator = emulators[profile]
    output = read_streams(connector_config(emulator.info, auth_type), ["users"])
    assert not output.errors
    users = records_by_stream(output)["users"]
    data_center = profile == "data_center"
    expected = {u.user_key if data_center else u.account_id for u in emulator.site.users.values()}
    assert duplicate_ids(users) == [] and {u["id"] for u in users} == expected
    assert all(u["displayName"] for u in users)


@pytest.mark.parametrize("profile, auth_type", [("cloud", "api_token"), ("data_center", "password")])
def test_mentions_become_display_names_with_one_lookup_per_person(profile, auth_type):
    from confluence_emulator import Emulator  # its own site: the request log must hold only this read

    with Emulator(profile=profile, seed=31, pages=60) as emulator:
        output = read_streams(connector_config(emulator.info, auth_type), ["pages", "comments"])
        records = records_by_stream(output)
        markdown = "\n".join(r.get("bodyMarkdown", "") for r in records["pages"] + records["comments"])
        names = {u.display_name for u in emulator.site.users.values()}
        mentioned = {name for name in names if "@" + name in markdown}
        assert mentioned, "the site's bodies mention people and the Markdown names them"
        assert "@user:" not in markdown, "every mention of a known person is resolved"
        lookups = [e for e in emulator.admin.requests() if e["route"] in ("v1.user_bulk", "v1.user_get", "v1.user")]
        assert 0 < len(lookups) <= len(emulator.site.users), "at most one look-up per person, never one per page"
