"""Proof of work at the anonymous door: the server's key, issuing tokens, redeeming them.

Tokens are `crypto.pow` tokens under a key kept in the data dir (`FILE_NAME`, made like
the TOTP sealing key), so every worker and host accepts the tokens of the others; deploy
it beside the log key. A token is spent by `redeem`, which stores its nonce hash in the
caller's transaction (the one that creates the submission it paid for): a replay, even
one racing on another worker, fails the primary key and rolls the submission back.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from crypto import pow as crypto_pow
from crypto.errors import CryptoError
from vault import keyfile
from vault.errors import ConfigError
from vault.models import PowRedemption
from vault.submissions.errors import PowRefused

FILE_NAME: Final = "pow.key"
KEY_BYTES: Final = 32
SPENT_BEFORE: Final = "the token was used before"


def load_or_create_key(data_dir: Path) -> bytes:
    """The proof-of-work key, made (mode 0600) on first use; `ConfigError` if unsafe."""
    path = data_dir / FILE_NAME
    what = "the proof-of-work key"
    key = keyfile.load_or_create(path, make=lambda: os.urandom(KEY_BYTES), what=what)
    if len(key) != KEY_BYTES:
        raise ConfigError(f"{what} {path} is not a {KEY_BYTES}-byte key; delete it to renew")
    return key


@dataclass(frozen=True, slots=True)
class Spent:
    """A checked token: the `PowRedemption` row that spends it."""

    nonce_hash: bytes
    expires_on: date


class ProofOfWork:
    """Issues tokens asking for `bits` of work and checks their solutions."""

    def __init__(self, key: bytes, *, bits: int, ttl: int = crypto_pow.DEFAULT_TTL) -> None:
        self._key = key
        self.bits = bits
        self._ttl = ttl

    def issue(self, *, now: float | None = None) -> str:
        return crypto_pow.issue(
            self._key, bits=self.bits, now=time.time() if now is None else now, ttl=self._ttl
        )

    def check(self, token: str, *, binding: bytes, counter: int, now: float | None = None) -> Spent:
        """Check the solution, touching no database; what spending the token must store.

        Raises `PowRefused` for a bad, expired or insufficient solution. Whether the token
        was spent before is for the transaction that spends it (`redeem`, or a batch that
        inserts `Spent` rows itself and refuses a nonce seen twice).
        """
        try:
            crypto_pow.verify(
                self._key,
                token,
                binding=binding,
                counter=counter,
                now=time.time() if now is None else now,
            )
            spent = crypto_pow.redemption(token)
        except CryptoError as exc:
            raise PowRefused(str(exc)) from None
        return Spent(spent.nonce_hash, datetime.fromtimestamp(spent.expires, UTC).date())

    def redeem(
        self,
        session: Session,
        token: str,
        *,
        binding: bytes,
        counter: int,
        now: float | None = None,
    ) -> None:
        """Check the solution and spend the token in `session`'s transaction.

        Raises `PowRefused` for a bad, expired or insufficient solution or a spent token.
        """
        spent = self.check(token, binding=binding, counter=counter, now=now)
        if session.get(PowRedemption, spent.nonce_hash) is not None:
            raise PowRefused(SPENT_BEFORE)
        session.add(PowRedemption(nonce_hash=spent.nonce_hash, expires_on=spent.expires_on))
        try:
            session.flush()
        except IntegrityError:  # spent a moment ago on another worker
            raise PowRefused(SPENT_BEFORE) from None
