"""bench/run.py: what the benchmark reads from a client's output to say whether each record came once."""

from bench import run


def test_a_records_id_is_read_from_the_start_of_its_data_quoted_or_not():
    line = b'{"type":"RECORD","record":{"stream":"pages","data":{"id":"65537","title":"x"},"emitted_at":1}}'
    assert run.RECORD_ID.search(line).group(1) == b"65537"
    assert run.RECORD_ID.search(b'{"type": "RECORD", "record": {"stream": "group", "data": {"id": 42, "name": "g"}}}').group(1) == b"42"
    assert run.RECORD_ID.search(b'{"type":"RECORD","record":{"stream":"space","data":{"key":"ENG","id":"1"}}}') is None


def test_repeated_records_counts_the_ids_seen_before_per_stream():
    ids = {"pages": {b"1", b"2"}, "blog_posts": {b"9"}}
    assert run.repeated_records({"pages": 3, "blog_posts": 1}, ids) == {"pages": 1, "blog_posts": 0}
