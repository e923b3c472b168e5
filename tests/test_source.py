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
