"""The generator's two site shapes: the uniform one the tests were written on, and one shaped like real sites."""

import collections

import pytest

from confluence_emulator import bodies
from confluence_emulator.clock import Clock, start_ms_for_seed
from confluence_emulator.generator import build_site

DAY_MS = 86400 * 1000


def site_of(shape, pages=3000, seed=7):
    clock = Clock(start_ms_for_seed(seed))
    return build_site("cloud", seed, clock, "UTC", pages, None, 4, shape), clock.now_ms()


def depth(site, content):
    levels = 0
    while content.parent_id:
        content = site.content[content.parent_id]
        levels += 1
    return levels


def share_of_edits_in_last_tenth(site, now):
    edits = [v.when for c in site.content.values() if c.type in ("page", "blogpost") for v in c.versions]
    oldest = min(edits)
    recent = now - (now - oldest) / 10
    return sum(when >= recent for when in edits) / len(edits)


def test_real_shape_puts_about_half_of_all_edits_in_the_last_tenth_of_the_sites_age():
    real, now = site_of("real")
    uniform, uniform_now = site_of("uniform")
    assert 0.4 <= share_of_edits_in_last_tenth(real, now) <= 0.6
    assert share_of_edits_in_last_tenth(uniform, uniform_now) < 0.2


def test_real_shape_has_one_space_with_about_half_the_pages():
    site, _ = site_of("real")
    pages = collections.Counter(c.space_key for c in site.content.values() if c.type == "page")
    (biggest, count), = pages.most_common(1)
    assert biggest == "ENG"
    assert 0.45 <= count / sum(pages.values()) <= 0.55


def test_real_shape_has_a_long_tail_of_huge_bodies_and_a_few_deep_trees():
    site, _ = site_of("real")
    pages = [c for c in site.content.values() if c.type in ("page", "blogpost")]
    sizes = sorted(len(bodies.render(site, c)[0]) for c in pages)
    huge = [size for size in sizes if size > 100_000]
    assert 1 <= len(huge) <= 0.01 * len(sizes)
    assert sizes[len(sizes) // 2] < 5_000  # the median page stays small
    assert max(depth(site, c) for c in pages if c.type == "page") > 6


def test_uniform_shape_stays_uniform():
    site, _ = site_of("uniform", pages=1000)
    pages = [c for c in site.content.values() if c.type in ("page", "blogpost")]
    assert not site.body_repeat
    assert max(len(bodies.render(site, c)[0]) for c in pages) < 5_000
    assert max(depth(site, c) for c in pages if c.type == "page") <= 6


def test_unknown_shape_is_refused():
    with pytest.raises(ValueError, match="shape"):
        site_of("lumpy", pages=10)
