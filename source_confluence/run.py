"""`source-confluence spec|check|discover|read`: parse the Airbyte arguments, build the source, launch.

Start-up failures (a config file that is not JSON, a malformed state, a catalog that does not
parse) are reported as one Airbyte TRACE error with a message a user can act on, instead of a
Python stack trace on stdout.
"""

import sys
from datetime import datetime, timezone
from typing import List, Optional

import orjson
from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.models import (
    AirbyteErrorTraceMessage,
    AirbyteMessage,
    AirbyteMessageSerializer,
    AirbyteTraceMessage,
    FailureType,
    TraceType,
    Type,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_confluence.source import SourceConfluence


def _emit_startup_error(message: str, failure_type: FailureType) -> None:
    trace = AirbyteTraceMessage(
        type=TraceType.ERROR,
        emitted_at=datetime.now(timezone.utc).timestamp() * 1000,
        error=AirbyteErrorTraceMessage(message=message, failure_type=failure_type),
    )
    message_json = AirbyteMessageSerializer.dump(AirbyteMessage(type=Type.TRACE, trace=trace))
    print(orjson.dumps(message_json).decode(), flush=True)


def _read_input(kind: str, path: Optional[str], reader):  # type: ignore[no-untyped-def]
    if not path:
        return None
    try:
        return reader(path)
    except Exception as error:  # the file, not the connector, is at fault: say which one
        raise AirbyteTracedException(
            message=f"The {kind} file {path!r} could not be read: {type(error).__name__}. "
            f"It must be the JSON document Airbyte expects for a {kind}.",
            internal_message=f"{kind} parse failure: {type(error).__name__}",
            failure_type=FailureType.config_error,
        ) from None


def build_source(args: List[str]) -> SourceConfluence:
    parsed = AirbyteEntrypoint.parse_args(args)
    config_path = getattr(parsed, "config", None)
    config = _read_input("config", config_path, SourceConfluence.read_config)
    catalog = _read_input("catalog", getattr(parsed, "catalog", None), SourceConfluence.read_catalog)
    state = _read_input("state", getattr(parsed, "state", None), SourceConfluence.read_state) or []
    return SourceConfluence(config=config, catalog=catalog, state=state, config_path=config_path)


def run(args: Optional[List[str]] = None) -> None:
    args = sys.argv[1:] if args is None else args
    try:
        source = build_source(args)
    except AirbyteTracedException as error:
        _emit_startup_error(error.message or "The connector could not start.", error.failure_type or FailureType.system_error)
        sys.exit(1)
    except Exception as error:  # never a bare stack trace as the user-facing message
        _emit_startup_error(
            f"The connector could not start: {type(error).__name__}. Check the configuration and state.",
            FailureType.system_error,
        )
        sys.exit(1)
    launch(source, args)


if __name__ == "__main__":
    run()
