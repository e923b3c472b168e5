"""Step 01, the typed scan: INTEGER and TEXT columns are read by DuckDB's own parallel scan of the
attached table, whose BIGINT and VARCHAR types let one storage class through and raise on any other
value; the profile is the one a `sqlite_query` pass gives (the path every column took before), and a
value that does not fit its column, wherever it lies, sends the table back to that path."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from sqlite2neon import source
from sqlite2neon.source import inspect_source
from conftest import make_sqlite

BIG = 250_000  # more rows than SPLIT_ROWS, so that the last rows lie in a range of their own


def through_sqlite_query(path: Path, monkeypatch, **kwargs) -> source.SourceProfile:
    """The profile with every column read through `sqlite_query`, as before the typed scan."""
    with monkeypatch.context() as m:
        m.setattr(source, "_typed_columns", lambda *args: [])
        return inspect_source(path, **kwargs)


def typed_scan(path: Path, table: str) -> tuple[list[int], dict | None]:
    """The columns `_typed_columns` gives the table, and what `_typed_scan` makes of them (None: it raised)."""
    lite, duck = source.open_sqlite(path), source.open_source(path)
    try:
        tp = source._catalogue(lite, table, lite.execute("SELECT sql FROM sqlite_master WHERE name = ?", [table]).fetchone()[0])
        columns = source._typed_columns(lite, duck, tp)
        return columns, source._typed_scan(duck.cursor(), tp, columns, source.DEFAULT_YEARS)
    finally:
        lite.close()
        duck.close()


# every kind of text and integer the facts tell apart, in columns declared INTEGER and TEXT
TEXTS = ["", " ", "x", "a\x00b", "2024-01-01", "2024-01-01 10:00:00", "2024-01-01T10:00:00.1234567Z",
         "1800-01-01", "2024-02-30", "2024-13-01 10:00", "10:00:00.1234567 in a sentence", "[1, 2]", ' ["a"]',
         "\u00a0{\"k\": 1}", '{"a": 1, "a": 2}', '["\\u0000"]', '"\\ud800"', "\t[1]", "{not json", "42", " 2459000.5 ",
         "-1e5", ".5", "+7", "1e999", "é", "日本", "🙂", "\u3000[2]", "Z", "~", "[", "{}", "NaN"]
INTEGERS = [0, 1, -1, 2, 1_700_000_000, 1_700_000_000_123, 1_700_000_000_123_456, 2_459_000, 946_684_800,
            4_102_444_800, 2**53, 2**53 + 1, -(2**53) - 1, 2**63 - 1, -(2**63), 99]


@pytest.fixture(scope="module")
def varied(tmp_path_factory) -> Path:
    """Rows in no rowid order, texts and integers of every kind, NULLs, and columns the typed scan does
    not read (REAL, BLOB, DATETIME, no type) beside them."""
    rows = []
    for k in range(600):
        text = TEXTS[k % len(TEXTS)] if k % 7 else None
        number = INTEGERS[k % len(INTEGERS)] if k % 5 else None
        rows.append((((k * 7919) % 1000) + 1, text, number, number, k % 2, text and text[:3], k / 3, b"\x01" * (k % 3),
                     "2024-01-01" if k % 2 else 1_700_000_000 + k, [1, "x", 2.5, None][k % 4]))
    return make_sqlite(tmp_path_factory.mktemp("typed") / "varied.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT, created_at INTEGER, priority INT, is_done BOOLEAN,
                        code VARCHAR(10), ratio REAL, data BLOB, at DATETIME, anything);
        CREATE TABLE only_typed (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE, n INTEGER, tag TEXT COLLATE RTRIM);
        CREATE TABLE empty (id INTEGER PRIMARY KEY, name TEXT, n INTEGER);
    """, {"t": rows, "only_typed": [(k + 1, TEXTS[k % len(TEXTS)], INTEGERS[k % len(INTEGERS)], TEXTS[-k % len(TEXTS)])
                                    for k in range(300)]})


def test_typed_columns_are_the_integer_and_text_ones(varied):
    columns, facts = typed_scan(varied, "t")
    assert columns == [0, 1, 2, 3, 4, 5]  # id, body, created_at, priority, is_done (BOOLEAN: BIGINT), code
    assert facts is not None and facts["rows.n"] == 600


def test_the_typed_scan_gives_the_profile_of_sqlite_query(varied, monkeypatch):
    """Every fact of every column, examples (the first in rowid order) included."""
    profile = inspect_source(varied)
    assert profile == through_sqlite_query(varied, monkeypatch)
    body, created = profile.table("t").column("body"), profile.table("t").column("created_at")
    assert (body.storage["text"], body.nul_values, body.sub_microsecond, body.times_of_day) == (514, 15, 31, 32)
    assert (body.json_repeated_keys, body.json_unheld, body.outside_years) == (15, 30, {"text": 15, "julian_day": 74})
    assert (created.storage["integer"], created.wide_integers, created.hints) == (480, 119, ["ambiguous_unit"])
    assert created.outside_years == {"unix_seconds": 209, "unix_millis": 179, "unix_micros": 148, "julian_day": 449}


def test_the_typed_scan_gives_the_profile_of_sqlite_query_in_rowid_ranges_too(varied, monkeypatch):
    """The columns left to `sqlite_query` are read in rowid ranges, in a pass of their own."""
    monkeypatch.setattr(source, "SPLIT_ROWS", 10)
    assert inspect_source(varied) == through_sqlite_query(varied, monkeypatch)


def test_the_typed_scan_counts_what_a_narrower_plausible_window_puts_outside(varied, monkeypatch):
    """Years that cut through the integers: the numbers are counted one by one (the exact pass)."""
    assert inspect_source(varied, years=(2020, 2030)) == through_sqlite_query(varied, monkeypatch, years=(2020, 2030))


def test_a_table_sqlite_reads_through_a_covering_index_is_left_to_sqlite_query(tmp_path, monkeypatch):
    """Its scan order, which picks the first examples, is the index's: rowids would pick others. The
    app's statistics (ANALYZE's sqlite_stat1, here with an estimated row size `sz=`:
    https://www.sqlite.org/fileformat2.html#stat1tab) make SQLite prefer an index holding every column."""
    path = make_sqlite(tmp_path / "cover.db", "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT UNIQUE);",
                       {"tags": [(k, f"{'zyx'[k % 3]}{k} 2024-01-01 10:00:00.1234567") for k in range(1, 50)]})
    con = sqlite3.connect(path)
    con.execute("ANALYZE")
    con.execute("UPDATE sqlite_stat1 SET stat = stat || ' sz=2' WHERE idx = 'sqlite_autoindex_tags_1'")
    con.commit()
    con.close()
    lite = source.open_sqlite(path)
    try:
        plan = lite.execute("EXPLAIN QUERY PLAN SELECT id, name FROM tags").fetchall()
    finally:
        lite.close()
    assert "COVERING INDEX" in plan[0][-1]
    assert typed_scan(path, "tags")[0] == []
    profile = inspect_source(path)
    assert profile.table("tags").column("name").sub_microsecond_example == "x11 2024-01-01 10:00:00.1234567"
    assert profile == through_sqlite_query(path, monkeypatch)


# --- a value that does not fit its column, in the last row of a large table -----------------------------


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, s TEXT, j JSON, created_at INTEGER)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)",
                    ((k, k % 3, f"row {k}", "[1]", 1_700_000_000 + k) for k in range(1, BIG + 1)))
    con.commit()
    con.close()
    return path


@pytest.mark.parametrize("column, value, stored", [
    ("n", "2.5", "real"),  # a REAL in an INTEGER column
    ("n", "'text'", "text"),  # text that is no number keeps its class under INTEGER affinity
    ("n", "x'00ff'", "blob"),
    ("n", "CAST(x'ff41' AS TEXT)", "text"),  # not UTF-8 either: its error message cannot be decoded
    ("s", "x'0102'", "blob"),  # BLOBs keep their class under TEXT affinity
    ("s", "x''", "blob"),
    ("s", "CAST(x'61ff' AS TEXT)", "text"),  # text that is not UTF-8
    ("j", "7", "integer"),  # JSON has NUMERIC affinity: numbers stay numbers in a VARCHAR column
    ("j", "1.5", "real"),
    ("created_at", "1700000000.5", "real"),
])
def test_a_value_of_another_class_in_the_last_row_sends_the_table_to_sqlite_query(big, tmp_path, monkeypatch,
                                                                                   column, value, stored):
    path = tmp_path / "planted.db"
    shutil.copy(big, path)
    con = sqlite3.connect(path)
    con.execute(f'UPDATE t SET "{column}" = {value} WHERE id = {BIG}')
    con.commit()
    assert con.execute(f'SELECT typeof("{column}") FROM t WHERE id = {BIG}').fetchone()[0] == stored
    classes = dict(con.execute(f'SELECT typeof("{column}"), count(*) FROM t GROUP BY 1').fetchall())
    con.close()
    columns, facts = typed_scan(path, "t")
    assert columns == [0, 1, 2, 3, 4] and facts is None  # the scan raised, on the very last row
    profile = inspect_source(path)
    col = profile.table("t").column(column)
    assert {k: v for k, v in col.storage.items() if v} == classes
    assert col.bad_utf8_values == ("x'" in value and "AS TEXT" in value)
    assert profile == through_sqlite_query(path, monkeypatch)


def test_without_a_planted_value_the_large_table_is_read_by_the_typed_scan(big, monkeypatch):
    columns, facts = typed_scan(big, "t")
    assert facts is not None and facts["rows.n"] == BIG
    profile = inspect_source(big)
    assert profile == through_sqlite_query(big, monkeypatch)
    n = profile.table("t").column("n")
    assert n.storage == {"integer": BIG, "real": 0, "text": 0, "blob": 0, "null": 0} and (n.min, n.max) == ("0", "2")
    assert profile.table("t").column("created_at").hints == ["unix_seconds"]
    assert profile.table("t").column("j").hints == ["json"]
