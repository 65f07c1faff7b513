"""What the console script does before anything else imports airbyte-cdk.

``airbyte_cdk.models`` builds its protocol serializers (serpyco-rs) when it is imported, and serpyco-rs gives
each serializer a JSON schema, reading the docstring of every field of the protocol's dataclasses from their
source files (``inspect.getsource``, which on Python 3.11 parses the whole module again for each class). That
was 0.44 s of the console script's 1.27 s of imports on the benchmark machine, 0.09 s without (bench/NOTES.md).
Neither the CDK nor this connector reads those schemas: they dump and load messages. So they are left out while
the CDK's models are imported; every serializer built afterwards gets its schema as usual.

If serpyco-rs no longer builds the schema where this expects it, the models are imported the usual way.
"""

import importlib
from typing import Any, Optional


def import_protocol_models() -> None:
    """Import ``airbyte_cdk.models``, its serializers built without JSON schemas (a no-op once it is imported)."""
    try:
        serializer_module: Optional[Any] = importlib.import_module("serpyco_rs._main")
    except ImportError:
        serializer_module = None
    build_schema = getattr(serializer_module, "get_json_schema", None)
    if not callable(build_schema):
        importlib.import_module("airbyte_cdk.models")
        return
    setattr(serializer_module, "get_json_schema", _no_schema)
    try:
        importlib.import_module("airbyte_cdk.models")
    finally:
        setattr(serializer_module, "get_json_schema", build_schema)


def _no_schema(type_info: Any) -> None:
    return None
