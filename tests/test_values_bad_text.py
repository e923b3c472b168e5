"""Text that is not valid UTF-8 and NUL characters, in keys and in values, in tables with and without a
rowid: every step reads them (inspect, plan, load, rejects, verification, cutover), none stops on
them, and a rejected row's record names exactly that row, readably (faults found by fuzzing:
reject_with_invalid_utf8_key_crashes, invalid_utf8_beside_real_fails_load,
numeric_column_invalid_utf8_fails_inspect, verify_crashes_on_invalid_utf8_key, reject_key_cut_at_nul,
null_rejected_beside_blobs)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from conftest import migrate, sqlite_file
from sqlite2neon import cutover, verify
from sqlite2neon.connect import resolve_target

FFFD = "\ufffd"


def rejects(pg) -> list[tuple]:
    """(table, source key, column, original value, reason) of every reject, in key order."""
    return pg.execute("SELECT table_name, source_key, column_name, original_value, reason "
                      "FROM _sqlite2neon.rejects ORDER BY table_name, source_key").fetchall()


def test_a_rejected_row_whose_key_or_value_is_not_valid_utf8_is_recorded_readably(tmp_path, params_for, pg):
    """The load records the reject (no UnicodeDecodeError): a text key with bytes beyond ASCII as its
    bytes, `CAST(X'FF' AS TEXT)`, a quoted key as quote() writes it, and a value that is not valid
    UTF-8 with U+FFFD for its bad byte. The other rows arrive, and verification accounts for all."""
    db = sqlite_file(tmp_path / "k.db", """
        CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID;
        INSERT INTO t VALUES (CAST(x'ff' AS TEXT), 'abc'), ('café', 'x'), ('a'',''b', 'y'), ('ok', 5),
                             (CAST(x'80' AS TEXT), 6);
        CREATE TABLE pair (a INTEGER, b BLOB, n INTEGER, PRIMARY KEY (a, b)) WITHOUT ROWID;
        INSERT INTO pair VALUES (1, x'00ff', 'no'), (2, CAST(x'61ff' AS TEXT), 'no'), (3, 1.5, 7);
        CREATE TABLE r (id INTEGER PRIMARY KEY, n INTEGER);
        INSERT INTO r VALUES (1, CAST(x'61ff' AS TEXT)), (2, 3), (3, 'plain');""")
    params = params_for(db, fail_on_rejects=False)
    _, loaded, verified = migrate(params)

    assert rejects(pg) == [
        ("pair", "1,X'00FF'", "n", "no", "n: not a whole number within bigint"),
        ("pair", "2,CAST(X'61FF' AS TEXT)", "n", "no", "n: not a whole number within bigint"),
        ("r", "1", "n", f"a{FFFD}", "n: not a whole number within bigint"),
        ("r", "3", "n", "plain", "n: not a whole number within bigint"),
        ("t", "'a'',''b'", "n", "y", "n: not a whole number within bigint"),
        ("t", "CAST(X'636166C3A9' AS TEXT)", "n", "x", "n: not a whole number within bigint"),
        ("t", "CAST(X'FF' AS TEXT)", "n", "abc", "n: not a whole number within bigint"),
    ]
    assert loaded.rejected == 7
    assert sorted(pg.execute("SELECT id, n FROM t").fetchall()) == [("ok", 5), (FFFD, 6)]
    assert pg.execute("SELECT a, b, n FROM pair").fetchall() == [(3, b"1.5", 7)]
    assert pg.execute("SELECT id, n FROM r").fetchall() == [(2, 3)]
    assert verified.passed, verified.to_json()
    assert {t.target: (t.rejected_rows, t.differences_total) for t in verified.tables} == {
        "t": (3, 0), "pair": (2, 0), "r": (2, 0)}


def test_a_key_with_a_nul_names_its_own_row_only(tmp_path, params_for, pg):
    """quote() stops at a NUL: 'a' and 'a\\0b' were one key, and the reject of one named both. The key
    is the text's bytes now; the row that loads is verified, not left out with the rejected one."""
    db = sqlite_file(tmp_path / "n.db", """
        CREATE TABLE items (id TEXT PRIMARY KEY, happened_at TEXT, n INTEGER) WITHOUT ROWID;
        INSERT INTO items VALUES ('a', 'x', 'bad'), ('a' || char(0) || 'b', 'y', 1),
                                 ('c' || char(0), 'z', 'bad'), ('c', 'w', 2);""")
    params = params_for(db, fail_on_rejects=False)
    _, _, verified = migrate(params)

    assert [(k, v, why) for _, k, _, v, why in rejects(pg)] == [
        ("'a'", "bad", "n: not a whole number within bigint"),
        ("CAST(X'6300' AS TEXT)", "bad", "n: not a whole number within bigint")]
    assert sorted(pg.execute("SELECT id, happened_at, n FROM items").fetchall()) == [
        (f"a{FFFD}b", "y", 1), ("c", "w", 2)]
    assert verified.passed, verified.to_json()
    table = verified.tables[0]
    assert (table.rejected_rows, table.differences_total) == (2, 0)
    # a value changed behind the runbook's back is seen on the row whose key holds the NUL
    pg.execute("UPDATE items SET n = 9 WHERE id = %s", [f"a{FFFD}b"])
    check = verify.step(params).tables[0]
    assert check.differences_total == 1
    assert check.differences[0]["source_key"] == "CAST(X'610062' AS TEXT)"
    assert check.differences[0]["columns"] == [{"column": "n", "source": "1", "target": "9"}]


def test_verification_drills_down_to_keys_that_are_not_valid_utf8(tmp_path, params_for, pg):
    """A difference on a row whose key is not valid UTF-8 is reported (DuckDB refused the key:
    InvalidInputException), with and without a rowid, and the cutover carries SQLite's row over
    by that key."""
    db = sqlite_file(tmp_path / "v.db", """
        CREATE TABLE users (k1 INTEGER, k2 TEXT, weight INTEGER, PRIMARY KEY (k1, k2)) WITHOUT ROWID;
        INSERT INTO users VALUES (48, CAST(x'6f6bc0af' AS TEXT), 1), (49, 'ok' || char(0), 2), (50, 'x', 3);
        CREATE TABLE named (name TEXT PRIMARY KEY, weight INTEGER, note TEXT);
        INSERT INTO named VALUES (CAST(x'ff' AS TEXT), 1, CAST(x'61ff' AS TEXT)), ('b', 2, 'b');""")
    params = params_for(db)
    the_plan, _, verified = migrate(params)
    assert verified.passed, verified.to_json()

    pg.execute("UPDATE users SET weight = weight + 10")
    pg.execute("UPDATE named SET weight = weight + 10")
    check = {t.target: t for t in verify.step(params).tables}
    users = sorted((d["key"], d["source_key"], d["columns"][0]["source"], d["columns"][0]["target"])
                   for d in check["users"].differences)
    assert users == [(f"48, ok{FFFD}{FFFD}", "48,CAST(X'6F6BC0AF' AS TEXT)", "1", "11"),
                     (f"49, ok{FFFD}", "49,CAST(X'6F6B00' AS TEXT)", "2", "12"),
                     ("50, x", "50,'x'", "3", "13")]
    named = sorted((d["key"], d["source_key"], d["columns"][0]["source"]) for d in check["named"].differences)
    assert named == [("b", "2", "2"), (FFFD, "1", "1")]
    # a value that is not valid UTF-8 is shown as text, its bad byte as U+FFFD (not as the hex it is read as)
    pg.execute("UPDATE named SET note = 'c' WHERE name = 'b'")
    pg.execute("UPDATE named SET weight = 1, note = 'x' WHERE name = %s", [FFFD])
    named = {d["key"]: d["columns"] for d in verify.step(params).tables[1].differences}
    assert named == {FFFD: [{"column": "note", "source": f"a{FFFD}", "target": "x"}],
                     "b": [{"column": "weight", "source": "2", "target": "12"},
                           {"column": "note", "source": "b", "target": "c"}]}

    # the cutover reads those rows again by their keys and takes SQLite's values (conflicts: take_source)
    params = replace(params, conflicts="take_source")
    cutover.catch_up(the_plan, resolve_target(params), params, source_path=db, run="bad-keys")
    assert sorted(pg.execute("SELECT k1, weight FROM users").fetchall()) == [(48, 1), (49, 2), (50, 3)]
    assert sorted(pg.execute("SELECT name, weight FROM named").fetchall()) == [("b", 2), (FFFD, 1)]
    assert verify.step(params).passed


BESIDE_NUMBERS = """
    CREATE TABLE t (id INTEGER PRIMARY KEY, v BOOLEAN, s TEXT, x INTEGER);
    INSERT INTO t VALUES (1, CAST(x'ff' AS TEXT), CAST(x'61ff' AS TEXT), CAST(x'ff' AS TEXT)),
                         (2, 12.5, 12.5, 7.0), (3, 1.0, 3, 8), (4, 0, 'b' || char(0), 9),
                         (5, NULL, NULL, NULL);"""


def test_text_that_is_not_valid_utf8_beside_numbers_converts_each_by_its_class(tmp_path, params_for, pg):
    """Only text is read as hex: the UTF-8 repair was handed a real's digits and stopped the load
    ('12.5' is not hex). Each value converts by its own storage class."""
    db = sqlite_file(tmp_path / "r.db", BESIDE_NUMBERS)
    _, _, verified = migrate(params_for(db, fail_on_rejects=False))
    assert verified.passed, verified.to_json()
    assert [(k, c, v, why) for _, k, c, v, why in rejects(pg)] == [
        ("1", "v", FFFD, "v: not 0/1 or a boolean word"),
        ("2", "v", "1.25e+01", "v: not 0/1 or a boolean word")]
    assert sorted(pg.execute("SELECT id, v, s, x FROM t").fetchall()) == [
        (3, True, "3", 8), (4, False, f"b{FFFD}", 9), (5, None, None, None)]


def test_under_bad_text_reject_numbers_beside_bad_text_are_no_bad_text(tmp_path, params_for, pg):
    """bad_text=reject rejects the text that is not valid UTF-8 or holds a NUL, never the integer or
    real beside it (whose digits were read as if they were hex)."""
    db = sqlite_file(tmp_path / "r.db", BESIDE_NUMBERS)
    _, _, verified = migrate(params_for(db, fail_on_rejects=False, bad_text="reject"))
    assert verified.passed, verified.to_json()
    assert [(k, c, why) for _, k, c, _, why in rejects(pg)] == [
        ("1", "v", "v: text is not valid UTF-8 (bad_text=reject)"),
        ("2", "v", "v: not 0/1 or a boolean word"),
        ("4", "s", "s: text contains a NUL character (bad_text=reject)")]
    assert sorted(pg.execute("SELECT id, v, s, x FROM t").fetchall()) == [(3, True, "3", 8), (5, None, None, None)]


def test_a_numeric_column_holding_text_that_is_not_valid_utf8_is_inspected(tmp_path, params_for, pg):
    """The NUMERIC(p,s) shape check read text as text, and DuckDB refused the bytes (Invalid unicode):
    the inspect step stopped. Such text is no number: its row is rejected, the numbers arrive."""
    db = sqlite_file(tmp_path / "d.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, price NUMERIC(10,3));
        INSERT INTO t VALUES (1, CAST(x'ff' AS TEXT)), (2, 1.5), (3, '12.25'), (4, CAST(x'31ff' AS TEXT));""")
    the_plan, _, verified = migrate(params_for(db, fail_on_rejects=False))
    column = the_plan.table("t").column("price")
    assert column.pg_type == "numeric(10,3)"
    assert [(k, v, why) for _, k, _, v, why in rejects(pg)] == [
        ("1", FFFD, "price: not a number for numeric(10,3)"),
        ("4", f"1{FFFD}", "price: not a number for numeric(10,3)")]
    assert sorted(pg.execute("SELECT id, price FROM t").fetchall()) == [(2, Decimal("1.5")), (3, Decimal("12.25"))]
    assert verified.passed, verified.to_json()


def test_a_null_beside_values_of_one_class_that_does_not_convert_loads(tmp_path, params_for, pg):
    """A TEXT column whose only values are BLOBs rejected its NULL rows too (a storage-class condition
    that is plain TRUE). A NULL loads as NULL whatever the column's other values, in every type."""
    db = sqlite_file(tmp_path / "b.db", """
        CREATE TABLE items (id INTEGER PRIMARY KEY, created_at TEXT, code VARCHAR(2), n INTEGER, d DATE,
                            amount NUMERIC(4,1));
        INSERT INTO items VALUES (1, NULL, NULL, NULL, NULL, NULL),
                                 (2, x'', 'abc', 'x', 5, 12345.5);""")
    params = params_for(db, fail_on_rejects=False)
    _, _, verified = migrate(params)
    assert [(k, c, why) for _, k, c, _, why in rejects(pg)] == [
        ("2", "created_at", "created_at: a text column cannot hold a BLOB")]
    assert pg.execute("SELECT * FROM items").fetchall() == [(1, None, None, None, None, None)]
    assert verified.passed, verified.to_json()


def test_orphans_set_to_null_compare_keys_read_the_same_way_on_both_sides(tmp_path, params_for, pg):
    """orphans=null joins a child's key to its parent's: text that is not valid UTF-8 (read as hex in
    the child) must meet its parent, and the parent's key must be readable by DuckDB at all."""
    db = sqlite_file(tmp_path / "o.db", """
        CREATE TABLE parent (id TEXT PRIMARY KEY);
        INSERT INTO parent VALUES (CAST(x'ff' AS TEXT)), ('b'), ('12');
        CREATE TABLE child (id INTEGER PRIMARY KEY, p TEXT REFERENCES parent(id));
        INSERT INTO child VALUES (1, CAST(x'ff' AS TEXT)), (2, 'b'), (3, 'gone'), (4, CAST(x'fe' AS TEXT)),
                                 (5, '12');""")
    params = params_for(db, orphans="null")
    _, _, verified = migrate(params)
    assert sorted(pg.execute("SELECT id, p FROM child").fetchall()) == [
        (1, FFFD), (2, "b"), (3, None), (4, None), (5, "12")]
    assert verified.passed, verified.to_json()


def test_a_bytea_column_keeps_the_bytes_of_text_that_is_not_valid_utf8_or_holds_a_nul(tmp_path, params_for, pg):
    """bad_text is for text columns: in bytea, text arrives as the bytes SQLite holds (an attack found
    'a\\xffb' and 'a\\0b' both arriving as 'a\\ufffdb': two values made one, with exit 0)."""
    db = sqlite_file(tmp_path / "b.db", """
        CREATE TABLE k (id INTEGER PRIMARY KEY, v BLOB);
        INSERT INTO k VALUES (1, x'00ff10'), (2, CAST(x'61ff62' AS TEXT)), (3, CAST(x'610062' AS TEXT)), (4, 'café'), (5, 7);""")
    for policy in ("replace", "reject"):
        params = params_for(db, bad_text=policy, if_exists="truncate")
        planned, loaded, verified = migrate(params)
        assert verified.passed and loaded.rejected == 0, verified.to_json()
        column = planned.tables[0].columns[1]
        assert column.pg_type == "bytea" and not any("UTF-8" in n or "NUL" in n for n in column.notes), column.notes
        assert planned.tables[0].changed_values(policy) == {}
        rows = [bytes(r[0]) for r in pg.execute("SELECT v FROM k ORDER BY id")]
        assert rows == [b"\x00\xff\x10", b"a\xffb", b"a\x00b", "café".encode(), b"7"], rows
