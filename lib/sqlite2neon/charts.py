"""Charts for the notebooks and the record: matplotlib figures, saved as PNG in the run directory.

    >>> fig = rows_per_table(verify_result)
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt


def _save(fig, run_dir: Path | None, name: str):
    if run_dir is not None:
        charts = Path(run_dir) / "charts"
        charts.mkdir(exist_ok=True)
        fig.savefig(charts / f"{name}.png", dpi=110, bbox_inches="tight")
    return fig


def source_rows(profile, run_dir: Path | None = None):
    """Rows per table in the SQLite source."""
    names = [t.name for t in profile.tables]
    rows = [t.rows for t in profile.tables]
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.4 * len(names)))
    ax.barh(names, rows, color="#4c72b0")
    ax.invert_yaxis()
    ax.set_xlabel("rows")
    ax.set_title("Rows per table in the SQLite source")
    for y, n in enumerate(rows):
        ax.text(n, y, f" {n:,}", va="center", fontsize=8)
    return _save(fig, run_dir, "source_rows")


def rows_per_table(result, run_dir: Path | None = None):
    """Rows per table, source beside target."""
    names = [t.target for t in result.tables]
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.5 * len(names)))
    ys = range(len(names))
    ax.barh([y - 0.2 for y in ys], [t.source_rows for t in result.tables], height=0.4, label="SQLite source", color="#4c72b0")
    ax.barh([y + 0.2 for y in ys], [t.target_rows or 0 for t in result.tables], height=0.4, label="Postgres target", color="#55a868")
    ax.set_yticks(list(ys), names)
    ax.invert_yaxis()
    ax.set_xlabel("rows")
    ax.set_title("Rows per table: source beside target")
    ax.legend(loc="lower right")
    return _save(fig, run_dir, "rows_per_table")


def timestamp_distributions(histograms, run_dir: Path | None = None):
    """Each timestamp column's values per month, source beside target: a unit mistake
    (seconds read as milliseconds) shows as two distributions decades apart."""
    columns = list(histograms)
    if not columns:
        return None
    fig, axes = plt.subplots(len(columns), 1, figsize=(8, 2.4 * len(columns)), squeeze=False)
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
    return _save(fig, run_dir, "timestamp_distributions")
