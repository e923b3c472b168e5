"""Real-world SQLite schemas arrive whole, or the plan lists exactly what will not, before anything is
written: AUTOINCREMENT's high-water mark, foreign keys to columns without a unique constraint,
virtual tables and their shadow tables, degenerate shapes (empty tables, one row, NULL in every row,
every row rejected), and the run stopping at the plan until each listed loss is accepted."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import psycopg
import pytest

from conftest import first_error_line, migrate, record_of, run_cli, sqlite_file
from sqlite2neon import load, plan, source, verify
from sqlite2neon.errors import LossesNotAccepted


A = """
CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL);
INSERT INTO jobs(name) VALUES ('a'),('b'),('c'),('d'),('e'); DELETE FROM jobs WHERE id IN (4, 5);
CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, msg TEXT);
INSERT INTO audit(msg) VALUES ('x'),('y'),('z'); DELETE FROM audit;
CREATE TABLE never_used (id INTEGER PRIMARY KEY AUTOINCREMENT, msg TEXT);
"""

F = """
CREATE TABLE profile (id INTEGER NOT NULL PRIMARY KEY, user_id INTEGER NOT NULL);
CREATE TABLE follows (follower INTEGER REFERENCES profile (user_id), followed INTEGER REFERENCES profile (user_id));
INSERT INTO profile VALUES (1, 100), (2, 200); INSERT INTO follows VALUES (100, 200), (200, 100);
"""

G = """
CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT);
CREATE VIRTUAL TABLE notes_fts USING fts5(title, body, content='notes', content_rowid='id');
CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN
  INSERT INTO notes_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END;
INSERT INTO notes VALUES (1, 'groceries', 'milk and eggs'), (2, 'ideas', NULL);
"""


def _next_id(pg, table: str) -> int:
    return pg.execute(f"INSERT INTO {table} DEFAULT VALUES RETURNING id").fetchone()[0] if table != "jobs" else \
        pg.execute("INSERT INTO jobs (name) VALUES ('next') RETURNING id").fetchone()[0]


def test_a_autoincrement_continues_after_sqlite_sequence_empty_tables_included(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "a.db", A)
    the_plan, loaded, verified = migrate(params_for(db))

    assert verified.passed, verified.to_json()
    assert the_plan.losses == []
    assert {t.target: t.rows for t in loaded.tables} == {"jobs": 3, "audit": 0, "never_used": 0}
    assert {t: _next_id(pg, t) for t in ("jobs", "audit", "never_used")} == {"jobs": 6, "audit": 4, "never_used": 1}


def test_f_a_foreign_key_to_a_column_without_a_unique_constraint_is_decided_at_the_plan(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "f.db", F)
    params = params_for(db)
    source.step(params)
    the_plan = plan.step(params)

    assert sorted(x.item for x in the_plan.losses) == ["foreign_key:follows(followed)", "foreign_key:follows(follower)"]
    assert all("neither a primary key nor unique" in x.reason for x in the_plan.losses)
    with pytest.raises(LossesNotAccepted):
        load.step(params)
    assert pg.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0

    # accepted: the data loads, without the keys, and nothing fails after the data
    _, loaded, verified = migrate(params_for(db, accept_losses=["foreign_key:*"], run_dir=str(tmp_path / "accepted")))
    assert verified.passed and loaded.not_created == []
    assert pg.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f'").fetchone()[0] == 0


def test_f_with_foreign_key_unique_the_parent_gets_a_unique_constraint(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "f.db", F)
    the_plan, _, verified = migrate(params_for(db, foreign_key_unique=True))

    assert the_plan.losses == [] and verified.passed
    assert pg.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f'").fetchone()[0] == 2
    with pytest.raises(psycopg.errors.UniqueViolation):
        pg.execute("INSERT INTO profile VALUES (3, 100)")


def test_f_duplicated_parent_data_stays_a_loss_even_when_asked(tmp_path, params_for):
    db = sqlite_file(tmp_path / "f.db", F + "INSERT INTO profile VALUES (3, 100);")
    params = params_for(db, foreign_key_unique=True)
    source.step(params)
    losses = plan.step(params).losses
    assert len(losses) == 2 and "1 row(s) of profile repeat a value" in losses[0].reason


def test_g_fts5_and_its_shadow_tables_are_not_copied_and_are_listed(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "g.db", G)
    params = params_for(db, accept_losses=["virtual_table:notes_fts", "trigger:notes_ai"])
    the_plan, loaded, verified = migrate(params)

    assert [t.target for t in the_plan.tables] == ["notes"]
    assert [x.item for x in the_plan.losses] == ["virtual_table:notes_fts", "trigger:notes_ai"]
    fts = the_plan.losses[0]
    assert "fts5" in fts.reason and "notes_fts_data" in fts.reason and "tsvector" in fts.instead
    assert verified.passed
    tables = {r[0] for r in pg.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert tables == {"notes"}
    assert pg.execute("SELECT count(*) FROM notes").fetchone()[0] == 2


@pytest.mark.slow
def test_an_untranslatable_view_and_a_trigger_stop_at_the_plan_then_pass_once_accepted(project, tmp_path, pg_url, pg):
    db = sqlite_file(tmp_path / "v.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);
        INSERT INTO t VALUES (1, 'a'), (2, 'b');
        CREATE VIEW odd AS SELECT id, printf('%05d', id) AS padded FROM t;
        CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN SELECT 1; END;
    """)
    args = ["run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(db), "-p", "database_url", pg_url]

    stopped = run_cli(*args)

    assert stopped.exit_code == 1
    first = first_error_line(stopped.stderr)
    assert "02_plan_schema failed" in first and "2 thing(s) would not arrive" in first
    assert "view:odd" in first and "trigger:t_ins" in first, first
    assert pg.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0
    summary = json.loads((record_of(stopped) / "summary.json").read_text())
    assert [(x["kind"], x["name"], x["accepted"]) for x in summary["losses"]] == [
        ("view", "odd", False), ("trigger", "t_ins", False)]
    report = (record_of(stopped) / "report.html").read_text()
    assert report.index("Listed losses") < report.index("<h2>Tables</h2>")

    passed = run_cli(*args, "-p", "accept_losses", "view:odd,trigger:*")

    assert passed.exit_code == 0, passed.stderr
    assert "accepted losses (2)" in passed.stdout and "view:odd" in passed.stdout
    summary = json.loads((record_of(passed) / "summary.json").read_text())
    assert all(x["accepted"] for x in summary["losses"]) and len(summary["losses"]) == 2
    assert pg.execute("SELECT count(*) FROM t").fetchone()[0] == 2


# --- degenerate shapes --------------------------------------------------------------------------

DEGENERATE = """
CREATE TABLE empty_one (id INTEGER PRIMARY KEY, at TIMESTAMP, tags JSON, n REAL, b BLOB);
CREATE TABLE one_row (id TEXT PRIMARY KEY, at DATETIME, v NUMERIC(10,2));
INSERT INTO one_row VALUES ('only', '2024-05-01 10:00:00', 12.5);
CREATE TABLE all_null (id INTEGER PRIMARY KEY, at TIMESTAMP, d DATE, j JSON, flag BOOLEAN, x);
INSERT INTO all_null (id) VALUES (1), (2), (3);
CREATE TABLE keyless_empty (a TEXT, b INTEGER);
"""


@pytest.mark.parametrize("shape", ["mixed", "all_empty"])
def test_degenerate_shapes_plan_load_verify_and_report(tmp_path, params_for, pg, shape):
    script = DEGENERATE if shape == "mixed" else "CREATE TABLE a (id INTEGER PRIMARY KEY, at TIMESTAMP);\n" \
                                                 "CREATE TABLE b (k TEXT, v JSON);"
    db = sqlite_file(tmp_path / f"{shape}.db", script)
    the_plan, loaded, verified = migrate(params_for(db))

    assert verified.passed, verified.to_json()
    expected = {t.source: t.rows for t in the_plan.tables}
    assert {t.target: (t.source_rows, t.target_rows) for t in verified.tables} == {
        k: (v, v) for k, v in expected.items()}
    for t in verified.tables:
        assert pg.execute(f'SELECT count(*) FROM "{t.target}"').fetchone()[0] == expected[t.source]


def test_a_table_every_row_of_which_is_rejected_is_accounted_for(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "r.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, payload JSON);
        INSERT INTO t VALUES (1, '{not json'), (2, '[unclosed');
    """)
    params = params_for(db, column_overrides={"t.payload": {"type": "jsonb", "convert": "json"}},
                        fail_on_rejects=False)
    _, loaded, verified = migrate(params)

    assert loaded.tables[0].rows == 0 and loaded.tables[0].rejected == 2
    check = verified.tables[0]
    assert (check.source_rows, check.target_rows, check.rejected_rows) == (2, 0, 2)
    assert verified.passed, verified.to_json()


@pytest.mark.slow
def test_degenerate_shapes_through_the_cli_with_charts_report_and_cutover(project, tmp_path, pg_url):
    db = sqlite_file(tmp_path / "d.db", DEGENERATE)
    args = ["-f", "params/demo.yaml", "-p", "sqlite_path", str(db), "-p", "database_url", pg_url]

    migrated = run_cli("run", *args)
    verified = run_cli("verify", *args)
    cut_over = run_cli("cutover", *args)

    for result in (migrated, verified, cut_over):
        assert result.exit_code == 0, result.stdout + result.stderr
        summary = json.loads((record_of(result) / "summary.json").read_text())
        assert {t["target"]: t["target_rows"] for t in summary["tables"]} == {
            "empty_one": 0, "one_row": 1, "all_null": 3, "keyless_empty": 0}
        assert (record_of(result) / "report.html").exists()


@pytest.mark.parametrize("parent", [
    "CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT UNIQUE)",
    "CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT); CREATE UNIQUE INDEX p_code ON p (code)",
    "CREATE TABLE p (code TEXT PRIMARY KEY, n INTEGER)",
])
def test_a_foreign_key_to_a_unique_or_primary_key_column_is_no_loss(tmp_path, params_for, pg, parent):
    db = sqlite_file(tmp_path / "k.db", parent + "; CREATE TABLE c (id INTEGER PRIMARY KEY, code TEXT REFERENCES p (code));"
                     "INSERT INTO p (code) VALUES ('a'); INSERT INTO c (code) VALUES ('a');")
    the_plan, _, verified = migrate(params_for(db))
    assert the_plan.losses == [] and verified.passed
    assert pg.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f'").fetchone()[0] == 1


def test_g_with_full_text_tsvector_the_content_table_gets_a_searchable_column(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "g.db", G)
    params = params_for(db, full_text="tsvector", accept_losses=["virtual_table:notes_fts", "trigger:notes_ai"])
    the_plan, _, verified = migrate(params)

    assert verified.passed, verified.to_json()
    assert "tsvector column notes.notes_fts" in the_plan.losses[0].reason
    found = pg.execute("SELECT id FROM notes WHERE notes_fts @@ to_tsquery('simple', 'eggs')").fetchall()
    assert found == [(1,)]
    assert pg.execute("SELECT count(*) FROM pg_indexes WHERE indexdef ILIKE '%USING gin (notes_fts)%'").fetchone()[0] == 1
    # a row the app adds later is searchable too: Postgres computes the column
    pg.execute("INSERT INTO notes (id, title, body) VALUES (3, 'recipes', 'bread flour')")
    assert pg.execute("SELECT id FROM notes WHERE notes_fts @@ to_tsquery('simple', 'flour')").fetchall() == [(3,)]


# --- found by an attack on this work: each fixed with its kind -----------------------------------

def test_a_nocase_key_whose_case_changed_in_sqlite_is_carried_over_not_deleted(tmp_path, params_for, pg):
    from sqlite2neon import cutover
    from sqlite2neon.connect import resolve_target

    db = sqlite_file(tmp_path / "u.db", """
        CREATE TABLE u (name TEXT COLLATE NOCASE PRIMARY KEY, v INTEGER);
        INSERT INTO u VALUES ('Alice', 1), ('Bob', 2);""")
    params = params_for(db)
    the_plan, _, verified = migrate(params)
    assert verified.passed
    con = sqlite3.connect(db)
    con.execute("UPDATE u SET name = 'ALICE', v = 10 WHERE name = 'Alice'")
    con.commit()
    con.close()

    cutover.catch_up(the_plan, resolve_target(params), params, source_path=db, run="recase")

    assert sorted(pg.execute("SELECT name::text, v FROM u").fetchall()) == [("ALICE", 10), ("Bob", 2)]
    assert verify.step(params).passed


def test_a_text_reference_to_a_nocase_key_is_a_foreign_key_under_the_same_rules(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "fk.db", """
        CREATE TABLE u (name TEXT COLLATE NOCASE PRIMARY KEY);
        CREATE TABLE ch (id INTEGER PRIMARY KEY, uname TEXT REFERENCES u (name));
        INSERT INTO u VALUES ('Alice'); INSERT INTO ch VALUES (1, 'Alice');""")
    the_plan, loaded, verified = migrate(params_for(db))
    assert verified.passed and loaded.not_created == []
    assert the_plan.table("ch").column("uname").pg_type == "citext"
    assert pg.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f'").fetchone()[0] == 1


def test_a_column_named_like_a_system_column_stops_the_plan(tmp_path, params_for, pg):
    from sqlite2neon.errors import ConfigError

    db = sqlite_file(tmp_path / "sys.db", "CREATE TABLE ok (id INTEGER PRIMARY KEY);"
                                          "CREATE TABLE sys (id INTEGER PRIMARY KEY, xmin INTEGER);")
    params = params_for(db)
    source.step(params)
    with pytest.raises(ConfigError, match=r"sys\.xmin has the name of a PostgreSQL system column"):
        plan.step(params)
    assert pg.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0


def test_an_fts_table_with_its_own_rows_says_they_are_lost(tmp_path, params_for):
    db = sqlite_file(tmp_path / "own.db", """
        CREATE TABLE keep (id INTEGER PRIMARY KEY);
        CREATE VIRTUAL TABLE docs USING fts5(body);
        INSERT INTO docs VALUES ('only copy');""")
    params = params_for(db)
    source.step(params)
    loss = plan.step(params).losses[0]
    assert loss.item == "virtual_table:docs" and "ROWS ARE LOST" in loss.reason
