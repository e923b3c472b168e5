"""Differential fuzzing of the whole runbook (issue 12, point 4): generated SQLite databases run
through the steps in-process and judged by an oracle written apart from the library
(`fuzz_sqlite.py`); the saved databases it shrank, one per fault, as regressions.

`bench/fuzz.py --minutes N --out DIR` runs the same generator for as long as you like, with a
random seed, and saves every failing database.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings

import fuzz_sqlite as fz

REGRESSIONS = Path(__file__).parent / "fuzz_regressions"
EXAMPLES = 400  # about two minutes on a 2-core machine (see test_fuzz_whole_runbook)


@pytest.fixture(scope="module")
def fuzz_url(server_url):
    """A database of the module's own: each generated database migrates into a schema of its own
    there, dropped after it is judged (cheaper than a database per example)."""
    name = f"fuzz_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    with fz.unverified_extension_load():
        yield f"{server_url.rpartition('/')[0]}/{name}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


class KnownFault(Exception):
    """A regression database still shows the fault it was saved for, and nothing else."""


# --- the fuzz test ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_fuzz_whole_runbook(fuzz_url, fuzz_dir):
    """EXAMPLES generated databases, the same ones every run (derandomized), each migrated by the
    steps and judged. The whole generator is on; what the property tolerates is exactly the faults
    in fz.KNOWN_FAULTS, each with its strict-xfail regression below: any other failure fails here,
    with the database's SQL."""
    seen = {"databases": 0, "known": {}}
    started = time.monotonic()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(db=fz.databases())
    def migrate_and_judge(db):
        seen["databases"] += 1
        report = fz.check_database(db, fuzz_url, fuzz_dir)
        for f in report.failures:
            seen["known"][f.known] = seen["known"].get(f.known, 0) + 1
        unknown = report.unknown()
        assert not unknown, f"{report.describe(unknown)}\n-- the database:\n{db.script()}"

    migrate_and_judge()
    seconds = time.monotonic() - started
    print(f"fuzz: {seen['databases']} databases in {seconds:.0f} s ({seconds / seen['databases']:.2f} s each); "
          f"known faults met: {seen['known']}")


# --- the saved databases --------------------------------------------------------------------------------


def regression_params():
    out = []
    for path in sorted(REGRESSIONS.glob("*.sql")):
        name = path.stem
        if name in fz.KNOWN_FAULTS:
            by_issue, what = fz.KNOWN_FAULTS[name]
            # remove the marker together with the fix: strict, so the fixed fault fails as XPASS
            reason = f"{'issue 12' if by_issue else 'found by fuzzing (issue 12, point 4)'}: {what}"
            out.append(pytest.param(name, marks=pytest.mark.xfail(strict=True, raises=KnownFault, reason=reason)))
        else:
            out.append(name)
    return out


@pytest.mark.parametrize("name", regression_params())
def test_saved_database(name, fuzz_url, fuzz_dir):
    """Each saved database migrates and is judged. While the library still has the fault a database
    was saved for, the test raises KnownFault; a failure that is no known fault fails it for real
    (other known faults a database meets on the way have their own saved databases)."""
    report = fz.check_database((REGRESSIONS / f"{name}.sql").read_text(), fuzz_url, fuzz_dir)
    if any(f.known == name for f in report.failures):
        raise KnownFault(report.describe())
    assert not report.unknown(), report.describe(report.unknown())


def test_every_known_fault_has_a_saved_database():
    saved = {p.stem for p in REGRESSIONS.glob("*.sql")}
    assert saved >= set(fz.KNOWN_FAULTS), f"no saved database for {sorted(set(fz.KNOWN_FAULTS) - saved)}"


# --- the oracle can fail -----------------------------------------------------------------------------------


def test_the_oracle_sees_a_value_changed_after_a_clean_migration(fuzz_url, fuzz_dir):
    """A clean migration judged clean; the same target with one value changed behind the runbook's
    back is a silent change (verification is not asked again: its verdict stays 'passed')."""
    script = ("CREATE TABLE items (id INTEGER PRIMARY KEY, title TEXT, created_at INTEGER, tags JSON, price DECIMAL(6,2));\n"
              "INSERT INTO items VALUES (1, 'café', 1700000000, '{\"b\": 1, \"a\": [1, 2.50]}', 12.34);\n"
              "INSERT INTO items VALUES (2, 'a' || char(0) || 'b', 1700000001, '[]', NULL);\n")
    path = fz.build_sqlite(fuzz_dir / "clean.db", script)
    schema = f"f{uuid.uuid4().hex[:10]}"
    outcome = fz.run_runbook(path, fuzz_url, fuzz_dir / f"run-{schema}", schema)
    assert outcome.passed and not fz.judge(path, fuzz_url, outcome).failures
    with psycopg.connect(fuzz_url, autocommit=True) as conn:
        conn.execute(f'UPDATE "{schema}".items SET created_at = created_at + interval \'1 microsecond\' WHERE id = 2')
    found = fz.judge(path, fuzz_url, outcome).failures
    assert [(f.kind, f.column, f.key) for f in found] == [("silent_change", "created_at", "2")]


@pytest.mark.parametrize("cls, value, pg_type, target, same", [
    ("integer", 1700000000, "timestamp with time zone", 1700000000 * 10**6, True),
    ("integer", 1700000000123, "timestamp with time zone", 1700000000123 * 10**3, True),
    ("integer", 1700000000123, "timestamp with time zone", 1700000000123 * 10**6, False),
    ("text", b"2024-01-01 10:00:00+05:30", "timestamp with time zone", 1704083400 * 10**6, True),
    ("text", b"2024-01-01T10:00:00.1234567Z", "timestamp with time zone", 1704103200123456, False),
    ("text", b"2024-01-01 10:00:00+0530", "timestamp with time zone", 1704083400 * 10**6, False),  # SQLite: NULL
    ("text", b" 2024-01-01 10:00:00", "timestamp with time zone", 1704103200 * 10**6, False),  # SQLite: NULL
    ("text", b"2024-02-29T24:00:00", "timestamp with time zone", 1709251200 * 10**6, True),  # SQLite: 1 March
    ("real", 2460310.9166666665, "timestamp with time zone", 1704103200 * 10**6, True),  # a Julian day, SQLite's ms
    ("real", 2460310.9166666665, "timestamp with time zone", 2460310916666, False),  # not unix seconds
    ("real", 1700000000.1234567, "timestamp with time zone", 1700000000123457, False),  # beyond microseconds
    ("real", 1700000000.123456, "timestamp with time zone", 1700000000123456, True),
    ("real", -0.0, "double precision", 0.0, True),  # README: -0.0 arrives as 0
    ("real", 0.1 + 0.2, "numeric(5,2)", fz.Decimal("0.30"), False),
    ("real", 1.5, "numeric(5,2)", fz.Decimal("1.50"), True),
    ("integer", 2**53 + 1, "double precision", float(2**53), False),
    ("text", b'{"a": 1, "b": [true]}', "jsonb", '{"b": [true], "a": 1}', True),
    ("text", b'{"a": 1}', "jsonb", '{"a": true}', False),
    ("text", b"a\x00b\xff", "text", "a\ufffdb\ufffd", True),
    ("integer", 1, "boolean", True, True),
    ("blob", b"\x00\xff", "bytea", b"\x00\xff", True),
])
def test_the_oracle_reads_values_as_documented(cls, value, pg_type, target, same):
    assert fz.expect(cls, value, pg_type).matches(target) is same


def test_affinity_follows_sqlite_rules():
    """https://www.sqlite.org/datatype3.html section 3.1, including its own examples."""
    assert [fz.affinity(t) for t in ("INT", "UNSIGNED BIG INT", "VARCHAR(20)", "CLOB", "BLOB", "", "DOUBLE PRECISION",
                                     "FLOATING POINT", "STRING", "DECIMAL(5,2)", "DATETIME", "BOOLEAN")] == [
        "INTEGER", "INTEGER", "TEXT", "TEXT", "BLOB", "BLOB", "REAL", "INTEGER", "NUMERIC", "NUMERIC", "NUMERIC", "NUMERIC"]
