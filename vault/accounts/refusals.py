"""Anonymous refusals, counted per interval rather than logged one by one.

DESIGN.md section 4 logs refusals, but "anonymous refusals are counted per interval, not
logged one by one": a caller with no valid session names no one, and one entry per
request would let anyone grow the log at will. `RefusalCounter` keeps the counts of the
current interval in this process's memory, by reason, and appends one
``refusals.counted`` entry per reason when the interval is over (at the first refusal
after it, or at `flush`, which the server's shutdown calls). A crash loses at most one
interval's counts of one worker: they describe noise, not anyone's act.

Refusals of a logged-in account are not counted here; they are logged one by one, with
the account as actor (`Accounts.refuse`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Final

from sqlalchemy.engine import Engine

from vault import audit
from vault.audit import ANONYMOUS, Action, Event
from vault.db import session_scope

INTERVAL_SECONDS: Final = 3600
#: A request without a session token where one is needed.
NO_SESSION: Final = "no-session"
#: A session token that is unknown, malformed, expired or revoked, or whose account is
#: disabled: the server cannot tell a stale token from a guessed one, so neither names
#: anyone.
DEAD_SESSION: Final = "dead-session"
#: A bootstrap code that is wrong, used or expired.
BAD_BOOTSTRAP_CODE: Final = "bad-bootstrap-code"
#: An enrolment code that is wrong, used, expired or not the named user's.
BAD_ENROLMENT_CODE: Final = "bad-enrolment-code"


class RefusalCounter:
    """Thread-safe per-interval counts of anonymous refusals, flushed to the audit log."""

    def __init__(
        self,
        engine: Engine,
        *,
        interval_seconds: float = INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._interval = interval_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._started = clock()

    def count(self, reason: str) -> None:
        """Count one refusal; first log the last interval's counts if it is over."""
        with self._lock:
            due = self._clock() - self._started >= self._interval
            done = self._take() if due else Counter()
            self._counts[reason] += 1
        self._append(done)

    def pending(self) -> dict[str, int]:
        """The current interval's counts, not yet logged."""
        with self._lock:
            return dict(self._counts)

    def flush(self) -> None:
        """Log the counts so far now (at shutdown, or in tests) and start a new interval."""
        with self._lock:
            done = self._take()
        self._append(done)

    def _take(self) -> Counter[str]:
        done, self._counts = self._counts, Counter()
        self._started = self._clock()
        return done

    def _append(self, counts: Counter[str]) -> None:
        if not counts:
            return
        with session_scope(self._engine) as session:
            for reason, count in sorted(counts.items()):
                audit.append(
                    session,
                    Event(
                        action=Action.REFUSALS_COUNTED, actor=ANONYMOUS, reason=reason, count=count
                    ),
                )
