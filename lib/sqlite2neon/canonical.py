"""The canonical text form of a value, defined once, computed on both sides of the migration.

Source side: a DuckDB expression over the typed source value (`plan.typed_value`).
Target side: a Postgres expression over the loaded column. Equal values give equal text:

- timestamptz: UTC, microseconds, `YYYY-MM-DD HH:MM:SS.ffffff`
- date: `YYYY-MM-DD`
- boolean: `t` / `f`
- integers: decimal digits
- double precision: shortest round-trip digits; `inf`, `-inf`, `nan`; `-0` equals `0`
- bytea: lower-case hex
- text: the text, with NUL replaced by U+FFFD as the load does
- jsonb: Postgres' own `jsonb::text` form (keys ordered by length then bytes, `", "` and `": "`)

A row's form joins its columns' forms with U+001F, each prefixed `v`, or `n` for NULL.
"""

from __future__ import annotations

import json
from decimal import Decimal

from psycopg import sql

from .plan import ColumnPlan, TablePlan, typed_value

SEPARATOR = "chr(31)"


def source_expr(table: TablePlan, col: ColumnPlan) -> str:
    v = typed_value(table, col)
    t = col.pg_type
    if t == "timestamptz":
        return f"strftime({v}, '%Y-%m-%d %H:%M:%S.%f')"
    if t == "date":
        return f"strftime({v}, '%Y-%m-%d')"
    if t == "boolean":
        return f"CASE WHEN {v} THEN 't' ELSE 'f' END"
    if t in ("bigint", "integer"):
        return f"CAST({v} AS VARCHAR)"
    if t == "double precision":
        return (
            f"CASE WHEN isnan({v}) THEN 'nan' WHEN {v} = 0 THEN '0' "
            f"ELSE regexp_replace(lower(CAST({v} AS VARCHAR)), '\\.0$', '') END"
        )
    if t == "bytea":
        return f"lower(hex({v}))"
    if t == "jsonb":
        return f"jsonb_text(replace({v}, chr(0), chr(65533)))"
    return f"replace({v}, chr(0), chr(65533))"


def target_expr(col: ColumnPlan) -> sql.Composable:
    c = sql.Identifier(col.target)
    t = col.pg_type
    forms = {
        "timestamptz": "to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
        "date": "to_char({c}, 'YYYY-MM-DD')",
        "boolean": "CASE WHEN {c} THEN 't' ELSE 'f' END",
        "bigint": "{c}::text",
        "integer": "{c}::text",
        "double precision": (
            "CASE WHEN {c} = 'NaN'::float8 THEN 'nan' WHEN {c} = 'Infinity'::float8 THEN 'inf' "
            "WHEN {c} = '-Infinity'::float8 THEN '-inf' WHEN {c} = 0 THEN '0' ELSE {c}::text END"
        ),
        "bytea": "encode({c}, 'hex')",
        "jsonb": "{c}::text",
    }
    return sql.SQL(forms.get(t, "{c}::text")).format(c=c)


def source_row_expr(table: TablePlan) -> str:
    parts = [f"coalesce('v' || {source_expr(table, c)}, 'n')" for c in table.columns]
    return f" || {SEPARATOR} || ".join(parts)


def target_row_expr(table: TablePlan) -> sql.Composable:
    parts = [sql.SQL("coalesce('v' || {}, 'n')").format(target_expr(c)) for c in table.columns]
    return sql.SQL(f" || {SEPARATOR} || ").join(parts)


def jsonb_text(value: str | None) -> str | None:
    """Render JSON text the way Postgres prints a jsonb value.

    >>> jsonb_text('{"b":1,"aa":[1.50,true],"a":null}')
    '{"a": null, "b": 1, "aa": [1.50, true]}'
    """
    if value is None:
        return None
    try:
        parsed = json.loads(value, parse_float=Decimal, parse_int=int, object_pairs_hook=_last_wins)
    except (ValueError, RecursionError):
        return "invalid json: " + value
    return _render(parsed)


def _last_wins(pairs):
    return dict(pairs)  # a repeated key keeps its last value, as jsonb does


def _render(v) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Decimal):
        text = format(v, "f")
        return text.lstrip("-") if v == 0 else text
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_render(x) for x in v) + "]"
    keys = sorted(v, key=lambda k: (len(k.encode()), k.encode()))
    return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {_render(v[k])}" for k in keys) + "}"


def register(con) -> None:
    """Make `jsonb_text` callable from DuckDB SQL on the source connection."""
    import duckdb
    from duckdb.sqltypes import VARCHAR

    try:
        con.create_function("jsonb_text", jsonb_text, [VARCHAR], VARCHAR)
    except duckdb.CatalogException:
        pass  # already registered on this connection

