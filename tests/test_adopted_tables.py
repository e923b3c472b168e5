"""Tables the app already made in the target (an ORM's schema, `target_ddl`): the rows go into their
columns, and nothing changes in silence. A value the target column's type would change (a float4, a
double past its digits, a number's spelling, a UTC offset in a timestamp, numeric's rounding, char(n)'s
padding, a uuid's spelling, jsonb's repeated keys) is a listed loss found by the plan before anything
is written; a value it cannot hold is rejected with its reason; and verification compares SQLite's
values as they are, so an accepted change shows as a difference once the acceptance is taken away.
A source column without a target column is a listed loss; two source columns for one target column
stop the plan; an unqualified `target_ddl` creates its tables in the target schema.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import migrate, sqlite_file
from sqlite2neon import plan, source, verify
from sqlite2neon.errors import ConfigError, LossesNotAccepted

SCHEMA = "app"


def _ddl(tmp_path: Path, text: str) -> str:
    path = tmp_path / "schema.sql"
    path.write_text(text)
    return str(path)


def _planned_losses(params) -> dict[str, str]:
    """item -> reason of every loss the plan lists (the plan step itself does not raise)."""
    source.step(params)
    return {x.item: x.reason for x in plan.step(params).losses}


def _changed(result, table: str) -> list[dict]:
    """The changed columns verification found in `table`: [{"column", "source", "target"}, ...]."""
    found = [d for t in result.tables if t.source == table for d in t.differences]
    return [c for d in found for c in d["columns"]]


def _reverify_without_acceptance(params_for, db, **overrides):
    """Verification of the loaded target as a run that accepted nothing would do it."""
    return verify.step(params_for(db, **overrides))


def test_narrower_float_types_list_every_value_they_change(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "f.db", """
        CREATE TABLE f (id INTEGER PRIMARY KEY, v REAL);
        INSERT INTO f VALUES (1, 0.1), (2, 1.0000001), (3, 16777217), (4, 3.141592653589793), (5, 0.5), (6, 2);
        CREATE TABLE g (id INTEGER PRIMARY KEY, v INTEGER, t TEXT);
        INSERT INTO g VALUES (1, 9007199254740993, '0.12345678901234567890'), (2, 1, '0.1'),
                             (3, 9007199254740992, '12345678901234567891'), (4, -9223372036854775808, '1e2');
        CREATE TABLE b (id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO b VALUES (1, 123456789012345678), (2, 3);""")
    ddl = _ddl(tmp_path, f"""CREATE SCHEMA IF NOT EXISTS {SCHEMA};
        CREATE TABLE {SCHEMA}.f (id bigint PRIMARY KEY, v real);
        CREATE TABLE {SCHEMA}.g (id bigint PRIMARY KEY, v double precision, t double precision);
        CREATE TABLE {SCHEMA}.b (id bigint PRIMARY KEY, v real);""")
    common = {"target_schema": SCHEMA, "target_ddl": ddl}
    losses = _planned_losses(params_for(db, **common))
    assert set(losses) == {"value:f.v", "value:g.v", "value:g.t", "value:b.v"}, losses
    assert "4 value(s) are not exactly a float4" in losses["value:f.v"], losses["value:f.v"]  # not 0.5 nor 2
    assert "2 value(s) have more digits than a double holds" in losses["value:g.v"]  # 2^53 + 1 and -2^63
    assert "2 value(s)" in losses["value:g.t"] and "0.12345678901234567890" in losses["value:g.t"]
    assert "1 value(s) are not exactly a float4" in losses["value:b.v"]
    with pytest.raises(LossesNotAccepted, match="value:f.v"):
        plan.step(params_for(db, **common)).raise_for_losses()
    assert pg.execute("SELECT to_regclass('app.f')").fetchone()[0] is None  # nothing was written

    accepted = ["value:f.v", "value:g.v", "value:g.t", "value:b.v"]
    _, _, verified = migrate(params_for(db, accept_losses=accepted, **common))
    assert verified.passed, verified.to_json()  # accepted: compared as the target keeps them
    assert pg.execute("SELECT v::float8 FROM app.f WHERE id = 1").fetchone()[0] == pytest.approx(0.1, abs=1e-8)
    again = _reverify_without_acceptance(params_for, db, **common)
    assert not again.passed
    assert {c["column"] for c in _changed(again, "f")} == {"v"} and len(_changed(again, "f")) == 4
    assert len(_changed(again, "g")) == 4  # 2^53 + 1, -2^63 and the two long texts; not 2^53, '0.1', '1e2'


def test_integer_target_for_number_text_lists_the_lost_spelling(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "i.db", """
        CREATE TABLE a (id INTEGER PRIMARY KEY, zip TEXT, n TEXT);
        INSERT INTO a VALUES (1, '007', '12'), (2, '+12', '5'), (3, '12', ' 5'), (4, '-3', NULL);""")
    common = {"target_schema": SCHEMA, "target_ddl": _ddl(tmp_path, f"""CREATE SCHEMA IF NOT EXISTS {SCHEMA};
        CREATE TABLE {SCHEMA}.a (id bigint PRIMARY KEY, zip bigint, n smallint);""")}
    losses = _planned_losses(params_for(db, **common))
    assert set(losses) == {"value:a.zip", "value:a.n"}, losses
    assert "2 text value(s) are spelled otherwise than bigint prints them" in losses["value:a.zip"]
    assert "'007' becomes 7" in losses["value:a.zip"]
    assert "1 text value(s)" in losses["value:a.n"]
    _, _, verified = migrate(params_for(db, accept_losses=["value:a.zip", "value:a.n"], **common))
    assert verified.passed, verified.to_json()
    assert pg.execute("SELECT zip FROM app.a ORDER BY id").fetchall() == [(7,), (12,), (12,), (-3,)]
    again = _reverify_without_acceptance(params_for, db, **common)
    assert sorted(c["source"] for c in _changed(again, "a")) == [" 5", "+12", "007"]


def test_integer_targets_reject_what_they_cannot_hold_with_the_reason(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "r.db", """
        CREATE TABLE r (id INTEGER PRIMARY KEY, s INTEGER, i REAL, b INTEGER, c TEXT, d TEXT);
        INSERT INTO r VALUES (1, 70000, 1, 1, 'abc', '2024-01-01'), (2, 1, 1.5, 0, 'abc', '2024-01-01'),
                             (3, 1, 2, 2, 'abc', '2024-01-01'), (4, 1, 2, 1, 'abcdef', '2024-01-01'),
                             (5, 1, 2, 1, 'abc', '2024-01-01 10:00:00'), (6, -32768, 2147483647, 0, 'ab', '2024-02-29');""")
    common = {"target_schema": SCHEMA, "target_ddl": _ddl(tmp_path, f"""CREATE SCHEMA IF NOT EXISTS {SCHEMA};
        CREATE TABLE {SCHEMA}.r (id bigint PRIMARY KEY, s smallint, i integer, b boolean, c varchar(3), d date);""")}
    assert _planned_losses(params_for(db, **common)) == {}
    _, loaded, verified = migrate(params_for(db, **common))
    assert not verified.passed  # fail_on_rejects: a rejected row fails the run
    reasons = dict(pg.execute("SELECT source_key, reason FROM _sqlite2neon.rejects").fetchall())
    assert reasons == {"1": "s: not a whole number within smallint", "2": "i: not a whole number within integer",
                       "3": "b: not 0/1 or a boolean word", "4": "c: longer than 3 characters",
                       "5": "d: not a calendar date (or one with a time of day)"}, reasons
    assert pg.execute("SELECT id, s, i, b, c, d::text FROM app.r").fetchall() == [(6, -32768, 2147483647, False, "ab", "2024-02-29")]
    assert [t.passed for t in verified.tables] == [True]  # every row is loaded or rejected: none changed


def test_timestamp_without_time_zone_lists_values_with_an_offset(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "t.db", """
        CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT);
        INSERT INTO a VALUES (1, '2024-01-01 10:00:00+05:30'), (2, '2024-01-01T10:00:00Z'), (3, '2024-01-01 10:00:00'),
                             (4, '2024-06-01T08:00:00-07:00'), (5, '2024-01-01 10:00:00+00:00');""")
    common = {"target_schema": SCHEMA, "target_ddl": _ddl(tmp_path, f"""CREATE SCHEMA IF NOT EXISTS {SCHEMA};
        CREATE TABLE {SCHEMA}.a (id bigint PRIMARY KEY, v timestamp);""")}
    losses = _planned_losses(params_for(db, **common))
    assert list(losses) == ["value:a.v"]
    assert "2 value(s) carry a UTC offset" in losses["value:a.v"] and "2024-01-01 04:30:00" in losses["value:a.v"]
    _, _, verified = migrate(params_for(db, accept_losses=["value:a.v"], **common))
    assert verified.passed, verified.to_json()
    assert [r[0] for r in pg.execute("SELECT v FROM app.a ORDER BY id")] == [
        datetime(2024, 1, 1, 4, 30), datetime(2024, 1, 1, 10), datetime(2024, 1, 1, 10), datetime(2024, 6, 1, 15),
        datetime(2024, 1, 1, 10)]
    again = _reverify_without_acceptance(params_for, db, **common)
    assert sorted(c["source"] for c in _changed(again, "a")) == ["2024-01-01 10:00:00+05:30", "2024-06-01T08:00:00-07:00"]


def test_numeric_scale_char_uuid_and_jsonb_targets_list_what_they_change(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "n.db", """
        CREATE TABLE p (id INTEGER PRIMARY KEY, v REAL, t TEXT);
        INSERT INTO p VALUES (1, 12.345, '1.005'), (2, 19.99, '2.5'), (3, 1230.99, '3');
        CREATE TABLE ch (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO ch VALUES (1, 'ab'), (2, 'abc');
        CREATE TABLE u (id INTEGER PRIMARY KEY, v TEXT, j TEXT);
        INSERT INTO u VALUES (1, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{"a":1,"a":2}'),
                             (2, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', '{"b": 1}'),
                             (3, 'a0eebc999c0b4ef8bb6d6bb9bd380a13', '[1, 2]');""")
    common = {"target_schema": SCHEMA, "target_ddl": _ddl(tmp_path, f"""CREATE SCHEMA IF NOT EXISTS {SCHEMA};
        CREATE TABLE {SCHEMA}.p (id bigint PRIMARY KEY, v numeric(6,2), t numeric(6,2));
        CREATE TABLE {SCHEMA}.ch (id bigint PRIMARY KEY, v char(3));
        CREATE TABLE {SCHEMA}.u (id bigint PRIMARY KEY, v uuid, j jsonb);""")}
    losses = _planned_losses(params_for(db, **common))
    assert set(losses) == {"value:p.v", "value:p.t", "value:ch.v", "value:u.v", "value:u.j"}, losses
    assert "1 value(s) have more decimals than numeric(6,2) keeps" in losses["value:p.v"]
    assert "12.35" in losses["value:p.v"] and "1.01" in losses["value:p.t"]
    assert "1 value(s) are shorter than char(3)" in losses["value:ch.v"] and "'ab '" in losses["value:ch.v"]
    assert "2 text value(s) are spelled otherwise than uuid prints them" in losses["value:u.v"]
    assert "1 value(s) repeat a key" in losses["value:u.j"]
    _, _, verified = migrate(params_for(db, accept_losses=list(losses), **common))
    assert verified.passed, verified.to_json()
    assert pg.execute("SELECT v, t FROM app.p ORDER BY id").fetchall() == [
        (Decimal("12.35"), Decimal("1.01")), (Decimal("19.99"), Decimal("2.50")), (Decimal("1230.99"), Decimal("3.00"))]
    assert pg.execute("SELECT v FROM app.ch ORDER BY id").fetchall() == [("ab ",), ("abc",)]
    again = _reverify_without_acceptance(params_for, db, **common)
    assert len(_changed(again, "p")) == 2 and len(_changed(again, "ch")) == 1
    assert len(_changed(again, "u")) == 3  # two uuid spellings, one repeated key


def test_source_column_without_a_target_column_is_a_listed_loss(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "e.db", """
        CREATE TABLE ud (id INTEGER PRIMARY KEY, "createdAt" TEXT, extra TEXT, empty TEXT);
        INSERT INTO ud VALUES (1, 'camel', 'important', NULL), (2, 'b', NULL, NULL);""")
    common = {"target_schema": SCHEMA, "target_ddl": _ddl(tmp_path, f"""CREATE SCHEMA IF NOT EXISTS {SCHEMA};
        CREATE TABLE {SCHEMA}.ud (id bigint primary key, "createdAt" text);""")}
    losses = _planned_losses(params_for(db, **common))
    assert losses == {"column:ud.extra": "the target table ud has no column for it; its 1 non-null value(s) would "
                                         "not arrive"}  # `empty` holds no value: nothing to lose
    with pytest.raises(LossesNotAccepted, match="accept_losses 'column:ud.extra'"):
        migrate(params_for(db, **common))
    assert pg.execute("SELECT to_regclass('app.ud')").fetchone()[0] is None
    _, _, verified = migrate(params_for(db, accept_losses=["column:ud.extra"], **common))
    assert verified.passed, verified.to_json()
    assert pg.execute('SELECT id, "createdAt" FROM app.ud ORDER BY id').fetchall() == [(1, "camel"), (2, "b")]


def test_two_source_columns_for_one_target_column_stop_the_plan(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "d.db", """
        CREATE TABLE ud (id INTEGER PRIMARY KEY, "createdAt" TEXT, "created_at" TEXT);
        INSERT INTO ud VALUES (1, 'camel', 'snake');""")
    params = params_for(db, target_schema=SCHEMA, target_ddl=_ddl(tmp_path, f"""CREATE SCHEMA IF NOT EXISTS {SCHEMA};
        CREATE TABLE {SCHEMA}.ud (id bigint primary key, "createdAt" text);"""))
    source.step(params)
    with pytest.raises(ConfigError) as stopped:
        plan.step(params)
    message = str(stopped.value)
    assert "ud.createdAt and ud.created_at both map to the target column ud.createdAt" in message
    assert "nothing was written" in message and "\n" not in message
    assert pg.execute("SELECT to_regclass('app.ud')").fetchone()[0] is None


def test_unqualified_target_ddl_creates_its_tables_in_the_target_schema(tmp_path, params_for, pg):
    db = sqlite_file(tmp_path / "z.db", "CREATE TABLE zz (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO zz VALUES (1, 'a');")
    ddl = _ddl(tmp_path, "CREATE TABLE zz (id bigint primary key, v varchar(10), app_col text NOT NULL DEFAULT 'x');")
    the_plan, _, verified = migrate(params_for(db, target_schema="s_e8", target_ddl=ddl))
    assert the_plan.table("zz").exists and verified.passed, verified.to_json()
    assert pg.execute("SELECT to_regclass('public.zz')").fetchone()[0] is None
    assert pg.execute("SELECT id, v, app_col FROM s_e8.zz").fetchall() == [(1, "a", "x")]


def test_overridden_types_are_checked_like_the_target_s(tmp_path, params_for):
    """column_overrides gives a type as a target table does: what it changes is listed the same way."""
    db = sqlite_file(tmp_path / "o.db", """
        CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT, zip TEXT);
        INSERT INTO a VALUES (1, '2024-01-01 10:00:00+05:30', '007'), (2, '2024-01-01 10:00:00', '12');""")
    losses = _planned_losses(params_for(db, column_overrides={"a.v": {"type": "timestamp"}, "a.zip": {"type": "bigint"}}))
    assert set(losses) == {"value:a.v", "value:a.zip"}, losses
    assert losses["value:a.v"].startswith("column_overrides makes a.v timestamp: 1 value(s) carry a UTC offset")
    assert "'007' becomes 7" in losses["value:a.zip"]


def test_numbers_in_an_adopted_timestamp_column_are_checked_for_plausible_years(tmp_path, params_for):
    """Numbers a timestamp column reads as unix seconds (the plan chose bigint for them: no unit fits)
    are checked against the plausible years as the plan's own timestamps are, before anything is written."""
    db = sqlite_file(tmp_path / "y.db", """
        CREATE TABLE e (id INTEGER PRIMARY KEY, n INTEGER);
        INSERT INTO e VALUES (1, 1700000000000000000), (2, 1700000000000000001);""")
    losses = _planned_losses(params_for(db, target_schema=SCHEMA, target_ddl=_ddl(tmp_path, f"""
        CREATE SCHEMA IF NOT EXISTS {SCHEMA};
        CREATE TABLE {SCHEMA}.e (id bigint PRIMARY KEY, n timestamptz);""")))
    assert list(losses) == ["value:e.n"], losses
    assert "2 value(s) fall outside the years 1900-2200" in losses["value:e.n"]


def test_number_text_a_double_does_not_hold_is_listed_whatever_its_length(tmp_path, params_for, pg):
    """Text numbers into a double or real column: '9007199254740993' (16 digits) is 9007199254740992 as a
    double, '1e-400' is 0 and '1e400' infinity (found by an attack: they arrived with exit 0). '0.1',
    '1.50', '1e2' and '-0' are what the double holds, spelled otherwise: no loss."""
    db = sqlite_file(tmp_path / "t.db", """
        CREATE TABLE m (id INTEGER PRIMARY KEY, v TEXT);
        INSERT INTO m VALUES (1, '1e-400'), (2, '-1e999'), (3, '9007199254740993'), (4, '12345678901234567'),
                             (5, '0.1'), (6, '1.50'), (7, '1e2'), (8, '-0'), (9, '1e400');
        CREATE TABLE r (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO r VALUES (1, '1e-60'), (2, '0.5');""")
    ddl = _ddl(tmp_path, f"""CREATE SCHEMA IF NOT EXISTS {SCHEMA};
        CREATE TABLE {SCHEMA}.m (id bigint PRIMARY KEY, v double precision);
        CREATE TABLE {SCHEMA}.r (id bigint PRIMARY KEY, v real);""")
    common = {"target_schema": SCHEMA, "target_ddl": ddl}
    losses = _planned_losses(params_for(db, **common))
    assert set(losses) == {"value:m.v", "value:r.v"}, losses
    assert "5 value(s)" in losses["value:m.v"], losses["value:m.v"]
    assert "1 value(s)" in losses["value:r.v"], losses["value:r.v"]
    _, _, verified = migrate(params_for(db, accept_losses=["value:m.v", "value:r.v"], fail_on_rejects=False, **common))
    assert verified.passed, verified.to_json()
    assert pg.execute("SELECT count(*) FROM _sqlite2neon.rejects").fetchone()[0] == 1  # '1e-60': beyond a float4
    again = _reverify_without_acceptance(params_for, db, fail_on_rejects=False, **common)
    assert sorted(c["source"] for c in _changed(again, "m")) == sorted(
        ["1e-400", "-1e999", "9007199254740993", "12345678901234567", "1e400"]), _changed(again, "m")
