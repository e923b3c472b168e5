"""The load's fast paths against inputs they were not written for: timestamptz sent as naive UTC text
(TimeZone UTC in the table's transaction) into a target whose database, or role, reads times in
another zone; ISO text of the usual shape cast directly (convert.plain_iso_first) beside the forms
the full pattern reads; rejects when two columns of one row fail (each value converted once)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from conftest import migrate, sqlite_file

UTC = timezone.utc

# text SQLite's datetime() reads -> the instant it names (UTC when no zone is written)
TEXTS = {
    "2021-03-14 02:30:00": datetime(2021, 3, 14, 2, 30, tzinfo=UTC),  # New York's DST gap
    "2021-11-07 01:30:00": datetime(2021, 11, 7, 1, 30, tzinfo=UTC),  # ... and its repeated hour
    "2021-03-28T02:30": datetime(2021, 3, 28, 2, 30, tzinfo=UTC),  # Europe's gap, minutes only
    "0999-12-31 23:59:59": datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),  # year below 1000: full pattern
    "1000-01-01 00:00:00": datetime(1000, 1, 1, tzinfo=UTC),
    "0001-01-01 00:00:00": datetime(1, 1, 1, tzinfo=UTC),
    "9999-12-31 23:59:59.999999": datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    "2000-01-01 24:00:00": datetime(2000, 1, 2, tzinfo=UTC),
    "2000-01-01 10:30:15.1234560": datetime(2000, 1, 1, 10, 30, 15, 123456, tzinfo=UTC),  # 7 digits, zero last
    "2000-01-01 10:30:15.000001": datetime(2000, 1, 1, 10, 30, 15, 1, tzinfo=UTC),
    "2000-01-01 10:30:15.1": datetime(2000, 1, 1, 10, 30, 15, 100000, tzinfo=UTC),
    "2000-01-01 10:30:15Z": datetime(2000, 1, 1, 10, 30, 15, tzinfo=UTC),
    "2000-01-01T10:30:15": datetime(2000, 1, 1, 10, 30, 15, tzinfo=UTC),
    "2000-01-01 10:30:15-05:00": datetime(2000, 1, 1, 15, 30, 15, tzinfo=UTC),
    "2000-01-01 00:00:00+14:00": datetime(1999, 12, 31, 10, tzinfo=UTC),
    "2000-01-01": datetime(2000, 1, 1, tzinfo=UTC),
    "2024-02-29 00:00:00": datetime(2024, 2, 29, tzinfo=UTC),
}


def _db(tmp_path: Path) -> Path:
    db = sqlite_file(tmp_path / "tz.db", "CREATE TABLE e (id INTEGER PRIMARY KEY, at DATETIME NOT NULL, seen_at INTEGER);")
    con = sqlite3.connect(db)
    con.executemany("INSERT INTO e VALUES (?, ?, ?)",
                    [(i, t, 1_600_000_000 + i) for i, t in enumerate(TEXTS)])
    con.commit()
    con.close()
    return db


def _other_zone(pg, role_zone: str | None = None) -> None:
    """The target database reads times in New York (and the role, in it, in `role_zone`)."""
    name = pg.execute("SELECT current_database()").fetchone()[0]
    pg.execute(f"ALTER DATABASE \"{name}\" SET timezone = 'America/New_York'")
    if role_zone:
        pg.execute(f"ALTER ROLE CURRENT_USER IN DATABASE \"{name}\" SET timezone = '{role_zone}'")



def test_timestamptz_arrive_as_utc_in_a_database_of_another_timezone(tmp_path, params_for, pg):
    db = _db(tmp_path)
    _other_zone(pg)
    params = params_for(db, timestamp_years="1-9999")
    _, loaded, verified = migrate(params)
    assert loaded.tables[0].rejected == 0 and verified.passed, verified.to_json()
    texts = list(TEXTS)
    got = {texts[i]: v for i, v in pg.execute("SELECT id, at FROM e")}
    assert got == TEXTS
    numbers = dict(pg.execute("SELECT id, extract(epoch FROM seen_at)::bigint FROM e"))
    assert numbers == {i: 1_600_000_000 + i for i in range(len(TEXTS))}


def test_timestamptz_arrive_as_utc_for_a_role_of_another_timezone(tmp_path, params_for, pg):
    db = _db(tmp_path)
    _other_zone(pg, role_zone="Asia/Kolkata")
    _, loaded, verified = migrate(params_for(db, timestamp_years="1-9999"))
    assert loaded.tables[0].rejected == 0 and verified.passed, verified.to_json()
    texts = list(TEXTS)
    assert {texts[i]: v for i, v in pg.execute("SELECT id, at FROM e")} == TEXTS


def test_adopted_timestamp_columns_hold_the_utc_wall_time_in_a_database_of_another_timezone(tmp_path, params_for, pg):
    """An app's own table (target_ddl) with `timestamp` (without time zone) and `timestamptz` columns:
    the first holds the UTC wall time, the second the instant, whatever the database's TimeZone."""
    db = sqlite_file(tmp_path / "a.db", """
        CREATE TABLE a (id INTEGER PRIMARY KEY, naive TEXT, aware TEXT, n_at INTEGER);
        INSERT INTO a VALUES (1, '2021-03-14 02:30:00', '2021-03-14 02:30:00', 1615689000),
                             (2, '2000-01-01 24:00:00', '2000-01-01T10:30:15.1234560', 946684800),
                             (3, '0999-01-01 00:00:00', '0999-01-01 00:00:00', 0);""")
    ddl = tmp_path / "schema.sql"
    ddl.write_text("CREATE SCHEMA IF NOT EXISTS app;\n"
                   "CREATE TABLE app.a (id bigint PRIMARY KEY, naive timestamp, aware timestamptz, n_at timestamp);")
    _other_zone(pg)
    _, loaded, verified = migrate(params_for(db, target_schema="app", target_ddl=str(ddl), timestamp_years="1-9999"))
    assert loaded.tables[0].rejected == 0 and verified.passed, verified.to_json()
    got = pg.execute("SELECT id, naive, aware, n_at FROM app.a ORDER BY id").fetchall()
    assert got == [
        (1, datetime(2021, 3, 14, 2, 30), datetime(2021, 3, 14, 2, 30, tzinfo=UTC), datetime(2021, 3, 14, 2, 30)),
        (2, datetime(2000, 1, 2), datetime(2000, 1, 1, 10, 30, 15, 123456, tzinfo=UTC), datetime(2000, 1, 1)),
        (3, datetime(999, 1, 1), datetime(999, 1, 1, tzinfo=UTC), datetime(1970, 1, 1)),
    ]


def test_a_row_failing_in_two_columns_is_rejected_naming_the_first(tmp_path, params_for, pg):
    """Each value is converted once (v0..vN) and the first failing column (__fail) names the reject:
    its column, reason and raw value, whichever other column of the row fails too."""
    db = sqlite_file(tmp_path / "r.db", """
        CREATE TABLE r (id INTEGER PRIMARY KEY, at DATETIME, b BOOLEAN, c TEXT);
        INSERT INTO r VALUES (1, 'yesterday', 'maybe', 'abcdef'), (2, '2000-01-01 10:00', 'maybe', 'abcdef'),
                             (3, '2000-01-01 10:00', 1, 'abcdef'), (4, '2000-13-01 10:00', 1, 'abc'),
                             (5, '2000-01-01 10:00', 1, 'abc');""")
    ddl = tmp_path / "schema.sql"
    ddl.write_text("CREATE SCHEMA IF NOT EXISTS app;\n"
                   "CREATE TABLE app.r (id bigint PRIMARY KEY, at timestamptz, b boolean, c varchar(3));")
    _, loaded, verified = migrate(params_for(db, target_schema="app", target_ddl=str(ddl), fail_on_rejects=False))
    rejects = {k: (c, v, r) for k, c, v, r in pg.execute(
        "SELECT source_key, column_name, original_value, reason FROM _sqlite2neon.rejects")}
    iso = "not ISO 8601 text SQLite reads as a date and time (its datetime() gives NULL)"
    assert rejects == {"1": ("at", "yesterday", f"at: {iso}"), "2": ("b", "maybe", "b: not 0/1 or a boolean word"),
                       "3": ("c", "abcdef", "c: longer than 3 characters"),
                       "4": ("at", "2000-13-01 10:00", f"at: {iso}")}, rejects
    assert pg.execute("SELECT id, at FROM app.r").fetchall() == [(5, datetime(2000, 1, 1, 10, tzinfo=UTC))]
    assert verified.passed, verified.to_json()


def test_defaults_and_unique_collisions_of_instants_in_a_database_of_another_timezone(tmp_path, params_for, pg):
    """A DEFAULT of naive ISO text is the UTC instant SQLite means, made in the table's transaction;
    two texts of one instant under a unique key: the second is rejected, the shared value shown in UTC."""
    db = sqlite_file(tmp_path / "d.db", """
        CREATE TABLE d (id INTEGER PRIMARY KEY, at DATETIME UNIQUE, made_at DATETIME DEFAULT '2020-01-01 10:00:00');
        INSERT INTO d VALUES (1, '2000-01-01 10:00:00', '2021-03-14 02:30:00'), (2, '2000-01-01T10:00:00Z', NULL),
                             (3, '2000-01-01 05:00:00-05:00', NULL), (4, '2000-01-01 10:00:01', NULL);""")
    _other_zone(pg)
    _, loaded, verified = migrate(params_for(db, fail_on_rejects=False))
    assert verified.passed, verified.to_json()
    assert sorted(pg.execute("SELECT id FROM d")) == [(1,), (4,)]
    reasons = dict(pg.execute("SELECT source_key, reason FROM _sqlite2neon.rejects"))
    assert set(reasons) == {"2", "3"}
    assert all("(2000-01-01 10:00:00+00)" in r for r in reasons.values()), reasons
    pg.execute("INSERT INTO d (id, at) VALUES (9, '2001-01-01 00:00:00+00')")
    assert pg.execute("SELECT made_at FROM d WHERE id = 9").fetchone()[0] == datetime(2020, 1, 1, 10, tzinfo=UTC)
