"""The config's rules, its defaults and the words for a bad value, all read from the spec in manifest.yaml.

Why Python: the CDK checks the config with jsonschema and shows jsonschema's own sentence
(``'yesterday' does not match '^[0-9]{4}-…$'``), which names neither the field nor what to type, and
for the credentials' ``oneOf`` prints the whole object, secrets included. Here jsonschema still finds
what is wrong; this module words it from the spec: the field's path and title, what to type (format,
example, allowed values, range, the sign-in method's fields) and the bad value, never a secret's.
"""

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, List, Mapping, MutableMapping, Optional, Sequence

import yaml
from airbyte_cdk.utils.datetime_helpers import ab_datetime_parse
from jsonschema import Draft7Validator, FormatChecker

MANIFEST_PATH = Path(__file__).resolve().parent / "manifest.yaml"
EXCERPT_CHARS = 60
# How a JSON schema `format` reads to a person; the example from the spec shows the exact form.
FORMAT_WORDS = {"date-time": "a date and time (ISO 8601)"}


# libyaml's loader, which PyYAML's wheels carry: it reads the manifest in about 10 ms where the pure-Python
# loader takes 120 ms, and every command of every sync reads it (bench/NOTES.md, start-up).
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@lru_cache(maxsize=1)
def manifest() -> Mapping[str, Any]:
    """The manifest as YAML, read once per process: the spec's rules here, the source's streams (source.py).
    Shared: whoever edits it (the CDK does) takes a deep copy."""
    return yaml.load(MANIFEST_PATH.read_text(), Loader=YAML_LOADER)


def connection_specification() -> Mapping[str, Any]:
    """The spec's JSON schema: the one place that says what a config may hold."""
    return manifest()["spec"]["connection_specification"]


def spec_default(name: str) -> Any:
    """The default the spec gives a top-level field."""
    return connection_specification()["properties"][name]["default"]


# `format` is only checked for what this connector reads: a date-time the CDK can parse. An empty
# `token_expiry_date` is valid: the OAuth authenticator reads it as "expired, refresh first".
DATE_TIME_CHECKER = FormatChecker(formats=())


@DATE_TIME_CHECKER.checks("date-time", raises=ValueError)
def _readable_date_time(value: Any) -> bool:
    if isinstance(value, str) and value:
        ab_datetime_parse(value)
    return True


def fill_defaults(config: MutableMapping[str, Any]) -> None:
    """Give every optional top-level field left out (or null) the spec's default, so the code reading
    the config never needs a default of its own."""
    properties = connection_specification()["properties"]
    for name, schema in properties.items():
        if "default" in schema and config.get(name) is None:
            config[name] = schema["default"]


def drop_null_optional_fields(config: MutableMapping[str, Any]) -> None:
    """A null optional field means "not set", as leaving it out does (some forms send nulls)."""
    required = set(connection_specification().get("required", ()))
    for name in [name for name, value in config.items() if value is None and name not in required]:
        del config[name]


def config_problems(config: Any) -> List[str]:
    """One sentence per field that breaks the spec, in the spec's order; empty when the config is valid."""
    spec = connection_specification()
    if not isinstance(config, Mapping):
        return [f"The config must be a JSON object; got {_kind(config)}."]
    properties = spec["properties"]
    problems: List[str] = []
    for name in sorted(properties, key=lambda n: properties[n].get("order", len(properties))):
        schema = properties[name]
        if name == "credentials" and "oneOf" in schema:
            problems += _credentials_problems(config.get(name), schema, name in spec.get("required", ()))
        elif name not in config:
            if name in spec.get("required", ()):
                problems.append(f"{_label(name, schema)} is missing; it must be {what_to_type(schema)}.")
        else:
            problem = _field_problem(name, schema, config[name])
            if problem:
                problems.append(problem)
    return problems


def what_to_type(schema: Mapping[str, Any]) -> str:
    """What a field accepts, in words, with an example from the spec (or, lacking one, its description)."""
    if "enum" in schema:
        return "one of " + ", ".join(repr(value) for value in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    kind = schema.get("type")
    if kind in ("integer", "number"):
        words = "a whole number" if kind == "integer" else "a number"
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            words += f" from {low} to {high}"
        elif low is not None:
            words += f" of at least {low}"
        elif high is not None:
            words += f" of at most {high}"
    elif kind == "boolean":
        words = "true or false"
    elif kind == "array":
        items = schema.get("items") or {}
        words = "a list of " + ("non-empty texts" if items.get("minLength") else "texts")
    elif kind == "object":
        words = "an object"
    else:
        words = FORMAT_WORDS.get(schema.get("format"), "text")
        if schema.get("minLength") and "format" not in schema:
            words = "non-empty text"
    example = None if kind == "boolean" else _example(schema)
    if example is not None:
        words += (", written exactly like " if "pattern" in schema else ", e.g. ") + example
    elif schema.get("description") and kind not in ("boolean", "integer", "number"):
        words += f" ({schema['description'].strip().rstrip('.')})"
    return words


def _example(schema: Mapping[str, Any]) -> Optional[str]:
    for value in list(schema.get("examples") or []) + ([schema["default"]] if "default" in schema else []):
        return value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "))
    return None


def _label(path: str, schema: Mapping[str, Any]) -> str:
    return f"'{path}' ({schema['title']})" if schema.get("title") else f"'{path}'"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def _shown(value: Any, schema: Mapping[str, Any]) -> str:
    """The bad value, cut short; a secret's only as its kind."""
    if schema.get("airbyte_secret"):
        return f"{_kind(value)} (not shown: it is secret)"
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def _failed(schema: Mapping[str, Any], value: Any) -> List[Any]:
    return list(Draft7Validator(schema, format_checker=DATE_TIME_CHECKER).iter_errors(value))


def _field_problem(path: str, schema: Mapping[str, Any], value: Any) -> Optional[str]:
    errors = _failed(schema, value)
    if not errors:
        return None
    if isinstance(value, str) and all(error.validator == "minLength" for error in errors) and not value.strip():
        return f"{_label(path, schema)} is empty; it must be {what_to_type(schema)}."
    return f"{_label(path, schema)} must be {what_to_type(schema)}; got {_shown(value, schema)}."


def _methods(branches: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(
        f"{_auth_type(branch)!r} ({branch.get('title', '')}): " + ", ".join(_required_fields(branch)) for branch in branches
    )


def _auth_type(branch: Mapping[str, Any]) -> Any:
    return branch["properties"]["auth_type"]["const"]


def _required_fields(branch: Mapping[str, Any]) -> List[str]:
    return [name for name in branch.get("required", ()) if name != "auth_type"]


def _credentials_problems(credentials: Any, schema: Mapping[str, Any], required: bool) -> List[str]:
    """The credentials' `oneOf`, explained for the branch `auth_type` selects."""
    branches = schema["oneOf"]
    label = _label("credentials", schema)
    if credentials is None:
        if not required:
            return []
        return [f"{label} is missing; choose a sign-in method with 'auth_type' and fill in its fields: {_methods(branches)}."]
    if not isinstance(credentials, Mapping):  # its value may be a token pasted in the wrong place: never shown
        return [f"{label} must be an object with 'auth_type' and the sign-in method's fields ({_methods(branches)}); "
                f"got {_kind(credentials)}."]
    auth_type = credentials.get("auth_type")
    branch = next((branch for branch in branches if _auth_type(branch) == auth_type), None)
    if branch is None:
        choices = ", ".join(f"{_auth_type(branch)!r} ({branch.get('title', '')})" for branch in branches)
        found = "it is missing" if auth_type is None else f"got {_shown(auth_type, {})}"
        return [f"'credentials.auth_type' must name a sign-in method, one of {choices}; {found}."]
    method = f"sign-in method {auth_type!r} ({branch.get('title', '')})"
    needed = " and ".join(_required_fields(branch))
    problems = []
    for name, field_schema in sorted(branch["properties"].items(), key=lambda item: item[1].get("order", 0)):
        path = f"credentials.{name}"
        if name not in credentials:
            if name in branch.get("required", ()):
                problems.append(f"{_label(path, field_schema)} is missing; {method} needs {needed}. "
                                f"It must be {what_to_type(field_schema)}.")
            continue
        problem = _field_problem(path, field_schema, credentials[name])
        if problem:
            problems.append(problem)
    return problems
