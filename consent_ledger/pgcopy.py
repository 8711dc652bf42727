"""PostgreSQL's binary COPY format, for rows of (bigint, bytea).

psycopg's ``Copy.write_row`` formats one row per call through several Python-level
functions; the ledger's batch appends send a thousand rows at a time, so they are packed
here a block at a time and sent with ``Copy.write``. The layout is the one PostgreSQL
documents for ``COPY ... (FORMAT BINARY)``: an 11-byte signature, a 32-bit flags field and
a 32-bit header-extension length; per row a 16-bit field count, then each field as a 32-bit
length and its bytes (int8: 8 bytes, big-endian); a 16-bit -1 as the trailer.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

__all__ = ["HEADER", "TRAILER", "rows"]

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)
# Two fields: an 8-byte int8, then the bytea's length (its bytes follow).
_ROW = struct.Struct(">hiqi")


def rows(keyed: Iterable[tuple[int, bytes]]) -> bytes:
    """Rows of (bigint key, bytea value), between a HEADER and a TRAILER."""
    pack = _ROW.pack
    return b"".join([pack(2, 8, key, len(blob)) + blob for key, blob in keyed])
