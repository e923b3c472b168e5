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

from .plan import ColumnPlan, TablePlan
from .source import duck_ident, sql_string, sqlite_ident

REPLACEMENT = "chr(65533)"  # U+FFFD
NUMERIC = re.compile(r"numeric\((\d+),\s*(\d+)\)")
VARCHAR = re.compile(r"(?:varchar|character varying)\((\d+)\)")
INTEGER_RANGES = {"bigint": "BIGINT", "integer": "INTEGER", "smallint": "SMALLINT"}
TRUE_WORDS = ("1", "t", "true", "y", "yes", "on")
FALSE_WORDS = ("0", "f", "false", "n", "no", "off")


@dataclass
class Converted:
    """A column's value in DuckDB SQL: `value` (typed, NULL when absent or not convertible) and
    `reason` (NULL, or why the row cannot be loaded)."""

    value: str
    reason: str


class TableRead:
    """The SQL that reads one planned table and converts its values."""

    def __init__(self, table: TablePlan, bad_text: str = "replace", where: str = ""):
        self.table = table
        self.bad_text = bad_text
        self.where = where  # SQLite condition, e.g. a rowid range
        self.converted = [self._convert(i, c) for i, c in enumerate(table.columns)]

    # --- the relation ---------------------------------------------------------------------------

    def relation(self) -> str:
        """DuckDB SQL for the raw rows: `c0..cN` (text), `t0..tN` (storage class, where mixed), `__key`."""
        cols = []
        for i, c in enumerate(self.table.columns):
            q = sqlite_ident(c.source)
            text = f"hex(CAST({q} AS BLOB))" if c.bad_utf8_values else q
            cols.append(
                f"CASE typeof({q}) WHEN 'real' THEN printf('%!.17g', {q}) WHEN 'blob' THEN hex({q}) "
                f"WHEN 'text' THEN {text} ELSE {q} END AS c{i}"
            )
            if self._mixed(c):
                cols.append(f"typeof({q}) AS t{i}")
        key = "rowid" if self.table.has_rowid else (
            " || ',' || ".join(f"quote({sqlite_ident(k)})" for k in self._source_pk()) or "NULL")
        cols.append(f"{key} AS __key")
        where = f" WHERE {self.where}" if self.where else ""
        inner = f"SELECT {', '.join(cols)} FROM {sqlite_ident(self.table.source)}{where}"
        rel = f"sqlite_query('src', {sql_string(inner)}) AS s"
        for j, fk in enumerate(self.table.foreign_keys):
            if fk.null_orphans:
                parent = ", ".join(f"{sqlite_ident(c)} AS p{k}" for k, c in enumerate(fk.source_ref_columns))
                parent_sql = f"SELECT DISTINCT {parent} FROM {sqlite_ident(fk.source_ref_table)}"
                on = " AND ".join(
                    f"f{j}.p{k} = s.c{self._index(c)}" for k, c in enumerate(fk.source_columns))
                rel += f" LEFT JOIN sqlite_query('src', {sql_string(parent_sql)}) AS f{j} ON {on}"
        return rel

    def select(self) -> str:
        """Copy-ready columns (those Postgres does not generate), then the reject columns."""
        loaded = [(i, c) for i, c in enumerate(self.table.columns) if c.generated is None]
        cols = [f"{copy_text(c, self.converted[i].value)} AS {duck_ident(c.target)}" for i, c in loaded]
        return f"SELECT {', '.join(cols)}, {self.reject_columns()} FROM {self.relation()}"

    def reject_columns(self) -> str:
        reasons = [(c.target, self.converted[i].reason) for i, c in enumerate(self.table.columns)]
        column = "CASE " + " ".join(f"WHEN ({r}) IS NOT NULL THEN {sql_string(t)}" for t, r in reasons) + " END"
        reason = "coalesce(" + ", ".join(r for _, r in reasons) + ")" if reasons else "NULL"
        raw = "CASE " + " ".join(
            f"WHEN ({r}) IS NOT NULL THEN s.c{i}" for i, (_, r) in enumerate(reasons)) + " END"
        return f"{column} AS __reject_column, {reason} AS __reason, CAST(s.__key AS VARCHAR) AS __key, {raw} AS __raw"

    def rejected_filter(self, rejected: bool) -> str:
        """A DuckDB condition over the relation: the row is (or is not) rejected."""
        any_reason = " OR ".join(f"({c.reason}) IS NOT NULL" for c in self.converted) or "FALSE"
        return f"({any_reason})" if rejected else f"NOT ({any_reason})"

    # --- per column -----------------------------------------------------------------------------

    def _index(self, source_column: str) -> int:
        for i, c in enumerate(self.table.columns):
            if c.source == source_column:
                return i
        raise KeyError(source_column)

    def _source_pk(self) -> list[str]:
        return [c.source for c in self.table.columns if c.target in self.table.primary_key]

    @staticmethod
    def _mixed(c: ColumnPlan) -> bool:
        return len(c.storage) > 1

    def _is(self, i: int, c: ColumnPlan, cls: str) -> str:
        if self._mixed(c):
            return f"s.t{i} = '{cls}'"
        return "TRUE" if c.storage == [cls] else "FALSE"

    def _text(self, i: int, c: ColumnPlan) -> tuple[str, str]:
        """(text value after the bad-text policy, reason when the policy rejects it)."""
        raw = f"s.c{i}"
        reason = "NULL"
        if c.bad_utf8_values:
            decoded = f"try(decode(unhex({raw})))"
            if self.bad_text == "reject":
                reason = f"CASE WHEN {decoded} IS NULL THEN 'text is not valid UTF-8 (bad_text=reject)' END"
                raw = decoded
            else:
                raw = f"coalesce({decoded}, fix_utf8({raw}, {sql_string(self.bad_text)}))"
        if self.bad_text == "reject":
            nul = f"CASE WHEN contains({raw}, chr(0)) THEN 'text contains a NUL character (bad_text=reject)' END"
            reason = nul if reason == "NULL" else f"coalesce({reason}, {nul})"
        else:
            raw = f"replace({raw}, chr(0), {REPLACEMENT if self.bad_text == 'replace' else chr(39) * 2})"
        return raw, reason

    def _convert(self, i: int, c: ColumnPlan) -> Converted:
        raw = f"s.c{i}"
        text, text_reason = self._text(i, c)
        is_text, is_int, is_real, is_blob = (self._is(i, c, k) for k in ("text", "integer", "real", "blob"))
        t = c.pg_type
        nothing = "NULL"

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
            if m := VARCHAR.fullmatch(t):
                fails.append((f"length({value}) > {m.group(1)}", f"'longer than {m.group(1)} characters'"))
            return self._finish(c, value, fails, text_reason)
        if t in INTEGER_RANGES:
            duck = INTEGER_RANGES[t]
            value = choose([
                (is_int, f"TRY_CAST({raw} AS {duck})"),
                (is_real, f"CASE WHEN CAST({raw} AS DOUBLE) = trunc(CAST({raw} AS DOUBLE)) "
                          f"THEN TRY_CAST(CAST({raw} AS DOUBLE) AS {duck}) END"),
                (is_text, f"CASE WHEN regexp_matches({text}, '^\\s*[+-]?\\d+\\s*$') THEN TRY_CAST(trim({text}) AS {duck}) END"),
            ])
            return self._finish(c, value, [], text_reason, f"'not a whole number within {t}'")
        if t in ("double precision", "real"):
            value = choose([(is_int, f"CAST({raw} AS DOUBLE)"), (is_real, f"CAST({raw} AS DOUBLE)"),
                            (is_text, f"TRY_CAST(trim({text}) AS DOUBLE)")])
            return self._finish(c, value, [], text_reason, "'not a number'")
        if t == "numeric" or NUMERIC.fullmatch(t):
            value = choose([
                (is_int, raw),
                (is_real, f"CAST(CAST({raw} AS DOUBLE) AS VARCHAR)"),
                (is_text, f"CASE WHEN regexp_matches(trim({text}), '^[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?$') "
                          f"THEN trim({text}) END"),
            ])
            fails = []
            if m := NUMERIC.fullmatch(t):
                limit = int(m.group(1)) - int(m.group(2))
                fails.append((f"abs(TRY_CAST({value} AS DOUBLE)) >= 1e{limit}", f"'too large for {t}'"))
            return self._finish(c, value, fails, text_reason, f"'not a number for {t}'")
        if t == "boolean":
            words = f"lower(trim({text}))"
            value = choose([
                (is_int, f"CASE {raw} WHEN '0' THEN false WHEN '1' THEN true END"),
                (is_real, f"CASE CAST({raw} AS DOUBLE) WHEN 0 THEN false WHEN 1 THEN true END"),
                (is_text, f"CASE WHEN {words} IN {TRUE_WORDS} THEN true WHEN {words} IN {FALSE_WORDS} THEN false END"),
            ])
            return self._finish(c, value, [], text_reason, "'not 0/1 or a boolean word'")
        if t in ("timestamptz", "timestamp"):
            scale = "1000" if c.convert == "unix_millis" else "1000000"
            value = choose([
                (is_int, f"make_timestamp(CAST({raw} AS BIGINT) * {scale})"),
                (is_real, f"make_timestamp(CAST(round(CAST({raw} AS DOUBLE) * {scale}) AS BIGINT))"),
                (is_text, f"CAST(TRY_CAST(trim({text}) AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP)"),
            ])
            return self._finish(c, f"TRY({value})", [], text_reason, "'not a date and time'")
        if t == "date":
            value = choose([(is_text, f"TRY_CAST(trim({text}) AS DATE)")])
            return self._finish(c, value, [], text_reason, "'not a calendar date'")
        if t in ("jsonb", "json"):
            valid = f"json_valid({text}) AND NOT regexp_matches({text}, '\\\\u0000')"
            value = choose([(is_text, f"CASE WHEN {valid} THEN {text} END"), (is_int, raw),
                            (is_real, f"CAST(CAST({raw} AS DOUBLE) AS VARCHAR)")])
            return self._finish(c, value, [], text_reason, "'malformed JSON'")
        if t == "bytea":
            value = choose([(is_blob, f"unhex({raw})"), (is_text, f"encode({text})"), (is_int, f"encode({raw})"),
                            (is_real, f"encode({raw})")])
            return self._finish(c, value, [], text_reason)
        if t == "uuid":
            value = choose([(is_text, f"CASE WHEN regexp_matches(trim({text}), '^[0-9a-fA-F]{{8}}-?([0-9a-fA-F]{{4}}-?){{3}}[0-9a-fA-F]{{12}}$') THEN lower(trim({text})) END")])
            return self._finish(c, value, [], text_reason, "'not a UUID'")
        raise AssertionError(f"unhandled type {t}")

    def _finish(self, c: ColumnPlan, value: str, fails: list[tuple[str, str]], text_reason: str,
                not_converted: str = "'does not convert'") -> Converted:
        raw = f"s.c{self._index(c.source)}"
        if c.generated is not None:  # Postgres computes it: compared by verify, never a reason to reject
            return Converted(value, "NULL")
        for fk in self.table.foreign_keys:
            if fk.null_orphans and c.source in fk.source_columns:
                j = self.table.foreign_keys.index(fk)
                value = f"CASE WHEN f{j}.p0 IS NULL THEN NULL ELSE {value} END"
                raw = f"CASE WHEN f{j}.p0 IS NULL THEN NULL ELSE {raw} END"
        checks = [f"WHEN {raw} IS NULL THEN " + (
            "'NULL in the primary key'" if c.target in self.table.primary_key else
            "'NULL in a NOT NULL column'" if not c.nullable else "NULL")]
        if text_reason != "NULL":
            checks.append(f"WHEN ({text_reason}) IS NOT NULL THEN {text_reason}")
        checks.append(f"WHEN ({value}) IS NULL THEN {not_converted}")
        checks += [f"WHEN {cond} THEN {why}" for cond, why in fails if cond != "FALSE"]
        # Every reason names its column: "code: not a whole number within bigint".
        return Converted(value, f"{sql_string(c.target + ': ')} || CASE " + " ".join(checks) + " END")


_KNOWN = {"text", "bigint", "integer", "smallint", "double precision", "real", "numeric", "boolean",
          "timestamptz", "timestamp", "date", "jsonb", "json", "bytea", "uuid"}


def copy_text(col: ColumnPlan, value: str) -> str:
    """A typed value as the text Postgres' COPY reads (Arrow writes the CSV)."""
    t = col.pg_type
    if t == "timestamptz":
        return f"strftime({value}, '%Y-%m-%d %H:%M:%S.%f') || '+00'"
    if t == "timestamp":
        return f"strftime({value}, '%Y-%m-%d %H:%M:%S.%f')"
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
