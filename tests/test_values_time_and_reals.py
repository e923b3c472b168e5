"""Reals and ISO times that arrive exactly verify, and none is changed or refused for the way it is
written (faults found by fuzzing: equal_reals_fail_verification, numeric_infinity_false_alarm,
zero_fraction_digits_listed_as_lost, iso_minutes_with_zone_rejected, date_column_drops_time), each with
the rest of its kind: every double printed alike on both sides, number words ('Infinity', 'NaN') read
as numbers wherever Postgres reads them, every ISO variant SQLite's date functions read, and no time
of day cut from a date."""

from __future__ import annotations

import math
import random
import sqlite3
import struct
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from conftest import migrate, sqlite_file
from sqlite2neon import load, plan, source
from sqlite2neon.errors import LossesNotAccepted

UTC = timezone.utc


def _insert(db, table: str, rows: list[tuple]) -> None:
    con = sqlite3.connect(db)
    con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    con.commit()
    con.close()


def _rejects(pg) -> dict[str, tuple[str, str]]:
    """source key -> (column, reason) of the rows the load rejected."""
    if pg.execute("SELECT to_regclass('_sqlite2neon.rejects')").fetchone()[0] is None:
        return {}
    return {k: (c, r) for k, c, r in pg.execute("SELECT source_key, column_name, reason FROM _sqlite2neon.rejects")}


# --- reals: one double, one canonical form on both sides ------------------------------------------------------


def test_equal_reals_verify_when_the_two_sides_shortest_digits_differ(tmp_path, params_for, pg):
    """4.20421503953307e16 is a tie between two 15-digit decimals: DuckDB prints the 15 digits,
    Postgres 17 ('4.2042150395330704e+16'); the same double must verify, as a value and as a key, in
    double precision and numeric columns (equal_reals_fail_verification)."""
    db = sqlite_file(tmp_path / "r.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, x REAL);
        CREATE TABLE n (id INTEGER PRIMARY KEY, price NUMERIC);
        CREATE TABLE k (x REAL PRIMARY KEY, note TEXT) WITHOUT ROWID;""")
    values = [4.20421503953307e16, -1.175494351e-38, 0.1, 0.5, -2.5, 1e16, 1e15 + 0.3, 5e-324,
              2.2250738585072014e-308, 1.7976931348623157e308, 123456.789]
    _insert(db, "t", list(enumerate(values)))
    _insert(db, "n", list(enumerate(values)))
    _insert(db, "k", [(v, str(v)) for v in values])
    the_plan, loaded, verified = migrate(params_for(db))

    assert the_plan.table("t").column("x").pg_type == "double precision"
    assert all(t.rejected == 0 for t in loaded.tables)
    assert verified.passed, verified.to_json()
    assert [r[0] for r in pg.execute("SELECT x FROM t ORDER BY id")] == values
    assert [float(r[0]) for r in pg.execute("SELECT price FROM n ORDER BY id")] == values
    assert sorted(r[0] for r in pg.execute("SELECT x FROM k")) == sorted(values)


def test_random_doubles_verify_bit_for_bit(tmp_path, params_for, pg):
    """Doubles from random bit patterns (every exponent, subnormals, ties): the canonical form of each
    is the same in DuckDB and in Postgres, so a clean migration verifies."""
    rng = random.Random(12)
    values = []
    while len(values) < 2000:
        v = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(v):
            values.append(v)
    db = sqlite_file(tmp_path / "d.db", "CREATE TABLE d (id INTEGER PRIMARY KEY, x DOUBLE, y);")
    _insert(db, "d", [(i, v, v) for i, v in enumerate(values)])
    _, _, verified = migrate(params_for(db))

    assert verified.passed, verified.to_json()
    assert [tuple(r) for r in pg.execute("SELECT x, y FROM d ORDER BY id")] == [(v, v) for v in values]


def test_a_real_changed_by_one_ulp_is_a_difference(tmp_path, params_for, pg):
    """The form is exact: a neighbouring double (changed behind the runbook's back) does not verify."""
    from sqlite2neon import verify

    db = sqlite_file(tmp_path / "u.db", "CREATE TABLE u (id INTEGER PRIMARY KEY, x REAL);")
    _insert(db, "u", [(1, 4.20421503953307e16)])
    params = params_for(db)
    _, _, verified = migrate(params)
    assert verified.passed, verified.to_json()
    pg.execute("UPDATE u SET x = %s", [math.nextafter(4.20421503953307e16, math.inf)])
    assert not verify.step(params).passed


# --- infinities and NaN -----------------------------------------------------------------------------------------


def test_infinities_and_nan_in_numeric_and_real_columns(tmp_path, params_for, pg):
    """An infinite real in a numeric column arrives as Infinity and verifies (numeric_infinity_false_alarm).
    The words Postgres reads as float8 and numeric (PostgreSQL docs 8.1.2, 8.1.3: 'Infinity', 'inf',
    'NaN', any case, signed infinities), which SQLite keeps as text in a REAL or NUMERIC column, are those
    numbers on load and on verification alike; other text DuckDB would read ('1_000', 'nan(1)') is
    rejected as no number. NaN fits numeric(5,2), an infinity does not."""
    db = sqlite_file(tmp_path / "i.db", """
        CREATE TABLE n (id INTEGER PRIMARY KEY, amount NUMERIC, x REAL, price DECIMAL(5,2));
        INSERT INTO n VALUES (1, 9e999, 9e999, 1.5), (2, -9e999, -9e999, 'NaN'), (3, 'Infinity', 'Infinity', 2),
                             (4, '-INF', ' -inf ', 3), (5, 'NaN', 'nan', 'nan'), (6, '+inf', '+Infinity', 4),
                             (7, 1.5, 2.5, 9e999), (8, 2, '1_000', 5), (9, 3, 'nan(1)', 6), (10, '1_000', 4, 7);""")
    params = params_for(db, fail_on_rejects=False)
    the_plan, loaded, verified = migrate(params)

    t = the_plan.table("n")
    assert [t.column(c).pg_type for c in ("amount", "x", "price")] == ["numeric", "double precision", "numeric(5,2)"]
    assert verified.passed, verified.to_json()
    got = {r[0]: r[1:] for r in pg.execute("SELECT id, amount::text, x::text, price::text FROM n")}
    assert got[1] == ("Infinity", "Infinity", "1.50")
    assert got[2] == ("-Infinity", "-Infinity", "NaN")
    assert got[3] == ("Infinity", "Infinity", "2.00")
    assert got[4] == ("-Infinity", "-Infinity", "3.00")
    assert got[5] == ("NaN", "NaN", "NaN")
    assert got[6] == ("Infinity", "Infinity", "4.00")
    rejects = _rejects(pg)
    assert set(rejects) == {"7", "8", "9", "10"} and set(got) == set(range(1, 7))
    assert rejects["7"] == ("price", "price: too large for numeric(5,2)")
    assert rejects["8"] == ("x", "x: not a number") and rejects["9"] == ("x", "x: not a number")
    assert rejects["10"] == ("amount", "amount: not a number for numeric")


# --- ISO text ---------------------------------------------------------------------------------------------------


ISO_VARIANTS = {
    "2000-01-01T00:00:00.0000000": datetime(2000, 1, 1, tzinfo=UTC),  # zeros beyond microseconds: nothing cut
    "2000-01-01 10:30:15.123456000": datetime(2000, 1, 1, 10, 30, 15, 123456, tzinfo=UTC),
    "2000-01-01T10:30:15.000000000Z": datetime(2000, 1, 1, 10, 30, 15, tzinfo=UTC),
    "2000-01-01": datetime(2000, 1, 1, tzinfo=UTC),
    "2000-01-01T00:00Z": datetime(2000, 1, 1, tzinfo=UTC),
    "2000-01-01 10:30+02:00": datetime(2000, 1, 1, 8, 30, tzinfo=UTC),
    "2000-01-01 10:30+0200": datetime(2000, 1, 1, 8, 30, tzinfo=UTC),
    "2000-01-01 10:30+02": datetime(2000, 1, 1, 8, 30, tzinfo=UTC),
    "2000-01-01T10:30-05:30": datetime(2000, 1, 1, 16, 0, tzinfo=UTC),
    "2000-01-01 10:30": datetime(2000, 1, 1, 10, 30, tzinfo=UTC),
    "2000-01-01T10:30:15": datetime(2000, 1, 1, 10, 30, 15, tzinfo=UTC),
    "2000-01-01T10:30:15Z": datetime(2000, 1, 1, 10, 30, 15, tzinfo=UTC),
    "2000-01-01 10:30:15.5-05:00": datetime(2000, 1, 1, 15, 30, 15, 500000, tzinfo=UTC),
    "2000-01-01 10:30:15+0230": datetime(2000, 1, 1, 8, 0, 15, tzinfo=UTC),
    "2000-01-01 10:30:15.1+02": datetime(2000, 1, 1, 8, 30, 15, 100000, tzinfo=UTC),
    "2000-01-01t10:30z": datetime(2000, 1, 1, 10, 30, tzinfo=UTC),  # RFC 3339 5.6: lower case allowed
    "2000-01-01T10:30:15z": datetime(2000, 1, 1, 10, 30, 15, tzinfo=UTC),
    "2000-01-01 10:30 +02:00": datetime(2000, 1, 1, 8, 30, tzinfo=UTC),  # SQLite reads a space before the zone
    "2000-01-01T10:30:15.25 Z": datetime(2000, 1, 1, 10, 30, 15, 250000, tzinfo=UTC),
    " 2000-01-01T10:30Z ": datetime(2000, 1, 1, 10, 30, tzinfo=UTC),
}


def test_every_iso_variant_arrives_without_a_loss_or_a_reject(tmp_path, params_for, pg):
    """The forms of ISO 8601 text SQLite's date functions read (https://www.sqlite.org/lang_datefunc.html
    section 2), with RFC 3339's lower case and ISO's +HHMM / +HH offsets: HH:MM with a zone
    (iso_minutes_with_zone_rejected) and fractions whose digits beyond the sixth are zeros
    (zero_fraction_digits_listed_as_lost) arrive, with no listed loss and no reject."""
    db = sqlite_file(tmp_path / "iso.db", "CREATE TABLE e (id INTEGER PRIMARY KEY, created_at DATETIME NOT NULL);")
    texts = list(ISO_VARIANTS)
    _insert(db, "e", list(enumerate(texts)))
    params = params_for(db)
    source.step(params)
    the_plan = plan.step(params)

    assert the_plan.table("e").column("created_at").pg_type == "timestamptz"
    assert [x.item for x in the_plan.losses] == []
    _, loaded, verified = migrate(params)
    assert loaded.tables[0].rejected == 0 and verified.passed, verified.to_json()
    got = dict(pg.execute("SELECT id, created_at FROM e").fetchall())
    assert {texts[i]: v for i, v in got.items()} == ISO_VARIANTS


def test_nonzero_digits_beyond_microseconds_are_still_a_listed_loss(tmp_path, params_for):
    db = sqlite_file(tmp_path / "ns.db", """
        CREATE TABLE e (id INTEGER PRIMARY KEY, created_at DATETIME);
        INSERT INTO e VALUES (1, '2000-01-01T00:00:00.0000000'), (2, '2000-01-01T00:00:00.0000001Z'),
                             (3, '2000-01-01 10:00:00.123456000');""")
    params = params_for(db)
    profile = source.step(params)
    assert profile.table("e").column("created_at").sub_microsecond == 1
    loss = {x.item: x for x in plan.step(params).losses}["value:e.created_at"]
    assert "1 value(s)" in loss.reason and "0000001Z" in loss.reason
    with pytest.raises(LossesNotAccepted):
        load.step(params)


def test_text_that_is_no_iso_time_is_still_rejected(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "bad.db", """
        CREATE TABLE e (id INTEGER PRIMARY KEY, created_at DATETIME);
        INSERT INTO e VALUES (1, '2000-01-01 10:30'), (2, '2000-13-01 10:30Z'), (3, '2000-01-01 10:30+2'),
                             (4, 'yesterday'), (5, '2000-01-01T25:00Z');""")
    _, loaded, verified = migrate(params_for(db, fail_on_rejects=False))

    assert verified.passed, verified.to_json()
    assert [r[0] for r in pg.execute("SELECT id FROM e")] == [1]
    assert {k: r for k, (_, r) in _rejects(pg).items()} == {
        k: "created_at: not a date and time" for k in ("2", "3", "4", "5")}


# --- DATE columns ------------------------------------------------------------------------------------------------


def test_a_date_column_holding_times_of_day_becomes_timestamptz(tmp_path, params_for, pg):
    """A DATE column whose text carries a time of day (date_column_drops_time) is planned timestamptz,
    with a note, so no time is cut to its date; dates alone arrive as midnight UTC."""
    db = sqlite_file(tmp_path / "dt.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, due DATE);
        INSERT INTO t VALUES (1, '2091-07-11 13:27'), (2, '2024-02-29'), (3, '2000-01-01T00:00:00Z'),
                             (4, '2000-01-01T00:00+02:00'), (5, NULL);""")
    params = params_for(db)
    profile = source.step(params)
    assert profile.table("t").column("due").times_of_day == 2
    the_plan, loaded, verified = migrate(params)

    col = the_plan.table("t").column("due")
    assert col.pg_type == "timestamptz" and any("time of day" in n and "2091-07-11 13:27" in n for n in col.notes)
    assert the_plan.losses == [] or not [x for x in the_plan.losses if x.item == "value:t.due"]
    assert loaded.tables[0].rejected == 0 and verified.passed, verified.to_json()
    got = dict(pg.execute("SELECT id, due FROM t").fetchall())
    assert got == {1: datetime(2091, 7, 11, 13, 27, tzinfo=UTC), 2: datetime(2024, 2, 29, tzinfo=UTC),
                   3: datetime(2000, 1, 1, tzinfo=UTC), 4: datetime(1999, 12, 31, 22, 0, tzinfo=UTC), 5: None}


def test_a_date_column_of_dates_and_midnights_stays_date(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "d.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, due DATE);
        INSERT INTO t VALUES (1, '2024-02-29'), (2, '2000-01-01 00:00'), (3, '2000-01-02T00:00:00.000Z'),
                             (4, '2024-02-30');""")
    the_plan, loaded, verified = migrate(params_for(db, fail_on_rejects=False))

    assert the_plan.table("t").column("due").pg_type == "date"
    assert verified.passed, verified.to_json()
    assert dict(pg.execute("SELECT id, due FROM t").fetchall()) == {
        1: date(2024, 2, 29), 2: date(2000, 1, 1), 3: date(2000, 1, 2)}
    assert set(_rejects(pg)) == {"4"}


def test_a_date_override_rejects_a_time_of_day_rather_than_cut_it(tmp_path, params_for, pg):
    """Overridden to date, a value with a time of day has no date value: rejected with its reason,
    never loaded as its date alone (verification would then agree with a changed value)."""
    db = sqlite_file(tmp_path / "o.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, due TEXT);
        INSERT INTO t VALUES (1, '2091-07-11 13:27'), (2, '2024-02-29'), (3, '2000-01-01T10:00:00+02:00');""")
    params = params_for(db, fail_on_rejects=False, column_overrides={"t.due": {"type": "date"}})
    _, _, verified = migrate(params)

    assert verified.passed, verified.to_json()
    assert dict(pg.execute("SELECT id, due FROM t").fetchall()) == {2: date(2024, 2, 29)}
    assert {k: c for k, (c, _) in _rejects(pg).items()} == {"1": "due", "3": "due"}


def test_iso_variants_in_a_date_column_are_timestamps(tmp_path, params_for, pg):
    """The DATE column's times are read with the same ISO variants as any timestamp column."""
    db = sqlite_file(tmp_path / "dv.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, due DATE);")
    texts = list(ISO_VARIANTS)
    _insert(db, "t", list(enumerate(texts)))
    the_plan, loaded, verified = migrate(params_for(db))

    assert the_plan.table("t").column("due").pg_type == "timestamptz"
    assert loaded.tables[0].rejected == 0 and verified.passed, verified.to_json()
    got = dict(pg.execute("SELECT id, due FROM t").fetchall())
    assert {texts[i]: v for i, v in got.items()} == ISO_VARIANTS


def test_a_real_override_verifies_its_single_precision_values(tmp_path, params_for, pg):
    """Overridden to Postgres real (float4), values exact in single precision verify: both sides
    print the float widened to a double, with the same 17 digits."""
    db = sqlite_file(tmp_path / "f4.db", """
        CREATE TABLE f (id INTEGER PRIMARY KEY, x REAL);
        INSERT INTO f VALUES (1, 0.5), (2, 1e10), (3, 3.4028234663852886e38), (4, 1.401298464324817e-45),
                             (5, -16777216.0), (6, 9e999);""")
    _, loaded, verified = migrate(params_for(db, column_overrides={"f.x": {"type": "real"}}))

    assert loaded.tables[0].rejected == 0 and verified.passed, verified.to_json()
    assert [r[0] for r in pg.execute("SELECT x::float8 FROM f ORDER BY id")] == [
        0.5, 1e10, 3.4028234663852886e38, 1.401298464324817e-45, -16777216.0, math.inf]


def test_defaults_read_as_the_values_are(tmp_path, params_for, pg):
    """A DEFAULT is converted as a value of its column is (translate._constant_default mirrors
    convert.py): ISO variants and number words are values; a time of day on a date column is not,
    and is listed rather than cut to its date."""
    db = sqlite_file(tmp_path / "def.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, at DATETIME DEFAULT '2024-01-01t10:00z',
                        at2 DATETIME DEFAULT '2024-01-01 10:00 +02', due DATE DEFAULT '2024-01-01',
                        n NUMERIC DEFAULT 'Infinity', x REAL DEFAULT 'NaN', p DECIMAL(5,2) DEFAULT 'nan');
        INSERT INTO t (id, due) VALUES (1, '2091-07-11 13:27');
        CREATE TABLE d (id INTEGER PRIMARY KEY, day DATE DEFAULT '2024-01-01 10:00');
        INSERT INTO d VALUES (1, '2024-02-29');""")
    params = params_for(db)
    source.step(params)
    the_plan = plan.step(params)
    assert [x.item for x in the_plan.losses] == ["default:d.day"]

    _, _, verified = migrate(params_for(db, accept_losses=["default:d.day"], run_dir=str(tmp_path / "accepted")))
    assert verified.passed, verified.to_json()
    pg.execute("INSERT INTO t (id) VALUES (2)")
    assert pg.execute("SELECT at, at2, due, n::text, x::text, p::text FROM t WHERE id = 2").fetchone() == (
        datetime(2024, 1, 1, 10, tzinfo=UTC), datetime(2024, 1, 1, 8, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC),
        "Infinity", "NaN", "NaN")


def test_a_date_column_holding_times_and_unix_numbers_reads_them_as_a_datetime_column_does(tmp_path, params_for, pg):
    """Planned timestamptz for its times of day, a DATE column's numbers are unix times in the unit
    their range says, as in a DATETIME column (found by fuzzing: they were read as seconds whatever
    their range)."""
    db = sqlite_file(tmp_path / "du.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, due_on DATE);
        INSERT INTO t VALUES (1, '2091-07-11 13:27'), (2, 1700000000123), (3, '2024-02-29');""")
    the_plan, loaded, verified = migrate(params_for(db))

    col = the_plan.table("t").column("due_on")
    assert (col.pg_type, col.convert) == ("timestamptz", "unix_millis")
    assert loaded.tables[0].rejected == 0 and verified.passed, verified.to_json()
    assert dict(pg.execute("SELECT id, due_on FROM t").fetchall()) == {
        1: datetime(2091, 7, 11, 13, 27, tzinfo=UTC), 2: datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC),
        3: datetime(2024, 2, 29, tzinfo=UTC)}
