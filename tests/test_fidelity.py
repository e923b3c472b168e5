"""Fidelity, end to end: realistic SQLite databases (`sqlite_fixtures.py`) run through the steps
source, plan, load and verify into a real PostgreSQL, then compared table by table with what
SQLite holds: tables, row counts, keys, NOT NULL, unique constraints, indexes, foreign keys, views,
and every value, converted to the Python type it must arrive as (Decimal for numeric, an aware
datetime for timestamptz, bytes for bytea, parsed JSON for jsonb).

Then the bad cases (`hostile`): rows that cannot convert are rejected into `_sqlite2neon.rejects`
and `rejects.csv` while the rest loads; NUL and invalid UTF-8 are replaced, stripped or rejected;
orphan foreign-key rows stop the plan, load with a NOT VALID key, or lose their reference; names
that collide stop the plan; names are mapped lower / snake_case / preserve; and tables that already
exist in the target (a Drizzle schema, or `target_ddl`) receive the rows in their own columns.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
import re
import sqlite3
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

import sqlite_fixtures as fx
from conftest import make_sqlite
from sqlite2neon import load, plan, source, verify
from sqlite2neon.config import Params
from sqlite2neon.errors import ConfigError, RunbookError

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TSTZ = "timestamp with time zone"


# --- running the steps --------------------------------------------------------------------------

def migrate(params: Params):
    """The runbook's steps 01-04 as the notebooks run them; returns (plan, load result, verify result)."""
    source.step(params)
    the_plan = plan.step(params)
    loaded = load.step(params)
    return the_plan, loaded, verify.step(params)


@contextmanager
def scratch_database(server_url: str):
    """A database of its own for a module-scoped fixture, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server_url.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def params_at(url: str, sqlite_path: Path, run_dir: Path, **overrides) -> Params:
    values = {"sqlite_path": str(sqlite_path), "database_url": url, "run_dir": str(run_dir), "env_file": ""}
    return Params.from_mapping(values | overrides)


def checks_by_table(result) -> dict:
    return {t.source: t for t in result.tables}


# --- reading SQLite -----------------------------------------------------------------------------

def sqlite_connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    con.text_factory = lambda b: b.decode("utf-8", "replace")  # the hostile file holds invalid UTF-8
    return con


def sqlite_query(path: Path, query: str, args=()) -> list[tuple]:
    con = sqlite_connect(path)
    try:
        return con.execute(query, args).fetchall()
    finally:
        con.close()


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sqlite_tables(path: Path) -> list[str]:
    return [r[0] for r in sqlite_query(
        path, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY rowid")]


def sqlite_views(path: Path) -> list[str]:
    return [r[0] for r in sqlite_query(path, "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY rowid")]


def sqlite_count(path: Path, table: str) -> int:
    return sqlite_query(path, f"SELECT count(*) FROM {q(table)}")[0][0]


def sqlite_columns(path: Path, table: str) -> list[tuple[str, str, bool, int]]:
    """(name, declared type, notnull, pk position) of the stored, non-generated columns."""
    return [(n, t, bool(nn), pk) for n, t, nn, pk in sqlite_query(
        path, 'SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid', [table])]


def sqlite_all_columns(path: Path, table: str) -> list[str]:
    """Every column, generated ones included."""
    return [r[0] for r in sqlite_query(path, "SELECT name FROM pragma_table_xinfo(?) WHERE hidden IN (0, 2, 3)", [table])]


def sqlite_pk(path: Path, table: str) -> list[str]:
    return [n for n, _, _, pk in sorted(sqlite_columns(path, table), key=lambda c: c[3]) if pk]


def sqlite_indexes(path: Path, table: str) -> list[tuple[tuple[str, ...], bool, bool]]:
    """(columns, unique, partial) of every index but the primary key's."""
    out = []
    for name, unique, origin, partial in sqlite_query(
            path, 'SELECT name, "unique", origin, partial FROM pragma_index_list(?)', [table]):
        if origin == "pk":
            continue
        cols = tuple(r[0] for r in sqlite_query(path, "SELECT name FROM pragma_index_info(?) ORDER BY seqno", [name]))
        out.append((cols, bool(unique), bool(partial)))
    return out


def sqlite_foreign_keys(path: Path, table: str) -> list[tuple[tuple[str, ...], str, tuple[str, ...]]]:
    """(columns, referenced table, referenced columns); an omitted reference means the parent's key."""
    grouped: dict[int, list] = {}
    for fk_id, _seq, ref, frm, to in sqlite_query(
            path, 'SELECT id, seq, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq', [table]):
        grouped.setdefault(fk_id, [ref, [], []])
        grouped[fk_id][1].append(frm)
        grouped[fk_id][2].append(to)
    out = []
    for ref, frm, to in grouped.values():
        if any(t is None for t in to):
            to = sqlite_pk(path, ref)
        out.append((tuple(frm), ref, tuple(to)))
    return out


def sqlite_dicts(path: Path, table: str) -> list[dict]:
    con = sqlite_connect(path)
    try:
        cur = con.execute(f"SELECT * FROM {q(table)}")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]
    finally:
        con.close()


# --- reading Postgres ---------------------------------------------------------------------------

REL = "to_regclass(format('%%I.%%I', %s::text, %s::text))"


def pg_tables(conn, schema: str = "public") -> set[str]:
    return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])}


def pg_count(conn, table: str, schema: str = "public") -> int:
    return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))).fetchone()[0]


def pg_types(conn, table: str, schema: str = "public") -> dict[str, str]:
    """column -> its type as Postgres prints it (`numeric(10,2)`, `timestamp with time zone`, ...)."""
    return dict(conn.execute(
        f"SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute "
        f"WHERE attrelid = {REL} AND attnum > 0 AND NOT attisdropped ORDER BY attnum", [schema, table]).fetchall())


def pg_nullable(conn, table: str, schema: str = "public") -> dict[str, bool]:
    return {c: n == "YES" for c, n in conn.execute(
        "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        [schema, table])}


def pg_defaults(conn, table: str, schema: str = "public") -> dict[str, str | None]:
    return dict(conn.execute(
        "SELECT column_name, column_default FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        [schema, table]).fetchall())


def pg_pk(conn, table: str, schema: str = "public") -> list[str]:
    row = conn.execute(
        f"SELECT ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o) "
        f"JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o) "
        f"FROM pg_index i WHERE i.indrelid = {REL} AND i.indisprimary", [schema, table]).fetchone()
    return list(row[0]) if row else []


def pg_indexes(conn, table: str, schema: str = "public") -> list[tuple[tuple[str, ...], bool, bool]]:
    """(columns, unique, partial) of every index but the primary key's."""
    return [(tuple(cols), unique, partial) for cols, unique, partial in conn.execute(
        f"SELECT ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o) "
        f"JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o), "
        f"i.indisunique, i.indpred IS NOT NULL "
        f"FROM pg_index i WHERE i.indrelid = {REL} AND NOT i.indisprimary", [schema, table])]


def pg_foreign_keys(conn, table: str, schema: str = "public") -> list[tuple[tuple[str, ...], str, tuple[str, ...], bool]]:
    """(columns, referenced table, referenced columns, validated)."""
    return [(tuple(cols), ref, tuple(ref_cols), valid) for cols, ref, ref_cols, valid in conn.execute(
        f"SELECT ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o) "
        f"  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o), "
        f"r.relname::text, "
        f"ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, o) "
        f"  JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o), "
        f"c.convalidated "
        f"FROM pg_constraint c JOIN pg_class r ON r.oid = c.confrelid "
        f"WHERE c.contype = 'f' AND c.conrelid = {REL}", [schema, table])]


def pg_dicts(conn, table: str, schema: str = "public") -> list[dict]:
    cur = conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, table)))
    names = [d.name for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def next_serial_value(conn, table: str, column: str, schema: str = "public") -> int | None:
    """The value the column's identity / serial sequence hands out next, read without consuming it."""
    seq = conn.execute("SELECT pg_get_serial_sequence(format('%%I.%%I', %s::text, %s::text), %s)", [schema, table, column]).fetchone()[0]
    if seq is None:
        return None
    last, called = conn.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(sql.SQL(seq))).fetchone()
    return last + 1 if called else last


def rejects(conn) -> list[dict]:
    cur = conn.execute("SELECT run, table_name, source_key, column_name, original_value, reason FROM _sqlite2neon.rejects")
    names = [d.name for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


# --- what a SQLite value must arrive as ---------------------------------------------------------

def instant(value) -> datetime:
    """A DATETIME value as the instant it means: integer seconds or milliseconds, or ISO text (UTC
    unless it carries an offset)."""
    if isinstance(value, (int, float)):
        if abs(value) >= 100_000_000_000:  # past 5138 in seconds: milliseconds
            return EPOCH + timedelta(milliseconds=value)
        return EPOCH + timedelta(seconds=value)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def expected_value(value, pg_type: str):
    """The Python value psycopg must return from a column of `pg_type` loaded from SQLite `value`."""
    if value is None:
        return None
    if pg_type.startswith("numeric"):
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
        scale = re.search(r",\s*(\d+)\)", pg_type)
        return d.quantize(Decimal(1).scaleb(-int(scale.group(1))), ROUND_HALF_UP) if scale else d
    if pg_type.startswith("timestamp"):
        return instant(value)
    if pg_type == "date":
        return date.fromisoformat(value)
    if pg_type == "boolean":
        return bool(value)
    if pg_type in ("jsonb", "json"):
        return json.loads(value)
    if pg_type == "bytea":
        return bytes(value)
    if pg_type in ("double precision", "real"):
        return float(value)
    if pg_type in ("bigint", "integer", "smallint"):
        return int(value)
    return value


def frozen(value):
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value


def compare_table(path: Path, conn, src_table: str, tgt_table: str, name=str.lower, *,
                  skip_keys: set = frozenset(), columns: list[str] | None = None) -> list[str]:
    """Every source row against the target row with the same key (or, without a key, the same rows
    as a multiset), each value converted by `expected_value` for its target column's type.
    Returns the differences, empty when the table arrived intact."""
    types = pg_types(conn, tgt_table)
    cols = columns or [c[0] for c in sqlite_columns(path, src_table)]
    missing = [c for c in cols if name(c) not in types]
    if missing:
        return [f"{tgt_table}: no column(s) {[name(c) for c in missing]} in the target (has {sorted(types)})"]
    key = sqlite_pk(path, src_table)

    def want(row: dict) -> tuple:
        return tuple(expected_value(row[c], types[name(c)]) for c in cols)

    def got(row: dict) -> tuple:
        return tuple(row[name(c)] for c in cols)

    src_rows = sqlite_dicts(path, src_table)
    tgt_rows = pg_dicts(conn, tgt_table)
    problems = []
    if not key:
        w = Counter(tuple(map(frozen, want(r))) for r in src_rows)
        g = Counter(tuple(map(frozen, got(r))) for r in tgt_rows)
        if w != g:
            problems.append(f"{tgt_table}: rows differ: missing {list((w - g).elements())[:3]}, "
                            f"unexpected {list((g - w).elements())[:3]}")
        return problems
    positions = [cols.index(c) for c in key]
    expected = {}
    for r in src_rows:
        if tuple(r[c] for c in key) in skip_keys:
            continue
        values = want(r)
        expected[tuple(values[p] for p in positions)] = values
    actual = {}
    for r in tgt_rows:
        values = got(r)
        actual[tuple(values[p] for p in positions)] = values
    if set(expected) != set(actual):
        problems.append(f"{tgt_table}: keys differ: missing {sorted(set(expected) - set(actual), key=repr)[:5]}, "
                        f"unexpected {sorted(set(actual) - set(expected), key=repr)[:5]}")
    for k in sorted(set(expected) & set(actual), key=repr):
        for c, w, g in zip(cols, expected[k], actual[k]):
            if w != g or type(w) is not type(g) and not (isinstance(w, (int, float)) and isinstance(g, (int, float))):
                problems.append(f"{tgt_table}{list(k)}.{name(c)}: expected {w!r}, got {g!r}")
        if len(problems) > 20:
            break
    return problems


def snake(name: str) -> str:
    """snake_case of a CamelCase name without acronyms (every Chinook name)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).replace(" ", "_").lower()


# --- (0) the fixture files themselves -----------------------------------------------------------

BUILDERS = {"chinook": fx.chinook_like, "northwind": fx.northwind_like, "app": fx.app_like,
            "hostile": fx.hostile, "colliding": fx.colliding_names}


def _content_digest(path: Path) -> str:
    con = sqlite3.connect(path)
    con.text_factory = bytes
    digest = hashlib.sha256()
    try:
        for (sql_text,) in con.execute("SELECT sql FROM sqlite_master ORDER BY rowid"):
            digest.update(repr(sql_text).encode())
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid").fetchall():
            for row in con.execute(f"SELECT * FROM {q(name.decode())}"):
                digest.update(repr(row).encode())
    finally:
        con.close()
    return digest.hexdigest()


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_fixture_files_are_sound_and_deterministic(kind, tmp_path):
    first = BUILDERS[kind](tmp_path / "a.db")
    second = BUILDERS[kind](tmp_path / "b.db")
    assert _content_digest(first) == _content_digest(second)
    assert sqlite_query(first, "PRAGMA quick_check") == [("ok",)]
    orphans = sqlite_query(first, "PRAGMA foreign_key_check")
    if kind == "hostile":
        assert sorted((t, r) for t, r, _, _ in orphans) == [("children", 3), ("children", 5)]
        assert sqlite_query(fx.hostile(tmp_path / "c.db", orphans=False), "PRAGMA foreign_key_check") == []
    else:
        assert orphans == []


def test_fixture_chinook_has_what_it_promises(tmp_path):
    db = fx.chinook_like(tmp_path / "c.db")
    assert set(sqlite_tables(db)) == {"Artist", "Album", "Track", "MediaType", "Genre", "Playlist", "PlaylistTrack",
                                      "Invoice", "InvoiceLine", "Customer", "Employee"}
    assert all(sqlite_count(db, t) >= 150 for t in ("Artist", "Album", "Track", "PlaylistTrack", "Customer",
                                                    "Invoice", "InvoiceLine"))
    assert sqlite_pk(db, "PlaylistTrack") == ["PlaylistId", "TrackId"]
    assert (("ReportsTo",), "Employee", ("EmployeeId",)) in sqlite_foreign_keys(db, "Employee")
    assert ((("Email",), True, False)) in sqlite_indexes(db, "Customer")
    assert dict((c[0], c[1]) for c in sqlite_columns(db, "Track"))["UnitPrice"] == "NUMERIC(10,2)"
    assert sqlite_query(db, "SELECT InvoiceDate FROM Invoice WHERE InvoiceId = 1") == [("2021-01-01 00:00:00",)]
    assert sqlite_query(db, "SELECT count(*) FROM Employee WHERE ReportsTo IS NULL") == [(1,)]
    assert sqlite_views(db) == ["CustomerInvoiceTotals"]
    (n,), = sqlite_query(db, "SELECT count(*) FROM CustomerInvoiceTotals")
    assert 100 < n <= 300


def test_fixture_northwind_has_what_it_promises(tmp_path):
    db = fx.northwind_like(tmp_path / "n.db")
    assert {"Order Details", "Orders", "Products", "Categories", "Customers", "Employees", "Group"} <= set(sqlite_tables(db))
    assert sqlite_pk(db, "Order Details") == ["OrderID", "ProductID"]
    assert {fk[1] for fk in sqlite_foreign_keys(db, "Order Details")} == {"Orders", "Products"}
    assert sqlite_query(db, 'SELECT DISTINCT typeof("Picture") FROM "Categories" ORDER BY 1') == [("blob",), ("null",)]
    assert sqlite_query(db, 'SELECT typeof("CustomerID") FROM "Customers" WHERE "CustomerID" = \'ALFKI\'') == [("text",)]
    births = [r[0] for r in sqlite_query(db, 'SELECT "BirthDate" FROM "Employees"')]
    assert all("T" in b and b.endswith("Z") for b in births)
    assert "Select" in [c[0] for c in sqlite_columns(db, "Group")]
    assert (("CustomerID",), False, True) in sqlite_indexes(db, "Orders")
    assert (("ProductName",), True, False) in sqlite_indexes(db, "Products")
    assert "Order Subtotals" in sqlite_views(db)
    assert sqlite_query(db, 'SELECT count(*) FROM "Order Subtotals"') == [(300,)]


def test_fixture_app_has_what_it_promises(tmp_path):
    db = fx.app_like(tmp_path / "a.db")
    assert sqlite_query(db, "SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'") == [("sqlite_sequence",)]
    assert "WITHOUT ROWID" in sqlite_query(db, "SELECT sql FROM sqlite_master WHERE name = 'sessions'")[0][0]
    assert sqlite_pk(db, "events") == []
    assert sqlite_query(db, "SELECT hidden FROM pragma_table_xinfo('users') WHERE name = 'full_name'") == [(3,)]
    (lo, hi), = sqlite_query(db, "SELECT min(created_at), max(created_at) FROM users")
    assert 1_577_836_800_000 <= lo < hi < 1_800_000_000_000  # milliseconds
    assert sqlite_query(db, "SELECT DISTINCT is_admin FROM users ORDER BY 1") == [(0,), (1,)]
    assert sqlite_query(db, "SELECT count(*) FROM events WHERE json_valid(payload) = 0") == [(0,)]
    assert sqlite_query(db, "SELECT name FROM sqlite_master WHERE type = 'trigger'") == [("users_touch",)]
    con = sqlite3.connect(db)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            con.execute("UPDATE users SET score = 101 WHERE id = (SELECT min(id) FROM users)")
    finally:
        con.close()


def test_fixture_hostile_has_what_it_promises(tmp_path):
    db = fx.hostile(tmp_path / "h.db")
    assert {fx.INJECTION_NAME, "y", fx.WEIRD_NAME, "cafés", "select"} <= set(sqlite_tables(db))
    assert sqlite_query(db, "SELECT typeof(qty) FROM typed WHERE id = 7") == [("text",)]
    assert sqlite_query(db, "SELECT hex(body) FROM texts WHERE id IN (2, 3) ORDER BY id") == [("610062",), ("61FF62",)]
    assert sqlite_query(db, "SELECT count(*) FROM k WHERE code IS NULL") == [(1,)]
    assert sqlite_query(db, "SELECT group_concat(typeof(anything), ',') FROM (SELECT anything FROM mixed ORDER BY id)") == [
        ("integer,real,text,blob,null",)]
    x = dict(sqlite_query(db, "SELECT id, x FROM floats"))
    y = dict(sqlite_query(db, "SELECT id, y FROM floats"))
    assert (x[1], x[2]) == (math.inf, -math.inf) and math.copysign(1, y[1]) == -1
    assert sqlite_query(db, "SELECT typeof(amount) FROM money ORDER BY id") == [
        ("real",), ("real",), ("real",), ("real",), ("text",), ("null",)]
    assert sqlite_query(db, "SELECT typeof(at_secs), typeof(at_millis), typeof(at_iso) FROM times WHERE id = 1") == [
        ("integer", "integer", "text")]
    for row in sqlite_dicts(db, "times"):
        assert {instant(v) for k, v in row.items() if k != "id" and v is not None} == {fx.TIMES_EXPECTED[row["id"]]}
    assert sqlite_query(db, "SELECT day FROM typed WHERE id = 8") == [("2024-02-30",)]


# --- (a) realistic databases under the default parameters ----------------------------------------

@dataclasses.dataclass
class Migrated:
    kind: str
    db: Path
    conn: psycopg.Connection
    params: Params
    plan: object
    load: object
    verify: object


# What each database holds that cannot arrive as it is, accepted for the run (the rest must arrive).
ACCEPTED = {"app": ["trigger:users_touch"]}


def _migrated(kind: str, server_url: str, tmp_path_factory):
    home = tmp_path_factory.mktemp(kind)
    db = BUILDERS[kind](home / f"{kind}.db")
    with scratch_database(server_url) as url:
        params = params_at(url, db, home / "run", accept_losses=ACCEPTED.get(kind, []))
        the_plan, loaded, verified = migrate(params)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET TIME ZONE 'UTC'")
            yield Migrated(kind, db, conn, params, the_plan, loaded, verified)


@pytest.fixture(scope="module")
def chinook(server_url, tmp_path_factory):
    yield from _migrated("chinook", server_url, tmp_path_factory)


@pytest.fixture(scope="module")
def northwind(server_url, tmp_path_factory):
    yield from _migrated("northwind", server_url, tmp_path_factory)


@pytest.fixture(scope="module")
def app(server_url, tmp_path_factory):
    yield from _migrated("app", server_url, tmp_path_factory)


@pytest.fixture(scope="module", params=["chinook", "northwind", "app"])
def migrated(request) -> Migrated:
    return request.getfixturevalue(request.param)


def test_verify_passes_with_nothing_rejected_or_changed(migrated):
    result = migrated.verify
    assert result.passed, result.to_json()
    for check in result.tables:
        assert (check.source_rows, check.target_rows, check.rejected_rows) == (check.source_rows, check.source_rows, 0), check
        assert check.checksum_match is True
        assert check.changed_values == {}


def test_same_tables_and_row_counts(migrated):
    names = sqlite_tables(migrated.db)
    assert pg_tables(migrated.conn) == {n.lower() for n in names}
    assert {n.lower(): pg_count(migrated.conn, n.lower()) for n in names} == {n.lower(): sqlite_count(migrated.db, n) for n in names}
    assert sorted(t.target for t in migrated.plan.tables) == sorted(n.lower() for n in names)


def test_same_columns(migrated):
    for t in sqlite_tables(migrated.db):
        stored = {c[0].lower() for c in sqlite_columns(migrated.db, t)}
        every = {c.lower() for c in sqlite_all_columns(migrated.db, t)}
        target = set(pg_types(migrated.conn, t.lower()))
        assert stored <= target <= every, t


def test_primary_keys_including_composite(migrated):
    got = {t: pg_pk(migrated.conn, t.lower()) for t in sqlite_tables(migrated.db)}
    want = {t: [c.lower() for c in sqlite_pk(migrated.db, t)] for t in sqlite_tables(migrated.db)}
    assert got == want


def test_not_null_matches(migrated):
    for t in sqlite_tables(migrated.db):
        nullable = pg_nullable(migrated.conn, t.lower())
        for name, _, notnull, pk in sqlite_columns(migrated.db, t):
            assert nullable[name.lower()] is not (notnull or pk > 0), f"{t}.{name}: notnull={notnull}, pk={pk}"


def test_unique_constraints_and_indexes_match(migrated):
    for t in sqlite_tables(migrated.db):
        want = sorted((tuple(c.lower() for c in cols), partial) for cols, unique, partial in sqlite_indexes(migrated.db, t) if unique)
        got = sorted((cols, partial) for cols, unique, partial in pg_indexes(migrated.conn, t.lower()) if unique)
        assert got == want, t


def test_other_indexes_match(migrated):
    for t in sqlite_tables(migrated.db):
        want = sorted((tuple(c.lower() for c in cols), partial) for cols, unique, partial in sqlite_indexes(migrated.db, t) if not unique)
        got = sorted((cols, partial) for cols, unique, partial in pg_indexes(migrated.conn, t.lower()) if not unique)
        assert got == want, t


def test_foreign_keys_match_and_are_validated(migrated):
    for t in sqlite_tables(migrated.db):
        want = sorted((tuple(c.lower() for c in cols), ref.lower(), tuple(c.lower() for c in ref_cols), True)
                      for cols, ref, ref_cols in sqlite_foreign_keys(migrated.db, t))
        assert sorted(pg_foreign_keys(migrated.conn, t.lower())) == want, t


def test_views_exist_and_return_the_same_number_of_rows(migrated):
    views = sqlite_views(migrated.db)
    assert views, "every realistic fixture has a view"
    planned = {v.source: v for v in migrated.plan.views}
    assert set(planned) == set(views)
    assert all(v.sql and v.target == v.source.lower() for v in planned.values()), [(v.source, v.reason) for v in planned.values()]
    in_pg = {r[0] for r in migrated.conn.execute("SELECT viewname FROM pg_views WHERE schemaname = 'public'")}
    assert in_pg == {v.lower() for v in views}
    for v in views:
        assert pg_count(migrated.conn, v.lower()) == sqlite_count(migrated.db, v), v


def test_integer_primary_keys_continue_after_the_highest_id(migrated):
    checked = 0
    for t in sqlite_tables(migrated.db):
        pk = [c for c in sqlite_columns(migrated.db, t) if c[3]]
        if len(pk) != 1 or pk[0][1].upper() != "INTEGER":
            continue
        (top,), = sqlite_query(migrated.db, f"SELECT coalesce(max({q(pk[0][0])}), 0) FROM {q(t)}")
        assert next_serial_value(migrated.conn, t.lower(), pk[0][0].lower()) == top + 1, t
        checked += 1
    assert checked >= 1


DECLARED_TYPES = {
    "chinook": {("track", "unitprice"): "numeric(10,2)", ("invoiceline", "unitprice"): "numeric(10,2)",
                ("invoice", "total"): "numeric(10,2)", ("invoice", "invoicedate"): TSTZ,
                ("employee", "birthdate"): TSTZ, ("employee", "hiredate"): TSTZ},
    "northwind": {("categories", "picture"): "bytea", ("employees", "birthdate"): TSTZ, ("orders", "orderdate"): TSTZ,
                  ("orders", "shippeddate"): TSTZ, ("orders", "requireddate"): "date", ("orders", "freight"): "numeric(10,2)",
                  ("order details", "unitprice"): "numeric(10,2)", ("order details", "discount"): "double precision",
                  ("products", "unitprice"): "numeric(10,2)", ("group", "from"): "date"},
    "app": {("users", "created_at"): TSTZ, ("users", "updated_at"): TSTZ, ("users", "is_admin"): "boolean",
            ("users", "settings"): "jsonb", ("sessions", "created_at"): TSTZ, ("sessions", "expires_at"): TSTZ,
            ("sessions", "data"): "jsonb", ("events", "at"): TSTZ, ("events", "payload"): "jsonb"},
}


def test_declared_types_become_their_postgres_types(migrated):
    got = {(t, c): pg_types(migrated.conn, t).get(c) for t, c in DECLARED_TYPES[migrated.kind]}
    assert got == DECLARED_TYPES[migrated.kind]


def test_every_value_arrives(migrated):
    problems = []
    for t in sqlite_tables(migrated.db):
        problems += compare_table(migrated.db, migrated.conn, t, t.lower())
    assert problems == []


def test_chinook_values(chinook):
    conn, db = chinook.conn, chinook.db
    assert conn.execute("SELECT invoicedate FROM invoice WHERE invoiceid = 1").fetchone()[0] == datetime(2021, 1, 1, tzinfo=UTC)
    prices = {r[0] for r in conn.execute("SELECT DISTINCT unitprice FROM track")}
    assert prices == {Decimal("0.99"), Decimal("1.99"), Decimal("0.49"), Decimal("1.29")}
    assert all(p.as_tuple().exponent == -2 for p in prices)
    total = sum(Decimal(repr(v)) if isinstance(v, float) else Decimal(v) for (v,) in sqlite_query(db, "SELECT Total FROM Invoice"))
    assert conn.execute("SELECT sum(total) FROM invoice").fetchone()[0] == total
    assert conn.execute("SELECT count(*) FROM playlisttrack").fetchone()[0] == 400
    assert conn.execute("SELECT name FROM artist WHERE artistid = 5").fetchone()[0] == "Motörhead"


def test_northwind_values(northwind):
    conn, db = northwind.conn, northwind.db
    pictures = dict(sqlite_query(db, 'SELECT "CategoryID", "Picture" FROM "Categories"'))
    assert dict(conn.execute("SELECT categoryid, picture FROM categories").fetchall()) == pictures
    assert pictures[1].startswith(b"\x89PNG") and pictures[5] is None
    birth = sqlite_query(db, 'SELECT "BirthDate" FROM "Employees" WHERE "EmployeeID" = 3')[0][0]
    assert birth.endswith("T14:30:00.250Z")
    got = conn.execute("SELECT birthdate FROM employees WHERE employeeid = 3").fetchone()[0]
    assert got == datetime.fromisoformat(birth[:-1]).replace(tzinfo=UTC) and got.microsecond == 250_000
    assert conn.execute('SELECT companyname FROM customers WHERE customerid = %s', ["ALFKI"]).fetchone() is not None
    assert conn.execute('SELECT "select" FROM "group" WHERE groupid = 3').fetchone()[0] == "select * from x"
    pairs = set(conn.execute('SELECT orderid, productid FROM "order details"').fetchall())
    assert pairs == set(sqlite_query(db, 'SELECT "OrderID", "ProductID" FROM "Order Details"'))


def test_app_generated_column_arrives_with_its_values(app):
    rows = dict(app.conn.execute("SELECT id, full_name FROM users").fetchall())
    assert rows == {i: f"{a} {b}" for i, a, b in sqlite_query(app.db, "SELECT id, first, last FROM users")}


def test_app_checks_defaults_and_trigger(app):
    users = app.plan.table("users")
    assert any("score" in c for c in users.checks)
    assert any("length" in c.lower() and "token" in c for c in app.plan.table("sessions").checks)
    checks = [r[0] for r in app.conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c' AND conrelid = 'users'::regclass")]
    assert any("score" in c for c in checks)
    with pytest.raises(psycopg.errors.CheckViolation):
        app.conn.execute("UPDATE users SET score = 101 WHERE id = (SELECT min(id) FROM users)")
    defaults = pg_defaults(app.conn, "users")
    assert re.search(r"now\(\)|current_timestamp", defaults["updated_at"] or "", re.I)
    assert (defaults["is_admin"] or "").lower().startswith("false")
    assert [(x.item, x.accepted) for x in app.plan.losses] == [("trigger:users_touch", True)]


def test_app_keyless_and_without_rowid_tables(app):
    assert pg_pk(app.conn, "events") == []
    assert pg_count(app.conn, "events") == 505  # the five duplicated rows included
    assert pg_pk(app.conn, "sessions") == ["token"]
    got = dict(app.conn.execute("SELECT token, expires_at FROM sessions").fetchall())
    assert got == {t: EPOCH + timedelta(seconds=s) for t, s in sqlite_query(app.db, "SELECT token, expires_at FROM sessions")}


# --- (b) the hostile database --------------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile_target(server_url, tmp_path_factory):
    """The hostile database without orphans, under the default parameters."""
    home = tmp_path_factory.mktemp("hostile")
    db = fx.hostile(home / "hostile.db", orphans=False)
    with scratch_database(server_url) as url:
        params = params_at(url, db, home / "run")
        the_plan, loaded, verified = migrate(params)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET TIME ZONE 'UTC'")
            yield Migrated("hostile", db, conn, params, the_plan, loaded, verified)


def _rejects_by_table(conn) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rejects(conn):
        out.setdefault(r["table_name"].lower(), []).append(r)
    return out


def test_hostile_every_row_is_loaded_or_rejected(hostile_target):
    h = hostile_target
    by_table = _rejects_by_table(h.conn)
    checks = checks_by_table(h.verify)
    for t in sqlite_tables(h.db):
        n_src, n_tgt, n_rej = sqlite_count(h.db, t), pg_count(h.conn, t.lower()), len(by_table.get(t.lower(), []))
        assert n_src == n_tgt + n_rej, t
        allowed = {len(fx.HOSTILE_REJECTS.get(t, {}))} | ({len(fx.HOSTILE_MAY_REJECT[t])} if t in fx.HOSTILE_MAY_REJECT else set())
        assert n_rej in allowed, (t, by_table.get(t.lower()))
        check = checks[t]
        assert (check.source_rows, check.target_rows, check.rejected_rows) == (n_src, n_tgt, n_rej), t
        assert check.checksum_match is True, t


def test_hostile_rejects_say_which_row_column_and_why(hostile_target):
    by_table = _rejects_by_table(hostile_target.conn)
    runs = {r["run"] for rows in by_table.values() for r in rows}
    assert len(runs) == 1 and runs != {None} and runs != {""}
    for table, expected in (fx.HOSTILE_REJECTS | {t: v for t, v in fx.HOSTILE_MAY_REJECT.items() if t in by_table}).items():
        got = by_table[table]
        assert sorted(r["column_name"] for r in got) == sorted(c for c, _ in expected.values())
        for key, (column, original) in expected.items():
            row = next(r for r in got if r["column_name"] == column)
            if key is not None:
                assert re.search(rf"\b{key}\b", row["source_key"] or ""), row
            if original is not ...:
                assert row["original_value"] == original or (original is None and row["original_value"] in (None, "")), row
            assert column in row["reason"], row


def test_hostile_rejects_csv_holds_the_same_rows(hostile_target):
    path = Path(hostile_target.params.run_dir) / "rejects.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    assert header == ["table", "source_key", "column", "original_value", "reason"]
    in_csv = Counter(tuple(r) for r in rows)
    in_table = Counter((r["table_name"], r["source_key"] or "", r["column_name"], r["original_value"] or "", r["reason"])
                       for r in rejects(hostile_target.conn))
    assert in_csv == in_table
    assert sum(len(v) for v in fx.HOSTILE_REJECTS.values()) <= sum(in_csv.values()) <= sum(
        len(v) for v in (fx.HOSTILE_REJECTS | fx.HOSTILE_MAY_REJECT).values())


def test_hostile_verify_fails_only_because_of_rejects(hostile_target):
    h = hostile_target
    assert h.verify.passed is False  # fail_on_rejects is true by default, and rows were rejected
    assert all(c.checksum_match and c.source_rows == c.target_rows + c.rejected_rows for c in h.verify.tables)
    lenient = verify.step(dataclasses.replace(h.params, fail_on_rejects=False))
    assert lenient.passed is True, lenient.to_json()


def test_hostile_bad_text_is_replaced_by_default_and_counted(hostile_target):
    h = hostile_target
    assert dict(h.conn.execute("SELECT id, body FROM texts").fetchall()) == {
        1: "plain", 2: "a\ufffdb", 3: "a\ufffdb", 4: "naïve 😀"}
    changed = checks_by_table(h.verify)["texts"].changed_values
    assert changed["body: NUL replaced"] == 1
    assert sum(changed.values()) == 2 and all(k.startswith("body:") for k in changed)
    assert any("utf-8" in k.lower() for k in changed)
    assert all(checks_by_table(h.verify)[t].changed_values == {} for t in sqlite_tables(h.db) if t != "texts")


def test_hostile_names_arrive_lower_cased(hostile_target):
    h = hostile_target
    assert pg_tables(h.conn) == {t.lower() for t in sqlite_tables(h.db)}
    assert list(pg_types(h.conn, fx.WEIRD_NAME)) == ["id", "select", "table", "cafés", "column with spaces"]
    assert list(pg_types(h.conn, "cafés")) == ["id", "nom", "prix €"]
    assert pg_pk(h.conn, "select") == ["from"]


def test_identifier_injection_is_just_a_name(hostile_target):
    h = hostile_target
    injected = fx.INJECTION_NAME.lower()
    assert {injected, "y"} <= pg_tables(h.conn)
    assert pg_count(h.conn, "y") == sqlite_count(h.db, "y") == 3
    assert dict(h.conn.execute(sql.SQL("SELECT id, v FROM {}").format(sql.Identifier(injected))).fetchall()) == {
        1: "first", 2: "'; --"}


def test_hostile_values_that_load(hostile_target):
    h = hostile_target
    problems = []
    for t in (fx.WEIRD_NAME, "cafés", "select", fx.INJECTION_NAME, "y", "times", "parents", "children"):
        problems += compare_table(h.db, h.conn, t, t.lower())
    problems += compare_table(h.db, h.conn, "typed", "typed", skip_keys={(7,), (8,), (9,)})
    assert problems == []
    assert pg_types(h.conn, "typed") == {"id": "bigint", "qty": "bigint", "day": "date", "doc": "jsonb"}
    assert dict(h.conn.execute("SELECT code, v FROM k").fetchall()) == {"a": 1, "b": 2}
    mixed = dict(h.conn.execute("SELECT id, anything FROM mixed").fetchall())
    assert set(mixed) in ({1, 2, 3, 4, 5}, {1, 2, 3, 5})  # the BLOB may be rejected (HOSTILE_MAY_REJECT)
    if pg_types(h.conn, "mixed")["anything"] == "text":
        assert {k: v for k, v in mixed.items() if k != 4} == {1: "1", 2: "2.5", 3: "three", 5: None}


def test_hostile_floats_keep_infinity_and_negative_zero(hostile_target):
    h = hostile_target
    assert pg_types(h.conn, "floats")["x"] == "double precision"
    got = {i: (x, y) for i, x, y in h.conn.execute("SELECT id, x, y FROM floats")}
    want = {i: (x, y) for i, x, y in sqlite_query(h.db, "SELECT id, x, y FROM floats")}
    assert got == want
    # -0.0 arrives equal to 0.0 but without its sign: SQLite's own text form of -0.0 (printf,
    # CAST, quote, json) is "0.0", and SQLite is how every value is read. Documented in the README.
    assert got[4][0] == 0.0
    assert (got[1][0], got[2][0], got[4][1]) == (math.inf, -math.inf, 1e308)


def test_hostile_numeric_is_exact(hostile_target):
    h = hostile_target
    assert pg_types(h.conn, "money")["amount"] == "numeric(20,4)"
    got = dict(h.conn.execute("SELECT id, amount FROM money").fetchall())
    # SQLite itself holds 12345678901234.568 (a REAL: NUMERIC affinity keeps 15-17 digits); its
    # shortest decimal form, to 4 places, is ...5680. The exact binary value would give ...5684.
    assert got.pop(1) in (Decimal("12345678901234.5680"), Decimal("12345678901234.5684"))
    assert got == {2: Decimal("0.0001"), 3: Decimal("-99999999.9999"), 4: Decimal("0.1000"), 6: None}


def test_hostile_timestamps_are_the_same_instant(hostile_target):
    h = hostile_target
    assert {c: t for c, t in pg_types(h.conn, "times").items() if c != "id"} == {
        "at_secs": TSTZ, "at_millis": TSTZ, "at_iso": TSTZ}
    for i, *values in h.conn.execute("SELECT id, at_secs, at_millis, at_iso FROM times"):
        assert {v for v in values if v is not None} == {fx.TIMES_EXPECTED[i]}, i


@pytest.fixture
def texts_only(tmp_path):
    return fx.hostile(tmp_path / "hostile.db", orphans=False)


def test_bad_text_strip_removes_the_bad_characters(texts_only, params_for, pg):
    _, _, verified = migrate(params_for(texts_only, tables=["texts"], bad_text="strip"))
    assert dict(pg.execute("SELECT id, body FROM texts").fetchall()) == {1: "plain", 2: "ab", 3: "ab", 4: "naïve 😀"}
    check = checks_by_table(verified)["texts"]
    assert check.rejected_rows == 0 and check.checksum_match
    assert sum(check.changed_values.values()) == 2
    assert all(k.startswith("body:") and "strip" in k.lower() for k in check.changed_values)
    assert verified.passed, verified.to_json()


def test_bad_text_reject_rejects_those_rows(texts_only, params_for, pg):
    params = params_for(texts_only, tables=["texts"], bad_text="reject")
    _, _, verified = migrate(params)
    assert dict(pg.execute("SELECT id, body FROM texts").fetchall()) == {1: "plain", 4: "naïve 😀"}
    got = rejects(pg)
    assert len(got) == 2
    assert all(r["column_name"] == "body" and "body" in r["reason"] for r in got)
    assert {re.search(r"\d+", r["source_key"]).group() for r in got} == {"2", "3"}
    check = checks_by_table(verified)["texts"]
    assert (check.source_rows, check.target_rows, check.rejected_rows) == (4, 2, 2)
    assert check.checksum_match and check.changed_values == {}
    assert verified.passed is False
    assert verify.step(dataclasses.replace(params, fail_on_rejects=False)).passed is True


@pytest.fixture
def with_orphans(tmp_path):
    return fx.hostile(tmp_path / "hostile.db", orphans=True)


def test_orphans_stop_the_plan_by_default_and_nothing_is_written(with_orphans, params_for, pg):
    params = params_for(with_orphans)
    source.step(params)
    with pytest.raises(RunbookError, match=r"children") as raised:
        plan.step(params)
    assert re.search(r"\b2\b", str(raised.value)), str(raised.value)
    assert pg.execute("SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
                      ).fetchone()[0] == 0


def test_orphans_load_keeps_every_row_with_a_not_valid_foreign_key(with_orphans, params_for, pg):
    the_plan, _, verified = migrate(params_for(with_orphans, tables=["parents", "children"], orphans="load"))
    assert dict(pg.execute("SELECT id, parent_id FROM children").fetchall()) == {1: 1, 2: 2, 3: 999, 4: None, 5: 998}
    assert pg_foreign_keys(pg, "children") == [(("parent_id",), "parents", ("id",), False)]
    assert re.search(r"\b2\b", " ".join(the_plan.table("children").notes)), the_plan.table("children").notes
    assert verified.passed, verified.to_json()


def test_orphans_null_clears_the_dangling_references(with_orphans, params_for, pg):
    the_plan, _, verified = migrate(params_for(with_orphans, tables=["parents", "children"], orphans="null"))
    assert dict(pg.execute("SELECT id, parent_id FROM children").fetchall()) == {1: 1, 2: 2, 3: None, 4: None, 5: None}
    assert dict(pg.execute("SELECT id, note FROM children").fetchall())[3] == "orphan"
    assert pg_foreign_keys(pg, "children") == [(("parent_id",), "parents", ("id",), True)]
    check = checks_by_table(verified)["children"]
    reported = " ".join(the_plan.table("children").notes) + " " + json.dumps(check.changed_values)
    assert re.search(r"\b2\b", reported), reported
    assert check.rejected_rows == 0
    assert verified.passed, verified.to_json()


# --- (c) names that collide ----------------------------------------------------------------------

def test_colliding_names_stop_the_plan_under_lower(tmp_path, params_for, pg):
    params = params_for(fx.colliding_names(tmp_path / "c.db"))
    source.step(params)
    with pytest.raises(ConfigError) as raised:
        plan.step(params)
    assert all(name in str(raised.value) for name in fx.COLLIDING), str(raised.value)
    assert pg_tables(pg) == set()


def test_colliding_names_load_under_preserve(tmp_path, params_for, pg):
    db = fx.colliding_names(tmp_path / "c.db")
    the_plan, _, verified = migrate(params_for(db, identifiers="preserve"))
    assert sorted(t.target for t in the_plan.tables) == sorted(fx.COLLIDING)
    assert pg_tables(pg) == set(fx.COLLIDING)
    assert {t: pg_count(pg, t) for t in fx.COLLIDING} == {"Éclairs": 2, "éclairs": 3}
    assert list(pg_types(pg, "éclairs")) == ["id", "label", "price"]
    assert verified.passed, verified.to_json()


# --- (d) snake_case and preserve -----------------------------------------------------------------

CHINOOK_SNAKE = {"artist", "album", "track", "media_type", "genre", "playlist", "playlist_track", "employee",
                 "customer", "invoice", "invoice_line"}


def test_snake_case_names_throughout(tmp_path, params_for, pg):
    db = fx.chinook_like(tmp_path / "chinook.db")
    the_plan, _, verified = migrate(params_for(db, identifiers="snake_case"))
    assert verified.passed, verified.to_json()
    assert the_plan.table("InvoiceLine").target == "invoice_line"
    assert the_plan.table("Employee").column("ReportsTo").target == "reports_to"
    assert pg_tables(pg) == CHINOOK_SNAKE
    assert list(pg_types(pg, "invoice_line")) == ["invoice_line_id", "invoice_id", "track_id", "unit_price", "quantity"]
    assert pg_pk(pg, "playlist_track") == ["playlist_id", "track_id"]
    assert (("reports_to",), "employee", ("employee_id",), True) in pg_foreign_keys(pg, "employee")
    assert (("invoice_id",), "invoice", ("invoice_id",), True) in pg_foreign_keys(pg, "invoice_line")
    assert (("support_rep_id",), False, False) in pg_indexes(pg, "customer")
    assert next_serial_value(pg, "invoice_line", "invoice_line_id") == sqlite_count(db, "InvoiceLine") + 1
    problems = []
    for t in ("InvoiceLine", "Employee", "Track", "PlaylistTrack"):
        problems += compare_table(db, pg, t, snake(t), name=snake)
    assert problems == []
    for view in the_plan.views:  # translated with the new names, or reported
        if view.sql:
            assert pg.execute("SELECT count(*) FROM pg_views WHERE viewname = %s", [view.target]).fetchone()[0] == 1
        else:
            assert view.reason


def test_snake_case_plan_of_names_with_spaces_keywords_and_acronyms(tmp_path, params_for):
    params = params_for(fx.northwind_like(tmp_path / "nw.db"), identifiers="snake_case")
    source.step(params)
    the_plan = plan.step(params)
    details = the_plan.table("Order Details")
    assert details.target == "order_details"
    assert [c.target for c in details.columns] == ["order_id", "product_id", "unit_price", "quantity", "discount"]
    assert details.primary_key == ["order_id", "product_id"]
    assert {(tuple(fk.columns), fk.ref_table) for fk in details.foreign_keys} == {(("order_id",), "orders"), (("product_id",), "products")}
    assert the_plan.table("Categories").column("CategoryName").target == "category_name"
    assert the_plan.table("Employees").column("ReportsTo").target == "reports_to"
    assert the_plan.table("Group").target == "group"
    assert the_plan.table("Group").column("Select").target == "select"


def test_preserve_plan_keeps_names_exactly(tmp_path, params_for):
    params = params_for(fx.northwind_like(tmp_path / "nw.db"), identifiers="preserve")
    source.step(params)
    the_plan = plan.step(params)
    details = the_plan.table("Order Details")
    assert details.target == "Order Details"
    assert [c.target for c in details.columns] == ["OrderID", "ProductID", "UnitPrice", "Quantity", "Discount"]
    assert details.primary_key == ["OrderID", "ProductID"]
    assert {v.target for v in the_plan.views} == {"Order Subtotals", "Products Above Average Price"}


def test_lower_plan_of_names(tmp_path, params_for):
    params = params_for(fx.northwind_like(tmp_path / "nw.db"))
    source.step(params)
    the_plan = plan.step(params)
    assert the_plan.table("Order Details").target == "order details"
    assert the_plan.table("Order Details").column("OrderID").target == "orderid"
    assert {v.target for v in the_plan.views} == {"order subtotals", "products above average price"}


# --- (e) tables that already exist in the target -------------------------------------------------

DRIZZLE_USERS = """
    CREATE TABLE "users" (
        "id" serial PRIMARY KEY,
        "email" text NOT NULL,
        "createdAt" timestamp with time zone,
        "isAdmin" boolean,
        "bio" text
    )
"""


def test_drizzle_camel_case_target_receives_the_rows(tmp_path, params_for, pg):
    db = fx.app_like(tmp_path / "app.db")
    pg.execute(DRIZZLE_USERS)
    # the source columns the app's table has no column for are listed losses, accepted here
    the_plan, _, verified = migrate(params_for(db, accept_losses=ACCEPTED["app"] + ["column:*"]))
    users = the_plan.table("users")
    assert {x.item for x in the_plan.losses if x.kind == "column"} == {f"column:users.{c}" for c in users.unmapped_source}
    assert users.column("created_at").target == "createdAt"
    assert users.column("is_admin").target == "isAdmin"
    assert users.column("email").target == "email"
    assert users.unmapped_target == ["bio"]
    expected_unmapped = {"first", "last", "updated_at", "settings", "score"}
    assert expected_unmapped <= set(users.unmapped_source) <= expected_unmapped | {"full_name"}
    # the app's table keeps its own shape
    assert pg_types(pg, "users") == {"id": "integer", "email": "text", "createdAt": TSTZ, "isAdmin": "boolean", "bio": "text"}
    pg.execute("SET TIME ZONE 'UTC'")
    got = {r[0]: r[1:] for r in pg.execute('SELECT id, email, "createdAt", "isAdmin", bio FROM users')}
    want = {i: (e, EPOCH + timedelta(milliseconds=c), bool(a), None)
            for i, e, c, a in sqlite_query(db, "SELECT id, email, created_at, is_admin FROM users")}
    assert got == want
    # the other tables are created as usual, their keys pointing at the app's table
    assert pg_count(pg, "sessions") == sqlite_count(db, "sessions")
    assert (("user_id",), "users", ("id",), True) in pg_foreign_keys(pg, "sessions")
    assert verified.passed, verified.to_json()
    (top,), = sqlite_query(db, "SELECT max(id) FROM users")
    assert next_serial_value(pg, "users", "id") == top + 1  # the app's next insert does not collide


def test_target_not_null_column_without_a_source_stops_the_plan(tmp_path, params_for, pg):
    db = fx.app_like(tmp_path / "app.db")
    pg.execute(DRIZZLE_USERS)
    pg.execute('ALTER TABLE "users" ADD COLUMN "tenantId" integer NOT NULL')
    params = params_for(db)
    source.step(params)
    with pytest.raises(RunbookError, match="tenantId"):
        plan.step(params)


NOTES_DDL = """
CREATE TABLE notes (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    title varchar(200) NOT NULL,
    "createdAt" timestamp with time zone NOT NULL,
    "doneFlag" boolean NOT NULL,
    meta jsonb,
    archived boolean NOT NULL DEFAULT false
);
"""


def test_target_ddl_creates_the_tables_the_rows_go_into(tmp_path, params_for, pg):
    db = make_sqlite(tmp_path / "notes.db", """
        CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, created_at INTEGER NOT NULL,
                            done_flag INTEGER NOT NULL, meta JSON);
    """, {"notes": [
        (1, "first", 1_700_000_000_123, 0, '{"tags": ["a"]}'),
        (2, "second, with \"quotes\"", 1_700_000_100_000, 1, None),
        (5, "third", 1_710_000_000_999, 1, '{"n": 1.5}'),
    ]})
    ddl = tmp_path / "schema.sql"
    ddl.write_text(NOTES_DDL)
    the_plan, _, verified = migrate(params_for(db, target_ddl=str(ddl)))
    notes = the_plan.table("notes")
    assert notes.column("created_at").target == "createdAt"
    assert notes.column("done_flag").target == "doneFlag"
    assert notes.unmapped_source == [] and notes.unmapped_target == ["archived"]
    assert pg_types(pg, "notes") == {"id": "bigint", "title": "character varying(200)", "createdAt": TSTZ,
                                     "doneFlag": "boolean", "meta": "jsonb", "archived": "boolean"}
    pg.execute("SET TIME ZONE 'UTC'")
    assert {r[0]: r[1:] for r in pg.execute('SELECT id, title, "createdAt", "doneFlag", meta, archived FROM notes')} == {
        1: ("first", datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC), False, {"tags": ["a"]}, False),
        2: ('second, with "quotes"', datetime(2023, 11, 14, 22, 15, 0, tzinfo=UTC), True, None, False),
        5: ("third", datetime(2024, 3, 9, 16, 0, 0, 999000, tzinfo=UTC), True, {"n": 1.5}, False),
    }
    assert verified.passed, verified.to_json()
    assert next_serial_value(pg, "notes", "id") == 6
