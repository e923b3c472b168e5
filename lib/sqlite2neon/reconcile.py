"""Keyed reconciliation of one table, SQLite against Postgres: which rows differ, and how.

Each row has a key (its primary key in canonical form; the whole row for a table without one) and a
row hash (MD5 of the row's canonical form, `canonical.py`). Both sides first compute the row count
and the sum of the row hashes' first 60 bits over the whole table; only when those differ, rows fall
into buckets by the first hex digits of the MD5 of their key, the same bucket on both sides whatever the key's type (integers,
cuid2 text, composite keys). Per bucket both sides compute, where the data lives, a row count and the
sum of the row hashes' first 60 bits. Buckets that differ are split further (more hex digits) until
their rows are few enough to fetch as (key, row hash) pairs, and those are compared: a key only in
SQLite is `missing` in the target, one only in Postgres is `unexpected`, one on both sides with
another hash is `changed`, and for those the columns that differ are read with both values.

Rows the load rejected (listed in `_sqlite2neon.rejects`) are left out of the SQLite side: accounted
for, not missing. Rows a cutover kept as Postgres has them (`_sqlite2neon.kept`, passed as `kept`) are
counted apart, as long as neither side changed them again.

    >>> diff = reconcile_table(src, conn, schema, table_plan, "replace", rejected_keys=[])
    >>> diff.differences[0]
    Difference(kind='changed', key='ckx1...', source_key='412', columns=[{'column': 'title', ...}],
               source_hash='3f0c...', target_hash='a91b...')
"""

from __future__ import annotations

import math
import os
import tempfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import psycopg
from psycopg import sql

from . import canonical, convert
from .convert import TableRead
from .errors import one_line
from .plan import TablePlan
from .source import sqlite_ident

FETCH_LIMIT = 20_000  # rows of differing buckets fetched as (key, hash) pairs before splitting further
LISTED = 100  # differences listed in the record per table (all are counted)
MAX_DEPTH = 8  # hex digits of the key's MD5: 16^8 buckets at most
SPLIT_AT_MOST = 256  # differing buckets split further; with more, many rows differ: list the first ones
SAMPLE_DIGITS = 4  # a sample is the rows whose key MD5 starts below fraction * 16^4
SNAPSHOT_DIGITS = 3  # hex digits of a key's MD5 that name its snapshot bucket: 4,096 buckets at most
HASH_HEX = 16  # hex digits of each MD5 a snapshot keeps (8 bytes): key hash, then row hash
SNAPSHOT = "s2n_snapshot"  # the temporary table a snapshot is built in (`write_snapshot`)
PASS_ROWS = 200_000  # rows of the whole-table pass over Postgres folded at a time (`target_pass`)
# timestamptz_send's int64 for -infinity and +infinity; the pass sends the latter for NULL too: none has a month
MINUS_INFINITY, PLUS_INFINITY = -(2 ** 63), 2 ** 63 - 1
NO_INSTANT = PLUS_INFINITY.to_bytes(8, "big")
PAIR = HASH_HEX  # bytes of a snapshot entry: the key hash's HASH_HEX / 2 bytes, then the row hash's
DAY_US = 86_400_000_000


@dataclass
class Difference:
    """One row that differs. For a table without a key, one Difference per differing copy of a row."""

    kind: str  # "missing" (in the target), "unexpected" (in the target), "changed"
    key: str  # the key in canonical form, columns joined by ", "
    source_key: str | None = None  # SQLite's rowid (or quoted primary key): how the cutover reads the row again
    columns: list[dict] = field(default_factory=list)  # changed: [{"column", "source", "target"}]
    canonical_key: str = field(default="", repr=False)  # the key as both sides compute it
    source_hash: str | None = None  # MD5 (hex) of the row's canonical form in SQLite; None: not there
    target_hash: str | None = None  # the same in Postgres; None: not there

    def as_record(self) -> dict:
        return {"kind": self.kind, "key": self.key, "source_key": self.source_key, "columns": self.columns}


@dataclass
class TableDiff:
    """One table compared: counts and checksums of both sides, and the rows that differ."""

    source_rows: int = 0  # every row in SQLite, rejected ones included
    target_rows: int | None = 0  # None: the target table could not be read (see `problem`)
    rejected_rows: int = 0
    source_checksum: str = "0"
    target_checksum: str | None = "0"
    buckets: int = 0
    differing_buckets: int = 0
    differences: list[Difference] = field(default_factory=list)  # the first LISTED, with columns
    differences_total: int = 0
    complete: bool = True  # False: too many rows differ to fetch them all; the total is a lower bound
    nulls: dict[str, list[int]] = field(default_factory=dict)  # column -> [SQLite NULLs, Postgres NULLs]
    all_differences: list[Difference] = field(default_factory=list, repr=False)  # every one found, not kept
    kept_rows: int = 0  # differing rows a cutover kept as Postgres has them, unchanged since (not in the above)
    kept: list[Difference] = field(default_factory=list, repr=False)  # those rows
    # a table without a key: per differing row (canonical key), its copies in SQLite and in Postgres
    copies: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)
    problem: str = ""  # why the target side could not be read
    # with `months`: timestamptz column -> month ('2024-03') -> [SQLite rows, Postgres rows] holding one
    months: dict[str, dict[str, list[int]]] = field(default_factory=dict)


class _Sides:
    """The SQL of one table on both sides: key, row form, buckets, in DuckDB and in Postgres."""

    def __init__(self, table: TablePlan, bad_text: str, schema: str, rejected_keys: list[str] | None,
                 sample: float | None, months: bool = False, snapshot: bool = False):
        self.table, self.bad_text, self.schema = table, bad_text, schema
        self.rejected_keys, self.sample = rejected_keys, sample
        self.snapshot = snapshot and sample is None  # the first pass over Postgres builds the snapshot too
        # the timestamptz columns counted per month, in the first pass over the whole table
        self.months = [i for i, c in enumerate(table.columns) if c.pg_type == "timestamptz"] if months else []
        self.keyed = bool(table.primary_key)
        self.key_cols = [i for i, c in enumerate(table.columns) if c.target in table.primary_key]
        # over `_formed`, where each column's canonical form is computed once, as f0..fN
        self.src_row = canonical.row_form([f"s.f{i}" for i in range(len(table.columns))])
        self.src_key = (f" || {canonical.SEPARATOR} || ".join(f"coalesce(s.f{i}, '')" for i in self.key_cols)
                        if self.keyed else self.src_row)
        self.tgt_row = canonical.target_row_expr(table)
        self.tgt_key = target_key(table)
        self.table_id = sql.Identifier(schema, table.target)

    # --- SQLite, through DuckDB -----------------------------------------------------------------

    def _rejected(self, cursor, read: TableRead) -> str:
        """The condition for a row the load rejected; sets up its key list on `cursor`."""
        if self.rejected_keys is None:
            return read.rejected_filter(True)
        if not self.rejected_keys:
            return "FALSE"  # nothing was rejected: a row that would be now shows as missing
        cursor.execute("CREATE OR REPLACE TEMP TABLE rejected (k VARCHAR)")
        cursor.executemany("INSERT INTO rejected VALUES (?)", [[k] for k in self.rejected_keys])
        return "(CAST(s.__key AS VARCHAR) IN (SELECT k FROM rejected))"

    def _formed(self, cursor, read: TableRead) -> str:
        """DuckDB relation: `read.relation()`'s rows with `__rejected` (the load rejected the row) and
        each column's canonical form `f0..fN` (`canonical.source_form`), each computed once per row
        (written out where it is used, it would be computed once per use). A rejected row's forms are
        NULL, but for its key's, which put every row in a bucket: a rejected value may have none."""
        rejected = self._rejected(cursor, read)
        forms = ", ".join(
            f"{canonical.source_form(read, i)} AS f{i}" if i in self.key_cols else
            f"CASE WHEN NOT s.__rejected THEN {canonical.source_form(read, i)} END AS f{i}"
            for i in range(len(self.table.columns)))
        formed = f"SELECT s.*, {forms} FROM " if forms else "SELECT s.* FROM "
        return f"({formed}(SELECT s.*, {rejected} AS __rejected FROM {read.relation()}) AS s) AS s"

    def _in_sample(self, kh: str) -> str:
        if self.sample is None:
            return "TRUE"
        return f"left({kh}, {SAMPLE_DIGITS}) < '{_sample_bound(self.sample)}'"

    def source_buckets(self, cursor, where: str, depth: int, within: list[str]) -> list[tuple]:
        """(bucket, rows, hash sum, rejected rows, NULLs per column...) per bucket of one rowid range;
        at depth 0 then, per column of `months`, {month: rows} of the rows loaded (None: none)."""
        read = TableRead(self.table, self.bad_text, where)
        kh = f"md5({self.src_key})"
        # DuckDB's count_if and sum over no rows are NULL, not 0: every aggregate is coalesced (an empty
        # table, or a bucket of one rowid range that holds none of its rows)
        nulls = "".join(f", coalesce(count_if(s.c{i} IS NULL), 0)" for i in range(len(self.table.columns)))
        bucket, group = (f"left({kh}, {depth})", "GROUP BY 1") if depth else ("''", "")  # 0: the whole table
        # rows per month start, then each month spelled (once per month, not once per row)
        months = "".join(
            f", map_from_entries(list_filter(list_transform(map_entries("
            f"histogram(TRY(date_trunc('month', {read.converted[i].value}))) "
            f"FILTER (WHERE {read.converted[i].value} IS NOT NULL AND NOT s.__rejected)), "
            f"e -> {{'key': TRY(strftime(e.key, '%Y-%m')), 'value': e.value}}), e -> e.key IS NOT NULL))"
            for i in self.months) if not depth else ""
        # the row's MD5 computed once (a subquery), then its first 60 bits summed
        hashed = (f"SELECT s.*, CASE WHEN NOT s.__rejected AND {self._in_sample(kh)} THEN "
                  f"{_md5_head(self.src_row)} END AS __rh "
                  f"FROM {self._formed(cursor, read)} {_within(kh, within)}")
        return cursor.execute(
            f"SELECT {bucket} AS b, coalesce(count_if(NOT s.__rejected), 0), "
            f"coalesce(sum({_first_bits('s.__rh')}), 0), coalesce(count_if(s.__rejected), 0){nulls}"
            f"{months} FROM ({hashed}) AS s {group}"
        ).fetchall()

    def source_rows(self, cursor, where: str, within: list[str]) -> list[tuple]:
        """(key, row hash, SQLite key) of the rows in the buckets `within` (not rejected)."""
        read = TableRead(self.table, self.bad_text, where)
        kh = f"md5({self.src_key})"
        return cursor.execute(
            f"SELECT {self.src_key}, md5({self.src_row}), CAST(s.__key AS VARCHAR) FROM {self._formed(cursor, read)} "
            f"{_within(kh, within)} AND NOT s.__rejected"
        ).fetchall()

    def source_values(self, cursor, keys: list[str]) -> dict[str, tuple]:
        """Per key: the raw SQLite text of each column, then each column's canonical form."""
        read = TableRead(self.table, self.bad_text)
        raw = ", ".join(f"CAST({read.shown(i)} AS VARCHAR)" for i in range(len(self.table.columns)))
        forms = ", ".join(f"s.f{i}" for i in range(len(self.table.columns)))
        # not the rejected rows: one can share a loaded row's key once bad_text has replaced its bytes
        rows = cursor.execute(
            f"SELECT {self.src_key}, {raw}, {forms} FROM {self._formed(cursor, read)} "
            f"WHERE list_contains(?, {self.src_key}) AND NOT s.__rejected",
            [keys]).fetchall()
        return {r[0]: r[1:] for r in rows}

    # --- Postgres -------------------------------------------------------------------------------

    def target_whole(self, conn) -> tuple[list[tuple], dict[int, dict[str, int]]]:
        """The whole table as one bucket, as `target_buckets` gives one (rows, hash sum, 0, NULLs per
        column...), and per column of `months` its rows per month; with `snapshot` the pass also fills
        the session's temporary table SNAPSHOT. One pass over the rows (`target_pass`), then the NULLs
        counted apart (a scan without expressions)."""
        passed = target_pass(conn, self.schema, self.table, months=self.months, sample=self.sample,
                             snapshot=self.snapshot)
        if self.snapshot:
            with conn.transaction():
                write_snapshot(conn, passed)
        counts = [sql.SQL("count(*) - count({})").format(sql.Identifier(c.target)) for c in self.table.columns
                  if c.nullable]  # a NOT NULL column has none to count
        found = iter(conn.execute(sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(counts), self.table_id)
                                  ).fetchone() if counts else ())
        nulls = [int(next(found)) if c.nullable else 0 for c in self.table.columns]
        return [("", passed.rows, passed.checksum, 0, *nulls)], passed.months

    def target_buckets(self, conn, depth: int, within: list[str]) -> list[tuple]:
        """(bucket, rows, hash sum, 0, NULLs per column...) per bucket of `depth` (at least 1) hex digits
        of the key's MD5, inside the buckets `within`."""
        kh = sql.SQL("md5({})").format(self.tgt_key)
        sample = sql.SQL("TRUE") if self.sample is None else sql.SQL("left({}, {}) < {}").format(
            kh, sql.Literal(SAMPLE_DIGITS), sql.Literal(_sample_bound(self.sample)))
        # a NOT NULL column has none to count (each count in a grouped query costs Postgres time)
        nulls = sql.SQL("").join(
            sql.SQL(", count(*) - count({})").format(sql.Identifier(c.target)) if c.nullable else sql.SQL(", 0")
            for c in self.table.columns)
        with conn.transaction():
            # Postgres cannot estimate how few buckets there are: it would sort every row (to disk) to
            # group them, on one core. Hashing keeps one small entry per bucket, in every worker.
            conn.execute("SET LOCAL enable_sort = off")
            conn.execute("SET LOCAL parallel_setup_cost = 0")
            conn.execute("SET LOCAL parallel_tuple_cost = 0")
            return conn.execute(sql.SQL(
                "SELECT left({kh}, {d}), count(*), coalesce(sum(CASE WHEN {sample} THEN "
                "('x' || left(md5({row}), 15))::bit(60)::bigint END), 0), 0{nulls} FROM {t} {within} GROUP BY 1"
            ).format(kh=kh, d=sql.Literal(depth), sample=sample, row=self.tgt_row, nulls=nulls, t=self.table_id,
                     within=_within_pg(kh, within))).fetchall()

    def target_rows(self, conn, within: list[str]) -> list[tuple]:
        kh = sql.SQL("md5({})").format(self.tgt_key)
        return conn.execute(sql.SQL("SELECT {k}, md5({row}), NULL FROM {t} {within}").format(
            k=self.tgt_key, row=self.tgt_row, t=self.table_id, within=_within_pg(kh, within))).fetchall()

    def target_values(self, conn, keys: list[str]) -> dict[str, tuple]:
        raw = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c.target)) for c in self.table.columns)
        forms = sql.SQL(", ").join(canonical.target_expr(c) for c in self.table.columns)
        rows = conn.execute(sql.SQL("SELECT {k}, {raw}, {forms} FROM {t} WHERE {k} = ANY(%s)").format(
            k=self.tgt_key, raw=raw, forms=forms, t=self.table_id), [keys]).fetchall()
        return {r[0]: r[1:] for r in rows}


def target_key(table: TablePlan) -> sql.Composable:
    """Postgres SQL for a row's key in canonical form: its primary key columns' forms joined by
    U+001F, or the whole row's form for a table without a primary key."""
    if not table.primary_key:
        return canonical.target_row_expr(table)
    return sql.SQL(f" || {canonical.SEPARATOR} || ").join(
        sql.SQL("coalesce({}, '')").format(canonical.target_expr(c)) for c in table.columns
        if c.target in table.primary_key)


@dataclass
class TargetPass:
    """One table in Postgres, read once in full (`target_pass`)."""

    rows: int = 0
    checksum: int = 0  # sum of the row hashes' first 60 bits (of the sampled rows, with a sample)
    months: dict[int, dict[str, int]] = field(default_factory=dict)  # column index -> month -> rows
    # with `snapshot`: per snapshot bucket (first SNAPSHOT_DIGITS hex digits of the key's MD5), its
    # (key hash, row hash) pairs, 16 bytes each, its rows and their checksum
    snapshot: "Spool | None" = None


class Spool:
    """A snapshot's pairs as `target_pass` folds them, spooled to a temporary file (16 bytes per row
    would otherwise stay in memory, and grow with the table): per bucket, where its pieces lie.
    Iterating gives (bucket, pairs, rows, checksum) per bucket that holds rows, one in memory at a time."""

    def __init__(self, width: int):
        self.file = tempfile.TemporaryFile()
        self.places: list[list[tuple[int, int]]] = [[] for _ in range(width)]  # (offset, bytes)
        self.rows: list[int] = []
        self.checksums: list[int] = []

    def add(self, raw: bytes, counts: np.ndarray) -> None:
        """Pairs sorted by bucket, `counts` of them in each."""
        offset = self.file.tell()
        self.file.write(raw)
        for b in np.flatnonzero(counts).tolist():
            n = int(counts[b]) * PAIR
            self.places[b].append((offset, n))
            offset += n

    def __iter__(self):
        self.file.flush()
        fd = self.file.fileno()
        for b, places in enumerate(self.places):
            if places:
                yield (format(b, f"0{SNAPSHOT_DIGITS}x"), b"".join(os.pread(fd, n, at) for at, n in places),
                       self.rows[b], self.checksums[b])

    def close(self) -> None:
        self.file.close()


def target_pass(conn: psycopg.Connection, schema: str, table: TablePlan, *, months: list[int] = (),
                sample: float | None = None, snapshot: bool = False) -> TargetPass:
    """Read a whole table once, in parallel on Postgres' side: per row the first 8 bytes of its key's
    MD5 and of its row's (canonical forms, `canonical.py`) and the instant of each timestamptz column of
    `months` (`timestamptz_send`: microseconds since 2000-01-01 UTC, big-endian). They are folded here,
    PASS_ROWS at a time, into the row count, the checksum (of the rows whose key MD5 is in the `sample`
    fraction, all without one), each column's rows per month (UTC, astronomical years: 4714 BC is
    -4713, as `_month` spells them; NULL and +-infinity have none) and, with `snapshot`, the snapshot's
    buckets. Folding here rather than grouping in Postgres keeps every step in Postgres' parallel
    workers; a snapshot's 16 bytes per row go to a temporary file (`Spool`), not memory.

    Sources: PostgreSQL docs, "Parallel Query" (a query that only scans and computes runs in
    parallel workers); the binary form of timestamptz is the int64 microseconds from 2000-01-01
    (src/backend/utils/adt/timestamp.c, timestamptz_send), infinities the int64 extremes."""
    keyed = bool(table.primary_key)
    row = canonical.target_row_expr(table)
    def head(text: sql.Composable) -> sql.Composable:  # the hex digits of an MD5 a snapshot keeps
        return sql.SQL("left(md5({}), {})").format(text, sql.Literal(HASH_HEX))

    hashes = (sql.SQL("decode({} || {}, 'hex')").format(head(target_key(table)), head(row)) if keyed
              else sql.SQL("decode({}, 'hex')").format(head(row)))  # the row is its own key
    instants = sql.SQL("").join(
        sql.SQL(" || coalesce(timestamptz_send({}), {})").format(sql.Identifier(table.columns[i].target),
                                                                 sql.Literal(NO_INSTANT)) for i in months)
    fields = [("k", ">u8")] + ([("r", ">u8")] if keyed else []) + [(f"m{j}", ">i8") for j in range(len(months))]
    layout = np.dtype(fields)
    bound = 16 ** SAMPLE_DIGITS if sample is None else _sample_limit(sample)
    out = TargetPass()
    width = 16 ** SNAPSHOT_DIGITS
    spool = Spool(width) if snapshot else None
    per_bucket = [np.zeros(width, np.int64) for _ in range(3)]  # rows, checksum's high and low 30 bits
    per_month = [Counter() for _ in months]

    def fold(chunk: list[bytes]) -> None:
        a = np.frombuffer(b"".join(chunk), dtype=layout)
        k = a["k"]
        r = a["r"] if keyed else k
        bucket = (k >> np.uint64(64 - 4 * SNAPSHOT_DIGITS)).astype(np.int64)
        h = r >> np.uint64(4)  # the first 60 bits
        if sample is not None:
            h = np.where((k >> np.uint64(64 - 4 * SAMPLE_DIGITS)) < np.uint64(bound), h, np.uint64(0))
        # float weights sum exactly: at most PASS_ROWS values below 2^30 stay below 2^53
        per_bucket[0] += np.bincount(bucket, minlength=width)
        per_bucket[1] += np.bincount(bucket, (h >> np.uint64(30)).astype(np.float64), minlength=width).astype(np.int64)
        per_bucket[2] += np.bincount(bucket, (h & np.uint64(2 ** 30 - 1)).astype(np.float64), minlength=width).astype(np.int64)
        if spool is not None:
            order = np.argsort(bucket, kind="stable")
            pairs = np.empty(len(a), dtype=[("k", ">u8"), ("r", ">u8")])
            pairs["k"], pairs["r"] = k[order], r[order]
            spool.add(pairs.tobytes(), np.bincount(bucket, minlength=width))
        for j in range(len(months)):
            us = a[f"m{j}"].astype(np.int64)
            us = us[(us != MINUS_INFINITY) & (us != PLUS_INFINITY)]
            days = np.datetime64("2000-01-01", "D") + (us // DAY_US).astype("timedelta64[D]")
            found, n = np.unique(days.astype("datetime64[M]").astype(np.int64), return_counts=True)
            for m, c in zip(found.tolist(), n.tolist()):
                per_month[j][m] += c

    with conn.transaction():
        conn.execute("SET LOCAL parallel_setup_cost = 0")
        conn.execute("SET LOCAL parallel_tuple_cost = 0")
        chunk: list[bytes] = []
        with conn.cursor(binary=True) as cursor:
            for (value,) in cursor.stream(sql.SQL("SELECT {}{} FROM {}").format(
                    hashes, instants, sql.Identifier(schema, table.target)), size=20_000):
                chunk.append(value)
                if len(chunk) == PASS_ROWS:
                    fold(chunk)
                    chunk = []
        if chunk:
            fold(chunk)
    rows, high, low = per_bucket
    checksums = [(int(x) << 30) + int(y) for x, y in zip(high.tolist(), low.tolist())]
    out.rows, out.checksum = int(rows.sum()), sum(checksums)
    for j, i in enumerate(months):  # months since 1970-01, as a year and a month
        out.months[i] = {f"{1970 + m // 12:04d}-{m % 12 + 1:02d}": c for m, c in sorted(per_month[j].items())}
    if spool is not None:
        spool.rows, spool.checksums = rows.tolist(), checksums
        out.snapshot = spool
    return out


def write_snapshot(conn: psycopg.Connection, passed: TargetPass, *, drop_on_commit: bool = False) -> None:
    """Create the session's temporary table SNAPSHOT (bucket, pairs, n, total) from a pass taken
    with `snapshot` (`target_pass`), for `verify.record_snapshot` to keep."""
    conn.execute(sql.SQL("CREATE TEMP TABLE {} (bucket text, pairs bytea, n bigint, total numeric){}").format(
        sql.Identifier(SNAPSHOT), sql.SQL(" ON COMMIT DROP" if drop_on_commit else "")))
    try:
        with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(SNAPSHOT))) as copy:
            for entry in passed.snapshot:
                copy.write_row(entry)
    finally:
        passed.snapshot.close()


def _sample_limit(fraction: float) -> int:
    """How many of the 16^SAMPLE_DIGITS key-hash prefixes a sample takes: at least one, all at 1."""
    return min(16 ** SAMPLE_DIGITS, max(1, round(fraction * 16 ** SAMPLE_DIGITS)))


def _sample_bound(fraction: float) -> str:
    """The same as text SQL compares a key MD5's first SAMPLE_DIGITS hex digits with."""
    limit = _sample_limit(fraction)
    return format(limit, f"0{SAMPLE_DIGITS}x") if limit < 16 ** SAMPLE_DIGITS \
        else "g" * SAMPLE_DIGITS  # "g" sorts after every hex digit: all rows


def _md5_head(text: str) -> str:
    """DuckDB SQL: the first 8 bytes of the MD5 of `text`, as `md5_number` gives them (a little-endian
    number: the first byte lowest), without printing the hex. `_first_bits` of it is the row hash summed."""
    return f"CAST(md5_number({text}) & {2 ** 64 - 1} AS UBIGINT)"


def _first_bits(head: str) -> str:
    """DuckDB SQL: the first 60 bits of an MD5 from its `_md5_head`, the number Postgres reads from its
    hex (`target_buckets`: ('x' || left(md5(row), 15))::bit(60)::bigint)."""
    shifts = [(8 * k, 52 - 8 * k) for k in range(7)]
    return " | ".join([f"((({head} >> {r}) & 255) << {l})" for r, l in shifts] + [f"({head} >> 60)"])


def _within(kh: str, buckets: list[str]) -> str:
    """DuckDB WHERE clause keeping the rows of `buckets` (all rows when there are none)."""
    if not buckets:
        return "WHERE TRUE"
    listed = ", ".join(f"'{b}'" for b in buckets)  # hex digits only: safe to inline
    return f"WHERE left({kh}, {len(buckets[0])}) IN ({listed})"


def _within_pg(kh: sql.Composable, buckets: list[str]) -> sql.Composable:
    if not buckets:
        return sql.SQL("")
    return sql.SQL("WHERE left({}, {}) = ANY({})").format(kh, sql.Literal(len(buckets[0])), sql.Literal(buckets))


def depth_for(rows: int) -> int:
    """Hex digits of the first split: about a thousand rows per bucket, 16 to 65,536 buckets."""
    return max(1, min(4, math.ceil(math.log(max(rows, 1) / 1000, 16)) if rows > 1000 else 1))


def rowid_ranges(src, table: TablePlan, parts: int) -> list[str]:
    """SQLite conditions splitting a table into `parts` rowid ranges (one empty condition when the
    table is small or has no rowid)."""
    if parts <= 1 or not table.has_rowid or table.rows < 100_000:
        return [""]
    lo, hi = src.execute("SELECT * FROM sqlite_query('src', ?)",
                         [f"SELECT min(rowid), max(rowid) FROM {sqlite_ident(table.source)}"]).fetchone()
    if lo is None:
        return [""]
    lo, hi = int(lo), int(hi)
    step = (hi - lo) // parts + 1
    return [f"rowid >= {lo + i * step} AND rowid < {lo + (i + 1) * step}" for i in range(parts)]


def _ranges(src, table: TablePlan) -> list[str]:
    cursor = src.cursor()
    try:
        return rowid_ranges(cursor, table, os.cpu_count() or 1)
    finally:
        cursor.close()


def _on_source(src, ranges: list[str], work) -> list[tuple]:
    """`work(cursor, where)` over every rowid range at once, each on its own DuckDB cursor (DuckDB reads
    one SQLite query on one thread); the rows of all ranges together."""
    def one(where: str) -> list[tuple]:
        cursor = src.cursor()
        canonical.register(cursor)
        convert.register(cursor)
        try:
            return work(cursor, where)
        finally:
            cursor.close()

    with ThreadPoolExecutor(len(ranges)) as pool:
        return [row for part in pool.map(one, ranges) for row in part]


def unreadable(exc: psycopg.Error) -> str:
    """Why the target side of a table could not be read, in words: a statement or lock timeout is
    named as one (with the parameter that sets it), never taken for a difference."""
    text = one_line(exc, 1)
    if isinstance(exc, psycopg.errors.QueryCanceled) and "timeout" in text:
        which = "lock_timeout" if "lock timeout" in text else "statement_timeout"
        return f"could not read the target: {which.replace('_', ' ')} ({text}); raise the parameter {which}"
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return f"could not read the target: lock timeout ({text}); raise the parameter lock_timeout"
    return f"could not read the target: {text}"


def reconcile_table(src, conn, schema: str, table: TablePlan, bad_text: str, rejected_keys: list[str] | None, *,
                    sample: float | None = None, describe: bool = True,
                    kept: dict[str, list[tuple[str | None, str | None]]] | None = None,
                    months: bool = False, snapshot: bool = False) -> TableDiff:
    """Compare one table on both sides. Every difference found is in `all_differences`; with `describe`
    the first LISTED changed rows are read again for the columns that differ (the cutover, which
    carries whole rows over, does without). `kept`: canonical key -> the (source hash, target hash)
    pairs a cutover kept (`split_kept`); those rows are counted in `kept_rows`, not as differences.
    `months`: also count each timestamptz column's values per month on both sides (`TableDiff.months`),
    in the same pass over SQLite as the checksum. `snapshot` (with no `sample`): the pass over Postgres
    also builds the table's snapshot (`target_pass`) in the session's temporary table SNAPSHOT,
    left for the caller to record (`verify.record_snapshot`) or drop."""
    sides = _Sides(table, bad_text, schema, rejected_keys, sample, months, snapshot)
    ranges = _ranges(src, table)
    diff = TableDiff(buckets=1)
    # First the whole table as one bucket: when it matches, as it should, that is all it costs.
    source, target = _level(src, conn, sides, ranges, 0, [])
    if isinstance(target, psycopg.Error):
        diff.problem, target = unreadable(target), None
    elif sides.months:
        target, in_target = target
        width = len(table.columns)
        diff.months = {table.columns[i].target: _month_counts(source[""][3 + width + j] if source else {}, in_target[i])
                       for j, i in enumerate(sides.months)}
    diff.source_rows = sum(v[0] + v[2] for v in source.values())
    diff.rejected_rows = sum(v[2] for v in source.values())
    diff.source_checksum = str(sum(v[1] for v in source.values()))
    if target is None:
        diff.target_rows, diff.target_checksum = None, None
        return diff
    diff.target_rows = sum(v[0] for v in target.values())
    diff.target_checksum = str(sum(v[1] for v in target.values()))
    width = len(table.columns)
    diff.nulls = {c.target: [sum(v[3 + j] for v in source.values()), sum(v[3 + j] for v in target.values())]
                  for j, c in enumerate(table.columns)} if width else {}
    if not _differing(source, target):
        return diff
    depth = depth_for(table.rows)
    diff.buckets = 16 ** depth
    source, target = _level(src, conn, sides, ranges, depth, [], strict=True)
    differing = _differing(source, target)
    diff.differing_buckets = len(differing)
    # Split the differing buckets until their rows are few enough to fetch (when few buckets differ;
    # when many do, so do many rows, and the first buckets' rows are fetched as they are).
    while depth < MAX_DEPTH and len(differing) <= SPLIT_AT_MOST and _rows_in(differing, source, target) > FETCH_LIMIT:
        depth = min(MAX_DEPTH, depth + 2)
        source, target = _level(src, conn, sides, ranges, depth, differing, strict=True)
        differing = _differing(source, target)
    fetched = []
    for b in differing:
        if _rows_in(fetched + [b], source, target) > FETCH_LIMIT and fetched:
            diff.complete = False
            break
        fetched.append(b)
    with ThreadPoolExecutor(1) as side:
        on_target = side.submit(sides.target_rows, conn, fetched)
        src_rows = _on_source(src, ranges, lambda c, w: sides.source_rows(c, w, fetched))
        tgt_rows = on_target.result()
    found, diff.copies = _compare(src_rows, tgt_rows, sides.keyed)
    found, diff.kept = split_kept(found, kept or {})
    diff.kept_rows = len(diff.kept)
    diff.differences_total = len(found)
    diff.differences = found[:LISTED]
    diff.all_differences = found
    if describe:
        _describe([d for d in diff.differences if d.kind == "changed"], src, conn, sides, table)
    return diff


def split_kept(found: list[Difference], kept: dict[str, list[tuple[str | None, str | None]]]
               ) -> tuple[list[Difference], list[Difference]]:
    """(the other differences, the kept ones). A key's differences are kept when their
    (source_hash, target_hash) pairs are exactly those recorded for that key when a cutover kept
    Postgres' version (for a table without a key, one pair per differing copy); when either side
    changed the row again, they are differences again.

    >>> split_kept([Difference("unexpected", "7", canonical_key="7", target_hash="ab12...")],
    ...            {"7": [(None, "ab12...")]})
    ([], [Difference(kind='unexpected', key='7', ...)])
    """
    if not kept:
        return found, []
    by_key: dict[str, list[Difference]] = defaultdict(list)
    for d in found:
        by_key[d.canonical_key].append(d)
    settled = {k for k, ds in by_key.items()
               if k in kept and Counter((d.source_hash, d.target_hash) for d in ds) == Counter(kept[k])}
    return [d for d in found if d.canonical_key not in settled], [d for d in found if d.canonical_key in settled]


def _level(src, conn, sides: _Sides, ranges: list[str], depth: int, within: list[str], strict: bool = False):
    """Per bucket of `depth` hex digits (inside the buckets `within`), both sides at once:
    (source, target), each bucket -> [rows, hash sum, rejected, NULLs per column...]. The target
    is the error instead when it cannot be read, unless `strict`."""
    def on_target():
        if depth:
            return _sum_buckets(sides.target_buckets(conn, depth, within))
        whole, months = sides.target_whole(conn)
        return (_sum_buckets(whole), months) if sides.months else _sum_buckets(whole)

    with ThreadPoolExecutor(1) as side:
        on_target = side.submit(on_target)
        source = _sum_buckets(_on_source(src, ranges, lambda c, w: sides.source_buckets(c, w, depth, within)))
        try:
            return source, on_target.result()
        except psycopg.Error as exc:
            if strict:
                raise
            return source, exc


def _sum_buckets(rows: list[tuple]) -> dict[str, list]:
    """Bucket -> [rows, hash sum, rejected, NULLs per column..., {month: rows} per column counted
    by month...], adding up the rowid ranges' parts."""
    out: dict[str, list] = {}
    for b, *values in rows:
        values = [Counter(v or {}) if v is None or isinstance(v, dict) else int(v) for v in values]
        if b in out:
            out[b] = [x + y for x, y in zip(out[b], values)]
        else:
            out[b] = values
    return out


def _month(text: str) -> str:
    """A month as both sides spell it: astronomical year (4714 BC is -4713), at least four digits, then
    the month. From DuckDB's strftime %Y-%m (astronomical already) or Postgres' to_char YYYY-MM BC."""
    year, _, month = text.rpartition("-")
    month, _, era = month.partition(" ")
    number = 1 - int(year) if era == "BC" else int(year)
    return f"{number:04d}-{month}"


def _month_counts(source: dict[str, int], target: dict[str, int]) -> dict[str, list[int]]:
    """Month -> [SQLite rows, Postgres rows], in time order; `source` as DuckDB spells its months."""
    spelled = Counter()
    for m, n in source.items():
        spelled[_month(m)] += int(n)
    months = sorted(set(spelled) | set(target), key=lambda m: tuple(int(x) for x in m.rsplit("-", 1)))
    return {m: [spelled.get(m, 0), int(target.get(m, 0))] for m in months}


def _differing(source: dict, target: dict) -> list[str]:
    empty = [0, 0]
    return sorted(b for b in set(source) | set(target)
                  if source.get(b, empty)[:2] != target.get(b, empty)[:2])


def _rows_in(buckets: list[str], source: dict, target: dict) -> int:
    return sum(max(source.get(b, [0])[0], target.get(b, [0])[0]) for b in buckets)


def _display_key(key: str, keyed: bool = True) -> str:
    """A key for people: its columns joined by ", "; a whole row (no key) as its values, NULL for NULL."""
    parts = key.split("\x1f")
    if not keyed:
        parts = ["NULL" if p == "n" else p[1:] for p in parts]
    text = ", ".join(parts)
    return text if len(text) <= 300 else text[:300] + "..."


def _compare(src_rows: list[tuple], tgt_rows: list[tuple], keyed: bool
             ) -> tuple[list[Difference], dict[str, tuple[int, int]]]:
    """The differing rows, given (key, row hash, SQLite key) from each side; for a table without a
    key also each differing row's copies on each side (else an empty dict)."""
    out = []
    if not keyed:  # the key is the row itself: compare as multisets
        src = Counter(r[0] for r in src_rows)
        tgt = Counter(r[0] for r in tgt_rows)
        skeys = defaultdict(list)  # identical rows: each missing copy gets a rowid of its own
        hashes = {r[0]: r[1] for r in src_rows + tgt_rows}
        for r in src_rows:
            skeys[r[0]].append(r[2])
        for key, n in sorted((src - tgt).items()):
            out += [Difference("missing", _display_key(key, False), skeys[key][i], canonical_key=key,
                               source_hash=hashes[key]) for i in range(n)]
        for key, n in sorted((tgt - src).items()):
            out += [Difference("unexpected", _display_key(key, False), canonical_key=key, target_hash=hashes[key])
                    for _ in range(n)]
        return out, {d.canonical_key: (src[d.canonical_key], tgt[d.canonical_key]) for d in out}
    src = {r[0]: r for r in src_rows}
    tgt = {r[0]: r for r in tgt_rows}
    for key in sorted(set(src) | set(tgt)):
        s, t = src.get(key), tgt.get(key)
        if t is None:
            out.append(Difference("missing", _display_key(key), s[2]))
        elif s is None:
            out.append(Difference("unexpected", _display_key(key)))
        elif s[1] != t[1]:
            out.append(Difference("changed", _display_key(key), s[2]))
        else:
            continue
        out[-1].canonical_key = key
        out[-1].source_hash, out[-1].target_hash = s and s[1], t and t[1]
    return out, {}


def _describe(changed: list[Difference], src, conn, sides: _Sides, table: TablePlan) -> None:
    """Fill in, for changed rows, which columns differ and both values (SQLite's text, Postgres' text)."""
    if not changed:
        return
    keys = [d.canonical_key for d in changed]
    cursor = src.cursor()
    canonical.register(cursor)
    convert.register(cursor)
    try:
        source = sides.source_values(cursor, keys)
    finally:
        cursor.close()
    target = sides.target_values(conn, keys)
    n = len(table.columns)
    for d in changed:
        s, t = source.get(d.canonical_key), target.get(d.canonical_key)
        if s is None or t is None:
            continue
        d.columns = [{"column": c.target, "source": s[j], "target": t[j]}
                     for j, c in enumerate(table.columns) if s[n + j] != t[n + j]]
