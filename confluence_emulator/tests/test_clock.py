"""clock.py: the real-time clock stamps edits with distinct times and stays on the wall clock."""

from confluence_emulator import clock as clock_module
from confluence_emulator.clock import Clock


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def real_time_clock(monkeypatch):
    fake = FakeMonotonic()
    monkeypatch.setattr(clock_module.time, "monotonic", fake)
    return Clock(0, real_time=True), fake


def test_edits_spread_over_time_are_stamped_with_the_wall_clocks_time(monkeypatch):
    clock, wall = real_time_clock(monkeypatch)
    stamps = []
    for _ in range(1000):  # the benchmark's 1,000 edits, a few ms apart (1/256 s: exact in binary)
        wall.now += 1 / 256
        stamps.append(clock.tick())
    assert stamps[-1] == 3906 and clock.now_ms() == 3906  # not a second ahead, as a step per edit made it


def test_a_burst_of_edits_gets_distinct_times_and_the_clock_rejoins_the_wall_clock(monkeypatch):
    clock, wall = real_time_clock(monkeypatch)
    stamps = [clock.tick() for _ in range(10)]  # ten edits within one millisecond
    assert stamps == list(range(10))
    assert clock.now_ms() == 9  # never earlier than the last stamp
    wall.now += 0.050
    assert clock.now_ms() == 50 and clock.tick() == 50


def test_setting_the_clock_back_sets_the_stamps_back_too(monkeypatch):
    clock, wall = real_time_clock(monkeypatch)
    wall.now += 5
    clock.tick()
    clock.set("1970-01-01T00:00:01Z")
    assert clock.now_ms() == 1000 and clock.tick() == 1000


def test_a_frozen_clock_steps_a_second_per_edit():
    clock = Clock(0)
    assert [clock.tick(), clock.tick()] == [1000, 2000] and clock.now_ms() == 2000
