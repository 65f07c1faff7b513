"""Content purged between a listing and the look-ups about it (fault switch `purge_after_listing`).

What a sync meets on a busy site: the CQL search lists a page, someone purges it from the trash, and every
request about it (its versions, labels, children, restrictions, `content/{id}`, v2 `pages/{id}`) answers 404,
while the search index keeps listing it for a while. The switch picks its victims up front, by seed (or takes
the ids given), and purges each one the first time a `content/search` answer lists it. A purged item stays in
`Site.content` (the index still renders it) but `Site.can_view` denies it outside the search, which every
look-up turns into its family's 404. Comments and attachments on a purged page go with it.

The index forgets a purged item after `index_lingers_searches` more `content/search` requests, or, when that
is not given, as soon as the emulator clock moves (an admin call, `--real-time`); from then on the search no
longer lists it either, as after a real purge.
"""
from __future__ import annotations

import random
import threading

ELIGIBLE_TYPES = ("page", "blogpost")


class ListingPurges:
    def __init__(self, site):
        self.site = site
        self.lock = threading.Lock()
        self.victims: set = set()        # ids still to purge when first listed
        self.purged: dict = {}           # id -> clock ms of the purge
        self.searches_left: dict = {}    # id -> content/search requests the index still lists it for
        self.lingers = None

    def configure(self, spec, seed: int) -> None:
        """`spec`: None (off), or {"count": N | "ids": [...], "types": [...], "index_lingers_searches": M}."""
        with self.lock:
            self.victims = set()
            self.lingers = None
            if not spec:
                return
            if not isinstance(spec, dict):
                raise ValueError("purge_after_listing must be an object")
            self.lingers = spec.get("index_lingers_searches")
            if spec.get("ids"):
                self.victims = {str(i) for i in spec["ids"]}
                return
            types = tuple(spec.get("types") or ELIGIBLE_TYPES)
            # Leaves only: a purged parent would re-parent its children and change others' effective access.
            parents = {c.parent_id for c in self.site.content.values() if c.type == "page" and c.parent_id}
            eligible = sorted((c.id for c in self.site.content.values()
                               if c.type in types and c.status == "current" and c.id not in parents and c.id not in self.purged),
                              key=lambda i: (len(i), i))
            count = min(int(spec.get("count") or 0), len(eligible))
            self.victims = set(random.Random(seed * 31 + 5).sample(eligible, count))

    def search_started(self) -> None:
        """Before a content/search is answered: one search fewer for each purged item the index still lists."""
        if not self.searches_left:
            return
        with self.lock:
            for i in list(self.searches_left):
                self.searches_left[i] -= 1
                if self.searches_left[i] < 0:
                    del self.searches_left[i]
        self.site.touch()

    def listed(self, items) -> None:
        """A content/search answer lists these items: purge the victims among them."""
        if not self.victims:
            return
        with self.lock:
            changed = False
            for c in items:
                if c.id in self.victims:
                    self.victims.discard(c.id)
                    self.purged[c.id] = self.site.clock.now_ms()
                    if self.lingers is not None:
                        self.searches_left[c.id] = int(self.lingers)
                    changed = True
        if changed:
            self.site.touch()

    def still_indexed(self, cid: str) -> bool:
        if self.lingers is not None:
            return cid in self.searches_left
        return self.purged.get(cid) == self.site.clock.now_ms()

    def hides(self, c, in_index: bool) -> bool:
        """True when `c` (or the page or blog post it belongs to) was purged and is not visible where asked."""
        if not self.purged:
            return False
        hit = [i for i in (c.id, c.container_id, self.site.page_like_root(c).id) if i in self.purged]
        if not hit:
            return False
        return not (in_index and all(self.still_indexed(i) for i in hit))

    def summary(self) -> dict:
        with self.lock:
            return {"purged": sorted(self.purged), "still_indexed": sorted(i for i in self.purged if self.still_indexed(i)),
                    "waiting": sorted(self.victims)}
