"""Realistic SQLite databases written by the tests themselves, with the `sqlite3` module.

Each function writes one database at `path` (replacing any file there) and returns the path. The
data is invented, deterministically (`random.Random` with a fixed seed): the same call writes the
same rows every time.

- `chinook_like`: a music store in the Chinook style (CamelCase names, NUMERIC(10,2) prices,
  DATETIME text, a composite key, a self-referencing foreign key, a view with a sum).
- `northwind_like`: table and column names with spaces and SQL keywords, a TEXT primary key, a
  BLOB column, ISO timestamps with 'T' and 'Z', a partial and a unique index, a view named with a space.
- `app_like`: a modern app: AUTOINCREMENT, unix milliseconds, 0/1 booleans, JSON, WITHOUT ROWID,
  a table without primary key, a generated column, CHECKs, DEFAULT CURRENT_TIMESTAMP, a trigger.
- `hostile`: every bad case at once (see its docstring).
- `colliding_names`: two tables whose names differ only in case.
"""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

UTC = timezone.utc

FIRST_NAMES = ["Ana", "Bjørn", "Chen", "Dmitri", "Élodie", "Fatima", "Giulia", "Hiro", "Ines", "Jamal",
               "Kasia", "Luis", "Mei", "Noah", "Olga", "Priya", "Quentin", "Rosa", "Sven", "Tariq",
               "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoë", "O'Brien", "François"]
LAST_NAMES = ["Almeida", "Brown", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Hansen", "Ivanova",
              "Jensen", "Kowalski", "López", "Müller", "Nakamura", "O'Connor", "Petrov", "Quinn", "Rossi",
              "Schmidt", "Tanaka", "Urban", "Vargas", "Wójcik", "Xu", "Yamamoto", "Zimmermann"]
COUNTRIES = ["Brazil", "Canada", "Czech Republic", "France", "Germany", "India", "Japan", "Norway",
             "Poland", "Portugal", "Spain", "USA", "United Kingdom"]
CITIES = ["São Paulo", "Toronto", "Praha", "Paris", "Berlin", "Bangalore", "Tokyo", "Oslo", "Warszawa",
          "Lisboa", "Madrid", "Boston", "London"]
WORDS = ["Black", "Blue", "Night", "Electric", "Silent", "Golden", "Velvet", "Iron", "Paper", "Glass",
         "River", "Storm", "Garden", "Machine", "Echo", "Neon", "Ghost", "Summer", "Winter", "Fire"]


def _fresh(path) -> sqlite3.Connection:
    path = Path(path)
    path.unlink(missing_ok=True)
    return sqlite3.connect(path)


def _dt_text(moment: datetime, sep: str = " ") -> str:
    return moment.strftime(f"%Y-%m-%d{sep}%H:%M:%S")


def _title(rng: random.Random, words: int = 2) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


# --- Chinook ------------------------------------------------------------------------------------

CHINOOK_SCHEMA = """
CREATE TABLE Artist (
    ArtistId INTEGER PRIMARY KEY,
    Name NVARCHAR(120)
);
CREATE TABLE Album (
    AlbumId INTEGER PRIMARY KEY,
    Title NVARCHAR(160) NOT NULL,
    ArtistId INTEGER NOT NULL REFERENCES Artist (ArtistId)
);
CREATE TABLE MediaType (
    MediaTypeId INTEGER PRIMARY KEY,
    Name NVARCHAR(120),
    UNIQUE (Name)
);
CREATE TABLE Genre (
    GenreId INTEGER PRIMARY KEY,
    Name NVARCHAR(120)
);
CREATE TABLE Track (
    TrackId INTEGER PRIMARY KEY,
    Name NVARCHAR(200) NOT NULL,
    AlbumId INTEGER REFERENCES Album (AlbumId),
    MediaTypeId INTEGER NOT NULL REFERENCES MediaType (MediaTypeId),
    GenreId INTEGER REFERENCES Genre (GenreId),
    Composer NVARCHAR(220),
    Milliseconds INTEGER NOT NULL,
    Bytes INTEGER,
    UnitPrice NUMERIC(10,2) NOT NULL
);
CREATE TABLE Playlist (
    PlaylistId INTEGER PRIMARY KEY,
    Name NVARCHAR(120)
);
CREATE TABLE PlaylistTrack (
    PlaylistId INTEGER NOT NULL REFERENCES Playlist (PlaylistId),
    TrackId INTEGER NOT NULL REFERENCES Track (TrackId),
    CONSTRAINT PK_PlaylistTrack PRIMARY KEY (PlaylistId, TrackId)
);
CREATE TABLE Employee (
    EmployeeId INTEGER PRIMARY KEY,
    LastName NVARCHAR(20) NOT NULL,
    FirstName NVARCHAR(20) NOT NULL,
    Title NVARCHAR(30),
    ReportsTo INTEGER REFERENCES Employee (EmployeeId),
    BirthDate DATETIME,
    HireDate DATETIME,
    City NVARCHAR(40),
    Country NVARCHAR(40),
    Email NVARCHAR(60)
);
CREATE TABLE Customer (
    CustomerId INTEGER PRIMARY KEY,
    FirstName NVARCHAR(40) NOT NULL,
    LastName NVARCHAR(20) NOT NULL,
    Company NVARCHAR(80),
    City NVARCHAR(40),
    State NVARCHAR(40),
    Country NVARCHAR(40),
    PostalCode NVARCHAR(10),
    Phone NVARCHAR(24),
    Email NVARCHAR(60) NOT NULL UNIQUE,
    SupportRepId INTEGER REFERENCES Employee (EmployeeId)
);
CREATE TABLE Invoice (
    InvoiceId INTEGER PRIMARY KEY,
    CustomerId INTEGER NOT NULL REFERENCES Customer (CustomerId),
    InvoiceDate DATETIME NOT NULL,
    BillingCity NVARCHAR(40),
    BillingCountry NVARCHAR(40),
    BillingPostalCode NVARCHAR(10),
    Total NUMERIC(10,2) NOT NULL
);
CREATE TABLE InvoiceLine (
    InvoiceLineId INTEGER PRIMARY KEY,
    InvoiceId INTEGER NOT NULL REFERENCES Invoice (InvoiceId),
    TrackId INTEGER NOT NULL REFERENCES Track (TrackId),
    UnitPrice NUMERIC(10,2) NOT NULL,
    Quantity INTEGER NOT NULL
);
CREATE INDEX IFK_AlbumArtistId ON Album (ArtistId);
CREATE INDEX IFK_TrackAlbumId ON Track (AlbumId);
CREATE INDEX IFK_TrackGenreId ON Track (GenreId);
CREATE INDEX IFK_TrackMediaTypeId ON Track (MediaTypeId);
CREATE INDEX IFK_PlaylistTrackTrackId ON PlaylistTrack (TrackId);
CREATE INDEX IFK_EmployeeReportsTo ON Employee (ReportsTo);
CREATE INDEX IFK_CustomerSupportRepId ON Customer (SupportRepId);
CREATE INDEX IFK_InvoiceCustomerId ON Invoice (CustomerId);
CREATE INDEX IFK_InvoiceLineInvoiceId ON InvoiceLine (InvoiceId);
CREATE INDEX IFK_InvoiceLineTrackId ON InvoiceLine (TrackId);
CREATE VIEW CustomerInvoiceTotals AS
    SELECT c.CustomerId, c.FirstName, c.LastName, c.Country,
           COUNT(i.InvoiceId) AS Invoices, SUM(i.Total) AS Spent
    FROM Customer c JOIN Invoice i ON i.CustomerId = c.CustomerId
    GROUP BY c.CustomerId, c.FirstName, c.LastName, c.Country;
"""


def chinook_like(path) -> Path:
    """A music store: 11 tables, a few hundred rows in most, every foreign key satisfied."""
    rng = random.Random(20240611)
    con = _fresh(path)
    try:
        con.executescript(CHINOOK_SCHEMA)
        artists = [(i, f"{_title(rng)} {rng.choice(['Band', 'Trio', 'Orchestra', 'Collective', ''])}".strip())
                   for i in range(1, 151)]
        artists[3] = (4, "AC/DC")
        artists[4] = (5, "Motörhead")
        artists[5] = (6, None)
        con.executemany("INSERT INTO Artist VALUES (?, ?)", artists)
        albums = [(i, _title(rng, rng.randint(1, 4)), rng.randint(1, 150)) for i in range(1, 251)]
        con.executemany("INSERT INTO Album VALUES (?, ?, ?)", albums)
        media = ["MPEG audio file", "Protected AAC audio file", "Protected MPEG-4 video file",
                 "Purchased AAC audio file", "AAC audio file"]
        con.executemany("INSERT INTO MediaType VALUES (?, ?)", list(enumerate(media, 1)))
        genres = ["Rock", "Jazz", "Metal", "Alternative & Punk", "Rock And Roll", "Blues", "Latin", "Reggae",
                  "Pop", "Soundtrack", "Bossa Nova", "Easy Listening", "Heavy Metal", "R&B/Soul",
                  "Electronica/Dance", "World", "Hip Hop/Rap", "Science Fiction", "TV Shows", "Sci Fi & Fantasy",
                  "Drama", "Comedy", "Alternative", "Classical", "Opera"]
        con.executemany("INSERT INTO Genre VALUES (?, ?)", list(enumerate(genres, 1)))
        prices = ["0.99", "1.99", "0.49", "1.29"]
        tracks = []
        for i in range(1, 601):
            tracks.append((
                i, _title(rng, rng.randint(1, 3)) + ("" if i % 37 else " (Live, \"Remastered\")"),
                None if i % 53 == 0 else rng.randint(1, 250), rng.randint(1, 5),
                None if i % 41 == 0 else rng.randint(1, 25),
                None if i % 3 == 0 else f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                rng.randint(60_000, 900_000), rng.randint(1_000_000, 30_000_000), rng.choice(prices),
            ))
        con.executemany("INSERT INTO Track VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", tracks)
        con.executemany("INSERT INTO Playlist VALUES (?, ?)",
                        [(i, f"{_title(rng)} Mix" if i != 7 else "Música Clássica") for i in range(1, 19)])
        pairs = set()
        while len(pairs) < 400:
            pairs.add((rng.randint(1, 18), rng.randint(1, 600)))
        con.executemany("INSERT INTO PlaylistTrack VALUES (?, ?)", sorted(pairs))
        employees = []
        titles = ["General Manager", "Sales Manager", "Sales Support Agent", "IT Manager", "IT Staff"]
        for i in range(1, 13):
            born = datetime(1947, 1, 1) + timedelta(days=rng.randint(0, 12_000))
            hired = datetime(2002, 1, 1) + timedelta(days=rng.randint(0, 2_000))
            employees.append((
                i, rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES), titles[i - 1] if i <= 2 else rng.choice(titles[2:]),
                None if i == 1 else rng.randint(1, i - 1), _dt_text(born), _dt_text(hired),
                rng.choice(CITIES), "Canada", f"employee{i}@chinookcorp.com",
            ))
        con.executemany("INSERT INTO Employee VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", employees)
        customers = []
        for i in range(1, 301):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            k = rng.randrange(len(CITIES))
            customers.append((
                i, first, last, None if i % 4 else f"{_title(rng)} Ltda.", CITIES[k],
                None if i % 5 else "SP", COUNTRIES[k], f"{rng.randint(10000, 99999)}",
                f"+{rng.randint(1, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                f"{first}.{last}.{i}@example.com".lower().replace("'", ""), rng.randint(3, 5),
            ))
        con.executemany("INSERT INTO Customer VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", customers)
        price_of = {t[0]: Decimal(t[8]) for t in tracks}
        invoices, lines = [], []
        line_id = 1
        for i in range(1, 401):
            customer = customers[rng.randrange(300)]
            when = datetime(2021, 1, 1) + timedelta(days=rng.randint(0, 1500), hours=rng.choice([0, 0, 0, 9, 17]))
            total = Decimal("0")
            for _ in range(rng.randint(1, 5)):
                track = rng.randint(1, 600)
                qty = rng.randint(1, 3)
                lines.append((line_id, i, track, str(price_of[track]), qty))
                total += price_of[track] * qty
                line_id += 1
            invoices.append((i, customer[0], _dt_text(when), customer[4], customer[6], customer[7], str(total)))
        invoices[0] = (1, invoices[0][1], "2021-01-01 00:00:00", *invoices[0][3:])
        con.executemany("INSERT INTO Invoice VALUES (?, ?, ?, ?, ?, ?, ?)", invoices)
        con.executemany("INSERT INTO InvoiceLine VALUES (?, ?, ?, ?, ?)", lines)
        con.commit()
    finally:
        con.close()
    return Path(path)


# --- Northwind ----------------------------------------------------------------------------------

NORTHWIND_SCHEMA = """
CREATE TABLE "Group" (
    "GroupID" INTEGER PRIMARY KEY,
    "Select" TEXT NOT NULL,
    "From" DATE,
    "Where" TEXT
);
CREATE TABLE "Categories" (
    "CategoryID" INTEGER PRIMARY KEY,
    "CategoryName" TEXT NOT NULL,
    "Description" TEXT,
    "Picture" BLOB
);
CREATE TABLE "Suppliers" (
    "SupplierID" INTEGER PRIMARY KEY,
    "CompanyName" TEXT NOT NULL,
    "Country" TEXT,
    "HomePage" TEXT
);
CREATE TABLE "Products" (
    "ProductID" INTEGER PRIMARY KEY,
    "ProductName" TEXT NOT NULL,
    "SupplierID" INTEGER REFERENCES "Suppliers" ("SupplierID"),
    "CategoryID" INTEGER REFERENCES "Categories" ("CategoryID"),
    "QuantityPerUnit" TEXT,
    "UnitPrice" DECIMAL(10,2) DEFAULT 0,
    "UnitsInStock" INTEGER DEFAULT 0,
    "Discontinued" INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE "Customers" (
    "CustomerID" TEXT PRIMARY KEY,
    "CompanyName" TEXT NOT NULL,
    "ContactName" TEXT,
    "Country" TEXT,
    "GroupID" INTEGER REFERENCES "Group" ("GroupID")
);
CREATE TABLE "Employees" (
    "EmployeeID" INTEGER PRIMARY KEY,
    "LastName" TEXT NOT NULL,
    "FirstName" TEXT NOT NULL,
    "Title" TEXT,
    "BirthDate" DATETIME,
    "HireDate" DATETIME,
    "ReportsTo" INTEGER REFERENCES "Employees" ("EmployeeID")
);
CREATE TABLE "Orders" (
    "OrderID" INTEGER PRIMARY KEY,
    "CustomerID" TEXT REFERENCES "Customers" ("CustomerID"),
    "EmployeeID" INTEGER REFERENCES "Employees" ("EmployeeID"),
    "OrderDate" DATETIME,
    "RequiredDate" DATE,
    "ShippedDate" DATETIME,
    "Freight" NUMERIC(10,2) DEFAULT 0,
    "ShipName" TEXT,
    "ShipCountry" TEXT
);
CREATE TABLE "Order Details" (
    "OrderID" INTEGER NOT NULL REFERENCES "Orders" ("OrderID"),
    "ProductID" INTEGER NOT NULL REFERENCES "Products" ("ProductID"),
    "UnitPrice" DECIMAL(10,2) NOT NULL DEFAULT 0,
    "Quantity" INTEGER NOT NULL DEFAULT 1 CHECK ("Quantity" > 0),
    "Discount" REAL NOT NULL DEFAULT 0,
    PRIMARY KEY ("OrderID", "ProductID")
);
CREATE UNIQUE INDEX "UX Products ProductName" ON "Products" ("ProductName");
CREATE INDEX "IX Orders Unshipped" ON "Orders" ("CustomerID") WHERE "ShippedDate" IS NULL;
CREATE INDEX "IX Order Details ProductID" ON "Order Details" ("ProductID");
CREATE VIEW "Order Subtotals" AS
    SELECT od."OrderID", SUM(od."UnitPrice" * od."Quantity" * (1 - od."Discount")) AS "Subtotal"
    FROM "Order Details" AS od
    GROUP BY od."OrderID";
CREATE VIEW "Products Above Average Price" AS
    SELECT "ProductName", "UnitPrice" FROM "Products"
    WHERE "UnitPrice" > (SELECT avg("UnitPrice") FROM "Products");
"""


def northwind_like(path) -> Path:
    """Northwind's shapes: "Order Details" with a composite key, TEXT customer ids, pictures as BLOBs."""
    rng = random.Random(19960704)
    con = _fresh(path)
    try:
        con.executescript(NORTHWIND_SCHEMA)
        groups = [(1, "Wholesale", "2020-01-01", "Europe"), (2, "Retail", "2020-06-15", None),
                  (3, "select * from x", None, "Americas"), (4, "Key; Accounts", "2021-03-01", "Asia"),
                  (5, "Partners", "2019-12-31", "Oceania"), (6, "Other", None, None)]
        con.executemany('INSERT INTO "Group" VALUES (?, ?, ?, ?)', groups)
        categories = []
        for i, name in enumerate(["Beverages", "Condiments", "Confections", "Dairy Products",
                                  "Grains/Cereals", "Meat/Poultry", "Produce", "Seafood"], 1):
            picture = None if i == 5 else (b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(rng.randint(200, 2000)))
                                           + b"\x00\x00\xff\xfe,\"\n\\")
            categories.append((i, name, f"{name}: {_title(rng, 4).lower()}", picture))
        con.executemany('INSERT INTO "Categories" VALUES (?, ?, ?, ?)', categories)
        suppliers = [(i, f"{_title(rng)} {rng.choice(['Ltd.', 'GmbH', 'S.A.', 'AB', 'Co.'])}", rng.choice(COUNTRIES),
                      None if i % 3 else f"https://example.com/{i}#supplier") for i in range(1, 30)]
        con.executemany('INSERT INTO "Suppliers" VALUES (?, ?, ?, ?)', suppliers)
        products = []
        for i in range(1, 78):
            price = Decimal(rng.randint(250, 26350)) / 100
            products.append((i, f"{_title(rng)} {i}", rng.randint(1, 29), rng.randint(1, 8),
                             f"{rng.randint(1, 48)} boxes x {rng.choice([20, 50, 500])} g", str(price),
                             rng.randint(0, 125), int(i % 9 == 0)))
        con.executemany('INSERT INTO "Products" VALUES (?, ?, ?, ?, ?, ?, ?, ?)', products)
        codes = ["ALFKI", "ANATR", "ANTON", "AROUT", "BERGS"]
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        while len(codes) < 91:
            code = "".join(rng.choice(letters) for _ in range(5))
            if code not in codes:
                codes.append(code)
        customers = [(code, f"{_title(rng)} {rng.choice(['Delikatessen', 'Trading', 'Market', 'Comidas'])}",
                      f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", rng.choice(COUNTRIES),
                      None if n % 7 == 0 else rng.randint(1, 6))
                     for n, code in enumerate(codes)]
        con.executemany('INSERT INTO "Customers" VALUES (?, ?, ?, ?, ?)', customers)
        employees = []
        for i in range(1, 10):
            born = datetime(1937, 1, 1) + timedelta(days=rng.randint(0, 11_000))
            hired = datetime(1992, 4, 1) + timedelta(days=rng.randint(0, 900), hours=rng.choice([0, 8, 9]))
            birth = born.strftime("%Y-%m-%dT%H:%M:%SZ") if i != 3 else born.strftime("%Y-%m-%dT14:30:00.250Z")
            employees.append((i, rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES),
                              rng.choice(["Sales Representative", "Vice President, Sales", "Sales Manager"]),
                              birth, hired.strftime("%Y-%m-%dT%H:%M:%SZ"), None if i == 2 else (5 if i > 5 else 2)))
        con.executemany('INSERT INTO "Employees" VALUES (?, ?, ?, ?, ?, ?, ?)', employees)
        orders, details = [], []
        for n in range(300):
            order_id = 10248 + n
            ordered = datetime(1996, 7, 4) + timedelta(days=n * 2 + rng.randint(0, 1))
            shipped = None if n % 10 == 3 else _dt_text(ordered + timedelta(days=rng.randint(1, 30)))
            freight = Decimal(rng.randint(2, 100_000)) / 100
            orders.append((order_id, rng.choice(codes), rng.randint(1, 9), _dt_text(ordered),
                           (ordered + timedelta(days=28)).strftime("%Y-%m-%d"), shipped, str(freight),
                           f"{_title(rng)} Ship", rng.choice(COUNTRIES)))
            for product in rng.sample(range(1, 78), rng.randint(1, 4)):
                details.append((order_id, product, products[product - 1][5], rng.randint(1, 120),
                                rng.choice([0.0, 0.0, 0.05, 0.1, 0.15, 0.2, 0.25])))
        con.executemany('INSERT INTO "Orders" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', orders)
        con.executemany('INSERT INTO "Order Details" VALUES (?, ?, ?, ?, ?)', details)
        con.commit()
    finally:
        con.close()
    return Path(path)


# --- a modern app -------------------------------------------------------------------------------

APP_SCHEMA = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT UNIQUE NOT NULL,
    first TEXT NOT NULL,
    last TEXT NOT NULL,
    full_name TEXT GENERATED ALWAYS AS (first || ' ' || last) STORED,
    created_at INTEGER NOT NULL,
    updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    is_admin BOOLEAN NOT NULL DEFAULT 0,
    settings JSON,
    score INTEGER CHECK (score BETWEEN 0 AND 100)
);
CREATE TABLE sessions (
    token TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    data JSON,
    CHECK (length(token) = 32)
) WITHOUT ROWID;
CREATE TABLE events (
    user_id INTEGER REFERENCES users (id),
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    payload TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX events_user_at ON events (user_id, at);
CREATE TRIGGER users_touch AFTER UPDATE OF email, first, last ON users
BEGIN
    UPDATE users SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id;
END;
CREATE VIEW user_event_counts AS
    SELECT u.id, u.email, count(e.kind) AS events
    FROM users u LEFT JOIN events e ON e.user_id = u.id
    GROUP BY u.id, u.email;
"""

APP_EPOCH_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z


def app_like(path) -> Path:
    """users / sessions / events of a web app; every foreign key satisfied (no orphans)."""
    rng = random.Random(1_700_000_000)
    con = _fresh(path)
    try:
        con.executescript(APP_SCHEMA)
        users = []
        ids = []
        next_id = 1
        for i in range(250):
            next_id += rng.choice([1, 1, 1, 2, 5])  # deleted users leave gaps in the ids
            ids.append(next_id)
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            created_ms = APP_EPOCH_MS + rng.randint(0, 5 * 365 * 86_400_000)
            updated = datetime.fromtimestamp(created_ms // 1000, UTC) + timedelta(seconds=rng.randint(0, 9_000_000))
            settings = None if i % 6 == 0 else json.dumps({
                "theme": rng.choice(["dark", "light", "système"]),
                "notifications": {"email": bool(rng.getrandbits(1)), "push": rng.randint(0, 3)},
                "tags": rng.sample(["a", "b", "ü", "日本", "🙂"], rng.randint(0, 3)),
                "ratio": rng.choice([0.5, 1.25, 1e-7, 3]),
            }, ensure_ascii=False)
            users.append((next_id, f"{first}.{last}.{i}@example.org".lower().replace("'", ""), first, last,
                          created_ms, updated.strftime("%Y-%m-%d %H:%M:%S"), int(i % 10 == 0), settings,
                          None if i % 8 == 0 else rng.randint(0, 100)))
        con.executemany(
            "INSERT INTO users (id, email, first, last, created_at, updated_at, is_admin, settings, score) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", users)
        sessions = []
        for _ in range(300):
            created_ms = APP_EPOCH_MS + rng.randint(0, 5 * 365 * 86_400_000)
            sessions.append((f"{rng.getrandbits(128):032x}", rng.choice(ids), created_ms,
                             created_ms // 1000 + 30 * 86_400,
                             None if rng.random() < 0.3 else json.dumps({"ua": "Mozilla/5.0", "ip": f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}"})))
        con.executemany("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)", sessions)
        events = []
        for _ in range(500):
            kind = rng.choice(["login", "logout", "purchase", "page_view"])
            payload = {"kind": kind, "n": rng.randint(0, 10**6)}
            if kind == "purchase":
                payload["amount"] = rng.choice([9.99, 19.5, 100])
                payload["items"] = [{"sku": f"SKU-{rng.randint(1, 99)}", "qty": rng.randint(1, 3)}]
            events.append((None if rng.random() < 0.05 else rng.choice(ids), kind,
                           APP_EPOCH_MS + rng.randint(0, 5 * 365 * 86_400_000), json.dumps(payload)))
        events += events[:5]  # identical rows: a table without a key may hold duplicates
        con.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", events)
        con.commit()
    finally:
        con.close()
    return Path(path)


# --- hostile ------------------------------------------------------------------------------------

INJECTION_NAME = 'x"; DROP TABLE y; --'
WEIRD_NAME = 'weird "quoted" name'

HOSTILE_SCHEMA = """
CREATE TABLE "weird ""quoted"" name" (
    "id" INTEGER PRIMARY KEY,
    "select" TEXT NOT NULL,
    "table" INTEGER,
    "cafés" TEXT,
    "column with spaces" REAL
);
CREATE TABLE "cafés" (
    id INTEGER PRIMARY KEY,
    nom TEXT NOT NULL UNIQUE,
    "prix €" NUMERIC(10,2)
);
CREATE TABLE "select" (
    "from" INTEGER PRIMARY KEY,
    "table" TEXT
);
CREATE TABLE "x""; DROP TABLE y; --" (
    id INTEGER PRIMARY KEY,
    v TEXT
);
CREATE TABLE y (
    id INTEGER PRIMARY KEY,
    v TEXT
);
CREATE TABLE typed (
    id INTEGER PRIMARY KEY,
    qty INTEGER,
    day DATE,
    doc JSON
);
CREATE TABLE texts (
    id INTEGER PRIMARY KEY,
    body TEXT
);
CREATE TABLE k (code TEXT PRIMARY KEY, v INT);
CREATE TABLE mixed (
    id INTEGER PRIMARY KEY,
    anything
);
CREATE TABLE floats (
    id INTEGER PRIMARY KEY,
    x REAL,
    y
);
CREATE TABLE money (
    id INTEGER PRIMARY KEY,
    amount NUMERIC(20,4)
);
CREATE TABLE times (
    id INTEGER PRIMARY KEY,
    at_secs DATETIME,
    at_millis DATETIME,
    at_iso DATETIME
);
CREATE TABLE parents (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE children (
    id INTEGER PRIMARY KEY,
    parent_id INTEGER REFERENCES parents (id),
    note TEXT
);
"""

# What the hostile database holds, for the tests to compare against.
HOSTILE_REJECTS = {  # table -> {source key (as inserted) -> (column, original value)}
    "typed": {7: ("qty", "lots"), 8: ("day", "2024-02-30"), 9: ("doc", '{"unterminated": ')},
    "k": {None: ("code", None)},
    "money": {5: ("amount", "n/a")},
}
# A BLOB among numbers and text in a column without declared type: loaded (text or bytea) or
# rejected, either is fair; nothing else of `mixed` may be rejected.
HOSTILE_MAY_REJECT = {"mixed": {4: ("anything", ...)}}  # ...: any spelling of the bytes 00 ff
HOSTILE_ORPHANS = {3: 999, 5: 998}  # children.id -> parent_id that does not exist
TIMES_EXPECTED = {  # times.id -> the instant every one of its three columns means
    1: datetime(2024, 1, 1, 8, 0, tzinfo=UTC),
    2: datetime(2024, 1, 1, 10, 0, 0, 123456, tzinfo=UTC),
    3: datetime(2024, 1, 1, 8, 0, tzinfo=UTC),
    4: datetime(2024, 1, 1, 5, 0, tzinfo=UTC),
    5: datetime(2024, 1, 1, 10, 0, 0, 123000, tzinfo=UTC),
}


def hostile(path, *, orphans: bool = True) -> Path:
    """One database with every bad case:

    - names: spaces, doubled quotes (`weird "quoted" name`), unicode (`cafés`, `prix €`), SQL keywords
      (`select`, `table`, `from`), and a table named `x"; DROP TABLE y; --` next to a table `y`;
    - `typed`: text in an INTEGER column (id 7), '2024-02-30' in a DATE column (id 8), malformed JSON in
      a JSON column (id 9), the other rows fine;
    - `texts`: a NUL inside text (id 2), invalid UTF-8 stored as TEXT (id 3: bytes 61 ff 62);
    - `k`: a NULL in a TEXT primary key (SQLite allows it in a rowid table);
    - `mixed`: integer, real, text and blob in one column without declared type;
    - `floats`: +/-Infinity (9e999) in a REAL column, -0.0 in an untyped column (a REAL column loses
      the sign in SQLite itself);
    - `money`: NUMERIC(20,4). SQLite turns '12345678901234.5678' into the REAL 12345678901234.568 (15
      digits, its NUMERIC affinity); text survives only when it is not a number ('n/a', id 5);
    - `times`: DATETIME as integer seconds, integer milliseconds and ISO text with offsets, 'Z' and
      microseconds: every non-NULL column of a row means the same instant (TIMES_EXPECTED);
    - `parents`/`children`: with `orphans`, children 3 and 5 reference parents that do not exist.
    """
    con = _fresh(path)
    try:
        con.executescript(HOSTILE_SCHEMA)
        con.executemany('INSERT INTO "weird ""quoted"" name" VALUES (?, ?, ?, ?, ?)', [
            (1, "select * from users; --", 1, "crème brûlée", 1.5),
            (2, 'say "hi"', None, None, None),
            (3, "", -7, "日本語", -0.25),
            (4, "tab\there\nnewline", 9_000_000_000, "😀", 1e-300),
            (5, "\\N", 0, "\\", 3.0),
        ])
        con.executemany('INSERT INTO "cafés" VALUES (?, ?, ?)',
                        [(1, "Café de Flore", "4.50"), (2, "Sacher", "12.00"), (3, "Zoë's", None)])
        con.executemany('INSERT INTO "select" VALUES (?, ?)', [(1, "drop"), (2, None), (3, "table")])
        con.executemany('INSERT INTO "x""; DROP TABLE y; --" VALUES (?, ?)', [(1, "first"), (2, "'; --")])
        con.executemany("INSERT INTO y VALUES (?, ?)", [(1, "still"), (2, "here"), (3, None)])
        con.executemany("INSERT INTO typed VALUES (?, ?, ?, ?)", [
            (1, 10, "2024-01-31", '{"a": 1}'),
            (2, -3, "2024-02-29", "[1, 2.5, \"x\"]"),
            (3, None, None, None),
            (4, 0, "1999-12-31", '{"nested": {"k": [true, null]}}'),
            (5, 9_223_372_036_854_775_807, "2000-01-01", '"just a string"'),
            (6, 42, "2024-12-01", "{}"),
            (7, "lots", "2024-03-01", '{"b": 2}'),
            (8, 5, "2024-02-30", '{"c": 3}'),
            (9, 6, "2024-03-02", '{"unterminated": '),
            (10, 7, "2024-03-03", "[]"),
        ])
        con.execute("INSERT INTO texts VALUES (1, 'plain')")
        con.execute("INSERT INTO texts VALUES (?, ?)", (2, "a\x00b"))
        con.execute("INSERT INTO texts VALUES (3, CAST(x'61ff62' AS TEXT))")
        con.execute("INSERT INTO texts VALUES (4, 'naïve 😀')")
        con.executemany("INSERT INTO k VALUES (?, ?)", [("a", 1), ("b", 2), (None, 3)])
        con.executemany("INSERT INTO mixed VALUES (?, ?)",
                        [(1, 1), (2, 2.5), (3, "three"), (4, b"\x00\xff"), (5, None)])
        con.execute("INSERT INTO floats VALUES (1, 9e999, -0.0)")
        con.execute("INSERT INTO floats VALUES (2, -9e999, 2.5)")
        con.execute("INSERT INTO floats VALUES (3, 1.5, NULL)")
        con.execute("INSERT INTO floats VALUES (4, -0.0, 1e308)")
        con.executemany("INSERT INTO money VALUES (?, ?)", [
            (1, "12345678901234.5678"), (2, "0.0001"), (3, "-99999999.9999"), (4, "0.1"), (5, "n/a"), (6, None),
        ])
        con.executemany("INSERT INTO times VALUES (?, ?, ?, ?)", [
            (1, 1_704_096_000, 1_704_096_000_000, "2024-01-01T10:00:00+02:00"),
            (2, None, None, "2024-01-01 10:00:00.123456"),
            (3, 1_704_096_000, None, "2024-01-01T08:00:00Z"),
            (4, 1_704_085_200, 1_704_085_200_000, "2023-12-31T23:30:00-05:30"),
            (5, None, 1_704_103_200_123, "2024-01-01T10:00:00.123Z"),
        ])
        con.executemany("INSERT INTO parents VALUES (?, ?)", [(1, "one"), (2, "two")])
        con.executemany("INSERT INTO children VALUES (?, ?, ?)", [
            (1, 1, "ok"), (2, 2, "ok"),
            (3, HOSTILE_ORPHANS[3] if orphans else 1, "orphan" if orphans else "ok"),
            (4, None, "no parent"),
            (5, HOSTILE_ORPHANS[5] if orphans else 2, "orphan" if orphans else "ok"),
        ])
        con.commit()
    finally:
        con.close()
    return Path(path)


COLLIDING = ("Éclairs", "éclairs")


def colliding_names(path) -> Path:
    """Two tables whose names differ only in case. SQLite folds ASCII case in names (`Items` and
    `items` cannot both exist), not other letters: `Éclairs` and `éclairs` can."""
    con = _fresh(path)
    try:
        con.executescript("""
            CREATE TABLE "Éclairs" (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            CREATE TABLE "éclairs" (id INTEGER PRIMARY KEY, label TEXT, price REAL);
        """)
        con.executemany('INSERT INTO "Éclairs" VALUES (?, ?)', [(1, "chocolat"), (2, "café")])
        con.executemany('INSERT INTO "éclairs" VALUES (?, ?, ?)', [(1, "vanille", 3.5), (2, None, None), (3, "pistache", 4.0)])
        con.commit()
    finally:
        con.close()
    return Path(path)
