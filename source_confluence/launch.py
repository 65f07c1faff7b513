"""What the console script (``run.py``) runs: read the inputs once, build the source, hand over to the CDK.

Start-up failures (a config file that is not JSON, a config the connector cannot use, a malformed
state, a catalog that does not parse, a URL where nothing listens) are reported as one Airbyte
TRACE error with a message a user can act on, instead of a Python stack trace on stdout; for
`check` a config problem is a CONNECTION_STATUS FAILED with the same message, as the CDK does.

The arguments are parsed once and each file is read once: the CDK's entrypoint, which asks the source
for the config, catalog and state again, gets what was read here (``LaunchedSource``).

Secrets: the CDK masks the config's `airbyte_secret` values in every log line and error, but not
what is derived from them. Basic auth sends base64(`email:api_token`) or base64(`username:password`)
in the Authorization header, which `--debug` logs with every request; those forms are registered
too (``ConfluenceEntrypoint.set_up_secret_filter``).
"""

import argparse
import atexit
import base64
import os
import sys
import time
from datetime import datetime, timezone
from typing import Any, Iterable, List, Mapping, MutableMapping, Optional

import orjson

from source_confluence.startup import collect_garbage_less_often, import_protocol_models, shorten_thread_switches

import_protocol_models()  # before anything imports airbyte-cdk: 0.45 s less start-up (startup.py)

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.logger import PRINT_BUFFER
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteErrorTraceMessage,
    AirbyteMessage,
    AirbyteMessageSerializer,
    AirbyteStateMessage,
    AirbyteTraceMessage,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteCatalogSerializer,
    FailureType,
    Status,
    TraceType,
    Type,
)
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets, filter_secrets, get_secrets, update_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_confluence.components.config import prefetch_lookups, probe_configured_urls
from source_confluence.config_spec import connection_specification
from source_confluence.components.state import parse_state
from source_confluence.source import SourceConfluence

# As the CDK's PRINT_BUFFER: output reaches the platform at least this often.
FLUSH_SECONDS = 0.1
# How the CDK's serializer (orjson, fields in declaration order) starts a RECORD message.
RECORD_PREFIX = '{"type":"RECORD"'


def derived_secrets(config: Any) -> List[str]:
    """Secrets the spec's `airbyte_secret` paths do not list: the Basic auth header's base64 forms."""
    if not isinstance(config, Mapping):
        return []
    pairs = []
    credentials = config.get("credentials")
    if isinstance(credentials, Mapping):
        pairs.append((credentials.get("email"), credentials.get("api_token")))
        pairs.append((credentials.get("username"), credentials.get("password")))
    pairs.append((config.get("email"), config.get("api_token")))  # the official connector's fields
    found = []
    for user, secret in pairs:
        if isinstance(user, str) and isinstance(secret, str) and secret:
            token = base64.b64encode(f"{user}:{secret}".encode("latin1", errors="replace")).decode()
            found += [token, token.rstrip("=")]
    return found


def register_secrets(config: Any, spec: Mapping[str, Any]) -> None:
    if not isinstance(config, Mapping):
        return
    try:
        secrets = [s for s in get_secrets(spec, config) if isinstance(s, str) and s]
    except Exception:  # a config of the wrong shape: mask what can be found
        secrets = []
    update_secrets(secrets + derived_secrets(config))


class ConfluenceEntrypoint(AirbyteEntrypoint):
    @staticmethod
    def set_up_secret_filter(config: Any, connection_specification: Mapping[str, Any]) -> None:
        AirbyteEntrypoint.set_up_secret_filter(config, connection_specification)
        for secret in derived_secrets(config):
            add_to_secrets(secret)


class LaunchedSource(SourceConfluence):
    """The source as the console script runs it. The CDK's entrypoint asks the source to read the config,
    catalog and state files; this one answers with what ``run`` read from them already."""

    def __init__(
        self,
        config: Optional[MutableMapping[str, Any]],
        catalog: Optional[ConfiguredAirbyteCatalog],
        state: List[AirbyteStateMessage],
        config_path: Optional[str],
    ) -> None:
        super().__init__(config=config, catalog=catalog, state=state, config_path=config_path)
        self.inputs = (config, catalog, state)

    def read_config(self, config_path: str) -> MutableMapping[str, Any]:  # type: ignore[override]
        return dict(self.inputs[0] or {})

    def read_catalog(self, catalog_path: str) -> ConfiguredAirbyteCatalog:  # type: ignore[override]
        return self.inputs[1]  # type: ignore[return-value]

    def read_state(self, state_path: str) -> List[AirbyteStateMessage]:  # type: ignore[override]
        return self.inputs[2]


def _message_json(message: AirbyteMessage) -> str:
    return orjson.dumps(AirbyteMessageSerializer.dump(message)).decode()


def _emit_startup_error(message: str, failure_type: FailureType, command: Optional[str] = None) -> int:
    """Print the error the platform shows; return the exit code."""
    message = filter_secrets(message)
    trace = AirbyteTraceMessage(
        type=TraceType.ERROR,
        emitted_at=datetime.now(timezone.utc).timestamp() * 1000,
        error=AirbyteErrorTraceMessage(message=message, internal_message=message, failure_type=failure_type),
    )
    print(_message_json(AirbyteMessage(type=Type.TRACE, trace=trace)), flush=True)
    if command == "check" and failure_type == FailureType.config_error:
        status = AirbyteConnectionStatus(status=Status.FAILED, message=message)
        print(_message_json(AirbyteMessage(type=Type.CONNECTION_STATUS, connectionStatus=status)), flush=True)
        return 0  # as the CDK's check: a config error is an answer, not a crash
    return 1


def _config_error(message: str) -> AirbyteTracedException:
    return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.config_error)


def _read_json(kind: str, path: str) -> Any:
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise _config_error(f"The {kind} file {path!r} could not be opened: {error.strerror or type(error).__name__}.") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise _config_error(
            f"The {kind} file {path!r} is not valid JSON ({str(error).split(':')[0]}). "
            f"It must be the JSON document Airbyte writes for a {kind}."
        ) from None


def read_config(path: str) -> MutableMapping[str, Any]:
    config = _read_json("config", path)
    if not isinstance(config, MutableMapping):
        raise _config_error(f"The config file {path!r} must hold a JSON object; got a JSON {type(config).__name__}.")
    return config


def read_catalog(path: str) -> ConfiguredAirbyteCatalog:
    document = _read_json("catalog", path)
    try:
        return ConfiguredAirbyteCatalogSerializer.load(document)
    except Exception as error:  # the file, not the connector, is at fault: say which one
        raise _config_error(
            f"The catalog file {path!r} could not be read: {type(error).__name__}. "
            "It must be the JSON document Airbyte expects for a catalog."
        ) from None


def build_source(parsed: argparse.Namespace) -> LaunchedSource:
    """Read each input once (secrets masked from the moment the config is read), build the source."""
    config_path = getattr(parsed, "config", None)
    config = read_config(config_path) if config_path else None
    register_secrets(config, connection_specification())
    catalog_path = getattr(parsed, "catalog", None)
    catalog = read_catalog(catalog_path) if catalog_path else None
    state_path = getattr(parsed, "state", None)
    state = parse_state(_read_json("state", state_path)) if state_path else []
    asks_the_site = parsed.command in ("check", "discover", "read") and config is not None
    if asks_the_site:
        prefetch_lookups(config)  # the config's look-ups go while the CDK builds the source (config.py)
    source = LaunchedSource(config, catalog, state, config_path)
    if asks_the_site:
        probe_configured_urls(config)
    return source


def run(args: Optional[List[str]] = None) -> None:
    parsed = AirbyteEntrypoint.parse_args(sys.argv[1:] if args is None else args)
    try:
        source = build_source(parsed)
    except AirbyteTracedException as error:
        sys.exit(_emit_startup_error(error.message or "The connector could not start.", error.failure_type or FailureType.system_error, parsed.command))
    except Exception as error:  # never a bare stack trace as the user-facing message
        sys.exit(
            _emit_startup_error(
                f"The connector could not start: {type(error).__name__}. Check the configuration and state.",
                FailureType.system_error,
                parsed.command,
            )
        )
    try:
        emit(ConfluenceEntrypoint(source).run(parsed))
    except BrokenPipeError:
        sys.exit(_reader_gone())


def main() -> None:
    """What the console script runs (``run.py``): ``run``, then out of the interpreter without its teardown.

    Why: once a sync's messages are out, Python's finalisation (collecting every module and object the CDK
    and the sync built) took 0.14 s of a 1.7 s incremental sync on the benchmark machine (bench/NOTES.md),
    while the platform waits for the process to end. What that teardown does that matters is done here
    first: stdout and stderr are flushed and the atexit handlers run (logging's last flush among them). The
    threads still alive are idle pool workers; the sync has closed its pools. Only after a normal end: an
    error leaves the usual way, with its exit code, and ``run`` itself (the tests') is unchanged.

    Its threads also hand the GIL to one another more often than CPython's default, and its garbage is
    collected less often (``startup.py``).
    """
    shorten_thread_switches()
    collect_garbage_less_often()
    run()
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if not callable(run_exit_handlers):  # another Python than CPython: finalise the usual way
        return
    try:
        _flush_output()
        run_exit_handlers()
        _flush_output()
    except BrokenPipeError:
        sys.exit(_reader_gone())
    os._exit(0)


def _flush_output() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            stream.flush()


def _reader_gone() -> int:
    """Whoever read stdout has closed it (``source-confluence spec | head``, a sync cancelled): stop without a
    stack trace about it on stderr. stdout now points at /dev/null, so the interpreter's last flush (and the
    CDK's log buffer's) does not fail again on the way out. The exit code says the output was cut short."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno())  # type: ignore[union-attr]
    except (OSError, AttributeError, ValueError):
        pass
    return 1


def emit(messages: Iterable[str]) -> None:
    """Each message on a line of stdout, as the CDK's ``launch`` prints them, but not through ``PRINT_BUFFER``.

    Why: that buffer copies every message into a StringIO and out again, which cost about 1.5 s of CPU per
    24,000 records of a few KB (a tenth of the connector's own CPU in a full sync, bench/NOTES.md). Log lines
    still go through it (the CDK's logger writes there): whatever it holds is flushed first, under its lock,
    so a log line never lands inside a message, nor after the messages that followed it. Records are pushed
    through at least every ``FLUSH_SECONDS``, as the buffer did; any other message (a state, a rotated OAuth
    token's CONTROL message, an error) at once, so it never waits in a buffer behind a quiet stretch.
    """
    with PRINT_BUFFER:
        # Under pytest the buffer leaves sys.stdout alone (capture): write where print would.
        out = sys.__stdout__ if sys.stdout is PRINT_BUFFER else sys.stdout
        pushed = time.monotonic()
        for message in messages:
            with PRINT_BUFFER.lock:
                if PRINT_BUFFER.buffer.tell():
                    PRINT_BUFFER.flush()
                out.write(message)
                out.write("\n")
                now = time.monotonic()
                if now - pushed >= FLUSH_SECONDS or not message.startswith(RECORD_PREFIX):
                    out.flush()
                    pushed = now
