"""Step 04, verify: per table, row counts and a content checksum computed where the data lives,
in DuckDB over SQLite and in SQL on Postgres, over the same canonical form (`canonical.py`).

The checksum is the sum of the first 60 bits of each row's MD5, so row order does not matter
and no row travels to Python.

    >>> result = verify_all(plan, target, params, source_path=Path("data/demo.db"))
    >>> result.passed
    True
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import psycopg
from psycopg import sql

from . import canonical, convert
from .config import Params
from .connect import Target, connect, scrub
from .errors import TargetError, VerificationFailed
from .convert import TableRead
from .load import STATE_SCHEMA
from .plan import Plan, TablePlan
from .source import open_source, sqlite_ident


@dataclass
class TableCheck:
    source: str
    target: str
    source_rows: int
    target_rows: int | None
    source_checksum: str
    target_checksum: str | None
    seconds: float
    problem: str = ""
    rejected_rows: int = 0
    changed_values: dict[str, int] = field(default_factory=dict)

    @property
    def counts_match(self) -> bool:
        """Every source row is accounted for: loaded, or rejected with a reason."""
        return self.target_rows is not None and self.source_rows == self.target_rows + self.rejected_rows

    @property
    def checksum_match(self) -> bool:
        return self.counts_match and self.source_checksum == self.target_checksum

    @property
    def passed(self) -> bool:
        return self.checksum_match and not self.problem


@dataclass
class VerifyResult:
    tables: list[TableCheck] = field(default_factory=list)
    seconds: float = 0.0
    fail_on_rejects: bool = True

    @property
    def rejected_rows(self) -> int:
        return sum(t.rejected_rows for t in self.tables)

    @property
    def passed(self) -> bool:
        rejects_ok = not (self.fail_on_rejects and self.rejected_rows)
        return bool(self.tables) and all(t.passed for t in self.tables) and rejects_ok

    def summary_tables(self) -> list[dict]:
        return [
            {"source": t.source, "target": t.target, "source_rows": t.source_rows,
             "target_rows": t.target_rows, "checksum_match": t.checksum_match}
            for t in self.tables
        ]

    def to_json(self) -> str:
        return json.dumps({"passed": self.passed, "seconds": self.seconds, "fail_on_rejects": self.fail_on_rejects,
                           "tables": [asdict(t) | {"checksum_match": t.checksum_match} for t in self.tables]}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "VerifyResult":
        raw = json.loads(text)
        return cls([TableCheck(**{k: v for k, v in t.items() if k != "checksum_match"}) for t in raw["tables"]],
                   raw["seconds"], raw.get("fail_on_rejects", True))

    def raise_for_failure(self) -> None:
        bad = [t.target for t in self.tables if not t.passed]
        if bad:
            raise VerificationFailed(f"verification failed for {', '.join(bad)}: source and target differ")
        if not self.passed:
            rejected = ", ".join(f"{t.target} ({t.rejected_rows})" for t in self.tables if t.rejected_rows)
            raise VerificationFailed(
                f"{self.rejected_rows} row(s) were rejected: {rejected or 'none'}; see rejects.csv in the run record "
                "or _sqlite2neon.rejects in the target, or set fail_on_rejects to false to accept them")

    def frame(self):
        import pandas as pd

        return pd.DataFrame([
            {"table": t.target, "source rows": t.source_rows, "target rows": t.target_rows,
             "rejected": t.rejected_rows, "changed on purpose": sum(t.changed_values.values()),
             "checksum": "match" if t.checksum_match else "DIFFERS", "verdict": "PASS" if t.passed else "FAIL",
             "problem": t.problem}
            for t in self.tables
        ])


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


def source_checksum_parallel(src, table: TablePlan, bad_text: str, keys: list[str] | None) -> tuple[int, int, str]:
    """`source_checksum` over rowid ranges, one per core, each on its own DuckDB cursor: DuckDB reads
    one SQLite query on one thread, and the sums simply add up."""
    def one(where: str) -> tuple[int, int, str]:
        cursor = src.cursor()  # a DuckDB connection is not for two threads at once
        canonical.register(cursor)
        convert.register(cursor)
        try:
            return source_checksum(cursor, TableRead(table, bad_text, where), keys)
        finally:
            cursor.close()

    cursor = src.cursor()
    try:
        ranges = rowid_ranges(cursor, table, os.cpu_count() or 1)
    finally:
        cursor.close()
    with ThreadPoolExecutor(len(ranges)) as pool:
        parts = list(pool.map(one, ranges))
    return sum(p[0] for p in parts), sum(p[1] for p in parts), str(sum(int(p[2]) for p in parts))


def source_checksum(src, read: TableRead, rejected_keys: list[str] | None) -> tuple[int, int, str]:
    """(source rows, rejected rows, checksum of the rest) in DuckDB. `rejected_keys` are the keys the
    load recorded as rejected; None when there is no such record (no load run, or a table without
    keys), and then the conversions themselves decide which rows cannot load."""
    if rejected_keys is None:
        out = read.rejected_filter(True)
    elif rejected_keys:
        src.execute("CREATE OR REPLACE TEMP TABLE rejected (k VARCHAR)")
        src.executemany("INSERT INTO rejected VALUES (?)", [[k] for k in rejected_keys])
        out = "(CAST(s.__key AS VARCHAR) IN (SELECT k FROM rejected))"
    else:
        out = "FALSE"  # nothing was rejected: any row that would be now makes the sums differ
    row = src.execute(
        f"SELECT count(*), count_if({out}), coalesce(sum(CASE WHEN NOT {out} THEN "
        f"CAST('0x' || left(md5({canonical.source_row_expr(read)}), 15) AS BIGINT) END), 0) FROM {read.relation()}"
    ).fetchone()
    return int(row[0]), int(row[1]), str(row[2])


def target_checksum(conn: psycopg.Connection, schema: str, table: TablePlan) -> tuple[int, str]:
    row = conn.execute(sql.SQL(
        "SELECT count(*), coalesce(sum(('x' || left(md5({}), 15))::bit(60)::bigint), 0) FROM {}"
    ).format(canonical.target_row_expr(table), sql.Identifier(schema, table.target))).fetchone()
    return int(row[0]), str(row[1])


def loaded_by(conn: psycopg.Connection, schema: str, table: TablePlan) -> str | None:
    """The run that last loaded the table, from the runbook's state in the target."""
    if conn.execute("SELECT to_regclass(%s)", [f"{STATE_SCHEMA}.tables"]).fetchone()[0] is None:
        return None
    row = conn.execute(sql.SQL("SELECT run FROM {}.tables WHERE schema_name = %s AND table_name = %s").format(
        sql.Identifier(STATE_SCHEMA)), [schema, table.target]).fetchone()
    return row[0] if row else None


def rejected_keys(conn: psycopg.Connection, run: str, table: TablePlan) -> list[str] | None:
    """Keys of the rows the load run `run` rejected; None when that cannot tell which rows they were."""
    if not run or not (table.has_rowid or table.primary_key):
        return None
    if conn.execute("SELECT to_regclass(%s)", [f"{STATE_SCHEMA}.rejects"]).fetchone()[0] is None:
        return []
    keys = [r[0] for r in conn.execute(sql.SQL(
        "SELECT source_key FROM {}.rejects WHERE run = %s AND table_name = %s"
    ).format(sql.Identifier(STATE_SCHEMA)), [run, table.target])]
    return None if any(k is None for k in keys) else keys


def verify_all(plan: Plan, target: Target, params: Params, *, source_path, run: str = "") -> VerifyResult:
    """Every table's counts and checksums; `run` is the load run whose rejected rows are accounted for.

    Per table the Postgres side and the DuckDB side are computed at the same time (a thread for
    each), and `params.workers` tables at once."""
    started = time.monotonic()
    result = VerifyResult(fail_on_rejects=params.fail_on_rejects)
    src = open_source(source_path)
    src.execute("SET threads = 1")  # parallel by rowid ranges instead (one SQLite read is one thread)

    def check(table: TablePlan) -> TableCheck:
        t0 = time.monotonic()
        with connect(target.direct_url, params, autocommit=True) as conn, ThreadPoolExecutor(1) as side:
            keys = rejected_keys(conn, loaded_by(conn, plan.schema, table) or run, table)
            on_target = side.submit(target_checksum, conn, plan.schema, table)
            n_src, n_rejected, sum_src = source_checksum_parallel(src, table, plan.bad_text, keys)
            try:
                n_tgt, sum_tgt = on_target.result()
                problem = ""
            except psycopg.Error as exc:
                n_tgt, sum_tgt, problem = None, None, scrub(str(exc).splitlines()[0], target.secrets)
        return TableCheck(table.source, table.target, n_src, n_tgt, sum_src, sum_tgt, time.monotonic() - t0,
                          problem, n_rejected, table.changed_values(plan.bad_text))

    try:
        with ThreadPoolExecutor(max(1, params.workers)) as pool:
            result.tables = list(pool.map(check, plan.tables))
    except psycopg.Error as exc:
        raise TargetError(f"verification could not read the target: {scrub(str(exc).splitlines()[0], target.secrets)}") from None
    finally:
        src.close()
    result.seconds = time.monotonic() - started
    return result


def step(params: Params) -> VerifyResult:
    """The verify notebook's work: checksums of every planned table, kept in the run directory."""
    from . import record
    from .config import resolve_path
    from .connect import resolve_target
    from .plan import plan_for

    plan = plan_for(params)
    run_dir = record.run_dir_for(params)
    loaded = record.read(run_dir, "load.json")
    run = json.loads(loaded).get("run", "") if loaded else ""
    target = resolve_target(params)
    source = resolve_path(params.sqlite_path)
    result = verify_all(plan, target, params, source_path=source, run=run)
    mark_verified(target, params, plan, [t.target for t in result.tables if t.passed], source)
    record.write(run_dir, "verify.json", result.to_json())
    return result


def mark_verified(target: Target, params: Params, plan: Plan, tables: list[str], source_path) -> None:
    """Record in the target which tables verified, for the same source they were loaded from."""
    from .load import fingerprint

    if not tables:
        return
    with connect(target.direct_url, params, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass(%s)", [f"{STATE_SCHEMA}.tables"]).fetchone()[0] is None:
            return
        for t in plan.tables:
            if t.target in tables:
                conn.execute(sql.SQL(
                    "UPDATE {}.tables SET status = 'verified', updated_at = now() "
                    "WHERE schema_name = %s AND table_name = %s AND fingerprint = %s"
                ).format(sql.Identifier(STATE_SCHEMA)), [plan.schema, t.target, fingerprint(t, source_path)])


def timestamp_histograms(params: Params) -> dict:
    """Rows per month of every timestamptz column, counted on both sides: {"table.column": frame}."""
    import pandas as pd

    from .config import resolve_path
    from .connect import resolve_target
    from .plan import plan_for

    plan = plan_for(params)
    target = resolve_target(params)
    out = {}
    src = open_source(resolve_path(params.sqlite_path))
    from . import convert

    convert.register(src)
    try:
        with connect(target.direct_url, params, autocommit=True) as conn:
            for table in plan.tables:
                read = TableRead(table, plan.bad_text)
                for i, col in enumerate(table.columns):
                    if col.pg_type != "timestamptz":
                        continue
                    v = read.converted[i].value
                    source = src.execute(
                        f"SELECT strftime(date_trunc('month', {v}), '%Y-%m') AS month, count(*) AS n "
                        f"FROM {read.relation()} WHERE {v} IS NOT NULL AND {read.rejected_filter(False)} GROUP BY 1"
                    ).fetchall()
                    target_rows = conn.execute(sql.SQL(
                        "SELECT to_char(date_trunc('month', {c} AT TIME ZONE 'UTC'), 'YYYY-MM'), count(*) "
                        "FROM {t} WHERE {c} IS NOT NULL GROUP BY 1"
                    ).format(c=sql.Identifier(col.target), t=sql.Identifier(plan.schema, table.target))).fetchall()
                    frame = pd.DataFrame(source, columns=["month", "source"]).merge(
                        pd.DataFrame(target_rows, columns=["month", "target"]), on="month", how="outer"
                    ).fillna(0).sort_values("month")
                    out[f"{table.target}.{col.target}"] = frame.reset_index(drop=True)
    finally:
        src.close()
    return out
