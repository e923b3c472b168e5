#!/usr/bin/env bash
# The peers the benchmark compares the runbook with, in a venv of their own (bench/.peers-venv,
# git-ignored), never in the project's: each is installed on its own, so one that cannot be had
# leaves the others in place, and bench/run.py gives its row the reason.
#
#     bash bench/peers.sh              # uses python3; PYTHON=/path/to/python to choose
#
# pgloader is a Debian package (apt-get install pgloader), not installed here.
set -u
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
VENV=.peers-venv
# DuckDB's postgres extension ships as a wheel per DuckDB version: take the version the project pins
# (pyproject.toml), so both read SQLite the same way.
DUCKDB=${DUCKDB_VERSION:-$(sed -n 's/^ *"duckdb==\([0-9.]*\)".*/\1/p' ../pyproject.toml)}
[ -n "$DUCKDB" ] || { echo "no duckdb==X pin in pyproject.toml: set DUCKDB_VERSION"; exit 1; }
# Versions known to install and run offline: sling's own `sling` package downloads its binary on first
# use, so only the wheel carrying the binary is installed (run.py runs that binary); ingestr after
# 0.15.9 downloads its binary at run time. ingestr 0.15.9 and dlt 1.31.0 share one venv (pip check: clean).
PEERS=(
    "duckdb==$DUCKDB duckdb-extension-postgres-scanner==$DUCKDB duckdb-extension-sqlite-scanner==$DUCKDB"
    "sling-linux-amd64==1.4.11"
    "ingestr==0.15.9"
    "dlt[postgres,sql_database]==1.31.0 psycopg2-binary"
)
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV" || exit 1
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1
status=0
for peer in "${PEERS[@]}"; do
    echo "installing $peer"
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip install -q $peer || { echo "FAILED: $peer"; status=1; }
done
"$VENV/bin/python" -m pip list 2>/dev/null | grep -i -E '^(duckdb|sling-linux-amd64|ingestr|dlt) ' || true
exit $status
