"""A fluent builder for Confluence configs: a valid Cloud API-token config unless told otherwise."""

import copy
from typing import Any, Dict, Optional

SITE = "https://acme.atlassian.net"
DC_BASE = "https://wiki.example.com/confluence"
GATEWAY = "https://api.atlassian.com"
TOKEN_URL = "https://auth.atlassian.com/oauth/token"
CLOUD_ID = "11111111-2222-3333-4444-555555555555"


class ConfigBuilder:
    def __init__(self) -> None:
        self._config: Dict[str, Any] = {
            "base_url": SITE,
            "deployment": "cloud",
            "credentials": {"auth_type": "api_token", "email": "bot@acme.test", "api_token": "cloud-token"},
            "cql_time_zone": "UTC",
            # One worker reads a first sync as one CQL window, so these tests see one request per window
            # and no window counts; slicing has its own tests (components/test_slicing.py, test_work_windows.py).
            "num_workers": 1,
        }

    # deployment -------------------------------------------------------------------------------
    def cloud(self, base_url: str = SITE) -> "ConfigBuilder":
        self._config.update(base_url=base_url, deployment="cloud")
        return self

    def data_center(self, base_url: str = DC_BASE) -> "ConfigBuilder":
        self._config.update(base_url=base_url, deployment="data_center")
        return self.with_personal_access_token()

    def with_base_url(self, base_url: str) -> "ConfigBuilder":
        self._config["base_url"] = base_url
        return self

    def without_deployment(self) -> "ConfigBuilder":
        self._config.pop("deployment", None)
        return self

    # credentials ------------------------------------------------------------------------------
    def with_api_token(self, email: str = "bot@acme.test", token: str = "cloud-token") -> "ConfigBuilder":
        self._config["credentials"] = {"auth_type": "api_token", "email": email, "api_token": token}
        return self

    def with_scoped_api_token(
        self, email: str = "bot@acme.test", token: str = "scoped-token", cloud_id: Optional[str] = CLOUD_ID
    ) -> "ConfigBuilder":
        self._config["credentials"] = {"auth_type": "scoped_api_token", "email": email, "api_token": token}
        if cloud_id:
            self._config["credentials"]["cloud_id"] = cloud_id
        return self

    def with_oauth2(
        self,
        client_id: str = "client-id",
        client_secret: str = "client-secret",
        refresh_token: str = "refresh-1",
        cloud_id: Optional[str] = CLOUD_ID,
    ) -> "ConfigBuilder":
        self._config["credentials"] = {
            "auth_type": "oauth2",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        }
        if cloud_id:
            self._config["credentials"]["cloud_id"] = cloud_id
        return self

    def with_personal_access_token(self, token: str = "dc-pat") -> "ConfigBuilder":
        self._config["credentials"] = {"auth_type": "personal_access_token", "personal_access_token": token}
        return self

    def with_password(self, username: str = "admin", password: str = "s3cret") -> "ConfigBuilder":
        self._config["credentials"] = {"auth_type": "password", "username": username, "password": password}
        return self

    # options ----------------------------------------------------------------------------------
    def with_space_keys(self, *keys: str) -> "ConfigBuilder":
        self._config["space_keys"] = list(keys)
        return self

    def with_start_date(self, start_date: str) -> "ConfigBuilder":
        self._config["start_date"] = start_date
        return self

    def with_labels(self, *labels: str) -> "ConfigBuilder":
        self._config["labels"] = list(labels)
        return self

    def with_cql_filter(self, cql: str) -> "ConfigBuilder":
        self._config["cql_filter"] = cql
        return self

    def with_include_archived(self, include: bool) -> "ConfigBuilder":
        self._config["include_archived"] = include
        return self

    def with_time_zone(self, zone: Optional[str]) -> "ConfigBuilder":
        if zone is None:
            self._config.pop("cql_time_zone", None)
        else:
            self._config["cql_time_zone"] = zone
        return self

    def with_lookback_minutes(self, minutes: int) -> "ConfigBuilder":
        self._config["lookback_window_minutes"] = minutes
        return self

    def with_api_gateway_url(self, url: str) -> "ConfigBuilder":
        self._config["api_gateway_url"] = url
        return self

    def with_oauth_token_url(self, url: str) -> "ConfigBuilder":
        self._config["oauth_token_url"] = url
        return self

    def with_allow_insecure_http(self, allow: bool = True) -> "ConfigBuilder":
        self._config["allow_insecure_http"] = allow
        return self

    def with_workers(self, workers: int) -> "ConfigBuilder":
        self._config["num_workers"] = workers
        return self

    def build(self) -> Dict[str, Any]:
        return copy.deepcopy(self._config)
