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
import time
from dataclasses import asdict, dataclass, field

import psycopg
from psycopg import sql

from . import canonical
from .config import Params
from .connect import Target, connect, scrub
from .errors import TargetError, VerificationFailed
from .plan import Plan, TablePlan, source_relation, typed_value
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

    @property
    def counts_match(self) -> bool:
        return self.source_rows == self.target_rows

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

    @property
    def passed(self) -> bool:
        return bool(self.tables) and all(t.passed for t in self.tables)

    def summary_tables(self) -> list[dict]:
        return [
            {"source": t.source, "target": t.target, "source_rows": t.source_rows,
             "target_rows": t.target_rows, "checksum_match": t.checksum_match}
            for t in self.tables
        ]

    def to_json(self) -> str:
        return json.dumps({"passed": self.passed, "seconds": self.seconds,
                           "tables": [asdict(t) | {"checksum_match": t.checksum_match} for t in self.tables]}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "VerifyResult":
        raw = json.loads(text)
        return cls([TableCheck(**{k: v for k, v in t.items() if k != "checksum_match"}) for t in raw["tables"]], raw["seconds"])

    def raise_for_failure(self) -> None:
        if not self.passed:
            bad = [t.target for t in self.tables if not t.passed]
            raise VerificationFailed(f"verification failed for {', '.join(bad) or 'no table'}: source and target differ")

    def frame(self):
        import pandas as pd

        return pd.DataFrame([
            {"table": t.target, "source rows": t.source_rows, "target rows": t.target_rows,
             "checksum": "match" if t.checksum_match else "DIFFERS", "verdict": "PASS" if t.passed else "FAIL",
             "problem": t.problem}
            for t in self.tables
        ])


def source_checksum(src, table: TablePlan) -> tuple[int, str]:
    row = src.execute(
        f"SELECT count(*), coalesce(sum(CAST('0x' || left(md5({canonical.source_row_expr(table)}), 15) AS BIGINT)), 0) "
        f"FROM {source_relation(table)}"
    ).fetchone()
    return int(row[0]), str(row[1])


def target_checksum(conn: psycopg.Connection, schema: str, table: TablePlan) -> tuple[int, str]:
    row = conn.execute(sql.SQL(
        "SELECT count(*), coalesce(sum(('x' || left(md5({}), 15))::bit(60)::bigint), 0) FROM {}"
    ).format(canonical.target_row_expr(table), sql.Identifier(schema, table.target))).fetchone()
    return int(row[0]), str(row[1])


def verify_all(plan: Plan, target: Target, params: Params, *, source_path) -> VerifyResult:
    started = time.monotonic()
    result = VerifyResult()
    src = open_source(source_path)
    canonical.register(src)
    try:
        with connect(target.direct_url, params, autocommit=True) as conn:
            for table in plan.tables:
                t0 = time.monotonic()
                n_src, sum_src = source_checksum(src, table)
                try:
                    n_tgt, sum_tgt = target_checksum(conn, plan.schema, table)
                    problem = ""
                except psycopg.Error as exc:
                    n_tgt, sum_tgt, problem = None, None, scrub(str(exc).splitlines()[0], target.secrets)
                result.tables.append(TableCheck(
                    table.source, table.target, n_src, n_tgt, sum_src, sum_tgt, time.monotonic() - t0, problem))
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
    result = verify_all(plan, resolve_target(params), params, source_path=resolve_path(params.sqlite_path))
    record.write(record.run_dir_for(params), "verify.json", result.to_json())
    return result


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
    try:
        with connect(target.direct_url, params, autocommit=True) as conn:
            for table in plan.tables:
                for col in table.columns:
                    if col.pg_type != "timestamptz":
                        continue
                    v = typed_value(table, col)
                    source = src.execute(
                        f"SELECT strftime(date_trunc('month', {v}), '%Y-%m') AS month, count(*) AS n "
                        f"FROM {source_relation(table)} WHERE {v} IS NOT NULL GROUP BY 1"
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
