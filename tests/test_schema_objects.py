"""What a table is besides its rows arrives with it (issue 11): DEFAULTs in every spelling SQLite
accepts, expression indexes (unique or not, partial or not) and COLLATE NOCASE / RTRIM. Each input is
a real SQLite file run through the steps (inspect, plan, load, verify) into a real Postgres; then
Postgres is asked to behave as SQLite does: the same value for a row that omits a column, the same
duplicate refused, the same rows found and in the same order. What cannot be carried is a listed loss."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import threading
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from conftest import make_sqlite, runbook_backend
from sqlite2neon import load, plan, source, verify
from sqlite2neon.config import Params
from sqlite2neon.plan import CITEXT_DDL, TextSupport, plan_schema
from sqlite2neon.source import inspect_source


def migrate(params):
    source.step(params)
    the_plan = plan.step(params)
    load.step(params)
    return the_plan, verify.step(params)


def sqlite_rows(path: Path, query: str, *args) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        rows = con.execute(query, args).fetchall()
        con.commit()
        return rows
    finally:
        con.close()


def local_time_zone(pg) -> None:
    """The session's TimeZone set to this machine's offset: SQLite's 'localtime' is the machine's clock,
    and the plan lets the session's TimeZone stand for it."""
    offset = dt.datetime.now().astimezone().utcoffset()
    minutes = int(offset.total_seconds() // 60)
    pg.execute(f"SET TIME ZONE INTERVAL '{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}' "
               "HOUR TO MINUTE")


def as_utc(text: str) -> dt.datetime:
    """SQLite's date-and-time text as the plan reads it: naive text is UTC."""
    at = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at.replace(tzinfo=dt.timezone.utc) if at.tzinfo is None else at


def close(a: dt.datetime, b: dt.datetime) -> bool:
    return abs((a - b).total_seconds()) < 60


def same_day(a: dt.date, b: str) -> bool:
    """The same date (or the next: the two inserts may straddle midnight)."""
    return abs(a - dt.date.fromisoformat(b)) <= dt.timedelta(days=1)


def close_times(a: str, b: str) -> bool:
    """'HH:MM:SS' texts within a minute of each other, midnight included."""
    seconds = [sum(int(x) * f for x, f in zip(t.split(":"), (3600, 60, 1))) for t in (a, b)]
    apart = abs(seconds[0] - seconds[1])
    return all(re.fullmatch(r"\d\d:\d\d:\d\d", t) for t in (a, b)) and min(apart, 86400 - apart) < 60


# --- B: time-function defaults, and a numeric column with DEFAULT false --------------------------------

B = """
CREATE TABLE role (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT,
  createdAt DATETIME DEFAULT (STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')));
CREATE TABLE entry (id INTEGER PRIMARY KEY, logged_at TIMESTAMP DEFAULT (DATETIME('now', 'localtime')),
  day DATE DEFAULT CURRENT_DATE, at_time TEXT DEFAULT CURRENT_TIME, julian REAL DEFAULT (julianday('now')));
CREATE TABLE account (id TEXT PRIMARY KEY, lazy_enabled numeric DEFAULT false);
INSERT INTO role(name) VALUES ('admin'); INSERT INTO entry(id) VALUES (1);
INSERT INTO account VALUES ('a', 1), ('b', 0);
"""


def test_b_rows_that_omit_columns_get_their_defaults_as_in_sqlite(tmp_path, params_for, pg):
    db = make_sqlite(tmp_path / "b.db", B)
    the_plan, verified = migrate(params_for(db))
    assert the_plan.losses == []
    assert verified.passed, verified.to_json()
    # the same inserts on both sides, now
    sqlite_rows(db, "INSERT INTO role(name) VALUES ('guest')")
    sqlite_rows(db, "INSERT INTO entry(id) VALUES (2)")
    sqlite_rows(db, "INSERT INTO account(id) VALUES ('c')")
    local_time_zone(pg)
    pg.execute("INSERT INTO role (name) VALUES ('guest')")
    pg.execute("INSERT INTO entry (id) VALUES (2)")
    pg.execute("INSERT INTO account (id) VALUES ('c')")

    (s_created,), = sqlite_rows(db, "SELECT createdAt FROM role WHERE name = 'guest'")
    (p_created,), = pg.execute("SELECT createdat FROM role WHERE name = 'guest'").fetchall()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", s_created)
    assert isinstance(p_created, dt.datetime) and close(p_created, as_utc(s_created))

    s_logged, s_day, s_time, s_julian = sqlite_rows(db, "SELECT logged_at, day, at_time, julian FROM entry WHERE id = 2")[0]
    p_logged, p_day, p_time, p_julian = pg.execute("SELECT logged_at, day, at_time, julian FROM entry WHERE id = 2").fetchone()
    assert isinstance(p_logged, dt.datetime) and close(p_logged, as_utc(s_logged))  # the local clock, read as UTC
    assert isinstance(p_day, dt.date) and same_day(p_day, s_day)  # UTC's date in both
    assert close_times(p_time, s_time)
    assert isinstance(p_julian, float) and abs(p_julian - s_julian) < 60 / 86400  # a Julian day number
    assert abs(p_julian - (dt.datetime.now(dt.timezone.utc).timestamp() / 86400 + 2440587.5)) < 60 / 86400

    account = the_plan.table("account").column("lazy_enabled")
    assert (account.pg_type, account.default) == ("numeric", "0")
    (s_lazy,), = sqlite_rows(db, "SELECT lazy_enabled FROM account WHERE id = 'c'")
    (p_lazy,), = pg.execute("SELECT lazy_enabled FROM account WHERE id = 'c'").fetchall()
    assert s_lazy == 0 and p_lazy == Decimal(0)  # SQLite stores false as 0


# --- every spelling of a default, one column each --------------------------------------------------------

# (column declaration, how the values compare): "same" values equal as the plan converts them;
# the clock's values within a minute, in the same form.
SPELLINGS = [
    ("t_text TEXT DEFAULT CURRENT_TIMESTAMP", "datetime text"),
    ("t_datetime DATETIME DEFAULT current_timestamp", "instant"),
    ("t_paren TEXT DEFAULT (CURRENT_TIMESTAMP)", "datetime text"),
    ("t_date_text TEXT DEFAULT CURRENT_DATE", "date"),
    ("t_date DATE DEFAULT (current_date)", "date"),
    ("t_time TEXT DEFAULT CURRENT_TIME", "time text"),
    ("t_fn TEXT DEFAULT (datetime('now'))", "datetime text"),
    ("t_fn_upper TEXT DEFAULT (DATETIME('NOW'))", "datetime text"),
    ("t_local TEXT DEFAULT (datetime('now', 'localtime'))", "datetime text"),
    ("t_local_ts TIMESTAMP DEFAULT (datetime('now','localtime'))", "instant"),
    ("t_local_date TEXT DEFAULT (date('now', 'localtime'))", "date"),
    ("t_ms TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))", "datetime text"),
    ("t_ms_ts DATETIME DEFAULT (STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW'))", "instant"),
    ("t_s INTEGER DEFAULT (strftime('%s', 'now'))", "epoch"),
    ("t_s_text TEXT DEFAULT (strftime('%s','now'))", "epoch"),
    ("t_ymd INTEGER DEFAULT (strftime('%Y%m%d', 'now'))", "same day number"),
    ("t_julian REAL DEFAULT (julianday('now'))", "julian"),
    ("t_unixepoch INTEGER DEFAULT (unixepoch())", "epoch"),
    ("t_unixepoch_now INTEGER DEFAULT (UNIXEPOCH('now'))", "epoch"),
    ("created_at INTEGER DEFAULT (unixepoch())", "instant"),  # unix seconds, planned as timestamptz
    ("c_quote TEXT DEFAULT 'it''s'", "same"),
    ("c_dquote TEXT DEFAULT \"double quoted\"", "same"),
    ("c_empty TEXT DEFAULT ''", "same"),
    ("c_bare TEXT DEFAULT bareword", "same"),
    ("c_number_text TEXT DEFAULT 12", "same"),
    ("c_neg INTEGER DEFAULT -5", "same"),
    ("c_plus INTEGER DEFAULT +7", "same"),
    ("c_exp REAL DEFAULT -1.5e3", "same"),
    ("c_hex INTEGER DEFAULT 0x1F", "same"),
    ("c_neg_hex INTEGER DEFAULT -0x10", "same"),
    ("c_blob BLOB DEFAULT x'0aFF'", "same"),
    ("c_null TEXT DEFAULT NULL", "same"),
    ("c_decimal NUMERIC DEFAULT 1.25", "same"),
    ("c_sum INTEGER DEFAULT (1 + 2)", "same"),
    ("c_concat TEXT DEFAULT ('a' || 'b')", "same"),
    ("c_functions TEXT DEFAULT (upper('x') || char(65) || abs(-3))", "same"),
    ("c_json JSON DEFAULT '[]'", "json"),
    ("is_true BOOLEAN DEFAULT true", "boolean"),
    ("is_false BOOLEAN DEFAULT FALSE", "boolean"),
    ("is_t BOOLEAN DEFAULT T", "boolean"),
    ("is_f BOOLEAN DEFAULT F", "boolean"),
    ("is_t_text BOOLEAN DEFAULT 't'", "boolean"),
    ("is_f_text BOOLEAN DEFAULT 'f'", "boolean"),
    ("is_zero BOOLEAN DEFAULT 0", "boolean"),
    ("is_one BOOLEAN DEFAULT 1", "boolean"),
]


@pytest.fixture(scope="module")
def defaults_row(server_url, tmp_path_factory):
    """One table with a column per spelling, migrated; then a row that omits them all, inserted on
    both sides at once: {column: (SQLite's value, Postgres' value, the column's plan)}."""
    home = tmp_path_factory.mktemp("defaults")
    columns = ",\n  ".join(declaration for declaration, _ in SPELLINGS)
    db = make_sqlite(home / "defaults.db", f"CREATE TABLE d (id INTEGER PRIMARY KEY,\n  {columns});\n"
                                           "INSERT INTO d (id) VALUES (1);")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{server_url.rpartition('/')[0]}/{name}"
    try:
        params = Params.from_mapping({"sqlite_path": str(db), "database_url": url, "run_dir": str(home / "run"),
                                      "env_file": ""})
        the_plan, verified = migrate(params)
        assert the_plan.losses == [] and verified.passed, verified.to_json()
        with psycopg.connect(url, autocommit=True) as pg:
            local_time_zone(pg)
            sqlite_rows(db, "INSERT INTO d (id) VALUES (2)")
            got = pg.execute("INSERT INTO d (id) VALUES (2) RETURNING *")
            target = dict(zip([c.name for c in got.description], got.fetchone()))
        con = sqlite3.connect(db)
        con.row_factory = sqlite3.Row
        stored = dict(con.execute("SELECT * FROM d WHERE id = 2").fetchone())
        con.close()
        table = the_plan.table("d")
        yield {c.source: (stored[c.source], target[c.target], c) for c in table.columns}
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("declaration, compare", SPELLINGS, ids=[d.split()[0] for d, _ in SPELLINGS])
def test_a_row_omitting_the_column_gets_what_sqlite_stores(defaults_row, declaration, compare):
    column = declaration.split()[0]
    stored, got, col = defaults_row[column]
    assert col.default is not None or stored is None, col
    if compare == "same":
        assert got == stored and type(got) in (type(stored), Decimal), (col.default, got, stored)
    elif compare == "json":
        assert (col.pg_type, got) == ("jsonb", [])
    elif compare == "boolean":
        assert col.pg_type == "boolean"
        assert got is (str(stored).lower() in ("1", "t", "true")), (col.default, got, stored)
    elif compare == "datetime text":
        assert isinstance(got, str) and re.sub(r"\d", "9", got) == re.sub(r"\d", "9", stored), (got, stored)
        assert close(as_utc(got), as_utc(stored))
    elif compare == "date":
        assert type(got) is (str if col.pg_type == "text" else dt.date), got
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", str(got)) and same_day(dt.date.fromisoformat(str(got)), stored)
    elif compare == "time text":
        assert close_times(got, stored), (got, stored)
    elif compare == "instant":
        assert col.pg_type == "timestamptz" and isinstance(got, dt.datetime)
        expected = dt.datetime.fromtimestamp(stored, dt.timezone.utc) if isinstance(stored, int) else as_utc(stored)
        assert close(got, expected), (col.default, got, stored)
    elif compare == "epoch":
        assert type(got) is type(stored) and abs(int(got) - int(stored)) < 60, (col.default, got, stored)
    elif compare == "same day number":
        assert isinstance(got, int) and isinstance(stored, int) and abs(got - stored) <= 1
    elif compare == "julian":
        assert isinstance(got, float) and abs(got - stored) < 60 / 86400
    else:
        raise AssertionError(compare)


# --- C: a unique expression index ------------------------------------------------------------------------

C = """
CREATE TABLE sites (site_id INTEGER PRIMARY KEY AUTOINCREMENT, code varchar NOT NULL);
CREATE UNIQUE INDEX "sites#code" ON sites(lower(code));
INSERT INTO sites(code) VALUES ('alpha'), ('Beta');
"""


def test_c_a_unique_expression_index_refuses_what_sqlite_refuses(tmp_path, params_for, pg):
    db = make_sqlite(tmp_path / "c.db", C)
    the_plan, verified = migrate(params_for(db))
    assert the_plan.losses == [] and verified.passed, verified.to_json()
    (index,) = the_plan.table("sites").indexes
    assert (index.name, index.unique, index.expressions) == ("sites#code", True, ['TRANSLATE("code", \'ABCDEFGHIJKLMNOPQRSTUVWXYZ\', \'abcdefghijklmnopqrstuvwxyz\')'])
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        sqlite_rows(db, "INSERT INTO sites(code) VALUES ('ALPHA')")
    with pytest.raises(psycopg.errors.UniqueViolation):
        pg.execute("INSERT INTO sites (code) VALUES ('ALPHA')")
    pg.execute("INSERT INTO sites (code) VALUES ('gamma')")  # other values still go in


# --- D: COLLATE NOCASE and bare boolean defaults ------------------------------------------------------------

D = """
CREATE TABLE [Nodes] ([Name] TEXT COLLATE NOCASE, [Site] TEXT COLLATE NOCASE,
  [Protected] BOOLEAN DEFAULT F, [Active] BOOLEAN DEFAULT T);
CREATE UNIQUE INDEX [Nodes_Name] ON [Nodes]([Name]);
INSERT INTO [Nodes]([Name],[Site]) VALUES ('core1', 'ams'), ('edge2', 'AMS');
"""
NAMES = ["Alpha", "beta", "_under", "Zeta", "zz[", "a~", "a_b", "A b", "a1", "A10", "{x", "0day", "Éclair", "éclair"]


def test_d_nocase_columns_compare_order_and_stay_unique_as_in_sqlite(tmp_path, params_for, pg):
    db = make_sqlite(tmp_path / "d.db", D)
    the_plan, verified = migrate(params_for(db))
    assert the_plan.losses == [] and verified.passed, verified.to_json()
    name = the_plan.table("Nodes").column("Name")
    assert (name.pg_type, name.pg_collation, name.declared_collation) == ("citext", "C", "NOCASE")

    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        sqlite_rows(db, "INSERT INTO Nodes(Name, Site) VALUES ('CORE1', 'x')")
    with pytest.raises(psycopg.errors.UniqueViolation):
        pg.execute("INSERT INTO nodes (name, site) VALUES ('CORE1', 'x')")

    same = {  # each query on both sides: SQLite's answer is Postgres' answer
        "WHERE site = 'ams' finds both spellings": ("SELECT count(*) FROM Nodes WHERE Site = 'ams'",
                                                    """SELECT count(*) FROM nodes WHERE "site" = 'ams'"""),
        "DISTINCT folds case": ("SELECT count(DISTINCT Site) FROM Nodes", "SELECT count(DISTINCT site) FROM nodes"),
        "LIKE ignores case": ("SELECT count(*) FROM Nodes WHERE Site LIKE 'Am%'",
                              "SELECT count(*) FROM nodes WHERE site LIKE 'Am%'"),
    }
    for what, (in_sqlite, in_pg) in same.items():
        assert sqlite_rows(db, in_sqlite)[0][0] == pg.execute(in_pg).fetchone()[0] == (1 if "DISTINCT" in what else 2), what

    for n in NAMES:  # accepted on both sides: NOCASE folds A-Z only, so Éclair and éclair are two names
        sqlite_rows(db, "INSERT INTO Nodes(Name, Site) VALUES (?, 'x')", n)
        pg.execute("INSERT INTO nodes (name, site) VALUES (%s, 'x')", [n])
    in_sqlite = [r[0] for r in sqlite_rows(db, "SELECT Name FROM Nodes ORDER BY Name")]
    in_pg = [r[0] for r in pg.execute("SELECT name FROM nodes ORDER BY name")]
    assert in_pg == in_sqlite, (in_pg, in_sqlite)

    assert [r for r in pg.execute("SELECT protected, active FROM nodes WHERE name IN ('core1', 'edge2')")] == [
        (False, True), (False, True)]  # SQLite stored 'F' and 'T', which the load reads as booleans
    fresh = pg.execute("INSERT INTO nodes (name) VALUES ('new') RETURNING protected, active").fetchone()
    assert fresh == (False, True)


# --- more index shapes and collations, and what stays a listed loss -------------------------------------

INDEXES = """
CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT, slug TEXT COLLATE NOCASE, note TEXT COLLATE RTRIM,
  kind TEXT, score INTEGER);
CREATE UNIQUE INDEX tags_label ON tags (label COLLATE NOCASE);
CREATE UNIQUE INDEX tags_slug_exact ON tags (slug COLLATE BINARY, kind);
CREATE UNIQUE INDEX tags_note ON tags (note);
CREATE UNIQUE INDEX tags_open ON tags (lower(kind), score DESC) WHERE score > 0;
CREATE INDEX tags_sum ON tags ((score + id) DESC);
INSERT INTO tags VALUES (1, 'Red', 'red', 'x', 'A', 1), (2, 'Blue', 'RED', 'y', 'B', 0), (3, 'Green', 'red', 'z', 'B', 1);
"""


def test_indexes_with_collations_and_expressions_refuse_what_sqlite_refuses(tmp_path, params_for, pg):
    db = make_sqlite(tmp_path / "ix.db", INDEXES)
    params = params_for(db, accept_losses=["collation:tags.note"])
    the_plan, verified = migrate(params)
    assert [(x.item, x.accepted) for x in the_plan.losses] == [("collation:tags.note", True)]
    assert verified.passed, verified.to_json()
    ddl = the_plan.ddl_text()
    assert 'CREATE UNIQUE INDEX "tags_label" ON "public"."tags" ((lower(("label")::text COLLATE "C")))' in ddl
    assert 'CREATE UNIQUE INDEX "tags_slug_exact" ON "public"."tags" ((("slug")::text), "kind")' in ddl
    assert 'CREATE UNIQUE INDEX "tags_note" ON "public"."tags" ((rtrim(("note")::text, \' \')))' in ddl
    assert 'CREATE UNIQUE INDEX "tags_open" ON "public"."tags" ((TRANSLATE("kind", \'ABCDEFGHIJKLMNOPQRSTUVWXYZ\', \'abcdefghijklmnopqrstuvwxyz\')), "score" DESC) WHERE "score" > 0' in ddl
    assert 'CREATE INDEX "tags_sum" ON "public"."tags" (("score" + "id") DESC)' in ddl

    cases = [  # (values, refused?) the same on both sides
        ((10, "RED", "n1", "n1", "C", 5), True),  # label RED = Red under NOCASE
        ((11, "Cyan", "Red", "n2", "A", 0), False),  # slug compared exactly (BINARY) in the index
        ((12, "Teal", "x1", "x ", "C", 0), True),  # note 'x ' = 'x' under RTRIM
        ((13, "Plum", "x2", "n3", "a", 1), True),  # lower(kind), score: (a, 1) is taken where score > 0
        ((14, "Gold", "x3", "n4", "a", 0), False),  # ... not where score = 0
    ]
    for values, refused in cases:
        marks = ", ".join("?" * len(values))
        try:
            sqlite_rows(db, f"INSERT INTO tags VALUES ({marks})", *values)
            in_sqlite = False
        except sqlite3.IntegrityError:
            in_sqlite = True
        try:
            pg.execute(f"INSERT INTO tags VALUES ({', '.join(['%s'] * len(values))})", list(values))
            in_pg = False
        except psycopg.errors.UniqueViolation:
            in_pg = True
        assert in_sqlite == in_pg == refused, values


def test_what_cannot_be_carried_is_a_listed_loss_with_its_reason(tmp_path):
    path = make_sqlite(tmp_path / "l.db", """
        CREATE TABLE t (id INTEGER PRIMARY KEY, code TEXT, name TEXT COLLATE NOCASE, pad TEXT COLLATE RTRIM,
          stamp TEXT DEFAULT (datetime('now', '+1 day')), n INTEGER DEFAULT CURRENT_TIMESTAMP,
          r TEXT DEFAULT (hex(randomblob(2))));
        CREATE UNIQUE INDEX t_glob ON t (code GLOB 'a*', id);
    """)
    profile = inspect_source(path)
    losses = {x.item: x.reason for x in plan_schema(profile, Params()).losses}
    assert set(losses) == {"index:t_glob", "collation:t.pad", "default:t.stamp", "default:t.n", "default:t.r"}
    assert "code GLOB 'a*'" in losses["index:t_glob"] and "no faithful Postgres translation" in losses["index:t_glob"]
    assert "trailing spaces" in losses["collation:t.pad"]
    assert "'+1 day' is not translated" in losses["default:t.stamp"]
    assert "bigint column cannot hold" in losses["default:t.n"]
    assert "randomblob() gives another value for every row" in losses["default:t.r"]

    without_citext = plan_schema(profile, Params(), text_support=TextSupport(citext=False, citext_missing="is not available on this server"))
    assert without_citext.table("t").column("name").pg_type == "text"
    assert "citext is not available on this server" in {x.item: x.reason for x in without_citext.losses}["collation:t.name"]
    folding_more = plan_schema(profile, Params(), text_support=TextSupport(ascii_lower=False))
    assert "(É to é)" in {x.item: x.reason for x in folding_more.losses}["collation:t.name"]


def test_two_tables_loading_at_once_create_citext_once(pg_url, pg):
    """Tables load `workers` at a time, each creating citext in its own transaction if it is missing:
    the second waits for the first (an advisory lock) and finds it, instead of failing on the catalog."""
    first = psycopg.connect(pg_url, application_name="sqlite2neon")
    failure: list[BaseException] = []

    def second() -> None:
        try:
            with psycopg.connect(pg_url, application_name="sqlite2neon") as conn, conn.transaction():
                conn.execute(CITEXT_DDL)
                conn.execute("CREATE TABLE b (name citext)")
        except BaseException as exc:  # reported by the assertion below
            failure.append(exc)

    try:
        with first.transaction():
            first.execute(CITEXT_DDL)
            first.execute("CREATE TABLE a (name citext)")
            waiting = threading.Thread(target=second)
            waiting.start()
            runbook_backend(pg_url, "DO $$%citext%", waiting=True)  # the second waits for the first's commit
        waiting.join(30)
    finally:
        first.close()
    assert failure == []
    assert pg.execute("SELECT count(*) FROM pg_extension WHERE extname = 'citext'").fetchone()[0] == 1
    assert pg.execute("SELECT 'A'::citext = 'a'").fetchone()[0] is True
