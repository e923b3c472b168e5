"""Values, keys and defaults the types would change (faults found by fuzzing, each with its kind):
integers beyond 2^53 beside reals, defaults with more digits than the type, ids at the end of bigint,
values SQLite keeps apart that one unique key holds as one in Postgres, and BLOBs beside unix times.
Each run is judged on what Postgres holds, the rejects, the listed losses and verification's verdict."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from decimal import Decimal

import psycopg
import pytest

from conftest import migrate, sqlite_file
from sqlite2neon import plan, source
from sqlite2neon.errors import LossesNotAccepted

BIGINT_MAX = 2 ** 63 - 1


def rejects(pg) -> dict[str, tuple[str | None, str]]:
    """The run's rejects: source key -> (column, reason)."""
    return {k: (c, r) for k, c, r in pg.execute(
        "SELECT source_key, column_name, reason FROM _sqlite2neon.rejects ORDER BY source_key").fetchall()}


def planned(params) -> plan.Plan:
    source.step(params)
    return plan.step(params)


# --- 1. integers beyond 2^53 beside reals: integer_rounded_to_double ------------------------------------

def test_integers_beyond_2_53_beside_reals_arrive_exactly_in_numeric(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "w.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, v, b BLOB);
        INSERT INTO t VALUES (1, 1.5, 0.25), (2, 9007199254740993, 9007199254740993),
                             (3, -9223372036854775808, 2.5), (4, 0.1, NULL);""")
    the_plan, _, verified = migrate(params_for(db))

    for name in ("v", "b"):
        column = the_plan.table("t").column(name)
        assert column.pg_type == "numeric" and any("2^53" in n for n in column.notes), column
    assert verified.passed, verified.to_json()
    got = {r[0]: r[1:] for r in pg.execute("SELECT id, v, b FROM t")}
    assert got == {1: (Decimal("1.5"), Decimal("0.25")),
                   2: (Decimal("9007199254740993"), Decimal("9007199254740993")),
                   3: (Decimal("-9223372036854775808"), Decimal("2.5")), 4: (Decimal("0.1"), None)}


def test_numbers_a_double_holds_stay_double_precision(tmp_path, params_for, pg):
    """Integers up to 2^53 (and the even ones beyond are not counted apart): no needless numeric."""
    db = sqlite_file(tmp_path / "d.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, v);
        INSERT INTO t VALUES (1, 1.5), (2, 9007199254740992), (3, -9007199254740992);""")
    the_plan, _, verified = migrate(params_for(db))
    assert the_plan.table("t").column("v").pg_type == "double precision"
    assert verified.passed, verified.to_json()
    assert dict(pg.execute("SELECT id, v FROM t").fetchall()) == {1: 1.5, 2: 2.0 ** 53, 3: -(2.0 ** 53)}


def test_a_real_column_holds_big_integers_as_reals_already(tmp_path, params_for, pg):
    """REAL affinity makes an integer a real on insert (https://www.sqlite.org/datatype3.html section
    3): SQLite itself rounded 9007199254740993, so double precision carries what SQLite holds."""
    db = sqlite_file(tmp_path / "r.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, v REAL);
        INSERT INTO t VALUES (1, 9007199254740993), (2, 1.5);""")
    assert sqlite3.connect(db).execute("SELECT typeof(v), v FROM t WHERE id = 1").fetchone() == ("real", 2.0 ** 53)
    the_plan, _, verified = migrate(params_for(db))
    assert the_plan.table("t").column("v").pg_type == "double precision"
    assert verified.passed, verified.to_json()
    assert dict(pg.execute("SELECT id, v FROM t").fetchall()) == {1: 2.0 ** 53, 2: 1.5}


def test_an_override_to_double_precision_over_big_integers_is_a_listed_loss(tmp_path, params_for):
    db = sqlite_file(tmp_path / "o.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER);
        INSERT INTO t VALUES (1, 9007199254740993), (2, 5);""")
    the_plan = planned(params_for(db, column_overrides={"t.n": {"type": "double precision"}}))
    losses = {x.item: x for x in the_plan.losses}
    assert "value:t.n" in losses and "2^53" in losses["value:t.n"].reason
    with pytest.raises(LossesNotAccepted):
        the_plan.raise_for_losses()


def test_decimal_digits_are_counted_exactly_not_through_a_double(tmp_path, params_for, pg):
    """999999999999999999 is 1e18 as a double, yet numeric(18,0) holds it: not rejected as too large."""
    db = sqlite_file(tmp_path / "p.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, d DECIMAL(18,0), e DECIMAL(4,2));
        INSERT INTO t VALUES (1, 999999999999999999, 99.99), (2, -999999999999999999, -0.25);""")
    the_plan, loaded, verified = migrate(params_for(db))
    assert the_plan.table("t").column("d").pg_type == "numeric(18,0)"
    assert loaded.rejected == 0 and verified.passed, verified.to_json()
    assert {r[0]: r[1:] for r in pg.execute("SELECT id, d, e FROM t")} == {
        1: (Decimal("999999999999999999"), Decimal("99.99")), 2: (Decimal("-999999999999999999"), Decimal("-0.25"))}


# --- 2. defaults the type would round: default_rounded_by_type --------------------------------------------

def _default_of(pg, table: str, column: str):
    pg.execute(f'INSERT INTO "{table}" DEFAULT VALUES')
    return pg.execute(f'SELECT "{column}" FROM "{table}" ORDER BY ctid DESC LIMIT 1').fetchone()[0]


def test_a_default_with_more_decimals_than_the_scale_widens_the_column(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "s.db", """
        CREATE TABLE t (price DECIMAL(5,2) DEFAULT 12.345, whole DECIMAL(18,0) DEFAULT 999999999999999999,
                        v DEFAULT 9007199254740993);
        INSERT INTO t VALUES (1.25, 7, 1.5);""")
    the_plan, _, verified = migrate(params_for(db))
    table = the_plan.table("t")
    assert (table.column("price").pg_type, table.column("price").default) == ("numeric", "12.345")
    assert any("widened to numeric" in n for n in table.column("price").notes)
    assert table.column("whole").pg_type == "numeric(18,0)"  # it holds its default: no widening
    assert (table.column("v").pg_type, table.column("v").default) == ("numeric", "9007199254740993")
    assert not the_plan.losses and verified.passed, verified.to_json()
    assert _default_of(pg, "t", "price") == Decimal("12.345")
    assert pg.execute("SELECT whole, v FROM t WHERE price = 12.345").fetchone() == (
        Decimal("999999999999999999"), Decimal("9007199254740993"))


def test_a_default_the_type_cannot_hold_is_a_listed_loss(tmp_path, params_for):
    """An INTEGER column keeps bigint (its values are integers), so DEFAULT 1.5 is a listed loss, as
    is a default an overridden numeric(5,2) or real would round, and ISO text with digits beyond
    microseconds on a timestamptz column (as its values would be: a listed loss, not cut in silence)."""
    db = sqlite_file(tmp_path / "l.db", """
        CREATE TABLE t (qty INTEGER DEFAULT 1.5, price TEXT DEFAULT '12.345', f DEFAULT 0.1,
                        at DATETIME DEFAULT '2000-01-01 00:00:00.1234567',
                        fine DATETIME DEFAULT '2000-01-01 00:00:00.1234560');
        INSERT INTO t VALUES (3, '1.25', 0.5, '2024-01-01 00:00:00', '2024-01-01 00:00:00');""")
    the_plan = planned(params_for(db, column_overrides={"t.price": {"type": "numeric(5,2)"}, "t.f": {"type": "real"}}))
    losses = {x.item: x.reason for x in the_plan.losses}
    assert "1.5" in losses["default:t.qty"]
    assert "rounds to 12.35" in losses["default:t.price"]
    assert "real (4 bytes) rounds" in losses["default:t.f"]
    assert "beyond microseconds" in losses["default:t.at"] and "default:t.fine" not in losses
    assert the_plan.table("t").column("qty").pg_type == "bigint"


# --- 3. ids at the end of bigint, and after rejected rows: rowid_max_breaks_identity -----------------------

def _next_id(pg, table: str):
    try:
        return pg.execute(f'INSERT INTO "{table}" DEFAULT VALUES RETURNING id').fetchone()[0]
    except psycopg.errors.SequenceGeneratorLimitExceeded as exc:
        return exc


def test_an_id_of_2_63_minus_1_loads_and_the_identity_stops_there(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "m.db", f"""
        CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT);
        INSERT INTO items VALUES (1, 'a'), ({BIGINT_MAX}, 'b');
        CREATE TABLE auto (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);
        INSERT INTO auto VALUES ({BIGINT_MAX}, 'x');
        DELETE FROM auto;""")
    assert sqlite3.connect(db).execute("SELECT seq FROM sqlite_sequence").fetchone() == (BIGINT_MAX,)
    the_plan, _, verified = migrate(params_for(db))

    assert verified.passed, verified.to_json()
    assert pg.execute("SELECT id, v FROM items ORDER BY id").fetchall() == [(1, "a"), (BIGINT_MAX, "b")]
    for name in ("items", "auto"):
        assert any("has no next value" in n for n in the_plan.table(name).notes), the_plan.table(name).notes
        assert "reached maximum value" in str(_next_id(pg, name))


def test_the_identity_continues_after_sqlites_highest_id_when_its_rows_are_rejected(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "j.db", """
        CREATE TABLE b (id INTEGER PRIMARY KEY, v BOOLEAN NOT NULL);
        INSERT INTO b VALUES (5, 'maybe'), (7, 'perhaps');
        CREATE TABLE c (id INTEGER PRIMARY KEY, v BOOLEAN NOT NULL);
        INSERT INTO c VALUES (2, 1), (9, 'perhaps');""")
    the_plan, loaded, verified = migrate(params_for(db, fail_on_rejects=False))
    assert loaded.rejected == 3 and set(rejects(pg)) == {"5", "7", "9"}
    assert verified.passed, verified.to_json()
    assert the_plan.table("b").highest_id == 7
    assert pg.execute("INSERT INTO b (v) VALUES (true) RETURNING id").fetchone() == (8,)
    assert pg.execute("INSERT INTO c (v) VALUES (true) RETURNING id").fetchone() == (10,)


# --- 4. values SQLite keeps apart that one key holds as one: converted_values_collide_on_unique -----------

def test_keys_equal_once_converted_reject_the_later_row_naming_the_key(tmp_path, params_for, pg):
    """NUL replaced by U+FFFD, invalid UTF-8 read as U+FFFD, 0 and 'f' as boolean, two ISO texts of one
    instant, the integer 1 and the text '1' in a text column, the text 'a' and the BLOB x'61' in bytea:
    the first row in SQLite's order loads, each later one is rejected with a reason naming the key."""
    db = sqlite_file(tmp_path / "u.db", """
        CREATE TABLE t (id TEXT PRIMARY KEY, flag BOOLEAN UNIQUE, at DATETIME UNIQUE, n UNIQUE, b UNIQUE);
        INSERT INTO t VALUES ('a' || char(0) || 'b', 0, '2024-01-01T00:00:00Z', 1, 'a'),
                             ('a' || char(65533) || 'b', NULL, NULL, NULL, NULL),
                             ('k1', 'f', NULL, NULL, NULL),
                             ('k2', NULL, '2024-01-01 01:00:00+01:00', NULL, NULL),
                             ('k3', NULL, NULL, '1', NULL),
                             ('k4', NULL, NULL, NULL, x'61'),
                             (CAST(x'ff' AS TEXT), NULL, NULL, NULL, NULL),
                             (CAST(x'80' AS TEXT), NULL, NULL, NULL, NULL),
                             ('ok', 1, '2024-01-02', 2, 'b');""")
    the_plan, loaded, verified = migrate(params_for(db, fail_on_rejects=False))
    table = the_plan.table("t")
    assert [table.column(c).pg_type for c in ("flag", "at", "n", "b")] == ["boolean", "timestamptz", "text", "bytea"]

    got = rejects(pg)
    assert set(got) == {"2", "3", "4", "5", "6", "8"}, got
    assert got["2"][0] == "id" and "duplicate key" in got["2"][1] and "t_pkey" in got["2"][1]
    assert "row with key 1" in got["2"][1]
    assert got["3"][0] == "flag" and "t_flag_key" in got["3"][1]
    assert got["4"][0] == "at" and "t_at_key" in got["4"][1]
    assert got["5"][0] == "n" and "t_n_key" in got["5"][1]
    assert got["6"][0] == "b" and "t_b_key" in got["6"][1]
    assert "t_pkey" in got["8"][1] and "row with key 7" in got["8"][1]
    assert loaded.rejected == 6 and verified.passed, verified.to_json()
    rows = pg.execute("SELECT id, flag, at, n, b FROM t ORDER BY id").fetchall()
    assert rows == [("a\ufffdb", False, datetime(2024, 1, 1, tzinfo=timezone.utc), "1", b"a"),
                    ("ok", True, datetime(2024, 1, 2, tzinfo=timezone.utc), "2", b"b"),
                    ("\ufffd", None, None, None, None)]
    indexes = {r[0] for r in pg.execute("SELECT indexname FROM pg_indexes WHERE tablename = 't'")}
    assert indexes == {"t_pkey", "t_flag_key", "t_at_key", "t_n_key", "t_b_key"}


def test_a_row_rejected_for_one_key_does_not_reject_another_for_the_next(tmp_path, params_for, pg):
    """Keys are checked in the order they are built: row 3 collides with row 2 on the primary key and
    is rejected for it, so row 4, whose code is row 3's once converted, loads. Row 1 does not convert
    (its code would collide with row 2's): rejected for its own reason, it takes no part."""
    db = sqlite_file(tmp_path / "o.db", """
        CREATE TABLE t (id TEXT PRIMARY KEY, code TEXT UNIQUE, flag BOOLEAN);
        INSERT INTO t VALUES ('z', 'c1' || char(65533), 'maybe'), ('x' || char(0), 'c1' || char(0), 1),
                             ('x' || char(65533), 'c' || char(0), 0), ('y', 'c' || char(65533), 1);""")
    _, loaded, verified = migrate(params_for(db, fail_on_rejects=False))
    got = rejects(pg)
    assert set(got) == {"1", "3"} and "not 0/1" in got["1"][1] and "row with key 2" in got["3"][1], got
    assert verified.passed, verified.to_json()
    assert pg.execute("SELECT id, code FROM t ORDER BY code").fetchall() == [("x\ufffd", "c1\ufffd"), ("y", "c\ufffd")]


@pytest.mark.parametrize("first, second", [("a", "z"), ("z", "a")])
def test_a_row_rejected_for_one_key_frees_its_values_under_the_others(tmp_path, params_for, pg, first, second):
    """Row 2 collides with row 1 on the boolean key (0 and 'f' are both false) and is rejected; row 3
    collides only with row 2 on the text key (x'80' and x'ff' both read U+FFFD), so it loads, whichever
    key is built first: every rejected row names a row that is in Postgres (found by fuzzing: a row was
    rejected as the duplicate of a row itself rejected for another key)."""
    db = sqlite_file(tmp_path / "f.db", f"""
        CREATE TABLE t (id INTEGER PRIMARY KEY, {first} BOOLEAN UNIQUE, {second} TEXT UNIQUE);
        INSERT INTO t VALUES (1, 0, 'zz'), (2, 'f', CAST(x'80' AS TEXT)), (3, 1, CAST(x'ff' AS TEXT));""")
    _, loaded, verified = migrate(params_for(db, fail_on_rejects=False))
    got = rejects(pg)
    assert set(got) == {"2"} and "row with key 1" in got["2"][1], got
    assert verified.passed, verified.to_json()
    assert [r[0] for r in pg.execute("SELECT id FROM t ORDER BY id")] == [1, 3]


def test_expression_partial_and_case_insensitive_keys_collide_as_postgres_compares(tmp_path, params_for, pg):
    """A unique index on lower(s) and a partial one (NULLs and rows outside the condition never
    collide), and a NOCASE column under a BINARY primary key (a listed, accepted collation loss): citext
    holds 'A' and 'a' as one, so 'a' is rejected, not the load stopped."""
    db = sqlite_file(tmp_path / "e.db", """
        CREATE TABLE d (id INTEGER PRIMARY KEY, s TEXT, k INTEGER, flag BOOLEAN);
        CREATE UNIQUE INDEX d_low ON d (lower(s));
        CREATE UNIQUE INDEX d_part ON d (flag) WHERE k > 0;
        INSERT INTO d VALUES (1, 'X' || char(0), 1, 1), (2, 'x' || char(65533), 2, 0), (3, 'y', 3, 'yes'),
                             (4, 'z', -1, 1), (5, NULL, -2, 1), (6, NULL, 4, NULL);
        CREATE TABLE c (code TEXT COLLATE NOCASE, n INTEGER, PRIMARY KEY (code COLLATE BINARY)) WITHOUT ROWID;
        INSERT INTO c VALUES ('A', 1), ('a', 2);""")
    the_plan, loaded, verified = migrate(params_for(db, fail_on_rejects=False, accept_losses=["collation:c.code"]))
    assert [x.item for x in the_plan.losses] == ["collation:c.code"]
    got = rejects(pg)
    assert set(got) == {"2", "3", "'a'"}, got
    assert "d_low" in got["2"][1] and got["2"][0] is None  # an expression key names no column
    assert "d_part" in got["3"][1] and got["3"][0] == "flag"
    assert "c_pkey" in got["'a'"][1]
    assert verified.passed, verified.to_json()
    assert [r[0] for r in pg.execute("SELECT id FROM d ORDER BY id")] == [1, 4, 5, 6]
    assert pg.execute("SELECT code::text, n FROM c").fetchall() == [("A", 1)]


def test_a_table_without_collisions_is_loaded_once(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "n.db", """
        CREATE TABLE t (id TEXT PRIMARY KEY, flag BOOLEAN UNIQUE);
        INSERT INTO t VALUES ('a' || char(0), 0), ('b', 1);""")
    _, loaded, verified = migrate(params_for(db))
    assert loaded.rejected == 0 and verified.passed
    creates = [s for s in loaded.statements if s.startswith("CREATE TABLE")]
    assert len(creates) == 1, creates


# --- 5. BLOBs beside unix times: blob_beside_unix_times_rejected --------------------------------------------

def test_a_column_of_blob_affinity_holding_a_blob_is_bytea_whatever_its_numbers_suggest(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "b.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, deleted_at, created_at BLOB, updated_at);
        INSERT INTO t VALUES (1, 1700000000, 1700000000000, 1700000000), (2, x'fffe', x'00', 1700000100);""")
    the_plan, loaded, verified = migrate(params_for(db))
    table = the_plan.table("t")
    assert table.column("deleted_at").pg_type == "bytea" and table.column("created_at").pg_type == "bytea"
    assert table.column("updated_at").pg_type == "timestamptz"  # no BLOB: unix seconds as before
    assert loaded.rejected == 0 and verified.passed, verified.to_json()
    assert pg.execute("SELECT id, deleted_at, created_at FROM t ORDER BY id").fetchall() == [
        (1, b"1700000000", b"1700000000000"), (2, b"\xff\xfe", b"\x00")]
