"""The benchmark's small database: a music store in the shape of Chinook (13 tables, about 3,100 rows,
foreign keys everywhere, 16 views with joins and aggregates), made here from a fixed seed, so the
same call writes the same file every time and nothing is downloaded.

    >>> make_sample_db(Path("bench/data/sample.db"))
    >>> sorted(SAMPLE_ROWS.items())[:2]
    [('albums', 347), ('artists', 275)]

What it holds, beyond the demo's one table: NUMERIC(10,2) prices (SQLite keeps them as reals),
DATETIME text, a text primary key, a composite key, a self-referencing key, a CHECK, secondary
indexes, NULLs in optional columns, and names with non-ASCII letters and quotes.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

SCHEMA = """
CREATE TABLE genres (genre_id INTEGER PRIMARY KEY, name NVARCHAR(120) NOT NULL);
CREATE TABLE media_types (media_type_id INTEGER PRIMARY KEY, name NVARCHAR(120) NOT NULL UNIQUE);
CREATE TABLE artists (artist_id INTEGER PRIMARY KEY, name NVARCHAR(120));
CREATE TABLE albums (
    album_id INTEGER PRIMARY KEY,
    title NVARCHAR(160) NOT NULL,
    artist_id INTEGER NOT NULL REFERENCES artists (artist_id),
    release_year INTEGER
);
CREATE TABLE tracks (
    track_id INTEGER PRIMARY KEY,
    name NVARCHAR(200) NOT NULL,
    album_id INTEGER REFERENCES albums (album_id),
    media_type_id INTEGER NOT NULL REFERENCES media_types (media_type_id),
    genre_id INTEGER REFERENCES genres (genre_id),
    composer NVARCHAR(220),
    milliseconds INTEGER NOT NULL,
    bytes INTEGER,
    unit_price NUMERIC(10,2) NOT NULL
);
CREATE INDEX tracks_album ON tracks (album_id);
CREATE TABLE playlists (playlist_id INTEGER PRIMARY KEY, name NVARCHAR(120) NOT NULL);
CREATE TABLE playlist_track (
    playlist_id INTEGER NOT NULL REFERENCES playlists (playlist_id),
    track_id INTEGER NOT NULL REFERENCES tracks (track_id),
    PRIMARY KEY (playlist_id, track_id)
);
CREATE TABLE employees (
    employee_id INTEGER PRIMARY KEY,
    last_name NVARCHAR(20) NOT NULL,
    first_name NVARCHAR(20) NOT NULL,
    title NVARCHAR(30),
    reports_to INTEGER REFERENCES employees (employee_id),
    birth_date DATETIME,
    hire_date DATETIME,
    city NVARCHAR(40),
    email NVARCHAR(60)
);
CREATE TABLE countries (code CHAR(2) PRIMARY KEY, name NVARCHAR(60) NOT NULL, region NVARCHAR(20) NOT NULL);
CREATE TABLE customers (
    customer_id INTEGER PRIMARY KEY,
    first_name NVARCHAR(40) NOT NULL,
    last_name NVARCHAR(20) NOT NULL,
    company NVARCHAR(80),
    city NVARCHAR(40),
    country_code CHAR(2) NOT NULL REFERENCES countries (code),
    email NVARCHAR(60) NOT NULL,
    support_rep_id INTEGER REFERENCES employees (employee_id)
);
CREATE TABLE invoices (
    invoice_id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (customer_id),
    invoice_date DATETIME NOT NULL,
    billing_city NVARCHAR(40),
    total NUMERIC(10,2) NOT NULL
);
CREATE INDEX invoices_customer ON invoices (customer_id);
CREATE TABLE invoice_items (
    invoice_line_id INTEGER PRIMARY KEY,
    invoice_id INTEGER NOT NULL REFERENCES invoices (invoice_id),
    track_id INTEGER NOT NULL REFERENCES tracks (track_id),
    unit_price NUMERIC(10,2) NOT NULL,
    quantity INTEGER NOT NULL
);
CREATE TABLE payments (
    payment_id INTEGER PRIMARY KEY,
    invoice_id INTEGER NOT NULL REFERENCES invoices (invoice_id),
    paid_at DATETIME NOT NULL,
    amount NUMERIC(10,2) NOT NULL,
    method TEXT NOT NULL CHECK (method IN ('card', 'paypal', 'transfer'))
);
"""

VIEWS = """
CREATE VIEW album_details AS
    SELECT al.album_id, al.title, ar.name AS artist, al.release_year
    FROM albums al JOIN artists ar ON ar.artist_id = al.artist_id;
CREATE VIEW track_details AS
    SELECT t.track_id, t.name, al.title AS album, ar.name AS artist, g.name AS genre, m.name AS media_type,
           t.milliseconds, t.unit_price
    FROM tracks t
    LEFT JOIN albums al ON al.album_id = t.album_id
    LEFT JOIN artists ar ON ar.artist_id = al.artist_id
    LEFT JOIN genres g ON g.genre_id = t.genre_id
    JOIN media_types m ON m.media_type_id = t.media_type_id;
CREATE VIEW artist_album_counts AS
    SELECT ar.artist_id, ar.name, count(al.album_id) AS albums
    FROM artists ar LEFT JOIN albums al ON al.artist_id = ar.artist_id
    GROUP BY ar.artist_id, ar.name;
CREATE VIEW genre_track_stats AS
    SELECT g.name AS genre, count(*) AS tracks, sum(t.milliseconds) AS milliseconds,
           min(t.unit_price) AS cheapest, max(t.unit_price) AS dearest
    FROM tracks t JOIN genres g ON g.genre_id = t.genre_id
    GROUP BY g.name;
CREATE VIEW media_type_usage AS
    SELECT m.name AS media_type, count(t.track_id) AS tracks
    FROM media_types m LEFT JOIN tracks t ON t.media_type_id = m.media_type_id
    GROUP BY m.name;
CREATE VIEW playlist_sizes AS
    SELECT p.playlist_id, p.name, count(pt.track_id) AS tracks
    FROM playlists p LEFT JOIN playlist_track pt ON pt.playlist_id = p.playlist_id
    GROUP BY p.playlist_id, p.name;
CREATE VIEW playlist_durations AS
    SELECT pt.playlist_id, count(*) AS tracks, sum(t.milliseconds) AS milliseconds
    FROM playlist_track pt JOIN tracks t ON t.track_id = pt.track_id
    GROUP BY pt.playlist_id;
CREATE VIEW customer_invoice_totals AS
    SELECT c.customer_id, c.first_name, c.last_name, count(i.invoice_id) AS invoices, sum(i.total) AS spent
    FROM customers c LEFT JOIN invoices i ON i.customer_id = c.customer_id
    GROUP BY c.customer_id, c.first_name, c.last_name;
CREATE VIEW invoice_line_totals AS
    SELECT invoice_id, count(*) AS lines, sum(quantity) AS items, sum(unit_price * quantity) AS amount
    FROM invoice_items GROUP BY invoice_id;
CREATE VIEW sales_by_country AS
    SELECT co.name AS country, co.region, count(i.invoice_id) AS invoices, sum(i.total) AS sales
    FROM invoices i
    JOIN customers c ON c.customer_id = i.customer_id
    JOIN countries co ON co.code = c.country_code
    GROUP BY co.name, co.region;
CREATE VIEW sales_by_month AS
    SELECT substr(invoice_date, 1, 7) AS month, count(*) AS invoices, sum(total) AS sales
    FROM invoices GROUP BY substr(invoice_date, 1, 7);
CREATE VIEW employee_managers AS
    SELECT e.employee_id, e.first_name || ' ' || e.last_name AS employee,
           m.first_name || ' ' || m.last_name AS manager
    FROM employees e LEFT JOIN employees m ON m.employee_id = e.reports_to;
CREATE VIEW rep_customer_counts AS
    SELECT e.employee_id, e.last_name, count(c.customer_id) AS customers
    FROM employees e JOIN customers c ON c.support_rep_id = e.employee_id
    GROUP BY e.employee_id, e.last_name;
CREATE VIEW top_tracks AS
    SELECT t.track_id, t.name, sum(ii.quantity) AS sold
    FROM invoice_items ii JOIN tracks t ON t.track_id = ii.track_id
    GROUP BY t.track_id, t.name
    HAVING sum(ii.quantity) > 1;
CREATE VIEW unpaid_invoices AS
    SELECT i.invoice_id, i.total, coalesce(sum(p.amount), 0) AS paid
    FROM invoices i LEFT JOIN payments p ON p.invoice_id = i.invoice_id
    GROUP BY i.invoice_id, i.total
    HAVING count(p.payment_id) = 0;
CREATE VIEW long_tracks AS
    SELECT t.track_id, t.name, g.name AS genre, t.milliseconds
    FROM tracks t LEFT JOIN genres g ON g.genre_id = t.genre_id
    WHERE t.milliseconds > 300000;
"""

# Rows of each table: 3,141 in all.
SAMPLE_ROWS = {"genres": 25, "media_types": 5, "artists": 275, "albums": 347, "tracks": 1000, "playlists": 18,
               "playlist_track": 600, "employees": 8, "countries": 24, "customers": 59, "invoices": 200,
               "invoice_items": 400, "payments": 180}
VIEW_COUNT = 16

WORDS = ["Black", "Blue", "Night", "Electric", "Silent", "Golden", "Velvet", "Iron", "Paper", "Glass", "River",
         "Storm", "Garden", "Machine", "Echo", "Neon", "Ghost", "Summer", "Winter", "Fire", "Café", "Señor"]
FIRST = ["Ana", "Bjørn", "Chen", "Dmitri", "Élodie", "Fatima", "Giulia", "Hiro", "Ines", "Jamal", "Kasia",
         "Luis", "Mei", "Noah", "Olga", "Priya", "Rosa", "Sven", "Zoë", "François"]
LAST = ["Almeida", "Brown", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Hansen", "Jensen", "Kowalski",
        "López", "Müller", "Nakamura", "O'Connor", "Petrov", "Rossi", "Tanaka", "Wójcik", "Yamamoto"]
COUNTRIES = [("AR", "Argentina", "Americas"), ("AT", "Austria", "Europe"), ("AU", "Australia", "Oceania"),
             ("BE", "Belgium", "Europe"), ("BR", "Brazil", "Americas"), ("CA", "Canada", "Americas"),
             ("CL", "Chile", "Americas"), ("CZ", "Czech Republic", "Europe"), ("DE", "Germany", "Europe"),
             ("DK", "Denmark", "Europe"), ("ES", "Spain", "Europe"), ("FI", "Finland", "Europe"),
             ("FR", "France", "Europe"), ("GB", "United Kingdom", "Europe"), ("HU", "Hungary", "Europe"),
             ("IE", "Ireland", "Europe"), ("IN", "India", "Asia"), ("IT", "Italy", "Europe"),
             ("JP", "Japan", "Asia"), ("NL", "Netherlands", "Europe"), ("NO", "Norway", "Europe"),
             ("PL", "Poland", "Europe"), ("PT", "Portugal", "Europe"), ("US", "USA", "Americas")]
CITIES = ["São Paulo", "Toronto", "Praha", "Paris", "Berlin", "Bangalore", "Tokyo", "Oslo", "Warszawa",
          "Lisboa", "Madrid", "Boston", "London", "Wien", "Kraków"]
GENRES = ["Rock", "Jazz", "Metal", "Alternative & Punk", "Rock And Roll", "Blues", "Latin", "Reggae", "Pop",
          "Soundtrack", "Bossa Nova", "Easy Listening", "Heavy Metal", "R&B/Soul", "Electronica/Dance", "World",
          "Hip Hop/Rap", "Science Fiction", "TV Shows", "Sci Fi & Fantasy", "Drama", "Comedy", "Alternative",
          "Classical", "Opera"]
MEDIA = ["MPEG audio file", "Protected AAC audio file", "Protected MPEG-4 video file", "Purchased AAC audio file",
         "AAC audio file"]
PRICES = ["0.99", "1.99", "0.49", "1.29"]
START = datetime(2021, 1, 1)


def _title(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST), rng.choice(LAST)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def sample_rows(seed: int = 20260601) -> dict[str, list[tuple]]:
    """Every table's rows (in SCHEMA's column order), the same for the same seed; every foreign key
    is satisfied and each invoice's total is the sum of its lines."""
    rng = random.Random(seed)
    n = SAMPLE_ROWS
    rows: dict[str, list[tuple]] = {
        "genres": list(enumerate(GENRES, 1)),
        "media_types": list(enumerate(MEDIA, 1)),
        "countries": list(COUNTRIES),
    }
    rows["artists"] = [(i, None if i % 97 == 0 else "AC/DC" if i == 4 else
                        f"{_title(rng, 2)} {rng.choice(['Band', 'Trio', 'Orchestra', 'Collective', ''])}".strip())
                       for i in range(1, n["artists"] + 1)]
    rows["albums"] = [(i, _title(rng, rng.randint(1, 4)), rng.randint(1, n["artists"]),
                       None if i % 29 == 0 else rng.randint(1965, 2024)) for i in range(1, n["albums"] + 1)]
    rows["tracks"] = [(i, _title(rng, rng.randint(1, 3)) + ("" if i % 37 else ' (Live, "Remastered")'),
                       None if i % 53 == 0 else rng.randint(1, n["albums"]), rng.randint(1, len(MEDIA)),
                       None if i % 41 == 0 else rng.randint(1, len(GENRES)),
                       None if i % 3 == 0 else " ".join(_person(rng)),
                       rng.randint(60_000, 900_000), None if i % 17 == 0 else rng.randint(1_000_000, 30_000_000),
                       rng.choice(PRICES)) for i in range(1, n["tracks"] + 1)]
    rows["playlists"] = [(i, f"{_title(rng, 2)} mix") for i in range(1, n["playlists"] + 1)]
    pairs = sorted(rng.sample([(p, t) for p in range(1, n["playlists"] + 1) for t in range(1, 201)],
                              n["playlist_track"]))
    rows["playlist_track"] = pairs
    titles = ["General Manager", "Sales Manager", "IT Manager", "Sales Support Agent", "IT Staff"]
    rows["employees"] = []
    for i in range(1, n["employees"] + 1):
        first, last = _person(rng)
        born = START - timedelta(days=rng.randint(9_000, 20_000))
        hired = START - timedelta(days=rng.randint(30, 3_000))
        rows["employees"].append((i, last, first, titles[min(i - 1, 4)], None if i == 1 else rng.randint(1, i - 1),
                                  _stamp(born.replace(hour=0)), _stamp(hired.replace(hour=0)), rng.choice(CITIES),
                                  f"employee{i}@store.example"))
    rows["customers"] = []
    for i in range(1, n["customers"] + 1):
        first, last = _person(rng)
        rows["customers"].append((i, first, last, None if i % 4 else f"{_title(rng, 1)} Ltd.", rng.choice(CITIES),
                                  rng.choice(COUNTRIES)[0], f"customer{i}@mail.example",
                                  None if i % 11 == 0 else rng.randint(3, n["employees"])))
    prices = {t[0]: Decimal(t[-1]) for t in rows["tracks"]}
    rows["invoices"], rows["invoice_items"] = [], []
    line = 0
    for i in range(1, n["invoices"] + 1):
        total = Decimal(0)
        for _ in range(2):
            line += 1
            track, quantity = rng.randint(1, n["tracks"]), rng.choice([1, 1, 1, 2, 3])
            rows["invoice_items"].append((line, i, track, str(prices[track]), quantity))
            total += prices[track] * quantity
        moment = START + timedelta(minutes=rng.randint(0, 3 * 365 * 24 * 60))
        rows["invoices"].append((i, rng.randint(1, n["customers"]), _stamp(moment), rng.choice(CITIES), str(total)))
    paid = sorted(rng.sample(range(1, n["invoices"] + 1), n["payments"]))
    rows["payments"] = [(k, inv, _stamp(START + timedelta(days=rng.randint(0, 1_100), seconds=rng.randint(0, 86_399))),
                         rows["invoices"][inv - 1][-1], rng.choice(["card", "paypal", "transfer"]))
                        for k, inv in enumerate(paid, 1)]
    assert {t: len(r) for t, r in rows.items()} == n
    return rows


def make_sample_db(path: Path, seed: int = 20260601) -> Path:
    """Write the sample database at `path` (replacing it), through a temporary file so a half-made one
    is never read. Foreign keys are checked before it is kept (raises AssertionError if one is broken)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    con = sqlite3.connect(partial)
    try:
        con.executescript(SCHEMA)
        for table, values in sample_rows(seed).items():
            marks = ", ".join("?" * len(values[0]))
            con.executemany(f"INSERT INTO {table} VALUES ({marks})", values)
        con.executescript(VIEWS)
        con.commit()
        broken = con.execute("PRAGMA foreign_key_check").fetchall()
        assert not broken, f"foreign keys broken: {broken[:5]}"
    finally:
        con.close()
    partial.replace(path)
    return path
