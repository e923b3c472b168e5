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
- uuid: lower-case, hyphens 8-4-4-4-12 (as Postgres prints it)
- char(n): padded with spaces to n (as Postgres returns it)
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

from .convert import CHAR, NUMERIC, PG_SPACE, TableRead
from .source import iso_instant, sql_string
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


def source_expr(col: ColumnPlan, value: str, kept: bool | None = None) -> str:
    """DuckDB SQL: the canonical form of a converted value (`convert.Converted.value`). `kept` (default:
    the column's value loss is accepted) gives the value as the target type keeps it: a float4, numeric
    rounded to its scale, char(n) padded; otherwise as the conversion gives it."""
    kept = col.loss_accepted if kept is None else kept
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
        v = f"CAST({value} AS FLOAT)" if t == "real" and kept else value
        text = f"lower(CAST({v} AS VARCHAR))"
        digits = f"printf('%.16e', CAST({v} AS DOUBLE))"
        return (f"CASE WHEN isnan({v}) THEN 'nan' WHEN isinf({v}) THEN {text} WHEN {v} = 0 THEN '0' "
                f"ELSE {_duck_float_form(digits)} END")
    if t == "numeric" or NUMERIC.fullmatch(t):
        # the number SQLite holds, exactly: never rounded to the column's scale first, so a value the
        # column rounds (numeric(5,2) holding 12.345) is a difference, not a match
        if kept and col.rounds_to_scale is not None:  # the accepted loss: the value Postgres rounds
            value = f"round_half_up({value}, {col.rounds_to_scale})"
        return _decimal_form(value)
    if t == "bytea":
        return f"lower(hex({value}))"
    if t == "uuid":  # as Postgres prints a uuid: lower case, hyphens 8-4-4-4-12
        return f"regexp_replace(replace({value}, '-', ''), '^(.{{8}})(.{{4}})(.{{4}})(.{{4}})(.{{12}})$', '\\1-\\2-\\3-\\4-\\5')"
    if t == "jsonb":
        return jsonb_form(value)
    if (m := CHAR.fullmatch(t)) and kept:  # char(n) pads with spaces (PostgreSQL docs, 8.3)
        return f"rpad({value}, {m.group(1)}, ' ')"
    return value


def source_form(read: TableRead, i: int, kept: bool | None = None) -> str:
    """DuckDB SQL: column `i`'s canonical form on the SQLite side, from the value as SQLite holds it,
    so a value the target type changes is a difference: an integer beyond 2^53 or number text with more
    than 17 significant digits in a float column (its exact digits), number text in an integer column
    (its spelling: '007' is not 7), text with a UTC offset in a timestamp column (its time of day as
    written, which Postgres' own timestamp input keeps), text in a uuid column (its spelling), JSON
    repeating a key in a jsonb column (which keeps the last). Spellings count where the type is given
    (`ColumnPlan.type_given`: the target's column, an override); the plan's own types read text as
    SQLite's affinity would (' 5' in an INTEGER column is 5). `kept`
    (default: the column's value loss is listed and accepted) compares the value as the target keeps it."""
    col, cv = read.table.columns[i], read.converted[i]
    kept = col.loss_accepted if kept is None else kept
    # jsonb: a plain array read from the text itself, which is then the value (valid, nothing jsonb cannot hold)
    form = jsonb_form(cv.value, cv.text, cv.is_text) if col.pg_type == "jsonb" else source_expr(col, cv.value, kept)
    if kept:
        return form
    t = col.pg_type
    cases = []
    if t in ("double precision", "real"):
        number = f"regexp_replace(trim({cv.text}, {PG_SPACE}), '^[+]', '')"
        cases.append((f"{cv.is_int} AND abs(TRY_CAST({cv.raw} AS HUGEINT)) > {2 ** 53}", _duck_float_form(cv.raw)))
        cases.append((f"{cv.is_text} AND {cv.value} IS NOT NULL AND {_changed_by_double(number)}", _duck_float_form(number)))
    elif t in ("bigint", "integer", "smallint") and col.type_given:
        cases.append((f"{cv.is_text} AND {cv.value} IS NOT NULL", cv.text))
    elif t == "timestamp":
        text = f"trim({cv.text}, {PG_SPACE})"
        wall = iso_instant(f"regexp_replace({text}, '\\s*[+-][0-9][0-9]:[0-9][0-9]$', '')")  # the offset dropped
        cases.append((f"{cv.is_text} AND {cv.value} IS NOT NULL AND regexp_matches({text}, {sql_string(_OFFSET)})",
                      f"CAST(epoch_us({wall}) AS VARCHAR)"))
    elif t == "uuid" and col.type_given:
        cases.append((f"{cv.is_text} AND {cv.value} IS NOT NULL", cv.text))
    elif t == "jsonb" and col.type_given:  # the plan's own jsonb holds no repeated key (the profile counts them)
        cases.append((f"{cv.is_text} AND {cv.value} IS NOT NULL AND json_repeats_key({cv.text})",
                      f"'repeated keys: ' || {cv.text}"))
    live = [(cond, v) for cond, v in cases if not cond.startswith("FALSE")]
    if not live:
        return form
    return "CASE " + " ".join(f"WHEN {cond} THEN {v}" for cond, v in live) + f" ELSE {form} END"


# a time of day followed by a UTC offset (+05:30, -08:00), the only offsets SQLite's date functions read
_OFFSET = r"\d:\d\d(:\d\d(\.\d+)?)?\s*[+-]\d\d:\d\d$"


def _changed_by_double(number: str) -> str:
    """DuckDB SQL: number text (sign, digits, point, exponent) whose value a double does not hold: its
    digits differ from those of the double's shortest form ('9007199254740993' is 9007199254740992,
    '1e-400' is 0, '1e400' is infinity), where '0.1' or '1.50' are the double's own digits. Postgres
    prints a double in its shortest form too (PostgreSQL docs, 8.1.3 "Floating-Point Types",
    extra_float_digits). Zero in any spelling is zero."""
    shape = "'^-?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$'"
    nonzero = f"regexp_matches(regexp_replace({number}, '[eE].*$', ''), '[1-9]')"
    double = f"CAST(TRY_CAST({number} AS DOUBLE) AS VARCHAR)"
    return (f"(regexp_matches({number}, {shape}) AND {nonzero} AND "
            f"{_duck_float_form(number)} IS DISTINCT FROM {_duck_float_form(double)})")


def _duck_float_form(text: str) -> str:
    return _float_form(text, lambda x: f"regexp_extract({x}, '[eE]([+-]?[0-9]+)$', 1)")


def _decimal_form(value: str) -> str:
    n = f"regexp_replace(trim({value}), '^[+]', '')"
    n = f"CASE WHEN contains({n}, '.') THEN rtrim(rtrim({n}, '0'), '.') ELSE {n} END"
    n = f"regexp_replace(regexp_replace({n}, '^(-?)0+([0-9])', '\\1\\2'), '^(-?)[.]', '\\10.')"
    return f"CASE WHEN {n} IN ('-0', '', '-') THEN '0' ELSE {n} END"


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
        "uuid": "{c}::text",
    }
    if m := CHAR.fullmatch(t):  # as the app reads it: padded (a cast to text would strip the spaces)
        return sql.SQL("rpad({c}::text, {n})").format(c=c, n=sql.Literal(int(m.group(1))))
    if t == "numeric" or NUMERIC.fullmatch(t):
        return sql.SQL("trim_scale({c})::text").format(c=c)
    return sql.SQL(forms.get(t, "{c}::text")).format(c=c)


def row_form(forms: list[str]) -> str:
    """DuckDB SQL: a row's canonical form from its columns' forms (`source_form`), each `v` and its
    form, or `n` for NULL, joined by U+001F. One concat: a chain of `||` copies the row once per
    column. Each form appears twice, so pass column references (a subquery's), not expressions."""
    parts = [f"CASE WHEN {f} IS NULL THEN 'n' ELSE 'v' END, {f}" for f in forms]  # concat skips the NULL
    return f"concat({f', {SEPARATOR}, '.join(parts)})" if parts else "''"


def target_row_expr(table: TablePlan) -> sql.Composable:
    parts = [sql.SQL("coalesce('v' || {}, 'n')").format(target_expr(c)) for c in table.columns]
    return sql.SQL(f" || {SEPARATOR} || ").join(parts) if parts else sql.SQL("''")


# JSON text whose jsonb form is itself with `", "` between elements: an array of strings, compact
# (`["a","b"]`) or spaced (`["a", "b"]`), holding no control character and no escape but those
# Postgres prints back as they are written (`\"`, `\\`, `\n`...; not `\/` or `\u`, which it decodes),
# and no string ending in a comma: then a quote after a comma opens a string, and `","` is a separator.
_CHAR, _ESCAPE = r'[^"\\\x00-\x1f]', r'\\["\\bfnrt]'
_PLAIN_STRING = rf'"(({_CHAR}|{_ESCAPE})*([^"\\\x00-\x1f,]|{_ESCAPE}))?"'
PLAIN_ARRAY = rf"^\[({_PLAIN_STRING}(, ?{_PLAIN_STRING})*)?\]$"


def jsonb_form(value: str, text: str = "", is_text: str = "TRUE") -> str:
    """DuckDB SQL: `jsonb_text(value)`, computed in DuckDB for a `PLAIN_ARRAY` (app tag lists: the
    Python function would cost most of a pass over the table), where Postgres' text is the same with
    each `","` spaced (it joins elements with `", "`: jsonb.c, JsonbToCString). `text` (where `is_text`):
    the text `value` is converted from, read in its place: a plain array is valid JSON holding nothing
    jsonb cannot, so it is its own value (and the conversion is not computed for it)."""
    if is_text == "FALSE":
        return f"jsonb_text({value})"
    text = text or value
    plain = f"regexp_matches({text}, {sql_string(PLAIN_ARRAY)})"
    plain = plain if is_text == "TRUE" else f"{is_text} AND {plain}"
    return f"CASE WHEN {plain} THEN replace({text}, '\",\"', '\", \"') ELSE jsonb_text({value}) END"


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
    from duckdb.sqltypes import INTEGER, VARCHAR

    from .plan import round_half_up
    from .source import register_json_functions

    register_json_functions(con)

    try:
        con.create_function("jsonb_text", _jsonb_texts, [VARCHAR], VARCHAR, type="arrow")
        con.create_function("round_half_up", round_half_up, [VARCHAR, INTEGER], VARCHAR)
    except duckdb.CatalogException:
        pass  # already registered on this connection
