"""Every CREATE TABLE SQLite accepts arrives with its CHECKs, generated columns, UNIQUEs, DEFAULTs and
foreign keys (issue 12): type names of any words (https://www.sqlite.org/datatype3.html section 3.1),
ON CONFLICT clauses, COLLATE, signed DEFAULTs, AUTOINCREMENT, WITHOUT ROWID, STRICT, quoted names,
comments inside the statement, named constraints and table constraints
(https://sqlite.org/lang_createtable.html). Each spelling is a real SQLite file run through the steps
(inspect, plan, load, verify) into a real Postgres, which must then refuse what SQLite refuses and
compute what SQLite computes. What cannot be carried is a listed loss that stops the run.

Also JSON text that jsonb cannot hold (the escape \\u0000, a surrogate escape without its pair): valid
JSON, so the column becomes json, which keeps the text (PostgreSQL docs 8.14 "JSON Types")."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from conftest import migrate, record_of, run_cli, sqlite_file
from sqlite2neon.config import Params
from sqlite2neon.errors import LossesNotAccepted
from sqlite2neon.plan import plan_schema
from sqlite2neon.source import inspect_source, json_jsonb_cannot_hold

# case C of the issue, as given: `sqlite3 c.db < C.sql`
CASE_C = """CREATE TABLE orders (id INTEGER PRIMARY KEY, qty UNSIGNED BIG INT NOT NULL CHECK (qty > 0), price REAL CHECK (price >= 0), total REAL GENERATED ALWAYS AS (qty * price) STORED);
INSERT INTO orders(qty, price) VALUES (2, 1.5), (3, 2.0);
CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT UNIQUE ON CONFLICT REPLACE CHECK (length(name) <= 5), lname TEXT AS (lower(name)) STORED);
INSERT INTO tags(name) VALUES ('Ab'), ('cD');
"""


@dataclass
class Spelling:
    """A CREATE TABLE spelling: its script (DDL and rows), INSERTs both sides must refuse for a CHECK
    (`refused`: SQLite's and Postgres' spelling of one INSERT), INSERTs both accept (`accepted`), the
    number of CHECKs Postgres must hold, and queries whose rows must be equal on both sides afterwards
    (`same`: generated columns and defaults included; not ids a refused INSERT took from a Postgres
    sequence, which SQLite hands out again)."""

    script: str
    refused: list[tuple[str, str]] = field(default_factory=list)
    accepted: list[tuple[str, str]] = field(default_factory=list)
    checks: int = 0
    same: list[tuple[str, str]] = field(default_factory=list)
    table: str = "t"
    generated: list[str] = field(default_factory=list)  # target columns Postgres must generate


def both(statement: str) -> tuple[str, str]:
    return statement, statement


SPELLINGS = {
    "case_c_orders": Spelling(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, qty UNSIGNED BIG INT NOT NULL CHECK (qty > 0), "
        "price REAL CHECK (price >= 0), total REAL GENERATED ALWAYS AS (qty * price) STORED);"
        "INSERT INTO orders(qty, price) VALUES (2, 1.5), (3, 2.0);",
        refused=[both("INSERT INTO orders(qty, price) VALUES (0, 1)"),
                 both("INSERT INTO orders(qty, price) VALUES (1, -0.5)")],
        accepted=[both("INSERT INTO orders(qty, price) VALUES (4, 0.25)")],
        checks=2, table="orders", generated=["total"],
        same=[both("SELECT qty, price, total FROM orders ORDER BY qty")]),
    "case_c_tags": Spelling(
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT UNIQUE ON CONFLICT REPLACE "
        "CHECK (length(name) <= 5), lname TEXT AS (lower(name)) STORED);"
        "INSERT INTO tags(name) VALUES ('Ab'), ('cD');",
        refused=[both("INSERT INTO tags(name) VALUES ('toolong')")],
        accepted=[both("INSERT INTO tags(name) VALUES ('XyZ')")],
        checks=1, table="tags", generated=["lname"],
        same=[both("SELECT name, lname FROM tags ORDER BY lname")]),
    "varying_character": Spelling(
        "CREATE TABLE t (x VARYING CHARACTER(255) CHECK (length(x) <= 3)); INSERT INTO t VALUES ('abc');",
        refused=[both("INSERT INTO t VALUES ('abcd')")], accepted=[both("INSERT INTO t VALUES ('ab')")], checks=1),
    "native_character": Spelling(
        "CREATE TABLE t (x NATIVE CHARACTER(70) NOT NULL CHECK (x <> '')); INSERT INTO t VALUES ('a');",
        refused=[both("INSERT INTO t VALUES ('')")], accepted=[both("INSERT INTO t VALUES ('b')")], checks=1),
    "double_precision": Spelling(
        "CREATE TABLE t (x DOUBLE PRECISION CHECK (x >= 0)); INSERT INTO t VALUES (1.5);",
        refused=[both("INSERT INTO t VALUES (-1.5)")], accepted=[both("INSERT INTO t VALUES (2.5)")], checks=1),
    "unsigned_big_int_and_big_int": Spelling(
        "CREATE TABLE t (x UNSIGNED BIG INT CHECK (x > 0), y BIG INT CHECK (y < 100), z LONG VARCHAR "
        "CHECK (z <> 'no')); INSERT INTO t VALUES (1, 2, 'a');",
        refused=[both("INSERT INTO t VALUES (0, 1, 'a')"), both("INSERT INTO t VALUES (1, 100, 'a')"),
                 both("INSERT INTO t VALUES (1, 1, 'no')")],
        accepted=[both("INSERT INTO t VALUES (5, 5, 'b')")], checks=3),
    "int2_int8": Spelling(
        "CREATE TABLE t (x INT2 CHECK (x BETWEEN 0 AND 9), y INT8 CHECK (y <> 7)); INSERT INTO t VALUES (1, 1);",
        refused=[both("INSERT INTO t VALUES (10, 1)"), both("INSERT INTO t VALUES (1, 7)")],
        accepted=[both("INSERT INTO t VALUES (9, 8)")], checks=2),
    "character_nvarchar_varchar": Spelling(
        "CREATE TABLE t (a CHARACTER(20) CHECK (a <> 'x'), b NVARCHAR(100) CHECK (length(b) > 1), "
        "c VARCHAR(255) CHECK (c IN ('p', 'q'))); INSERT INTO t VALUES ('a', 'bb', 'p');",
        refused=[both("INSERT INTO t VALUES ('x', 'bb', 'p')"), both("INSERT INTO t VALUES ('a', 'b', 'p')"),
                 both("INSERT INTO t VALUES ('a', 'bb', 'r')")],
        accepted=[both("INSERT INTO t VALUES ('y', 'cc', 'q')")], checks=3),
    "no_type": Spelling(
        "CREATE TABLE t (x CHECK (x > 0), y); INSERT INTO t VALUES (1, 'a');",
        refused=[both("INSERT INTO t VALUES (0, 'a')")], accepted=[both("INSERT INTO t VALUES (2, 'b')")], checks=1),
    "on_conflict_clauses": Spelling(
        "CREATE TABLE t (id INTEGER PRIMARY KEY ON CONFLICT ROLLBACK, n TEXT NOT NULL ON CONFLICT IGNORE "
        "CHECK (n <> ''), u TEXT UNIQUE ON CONFLICT FAIL, v INTEGER, CHECK (v >= 0) ON CONFLICT ABORT, "
        "UNIQUE (n, v) ON CONFLICT REPLACE); INSERT INTO t VALUES (1, 'a', 'u1', 1);",
        refused=[both("INSERT INTO t VALUES (2, '', 'u2', 1)"), both("INSERT INTO t VALUES (2, 'b', 'u2', -1)")],
        accepted=[both("INSERT INTO t VALUES (2, 'b', 'u2', 2)")], checks=2),
    "collate_nocase": Spelling(
        "CREATE TABLE t (x TEXT COLLATE NOCASE CHECK (x <> 'no')); INSERT INTO t VALUES ('yes');",
        refused=[both("INSERT INTO t VALUES ('NO')"), both("INSERT INTO t VALUES ('no')")],
        accepted=[both("INSERT INTO t VALUES ('nope')")], checks=1),
    "signed_defaults": Spelling(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER DEFAULT -1 CHECK (x < 5), y REAL DEFAULT +2.5 "
        "CHECK (y > -10.5), z INTEGER DEFAULT - 3); INSERT INTO t(id) VALUES (1);",
        refused=[both("INSERT INTO t(id, x) VALUES (2, 5)"), both("INSERT INTO t(id, y) VALUES (2, -11)")],
        accepted=[both("INSERT INTO t(id) VALUES (2)")], checks=2,
        same=[both("SELECT id, x, y, z FROM t ORDER BY id")]),
    "autoincrement": Spelling(
        "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, y INTEGER CHECK (y > 0)); INSERT INTO t(y) VALUES (1);",
        refused=[both("INSERT INTO t(y) VALUES (0)")], accepted=[both("INSERT INTO t(y) VALUES (3)")], checks=1,
        same=[both("SELECT y FROM t ORDER BY y")]),
    "without_rowid": Spelling(
        "CREATE TABLE t (k TEXT PRIMARY KEY, y INTEGER CHECK (y > 0)) WITHOUT ROWID; INSERT INTO t VALUES ('a', 1);",
        refused=[both("INSERT INTO t VALUES ('b', 0)")], accepted=[both("INSERT INTO t VALUES ('c', 2)")], checks=1),
    "strict": Spelling(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, y INT CHECK (y > 0), z TEXT AS (y || '!') STORED) STRICT;"
        "INSERT INTO t(y) VALUES (1);",
        refused=[both("INSERT INTO t(y) VALUES (0)")], accepted=[both("INSERT INTO t(y) VALUES (2)")], checks=1,
        generated=["z"], same=[both("SELECT y, z FROM t ORDER BY y")]),
    "strict_without_rowid": Spelling(
        "CREATE TABLE t (k INTEGER PRIMARY KEY, y INT CHECK (y > 0)) STRICT, WITHOUT ROWID; INSERT INTO t VALUES (1, 1);",
        refused=[both("INSERT INTO t VALUES (2, 0)")], accepted=[both("INSERT INTO t VALUES (3, 2)")], checks=1),
    "brackets_and_backticks": Spelling(
        "CREATE TABLE [t] ([my x] INTEGER CHECK ([my x] > 0), `y y` INT CHECK (`y y` > [my x]), "
        "\"z\" TEXT GENERATED ALWAYS AS ([my x] + `y y`) VIRTUAL); INSERT INTO t VALUES (1, 2);",
        refused=[("INSERT INTO t VALUES (0, 2)", 'INSERT INTO t ("my x", "y y") VALUES (0, 2)'),
                 ("INSERT INTO t VALUES (3, 2)", 'INSERT INTO t ("my x", "y y") VALUES (3, 2)')],
        accepted=[("INSERT INTO t VALUES (3, 4)", 'INSERT INTO t ("my x", "y y") VALUES (3, 4)')], checks=2,
        generated=["z"], same=[("SELECT [my x], `y y`, z FROM t ORDER BY 1", 'SELECT "my x", "y y", z FROM t ORDER BY 1')]),
    "comments": Spelling(
        "CREATE TABLE t (x INTEGER -- a comment with CHECK (x < 0) and a ( in it\n"
        "  CHECK (x > 0 /* not ) closed */ AND x < 100), /* CHECK (1 = 0), */ y INT -- the last\n"
        ", z INT AS (x -- times\n * 2) STORED); INSERT INTO t(x, y) VALUES (1, 1);",
        refused=[both("INSERT INTO t(x, y) VALUES (0, 1)"), both("INSERT INTO t(x, y) VALUES (100, 1)")],
        accepted=[both("INSERT INTO t(x, y) VALUES (5, 1)")], checks=1, generated=["z"],
        same=[both("SELECT x, y, z FROM t ORDER BY x")]),
    "named_constraints": Spelling(
        "CREATE TABLE t (x INTEGER CONSTRAINT pos CHECK (x > 0) CONSTRAINT small CHECK (x < 10), y INTEGER, "
        "CONSTRAINT ordered CHECK (x < y) CONSTRAINT nonzero CHECK (y <> 0)); INSERT INTO t VALUES (1, 2);",
        refused=[both("INSERT INTO t VALUES (0, 2)"), both("INSERT INTO t VALUES (10, 20)"),
                 both("INSERT INTO t VALUES (3, 2)")],
        accepted=[both("INSERT INTO t VALUES (2, 3)")], checks=4),
    "table_constraints": Spelling(
        "CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT UNIQUE);"
        "CREATE TABLE t (id INTEGER, pid INTEGER, pcode TEXT, a INT, b INT,"
        "  PRIMARY KEY (id), UNIQUE (a, b), CHECK (a < b),"
        "  FOREIGN KEY (pid) REFERENCES p(id) ON DELETE CASCADE ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED,"
        "  CONSTRAINT by_code FOREIGN KEY (pcode) REFERENCES p(code) ON DELETE SET NULL);"
        "INSERT INTO p VALUES (1, 'one'), (2, 'two'); INSERT INTO t VALUES (1, 1, 'one', 1, 2);",
        refused=[both("INSERT INTO t VALUES (2, 1, 'one', 3, 2)")],
        accepted=[both("INSERT INTO t VALUES (2, 2, 'two', 3, 4)")], checks=1),
    "quoted_type_and_generated_words": Spelling(
        "CREATE TABLE t (x \"weird type\", generated GENERATED, always INT CHECK (always > 0), y INTEGER DEFAULT (1 + 2) "
        "CHECK (y > 0) NOT NULL, w INTEGER GENERATED ALWAYS AS (y * 10)); INSERT INTO t(x, generated) VALUES (1, 5);",
        refused=[both("INSERT INTO t(x, always) VALUES (1, -5)"), both("INSERT INTO t(x, y) VALUES (1, 0)")],
        accepted=[both("INSERT INTO t(x, generated) VALUES (2, 6)")], checks=2, generated=["w"],
        same=[both("SELECT y, w FROM t ORDER BY y")]),
}


def pg_checks(pg, table: str) -> list[str]:
    return [r[0] for r in pg.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c' AND conrelid = %s::regclass",
        [table])]


def sqlite_refuses(db: Path, statement: str) -> None:
    con = sqlite3.connect(db)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
            con.execute(statement)
    finally:
        con.rollback()
        con.close()


def sqlite_query(db: Path, query: str, commit: bool = False) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        rows = con.execute(query).fetchall()
        if commit:
            con.commit()
        return rows
    finally:
        con.close()


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=list(SPELLINGS))
def test_a_spelling_arrives_with_its_checks_generated_columns_and_keys(spelling, tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "s.db", spelling.script)
    the_plan, loaded, verified = migrate(params_for(db))
    assert [x.item for x in the_plan.losses] == [] and verified.passed, verified.to_json()
    assert loaded.not_created == []
    assert len(pg_checks(pg, spelling.table)) == spelling.checks, pg_checks(pg, spelling.table)
    for generated in spelling.generated:
        assert pg.execute("SELECT attgenerated FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
                          [spelling.table, generated]).fetchone()[0] in ("s", "v")
    for in_sqlite, in_pg in spelling.refused:
        sqlite_refuses(db, in_sqlite)
        with pytest.raises(psycopg.errors.CheckViolation):
            pg.execute(in_pg)
    for in_sqlite, in_pg in spelling.accepted:
        sqlite_query(db, in_sqlite, commit=True)
        pg.execute(in_pg)
    for in_sqlite, in_pg in spelling.same:
        assert pg.execute(in_pg).fetchall() == sqlite_query(db, in_sqlite)


def test_unique_keys_and_foreign_keys_of_table_constraints_arrive(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "s.db", SPELLINGS["table_constraints"].script)
    migrate(params_for(db))
    keys = dict(pg.execute("SELECT contype::text || ':' || pg_get_constraintdef(oid), confdeltype FROM pg_constraint "
                           "WHERE conrelid = 't'::regclass AND contype IN ('u', 'f', 'p')").fetchall())
    assert keys.get("f:FOREIGN KEY (pid) REFERENCES p(id) ON UPDATE CASCADE ON DELETE CASCADE") == "c", keys
    assert keys.get("f:FOREIGN KEY (pcode) REFERENCES p(code) ON DELETE SET NULL") == "n", keys
    assert "p:PRIMARY KEY (id)" in keys
    unique = pg.execute("SELECT count(*) FROM pg_index WHERE indrelid = 't'::regclass AND indisunique "
                        "AND NOT indisprimary").fetchone()[0]
    assert unique == 1
    with pytest.raises(psycopg.errors.UniqueViolation):
        pg.execute("INSERT INTO t VALUES (9, 1, 'one', 1, 2)")
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        pg.execute("INSERT INTO t VALUES (9, 3, 'one', 5, 6)")
    pg.execute("DELETE FROM p WHERE id = 1")  # ON DELETE CASCADE, as in SQLite
    assert pg.execute("SELECT id FROM t ORDER BY id").fetchall() == []


def test_conflict_clauses_are_noted_and_the_unique_constraint_stays(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "s.db", SPELLINGS["case_c_tags"].script)
    the_plan, _, _ = migrate(params_for(db))
    notes = the_plan.table("tags").notes
    assert any(n.startswith("UNIQUE ON CONFLICT REPLACE (column name): Postgres constraints have no conflict "
                            "clause") for n in notes), notes
    with pytest.raises(psycopg.errors.UniqueViolation):  # SQLite would replace the row; Postgres refuses it
        pg.execute("INSERT INTO tags(name) VALUES ('Ab')")
    profile = inspect_source(sqlite_file(tmp_path / "o.db", SPELLINGS["on_conflict_clauses"].script))
    assert profile.table("t").conflict_clauses == [
        "PRIMARY KEY ON CONFLICT ROLLBACK (column id)", "NOT NULL ON CONFLICT IGNORE (column n)",
        "UNIQUE ON CONFLICT FAIL (column u)", "UNIQUE ON CONFLICT REPLACE (table constraint)"]


def test_check_and_generated_expressions_are_read_as_sqlite_wrote_them(tmp_path):
    profile = inspect_source(sqlite_file(tmp_path / "s.db", SPELLINGS["comments"].script
                                         + SPELLINGS["brackets_and_backticks"].script.replace("[t]", "[u]")
                                         .replace("INTO t", "INTO u")))
    t, u = profile.table("t"), profile.table("u")
    assert t.checks == ["x > 0 AND x < 100"] and t.column("z").generated == "x * 2"
    assert u.checks == ["[my x] > 0", "`y y` > [my x]"] and u.column("z").generated == "[my x] + `y y`"
    assert [c.generated for c in t.columns] == [None, None, "x * 2"] and t.unread == ""


def test_an_untranslatable_check_or_generated_column_is_a_listed_loss_that_stops_the_run(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "s.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, code TEXT, label TEXT AS (printf('%05d', id)) STORED,
          CHECK (code GLOB '[a-z]*') ON CONFLICT FAIL);
        INSERT INTO t(code) VALUES ('abc');""")
    with pytest.raises(LossesNotAccepted, match=r"check:t: code GLOB '\[a-z\]\*'.*generated:t\.label"):
        migrate(params_for(db))
    assert pg.execute("SELECT count(*) FROM pg_tables WHERE tablename = 't'").fetchone()[0] == 0
    the_plan, _, verified = migrate(params_for(db, accept_losses="check:t: code GLOB '[a-z]*',generated:t.label"))
    assert verified.passed and {x.item for x in the_plan.losses if x.accepted} == {
        "check:t: code GLOB '[a-z]*'", "generated:t.label"}


def test_a_definition_that_cannot_be_read_is_a_listed_loss(tmp_path):
    profile = inspect_source(sqlite_file(tmp_path / "s.db", SPELLINGS["case_c_orders"].script))
    table = profile.table("orders")
    table.checks, table.column("total").generated = [], None
    table.unread = "the expression of generated column total was not found"  # as _read_definition says it
    losses = {x.item: x.reason for x in plan_schema(profile, Params()).losses}
    assert losses == {"check:orders": "its CREATE TABLE statement could not be read (the expression of generated "
                                      "column total was not found): its CHECK constraints and generated columns "
                                      "would not arrive"}


def test_case_c_whole_runbook_passes_with_the_objects_present(project, tmp_path, pg_url, pg):
    db = sqlite_file(tmp_path / "c.db", CASE_C)
    result = run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(db), "-p", "database_url", pg_url)
    assert result.exit_code == 0, result.stderr
    assert json.loads((record_of(result) / "summary.json").read_text())["status"] == "passed"
    assert sorted(pg_checks(pg, "orders")) == ["CHECK ((price >= (0)::double precision))", "CHECK ((qty > 0))"]
    assert pg_checks(pg, "tags") == ["CHECK ((length(name) <= 5))"]
    assert pg.execute("SELECT total FROM orders ORDER BY id").fetchall() == [(3.0,), (6.0,)]
    assert pg.execute("SELECT lname FROM tags ORDER BY id").fetchall() == [("ab",), ("cd",)]


# --- JSON that jsonb cannot hold --------------------------------------------------------------------------

JSON_TEXTS = {
    1: '{"k": "\\u0000"}',  # case JS row 13: valid JSON, jsonb refuses the escape
    2: '{"s": "\\ud800"}',  # a surrogate escape without its pair: JSON, not for jsonb
    3: '{"k": "\\\\u0000"}',  # an escaped backslash: six characters of text, which jsonb holds
    4: '{"e": "\\ud83d\\ude00", "\\u0000": [1, "\\u0000"]}',
    5: '{"a": 1}',
}


def test_json_jsonb_cannot_hold_is_json_and_keeps_its_text(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "j.db", "CREATE TABLE docs (id INTEGER PRIMARY KEY, body JSON, plain JSON);"
                     + "".join(f"INSERT INTO docs VALUES ({k}, '{v}', '[{k}]');" for k, v in JSON_TEXTS.items()))
    the_plan, loaded, verified = migrate(params_for(db))
    assert verified.passed and loaded.tables[0].rejected == 0, verified.to_json()
    body, plain = the_plan.table("docs").column("body"), the_plan.table("docs").column("plain")
    assert (body.pg_type, plain.pg_type) == ("json", "jsonb")
    assert any("3 value(s) hold the escape \\u0000 or a surrogate escape without its pair" in n for n in body.notes)
    assert dict(pg.execute("SELECT id, body::text FROM docs").fetchall()) == JSON_TEXTS
    assert [json_jsonb_cannot_hold(v) for v in JSON_TEXTS.values()] == [True, True, False, True, False]


def test_json_jsonb_cannot_hold_in_a_jsonb_column_is_rejected_with_the_reason(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "j.db", "CREATE TABLE docs (id INTEGER PRIMARY KEY, body JSON);"
                     + "".join(f"INSERT INTO docs VALUES ({k}, '{v}');" for k, v in JSON_TEXTS.items()))
    params = params_for(db, column_overrides={"docs.body": {"type": "jsonb"}}, fail_on_rejects=False)
    migrate(params)
    reasons = dict(pg.execute("SELECT source_key, reason FROM _sqlite2neon.rejects").fetchall())
    why = "body: JSON holding the escape \\u0000 or a surrogate escape without its pair, which jsonb cannot hold"
    assert reasons == {"1": why, "2": why, "4": why}
    assert dict(pg.execute("SELECT id, body::text FROM docs").fetchall()) == {3: '{"k": "\\\\u0000"}', 5: '{"a": 1}'}


# --- a CHECK over rows that break it, and a CHECK that did not arrive ----------------------------------------

def test_a_check_the_sqlite_rows_break_is_a_listed_loss_not_a_note(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "s.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, qty INTEGER CHECK (qty > 0), price REAL CHECK (price >= 0));
        PRAGMA ignore_check_constraints = ON;
        INSERT INTO t(qty, price) VALUES (1, 1.0), (-1, 2.0), (-2, NULL);""")
    item = "check:t: qty > 0"
    with pytest.raises(LossesNotAccepted, match="2 row\\(s\\) in SQLite break this CHECK"):
        migrate(params_for(db))
    the_plan, loaded, verified = migrate(params_for(db, accept_losses=item))
    assert [x.item for x in the_plan.losses] == [item] and loaded.not_created == [] and verified.passed
    assert pg_checks(pg, "t") == ["CHECK ((price >= (0)::double precision))"]


def test_verify_fails_when_a_planned_check_is_not_in_the_target(tmp_path, params_for, pg):
    from sqlite2neon import verify

    db = sqlite_file(tmp_path / "s.db", SPELLINGS["case_c_orders"].script)
    params = params_for(db)
    migrate(params)
    pg.execute("ALTER TABLE orders DROP CONSTRAINT orders_check1")
    result = verify.step(params)
    check = next(t for t in result.tables if t.target == "orders")
    assert not result.passed and check.missing_checks == ["orders_check1"] and check.checksum_match
    assert "CHECK constraint orders_check1 is not in the target" in check.describe()


def test_upper_and_lower_fold_ascii_letters_only_on_a_unicode_database(tmp_path, server_url):
    """SQLite's upper()/lower() change ASCII letters only; on a database whose locale folds every letter
    (Neon's C.UTF-8, ICU), Postgres' own would refuse 'é' under CHECK (upper(u) = u) and give 'école'
    for lower('ÉCOLE') where SQLite gives 'École' (found by an attack, run passing)."""
    import uuid

    name = f"u_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        version = conn.info.server_version
        if version < 170000:
            pytest.skip("the builtin C.UTF-8 locale needs PostgreSQL 17")
        conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8' LOCALE 'C'")
    url = f"{server_url.rpartition('/')[0]}/{name}"
    try:
        with psycopg.connect(url) as conn:  # the database folds beyond ASCII: the case the rule is for
            assert conn.execute("SELECT upper('é')").fetchone()[0] == "É"
        db = sqlite_file(tmp_path / "u.db", """
            CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT CHECK (upper(u) = u), code TEXT, g TEXT AS (lower(code)) STORED);
            CREATE UNIQUE INDEX t_code ON t (lower(code));
            INSERT INTO t (id, u, code) VALUES (1, 'é', 'ÉCOLE'), (2, 'ABC', 'école');""")
        params = Params.from_mapping({"sqlite_path": str(db), "database_url": url, "env_file": "",
                                      "run_dir": str(tmp_path / "run")})
        the_plan, loaded, verified = migrate(params)
        assert the_plan.losses == [] and verified.passed, verified.to_json()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT id, g FROM t ORDER BY id").fetchall() == [(1, "École"), (2, "école")]
            conn.execute("INSERT INTO t (id, u, code) VALUES (3, 'ü', 'x')")  # SQLite accepts it too
            conn.rollback()
            with pytest.raises(psycopg.errors.CheckViolation):
                conn.execute("INSERT INTO t (id, u, code) VALUES (4, 'a', 'y')")
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
