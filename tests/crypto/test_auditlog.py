"""verify_log on its own, no database: what it accepts, and each refusal saying why."""

from __future__ import annotations

import pytest

from crypto.auditlog import verify_log
from crypto.checkpoint import Checkpoint, sign_checkpoint
from crypto.errors import ProofError
from crypto.merkle.memory import MemoryTree
from crypto.merkle.rfc6962 import hash_leaf
from crypto.note import Signer

ORIGIN = "testimony-vault/replay0000000000"
SIGNER = Signer.generate(ORIGIN)
ENTRIES = [b'{"n":%d}' % n for n in range(40)]
TREE = MemoryTree(hash_leaf(entry) for entry in ENTRIES)


def _signed(size: int, *, signer: Signer = SIGNER, origin: str = ORIGIN) -> bytes:
    return sign_checkpoint(Checkpoint(origin, size, TREE.root(size)), signer)


def _kept(size: int) -> Checkpoint:
    return Checkpoint(ORIGIN, size, TREE.root(size))


def test_a_faithful_log_verifies_for_new_and_returning_auditors() -> None:
    assert verify_log(ENTRIES, _signed(40), origin=ORIGIN, log=SIGNER.verifier) == _kept(40)
    for size in (1, 17, 32, 40):
        verified = verify_log(
            ENTRIES, _signed(40), origin=ORIGIN, log=SIGNER.verifier, previous=_kept(size)
        )
        assert verified == _kept(40)
    assert verify_log([], _signed(0), origin=ORIGIN, log=SIGNER.verifier).tree_size == 0


@pytest.mark.parametrize(
    ("entries", "note", "previous", "found"),
    [
        (ENTRIES, _signed(40, signer=Signer.generate(ORIGIN)), None, "no known key signed"),
        (ENTRIES, _signed(40, origin="testimony-vault/other"), None, "for another log"),
        ([*ENTRIES, b"{}"], _signed(40), None, "more entries than the signed checkpoint"),
        (ENTRIES[:39], _signed(40), None, "entries are missing: the log holds 39"),
        (ENTRIES[:39], _signed(40), _kept(39), "entries are missing"),
        (ENTRIES[::-1], _signed(40), None, "an entry was edited"),
        (ENTRIES, _signed(40), Checkpoint("testimony-vault/other", 3, TREE.root(3)), "another log"),
        (ENTRIES, _signed(40), Checkpoint(ORIGIN, 40, TREE.root(39)), "the log forked"),
        (ENTRIES[:30], _signed(30), _kept(31), "rolled back"),
        ([b"x", *ENTRIES[1:]], _signed(40), _kept(20), "history was rewritten"),
    ],
    ids=[
        "forged-signature",
        "other-origin",
        "entry-appended-beyond-checkpoint",
        "entry-deleted",
        "entry-deleted-after-kept",
        "entries-reordered",
        "kept-checkpoint-of-another-log",
        "fork-at-same-size",
        "rollback",
        "history-rewritten",
    ],
)
def test_each_refusal_says_what_was_found(
    entries: list[bytes], note: bytes, previous: Checkpoint | None, found: str
) -> None:
    with pytest.raises(ProofError, match=found):
        verify_log(entries, note, origin=ORIGIN, log=SIGNER.verifier, previous=previous)
