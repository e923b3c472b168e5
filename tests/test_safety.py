"""Safe to point at a production database: the demo and the notebooks' defaults never reach the
database `.env` names, every record and the terminal name the target, a run interrupted by a signal
leaves a resumable target and a record, a re-run finishes what an earlier one left unfinished, and
errors that cannot heal are not retried. Real servers, real processes, nothing mocked."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from conftest import ROOT, first_error_line, load_in_thread, record_of, run_cli, runbook_backend
from sqlite2neon import load, plan, source, verify
from sqlite2neon.config import Params
from sqlite2neon.connect import connect
from sqlite2neon.demo import make_demo_db
from sqlite2neon.errors import RunbookError, TargetError

CLI = str(Path(sys.executable).with_name("sqlite2neon"))


def _contents(url: str) -> dict:
    """Everything a run could have changed in a database: its relations, and every row of each table."""
    with psycopg.connect(url, autocommit=True) as conn:
        relations = conn.execute(
            "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1, 2").fetchall()
        rows = {f"{s}.{t}": sorted(map(repr, conn.execute(f'SELECT * FROM "{s}"."{t}"').fetchall()))
                for s, t, kind in relations if kind == "r"}
    return {"relations": relations, "rows": rows}


@pytest.fixture
def production(pg_url, pg) -> str:
    """The user's real database: it holds the app's own mental_items, with a row of the app's."""
    pg.execute("CREATE TABLE mental_items (id text PRIMARY KEY, title text NOT NULL)")
    pg.execute("INSERT INTO mental_items VALUES ('the-users-own-row', 'must survive')")
    return pg_url


# --- the demo is sealed ---------------------------------------------------------------------------

@pytest.mark.slow
def test_the_demo_and_each_notebook_alone_leave_the_database_in_env_as_it_was(project, production, monkeypatch):
    (project / ".env").write_text(f"DATABASE_URL={production}\nDATABASE_URL_DIRECT={production}\n")
    monkeypatch.setenv("DATABASE_URL", production)
    before = _contents(production)

    result = run_cli("demo", "--items", "300")

    assert result.exit_code == 0, result.stderr
    assert "target: embedded" in result.stdout.splitlines()[2]
    summary = json.loads((record_of(result) / "summary.json").read_text())
    assert summary["target_detail"]["kind"] == "embedded"
    assert _contents(production) == before
    # each notebook on its own with its defaults, with plain papermill, as JupyterLab would run it
    env = os.environ | {"SQLITE2NEON_ROOT": str(project), "DATABASE_URL": production}
    for notebook in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        done = subprocess.run([sys.executable, "-m", "papermill", str(notebook), str(project / f"out-{notebook.name}"),
                               "-k", "sqlite2neon", "--cwd", str(project)],
                              env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{notebook.name}: {done.stderr[-2000:]}"
    assert _contents(production) == before


def test_env_database_url_is_used_only_when_named(tmp_path, production, monkeypatch):
    from sqlite2neon.connect import resolve_target

    env_file = tmp_path / ".env"
    env_file.write_text(f"APP_DB={production}\n")
    monkeypatch.delenv("APP_DB", raising=False)
    named = resolve_target(Params(database_url="env:APP_DB", env_file=str(env_file)))
    assert (named.kind, named.direct_url, named.url_source) == ("postgres", production, f"env:APP_DB (from {env_file})")
    monkeypatch.setenv("APP_DB", production)
    assert resolve_target(Params(database_url="env:APP_DB", env_file=str(env_file))).url_source == \
        "env:APP_DB (from the environment)"
    with pytest.raises(RunbookError, match=r"env:NOT_SET_ANYWHERE, but NOT_SET_ANYWHERE is not set"):
        resolve_target(Params(database_url="env:NOT_SET_ANYWHERE", env_file=str(env_file)))


def test_the_example_url_from_env_example_is_refused_at_once(tmp_path):
    from sqlite2neon.connect import resolve_target

    example = (ROOT / ".env.example").read_text()
    (tmp_path / ".env").write_text(example)
    with pytest.raises(RunbookError, match="still the example URL from .env.example"):
        resolve_target(Params(database_url="env:DATABASE_URL", env_file=str(tmp_path / ".env")))


def test_the_demo_never_replaces_a_database_it_did_not_make(project, tmp_path):
    import hashlib

    mine = tmp_path / "mine.db"
    con = sqlite3.connect(mine)
    con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    con.execute("INSERT INTO notes VALUES (1, 'precious')")
    con.commit()
    con.close()
    digest = hashlib.sha256(mine.read_bytes()).hexdigest()

    by_parameter = run_cli("demo", "-p", "sqlite_path", str(mine))
    with pytest.raises(RunbookError, match="not a database the demo made"):
        make_demo_db(mine)

    assert by_parameter.exit_code == 2 and "does not take sqlite_path" in by_parameter.stderr
    assert hashlib.sha256(mine.read_bytes()).hexdigest() == digest
    assert not (project / "runs").exists()
    # a demo database an older version wrote (no marker, the demo's two tables) is still the demo's
    from sqlite2neon.demo import SCHEMA

    older = tmp_path / "older-demo.db"
    con = sqlite3.connect(older)
    con.executescript(SCHEMA)
    con.close()
    assert make_demo_db(older, items=10) == older


def test_a_misspelt_parameter_given_with_p_is_blamed_on_p(project):
    result = run_cli("run", "-f", "params/demo.yaml", "-p", "dryrun", "true")
    assert result.exit_code == 2 and "unknown parameter 'dryrun' (did you mean 'dry_run'?) given with -p" in result.stderr


# --- the target is named --------------------------------------------------------------------------

@pytest.mark.slow
def test_every_kind_of_run_names_its_target_without_the_password(project, pg_url, demo_db):
    secret = "pw-never-shown-42"
    url = pg_url.replace("postgres@", f"postgres:{secret}@")  # the test server trusts: any password works
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    database = pg_url.rsplit("/", 1)[1]
    common = ["-f", "params/demo.yaml", "-p", "sqlite_path", str(demo_db), "-p", "database_url", url]
    runs = {
        "dry run": run_cli("run", *common, "-p", "dry_run", "true"),
        "migration": run_cli("run", *common),
        "verify": run_cli("verify", *common),
        "cutover dry run": run_cli("cutover", *common, "-p", "dry_run", "true"),
        "cutover": run_cli("cutover", *common),
    }
    for kind, result in runs.items():
        assert result.exit_code == 0, (kind, result.stderr)
        first = result.stdout.splitlines()[:3]
        assert first[0].startswith(f"sqlite2neon {kind}:") and str(demo_db) in first[1], first
        assert first[2] == f"  target: postgres {host_port}/{database}, schema public (direct endpoint)", first
        assert secret not in result.stdout + result.stderr
        summary = json.loads((record_of(result) / "summary.json").read_text())
        assert summary["kind"] == kind
        assert summary["target"] == url.replace(secret, "***")
        detail = summary["target_detail"]
        assert (f"{detail['host']}:{detail['port']}", detail["database"]) == (host_port, database)
        assert secret not in json.dumps(summary)
    index = (project / "runs" / "index.html").read_text()
    for kind in runs:
        assert f"<td>{kind}</td>" in index
    assert secret not in index


def test_verify_refuses_dry_run_instead_of_passing_without_comparing(project, pg_url, demo_db):
    result = run_cli("verify", "-f", "params/demo.yaml", "-p", "sqlite_path", str(demo_db),
                     "-p", "database_url", pg_url, "-p", "dry_run", "true")

    assert result.exit_code == 2
    assert "dry_run does not apply to verify" in result.stderr.splitlines()[0]
    assert "passed" not in result.stdout
    assert not (project / "runs").exists()


# --- errors that cannot heal are not retried ------------------------------------------------------

@pytest.mark.parametrize("change, reason", [
    (lambda url: url.rsplit("/", 1)[0] + "/no_such_database", 'database "no_such_database" does not exist'),
    (lambda url: url.replace("postgres@", "no_such_role@"), 'role "no_such_role" does not exist'),
])
def test_a_missing_database_or_role_fails_at_once_in_one_line(pg_url, change, reason):
    params = Params(connect_wait=30)
    started = time.monotonic()
    with pytest.raises(TargetError) as info:
        connect(change(pg_url), params)
    # with retries the backoff alone would take 0.25 + 0.5 + 1 + 2 + 4 s
    assert time.monotonic() - started < 3
    assert reason in str(info.value) and "\n" not in str(info.value)


@pytest.mark.slow
def test_the_cli_names_a_missing_database_on_the_first_line(project, pg_url, demo_db):
    missing = pg_url.rsplit("/", 1)[0] + "/no_such_database"
    result = run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(demo_db), "-p", "database_url", missing)

    assert result.exit_code == 1
    first = first_error_line(result.stderr)
    assert first.startswith("sqlite2neon: cannot connect") and 'database "no_such_database" does not exist' in first
    assert "attempts" not in first  # not retried
    summary = json.loads((record_of(result) / "summary.json").read_text())
    assert (summary["status"], summary["steps"], summary["error"]) == ("failed", [], first.split(": ", 1)[1])


# --- interrupted runs -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_db(tmp_path_factory):
    """Big enough that its COPY lasts a few seconds: a signal lands in the middle of it."""
    return make_demo_db(tmp_path_factory.mktemp("safety") / "big.db", items=120_000, seed=5)


def _sessions_gone(pg, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while pg.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sqlite2neon'").fetchone()[0]:
        assert time.monotonic() < deadline, "the interrupted run's sessions did not end"
        time.sleep(0.1)


def _cli_signalled_during_copy(project: Path, args: list[str], url: str, fault) -> subprocess.Popen:
    """The CLI in a process group of its own, `fault(proc)` once it copies mental_items; returns the
    ended process with its output read into `proc.out`, `proc.err`."""
    env = os.environ | {"SQLITE2NEON_ROOT": str(project)}
    proc = subprocess.Popen([CLI, *args], cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        runbook_backend(url, "COPY %mental_items%")
        time.sleep(0.3)
        fault(proc)
        proc.out, proc.err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc


def _every_row_once(pg, big_db) -> None:
    assert pg.execute("SELECT count(*), count(DISTINCT id) FROM mental_items").fetchone() == (120_000, 120_000)
    import sqlite3

    con = sqlite3.connect(f"file:{big_db}?mode=ro", uri=True)
    try:
        expected = con.execute("SELECT count(*) FROM item_events").fetchone()[0]
    finally:
        con.close()
    assert pg.execute("SELECT count(*), count(DISTINCT id) FROM item_events").fetchone() == (expected, expected)


@pytest.mark.slow
def test_sigint_during_a_copy_leaves_a_record_and_the_same_command_resumes(project, big_db, pg_url, pg):
    args = ["run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(big_db), "-p", "database_url", pg_url]
    # to the CLI alone, as a terminal's Ctrl-C reaches it (the kernel runs in a session of its own)
    proc = _cli_signalled_during_copy(project, args, pg_url, lambda p: p.send_signal(signal.SIGINT))
    err = proc.err
    assert proc.returncode == 130, err
    assert err.splitlines()[0].startswith("sqlite2neon: interrupted by SIGINT during 03_load"), err
    run_dir = Path(err.split("record: ", 1)[1].split(" ")[0])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["steps"][-1]["status"] == "interrupted"
    assert (run_dir / "report.html").exists() and "INTERRUPTED" in (run_dir / "report.html").read_text()
    assert run_dir.name in (project / "runs" / "index.html").read_text()
    _sessions_gone(pg)
    # whatever committed is whole: no table holds part of its rows
    for table, in pg.execute("SELECT table_name FROM _sqlite2neon.tables").fetchall():
        assert pg.execute(f"SELECT count(*) > 0 FROM {table}").fetchone()[0]

    again = subprocess.run([CLI, *args], cwd=project, env=os.environ | {"SQLITE2NEON_ROOT": str(project)},
                           capture_output=True, text=True, timeout=300)

    assert again.returncode == 0, again.stderr
    _every_row_once(pg, big_db)


@pytest.mark.slow
def test_sigkill_of_the_whole_process_group_then_the_same_command_passes(project, big_db, pg_url, pg):
    args = ["run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(big_db), "-p", "database_url", pg_url]
    proc = _cli_signalled_during_copy(project, args, pg_url, lambda p: os.killpg(p.pid, signal.SIGKILL))
    assert proc.returncode == -signal.SIGKILL
    _sessions_gone(pg)  # the kernel (a session of its own) notices its parent is gone, and its sessions end

    again = subprocess.run([CLI, *args], cwd=project, env=os.environ | {"SQLITE2NEON_ROOT": str(project)},
                           capture_output=True, text=True, timeout=300)

    assert again.returncode == 0, again.stderr
    _every_row_once(pg, big_db)


# --- a finished table is finished -----------------------------------------------------------------

@pytest.mark.slow
def test_a_failure_while_a_foreign_key_is_built_is_completed_by_the_rerun(big_db, params_for, pg, pg_url, tmp_path):
    params = params_for(big_db, workers=1)
    source.step(params)
    plan.step(params)
    worker, failure = load_in_thread(params)
    with psycopg.connect(pg_url) as blocker:
        runbook_backend(pg_url, "COPY %item_events%")  # mental_items committed; the foreign key comes after this COPY
        blocker.execute("LOCK TABLE mental_items IN ROW EXCLUSIVE MODE")  # the foreign key's build waits for it
        pid = runbook_backend(pg_url, "ALTER TABLE%FOREIGN KEY%", waiting=True)
        pg.execute("SELECT pg_terminate_backend(%s)", [pid])
        worker.join(timeout=120)
        blocker.rollback()
    assert failure and isinstance(failure[0], RunbookError), failure
    assert dict(pg.execute("SELECT table_name, status FROM _sqlite2neon.tables").fetchall()) == {
        "mental_items": "loaded", "item_events": "loaded"}

    again = params_for(big_db, run_dir=str(tmp_path / "rerun"))
    source.step(again)
    plan.step(again)
    rerun = load.step(again)
    assert set(rerun.skipped) == {"mental_items", "item_events"}
    assert verify.step(again).passed
    assert pg.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f'").fetchone()[0] == 1
    highest = pg.execute("SELECT max(id) FROM item_events").fetchone()[0]
    new_id = pg.execute("INSERT INTO item_events (item_id, event, at) SELECT id, 'x', now() FROM mental_items "
                        "LIMIT 1 RETURNING id").fetchone()[0]
    assert new_id == highest + 1
    assert pg.execute("SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL FROM pg_stat_user_tables "
                      "WHERE relname = 'item_events'").fetchone()[0]


@pytest.mark.slow
def test_a_finished_child_is_kept_when_its_parent_was_rolled_back(tmp_path, params_for, pg):
    """Tables load in parallel, so a table that references another may finish first; its parent's
    load interrupted, the re-run loads the parent and keeps the child, with the default if_exists."""
    db = make_demo_db(tmp_path / "app.db", items=2000, seed=3)
    params = params_for(db)
    source.step(params)
    plan.step(params)
    load.step(params)
    # as an interrupted run leaves it: the child committed, the parent's transaction rolled back
    pg.execute("DROP TABLE mental_items CASCADE")
    pg.execute("DELETE FROM _sqlite2neon.tables WHERE table_name = 'mental_items'")

    again = params_for(db, run_dir=str(tmp_path / "rerun"))
    source.step(again)
    plan.step(again)
    rerun = load.step(again)

    assert list(rerun.skipped) == ["item_events"] and [t.target for t in rerun.tables] == ["mental_items"]
    assert verify.step(again).passed
    assert pg.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f'").fetchone()[0] == 1


def test_keep_finished_says_which_finished_table_is_replaced_and_why():
    from sqlite2neon.plan import ForeignKeyPlan, Plan, TablePlan

    def table(name, refs=()):
        fks = [ForeignKeyPlan(f"{name}_fk", ["p"], r, ["id"], "NO ACTION", "NO ACTION")
               for r in refs]
        return TablePlan(name, name, "", 1, [], ["id"], foreign_keys=fks)

    the_plan = Plan("public", [table("parent"), table("child", ["parent"]), table("grandchild", ["child"])])
    finished = {"child": "run-1", "grandchild": "run-1"}
    # the parent is absent or empty: nothing to truncate, the finished tables stay
    assert load.keep_finished(the_plan, finished, {}) == (finished, {})
    # the parent holds rows that must be replaced: its dependants are replaced with it, each saying why
    kept, replaced = load.keep_finished(the_plan, finished, {"parent": 5, "child": 3, "grandchild": 2})
    assert kept == {}
    assert "references parent, which is reloaded" in replaced["child"]
    assert "references child" in replaced["grandchild"] and "replaced too" in replaced["grandchild"]
