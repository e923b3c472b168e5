"""Fixtures: a real embedded PostgreSQL for the whole session, a fresh database per test,
and SQLite files written by the tests themselves.

Set SQLITE2NEON_TEST_URL to run the suite against another server (a database URL whose role may
CREATE DATABASE); by default the suite starts its own embedded server in a temporary directory.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from sqlite2neon import embedded
from sqlite2neon.config import Params
from sqlite2neon.demo import make_demo_db

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def server_url(tmp_path_factory) -> str:
    """URL of a server the tests may create databases in."""
    if os.environ.get("SQLITE2NEON_TEST_URL"):
        yield os.environ["SQLITE2NEON_TEST_URL"]
        return
    # Not under pytest's basetemp: another pytest run on the machine resets /tmp/pytest-of-<user> to
    # 0700, and the server's own user could no longer reach its data.
    import shutil
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="sqlite2neon-test-pg-"))
    url = embedded.ensure_running(home)
    yield url
    embedded.stop(home, mode="immediate")
    shutil.rmtree(home, ignore_errors=True)


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
def pg_url(server_url) -> str:
    """A fresh, empty database on the test server, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _with_database(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """The demo database (3,000 items); tests must not write to it."""
    return make_demo_db(tmp_path_factory.mktemp("demo") / "demo.db", items=3000)


@pytest.fixture
def params_for(tmp_path, pg_url):
    """Parameters for a run of `sqlite_path` into the test's own database, recording under tmp_path."""

    def make(sqlite_path: Path, **overrides) -> Params:
        values = {"sqlite_path": str(sqlite_path), "database_url": pg_url,
                  "run_dir": str(tmp_path / "run"), "env_file": ""} | overrides
        return Params.from_mapping(values)

    return make


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project root of the test's own (runs/, data/, .sqlite2neon/) sharing the real notebooks and params."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "notebooks").symlink_to(ROOT / "notebooks")
    (root / "params").symlink_to(ROOT / "params")
    monkeypatch.setenv("SQLITE2NEON_ROOT", str(root))
    for name in ("DATABASE_URL", "DATABASE_URL_DIRECT"):
        monkeypatch.delenv(name, raising=False)
    yield root
    embedded.stop(root / ".sqlite2neon" / "postgres", mode="immediate")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server a test starts)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def user_exists(name: str) -> bool:
    """Whether the machine has this user (servers that refuse to run as root run as one)."""
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def run_cli(*args: str):
    """The CLI as a user calls it, in-process: click's runner keeps stdout and stderr apart."""
    from click.testing import CliRunner

    from sqlite2neon.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def record_of(result) -> Path:
    """The run directory a CLI run printed."""
    text = result.stdout + result.stderr
    marker = "record: "
    line = next(l for l in text.splitlines() if marker in l)
    return Path(line.split(marker, 1)[1].split(" ")[0])


def make_sqlite(path: Path, script: str, rows: dict[str, list[tuple]] | None = None) -> Path:
    """A real SQLite file: `script` for the schema, then `rows` per table."""
    con = sqlite3.connect(path)
    try:
        con.executescript(script)
        for table, values in (rows or {}).items():
            marks = ", ".join("?" * len(values[0]))
            con.executemany(f'INSERT INTO "{table}" VALUES ({marks})', values)
        con.commit()
    finally:
        con.close()
    return path


def runbook_backend(url: str, pattern: str, timeout: float = 90, waiting: bool = False) -> int:
    """The pid of the runbook's backend whose query is like `pattern` (and waits for a lock, when
    `waiting`), once there is one: how a fault test lands its fault in the middle of a COPY or a DDL."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'sqlite2neon' AND query ILIKE %s "
                "AND (NOT %s OR wait_event_type = 'Lock')", [pattern, waiting]).fetchone()
            if row:
                return row[0]
            time.sleep(0.02)
    raise AssertionError(f"no query like {pattern!r} seen")


def load_in_thread(params: Params) -> tuple[threading.Thread, list[BaseException]]:
    """`load.step(params)` started in a thread (a test faults it meanwhile): the thread, and the list
    that receives the exception the load ends with."""
    from sqlite2neon import load

    failure: list[BaseException] = []

    def run() -> None:
        try:
            load.step(params)
        except BaseException as exc:  # the load is expected to fail: kept for the test's assertions
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    return worker, failure


def sqlite_file(path: Path, script: str) -> Path:
    """A SQLite file built the way an issue's inputs are (`sqlite3 x.db < x.sql`)."""
    con = sqlite3.connect(path)
    try:
        con.executescript(script)
        con.commit()
    finally:
        con.close()
    return path


def migrate(params: Params):
    """The runbook's steps 01-04 in this process, as the notebooks run them: (plan, load, verify)."""
    from sqlite2neon import load, plan, source, verify

    source.step(params)
    the_plan = plan.step(params)
    loaded = load.step(params)
    return the_plan, loaded, verify.step(params)


# An exception's class name (LossesNotAccepted:, BinderException:) in what the user reads is a bug.
CLASS_NAME = re.compile(r"\b(?:[A-Z][a-z0-9]+){2,}:")


def first_error_line(stderr: str) -> str:
    """The first line of a failed command's stderr, which must be its reason in words: asserted to
    carry no exception class name."""
    first = stderr.strip().splitlines()[0]
    assert not CLASS_NAME.search(first), first
    return first
