"""Where Confluence's APIs live for a config, and how to sign a request outside the CDK.

The manifest's requesters read the roots from ``config["_derived"]`` (filled by ``NormaliseConfig``),
so the Cloud / API gateway / Data Center choice is made here once instead of in every requester.
The look-ups made before the CDK's authenticators exist (time zones, the visible spaces) sign their
requests with ``rest_api_root_and_auth``.
"""

from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional, Tuple


# Where the part of a URL that names the endpoint starts, for v1 (Cloud and DC) and v2.
API_ROOTS = ("/rest/api/", "/api/v2/", "/rest/experimental/")


def endpoint_path(path: str) -> Optional[str]:
    """The endpoint a URL path names, after its API root (``content/search``, ``spaces``), or None."""
    for root in API_ROOTS:
        index = path.find(root)
        if index != -1:
            return path[index + len(root) :]
    return None


def parse_instant(value: Any) -> Optional[datetime]:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def api_roots(config: Mapping[str, Any]) -> Mapping[str, str]:
    """The API roots the manifest's requesters use, computed once (``config["_derived"]``).

    Cloud: on the site, or on the API gateway for scoped tokens and OAuth 2.0, which only reach Cloud
    through it. ``v2_api_url`` is Cloud's v2; Data Center has no v2, and the streams that use it on
    Cloud read their v1 equivalents there, under the REST root. ``versions_api_url`` is where the
    page version listing lives: v2 on Cloud, ``/rest/experimental`` on Data Center.
    """
    credentials = config.get("credentials") or {}
    if config.get("deployment") == "data_center":
        base = config["base_url"]
        return {"rest_api_url": f"{base}/rest/api", "v2_api_url": f"{base}/rest/api", "versions_api_url": f"{base}/rest/experimental"}
    if credentials.get("auth_type") in ("scoped_api_token", "oauth2"):
        wiki = f"{config['api_gateway_url']}/ex/confluence/{credentials.get('cloud_id')}/wiki"
    else:
        wiki = f"{config['base_url']}/wiki"
    return {"rest_api_url": f"{wiki}/rest/api", "v2_api_url": f"{wiki}/api/v2", "versions_api_url": f"{wiki}/api/v2"}


def rest_api_root_and_auth(config: Mapping[str, Any]) -> Optional[Tuple[str, Mapping[str, Any]]]:
    """Where v1 REST lives for these credentials, and how to sign a request without the CDK.

    None for OAuth 2.0 without a live access token: refreshing here would retire the refresh token.
    """
    credentials = config.get("credentials") or {}
    auth_type = credentials.get("auth_type")
    signing: Optional[Mapping[str, Any]] = None
    if auth_type in ("api_token", "scoped_api_token"):
        signing = {"auth": (str(credentials.get("email") or ""), str(credentials.get("api_token") or ""))}
    elif auth_type == "password":
        signing = {"auth": (str(credentials.get("username") or ""), str(credentials.get("password") or ""))}
    elif auth_type == "personal_access_token":
        signing = {"headers": {"Authorization": f"Bearer {credentials.get('personal_access_token')}"}}
    elif auth_type == "oauth2":
        expiry = parse_instant(credentials.get("token_expiry_date"))
        token = credentials.get("access_token")
        if token and expiry and expiry > datetime.now(timezone.utc) + timedelta(minutes=5) and credentials.get("cloud_id"):
            signing = {"headers": {"Authorization": f"Bearer {token}"}}
    if signing is None:
        return None
    return api_roots(config)["rest_api_url"], signing
