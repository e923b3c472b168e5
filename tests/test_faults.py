"""Faults in the middle of a load (real processes, nothing mocked): the re-run finishes the job and
the target ends equal to an uninterrupted run's, with no row missing and none twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from conftest import ROOT
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
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'sqlite2neon' AND query ILIKE %s",
                [f"COPY %{table}%"]).fetchone()
            if row:
                return row[0]
            time.sleep(0.02)
    raise AssertionError(f"no COPY into {table} seen")


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


def test_a_backend_terminated_during_copy_then_a_rerun_finishes(big_db, params_for, pg, pg_url, tmp_path):
    params = params_for(big_db, workers=1)
    source.step(params)
    plan.step(params)
    failure: list[BaseException] = []

    def run_load():
        try:
            load.step(params)
        except BaseException as exc:  # the load is expected to fail: kept for the assertions
            failure.append(exc)

    worker = threading.Thread(target=run_load)
    worker.start()
    pid = _copy_backend(pg_url, "item_events")  # loaded after mental_items, which it references
    time.sleep(0.2)
    pg.execute("SELECT pg_terminate_backend(%s)", [pid])
    worker.join(timeout=120)
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


def test_the_server_stopped_during_the_load_then_started_again(big_db, tmp_path, own_server):
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

    worker = threading.Thread(target=run_load)
    worker.start()
    _copy_backend(url, "mental_items")
    time.sleep(0.3)
    embedded.stop(home, mode="fast")
    worker.join(timeout=120)
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
    """A Neon compute waking from zero, or a server still starting: connections retry with backoff."""
    from sqlite2neon import embedded
    from sqlite2neon.config import Params
    from sqlite2neon.preflight import run_preflight

    home, url, port = own_server
    embedded.stop(home, mode="fast")
    starter = threading.Timer(2.0, embedded.ensure_running, args=(home,), kwargs={"port": port})
    starter.start()
    params = Params(sqlite_path=str(demo_db), database_url=url, env_file="", run_dir=str(tmp_path / "run"),
                    connect_retries=8)
    try:
        report = run_preflight(params)
    finally:
        starter.join()
    assert not report.failed, report.to_json()
    assert report.connect_seconds >= 1.5
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
    first = result.stderr.splitlines()[0]
    assert "00_preflight failed" in first and "password authentication failed" in first
    assert "not-the-password-42" not in result.stdout + result.stderr
    assert time.monotonic() - started < 60  # no retries on an authentication error
    right = url.replace("postgres@", "postgres:the-right-one@")
    with psycopg.connect(right) as conn:
        assert conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()[0] == 0

