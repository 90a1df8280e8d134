"""Shared helpers for the age tests: one identity per recipient type, and short readers."""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass

import crypto.age

KINDS = ("pq", "x25519", "scrypt")
PASSPHRASE = "correct horse battery staple"
#: Tests use a tiny scrypt work factor (N = 4) through the keyword argument.
FAST_WORK_FACTOR = 2
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Party:
    """Someone who can be encrypted to and can decrypt: a key pair or a passphrase."""

    kind: str
    identity: str
    recipient: str

    def encrypt(self, data: bytes, *, armor: bool = False) -> bytes:
        dst = io.BytesIO()
        if self.kind == "scrypt":
            crypto.age.encrypt(
                io.BytesIO(data),
                dst,
                passphrase=self.identity,
                armor=armor,
                scrypt_work_factor=FAST_WORK_FACTOR,
            )
        else:
            crypto.age.encrypt(io.BytesIO(data), dst, [self.recipient], armor=armor)
        return dst.getvalue()

    def decrypt_into(self, age_file: bytes, dst: io.BytesIO) -> None:
        if self.kind == "scrypt":
            crypto.age.decrypt(io.BytesIO(age_file), dst, passphrase=self.identity)
        else:
            crypto.age.decrypt(io.BytesIO(age_file), dst, [self.identity])

    def decrypt(self, age_file: bytes) -> bytes:
        dst = io.BytesIO()
        self.decrypt_into(age_file, dst)
        return dst.getvalue()


@functools.cache
def party(kind: str, n: int = 0) -> Party:
    """The ``n``-th test party of ``kind`` ("pq", "x25519" or "scrypt"), made once."""
    if kind == "scrypt":
        return Party(kind, f"{PASSPHRASE} {n}", "")
    identity = crypto.age.generate_identity("pq" if kind == "pq" else "x25519")
    return Party(kind, identity, crypto.age.recipient_of(identity))


class TrickleReader(io.RawIOBase):
    """Returns at most ``step`` bytes per read, like a pipe or a socket."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buf), self._step, len(self._data))
        buf[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


class EndlessReader(io.RawIOBase):
    """A prefix, then ``pattern`` repeated forever; counts the bytes handed out."""

    def __init__(self, prefix: bytes, pattern: bytes) -> None:
        self._pending = prefix
        self._pattern = pattern
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        while len(self._pending) < len(buf):
            self._pending += self._pattern * (len(buf) // len(self._pattern) + 1)
        n = len(buf)
        buf[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self.served += n
        return n
