"""Proof of work for the anonymous door: stateless tokens, cheap to check, bound to one upload.

The server issues a token; the client finds a counter such that
``SHA-256(token ‖ binding ‖ counter)`` starts with ``bits`` zero bits; the server checks it
with one HMAC and one hash (DESIGN.md section 2, "Abuse of the anonymous door").

Token (58 bytes, sent as unpadded base64url)::

    version (1) ‖ bits (1) ‖ expires (8, big-endian Unix seconds) ‖ nonce (16) ‖ tag (32)

where ``tag = HMAC-SHA256(server key, TOKEN_LABEL ‖ the 26 bytes before it)``. The server
keeps no state until redemption. ``binding`` names the one upload the work pays for (say,
the SHA-256 of its first chunk, or its upload id); the hash input is unambiguous because
the token and the 8-byte big-endian counter around it have fixed lengths.

Single use is the caller's job: after `verify` succeeds, the server stores
`redemption(token).nonce_hash` until `redemption(token).expires` and refuses a token whose
nonce hash it already holds. Expiry is rounded up to the minute so stored times say little.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import os
from dataclasses import dataclass
from typing import Final

from crypto.errors import CryptoError

TOKEN_LABEL: Final = b"tvault/pow/v1"
VERSION: Final = 1
NONCE_SIZE: Final = 16
TAG_SIZE: Final = 32
TOKEN_SIZE: Final = 1 + 1 + 8 + NONCE_SIZE + TAG_SIZE
COUNTER_SIZE: Final = 8
MIN_KEY_SIZE: Final = 32
MAX_BITS: Final = 40  # 2**40 SHA-256 calls is days of work: more is a misconfiguration.
MAX_BINDING_SIZE: Final = 256  # bounds what verify hashes to six SHA-256 blocks
DEFAULT_TTL: Final = 600
_EXPIRY_GRAIN: Final = 60


class PowError(CryptoError):
    """A proof-of-work token or its solution is not acceptable."""

    summary = "the proof of work is not acceptable"


@dataclass(frozen=True, slots=True)
class Redemption:
    """What the server keeps of a redeemed token, until ``expires``, to refuse it again."""

    nonce_hash: bytes
    expires: int


def _tag(key: bytes, body: bytes) -> bytes:
    return hmac.digest(key, TOKEN_LABEL + body, "sha256")


def _check_key(key: bytes) -> None:
    if len(key) < MIN_KEY_SIZE:
        raise CryptoError("a proof-of-work key is at least 32 bytes")


def _decode(token: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise PowError("malformed token") from None
    # Re-encoding refuses stray characters and padding that b64decode would skip over.
    if len(raw) != TOKEN_SIZE or raw[0] != VERSION or _encode(raw) != token:
        raise PowError("malformed token")
    if not 1 <= raw[1] <= MAX_BITS:
        raise PowError("malformed token")
    return raw


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _fields(raw: bytes) -> tuple[int, int, bytes]:
    """``(bits, expires, nonce)`` of a decoded token."""
    return raw[1], int.from_bytes(raw[2:10], "big"), raw[10 : 10 + NONCE_SIZE]


def _check_binding(binding: bytes) -> None:
    if not 0 < len(binding) <= MAX_BINDING_SIZE:
        raise PowError("an upload binding is 1 to 256 bytes")


def _threshold(bits: int) -> bytes:
    """Digests below this, compared as big-endian bytes, start with ``bits`` zero bits."""
    return (1 << (256 - bits)).to_bytes(32, "big")


def issue(key: bytes, *, bits: int, now: float, ttl: int = DEFAULT_TTL) -> str:
    """A fresh token asking for ``bits`` of work, valid from ``now`` for about ``ttl`` seconds.

    ``bits`` comes from `crypto.profile.KdfProfile.pow_bits`. Raises `CryptoError` for a key
    shorter than 32 bytes, ``bits`` outside 1..40 or a ``ttl`` that is not positive.
    """
    _check_key(key)
    if not 1 <= bits <= MAX_BITS:
        raise CryptoError("proof-of-work bits must be between 1 and 40")
    if ttl <= 0:
        raise CryptoError("a token's lifetime must be positive")
    expires = math.ceil((now + ttl) / _EXPIRY_GRAIN) * _EXPIRY_GRAIN
    body = bytes([VERSION, bits]) + expires.to_bytes(8, "big") + os.urandom(NONCE_SIZE)
    return _encode(body + _tag(key, body))


def solve(token: str, *, binding: bytes) -> int:
    """The first counter whose hash with ``token`` and ``binding`` has the token's zero bits.

    Expected work is ``2**bits`` SHA-256 calls. Raises `PowError` for a malformed token or
    binding; does not check the token's MAC or expiry (the client cannot).
    """
    raw = _decode(token)
    _check_binding(binding)
    threshold = _threshold(raw[1])
    base = raw + binding
    # One bytes comparison per try and no helper calls: this loop is the client's whole cost.
    sha256, to_bytes = hashlib.sha256, int.to_bytes
    for counter in range(1 << (8 * COUNTER_SIZE)):
        if sha256(base + to_bytes(counter, COUNTER_SIZE, "big")).digest() < threshold:
            return counter
    raise PowError("no counter solves this token")  # pragma: no cover - 2**64 tries


def verify(key: bytes, token: str, *, binding: bytes, counter: int, now: float) -> None:
    """Return if ``counter`` solves ``token``, issued under ``key``, for this ``binding``.

    Checks, in order, and raises `PowError` saying which failed: the token's form, its MAC
    (made under another key or altered), its expiry against ``now``, and the work (which
    also fails when the work was done for another upload's binding). Does not enforce
    single use: see the module docstring.
    """
    _check_key(key)
    raw = _decode(token)
    body, tag = raw[:-TAG_SIZE], raw[-TAG_SIZE:]
    if not hmac.compare_digest(_tag(key, body), tag):
        raise PowError("token was not issued by this server")
    bits, expires, _ = _fields(raw)
    if now > expires:
        raise PowError("token expired")
    _check_binding(binding)
    if not 0 <= counter < 1 << (8 * COUNTER_SIZE):
        raise PowError("counter out of range")
    digest = hashlib.sha256(raw + binding + counter.to_bytes(COUNTER_SIZE, "big")).digest()
    if digest >= _threshold(bits):
        raise PowError("not enough work for this upload")


def redemption(token: str) -> Redemption:
    """What to store, after `verify`, to refuse this token a second time.

    Raises `PowError` for a malformed token.
    """
    _, expires, nonce = _fields(_decode(token))
    return Redemption(nonce_hash=hashlib.sha256(nonce).digest(), expires=expires)
