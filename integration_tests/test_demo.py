"""`make demo` end to end: PyAirbyte runs the installed `source-confluence` against the emulator into DuckDB.

The demo runs as a subprocess, as `make demo` runs it, with every proxy variable pointing at a closed
port: a registry download, a telemetry post or a package install would fail the run, while the
emulator on 127.0.0.1 stays reachable (NO_PROXY).
"""

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = 40


def offline_environment() -> dict:
    dead_proxy = "http://127.0.0.1:9"
    env = dict(
        os.environ,
        HTTP_PROXY=dead_proxy,
        HTTPS_PROXY=dead_proxy,
        http_proxy=dead_proxy,
        https_proxy=dead_proxy,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        # A user who exported these must not make the demo go online.
        AIRBYTE_OFFLINE_MODE="0",
        PIP_INDEX_URL=dead_proxy,
        # The demo must find the connector beside its own Python, not on PATH.
        PATH=os.defpath,
    )
    env.pop("DO_NOT_TRACK", None)
    return env


def run_demo(db_path: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "demo.run_demo", "--db", str(db_path), "--pages", str(PAGES), *arguments],
        cwd=ROOT,
        env=offline_environment(),
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    db_path = tmp_path_factory.mktemp("demo") / "confluence.duckdb"
    return run_demo(db_path, "--markdown-lines", "20"), db_path


# One run of a subset that mixes substreams (page_versions, group_members, attachment_files), lookups (users,
# space_permissions) and the inventory; it was two runs of two halves of it, asserting the same things.
SUBSET = ("users", "page_versions", "attachment_files", "group_members", "space_permissions", "content_inventory")


def test_demo_reads_any_subset_of_the_catalog(tmp_path: Path) -> None:
    """The stream list comes from the connector's discover, not from a list kept in the demo."""
    streams = SUBSET
    db_path = tmp_path / "subset.duckdb"
    completed = run_demo(db_path, "--streams", ",".join(streams), "--markdown-lines", "0")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    rows = {line.split()[0]: int(line.split()[1]) for line in completed.stdout.splitlines()
            if line.split() and line.split()[0] in streams and len(line.split()) > 1 and line.split()[1].isdigit()}
    assert set(rows) == set(streams), completed.stdout
    assert all(count > 0 for count in rows.values()), rows
    connection = duckdb.connect(str(db_path), read_only=True)
    try:
        tables = {row[0] for row in connection.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
    finally:
        connection.close()
    assert set(streams) <= tables
    assert not ({"pages", "space"} & tables), "only the chosen streams are read"


def test_demo_names_the_catalogs_streams_for_an_unknown_one(tmp_path: Path) -> None:
    completed = run_demo(tmp_path / "none.duckdb", "--streams", "users,page_verions")
    assert completed.returncode == 2
    assert "Unknown stream(s): page_verions." in completed.stderr
    listed = completed.stderr.split("The streams are: ", 1)[1].strip().rstrip(".").split(", ")
    assert len(listed) == 15 and {"users", "page_versions", "attachment_files", "content_tree"} <= set(listed)


def test_demo_exits_zero_and_prints_the_summary(demo_run) -> None:
    completed, db_path = demo_run
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    out = completed.stdout
    assert f"DuckDB file: {db_path}" in out
    for stream in ("space", "pages", "blog_posts", "group", "audit"):
        assert any(line.startswith(stream + " ") for line in out.splitlines()), out
    # The sample page is printed as Markdown: a heading from the page title, indented under the caption.
    assert "Sample page: " in out and "as Markdown:" in out
    assert "\n    # " in out


def test_demo_duckdb_holds_every_stream(demo_run) -> None:
    completed, db_path = demo_run
    assert completed.returncode == 0, completed.stderr[-3000:]
    connection = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = {
            table: connection.execute(f'SELECT count(*) FROM main."{table}"').fetchone()[0]
            for table in ("space", "pages", "blog_posts", "group", "audit")
        }
        # The emulator's site: 4 team spaces and 2 personal ones, 18 groups, 60 audit records and `--pages`
        # pages, a few of them trashed or drafts (which no listing returns; test_full_read checks exact ids).
        assert rows["space"] == 6
        assert PAGES * 0.8 <= rows["pages"] <= PAGES
        assert rows["group"] == 18
        assert rows["audit"] == 60
        assert rows["blog_posts"] > 0
        # No duplicates on the primary key, and the Markdown body landed.
        distinct = connection.execute('SELECT count(DISTINCT id) FROM main."pages"').fetchone()[0]
        assert distinct == rows["pages"]
        with_markdown = connection.execute(
            "SELECT count(*) FROM main.pages WHERE bodymarkdown IS NOT NULL AND length(bodymarkdown) > 0"
        ).fetchone()[0]
        assert with_markdown == rows["pages"]
        # PyAirbyte keeps its own bookkeeping (state, catalog) in the same file.
        tables = {row[0] for row in connection.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert any(name.startswith("_airbyte") for name in tables), tables
    finally:
        connection.close()


def test_real_site_example_runs_from_environment_variables(cloud_emulator, tmp_path: Path) -> None:
    """demo/real_site.py against the emulator, configured only through CONFLUENCE_* variables, twice:
    the second run is incremental from the state PyAirbyte kept in the DuckDB file."""
    info = cloud_emulator.info
    credentials = info["credentials"]["api_token"]
    db_path = tmp_path / "real.duckdb"
    env = dict(
        os.environ,
        CONFLUENCE_BASE_URL=info["base_url"],
        CONFLUENCE_DEPLOYMENT="cloud",
        CONFLUENCE_EMAIL=credentials["email"],
        CONFLUENCE_API_TOKEN=credentials["api_token"],
        CONFLUENCE_TIME_ZONE=info["time_zone"],
        CONFLUENCE_SPACE_KEYS="ENG,DOCS",
    )
    command = [sys.executable, "-m", "demo.real_site", "--db", str(db_path), "--streams", "space,pages"]
    for _ in range(2):
        completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    connection = duckdb.connect(str(db_path), read_only=True)
    try:
        spaces = {row[0] for row in connection.execute("SELECT key FROM main.space").fetchall()}
        assert spaces == {"ENG", "DOCS"}
        pages, distinct = connection.execute("SELECT count(*), count(DISTINCT id) FROM main.pages").fetchone()
        assert pages > 0 and pages == distinct
        assert {row[0] for row in connection.execute("SELECT DISTINCT spacekey FROM main.pages").fetchall()} <= spaces
    finally:
        connection.close()


def test_real_site_example_explains_missing_settings() -> None:
    from demo.real_site import MissingSetting, config_from_environment

    with pytest.raises(MissingSetting, match="CONFLUENCE_BASE_URL"):
        config_from_environment({})
    with pytest.raises(MissingSetting, match="CONFLUENCE_PAT"):
        config_from_environment({"CONFLUENCE_BASE_URL": "https://wiki.example.com"})
    config = config_from_environment({"CONFLUENCE_BASE_URL": "https://wiki.example.com/confluence/", "CONFLUENCE_PAT": "t"})
    assert config == {
        "base_url": "https://wiki.example.com/confluence",
        "deployment": "data_center",
        "credentials": {"auth_type": "personal_access_token", "personal_access_token": "t"},
    }


def run_connector_test(*pytest_args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "demo.connector_test", "-q", "-p", "no:cacheprovider", *pytest_args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_airbyte_cdk_connector_test_passes_in_full() -> None:
    """`airbyte-cdk connector test` (via `make connector-test`) collects the standard suite on this layout and
    passes all of it (this run also covers what a separate `-k test_spec` run checked)."""
    completed = run_connector_test()
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    assert " passed" in completed.stdout
