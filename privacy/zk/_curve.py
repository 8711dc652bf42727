"""BLS12-381 G1 arithmetic on plain Python integers: the pure-Python backend's engine.

py_ecc's optimized curve wraps every coordinate in a field object, which costs ~44 µs per
addition; the same formulas on bare ints cost a few µs, so this module re-implements only
the hot path (Jacobian doubling and addition, fixed-base tables, GLV-split Straus
multi-scalar multiplication, the subgroup test) and leaves hashing to the curve and the
point encoding to py_ecc. Constants are py_ecc's; the cube root of unity and the GLV
eigenvalue are derived, not typed in.

Points are Jacobian triples ``(X, Y, Z)`` with ``(x, y) = (X/Z², Y/Z³)``; Z == 0 is the
identity. Affine pairs ``(x, y)`` appear only in precomputed tables. Nothing here is
constant-time (see README.md, side channels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from py_ecc.optimized_bls12_381.optimized_curve import G1 as _PY_ECC_G1
from py_ecc.optimized_bls12_381.optimized_curve import curve_order, field_modulus, normalize

from privacy.zk.recursion import restore_recursion_limit

__all__ = [
    "GENERATOR",
    "INF",
    "ORDER",
    "W_KEPT",
    "Affine",
    "FixedTable",
    "Jacobian",
    "OddTable",
    "Q",
    "add",
    "double",
    "eq",
    "fixed_mul",
    "fixed_table",
    "glv_split",
    "in_subgroup",
    "is_inf",
    "msm",
    "mul",
    "neg",
    "odd_tables",
    "on_curve",
    "to_affine",
    "to_affine_many",
    "wnaf",
]

# Every backend loads py_ecc through here, so the limit it raised is put back once, here;
# see privacy/zk/recursion.py.
restore_recursion_limit()

Q: int = field_modulus
ORDER: int = curve_order
B = 4
# The BLS parameter u (negative for BLS12-381); |u| has six set bits.
U_ABS = 0xD201000000010000

Jacobian = tuple[int, int, int]
Affine = tuple[int, int]
INF: Jacobian = (1, 1, 0)

# r = λ² + λ + 1 for λ = u² - 1, so λ is a primitive cube root of unity mod r and the
# endomorphism (x, y) ↦ (βx, y) acts on G1 as multiplication by λ for one of the two
# cube roots of unity β in F_q (picked below); the other one acts as λ² = -u².
LAMBDA = U_ABS * U_ABS - 1
if LAMBDA * LAMBDA + LAMBDA + 1 != ORDER:  # pragma: no cover - py_ecc's constants changed
    raise RuntimeError("BLS12-381 constants do not satisfy r = λ² + λ + 1")


def is_inf(p: Jacobian) -> bool:
    return p[2] == 0


def double(p: Jacobian) -> Jacobian:
    x, y, z = p
    if z == 0:
        return INF
    a = x * x % Q
    b = y * y % Q
    c = b * b % Q
    t = x + b
    d = 2 * (t * t - a - c) % Q
    e = 3 * a % Q
    x3 = (e * e - 2 * d) % Q
    return x3, (e * (d - x3) - 8 * c) % Q, 2 * y * z % Q


def add(p: Jacobian, o: Jacobian) -> Jacobian:
    x1, y1, z1 = p
    x2, y2, z2 = o
    if z1 == 0:
        return o
    if z2 == 0:
        return p
    z1z1 = z1 * z1 % Q
    z2z2 = z2 * z2 % Q
    u1 = x1 * z2z2 % Q
    u2 = x2 * z1z1 % Q
    s1 = y1 * z2 * z2z2 % Q
    s2 = y2 * z1 * z1z1 % Q
    h = (u2 - u1) % Q
    r = 2 * (s2 - s1) % Q
    if h == 0:
        return double(p) if r == 0 else INF
    i = 4 * h * h % Q
    j = h * i % Q
    v = u1 * i % Q
    x3 = (r * r - j - 2 * v) % Q
    return x3, (r * (v - x3) - 2 * s1 * j) % Q, 2 * z1 * z2 * h % Q


def _madd(p: Jacobian, x2: int, y2: int) -> Jacobian:
    """p + (x2, y2) with the second point affine (Z = 1): five fewer multiplications."""
    x1, y1, z1 = p
    if z1 == 0:
        return x2, y2, 1
    z1z1 = z1 * z1 % Q
    u2 = x2 * z1z1 % Q
    s2 = y2 * z1 * z1z1 % Q
    h = (u2 - x1) % Q
    r = 2 * (s2 - y1) % Q
    if h == 0:
        return double(p) if r == 0 else INF
    i = 4 * h * h % Q
    j = h * i % Q
    v = x1 * i % Q
    x3 = (r * r - j - 2 * v) % Q
    return x3, (r * (v - x3) - 2 * y1 * j) % Q, 2 * z1 * h % Q


def neg(p: Jacobian) -> Jacobian:
    return p[0], (-p[1]) % Q, p[2]


def eq(p: Jacobian, o: Jacobian) -> bool:
    if p[2] == 0 or o[2] == 0:
        return p[2] == 0 and o[2] == 0
    z1z1 = p[2] * p[2] % Q
    z2z2 = o[2] * o[2] % Q
    return p[0] * z2z2 % Q == o[0] * z1z1 % Q and p[1] * z2z2 * o[2] % Q == o[1] * z1z1 * p[2] % Q


def to_affine(p: Jacobian) -> Affine:
    """The affine coordinates of a point that is not the identity."""
    zi = pow(p[2], -1, Q)
    zi2 = zi * zi % Q
    return p[0] * zi2 % Q, p[1] * zi2 * zi % Q


def to_affine_many(points: Sequence[Jacobian]) -> list[Affine]:
    """Affine coordinates of many non-identity points with one inversion (Montgomery)."""
    if not points:
        return []
    prefix = [1] * len(points)
    acc = 1
    for i, p in enumerate(points):
        prefix[i] = acc
        acc = acc * p[2] % Q
    inv = pow(acc, -1, Q)
    out: list[Affine] = [(0, 0)] * len(points)
    for i in range(len(points) - 1, -1, -1):
        x, y, z = points[i]
        zi = inv * prefix[i] % Q
        inv = inv * z % Q
        zi2 = zi * zi % Q
        out[i] = (x * zi2 % Q, y * zi2 * zi % Q)
    return out


def on_curve(x: int, y: int) -> bool:
    return (y * y - x * x * x - B) % Q == 0


def _mul_small(p: Jacobian, k: int) -> Jacobian:
    """Plain double-and-add, for sparse public constants (|u|) and setup only."""
    acc = INF
    for bit in bin(k)[2:]:
        acc = double(acc)
        if bit == "1":
            acc = add(acc, p)
    return acc


def _cube_roots_of_unity() -> tuple[int, int]:
    # An element of order 3 in F_q*: g^((q-1)/3) for the first g that gives one ≠ 1.
    g = 2
    while (w := pow(g, (Q - 1) // 3, Q)) == 1:
        g += 1
    return w, w * w % Q


def _pick_beta() -> tuple[int, int]:
    """(β_λ, β_-u²): the cube roots of unity whose endomorphisms act as λ and λ² on G1."""
    w1, w2 = _cube_roots_of_unity()
    g = GENERATOR
    lam_g = _mul_small(g, LAMBDA)
    if eq((w1 * g[0] % Q, g[1], 1), lam_g):
        return w1, w2
    if not eq((w2 * g[0] % Q, g[1], 1), lam_g):  # pragma: no cover - impossible for BLS12
        raise RuntimeError("no cube root of unity acts as λ on G1")
    return w2, w1


_gx, _gy = normalize(_PY_ECC_G1)
GENERATOR: Jacobian = (_gx.n, _gy.n, 1)
BETA, BETA_SQ = _pick_beta()


def in_subgroup(p: Jacobian) -> bool:
    """Scott's test (ePrint 2021/1130): a point of E(F_q) is in G1 iff ψ(P) = -u²·P,
    where ψ(x, y) = (β'x, y) is the endomorphism acting as λ² = -u² on G1. Costs two
    multiplications by the 64-bit |u| instead of one by the 255-bit r."""
    if p[2] == 0:
        return True
    t = _mul_small(_mul_small(p, U_ABS), U_ABS)
    psi = (BETA_SQ * p[0] % Q, p[1], p[2])
    return eq(psi, neg(t))


def glv_split(k: int) -> tuple[int, int]:
    """k ≡ k1 + k2·λ (mod r) with 0 ≤ k1 < λ and 0 ≤ k2 ≤ λ + 1: both ~128 bits, since
    r = λ² + λ + 1."""
    k %= ORDER
    return k % LAMBDA, k // LAMBDA


def wnaf(k: int, w: int) -> list[tuple[int, int]]:
    """Width-w non-adjacent form as (bit position, digit) pairs for the nonzero digits only;
    digits odd, |d| < 2^(w-1). Runs of zeros are skipped in one step."""
    digits: list[tuple[int, int]] = []
    full, half = 1 << w, 1 << (w - 1)
    pos = 0
    while k:
        if not k & 1:
            zeros = (k & -k).bit_length() - 1
            k >>= zeros
            pos += zeros
            continue
        d = k & (full - 1)
        if d >= half:
            d -= full
        digits.append((pos, d))
        # k - d is divisible by 2^w, so the next w - 1 digits are zero.
        k = (k - d) >> w
        pos += w
    return digits


# wNAF widths: 5 for a point seen once (8 odd multiples to build), 9 for points whose
# tables are kept (the Bulletproofs generators: 128 multiples, one addition per ~10 bits;
# 129 generators x 2 tables x 128 affine points is about 5 MB, built once in ~0.3 s).
_W = 5
W_KEPT = 9


def _odd_multiples(points: Sequence[Jacobian], w: int) -> list[list[Affine]]:
    """For each point P: [P, 3P, 5P, …, (2^(w-1) - 1)P] affine, normalized with one
    inversion for the lot."""
    count = 1 << (w - 2)
    flat: list[Jacobian] = []
    for p in points:
        two = double(p)
        acc = p
        flat.append(acc)
        for _ in range(count - 1):
            acc = add(acc, two)
            flat.append(acc)
    aff = to_affine_many(flat)
    return [aff[i * count : (i + 1) * count] for i in range(len(points))]


# (wNAF width, the table of P, the table of φ(P) = (βx, y)).
OddTable = tuple[int, list[Affine], list[Affine]]


def odd_tables(points: Sequence[Jacobian], w: int = W_KEPT) -> list[OddTable]:
    """The per-point precomputation of ``msm``, to keep for points that recur."""
    return [(w, t, [(BETA * x % Q, y) for x, y in t]) for t in _odd_multiples(points, w)]


def msm(
    points: Sequence[Jacobian],
    scalars: Sequence[int],
    known: Mapping[Jacobian, OddTable] | None = None,
) -> Jacobian:
    """Σ kᵢ·Pᵢ by Straus' method over the GLV split: every scalar becomes two ~128-bit
    scalars on P and φ(P), all 2n share one run of ~128 doublings, and each contributes
    one addition per nonzero wNAF digit (about 128/(w+1)). ``known`` holds tables of
    points seen before."""
    live = [(p, k % ORDER) for p, k in zip(points, scalars, strict=True) if p[2] and k % ORDER]
    if not live:
        return INF
    known = known or {}
    fresh = [p for p, _ in live if p not in known]
    built = dict(zip(fresh, odd_tables(fresh, _W), strict=True))
    # schedule[i]: the affine points (sign applied) to add after the doubling for bit i.
    schedule: list[list[Affine]] = [[] for _ in range(132)]
    for p, k in live:
        w, table, phi_table = known.get(p) or built[p]
        for part, tbl in zip(glv_split(k), (table, phi_table), strict=True):
            for pos, d in wnaf(part, w):
                x, y = tbl[(abs(d) - 1) >> 1]
                schedule[pos].append((x, y if d > 0 else Q - y))
    acc = INF
    for i in range(len(schedule) - 1, -1, -1):
        if acc[2]:
            acc = double(acc)
        for x, y in schedule[i]:
            acc = _madd(acc, x, y)
    return acc


def mul(p: Jacobian, k: int) -> Jacobian:
    return msm([p], [k])


# Fixed bases (G, H, the Bulletproofs vectors' helpers) get comb tables: window j holds
# d·2^(8j)·P for d = 1..255, so a multiplication is at most 32 mixed additions and no
# doubling.
_FIXED_W = 8
_FIXED_WINDOWS = (ORDER.bit_length() + _FIXED_W - 1) // _FIXED_W

FixedTable = tuple[tuple[Affine, ...], ...]


def fixed_table(p: Jacobian) -> FixedTable:
    rows: list[Jacobian] = []
    base = p
    for _ in range(_FIXED_WINDOWS):
        acc = base
        rows.append(acc)
        for _ in range((1 << _FIXED_W) - 2):
            acc = add(acc, base)
            rows.append(acc)
        base = add(acc, base)  # 2^8 · base
    flat = to_affine_many(rows)
    size = (1 << _FIXED_W) - 1
    return tuple(tuple(flat[j * size : (j + 1) * size]) for j in range(_FIXED_WINDOWS))


def fixed_mul(table: FixedTable, k: int) -> Jacobian:
    k %= ORDER
    acc = INF
    mask = (1 << _FIXED_W) - 1
    for row in table:
        if d := k & mask:
            x, y = row[d - 1]
            acc = _madd(acc, x, y)
        k >>= _FIXED_W
    return acc
