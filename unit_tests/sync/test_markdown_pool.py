"""markdown_pool: the same Markdown in parallel as in one thread, and a fallback that loses nothing."""

from source_confluence.sync import markdown_pool
from source_confluence.text.markdown import storage_to_markdown

BODIES = [
    ("<h1>Title</h1><p>Body <strong>bold</strong></p>", "https://acme.atlassian.net/wiki", "ENG", {}),
    ('<p><ac:link><ri:user ri:account-id="a1" /></ac:link> wrote this</p>', "", None, {"a1": "Ada Lovelace"}),
    ('<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">sql</ac:parameter>'
     "<ac:plain-text-body><![CDATA[SELECT 1 < 2]]></ac:plain-text-body></ac:structured-macro>", "", None, {}),
] * 4


def expected():
    return [storage_to_markdown(s, base_url=b, space_key=k, user_names=n) for s, b, k, n in BODIES]


def past_the_warm_up() -> markdown_pool.MarkdownPool:
    pool = markdown_pool.MarkdownPool()
    pool.converted_inline = markdown_pool.POOL_AFTER_BODIES
    return pool


def test_parallel_conversion_returns_the_same_markdown_in_order():
    pool = past_the_warm_up()
    try:
        assert pool.convert_all(BODIES) == expected()
        assert "@Ada Lovelace wrote this" in pool.convert_all(BODIES)[1]
    finally:
        pool.close()


def test_a_broken_pool_falls_back_to_converting_in_this_process(monkeypatch):
    class BrokenPool:  # the pool accepts the work, then a worker dies before answering
        def submit(self, *args, **kwargs):
            from concurrent.futures import Future

            future = Future()
            future.set_exception(RuntimeError("worker died"))
            return future

    pool = past_the_warm_up()
    monkeypatch.setattr(pool, "_started_pool", lambda: BrokenPool())
    assert pool.convert_all(BODIES) == expected()
    assert pool.failed is True
    assert markdown_pool.MarkdownPool().failed is False, "the next sync tries its own pool"


def test_the_worker_count_follows_the_container_quota(monkeypatch):
    monkeypatch.setattr(markdown_pool.os, "sched_getaffinity", lambda pid: set(range(64)))
    monkeypatch.setattr(markdown_pool, "_cgroup_cpus", lambda: 1.5)
    markdown_pool._worker_count.cache_clear()  # the count is read once per process
    assert markdown_pool._worker_count() == 1
    monkeypatch.setattr(markdown_pool, "_cgroup_cpus", lambda: None)
    markdown_pool._worker_count.cache_clear()
    assert markdown_pool._worker_count() == markdown_pool.MAX_WORKERS
    markdown_pool._worker_count.cache_clear()


def test_a_small_sync_converts_in_this_process_without_starting_the_pool(monkeypatch):
    def no_pool():
        raise AssertionError("the pool was started for a few bodies")

    pool = markdown_pool.MarkdownPool()
    monkeypatch.setattr(pool, "_started_pool", no_pool)
    for _ in range(markdown_pool.POOL_AFTER_BODIES // len(BODIES)):
        assert pool.convert_all(BODIES) == expected()


def test_a_page_submitted_first_is_collected_later_in_order():
    # The page's access look-ups run between submitting its bodies and collecting their Markdown.
    pool = past_the_warm_up()
    try:
        collect = pool.submit_all(BODIES)
        other_work = sum(range(10_000))
        assert other_work and collect() == expected()
    finally:
        pool.close()


def test_expecting_many_bodies_starts_the_pool_ahead_and_few_do_not(monkeypatch):
    monkeypatch.setattr(markdown_pool, "_worker_count", lambda: 2)
    pool = markdown_pool.MarkdownPool()
    try:
        pool.expect(markdown_pool.POOL_AFTER_BODIES - 1)
        assert pool._pool is None
        pool.expect(markdown_pool.POOL_AFTER_BODIES)
        assert pool._pool is not None
        assert pool.convert_all(BODIES[:2]) == expected()[:2]
    finally:
        pool.close()


class CountingPool:
    """A process pool stand-in that converts in this process and counts the tasks it was given."""

    def __init__(self):
        self.tasks = []

    def submit(self, function, *args):
        from concurrent.futures import Future

        self.tasks.append(args)
        future = Future()
        future.set_result(function(*args))
        return future


def test_a_page_of_bodies_is_one_task_for_one_process(monkeypatch):
    # Each task is pickled both ways and a round trip; the sync's workers keep every process busy with whole pages.
    monkeypatch.setattr(markdown_pool, "_worker_count", lambda: 4)
    fake = CountingPool()
    pool = past_the_warm_up()
    monkeypatch.setattr(pool, "_started_pool", lambda: fake)
    assert pool.convert_all(BODIES) == expected()
    assert len(fake.tasks) == 1 and len(fake.tasks[0][0]) == len(BODIES)
