"""The cutover cannot destroy what was written to Postgres: rows inserted, updated or deleted there
since the last sync are conflicts, listed by table and key, and nothing is applied unless
`conflicts` says how to resolve them (keep_target, take_source); a dry run lists everything and
applies nothing; a table never verified since its load has no base, and the cutover refuses.
Real embedded Postgres, real SQLite files, nothing mocked."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3

import pytest

from conftest import first_error_line, make_sqlite, record_of, run_cli
from sqlite2neon import cutover, load, plan, source, verify
from sqlite2neon.connect import resolve_target
from sqlite2neon.errors import VerificationFailed


def _contents(conn) -> dict:
    """Every row of every table outside the system schemas (the runbook's state included), so
    that 'unchanged' means unchanged."""
    tables = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') "
        "ORDER BY 1, 2").fetchall()
    return {f"{s}.{t}": sorted(map(repr, conn.execute(f'SELECT * FROM "{s}"."{t}"').fetchall())) for s, t in tables}


def _migrated(tmp_path, demo_db, params_for):
    """The demo loaded and verified (so the target holds a base): (SQLite file, params, plan)."""
    db = tmp_path / "app.db"
    shutil.copy(demo_db, db)
    params = params_for(db)
    source.step(params)
    the_plan = plan.step(params)
    load.step(params)
    assert verify.step(params).passed
    return db, params, the_plan


def _app_writes_both(db, pg) -> dict:
    """The app wrote to both sides since the verification: in SQLite one item inserted, one updated,
    one deleted (with its events); in Postgres one item inserted and another updated."""
    ids = [r[0] for r in pg.execute("SELECT id FROM mental_items ORDER BY id")]
    con = sqlite3.connect(db)
    with con:
        con.execute("INSERT INTO mental_items (id, kind, title, body, tags, priority, resolved, created_at, "
                    "updated_at) VALUES ('zzsqlitenew', 'idea', 'from sqlite', NULL, '[]', 1, 0, 1760000000, "
                    "1760000000)")
        con.execute("UPDATE mental_items SET title = 'edited in sqlite' WHERE id = ?", [ids[5]])
        con.execute("DELETE FROM item_events WHERE item_id = ?", [ids[6]])
        con.execute("DELETE FROM mental_items WHERE id = ?", [ids[6]])
    con.close()
    pg.execute("INSERT INTO mental_items (id, kind, title, body, tags, priority, resolved, created_at, updated_at) "
               "VALUES ('zzpostgresnew', 'task', 'from postgres', NULL, '[]', 2, false, now(), now())")
    pg.execute("UPDATE mental_items SET title = 'edited in postgres' WHERE id = %s", [ids[7]])
    return {"updated": ids[5], "deleted": ids[6], "pg_updated": ids[7]}


def _table(result, name):
    return next(t for t in result.tables if (getattr(t, "target", None) or getattr(t, "table", None)) == name)


def test_rows_written_in_postgres_stop_the_cutover_and_nothing_is_applied(tmp_path, demo_db, params_for, pg):
    db, params, the_plan = _migrated(tmp_path, demo_db, params_for)
    keys = _app_writes_both(db, pg)
    before = _contents(pg)

    with pytest.raises(cutover.ConflictsFound) as stopped:
        cutover.catch_up(the_plan, resolve_target(params), params, source_path=db, run="stopped")

    message = str(stopped.value)
    assert "\n" not in message and message.startswith("2 conflict(s)"), message
    assert "mental_items zzpostgresnew (inserted in Postgres)" in message, message
    assert f"mental_items {keys['pg_updated']} (updated in Postgres)" in message, message
    assert "Nothing was applied" in message and "conflicts keep_target" in message and "take_source" in message
    assert _contents(pg) == before  # not a row, not a state record
    # what it found is all there: the conflicts, and SQLite's changes it did not apply
    caught = stopped.value.caught
    items = _table(caught, "mental_items")
    assert not caught.applied
    assert [(c.key, c.sqlite, c.postgres, c.resolution) for c in items.conflicts] == [
        (keys["pg_updated"], "unchanged", "updated", "unresolved"), ("zzpostgresnew", "absent", "inserted", "unresolved")]
    assert sorted((c["key"], c["action"]) for c in items.changes) == sorted(
        [("zzsqlitenew", "insert"), (keys["updated"], "update"), (keys["deleted"], "delete")])


def test_keep_target_carries_sqlite_over_keeps_postgres_rows_and_verification_counts_them(
        tmp_path, demo_db, params_for, pg):
    db, params, the_plan = _migrated(tmp_path, demo_db, params_for)
    keys = _app_writes_both(db, pg)
    keep = params_for(db, conflicts="keep_target")
    events_of_deleted = pg.execute("SELECT count(*) FROM item_events WHERE item_id = %s",
                                   [keys["deleted"]]).fetchone()[0]

    caught = cutover.catch_up(the_plan, resolve_target(keep), keep, source_path=db, run="keep")

    items = _table(caught, "mental_items")
    assert caught.applied and (items.inserted, items.updated, items.deleted, items.kept) == (1, 1, 1, 2)
    assert _table(caught, "item_events").deleted == events_of_deleted
    assert [c.resolution for c in items.conflicts] == ["kept", "kept"]
    title = dict(pg.execute("SELECT id, title FROM mental_items WHERE id = ANY(%s)",
                            [["zzsqlitenew", "zzpostgresnew", keys["updated"], keys["deleted"], keys["pg_updated"]]]))
    assert title == {"zzsqlitenew": "from sqlite", "zzpostgresnew": "from postgres", keys["updated"]: "edited in sqlite",
                     keys["pg_updated"]: "edited in postgres"}  # and the deleted one is gone
    assert pg.execute("SELECT count(*) FROM _sqlite2neon.kept WHERE table_name = 'mental_items'").fetchone()[0] == 2

    result = verify.step(params)
    checked = _table(result, "mental_items")
    assert result.passed, result.to_json()
    assert checked.kept_rows == 2 and checked.differences_total == 0 and not checked.checksum_match
    assert {t["target"]: t["kept_rows"] for t in result.summary_tables()} == {"mental_items": 2, "item_events": 0}

    # a second cutover with nothing new changes nothing, even with the default conflicts: stop; the
    # kept Postgres-only row is not taken for a row SQLite deleted
    before = _contents(pg)
    again = cutover.catch_up(the_plan, resolve_target(params), params, source_path=db, run="again")
    assert again.changed_rows == 0 and not again.conflicts and _table(again, "mental_items").still_kept == 2
    assert {k: v for k, v in _contents(pg).items() if k != "_sqlite2neon.tables"} == \
        {k: v for k, v in before.items() if k != "_sqlite2neon.tables"}  # the state's updated_at moves
    assert verify.step(params).passed

    # a kept row changed again in Postgres differs again, and conflicts again
    pg.execute("UPDATE mental_items SET title = 'edited again' WHERE id = 'zzpostgresnew'")
    with pytest.raises(VerificationFailed, match="zzpostgresnew"):
        verify.step(params).raise_for_failure()
    with pytest.raises(cutover.ConflictsFound) as stopped:
        cutover.catch_up(the_plan, resolve_target(params), params, source_path=db, run="third")
    assert "mental_items zzpostgresnew (kept at an earlier cutover, then updated in Postgres)" in str(stopped.value)

    # take_source settles it SQLite's way; the other kept row stays kept
    take = params_for(db, conflicts="take_source")
    taken = cutover.catch_up(the_plan, resolve_target(take), take, source_path=db, run="fourth")
    assert (_table(taken, "mental_items").deleted, _table(taken, "mental_items").still_kept) == (1, 1)
    assert pg.execute("SELECT key FROM _sqlite2neon.kept").fetchall() == [(keys["pg_updated"],)]
    assert _table(verify.step(params), "mental_items").kept_rows == 1
    # once both sides agree again, a verification forgets the decision
    con = sqlite3.connect(db)
    title = con.execute("SELECT title FROM mental_items WHERE id = ?", [keys["pg_updated"]]).fetchone()[0]
    con.close()
    pg.execute("UPDATE mental_items SET title = %s WHERE id = %s", [title, keys["pg_updated"]])
    result = verify.step(params)
    assert result.passed and _table(result, "mental_items").checksum_match
    assert pg.execute("SELECT count(*) FROM _sqlite2neon.kept").fetchone()[0] == 0


def test_a_row_deleted_in_postgres_is_a_conflict_and_take_source_overwrites(tmp_path, demo_db, params_for, pg):
    db, params, the_plan = _migrated(tmp_path, demo_db, params_for)
    event, row = pg.execute("SELECT id, to_jsonb(e) FROM item_events e ORDER BY id LIMIT 1 OFFSET 40").fetchone()
    item, title = pg.execute("SELECT id, title FROM mental_items ORDER BY id LIMIT 1 OFFSET 3").fetchone()
    pg.execute("DELETE FROM item_events WHERE id = %s", [event])
    pg.execute("UPDATE mental_items SET title = 'edited in postgres' WHERE id = %s", [item])
    with sqlite3.connect(db) as con:  # and SQLite changed the same item
        con.execute("UPDATE mental_items SET priority = 3 - priority WHERE id = ?", [item])
    con.close()
    before = _contents(pg)

    with pytest.raises(cutover.ConflictsFound) as stopped:
        cutover.catch_up(the_plan, resolve_target(params), params, source_path=db, run="stopped")
    assert f"item_events {event} (deleted in Postgres)" in str(stopped.value)
    assert f"mental_items {item} (updated on both sides)" in str(stopped.value)
    assert _contents(pg) == before

    take = params_for(db, conflicts="take_source")
    caught = cutover.catch_up(the_plan, resolve_target(take), take, source_path=db, run="take")

    assert (_table(caught, "item_events").overwritten, _table(caught, "item_events").inserted) == (1, 1)
    assert (_table(caught, "mental_items").overwritten, _table(caught, "mental_items").updated) == (1, 1)
    assert pg.execute("SELECT to_jsonb(e) FROM item_events e WHERE id = %s", [event]).fetchone()[0] == row
    assert pg.execute("SELECT title FROM mental_items WHERE id = %s", [item]).fetchone()[0] == title
    result = verify.step(params)
    assert result.passed and all(t.checksum_match and not t.kept_rows for t in result.tables)


def test_each_way_a_row_can_differ_is_judged_against_the_last_sync(tmp_path, params_for, pg):
    db = make_sqlite(tmp_path / "kv.db", "CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT);",
                     {"kv": [(i, f"v{i}") for i in range(1, 9)]})
    params = params_for(db)
    source.step(params)
    the_plan = plan.step(params)
    load.step(params)
    assert verify.step(params).passed
    with sqlite3.connect(db) as con:
        con.execute("UPDATE kv SET v = 'sqlite' WHERE k IN (1, 2, 3)")  # 1: SQLite only
        con.execute("DELETE FROM kv WHERE k IN (4, 5)")  # 4: SQLite only
        con.execute("INSERT INTO kv VALUES (10, 'sqlite'), (11, 'same'), (12, 'sqlite')")  # 10: SQLite only
    con.close()
    pg.execute("UPDATE kv SET v = 'postgres' WHERE k IN (2, 5, 6)")  # 6: Postgres only
    pg.execute("DELETE FROM kv WHERE k IN (3, 7)")  # 7: Postgres only
    pg.execute("INSERT INTO kv VALUES (11, 'same'), (12, 'postgres'), (13, 'postgres')")  # 13: Postgres only

    with pytest.raises(cutover.ConflictsFound) as stopped:
        cutover.catch_up(the_plan, resolve_target(params), params, source_path=db, run="matrix")

    kv = _table(stopped.value.caught, "kv")
    assert {c.key: c.what for c in kv.conflicts} == {
        "2": "updated on both sides", "3": "deleted in Postgres, updated in SQLite",
        "5": "updated in Postgres, deleted in SQLite", "6": "updated in Postgres", "7": "deleted in Postgres",
        "12": "inserted on both sides", "13": "inserted in Postgres"}  # 11: both inserted the same row
    assert sorted((c["key"], c["action"]) for c in kv.changes) == [("1", "update"), ("10", "insert"), ("4", "delete")]


def test_text_and_composite_keys_outside_ascii_find_their_base(tmp_path, params_for, pg):
    """The base is looked up by the MD5 of the canonical key computed in Python: it must be the one
    Postgres computed (UTF-8, and the U+001F between a composite key's columns)."""
    names = ["café", "日本", "🙂 emoji", "a'quote", "tab\there"]
    db = make_sqlite(tmp_path / "names.db", """
        CREATE TABLE names (name TEXT PRIMARY KEY, v TEXT);
        CREATE TABLE pairs (a TEXT, b TEXT, v TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID;
    """, {"names": [(n, "old") for n in names], "pairs": [(n, n[::-1], "old") for n in names]})
    params = params_for(db)
    source.step(params)
    the_plan = plan.step(params)
    load.step(params)
    assert verify.step(params).passed
    with sqlite3.connect(db) as con:
        con.execute("UPDATE names SET v = 'sqlite'")
        con.execute("UPDATE pairs SET v = 'sqlite'")
    con.close()
    pg.execute("INSERT INTO names VALUES ('ünïcode from postgres', 'postgres')")

    with pytest.raises(cutover.ConflictsFound) as stopped:
        cutover.catch_up(the_plan, resolve_target(params), params, source_path=db, run="names")

    caught = stopped.value.caught
    assert [(c.key, c.what) for c in _table(caught, "names").conflicts] == [("ünïcode from postgres",
                                                                             "inserted in Postgres")]
    assert sorted(c["key"] for c in _table(caught, "names").changes) == sorted(names)  # all SQLite's: updates
    assert sorted(c["key"] for c in _table(caught, "pairs").changes) == sorted(f"{n}, {n[::-1]}" for n in names)
    assert not _table(caught, "pairs").conflicts


def test_a_full_verification_records_the_base_once_and_a_changed_target_drops_it(tmp_path, demo_db, params_for,
                                                                                  pg):
    db = tmp_path / "app.db"
    shutil.copy(demo_db, db)
    params = params_for(db)
    source.step(params)
    the_plan = plan.step(params)
    load.step(params)
    # the load's state table has no snapshot columns yet (as on a target an older runbook wrote)
    columns = "SELECT count(*) FROM information_schema.columns WHERE table_schema = '_sqlite2neon' " \
              "AND table_name = 'tables' AND column_name LIKE 'snapshot%'"
    assert pg.execute(columns).fetchone()[0] == 0
    assert verify.step(dataclasses.replace(params, verify="sample")).passed  # a sample is no base
    assert pg.execute("SELECT to_regclass('_sqlite2neon.snapshots')").fetchone()[0] is None

    assert verify.step(params).passed

    assert pg.execute(columns).fetchone()[0] == 5
    state = "SELECT snapshot_run = run, snapshot_rows, snapshot_at FROM _sqlite2neon.tables WHERE table_name = %s"
    based, rows, taken_at = pg.execute(state, ["mental_items"]).fetchone()
    assert based and rows == 3000
    entries, buckets = pg.execute("SELECT sum(length(pairs)) / 16, count(*) FROM _sqlite2neon.snapshots "
                                  "WHERE table_name = 'mental_items'").fetchone()
    assert entries == 3000 and buckets <= 4096
    assert verify.step(params).passed
    assert pg.execute(state, ["mental_items"]).fetchone()[2] == taken_at  # the same rows: not taken again

    # Postgres no longer holds what was verified: no snapshot, the old one dropped, the cutover refuses
    items = next(t for t in the_plan.tables if t.target == "mental_items")
    assert not verify.record_snapshot(pg, the_plan.schema, items, fingerprint="f", expected=(3000, "1"))
    assert pg.execute(state, ["mental_items"]).fetchone()[0] is None
    with pytest.raises(cutover.CutoverFailed, match=r"for mental_items \(not verified since loaded\)"):
        cutover.catch_up(the_plan, resolve_target(params), params, source_path=db, run="refused")


def test_a_table_without_a_key_is_judged_by_its_copies_of_each_row(tmp_path, params_for, pg):
    db = make_sqlite(tmp_path / "log.db", "CREATE TABLE log (msg TEXT, n INTEGER);",
                     {"log": [("a", 1), ("a", 1), ("b", 2)]})
    params = params_for(db)
    source.step(params)
    the_plan = plan.step(params)
    load.step(params)
    assert verify.step(params).passed
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO log VALUES ('c', 3)")
        con.execute("DELETE FROM log WHERE msg = 'b'")
    con.close()
    pg.execute("INSERT INTO log VALUES ('a', 1)")  # the app logged a third ('a', 1)

    with pytest.raises(cutover.ConflictsFound) as stopped:
        cutover.catch_up(the_plan, resolve_target(params), params, source_path=db, run="log")
    assert "log a, 1 (2 -> 3 copies in Postgres)" in str(stopped.value)

    keep = params_for(db, conflicts="keep_target")
    caught = cutover.catch_up(the_plan, resolve_target(keep), keep, source_path=db, run="keep")

    assert (caught.tables[0].inserted, caught.tables[0].deleted, caught.tables[0].kept) == (1, 1, 1)
    assert sorted(pg.execute("SELECT msg, n FROM log").fetchall()) == [("a", 1)] * 3 + [("c", 3)]
    result = verify.step(params)
    assert result.passed and result.tables[0].kept_rows == 1
    again = cutover.catch_up(the_plan, resolve_target(params), params, source_path=db, run="again")
    assert again.changed_rows == 0 and not again.conflicts


def test_a_table_never_verified_since_its_load_makes_the_cutover_refuse(tmp_path, demo_db, params_for, pg):
    db = tmp_path / "app.db"
    shutil.copy(demo_db, db)
    params = params_for(db)
    source.step(params)
    the_plan = plan.step(params)
    load.step(params)
    with sqlite3.connect(db) as con:
        con.execute("UPDATE mental_items SET title = 'edited' WHERE rowid = 1")
    con.close()
    before = _contents(pg)

    with pytest.raises(cutover.CutoverFailed) as refused:
        cutover.catch_up(the_plan, resolve_target(params), params, source_path=db, run="unverified")

    message = str(refused.value)
    assert not isinstance(refused.value, cutover.ConflictsFound)
    assert "mental_items, item_events (not verified since loaded)" in message, message
    assert "nothing was changed" in message and "sqlite2neon verify" in message
    assert _contents(pg) == before


def test_a_dry_run_lists_changes_and_conflicts_and_applies_nothing(tmp_path, demo_db, params_for, pg):
    db, params, the_plan = _migrated(tmp_path, demo_db, params_for)
    keys = _app_writes_both(db, pg)
    before = _contents(pg)

    caught = cutover.catch_up(the_plan, resolve_target(params), params, source_path=db, run="dry", dry_run=True)

    items = _table(caught, "mental_items")
    assert caught.dry_run and not caught.applied and (items.inserted, items.updated, items.deleted) == (1, 1, 1)
    assert sorted(c.key for c in items.conflicts) == sorted(["zzpostgresnew", keys["pg_updated"]])
    assert _contents(pg) == before


@pytest.mark.slow
def test_the_cutover_command_dry_runs_stops_on_conflicts_and_keeps_the_apps_rows(project, tmp_path, demo_db, pg_url,
                                                                                  pg):
    db = tmp_path / "app.db"
    shutil.copy(demo_db, db)
    args = ["-f", "params/demo.yaml", "-p", "sqlite_path", str(db), "-p", "database_url", pg_url]
    assert run_cli("run", *args).exit_code == 0
    keys = _app_writes_both(db, pg)
    before = _contents(pg)

    dry = run_cli("cutover", *args, "-p", "dry_run", "true")

    assert dry.exit_code == 0, dry.stdout + dry.stderr
    assert _contents(pg) == before
    record = record_of(dry)
    outcome = json.loads((record / "cutover.json").read_text())
    assert outcome["dry_run"] is True and "verified" not in outcome
    items = next(t for t in outcome["catch_up"]["tables"] if t["table"] == "mental_items")
    assert sorted((c["key"], c["action"]) for c in items["changes"]) == sorted(
        [("zzsqlitenew", "insert"), (keys["updated"], "update"), (keys["deleted"], "delete")])
    assert sorted((c["key"], c["sqlite"], c["postgres"]) for c in items["conflicts"]) == sorted(
        [("zzpostgresnew", "absent", "inserted"), (keys["pg_updated"], "unchanged", "updated")])
    assert not (record / "verify.json").exists() and not (record / "checklist.md").exists()
    assert "NOTHING WAS APPLIED" in (record / "05_cutover.html").read_text()

    stopped = run_cli("cutover", *args)

    assert stopped.exit_code == 1
    line = first_error_line(stopped.stderr)
    assert "05_cutover failed" in line and "mental_items zzpostgresnew (inserted in Postgres)" in line, line
    assert _contents(pg) == before
    outcome = json.loads((record_of(stopped) / "cutover.json").read_text())
    assert outcome["catch_up"]["applied"] is False and outcome["catch_up"]["conflicts"] == 2

    kept = run_cli("cutover", *args, "-p", "conflicts", "keep_target")

    assert kept.exit_code == 0, kept.stdout + kept.stderr
    summary = json.loads((record_of(kept) / "summary.json").read_text())
    assert {t["target"]: t["kept_rows"] for t in summary["tables"]} == {"mental_items": 2, "item_events": 0}
    assert pg.execute("SELECT title FROM mental_items WHERE id = 'zzpostgresnew'").fetchone() == ("from postgres",)
