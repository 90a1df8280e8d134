"""Helpers shared by the audit log's tests: events, and the naive view of a stored log."""

from __future__ import annotations

from datetime import date

from sqlalchemy.engine import Engine

from crypto.merkle.memory import MemoryTree
from crypto.merkle.rfc6962 import hash_leaf
from vault.audit import Action, Event, entries, tree_size
from vault.db import session_scope

DAY = date(2026, 1, 1)
ALICE = "acct-alice-0000000001"
BOB = "acct-bob-00000000002"
RECORD = "rec-000000000000000a"


def published(n: int, *, actor: str = ALICE) -> Event:
    """A distinct event for each `n` (roster version n published)."""
    return Event(action=Action.ROSTER_PUBLISHED, actor=actor, day=DAY, version=n)


def fetch(record: str = RECORD, *, actor: str = BOB) -> Event:
    return Event(action=Action.RECORD_FETCHED, actor=actor, day=DAY, record=record, part="header")


def memory_tree(engine: Engine) -> tuple[list[bytes], MemoryTree]:
    """The stored entries, and the tree recomputed from them alone."""
    with session_scope(engine, readonly=True) as session:
        stored = entries(session, start=0, end=tree_size(session))
    return stored, MemoryTree(hash_leaf(entry) for entry in stored)
