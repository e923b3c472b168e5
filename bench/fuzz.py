"""Differential fuzzing of the whole runbook, for as long as you give it (issue 12, point 4).

    .venv/bin/python bench/fuzz.py --minutes 10 --out bench/fuzz-out

Generates SQLite databases with `tests/fuzz_sqlite.py` (every generator feature on, a random seed),
migrates each with the runbook's own steps into an embedded PostgreSQL it starts for itself (and
stops at the end), and judges each run with the independent oracle. Every database the oracle
fails is saved into DIR/found/ as `<n>-<kind>.sql` (the script that rebuilds it), `.db` and `.txt`
(what was wrong); the first time a kind of fault is seen, Hypothesis shrinks that database and the
minimal one is saved as DIR/<kind>.sql, .db and .txt. The last line is the summary:

    fuzz: 523 databases in 2.0 min (0.23 s each), 42 failing (0 with a fault not in KNOWN_FAULTS):
    crash-reject_with_invalid_utf8_key_crashes 16, false_alarm-converted_values_collide_on_unique 11, ...

Options: `--seed S` (the first search's seed; later ones follow from it), `--url URL` (a server to use
instead of the embedded one: a database `fuzz_<hex>` is made there and dropped), `--shrink-seconds S`
(how long one kind of fault may be shrunk, default 120; the smallest database so far is kept),
`--no-shrink`. Ctrl-C (or SIGTERM) finishes the database in hand, saves, prints the summary and stops.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TQDM_DISABLE", "1")  # a load's progress bars, thousands of times, would bury the findings
sys.path.insert(0, str(ROOT / "tests"))

import fuzz_sqlite as fz  # noqa: E402


class TimeUp(BaseException):
    """The time is up: a BaseException, so Hypothesis lets it through without shrinking anything."""


class Fuzzer:
    def __init__(self, url: str, out: Path, deadline: float, shrink: bool, shrink_seconds: float = 120):
        self.url, self.out, self.deadline, self.shrink = url, out, deadline, shrink
        self.shrink_seconds = shrink_seconds
        self.shrink_deadline = float("inf")
        self.work = Path(tempfile.mkdtemp(prefix="fuzz-"))
        self.tried = self.failing = self.new = 0
        self.kinds: Counter[str] = Counter()
        self.shrunk: set[str] = set()  # kinds already shrunk once
        self.minimal: dict[str, tuple[fz.Database, fz.Report]] = {}
        self.errors: dict[str, type[AssertionError]] = {}
        (out / "found").mkdir(parents=True, exist_ok=True)

    def fault(self, signature: str) -> type[AssertionError]:
        """One exception class per kind of fault: Hypothesis shrinks each kind on its own."""
        if signature not in self.errors:
            self.errors[signature] = type(f"Fault_{signature}", (AssertionError,), {})
        return self.errors[signature]

    def check(self, db: fz.Database, shrinking: bool) -> None:
        if time.monotonic() > self.deadline or shrinking and time.monotonic() > self.shrink_deadline:
            raise TimeUp()
        self.tried += 1
        report = fz.check_database(db, self.url, self.work)
        failures = report.failures
        if not failures:
            return
        worst = failures[0].signature
        if not shrinking:
            self.failing += 1
            self.new += bool(report.unknown())
            for sig in {f.signature for f in failures}:
                self.kinds[sig] += 1
            self.save(self.out / "found" / f"{self.failing:04d}-{worst}", db, report)
            print(f"[{self.tried}] {report.describe(failures[:3])}", flush=True)
        if self.shrink and worst not in self.shrunk:
            self.minimal[worst] = (db, report)  # the last failing call of a shrink is its minimum
            raise self.fault(worst)(report.describe())

    def save(self, stem: Path, db: fz.Database, report: fz.Report) -> None:
        stem.with_suffix(".sql").write_text(db.script())
        fz.build_sqlite(stem.with_suffix(".db"), db.script())
        stem.with_suffix(".txt").write_text(report.describe(report.failures) + "\n")

    def search(self, seed: int) -> None:
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import seed as with_seed
        from hypothesis.reporting import with_reporter

        phases = [Phase.generate, Phase.shrink] if self.shrink else [Phase.generate]
        state = {"shrinking": False}

        @with_seed(seed)
        @settings(max_examples=10**9, deadline=None, database=None, phases=phases, report_multiple_bugs=True,
                  suppress_health_check=list(HealthCheck), print_blob=False)
        @given(db=fz.databases())
        def run(db):
            try:
                self.check(db, state["shrinking"])
            except AssertionError:
                if not state["shrinking"]:  # from here on Hypothesis only shrinks what it found
                    state["shrinking"] = True
                    self.shrink_deadline = time.monotonic() + self.shrink_seconds
                raise

        before = set(self.minimal)
        self.shrink_deadline = float("inf")
        try:
            with with_reporter(lambda *_: None):
                run()
        except TimeUp:
            pass
        except Exception:  # one fault per kind, shrunk: keep the minimal databases
            pass
        for sig in set(self.minimal) - before:
            db, report = self.minimal[sig]
            self.shrunk.add(sig)
            self.save(self.out / sig, db, report)
            print(f"minimal {sig}: {self.out / sig}.sql ({len(db.script().splitlines())} lines)", flush=True)

    def summary(self, minutes: float) -> str:
        each = (minutes * 60 / self.tried) if self.tried else 0
        kinds = ", ".join(f"{k} {n}" for k, n in self.kinds.most_common()) or "none"
        return (f"fuzz: {self.tried} databases in {minutes:.1f} min ({each:.2f} s each), "
                f"{self.failing} failing ({self.new} with a fault not in KNOWN_FAULTS): {kinds}; saved in {self.out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "fuzz-out")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--url", default="")
    parser.add_argument("--shrink-seconds", type=float, default=120.0)
    parser.add_argument("--no-shrink", action="store_true")
    args = parser.parse_args(argv)

    import psycopg

    from sqlite2neon import embedded

    started = time.monotonic()
    home = None
    server = args.url
    if not server:
        home = Path(tempfile.mkdtemp(prefix="fuzz-pg-"))
        server = embedded.ensure_running(home)
    name = f"fuzz_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{server.rpartition('/')[0]}/{name}"
    fuzzer = Fuzzer(url, args.out.resolve(), started + args.minutes * 60, not args.no_shrink, args.shrink_seconds)

    def stop(*_):  # finish the database in hand (a signal inside psycopg or DuckDB would look like a fault)
        fuzzer.deadline = 0

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    rng = random.Random(args.seed)
    try:
        with fz.unverified_extension_load():
            while time.monotonic() < fuzzer.deadline:
                fuzzer.search(rng.getrandbits(64))
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if home is not None:
            embedded.stop(home, mode="immediate")
            shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(fuzzer.work, ignore_errors=True)
    print(fuzzer.summary((time.monotonic() - started) / 60))
    return 0


if __name__ == "__main__":
    sys.exit(main())
