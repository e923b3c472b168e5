"""Through a connection pooler in transaction mode: Debian's PgBouncer in front of the test server,
given as the only URL, under a host name that says nothing of pooling (issue 13).

In transaction mode PgBouncer hands each transaction whichever server connection is free, so a
prepared statement or a session setting one client made is seen, or missed, by another
(https://www.pgbouncer.org/features.html, "SQL feature map for pooling modes"). The test is skipped
when `pgbouncer` is not installed (`apt-get install pgbouncer`; `.ci/run` installs it when it can).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from conftest import free_port, record_of, run_cli, user_exists
from sqlite2neon import preflight
from sqlite2neon.config import Params

pytestmark = pytest.mark.slow



@pytest.fixture(scope="module")
def pooler(server_url):
    """A PgBouncer in transaction mode in front of the test server: a function giving, for a new
    database made on the server, its URL through the pooler."""
    binary = shutil.which("pgbouncer")
    if binary is None:
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer)")
    server = psycopg.conninfo.conninfo_to_dict(server_url)
    home = Path(tempfile.mkdtemp(prefix="sqlite2neon-pgbouncer-"))
    port = free_port()
    (home / "users.txt").write_text('"postgres" ""\n')
    (home / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={server['host']} port={server['port']}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {home / 'users.txt'}\n"
        "pool_mode = transaction\ndefault_pool_size = 4\nmax_client_conn = 200\n"
        f"logfile = {home / 'pgbouncer.log'}\npidfile = {home / 'pgbouncer.pid'}\n")
    command = [binary, str(home / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        user = next((u for u in ("postgres", "nobody") if user_exists(u)), None)
        if user is None:
            pytest.skip("no user to run PgBouncer as")
        entry = pwd.getpwnam(user)
        home.chmod(0o755)
        for path in home.iterdir():
            os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chown(home, entry.pw_uid, entry.pw_gid)
        command[1:1] = ["-u", user]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.skip(f"pgbouncer did not start: {(home / 'pgbouncer.log').read_text()[-300:] if (home / 'pgbouncer.log').exists() else ''}")
            time.sleep(0.1)

    def url_for(database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{database}"

    try:
        yield url_for
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(home, ignore_errors=True)



@pytest.fixture
def pooled_db(server_url, pooler):
    """A fresh database on the server, and its URL through the pooler (dropped afterwards)."""
    name = f"p_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name, pooler(name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_preflight_finds_a_transaction_pooler_by_its_behaviour(pooled_db, server_url, demo_db):
    name, url = pooled_db

    def rows(database_url: str) -> dict:
        params = Params.from_mapping({"database_url": database_url, "sqlite_path": str(demo_db), "env_file": ""})
        return {r.name: r for r in preflight.run_preflight(params).checks}

    found = rows(url)
    assert found["pooler"].status == "WARN" and "transaction" in found["pooler"].detail, found
    found = rows(f"{server_url.rpartition('/')[0]}/{name}")
    assert found["pooler"].status == "PASS", found


def test_the_whole_runbook_twice_through_a_transaction_pooler(project, tmp_path, demo_db, pooled_db, server_url):
    """run, run again, verify, then cutover after the app wrote to SQLite: every command through
    PgBouncer in transaction mode as the only URL (no prepared statement may outlive its transaction)."""
    name, url = pooled_db
    db = tmp_path / "app.db"
    shutil.copy(demo_db, db)
    common = ["-p", "sqlite_path", str(db), "-p", "database_url", url]
    for attempt in range(2):
        result = run_cli("run", "-f", "params/demo.yaml", *common, "-p", "if_exists", "truncate")
        assert result.exit_code == 0, f"run {attempt + 1}: {result.stderr}"
    result = run_cli("verify", "-f", "params/demo.yaml", *common)
    assert result.exit_code == 0, result.stderr
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE mental_items SET title = 'edited through the pooler' WHERE rowid = 1")
    con.close()
    result = run_cli("cutover", "-f", "params/demo.yaml", *common)
    assert result.exit_code == 0, result.stderr
    direct = f"{server_url.rpartition('/')[0]}/{name}"
    with psycopg.connect(direct) as conn:
        assert conn.execute("SELECT count(*) FROM mental_items WHERE title = 'edited through the pooler'").fetchone()[0] == 1
    summary = (record_of(result) / "summary.json").read_text()
    assert "pass" in summary.lower()


def _server_settings_seen_through(url: str, connections: int) -> list[tuple]:
    """lock_timeout and statement_timeout on each of the pooler's server connections: as many clients
    as the pool has connections, each holding one in an open transaction while it looks."""
    clients = [psycopg.connect(url) for _ in range(connections)]
    try:
        return [(c.execute("SELECT pg_backend_pid()").fetchone()[0], c.execute("SHOW lock_timeout").fetchone()[0],
                 c.execute("SHOW statement_timeout").fetchone()[0]) for c in clients]
    finally:
        for c in clients:
            c.close()


def test_the_runbook_leaves_no_setting_on_the_poolers_server_connections(project, demo_db, pooled_db):
    """Its timeouts are SET LOCAL behind a pooler: none stays on a server connection that another client
    of the pooler (the app) gets next. A session SET lock_timeout used to stay there (seen: '61s' on
    two of the four)."""
    from sqlite2neon.connect import connect

    name, url = pooled_db
    params = Params.from_mapping({"database_url": url, "sqlite_path": str(demo_db), "env_file": "", "lock_timeout": 61})
    with connect(url, params, autocommit=True) as conn:
        assert conn.pooled
        with conn.transaction():
            assert conn.execute("SHOW lock_timeout").fetchone()[0] == "61s"  # the runbook's own, in its transaction
    result = run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(demo_db), "-p", "database_url", url,
                     "-p", "lock_timeout", "61")
    assert result.exit_code == 0, result.stderr
    seen = _server_settings_seen_through(url, 4)  # default_pool_size
    assert len({pid for pid, _, _ in seen}) == 4, seen
    assert all(lock == "0" and statement == "0" for _, lock, statement in seen), seen


def test_a_direct_connection_is_not_taken_for_a_pooled_one(server_url, demo_db):
    from sqlite2neon.connect import connect

    params = Params.from_mapping({"database_url": server_url, "sqlite_path": str(demo_db), "env_file": "",
                                  "lock_timeout": 61})
    with connect(server_url, params, autocommit=True) as conn:
        assert not conn.pooled and conn.execute("SHOW lock_timeout").fetchone()[0] == "61s"
