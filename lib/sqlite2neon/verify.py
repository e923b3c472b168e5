"""Step 04, verify: every table reconciled by key (`reconcile.py`): row counts and content
checksums per key bucket, computed where the data lives (DuckDB over SQLite, SQL on Postgres) over
the same canonical form (`canonical.py`); where a bucket differs, the differing rows by key, and for
a changed row the columns with both values.

A table that verifies in full is also the base of the next cutover: what Postgres holds then, as
(key hash, row hash) pairs, is kept in `_sqlite2neon.snapshots`, so the cutover can tell what SQLite
changed since from what the app wrote to Postgres. Rows a cutover kept as Postgres has them
(`_sqlite2neon.kept`) are counted as kept, not as differences, while neither side changes them again.

    >>> result = verify_all(plan, target, params, source_path=Path("data/demo.db"))
    >>> result.passed
    True
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import psycopg
from psycopg import sql

from .config import Params
from .connect import Target, connect, scrub
from .errors import TargetError, VerificationFailed
from .reconcile import SNAPSHOT, reconcile_table, target_pass, write_snapshot
from .load import STATE_SCHEMA
from .plan import Plan, TablePlan
from .source import open_source
from .views import ViewCheck, verify_views


SNAPSHOT_COLUMNS = {"snapshot_fingerprint": "text", "snapshot_run": "text", "snapshot_rows": "bigint",
                    "snapshot_checksum": "text", "snapshot_at": "timestamptz"}


@dataclass
class TableCheck:
    """One table's verification; `differences` lists the first rows that differ (those kept at a
    cutover are counted in `kept_rows` instead)."""

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
    kept_rows: int = 0  # rows differing because a cutover kept Postgres' version (`_sqlite2neon.kept`)
    missing_checks: list[str] = field(default_factory=list)  # planned CHECKs the target lacks (the load's not_created)
    # timestamptz column -> month ('2024-03') -> [SQLite rows, Postgres rows], counted in the checksum's pass
    months: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    @property
    def counts_match(self) -> bool:
        """Every source row is accounted for: loaded, or rejected with a reason."""
        return self.target_rows is not None and self.source_rows == self.target_rows + self.rejected_rows

    @property
    def checksum_match(self) -> bool:
        return self.counts_match and self.source_checksum == self.target_checksum and not self.differing_buckets

    @property
    def passed(self) -> bool:
        """The target holds what SQLite holds, except rows a cutover kept on purpose: the checksums
        match, or every differing row (all found) is kept, unchanged since."""
        if self.problem or self.target_rows is None or self.missing_checks:
            return False
        return self.checksum_match or (self.kept_rows > 0 and not self.differences_total and self.complete)

    def describe(self) -> str:
        """The differences in words, for the one-line error: table, key, kind and columns."""
        if self.problem:
            return self.problem
        if self.missing_checks:  # the rows may match; the schema did not arrive whole
            return (f"CHECK constraint {', '.join(self.missing_checks)} is not in the target: Postgres refused it at "
                    "the load (see the load's not_created)")
        shown = []
        for d in self.differences[:3]:
            cols = ", ".join(f"{c['column']} (SQLite {c['source']!r}, Postgres {c['target']!r})" for c in d["columns"])
            shown.append(f"key {d['key']} {d['kind']}" + (f": {cols}" if cols else ""))
        more = self.differences_total - len(shown)
        total = f"{self.differences_total}{'' if self.complete else '+'} row(s) differ"
        if self.kept_rows:
            total += f" (and {self.kept_rows} kept as Postgres has them at a cutover)"
        return total + (f": {'; '.join(shown)}" if shown else "") + (f"; and {more} more" if more > 0 else "")


@dataclass
class VerifyResult:
    """Every table's check, and every created view's (`views.py`): row counts and content on both sides."""

    tables: list[TableCheck] = field(default_factory=list)
    seconds: float = 0.0
    fail_on_rejects: bool = True
    mode: str = "full"
    sample_fraction: float = 1.0
    views: list[ViewCheck] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        return sum(t.rejected_rows for t in self.tables)

    @property
    def passed(self) -> bool:
        rejects_ok = not (self.fail_on_rejects and self.rejected_rows)
        return bool(self.tables) and all(t.passed for t in self.tables) and rejects_ok and all(
            v.passed for v in self.views)

    def summary_tables(self) -> list[dict]:
        return [
            {"source": t.source, "target": t.target, "source_rows": t.source_rows,
             "target_rows": t.target_rows, "rejected_rows": t.rejected_rows, "checksum_match": t.checksum_match,
             "differences": t.differences_total, "kept_rows": t.kept_rows}
            for t in self.tables
        ]

    def to_json(self) -> str:
        return json.dumps({"passed": self.passed, "seconds": self.seconds, "fail_on_rejects": self.fail_on_rejects,
                           "mode": self.mode, "sample_fraction": self.sample_fraction,
                           "tables": [asdict(t) | {"checksum_match": t.checksum_match} for t in self.tables],
                           "views": [v.to_record() for v in self.views]},
                          indent=2)

    @classmethod
    def from_json(cls, text: str) -> "VerifyResult":
        raw = json.loads(text)
        return cls([TableCheck(**{k: v for k, v in t.items() if k != "checksum_match"}) for t in raw["tables"]],
                   raw["seconds"], raw.get("fail_on_rejects", True), raw.get("mode", "full"),
                   raw.get("sample_fraction", 1.0), [ViewCheck.from_record(v) for v in raw.get("views", [])])

    def raise_for_failure(self) -> None:
        bad = [f"{t.target}: {t.describe()}" for t in self.tables if not t.passed and not t.problem]
        bad += [v.describe() for v in self.views if not v.passed]
        unread = [f"{t.target}: {t.problem}" for t in self.tables if t.problem]
        if bad or unread:  # a table that could not be read is no difference: say which it was
            said = (["source and target differ: " + " | ".join(bad)] if bad else []) + (
                ["some tables were not compared: " + " | ".join(unread)] if unread else [])
            raise VerificationFailed("verification failed, " + "; ".join(said))
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
             "kept at a cutover": t.kept_rows, "verdict": "PASS" if t.passed else "FAIL", "problem": t.problem}
            for t in self.tables
        ])

    def views_frame(self):
        """One row per view: rows on each side, rows that differ, verdict."""
        import pandas as pd

        return pd.DataFrame([
            {"view": v.target, "SQLite rows": v.source_rows, "Postgres rows": v.target_rows,
             "rows differing": v.differences_total, "rounding only": v.rounded,
             "verdict": "PASS" if v.passed else "FAIL", "problem": v.problem}
            for v in self.views
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


def missing_checks(conn: psycopg.Connection, plan: Plan, table: TablePlan) -> list[str]:
    """Names of the table's planned CHECK constraints the target does not hold (pg_constraint)."""
    planned = [name for name, _ in plan.check_constraints(table)]
    if not planned:
        return []
    present = {r[0] for r in conn.execute(
        "SELECT conname FROM pg_constraint WHERE contype = 'c' AND conrelid = to_regclass(%s)",
        [sql.Identifier(plan.schema, table.target).as_string(conn)])}
    return [name for name in planned if name not in present]


def verify_all(plan: Plan, target: Target, params: Params, *, source_path, run: str = "",
               prints: dict[str, str] | None = None) -> VerifyResult:
    """Every table reconciled (`reconcile.py`); `run` is the load run whose rejected rows are
    accounted for when the target does not say which run loaded a table. With `prints` (table ->
    `load.fingerprint` as verification began), a table verified in full that passes and has no
    snapshot of its load yet gets one from the same pass over Postgres (`record_snapshot`), instead
    of a second pass in `record_snapshots`.

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
            kept = kept_records(conn, plan.schema, table)
            snapshot = prints is not None and sample is None and _wants_snapshot(conn, plan.schema, table)
            try:
                d = reconcile_table(src, conn, plan.schema, table, plan.bad_text, keys, sample=sample, kept=kept,
                                    months=True, snapshot=snapshot)
                missing = missing_checks(conn, plan, table) if not d.problem else []
                checked = TableCheck(
                    table.source, table.target, d.source_rows, d.target_rows, d.source_checksum, d.target_checksum,
                    time.monotonic() - t0, scrub(d.problem, target.secrets), d.rejected_rows,
                    table.changed_values(plan.bad_text), d.buckets, d.differing_buckets, d.differences_total,
                    [x.as_record() for x in d.differences], d.complete, d.nulls, d.kept_rows, missing, d.months)
                if snapshot and checked.passed:
                    record_snapshot(conn, plan.schema, table, fingerprint=prints[table.target], built=True)
            finally:
                if snapshot:
                    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(SNAPSHOT)))
        return checked

    try:
        with ThreadPoolExecutor(max(1, params.workers)) as pool:
            result.tables = list(pool.map(check, plan.tables))
    except psycopg.Error as exc:
        raise TargetError(f"verification could not read the target: {scrub(str(exc).splitlines()[0], target.secrets)}") from None
    finally:
        src.close()
    result.views = verify_views(plan, target, params, source_path)
    result.seconds = time.monotonic() - started
    return result


def _wants_snapshot(conn: psycopg.Connection, schema: str, table: TablePlan) -> bool:
    """The table is the runbook's, and has no snapshot of its current load yet (`record_snapshots`
    would take one if it verifies in full)."""
    if conn.execute("SELECT to_regclass(%s)", [f"{STATE_SCHEMA}.snapshots"]).fetchone()[0] is None:
        return False
    state = sync_states(conn, schema).get(table.target)
    return state is not None and not state.has_base


def step(params: Params) -> VerifyResult:
    """The verify notebook's work: checksums of every planned table, kept in the run directory."""
    from . import record
    from .config import resolve_path
    from .connect import resolve_target
    from .plan import plan_for
    from .preflight import allowed_workers

    plan = plan_for(params)
    run_dir = record.run_dir_for(params)
    params = dataclasses.replace(params, workers=allowed_workers(params))  # as many as the target has slots for
    loaded = record.read(run_dir, "load.json")
    run = json.loads(loaded).get("run", "") if loaded else ""
    return verify_and_record(plan, resolve_target(params), params, resolve_path(params.sqlite_path), run_dir, run=run)


def verify_and_record(plan: Plan, target: Target, params: Params, source, run_dir, *, run: str) -> VerifyResult:
    """Verify every table, mark the ones that passed in the target's state (and, verified in full,
    record them as the next cutover's base: `record_snapshots`), keep verify.json."""
    from . import record
    from .load import fingerprint

    prints = {t.target: fingerprint(t, source) for t in plan.tables}  # the source as verification reads it
    result = verify_all(plan, target, params, source_path=source, run=run, prints=prints)
    mark_verified(target, params, plan, [t.target for t in result.tables if t.passed], source)
    record_snapshots(target, params, plan, result, prints)
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


# --- the cutover's base: what the target held at the last sync ----------------------------------------

def ensure_sync_state(conn: psycopg.Connection) -> bool:
    """The cutover's state beside the load's in `_sqlite2neon` (created where missing; existing
    targets have the older `tables`):

    - `snapshots (schema_name, table_name, bucket, pairs)`: per table and bucket (the first
      SNAPSHOT_DIGITS hex digits of the MD5 of a row's canonical key), `pairs` is a bytea of 16-byte
      entries, the first 8 bytes of the key's MD5 then the first 8 of the row's (`record_snapshot`).
    - `kept (schema_name, table_name, key, source_hash, target_hash, run, decided_at)`: rows a cutover
      left as Postgres has them (`conflicts: keep_target`); one row per differing copy for a table
      without a key.
    - `tables.snapshot_*`: the load run and source fingerprint a table's snapshot belongs to, its rows
      and checksum (as verification computes them), when it was taken. NULL: no snapshot.

    False (and nothing created) when the target has no runbook state: the runbook never loaded it."""
    if conn.execute("SELECT to_regclass(%s)", [f"{STATE_SCHEMA}.tables"]).fetchone()[0] is None:
        return False
    state = sql.Identifier(STATE_SCHEMA)
    present = {r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = 'tables'",
        [STATE_SCHEMA])}
    if set(SNAPSHOT_COLUMNS) - present:  # ALTER TABLE locks the table even when there is nothing to add
        conn.execute(sql.SQL("ALTER TABLE {}.tables {}").format(state, sql.SQL(", ").join(
            sql.SQL("ADD COLUMN IF NOT EXISTS {} {}").format(sql.Identifier(name), sql.SQL(kind))
            for name, kind in SNAPSHOT_COLUMNS.items())))
    if conn.execute("SELECT to_regclass(%s) IS NULL OR to_regclass(%s) IS NULL",
                    [f"{STATE_SCHEMA}.snapshots", f"{STATE_SCHEMA}.kept"]).fetchone()[0]:
        conn.execute(sql.SQL(
            "CREATE TABLE IF NOT EXISTS {s}.snapshots (schema_name text NOT NULL, table_name text NOT NULL, "
            "bucket text NOT NULL, pairs bytea NOT NULL, PRIMARY KEY (schema_name, table_name, bucket)); "
            "ALTER TABLE {s}.snapshots ALTER COLUMN pairs SET STORAGE EXTERNAL; "  # hashes do not compress
            "CREATE TABLE IF NOT EXISTS {s}.kept (schema_name text NOT NULL, table_name text NOT NULL, "
            "key text NOT NULL, source_hash text, target_hash text, run text NOT NULL, "
            "decided_at timestamptz NOT NULL DEFAULT now()); "
            "CREATE INDEX IF NOT EXISTS kept_table ON {s}.kept (schema_name, table_name)"
        ).format(s=state))
    return True


@dataclass
class SyncState:
    """A table's state in the target: the load run that holds it, and its snapshot's (None: none)."""

    run: str
    snapshot_run: str | None = None
    snapshot_fingerprint: str | None = None
    snapshot_rows: int | None = None
    snapshot_checksum: str | None = None

    @property
    def has_base(self) -> bool:
        """A snapshot taken since the table was last loaded (an empty table's counts too)."""
        return self.snapshot_run is not None and self.snapshot_run == self.run

    def holds(self, rows: int | None, checksum: str | None) -> bool:
        """The snapshot is of exactly these rows: row count and checksum as verification computes them."""
        return self.has_base and (self.snapshot_rows, self.snapshot_checksum) == (rows, checksum)


def sync_states(conn: psycopg.Connection, schema: str) -> dict[str, SyncState]:
    """Per target table of `schema`: its SyncState; empty when the target has no such state (it is
    only read: a target the runbook never recorded a snapshot in has none)."""
    present = {r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = 'tables'",
        [STATE_SCHEMA])}
    if not present or set(SNAPSHOT_COLUMNS) - present:
        return {}
    return {r[0]: SyncState(*r[1:]) for r in conn.execute(sql.SQL(
        "SELECT table_name, run, snapshot_run, snapshot_fingerprint, snapshot_rows, snapshot_checksum "
        "FROM {}.tables WHERE schema_name = %s").format(sql.Identifier(STATE_SCHEMA)), [schema])}


def record_snapshot(conn: psycopg.Connection, schema: str, table: TablePlan, *, fingerprint: str,
                    expected: tuple[int | None, str | None] | None = None, built: bool = False) -> bool:
    """Replace the table's snapshot with what Postgres holds now, in one transaction: every row's
    (key hash, row hash), from one parallel pass over the table with reconcile's own expressions
    (`reconcile.target_pass`), and in `tables` the load run and source `fingerprint` it belongs
    to. With `expected` (rows, checksum as verification found them), a target that changed since is
    not recorded, and its old snapshot is dropped too (the next cutover asks for a verification).
    `built`: the session's temporary table `reconcile.SNAPSHOT` already holds it (verification's own
    pass built it: `reconcile_table(snapshot=True)`). Returns whether the snapshot was taken.

        >>> record_snapshot(conn, "public", table_plan, fingerprint="9c1f...", expected=(3000, "8123..."))
        True
    """
    state = sql.Identifier(STATE_SCHEMA)
    where = [schema, table.target]
    with conn.transaction():
        if not built:
            write_snapshot(conn, target_pass(conn, schema, table, snapshot=True), drop_on_commit=True)
        snapshot = sql.Identifier(SNAPSHOT)
        rows, checksum = conn.execute(sql.SQL("SELECT coalesce(sum(n), 0), coalesce(sum(total), 0) FROM {}").format(
            snapshot)).fetchone()
        rows, checksum = int(rows), str(int(checksum))
        taken = expected is None or expected == (rows, checksum)
        conn.execute(sql.SQL("DELETE FROM {}.snapshots WHERE schema_name = %s AND table_name = %s").format(state),
                     where)
        if taken:
            conn.execute(sql.SQL("INSERT INTO {}.snapshots (schema_name, table_name, bucket, pairs) "
                                 "SELECT %s, %s, bucket, pairs FROM {}").format(state, snapshot), where)
        conn.execute(sql.SQL("DROP TABLE {}").format(snapshot))
        conn.execute(sql.SQL(
            "UPDATE {}.tables SET snapshot_run = CASE WHEN %s THEN run END, snapshot_fingerprint = %s, "
            "snapshot_rows = %s, snapshot_checksum = %s, snapshot_at = now() "
            "WHERE schema_name = %s AND table_name = %s").format(state),
            [taken, fingerprint if taken else None, rows, checksum, *where])
    return taken


def record_snapshots(target: Target, params: Params, plan: Plan, result: VerifyResult, prints: dict[str, str]
                     ) -> list[str]:
    """After a full verification, each table that passed becomes the next cutover's base (Postgres
    then holds what SQLite holds, save rows kept on purpose): its snapshot is taken, unless the one it
    has is of these very rows (only the source fingerprint is noted then). A table level with SQLite
    with no row kept forgets the rows kept earlier (reloaded, or both sides agree again). Sample
    verification compares too little to be a base. `prints`: table -> load.fingerprint as
    verification began. Returns the tables whose snapshot was taken."""
    passed = {t.target: t for t in result.tables if t.passed}
    if result.mode != "full" or not passed:
        return []
    taken = []
    with connect(target.direct_url, params, autocommit=True) as conn:
        if not ensure_sync_state(conn):
            return []
        states = sync_states(conn, plan.schema)
        for table in plan.tables:
            check, state = passed.get(table.target), states.get(table.target)
            if check is None or state is None:
                continue
            if not check.kept_rows:
                conn.execute(sql.SQL("DELETE FROM {}.kept WHERE schema_name = %s AND table_name = %s").format(
                    sql.Identifier(STATE_SCHEMA)), [plan.schema, table.target])
            if state.holds(check.target_rows, check.target_checksum):
                if state.snapshot_fingerprint != prints[table.target]:
                    conn.execute(sql.SQL("UPDATE {}.tables SET snapshot_fingerprint = %s "
                                         "WHERE schema_name = %s AND table_name = %s").format(
                        sql.Identifier(STATE_SCHEMA)), [prints[table.target], plan.schema, table.target])
                continue
            if record_snapshot(conn, plan.schema, table, fingerprint=prints[table.target],
                               expected=(check.target_rows, check.target_checksum)):
                taken.append(table.target)
    return taken


def kept_records(conn: psycopg.Connection, schema: str, table: TablePlan) -> dict[str, list[tuple]]:
    """Rows a cutover kept as Postgres has them: canonical key -> [(source hash, target hash), ...]
    (None where the row was absent; one pair per differing copy for a table without a key)."""
    if conn.execute("SELECT to_regclass(%s)", [f"{STATE_SCHEMA}.kept"]).fetchone()[0] is None:
        return {}
    out: dict[str, list[tuple]] = defaultdict(list)
    for key, source_hash, target_hash in conn.execute(sql.SQL(
            "SELECT key, source_hash, target_hash FROM {}.kept WHERE schema_name = %s AND table_name = %s"
    ).format(sql.Identifier(STATE_SCHEMA)), [schema, table.target]):
        out[key].append((source_hash, target_hash))
    return dict(out)


def timestamp_histograms(params: Params) -> dict:
    """Rows per month of every timestamptz column, on both sides, as verification counted them (in
    its pass over each table, recorded in the run's verify.json): {"table.column": frame of month,
    source, target}; empty when the run has no verification record."""
    import pandas as pd

    from . import record

    text = record.read(record.run_dir_for(params), "verify.json")
    if not text:
        return {}
    return {f"{t.target}.{column}": pd.DataFrame([[m, *n] for m, n in counts.items()], columns=["month", "source", "target"])
            for t in VerifyResult.from_json(text).tables for column, counts in t.months.items()}
