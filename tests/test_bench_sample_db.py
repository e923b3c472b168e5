"""The benchmark's small database (bench/sample_db.py): 13 tables and 16 views the runbook plans
without a loss, made the same way every time."""

from __future__ import annotations

import sqlite3
import sys

from conftest import ROOT
from sqlite2neon import plan, source

sys.path.insert(0, str(ROOT / "bench"))
from sample_db import SAMPLE_ROWS, VIEW_COUNT, make_sample_db, sample_rows  # noqa: E402


def test_sample_db_has_its_tables_rows_and_views_and_plans_without_a_loss(tmp_path, params_for):
    db = make_sample_db(tmp_path / "sample.db")
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in SAMPLE_ROWS}
        views = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'view'")]
        assert all(con.execute(f"SELECT count(*) FROM {v}").fetchone()[0] > 0 for v in views)
    finally:
        con.close()
    assert counts == SAMPLE_ROWS and len(SAMPLE_ROWS) == 13 and 3000 <= sum(counts.values()) <= 3500
    assert len(views) == VIEW_COUNT == 16

    params = params_for(db, target_schema="sample")
    source.step(params)
    the_plan = plan.step(params)
    assert {t.source: t.rows for t in the_plan.tables} == SAMPLE_ROWS
    assert sorted(v.source for v in the_plan.views if v.sql is not None) == sorted(views)
    assert [(x.item, x.reason) for x in the_plan.losses] == []


def test_sample_db_is_the_same_every_time():
    assert sample_rows() == sample_rows()
    assert sample_rows(1) != sample_rows()
