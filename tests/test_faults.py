"""Faults in the middle of a load (real processes, nothing mocked): the re-run finishes the job and
the target ends equal to an uninterrupted run's, with no row missing and none twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from conftest import ROOT, first_error_line, load_in_thread, record_of, runbook_backend
from sqlite2neon import load, plan, source, verify
from sqlite2neon.demo import make_demo_db
from sqlite2neon.errors import RunbookError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_db(tmp_path_factory):
    """Big enough that a load lasts a few seconds: the faults land in the middle of a COPY."""
    return make_demo_db(tmp_path_factory.mktemp("faults") / "big.db", items=120_000, seed=11)


def _copy_backend(url: str, table: str, timeout: float = 60) -> int:
    """The pid of the backend running the COPY into `table`, once it runs."""
    return runbook_backend(url, f"COPY %{table}%", timeout)


def _state(conn) -> dict:
    return dict(conn.execute("SELECT table_name, status FROM _sqlite2neon.tables").fetchall())


def _finish_and_check(big_db, params_for, pg, run_dir) -> None:
    again = params_for(big_db, run_dir=str(run_dir))
    source.step(again)
    plan.step(again)
    loaded = load.step(again)
    verified = verify.step(again)
    assert verified.passed, verified.to_json()
    counts = {t.target: (t.source_rows, t.target_rows) for t in verified.tables}
    assert counts["mental_items"] == (120_000, 120_000)
    assert counts["item_events"][0] == counts["item_events"][1]
    assert pg.execute("SELECT count(*) - count(DISTINCT id) FROM mental_items").fetchone()[0] == 0
    return loaded


def _held_after_first_chunk(monkeypatch, table: str) -> tuple[threading.Event, threading.Event]:
    """The load holds `table`'s COPY open after its first chunk until the test says go on: a fault
    then lands in the middle of that COPY however fast the machine is (the COPY of 120,000 events
    took 0.1 s, quicker than a sleep could aim at). Only the client waits; the server and the fault
    are real. Returns (held, go_on)."""
    held, go_on = threading.Event(), threading.Event()
    chunks = load._chunks

    def slow(src, read, batch_rows, *args, **kwargs):
        for chunk in chunks(src, read, batch_rows, *args, **kwargs):
            yield chunk
            if read.table.target == table and not held.is_set():
                held.set()
                go_on.wait(60)

    monkeypatch.setattr(load, "_chunks", slow)
    return held, go_on


def test_a_backend_terminated_during_copy_then_a_rerun_finishes(big_db, params_for, pg, pg_url, tmp_path,
                                                                 monkeypatch):
    params = params_for(big_db, workers=1)
    source.step(params)
    plan.step(params)
    held, go_on = _held_after_first_chunk(monkeypatch, "item_events")  # after mental_items, which it references
    worker, failure = load_in_thread(params)
    assert held.wait(120), "the load never reached item_events"
    pid = _copy_backend(pg_url, "item_events")
    pg.execute("SELECT pg_terminate_backend(%s)", [pid])
    go_on.set()
    worker.join(timeout=120)
    monkeypatch.undo()
    assert failure and isinstance(failure[0], RunbookError), failure
    assert "\n" not in str(failure[0])
    assert _state(pg) == {"mental_items": "loaded"}  # the interrupted table left nothing behind
    assert pg.execute("SELECT to_regclass('public.item_events')").fetchone()[0] is None

    loaded = _finish_and_check(big_db, params_for, pg, tmp_path / "rerun")
    assert list(loaded.skipped) == ["mental_items"] and [t.target for t in loaded.tables] == ["item_events"]
    assert _state(pg) == {"mental_items": "verified", "item_events": "verified"}


def test_the_run_killed_during_the_load_then_repeated(big_db, params_for, pg, pg_url, tmp_path):
    params = params_for(big_db, workers=1)
    source.step(params)
    plan.step(params)
    script = (
        "import sys; from sqlite2neon.config import Params; from sqlite2neon import load\n"
        f"load.step(Params.from_mapping({params.as_dict()!r}))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=os.environ.copy(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _copy_backend(pg_url, "mental_items")
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    # the killed session's transaction is rolled back by the server when it notices the lost client
    deadline = time.monotonic() + 30
    while pg.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sqlite2neon'").fetchone()[0]:
        assert time.monotonic() < deadline, "the killed run's session did not end"
        time.sleep(0.1)

    _finish_and_check(big_db, params_for, pg, tmp_path / "rerun")
    assert _state(pg) == {"mental_items": "verified", "item_events": "verified"}


@pytest.fixture
def own_server(tmp_path):
    """A server of this test's own, to stop and start (the session's server serves the other tests)."""
    from sqlite2neon import embedded

    home = tmp_path / "pg"
    url = embedded.ensure_running(home)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    yield home, url, port
    embedded.stop(home, mode="immediate")


def test_the_server_stopped_during_the_load_then_started_again(big_db, tmp_path, own_server, monkeypatch):
    from sqlite2neon import embedded
    from sqlite2neon.config import Params

    home, url, port = own_server
    params = Params(sqlite_path=str(big_db), database_url=url, env_file="", run_dir=str(tmp_path / "run"), workers=1)
    source.step(params)
    plan.step(params)
    failure: list[BaseException] = []

    def run_load():
        try:
            load.step(params)
        except BaseException as exc:  # expected: the server goes away under it
            failure.append(exc)

    held, go_on = _held_after_first_chunk(monkeypatch, "mental_items")
    worker = threading.Thread(target=run_load)
    worker.start()
    assert held.wait(120), "the load never reached mental_items"
    _copy_backend(url, "mental_items")
    embedded.stop(home, mode="fast")
    go_on.set()
    worker.join(timeout=120)
    monkeypatch.undo()
    assert failure and isinstance(failure[0], RunbookError), failure
    assert embedded.ensure_running(home, port=port) == url

    again = Params(sqlite_path=str(big_db), database_url=url, env_file="", run_dir=str(tmp_path / "rerun"), workers=1)
    source.step(again)
    plan.step(again)
    load.step(again)
    verified = verify.step(again)
    assert verified.passed, verified.to_json()
    assert {t.target: t.target_rows for t in verified.tables}["mental_items"] == 120_000


def test_a_server_that_starts_late_is_waited_for(demo_db, tmp_path, own_server):
    """A Neon compute waking from zero, or a server still starting: connections retry with backoff
    until connect_wait runs out; a server that accepts connections only after 12 s (issue 13: five
    retries used to give up after 7.75 s), and preflight says how long it waited."""
    from sqlite2neon import embedded
    from sqlite2neon.config import Params
    from sqlite2neon.preflight import run_preflight

    home, url, port = own_server
    embedded.stop(home, mode="fast")
    starter = threading.Timer(12.0, embedded.ensure_running, args=(home,), kwargs={"port": port})
    starter.start()
    params = Params(sqlite_path=str(demo_db), database_url=url, env_file="", run_dir=str(tmp_path / "run"),
                    connect_wait=30)
    try:
        report = run_preflight(params)
    finally:
        starter.join()
    assert not report.failed, report.to_json()
    assert report.connect_seconds >= 11.5
    connect_row = next(c.detail for c in report.checks if c.name == "connect")
    assert "waiting for the server" in connect_row and "connect_wait allows 30 s" in connect_row, connect_row
    source.step(params)
    plan.step(params)
    load.step(params)
    assert verify.step(params).passed


def _configure(home, url, *, hba: str | None = None, settings: dict | None = None) -> None:
    """Change the test server's pg_hba.conf or settings and reload it (files stay its user's)."""
    pgdata = home / "pgdata"
    if hba is not None:
        path = pgdata / "pg_hba.conf"
        stat = path.stat()
        path.write_text(hba)
        os.chown(path, stat.st_uid, stat.st_gid)
    with psycopg.connect(url, autocommit=True) as conn:
        for key, value in (settings or {}).items():
            conn.execute(f"ALTER SYSTEM SET {key} = '{value}'")
        conn.execute("SELECT pg_reload_conf()")


def test_a_wrong_password_fails_at_once_without_leaking_it(project, demo_db, own_server):
    from conftest import run_cli

    home, url, port = own_server
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER ROLE postgres PASSWORD 'the-right-one'")
    _configure(home, url, hba="local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
    wrong = url.replace("postgres@", "postgres:not-the-password-42@")
    started = time.monotonic()
    result = run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(demo_db), "-p", "database_url", wrong)
    assert result.exit_code == 1
    first = first_error_line(result.stderr)
    assert first.startswith("sqlite2neon: cannot connect") and "password authentication failed" in first
    assert "not-the-password-42" not in result.stdout + result.stderr
    assert time.monotonic() - started < 60  # no retries on an authentication error
    right = url.replace("postgres@", "postgres:the-right-one@")
    with psycopg.connect(right) as conn:
        assert conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()[0] == 0



@pytest.fixture
def small_disk(tmp_path, pg):
    """A 4 MB filesystem (tmpfs) as the default tablespace of the test's database, so a table that
    does not fit fills it the way a full disk or Neon's storage limit does (SQLSTATE 53100)."""
    import shutil
    import tempfile
    from pathlib import Path

    mount = Path(tempfile.mkdtemp(prefix="sqlite2neon-disk-"))  # not under tmp_path: the server's user must reach it
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("a small filesystem needs root to mount")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    space = f"small_{os.getpid()}_{int(time.time() * 1000) % 100000}"
    database = pg.info.dbname
    try:
        owner = os.stat(pg.execute("SHOW data_directory").fetchone()[0])
        os.chown(mount, owner.st_uid, owner.st_gid)
        pg.execute(f"CREATE TABLESPACE {space} LOCATION '{mount}'")
        pg.execute(f'ALTER DATABASE "{database}" SET default_tablespace = {space}')
        yield mount
    finally:
        # the database goes (pg_url drops it) after this; its tables must leave the tablespace first
        pg.execute(f'ALTER DATABASE "{database}" RESET default_tablespace')
        for schema, name in pg.execute(
                "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "JOIN pg_tablespace s ON s.oid = c.reltablespace WHERE s.spcname = %s AND c.relkind = 'r'",
                [space]).fetchall():
            pg.execute(f'DROP TABLE IF EXISTS "{schema}"."{name}" CASCADE')
        pg.execute(f"DROP TABLESPACE IF EXISTS {space}")
        subprocess.run(["umount", "-l", str(mount)], check=False)
        mount.rmdir()


def test_a_target_that_runs_out_of_space_says_how_far_it_got_and_the_rerun_resumes(project, tmp_path, pg_url, pg,
                                                                                   small_disk):
    from conftest import make_sqlite, run_cli

    db = make_sqlite(tmp_path / "grows.db", """
        CREATE TABLE a_small (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE b_big (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
    """, {"a_small": [(i, f"name {i}") for i in range(1, 1001)],
          "b_big": [(i, f"{i:08d}" + "x" * 300) for i in range(1, 30_001)]})  # about 10 MB in Postgres
    before = db.read_bytes()
    args = ["run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(db), "-p", "database_url", pg_url,
            "-p", "workers", "1"]

    result = run_cli(*args)
    assert result.exit_code == 1, result.stdout + result.stderr
    first = first_error_line(result.stderr)
    assert "ran out of space loading public.b_big" in first, first
    assert "loaded and kept: a_small (1000 rows)" in first and "re-run" in first, first
    assert dict(pg.execute("SELECT table_name, rows FROM _sqlite2neon.tables").fetchall()) == {"a_small": 1000}
    assert pg.execute("SELECT to_regclass('public.b_big')").fetchone()[0] is None  # rolled back, not half there

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)  # space was freed
    again = run_cli(*args)
    assert again.exit_code == 0, again.stdout + again.stderr
    loaded = json.loads((record_of(again) / "load.json").read_text())
    assert loaded["skipped"] == {"a_small": record_of(result).name}
    assert [t["target"] for t in loaded["tables"]] == ["b_big"]
    assert pg.execute("SELECT count(*), count(DISTINCT id) FROM b_big").fetchone() == (30_000, 30_000)
    assert db.read_bytes() == before
