"""Staff passwords: Argon2id with the profile's parameters, at bounded concurrency.

Each Argon2id run holds the profile's memory (64 MiB in production), so at most
`MAX_CONCURRENT` run at once in a process; others wait their turn rather than exhaust
memory (DESIGN.md section 3). `verify_or_dummy` runs a full verification even when there
is no account, so an unknown username takes as long as a wrong password.
"""

from __future__ import annotations

import secrets
import threading
from typing import Final

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from crypto.profile import Argon2Params
from vault.errors import Invalid

MAX_CONCURRENT: Final = 4
MIN_LENGTH: Final = 12
MAX_LENGTH: Final = 1024
#: What `Account.password_hash` holds until enrolment sets a password: no hash matches it.
UNUSABLE: Final = "!"
RULE: Final = (
    f"a password needs at least {MIN_LENGTH} characters (at most {MAX_LENGTH}) "
    "and must not contain the username"
)


def check_rule(password: str, *, username: str) -> None:
    """Raise `Invalid` stating the rule if `password` breaks it."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH or username.casefold() in password.casefold():
        raise Invalid(RULE)


class Passwords:
    """Hashes and verifies passwords; share one per process so the bound holds."""

    def __init__(self, params: Argon2Params) -> None:
        self._hasher = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            type=Type.ID,
        )
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT)
        # A hash of nothing anyone knows, verified against when there is no account.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(32))

    def hash(self, password: str) -> str:
        with self._slots:
            return self._hasher.hash(password)

    def verify_or_dummy(self, stored: str | None, password: str) -> bool:
        """Whether `password` matches `stored`; with no `stored`, do the same work and fail."""
        target = self._dummy if stored is None or stored == UNUSABLE else stored
        with self._slots:
            try:
                matched: bool = self._hasher.verify(target, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                matched = False
        return matched and target is not self._dummy
