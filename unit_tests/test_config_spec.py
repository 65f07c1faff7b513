"""config_spec: every bad config value gets a message that names the field and says what to type.

The expectations are read from the spec in manifest.yaml (the truth), never from the code under test:
each field's path and title, its examples, enum, range; a bad value is made up here per constraint.
"""

import copy
import json
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import pytest
import yaml

from source_confluence.config_spec import config_problems, fill_defaults
from unit_tests.config_builder import ConfigBuilder

SPEC = yaml.safe_load((Path(__file__).resolve().parents[1] / "source_confluence" / "manifest.yaml").read_text())["spec"][
    "connection_specification"
]
SECRET = "SeCrEt-7f3a9c-do-not-print"
CONSTRAINTS = ("pattern", "format", "enum", "minimum", "maximum", "type")


def branches() -> Dict[str, Mapping[str, Any]]:
    return {branch["properties"]["auth_type"]["const"]: branch for branch in SPEC["properties"]["credentials"]["oneOf"]}


def valid_config(auth_type: str = "api_token") -> Dict[str, Any]:
    """A config valid for the spec, with the given sign-in method's required fields filled in."""
    credentials = {name: "x" for name in branches()[auth_type]["required"]}
    credentials["auth_type"] = auth_type
    return {**ConfigBuilder().build(), "credentials": credentials}


def fields() -> Iterator[Tuple[str, Mapping[str, Any], Optional[str]]]:
    """(path, schema, auth_type) of every spec field with a constraint; auth_type is None at the top level."""
    for name, schema in SPEC["properties"].items():
        if name == "credentials":
            for auth_type, branch in branches().items():
                for field, field_schema in branch["properties"].items():
                    if field != "auth_type" and any(key in field_schema for key in CONSTRAINTS):
                        yield f"credentials.{field}", field_schema, auth_type
        elif any(key in schema for key in CONSTRAINTS):
            yield name, schema, None


def bad_values(schema: Mapping[str, Any]) -> List[Any]:
    """Values breaking each constraint the field has: its type, and its pattern/format/enum/range."""
    kind = schema.get("type")
    values: List[Any] = [{"not": "this kind"} if kind != "object" else "not an object"]
    if "enum" in schema:
        values.append("not-one-of-them")
    if "pattern" in schema or "format" in schema:
        values.append("yesterday")
    if "minimum" in schema:
        values.append(schema["minimum"] - 1)
    if "maximum" in schema:
        values.append(schema["maximum"] + 1)
    if kind == "array":
        values.append([""])
    return values


def what_to_type_hints(schema: Mapping[str, Any]) -> List[str]:
    """What the message must show so a person knows what to type: the spec's allowed values, range or example."""
    if "enum" in schema:
        return [str(value) for value in schema["enum"]]
    if "minimum" in schema or "maximum" in schema:
        return [str(schema[key]) for key in ("minimum", "maximum") if key in schema]
    if schema.get("type") == "boolean":
        return ["true or false"]
    if schema.get("examples"):
        example = schema["examples"][0]
        return [example if isinstance(example, str) else json.dumps(example, separators=(", ", ": "))]
    if "default" in schema:
        return [str(schema["default"])]
    # Only a secret has no example (a sample token would mislead): its description says what to paste.
    assert schema.get("airbyte_secret"), f"give this field `examples` in the spec: {schema}"
    return [schema["description"].strip().rstrip(".")]


def set_path(config: Dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    target = config
    for parent in parents:
        target = target[parent]
    target[leaf] = value


def message_for(path: str, auth_type: Optional[str], value: Any) -> str:
    config = valid_config(auth_type or "api_token")
    set_path(config, path, value)
    problems = config_problems(config)
    assert len(problems) == 1, problems
    return problems[0]


CASES = [
    pytest.param(path, schema, auth_type, value, id=f"{path}[{auth_type or ''}]={json.dumps(value)}")
    for path, schema, auth_type in fields()
    for value in bad_values(schema)
]


def test_the_walk_covers_every_kind_of_constraint():
    seen = {key for _, schema, _ in fields() for key in CONSTRAINTS if key in schema}
    assert seen == set(CONSTRAINTS)
    assert {"start_date", "num_workers", "deployment", "credentials.token_expiry_date", "credentials.api_token"} <= {
        path for path, _, _ in fields()
    }


@pytest.mark.parametrize("path, schema, auth_type, value", CASES)
def test_every_bad_value_names_the_field_and_says_what_to_type(path, schema, auth_type, value):
    message = message_for(path, auth_type, value)
    assert f"'{path}'" in message
    if schema.get("title"):
        assert f"({schema['title']})" in message
    for hint in what_to_type_hints(schema):
        assert hint in message, f"{hint!r} missing from {message!r}"
    if not schema.get("airbyte_secret"):
        assert json.dumps(value) in message or repr(value) in message, "the bad value is shown"


SECRET_CASES = [
    pytest.param(path, auth_type, bad, id=f"{path}[{auth_type or ''}]={json.dumps(bad)}")
    for path, schema, auth_type in fields()
    if schema.get("airbyte_secret")
    for bad in [[SECRET], {"token": SECRET}, 12345678] + ([""] if schema.get("minLength") else [])
]


@pytest.mark.parametrize("path, auth_type, bad", SECRET_CASES)
def test_a_secret_field_never_shows_its_value(path, auth_type, bad):
    message = message_for(path, auth_type, bad)
    assert f"'{path}'" in message
    assert SECRET not in message and SECRET[:8] not in message and "12345678" not in message


def test_start_date_yesterday_shows_the_expected_form():
    message = message_for("start_date", None, "yesterday")
    assert message.startswith("'start_date' (Start date) must be")
    assert "2024-01-01T00:00:00Z" in message and "'yesterday'" in message


def test_a_long_bad_value_is_shown_only_as_an_excerpt():
    message = message_for("start_date", None, "y" * 500)
    assert "y" * 40 in message and "y" * 100 not in message and "…" in message


def test_two_bad_fields_give_one_sentence_each():
    config = valid_config()
    config.update(num_workers=0, deployment="server")
    problems = config_problems(config)
    assert [problem.split(" ")[0] for problem in problems] == ["'deployment'", "'num_workers'"]


class TestCredentials:
    def test_unknown_auth_type_lists_every_sign_in_method_and_shows_no_other_field(self):
        config = valid_config()
        config["credentials"] = {"auth_type": "magic", "token": SECRET}
        (message,) = config_problems(config)
        assert "'credentials.auth_type'" in message and "'magic'" in message
        for auth_type, branch in branches().items():
            assert f"'{auth_type}' ({branch['title']})" in message
        assert SECRET not in message

    def test_missing_auth_type_lists_every_sign_in_method(self):
        config = valid_config()
        config["credentials"] = {"api_token": SECRET}
        (message,) = config_problems(config)
        assert "'credentials.auth_type'" in message and all(f"'{auth}'" in message for auth in branches())
        assert SECRET not in message

    @pytest.mark.parametrize("auth_type", list(branches()))
    def test_a_missing_field_is_explained_for_the_selected_sign_in_method(self, auth_type):
        required = [name for name in branches()[auth_type]["required"] if name != "auth_type"]
        config = valid_config(auth_type)
        del config["credentials"][required[-1]]
        (message,) = config_problems(config)
        assert f"'credentials.{required[-1]}'" in message and "is missing" in message
        assert f"sign-in method '{auth_type}'" in message
        assert all(name in message for name in required)

    def test_missing_credentials_name_each_method_and_its_fields(self):
        config = valid_config()
        del config["credentials"]
        (message,) = config_problems(config)
        assert message.startswith("'credentials' (Authentication) is missing")
        for auth_type, branch in branches().items():
            fields_needed = ", ".join(name for name in branch["required"] if name != "auth_type")
            assert f"'{auth_type}' ({branch['title']}): {fields_needed}" in message

    def test_credentials_that_are_not_an_object_are_not_shown(self):
        config = valid_config()
        config["credentials"] = SECRET
        (message,) = config_problems(config)
        assert message.startswith("'credentials' (Authentication) must be an object") and SECRET not in message

    def test_an_empty_token_expiry_date_is_valid_it_means_refresh_first(self):
        config = valid_config("oauth2")
        config["credentials"]["token_expiry_date"] = ""
        assert config_problems(config) == []


def test_a_valid_config_has_no_problem():
    assert config_problems(ConfigBuilder().build()) == []
    assert config_problems(ConfigBuilder().data_center().build()) == []


def test_a_config_that_is_not_an_object_is_named_as_such():
    assert config_problems(["x"]) == ["The config must be a JSON object; got a list."]


def test_missing_required_top_level_fields_say_what_to_type():
    config = valid_config()
    del config["base_url"]
    (message,) = config_problems(config)
    assert message.startswith("'base_url' (Confluence URL) is missing")
    assert SPEC["properties"]["base_url"]["examples"][0] in message


def test_defaults_are_the_specs():
    config: Dict[str, Any] = {"num_workers": None, "include_archived": False}
    fill_defaults(config)
    expected = {name: schema["default"] for name, schema in SPEC["properties"].items() if "default" in schema}
    assert config == {**expected, "include_archived": False}
    assert config["num_workers"] == 8 and config["lookback_window_minutes"] == 15


def test_the_spec_is_not_changed_by_the_checks():
    before = copy.deepcopy(SPEC)
    config_problems({"credentials": {"auth_type": "oauth2"}})
    assert SPEC == before
