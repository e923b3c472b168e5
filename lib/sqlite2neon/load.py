"""Step 03, load: every table streamed out of DuckDB and into Postgres with COPY.

Rows leave DuckDB in Arrow batches already converted (the conversions are DuckDB SQL, see
`convert.py`), are written as CSV by Arrow and handed to psycopg's `Copy.write`: no Python touches a
row. A row whose value does not convert is not loaded: it goes to `_sqlite2neon.rejects` with its
reason, and the rest of the table loads. A batch Postgres refuses anyway is split in halves until
the refused rows are found, and those are rejected with Postgres' own reason.

    >>> result = load_all(plan, target, params, source_path=Path("data/demo.db"))
    >>> result.tables[0].rows_per_second
"""

from __future__ import annotations

import contextlib
import dataclasses
import csv
import hashlib
import io
import json
import queue
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from typing import Callable

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import psycopg
from psycopg import sql
from pyarrow import csv as arrow_csv

from . import convert
from .config import Params
from .connect import Target, connect, scrub
from .errors import DryRunStop, SourceError, TargetError, TargetFull, TargetNotEmpty, one_line
from .plan import Plan, TablePlan, existing_tables
from .source import open_source

_CSV = arrow_csv.WriteOptions(include_header=False)
REJECT_COLUMNS = ["__reject_column", "__reason", "__key", "__raw"]
STATE_SCHEMA = "_sqlite2neon"
DISK_FULL = "53100"  # a full disk, and Neon's project size limit


@dataclass
class Reject:
    table: str
    source_key: str | None
    column: str | None
    original_value: str | None
    reason: str


@dataclass
class TableLoad:
    source: str
    target: str
    rows: int
    seconds: float
    bytes: int
    index_seconds: float = 0.0
    rejected: int = 0
    changed_values: dict[str, int] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def bytes_per_row(self) -> float:
        """COPY bytes sent to Postgres per row loaded (CSV text; over a network, bytes are the limit)."""
        return self.bytes / self.rows if self.rows else 0.0


DERIVED = ("rows_per_second", "mb_per_second", "bytes_per_row")  # in load.json for the reader, not read back


@dataclass
class LoadResult:
    run: str = ""
    tables: list[TableLoad] = field(default_factory=list)
    seconds: float = 0.0
    statements: list[str] = field(default_factory=list)
    not_created: list[str] = field(default_factory=list)  # checks or views Postgres refused, with why
    skipped: dict[str, str] = field(default_factory=dict)  # tables an earlier run finished -> that run
    replaced: dict[str, str] = field(default_factory=dict)  # finished tables loaded again -> why
    committed: list[str] = field(default_factory=list, repr=False)  # as each table commits: "name (rows)"
    # set when the load is interrupted: every table still copying stops at its next batch and rolls back
    cancelled: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    def so_far(self) -> str:
        """How far a load that stopped got, for its error message."""
        done = self.committed + [f"{name} (from {run})" for name, run in self.skipped.items()]
        return f"loaded and kept: {', '.join(done) if done else 'no table'}"

    @property
    def rejected(self) -> int:
        return sum(t.rejected for t in self.tables)

    def to_json(self) -> str:
        raw = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("committed", "cancelled")}
        raw["tables"] = [asdict(t) for t in self.tables]
        for t, table in zip(raw["tables"], self.tables):  # throughput, for the record
            t["rows_per_second"] = round(table.rows_per_second)
            t["mb_per_second"] = round(table.bytes / 1e6 / table.seconds, 2) if table.seconds else 0.0
            t["bytes_per_row"] = round(table.bytes_per_row, 1)
        return json.dumps(raw, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "LoadResult":
        raw = json.loads(text)
        raw["tables"] = [TableLoad(**{k: v for k, v in t.items() if k not in DERIVED})
                         for t in raw["tables"]]
        return cls(**raw)


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


def refuse_filled(filled: dict[str, int], if_exists: str, why: list[str] = ()) -> None:
    """Raise TargetNotEmpty when tables to load hold rows and `if_exists` is `fail`; `why` says why a
    finished table is among them."""
    if filled and if_exists == "fail":
        listed = ", ".join(f"{k} ({v} rows)" for k, v in filled.items())
        because = f" ({'; '.join(why)})" if why else ""
        raise TargetNotEmpty(
            f"target table(s) already hold rows: {listed}{because}; nothing was changed. "
            "Set if_exists to truncate (replace them) or append (add to them) to proceed"
        )


def ensure_state_schema(conn: psycopg.Connection) -> None:
    """The runbook's own schema in the target: the rejected rows, and each table's state."""
    conn.execute(sql.SQL(
        "CREATE SCHEMA IF NOT EXISTS {s}; "
        "CREATE TABLE IF NOT EXISTS {s}.rejects (run text NOT NULL, table_name text NOT NULL, source_key text, "
        "column_name text, original_value text, reason text NOT NULL, rejected_at timestamptz NOT NULL DEFAULT now()); "
        "CREATE TABLE IF NOT EXISTS {s}.tables (schema_name text NOT NULL, table_name text NOT NULL, "
        "fingerprint text NOT NULL, run text NOT NULL, rows bigint NOT NULL, status text NOT NULL, "
        "updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (schema_name, table_name))"
    ).format(s=sql.Identifier(STATE_SCHEMA)))


def fingerprint(table: TablePlan, source_path) -> str:
    """What a table's load depends on: its plan and the source file as it is now (size and time of
    its last write, and of its -wal file). Equal fingerprints mean an equal result."""
    from pathlib import Path

    plan_part = {"source": table.source, "target": table.target, "rows": table.rows,
                 "columns": [(c.source, c.target, c.pg_type, c.pg_collation, c.nullable, c.identity, c.convert,
                              c.generated) for c in table.columns],
                 "keys": [table.primary_key, [asdict(ix) for ix in table.indexes], table.checks,
                          [asdict(fk) for fk in table.foreign_keys]]}
    files = [Path(source_path), Path(f"{source_path}-wal")]
    stats = [(f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.exists()]
    return hashlib.sha256(json.dumps([plan_part, stats]).encode()).hexdigest()[:20]


def finished_tables(conn: psycopg.Connection, plan: Plan, prints: dict[str, str]) -> dict[str, str]:
    """Tables an earlier run loaded from this same source with this same plan, still holding exactly
    the rows it loaded: target name -> that run."""
    if conn.execute("SELECT to_regclass(%s)", [f"{STATE_SCHEMA}.tables"]).fetchone()[0] is None:
        return {}
    state = {r[0]: r[1:] for r in conn.execute(sql.SQL(
        "SELECT table_name, fingerprint, run, rows FROM {}.tables WHERE schema_name = %s "
        "AND status IN ('loaded', 'verified')").format(sql.Identifier(STATE_SCHEMA)), [plan.schema])}
    present = existing_tables(conn, plan.schema)
    out = {}
    for t in plan.tables:
        if t.target in state and t.target in present and state[t.target][0] == prints[t.target]:
            n = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(plan.schema, t.target))).fetchone()[0]
            if n == state[t.target][2]:
                out[t.target] = state[t.target][1]
    return out


def keep_finished(plan: Plan, finished: dict[str, str], filled: dict[str, int]) -> tuple[dict[str, str], dict[str, str]]:
    """Which finished tables stay as they are: (kept: name -> run that loaded it, replaced: name -> why).

    A finished table must be loaded again only when it references, directly or through other tables, a
    table that is reloaded and holds rows now: those rows are replaced (TRUNCATE), and Postgres truncates
    a referenced table only together with the tables that reference it. A referenced table that is
    absent or empty (its load was interrupted and rolled back) is simply loaded, and the finished tables
    that reference it are kept, whatever the foreign-key order."""
    kept = dict(finished)
    replaced: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for t in plan.tables:
            if t.target not in kept:
                continue
            for fk in t.foreign_keys:
                if fk.ref_table not in kept and fk.ref_table != t.target and filled.get(fk.ref_table):
                    why = (f"it references {fk.ref_table}, which is reloaded "
                           f"({'it is replaced too' if fk.ref_table in replaced else 'it holds rows no finished load accounts for'}), "
                           "and a referenced table is replaced only together with the tables that reference it")
                    replaced[t.target] = f"{t.target} (finished by run {kept.pop(t.target)}) is loaded again: {why}"
                    changed = True
                    break
    return kept, replaced


def _record_state(conn, plan: Plan, table: TablePlan, fingerprint_: str, run: str, rows: int) -> None:
    conn.execute(sql.SQL(
        "INSERT INTO {}.tables (schema_name, table_name, fingerprint, run, rows, status) "
        "VALUES (%s, %s, %s, %s, %s, 'loaded') ON CONFLICT (schema_name, table_name) DO UPDATE SET "
        "fingerprint = excluded.fingerprint, run = excluded.run, rows = excluded.rows, status = 'loaded', "
        "updated_at = now()").format(sql.Identifier(STATE_SCHEMA)),
        [plan.schema, table.target, fingerprint_, run, rows])


def load_all(plan: Plan, target: Target, params: Params, *, source_path, run: str = "",
             progress: Callable[[TablePlan], object] | None = None) -> LoadResult:
    """Create and load each table in its own transaction, then foreign keys, checks, views, ANALYZE.

    Tables the runbook creates load `params.workers` at a time, each on its own connection (their
    foreign keys come after all of them); tables that already exist load one after another, in
    foreign-key order, as their keys are already in force."""
    started = time.monotonic()
    result = LoadResult(run=run)
    src = open_source(source_path)
    # One DuckDB thread per table: Postgres' backends need the other cores more than DuckDB does.
    src.execute("SET threads = 1")
    convert.register(src)
    try:
        with connect(target.direct_url, params, autocommit=True) as conn:
            if_exists = if_exists_for(params, target)
            prints = {t.target: fingerprint(t, source_path) for t in plan.tables}
            filled = filled_tables(conn, plan)
            result.skipped, result.replaced = keep_finished(plan, finished_tables(conn, plan, prints), filled)
            todo = [t for t in plan.tables if t.target not in result.skipped]
            if if_exists == "append" and any(t.replace for t in todo):  # a plan made with another if_exists
                raise TargetError(f"the plan replaces {', '.join(t.target for t in todo if t.replace)} (dropped and "
                                  "made again), which if_exists append does not allow; nothing was changed. Run the "
                                  "plan step again with if_exists append")
            refuse_filled({k: v for k, v in filled.items() if k not in result.skipped}, if_exists,
                          list(result.replaced.values()))
            _run(conn, sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(plan.schema)), result, target)
            ensure_state_schema(conn)
            _run_target_ddl(conn, plan, params, result, target)
            try:
                _load_tables(src, conn, plan, todo, params, target, result, progress, prints, if_exists)
            except TargetFull as exc:
                raise TargetFull(f"{exc}; {result.so_far()}; free space (or raise the storage limit), then re-run "
                                 "with the same parameters: kept tables are skipped, the rest loaded") from None
            _finish(conn, plan, params, target, result)
            _create_views(conn, plan, result, target)
    finally:
        src.close()
    result.seconds = time.monotonic() - started
    return result


def _create_views(conn, plan: Plan, result: LoadResult, target: Target) -> None:
    """Every translated view, in one transaction: those an earlier run created (marked by their
    comment) are dropped first, readers before what they read, so a view whose columns or query
    changed is made anew (CREATE OR REPLACE VIEW cannot drop or rename a column, PostgreSQL docs,
    CREATE VIEW); then each is created and marked. A view Postgres refuses raises TargetError naming
    it, and every view stays as it was. A view someone else made is replaced only where CREATE OR
    REPLACE can, else the error says so."""
    from .plan import VIEW_MARK

    planned = plan.view_ddl()
    if not planned:
        return
    present = dict(conn.execute(
        "SELECT c.relname, coalesce(obj_description(c.oid, 'pg_class'), '') FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'v'", [plan.schema]))
    ours = {name for name, comment in present.items() if comment.startswith(VIEW_MARK)}
    with conn.transaction():
        for view, _ in reversed(planned):
            if view.target in ours:
                _run(conn, sql.SQL("DROP VIEW {}").format(sql.Identifier(plan.schema, view.target)), result, target)
        for view, stmt in planned:
            try:
                _run(conn, stmt, result, target)
            except TargetError as exc:
                mine = "" if view.target in ours or view.target not in present else (
                    f"; {plan.schema}.{view.target} exists and was not created by this runbook: drop or rename it")
                raise TargetError(f"view {view.source} could not be created, no view was changed: {exc}{mine}") from None
            _run(conn, sql.SQL("COMMENT ON VIEW {} IS {}").format(
                sql.Identifier(plan.schema, view.target), sql.Literal(VIEW_MARK + view.source)), result, target)


def _finish(conn, plan: Plan, params: Params, target: Target, result: LoadResult) -> None:
    """What makes every table finished, for every table of the plan, loaded now or by an earlier run:
    keys, indexes and checks (built with the rows; a table from an older run may lack some), foreign
    keys, sequences past the highest id, ANALYZE. Each is skipped where it is already true, so a run
    that stopped after a table was recorded as loaded is completed by the next one."""
    loaded_now = {t.target for t in result.tables}
    for table in plan.tables:
        if table.target not in loaded_now:
            _build_keys(conn, plan, table, result, target)
    present = _constraint_names(conn, plan.schema)
    for name, stmt in plan.foreign_keys():
        if name not in present:  # an earlier run may have built it
            _run(conn, stmt, result, target)
    for stmt in plan.full_text_ddl():  # full_text: tsvector, computed by Postgres from the rows loaded
        _run(conn, stmt, result, target)
    for table in plan.tables:
        _set_identity(conn, plan, table, result, target)
        _run(conn, sql.SQL("ANALYZE {}").format(sql.Identifier(plan.schema, table.target)), result, target)


def _load_tables(src, conn, plan: Plan, todo: list[TablePlan], params: Params, target: Target, result: LoadResult,
                 progress, prints: dict[str, str], if_exists: str) -> None:
    existing = [t for t in todo if t.exists]
    if existing:
        # truncate replaces the tables in one transaction (they are truncated together, as one
        # referenced by another's foreign key cannot be truncated alone): a failure keeps the old rows.
        replacing = conn.transaction() if if_exists == "truncate" else contextlib.nullcontext()
        with replacing:
            truncated = [t for t in existing if not t.replace]  # a replaced table is dropped instead
            if if_exists == "truncate" and truncated:
                _run(conn, sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(
                    sql.Identifier(plan.schema, t.target) for t in truncated)), result, target)
            for table in todo:
                result.tables.append(_load_with_progress(src, conn, plan, table, params, target, result,
                                                         progress, prints[table.target]))
    else:
        result.tables += _load_in_parallel(src, conn, plan, todo, params, target, result, progress, prints)


def _load_with_progress(src, conn, plan, table, params, target, result, progress, print_: str) -> "TableLoad":
    bar = progress(table) if progress else None
    try:
        loaded = load_table(src, conn, plan, table, params, bar, target, result, print_)
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:  # committed, not in a truncate's
            result.committed.append(f"{table.target} ({loaded.rows} rows)")
        return loaded
    finally:
        if bar is not None:
            bar.close()


def _load_in_parallel(src, conn, plan: Plan, tables: list[TablePlan], params: Params, target: Target,
                      result: LoadResult, progress, prints: dict[str, str]) -> list["TableLoad"]:
    """New tables, `params.workers` at a time, each with its own DuckDB cursor and Postgres connection
    (`workers` + 1 connections with the idle main one `conn`). One at a time, they use `conn`: with
    `workers 1` the load needs a single connection, which is what a nearly full server has."""

    def one(table: TablePlan, main=None) -> TableLoad:
        cursor = src.cursor()
        convert.register(cursor)
        try:
            with contextlib.nullcontext(main) if main else connect(target.direct_url, params, autocommit=True) as own:
                return _load_with_progress(cursor, own, plan, table, params, target, result, progress,
                                           prints[table.target])
        finally:
            cursor.close()

    if params.workers <= 1 or len(tables) <= 1:
        return [one(t, conn) for t in tables]
    with ThreadPoolExecutor(max_workers=params.workers) as pool:
        try:
            return list(pool.map(one, tables))
        except BaseException:  # Ctrl-C reaches this thread only: the others stop at their next batch
            result.cancelled.set()
            raise


def _run_target_ddl(conn, plan: Plan, params: Params, result: LoadResult, target: Target) -> None:
    """Run the `target_ddl` file for real, when the tables it creates are not there yet."""
    if not params.target_ddl:
        return
    from pathlib import Path

    from .config import resolve_path

    present = existing_tables(conn, plan.schema)
    if all(t.target in present for t in plan.tables if t.exists):
        return
    from .plan import run_target_ddl

    ddl = Path(resolve_path(params.target_ddl)).read_text()
    try:
        with conn.transaction():
            run_target_ddl(conn, plan.schema, ddl)
    except psycopg.Error as exc:
        raise TargetError(f"target_ddl {params.target_ddl} failed: {scrub(one_line(exc), target.secrets)}") from None
    conn.execute("RESET search_path")  # a SET in the file outlives its transaction
    result.statements.append(ddl)


def load_table(src, conn: psycopg.Connection, plan: Plan, table: TablePlan, params: Params, bar,
               target: Target, result: LoadResult, print_: str = "",
               drop: dict[int, tuple[str | None, str, str]] | None = None) -> TableLoad:
    """One table in one transaction (a savepoint inside a truncate's): CREATE TABLE if needed, COPY
    from DuckDB's Arrow batches, rejects recorded, then its primary key, indexes and checks. It is all
    there, or none of it. A thread reads and converts the next batches while Postgres ingests.

    Values SQLite keeps apart may be one value in Postgres once converted ('a\\0b' and 'a\ufffdb' under
    bad_text replace, 0 and 'f' as boolean, two texts of one instant): when a unique key then fails, the
    table is rolled back, the rows that collide are found with Postgres' own equality (`_collisions`),
    and the table is loaded again with each such row but the first (in SQLite's order) rejected,
    naming the key (`drop`: the row's place among the converted rows -> (column, value, reason)). A
    table without collisions pays nothing for it."""
    started = time.monotonic()
    rows = sent = 0
    found: list[Reject] = []
    qualified = sql.Identifier(plan.schema, table.target)
    loaded = [c for c in table.columns if c.generated is None]
    columns = sql.SQL(", ").join(sql.Identifier(c.target) for c in loaded)
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(qualified, columns)
    fast_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, FREEZE)").format(qualified, columns)
    read = convert.TableRead(table, params.bad_text)
    try:
        with conn.transaction():
            # room to sort the keys in memory when they are built after the data (session only)
            conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
            conn.execute("SET LOCAL TimeZone = 'UTC'")  # the CSV's timestamptz text carries no offset
            creates = _drop_replaced(conn, plan, table) + plan.creates(table)
            try:
                # One COPY for the whole table, the fast way (FREEZE when the table is new in this very
                # savepoint: its rows need no visibility work later); a refused row rolls it back ...
                with conn.transaction():
                    for stmt in creates:
                        _run(conn, stmt, result, target)
                    with conn.cursor().copy(fast_sql if creates else copy_sql) as copy:
                        for chunk in _chunks(src, read, params.batch_rows, drop=drop):
                            _stop_if_cancelled(result, table)
                            found += chunk.rejects
                            copy.write(chunk.csv)
                            sent += chunk.csv.nbytes
                            rows += chunk.batch.num_rows
                            if bar is not None:
                                bar.update(chunk.batch.num_rows + len(chunk.rejects))
            except psycopg.Error as exc:
                if not (exc.sqlstate or "").startswith(("22", "23")):
                    raise
                # ... and the table is read again, batch by batch, each batch split until the refused
                # rows stand alone (see _copy)
                found, rows, sent = [], 0, 0
                if bar is not None:
                    bar.reset()
                for stmt in creates:
                    _run(conn, stmt, result, target)
                for chunk in _chunks(src, read, params.batch_rows, drop=drop):
                    _stop_if_cancelled(result, table)
                    found += chunk.rejects
                    nbytes, nrows = _copy(conn, copy_sql, chunk.batch, chunk.keys, table, found, target, chunk.csv)
                    sent += nbytes
                    rows += nrows
                    if bar is not None:
                        bar.update(chunk.batch.num_rows + len(chunk.rejects))
            _save_rejects(conn, result.run, found)
            copied = time.monotonic()
            try:
                _build_keys(conn, plan, table, result, target, collisions=drop is None)
            except _KeyCollision:  # found now, while the rows are there; the rollback undoes them
                raise _LoadAgain(_collisions(src, conn, plan, table, read, params, found)) from None
            if print_:  # in the same transaction as the rows: the state never claims a rollback
                fresh = not table.exists or table.replace or if_exists_for(params, target) == "truncate"
                _record_state(conn, plan, table, print_, result.run, rows if fresh else _count(conn, plan, table))
    except psycopg.Error as exc:
        if exc.sqlstate == DISK_FULL:
            raise TargetFull(
                f"the target ran out of space loading {plan.schema}.{table.target} after {rows} rows "
                f"(that table was rolled back): {scrub(one_line(exc, 1), target.secrets)}"
            ) from None
        raise TargetError(
            f"loading {table.source} into {plan.schema}.{table.target} failed after {rows} rows, "
            f"rolled back: {scrub(one_line(exc), target.secrets)}"
        ) from None
    except duckdb.Error as exc:
        raise SourceError(
            f"reading {table.source} failed after {rows} rows, nothing of it was kept: {one_line(exc)}"
        ) from None
    except _LoadAgain as again:
        if bar is not None:
            bar.reset()
        return load_table(src, conn, plan, table, params, bar, target, result, print_, drop=again.drop)
    done = time.monotonic()
    return TableLoad(table.source, table.target, rows, copied - started, sent, done - copied,
                     len(found), table.changed_values(plan.bad_text))


def _drop_replaced(conn, plan: Plan, table: TablePlan) -> list[sql.Composed]:
    """The DROP TABLE that comes before a replaced table's CREATE (none for other tables), run in the
    table's transaction. CASCADE when what depends on the table is the plan's own and made again after
    the tables (its views, the foreign keys of the runbook's tables); a view or foreign key of someone
    else's raises TargetError naming it, the table left as it was."""
    if not table.replace or table.target not in existing_tables(conn, plan.schema):
        return []
    q = sql.Identifier(plan.schema, table.target)
    planned_views = {v.target for v in plan.views if v.sql}
    planned_keys = {name for name, _ in plan.foreign_keys()}
    # views reading the table, directly or through other views (pg_rewrite's dependencies), and foreign
    # keys of other tables referencing it (PostgreSQL docs, 5.15 "Dependency Tracking")
    views = conn.execute(
        "WITH RECURSIVE dep(oid) AS (SELECT %s::regclass::oid UNION SELECT r.ev_class FROM pg_depend d "
        "JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid "
        "JOIN dep ON d.refclassid = 'pg_class'::regclass AND d.refobjid = dep.oid WHERE r.ev_class <> dep.oid) "
        "SELECT n.nspname, c.relname FROM dep JOIN pg_class c ON c.oid = dep.oid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE dep.oid <> %s::regclass::oid",
        [q.as_string(conn)] * 2).fetchall()
    keys = conn.execute("SELECT conname FROM pg_constraint WHERE contype = 'f' AND confrelid = %s::regclass "
                        "AND conrelid <> confrelid", [q.as_string(conn)]).fetchall()
    others = [f"view {schema}.{name}" for schema, name in views if schema != plan.schema or name not in planned_views]
    others += [f"foreign key {name}" for (name,) in keys if name not in planned_keys]
    if others:
        raise TargetError(
            f"{plan.schema}.{table.target} (created by an earlier run) is to be made again from the new plan, but "
            f"{', '.join(others)} depend(s) on it and would be lost; the table was left as it was. Drop or change "
            "them, or set if_exists to append to load into the table as it is")
    return [sql.SQL("DROP TABLE {}{}").format(q, sql.SQL(" CASCADE" if views or keys else ""))]


class _KeyCollision(Exception):
    """A unique key (primary key or unique index) of a table loaded now could not be built."""


class _LoadAgain(Exception):
    """The table is rolled back and loaded again, rejecting `drop` (see load_table)."""

    def __init__(self, drop: dict[int, tuple[str | None, str, str]]):
        super().__init__(f"{len(drop)} row(s) collide on a unique key")
        self.drop = drop


COLLISION_ORDER = "__sqlite2neon_place"


def _unique_keys(plan: Plan, table: TablePlan) -> list[tuple[str, list[str], list[sql.Composable], str | None]]:
    """(name, target columns, key expressions, partial condition) of each unique key the load builds,
    in the order it builds them (Plan.keys_and_indexes)."""
    from .plan import pg_name

    built = {name for name, _ in plan.keys_and_indexes(table)}
    out = []
    if table.primary_key and pg_name(f"{table.target}_pkey") in built:
        out.append((pg_name(f"{table.target}_pkey"), list(table.primary_key),
                    [sql.Identifier(c) for c in table.primary_key], None))
    for ix in table.indexes:
        if ix.unique and ix.name in built:
            exprs = [sql.SQL("({})").format(sql.SQL(ix.expressions[i])) if i < len(ix.expressions) and ix.expressions[i]
                     else sql.Identifier(c) for i, c in enumerate(ix.columns)]
            out.append((ix.name, [c for c in ix.columns if c], exprs, ix.where))
    return out


def _collisions(src, conn, plan: Plan, table: TablePlan, read: convert.TableRead, params: Params,
                found: list[Reject]) -> dict[int, tuple[str | None, str, str]]:
    """The rows to reject so that every unique key of `table` can be built: the row's place among the
    rows `_chunks` gives (SQLite's order, rejected rows left out) -> (column, value, reason).

    The converted rows are copied again, with their place, into a temporary table of the target
    table's very columns (types, collations, generated columns), and Postgres groups them by each key:
    a unique index's equality is the key type's btree equality, and rows with a NULL in the key never
    collide (PostgreSQL docs, 11.6 "Unique Indexes"). Then, in SQLite's order, a row loads unless a
    row already loading holds one of its key values: each rejected row names a row that is in Postgres,
    and a row rejected for one key does not keep another from loading. Rows Postgres refused
    (`found`) keep their place and are left out. Runs inside the table's transaction, which is rolled
    back after it. The source keys stay in Arrow (they may not be valid UTF-8); the reason shows the
    kept row's."""
    qualified = sql.Identifier(plan.schema, table.target)
    tmp, place = sql.Identifier("__sqlite2neon_collisions"), sql.Identifier(COLLISION_ORDER)
    conn.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING GENERATED)").format(tmp, qualified))
    conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} bigint").format(tmp, place))
    loaded = [c for c in table.columns if c.generated is None]
    refused = pa.array(sorted({r.source_key for r in found if r.source_key is not None}), pa.string())
    keys: list[pa.Array] = []
    with conn.cursor().copy(sql.SQL("COPY {} ({}, {}) FROM STDIN (FORMAT csv)").format(
            tmp, sql.SQL(", ").join(sql.Identifier(c.target) for c in loaded), place)) as copy:
        for chunk in _chunks(src, read, params.batch_rows):
            start = sum(len(k) for k in keys)
            keys.append(chunk.keys)
            batch = chunk.batch.append_column(COLLISION_ORDER, pa.array(range(start, start + chunk.batch.num_rows), pa.int64()))
            if len(refused):
                batch = batch.filter(pc.invert(pc.is_in(chunk.keys.cast(pa.string()), value_set=refused)))
            copy.write(_csv(batch))
    all_keys = pa.chunked_array(keys, pa.string()) if keys else pa.chunked_array([], pa.string())
    # per key, the rows whose key value another row shares: place -> (group, the value shown), the
    # group named by its first row's place
    keyed = _unique_keys(plan, table)
    groups: list[dict[int, tuple[int, str]]] = []
    for name, columns, exprs, where in keyed:
        present = sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(e) for e in exprs)
        shown = sql.SQL(" || ', ' || ").join(sql.SQL("({})::text").format(e) for e in exprs)
        groups.append({at: (group, value) for at, group, value in conn.execute(sql.SQL(
            "SELECT {place}, grp, shown FROM (SELECT {place}, {shown} AS shown, min({place}) OVER w AS grp, "
            "count(*) OVER w AS n FROM {tmp} WHERE {present}{where} WINDOW w AS (PARTITION BY {exprs})) d "
            "WHERE n > 1").format(
            place=place, shown=shown, tmp=tmp, present=present,
            where=sql.SQL(f" AND ({where})") if where else sql.SQL(""), exprs=sql.SQL(", ").join(exprs)))})
    # in SQLite's order, a row loads unless a row already loading holds one of its key values: every
    # rejected row names a row that is in Postgres (a row rejected for one key frees its other values)
    taken: dict[tuple[int, int], int] = {}
    conflicts: dict[int, tuple[int, int]] = {}  # place -> (key's index, the kept row's place)
    for at in sorted(set().union(*groups) if groups else ()):
        mine = [(i, g[at][0]) for i, g in enumerate(groups) if at in g]
        clash = next(((i, taken[(i, grp)]) for i, grp in mine if (i, grp) in taken), None)
        if clash is None:
            taken.update({(i, grp): at for i, grp in mine})
        else:
            conflicts[at] = clash
    drop: dict[int, tuple[str | None, str, str]] = {}
    if conflicts:
        places = sorted(conflicts)
        kept_keys = all_keys.take(pa.array([conflicts[at][1] for at in places], pa.int64())).cast(pa.binary()).to_pylist()
        for at, kept in zip(places, kept_keys):
            i = conflicts[at][0]
            name, columns = keyed[i][0], keyed[i][1]
            value = groups[i][at][1]
            kept_key = None if kept is None else kept.decode("utf-8", errors="replace")
            drop[at] = (columns[0] if columns else None, value,
                        f"duplicate key: {', '.join(columns) or 'the expression'} ({value}) equals the row with key "
                        f"{kept_key} once converted to Postgres, and {name} is unique (SQLite kept the two apart)")
    conn.execute(sql.SQL("DROP TABLE {}").format(tmp))
    return drop


class LoadCancelled(Exception):
    """The load was interrupted while this thread copied a table: its transaction rolls back."""


def _stop_if_cancelled(result: LoadResult, table: TablePlan) -> None:
    if result.cancelled.is_set():
        raise LoadCancelled(f"{table.target}: the load was interrupted; this table was rolled back")


@dataclass
class _Chunk:
    batch: pa.RecordBatch  # rows to load
    keys: pa.Array  # their source keys, for rows Postgres may refuse
    csv: memoryview
    rejects: list[Reject]


def _csv(batch: pa.RecordBatch) -> memoryview:
    buf = io.BytesIO()
    arrow_csv.write_csv(batch, buf, _CSV)
    return buf.getbuffer()


def _chunks(src, read: convert.TableRead, batch_rows: int, depth: int = 2,
            drop: dict[int, tuple[str | None, str, str]] | None = None):
    """The table's rows as COPY-ready chunks, produced by a thread (DuckDB and Arrow release the GIL)
    at most `depth` ahead of the consumer, so memory stays bounded whatever the table's size. The
    rows whose place (counted over the rows that convert, from 0) `drop` names are rejected with its
    (column, value, reason) (see `_collisions`)."""
    dropped = pa.array(sorted(drop), pa.int64()) if drop else None
    position = 0
    out: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        nonlocal position
        try:
            for batch in src.execute(read.select()).to_arrow_reader(batch_rows):
                if stop.is_set():
                    return
                bad = pc.is_valid(batch.column("__reject_column"))
                rejects = []
                if pc.any(bad).as_py():
                    rejects = _rejects_of(read.table, batch.filter(bad))
                    batch = batch.filter(pc.invert(bad))
                if dropped is not None:
                    places = pa.array(range(position, position + batch.num_rows), pa.int64())
                    position += batch.num_rows
                    hit = pc.is_in(places, value_set=dropped)
                    if pc.any(hit).as_py():
                        rejects = rejects + _rejects_of(read.table, _collided(batch.filter(hit), places.filter(hit), drop))
                        batch = batch.filter(pc.invert(hit))
                keys = batch.column("__key")
                batch = batch.drop_columns(REJECT_COLUMNS)
                out.put(_Chunk(batch, keys, _csv(batch), rejects))
        except BaseException as exc:  # handed to the consumer, which raises it
            out.put(exc)
        finally:
            out.put(None)

    worker = threading.Thread(target=produce, name=f"read {read.table.source}", daemon=True)
    worker.start()
    try:
        while (item := out.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # let a producer blocked on a full queue finish
            try:
                out.get(timeout=0.1)
            except queue.Empty:
                pass
        worker.join()


def _copy(conn, copy_sql, batch: pa.RecordBatch, keys, table: TablePlan, found: list[Reject],
          target: Target, data: memoryview | None = None) -> tuple[int, int]:
    """COPY one batch under a savepoint; when Postgres refuses it, split it until the refused rows
    are alone, and reject those with Postgres' reason. Returns (bytes sent, rows loaded)."""
    if batch.num_rows == 0:
        return 0, 0
    data = data if data is not None else _csv(batch)
    try:
        with conn.transaction():
            with conn.cursor().copy(copy_sql) as copy:
                copy.write(data)
        return data.nbytes, batch.num_rows
    except psycopg.Error as exc:
        if not (exc.sqlstate or "").startswith(("22", "23")):
            raise
        if batch.num_rows == 1:
            column = re.search(r"column (\S+?):", exc.diag.context or "")
            found.append(Reject(table.target, keys[0].as_py(), column.group(1) if column else None,
                                bytes(data).decode(errors="replace").strip()[:1000],
                                "Postgres refused: " + scrub(one_line(exc), target.secrets)))
            return 0, 0
        half = batch.num_rows // 2
        first = _copy(conn, copy_sql, batch.slice(0, half), keys.slice(0, half), table, found, target)
        second = _copy(conn, copy_sql, batch.slice(half), keys.slice(half), table, found, target)
        return first[0] + second[0], first[1] + second[1]


def _collided(batch: pa.RecordBatch, places: pa.Array, drop: dict[int, tuple[str | None, str, str]]) -> pa.RecordBatch:
    """Rows `_collisions` rejects, with its column, value and reason in the reject columns."""
    found = [drop[p] for p in places.to_pylist()]
    for i, name in ((0, "__reject_column"), (2, "__reason"), (1, "__raw")):
        batch = batch.set_column(batch.schema.get_field_index(name), name, pa.array([f[i] for f in found], pa.string()))
    return batch


def _rejects_of(table: TablePlan, batch: pa.RecordBatch) -> list[Reject]:
    rows = batch.select(REJECT_COLUMNS).to_pylist()
    return [Reject(table.target, r["__key"], r["__reject_column"], r["__raw"], r["__reason"]) for r in rows]


def _save_rejects(conn, run: str, found: list[Reject]) -> None:
    if not found:
        return
    with conn.cursor().copy(sql.SQL(
        "COPY {}.rejects (run, table_name, source_key, column_name, original_value, reason) FROM STDIN"
    ).format(sql.Identifier(STATE_SCHEMA))) as copy:
        for r in found:
            copy.write_row([run, r.table, r.source_key, r.column, _no_nul(r.original_value), _no_nul(r.reason)])


def _no_nul(value: str | None) -> str | None:
    return None if value is None else value.replace("\x00", "\\0")


def write_rejects_csv(run_dir, found: list[Reject]) -> None:
    from . import record

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["table", "source_key", "column", "original_value", "reason"])
    for r in found:
        writer.writerow([r.table, r.source_key, r.column, _no_nul(r.original_value), r.reason])
    record.write(run_dir, "rejects.csv", out.getvalue())


def _count(conn, plan: Plan, table: TablePlan) -> int:
    return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(plan.schema, table.target))).fetchone()[0]


def _constraint_names(conn, schema: str) -> set[str]:
    return {r[0] for r in conn.execute(
        "SELECT conname FROM pg_constraint WHERE connamespace = %s::regnamespace", [schema])}


def _build_keys(conn, plan: Plan, table: TablePlan, result: LoadResult, target: Target,
                collisions: bool = False) -> None:
    """Primary key, indexes and CHECK constraints after the data, skipping any an earlier run built.
    A CHECK Postgres refuses is reported, not fatal: SQLite may hold rows its own check never saw.
    With `collisions`, each key is built under a savepoint and one that fails on duplicate values
    raises _KeyCollision, the transaction still usable."""
    present = {r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind = 'i'", [plan.schema])}
    for name, stmt in plan.keys_and_indexes(table):
        if name in present:
            continue
        if not collisions:
            _run(conn, stmt, result, target)
            continue
        try:
            with conn.transaction():
                conn.execute(stmt)
        except psycopg.errors.UniqueViolation:
            raise _KeyCollision(name) from None
        except psycopg.Error as exc:
            raise TargetError(f"{stmt.as_string(conn).split(chr(10))[0][:120]} failed: "
                              f"{scrub(one_line(exc), target.secrets)}") from None
        result.statements.append(stmt.as_string(conn))
    constraints = _constraint_names(conn, plan.schema)
    for name, stmt in plan.check_constraints(table):
        if name not in constraints:
            _try(conn, stmt, f"CHECK constraint {name}", result, target)


def _set_identity(conn, plan: Plan, table: TablePlan, result: LoadResult, target: Target) -> None:
    """Set every sequence-backed column (identity or serial, ours or the app's) past the highest id, or
    past SQLite's highest id (rejected rows included: `highest_id`) or AUTOINCREMENT high-water mark
    when that is higher, so the app's next insert gets the id SQLite would have given (empty tables
    included). When no next id fits the sequence (past 2^63-1 for bigint) the sequence is set to its
    maximum, so the next nextval fails ("reached maximum value of sequence", PostgreSQL docs 9.17)
    instead of the load; the plan notes it."""
    qualified = sql.Identifier(plan.schema, table.target)
    for col in table.columns:
        seq = conn.execute("SELECT pg_get_serial_sequence(%s, %s)", [qualified.as_string(None), col.target]).fetchone()[0]
        if seq is None:
            continue
        # AUTOINCREMENT never hands out an id again, even of a deleted row (https://www.sqlite.org/autoinc.html)
        floor = max(table.autoincrement_seq or 0, table.highest_id or 0) \
            if table.primary_key == [col.target] else 0
        # numeric: the next id may be one past the largest bigint
        _run(conn, sql.SQL(
            "SELECT setval({seq}, least(n, m)::bigint, n > m) FROM (SELECT greatest(coalesce(max({col}), 0)::numeric, "
            "{floor}) + 1 AS n FROM {t}) x, (SELECT seqmax::numeric AS m FROM pg_sequence WHERE seqrelid = {seq}::regclass) s"
        ).format(seq=sql.Literal(seq), col=sql.Identifier(col.target), floor=sql.Literal(floor), t=qualified),
            result, target)


def _run(conn, stmt: sql.Composable, result: LoadResult, target: Target) -> None:
    text = stmt.as_string(conn)
    try:
        conn.execute(stmt)
    except psycopg.Error as exc:
        raise TargetError(f"{text.split(chr(10))[0][:120]} failed: {scrub(one_line(exc), target.secrets)}") from None
    result.statements.append(text)


def _try(conn, stmt: sql.Composable, what: str, result: LoadResult, target: Target) -> None:
    """Run DDL that may fail without failing the load (under a savepoint); a failure is reported."""
    try:
        with conn.transaction():
            _run(conn, stmt, result, target)
    except TargetError as exc:
        result.not_created.append(f"{what} was not created: {exc}")


def step(params: Params) -> LoadResult:
    """The load notebook's work: the plan from the run directory, loaded into the target."""
    from tqdm.auto import tqdm

    from . import record
    from .config import resolve_path
    from .connect import resolve_target
    from .plan import plan_for
    from .preflight import allowed_workers

    if params.dry_run:
        raise DryRunStop("dry_run is set: the runbook stops after the plan, and nothing was written to the target")
    run_dir = record.run_dir_for(params)
    plan = plan_for(params)
    plan.raise_for_losses()  # also when this notebook runs alone: nothing unaccepted is lost in silence
    target = resolve_target(params)
    params = dataclasses.replace(params, workers=allowed_workers(params))  # as many as the target has slots for

    def progress(table: TablePlan):
        return tqdm(total=table.rows, desc=table.target, unit=" rows", unit_scale=True, smoothing=0.1)

    result = load_all(plan, target, params, source_path=resolve_path(params.sqlite_path), run=run_dir.name,
                      progress=progress)
    record.write(run_dir, "load.json", result.to_json())
    write_rejects_csv(run_dir, rejects_of_run(target, params, run_dir.name))
    return result


def rejects_of_run(target: Target, params: Params, run: str) -> list[Reject]:
    """The rejected rows a run recorded in the target."""
    with connect(target.direct_url, params, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass(%s)", [f"{STATE_SCHEMA}.rejects"]).fetchone()[0] is None:
            return []
        rows = conn.execute(sql.SQL(
            "SELECT table_name, source_key, column_name, original_value, reason FROM {}.rejects WHERE run = %s "
            "ORDER BY table_name, rejected_at").format(sql.Identifier(STATE_SCHEMA)), [run]).fetchall()
    return [Reject(*r) for r in rows]
