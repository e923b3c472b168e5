"""The notebooks as sources: committed without outputs, sharing one parameter list, and run top to
bottom with their defaults by nbval, as someone stepping through them in JupyterLab would."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import nbformat
import pytest

from conftest import ROOT
from sqlite2neon import embedded
from sqlite2neon.config import Params
from sqlite2neon.runner import KERNEL_NAME, NOTEBOOKS, ensure_kernel

NOTEBOOK_FILES = sorted((ROOT / "notebooks").glob("*.ipynb"))  # the runbook, then 05_cutover


def test_the_runbook_is_every_notebook_but_the_cutover():
    assert [p.stem for p in NOTEBOOK_FILES] == NOTEBOOKS + ["05_cutover"]


def _parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    return nb, cells[0]


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.stem)
def test_notebook_is_committed_clean_and_declares_every_parameter(path):
    nb, cell = _parameters_cell(path)
    assert nb.metadata.kernelspec.name == KERNEL_NAME
    for c in nb.cells:
        if c.cell_type == "code":
            assert not c.outputs and c.execution_count is None, f"{path.name} has outputs"
    assigned = {}
    for node in ast.parse(cell.source).body:
        assert isinstance(node, ast.Assign), "the parameters cell holds only assignments"
        assigned[node.targets[0].id] = ast.literal_eval(node.value)
    assert assigned == Params().as_dict(), "the parameters cell must list every parameter with its default"
    assert nb.cells[0].cell_type == "markdown" and "When it fails" in nb.cells[0].source


def test_param_files_hold_only_known_parameters():
    for path in (ROOT / "params").glob("*.yaml"):
        Params.load(path)  # raises on an unknown or misspelt key


@pytest.mark.slow
def test_notebooks_run_top_to_bottom_with_their_defaults(tmp_path):
    """nbval --nbval-lax runs every cell of every notebook, in runbook order, in the project's kernel."""
    ensure_kernel()
    root = tmp_path / "root"  # a fresh checkout: no demo database yet, the first notebook makes it
    env = os.environ | {"SQLITE2NEON_ROOT": str(root)}
    env.pop("DATABASE_URL", None)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
             "--rootdir", str(tmp_path), "-c", os.devnull, *map(str, NOTEBOOK_FILES)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
        )
    finally:
        embedded.stop(root / Params().embedded_dir, mode="immediate")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "passed" in proc.stdout and "failed" not in proc.stdout.splitlines()[-1]
    assert (root / "runs" / "interactive-demo" / "verify.json").exists()
