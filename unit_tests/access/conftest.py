"""The emulator the access tests read from: one per deployment, per test module."""

import pytest

from confluence_emulator import Emulator


@pytest.fixture(scope="module", params=["cloud", "data_center"])
def emu(request):
    with Emulator(profile=request.param, seed=21, pages=120, time_zone="UTC") as emulator:
        yield emulator
