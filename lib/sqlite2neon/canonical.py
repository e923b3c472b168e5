"""The canonical text form of a value, defined once, computed on both sides of the migration.

Source side: a DuckDB expression over the converted value (`convert.TableRead`). Target side: a
Postgres expression over the loaded column. Equal values give equal text:

- timestamptz / timestamp: microseconds since 1970-01-01 00:00 UTC, as an integer
- date: `YYYY-MM-DD`
- boolean: `t` / `f`
- integers: decimal digits
- numeric: the exact value (SQLite's, never rounded to the column's scale), trailing zeros removed (`1.50` -> `1.5`)
- double precision / real: the double's 17 significant digits, correctly rounded (C's `%.16e`,
  which DuckDB's printf and Postgres' to_char both give, so both sides print one double alike),
  written as `digits e exponent` without trailing zeros (`0.5` -> `5e-1`, `0.1` ->
  `10000000000000001e-17`), `inf`, `-inf`, `nan`; `-0` equals `0`. Not the shortest round-trip
  digits: at a tie (4.20421503953307e16) Postgres' shortest form takes 17 digits where DuckDB's
  takes 15, for the same double
- bytea: lower-case hex
- uuid: lower-case hex digits without hyphens
- text, varchar, json: the text (after the documented NUL / UTF-8 replacement)
- jsonb: Postgres' own `jsonb::text` form (keys ordered by length then bytes, `", "` and `": "`)

A row's form joins its columns' forms with U+001F, each prefixed `v`, or `n` for NULL.
"""

from __future__ import annotations

import functools
import json
import threading
from decimal import Decimal

from psycopg import sql

from .convert import NUMERIC, TableRead
from .plan import ColumnPlan, TablePlan

SEPARATOR = "chr(31)"



def _float_form(text: str, regex_extract) -> str:
    """`digits e exponent` from decimal text (`4.2042150395330704e+16`, `-2.5000000000000000e+00`),
    in either SQL dialect: the digits without leading or trailing zeros, the exponent of their last."""
    mantissa = f"regexp_replace({text}, '[eE].*$', '')"
    exponent = f"coalesce(CAST(nullif({regex_extract(text)}, '') AS INTEGER), 0)"
    sign = f"CASE WHEN left({mantissa}, 1) = '-' THEN '-' ELSE '' END"
    unsigned = f"ltrim({mantissa}, '-')"
    whole = f"split_part({unsigned}, '.', 1)"
    digits = f"replace({unsigned}, '.', '')"
    stripped = f"ltrim({digits}, '0')"
    point = f"({exponent} + length({whole}) - (length({digits}) - length({stripped})))"
    significant = f"rtrim({stripped}, '0')"
    return f"{sign} || {significant} || 'e' || CAST({point} - length({significant}) AS VARCHAR)"


def source_expr(col: ColumnPlan, value: str) -> str:
    t = col.pg_type
    if t in ("timestamptz", "timestamp"):
        return f"CAST(epoch_us({value}) AS VARCHAR)"
    if t == "date":
        return f"strftime({value}, '%Y-%m-%d')"
    if t == "boolean":
        return f"CASE WHEN {value} THEN 't' ELSE 'f' END"
    if t in ("bigint", "integer", "smallint"):
        return f"CAST({value} AS VARCHAR)"
    if t in ("double precision", "real"):
        v = f"CAST({value} AS FLOAT)" if t == "real" else value
        text = f"lower(CAST({v} AS VARCHAR))"
        digits = f"printf('%.16e', CAST({v} AS DOUBLE))"
        form = _float_form(digits, lambda x: f"regexp_extract({x}, '[eE]([+-]?[0-9]+)$', 1)")
        return (f"CASE WHEN isnan({v}) THEN 'nan' WHEN isinf({v}) THEN {text} WHEN {v} = 0 THEN '0' "
                f"ELSE {form} END")
    if t == "numeric" or NUMERIC.fullmatch(t):
        # the number SQLite holds, exactly: never rounded to the column's scale first, so a value the
        # column rounds (numeric(5,2) holding 12.345) is a difference, not a match
        if col.rounding_accepted:  # the listed and accepted loss: compare with the value Postgres rounds
            value = f"round_half_up({value}, {col.rounds_to_scale})"
        n = f"regexp_replace(trim({value}), '^[+]', '')"
        n = f"CASE WHEN contains({n}, '.') THEN rtrim(rtrim({n}, '0'), '.') ELSE {n} END"
        n = f"regexp_replace(regexp_replace({n}, '^(-?)0+([0-9])', '\\1\\2'), '^(-?)[.]', '\\10.')"
        return f"CASE WHEN {n} IN ('-0', '', '-') THEN '0' ELSE {n} END"
    if t == "bytea":
        return f"lower(hex({value}))"
    if t == "uuid":
        return f"replace({value}, '-', '')"
    if t == "jsonb":
        return f"jsonb_text({value})"
    return value


def target_expr(col: ColumnPlan) -> sql.Composable:
    c = sql.Identifier(col.target)
    t = col.pg_type
    if t in ("double precision", "real"):
        digits = "ltrim(to_char({c}::float8, '9.9999999999999999EEEE'))"  # C's %.16e (formatting.c)
        form = _float_form(digits, lambda x: f"substring({x} from '[eE]([+-]?[0-9]+)$')")
        return sql.SQL(
            "CASE WHEN {c} = 'NaN' THEN 'nan' WHEN {c} IN ('Infinity', '-Infinity') "
            "THEN replace(lower({c}::text), 'inity', '') WHEN {c} = 0 THEN '0' ELSE " + form + " END"
        ).format(c=c)
    forms = {
        "timestamptz": "(extract(epoch from {c}) * 1000000)::bigint::text",
        "timestamp": "(extract(epoch from {c}) * 1000000)::bigint::text",
        "date": "to_char({c}, 'YYYY-MM-DD')",
        "boolean": "CASE WHEN {c} THEN 't' ELSE 'f' END",
        "bytea": "encode({c}, 'hex')",
        "uuid": "replace({c}::text, '-', '')",
    }
    if t == "numeric" or NUMERIC.fullmatch(t):
        return sql.SQL("trim_scale({c})::text").format(c=c)
    return sql.SQL(forms.get(t, "{c}::text")).format(c=c)


def source_row_expr(read: TableRead) -> str:
    parts = [f"coalesce('v' || {source_expr(c, read.converted[i].value)}, 'n')"
             for i, c in enumerate(read.table.columns)]
    return f" || {SEPARATOR} || ".join(parts) or "''"


def target_row_expr(table: TablePlan) -> sql.Composable:
    parts = [sql.SQL("coalesce('v' || {}, 'n')").format(target_expr(c)) for c in table.columns]
    return sql.SQL(f" || {SEPARATOR} || ").join(parts) if parts else sql.SQL("''")


@functools.lru_cache(maxsize=65536)  # app JSON repeats itself (the same few tag lists, again and again)
def jsonb_text(value: str | None) -> str | None:
    """Render JSON text the way Postgres prints a jsonb value.

    >>> jsonb_text('{"b":1,"aa":[1.50,true],"a":null}')
    '{"a": null, "b": 1, "aa": [1.50, true]}'
    """
    if value is None:
        return None
    try:
        parsed = _DECODER.decode(value)
    except (ValueError, RecursionError):
        return "invalid json: " + value
    return _render(parsed)


# Numbers keep their written digits (Decimal), as jsonb's numeric does; a repeated key keeps its
# last value, as in jsonb (and as a dict does).
_DECODER = json.JSONDecoder(parse_float=Decimal)


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
        return _quote(v)
    if isinstance(v, list):
        return "[" + ", ".join(_render(x) for x in v) + "]"
    keys = sorted(v, key=lambda k: (len(k.encode()), k.encode()))
    return "{" + ", ".join(f"{_quote(k)}: {_render(v[k])}" for k in keys) + "}"


# json's own C string encoder: escapes quotes, backslashes and control characters, keeps the rest as
# it is, which is what Postgres does when it prints jsonb.
_quote = json.encoder.encode_basestring


def _jsonb_texts(values):
    """`jsonb_text` over an Arrow array: DuckDB calls it once per vector. App JSON repeats itself
    (the same few tag lists), so the values seen recently and their renderings are kept as Arrow
    arrays, and Python renders only the values not among them."""
    global _recent
    import pyarrow as pa
    import pyarrow.compute as pc

    raw, out = _recent or _empty_recent()
    where = pc.index_in(values, value_set=raw)
    new = values.filter(pc.and_(pc.is_null(where), pc.is_valid(values)))
    if len(new) == 0:
        return pc.take(out, where)
    new = pc.unique(new)
    rendered = pa.array([jsonb_text(v) for v in new.to_pylist()], type=pa.string())
    if len(new) * 2 > len(values):  # mostly unseen values: keeping them would not pay
        return pc.take(pa.concat_arrays([out, rendered]), pc.index_in(values, value_set=pa.concat_arrays([raw, new])))
    with _recent_lock:  # threads verifying rowid ranges share it
        raw, out = _recent or _empty_recent()
        if len(raw) + len(new) > RECENT_JSON:
            raw, out = _empty_recent()
        _recent = raw, out = pa.concat_arrays([raw, new]), pa.concat_arrays([out, rendered])
    return pc.take(out, pc.index_in(values, value_set=raw))


RECENT_JSON = 8192  # distinct JSON values kept between vectors
_recent_lock = threading.Lock()
_recent: tuple | None = None  # (raw JSON texts, their renderings), replaced whole, never changed in place


def _empty_recent() -> tuple:
    import pyarrow as pa

    return pa.array([], type=pa.string()), pa.array([], type=pa.string())


def register(con) -> None:
    """Make `jsonb_text` callable from DuckDB SQL on the source connection."""
    import duckdb
    from duckdb.sqltypes import VARCHAR

    from duckdb.sqltypes import INTEGER

    from .plan import round_half_up

    try:
        con.create_function("jsonb_text", _jsonb_texts, [VARCHAR], VARCHAR, type="arrow")
        con.create_function("round_half_up", round_half_up, [VARCHAR, INTEGER], VARCHAR)
    except duckdb.CatalogException:
        pass  # already registered on this connection
