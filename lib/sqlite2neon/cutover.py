"""Step 05, cutover: carry over what the app wrote to SQLite since the last sync without undoing what
was written to Postgres, verify in full, check the app's own API, and leave the closing checklist.

Catch-up needs no `updated_at` column. Each table is reconciled by key (`reconcile.py`) against the
target, and each row that differs is judged three ways: SQLite now, Postgres now, and the base, what
the target held at the last sync (the snapshot the last full verification or cutover recorded,
`verify.record_snapshot`). Where Postgres still holds the row as at the last sync (or still lacks
it), only SQLite changed it: the change is carried over (read from SQLite through the load's
conversions and upserted by primary key, or deleted). Where Postgres changed it since (inserted,
updated or deleted there, by the app or by hand), it is a conflict, and nothing at all is applied
unless `conflicts` says `keep_target` (leave those rows as Postgres has them, recorded in
`_sqlite2neon.kept` so that verification accounts for them) or `take_source` (make them equal to
SQLite, discarding what was written in Postgres). A table without a primary key is a multiset of
rows: per row, its copies on each side and in the base. The tables are locked against writes
(reads go on), everything is compared, then everything is applied in one transaction.

    >>> caught = catch_up(plan, target, params, source_path=Path("data/app.db"), run="...-cutover")
    >>> caught.tables[0]
    TableCatchUp(table='mental_items', inserted=5, updated=3, deleted=2, rejected=0, kept=0, ...)
    >>> catch_up(plan, target, params, source_path=..., run=...)  # the app wrote to Postgres too
    ConflictsFound: 1 conflict(s), rows changed in Postgres since the last sync: mental_items zz0 (inserted in Postgres). ...
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg import sql

from . import convert, load
from .config import Params, redact_url
from .connect import Target, connect, deref, scrub
from .errors import ConflictsFound, CutoverFailed, RunbookError, TargetError, one_line
from .plan import Plan, TablePlan, existing_tables
from .reconcile import HASH_HEX, SNAPSHOT_DIGITS, Difference, reconcile_table, target_key
from .source import open_source, sql_string
from .verify import ensure_sync_state, kept_records, loaded_by, record_snapshot, rejected_keys, sync_states

KEYS_PER_READ = 500  # source keys per SQLite read of the rows to carry over
NAMED_CONFLICTS = 5  # conflicts named in the one-line error (cutover.json lists them all)
RESOLUTIONS = {"stop": "unresolved", "keep_target": "kept", "take_source": "overwritten"}
ACTIONS = {"missing": "insert", "changed": "update", "unexpected": "delete"}
QUIET = ("unchanged", "absent")  # what did not happen on a side


@dataclass
class Conflict:
    """A row Postgres changed since the last sync, which carrying SQLite's version over would undo.

    `sqlite` and `postgres` say what happened to it on each side since the last sync: `inserted`,
    `updated`, `deleted`, `unchanged`, `absent` (not there then, not there now), or for a table
    without a key how its copies went (`"1 -> 2 copies"`)."""

    key: str  # as people read it: the key's columns joined by ", " (a whole row for a table without a key)
    sqlite: str
    postgres: str
    what: str  # in words: "inserted in Postgres", "updated in Postgres, deleted in SQLite", ...
    resolution: str = "unresolved"  # unresolved (conflicts: stop) | kept (keep_target) | overwritten (take_source)
    differences: list[Difference] = field(default_factory=list, repr=False)  # one; a copy each without a key

    def as_record(self) -> dict:
        return {"key": self.key, "sqlite": self.sqlite, "postgres": self.postgres, "what": self.what,
                "resolution": self.resolution}


@dataclass
class TableCatchUp:
    """One table's catch-up. The counts are rows written to the target (in a dry run: that would be),
    SQLite's changes and, with `take_source`, the conflicting rows made equal to SQLite."""

    table: str
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    rejected: int = 0  # rows SQLite changed that no longer convert (recorded with the load's rejects)
    kept: int = 0  # conflicting rows left as Postgres has them (keep_target)
    overwritten: int = 0  # conflicting rows made equal to SQLite (take_source)
    still_kept: int = 0  # rows an earlier cutover kept, changed on neither side since: left alone
    seconds: float = 0.0
    changes: list[dict] = field(default_factory=list, repr=False)  # SQLite's: {"key", "action": insert|update|delete}
    conflicts: list[Conflict] = field(default_factory=list, repr=False)
    carry: list[Difference] = field(default_factory=list, repr=False)  # SQLite's changes, to apply
    kept_keys: set[str] = field(default_factory=set, repr=False)  # canonical keys of the rows still kept
    loaded_by: str = field(default="", repr=False)  # the load run, whose rejected rows the catch-up's join
    base_current: bool = field(default=False, repr=False)  # the snapshot is of the rows Postgres holds now

    def to_apply(self) -> list[Difference]:
        """The differences the catch-up applies: SQLite's changes, and the conflicts to overwrite."""
        return self.carry + [d for c in self.conflicts if c.resolution == "overwritten" for d in c.differences]

    def as_record(self) -> dict:
        return {"table": self.table, "inserted": self.inserted, "updated": self.updated, "deleted": self.deleted,
                "rejected": self.rejected, "kept": self.kept, "overwritten": self.overwritten,
                "still_kept": self.still_kept, "seconds": self.seconds, "changes": self.changes,
                "conflicts": [c.as_record() for c in self.conflicts]}


@dataclass
class CatchUp:
    """Every planned table's catch-up, parents first. `applied`: committed; a dry run and a catch-up
    stopped by conflicts applied nothing."""

    tables: list[TableCatchUp] = field(default_factory=list)
    seconds: float = 0.0
    resolution: str = "stop"  # the `conflicts` parameter
    dry_run: bool = False
    applied: bool = False

    @property
    def changed_rows(self) -> int:
        return sum(t.inserted + t.updated + t.deleted for t in self.tables)

    @property
    def conflicts(self) -> list[tuple[str, Conflict]]:
        """(table, conflict), every one."""
        return [(t.table, c) for t in self.tables for c in t.conflicts]

    def raise_for_conflicts(self) -> None:
        """ConflictsFound, one line naming the first conflicts by table and key, when there are any
        and `conflicts` is `stop`."""
        found = self.conflicts
        if not found or self.resolution != "stop":
            return
        named = "; ".join(f"{table} {c.key} ({c.what})" for table, c in found[:NAMED_CONFLICTS])
        more = f"; and {len(found) - NAMED_CONFLICTS} more" if len(found) > NAMED_CONFLICTS else ""
        raise ConflictsFound(
            f"{len(found)} conflict(s), rows changed in Postgres since the last sync: {named}{more}. Nothing was "
            "applied. Set -p conflicts keep_target to keep Postgres' version of those rows and carry over the rest, "
            "or -p conflicts take_source to make them equal to SQLite (discarding what was written in Postgres); "
            "cutover.json lists every conflict", self)

    def headline(self) -> str:
        """What the catch-up did, in one Markdown line for the notebook."""
        conflicts = len(self.conflicts)
        if self.dry_run:
            return (f"**Dry run: nothing was applied.** The catch-up would write {self.changed_rows} row(s) "
                    f"and found {conflicts} conflict(s) (`conflicts: {self.resolution}`).")
        if not self.applied:
            return (f"**Nothing was applied:** {conflicts} conflict(s), rows changed in Postgres since the last "
                    "sync, and `conflicts` is `stop`.")
        kept = sum(t.kept for t in self.tables)
        overwritten = sum(t.overwritten for t in self.tables)
        return (f"**{self.changed_rows} row(s) carried over** in {self.seconds:.2f} s; {conflicts} conflict(s)"
                + (f": {kept} row(s) kept as Postgres has them, {overwritten} overwritten with SQLite's" if conflicts
                   else "") + ".")

    def as_record(self) -> dict:
        return {"tables": [t.as_record() for t in self.tables], "seconds": self.seconds,
                "resolution": self.resolution, "dry_run": self.dry_run, "applied": self.applied,
                "conflicts": len(self.conflicts)}

    def frame(self):
        import pandas as pd

        return pd.DataFrame([
            {"table": t.table, "inserted": t.inserted, "updated": t.updated, "deleted": t.deleted,
             "rejected": t.rejected, "conflicts": len(t.conflicts), "kept": t.kept, "overwritten": t.overwritten,
             "kept earlier": t.still_kept, "seconds": round(t.seconds, 2)}
            for t in self.tables])

    def conflicts_frame(self):
        """Every conflict: table, key, what happened on each side since the last sync, resolution."""
        import pandas as pd

        return pd.DataFrame([{"table": table, "key": c.key, "SQLite": c.sqlite, "Postgres": c.postgres,
                              "what happened": c.what, "resolution": c.resolution} for table, c in self.conflicts],
                            columns=["table", "key", "SQLite", "Postgres", "what happened", "resolution"])

    def changes_frame(self):
        """SQLite's changes carried over (or, in a dry run, to carry over): table, key, action."""
        import pandas as pd

        return pd.DataFrame([{"table": t.table, "key": c["key"], "action": c["action"]}
                             for t in self.tables for c in t.changes], columns=["table", "key", "action"])


def catch_up(plan: Plan, target: Target, params: Params, *, source_path, run: str, dry_run: bool = False) -> CatchUp:
    """Carry SQLite's changes since the last sync over to every planned table, in one transaction,
    resolving rows changed in Postgres as `params.conflicts` says; with `dry_run`, only compare.

    Raises, having applied nothing: CutoverFailed when a table has no base (not verified since its
    load), cannot be compared, or differs in more rows than can be carried over by key;
    ConflictsFound (a CutoverFailed, holding the CatchUp) when rows conflict and `conflicts` is
    `stop`. TargetError when applying fails (rolled back)."""
    started = time.monotonic()
    caught = CatchUp(resolution=params.conflicts, dry_run=dry_run)
    src = open_source(source_path)
    src.execute("SET threads = 1")
    convert.register(src)
    try:
        with connect(target.direct_url, params, autocommit=True) as conn:
            if dry_run:
                _compare(src, conn, plan, target, caught, run)
            else:
                with conn.transaction():
                    _lock(conn, plan)
                    _compare(src, conn, plan, target, caught, run)  # everything, before anything changes
                    caught.raise_for_conflicts()
                    _apply(src, conn, plan, params, target, caught, source_path, run)
                caught.applied = True
    except psycopg.Error as exc:
        raise TargetError(f"catch-up failed and was rolled back: {scrub(one_line(exc), target.secrets)}") from None
    finally:
        src.close()
        caught.seconds = time.monotonic() - started
    return caught


def _lock(conn, plan: Plan) -> None:
    """Hold off writes to the planned tables until the catch-up commits (reads go on): what was
    compared is what is changed."""
    present = existing_tables(conn, plan.schema)
    tables = [sql.Identifier(plan.schema, t.target) for t in plan.tables if t.target in present]
    if tables:
        conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(sql.SQL(", ").join(tables)))


def _compare(src, conn, plan: Plan, target: Target, caught: CatchUp, run: str) -> None:
    """Every table reconciled and each differing row judged against the base; nothing is written."""
    states = sync_states(conn, plan.schema)
    unbased = [t.target for t in plan.tables if t.target not in states or not states[t.target].has_base]
    if unbased:
        raise CutoverFailed(
            f"no record of what the target held at the last sync for {', '.join(unbased)} (not verified since "
            "loaded), so the cutover cannot tell SQLite's changes from what was written in Postgres; nothing was "
            "changed. Run `sqlite2neon verify` first (with verify: full), or load again with if_exists truncate "
            "(a run verifies)")
    for table in plan.tables:
        t0 = time.monotonic()
        loaded = loaded_by(conn, plan.schema, table) or run
        kept = kept_records(conn, plan.schema, table)
        diff = reconcile_table(src, conn, plan.schema, table, plan.bad_text, rejected_keys(conn, loaded, table),
                               describe=False, kept=kept)
        if diff.problem:
            raise CutoverFailed(f"{table.target} cannot be compared: {scrub(diff.problem, target.secrets)}")
        if not diff.complete:
            raise CutoverFailed(
                f"{table.target}: too many rows differ to carry over by key ({diff.differences_total}+); "
                "run the load again with if_exists truncate instead")
        step = _judge(conn, plan.schema, table, diff, kept, caught.resolution)
        step.loaded_by = loaded
        step.base_current = states[table.target].holds(diff.target_rows, diff.target_checksum)
        step.seconds = time.monotonic() - t0
        caught.tables.append(step)


def _judge(conn, schema: str, table: TablePlan, diff, kept: dict[str, list[tuple]], resolution: str) -> TableCatchUp:
    """Each differing row, three ways: where Postgres holds it as at the last sync (a table without a
    key: as many copies), SQLite changed it, and its change is carried over; else it is a conflict.
    A row an earlier cutover kept and either side changed again is a conflict too."""
    step = TableCatchUp(table.target, still_kept=diff.kept_rows, kept_keys={d.canonical_key for d in diff.kept})
    by_key: dict[str, list[Difference]] = defaultdict(list)
    for d in diff.all_differences:
        by_key[d.canonical_key].append(d)
    base = _base(conn, schema, table, list(by_key))
    for key, found in by_key.items():
        was = base.get(_key_hash(key), [])
        if table.primary_key:
            d, before = found[0], (was[0] if was else None)
            now_s, now_p = _short(d.source_hash), _short(d.target_hash)
            if key in kept:  # kept at an earlier cutover, and changed again since
                kept_s, kept_p = kept[key][0]
                sqlite, postgres = _happened(_short(kept_s), now_s), _happened(_short(kept_p), now_p)
            else:
                sqlite, postgres = _happened(before, now_s), _happened(before, now_p)
            conflict = key in kept or now_p != before
        else:
            s, p = diff.copies[key]
            sqlite, postgres = _copies(len(was), s), _copies(len(was), p)
            conflict = key in kept or p != len(was)
        if conflict:
            step.conflicts.append(Conflict(found[0].key, sqlite, postgres, _what(sqlite, postgres, key in kept),
                                           RESOLUTIONS[resolution], found))
        else:
            step.carry += found
    step.changes = [{"key": d.key, "action": ACTIONS[d.kind]} for d in step.carry]
    wanted = step.to_apply()
    step.inserted, step.updated, step.deleted = (sum(1 for d in wanted if d.kind == k) for k in ACTIONS)
    step.kept = sum(len(c.differences) for c in step.conflicts if c.resolution == "kept")
    step.overwritten = sum(len(c.differences) for c in step.conflicts if c.resolution == "overwritten")
    return step


def _key_hash(key: str) -> str:
    """The start of a canonical key's MD5, as the snapshot keeps it (Postgres' md5() of the same text)."""
    return hashlib.md5(key.encode()).hexdigest()[:HASH_HEX]


def _short(row_hash: str | None) -> str | None:
    return row_hash[:HASH_HEX] if row_hash else None


def _happened(before: str | None, now: str | None) -> str:
    """What happened to a row on one side, from its hash then (None: absent) and now."""
    if before == now:
        return "absent" if now is None else "unchanged"
    return "inserted" if before is None else "deleted" if now is None else "updated"


def _copies(before: int, now: int) -> str:
    return "unchanged" if before == now else f"{before} -> {now} copies"


def _what(sqlite: str, postgres: str, kept_earlier: bool) -> str:
    if sqlite == postgres and sqlite not in QUIET:
        text = f"{sqlite} on both sides"
    else:
        text = ", ".join(f"{word} in {side}" for side, word in (("Postgres", postgres), ("SQLite", sqlite))
                         if word not in QUIET)
    return f"kept at an earlier cutover, then {text}" if kept_earlier else text


def _base(conn, schema: str, table: TablePlan, keys: list[str]) -> dict[str, list[str]]:
    """What the target held at the last sync for these canonical keys, read from the snapshot's
    buckets of those keys only: key hash -> the hashes of its rows then (one; one per copy for a
    table without a key). A key absent from the result was not there."""
    if not keys:
        return {}
    wanted = {_key_hash(k) for k in keys}
    width = HASH_HEX // 2  # bytes per hash in an entry
    out: dict[str, list[str]] = defaultdict(list)
    for (pairs,) in conn.execute(sql.SQL(
            "SELECT pairs FROM {}.snapshots WHERE schema_name = %s AND table_name = %s AND bucket = ANY(%s)"
    ).format(sql.Identifier(load.STATE_SCHEMA)), [schema, table.target, sorted({h[:SNAPSHOT_DIGITS] for h in wanted})]):
        pairs = bytes(pairs)
        for i in range(0, len(pairs), 2 * width):
            if (k := pairs[i:i + width].hex()) in wanted:
                out[k].append(pairs[i + width:i + 2 * width].hex())
    return out


def _apply(src, conn, plan: Plan, params: Params, target: Target, caught: CatchUp, source_path, run: str) -> None:
    """Inside the catch-up's transaction: upserts parents first, deletes children first, then per
    table the kept rows, the state, the identity sequences and the snapshot (the new base)."""
    ensure_sync_state(conn)
    pairs = list(zip(plan.tables, caught.tables))
    for table, step in pairs:  # parents first: foreign keys hold
        t0 = time.monotonic()
        wanted = [d for d in step.to_apply() if d.kind != "unexpected"]
        step.inserted, step.updated, step.rejected = _upsert(src, conn, plan, table, wanted, params, step.loaded_by)
        step.seconds += time.monotonic() - t0
    for table, step in reversed(pairs):  # children first
        t0 = time.monotonic()
        step.deleted = _delete(conn, plan, table, [d for d in step.to_apply() if d.kind == "unexpected"])
        step.seconds += time.monotonic() - t0
    for table, step in pairs:
        t0 = time.monotonic()
        _record_kept(conn, plan, table, step, run)
        _record_state(conn, plan, table, source_path)
        load._set_identity(conn, plan, table, load.LoadResult(), target)
        if step.to_apply() or not step.base_current:  # the base from now on: what both sides hold
            record_snapshot(conn, plan.schema, table, fingerprint=load.fingerprint(table, source_path))
        step.seconds += time.monotonic() - t0


def _source_where(table: TablePlan, source_keys: list[str]) -> str:
    """A SQLite condition selecting rows by the keys the reconciliation reported for them."""
    if table.has_rowid:
        return f"rowid IN ({', '.join(str(int(k)) for k in source_keys)})"
    return f"({convert.source_key(table)}) IN ({', '.join(sql_string(k) for k in source_keys)})"


def _upsert(src, conn, plan: Plan, table: TablePlan, wanted: list[Difference], params: Params,
            loaded_by: str) -> tuple[int, int, int]:
    """Read the rows of `wanted` (missing or changed) from SQLite through the load's conversions and
    upsert them by primary key (insert them, for a table without one): (inserted, updated, rejected)."""
    if not wanted:
        return 0, 0, 0
    loaded = [c for c in table.columns if c.generated is None]
    names = sql.SQL(", ").join(sql.Identifier(c.target) for c in loaded)
    qualified = sql.Identifier(plan.schema, table.target)
    conn.execute(sql.SQL("CREATE TEMP TABLE s2n_catch_up ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA")
                 .format(names, qualified))
    rejects: list[load.Reject] = []
    source_keys = sorted({d.source_key for d in wanted if d.source_key is not None})
    for i in range(0, len(source_keys), KEYS_PER_READ):
        read = convert.TableRead(table, plan.bad_text, _source_where(table, source_keys[i:i + KEYS_PER_READ]))
        with conn.cursor().copy(sql.SQL("COPY s2n_catch_up ({}) FROM STDIN (FORMAT csv)").format(names)) as copy:
            for chunk in load._chunks(src, read, params.batch_rows):
                rejects += chunk.rejects
                copy.write(chunk.csv)
    if table.primary_key:
        # a key under NOCASE (citext) may change only its case in SQLite ('Alice' -> 'ALICE'): the same
        # key to Postgres, so the conflicting row takes the new spelling, and the old one is not deleted
        updates = [c for c in loaded if c.target not in table.primary_key or c.pg_type == "citext"]
        on_conflict = sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(
            sql.SQL("{c} = excluded.{c}").format(c=sql.Identifier(c.target)) for c in updates)) if updates else \
            sql.SQL("DO NOTHING")
        conflict = sql.SQL("ON CONFLICT ({}) {}").format(
            sql.SQL(", ").join(sql.Identifier(k) for k in table.primary_key), on_conflict)
    else:
        conflict = sql.SQL("")
    overriding = sql.SQL("OVERRIDING SYSTEM VALUE ") if table.identity_column else sql.SQL("")
    conn.execute(sql.SQL("INSERT INTO {t} ({n}) {o}SELECT {n} FROM s2n_catch_up {c}").format(
        t=qualified, n=names, o=overriding, c=conflict))
    conn.execute("DROP TABLE s2n_catch_up")
    rejected = {r.source_key for r in rejects}
    if rejects:  # recorded under the run that loaded the table, so verification accounts for them
        load._save_rejects(conn, loaded_by, rejects)
        # a changed row that no longer converts must not stay in the target with its old values
        _delete(conn, plan, table, [d for d in wanted if d.kind == "changed" and d.source_key in rejected])
    return (sum(1 for d in wanted if d.kind == "missing" and d.source_key not in rejected),
            sum(1 for d in wanted if d.kind == "changed" and d.source_key not in rejected), len(rejects))


def _delete(conn, plan: Plan, table: TablePlan, unexpected: list[Difference]) -> int:
    """Delete the target rows reported as unexpected: by key, or one row per copy for a table without one."""
    if not unexpected:
        return 0
    qualified = sql.Identifier(plan.schema, table.target)
    key = target_key(table)  # the whole row for a table without a key
    if table.primary_key:
        return conn.execute(sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(qualified, key),
                            [[d.canonical_key for d in unexpected]]).rowcount
    return sum(conn.execute(sql.SQL("DELETE FROM {t} WHERE ctid = (SELECT ctid FROM {t} WHERE {k} = %s LIMIT 1)")
                            .format(t=qualified, k=key), [d.canonical_key]).rowcount for d in unexpected)


def _record_kept(conn, plan: Plan, table: TablePlan, step: TableCatchUp, run: str) -> None:
    """`_sqlite2neon.kept` for the table: rows kept earlier and unchanged since stay, the conflicting
    rows kept now are added; rows that no longer differ, or were changed again, leave it."""
    state = sql.Identifier(load.STATE_SCHEMA)
    conn.execute(sql.SQL("DELETE FROM {}.kept WHERE schema_name = %s AND table_name = %s AND NOT (key = ANY(%s))")
                 .format(state), [plan.schema, table.target, sorted(step.kept_keys)])
    rows = [[plan.schema, table.target, d.canonical_key, d.source_hash, d.target_hash, run]
            for c in step.conflicts if c.resolution == "kept" for d in c.differences]
    if rows:
        conn.cursor().executemany(sql.SQL(
            "INSERT INTO {}.kept (schema_name, table_name, key, source_hash, target_hash, run) "
            "VALUES (%s, %s, %s, %s, %s, %s)").format(state), rows)


def _record_state(conn, plan: Plan, table: TablePlan, source_path) -> None:
    """The table now matches the source file as it is: its fingerprint and rows in the runbook's state."""
    conn.execute(sql.SQL(
        "UPDATE {s}.tables SET fingerprint = %s, rows = (SELECT count(*) FROM {t}), status = 'loaded', "
        "updated_at = now() WHERE schema_name = %s AND table_name = %s"
    ).format(s=sql.Identifier(load.STATE_SCHEMA), t=sql.Identifier(plan.schema, table.target)),
        [load.fingerprint(table, source_path), plan.schema, table.target])


# --- the app's API ----------------------------------------------------------------------------------

@dataclass
class ApiCheck:
    name: str
    status: str  # PASS | FAIL
    detail: str


def check_api(params: Params, target: Target, schema: str) -> list[ApiCheck]:
    """`GET <api_url>/health` answers ok, and the items the API lists are the target table's rows, id
    for id. Nothing when `api_url` is empty."""
    if not params.api_url:
        return []
    base = deref(params.api_url).rstrip("/")  # a URL with a password reaches the notebook as env:NAME
    shown = redact_url(base)
    checks = []
    try:
        status, body = _get(base + "/health")
        healthy = status == 200 and "ok" in body.lower()
        checks.append(ApiCheck("health", "PASS" if healthy else "FAIL",
                               f"GET {shown}/health: {status} {body.strip()[:80]}"))
    except OSError as exc:
        checks.append(ApiCheck("health", "FAIL", f"GET {shown}/health: {one_line(exc, 1)}"))
        return checks
    path = "/" + params.api_items_path.lstrip("/")
    try:
        status, body = _get(base + path)
        listed = json.loads(body)
        items = listed.get("items") if isinstance(listed, dict) else listed
        if status != 200 or not isinstance(items, list):
            raise ValueError(f"answered {status} without a list of items")
        api_ids = {str(item["id"]) for item in items}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        checks.append(ApiCheck("items", "FAIL", f"GET {shown}{path}: {one_line(exc, 1)}"))
        return checks
    with connect(target.direct_url, params, autocommit=True) as conn:
        db_ids = {str(r[0]) for r in conn.execute(sql.SQL("SELECT id FROM {}").format(
            sql.Identifier(schema, params.api_items_table)))}
    missing, extra = sorted(db_ids - api_ids), sorted(api_ids - db_ids)
    if missing or extra:
        checks.append(ApiCheck("items", "FAIL", f"the API lists {len(api_ids)} items, {params.api_items_table} holds "
                               f"{len(db_ids)}: {len(missing)} not listed (e.g. {missing[:3]}), "
                               f"{len(extra)} not in the table (e.g. {extra[:3]})"))
    else:
        checks.append(ApiCheck("items", "PASS", f"the API lists the {len(api_ids)} rows of {params.api_items_table}"))
    return checks


def _get(url: str) -> tuple[int, str]:
    """(status, body) of a GET; a user and password in the URL go as HTTP basic authentication."""
    import base64
    from urllib.parse import unquote, urlsplit, urlunsplit

    headers = {"Accept": "application/json", "User-Agent": "sqlite2neon"}
    parts = urlsplit(url)
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        url = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(10_000_000).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(10_000).decode(errors="replace")


# --- the closing checklist -----------------------------------------------------------------------

def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:  # read-only, as every access to the source
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup_digests(source_path: Path) -> dict[Path, str]:
    """The SQLite file, and its -wal file when there is one: path -> SHA-256."""
    files = [source_path] + [p for p in (Path(f"{source_path}-wal"),) if p.exists()]
    return {p: sha256_of(p) for p in files}


def checklist(params: Params, source_path: Path, digests: dict[Path, str], target: Target, passed: bool,
              kept: int = 0) -> str:
    """The closing checklist, in Markdown: the switch, the backup and its SHA-256, the way back.
    `kept`: rows left as Postgres has them (`conflicts: keep_target`, now or earlier)."""
    backups = "\n".join(f"   - `{p}`: {p.stat().st_size:,} bytes, SHA-256 `{d}`" for p, d in digests.items())
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    switch = f"{params.app_switch}={params.app_switch_value}"
    state = "level with the SQLite file and verified" if passed else "NOT level with the SQLite file: do not switch"
    if passed and kept:
        state += (f", save {kept} row(s) kept as Postgres has them (listed in cutover.json and in "
                  "`_sqlite2neon.kept`; the SQLite file does not hold them)")
    return f"""## Closing checklist ({now})

The target ({target.display}) is {state}.

1. Keep the app stopped, or at least not writing, until the switch: writes to SQLite after this
   catch-up are not in Postgres (run `sqlite2neon cutover` again to carry them over).
2. Switch the app: set `{switch}` in its environment (for example its `.env`) and restart it.
3. Keep the SQLite backup untouched; the runbook only ever read it:
{backups}
   Check it later with `sha256sum {source_path}`.
4. To roll back: set `{params.app_switch}` back to its old value (or remove it) and restart the app; it reads
   the SQLite file above again. Rows written to Postgres after the switch are not in that file: find
   them by their timestamps (after {now}) before rolling back.
"""


def step(params: Params) -> dict:
    """The cutover notebook's work: catch up, verify in full, check the API; with `dry_run`, compare
    only. The record in the run directory: `cutover.json` (every change and conflict), and once the
    catch-up was applied `verify.json` and `checklist.md`.

    Returns {"catch_up": CatchUp, "verify": VerifyResult or None, "api": [ApiCheck]}: no verification
    and no API checks when nothing was applied (a dry run, or conflicts with `conflicts: stop`; the
    notebook lists them, then `conclude` raises). Raises LossesNotAccepted (nothing applied) when the
    source as it is now holds values the plan lists as lost and `accept_losses` does not accept them
    (not for a dry run); CutoverFailed when the catch-up cannot start (no base, a table that cannot be
    compared, too many differences)."""
    import dataclasses

    from . import record, verify
    from .config import resolve_path
    from .connect import resolve_target
    from .plan import plan_for

    run_dir = record.run_dir_for(params)
    plan = plan_for(params)
    if not params.dry_run:  # rows written since the load are planned afresh: what they would lose is listed too
        plan.raise_for_losses()
    target = resolve_target(params)
    source = resolve_path(params.sqlite_path)
    try:
        caught = catch_up(plan, target, params, source_path=source, run=run_dir.name, dry_run=params.dry_run)
    except ConflictsFound as exc:
        caught = exc.caught
    outcome = {"dry_run": params.dry_run, "catch_up": caught.as_record()}
    verified, api = None, []
    if caught.applied:
        verified = verify.verify_and_record(plan, target, dataclasses.replace(params, verify="full"), source,
                                            run_dir, run=run_dir.name)
        api = check_api(params, target, plan.schema)
        digests = backup_digests(source)
        outcome |= {"verified": verified.passed, "api": [asdict(c) for c in api], "source_sha256": digests[source]}
        kept = sum(t.kept_rows for t in verified.tables)
        record.write(run_dir, "checklist.md", checklist(params, source, digests, target,
                                                        verified.passed and all(c.status == "PASS" for c in api),
                                                        kept))
    record.write(run_dir, "cutover.json", json.dumps(outcome, indent=2))
    return {"catch_up": caught, "verify": verified, "api": api}


def conclude(outcome: dict) -> str:
    """The cutover's verdict, from what `step` returned: a sentence when it passed (or was a dry run,
    which applies nothing and passes once it listed what it found). Raises ConflictsFound (nothing
    applied), VerificationFailed, or CutoverFailed naming the API check that failed."""
    caught, verified, api = outcome["catch_up"], outcome["verify"], outcome["api"]
    if caught.dry_run:
        return (f"dry run: NOTHING WAS APPLIED. The catch-up would write {caught.changed_rows} row(s) and found "
                f"{len(caught.conflicts)} conflict(s) (conflicts: {caught.resolution}); cutover.json lists them")
    caught.raise_for_conflicts()
    verified.raise_for_failure()
    failed = [c for c in api if c.status != "PASS"]
    if failed:  # the catch-up is committed by now: say so, or a person may think nothing happened
        raise CutoverFailed(f"the catch-up was APPLIED ({caught.changed_rows} row(s)) and verified, but the app's API "
                            "does not agree: " + "; ".join(f"API {c.name}: {c.detail}" for c in failed))
    kept = sum(t.kept_rows for t in verified.tables)
    level = f"level with the SQLite file, save {kept} row(s) kept as Postgres has them" if kept else \
        "level with the SQLite file"
    return f"cutover passed: the target is {level}; follow the checklist above to switch"
