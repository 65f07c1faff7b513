"""The Cloud media host (`api.media.atlassian.com`): a second origin that serves attachment bytes.

Confluence Cloud answers an attachment download (the REST `content/{id}/child/attachment/{attId}/download`,
the web `/wiki/download/attachments/...`, and both through the API gateway) with a 302 to the media host,
`/file/{fileId}/binary?token=<short-lived token>&client=<client id>&name=<file name>`. The media host
trusts only that token: it needs no Confluence credentials, and a client must not send them there.

Here the media host is its own WSGI app on its own listener (another port and, by default, another host
name), so it is another origin. Tokens are an expiry on the emulator clock plus an HMAC over (file id,
expiry) keyed by the seed: deterministic, bound to one file. Its request log records, per request,
whether an Authorization header or a Cookie arrived (never their values) and whether a token came.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

JSON_CT = "application/json;charset=UTF-8"


def file_id(attachment_id: str) -> str:
    """The media file id of an attachment: the same `fileId` the v2 attachment shape shows."""
    return "f" + attachment_id[3:]


class MediaHost:
    def __init__(self, site, seed: int, purged: set, token_ttl_seconds: int = 300):
        self.site = site
        self.seed = seed
        self.token_ttl_seconds = token_ttl_seconds
        self.url = "http://localhost:0"  # set once the listener is bound
        self.client_id = "emu-media-" + hashlib.sha256(("media-client|%s" % seed).encode()).hexdigest()[:12]
        self._key = hashlib.sha256(("media-key|%s" % seed).encode()).digest()
        self.purged = purged  # attachment ids whose bytes are gone (EmulatorApp.purged_files)
        self.log: list[dict] = []
        self.lock = threading.Lock()

    # ------------------------------------------------------------------ tokens
    def _signature(self, fid: str, expires_ms: int) -> str:
        return hmac.new(self._key, ("%s|%d" % (fid, expires_ms)).encode(), hashlib.sha256).hexdigest()[:40]

    def token(self, fid: str) -> str:
        expires_ms = self.site.clock.now_ms() + self.token_ttl_seconds * 1000
        return "%d.%s" % (expires_ms, self._signature(fid, expires_ms))

    def check(self, fid: str, token: str | None) -> int | None:
        """None if the token opens this file now; otherwise the status the media host answers."""
        if not token:
            return 401
        expires, _, signature = token.partition(".")
        if not expires.isdigit() or not hmac.compare_digest(signature, self._signature(fid, int(expires))):
            return 403  # forged, or issued for another file
        if self.site.clock.now_ms() >= int(expires):
            return 403  # expired: the client has to ask Confluence for a fresh redirect
        return None

    def location(self, attachment) -> str:
        fid = file_id(attachment.id)
        return "%s/file/%s/binary?token=%s&client=%s&name=%s" % (
            self.url, fid, self.token(fid), self.client_id, quote(attachment.filename, safe=""))

    # ------------------------------------------------------------------ WSGI
    def __call__(self, environ, start_response):
        request = Request(environ)
        parts = request.path.strip("/").split("/")
        status, response = 404, None
        if len(parts) == 3 and parts[0] == "file" and parts[2] == "binary" and request.method in ("GET", "HEAD"):
            fid = parts[1]
            refused = self.check(fid, request.args.get("token"))
            with self.site.lock:
                attachment = self.site.content.get("att" + fid[1:]) if fid.startswith("f") else None
            if refused is not None:
                status = refused
                response = _error(refused, "Unauthorized" if refused == 401 else "Forbidden")
            elif attachment is None or attachment.type != "attachment" or attachment.id in self.purged or attachment.status == "deleted":
                status, response = 404, _error(404, "File not found")
            else:
                status = 200
                response = Response(attachment.blob, content_type=attachment.media_type)
                response.headers["Content-Disposition"] = 'attachment; filename="%s"' % quote(attachment.filename, safe="")
                response.headers["Cache-Control"] = "private, max-age=0"
        if response is None:
            response = _error(404, "Not found")
        with self.lock:
            self.log.append({"method": request.method, "path": request.path, "status": status,
                             "token": "token" in request.args,
                             "authorization": "Authorization" in request.headers,
                             "cookie": "Cookie" in request.headers,
                             "time": time.time()})
        return response(environ, start_response)


def _error(status: int, title: str) -> Response:
    body = json.dumps({"error": {"code": title.replace(" ", ""), "title": title}})
    return Response(body, status=status, content_type=JSON_CT)
