"""Ledger benchmark: appends, full verification and inclusion proofs, each against a raw baseline.

    .venv/bin/python bench/ledger.py [--entries-1m N] [--quick] [--backends sqlite,postgresql]

For each backend (a SQLite file in a temporary directory; a throwaway PostgreSQL server from
tests/support/postgres.py) it measures, with realistic ``access_allowed`` entries:

1. single appends/s: ``record(one_entry)`` calls, one transaction each;
2. batched appends/s: ``record(*batch)`` with 1,000 entries per call;
3. the build rate of a log of ``--entries-1m`` entries (5,000 per call), then full
   verification of it with ``verify_ledger`` (workers=1 and one worker per core);
4. inclusion-proof latency against the latest checkpoint of that log (median and p99 over
   random indices); every proof is then checked with ``merkle.verify_inclusion``, untimed.

The raw baselines run in the same process, on the same machine, at the same durability:
plain ``sqlite3`` inserts of rows as long as the average canonical entry (WAL,
synchronous=NORMAL, and FULL for reference), plain psycopg inserts on the same PostgreSQL
server, and a plain SHA-256 hash chain over the same records (the floor for verification).
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
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# `tests` (the PostgreSQL helpers) lives at the repository root, which a script run as
# `python bench/ledger.py` does not have on its path unless the project is installed editable.
REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import psycopg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from consent_ledger.catalogue import load_catalogue  # noqa: E402
from consent_ledger.encoding import encode_entry, format_timestamp  # noqa: E402
from consent_ledger.ledger import NewEntry, utc_now  # noqa: E402
from consent_ledger.merkle import ProofError, leaf_hash, verify_inclusion  # noqa: E402
from consent_ledger.note import NoteVerifier, open_checkpoint  # noqa: E402
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


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- what to run --------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    single: int  # record(one entry) calls
    batches: int  # record(*batch) calls
    batch: int  # entries per batch
    log_size: int  # entries in the log that is verified and proved
    build_batch: int  # entries per record() call while building that log
    proofs: int  # random inclusion proofs
    full_cap_s: float  # time cap on raw single commits at synchronous=FULL (one fsync each)
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
            log_size=entries or 1_000_000,
            build_batch=5_000,
            proofs=1_000,
            full_cap_s=10.0,
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
        consent_level = rng.randint(level, 4)
        body = {
            "category": category,
            "purpose": rng.choice(DEPARTMENTS[dept]),
            "by": dept,
            "decision": {"allowed": True, "consent_level": consent_level},
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


def rate_of(op: Callable[[int], object], n: int, cap_s: float = float("inf")) -> float:
    """Operations per second of ``op(0) .. op(n - 1)``, stopping early after ``cap_s``."""
    start = time.perf_counter()
    done = 0
    for i in range(n):
        op(i)
        done = i + 1
        if time.perf_counter() - start > cap_s:
            break
    return done / (time.perf_counter() - start)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values."""
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(rank) - 1]


# -- ours ---------------------------------------------------------------------------------

UrlFactory = Callable[[str], AbstractContextManager[str]]


@dataclass
class Ours:
    single: float = 0.0
    batched: float = 0.0
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
    durability: str = ""


def open_ledger(url: str, data_dir: Path) -> Custos:
    return open_custos(ledger_settings(database_url=url, data_dir=data_dir))


def sqlite_durability(custos: Custos) -> str:
    with custos.db.read() as tx:
        journal = str(tx.one("PRAGMA journal_mode")[0])
        sync = int(tx.one("PRAGMA synchronous")[0])
    return f"journal_mode={journal.upper()}, synchronous={SYNCHRONOUS.get(sync, str(sync))}"


def measure_ours(backend: str, urls: UrlFactory, keys: Path, plan: Plan, work: Workload) -> Ours:
    out = Ours()
    cpus = os.cpu_count() or 1
    with urls("appends") as appends_url, urls("log") as log_url:
        small = open_ledger(appends_url, keys / f"{backend}-appends")
        try:
            if backend == "sqlite":
                out.durability = sqlite_durability(small)
            ledger = small.ledger
            singles = [work.entries[i % len(work.entries)] for i in range(plan.single)]
            log(f"{backend}: {plan.single:,} single appends")
            rate_of(lambda i: ledger.record(singles[i]), plan.warmup_single)
            out.single = rate_of(lambda i: ledger.record(singles[i]), plan.single)

            log(f"{backend}: {plan.batches} batched appends of {plan.batch:,}")
            batches = [work.batch(k, plan.batch) for k in range(plan.batches)]
            rate_of(lambda k: ledger.record(*batches[k]), plan.warmup_batches)
            out.batched = plan.batch * rate_of(lambda k: ledger.record(*batches[k]), plan.batches)
            small.ledger.checkpoint()
            small_key = small.ledger.signer.verifier_key()
        finally:
            small.close()

        big = open_ledger(log_url, keys / f"{backend}-log")
        try:
            ledger = big.ledger
            log(f"{backend}: building a log of {plan.log_size:,} entries")
            calls, rest = divmod(plan.log_size, plan.build_batch)
            sizes = [plan.build_batch] * calls + ([rest] if rest else [])
            start = time.perf_counter()
            for k, size in enumerate(sizes):
                ledger.record(*work.batch(k, size))
            out.build = plan.log_size / (time.perf_counter() - start)
            if ledger.size() != plan.log_size:
                raise RuntimeError(f"built {ledger.size()} entries, not {plan.log_size}")

            start = time.perf_counter()
            note = ledger.checkpoint()
            out.checkpoint_s = time.perf_counter() - start
            key = ledger.signer.verifier_key()
            checkpoint = open_checkpoint(note, [NoteVerifier.parse(key)])
            if checkpoint.size != plan.log_size:
                raise RuntimeError(f"checkpoint covers {checkpoint.size} entries")
            with big.db.read() as tx:
                out.stored_bytes = float(tx.one("SELECT AVG(LENGTH(leaf)) FROM ledger_entries")[0])

            # Warm-up: the verifier's code paths, on the small log.
            verify_ledger(appends_url, small_key, workers=1)
            for workers in (1, cpus):
                log(f"{backend}: verifying {plan.log_size:,} entries, workers={workers}")
                gc.collect()
                start = time.perf_counter()
                report = verify_ledger(log_url, key, workers=workers)
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
            indices = [rng.randrange(plan.log_size) for _ in range(plan.proofs)]
            times: list[float] = []
            proofs = []
            for index in indices:
                start = time.perf_counter()
                proof = ledger.inclusion_proof(index)
                times.append(time.perf_counter() - start)
                proofs.append(proof)
            times.sort()
            out.proof_median_ms = 1000 * statistics.median(times)
            out.proof_p99_ms = 1000 * percentile(times, 99)
            out.proof_max_ms = 1000 * times[-1]
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

            extra = max(plan.single // 5, 100)
            log(f"{backend}: {extra:,} single appends on the {plan.log_size:,}-entry log")
            out.single_on_log = rate_of(lambda i: ledger.record(singles[i]), extra)
        finally:
            big.close()
    return out


# -- raw baselines ------------------------------------------------------------------------


@dataclass
class Raw:
    single: float
    batched: float


def raw_sqlite(path: Path, synchronous: str, plan: Plan, rows: Sequence[bytes]) -> Raw:
    """Plain sqlite3 into ``t(i INTEGER PRIMARY KEY, b BLOB)``, WAL, the given synchronous."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("CREATE TABLE t(i INTEGER PRIMARY KEY, b BLOB)")
        cur = conn.cursor()
        n = len(rows)
        next_i = itertools.count()
        cap = plan.full_cap_s if synchronous == "FULL" else float("inf")

        def single(_: int) -> None:
            i = next(next_i)
            cur.execute("BEGIN IMMEDIATE")
            cur.execute("INSERT INTO t (i, b) VALUES (?, ?)", (i, rows[i % n]))
            cur.execute("COMMIT")

        rate_of(single, plan.warmup_single)
        single_rate = rate_of(single, plan.single, cap)

        base = next(next_i)
        batches = [
            [(base + k * plan.batch + j, rows[j % n]) for j in range(plan.batch)]
            for k in range(plan.warmup_batches + plan.batches)
        ]

        def batch(k: int) -> None:
            cur.execute("BEGIN IMMEDIATE")
            cur.executemany("INSERT INTO t (i, b) VALUES (?, ?)", batches[k])
            cur.execute("COMMIT")

        rate_of(batch, plan.warmup_batches)
        batch_rate = plan.batch * rate_of(lambda k: batch(plan.warmup_batches + k), plan.batches)
        return Raw(single_rate, batch_rate)
    finally:
        conn.close()


def libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def raw_postgres(url: str, plan: Plan, rows: Sequence[bytes]) -> Raw:
    """Plain psycopg into ``t (idx bigint primary key, b bytea)``: autocommit per row, and
    ``executemany`` of 1,000 rows per transaction."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (idx bigint PRIMARY KEY, b bytea NOT NULL)")
        cur = conn.cursor()
        n = len(rows)
        next_i = itertools.count()
        sql = "INSERT INTO t (idx, b) VALUES (%s, %s)"

        def single(_: int) -> None:
            i = next(next_i)
            cur.execute(sql, (i, rows[i % n]))

        rate_of(single, plan.warmup_single)
        single_rate = rate_of(single, plan.single)

        base = next(next_i)
        batches = [
            [(base + k * plan.batch + j, rows[j % n]) for j in range(plan.batch)]
            for k in range(plan.warmup_batches + plan.batches)
        ]

        def batch(k: int) -> None:
            with conn.transaction():
                cur.executemany(sql, batches[k])

        rate_of(batch, plan.warmup_batches)
        batch_rate = plan.batch * rate_of(lambda k: batch(plan.warmup_batches + k), plan.batches)
        return Raw(single_rate, batch_rate)


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


def backend_rows(
    backend: str,
    ours: Ours,
    raw: Raw,
    raw_full: Raw | None,
    hashing: float,
    plan: Plan,
) -> list[Row]:
    cpus = os.cpu_count() or 1
    single_raw = "raw NORMAL" if backend == "sqlite" else "raw"
    rows = [
        Row(
            backend,
            "single appends (1 entry/tx)",
            per_s(ours.single),
            per_s(raw.single),
            ratio(ours.single, raw.single),
            f">= {SINGLE_MIN:,.0f}/s and >= {SINGLE_MIN_RATIO}x {single_raw}",
            verdict(ours.single >= SINGLE_MIN and ours.single >= SINGLE_MIN_RATIO * raw.single),
        ),
        Row(
            backend,
            f"batched appends ({plan.batch:,}/tx)",
            per_s(ours.batched),
            per_s(raw.batched),
            ratio(ours.batched, raw.batched),
            f">= {BATCHED_MIN:,.0f}/s",
            verdict(ours.batched >= BATCHED_MIN),
        ),
    ]
    if raw_full is not None:
        rows += [
            Row(
                backend,
                "  raw single at synchronous=FULL",
                "-",
                per_s(raw_full.single),
                "-",
                "reference",
                "info",
            ),
            Row(
                backend,
                "  raw batched at synchronous=FULL",
                "-",
                per_s(raw_full.batched),
                "-",
                "reference",
                "info",
            ),
        ]
    rows += [
        Row(
            backend,
            f"build {plan.log_size:,}-entry log ({plan.build_batch:,}/tx)",
            per_s(ours.build),
            per_s(raw.batched),
            ratio(ours.build, raw.batched),
            f"raw is {plan.batch:,}/tx",
            "info",
        ),
        Row(
            backend,
            "full verification, workers=1",
            per_s(ours.verify_one),
            per_s(hashing),
            ratio(ours.verify_one, hashing),
            "raw: sha256 chain",
            "info",
        ),
        Row(
            backend,
            f"full verification, workers={cpus} (default)",
            per_s(ours.verify_all),
            per_s(hashing),
            ratio(ours.verify_all, hashing),
            f">= {VERIFY_MIN:,.0f}/s",
            verdict(ours.verify_all >= VERIFY_MIN),
        ),
        Row(
            backend,
            f"inclusion proof at {plan.log_size:,}, median",
            ms(ours.proof_median_ms),
            "-",
            "-",
            f"< {PROOF_MAX_MS:g} ms",
            verdict(ours.proof_median_ms < PROOF_MAX_MS),
        ),
        Row(
            backend,
            f"inclusion proof at {plan.log_size:,}, p99",
            ms(ours.proof_p99_ms),
            "-",
            "-",
            f"< {PROOF_MAX_MS:g} ms",
            verdict(ours.proof_p99_ms < PROOF_MAX_MS),
        ),
    ]
    return rows


def print_table(rows: Sequence[Row]) -> None:
    header = Row("backend", "metric", "ours", "raw baseline", "ours/raw", "target", "result")
    cells = [header, *rows]
    columns = list(zip(*(columns_of(r) for r in cells), strict=True))
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


def columns_of(r: Row) -> tuple[str, ...]:
    return (r.backend, r.metric, r.ours, r.raw, r.ratio, r.target, r.result)


# -- main ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
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
    row_bytes = len(work.raw_rows[0])
    log(f"hash-chain baseline over {plan.log_size:,} records")
    hashing = hash_chain_rate(work.records, plan.log_size)

    rows: list[Row] = []
    notes: list[str] = []
    settings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="custos-bench-") as tmp:
        workdir = Path(tmp)
        keys = workdir / "keys"
        if "sqlite" in args.backends:

            @contextmanager
            def sqlite_urls(name: str) -> Iterator[str]:
                yield f"sqlite:///{workdir / (name + '.db')}"

            log("sqlite: raw baselines")
            raw_normal = raw_sqlite(workdir / "raw-normal.db", "NORMAL", plan, work.raw_rows)
            raw_full = raw_sqlite(workdir / "raw-full.db", "FULL", plan, work.raw_rows)
            ours = measure_ours("sqlite", sqlite_urls, keys, plan, work)
            rows += backend_rows("sqlite", ours, raw_normal, raw_full, hashing, plan)
            notes += backend_notes("sqlite", ours, plan)
            settings.append(
                f"SQLite {sqlite3.sqlite_version}: ours {ours.durability}; raw journal_mode=WAL, "
                f"synchronous=NORMAL (FULL for reference); files on {filesystem(workdir)}"
            )
        if "postgresql" in args.backends:
            log("postgresql: starting a throwaway server")
            with postgres_server() as server:
                facts = postgres_facts(server)

                def pg_urls(_: str) -> AbstractContextManager[str]:
                    return fresh_database(server)

                log("postgresql: raw baselines")
                with fresh_database(server) as raw_url:
                    raw_pg = raw_postgres(raw_url, plan, work.raw_rows)
                ours = measure_ours("postgresql", pg_urls, keys, plan, work)
            rows += backend_rows("postgresql", ours, raw_pg, None, hashing, plan)
            notes += backend_notes("postgresql", ours, plan)
            settings.append(
                f"PostgreSQL {facts['server_version']}: synchronous_commit="
                f"{facts['synchronous_commit']}, fsync={facts['fsync']}, wal_sync_method="
                f"{facts['wal_sync_method']}, full_page_writes={facts['full_page_writes']} "
                f"(ours and raw: same server, same settings); data on {facts.get('data_fs', '?')}"
            )
    elapsed = time.perf_counter() - began

    cpus = os.cpu_count() or 1
    print("Custos ledger benchmark" + (" (--quick)" if args.quick else ""))
    print(f"machine:  {cpus} CPUs (nproc), {cpu_model()}; {platform.platform()}")
    print(f"python:   {platform.python_version()} ({platform.python_implementation()})")
    for s in settings:
        print(f"durable:  {s}")
    print(
        f"entries:  access_allowed, canonical length mean {work.mean_bytes:.1f} B "
        f"(min {min(map(len, work.records))}, max {max(map(len, work.records))}); "
        f"raw rows {row_bytes} B"
    )
    print(
        f"sizes:    {plan.single:,} single appends, {plan.batches} x {plan.batch:,} batched, "
        f"log of {plan.log_size:,}, {plan.proofs:,} proofs; warm-up before each timed section"
    )
    print()
    print_table(rows)
    print()
    for n in notes:
        print(n)
    misses = sum(r.result == "MISS" for r in rows)
    print(f"targets missed: {misses}; total run time: {elapsed:.0f} s")
    return 0


def backend_notes(backend: str, ours: Ours, plan: Plan) -> list[str]:
    failures = "" if not ours.proof_failures else f"; FAILED: {ours.proof_failures[:3]}"
    return [
        f"{backend}: {ours.proofs_ok:,}/{plan.proofs:,} proofs verified against the signed "
        f"checkpoint{failures}; slowest proof {ours.proof_max_ms:.3f} ms; checkpoint signing "
        f"{1000 * ours.checkpoint_s:.1f} ms; mean stored entry {ours.stored_bytes:.1f} B; "
        f"single appends on the {plan.log_size:,}-entry log {per_s(ours.single_on_log)}"
    ]


if __name__ == "__main__":
    sys.exit(main())
