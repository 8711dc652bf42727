"""Zero-knowledge benchmark: prove and verify times and proof sizes of privacy/zk.

    .venv/bin/python bench/zk.py [--quick]

For each backend (pure-Python ``py_ecc``, compiled ``arkworks``), each scheme (``bits-v1``,
``bulletproofs-v1``), each predicate type (opening, equals, one-of-5, at_least, at_most,
between, age_at_least) and bit widths 32 and 40, it proves and verifies one claim under a
realistic context and reports the median prove and verify times, the proof's size in raw
bytes (points and scalars of the ``proof`` member) and the whole envelope's JSON size.
Baselines in the same run: one plain py_ecc G1 scalar multiplication, addition and
hash_to_G1 (optimized_bls12_381), and one arkworks scalar multiplication; the "in_mul"
columns give each time in units of that py_ecc multiplication, which stays comparable when
other work on a shared machine slows everything down. Each case runs once untimed first
(tables, generators). The issue's targets are checked at the end, and
then bench/zk_e2e.py (the flow over HTTP) runs if present.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import importlib.util
import json
import platform
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from py_arkworks_bls12381 import G1Point, Scalar  # noqa: E402
from py_ecc.bls.hash_to_curve import hash_to_G1  # noqa: E402
from py_ecc.optimized_bls12_381.optimized_curve import G1, add, multiply  # noqa: E402

from privacy.zk import pedersen, proofs  # noqa: E402
from privacy.zk.backend import BACKENDS, use  # noqa: E402
from privacy.zk.predicates import (  # noqa: E402
    AgeAtLeast,
    AtLeast,
    AtMost,
    Between,
    Equals,
    OneOf,
    Opening,
    Predicate,
    days_since_epoch,
)

CONTEXT = {
    "protocol": "custos-zk/1",
    "request_id": "req_" + "0" * 26,
    "nonce": base64.urlsafe_b64encode(bytes(32)).decode(),
    "client": "p_" + "1" * 30,
    "department": "advisory",
    "purpose": "advisory",
    "consent": "sha256:" + "2" * 64,
    "attestations": "[" + '{"schema":"custos-attestation/1"}' * 1 + "]",
}
TODAY = dt.date(2026, 12, 2)


def _median_ms(fn: Callable[[], Any], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _raw_size(node: Any) -> int:
    if isinstance(node, str):
        return len(base64.urlsafe_b64decode(node + "=" * (-len(node) % 4)))
    if isinstance(node, list):
        return sum(_raw_size(x) for x in node)
    return sum(_raw_size(x) for x in node.values())


def _cases(bits: int) -> list[tuple[str, int, Predicate]]:
    """(label, committed value, predicate); every range value sits mid-range."""
    half = 1 << (bits - 1)
    dob = days_since_epoch(dt.date(1980, 5, 17))
    return [
        ("opening", 3_500_000, Opening()),
        ("equals", 4, Equals(4)),
        ("one_of(5)", 4, OneOf((1, 2, 3, 4, 5))),
        ("at_least", 3_000_000 + half, AtLeast(3_000_000)),
        ("at_most", 500_000 - half, AtMost(500_000)),
        ("between", half, Between(1, 2 * half - 1)),
        ("age_at_least", dob, AgeAtLeast(18, TODAY)),
    ]


def _py_ecc_multiply_ms() -> float:
    """The unit of the in_mul columns, measured again next to every case."""
    return _median_ms(lambda: multiply(G1, secrets.randbelow(pedersen.ORDER)), 3)


def baselines(reps: int) -> dict[str, float]:
    k = [secrets.randbelow(pedersen.ORDER) for _ in range(reps)]
    it = iter(k)
    p = multiply(G1, 12345)
    out = {
        "py_ecc multiply (ms)": _median_ms(lambda: multiply(G1, next(it)), reps),
        "py_ecc add (us)": _median_ms(lambda: add(p, G1), reps * 20) * 1e3,
        "py_ecc hash_to_G1 (ms)": _median_ms(
            lambda: hash_to_G1(b"abc", pedersen.DST, hashlib.sha256),  # type: ignore[arg-type]
            reps,
        ),
    }
    g = G1Point()
    s = Scalar(k[0])
    out["arkworks multiply (ms)"] = _median_ms(lambda: g * s, reps * 20)
    return out


def run_case(scheme: str, value: int, predicate: Predicate, bits: int, reps: int) -> dict[str, Any]:
    r = pedersen.random_scalar()
    claim = proofs.Claim(pedersen.commit(value, r), predicate, bits)
    witness = proofs.Witness(value, r)
    envelope = proofs.prove([claim], [witness], CONTEXT, scheme=scheme)  # warm-up
    if not proofs.verify(envelope).valid:
        raise SystemExit(f"benchmark proof does not verify: {scheme} {predicate}")
    prove_ms = _median_ms(lambda: proofs.prove([claim], [witness], CONTEXT, scheme=scheme), reps)
    verify_ms = _median_ms(lambda: proofs.verify(envelope), reps)
    return {
        "prove_ms": prove_ms,
        "verify_ms": verify_ms,
        "proof_bytes": _raw_size(envelope["proof"]),
        "envelope_bytes": len(json.dumps(envelope, separators=(",", ":"))),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    reps = 2 if args.quick else 7
    print(
        f"# privacy/zk benchmark ({platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, repetitions={reps}, medians)",
        flush=True,
    )
    for name, value in baselines(reps).items():
        print(f"baseline {name}: {value:.3f}", flush=True)
    print(
        f"{'backend':9} {'scheme':16} {'predicate':13} {'bits':>4} {'prove ms':>9} "
        f"{'in_mul':>6} {'verify ms':>9} {'in_mul':>6} {'proof B':>8} {'envelope B':>10}",
        flush=True,
    )
    results: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    for name in BACKENDS:
        with use(name):
            for scheme in proofs.SCHEMES:
                for bits in (32, 40):
                    for label, value, predicate in _cases(bits):
                        unit = _py_ecc_multiply_ms()
                        row = run_case(scheme, value, predicate, bits, reps)
                        results[(name, scheme, label, bits)] = row
                        print(
                            f"{name:9} {scheme:16} {label:13} {bits:>4} {row['prove_ms']:>9.1f} "
                            f"{row['prove_ms'] / unit:>6.2f} {row['verify_ms']:>9.1f} "
                            f"{row['verify_ms'] / unit:>6.2f} {row['proof_bytes']:>8} "
                            f"{row['envelope_bytes']:>10}",
                            flush=True,
                        )
    print("# targets (32-bit range proof = at_least, 32 bits)")
    limits = {"py_ecc": (100.0, 50.0), "arkworks": (20.0, 10.0)}
    for name, (max_prove, max_verify) in limits.items():
        for scheme in proofs.SCHEMES:
            row = results[(name, scheme, "at_least", 32)]
            ok_p = "met" if row["prove_ms"] <= max_prove else "MISSED"
            ok_v = "met" if row["verify_ms"] <= max_verify else "MISSED"
            print(
                f"{name:9} {scheme:16} prove {row['prove_ms']:.1f} ms (≤ {max_prove:.0f}: {ok_p}), "
                f"verify {row['verify_ms']:.1f} ms (≤ {max_verify:.0f}: {ok_v})"
            )
    size = results[("arkworks", "bulletproofs-v1", "at_least", 32)]["proof_bytes"]
    print(
        f"bulletproofs-v1 32-bit threshold proof: {size} bytes (≤ 1024: "
        f"{'met' if size <= 1024 else 'MISSED'})",
        flush=True,
    )

    e2e = REPO_ROOT / "bench" / "zk_e2e.py"
    if e2e.exists():
        print("== bench/zk_e2e.py", flush=True)
        spec = importlib.util.spec_from_file_location("zk_e2e", e2e)
        if spec is None or spec.loader is None:
            raise SystemExit("cannot load bench/zk_e2e.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.run(args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
