"""Normalise the user's config once per run, before any stream is built.

Why Python: these depend on the outside world or on time arithmetic, which the declarative
``ConfigAddFields`` cannot do:

- the Cloud id the API gateway needs, read from ``<site>/_edge/tenant_info`` when the user did
  not give it (the call is unauthenticated, so it cannot spend a rotating OAuth refresh token);
- the time zone in which Confluence reads CQL date literals (minute precision, no zone suffix):
  the account's profile zone and the site default on Cloud, else ``cql_time_zone``, turned into
  the two shifts that make a UTC window safe to express in site-local wall time;
- the first sync's time window and its step, from ``start_date`` and ``num_workers`` (``slicing.py``);
- the keys of the visible spaces, so the content streams catch up spaces their state does not know
  (``visible_spaces.py``, ``space_catch_up.py``);
- URL clean-up that must never send a request to a host the user did not configure.

The look-ups (zones, visible spaces) take a round trip every sync waits for. The console script starts them
as soon as it has read the config (``prefetch_lookups``), while the CDK resolves the manifest and builds the
source; the transform takes their answers when it would ask exactly the same (``lookup_key``), and asks
itself otherwise.

The results go under ``config["_derived"]``; the manifest reads them with ``config['_derived']``.
The legacy config of Airbyte's official connector is migrated declaratively in the manifest.
"""

import copy
import dataclasses
import logging
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Hashable, Iterable, List, Mapping, MutableMapping, Optional, Tuple
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.transformations.config_transformations.config_transformation import (
    ConfigTransformation,
)
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_confluence.config_spec import config_problems, drop_null_optional_fields, fill_defaults, manifest, spec_default
from source_confluence.api.endpoints import api_roots, signing_headers
from source_confluence.components.slicing import slice_plan
from source_confluence.sync import connections
from source_confluence.sync.context import SYNC_ID_KEY, new_sync_id
from source_confluence.components.visible_spaces import visible_space_keys

logger = logging.getLogger("airbyte")

DEFAULT_API_GATEWAY_URL = spec_default("api_gateway_url")
GATEWAY_AUTH_TYPES = ("scoped_api_token", "oauth2")
# Any wall clock on Earth is between UTC-12 and UTC+14: the window when the site's zone is unknown.
UNKNOWN_ZONE_SHIFTS = (timedelta(hours=-12), timedelta(hours=14))
LOOKUP_TIMEOUT_SECONDS = 30
# How long the start-up reachability probe may take in total before it names the URL (bounded: a
# closed port would otherwise be retried by the HTTP client's backoff for minutes).
PROBE_ATTEMPTS = 3
PROBE_TIMEOUT_SECONDS = 10
PROBE_PAUSE_SECONDS = 1.0

def config_error(message: str) -> AirbyteTracedException:
    return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.config_error)


def validate_shape(config: Mapping[str, Any]) -> None:
    """Say everything that breaks the spec in one message a user can act on, before anything is built
    from the config; the wording comes from the spec (config_spec.py) and never shows a secret."""
    problems = config_problems(config)
    if problems:
        raise config_error(" ".join(problems))


def _uses_proxy(url: str) -> bool:
    try:
        return bool(requests.utils.get_environ_proxies(url))
    except Exception:  # an odd proxy setting must not stop the sync; the HTTP client will say what is wrong
        return True


def probe_reachable(url: str, field: str) -> None:
    """Fail fast, naming the URL, when nothing listens there or its host does not resolve.

    Called by the console entry point (launch.py) before a command runs, not from NormaliseConfig:
    in-process callers (unit tests with mocked HTTP) must not open sockets.

    Without this a closed port or a typo in the host is retried by the HTTP client's backoff for
    minutes before the user learns anything. A TCP connect only: no request, no credentials sent.
    Skipped when a proxy is configured for the URL (the proxy, not this machine, connects).
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    if _uses_proxy(url):
        return
    reason = "unknown error"
    for attempt in range(PROBE_ATTEMPTS):
        try:
            with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_SECONDS):
                return
        except socket.gaierror:
            reason = f"the host name {host!r} does not resolve"
        except ConnectionRefusedError:
            reason = f"connection refused on port {port}"
        except socket.timeout:
            reason = f"no answer within {PROBE_TIMEOUT_SECONDS} seconds"
        except OSError as error:
            reason = error.strerror or type(error).__name__
        if attempt + 1 < PROBE_ATTEMPTS:
            time.sleep(PROBE_PAUSE_SECONDS)
    raise config_error(
        f"Confluence at {url} is unreachable ({reason}). Check '{field}' (scheme, host and port) and that the server "
        "is up and reachable from where Airbyte runs."
    )


def probe_configured_urls(config: Mapping[str, Any]) -> None:
    """Name an unreachable URL in seconds, instead of after minutes of HTTP retries (launch.py, before a command)."""
    if not isinstance(config.get("base_url"), str):
        return  # the official connector's config: migrated, then checked by the requests themselves
    probe_reachable(normalise_url(config["base_url"], "base_url"), "base_url")
    credentials = config.get("credentials")
    if isinstance(credentials, Mapping) and credentials.get("auth_type") in GATEWAY_AUTH_TYPES:
        gateway = config.get("api_gateway_url") or DEFAULT_API_GATEWAY_URL
        probe_reachable(normalise_url(gateway, "api_gateway_url"), "api_gateway_url")


def normalise_url(value: Any, field: str) -> str:
    url = str(value or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise config_error(f"'{field}' must be a full URL such as https://acme.atlassian.net; got {url!r}.")
    if parts.query or parts.fragment:
        raise config_error(f"'{field}' must not carry a query or fragment; got {url!r}.")
    return url


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def require_https(url: str, field: str, allow_http: bool) -> None:
    """Credentials never travel in clear text, except to this machine or when the user says so."""
    if urlsplit(url).scheme == "http" and not (allow_http or is_loopback(url)):
        raise config_error(
            f"'{field}' uses plain http, which would send your credentials unencrypted. Use https, "
            "or set 'allow_insecure_http' if the server is on a trusted network."
        )


def zone_shifts(zone_names: Iterable[Optional[str]], around: datetime) -> Tuple[timedelta, timedelta]:
    """Smallest and largest UTC offset the zones use in the two years around ``around``.

    A UTC instant shifted by the smallest offset is never later, as site-local wall time, than
    the real local time, and by the largest never earlier; so a window built with them covers
    the UTC window whichever side of a DST change, and whichever of the candidate zones (user
    profile or site default: Atlassian's docs and bug tracker disagree) Confluence reads it in.
    """
    offsets = set()
    for zone_name in filter(None, zone_names):
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            logger.warning("Unknown time zone %r; using a window wide enough for any zone.", zone_name)
            return UNKNOWN_ZONE_SHIFTS
        offsets.update(
            (around + timedelta(days=day)).astimezone(zone).utcoffset() or timedelta(0) for day in range(-366, 367, 7)
        )
    if not offsets:
        return UNKNOWN_ZONE_SHIFTS
    return min(offsets), max(offsets)


def discover_time_zones(config: Mapping[str, Any], signing: Optional[Mapping[str, str]]) -> List[str]:
    """The zones Confluence Cloud may read CQL dates in: the account's profile zone and the site default.

    Data Center exposes neither, and an OAuth refresh here would spend the rotating refresh token
    the authenticator needs, so those fall back to ``cql_time_zone`` or the any-zone window.
    ``signing``: the manifest authenticator's headers (``endpoints.signing_headers``).
    """
    credentials = config.get("credentials") or {}
    auth_type = credentials.get("auth_type")
    if config.get("deployment") != "cloud" or auth_type not in ("api_token", "scoped_api_token") or signing is None:
        return []
    root = api_roots(config)["rest_api_url"]
    headers = {"Accept": "application/json", **dict(signing)}

    def zone_from(path: str, field: str) -> Optional[str]:
        try:
            response = connections.get(f"{root}/{path}", headers=headers, timeout=LOOKUP_TIMEOUT_SECONDS)
            zone = response.json().get(field) if response.ok else None
        except (requests.RequestException, ValueError, AttributeError):
            zone = None
        return str(zone) if zone else None

    # Both at once: every sync waits for them before its first record.
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = pool.map(zone_from, ("user/current", "settings/systemInfo"), ("timeZone", "defaultTimeZone"))
        return [zone for zone in answers if zone]


# What the look-ups answer: the visible space keys (None: unknown) and the zones found (may be empty).
LookupAnswers = Tuple[Optional[List[str]], List[str]]


def run_lookups(config: Mapping[str, Any], signing: Optional[Mapping[str, str]]) -> LookupAnswers:
    """The visible spaces and the zones, side by side: every sync waits for them before its first record."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        spaces = pool.submit(visible_space_keys, config, signing)
        zones = discover_time_zones(config, signing)
        return spaces.result(), zones


def lookup_key(config: Mapping[str, Any], signing: Optional[Mapping[str, str]]) -> Hashable:
    """Everything of a normalised config and its signing that ``run_lookups`` reads: two equal keys ask the
    same requests."""
    credentials = config.get("credentials") or {}
    space_keys = config.get("space_keys")
    return (
        config.get("deployment"),
        credentials.get("auth_type") if isinstance(credentials, Mapping) else None,
        tuple(sorted(api_roots(config).items())),
        tuple(str(key) for key in space_keys) if isinstance(space_keys, list) else None,
        tuple(sorted(signing.items())) if signing is not None else None,
    )


class PrefetchedLookups:
    """The look-ups started early for one config: the key they were asked with, then their answers."""

    def __init__(self) -> None:
        self.key: "Future[Optional[Hashable]]" = Future()
        self.answers: "Future[LookupAnswers]" = Future()


_prefetched: Optional[PrefetchedLookups] = None
_prefetched_lock = threading.Lock()


def prefetch_lookups(raw_config: Mapping[str, Any]) -> None:
    """Start the look-ups the transform will need for ``raw_config`` in a thread of their own, and return.

    Why: they are a round trip (0.12 s on the benchmark's emulator) that every sync waited for after the CDK had
    resolved the manifest and begun building the source (about as long, bench/NOTES.md). Started here, by the
    console script once it has read the config, they run meanwhile. The transform uses them only if it would
    ask exactly the same (``lookup_key``); a config it cannot normalise, or one that needs the Cloud id looked up
    first, is left to the transform. It signs as the manifest's ``NormaliseConfig`` does (``lookup_parameters``,
    read in the thread too, off the start-up's path).
    """
    global _prefetched
    prefetched = PrefetchedLookups()
    with _prefetched_lock:
        _prefetched = prefetched

    def look_up() -> None:
        try:
            parameters = lookup_parameters()
            config = copy.deepcopy(dict(raw_config))
            transformation = NormaliseConfig(parameters=parameters) if parameters is not None else None
            if transformation is None or not transformation.prepare(config, look_up_cloud_id=False):
                prefetched.key.set_result(None)
                return
            signing = transformation.signing(config)
            prefetched.key.set_result(lookup_key(config, signing))
        except Exception as error:  # the transform will say what is wrong with the config
            logger.debug("No early look-ups: %s", type(error).__name__)
            if not prefetched.key.done():
                prefetched.key.set_result(None)
            return
        try:
            prefetched.answers.set_result(run_lookups(config, signing))
        except Exception as error:  # never expected (the look-ups swallow their failures); the transform asks again
            prefetched.answers.set_exception(error)

    threading.Thread(target=look_up, name="confluence-early-lookups", daemon=True).start()


def lookup_parameters() -> Optional[Mapping[str, Any]]:
    """``NormaliseConfig``'s ``$parameters`` in the manifest, their references resolved as the CDK resolves them,
    without resolving the whole manifest (0.08 s the early look-ups would wait for). None if the
    manifest or the CDK's resolver is not as this expects: then nothing is looked up early."""
    try:
        document = manifest()
        rules = document["spec"]["config_normalization_rules"]["transformations"]
        rule = next(rule for rule in rules if str(rule.get("class_name", "")).endswith(".NormaliseConfig"))
        # The resolver's own step for one node of the manifest (its public entry resolves all of it).
        resolved = ManifestReferenceResolver()._evaluate_node(rule.get("$parameters") or {}, document, set())
    except Exception as error:
        logger.debug("No early look-ups: %s", type(error).__name__)
        return None
    return resolved if isinstance(resolved, Mapping) else None


def take_prefetched(key: Hashable) -> Optional[LookupAnswers]:
    """The early look-ups' answers if they were asked with ``key`` (waiting for them), else None. Taken once."""
    global _prefetched
    with _prefetched_lock:
        prefetched, _prefetched = _prefetched, None
    if prefetched is None:
        return None
    try:
        if prefetched.key.result() != key:
            return None
        return prefetched.answers.result()
    except Exception:
        return None


def iso_duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else ""
    return f"{sign}PT{abs(minutes)}M"


# What the OAuth authenticator writes into the credentials after each refresh (the manifest's
# ``refresh_token_updater``; ``refresh_token`` is required, so always there).
REFRESHED_FIELDS = ("access_token", "token_expiry_date")


def reserve_refreshed_fields(credentials: MutableMapping[str, Any]) -> None:
    """Give the fields a token refresh writes an empty value now, while one thread holds the config.

    Why: the CDK's OAuth authenticator reads its fields with ``dpath.get``, which walks every dict of the
    config, for each request, in every thread; a refresh that adds a missing field meanwhile ends such a
    walk with "dictionary changed size during iteration", and the stream with it (seen in CI: a Cloud
    OAuth sync of attachment files). With the fields there from the start a refresh only replaces values.
    Empty reads as a missing field does: no token yet, refresh first (``config_spec.DATE_TIME_CHECKER``).
    """
    for name in REFRESHED_FIELDS:
        if credentials.get(name) is None:
            credentials[name] = ""


@dataclass
class NormaliseConfig(ConfigTransformation):
    """Fill defaults, clean URLs, resolve the Cloud id and the CQL time window.

    ``parameters`` (the manifest's ``$parameters``): ``lookups.authenticator``, the manifest's authenticator
    definition (``$ref``), with which the look-ups sign their requests (``endpoints.signing_headers``)."""

    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def transform(self, config: MutableMapping[str, Any]) -> None:
        # This source's sync: its own caches and counts, even if the config given carried an id (sync/context.py).
        config[SYNC_ID_KEY] = new_sync_id()
        self.prepare(config)
        signing = self.signing(config)
        answers = take_prefetched(lookup_key(config, signing))
        if answers is None:
            answers = run_lookups(config, signing)
        visible_spaces, zones = answers
        zones = zones or [config.get("cql_time_zone")]
        now = datetime.now(timezone.utc)
        plan = slice_plan(config, now)
        lower, upper = zone_shifts(zones, now)
        config["_derived"] = {
            **api_roots(config),
            **plan,
            "cql_time_zones": [zone for zone in zones if zone],
            # The upper literal names a whole minute: add one so the last minute is included.
            "cql_lower_shift": iso_duration(lower),
            "cql_upper_shift": iso_duration(upper + timedelta(minutes=1)),
            "site_url": config["base_url"] + "/wiki" if config["deployment"] == "cloud" else config["base_url"],
            "visible_space_keys": visible_spaces,
        }

    def signing(self, config: Mapping[str, Any]) -> Optional[Dict[str, str]]:
        """The headers the look-ups sign with: the manifest's authenticator's (``$parameters``)."""
        return signing_headers(config, ((self.parameters or {}).get("lookups") or {}).get("authenticator"))

    def prepare(self, config: MutableMapping[str, Any], look_up_cloud_id: bool = True) -> bool:
        """Defaults, checks and clean URLs, in place; whether the config is ready for the look-ups (False only
        when the Cloud id is missing and ``look_up_cloud_id`` is off)."""
        drop_null_optional_fields(config)
        if config.get("deployment") is None and isinstance(config.get("base_url"), str):
            config["deployment"] = "cloud" if ".atlassian.net" in config["base_url"] else "data_center"
        validate_shape(config)
        fill_defaults(config)
        deployment = config["deployment"]
        allow_http = bool(config.get("allow_insecure_http"))
        base_url = normalise_url(config["base_url"], "base_url")
        if deployment == "cloud" and base_url.endswith("/wiki"):
            base_url = base_url[: -len("/wiki")]  # users often paste the /wiki URL of their site
        config["base_url"] = base_url
        require_https(base_url, "base_url", allow_http)
        for field in ("api_gateway_url", "oauth_token_url"):
            config[field] = normalise_url(config.get(field) or spec_default(field), field)
            require_https(config[field], field, allow_http)
        credentials = config.get("credentials")
        if isinstance(credentials, MutableMapping):
            self._check_deployment_matches_auth(deployment, credentials)
            if credentials.get("auth_type") == "oauth2":
                reserve_refreshed_fields(credentials)
            if credentials.get("auth_type") in GATEWAY_AUTH_TYPES and not credentials.get("cloud_id"):
                if not look_up_cloud_id:
                    return False
                cloud_id = self._lookup_cloud_id(base_url)
                if cloud_id:
                    credentials["cloud_id"] = cloud_id
        return True

    @staticmethod
    def _check_deployment_matches_auth(deployment: str, credentials: MutableMapping[str, Any]) -> None:
        auth_type = credentials.get("auth_type")
        cloud_only = ("api_token", "scoped_api_token", "oauth2")
        dc_only = ("personal_access_token", "password")
        if deployment == "data_center" and auth_type in cloud_only:
            raise config_error(
                f"Sign-in method '{auth_type}' is for Confluence Cloud, but 'deployment' is data_center. "
                "On Data Center use a personal access token or a username and password."
            )
        if deployment == "cloud" and auth_type in dc_only:
            raise config_error(
                f"Sign-in method '{auth_type}' is for Confluence Data Center, but 'deployment' is cloud. "
                "On Cloud use an API token (email + token), a scoped API token or OAuth 2.0."
            )

    @staticmethod
    def _lookup_cloud_id(base_url: str) -> Optional[str]:
        url = f"{base_url}/_edge/tenant_info"
        try:
            response = requests.get(url, timeout=LOOKUP_TIMEOUT_SECONDS)
            response.raise_for_status()
            cloud_id = response.json().get("cloudId")
        except (requests.RequestException, ValueError, AttributeError) as error:
            logger.warning("Could not read the Cloud id from %s (%s); set 'cloud_id' in the credentials.", url, type(error).__name__)
            return None
        return str(cloud_id) if cloud_id else None


