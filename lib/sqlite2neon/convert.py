"""How each table is read out of SQLite and each value converted, shared by load and verify.

Every table is read through SQLite itself (`sqlite_query`), each value as exact text with its
storage class where the column holds more than one: integers as digits, reals as 17 significant
digits, BLOBs and text that is not valid UTF-8 as hex. DuckDB then converts every value to its
Postgres type, vectorised, and names the reason when one does not convert: that row is rejected,
not dropped and not loaded half-right.

    >>> read = TableRead(table_plan, params)
    >>> read.select()          # DuckDB SQL: copy-ready columns, then __reject_column/__reason/__key/__raw
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .config import NUMERIC
from .plan import ColumnPlan, TablePlan
from .source import NUMBER_TEXT as SQLITE_NUMBER
from .source import (DATE_TEXT, ISO_TEXT, TIME_ALONE, duck_ident, iso_instant, julian_instant, register_json_functions,
                     sql_string, sqlite_ident)

REPLACEMENT = "chr(65533)"  # U+FFFD
# the white space Postgres' input functions skip around a number, a boolean or a date (C's isspace():
# space, tab, newline, vertical tab, form feed, carriage return); Python's str.strip() also strips
# \x1c-\x1f, which Postgres does not
PG_SPACE = "(chr(32) || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))"
VARCHAR = re.compile(r"(?:varchar|character varying)\((\d+)\)")
CHAR = re.compile(r"char\((\d+)\)")  # blank-padded to n characters (PostgreSQL docs, 8.3 "Character Types")
INTEGER_RANGES = {"bigint": "BIGINT", "integer": "INTEGER", "smallint": "SMALLINT"}
TRUE_WORDS = ("1", "t", "true", "y", "yes", "on")
FALSE_WORDS = ("0", "f", "false", "n", "no", "off")


@dataclass
class Converted:
    """A column's value in DuckDB SQL: `value` (typed, NULL when absent or not convertible),
    `failed` (a cheap condition: the row cannot be loaded because of this column) and `reason`
    (why, computed only for the rows that failed)."""

    value: str
    failed: str
    reason: str
    # what verification needs to compare the value as SQLite holds it (canonical.source_form): the
    # raw text `relation` reads, the text after the bad-text policy, and which storage class it is
    raw: str = ""
    text: str = ""
    is_text: str = "FALSE"
    is_int: str = "FALSE"
    # `failed` and `reason` over the value computed once, column `s.v{i}` of `TableRead.select`
    failed_once: str = "FALSE"
    reason_once: str = "NULL"


class TableRead:
    """The SQL that reads one planned table and converts its values."""

    def __init__(self, table: TablePlan, bad_text: str = "replace", where: str = ""):
        self.table = table
        self.bad_text = bad_text
        self.where = where  # SQLite condition, e.g. a rowid range
        self.converted = [self._with_source(i, c, self._convert(i, c)) for i, c in enumerate(table.columns)]

    # --- the relation ---------------------------------------------------------------------------

    def relation(self) -> str:
        """DuckDB SQL for the raw rows: `c0..cN` (text), `t0..tN` (storage class, where mixed), `__key`."""
        cols = []
        for i, c in enumerate(self.table.columns):
            q = sqlite_ident(c.source)
            # text as hex where DuckDB could not read it as it is (invalid UTF-8), or where its bytes are
            # the value (bytea: a NUL or an invalid sequence is kept, not replaced)
            as_hex = c.bad_utf8_values or c.pg_type == "bytea"
            text = f"hex(CAST({q} AS BLOB))" if as_hex else q
            if c.storage in (["integer"], ["text"]) and not as_hex:
                cols.append(f"{q} AS c{i}")  # one storage class that reads as it is: no CASE per row
            else:
                cols.append(
                    f"CASE typeof({q}) WHEN 'real' THEN printf('%!.20e', {q}) WHEN 'blob' THEN hex({q}) "
                    f"WHEN 'text' THEN {text} ELSE {q} END AS c{i}"
                )
            if self._mixed(c):
                cols.append(f"typeof({q}) AS t{i}")
        cols.append(f"{source_key(self.table)} AS __key")
        child = sqlite_ident(self.table.source)
        for j, fk in enumerate(self.table.foreign_keys):
            if fk.null_orphans:
                # an orphan as SQLite sees it (its comparison, affinity and collation, as the profile
                # counted it), not by joining values DuckDB reads in another form (hex, %!.20e)
                set_ = " AND ".join(f"{child}.{sqlite_ident(c)} IS NOT NULL" for c in fk.source_columns)
                on = " AND ".join(f"p.{sqlite_ident(r)} = {child}.{sqlite_ident(c)}"
                                  for c, r in zip(fk.source_columns, fk.source_ref_columns))
                cols.append(f"({set_} AND NOT EXISTS (SELECT 1 FROM {sqlite_ident(fk.source_ref_table)} AS p "
                            f"WHERE {on})) AS o{j}")
        where = f" WHERE {self.where}" if self.where else ""
        inner = f"SELECT {', '.join(cols)} FROM {child}{where}"
        return f"sqlite_query('src', {sql_string(inner)}) AS s"

    def select(self) -> str:
        """Copy-ready columns (those Postgres does not generate), then the reject columns.

        Each value is computed once (`v0..vN`, an inner query), then the index of the first column
        that fails (`__fail`) over those values, then the copy text and the reject columns from
        both: a conversion written out in every condition that uses it would be evaluated as often."""
        loaded = [(i, c) for i, c in enumerate(self.table.columns) if c.generated is None]
        values = "".join(f", {self.converted[i].value} AS v{i}" for i, _ in loaded)
        live = [(i, c, cv) for i, (c, cv) in enumerate(zip(self.table.columns, self.converted))
                if cv.failed_once != "FALSE"]
        fail = ("CASE " + " ".join(f"WHEN {cv.failed_once} THEN {i}" for i, _, cv in live) + " END"
                if live else "NULL::INTEGER")
        # timestamptz without `+00`: the load reads the CSV with TimeZone UTC (fewer bytes to send)
        cols = [f"{copy_text(c, f's.v{i}', utc_offset=False)} AS {duck_ident(c.target)}" for i, c in loaded]
        return (f"SELECT {', '.join(cols)}, {self.reject_columns(live)} FROM "
                f"(SELECT s.*, {fail} AS __fail FROM (SELECT s.*{values} FROM {self.relation()}) AS s) AS s")

    def reject_columns(self, live: list[tuple[int, ColumnPlan, Converted]]) -> str:
        """The first failing column (`s.__fail`), its reason and raw value (NULL for the rows that
        load), the key. DuckDB evaluates a CASE branch only for the rows that take it, so good rows
        pay for none of the reasons."""
        if not live:
            return "NULL::VARCHAR AS __reject_column, NULL::VARCHAR AS __reason, CAST(s.__key AS VARCHAR) AS __key, NULL::VARCHAR AS __raw"

        def first(then) -> str:
            return "CASE s.__fail " + " ".join(f"WHEN {i} THEN {then(i, c, cv)}" for i, c, cv in live) + " END"

        return (f"{first(lambda i, c, cv: sql_string(c.target))} AS __reject_column, "
                f"{first(lambda i, c, cv: cv.reason_once)} AS __reason, CAST(s.__key AS VARCHAR) AS __key, "
                f"{first(lambda i, c, cv: self.shown(i))} AS __raw")

    def shown(self, i: int) -> str:
        """DuckDB SQL (VARCHAR): column `i`'s raw value as the rejects and a difference show it, the
        text `relation` reads: text as it is, but text that is not valid UTF-8 with each bad sequence
        as U+FFFD (`relation` reads such a column's text as hex), a BLOB as hex, a real as `%!.20e`."""
        c = self.table.columns[i]
        if not c.bad_utf8_values and c.pg_type != "bytea":
            return f"s.c{i}"
        is_text = self._is(i, c, "text")
        shown = f"coalesce(try(decode(unhex(s.c{i}))), fix_utf8(s.c{i}, 'replace'))"
        return shown if is_text == "TRUE" else f"CASE WHEN {is_text} THEN {shown} ELSE s.c{i} END"

    def rejected_filter(self, rejected: bool) -> str:
        """A DuckDB condition over the relation: the row is (or is not) rejected."""
        any_failed = " OR ".join(c.failed for c in self.converted if c.failed != "FALSE") or "FALSE"
        return f"({any_failed})" if rejected else f"NOT ({any_failed})"

    # --- per column -----------------------------------------------------------------------------

    def _index(self, source_column: str) -> int:
        for i, c in enumerate(self.table.columns):
            if c.source == source_column:
                return i
        raise KeyError(source_column)

    @staticmethod
    def _mixed(c: ColumnPlan) -> bool:
        return len(c.storage) > 1

    def _is(self, i: int, c: ColumnPlan, cls: str) -> str:
        if self._mixed(c):
            return f"s.t{i} = '{cls}'"
        return "TRUE" if c.storage == [cls] else "FALSE"

    def _text(self, i: int, c: ColumnPlan) -> tuple[str, list[tuple[str, str]]]:
        """(text value after the bad-text policy, [(condition, reason)] when the policy rejects).
        Columns the profile found clean skip the NUL pass: a NUL that appeared since is refused by
        Postgres and rejected all the same."""
        raw = f"s.c{i}"
        fails = []
        if c.bad_utf8_values:
            # only text is read as hex (`relation`): an integer's or a real's digits stay as they are
            is_text = self._is(i, c, "text")
            decoded = f"try(decode(unhex({raw})))"
            if self.bad_text == "reject":
                fails.append((f"({is_text} AND {raw} IS NOT NULL AND {decoded} IS NULL)",
                              "'text is not valid UTF-8 (bad_text=reject)'"))
                text = decoded
            else:
                text = f"coalesce({decoded}, fix_utf8({raw}, {sql_string(self.bad_text)}))"
            raw = text if is_text == "TRUE" else f"CASE WHEN {is_text} THEN {text} ELSE {raw} END"
        if not (c.nul_values or c.bad_utf8_values):
            return raw, fails
        if self.bad_text == "reject":
            fails.append((f"contains({raw}, chr(0))", "'text contains a NUL character (bad_text=reject)'"))
        else:
            raw = f"replace({raw}, chr(0), {REPLACEMENT if self.bad_text == 'replace' else chr(39) * 2})"
        return raw, fails

    def _with_source(self, i: int, c: ColumnPlan, converted: Converted) -> Converted:
        converted.raw, converted.text = f"s.c{i}", self._text(i, c)[0]
        converted.is_text, converted.is_int = self._is(i, c, "text"), self._is(i, c, "integer")
        return converted

    def _convert(self, i: int, c: ColumnPlan) -> Converted:
        raw = f"s.c{i}"
        text, text_fails = self._text(i, c)
        is_text, is_int, is_real, is_blob = (self._is(i, c, k) for k in ("text", "integer", "real", "blob"))
        t = c.pg_type
        nothing = _typed_null(t)  # a column holding only NULLs still has a type: epoch_us(NULL) does not bind

        def choose(cases: list[tuple[str, str]], default: str = nothing) -> str:
            live = [(cond, v) for cond, v in cases if cond != "FALSE"]
            if not live:
                return default
            if live[0][0] == "TRUE":
                return live[0][1]
            return "CASE " + " ".join(f"WHEN {cond} THEN {v}" for cond, v in live) + f" ELSE {default} END"

        if t == "text" or VARCHAR.fullmatch(t) or t not in _KNOWN and not NUMERIC.fullmatch(t):
            value = choose([(is_text, text), (is_int, raw), (is_real, f"CAST(CAST({raw} AS DOUBLE) AS VARCHAR)")])
            why = f"'a {c.pg_type} column cannot hold a BLOB'"
            fails = [(is_blob, why)]
            if m := VARCHAR.fullmatch(t) or CHAR.fullmatch(t):
                fails.append((lambda v: f"length({v}) > {m.group(1)}", f"'longer than {m.group(1)} characters'"))
            return self._finish(c, value, fails, text_fails)
        if t in INTEGER_RANGES:
            duck = INTEGER_RANGES[t]
            value = choose([
                (is_int, f"TRY_CAST({raw} AS {duck})"),
                (is_real, f"CASE WHEN CAST({raw} AS DOUBLE) = trunc(CAST({raw} AS DOUBLE)) "
                          f"THEN TRY_CAST(CAST({raw} AS DOUBLE) AS {duck}) END"),
                (is_text, f"CASE WHEN regexp_matches(trim({text}, {PG_SPACE}), '^[+-]?\\d+$') THEN TRY_CAST(trim({text}, {PG_SPACE}) AS {duck}) END"),
            ])
            return self._finish(c, value, [], text_fails, f"'not a whole number within {t}'")
        if t in ("double precision", "real"):
            value = choose([(is_int, f"CAST({raw} AS DOUBLE)"), (is_real, f"CAST({raw} AS DOUBLE)"),
                            (is_text, f"CASE WHEN regexp_matches(trim({text}, {PG_SPACE}), {NUMBER_TEXT}) "
                                      f"THEN TRY_CAST(trim({text}, {PG_SPACE}) AS DOUBLE) END")])
            return self._finish(c, value, [], text_fails, "'not a number'")
        if t == "numeric" or NUMERIC.fullmatch(t):
            # exponent forms (a real's shortest digits `1e+20`, text `1.5E-7`) written out in full:
            # the value Postgres stores, and the form verification compares
            value = choose([
                (is_int, raw),
                (is_real, _special(f"CAST(CAST({raw} AS DOUBLE) AS VARCHAR)")),
                (is_text, f"CASE WHEN regexp_matches(trim({text}, {PG_SPACE}), {NUMBER_TEXT}) THEN {_special(f'trim({text}, {PG_SPACE})')} END"),
            ])
            fails = []
            if m := NUMERIC.fullmatch(t):  # NaN fits numeric(p,s), an infinity does not (PostgreSQL docs 8.1.2)
                limit = int(m.group(1)) - int(m.group(2))
                # integer digits counted on the exact text, not through a double: 999999999999999999 is
                # 1e18 as a double, yet numeric(18,0) holds it (PostgreSQL docs, 8.1.2)
                fails.append((lambda v: f"(length(regexp_extract({v}, '^\\s*[+-]?0*(\\d*)', 1)) > {limit} "
                                        f"OR isinf(TRY_CAST({v} AS DOUBLE)))", f"'too large for {t}'"))
            return self._finish(c, value, fails, text_fails, f"'not a number for {t}'")
        if t == "boolean":
            words = f"lower(trim({text}, {PG_SPACE}))"
            value = choose([
                (is_int, f"CASE {raw} WHEN '0' THEN false WHEN '1' THEN true END"),
                (is_real, f"CASE CAST({raw} AS DOUBLE) WHEN 0 THEN false WHEN 1 THEN true END"),
                (is_text, f"CASE WHEN {words} IN {TRUE_WORDS} THEN true WHEN {words} IN {FALSE_WORDS} THEN false END"),
            ])
            return self._finish(c, value, [], text_fails, "'not 0/1 or a boolean word'")
        if t in ("timestamptz", "timestamp"):
            number = f"CAST({raw} AS DOUBLE)"
            iso = plain_iso_first(text)
            if c.convert == "julian_day":  # numbers, and text that is one, as SQLite's date functions read them
                numbers = julian_instant(number)
                iso = (f"CASE WHEN regexp_matches({text}, {sql_string(SQLITE_NUMBER)}) "
                       f"THEN {julian_instant(f'TRY_CAST(trim({text}, {PG_SPACE}) AS DOUBLE)')} ELSE {iso} END")
                value = choose([(is_int, numbers), (is_real, numbers), (is_text, iso)])
            else:
                scale = {"unix_millis": "1000", "unix_micros": "1"}.get(c.convert, "1000000")
                value = choose([
                    (is_int, f"make_timestamp(CAST({raw} AS BIGINT) * {scale})"),
                    (is_real, f"make_timestamp(CAST(round({number} * {scale}) AS BIGINT))"),
                    (is_text, iso),
                ])
            # text SQLite reads as a time but the calendar has not (2024-06-31), text it reads as none
            number_why = ("'not a Julian day SQLite reads (0 to 5373484.5)'" if c.convert == "julian_day"
                          else "'not a date and time'")
            text_why = [
                (f"{is_text} AND regexp_matches({text}, {sql_string(ISO_TEXT)})", "'no such day in the calendar'"),
                (f"{is_text} AND lower({text}) = 'now'", "'now: SQLite reads the time it is when read, no instant'"),
                (f"{is_text} AND regexp_matches({text}, {sql_string(TIME_ALONE)})",
                 "'a time of day without a date (SQLite reads it on 2000-01-01)'"),
                (f"{is_text} AND regexp_matches({text}, {sql_string(SQLITE_NUMBER)})",
                 f"'a number as text, which SQLite reads as a Julian day, not as {c.convert.replace('_', ' ')}'"),
                (is_text, "'not ISO 8601 text SQLite reads as a date and time (its datetime() gives NULL)'")]
            whens = " ".join(f"WHEN {cond} THEN {reason}" for cond, reason in text_why if is_text != "FALSE")
            why = f"CASE {whens} ELSE {number_why} END" if whens else number_why
            return self._finish(c, f"TRY({value})", [], text_fails, why)
        if t == "date":
            # a date, or a date at midnight UTC: a time of day (or an offset) is no part of a date, and
            # dropping it would change the value (the plan makes a DATE column holding times timestamptz)
            value = choose([(is_text, f"CASE WHEN regexp_matches({text}, {sql_string(DATE_TEXT)}) "
                                      f"THEN TRY_CAST(left({text}, 10) AS DATE) END")])
            return self._finish(c, value, [], text_fails, "'not a calendar date (or one with a time of day)'")
        if t in ("jsonb", "json"):
            # JSON jsonb cannot hold (\u0000, an unpaired surrogate escape): json keeps it, jsonb rejects the row
            unheld = jsonb_unheld(text)
            valid = (f"(json_valid({text}) OR {unheld})" if t == "json" else
                     f"(json_valid({text}) AND NOT {unheld})")
            value = choose([(is_text, f"CASE WHEN {valid} THEN {text} END"), (is_int, raw),
                            (is_real, f"CAST(CAST({raw} AS DOUBLE) AS VARCHAR)")])
            fails = [] if t == "json" or is_text == "FALSE" else [
                (f"{is_text} AND {unheld}", "'JSON holding the escape \\u0000 or a surrogate escape without its pair, "
                                            "which jsonb cannot hold'")]
            return self._finish(c, value, fails, text_fails, "'malformed JSON'")
        if t == "bytea":
            # text as its bytes as SQLite holds them (read as hex by `relation`: a NUL or invalid UTF-8
            # kept); a number as the bytes of its digits (a real's shortest round-trip form)
            value = choose([(is_blob, f"unhex({raw})"), (is_text, f"unhex({raw})"), (is_int, f"encode({raw})"),
                            (is_real, f"encode(CAST(CAST({raw} AS DOUBLE) AS VARCHAR))")])
            return self._finish(c, value, [], [])  # bad_text does not apply: bytes are bytes
        if t == "uuid":
            value = choose([(is_text, f"CASE WHEN regexp_matches(trim({text}, {PG_SPACE}), '^[0-9a-fA-F]{{8}}-?([0-9a-fA-F]{{4}}-?){{3}}[0-9a-fA-F]{{12}}$') THEN lower(trim({text}, {PG_SPACE})) END")])
            return self._finish(c, value, [], text_fails, "'not a UUID'")
        raise AssertionError(f"unhandled type {t}")

    def _finish(self, c: ColumnPlan, value: str, fails: list[tuple[str | Callable[[str], str], str]],
                text_fails: list[tuple[str, str]], not_converted: str = "'does not convert'") -> Converted:
        """`fails`: (condition, reason) for a value that converted but cannot load; a condition over
        the value is a function of the value's SQL (the value inline, or `s.v{i}` computed once)."""
        i = self._index(c.source)
        raw = f"s.c{i}"
        if c.generated is not None:  # Postgres computes it: compared by verify, never a reason to reject
            return Converted(value, "FALSE", "NULL")
        for j, fk in enumerate(self.table.foreign_keys):
            if fk.null_orphans and c.source in fk.source_columns:
                value = f"CASE WHEN s.o{j} = 1 THEN NULL ELSE {value} END"
                raw = f"CASE WHEN s.o{j} = 1 THEN NULL ELSE {raw} END"

        def over(v: str) -> tuple[str, str]:
            cases = []
            if c.target in self.table.primary_key:
                cases.append((f"{raw} IS NULL", "'NULL in the primary key'"))
            elif not c.nullable:
                cases.append((f"{raw} IS NULL", "'NULL in a NOT NULL column'"))
            cases += text_fails
            # a NULL is never a BLOB, nor too long: a storage-class condition may be plain TRUE
            cases += [(f"({raw} IS NOT NULL AND {cond(v) if callable(cond) else cond})", why)
                      for cond, why in fails if cond != "FALSE"]
            cases.append((f"({raw} IS NOT NULL AND ({v}) IS NULL)", not_converted))
            # NULL-safe: a NULL value makes `abs(x) >= 1e8` NULL, and NOT NULL would hide the row
            failed = "(" + " OR ".join(f"coalesce({cond}, false)" for cond, _ in cases) + ")"
            # Every reason names its column: "code: not a whole number within bigint".
            reason = f"{sql_string(c.target + ': ')} || CASE " + " ".join(f"WHEN {cond} THEN {why}" for cond, why in cases) + " END"
            return failed, reason

        failed, reason = over(value)
        failed_once, reason_once = over(f"s.v{i}")
        return Converted(value, failed, reason, failed_once=failed_once, reason_once=reason_once)


# Number text both Postgres' float8 and numeric read (PostgreSQL docs 8.1.2 and 8.1.3): decimal digits
# with an optional exponent, an infinity (`inf`, `Infinity`, signed, any case) or `NaN`. SQLite keeps
# such words as text in a REAL or NUMERIC column (datatype3 section 3: they are no numeric literal);
# other text DuckDB would read (`1_000`, `nan(1)`, `-nan`) is not a number.
NUMBER_TEXT = "'^(?i:[+-]?(\\d+\\.?\\d*|\\.\\d+)(e[+-]?\\d+)?|[+-]?inf(inity)?|nan)$'"


# ISO text of the usual shape, no offset, year 1000 on, at most microseconds: DuckDB's own cast reads
# it as `source.iso_instant` does (same calendar check, same fraction), at a tenth of the cost
PLAIN_ISO = ("^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[ T]([01][0-9]|2[0-3]):[0-5][0-9]"
             "(:[0-5][0-9](\\.[0-9]{1,6})?)?$")


def plain_iso_first(text: str) -> str:
    """DuckDB SQL: `source.iso_instant(text)`, with text matching `PLAIN_ISO` cast directly (NULL
    for a day the calendar has not, as there) and only other text taken apart by the full pattern."""
    return (f"CASE WHEN regexp_matches({text}, {sql_string(PLAIN_ISO)}) THEN TRY_CAST({text} AS TIMESTAMP) "
            f"ELSE {iso_instant(text)} END")


def jsonb_unheld(text: str) -> str:
    """DuckDB SQL: JSON text holds what jsonb cannot (`source.json_jsonb_cannot_hold`, a Python
    function called per row). Only text with the escape \\u0000 or a surrogate escape (\\ud800 to
    \\udfff) can, so the function is called for that text alone: a CASE evaluates its branch for the
    rows that take it, an AND calls both sides for every row."""
    escape = sql_string("\\\\u(0000|[dD][89a-fA-F])")
    return f"(CASE WHEN regexp_matches({text}, {escape}) THEN json_jsonb_cannot_hold({text}) ELSE false END)"


def _special(number: str) -> str:
    """DuckDB SQL: number text (`NUMBER_TEXT`) as Postgres prints the numeric it reads: an infinity as
    `Infinity` / `-Infinity`, NaN as `NaN`, an exponent form written out (`_plain`)."""
    word = f"lower(ltrim({number}, '+'))"
    return (f"CASE WHEN {word} IN ('inf', 'infinity') THEN 'Infinity' WHEN {word} IN ('-inf', '-infinity') "
            f"THEN '-Infinity' WHEN {word} = 'nan' THEN 'NaN' ELSE {_plain(number)} END")


def _plain(number: str) -> str:
    """DuckDB SQL: decimal text without an exponent (`plain_decimal` only where there is one)."""
    return f"CASE WHEN regexp_matches({number}, '[eE]') THEN plain_decimal({number}) ELSE {number} END"


def plain_decimal(text: str | None) -> str | None:
    """`1.5e-7` -> `0.00000015`, `1e+20` -> `100000000000000000000`: the exact value of decimal text
    in exponent form, written out (Postgres' numeric input reads the same value; PostgreSQL docs 8.1.2)."""
    if text is None:
        return None
    from decimal import Decimal

    return format(Decimal(text), "f")


def _typed_null(pg_type: str) -> str:
    """A NULL of the DuckDB type the column's converted values have (see `_convert`'s branches)."""
    if pg_type in INTEGER_RANGES:
        duck = INTEGER_RANGES[pg_type]
    else:
        duck = {"double precision": "DOUBLE", "real": "DOUBLE", "boolean": "BOOLEAN", "timestamptz": "TIMESTAMP",
                "timestamp": "TIMESTAMP", "date": "DATE", "bytea": "BLOB"}.get(pg_type, "VARCHAR")
    return f"CAST(NULL AS {duck})"


_KNOWN = {"text", "bigint", "integer", "smallint", "double precision", "real", "numeric", "boolean",
          "timestamptz", "timestamp", "date", "jsonb", "json", "bytea", "uuid"}


# SQLite GLOB: a character beyond U+007F (GLOB reads a sequence that is not valid UTF-8 as one beyond
# U+007F too: U+FFFD, or the bits it carries; https://www.sqlite.org/lang_expr.html#like)
_NOT_ASCII = "'*[^' || char(1) || '-' || char(127) || ']*'"


def source_key(table: TablePlan) -> str:
    """SQLite SQL for a row's key as the load records it (`__key`, `_sqlite2neon.rejects.source_key`)
    and the cutover finds the row by again: the rowid, or for a table without one its primary key
    columns as SQL literals joined by commas: `quote()` (`'a''b'`, `12`, `1.5`, `X'00FF'`, `NULL`),
    except text holding a NUL or any byte beyond ASCII, which is `CAST(X'610062' AS TEXT)`, its bytes
    in hex. `quote()` stops at a NUL ('a' for 'a\0b': one key for two rows) and passes invalid UTF-8
    through (DuckDB then refuses the key); SQLite cannot tell valid UTF-8 from invalid, so every
    non-ASCII text takes the hex form. Each key names exactly one row and is ASCII."""
    if table.has_rowid:
        return "rowid"
    pk = [sqlite_ident(c.source) for c in table.columns if c.target in table.primary_key]
    parts = [f"CASE WHEN typeof({q}) = 'text' AND (instr(CAST({q} AS BLOB), x'00') > 0 OR CAST({q} AS BLOB) "
             f"GLOB {_NOT_ASCII}) THEN 'CAST(' || quote(CAST({q} AS BLOB)) || ' AS TEXT)' ELSE quote({q}) END"
             for q in pk]
    return " || ',' || ".join(parts) or "NULL"


def copy_text(col: ColumnPlan, value: str, utc_offset: bool = True) -> str:
    """A typed value as the text Postgres' COPY reads (Arrow writes the CSV); without `utc_offset`, a
    timestamptz is naive UTC text, for a session whose TimeZone is UTC (PostgreSQL docs 8.5.1.3: a
    timestamptz without a zone is read in the session's TimeZone)."""
    t = col.pg_type
    if t == "timestamptz":
        # fractions only when there are some
        return f"CAST({value} AS VARCHAR) || '+00'" if utc_offset else f"CAST({value} AS VARCHAR)"
    if t == "timestamp":
        return f"CAST({value} AS VARCHAR)"
    if t == "bytea":
        return f"'\\x' || lower(hex({value}))"
    if t in ("date", "double precision", "real"):
        return f"CAST({value} AS VARCHAR)"
    return value


def fix_utf8(hex_text: str | None, mode: str) -> str | None:
    """Decode text that is not valid UTF-8: each bad sequence becomes U+FFFD, or is dropped."""
    if hex_text is None:
        return None
    return bytes.fromhex(hex_text).decode("utf-8", errors="replace" if mode == "replace" else "ignore")


def register(con) -> None:
    """The Python functions the conversions call, on a DuckDB connection (once)."""
    import duckdb
    from duckdb.sqltypes import VARCHAR as V

    try:
        con.create_function("fix_utf8", fix_utf8, [V, V], V)
    except duckdb.CatalogException:
        pass
    try:
        con.create_function("plain_decimal", plain_decimal, [V], V)
    except duckdb.CatalogException:
        pass
    register_json_functions(con)
