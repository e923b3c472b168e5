"""The run record: one directory per run holding every step's artifacts, the executed notebooks,
their HTML and `summary.json`. Each step reads what the one before wrote here.

    runs/20261124T101500Z-demo/
        params.json  preflight.json  profile.json  plan.json  plan.sql  load.json  verify.json
        00_preflight.ipynb  00_preflight.html  ...  summary.json  report.html
"""

from __future__ import annotations

import functools
import json
from datetime import datetime, timezone
from pathlib import Path

from .config import Params, project_root, resolve_path

SUMMARY_VERSION = 1


def run_kind(label: str, dry_run: bool) -> str:
    """What the record, the index and the terminal call a run: `migration`, `dry run`, `verify`,
    `cutover` or `cutover dry run`, from the run directory's label ("" for the runbook itself)."""
    kind = label or "migration"
    if dry_run:
        return "dry run" if kind == "migration" else f"{kind} dry run"
    return kind


def new_run_dir(name: str, root: Path | None = None) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")[:-4]  # centiseconds
    path = (root or project_root()) / "runs" / f"{stamp}-{name}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def run_dir_for(params: Params) -> Path:
    """The run directory of this run; a notebook opened on its own uses `runs/interactive-<name>`."""
    path = resolve_path(params.run_dir) if params.run_dir else resolve_path(f"runs/interactive-{params.name}")
    path.mkdir(parents=True, exist_ok=True)
    return path


def write(run_dir: Path, name: str, text: str) -> Path:
    path = Path(run_dir) / name
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)  # a reader never sees half a file
    return path


def read(run_dir: Path, name: str) -> str | None:
    path = Path(run_dir) / name
    return path.read_text() if path.exists() else None


def write_params(run_dir: Path, params: Params) -> Path:
    return write(run_dir, "params.json", json.dumps(params.redacted(), indent=2))


def write_summary(run_dir: Path, *, status: str, steps: list[dict], tables: list[dict], params: Params,
                  error: str | None = None, target: str | None = None, kind: str = "migration",
                  target_detail: dict | None = None, losses: list[dict] | None = None) -> Path:
    """`summary.json`, the run's outcome (schema in the README: a field is only ever added)."""
    summary = {
        "version": SUMMARY_VERSION,
        "status": status,
        "kind": kind,
        "name": params.name,
        "source": str(resolve_path(params.sqlite_path)),
        "target": target,
        "target_detail": target_detail,
        "dry_run": params.dry_run,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "error": error,
        "steps": steps,
        "tables": tables,
        "losses": losses or [],
        "report": "report.html",
    }
    return write(run_dir, "summary.json", json.dumps(summary, indent=2))


def render_html(notebook: Path) -> Path:
    """An HTML rendering of an executed notebook, next to it. Renderings share one exporter, so call
    this from one thread at a time (the runner renders in one worker thread)."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    body, _ = _html_exporter().from_notebook_node(nb)
    out = notebook.with_suffix(".html")
    out.write_text(body)
    return out


@functools.cache
def _html_exporter():
    """nbconvert's HTML exporter with JupyterLab's template, made once: making one (its template
    environment, its preprocessors) was half of each notebook's rendering."""
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="lab")


def losses_of(run_dir: Path) -> list[dict]:
    """The plan's listed losses (kind, name, reason, instead, accepted), from the run's plan.json."""
    text = read(run_dir, "plan.json")
    return json.loads(text).get("losses", []) if text else []
