"""Step 01, inspect the source: tables, row counts, what each column really stores (the storage
census), hints for conversions, foreign keys with their orphans; wrong inputs refused with a
one-line SourceError; the file never written to."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from sqlite2neon import source
from sqlite2neon.errors import SourceError
from sqlite2neon.source import SourceProfile, inspect_source
from conftest import make_sqlite


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def demo_profile(demo_db) -> SourceProfile:
    return inspect_source(demo_db)


def demo_counts(demo_db) -> dict[str, int]:
    con = sqlite3.connect(f"file:{demo_db}?mode=ro", uri=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("mental_items", "item_events")}
    finally:
        con.close()


# --- the demo database --------------------------------------------------------------------------

def test_demo_tables_and_row_counts(demo_profile, demo_db):
    assert [t.name for t in demo_profile.tables] == ["mental_items", "item_events"]
    counts = demo_counts(demo_db)
    assert counts["mental_items"] == 3000
    assert demo_profile.table("mental_items").rows == counts["mental_items"]
    assert demo_profile.table("item_events").rows == counts["item_events"] > 0
    assert demo_profile.integrity == "ok"
    assert demo_profile.size_bytes == demo_db.stat().st_size


def test_demo_columns_keys_and_nullability(demo_profile):
    items = demo_profile.table("mental_items")
    assert [c.name for c in items.columns] == [
        "id", "kind", "title", "body", "tags", "priority", "resolved", "created_at", "updated_at", "resolved_at"]
    assert items.primary_key == ["id"]
    assert items.column("title").notnull is True
    assert items.column("body").notnull is False
    assert items.column("kind").default == "'thought'"
    assert items.column("priority").declared_type == "INTEGER"
    assert items.column("priority").duckdb_type == "BIGINT"
    assert items.column("id").duckdb_type == "VARCHAR"
    events = demo_profile.table("item_events")
    assert events.primary_key == ["id"]
    assert events.column("id").pk_position == 1
    assert events.column("item_id").pk_position == 0


@pytest.mark.parametrize("table, column, hints", [
    ("mental_items", "created_at", ["unix_seconds"]),
    ("mental_items", "updated_at", ["unix_seconds"]),
    ("mental_items", "resolved_at", ["unix_seconds"]),  # NULLs do not spoil the hint
    ("mental_items", "tags", ["json"]),
    ("mental_items", "resolved", ["bool01"]),
    ("mental_items", "priority", []),  # 0..3 is no boolean
    ("mental_items", "title", []),
    ("item_events", "at", ["unix_seconds"]),
    ("item_events", "id", []),
])
def test_demo_hints(demo_profile, table, column, hints):
    assert demo_profile.table(table).column(column).hints == hints


def test_demo_storage_census_counts_nulls(demo_db, demo_profile):
    con = sqlite3.connect(f"file:{demo_db}?mode=ro", uri=True)
    try:
        nulls, text = con.execute("SELECT sum(body IS NULL), sum(typeof(body) = 'text') FROM mental_items").fetchone()
    finally:
        con.close()
    body = demo_profile.table("mental_items").column("body")
    assert body.storage == {"integer": 0, "real": 0, "text": text, "blob": 0, "null": nulls}
    assert body.nulls == nulls > 0
    assert body.stored_classes == {"text"}


def test_demo_indexes_and_foreign_key(demo_profile):
    items = demo_profile.table("mental_items")
    by_name = {ix.name: ix for ix in items.indexes}
    assert by_name["mental_items_created_at_idx"].columns == ["created_at"]
    assert by_name["mental_items_open_idx"].partial is True
    assert by_name["mental_items_open_idx"].columns == ["kind", "priority"]
    assert any(ix.origin == "pk" and ix.columns == ["id"] for ix in items.indexes)
    (fk,) = demo_profile.table("item_events").foreign_keys
    assert (fk.columns, fk.ref_table, fk.ref_columns, fk.on_delete, fk.orphans) == (
        ["item_id"], "mental_items", ["id"], "CASCADE", 0)


def test_profile_survives_its_json_form(demo_profile):
    again = SourceProfile.from_json(demo_profile.to_json())
    assert again == demo_profile


def test_table_filter(demo_db):
    profile = inspect_source(demo_db, tables=["item_events"])
    assert [t.name for t in profile.tables] == ["item_events"]


def test_table_filter_naming_a_missing_table_is_a_source_error(demo_db):
    with pytest.raises(SourceError, match="nope.*its tables: mental_items, item_events"):
        inspect_source(demo_db, tables=["nope"])


# --- hints and census on files written here -----------------------------------------------------

def test_millisecond_timestamps_get_unix_millis(tmp_path):
    start = 1_700_000_000_000
    path = make_sqlite(tmp_path / "ms.db", "CREATE TABLE events (id INTEGER PRIMARY KEY, created_at INTEGER, note TEXT);",
                       {"events": [(i, start + i * 1234, "n") for i in range(1, 50)]})
    col = inspect_source(path).table("events").column("created_at")
    assert col.hints == ["unix_millis"]
    assert col.min == str(start + 1234)
    assert col.max == str(start + 49 * 1234)


def test_epoch_numbers_in_a_column_not_named_like_time_get_no_time_hint(tmp_path):
    path = make_sqlite(tmp_path / "n.db", "CREATE TABLE counters (id INTEGER PRIMARY KEY, hits INTEGER);",
                       {"counters": [(1, 1_700_000_000), (2, 1_700_000_001)]})
    # in range, so noted (an override to timestamptz then reads seconds), but no time conversion by itself
    assert inspect_source(path).table("counters").column("hits").hints == ["seconds_range"]


def test_iso_text_hint(tmp_path):
    path = make_sqlite(tmp_path / "iso.db", "CREATE TABLE notes (id INTEGER PRIMARY KEY, created_at TEXT);",
                       {"notes": [(1, "2024-03-01 10:00:00"), (2, "2024-03-02T11:30:00Z")]})
    assert inspect_source(path).table("notes").column("created_at").hints == ["iso_text"]


def test_storage_census_of_a_column_holding_integers_and_text(tmp_path):
    path = make_sqlite(
        tmp_path / "mixed.db",
        "CREATE TABLE codes (id INTEGER PRIMARY KEY, code INTEGER);",
        # 'A-17' and 'n/a' cannot become integers, so SQLite keeps them as text; '42' becomes 42.
        {"codes": [(1, 7), (2, "42"), (3, "A-17"), (4, None), (5, "n/a"), (6, 3.5)]},
    )
    col = inspect_source(path).table("codes").column("code")
    assert col.storage == {"integer": 2, "real": 1, "text": 2, "blob": 0, "null": 1}
    assert col.stored_classes == {"integer", "real", "text"}
    assert col.duckdb_type == "BIGINT"
    assert col.hints == []


def test_blob_column_census(tmp_path):
    path = make_sqlite(tmp_path / "b.db", "CREATE TABLE files (id INTEGER PRIMARY KEY, data BLOB);",
                       {"files": [(1, b"\x00\x01"), (2, b"\xff")]})
    col = inspect_source(path).table("files").column("data")
    assert col.storage["blob"] == 2
    assert col.duckdb_type == "BLOB"


def test_foreign_keys_with_orphans_are_counted(tmp_path):
    path = make_sqlite(
        tmp_path / "fk.db",
        """
        CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE books (
            id INTEGER PRIMARY KEY,
            author_id INTEGER REFERENCES authors (id) ON DELETE SET NULL,
            editor_id INTEGER REFERENCES authors,
            title TEXT
        );
        """,
        {
            "authors": [(1, "a"), (2, "b")],
            # foreign keys are off by default in sqlite3: orphans go in
            "books": [(1, 1, 2, "x"), (2, 9, 1, "y"), (3, 8, 7, "z"), (4, None, None, "w")],
        },
    )
    books = inspect_source(path).table("books")
    by_column = {tuple(fk.columns): fk for fk in books.foreign_keys}
    author = by_column[("author_id",)]
    assert (author.ref_table, author.ref_columns, author.on_delete, author.orphans) == ("authors", ["id"], "SET NULL", 2)
    editor = by_column[("editor_id",)]  # REFERENCES without columns means the parent's primary key
    assert (editor.ref_columns, editor.orphans) == (["id"], 1)


def test_views_and_triggers_are_listed(tmp_path):
    path = make_sqlite(tmp_path / "vt.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER);
        CREATE VIEW big AS SELECT * FROM t WHERE n > 10;
        CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN SELECT 1; END;
    """)
    profile = inspect_source(path)
    assert [v["name"] for v in profile.views] == ["big"]
    assert [(tr["name"], tr["table"]) for tr in profile.triggers] == [("t_ins", "t")]
    assert [t.name for t in profile.tables] == ["t"]


def test_without_rowid_table_is_recognised(tmp_path):
    path = make_sqlite(tmp_path / "wr.db", "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;",
                       {"kv": [("a", "1")]})
    assert inspect_source(path).table("kv").without_rowid is True


# --- wrong inputs -------------------------------------------------------------------------------

def _one_line_source_error(path, match):
    with pytest.raises(SourceError, match=match) as info:
        inspect_source(path)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_missing_file_is_a_source_error(tmp_path):
    message = _one_line_source_error(tmp_path / "absent.db", "does not exist")
    assert "sqlite_path" in message


def test_text_file_is_not_a_sqlite_database(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 10)
    _one_line_source_error(path, "not a SQLite database")


def test_short_and_empty_files_are_not_sqlite_databases(tmp_path):
    (tmp_path / "empty.db").write_bytes(b"")
    (tmp_path / "short.db").write_bytes(b"SQLite format 3\x00")
    _one_line_source_error(tmp_path / "empty.db", "not a SQLite database")
    _one_line_source_error(tmp_path / "short.db", "not a SQLite database")


def test_sqlite_header_with_garbage_after_it_is_a_source_error(tmp_path):
    path = tmp_path / "broken.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xab" * 4096)
    _one_line_source_error(path, str(path))


def test_directory_is_a_source_error(tmp_path):
    _one_line_source_error(tmp_path, "is a directory")


def test_database_without_tables_is_a_source_error(tmp_path):
    path = make_sqlite(tmp_path / "none.db", "CREATE VIEW answer AS SELECT 42 AS n;")
    _one_line_source_error(path, "holds no tables")


# --- read-only ----------------------------------------------------------------------------------

def test_inspection_leaves_the_source_file_unchanged(demo_db):
    before = (sha256(demo_db), demo_db.stat().st_mtime_ns)
    siblings = sorted(p.name for p in demo_db.parent.iterdir())
    inspect_source(demo_db)
    source.table_names(demo_db)
    assert (sha256(demo_db), demo_db.stat().st_mtime_ns) == before
    assert sorted(p.name for p in demo_db.parent.iterdir()) == siblings  # no -journal, -wal, -shm left


def test_inspection_of_a_wal_database_leaves_it_unchanged(tmp_path):
    path = make_sqlite(tmp_path / "wal.db", "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);",
                       {"t": [(1, "a"), (2, "b")]})
    before = sha256(path)
    assert inspect_source(path).table("t").rows == 2
    assert sha256(path) == before


# --- one pass per table, in rowid ranges: the facts are SQLite's own ----------------------------

MIXED = """
CREATE TABLE mixed (id INTEGER PRIMARY KEY, v, w TEXT COLLATE NOCASE, pad TEXT COLLATE RTRIM, b BLOB, z);
"""
MIXED_ROWS = [
    (1, 5.0, "b", "x ", b"\x01", -0.0), (2, 5, "A", "x", b"", 0.0), (3, "txt", "a", "y  ", "t", 0),
    (4, b"\xff", "B", "a ", 3, None), (5, 2**60 + 1, 7, 1.5, 2.5, "é"), (6, 2.0**60, None, None, None, b"\x00"),
    (7, -(2**63), "2024-01-01 10:00:00.1234567", "[1]", b"\x00\x00", 2459000.123456789),
]


def _sqlite_extremes(path: Path, table: str, column: str) -> tuple[str, str]:
    """SQLite's own min() and max() of a column, shown as inspection shows them."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        low, high = con.execute(f'SELECT hex(CAST(min("{column}") AS BLOB)), hex(CAST(max("{column}") AS BLOB)) '
                                f'FROM "{table}"').fetchone()
        stored = {r[0] for r in con.execute(f'SELECT DISTINCT typeof("{column}") FROM "{table}"')} - {"null"}
    finally:
        con.close()
    return tuple(source._shown(bytes.fromhex(h), stored) for h in (low, high))


def test_min_and_max_over_mixed_storage_classes_are_sqlites(tmp_path):
    """Numbers < text < BLOBs, an integer beside an equal real, 0.0 beside -0.0, integers past 2^53
    beside a real, text under NOCASE and RTRIM, empty BLOBs: min and max are what SQLite's own give."""
    path = make_sqlite(tmp_path / "mixed.db", MIXED, {"mixed": MIXED_ROWS})
    table = inspect_source(path).table("mixed")
    for col in table.columns:
        assert (col.min, col.max) == _sqlite_extremes(path, "mixed", col.name), col.name


def test_a_table_read_in_rowid_ranges_has_the_profile_of_one_pass(tmp_path, monkeypatch):
    rows = [(i * 7, v, f"2024-01-{1 + i % 28:02d} 10:00:00", i % 2) for i, v in enumerate(
        [1_700_000_000, 2.5, "x", None, b"\x00", 1_700_000_000_123, "[1, 2]", 2459000.5, -0.0, 2**62] * 50)]
    path = make_sqlite(tmp_path / "r.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v, created_at TEXT, is_done INTEGER);",
                       {"t": rows})
    whole = inspect_source(path)
    monkeypatch.setattr(source, "SPLIT_ROWS", 10)
    lite = source.open_sqlite(path)
    try:
        assert len(source._rowid_ranges(lite, whole.table("t"), 4)) == 4  # the split is really made
    finally:
        lite.close()
    assert inspect_source(path) == whole


def test_a_without_rowid_table_is_read_in_one_pass_with_the_same_facts(tmp_path, monkeypatch):
    monkeypatch.setattr(source, "SPLIT_ROWS", 10)
    path = make_sqlite(tmp_path / "wr.db", "CREATE TABLE kv (k TEXT PRIMARY KEY, v, n INTEGER) WITHOUT ROWID;",
                       {"kv": [(f"k{i:03d}", [1, 2.5, "x", None, b"\xff"][i % 5], i) for i in range(200)]})
    table = inspect_source(path).table("kv")
    assert table.rows == 200 and table.without_rowid
    assert table.column("v").storage == {"integer": 40, "real": 40, "text": 40, "blob": 40, "null": 40}
    for col in table.columns:
        assert (col.min, col.max) == _sqlite_extremes(path, "kv", col.name), col.name


def test_a_class_the_sample_did_not_see_still_gets_its_facts(tmp_path):
    """The first 1000 rows hold integers only; a real with digits beyond a microsecond, ISO text and
    text that is not UTF-8 come later, and are counted all the same."""
    path = make_sqlite(tmp_path / "late.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, created_at);",
                       {"t": [(i, 1_700_000_000 + i) for i in range(1, 1501)]
                        + [(1501, 1_700_000_000.1234567), (1502, "2024-01-01 10:00:00.1234567")]})
    con = sqlite3.connect(path)
    con.execute("INSERT INTO t VALUES (1503, CAST(x'61ff' AS TEXT))")
    con.commit()
    con.close()
    col = inspect_source(path).table("t").column("created_at")
    assert col.storage == {"integer": 1500, "real": 1, "text": 2, "blob": 0, "null": 0}
    assert (col.finer_than_micros["unix_seconds"], col.finer_example["unix_seconds"]) == (1, "1700000000.1234567")
    assert (col.sub_microsecond, col.sub_microsecond_example) == (1, "2024-01-01 10:00:00.1234567")
    assert col.bad_utf8_values == 1
    assert (col.min, col.max) == _sqlite_extremes(path, "t", "created_at")


def test_a_column_under_the_apps_own_collation_is_inspected(tmp_path):
    """SQLite cannot apply a collation the app defines: min and max are then taken by bytes, and the
    collation is named (the plan lists it)."""
    path = tmp_path / "app.db"
    con = sqlite3.connect(path)
    con.create_collation("app_order", lambda a, b: (a > b) - (a < b))
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT COLLATE app_order)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(1, "b"), (2, "a"), (3, 5)])
    con.commit()
    con.close()
    col = inspect_source(path).table("t").column("name")
    assert (col.collation, col.min, col.max) == ("APP_ORDER", "5", "b")


def test_epoch_ranges_are_counted_number_by_number_where_min_and_max_do_not_decide(tmp_path):
    """Seconds and milliseconds in one column: neither unit's range holds both the least and the
    greatest number, so each number is counted; small numbers lie wholly inside the plausible years
    (1970) in the unix units and wholly outside them as Julian days (4713 BC), and the first is the
    example."""
    seconds, millis = [1_700_000_000 + i for i in range(30)], [1_700_000_000_000 + i for i in range(20)]
    path = make_sqlite(tmp_path / "units.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, created_at INTEGER, priority INTEGER);",
                       {"t": [(i, v, 3 - i % 4) for i, v in enumerate(seconds + millis, start=1)]})
    table = inspect_source(path).table("t")
    created = table.column("created_at")
    assert created.hints[0] == "ambiguous_unit"
    assert created.outside_years == {"unix_seconds": 20, "julian_day": 50}
    assert created.outside_example == {"unix_seconds": str(millis[0]), "julian_day": str(seconds[0])}
    priority = table.column("priority")
    assert (priority.outside_years, priority.outside_example) == ({"julian_day": 50}, {"julian_day": "2"})



def test_rowid_ranges_at_the_extremes_of_int64_give_the_profile_of_one_pass(tmp_path, monkeypatch):
    """Rowids from -2^63 to 2^63 - 1 with gaps, columns named rowid and oid (the ranges then use
    _rowid_), and classes, ISO text, JSON with a repeated key or \\u0000, integers past 2^53, an
    empty text and a number on a unit's boundary that only the last range holds: the facts of one
    pass. A table whose columns take every name of the rowid is read in one pass."""
    rows = [(-(2**63), 1, "x", "[2]", 1)] + [(i * 1000, i, f"r{i}", "{}", 1_700_000_000 + i) for i in range(1, 1200)]
    rows += [(2**62, b"\x00", "", "[1]", 1_700_000_000.5), (2**63 - 2, 2**53 + 1, "1800-01-01", '["\\u0000"]', 4_102_444_800),
             (2**63 - 1, 2.5, "2024-01-01 10:00:00.1234567", '{"a": 1, "a": 2}', 946_684_800)]
    path = tmp_path / "x.db"
    con = sqlite3.connect(path)
    con.execute('CREATE TABLE t ("ROWID" TEXT, "oid" INTEGER, v, j TEXT, created_at)')
    con.execute('CREATE TABLE every ("rowid" TEXT, "oid" INTEGER, "_rowid_" INTEGER, v)')
    con.executemany('INSERT INTO t (_rowid_, "ROWID", "oid", v, j, created_at) VALUES (?, ?, ?, ?, ?, ?)',
                    [(k, s, 3, v, j, at) for k, v, s, j, at in rows])
    con.executemany("INSERT INTO every VALUES (?, ?, ?, ?)", [(s, 1, k % 5, v) for k, v, s, _, _ in rows])
    con.commit()
    con.close()
    whole = inspect_source(path)
    monkeypatch.setattr(source, "SPLIT_ROWS", 10)
    lite = source.open_sqlite(path)
    try:
        ranges = source._rowid_ranges(lite, whole.table("t"), 4)
        assert len(ranges) == 4 and "_rowid_" in ranges[0]  # the split is really made, on the rowid
        assert source._rowid_ranges(lite, whole.table("every"), 4) == [""]
    finally:
        lite.close()
    assert inspect_source(path) == whole
    v = whole.table("t").column("v")
    assert v.storage == {"integer": 1201, "real": 1, "text": 0, "blob": 1, "null": 0} and v.wide_integers == 1
    assert (v.min, v.max) == _sqlite_extremes(path, "t", "v")
    j = whole.table("t").column("j")
    assert (j.json_repeated_keys, j.json_unheld) == (1, 1)
