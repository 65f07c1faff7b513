"""Credentials derived from the seed, request authentication per surface, and the OAuth 2.0 (3LO) token service."""
from __future__ import annotations

import base64
import hashlib
import threading
from collections import Counter
from typing import Optional

from .errors import ApiError, v1_body


def _secret(seed, *parts, n=32):
    return hashlib.sha256(("cred|%s|" % seed + "|".join(parts)).encode()).hexdigest()[:n]


class Credentials:
    def __init__(self, profile: str, seed: int, site):
        self.profile = profile
        self.seed = seed
        self.site = site
        self.by_user = {}
        admin = site.user_by_any("admin")
        reader = site.user_by_any("reader")
        self.users = {"admin": admin, "reader": reader}
        # secrets: name -> account id
        self.api_tokens = {}      # (email, token) -> account id
        self.scoped_tokens = {}
        self.pats = {}            # token -> account id
        self.passwords = {}       # (username, password) -> account id
        self.oauth_clients = {}   # client_id -> secret
        self.initial_refresh = {}
        for role, u in self.users.items():
            tok = "ATATT3x" + _secret(seed, "api", role, n=40)
            stok = "ATSTT3x" + _secret(seed, "scoped", role, n=40)
            self.api_tokens[(u.email, tok)] = u.account_id
            self.scoped_tokens[(u.email, stok)] = u.account_id
            pat = "NjY" + _secret(seed, "pat", role, n=41)
            self.pats[pat] = u.account_id
            pw = "pw-" + _secret(seed, "password", role, n=16)
            self.passwords[(u.username, pw)] = u.account_id
            self.by_user[role] = {"api_token": tok, "scoped": stok, "pat": pat, "password": pw,
                                  "refresh": "rt-" + _secret(seed, "refresh", role, n=48)}
        self.client_id = "emu-client-" + _secret(seed, "client", n=16)
        self.client_secret = "emu-secret-" + _secret(seed, "client-secret", n=32)

    def info(self, role: str) -> dict:
        u = self.users[role]
        s = self.by_user[role]
        if self.profile == "data_center":
            return {"personal_access_token": {"auth_type": "personal_access_token", "personal_access_token": s["pat"]},
                    "password": {"auth_type": "password", "username": u.username, "password": s["password"]}}
        out = {"api_token": {"auth_type": "api_token", "email": u.email, "api_token": s["api_token"]}}
        if self.profile == "gateway":
            out["scoped_api_token"] = {"auth_type": "scoped_api_token", "email": u.email, "api_token": s["scoped"]}
            out["oauth2"] = {"auth_type": "oauth2", "client_id": self.client_id, "client_secret": self.client_secret,
                             "refresh_token": s["refresh"]}
        return out


class OAuthService:
    """Rotating refresh tokens: each refresh retires the sent token; reusing a retired one after the
    10-minute leeway revokes the family."""

    REUSE_LEEWAY_SECONDS = 600

    SCOPES = ["read:confluence-content.all", "read:confluence-space.summary", "read:page:confluence", "read:space:confluence",
              "read:attachment:confluence", "read:comment:confluence", "read:label:confluence", "read:content.metadata:confluence",
              "search:confluence", "read:confluence-groups", "read:audit-log:confluence", "read:confluence-user", "offline_access"]

    def __init__(self, creds: Credentials, clock, seed: int, ttl_seconds: int = 3600):
        self.creds = creds
        self.clock = clock
        self.seed = seed
        self.ttl = ttl_seconds
        self.lock = threading.Lock()
        self.refresh = {}   # token -> {"family", "account", "retired": bool}
        self.access = {}    # token -> {"family", "account", "exp"}
        self.families = {}  # family -> {"revoked": bool}
        self.counter = 0
        # How each refresh went: "fresh" (a token never used), "reused" (a retired one, within the leeway),
        # "revoked" (a retired one after it: the family is gone), "refused" (unknown or of a revoked family).
        # Shown in the admin stats, so a test that fails on a refused token can say why.
        self.refresh_outcomes: Counter = Counter()
        for role, s in creds.by_user.items():
            fam = "fam-" + role
            self.families[fam] = {"revoked": False}
            self.refresh[s["refresh"]] = {"family": fam, "account": creds.users[role].account_id, "retired": False}

    def _new(self, prefix, fam):
        self.counter += 1
        return prefix + _secret(self.seed, "oauth", fam, str(self.counter), n=40)

    def token(self, form: dict) -> tuple[int, dict]:
        gt = form.get("grant_type")
        if gt != "refresh_token":
            return 400, {"error": "unsupported_grant_type", "error_description": "grant_type must be refresh_token"}
        if form.get("client_id") != self.creds.client_id or form.get("client_secret") != self.creds.client_secret:
            return 401, {"error": "access_denied", "error_description": "Unauthorized"}
        with self.lock:
            rt = self.refresh.get(form.get("refresh_token") or "")
            if rt is None or self.families[rt["family"]]["revoked"]:
                self.refresh_outcomes["refused"] += 1
                return 403, {"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}
            if rt["retired"]:
                # Atlassian tolerates reuse for a short leeway (network retries, parallel workers);
                # after it, reuse looks like theft and the whole family is revoked.
                if self.clock.now_ms() - rt["retired_ms"] > self.REUSE_LEEWAY_SECONDS * 1000:
                    self.refresh_outcomes["revoked"] += 1
                    self._revoke(rt["family"])
                    return 403, {"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}
            self.refresh_outcomes["reused" if rt["retired"] else "fresh"] += 1
            rt["retired"] = True
            rt.setdefault("retired_ms", self.clock.now_ms())
            fam = rt["family"]
            new_rt = self._new("rt-", fam)
            self.refresh[new_rt] = {"family": fam, "account": rt["account"], "retired": False}
            at = self._new("at-", fam)
            self.access[at] = {"family": fam, "account": rt["account"], "exp": self.clock.now_ms() + self.ttl * 1000}
        return 200, {"access_token": at, "refresh_token": new_rt, "expires_in": self.ttl, "scope": " ".join(self.SCOPES),
                     "token_type": "Bearer"}

    def _revoke(self, fam):
        self.families[fam]["revoked"] = True
        for a in self.access.values():
            if a["family"] == fam:
                a["exp"] = 0

    def check_access(self, token: str) -> Optional[str]:
        a = self.access.get(token)
        if a is None or self.families[a["family"]]["revoked"]:
            return None
        if self.clock.now_ms() >= a["exp"]:
            return None
        return a["account"]


def parse_basic(header: str):
    """-> (user, secret) or raises ValueError for malformed headers."""
    raw = header.split(None, 1)[1] if " " in header else ""
    try:
        dec = base64.b64decode(raw.strip(), validate=True).decode("utf-8")
    except Exception:
        raise ValueError("not base64")
    if ":" not in dec:
        raise ValueError("no colon")
    user, pw = dec.split(":", 1)
    if not user or not pw:
        raise ValueError("empty")
    return user, pw


def authenticate(app, request, surface: str):
    """-> (user|None, auth_kind). Raises ApiError for failures with the shape of the real surface."""
    creds: Credentials = app.creds
    site = app.site
    h = request.headers.get("Authorization", "")
    scheme = h.split(" ", 1)[0].lower() if h else ""
    if surface == "dc":
        if not h:
            return None, "anonymous"
        if scheme == "bearer":
            acct = creds.pats.get(h.split(" ", 1)[1].strip() if " " in h else "")
            if acct:
                return site.users[acct], "pat"
            raise ApiError(401, "This request requires authentication", body=v1_body(401, "This request requires authentication", authorized=False))
        if scheme == "basic":
            try:
                u, p = parse_basic(h)
            except ValueError:
                u, p = "", ""
            acct = creds.passwords.get((u, p))
            if acct:
                return site.users[acct], "password"
            html = ("<html><head><title>Unauthorized</title></head><body><h1>HTTP Status 401 - Basic Authentication Failure - "
                    "Reason : AUTHENTICATED_FAILED</h1></body></html>")
            raise ApiError(401, "Basic Authentication Failure - Reason : AUTHENTICATED_FAILED", raw=html.encode(),
                           content_type="text/html;charset=utf-8", headers={"WWW-Authenticate": 'Basic realm="Confluence"',
                                                                             "X-Seraph-LoginReason": "AUTHENTICATED_FAILED"})
        raise ApiError(401, "Unsupported authorization scheme", body=v1_body(401, "Unsupported authorization scheme", authorized=False))
    if surface == "gateway":
        if scheme == "bearer":
            acct = app.oauth.check_access(h.split(" ", 1)[1].strip() if " " in h else "")
            if acct:
                return site.users[acct], "oauth2"
            raise ApiError(401, "Unauthorized", body={"code": 401, "message": "Unauthorized"})
        if scheme == "basic":
            try:
                u, p = parse_basic(h)
            except ValueError:
                raise ApiError(401, "Unauthorized", body={"code": 401, "message": "Unauthorized"})
            acct = creds.scoped_tokens.get((u, p))
            if acct:
                return site.users[acct], "scoped_api_token"
            if (u, p) in creds.api_tokens:
                raise ApiError(401, "Unauthorized; scope does not match", body={"code": 401, "message": "Unauthorized; scope does not match"},
                               headers={"X-Failure-Category": "FAILURE_CLIENT_SCOPE_CHECK"})
            raise ApiError(401, "Unauthorized", body={"code": 401, "message": "Unauthorized"})
        raise ApiError(401, "Unauthorized", body={"code": 401, "message": "Unauthorized"})
    # cloud site
    if not h:
        return None, "anonymous"
    if scheme == "bearer":
        raise ApiError(403, "Failed to parse Connect Session Auth Token", body={"error": "Failed to parse Connect Session Auth Token"})
    if scheme == "basic":
        try:
            u, p = parse_basic(h)
        except ValueError:
            realm = "https%3A%2F%2F" + request.host + "%2F"
            raise ApiError(401, "Unauthorized", body=v1_body(401, "Basic auth header is malformed", authorized=False),
                           headers={"WWW-Authenticate": 'OAuth realm="%s"' % realm})
        acct = creds.api_tokens.get((u, p))
        if acct:
            return site.users[acct], "api_token"
        if (u, p) in creds.scoped_tokens:
            raise ApiError(401, "Unauthorized", body=v1_body(401, "Scoped API tokens must be used with https://api.atlassian.com/ex/confluence/{cloudId}", authorized=False))
        raise ApiError(403, "Current user not permitted to use Confluence",
                       body=v1_body(403, "Current user not permitted to use Confluence", authorized=False))
    raise ApiError(401, "Unauthorized", body=v1_body(401, "Unsupported authorization scheme", authorized=False),
                   headers={"WWW-Authenticate": 'OAuth realm="https%3A%2F%2F' + request.host + '%2F"'})
