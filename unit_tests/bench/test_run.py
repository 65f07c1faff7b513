"""bench/run.py: what the benchmark reads from a client's output to say whether each record came once."""

import json

from bench import run


def test_a_records_id_is_read_from_the_start_of_its_data_quoted_or_not():
    line = b'{"type":"RECORD","record":{"stream":"pages","data":{"id":"65537","title":"x"},"emitted_at":1}}'
    assert run.RECORD_ID.search(line).group(1) == b"65537"
    assert run.RECORD_ID.search(b'{"type": "RECORD", "record": {"stream": "group", "data": {"id": 42, "name": "g"}}}').group(1) == b"42"
    assert run.RECORD_ID.search(b'{"type":"RECORD","record":{"stream":"space","data":{"key":"ENG","id":"1"}}}') is None


def test_repeated_records_counts_the_ids_seen_before_per_stream():
    ids = {"pages": {b"1", b"2"}, "blog_posts": {b"9"}}
    assert run.repeated_records({"pages": 3, "blog_posts": 1}, ids) == {"pages": 1, "blog_posts": 0}


def test_the_median_run_is_reported_and_the_upper_middle_of_an_even_number():
    runs = [{"wall_s": 25.4, "exit_code": 0}, {"wall_s": 19.5, "exit_code": 0}, {"wall_s": 21.0, "exit_code": 0}]
    assert run.median_index(runs) == 2
    assert run.median_index(runs[:2]) == 0  # 19.5 and 25.4: the slower one
    assert run.median_index(runs[:1]) == 0


def test_a_failed_run_is_reported_whatever_its_wall_time():
    runs = [{"wall_s": 20.0, "exit_code": 0}, {"wall_s": 3.0, "exit_code": 1}, {"wall_s": 21.0, "exit_code": 0}]
    assert run.median_index(runs) == 1
    timed_out = [{"wall_s": 20.0, "exit_code": 0}, {"wall_s": 3600.0, "exit_code": 0, "timed_out": True}, {"wall_s": 19.0, "exit_code": 0}]
    assert run.median_index(timed_out) == 1


def test_measure_repeated_keeps_every_wall_time_and_the_first_runs_states(monkeypatch, tmp_path):
    walls = iter([25.4, 19.5, 21.0, 30.0])
    states = iter([{"pages": "first"}, {"pages": "second"}, {"pages": "third"}, {}])

    def measure(name, cmd, emu, **kwargs):
        return {"wall_s": next(walls), "exit_code": 0}, next(states)

    class Emulator:
        logs_read = 0

        def admin(self, method, path):  # each run's request log: the run's number
            self.logs_read += 1
            return {"requests": [self.logs_read]}

    monkeypatch.setattr(run, "measure", measure)
    monkeypatch.setattr(run, "WORK", tmp_path)
    chosen, first_states = run.measure_repeated(3, "connector full", [], Emulator(), request_log=("uniform-3000", "full"))
    assert chosen["wall_s"] == 21.0 and chosen["wall_s_runs"] == [25.4, 19.5, 21.0]
    assert first_states == {"pages": "first"}
    assert json.loads((tmp_path / "requests-uniform-3000-full.json").read_text()) == {"requests": [3]}  # the median run's
    once, _ = run.measure_repeated(1, "ideal", [], Emulator())
    assert "wall_s_runs" not in once
