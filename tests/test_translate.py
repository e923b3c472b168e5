"""translate: SQLite CHECKs, DEFAULTs, partial-index WHEREs, generated columns and views carried into
PostgreSQL and run there, beside SQLite running the original on the same rows; what cannot keep its
meaning (GLOB, printf(), an unknown table, ...) comes back as None. Views over views, SQLite's date
functions and type affinities, and view verification are in test_views.py."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from sqlite2neon.translate import Names, translate_expression, translate_view

ITEMS = "Mental Items"

SQLITE_SCHEMA = """
CREATE TABLE "Mental Items" (
    "ID" INTEGER PRIMARY KEY,
    "Title" TEXT NOT NULL,
    "select" TEXT,
    "we""ird" TEXT,
    "Größe" INTEGER,
    resolved BOOLEAN NOT NULL DEFAULT 0,
    tags JSON,
    price INTEGER,
    qty INTEGER,
    status TEXT,
    created_at INTEGER,
    weight REAL
    {check}
);
CREATE TABLE [order] (id INTEGER PRIMARY KEY, item_id INTEGER, amount INTEGER, note TEXT);
"""

# Source column -> (target column, Postgres type), in the source's column order.
COLUMNS = {
    ITEMS: {"ID": ("id", "bigint"), "Title": ("title", "text"), "select": ("select", "text"),
            'we"ird': ('we"ird', "text"), "Größe": ("größe", "bigint"), "resolved": ("resolved", "boolean"),
            "tags": ("tags", "jsonb"), "price": ("price", "bigint"), "qty": ("qty", "bigint"),
            "status": ("status", "text"), "created_at": ("created_at", "timestamptz"),
            "weight": ("weight", "double precision")},
    "order": {"id": ("id", "bigint"), "item_id": ("item_id", "bigint"), "amount": ("amount", "bigint"),
              "note": ("note", "text")},
}
TABLES = {ITEMS: "mental_items", "order": "orders"}
NAMES = Names(
    tables=TABLES,
    columns={t: {s: target for s, (target, _) in cols.items()} for t, cols in COLUMNS.items()},
    types={TABLES[t]: dict(cols.values()) for t, cols in COLUMNS.items()},
)

ROWS = {
    ITEMS: [
        (1, "alpha", "x", "q", 10, 0, '["a"]', 5, 2, "open", 1700000000, 1.5),
        (2, "Beta", None, None, None, 1, None, 12, 1, "done", 1700000100, 2.5),
        (3, "gamma ray", "", "z", 3, 0, '{"k": 1}', 0, 100, None, 1700000200, -0.5),
        (4, "Delta", "s", None, 7, 1, "[]", 20, 0, "open", None, None),
        (5, "alphabet", "t", "w", 0, 0, None, 7, 3, "done", 1700000300, 3.25),
        (6, "back\\slash", "u", "v", 1, 1, "{}", 3, 5, "open", 1700000400, 0.5),
    ],
    "order": [(1, 1, 30, "first"), (2, 1, 5, None), (3, 2, 12, "b"), (4, 3, None, "c"), (5, 5, 8, "e"),
              (6, 6, 1, "f")],
}


def pg_value(pg_type: str, value):
    """A source value as the load step would have converted it."""
    if value is None:
        return None
    if pg_type == "boolean":
        return bool(value)
    if pg_type == "timestamptz":
        return datetime.fromtimestamp(value, timezone.utc)
    return value


def pg_insert(conn, table: str, row: tuple, target: str | None = None) -> None:
    cols = list(COLUMNS[table].values())
    marks = [sql.SQL("CAST(%s AS jsonb)" if t == "jsonb" else "%s") for _, t in cols]
    conn.execute(sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(target or TABLES[table]), sql.SQL(", ").join(sql.Identifier(c) for c, _ in cols),
        sql.SQL(", ").join(marks)), [pg_value(t, v) for (_, t), v in zip(cols, row)])


def create_sqlite(check: str = "") -> sqlite3.Connection:
    con = sqlite3.connect(":memory:")
    con.executescript(SQLITE_SCHEMA.replace("{check}", f", CHECK ({check})" if check else ""))
    return con


@pytest.fixture(scope="module")
def lite() -> sqlite3.Connection:
    con = create_sqlite()
    for table, rows in ROWS.items():
        con.executemany(f'INSERT INTO "{table}" VALUES ({", ".join("?" * len(rows[0]))})', rows)
    yield con
    con.close()


@pytest.fixture(scope="module")
def target(server_url):
    """One database with the target tables and rows, for the whole module: a fresh one per test
    would cost more than the tests."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(f"{server_url.rpartition('/')[0]}/{name}", autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        for table, cols in COLUMNS.items():
            conn.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(TABLES[table]), sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in cols.values())))
            for row in ROWS[table]:
                pg_insert(conn, table, row)
        yield conn
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def pg(target):
    """The module's database, every change rolled back after the test."""
    with target.transaction(force_rollback=True):
        yield target


def normal(rows) -> list[tuple]:
    """Rows comparable across the two: booleans as 0/1, numbers as rounded floats, times as epochs."""
    def value(v):
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, (float, Decimal)):
            return round(float(v), 9)
        if isinstance(v, datetime):
            return int(v.timestamp())
        if isinstance(v, (list, dict)):
            return json.dumps(v)  # jsonb, as the text SQLite holds
        return v
    return [tuple(value(v) for v in row) for row in rows]


def translated(expr: str, table: str = ITEMS) -> str:
    out = translate_expression(expr, table, NAMES)
    assert out is not None, f"{expr} was not translated"
    return out


def ids_where(lite, pg, expr: str) -> tuple[list, list]:
    """Which rows the condition keeps, in SQLite and, translated, in Postgres."""
    want = lite.execute(f'SELECT "ID" FROM "Mental Items" WHERE {expr} ORDER BY 1').fetchall()
    got = pg.execute(f'SELECT "id" FROM "mental_items" WHERE {translated(expr)} ORDER BY 1').fetchall()
    return normal(want), normal(got)


def values_of(lite, pg, expr: str) -> tuple[list, list]:
    want = lite.execute(f'SELECT {expr} FROM "Mental Items" ORDER BY "ID"').fetchall()
    got = pg.execute(f'SELECT {translated(expr)} FROM "mental_items" ORDER BY "id"').fetchall()
    return normal(want), normal(got)


# --- names ------------------------------------------------------------------------------------------

def test_every_spelling_of_a_name_becomes_its_quoted_target(pg):
    expr = """length(Title) > 0 AND [select] <> '' AND `we"ird` IS NOT NULL AND "we""ird" <> 'x' AND "Größe" >= 0"""
    out = translated(expr)
    assert out == ('LENGTH("title") > 0 AND "select" <> \'\' AND NOT "we""ird" IS NULL '
                   'AND "we""ird" <> \'x\' AND "größe" >= 0')
    pg.execute('CREATE TABLE probe (LIKE "mental_items")')
    pg.execute(f"ALTER TABLE probe ADD CHECK ({out})")


def test_names_compare_without_regard_to_ascii_case():
    assert translated("TITLE = 'alpha' AND Price > 0") == '"title" = \'alpha\' AND "price" > 0'
    assert translate_expression("GRÖSSE > 0", ITEMS, NAMES) is None  # SQLite folds ASCII letters only


def test_a_double_quoted_name_that_is_no_column_is_a_string(lite, pg):
    assert translated('status IN ("open", "done")') == "\"status\" IN ('open', 'done')"
    want, got = ids_where(lite, pg, 'status = "open"')
    assert got == want and want


def test_an_unknown_table_is_refused():
    assert translate_expression("price > 0", "nope", NAMES) is None


# --- booleans -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr, expected", [
    ("resolved = 0", '"resolved" = FALSE'),
    ("resolved == 1", '"resolved" = TRUE'),
    ("resolved != 1", '"resolved" <> TRUE'),
    ("resolved <> 0", '"resolved" <> FALSE'),
    ("0 = resolved", 'FALSE = "resolved"'),
    ("resolved IN (0, 1)", '"resolved" IN (FALSE, TRUE)'),
    ("resolved NOT IN (1)", 'NOT "resolved" IN (TRUE)'),
    ("resolved", '"resolved"'),
    ("NOT resolved", 'NOT "resolved"'),
    ("resolved IS 0", '"resolved" IS NOT DISTINCT FROM FALSE'),
    ("resolved AND price > 5", '"resolved" AND "price" > 5'),
    ("(price > 5) = 1", '("price" > 5) = TRUE'),
])
def test_boolean_compared_with_0_or_1(lite, pg, expr, expected):
    assert translated(expr) == expected
    want, got = ids_where(lite, pg, expr)
    assert got == want


@pytest.mark.parametrize("expr", [
    "resolved + 1", "coalesce(resolved, 0)", "CASE resolved WHEN 1 THEN 'y' ELSE 'n' END",
    "iif(resolved, 'y', 'n')", "resolved = qty", "resolved > 0", "'r' || resolved", "resolved",
    "price > 5",
])
def test_boolean_read_as_the_0_or_1_sqlite_stored(lite, pg, expr):
    want, got = values_of(lite, pg, expr)
    assert got == want


# --- CHECK constraints --------------------------------------------------------------------------------

CANDIDATES = [
    (10, "ok", None, None, None, 0, '["x"]', 5, 10, "open", None, 1.0),
    (11, "no price", None, None, None, 0, None, 0, 10, "done", None, 1.0),
    (12, "too many", None, None, None, 1, "{}", 5, 101, "open", None, 1.0),
    (13, "edge", None, None, None, 1, "[]", 1, 100, "done", None, 1.0),
    (14, "odd status", None, None, None, 0, '"s"', 5, 1, "later", None, 1.0),
    (15, "null status", None, None, None, 0, None, 5, 1, None, None, 1.0),
    (16, "", None, None, None, 0, None, None, None, "open", None, 1.0),
    (17, "multiple", None, None, None, 0, "1", 15, 1, "open", None, 1.0),
]


def accepted_by_sqlite(check: str) -> list[int]:
    con = create_sqlite(check)
    out = []
    for row in CANDIDATES:
        try:
            con.execute(f'INSERT INTO "Mental Items" VALUES ({", ".join("?" * len(row))})', row)
            out.append(row[0])
        except sqlite3.IntegrityError:
            pass
    return out


def accepted_by_postgres(pg, check: str) -> list[int]:
    pg.execute('CREATE TABLE probe (LIKE "mental_items")')
    pg.execute(f"ALTER TABLE probe ADD CHECK ({translated(check)})")
    out = []
    for row in CANDIDATES:
        try:
            with pg.transaction():
                pg_insert(pg, ITEMS, row, target="probe")
            out.append(row[0])
        except psycopg.errors.CheckViolation:
            pass
    return out


@pytest.mark.parametrize("check, expected", [
    ("price > 0 AND qty BETWEEN 1 AND 100", '"price" > 0 AND "qty" BETWEEN 1 AND 100'),
    ("status IN ('open','done')", "\"status\" IN ('open', 'done')"),
    ("length(Title) > 0 AND resolved IN (0, 1)", 'LENGTH("title") > 0 AND "resolved" IN (FALSE, TRUE)'),
    ("price IS NULL OR price % 5 = 0", '"price" IS NULL OR "price" % 5 = 0'),
    ("resolved = 0 OR qty > 0", '"resolved" = FALSE OR "qty" > 0'),
])
def test_check_allows_the_rows_sqlite_allowed(pg, check, expected):
    assert translated(check) == expected
    assert accepted_by_postgres(pg, check) == accepted_by_sqlite(check)


def test_check_json_valid_on_jsonb(pg):
    """jsonb holds only valid JSON; NULL passes, as json_valid(NULL) is NULL (SQLite 3.45 and later)."""
    assert translated("json_valid(tags)") == 'CASE WHEN NOT "tags" IS NULL THEN TRUE END'
    assert accepted_by_postgres(pg, "json_valid(tags)") == [row[0] for row in CANDIDATES]
    with pytest.raises(psycopg.errors.InvalidTextRepresentation), pg.transaction():
        pg_insert(pg, ITEMS, (20, "bad", None, None, None, 0, "{oops", 1, 1, None, None, None), target="probe")


# --- DEFAULT expressions --------------------------------------------------------------------------------

@pytest.mark.parametrize("default, pg_type, expected", [
    ("CURRENT_TIMESTAMP", "timestamptz", "CURRENT_TIMESTAMP"),
    ("(datetime('now'))", "timestamptz", "(CURRENT_TIMESTAMP)"),
    ("date('now')", "date", "CURRENT_DATE"),
    ("strftime('%s','now')", "bigint", "CAST(FLOOR(EXTRACT(EPOCH FROM CURRENT_TIMESTAMP)) AS BIGINT)"),
    ("unixepoch()", "bigint", "CAST(FLOOR(EXTRACT(EPOCH FROM CURRENT_TIMESTAMP)) AS BIGINT)"),
])
def test_defaults_of_the_current_time(pg, default, pg_type, expected):
    out = translated(default)
    assert out == expected
    pg.execute(f"CREATE TABLE d (n int, x {pg_type} DEFAULT {out})")
    pg.execute("INSERT INTO d (n) VALUES (1)")
    value = pg.execute("SELECT x FROM d").fetchone()[0]
    if pg_type == "date":
        assert value == datetime.now(timezone.utc).date()
    else:
        epoch = value.timestamp() if isinstance(value, datetime) else value
        assert abs(epoch - time.time()) < 60


@pytest.mark.parametrize("default, pg_type", [
    ("0", "bigint"), ("-1", "bigint"), ("(1 + 2)", "bigint"), ("1.5", "double precision"),
    ("'open'", "text"), ("'it''s'", "text"), ("'a' || 'b'", "text"), ("NULL", "text"),
    ("upper('x')", "text"), ("TRUE", "boolean"),
])
def test_constant_defaults_give_what_sqlite_gives(pg, default, pg_type):
    lite = sqlite3.connect(":memory:")
    lite.execute(f"CREATE TABLE d (n INTEGER, x DEFAULT ({default}))")
    lite.execute("INSERT INTO d (n) VALUES (1)")
    want = lite.execute("SELECT x FROM d").fetchall()
    pg.execute(f"CREATE TABLE d (n int, x {pg_type} DEFAULT {translated(default)})")
    pg.execute("INSERT INTO d (n) VALUES (1)")
    assert normal(pg.execute("SELECT x FROM d").fetchall()) == normal(want)


# --- partial indexes and generated columns ----------------------------------------------------------------

@pytest.mark.parametrize("where, expected, indexdef", [
    ("resolved = 0", '"resolved" = FALSE', "WHERE (resolved = false)"),
    ("status IS NOT NULL AND price > 0", 'NOT "status" IS NULL AND "price" > 0',
     "WHERE ((NOT (status IS NULL)) AND (price > 0))"),
])
def test_partial_index_where(lite, pg, where, expected, indexdef):
    out = translated(where)
    assert out == expected
    pg.execute(f'CREATE INDEX open_items ON "mental_items" ("title") WHERE {out}')
    definition = pg.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'open_items'").fetchone()[0]
    assert definition.endswith(indexdef)
    want, got = ids_where(lite, pg, where)
    assert got == want


@pytest.mark.parametrize("expr, pg_type", [
    ("price * qty", "bigint"),
    ("ifnull(status, '') || ':' || Title", "text"),
    ("lower(Title)", "text"),
    ("price / qty", "bigint"),
])
def test_generated_column(lite, pg, expr, pg_type):
    out = translated(expr)
    pg.execute(f'ALTER TABLE "mental_items" ADD COLUMN g {pg_type} GENERATED ALWAYS AS ({out}) STORED')
    want = lite.execute(f'SELECT {expr} FROM "Mental Items" ORDER BY "ID"').fetchall()
    assert normal(pg.execute('SELECT g FROM "mental_items" ORDER BY "id"').fetchall()) == normal(want)


# --- functions and operators ---------------------------------------------------------------------------------

@pytest.mark.parametrize("expr", [
    "ifnull(status, 'none')", "substr(Title, 2, 3)", "substr(Title, 3)", "substr(Title, 0, 2)",
    "length(Title)", "length(price)", "lower(Title)", "upper(Title)", "trim('  ' || Title || ' ')",
    "ltrim(Title, 'a')", "rtrim(Title, 'ay')", "abs(price - 10)", "round(weight)", "round(weight, 1)",
    "round(2.5)", "round(-0.5)", "coalesce(status, [select], 'none')", "nullif(status, 'open')",
    "instr(Title, 'a')", "Title || ' #' || price", "'n=' || qty || '/' || ifnull(\"Größe\", 0)",
    "CASE WHEN price > 10 THEN 'big' WHEN price > 0 THEN 'small' ELSE 'free' END",
    "CASE status WHEN 'open' THEN 1 ELSE 0 END", "CAST(weight AS INTEGER)", "CAST(price AS TEXT)",
    "CAST(price AS REAL) / 4", "CAST(Title AS VARCHAR(2))", "price / qty", "price % qty", "price / 2",
    "price * 1.5", "-price", "replace(Title, 'a', 'A')", "price IS NULL", "status IS NOT 'open'",
    "created_at IS NULL", "tags IS NOT NULL", "\"we\"\"ird\" = [select]", "price BETWEEN qty AND 10",
    "substr(Title, -3)", "substr(Title, -4, 2)", "substr(Title, -20, 3)", "Title || weight", "weight || ''",
    "Title + 1", "status * 2", "'12abc' + qty", "date('2024-02-03', '+1 day')", "julianday('2024-01-01')",
])
def test_values_agree_with_sqlite(lite, pg, expr):
    want, got = values_of(lite, pg, expr)
    assert got == want


LOWER_ASCII = "TRANSLATE(\"title\", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"


@pytest.mark.parametrize("expr, expected", [
    ("Title LIKE 'a%'", f"{LOWER_ASCII} LIKE 'a%'"),
    ("Title LIKE 'A%'", f"{LOWER_ASCII} LIKE 'a%'"),
    ("Title NOT LIKE '%A%'", f"{LOWER_ASCII} NOT LIKE '%a%'"),
    ("Title LIKE 'gamma_ray'", f"{LOWER_ASCII} LIKE 'gamma_ray'"),
    ("Title LIKE 'back\\%'", f"{LOWER_ASCII} LIKE 'back\\%' ESCAPE ''"),
    ("Title LIKE 'back!%%' ESCAPE '!'", f"{LOWER_ASCII} LIKE 'back!%%' ESCAPE '!'"),
    ("Title LIKE 'ÉLAN'", f"{LOWER_ASCII} LIKE 'Élan'"),
])
def test_like_ignores_the_case_of_ascii_letters_only_as_in_sqlite(lite, pg, expr, expected):
    """SQLite's LIKE folds A-Z only (https://www.sqlite.org/lang_expr.html#like); ILIKE would fold É too."""
    assert translated(expr) == expected
    want, got = ids_where(lite, pg, expr)
    assert got == want


@pytest.mark.parametrize("expr", [
    "Title GLOB 'a*'", "typeof(price) = 'integer'", "printf('%d', price)", "strftime('%Y', created_at)",
    "strftime('%s', created_at)", "julianday(created_at) > 0", "unixepoch(created_at) > 0",
    "datetime(created_at)", "date(created_at, '+1 day')", "no_such_function(price)", "Title REGEXP 'a'",
    "Title COLLATE NOCASE = 'a'", "created_at > 0", "created_at < datetime('now')",
    "created_at > unixepoch() - 86400", "tags = '[]'", "length(tags) > 2", "json_extract(tags, '$.k') = 1",
    "date(Title)", "strftime('%Y', status)",
    "price = 'abc'", "status = 5", "substr(Title, 1, qty)", "substr(Title, 1, -2)", "json_valid(Title)",
    "no_such_column = 1", "rowid > 0", "max(price, qty)", "weight % 2", "weight / 2.5 || ''", "NOT qty",
    "qty AND price", "x'00' = tags", "price > 0) OR (1", "1; DROP TABLE x", "(SELECT 1)", "price AS p",
    "CAST(price AS NUMERIC)", "CAST(created_at AS TEXT)", "round(weight, qty)", "other.price > 0",
    "sum(price)", "resolved IS TRUE AND qty IS TRUE", "", "price >",
])
def test_what_cannot_keep_its_meaning_is_refused(expr):
    assert translate_expression(expr, ITEMS, NAMES) is None


# --- views -----------------------------------------------------------------------------------------------

def view_rows(lite, pg, create_sql: str, ordered: bool) -> tuple[list, list]:
    """The view's rows from SQLite, and from Postgres through its translation."""
    lite.execute(create_sql)
    try:
        name = create_sql.split()[2]
        want = lite.execute(f"SELECT * FROM {name}").fetchall()
    finally:
        lite.execute(f"DROP VIEW {name}")
    query = translate_view(create_sql, NAMES)
    assert query is not None, "the view was not translated"
    pg.execute(f"CREATE VIEW v AS {query}")
    got = pg.execute("SELECT * FROM v").fetchall()
    want, got = normal(want), normal(got)
    return (want, got) if ordered else (sorted(want, key=repr), sorted(got, key=repr))


JOINED = """CREATE VIEW item_orders AS
SELECT i."Title" || ' (' || ifnull(i.status, 'none') || ')' AS label, count(o.id) AS orders,
       sum(o.amount) AS total
FROM "Mental Items" AS i LEFT JOIN [order] o ON o.item_id = i.ID
WHERE i.resolved = 0
GROUP BY i.ID, i.Title, i.status
ORDER BY total DESC, label
LIMIT 3"""


def test_view_join_group_order_limit(lite, pg):
    assert translate_view(JOINED, NAMES) == (
        'SELECT "i"."title" || \' (\' || COALESCE("i"."status", \'none\') || \')\' AS "label", '
        'COUNT("o"."id") AS "orders", CAST(SUM("o"."amount") AS BIGINT) AS "total" '
        'FROM "mental_items" AS "i" LEFT JOIN "orders" AS "o" ON "o"."item_id" = "i"."id" '
        'WHERE "i"."resolved" = FALSE GROUP BY "i"."id", "i"."title", "i"."status" '
        'ORDER BY "total" DESC NULLS LAST, "label" NULLS FIRST LIMIT 3'
    )
    want, got = view_rows(lite, pg, JOINED, ordered=True)
    assert got == want and len(want) == 3


@pytest.mark.parametrize("create_sql, ordered", [
    ("""CREATE VIEW open_titles AS WITH Open AS (SELECT ID, Title FROM "Mental Items" WHERE NOT resolved)
        SELECT title FROM open ORDER BY id""", True),
    ("""CREATE VIEW flags AS WITH c(a, B) AS (SELECT ID, resolved FROM "Mental Items")
        SELECT a, b FROM C WHERE b = 1""", False),
    ("""CREATE VIEW ordered AS SELECT Title FROM "Mental Items" i
        WHERE EXISTS (SELECT 1 FROM [order] WHERE item_id = i.ID AND amount > 6)""", False),
    ("""CREATE VIEW everything AS SELECT Title AS Name FROM "Mental Items" WHERE price > 5
        UNION SELECT note FROM [order] WHERE note IS NOT NULL ORDER BY NAME""", True),
    ("""CREATE VIEW resolved_items AS SELECT * FROM "Mental Items" WHERE resolved""", False),
    ("""CREATE VIEW big_orders AS SELECT * FROM [order] WHERE amount > 6 ORDER BY amount DESC""", True),
    ("""CREATE VIEW sub AS SELECT X.t, x.n FROM (SELECT Title AS T, qty AS N FROM "Mental Items") AS x
        WHERE x.N > 1""", False),
    ("""CREATE VIEW qualified AS SELECT "Mental Items".Title, main."order".amount
        FROM main."Mental Items" JOIN main.[order] ON [order].item_id = "Mental Items".ID""", False),
    ("""CREATE VIEW by_status AS SELECT status, count(*) AS n, sum(resolved) AS done, avg(price) AS mean,
        round(avg(weight), 2) AS w FROM "Mental Items" GROUP BY status HAVING count(*) > 1""", False),
    ("""CREATE VIEW open_by_string AS SELECT ID FROM "Mental Items" WHERE status = "open" """, False),
    ("""CREATE VIEW shapes AS SELECT ID, iif(resolved, 'done', 'open') AS state,
        CASE WHEN qty > 2 THEN qty * price END AS total, created_at FROM "Mental Items" """, False),
    ("""CREATE VIEW with_using AS SELECT i.Title, o.amount FROM "Mental Items" i JOIN [order] o USING (id)""", False),
    ("""CREATE VIEW cheap AS SELECT Title FROM "Mental Items" WHERE price < (SELECT avg(amount) FROM [order])""", False),
    ("""CREATE VIEW odd_names AS SELECT [select], "we""ird", `Größe` AS "Size", o.amount AS "order"
        FROM "Mental Items" AS "the items" JOIN [order] o ON o.item_id = "THE ITEMS".ID WHERE "Größe" > 0""", False),
    ("""CREATE VIEW dates AS SELECT ID, created_at FROM "Mental Items" WHERE created_at IS NOT NULL
        ORDER BY created_at DESC""", True),
])
def test_view_returns_what_sqlite_returns(lite, pg, create_sql, ordered):
    want, got = view_rows(lite, pg, create_sql, ordered)
    assert got == want and want


def test_view_outputs_without_a_name_are_named_after_their_text(lite, pg):
    create_sql = """CREATE VIEW exprs AS SELECT Title || '!', price * qty, count(*) OVER () IS NULL FROM "Mental Items" """
    assert translate_view(create_sql, NAMES) is None  # a window: not translated
    create_sql = """CREATE VIEW exprs AS SELECT Title || '!', price * qty FROM "Mental Items" """
    want, got = view_rows(lite, pg, create_sql, ordered=False)
    assert got == want
    names = [c.name for c in pg.execute("SELECT * FROM v").description]
    assert names == ["title || '!'", "price * qty"]


@pytest.mark.parametrize("create_sql", [
    """CREATE VIEW g AS SELECT Title FROM "Mental Items" WHERE Title GLOB 'a*'""",
    """CREATE VIEW s AS SELECT strftime('%Y-%m', created_at, 'unixepoch') AS month FROM "Mental Items" """,
    """CREATE VIEW u AS SELECT * FROM no_such_table""",
    """CREATE VIEW u AS SELECT i.Title FROM "Mental Items" i JOIN audit a ON a.id = i.ID""",
    """CREATE VIEW a AS SELECT price * 2 AS double_price FROM "Mental Items" WHERE double_price > 5""",
    """CREATE VIEW d AS SELECT * FROM "Mental Items" JOIN [order] ON [order].item_id = "Mental Items".ID""",
    """CREATE VIEW c(x) AS SELECT Title FROM "Mental Items" """,
    """CREATE VIEW w AS SELECT Title, row_number() OVER (ORDER BY price) FROM "Mental Items" """,
    """CREATE VIEW r AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) SELECT i FROM n""",
    """CREATE VIEW k AS SELECT rowid, Title FROM "Mental Items" """,
    """CREATE VIEW l AS SELECT Title FROM "Mental Items" LIMIT -1""",
    """CREATE VIEW j AS SELECT Title FROM "Mental Items" ORDER BY tags""",
    """CREATE TABLE t (a)""",
    """not sql at all""",
])
def test_view_that_cannot_keep_its_meaning_is_refused(create_sql):
    assert translate_view(create_sql, NAMES) is None
