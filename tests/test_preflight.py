"""Step 00, preflight: the right target, reachable, safe and ready, with nothing written. A check
that fails stops the checks after it (no connection to an unsafe or unreachable target), a
closed port fails fast, a pooled Neon URL loads through its direct host, and no password ever
reaches a check's detail or an error."""

from __future__ import annotations

import re
import time

import pytest

from sqlite2neon.config import Params
from sqlite2neon.connect import derive_direct_url, resolve_target
from sqlite2neon.errors import PreflightFailed
from sqlite2neon.preflight import FAIL, PASS, WARN, run_preflight

POOLED = "postgresql://app:pw@ep-x-123-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require"
DIRECT = "postgresql://app:pw@ep-x-123.us-east-2.aws.neon.tech/neondb?sslmode=require"
SECRET = "hunter2-secret"


def statuses(report) -> dict[str, str]:
    """Check name -> status; a name that appears twice keeps its worst status."""
    order = {PASS: 0, WARN: 1, FAIL: 2}
    out: dict[str, str] = {}
    for check in report.checks:
        if order[check.status] >= order[out.get(check.name, PASS)]:
            out[check.name] = check.status
    return out


def detail(report, name: str) -> str:
    return " | ".join(c.detail for c in report.checks if c.name == name)


def offline_params(tmp_path, **values) -> Params:
    """Parameters whose target is never reached: no env file, a run directory under tmp_path."""
    return Params.from_mapping({"env_file": "", "run_dir": str(tmp_path / "run")} | values)


# --- against the test database ------------------------------------------------------------------

def test_preflight_against_the_test_database_passes(demo_db, params_for, pg):
    report = run_preflight(params_for(demo_db))
    assert report.failed == [], report.to_json()
    assert statuses(report) == {
        "source file": PASS, "storage budget": PASS, "target URL": PASS, "endpoint": PASS, "TLS": PASS,
        "connect": PASS, "server version": PASS, "round trip": PASS, "pooler": PASS, "connection budget": PASS,
        "timeouts": PASS, "privileges": PASS, "existing tables": PASS,
    }
    assert 0 < report.round_trip_ms < 100 and report.workers == 2
    assert report.target_kind == "postgres"
    assert report.server_version and report.server_version.split(".")[0] >= "14"
    assert report.connect_seconds is not None and report.connect_seconds < 5
    report.raise_for_failures()  # does not raise


def test_preflight_writes_nothing_to_the_target(demo_db, params_for, pg):
    run_preflight(params_for(demo_db))
    assert pg.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')").fetchone()[0] == 0


def test_filled_target_table_fails_with_if_exists_fail_and_warns_otherwise(demo_db, params_for, pg):
    pg.execute("CREATE TABLE mental_items (id text)")
    pg.execute("INSERT INTO mental_items VALUES ('x'), ('y')")
    pg.execute("CREATE TABLE unrelated (id int)")
    pg.execute("INSERT INTO unrelated VALUES (1)")
    report = run_preflight(params_for(demo_db, if_exists="fail"))
    assert statuses(report)["existing tables"] == FAIL
    assert "mental_items (2 rows)" in detail(report, "existing tables")
    assert "unrelated" not in detail(report, "existing tables")
    with pytest.raises(PreflightFailed, match="existing tables"):
        report.raise_for_failures()
    report = run_preflight(params_for(demo_db, if_exists="truncate"))
    assert statuses(report)["existing tables"] == WARN
    assert report.failed == []


def test_storage_budget_smaller_than_the_source_fails(demo_db, params_for, pg):
    report = run_preflight(params_for(demo_db, storage_budget_mb=0))
    assert statuses(report)["storage budget"] == FAIL
    assert "connect" not in statuses(report)


def test_on_the_embedded_scratch_server_the_budget_warns_without_stopping(demo_db, params_for, pg, pg_url):
    """The embedded server keeps earlier runs' data for inspection and has no plan's limit: a budget it
    is over is said (WARN), and the run goes on; `./sqlite2neon demo` stopped on it after a large run."""
    from sqlite2neon.connect import Target

    params = params_for(demo_db, storage_budget_mb=0)
    scratch = Target("embedded", pg_url, pg_url, "same", "embedded", schema=params.target_schema)
    report = run_preflight(params, scratch)
    assert statuses(report)["storage budget"] == WARN
    assert "not enforced on the embedded scratch server" in detail(report, "storage budget")
    assert "storage budget" not in [c.name for c in report.failed]
    assert statuses(report)["connect"] == PASS  # it went on to the target's own checks


def test_the_storage_budget_counts_what_the_target_already_holds(demo_db, params_for, pg):
    """A filled target: the source alone fits the budget, the target's present size plus the source
    does not (issue 13: 932 MB already there and a 77 MB source passed a 512 MB budget)."""
    pg.execute("CREATE TABLE earlier (id int, body text)")
    pg.execute("INSERT INTO earlier SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 100000) g")
    existing_mb = pg.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 1e6
    source_mb = demo_db.stat().st_size / 1e6
    assert existing_mb > 20 and source_mb < existing_mb
    report = run_preflight(params_for(demo_db, storage_budget_mb=int(existing_mb)))
    assert statuses(report)["storage budget"] == FAIL
    assert f"holds {existing_mb:.0f} MB now" in detail(report, "storage budget")
    report = run_preflight(params_for(demo_db, storage_budget_mb=int(existing_mb + source_mb * 2) + 2))
    assert statuses(report)["storage budget"] == PASS, detail(report, "storage budget")


# --- checks that stop before connecting ---------------------------------------------------------

def test_closed_port_fails_connect_quickly(demo_db, tmp_path):
    params = offline_params(tmp_path, sqlite_path=str(demo_db), database_url="postgresql://app@127.0.0.1:1/db",
                            connect_wait=0, connect_timeout=2)
    started = time.monotonic()
    report = run_preflight(params)
    assert time.monotonic() - started < 5
    assert statuses(report)["connect"] == FAIL
    assert "127.0.0.1" in detail(report, "connect")
    assert "server version" not in statuses(report)
    with pytest.raises(PreflightFailed, match="connect"):
        report.raise_for_failures()


def test_closed_port_retries_until_the_time_budget_runs_out(demo_db, tmp_path):
    params = offline_params(tmp_path, sqlite_path=str(demo_db), database_url="postgresql://app@127.0.0.1:1/db",
                            connect_wait=2, connect_timeout=1)
    report = run_preflight(params)
    assert statuses(report)["connect"] == FAIL
    # back-offs of 0.25, 0.5 and 1 s fit in 2 s; the next (2 s) would not
    found = re.search(r"gave up after ([0-9.]+) s and (\d+) attempt\(s\) \(connect_wait 2 s\)", detail(report, "connect"))
    assert found, detail(report, "connect")
    assert 1.5 <= float(found.group(1)) <= 2 and found.group(2) == "4"


def test_remote_host_without_sslmode_fails_tls_and_does_not_connect(demo_db, tmp_path):
    params = offline_params(tmp_path, sqlite_path=str(demo_db), database_url="postgresql://app:pw@example.invalid/app")
    started = time.monotonic()
    report = run_preflight(params)
    assert time.monotonic() - started < 2
    assert statuses(report)["TLS"] == FAIL
    assert "sslmode=require" in detail(report, "TLS")
    assert "connect" not in statuses(report)


def test_remote_host_with_allow_insecure_only_warns_about_tls(tmp_path):
    # the missing source file fails first, so preflight stops before any connection attempt
    params = offline_params(tmp_path, sqlite_path=str(tmp_path / "absent.db"),
                            database_url="postgresql://app:pw@example.invalid/app", allow_insecure=True)
    report = run_preflight(params)
    assert statuses(report)["TLS"] == WARN
    assert statuses(report)["source file"] == FAIL
    assert "connect" not in statuses(report)


@pytest.mark.parametrize("sslmode", ["require", "verify-full"])
def test_remote_host_with_sslmode_passes_tls(tmp_path, sslmode):
    params = offline_params(tmp_path, sqlite_path=str(tmp_path / "absent.db"),
                            database_url=f"postgresql://app:pw@example.invalid/app?sslmode={sslmode}")
    assert statuses(run_preflight(params))["TLS"] == PASS


def test_remote_host_with_sslmode_disable_fails_tls(tmp_path):
    params = offline_params(tmp_path, sqlite_path=str(tmp_path / "absent.db"),
                            database_url="postgresql://app:pw@example.invalid/app?sslmode=disable")
    assert statuses(run_preflight(params))["TLS"] == FAIL


def test_url_that_is_not_postgres_fails_the_target_url_check(demo_db, tmp_path):
    report = run_preflight(offline_params(tmp_path, sqlite_path=str(demo_db), database_url="mysql://app@db.example/app"))
    assert statuses(report)["target URL"] == FAIL
    assert "postgresql://" in detail(report, "target URL")
    assert report.target_kind == "unknown"
    assert "connect" not in statuses(report)


def test_source_that_is_not_sqlite_fails_the_source_check(tmp_path):
    text = tmp_path / "notes.db"
    text.write_text("not a database\n" * 20)
    report = run_preflight(offline_params(tmp_path, sqlite_path=str(text), database_url=POOLED))
    assert statuses(report)["source file"] == FAIL
    assert "not a SQLite database" in detail(report, "source file")


# --- Neon's pooled and direct endpoints ---------------------------------------------------------

def test_derive_direct_url_removes_pooler():
    assert derive_direct_url(POOLED) == DIRECT


def test_pooled_neon_url_resolves_to_its_direct_host():
    target = resolve_target(Params(database_url=POOLED, env_file=""))
    assert target.kind == "neon"
    assert target.pooled is True
    assert target.url == POOLED
    assert target.direct_url == DIRECT
    assert target.direct_host == "ep-x-123.us-east-2.aws.neon.tech"
    assert target.direct_source == "derived"
    assert target.display == "postgresql://app:***@ep-x-123.us-east-2.aws.neon.tech/neondb?sslmode=require"


def test_direct_neon_url_is_used_as_given():
    target = resolve_target(Params(database_url=DIRECT, env_file=""))
    assert (target.kind, target.pooled, target.direct_url, target.direct_source) == ("neon", False, DIRECT, "same")


def test_explicit_direct_url_wins_over_the_derived_one():
    other = "postgresql://app:pw@ep-other-9.eu-central-1.aws.neon.tech/neondb?sslmode=require"
    target = resolve_target(Params(database_url=POOLED, database_url_direct=other, env_file=""))
    assert (target.direct_url, target.direct_source) == (other, "database_url_direct")


def test_preflight_reports_the_derived_direct_host(tmp_path):
    report = run_preflight(offline_params(tmp_path, sqlite_path=str(tmp_path / "absent.db"), database_url=POOLED))
    assert statuses(report)["endpoint"] == PASS
    assert "ep-x-123.us-east-2.aws.neon.tech" in detail(report, "endpoint")
    assert report.target_kind == "neon"


def test_direct_url_that_is_still_pooled_fails_the_endpoint_check(tmp_path):
    report = run_preflight(offline_params(tmp_path, sqlite_path=str(tmp_path / "absent.db"),
                                          database_url=POOLED, database_url_direct=POOLED))
    assert statuses(report)["endpoint"] == FAIL


# --- no password anywhere -----------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    f"postgresql://app:{SECRET}@127.0.0.1:1/db",
    f"postgresql://app@127.0.0.1:1/db?password={SECRET}",
    f"postgresql://app:{SECRET}@127.0.0.1:1/db?sslmode=disable&bogus_option=1",
    f"postgresql://app:{SECRET}@127.0.0.1:notaport/db",
    f"postgres://app:{SECRET}@ep-x-123-pooler.us-east-2.aws.neon.tech/neondb",
    f"mysql://app:{SECRET}@db.example/app",
])
def test_password_never_appears_in_the_report(demo_db, tmp_path, url):
    params = offline_params(tmp_path, sqlite_path=str(demo_db), database_url=url, connect_wait=0, connect_timeout=2)
    report = run_preflight(params)
    assert report.failed, report.to_json()  # each of these URLs fails somewhere
    assert SECRET not in report.to_json()
    assert SECRET not in repr(report)
    with pytest.raises(PreflightFailed) as info:
        report.raise_for_failures()
    assert SECRET not in str(info.value)


def test_password_never_appears_when_the_direct_url_carries_it(demo_db, tmp_path):
    params = offline_params(tmp_path, sqlite_path=str(demo_db), database_url="postgresql://app:other-pw@127.0.0.1:1/db",
                            database_url_direct=f"postgresql://app:{SECRET}@127.0.0.1:1/db", connect_wait=0)
    report = run_preflight(params)
    assert statuses(report)["connect"] == FAIL
    assert SECRET not in report.to_json()
    assert "other-pw" not in report.to_json()


def test_the_endpoint_in_options_is_the_direct_one_too(tmp_path):
    """`options=endpoint=<id>-pooler` (how Neon is told the endpoint where SNI cannot be sent) loses
    `-pooler` with the host, or the "direct" URL would still reach the pooler; under a custom host name
    the option alone marks the URL as pooled."""
    pooled = POOLED + "&options=endpoint%3Dep-x-123-pooler"
    target = resolve_target(Params(database_url=pooled, env_file=""))
    assert target.direct_url == DIRECT + "&options=endpoint%3Dep-x-123"
    custom = "postgresql://app:pw@db.example.com/neondb?sslmode=require&options=endpoint%3Dep-x-123-pooler"
    target = resolve_target(Params(database_url=custom, env_file=""))
    assert target.pooled and target.direct_source == "derived"
    assert target.direct_url.endswith("options=endpoint%3Dep-x-123") and "pooler" not in target.direct_url
    still = "postgresql://app:pw@db.example.com/neondb?sslmode=require&options=endpoint%3Dep-x-123"
    report = run_preflight(offline_params(tmp_path, database_url=custom, database_url_direct=custom))
    assert statuses(report)["endpoint"] == FAIL
    assert resolve_target(Params(database_url=still, env_file="")).pooled is False
