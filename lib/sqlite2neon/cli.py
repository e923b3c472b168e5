"""The command line: `sqlite2neon run`, `verify`, `cutover`, `demo`, `embedded`.

    $ sqlite2neon run -f params/mental.yaml -p if_exists truncate
    $ sqlite2neon demo
"""

from __future__ import annotations

import sys

import click

from .config import Params, project_root, resolve_path
from .errors import ConfigError, RunbookError

EXIT_FAILED = 1  # the run ran and did not pass
EXIT_USAGE = 2  # bad parameters or input: nothing was run


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(f"sqlite2neon: {message}", err=True)
    sys.exit(code)


def parameter_options(fn):
    """`-f FILE` and repeatable `-p KEY VALUE`, spelt as papermill spells them."""
    fn = click.option("-p", "--parameters", "pairs", nargs=2, multiple=True, metavar="KEY VALUE",
                      help="Set one parameter (repeatable), e.g. -p if_exists truncate.")(fn)
    fn = click.option("-f", "--parameters-file", "params_file", type=click.Path(dir_okay=False),
                      help="YAML parameter file, e.g. params/demo.yaml.")(fn)
    return fn


def load_params(params_file: str | None, pairs: tuple[tuple[str, str], ...], **fixed) -> Params:
    overrides = {**fixed, **dict(pairs)}
    return Params.load(params_file, overrides)


def _report(outcome) -> None:
    from .record import losses_of

    accepted = [x for x in losses_of(outcome.run_dir) if x.get("accepted")]
    if accepted:
        click.echo(f"accepted losses ({len(accepted)}), as accept_losses allowed:")
        for x in accepted:
            click.echo(f"  {x['kind']}:{x['name']}: {x['reason']}")
    cutover = _cutover_line(outcome.run_dir)
    if cutover:
        click.echo(cutover)
    if outcome.status == "passed":
        click.echo(f"run passed; record: {outcome.run_dir}")
        return
    click.echo(f"sqlite2neon: {outcome.error}", err=True)
    where = outcome.failed_notebook.with_suffix(".html") if outcome.failed_notebook else None
    see = f" (see {where})" if where else ""
    click.echo(f"run {outcome.status}; record: {outcome.run_dir}{see}", err=True)


def _cutover_line(run_dir) -> str:
    """What a cutover did, in one line: applied or not, rows written, conflicts and how resolved."""
    import json

    from .record import read

    text = read(run_dir, "cutover.json")
    if not text:
        return ""
    caught = json.loads(text).get("catch_up") or {}
    tables = caught.get("tables") or []
    rows = sum((t.get("inserted") or 0) + (t.get("updated") or 0) + (t.get("deleted") or 0) for t in tables)
    conflicts = sum(len(t.get("conflicts") or []) for t in tables)
    if caught.get("dry_run"):
        return (f"cutover dry run: NOTHING WAS APPLIED; it would write {rows} row(s) and found {conflicts} "
                f"conflict(s) with rows changed in Postgres (conflicts: {caught.get('resolution')}); see cutover.json")
    if caught.get("applied"):
        kept = sum(t.get("kept") or 0 for t in tables)
        over = sum(t.get("overwritten") or 0 for t in tables)
        return (f"cutover: APPLIED {rows} row(s) from SQLite; {conflicts} conflict(s): {kept} kept as Postgres has "
                f"them, {over} overwritten")
    return f"cutover: nothing was applied; {conflicts} conflict(s) with rows changed in Postgres (see cutover.json)"


def _exit_status(outcome) -> int:
    """0 passed, 1 failed, 128 + the signal's number when interrupted (130 for Ctrl-C, as shells do)."""
    if outcome.status == "passed":
        return 0
    return 128 + outcome.signal if outcome.signal else EXIT_FAILED


def _announce(params: Params, kind: str):
    """Resolve the target and name it, with the source, before anything runs: the first lines a
    person sees say what will be read and what may be written. Returns the Target, or None when it
    cannot be resolved (preflight then fails with the reason)."""
    from .connect import resolve_target

    click.echo(f"sqlite2neon {kind}: {params.name!r}")
    click.echo(f"  source: {resolve_path(params.sqlite_path)} (read-only)")
    try:
        target = resolve_target(params)
    except RunbookError as exc:
        click.echo(f"  target: not resolved ({exc})")
        return None
    click.echo(f"  target: {target.headline()}")
    return target


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sqlite2neon")
def main() -> None:
    """Move an app's SQLite database into Neon or any PostgreSQL 14+, step by step, with a record."""


@main.command()
@parameter_options
def run(params_file, pairs) -> None:
    """Run the runbook's notebooks in order with papermill; stop at the first failure.

    Example: sqlite2neon run -f params/mental.yaml -p if_exists truncate
    """
    _run_notebooks(params_file, pairs)


@main.command()
@parameter_options
def verify(params_file, pairs) -> None:
    """Verify an earlier migration again, loading nothing: the verify step alone, with its own run
    record (runs/<stamp>-<name>-verify). Exits 1 when any row differs.

    Example: sqlite2neon verify -f params/mental.yaml
    """
    _run_notebooks(params_file, pairs, ["04_verify"], "verify")


@main.command()
@parameter_options
def cutover(params_file, pairs) -> None:
    """Carry over what the app wrote to SQLite since the load (inserts, updates, deletes), verify in
    full, check the app's API when api_url is set, and print the closing checklist. Exits 1 unless
    the target ends level with the source.

    Example: sqlite2neon cutover -f params/mental.yaml -p api_url http://localhost:3000
    """
    _run_notebooks(params_file, pairs, ["05_cutover"], "cutover")


def _run_notebooks(params_file, pairs, notebooks: list[str] | None = None, label: str = "") -> None:
    from .record import run_kind
    from .runner import check_kind, launch_kernel, run_notebooks

    try:
        params = load_params(params_file, pairs)
        check_kind(params, label)
    except RunbookError as exc:
        _fail(str(exc))
    kernel = launch_kernel(params)  # it boots while the target is resolved
    try:
        target = _announce(params, run_kind(label, params.dry_run))
        outcome = run_notebooks(params, notebooks=notebooks, label=label, target=target, kernel=kernel)
    finally:
        kernel.stop()  # when the run did not (it never began)
    _report(outcome)
    sys.exit(_exit_status(outcome))


@main.command()
@click.option("--items", default=3000, show_default=True, help="How many mental_items the demo database holds.")
@parameter_options
def demo(items, params_file, pairs) -> None:
    """Make a demo SQLite database of the mental_items app and migrate it into the embedded Postgres.

    The embedded server is the runbook's own scratch target: each demo replaces the tables the
    previous one loaded. Whatever .env or DATABASE_URL say, the demo goes there; only a
    database_url parameter (-p database_url URL) sends it elsewhere. It writes only its own
    data/demo.db, and refuses any other sqlite_path.

    Example: sqlite2neon demo
    """
    from .demo import make_demo_db
    from .runner import launch_kernel, run_notebooks

    try:
        params = load_params(params_file or str(project_root() / "params" / "demo.yaml"),
                             pairs)
        if params.sqlite_path != Params().sqlite_path:
            raise ConfigError(f"the demo makes and migrates its own database, {Params().sqlite_path}; it does not take "
                              f"sqlite_path ({params.sqlite_path}). To migrate that file: sqlite2neon run -p sqlite_path "
                              f"{params.sqlite_path}")
    except RunbookError as exc:
        _fail(str(exc))
    kernel = launch_kernel(params)  # it boots while the target is resolved and the database made
    try:
        try:
            target = _announce(params, "demo")
            db = make_demo_db(resolve_path(params.sqlite_path), items=items)
        except RunbookError as exc:
            _fail(str(exc))
        click.echo(f"demo database: {db} ({items} items)")
        outcome = run_notebooks(params, target=target, kernel=kernel)
    finally:
        kernel.stop()  # when the run did not (it never began)
    _report(outcome)
    sys.exit(_exit_status(outcome))


@main.group()
def embedded() -> None:
    """The embedded PostgreSQL used when no database URL is given."""


@embedded.command("status")
@click.option("--dir", "home", default=".sqlite2neon/postgres", show_default=True, help="Where it keeps its data.")
def embedded_status(home) -> None:
    """Say whether the embedded server runs, and its URL.

    Example: sqlite2neon embedded status
    """
    from .embedded import is_running, url_for

    port = is_running(resolve_path(home))
    click.echo(f"running: {url_for(port)}" if port else "not running")


@embedded.command("stop")
@click.option("--dir", "home", default=".sqlite2neon/postgres", show_default=True, help="Where it keeps its data.")
def embedded_stop(home) -> None:
    """Stop the embedded server (its data stays; the next run starts it again).

    Example: sqlite2neon embedded stop
    """
    from .embedded import stop

    click.echo("stopped" if stop(resolve_path(home)) else "was not running")


if __name__ == "__main__":
    main()
