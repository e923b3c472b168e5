"""Bad input gets a clear one-line error that says what to do, and nothing is written to the target."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import sys
import time

import psycopg
import pytest

from conftest import first_error_line, record_of, run_cli
from sqlite2neon.config import Params
from sqlite2neon.demo import make_demo_db
from sqlite2neon.errors import RunbookError
from sqlite2neon.preflight import FAIL, run_preflight
from sqlite2neon.source import inspect_source


@pytest.fixture(scope="module")
def demo_bytes(tmp_path_factory) -> bytes:
    return make_demo_db(tmp_path_factory.mktemp("bad") / "demo.db", items=2000).read_bytes()


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text
    return text


def test_a_truncated_file_says_it_is_damaged_and_how_to_recover(tmp_path, demo_bytes):
    path = tmp_path / "truncated.db"
    path.write_bytes(demo_bytes[: len(demo_bytes) // 3])
    with pytest.raises(RunbookError) as exc:
        inspect_source(path)
    assert "damaged" in _one_line(exc.value) and ".recover" in str(exc.value)


def test_a_corrupted_file_fails_the_integrity_check_in_one_line(tmp_path, demo_bytes):
    damaged = bytearray(demo_bytes)
    damaged[8192:12288] = b"\xff" * 4096  # one page of the table overwritten
    path = tmp_path / "corrupted.db"
    path.write_bytes(bytes(damaged))
    with pytest.raises(RunbookError) as exc:
        inspect_source(path)
    message = _one_line(exc.value)
    assert "integrity check" in message and ".recover" in message and len(message) < 400


def test_a_file_locked_by_a_writer_says_so(tmp_path, demo_bytes):
    path = tmp_path / "locked.db"
    path.write_bytes(demo_bytes)
    with _locked_by_a_writer(path):
        started = time.monotonic()
        with pytest.raises(RunbookError) as exc:
            inspect_source(path)
        assert "locked by a program writing to it" in _one_line(exc.value)
        assert time.monotonic() - started < 30  # a bounded wait, not a hang


@contextlib.contextmanager
def _locked_by_a_writer(path):
    """Another process holding an exclusive write transaction on `path`, as an app in mid-write does."""
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, time\n"
         f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
         "c.execute('BEGIN EXCLUSIVE'); c.execute(\"INSERT INTO item_events (item_id, event, at) VALUES ('x', 'y', 1)\")\n"
         "print('locked', flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "locked"
        yield
    finally:
        writer.kill()
        writer.wait()


def test_rows_still_in_the_wal_file_are_read(tmp_path):
    """An app that stopped without a checkpoint leaves its last writes in app.db-wal: they count."""
    copy = _wal_database(tmp_path)
    wal_before = hashlib.sha256((tmp_path / "app.db-wal").read_bytes()).hexdigest()
    db_before = hashlib.sha256(copy.read_bytes()).hexdigest()
    assert inspect_source(copy).table("notes").rows == 250
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == db_before
    assert hashlib.sha256((tmp_path / "app.db-wal").read_bytes()).hexdigest() == wal_before


def _wal_database(tmp_path):
    """app.db whose 250 rows are all still in app.db-wal (copied while the writer had it open)."""
    import shutil
    import sqlite3

    live = tmp_path / "live.db"
    con = sqlite3.connect(live)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    con.executemany("INSERT INTO notes VALUES (?, ?)", [(i, f"note {i}") for i in range(250)])
    con.commit()
    copy = tmp_path / "app.db"
    shutil.copy(live, copy)
    shutil.copy(f"{live}-wal", f"{copy}-wal")  # the main file alone holds no row yet
    con.close()
    return copy


def test_a_server_without_tls_when_tls_is_required_fails_in_preflight(demo_db, pg_url):
    params = Params(sqlite_path=str(demo_db), database_url=pg_url + "?sslmode=require", env_file="",
                    connect_wait=0)
    report = run_preflight(params)
    connect = [c for c in report.checks if c.name == "connect"]
    assert connect and connect[0].status == FAIL and "SSL" in connect[0].detail.upper()


@pytest.mark.slow
def test_a_damaged_source_stops_the_cli_with_nothing_written(project, tmp_path, demo_bytes, pg_url):
    path = tmp_path / "truncated.db"
    path.write_bytes(demo_bytes[: len(demo_bytes) // 3])

    result = run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(path), "-p", "database_url", pg_url)

    assert result.exit_code == 1
    assert "damaged" in result.stderr.splitlines()[0]
    assert record_of(result).exists()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()[0] == 0


# The same bad inputs through the command line, as a user meets them: the first line of stderr says
# what is wrong, the exit status is 1, and the target holds no table afterwards.

def _public_tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")]


def _run(source, url: str, *extra: str):
    return run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(source), "-p", "database_url", url, *extra)


def _assert_failed_cleanly(result, url: str, *words: str) -> str:
    assert result.exit_code == 1, result.stdout + result.stderr
    first = first_error_line(result.stderr)
    assert first.startswith("sqlite2neon: ") and all(w in first for w in words), first
    assert _public_tables(url) == []
    return first


@pytest.mark.slow
def test_cli_a_database_without_tables(project, tmp_path, pg_url):
    import sqlite3

    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("PRAGMA user_version = 1").connection.close()  # a valid file, no table
    _assert_failed_cleanly(_run(empty, pg_url), pg_url, "no tables")


@pytest.mark.slow
def test_cli_a_table_filter_that_matches_nothing(project, tmp_path, pg_url, demo_bytes):
    path = tmp_path / "app.db"
    path.write_bytes(demo_bytes)
    first = _assert_failed_cleanly(_run(path, pg_url, "-p", "tables", "mental_itemz"), pg_url, "mental_itemz")
    assert "mental_items" in first  # the tables it does have, to pick from


@pytest.mark.slow
def test_cli_a_file_locked_by_a_writer(project, tmp_path, pg_url, demo_bytes):
    path = tmp_path / "locked.db"
    path.write_bytes(demo_bytes)
    with _locked_by_a_writer(path):
        _assert_failed_cleanly(_run(path, pg_url), pg_url, "locked by a program writing to it")


@pytest.mark.slow
def test_cli_an_unreachable_host_fails_within_the_timeout(project, demo_db):
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://app:secret-pw-77@127.0.0.1:{port}/app"
    started = time.monotonic()
    result = _run(demo_db, url, "-p", "connect_wait", "4", "-p", "connect_timeout", "3")
    assert result.exit_code == 1
    first = first_error_line(result.stderr)
    assert "00_preflight failed" in first and "127.0.0.1" in first and "secret-pw-77" not in result.stderr, first
    assert time.monotonic() - started < 90  # retries with backoff, bounded


@pytest.mark.slow
def test_cli_migrates_the_rows_still_in_the_wal_file_and_leaves_both_files_as_they_were(project, tmp_path, pg_url):
    copy = _wal_database(tmp_path)
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (copy, tmp_path / "app.db-wal")}

    result = _run(copy, pg_url)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in before} == before
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*), max(body) FROM notes").fetchone() == (250, "note 99")


@pytest.mark.slow
def test_cli_a_server_without_tls_when_tls_is_required(project, demo_db, pg_url):
    result = _run(demo_db, pg_url + "?sslmode=require")
    assert result.exit_code == 1
    first = first_error_line(result.stderr)
    assert first.startswith("sqlite2neon: cannot connect") and "SSL" in first.upper(), first
    assert _public_tables(pg_url) == []


@pytest.mark.slow
def test_cli_a_host_name_that_does_not_resolve_fails_at_once(project, demo_db):
    """A misspelt host does not start to exist by waiting: no connect_wait of retries (it took 28 s)."""
    started = time.monotonic()
    result = _run(demo_db, "postgresql://app:secret-pw-78@no-such-host.invalid/app?sslmode=require", "-p", "connect_wait", "30")
    assert result.exit_code == 1
    first = first_error_line(result.stderr)
    assert first.startswith("sqlite2neon: cannot connect") and "no-such-host.invalid" in first, first
    assert "secret-pw-78" not in result.stderr
    assert time.monotonic() - started < 15
