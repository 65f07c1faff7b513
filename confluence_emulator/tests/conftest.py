import os
from pathlib import Path

import pytest
import requests

from confluence_emulator import Emulator


def specs_dir():
    env = os.environ.get("CONFLUENCE_API_SPECS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "confluence-api"


class Client:
    def __init__(self, emu, role="admin", kind=None):
        self.emu = emu
        info = emu.info
        creds = info["credentials" if role == "admin" else "reader_credentials"]
        self.s = requests.Session()
        prof = info["profile"]
        if prof == "data_center":
            c = creds["password"]
            self.s.auth = (c["username"], c["password"])
            self.v1 = info["base_url"] + "/rest/api"
            self.v2 = None
        else:
            c = creds["api_token"]
            self.s.auth = (c["email"], c["api_token"])
            self.v1 = info["base_url"] + "/wiki/rest/api"
            self.v2 = info["base_url"] + "/wiki/api/v2"

    def get(self, url, **kw):
        return self.s.get(url, timeout=30, **kw)


@pytest.fixture(scope="session")
def cloud():
    with Emulator(profile="cloud", seed=7, pages=60, time_zone="America/New_York") as emu:
        yield emu


@pytest.fixture(scope="session")
def gateway():
    """Shared, read-only: tests that advance the clock, rotate tokens or set faults use `fresh_gateway`."""
    with Emulator(profile="gateway", seed=11, pages=40, time_zone="UTC") as emu:
        yield emu


@pytest.fixture
def fresh_gateway():
    with Emulator(profile="gateway", seed=11, pages=40, time_zone="UTC") as emu:
        yield emu


@pytest.fixture(scope="session")
def dc():
    with Emulator(profile="data_center", seed=5, pages=60, time_zone="Asia/Shanghai") as emu:
        yield emu


@pytest.fixture
def fresh_cloud():
    with Emulator(profile="cloud", seed=3, pages=40, time_zone="America/New_York") as emu:
        yield emu
