"""The runbook's parameters: a YAML parameter file, overrides on top, `-p` strings coerced,
wrong values refused with one-line ConfigErrors, and URLs redacted before they are recorded."""

from __future__ import annotations

import pytest

from sqlite2neon.config import Params, redact_url
from sqlite2neon.errors import ConfigError


@pytest.fixture
def param_file(tmp_path):
    def write(text: str):
        path = tmp_path / "params.yaml"
        path.write_text(text)
        return path

    return write


# --- parameter file and overrides ---------------------------------------------------------------

def test_parameter_file_values_are_loaded(param_file):
    path = param_file(
        "name: shop\n"
        "sqlite_path: data/shop.db\n"
        "if_exists: truncate\n"
        "tables: [orders, customers]\n"
        "batch_rows: 5000\n"
        "allow_insecure: true\n"
        "column_overrides:\n"
        "  orders.placed_at: {type: timestamptz, convert: unix_millis}\n"
    )
    params = Params.load(path)
    assert params.name == "shop"
    assert params.sqlite_path == "data/shop.db"
    assert params.if_exists == "truncate"
    assert params.tables == ["orders", "customers"]
    assert params.batch_rows == 5000
    assert params.allow_insecure is True
    assert params.column_overrides == {"orders.placed_at": {"type": "timestamptz", "convert": "unix_millis"}}
    # what the file does not set keeps its default
    assert params.target_schema == "public"
    assert params.connect_wait == 30


def test_overrides_win_over_the_parameter_file(param_file):
    path = param_file("name: shop\nif_exists: fail\nbatch_rows: 5000\n")
    params = Params.load(path, overrides={"if_exists": "append", "batch_rows": "10"})
    assert params.name == "shop"
    assert params.if_exists == "append"
    assert params.batch_rows == 10


def test_overrides_alone_without_a_parameter_file():
    params = Params.load(None, overrides={"name": "solo", "dry_run": "yes"})
    assert params.name == "solo"
    assert params.dry_run is True


def test_empty_parameter_file_gives_the_defaults(param_file):
    assert Params.load(param_file("")) == Params()


def test_missing_parameter_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        Params.load(tmp_path / "nope.yaml")


def test_parameter_file_that_is_not_a_mapping_is_a_config_error(param_file):
    with pytest.raises(ConfigError, match="mapping"):
        Params.load(param_file("- just\n- a list\n"))


def test_parameter_file_with_broken_yaml_is_a_one_line_config_error(param_file):
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        Params.load(param_file("name: [unclosed\n"))
    assert "\n" not in str(info.value)


# --- unknown parameters -------------------------------------------------------------------------

def test_unknown_parameter_in_file_lists_the_valid_names(param_file):
    path = param_file("name: shop\nif_exist: truncate\n")
    with pytest.raises(ConfigError) as info:
        Params.load(path)
    message = str(info.value)
    assert "'if_exist'" in message
    assert str(path) in message
    for valid in Params.names():
        assert valid in message
    assert "\n" not in message


def test_unknown_override_is_a_config_error():
    with pytest.raises(ConfigError, match=r"unknown parameter 'sqlite_file'.*valid parameters: .*sqlite_path"):
        Params.load(None, overrides={"sqlite_file": "x.db"})


# --- coercion of `-p` strings -------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("true", True), ("True", True), ("yes", True), ("1", True),
    ("false", False), ("FALSE", False), ("no", False), ("0", False),
    (1, True), (0, False), (True, True), (False, False),
])
def test_bool_parameters_accept_the_usual_spellings(text, expected):
    assert Params.from_mapping({"dry_run": text}).dry_run is expected


@pytest.mark.parametrize("bad", ["maybe", "", 2, "on-ish"])
def test_bool_parameter_with_another_value_is_refused(bad):
    with pytest.raises(ConfigError, match="dry_run must be true or false"):
        Params.from_mapping({"dry_run": bad})


def test_int_parameters_from_strings():
    params = Params.from_mapping({"batch_rows": "250", "connect_wait": "0", "storage_budget_mb": 3000})
    assert (params.batch_rows, params.connect_wait, params.storage_budget_mb) == (250, 0, 3000)
    assert isinstance(params.batch_rows, int)


@pytest.mark.parametrize("bad", ["ten", "1.5", None])
def test_int_parameter_that_is_not_a_whole_number_is_refused(bad):
    with pytest.raises(ConfigError, match="batch_rows must be a whole number"):
        Params.from_mapping({"batch_rows": bad})


@pytest.mark.parametrize("value, expected", [
    ("orders,customers", ["orders", "customers"]),
    (" orders , customers ,", ["orders", "customers"]),
    ("orders", ["orders"]),
    ("", []),
    (None, []),
    (["a", "b"], ["a", "b"]),
    (("a",), ["a"]),
])
def test_list_parameters_from_comma_separated_text(value, expected):
    assert Params.from_mapping({"tables": value}).tables == expected


def test_mapping_parameter_given_as_yaml_text():
    params = Params.from_mapping({
        "column_overrides": "{orders.total: {type: text}, orders.placed_at: {convert: unix_millis}}",
    })
    assert params.column_overrides == {
        "orders.total": {"type": "text"},
        "orders.placed_at": {"convert": "unix_millis"},
    }


def test_mapping_parameter_given_as_empty_text_is_empty():
    assert Params.from_mapping({"column_overrides": ""}).column_overrides == {}


def test_mapping_parameter_given_as_yaml_text_that_is_not_a_mapping_is_refused():
    with pytest.raises(ConfigError, match="column_overrides must be a mapping"):
        Params.from_mapping({"column_overrides": "[a, b]"})


def test_mapping_parameter_given_as_broken_yaml_text_is_a_config_error():
    # `-p column_overrides '{orders.total: {type: text}'` (a brace missing) must give a
    # ConfigError the CLI can print, not a YAML traceback.
    with pytest.raises(ConfigError, match="column_overrides"):
        Params.from_mapping({"column_overrides": "{orders.total: {type: text}"})


def test_string_parameters_from_numbers_and_none():
    params = Params.from_mapping({"name": 2024, "database_url": None})
    assert params.name == "2024"
    assert params.database_url == ""


def test_from_notebook_takes_only_parameter_names():
    namespace = {"name": "nb", "if_exists": "append", "pd": object(), "_": 3}
    params = Params.from_notebook(namespace)
    assert (params.name, params.if_exists) == ("nb", "append")


# --- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["replace", "TRUNCATE", ""])
def test_bad_if_exists_is_refused_with_the_choices(bad):
    with pytest.raises(ConfigError) as info:
        Params.from_mapping({"if_exists": bad})
    assert "fail, truncate, append" in str(info.value)


@pytest.mark.parametrize("values, match", [
    ({"name": "my run"}, "name must be"),
    ({"name": ""}, "name must be"),
    ({"batch_rows": 0}, "batch_rows"),
    ({"connect_wait": -1}, "connect_wait"),
    ({"statement_timeout": -1}, "statement_timeout"),
    ({"connect_timeout": 0}, "connect_timeout"),
])
def test_other_bad_values_are_refused(values, match):
    with pytest.raises(ConfigError, match=match):
        Params.from_mapping(values)


def test_valid_column_overrides_are_accepted():
    overrides = {
        "orders.total": {"type": "double precision"},
        "orders.placed_at": {"type": "timestamptz", "convert": "unix_seconds"},
        "orders.meta": {"convert": "json"},
    }
    assert Params.from_mapping({"column_overrides": overrides}).column_overrides == overrides


@pytest.mark.parametrize("overrides, match", [
    ({"total": {"type": "text"}}, "must be 'table.column'"),
    ({"orders.total": "text"}, "must be 'table.column'"),
    ({"orders.total": {"kind": "text"}}, r"unknown field\(s\) \['kind'\]"),
    ({"orders.total": {"type": "varchar(20)"}}, r"\.type must be one of .*jsonb"),
    ({"orders.total": {"convert": "unix_nanos"}}, r"\.convert must be one of .*unix_millis"),
])
def test_bad_column_overrides_are_refused(overrides, match):
    with pytest.raises(ConfigError, match=match):
        Params.from_mapping({"column_overrides": overrides})


def test_config_errors_are_one_line():
    with pytest.raises(ConfigError) as info:
        Params.from_mapping({"column_overrides": {"orders.total": {"convert": "nope"}}})
    assert "\n" not in str(info.value)


# --- redaction ----------------------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("postgresql://app:s3cret@ep-x.neon.tech/db?sslmode=require",
     "postgresql://app:***@ep-x.neon.tech/db?sslmode=require"),
    ("postgresql://app:p%40ss:w0rd@host:5432/db", "postgresql://app:***@host:5432/db"),
    ("postgresql://app:with@at@host/db", "postgresql://app:***@host/db"),
    ("postgresql://host/db?user=app&password=s3cret&sslmode=require",
     "postgresql://host/db?user=app&password=***&sslmode=require"),
    ("postgresql://host/db?PASSWORD=s3cret", "postgresql://host/db?PASSWORD=***"),
    ("postgresql://app@127.0.0.1:5432/db", "postgresql://app@127.0.0.1:5432/db"),
    ("postgresql://127.0.0.1/db", "postgresql://127.0.0.1/db"),
    ("", ""),
])
def test_redact_url_hides_passwords(url, expected):
    assert redact_url(url) == expected


@pytest.mark.parametrize("url", [
    "postgresql://app:hunter2-secret@ep-x-123-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require",
    "postgresql://app@host/db?password=hunter2-secret",
    "postgresql://app:hunter2-secret@host/db?password=hunter2-secret",
])
def test_redacted_params_hold_no_password(url):
    params = Params.from_mapping({"database_url": url, "database_url_direct": url})
    redacted = params.redacted()
    assert "hunter2-secret" not in repr(redacted)
    assert params.database_url == url  # the parameters themselves keep the URL


def test_a_yaml_boolean_given_to_a_text_parameter_reads_as_written():
    assert Params.from_mapping({"app_switch_value": True}).app_switch_value == "true"
    assert Params.from_mapping({"app_switch_value": "1"}).app_switch_value == "1"


def test_sample_fraction_and_verify_are_checked():
    assert Params.from_mapping({"verify": "sample", "sample_fraction": "0.25"}).sample_fraction == 0.25
    for bad in ({"verify": "some"}, {"sample_fraction": 0}, {"sample_fraction": 1.5}, {"sample_fraction": "a lot"},
                {"api_url": "ftp://x"}):
        with pytest.raises(ConfigError):
            Params.from_mapping(bad)
