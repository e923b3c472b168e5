"""The load benchmark: this runbook's load and verify steps against a plain COPY (the limit), DuckDB's
postgres extension and pgloader, on the same embedded PostgreSQL, each in its own process whose wall
time and peak memory (the process and its children) are recorded. See bench/README.md.

    .venv/bin/python bench/run.py                          # 2M rows, growth run at 1M and 4M
    .venv/bin/python bench/run.py --rows 100000 --sizes 50000,100000 --skip pgloader
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg import sql

try:
    import psutil
except ImportError:  # the benchmark runs without it; memory is then not reported
    psutil = None

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from appdb import make_app_db, make_limit_csv  # noqa: E402

from sqlite2neon import embedded  # noqa: E402

DATA = BENCH / "data"
RESULTS = BENCH / "results"
DRIVER = BENCH / "driver.py"
OPTIONAL = ("limit", "load", "verify", "duckdb", "pgloader", "growth")
SAMPLE_SECONDS = 0.05
MB = 1 << 20


@dataclass
class Measurement:
    name: str
    seconds: float | None = None  # the timed part (for pgloader, the whole process)
    wall_seconds: float | None = None  # the whole process, interpreter start included
    peak_rss_mb: float | None = None  # the process and its children, sampled every 50 ms
    rows: int | None = None
    load_average: float | None = None  # 1-minute load when it started; this benchmark's own steps add about 1
    detail: dict = field(default_factory=dict)
    error: str = ""


@dataclass
class Check:
    name: str
    passed: bool | None  # None: not measured
    detail: str


# --- measuring one process -------------------------------------------------------------------

def tree_rss(root) -> int:
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:  # it ended between the listing and the reading
            pass
    return total


def run_measured(name: str, argv: list[str], log: Path) -> tuple[int, Measurement]:
    """Run `argv` with its output in `log`: its exit status, wall time and the peak RSS of its tree."""
    log.parent.mkdir(parents=True, exist_ok=True)
    load_average = os.getloadavg()[0]
    with open(log, "w") as out:
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        peak = None
        if psutil is not None:
            root, peak = psutil.Process(proc.pid), 0
        while True:
            if psutil is not None:
                try:
                    peak = max(peak, tree_rss(root))
                except psutil.Error:
                    pass
            try:
                proc.wait(timeout=SAMPLE_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
        wall = time.monotonic() - started
    return proc.returncode, Measurement(name, wall_seconds=wall, peak_rss_mb=peak and peak / MB, load_average=load_average)


def measure(name: str, step: str, url: str, log_dir: Path, **options) -> Measurement:
    """A driver step (see driver.py) in its own process."""
    result = log_dir / f"{step}.json"
    result.unlink(missing_ok=True)
    argv = [sys.executable, str(DRIVER), step, "--url", url, "--result", str(result)]
    for key, value in options.items():
        if value is not None:
            argv += [f"--{key.replace('_', '-')}", str(value)]
    status, m = run_measured(name, argv, log_dir / f"{step}.log")
    if status != 0 or not result.exists():
        m.error = f"exit status {status}: {last_line(log_dir / f'{step}.log')}"
        return m
    detail = json.loads(result.read_text())
    m.seconds, m.rows = detail.pop("seconds"), detail.pop("rows", None)
    m.detail = detail
    return m


def last_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else "(no output)"


# --- the server and its databases -------------------------------------------------------------

def database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


@contextmanager
def fresh_database(admin_url: str, name: str):
    """An empty database for one measurement, dropped afterwards; a checkpoint first, so no
    measurement pays for the writes of the one before."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn.execute("CHECKPOINT")
    try:
        yield database_url(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def column_types(url: str) -> dict[str, str]:
    """The types a tool gave mental_items' columns."""
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = 'mental_items' ORDER BY ordinal_position").fetchall())


def count_rows(url: str) -> int | None:
    """Rows of mental_items in whichever schema a tool put it."""
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT table_schema FROM information_schema.tables WHERE table_name = 'mental_items'").fetchone()
        if found is None:
            return None
        return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(found[0], "mental_items"))).fetchone()[0]


# --- the measurements -------------------------------------------------------------------------

def app_db(rows: int) -> Path:
    path = DATA / f"app-{rows}.db"
    if not path.exists():
        print(f"generating {path.relative_to(BENCH.parent)} ({rows:,} rows) ...", flush=True)
        started = time.monotonic()
        make_app_db(path, rows)
        print(f"  {time.monotonic() - started:.1f} s, {path.stat().st_size / MB:.0f} MB", flush=True)
    return path


def limit_csv(db: Path) -> Path:
    path = db.with_suffix(".csv")
    if not path.exists():
        print(f"writing the limit's CSV {path.relative_to(BENCH.parent)} ...", flush=True)
        make_limit_csv(db, path)
    return path


def runbook(admin_url: str, db: Path, label: str, workers: int | None, with_verify: bool) -> list[Measurement]:
    """Inspect and plan (one process), then the load step, then the verify step, each measured,
    on one fresh database and run directory."""
    run_dir = RESULTS / "runs" / label
    shutil.rmtree(run_dir, ignore_errors=True)
    logs = RESULTS / "logs" / label
    with fresh_database(admin_url, f"bench_{label}") as url:
        common = {"db": db, "run_dir": run_dir}
        prepared = measure("runbook inspect + plan", "prepare", url, logs, **common)
        if prepared.error:
            return [prepared]
        out = [prepared, measure("(b) runbook load step", "load", url, logs, workers=workers, **common)]
        if with_verify and not out[-1].error:
            out.append(measure("(c) runbook verify step", "verify", url, logs, **common))
            if not out[-1].error and not out[-1].detail.get("passed"):
                out[-1].error = "verification did not pass"
        return out


def pgloader(admin_url: str, db: Path, logs: Path, rows: int) -> Measurement:
    with fresh_database(admin_url, "bench_pgloader") as url:
        status, m = run_measured("(e) pgloader", ["pgloader", f"sqlite://{db}", url], logs / "pgloader.log")
        m.seconds, m.rows, m.detail = m.wall_seconds, count_rows(url), {"exit_status": status, "types": column_types(url)}
    if status != 0 or m.rows != rows:
        m.error = f"exit status {status}, {m.rows} of {rows} rows loaded"
    return m


def measure_all(args, admin_url: str, db: Path, csv: Path) -> list[Measurement]:
    logs = RESULTS / "logs" / f"main-{args.rows}"
    out = []
    if "limit" not in args.skip:
        print("measuring (a) the limit: COPY of the converted CSV + primary key ...", flush=True)
        with fresh_database(admin_url, "bench_limit") as url:
            out.append(measure("(a) limit: COPY + primary key", "limit", url, logs, csv=csv))
    if "load" not in args.skip:
        print("measuring (b) the runbook's load step and (c) its verify step ...", flush=True)
        out += runbook(admin_url, db, f"main-{args.rows}", args.workers, "verify" not in args.skip)
    if "duckdb" not in args.skip:
        try:
            import duckdb_extension_postgres_scanner  # noqa: F401
        except ImportError:
            print("skipping (d) DuckDB: pip install duckdb-extension-postgres-scanner==<duckdb's version>")
        else:
            print("measuring (d) DuckDB's postgres extension ...", flush=True)
            with fresh_database(admin_url, "bench_duckdb") as url:
                out.append(measure("(d) DuckDB postgres extension", "duckdb", url, logs, db=db))
                out[-1].detail["types"] = column_types(url)
    if "pgloader" not in args.skip:
        if shutil.which("pgloader") is None:
            print("skipping (e) pgloader: not on PATH (apt-get install pgloader)")
        else:
            print("measuring (e) pgloader ...", flush=True)
            out.append(pgloader(admin_url, db, logs, args.rows))
    return out


def growth(args, admin_url: str) -> list[Measurement]:
    out = []
    for rows in args.sizes:
        db = app_db(rows)
        print(f"measuring the load step at {rows:,} rows ...", flush=True)
        steps = runbook(admin_url, db, f"growth-{rows}", args.workers, with_verify=False)
        out.append(steps[-1])
        out[-1].name = f"load step, {rows:,} rows"
    return out


# --- the report -------------------------------------------------------------------------------

def find(measurements: list[Measurement], prefix: str) -> Measurement | None:
    found = next((m for m in measurements if m.name.startswith(prefix)), None)
    return found if found is not None and not found.error and found.seconds else None


def checks_for(main: list[Measurement], grown: list[Measurement]) -> list[Check]:
    limit, load, verify, pgl = (find(main, p) for p in ("(a)", "(b)", "(c)", "(e)"))
    small, large = (find(grown[:1], ""), find(grown[-1:], "")) if len(grown) >= 2 else (None, None)
    out = []

    def check(name: str, measured: bool, passed, detail) -> None:
        out.append(Check(name, passed(), detail()) if measured else Check(name, None, "not measured"))

    check("load <= 1.2 x limit", bool(load and limit), lambda: load.seconds <= 1.2 * limit.seconds,
          lambda: f"{load.seconds:.1f} s vs {limit.seconds:.1f} s ({load.seconds / limit.seconds:.2f} x)")
    check("verify <= load", bool(verify and load), lambda: verify.seconds <= load.seconds,
          lambda: f"{verify.seconds:.1f} s vs {load.seconds:.1f} s")
    check("load >= 2.5 x faster than pgloader", bool(load and pgl), lambda: pgl.seconds >= 2.5 * load.seconds,
          lambda: f"{pgl.seconds / load.seconds:.2f} x faster")
    check("load peak memory < 300 MB", bool(load and load.peak_rss_mb), lambda: load.peak_rss_mb < 300,
          lambda: f"{load.peak_rss_mb:.0f} MB")
    check("growth: larger peak memory <= 1.2 x smaller's", bool(small and large and small.peak_rss_mb),
          lambda: large.peak_rss_mb <= 1.2 * small.peak_rss_mb,
          lambda: f"{large.peak_rss_mb:.0f} MB at {large.rows:,} rows vs {small.peak_rss_mb:.0f} MB at {small.rows:,} rows")
    return out


def fmt(value, pattern: str) -> str:
    """`value` in `pattern` ("8.2f"), or a dash as wide."""
    return format(value, pattern) if value is not None else "-".rjust(int(pattern.split(".")[0].replace(",", "")))


def table(measurements: list[Measurement], csv_mb: float | None, limit: Measurement | None) -> str:
    head = f"{'measurement':34} {'step s':>8} {'process s':>9} {'rows/s':>10} {'MB/s':>7} {'peak RSS MB':>11} {'x limit':>8} {'load avg':>8}"
    lines = [head, "-" * len(head)]
    for m in measurements:
        rate = m.rows / m.seconds if m.rows and m.seconds else None
        mbps = csv_mb / m.seconds if csv_mb and m.seconds and m.rows else None
        ratio = m.seconds / limit.seconds if limit and m.seconds else None
        lines.append(f"{m.name:34} {fmt(m.seconds, '8.2f')} {fmt(m.wall_seconds, '9.2f')} {fmt(rate, '10,.0f')} "
                     f"{fmt(mbps, '7.1f')} {fmt(m.peak_rss_mb, '11.0f')} {fmt(ratio, '8.2f')} {fmt(m.load_average, '8.1f')}"
                     + (f"  FAILED: {m.error}" if m.error else ""))
    return "\n".join(lines)


def machine(admin_url: str) -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                 platform.processor())
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem_kb = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal")), 0)
    with psycopg.connect(admin_url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        settings = dict(conn.execute(
            "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN "
            "('shared_buffers', 'max_wal_size', 'wal_level', 'synchronous_commit', 'fsync', 'maintenance_work_mem')"
        ).fetchall())
    git = subprocess.run(["git", "-C", str(BENCH.parent), "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip()
    # The library may hold uncommitted changes: its digest tells two runs of different code apart.
    lib = hashlib.sha256(b"".join(p.read_bytes() for p in sorted((BENCH.parent / "lib").rglob("*.py"))))
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_gb": round(mem_kb / 2**20, 1),
            "postgres": version, "postgres_settings": settings, "python": platform.python_version(),
            "platform": platform.platform(), "sqlite2neon_commit": git,
            "lib_sha256": lib.hexdigest()[:12]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the main run (default 2000000)")
    parser.add_argument("--sizes", default="1000000,4000000", help="row counts of the growth run (default 1000000,4000000)")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json", help="the JSON report")
    parser.add_argument("--skip", default="", help=f"comma-separated, of: {', '.join(OPTIONAL)}")
    parser.add_argument("--workers", type=int, help="the runbook's workers parameter (when it has one)")
    args = parser.parse_args()
    args.sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.skip - set(OPTIONAL):
        parser.error(f"--skip takes {', '.join(OPTIONAL)}")
    if psutil is None:
        print("psutil is not installed: peak memory is not measured")

    db = app_db(args.rows)
    csv = limit_csv(db) if "limit" not in args.skip else None
    csv_mb = csv.stat().st_size / MB if csv else None
    home = DATA / "postgres"
    admin_url = embedded.ensure_running(home)
    try:
        about = machine(admin_url)
        main_run = measure_all(args, admin_url, db, csv)
        grown = growth(args, admin_url) if "growth" not in args.skip and args.sizes else []
    finally:
        embedded.stop(home)

    limit = find(main_run, "(a)")
    checks = checks_for(main_run, grown)
    print(f"\n{args.rows:,} rows" + (f", {csv_mb:.0f} MB of CSV ({csv_mb * MB / args.rows:.0f} bytes a row)" if csv_mb else "")
          + f"; PostgreSQL {about['postgres']}, {about['cpus']} CPUs, {about['cpu_model']}")
    print(table(main_run, csv_mb, limit))
    if grown:
        print("\ngrowth run")
        print(table(grown, None, None))
    print()
    for c in checks:
        print(f"{'PASS' if c.passed else 'n/a ' if c.passed is None else 'FAIL'}  {c.name}: {c.detail}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv, "rows": args.rows, "csv_bytes": csv.stat().st_size if csv else None,
        "machine": about, "measurements": [asdict(m) for m in main_run], "growth": [asdict(m) for m in grown],
        "checks": [asdict(c) for c in checks],
    }, indent=2, default=str))
    print(f"\nwritten to {args.out}; logs and run directories under {RESULTS}")
    return 1 if any(m.error for m in main_run + grown) else 0


if __name__ == "__main__":
    sys.exit(main())
