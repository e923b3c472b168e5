"""Step 01, inspect the source: what the SQLite file declares and what it really stores.

The file is opened read-only, always: by Python's sqlite3 (`file:...?mode=ro`) for what only SQLite
knows (the schema SQL, `PRAGMA` answers, the integrity check, orphans), and by DuckDB (`ATTACH ...
(TYPE sqlite, READ_ONLY)`) for the values, whose facts DuckDB computes together, vectorised. Columns
whose DuckDB type lets one storage class only through a typed scan (INTEGER -> BIGINT, TEXT ->
VARCHAR) are read by DuckDB's own parallel scan of the attached table, which raises on any other
value (`_typed_scan`); the other columns, and those of a table whose typed scan raised, by one
`sqlite_query` pass per table (per rowid range of a large table, ranges in parallel) that hands out
each value with its `typeof` (`_scan`).

    >>> profile = inspect_source(Path("data/demo.db"))
    >>> profile.table("mental_items").column("created_at").hints
    ['unix_seconds']
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from .errors import SourceError, one_line

SQLITE_MAGIC = b"SQLite format 3\x00"
STORAGE_CLASSES = ("integer", "real", "text", "blob", "null")
DOUBLE_EXACT = 2 ** 53  # every integer up to this magnitude is a double exactly; some beyond are not
# Plausible epoch values: 2000-01-01 to 2100-01-01, in seconds and in milliseconds.
SECONDS_RANGE = (946_684_800, 4_102_444_800)
MILLIS_RANGE = (SECONDS_RANGE[0] * 1000, SECONDS_RANGE[1] * 1000)
MICROS_RANGE = (SECONDS_RANGE[0] * 1_000_000, SECONDS_RANGE[1] * 1_000_000)
UNIT_SCALE = {"unix_seconds": 1, "unix_millis": 1_000, "unix_micros": 1_000_000}
DEFAULT_YEARS = (1900, 2200)  # instants outside these years are implausible for an app's data
# Julian day numbers, the numbers SQLite's date functions read (https://sqlite.org/lang_datefunc.html
# section 2, format 12) and julianday() writes: days since noon in Greenwich on 24 November 4714 BC.
# 1970-01-01 00:00 UTC is day 2440587.5; SQLite keeps one as whole milliseconds since that epoch
# (date.c: iJD = r*86400000 + 0.5), and reads only numbers from 0 to 5373484.5 (the year 9999).
JULIAN_UNIX_EPOCH = 2440587.5
JULIAN_EPOCH_MS = 210_866_760_000_000  # 1970-01-01 00:00 UTC in SQLite's milliseconds since the Julian epoch
JULIAN_MAX = 5373484.5
JULIAN_RANGE = (2415020.5, 2524958.5)  # 1900-01-01 to 2201-01-01: no unix unit's range comes near
# every unit a number in a timestamp column may be read in
TIME_UNITS = (*UNIT_SCALE, "julian_day")
# SQLite's white space (sqlite3Isspace: C's isspace in the C locale), as an RE2 / Python class
SPACE = "[ \\t\\n\\x0b\\f\\r]"
# a column named like an instant: created_at, createdAt, updated, deleted_on, modified_date, sent_ts; not
# created_by or updated_count, which name who or how many
TIME_NAME = re.compile(r"(_at|_on|_time|_ts|_date|^date|^time|timestamp|^ts|^at|^when)$"
                       r"|^(created|updated|deleted|modified)(at|on|date|time|timestamp)?$", re.I)
BOOL_NAME = re.compile(
    r"^(is|has|can|should|was|allow|use)_|^(resolved|done|completed|archived|active|enabled|disabled|"
    r"deleted|pinned|starred|hidden|read|seen|favou?rite|published|verified|visible|locked)$",
    re.I,
)


@dataclass
class ColumnProfile:
    name: str
    declared_type: str
    duckdb_type: str
    notnull: bool
    default: str | None
    pk_position: int  # 1-based position in the primary key, 0 when not part of it
    storage: dict[str, int] = field(default_factory=dict)  # SQLite typeof -> count
    min: str | None = None
    max: str | None = None
    hints: list[str] = field(default_factory=list)
    nul_values: int = 0  # text values holding a NUL character (Postgres text cannot)
    bad_utf8_values: int = 0  # text values that are not valid UTF-8
    generated: str | None = None  # the SQLite expression of a generated column
    # how SQLite compares its text: BINARY, NOCASE, RTRIM, or the name of a collation the app defines
    # (https://www.sqlite.org/datatype3.html section 7); None: BINARY, the default
    collation: str | None = None
    # numbers (integers and reals) that would be instants outside the plausible years if read in each
    # unit: {"unix_seconds": count, ..., "julian_day": count}, with the first such number as an example;
    # under "text", ISO text whose instant falls outside them
    outside_years: dict[str, int] = field(default_factory=dict)
    outside_example: dict[str, str] = field(default_factory=dict)
    # reals with digits beyond a microsecond when read in each unix unit (1700000000.1234567 as
    # seconds), and under "julian_day" reals that are no whole number of milliseconds as Julian days
    # (`JULIAN_FINER`), with the first such number (its shortest digits) as an example
    finer_than_micros: dict[str, int] = field(default_factory=dict)
    finer_example: dict[str, str] = field(default_factory=dict)
    # ISO text with digits beyond microseconds (timestamptz holds microseconds), and one of them
    sub_microsecond: int = 0
    sub_microsecond_example: str | None = None
    # ISO text with a time of day other than midnight UTC (`ISO_TEXT` but not `DATE_TEXT`), and one of
    # them: a DATE column holding such values is planned as timestamptz
    times_of_day: int = 0
    times_of_day_example: str | None = None
    # for a NUMERIC(p,s)/DECIMAL(p,s) column: [most integer digits, most decimals] among its numbers
    decimal_shape: list[int] | None = None
    # integers beyond 2^53 in magnitude: a double precision column would round them (IEEE 754 doubles
    # hold every integer up to 2^53 exactly, not beyond: PostgreSQL docs, 8.1.3 "Floating-Point Types")
    wide_integers: int = 0
    # JSON text in which one object repeats a key, and one of them: jsonb keeps only the last value of
    # a repeated key (PostgreSQL docs, 8.14 "JSON Types"), json keeps the text as it is
    json_repeated_keys: int = 0
    json_repeated_example: str | None = None
    # JSON text holding a string jsonb cannot hold (the escape \u0000, a surrogate escape without its
    # pair), and one of them: valid JSON that json keeps as written (`json_jsonb_cannot_hold`)
    json_unheld: int = 0
    json_unheld_example: str | None = None

    @property
    def nulls(self) -> int:
        return self.storage.get("null", 0)

    @property
    def stored_classes(self) -> set[str]:
        return {k for k, v in self.storage.items() if v and k != "null"}


@dataclass
class ForeignKey:
    columns: list[str]
    ref_table: str
    ref_columns: list[str]
    on_delete: str
    on_update: str
    orphans: int = 0
    # whether the referenced columns are the parent's primary key or a unique constraint (Postgres
    # requires one: https://www.postgresql.org/docs/current/ddl-constraints.html#DDL-CONSTRAINTS-FK);
    # when not, how many parent rows repeat a key value (0: the data is unique)
    ref_unique: bool = True
    ref_duplicates: int = 0


@dataclass
class IndexProfile:
    """An index, from PRAGMA index_list and index_xinfo (https://www.sqlite.org/pragma.html#pragma_index_xinfo)
    and its CREATE INDEX statement, parsed with sqlglot. The lists run over the key columns, in order:
    `columns` names each (None for an expression: index_xinfo's cid -2), `expressions` holds an
    expression's SQLite SQL (None for a column, or when the statement could not be read), `collations`
    the collation each key compares with (BINARY, NOCASE, RTRIM or the app's), `descending` its order."""

    name: str
    columns: list[str | None]
    unique: bool
    origin: str  # "c" created by CREATE INDEX, "u" UNIQUE constraint, "pk" primary key
    partial: bool
    sql: str | None
    expressions: list[str | None] = field(default_factory=list)
    collations: list[str] = field(default_factory=list)
    descending: list[bool] = field(default_factory=list)
    where: str | None = None  # a partial index's condition, as SQLite SQL


@dataclass
class TableProfile:
    name: str
    sql: str
    rows: int
    without_rowid: bool
    columns: list[ColumnProfile]
    indexes: list[IndexProfile] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)  # CHECK expressions, as SQLite SQL
    notes: list[str] = field(default_factory=list)
    # AUTOINCREMENT: the largest id SQLite ever handed out (sqlite_sequence), deleted rows included;
    # None for a table without AUTOINCREMENT (https://www.sqlite.org/autoinc.html)
    autoincrement_seq: int | None = None
    # a STRICT table (https://www.sqlite.org/stricttables.html): its ANY columns keep every value as given
    strict: bool = False
    # why the CHECK constraints and generated columns' expressions could not be read from the CREATE
    # TABLE statement ("" when they were): the plan lists that as a loss
    unread: str = ""
    # constraints with a conflict clause Postgres has no equivalent of, e.g. "UNIQUE ON CONFLICT REPLACE
    # (column name)" (https://www.sqlite.org/lang_conflict.html)
    conflict_clauses: list[str] = field(default_factory=list)
    # CHECK expression -> rows SQLite holds that break it (written with PRAGMA ignore_check_constraints,
    # or before the CHECK was in the schema): Postgres refuses to add a CHECK over such rows
    check_violations: dict[str, int] = field(default_factory=dict)

    @property
    def primary_key(self) -> list[str]:
        keyed = sorted((c for c in self.columns if c.pk_position), key=lambda c: c.pk_position)
        return [c.name for c in keyed]

    def column(self, name: str) -> ColumnProfile:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


@dataclass
class SourceProfile:
    path: str
    size_bytes: int
    sqlite_version: str
    integrity: str
    tables: list[TableProfile]
    views: list[dict[str, str]] = field(default_factory=list)
    triggers: list[dict[str, str]] = field(default_factory=list)
    # virtual tables (FTS, R*Tree, ...): name, module, sql, shadow tables; not copied as tables
    virtual_tables: list[dict[str, Any]] = field(default_factory=list)
    timestamp_years: list[int] = field(default_factory=lambda: list(DEFAULT_YEARS))  # the plausible window used

    def table(self, name: str) -> TableProfile:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)

    @classmethod
    def from_json(cls, text: str) -> "SourceProfile":
        raw = json.loads(text)
        tables = []
        for t in raw.pop("tables"):
            t["columns"] = [ColumnProfile(**c) for c in t["columns"]]
            t["indexes"] = [IndexProfile(**i) for i in t["indexes"]]
            t["foreign_keys"] = [ForeignKey(**f) for f in t["foreign_keys"]]
            tables.append(TableProfile(**t))
        return cls(tables=tables, **raw)


def sqlite_extension_path() -> Path | None:
    """The sqlite extension shipped by the `duckdb-extension-sqlite-scanner` wheel, if installed."""
    try:
        import duckdb_extension_sqlite_scanner as wheel
    except ImportError:
        return None
    found = sorted(Path(wheel.__file__).parent.glob(f"extensions/v{duckdb.__version__}/*.duckdb_extension"))
    return found[0] if found else None


def duckdb_with_sqlite() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the sqlite extension loaded, from the wheel when it is there."""
    con = duckdb.connect()
    wheel = sqlite_extension_path()
    try:
        if wheel:
            con.execute(f"INSTALL '{wheel}'")
        else:
            con.execute("INSTALL sqlite")
        con.execute("LOAD sqlite")
    except duckdb.Error as exc:
        raise SourceError(
            f"DuckDB could not load its sqlite extension ({str(exc).splitlines()[0]}); "
            f"install the wheel that matches DuckDB {duckdb.__version__}: "
            f"pip install duckdb-extension-sqlite-scanner=={duckdb.__version__}"
        ) from None
    return con


def check_sqlite_file(path: Path) -> None:
    """One-line errors for the usual wrong inputs, before DuckDB sees the file."""
    if not path.exists():
        raise SourceError(f"SQLite file {path} does not exist; set sqlite_path to your app's database file")
    if path.is_dir():
        raise SourceError(f"sqlite_path {path} is a directory, not a SQLite file")
    with open(path, "rb") as fh:
        header = fh.read(100)
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise SourceError(f"{path} is not a SQLite database (its first bytes are not 'SQLite format 3')")


def open_source(path: Path) -> duckdb.DuckDBPyConnection:
    """DuckDB with the SQLite file attached read-only as `src`."""
    path = Path(path)
    check_sqlite_file(path)
    con = duckdb_with_sqlite()
    try:
        con.execute("SET TimeZone = 'UTC'")  # naive source timestamps are read as UTC
        con.execute(f"ATTACH {sql_string(str(path))} AS src (TYPE sqlite, READ_ONLY)")
        con.execute("SELECT count(*) FROM sqlite_query('src', 'SELECT 1 FROM sqlite_master')").fetchone()
    except duckdb.Error as exc:
        raise SourceError(f"cannot read {path} as SQLite: {_explain(exc)}") from None
    return con


def open_sqlite(path: Path) -> sqlite3.Connection:
    """Python's sqlite3 on the file, read-only (`mode=ro`: SQLite never writes it, nor a journal):
    for what only SQLite knows. Its `PRAGMA quick_check` reads a 1M-row file in 0.3 s, against
    several seconds through DuckDB's `sqlite_query`, and each small catalogue query costs microseconds
    rather than DuckDB's milliseconds for opening SQLite again. Safe to use from one thread at a time."""
    from urllib.request import pathname2url

    path = Path(path)
    check_sqlite_file(path)
    try:
        con = sqlite3.connect(f"file:{pathname2url(str(path.resolve()))}?mode=ro", uri=True, timeout=5,
                              isolation_level=None, check_same_thread=False)
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise SourceError(f"cannot read {path} as SQLite: {_explain(exc)}") from None
    return con


def _explain(exc: Exception) -> str:
    """SQLite's error, with what to do about the usual ones."""
    text = one_line(exc, 1)
    if "database is locked" in text:
        return ("it is locked by a program writing to it; close the app that uses it (or copy the file "
                "while the app is closed) and run again")
    if "malformed" in text or "not a database" in text:
        return ("the file is damaged (truncated or corrupted); recover what SQLite can with "
                "`sqlite3 app.db .recover | sqlite3 recovered.db` and migrate recovered.db")
    return text


def sqlite(con: sqlite3.Connection, query: str) -> list[tuple]:
    """Run SQL inside SQLite itself, on a connection from `open_sqlite` (values come back as text,
    NULL as None)."""
    try:
        rows = con.execute(query).fetchall()
    except sqlite3.Error as exc:
        raise SourceError(f"SQLite could not answer {query.split()[0]} ...: {_explain(exc)}") from None
    return [tuple(v if v is None or isinstance(v, str) else str(v) for v in row) for row in rows]


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sqlite_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def duck_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def duckdb_type_for(declared: str) -> str:
    """The type DuckDB's SQLite reader gives a declared type (see FIELD_NOTES)."""
    d = declared.upper()
    if "INT" in d or "BOOL" in d:
        return "BIGINT"
    if any(k in d for k in ("CHAR", "CLOB", "TEXT")):
        return "VARCHAR"
    if d == "" or "BLOB" in d:
        return "BLOB"
    if any(k in d for k in ("REAL", "FLOA", "DOUB", "DEC", "NUM")):
        return "DOUBLE"
    if d == "DATE":
        return "DATE"
    if "TIME" in d:
        return "TIMESTAMP"
    return "VARCHAR"


# Suffixes of the shadow tables SQLite's virtual-table modules keep their data in (FTS3/4/5, R*Tree),
# for a build of SQLite that does not know the module (https://www.sqlite.org/fts5.html section 9,
# https://www.sqlite.org/fts3.html section 9, https://www.sqlite.org/rtree.html section 3.1).
SHADOW_SUFFIXES = ("content", "data", "idx", "docsize", "config", "segments", "segdir", "stat", "node", "parent",
                   "rowid")
_VIRTUAL = re.compile(r"^\s*CREATE\s+VIRTUAL\s+TABLE\s+.*?\bUSING\s+(\w+)", re.I | re.S)


def virtual_tables(master: list[tuple]) -> list[dict[str, Any]]:
    """The virtual tables among sqlite_master's rows (type, name, tbl_name, sql): name, module, sql and
    the names of their shadow tables."""
    tables = [r[1] for r in master if r[0] == "table"]
    out = []
    for kind, name, _, sql in master:
        m = _VIRTUAL.match(sql or "") if kind == "table" else None
        if m:
            shadows = [t for t in tables if t.lower().startswith(name.lower() + "_")
                       and t[len(name) + 1:].lower() in SHADOW_SUFFIXES]
            out.append({"name": name, "module": m.group(1).lower(), "sql": sql, "shadow_tables": shadows})
    return out


def _ordinary_tables(master: list[tuple]) -> list[str]:
    """Tables to migrate: not SQLite's own (sqlite_*), not virtual, not a virtual table's shadow."""
    virtual = virtual_tables(master)
    skip = {v["name"] for v in virtual} | {s for v in virtual for s in v["shadow_tables"]}
    return [r[1] for r in master if r[0] == "table" and not r[1].startswith("sqlite_") and r[1] not in skip]


def table_names(path: Path) -> list[str]:
    """The tables `inspect_source` would migrate (ordinary tables, in schema order)."""
    con = open_sqlite(path)
    try:
        return _ordinary_tables(sqlite(con, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid"))
    finally:
        con.close()


# a table of more rows than this is read in rowid ranges, in parallel (fewer: one pass, in scan order)
SPLIT_ROWS = 200_000


def inspect_source(path: Path, *, tables: list[str] | None = None,
                   years: tuple[int, int] = DEFAULT_YEARS, shaped: frozenset[str] = frozenset()) -> SourceProfile:
    """What the file declares and stores, table by table (opened read-only). `years`: the plausible
    window for instants; numbers that fall outside it in a unit are counted per unit. `shaped`:
    "table.column" names (lower case) whose decimal shape is wanted whatever their declared type (a
    column_overrides type numeric(p,s)). Tables, and the rowid ranges of a table of more than
    `SPLIT_ROWS` rows, are read in parallel (one worker per core), and SQLite's `PRAGMA quick_check`
    (https://www.sqlite.org/pragma.html#pragma_quick_check) beside them. Raises SourceError for a
    damaged file (what the check found, whatever else failed meanwhile), a table filter naming no
    table, or a file without tables."""
    path = Path(path)
    lite = open_sqlite(path)
    with ThreadPoolExecutor(1) as checker:
        check = checker.submit(_quick_check, path)
        try:
            profile = _inspect(path, lite, tables, years, shaped)
        except Exception:
            _passed(path, check.result())
            raise
        finally:
            lite.close()
        _passed(path, check.result())
    return profile


def _quick_check(path: Path) -> list[str]:
    """SQLite's `PRAGMA quick_check` of the file, on a connection of its own: ["ok"] or the problems."""
    lite = open_sqlite(path)
    try:
        return [r[0] for r in sqlite(lite, "PRAGMA quick_check")]
    finally:
        lite.close()


def _passed(path: Path, integrity: list[str]) -> None:
    if integrity != ["ok"]:
        first = " ".join(integrity[0].split())[:160]
        raise SourceError(
            f"{path} failed SQLite's integrity check ({len(integrity)} problem(s), first: {first}); "
            "recover it with `sqlite3 app.db .recover | sqlite3 recovered.db` and migrate recovered.db")


def _inspect(path: Path, lite: sqlite3.Connection, tables: list[str] | None, years: tuple[int, int],
             shaped: frozenset[str]) -> SourceProfile:
    """`inspect_source`'s profile, but for the integrity check: from the catalogue on `lite`, the values
    through DuckDB."""
    version = sqlite(lite, "SELECT sqlite_version()")[0][0]
    master = sqlite(lite, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid")
    names = _ordinary_tables(master)
    if tables:
        missing = sorted(set(tables) - set(names))
        if missing:
            raise SourceError(
                f"table filter names {', '.join(missing)}, not in {path}; its tables: {', '.join(names) or 'none'}"
            )
        names = [n for n in names if n in tables]
    if not names:
        raise SourceError(f"{path} holds no tables to migrate")
    sql_of = {r[1]: r[3] or "" for r in master}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = max(1, min(cores, 8))
    profiles = [_catalogue(lite, name, sql_of[name]) for name in names]
    duck = open_source(path)
    try:
        typed = [_typed_columns(lite, duck, tp) for tp in profiles]
        with ThreadPoolExecutor(workers) as pool:

            def through_sqlite(table: TableProfile, columns: list[int]) -> list:
                if not columns:
                    return []
                classes = _sampled_classes(lite, table)
                return [pool.submit(_scan, duck.cursor(), table, columns, where, years, classes)
                        for where in _rowid_ranges(lite, table, 2 * workers)]

            objects = [pool.submit(_table_objects, path, tp) for tp in profiles]
            fast = [pool.submit(_typed_scan, duck.cursor(), tp, columns, years) if columns else None
                    for tp, columns in zip(profiles, typed)]
            slow = [through_sqlite(tp, [i for i in range(len(tp.columns)) if i not in columns])
                    for tp, columns in zip(profiles, typed)]
            for tp, columns, proven, parts in zip(profiles, typed, fast, slow):
                facts = proven.result() if proven else {}
                if facts is None:  # some value does not fit its column's type: read them as SQLite hands them
                    facts = _merged([p.result() for p in through_sqlite(tp, columns)])
                _apply_facts(lite, tp, {**_merged([p.result() for p in parts]), **facts}, years)
                _decimal_shapes(lite, tp.name, tp.columns, shaped)
            for future in objects:
                future.result()
    finally:
        duck.close()
    if any(r[1] == "sqlite_sequence" for r in master):
        seqs = {name: int(seq) for name, seq in sqlite(lite, "SELECT name, seq FROM sqlite_sequence")}
        for tp in profiles:
            if re.search(r"\bAUTOINCREMENT\b", tp.sql, re.I):
                tp.autoincrement_seq = seqs.get(tp.name, 0)
    views = [{"name": r[1], "sql": r[3]} for r in master if r[0] == "view"]
    triggers = [{"name": r[1], "table": r[2], "sql": r[3]} for r in master if r[0] == "trigger"]
    virtual = virtual_tables(master)
    return SourceProfile(str(path), path.stat().st_size, version, "ok", profiles, views, triggers, virtual,
                         list(years))


def _catalogue(lite: sqlite3.Connection, name: str, sql: str) -> TableProfile:
    """A table as the catalogue declares it: columns (with their collations), options and the
    expressions only its CREATE TABLE statement holds; rows and every value's facts come later."""
    # hidden: 2 for a VIRTUAL generated column, 3 for a STORED one (1: a virtual table's hidden column)
    info = sqlite(lite, f"SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo({sql_string(name)}) WHERE hidden != 1")
    columns = [
        ColumnProfile(
            name=n, declared_type=t or "", duckdb_type=duckdb_type_for(t or ""),
            notnull=nn == "1", default=d, pk_position=int(pk),
        )
        for n, t, nn, d, pk, _ in info
    ]
    # the table's options, as SQLite parsed them (https://www.sqlite.org/pragma.html#pragma_table_list):
    # `WITHOUT ROWID` and `STRICT` may both be given, in either order
    options = sqlite(lite, f"SELECT wr, strict FROM pragma_table_list WHERE schema = 'main' AND name = {sql_string(name)}")
    without_rowid, strict = (options[0][0] == "1", options[0][1] == "1") if options else (False, False)
    _collations(lite, name, columns)
    table = TableProfile(name, sql, 0, without_rowid, columns, strict=strict)
    _read_definition(table, {n for n, *_, hidden in info if hidden in ("2", "3")})
    return table


def _table_objects(path: Path, table: TableProfile) -> None:
    """Indexes, foreign keys (with orphans) and rows breaking each CHECK: on a connection of its own,
    so that tables are read side by side."""
    lite = open_sqlite(path)
    try:
        table.indexes = _indexes(lite, table.name)
        table.foreign_keys = _foreign_keys(lite, table.name)
        table.check_violations = {check: _check_violations(lite, table.name, check) for check in table.checks}
    finally:
        lite.close()


def _rowid_ranges(lite: sqlite3.Connection, table: TableProfile, parts: int) -> list[str]:
    """WHERE clauses splitting a rowid table of more than `SPLIT_ROWS` rows into `parts` ranges of
    rowids, in rowid order (https://www.sqlite.org/rowidtable.html); [""] for one pass over the table:
    a smaller table, a WITHOUT ROWID table, or one whose columns take every name of the rowid."""
    alias = next((a for a in ("rowid", "_rowid_", "oid") if a not in {c.name.lower() for c in table.columns}), None)
    if table.without_rowid or alias is None or parts < 2:
        return [""]
    q = sqlite_ident(table.name)
    if int(sqlite(lite, f"SELECT count(*) FROM {q}")[0][0]) <= SPLIT_ROWS:
        return [""]
    low, high = (int(v) for v in sqlite(lite, f"SELECT min({alias}), max({alias}) FROM {q}")[0])
    step = (high - low) // parts + 1
    bounds = [low + k * step for k in range(parts)] + [high + 1]
    return [f" WHERE {alias} >= {a} AND {alias} < {b}" for a, b in zip(bounds, bounds[1:])]


# DuckDB's type of a column -> the one storage class its typed scan lets through: any other value raises
# "Mismatch Type Error" during the scan (a real, text or BLOB in a BIGINT column; an integer, real or BLOB
# in a VARCHAR one). Text that is not UTF-8 passes into a VARCHAR as it is (DuckDB checks only when a
# value leaves it), so `_typed_once` decodes each. A DOUBLE column takes integers and reals alike, and a
# BLOB, DATE or TIMESTAMP column converts what it reads: theirs prove nothing.
PROVEN_CLASS = {"BIGINT": "integer", "VARCHAR": "text"}


def _typed_columns(lite: sqlite3.Connection, duck: duckdb.DuckDBPyConnection, table: TableProfile) -> list[int]:
    """The columns of `table` (their positions) that `_typed_scan` reads: those DuckDB's scan of the
    attached table types BIGINT or VARCHAR (`PROVEN_CLASS`). None in a WITHOUT ROWID table or one with a
    column named rowid (the typed scan takes its first examples by rowid), nor in a table SQLite reads
    through a covering index (its scan order, which picks the examples of a `sqlite_query` pass, is
    then not rowid order: https://www.sqlite.org/eqp.html)."""
    if table.without_rowid or "rowid" in {c.name.lower() for c in table.columns}:
        return []
    names = ", ".join(sqlite_ident(c.name) for c in table.columns)
    try:
        plan = lite.execute(f"EXPLAIN QUERY PLAN SELECT {names} FROM {sqlite_ident(table.name)}").fetchall()
    except sqlite3.Error:  # e.g. a generated column calling the app's function: `_scan` says so
        return []
    if any("INDEX" in row[-1] for row in plan):
        return []
    try:
        types = dict(duck.execute(f"SELECT column_name, column_type FROM (DESCRIBE src.{duck_ident(table.name)})").fetchall())
    except duckdb.Error:
        return []
    return [i for i, c in enumerate(table.columns) if c.duckdb_type in PROVEN_CLASS and types.get(c.name) == c.duckdb_type]


def _shown(value: bytes | None, stored: set[str]) -> str | None:
    """A min or max value (its bytes) for display: text as text (bad bytes replaced), BLOBs as hex, cut short."""
    if value is None:
        return None
    if stored == {"blob"}:
        return value.hex()[:64]
    text = value.decode("utf-8", errors="replace").replace("\x00", "\\0")
    return text if len(text) <= 60 else text[:57] + "..."


# ISO 8601 text exactly as SQLite's date functions read it (https://www.sqlite.org/lang_datefunc.html
# section 2, "Time Values"; date.c parseYyyyMmDd, parseHhMmSs, parseTimezone): YYYY-MM-DD (month 01-12,
# day 01-31), then any run of `T` and white space, then HH:MM (hour 00-24, 24 being the next day's
# midnight), :SS (00-59), a fraction of any digits, white space, `Z`, `z` or an offset +HH:MM (00-14),
# white space to the end. Nothing may come before the date. Text SQLite's datetime() gives NULL for
# (`+0530`, `+05`, `+24:00`, a lower-case `t`, `10:00:60`, a leading space) matches no part of it.
# RE2 and Python syntax; the groups are year, month, day, hour, minute, second, fraction, Z, offset
# sign, offset hours, offset minutes.
_S = SPACE
ISO_TEXT = (f"^([0-9]{{4}})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T{_S[1:-1]}]*"
            f"(?:([01][0-9]|2[0-4]):([0-5][0-9])(?::([0-5][0-9])(?:\\.([0-9]+))?)?{_S}*"
            f"(?:([Zz])|([+-])(0[0-9]|1[0-4]):([0-5][0-9]))?{_S}*)?$")
ISO_PARTS = ["y", "mo", "d", "h", "mi", "s", "f", "z", "sign", "zh", "zm"]
# ... and those that are a date: a date alone, or at midnight UTC (naive, `Z` or +00:00)
DATE_TEXT = (f"^[0-9]{{4}}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T{_S[1:-1]}]*"
             f"(00:00(:00(\\.0+)?)?{_S}*([Zz]|[+-]00:00)?{_S}*)?$")
# a time of day alone, which SQLite reads on 2000-01-01 (date.c parseHhMmSs)
TIME_ALONE = (f"^([01][0-9]|2[0-4]):[0-5][0-9](:[0-5][0-9](\\.[0-9]+)?)?{_S}*([Zz]|[+-](0[0-9]|1[0-4]):[0-5][0-9])?{_S}*$")
# a number as SQLite's sqlite3AtoF reads a whole text (white space around it allowed), which its date
# functions then take for a Julian day number
NUMBER_TEXT = f"^{_S}*[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?{_S}*$"


def iso_instant(text: str) -> str:
    """DuckDB SQL: the instant (TIMESTAMP, UTC) of text matching `ISO_TEXT`, as SQLite reads it (naive
    text is UTC, hour 24 is the next day's midnight), fraction digits beyond microseconds cut; NULL for
    other text and for a day the calendar has not (2024-06-31, which SQLite would read as 1 July)."""
    # the parts once per value (a lambda over a one-element list): the pattern read for each part would
    # cost ten times as much. Text that does not match gives empty parts, so no day, so NULL.
    part = lambda k: f"coalesce(TRY_CAST(nullif(p.{k}, '') AS BIGINT), 0)"  # noqa: E731
    day = "TRY_CAST(p.y || '-' || p.mo || '-' || p.d AS DATE)"
    fraction = "coalesce(TRY_CAST(rpad(left(nullif(p.f, ''), 6), 6, '0') AS BIGINT), 0)"
    offset = f"(CASE p.sign WHEN '-' THEN -1 ELSE 1 END) * ({part('zh')} * 3600 + {part('zm')} * 60)"
    seconds = f"{part('h')} * 3600 + {part('mi')} * 60 + {part('s')} - {offset}"
    instant = f"make_timestamp(epoch_us(CAST({day} AS TIMESTAMP)) + ({seconds}) * 1000000 + {fraction})"
    parts = f"regexp_extract({text}, {sql_string(ISO_TEXT)}, {ISO_PARTS!r})"
    return f"list_transform([{parts}], lambda p: {instant})[1]"


def iso_datetime(text: str):
    """The instant (an aware datetime, UTC) of text matching `ISO_TEXT`, as `iso_instant` computes it in
    DuckDB: for Python's side (a DEFAULT's value); None for other text or a day the calendar has not."""
    from datetime import datetime, timedelta, timezone

    m = re.fullmatch(ISO_TEXT, text)
    if not m:
        return None
    y, mo, d, h, mi, sec, frac, _, sign, zh, zm = m.groups()
    try:
        day = datetime(int(y), int(mo), int(d), tzinfo=timezone.utc)
    except ValueError:
        return None
    offset = (-1 if sign == "-" else 1) * (int(zh or 0) * 3600 + int(zm or 0) * 60)
    return day + timedelta(seconds=int(h or 0) * 3600 + int(mi or 0) * 60 + int(sec or 0) - offset,
                           microseconds=int((frac or "").ljust(6, "0")[:6]))


def julian_instant(number: str) -> str:
    """DuckDB SQL: the instant (TIMESTAMP, UTC) of a Julian day number (a DOUBLE), as SQLite reads it:
    rounded to whole milliseconds (date.c setRawDateNumber); NULL outside 0 to 5373484.5, which SQLite
    does not read as a time."""
    ms = f"CAST(floor({number} * 86400000.0 + 0.5) AS BIGINT)"
    return (f"CASE WHEN {number} >= 0 AND {number} < {JULIAN_MAX} "
            f"THEN make_timestamp(({ms} - {JULIAN_EPOCH_MS}) * 1000) END")


def unit_seconds(number: float, unit: str) -> float:
    """Unix seconds of a number read in `unit` (one of `TIME_UNITS`); a Julian day as SQLite reads it,
    to the millisecond (https://sqlite.org/lang_datefunc.html, format 12)."""
    if unit == "julian_day":
        import math

        return (math.floor(number * 86400000.0 + 0.5) - JULIAN_EPOCH_MS) / 1000
    return number / UNIT_SCALE[unit]


def unit_window(unit: str, first: int, last: int) -> tuple[float, float]:
    """Unix seconds `first` and `last` as numbers in `unit` (one of `TIME_UNITS`)."""
    if unit == "julian_day":
        return first / 86400 + JULIAN_UNIX_EPOCH, last / 86400 + JULIAN_UNIX_EPOCH
    return first * UNIT_SCALE[unit], last * UNIT_SCALE[unit]


# the most fraction digits a number keeps in each unix unit before it passes a microsecond
UNIT_DECIMALS = {"unix_seconds": 6, "unix_millis": 3, "unix_micros": 0}
# DuckDB SQL: a Julian day {n} (a DOUBLE) that is no whole number of milliseconds. SQLite reads a
# Julian day to the millisecond, and julianday() writes iJD / 86400000.0 for its integer milliseconds
# iJD (https://sqlite.org/lang_datefunc.html; date.c), which this gives back exactly: only other
# numbers lose digits when read.
JULIAN_FINER = "CAST(round({n} * 86400000) AS DOUBLE) / 86400000.0 <> {n}"


def _decimals(number: str) -> str:
    """DuckDB SQL: how many decimals a DOUBLE has when written as its shortest round-trip digits."""
    text = f"CAST({number} AS VARCHAR)"
    mantissa = f"regexp_extract({text}, '^[^eE]*')"
    exponent = f"coalesce(TRY_CAST(regexp_extract({text}, '[eE]([+-]?[0-9]+)$', 1) AS INTEGER), 0)"
    fraction = f"rtrim(regexp_extract({mantissa}, '\\.([0-9]*)$', 1), '0')"
    return f"greatest(length({fraction}) - {exponent}, 0)"


def _scan(cur: duckdb.DuckDBPyConnection, table: TableProfile, columns: list[int], where: str,
          years: tuple[int, int], classes: list[set[str]]) -> dict[str, Any]:
    """One pass over `columns` (positions in `table`) of the rows `where` picks: {"i.kind.fact": value}
    for every column i, each fact an aggregate of `_facts`, merged across passes by its kind
    (`_merged`). `classes`: per column, the storage classes a sample of rows found
    (`_sampled_classes`), whose facts alone are computed; when a column turns out to store another
    class, the pass is made again with every fact of every class. SQLite hands each value out with
    its `typeof`: text and BLOBs as their bytes (DuckDB checks UTF-8 only when a value leaves it, so
    text that is not UTF-8 is counted, and left out of the tests of text, by `decode`), reals as
    printf('%!.20e'), which parses back to the same double (the 17 digits of '%!.17g' do not at the
    extremes)."""
    try:
        register_json_functions(cur)
        facts = _scan_once(cur, table, columns, where, years, classes, exact=False)
        stored = {i: {k for k in STORAGE_CLASSES if facts[f"{i}.n.{k}"]} for i in columns}
        if any(stored[i] - {"null"} - classes[i] for i in columns):
            classes = [set(STORAGE_CLASSES)] * len(table.columns)
            facts = _scan_once(cur, table, columns, where, years, classes, exact=False)
        if _undecided(facts, columns, years):
            facts = _scan_once(cur, table, columns, where, years, classes, exact=True)
        return facts
    except duckdb.Error as exc:
        raise SourceError(f"SQLite could not hand out the values of table {table.name}: {_explain(exc)}") from None
    finally:
        cur.close()


def _scan_once(cur: duckdb.DuckDBPyConnection, table: TableProfile, columns: list[int], where: str,
               years: tuple[int, int], classes: list[set[str]], exact: bool) -> dict[str, Any]:
    handed, derived, aggs = [], [], []
    flags: list[list[str]] = [[], [], [], []]
    for i in columns:
        c = sqlite_ident(table.columns[i].name)
        # a column without reals expected hands its values as they are: a real found there redoes the pass
        value = f"CASE typeof({c}) WHEN 'real' THEN printf('%!.20e', {c}) ELSE {c} END" if "real" in classes[i] else c
        handed += [f"typeof({c}) AS t{i}", f"{value} AS v{i}"]
        derived += [f"t{i}", f"v{i}", *_derived(i, classes[i])]
        for layer, more in zip(flags, _flags(i, years, classes[i])):
            layer += more
        aggs += _facts(i, years, classes[i], exact)
    # a pass over some columns only reads the table's own b-tree, in rowid order, as a pass over all of
    # them does (`_typed_columns`), whichever index holds those few
    indexed = "" if len(columns) == len(table.columns) else " NOT INDEXED"
    query = f"SELECT {', '.join(handed)} FROM {sqlite_ident(table.name)}{indexed}{where}"
    rows = f"SELECT {', '.join(derived)} FROM sqlite_query('src', {sql_string(query)})"
    row = cur.execute(_aggregated(rows, flags, aggs)).fetchone()
    return {"rows.n": row[0], **dict(zip((name for name, _ in aggs), row[1:]))}


def _aggregated(rows: str, flags: list[list[str]], aggs: list[tuple[str, str]]) -> str:
    """DuckDB SQL: count(*) and the aggregates `aggs` over `rows`, with the per-value tests of
    `_flags` computed between, each layer once (a name used in the SELECT list that defines it would
    be recomputed wherever it is used)."""
    for layer in flags:
        if layer:
            rows = f"SELECT *, {', '.join(layer)} FROM ({rows})"
    return f"SELECT count(*), {', '.join(a for _, a in aggs)} FROM ({rows})"


def _typed_scan(cur: duckdb.DuckDBPyConnection, table: TableProfile, columns: list[int],
                years: tuple[int, int]) -> dict[str, Any] | None:
    """The facts of `columns` (positions in `table`, from `_typed_columns`) as `_scan` gives them, read
    by DuckDB's parallel typed scan of the attached table: each value comes as BIGINT or VARCHAR, which
    proves its storage class (`PROVEN_CLASS`), so no `typeof` is handed out with it nor tested; the
    first example of a fact is that of the least rowid, as a `sqlite_query` pass in rowid order gives
    it. None when the scan raised, some value not being of its column's class (the caller then reads
    these columns through `sqlite_query`)."""
    try:
        register_json_functions(cur)
        facts = _typed_once(cur, table, columns, years, exact=False)
        undecided = _undecided(facts, columns, years)
        if undecided:  # those columns' facts again, counted number by number; the others' stand
            facts = {k: v for k, v in facts.items() if k.split(".")[0] not in {str(i) for i in undecided}}
            facts.update(_typed_once(cur, table, undecided, years, exact=True))
        return facts
    except (duckdb.Error, UnicodeError):  # the error names the value, which may not be UTF-8 itself
        return None
    finally:
        cur.close()


def _typed_once(cur: duckdb.DuckDBPyConnection, table: TableProfile, columns: list[int], years: tuple[int, int],
                exact: bool) -> dict[str, Any]:
    read, aggs = ["rowid AS _r"], []
    flags: list[list[str]] = [[], [], [], []]
    for i in columns:
        col = table.columns[i]
        c = duck_ident(col.name)
        kind = PROVEN_CLASS[col.duckdb_type]
        if kind == "text":  # the scan hands out bytes that are not UTF-8 as they are: decode raises on them
            read.append(f"decode(encode({c})) AS x{i}")
        else:
            read += [f"{c} AS v{i}", f"{c} AS iv{i}", f"CAST({c} AS DOUBLE) AS n{i}"]
        for layer, more in zip(flags, _flags(i, years, {kind})):
            layer += more
        aggs += _facts(i, years, {kind}, exact, typed=True)
    rows = f"SELECT {', '.join(read)} FROM src.{duck_ident(table.name)}"
    row = cur.execute(_aggregated(rows, flags, aggs)).fetchone()
    facts = {"rows.n": row[0], **dict(zip((name for name, _ in aggs), row[1:]))}
    _read_examples(cur, table, facts)
    return facts


def _read_examples(cur: duckdb.DuckDBPyConnection, table: TableProfile, facts: dict[str, Any]) -> None:
    """The examples of a typed scan's facts, which it gives as rowids (`_first`): each the value of
    its column in that row, as text (SQLite's own digits for an integer), read in one query."""
    wanted = {name: (int(name.split(".")[0]), rowid) for name, rowid in facts.items()
              if rowid is not None and (".ex." in name or name.endswith(".range.first"))}
    if not wanted:
        return
    columns = sorted({i for i, _ in wanted.values()})
    texts = ", ".join(f"CAST({sqlite_ident(table.columns[i].name)} AS TEXT)" for i in columns)
    rowids = ", ".join(str(r) for r in sorted({r for _, r in wanted.values()}))
    query = f"SELECT rowid, {texts} FROM {sqlite_ident(table.name)} WHERE rowid IN ({rowids})"
    found = {int(row[0]): dict(zip(columns, row[1:]))
             for row in cur.execute(f"SELECT * FROM sqlite_query('src', {sql_string(query)})").fetchall()}
    for name, (i, rowid) in wanted.items():
        facts[name] = found[rowid][i]


def _derived(i: int, classes: set[str]) -> list[str]:
    """DuckDB SQL: column i's value as text (x: NULL for text that is not UTF-8), as an integer (iv)
    and as a number (n), and whether it is a real (r). A column expected to hold one class only skips
    the tests of which class a value is: should it hold another, the pass is made again (`_scan`),
    so that what a value of another class makes of these is never used."""
    if classes == {"text"}:
        return [f"false AS r{i}", f"try(decode(encode(v{i}))) AS x{i}", f"NULL::BIGINT AS iv{i}", f"NULL::DOUBLE AS n{i}"]
    if classes == {"integer"}:  # an integer's double: its digits read as a double round the same way
        return [f"false AS r{i}", f"NULL::VARCHAR AS x{i}", f"TRY_CAST(v{i} AS BIGINT) AS iv{i}",
                f"CAST(TRY_CAST(v{i} AS BIGINT) AS DOUBLE) AS n{i}"]
    return [f"t{i} = 'real' AS r{i}", f"try(decode(encode(CASE WHEN t{i} = 'text' THEN v{i} END))) AS x{i}",
            f"CASE WHEN t{i} = 'integer' THEN CAST(v{i} AS BIGINT) END AS iv{i}",
            f"CASE WHEN t{i} IN ('integer', 'real') THEN TRY_CAST(v{i} AS DOUBLE) END AS n{i}"]


def _sampled_classes(lite: sqlite3.Connection, table: TableProfile, rows: int = 1000) -> list[set[str]]:
    """Per column, the storage classes among the first `rows` rows: which facts a pass computes
    (`_scan` makes it again when the whole table holds more)."""
    found = [set() for _ in table.columns]
    typeofs = ", ".join(f"typeof({sqlite_ident(c.name)})" for c in table.columns)
    for row in set(lite.execute(f"SELECT {typeofs} FROM {sqlite_ident(table.name)} LIMIT {rows}")):
        for seen, kind in zip(found, row):
            seen.add(kind)
    return [seen - {"null"} for seen in found]


def _flags(i: int, years: tuple[int, int], classes: set[str]) -> list[list[str]]:
    """DuckDB SQL: per-value tests of column i that several aggregates share, in layers (each uses
    the ones before), each expensive one (a regex, JSON parsing, a Python function) behind a cheap
    test that every value it can match passes: CASE runs its THEN only on the rows its WHEN picks
    (and an AND there stops at its first false), where AND elsewhere would run both sides on every
    row. The cheap tests are what a value costs when nothing matches, so they are the cheapest DuckDB
    has: the first character's code point (`unicode`, a few nanoseconds), one character searched for."""
    x, n = f"x{i}", f"n{i}"
    first, last = _window_seconds(years)
    at = f"epoch_us({iso_instant(x)})"
    lo, hi = unit_window("julian_day", first, last + 1)
    as_number = f"TRY_CAST(trim({x}, chr(32) || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)) AS DOUBLE)"
    lead = f"lead{i}"  # the first character's code point: -1 for empty text
    # JSON is an array or object: its first character after any spaces is [ or {. ltrim removes the
    # Unicode space separators (U+0020, U+00A0 and some beyond): only text starting with one needs it.
    bracketed = (f"CASE WHEN {lead} = 91 OR {lead} = 123 THEN true "
                 f"WHEN {lead} = 32 OR {lead} >= 160 THEN left(ltrim({x}), 1) IN ('[', '{{') ELSE false END")
    text = [[f"unicode({x}) AS {lead}"], [
        # ISO text starts with four digits and '-' (so does every text `iso` matches)
        f"CASE WHEN {lead} BETWEEN 48 AND 57 THEN regexp_matches({x}, '^\\d{{4}}-[01]\\d-[0-3]\\d') ELSE false END AS isoish{i}",
        # a digit other than 0 beyond the sixth: `.0000000` has none to cut
        f"CASE WHEN contains({x}, ':') THEN regexp_matches({x}, '\\d:\\d\\d:\\d\\d[.,]\\d{{6}}\\d*[1-9]') ELSE false END AS nanos{i}",
        f"CASE WHEN {bracketed} THEN json_valid({x}) ELSE false END AS json{i}",
        # the Python check runs only for text holding \u that may be JSON holding a string: after any
        # white space, a string, an array or an object
        f"CASE WHEN ({lead} BETWEEN 9 AND 13 OR {lead} = 32 OR {lead} = 34 OR {lead} = 91 OR {lead} = 123) "
        f"AND contains({x}, '\\u') THEN json_jsonb_cannot_hold({x}) ELSE false END AS unheld{i}",
        # number text, which a Julian-day column reads as a Julian day (as SQLite's date functions do),
        # starts with white space, a sign, a point or a digit: a character below ':'
        f"CASE WHEN {lead} < 58 AND regexp_matches({x}, {sql_string(NUMBER_TEXT)}) "
        f"THEN {as_number} < {lo} OR {as_number} >= {hi} ELSE false END AS jout{i}",
    ], [
        f"CASE WHEN isoish{i} THEN regexp_matches({x}, {sql_string(ISO_TEXT)}) ELSE false END AS iso{i}",
        # the Python check runs only for JSON holding an object
        f"CASE WHEN json{i} AND contains({x}, '{{') THEN json_repeats_key({x}) ELSE false END AS repeats{i}",
    ], [
        f"CASE WHEN iso{i} THEN NOT regexp_matches({x}, {sql_string(DATE_TEXT)}) ELSE false END AS timed{i}",
        f"CASE WHEN iso{i} THEN ({at} < {first * 1_000_000} OR {at} > {last * 1_000_000 + 999_999}) ELSE false END AS tout{i}",
    ]] if "text" in classes else [[], [], [], []]
    # a real as its shortest digits, how many decimals it has
    numbers = ([f"CASE WHEN r{i} THEN {_decimals(n)} END AS dec{i}",
                f"CASE WHEN r{i} THEN CAST({n} AS VARCHAR) ELSE v{i} END AS shown{i}"] if "real" in classes
               else [f"v{i} AS shown{i}"] if "integer" in classes else [])
    return [text[0], text[1] + numbers, *text[2:]]


def _facts(i: int, years: tuple[int, int], classes: set[str], exact: bool = True,
           typed: bool = False) -> list[tuple[str, str]]:
    """(name, DuckDB aggregate) for column i: storage classes, the extremes of each class, integers
    beyond 2^53, epoch ranges of the numbers (integers and reals alike, whatever else the column
    stores), numbers outside the plausible `years` in each unit and reals with digits beyond a
    microsecond in each, 0/1, JSON, ISO dates (and those outside `years`), digits beyond
    microseconds, NUL characters and invalid UTF-8. Only the facts of the storage `classes` given
    are computed (the others are 0 or None for a column without such values); unless `exact`, the
    numbers' epoch ranges are left to `_undecided`. `typed`: the column holds the one class
    given, read by `_typed_scan` (no `typeof`, valid UTF-8, the first example the least rowid's). A
    name is "i.kind.fact", its kind how passes over parts of the table merge: n (a count: summed),
    lo / hi (an extreme), ex (the first example)."""
    t, v, x, n = f"t{i}", f"v{i}", f"x{i}", f"n{i}"
    if typed:
        v = x if classes == {"text"} else v  # a typed scan's text is read once, decoded
        out = [(f"{i}.n.{k}", f"count({v})") for k in classes] + [(f"{i}.n.null", f"count(*) - count({v})")]
    else:
        out = [(f"{i}.n.{k}", f"count_if({t} = '{k}')") for k in STORAGE_CLASSES]
    if "integer" in classes:
        out += [(f"{i}.lo.integer", f"min(iv{i})"), (f"{i}.hi.integer", f"max(iv{i})"),
                (f"{i}.n.wide", f"count_if(iv{i} > {DOUBLE_EXACT} OR iv{i} < -{DOUBLE_EXACT})")]
    if "real" in classes:
        out += [(f"{i}.lo.real", f"min({n}) FILTER (WHERE r{i})"), (f"{i}.hi.real", f"max({n}) FILTER (WHERE r{i})")]
    # text and BLOBs as BLOBs, which DuckDB orders by their bytes, as SQLite's BINARY does (VARCHAR too)
    out += [(f"{i}.{e}.{k}", f"encode({f}({v}))" if typed else f"{f}(encode({v}))" + ("" if classes == {k} else f" FILTER (WHERE {t} = '{k}')"))
            for k in ("text", "blob") if k in classes for e, f in (("lo", "min"), ("hi", "max"))]

    def counted(name: str, test: str, example: str) -> None:
        out.append((f"{i}.n.{name}", f"count_if({test})"))
        out.append((f"{i}.ex.{name}", _first(test, example, typed)))

    if classes & {"integer", "real"} and exact:
        for unit, (lo, hi), (early, late) in _unit_ranges(years):
            out.append((f"{i}.n.in.{unit}", f"count_if({n} BETWEEN {lo} AND {hi})"))
            counted(f"out.{unit}", f"({n} < {early} OR {n} >= {late})", f"shown{i}")
    elif typed and classes == {"integer"}:  # the same from the integers' own extremes, as doubles round them
        out += [(f"{i}.range.least", f"CAST(min(iv{i}) AS DOUBLE)"), (f"{i}.range.most", f"CAST(max(iv{i}) AS DOUBLE)"),
                (f"{i}.range.count", f"count({v})"), (f"{i}.range.first", _first(f"{v} IS NOT NULL", v, typed))]
    elif classes & {"integer", "real"}:  # the least and greatest number decide most of them (`_undecided`)
        out += [(f"{i}.range.least", f"min({n})"), (f"{i}.range.most", f"max({n})"), (f"{i}.range.count", f"count({n})"),
                (f"{i}.range.first", _first(f"{n} IS NOT NULL", f"shown{i}", typed))]
    if classes & {"integer", "real"}:
        out.append((f"{i}.n.zero_one", f"count_if({f'iv{i}' if typed else n} IN (0, 1))"))
    if "real" in classes:
        for unit, most in UNIT_DECIMALS.items():
            counted(f"finer.{unit}", f"dec{i} > {most}", f"shown{i}")
        counted("finer.julian_day", f"(r{i} AND {JULIAN_FINER.format(n=n)})", f"shown{i}")
    if "text" in classes:
        out += [(f"{i}.n.json", f"count_if(json{i})"), (f"{i}.n.iso", f"count_if(isoish{i})"),
                (f"{i}.n.nul", f"count_if(contains({x}, chr(0)))")]
        if not typed:  # text a typed scan reads is UTF-8
            out.append((f"{i}.n.bad", f"count_if({t} = 'text') - count({x})"))
        for name in ("nanos", "timed", "repeats", "unheld", "tout", "jout"):
            counted(name, f"{name}{i}", x)
    return out


def _first(test: str, example: str, typed: bool) -> str:
    """DuckDB SQL: the example of the first row that passes `test`, in the order SQLite hands the rows
    out, where any_value skips NULLs and one thread reads a `sqlite_query` pass. In a typed scan, which
    DuckDB reads in parallel, the least rowid of such a row (the example being the column's value,
    `_read_examples` reads it there): cheaper than carrying a string along each row."""
    return f"min(CASE WHEN {test} THEN _r END)" if typed else f"any_value(CASE WHEN {test} THEN {example} END)"


def _unit_ranges(years: tuple[int, int]) -> list[tuple[str, tuple[float, float], tuple[float, float]]]:
    """Per unit of `TIME_UNITS`: its plausible range (numbers in it fit the unit, bounds included) and
    the plausible `years` in it (numbers before the first bound or from the second on fall outside)."""
    first, last = _window_seconds(years)
    return [(unit, fits, unit_window(unit, first, last + 1))  # to the end of the last year's last second
            for unit, fits in zip(TIME_UNITS, (SECONDS_RANGE, MILLIS_RANGE, MICROS_RANGE, JULIAN_RANGE))]


def _undecided(facts: dict[str, Any], columns: list[int], years: tuple[int, int]) -> list[int]:
    """The counts of numbers in each unit's range, and outside the plausible years in it, from a
    column's least and greatest number, where they lie wholly inside or outside a range: every number
    or none (the first number then being the first example). Returned: the columns (of `columns`, the
    positions the pass read) where some range falls between them: only counting each number tells,
    so the pass is made again for them with `exact` facts. Bounds are compared as the doubles DuckDB
    compares them as."""
    undecided = []
    for i in columns:
        if f"{i}.range.count" not in facts:
            continue
        count, least, most, example = (facts[f"{i}.range.{k}"] for k in ("count", "least", "most", "first"))
        decided: dict[str, Any] = {}
        for unit, (lo, hi), (early, late) in _unit_ranges(years):
            lo, hi, early, late = (float(b) for b in (lo, hi, early, late))
            if not count or most < lo or least > hi:
                decided[f"{i}.n.in.{unit}"] = 0
            elif lo <= least and most <= hi:
                decided[f"{i}.n.in.{unit}"] = count
            else:
                break
            if not count or (least >= early and most < late):
                decided[f"{i}.n.out.{unit}"], decided[f"{i}.ex.out.{unit}"] = 0, None
            elif most < early or least >= late:
                decided[f"{i}.n.out.{unit}"], decided[f"{i}.ex.out.{unit}"] = count, example
            else:
                break
        else:
            for k in ("count", "least", "most", "first"):
                del facts[f"{i}.range.{k}"]
            facts.update(decided)
            continue
        undecided.append(i)
    return undecided


def _merged(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The facts of passes over parts of a table, in rowid order, as one pass over it would give
    them: counts summed, the least `lo` and the greatest `hi`, the first part's example."""
    out: dict[str, Any] = {}
    for part in parts:
        for name, value in part.items():
            kind = name.split(".")[1]
            if value is None:
                out.setdefault(name, None)
            elif kind == "n":
                out[name] = (out.get(name) or 0) + value
            elif out.get(name) is None:
                out[name] = value
            elif kind == "lo":
                out[name] = min(out[name], value)
            elif kind == "hi":
                out[name] = max(out[name], value)
    return out


def _apply_facts(lite: sqlite3.Connection, table: TableProfile, facts: dict[str, Any], years: tuple[int, int]) -> None:
    """The merged facts of a table's passes into its ColumnProfiles: storage, min and max, and what
    `_hints` makes of the rest."""
    table.rows = int(facts["rows.n"])
    for i, col in enumerate(table.columns):
        v = lambda name: facts.get(f"{i}.{name}")  # noqa: E731
        count = lambda name: int(v(f"n.{name}") or 0)  # noqa: E731
        col.storage = {k: count(k) for k in STORAGE_CLASSES}
        col.wide_integers = count("wide")
        low, high = _extremes(col, {k: v(f"lo.{k}") for k in STORAGE_CLASSES[:4]},
                              {k: v(f"hi.{k}") for k in STORAGE_CLASSES[:4]}, lite)
        if low is False:  # a tie or a collation SQLite alone resolves: its own min() and max()
            low, high = _sqlite_extremes(lite, table, col)
        # hex(NULL) is '' in SQLite: a column without values always showed '' as its min and max
        low, high = (b"" if value is None else value for value in (low, high))
        col.min, col.max = (_shown(value, col.stored_classes) for value in (low, high))
        for unit in TIME_UNITS:
            if count(f"out.{unit}"):
                col.outside_years[unit] = count(f"out.{unit}")
                col.outside_example[unit] = str(v(f"ex.out.{unit}"))
        for unit in (*UNIT_DECIMALS, "julian_day"):
            if count(f"finer.{unit}"):
                col.finer_than_micros[unit] = count(f"finer.{unit}")
                col.finer_example[unit] = str(v(f"ex.finer.{unit}"))
        if count("tout"):
            col.outside_years["text"] = count("tout")
            col.outside_example["text"] = v("ex.tout")
        if count("jout"):  # counted with the Julian-day numbers: listed when that is the column's unit
            col.outside_years["julian_day"] = col.outside_years.get("julian_day", 0) + count("jout")
            col.outside_example.setdefault("julian_day", str(v("ex.jout")).strip())
        col.hints = _hints(col, {unit: count(f"in.{unit}") for unit in TIME_UNITS}, count("zero_one"), count("json"),
                           count("iso"))
        col.nul_values, col.bad_utf8_values = count("nul"), count("bad")
        col.sub_microsecond, col.sub_microsecond_example = count("nanos"), v("ex.nanos")
        col.times_of_day, col.times_of_day_example = count("timed"), v("ex.timed")
        col.json_repeated_keys, col.json_repeated_example = count("repeats"), v("ex.repeats")
        col.json_unheld, col.json_unheld_example = count("unheld"), v("ex.unheld")


def _extremes(col: ColumnProfile, least: dict[str, Any], most: dict[str, Any],
              lite: sqlite3.Connection) -> tuple[bytes | None, bytes | None] | tuple[bool, bool]:
    """SQLite's min() and max() of a column, as the bytes of CAST(... AS BLOB), from the extremes of
    each storage class: SQLite orders NULL < numbers < text < BLOBs, integers and reals by value,
    text by the column's collation, BLOBs by their bytes (https://www.sqlite.org/datatype3.html
    section 4.1). (False, False) where only SQLite can tell: an integer and a real of equal value,
    0.0 beside -0.0, or text under NOCASE or RTRIM. An app's own collation, which SQLite cannot
    apply here, is taken as BINARY."""
    def number(pick) -> bytes | None | bool:
        whole, real = least["integer"] if pick is min else most["integer"], least["real"] if pick is min else most["real"]
        if whole is not None and real is not None and whole == real:
            return False
        if real is None or (whole is not None and pick(whole, real) == whole):
            return None if whole is None else str(whole).encode()
        if real == 0:
            return False
        return lite.execute("SELECT CAST(CAST(? AS TEXT) AS BLOB)", [real]).fetchone()[0]  # SQLite's digits

    def text(value: bytes | None) -> bytes | None | bool:
        return False if value is not None and col.collation in ("NOCASE", "RTRIM") else value

    for k in ("text", "blob"):  # SQLite hands out a zero-length BLOB (and text) as NULL: its bytes are none
        if col.storage[k]:
            least[k], most[k] = (b"" if value is None else value for value in (least[k], most[k]))
    low = number(min)
    if low is None:
        low = text(least["text"])
        low = least["blob"] if low is None else low
    high = most["blob"]
    if high is None:
        high = text(most["text"])
        high = number(max) if high is None else high
    return (False, False) if low is False or high is False else (low, high)


def _sqlite_extremes(lite: sqlite3.Connection, table: TableProfile, col: ColumnProfile) -> tuple[bytes | None, bytes | None]:
    """SQLite's own min() and max() of a column, in a query naming every column as inspection always
    did, so that SQLite scans the same b-tree and a tie goes the same way."""
    # an app's own collation, which SQLite cannot apply here, as BINARY (`_extremes`)
    c = sqlite_ident(col.name) + ("" if col.collation in (None, "NOCASE", "RTRIM") else " COLLATE BINARY")
    others = "".join(f", count({sqlite_ident(o.name)})" for o in table.columns if o is not col)
    row = lite.execute(f"SELECT CAST(min({c}) AS BLOB), CAST(max({c}) AS BLOB){others} "
                       f"FROM {sqlite_ident(table.name)}").fetchone()
    return row[0], row[1]


def json_repeats_key(text: str | None) -> bool:
    """Whether some object in the JSON text names a key twice (`{"a": 1, "a": 2}`). RFC 8259 section 4
    leaves such objects' meaning open; jsonb keeps the last value (PostgreSQL docs, 8.14). False for
    text that is not JSON."""
    if text is None:
        return False
    repeated = False

    def pairs(items: list) -> dict:
        nonlocal repeated
        keys = [k for k, _ in items]
        repeated = repeated or len(set(keys)) != len(keys)
        return {}

    try:
        json.loads(text, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return False
    return repeated


_JSONB_CANNOT_HOLD = re.compile(r"[\x00\ud800-\udfff]")  # NUL, and a surrogate json.loads left unpaired


def json_jsonb_cannot_hold(text: str | None) -> bool:
    r"""Whether JSON text holds a string or key jsonb cannot: the escape \u0000, or a surrogate escape
    without its pair (\ud800). Both are JSON (RFC 8259 sections 7 and 8.2), and json keeps them as
    written; jsonb refuses them ("unsupported Unicode escape sequence": PostgreSQL docs, 8.14 "JSON
    Types"). An escaped backslash before u0000 (`"\\u0000"`) is six characters of text, which jsonb
    holds. False for text that is not JSON (NaN and Infinity are not).

        >>> json_jsonb_cannot_hold(r'{"k": "\u0000"}'), json_jsonb_cannot_hold(r'{"k": "\\u0000"}')
        (True, False)
    """
    if text is None:
        return False
    found = False

    def strings(value) -> None:
        nonlocal found
        if isinstance(value, str):
            found = found or bool(_JSONB_CANNOT_HOLD.search(value))
        elif isinstance(value, list):
            for item in value:
                strings(item)

    def pairs(items: list) -> dict:
        for key, value in items:
            strings(key)
            strings(value)
        return {}

    def refuse(name: str):
        raise ValueError(f"{name} is not JSON")

    try:
        strings(json.loads(text, object_pairs_hook=pairs, parse_constant=refuse))
    except (ValueError, RecursionError):
        return False
    return found


def register_json_functions(con) -> None:
    """`json_repeats_key` and `json_jsonb_cannot_hold`, callable from DuckDB SQL on `con`."""
    from duckdb.sqltypes import BOOLEAN, VARCHAR

    for name, function in (("json_repeats_key", json_repeats_key), ("json_jsonb_cannot_hold", json_jsonb_cannot_hold)):
        try:
            con.create_function(name, function, [VARCHAR], BOOLEAN)
        except (duckdb.CatalogException, duckdb.NotImplementedException):
            pass  # already registered on this connection


def _window_seconds(years: tuple[int, int]) -> tuple[int, int]:
    """The plausible window as unix seconds: from 1 January of the first year to the end of the last."""
    from datetime import datetime, timezone

    end = datetime(years[1], 12, 31, 23, 59, 59, tzinfo=timezone.utc)  # year 9999 has no next year in Python
    return int(datetime(years[0], 1, 1, tzinfo=timezone.utc).timestamp()), int(end.timestamp())


_DECIMAL_DECL = re.compile(r"^\s*(?:NUMERIC|DECIMAL)\s*\(\s*\d+\s*(?:,\s*\d+\s*)?\)\s*$", re.I)


def _decimal_shapes(con, table: str, columns: list[ColumnProfile], shaped: frozenset[str] = frozenset()) -> None:
    """For columns declared NUMERIC(p,s) or DECIMAL(p,s), or named in `shaped` ("table.column", lower
    case): the most integer digits and the most decimals
    among their numbers (integers, reals as their shortest round-trip decimal, numeric text), so the
    plan can pick a type that holds every one. SQLite does not enforce p or s
    (https://www.sqlite.org/datatype3.html section 3.1: NUMERIC affinity)."""
    from decimal import Decimal, InvalidOperation

    for col in columns:
        wanted = _DECIMAL_DECL.match(col.declared_type) or f"{table}.{col.name}".lower() in shaped
        if not wanted or not (col.stored_classes - {"blob"}):
            continue
        c = sqlite_ident(col.name)
        # text as hex: it may not be valid UTF-8, which DuckDB refuses to read as text
        values = sqlite(con, f"SELECT DISTINCT CASE typeof({c}) WHEN 'real' THEN printf('%!.20e', {c}) "
                             f"WHEN 'text' THEN hex(CAST({c} AS BLOB)) ELSE CAST({c} AS TEXT) END, typeof({c}) "
                             f"FROM {sqlite_ident(table)} WHERE typeof({c}) IN ('integer', 'real', 'text')")
        most_int = most_scale = 0
        for text, kind in values:
            if kind == "text":  # bytes that are not UTF-8 are no number: U+FFFD makes that plain
                text = bytes.fromhex(text).decode("utf-8", errors="replace")
            try:
                d = Decimal(repr(float(text))) if kind == "real" else Decimal(str(text).strip())
            except (InvalidOperation, ValueError):
                continue  # not a number: the load rejects it with its reason
            if not d.is_finite():
                continue
            sign, digits, exponent = d.normalize().as_tuple() if kind == "real" else d.as_tuple()
            scale = max(-exponent, 0)
            most_scale = max(most_scale, scale)
            most_int = max(most_int, len(digits) + exponent if len(digits) + exponent > 0 else 0)
        col.decimal_shape = [most_int, most_scale]


# SQLite's tokens (https://www.sqlite.org/lang_createtable.html, tokenize.c): comments, quoted
# strings and names, words, and single characters; together they are the statement's whole text
_SQLITE_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<quoted>'(?:[^']|'')*'?|"(?:[^"]|"")*"?|`(?:[^`]|``)*`?|\[[^\]]*\]?)
  | (?P<word>[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*)
  | (?P<other>.)
""", re.X | re.S)
_TABLE_CONSTRAINTS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"}
_CONFLICT_ALGORITHMS = {"ROLLBACK", "FAIL", "IGNORE", "REPLACE"}  # ABORT is the default, Postgres's too


@dataclass
class _Token:
    kind: str
    text: str
    depth: int  # parentheses open around it within its column or constraint

    def word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


def _definition_items(sql: str) -> list[list[_Token]]:
    """The column definitions and table constraints of a CREATE TABLE statement, as SQLite's tokens
    (comments kept, for the text of an expression); empty when there is no parenthesised list."""
    tokens = [(m.lastgroup, m.group()) for m in _SQLITE_TOKEN.finditer(sql)]
    items: list[list[_Token]] = []
    depth = 0
    for kind, text in tokens:
        if depth == 0:
            if text == "(" and kind == "other":
                depth, items = 1, [[]]
            continue
        if kind == "other" and text == ")":
            depth -= 1
            if depth == 0:
                return items
        elif kind == "other" and text == "," and depth == 1:
            items.append([])
            continue
        items[-1].append(_Token(kind, text, depth - 1))
        if kind == "other" and text == "(":
            depth += 1
    return []


def _parenthesised(item: list[_Token], at: int) -> str | None:
    """The text inside the parentheses that open right after item[at], or None; comments and runs of
    white space outside quotes are one space, so that a loss names it on one line."""
    start = next((i for i in range(at + 1, len(item)) if item[i].kind not in ("space", "comment")), None)
    if start is None or item[start].kind != "other" or item[start].text != "(":
        return None
    for end in range(start + 1, len(item)):
        if item[end].depth == item[start].depth and item[end].kind == "other" and item[end].text == ")":
            parts: list[str] = []
            for t in item[start + 1:end]:
                if t.kind not in ("space", "comment"):
                    parts.append(t.text)
                elif parts and parts[-1] != " ":
                    parts.append(" ")
            return "".join(parts).strip()
    return None


def _read_definition(table: TableProfile, generated: set[str]) -> None:
    """CHECK constraints, generated columns' expressions and ON CONFLICT clauses, which only the CREATE
    TABLE statement holds (the catalog gives the rest: columns, types, defaults, keys, UNIQUEs and
    foreign keys). They are found by SQLite's tokens rather than by a parser of the whole statement:
    SQLite's type names are any words (`UNSIGNED BIG INT`, `VARYING CHARACTER(255)`) and its constraints
    take clauses no other SQL has. Only words outside parentheses count, so a CHECK or AS inside an
    expression or a quoted name is never taken for one. `generated`: the columns SQLite itself
    calls generated (table_xinfo's hidden 2 or 3). What cannot be read is `table.unread`, why."""
    items = [item for item in _definition_items(table.sql) if any(t.kind not in ("space", "comment") for t in item)]
    columns = iter(table.columns)
    in_columns = True
    for item in items:
        top = [(i, t) for i, t in enumerate(item) if t.depth == 0 and t.kind not in ("space", "comment")]
        in_columns = in_columns and not top[0][1].word(*_TABLE_CONSTRAINTS)
        col = next(columns, None) if in_columns else None
        for n, (i, t) in enumerate(top):
            if t.word("CHECK"):
                expression = _parenthesised(item, i)
                if expression is None:
                    table.unread = f"CHECK without its expression in {''.join(x.text for x in item).strip()[:80]}"
                    return
                table.checks.append(expression)
            elif t.word("AS") and col is not None and col.name in generated:
                col.generated = _parenthesised(item, i)
            elif t.word("CONFLICT") and n + 1 < len(top) and top[n + 1][1].word(*_CONFLICT_ALGORITHMS):
                what = next((w.text.upper() for _, w in reversed(top[:n])
                             if w.word("PRIMARY", "NOT", "UNIQUE", "CHECK")), "")
                what = {"PRIMARY": "PRIMARY KEY", "NOT": "NOT NULL"}.get(what, what)
                where = f"column {col.name}" if col is not None else "table constraint"
                table.conflict_clauses.append(f"{what} ON CONFLICT {top[n + 1][1].text.upper()} ({where})")
    missing = [c.name for c in table.columns if c.name in generated and c.generated is None]
    if missing:
        table.unread = f"the expression of generated column {missing[0]} was not found"


def _check_violations(con, table: str, check: str) -> int:
    """Rows of `table` for which SQLite's own CHECK expression is false (a NULL result passes, as in a
    CHECK: https://www.sqlite.org/lang_createtable.html#ckconst); 0 when SQLite cannot evaluate it here
    (an app's function), which the plan then cannot translate either."""
    try:
        return int(sqlite(con, f"SELECT count(*) FROM {sqlite_ident(table)} WHERE NOT ({check})")[0][0])
    except SourceError:
        return 0


# the hint for numbers that all fit one unit: the unit itself in a column named or declared like a time,
# else only that they fit its range
RANGE_HINT = {"unix_seconds": "seconds_range", "unix_millis": "millis_range", "unix_micros": "micros_range",
              "julian_day": "julian_range"}


def _hints(col: ColumnProfile, fits: dict[str, int], zero_one: int, json_n: int, iso_n: int) -> list[str]:
    """What the values suggest. A timestamp unit is decided from the numbers alone (integers and reals),
    whatever else the column also stores: text written by `DEFAULT CURRENT_TIMESTAMP` beside Prisma's
    milliseconds does not make them seconds. `fits`: per unit of `TIME_UNITS`, how many numbers fall in
    its plausible range (2000-2100 for the unix units, 1900-2200 for Julian days). Numbers in more than
    one unit's range are `ambiguous_unit`."""
    numbers = col.storage.get("integer", 0) + col.storage.get("real", 0)
    values = sum(v for k, v in col.storage.items() if k != "null")
    if not values:
        return []
    hints = []
    time_like = bool(TIME_NAME.search(col.name)) or "TIME" in col.declared_type.upper() or "DATE" in col.declared_type.upper()
    if numbers:
        units = [(n, unit) for unit, n in fits.items() if n]
        if len(units) == 1 and units[0][0] == numbers:
            unit = units[0][1]
            hints.append(unit if time_like else RANGE_HINT[unit])
        elif len(units) == 1 and units[0][1] == "julian_day" and time_like:
            # read as seconds, the Julian days would land in January 1970, inside the plausible years, in
            # silence; read as Julian days, the other numbers land outside them: a listed loss
            hints.append("julian_day")
        elif len(units) > 1:
            hints.append("ambiguous_unit")
            most = max(units)[1]  # the unit most numbers fit; the plausible-years check catches the rest
            if time_like and sum(n for n, _ in units) == numbers:
                hints.append(most)
    texts = col.storage.get("text", 0)
    if texts and iso_n == texts and (not numbers or any(h in TIME_UNITS for h in hints)):
        hints.append("iso_text")
    if json_n == values:
        hints.append("json")
    if zero_one == values and (BOOL_NAME.search(col.name) or "BOOL" in col.declared_type.upper()):
        hints.append("bool01")
    return hints


def _indexes(con, table: str) -> list[IndexProfile]:
    out = []
    lst = sqlite(con, f"SELECT name, \"unique\", origin, partial FROM pragma_index_list({sql_string(table)})")
    sql_rows = dict(sqlite(con, f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = {sql_string(table)}"))
    for name, unique, origin, partial in lst:
        keys = sqlite(con, f"SELECT name, cid, \"desc\", coll FROM pragma_index_xinfo({sql_string(name)}) "
                           "WHERE key = 1 ORDER BY seqno")
        ix = IndexProfile(name, [k[0] for k in keys], unique == "1", origin, partial == "1", sql_rows.get(name),
                          [None] * len(keys), [(k[3] or "BINARY").upper() for k in keys], [k[2] == "1" for k in keys])
        _read_index_sql(ix, [int(k[1]) == -2 for k in keys])
        out.append(ix)
    return out


def _read_index_sql(ix: IndexProfile, is_expression: list[bool]) -> None:
    """The expressions and WHERE condition of a CREATE INDEX statement, parsed with sqlglot; an
    expression that cannot be read stays None (the plan lists its index as a loss)."""
    import sqlglot
    from sqlglot import exp

    if not ix.sql:
        return
    try:
        tree = sqlglot.parse_one(ix.sql, read="sqlite")
    except sqlglot.errors.ParseError:
        tree = None
    params = tree.this.args.get("params") if isinstance(tree, exp.Create) and isinstance(tree.this, exp.Index) else None
    keys = params.args.get("columns") or [] if params else []
    if params is None or len(keys) != len(is_expression):
        if ix.partial:  # the condition is all that follows WHERE
            m = re.search(r"\bWHERE\b(.*)$", ix.sql, re.I | re.S)
            ix.where = m.group(1).strip().rstrip(";").strip() if m else None
        return
    for i, key in enumerate(keys):
        node = key.this if isinstance(key, exp.Ordered) else key
        if isinstance(node, exp.Collate):  # index_xinfo gives the collation
            node = node.this
        while isinstance(node, exp.Paren):  # the DDL puts its own around each expression
            node = node.this
        if is_expression[i]:
            ix.expressions[i] = node.sql(dialect="sqlite")
    where = params.args.get("where")
    if where is not None:
        ix.where = where.this.sql(dialect="sqlite")


def _collations(con, table: str, columns: list[ColumnProfile]) -> None:
    """Each column's collation, as SQLite itself applies it: a value compared through the column's
    collation, 'a' = 'A' holds under NOCASE, 'a ' = 'a' under RTRIM. The column's collation reaches
    the comparison through the leftmost SELECT of a compound (https://www.sqlite.org/datatype3.html
    section 7.1), so no statement has to be parsed. A collation the app defines fails the query and
    is named by SQLite's error."""
    if not columns:
        return
    found = _compare_collations(con, table, columns)
    if found is None:
        for col in columns:
            one = _compare_collations(con, table, [col])
            col.collation = one[0] if one else _unknown_collation(con, table, col)
        return
    for col, collation in zip(columns, found):
        col.collation = collation


def _compare_collations(con, table: str, columns: list[ColumnProfile]) -> list[str | None] | None:
    names = ", ".join(f"{sqlite_ident(c.name)} AS c{i}" for i, c in enumerate(columns))
    folded, padded = (", ".join([probe] * len(columns)) for probe in ("'a'", "'a '"))
    inner = f"SELECT {names} FROM {sqlite_ident(table)} WHERE 0 UNION ALL SELECT {folded} UNION ALL SELECT {padded}"
    sums = ", ".join(f"sum(c{i} = 'A') AS folded{i}, sum(c{i} = 'a') AS padded{i}" for i in range(len(columns)))
    try:
        row = sqlite(con, f"SELECT {sums} FROM ({inner})")[0]
    except SourceError:
        return None
    out: list[str | None] = []
    for i in range(len(columns)):
        folded, padded = int(row[2 * i] or 0), int(row[2 * i + 1] or 0)
        out.append("NOCASE" if folded else "RTRIM" if padded == 2 else None)
    return out


def _unknown_collation(con, table: str, col: ColumnProfile) -> str:
    """The name of the app's collation SQLite does not know, from its error."""
    try:
        sqlite(con, f"SELECT {sqlite_ident(col.name)} = 'a' FROM {sqlite_ident(table)} LIMIT 0")
    except SourceError as exc:
        m = re.search(r"no such collation sequence: (\S+)", str(exc))
        if m:
            return m.group(1).upper()
    return "UNKNOWN"


def _foreign_keys(con, table: str) -> list[ForeignKey]:
    rows = sqlite(con, f"SELECT id, seq, \"table\", \"from\", \"to\", on_update, on_delete FROM pragma_foreign_key_list({sql_string(table)}) ORDER BY id, seq")
    grouped: dict[str, ForeignKey] = {}
    for fk_id, _seq, ref, frm, to, on_update, on_delete in rows:
        fk = grouped.setdefault(fk_id, ForeignKey([], ref, [], on_delete, on_update))
        fk.columns.append(frm)
        fk.ref_columns.append(to)
    for fk in grouped.values():
        if any(c is None for c in fk.ref_columns):
            pk = [r[0] for r in sorted(
                (r for r in sqlite(con, f"SELECT name, pk FROM pragma_table_info({sql_string(fk.ref_table)})") if r[1] != "0"),
                key=lambda r: int(r[1]))]
            fk.ref_columns = pk
        fk.orphans = _orphans(con, table, fk)
        fk.ref_unique, fk.ref_duplicates = _parent_key(con, fk)
    return list(grouped.values())


def _parent_key(con, fk: ForeignKey) -> tuple[bool, int]:
    """(the referenced columns are the parent's primary key or a non-partial unique index, parent rows
    whose referenced values repeat another row's). SQLite accepts a foreign key to any columns and
    fails only at DML time with foreign_keys on ("foreign key mismatch",
    https://www.sqlite.org/foreignkeys.html section 3)."""
    parent = sql_string(fk.ref_table)
    wanted = set(fk.ref_columns)
    try:
        pk = {r[0] for r in sqlite(con, f"SELECT name FROM pragma_table_info({parent}) WHERE pk > 0")}
        if pk and pk == wanted:
            return True, 0
        for (index,) in sqlite(con, f"SELECT name FROM pragma_index_list({parent}) WHERE \"unique\" = 1 AND partial = 0"):
            if {r[0] for r in sqlite(con, f"SELECT name FROM pragma_index_info({sql_string(index)})")} == wanted:
                return True, 0
        cols = ", ".join(sqlite_ident(c) for c in fk.ref_columns)
        not_null = " AND ".join(f"{sqlite_ident(c)} IS NOT NULL" for c in fk.ref_columns)
        dup = sqlite(con, f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM {sqlite_ident(fk.ref_table)} "
                          f"WHERE {not_null} GROUP BY {cols} HAVING count(*) > 1)")
        return False, int(dup[0][0])
    except SourceError:
        return True, 0  # the referenced table or column does not exist: reported by the plan


def _orphans(con, table: str, fk: ForeignKey) -> int:
    child = sqlite_ident(table)
    parent = sqlite_ident(fk.ref_table)
    not_null = " AND ".join(f"c.{sqlite_ident(c)} IS NOT NULL" for c in fk.columns)
    join = " AND ".join(f"p.{sqlite_ident(r)} = c.{sqlite_ident(c)}" for c, r in zip(fk.columns, fk.ref_columns))
    try:
        return int(sqlite(con, f"SELECT count(*) FROM {child} c WHERE {not_null} AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {join})")[0][0])
    except SourceError:
        return -1  # the referenced table or column does not exist: reported by the plan


def profile_frame(profile: SourceProfile):
    """One row per column, for display in the notebook."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for t in profile.tables:
        for c in t.columns:
            rows.append({
                "table": t.name, "column": c.name, "declared": c.declared_type or "(none)",
                "stored": ", ".join(f"{k}:{v}" for k, v in c.storage.items() if v),
                "nulls": c.nulls, "min": c.min, "max": c.max, "hints": ", ".join(c.hints),
            })
    return pd.DataFrame(rows)


def step(params) -> SourceProfile:
    """The inspect notebook's work: profile the source and keep it in the run directory."""
    from . import record
    from .config import resolve_path
    from .demo import ensure_demo_source

    ensure_demo_source(params)
    profile = inspect_source(resolve_path(params.sqlite_path), tables=params.tables or None,
                             years=params.years(), shaped=_shaped(params))
    record.write(record.run_dir_for(params), "profile.json", profile.to_json())
    return profile


def profile_for(params) -> SourceProfile:
    """The profile written by step 01 for this same file, or a fresh one."""
    from . import record
    from .config import resolve_path

    text = record.read(record.run_dir_for(params), "profile.json")
    path = resolve_path(params.sqlite_path)
    if text:
        profile = SourceProfile.from_json(text)
        shapes = {f"{t.name}.{c.name}".lower() for t in profile.tables for c in t.columns if c.decimal_shape is not None}
        if (profile.path == str(path) and path.exists() and profile.size_bytes == path.stat().st_size
                and tuple(profile.timestamp_years) == params.years() and _shaped(params) <= shapes | _empty(profile)):
            return profile
    return step(params)


def _shaped(params) -> frozenset[str]:
    """Columns overridden to numeric(p,s): the plan needs their decimal shape to list rounding."""
    from .config import NUMERIC

    return frozenset(k.lower() for k, v in params.column_overrides.items()
                     if NUMERIC.fullmatch(str(v.get("type", ""))))


def _empty(profile: SourceProfile) -> set[str]:
    """Columns without a number or text to shape (their shape stays None)."""
    return {f"{t.name}.{c.name}".lower() for t in profile.tables for c in t.columns
            if not (c.stored_classes - {"blob"})}
