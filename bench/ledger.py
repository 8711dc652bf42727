"""Ledger benchmark: appends, full verification and inclusion proofs, each against a raw baseline.

    .venv/bin/python bench/ledger.py [--entries-1m N] [--quick] [--backends sqlite,postgresql]

For each backend (a SQLite file in a temporary directory; a throwaway PostgreSQL server from
tests/support/postgres.py) it measures, with realistic ``access_allowed`` entries:

1. single appends/s: ``record(one_entry)`` calls, one transaction each;
2. batched appends/s: ``record(*batch)`` with 1,000 entries per call;
3. the build rate of a log of ``--entries-1m`` entries (5,000 per call), then full
   verification of it with ``verify_ledger`` (workers=1, and the default: one per core);
4. inclusion-proof latency against the latest checkpoint of that log (median and p99 over
   random indices); every proof is then checked with ``merkle.verify_inclusion``, untimed.

The raw baselines run in the same process, on the same machine, at the same durability:
plain ``sqlite3`` inserts of rows as long as the average canonical entry (WAL,
synchronous=NORMAL, and FULL for reference), plain psycopg inserts (binary COPY for
batches) on the same PostgreSQL server, and a plain SHA-256 hash chain over the same
records (the floor for verification).
Appends and their raw baselines are timed in interleaved rounds (ours, raw, ours, raw, ...)
and the median round is reported, so that a noisy machine shifts both sides alike.
Progress goes to stderr, the report to stdout.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import itertools
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol

# `tests` (the PostgreSQL helpers) lives at the repository root, which a script run as
# `python bench/ledger.py` does not have on its path unless the project is installed editable.
REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import psycopg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from consent_ledger import pgcopy  # noqa: E402
from consent_ledger.catalogue import load_catalogue  # noqa: E402
from consent_ledger.encoding import encode_entry, format_timestamp  # noqa: E402
from consent_ledger.ledger import InclusionProof, Ledger, NewEntry, utc_now  # noqa: E402
from consent_ledger.merkle import ProofError, leaf_hash, verify_inclusion  # noqa: E402
from consent_ledger.note import Checkpoint, NoteVerifier, open_checkpoint  # noqa: E402
from consent_ledger.runtime import Custos, open_custos  # noqa: E402
from consent_ledger.settings import ledger_settings  # noqa: E402
from consent_ledger.verify import verify_ledger  # noqa: E402
from tests.support.postgres import fresh_database, postgres_server  # noqa: E402

BACKENDS = ("sqlite", "postgresql")
SEED = 20261123
POOL = 10_000  # distinct entries, reused cyclically (each append still encodes its own bytes)
RAW_ROWS = 1_000  # distinct raw baseline rows

# Targets.
SINGLE_MIN = 5_000.0
SINGLE_MIN_RATIO = 0.25
BATCHED_MIN = 70_000.0
VERIFY_MIN = 300_000.0
PROOF_MAX_MS = 5.0

# Who may use which data for what, as in consent_ledger/seed.py.
DEPARTMENTS: dict[str, tuple[str, ...]] = {
    "advisory": ("investment_advice", "suitability"),
    "risk": ("risk_monitoring",),
    "research": ("research_analytics",),
    "compliance": ("kyc",),
}
SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}

RAW_TABLE = "CREATE TABLE t(i INTEGER PRIMARY KEY, b BLOB)"
# ledger_entries as the migration creates it on SQLite: BIGINT is no alias of the rowid, so
# its primary key is a second B-tree (sqlite_autoindex_ledger_entries_1) beside the table.
OUR_TABLE_SHAPE = "CREATE TABLE t(i BIGINT NOT NULL, b BLOB NOT NULL, PRIMARY KEY (i))"
PG_RAW_TABLE = "CREATE TABLE t (idx bigint PRIMARY KEY, b bytea NOT NULL)"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- what to run --------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    single: int  # record(one entry) calls per round
    batches: int  # record(*batch) calls per round
    batch: int  # entries per batch
    rounds: int  # interleaved rounds of the append measurements (median reported)
    log_size: int  # entries in the log that is verified and proved
    build_batch: int  # entries per record() call while building that log
    proofs: int  # random inclusion proofs
    full_cap_s: float  # time cap per round on raw single commits at synchronous=FULL
    warmup_single: int
    warmup_batches: int
    warmup_proofs: int

    @classmethod
    def of(cls, quick: bool, entries: int | None) -> Plan:
        if quick:
            return cls(
                single=500,
                batches=10,
                batch=1_000,
                rounds=1,
                log_size=entries or 30_000,
                build_batch=5_000,
                proofs=200,
                full_cap_s=1.0,
                warmup_single=50,
                warmup_batches=1,
                warmup_proofs=20,
            )
        return cls(
            single=5_000,
            batches=100,
            batch=1_000,
            rounds=3,
            log_size=entries or 1_000_000,
            build_batch=5_000,
            proofs=1_000,
            full_cap_s=4.0,
            warmup_single=200,
            warmup_batches=3,
            warmup_proofs=50,
        )


# -- workload -----------------------------------------------------------------------------


def make_entries(count: int, rng: random.Random) -> list[NewEntry]:
    """``access_allowed`` entries as the registry records them, plus the policy decision."""
    categories = [(c.key, c.level) for c in load_catalogue().categories]
    departments = sorted(DEPARTMENTS)
    entries: list[NewEntry] = []
    for _ in range(count):
        dept = rng.choice(departments)
        category, level = rng.choice(categories)
        body = {
            "category": category,
            "purpose": rng.choice(DEPARTMENTS[dept]),
            "by": dept,
            "decision": {"allowed": True, "consent_level": rng.randint(level, 4)},
        }
        entries.append(NewEntry("access_allowed", f"c_{rng.getrandbits(64):016x}", body))
    return entries


def canonical_records(entries: Sequence[NewEntry], index: int, rng: random.Random) -> list[bytes]:
    """The entries' canonical bytes as they would sit at about ``index`` in a log."""
    timestamp = format_timestamp(utc_now())
    return [
        encode_entry(
            index=index + i,
            prev_hash=rng.randbytes(32),
            timestamp=timestamp,
            type=e.type,
            subject=e.subject,
            body=e.body,
        )
        for i, e in enumerate(entries)
    ]


@dataclass(frozen=True)
class Workload:
    entries: list[NewEntry]
    records: list[bytes]  # canonical bytes of ``entries`` (hash-chain baseline)
    raw_rows: list[bytes]  # random rows of the average canonical length (insert baselines)

    @property
    def mean_bytes(self) -> float:
        return statistics.fmean(len(r) for r in self.records)

    def batch(self, k: int, size: int) -> list[NewEntry]:
        """The ``k``-th run of ``size`` entries, cycling through the pool."""
        start = (k * size) % len(self.entries)
        out = self.entries[start : start + size]
        while len(out) < size:
            out += self.entries[: size - len(out)]
        return out


def make_workload(plan: Plan) -> Workload:
    rng = random.Random(SEED)
    entries = make_entries(POOL, rng)
    records = canonical_records(entries, max(plan.log_size // 2, 1), rng)
    length = round(statistics.fmean(len(r) for r in records))
    return Workload(entries, records, [rng.randbytes(length) for _ in range(RAW_ROWS)])


# -- measuring ----------------------------------------------------------------------------


def rate_of(op: Callable[[], object], n: int, cap_s: float = float("inf")) -> float:
    """Calls per second of ``op`` over ``n`` calls, stopping early after ``cap_s`` seconds."""
    start = time.perf_counter()
    done = 0
    for _ in range(n):
        op()
        done += 1
        if time.perf_counter() - start > cap_s:
            break
    return done / (time.perf_counter() - start)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values."""
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(rank) - 1]


class Appender(Protocol):
    def single(self) -> None:
        """Append one row or entry in a transaction of its own."""

    def batch(self, size: int) -> None:
        """Append ``size`` rows or entries in one transaction."""


@dataclass
class Contender:
    label: str
    appender: Appender
    single_cap_s: float = float("inf")
    singles: list[float] = field(default_factory=list)  # appends/s, one per round
    batched: list[float] = field(default_factory=list)

    @property
    def single(self) -> float:
        return statistics.median(self.singles)

    @property
    def batch(self) -> float:
        return statistics.median(self.batched)


def race(backend: str, contenders: Sequence[Contender], plan: Plan) -> None:
    """Single, then batched, appends of every contender in turn, ``plan.rounds`` times."""
    for c in contenders:
        for _ in range(plan.warmup_single):
            c.appender.single()
        for _ in range(plan.warmup_batches):
            c.appender.batch(plan.batch)
    for r in range(1, plan.rounds + 1):
        log(
            f"{backend}: round {r}/{plan.rounds}: {plan.single:,} single and "
            f"{plan.batches} x {plan.batch:,} batched appends, ours and raw"
        )
        for c in contenders:
            c.singles.append(rate_of(c.appender.single, plan.single, c.single_cap_s))
        for c in contenders:
            c.batched.append(
                plan.batch * rate_of(partial(c.appender.batch, plan.batch), plan.batches)
            )


# -- ours ---------------------------------------------------------------------------------


class OursAppender:
    def __init__(self, ledger: Ledger, work: Workload) -> None:
        self.ledger = ledger
        self.work = work
        self.entries = work.entries
        self.n = 0

    def single(self) -> None:
        self.ledger.record(self.entries[self.n % len(self.entries)])
        self.n += 1

    def batch(self, size: int) -> None:
        self.ledger.record(*self.work.batch(self.n // size, size))
        self.n += size


@dataclass
class LogResults:
    build: float = 0.0
    checkpoint_s: float = 0.0
    verify_one: float = 0.0
    verify_all: float = 0.0
    proof_median_ms: float = 0.0
    proof_p99_ms: float = 0.0
    proof_max_ms: float = 0.0
    proofs_ok: int = 0
    proof_failures: list[str] = field(default_factory=list)
    single_on_log: float = 0.0
    stored_bytes: float = 0.0


def open_ledger(url: str, data_dir: Path) -> Custos:
    return open_custos(ledger_settings(database_url=url, data_dir=data_dir))


def sqlite_durability(custos: Custos) -> str:
    with custos.db.read() as tx:
        journal = str(tx.one("PRAGMA journal_mode")[0])
        sync = int(tx.one("PRAGMA synchronous")[0])
    return f"journal_mode={journal.upper()}, synchronous={SYNCHRONOUS.get(sync, str(sync))}"


def check_proofs(
    ledger: Ledger, proofs: Sequence[InclusionProof], checkpoint: Checkpoint, out: LogResults
) -> None:
    """Every proof against the signed checkpoint's root, from the stored entry's bytes."""
    for proof in proofs:
        leaf = next(ledger.entries(proof.leaf_index, proof.leaf_index + 1)).leaf
        try:
            if proof.tree_size != checkpoint.size:
                raise ProofError(f"proof is for tree size {proof.tree_size}")
            verify_inclusion(
                leaf_hash(leaf),
                proof.leaf_index,
                proof.tree_size,
                proof.hashes,
                checkpoint.root_hash,
            )
        except ProofError as exc:
            out.proof_failures.append(f"index {proof.leaf_index}: {exc}")
        else:
            out.proofs_ok += 1


def measure_log(
    backend: str, custos: Custos, url: str, warmup: tuple[str, str], plan: Plan, work: Workload
) -> LogResults:
    """Build the big log, checkpoint it, verify it twice, prove inclusion in it."""
    out = LogResults()
    ledger = custos.ledger
    log(f"{backend}: building a log of {plan.log_size:,} entries")
    calls, rest = divmod(plan.log_size, plan.build_batch)
    sizes = [plan.build_batch] * calls + ([rest] if rest else [])
    # Warm-up: the first call is part of the log but not of the timing.
    ledger.record(*work.batch(0, sizes[0]))
    start = time.perf_counter()
    for k, size in enumerate(sizes[1:], start=1):
        ledger.record(*work.batch(k, size))
    seconds = time.perf_counter() - start
    out.build = (plan.log_size - sizes[0]) / seconds if len(sizes) > 1 else 0.0
    if ledger.size() != plan.log_size:
        raise RuntimeError(f"built {ledger.size()} entries, not {plan.log_size}")

    start = time.perf_counter()
    note = ledger.checkpoint()
    out.checkpoint_s = time.perf_counter() - start
    key = ledger.signer.verifier_key()
    checkpoint = open_checkpoint(note, [NoteVerifier.parse(key)])
    if checkpoint.size != plan.log_size:
        raise RuntimeError(f"the checkpoint covers {checkpoint.size} entries")
    with custos.db.read() as tx:
        out.stored_bytes = float(tx.one("SELECT AVG(LENGTH(leaf)) FROM ledger_entries")[0])

    # Warm-up: the verifier's code paths, on the small log of the append measurements.
    verify_ledger(*warmup, workers=1)
    cpus = os.cpu_count() or 1
    for workers in (1, None):
        shown = workers or f"{cpus} (default)"
        log(f"{backend}: verifying {plan.log_size:,} entries, workers={shown}")
        gc.collect()
        start = time.perf_counter()
        report = verify_ledger(url, key, workers=workers)
        speed = plan.log_size / (time.perf_counter() - start)
        if report.size != plan.log_size or report.root != checkpoint.root_hash:
            raise RuntimeError(f"verify_ledger disagrees with the checkpoint: {report}")
        if workers == 1:
            out.verify_one = speed
        else:
            out.verify_all = speed

    log(f"{backend}: {plan.proofs:,} inclusion proofs")
    rng = random.Random(SEED + 1)
    for _ in range(plan.warmup_proofs):
        ledger.inclusion_proof(rng.randrange(plan.log_size))
    times: list[float] = []
    proofs: list[InclusionProof] = []
    for index in [rng.randrange(plan.log_size) for _ in range(plan.proofs)]:
        start = time.perf_counter()
        proof = ledger.inclusion_proof(index)
        times.append(time.perf_counter() - start)
        proofs.append(proof)
    times.sort()
    out.proof_median_ms = 1000 * statistics.median(times)
    out.proof_p99_ms = 1000 * percentile(times, 99)
    out.proof_max_ms = 1000 * times[-1]
    check_proofs(ledger, proofs, checkpoint, out)

    extra = max(plan.single // 5, 100)
    log(f"{backend}: {extra:,} single appends on the {plan.log_size:,}-entry log")
    out.single_on_log = rate_of(OursAppender(ledger, work).single, extra)
    return out


# -- raw baselines ------------------------------------------------------------------------


class RawSqlite:
    """Plain sqlite3 inserts into ``table`` (rows named ``t``), WAL, the given synchronous."""

    def __init__(self, path: Path, synchronous: str, rows: Sequence[bytes], table: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={synchronous}")
        self.conn.execute(table)
        self.cur = self.conn.cursor()
        self.rows = rows
        self.n = 0

    def single(self) -> None:
        self.cur.execute("BEGIN IMMEDIATE")
        self.cur.execute(
            "INSERT INTO t (i, b) VALUES (?, ?)", (self.n, self.rows[self.n % len(self.rows)])
        )
        self.cur.execute("COMMIT")
        self.n += 1

    def batch(self, size: int) -> None:
        rows = zip(range(self.n, self.n + size), itertools.cycle(self.rows), strict=False)
        self.cur.execute("BEGIN IMMEDIATE")
        self.cur.executemany("INSERT INTO t (i, b) VALUES (?, ?)", rows)
        self.cur.execute("COMMIT")
        self.n += size

    def close(self) -> None:
        self.conn.close()


def libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class RawPostgres:
    """Plain psycopg: an autocommitted INSERT per row; per batch transaction, one binary COPY
    written as a single block (the fastest way psycopg inserts rows, and what the ledger's
    batched appends use)."""

    SQL = "INSERT INTO t (idx, b) VALUES (%s, %s)"

    def __init__(self, url: str, rows: Sequence[bytes]) -> None:
        self.conn = psycopg.connect(libpq_url(url), autocommit=True)
        self.conn.execute(PG_RAW_TABLE)
        self.cur = self.conn.cursor()
        self.rows = rows
        self.n = 0

    def single(self) -> None:
        self.cur.execute(self.SQL, (self.n, self.rows[self.n % len(self.rows)]))
        self.n += 1

    def batch(self, size: int) -> None:
        rows = list(zip(range(self.n, self.n + size), itertools.cycle(self.rows), strict=False))
        with (
            self.conn.transaction(),
            self.cur.copy("COPY t (idx, b) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.write(pgcopy.HEADER + pgcopy.rows(rows) + pgcopy.TRAILER)
        self.n += size

    def close(self) -> None:
        self.conn.close()


def hash_chain_rate(records: Sequence[bytes], n: int) -> float:
    """Records/s of h = SHA-256(h || record), one core: the floor for verification."""
    sha = hashlib.sha256
    h = bytes(32)
    for record in records:
        h = sha(h + record).digest()
    start = time.perf_counter()
    for record in itertools.islice(itertools.cycle(records), n):
        h = sha(h + record).digest()
    return n / (time.perf_counter() - start)


# -- one backend --------------------------------------------------------------------------

UrlFactory = Callable[[str], AbstractContextManager[str]]


@dataclass
class BackendResult:
    backend: str
    ours: Contender
    raw: Contender
    references: list[Contender]
    log: LogResults
    durability: str


def measure_backend(
    backend: str, urls: UrlFactory, workdir: Path, plan: Plan, work: Workload
) -> BackendResult:
    keys = workdir / "keys"
    with ExitStack() as stack:
        appends_url = stack.enter_context(urls("appends"))
        small = open_ledger(appends_url, keys / f"{backend}-appends")
        stack.callback(small.close)
        ours = Contender("ours", OursAppender(small.ledger, work))
        references: list[Contender] = []
        if backend == "sqlite":
            durability = sqlite_durability(small)
            raws: list[RawSqlite | RawPostgres] = [
                RawSqlite(workdir / "raw.db", "NORMAL", work.raw_rows, RAW_TABLE),
                RawSqlite(workdir / "raw-full.db", "FULL", work.raw_rows, RAW_TABLE),
                RawSqlite(workdir / "raw-shape.db", "NORMAL", work.raw_rows, OUR_TABLE_SHAPE),
            ]
            raw = Contender("raw", raws[0])
            references = [
                Contender("at synchronous=FULL", raws[1], single_cap_s=plan.full_cap_s),
                Contender("NORMAL, BIGINT PK like ledger_entries", raws[2]),
            ]
        else:
            durability = ""
            raws = [RawPostgres(stack.enter_context(urls("raw")), work.raw_rows)]
            raw = Contender("raw", raws[0])
        for r in raws:
            stack.callback(r.close)
        race(backend, [ours, raw, *references], plan)
        small.ledger.checkpoint()
        warmup = (appends_url, small.ledger.signer.verifier_key())

        log_url = stack.enter_context(urls("log"))
        big = open_ledger(log_url, keys / f"{backend}-log")
        stack.callback(big.close)
        results = measure_log(backend, big, log_url, warmup, plan, work)
    return BackendResult(backend, ours, raw, references, results, durability)


# -- the machine --------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def filesystem(path: Path) -> str:
    """File system type and device that ``path`` lives on (from /proc/mounts)."""
    best = ("", "unknown", "?")
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, fstype, *_ = line.split()
            inside = str(path) == mount or str(path).startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best[0]):
                best = (mount, fstype, device)
    except OSError:
        pass
    return f"{best[1]} on {best[2]}"


def postgres_facts(url: str) -> dict[str, str]:
    names = ("server_version", "synchronous_commit", "fsync", "wal_sync_method", "full_page_writes")
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        facts: dict[str, str] = {}
        for name in names:
            row = conn.execute(f"SHOW {name}").fetchone()
            facts[name] = "?" if row is None else str(row[0])
        dir_row = conn.execute("SHOW data_directory").fetchone()
        if dir_row is not None:
            facts["data_fs"] = filesystem(Path(str(dir_row[0])))
    return facts


# -- the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    backend: str
    metric: str
    ours: str
    raw: str
    ratio: str
    target: str
    result: str


def per_s(value: float) -> str:
    return f"{value:,.0f}/s"


def ms(value: float) -> str:
    return f"{value:.3f} ms"


def ratio(ours: float, raw: float) -> str:
    return f"{ours / raw:.2f}x" if raw > 0 else "-"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def backend_rows(res: BackendResult, hashing: float, plan: Plan) -> list[Row]:
    b, ours, raw, lg = res.backend, res.ours, res.raw, res.log
    cpus = os.cpu_count() or 1
    single_raw = "raw NORMAL" if b == "sqlite" else "raw"
    rows = [
        Row(
            b,
            "single appends (1 entry/tx)",
            per_s(ours.single),
            per_s(raw.single),
            ratio(ours.single, raw.single),
            f">= {SINGLE_MIN:,.0f}/s and >= {SINGLE_MIN_RATIO}x {single_raw}",
            verdict(ours.single >= SINGLE_MIN and ours.single >= SINGLE_MIN_RATIO * raw.single),
        ),
        Row(
            b,
            f"batched appends ({plan.batch:,}/tx)",
            per_s(ours.batch),
            per_s(raw.batch),
            ratio(ours.batch, raw.batch),
            f">= {BATCHED_MIN:,.0f}/s",
            verdict(ours.batch >= BATCHED_MIN),
        ),
    ]
    for ref in res.references:
        rows += [
            Row(
                b,
                f"  single, vs raw {ref.label}",
                per_s(ours.single),
                per_s(ref.single),
                ratio(ours.single, ref.single),
                "reference",
                "info",
            ),
            Row(
                b,
                f"  batched, vs raw {ref.label}",
                per_s(ours.batch),
                per_s(ref.batch),
                ratio(ours.batch, ref.batch),
                "reference",
                "info",
            ),
        ]
    rows += [
        Row(
            b,
            f"build {plan.log_size:,}-entry log ({plan.build_batch:,}/tx)",
            per_s(lg.build),
            per_s(raw.batch),
            ratio(lg.build, raw.batch),
            f"raw is {plan.batch:,}/tx",
            "info",
        ),
        Row(
            b,
            "full verification, workers=1",
            per_s(lg.verify_one),
            per_s(hashing),
            ratio(lg.verify_one, hashing),
            "raw: sha256 chain",
            "info",
        ),
        Row(
            b,
            f"full verification, workers={cpus} (default)",
            per_s(lg.verify_all),
            per_s(hashing),
            ratio(lg.verify_all, hashing),
            f">= {VERIFY_MIN:,.0f}/s",
            verdict(lg.verify_all >= VERIFY_MIN),
        ),
        Row(
            b,
            f"inclusion proof at {plan.log_size:,}, median",
            ms(lg.proof_median_ms),
            "-",
            "-",
            f"< {PROOF_MAX_MS:g} ms",
            verdict(lg.proof_median_ms < PROOF_MAX_MS),
        ),
        Row(
            b,
            f"inclusion proof at {plan.log_size:,}, p99",
            ms(lg.proof_p99_ms),
            "-",
            "-",
            f"< {PROOF_MAX_MS:g} ms",
            verdict(lg.proof_p99_ms < PROOF_MAX_MS),
        ),
    ]
    return rows


def backend_notes(res: BackendResult, plan: Plan) -> list[str]:
    lg = res.log
    failures = "" if not lg.proof_failures else f"; FAILED: {lg.proof_failures[:3]}"

    def rounds(values: Sequence[float]) -> str:
        return " ".join(f"{v:,.0f}" for v in values)

    contenders = [res.ours, res.raw, *res.references]
    return [
        f"{res.backend}: {lg.proofs_ok:,}/{plan.proofs:,} proofs verified against the signed "
        f"checkpoint{failures}; slowest proof {lg.proof_max_ms:.3f} ms",
        f"{res.backend}: checkpoint signing {1000 * lg.checkpoint_s:.1f} ms; mean stored entry "
        f"{lg.stored_bytes:.1f} B; single appends on the {plan.log_size:,}-entry log "
        f"{per_s(lg.single_on_log)}",
        *(
            f"{res.backend}: rounds, {c.label}: single/s {rounds(c.singles)}; "
            f"batched/s {rounds(c.batched)}"
            for c in contenders
        ),
    ]


def columns_of(r: Row) -> tuple[str, ...]:
    return (r.backend, r.metric, r.ours, r.raw, r.ratio, r.target, r.result)


def print_table(rows: Sequence[Row]) -> None:
    header = Row("backend", "metric", "ours", "raw baseline", "ours/raw", "target", "result")
    columns = list(zip(*(columns_of(r) for r in [header, *rows]), strict=True))
    widths = [max(len(c) for c in col) for col in columns]
    right = {2, 3, 4}

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    print(line(columns_of(header)))
    print("  ".join("-" * w for w in widths))
    previous = ""
    for r in rows:
        if previous and r.backend != previous:
            print()
        previous = r.backend
        print(line(columns_of(r)))


# -- main ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--entries-1m",
        type=int,
        default=None,
        metavar="N",
        help="entries in the verified and proved log (default 1,000,000; 30,000 with --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="a small smoke run (< 60 s)")
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated subset of: " + ", ".join(BACKENDS),
    )
    args = parser.parse_args(argv)
    chosen = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(chosen) - set(BACKENDS))
    if unknown or not chosen:
        parser.error(f"--backends: unknown {', '.join(unknown) or '(none given)'}")
    args.backends = chosen
    if args.entries_1m is not None and args.entries_1m < 1:
        parser.error("--entries-1m must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = Plan.of(args.quick, args.entries_1m)
    began = time.perf_counter()
    log(f"preparing {POOL:,} entries")
    work = make_workload(plan)
    log(f"hash-chain baseline over {plan.log_size:,} records")
    hashing = hash_chain_rate(work.records, plan.log_size)

    results: list[BackendResult] = []
    settings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="custos-bench-") as tmp:
        workdir = Path(tmp)
        if "sqlite" in args.backends:

            @contextmanager
            def sqlite_urls(name: str) -> Iterator[str]:
                yield f"sqlite:///{workdir / (name + '.db')}"

            res = measure_backend("sqlite", sqlite_urls, workdir, plan, work)
            results.append(res)
            settings.append(
                f"SQLite {sqlite3.sqlite_version}: ours {res.durability}; raw journal_mode=WAL, "
                f"synchronous=NORMAL (FULL for reference); files on {filesystem(workdir)}"
            )
        if "postgresql" in args.backends:
            log("postgresql: starting a throwaway server")
            with postgres_server() as server:
                facts = postgres_facts(server)

                def pg_urls(_: str) -> AbstractContextManager[str]:
                    return fresh_database(server)

                results.append(measure_backend("postgresql", pg_urls, workdir, plan, work))
            settings.append(
                f"PostgreSQL {facts['server_version']}: synchronous_commit="
                f"{facts['synchronous_commit']}, fsync={facts['fsync']}, wal_sync_method="
                f"{facts['wal_sync_method']}, full_page_writes={facts['full_page_writes']} "
                f"(ours and raw: same server, same settings); data on {facts.get('data_fs', '?')}"
            )
    elapsed = time.perf_counter() - began

    rows = [row for res in results for row in backend_rows(res, hashing, plan)]
    print("Custos ledger benchmark" + (" (--quick)" if args.quick else ""))
    print(f"machine:  {os.cpu_count()} CPUs (nproc), {cpu_model()}; {platform.platform()}")
    print(f"python:   {platform.python_version()} ({platform.python_implementation()})")
    for s in settings:
        print(f"durable:  {s}")
    records = work.records
    print(
        f"entries:  access_allowed, canonical length mean {work.mean_bytes:.1f} B "
        f"(min {min(map(len, records))}, max {max(map(len, records))}); "
        f"raw rows {len(work.raw_rows[0])} B"
    )
    print(
        f"sizes:    {plan.single:,} single appends and {plan.batches} x {plan.batch:,} batched "
        f"per round, median of {plan.rounds} interleaved round(s); log of {plan.log_size:,}; "
        f"{plan.proofs:,} proofs; warm-up before each timed section"
    )
    print()
    print_table(rows)
    print()
    for res in results:
        for note in backend_notes(res, plan):
            print(note)
    misses = sum(r.result == "MISS" for r in rows)
    print(f"targets missed: {misses}; total run time: {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
