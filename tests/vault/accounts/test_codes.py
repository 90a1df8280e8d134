"""Random ids: the shape of every record, submission and case id, and no character
favoured anywhere in it."""

from __future__ import annotations

import re

from vault.accounts.codes import ID_CHARS, random_id

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def test_an_id_is_26_base32_characters() -> None:
    assert ID_CHARS == 26
    for _ in range(1000):
        assert re.fullmatch(r"[A-Z2-7]{26}", random_id())


def test_every_character_turns_up_in_every_position() -> None:
    # With 5000 ids, a character absent from a position has odds of (31/32)^5000 < 1e-60:
    # a gap here means a biased mapping, not bad luck.
    ids = [random_id() for _ in range(5000)]
    for position in range(ID_CHARS):
        assert {i[position] for i in ids} == set(ALPHABET)


def test_ids_do_not_repeat() -> None:
    ids = {random_id() for _ in range(10_000)}
    assert len(ids) == 10_000
