"""The one way to reach the target: resolve which Postgres to use, then connect with retry.

    >>> target = resolve_target(Params())          # embedded server when no URL is given
    >>> with connect(target.direct_url, Params()) as conn: ...
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit, urlunsplit

import psycopg
from dotenv import dotenv_values

from .config import Params, redact_url, resolve_path
from .errors import ConfigError, TargetError, one_line

LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}
# SQLSTATE classes that retrying cannot fix: authentication and permissions.
_FATAL_SQLSTATES = {"28000", "28P01", "42501", "3D000"}


@dataclass
class Target:
    """Where the data goes. `url` may carry a password: never print it, print `display`."""

    kind: str  # "embedded", "neon" or "postgres"
    url: str
    direct_url: str
    direct_source: str  # how the direct URL was found: "same", "derived", "DATABASE_URL_DIRECT"
    url_source: str  # "parameter", "DATABASE_URL", "embedded"

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
        return is_pooled_host(self.host)

    @property
    def secrets(self) -> list[str]:
        return [s for s in {password_of(self.url), password_of(self.direct_url)} if s]


def load_env(params: Params) -> dict[str, str]:
    """Variables from the parameter `env_file` (if it exists), under those already in the environment."""
    path = resolve_path(params.env_file) if params.env_file else None
    values = {k: v for k, v in (dotenv_values(path) if path and path.is_file() else {}).items() if v is not None}
    values.update({k: v for k, v in os.environ.items() if k.startswith("DATABASE_URL")})
    return values


def deref(value: str) -> str:
    """`env:NAME` stands for the URL in environment variable NAME (how the CLI hands a URL with a
    password to a notebook without writing it into the notebook)."""
    if value.startswith("env:"):
        name = value[4:]
        if not os.environ.get(name):
            raise ConfigError(f"parameter refers to environment variable {name}, which is not set")
        return os.environ[name]
    return value


def resolve_target(params: Params) -> Target:
    env = load_env(params)
    database_url = deref(params.database_url)
    if database_url:
        url, source = database_url, "parameter"
    elif env.get("DATABASE_URL"):
        url, source = env["DATABASE_URL"], "DATABASE_URL"
    else:
        from .embedded import ensure_running

        url = ensure_running(resolve_path(params.embedded_dir))
        return Target("embedded", url, url, "same", "embedded")
    check_url(url)
    explicit_direct = deref(params.database_url_direct) or (env.get("DATABASE_URL_DIRECT") if source != "parameter" else "")
    if explicit_direct:
        check_url(explicit_direct)
        direct, direct_source = explicit_direct, "DATABASE_URL_DIRECT"
    elif is_pooled_host(host_of(url)):
        direct, direct_source = derive_direct_url(url), "derived"
    else:
        direct, direct_source = url, "same"
    kind = "neon" if host_of(url).endswith(".neon.tech") else "postgres"
    return Target(kind, url, direct, direct_source, source)


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


def derive_direct_url(url: str) -> str:
    """Neon's direct endpoint is the pooled host without `-pooler` after the endpoint id."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.replace("-pooler.", ".", 1)))


def scrub(text: str, secrets: list[str]) -> str:
    """Remove every known secret from a message before it is shown or recorded."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def connect(url: str, params: Params, *, autocommit: bool = False) -> psycopg.Connection:
    """Connect with retry and backoff, for a Neon compute waking from zero or a server restarting.

    Authentication and permission errors fail at once: retrying cannot fix them.
    """
    conn, _ = connect_timed(url, params, autocommit=autocommit)
    return conn


def connect_timed(url: str, params: Params, *, autocommit: bool = False) -> tuple[psycopg.Connection, float]:
    """As `connect`, also returning the seconds to the first successful connection."""
    started = time.monotonic()
    delay = 0.25
    attempt = 0
    while True:
        try:
            conn = psycopg.connect(
                url,
                autocommit=autocommit,
                connect_timeout=params.connect_timeout,
                application_name="sqlite2neon",
            )
            conn.execute("SET TIME ZONE 'UTC'")
            return conn, time.monotonic() - started
        except psycopg.OperationalError as exc:
            attempt += 1
            message = scrub(one_line(exc), [password_of(url)])
            if exc.sqlstate in _FATAL_SQLSTATES or "password authentication failed" in message:
                raise TargetError(f"cannot connect to {redact_url(url)}: {message}") from None
            if attempt > params.connect_retries:
                raise TargetError(
                    f"cannot connect to {redact_url(url)} after {attempt} attempts: {message}"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        except psycopg.ProgrammingError as exc:
            raise ConfigError(
                f"database URL {redact_url(url)} is not valid: {scrub(one_line(exc), [password_of(url)])}"
            ) from None
