"""Bulletproofs range proofs (scheme ``bulletproofs-v1``): d ∈ [0, 2^n) for D = d·G + rho·H.

The protocol of Bünz et al. (2018, §4.1-4.2) for one value, with the inner-product
argument of §3, made non-interactive over the envelope's transcript. n ≤ 40 bits; the
vectors are padded with zeros to N = the next power of two. The inner-product argument
stops when the vectors have 4 entries and sends them (8 scalars instead of the two last
rounds' 4 points: the same 256 bytes, two fewer multi-scalar multiplications for the
prover, four fewer points to check for the verifier), so a 32-bit proof has 3 rounds and
a 40-bit one 4. The vector generators gᵢ, hᵢ (i < 64) and the
inner-product base U are RFC 9380 ``hash_to_G1`` outputs under ``DST`` (``public_parameters()``
lists them for an auditor):

    gᵢ = hash_to_G1(b"custos/zk/bulletproofs/g" ‖ u32(i), DST)
    hᵢ = hash_to_G1(b"custos/zk/bulletproofs/h" ‖ u32(i), DST)
    U  = hash_to_G1(b"custos/zk/bulletproofs/U", DST)

so no discrete-log relation among them (or with G, H) is known to anyone.

Transcript, per range proof (labels prefixed with the range's position): A, S → y, z;
T1, T2 → x; τx, μ, t̂ → w (U' = w·U); then per round Lₖ, Rₖ → uₖ. The verifier adds
both the polynomial identity t̂·G + τx·H = z²·D + δ(y, z)·G + x·T1 + x²·T2 and the
inner-product relation to a batch (batch.py), which checks them, with those of every other
range proof of the envelope, in one multi-scalar multiplication under random weights.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from privacy.zk import backend as _backend
from privacy.zk._curve import ORDER
from privacy.zk.backend import Backend, Point
from privacy.zk.batch import Batch
from privacy.zk.envelope import b64 as _b64
from privacy.zk.envelope import (
    exact_members,
    parse_point,
    parse_points,
    parse_scalar,
    parse_scalars,
    scalar_text,
)
from privacy.zk.pedersen import Bases, random_scalar
from privacy.zk.transcript import Transcript

__all__ = [
    "DST",
    "G_PREFIX",
    "H_PREFIX",
    "MAX_BITS",
    "MEMBERS",
    "U_MESSAGE",
    "BulletproofGenerators",
    "RangeProof",
    "bp_generators",
    "parse",
    "prove",
    "public_parameters",
    "rounds",
    "tail",
    "verify",
]

DST = b"CUSTOS-ZK-V01-BULLETPROOFS-with-BLS12381G1_XMD:SHA-256_SSWU_RO_"
G_PREFIX = b"custos/zk/bulletproofs/g"
H_PREFIX = b"custos/zk/bulletproofs/h"
U_MESSAGE = b"custos/zk/bulletproofs/U"
MAX_BITS = 40
_MAX_N = 64
MEMBERS = ("A", "S", "T1", "T2", "tau_x", "mu", "t", "L", "R", "a", "b")


def _padded(n: int) -> int:
    return 1 << (n - 1).bit_length()


_TAIL = 4  # the inner-product argument's vectors are sent once this short


def rounds(n: int) -> int:
    return max(0, _padded(n).bit_length() - 1 - (_TAIL.bit_length() - 1))


def tail(n: int) -> int:
    """Length of the final vectors a and b."""
    return min(_padded(n), _TAIL)


@dataclass(frozen=True, slots=True)
class BulletproofGenerators:
    g: tuple[Point, ...]
    h: tuple[Point, ...]
    u: Point


@cache
def _generators(name: str) -> BulletproofGenerators:
    b = _backend.get(name)
    return BulletproofGenerators(
        g=tuple(b.hash_to_g1(G_PREFIX + i.to_bytes(4, "big"), DST) for i in range(_MAX_N)),
        h=tuple(b.hash_to_g1(H_PREFIX + i.to_bytes(4, "big"), DST) for i in range(_MAX_N)),
        u=b.hash_to_g1(U_MESSAGE, DST),
    )


def bp_generators(b: Backend) -> BulletproofGenerators:
    gens = _generators(b.name)
    if b.name not in _remembered:
        b.remember([*gens.g, *gens.h, gens.u])
        _remembered.add(b.name)
    return gens


_remembered: set[str] = set()


@dataclass(frozen=True, slots=True)
class RangeProof:
    """A decoded proof: each point as (encoding, backend point)."""

    a_point: tuple[bytes, Point]
    s_point: tuple[bytes, Point]
    t1: tuple[bytes, Point]
    t2: tuple[bytes, Point]
    tau_x: int
    mu: int
    t_hat: int
    ls: tuple[tuple[bytes, Point], ...]
    rs: tuple[tuple[bytes, Point], ...]
    a: tuple[int, ...]
    b: tuple[int, ...]


def _inner(xs: Sequence[int], ys: Sequence[int]) -> int:
    return sum(x * y for x, y in zip(xs, ys, strict=True)) % ORDER


def _powers(x: int, count: int) -> list[int]:
    out, acc = [], 1
    for _ in range(count):
        out.append(acc)
        acc = acc * x % ORDER
    return out


def prove(
    b: Backend, base: Bases, t: Transcript, label: str, d: int, rho: int, n: int
) -> dict[str, Any]:
    """The JSON object of a proof that d ∈ [0, 2^n), absorbed into ``t``."""
    if not 1 <= n <= MAX_BITS or not 0 <= d < 1 << n:
        raise ValueError("d is outside [0, 2^n) or n is unsupported")  # caller checked
    gens = bp_generators(b)
    big_n = _padded(n)
    a_l = [(d >> i) & 1 for i in range(n)]
    alpha = random_scalar()
    a_point = b.mul_fixed(base.h_fixed, alpha)
    # a_L ∈ {0,1}ⁿ and a_R = a_L - 1 ∈ {0,-1}ⁿ: A is n additions, no multiplication.
    for i, bit in enumerate(a_l):
        a_point = b.add(a_point, gens.g[i]) if bit else b.sub(a_point, gens.h[i])
    s_l = [secrets.randbelow(ORDER) for _ in range(n)]
    s_r = [secrets.randbelow(ORDER) for _ in range(n)]
    rho_s = random_scalar()
    s_point = b.msm([base.h, *gens.g[:n], *gens.h[:n]], [rho_s, *s_l, *s_r])
    enc_a, enc_s = b.encode_many([a_point, s_point])
    t.append(label + ".A", enc_a)
    t.append(label + ".S", enc_s)
    y = t.challenge(label + ".y")
    z = t.challenge(label + ".z")
    z2 = z * z % ORDER
    yn = _powers(y, n)
    l0 = [(bit - z) % ORDER for bit in a_l]
    r0 = [(yn[i] * (a_l[i] - 1 + z) + z2 * (1 << i)) % ORDER for i in range(n)]
    r1 = [yn[i] * s_r[i] % ORDER for i in range(n)]
    t1 = (_inner(l0, r1) + _inner(s_l, r0)) % ORDER
    t2 = _inner(s_l, r1)
    tau1, tau2 = random_scalar(), random_scalar()
    t1_point = b.add(b.mul_fixed(base.g_fixed, t1), b.mul_fixed(base.h_fixed, tau1))
    t2_point = b.add(b.mul_fixed(base.g_fixed, t2), b.mul_fixed(base.h_fixed, tau2))
    enc_t1, enc_t2 = b.encode_many([t1_point, t2_point])
    t.append(label + ".T1", enc_t1)
    t.append(label + ".T2", enc_t2)
    x = t.challenge(label + ".x")
    l_vec = [(l0[i] + x * s_l[i]) % ORDER for i in range(n)]
    r_vec = [(r0[i] + x * r1[i]) % ORDER for i in range(n)]
    t_hat = _inner(l_vec, r_vec)
    tau_x = (tau2 * x * x + tau1 * x + z2 * rho) % ORDER
    mu = (alpha + rho_s * x) % ORDER
    t.append_scalar(label + ".tau_x", tau_x)
    t.append_scalar(label + ".mu", mu)
    t.append_scalar(label + ".t", t_hat)
    w = t.challenge(label + ".w")

    # Inner-product argument for P' = <l, g> + <r, h'> + <l, r>·U' with h'ᵢ = y⁻ⁱ·hᵢ.
    # The folded generators are never computed: the one at position p of a vector of
    # length m is Σ coefᵢ·gᵢ over the original i ≡ p (mod m), so every Lₖ and Rₖ is one
    # multi-scalar multiplication over N + 1 fixed points (whose tables the backend keeps).
    pad = big_n - n
    a_vec, b_vec = [*l_vec, *[0] * pad], [*r_vec, *[0] * pad]
    g_pts, h_pts = list(gens.g[:big_n]), list(gens.h[:big_n])
    g_coef = [1] * big_n
    h_coef = _powers(pow(y, -1, ORDER), big_n)
    ls, rs = [], []
    size = big_n
    while size > _TAIL:
        m = size // 2
        c_l = _inner(a_vec[:m], b_vec[m:])
        c_r = _inner(a_vec[m:], b_vec[:m])
        lo = [i for i in range(big_n) if i % size < m]
        hi = [i for i in range(big_n) if i % size >= m]
        l_pt = b.msm(
            [*(g_pts[i] for i in hi), *(h_pts[i] for i in lo), gens.u],
            [
                *(a_vec[i % size - m] * g_coef[i] for i in hi),
                *(b_vec[i % size + m] * h_coef[i] for i in lo),
                c_l * w,
            ],
        )
        r_pt = b.msm(
            [*(g_pts[i] for i in lo), *(h_pts[i] for i in hi), gens.u],
            [
                *(a_vec[i % size + m] * g_coef[i] for i in lo),
                *(b_vec[i % size - m] * h_coef[i] for i in hi),
                c_r * w,
            ],
        )
        enc_l, enc_r = b.encode_many([l_pt, r_pt])
        t.append(label + ".L", enc_l)
        t.append(label + ".R", enc_r)
        ls.append(enc_l)
        rs.append(enc_r)
        u = t.challenge(label + ".u")
        ui = pow(u, -1, ORDER)
        a_vec = [(a_vec[j] * u + a_vec[m + j] * ui) % ORDER for j in range(m)]
        b_vec = [(b_vec[j] * ui + b_vec[m + j] * u) % ORDER for j in range(m)]
        for i in lo:
            g_coef[i] = g_coef[i] * ui % ORDER
            h_coef[i] = h_coef[i] * u % ORDER
        for i in hi:
            g_coef[i] = g_coef[i] * u % ORDER
            h_coef[i] = h_coef[i] * ui % ORDER
        size = m
    return {
        "A": _b64(enc_a),
        "S": _b64(enc_s),
        "T1": _b64(enc_t1),
        "T2": _b64(enc_t2),
        "tau_x": scalar_text(tau_x),
        "mu": scalar_text(mu),
        "t": scalar_text(t_hat),
        "L": [_b64(e) for e in ls],
        "R": [_b64(e) for e in rs],
        "a": [scalar_text(x) for x in a_vec],
        "b": [scalar_text(x) for x in b_vec],
    }


def parse(b: Backend, obj: Any, n: int, field: str) -> RangeProof:
    """Decode a proof object for an n-bit range; raises InvalidEnvelope."""
    o: Mapping[str, Any] = exact_members(obj, MEMBERS, field)
    k = rounds(n)
    return RangeProof(
        a_point=parse_point(b, o["A"], f"{field}.A"),
        s_point=parse_point(b, o["S"], f"{field}.S"),
        t1=parse_point(b, o["T1"], f"{field}.T1"),
        t2=parse_point(b, o["T2"], f"{field}.T2"),
        tau_x=parse_scalar(o["tau_x"], f"{field}.tau_x"),
        mu=parse_scalar(o["mu"], f"{field}.mu"),
        t_hat=parse_scalar(o["t"], f"{field}.t"),
        ls=tuple(parse_points(b, o["L"], k, f"{field}.L")),
        rs=tuple(parse_points(b, o["R"], k, f"{field}.R")),
        a=tuple(parse_scalars(o["a"], tail(n), f"{field}.a")),
        b=tuple(parse_scalars(o["b"], tail(n), f"{field}.b")),
    )


def verify(
    b: Backend,
    base: Bases,
    t: Transcript,
    label: str,
    target: Point,
    n: int,
    p: RangeProof,
    batch: Batch,
) -> bool:
    """Replays the transcript and adds the proof's two equations (the polynomial identity
    and the inner-product relation) to ``batch``, which the caller checks once for every
    range proof of the envelope. False when a challenge is zero (probability 2^-255)."""
    gens = bp_generators(b)
    big_n = _padded(n)
    t.append(label + ".A", p.a_point[0])
    t.append(label + ".S", p.s_point[0])
    y = t.challenge(label + ".y")
    z = t.challenge(label + ".z")
    t.append(label + ".T1", p.t1[0])
    t.append(label + ".T2", p.t2[0])
    x = t.challenge(label + ".x")
    t.append_scalar(label + ".tau_x", p.tau_x)
    t.append_scalar(label + ".mu", p.mu)
    t.append_scalar(label + ".t", p.t_hat)
    w = t.challenge(label + ".w")
    us = []
    for (enc_l, _), (enc_r, _) in zip(p.ls, p.rs, strict=True):
        t.append(label + ".L", enc_l)
        t.append(label + ".R", enc_r)
        us.append(t.challenge(label + ".u"))
    if y == 0 or any(u == 0 for u in us):
        return False  # a zero challenge has no inverse
    z2 = z * z % ORDER
    yinv = _powers(pow(y, -1, ORDER), big_n)
    delta = ((z - z2) * sum(_powers(y, n)) - z2 * z * ((1 << n) - 1)) % ORDER
    # t̂·G + τx·H = z²·D + δ(y, z)·G + x·T1 + x²·T2
    batch.add(
        [base.g, base.h, target, p.t1[1], p.t2[1]],
        [delta - p.t_hat, -p.tau_x, z2, x, x * x % ORDER],
    )
    u_sq = [u * u % ORDER for u in us]
    u_inv = [pow(u, -1, ORDER) for u in us]
    # Round k splits the vectors on bit (log₂N - 1 - k) of the original index i: the
    # generator gᵢ ends up scaled by sᵢ = Π uₖ^(±1) (+ when that bit is 1), hᵢ by 1/sᵢ, and
    # sits at position i mod len(a) of the final vectors.
    top = big_n.bit_length() - 2
    s = [1] * big_n
    s_inv = [1] * big_n
    for i in range(big_n):
        for k, (u, ui) in enumerate(zip(us, u_inv, strict=True)):
            if i >> (top - k) & 1:
                s[i], s_inv[i] = s[i] * u % ORDER, s_inv[i] * ui % ORDER
            else:
                s[i], s_inv[i] = s[i] * ui % ORDER, s_inv[i] * u % ORDER
    m = len(p.a)
    ab = sum(x * y for x, y in zip(p.a, p.b, strict=True)) % ORDER
    # A + x·S - μ·H + Σ(uₖ²·Lₖ + uₖ⁻²·Rₖ) = <a·s, g> + <b·s⁻¹, h'> + a·b·w·U - (the z
    # terms), with h'ᵢ = y⁻ⁱ·hᵢ, all moved to one side.
    points: list[Point] = [*gens.g[:big_n], *gens.h[:big_n]]
    scalars: list[int] = [(-(z if i < n else 0) - p.a[i % m] * s[i]) % ORDER for i in range(big_n)]
    scalars += [
        ((z + z2 * (1 << i) * yinv[i] if i < n else 0) - p.b[i % m] * s_inv[i] * yinv[i]) % ORDER
        for i in range(big_n)
    ]
    points += [gens.u, base.h, p.a_point[1], p.s_point[1]]
    scalars += [w * (p.t_hat - ab) % ORDER, -p.mu % ORDER, 1, x]
    for (_, l_pt), (_, r_pt), sq, inv in zip(p.ls, p.rs, u_sq, u_inv, strict=True):
        points += [l_pt, r_pt]
        scalars += [sq, inv * inv % ORDER]
    batch.add(points, scalars)
    return True


def public_parameters() -> dict[str, Any]:
    """What an auditor needs to recompute every Bulletproofs generator offline: the tag,
    the messages and their count, the inner-product base, and the resulting encodings
    (base64url) to compare with. Plain JSON; independent of the backend."""
    b = _backend.current()
    gens = _generators(b.name)
    return {
        "scheme": "bulletproofs-v1",
        "hash_to_curve": "BLS12381G1_XMD:SHA-256_SSWU_RO_",
        "dst": DST.decode("ascii"),
        "vector_length": _MAX_N,
        "derivation": "g[i] = hash_to_G1(g_prefix || u32be(i), dst), h[i] likewise, "
        "u = hash_to_G1(u_message, dst), for i < vector_length",
        "g_prefix": G_PREFIX.decode("ascii"),
        "h_prefix": H_PREFIX.decode("ascii"),
        "u_message": U_MESSAGE.decode("ascii"),
        "max_bits": MAX_BITS,
        "tail": _TAIL,
        "g": [_b64(e) for e in b.encode_many(gens.g)],
        "h": [_b64(e) for e in b.encode_many(gens.h)],
        "u": _b64(b.encode(gens.u)),
    }
