"""The target's own limits do not decide the run (issue 13): a role or database whose
statement_timeout is shorter than the load, and a lock held on a table while verification reads it,
reported as a timeout rather than as a difference."""

from __future__ import annotations

import psycopg
import pytest

from conftest import migrate
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
