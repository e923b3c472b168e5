"""The run's report: one self-contained HTML page a person reads instead of the notebooks, and
`runs/index.html` listing every run. Everything shown comes from the run directory; a run that
stopped early shows what it wrote and says what is missing.

    >>> write_report(Path("runs/20261124T101500Z-demo"))
    PosixPath('runs/20261124T101500Z-demo/report.html')
    >>> write_index(Path("runs"))
    PosixPath('runs/index.html')
"""

from __future__ import annotations

import base64
import csv
import json
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from urllib.parse import quote

from . import record
from .errors import one_line

# What writes each file of the record, for saying why one is missing.
WRITTEN_BY = {
    "params.json": "the runner, before the first step",
    "preflight.json": "00_preflight",
    "profile.json": "01_inspect_source",
    "plan.json": "02_plan_schema",
    "load.json": "03_load",
    "rejects.csv": "03_load",
    "verify.json": "04_verify",
    "summary.json": "the runner, when the run ends",
}
# The files each kind of run writes: a verify or a cutover has no preflight or load of its own.
EXPECTED = {
    "migration": set(WRITTEN_BY),
    "dry run": {"params.json", "preflight.json", "profile.json", "plan.json", "summary.json"},
    "verify": {"params.json", "verify.json", "summary.json"},
    "cutover": {"params.json", "verify.json", "summary.json"},
    "cutover dry run": {"params.json", "summary.json"},
}
# Charts in reading order: file stem -> (what it shows, what draws it). Others in charts/ follow.
CHARTS = {
    "rows_per_table": ("Rows per table, source beside target", "04_verify"),
    "timestamp_distributions": ("Each timestamp column's rows per month, source beside target",
                                "04_verify, when a table has timestamp columns"),
    "null_rates": ("Share of NULLs per column, source beside target", "04_verify, when it counts NULLs"),
    "source_rows": ("Rows per table in the SQLite source", "01_inspect_source"),
}
REJECTS_SHOWN = 50
# Sets data-charts-rendered on <body> to the number of charts the browser could decode.
CHART_CHECK = """window.addEventListener("load", function () {
  var shown = 0;
  document.querySelectorAll("img.chart").forEach(function (img) { if (img.naturalWidth > 0) shown++; });
  document.body.setAttribute("data-charts-rendered", shown);
});"""
CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; margin: 0 auto;
       max-width: 1100px; padding: 1.5em 2em 4em; }
h1 { font-size: 1.3em; margin: 0 0 .2em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #d8dce4; }
h3 { font-size: 1em; margin-top: 1.4em; }
.verdict { border-radius: 8px; padding: 1em 1.4em; margin-bottom: 1em; }
.verdict .big { font-size: 2.6em; font-weight: 800; letter-spacing: .04em; }
.verdict.passed { background: #e6f4ea; border: 2px solid #2e7d32; } .verdict.passed .big { color: #2e7d32; }
.verdict.failed { background: #fdecea; border: 2px solid #c62828; } .verdict.failed .big { color: #c62828; }
.verdict.interrupted { background: #fff4e5; border: 2px solid #b26a00; } .verdict.interrupted .big { color: #8a5200; }
.interrupted-text { color: #8a5200; font-weight: 700; }
.verdict.unknown { background: #f1f2f5; border: 2px solid #737a88; } .verdict.unknown .big { color: #4a505c; }
.verdict .error { font-weight: 600; color: #8e1c1c; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1.2em; margin: .6em 0 0; }
dt { color: #5b6270; } dd { margin: 0; overflow-wrap: break-word; }
table { border-collapse: collapse; margin: .5em 0; font-size: .93em; }
th, td { border: 1px solid #d8dce4; padding: .25em .6em; text-align: left; vertical-align: top; overflow-wrap: break-word; }
th { background: #f4f5f8; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.passed-text, .PASS, .match { color: #2e7d32; font-weight: 600; }
.failed-text, .FAIL, .DIFFERS { color: #c62828; font-weight: 700; } .WARN { color: #a65e00; font-weight: 600; }
.PASS, .WARN, .FAIL, .match, .DIFFERS { white-space: nowrap; }
.null { color: #737a88; font-style: italic; } .missing { color: #5b6270; font-style: italic; }
figure { margin: 1em 0 2em; } figcaption { color: #5b6270; margin-bottom: .3em; }
img.chart { max-width: 100%; border: 1px solid #e4e7ec; }
pre.checklist { white-space: pre-wrap; background: #f7f8fa; border: 1px solid #e4e7ec; padding: .8em 1em; }
"""


def write_report(run_dir: Path) -> Path:
    """Write `run_dir/report.html` from whatever the run recorded."""
    run_dir = Path(run_dir)
    loaded = {name: _load(run_dir / name) for name in WRITTEN_BY if name.endswith(".json")}
    found = {name: data for name, (data, _) in loaded.items()}
    absent = {name: why for name, (_, why) in loaded.items() if why}
    if not (run_dir / "rejects.csv").exists():
        absent["rejects.csv"] = "missing"
    summary, verify = found["summary.json"], found["verify.json"]
    charts = _chart_files(run_dir, verify)
    body = "".join([
        _verdict(run_dir, summary, found["params.json"], verify, absent),
        _losses(summary, found["plan.json"]),
        _cutover(run_dir),
        _tables(summary, verify, absent),
        _views(verify),
        _charts(charts),
        _rejects(run_dir / "rejects.csv", absent),
        _timings(summary, found["load.json"], verify, absent),
        _preflight(found["preflight.json"], absent),
        _parameters(found["params.json"], absent),
    ])
    name = _run_name(run_dir, summary, found["params.json"])
    title = f"{name}: {_status(summary)} (sqlite2neon run)"
    page = _page(title, body, f' data-charts="{len(charts)}"', script=CHART_CHECK)
    return record.write(run_dir, "report.html", page)


def write_index(runs_root: Path) -> Path:
    """Write `runs_root/index.html`: every run with a summary.json, newest first, linked to its report."""
    runs_root = Path(runs_root)
    runs = []
    for run_dir in runs_root.iterdir():
        path = run_dir / "summary.json"
        if run_dir.is_dir() and path.exists():
            summary, why = _load(path)
            written = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
            when = str((summary or {}).get("finished_at") or written)
            runs.append((when, run_dir, summary, why))
    runs.sort(key=lambda r: (r[0], r[1].name), reverse=True)
    rows = [_index_row(when, run_dir, summary, why) for when, run_dir, summary, why in runs]
    table = _table(["finished", "name", "kind", "source", "target", "status", "record"], rows, raw=True) if rows else (
        '<p class="missing">No run has finished yet.</p>')
    body = f"<h1>sqlite2neon runs</h1><p>{len(rows)} run(s) in {_e(runs_root)}, newest first.</p>{table}"
    return record.write(runs_root, "index.html", _page("sqlite2neon runs", body))


def _index_row(when: str, run_dir: Path, summary: dict | None, why: str) -> list[str]:
    link = f"{quote(run_dir.name)}/report.html" if (run_dir / "report.html").exists() else f"{quote(run_dir.name)}/"
    opens = f'<a href="{_e(link)}">{"report" if link.endswith(".html") else "directory"}</a>'
    if summary is None:
        return [_e(_when(when)), _e(run_dir.name), "", "", "", f'<span class="null">{_e(why)}</span>', opens]
    status = str(summary.get("status", "unknown"))
    hover = f' title="{_e(summary["error"])}"' if summary.get("error") else ""  # a failed run's reason
    return [_e(_when(when)), _e(summary.get("name", run_dir.name)), _e(run_kind_of(summary)),
            _e(summary.get("source", "")), _e(target_of(summary)),
            f'<span class="{_e(status)}-text"{hover}>{_e(status)}</span>', opens]


def run_kind_of(summary: dict) -> str:
    """The kind of run a summary records; records written before `kind` existed are told by their steps."""
    if summary.get("kind"):
        return str(summary["kind"])
    notebooks = [s.get("notebook") for s in summary.get("steps") or []]
    label = "verify" if notebooks == ["04_verify"] else "cutover" if notebooks == ["05_cutover"] else ""
    return record.run_kind(label, bool(summary.get("dry_run")))


def target_of(summary: dict) -> str:
    """The target a summary names: host:port/database, schema and endpoint when known, else its URL."""
    detail = summary.get("target_detail")
    if isinstance(detail, dict) and detail.get("host"):
        return (f"{detail.get('host')}:{detail.get('port')}/{detail.get('database')}, schema {detail.get('schema')} "
                f"({detail.get('endpoint')})")
    return str(summary.get("target") or "")


def _load(path: Path) -> tuple[dict | None, str]:
    """(the file's JSON object, "") or (None, why there is none)."""
    if not path.exists():
        return None, "missing"
    try:
        data = json.loads(path.read_text())
    except (ValueError, OSError) as exc:  # half-written, or edited by hand
        return None, f"unreadable: {one_line(exc, 1)}"
    return (data, "") if isinstance(data, dict) else (None, "unreadable: not a JSON object")


def _missing(name: str, absent: dict[str, str]) -> str:
    why = absent.get(name, "missing")
    if why == "missing":
        return f'<p class="missing">No {_e(name)} in this record: {_e(WRITTEN_BY[name])} did not run or did not finish.</p>'
    return f'<p class="missing">{_e(name)} is {_e(why)}.</p>'


def _status(summary: dict | None) -> str:
    if summary is None:
        return "NO OUTCOME"
    return {"passed": "PASSED", "interrupted": "INTERRUPTED"}.get(summary.get("status"), "FAILED")


def _run_name(run_dir: Path, summary: dict | None, params: dict | None) -> str:
    return str((summary or {}).get("name") or (params or {}).get("name") or run_dir.name)


def _verdict(run_dir: Path, summary: dict | None, params: dict | None, verify: dict | None,
             absent: dict[str, str]) -> str:
    status = _status(summary)
    css = {"PASSED": "passed", "FAILED": "failed", "INTERRUPTED": "interrupted"}.get(status, "unknown")
    facts = {"run": _run_name(run_dir, summary, params)}
    if summary is None:
        error = "summary.json is " + absent["summary.json"] + ": the run did not finish, or is still running"
    else:
        error = summary.get("error") if status in ("FAILED", "INTERRUPTED") else None
        facts |= {"kind": run_kind_of(summary), "source": summary.get("source"), "target": target_of(summary),
                  "finished": _when(summary.get("finished_at"))}
        if summary.get("dry_run"):
            facts["dry run"] = ("yes: compared only, nothing was applied" if run_kind_of(summary).startswith("cutover")
                                else "yes: the plan only, nothing was loaded")
    if verify is not None:
        fraction = verify.get("sample_fraction")
        facts["checked"] = (f"a sample of {fraction * 100:g}% of the rows" if verify.get("mode") == "sample" and fraction
                            else "every row")
    facts["record"] = str(run_dir)
    notebooks = sorted(run_dir.glob("[0-9][0-9]_*.html"))
    links = ", ".join(f'<a href="{_e(quote(p.name))}">{_e(p.stem)}</a>' for p in notebooks)
    expected = EXPECTED.get(run_kind_of(summary) if summary else "migration", set(WRITTEN_BY))
    lost = ", ".join(f"{name} ({why})" for name, why in sorted(absent.items()) if name in expected)
    return (f'<header class="verdict {css}"><div class="big">{status}</div>'
            + (f'<p class="error">{_e(error)}</p>' if error else "")
            + "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v if v is not None else '')}</dd>" for k, v in facts.items())
            + (f"<dt>notebooks</dt><dd>{links}</dd>" if links else "")
            + (f"<dt>not in this record</dt><dd>{_e(lost)}</dd>" if lost else "")
            + "</dl></header>")


def _tables(summary: dict | None, verify: dict | None, absent: dict[str, str]) -> str:
    out = ["<h2>Tables</h2>"]
    tables = (verify or {}).get("tables") or (summary or {}).get("tables") or []
    dry = (summary or {}).get("dry_run")
    if verify is None and not dry:
        out.append(_missing("verify.json", absent))
    if not tables:
        out.append(f'<p class="missing">{"A dry run changes no table and verifies none." if dry else "No table was verified."}</p>')
        return "".join(out)
    problems = any(t.get("problem") for t in tables)
    rows = []
    for t in tables:
        check = "match" if t.get("checksum_match") else "DIFFERS"
        if not t.get("checksum_match") and t.get("kept_rows") and not _differing_beyond_kept(t):
            check = "match"  # every row that differs is one a cutover kept on purpose (conflicts: keep_target)
        name = t["target"] if t.get("source") in (None, t["target"]) else f"{t['source']} → {t['target']}"
        rows.append([_e(name), _n(t.get("source_rows")), _n(t.get("target_rows")), _n(t.get("rejected_rows")),
                     _n(sum((t.get("changed_values") or {}).values())), f'<span class="{check}">{check}</span>',
                     _n(_differing_beyond_kept(t)), _n(t.get("kept_rows") or 0)]
                    + ([_e(t.get("problem", ""))] if problems else []))
    out.append(_table(["table", "source rows", "target rows", "rejected rows", "values changed on purpose",
                       "checksum", "rows differing", "rows kept at cutover"] + (["problem"] if problems else []),
                      rows, raw=True, numeric={1, 2, 3, 4, 6, 7}))
    out.append("<p>Columns: <b>rejected rows</b> could not be converted and are listed with their reason below; "
               "<b>values changed on purpose</b> were altered as the parameters ask (NUL or invalid UTF-8 "
               "replaced, orphan references cleared), counted; <b>checksum</b> compares every row's canonical form "
               "on both sides; <b>rows kept at cutover</b> differ from SQLite because a cutover kept Postgres' "
               "version (conflicts: keep_target).</p>")
    for t in tables:
        out.append(_differences(t))
    return "".join(out)


def _differing_beyond_kept(table: dict) -> int | None:
    """Rows that differ, less those a cutover kept on purpose."""
    found = _differing(table)
    return None if found is None else max(found - (table.get("kept_rows") or 0), 0)


def _views(verify: dict | None) -> str:
    """Each created view's rows on both sides, compared as multisets (nothing when there are none)."""
    views = (verify or {}).get("views") or []
    if not views:
        return ""
    rows = []
    for v in views:
        verdict = "PASS" if v.get("passed") else "FAIL"
        rows.append([_e(v.get("target")), _n(v.get("source_rows")), _n(v.get("target_rows")),
                     _n(v.get("differences_total")), f'<span class="{verdict}">{verdict}</span>', _e(v.get("problem") or "")])
    return ("<h2>Views</h2><p>Each view run in SQLite and in Postgres; its rows compared as multisets "
            "(a view has no key).</p>"
            + _table(["view", "SQLite rows", "Postgres rows", "rows differing", "verdict", "problem"], rows, raw=True,
                     numeric={1, 2, 3}))


def _differing(table: dict) -> int | None:
    """How many rows differ: verify.json's `differences_total`, or summary.json's `differences`."""
    total = table.get("differences_total", table.get("differences"))
    return total if isinstance(total, int) else None


def _differences(table: dict) -> str:
    differences = table.get("differences")
    if not isinstance(differences, list) or not differences:  # summary.json holds only the count
        return ""
    total = table.get("differences_total", len(differences))
    at_least = "" if table.get("complete", True) else "+"  # too many to fetch them all
    rows = []
    for d in differences:
        row = [_e(d.get("kind", "")), _e(d.get("key", ""))]
        if not d.get("columns"):  # a missing or unexpected row: its key says which
            rows.append(row + ["", "", ""])
        for c in d.get("columns") or []:
            rows.append(row + [_e(c.get("column") or ""), _value(c.get("source")), _value(c.get("target"))])
    shown = (f"the first {len(differences)} of {total:,}{at_least}" if total > len(differences) or at_least
             else f"all {total:,}")
    return (f"<h3>Rows that differ in {_e(table['target'])} ({shown})</h3>"
            + _table(["kind", "key", "column", "source value", "target value"], rows, raw=True))


def _chart_files(run_dir: Path, verify: dict | None) -> list[tuple[str, Path]]:
    """(caption, file) of each chart in charts/, known ones first; the NULL chart is drawn here when
    verify.json counts NULLs and the notebook did not draw it."""
    folder = run_dir / "charts"
    if verify is not None and not (folder / "null_rates.png").exists():
        from . import charts

        charts.null_rates(verify, run_dir)
    files = {p.stem: p for p in sorted(folder.glob("*.png"))} if folder.is_dir() else {}
    known = [(CHARTS[stem][0], files.pop(stem)) for stem in CHARTS if stem in files]
    return known + [(stem.replace("_", " "), path) for stem, path in files.items()]


def _charts(charts: list[tuple[str, Path]]) -> str:
    out = ["<h2>Charts</h2>"]
    for caption, path in charts:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        out.append(f'<figure><figcaption>{_e(caption)}</figcaption><img class="chart" alt="{_e(caption)}" '
                   f'src="data:image/png;base64,{data}"></figure>')
    drawn = {path.stem for _, path in charts}
    not_drawn = [f"{caption[0].lower()}{caption[1:]} (drawn by {by})" for stem, (caption, by) in CHARTS.items() if stem not in drawn]
    if not_drawn:
        out.append(f'<p class="missing">Not in this record: {_e("; ".join(not_drawn))}.</p>')
    return "".join(out)


def _rejects(path: Path, absent: dict[str, str]) -> str:
    out = ["<h2>Rejected rows</h2>"]
    if not path.exists():
        return "".join(out + [_missing("rejects.csv", absent)])
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None) or []
        shown, count = [], 0
        for row in reader:
            count += 1
            if count <= REJECTS_SHOWN:
                shown.append(row)
    if not count:
        return "".join(out + ["<p>No row was rejected.</p>"])
    first = f", the first {REJECTS_SHOWN} shown" if count > REJECTS_SHOWN else ""
    out.append(f"<p>{count:,} row(s) rejected (rejects.csv{first}).</p>")
    out.append(_table(header, shown))
    return "".join(out)


def _timings(summary: dict | None, load: dict | None, verify: dict | None, absent: dict[str, str]) -> str:
    out = ["<h2>Timings</h2>"]
    steps = (summary or {}).get("steps") or []
    if steps:
        rows = [[_e(s.get("notebook", "")), f'<span class="{_e(s.get("status", ""))}-text">{_e(s.get("status", ""))}</span>',
                 _seconds(s.get("seconds"))] for s in steps]
        rows.append(["<b>all steps</b>", "", _seconds(sum(s.get("seconds") or 0 for s in steps))])
        out.append(_table(["step", "status", "seconds"], rows, raw=True, numeric={2}))
    else:
        out.append(_missing("summary.json", absent) if summary is None else '<p class="missing">No step ran.</p>')
    out.append("<h3>Load, per table</h3>")
    if load is None:
        out.append(_missing("load.json", absent))
    else:
        rows = [[_e(t.get("target", "")), _n(t.get("rows")), _seconds(t.get("seconds")),
                 _n(t.get("rows_per_second")), _e(t.get("mb_per_second", "")), _seconds(t.get("index_seconds"))]
                for t in load.get("tables") or []]
        if rows:
            out.append(_table(["table", "rows", "seconds", "rows/s", "MB/s", "index seconds"], rows, raw=True,
                              numeric={1, 2, 3, 4, 5}))
        skipped = load.get("skipped") or {}
        if skipped:
            kept = ", ".join(f"{name} (from {run})" for name, run in skipped.items())
            out.append(f"<p>Not loaded again, an earlier run finished them: {_e(kept)}.</p>")
        if not rows and not skipped:
            out.append('<p class="missing">No table was loaded.</p>')
        out.append(f"<p>The whole load took {_seconds(load.get('seconds'))} s.</p>")
    if verify is not None:
        out.append(f"<p>Verification took {_seconds(verify.get('seconds'))} s.</p>")
    return "".join(out)


def _cutover(run_dir: Path) -> str:
    """A cutover run's catch-up (what SQLite changed, the conflicts with Postgres' own changes and how
    they were resolved), API checks and closing checklist; nothing for other runs."""
    outcome, why = _load(run_dir / "cutover.json")
    if outcome is None:
        return "" if why == "missing" else f'<h2>Cutover</h2><p class="missing">cutover.json is {_e(why)}.</p>'
    caught = outcome.get("catch_up") or {}
    tables = caught.get("tables") or []
    rows = [[_e(t.get("table")), _n(t.get("inserted")), _n(t.get("updated")), _n(t.get("deleted")), _n(t.get("rejected")),
             _n(t.get("kept")), _n(t.get("overwritten"))] for t in tables]
    out = ["<h2>Cutover</h2>"]
    applied = caught.get("applied", not outcome.get("dry_run"))
    if outcome.get("dry_run"):
        out.append('<p class="error"><b>Dry run: nothing was applied.</b> The counts are what the catch-up would '
                   "write.</p>")
    elif not applied:
        out.append('<p class="error"><b>Stopped by conflicts: nothing was applied.</b> Set conflicts to keep_target '
                   "or take_source (below) and run the cutover again.</p>")
    out += [f"<h3>Rows {'carried over' if applied else 'SQLite changed'} since the last sync</h3>",
            _table(["table", "inserted", "updated", "deleted", "rejected", "conflicts kept (Postgres' version)",
                    "conflicts overwritten (SQLite's version)"], rows, raw=True, numeric={1, 2, 3, 4, 5, 6})]
    conflicts = [(t.get("table"), c) for t in tables for c in t.get("conflicts") or []]
    if conflicts:
        out.append(f"<h3>Conflicts: rows changed in Postgres since the last sync ({len(conflicts)})</h3>")
        out.append(_table(["table", "key", "in SQLite", "in Postgres", "resolution"],
                          [[_e(t), _e(c.get("key")), _e(c.get("sqlite")), _e(c.get("postgres")), _e(c.get("resolution"))]
                           for t, c in conflicts[:200]], raw=True))
    api = outcome.get("api") or []
    if not outcome.get("dry_run"):
        out.append("<h3>The app's API</h3>")
        out.append(_table(["check", "status", "detail"],
                          [[_e(c.get("name")), f'<span class="{_e(c.get("status"))}">{_e(c.get("status"))}</span>',
                            _e(c.get("detail"))] for c in api], raw=True)
                   if api else '<p class="missing">Not checked: api_url was not set, or nothing was applied.</p>')
    checklist = run_dir / "checklist.md"
    if checklist.exists():
        out.append(f"<h3>Closing checklist</h3><pre class=checklist>{_e(checklist.read_text())}</pre>")
    return "".join(out)


def _losses(summary: dict | None, plan: dict | None) -> str:
    """What the plan listed as not arriving as it is in SQLite, each accepted or not."""
    losses = (summary or {}).get("losses") or (plan or {}).get("losses") or []
    if not losses:
        return "" if plan is None else "<h2>Listed losses</h2><p>None: everything in the SQLite schema arrived as it is.</p>"
    rows = [[_e(f"{x.get('kind')}:{x.get('name')}"), _e(x.get("reason")), _e(x.get("instead")),
             '<span class="WARN">accepted</span>' if x.get("accepted") else '<span class="FAIL">not accepted</span>']
            for x in losses]
    accepted = sum(1 for x in losses if x.get("accepted"))
    return (f"<h2>Listed losses</h2><p>{len(losses)} thing(s) in the SQLite schema did not arrive as they are; "
            f"{accepted} accepted with <code>accept_losses</code>.</p>"
            + _table(["item", "why", "instead", "accept_losses"], rows, raw=True))


def _preflight(preflight: dict | None, absent: dict[str, str]) -> str:
    out = ["<h2>Preflight checks</h2>"]
    if preflight is None:
        return "".join(out + [_missing("preflight.json", absent)])
    rows = [[_e(c.get("name", "")), f'<span class="{_e(c.get("status", ""))}">{_e(c.get("status", ""))}</span>',
             _e(c.get("detail", ""))] for c in preflight.get("checks") or []]
    out.append(_table(["check", "status", "detail"], rows, raw=True))
    return "".join(out)


def _parameters(params: dict | None, absent: dict[str, str]) -> str:
    out = ["<h2>Parameters</h2>"]
    if params is None:
        return "".join(out + [_missing("params.json", absent)])
    rows = [[_e(k), _value(v if isinstance(v, str) or v is None else json.dumps(v, ensure_ascii=False))]
            for k, v in params.items()]
    out.append("<p>As the run resolved them, passwords redacted.</p>" + _table(["parameter", "value"], rows, raw=True))
    return "".join(out)


def _table(header: list[str], rows: list[list], *, raw: bool = False, numeric: set[int] = frozenset()) -> str:
    """An HTML table; cells are escaped here unless `raw` (then the caller escaped them)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{cell if raw else _e(cell)}</td>'
                         for i, cell in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _page(title: str, body: str, body_attrs: str = "", script: str = "") -> str:
    script = f"<script>{script}</script>" if script else ""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{_e(title)}</title>'
            f"<style>{CSS}</style>{script}</head><body{body_attrs}>{body}</body></html>\n")


def _e(value) -> str:
    return escape(str(value))


def _value(value) -> str:
    if value is None:
        return '<span class="null">NULL</span>'
    return _e(value) if value != "" else '<span class="null">empty</span>'


def _n(value) -> str:
    return f"{value:,}" if isinstance(value, (int, float)) and not isinstance(value, bool) else _e(value if value is not None else "—")


def _seconds(value) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) else "—"


def _when(text) -> str:
    return str(text or "").replace("T", " ").replace("+00:00", " UTC")
