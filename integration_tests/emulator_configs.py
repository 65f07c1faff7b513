"""Connector configs for a running emulator, one per sign-in method the emulator's profile offers."""

from typing import Any, Dict, Mapping

# (profile, auth_type) pairs the connector must sync end to end.
PROFILE_AUTH_TYPES = (
    ("cloud", "api_token"),
    ("gateway", "scoped_api_token"),
    ("gateway", "oauth2"),
    ("data_center", "personal_access_token"),
    ("data_center", "password"),
)


def connector_config(info: Mapping[str, Any], auth_type: str, *, reader: bool = False, **overrides: Any) -> Dict[str, Any]:
    """The config a user would type in for this emulator, signed in as admin (or as the reader)."""
    credentials_by_type = info["reader_credentials" if reader else "credentials"]
    config: Dict[str, Any] = {
        "base_url": info["base_url"],
        "deployment": "data_center" if info["profile"] == "data_center" else "cloud",
        "credentials": dict(credentials_by_type[auth_type]),
        "cql_time_zone": info.get("time_zone"),
    }
    if info.get("api_gateway_url"):
        config["api_gateway_url"] = info["api_gateway_url"]
    if info.get("oauth_token_url"):
        config["oauth_token_url"] = info["oauth_token_url"]
    config.update(overrides)
    return config
