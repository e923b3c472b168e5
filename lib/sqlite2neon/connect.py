"""The one way to reach the target: resolve which Postgres to use, then connect with retry.

    >>> target = resolve_target(Params())          # embedded server when no URL is given
    >>> with connect(target.direct_url, Params()) as conn: ...
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit, urlunsplit

import psycopg
from dotenv import dotenv_values

from .config import Params, redact_url, resolve_path
from .errors import ConfigError, RunbookError, TargetError, TargetRefused, one_line

LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}
EXAMPLE_HOST = "ep-example-123456"  # the placeholder in .env.example
# SQLSTATE classes that retrying cannot fix: authentication and permissions.
_FATAL_SQLSTATES = {"28000", "28P01", "42501", "3D000"}
# No free connection slot (SQLSTATE 53300, which libpq does not pass on for a failed connection, so
# the messages too): the server's, the reserved ones, the role's or the database's limit. Retried, as a
# slot may free up.
_NO_SLOT = re.compile(r"too many clients already|remaining connection slots are reserved|"
                      r'too many connections for (role|database) "')
# libpq reports a failed connection without a SQLSTATE; these messages cannot heal by waiting
# (PostgreSQL's messages for a missing database or role, failed authentication, pg_hba.conf; TLS
# verification; Neon's proxy without SNI, "Endpoint ID is not specified").
_PERMANENT = re.compile(
    r'database "[^"]*" does not exist|role "[^"]*" does not exist|password authentication failed'
    r"|no pg_hba\.conf entry|pg_hba\.conf rejects|certificate verify failed|server does not support SSL|Endpoint ID is not specified"
    r"|channel binding|permission denied for database|authentication failed|SSL error: .*(?:certificate|wrong version)"
    r"|failed to resolve host|could not translate host name",  # a misspelt host: waiting does not make it exist
    re.IGNORECASE)


@dataclass
class Target:
    """Where the data goes. `url` may carry a password: never print it, print `display`."""

    kind: str  # "embedded", "neon" or "postgres"
    url: str
    direct_url: str
    direct_source: str  # how the direct URL was found: "same", "derived", "parameter" or the variable's name
    url_source: str  # "parameter", "embedded", or "env:NAME"
    schema: str = "public"

    @property
    def host(self) -> str:
        return host_of(self.url)

    @property
    def direct_host(self) -> str:
        return host_of(self.direct_url)

    @property
    def display(self) -> str:
        return redact_url(self.direct_url)

    @property
    def pooled(self) -> bool:
        return is_pooled_host(self.host) or bool(pooled_endpoint_option(self.url))

    @property
    def secrets(self) -> list[str]:
        return [s for s in {password_of(self.url), password_of(self.direct_url)} if s]

    @property
    def endpoint(self) -> str:
        """How the URL that loads and runs DDL was found, in words: embedded, direct, or from a pooled one."""
        if self.kind == "embedded":
            return "embedded PostgreSQL, the runbook's own scratch server"
        if self.direct_source == "derived":
            return f"direct endpoint derived from the pooled {self.host} (-pooler removed)"
        if self.direct_source != "same":
            return f"direct endpoint from {self.direct_source} (the pooled one is {self.host})"
        return "pooled endpoint" if self.pooled else "direct endpoint"

    def describe(self) -> dict:
        """The target without secrets, for the terminal and every record: host, port, database,
        schema, kind, endpoint and the redacted URL.

        >>> Target("postgres", "postgresql://u:pw@db.example/app", "postgresql://u:pw@db.example/app",
        ...        "same", "parameter").describe()["database"]
        'app'
        """
        parts = urlsplit(self.direct_url)
        query = parse_qs(parts.query)
        return {
            "url": self.display,
            "host": self.direct_host or "(socket)",
            "port": parts.port or int(query.get("port", ["5432"])[0]),
            "database": parts.path.lstrip("/") or query.get("dbname", [""])[0] or parts.username or "",
            "schema": self.schema,
            "kind": self.kind,
            "endpoint": self.endpoint,
            "from": self.url_source,
        }

    def headline(self) -> str:
        """One line naming the target, e.g. `postgres db.example:5432/app, schema public (direct endpoint)`."""
        d = self.describe()
        return f"{d['kind']} {d['host']}:{d['port']}/{d['database']}, schema {d['schema']} ({d['endpoint']})"


def env_file_values(params: Params) -> dict[str, str]:
    """Variables of the parameter `env_file`, when that file exists (`python-dotenv` reads it)."""
    path = resolve_path(params.env_file) if params.env_file else None
    return {k: v for k, v in (dotenv_values(path) if path and path.is_file() else {}).items() if v is not None}


def deref(value: str, params: Params | None = None) -> str:
    """`env:NAME` stands for the URL in variable NAME: from the environment, else from `params.env_file`.

    This is how a parameter names a URL without holding it: the user's `database_url: env:DATABASE_URL`,
    and the CLI handing a URL with a password to a notebook (`env:SQLITE2NEON_DATABASE_URL`).
    Raises ConfigError when NAME is set nowhere."""
    if not value.startswith("env:"):
        return value
    name = value[4:]
    found = os.environ.get(name) or (env_file_values(params).get(name) if params else None)
    if not found:
        where = f" or in {params.env_file}" if params and params.env_file else ""
        raise ConfigError(f"the parameter says env:{name}, but {name} is not set in the environment{where}")
    return found


def resolve_target(params: Params) -> Target:
    """The target of a run: the URL the parameters name, else the embedded server.

    Only the parameter `database_url` chooses a database: a literal URL, or `env:NAME` to read it from
    the environment or the `env_file`. Empty means the embedded server, whatever `.env` or the
    environment hold, so the demo and the notebooks' defaults can never write into a real database.
    The direct URL (loads and DDL) is `database_url_direct` when set; with `env:NAME`, the variable
    `NAME_DIRECT` when set; else the pooled host without `-pooler` (Neon docs, "Connection pooling").
    """
    if not params.database_url:
        from .embedded import ensure_running

        url = ensure_running(resolve_path(params.embedded_dir))
        return Target("embedded", url, url, "same", "embedded", params.target_schema)
    url = deref(params.database_url, params)
    named = params.database_url.startswith("env:") and not params.database_url.startswith("env:SQLITE2NEON_")
    source = "parameter"
    if named:  # which one: an exported variable wins over the env_file
        where = "the environment" if os.environ.get(params.database_url[4:]) else params.env_file
        source = f"{params.database_url} (from {where})"
    check_url(url)
    if EXAMPLE_HOST in host_of(url):
        raise ConfigError(f"{params.database_url} is still the example URL from .env.example ({redact_url(url)}); "
                          "paste your connection string from the Neon console")
    direct_name = f"{params.database_url[4:]}_DIRECT" if named else ""
    direct_env = deref(f"env:{direct_name}", params) if direct_name and (
        os.environ.get(direct_name) or env_file_values(params).get(direct_name)) else ""
    if params.database_url_direct:
        direct, direct_source = deref(params.database_url_direct, params), "database_url_direct"
        check_url(direct)
    elif direct_env:
        direct, direct_source = direct_env, direct_name
        check_url(direct)
    elif is_pooled_host(host_of(url)) or pooled_endpoint_option(url):
        direct, direct_source = derive_direct_url(url), "derived"
    else:
        direct, direct_source = url, "same"
    kind = "neon" if host_of(url).endswith(".neon.tech") else "postgres"
    return Target(kind, url, direct, direct_source, source, params.target_schema)


def check_url(url: str) -> None:
    """A clear error for a URL that is not a Postgres connection URL (no secret in the message)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"database URL {redact_url(url)} does not parse: {exc}") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(
            f"database URL must start with postgresql:// (got {parts.scheme or 'no scheme'!r}); "
            "copy the connection string from the Neon console"
        )
    if not parts.hostname and "host=" not in parts.query:
        raise ConfigError(f"database URL {redact_url(url)} names no host")


def host_of(url: str) -> str:
    parts = urlsplit(url)
    if parts.hostname:
        return parts.hostname
    return parse_qs(parts.query).get("host", [""])[0]


def password_of(url: str) -> str:
    parts = urlsplit(url)
    query_pw = parse_qs(parts.query).get("password", [""])[0]
    return parts.password or query_pw or ""


def sslmode_of(url: str) -> str:
    return parse_qs(urlsplit(url).query).get("sslmode", [""])[0]


def is_local_host(host: str) -> bool:
    return host in LOCAL_HOSTS or host.startswith("/")


def is_pooled_host(host: str) -> bool:
    return "-pooler." in host


def pooled_endpoint_option(url: str) -> str:
    """The `endpoint=` (or older `project=`) value of the URL's `options` parameter when it names a
    pooled endpoint (`ep-x-pooler`), else "". Neon reads the endpoint from `options` where the client
    cannot send SNI (Neon docs, "Connection errors": "Endpoint ID is not specified")."""
    for option in parse_qs(urlsplit(url).query).get("options", []):
        if m := re.search(r"(?:endpoint|project)=(\S+-pooler)\b", option):
            return m.group(1)
    return ""


def derive_direct_url(url: str) -> str:
    """Neon's direct endpoint is the pooled host without `-pooler` after the endpoint id, and an
    `options=endpoint=<id>-pooler` without it too (else the "direct" URL still reaches the pooler).

        >>> derive_direct_url("postgresql://u@ep-a-pooler.eu.aws.neon.tech/db?options=endpoint%3Dep-a-pooler")
        'postgresql://u@ep-a.eu.aws.neon.tech/db?options=endpoint%3Dep-a'
    """
    from urllib.parse import parse_qsl, urlencode

    parts = urlsplit(url)
    query = [(k, re.sub(r"((?:endpoint|project)=\S+?)-pooler\b", r"\1", v) if k == "options" else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(netloc=parts.netloc.replace("-pooler.", ".", 1),
                                     query=urlencode(query) if pooled_endpoint_option(url) else parts.query))


def scrub(text: str, secrets: list[str]) -> str:
    """Remove every known secret from a message before it is shown or recorded."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def connect(url: str, params: Params, *, autocommit: bool = False) -> psycopg.Connection:
    """Connect, retrying what may heal (a Neon compute waking from zero, a server restarting, too many
    clients for a moment) until `connect_wait` seconds have passed, then set the runbook's own
    timeouts (`session_settings`).

    Errors that cannot heal fail at once (a database or role that does not exist, authentication,
    pg_hba.conf, a certificate that fails verification) with TargetRefused: retrying cannot fix them.
    Raises TargetError when the time runs out, saying how long it waited and how many attempts it made
    (ConfigError for a URL libpq cannot read); the message never holds the password.
    """
    conn, _ = connect_timed(url, params, autocommit=autocommit)
    return conn


class RunbookConnection(psycopg.Connection):
    """A psycopg connection that knows whether a pooler stands between it and the server (`pooled`,
    set by `connect_timed`). Behind one, the runbook's timeouts cannot be session settings: in
    transaction mode the next transaction may run on another server connection, and a SET would stay
    on this one for whichever client gets it next (PgBouncer docs, "SQL feature map for pooling modes":
    SET is not supported in transaction mode). So each outermost `transaction()` starts with them as
    SET LOCAL (`local_settings`), which ends with the transaction."""

    pooled: bool = False
    local_settings: str = ""

    @contextlib.contextmanager
    def transaction(self, savepoint_name: str | None = None, force_rollback: bool = False):
        outermost = self.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with super().transaction(savepoint_name, force_rollback) as tx:
            if outermost and self.pooled:
                self.execute(self.local_settings)
            yield tx


def _timeouts_ms(params: Params) -> dict[str, float]:
    return {name: seconds * 1000 for name, seconds in (
        ("statement_timeout", params.statement_timeout), ("lock_timeout", params.lock_timeout),
        ("idle_in_transaction_session_timeout", params.idle_timeout))}


def local_settings(params: Params) -> str:
    """The runbook's timeouts as SET LOCAL statements, for one transaction behind a pooler."""
    return " ".join(f"SET LOCAL {name} = {value};" for name, value in _timeouts_ms(params).items())


def session_settings(params: Params) -> str:
    """The SET statements every connection of the runbook starts with: UTC, and its own statement,
    lock and idle-in-transaction timeouts instead of the role's (a hosted role often has
    `statement_timeout = 5s`, which a COPY of a large table outlives). 0 turns a limit off (PostgreSQL
    docs, 20.11.2 "Statement Behavior"). Behind a pooler the timeouts are SET LOCAL in each of the
    runbook's transactions instead (`RunbookConnection`); a statement outside them (a foreign key's
    build, ANALYZE) runs under the server's own there."""
    return "SET TIME ZONE 'UTC'; " + " ".join(f"SET {name} = {value};" for name, value in _timeouts_ms(params).items())


def connect_timed(url: str, params: Params, *, autocommit: bool = False) -> tuple[psycopg.Connection, float]:
    """As `connect`, also returning the seconds to the first successful connection."""
    started = time.monotonic()
    delay = 0.25
    attempt = 0
    while True:
        try:
            # prepare_threshold=None: no server-side prepared statements, which a transaction-mode
            # pooler would hand to other clients' transactions (psycopg docs, "Prepared statements":
            # "Using prepared statements with PgBouncer")
            conn = RunbookConnection.connect(
                url,
                autocommit=autocommit,
                connect_timeout=params.connect_timeout,
                application_name="sqlite2neon",
                prepare_threshold=None,
            )
            # A pooler answers the client's startup with a process id of its own making (it routes
            # cancel requests itself), so it differs from the server's pg_backend_pid() only behind one.
            conn.pooled = conn.execute("SELECT pg_backend_pid()").fetchone()[0] != conn.info.backend_pid
            if conn.pooled:  # TimeZone is one of the settings a pooler keeps per client
                conn.local_settings = local_settings(params)
                conn.execute("SET TIME ZONE 'UTC'")
            else:
                conn.execute(session_settings(params))
            if not autocommit:
                conn.commit()  # the settings stay for the session; the next transaction starts clean
            return conn, time.monotonic() - started
        except psycopg.OperationalError as exc:
            attempt += 1
            message = scrub(one_line(exc), [password_of(url)])
            if exc.sqlstate in _FATAL_SQLSTATES or _PERMANENT.search(message):
                raise TargetRefused(f"cannot connect to {redact_url(url)}: {message}") from None
            waited = time.monotonic() - started
            if waited + delay > params.connect_wait:
                full = ("; the server has no free connection slot: close other sessions, raise its limit (on Neon, a "
                        "larger compute) or use the pooled URL" if _NO_SLOT.search(message) else "")
                raise TargetError(
                    f"cannot connect to {redact_url(url)}: gave up after {waited:.1f} s and {attempt} attempt(s) "
                    f"(connect_wait {params.connect_wait} s): {message}{full}"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        except psycopg.ProgrammingError as exc:
            raise ConfigError(
                f"database URL {redact_url(url)} is not valid: {scrub(one_line(exc), [password_of(url)])}"
            ) from None


def refusal(target: Target, params: Params) -> str | None:
    """Why the target will never accept this run's connection, found with one attempt and no retry
    (a database that does not exist fails in a second, not after the notebooks start); None when it
    connects, or fails in a way a retry may heal (the preflight then waits for it)."""
    if target.kind == "embedded":
        return None
    once = dataclasses.replace(params, connect_wait=0, connect_timeout=min(params.connect_timeout, 5))
    try:
        conn, _ = connect_timed(target.direct_url, once, autocommit=True)
    except TargetRefused as exc:
        return str(exc)
    except RunbookError:
        return None
    conn.close()
    return None
