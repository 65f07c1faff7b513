"""server.py: the two HTTP servers. werkzeug closes each connection; keepalive (cheroot) keeps it, TLS too."""
import http.client
import ssl
import time
from base64 import b64encode
from urllib.parse import urlsplit

import pytest

from confluence_emulator import Emulator


def _requests_on_one_connection(emu, count):
    """Send ``count`` GETs on one HTTP connection; -> the status and Connection header of each answer."""
    url = urlsplit(emu.base_url)
    if emu.tls:
        context = ssl.create_default_context(cafile=emu.info["ca_cert_path"])
        conn = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=10)
    else:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    cred = emu.info["credentials"]["api_token"]
    auth = "Basic " + b64encode(("%s:%s" % (cred["email"], cred["api_token"])).encode()).decode()
    answers = []
    try:
        for _ in range(count):
            conn.request("GET", "/wiki/rest/api/content/search?cql=type%3Dpage&limit=5", headers={"Authorization": auth})
            response = conn.getresponse()
            response.read()
            answers.append((response.status, response.getheader("Connection")))
            if response.will_close:
                break
    finally:
        conn.close()
    return answers


@pytest.mark.parametrize("tls", [False, True])
def test_the_keepalive_server_answers_several_requests_on_one_connection(tls):
    with Emulator(pages=20, tls=tls, server="keepalive") as emu:
        assert emu.info["server"] == "keepalive"
        assert _requests_on_one_connection(emu, 3) == [(200, None)] * 3
        assert emu.admin.stats()["total"] == 3


def test_the_werkzeug_server_closes_the_connection_after_each_answer():
    with Emulator(pages=20, server="werkzeug") as emu:
        assert _requests_on_one_connection(emu, 3) == [(200, "close")]


def test_the_keepalive_server_refuses_the_connection_faults_it_cannot_emulate():
    with pytest.raises(ValueError, match="reset_ratio"):
        Emulator(pages=5, server="keepalive", faults={"reset_ratio": 0.1})
    with pytest.raises(ValueError, match="server must be one of"):
        Emulator(pages=5, server="gunicorn")


def test_the_log_says_when_each_request_arrived_and_how_long_the_emulator_held_it():
    with Emulator(pages=20, server="keepalive", latency_ms=300) as emu:
        sent = time.time()
        _requests_on_one_connection(emu, 1)
        answered = time.time()
        (entry,) = emu.admin.requests()
        assert 300 <= entry["elapsed_ms"] < 5000
        # Its arrival, not its answer (one latency later): readers of the log add elapsed_ms to it.
        assert sent <= entry["time"] < sent + 0.25
        assert entry["time"] + entry["elapsed_ms"] / 1000 <= answered + 0.01


def _open_connection(emu):
    url = urlsplit(emu.base_url)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=10)


def test_the_keepalive_server_keeps_more_than_ten_idle_connections_open():
    """A client with a pool per endpoint holds many idle connections; cheroot's default answered the 11th with
    "Connection: close" (each of that client's requests then paid a new handshake)."""
    with Emulator(pages=20, server="keepalive") as emu:
        cred = emu.info["credentials"]["api_token"]
        auth = "Basic " + b64encode(("%s:%s" % (cred["email"], cred["api_token"])).encode()).decode()
        connections = [_open_connection(emu) for _ in range(16)]
        try:
            for round_ in range(2):
                for conn in connections:  # each answered, then left idle while the others ask
                    conn.request("GET", "/wiki/rest/api/space?limit=1", headers={"Authorization": auth})
                    response = conn.getresponse()
                    response.read()
                    assert (round_, response.status, response.getheader("Connection")) == (round_, 200, None)
        finally:
            for conn in connections:
                conn.close()
        assert emu.admin.stats()["total"] == 32
