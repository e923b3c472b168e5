"""Runs the runbook's notebooks in order with papermill and writes the run record.

    >>> outcome = run_notebooks(Params.load("params/demo.yaml"))
    >>> outcome.status, outcome.run_dir
    ('passed', PosixPath('runs/20261124T101500Z-demo'))
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import record, report
from .config import Params, project_root, redact_url
from .connect import password_of

NOTEBOOKS = ["00_preflight", "01_inspect_source", "02_plan_schema", "03_load", "04_verify"]
KERNEL_NAME = "sqlite2neon"
# URLs with a password reach the kernel through these variables, never through the notebook.
SECRET_ENV = {"database_url": "SQLITE2NEON_DATABASE_URL", "database_url_direct": "SQLITE2NEON_DATABASE_URL_DIRECT",
              "api_url": "SQLITE2NEON_API_URL"}


@dataclass
class Outcome:
    status: str
    run_dir: Path
    steps: list[dict] = field(default_factory=list)
    error: str | None = None
    failed_notebook: Path | None = None


def ensure_kernel() -> str:
    """Register this environment's Python as the `sqlite2neon` Jupyter kernel, if it is not yet."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        if spec.argv and Path(spec.argv[0]).resolve() == Path(sys.executable).resolve():
            return KERNEL_NAME
    except NoSuchKernel:
        pass
    from ipykernel.kernelspec import install

    install(kernel_name=KERNEL_NAME, display_name="Python (sqlite2neon)", prefix=sys.prefix)
    return KERNEL_NAME


def notebook_parameters(params: Params) -> dict:
    """The parameters as injected into the notebooks: URLs with passwords become env references."""
    values = params.as_dict()
    for key, env in SECRET_ENV.items():
        if values[key] and password_of(values[key]):
            os.environ[env] = values[key]
            values[key] = f"env:{env}"
    return values


def run_notebooks(params: Params, *, notebooks: list[str] | None = None, root: Path | None = None,
                  label: str = "") -> Outcome:
    """Run `notebooks` (default: the whole runbook) into a new run directory named after the run and
    `label` (e.g. `verify` for a verification on its own), stopping at the first that fails."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    root = root or project_root()
    run_dir = record.new_run_dir(f"{params.name}-{label}" if label else params.name, root)
    params.run_dir = str(run_dir)
    record.write_params(run_dir, params)
    kernel = ensure_kernel()
    injected = notebook_parameters(params)
    outcome = Outcome("passed", run_dir)
    names = notebooks or NOTEBOOKS
    if params.dry_run:
        names = [n for n in names if n <= "02_plan_schema"]
    for name in names:
        source = root / "notebooks" / f"{name}.ipynb"
        executed = run_dir / f"{name}.ipynb"
        started = time.monotonic()
        step = {"notebook": name, "status": "passed", "seconds": 0.0}
        try:
            papermill.execute_notebook(
                str(source), str(executed), parameters=injected, kernel_name=kernel,
                cwd=str(root), progress_bar=False, log_output=False, report_mode=False,
            )
        except PapermillExecutionError as exc:
            step["status"] = "failed"
            reason = exc.evalue.strip().splitlines()[0] if exc.evalue.strip() else exc.ename
            outcome.error = f"{name} failed in cell {exc.exec_count or exc.cell_index}: {exc.ename}: {reason}"
            outcome.failed_notebook = executed
        except Exception as exc:  # the kernel died or the notebook could not be read
            step["status"] = "failed"
            outcome.error = f"{name} could not run: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            outcome.failed_notebook = executed
        step["seconds"] = round(time.monotonic() - started, 3)
        if executed.exists():
            record.render_html(executed)
        outcome.steps.append(step)
        if step["status"] == "failed":
            outcome.status = "failed"
            break
    tables = _tables(run_dir)
    if outcome.status == "passed" and not params.dry_run:
        verified = json.loads(record.read(run_dir, "verify.json") or "{}")
        if not verified.get("passed"):
            outcome.status = "failed"
            outcome.error = outcome.error or "verification did not pass"
    record.write_summary(
        run_dir, status=outcome.status, steps=outcome.steps, tables=tables, params=params,
        error=outcome.error, target=_target_display(run_dir, params),
    )
    report.write_report(run_dir)
    report.write_index(run_dir.parent)
    return outcome


def _tables(run_dir: Path) -> list[dict]:
    from .verify import VerifyResult

    text = record.read(run_dir, "verify.json")
    if text:
        return VerifyResult.from_json(text).summary_tables()
    return []


def _target_display(run_dir: Path, params: Params) -> str | None:
    preflight = record.read(run_dir, "preflight.json")
    if preflight:
        return json.loads(preflight)["target"]
    return redact_url(params.database_url) or None
