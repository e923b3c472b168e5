"""Differential fuzzing of the whole runbook (issue 12, point 4): SQLite databases people actually
have, generated with Hypothesis, migrated by the runbook's own steps, and judged by an oracle
written apart from the library.

    >>> db = databases().example()            # a Database: tables, declared types, rows
    >>> print(db.script())                    # the SQL that builds it
    >>> report = check_database(db, url, workdir)
    >>> report.failures                       # [] when the runbook kept its promise

The oracle does not import canonical.py, convert.py or reconcile.py. It reads every source value
with Python's sqlite3 (read-only, with `typeof()`), every target value with psycopg, and decides
from SQLite's and PostgreSQL's documented semantics (and the README where it documents a choice)
whether the target value means what the source value meant: `expect(storage_class, value, pg_type)`.
It then pairs rows (a maximum matching over "every column means the same", so primary keys and
keyless tables are handled alike), accounts for rejected rows, checks the listed losses and the
schema, and sets all of it against the runbook's verdict. The kinds of failure, worst first:

- `silent_change` / `silent_loss` / `silent_extra`: the run passed, and a value differs, a row is
  neither in the target nor rejected, or the target holds a row SQLite does not.
- `schema_loss`: a primary key, NOT NULL, UNIQUE or DEFAULT did not arrive, and no listed loss says so.
- `crash`: a step raised something that is not one of the runbook's own errors.
- `needless_reject`: a row was rejected although every value in it has a faithful Postgres value, or
  because a column SQLite declares as holding anything (BLOB affinity) was given a narrower type.
- `false_alarm`: the run failed (verification, or an error) although everything arrived.
- `false_loss`: the plan listed a loss of something that did arrive, or that the source does not have.
- `needless_loss`: the plan listed a default as lost that has a faithful Postgres value.
- `bad_reject_record`: a reject without a reason, for a row that does not exist, or naming several rows.

The runbook runs with `fail_on_rejects: false` (a rejected row is listed with its reason, and the
oracle judges whether it had to be). A stop at the plan is the verdict "failed"; the run then goes on
with exactly the listed losses accepted, so the rest is still compared, and each listed loss must be
real; differences in a column whose `value:` loss was accepted are excused.

Choices made where SQLite leaves meaning open, each stated once:

- An integer (or real) in a timestamp column is read in the unit in which it lands between 1973 and
  5138: seconds below 1e11 (and below 1973, the meaning SQLite documents for integer times, datatype3
  section 2.2), milliseconds below 1e14, microseconds above; except that a number from 2415020.5 to
  2524958.5 is a Julian day (1900 to 2200; SQLite's date functions read numbers so, lang_datefunc
  section 2, format 12), whose instant is SQLite's whole milliseconds (date.c: r*86400000 + 0.5); a
  Julian real that is not such a count over 86400000.0 (what julianday() writes) loses digits. An
  instant past the year 9999 may be rejected or loaded. Reals are compared to the microsecond
  (timestamptz's resolution), within one; a real whose shortest digits go beyond a microsecond in its
  unit (1700000000.1234567 seconds) has no timestamptz value.
- A number DEFAULT on a timestamp column may be read in any of the four units (the README: numbers are
  read in the column's unit); a clock DEFAULT (`CURRENT_TIMESTAMP`, `unixepoch()`, ...) is equal when
  both sides read the same moment within two seconds, whatever form each gives it (the README: now()
  on a timestamp column, SQLite's text on a text column, numbers on a number column).
- ISO text is what SQLite's datetime() reads (lang_datefunc section 2, date.c), and nothing else:
  `YYYY-MM-DD` (nothing before it), then any run of `T` and white space, `HH:MM` (hour 00-24, 24
  being the next midnight), `:SS`, a fraction of any digits, white space, then optionally `Z`, `z` or
  an offset `+HH:MM` (hours 00-14), white space; naive text is UTC (README). A fraction with non-zero
  digits beyond the sixth has no timestamptz value, nor has a day the calendar lacks (2024-06-31). In a
  date column only a date (or a date at midnight, naive, Z or +00:00) has a value.
- A real in a numeric column means the decimal that reads back as the same double (0.1 is 0.1, not
  0.1000000000000000055...); a decimal that does not fit numeric(p,s) exactly has no value there. An
  integer in a double precision column must be exact as a double.
- -0.0 equals 0.0 (the README documents it). Text is compared after `bad_text: replace` (NUL and each
  invalid UTF-8 sequence become U+FFFD, README "Parameters"); in bytea, text is its bytes as SQLite
  holds them, NUL and invalid UTF-8 included, and numbers their digits (README, BLOB row of the type table).
- JSON is equal when parsed (numbers as exact decimals, the last of duplicate keys wins, as jsonb).
- A reject is justified when a value of the row has no faithful value of its target column's type,
  a NULL meets a NOT NULL target column, Postgres refused a duplicate key that another row holds, or
  the column's `value:` loss was accepted; except that a column with BLOB affinity must never reject a
  value for its type (README: "BLOB or no type -> bytea ... BLOBs beside text or numbers: bytea").
- Verification's own failures are read from its listed differences: when every one is the same number
  printed two ways, the false alarm is named by `known_fault`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import re
import shutil
import sqlite3
import struct
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import Any, Callable

from hypothesis import strategies as st

# --- SQLite's type affinity (https://www.sqlite.org/datatype3.html section 3.1) --------------------


def affinity(declared: str) -> str:
    """The affinity SQLite gives a declared type, by the five rules of section 3.1, in order."""
    d = declared.upper()
    if "INT" in d:
        return "INTEGER"
    if "CHAR" in d or "CLOB" in d or "TEXT" in d:
        return "TEXT"
    if "BLOB" in d or not d.strip():
        return "BLOB"
    if "REAL" in d or "FLOA" in d or "DOUB" in d:
        return "REAL"
    return "NUMERIC"


# --- the generated database -------------------------------------------------------------------------

DEFAULT = "DEFAULT"  # a row value meaning: leave the column out of the INSERT, so its default applies


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_text(s: str) -> str:
    """A SQLite text literal; NUL characters, which a literal cannot hold, as `char(0)`."""
    parts = s.split("\x00")
    return " || char(0) || ".join("'" + p.replace("'", "''") + "'" for p in parts) if len(parts) > 1 \
        else "'" + s.replace("'", "''") + "'"


def sql_real(f: float) -> str:
    if math.isinf(f):
        return "9e999" if f > 0 else "-9e999"
    text = repr(f)
    return text if any(c in text for c in ".en") else text + ".0"


def sql_bad_text(raw: bytes) -> str:
    """Text whose bytes are not valid UTF-8: only a cast from a BLOB puts it into SQLite."""
    return f"CAST(x'{raw.hex()}' AS TEXT)"


@dataclass
class Column:
    name: str
    declared: str
    family: str  # what the generator meant the column to hold (for reading the script; the oracle ignores it)
    notnull: bool = False
    unique: bool = False
    default: str | None = None  # SQL expression

    def definition(self) -> str:
        parts = [q(self.name)] + ([self.declared] if self.declared else [])
        if self.notnull:
            parts.append("NOT NULL")
        if self.unique:
            parts.append("UNIQUE")
        if self.default is not None:
            parts.append(f"DEFAULT {self.default}")
        return " ".join(parts)


@dataclass
class Table:
    name: str
    key: str  # none, rowid, autoincrement, text, composite, without_rowid_text, without_rowid_composite
    key_columns: list[Column]
    columns: list[Column]
    rows: list[list[str]]  # SQL expressions, one per column of all_columns (DEFAULT: left out)
    table_unique: list[str] = field(default_factory=list)  # a UNIQUE (a, b) table constraint
    strict: bool = False  # a STRICT table: declared types are INTEGER, REAL, TEXT, BLOB or ANY

    @property
    def all_columns(self) -> list[Column]:
        return self.key_columns + self.columns

    def create(self) -> str:
        defs = []
        for c in self.key_columns:
            if self.key == "rowid":
                defs.append(f"{q(c.name)} INTEGER PRIMARY KEY")
            elif self.key == "autoincrement":
                defs.append(f"{q(c.name)} INTEGER PRIMARY KEY AUTOINCREMENT")
            elif self.key in ("text", "without_rowid_text"):
                defs.append(f"{q(c.name)} {c.declared} PRIMARY KEY")
            else:
                defs.append(f"{q(c.name)} {c.declared}")
        defs += [c.definition() for c in self.columns]
        if self.key in ("composite", "without_rowid_composite"):
            defs.append(f"PRIMARY KEY ({', '.join(q(c.name) for c in self.key_columns)})")
        if self.table_unique:
            defs.append(f"UNIQUE ({', '.join(q(n) for n in self.table_unique)})")
        options = (["WITHOUT ROWID"] if self.key.startswith("without_rowid") else []) + (["STRICT"] if self.strict else [])
        tail = (" " + ", ".join(options)) if options else ""
        return f"CREATE TABLE {q(self.name)} (\n  " + ",\n  ".join(defs) + f"\n){tail};"

    def inserts(self) -> list[str]:
        out = []
        for row in self.rows:
            pairs = [(c, v) for c, v in zip(self.all_columns, row) if v != DEFAULT]
            if not pairs:
                out.append(f"INSERT OR IGNORE INTO {q(self.name)} DEFAULT VALUES;")
                continue
            cols = ", ".join(q(c.name) for c, _ in pairs)
            vals = ", ".join(v for _, v in pairs)
            # OR IGNORE: a generated row that breaks a key, UNIQUE or NOT NULL is simply not there
            out.append(f"INSERT OR IGNORE INTO {q(self.name)} ({cols}) VALUES ({vals});")
        return out


@dataclass
class Database:
    tables: list[Table]

    def script(self) -> str:
        parts = []
        for t in self.tables:
            parts.append(t.create())
            parts += t.inserts()
        return "\n".join(parts) + "\n"

    def __repr__(self) -> str:  # Hypothesis prints a falsifying example with this: the SQL itself
        return "Database(script=\n" + self.script() + ")"

    def build(self, path: Path) -> Path:
        return build_sqlite(path, self.script())


def build_sqlite(path: Path, script: str) -> Path:
    """The SQLite file a script describes (a saved regression, or a generated Database)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        # statement by statement: a STRICT table refuses a value of the wrong type with an error that
        # INSERT OR IGNORE does not ignore (https://www.sqlite.org/stricttables.html); that row is
        # simply not there, as a row breaking a key is not
        statement = ""
        for line in script.splitlines(keepends=True):
            statement += line
            if not sqlite3.complete_statement(statement):
                continue
            try:
                con.execute(statement)
            except sqlite3.IntegrityError as exc:
                if "cannot store" not in str(exc):
                    raise
            statement = ""
        con.commit()
    finally:
        con.close()
    return path


# --- strategies: values ---------------------------------------------------------------------------

EDGE_INTS = [0, 1, -1, 2**63 - 1, -(2**63), 2**53 + 1, 2**31, -(2**31) - 1, 2**32, 42]
EDGE_REALS = [-0.0, 5e-324, 1.7976931348623157e308, -1.7976931348623157e308, 0.1 + 0.2, 1e15 + 0.3,
              2.2250738585072014e-308, 1e16, 0.5, 1.5, -2.5, 123456.789, 1e-7, float("inf"), float("-inf")]
BAD_UTF8 = [b"\xc3\x28", b"\xff", b"\x80", b"\xed\xa0\x80", b"ab\xffcd", b"\xe2\x82", b"ok\xc0\xaf"]
ODD_TEXT = ["", " ", "12", " 7 ", "1e5", "-0", "00012", "0x10", "+3", "1.50", "NULL", "null", "true",
            "t", "f", "é", "日本語", "emoji 😀", "a'b", 'q"q', "tab\there", "line\nbreak", "  padded  ",
            "\u200b", "ﬀ", "Ǆ", "x" * 40]

SECONDS = (946_684_800, 4_102_444_800)  # 2000-01-01 .. 2100-01-01
MILLIS = (SECONDS[0] * 1000, SECONDS[1] * 1000)

text_chars = st.characters(blacklist_categories=("Cs",))  # a surrogate cannot be written as UTF-8


def ints() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(EDGE_INTS), st.integers(-1000, 1000),
                     st.integers(-(2**63), 2**63 - 1)).map(str)


def reals() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(EDGE_REALS), st.floats(allow_nan=False),
                     st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 3))).map(sql_real)


def plain_texts() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(ODD_TEXT), st.text(text_chars, max_size=12),
                     st.text("abcxyz -_", min_size=1, max_size=8))


def texts() -> st.SearchStrategy[str]:
    """Text as people have it: unicode, numbers as text, NUL characters, invalid UTF-8."""
    with_nul = st.tuples(plain_texts(), plain_texts()).map(lambda p: p[0] + "\x00" + p[1])
    return st.one_of(plain_texts().map(sql_text), plain_texts().map(sql_text), with_nul.map(sql_text),
                     st.sampled_from(BAD_UTF8).map(sql_bad_text))


def blobs() -> st.SearchStrategy[str]:
    return st.one_of(st.binary(max_size=12), st.sampled_from([b"", b"\x00", "text".encode(), b"\xff\xfe"])) \
        .map(lambda b: f"x'{b.hex()}'")


def unix_seconds() -> st.SearchStrategy[str]:
    whole = st.integers(*SECONDS).map(str)
    fraction = st.tuples(st.integers(*SECONDS), st.integers(0, 999)).map(lambda p: sql_real(p[0] + p[1] / 1000))
    finer = st.sampled_from(["1700000000.1234567", "1700000000.123456", "1700000000.0000001"])  # beyond microseconds
    return st.one_of(whole, whole, whole, fraction, st.sampled_from(["0", "-1", "86400"]), finer)


def julian_days() -> st.SearchStrategy[str]:
    """Julian day numbers as julianday() writes them (whole milliseconds since the Julian epoch, as a
    double), whole days at noon, and reals with any fraction, from 1900 to 2200."""
    ms = st.integers(int(2415020.5 * 86400000), int(2524958.5 * 86400000) - 1)
    return st.one_of(ms.map(lambda n: sql_real(n / 86400000.0)), st.integers(2415021, 2524958).map(str),
                     st.floats(2415020.5, 2524958.5, exclude_max=True).map(sql_real))


def unix_millis() -> st.SearchStrategy[str]:
    return st.integers(*MILLIS).map(str)


def unix_micros() -> st.SearchStrategy[str]:
    return st.integers(MILLIS[0] * 1000, MILLIS[1] * 1000).map(str)


def iso_texts(date_only: bool = False) -> st.SearchStrategy[str]:
    """ISO 8601 text in the variants apps write: `T` or a space, minutes only, seconds, 1 to 9
    digits of fraction, `Z`, offsets with or without a colon, or a date alone."""
    moment = st.datetimes(datetime(1900, 1, 1), datetime(2100, 12, 31))

    def render(parts) -> str:
        dt, sep, precision, digits, zone, hours, minutes, colon = parts
        day = dt.strftime("%Y-%m-%d")
        if date_only or precision == "date":
            return day
        clock = dt.strftime("%H:%M")
        if precision != "minutes":
            clock += dt.strftime(":%S")
            if precision == "fraction":
                clock += "." + digits
        tz = ""
        if zone == "Z":
            tz = "Z"
        elif zone == "offset":
            sign = "-" if hours < 0 else "+"
            tz = f"{sign}{abs(hours):02d}{':' if colon else ''}{minutes:02d}"
        return f"{day}{sep}{clock}{tz}"

    return st.tuples(moment, st.sampled_from(["T", " "]),
                     st.sampled_from(["date", "minutes", "seconds", "fraction", "fraction"]),
                     st.text("0123456789", min_size=1, max_size=9),
                     st.sampled_from(["", "Z", "offset"]), st.integers(-12, 14), st.sampled_from([0, 30, 45]),
                     st.booleans()).map(render).map(sql_text)


def dates() -> st.SearchStrategy[str]:
    return st.one_of(iso_texts(date_only=True), st.sampled_from(["'2024-02-30'", "'2023-13-01'", "'2024-02-29'"]))


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(allow_nan=False, allow_infinity=False),
              st.text(text_chars, max_size=6)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(text_chars, max_size=4), inner, max_size=3)),
    max_leaves=8,
)


def json_texts() -> st.SearchStrategy[str]:
    """JSON text: objects, arrays, nesting, unicode escapes (ensure_ascii), big numbers, duplicate
    keys, and a few that are not JSON."""
    container = st.one_of(st.lists(json_values, max_size=3), st.dictionaries(st.text(text_chars, max_size=4), json_values, max_size=3))
    dumped = st.tuples(container, st.booleans(), st.booleans()).map(
        lambda p: json.dumps(p[0], ensure_ascii=p[1], separators=(",", ":") if p[2] else (", ", ": ")))
    odd = st.sampled_from(['{"a": 1, "a": 2}', '{"n": 123456789012345678901234567890}', '{"x": 1.0e400}',
                           '[1, 2.50, -0]', '{"a":', "{'a': 1}", "[1,]", '"just a string"', "42",
                           '{"e": "\\u00e9\\ud83d\\ude00"}', '{"z": "\\u0000"}', '{"s": "\\ud800"}'])
    return st.one_of(dumped, dumped, odd).map(sql_text)


def booleans() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["0", "1"]), st.sampled_from(["0", "1"]),
                     st.sampled_from(["'t'", "'f'", "'true'", "'false'", "'yes'", "'no'", "2", "'maybe'", "1.0"]))


def decimals() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["12.345", sql_real(0.1 + 0.2), "1.5", "12.34", "-0.5", "999.99", "1000.0",
                                      "'12.34'", "'0.1'", "'12.345'", "7", "'1e2'"]),
                     st.integers(-999, 999).map(lambda n: f"{n / 100:.2f}"))


FAMILIES: dict[str, tuple[Callable[[], st.SearchStrategy[str]], list[str], list[str]]] = {
    # family: (values, declared types, column names)
    "int": (ints, ["INTEGER", "INT", "BIGINT", "INT8", "UNSIGNED BIG INT", "SMALLINT", "TINYINT", ""],
            ["n", "qty", "count", "score", "code"]),
    "real": (reals, ["REAL", "DOUBLE", "DOUBLE PRECISION", "FLOAT", "FLOATING POINT", ""],
             ["x", "ratio", "lat", "weight"]),
    "text": (texts, ["TEXT", "VARCHAR(20)", "NVARCHAR(100)", "CHARACTER(20)", "CLOB", "STRING", ""],
             ["name", "title", "body", "note", "label"]),
    "blob": (blobs, ["BLOB", ""], ["data", "image", "raw"]),
    "seconds": (unix_seconds, ["DATETIME", "TIMESTAMP", "INTEGER", "BIGINT", ""],
                ["created_at", "updated_at", "at", "ts", "deleted_at"]),
    "millis": (unix_millis, ["DATETIME", "TIMESTAMP", "INTEGER", "BIGINT"], ["created_at", "sent_at", "ts"]),
    "micros": (unix_micros, ["DATETIME", "TIMESTAMP", "INTEGER"], ["created_at", "ts"]),
    "julian": (julian_days, ["DATETIME", "TIMESTAMP", "DATE", "REAL", ""], ["created_at", "updated", "seen_at", "ts"]),
    "iso": (iso_texts, ["DATETIME", "TIMESTAMP", "TEXT", ""], ["created_at", "happened_at", "start_time", "updated"]),
    "date": (dates, ["DATE", "TEXT"], ["birth_date", "due_on", "date"]),
    "json": (json_texts, ["JSON", "TEXT", ""], ["tags", "meta", "payload"]),
    "bool": (booleans, ["BOOLEAN", "BOOL", "INTEGER", "TINYINT(1)"], ["is_done", "resolved", "has_image", "archived"]),
    "decimal": (decimals, ["DECIMAL(5,2)", "NUMERIC(10,3)", "NUMERIC", "DECIMAL"], ["price", "amount", "total"]),
}


# what a column of each family is found holding besides its own values
NEIGHBOURS = {"int": ["real", "text"], "real": ["int", "text"], "text": ["int", "real", "blob"], "blob": ["text", "int"],
              "seconds": ["iso", "millis"], "millis": ["iso", "seconds", "text"], "micros": ["iso", "millis"], "iso": ["seconds", "millis", "date"],
              "julian": ["iso", "seconds"],
              "date": ["iso", "text"], "json": ["text"], "bool": ["int", "text"], "decimal": ["real", "int", "text"]}


def any_value() -> st.SearchStrategy[str]:
    return st.one_of([values() for values, _, _ in FAMILIES.values()])


def family_defaults(family: str) -> st.SearchStrategy[str]:
    common = st.sampled_from(["NULL", "0", "1", "'x'", "-1"])
    special = {
        "seconds": ["CURRENT_TIMESTAMP", "(unixepoch())", "(strftime('%s','now'))", "0"],
        "millis": ["0", "1700000000000"],
        "micros": ["0"],
        "julian": ["(julianday('now'))", "2460000.5"],
        "iso": ["CURRENT_TIMESTAMP", "(datetime('now'))", "'2024-01-01 00:00:00'", "'2024-01-01T10:00:00Z'"],
        "date": ["CURRENT_DATE", "'2024-01-01'"],
        "json": ["'[]'", "'{}'", "'{\"a\": 1}'"],
        "bool": ["0", "1", "TRUE", "FALSE", "'t'"],
        "decimal": ["0", "0.0", "1.25", "'9.99'", "12.345"],
        "text": ["''", "'none'", "'it''s'", "CURRENT_TIMESTAMP"],
        "blob": ["x'00ff'", "''"],
        "real": ["0.0", "1.5", "-0.0", "1e308"],
        "int": ["0", "42", "9223372036854775807", "'5'"],
    }.get(family, [])
    return st.one_of(common, st.sampled_from(special)) if special else common


# --- strategies: tables and databases ---------------------------------------------------------------

TABLE_NAMES = ["items", "events", "users", "order", "notes", "t_x"]
KEYS = ["none", "rowid", "autoincrement", "text", "composite", "without_rowid_text", "without_rowid_composite"]


@st.composite
def columns(draw, used: set[str]) -> Column:
    family = draw(st.sampled_from(list(FAMILIES)))
    _, declared, names = FAMILIES[family]
    name = draw(st.sampled_from(names))
    while name in used:
        name = f"{name}_{len(used)}"
    used.add(name)
    default = draw(st.none() | st.none() | family_defaults(family))
    return Column(name, draw(st.sampled_from(declared)), family, notnull=draw(st.booleans().map(lambda b: b and draw(st.booleans()))),
                  unique=draw(st.integers(0, 5)) == 5, default=default)  # shrinks to False


def key_values(kind: str, autoincrement: bool = False) -> st.SearchStrategy[str]:
    if kind == "int":
        # with AUTOINCREMENT, SQLite cannot hand out an id after 2^63-1 (SQLITE_FULL): not a database anyone has
        edges = [0, -1, -(2**63)] + ([] if autoincrement else [2**63 - 1])
        return st.one_of(st.integers(1, 50), st.sampled_from(edges)).map(str)
    cuid = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
    odd = st.sampled_from(["é", "日本", "a b", "A", "a", "a\x00b", "a\ufffdb", ""])
    return st.one_of(cuid.map(sql_text), cuid.map(sql_text), odd.map(sql_text), st.sampled_from(BAD_UTF8).map(sql_bad_text))


@st.composite
def tables(draw) -> Table:
    name = draw(st.sampled_from(TABLE_NAMES))
    key = draw(st.sampled_from(KEYS))
    used: set[str] = set()
    key_columns: list[Column] = []
    if key in ("rowid", "autoincrement"):
        key_columns = [Column("id", "INTEGER", "int")]
    elif key in ("text", "without_rowid_text"):
        key_columns = [Column("id", draw(st.sampled_from(["TEXT", "VARCHAR(24)"])), "text")]
    elif key in ("composite", "without_rowid_composite"):
        key_columns = [Column("k1", "INTEGER", "int"), Column("k2", "TEXT", "text")]
    used |= {c.name for c in key_columns}
    cols = [draw(columns(used)) for _ in range(draw(st.integers(1, 4)))]
    n = draw(st.integers(0, 30))
    # each column holds its family's values, and now and then any value at all (mixed storage classes)
    per_column = []
    for c in cols:
        values = FAMILIES[c.family][0]()
        pool = values
        if draw(st.booleans()):  # mixed: the kinds of value that end up together in apps' columns
            others = [FAMILIES[f][0]() for f in NEIGHBOURS[c.family]]
            pool = st.one_of([values, values, values, *others, any_value()])
        nulls = st.just("NULL") if not c.notnull or draw(st.booleans()) else st.nothing()
        default = st.just(DEFAULT) if c.default is not None else st.nothing()
        per_column.append(st.one_of(pool, pool, pool, pool, nulls, default))
    if key in ("rowid", "autoincrement"):
        keys = draw(st.lists(st.one_of(key_values("int", key == "autoincrement"), st.just("NULL")), min_size=n, max_size=n))
        key_rows = [[k] for k in keys]
    elif key in ("text", "without_rowid_text"):
        key_rows = [[k] for k in draw(st.lists(key_values("text"), min_size=n, max_size=n, unique=True))]
    elif key.endswith("composite"):
        pairs = draw(st.lists(st.tuples(key_values("int"), key_values("text")), min_size=n, max_size=n, unique=True))
        key_rows = [list(p) for p in pairs]
    else:
        key_rows = [[] for _ in range(n)]
    rows = [k + [draw(s) for s in per_column] for k in key_rows]
    table_unique = []
    if len(cols) >= 2 and draw(st.integers(0, 6)) == 6:
        table_unique = [cols[0].name, cols[1].name]
    strict = draw(st.integers(0, 5)) == 5  # shrinks to an ordinary table
    if strict:
        for c in key_columns + cols:
            c.declared = strict_type(c.declared)
    return Table(name, key, key_columns, cols, rows, table_unique, strict)


def strict_type(declared: str) -> str:
    """The type a STRICT table allows for a column declared `declared` elsewhere: the one of its
    affinity; ANY for NUMERIC affinity and no type (https://www.sqlite.org/stricttables.html)."""
    return {"INTEGER": "INTEGER", "TEXT": "TEXT", "REAL": "REAL"}.get(
        affinity(declared), "BLOB" if "BLOB" in declared.upper() else "ANY")


@st.composite
def databases(draw, max_tables: int = 3) -> Database:
    """A small database as apps have them: 1 to `max_tables` tables, up to 30 rows each."""
    return Database(draw(st.lists(tables(), min_size=1, max_size=max_tables, unique_by=lambda t: t.name)))


# --- running the runbook ------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What the runbook did: the losses it stopped at (if any), then the verdict of the run that
    accepted them: `passed` is what exit status 0 means (no step raised, verification passed)."""

    run_dir: Path
    schema: str
    stopped_at_plan: list[str] = field(default_factory=list)  # the loss items the first plan stopped at
    passed: bool = False
    error: BaseException | None = None
    verify: Any = None  # verify.VerifyResult
    plan: dict | None = None  # plan.json

    @property
    def run(self) -> str:
        return self.run_dir.name


def run_runbook(sqlite_path: Path, database_url: str, run_dir: Path, schema: str) -> Outcome:
    """Steps 01-04 in-process, as the notebooks run them, with `fail_on_rejects: false` (a rejected
    row is listed with its reason, and the fuzzer judges whether it had to be).

    The plan is first made with nothing accepted: a stop there is the verdict "failed", and the
    losses it names are kept for the oracle to check they are real. Then the run goes on with exactly
    those losses accepted, so that the rest of the database is still migrated and compared (a stop
    at the plan would otherwise hide every value behind one listed default)."""
    from sqlite2neon import load, plan, source, verify
    from sqlite2neon.config import Params
    from sqlite2neon.errors import LossesNotAccepted

    values = {"sqlite_path": str(sqlite_path), "database_url": database_url, "run_dir": str(run_dir),
              "env_file": "", "target_schema": schema, "fail_on_rejects": False, "name": "fuzz"}
    outcome = Outcome(Path(run_dir), schema)
    params = Params.from_mapping(values)
    try:
        source.step(params)
        the_plan = plan.step(params)
        try:
            the_plan.raise_for_losses()  # as the plan notebook does
        except LossesNotAccepted:
            outcome.stopped_at_plan = [loss.item for loss in the_plan.unaccepted]
            params = Params.from_mapping(values | {"accept_losses": outcome.stopped_at_plan})
            plan.step(params)
        load.step(params)
        outcome.verify = verify.step(params)
        outcome.passed = bool(outcome.verify.passed)
    except Exception as exc:  # the verdict is "failed"; the oracle judges whether it had to be
        outcome.error = exc
    text = (Path(run_dir) / "plan.json")
    outcome.plan = json.loads(text.read_text()) if text.exists() else None
    return outcome


@contextlib.contextmanager
def unverified_extension_load():
    """DuckDB checks the signature of its 34 MB sqlite extension on every LOAD: 0.12 s, paid by each
    of the steps inspect, load and verify, which is most of a small database's run. The fuzzer lets
    the library's own `duckdb_with_sqlite` load the same installed file without that check
    (`allow_unsigned_extensions`), and changes nothing else."""
    import duckdb

    from sqlite2neon import source

    class Unchecked:
        def __getattr__(self, name):
            return getattr(duckdb, name)

        @staticmethod
        def connect(*args, **kwargs):
            kwargs.setdefault("config", {})["allow_unsigned_extensions"] = True
            return duckdb.connect(*args, **kwargs)

    original = source.duckdb
    source.duckdb = Unchecked()
    try:
        yield
    finally:
        source.duckdb = original


# --- the oracle: what a source value means in a Postgres type ---------------------------------------


@dataclass
class Expect:
    """What a target value must be for a source value (`matches`), and whether a reject of the row is
    justified by it (`reject_ok`, with `why`). `class_mismatch`: the value's storage class has no
    meaning in the type at all (a BLOB in a text column)."""

    matches: Callable[[Any], bool]
    reject_ok: bool = False
    why: str = ""
    class_mismatch: bool = False
    canon: Any = None  # a hashable form, where one is exact (for duplicate keys)


def no_meaning(why: str, class_mismatch: bool = False) -> Expect:
    return Expect(lambda t: False, True, why, class_mismatch)


def exactly(value: Any) -> Expect:
    return Expect(lambda t: t is not None and type(t) is type(value) and t == value, canon=value)


INT_RANGES = {"bigint": 63, "integer": 31, "smallint": 15}
# ASCII digits only: Python's \d and Decimal() also read other scripts' digits ('೯' is 9), Postgres does not
DECIMAL_LITERAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
INTEGER_LITERAL = re.compile(r"[+-]?\d+", re.ASCII)
TRUE_WORDS = {"t", "true", "y", "yes", "on", "1"}  # PostgreSQL's boolean input (datatype-boolean.html)
FALSE_WORDS = {"f", "false", "n", "no", "off", "0"}
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# timestamptz holds 4713 BC to 294276 AD (datatype-datetime.html), in microseconds since 1970
PG_MIN_US = -210_866_803_200_000_000
PG_MAX_US = 9_224_318_015_999_999_999
YEAR_1_US = -62_135_596_800_000_000
YEAR_10000_US = 253_402_300_800_000_000
# the default plausible years, timestamp_years 1900-2200 (README "Parameters"): an instant outside them is
# a listed loss the plan stops on, so a loss of such a column is real, whichever unit reads it
PLAUSIBLE_US = (-2_208_988_800_000_000, 7_289_654_400_000_000)  # 1900-01-01 to 2201-01-01, UTC


def implausible(micros: int | float) -> bool:
    return not PLAUSIBLE_US[0] <= micros < PLAUSIBLE_US[1]
MILLIS_FROM = 10**11  # an epoch number this large is milliseconds (as seconds: after the year 5138)
MICROS_FROM = 10**14  # ... and this large microseconds (as milliseconds: after the year 5138)
SQLITE_SPACE = "[ \t\n\v\f\r]"  # sqlite3Isspace
ISO = re.compile(
    r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T \t\n\v\f\r]*"
    r"(?:([01][0-9]|2[0-4]):([0-5][0-9])(?::([0-5][0-9])(?:\.([0-9]+))?)?" + SQLITE_SPACE + "*"
    r"([Zz]|[+-](?:0[0-9]|1[0-4]):[0-5][0-9])?" + SQLITE_SPACE + "*)?")
JULIAN_RANGE = (2415020.5, 2524958.5)  # 1900-01-01 to 2201-01-01 as Julian day numbers


def decoded(raw: bytes) -> str | None:
    """Text SQLite holds, as text, when it is valid UTF-8 without NUL characters; else None."""
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in s else s


def replaced(raw: bytes) -> str:
    """The text Postgres receives under `bad_text: replace`: each invalid UTF-8 sequence and each NUL
    becomes U+FFFD."""
    return raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


# the white space Postgres' input functions skip (C's isspace()); str.strip() would also take \x1c-\x1f
PG_SPACE = " \t\n\v\f\r"


def float_text(t: str) -> float | None:
    s = t.strip(PG_SPACE).lower()
    if s in ("inf", "infinity", "+inf", "+infinity"):
        return math.inf
    if s in ("-inf", "-infinity"):
        return -math.inf
    if s == "nan":  # Postgres reads 'NaN' as float8 and numeric (datatype-numeric.html 8.1.2, 8.1.3)
        return math.nan
    return float(s) if DECIMAL_LITERAL.fullmatch(s) else None


def iso_micros(text: str) -> tuple[int | None, str]:
    """(microseconds since 1970 UTC, "") for ISO 8601 text, or (None, why not)."""
    m = ISO.fullmatch(text)
    if not m:
        return None, "not ISO 8601 text SQLite reads"
    y, mo, d, hh, mi, ss, frac, zone = m.groups()
    try:
        moment = datetime(int(y), int(mo), int(d), tzinfo=timezone.utc) + timedelta(
            hours=int(hh or 0), minutes=int(mi or 0), seconds=int(ss or 0))
    except (ValueError, OverflowError):
        return None, "not a calendar date and time"
    frac = frac or ""
    if frac[6:].strip("0"):
        return None, f"a fraction of {len(frac)} digits: timestamptz holds microseconds"
    micros = int((frac + "000000")[:6])
    offset = 0
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60)
    delta = moment - EPOCH
    return (delta.days * 86400 + delta.seconds - offset) * 1_000_000 + micros, ""


def epoch_unit(number: int | float) -> int:
    """Microseconds per unit of an epoch number: the unit in which it lands between 1973 and 5138
    (seconds below 1e11, milliseconds below 1e14, microseconds above); seconds below 1973, as SQLite
    documents integer times (datatype3 section 2.2)."""
    a = abs(number)
    return 1_000_000 if a < MILLIS_FROM else 1000 if a < MICROS_FROM else 1


def epoch_expect(number: int | float) -> Expect:
    """An epoch number in a timestamp column, in the unit its magnitude says (`epoch_unit`), or a Julian
    day number as SQLite reads it (whole milliseconds since the Julian epoch, date.c setRawDateNumber)."""
    if isinstance(number, float) and not math.isfinite(number):
        return no_meaning("an infinite number is no instant")
    if JULIAN_RANGE[0] <= number <= JULIAN_RANGE[1]:
        micros = (math.floor(number * 86400000.0 + 0.5) - 210_866_760_000_000) * 1000
        return Expect(lambda t: t == micros, canon=micros)
    scale = epoch_unit(number)
    if isinstance(number, float) and -Decimal(repr(number)).normalize().as_tuple().exponent > {
            1_000_000: 6, 1000: 3, 1: 0}[scale]:
        return no_meaning(f"{number!r} has digits beyond a microsecond")
    exact = Decimal(number) * scale
    if not PG_MIN_US <= exact <= PG_MAX_US:
        return no_meaning(f"{number} is outside timestamptz's range")
    # outside the plausible years (past 9999 no one meant a time at all): loading it faithfully and
    # listing it as a loss are both right
    absurd = not YEAR_1_US <= exact < YEAR_10000_US or implausible(exact)
    why = "outside the plausible years 1900-2200"
    if isinstance(number, int):
        return Expect(lambda t: t == number * scale, absurd, why, canon=number * scale)
    return Expect(lambda t: isinstance(t, int) and abs(t - exact) <= 1, absurd, why, canon=int(exact))


def json_tree(text: str, jsonb: bool = True):
    """Parsed JSON as a tagged tree (so true is not 1), numbers as exact decimals; raises ValueError
    for text Postgres' jsonb refuses (not JSON, NaN, a \\u0000 escape, a lone surrogate). json (not
    `jsonb`) keeps the text as written: it holds the escapes too (PostgreSQL docs 8.14)."""

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    value = json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=refuse)

    def tag(v):
        if isinstance(v, dict):
            return ("object", tuple(sorted((tag_key(k), tag(x)) for k, x in v.items())))
        if isinstance(v, list):
            return ("array", tuple(tag(x) for x in v))
        if isinstance(v, bool) or v is None:
            return ("literal", v)
        if isinstance(v, Decimal):
            return ("number", v.normalize() if v else Decimal(0))
        return ("string", tag_key(v))

    def tag_key(s: str) -> str:
        if jsonb and ("\x00" in s or any(0xD800 <= ord(c) <= 0xDFFF for c in s)):
            raise ValueError("a string jsonb cannot hold (NUL or a lone surrogate)")
        return s

    return tag(value)


def expect(cls: str, v: Any, pg_type: str) -> Expect:
    """What the source value `v` of SQLite storage class `cls` must be in a column of `pg_type`
    (PostgreSQL's format_type), as this module reads the target (`TargetTable`)."""
    if cls == "null":
        return Expect(lambda t: t is None)
    t = pg_type
    base = re.sub(r"\(.*\)", "", t).strip()
    text = decoded(v) if cls == "text" else None
    if base in INT_RANGES:
        bits = INT_RANGES[base]
        n = None
        if cls == "integer":
            n = v
        elif cls == "real" and math.isfinite(v) and v == int(v):
            n = int(v)
        elif cls == "text" and text is not None:
            s = text.strip(PG_SPACE)
            if INTEGER_LITERAL.fullmatch(s):
                n = int(s)
            elif DECIMAL_LITERAL.fullmatch(s) and Decimal(s) == Decimal(s).to_integral_value():
                n = int(Decimal(s))
        if n is None:
            return no_meaning(f"a {cls} that is not a whole number", cls == "blob")
        if not -(2**bits) <= n < 2**bits:
            return no_meaning(f"{n} is outside {base}")
        return exactly(n)
    if base in ("double precision", "real"):
        single = base == "real"
        if cls == "integer":
            f = float(v)
            if single:
                f = struct.unpack("f", struct.pack("f", f))[0] if abs(f) < 3.4e38 else math.inf
            if f != v:
                return no_meaning(f"the integer {v} is not exact as a {base}")
            return exactly(f)
        if cls == "real":
            if single and math.isfinite(v) and (abs(v) >= 3.4e38 or struct.unpack("f", struct.pack("f", v))[0] != v):
                return no_meaning(f"{v!r} is not exact as a real")
            return Expect(lambda x: isinstance(x, float) and x == v, canon=v)  # -0.0 == 0.0 (README)
        if cls == "text" and text is not None and (f := float_text(text)) is not None:
            return Expect(lambda x: isinstance(x, float) and (x == f or math.isnan(x) and math.isnan(f)), canon=f)
        return no_meaning(f"a {cls} that is not a number", cls == "blob")
    if base == "numeric":
        m = re.fullmatch(r"numeric\((\d+),(\d+)\)", t.replace(" ", ""))
        precision, scale = (int(m.group(1)), int(m.group(2))) if m else (None, None)

        def fits(d: Decimal) -> bool:
            if scale is None:
                return True
            if not d.is_finite() or abs(d) >= Decimal(10) ** (precision - scale):
                return False
            with localcontext() as ctx:
                ctx.prec = 1000
                return d == d.quantize(Decimal(1).scaleb(-scale), rounding="ROUND_DOWN")

        if cls == "integer":
            d = Decimal(v)
            return Expect(lambda x: isinstance(x, Decimal) and x == d, canon=d) if fits(d) else \
                no_meaning(f"{v} does not fit {t}")
        if cls == "real":
            if not math.isfinite(v):
                if scale is not None:
                    return no_meaning(f"{v} does not fit {t}")
                return Expect(lambda x: isinstance(x, Decimal) and float(x) == v)
            shortest = Decimal(repr(v))
            candidates = [shortest, Decimal(v)]
            if scale is not None and shortest.adjusted() < precision:
                with localcontext() as ctx:
                    ctx.prec = 1000
                    candidates.append(shortest.quantize(Decimal(1).scaleb(-scale)))
            if not any(fits(c) and float(c) == v for c in candidates):
                return no_meaning(f"{v!r} has no exact value in {t}")
            return Expect(lambda x: isinstance(x, Decimal) and x.is_finite() and float(x) == v, canon=shortest)
        if cls == "text" and text is not None and (f := float_text(text)) is not None and not math.isfinite(f):
            if math.isnan(f):  # NaN fits numeric(p,s); an infinity only unconstrained numeric (8.1.2)
                return Expect(lambda x: isinstance(x, Decimal) and x.is_nan())
            if scale is not None:
                return no_meaning(f"{text!r} does not fit {t}")
            return Expect(lambda x: isinstance(x, Decimal) and x == Decimal(f))
        if cls == "text" and text is not None and DECIMAL_LITERAL.fullmatch(text.strip(PG_SPACE)):
            d = Decimal(text.strip(PG_SPACE))
            return Expect(lambda x: isinstance(x, Decimal) and x == d, canon=d) if fits(d) else \
                no_meaning(f"{text!r} does not fit {t}")
        return no_meaning(f"a {cls} that is not a decimal number", cls == "blob")
    if base == "boolean":
        if cls == "integer" and v in (0, 1):
            return exactly(bool(v))
        if cls == "real" and v in (0.0, 1.0):
            return exactly(bool(v))
        if cls == "text" and text is not None and text.strip(PG_SPACE).lower() in TRUE_WORDS | FALSE_WORDS:
            return exactly(text.strip(PG_SPACE).lower() in TRUE_WORDS)
        return no_meaning(f"the {cls} {v!r} is not a boolean", cls == "blob")
    if base.startswith("timestamp"):
        if cls == "real" and JULIAN_RANGE[0] <= v <= JULIAN_RANGE[1]:
            ms = math.floor(v * 86400000.0 + 0.5)
            if ms / 86400000.0 != v:
                return no_meaning(f"{v!r} is no whole number of milliseconds as a Julian day")
        if cls in ("integer", "real"):
            return epoch_expect(v)
        if cls == "text" and text is not None:
            micros, why = iso_micros(text)
            number = float(text) if DECIMAL_LITERAL.fullmatch(text.strip(" \t\n\v\f\r")) else None
            if micros is None and number is not None and JULIAN_RANGE[0] <= number <= JULIAN_RANGE[1]:
                # SQLite's date functions read it as a Julian day; a unix-time column need not: either is right
                julian = epoch_expect(number)
                return Expect(julian.matches, True, "a number as text", canon=julian.canon)
            if micros is None:
                return no_meaning(why)
            return Expect(lambda x: x == micros, implausible(micros), "outside the plausible years 1900-2200", canon=micros)
        return no_meaning(f"a {cls} is not a date and time", cls == "blob")
    if base == "date":
        if cls == "text" and text is not None:
            m = re.fullmatch(r"([0-9]{4}-[0-9]{2}-[0-9]{2})[T \t\n\v\f\r]*(?:00:00(?::00(?:\.0+)?)?[ \t\n\v\f\r]*"
                             r"(?:[Zz]|[+-]00:00)?[ \t\n\v\f\r]*)?", text)
            if m:
                try:
                    days = (date.fromisoformat(m.group(1)) - date(1970, 1, 1)).days
                except ValueError:
                    return no_meaning("not a calendar date")
                return Expect(lambda x: x == days, canon=days)
            return no_meaning("not a date (or a date with a time of day)")
        return no_meaning(f"a {cls} is not a date", cls == "blob")
    if base in ("jsonb", "json"):
        if cls == "text" and text is not None:
            try:
                tree = json_tree(text, jsonb=base == "jsonb")
            except (ValueError, RecursionError) as exc:
                return no_meaning(f"not JSON {base} can hold ({exc})")
            return Expect(lambda x: _json_equal(x, tree, jsonb=base == "jsonb"))
        if cls == "integer":
            return Expect(lambda x: _json_equal(x, ("number", Decimal(v).normalize() if v else Decimal(0))))
        if cls == "real" and math.isfinite(v):
            return Expect(lambda x: x is not None and _json_number(x) == v)
        return no_meaning(f"a {cls} is not JSON", cls == "blob")
    if base == "bytea":
        if cls == "blob":
            return exactly(bytes(v))
        if cls == "text":  # its bytes as SQLite holds them: bad_text is for text columns
            return exactly(bytes(v))
        if cls == "integer":
            return exactly(str(v).encode())
        return Expect(lambda x: isinstance(x, bytes) and _float_bytes(x) == v)
    if base in ("text", "character varying", "character", "varchar", "char"):
        limit = re.search(r"\((\d+)\)", t)
        if cls == "text":
            s = replaced(v)
            if limit and len(s) > int(limit.group(1)):
                return no_meaning(f"longer than {limit.group(1)} characters")
            if base in ("character", "char"):
                return Expect(lambda x: isinstance(x, str) and x.rstrip(" ") == s.rstrip(" "), canon=s.rstrip(" "))
            return Expect(lambda x: x == s, canon=s)
        if cls == "integer":
            return exactly(str(v))
        if cls == "real":
            return Expect(lambda x: isinstance(x, str) and float_text(x) == v)
        return no_meaning("a BLOB is not text", True)
    if base == "uuid":
        if cls == "text" and text is not None:
            try:
                u = str(uuid.UUID(text.strip()))
            except ValueError:
                return no_meaning("not a UUID")
            return exactly(u)
        return no_meaning(f"a {cls} is not a UUID", cls == "blob")
    return no_meaning(f"the oracle does not know {t}")


def _json_equal(target_text: Any, tree, jsonb: bool = True) -> bool:
    if not isinstance(target_text, str):
        return False
    try:
        return json_tree(target_text, jsonb) == tree
    except ValueError:
        return False


def _json_number(target_text: str) -> float | None:
    try:
        tree = json_tree(target_text)
    except ValueError:
        return None
    return float(tree[1]) if tree[0] == "number" else None


def _float_bytes(b: bytes) -> float | None:
    try:
        return float_text(b.decode())
    except UnicodeDecodeError:
        return None


# --- the oracle: reading both sides ------------------------------------------------------------------


@dataclass
class SourceColumn:
    name: str
    declared: str
    notnull: bool
    default: str | None
    pk: int
    strict: bool = False  # of a STRICT table, where ANY keeps every value as given, as BLOB affinity does

    @property
    def affinity(self) -> str:
        return "BLOB" if self.strict and self.declared.upper() == "ANY" else affinity(self.declared)


@dataclass
class SourceRow:
    keys: set[str]  # how a reject may name it: its rowid, or its quoted primary key values
    values: list[tuple[str, Any]]  # (typeof, value); text and blobs as bytes
    label: str  # for messages


@dataclass
class SourceTable:
    name: str
    columns: list[SourceColumn]
    without_rowid: bool
    rows: list[SourceRow]
    uniques: list[tuple[str, ...]]  # UNIQUE constraints and unique indexes, column names

    @property
    def primary_key(self) -> list[str]:
        return [c.name for c in sorted((c for c in self.columns if c.pk), key=lambda c: c.pk)]


def read_source(path: Path) -> list[SourceTable]:
    """Every table, column and row of the SQLite file, through SQLite itself (read-only)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    con.text_factory = bytes
    try:
        out = []
        names = [r[0].decode() for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]
        for name in names:
            lit = "'" + name.replace("'", "''") + "'"
            cols = [SourceColumn(n.decode(), (t or b"").decode(), bool(nn), d.decode() if d is not None else None, pk)
                    for _, n, t, nn, d, pk in con.execute(f"SELECT * FROM pragma_table_info({lit})")]
            without_rowid, strict = (bool(x) for x in con.execute(f"SELECT wr, strict FROM pragma_table_list({lit})").fetchone())
            for c in cols:
                c.strict = strict
            uniques = []
            for (index, unique, partial) in con.execute(f"SELECT name, \"unique\", partial FROM pragma_index_list({lit})"):
                if unique and not partial:
                    ilit = "'" + index.decode().replace("'", "''") + "'"
                    uniques.append(tuple(r[0].decode() for r in con.execute(
                        f"SELECT name FROM pragma_index_info({ilit}) ORDER BY seqno")))
            pk = [c.name for c in sorted((c for c in cols if c.pk), key=lambda c: c.pk)]
            by_position = [c.name for c in cols if c.pk]
            selects = []
            for c in cols:
                selects += [f"typeof({q(c.name)})", q(c.name)]
            selects += ["CAST(rowid AS TEXT)" if not without_rowid else "NULL"]
            for c in by_position:
                selects.append(f"quote({q(c)})")
            rows = []
            for r in con.execute(f"SELECT {', '.join(selects)} FROM {q(name)}"):
                n = len(cols)
                values = [(r[2 * i].decode(), r[2 * i + 1]) for i in range(n)]
                keys = {r[2 * n].decode()} if r[2 * n] is not None else set()
                literal = {c: key_literal(values[[x.name for x in cols].index(c)], r[2 * n + 1 + k])
                           for k, c in enumerate(by_position)}
                for order in (pk, by_position):
                    if order:
                        keys.add(",".join(literal[c] for c in order))
                label = sorted(keys)[0] if keys else "?"
                rows.append(SourceRow(keys, values, label))
            out.append(SourceTable(name, cols, without_rowid, rows, uniques))
        return out
    finally:
        con.close()


def key_literal(value: tuple[str, Any], quoted: bytes) -> str:
    """A primary key value as the rejects name it (README, "Rejected rows"): SQLite's `quote()`, but
    text holding a NUL or a byte beyond ASCII as `CAST(X'..' AS TEXT)` (quote() stops at a NUL)."""
    cls, v = value
    if cls == "text" and any(b == 0 or b >= 0x80 for b in v):
        return f"CAST(X'{v.hex().upper()}' AS TEXT)"
    return quoted.decode()


def default_value(declared: str, default_sql: str) -> tuple[str, Any]:
    """(typeof, value) SQLite stores for a column's DEFAULT, with the column's affinity applied: the
    default inserted into a table of the same declaration, in memory."""
    con = sqlite3.connect(":memory:")
    con.text_factory = bytes
    try:
        con.execute(f"CREATE TABLE d (c {declared} DEFAULT ({default_sql}))")
        con.execute("INSERT INTO d DEFAULT VALUES")
        cls, value = con.execute("SELECT typeof(c), c FROM d").fetchone()
        return cls.decode(), value
    finally:
        con.close()


def time_dependent(default_sql: str) -> bool:
    return bool(re.search(r"now|current_|unixepoch\(\s*\)", default_sql, re.I))


@dataclass
class TargetColumn:
    name: str
    pg_type: str
    notnull: bool
    default: str | None  # Postgres expression
    identity: bool


@dataclass
class TargetTable:
    name: str
    columns: list[TargetColumn]
    rows: list[list[Any]]
    primary_key: tuple[str, ...]
    uniques: list[tuple[str, ...]]

    def column(self, name: str) -> TargetColumn | None:
        return next((c for c in self.columns if c.name == name), None)


def target_reader(col: str, pg_type: str):
    """(SQL that reads a column exactly, a function that turns what psycopg returns into the form
    `expect` compares with)."""
    from psycopg import sql

    ident = sql.Identifier(col)
    base = re.sub(r"\(.*\)", "", pg_type).strip()
    if base.startswith("timestamp"):
        expr = sql.SQL("CASE WHEN {c} IS NULL THEN NULL WHEN isfinite({c}) THEN "
                       "((extract(epoch FROM {c}) * 1000000)::numeric(40,0))::text ELSE {c}::text END").format(c=ident)
        return expr, lambda x: None if x is None else int(x) if re.fullmatch(r"-?\d+", x) else x
    if base == "date":
        expr = sql.SQL("CASE WHEN {c} IS NULL THEN NULL WHEN isfinite({c}) THEN ({c} - DATE '1970-01-01')::text "
                       "ELSE {c}::text END").format(c=ident)
        return expr, lambda x: None if x is None else int(x) if re.fullmatch(r"-?\d+", x) else x
    if base in ("jsonb", "json", "uuid") or base not in (
            "bigint", "integer", "smallint", "double precision", "real", "numeric", "boolean", "bytea", "text",
            "character varying", "character"):
        return sql.SQL("{}::text").format(ident), lambda x: x
    if base == "bytea":
        return ident, lambda x: None if x is None else bytes(x)
    return ident, lambda x: x


def read_target(conn, schema: str, table: str) -> TargetTable | None:
    from psycopg import sql

    cols = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), "
        "a.attidentity <> '' FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid "
        "AND d.adnum = a.attnum WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum", [schema, table]).fetchall()
    if not cols:
        return None
    columns = [TargetColumn(*c) for c in cols]
    readers = [target_reader(c.name, c.pg_type) for c in columns]
    rows = [[convert(x) for (_, convert), x in zip(readers, r)] for r in conn.execute(
        sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(e for e, _ in readers),
                                            sql.Identifier(schema, table))).fetchall()]
    indexes = conn.execute(
        "SELECT i.indisprimary, i.indisunique, array(SELECT pg_get_indexdef(i.indexrelid, k, true) "
        "FROM generate_series(1, i.indnkeyatts) k), i.indpred IS NOT NULL "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s", [schema, table]).fetchall()
    # a key column by its name; a json column under a unique index is keyed on its text, `(tags)::text`
    # (json has no equality; its text is compared as SQLite's BINARY compares it)
    json_columns = {c.name for c in columns if c.pg_type == "json"}

    def key_name(e: str) -> str:
        m = re.fullmatch(r'"?([^"():]+)"?::text', re.sub(r"[()]", "", e))  # (tags)::text, (tags::text)
        return m.group(1) if m and m.group(1) in json_columns else e.strip('"')

    indexes = [(primary, unique, [key_name(e) for e in cols_], partial) for primary, unique, cols_, partial in indexes]
    pk = next((tuple(cols_) for primary, _, cols_, _ in indexes if primary), ())
    uniques = [tuple(cols_) for _, unique, cols_, partial in indexes if unique and not partial]
    return TargetTable(table, columns, rows, pk, uniques)


def target_default(conn, pg_type: str, expr: str) -> Any:
    """The value a Postgres DEFAULT gives a column of `pg_type`, read as `read_target` reads it."""
    from psycopg import sql

    reader, convert = target_reader("c", pg_type)
    with conn.transaction(force_rollback=True):
        conn.execute(sql.SQL("CREATE TEMP TABLE fuzz_default (c {} DEFAULT {})").format(sql.SQL(pg_type), sql.SQL(expr)))
        conn.execute("INSERT INTO fuzz_default DEFAULT VALUES")
        return convert(conn.execute(sql.SQL("SELECT {} FROM fuzz_default").format(reader)).fetchone()[0])


def rejects_of(conn, run: str) -> list[dict]:
    if conn.execute("SELECT to_regclass('_sqlite2neon.rejects')").fetchone()[0] is None:
        return []
    rows = conn.execute("SELECT table_name, source_key, column_name, original_value, reason "
                        "FROM _sqlite2neon.rejects WHERE run = %s", [run]).fetchall()
    return [dict(zip(("table", "key", "column", "value", "reason"), r)) for r in rows]


# --- the oracle: judging a run -------------------------------------------------------------------------


@dataclass
class Finding:
    """One way the runbook broke its promise (or, with `detected`, a difference its verdict owned up to)."""

    kind: str
    table: str
    detail: str
    column: str = ""
    key: str = ""
    pg_type: str = ""
    source: tuple[str, Any] | None = None  # (typeof, value)
    target: Any = None
    affinity: str = ""
    known: str = ""  # the issue-12 fault this is an instance of, if any
    label: str = ""  # a word or two for the signature of a finding without a value

    @property
    def signature(self) -> str:
        """What kind of fault this is, for counting and naming saved databases:
        `silent_change-millis_read_as_seconds`, `needless_reject-text-blob`, `schema_loss-DEFAULT`."""
        if self.known:
            return f"{self.kind}-{self.known}"
        parts = [self.kind]
        if self.pg_type:
            parts.append(re.sub(r"\(.*\)", "", self.pg_type).strip().replace(" ", "_"))
        if self.label:
            parts.append(self.label)
        elif self.source:
            parts.append(self.source[0])
        elif self.detail:
            parts.append(re.sub(r"\W+", "_", self.detail.split(" ")[0]).strip("_") or "x")
        return "-".join(parts)

    def line(self) -> str:
        where = self.table + (f".{self.column}" if self.column else "") + (f" key {self.key}" if self.key else "")
        src = f" SQLite {show(self.source)}" if self.source else ""
        tgt = f" -> Postgres {self.target!r}" if self.source else ""
        typ = f" [{self.pg_type}]" if self.pg_type else ""
        return f"{self.kind}{f' ({self.known})' if self.known else ''}: {where}{typ}:{src}{tgt} {self.detail}".strip()


def show(value: tuple[str, Any] | None) -> str:
    if value is None:
        return ""
    cls, v = value
    if cls == "text":
        return f"text {replaced(v)!r}" + ("" if decoded(v) is not None else f" (bytes {bytes(v)!r})")
    if cls == "blob":
        return f"blob x'{bytes(v).hex()}'"
    return f"{cls} {v!r}"


SEVERITY = ["silent_change", "silent_loss", "silent_extra", "schema_loss", "crash", "needless_reject", "false_alarm",
            "false_loss", "needless_loss", "bad_reject_record"]


@dataclass
class Report:
    outcome: Outcome
    findings: list[Finding]
    detected: list[Finding]  # differences a failed run owned up to (not failures)
    tables: int = 0
    rows: int = 0
    seconds: float = 0.0

    @property
    def failures(self) -> list[Finding]:
        """The findings, worst first."""
        return sorted(self.findings, key=lambda f: SEVERITY.index(f.kind) if f.kind in SEVERITY else len(SEVERITY))

    def unknown(self) -> list[Finding]:
        """Failures that are not one of the faults the library still has (KNOWN_FAULTS)."""
        return [f for f in self.findings if f.known not in KNOWN_FAULTS]

    def describe(self, findings: list[Finding] | None = None) -> str:
        findings = self.findings if findings is None else findings
        head = (f"verdict {'passed' if self.outcome.passed else 'failed'}"
                + (f" (stopped at the plan on {', '.join(self.outcome.stopped_at_plan)})" if self.outcome.stopped_at_plan else "")
                + (f"; error {type(self.outcome.error).__name__}: {self.outcome.error}" if self.outcome.error else ""))
        return head + "".join(f"\n  {f.line()}" for f in findings[:20]) + (
            f"\n  ... and {len(findings) - 20} more" if len(findings) > 20 else "")


def _matching(n_src: int, n_tgt: int, ok: Callable[[int, int], bool]) -> dict[int, int]:
    """A maximum matching of source rows to target rows over `ok` (Kuhn's augmenting paths)."""
    edges = [[j for j in range(n_tgt) if ok(i, j)] for i in range(n_src)]
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in edges[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in range(n_src):
        augment(i, set())
    return {i: j for j, i in owner.items()}


def judge(sqlite_path: Path, database_url: str, outcome: Outcome) -> Report:
    """Everything the oracle checks about one run (see the module's docstring)."""
    import psycopg

    from sqlite2neon.errors import RunbookError

    findings: list[Finding] = []
    problems: list[Finding] = []  # what did not arrive and was not accepted: the verdict must be "failed"
    source_tables = read_source(sqlite_path)
    losses = (outcome.plan or {}).get("losses", [])
    listed = {(x["kind"], x["name"].lower()) for x in losses}
    accepted_value_columns = {x["name"].lower() for x in losses if x["kind"] == "value"}
    if outcome.error is not None and not isinstance(outcome.error, RunbookError):
        import traceback

        where = traceback.extract_tb(outcome.error.__traceback__)[-1]
        findings.append(Finding("crash", "", f"{type(outcome.error).__name__}: {outcome.error} "
                                f"(at {Path(where.filename).name}:{where.lineno} {where.name})",
                                label=f"{type(outcome.error).__name__}_{where.name}"))
    with psycopg.connect(database_url, autocommit=True) as conn:
        rejects = rejects_of(conn, outcome.run)
        errored: list[Finding] = []  # after an error, what is missing is its consequence, not news
        lossy: set[str] = set()  # table.column where some value does not arrive as it is (or has no faithful value)
        for st_ in source_tables:
            tt = read_target(conn, outcome.schema, st_.name.lower())
            problems += _judge_table(conn, st_, tt, [r for r in rejects if r["table"] == st_.name.lower()],
                                     listed, accepted_value_columns, errored if outcome.error else findings, lossy)
        findings += _judge_losses(conn, outcome, source_tables, losses, lossy if outcome.error is None else None)
    # the verdict against what the oracle found
    if outcome.passed:
        for p in problems:
            findings.append(dataclasses.replace(p, kind={"changed": "silent_change", "missing": "silent_loss",
                                                         "unexpected": "silent_extra"}.get(p.kind, p.kind)))
        detected = []
    elif outcome.error is not None:
        # with fail_on_rejects false a value that cannot arrive is a reject, never a stop: an error
        # is a false alarm (a crash already says so)
        detected = problems + errored
        if not any(f.kind == "crash" for f in findings):
            words = re.findall(r"[a-z_]+", str(outcome.error).lower())[:2]
            findings.append(Finding("false_alarm", "", f"the run stopped with an error: {type(outcome.error).__name__}: "
                                    f"{str(outcome.error)[:300]}", label="_".join([type(outcome.error).__name__, *words])))
    else:
        detected = problems
        if not problems:
            findings.append(Finding("false_alarm", "", "verification failed although everything arrived: "
                                    + _verify_failures(outcome.verify), label="verify"))
    for f in findings:
        f.known = known_fault(f)
    # two text keys that bad_text makes one (x'ff' and x'80' are both U+FFFD): verification's drill-down
    # shows another row's values, so what it reports explains nothing
    twins = {t.name.lower() for t in source_tables if _keys_collide(t)}
    for f in findings:
        if f.kind == "false_alarm" and f.label == "verify" and not f.known and twins and "\ufffd" in f.detail and all(
                t in twins for t in re.findall(r"(?:^|; )(\w+): \d+\+? row\(s\) differ", f.detail.split("arrived: ", 1)[-1])):
            f.known = "keys_equal_after_bad_text_confuse_verify"
    cut = {f.table for f in findings if f.known == "reject_key_cut_at_nul"}
    for f in findings:  # a row the ambiguous reject also names is left out of SQLite's side
        if f.kind == "false_alarm" and f.label == "verify" and not f.known and cut and not re.search(
                r"\b(missing|changed)\b", f.detail) and all(re.search(rf"\b{re.escape(t.lower())}: ", f.detail) for t in cut):
            f.known = "reject_key_cut_at_nul"
    return Report(outcome, findings, detected, len(source_tables), sum(len(t.rows) for t in source_tables))


def _keys_collide(table: SourceTable) -> bool:
    """Two rows whose primary keys are one text once bad_text replaced NUL and invalid UTF-8."""
    positions = [i for i, c in enumerate(table.columns) if c.pk]
    if not positions:
        return False
    seen = set()
    for row in table.rows:
        key = tuple(replaced(v) if cls == "text" else (cls, v) for cls, v in (row.values[i] for i in positions))
        if key in seen:
            return True
        seen.add(key)
    return False


def _verify_failures(result) -> str:
    """Every difference verification listed (up to 100 a table), in the words of its one-line error."""
    out = []
    for t in (t for t in result.tables if not t.passed):
        if t.problem:
            out.append(f"{t.target}: {t.problem}")
            continue
        rows = []
        for d in t.differences:
            cols = ", ".join(f"{c['column']} (SQLite {c['source']!r}, Postgres {c['target']!r})" for c in d["columns"])
            rows.append(f"key {d['key']} {d['kind']}" + (f": {cols}" if cols else ""))
        more = t.differences_total - len(rows)
        out.append(f"{t.target}: {t.differences_total} row(s) differ: " + "; ".join(rows) + (f"; and {more} more" if more > 0 else ""))
    return "; ".join(out)


def _judge_table(conn, st_: SourceTable, tt: TargetTable | None, rejects: list[dict], listed: set,
                 accepted_value_columns: set[str], findings: list[Finding], lossy: set[str]) -> list[Finding]:
    problems: list[Finding] = []
    name = st_.name.lower()
    if tt is None:
        if st_.rows:
            problems.append(Finding("missing", st_.name, f"the table is not in the target ({len(st_.rows)} rows)"))
        findings.append(Finding("schema_loss", st_.name, "the table is not in the target"))
        return problems
    index = {}  # source column -> target column
    for i, c in enumerate(st_.columns):
        tc = tt.column(c.name.lower())
        if tc is None:
            findings.append(Finding("schema_loss", st_.name, "column not in the target", c.name))
        else:
            index[i] = (tt.columns.index(tc), tc)
    findings += _judge_schema(conn, st_, tt, index, listed)
    # expectations, once per source value
    expectations = [[expect(cls, v, index[i][1].pg_type) if i in index else None for i, (cls, v) in enumerate(r.values)]
                    for r in st_.rows]
    for row_expectations in expectations:
        lossy.update(f"{name}.{st_.columns[i].name.lower()}" for i, e in enumerate(row_expectations) if e and e.reject_ok)
    # rejects: each names a source row, with a reason, and is justified
    rejected: set[int] = set()

    def in_target(k: int) -> bool:
        return any(all(e is None or e.matches(trow[index[i][0]]) for i, e in enumerate(expectations[k])) for trow in tt.rows)

    for rej in rejects:
        hit = [k for k, r in enumerate(st_.rows) if rej["key"] in r.keys and k not in rejected]
        if len(hit) > 1:
            # a key that names several rows (quote() stops at a NUL): the rejected one is not in the target
            findings.append(Finding("bad_reject_record", st_.name, f"the reject's key {rej['key']!r} names {len(hit)} "
                                    "source rows: which one was rejected cannot be told", key=str(rej["key"]),
                                    label="ambiguous_key"))
            hit = [k for k in hit if not in_target(k)][:1] or hit[:1]
        if not hit or not rej["reason"]:
            findings.append(Finding("bad_reject_record", st_.name, f"reject {rej} names no source row or has no reason",
                                    key=str(rej["key"])))
            continue
        for k in hit:
            rejected.add(k)
            # what a rejected row's values would have become is unknown: a listed loss of any of them may be real
            lossy.update(f"{name}.{c.name.lower()}" for c, (cls, _) in zip(st_.columns, st_.rows[k].values) if cls != "null")
            if f"{name}.{(rej.get('column') or '').lower()}" in accepted_value_columns:
                continue  # the plan listed this column's values as a loss, and it was accepted
            finding = _judge_reject(st_, tt, index, st_.rows[k], expectations[k], rej)
            if finding:
                findings.append(finding)
    # the rows that loaded: a maximum matching over "every column means the same"
    live = [k for k in range(len(st_.rows)) if k not in rejected]

    def ok(a: int, j: int) -> bool:
        row = tt.rows[j]
        return all(e is None or e.matches(row[index[i][0]]) for i, e in enumerate(expectations[live[a]]))

    matched = _matching(len(live), len(tt.rows), ok)
    free = [j for j in range(len(tt.rows)) if j not in set(matched.values())]
    key_positions = [i for i, c in enumerate(st_.columns) if c.pk and i in index]

    def changes(k: int, j: int) -> list[Finding]:
        row, out = st_.rows[k], []
        for i, e in enumerate(expectations[k]):
            if e is None or e.matches(tt.rows[j][index[i][0]]):
                continue
            col = st_.columns[i]
            lossy.add(f"{st_.name}.{col.name}".lower())
            if f"{st_.name}.{col.name}".lower() not in accepted_value_columns:
                out.append(Finding("changed", st_.name, e.why and f"(it has no value in this type: {e.why})", col.name,
                                   row.label, index[i][1].pg_type, row.values[i], tt.rows[j][index[i][0]], col.affinity))
        return out

    def same_key(k: int, j: int) -> bool:
        return all(expectations[k][i].matches(tt.rows[j][index[i][0]]) for i in key_positions)

    def score(k: int, j: int) -> tuple[int, int]:
        """Rows that mean the same are interchangeable, so which one "changed" is a choice: the one
        whose change is a known fault, then the one with the fewest columns changed."""
        found = changes(k, j)
        return sum(bool(known_fault(dataclasses.replace(f, kind="silent_change"))) for f in found), -len(found)

    for a in [a for a in range(len(live)) if a not in matched]:
        # the target row it became: same key; without a key, any row left over. The row presented as
        # changed is this one, or a matched one this one could take the place of.
        options = [(a, j) for j in free] + [(b, j) for b, tb in matched.items() if ok(a, tb) for j in free]
        options = [(x, j) for x, j in options if same_key(live[x], j)]
        if not options:
            problems.append(Finding("missing", st_.name, "the row is neither in the target nor rejected",
                                    key=st_.rows[live[a]].label))
            continue
        x, j = max(options, key=lambda o: score(live[o[0]], o[1]))
        if x != a:
            matched[a] = matched.pop(x)
        free.remove(j)
        problems += changes(live[x], j)
    used = set(range(len(tt.rows))) - set(free)
    for j in range(len(tt.rows)):
        if j not in used:
            problems.append(Finding("unexpected", st_.name, f"a target row no source row explains: {tt.rows[j]!r}"))
    return problems


def _judge_reject(st_: SourceTable, tt: TargetTable, index: dict, row: SourceRow, expectations: list[Expect | None],
                  rej: dict) -> Finding | None:
    reasons = []
    for i, e in enumerate(expectations):
        if e is None:
            continue
        pos, tc = index[i]
        cls, v = row.values[i]
        if cls == "null" and tc.notnull:
            reasons.append(("null", i))
        elif e.reject_ok:
            reasons.append(("blob_affinity" if e.class_mismatch and st_.columns[i].affinity == "BLOB" else "value", i))
    if "duplicate key" in (rej["reason"] or ""):
        for cols in tt.uniques:
            positions = [i for i, c in enumerate(st_.columns) if c.name.lower() in cols and i in index]
            if len(positions) == len(cols) and any(
                    all(expectations[i].matches(trow[index[i][0]]) for i in positions) for trow in tt.rows):
                reasons.append(("duplicate", positions[0]))
    if any(kind != "blob_affinity" for kind, _ in reasons):
        return None
    if reasons:
        i = reasons[0][1]
        return Finding("needless_reject", st_.name, f"rejected ({rej['reason']}), but the column has BLOB affinity: "
                       "SQLite lets it hold any value, and the README gives such a column a type that holds them all",
                       st_.columns[i].name, row.label, index[i][1].pg_type, row.values[i], None, "BLOB")
    values = ", ".join(f"{c.name}={show(v)}" for c, v in zip(st_.columns, row.values))
    named = next((i for i, c in enumerate(st_.columns) if c.name.lower() == (rej.get("column") or "") and i in index), None)
    return Finding("needless_reject", st_.name, f"rejected ({rej['reason']}), but every value has a faithful value in "
                   f"its column's type: {values}", rej.get("column") or "", row.label,
                   index[named][1].pg_type if named is not None else "", row.values[named] if named is not None else None,
                   None, st_.columns[named].affinity if named is not None else "")


def _judge_schema(conn, st_: SourceTable, tt: TargetTable, index: dict, listed: set) -> list[Finding]:
    out = []
    name = st_.name.lower()
    pk = tuple(c.lower() for c in st_.primary_key)
    if pk and set(tt.primary_key) != set(pk):
        out.append(Finding("schema_loss", st_.name, f"primary key ({', '.join(pk)}) arrived as ({', '.join(tt.primary_key)})"))
    for cols in st_.uniques:
        lowered = {c.lower() for c in cols}
        if set(pk) == lowered:
            continue
        if not any(set(u) == lowered for u in tt.uniques) and not any(
                kind == "index" and name in item for kind, item in listed):
            out.append(Finding("schema_loss", st_.name, f"UNIQUE ({', '.join(cols)}) did not arrive"))
    for i, c in enumerate(st_.columns):
        if i not in index:
            continue
        tc = index[i][1]
        if (c.notnull or (c.pk and st_.without_rowid)) and not tc.notnull:
            out.append(Finding("schema_loss", st_.name, "NOT NULL did not arrive", c.name))
        if c.default is None or ("default", f"{name}.{c.name.lower()}") in listed:
            continue
        problem, src, tgt = _compare_default(conn, c, tc)
        if problem:
            out.append(Finding("schema_loss", st_.name, problem, c.name, "", tc.pg_type, src, tgt, c.affinity))
    return out


def _compare_default(conn, c: SourceColumn, tc: TargetColumn) -> tuple[str, tuple[str, Any], Any]:
    """("", ...) when the Postgres default gives what SQLite's gives (within two seconds for one that
    reads the clock), else (what differs, SQLite's value, Postgres' value)."""
    src = default_value(c.declared, c.default)
    if tc.default is None:  # no default in Postgres: NULL, as SQLite's DEFAULT NULL
        return ("" if src[0] == "null" else f"DEFAULT {c.default} did not arrive"), src, None
    try:
        tgt = target_default(conn, tc.pg_type, tc.default)
    except Exception as exc:  # a default Postgres cannot evaluate is a default that did not arrive
        return f"DEFAULT {c.default} became {tc.default}, which Postgres cannot evaluate: {exc}", src, None
    if expect(*src, tc.pg_type).matches(tgt) or time_dependent(c.default) and _near(src, tgt, tc.pg_type):
        return "", src, tgt
    if src[0] in ("integer", "real") and tc.pg_type.startswith("timestamp") and isinstance(tgt, int) and any(
            abs(tgt - Decimal(src[1]) * scale) <= 1 for scale in (1_000_000, 1000, 1)) or (
            src[0] in ("integer", "real") and tc.pg_type.startswith("timestamp") and isinstance(tgt, int)
            and abs(tgt - (math.floor(float(src[1]) * 86400000.0 + 0.5) - 210_866_760_000_000) * 1000) <= 1):
        return "", src, tgt  # a number default is read in the column's unit (README), whichever it is
    return f"DEFAULT {c.default} became DEFAULT {tc.default}", src, tgt


def _near(src: tuple[str, Any], tgt: Any, pg_type: str) -> bool:
    """A clock default read at two moments: the same instant within two seconds (a day, for a date),
    whatever form each side gives it (the README: now() on a timestamp column, SQLite's text on a text
    column, numbers on a number column)."""
    a, a_day = _clock(src, "")
    b, b_day = _clock(("target", tgt), pg_type)
    if a is None or b is None:
        return False
    return abs(a - b) <= (86_400_000_000 if a_day or b_day else 2_000_000)


def _clock(value: tuple[str, Any], pg_type: str) -> tuple[int | None, bool]:
    """(microseconds since 1970, whether only the day is known) of a clock reading in any form:
    ISO text or epoch digits, epoch seconds, a Julian day number, timestamptz, date."""
    cls, v = value
    if v is None:
        return None, False
    base = re.sub(r"\(.*\)", "", pg_type).strip()
    if cls == "target" and base.startswith("timestamp") and isinstance(v, int):
        return v, False
    if cls == "target" and base == "date" and isinstance(v, int):
        return v * 86_400_000_000, True
    if isinstance(v, (bytes, str)):
        text = (decoded(v) if isinstance(v, bytes) else v) or ""
        if re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", text):
            v = Decimal(text)
        else:
            micros, _ = iso_micros(text)
            return micros, micros is not None and len(text.strip()) == 10
    if isinstance(v, bool) or not isinstance(v, (int, float, Decimal)):
        return None, False
    number = Decimal(v)
    if 2_000_000 < number < 3_000_000:  # julianday('now')
        return int((number - Decimal("2440587.5")) * 86_400_000_000), False
    return int(number * 1_000_000), False


def _judge_losses(conn, outcome: Outcome, source_tables: list[SourceTable], losses: list[dict],
                  lossy: set[str] | None) -> list[Finding]:
    """Every listed loss is real: what it names exists in the source and did not arrive as it is."""
    out = []
    by_name = {t.name.lower(): t for t in source_tables}
    for loss in losses:
        kind, name = loss["kind"], loss["name"]
        table, _, column = name.partition(".")
        st_ = by_name.get(table.lower())
        col = next((c for c in st_.columns if c.name.lower() == column.lower()), None) if st_ else None
        if kind == "default" and col is not None and col.default is not None:
            tt = read_target(conn, outcome.schema, st_.name.lower())
            tc = tt.column(col.name.lower()) if tt else None
            if tc is None:
                continue  # nothing arrived: the loss is real
            if not _compare_default(conn, col, tc)[0]:
                out.append(Finding("false_loss", st_.name, f"listed {kind}:{name}, but the default arrived", col.name))
            elif not time_dependent(col.default) and _natural(default_value(col.declared, col.default), tc.pg_type):
                out.append(Finding("needless_loss", st_.name, f"listed {kind}:{name} ({loss['reason']}), but SQLite's "
                                   f"DEFAULT {col.default} has a faithful value in {tc.pg_type}", col.name, pg_type=tc.pg_type))
        elif kind == "value" and col is not None:
            if lossy is not None and name.lower() not in lossy:
                out.append(Finding("false_loss", st_.name, f"listed {kind}:{name} ({loss['reason']}), but every value "
                                   "of the column arrived as it is", col.name, label="value"))
        elif kind == "index" and st_ is None:
            continue
        else:
            out.append(Finding("false_loss", table, f"listed {kind}:{name} ({loss['reason']}), which the generated "
                               "database does not have"))
    return out


def _natural(value: tuple[str, Any], pg_type: str) -> bool:
    """A default with a faithful value in `pg_type` that is not a change of kind (digits as bytes)."""
    if value[0] != "blob" and pg_type == "bytea":
        return False
    if value[0] in ("integer", "real") and pg_type.startswith("timestamp"):
        return False  # which unit a number means is the column's to say, and an empty column says none
    return not expect(*value, pg_type).reject_ok


# --- faults the library still has (each has a strict-xfail regression in tests/test_fuzz.py) --------------

# Faults the library has now: name -> (named by issue 12, one line). The suite's fuzz test tolerates
# exactly these (each has a strict-xfail saved database); anything else fails it.
KNOWN_FAULTS = {
}
# Faults fuzzing found that the library no longer has (issue 12 points 1-3, c49c8b6; defaults, 719d1a2):
# their saved databases are plain regressions now, and a finding named so fails the suite again.
FIXED_FAULTS = {
    "millis_read_as_seconds": "issue 12: epoch milliseconds in a DATETIME column that also holds text were read as seconds",
    "decimal_rounded": "issue 12: DECIMAL(5,2) holding 12.345 and 0.1+0.2 arrived as 12.35 and 0.30",
    "blob_column_planned_as_text": "issue 12: a BLOB column holding text and bytes was planned as text, its bytes rejected",
    "iso_nanoseconds_cut": "issue 12: ISO text with nanoseconds was cut to microseconds in silence (now a listed loss)",
    "real_off_by_ulps": "issue 12: DBL_MAX arrived as 1.7976931348623155e308",
    "text_default_cast_fails": "DEFAULT 'x' on a DATE column became 'x'::date and CREATE TABLE failed (now a listed loss)",
    "default_literal_not_translated": "defaults with a faithful value ('5', 1e308, TRUE, 't', x'00ff', 0) were listed as lost",
    "clock_default_changes_kind": "DEFAULT CURRENT_TIMESTAMP on an INTEGER column became epoch seconds (now a listed loss)",
    "keys_equal_after_bad_text_confuse_verify": "a difference showed a rejected row's values when bad_text made its key "
                                                "equal to a loaded row's (test_values.py checks the drill-down directly)",
    "reject_with_invalid_utf8_key_crashes": "a rejected row whose key (or value) is not valid UTF-8 crashes the load with UnicodeDecodeError",
    "invalid_utf8_beside_real_fails_load": "a column holding invalid UTF-8 text and a real stops the load: the UTF-8 repair is handed the real's digits",
    "numeric_column_invalid_utf8_fails_inspect": "a NUMERIC(p,s) column holding text that is not valid UTF-8 stops the inspect step (DuckDB: Invalid unicode)",
    "verify_crashes_on_invalid_utf8_key": "verification crashes (InvalidInputException) when it drills down to rows whose key is not valid UTF-8",
    "reject_key_cut_at_nul": "a WITHOUT ROWID row's key in the rejects is cut at a NUL ('a' for 'a\\0b'): it names several rows, and verification leaves them all out",
    "null_rejected_beside_blobs": "a TEXT column whose only values are BLOBs rejects its NULL rows too ('a text column cannot hold a BLOB')",
    "equal_reals_fail_verification": "a real that arrives exactly fails verification: SQLite's side prints "
                                      "'4.20421503953307039999e+16', Postgres' '4.2042150395330704e+16' (double precision and numeric columns)",
    "numeric_infinity_false_alarm": "an infinite real in a numeric column arrives as Infinity, but verification compares 'Inf' with 'Infinity'",
    "zero_fraction_digits_listed_as_lost": "ISO text whose digits beyond microseconds are zeros ('2000-01-01T00:00:00.0000000') is listed as a loss: the run stops at the plan for nothing",
    "iso_minutes_with_zone_rejected": "ISO text with minutes and a zone but no seconds ('2000-01-01T00:00Z') is rejected as not a date and time",
    "date_column_drops_time": "a DATE column's datetime text ('2091-07-11 13:27') arrives as the date alone, and verification agrees",
    "integer_rounded_to_double": "integers beyond 2^53 in a column planned as double precision are rounded in silence",
    "default_rounded_by_type": "a DEFAULT with more digits than its column's type holds (12.345 on DECIMAL(5,2), 1.5 on an INTEGER column) arrives as is, and Postgres rounds what it stores",
    "rowid_max_breaks_identity": "an INTEGER PRIMARY KEY of 2^63-1 stops the load: setting the identity past it overflows",
    "converted_values_collide_on_unique": "two values SQLite keeps apart that convert to one Postgres value ('a\\0b' and 'a\ufffdb'; 0 and 'f') stop the load at the unique index instead of rejecting a row",
    "blob_beside_unix_times_rejected": "a column without a type holding unix times and a BLOB is planned as timestamptz: the BLOB's row is rejected (the README promises such a column bytea)",
    "duplicate_of_a_rejected_row_rejected": "a row was rejected as the duplicate of a row itself rejected for another "
                                            "unique key (keys were settled one after another, not row by row)",
    "json_repeated_keys_under_unique": "a UNIQUE over a JSON column holding repeated keys (planned json, which has no "
                                       "equality) stopped the load at CREATE UNIQUE INDEX",
    "separator_characters_taken_for_white_space": "the oracle read '\\x1d2' as 2 (Python's strip); the runbook "
                                                  "rejected '\\v5' (Postgres skips a vertical tab)",
    "other_scripts_digits_taken_for_numbers": "the oracle read '\u0cef' as 9 (Python's Decimal); Postgres and the "
                                              "runbook read ASCII digits only",
    "years_outside_the_window_called_false_losses": "the oracle took an instant of the year 2468 for a value that "
                                                    "arrives as it is, but timestamp_years 1900-2200 lists it as a loss",
    "julian_number_text_outside_the_years": "number text in a Julian-day column ('12.345', SQLite's Julian day of "
                                            "4713 BC) loaded without the listed loss numbers outside the years get",
}


def known_fault(f: Finding) -> str:
    """The name of the known fault (KNOWN_FAULTS) a finding is an instance of, or ""."""
    base = re.sub(r"\(.*\)", "", f.pg_type).strip()
    if f.kind == "false_alarm":
        if "setval" in f.detail and "bigint out of range" in f.detail:
            return "rowid_max_breaks_identity"
        if "could not create unique index" in f.detail and "is duplicated" in f.detail:
            return "converted_values_collide_on_unique"
        if f.label == "verify" and re.search(r"key [^;]*\ufffd[^;]* unexpected", f.detail):
            return "reject_key_cut_at_nul"  # the row whose key the reject also names is left out of SQLite's side
        if "fromhex()" in f.detail and "SourceError" in f.detail:
            return "invalid_utf8_beside_real_fails_load"
        if "SQLite could not answer" in f.detail and "Invalid unicode" in f.detail:
            return "numeric_column_invalid_utf8_fails_inspect"
        if "CREATE TABLE" in f.detail and "invalid input syntax for type" in f.detail and "DEFAULT '" in f.detail:
            return "text_default_cast_fails"
        return _printed_alike(f.detail) if f.label == "verify" else ""
    if f.kind == "false_loss" and f.label == "value" and "digits beyond microseconds" in f.detail:
        return "zero_fraction_digits_listed_as_lost"
    if f.kind == "bad_reject_record" and f.label == "ambiguous_key":
        return "reject_key_cut_at_nul"
    if f.kind == "needless_loss" and "listed default:" in f.detail:
        return "default_literal_not_translated"
    if f.kind == "crash" and f.label.startswith("UnicodeDecodeError") and "pyarrow" in f.detail:
        return "reject_with_invalid_utf8_key_crashes"
    if f.kind == "crash" and "Invalid unicode" in f.detail and "reconcile.py" in f.detail:
        return "verify_crashes_on_invalid_utf8_key"
    if f.kind == "schema_loss" and f.source and re.search(r"DEFAULT .*(now|CURRENT_|unixepoch)", f.detail, re.I):
        return "clock_default_changes_kind"
    if f.source is None:
        return ""
    cls, v = f.source
    if f.kind == "silent_change" and base.startswith("timestamp") and cls in ("integer", "real") \
            and isinstance(f.target, int) and math.isfinite(v) and abs(v) >= MILLIS_FROM \
            and abs(f.target - Decimal(v) * 1_000_000) <= 1:
        return "millis_read_as_seconds"
    if f.kind in ("silent_change", "schema_loss") and base == "numeric" and isinstance(f.target, Decimal) \
            and cls in ("real", "text") and _rounded(v if cls == "real" else decoded(v), f.pg_type, f.target):
        return "decimal_rounded" if f.kind == "silent_change" else "default_rounded_by_type"
    if f.kind == "schema_loss" and base in INT_RANGES and cls == "real" and isinstance(f.target, int) \
            and math.isfinite(v) and f.target == round(v):
        return "default_rounded_by_type"
    if f.kind == "needless_reject" and f.affinity == "BLOB" and base == "text" and cls == "blob":
        return "blob_column_planned_as_text"
    if f.kind == "silent_change" and base == "date" and cls == "text" and isinstance(f.target, int):
        m = ISO.fullmatch((decoded(v) or "").strip())
        if m and m.group(4) and (date.fromisoformat(m.group(0)[:10]) - date(1970, 1, 1)).days == f.target:
            return "date_column_drops_time"
    if f.kind == "needless_reject" and cls == "null" and "cannot hold a BLOB" in f.detail:
        return "null_rejected_beside_blobs"
    if f.kind == "needless_reject" and base.startswith("timestamp") and cls == "blob" and f.affinity == "BLOB":
        return "blob_beside_unix_times_rejected"
    if f.kind == "needless_reject" and base.startswith("timestamp") and cls == "text":
        m = ISO.fullmatch((decoded(v) or "").strip())
        if m and m.group(4) and m.group(6) is None and m.group(8):
            return "iso_minutes_with_zone_rejected"
    if f.kind == "silent_change" and base.startswith("timestamp") and cls == "text" and isinstance(f.target, int):
        m = ISO.fullmatch((decoded(v) or "").strip())
        if m and m.group(7) and len(m.group(7)) > 6:
            cut, _ = iso_micros(m.string[:m.start(7)] + m.group(7)[:6] + m.string[m.end(7):])
            if cut is not None and abs(f.target - cut) <= 1:
                return "iso_nanoseconds_cut"
    if f.kind == "silent_change" and base == "double precision" and isinstance(f.target, float):
        if cls == "real" and math.isfinite(v) and math.isfinite(f.target) and abs(f.target - v) <= 2 * math.ulp(v):
            return "real_off_by_ulps"
        if cls == "integer" and f.target == float(v):
            return "integer_rounded_to_double"
    if f.kind == "silent_change" and cls == "real" and math.isfinite(v) and isinstance(f.target, str):
        x = float_text(f.target) if base in ("text", "character varying") else _json_number(f.target)
        if x is not None and abs(x - v) <= 2 * math.ulp(v):
            return "real_off_by_ulps"
    return ""


def _number(text: str) -> Decimal | None:
    """A number as verification prints it: digits, `1.5e+16`, `Inf`/`Infinity`, or canonical `15e-1`."""
    t = text.strip().lower()
    if t in ("inf", "infinity", "-inf", "-infinity"):
        return Decimal(t.replace("infinity", "inf"))
    try:
        return Decimal(t) if DECIMAL_LITERAL.fullmatch(t) else None
    except InvalidOperation:
        return None


def _printed_alike(detail: str) -> str:
    """When every difference verification reported is one number printed two ways, which way:
    `numeric_infinity_false_alarm` ('Inf' / 'Infinity'), else `equal_reals_fail_verification` (two
    texts of one double). Rows without a key show as a missing and an unexpected row whose keys (the
    whole row) differ only so; a long value may be cut short with '...'."""
    kinds: set[str] = set()

    def alike(x: str, y: str) -> bool:
        if x == y:
            return True
        if x.endswith("...") or y.endswith("..."):
            cut, whole = (x, y) if x.endswith("...") else (y, x)
            number = _number(whole)
            if number is None or not number.is_finite():
                return False
            plain = format(Decimal(repr(float(number))), "f")
            ok = plain.startswith(cut[:-3]) or format(number, "f").startswith(cut[:-3])
            kinds.add("equal_reals_fail_verification") if ok else None
            return ok
        a, b = _number(x), _number(y)
        if a is None or b is None:
            return False
        if a.is_infinite() or b.is_infinite():
            kinds.add("numeric_infinity_false_alarm")
            return a == b
        kinds.add("equal_reals_fail_verification")
        if float(a) == float(b):
            return True
        # a row's canonical key drops the exponent's trailing zeros ('1.5e+40' shown as '1.5e+4', e-100 as e-1)
        for zeros in ("0", "00", "000"):
            x0, y0 = (_number(re.sub(r"(e[+-]?\d+)$", rf"\g<1>{zeros}", t)) if "e" in t else None for t in (x, y))
            if x0 is not None and float(x0) == float(b) or y0 is not None and float(a) == float(y0):
                return True
        return False

    items = re.findall(r"key (.*?) (missing|unexpected|changed)(?::|;|$)", detail)
    missing = [k for k, kind in items if kind == "missing"]
    unexpected = [k for k, kind in items if kind == "unexpected"]
    for x, y in re.findall(r"\(SQLite '([^']*)', Postgres '([^']*)'\)", detail):
        if not alike(x, y):
            return ""
    def same_row(m: str, u: str) -> bool:
        a, b = m.split(", "), u.split(", ")
        if len(a) != len(b) and not (m.endswith("...") or u.endswith("...")):
            return False
        return all(alike(x, y) for x, y in zip(a, b))  # a key cut short: its last element is a prefix

    more = sum(int(n) for n in re.findall(r"and (\d+) more", detail))  # differences not shown
    for m in missing:
        match = next((u for u in unexpected if same_row(m, u)), None)
        if match is None:
            more -= 1
            if more < 0:
                return ""
            continue
        unexpected.remove(match)
    if len(unexpected) > max(more, 0) or not kinds:
        return ""
    return "numeric_infinity_false_alarm" if "numeric_infinity_false_alarm" in kinds else "equal_reals_fail_verification"


def _rounded(value: Any, pg_type: str, target: Decimal) -> bool:
    """`target` is `value` rounded to numeric(p,s)'s scale."""
    m = re.search(r"\((\d+),\s*(\d+)\)", pg_type)
    try:
        exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return False
    if not m:
        return False
    step = Decimal(1).scaleb(-int(m.group(2)))
    with localcontext() as ctx:
        ctx.prec = 1000
        return exact.is_finite() and abs(exact) < Decimal(10) ** int(m.group(1)) and target in (
            exact.quantize(step, rounding="ROUND_HALF_EVEN"), exact.quantize(step, rounding="ROUND_HALF_UP"))


# --- one database, end to end ------------------------------------------------------------------------------


_counter = [0]


def check_database(db: Database | str | Path, database_url: str, workdir: Path, *, keep: bool = False) -> Report:
    """Build the database (a Database, a SQL script, or an existing file), migrate it into a schema
    of its own, judge the run, and drop the schema again (unless `keep`)."""
    import psycopg
    from psycopg import sql

    started = time.monotonic()
    _counter[0] += 1
    name = f"f{uuid.uuid4().hex[:10]}"
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if isinstance(db, Path):
        path = db
    else:
        path = build_sqlite(workdir / f"{name}.db", db.script() if isinstance(db, Database) else db)
    run_dir = workdir / f"run-{name}"
    try:
        outcome = run_runbook(path, database_url, run_dir, name)
        report = judge(path, database_url, outcome)
    finally:
        if not keep:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
            shutil.rmtree(run_dir, ignore_errors=True)
            if not isinstance(db, Path):
                path.unlink(missing_ok=True)
    report.seconds = time.monotonic() - started
    return report
