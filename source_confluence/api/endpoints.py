"""Where Confluence's APIs live for a config, and how the look-ups before the streams sign a request.

The manifest's requesters read the roots from ``config["_derived"]`` (filled by ``NormaliseConfig``),
so the Cloud / API gateway / Data Center choice is made here once instead of in every requester.
The look-ups made before the CDK has built its requesters (time zones, the visible spaces) sign their
requests with the manifest's own authenticator (``signing_headers``).
"""

import copy
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Mapping, Optional

from airbyte_cdk.sources.declarative.models.declarative_component_schema import (
    SelectiveAuthenticator as SelectiveAuthenticatorModel,
)
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.sources.streams.http.requests_native_auth.abstract_oauth import AbstractOauth2Authenticator

logger = logging.getLogger("airbyte")

# An OAuth 2.0 access token about to expire is left to the streams' authenticators to refresh.
OAUTH_MARGIN = timedelta(minutes=5)


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


def signing_headers(config: Mapping[str, Any], authenticator_definition: Any) -> Optional[Dict[str, str]]:
    """The headers the manifest's own authenticator (``definitions.authenticator``) signs a request with, for the
    look-ups ``NormaliseConfig`` runs before the CDK has built the streams (time zones, visible spaces).

    Why not a requester: those look-ups run while the config is being normalised, before any stream or requester
    exists; the definition reaches ``NormaliseConfig`` through its ``$parameters`` (``$ref``), so how a request is
    signed is said in one place, the manifest.

    None when it cannot sign without a token refresh: OAuth 2.0 without a live access token (a refresh here would
    spend the rotating refresh token the streams' authenticators need), or a definition that cannot be built.
    """
    if not isinstance(authenticator_definition, Mapping):
        return None
    try:
        authenticator = ModelToComponentFactory().create_component(
            SelectiveAuthenticatorModel, copy.deepcopy(dict(authenticator_definition)), config
        )
        if isinstance(authenticator, AbstractOauth2Authenticator):
            live_until = authenticator.get_token_expiry_date()
            credentials = config.get("credentials") or {}
            if not credentials.get("access_token") or live_until <= datetime.now(timezone.utc) + OAUTH_MARGIN:
                return None
        return {str(name): str(value) for name, value in authenticator.get_auth_header().items()}
    except Exception as error:  # a config the streams will refuse with a clear message; the look-ups just skip
        logger.debug("No signing for the start-up look-ups: %s", type(error).__name__)
        return None
