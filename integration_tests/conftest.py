"""Emulators for the integration tests, and the secrets/ configs Airbyte's standard tests read."""

import json
from pathlib import Path
from typing import Iterator

import pytest

from confluence_emulator import Emulator
from integration_tests.emulator_configs import connector_config

ROOT = Path(__file__).resolve().parents[1]
SECRETS = ROOT / "secrets"


@pytest.fixture(scope="session")
def cloud_emulator() -> Iterator[Emulator]:
    with Emulator(profile="cloud", seed=11, pages=80, time_zone="America/New_York") as emulator:
        yield emulator


@pytest.fixture(scope="session")
def gateway_emulator() -> Iterator[Emulator]:
    with Emulator(profile="gateway", seed=12, pages=80, time_zone="Europe/Berlin") as emulator:
        yield emulator


@pytest.fixture(scope="session")
def data_center_emulator() -> Iterator[Emulator]:
    with Emulator(profile="data_center", seed=13, pages=80, time_zone="Asia/Singapore") as emulator:
        yield emulator


@pytest.fixture(scope="session")
def emulators(cloud_emulator: Emulator, gateway_emulator: Emulator, data_center_emulator: Emulator):
    return {"cloud": cloud_emulator, "gateway": gateway_emulator, "data_center": data_center_emulator}


@pytest.fixture(scope="session", autouse=True)
def standard_test_configs(cloud_emulator: Emulator, data_center_emulator: Emulator) -> None:
    """Write the configs acceptance-test-config.yml names; the emulators' ports change every run."""
    SECRETS.mkdir(exist_ok=True)
    cloud = connector_config(cloud_emulator.info, "api_token")
    data_center = connector_config(data_center_emulator.info, "personal_access_token")
    wrong_token = json.loads(json.dumps(cloud))
    wrong_token["credentials"]["api_token"] = "not-the-token"
    wrong_deployment = dict(data_center, deployment="cloud", credentials=cloud["credentials"])
    for name, config in {
        "config_cloud.json": cloud,
        "config_data_center.json": data_center,
        "invalid_config_wrong_token.json": wrong_token,
        "invalid_config_wrong_deployment.json": wrong_deployment,
    }.items():
        (SECRETS / name).write_text(json.dumps(config, indent=2))


def pytest_terminal_summary(terminalreporter) -> None:
    """Show the figures tests recorded (e.g. the fault suite's requests, 429s, retries) in every run's output."""
    lines = [
        f"{report.nodeid.split('::')[-1]}: {value}"
        for status in ("passed", "failed")
        for report in terminalreporter.stats.get(status, [])
        for key, value in getattr(report, "user_properties", [])
        if key == "figures"
    ]
    if lines:
        terminalreporter.section("figures")
        for line in lines:
            terminalreporter.write_line(line)
