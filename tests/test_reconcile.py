"""Keyed reconciliation: a migrated target damaged on purpose fails verification naming the table,
the key and the column; an untouched one shows no false difference, whatever its floats, -0.0, time
zones and JSON key order."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import psycopg
import pytest

from conftest import first_error_line, make_sqlite, record_of, run_cli
from sqlite2neon import load, plan, reconcile, source, verify
from sqlite2neon.errors import VerificationFailed


def migrate(params):
    source.step(params)
    plan.step(params)
    load.step(params)
    result = verify.step(params)
    assert result.passed, result.to_json()
    return result


@pytest.fixture
def migrated(demo_db, params_for, pg):
    """The demo migrated into the test's own database: (params, connection)."""
    params = params_for(demo_db)
    migrate(params)
    return params, pg


def _failure(params) -> tuple[verify.VerifyResult, str]:
    result = verify.step(params)
    assert not result.passed
    with pytest.raises(VerificationFailed) as exc:
        result.raise_for_failure()
    message = str(exc.value)
    assert "\n" not in message
    return result, message


def _table(result, name):
    return next(t for t in result.tables if t.target == name)


def test_one_changed_value_is_named_by_table_key_and_column_with_both_values(migrated):
    params, pg = migrated
    key, title = pg.execute("SELECT id, title FROM mental_items ORDER BY id LIMIT 1 OFFSET 17").fetchone()
    pg.execute("UPDATE mental_items SET title = 'tampered' WHERE id = %s", [key])

    result, message = _failure(params)

    items = _table(result, "mental_items")
    assert items.counts_match and not items.checksum_match
    assert items.differences_total == 1 and items.complete
    assert items.differences == [{"kind": "changed", "key": key, "source_key": items.differences[0]["source_key"],
                                  "columns": [{"column": "title", "source": title, "target": "tampered"}]}]
    assert _table(result, "item_events").passed
    assert f"mental_items: 1 row(s) differ: key {key} changed: title (SQLite {title!r}, Postgres 'tampered')" in message


def test_one_deleted_row_is_missing_in_the_target(migrated):
    params, pg = migrated
    key = pg.execute("SELECT max(id) FROM item_events").fetchone()[0]
    pg.execute("DELETE FROM item_events WHERE id = %s", [key])

    result, message = _failure(params)

    events = _table(result, "item_events")
    assert events.source_rows == events.target_rows + 1
    assert [(d["kind"], d["key"], d["source_key"]) for d in events.differences] == [("missing", str(key), str(key))]
    assert f"item_events: 1 row(s) differ: key {key} missing" in message


def test_one_added_row_is_unexpected_in_the_target(migrated):
    params, pg = migrated
    pg.execute("INSERT INTO mental_items (id, kind, title, tags, priority, resolved, created_at, updated_at) "
               "VALUES ('zz-not-in-sqlite', 'idea', 'extra', '[]', 0, false, now(), now())")

    result, message = _failure(params)

    items = _table(result, "mental_items")
    assert [(d["kind"], d["key"], d["source_key"]) for d in items.differences] == [
        ("unexpected", "zz-not-in-sqlite", None)]
    assert "mental_items: 1 row(s) differ: key zz-not-in-sqlite unexpected" in message


def test_each_difference_carries_both_row_hashes_as_each_side_computes_them(migrated):
    """The cutover judges rows by these hashes: each is the MD5 of the row's canonical form on its
    side, None where the row is absent."""
    params, pg = migrated
    changed, deleted = [r[0] for r in pg.execute("SELECT id FROM mental_items ORDER BY id LIMIT 2")]
    the_plan = plan.plan_for(params)
    table = next(t for t in the_plan.tables if t.target == "mental_items")
    row_hash = psycopg.sql.SQL("SELECT md5({}) FROM mental_items WHERE id = %s").format(
        reconcile.canonical.target_row_expr(table))
    before = pg.execute(row_hash, [changed]).fetchone()[0]
    pg.execute("UPDATE mental_items SET title = 'tampered' WHERE id = %s", [changed])
    pg.execute("DELETE FROM item_events WHERE item_id = %s", [deleted])
    pg.execute("DELETE FROM mental_items WHERE id = %s", [deleted])
    pg.execute("INSERT INTO mental_items (id, kind, title, tags, priority, resolved, created_at, updated_at) "
               "VALUES ('zz-extra', 'idea', 'extra', '[]', 0, false, now(), now())")

    src = source.open_source(params.sqlite_path)
    try:
        diff = reconcile.reconcile_table(src, pg, the_plan.schema, table, the_plan.bad_text, [], describe=False)
    finally:
        src.close()

    hashes = {d.key: (d.kind, d.source_hash, d.target_hash) for d in diff.all_differences}
    assert hashes[changed] == ("changed", before, pg.execute(row_hash, [changed]).fetchone()[0])
    assert hashes[deleted][:1] == ("missing",) and hashes[deleted][1] is not None and hashes[deleted][2] is None
    assert hashes["zz-extra"] == ("unexpected", None, pg.execute(row_hash, ["zz-extra"]).fetchone()[0])


def test_a_timestamp_column_shifted_by_a_factor_of_1000_shows_on_every_row(migrated):
    params, pg = migrated
    pg.execute("UPDATE item_events SET at = to_timestamp(extract(epoch FROM at) * 1000)")
    rows = pg.execute("SELECT count(*) FROM item_events").fetchone()[0]
    first = pg.execute("SELECT min(id) FROM item_events").fetchone()[0]

    result, message = _failure(params)

    events = _table(result, "item_events")
    assert events.differences_total == rows and events.complete
    assert len(events.differences) == reconcile.LISTED
    assert {d["kind"] for d in events.differences} == {"changed"}
    assert all([c["column"] for c in d["columns"]] == ["at"] for d in events.differences)
    listed = {d["key"]: d["columns"][0] for d in events.differences}
    one = listed[str(first)] if str(first) in listed else next(iter(listed.values()))
    assert one["source"].isdigit() and one["target"].startswith(("5", "4", "6"))  # unix seconds vs year ~50,000
    assert f"item_events: {rows} row(s) differ: key " in message and "changed: at (SQLite" in message


def test_one_json_value_altered_is_named_with_both_values(migrated):
    params, pg = migrated
    key, tags = pg.execute("SELECT id, tags::text FROM mental_items WHERE jsonb_array_length(tags) > 0 "
                           "ORDER BY id LIMIT 1").fetchone()
    pg.execute("UPDATE mental_items SET tags = tags || '[\"smuggled\"]'::jsonb WHERE id = %s", [key])

    result, message = _failure(params)

    (d,) = _table(result, "mental_items").differences
    assert (d["kind"], d["key"], [c["column"] for c in d["columns"]]) == ("changed", key, ["tags"])
    assert json.loads(d["columns"][0]["source"]) == json.loads(tags)
    assert json.loads(d["columns"][0]["target"]) == json.loads(tags) + ["smuggled"]
    assert f"key {key} changed: tags" in message


def test_differing_buckets_are_split_until_the_rows_are_few(migrated, monkeypatch):
    """With a tiny fetch limit the differing bucket is split (more hex digits of the key hash)
    before rows are fetched, and the row is found all the same."""
    params, pg = migrated
    monkeypatch.setattr(reconcile, "FETCH_LIMIT", 20)
    key = pg.execute("SELECT id FROM mental_items ORDER BY id DESC LIMIT 1").fetchone()[0]
    pg.execute("UPDATE mental_items SET priority = priority + 1 WHERE id = %s", [key])

    items = _table(verify.step(params), "mental_items")

    assert [(d["kind"], d["key"], d["columns"][0]["column"]) for d in items.differences] == [("changed", key, "priority")]
    assert items.differing_buckets == 1 and items.complete


def test_too_many_differences_to_fetch_are_counted_as_a_lower_bound(migrated, monkeypatch):
    params, pg = migrated
    monkeypatch.setattr(reconcile, "FETCH_LIMIT", 50)
    monkeypatch.setattr(reconcile, "MAX_DEPTH", 2)
    pg.execute("UPDATE mental_items SET priority = priority + 1")

    items = _table(verify.step(params), "mental_items")

    assert not items.passed and not items.complete
    assert 0 < items.differences_total < 3000
    assert "+ row(s) differ" in items.describe()


def test_rejected_rows_are_accounted_for_not_missing(tmp_path, params_for, pg):
    db = make_sqlite(tmp_path / "r.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER);",
                     {"t": [(1, 1), (2, "not a number"), (3, 3)]})
    params = params_for(db, fail_on_rejects=False)
    source.step(params)
    plan.step(params)
    load.step(params)
    check = _table(verify.step(params), "t")
    assert check.passed and check.rejected_rows == 1 and check.differences_total == 0
    pg.execute("DELETE FROM t WHERE id = 3")
    check = _table(verify.step(params), "t")
    assert [(d["kind"], d["key"]) for d in check.differences] == [("missing", "3")]  # not 2: that one was rejected


def test_a_table_without_a_key_is_compared_as_a_multiset_of_rows(tmp_path, params_for, pg):
    db = make_sqlite(tmp_path / "k.db", "CREATE TABLE log (msg TEXT, n INTEGER);",
                     {"log": [("a", 1), ("a", 1), ("b", 2)]})
    params = params_for(db)
    migrate(params)
    pg.execute("DELETE FROM log WHERE ctid IN (SELECT ctid FROM log WHERE msg = 'a' LIMIT 1)")
    pg.execute("INSERT INTO log VALUES ('c', 3)")
    check = _table(verify.step(params), "log")
    assert sorted((d["kind"], d["key"]) for d in check.differences) == [("missing", "a, 1"), ("unexpected", "c, 3")]


def test_sample_mode_counts_every_row_and_compares_a_share_of_contents(migrated):
    params, pg = migrated
    sample = dataclasses.replace(params, verify="sample", sample_fraction=0.25)
    result = verify.step(sample)
    assert result.passed and result.mode == "sample" and result.sample_fraction == 0.25
    pg.execute("DELETE FROM item_events WHERE id = (SELECT max(id) FROM item_events)")
    events = _table(verify.step(sample), "item_events")
    assert not events.passed and events.differences_total == 1  # a missing row is caught whatever the sample


# --- no false differences -------------------------------------------------------------------------

FLOATS = [0.0, -0.0, 0.1, 1 / 3, 2 / 3, 1e-300, 5e-324, 1e300, 1.7976931348623157e308, 2.0 ** 53 + 1, -2.5e-7,
          123456789.123456789, math.pi, -math.e, 100.0, 1e16, 1e15 + 0.3]
TIMES = ["2024-03-10T02:30:00-05:00", "2024-11-03 01:30:00+05:45", "2021-06-30T23:59:59.999999Z",
         "1999-12-31 23:59:59", "2024-02-29T12:00:00+14:00", "2024-02-29T12:00:00-12:00", "2020-01-01T00:00:00.5+01:00"]
JSONS = ['{"b": 1, "a": 2}', '{"a":2,"b":1}', '{"z": {"y": [1, 2.50, {"x": null}]}, "a": "é"}',
         '{"unicode": "\\u00e9\\ud83d\\ude00", "n": 1.0, "big": 12345678901234567890}', '[3, 2, 1]',
         '{"k": "v", "k2": [true, false, null], "": 0}']


def test_no_false_difference_on_floats_zero_signs_time_zones_and_json_key_order(tmp_path, params_for, pg):
    rows = [(i, FLOATS[i % len(FLOATS)], TIMES[i % len(TIMES)], JSONS[i % len(JSONS)], 1_700_000_000 + i * 7919)
            for i in range(120)]
    db = make_sqlite(tmp_path / "clean.db",
                     "CREATE TABLE m (id INTEGER PRIMARY KEY, x REAL, at DATETIME, doc TEXT, created_at INTEGER);",
                     {"m": rows})
    params = params_for(db)
    migrate(params)
    # the target's session time zone far from UTC, and a client that asks for another: still equal
    pg.execute(f'ALTER DATABASE "{pg.info.dbname}" SET TimeZone = \'Pacific/Chatham\'')
    result = verify.step(params)
    check = _table(result, "m")
    assert result.passed and check.differences_total == 0 and check.differing_buckets == 0, result.to_json()
    types = dict(pg.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'm'"))
    assert types == {"id": "bigint", "x": "double precision", "at": "timestamp with time zone", "doc": "jsonb",
                     "created_at": "timestamp with time zone"}


# tag lists in every spelling, inside and outside the DuckDB fast path (`canonical.jsonb_form`)
TAG_LISTS = ['[]', '["work","later","🙂"]', '["work", "later"]', '["q\\"uote","back\\\\slash"]', '[","]',
             '["a\\",","b"]', '["\\/","\\u00e9"]', '[ "a" ]', '["a",["b"]]', '["tab\\there"]', '["日本", "naïve"]']


@pytest.mark.parametrize("stored", ["text", "mixed"])
def test_tag_lists_in_every_spelling_verify_and_a_changed_one_is_found(tmp_path, params_for, pg, stored):
    rows = [(i, TAG_LISTS[i % len(TAG_LISTS)]) for i in range(44)]
    if stored == "mixed":  # numbers beside the text: the text is read as JSON only where it is text
        rows += [(100, 7), (101, 2.5)]
    db = make_sqlite(tmp_path / "tags.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, tags TEXT);", {"t": rows})
    params = params_for(db, column_overrides={"t.tags": {"type": "jsonb"}})
    migrate(params)
    assert pg.execute("SELECT data_type FROM information_schema.columns WHERE table_name = 't' "
                      "AND column_name = 'tags'").fetchone()[0] == "jsonb"
    for i, tags in [(1, '["work", "later", "🙂 "]'), (4, '[", "]'), (5, '["a\\", ", "b"]')]:
        pg.execute("UPDATE t SET tags = %s::jsonb WHERE id = %s", [tags, i])

    result, _ = _failure(params)

    found = _table(result, "t").differences
    assert [(d["kind"], d["key"], [c["column"] for c in d["columns"]]) for d in found] == [
        ("changed", str(i), ["tags"]) for i in (1, 4, 5)]


@pytest.mark.slow
def test_the_verify_command_reverifies_without_loading_and_fails_on_a_difference(project, demo_db, pg_url):
    first = run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(demo_db), "-p", "database_url", pg_url)
    assert first.exit_code == 0, first.stderr

    again = run_cli("verify", "-f", "params/demo.yaml", "-p", "sqlite_path", str(demo_db), "-p", "database_url", pg_url)
    assert again.exit_code == 0, again.stderr
    record = record_of(again)
    assert record != record_of(first) and record.name.endswith("-verify")
    assert sorted(p.name for p in record.glob("*.ipynb")) == ["04_verify.ipynb"]
    assert json.loads((record / "summary.json").read_text())["status"] == "passed"
    # the executed notebook keeps the parameters it ran with (papermill's injected cell), no password
    import nbformat

    executed = nbformat.read(record / "04_verify.ipynb", as_version=4)
    injected = [c.source for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and f"sqlite_path = {str(demo_db)!r}" in injected[0].replace('"', "'")
    assert f"run_dir = {str(record)!r}" in injected[0].replace('"', "'")

    with psycopg.connect(pg_url, autocommit=True) as conn:
        key = conn.execute("SELECT id FROM mental_items ORDER BY id LIMIT 1").fetchone()[0]
        conn.execute("UPDATE mental_items SET body = 'changed behind our back' WHERE id = %s", [key])
    damaged = run_cli("verify", "-f", "params/demo.yaml", "-p", "sqlite_path", str(demo_db), "-p", "database_url", pg_url)
    assert damaged.exit_code == 1
    line = first_error_line(damaged.stderr)
    assert "04_verify failed" in line and f"mental_items: 1 row(s) differ: key {key} changed: body" in line, line
    summary = json.loads((record_of(damaged) / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert {t["target"]: t["differences"] for t in summary["tables"]} == {"mental_items": 1, "item_events": 0}


def test_months_are_counted_in_the_checksum_pass_on_both_sides_for_the_charts(tmp_path, params_for, pg):
    # a table and columns named as the month query's own aliases (m, t, i, month), a NULL, a rejected row
    rows = [(1, 1_700_000_000, 1_700_000_000, "x"), (2, 1_702_000_000, None, "x"), (3, 1_702_100_000, 0, "x"),
            (4, "not a time", 1_700_000_000, "x")]
    db = make_sqlite(tmp_path / "m.db", "CREATE TABLE m (i INTEGER PRIMARY KEY, month INTEGER, t INTEGER, g TEXT);",
                     {"m": rows})
    seconds = {"type": "timestamptz", "convert": "unix_seconds"}
    params = dataclasses.replace(params_for(db), fail_on_rejects=False,
                                 column_overrides={"m.month": seconds, "m.t": seconds})
    source.step(params)
    plan.step(params)
    load.step(params)
    result = verify.step(params)
    check = _table(result, "m")
    assert check.passed and check.rejected_rows == 1, result.to_json()
    # 2023-11-14 and 2023-12-08 (UTC); the rejected row is in neither side; NULL is no month
    assert check.months == {"month": {"2023-11": [1, 1], "2023-12": [2, 2]},
                            "t": {"1970-01": [1, 1], "2023-11": [1, 1]}}
    frames = verify.timestamp_histograms(params)
    assert list(frames) == ["m.month", "m.t"]
    assert frames["m.month"].to_dict("list") == {"month": ["2023-11", "2023-12"], "source": [1, 2], "target": [1, 2]}
    # a changed instant shows in both the checksum and the months
    pg.execute("UPDATE m SET month = month + interval '40 days' WHERE i = 1")
    check = _table(verify.step(params), "m")
    assert check.differences_total == 1
    assert check.months["month"] == {"2023-11": [1, 0], "2023-12": [2, 3]}


def test_months_never_stop_verification_at_the_edges_of_time(tmp_path, params_for):
    # Julian day 0 (4714-11-24 BC, whose month starts before Postgres' first timestamp), and a day
    # in year 200,000
    db = make_sqlite(tmp_path / "edge.db", "CREATE TABLE e (id INTEGER PRIMARY KEY, at REAL);",
                     {"e": [(1, 0), (2, 2440588), (3, 74769000)]})
    params = dataclasses.replace(params_for(db), accept_losses=["*"],
                                 column_overrides={"e.at": {"type": "timestamptz", "convert": "julian_day"}})
    source.step(params)
    plan.step(params)
    load.step(params)
    check = _table(verify.step(params), "e")
    assert check.passed and not check.problem, check
    # both sides spell a year BC alike (astronomically: 4714 BC is -4713), in time order
    assert list(check.months["at"].items())[:2] == [("-4713-11", [1, 1]), ("1970-01", [1, 1])], check.months


def test_months_are_not_counted_unless_asked_and_a_table_without_timestamps_has_none(migrated):
    params, pg = migrated
    from sqlite2neon.connect import connect, resolve_target
    from sqlite2neon.plan import plan_for
    from sqlite2neon.source import open_source

    the_plan = plan_for(params)
    src = open_source(params.sqlite_path)
    try:
        with connect(resolve_target(params).direct_url, params, autocommit=True) as conn:
            for table in the_plan.tables:
                plain = reconcile.reconcile_table(src, conn, the_plan.schema, table, the_plan.bad_text, None)
                counted = reconcile.reconcile_table(src, conn, the_plan.schema, table, the_plan.bad_text, None,
                                                    months=True)
                assert plain.months == {}
                assert (plain.source_checksum, plain.target_checksum) == (counted.source_checksum, counted.target_checksum)
                stamps = [c.target for c in table.columns if c.pg_type == "timestamptz"]
                assert list(counted.months) == stamps
                for column, counts in counted.months.items():
                    assert all(s == t for s, t in counts.values())
                    assert sum(s for s, _ in counts.values()) == pg.execute(
                        f'SELECT count("{column}") FROM "{table.target}"').fetchone()[0]
    finally:
        src.close()


def _snapshots(pg) -> dict[tuple[str, str], list[bytes]]:
    """(table, bucket) -> its 16-byte entries, sorted (a parallel pass aggregates them in any order)."""
    return {(t, b): sorted(bytes(p)[i:i + 16] for i in range(0, len(p), 16))
            for t, b, p in pg.execute("SELECT table_name, bucket, pairs FROM _sqlite2neon.snapshots")}


def test_the_snapshot_built_in_the_verification_pass_is_the_one_taken_alone(tmp_path, params_for, pg):
    # an integer key with NULLs beside it, a composite text key, no key (a row twice), no rows
    db = make_sqlite(tmp_path / "s.db", """
        CREATE TABLE a (id INTEGER PRIMARY KEY, note TEXT, at INTEGER);
        CREATE TABLE c (k1 TEXT, k2 INTEGER, v REAL, PRIMARY KEY (k1, k2));
        CREATE TABLE log (msg TEXT, n INTEGER);
        CREATE TABLE empty (id INTEGER PRIMARY KEY, v TEXT);""",
                     {"a": [(i, None if i % 3 else f"n{i}", 1_700_000_000 + i) for i in range(50)],
                      "c": [(f"k{i % 7}", i, i / 3) for i in range(40)],
                      "log": [("a", 1), ("a", 1), ("b", None)]})
    params = params_for(db)
    result = migrate(params)  # no snapshot yet: verification's own pass builds each one
    assert _table(result, "a").nulls == {"id": [0, 0], "note": [33, 33], "at": [0, 0]}
    assert _table(result, "log").nulls == {"msg": [0, 0], "n": [1, 1]}
    state = "SELECT table_name, snapshot_run = run, snapshot_rows, snapshot_checksum FROM _sqlite2neon.tables ORDER BY 1"
    in_pass, in_pass_state = _snapshots(pg), pg.execute(state).fetchall()
    assert [(t, based, rows) for t, based, rows, _ in in_pass_state] == [
        ("a", True, 50), ("c", True, 40), ("empty", True, 0), ("log", True, 3)]
    assert {t: c.target_checksum for t, c in ((c.target, c) for c in result.tables)} == {
        t: checksum for t, _, _, checksum in in_pass_state}
    assert sum(len(v) for v in in_pass.values()) == 93
    assert pg.execute("SELECT to_regclass('pg_temp.s2n_snapshot')").fetchone()[0] is None

    the_plan = plan.plan_for(params)
    for table in the_plan.tables:  # the same snapshots, each from a pass of its own
        assert verify.record_snapshot(pg, the_plan.schema, table, fingerprint="f")
    assert _snapshots(pg) == in_pass
    assert pg.execute(state).fetchall() == in_pass_state

    # a table that differs gets no snapshot from the pass, and its rows are still found
    pg.execute("UPDATE _sqlite2neon.tables SET snapshot_run = NULL")
    pg.execute("UPDATE c SET v = 0 WHERE k1 = 'k3' AND k2 = 3")
    result = verify.step(params)
    assert [(d["kind"], d["key"]) for d in _table(result, "c").differences] == [("changed", "k3, 3")]
    assert [r[:2] for r in pg.execute(state).fetchall()] == [("a", True), ("c", None), ("empty", True), ("log", True)]


def _astronomical(month: str) -> str:
    """to_char's 'YYYY-MM BC' as reconcile spells a month: 4714 BC is -4713."""
    year, rest = month.split("-", 1)
    number, era = int(year), rest[3:]
    return f"{1 - number if era == 'BC' else number:04d}-{rest[:2]}"


@pytest.mark.parametrize("sample", [None, 0.3, 0.999999])
def test_the_whole_table_pass_agrees_with_postgres_own_aggregates_at_the_edges_of_time(migrated, sample):
    # the pass folds per-row hashes and instants outside Postgres: its counts, checksum, months and
    # snapshot must be what Postgres' own SQL aggregates give, for instants Postgres' edges included
    params, pg = migrated
    table = next(t for t in plan.plan_for(params).tables if t.target == "mental_items")
    edges = ["4714-11-24 00:00:00+00 BC", "200000-06-30 23:59:59.999999+00",
             "0001-06-01 12:00:00+00 BC", "1969-12-31 23:59:59.999999+00", "2000-01-01 00:00:00+00", None]
    names = [c.target for c in table.columns]
    for n, stamp in enumerate(edges):
        picked = ", ".join("%s" if c == "id" else "%s::timestamptz" if c == "resolved_at" else f'"{c}"' for c in names)
        pg.execute(f"INSERT INTO mental_items SELECT {picked} FROM mental_items LIMIT 1", [f"edge{n}", stamp])
    stamps = [i for i, c in enumerate(table.columns) if c.pg_type == "timestamptz"]
    passed = reconcile.target_pass(pg, "public", table, months=stamps, sample=sample, snapshot=True)

    row, key = reconcile.canonical.target_row_expr(table), reconcile.target_key(table)
    bound = reconcile._sample_bound(sample) if sample is not None else "g" * reconcile.SAMPLE_DIGITS
    rows, checksum = pg.execute(psycopg.sql.SQL(
        "SELECT count(*), coalesce(sum(CASE WHEN left(md5({k}), {d}) < {b} THEN ('x' || left(md5({r}), 15))::bit(60)::bigint END), 0) "
        "FROM mental_items").format(k=key, r=row, d=psycopg.sql.Literal(reconcile.SAMPLE_DIGITS),
                                    b=psycopg.sql.Literal(bound))).fetchone()
    assert (passed.rows, passed.checksum) == (rows, int(checksum))
    if sample is not None and sample > 0.99999:
        assert passed.checksum == int(pg.execute(psycopg.sql.SQL(
            "SELECT sum(('x' || left(md5({}), 15))::bit(60)::bigint) FROM mental_items").format(row)).fetchone()[0])
    for i in stamps:
        column = table.columns[i].target
        expected = {_astronomical(m): n for m, n in pg.execute(
            f"SELECT to_char(\"{column}\" AT TIME ZONE 'UTC', 'YYYY-MM BC'), count(*) FROM mental_items "
            f"WHERE \"{column}\" IS NOT NULL AND isfinite(\"{column}\") GROUP BY 1")}
        assert passed.months[i] == expected, column
    assert passed.months[stamps[-1]]["-4713-11"] == 1 and passed.months[stamps[-1]]["200000-06"] == 1
    assert passed.months[stamps[-1]]["0000-06"] == 1 and passed.months[stamps[-1]]["1969-12"] >= 1
    pairs = psycopg.sql.SQL("decode(left(md5({}), 16) || left(md5({}), 16), 'hex')").format(key, row)
    expected = {r[0] for r in pg.execute(psycopg.sql.SQL("SELECT {} FROM mental_items").format(pairs))}
    kept = [bytes(p[j:j + 16]) for _, p, _, _ in passed.snapshot for j in range(0, len(p), 16)]
    assert len(kept) == rows and set(kept) == expected
    assert all(p[:16].hex().startswith(b) for b, p, _, _ in passed.snapshot)
    assert sum(n for _, _, n, _ in passed.snapshot) == rows


def test_the_row_hash_bits_duckdb_sums_are_the_ones_postgres_reads_from_the_md5_hex(pg):
    import duckdb

    texts = ["", "a", "n\x1fv", "日本 😀", "x" * 1000] + [f"row {i}\x1fv{i * 7919}" for i in range(300)]
    duck = duckdb.connect().execute(
        f"SELECT {reconcile._first_bits(reconcile._md5_head('v'))} FROM unnest(?) WITH ORDINALITY AS x(v, i) ORDER BY i",
        [texts]).fetchall()
    postgres = pg.execute("SELECT ('x' || left(md5(v), 15))::bit(60)::bigint FROM unnest(%s::text[]) "
                          "WITH ORDINALITY AS x(v, i) ORDER BY i", [texts]).fetchall()
    assert [r[0] for r in duck] == [r[0] for r in postgres]
    assert duck[0][0] == int(hashlib.md5(b"").hexdigest()[:15], 16)
