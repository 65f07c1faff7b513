"""OffsetWalks: Data Center's offset-paged search overlaps its pages by one and reads a page again when results moved up."""

from urllib.parse import parse_qsl, urlencode

import pytest

from source_confluence.components.offset_walks import OffsetWalks

DC_SEARCH = "https://wiki.example.com/confluence/rest/api/content/search"
CQL = 'type IN (page) AND lastmodified >= "2024-01-01 00:00" ORDER BY lastmodified ASC'


def result(content_id: int, minute: int = 0) -> dict:
    return {"id": str(content_id), "version": {"when": f"2024-03-11T10:{minute:02d}:00.000+01:00"}}


def site(count: int) -> list:
    """Search results in lastmodified order, one minute apart."""
    return [result(n, minute=n) for n in range(count)]


def query(start: int, limit: int = 5) -> list:
    return [("cql", CQL), ("expand", "version"), ("start", str(start)), ("limit", str(limit))]


def url(q) -> str:
    return f"{DC_SEARCH}?{urlencode(q)}"


class Walk:
    """Reads a list by offset the way the connector does: overlap, then reconcile each page."""

    def __init__(self, walks: OffsetWalks, listing: list, limit: int = 5):
        self.walks, self.listing, self.limit = walks, listing, limit
        self.reread_paths = []

    def page(self, start: int) -> list:
        return self.listing[start : start + self.limit]

    def read_again(self, path: str) -> list:
        self.reread_paths.append(path)
        return self.page(int(dict(parse_qsl(path.partition("?")[2]))["start"]))

    def read(self, start: int) -> tuple:
        """(records emitted for the page at ``start``, the next page's start)."""
        results = self.page(start)
        records = self.walks.reconcile(url(query(start, self.limit)), results, self.read_again)
        next_query = self.walks.overlap_next("content/search", query(start + len(results), self.limit), results)
        return records, int(dict(next_query)["start"])


def test_next_page_starts_one_result_early_on_data_center_search():
    walks = OffsetWalks()
    next_query = walks.overlap_next("content/search", query(5), site(5))
    assert dict(next_query)["start"] == "4"
    assert [k for k, _ in next_query] == [k for k, _ in query(5)]


@pytest.mark.parametrize(
    "endpoint, next_query, results",
    [
        ("content/search", query(5) + [("cursor", "_sa_abc")], site(5)),  # Cloud: the cursor carries the position
        ("space", query(5), site(5)),  # no order that edits move
        ("content/search", query(1), site(1)),  # one result: overlapping would read the same page forever
        ("content/search", query(5), [{"title": "no id"}] * 5),
    ],
)
def test_other_walks_are_left_as_they_are(endpoint, next_query, results):
    walks = OffsetWalks()
    assert walks.overlap_next(endpoint, next_query, results) == next_query
    assert walks.reconcile(url(query(4)), site(5), lambda path: pytest.fail("no page is read again")) == site(5)


def test_a_walk_with_nothing_moved_emits_every_result_once_with_no_extra_request():
    walks, listing = OffsetWalks(), site(23)
    walk = Walk(walks, listing)
    emitted, start = [], 0
    while start < len(listing):
        records, start = walk.read(start)
        emitted += records
        if len(records) == 0:
            break
    assert [r["id"] for r in emitted] == [r["id"] for r in listing]
    assert walk.reread_paths == []


def test_results_that_moved_up_past_the_next_page_start_are_read_again_before_it():
    walks, listing = OffsetWalks(), site(20)
    walk = Walk(walks, listing)
    first, start = walk.read(0)
    second, start = walk.read(start)
    assert [r["id"] for r in first + second] == [str(n) for n in range(9)]
    # Three results already read are edited: they leave the window, everything after them moves up three.
    for content_id in ("1", "4", "7"):
        listing.remove(next(r for r in listing if r["id"] == content_id))
    third, _ = walk.read(start)
    # The page at the old position starts at 11 now: 9 and 10 moved up in front of it and are read again.
    assert [r["id"] for r in third] == [str(n) for n in range(9, 16)]
    assert len(walk.reread_paths) == 1
    assert dict(parse_qsl(walk.reread_paths[0].partition("?")[2]))["start"] == str(start - 5)


def test_when_the_last_result_read_is_itself_edited_only_results_not_older_than_it_are_read_again():
    walks, listing = OffsetWalks(), site(15)
    walk = Walk(walks, listing)
    _, start = walk.read(0)
    listing.remove(listing[4])  # the last result of the first page, edited: it is not found again
    records, _ = walk.read(start)
    # The page read again holds only results older than it, all emitted: nothing is repeated or lost.
    assert [r["id"] for r in records] == ["5", "6", "7", "8", "9"]
    assert len(walk.reread_paths) == 1


def test_results_inserted_before_the_walk_position_are_not_emitted_twice():
    walks, listing = OffsetWalks(), site(15)
    walk = Walk(walks, listing)
    _, start = walk.read(0)
    listing.insert(1, result(99, minute=0))  # restored with an old date: everything moves down one
    records, _ = walk.read(start)
    assert [r["id"] for r in records] == ["5", "6", "7"]
    assert walk.reread_paths == []


def test_a_retry_with_a_smaller_page_is_still_recognised_as_the_overlapped_page():
    """A 504 makes the retry ask for half the limit; the page is the same one."""
    walks = OffsetWalks()
    walks.overlap_next("content/search", query(5, limit=50), site(5))
    records = walks.reconcile(url(query(4, limit=25)), site(10)[4:], lambda path: pytest.fail("nothing moved"))
    assert [r["id"] for r in records] == ["5", "6", "7", "8", "9"]


def test_an_expectation_is_used_once():
    walks = OffsetWalks()
    walks.overlap_next("content/search", query(5), site(5))
    assert len(walks.reconcile(url(query(4)), site(10)[4:], pytest.fail)) == 5
    assert len(walks.reconcile(url(query(4)), site(10)[4:], pytest.fail)) == 6


def test_the_page_read_again_is_as_long_as_the_server_returned_not_as_the_limit_asked():
    """Data Center caps a page with bodies at 50 whatever ``limit`` says: reading from start - limit would miss the gap."""
    walks = OffsetWalks()
    walks.overlap_next("content/search", query(150, limit=250), site(150)[100:])
    paths = []
    walks.reconcile(url(query(149, limit=250)), site(300)[160:210], lambda path: paths.append(path) or [])
    assert dict(parse_qsl(paths[0].partition("?")[2]))["start"] == "99"


def test_the_last_result_read_may_already_be_normalised_when_the_next_page_is_planned():
    """The CDK asks for the next page after the stream's transformations rewrote the results in place."""
    walks, listing = OffsetWalks(), site(15)
    normalised = [{"id": r["id"], "lastModifiedAt": r["version"]["when"], "version": {"number": 1}} for r in listing[:5]]
    walks.overlap_next("content/search", query(5), normalised)
    listing.remove(listing[4])  # the last result read, edited since
    records = walks.reconcile(url(query(4)), listing[4:9], lambda path: listing[0:5])
    assert [r["id"] for r in records] == ["5", "6", "7", "8", "9"]
