"""A local HTTP server on a free port, for tests that count what a client does on the wire."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Type


class QuietHandler(BaseHTTPRequestHandler):
    """A handler that logs nothing and can answer a short body."""

    def answer(self, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class LocalServer:
    """``handler`` served on 127.0.0.1 from a daemon thread; ``url`` is its root, ``close`` (or leaving a ``with``)
    stops it."""

    def __init__(self, handler: Type[BaseHTTPRequestHandler]):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "LocalServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
