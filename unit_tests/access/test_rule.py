"""access/rule.py: the pure intersection and the parsers of restrictions and space permissions."""

import pytest

from source_confluence.access.rule import (
    AccessUnknown,
    Principals,
    compute_effective_access,
    read_restriction_from_v1,
    restriction_principals,
    space_view_from_dc,
    space_view_from_v1_expand,
    space_view_from_v2,
)

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
