"""Real PostgreSQL servers and databases for the tests.

`postgres_server()` gives the URL of a server: the one named by CUSTOS_TEST_POSTGRES_URL if that
is set, else a throwaway one that scripts/postgres.sh installs (if need be), starts and, on
exit, stops and deletes. `fresh_database(url)` makes an empty database on such a server for one
test and drops it afterwards. Neither ever skips: a server that cannot be had is an error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "postgres.sh"
URL_ENV = "CUSTOS_TEST_POSTGRES_URL"
URL_PREFIX = "postgresql+psycopg://"

# Seconds each step of the script may take; installing runs apt-get.
_TIMEOUTS = {"install": 900.0, "start": 180.0, "stop": 120.0}


def _script(command: str, *args: str) -> str:
    """Runs `scripts/postgres.sh COMMAND ARGS...`, returning its stdout or raising RuntimeError."""
    argv = ["bash", str(SCRIPT), command, *args]
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            check=False,
            timeout=_TIMEOUTS[command],
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(
            f"scripts/postgres.sh {command} did not finish in {exc.timeout:.0f} s"
        ) from exc
    if proc.returncode != 0:
        raise RuntimeError(
            f"scripts/postgres.sh {' '.join([command, *args])} failed "
            f"with exit code {proc.returncode}:\n{proc.stderr}{proc.stdout}"
        )
    return proc.stdout


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yields the SQLAlchemy URL of a running PostgreSQL server's `custos_test` database."""
    external = os.environ.get(URL_ENV)
    if external:
        yield external
        return

    _script("install")
    directory = tempfile.mkdtemp(prefix="custos-pg-")
    try:
        output = _script("start", directory)
    except BaseException:
        # start stops a server it started before failing; this removes what is left on disk.
        shutil.rmtree(directory, ignore_errors=True)
        raise
    lines = output.splitlines()
    if len(lines) != 1 or not lines[0].startswith(URL_PREFIX):
        _script("stop", directory)
        raise RuntimeError(f"scripts/postgres.sh start printed no URL but: {output!r}")
    try:
        yield lines[0]
    finally:
        _script("stop", directory)


def _libpq_url(url: str) -> str:
    """The libpq form of a SQLAlchemy PostgreSQL URL (psycopg does not take the +driver part)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """Creates an empty, uniquely named database on the server; yields its URL, then drops it.

    `server_url` names an existing database on the server (custos_test), used to create and
    drop the new one. The drop uses WITH (FORCE), so connections a test left open do not keep
    the database alive.
    """
    name = f"custos_test_{uuid.uuid4().hex[:16]}"
    admin_url = _libpq_url(server_url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
