"""What runs inside a measured peer process that is a Python library, in the peers' venv
(bench/.peers-venv, made by bench/peers.sh); `run.py` starts it and watches its memory. It imports
nothing of sqlite2neon: the peers' venv does not have it.

    bench/.peers-venv/bin/python bench/peers.py duckdb --url URL --db app.db --result out.json
    bench/.peers-venv/bin/python bench/peers.py dlt    --url URL --db app.db --result out.json --work DIR

Each copies every table of --db into the database at --url and writes {"seconds": <the copy>,
"version": ...} to --result; `run.py` counts the rows in Postgres itself.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import time
from pathlib import Path


def tables_of(db: str) -> list[str]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                          "AND name NOT LIKE 'sqlite%' ORDER BY name")]
    finally:
        con.close()


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_copy(args) -> dict:
    """DuckDB's sqlite and postgres extensions (from their wheels): CREATE TABLE ... AS SELECT * for
    each table, as DuckDB reads it (SQLite's declared types, no keys)."""
    import duckdb
    import duckdb_extension_postgres_scanner as postgres_wheel
    import duckdb_extension_sqlite_scanner as sqlite_wheel

    con = duckdb.connect()
    for wheel, name in ((sqlite_wheel, "sqlite"), (postgres_wheel, "postgres")):
        extension = next(Path(wheel.__file__).parent.glob(f"extensions/v{duckdb.__version__}/*.duckdb_extension"))
        con.execute(f"INSTALL {literal(str(extension))}")
        con.execute(f"LOAD {name}")
    started = time.monotonic()
    con.execute(f"ATTACH {literal(args.db)} AS src (TYPE sqlite, READ_ONLY)")
    con.execute(f"ATTACH {literal(args.url)} AS pg (TYPE postgres)")
    for table in tables_of(args.db):
        quoted = '"' + table.replace('"', '""') + '"'
        con.execute(f"CREATE TABLE pg.public.{quoted} AS SELECT * FROM src.{quoted}")
    return {"seconds": time.monotonic() - started, "version": duckdb.__version__}


def dlt_copy(args) -> dict:
    """dlt's sql_database source (SQLAlchemy over SQLite, its default backend) into its postgres
    destination, every table, replacing; dlt adds its _dlt_id/_dlt_load_id columns and _dlt_* tables."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import dlt
    from dlt.sources.sql_database import sql_database

    # dlt insists on a password; the embedded server trusts local connections, so any will do.
    url = args.url if re.match(r"postgresql://[^/@]*:[^/@]*@", args.url) else args.url.replace("@", ":unused@", 1)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    pipeline = dlt.pipeline(pipeline_name="bench", pipelines_dir=str(work), dataset_name="public",
                            destination=dlt.destinations.postgres(credentials=url))
    info = pipeline.run(sql_database(credentials=f"sqlite:///{Path(args.db).resolve()}"), write_disposition="replace")
    info.raise_on_failed_jobs()
    return {"seconds": time.monotonic() - started, "version": dlt.__version__}


STEPS = {"duckdb": duckdb_copy, "dlt": dlt_copy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=STEPS)
    parser.add_argument("--url", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--work", default="")
    args = parser.parse_args()
    Path(args.result).write_text(json.dumps(STEPS[args.step](args)))


if __name__ == "__main__":
    main()
