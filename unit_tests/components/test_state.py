"""components/state.py: a 0.1.0 per-space state becomes the site-wide cursor, never a silent full re-read."""

from source_confluence.components.state import SiteCursorFromSpaceCursors

OLD_PAGES_STATE = {
    "states": [
        {"partition": {"parent_slice": {}, "space_key": "ENG"}, "cursor": {"lastModifiedAt": "2024-03-01T10:00:00.000000Z"}},
        {"partition": {"parent_slice": {}, "space_key": "HR"}, "cursor": {"lastModifiedAt": "2024-02-01T10:00:00.000000Z"}},
        {"partition": {"parent_slice": {}, "space_key": "OPS"}, "cursor": {}},
    ],
    "state": {"lastModifiedAt": "2024-03-01T10:00:00.000000Z"},
    "use_global_cursor": False,
}


def migration(**kwargs):
    return SiteCursorFromSpaceCursors(config={}, parameters={}, **kwargs)


def test_the_oldest_space_cursor_becomes_the_site_cursor():
    assert migration().should_migrate(OLD_PAGES_STATE)
    assert migration().migrate(OLD_PAGES_STATE) == {"lastModifiedAt": "2024-02-01T10:00:00.000000Z"}


def test_a_current_state_is_left_alone():
    assert not migration().should_migrate({"lastModifiedAt": "2024-02-01T10:00:00.000000Z"})
    assert not migration().should_migrate({})


def test_a_per_space_state_without_any_cursor_means_nothing_was_synced_yet():
    assert migration().migrate({"states": [{"partition": {"space_key": "ENG"}, "cursor": {}}]}) == {}


def test_the_pages_cursor_kept_by_page_versions_is_migrated_in_place():
    state = {"use_global_cursor": True, "state": {"createdAt": "2024-01-01T00:00:00.000000Z"}, "parent_state": {"pages": OLD_PAGES_STATE}}
    step = migration(parent_stream="pages")
    assert step.should_migrate(state)
    assert step.migrate(state) == {**state, "parent_state": {"pages": {"lastModifiedAt": "2024-02-01T10:00:00.000000Z"}}}
    assert not step.should_migrate(step.migrate(state))
