"""Step 04, verify: every table reconciled by key (`reconcile.py`): row counts and content
checksums per key bucket, computed where the data lives (DuckDB over SQLite, SQL on Postgres) over
the same canonical form (`canonical.py`); where a bucket differs, the differing rows by key, and for
a changed row the columns with both values.

    >>> result = verify_all(plan, target, params, source_path=Path("data/demo.db"))
    >>> result.passed
    True
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import psycopg
from psycopg import sql

from .config import Params
from .connect import Target, connect, scrub
from .errors import TargetError, VerificationFailed
from .convert import TableRead
from .reconcile import reconcile_table
from .load import STATE_SCHEMA
from .plan import Plan, TablePlan
from .source import open_source


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
    buckets: int = 0
    differing_buckets: int = 0
    differences_total: int = 0
    differences: list[dict] = field(default_factory=list)  # the first ones: kind, key, source_key, columns
    complete: bool = True  # every differing row was found (False: too many to fetch; the total is a lower bound)
    nulls: dict[str, list[int]] = field(default_factory=dict)  # column -> [SQLite NULLs, Postgres NULLs]

    @property
    def counts_match(self) -> bool:
        """Every source row is accounted for: loaded, or rejected with a reason."""
        return self.target_rows is not None and self.source_rows == self.target_rows + self.rejected_rows

    @property
    def checksum_match(self) -> bool:
        return self.counts_match and self.source_checksum == self.target_checksum and not self.differing_buckets

    @property
    def passed(self) -> bool:
        return self.checksum_match and not self.problem

    def describe(self) -> str:
        """The differences in words, for the one-line error: table, key, kind and columns."""
        if self.problem:
            return self.problem
        shown = []
        for d in self.differences[:3]:
            cols = ", ".join(f"{c['column']} (SQLite {c['source']!r}, Postgres {c['target']!r})" for c in d["columns"])
            shown.append(f"key {d['key']} {d['kind']}" + (f": {cols}" if cols else ""))
        more = self.differences_total - len(shown)
        total = f"{self.differences_total}{'' if self.complete else '+'} row(s) differ"
        return total + (f": {'; '.join(shown)}" if shown else "") + (f"; and {more} more" if more > 0 else "")


@dataclass
class VerifyResult:
    tables: list[TableCheck] = field(default_factory=list)
    seconds: float = 0.0
    fail_on_rejects: bool = True
    mode: str = "full"
    sample_fraction: float = 1.0

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
             "target_rows": t.target_rows, "rejected_rows": t.rejected_rows, "checksum_match": t.checksum_match,
             "differences": t.differences_total}
            for t in self.tables
        ]

    def to_json(self) -> str:
        return json.dumps({"passed": self.passed, "seconds": self.seconds, "fail_on_rejects": self.fail_on_rejects,
                           "mode": self.mode, "sample_fraction": self.sample_fraction,
                           "tables": [asdict(t) | {"checksum_match": t.checksum_match} for t in self.tables]},
                          indent=2)

    @classmethod
    def from_json(cls, text: str) -> "VerifyResult":
        raw = json.loads(text)
        return cls([TableCheck(**{k: v for k, v in t.items() if k != "checksum_match"}) for t in raw["tables"]],
                   raw["seconds"], raw.get("fail_on_rejects", True), raw.get("mode", "full"),
                   raw.get("sample_fraction", 1.0))

    def raise_for_failure(self) -> None:
        bad = [t for t in self.tables if not t.passed]
        if bad:
            raise VerificationFailed("verification failed, source and target differ: "
                                     + " | ".join(f"{t.target}: {t.describe()}" for t in bad))
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
             "checksum": "match" if t.checksum_match else "DIFFERS", "rows differing": t.differences_total,
             "verdict": "PASS" if t.passed else "FAIL", "problem": t.problem}
            for t in self.tables
        ])

    def differences_frame(self):
        """Every listed differing row: table, key, kind, and per changed column both values."""
        import pandas as pd

        rows = []
        for t in self.tables:
            for d in t.differences:
                for c in d["columns"] or [{"column": "", "source": None, "target": None}]:
                    rows.append({"table": t.target, "key": d["key"], "kind": d["kind"], "column": c["column"],
                                 "SQLite": c["source"], "Postgres": c["target"]})
        return pd.DataFrame(rows, columns=["table", "key", "kind", "column", "SQLite", "Postgres"])


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
    """Every table reconciled (`reconcile.py`); `run` is the load run whose rejected rows are
    accounted for when the target does not say which run loaded a table.

    `params.workers` tables at once; per table the Postgres side and the DuckDB side at the same time."""
    started = time.monotonic()
    sample = params.sample_fraction if params.verify == "sample" else None
    result = VerifyResult(fail_on_rejects=params.fail_on_rejects, mode=params.verify,
                          sample_fraction=sample if sample is not None else 1.0)
    src = open_source(source_path)
    src.execute("SET threads = 1")  # parallel by rowid ranges instead (one SQLite read is one thread)

    def check(table: TablePlan) -> TableCheck:
        t0 = time.monotonic()
        with connect(target.direct_url, params, autocommit=True) as conn:
            keys = rejected_keys(conn, loaded_by(conn, plan.schema, table) or run, table)
            d = reconcile_table(src, conn, plan.schema, table, plan.bad_text, keys, sample=sample)
        return TableCheck(
            table.source, table.target, d.source_rows, d.target_rows, d.source_checksum, d.target_checksum,
            time.monotonic() - t0, scrub(d.problem, target.secrets), d.rejected_rows,
            table.changed_values(plan.bad_text), d.buckets, d.differing_buckets, d.differences_total,
            [x.as_record() for x in d.differences], d.complete, d.nulls)

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
    return verify_and_record(plan, resolve_target(params), params, resolve_path(params.sqlite_path), run_dir, run=run)


def verify_and_record(plan: Plan, target: Target, params: Params, source, run_dir, *, run: str) -> VerifyResult:
    """Verify every table, mark the ones that passed in the target's state, keep verify.json."""
    from . import record

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
