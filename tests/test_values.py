"""No value changed in silence: every value arrives exactly, is rejected with its reason, or is a listed
loss accepted before anything is written; and verification compares SQLite's raw values with what
Postgres holds, whatever the plan decided (issue 12's inputs H to K, and the kind of each)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import migrate, sqlite_file
from sqlite2neon import load, plan, source, verify
from sqlite2neon.errors import LossesNotAccepted

UTC = timezone.utc


H = """
CREATE TABLE "User" ("id" TEXT NOT NULL PRIMARY KEY, "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP);
INSERT INTO "User" VALUES ('u1', 1647950409737), ('u2', 1700000000001);
INSERT INTO "User"("id") VALUES ('u3');
"""
I = """
CREATE TABLE items (id INTEGER PRIMARY KEY, price decimal(5,2));
INSERT INTO items VALUES (1, 1230.99), (2, 19.99), (3, 0.1 + 0.2), (4, '12.345'), (5, 7);
"""
J = """
CREATE TABLE keys (key_id INTEGER PRIMARY KEY AUTOINCREMENT, key_public BLOB, key_private BLOB);
INSERT INTO keys(key_public, key_private) VALUES ('ssh-ed25519 AAAA made-up', X'00FF10'),
  (X'', NULL), ('café', X'C328'), ('-----BEGIN KEY-----' || char(10), 'text');
"""
K = """
CREATE TABLE accounts (id TEXT PRIMARY KEY, created_at datetime);
INSERT INTO accounts VALUES ('a', '2025-07-01 10:00:00.123456789+02:00'), ('b', '2025-07-02 11:30:15.5-05:00');
"""


def test_h_milliseconds_beside_a_text_default_are_read_as_milliseconds(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "h.db", H)
    text_now = sqlite3.connect(db).execute('SELECT "createdAt" FROM "User" WHERE id = \'u3\'').fetchone()[0]
    the_plan, _, verified = migrate(params_for(db))

    column = the_plan.table("User").column("createdAt")
    assert (column.pg_type, column.convert) == ("timestamptz", "unix_millis")
    assert verified.passed, verified.to_json()
    got = dict(pg.execute('SELECT id, "createdat" FROM "user"').fetchall())
    assert got["u1"] == datetime(2022, 3, 22, 12, 0, 9, 737000, tzinfo=UTC)
    assert got["u2"] == datetime(2023, 11, 14, 22, 13, 20, 1000, tzinfo=UTC)
    assert got["u3"] == datetime.fromisoformat(text_now).replace(tzinfo=UTC)


def test_timestamps_outside_the_plausible_window_stop_the_plan(tmp_path, params_for):
    db = sqlite_file(tmp_path / "w.db", """
        CREATE TABLE e (id INTEGER PRIMARY KEY, happened_at DATETIME);
        INSERT INTO e VALUES (1, 1700000000), (2, 1700000100), (3, 99999999999);""")
    params = params_for(db, column_overrides={"e.happened_at": {"type": "timestamptz", "convert": "unix_seconds"}})
    source.step(params)
    the_plan = plan.step(params)
    losses = {x.item: x for x in the_plan.losses}
    assert "value:e.happened_at" in losses
    assert "1 value(s)" in losses["value:e.happened_at"].reason and "5138" in losses["value:e.happened_at"].reason
    with pytest.raises(LossesNotAccepted):
        the_plan.raise_for_losses()


def test_i_decimals_beyond_the_declared_scale_and_precision_arrive_exactly(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "i.db", I)
    the_plan, _, verified = migrate(params_for(db))

    column = the_plan.table("items").column("price")
    assert column.pg_type == "numeric" and any("widened" in n for n in column.notes)
    assert verified.passed, verified.to_json()
    got = dict(pg.execute("SELECT id, price FROM items").fetchall())
    assert got == {1: Decimal("1230.99"), 2: Decimal("19.99"), 3: Decimal("0.30000000000000004"),
                   4: Decimal("12.345"), 5: Decimal("7")}


def test_rounding_by_an_overridden_type_fails_verification_unless_accepted(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "r.db", """
        CREATE TABLE items (id INTEGER PRIMARY KEY, price TEXT);
        INSERT INTO items VALUES (1, '12.345'), (2, '1.5');""")
    override = {"items.price": {"type": "numeric(5,2)"}}

    # not accepted: the plan lists the rounding and nothing is written
    source.step(params_for(db, column_overrides=override))
    listed = {x.item: x for x in plan.step(params_for(db, column_overrides=override)).losses}
    assert "rounds them to 2" in listed["value:items.price"].reason
    with pytest.raises(LossesNotAccepted):
        load.step(params_for(db, column_overrides=override))
    assert pg.execute("SELECT to_regclass('items')").fetchone()[0] is None

    # accepted: Postgres holds the rounded value, and verification compares SQLite's rounded the same way
    accepted = params_for(db, column_overrides=override, accept_losses=["value:items.price"])
    _, _, verified = migrate(accepted)
    assert verified.passed, verified.to_json()
    assert dict(pg.execute("SELECT id, price FROM items").fetchall()) == {1: Decimal("12.35"), 2: Decimal("1.50")}

    # the same target verified without the acceptance: the rounding is a difference, key and both values named
    verified = verify.step(params_for(db, column_overrides=override))
    assert not verified.passed
    check = verified.tables[0]
    assert check.differences_total == 1
    difference = check.differences[0]
    assert difference["key"] == "1" and difference["columns"][0]["column"] == "price"
    assert "12.345" in str(difference["columns"][0]["source"]) and "12.35" in str(difference["columns"][0]["target"])


def test_numbers_in_exponent_form_arrive_exactly_and_verify(tmp_path, params_for, pg):
    """Reals and text in exponent form in numeric columns (INTEGER holding reals, DECIMAL, NUMERIC):
    Postgres stores the exact value, and verification reads SQLite's side written out, not `1e-07`."""
    db = sqlite_file(tmp_path / "e.db", """
        CREATE TABLE n (id INTEGER PRIMARY KEY, a "FLOATING POINT", b DECIMAL(20,10), c NUMERIC);
        INSERT INTO n VALUES (1, 2.1847830781211706e-278, '1e-7', '1.5E+3'),
                             (2, 1e20, 0.0000001, 1e300), (3, 5, 2.5, -1.25e-5);""")
    the_plan, _, verified = migrate(params_for(db))
    assert the_plan.table("n").column("a").pg_type == "numeric"
    assert verified.passed, verified.to_json()
    got = {r[0]: r[1:] for r in pg.execute("SELECT id, a, b, c FROM n")}
    assert got[1] == (Decimal("2.1847830781211706e-278"), Decimal("1e-7"), Decimal("1500"))
    assert got[2] == (Decimal("1e20"), Decimal("1e-7"), Decimal("1e300"))
    assert got[3] == (Decimal("5"), Decimal("2.5"), Decimal("-0.0000125"))


def test_j_a_blob_column_holding_text_and_bytes_is_bytea_with_every_row(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "j.db", J)
    expected = sqlite3.connect(db).execute(
        "SELECT key_id, CAST(key_public AS BLOB), CAST(key_private AS BLOB) FROM keys ORDER BY 1").fetchall()
    the_plan, loaded, verified = migrate(params_for(db))

    table = the_plan.table("keys")
    assert [table.column(c).pg_type for c in ("key_public", "key_private")] == ["bytea", "bytea"]
    assert loaded.tables[0].rejected == 0 and verified.passed, verified.to_json()
    got = [(i, None if a is None else bytes(a), None if b is None else bytes(b))
           for i, a, b in pg.execute("SELECT key_id, key_public, key_private FROM keys ORDER BY 1")]
    assert got == expected
    assert got[2][1] == "café".encode()


def test_k_nanoseconds_are_a_listed_loss_with_their_count(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "k.db", K)
    params = params_for(db)
    source.step(params)
    the_plan = plan.step(params)

    loss = {x.item: x for x in the_plan.losses}["value:accounts.created_at"]
    assert "1 value(s)" in loss.reason and "microsecond" in loss.reason
    with pytest.raises(LossesNotAccepted):
        load.step(params)

    _, _, verified = migrate(params_for(db, accept_losses=["value:accounts.created_at"],
                                       run_dir=str(tmp_path / "accepted")))
    assert verified.passed, verified.to_json()
    got = dict(pg.execute("SELECT id, created_at FROM accounts").fetchall())
    assert got["a"] == datetime(2025, 7, 1, 8, 0, 0, 123456, tzinfo=UTC)
    assert got["b"] == datetime(2025, 7, 2, 16, 30, 15, 500000, tzinfo=UTC)


@pytest.mark.parametrize("value", [1.7976931348623157e308, 5e-324, 2.2250738585072014e-308, 0.1 + 0.2,
                                   1e15 + 0.3, 123456789.12345679, -1.7976931348623157e308])
def test_reals_at_the_extremes_arrive_bit_for_bit(tmp_path, params_for, pg, value):
    db = sqlite_file(tmp_path / "f.db", "CREATE TABLE f (id INTEGER PRIMARY KEY, x DOUBLE, y);")
    con = sqlite3.connect(db)
    con.execute("INSERT INTO f VALUES (1, ?, ?)", [value, value])
    con.commit()
    con.close()
    _, _, verified = migrate(params_for(db))

    assert verified.passed, verified.to_json()
    x, y = pg.execute("SELECT x, y FROM f").fetchone()
    assert x == value and y == value


def test_seconds_among_milliseconds_are_a_listed_loss(tmp_path, params_for):
    db = sqlite_file(tmp_path / "mix.db", """
        CREATE TABLE b (id INTEGER PRIMARY KEY, created_at INTEGER);
        INSERT INTO b VALUES (1, 1700000000123), (2, 1700000500456), (3, 1700000001), (4, 1700000600789);""")
    params = params_for(db)
    source.step(params)
    losses = {x.item: x for x in plan.step(params).losses}
    assert "more than one unit" in losses["value:b.created_at"].reason


def test_a_difference_shows_the_loaded_row_not_a_rejected_row_with_the_same_key(tmp_path, params_for, pg):
    """Two text keys that are not valid UTF-8 both read U+FFFD; one row is rejected ('maybe' is no
    number). A value changed in Postgres behind the runbook's back is reported with the loaded row's
    SQLite values, not the rejected row's (found by fuzzing: keys_equal_after_bad_text_confuse_verify)."""
    db = sqlite_file(tmp_path / "k.db", """
        CREATE TABLE t_x (id TEXT PRIMARY KEY, tags TEXT, amount DECIMAL);
        INSERT INTO t_x VALUES (CAST(x'ff' AS TEXT), 675, 1.5), (CAST(x'80' AS TEXT), 1242236715994, 'maybe');""")
    params = params_for(db, fail_on_rejects=False)
    _, loaded, verified = migrate(params)
    assert verified.passed, verified.to_json()
    pg.execute("UPDATE t_x SET tags = '676'")
    check = verify.step(params).tables[0]
    assert check.differences_total == 1
    columns = {c["column"]: (c["source"], c["target"]) for c in check.differences[0]["columns"]}
    assert columns == {"tags": ("675", "676")}


def test_json_that_repeats_a_key_is_kept_as_written_in_json_not_jsonb(tmp_path, params_for, pg):
    """jsonb keeps only a repeated key's last value (PostgreSQL docs 8.14): a column whose JSON repeats a
    key in one object, at any depth, becomes json, which keeps the text as written; others stay jsonb."""
    db = sqlite_file(tmp_path / "j.db", """
        CREATE TABLE items (id INTEGER PRIMARY KEY, meta JSON, tags TEXT);
        INSERT INTO items VALUES (1, '{"a": 1, "a": 2}', '["x"]'),
                                 (2, '[{"b": {"c": 1, "c": [3]}}]', '{"k": 1}'),
                                 (3, '{"a": 3}', '[]'), (4, NULL, NULL);""")
    the_plan, _, verified = migrate(params_for(db))
    assert the_plan.table("items").column("meta").pg_type == "json"
    assert "repeat a key" in " ".join(the_plan.table("items").column("meta").notes)
    assert the_plan.table("items").column("tags").pg_type == "jsonb"
    assert verified.passed, verified.to_json()
    got = dict(pg.execute("SELECT id, meta::text FROM items").fetchall())
    assert got == {1: '{"a": 1, "a": 2}', 2: '[{"b": {"c": 1, "c": [3]}}]', 3: '{"a": 3}', 4: None}


@pytest.mark.parametrize("options", ["WITHOUT ROWID, STRICT", "STRICT, WITHOUT ROWID", "STRICT"])
def test_strict_tables_and_their_any_columns_arrive_whole(tmp_path, params_for, pg, options):
    """STRICT tables (SQLite 3.37): both table options in either order are read as SQLite parsed them,
    and an ANY column, which keeps every value as given, becomes bytea with every row (as a column of
    BLOB affinity does) or the narrower type its values allow."""
    db = sqlite_file(tmp_path / "s.db", f"""
        CREATE TABLE s (id TEXT PRIMARY KEY, v ANY, n ANY, r REAL, i INTEGER) {options};
        INSERT INTO s VALUES ('a', x'00ff', 1, 1.5, 7), ('b', 'text', 2, 2.0, NULL), ('c', 1.25, 3, NULL, -1),
                             ('d', 42, 4, 0.1, 0);""")
    the_plan, _, verified = migrate(params_for(db))
    table = the_plan.table("s")
    assert table.has_rowid is (options == "STRICT")
    assert [table.column(c).pg_type for c in "vnri"] == ["bytea", "bigint", "double precision", "bigint"]
    assert verified.passed, verified.to_json()
    got = {r[0]: (bytes(r[1]), r[2]) for r in pg.execute("SELECT id, v, n FROM s")}
    assert got == {"a": (b"\x00\xff", 1), "b": (b"text", 2), "c": (b"1.25", 3), "d": (b"42", 4)}


def test_a_json_column_under_a_unique_index_or_a_primary_key(tmp_path, params_for, pg):
    """json has no equality: a unique index over a json column compares its text (as SQLite's BINARY
    does); in a primary key the column stays jsonb, and the repeated keys are a listed value loss."""
    db = sqlite_file(tmp_path / "u.db", """
        CREATE TABLE items (id TEXT PRIMARY KEY, tags JSON, flag BOOLEAN, UNIQUE (tags, flag));
        INSERT INTO items VALUES ('a', '{"a": 1, "a": 2}', 0), ('b', '{"a": 2}', 0), ('c', '{"a": 1, "a": 2}', 1);
        CREATE TABLE docs (body JSON PRIMARY KEY, n INTEGER);
        INSERT INTO docs VALUES ('{"k": 1, "k": 2}', 1), ('{"k": 2}', 2);""")
    params = params_for(db, fail_on_rejects=False)
    source.step(params)
    the_plan = plan.step(params)
    assert the_plan.table("items").column("tags").pg_type == "json"
    assert the_plan.table("docs").column("body").pg_type == "jsonb"
    assert [x.item for x in the_plan.losses] == ["value:docs.body"]
    with pytest.raises(LossesNotAccepted):
        load.step(params)
    _, loaded, verified = migrate(params_for(db, fail_on_rejects=False, accept_losses=["value:docs.body"]))
    assert pg.execute("SELECT count(*) FROM items").fetchone()[0] == 3
    # SQLite's two texts are two keys; jsonb makes them one: the second row is rejected, not lost in silence
    assert pg.execute("SELECT count(*) FROM docs").fetchone()[0] == 1
    assert pg.execute("SELECT count(*) FROM _sqlite2neon.rejects WHERE table_name = 'docs'").fetchone()[0] == 1


def test_white_space_around_numbers_is_what_postgres_skips(tmp_path, params_for, pg):
    """Postgres' input functions skip C's white space (space, tab, newline, vertical tab, form feed,
    carriage return) around a number or a boolean, not the separators \\x1c-\\x1f that Python's strip()
    also takes (found by fuzzing: '\\x1d2' in a BIGINT column): the first convert, the second are rejected."""
    db = sqlite_file(tmp_path / "w.db", """
        CREATE TABLE n (id INTEGER PRIMARY KEY, i BIGINT, d NUMERIC(6,2), r REAL, b BOOLEAN);
        INSERT INTO n VALUES (1, char(11) || '5' || char(9), char(12) || '1.25 ', char(13) || '2.5', char(10) || 'yes '),
                             (2, char(29) || '2', '0' || char(31), '3', 'no'), (3, 7, 1.5, 1.5, char(28) || 'yes');""")
    _, _, verified = migrate(params_for(db, fail_on_rejects=False))
    assert pg.execute("SELECT id, i, d, r, b FROM n ORDER BY id").fetchall() == [(1, 5, Decimal("1.25"), 2.5, True)]
    reasons = dict(pg.execute("SELECT source_key, reason FROM _sqlite2neon.rejects").fetchall())
    assert set(reasons) == {"2", "3"} and reasons["2"].startswith("i:") and reasons["3"].startswith("b:"), reasons
