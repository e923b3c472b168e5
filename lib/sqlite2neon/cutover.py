"""Step 05, cutover: carry over what the app wrote to SQLite since the bulk load, verify in full,
check the app's own API, and leave the closing checklist in the record.

Catch-up needs no `updated_at` column: each table is reconciled by key (`reconcile.py`) against the
target, and the rows found are carried over by primary key, in one transaction for all tables: rows
missing in the target and changed rows are read from SQLite through the same conversions as the
load and upserted (`INSERT ... ON CONFLICT (key) DO UPDATE`); rows only in the target are deleted.
A table without a primary key is compared as a multiset of rows: missing rows are inserted, and one
target row is deleted per unexpected copy.

    >>> caught = catch_up(plan, target, params, source_path=Path("data/app.db"), run="...-cutover")
    >>> caught.tables[0]
    TableCatchUp(table='mental_items', inserted=5, updated=3, deleted=2, rejected=0, seconds=0.41)
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg import sql

from . import convert, load
from .config import Params, redact_url
from .connect import Target, connect, deref, scrub
from .errors import RunbookError, TargetError, one_line
from .plan import Plan, TablePlan
from .reconcile import Difference, reconcile_table, target_key
from .source import open_source, sql_string
from .verify import loaded_by, rejected_keys

KEYS_PER_READ = 500  # source keys per SQLite read of the rows to carry over


class CutoverFailed(RunbookError):
    """The target could not be brought level, or the app's API does not agree with it."""


@dataclass
class TableCatchUp:
    table: str
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    rejected: int = 0
    seconds: float = 0.0


@dataclass
class CatchUp:
    tables: list[TableCatchUp] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed_rows(self) -> int:
        return sum(t.inserted + t.updated + t.deleted for t in self.tables)

    def frame(self):
        import pandas as pd

        return pd.DataFrame([asdict(t) for t in self.tables])


def catch_up(plan: Plan, target: Target, params: Params, *, source_path, run: str) -> CatchUp:
    """Bring every planned table level with the SQLite file as it is now, in one transaction."""
    started = time.monotonic()
    result = CatchUp()
    src = open_source(source_path)
    src.execute("SET threads = 1")
    convert.register(src)
    try:
        with connect(target.direct_url, params, autocommit=True) as conn:
            found = []  # everything is compared before anything changes
            for table in plan.tables:
                t0 = time.monotonic()
                kept_run = loaded_by(conn, plan.schema, table) or run
                keys = rejected_keys(conn, kept_run, table)
                diff = reconcile_table(src, conn, plan.schema, table, plan.bad_text, keys, keep_all=True)
                if diff.problem:
                    raise CutoverFailed(f"{table.target} cannot be compared: {scrub(diff.problem, target.secrets)}")
                if not diff.complete:
                    raise CutoverFailed(
                        f"{table.target}: too many rows differ to carry over by key ({diff.differences_total}+); "
                        "run the load again with if_exists truncate instead")
                found.append((table, diff.all_differences, kept_run, time.monotonic() - t0))
            with conn.transaction():
                for table, differences, kept_run, seconds in found:  # parents first: foreign keys hold
                    t0 = time.monotonic()
                    step = _upsert(src, conn, plan, table, differences, params, target, kept_run)
                    step.seconds = seconds + time.monotonic() - t0
                    result.tables.append(step)
                for (table, differences, _, _), step in reversed(list(zip(found, result.tables))):  # children first
                    t0 = time.monotonic()
                    step.deleted = _delete(conn, plan, table, [d for d in differences if d.kind == "unexpected"])
                    step.seconds += time.monotonic() - t0
                for table, *_ in found:
                    _record_state(conn, plan, table, source_path)
                    load._set_identity(conn, plan, table, load.LoadResult(), target)
    except psycopg.Error as exc:
        raise TargetError(f"catch-up failed and was rolled back: {scrub(one_line(exc), target.secrets)}") from None
    finally:
        src.close()
    result.seconds = time.monotonic() - started
    return result


def _source_where(table: TablePlan, source_keys: list[str]) -> str:
    """A SQLite condition selecting rows by the keys the reconciliation reported for them."""
    if table.has_rowid:
        return f"rowid IN ({', '.join(str(int(k)) for k in source_keys)})"
    return f"({convert.source_key(table)}) IN ({', '.join(sql_string(k) for k in source_keys)})"


def _upsert(src, conn, plan: Plan, table: TablePlan, differences: list[Difference], params: Params,
            target: Target, kept_run: str) -> TableCatchUp:
    step = TableCatchUp(table.target)
    wanted = [d for d in differences if d.kind in ("missing", "changed")]
    if not wanted:
        return step
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
        updates = [c for c in loaded if c.target not in table.primary_key]
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
    step.inserted = sum(1 for d in wanted if d.kind == "missing" and d.source_key not in rejected)
    step.updated = sum(1 for d in wanted if d.kind == "changed" and d.source_key not in rejected)
    step.rejected = len(rejects)
    if rejects:  # recorded under the run that loaded the table, so verification accounts for them
        load._save_rejects(conn, kept_run, rejects)
        # a changed row that no longer converts must not stay in the target with its old values
        _delete(conn, plan, table, [d for d in wanted if d.kind == "changed" and d.source_key in rejected])
    return step


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


def checklist(params: Params, source_path: Path, digests: dict[Path, str], target: Target, passed: bool) -> str:
    """The closing checklist, in Markdown: the switch, the backup and its SHA-256, the way back."""
    backups = "\n".join(f"   - `{p}`: {p.stat().st_size:,} bytes, SHA-256 `{d}`" for p, d in digests.items())
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    switch = f"{params.app_switch}={params.app_switch_value}"
    state = "level with the SQLite file and verified" if passed else "NOT level with the SQLite file: do not switch"
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
    """The cutover notebook's work: catch up, verify in full, check the API; the record in the run
    directory (`cutover.json`, `verify.json`, `checklist.md`)."""
    import dataclasses

    from . import record, verify
    from .config import resolve_path
    from .connect import resolve_target
    from .plan import plan_for

    run_dir = record.run_dir_for(params)
    plan = plan_for(params)
    target = resolve_target(params)
    source = resolve_path(params.sqlite_path)
    caught = catch_up(plan, target, params, source_path=source, run=run_dir.name)
    verified = verify.verify_and_record(plan, target, dataclasses.replace(params, verify="full"), source, run_dir,
                                        run=run_dir.name)
    api = check_api(params, target, plan.schema)
    digests = backup_digests(source)
    outcome = {"catch_up": asdict(caught), "verified": verified.passed, "api": [asdict(c) for c in api],
               "source_sha256": digests[source]}
    record.write(run_dir, "cutover.json", json.dumps(outcome, indent=2))
    record.write(run_dir, "checklist.md", checklist(params, source, digests, target,
                                                    verified.passed and all(c.status == "PASS" for c in api)))
    return {"catch_up": caught, "verify": verified, "api": api}
