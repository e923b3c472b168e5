"""Steps 03 and 04, load and verify, into a real PostgreSQL: the demo data arrives with its
values intact (timestamps, JSON, booleans, ids, the identity sequence), `if_exists` is obeyed,
mixed columns load through the text path, and verification notices a changed or missing row."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import psycopg
import pytest

from sqlite2neon import load, plan, source, verify
from sqlite2neon.config import Params
from sqlite2neon.connect import Target, resolve_target
from sqlite2neon.errors import RunbookError, TargetError, TargetNotEmpty
from conftest import make_sqlite
from sqlite2neon.demo import make_demo_db


def sqlite_rows(path: Path, query: str) -> list[tuple]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def migrate(params: Params):
    """The runbook's steps 01-04 as the notebooks run them; returns (plan, load result, verify result)."""
    source.step(params)
    the_plan = plan.step(params)
    loaded = load.step(params)
    return the_plan, loaded, verify.step(params)


def counts(conn, *tables: str) -> dict[str, int]:
    return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def checks_by_table(result) -> dict:
    return {t.target: t for t in result.tables}


# --- the demo, loaded once for the checks that only read ----------------------------------------

@pytest.fixture(scope="module")
def demo_target(server_url, demo_db, tmp_path_factory):
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{server_url.rpartition('/')[0]}/{name}"
    params = Params.from_mapping({"sqlite_path": str(demo_db), "database_url": url, "env_file": "",
                                  "run_dir": str(tmp_path_factory.mktemp("run"))})
    the_plan, loaded, verified = migrate(params)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        yield {"conn": conn, "plan": the_plan, "load": loaded, "verify": verified, "params": params}
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_demo_round_trip_verifies(demo_target, demo_db):
    result = demo_target["verify"]
    assert result.passed, result.to_json()
    checks = checks_by_table(result)
    (n_items,), = sqlite_rows(demo_db, "SELECT count(*) FROM mental_items")
    (n_events,), = sqlite_rows(demo_db, "SELECT count(*) FROM item_events")
    assert (checks["mental_items"].source_rows, checks["mental_items"].target_rows) == (n_items, n_items)
    assert (checks["item_events"].source_rows, checks["item_events"].target_rows) == (n_events, n_events)
    loaded = {t.target: t.rows for t in demo_target["load"].tables}
    assert loaded == {"mental_items": n_items, "item_events": n_events}
    assert counts(demo_target["conn"], "mental_items", "item_events") == loaded


def test_load_json_reports_bytes_sent_per_row(demo_target):
    """load.json gives each table's COPY bytes per row (bytes / rows), and reads back without it."""
    result = demo_target["load"]
    written = {t["target"]: t for t in json.loads(result.to_json())["tables"]}
    for table in result.tables:
        assert table.bytes > 0 and written[table.target]["bytes_per_row"] == round(table.bytes / table.rows, 1)
    assert load.LoadResult.from_json(result.to_json()).tables == result.tables


def test_demo_ids_are_identical(demo_target, demo_db):
    conn = demo_target["conn"]
    assert {r[0] for r in conn.execute("SELECT id FROM mental_items")} == {
        r[0] for r in sqlite_rows(demo_db, "SELECT id FROM mental_items")}
    assert sorted(conn.execute("SELECT id, item_id FROM item_events").fetchall()) == sorted(
        sqlite_rows(demo_db, "SELECT id, item_id FROM item_events"))


def test_demo_created_at_is_to_timestamp_of_the_unix_value(demo_target, demo_db):
    conn = demo_target["conn"]
    source_values = dict(sqlite_rows(demo_db, "SELECT id, created_at FROM mental_items"))
    target_values = dict(conn.execute("SELECT id, extract(epoch FROM created_at)::bigint FROM mental_items").fetchall())
    assert target_values == source_values
    some_id, some_value = next(iter(source_values.items()))
    assert conn.execute("SELECT created_at = to_timestamp(%s) FROM mental_items WHERE id = %s",
                        [some_value, some_id]).fetchone()[0] is True
    loaded = conn.execute("SELECT created_at FROM mental_items WHERE id = %s", [some_id]).fetchone()[0]
    assert loaded == datetime.fromtimestamp(some_value, timezone.utc)


def test_demo_resolved_at_nulls_stay_null(demo_target, demo_db):
    conn = demo_target["conn"]
    source_values = dict(sqlite_rows(demo_db, "SELECT id, resolved_at FROM mental_items"))
    target_values = dict(conn.execute("SELECT id, extract(epoch FROM resolved_at)::bigint FROM mental_items").fetchall())
    assert target_values == source_values
    assert None in target_values.values()


def test_demo_tags_are_jsonb_equal_to_the_parsed_json(demo_target, demo_db):
    conn = demo_target["conn"]
    assert conn.execute("SELECT DISTINCT jsonb_typeof(tags) FROM mental_items").fetchall() == [("array",)]
    source_values = {i: json.loads(t) for i, t in sqlite_rows(demo_db, "SELECT id, tags FROM mental_items")}
    target_values = dict(conn.execute("SELECT id, tags FROM mental_items").fetchall())  # psycopg parses jsonb
    assert target_values == source_values
    assert any("日本" in tags or "🙂" in tags for tags in target_values.values())


def test_demo_resolved_is_boolean_and_text_is_exact(demo_target, demo_db):
    conn = demo_target["conn"]
    source_rows = {r[0]: (bool(r[1]), r[2], r[3]) for r in sqlite_rows(demo_db, "SELECT id, resolved, title, body FROM mental_items")}
    target_rows = {r[0]: tuple(r[1:]) for r in conn.execute("SELECT id, resolved, title, body FROM mental_items")}
    assert target_rows == source_rows
    assert any(body and "\n" in body for _, _, body in target_rows.values())
    assert any('"quoted"' in title for _, title, _ in target_rows.values())


def test_demo_identity_continues_after_the_highest_id(demo_target, demo_db):
    (max_id,), = sqlite_rows(demo_db, "SELECT max(id) FROM item_events")
    url = demo_target["params"].database_url
    with psycopg.connect(url) as conn:  # a transaction, rolled back
        item_id = conn.execute("SELECT id FROM mental_items LIMIT 1").fetchone()[0]
        new_id = conn.execute(
            "INSERT INTO item_events (item_id, event, at) VALUES (%s, 'created', now()) RETURNING id", [item_id]
        ).fetchone()[0]
        conn.rollback()
    assert new_id == max_id + 1


def test_demo_keys_indexes_and_foreign_key_exist(demo_target):
    conn = demo_target["conn"]
    constraints = dict(conn.execute(
        "SELECT conname, contype FROM pg_constraint WHERE connamespace = 'public'::regnamespace").fetchall())
    assert constraints["item_events_item_id_fkey"] == "f"
    assert "p" in {constraints.get("mental_items_pkey"), constraints.get("item_events_pkey")}
    indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    assert {"mental_items_created_at_idx", "mental_items_open_idx", "item_events_item_idx"} <= indexes


# --- if_exists ----------------------------------------------------------------------------------

def test_rerunning_a_finished_migration_changes_nothing_and_says_so(demo_db, params_for, pg, tmp_path):
    first = params_for(demo_db)
    migrate(first)
    before = counts(pg, "mental_items", "item_events")
    _, loaded, verified = migrate(params_for(demo_db, run_dir=str(tmp_path / "run2")))
    assert loaded.tables == [] and set(loaded.skipped) == {"mental_items", "item_events"}
    assert set(loaded.skipped.values()) == {"run"}  # the first run's directory name
    assert verified.passed and counts(pg, "mental_items", "item_events") == before
    assert {r[0] for r in pg.execute("SELECT status FROM _sqlite2neon.tables")} == {"verified"}


def test_if_exists_fail_refuses_filled_tables_and_changes_nothing(tmp_path, params_for, pg):
    db = make_demo_db(tmp_path / "app.db", items=300)
    migrate(params_for(db))
    before = counts(pg, "mental_items", "item_events")
    con = sqlite3.connect(db)  # the app wrote since: these tables are not this source's any more
    con.execute("DELETE FROM item_events WHERE id = 1")
    con.commit()
    con.close()
    again = params_for(db, if_exists="fail", run_dir=str(tmp_path / "run2"))
    source.step(again)
    plan.step(again)
    with pytest.raises(TargetNotEmpty, match=r"mental_items \(300 rows\)"):
        load.step(again)
    assert counts(pg, "mental_items", "item_events") == before


def test_truncate_reloads_to_the_same_counts(demo_db, params_for, pg, tmp_path):
    migrate(params_for(demo_db))
    before = counts(pg, "mental_items", "item_events")
    pg.execute("DELETE FROM item_events WHERE id % 2 = 0")  # the target drifted since
    _, loaded, verified = migrate(params_for(demo_db, if_exists="truncate", run_dir=str(tmp_path / "run2")))
    assert counts(pg, "mental_items", "item_events") == before
    # only the drifted table is reloaded; the other still holds exactly what this source gave it
    assert {t.target: t.rows for t in loaded.tables} == {"item_events": before["item_events"]}
    assert list(loaded.skipped) == ["mental_items"]
    assert verified.passed, verified.to_json()


def test_truncate_reloads_a_table_that_references_a_drifted_one(demo_db, params_for, pg, tmp_path):
    """A referenced table cannot be truncated alone: the finished table that references it is
    reloaded with it."""
    migrate(params_for(demo_db))
    before = counts(pg, "mental_items", "item_events")
    pg.execute("ALTER TABLE item_events DROP CONSTRAINT item_events_item_id_fkey")
    pg.execute("DELETE FROM mental_items WHERE id IN (SELECT id FROM mental_items LIMIT 10)")
    _, loaded, verified = migrate(params_for(demo_db, if_exists="truncate", run_dir=str(tmp_path / "run2")))
    assert counts(pg, "mental_items", "item_events") == before
    assert verified.passed, verified.to_json()


@pytest.fixture
def readings_db(tmp_path) -> Path:
    """A table without a primary key."""
    return make_sqlite(tmp_path / "readings.db",
                       "CREATE TABLE readings (sensor TEXT, value REAL, taken_at INTEGER);",
                       {"readings": [("a", 1.5, 1_700_000_000), ("a", 1.5, 1_700_000_000), ("b", -2.25, 1_700_000_060)]})


def test_append_adds_the_rows_again_only_when_the_source_changed(readings_db, params_for, pg, tmp_path):
    _, _, verified = migrate(params_for(readings_db))
    assert verified.passed
    assert counts(pg, "readings") == {"readings": 3}
    # the same source again: already there, nothing appended twice
    same = params_for(readings_db, if_exists="append", run_dir=str(tmp_path / "run2"))
    source.step(same)
    plan.step(same)
    assert load.step(same).skipped == {"readings": "run"} and counts(pg, "readings") == {"readings": 3}
    con = sqlite3.connect(readings_db)  # the source changed: append adds all its rows again
    con.execute("INSERT INTO readings VALUES ('c', 1.0, 1700000200)")
    con.commit()
    con.close()
    again = params_for(readings_db, if_exists="append", run_dir=str(tmp_path / "run3"))
    source.step(again)
    assert plan.step(again).table("readings").exists is True
    loaded = load.step(again)
    assert loaded.tables[0].rows == 4
    assert counts(pg, "readings") == {"readings": 7}
    assert pg.execute("SELECT sensor, count(*) FROM readings GROUP BY 1 ORDER BY 1").fetchall() == [("a", 4), ("b", 2), ("c", 1)]


def test_a_row_postgres_refuses_is_rejected_with_its_reason_and_the_rest_loads(readings_db, params_for, pg, tmp_path):
    migrate(params_for(readings_db))
    # the table taken over by the app (no longer marked as the runbook's), which adds a constraint: a
    # table the runbook made would be made again from the plan (test_rerun_changed_schema.py)
    pg.execute("COMMENT ON TABLE readings IS NULL")
    pg.execute("ALTER TABLE readings ADD CONSTRAINT small_values CHECK (value < 100)")
    con = sqlite3.connect(readings_db)
    con.execute("INSERT INTO readings VALUES ('c', 500.0, 1700000120)")
    con.commit()
    con.close()
    again = params_for(readings_db, if_exists="truncate", run_dir=str(tmp_path / "run2"))
    _, loaded, verified = migrate(again)
    assert counts(pg, "readings") == {"readings": 3}
    reasons = [r[0] for r in pg.execute("SELECT reason FROM _sqlite2neon.rejects")]
    assert len(reasons) == 1 and reasons[0].startswith("Postgres refused") and "small_values" in reasons[0]
    check = checks_by_table(verified)["readings"]
    assert (check.source_rows, check.target_rows, check.rejected_rows) == (4, 3, 1) and check.checksum_match
    assert not verified.passed  # fail_on_rejects


def test_truncate_reload_that_fails_keeps_the_earlier_rows(tmp_path, params_for, pg):
    """A failure that is not a reject (here a new table's primary key cannot be built: a key of 8,000
    random characters exceeds a btree entry's 2,704 bytes) rolls the whole replacement back. (Keys that
    are two in SQLite and one in Postgres, 1 and '1' in a text column, are rejects now:
    test_values_keys_and_defaults.py.)"""
    db = make_sqlite(tmp_path / "keys.db", "CREATE TABLE k (code PRIMARY KEY, v INTEGER);",
                     {"k": [("a", 1), ("b", 2)]})
    migrate(params_for(db))
    con = sqlite3.connect(db)
    con.execute("INSERT INTO k VALUES ('c', 3)")
    con.execute("CREATE TABLE k2 (code PRIMARY KEY)")
    con.execute("INSERT INTO k2 VALUES ('1'), (hex(randomblob(4000)))")
    con.commit()
    con.close()
    again = params_for(db, if_exists="truncate", run_dir=str(tmp_path / "run2"), fail_on_rejects=False)
    source.step(again)
    plan.step(again)
    with pytest.raises(TargetError, match="k2_pkey"):
        load.step(again)
    assert counts(pg, "k") == {"k": 2}


def test_embedded_target_replaces_tables_from_an_earlier_run():
    embedded = Target("embedded", "postgresql://postgres@127.0.0.1:5/postgres", "postgresql://postgres@127.0.0.1:5/postgres", "same", "embedded")
    other = Target("postgres", "postgresql://app@db.example/app", "postgresql://app@db.example/app", "same", "parameter")
    assert load.if_exists_for(Params(if_exists="fail"), embedded) == "truncate"
    assert load.if_exists_for(Params(if_exists="fail"), other) == "fail"
    assert load.if_exists_for(Params(if_exists="append"), embedded) == "append"


def test_dry_run_stops_before_the_load(demo_db, params_for, pg):
    params = params_for(demo_db, dry_run=True)
    source.step(params)
    plan.step(params)
    with pytest.raises(RunbookError, match="dry_run"):
        load.step(params)
    assert pg.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0


# --- values that do not fit their declared type -------------------------------------------------

@pytest.fixture
def codes_db(tmp_path) -> Path:
    return make_sqlite(
        tmp_path / "codes.db",
        "CREATE TABLE codes (id INTEGER PRIMARY KEY, code INTEGER, weight REAL);",
        {"codes": [(1, 7, 1.5), (2, "A-17", 0.1), (3, None, None), (4, 123456789012, 1e-300), (5, "n/a", 3)]},
    )


def test_text_in_an_integer_column_loads_through_the_text_path(codes_db, params_for, pg):
    params = params_for(codes_db, column_overrides={"codes.code": {"type": "text"}})
    the_plan, loaded, verified = migrate(params)
    table = the_plan.table("codes")
    assert table.column("code").pg_type == "text" and table.column("code").storage == ["integer", "text"]
    assert loaded.tables[0].rows == 5
    assert pg.execute("SELECT id, code, weight FROM codes ORDER BY id").fetchall() == [
        (1, "7", 1.5), (2, "A-17", 0.1), (3, None, None), (4, "123456789012", 1e-300), (5, "n/a", 3.0)]
    assert verified.passed, verified.to_json()


def test_text_in_an_integer_column_without_an_override_rejects_those_rows(codes_db, params_for, pg):
    params = params_for(codes_db)
    _, loaded, verified = migrate(params)
    assert pg.execute("SELECT id, code FROM codes ORDER BY id").fetchall() == [(1, 7), (3, None), (4, 123456789012)]
    got = pg.execute("SELECT source_key, column_name, original_value, reason FROM _sqlite2neon.rejects ORDER BY 1").fetchall()
    assert [(k, c, v) for k, c, v, _ in got] == [("2", "code", "A-17"), ("5", "code", "n/a")]
    assert all(r.startswith("code: not a whole number") for *_, r in got)
    assert loaded.tables[0].rejected == 2
    assert not verified.passed and "2 row(s) were rejected" in _failure(verified)
    lenient = params_for(codes_db, if_exists="truncate", fail_on_rejects=False, run_dir=str(params.run_dir) + "-2")
    assert migrate(lenient)[2].passed


def _failure(verified) -> str:
    try:
        verified.raise_for_failure()
    except RunbookError as exc:
        return str(exc)
    return ""


# --- values of every kind -----------------------------------------------------------------------

TRICKY_ROWS = [
    # id, label, n, x, flag, at, day, doc, data
    (1, "", 0, 0.0, 0, "2024-03-01 10:00:00", "2024-03-01", '{"b": 1, "a": [1.0, "x"]}', b""),
    (2, None, None, None, None, None, None, None, None),
    (3, 'comma, "quote"\nnew line\r\n\\N', 9223372036854775807, 0.1, 1, "2024-03-01T10:00:00+02:00", "1999-12-31",
     '[]', b"\x00\x01\xff"),
    (4, "naïve 日本 😀 \t tab", -9223372036854775808, -1e300, 1, "2024-02-29 23:59:59.123456", "2024-02-29",
     '{"k": "v\\"q", "é": null}', b"\\x41"),
    (5, "\\", -1, 123456.789, 0, "1970-01-01 00:00:00", "2000-01-01", '"just a string"', b","),
]


TRICKY_SCHEMA = """
    CREATE TABLE things (
        id INTEGER PRIMARY KEY, label TEXT, n INTEGER, x REAL, flag BOOLEAN,
        at DATETIME, day DATE, doc JSON, data BLOB
    );
"""


@pytest.fixture
def tricky_db(tmp_path) -> Path:
    return make_sqlite(tmp_path / "tricky.db", TRICKY_SCHEMA, {"things": TRICKY_ROWS})


@pytest.fixture(scope="module")
def tricky_target(server_url, tmp_path_factory):
    """The tricky rows loaded once, with a copy of the loaded table to restore after each change."""
    home = tmp_path_factory.mktemp("tricky")
    path = make_sqlite(home / "tricky.db", TRICKY_SCHEMA, {"things": TRICKY_ROWS})
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{server_url.rpartition('/')[0]}/{name}"
    params = Params.from_mapping({"sqlite_path": str(path), "database_url": url, "env_file": "",
                                  "run_dir": str(home / "run")})
    _, _, verified = migrate(params)
    assert verified.passed, verified.to_json()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE things_as_loaded AS SELECT * FROM things")
        yield conn, params
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_values_of_every_kind_round_trip(tricky_db, params_for, pg):
    the_plan, _, verified = migrate(params_for(tricky_db))
    types = {c.target: c.pg_type for c in the_plan.table("things").columns}
    assert types == {"id": "bigint", "label": "text", "n": "bigint", "x": "double precision", "flag": "boolean",
                     "at": "timestamptz", "day": "date", "doc": "jsonb", "data": "bytea"}
    assert verified.passed, verified.to_json()
    pg.execute("SET TIME ZONE 'UTC'")
    got = {r[0]: r[1:] for r in pg.execute("SELECT id, label, n, x, flag, at, day, doc, data FROM things")}
    utc = timezone.utc
    assert got[1] == ("", 0, 0.0, False, datetime(2024, 3, 1, 10, tzinfo=utc), date(2024, 3, 1),
                      {"a": [1.0, "x"], "b": 1}, b"")
    assert got[2] == (None,) * 8
    assert got[3] == ('comma, "quote"\nnew line\r\n\\N', 9223372036854775807, 0.1, True,
                      datetime(2024, 3, 1, 8, tzinfo=utc), date(1999, 12, 31), [], b"\x00\x01\xff")
    assert got[4] == ("naïve 日本 😀 \t tab", -9223372036854775808, -1e300, True,
                      datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=utc), date(2024, 2, 29),
                      {"k": 'v"q', "é": None}, b"\\x41")
    assert got[5] == ("\\", -1, 123456.789, False, datetime(1970, 1, 1, tzinfo=utc), date(2000, 1, 1),
                      "just a string", b",")


def test_empty_text_and_null_stay_apart(tricky_db, params_for, pg):
    migrate(params_for(tricky_db))
    assert pg.execute("SELECT id FROM things WHERE label = ''").fetchall() == [(1,)]
    assert pg.execute("SELECT id FROM things WHERE label IS NULL").fetchall() == [(2,)]
    assert pg.execute("SELECT id FROM things WHERE data = ''::bytea").fetchall() == [(1,)]


# --- verification notices differences -----------------------------------------------------------

def test_verification_detects_a_changed_value(demo_db, params_for, pg):
    params = params_for(demo_db)
    _, _, verified = migrate(params)
    assert verified.passed
    pg.execute("UPDATE mental_items SET title = title || '!' WHERE id = (SELECT min(id) FROM mental_items)")
    result = verify.step(params)
    checks = checks_by_table(result)
    assert not result.passed
    assert checks["mental_items"].counts_match is True
    assert checks["mental_items"].checksum_match is False
    assert checks["mental_items"].passed is False
    assert checks["item_events"].passed is True
    with pytest.raises(RunbookError, match="source and target differ: mental_items: 1 row\\(s\\) differ: key .* changed: title"):
        result.raise_for_failure()


def test_verification_detects_a_deleted_row(demo_db, params_for, pg):
    params = params_for(demo_db)
    migrate(params)
    pg.execute("DELETE FROM item_events WHERE id = (SELECT max(id) FROM item_events)")
    checks = checks_by_table(verify.step(params))
    assert checks["item_events"].target_rows == checks["item_events"].source_rows - 1
    assert checks["item_events"].passed is False
    assert checks["mental_items"].passed is True


def test_verification_detects_a_missing_table(demo_db, params_for, pg):
    params = params_for(demo_db)
    migrate(params)
    pg.execute("DROP TABLE item_events")
    result = verify.step(params)
    checks = checks_by_table(result)
    assert checks["item_events"].passed is False
    assert checks["item_events"].target_rows is None
    assert "item_events" in checks["item_events"].problem
    assert checks["mental_items"].passed is True


@pytest.mark.parametrize("change", [
    "UPDATE things SET label = 'comma, \"quote\"' WHERE id = 3",
    "UPDATE things SET n = n - 1 WHERE id = 3",
    "UPDATE things SET x = 0.1000000001 WHERE id = 3",
    "UPDATE things SET flag = false WHERE id = 3",
    "UPDATE things SET at = at + interval '1 microsecond' WHERE id = 3",
    "UPDATE things SET day = day + 1 WHERE id = 3",
    "UPDATE things SET doc = '[null]' WHERE id = 3",
    "UPDATE things SET data = '\\x0001fe' WHERE id = 3",
    "UPDATE things SET label = '' WHERE id = 2",  # NULL and '' differ
    "UPDATE things SET label = NULL WHERE id = 1",
])
def test_verification_detects_a_change_in_any_kind_of_column(tricky_target, change):
    conn, params = tricky_target
    conn.execute(change)
    try:
        assert verify.step(params).passed is False
    finally:
        conn.execute("DELETE FROM things")
        conn.execute("INSERT INTO things SELECT * FROM things_as_loaded")
    assert verify.step(params).passed is True  # restored: the next change starts from a passing state


def test_verification_ignores_row_order(demo_db, params_for, pg):
    params = params_for(demo_db)
    migrate(params)
    # rewrite the table so its physical order changes
    pg.execute("CREATE TEMP TABLE keep AS SELECT * FROM item_events ORDER BY id DESC")
    pg.execute("DELETE FROM item_events")
    pg.execute("INSERT INTO item_events SELECT * FROM keep")
    assert verify.step(params).passed is True


def test_verify_result_survives_its_json_form(demo_target):
    result = demo_target["verify"]
    again = verify.VerifyResult.from_json(result.to_json())
    assert again.passed == result.passed
    assert again.summary_tables() == result.summary_tables()


def test_resolve_target_of_the_test_database_is_a_plain_postgres(params_for, demo_db, pg_url):
    target = resolve_target(params_for(demo_db))
    assert (target.kind, target.direct_url, target.url_source) == ("postgres", pg_url, "parameter")


def test_a_rerun_after_a_failed_table_finishes_with_every_key(tmp_path, params_for, pg):
    """The first table loads (with its key); the second fails (its key cannot be built: a key of 8,000
    random characters exceeds a btree entry's 2,704 bytes) and leaves nothing; the re-run, with the
    cause fixed, loads it and builds the key and foreign key the first run never reached."""
    db = make_sqlite(tmp_path / "shop.db", """
        CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE orders (code PRIMARY KEY, customer_id INTEGER REFERENCES customers (id));
        INSERT INTO orders VALUES (hex(randomblob(4000)), 2);
    """, {"customers": [(1, "ann"), (2, "bo")], "orders": [("1", 1)]})
    params = params_for(db)
    with pytest.raises(RunbookError, match="orders"):
        migrate(params)
    assert counts(pg, "customers") == {"customers": 2}
    assert pg.execute("SELECT to_regclass('public.orders')").fetchone()[0] is None

    con = sqlite3.connect(db)
    con.execute("UPDATE orders SET code = 'two' WHERE length(code) > 100")
    con.commit()
    con.close()
    fixed = params_for(db, if_exists="truncate", run_dir=str(tmp_path / "rerun"))
    _, _, verify_result = migrate(fixed)

    assert verify_result.passed
    constraints = {r[0] for r in pg.execute(
        "SELECT conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace")}
    assert {"customers_pkey", "orders_pkey", "orders_customer_id_fkey"} <= constraints
