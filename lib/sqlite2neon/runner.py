"""Runs the runbook's notebooks in order with papermill and writes the run record.

    >>> outcome = run_notebooks(Params.load("params/demo.yaml"))
    >>> outcome.status, outcome.run_dir
    ('passed', PosixPath('runs/20261124T101500Z-demo'))
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
import typing
from dataclasses import dataclass, field
from pathlib import Path

from . import record, report
from .config import Params, project_root, redact_url
from .errors import ConfigError

if typing.TYPE_CHECKING:
    from .connect import Target
    from .kernel import RunKernel

NOTEBOOKS = ["00_preflight", "01_inspect_source", "02_plan_schema", "03_load", "04_verify"]
KERNEL_NAME = "sqlite2neon"
# URLs with a password reach the kernel through these variables, never through the notebook.
SECRET_ENV = {"database_url": "SQLITE2NEON_DATABASE_URL", "database_url_direct": "SQLITE2NEON_DATABASE_URL_DIRECT",
              "api_url": "SQLITE2NEON_API_URL"}


KILL_AFTER = 15.0  # seconds a kernel has to stop its step after an interrupt before it is killed


@dataclass
class Outcome:
    status: str  # "passed", "failed" or "interrupted"
    run_dir: Path
    steps: list[dict] = field(default_factory=list)
    error: str | None = None
    failed_notebook: Path | None = None
    signal: int | None = None  # the signal that interrupted the run


class Interrupts:
    """SIGINT (Ctrl-C) and SIGTERM while the runbook runs. The kernel runs in a session of its own, so a
    terminal's Ctrl-C reaches only this process: the first signal is passed on to the kernel as SIGINT,
    where it stops the step (the table being loaded rolls back: its transaction never commits), and the
    run ends as `interrupted` with its record written. A kernel still running `KILL_AFTER` seconds later,
    or at a second signal, is killed (the server then rolls back what it had not committed).

        with Interrupts() as interrupts:
            ...  # run notebooks; interrupts.signal is set once one arrived
    """

    def __init__(self) -> None:
        self.signal: int | None = None
        self._count = 0
        self._previous: dict[int, object] = {}
        self._watch: threading.Thread | None = None
        self._done = threading.Event()

    def __enter__(self) -> "Interrupts":
        if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum, frame) -> None:
        self._count += 1
        self.signal = self.signal or signum
        if self._count > 1:
            self._signal_kernels(signal.SIGKILL)
        elif self._watch is None:
            self._watch = threading.Thread(target=self._stop_kernels, name="interrupt kernels", daemon=True)
            self._watch.start()

    def _stop_kernels(self) -> None:
        """SIGINT to every kernel as it appears (one may be starting), SIGKILL to any left at the deadline."""
        told: set[int] = set()
        deadline = time.monotonic() + KILL_AFTER
        while not self._done.is_set():
            if time.monotonic() > deadline:
                self._signal_kernels(signal.SIGKILL)
            else:
                told |= self._signal_kernels(signal.SIGINT, skip=told)
            self._done.wait(0.2)

    @staticmethod
    def _signal_kernels(signum: int, skip: set[int] = frozenset()) -> set[int]:
        import psutil

        sent = set()
        for child in psutil.Process().children(recursive=True):
            try:
                if child.pid not in skip and any("ipykernel" in part for part in child.cmdline()):
                    child.send_signal(signum)
                    sent.add(child.pid)
            except psutil.Error:  # it ended meanwhile
                pass
        return sent

    @property
    def name(self) -> str:
        return signal.Signals(self.signal).name if self.signal else ""


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
        if values[key] and _password_of(values[key]):
            os.environ[env] = values[key]
            values[key] = f"env:{env}"
    return values


def _password_of(url: str) -> str:
    from .connect import password_of  # only for a URL given: connect imports psycopg

    return password_of(url)


def launch_kernel(params: Params, root: Path | None = None) -> RunKernel:
    """Launch the run's kernel (kernel.py) for `run_notebooks(kernel=)`, before the target is resolved
    and the run directory made, so that it boots (and imports what the steps need) meanwhile. It
    inherits the secrets' variables (`notebook_parameters`); run_notebooks stops it."""
    from .kernel import RunKernel

    notebook_parameters(params)
    return RunKernel.start(root or project_root(), ensure_kernel())


def check_kind(params: Params, label: str) -> None:
    """Refuse what a kind of run cannot do: `verify` only reads, so `dry_run` cannot apply to it (a
    verification that compared nothing must not say it passed). Raises ConfigError."""
    if label == "verify" and params.dry_run:
        raise ConfigError("dry_run does not apply to verify, which only reads and compares; "
                          "remove dry_run (from the parameter file or -p) to verify")


def run_notebooks(params: Params, *, notebooks: list[str] | None = None, root: Path | None = None,
                  label: str = "", target: Target | None = None, kernel: RunKernel | None = None) -> Outcome:
    """Run `notebooks` (default: the whole runbook) into a new run directory named after the run and
    `label` (e.g. `verify` for a verification on its own), stopping at the first that fails, or at
    SIGINT/SIGTERM (`Interrupts`). `target` is the resolved target, named in the record. `kernel` is
    the run's kernel when `launch_kernel` launched it already (else it is launched here); it is
    stopped before this returns.

    Raises ConfigError (nothing run) for a kind of run the parameters cannot make (`check_kind`)."""
    check_kind(params, label)
    root = root or project_root()
    suffix = "-".join(x for x in (label, "dryrun" if params.dry_run else "") if x)
    run_dir = record.new_run_dir(f"{params.name}-{suffix}" if suffix else params.name, root)
    params.run_dir = str(run_dir)
    record.write_params(run_dir, params)
    outcome = Outcome("passed", run_dir)
    names = notebooks or NOTEBOOKS
    if params.dry_run and not label:  # a migration's dry run stops after the plan; a cutover's lists its changes
        names = [n for n in names if n <= "02_plan_schema"]
    # What outlives the notebooks: `renders` (their HTML renderings) ends once the summary is written, before the
    # report links them; `exiting` (the kernel's exit, asked for when the last notebook ended) once the report is written.
    with Interrupts() as interrupts, contextlib.ExitStack() as exiting, contextlib.ExitStack() as renders:
        if kernel is not None:
            exiting.callback(kernel.stop)
        refused = _refusal(target, params) if target else None
        if refused:  # nothing to run: no notebook can reach this target
            outcome.status, outcome.error = "failed", refused
        else:
            if kernel is None:
                kernel = launch_kernel(params, root)
                exiting.callback(kernel.stop)
            _execute(kernel, params, names, root, run_dir, outcome, interrupts, renders)
        if interrupts.signal:
            outcome.status, outcome.signal = "interrupted", interrupts.signal
            where = outcome.steps[-1]["notebook"] if outcome.steps else "the start"
            outcome.error = (f"interrupted by {interrupts.name} during {where}: a table being loaded was rolled back; "
                             "run the same command again to resume (finished tables are kept)")
        tables = _tables(run_dir)
        if outcome.status == "passed" and not params.dry_run:
            verified = json.loads(record.read(run_dir, "verify.json") or "{}")
            if not verified.get("passed"):
                outcome.status = "failed"
                outcome.error = outcome.error or "verification did not pass"
        record.write_summary(
            run_dir, status=outcome.status, steps=outcome.steps, tables=tables, params=params,
            error=outcome.error, target=_target_display(run_dir, params, target), kind=record.run_kind(label, params.dry_run),
            target_detail=target.describe() if target else None, losses=record.losses_of(run_dir),
        )
        renders.close()  # every notebook's HTML rendered before the report links them
        report.write_report(run_dir)
        report.write_index(run_dir.parent)
    return outcome


def _refusal(target: Target, params: Params) -> str | None:
    from .connect import refusal

    return refusal(target, params)


def _execute(kernel: RunKernel, params: Params, names: list[str], root: Path, run_dir: Path, outcome: Outcome,
             interrupts: Interrupts, renders: contextlib.ExitStack) -> None:
    """Run the notebooks `names` in order into `run_dir` in `kernel` (kernel.py), which they share,
    stopping at the first failure or interrupt; the kernel is asked to exit when the last notebook ends.
    Each executed notebook's HTML is rendered beside it while the next notebook runs; `renders` waits
    for those."""
    from concurrent.futures import ThreadPoolExecutor

    injected = notebook_parameters(params)
    rendering = ThreadPoolExecutor(max_workers=1, thread_name_prefix="render html")
    rendered: list = []
    renders.callback(_finish_renders, rendering, rendered)
    try:
        _execute_in(kernel, rendering, rendered, injected, names, root, run_dir, outcome, interrupts)
    finally:
        kernel.request_stop()


def _finish_renders(renders, rendered: list) -> None:
    renders.shutdown(wait=True)
    for future in rendered:
        future.result()  # a rendering that failed fails the run, as it did when rendered in line


def _execute_in(kernel, renders, rendered: list, injected: dict, names: list[str], root: Path, run_dir: Path,
                outcome: Outcome, interrupts: Interrupts) -> None:
    """The loop of `_execute`; the futures of the HTML renderings it submits to `renders` go in `rendered`."""
    from .kernel import engine

    engine_name = engine()  # imports papermill
    import papermill
    from papermill.exceptions import PapermillExecutionError

    for name in names:
        if interrupts.signal:
            break
        source = root / "notebooks" / f"{name}.ipynb"
        executed = run_dir / f"{name}.ipynb"
        started = time.monotonic()
        step = {"notebook": name, "status": "passed", "seconds": 0.0}
        try:
            kernel.manager()  # a kernel that could not be launched fails here, before papermill writes the notebook
            papermill.execute_notebook(
                str(source), str(executed), parameters=injected, engine_name=engine_name, kernel=kernel,
                kernel_name=KERNEL_NAME, cwd=str(root), progress_bar=False, log_output=False, report_mode=False,
            )
        except PapermillExecutionError as exc:
            step["status"] = "failed"
            outcome.error = f"{name} failed in cell {exc.exec_count or exc.cell_index}: {failure_reason(exc.ename, exc.evalue)}"
            outcome.failed_notebook = executed
        except Exception as exc:  # the kernel died or the notebook could not be read
            step["status"] = "failed"
            text = str(exc).strip()  # not the notebook's code failing: its kernel or file
            outcome.error = f"{name} could not run: {text.splitlines()[0] if text else type(exc).__name__}"
            outcome.failed_notebook = executed
        step["seconds"] = round(time.monotonic() - started, 3)
        if interrupts.signal:
            step["status"] = "interrupted"
        if executed.exists():
            rendered.append(renders.submit(record.render_html, executed))
        outcome.steps.append(step)
        if step["status"] != "passed":
            outcome.status = step["status"]
            break


def _subclass_names(cls: type) -> set[str]:
    return {cls.__name__}.union(*(_subclass_names(sub) for sub in cls.__subclasses__()))


def failure_reason(ename: str, evalue: str) -> str:
    """The first line of a failed step's error as the user reads it: the runbook's own errors
    (errors.py: ConfigError, VerificationFailed, ...) by their message alone, which says what happened
    and what to do; anything else is a bug of the runbook's, named as one with the exception's class
    so that the report can be acted on."""
    from . import errors

    first = evalue.strip().splitlines()[0] if evalue.strip() else ""
    ours = ename in _subclass_names(errors.RunbookError)
    if ours:
        return first or "failed without saying why, a fault of sqlite2neon's to report with the record"
    return f"unexpected error, a fault of sqlite2neon's to report with the record ({ename}: {first})"


def _tables(run_dir: Path) -> list[dict]:
    """verify.json's tables as summary.json lists them: VerifyResult.summary_tables, read from the
    record as it is written (importing verify would load DuckDB and Arrow into the runner for this)."""
    text = record.read(run_dir, "verify.json")
    if not text:
        return []
    return [{"source": t["source"], "target": t["target"], "source_rows": t["source_rows"],
             "target_rows": t["target_rows"], "rejected_rows": t.get("rejected_rows", 0),
             "checksum_match": t["checksum_match"], "differences": t.get("differences_total", 0),
             "kept_rows": t.get("kept_rows", 0)}
            for t in json.loads(text)["tables"]]


def _target_display(run_dir: Path, params: Params, target: Target | None) -> str | None:
    """The target's URL without its password: as resolved, else as preflight saw it, else as given."""
    if target is not None:
        return target.display
    preflight = record.read(run_dir, "preflight.json")
    if preflight:
        return json.loads(preflight)["target"]
    return redact_url(params.database_url) or None
