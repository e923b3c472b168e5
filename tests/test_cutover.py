"""The cutover: rows the app inserted, changed and deleted in SQLite after the bulk load are carried
over by key, a row written to Postgres meanwhile is a conflict rather than undone, the final
verification passes, the app's API is checked, and the checklist names the backup with its SHA-256.
(Conflicts and their resolutions: test_conflicts.py.)"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest

from conftest import first_error_line, make_sqlite, record_of, run_cli
from sqlite2neon import cutover, load, plan, source, verify
from sqlite2neon.connect import resolve_target


def _write_since_the_load(db) -> dict:
    """What the app does after the load: 5 new items (with events), 3 changed, 2 deleted."""
    con = sqlite3.connect(db)
    with con:
        ids = [r[0] for r in con.execute("SELECT id FROM mental_items ORDER BY id")]
        for i in range(5):
            con.execute("INSERT INTO mental_items (id, kind, title, body, tags, priority, resolved, created_at, "
                        "updated_at) VALUES (?, 'idea', ?, NULL, ?, 2, 0, ?, ?)",
                        [f"zz{i}newitem", f"new {i}", json.dumps(["new", i]), 1_760_000_000 + i, 1_760_000_000 + i])
            con.execute("INSERT INTO item_events (item_id, event, note, at) VALUES (?, 'created', NULL, ?)",
                        [f"zz{i}newitem", 1_760_000_000 + i])
        for key in ids[10:13]:
            con.execute("UPDATE mental_items SET title = title || ' (edited)', tags = '[\"edited\"]', "
                        "updated_at = updated_at + 60 WHERE id = ?", [key])
        for key in ids[20:22]:
            con.execute("DELETE FROM item_events WHERE item_id = ?", [key])
            con.execute("DELETE FROM mental_items WHERE id = ?", [key])
    con.close()
    return {"updated": ids[10:13], "deleted": ids[20:22]}


def _app_db(tmp_path, demo_db):
    db = tmp_path / "app.db"
    shutil.copy(demo_db, db)
    return db


def test_catch_up_carries_inserts_updates_and_deletes_and_verifies(tmp_path, demo_db, params_for, pg):
    db = _app_db(tmp_path, demo_db)
    params = params_for(db)
    source.step(params)
    the_plan = plan.step(params)
    load.step(params)
    assert verify.step(params).passed
    changed = _write_since_the_load(db)
    assert not verify.step(params).passed  # the target is behind the source now

    caught = cutover.catch_up(the_plan, resolve_target(params), params, source_path=db, run="cutover-test")

    per_table = {t.table: (t.inserted, t.updated, t.deleted) for t in caught.tables}
    deleted_events = per_table["item_events"][2]
    assert per_table["mental_items"] == (5, 3, 2)
    assert per_table["item_events"][:2] == (5, 0) and deleted_events > 0
    result = verify.step(params)
    assert result.passed, result.to_json()
    assert pg.execute("SELECT count(*) FROM mental_items WHERE title LIKE '%(edited)'").fetchone()[0] == 3
    assert pg.execute("SELECT count(*) FROM mental_items WHERE id = ANY(%s)", [changed["deleted"]]).fetchone()[0] == 0
    assert pg.execute("SELECT tags FROM mental_items WHERE id = 'zz3newitem'").fetchone()[0] == ["new", 3]
    # the app's next event gets a fresh id: the identity sequence moved past the rows carried over
    new_id = pg.execute("INSERT INTO item_events (item_id, event, at) VALUES ('zz0newitem', 'x', now()) "
                        "RETURNING id").fetchone()[0]
    assert new_id == pg.execute("SELECT max(id) FROM item_events").fetchone()[0]
    # ... and a cutover run again stops on it instead of deleting it: it was written in Postgres
    with pytest.raises(cutover.ConflictsFound) as stopped:
        cutover.catch_up(the_plan, resolve_target(params), params, source_path=db, run="cutover-test-2")
    message = str(stopped.value)
    assert "1 conflict(s)" in message and f"item_events {new_id} (inserted in Postgres)" in message, message
    assert "\n" not in message and "conflicts keep_target" in message and "take_source" in message
    assert pg.execute("SELECT event FROM item_events WHERE id = %s", [new_id]).fetchone() == ("x",)


def test_catch_up_of_tables_without_rowid_or_without_a_key(tmp_path, params_for, pg):
    db = make_sqlite(tmp_path / "odd.db", """
        CREATE TABLE pair (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID;
        CREATE TABLE log (msg TEXT, n INTEGER);
    """, {"pair": [("x'1", 1, "one"), ("x'1", 2, "two"), ("y", 1, "three")],
          "log": [("a", 1), ("a", 1), ("b", 2)]})
    params = params_for(db)
    source.step(params)
    the_plan = plan.step(params)
    load.step(params)
    assert verify.step(params).passed  # the base the cutover compares against
    with sqlite3.connect(db) as con:
        con.execute("UPDATE pair SET v = 'ONE' WHERE a = 'x''1' AND b = 1")
        con.execute("DELETE FROM pair WHERE a = 'y'")
        con.execute("INSERT INTO pair VALUES ('z', 9, 'new')")
        con.execute("INSERT INTO log VALUES ('a', 1), ('c', 3)")
        con.execute("DELETE FROM log WHERE msg = 'b'")
    con.close()

    caught = cutover.catch_up(the_plan, resolve_target(params), params, source_path=db, run="odd")

    assert {t.table: (t.inserted, t.updated, t.deleted) for t in caught.tables} == {
        "pair": (1, 1, 1), "log": (2, 0, 1)}
    assert verify.step(params).passed
    assert sorted(pg.execute("SELECT msg, n FROM log").fetchall()) == [("a", 1), ("a", 1), ("a", 1), ("c", 3)]


class _App(BaseHTTPRequestHandler):
    """A stand-in for the app's own API, answering from the target database like the app would."""
    url = ""
    hide: set = set()
    auth = None  # the last request's Authorization header

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.__class__.auth = self.headers.get("Authorization")
        if self.path == "/health":
            body = json.dumps({"status": "ok"})
        elif self.path == "/api/items":
            with psycopg.connect(self.url) as conn:
                items = [{"id": r[0], "title": r[1]} for r in conn.execute("SELECT id, title FROM mental_items")
                         if r[0] not in self.hide]
            body = json.dumps({"items": items})
        else:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def app_api(pg_url):
    _App.url, _App.hide = pg_url, set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _App)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _App
    server.shutdown()


@pytest.mark.slow
def test_the_cutover_command_levels_the_target_checks_the_api_and_leaves_the_checklist(project, tmp_path, demo_db,
                                                                                        pg_url, app_api):
    api_url, app = app_api
    db = _app_db(tmp_path, demo_db)
    args = ["-f", "params/demo.yaml", "-p", "sqlite_path", str(db), "-p", "database_url", pg_url]
    assert run_cli("run", *args).exit_code == 0
    _write_since_the_load(db)
    digest = hashlib.sha256(db.read_bytes()).hexdigest()

    with_password = api_url.replace("http://", "http://app:api-secret-91@")  # the stand-in ignores it
    result = run_cli("cutover", *args, "-p", "api_url", with_password)

    assert result.exit_code == 0, result.stdout + result.stderr
    record = record_of(result)
    for path in record.rglob("*"):  # no file of the record holds the API's password
        assert not path.is_file() or b"api-secret-91" not in path.read_bytes(), path
    assert app.auth == "Basic " + base64.b64encode(b"app:api-secret-91").decode()  # sent as basic auth
    assert record.name.endswith("-cutover") and sorted(p.name for p in record.glob("*.ipynb")) == ["05_cutover.ipynb"]
    outcome = json.loads((record / "cutover.json").read_text())
    assert {t["table"]: (t["inserted"], t["updated"], t["deleted"]) for t in outcome["catch_up"]["tables"]}[
        "mental_items"] == (5, 3, 2)
    assert outcome["verified"] is True and [c["status"] for c in outcome["api"]] == ["PASS", "PASS"]
    checklist = (record / "checklist.md").read_text()
    assert digest in checklist and str(db) in checklist and "MENTAL_USE_REMOTE=true" in checklist
    assert "roll back" in checklist
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest  # the cutover only read the source
    assert json.loads((record / "summary.json").read_text())["status"] == "passed"
    html = (record / "05_cutover.html").read_text()
    assert "row(s) carried over" in html and digest in html
    report = (record / "report.html").read_text()
    assert "Rows carried over since the last sync" in report and digest in report and "PASSED" in report

    app.hide = {"zz1newitem"}  # an app still reading its old store would not list the new items
    stale = run_cli("cutover", *args, "-p", "api_url", api_url)
    assert stale.exit_code == 1
    line = first_error_line(stale.stderr)
    assert "05_cutover failed" in line and "API items" in line and "zz1newitem" in line, line


def test_rows_written_since_the_load_with_values_the_plan_lists_stop_the_cutover(tmp_path, params_for, pg):
    """A row the app wrote after the load holds a timestamp with nanoseconds, which timestamptz cuts:
    the cutover plans the source as it is now, lists the loss and applies nothing unless it is accepted."""
    from sqlite2neon.errors import LossesNotAccepted

    db = tmp_path / "app.db"
    con = sqlite3.connect(db)
    with con:
        con.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, at DATETIME)")
        con.execute("INSERT INTO events VALUES (1, '2025-07-01 10:00:00.123456'), (2, '2025-07-02 11:00:00')")
    con.close()
    params = params_for(db)
    source.step(params)
    plan.step(params)
    load.step(params)
    assert verify.step(params).passed  # the cutover's base
    con = sqlite3.connect(db)
    with con:
        con.execute("INSERT INTO events VALUES (3, '2025-07-03 12:00:00.123456789')")
    con.close()

    with pytest.raises(LossesNotAccepted, match="value:events.at"):
        cutover.step(params_for(db, run_dir=str(tmp_path / "cutover")))
    assert pg.execute("SELECT count(*) FROM events").fetchone()[0] == 2

    accepted = params_for(db, run_dir=str(tmp_path / "cutover-2"), accept_losses=["value:events.at"])
    outcome = cutover.step(accepted)
    assert outcome["catch_up"].applied
    assert pg.execute("SELECT count(*) FROM events").fetchone()[0] == 3
