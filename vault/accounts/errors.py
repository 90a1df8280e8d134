"""The two account failures that `vault.errors` has no class for."""

from __future__ import annotations

from vault.errors import VaultError


class Unauthenticated(VaultError):  # noqa: N818 - the domain word reads better
    """Wrong credentials, or no valid session. Says nothing about which part was wrong."""

    summary = "authentication failed"


class SlowDown(VaultError):  # noqa: N818
    """Too many recent failed logins for this username: retry after `retry_after` seconds.

    Back-off instead of lockout (DESIGN.md section 2), so a guesser cannot lock a
    caseworker out of their account.
    """

    summary = "too many failed attempts; wait before trying again"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} seconds")
        self.retry_after = retry_after
