"""Plaintexts, sizes and cached key pairs shared by the interoperability tests."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from crypto.age.stream import SEGMENT_CHUNKS
from tests.interop.peers import Kind, Peer

CHUNK = 64 * 1024
# crypto.age reads and writes whole segments of chunks: a seam of its own to cross.
SEGMENT = SEGMENT_CHUNKS * CHUNK
# Empty, one byte, each side of the first chunk boundary, several chunks, each side of
# the first segment boundary, and several segments.
SIZES = (
    0,
    1,
    CHUNK - 1,
    CHUNK,
    CHUNK + 1,
    3 * CHUNK + 1234,
    SEGMENT - 1,
    SEGMENT,
    SEGMENT + 1,
    2 * SEGMENT + CHUNK // 2,
)
MULTI_CHUNK = 3 * CHUNK + 1234
# Low enough that each of our scrypt encryptions costs milliseconds; every peer accepts it.
LOW_SCRYPT_WORK_FACTOR = 10


def plaintext(size: int) -> bytes:
    """Deterministic, incompressible bytes: a failure reproduces exactly."""
    return random.Random(size).randbytes(size)


@dataclass(frozen=True, slots=True)
class KeyPair:
    identity: str
    recipient: str


class KeyRing:
    """One key pair per (maker, kind), made by that implementation and cached for the session.

    Key generation costs a Node start for typage; making each pair once keeps the suite fast.
    """

    def __init__(self) -> None:
        self._pairs: dict[tuple[str, Kind, int], KeyPair] = {}

    def pair(self, maker: Peer, kind: Kind, index: int = 0) -> KeyPair:
        key = (maker.name, kind, index)
        if key not in self._pairs:
            identity = maker.generate_identity(kind)
            self._pairs[key] = KeyPair(identity, maker.recipient_of(identity))
        return self._pairs[key]


PEER_FIXTURES = {"age": "age_cli", "pyrage": "pyrage_peer", "typage": "typage", "ours": "ours"}


def get_peer(request: pytest.FixtureRequest, name: str) -> Peer:
    """The session fixture of the peer called `name`; it fails when that peer is missing."""
    found: Peer = request.getfixturevalue(PEER_FIXTURES[name])
    return found
