"""A SQLite database of the shape the runbook was first written for: a personal app's
`mental_items` (cuid2 text ids, unix-second timestamps, JSON tags in text) and their events.

    >>> make_demo_db(Path("data/demo.db"), items=3000, seed=7)
"""

from __future__ import annotations

import json
import random
import sqlite3
import string
from pathlib import Path

SCHEMA = """
CREATE TABLE mental_items (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL DEFAULT 'thought',
    title TEXT NOT NULL,
    body TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    priority INTEGER NOT NULL DEFAULT 0,
    resolved INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    resolved_at INTEGER
);
CREATE INDEX mental_items_created_at_idx ON mental_items (created_at);
CREATE INDEX mental_items_open_idx ON mental_items (kind, priority) WHERE resolved = 0;
CREATE TABLE item_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id TEXT NOT NULL REFERENCES mental_items (id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    note TEXT,
    at INTEGER NOT NULL
);
CREATE INDEX item_events_item_idx ON item_events (item_id);
"""

KINDS = ["thought", "task", "worry", "idea", "question"]
TAGS = ["work", "home", "health", "money", "family", "later", "urgent", "café", "日本", "🙂", "q\"uote", "back\\slash"]
WORDS = ["call", "plan", "think", "write", "review", "renew", "fix", "ask", "buy", "read", "über", "naïve", "😀", "你好"]
START = 1_577_836_800  # 2020-01-01 UTC
SPAN = 5 * 365 * 86_400

_ALPHABET = string.ascii_lowercase + string.digits


def cuid2(rng: random.Random) -> str:
    """A 24-character cuid2-shaped id: a letter, then lower-case letters and digits."""
    return rng.choice(string.ascii_lowercase) + "".join(rng.choice(_ALPHABET) for _ in range(23))


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


# Marks a database the demo made (SQLite's PRAGMA application_id): only such a file is ever replaced.
DEMO_APPLICATION_ID = 0x53324E44  # "S2ND"


def make_demo_db(path: Path, *, items: int = 3000, seed: int = 7) -> Path:
    """Write a fresh demo database at `path`, replacing one the demo made earlier (its
    application_id says so). Raises ConfigError, touching nothing, when another file is there: the
    demo never overwrites a database of the user's."""
    path = Path(path)
    if path.exists() and demo_marker(path) != DEMO_APPLICATION_ID and not _older_demo(path):
        from .errors import ConfigError

        raise ConfigError(f"{path} exists and is not a database the demo made; the demo never replaces it. "
                          "To migrate it, use sqlite2neon run -p sqlite_path " + str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    rng = random.Random(seed)
    con = sqlite3.connect(path)
    try:
        con.execute(f"PRAGMA application_id = {DEMO_APPLICATION_ID}")
        con.executescript(SCHEMA)
        item_rows, event_rows = [], []
        for i in range(items):
            created = START + rng.randrange(SPAN)
            updated = created + rng.randrange(0, 30 * 86_400)
            resolved = rng.random() < 0.4
            resolved_at = updated + rng.randrange(0, 86_400) if resolved else None
            tags = rng.sample(TAGS, rng.randrange(0, 4))
            body = None if rng.random() < 0.25 else _text(rng, rng.randrange(3, 40)) + ("\nline two" if i % 17 == 0 else "")
            title = _text(rng, rng.randrange(1, 6)) + (" ,\"quoted\", " if i % 53 == 0 else "")
            item_id = cuid2(rng)
            item_rows.append((item_id, rng.choice(KINDS), title, body, json.dumps(tags, ensure_ascii=i % 2 == 0),
                              rng.randrange(0, 4), int(resolved), created, updated, resolved_at))
            for _ in range(rng.randrange(0, 3)):
                event_rows.append((item_id, rng.choice(["created", "edited", "snoozed", "resolved"]),
                                   None if rng.random() < 0.5 else _text(rng, 3), created + rng.randrange(0, 86_400)))
        con.executemany("INSERT INTO mental_items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", item_rows)
        con.executemany("INSERT INTO item_events (item_id, event, note, at) VALUES (?, ?, ?, ?)", event_rows)
        con.commit()
    finally:
        con.close()
    return path


def demo_marker(path: Path) -> int | None:
    """The file's SQLite application_id, read-only; None when it is not a SQLite database."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return con.execute("PRAGMA application_id").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return None


def _older_demo(path: Path) -> bool:
    """A demo database written before the marker existed: exactly the demo's two tables."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                               "AND name NOT LIKE 'sqlite_%'")}
        finally:
            con.close()
    except sqlite3.Error:
        return False
    return names == {"mental_items", "item_events"}


def ensure_demo_source(params) -> None:
    """Make the demo database on first use, when the parameters ask for it and it is missing
    (a fresh checkout opened in JupyterLab before `sqlite2neon demo` ever ran)."""
    from .config import Params, resolve_path

    if params.sqlite_path == Params().sqlite_path and not resolve_path(params.sqlite_path).exists():
        make_demo_db(resolve_path(params.sqlite_path))
