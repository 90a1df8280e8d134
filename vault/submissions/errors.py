"""The submission failures that `vault.errors` has no class for.

`api.problems` maps them: `TooLarge` to 413, `PowRefused` to 403 and `OffsetMismatch` to
409 with the offset the server holds (`problem_extensions`), so a client resumes there.
"""

from __future__ import annotations

from typing import Any

from vault.accounts.errors import SlowDown
from vault.errors import Conflict, Forbidden, VaultError


class TooLarge(VaultError):  # noqa: N818 - the domain word reads better
    """A declared size or a chunk goes beyond what the policy or the record allows."""

    summary = "too large"


class PowRefused(Forbidden):
    """The proof of work is malformed, forged, expired, too little, or was spent before."""

    summary = "pow-refused"

    def problem_extensions(self) -> dict[str, Any]:
        return {"reason": "pow-refused"}


class OffsetMismatch(Conflict):
    """A chunk does not start where the record's payload ends so far."""

    def __init__(self, received: int) -> None:
        super().__init__(f"the payload continues at offset {received}")
        self.received = received

    def problem_extensions(self) -> dict[str, Any]:
        return {"received": self.received}


class Busy(SlowDown):
    """An anonymous route had more requests than its rate limit allows just now."""

    summary = "too many requests just now; wait before trying again"
