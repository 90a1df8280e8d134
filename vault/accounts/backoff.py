"""Exponential back-off for logins, keyed on an HMAC of the username; never a lockout.

The key lives only in this process's memory, so the table reveals no username even in a
core dump's worth of keys, and it is forgotten on restart. Unknown usernames back off
exactly like known ones. Each worker process keeps its own table: with N workers a
guesser gets at most N times the attempts, still exponentially slowed.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict
from typing import Final

#: Failures allowed before any wait: typos should not cost anything.
FREE_FAILURES: Final = 3
MAX_DELAY_SECONDS: Final = 15 * 60
#: Bound on remembered usernames, so a flood of made-up names cannot exhaust memory.
MAX_ENTRIES: Final = 100_000


class Backoff:
    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._state: OrderedDict[bytes, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _slot(self, username: str) -> bytes:
        return hmac.new(self._key, username.casefold().encode("utf-8"), hashlib.sha256).digest()

    def wait_seconds(self, username: str) -> int:
        """Seconds to wait before this username may try again; 0 if it may now."""
        with self._lock:
            _, not_before = self._state.get(self._slot(username), (0, 0.0))
        return max(0, math.ceil(not_before - time.monotonic()))

    def failed(self, username: str) -> None:
        slot = self._slot(username)
        with self._lock:
            failures, _ = self._state.pop(slot, (0, 0.0))
            failures += 1
            delay = 0 if failures < FREE_FAILURES else 2 ** (failures - FREE_FAILURES)
            self._state[slot] = (failures, time.monotonic() + min(delay, MAX_DELAY_SECONDS))
            while len(self._state) > MAX_ENTRIES:
                self._state.popitem(last=False)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._state.pop(self._slot(username), None)
