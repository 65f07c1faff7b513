"""`source-confluence spec|check|discover|read`: parse the Airbyte arguments, build the source, launch.

Start-up failures (a config file that is not JSON, a config the connector cannot use, a malformed
state, a catalog that does not parse, a URL where nothing listens) are reported as one Airbyte
TRACE error with a message a user can act on, instead of a Python stack trace on stdout; for
`check` a config problem is a CONNECTION_STATUS FAILED with the same message, as the CDK does.

Secrets: the CDK masks the config's `airbyte_secret` values in every log line and error, but not
what is derived from them. Basic auth sends base64(`email:api_token`) or base64(`username:password`)
in the Authorization header, which `--debug` logs with every request; those forms are registered
too (``ConfluenceEntrypoint.set_up_secret_filter``).
"""

import base64
import sys
from datetime import datetime, timezone
from typing import Any, List, Mapping, Optional

import orjson
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.logger import PRINT_BUFFER
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteErrorTraceMessage,
    AirbyteMessage,
    AirbyteMessageSerializer,
    AirbyteStateMessageSerializer,
    AirbyteTraceMessage,
    FailureType,
    Status,
    TraceType,
    Type,
)
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets, filter_secrets, get_secrets, update_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_confluence.components.config import GATEWAY_AUTH_TYPES, DEFAULT_API_GATEWAY_URL, normalise_url, probe_reachable
from source_confluence.components.config_spec import connection_specification, manifest
from source_confluence.source import SourceConfluence

STATE_TYPES = ("STREAM", "GLOBAL", "LEGACY")


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


def _read_input(kind: str, path: Optional[str], reader):  # type: ignore[no-untyped-def]
    if not path:
        return None
    _read_json(kind, path)  # a precise message for a file that is not JSON
    try:
        return reader(path)
    except AirbyteTracedException:
        raise
    except Exception as error:  # the file, not the connector, is at fault: say which one
        raise _config_error(
            f"The {kind} file {path!r} could not be read: {type(error).__name__}. "
            f"It must be the JSON document Airbyte expects for a {kind}."
        ) from None


def parse_state(document: Any) -> List[Any]:
    """Airbyte state messages from a state file, or a config_error that says what is wrong with it.

    A JSON object is the pre-per-stream (legacy) format, `{"<stream>": {<stream state>}}`: it is
    migrated to one per-stream message each, which the streams' cursors then migrate further. Anything
    else that is not a list of state messages is refused: a sync must never silently start over.
    """
    hint = (
        "Fix or remove the state (in Airbyte: reset the connection's state), or restore the state a previous "
        "sync of this connector wrote."
    )
    if document is None or document == [] or document == {}:
        return []
    if isinstance(document, Mapping):
        if all(isinstance(value, Mapping) for value in document.values()):
            document = [
                {"type": "STREAM", "stream": {"stream_descriptor": {"name": str(name)}, "stream_state": dict(value)}}
                for name, value in document.items()
            ]
        else:
            bad = next(str(name) for name, value in document.items() if not isinstance(value, Mapping))
            raise _config_error(
                f"The state is not a list of Airbyte state messages, and as a legacy per-stream object its entry {bad!r} "
                f"is not an object. {hint}"
            )
    if not isinstance(document, list):
        raise _config_error(f"The state must be a list of Airbyte state messages; got a JSON {type(document).__name__}. {hint}")
    messages = []
    for index, item in enumerate(document):
        where = f"State message #{index + 1}"
        if not isinstance(item, Mapping):
            raise _config_error(f"{where} is not an object (got {orjson.dumps(item).decode()[:60]}). {hint}")
        kind = item.get("type", "LEGACY" if "data" in item else None)
        if kind not in STATE_TYPES:
            raise _config_error(f"{where} has type {kind!r}; expected one of {', '.join(STATE_TYPES)}. {hint}")
        if kind == "STREAM":
            stream = item.get("stream")
            if not isinstance(stream, Mapping) or not isinstance(stream.get("stream_descriptor"), Mapping) or not isinstance(
                stream["stream_descriptor"].get("name"), str
            ):
                raise _config_error(f"{where} (type STREAM) has no stream.stream_descriptor.name. {hint}")
            stream_state = stream.get("stream_state")
            if stream_state is not None and not isinstance(stream_state, Mapping):
                raise _config_error(
                    f"{where}: the state of stream {stream['stream_descriptor']['name']!r} is not an object "
                    f"(got {orjson.dumps(stream_state).decode()[:60]}). {hint}"
                )
            bad_stretch = unreadable_stretch(stream_state)
            if bad_stretch is not None:
                raise _config_error(
                    f"{where}: the state of stream {stream['stream_descriptor']['name']!r} lists a stretch of time "
                    f"without a valid start and end (got {orjson.dumps(bad_stretch).decode()[:80]}). {hint}"
                )
        if kind == "GLOBAL" and not isinstance(item.get("global"), Mapping):
            raise _config_error(f"{where} (type GLOBAL) has no 'global' object. {hint}")
        try:
            messages.append(AirbyteStateMessageSerializer.load(dict(item)))
        except Exception as error:
            raise _config_error(f"{where} is not a valid Airbyte state message ({type(error).__name__}). {hint}") from None
    return messages


def _state_time(value: Any) -> bool:
    """A time the content streams' cursor can read: one of its formats in the manifest."""
    for time_format in manifest()["definitions"]["last_modified_cursor"]["cursor_datetime_formats"]:
        try:
            datetime.strptime(value, time_format)
            return True
        except (TypeError, ValueError):
            continue
    return False


def unreadable_stretch(stream_state: Any) -> Any:
    """In a ``date-range`` state (the content streams', components/checkpoints.py), the first entry of
    ``slices`` that is not an object with a ``start`` and an ``end`` the cursor can read; None when all are."""
    if not isinstance(stream_state, Mapping) or stream_state.get("state_type") != "date-range":
        return None
    stretches = stream_state.get("slices")
    if not isinstance(stretches, list):
        return stretches
    for stretch in stretches:
        if not isinstance(stretch, Mapping) or not all(_state_time(stretch.get(key)) for key in ("start", "end")):
            return stretch
    return None


def _read_state(path: Optional[str]) -> List[Any]:
    if not path:
        return []
    return parse_state(_read_json("state", path))


def build_source(args: List[str]) -> SourceConfluence:
    parsed = AirbyteEntrypoint.parse_args(args)
    config_path = getattr(parsed, "config", None)
    config = _read_input("config", config_path, SourceConfluence.read_config)
    if config_path is not None and not isinstance(config, Mapping):
        raise _config_error(f"The config file {config_path!r} must hold a JSON object; got a JSON {type(config).__name__}.")
    catalog = _read_input("catalog", getattr(parsed, "catalog", None), SourceConfluence.read_catalog)
    state = _read_state(getattr(parsed, "state", None))
    return SourceConfluence(config=config, catalog=catalog, state=state, config_path=config_path)


def probe(config: Mapping[str, Any]) -> None:
    """Name an unreachable URL in seconds, instead of after minutes of HTTP retries."""
    if not isinstance(config.get("base_url"), str):
        return  # the official connector's config: migrated, then checked by the requests themselves
    probe_reachable(normalise_url(config["base_url"], "base_url"), "base_url")
    credentials = config.get("credentials")
    if isinstance(credentials, Mapping) and credentials.get("auth_type") in GATEWAY_AUTH_TYPES:
        gateway = config.get("api_gateway_url") or DEFAULT_API_GATEWAY_URL
        probe_reachable(normalise_url(gateway, "api_gateway_url"), "api_gateway_url")


def launch(source: SourceConfluence, args: List[str]) -> None:
    entrypoint = ConfluenceEntrypoint(source)
    parsed_args = entrypoint.parse_args(args)
    with PRINT_BUFFER:
        for message in entrypoint.run(parsed_args):
            print(f"{message}\n", end="")


def run(args: Optional[List[str]] = None) -> None:
    args = sys.argv[1:] if args is None else args
    command = None
    try:
        parsed = AirbyteEntrypoint.parse_args(args)
        command = parsed.command
        config_path = getattr(parsed, "config", None)
        raw_config = None
        if config_path:
            try:
                raw_config = _read_json("config", config_path)
            except AirbyteTracedException:
                pass  # reported by build_source with the same message
            register_secrets(raw_config, connection_specification())
        source = build_source(args)
        if command in ("check", "discover", "read") and isinstance(raw_config, Mapping):
            probe(raw_config)
    except AirbyteTracedException as error:
        sys.exit(_emit_startup_error(error.message or "The connector could not start.", error.failure_type or FailureType.system_error, command))
    except SystemExit:
        raise
    except Exception as error:  # never a bare stack trace as the user-facing message
        sys.exit(
            _emit_startup_error(
                f"The connector could not start: {type(error).__name__}. Check the configuration and state.",
                FailureType.system_error,
                command,
            )
        )
    launch(source, args)


if __name__ == "__main__":
    run()
