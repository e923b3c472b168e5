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
    "2000-01-01T10:30-05:30": datetime(2000, 1, 1, 16, 0, tzinfo=UTC),
    "2000-01-01 10:30": datetime(2000, 1, 1, 10, 30, tzinfo=UTC),
    "2000-01-01T10:30:15": datetime(2000, 1, 1, 10, 30, 15, tzinfo=UTC),
    "2000-01-01T10:30:15Z": datetime(2000, 1, 1, 10, 30, 15, tzinfo=UTC),
    "2000-01-01 10:30:15.5-05:00": datetime(2000, 1, 1, 15, 30, 15, 500000, tzinfo=UTC),
    "2000-01-01T10:30:15z": datetime(2000, 1, 1, 10, 30, 15, tzinfo=UTC),
    "2000-01-01 10:30 +02:00": datetime(2000, 1, 1, 8, 30, tzinfo=UTC),  # SQLite reads a space before the zone
    "2000-01-01T10:30:15.25 Z": datetime(2000, 1, 1, 10, 30, 15, 250000, tzinfo=UTC),
    "2000-01-01T10:30Z ": datetime(2000, 1, 1, 10, 30, tzinfo=UTC),  # white space after, never before
    "2000-01-01T24:00": datetime(2000, 1, 2, tzinfo=UTC),  # SQLite reads hour 24 as the next day's midnight
    "2000-01-01T24:30:15+01:00": datetime(2000, 1, 1, 23, 30, 15, tzinfo=UTC),
    "2000-01-01TT 10:30": datetime(2000, 1, 1, 10, 30, tzinfo=UTC),  # any run of T and spaces between
    "2000-01-0110:30": datetime(2000, 1, 1, 10, 30, tzinfo=UTC),  # ... or none
    "2000-01-01T": datetime(2000, 1, 1, tzinfo=UTC),
    "2000-01-01 10:30:15.5\t+14:00\n": datetime(1999, 12, 31, 20, 30, 15, 500000, tzinfo=UTC),
}


def test_every_iso_variant_arrives_without_a_loss_or_a_reject(tmp_path, params_for, pg):
    """The forms of ISO 8601 text SQLite's date functions read (https://www.sqlite.org/lang_datefunc.html
    section 2, and date.c), and only those (test_each_d1_value_as_sqlite_reads_it): HH:MM with a zone
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
        k: "created_at: not ISO 8601 text SQLite reads as a date and time (its datetime() gives NULL)"
        for k in ("2", "3", "4", "5")}


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
        CREATE TABLE t (id INTEGER PRIMARY KEY, at DATETIME DEFAULT '2024-01-01T10:00z',
                        at2 DATETIME DEFAULT '2024-01-01 10:00 +02:00', due DATE DEFAULT '2024-01-01',
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


# --- what SQLite's date functions read, and only that (issue 12: no value changed in silence) ------------------

# The attack's list (D1): each text or number in a DATETIME column, and what the run makes of it: its
# instant (UTC), "reject" (SQLite's datetime() gives NULL, or the value names no fixed instant, or no day
# of the calendar), or "loss" (a listed loss: outside timestamp_years, digits beyond microseconds).
D1 = {
    "2024-02-29T24:00:00": datetime(2024, 3, 1, tzinfo=UTC),  # SQLite: hour 24 is the next midnight
    "2024-01-01 10:00:00 +0530": "reject",  # SQLite reads offsets as +HH:MM only
    "now": "reject",  # the time it is read: no instant to carry
    "2024-01-01 10:00": datetime(2024, 1, 1, 10, tzinfo=UTC),
    "2024-01-01T10:00:00.5Z": datetime(2024, 1, 1, 10, 0, 0, 500000, tzinfo=UTC),
    "2024-01-01 10:00:00+05": "reject",
    "2024-01-01 10:00:60": "reject",
    "0000-01-01 00:00:00": "loss",  # outside 1900-2200
    "2024-1-1 10:00:00": "reject",
    "2024-01-01 10:00:00-00:00": datetime(2024, 1, 1, 10, tzinfo=UTC),
    "2024-01-01T10:00:00+14:00": datetime(2023, 12, 31, 20, tzinfo=UTC),
    "2024-01-01 10:00:00+24:00": "reject",  # SQLite's offsets go to 14 hours
    "2024-01-01 10:00:00 Z": datetime(2024, 1, 1, 10, tzinfo=UTC),
    "2024-01-01 10:00:00z": datetime(2024, 1, 1, 10, tzinfo=UTC),
    "2024-01-01t10:00:00": "reject",  # SQLite reads an upper-case T only
    "2460000.5": datetime(2023, 2, 25, tzinfo=UTC),  # NUMERIC affinity: the real 2460000.5, a Julian day
    " 2024-01-01 10:00:00": "reject",  # SQLite reads no date after white space
    "2024-01-01 10:00:00 ": datetime(2024, 1, 1, 10, tzinfo=UTC),
    "2024-06-31 10:00:00": "reject",  # SQLite reads 1 July; no such day for Postgres: rejected, not moved
    "10:00:00": "reject",  # SQLite reads it on 2000-01-01
    "2024-01-01 10:00:00.1234560": datetime(2024, 1, 1, 10, 0, 0, 123456, tzinfo=UTC),
    "2024-01-01 10:00:00,5": "reject",
    "2024-01-01 25:00:00": "reject",
    "2024-01-01 10:00:00+05:30:00": "reject",
    "2024-01-01 10:00:00 UTC": "reject",
    "-0001-01-01 00:00:00": "reject",
    "9999-12-31 23:59:59.9999999": "loss",  # outside 1900-2200, and a digit beyond microseconds
}


def test_each_d1_value_as_sqlite_reads_it(tmp_path, params_for, pg):
    """Every value of the attack's list D1 in a DATETIME column: the listed losses name exactly the
    values outside the years and beyond microseconds; each value SQLite's datetime() reads as a day of
    the calendar arrives as SQLite's instant (checked against SQLite's own julianday() to the
    millisecond); every other one is rejected with its reason, none loaded as some other instant."""
    db = sqlite_file(tmp_path / "d1.db", "CREATE TABLE ev (id INTEGER PRIMARY KEY, at DATETIME);")
    texts = list(D1)
    _insert(db, "ev", [(i + 1, t) for i, t in enumerate(texts)])
    params = params_for(db, fail_on_rejects=False)
    source.step(params)
    loss = {x.item: x for x in plan.step(params).losses}["value:ev.at"]
    assert "2 text value(s) fall outside the years 1900-2200 (e.g. '0000-01-01 00:00:00')" in loss.reason
    assert "1 value(s) have digits beyond microseconds" in loss.reason and "9999-12-31 23:59:59.9999999" in loss.reason

    _, loaded, verified = migrate(params_for(db, fail_on_rejects=False, accept_losses=["value:ev.at"],
                                             run_dir=str(tmp_path / "accepted")))
    assert verified.passed, verified.to_json()
    # year 0 is 1 BC, which Python's datetime cannot hold: read as unix seconds
    got = {texts[i - 1]: v for i, v in pg.execute("SELECT id, at FROM ev WHERE at >= '0001-01-01Z'")}
    assert pg.execute("SELECT id, extract(epoch FROM at) FROM ev WHERE at < '0001-01-01Z'").fetchall() == [
        (8, Decimal("-62167219200.000000"))]
    rejected = {texts[int(k) - 1]: reason for k, (_, reason) in _rejects(pg).items()}
    assert {t: v for t, v in got.items() if D1[t] != "loss"} == {t: v for t, v in D1.items() if isinstance(v, datetime)}
    assert set(rejected) == {t for t, v in D1.items() if v == "reject"}
    assert got["9999-12-31 23:59:59.9999999"] == datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert rejected["now"] == "at: now: SQLite reads the time it is when read, no instant"
    assert rejected["10:00:00"] == "at: a time of day without a date (SQLite reads it on 2000-01-01)"
    assert rejected["2024-06-31 10:00:00"] == "at: no such day in the calendar"
    assert rejected["2024-01-01 10:00:00+24:00"].endswith("(its datetime() gives NULL)")
    con = sqlite3.connect(db)
    for i, text in enumerate(texts):
        (julian,) = con.execute("SELECT julianday(at) FROM ev WHERE id = ?", (i + 1,)).fetchone()
        if isinstance(D1[text], datetime):  # SQLite's own instant, to its millisecond
            assert abs((julian - 2440587.5) * 86400 - D1[text].timestamp()) < 0.001, text
        elif julian is None:
            assert D1[text] in ("reject", "loss"), text


# --- Julian day numbers ------------------------------------------------------------------------------------------


def _jd(at: datetime) -> float:
    return at.timestamp() / 86400 + 2440587.5


def test_julian_day_numbers_arrive_as_the_instants_sqlite_reads(tmp_path, params_for, pg):
    """Reals from julianday() (and integers, and number text in a column without affinity) in DATETIME,
    DATE and TIMESTAMP columns, and in a REAL column named like a time: the plan shows the unit
    julian_day and says the reading is ambiguous (as unix seconds each lands in January 1970, inside
    the default years); each arrives as SQLite's datetime() reads it, to the millisecond."""
    db = sqlite_file(tmp_path / "jd.db", """
        CREATE TABLE a (id INTEGER PRIMARY KEY, created DATETIME, day DATE, ts TIMESTAMP, updated_at REAL, seen_at);""")
    con = sqlite3.connect(db)
    con.executescript("""
        INSERT INTO a VALUES (1, 2460000.5, 2460000.5, 2460000, 2460310.9166666665, '2460000.25');  -- text: no affinity
        INSERT INTO a VALUES (2, julianday('2024-02-29 13:14:15.678'), 2415020.5, 2524958.25, 2451544.5, 2451545);
        INSERT INTO a VALUES (3, NULL, 2460000.5, julianday('1999-12-31 23:59:59.999'), 2460370.25, ' 2460000.5 ');""")
    con.commit()
    expected = {}
    for row in con.execute("SELECT id, strftime('%Y-%m-%d %H:%M:%f', created), strftime('%Y-%m-%d %H:%M:%f', day), "
                           "strftime('%Y-%m-%d %H:%M:%f', ts), strftime('%Y-%m-%d %H:%M:%f', updated_at), "
                           "strftime('%Y-%m-%d %H:%M:%f', seen_at) FROM a"):
        expected[row[0]] = tuple(None if v is None else datetime.fromisoformat(v).replace(tzinfo=UTC) for v in row[1:])
    con.close()
    params = params_for(db)
    source.step(params)
    the_plan = plan.step(params)
    for name in ("created", "day", "ts", "updated_at", "seen_at"):
        col = the_plan.table("a").column(name)
        assert (col.pg_type, col.convert) == ("timestamptz", "julian_day"), name
        assert any(n.startswith("Julian day numbers") for n in col.notes), col.notes
        assert any(n.startswith("AMBIGUOUS: read as unix seconds") for n in col.notes), col.notes
    assert the_plan.losses == []

    _, loaded, verified = migrate(params)
    assert loaded.tables[0].rejected == 0 and verified.passed, verified.to_json()
    got = {r[0]: tuple(r[1:]) for r in pg.execute("SELECT id, created, day, ts, updated_at, seen_at FROM a")}
    assert got == expected
    assert got[2][0] == datetime(2024, 2, 29, 13, 14, 15, 678000, tzinfo=UTC)
    assert got[1][3] == datetime(2024, 1, 1, 10, tzinfo=UTC)  # 2460310.9166666665: SQLite's millisecond


def test_julian_days_outside_the_years_or_mixed_with_unix_times_are_listed(tmp_path, params_for):
    """A Julian day outside timestamp_years is a listed loss with its year; Julian days beside unix
    seconds fit two units: a listed loss, never a silent reading of one as the other; beside numbers
    that fit no unit, they decide the unit, and the others are listed."""
    db = sqlite_file(tmp_path / "jx.db", """
        CREATE TABLE a (id INTEGER PRIMARY KEY, created DATETIME);
        INSERT INTO a VALUES (1, 2460000.5), (2, 2460001.5), (3, 2488070.5);
        CREATE TABLE m (id INTEGER PRIMARY KEY, updated_at DATETIME);
        INSERT INTO m VALUES (1, 2460000.5), (2, 1700000000), (3, 1700000001);
        CREATE TABLE z (id INTEGER PRIMARY KEY, seen_at DATETIME);
        INSERT INTO z VALUES (1, 2460000.5), (2, 0);""")
    params = params_for(db, timestamp_years="1900-2099")
    source.step(params)
    the_plan = plan.step(params)
    losses = {x.item: x.reason for x in the_plan.losses}
    assert the_plan.table("a").column("created").convert == "julian_day"
    assert "1 value(s) fall outside the years 1900-2099 (e.g. 2488070.5 read as Julian days is the year 2100)" \
        in losses["value:a.created"]
    assert the_plan.table("m").column("updated_at").convert == "unix_seconds"
    assert "fit more than one unit" in losses["value:m.updated_at"]
    # only the Julian days fit a unit: read so, 0 is the year -4713 (listed); read as seconds, the Julian
    # days would land in 1970 in silence
    assert the_plan.table("z").column("seen_at").convert == "julian_day"
    assert "1 value(s) fall outside the years 1900-2099 (e.g. 0 read as Julian days" in losses["value:z.seen_at"]


def test_julian_day_override_and_default(tmp_path, params_for, pg):
    """DEFAULT (julianday('now')) on a Julian-day column is now() in Postgres, not a listed loss; an
    override can read a column as Julian days, and its number defaults are read the same way."""
    db = sqlite_file(tmp_path / "jdef.db", """
        CREATE TABLE j (id INTEGER PRIMARY KEY, created_at DATETIME DEFAULT (julianday('now')), note TEXT);
        INSERT INTO j (note) VALUES ('x'), ('y');
        CREATE TABLE o (id INTEGER PRIMARY KEY, t REAL DEFAULT 2460000.5);
        INSERT INTO o VALUES (1, 2460310.9166666665);""")
    params = params_for(db, column_overrides={"o.t": {"type": "timestamptz", "convert": "julian_day"}})
    source.step(params)
    the_plan = plan.step(params)
    assert the_plan.losses == []
    assert the_plan.table("j").column("created_at").default == "now()"
    _, loaded, verified = migrate(params)
    assert verified.passed, verified.to_json()
    pg.execute("INSERT INTO o (id) VALUES (2)")
    assert dict(pg.execute("SELECT id, t FROM o")) == {1: datetime(2024, 1, 1, 10, tzinfo=UTC),
                                                       2: datetime(2023, 2, 25, tzinfo=UTC)}


def test_julian_day_source_forms_agree_with_sqlite(tmp_path):
    """The instants the load computes from Julian days equal SQLite's own datetime(..., 'subsec')
    reading (its milliseconds), across the plausible years and at random fractions."""
    import duckdb

    rng = random.Random(7)
    numbers = [2415020.5, 2524958.5, 2440587.5, 2460000.0] + [rng.uniform(2415020.5, 2524958.5) for _ in range(500)]
    con = sqlite3.connect(":memory:")
    duck = duckdb.connect()
    for x in numbers:
        (ms,) = con.execute("SELECT CAST(round((julianday(?) - 2440587.5) * 86400000) AS INTEGER)", (x,)).fetchone()
        (us,) = duck.execute(f"SELECT epoch_us({source.julian_instant('x')}) FROM (SELECT ?::DOUBLE AS x)", [x]).fetchone()
        assert us == ms * 1000, x


# --- numbers with digits beyond a microsecond, text outside the years ------------------------------------------


def test_unix_reals_finer_than_microseconds_are_a_listed_loss(tmp_path, params_for, pg):
    """1700000000.1234567 as unix seconds has a digit beyond microseconds: listed with its count and
    example, as ISO text with nanoseconds is; 1700000000.5 and milliseconds with three decimals are not."""
    db = sqlite_file(tmp_path / "sub.db", """
        CREATE TABLE t3 (id INTEGER PRIMARY KEY, ts TIMESTAMP);
        INSERT INTO t3 VALUES (1, 1700000000.1234567), (2, 1700000000.5), (3, 1700000000.123456);
        CREATE TABLE ms (id INTEGER PRIMARY KEY, sent_at DATETIME);
        INSERT INTO ms VALUES (1, 1700000000123.456), (2, 1700000000123.4567), (3, 1700000000124);""")
    params = params_for(db)
    source.step(params)
    losses = {x.item: x.reason for x in plan.step(params).losses}
    assert losses == {
        "value:t3.ts": "1 number(s) have digits beyond microseconds as unix seconds, which timestamptz cannot hold: "
                       "they are rounded to microseconds (e.g. 1700000000.1234567)",
        "value:ms.sent_at": "1 number(s) have digits beyond microseconds as unix millis, which timestamptz cannot "
                            f"hold: they are rounded to microseconds (e.g. {1700000000123.4567!r})"}
    with pytest.raises(LossesNotAccepted):
        load.step(params)
    _, _, verified = migrate(params_for(db, accept_losses=["value:*"], run_dir=str(tmp_path / "accepted")))
    assert verified.passed, verified.to_json()
    assert dict(pg.execute("SELECT id, ts FROM t3")) == {
        1: datetime(2023, 11, 14, 22, 13, 20, 123457, tzinfo=UTC), 2: datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC),
        3: datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)}


def test_iso_text_outside_the_years_is_a_listed_loss(tmp_path, params_for):
    """ISO text falls under the same plausible years as numbers, in DATETIME and DATE columns alike, by
    its instant in UTC (an offset can carry it over a year's end)."""
    db = sqlite_file(tmp_path / "yr.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, at DATETIME);
        INSERT INTO t VALUES (1, '0000-01-01 00:00:00'), (2, '9999-12-31 23:59:59'), (3, '2024-01-01'),
                             (4, '2200-12-31T23:30:00-01:00'), (5, '2200-12-31T23:30:00+01:00');
        CREATE TABLE d (id INTEGER PRIMARY KEY, day DATE);
        INSERT INTO d VALUES (1, '1899-12-31'), (2, '1900-01-01');""")
    params = params_for(db)
    source.step(params)
    losses = {x.item: x.reason for x in plan.step(params).losses}
    assert losses == {
        "value:t.at": "3 text value(s) fall outside the years 1900-2200 (e.g. '0000-01-01 00:00:00')",
        "value:d.day": "1 text value(s) fall outside the years 1900-2200 (e.g. '1899-12-31')"}


def test_views_over_a_julian_day_column_read_it_as_sqlite_does(tmp_path, params_for, pg):
    """A view sees the number SQLite holds (julianday()'s double, from the instant's milliseconds) and
    the date functions read it as the instant: both views translate, and verification compares them."""
    db = sqlite_file(tmp_path / "jv.db", """
        CREATE TABLE jd (id INTEGER PRIMARY KEY, created DATETIME);
        INSERT INTO jd VALUES (1, julianday('2024-02-29 13:14:15.678')), (2, 2460000.5), (3, julianday('2024-01-01 10:00'));
        CREATE VIEW shown AS SELECT id, created, datetime(created) AS at, date(created) AS day FROM jd;
        CREATE VIEW later AS SELECT id, created + 1 AS next_day FROM jd WHERE created > 2460000.5;""")
    the_plan, _, verified = migrate(params_for(db))

    assert the_plan.table("jd").column("created").convert == "julian_day"
    assert the_plan.losses == [] and [v.source for v in the_plan.views if v.sql] == ["shown", "later"]
    assert verified.passed and [v.passed for v in verified.views] == [True, True], verified.to_json()
    assert pg.execute("SELECT at, day FROM shown ORDER BY id").fetchall() == [
        ("2024-02-29 13:14:15", "2024-02-29"), ("2023-02-25 00:00:00", "2023-02-25"), ("2024-01-01 10:00:00", "2024-01-01")]
    assert [r[0] for r in pg.execute("SELECT id FROM later ORDER BY id")] == [1, 3]


def test_who_and_how_many_columns_are_not_taken_for_instants(tmp_path, params_for, pg):
    """created_by holding user ids that happen to fall in the unix-seconds range (2037, 2068 as
    seconds) stays a number: the name says who, not when (an attack found them arriving as
    timestamptz). created and updatedAt still read as instants."""
    db = sqlite_file(tmp_path / "n.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, created_by INTEGER, updated_count INTEGER, created INTEGER, updatedAt INTEGER);
        INSERT INTO t VALUES (1, 2125551234, 1700000000, 1700000000, 1700000001), (2, 3105550000, 1800000000, 1700000002, 1700000003);""")
    _, _, verified = migrate(params_for(db))
    assert verified.passed, verified.to_json()
    types = dict(pg.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 't'").fetchall())
    assert types["created_by"] == "bigint" and types["updated_count"] == "bigint", types
    assert types["created"] == types["updatedat"] == "timestamp with time zone", types
    assert pg.execute("SELECT created_by FROM t ORDER BY id").fetchall() == [(2125551234,), (3105550000,)]


@pytest.mark.parametrize("years", ["0-9999", "2200-1900", "1900"])
def test_timestamp_years_out_of_range_is_a_clear_error(project, years):
    from conftest import first_error_line, run_cli

    result = run_cli("run", "-f", "params/demo.yaml", "-p", "timestamp_years", years)
    assert result.exit_code == 2
    assert "timestamp_years must be FIRST-LAST with years from 1 to 9999" in first_error_line(result.stderr)


def test_the_widest_timestamp_years_inspect_and_plan(tmp_path, params_for):
    db = sqlite_file(tmp_path / "w.db", "CREATE TABLE e (id INTEGER PRIMARY KEY, at DATETIME); "
                                        "INSERT INTO e VALUES (1, '0001-01-01 00:00:00'), (2, '9999-12-31 23:59:59');")
    params = params_for(db, timestamp_years="1-9999")
    source.step(params)
    assert not [x for x in plan.step(params).losses if x.kind == "value"]


# --- views over times SQLite holds as numbers: the very number, fraction and all (issue 12) ----------------


def _view_rows(db, pg, view: str) -> tuple[list, list]:
    """The view's rows in SQLite and in Postgres, ordered by their first column."""
    con = sqlite3.connect(db)
    try:
        left = con.execute(f"SELECT * FROM {view} ORDER BY 1").fetchall()
    finally:
        con.close()
    return left, [tuple(float(v) if isinstance(v, Decimal) else v for v in row)
                  for row in pg.execute(f"SELECT * FROM {view} ORDER BY 1").fetchall()]


def test_views_read_unix_and_julian_reals_with_their_fractions(tmp_path, params_for, pg):
    """A REAL column of unix seconds (1700000000.5), of unix millis (1700000000000.25) or of Julian days
    (julianday()'s doubles) becomes timestamptz; a view computing with it sees the double SQLite holds,
    its fraction kept (CAST(EXTRACT(EPOCH ...) AS BIGINT) gave 1700000061 for 1700000060.5), in sums
    too; an integer column (unix seconds, micros, whole Julian days) gives back integers, which SQLite
    divides as integers."""
    db = sqlite_file(tmp_path / "vr.db", """
        CREATE TABLE ev (id INTEGER PRIMARY KEY, created_at REAL);
        INSERT INTO ev VALUES (1, 1700000000.5), (2, 1700000000.25), (3, 1700000000.75);
        CREATE VIEW v AS SELECT id, created_at + 60 AS later, created_at / 4 AS quarter FROM ev;
        CREATE VIEW total AS SELECT sum(created_at) AS s, avg(created_at) AS a FROM ev;
        CREATE TABLE ms (id INTEGER PRIMARY KEY, sent_at REAL);
        INSERT INTO ms VALUES (1, 1700000000000.25), (2, 1700000000123.5), (3, 1700000000999.75);
        CREATE VIEW ms_v AS SELECT id, sent_at + 1 AS later FROM ms;
        CREATE VIEW ms_total AS SELECT sum(sent_at) AS s FROM ms;
        CREATE TABLE jd (id INTEGER PRIMARY KEY, seen_at REAL);
        INSERT INTO jd VALUES (1, julianday('2024-02-29 13:14:15.678')), (2, julianday('2023-11-14 22:13:20.001')),
                              (3, 2460000.75);
        CREATE VIEW jd_v AS SELECT id, seen_at + 1 AS next_day, seen_at * 86400 AS seconds FROM jd;
        CREATE VIEW jd_total AS SELECT sum(seen_at) AS s FROM jd;
        CREATE TABLE whole (id INTEGER PRIMARY KEY, at_s INTEGER, at_us INTEGER, day INTEGER);
        INSERT INTO whole VALUES (1, 1700000001, 1700000000123457, 2460001), (2, 1700000003, 1700000000999999, 2460002);
        CREATE VIEW whole_v AS SELECT id, at_s / 2 AS s, at_us / 1000 AS ms, day / 2 AS d, at_s + at_us + day AS n FROM whole;""")
    params = params_for(db, column_overrides={
        "whole.at_s": {"type": "timestamptz", "convert": "unix_seconds"},
        "whole.at_us": {"type": "timestamptz", "convert": "unix_micros"},
        "whole.day": {"type": "timestamptz", "convert": "julian_day"}})
    the_plan, _, verified = migrate(params)

    assert [(the_plan.table(t).column(c).pg_type, the_plan.table(t).column(c).convert)
            for t, c in [("ev", "created_at"), ("ms", "sent_at"), ("jd", "seen_at")]] == [
        ("timestamptz", "unix_seconds"), ("timestamptz", "unix_millis"), ("timestamptz", "julian_day")]
    assert the_plan.losses == []
    created = [v.source for v in the_plan.views if v.sql]
    assert created == ["v", "total", "ms_v", "ms_total", "jd_v", "jd_total", "whole_v"], the_plan.views
    assert verified.passed and all(v.passed and v.rounded == 0 for v in verified.views), verified.to_json()
    for view in created:
        left, right = _view_rows(db, pg, view)
        assert right == left, view
        assert [tuple(type(v) for v in row) for row in right] == [tuple(type(v) for v in row) for row in left], view
    assert _view_rows(db, pg, "v")[1] == [(1, 1700000060.5, 425000000.125), (2, 1700000060.25, 425000000.0625),
                                          (3, 1700000060.75, 425000000.1875)]
    assert _view_rows(db, pg, "total")[1] == [(5100000001.5, 1700000000.5)]
    assert _view_rows(db, pg, "ms_total")[1] == [(5100000001123.5,)]
    assert _view_rows(db, pg, "whole_v")[1] == [(1, 850000000, 1700000000123, 1230000, 1700000000123457 + 1700000001 + 2460001),
                                                (2, 850000001, 1700000000999, 1230001, 1700000000999999 + 1700000003 + 2460002)]


def test_julian_reals_finer_than_milliseconds_are_a_listed_loss(tmp_path, params_for, pg):
    """SQLite reads a Julian day to the millisecond, so 2460000.7500004 (no whole number of them) loses
    digits: listed with its count and example, as unix reals beyond microseconds are; julianday()'s own
    doubles (iJD / 86400000.0) are not. Accepted, the value arrives at SQLite's millisecond."""
    db = sqlite_file(tmp_path / "jsub.db", """
        CREATE TABLE e (id INTEGER PRIMARY KEY, seen_at REAL);
        INSERT INTO e VALUES (1, 2460000.7500004), (2, julianday('2024-02-29 13:14:15.678')), (3, 2460000.5),
                             (4, 2460001.2500004);""")
    params = params_for(db)
    source.step(params)
    the_plan = plan.step(params)
    assert the_plan.table("e").column("seen_at").convert == "julian_day"
    assert {x.item: x.reason for x in the_plan.losses} == {
        "value:e.seen_at": "2 number(s) are no whole number of milliseconds as Julian days, which SQLite reads to "
                           "the millisecond: they are rounded to milliseconds (e.g. 2460000.7500004)"}
    with pytest.raises(LossesNotAccepted):
        load.step(params)
    _, _, verified = migrate(params_for(db, accept_losses=["value:e.seen_at"], run_dir=str(tmp_path / "accepted")))
    assert verified.passed, verified.to_json()
    assert pg.execute("SELECT seen_at FROM e WHERE id = 1").fetchone()[0] == datetime(2023, 2, 25, 6, 0, 0, 35000, tzinfo=UTC)


def test_julian_finer_criterion_never_flags_what_julianday_writes():
    """`source.JULIAN_FINER`, run in DuckDB as the profile runs it, flags no double that SQLite's
    julianday() wrote ('now', random instants across the plausible years, to the millisecond and
    beyond) and flags numbers between two milliseconds."""
    import duckdb

    rng = random.Random(12)
    con = sqlite3.connect(":memory:")
    written = [con.execute("SELECT julianday('now')").fetchone()[0] for _ in range(50)]
    for _ in range(400):
        at = rng.uniform(-2208988800, 7258118400)  # 1900-2200
        written.append(con.execute("SELECT julianday(?, 'unixepoch')", (at,)).fetchone()[0])
        written.append(con.execute("SELECT julianday(?)", (rng.uniform(2415020.5, 2524958.5),)).fetchone()[0])
    written += [con.execute("SELECT julianday(?)", (text,)).fetchone()[0]
                for text in ("2024-02-29 13:14:15.678", "1999-12-31 23:59:59.999", "2000-01-01", "2200-12-31 23:59:59.999")]
    con.close()
    duck = duckdb.connect()
    flagged = lambda x: duck.execute(f"SELECT {source.JULIAN_FINER.format(n='x')} FROM (SELECT ?::DOUBLE AS x)",  # noqa: E731
                                     [x]).fetchone()[0]
    assert [x for x in written if flagged(x)] == []
    assert [flagged(x) for x in (2460000.7500004, 2460000.5 + 0.4 / 86400000, 2451545.0000000005)] == [True, True, True]


def test_plain_iso_text_cast_directly_reads_as_the_full_pattern_does():
    """convert.plain_iso_first casts ISO text of the usual shape with DuckDB's own cast instead of taking
    it apart with source.iso_instant's pattern: for every text, both give the same instant (or NULL),
    days the calendar has not, leap days, the last minute of a day, fractions of 1 to 7 digits and
    shapes the direct cast does not take included."""
    import duckdb

    from sqlite2neon.convert import PLAIN_ISO, plain_iso_first
    from sqlite2neon.source import iso_instant

    rng = random.Random(14)
    texts = ["2024-02-29 23:59:59", "2023-02-29 00:00:00", "2024-06-31 12:00:00", "2024-12-31T23:59:59.999999",
             "1000-01-01 00:00", "9999-12-31 23:59:59.1", "2000-01-01 23:59:60", "2000-01-01 24:00:00",
             "2000-01-01 10:30:15.1234567", "0999-01-01 00:00:00", "2000-01-01  10:30", "2000-01-01 10:30Z",
             "2000-1-01 10:30", "2000-01-01 10:30 ", "2000-01-01", "2000-01-01T10:30:15.000000"]
    for _ in range(2000):
        y, mo, d = rng.randint(1000, 9999), rng.randint(1, 12), rng.randint(1, 31)
        fraction = "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 6))) if rng.random() < .5 else ""
        texts.append(f"{y:04}-{mo:02}-{d:02}{rng.choice(' T')}{rng.randint(0, 23):02}:{rng.randint(0, 59):02}"
                     + (f":{rng.randint(0, 59):02}{fraction}" if rng.random() < .8 else ""))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE s (c VARCHAR)")
    con.executemany("INSERT INTO s VALUES (?)", [[t] for t in texts])
    rows = con.execute(f"SELECT c, regexp_matches(c, '{PLAIN_ISO}'), {plain_iso_first('s.c')}, {iso_instant('s.c')} "
                       "FROM s").fetchall()
    assert sum(plain for _, plain, _, _ in rows) > 1500  # the direct cast is what is tested
    assert [(t, fast) for t, _, fast, full in rows if fast != full] == []
