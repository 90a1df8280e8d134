"""Random one-time codes and the hashes the server keeps of them.

Codes are random and at least 128 bits long, so a plain SHA-256 is a sufficient hash:
there is nothing to guess that stretching would protect.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, date, datetime
from typing import Final


def today() -> date:
    """The current UTC day: the vault stores times only to the day (DESIGN.md section 2)."""
    return datetime.now(UTC).date()


#: Each byte value to a base32 character: 256 values onto 32 characters, 8 each, so a
#: uniformly random byte gives a uniformly random character (its low 5 bits).
_BASE32_OF_BYTE: Final = bytes.maketrans(bytes(range(256)), b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" * 8)
#: Characters in a random id: 26 of 5 bits each, 130 bits.
ID_CHARS: Final = 26


def random_id() -> str:
    """A fresh id: `ID_CHARS` random upper-case base32 characters (130 bits).

    The shape of a base32-encoded 128-bit value, made in one C call instead of
    base64.b32encode's Python loop: ids are made on every submission."""
    return secrets.token_bytes(ID_CHARS).translate(_BASE32_OF_BYTE).decode("ascii")


def random_base32(nbytes: int) -> str:
    """`nbytes` random bytes in unpadded upper-case base32 (no 0/O, 1/I confusion)."""
    return base64.b32encode(secrets.token_bytes(nbytes)).decode("ascii").rstrip("=")


def group(text: str, size: int = 4) -> str:
    """`text` in dash-separated groups, for reading aloud or copying by hand."""
    return "-".join(text[i : i + size] for i in range(0, len(text), size))


def normalise(code: str) -> str:
    """A code as typed, without case, dashes or spaces."""
    return "".join(c for c in code.upper() if c not in "- \t\r\n")


def code_hash(code: str) -> bytes:
    """The stored hash of a code, whatever its case or grouping."""
    return hashlib.sha256(normalise(code).encode("utf-8")).digest()


def same_hash(candidate: bytes, stored: bytes) -> bool:
    return hmac.compare_digest(candidate, stored)
