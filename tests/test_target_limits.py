"""The target's own limits do not decide the run (issue 13): a role or database whose
statement_timeout is shorter than the load, and a lock held on a table while verification reads it,
reported as a timeout rather than as a difference."""

from __future__ import annotations

import json

import psycopg
import pytest

from conftest import first_error_line, migrate
from sqlite2neon import verify
from sqlite2neon.errors import VerificationFailed


def test_a_load_and_verify_longer_than_the_targets_statement_timeout_pass(demo_db, params_for, pg, pg_url):
    """The database's statement_timeout is 1 ms, as hosted setups set a short one on the role or
    database: the runbook sets its own on each of its connections, so the COPY and verification run."""
    pg.execute(f"ALTER DATABASE {pg.info.dbname} SET statement_timeout = '1ms'")
    with psycopg.connect(pg_url) as other, pytest.raises(psycopg.errors.QueryCanceled):
        other.execute("SELECT count(*) FROM generate_series(1, 3000000)")  # the setting bites a plain session
    _, loaded, verified = migrate(params_for(demo_db))
    assert verified.passed, verified.to_json()
    assert {t.target: t.target_rows for t in verified.tables}["mental_items"] == 3000


def test_a_lock_timeout_while_verifying_is_reported_as_a_timeout_not_a_difference(demo_db, params_for, pg_url):
    params = params_for(demo_db, lock_timeout=1)
    _, _, verified = migrate(params)
    assert verified.passed
    with psycopg.connect(pg_url) as holder:
        holder.execute("LOCK TABLE mental_items IN ACCESS EXCLUSIVE MODE")  # held until the block ends
        result = verify.step(params)
        holder.rollback()
    assert not result.passed
    check = {t.target: t for t in result.tables}["mental_items"]
    assert "lock timeout" in check.problem and "lock_timeout" in check.problem, check.problem
    with pytest.raises(VerificationFailed) as failed:
        result.raise_for_failure()
    message = str(failed.value)
    assert "not compared" in message and "lock timeout" in message and "differ" not in message, message


@pytest.fixture
def crowded_server(tmp_path):
    """A server of its own with five connection slots, four of them held by other sessions (as an app's
    workers and a dashboard hold theirs): one is left for the runbook."""
    from sqlite2neon import embedded

    home = tmp_path / "pg"
    url = embedded.ensure_running(home)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET max_connections = 5")
        conn.execute("ALTER SYSTEM SET superuser_reserved_connections = 0")
        conn.execute("ALTER SYSTEM SET max_wal_senders = 0")
    embedded.stop(home)
    assert embedded.ensure_running(home, port=port) == url
    held = [psycopg.connect(url, autocommit=True) for _ in range(4)]
    try:
        yield url
    finally:
        for conn in held:
            conn.close()
        embedded.stop(home, mode="immediate")


def test_a_run_with_one_free_connection_slot_passes_on_one_connection(project, demo_db, crowded_server):
    """Issue 13: with max_connections 5 and 4 held, preflight lowers workers to 1 and says so, the load
    uses its one connection for every table, and verify reads one table at a time."""
    from conftest import record_of, run_cli

    result = run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(demo_db),
                     "-p", "database_url", crowded_server, "-p", "workers", "4")
    assert result.exit_code == 0, result.stdout + result.stderr
    preflight = json.loads((record_of(result) / "preflight.json").read_text())
    budget = next(c for c in preflight["checks"] if c["name"] == "connection budget")
    assert budget["status"] == "WARN" and "0 more connection(s) free" in budget["detail"], budget
    assert "workers lowered from 4 to 1" in budget["detail"] and preflight["workers"] == 1
    pooler = next(c for c in preflight["checks"] if c["name"] == "pooler")
    assert "no free connection slot" in pooler["detail"], pooler  # it needs a second connection
    with psycopg.connect(crowded_server) as conn:  # the run's own slot is free again
        assert conn.execute("SELECT count(*) FROM mental_items").fetchone()[0] == 3000


def test_no_free_slot_at_all_fails_the_run_saying_so(project, demo_db, crowded_server):
    from conftest import run_cli

    with psycopg.connect(crowded_server):  # the fifth: none left
        result = run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(demo_db),
                         "-p", "database_url", crowded_server, "-p", "connect_wait", "2")
    assert result.exit_code != 0
    first = first_error_line(result.stderr)
    assert "too many clients" in first and "no free connection slot" in first, result.stderr
