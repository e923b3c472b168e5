"""The benchmark's source: an app-shaped SQLite file of N `mental_items` rows, and the same rows as
the CSV a plain COPY reads (the limit any loader can reach).

    >>> make_app_db(Path("bench/data/app-100000.db"), 100_000)
    >>> make_limit_csv(Path("bench/data/app-100000.db"), Path("bench/data/app-100000.csv"))
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite2neon.demo import KINDS, SCHEMA, START, TAGS
from sqlite2neon.source import open_source

# Only the demo's mental_items table, without its secondary indexes: every tool measured here
# then builds the same thing, the table and its primary key.
TABLE = SCHEMA.split(";")[0] + ";"
# Body and title text is cut from this at random offsets: words, a few non-ASCII characters, and a
# comma, a quote and a newline, which CSV has to quote.
TEXT = (
    "call the plumber about the kitchen sink before friday, review the quarterly plan with anna "
    "renew the passport café naïve über 日本 🙂 read the \"short\" book on sleep again and write notes "
    "fix the bike brake ask about the invoice\nbuy milk eggs bread think about moving closer to work "
    "plan the trip in may check the insurance letter answer the school email about the excursion "
) * 4
SPAN = 5 * 365 * 86_400  # created_at falls in the five years after START


def _pick(options: list[str]) -> str:
    """SQLite SQL choosing one of `options` at random for each row."""
    whens = " ".join(f"WHEN {i} THEN '{o.replace(chr(39), chr(39) * 2)}'" for i, o in enumerate(options))
    return f"(CASE abs(random() % {len(options)}) {whens} END)"


def _bits(var: str, shift: int, width: int, modulo: int) -> str:
    """An independent random number below `modulo`, from `width` bits of the row's random `var`."""
    return f"((({var} >> {shift}) & {(1 << width) - 1}) % {modulo})"


def _text(var: str, shift: int, shortest: int, longest: int) -> str:
    start = _bits(var, shift, 10, len(TEXT) - longest)
    length = f"{shortest} + {_bits(var, shift + 10, 10, longest - shortest + 1)}"
    return f"substr(:text, 1 + {start}, {length})"


# Each row's random numbers a, b, c are drawn once, in the recursive CTE (a CTE that is not
# recursive could be flattened into the SELECT and draw again for every reference).
INSERT = f"""
INSERT INTO mental_items
WITH RECURSIVE n(i, a, b, c) AS (
    SELECT 1, random(), random(), random()
    UNION ALL
    SELECT i + 1, random(), random(), random() FROM n WHERE i < :rows
), r AS (
    SELECT a, b, c, {START} + {_bits('c', 0, 28, SPAN)} AS created,
           {_bits('c', 28, 22, 30 * 86_400)} AS edited_after, {_bits('b', 40, 10, 10)} < 4 AS resolved
    FROM n
)
SELECT
    char(97 + {_bits('b', 0, 10, 26)}) || substr(lower(hex(randomblob(12))), 1, 23),
    {_pick(KINDS)},
    {_text('a', 0, 10, 40)},
    CASE WHEN {_bits('a', 40, 10, 100)} < 30 THEN NULL ELSE {_text('a', 20, 60, 160)} END,
    CASE abs(random() % 4)
        WHEN 0 THEN '[]'
        WHEN 1 THEN json_array({_pick(TAGS)})
        WHEN 2 THEN json_array({_pick(TAGS)}, {_pick(TAGS)})
        ELSE json_array({_pick(TAGS)}, {_pick(TAGS)}, {_pick(TAGS)})
    END,
    {_bits('b', 20, 10, 4)},
    resolved,
    created,
    created + edited_after,
    CASE WHEN resolved THEN created + edited_after + {_bits('b', 50, 12, 86_400 // 24)} * 24 END
FROM r
"""


def make_app_db(path: Path, rows: int) -> Path:
    """Write the database at `path` (through a temporary file, so a half-made one is never reused)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    con = sqlite3.connect(partial)
    try:
        con.execute("PRAGMA journal_mode = OFF")
        con.execute("PRAGMA synchronous = OFF")
        con.execute("PRAGMA cache_size = -1000000")  # 1 GB: the primary key is built in random order
        con.executescript(TABLE)
        con.execute(INSERT, {"rows": rows, "text": TEXT})
        con.commit()
    finally:
        con.close()
    partial.replace(path)
    return path


def make_limit_csv(db: Path, out: Path) -> Path:
    """The rows as a plain COPY reads them, converted as the runbook converts them: timestamps as
    UTC text, resolved as true/false, tags as their JSON text."""
    def stamp(column: str) -> str:
        return f"strftime(make_timestamp({column} * 1000000), '%Y-%m-%d %H:%M:%S') || '+00'"

    partial = out.with_suffix(".partial")
    con = open_source(db)
    try:
        con.execute(f"""
            COPY (SELECT id, kind, title, body, tags, priority,
                         CASE resolved WHEN 1 THEN 'true' ELSE 'false' END,
                         {stamp('created_at')}, {stamp('updated_at')}, {stamp('resolved_at')}
                  FROM src.mental_items)
            TO '{partial}' (FORMAT csv, HEADER false)
        """)
    finally:
        con.close()
    partial.replace(out)
    return out
