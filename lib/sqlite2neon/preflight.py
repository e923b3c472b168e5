"""Step 00, preflight: is the target the right one, reachable, safe and ready? Nothing is written.

    >>> report = run_preflight(Params())
    >>> report.frame()           # PASS / WARN / FAIL, one row per check
    >>> report.raise_for_failures()
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

import psycopg
from psycopg import sql

from .config import Params, resolve_path
from .connect import (
    Target, connect_timed, host_of, is_local_host, pooled_endpoint_option, redact_url, resolve_target, scrub,
    sslmode_of,
)
from .errors import PreflightFailed, RunbookError
from .load import if_exists_for
from .plan import target_name
from .source import check_sqlite_file, table_names

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
SECURE_SSLMODES = {"require", "verify-ca", "verify-full"}
MIN_SERVER_VERSION = 140000
ROUND_TRIP_WARN_MS = 100  # beyond this, a run is bound by its round trips more than by the server
VERIFIED_SSLMODES = {"verify-ca", "verify-full"}


@dataclass
class Check:
    name: str
    status: str
    detail: str


@dataclass
class PreflightReport:
    target: str  # redacted URL
    target_kind: str
    pooled: bool = False  # a transaction-mode pooler was found between the runbook and the server
    checks: list[Check] = field(default_factory=list)
    connect_seconds: float | None = None
    server_version: str | None = None
    round_trip_ms: float | None = None  # median of a few SELECT 1 on the open connection
    workers: int | None = None  # the workers the target's free connection slots allow (None: not read)

    def add(self, name: str, status: str, detail: str) -> Check:
        check = Check(name, status, detail)
        self.checks.append(check)
        return check

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    def raise_for_failures(self) -> None:
        if self.failed:
            first = self.failed[0]
            more = f" (and {len(self.failed) - 1} more failed check(s))" if len(self.failed) > 1 else ""
            raise PreflightFailed(f"preflight failed: {first.name}: {first.detail}{more}")

    def frame(self):
        import pandas as pd

        return pd.DataFrame([asdict(c) for c in self.checks])

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def run_preflight(params: Params, target: Target | None = None) -> PreflightReport:
    """Every check, in order; a check that cannot run because an earlier one failed is not run."""
    source = resolve_path(params.sqlite_path)
    try:
        target = target or resolve_target(params)
    except RunbookError as exc:
        report = PreflightReport(redact_url(params.database_url), "unknown")
        _check_source(report, source, params)
        report.add("target URL", FAIL, str(exc))
        return report
    report = PreflightReport(target.display, target.kind)
    _check_source(report, source, params, scratch=target.kind == "embedded")
    report.add("target URL", PASS, f"{target.headline()}: {target.display} (from {target.url_source})")
    _check_endpoint(report, target)
    _check_tls(report, target, params)
    if report.failed:
        return report
    try:
        conn, seconds = connect_timed(target.direct_url, params, autocommit=True)
    except RunbookError as exc:
        report.add("connect", FAIL, str(exc))
        return report
    report.connect_seconds = seconds
    waited = f"{seconds:.1f} s, waiting for the server" if seconds >= 1 else f"{seconds * 1000:.0f} ms"
    report.add("connect", PASS, f"first connection in {waited} (connect_wait allows {params.connect_wait} s for a waking compute)")
    with conn:
        try:
            _check_server(report, conn, target)
            _check_round_trip(report, conn)
            slots = free_slots(conn)
            _check_pooler(report, conn, target, params, spare=slots.free > 0)
            _check_connections(report, slots, params)
            _check_timeouts(report, conn, params)
            _check_storage(report, conn, source, params, scratch=target.kind == "embedded")
            _check_privileges(report, conn, params)
            _check_existing(report, conn, params, _source_tables(source, params), if_exists_for(params, target))
        except psycopg.Error as exc:
            report.add("target queries", FAIL, scrub(str(exc).splitlines()[0], target.secrets))
    return report


# The embedded server is the runbook's own scratch server on this machine, not a plan with a storage
# limit: there a run over storage_budget_mb is warned about, not stopped (earlier runs' data, kept for
# inspection, would otherwise stop even the demo).
SCRATCH_NOTE = "; not enforced on the embedded scratch server"


def _check_source(report: PreflightReport, source, params: Params, scratch: bool = False) -> None:
    try:
        check_sqlite_file(source)
    except RunbookError as exc:
        report.add("source file", FAIL, str(exc))
        return
    size_mb = source.stat().st_size / 1e6
    report.add("source file", PASS, f"{source} ({size_mb:.1f} MB), opened read-only")
    if size_mb > params.storage_budget_mb:  # too large whatever the target holds: no need to connect
        said = f"source is {size_mb:.1f} MB, over the budget of {params.storage_budget_mb} MB"
        if scratch:
            report.add("storage budget", WARN, said + SCRATCH_NOTE)
        else:
            report.add("storage budget", FAIL, said + "; raise storage_budget_mb or pick a larger plan")


def _check_storage(report: PreflightReport, conn, source, params: Params, scratch: bool = False) -> None:
    """What the database will hold after the load, against `storage_budget_mb`: its present size
    (`pg_database_size`, which counts every table, index and the catalog: PostgreSQL docs, 9.27.7
    "Database Object Management Functions") plus up to twice the SQLite file (Postgres usually stores
    an app's SQLite data in 1 to 2 times the space). A table the load replaces is counted twice: the
    estimate errs on the side of the budget. On the embedded server (`scratch`) over the budget is a
    WARN (`SCRATCH_NOTE`)."""
    if any(c.name == "storage budget" for c in report.checks):
        return
    size_mb = source.stat().st_size / 1e6
    existing_mb = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 1e6
    budget = params.storage_budget_mb
    low, high = existing_mb + size_mb, existing_mb + size_mb * 2
    said = f"the database holds {existing_mb:.0f} MB now; source {size_mb:.1f} MB adds up to {size_mb * 2:.0f} MB"
    if low > budget and scratch:
        report.add("storage budget", WARN, f"{said}: over the budget of {budget} MB{SCRATCH_NOTE}")
    elif low > budget:
        report.add("storage budget", FAIL, f"{said}: over the budget of {budget} MB; raise storage_budget_mb, pick "
                   "a larger plan, or free space in the target")
    elif high > budget:
        report.add("storage budget", WARN, f"{said}: up to {high:.0f} MB of a {budget} MB budget")
    else:
        report.add("storage budget", PASS, f"{said}: up to {high:.0f} MB of a {budget} MB budget")


def _check_timeouts(report: PreflightReport, conn, params: Params) -> None:
    """The target's own statement, lock and idle-in-transaction timeouts (the role's or database's,
    `pg_settings.reset_val`: what a session starts with) beside the runbook's, which it sets on each of
    its connections instead (connect.session_settings)."""
    own = {"statement_timeout": params.statement_timeout, "lock_timeout": params.lock_timeout,
           "idle_in_transaction_session_timeout": params.idle_timeout}
    rows = dict(conn.execute("SELECT name, reset_val FROM pg_settings WHERE name = ANY(%s)", [list(own)]).fetchall())

    def shown(ms) -> str:
        return "none" if int(ms or 0) == 0 else f"{int(ms) / 1000:g} s"

    theirs = ", ".join(f"{name} {shown(rows.get(name))}" for name in own)
    ours = ", ".join(f"{name} {shown(seconds * 1000)}" for name, seconds in own.items())
    report.add("timeouts", PASS, f"the target's: {theirs}; the runbook sets its own: {ours}")


@dataclass
class Slots:
    """The target's connection slots as this role sees them: `free` is how many more connections it may
    open now (not counting the one it reads them with), `detail` the limit that binds, in words."""
    free: int
    detail: str


def free_slots(conn) -> Slots:
    """How many more connections the current role may open: the least of the server's slots
    (`max_connections` less the slots reserved for superusers and, from PostgreSQL 16, for
    `pg_use_reserved_connections`, less the client backends in `pg_stat_activity`), the role's
    `rolconnlimit` and the database's `datconnlimit` (-1: no limit) less their sessions. PostgreSQL
    docs, 20.3.1 "Connection Settings" and CREATE ROLE's CONNECTION LIMIT. Through a pooler these are
    the pooler's server connections, not the clients it accepts."""
    (max_conn, reserved, clients, role_limit, role_used, db_limit, db_used) = conn.execute("""
        SELECT current_setting('max_connections')::int,
               CASE WHEN r.rolsuper THEN 0 ELSE current_setting('superuser_reserved_connections')::int
                    + CASE WHEN EXISTS (SELECT 1 FROM pg_roles u WHERE u.rolname = 'pg_use_reserved_connections'
                                        AND pg_has_role(current_user, u.oid, 'MEMBER')) THEN 0
                           ELSE coalesce(current_setting('reserved_connections', true), '0')::int END END,
               (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
               r.rolconnlimit,
               (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND usename = current_user),
               d.datconnlimit,
               (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND datname = current_database())
        FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()
    """).fetchone()
    limits = [(max_conn - reserved - clients,
               f"{clients} of the server's {max_conn} connections in use"
               + (f", {reserved} reserved for superusers" if reserved else ""))]
    if role_limit >= 0:
        limits.append((role_limit - role_used, f"the role's connection limit {role_limit}, {role_used} in use"))
    if db_limit >= 0:
        limits.append((db_limit - db_used, f"the database's connection limit {db_limit}, {db_used} in use"))
    free, detail = min(limits)
    return Slots(max(free, 0), detail)


def _check_connections(report: PreflightReport, slots: Slots, params: Params) -> None:
    """The connection budget: the load holds `workers` connections and its main one (one in all with
    `workers 1`), verification `workers`. The run gets its preflight connection back, so it may use
    `slots.free + 1`. Too few for `workers` lowers them (the load and verify read `report.workers`
    through `allowed_workers`); none at all fails with what to do."""
    if report.pooled:
        report.workers = params.workers
        report.add("connection budget", PASS, f"behind a pooler, which queues clients for its server connections; "
                   f"workers {params.workers}")
        return
    usable = slots.free + 1
    if usable < 1:
        report.add("connection budget", FAIL, f"no connection slot left for the load ({slots.detail}); close other "
                   "sessions, raise the limit (on Neon: a larger compute), or give the pooled URL")
        return
    need = params.workers + 1 if params.workers > 1 else 1
    if usable >= need:
        report.workers = params.workers
        report.add("connection budget", PASS, f"{slots.free} more connection(s) free ({slots.detail}); the run needs "
                   f"{need} at once with workers {params.workers}")
        return
    report.workers = max(1, usable - 1) if usable >= 3 else 1
    report.add("connection budget", WARN, f"only {slots.free} more connection(s) free ({slots.detail}); workers "
               f"lowered from {params.workers} to {report.workers}, which needs "
               f"{report.workers + 1 if report.workers > 1 else 1} at once")


def allowed_workers(params: Params) -> int:
    """`params.workers`, lowered to what this run's preflight found the target's connection slots allow
    (its `preflight.json` in the run directory); `params.workers` when no preflight ran."""
    from . import record

    text = record.read(record.run_dir_for(params), "preflight.json")
    found = json.loads(text).get("workers") if text else None
    return min(params.workers, found) if found else params.workers


def _check_round_trip(report: PreflightReport, conn) -> None:
    """The median time of five `SELECT 1` on the open connection: every statement and COPY batch of the
    run waits for it at least once, so a target far away shows here first."""
    import statistics

    times = []
    for _ in range(5):
        started = time.perf_counter()
        conn.execute("SELECT 1").fetchone()
        times.append((time.perf_counter() - started) * 1000)
    report.round_trip_ms = statistics.median(times)
    said = f"{report.round_trip_ms:.1f} ms (median of 5 SELECT 1)"
    if report.round_trip_ms > ROUND_TRIP_WARN_MS:
        report.add("round trip", WARN, f"{said}: the target is far from this machine; running the migration from a "
                   "machine in the target's region makes each statement that much faster")
    else:
        report.add("round trip", PASS, said)


def _check_pooler(report: PreflightReport, conn, target: Target, params: Params, spare: bool = True) -> None:
    """Whether a pooler shares server connections between clients, found by what it does, not by its
    name: two client connections open at once are served by one backend (the same pg_backend_pid), or
    one client's statements by several. PgBouncer in transaction mode does both: it gives each
    transaction whichever server connection is free (https://www.pgbouncer.org/features.html). The
    runbook works through one (no server-side prepared statements, no session state outside its
    transactions); bulk loading is slower there, so a direct URL is worth having."""
    if target.kind == "embedded":
        report.add("pooler", PASS, "none: the embedded server")
        return
    if not spare:
        report.add("pooler", WARN, "not looked for: no free connection slot for the second connection it needs")
        return
    try:
        other = connect_timed(target.direct_url, params, autocommit=True)[0]
    except RunbookError as exc:
        report.add("pooler", WARN, f"could not open a second connection to look for a pooler: {exc}")
        return
    with other:
        pids = []
        for _ in range(3):
            pids.append(("a", conn.execute("SELECT pg_backend_pid()").fetchone()[0]))
            pids.append(("b", other.execute("SELECT pg_backend_pid()").fetchone()[0]))
    shared = {pid for _, pid in pids if len({c for c, p in pids if p == pid}) > 1}
    moved = any(len({p for c, p in pids if c == client}) > 1 for client in ("a", "b"))
    if shared or moved:
        report.pooled = True
        report.add("pooler", WARN, f"{target.direct_host} shares server connections between clients (a transaction-mode "
                   "pooler such as PgBouncer): the runbook works through it, without prepared statements or session "
                   "state, but bulk loading is slower; give the direct URL as database_url_direct when you can")
    else:
        report.add("pooler", PASS, "none between the runbook and the server: each connection has a server process of its own")


def _check_endpoint(report: PreflightReport, target: Target) -> None:
    if target.kind == "embedded":
        report.add("endpoint", PASS, "embedded PostgreSQL on 127.0.0.1; one endpoint for loading and DDL")
        return
    if target.pooled and target.direct_source == "derived":
        report.add("endpoint", PASS, f"pooled URL given; loading and DDL use the direct host {target.direct_host} (derived by removing -pooler)")
    elif target.direct_source not in ("same", "derived"):
        report.add("endpoint", PASS, f"loading and DDL use the direct URL {target.display} ({target.direct_source})")
    elif target.kind == "neon":
        report.add("endpoint", PASS, f"direct Neon endpoint {target.direct_host}: right for bulk loading and DDL")
    else:
        report.add("endpoint", PASS, f"host {target.direct_host}")
    if "-pooler" in target.direct_host or pooled_endpoint_option(target.direct_url):
        report.add("endpoint", FAIL, "the URL used for loading is a pooled (-pooler) endpoint (its host or its "
                   "options=endpoint=...); set database_url_direct (or DATABASE_URL_DIRECT beside DATABASE_URL) to the direct one")


def _check_tls(report: PreflightReport, target: Target, params: Params) -> None:
    host = host_of(target.direct_url)
    mode = sslmode_of(target.direct_url)
    if is_local_host(host):
        report.add("TLS", PASS, f"local host {host or 'socket'}; TLS {'sslmode=' + mode if mode else 'not required'}")
    elif mode in SECURE_SSLMODES:
        report.add("TLS", PASS, f"sslmode={mode}")
    elif params.allow_insecure:
        report.add("TLS", WARN, f"sslmode={mode or 'unset'} to a remote host, allowed by allow_insecure")
    else:
        report.add("TLS", FAIL, f"sslmode={mode or 'unset'} to remote host {host}: add ?sslmode=require to the URL (Neon requires TLS)")


def _check_server(report: PreflightReport, conn, target: Target) -> None:
    num = int(conn.execute("SHOW server_version_num").fetchone()[0])
    version = conn.execute("SHOW server_version").fetchone()[0]
    report.server_version = version
    if num >= MIN_SERVER_VERSION:
        report.add("server version", PASS, f"PostgreSQL {version}")
    else:
        report.add("server version", FAIL, f"PostgreSQL {version} is older than 14, which this runbook needs")
    ssl = conn.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    if ssl and ssl[0] and sslmode_of(target.direct_url) not in VERIFIED_SSLMODES and not is_local_host(target.direct_host):
        report.add("TLS in use", WARN, f"connection encrypted ({ssl[1]}), but the server's certificate is not verified "
                   f"(sslmode={sslmode_of(target.direct_url) or 'unset'}): add sslmode=verify-full&sslrootcert=system "
                   "to the URL so no one in between can pose as the server")
    elif ssl and ssl[0]:
        report.add("TLS in use", PASS, f"connection encrypted ({ssl[1]})"
                   + ("" if sslmode_of(target.direct_url) in VERIFIED_SSLMODES else ", certificate not verified (local host)"))
    elif not is_local_host(target.direct_host):
        report.add("TLS in use", WARN, "connection is not encrypted")


def _check_privileges(report: PreflightReport, conn, params: Params) -> None:
    schema = params.target_schema
    exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone()
    if exists:
        ok = conn.execute("SELECT has_schema_privilege(current_user, %s, 'CREATE')", [schema]).fetchone()[0]
        what = f"schema {schema}"
    else:
        ok = conn.execute("SELECT has_database_privilege(current_user, current_database(), 'CREATE')").fetchone()[0]
        what = f"database (schema {schema} will be created)"
    user = conn.execute("SELECT current_user").fetchone()[0]
    if ok:
        report.add("privileges", PASS, f"role {user} may CREATE in the {what}")
    else:
        report.add("privileges", FAIL, f"role {user} may not CREATE in the {what}; grant it or choose another target_schema")


def _loaded_by_runbook(conn, schema: str, filled: dict[str, int]) -> dict[str, str]:
    """Filled tables whose rows are exactly what an earlier run of the runbook loaded: name -> run."""
    if conn.execute("SELECT to_regclass('_sqlite2neon.tables')").fetchone()[0] is None:
        return {}
    rows = conn.execute("SELECT table_name, run, rows FROM _sqlite2neon.tables WHERE schema_name = %s "
                        "AND status IN ('loaded', 'verified')", [schema]).fetchall()
    return {name: run for name, run, n in rows if filled.get(name) == n}


def _source_tables(source, params: Params) -> set[str]:
    """Target names of the source tables this run will load (empty when the source is unreadable)."""
    try:
        names = table_names(source)
    except RunbookError:
        return set()
    chosen = [n for n in names if not params.tables or n in params.tables]
    return {target_name(n) for n in chosen}


def _check_existing(report: PreflightReport, conn, params: Params, source_tables: set[str], if_exists: str) -> None:
    rows = conn.execute(
        "SELECT c.relname, c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY 1",
        [params.target_schema],
    ).fetchall()
    filled = {}
    for name, _estimate in rows:
        if conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(params.target_schema, name))).fetchone()[0]:
            filled[name] = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(params.target_schema, name))).fetchone()[0]
    relevant = {k: v for k, v in filled.items() if k in source_tables}
    earlier = _loaded_by_runbook(conn, params.target_schema, relevant)
    if earlier:
        listed = ", ".join(f"{k} (run {run})" for k, run in earlier.items())
        report.add("earlier runs", WARN, f"loaded by an earlier run of the runbook: {listed}; the load step "
                   "leaves them as they are if the source and plan are unchanged, else it follows if_exists")
        relevant = {k: v for k, v in relevant.items() if k not in earlier}
    if not rows:
        report.add("existing tables", PASS, f"schema {params.target_schema} has no tables yet")
    elif not relevant:
        report.add("existing tables", PASS, f"{len(rows)} table(s) in {params.target_schema}; none holds rows the runbook did not load")
    else:
        listed = ", ".join(f"{k} ({v} rows)" for k, v in relevant.items())
        if if_exists == "fail":
            report.add("existing tables", FAIL, f"already holding rows: {listed}; nothing will be overwritten. "
                       "If those rows are the app's, stop: truncate would DELETE them (append adds to them)")
        elif if_exists != params.if_exists:
            report.add("existing tables", WARN, f"the embedded target holds an earlier run's rows: {listed}; they will be replaced")
        else:
            report.add("existing tables", WARN, f"already holding rows: {listed}; if_exists={if_exists}")


def step(params: Params) -> PreflightReport:
    """The preflight notebook's work: every check, kept in the run directory."""
    from . import record
    from .demo import ensure_demo_source

    ensure_demo_source(params)
    report = run_preflight(params)
    record.write(record.run_dir_for(params), "preflight.json", report.to_json())
    return report
