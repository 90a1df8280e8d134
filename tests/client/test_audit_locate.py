"""Locating where served entries depart from the signed tree (client.locate):
each tampering is named for what it did, at the index where it did it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from client.locate import locate
from crypto.checkpoint import Checkpoint
from crypto.merkle.memory import MemoryTree
from crypto.merkle.rfc6962 import hash_leaf

SIGNED = [b'{"n":%d}' % n for n in range(37)]
TREE = MemoryTree(hash_leaf(entry) for entry in SIGNED)
CHECKPOINT = Checkpoint("testimony-vault/locate0000000000", len(SIGNED), TREE.root())


def _edited(entries: list[bytes], at: int) -> list[bytes]:
    return [*entries[:at], b'{"n":"edited"}', *entries[at + 1 :]]


def _deleted(entries: list[bytes], at: int) -> list[bytes]:
    return [*entries[:at], *entries[at + 1 :]]


def _swapped(entries: list[bytes], at: int) -> list[bytes]:
    return [*entries[:at], entries[at + 1], entries[at], *entries[at + 2 :]]


def _inserted(entries: list[bytes], at: int) -> list[bytes]:
    # The newest entry is dropped so that the count still matches the checkpoint.
    return [*entries[:at], b'{"n":"inserted"}', *entries[at:-1]]


def _moved(entries: list[bytes], at: int) -> list[bytes]:
    return [
        *entries[:at],
        entries[at + 5],
        *entries[at + 1 : at + 5],
        entries[at],
        *entries[at + 6 :],
    ]


TAMPERING: dict[str, tuple[Callable[[list[bytes], int], list[bytes]], str]] = {
    "entry-edited": (_edited, "the entry at index {at} was edited"),
    "entry-deleted": (_deleted, "the entry at index {at} was deleted"),
    "entries-swapped": (_swapped, "entries {at} and {next} were swapped (reordered)"),
    "entry-inserted": (_inserted, "an entry was inserted at index {at}"),
    "entry-moved": (_moved, "the entry signed at index {at} is now at index {far}"),
}


def _locate(entries: list[bytes]) -> str:
    return locate(
        [hash_leaf(entry) for entry in entries],
        CHECKPOINT,
        consistency=lambda k: TREE.consistency_proof(size1=k),
        inclusion=lambda i: TREE.inclusion_proof(index=i),
    )


@pytest.mark.parametrize("at", [0, 1, 16, 30])
@pytest.mark.parametrize("case", TAMPERING)
def test_each_tampering_is_located_and_named(case: str, at: int) -> None:
    tamper, found = TAMPERING[case]
    said = _locate(tamper(SIGNED, at))
    assert found.format(at=at, next=at + 1, far=at + 5) in said


def test_entries_missing_at_the_end_are_named() -> None:
    assert _locate(SIGNED[:30]) == "entries from index 30 on are missing (deleted)"


def test_a_lying_proof_blurs_the_diagnosis_but_never_raises() -> None:
    said = locate(
        [hash_leaf(entry) for entry in _edited(SIGNED, 9)],
        CHECKPOINT,
        consistency=lambda k: [],
        inclusion=lambda i: [],
    )
    assert "index" in said
