"""The benchmark: the whole `sqlite2neon run` command and the runbook's load and verify steps against a
plain COPY (the limit) and the tools people compare it with (pgloader, DuckDB's postgres extension,
sling, ingestr, dlt), on the app-shaped database and on a small many-table one with views, on the
same embedded PostgreSQL, each in its own process whose wall time, CPU time and peak memory (the
process and all its children) are recorded. See bench/README.md.

    .venv/bin/python bench/run.py                          # 2M rows, growth run at 1M, 2M and 4M
    .venv/bin/python bench/run.py --rows 50000 --sizes 20000,50000 --skip dlt
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import resource
import shlex
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
from sample_db import SAMPLE_ROWS, make_sample_db  # noqa: E402

from sqlite2neon import embedded  # noqa: E402

DATA = BENCH / "data"
RESULTS = BENCH / "results"
DRIVER = BENCH / "driver.py"
PEERS_DRIVER = BENCH / "peers.py"
PEERS_VENV = BENCH / ".peers-venv"
PROJECT = BENCH.parent
PEERS = ("pgloader", "duckdb", "sling", "ingestr", "dlt")
OPTIONAL = ("whole", "limit", "load", "verify", "small", "growth", *PEERS)
SAMPLE_SECONDS = 0.05
MB = 1 << 20


@dataclass
class Measurement:
    name: str
    seconds: float | None = None  # the timed part (for the whole command and the CLI peers, the whole process)
    wall_seconds: float | None = None  # the whole process, interpreter start included
    cpu_seconds: float | None = None  # user + system CPU of the process and all its children
    peak_rss_mb: float | None = None  # the process and all its children, sampled every 50 ms
    peak_processes: dict = field(default_factory=dict)  # at that peak: MB of each process of the tree
    rows: int | None = None
    load_average: float | None = None  # 1-minute load when it started; this benchmark's own steps add about 1
    detail: dict = field(default_factory=dict)
    error: str = ""
    peer: bool = False  # a tool compared with: its failure is reported, it does not fail the benchmark


@dataclass
class Check:
    name: str
    passed: bool | None  # None: not measured
    detail: str


# --- measuring one process -------------------------------------------------------------------

def tree_rss(root) -> tuple[int, dict[str, float]]:
    """The RSS of `root` and all its descendants added up, and each one's in MB ("pid command")."""
    total, each = 0, {}
    for proc in [root, *root.children(recursive=True)]:
        try:
            rss, argv = proc.memory_info().rss, proc.cmdline()
            # The program, and the module a Python runs (the CLI, papermill's kernel).
            command = " ".join([Path(argv[0]).name if argv else proc.name(),
                                *argv[argv.index("-m"):argv.index("-m") + 2]] if "-m" in argv else argv[:2])
        except psutil.Error:  # it ended between the listing and the reading
            continue
        total += rss
        each[f"{proc.pid} {command[:60]}"] = round(rss / MB, 1)
    return total, each


def run_measured(name: str, argv: list[str], log: Path, *, cwd: Path | None = None,
                 env: dict | None = None) -> tuple[int, Measurement]:
    """Run `argv` with its output in `log`: its exit status, wall time, CPU time and the peak RSS of
    its process tree (the CPU of every descendant its parent waited for, as getrusage counts it)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    load_average = os.getloadavg()[0]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, "w") as out:
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                env=None if env is None else {**os.environ, **env})
        peak, at_peak = None, {}
        if psutil is not None:
            root, peak = psutil.Process(proc.pid), 0
        while True:
            if psutil is not None:
                try:
                    total, each = tree_rss(root)
                except psutil.Error:
                    total = 0
                if total > peak:
                    peak, at_peak = total, each
            try:
                proc.wait(timeout=SAMPLE_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
        wall = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return proc.returncode, Measurement(name, wall_seconds=wall, cpu_seconds=cpu, peak_rss_mb=peak and peak / MB,
                                        peak_processes=at_peak, load_average=load_average)


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
    """The types a tool gave mental_items' columns (empty for another database)."""
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = 'mental_items' ORDER BY ordinal_position").fetchall())


def count_rows(url: str, tables: list[str]) -> int | None:
    """Rows of `tables` added up, each in whichever schema a tool put it; None when one is missing."""
    total = 0
    with psycopg.connect(url) as conn:
        for table in tables:
            found = conn.execute("SELECT table_schema FROM information_schema.tables WHERE table_name = %s "
                                 "AND table_schema NOT IN ('pg_catalog', 'information_schema') "
                                 "ORDER BY table_schema = 'public' DESC LIMIT 1", (table,)).fetchone()
            if found is None:
                return None
            total += conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(found[0], table))).fetchone()[0]
    return total


# --- the sources --------------------------------------------------------------------------------

@dataclass
class Source:
    """A SQLite file every tool copies: its tables and their rows, which each must arrive in full."""
    label: str  # names its databases, logs and run directories
    path: Path
    tables: list[str]
    rows: int


def app_db(rows: int) -> Source:
    path = DATA / f"app-{rows}.db"
    if not path.exists():
        print(f"generating {path.relative_to(PROJECT)} ({rows:,} rows) ...", flush=True)
        started = time.monotonic()
        make_app_db(path, rows)
        print(f"  {time.monotonic() - started:.1f} s, {path.stat().st_size / MB:.0f} MB", flush=True)
    return Source(f"app-{rows}", path, ["mental_items"], rows)


def sample_db() -> Source:
    """The small many-table database (bench/sample_db.py), remade every run: it takes well under a second."""
    path = make_sample_db(DATA / "sample.db")
    return Source("sample", path, list(SAMPLE_ROWS), sum(SAMPLE_ROWS.values()))


def limit_csv(db: Path) -> Path:
    path = db.with_suffix(".csv")
    if not path.exists():
        print(f"writing the limit's CSV {path.relative_to(PROJECT)} ...", flush=True)
        make_limit_csv(db, path)
    return path


# --- the runbook --------------------------------------------------------------------------------

def whole_command(admin_url: str, source: Source, workers: int | None) -> list[Measurement]:
    """`sqlite2neon run -f params/demo.yaml` as a user runs it (a subprocess of the CLI, from the
    project root, into a fresh database): the whole command, then one row per notebook with its
    seconds from the run's summary.json. The run directory is moved to results/runs/<label>-run."""
    label = f"{source.label}-run"
    logs = RESULTS / "logs" / label
    argv = [sys.executable, "-m", "sqlite2neon.cli", "run", "-f", "params/demo.yaml",
            "-p", "sqlite_path", str(source.path.resolve()), "-p", "name", f"bench-{source.label}",
            "-p", "target_schema", "bench", "-p", "env_file", "",
            # the benchmark's own scratch server, not a Neon plan: 4M rows are 870 MB, over the default budget
            "-p", "storage_budget_mb", "100000"]
    if workers is not None:
        argv += ["-p", "workers", str(workers)]
    with fresh_database(admin_url, f"bench_{label}".replace("-", "_")) as url:
        status, m = run_measured("sqlite2neon run (whole command)", argv + ["-p", "database_url", url],
                                 logs / "run.log", cwd=PROJECT)
    m.seconds = m.wall_seconds
    log = (logs / "run.log").read_text(errors="replace")
    found = re.search(r"record: (.+?)(?: \(see .*)?$", log, re.MULTILINE)
    summary = {}
    if found:
        run_dir = RESULTS / "runs" / label
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(found.group(1), run_dir)
        summary = json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").exists() else {}
    m.rows = sum(t.get("target_rows") or 0 for t in summary.get("tables", [])) or None
    steps = {s["notebook"]: s["seconds"] for s in summary.get("steps", [])}
    m.detail = {"exit_status": status, "status": summary.get("status"), "steps": steps}
    if status != 0 or summary.get("status") != "passed":
        m.error = f"exit status {status}: {summary.get('error') or last_line(logs / 'run.log')}"
    elif m.rows != source.rows:
        m.error = f"{m.rows} of {source.rows} rows verified"
    # Rows per second only where a step reads or writes every row.
    per_row = ("01_inspect_source", "03_load", "04_verify")
    return [m, *(Measurement(f"  {name}", seconds=seconds, rows=m.rows if name in per_row else None)
                 for name, seconds in steps.items())]


def runbook(admin_url: str, source: Source, workers: int | None, with_verify: bool) -> list[Measurement]:
    """The steps alone: inspect and plan (one process), then `load.step`, then `verify.step`, each
    measured, on one fresh database and run directory."""
    label = f"{source.label}-steps"
    run_dir = RESULTS / "runs" / label
    shutil.rmtree(run_dir, ignore_errors=True)
    logs = RESULTS / "logs" / label
    with fresh_database(admin_url, f"bench_{label}".replace("-", "_")) as url:
        common = {"db": source.path, "run_dir": run_dir}
        prepared = measure("inspect + plan (steps alone)", "prepare", url, logs, **common)
        if prepared.error:
            return [prepared]
        out = [prepared, measure("load.step alone", "load", url, logs, workers=workers, **common)]
        if with_verify and not out[-1].error:
            out.append(measure("verify.step alone", "verify", url, logs, **common))
            if not out[-1].error and not out[-1].detail.get("passed"):
                out[-1].error = "verification did not pass"
        return out


# --- the peers ----------------------------------------------------------------------------------

def sling_binary() -> Path | None:
    """The binary the sling-linux-amd64 wheel carries (its `sling` wrapper would download one)."""
    return next(PEERS_VENV.glob("lib/python*/site-packages/sling_linux_amd64/bin/sling-linux-amd64"), None)


def peer_command(peer: str, source: Source, url: str, result: Path) -> tuple[list[str] | None, str]:
    """The command copying every table of `source` into `url` with `peer`, or None and why it cannot run."""
    python, db = PEERS_VENV / "bin" / "python", str(source.path.resolve())
    if peer == "pgloader":
        if shutil.which("pgloader") is None:
            return None, "not installed: pgloader is not on PATH (apt-get install pgloader)"
        return ["pgloader", f"sqlite://{db}", url], ""
    if not python.exists():
        return None, "not installed: the peers' venv is missing (bash bench/peers.sh)"
    if peer in ("duckdb", "dlt"):
        return [str(python), str(PEERS_DRIVER), peer, "--url", url, "--db", db, "--result", str(result),
                "--work", str(RESULTS / "dlt" / source.label)], ""
    if peer == "sling":
        binary = sling_binary()
        if binary is None:
            return None, "not installed: no sling-linux-amd64 wheel in the peers' venv (bash bench/peers.sh)"
        stream = "main.*" if len(source.tables) > 1 else f"main.{source.tables[0]}"
        return [str(binary), "run", "--src-conn", f"sqlite://{db}", "--src-stream", stream,
                "--tgt-conn", f"{url}?sslmode=disable", "--tgt-object", "public.{stream_table}",
                "--mode", "full-refresh"], ""
    if peer == "ingestr":
        ingestr = PEERS_VENV / "bin" / "ingestr"
        if not ingestr.exists():
            return None, "not installed: no ingestr in the peers' venv (bash bench/peers.sh)"
        # One table a command: the many-table database takes one command per table, in one shell.
        each = [" ".join(shlex.quote(a) for a in [str(ingestr), "ingest", "--source-uri", f"sqlite:///{db}",
                                                   "--source-table", table, "--dest-uri", url,
                                                   "--dest-table", f"public.{table}", "--yes"])
                for table in source.tables]
        return ["bash", "-c", "set -e; " + "; ".join(each)], ""
    raise ValueError(peer)


PEER_NAMES = {"pgloader": "pgloader", "duckdb": "DuckDB postgres extension", "sling": "sling",
              "ingestr": "ingestr", "dlt": "dlt (sql_database -> postgres)"}


def measure_peer(peer: str, admin_url: str, source: Source) -> Measurement:
    """One peer's whole process copying `source`; passed when it exits 0 and every row is in Postgres."""
    logs = RESULTS / "logs" / source.label
    result = logs / f"{peer}.json"
    result.unlink(missing_ok=True)
    with fresh_database(admin_url, f"bench_{source.label}_{peer}".replace("-", "_")) as url:
        argv, why_not = peer_command(peer, source, url, result)
        if argv is None:
            return Measurement(PEER_NAMES[peer], error=why_not, peer=True)
        print(f"measuring {PEER_NAMES[peer]} on {source.label} ...", flush=True)
        env = {"SLING_DISABLE_TELEMETRY": "true", "RUNTIME__DLTHUB_TELEMETRY": "false"}
        status, m = run_measured(PEER_NAMES[peer], argv, logs / f"{peer}.log", env=env)
        m.peer, m.seconds = True, m.wall_seconds
        m.detail = {"exit_status": status}
        try:  # what a peer left may be anything: a failure to read it is its row's failure
            m.rows = count_rows(url, source.tables)
            m.detail["types"] = column_types(url)
        except psycopg.Error as exc:
            m.error = f"its tables could not be read: {str(exc).strip().splitlines()[0]}"
    if result.exists():
        inner = json.loads(result.read_text())
        m.detail["copy_seconds"] = inner.pop("seconds")
        m.detail |= inner
    if status != 0:
        m.error = f"exit status {status}: {last_line(logs / f'{peer}.log')}"
    elif m.error:
        pass
    elif m.rows != source.rows:
        m.error = f"exit status 0 but {m.rows} of {source.rows} rows in Postgres"
    return m


def peer_versions() -> dict[str, str]:
    """Each installed peer's version, as it reports it."""
    out = {}

    def first_line(argv: list[str]) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr).strip() else ""

    if shutil.which("pgloader"):
        out["pgloader"] = first_line(["pgloader", "--version"])
    python = PEERS_VENV / "bin" / "python"
    if python.exists():
        for peer, dist in (("duckdb", "duckdb-extension-postgres-scanner"), ("sling", "sling-linux-amd64"),
                           ("ingestr", "ingestr"), ("dlt", "dlt")):
            version = first_line([str(python), "-c", f"import importlib.metadata as m; print(m.version({dist!r}))"])
            if version and "Error" not in version:
                out[peer] = version
    return out


# --- everything, in order -------------------------------------------------------------------------

def measure_main(args, admin_url: str, source: Source, csv: Path | None) -> list[Measurement]:
    out = []
    if "limit" not in args.skip:
        print("measuring the limit: COPY of the converted CSV + primary key ...", flush=True)
        with fresh_database(admin_url, "bench_limit") as url:
            out.append(measure("limit: COPY + primary key", "limit", url, RESULTS / "logs" / source.label, csv=csv))
    if "whole" not in args.skip:
        print(f"measuring the whole command on {source.label} ...", flush=True)
        out += whole_command(admin_url, source, args.workers)
    if "load" not in args.skip:
        print("measuring the load step and the verify step alone ...", flush=True)
        out += runbook(admin_url, source, args.workers, "verify" not in args.skip)
    out += [measure_peer(p, admin_url, source) for p in PEERS if p not in args.skip]
    return out


def measure_small(args, admin_url: str) -> list[Measurement]:
    source = sample_db()
    out = []
    if "whole" not in args.skip:
        print("measuring the whole command on the small database ...", flush=True)
        out += whole_command(admin_url, source, args.workers)
    return out + [measure_peer(p, admin_url, source) for p in PEERS if p not in args.skip]


def growth(args, admin_url: str, main_run: list[Measurement]) -> list[Measurement]:
    """The whole command at each of --sizes (the main run's own measurement at its size)."""
    out = []
    for rows in args.sizes:
        whole = next((m for m in main_run if m.name.startswith("sqlite2neon run")), None) if rows == args.rows else None
        if whole is None:
            print(f"measuring the whole command at {rows:,} rows ...", flush=True)
            whole = whole_command(admin_url, app_db(rows), args.workers)[0]
        else:
            whole = Measurement(**asdict(whole))
        whole.name = f"whole command, {rows:,} rows"
        out.append(whole)
    return out


# --- the report -------------------------------------------------------------------------------

def find(measurements: list[Measurement], prefix: str) -> Measurement | None:
    found = next((m for m in measurements if m.name.startswith(prefix)), None)
    return found if found is not None and not found.error and found.seconds else None


def checks_for(main: list[Measurement], small: list[Measurement], grown: list[Measurement], rows: int) -> list[Check]:
    """The issue's bar, each against what the same run measured."""
    limit, whole, load, verify, pgl = (find(main, p) for p in ("limit", "sqlite2neon run", "load.step", "verify.step", "pgloader"))
    steps = whole.detail["steps"] if whole else {}
    small_whole, small_pgl = find(small, "sqlite2neon run"), find(small, "pgloader")
    first, last = (find(grown[:1], ""), find(grown[-1:], "")) if len(grown) >= 2 else (None, None)
    out = []

    def check(name: str, measured, passed, detail) -> None:
        out.append(Check(name, passed(), detail()) if measured else Check(name, None, "not measured"))

    check("whole run <= 2.0 x limit", whole and limit, lambda: whole.seconds <= 2.0 * limit.seconds,
          lambda: f"{whole.seconds:.1f} s vs {limit.seconds:.1f} s ({whole.seconds / limit.seconds:.2f} x)")
    inspect = steps.get("01_inspect_source")
    check("inspect <= 0.3 x limit", inspect and limit, lambda: inspect <= 0.3 * limit.seconds,
          lambda: f"01_inspect_source {inspect:.1f} s ({inspect / limit.seconds:.2f} x)")
    nb_load, nb_verify = steps.get("03_load"), steps.get("04_verify")
    alone = f"; steps alone: verify.step {verify.seconds:.1f} s, load.step {load.seconds:.1f} s" if load and verify else ""
    check("verify <= 0.6 x load step", nb_load and nb_verify, lambda: nb_verify <= 0.6 * nb_load,
          lambda: f"04_verify {nb_verify:.1f} s vs 03_load {nb_load:.1f} s ({nb_verify / nb_load:.2f} x){alone}")
    check("small DB end to end <= 4 s", small_whole, lambda: small_whole.seconds <= 4.0,
          lambda: f"{small_whole.seconds:.1f} s" + (f" (pgloader on it: {small_pgl.seconds:.1f} s)" if small_pgl else ""))
    check(f"tree peak RSS < 300 MB at {rows:,} rows", whole and whole.peak_rss_mb, lambda: whole.peak_rss_mb < 300,
          lambda: f"{whole.peak_rss_mb:.0f} MB")
    check("tree peak RSS growth <= 1.2 x", first and last and first.peak_rss_mb and last.peak_rss_mb,
          lambda: last.peak_rss_mb <= 1.2 * first.peak_rss_mb,
          lambda: f"{last.peak_rss_mb:.0f} MB at {args_rows(last)} vs {first.peak_rss_mb:.0f} MB at {args_rows(first)} "
                  f"({last.peak_rss_mb / first.peak_rss_mb:.2f} x)")
    check("load step >= 2.5 x faster than pgloader", load and pgl, lambda: pgl.seconds >= 2.5 * load.seconds,
          lambda: f"load.step {load.seconds:.1f} s, pgloader {pgl.seconds:.1f} s ({pgl.seconds / load.seconds:.2f} x faster)")
    check("whole command faster than pgloader", whole and pgl, lambda: whole.seconds < pgl.seconds,
          lambda: f"{whole.seconds:.1f} s vs pgloader {pgl.seconds:.1f} s")
    return out


def args_rows(m: Measurement) -> str:
    return m.name.split(", ", 1)[-1]


def fmt(value, pattern: str) -> str:
    """`value` in `pattern` ("8.2f"), or a dash as wide."""
    return format(value, pattern) if value is not None else "-".rjust(int(pattern.split(".")[0].replace(",", "")))


def table(measurements: list[Measurement], limit: Measurement | None) -> str:
    head = (f"{'what':36} {'seconds':>8} {'x limit':>8} {'rows/s':>10} {'CPU s':>7} "
            f"{'peak RSS MB (tree)':>18} {'load avg':>8}")
    lines = [head, "-" * len(head)]
    for m in measurements:
        rate = m.rows / m.seconds if m.rows and m.seconds else None
        ratio = m.seconds / limit.seconds if limit and m.seconds else None
        state = ("" if m.wall_seconds is None else "FAILED: ") + m.error if m.error else ""
        lines.append(f"{m.name:36} {fmt(m.seconds, '8.2f')} {fmt(ratio, '8.2f')} {fmt(rate, '10,.0f')} "
                     f"{fmt(m.cpu_seconds, '7.1f')} {fmt(m.peak_rss_mb, '18.0f')} {fmt(m.load_average, '8.1f')}"
                     + (f"  {state}" if state else ""))
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
    parser.add_argument("--sizes", default="1000000,2000000,4000000",
                        help="row counts of the growth run (default 1000000,2000000,4000000)")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json", help="the JSON report")
    parser.add_argument("--skip", default="", help=f"comma-separated, of: {', '.join(OPTIONAL)}")
    parser.add_argument("--workers", type=int, help="the runbook's workers parameter")
    args = parser.parse_args()
    args.sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.skip - set(OPTIONAL):
        parser.error(f"--skip takes {', '.join(OPTIONAL)}")
    if psutil is None:
        print("psutil is not installed: peak memory is not measured")

    source = app_db(args.rows)
    csv = limit_csv(source.path) if "limit" not in args.skip else None
    csv_mb = csv.stat().st_size / MB if csv else None
    home = DATA / "postgres"
    admin_url = embedded.ensure_running(home)
    try:
        about = machine(admin_url)
        versions = peer_versions()
        main_run = measure_main(args, admin_url, source, csv)
        small = measure_small(args, admin_url) if "small" not in args.skip else []
        grown = growth(args, admin_url, main_run) if "growth" not in args.skip and "whole" not in args.skip else []
    finally:
        embedded.stop(home)

    limit = find(main_run, "limit")
    checks = checks_for(main_run, small, grown, args.rows)
    print(f"\n{args.rows:,} rows" + (f", {csv_mb:.0f} MB of CSV ({csv_mb * MB / args.rows:.0f} bytes a row)" if csv_mb else "")
          + f"; PostgreSQL {about['postgres']}, {about['cpus']} CPUs, {about['cpu_model']}")
    print(table(main_run, limit))
    if small:
        print(f"\nthe small database ({len(SAMPLE_ROWS)} tables, {sum(SAMPLE_ROWS.values()):,} rows, 16 views)")
        print(table(small, None))  # the limit is the main database's
    if grown:
        print("\ngrowth run")
        print(table(grown, None))
    whole = find(main_run, "sqlite2neon run")
    if whole and whole.peak_processes:
        print("\nthe whole command's process tree at its peak: "
              + ", ".join(f"{name.split(' ', 1)[1]} {mb:.0f} MB" for name, mb in whole.peak_processes.items()))
    print("\npeers: " + (", ".join(f"{k} {v}" for k, v in versions.items()) or "none installed"))
    print()
    for c in checks:
        print(f"{'PASS' if c.passed else 'n/a ' if c.passed is None else 'FAIL'}  {c.name}: {c.detail}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv, "rows": args.rows, "csv_bytes": csv.stat().st_size if csv else None,
        "machine": about, "peers": versions, "measurements": [asdict(m) for m in main_run],
        "small": [asdict(m) for m in small], "growth": [asdict(m) for m in grown],
        "checks": [asdict(c) for c in checks],
    }, indent=2, default=str))
    print(f"\nwritten to {args.out}; logs and run directories under {RESULTS}")
    # A peer that is missing or fails has its row; only the runbook's own failures fail the benchmark.
    return 1 if any(m.error and not m.peer for m in main_run + small + grown) else 0


if __name__ == "__main__":
    sys.exit(main())
