"""A site whose TLS certificate this machine does not trust (a Data Center behind a private certificate authority,
a proxy that re-signs traffic): `check` and `read` say so at once, as a config error naming the host, instead of
retrying every request for minutes under "Rate limit exceeded. Retrying" (components/backoff.py). Once the
authority is trusted (REQUESTS_CA_BUNDLE, what the message suggests), the same config syncs."""

import time

import pytest

from confluence_emulator import Emulator
from integration_tests.cli import catalog_for, run_cli
from integration_tests.emulator_configs import connector_config

# The HTTP retries it replaces took 5 minutes and more; a failure named at once takes start-up and one request.
NAMED_WITHIN_SECONDS = 60


@pytest.fixture(scope="module")
def tls_site():
    with Emulator(profile="data_center", seed=3, pages=20, tls=True) as emulator:
        yield emulator


@pytest.mark.parametrize("command", ["check", "read"])
def test_an_untrusted_certificate_is_a_config_error_at_once_naming_the_host(tls_site, command):
    config = connector_config(tls_site.info, "personal_access_token")
    started = time.monotonic()
    result = run_cli(command, config, catalog_for(["space"]) if command == "read" else None, extra_env={"REQUESTS_CA_BUNDLE": ""})
    took = time.monotonic() - started
    assert took < NAMED_WITHIN_SECONDS, result.describe()
    expected = "The TLS certificate of 127.0.0.1 is not trusted on this machine"
    if command == "check":
        status = result.connection_status
        assert status is not None and status["status"] == "FAILED", result.describe()
        assert expected in status["message"], status["message"]
    else:
        assert result.errors and result.errors[0]["failure_type"] == "config_error", result.describe()
        assert expected in result.errors[0]["message"], result.errors[0]["message"]
        assert result.returncode != 0
    assert not any("Rate limit exceeded" in line for line in result.logs()), result.describe()


def test_the_same_config_syncs_once_the_authority_is_trusted(tls_site):
    config = connector_config(tls_site.info, "personal_access_token")
    result = run_cli("read", config, catalog_for(["space"]), extra_env={"REQUESTS_CA_BUNDLE": tls_site.info["ca_cert_path"]})
    assert result.returncode == 0 and not result.errors, result.describe()
    assert {record["key"] for record in result.records("space")} == {space.key for space in tls_site.site.spaces.values()}
