"""A second run into the same target schema from a SQLite database whose schema changed: a table an
earlier run created is made again from the new plan (no stale CHECK, UNIQUE or index), a table the app
or target_ddl made is never dropped, a view whose columns or query changed is replaced, a view that
cannot be created fails the run, and view verification compares the view's own columns. Real SQLite
files, the real PostgreSQL fixture."""

from __future__ import annotations

import pytest

from conftest import migrate, sqlite_file
from sqlite2neon import load, plan, source, verify
from sqlite2neon.errors import TargetError, TargetNotEmpty

# the attack cases stale2 and vstale2 (issue 12): NAME.first.sql, then NAME.sql
STALE2_FIRST = """CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER CHECK (a > 0), s TEXT UNIQUE);
INSERT INTO t VALUES (1, 5, 'x');
CREATE INDEX t_a ON t(a);"""
STALE2 = """CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, s TEXT);
INSERT INTO t VALUES (1, 5, 'x');"""
VSTALE2_FIRST = """CREATE TABLE p(id INTEGER PRIMARY KEY, price INTEGER, qty INTEGER);
INSERT INTO p VALUES (1, 10, 2), (2, 30, 0);
CREATE VIEW v AS SELECT id, price * qty AS total, price AS unit FROM p;"""
VSTALE2 = """CREATE TABLE p(id INTEGER PRIMARY KEY, price INTEGER, qty INTEGER);
INSERT INTO p VALUES (1, 10, 2), (2, 30, 0), (3, 5, -1);
CREATE VIEW v AS SELECT id, price * qty AS total FROM p WHERE qty >= 0;"""


def _two_runs(tmp_path, params_for, first: str, second: str, **overrides):
    """The first database migrated, then the second into the same schema: (plan, load, verify) of the second."""
    one = sqlite_file(tmp_path / "first.db", first)
    the_plan, _, verified = migrate(params_for(one, run_dir=str(tmp_path / "run1"), if_exists="truncate"))
    assert verified.passed, verified
    two = sqlite_file(tmp_path / "second.db", second)
    return migrate(params_for(two, run_dir=str(tmp_path / "run2"), if_exists="truncate", **overrides))


def _constraints(pg, table: str) -> set[str]:
    return {r[0] for r in pg.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype <> 'n'", [table])}


def _indexes(pg, table: str) -> set[str]:
    return {r[0] for r in pg.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [table])}


def _view_columns(pg, view: str) -> list[str]:
    return [r[0] for r in pg.execute("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                                     "ORDER BY attnum", [view])]


def test_stale2_a_table_the_runbook_made_is_made_again_without_the_old_check_unique_and_index(tmp_path, params_for, pg):
    _, loaded, verified = _two_runs(tmp_path, params_for, STALE2_FIRST, STALE2)

    assert verified.passed
    assert _constraints(pg, "t") == {"t_pkey"} and _indexes(pg, "t") == {"t_pkey"}
    # Postgres takes rows SQLite takes: a negative a, a repeated s
    pg.execute("INSERT INTO t VALUES (2, -1, 'x')")
    assert [t.target for t in loaded.tables] == ["t"] and not loaded.skipped


def test_stale2_the_plan_says_the_table_is_made_again(tmp_path, params_for, pg):
    the_plan, _, _ = _two_runs(tmp_path, params_for, STALE2_FIRST, STALE2)

    t = the_plan.table("t")
    assert t.replace and any("dropped and created again" in n for n in t.notes)


def test_stale2_with_if_exists_fail_a_filled_table_is_refused_and_left_as_it_was(tmp_path, params_for, pg):
    one = sqlite_file(tmp_path / "first.db", STALE2_FIRST)
    migrate(params_for(one, run_dir=str(tmp_path / "run1")))
    oid = pg.execute("SELECT 't'::regclass::oid").fetchone()[0]
    two = params_for(sqlite_file(tmp_path / "second.db", STALE2), run_dir=str(tmp_path / "run2"))
    source.step(two)
    plan.step(two)

    with pytest.raises(TargetNotEmpty, match="already hold rows"):
        load.step(two)

    assert pg.execute("SELECT 't'::regclass::oid").fetchone()[0] == oid
    assert _constraints(pg, "t") == {"t_pkey", "t_check1"} and _indexes(pg, "t") == {"t_pkey", "t_s_key", "t_a"}


def test_stale2_with_if_exists_append_the_table_is_loaded_into_not_dropped(tmp_path, params_for, pg):
    one = sqlite_file(tmp_path / "first.db", STALE2_FIRST)
    migrate(params_for(one, run_dir=str(tmp_path / "run1")))
    oid = pg.execute("SELECT 't'::regclass::oid").fetchone()[0]
    pg.execute("DELETE FROM t")  # room for the second run's row
    two = params_for(sqlite_file(tmp_path / "second.db", STALE2), run_dir=str(tmp_path / "run2"), if_exists="append")
    source.step(two)
    assert not plan.step(two).table("t").replace
    load.step(two)

    assert pg.execute("SELECT 't'::regclass::oid").fetchone()[0] == oid
    assert pg.execute("SELECT count(*) FROM t").fetchone()[0] == 1


@pytest.mark.parametrize("made_by", ["app", "target_ddl"])
def test_a_table_the_app_or_target_ddl_made_is_never_dropped(tmp_path, params_for, pg, made_by):
    ddl = ("CREATE TABLE IF NOT EXISTS t (id bigint PRIMARY KEY, a bigint CHECK (a > 0), s text UNIQUE); "
           "CREATE INDEX IF NOT EXISTS t_a ON t (a)")
    overrides = {}
    if made_by == "app":
        pg.execute(ddl)
    else:
        (tmp_path / "target.sql").write_text(ddl)
        overrides["target_ddl"] = str(tmp_path / "target.sql")
    one = sqlite_file(tmp_path / "first.db", STALE2_FIRST)
    the_plan, _, verified = migrate(params_for(one, run_dir=str(tmp_path / "run1"), if_exists="truncate", **overrides))
    assert verified.passed and the_plan.table("t").exists
    oid = pg.execute("SELECT 't'::regclass::oid").fetchone()[0]
    two = sqlite_file(tmp_path / "second.db", STALE2)

    the_plan, _, verified = migrate(params_for(two, run_dir=str(tmp_path / "run2"), if_exists="truncate", **overrides))

    t = the_plan.table("t")
    assert t.exists and not t.owned and not t.replace
    assert verified.passed
    assert pg.execute("SELECT 't'::regclass::oid").fetchone()[0] == oid
    assert _constraints(pg, "t") == {"t_a_check", "t_s_key", "t_pkey"} and "t_a" in _indexes(pg, "t")
    assert pg.execute("SELECT count(*) FROM t").fetchone()[0] == 1


def test_a_table_only_marked_by_its_comment_is_not_the_runbooks(tmp_path, params_for, pg):
    """The comment alone (say, copied with a dump) does not make a table the runbook's: its state must
    record it too, or the table is adopted, never dropped."""
    pg.execute("CREATE TABLE t (id bigint PRIMARY KEY, a bigint, s text)")
    pg.execute(f"COMMENT ON TABLE t IS '{plan.OWNED_MARK}t'")
    params = params_for(sqlite_file(tmp_path / "second.db", STALE2), if_exists="truncate")
    source.step(params)

    assert not plan.step(params).table("t").replace


def test_vstale2_a_view_whose_columns_changed_is_replaced(tmp_path, params_for, pg):
    _, loaded, verified = _two_runs(tmp_path, params_for, VSTALE2_FIRST, VSTALE2)

    assert verified.passed and loaded.not_created == []
    assert _view_columns(pg, "v") == ["id", "total"]
    assert sorted(pg.execute("SELECT id, total FROM v").fetchall()) == [(1, 20), (2, 0)]


def test_a_view_over_an_adopted_table_is_dropped_and_made_again(tmp_path, params_for, pg):
    """The table stays (the app made it); the view the first run made is replaced, not kept."""
    pg.execute("CREATE TABLE p (id bigint PRIMARY KEY, price bigint, qty bigint)")
    _, loaded, verified = _two_runs(tmp_path, params_for, VSTALE2_FIRST, VSTALE2)

    assert verified.passed
    assert _view_columns(pg, "v") == ["id", "total"]
    assert any(s.startswith("DROP VIEW") for s in loaded.statements)
    assert sorted(pg.execute("SELECT id, total FROM v").fetchall()) == [(1, 20), (2, 0)]


def test_a_view_that_cannot_be_created_fails_the_load_and_no_view_changes(tmp_path, params_for, pg):
    """The app's own view of that name, with other columns: CREATE OR REPLACE cannot change it, and
    the runbook does not drop what it did not make."""
    pg.execute("CREATE TABLE p (id bigint PRIMARY KEY, price bigint, qty bigint)")
    pg.execute("CREATE VIEW v AS SELECT id, price * qty AS total, price AS unit FROM p")
    params = params_for(sqlite_file(tmp_path / "app.db", VSTALE2), if_exists="truncate")
    source.step(params)
    plan.step(params)

    with pytest.raises(TargetError) as failed:
        load.step(params)

    message = str(failed.value)
    assert "\n" not in message and message.startswith("view v could not be created")
    assert "was not created by this runbook" in message
    assert _view_columns(pg, "v") == ["id", "total", "unit"]


def test_view_verification_compares_the_views_own_columns(tmp_path, params_for, pg):
    params = params_for(sqlite_file(tmp_path / "app.db", VSTALE2))
    migrate(params)
    # an extra column, the planned ones unchanged: the planned columns alone read the same rows
    pg.execute("CREATE OR REPLACE VIEW v AS SELECT id, price * qty AS total, price AS unit FROM p WHERE qty >= 0")

    verified = verify.step(params)

    assert not verified.passed
    check = next(v for v in verified.views if v.view == "v")
    assert check.problem == "its columns in Postgres are (id, total, unit), the plan's are (id, total)"


PARENT_CHILD = """CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT {unique});
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id), n INTEGER {check});
INSERT INTO parent VALUES (1, 'a'), (2, 'b');
INSERT INTO child VALUES (1, 1, 3), (2, 2, 4);
CREATE VIEW both_ AS SELECT c.id, p.name FROM child c JOIN parent p ON p.id = c.parent_id;"""


def test_tables_a_foreign_key_and_a_view_join_are_made_again_with_their_key(tmp_path, params_for, pg):
    """Dropping the referenced table takes the runbook's foreign key and view with it (CASCADE, as
    both are the plan's and made again after the tables)."""
    _, loaded, verified = _two_runs(tmp_path, params_for, PARENT_CHILD.format(unique="UNIQUE", check="CHECK (n > 0)"),
                                    PARENT_CHILD.format(unique="", check=""))

    assert verified.passed and [t.target for t in loaded.tables] == ["parent", "child"]
    assert _indexes(pg, "parent") == {"parent_pkey"} and _constraints(pg, "child") == {"child_pkey", "child_parent_id_fkey"}
    assert _view_columns(pg, "both_") == ["id", "name"]


def test_a_view_someone_else_made_over_the_runbooks_table_keeps_it_from_being_dropped(tmp_path, params_for, pg):
    one = sqlite_file(tmp_path / "first.db", STALE2_FIRST)
    migrate(params_for(one, run_dir=str(tmp_path / "run1"), if_exists="truncate"))
    pg.execute("CREATE VIEW report AS SELECT a FROM t")
    oid = pg.execute("SELECT 't'::regclass::oid").fetchone()[0]
    two = params_for(sqlite_file(tmp_path / "second.db", STALE2), run_dir=str(tmp_path / "run2"), if_exists="truncate")
    source.step(two)
    plan.step(two)

    with pytest.raises(TargetError) as failed:
        load.step(two)

    assert str(failed.value).startswith("public.t (created by an earlier run) is to be made again from the new plan, "
                                        "but view public.report depend(s) on it and would be lost;")
    assert pg.execute("SELECT 't'::regclass::oid").fetchone()[0] == oid
    assert pg.execute("SELECT count(*) FROM report").fetchone()[0] == 1


def test_a_plan_that_replaces_a_table_is_not_loaded_with_if_exists_append(tmp_path, params_for, pg):
    one = sqlite_file(tmp_path / "first.db", STALE2_FIRST)
    migrate(params_for(one, run_dir=str(tmp_path / "run1")))
    oid = pg.execute("SELECT 't'::regclass::oid").fetchone()[0]
    two = sqlite_file(tmp_path / "second.db", STALE2)
    planned = params_for(two, run_dir=str(tmp_path / "run2"), if_exists="truncate")
    source.step(planned)
    plan.step(planned)

    with pytest.raises(TargetError, match="which if_exists append does not allow; nothing was changed"):
        load.step(params_for(two, run_dir=str(tmp_path / "run2"), if_exists="append"))

    assert pg.execute("SELECT 't'::regclass::oid").fetchone()[0] == oid
