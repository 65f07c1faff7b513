"""Which spaces a content stream's state knows, and which get a catch-up (components/space_catch_up.py)."""

from datetime import datetime, timedelta, timezone

from source_confluence.components.space_catch_up import SpaceCatchUp, remembered_spaces, windows_not_read

US = timedelta(microseconds=1)


def day(number: int) -> datetime:
    return datetime(2024, 1, number, tzinfo=timezone.utc)


class TestWhatTheStateKnows:
    def test_a_state_without_the_list_adopts_the_visible_spaces_without_catch_up(self):
        catch_up = SpaceCatchUp(remembered_spaces({"lastModifiedAt": "2024-01-01T00:00:00Z"}), ["HR", "ENG"])
        assert catch_up.new == [] and catch_up.recorded() == ["ENG", "HR"]

    def test_a_list_this_version_cannot_read_counts_as_no_list(self):
        assert remembered_spaces({"spaces": "ENG"}) is None and remembered_spaces({"spaces": [1]}) is None

    def test_a_space_the_state_does_not_know_is_new_and_recorded_only_once_caught_up(self):
        catch_up = SpaceCatchUp(remembered_spaces({"spaces": ["ENG"]}), ["ENG", "HR", "DOCS"])
        assert catch_up.new == ["DOCS", "HR"]
        assert catch_up.recorded() == ["ENG"]
        catch_up.cut_into("HR", 2)
        catch_up.cut_into("DOCS", 1)
        assert catch_up.window_done("HR") is False and catch_up.recorded() == ["ENG"]
        assert catch_up.window_done("DOCS") is True and catch_up.recorded() == ["DOCS", "ENG"]
        assert catch_up.window_done("HR") is True and catch_up.recorded() == ["DOCS", "ENG", "HR"]
        assert catch_up.window_done("HR") is False, "a window of no catch-up changes nothing"

    def test_a_new_space_with_nothing_to_catch_up_is_known_at_once(self):
        catch_up = SpaceCatchUp({"ENG"}, ["ENG", "HR"])
        catch_up.cut_into("HR", 0)
        assert catch_up.recorded() == ["ENG", "HR"]

    def test_a_space_no_longer_visible_is_forgotten_so_it_is_caught_up_if_it_comes_back(self):
        catch_up = SpaceCatchUp({"ENG", "HR"}, ["ENG"])
        assert catch_up.new == [] and catch_up.recorded() == ["ENG"]
        assert SpaceCatchUp(set(catch_up.recorded()), ["ENG", "HR"]).new == ["HR"]

    def test_when_the_spaces_cannot_be_listed_the_state_keeps_its_list_and_nothing_is_caught_up(self):
        catch_up = SpaceCatchUp({"ENG", "HR"}, None)
        assert catch_up.new == [] and catch_up.recorded() == ["ENG", "HR"]
        assert SpaceCatchUp(None, None).recorded() is None


class TestWindowsNotRead:
    def test_everything_before_the_incremental_window(self):
        assert windows_not_read([(day(20), day(31))], day(1), US) == [(day(1), day(20) - US)]

    def test_the_stretches_between_the_gaps_a_resumed_sync_reads(self):
        normal = [(day(30), day(31)), (day(10) + US, day(15) - US)]
        assert windows_not_read(normal, day(1), US) == [(day(1), day(10)), (day(15), day(30) - US)]

    def test_nothing_when_the_normal_windows_start_at_the_start(self):
        assert windows_not_read([(day(1), day(5) - US), (day(5), day(31))], day(1), US) == []
