"""run_cli's forked runs (integration_tests/forked_cli.py) answer exactly as a fresh `python -m source_confluence.run`."""

import json
import re
import subprocess
import tempfile

import pytest

from integration_tests import cli


def fresh(monkeypatch, *args, **kwargs) -> cli.CliResult:
    with monkeypatch.context() as patch:
        patch.setenv("CONFLUENCE_TESTS_FORK", "0")
        return cli.run_cli(*args, **kwargs)


TEMP_FOLDER = re.compile(re.escape(tempfile.gettempdir()) + r"/confluence-cli-[^/]+/")


def comparable(result: cli.CliResult) -> list:
    """The messages, less what differs between any two runs: timestamps and the temporary folder's name."""
    messages = [json.loads(line) for line in TEMP_FOLDER.sub("<folder>/", result.stdout.decode()).splitlines() if line.startswith("{")]
    for message in messages:
        message.get("trace", {}).pop("emitted_at", None)
    return messages


def forked_runs() -> int:
    return cli._launcher.forked_runs if cli._launcher else 0


@pytest.mark.parametrize("args", [("spec",), ("bogus-command",), ("check", "{not json")],
                         ids=["spec", "unknown_command", "config_not_json"])
def test_a_forked_run_answers_as_a_fresh_process(monkeypatch, args):
    before = forked_runs()
    forked = cli.run_cli(*args)
    assert forked_runs() == before + 1, "the run was not forked"
    before = forked_runs()
    plain = fresh(monkeypatch, *args)
    assert forked_runs() == before, "the comparison was forked too"
    assert forked.returncode == plain.returncode, (forked.describe(), plain.describe())
    assert forked.stderr == plain.stderr
    assert forked.unparsed_lines == plain.unparsed_lines
    assert comparable(forked) == comparable(plain)
    if args == ("spec",):
        assert forked.stdout == plain.stdout and forked.of_type("SPEC")


def test_runs_overlap_and_keep_their_own_output():
    from concurrent.futures import ThreadPoolExecutor

    commands = [("spec",), ("bogus-command",)] * 2
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        results = list(pool.map(lambda args: cli.run_cli(*args), commands))
    for args, result in zip(commands, results):
        if args == ("spec",):
            assert result.returncode == 0 and result.of_type("SPEC") and not result.stderr
        else:
            assert result.returncode == 2 and b"invalid choice: 'bogus-command'" in result.stderr and not result.stdout


def test_a_run_past_its_timeout_is_killed():
    with pytest.raises(subprocess.TimeoutExpired):
        cli.run_cli("read", {"base_url": "http://127.0.0.1:9"}, cli.catalog_for(["space"]), timeout=0.01)


def test_a_changed_environment_gets_a_fresh_process(monkeypatch):
    """Modules read some variables when imported (e.g. AIRBYTE_STAGING_DIRECTORY): the launcher's imports would be stale."""
    with monkeypatch.context() as patch:
        patch.setenv("AIRBYTE_STAGING_DIRECTORY", "/nonexistent")
        assert cli._forking_launcher(cli._connector_env()) is None
    assert cli._forking_launcher(cli._connector_env()) is not None
    assert cli._forking_launcher(cli._connector_env(extra_env={"AIRBYTE_STAGING_DIRECTORY": "/nonexistent"})) is None
