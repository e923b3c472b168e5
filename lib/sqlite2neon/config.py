"""The runbook's parameters: one definition, shared by the CLI, the notebooks and the tests.

    >>> p = Params.load("params/demo.yaml", overrides={"if_exists": "truncate"})
    >>> p.if_exists
    'truncate'
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from .errors import ConfigError, one_line

IF_EXISTS = ("fail", "truncate", "append")
IDENTIFIERS = ("lower", "snake_case", "preserve")
ORPHANS = ("stop", "load", "null")
BAD_TEXT = ("replace", "strip", "reject")
VERIFY = ("full", "sample")
FULL_TEXT = ("skip", "tsvector")
# What the cutover does with rows changed in Postgres since the last sync (cutover.py).
CONFLICTS = ("stop", "keep_target", "take_source")
# numeric(p,s): a precision and a scale (PostgreSQL docs, 8.1.2); the one pattern for it everywhere
NUMERIC = re.compile(r"numeric\((\d+),\s*(\d+)\)")


def numeric_scale(pg_type: str) -> int | None:
    """The scale of a `numeric(p,s)` type, or None for any other type."""
    m = NUMERIC.fullmatch(pg_type)
    return int(m.group(2)) if m else None


# Kinds of thing the plan may list as not arriving as it is in SQLite (plan.Loss), for accept_losses.
LOSS_KINDS = ("view", "index", "default", "collation", "check", "generated", "trigger", "virtual_table",
              "foreign_key", "value", "column")
# Conversions a column can ask for; `plan.py` turns each into DuckDB and Postgres SQL.
CONVERSIONS = ("none", "unix_seconds", "unix_millis", "unix_micros", "julian_day", "iso_text", "json", "bool01")
TARGET_TYPES = (
    "text", "bigint", "integer", "double precision", "boolean", "timestamptz",
    "date", "jsonb", "bytea", "numeric", "real", "smallint", "timestamp", "json", "uuid",
)


@dataclass
class Params:
    """Every parameter of the runbook, with the defaults that run the demo."""

    name: str = "demo"
    sqlite_path: str = "data/demo.db"
    database_url: str = ""
    database_url_direct: str = ""
    env_file: str = ".env"
    target_schema: str = "public"
    tables: list[str] = field(default_factory=list)
    if_exists: str = "fail"
    dry_run: bool = False
    column_overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    identifiers: str = "lower"
    orphans: str = "stop"
    foreign_key_unique: bool = False
    full_text: str = "skip"
    timestamp_years: str = "1900-2200"
    bad_text: str = "replace"
    fail_on_rejects: bool = True
    accept_losses: list[str] = field(default_factory=list)
    target_ddl: str = ""
    storage_budget_mb: int = 512
    batch_rows: int = 20_000
    workers: int = 2
    connect_wait: int = 30
    connect_timeout: int = 10
    statement_timeout: int = 0
    lock_timeout: int = 60
    idle_timeout: int = 0
    allow_insecure: bool = False
    verify: str = "full"
    sample_fraction: float = 0.1
    conflicts: str = "stop"
    api_url: str = ""
    api_items_path: str = "/api/items"
    api_items_table: str = "mental_items"
    app_switch: str = "MENTAL_USE_REMOTE"
    app_switch_value: str = "true"
    embedded_dir: str = ".sqlite2neon/postgres"
    run_dir: str = ""

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def _unknown(cls, names: list[str]) -> str:
        """The misspelt names, each with the parameter it most likely meant ('if_exist' (did you mean
        'if_exists'?))."""
        import difflib

        said = []
        for name in names:
            close = difflib.get_close_matches(str(name), cls.names(), n=1, cutoff=0.75)
            said.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        return ", ".join(said)

    @classmethod
    def from_mapping(cls, values: dict[str, Any], *, origin: str = "parameters") -> "Params":
        unknown = sorted(set(values) - set(cls.names()))
        if unknown:
            raise ConfigError(f"unknown parameter {cls._unknown(unknown)} in {origin}; "
                              f"valid parameters: {', '.join(cls.names())}")
        defaults = cls()
        kwargs = {}
        for name, value in values.items():
            kwargs[name] = _coerce(name, value, getattr(defaults, name))
        params = cls(**kwargs)
        params.validate()
        return params

    @classmethod
    def load(cls, path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> "Params":
        values: dict[str, Any] = {}
        if path:
            path = Path(path)
            try:
                loaded = yaml.safe_load(path.read_text()) or {}
            except FileNotFoundError:
                raise ConfigError(f"parameter file {path} does not exist") from None
            except yaml.YAMLError as exc:
                raise ConfigError(f"parameter file {path} is not valid YAML: {one_line(exc, 1)}") from None
            if not isinstance(loaded, dict):
                raise ConfigError(f"parameter file {path} must hold a mapping of parameter: value")
            values.update(loaded)
            origin = str(path)
        else:
            origin = "parameters"
        unknown = sorted(set(overrides or {}) - set(cls.names()))
        if unknown:  # say where a misspelt name came from: the command line, not the file
            raise ConfigError(f"unknown parameter {cls._unknown(unknown)} given with -p; "
                              f"valid parameters: {', '.join(cls.names())}")
        values.update(overrides or {})
        return cls.from_mapping(values, origin=origin)

    @classmethod
    def from_notebook(cls, namespace: dict[str, Any]) -> "Params":
        """The parameters a notebook's `parameters` cell (and papermill) defined."""
        return cls.from_mapping({k: namespace[k] for k in cls.names() if k in namespace})

    def validate(self) -> None:
        if self.if_exists not in IF_EXISTS:
            raise ConfigError(f"if_exists must be one of {', '.join(IF_EXISTS)}, not {self.if_exists!r}")
        for name, allowed in (("identifiers", IDENTIFIERS), ("orphans", ORPHANS), ("bad_text", BAD_TEXT),
                              ("verify", VERIFY), ("conflicts", CONFLICTS),
                              ("full_text", FULL_TEXT)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", self.name or ""):
            raise ConfigError(f"name must be letters, digits, '.', '_' or '-', not {self.name!r}")
        for item in self.accept_losses:
            kind = item.partition(":")[0]
            if item != "*" and (":" not in item or kind not in LOSS_KINDS or not item.partition(":")[2]):
                raise ConfigError(f"accept_losses item {item!r} must be KIND:NAME, KIND:* or *, with KIND one of "
                                  f"{', '.join(LOSS_KINDS)}")
        if (not re.fullmatch(r"\d{1,4}-\d{1,4}", self.timestamp_years or "") or self.years()[0] > self.years()[1]
                or self.years()[0] < 1):
            raise ConfigError(f"timestamp_years must be FIRST-LAST with years from 1 to 9999, e.g. 1900-2200, "
                              f"not {self.timestamp_years!r}")
        if self.batch_rows < 1:
            raise ConfigError("batch_rows must be at least 1")
        if self.workers < 1:
            raise ConfigError("workers must be at least 1")
        if not 0 < self.sample_fraction <= 1:
            raise ConfigError(f"sample_fraction must be more than 0 and at most 1, not {self.sample_fraction!r}")
        if self.api_url and not re.match(r"https?://|env:", self.api_url):
            raise ConfigError(f"api_url must start with http:// or https://, not {redact_url(self.api_url)!r}")
        if self.connect_wait < 0 or self.connect_timeout < 1:
            raise ConfigError("connect_wait must be >= 0 and connect_timeout >= 1")
        if min(self.statement_timeout, self.lock_timeout, self.idle_timeout) < 0:
            raise ConfigError("statement_timeout, lock_timeout and idle_timeout are seconds >= 0 (0: no limit)")
        for key, spec in self.column_overrides.items():
            if "." not in key or not isinstance(spec, dict):
                raise ConfigError(
                    f"column_overrides key {key!r} must be 'table.column' mapping to {{type: ..., convert: ...}}"
                )
            bad = set(spec) - {"type", "convert"}
            if bad:
                raise ConfigError(f"column_overrides[{key!r}] has unknown field(s) {sorted(bad)}; use type, convert")
            if "convert" in spec and spec["convert"] not in CONVERSIONS:
                raise ConfigError(
                    f"column_overrides[{key!r}].convert must be one of {', '.join(CONVERSIONS)}"
                )
            if "type" in spec and spec["type"] not in TARGET_TYPES and not NUMERIC.fullmatch(spec["type"]):
                raise ConfigError(
                    f"column_overrides[{key!r}].type must be one of {', '.join(TARGET_TYPES)}"
                )

    def years(self) -> tuple[int, int]:
        """`timestamp_years` as (first, last): instants outside are implausible, a listed loss."""
        first, _, last = self.timestamp_years.partition("-")
        return int(first), int(last)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def redacted(self) -> dict[str, Any]:
        """The parameters as they may be written into a record: passwords removed."""
        values = self.as_dict()
        for key in ("database_url", "database_url_direct", "api_url"):
            values[key] = redact_url(values[key])
        return values


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Papermill's `-p` and YAML give strings and numbers; turn them into the field's type."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.lower() in ("true", "yes", "1")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ConfigError(f"{name} must be true or false, not {value!r}")
    if isinstance(default, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a number, not {value!r}") from None
    if isinstance(default, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if isinstance(default, list):
        if value is None or value == "":
            return []
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, (list, tuple)):
            return [str(v) for v in value]
        raise ConfigError(f"{name} must be a list, not {value!r}")
    if isinstance(default, dict):
        if value is None or value == "":
            return {}
        if isinstance(value, str):
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError as exc:
                raise ConfigError(f"{name} is not valid YAML: {one_line(exc, 1)}") from None
        if not isinstance(value, dict):
            raise ConfigError(f"{name} must be a mapping, not {value!r}")
        return value
    if value is None:
        return ""
    if isinstance(value, bool):  # YAML's true, as an environment value is written
        return "true" if value else "false"
    return str(value)


def redact_url(url: str) -> str:
    """A connection URL with its password replaced, safe for any record or message.

    >>> redact_url("postgresql://app:s3cret@ep-x.neon.tech/db?sslmode=require")
    'postgresql://app:***@ep-x.neon.tech/db?sslmode=require'
    """
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{host}"
    query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def project_root(start: Path | None = None) -> Path:
    """The checkout the runbook lives in: where `params/` and `notebooks/` sit.

    Notebooks opened in JupyterLab run with `notebooks/` as their working directory; the CLI
    runs from wherever it is called. Both resolve relative paths against this root.
    """
    env = os.environ.get("SQLITE2NEON_ROOT")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "notebooks").is_dir() and (candidate / "params").is_dir():
            return candidate
    return here


def resolve_path(path: str | Path, root: Path | None = None) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else (root or project_root()) / path
