"""Issue 6 (and 4): every bad config and bad state gets a clear, classified message, never a crash.

One table, ``CASES``: what the user gave, and the key part of the message `check` and `read` answer
with, through the real console entry point (`python -m source_confluence.run`, a subprocess). For a
config the connector cannot use, `check` answers CONNECTION_STATUS FAILED with the message (exit 0,
as the CDK does) and `read` a TRACE error with `failure_type: config_error` (exit 1). No message may
be a Python traceback, and no stack trace may reach stdout or stderr outside a TRACE's stack_trace.

The same table is written to docs/bad-input.md (`python -m integration_tests.test_bad_input` rewrites
it; ``test_doc_lists_every_case`` fails when the two differ).

Decisions the table records:

* ``space_keys: []`` reads every space the account can see, as the spec's description says ("Empty
  reads every space the account can see"), the same as leaving the field out.
* A legacy per-stream state for pages (one global ``lastModifiedAt``, what a connector without
  per-space partitions wrote) is migrated by the CDK: every space's partition starts from that
  cursor (minus the lookback window), so nothing older is re-read and the next state is per space.
* A state that is a JSON object of objects (Airbyte's pre-per-stream format) is migrated to
  per-stream messages; anything else that is not a list of state messages is refused with a
  config_error rather than silently starting over.
"""

import copy
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest
import requests

from confluence_emulator import Emulator
from integration_tests.cli import CliResult, catalog_for, run_cli
from integration_tests.emulator_configs import connector_config

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "bad-input.md"
READ_STREAMS = ("space", "pages")
UNREACHABLE_SECONDS = 60  # the probe gives up after 3 connects 1 s apart (plus start-up on a busy CI box); HTTP retries took 5+ minutes

# A token in a value of the wrong shape: Airbyte's secret filter does not know it, so only the message can keep it hidden.
LISTED_SECRET = "tok-listed-5e1d-never-print"

# Either a JSON value, or raw text for a file that is not JSON.
Input = Any


@dataclass
class Env:
    cloud: Emulator
    data_center: Emulator
    gateway: Emulator

    def cloud_config(self, **overrides: Any) -> Dict[str, Any]:
        return connector_config(self.cloud.info, "api_token", **overrides)

    def dc_config(self, **overrides: Any) -> Dict[str, Any]:
        return connector_config(self.data_center.info, "personal_access_token", **overrides)


@dataclass
class Case:
    name: str
    what: str
    build: Callable[[Env], Dict[str, Any]]  # -> {"config": ..., "state"?: ..., "catalog"?: ...}
    check: Optional[str]  # key part of check's message; None: check succeeds
    read: Optional[str]  # key part of read's config_error message; None: the read succeeds
    commands: tuple = ("check", "read")
    streams: tuple = READ_STREAMS
    sync_mode: str = "full_refresh"
    note: str = ""


def _without(mapping: Dict[str, Any], key: str) -> Dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


def _with_credentials(config: Dict[str, Any], **changes: Any) -> Dict[str, Any]:
    config = copy.deepcopy(config)
    config["credentials"].update(changes)
    return config


def _rotated_away_oauth(env: Env) -> Dict[str, Any]:
    """An OAuth config whose refresh token was rotated away by another client, outside the reuse leeway."""
    config = connector_config(env.gateway.info, "oauth2")
    credentials = config["credentials"]
    answer = requests.post(
        config["oauth_token_url"],
        json={"grant_type": "refresh_token", "client_id": credentials["client_id"],
              "client_secret": credentials["client_secret"], "refresh_token": credentials["refresh_token"]},
        timeout=10,
    )
    assert answer.ok, answer.text
    env.gateway.admin.advance_clock(11 * 60)  # past the 10-minute reuse leeway
    return {"config": config}


def _legacy_state(env: Env) -> Dict[str, Any]:
    cutoff = _emulator_now(env.cloud) - timedelta(days=1)
    env.cloud.admin.create_page(space_key="ENG", title="Written after the legacy cursor")
    state = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "pages"},
                                           "stream_state": {"lastModifiedAt": cutoff.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}}]
    return {"config": env.cloud_config(), "state": state, "cutoff": cutoff}


def _per_space_state(env: Env) -> Dict[str, Any]:
    """The state 0.1.x wrote: one cursor per space. HR's is the older one, so the sync resumes from it."""
    now = _emulator_now(env.cloud)
    cursors = {"ENG": now - timedelta(hours=6), "HR": now - timedelta(days=1)}
    env.cloud.admin.create_page(space_key="ENG", title="Written after the per-space cursors")
    stream_state = {
        "states": [{"partition": {"parent_slice": {}, "space_key": key}, "cursor": {"lastModifiedAt": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}
                   for key, moment in cursors.items()],
        "use_global_cursor": False,
    }
    state = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "pages"}, "stream_state": stream_state}}]
    return {"config": env.cloud_config(), "state": state, "cutoff": min(cursors.values())}


def _emulator_now(emulator: Emulator) -> datetime:
    clock = emulator.admin.clock()
    text = clock["now"] if isinstance(clock, dict) else str(clock)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


CASES: List[Case] = [
    Case("num_workers_not_a_number", '`num_workers: "ten"`',
         lambda env: {"config": env.cloud_config(num_workers="ten")},
         check="'num_workers' (Concurrent workers) must be a whole number from 1 to 40, e.g. 8; got 'ten'.",
         read="'num_workers' (Concurrent workers) must be a whole number from 1 to 40, e.g. 8; got 'ten'."),
    Case("start_date_not_a_date", '`start_date: "yesterday"`',
         lambda env: {"config": env.cloud_config(start_date="yesterday")},
         check="'start_date' (Start date) must be a date and time (ISO 8601), written exactly like 2024-01-01T00:00:00Z; got 'yesterday'.",
         read="'start_date' (Start date) must be a date and time (ISO 8601), written exactly like 2024-01-01T00:00:00Z; got 'yesterday'."),
    Case("space_keys_not_a_list", '`space_keys: "ENG"`',
         lambda env: {"config": env.cloud_config(space_keys="ENG")},
         check="'space_keys' (Space keys) must be a list of non-empty texts, e.g. [\"ENG\", \"HR\"]; got 'ENG'.",
         read="'space_keys' (Space keys) must be a list of non-empty texts, e.g. [\"ENG\", \"HR\"]; got 'ENG'."),
    Case("unknown_auth_type", '`credentials.auth_type: "magic"`',
         lambda env: {"config": env.cloud_config(credentials={"auth_type": "magic", "token": "magic-secret-value"})},
         check="'credentials.auth_type' must name a sign-in method, one of 'api_token' (API token (Cloud)), 'scoped_api_token' "
               "(Scoped API token (Cloud, through the API gateway)), 'oauth2' (OAuth 2.0 (Cloud)), 'personal_access_token' "
               "(Personal access token (Data Center)), 'password' (Username and password (Data Center)); got 'magic'.",
         read="'credentials.auth_type' must name a sign-in method"),
    Case("missing_credentials", "no `credentials`",
         lambda env: {"config": _without(env.cloud_config(), "credentials")},
         check="'credentials' (Authentication) is missing; choose a sign-in method with 'auth_type' and fill in its fields: "
               "'api_token' (API token (Cloud)): email, api_token;",
         read="'credentials' (Authentication) is missing"),
    Case("credentials_missing_token", "`auth_type: api_token` without `api_token`",
         lambda env: {"config": {**env.cloud_config(), "credentials": {"auth_type": "api_token", "email": "admin@example.com"}}},
         check="'credentials.api_token' (API token) is missing; sign-in method 'api_token' (API token (Cloud)) needs email and api_token.",
         read="'credentials.api_token' (API token) is missing; sign-in method 'api_token' (API token (Cloud)) needs email and api_token."),
    Case("api_token_not_text", "`credentials.api_token` a list holding the token",
         lambda env: {"config": _with_credentials(env.cloud_config(), api_token=[LISTED_SECRET])},
         check="'credentials.api_token' (API token) must be non-empty text",
         read="'credentials.api_token' (API token) must be non-empty text",
         note="the value is never shown: the field is a secret"),
    Case("unknown_deployment", '`deployment: "server"`',
         lambda env: {"config": env.cloud_config(deployment="server")},
         check="'deployment' (Deployment) must be one of 'cloud', 'data_center'; got 'server'.",
         read="'deployment' (Deployment) must be one of 'cloud', 'data_center'; got 'server'."),
    Case("cloud_credentials_on_data_center", "API token with `deployment: data_center`",
         lambda env: {"config": env.dc_config(credentials=env.cloud_config()["credentials"])},
         check="Sign-in method 'api_token' is for Confluence Cloud, but 'deployment' is data_center.",
         read="Sign-in method 'api_token' is for Confluence Cloud, but 'deployment' is data_center."),
    Case("data_center_credentials_on_cloud", "personal access token with `deployment: cloud`",
         lambda env: {"config": env.cloud_config(credentials=env.dc_config()["credentials"])},
         check="Sign-in method 'personal_access_token' is for Confluence Data Center, but 'deployment' is cloud.",
         read="Sign-in method 'personal_access_token' is for Confluence Data Center, but 'deployment' is cloud."),
    Case("base_url_without_scheme", '`base_url: "acme.atlassian.net"`',
         lambda env: {"config": env.cloud_config(base_url="acme.atlassian.net")},
         check="'base_url' must be a full URL such as https://acme.atlassian.net; got 'acme.atlassian.net'.",
         read="'base_url' must be a full URL such as https://acme.atlassian.net"),
    Case("base_url_with_query", "`base_url` with `?x=1`",
         lambda env: {"config": env.cloud_config(base_url=env.cloud.base_url + "/?x=1")},
         check="'base_url' must not carry a query or fragment",
         read="'base_url' must not carry a query or fragment"),
    Case("plain_http_remote_host", '`base_url: "http://confluence.example.com"`',
         lambda env: {"config": env.cloud_config(base_url="http://confluence.example.com")},
         check="'base_url' uses plain http, which would send your credentials unencrypted. Use https, or set 'allow_insecure_http'",
         read="'base_url' uses plain http"),
    Case("wrong_token", "a wrong API token",
         lambda env: {"config": _with_credentials(env.cloud_config(), api_token="not-the-token")},
         check="Confluence refused the request (HTTP 403): the credentials are wrong",
         read="Confluence refused the request (HTTP 403): the credentials are wrong"),
    Case("wrong_password", "a wrong Data Center password",
         lambda env: {"config": connector_config(env.data_center.info, "password", credentials={
             "auth_type": "password", "username": "admin", "password": "not-the-password"})},
         check="Confluence did not accept the credentials (HTTP 401)",
         read="Confluence did not accept the credentials (HTTP 401)"),
    Case("oauth_refresh_token_rotated_away", "an OAuth refresh token another client already rotated away",
         _rotated_away_oauth,
         check="Re-authenticate this source's credentials in its connection settings.",
         read="Re-authenticate this source's credentials in its connection settings."),
    Case("wrong_url_404", "a Data Center `base_url` with the wrong context path",
         lambda env: {"config": env.dc_config(base_url=env.data_center.base_url + "/wrong")},
         check="Confluence answered 404 for",
         read="Confluence answered 404 for"),
    Case("unreachable_host", "`base_url` on a closed port (connection refused)",
         lambda env: {"config": env.cloud_config(base_url="http://127.0.0.1:9")},
         check="Confluence at http://127.0.0.1:9 is unreachable (connection refused on port 9).",
         read="Confluence at http://127.0.0.1:9 is unreachable (connection refused on port 9).",
         note=f"answered within {UNREACHABLE_SECONDS} s: three connects 1 s apart instead of minutes of HTTP retries"),
    Case("space_keys_unknown", '`space_keys: ["ENG", "NOPE"]` (NOPE does not exist or is not visible)',
         lambda env: {"config": env.cloud_config(space_keys=["ENG", "NOPE"])},
         check="These space keys do not exist or this account cannot see them: NOPE.",
         read=None, note="read syncs the spaces that exist"),
    Case("space_keys_empty", "`space_keys: []`",
         lambda env: {"config": env.cloud_config(space_keys=[])},
         check=None, read=None, note="treated as every space the account can see, as the spec says"),
    Case("audit_as_non_admin", "the audit stream read by an account that is not an administrator",
         lambda env: {"config": connector_config(env.cloud.info, "api_token", reader=True)},
         check=None, read=None, commands=("read",), streams=("space", "audit"),
         note="audit is skipped with a warning; the sync succeeds"),
    Case("config_not_json", "a config file that is not JSON",
         lambda env: {"config": "{not json"},
         check="The config file", read="is not valid JSON"),
    Case("state_not_json", "a state file that is not JSON",
         lambda env: {"config": env.cloud_config(), "state": "[{"},
         check=None, read="The state file", commands=("read",), sync_mode="incremental"),
    Case("state_wrong_shape_object", '`{"pages": "x"}`',
         lambda env: {"config": env.cloud_config(), "state": {"pages": "x"}},
         check=None, read="The state is not a list of Airbyte state messages, and as a legacy per-stream object its entry 'pages' is not an object.",
         commands=("read",), sync_mode="incremental"),
    Case("state_list_of_garbage", '`[1, "x"]`',
         lambda env: {"config": env.cloud_config(), "state": [1, "x"]},
         check=None, read="State message #1 is not an object (got 1).", commands=("read",), sync_mode="incremental"),
    Case("state_stream_state_not_object", 'a STREAM message whose `stream_state` is `"x"`',
         lambda env: {"config": env.cloud_config(), "state": [{"type": "STREAM", "stream": {
             "stream_descriptor": {"name": "pages"}, "stream_state": "x"}}]},
         check=None, read="State message #1: the state of stream 'pages' is not an object", commands=("read",),
         sync_mode="incremental"),
    Case("state_stretch_without_valid_times", "a `date-range` state for pages whose stretch starts `\"yesterday\"`",
         lambda env: {"config": env.cloud_config(), "state": [{"type": "STREAM", "stream": {
             "stream_descriptor": {"name": "pages"}, "stream_state": {"state_type": "date-range", "slices": [
                 {"start": "yesterday", "end": "2024-01-01T00:00:00.000000Z"}]}}}]},
         check=None, read="State message #1: the state of stream 'pages' lists a stretch of time without a valid start and end",
         commands=("read",), sync_mode="incremental"),
    Case("legacy_global_cursor_state", "a legacy per-stream state for pages: one global `lastModifiedAt`",
         _legacy_state, check=None, read=None, commands=("read",), streams=("pages",), sync_mode="incremental",
         note="read as the site-wide cursor: the sync starts from it (less the lookback), nothing older is re-read"),
    Case("per_space_state_of_0_1", "the state 0.1.x wrote for pages: one `lastModifiedAt` per space",
         _per_space_state, check=None, read=None, commands=("read",), streams=("pages",), sync_mode="incremental",
         note="migrated: the oldest space cursor becomes the site-wide cursor, nothing older is re-read"),
]

BY_NAME = {case.name: case for case in CASES}
assert len(BY_NAME) == len(CASES)


def _run_case(case: Case, env: Env) -> Dict[str, Any]:
    inputs = case.build(env)
    outcome: Dict[str, Any] = {"inputs": inputs}
    for command in case.commands:
        started = time.monotonic()
        if command == "check":
            result = run_cli("check", inputs["config"])
        else:
            catalog = inputs.get("catalog") or catalog_for(case.streams, case.sync_mode)
            result = run_cli("read", inputs["config"], catalog, inputs.get("state"))
        outcome[command] = result
        outcome[command + "_seconds"] = time.monotonic() - started
    return outcome


@pytest.fixture(scope="module")
def outcomes() -> Dict[str, Dict[str, Any]]:
    with Emulator(profile="cloud", seed=31, pages=12, time_zone="UTC") as cloud, \
            Emulator(profile="data_center", seed=32, pages=8) as data_center, \
            Emulator(profile="gateway", seed=33, pages=8) as gateway:
        env = Env(cloud=cloud, data_center=data_center, gateway=gateway)
        with ThreadPoolExecutor(max_workers=6) as pool:
            futures = {case.name: pool.submit(_run_case, case, env) for case in CASES}
            results = {}
            for name, future in futures.items():
                try:
                    results[name] = future.result()
                except BaseException as error:  # reported by that case's test
                    results[name] = {"error": error}
        site = cloud.admin.site()
        results["_truth"] = {"cloud_spaces": {space["key"] for space in site["spaces"]}, "cloud_pages": len(site["page_ids"])}
    return results


TRACEBACK = re.compile(rb"Traceback \(most recent call last\)|^\s+File \"", re.MULTILINE)


def assert_no_traceback(result: CliResult) -> None:
    """No traceback on stderr, in a non-JSON stdout line, or as any message a user reads."""
    assert not TRACEBACK.search(result.stderr), result.describe()
    assert not result.unparsed_lines, result.describe()
    for error in result.errors:
        assert "Traceback (most recent call last)" not in (error.get("message") or ""), result.describe()
    status = result.connection_status
    if status:
        assert "Traceback" not in (status.get("message") or ""), result.describe()


def assert_check(case: Case, result: CliResult) -> None:
    assert_no_traceback(result)
    status = result.connection_status
    assert status is not None, result.describe()
    if case.check is None:
        assert status["status"] == "SUCCEEDED", result.describe()
        assert result.returncode == 0
        return
    assert status["status"] == "FAILED", result.describe()
    assert case.check in (status.get("message") or ""), f"expected {case.check!r} in {status.get('message')!r}"
    assert result.returncode == 0, "check answers a config error with FAILED, not a crash"
    for error in result.errors:
        assert error["failure_type"] == "config_error", error


def assert_read(case: Case, result: CliResult) -> None:
    assert_no_traceback(result)
    if case.read is None:
        assert result.returncode == 0 and not result.errors, result.describe()
        return
    assert result.errors, result.describe()
    first = result.errors[0]
    assert first["failure_type"] == "config_error", first
    assert case.read in first["message"], f"expected {case.read!r} in {first['message']!r}"
    assert result.returncode != 0, result.describe()


@pytest.mark.parametrize("name", [case.name for case in CASES])
def test_bad_input(outcomes, name):
    case, outcome = BY_NAME[name], outcomes[name]
    if "error" in outcome:
        raise outcome["error"]
    print(name, {k: round(v, 1) for k, v in outcome.items() if k.endswith("_seconds")})
    if "check" in case.commands:
        assert_check(case, outcome["check"])
    if "read" in case.commands:
        assert_read(case, outcome["read"])
    extra = EXTRA_CHECKS.get(name)
    if extra:
        extra(outcome, outcomes["_truth"])


def _space_keys_empty(outcome, truth) -> None:
    keys = {record["key"] for record in outcome["read"].records("space")}
    assert keys == truth["cloud_spaces"], "[] reads every space"


def _space_keys_unknown(outcome, truth) -> None:
    read = outcome["read"]
    assert {record["key"] for record in read.records("space")} == {"ENG"}


def _audit_as_non_admin(outcome, truth) -> None:
    read = outcome["read"]
    assert read.records("space"), "the other stream still syncs"
    assert not read.records("audit")
    assert any("Skipping the audit stream" in message for message in read.logs("WARN") + read.logs("INFO")), read.describe()


def _unreachable(outcome, truth) -> None:
    assert outcome["check_seconds"] < UNREACHABLE_SECONDS and outcome["read_seconds"] < UNREACHABLE_SECONDS, outcome


def _legacy_state_migrated(outcome, truth, title="Written after the legacy cursor") -> None:
    read, cutoff = outcome["read"], outcome["inputs"]["cutoff"]
    pages = read.records("pages")
    lookback = timedelta(minutes=15)
    assert title in {p["title"] for p in pages}, "the page changed after the cursor is read"
    assert len(pages) < truth["cloud_pages"], "everything was re-read"
    modified = [datetime.strptime(p["lastModifiedAt"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc) for p in pages]
    assert min(modified) >= cutoff - lookback - timedelta(days=1), "older pages were re-read: the state was ignored"
    states = [m["state"] for m in read.of_type("STATE")]
    final = states[-1]["stream"]["stream_state"]
    # The next state: the site-wide cursor, the stretches of time read and, read in one, where its windows ended
    # (components/checkpoints.py), and the spaces it covered (components/space_catch_up.py).
    assert set(final) == {"lastModifiedAt", "state_type", "slices", "read_until", "spaces"} and final["state_type"] == "date-range", final
    assert len(final["slices"]) == 1 and final["read_until"] >= final["slices"][0]["end"], final


def _secret_not_shown(outcome, truth) -> None:
    for command in ("check", "read"):
        result = outcome[command]
        assert LISTED_SECRET.encode() not in result.stdout + result.stderr, result.describe()


EXTRA_CHECKS = {
    "api_token_not_text": _secret_not_shown,
    "space_keys_empty": _space_keys_empty,
    "space_keys_unknown": _space_keys_unknown,
    "audit_as_non_admin": _audit_as_non_admin,
    "unreachable_host": _unreachable,
    "legacy_global_cursor_state": _legacy_state_migrated,
    "per_space_state_of_0_1": lambda outcome, truth: _legacy_state_migrated(outcome, truth, "Written after the per-space cursors"),
}


def render_doc() -> str:
    lines = [
        "# Bad input: what each case answers",
        "",
        "Generated from `CASES` in `integration_tests/test_bad_input.py` (`python -m integration_tests.test_bad_input`",
        "rewrites this file; a test fails when it is out of date). Each message is the key part the tests assert, from",
        "the real console entry point: `check` answers CONNECTION_STATUS FAILED with the message; `read` a TRACE error",
        "with `failure_type: config_error` and exits non-zero. \"succeeds\" means no error. Messages never include a",
        "secret value or a stack trace.",
        "",
        "| case | input | `check` | `read` | note |",
        "|---|---|---|---|---|",
    ]

    def cell(text: Optional[str], ran: bool) -> str:
        if not ran:
            return "(not run)"
        return "succeeds" if text is None else text.replace("|", "\\|")

    for case in CASES:
        lines.append(
            f"| {case.name} | {case.what.replace('|', chr(92) + '|')} | {cell(case.check, 'check' in case.commands)} | "
            f"{cell(case.read, 'read' in case.commands)} | {case.note} |"
        )
    return "\n".join(lines) + "\n"


def test_doc_lists_every_case():
    assert DOC.exists() and DOC.read_text() == render_doc(), "run: python -m integration_tests.test_bad_input"


if __name__ == "__main__":
    DOC.write_text(render_doc())
    print(f"wrote {DOC}")
