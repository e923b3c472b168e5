"""Charts for the notebooks and the record: matplotlib figures, saved as PNG in the run directory.
Figures are made without pyplot (matplotlib's `Figure` on its own), so each is drawn once, into its
file: a notebook shows that file (`saved`) rather than having the inline backend draw it again.

    >>> fig = rows_per_table(verify_result, run_dir)   # writes run_dir/charts/rows_per_table.png
    >>> saved(run_dir, "rows_per_table")               # the PNG, as a notebook displays it
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

if not os.environ.get("MPLBACKEND"):  # outside a notebook (ipykernel sets it): draw to files, open no window
    matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402


def _save(fig, run_dir: Path | None, name: str, *, crop: bool = True):
    """Write `fig` as run_dir/charts/name.png, cropped to what it draws (`crop`: a layout pass of its
    own, which a figure that tight_layout has fitted already does without)."""
    if run_dir is not None:
        charts = Path(run_dir) / "charts"
        charts.mkdir(exist_ok=True)
        fig.savefig(charts / f"{name}.png", dpi=110, bbox_inches="tight" if crop else None)
    return fig


def saved(run_dir: Path, name: str):
    """The chart `name` as written to `run_dir/charts/`, for a notebook cell to display (an
    IPython Image); None, which shows nothing, when that chart had nothing to draw."""
    from IPython.display import Image

    path = Path(run_dir) / "charts" / f"{name}.png"
    return Image(filename=str(path)) if path.exists() else None


def source_rows(profile, run_dir: Path | None = None):
    """Rows per table in the SQLite source."""
    names = [t.name for t in profile.tables]
    rows = [t.rows for t in profile.tables]
    fig = Figure(figsize=(7, 0.5 + 0.4 * len(names)))
    ax = fig.subplots()
    ax.barh(names, rows, color="#4c72b0")
    ax.invert_yaxis()
    ax.set_xlabel("rows")
    ax.set_title("Rows per table in the SQLite source")
    for y, n in enumerate(rows):
        ax.text(n, y, f" {n:,}", va="center", fontsize=8)
    return _save(fig, run_dir, "source_rows")


def rows_per_table(result, run_dir: Path | None = None):
    """Rows per table, source beside target."""
    fig = _source_beside_target([t.target for t in result.tables], [t.source_rows for t in result.tables],
                                [t.target_rows or 0 for t in result.tables], "rows", "Rows per table: source beside target")
    return _save(fig, run_dir, "rows_per_table")


def null_rates(result, run_dir: Path | None = None):
    """Each column's share of NULLs, source beside target: a conversion that loses values shows as a
    longer target bar. `result` is a VerifyResult or verify.json as loaded; None when no table has `nulls`."""
    tables = result["tables"] if isinstance(result, dict) else [vars(t) for t in result.tables]
    names, source, target = [], [], []
    for t in tables:
        for column, (source_nulls, target_nulls) in (t.get("nulls") or {}).items():
            names.append(f"{t['target']}.{column}")
            source.append(source_nulls / t["source_rows"] if t["source_rows"] else 0.0)
            target.append(target_nulls / t["target_rows"] if t.get("target_rows") else 0.0)
    if not names:
        return None
    fig = _source_beside_target(names, source, target, "share of rows that are NULL", "NULLs per column: source beside target")
    fig.axes[0].set_xlim(0, 1)
    fig.axes[0].xaxis.set_major_formatter(PercentFormatter(1.0))
    return _save(fig, run_dir, "null_rates")


def _source_beside_target(names: list[str], source: list[float], target: list[float], xlabel: str, title: str):
    fig = Figure(figsize=(7, 0.6 + 0.5 * len(names)))
    ax = fig.subplots()
    ys = range(len(names))
    ax.barh([y - 0.2 for y in ys], source, height=0.4, label="SQLite source", color="#4c72b0")
    ax.barh([y + 0.2 for y in ys], target, height=0.4, label="Postgres target", color="#55a868")
    ax.set_yticks(list(ys), names)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.legend(loc="lower right")
    return fig


def timestamp_distributions(histograms, run_dir: Path | None = None):
    """Each timestamp column's values per month, source beside target: a unit mistake
    (seconds read as milliseconds) shows as two distributions decades apart."""
    columns = list(histograms)
    if not columns:
        return None
    fig = Figure(figsize=(8, 2.4 * len(columns)))
    axes = fig.subplots(len(columns), 1, squeeze=False)
    for ax, key in zip(axes[:, 0], columns):
        frame = histograms[key]
        # Fractional years rather than dates: a unit mistake can land in year 50,000.
        years = [int(m[:-3]) + (int(m[-2:]) - 1) / 12 for m in frame["month"]]
        ax.step(years, frame["source"], where="post", label="SQLite source", color="#4c72b0", linewidth=2.5)
        ax.step(years, frame["target"], where="post", label="Postgres target", color="#55a868", linestyle="--")
        ax.set_xlabel("year", fontsize=8)
        ax.set_title(key, fontsize=9)
        ax.set_ylabel("rows / month", fontsize=8)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, run_dir, "timestamp_distributions", crop=False)
