"""Issue 6: no secret value appears in anything the connector prints, except the CONTROL message.

Every scenario runs the real console entry point (`python -m source_confluence.run`, a subprocess)
with `--debug` (which logs every request with its headers and every response body), against the
emulator, for every sign-in method, and scans every byte of stdout and stderr for each secret:

* the config's `airbyte_secret` values (tokens, passwords, client id and secret, refresh token);
* what is derived from them: base64(`email:api_token`) and base64(`username:password`), the Basic
  Authorization header (with and without its `=` padding);
* what the emulator issues during the run: the rotated refresh token and the new access token,
  read from the CONTROL messages.

The one legitimate exception is the CONTROL message (`CONNECTOR_CONFIG`) that hands the rotated
OAuth config to the platform to persist: it must carry the new refresh token, so the scan skips
exactly those lines and asserts the secrets appear there and nowhere else.

Faults: 429s (Retry-After 1 s), 503s, 500s, a wrong token, an OAuth refresh token already rotated
away (outside the 10-minute reuse leeway), and an access token that expires server-side mid-run.
"""

import base64
import copy
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Set

import pytest
import requests

from confluence_emulator import Emulator
from integration_tests.cli import CliResult, catalog_for, run_cli
from integration_tests.emulator_configs import PROFILE_AUTH_TYPES, connector_config

STREAMS = ("space", "pages", "group", "audit")
SECRET_FIELDS = ("api_token", "password", "personal_access_token", "client_id", "client_secret", "refresh_token", "access_token")
LIGHT_FAULTS = {"rate_limit_ratio": 0.15, "unavailable_ratio": 0.05}


def config_secrets(config: Dict[str, Any]) -> Set[str]:
    credentials = config.get("credentials") or {}
    found = {str(credentials[name]) for name in SECRET_FIELDS if credentials.get(name)}
    for user_field, secret_field in (("email", "api_token"), ("username", "password")):
        if credentials.get(user_field) and credentials.get(secret_field):
            encoded = base64.b64encode(f"{credentials[user_field]}:{credentials[secret_field]}".encode()).decode()
            found |= {encoded, encoded.rstrip("=")}
    return found


def issued_secrets(result: CliResult) -> Set[str]:
    """Tokens the emulator issued during the run, as the CONTROL messages hand them to the platform."""
    found = set()
    for control in result.controls:
        credentials = control["control"]["connectorConfig"]["config"].get("credentials") or {}
        found |= {str(credentials[name]) for name in ("refresh_token", "access_token") if credentials.get(name)}
    return found


def leaks(result: CliResult, secrets: Set[str]) -> List[str]:
    """Every (secret, where) outside a CONTROL line, over every byte of stdout and stderr."""
    found = []
    for stream_name, data in (("stdout", result.stdout), ("stderr", result.stderr)):
        for number, line in enumerate(data.splitlines()):
            if stream_name == "stdout" and line.startswith(b'{"type":"CONTROL"'):
                continue  # the legitimate exception: the rotated config the platform must persist
            for secret in secrets:
                if secret.encode() in line:
                    found.append(f"{secret[:6]}… in {stream_name} line {number}: {line[:200]!r}")
    return found


@dataclass
class Scenario:
    name: str
    profile: str
    auth: str
    faults: Dict[str, Any] = field(default_factory=dict)
    commands: tuple = ("check", "discover", "read")
    prepare: Optional[Callable[[Emulator, Dict[str, Any]], Dict[str, Any]]] = None
    during: Optional[Callable[[Emulator], None]] = None
    expect_failure: bool = False
    expect_control: bool = False


def _wrong_token(emulator: Emulator, config: Dict[str, Any]) -> Dict[str, Any]:
    config = copy.deepcopy(config)
    key = "personal_access_token" if "personal_access_token" in config["credentials"] else "api_token"
    config["credentials"][key] = "wrong-" + config["credentials"][key][::-1]
    return config


def _refresh(config: Dict[str, Any]) -> Dict[str, Any]:
    credentials = config["credentials"]
    answer = requests.post(config["oauth_token_url"], timeout=10, json={
        "grant_type": "refresh_token", "client_id": credentials["client_id"],
        "client_secret": credentials["client_secret"], "refresh_token": credentials["refresh_token"]})
    answer.raise_for_status()
    return answer.json()


def _rotated_away(emulator: Emulator, config: Dict[str, Any]) -> Dict[str, Any]:
    """Another client spent this refresh token; the reuse leeway is over: the family gets revoked."""
    issued = _refresh(config)
    emulator.admin.advance_clock(11 * 60)
    config = copy.deepcopy(config)
    config["_also_secret"] = [issued["access_token"], issued["refresh_token"]]
    return config


def _expired_access_token(emulator: Emulator, config: Dict[str, Any]) -> Dict[str, Any]:
    """A config holding an access token the platform thinks valid, which the server has expired."""
    issued = _refresh(config)
    config = copy.deepcopy(config)
    config["credentials"].update(
        refresh_token=issued["refresh_token"], access_token=issued["access_token"],
        token_expiry_date=(datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"))
    emulator.admin.advance_clock(2 * 3600)  # expired on the server's clock: the first request gets a 401
    return config


SCENARIOS: List[Scenario] = [
    *(Scenario(f"{auth}_under_429_503", profile, auth, faults=LIGHT_FAULTS, expect_control=(auth == "oauth2"))
      for profile, auth in PROFILE_AUTH_TYPES),
    Scenario("api_token_under_500s", "cloud", "api_token", faults={"error_ratio": 0.08}, commands=("read",)),
    Scenario("api_token_wrong_token", "cloud", "api_token", prepare=_wrong_token, commands=("check", "read"), expect_failure=True),
    Scenario("password_wrong_password", "data_center", "password", commands=("check", "read"), expect_failure=True,
             prepare=lambda emulator, config: {**config, "credentials": {**config["credentials"], "password": "wrong-password-value"}}),
    Scenario("pat_wrong_token", "data_center", "personal_access_token", prepare=_wrong_token, commands=("check", "read"), expect_failure=True),
    Scenario("oauth2_refresh_token_rotated_away", "gateway", "oauth2", prepare=_rotated_away, commands=("check", "read"), expect_failure=True),
    Scenario("oauth2_access_token_expired", "gateway", "oauth2", prepare=_expired_access_token, commands=("read",), expect_control=True),
]


def run_scenario(scenario: Scenario, seed: int) -> Dict[str, Any]:
    with Emulator(profile=scenario.profile, seed=seed, pages=6, faults=scenario.faults) as emulator:
        config = connector_config(emulator.info, scenario.auth)
        if scenario.prepare:
            config = scenario.prepare(emulator, config)
        secrets = config_secrets(connector_config(emulator.info, scenario.auth)) | config_secrets(config)
        secrets |= set(config.pop("_also_secret", []))
        results = {}
        for command in scenario.commands:
            catalog = catalog_for(STREAMS) if command == "read" else None
            results[command] = run_cli(command, config, catalog, debug=True)
        stats = emulator.admin.stats()
    return {"config": config, "secrets": secrets, "results": results, "stats": stats}


@pytest.fixture(scope="module")
def outcomes() -> Dict[str, Any]:
    # All at once: most of a scenario's time is spent waiting out Retry-After and backoff, not computing.
    with ThreadPoolExecutor(max_workers=len(SCENARIOS)) as pool:
        futures = {s.name: pool.submit(run_scenario, s, 700 + i) for i, s in enumerate(SCENARIOS)}
        done = {}
        for name, future in futures.items():
            try:
                done[name] = future.result()
            except BaseException as error:
                done[name] = {"error": error}
    spec = run_cli("spec", debug=True)
    done["_spec"] = spec
    return done


def test_spec_prints_no_secret_and_marks_every_secret_field(outcomes):
    spec = outcomes["_spec"]
    assert spec.returncode == 0, spec.describe()
    properties = spec.of_type("SPEC")[0]["spec"]["connectionSpecification"]["properties"]
    branches = {b["properties"]["auth_type"]["const"]: b["properties"] for b in properties["credentials"]["oneOf"]}
    for auth, fields in {"api_token": ["api_token"], "scoped_api_token": ["api_token"], "personal_access_token": ["personal_access_token"],
                         "password": ["password"], "oauth2": ["client_id", "client_secret", "refresh_token", "access_token"]}.items():
        for name in fields:
            assert branches[auth][name].get("airbyte_secret") is True, (auth, name)


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_no_secret_outside_control_messages(outcomes, name):
    scenario, outcome = next(s for s in SCENARIOS if s.name == name), outcomes[name]
    if "error" in outcome:
        raise outcome["error"]
    secrets = set(outcome["secrets"])
    for result in outcome["results"].values():
        secrets |= issued_secrets(result)
    assert all(len(secret) >= 8 for secret in secrets), "a secret that short would match by accident"
    for command, result in outcome["results"].items():
        assert b"Traceback (most recent call last)" not in result.stderr, result.describe()
        assert not leaks(result, secrets), (command, leaks(result, secrets)[:5])
        debug_lines = [m for m in result.messages if m.get("type") == "DEBUG"]
        assert debug_lines, f"{command}: --debug logged nothing, so the scan proved nothing"
        if scenario.expect_failure:
            assert result.errors or (result.connection_status or {}).get("status") == "FAILED", result.describe()
            for error in result.errors:
                assert error["failure_type"] == "config_error", error
        else:
            assert not result.errors, result.describe()
    # The requests really carried the secret (masked in the logs): the scan looked at the right lines.
    requests_logged = [m for r in outcome["results"].values() for m in r.messages
                       if m.get("type") == "DEBUG" and m.get("message") == "Making outbound API request"]
    if requests_logged:
        assert any("****" in json.dumps(m) for m in requests_logged), "the Authorization header was not masked"
    if scenario.faults:
        assert sum(outcome["stats"]["faults"].values()) >= 1, "no fault was injected"
    if scenario.expect_control:
        controls = [c for r in outcome["results"].values() for c in r.controls]
        assert controls, "the rotated OAuth config was not handed to the platform"
        issued = set().union(*(issued_secrets(r) for r in outcome["results"].values()))
        assert issued - set(outcome["secrets"]), "the CONTROL message carries the newly issued tokens"
        # ...and those tokens appear in the CONTROL lines only.
        control_text = b"\n".join(line for r in outcome["results"].values() for line in r.stdout.splitlines()
                                  if line.startswith(b'{"type":"CONTROL"'))
        assert all(token.encode() in control_text for token in issued)
