"""Step 03, load: every table streamed out of DuckDB and into Postgres with COPY.

Rows leave DuckDB in Arrow batches already converted (the conversions are DuckDB SQL), are
written as CSV by Arrow and handed to psycopg's `Copy.write`: no Python touches a row.

    >>> result = load_all(plan, target, params)
    >>> result.tables[0].rows_per_second
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import duckdb
import psycopg
from psycopg import sql
from pyarrow import csv as arrow_csv

from .config import Params
from .connect import Target, connect, scrub
from .errors import DryRunStop, SourceError, TargetError, TargetNotEmpty
from .plan import Plan, TablePlan, copy_select, existing_tables
from .source import open_source

_CSV = arrow_csv.WriteOptions(include_header=False)


@dataclass
class TableLoad:
    source: str
    target: str
    rows: int
    seconds: float
    bytes: int
    index_seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


@dataclass
class LoadResult:
    tables: list[TableLoad] = field(default_factory=list)
    seconds: float = 0.0
    statements: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "LoadResult":
        raw = json.loads(text)
        return cls([TableLoad(**t) for t in raw["tables"]], raw["seconds"], raw["statements"])


def filled_tables(conn: psycopg.Connection, plan: Plan) -> dict[str, int]:
    """Target tables of the plan that exist and hold at least one row: name -> row count."""
    existing = existing_tables(conn, plan.schema)
    out = {}
    for t in plan.tables:
        if t.target in existing:
            n = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(plan.schema, t.target))).fetchone()[0]
            if n:
                out[t.target] = n
    return out


def if_exists_for(params: Params, target: Target) -> str:
    """`fail` protects tables someone else filled; the embedded server is the runbook's own scratch
    target, so there tables from an earlier run are replaced instead."""
    if params.if_exists == "fail" and target.kind == "embedded":
        return "truncate"
    return params.if_exists


def refuse_filled(filled: dict[str, int], if_exists: str) -> None:
    if filled and if_exists == "fail":
        listed = ", ".join(f"{k} ({v} rows)" for k, v in filled.items())
        raise TargetNotEmpty(
            f"target table(s) already hold rows: {listed}; nothing was changed. "
            "Set if_exists to truncate (replace them) or append (add to them) to proceed"
        )


def load_all(plan: Plan, target: Target, params: Params, *, source_path,
             progress: Callable[[TablePlan], object] | None = None) -> LoadResult:
    """Create the tables, load each in its own transaction, then keys, indexes, foreign keys, ANALYZE."""
    started = time.monotonic()
    result = LoadResult()
    src = open_source(source_path)
    try:
        with connect(target.direct_url, params, autocommit=True) as conn:
            if_exists = if_exists_for(params, target)
            refuse_filled(filled_tables(conn, plan), if_exists)
            _run(conn, sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(plan.schema)), result, target)
            existing = [t for t in plan.tables if t.exists]
            # truncate replaces the tables in one transaction (they are truncated together, as one
            # referenced by another's foreign key cannot be truncated alone): a failure keeps the old rows.
            replacing = conn.transaction() if if_exists == "truncate" and existing else contextlib.nullcontext()
            with replacing:
                if if_exists == "truncate" and existing:
                    _run(conn, sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(
                        sql.Identifier(plan.schema, t.target) for t in existing)), result, target)
                for table in plan.tables:
                    bar = progress(table) if progress else None
                    try:
                        result.tables.append(load_table(src, conn, plan, table, params, bar, target, result))
                    finally:
                        if bar is not None:
                            bar.close()
            present = {r[0] for r in conn.execute(
                "SELECT conname FROM pg_constraint WHERE connamespace = %s::regnamespace", [plan.schema])}
            for name, stmt in plan.foreign_keys():
                if name not in present:  # an earlier run may have built it
                    _run(conn, stmt, result, target)
            for table in plan.tables:
                _set_identity(conn, plan, table, result, target)
                _run(conn, sql.SQL("ANALYZE {}").format(sql.Identifier(plan.schema, table.target)), result, target)
    finally:
        src.close()
    result.seconds = time.monotonic() - started
    return result


def load_table(src, conn: psycopg.Connection, plan: Plan, table: TablePlan, params: Params, bar,
               target: Target, result: LoadResult) -> TableLoad:
    """One table in one transaction (a savepoint inside a truncate's): CREATE TABLE if needed, COPY
    from DuckDB's Arrow batches, then its primary key and indexes. It is all there, or none of it."""
    started = time.monotonic()
    rows = 0
    sent = 0
    qualified = sql.Identifier(plan.schema, table.target)
    columns = sql.SQL(", ").join(sql.Identifier(c.target) for c in table.columns)
    try:
        with conn.transaction():
            for stmt in plan.creates(table):
                _run(conn, stmt, result, target)
            with conn.cursor().copy(
                sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(qualified, columns)
            ) as copy:
                reader = src.execute(copy_select(table)).to_arrow_reader(params.batch_rows)
                for batch in reader:
                    buf = io.BytesIO()
                    arrow_csv.write_csv(batch, buf, _CSV)
                    data = buf.getbuffer()
                    copy.write(data)
                    rows += batch.num_rows
                    sent += data.nbytes
                    if bar is not None:
                        bar.update(batch.num_rows)
            copied = time.monotonic()
            _build_keys(conn, plan, table, result, target)
    except psycopg.Error as exc:
        raise TargetError(
            f"loading {table.source} into {plan.schema}.{table.target} failed after {rows} rows, "
            f"rolled back: {scrub(_one_line(exc), target.secrets)}"
        ) from None
    except duckdb.Error as exc:
        raise SourceError(
            f"reading {table.source} failed after {rows} rows, nothing of it was kept: {_one_line(exc)}; "
            "check the plan's conversion for that column, or set its type in column_overrides"
        ) from None
    done = time.monotonic()
    return TableLoad(table.source, table.target, rows, copied - started, sent, done - copied)


def _build_keys(conn, plan: Plan, table: TablePlan, result: LoadResult, target: Target) -> None:
    """Primary key and indexes after the data, skipping any an earlier run already built."""
    present = {r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind = 'i'", [plan.schema])}
    for name, stmt in plan.keys_and_indexes(table):
        if name not in present:
            _run(conn, stmt, result, target)


def _set_identity(conn, plan: Plan, table: TablePlan, result: LoadResult, target: Target) -> None:
    """Set an identity column's sequence to the highest id, so the app's next insert gets max + 1."""
    col = table.identity_column
    if col is None:
        return
    qualified = sql.Identifier(plan.schema, table.target)
    _run(conn, sql.SQL(
        "SELECT setval(pg_get_serial_sequence({}, {}), coalesce(max({}), 0) + 1, false) FROM {}"
    ).format(
        sql.Literal(f"{sql.Identifier(plan.schema).as_string(None)}.{sql.Identifier(table.target).as_string(None)}"),
        sql.Literal(col.target), sql.Identifier(col.target), qualified,
    ), result, target)


def _run(conn, stmt: sql.Composable, result: LoadResult, target: Target) -> None:
    text = stmt.as_string(conn)
    try:
        conn.execute(stmt)
    except psycopg.Error as exc:
        raise TargetError(f"{text.split(chr(10))[0][:120]} failed: {scrub(_one_line(exc), target.secrets)}") from None
    result.statements.append(text)


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(lines[:2]) if lines else type(exc).__name__


def step(params: Params) -> LoadResult:
    """The load notebook's work: the plan from the run directory, loaded into the target."""
    from tqdm.auto import tqdm

    from . import record
    from .connect import resolve_target
    from .config import resolve_path
    from .plan import plan_for

    if params.dry_run:
        raise DryRunStop("dry_run is set: the runbook stops after the plan, and nothing was written to the target")
    run_dir = record.run_dir_for(params)
    plan = plan_for(params)
    target = resolve_target(params)

    def progress(table: TablePlan):
        return tqdm(total=table.rows, desc=table.target, unit=" rows", unit_scale=True, smoothing=0.1)

    result = load_all(plan, target, params, source_path=resolve_path(params.sqlite_path), progress=progress)
    record.write(run_dir, "load.json", result.to_json())
    return result
