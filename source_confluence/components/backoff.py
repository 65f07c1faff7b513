"""Retry what Confluence throws at a long sync: rate limits, flaky gateways, expiring OAuth tokens.

Why Python, in two pieces:

- ``ConfluenceBackoffStrategy``. The CDK's ``WaitTimeFromHeader`` reads ``Retry-After`` only as a
  number of seconds: the HTTP-date form RFC 9110 allows (and proxies in front of Data Center send)
  parses as "no header", so the wait silently falls back to the exponential strategy. It also adds
  no jitter, and ``ExponentialBackoffStrategy`` has no cap (``factor * 2**attempt`` reaches minutes
  after eight retries). This strategy honours both forms of ``Retry-After`` with jitter that only
  ever lengthens the wait, refuses a wait above a cap with a message that says what happened, and
  otherwise backs off exponentially with jitter and a ceiling, as Atlassian's rate-limit guide asks.
- ``ConfluenceRecoveryHandler``, put first in a ``CompositeErrorHandler``, for three cases the
  declarative filters cannot express:

  * 504 on a list: ``PageSizeReduction`` rejects a ``RequestPath`` page token, and every Confluence
    list is walked through its ``_links.next``, which carries ``limit``. The request is re-sent with
    half the ``limit`` (the next links then carry the smaller one), down to ``minimum_page_size``.
  * 401 with OAuth 2.0: the access token expired or was revoked server-side before its
    ``expires_in``; refresh it once and retry (``REFRESH_TOKEN_THEN_RETRY``). With any other
    sign-in method a 401 means wrong credentials, which the manifest's filters report as a config
    error: ``HttpResponseFilter.predicate`` is evaluated without ``config``, so this choice needs code.
  * A 2xx whose JSON body does not parse (a proxy that cut it short with a consistent
    ``Content-Length``): retried instead of crashing the record extractor.
  * A TLS certificate this machine does not trust (a Data Center behind a private CA, a proxy that
    re-signs traffic): the CDK retries every request exception, so `check` spent minutes saying
    "Rate limit exceeded. Retrying"; it is a config error, named at once. Other TLS failures (a
    connection cut mid-handshake) are still retried.

  Anything else resolves to ``None`` and falls through to the next handler.
"""

import email.utils
import logging
import random
import ssl
from dataclasses import InitVar, dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, Optional, Union
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.requesters.error_handlers.backoff_strategy import BackoffStrategy
from airbyte_cdk.sources.declarative.requesters.error_handlers.default_error_handler import DefaultErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers import ErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.sources.types import Config
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_confluence.api.response_json import json_body

logger = logging.getLogger("airbyte")

# Set on a 504 response by ConfluenceRecoveryHandler once the retry asks for a smaller page.
SHRUNK_MARK = "_confluence_page_shrunk"
SHRINK_WAIT_SECONDS = 0.5


def parse_retry_after(value: Optional[str], now: Optional[datetime] = None) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP-date; None if neither."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is not a wait
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (moment - now).total_seconds())


def _number(value: Union[str, float, int, None], default: float) -> float:
    if value is None or value == "":
        return default
    return float(value)


@dataclass
class ConfluenceBackoffStrategy(BackoffStrategy):
    """``Retry-After`` (seconds or HTTP-date) with upward jitter and a cap; else capped exponential backoff.

    Production values (manifest): ``base_seconds: 5``, ``max_backoff_seconds: 60``, ``jitter: 0.3``,
    ``max_retry_after_seconds: 600``: the first retry of a 5xx waits 3.5-6.5 s, the eighth at most
    78 s; a ``Retry-After`` of 1 s waits 1-1.3 s (the CDK adds one more second before re-sending).
    A ``Retry-After`` of ``max_retry_after_seconds`` or more (Atlassian's hourly points quota answers
    up to an hour) stops the stream with a transient error instead of blocking a worker silently.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    header: str = "Retry-After"
    base_seconds: Union[str, float] = 5
    max_backoff_seconds: Union[str, float] = 60
    jitter: Union[str, float] = 0.3
    max_retry_after_seconds: Union[str, float] = 600
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._base = _number(self.base_seconds, 5)
        self._ceiling = _number(self.max_backoff_seconds, 60)
        self._jitter = min(max(_number(self.jitter, 0.3), 0.0), 1.0)
        self._max_retry_after = _number(self.max_retry_after_seconds, 600)

    def retry_after(self, response: requests.Response) -> Optional[float]:
        return parse_retry_after(response.headers.get(self.header))

    def backoff_time(
        self,
        response_or_exception: Optional[Union[requests.Response, requests.RequestException]],
        attempt_count: int,
    ) -> Optional[float]:
        if getattr(response_or_exception, SHRUNK_MARK, False):
            # The retry already asks for less; waiting longer would only slow the reduction down.
            return SHRINK_WAIT_SECONDS
        wait = self.retry_after(response_or_exception) if isinstance(response_or_exception, requests.Response) else None
        if wait is not None:
            if wait >= self._max_retry_after:
                raise AirbyteTracedException(
                    message=f"Confluence asked the connector to wait {int(wait)} seconds before its next request, longer "
                    f"than the {int(self._max_retry_after)} seconds it may wait; the sync stopped and will resume on the "
                    "next attempt. If this repeats, lower 'num_workers' or sync outside busy hours (Atlassian's hourly "
                    "quota resets at the top of each UTC hour).",
                    internal_message=f"{self.header} of {wait:.0f}s is at or above max_retry_after_seconds={self._max_retry_after}",
                    failure_type=FailureType.transient_error,
                )
            # Never shorter than the server asked; spread the workers that were refused together.
            return max(wait * (1 + self._jitter * self.rng.random()), 0.001)
        exponent = max(0, int(attempt_count or 1) - 1)
        delay = min(self._ceiling, self._base * (2 ** min(exponent, 30)))
        return max(delay * (1 - self._jitter + 2 * self._jitter * self.rng.random()), 0.001)


def with_query_value(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = [(key, value if key == name else current) for key, current in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def query_int(url: str, name: str) -> Optional[int]:
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key == name:
            try:
                return int(value)
            except ValueError:
                return None
    return None


@dataclass
class ConfluenceRecoveryHandler(ErrorHandler):
    """Shrink the page on 504, refresh an OAuth token on 401, retry an unparseable 2xx body.

    Put it first in a ``CompositeErrorHandler``; it answers None for anything else. Its
    ``max_retries`` is the one the CDK uses for the composite.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    max_retries_value: Union[str, int] = 8
    minimum_page_size: Union[str, int] = 10
    page_size_parameter: str = "limit"
    # False where a 2xx body is a file, not an API answer (attachment downloads): a .json attachment
    # that does not parse is the file as uploaded, not a body cut short.
    retry_unparseable_json: bool = True

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._max_retries = int(_number(self.max_retries_value, 8))
        self._minimum = max(1, int(_number(self.minimum_page_size, 10)))

    @property
    def max_retries(self) -> Optional[int]:
        return self._max_retries

    @property
    def max_time(self) -> Optional[int]:
        return None

    def _oauth(self) -> bool:
        credentials = (self.config or {}).get("credentials") or {}
        return isinstance(credentials, Mapping) and credentials.get("auth_type") == "oauth2"

    def interpret_response(
        self, response_or_exception: Optional[Union[requests.Response, Exception]] = None
    ) -> Optional[ErrorResolution]:  # type: ignore[override]
        if isinstance(response_or_exception, requests.exceptions.SSLError):
            return untrusted_certificate_resolution(response_or_exception)
        if not isinstance(response_or_exception, requests.Response):
            return None
        response = response_or_exception
        status = response.status_code
        if status == 504:
            return self._shrink_page(response)
        if status == 401 and self._oauth():
            return ErrorResolution(
                response_action=ResponseAction.REFRESH_TOKEN_THEN_RETRY,
                failure_type=FailureType.transient_error,
                error_message="Confluence rejected the OAuth access token (HTTP 401); refreshing it once and retrying.",
            )
        if self.retry_unparseable_json and 200 <= status < 300 and "json" in (response.headers.get("Content-Type") or "").lower():
            try:
                json_body(response)
            except ValueError:
                return ErrorResolution(
                    response_action=ResponseAction.RETRY,
                    failure_type=FailureType.transient_error,
                    error_message=f"Confluence answered HTTP {status} with a body that is not valid JSON; retrying the request.",
                )
        return None

    def _shrink_page(self, response: requests.Response) -> Optional[ErrorResolution]:
        request = response.request
        url = getattr(request, "url", None) or ""
        size = query_int(url, self.page_size_parameter)
        if request is not None and size is not None and size > self._minimum:
            smaller = max(self._minimum, size // 2)
            # The CDK re-sends this very PreparedRequest; its next links then carry the smaller limit.
            request.url = with_query_value(url, self.page_size_parameter, str(smaller))
            setattr(response, SHRUNK_MARK, True)
            logger.info("Confluence timed out (HTTP 504) on a page of %s items; retrying with %s.", size, smaller)
            return ErrorResolution(
                response_action=ResponseAction.RETRY,
                failure_type=FailureType.transient_error,
                error_message=f"Confluence timed out (HTTP 504) on a page of {size} items; retrying with {smaller}.",
            )
        return None  # no page to shrink: the next handler retries the 504 as it is


def certificate_refusal(error: BaseException) -> Optional[ssl.SSLCertVerificationError]:
    """The certificate check that failed behind ``error``, if that is what failed. requests wraps urllib3's
    error, which wraps the ssl module's, through ``args``, ``reason`` and exception chaining."""
    pending: list = [error]
    seen = set()
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        pending += [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
    return None


def untrusted_certificate_resolution(error: requests.exceptions.SSLError) -> Optional[ErrorResolution]:
    """A config error naming the host and why its certificate was refused; None for other TLS failures."""
    refusal = certificate_refusal(error)
    if refusal is None:
        return None
    host = urlsplit(getattr(error.request, "url", None) or "").hostname or "the server"
    why = getattr(refusal, "verify_message", None) or "certificate verify failed"
    return ErrorResolution(
        response_action=ResponseAction.FAIL,
        failure_type=FailureType.config_error,
        error_message=(
            f"The TLS certificate of {host} is not trusted on this machine ({why}). If the site uses a certificate "
            "from a private certificate authority (common on Data Center) or traffic goes through a proxy that "
            "re-signs it, add that authority to the trust store the connector runs with (for example with the "
            "REQUESTS_CA_BUNDLE environment variable), or give the site a certificate from a public authority."
        ),
    )


@dataclass
class ConfluenceErrorHandler(DefaultErrorHandler):
    """``DefaultErrorHandler`` with ``ConfluenceRecoveryHandler`` consulted first.

    Not a ``CompositeErrorHandler``: the composite only stops at RETRY/IGNORE/SUCCESS-like
    actions, so a ``REFRESH_TOKEN_THEN_RETRY`` from its first handler is overridden by the
    next handler's 401 filter.
    """

    minimum_page_size: Union[str, int] = 10
    retry_unparseable_json: bool = True

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._recovery = ConfluenceRecoveryHandler(
            config=self.config, parameters=parameters, max_retries_value=self.max_retries or 8,
            minimum_page_size=self.minimum_page_size, retry_unparseable_json=bool(self.retry_unparseable_json),
        )

    def interpret_response(
        self, response_or_exception: Optional[Union[requests.Response, Exception]] = None
    ) -> ErrorResolution:
        return self._recovery.interpret_response(response_or_exception) or super().interpret_response(response_or_exception)
