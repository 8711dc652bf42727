"""The Fiat-Shamir transcript: labelled, length-prefixed, one running SHAKE256 state.

Every item is absorbed as ``u32(len(label)) ‖ label ‖ u64(len(data)) ‖ data`` (big
endian), so no two different sequences of items give the same byte string. A challenge
absorbs ``("challenge", label)``, reads 64 bytes from a copy of the state and reduces them
modulo the group order (a 512-bit integer mod a 255-bit prime: statistical distance
< 2^-256 from uniform), then absorbs its own value, so later challenges depend on it.

The first item is the domain ``custos-zk/transcript/v1``; proofs.py then binds the
protocol version, the scheme, the context and every claim before any proof message.
"""

from __future__ import annotations

import hashlib

from privacy.zk._curve import ORDER

__all__ = ["DOMAIN", "SCALAR_BYTES", "Transcript", "scalar_bytes"]

DOMAIN = b"custos-zk/transcript/v1"
SCALAR_BYTES = 32
_CHALLENGE_BYTES = 64


def scalar_bytes(k: int) -> bytes:
    return (k % ORDER).to_bytes(SCALAR_BYTES, "big")


class Transcript:
    def __init__(self) -> None:
        self._state = hashlib.shake_256()
        self.append("domain", DOMAIN)

    def append(self, label: str, data: bytes) -> None:
        name = label.encode("utf-8")
        self._state.update(len(name).to_bytes(4, "big") + name)
        self._state.update(len(data).to_bytes(8, "big") + data)

    def append_int(self, label: str, value: int) -> None:
        """A public integer parameter (bit width, threshold): signed decimal text, so any
        size and sign has one encoding."""
        self.append(label, str(value).encode("ascii"))

    def append_scalar(self, label: str, k: int) -> None:
        self.append(label, scalar_bytes(k))

    def append_points(self, label: str, encoded: list[bytes]) -> None:
        self.append_int(label + ".count", len(encoded))
        for i, data in enumerate(encoded):
            self.append(f"{label}[{i}]", data)

    def challenge(self, label: str) -> int:
        self.append("challenge", label.encode("utf-8"))
        value = int.from_bytes(self._state.copy().digest(_CHALLENGE_BYTES), "big") % ORDER
        self.append_scalar(label, value)
        return value
