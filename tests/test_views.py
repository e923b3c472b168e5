"""Views: created in Postgres in the order they read each other, SQLite's functions and type affinities
carried with their meaning, a specific reason for each view that is not created, and verification that
every created view returns the same rows in Postgres as in SQLite. Real SQLite files, a real Postgres,
the runbook's own steps (source, plan, load); SQLite's own answers are the reference."""

from __future__ import annotations

import json
import random
import sqlite3
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from conftest import first_error_line, make_sqlite, record_of, run_cli
from sqlite2neon import load, plan, source
from sqlite2neon.config import Params
from sqlite2neon.connect import resolve_target
from sqlite2neon.errors import LossesNotAccepted
from sqlite2neon.plan import plan_schema
from sqlite2neon.source import inspect_source
from sqlite2neon.translate import Names, Origin, view_translation
from sqlite2neon.views import canonical_cell, verify_views


def migrate(params: Params):
    """Steps 01-03 as the runbook runs them; the plan."""
    source.step(params)
    the_plan = plan.step(params)
    load.step(params)
    return the_plan


def sqlite_rows(path: Path, view: str) -> list[tuple]:
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return con.execute(f'SELECT * FROM "{view}"').fetchall()
    finally:
        con.close()


def postgres_rows(url: str, view: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(view))).fetchall()


def plain(rows: list[tuple]) -> list[tuple]:
    """Rows comparable across the engines by plain Python, independently of views.py: booleans as
    0/1, every number as a float rounded to 9 places, sorted (a view has no order)."""
    def value(v):
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, (int, float, Decimal)):
            return round(float(v), 9)
        return v
    return sorted((tuple(value(v) for v in row) for row in rows), key=repr)


# --- input E of issue 11 ------------------------------------------------------------------------------

E = """
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, total REAL NOT NULL,
  qty INTEGER NOT NULL, created_at TEXT NOT NULL, discontinued TEXT NOT NULL DEFAULT '0');
INSERT INTO orders VALUES (1,'anna',10.5,3,'2024-01-15 09:00:00','0'), (2,'Bert',7.25,1,'2024-02-01 00:00:01','1');
CREATE VIEW monthly AS WITH m AS (SELECT strftime('%Y-%m', created_at) AS month, total FROM orders)
  SELECT month, count(*) AS n, sum(total) AS revenue FROM m GROUP BY month;
CREATE VIEW lines AS SELECT id, qty / 2 AS half_qty, qty || 'x' AS label, iif(qty > 2, 'many', 'few') AS size,
  customer LIKE 'b%' AS starts_b, CAST(julianday(created_at) - julianday('2024-01-01') AS INTEGER) AS days
  FROM orders WHERE discontinued = 0 AND created_at > DATETIME('2023-12-31');
CREATE VIEW big_months AS SELECT month FROM monthly WHERE revenue > 5;
"""


@pytest.fixture
def e_db(tmp_path) -> Path:
    return make_sqlite(tmp_path / "e.db", E)


def test_input_e_every_view_is_created_and_returns_sqlite_rows(e_db, params_for, pg_url):
    params = params_for(e_db)
    the_plan = migrate(params)
    assert the_plan.losses == []
    assert [(v.source, v.reads, v.sql is not None) for v in the_plan.views] == [
        ("monthly", [], True), ("lines", [], True), ("big_months", ["monthly"], True)]
    checks = verify_views(the_plan, resolve_target(params), params, e_db)
    assert [(c.view, c.source_rows, c.target_rows, c.passed) for c in checks] == [
        ("monthly", 2, 2, True), ("lines", 1, 1, True), ("big_months", 2, 2, True)]
    for view in ("monthly", "lines", "big_months"):  # and by plain Python, not through views.py
        want, got = plain(sqlite_rows(e_db, view)), plain(postgres_rows(pg_url, view))
        assert got == want and want, view
    assert postgres_rows(pg_url, "lines") == [(1, 1, "3x", "many", False, 14)]


def test_verification_names_a_view_whose_rows_differ(e_db, params_for, pg_url):
    params = params_for(e_db)
    the_plan = migrate(params)
    with psycopg.connect(pg_url, autocommit=True) as conn:  # same columns, one value wrong
        conn.execute("""CREATE OR REPLACE VIEW public.lines AS SELECT id, qty / 4 AS half_qty,
                        CAST(qty AS text) || 'x' AS label, 'many'::text AS size, customer ILIKE 'b%' AS starts_b,
                        14::bigint AS days FROM public.orders WHERE discontinued = '0'""")
    checks = {c.view: c for c in verify_views(the_plan, resolve_target(params), params, e_db)}
    assert checks["monthly"].passed and checks["big_months"].passed
    lines = checks["lines"]
    assert not lines.passed and lines.differences_total == 2
    assert [(d["side"], d["values"]) for d in lines.differences] == [
        ("SQLite", [1, 1, "3x", "many", 0, 14]), ("Postgres", [1, 0, "3x", "many", 0, 14])]
    assert lines.describe().startswith("view lines: SQLite 1 row(s), Postgres 1; 2 row(s) differ: SQLite only (1, 1, '3x'")
    assert lines.to_record()["passed"] is False


def test_verification_counts_a_missing_row(e_db, params_for, pg_url):
    params = params_for(e_db)
    the_plan = migrate(params)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP VIEW public.big_months")
        conn.execute("CREATE VIEW public.big_months AS SELECT month FROM public.monthly WHERE revenue > 10")
    check = next(c for c in verify_views(the_plan, resolve_target(params), params, e_db) if c.view == "big_months")
    assert (check.source_rows, check.target_rows, check.passed) == (2, 1, False)
    assert check.differences == [{"side": "SQLite", "values": ["2024-02"]}]


# --- views over views ------------------------------------------------------------------------------------

CHAIN = """
CREATE VIEW top3 AS SELECT name, doubled FROM doubled_big ORDER BY doubled DESC LIMIT 3;
CREATE VIEW doubled_big AS SELECT name, doubled FROM doubled WHERE doubled > 10;
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price INTEGER NOT NULL);
CREATE VIEW doubled AS SELECT name, price * 2 AS doubled FROM items;
"""


def test_a_view_over_a_view_over_a_view_is_created_after_them(tmp_path, params_for, pg_url):
    db = make_sqlite(tmp_path / "chain.db", CHAIN, {"items": [(i, f"item {i}", i * 3) for i in range(1, 9)]})
    params = params_for(db)
    the_plan = migrate(params)
    assert [v.source for v in the_plan.views] == ["doubled", "doubled_big", "top3"]  # not sqlite_master's order
    assert [v.source for v, _ in the_plan.view_ddl()] == ["doubled", "doubled_big", "top3"]
    assert [v.reads for v in the_plan.views] == [[], ["doubled"], ["doubled_big"]]
    checks = verify_views(the_plan, resolve_target(params), params, db)
    assert [c.passed for c in checks] == [True, True, True]
    assert postgres_rows(pg_url, "top3") == [("item 8", 48), ("item 7", 42), ("item 6", 36)]


def test_a_view_reading_an_untranslatable_view_is_a_loss_naming_it(tmp_path):
    db = make_sqlite(tmp_path / "lost.db", """
        CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price INTEGER NOT NULL);
        CREATE VIEW labels AS SELECT id, name, printf('%05d', price) AS code FROM items;
        CREATE VIEW coded AS SELECT code FROM labels WHERE id > 1;
        CREATE VIEW counted AS SELECT count(*) AS n FROM coded;
        CREATE VIEW fine AS SELECT name FROM items;""")
    the_plan = plan_schema(inspect_source(db), Params())
    reasons = {x.name: x.reason for x in the_plan.losses if x.kind == "view"}
    assert reasons == {"labels": "uses printf(), which is not translated, in column 3 (code)",
                       "coded": "reads view labels, which is not created",
                       "counted": "reads view coded, which is not created"}
    assert [v.source for v, _ in the_plan.view_ddl()] == ["fine"]
    with pytest.raises(LossesNotAccepted, match="view:labels"):
        the_plan.raise_for_losses()
    the_plan.accept(["view:*"])
    the_plan.raise_for_losses()


# --- why a view is not created ------------------------------------------------------------------------------

NAMES = Names(
    tables={"items": "items", "tags": "tags"},
    columns={"items": {"id": "id", "name": "name", "price": "price", "added": "added"},
             "tags": {"item_id": "item_id", "tag": "tag"}},
    types={"items": {"id": "bigint", "name": "text", "price": "double precision", "added": "timestamptz"},
           "tags": {"item_id": "bigint", "tag": "text"}},
    origins={"items": {"id": Origin("INTEGER"), "name": Origin("TEXT"), "price": Origin("REAL"),
                       "added": Origin("NUMERIC", "iso_text", None)},
             "tags": {"item_id": Origin("INTEGER"), "tag": Origin("TEXT")}},
    scan_keys={"items": "id"},
)


@pytest.mark.parametrize("body, reason", [
    ("SELECT id, name, printf('%d', price) AS label FROM items",
     "uses printf(), which is not translated, in column 3 (label)"),
    ("SELECT name FROM items WHERE name GLOB 'a*'", "uses GLOB, which is not translated, in WHERE"),
    ("SELECT name, row_number() OVER (ORDER BY price) AS r FROM items",
     "uses a window function (OVER), which is not translated, in column 2 (r)"),
    ("SELECT i.name, group_concat(t.tag) AS tags FROM items i JOIN tags t ON t.item_id = i.id GROUP BY i.name",
     "uses group_concat() over rows SQLite may read in another order than Postgres (a join, a subquery, or a "
     "table with an index or without an integer primary key), in column 2 (tags)"),
    ("SELECT strftime('%F', name) AS day FROM items",
     "uses strftime() with %F, which SQLite before 3.44 answers with NULL, in column 1 (day)"),
    ("SELECT date(name, '+1 month') AS d FROM items",
     "uses date() with the modifier '+1 month', which is not translated, in column 1 (d)"),
    ("SELECT name FROM items WHERE added > '2024-01-01'",
     "reads added as the text SQLite holds, but it became timestamptz and its rows hold that text in more than "
     "one shape, in WHERE"),
    ("SELECT m.n FROM (SELECT name || price AS n, julianday(price) AS j FROM items) AS m",
     "uses julianday() of double precision (SQLite reads a number as a Julian day), in column 2 (j) of a subquery"),
    ("WITH c AS (SELECT tag FROM tags WHERE tag = item_id) SELECT tag FROM c",
     "compares text with a number: SQLite compares as numbers only the rows whose text spells one, in WHERE of CTE c"),
    ("SELECT name FROM audit", "reads audit, which is neither a migrated table nor a view created before it, in FROM"),
])
def test_the_reason_names_the_construct_and_where(body, reason):
    translation = view_translation(f"CREATE VIEW v AS {body}", NAMES)
    assert (translation.sql, translation.reason) == (None, reason)


# --- SQLite's functions and affinities, against SQLite ---------------------------------------------------------

SEMANTICS = """
CREATE TABLE t (
    id INTEGER PRIMARY KEY,
    name TEXT,
    code TEXT,
    flag TEXT NOT NULL,
    qty INTEGER NOT NULL,
    price REAL,
    amount NUMERIC,
    created TEXT,
    at DATETIME,
    day DATE,
    paid_at INTEGER
);
"""
SEMANTIC_ROWS = [
    (1, "anna", "12abc", "0", 3, 10.5, 18, "2024-01-15 09:00:00", "2024-01-15 09:30:00", "2024-01-15", 1705311000),
    (2, "Bert", " 7", "1", 1, 7.25, 14.4, "2024-02-01 00:00:01", "2024-02-29 23:59:59", "2024-02-29", 1709251199),
    (3, "Élan", "abc", "0", 4, 0.1, 19, "2023-12-31T23:59:59.250", "2023-12-31 23:59:59", "2023-12-31", 1704067199),
    (4, "élan", "3.5e1x", "1", 7, 100.0, 2.5, "2024-03-10 12:00", "2024-03-10 12:00:00", "2024-03-10", 1710072000),
    (5, "bob", None, "0", 0, None, None, None, None, None, None),
    (6, "O'Brien%", "-4", "1", 2, 123456.789, 7, "not a date", "2024-07-04 18:05:09", "2024-07-04", 1720116309),
]

# name -> view body over t (SQLite SQL); each becomes a view in one SQLite file, migrated once.
EXPRESSIONS = {
    "strftime_text_column": "SELECT id, strftime('%Y-%m', created) AS v FROM t",
    "strftime_converted": "SELECT id, strftime('%Y-%m-%d %H:%M:%S', at) AS v FROM t",
    "strftime_codes": "SELECT id, strftime('%d/%m/%Y %H.%M.%S %j %w %s %f', created) AS v FROM t",
    "strftime_modifier": "SELECT id, strftime('%H:%M', at, '+90 minutes') AS v FROM t",
    "strftime_week": "SELECT id, strftime('%W', at) AS v FROM t",
    "date_text": "SELECT id, date(created) AS v FROM t",
    "date_start_of_month": "SELECT id, date(at, 'start of month') AS v FROM t",
    "date_of_date_column": "SELECT id, date(day, '+1 day') AS v FROM t",
    "datetime_text": "SELECT id, datetime(created, '-2 hours') AS v FROM t",
    "datetime_literal": "SELECT id, datetime('1997-01-01') AS v, date('2024-02-30') AS w FROM t",
    "datetime_unixepoch": "SELECT id, datetime(paid_at, 'unixepoch') AS v FROM t",
    "time_text": "SELECT id, time(created) AS v FROM t",
    "julianday_text": "SELECT id, julianday(created) AS v FROM t",
    "julianday_converted": "SELECT id, julianday(at) - julianday('2024-01-01') AS v FROM t",
    "julianday_cast": "SELECT id, CAST(julianday(day) - julianday('2024-01-01') AS INTEGER) AS v FROM t",
    "unixepoch_converted": "SELECT id, unixepoch(at) AS v FROM t",
    "compare_converted_time": "SELECT id FROM t WHERE at BETWEEN DATETIME('2024-01-01') AND DATETIME('2024-03-10')",
    "compare_text_time": "SELECT id FROM t WHERE created > DATETIME('2024-01-01')",
    "compare_unix_seconds": "SELECT id FROM t WHERE paid_at > 1709251198",
    "iif": "SELECT id, iif(qty > 2, 'many', 'few') AS v FROM t",
    "instr": "SELECT id, instr(name, 'a') AS v, instr(code, '') AS w FROM t",
    "ifnull": "SELECT id, ifnull(code, '-') AS v, ifnull(price, qty) AS w FROM t",
    "group_concat": "SELECT flag, group_concat(name) AS v, group_concat(qty, ';') AS w FROM t GROUP BY flag",
    "substr": "SELECT id, substr(name, 2, 3) AS v, substr(name, -3) AS w, substr(name, -5, 2) AS x, "
              "substr(name, 0, 2) AS y FROM t",
    "concat_integer": "SELECT id, qty || 'x' AS v, 'n=' || (qty * 3) AS w FROM t",
    "concat_real": "SELECT id, price || '' AS v, (qty / 4.0) || '' AS w FROM t",
    "concat_decimal": "SELECT id, amount || ' EUR' AS v FROM t",
    "integer_division": "SELECT id, qty / 2 AS v, -qty / 2 AS w, qty / 0 AS x FROM t",
    "real_division": "SELECT id, qty / 4.0 AS v, qty / price AS w, price / 2 AS x FROM t",
    "decimal_division": "SELECT id, amount / 2 AS v, amount / qty AS w FROM t",
    "like_ascii_case": "SELECT id, name LIKE 'b%' AS v, name NOT LIKE '%N%' AS w FROM t",
    "like_beyond_ascii": "SELECT id, name LIKE 'é%' AS v, name LIKE '_lan' AS w FROM t",
    "like_wildcards_in_data": "SELECT id FROM t WHERE name LIKE 'O''brien!%' ESCAPE '!'",
    "text_equals_number": "SELECT id FROM t WHERE flag = 0",
    "text_not_number": "SELECT id FROM t WHERE flag <> 1",
    "text_in_numbers": "SELECT id FROM t WHERE flag IN (1, 2) AND code <> -4",
    "text_ordered_with_number": "SELECT id FROM t WHERE flag >= 1",
    "integer_equals_text": "SELECT id FROM t WHERE qty = '3' OR qty > '6'",
    "real_equals_text": "SELECT id FROM t WHERE price = '10.5'",
    "text_plus_number": "SELECT id, code + 1 AS v, name + ' ' + code AS w, code * 2 AS x FROM t",
    "text_ordered_by_bytes": "SELECT id FROM t WHERE name < 'a'",
    "max_text": "SELECT max(name) AS v, min(name) AS w FROM t",
    # Postgres' sum(bigint) is numeric: without a cast back, sum(qty) / 1000 gave 0.014 where SQLite gives 0
    "sum_integer_division": "SELECT flag, sum(qty) / 2 AS v, sum(qty) / 1000 AS w, sum(qty) % 3 AS x, "
                            "-sum(qty) / 4 AS y, sum(DISTINCT qty) / 2 AS z FROM t GROUP BY flag",
    "sum_integer_then_real": "SELECT flag, sum(qty) * 1.5 AS v, sum(qty) / 4.0 AS w, max(qty) / 2 AS x FROM t GROUP BY flag",
}


@pytest.fixture(scope="module")
def semantics(tmp_path_factory, server_url):
    """One SQLite file holding every view of EXPRESSIONS, migrated once by the runbook's steps into a
    database of its own: (SQLite path, Postgres URL, plan, params)."""
    home = tmp_path_factory.mktemp("semantics")
    views = "".join(f'CREATE VIEW "{name}" AS {body};\n' for name, body in EXPRESSIONS.items())
    db = make_sqlite(home / "semantics.db", SEMANTICS + views, {"t": SEMANTIC_ROWS})
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = f"{server_url.rpartition('/')[0]}/{name}"
    params = Params.from_mapping({"sqlite_path": str(db), "database_url": url, "run_dir": str(home / "run"),
                                  "env_file": ""})
    try:
        yield db, url, migrate(params), params
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_semantics_fixture_converts_the_time_columns(semantics):
    _, _, the_plan, _ = semantics
    t = the_plan.table("t")
    assert [(c.target, c.pg_type, c.convert) for c in t.columns if c.convert != "none"] == [
        ("at", "timestamptz", "iso_text"), ("day", "date", "iso_text"), ("paid_at", "timestamptz", "unix_seconds")]
    assert t.column("flag").pg_type == "text" and t.column("amount").pg_type == "numeric"


@pytest.mark.parametrize("view", list(EXPRESSIONS))
def test_view_gives_what_sqlite_gives(semantics, view):
    db, url, the_plan, params = semantics
    planned = next(v for v in the_plan.views if v.source == view)
    assert planned.sql is not None, planned.reason
    want = sqlite_rows(db, view)
    got = postgres_rows(url, view)
    assert plain(got) == plain(want) and want
    assert [(c.view, c.passed) for c in verify_views(_only(the_plan, view), resolve_target(params), params, db)] == [
        (view, True)]


def _only(the_plan, view: str):
    """The plan with one view, for verifying it alone."""
    from copy import copy

    one = copy(the_plan)
    one.views = [v for v in the_plan.views if v.source == view]
    return one


def test_a_time_sqlite_might_read_otherwise_stops_the_query(semantics):
    """Text SQLite may read as a time another way than Postgres (here 2024-02-30, which SQLite 3.40
    keeps as it is) makes the view fail, loudly, never return another time."""
    db, url, the_plan, _ = semantics
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE t SET created = '2024-02-30 10:00:00' WHERE id = 1")
        with pytest.raises(psycopg.errors.DatetimeFieldOverflow):
            conn.execute('SELECT * FROM "date_text"').fetchall()
        conn.rollback()
        conn.execute("UPDATE t SET created = '2460310.5' WHERE id = 1")  # a Julian day number, for SQLite
        with pytest.raises(psycopg.errors.InvalidDatetimeFormat, match="sqlite2neon"):
            conn.execute('SELECT * FROM "date_text"').fetchall()
        conn.rollback()


def test_canonical_values_make_equal_what_is_equal_across_engines():
    assert canonical_cell(1) == canonical_cell(Decimal("1.0")) == canonical_cell(1.0) == canonical_cell(True)
    assert canonical_cell(0) == canonical_cell(False) == canonical_cell(-0.0) == canonical_cell(Decimal("0.00"))
    assert canonical_cell(10.5) == canonical_cell(Decimal("10.50"))
    assert canonical_cell(0.1 + 0.2) != canonical_cell(Decimal("0.3"))  # the shortest digits of the double
    assert canonical_cell("1") != canonical_cell(1) and canonical_cell(None) != canonical_cell("")
    assert canonical_cell(b"\x00\xff").form == "x00ff" and canonical_cell(memoryview(b"\x01")).form == "x01"


# --- a database shaped like the well-known sample: 13 tables, 16 views ----------------------------------------

NORTHWIND = """
CREATE TABLE [Categories] ([CategoryID] INTEGER PRIMARY KEY AUTOINCREMENT, [CategoryName] TEXT, [Description] TEXT,
  [Picture] BLOB);
CREATE TABLE [CustomerCustomerDemo] ([CustomerID] TEXT NOT NULL, [CustomerTypeID] TEXT NOT NULL,
  PRIMARY KEY ("CustomerID", "CustomerTypeID"));
CREATE TABLE [CustomerDemographics] ([CustomerTypeID] TEXT NOT NULL, [CustomerDesc] TEXT, PRIMARY KEY ("CustomerTypeID"));
CREATE TABLE [Customers] ([CustomerID] TEXT, [CompanyName] TEXT, [ContactName] TEXT, [ContactTitle] TEXT,
  [Address] TEXT, [City] TEXT, [Region] TEXT, [PostalCode] TEXT, [Country] TEXT, [Phone] TEXT, [Fax] TEXT,
  PRIMARY KEY (`CustomerID`));
CREATE TABLE [Employees] ([EmployeeID] INTEGER PRIMARY KEY AUTOINCREMENT, [LastName] TEXT, [FirstName] TEXT,
  [Title] TEXT, [TitleOfCourtesy] TEXT, [BirthDate] DATE, [HireDate] DATE, [City] TEXT, [Country] TEXT,
  [Notes] TEXT, [ReportsTo] INTEGER, FOREIGN KEY ([ReportsTo]) REFERENCES [Employees] ([EmployeeID]));
CREATE TABLE [EmployeeTerritories] ([EmployeeID] INTEGER NOT NULL, [TerritoryID] TEXT NOT NULL,
  PRIMARY KEY ("EmployeeID", "TerritoryID"), FOREIGN KEY ([EmployeeID]) REFERENCES [Employees] ([EmployeeID]),
  FOREIGN KEY ([TerritoryID]) REFERENCES [Territories] ([TerritoryID]));
CREATE TABLE [Order Details] ([OrderID] INTEGER NOT NULL, [ProductID] INTEGER NOT NULL,
  [UnitPrice] NUMERIC NOT NULL DEFAULT 0, [Quantity] INTEGER NOT NULL DEFAULT 1, [Discount] REAL NOT NULL DEFAULT 0,
  PRIMARY KEY ("OrderID", "ProductID"), CHECK ([Discount] >= (0) AND [Discount] <= (1)), CHECK ([Quantity] > (0)),
  FOREIGN KEY ([OrderID]) REFERENCES [Orders] ([OrderID]), FOREIGN KEY ([ProductID]) REFERENCES [Products] ([ProductID]));
CREATE TABLE [Orders] ([OrderID] INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, [CustomerID] TEXT, [EmployeeID] INTEGER,
  [OrderDate] DATETIME, [RequiredDate] DATETIME, [ShippedDate] DATETIME, [ShipVia] INTEGER, [Freight] NUMERIC DEFAULT 0,
  [ShipName] TEXT, [ShipAddress] TEXT, [ShipCity] TEXT, [ShipRegion] TEXT, [ShipPostalCode] TEXT, [ShipCountry] TEXT,
  FOREIGN KEY ([EmployeeID]) REFERENCES [Employees] ([EmployeeID]),
  FOREIGN KEY ([CustomerID]) REFERENCES [Customers] ([CustomerID]),
  FOREIGN KEY ([ShipVia]) REFERENCES [Shippers] ([ShipperID]));
CREATE TABLE [Products] ([ProductID] INTEGER PRIMARY KEY AUTOINCREMENT, [ProductName] TEXT NOT NULL,
  [SupplierID] INTEGER, [CategoryID] INTEGER, [QuantityPerUnit] TEXT, [UnitPrice] NUMERIC DEFAULT 0,
  [UnitsInStock] INTEGER DEFAULT 0, [UnitsOnOrder] INTEGER DEFAULT 0, [ReorderLevel] INTEGER DEFAULT 0,
  [Discontinued] TEXT NOT NULL DEFAULT '0',
  FOREIGN KEY ([CategoryID]) REFERENCES [Categories] ([CategoryID]),
  FOREIGN KEY ([SupplierID]) REFERENCES [Suppliers] ([SupplierID]));
CREATE TABLE [Regions] ([RegionID] INTEGER NOT NULL PRIMARY KEY, [RegionDescription] TEXT NOT NULL);
CREATE TABLE [Shippers] ([ShipperID] INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, [CompanyName] TEXT NOT NULL,
  [Phone] TEXT);
CREATE TABLE [Suppliers] ([SupplierID] INTEGER PRIMARY KEY AUTOINCREMENT, [CompanyName] TEXT NOT NULL,
  [ContactName] TEXT, [ContactTitle] TEXT, [Address] TEXT, [City] TEXT, [Region] TEXT, [PostalCode] TEXT,
  [Country] TEXT, [Phone] TEXT, [Fax] TEXT, [HomePage] TEXT);
CREATE TABLE [Territories] ([TerritoryID] TEXT NOT NULL, [TerritoryDescription] TEXT NOT NULL,
  [RegionID] INTEGER NOT NULL, PRIMARY KEY ("TerritoryID"),
  FOREIGN KEY ([RegionID]) REFERENCES [Regions] ([RegionID]));

CREATE VIEW [Category Sales for 1997] AS
SELECT [Product Sales for 1997].CategoryName, Sum([Product Sales for 1997].ProductSales) AS CategorySales
FROM [Product Sales for 1997]
GROUP BY [Product Sales for 1997].CategoryName;
CREATE VIEW [Alphabetical list of products] AS
SELECT Products.*, Categories.CategoryName
FROM Categories INNER JOIN Products ON Categories.CategoryID = Products.CategoryID
WHERE (((Products.Discontinued)=0));
CREATE VIEW [Current Product List] AS
SELECT ProductID, ProductName FROM Products WHERE Discontinued=0;
CREATE VIEW [Customer and Suppliers by City] AS
SELECT City, CompanyName, ContactName, 'Customers' AS Relationship FROM Customers
UNION
SELECT City, CompanyName, ContactName, 'Suppliers' FROM Suppliers
ORDER BY City, CompanyName;
CREATE VIEW [Invoices] AS
SELECT Orders.ShipName, Orders.ShipAddress, Orders.ShipCity, Orders.ShipRegion, Orders.ShipPostalCode,
  Orders.ShipCountry, Orders.CustomerID, Customers.CompanyName AS CustomerName, Customers.Address, Customers.City,
  Customers.Region, Customers.PostalCode, Customers.Country,
  (Employees.FirstName + ' ' + Employees.LastName) AS Salesperson,
  Orders.OrderID, Orders.OrderDate, Orders.RequiredDate, Orders.ShippedDate, Shippers.CompanyName As ShipperName,
  [Order Details].ProductID, Products.ProductName, [Order Details].UnitPrice, [Order Details].Quantity,
  [Order Details].Discount,
  ((([Order Details].UnitPrice*Quantity*(1-Discount))/100)*100) AS ExtendedPrice, Orders.Freight
FROM Customers
  JOIN Orders ON Customers.CustomerID = Orders.CustomerID
  JOIN Employees ON Employees.EmployeeID = Orders.EmployeeID
  JOIN [Order Details] ON Orders.OrderID = [Order Details].OrderID
  JOIN Products ON Products.ProductID = [Order Details].ProductID
  JOIN Shippers ON Shippers.ShipperID = Orders.ShipVia;
CREATE VIEW [Orders Qry] AS
SELECT Orders.OrderID, Orders.CustomerID, Orders.EmployeeID, Orders.OrderDate, Orders.RequiredDate,
  Orders.ShippedDate, Orders.ShipVia, Orders.Freight, Orders.ShipName, Orders.ShipAddress, Orders.ShipCity,
  Orders.ShipRegion, Orders.ShipPostalCode, Orders.ShipCountry, Customers.CompanyName, Customers.Address,
  Customers.City, Customers.Region, Customers.PostalCode, Customers.Country
FROM Customers JOIN Orders ON Customers.CustomerID = Orders.CustomerID;
CREATE VIEW [Order Subtotals] AS
SELECT [Order Details].OrderID, Sum(([Order Details].UnitPrice*Quantity*(1-Discount)/100)*100) AS Subtotal
FROM [Order Details]
GROUP BY [Order Details].OrderID;
CREATE VIEW [Product Sales for 1997] AS
SELECT Categories.CategoryName, Products.ProductName,
  Sum(([Order Details].UnitPrice*Quantity*(1-Discount)/100)*100) AS ProductSales
FROM Categories
  JOIN Products On Categories.CategoryID = Products.CategoryID
  JOIN [Order Details] on Products.ProductID = [Order Details].ProductID
  JOIN [Orders] on Orders.OrderID = [Order Details].OrderID
WHERE Orders.ShippedDate Between DATETIME('1997-01-01') And DATETIME('1997-12-31')
GROUP BY Categories.CategoryName, Products.ProductName;
CREATE VIEW [Products Above Average Price] AS
SELECT Products.ProductName, Products.UnitPrice FROM Products
WHERE Products.UnitPrice > (SELECT AVG(UnitPrice) From Products);
CREATE VIEW [Products by Category] AS
SELECT Categories.CategoryName, Products.ProductName, Products.QuantityPerUnit, Products.UnitsInStock,
  Products.Discontinued
FROM Categories INNER JOIN Products ON Categories.CategoryID = Products.CategoryID
WHERE Products.Discontinued <> 1;
CREATE VIEW [Quarterly Orders] AS
SELECT DISTINCT Customers.CustomerID, Customers.CompanyName, Customers.City, Customers.Country
FROM Customers JOIN Orders ON Customers.CustomerID = Orders.CustomerID
WHERE Orders.OrderDate BETWEEN DATETIME('1997-01-01') And DATETIME('1997-12-31');
CREATE VIEW [Sales Totals by Amount] AS
SELECT [Order Subtotals].Subtotal AS SaleAmount, Orders.OrderID, Customers.CompanyName, Orders.ShippedDate
FROM Customers
  JOIN Orders ON Customers.CustomerID = Orders.CustomerID
  JOIN [Order Subtotals] ON Orders.OrderID = [Order Subtotals].OrderID
WHERE ([Order Subtotals].Subtotal > 2500)
  AND (Orders.ShippedDate BETWEEN DATETIME('1997-01-01') And DATETIME('1997-12-31'));
CREATE VIEW [Summary of Sales by Quarter] AS
SELECT Orders.ShippedDate, Orders.OrderID, [Order Subtotals].Subtotal
FROM Orders INNER JOIN [Order Subtotals] ON Orders.OrderID = [Order Subtotals].OrderID
WHERE Orders.ShippedDate IS NOT NULL;
CREATE VIEW [Summary of Sales by Year] AS
SELECT Orders.ShippedDate, Orders.OrderID, [Order Subtotals].Subtotal
FROM Orders INNER JOIN [Order Subtotals] ON Orders.OrderID = [Order Subtotals].OrderID
WHERE Orders.ShippedDate IS NOT NULL;
CREATE VIEW [Order Details Extended] AS
SELECT [Order Details].OrderID, [Order Details].ProductID, Products.ProductName, [Order Details].UnitPrice,
  [Order Details].Quantity, [Order Details].Discount,
  ([Order Details].UnitPrice*Quantity*(1-Discount)/100)*100 AS ExtendedPrice
FROM Products JOIN [Order Details] ON Products.ProductID = [Order Details].ProductID;
CREATE VIEW [Sales by Category] AS
SELECT Categories.CategoryID, Categories.CategoryName, Products.ProductName,
  Sum([Order Details Extended].ExtendedPrice) AS ProductSales
FROM Categories
  JOIN Products ON Categories.CategoryID = Products.CategoryID
  JOIN [Order Details Extended] ON Products.ProductID = [Order Details Extended].ProductID
GROUP BY Categories.CategoryID, Categories.CategoryName, Products.ProductName;
"""

WORDS = ["Chai", "Chang", "Aniseed", "Cajun", "Gumbo", "Boysenberry", "Uncle", "Organic", "Northwoods", "Mishi",
         "Kobe", "Queso", "Konbu", "Tofu", "Genen", "Pavlova", "Alice", "Carnarvon", "Teatime", "Sir", "Gustaf",
         "Tunnbröd", "Guaraná", "Sasquatch", "Steeleye", "Côte", "Chartreuse", "Ipoh", "Gula", "Röd", "Mozzarella"]
CITIES = ["Berlin", "México D.F.", "London", "Luleå", "Mannheim", "Strasbourg", "Madrid", "Marseille", "Tsawassen",
          "Buenos Aires", "Bern", "São Paulo", "Aachen", "Nantes", "Graz", "Lyon", "Reggio Emilia", "Oulu"]
COUNTRIES = ["Germany", "Mexico", "UK", "Sweden", "France", "Spain", "Canada", "Argentina", "Switzerland",
             "Brazil", "Austria", "Italy", "Finland", "USA"]


def northwind_shaped(path: Path) -> Path:
    """13 tables and 16 views in the shape of the well-known Northwind sample for SQLite (its views
    verbatim: views over views, created before the views they read; DATETIME('1997-01-01') on literals;
    TEXT '0'/'1' flags compared with 0 and 1; text + text; two empty tables), with invented rows
    (`random.Random` with a fixed seed: the same file every time)."""
    rng = random.Random(1997)
    words = lambda n: " ".join(rng.choice(WORDS) for _ in range(n))  # noqa: E731
    rows: dict[str, list[tuple]] = {}
    rows["Categories"] = [(i, name, words(4).lower(), bytes(rng.randrange(256) for _ in range(64)))
                          for i, name in enumerate(["Beverages", "Condiments", "Confections", "Dairy Products",
                                                    "Grains/Cereals", "Meat/Poultry", "Produce", "Seafood"], 1)]
    rows["Regions"] = [(1, "Eastern"), (2, "Western"), (3, "Northern"), (4, "Southern")]
    rows["Territories"] = [(f"{10000 + i * 37:05d}", f"{rng.choice(CITIES)} {i}", rng.randint(1, 4)) for i in range(53)]
    rows["Shippers"] = [(1, "Speedy Express", "(503) 555-9831"), (2, "United Package", "(503) 555-3199"),
                        (3, "Federal Shipping", None)]
    rows["Suppliers"] = [(i, f"{words(2)} {rng.choice(['Ltd.', 'AB', 'GmbH', 'S.A.'])}", words(2), "Sales Manager",
                          f"{rng.randint(1, 999)} {words(1)} St.", rng.choice(CITIES), None if i % 3 else "EU",
                          f"{rng.randint(1000, 99999)}", rng.choice(COUNTRIES), "(1) 555-0000", None,
                          None if i % 4 else f"#http://example.com/{i}#") for i in range(1, 30)]
    codes = []
    while len(codes) < 91:
        code = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(5))
        codes.append(code) if code not in codes else None
    rows["Customers"] = [(code, f"{words(2)} {rng.choice(['Trading', 'Markt', 'Comidas', 'Delikatessen'])}",
                          words(2), rng.choice(["Owner", "Sales Agent", "Accounting Manager"]),
                          f"{words(1)}str. {rng.randint(1, 99)}", rng.choice(CITIES), None if n % 4 else "BC",
                          f"{rng.randint(1000, 99999)}", rng.choice(COUNTRIES), "030-0074321", None)
                         for n, code in enumerate(codes)]
    employees = []
    for i in range(1, 10):
        born = datetime(1937, 9, 19) + timedelta(days=rng.randint(0, 12000))
        hired = datetime(1992, 4, 1) + timedelta(days=rng.randint(0, 900))
        employees.append((i, rng.choice(["Davolio", "Fuller", "Leverling", "Peacock", "Buchanan", "Suyama"]),
                          rng.choice(["Nancy", "Andrew", "Janet", "Margaret", "Steven", "Michael"]),
                          "Sales Representative", rng.choice(["Ms.", "Dr.", "Mr."]), born.strftime("%Y-%m-%d"),
                          hired.strftime("%Y-%m-%d"), rng.choice(CITIES), rng.choice(["USA", "UK"]),
                          words(6), None if i == 2 else 2))
    rows["Employees"] = employees
    rows["EmployeeTerritories"] = sorted({(rng.randint(1, 9), t[0]) for t in rng.sample(rows["Territories"], 49)})
    products = []
    for i in range(1, 78):
        price = rng.choice([18, 19, 10, 22, 21.35, 25, 30, 40, 97, 31, 21, 38, 6, 23.25, 15.5, 17.45, 39, 62.5,
                            9.2, 81, 10, 21, 14.4, 2.5, 7.75])
        products.append((i, f"{words(2)} {i}", rng.randint(1, 29), rng.randint(1, 8),
                         f"{rng.randint(1, 48)} boxes x {rng.choice([20, 50, 500])} g", price, rng.randint(0, 125),
                         rng.choice([0, 0, 10, 40]), rng.choice([0, 5, 10, 25]), "1" if i % 9 == 0 else "0"))
    rows["Products"] = products
    orders, details = [], []
    for n in range(830):
        ordered = datetime(1996, 7, 4) + timedelta(days=n * 22 // 30)
        shipped = None if n % 40 == 7 else ordered + timedelta(days=rng.randint(1, 35))
        orders.append((10248 + n, rng.choice(codes), rng.randint(1, 9), ordered.strftime("%Y-%m-%d %H:%M:%S"),
                       (ordered + timedelta(days=28)).strftime("%Y-%m-%d %H:%M:%S"),
                       shipped.strftime("%Y-%m-%d %H:%M:%S") if shipped else None, rng.randint(1, 3),
                       rng.choice([32.38, 11.61, 65.83, 41.34, 51.3, 58.17, 22.98, 148.33, 13.97, 81.91, 140.51, 3.25,
                                   55.09, 3.05, 48.29, 146.06, 3.67, 55.28, 25.73, 208.58, 66.29, 4, 136.54]),
                       f"{words(2)} Ship", f"{words(1)} {rng.randint(1, 300)}", rng.choice(CITIES),
                       None if n % 3 else "RJ", f"{rng.randint(1000, 99999)}", rng.choice(COUNTRIES)))
        for product in rng.sample(range(1, 78), rng.randint(1, 5)):
            details.append((10248 + n, product, products[product - 1][5], rng.randint(1, 130),
                            rng.choice([0.0, 0.0, 0.0, 0.05, 0.1, 0.15, 0.2, 0.25])))
    rows["Orders"] = orders
    rows["Order Details"] = details
    return make_sqlite(path, NORTHWIND, rows)


def test_northwind_shaped_every_view_is_created_and_verified(tmp_path, params_for, pg_url):
    db = northwind_shaped(tmp_path / "northwind.db")
    params = params_for(db)
    the_plan = migrate(params)
    assert len(the_plan.tables) == 13 and len(the_plan.views) == 16
    assert [(x.item, x.reason) for x in the_plan.losses] == []
    assert {t.source: t.rows for t in the_plan.tables if not t.rows} == {"CustomerCustomerDemo": 0,
                                                                          "CustomerDemographics": 0}
    order = [v.source for v, _ in the_plan.view_ddl()]
    assert len(order) == 16
    for later, earlier in [("Category Sales for 1997", "Product Sales for 1997"),
                           ("Sales by Category", "Order Details Extended"),
                           ("Sales Totals by Amount", "Order Subtotals"),
                           ("Summary of Sales by Quarter", "Order Subtotals")]:
        assert order.index(earlier) < order.index(later)
    assert json.loads((Path(params.run_dir) / "load.json").read_text())["not_created"] == []
    checks = verify_views(the_plan, resolve_target(params), params, db)
    assert [c.describe() for c in checks if not c.passed] == []
    rows = {c.view: c.source_rows for c in checks}
    assert rows["Invoices"] == len(sqlite_rows(db, "Invoices")) > 2000
    assert rows["Product Sales for 1997"] > 50 and rows["Quarterly Orders"] > 50
    assert rows["Current Product List"] == 69  # every product but the 8 discontinued ('1')
    assert plain(postgres_rows(pg_url, "category sales for 1997")) == plain(sqlite_rows(db, "Category Sales for 1997"))
    assert {r[13] for r in sqlite_rows(db, "Invoices")} == {0}  # FirstName + ' ' + LastName is 0 in SQLite


def test_views_name_their_tables_in_the_target_schema(tmp_path, params_for, pg_url):
    """The load's connection does not have the target schema on its search_path: a view naming its
    tables without the schema would not be created (or would read another schema's table)."""
    db = make_sqlite(tmp_path / "chain.db", CHAIN, {"items": [(i, f"item {i}", i * 3) for i in range(1, 9)]})
    params = params_for(db, target_schema="shop")
    the_plan = migrate(params)
    assert '"shop"."doubled"' in next(v.sql for v in the_plan.views if v.source == "doubled_big")
    assert [c.passed for c in verify_views(the_plan, resolve_target(params), params, db)] == [True, True, True]
    with psycopg.connect(pg_url) as conn:
        assert conn.execute('SELECT count(*) FROM shop.top3').fetchone() == (3,)


@pytest.mark.slow
def test_the_sample_database_through_the_cli_then_a_wrong_view_fails_verify(project, tmp_path, pg_url, pg):
    """The 13-table, 16-view sample shape migrates with every view created and verified (exit 0); a
    view then replaced by a wrong definition makes `sqlite2neon verify` fail, naming it."""
    db = northwind_shaped(tmp_path / "northwind.db")
    args = ["-f", "params/demo.yaml", "-p", "sqlite_path", str(db), "-p", "database_url", pg_url]

    migrated = run_cli("run", *args)

    assert migrated.exit_code == 0, migrated.stdout + migrated.stderr
    verified = json.loads((record_of(migrated) / "verify.json").read_text())
    assert len(verified["views"]) == 16 and all(v["passed"] for v in verified["views"])
    summary = json.loads((record_of(migrated) / "summary.json").read_text())
    assert summary["losses"] == [] and len(summary["tables"]) == 13
    pg.execute('CREATE OR REPLACE VIEW "current product list" AS SELECT "productid", "productname" FROM "products"')

    again = run_cli("verify", *args)

    assert again.exit_code == 1
    first = first_error_line(again.stderr)
    assert "04_verify failed" in first and "view Current Product List" in first, first


def test_rounding_pairs_only_what_summation_order_explains():
    """Verification pairs a SQLite row with a Postgres row differing by the last bits of a sum (a
    thousand reals added in two orders, a decimal sum against the double one) in a view that sums, and
    never a changed value: the fraction of an epoch-sized number (1700000060.5 against 1700000061,
    5100000001.5 against 5100000002) is a difference, where a relative 1e-9 let up to ~1.7 s pass; a
    view that does not sum is allowed a few ulps only (a quarter millisecond on 1.7e12 differs)."""
    from types import SimpleNamespace

    from sqlite2neon.plan import ViewPlan
    from sqlite2neon.views import ROUNDING, SUMMED_ROUNDING, _pair_rounded, _tolerance

    rng = random.Random(3)
    values = [rng.uniform(0, 1e9) for _ in range(1000)]
    row = lambda *cells: tuple(canonical_cell(c) for c in cells)  # noqa: E731
    summed = [row("s", sum(values)), row("p", float(sum(Decimal(repr(v)) for v in values)))]
    reordered = [row("s", sum(sorted(values))), row("p", sum(values))]
    assert summed != reordered
    assert _pair_rounded(summed, reordered, SUMMED_ROUNDING) == ([], [], 2)

    changed_left = [row(1, 1700000060.5), row("s", 5100000001.5)]
    changed_right = [row(1, 1700000061), row("s", 5100000002.0)]
    assert _pair_rounded(changed_left, changed_right, SUMMED_ROUNDING)[2] == 0
    assert _pair_rounded([row(1, 1700000000123.25)], [row(1, 1700000000123.0)], ROUNDING)[2] == 0
    assert _pair_rounded([row(1, 0.1 * 3)], [row(1, Decimal("0.3"))], ROUNDING)[2] == 1

    views = [ViewPlan("totals", "totals", "SELECT Sum(x) AS s FROM t", "SELECT SUM(x) AS s FROM t"),
             ViewPlan("on_totals", "on_totals", "SELECT s + 1 FROM totals", "SELECT s + 1 FROM totals", reads=["totals"]),
             ViewPlan("plain", "plain", "SELECT x + 1 AS total FROM t", "SELECT x + 1 AS total FROM t")]
    the_plan = SimpleNamespace(views=views)  # all _tolerance reads of a plan
    assert [_tolerance(v, the_plan) for v in views] == [SUMMED_ROUNDING, SUMMED_ROUNDING, ROUNDING]
