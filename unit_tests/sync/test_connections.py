"""connections.py: the sync's HTTP sessions send on one pool of connections, counted by the server that accepts them."""

import logging
import threading

import pytest
import requests
from airbyte_cdk.sources.streams.http.http_client import HttpClient

from source_confluence.sync import connections
from source_confluence.sync.in_flight import InFlightBudget, reading
from unit_tests.local_http import LocalServer, QuietHandler


class KeepAliveServer(LocalServer):
    """A local HTTP/1.1 server that keeps connections open and counts those it accepted."""

    def __init__(self):
        server = self
        self.connections = 0
        self.lock = threading.Lock()

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def setup(self):
                super().setup()
                with server.lock:
                    server.connections += 1

            def do_GET(self):
                self.answer(b'{"results": []}', "application/json")

        super().__init__(Handler)


@pytest.fixture
def server():
    with KeepAliveServer() as started:
        yield started


@pytest.fixture(autouse=True)
def fresh_pool(monkeypatch):
    """Each test starts with no shared pool, so connections a test opened never serve another."""
    monkeypatch.setattr(connections, "_pool", None)


def client(name):
    return HttpClient(name=name, logger=logging.getLogger("test"), authenticator=None)


def send(http_client, url):
    _, response = http_client.send_request("GET", url, headers={}, request_kwargs={})
    assert response.status_code == 200


def test_the_sessions_of_a_sync_send_on_the_same_connection(server):
    first, second = client("pages"), client("blog_posts")
    with reading(InFlightBudget(4)):
        for _ in range(3):
            send(first, server.url + "/a")
            send(second, server.url + "/b")
    # Each CDK client has a session and a pool of its own: without the shared pool, two connections.
    assert server.connections == 1


def test_a_session_closing_leaves_the_shared_connections_to_the_others(server):
    first, second = client("counts"), client("walks")
    with reading(InFlightBudget(4)):
        send(first, server.url + "/a")
        first._session.close()  # the CDK closes its sessions at the end of a read
        send(second, server.url + "/b")
    assert server.connections == 1


def test_the_look_ups_before_the_sync_leave_their_connection_to_it(server):
    assert connections.get(server.url + "/user/current", timeout=5).status_code == 200
    with reading(InFlightBudget(4)):
        send(client("pages"), server.url + "/a")
    assert server.connections == 1


def test_outside_a_read_and_with_other_adapters_nothing_is_shared(server):
    send(client("check"), server.url + "/a")  # not reading: the CDK's own send and pool
    with reading(InFlightBudget(4)):
        session = requests.Session()

        class OwnAdapter(requests.adapters.HTTPAdapter):
            """As the CDK's TCP keep-alive adapter: a pool made its own way."""

        own = OwnAdapter()
        session.mount("http://", own)
        connections.share(session, server.url)
        assert own.poolmanager is not connections.shared_pool()
        send(client("pages"), server.url + "/b")
    assert server.connections == 2
