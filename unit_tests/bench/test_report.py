"""bench/report.py: the goal cells that say why a goal is missed (the floors' figures beside the connector's)."""

from bench import report


def run(wall, requests=0, by_route=None, **extra):
    return {"wall_s": wall, "requests": requests, "by_route": by_route or {}, "exit_code": 0, "records": {"pages": 1}, **extra}


def size(**clients):
    return {"pages": 3000, "shape": "uniform", **clients}


def test_start_up_ends_at_the_first_read_request_and_falls_back_to_the_first_request_then_spec():
    results = {"connector_spec_s": 0.9}
    assert report.start_up(results, size(connector_incremental=run(1.5, first_request_s=0.7, first_read_request_s=1.2))) == (1.2, "first read request")
    assert report.start_up(results, size(connector_incremental=run(1.5, first_request_s=0.7))) == (0.7, "first request")
    assert report.start_up(results, size(connector_incremental=run(1.5))) == (0.9, "spec")


def test_incremental_requests_cell_counts_the_floors_fixed_lookups():
    floor = run(0.8, 15, {"v1.content_search": 4, "v2.space_permissions": 4, "v1.group_list": 1, "v1.group_members_by_id": 4, "v1.user_bulk": 2})
    cell = report.incremental_requests_cell(size(connector_full=run(5.0, 128), connector_incremental=run(1.5, 19), floor_incremental=floor))
    assert cell.startswith("14.8% ❌")
    assert "19 of 128; 3% is 3.8" in cell
    assert "the floor with the same output: 15, 11.7%, 9 of them" in cell
    without_floor = report.incremental_requests_cell(size(connector_full=run(50.0, 1000), connector_incremental=run(1.5, 20)))
    assert without_floor == "2.0% ✅"


def test_peers_against_floors_only_where_the_connector_is_under_ten_times_a_peer():
    slow = size(connector_full=run(4.5), floor=run(3.9), floor_bodies=run(3.2), airbyte_0_2_16=run(34.3), llamaindex=run(50.0))
    lines = report.peers_against_floors({"sizes": [slow]})
    text = "".join(lines)
    assert "the official connector took 34.3 s; the floor with the connector's output 3.9 s (8.8x), the bodies-only floor 3.2 s (10.7x)" in text
    assert "LlamaIndex" not in text  # 50.0 / 4.5 is over 10x
    fast = size(connector_full=run(3.0), floor=run(2.9), airbyte_0_2_16=run(34.3))
    assert report.peers_against_floors({"sizes": [fast]}) == []


def test_where_the_connector_is_under_ten_times_a_peer_its_start_up_then_the_floors_read_is_set_against_the_peer():
    # The connector's first read request at 1.4 s, the floor's read 23.6 - 0.3 = 23.3 s after its own: 24.7 s at best.
    s = dict(size(connector_full=run(26.0, first_read_request_s=1.4), floor=run(23.6, first_read_request_s=0.3),
                  airbyte_0_2_16=run(238.4)), pages=20000, shape="real")
    text = "".join(report.peers_against_floors({"sizes": [s]}))
    assert "Real site, 20,000 pages: the official connector took 238.4 s; the floor with the connector's output 23.6 s (10.1x)." in text
    assert "its first read request at 1.40 s) and then reading as fast as that floor after its own start-up: 24.7 s (9.65x)." in text
    unknown_start = dict(s, connector_full=run(26.0))
    assert "Starting as this connector does" not in "".join(report.peers_against_floors({"sizes": [unknown_start]}))


def test_a_site_is_named_by_shape_and_pages():
    assert report.site({"pages": 100000, "shape": "real"}) == "real 100,000 pages"
    assert report.site({"pages": 3000}) == "uniform 3,000 pages"


def test_goals_set_the_full_syncs_after_start_up_side_by_side():
    s = size(connector_full=run(5.9, 129, first_request_s=0.9, first_read_request_s=1.3, peak_in_flight=8, peak_rss_mb=150.0),
             connector_incremental=run(2.2, 19, first_request_s=0.9, first_read_request_s=1.3),
             floor=run(4.0, 140, output="full", first_request_s=0.4, first_read_request_s=0.4))
    text = report.goals({"sizes": [s], "connector_spec_s": 1.2})
    assert "uniform 3,000 pages: 4.6 s / 3.6 s = 1.28x (start-up 1.30 s and 0.40 s)" in text
    assert "| 1.48x ❌ |" in text  # the goal itself is still the whole sync's


def test_goals_set_a_minimal_cdk_sources_start_up_plus_the_floors_read_against_the_floor():
    s = size(connector_full=run(5.4, 128, first_request_s=0.9, first_read_request_s=1.2, peak_in_flight=8, peak_rss_mb=140.0),
             connector_incremental=run(1.8, 18),
             floor=run(4.0, 134, output="full", first_request_s=0.3, first_read_request_s=0.3),
             minimal_cdk_source=run(1.8, 1, first_request_s=1.6))
    text = report.goals({"sizes": [s], "connector_spec_s": 1.1})
    assert "to its first request: uniform 3,000 pages 1.6 s." in text
    # 1.6 s to start, then the floor's 3.7 s after its own start-up: 5.3 s, against the floor's 4.0 s
    assert "uniform 3,000 pages 1.60 + 3.70 = 5.30 s, 1.32x" in text
    assert "Start-up on airbyte-cdk itself" not in report.goals({"sizes": [dict(s, minimal_cdk_source=None)], "connector_spec_s": 1.1})


def test_a_ratio_just_under_the_goal_is_not_shown_rounded_up_to_it():
    assert report.times(9.97, 10) == "9.97x"
    assert report.times(9.94, 10) == "9.9x"
    assert report.times(10.34, 10) == "10.3x"
    assert report.times(5.8, 10) == "5.8x"


def test_the_incremental_goal_is_put_to_the_floor_with_the_same_output_too():
    s = size(connector_incremental=run(1.9, 19, first_read_request_s=1.33), ideal_incremental=run(0.34, 2),
             floor_incremental=run(0.85, 16, first_read_request_s=0.27))
    assert report.floor_incremental_clause(s, 0.34) == (
        "; the floor with the same output, after its start-up: 0.58 s against 1.5 × ideal 0.51 s ❌")
    quick = size(floor_incremental=run(0.6, 16, first_read_request_s=0.27))
    assert report.floor_incremental_clause(quick, 0.34).endswith("0.33 s against 1.5 × ideal 0.51 s ✅")
    assert report.floor_incremental_clause(size(floor_incremental=run(0.85, 16)), 0.34) == ""  # start-up not measured


def test_the_same_records_as_the_floor_are_checked_and_a_missed_page_is_flagged():
    s = size(connector_full=run(5.0, records={"pages": 2955, "blog_posts": 545}),
             floor=run(4.0, records={"pages": 2955, "blog_posts": 545}),
             connector_incremental=run(1.8, records={"pages": 945, "blog_posts": 1}),
             floor_incremental=run(0.9, records={"pages": 990, "blog_posts": 1}))
    text = "".join(report.same_records({"sizes": [s]}))
    assert "uniform 3,000 pages, full sync: the same records as the floor ✅" in text
    assert "uniform 3,000 pages, incremental sync: pages 45 fewer ❌" in text
    reread = size(connector_incremental=run(1.8, records={"pages": 200, "blog_posts": 1}),
                  floor_incremental=run(0.9, records={"pages": 199, "blog_posts": 1}))
    assert "incremental sync: pages 1 more ✅" in "".join(report.same_records({"sizes": [reread]}))  # the lookback re-reads


def test_a_record_emitted_twice_in_one_sync_is_flagged():
    once = size(connector_full=run(5.0, records={"pages": 3}, repeated_records={"pages": 0}), floor=run(4.0, records={"pages": 3}))
    assert "full sync: the same records as the floor, each once ✅" in "".join(report.same_records({"sizes": [once]}))
    twice = size(connector_full=run(5.0, records={"pages": 3}, repeated_records={"pages": 1}), floor=run(4.0, records={"pages": 3}))
    assert "full sync: the same records as the floor, pages 1 twice ❌" in "".join(report.same_records({"sizes": [twice]}))


def test_a_repeated_clients_wall_time_shows_the_median_and_the_range():
    assert report.wall_cell(run(21.04, wall_s_runs=[25.4, 19.5, 21.04])) == "21.0 (19.5–25.4)"
    assert report.wall_cell(run(21.04)) == "21.0"
    assert report.repeats_sentence({"repeats": 1}) == ""
    assert "ran 3 times each at sizes up to 20,000 pages" in report.repeats_sentence({"repeats": 3, "repeat_max_size": 20000})
