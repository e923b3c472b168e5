"""The command line, end to end: real notebooks run by a real kernel into a real Postgres."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timezone

import psycopg
import pytest

from conftest import first_error_line, record_of, run_cli
from sqlite2neon.demo import make_demo_db

pytestmark = pytest.mark.slow


def _tables(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def test_run_migrates_an_unseen_app_database_exactly(project, tmp_path, pg_url):
    db = make_demo_db(tmp_path / "unseen.db", items=1234, seed=2026)
    digest = hashlib.sha256(db.read_bytes()).hexdigest()

    result = run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(db), "-p", "database_url", pg_url)

    assert result.exit_code == 0, result.stderr
    summary = json.loads((record_of(result) / "summary.json").read_text())
    assert summary["status"] == "passed"
    assert [s["notebook"] for s in summary["steps"]] == [
        "00_preflight", "01_inspect_source", "02_plan_schema", "03_load", "04_verify"]
    assert {t["target"]: (t["source_rows"], t["target_rows"], t["checksum_match"]) for t in summary["tables"]} == {
        "mental_items": (1234, 1234, True),
        "item_events": (_count(db, "item_events"),) * 2 + (True,),
    }
    # Every row, id, timestamp and JSON value, compared with the source in Python.
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    expected = {
        r[0]: (r[1], r[2], r[3], json.loads(r[4]))
        for r in src.execute("SELECT id, created_at, updated_at, resolved_at, tags FROM mental_items")
    }
    with psycopg.connect(pg_url) as conn:
        got = {
            r[0]: (r[1], r[2], r[3], r[4])
            for r in conn.execute("SELECT id, created_at, updated_at, resolved_at, tags FROM mental_items")
        }
        types = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'mental_items'"))
    assert types["created_at"] == "timestamp with time zone" and types["tags"] == "jsonb"
    assert got.keys() == expected.keys()
    for key, (created, updated, resolved, tags) in expected.items():
        g = got[key]
        assert g[0] == datetime.fromtimestamp(created, timezone.utc)
        assert g[1] == datetime.fromtimestamp(updated, timezone.utc)
        assert g[2] == (datetime.fromtimestamp(resolved, timezone.utc) if resolved is not None else None)
        assert g[3] == tags
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest, "the source file changed"
    for name in ("00_preflight", "04_verify"):
        assert (record_of(result) / f"{name}.html").stat().st_size > 10_000

    same = run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(db), "-p", "database_url", pg_url)

    assert same.exit_code == 0, same.stderr  # the same source again: nothing to do, and it says so
    assert "already loaded by run" in (record_of(same) / "03_load.html").read_text()
    assert _tables(pg_url)["mental_items"] == 1234

    with sqlite3.connect(db) as con:  # the app wrote since: those tables now hold other rows than the source
        con.execute("DELETE FROM item_events WHERE id = 1")
    again = run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(db), "-p", "database_url", pg_url)

    assert again.exit_code == 1
    assert "already hold" in again.stderr and "mental_items (1234 rows)" in again.stderr
    assert "if_exists" in again.stderr
    assert _tables(pg_url)["mental_items"] == 1234
    assert json.loads((record_of(again) / "summary.json").read_text())["status"] == "failed"


def _count(db, table: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.mark.parametrize("make_source, reason", [
    (lambda p: p, "does not exist"),
    (lambda p: (p.write_text("id,title\n1,not a database\n"), p)[1], "is not a SQLite database"),
])
def test_a_bad_source_fails_in_preflight_and_writes_nothing(project, tmp_path, pg_url, make_source, reason):
    source = make_source(tmp_path / "app.db")

    result = run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(source), "-p", "database_url", pg_url)

    assert result.exit_code == 1
    first = first_error_line(result.stderr)
    assert first.startswith("sqlite2neon: 00_preflight failed") and reason in first
    assert _tables(pg_url) == {}


def test_a_misspelt_parameter_lists_the_valid_ones(project):
    result = run_cli("run", "-f", "params/demo.yaml", "-p", "if_exist", "truncate")

    assert result.exit_code == 2
    assert "unknown parameter 'if_exist' (did you mean 'if_exists'?)" in result.stderr
    assert not (project / "runs").exists()


def test_dry_run_stops_after_the_plan(project, pg_url, demo_db):
    result = run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(demo_db),
                     "-p", "database_url", pg_url, "-p", "dry_run", "true")

    assert result.exit_code == 0, result.stderr
    record = record_of(result)
    assert [s["notebook"] for s in json.loads((record / "summary.json").read_text())["steps"]] == [
        "00_preflight", "01_inspect_source", "02_plan_schema"]
    assert "CREATE TABLE" in (record / "plan.sql").read_text()
    assert _tables(pg_url) == {}


def test_no_password_reaches_the_record(project, pg_url, demo_db):
    secret = "hunter2-not-for-records"
    url = pg_url.replace("postgres@", f"postgres:{secret}@")  # the test server trusts, so any password works

    result = run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(demo_db), "-p", "database_url", url)

    assert result.exit_code == 0, result.stderr
    assert secret not in result.stdout + result.stderr
    files = [p for p in record_of(result).rglob("*") if p.is_file()]
    assert len(files) > 10
    for path in files:
        assert secret.encode() not in path.read_bytes(), f"{path.name} holds the password"


def test_demo_runs_against_the_embedded_server_twice(project):
    first = run_cli("demo", "--items", "500")
    second = run_cli("demo", "--items", "500")

    assert first.exit_code == 0, first.stderr
    assert second.exit_code == 0, second.stderr
    assert "run passed; record:" in second.stdout
    summary = json.loads((record_of(second) / "summary.json").read_text())
    assert summary["target"].startswith("postgresql://postgres@127.0.0.1:")
    assert {t["target"]: t["target_rows"] for t in summary["tables"]}["mental_items"] == 500


def test_every_command_has_help_with_an_example():
    from sqlite2neon.cli import main

    def commands(group, path=()):
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                yield from commands(cmd, path + (name,))
            else:
                yield path + (name,), cmd

    found = list(commands(main))
    assert len(found) >= 4
    for path, cmd in found:
        assert "Example:" in (cmd.help or ""), f"{' '.join(path)} has no example in its help"
