"""The runner: one kernel per run (kernel.py), which the notebooks of a run share; each still gets
its parameters injected, its own executed notebook and HTML, an empty namespace, and execution
counts from 1, and a notebook that fails stops the run with its reason. The notebooks here are
written by the tests, in a project root of their own."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from sqlite2neon.config import Params
from sqlite2neon.runner import run_notebooks

pytestmark = pytest.mark.slow

PARAMETERS = "name = 'x'\nrun_dir = ''"
# Each notebook writes down, in the run directory, what its kernel and namespace were when it started.
RECORD = """import json, os
from pathlib import Path
seen = sorted(k for k in globals() if not k.startswith('_') and k not in {'In', 'Out', 'exit', 'quit', 'get_ipython', 'open'})
Path(run_dir, NAME + '.seen.json').write_text(json.dumps({'pid': os.getpid(), 'globals': seen}))"""


def _notebook(root: Path, name: str, *cells: str) -> None:
    nb = new_notebook(metadata={"kernelspec": {"name": "sqlite2neon", "display_name": "Python (sqlite2neon)",
                                               "language": "python"}})
    nb.cells = [new_markdown_cell(f"# {name}"), new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
                *(new_code_cell(c) for c in cells)]
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, root / "notebooks" / f"{name}.ipynb")


def _record(name: str) -> str:
    return RECORD.replace("NAME", repr(name))


def _params(tmp_path: Path) -> Params:
    return Params(name="shared", sqlite_path=str(tmp_path / "none.db"), database_url="")


def _kernels() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if any("ipykernel" in part for part in child.cmdline()):
                found.append(child)
        except psutil.Error:
            pass
    return found


def _code_cells(path: Path) -> list[dict]:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_the_notebooks_of_a_run_share_one_kernel_each_with_its_parameters_and_an_empty_namespace(tmp_path):
    root = tmp_path / "project"
    _notebook(root, "a", _record("a"), "leftover = 1\nimport textwrap")
    _notebook(root, "b", _record("b"), "print(name, run_dir == str(Path(run_dir)))")

    outcome = run_notebooks(_params(tmp_path), notebooks=["a", "b"], root=root)

    run_dir = outcome.run_dir
    assert [s["notebook"] for s in outcome.steps] == ["a", "b"]
    assert [s["status"] for s in outcome.steps] == ["passed", "passed"]
    a, b = (json.loads((run_dir / f"{n}.seen.json").read_text()) for n in "ab")
    assert a["pid"] == b["pid"]  # one kernel
    # b sees its parameters and nothing a defined or imported (names are cleared, modules stay loaded)
    assert {"name", "run_dir", "sqlite_path", "json", "os", "Path"} <= set(a["globals"])
    assert b["globals"] == a["globals"]
    for name in "ab":
        cells = _code_cells(run_dir / f"{name}.ipynb")
        injected = [c for c in cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1 and f"run_dir = {json.dumps(str(run_dir))}" in injected[0].source
        assert "name = \"shared\"" in injected[0].source
        assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1))  # counted from 1 in each
        assert (run_dir / f"{name}.html").stat().st_size > 1000
    assert cells[-1].outputs[0]["text"] == "shared True\n"
    assert not psutil.pid_exists(a["pid"]) or psutil.Process(a["pid"]).status() == psutil.STATUS_ZOMBIE
    assert _kernels() == []  # the run's kernel was shut down with the run


def test_a_failing_second_notebook_stops_the_run_with_its_reason_and_both_are_recorded(tmp_path):
    root = tmp_path / "project"
    _notebook(root, "a", _record("a"))
    _notebook(root, "b", "from sqlite2neon.errors import ConfigError", "x = 1",
              "raise ConfigError('b cannot go on: fix the thing, then run again')", "print('never')")
    _notebook(root, "c", _record("c"))

    outcome = run_notebooks(_params(tmp_path), notebooks=["a", "b", "c"], root=root)

    run_dir = outcome.run_dir
    assert outcome.status == "failed"
    assert outcome.error == "b failed in cell 5: b cannot go on: fix the thing, then run again"
    assert outcome.failed_notebook == run_dir / "b.ipynb"
    assert [(s["notebook"], s["status"]) for s in outcome.steps] == [("a", "passed"), ("b", "failed")]
    for name in "ab":
        assert (run_dir / f"{name}.ipynb").exists() and (run_dir / f"{name}.html").exists()
    assert not (run_dir / "c.ipynb").exists() and not (run_dir / "c.seen.json").exists()
    failed = _code_cells(run_dir / "b.ipynb")
    assert failed[-2].outputs[-1]["ename"] == "ConfigError" and failed[-1].execution_count is None
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["status"], summary["error"]) == ("failed", outcome.error)
    assert (run_dir / "report.html").exists()
    assert _kernels() == []


def test_a_kernel_that_dies_during_a_notebook_fails_that_step_and_stops_the_run(tmp_path):
    root = tmp_path / "project"
    _notebook(root, "a", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    _notebook(root, "b", _record("b"))

    outcome = run_notebooks(_params(tmp_path), notebooks=["a", "b"], root=root)

    assert outcome.status == "failed"
    assert outcome.error.startswith("a could not run: "), outcome.error
    assert [(s["notebook"], s["status"]) for s in outcome.steps] == [("a", "failed")]
    assert not (outcome.run_dir / "b.ipynb").exists()
    assert _kernels() == []


def test_the_summary_lists_verify_json_tables_as_verify_result_does(tmp_path):
    from sqlite2neon.runner import _tables
    from sqlite2neon.verify import TableCheck, VerifyResult

    result = VerifyResult([
        TableCheck("Items", "items", 10, 9, "a", "a", 0.1, rejected_rows=1),
        TableCheck("Tags", "tags", 5, 5, "b", "c", 0.1, differing_buckets=1, differences_total=2, kept_rows=1),
        TableCheck("Gone", "gone", 3, None, "d", None, 0.0, problem="the table is not in the target"),
    ], 0.3)
    (tmp_path / "verify.json").write_text(result.to_json())

    assert _tables(tmp_path) == result.summary_tables()
    assert _tables(tmp_path / "nowhere") == []


def test_a_kernel_that_cannot_be_launched_keeps_its_reason_for_the_first_notebook(tmp_path):
    from sqlite2neon.kernel import RunKernel

    kernel = RunKernel.start(tmp_path, "no-such-kernel-here")

    with pytest.raises(Exception, match="no-such-kernel-here"):
        kernel.manager()
    kernel.request_stop()
    kernel.stop()  # nothing to stop


def test_the_report_links_every_notebook_including_the_last_rendered(tmp_path):
    """The HTML of each notebook is rendered while the next one runs; the report is written only once
    the last one's is there (the fresh-clone user found 04_verify unlinked in report.html)."""
    root = tmp_path / "project"
    _notebook(root, "00_first", "print('first')")
    _notebook(root, "01_last", "print('last')")

    outcome = run_notebooks(_params(tmp_path), notebooks=["00_first", "01_last"], root=root)

    page = (outcome.run_dir / "report.html").read_text()
    assert [s["status"] for s in outcome.steps] == ["passed", "passed"]
    assert 'href="00_first.html"' in page and 'href="01_last.html"' in page


# Written down by a notebook: which client of the kernel asked it to run (its session), whether the
# libraries the steps need were imported before it began, and whether the collector had frozen them.
CLIENT = """import gc, json, sys
from pathlib import Path
Path(run_dir, NAME + '.client.json').write_text(json.dumps({
    'session': get_ipython().kernel.get_parent()['header']['session'],
    'imported': sorted(m for m in ('duckdb', 'pandas', 'pyarrow', 'matplotlib.figure') if m in sys.modules),
    'frozen': gc.get_freeze_count()}))"""


def test_the_notebooks_of_a_run_share_one_kernel_client_and_find_the_steps_libraries_imported(tmp_path):
    """One client of the kernel runs every notebook (a client of its own cost each notebook 0.2 s of
    waiting), and the kernel imported the steps' libraries in the background before the first one."""
    root = tmp_path / "project"
    _notebook(root, "a", _record("a"), CLIENT.replace("NAME", "'a'"))
    _notebook(root, "b", _record("b"), CLIENT.replace("NAME", "'b'"))

    outcome = run_notebooks(_params(tmp_path), notebooks=["a", "b"], root=root)

    assert [s["status"] for s in outcome.steps] == ["passed", "passed"]
    a, b = (json.loads((outcome.run_dir / f"{n}.client.json").read_text()) for n in "ab")
    assert a["session"] == b["session"]
    assert a["imported"] == ["duckdb", "matplotlib.figure", "pandas", "pyarrow"]
    assert a["frozen"] > 0 and b["frozen"] > 0  # what survived the reset is not walked again
    seen = json.loads((outcome.run_dir / "a.seen.json").read_text())
    assert not {"importlib", "threading", "prewarm"} & set(seen["globals"])  # its start left no names behind
    assert _kernels() == []


def test_a_kernel_launched_before_a_run_that_is_refused_is_stopped_with_it(tmp_path, pg_url):
    """The CLI launches the kernel before it resolves the target; a target that refuses the run
    (here a database that does not exist) ends the run before any notebook, and the kernel with it."""
    from sqlite2neon.connect import resolve_target
    from sqlite2neon.runner import launch_kernel

    root = tmp_path / "project"
    _notebook(root, "a", _record("a"))
    params = _params(tmp_path)
    params.database_url = pg_url.rpartition("/")[0] + "/no_such_database_here"
    kernel = launch_kernel(params, root)
    assert len(_kernels()) == 1

    outcome = run_notebooks(params, notebooks=["a"], root=root, target=resolve_target(params), kernel=kernel)

    assert outcome.status == "failed" and "no_such_database_here" in outcome.error
    assert outcome.steps == [] and not (outcome.run_dir / "a.ipynb").exists()
    assert _kernels() == []
