"""The shareable record: report.html per run and runs/index.html, from run directories written by
hand, and from a real run opened in headless Chromium."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from conftest import record_of, run_cli
from sqlite2neon import charts
from sqlite2neon.report import write_index, write_report

CHROMIUM = Path("/usr/bin/chromium")
EVIL = "<script>alert(1)</script>"


class Page(HTMLParser):
    """What a reader sees: the text, each table's rows of cell text, the links, the images, <body>'s attributes."""

    def __init__(self, html: str):
        super().__init__()
        self.text: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.links: list[str] = []
        self.images: list[str] = []
        self.scripts = 0
        self.body: dict[str, str] = {}
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "a":
            self.links.append(attrs["href"])
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag == "script":
            self.scripts += 1
        elif tag == "body":
            self.body = attrs

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())

    def table_with(self, header: str) -> list[list[str]]:
        return next(t for t in self.tables if header in t[0])


def _write(run_dir: Path, files: dict[str, object]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (run_dir / name).write_text(content if isinstance(content, str) else json.dumps(content))
    return run_dir


def _summary(name="demo", status="passed", error=None, finished="2026-11-24T10:15:00+00:00", tables=(), steps=None):
    return {"version": 1, "status": status, "name": name, "source": "/data/app.db",
            "target": "postgresql://app:***@db.example.net/app", "dry_run": False, "finished_at": finished,
            "error": error, "steps": steps if steps is not None else [
                {"notebook": n, "status": "passed", "seconds": s}
                for n, s in [("00_preflight", 1.5), ("01_inspect_source", 2.25), ("02_plan_schema", 1.0),
                             ("03_load", 4.5), ("04_verify", 3.0)]],
            "tables": list(tables), "report": "report.html"}


def _check(name, source_rows, target_rows, match=True, **more):
    """A table of verify.json, with the fields verify.json had before it listed differences and NULLs."""
    return {"source": name, "target": name, "source_rows": source_rows, "target_rows": target_rows,
            "source_checksum": "1", "target_checksum": "1" if match else "2", "seconds": 0.1, "problem": "",
            "rejected_rows": 0, "changed_values": {}, "checksum_match": match} | more


def _reconciled(name, rows, **more):
    return _check(name, rows, rows, buckets=16, differing_buckets=0, differences_total=0, differences=[],
                  complete=True, nulls={}, **more)


def _load_json(*tables):
    return {"run": "r", "seconds": 2.5, "statements": ["TRUNCATE x"], "not_created": [], "skipped": {},
            "tables": [{"source": n, "target": n, "rows": rows, "seconds": secs, "bytes": 1000, "index_seconds": 0.01,
                        "rejected": 0, "changed_values": {}, "rows_per_second": round(rows / secs), "mb_per_second": 0.5}
                       for n, rows, secs in tables]}


PARAMS = {"name": "demo", "sqlite_path": "data/app.db", "database_url": "postgresql://app:***@db.example.net/app",
          "tables": [], "batch_rows": 20000, "fail_on_rejects": True, "target_ddl": ""}
PREFLIGHT = {"target": "postgresql://app:***@db.example.net/app", "target_kind": "neon", "connect_seconds": 0.2,
             "server_version": "17.2", "checks": [{"name": "source file", "status": "PASS", "detail": "opened read-only"},
                                                 {"name": "TLS", "status": "PASS", "detail": "sslmode=require"}]}


def _png(run_dir: Path, stem: str) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar(["source", "target"], [3, 3])
    (run_dir / "charts").mkdir(parents=True, exist_ok=True)
    fig.savefig(run_dir / "charts" / f"{stem}.png")
    plt.close(fig)
    return run_dir / "charts" / f"{stem}.png"


def _full_run(run_dir: Path) -> Path:
    tables = [_reconciled("mental_items", 3000), _reconciled("item_events", 2939)]
    _write(run_dir, {
        "summary.json": _summary(tables=tables), "params.json": PARAMS, "preflight.json": PREFLIGHT,
        "profile.json": {"tables": []}, "plan.json": {"tables": []},
        "load.json": _load_json(("mental_items", 3000, 0.05), ("item_events", 2939, 0.04)),
        "verify.json": {"passed": True, "seconds": 0.34, "fail_on_rejects": True, "tables": tables},
        "rejects.csv": "table,source_key,column,original_value,reason\n",
        "00_preflight.html": "<html></html>", "04_verify.html": "<html></html>",
    })
    _png(run_dir, "timestamp_distributions")
    _png(run_dir, "rows_per_table")
    return run_dir


def test_a_passed_run_reads_verdict_first_then_tables_charts_rejects_timings_parameters(tmp_path):
    run_dir = _full_run(tmp_path / "20261124T101500Z-demo")

    html = write_report(run_dir).read_text()
    page = Page(html)

    text = page.all_text
    order = [text.index(s) for s in ("PASSED", "Tables", "Charts", "Rejected rows", "Timings", "Parameters")]
    assert order == sorted(order)
    assert "FAILED" not in text and "postgresql://app:***@db.example.net/app" in text
    assert "2026-11-24 10:15:00 UTC" in text and "/data/app.db" in text
    assert page.table_with("checksum")[1:] == [
        ["mental_items", "3,000", "3,000", "0", "0", "match", "0", "0"],
        ["item_events", "2,939", "2,939", "0", "0", "match", "0", "0"]]
    # The charts are in the page, rows per table first, and still files beside it.
    pngs = {p.stem: p.read_bytes() for p in (run_dir / "charts").glob("*.png")}
    assert [base64.b64decode(src.split(",", 1)[1]) for src in page.images] == [
        pngs["rows_per_table"], pngs["timestamp_distributions"]]
    assert page.body["data-charts"] == "2" and page.scripts == 1
    assert "No row was rejected." in text
    assert page.table_with("step")[1:] == [
        ["00_preflight", "passed", "1.50"], ["01_inspect_source", "passed", "2.25"], ["02_plan_schema", "passed", "1.00"],
        ["03_load", "passed", "4.50"], ["04_verify", "passed", "3.00"], ["all steps", "", "12.25"]]
    assert page.table_with("rows/s")[1] == ["mental_items", "3,000", "0.05", "60,000", "0.5", "0.01"]
    assert ["batch_rows", "20000"] in page.table_with("parameter") and ["tables", "[]"] in page.table_with("parameter")
    assert "00_preflight.html" in page.links and "04_verify.html" in page.links
    # Nothing of the notebooks' code reaches the page.
    assert "TRUNCATE" not in html and "import" not in text


def test_names_and_values_from_the_data_are_escaped(tmp_path):
    table = _check(EVIL, 2, 1, match=False, problem=f"table {EVIL} differs",
                   differences=[{"kind": "changed", "key": f"id={EVIL}",
                                 "columns": [{"column": "<b>c</b>", "source": "</td></tr><script>x()</script>", "target": "&"}]}],
                   differences_total=1, nulls={"<i>col</i>": [1, 1]})
    run_dir = _write(tmp_path / "run", {
        "summary.json": _summary(name=f"n{EVIL}", status="failed", error=f"04_verify failed: {EVIL}", tables=[table]),
        "verify.json": {"passed": False, "seconds": 1, "tables": [table]},
        "params.json": PARAMS | {"name": f"n{EVIL}", "column_overrides": {EVIL: "text"}},
        "rejects.csv": f'table,source_key,column,original_value,reason\n{EVIL},1,c,"<img src=x onerror=alert(2)>",bad\n',
    })

    html = write_report(run_dir).read_text()
    page = Page(html)

    assert html.count("<script") == 1 and "<img src=x" not in html and "<b>c</b>" not in html
    assert page.scripts == 1 and len(page.images) == 1  # the NULL chart, and no image from the data
    assert EVIL in page.all_text and f"id={EVIL}" in page.all_text
    assert ["changed", f"id={EVIL}", "<b>c</b>", "</td></tr><script>x()</script>", "&"] in page.table_with("kind")
    assert [EVIL, "1", "c", "<img src=x onerror=alert(2)>", "bad"] in page.table_with("reason")
    assert ["column_overrides", json.dumps({EVIL: "text"})] in page.table_with("parameter")


def test_a_failed_run_says_why_and_shows_the_rows_that_differ(tmp_path):
    table = _check("items", 10, 9, match=False, problem="", differences_total=7, nulls={"note": [2, 3], "id": [0, 0]},
                   differences=[
                       {"kind": "missing", "key": "id=4", "columns": []},
                       {"kind": "changed", "key": "id=5", "columns": [{"column": "note", "source": None, "target": "x"},
                                                                      {"column": "at", "source": "2020", "target": "2021"}]},
                       {"kind": "unexpected", "key": "id=99", "columns": []}])
    error = "04_verify failed in cell 5: verification failed for items: source and target differ"
    run_dir = _write(tmp_path / "run", {
        "summary.json": _summary(status="failed", error=error, tables=[table]),
        "verify.json": {"passed": False, "seconds": 1, "mode": "sample", "sample_fraction": 0.1, "tables": [table]},
    })

    page = Page(write_report(run_dir).read_text())

    text = page.all_text
    assert "FAILED" in text and "PASSED" not in text and error in text
    assert "a sample of 10% of the rows" in text
    assert page.table_with("checksum")[1][-3:] == ["DIFFERS", "7", "0"]
    assert "Rows that differ in items (the first 3 of 7)" in text
    assert page.table_with("kind")[1:] == [
        ["missing", "id=4", "", "", ""], ["changed", "id=5", "note", "NULL", "x"],
        ["changed", "id=5", "at", "2020", "2021"], ["unexpected", "id=99", "", "", ""]]
    # The NULL chart is drawn from verify.json when the notebook did not draw it, and embedded.
    assert (run_dir / "charts" / "null_rates.png").exists()
    assert len(page.images) == 1 and page.body["data-charts"] == "1"


def test_null_rates_shows_each_columns_share_of_nulls_source_beside_target(tmp_path):
    verify = {"tables": [_check("a", 10, 8, nulls={"x": [5, 4], "y": [0, 8]}), _check("b", 0, 0, nulls={"z": [0, 0]})]}

    fig = charts.null_rates(verify, tmp_path)

    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a.x", "a.y", "b.z"]
    widths = [p.get_width() for p in ax.patches]
    assert widths == [0.5, 0.0, 0.0, 0.5, 1.0, 0.0]  # source bars, then target bars
    assert (tmp_path / "charts" / "null_rates.png").stat().st_size > 1000
    assert charts.null_rates({"tables": [_check("a", 1, 1)]}, tmp_path / "none") is None
    assert not (tmp_path / "none").exists()


def test_charts_draw_to_files_outside_a_notebook_whatever_matplotlibrc_asks(tmp_path):
    (tmp_path / "matplotlibrc").write_text("backend: TkAgg\nbackend_fallback: False\n")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"} | {"MATPLOTLIBRC": str(tmp_path)}
    code = "import matplotlib, sqlite2neon.charts; print(matplotlib.get_backend())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().lower() == "agg"


def test_a_run_that_failed_in_preflight_shows_the_failed_check_and_what_never_ran(tmp_path):
    preflight = PREFLIGHT | {"checks": PREFLIGHT["checks"] + [
        {"name": "privileges", "status": "FAIL", "detail": "role app may not CREATE in schema public"}]}
    run_dir = _write(tmp_path / "run", {
        "params.json": PARAMS, "preflight.json": preflight,
        "summary.json": _summary(status="failed", error="00_preflight failed in cell 3: preflight failed: privileges",
                                 steps=[{"notebook": "00_preflight", "status": "failed", "seconds": 0.8}]),
    })

    page = Page(write_report(run_dir).read_text())

    text = page.all_text
    assert "FAILED" in text and "preflight failed: privileges" in text
    assert ["privileges", "FAIL", "role app may not CREATE in schema public"] in page.table_with("check")
    assert "No load.json in this record: 03_load did not run or did not finish." in text
    assert "No verify.json in this record: 04_verify did not run or did not finish." in text
    assert "No rejects.csv in this record" in text and "No table was verified." in text
    assert page.table_with("step")[1] == ["00_preflight", "failed", "0.80"]
    assert page.images == [] and "Not in this record: rows per table, source beside target" in text


def test_a_long_list_of_differences_says_it_is_cut_short(tmp_path):
    many = [{"kind": "changed", "key": f"id={i}", "source_key": str(i),
             "columns": [{"column": "n", "source": str(i), "target": "0"}]} for i in range(3)]
    table = _check("big", 10_000, 10_000, match=False, differences=many, differences_total=5000, complete=False)
    run_dir = _write(tmp_path / "run", {"verify.json": {"passed": False, "seconds": 1, "tables": [table]},
                                        "summary.json": _summary(status="failed", error="x", tables=[
                                            {"source": "big", "target": "big", "source_rows": 10_000,
                                             "target_rows": 10_000, "checksum_match": False, "differences": 5000}])})

    page = Page(write_report(run_dir).read_text())

    assert "Rows that differ in big (the first 3 of 5,000+)" in page.all_text
    assert len(page.table_with("kind")) == 4 and page.table_with("checksum")[1][-2] == "5,000"
    # Without verify.json, summary.json's count of differing rows is shown, and no list.
    (run_dir / "verify.json").unlink()
    page = Page(write_report(run_dir).read_text())
    assert page.table_with("checksum")[1][-2] == "5,000" and "Rows that differ" not in page.all_text


def test_a_verify_only_run_shows_its_checks_and_says_the_load_is_not_in_it(tmp_path):
    tables = [_check("items", 5, 5)]
    run_dir = _write(tmp_path / "run", {
        "summary.json": _summary(tables=tables, steps=[{"notebook": "04_verify", "status": "passed", "seconds": 2.0}]),
        "verify.json": {"passed": True, "seconds": 2.0, "tables": tables}, "04_verify.html": "<html></html>",
    })

    page = Page(write_report(run_dir).read_text())

    text = page.all_text
    assert "PASSED" in text and page.table_with("checksum")[1][0] == "items" and "checked every row" in text
    assert page.links == ["04_verify.html"]
    assert "No load.json in this record" in text and "No params.json in this record" in text
    assert "No preflight.json in this record" in text


def test_a_record_with_only_a_summary_or_none_at_all(tmp_path):
    only_summary = _write(tmp_path / "a", {"summary.json": _summary(tables=[_check("items", 5, 5)])})
    page = Page(write_report(only_summary).read_text())
    assert "PASSED" in page.all_text and page.table_with("checksum")[1][:3] == ["items", "5", "5"]
    for name in ("params.json", "preflight.json", "load.json", "verify.json", "rejects.csv"):
        assert f"No {name} in this record" in page.all_text

    no_summary = _write(tmp_path / "b", {"params.json": PARAMS, "summary.json": "{\"status\": "})
    page = Page(write_report(no_summary).read_text())
    assert "NO OUTCOME" in page.all_text and "PASSED" not in page.all_text
    assert "summary.json is unreadable" in page.all_text and ["name", "demo"] in page.table_with("parameter")


def test_index_lists_runs_newest_first_with_links_and_unreadable_summaries(tmp_path):
    runs = tmp_path / "runs"
    older = _full_run(runs / "20260102T000000Z-older")
    _write(older, {"summary.json": _summary(name="older", finished="2026-01-02T00:00:00+00:00")})
    write_report(older)
    _write(runs / "20260301T000000Z-<b>x", {"summary.json": _summary(
        name=EVIL, status="failed", error="x", finished="2026-03-01T00:00:00+00:00")})
    corrupt = _write(runs / "20260201T000000Z-corrupt", {"summary.json": '{"status": "pass'})
    when = datetime(2026, 2, 1, tzinfo=timezone.utc).timestamp()
    os.utime(corrupt / "summary.json", (when, when))
    _write(runs / "interactive-demo", {"params.json": PARAMS})  # no summary: not a finished run
    (runs / "stray.txt").write_text("not a run")

    html = write_index(runs).read_text()
    page = Page(html)

    rows = page.table_with("status")[1:]
    assert [r[1] for r in rows] == [EVIL, "20260201T000000Z-corrupt", "older"]
    assert rows[0][0] == "2026-03-01 00:00:00 UTC" and rows[0][5] == "failed" and rows[2][5] == "passed"
    assert rows[1][5].startswith("unreadable") and rows[2][3] == "/data/app.db"
    assert rows[2][2] == "migration"  # a summary without `kind` (older records) is told by its steps
    assert html.count("<script") == 0 and "interactive-demo" not in html
    assert 'class="failed-text"' in html and 'class="passed-text"' in html
    for link in page.links:
        assert (runs / unquote(link)).exists()
    assert page.links[2] == "20260102T000000Z-older/report.html"
    assert page.links[0] == "20260301T000000Z-%3Cb%3Ex/"


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
    profile.mkdir()
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--allow-file-access-from-files", "--virtual-time-budget=5000", *args],
        capture_output=True, text=True, timeout=180, check=True)


@pytest.mark.slow
def test_a_real_runs_report_and_index_render_in_chromium(project, pg_url, demo_db, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    result = run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(demo_db), "-p", "database_url", pg_url)
    assert result.exit_code == 0, result.stderr
    run_dir = record_of(result)
    summary = json.loads((run_dir / "summary.json").read_text())
    report = run_dir / summary["report"]

    page = Page(_chromium(tmp_path, "--dump-dom", report.as_uri()).stdout)

    assert "PASSED" in page.all_text and "Rows per table, source beside target" in page.all_text
    assert "Each timestamp column's rows per month, source beside target" in page.all_text
    charts_drawn = len(list((run_dir / "charts").glob("*.png")))
    assert page.body["data-charts"] == str(len(page.images)) == str(charts_drawn)
    assert int(page.body["data-charts-rendered"]) == len(page.images) >= 2

    index = run_dir.parent / "index.html"
    listed = Page(_chromium(tmp_path, "--dump-dom", index.as_uri()).stdout)
    assert listed.table_with("status")[1][5] == "passed"
    assert [(index.parent / unquote(link)).resolve() for link in listed.links] == [report.resolve()]

    shot = tmp_path / "report.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,2000", report.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
