"""Views: what translating them needs to know about the source (how SQLite holds each column), and
their verification (every created view's rows in SQLite and in Postgres, compared as multisets).

    >>> names = view_names(plan, profile, names)     # in plan._plan_views: Origins and scan keys
    >>> checks = verify_views(plan, target, params, Path("data/app.db"))
    >>> [(c.view, c.source_rows, c.target_rows, c.passed) for c in checks]
    [('monthly', 2, 2, True), ('lines', 1, 1, True), ('big_months', 2, 2, True)]

A view has no key, so its rows are compared as multisets of canonical rows (`canonical_cell`):
NULL; integers, reals and numerics by their numeric value (SQLite's integer 1 equals Postgres'
numeric 1.0 and bigint 1; a float by its shortest round-trip digits); booleans as 0/1 (SQLite has
none: LIKE yields 0 or 1); text as it is; bytes as hex. Both sides are streamed: first the row count
and the sum of the rows' 64-bit hashes (per hash bucket too); only when they differ are the rows of
the differing buckets read again, held up to a bound, and listed (the first 20).

Rows that differ only in the last bits of a floating-point value are paired and counted as `rounded`,
not as differences: SQLite and Postgres add a column of reals in different orders (and a decimal
column is exact in Postgres, a double in SQLite), so a sum can differ in its last bits. A sum of n
doubles is off by at most about n ulps (2.2e-16 each) of its magnitude, typically sqrt(n): a view that
sums (sum, avg, total, here or in a view it reads) is allowed a relative 1e-12 (thousands of values
in the worst case, millions typically), any other view 64 ulps (2^-46: a decimal computed exactly
against the double computed step by step). A relative 1e-9 hid up to 1.7 s on an epoch of 1.7e9.
"""

from __future__ import annotations

import hashlib
import math
import re
import sqlite3
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from .config import Params
    from .connect import Target
    from .plan import Plan, ViewPlan
    from .source import SourceProfile
    from .translate import Names

SHOWN = 20  # differing rows listed per view
HELD = 20_000  # rows of differing buckets held per side when drilling down
BUCKETS = 256  # by the first byte of the row hash
SUMMED_ROUNDING = 1e-12  # relative difference of a real that summation order can explain (module docstring)
ROUNDING = 2.0 ** -46  # relative difference of a real computed without summing: 64 ulps
_SUMS = re.compile(r"\b(sum|avg|total)\s*\(", re.IGNORECASE)
SEPARATOR = "\x1f"


# --- what translating views needs ------------------------------------------------------------------

def view_names(plan: "Plan", profile: "SourceProfile", names: "Names") -> "Names":
    """`names` (the plan's tables) with what the view translation needs besides: per column its
    Origin (affinity of its declared type, https://www.sqlite.org/datatype3.html section 3.1; the
    plan's conversion; for a time converted from ISO text, the one shape its rows have, read from the
    source file by `text_forms`) and per table the column SQLite reads it in, when it can read it in
    one order only (a rowid table whose INTEGER PRIMARY KEY is its identity column, with no index:
    https://www.sqlite.org/rowidtable.html), for group_concat(); and the target schema, which the
    views' SQL names its tables in (not public, on every default search_path). Returns `names`,
    completed in place.
    """
    from .translate import Origin, affinity_of

    forms = text_forms(Path(profile.path), plan) if profile.views else {}
    # Views name their tables in the target schema, which the load's search_path may not hold; public
    # is on the default search_path ("$user", public), and plans name it as they always have.
    names.schema = "" if plan.schema == "public" else plan.schema
    for table in plan.tables:
        names.origins[table.target] = {
            c.target: Origin(affinity_of(c.declared_type), c.convert, forms.get((table.target, c.target)),
                             "real" in c.storage)
            for c in table.columns}
        key = table.identity_column
        if table.has_rowid and key is not None and not table.indexes and table.primary_key == [key.target]:
            names.scan_keys[table.target] = key.target
    return names


_DIGITS = "0123456789"


def _shape_sql(column: str) -> str:
    """SQLite SQL: the value's storage class, then its text with every digit replaced by 9."""
    shape = column
    for digit in _DIGITS[:-1]:
        shape = f"replace({shape}, '{digit}', '9')"
    return f"typeof({column}) || ':' || {shape}"


_CLOCK_SHAPES = {"99:99": "HH24:MI", "99:99:99": "HH24:MI:SS"}


def text_form(shape: str, pg_type: str) -> str | None:
    """The to_char pattern that prints a time the way ISO text of `shape` (its digits as 9) shows it;
    None for a shape it cannot (a time zone offset, which the load turned into UTC; a date column's
    text with a time, which the load dropped).

        >>> text_form("9999-99-99 99:99:99", "timestamptz"), text_form("9999-99-99T99:99:99.999Z", "timestamptz")
        ('YYYY-MM-DD HH24:MI:SS', 'YYYY-MM-DD"T"HH24:MI:SS.FF3"Z"')
    """
    if not shape.startswith("9999-99-99"):
        return None
    pattern, rest = "YYYY-MM-DD", shape[10:]
    if not rest:
        return pattern
    zulu = rest.endswith("Z")
    rest = rest[:-1] if zulu else rest
    if pg_type == "date" or len(rest) < 2 or rest[0] not in " T":
        return None
    clock, point, fraction = rest[1:].partition(".")
    if clock not in _CLOCK_SHAPES:
        return None
    pattern += (" " if rest[0] == " " else '"T"') + _CLOCK_SHAPES[clock]
    if point:
        if clock != "99:99:99" or not 1 <= len(fraction) <= 6 or fraction.strip("9"):
            return None
        pattern += f".FF{len(fraction)}"
    return pattern + ('"Z"' if zulu else "")


def text_forms(source_path: Path, plan: "Plan") -> dict[tuple[str, str], str | None]:
    """(target table, target column) -> to_char pattern, for every column the plan converts from ISO
    text to a time: the pattern giving back the text SQLite holds, when all its rows hold text of one
    shape (None otherwise: the text cannot be recovered from the time). Reads the SQLite file itself,
    read-only (`mode=ro`); an empty dict when it cannot be read."""
    wanted = [(t, c) for t in plan.tables for c in t.columns
              if c.convert == "iso_text" and c.pg_type in ("timestamptz", "timestamp", "date")]
    if not wanted:
        return {}
    out: dict[tuple[str, str], str | None] = {}
    try:
        con = _read_only(source_path)
    except sqlite3.Error:
        return {}
    try:
        for table, column in wanted:
            q = _quote(column.source)
            rows = con.execute(f"SELECT {_shape_sql(q)}, count(*) FROM {_quote(table.source)} WHERE {q} IS NOT NULL "
                               "GROUP BY 1 LIMIT 2").fetchall()
            shape = rows[0][0] if len(rows) == 1 else ""
            out[(table.target, column.target)] = (text_form(shape[len("text:"):], column.pg_type)
                                                  if shape.startswith("text:") else None)
    except sqlite3.Error:
        return {}
    finally:
        con.close()
    return out


def _read_only(path: Path) -> sqlite3.Connection:
    """The SQLite file opened read-only (https://www.sqlite.org/uri.html, mode=ro): never written."""
    con = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    con.text_factory = lambda raw: raw.decode("utf-8", errors="replace")  # invalid UTF-8, as the load replaces it
    return con


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- verification ------------------------------------------------------------------------------------

@dataclass
class ViewCheck:
    """One view's verification: its rows in SQLite (`source_rows`) and in Postgres (`target_rows`),
    compared as multisets of canonical rows. `differences_total` counts the rows on either side without
    an equal row on the other (`complete` False: more than could be held, a lower bound); `differences`
    lists the first 20 as {"side": "SQLite" or "Postgres", "values": [...]}; `rounded` counts rows
    paired with a row that differs only by floating-point rounding (`_tolerance`). `problem` says why
    a side could not be read (the view missing in Postgres, an error in either engine)."""

    view: str
    target: str
    source_rows: int | None = None
    target_rows: int | None = None
    seconds: float = 0.0
    problem: str = ""
    differences_total: int = 0
    complete: bool = True
    rounded: int = 0
    differences: list[dict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (not self.problem and self.source_rows is not None and self.source_rows == self.target_rows
                and not self.differences_total and self.complete)

    def describe(self) -> str:
        """In words, for the one-line error, with the first differing rows:
        `view lines: SQLite 1 row(s), Postgres 1; 2 row(s) differ: SQLite only (1, 1, '3x', ...); Postgres only (...)`."""
        if self.problem:
            return f"view {self.view}: {self.problem}"
        total = f"{self.differences_total}{'' if self.complete else '+'} row(s) differ"
        shown = "; ".join(f"{d['side']} only ({', '.join('NULL' if v is None else repr(v) for v in d['values'])})"
                          for d in self.differences[:3])
        return f"view {self.view}: SQLite {self.source_rows} row(s), Postgres {self.target_rows}; {total}" + (
            f": {shown}" if shown else "")

    def to_record(self) -> dict:
        """The check as JSON-ready data (for verify.json), `passed` included."""
        return asdict(self) | {"passed": self.passed}

    @classmethod
    def from_record(cls, record: dict) -> "ViewCheck":
        return cls(**{k: v for k, v in record.items() if k != "passed"})


def verify_views(plan: "Plan", target: "Target", params: "Params", source_path) -> list[ViewCheck]:
    """Every view the plan creates, its rows read in SQLite (the source file opened read-only) and in
    Postgres (`plan.schema`), compared as multisets (see the module docstring). One ViewCheck per
    created view, in the plan's order; raises nothing for a view that cannot be read (its `problem`
    says why), TargetError when the target cannot be reached at all.

        >>> [c.describe() for c in verify_views(plan, target, params, "app.db") if not c.passed]
        ["view big_months: SQLite 2 row(s), Postgres 1; 1 row(s) differ: SQLite only ('2024-02')"]
    """
    from .connect import connect, scrub

    checks = []
    with connect(target.direct_url, params) as conn:
        for view in plan.views:
            if not view.sql:
                continue
            started = time.monotonic()
            check = ViewCheck(view.source, view.target)
            try:
                _compare(view, plan, conn, Path(source_path), check)
            except sqlite3.Error as exc:
                check.problem = f"SQLite could not read the view: {exc}"
            except psycopg.Error as exc:
                conn.rollback()
                check.problem = "Postgres could not read the view: " + scrub(str(exc).splitlines()[0], target.secrets)
            check.seconds = round(time.monotonic() - started, 3)
            checks.append(check)
    return checks


@dataclass
class _Side:
    """What one pass over one side gives: the count and hash sum, in total and per bucket."""

    rows: int = 0
    total: int = 0
    counts: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    sums: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    def add(self, digest: int) -> None:
        bucket = digest >> 56
        self.rows += 1
        self.total = (self.total + digest) % 2 ** 64
        self.counts[bucket] += 1
        self.sums[bucket] = (self.sums[bucket] + digest) % 2 ** 64


def _compare(view: "ViewPlan", plan: "Plan", conn: psycopg.Connection, source: Path, check: ViewCheck) -> None:
    exists = conn.execute("SELECT to_regclass(%s)", [sql.Identifier(plan.schema, view.target).as_string(conn)]).fetchone()[0]
    if exists is None:
        check.problem = "not created in Postgres"
        conn.rollback()
        return
    # the view's own columns, not only those the plan reads: a view an earlier run left with other
    # columns (an extra one, one missing, another order) is not the source's view
    actual = [r[0] for r in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        [exists])]
    planned = [c["name"] for c in view.columns or []]
    if planned and actual != planned:
        check.problem = f"its columns in Postgres are ({', '.join(actual)}), the plan's are ({', '.join(planned)})"
        conn.rollback()
        return
    readers = _Readers(view, plan, conn, source)
    sqlite_side, postgres_side = _Side(), _Side()
    for cells in readers.sqlite_rows():
        sqlite_side.add(_digest(cells))
    for cells in readers.postgres_rows():
        postgres_side.add(_digest(cells))
    check.source_rows, check.target_rows = sqlite_side.rows, postgres_side.rows
    if sqlite_side.rows == postgres_side.rows and sqlite_side.total == postgres_side.total:
        return
    differing = {b for b in range(BUCKETS) if (sqlite_side.counts[b], sqlite_side.sums[b])
                 != (postgres_side.counts[b], postgres_side.sums[b])}
    held_sqlite, complete_sqlite = _held(readers.sqlite_rows(), differing)
    held_postgres, complete_postgres = _held(readers.postgres_rows(), differing)
    only_sqlite = held_sqlite - held_postgres
    only_postgres = held_postgres - held_sqlite
    left = list(only_sqlite.elements())
    right = list(only_postgres.elements())
    left, right, check.rounded = _pair_rounded(left, right, _tolerance(view, plan))
    check.complete = complete_sqlite and complete_postgres
    check.differences_total = len(left) + len(right)
    if not check.complete:  # what could not be held differs too; at least the count difference does
        check.differences_total = max(check.differences_total, abs(sqlite_side.rows - postgres_side.rows), 1)
    for side, rows in (("SQLite", left), ("Postgres", right)):
        for cells in rows[: SHOWN - len(check.differences)]:
            check.differences.append({"side": side, "values": [c.shown for c in cells]})


def _held(rows: Iterator[tuple["_Cell", ...]], buckets: set[int]) -> tuple[Counter, bool]:
    held: Counter = Counter()
    count = 0
    for cells in rows:
        if _digest(cells) >> 56 in buckets:
            count += 1
            if count > HELD:
                return held, False
            held[cells] += 1
    return held, True


def _digest(cells: tuple["_Cell", ...]) -> int:
    text = SEPARATOR.join(c.form for c in cells)
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


def _tolerance(view: "ViewPlan", plan: "Plan") -> float:
    """The relative difference of a real that `view` can show for rounding alone: SUMMED_ROUNDING when
    it or a view it reads sums reals in an order of its engine's choosing, else ROUNDING."""
    by_source = {v.source: v for v in plan.views}
    seen, todo = set(), [view]
    while todo:
        current = todo.pop()
        if current.source in seen:
            continue
        seen.add(current.source)
        if _SUMS.search(current.source_sql or "") or _SUMS.search(current.sql or ""):
            return SUMMED_ROUNDING
        todo += [by_source[name] for name in current.reads if name in by_source]
    return ROUNDING


def _pair_rounded(left: list, right: list, tolerance: float = ROUNDING) -> tuple[list, list, int]:
    """Pairs a SQLite-only row with a Postgres-only row equal to it but for reals within the relative
    `tolerance`; returns the rows left unpaired on each side and the number of pairs."""
    by_key: dict[tuple, list] = {}
    for cells in right:
        by_key.setdefault(tuple(c.form if c.number is None else "#" for c in cells), []).append(cells)
    unpaired_left, pairs = [], 0
    for cells in left:
        candidates = by_key.get(tuple(c.form if c.number is None else "#" for c in cells), [])
        match = next((other for other in candidates if _close(cells, other, tolerance)), None)
        if match is None:
            unpaired_left.append(cells)
        else:
            candidates.remove(match)
            pairs += 1
    return unpaired_left, [cells for rows in by_key.values() for cells in rows], pairs


def _close(a: tuple["_Cell", ...], b: tuple["_Cell", ...], tolerance: float) -> bool:
    for x, y in zip(a, b):
        if x.form == y.form:
            continue
        if x.number is None or y.number is None or not (x.inexact or y.inexact):
            return False
        if not (math.isfinite(x.number) and math.isfinite(y.number)):
            return False
        if abs(x.number - y.number) > tolerance * max(abs(x.number), abs(y.number), 1e-3):
            return False
    return True


@dataclass(frozen=True)
class _Cell:
    """A value in canonical form: `form` is what is hashed and compared; `number` (a float) and
    `inexact` (it came from a real) serve the pairing of rounded rows; `shown` is the value for the record."""

    form: str
    shown: object = field(compare=False)
    number: float | None = field(default=None, compare=False)
    inexact: bool = field(default=False, compare=False)


def canonical_cell(value, bad_text: str = "replace") -> _Cell:
    """A value from either engine in canonical form (see the module docstring).

        >>> canonical_cell(1).form == canonical_cell(Decimal("1.0")).form == canonical_cell(1.0).form == canonical_cell(True).form
        True
    """
    if value is None:
        return _Cell("n", None)
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, (int, float, Decimal)):
        return _number_cell(value)
    if isinstance(value, str):
        if "\x00" in value:  # Postgres text holds no NUL: the load replaced or stripped it (bad_text)
            value = value.replace("\x00", "" if bad_text == "strip" else "\ufffd")
        return _Cell("s" + value, value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        hexed = bytes(value).hex()
        return _Cell("x" + hexed, hexed)
    if isinstance(value, (datetime, date)):
        return _Cell("t" + value.isoformat(), value.isoformat())
    return _Cell("?" + str(value), str(value))


def _number_cell(value) -> _Cell:
    inexact = isinstance(value, float)
    if inexact and not math.isfinite(value):
        form = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return _Cell("#" + form, value, value, True)
    number = Decimal(repr(value)) if inexact else Decimal(value)
    if number.is_nan() or number.is_infinite():
        form = "nan" if number.is_nan() else ("inf" if number > 0 else "-inf")
        return _Cell("#" + form, str(value), float(number), False)
    if number == 0:
        form = "0"
    else:
        sign, digits, exponent = number.normalize().as_tuple()
        form = f"{'-' if sign else ''}{''.join(map(str, digits))}e{exponent}"
    shown = value if isinstance(value, (int, float)) else str(value)
    return _Cell("#" + form, shown, float(number), inexact)


class _Readers:
    """The view's rows on each side as tuples of _Cell, re-readable (a second pass drills down)."""

    def __init__(self, view: "ViewPlan", plan: "Plan", conn: psycopg.Connection, source: Path):
        self.view, self.plan, self.conn, self.source = view, plan, conn, source
        self.columns = view.columns or []

    def sqlite_rows(self) -> Iterator[tuple[_Cell, ...]]:
        con = _read_only(self.source)
        try:
            cursor = con.execute(f"SELECT * FROM {_quote(self.view.source)}")
            fixes = [self._sqlite_fix(c) for c in self.columns] if self.columns else None
            while batch := cursor.fetchmany(2000):
                for row in batch:
                    values = [fix(v) for fix, v in zip(fixes, row)] if fixes and len(fixes) == len(row) else row
                    yield tuple(canonical_cell(v, self.plan.bad_text) for v in values)
        finally:
            con.close()

    def postgres_rows(self) -> Iterator[tuple[_Cell, ...]]:
        relation = sql.Identifier(self.plan.schema, self.view.target)
        select = (sql.SQL(", ").join(self._postgres_value(c) for c in self.columns) if self.columns else sql.SQL("*"))
        try:
            with self.conn.cursor(name="sqlite2neon_view_rows") as cursor:
                cursor.itersize = 2000
                cursor.execute(sql.SQL("SELECT {} FROM {}").format(select, relation))
                fixes = [self._postgres_fix(c) for c in self.columns] if self.columns else None
                for row in cursor:
                    values = [fix(v) for fix, v in zip(fixes, row)] if fixes else row
                    yield tuple(canonical_cell(v) for v in values)
        finally:
            self.conn.rollback()

    @staticmethod
    def _postgres_value(column: dict) -> sql.Composable:
        """The view's column in Postgres as SQLite holds the value: a converted time as its ISO text
        (its text form) or unix seconds, JSON as text; else as it is."""
        c = sql.Identifier(column["name"])
        pg_type, origin = (column.get("pg_type") or ""), column.get("origin") or {}
        convert, form = origin.get("convert"), origin.get("text_form")
        if pg_type in ("timestamptz", "timestamp", "date"):
            at = sql.SQL("{} AT TIME ZONE 'UTC'").format(c) if pg_type == "timestamptz" else c
            if convert == "iso_text" and form:
                return sql.SQL("to_char({}, {})").format(at, sql.Literal(form))
            if convert == "unix_seconds":
                return sql.SQL("CAST(extract(epoch FROM {}) AS bigint)").format(c)
            if convert == "unix_millis":
                return sql.SQL("CAST(extract(epoch FROM {}) * 1000 AS bigint)").format(c)
            if convert == "julian_day":  # as julianday() writes it
                return sql.SQL("(CAST(extract(epoch FROM {}) * 1000 AS bigint) + 210866760000000) / "
                               "86400000::float8").format(c)
            if pg_type == "date":
                return sql.SQL("to_char({}, 'YYYY-MM-DD')").format(c)
            return sql.SQL("CAST(extract(epoch FROM {}) * 1000000 AS bigint)").format(c)
        if pg_type in ("jsonb", "json"):
            return sql.SQL("CAST({} AS text)").format(c)
        return c

    @staticmethod
    def _postgres_fix(column: dict):
        if (column.get("pg_type") or "") in ("jsonb", "json"):
            from .canonical import jsonb_text

            return jsonb_text
        return lambda v: v

    @staticmethod
    def _sqlite_fix(column: dict):
        """SQLite's value in the form `_postgres_value` gives Postgres' (a time without a text form as
        microseconds since 1970, JSON as Postgres prints jsonb)."""
        pg_type, origin = (column.get("pg_type") or ""), column.get("origin") or {}
        if pg_type in ("jsonb", "json"):
            from .canonical import jsonb_text

            return lambda v: jsonb_text(v) if isinstance(v, str) else v
        if pg_type in ("timestamptz", "timestamp", "date") and origin.get("convert") == "iso_text" \
                and not origin.get("text_form"):
            return _iso_date if pg_type == "date" else _iso_micros
        return lambda v: v


def _iso_micros(value):
    """ISO text as microseconds since 1970 (naive text read as UTC, as the load reads it); other values as they are."""
    if not isinstance(value, str):
        return value
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    at = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at
    delta = at - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _iso_date(value):
    if not isinstance(value, str):
        return value
    try:
        return datetime.fromisoformat(value.strip()).date().isoformat()
    except ValueError:
        return value
