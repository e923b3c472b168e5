"""What runs inside each measured process of the runbook's steps alone and the limit; `run.py` starts
it and watches its memory (the peers run from bench/peers.py, in their own venv).

    python bench/driver.py limit   --url URL --csv app.csv          --result out.json
    python bench/driver.py prepare --url URL --db app.db --run-dir D --result out.json
    python bench/driver.py load    --url URL --db app.db --run-dir D --result out.json [--workers N]
    python bench/driver.py verify  --url URL --db app.db --run-dir D --result out.json

Each writes {"seconds": <the timed part>, ...} to --result; the process around it is not timed here.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

# The limit's table: the types the runbook's plan gives the demo's mental_items.
TYPED_TABLE = """
CREATE TABLE mental_items (
    id text NOT NULL, kind text NOT NULL, title text NOT NULL, body text, tags jsonb NOT NULL,
    priority bigint NOT NULL, resolved boolean NOT NULL, created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL, resolved_at timestamptz
)"""
CHUNK = 1 << 20


def limit(args) -> dict:
    """A plain COPY of the pre-converted CSV in 1 MB writes, then the primary key."""
    import psycopg

    started = time.monotonic()
    with psycopg.connect(args.url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute(TYPED_TABLE)
            with conn.cursor().copy("COPY mental_items FROM STDIN (FORMAT csv)") as copy, open(args.csv, "rb") as f:
                while chunk := f.read(CHUNK):
                    copy.write(chunk)
            copied = time.monotonic()
            conn.execute("ALTER TABLE mental_items ADD PRIMARY KEY (id)")
        rows = conn.execute("SELECT count(*) FROM mental_items").fetchone()[0]
    done = time.monotonic()
    return {"seconds": done - started, "copy_seconds": copied - started, "index_seconds": done - copied, "rows": rows}


def runbook_params(args):
    from sqlite2neon import Params

    values = {"name": "bench", "sqlite_path": str(Path(args.db).resolve()), "database_url": args.url,
              "env_file": "", "run_dir": str(Path(args.run_dir).resolve()), "if_exists": "fail"}
    if args.workers is not None and "workers" in Params.names():
        values["workers"] = args.workers
    return Params.from_mapping(values)


def prepare(args) -> dict:
    """The inspect and plan notebooks' work, into the run directory the load step reads."""
    from sqlite2neon import plan, source

    params = runbook_params(args)
    started = time.monotonic()
    source.step(params)
    planned = plan.step(params)
    return {"seconds": time.monotonic() - started,
            "types": {c.target: c.pg_type for c in planned.table("mental_items").columns}}


def load(args) -> dict:
    from sqlite2neon import load as load_step

    params = runbook_params(args)
    started = time.monotonic()
    result = load_step.step(params)
    seconds = time.monotonic() - started
    table = result.tables[0]
    return {"seconds": seconds, "rows": table.rows, "copy_seconds": table.seconds,
            "index_seconds": table.index_seconds, "rejected": result.rejected,
            "workers": getattr(params, "workers", None), "batch_rows": params.batch_rows}


def verify(args) -> dict:
    from sqlite2neon import verify as verify_step

    params = runbook_params(args)
    started = time.monotonic()
    result = verify_step.step(params)
    return {"seconds": time.monotonic() - started, "rows": result.tables[0].target_rows, "passed": result.passed}


STEPS = {"limit": limit, "prepare": prepare, "load": load, "verify": verify}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=STEPS)
    parser.add_argument("--url", required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--csv")
    parser.add_argument("--db")
    parser.add_argument("--run-dir")
    parser.add_argument("--workers", type=int)
    args = parser.parse_args()
    Path(args.result).write_text(json.dumps(STEPS[args.step](args)))


if __name__ == "__main__":
    main()
