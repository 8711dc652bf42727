"""The database edge: connections, explicit transactions and the schema.

Writes go through raw DBAPI cursors on one long-lived connection per thread and process:
SQLAlchemy's per-transaction pool checkout costs more than the append itself. Transactions
are explicit: ``BEGIN IMMEDIATE`` on SQLite takes the write lock up front, so concurrent
writers queue instead of failing on lock upgrade; PostgreSQL writers serialize on a row
lock taken by the ledger. SQL is written with ``?`` placeholders and converted for psycopg.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a committed transaction is in the WAL
before COMMIT returns, so it survives ``kill -9`` of the process (it could be lost only
with the operating system itself, on power loss). PostgreSQL keeps its default
``synchronous_commit=on``.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url

from consent_ledger import pgcopy
from consent_ledger.errors import NotACustosDatabase

__all__ = ["Database", "Dialect", "Tx", "open_database"]

Dialect = Literal["sqlite", "postgresql"]
SCHEMA_MARKER = ("schema", "custos")
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


# Rows per COPY message when streaming: small enough that the server starts early, large
# enough that each message is worth a system call (about 45 KB of ledger entries).
_COPY_BLOCK = 128


@cache
def _pg_sql(sql: str) -> str:
    return sql.replace("?", "%s")


@dataclass
class Tx:
    """One open transaction on a raw DBAPI cursor."""

    dialect: Dialect
    cursor: Any
    _after_commit: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the transaction has committed (never if it rolls back)."""
        self._after_commit.append(action)

    def _sql(self, sql: str) -> str:
        return sql if self.dialect == "sqlite" else _pg_sql(sql)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self.cursor.execute(self._sql(sql), params)
        return self.cursor

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cursor.executemany(self._sql(sql), rows)

    def keyed_blob_sink(self, table: str, columns: tuple[str, str]) -> KeyedBlobSink:
        """Rows of (integer key, bytes) to insert as the caller makes them (a context
        manager giving the function that takes each row); see ``KeyedBlobSink``."""
        return KeyedBlobSink(self, table, columns)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(self.execute(sql, params).fetchall())

    def in_list(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column IN (...)`` as SQL and parameters. On PostgreSQL one array parameter, so
        the statement text is the same for any number of values and can be prepared."""
        if self.dialect == "postgresql":
            return f"{column} = ANY(?)", [list(values)]
        return f"{column} IN ({','.join('?' * len(values))})", list(values)


class KeyedBlobSink:
    """Inserts rows of (integer key, bytes) as the caller makes them.

    On PostgreSQL, a large batch streams through one binary COPY opened at its first block,
    so the server stores rows on the other core while the caller prepares the next ones
    (COPY is also four times as fast as executemany there); a single row is a plain INSERT.
    On SQLite, rows are inserted with one executemany at the end. If the caller raises, the
    COPY is aborted and the transaction is left to roll back. A class rather than a
    generator context manager: a single append pays for two of these.
    """

    __slots__ = ("_columns", "_copy", "_opened", "_pending", "_table", "_tx")

    def __init__(self, tx: Tx, table: str, columns: tuple[str, str]) -> None:
        self._tx = tx
        self._table = table
        self._columns = columns
        self._pending: list[tuple[int, bytes]] = []
        self._opened: Any = None  # the context manager of psycopg's COPY, once started
        self._copy: Any = None  # and the Copy it gave

    def __enter__(self) -> Callable[[int, bytes], None]:
        return self._add if self._tx.dialect == "postgresql" else self._hold

    def _hold(self, key: int, blob: bytes) -> None:
        self._pending.append((key, blob))

    def _add(self, key: int, blob: bytes) -> None:
        self._pending.append((key, blob))
        if len(self._pending) == _COPY_BLOCK:
            if self._copy is None:
                self._start_copy()
            self._copy.write(pgcopy.rows(self._pending))
            self._pending.clear()

    def _start_copy(self) -> None:
        key, blob = self._columns
        sql = f"COPY {self._table} ({key}, {blob}) FROM STDIN (FORMAT BINARY)"
        self._opened = self._tx.cursor.copy(sql)
        self._copy = self._opened.__enter__()
        self._copy.write(pgcopy.HEADER)

    def __exit__(self, kind: Any, error: BaseException | None, trace: Any) -> None:
        pending = self._pending
        if error is None and self._copy is None and len(pending) > 1:
            if self._tx.dialect == "sqlite":
                self._tx.executemany(self._insert_sql(), pending)
                return
            self._start_copy()  # a batch that never filled a block: one COPY all the same
        if self._copy is not None:
            if error is None:
                self._copy.write(pgcopy.rows(pending) + pgcopy.TRAILER)
            self._opened.__exit__(kind, error, trace)  # with an error: aborts the COPY
        elif error is None and pending:
            # One row: a plain INSERT (psycopg's executemany would cost extra round trips).
            self._tx.execute(self._insert_sql(), pending[0])

    def _insert_sql(self) -> str:
        key, blob = self._columns
        return f"INSERT INTO {self._table} ({key}, {blob}) VALUES (?, ?)"  # noqa: S608 - names are ours


@dataclass
class Database:
    url: str
    engine: Engine
    dialect: Dialect
    _local: threading.local = field(default_factory=threading.local)
    _opened: list[Any] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _lock_fds: list[int] = field(default_factory=list)
    _wal_deferred: bool = False
    _duties: dict[str, int] = field(default_factory=dict)

    def _connection(self) -> Any:
        conn: Any = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            # A forked child must not share its parent's socket or SQLite handle.
            raw = self.engine.raw_connection()
            conn = raw.driver_connection
            raw.detach()
            if self.dialect == "postgresql":
                conn.autocommit = True
            elif self._wal_deferred:
                _defer_checkpoints(conn)
            self._local.conn, self._local.pid = conn, os.getpid()
            with self._lock:
                self._opened.append(conn)
        return conn

    @contextmanager
    def _tx(self, begin: str) -> Iterator[Tx]:
        conn = self._connection()
        cur = conn.cursor()
        cur.execute(begin)
        tx = Tx(self.dialect, cur)
        try:
            yield tx
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        else:
            cur.execute("COMMIT")
        finally:
            cur.close()
        for action in tx._after_commit:
            action()

    def write(self) -> Any:
        """A read-write transaction; all-or-nothing."""
        if self.dialect == "sqlite":
            return self._sqlite_write()
        return self._tx("BEGIN")

    @contextmanager
    def _sqlite_write(self) -> Iterator[Tx]:
        with self._writer_lock(), self._tx("BEGIN IMMEDIATE") as tx:
            yield tx

    @contextmanager
    def _writer_lock(self) -> Iterator[None]:
        # Writers queue on an flock before BEGIN IMMEDIATE. SQLite's own busy handler polls
        # with sleeps of up to 100 ms, which gave seconds-long tails with two server
        # processes; a blocked flock wakes the moment the holder lets go. One lock file
        # descriptor per thread, so threads of one process exclude each other too.
        fd = self._lock_fd()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _lock_fd(self) -> int:
        fd: int | None = getattr(self._local, "lock_fd", None)
        if fd is None or self._local.lock_pid != os.getpid():
            fd = self._open_lock_file("writer")
            self._local.lock_fd, self._local.lock_pid = fd, os.getpid()
            with self._lock:
                self._lock_fds.append(fd)
        return fd

    def read(self) -> Any:
        """A read-only transaction on one consistent snapshot."""
        if self.dialect == "sqlite":
            return self._tx("BEGIN")
        return self._tx("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def defer_wal_checkpoints(self) -> None:
        """SQLite: commits stop copying the WAL back into the database file; the owner calls
        ``checkpoint_wal`` from a thread of its own instead.

        By default the commit that crosses 1,000 WAL pages runs the checkpoint itself,
        holding the write lock for tens of milliseconds while every queued writer waits:
        the service's p99 latency was that pause. Call before other threads use the
        database (it reconfigures connections already open).
        """
        if self.dialect != "sqlite":
            return
        with self._lock:
            self._wal_deferred = True
            for conn in self._opened:
                _defer_checkpoints(conn)

    def _open_lock_file(self, name: str) -> int:
        """``<db>-<name>.lock`` beside a SQLite file: something to flock, never written."""
        return os.open(f"{make_url(self.url).database}-{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)

    def claim_duty(self, name: str) -> bool:
        """True if this process holds (or now takes) the one-per-database duty ``name``.

        SQLite: a non-blocking flock on ``<db>-<name>.lock``, held until ``close`` or the
        process ends, so when the holder dies another process takes over at its next try.
        PostgreSQL: always True; the duties that use this are cheap to repeat there.
        """
        if self.dialect != "sqlite":
            return True
        with self._lock:
            if name in self._duties:
                return True
            fd = self._open_lock_file(name)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._duties[name] = fd
            return True

    def checkpoint_wal(self) -> None:
        """Copy committed WAL pages into the database file, almost without blocking writers.

        The pages are copied alongside the writers (PASSIVE). The WAL can only start over
        from its beginning once every frame is copied, which never happens while writers keep
        adding frames; so once it is long, the few frames added meanwhile are copied under the
        writers' lock. That step syncs two files (about 50 ms on a virtual disk), so it runs
        seldom: at most once per ``_WAL_RESTART_FRAMES`` frames.
        """
        if self.dialect != "sqlite":
            return
        cur = self._connection().cursor()
        try:
            _busy, frames, _copied = cur.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if frames >= _WAL_RESTART_FRAMES:
                with self._writer_lock():
                    cur.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            cur.close()

    def purge_freed_pages(self) -> None:
        """Push deleted bytes out of side files after an erasure.

        SQLite: old page images stay in the WAL until it is checkpointed; TRUNCATE copies
        the zeroed pages back and empties the WAL. PostgreSQL: VACUUM removes the dead
        tuples from the vault tables (it does not scrub the server's own WAL archive).
        """
        cur = self._connection().cursor()
        try:
            if self.dialect == "sqlite":
                cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                cur.execute("VACUUM vault_keys, vault_values, accounts")
        finally:
            cur.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._opened:
                try:
                    conn.close()
                except Exception:  # noqa: S112, BLE001 - closing on shutdown is best effort
                    continue
            self._opened.clear()
            for fd in [*self._lock_fds, *self._duties.values()]:
                os.close(fd)
            self._lock_fds.clear()
            self._duties.clear()
        self._local = threading.local()
        self.engine.dispose()

    # -- schema -------------------------------------------------------------------------

    def is_custos(self) -> bool:
        tables = set(inspect(self.engine).get_table_names())
        if "custos_meta" not in tables:
            return False
        with self.read() as tx:
            row = tx.one("SELECT value FROM custos_meta WHERE key = ?", (SCHEMA_MARKER[0],))
        return row is not None and row[0] == SCHEMA_MARKER[1]

    def check_custos(self) -> None:
        if not self.is_custos():
            raise NotACustosDatabase(f"{self.display_url} is not a Custos database")

    def migrate(self) -> None:
        """Create or upgrade the schema; refuses a database that belongs to something else."""
        tables = set(inspect(self.engine).get_table_names()) - {"alembic_version"}
        if tables and not self.is_custos():
            raise NotACustosDatabase(
                f"{self.display_url} holds tables but is not a Custos database; "
                "refusing to touch it"
            )
        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        with self.write() as tx:
            tx.execute(
                "INSERT INTO custos_meta (key, value) SELECT ?, ? WHERE NOT EXISTS "
                "(SELECT 1 FROM custos_meta WHERE key = ?)",
                (SCHEMA_MARKER[0], SCHEMA_MARKER[1], SCHEMA_MARKER[0]),
            )

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, fit for messages and logs."""
        return make_url(self.url).render_as_string(hide_password=True)


# With deferred checkpoints the WAL starts over once it holds this many frames (64 MiB of
# 4 KiB pages: several seconds of peak decision traffic), and a longer file is cut back.
_WAL_RESTART_FRAMES = 16_384
_WAL_SIZE_LIMIT = 64 * 1024 * 1024


def _defer_checkpoints(conn: Any) -> None:
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute(f"PRAGMA journal_size_limit={_WAL_SIZE_LIMIT}")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # Overwrite deleted content with zeros, so a shredded key leaves no bytes behind.
    cur.execute("PRAGMA secure_delete=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def open_database(url: str) -> Database:
    """Connect (lazily) to a SQLite or PostgreSQL URL."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError("Custos needs a SQLite file, not an in-memory database")
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"isolation_level": None, "check_same_thread": False, "timeout": 30}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return Database(url, engine, "sqlite")
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise ValueError("PostgreSQL URLs must use the psycopg driver: postgresql+psycopg://")
        return Database(url, create_engine(url, pool_pre_ping=True), "postgresql")
    raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}")
