"""Org key rotation statements and the chains clients follow (`crypto.rotation`).

Cases are named after the attack they model: a forged statement, one signed by another
key than the one it replaces, a new key that never signed, a chain with a gap, a chain
that stops short, one that loops back.
"""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from crypto import note, rotation
from crypto.roster import ORG_KEY_NAME, fingerprint

DAY = date(2026, 1, 1)


def _keys(count: int) -> list[note.Signer]:
    return [note.Signer.generate(ORG_KEY_NAME) for _ in range(count)]


def _chain(keys: list[note.Signer]) -> list[bytes]:
    return [
        rotation.sign_rotation(serial=i + 1, old=old, new=new, issued=DAY)
        for i, (old, new) in enumerate(itertools.pairwise(keys))
    ]


def _pub(signer: note.Signer) -> bytes:
    return signer.verifier.public_key


def test_a_chain_is_followed_from_the_pinned_key_to_the_current_one() -> None:
    keys = _keys(4)
    followed = rotation.follow(_chain(keys), pinned_key=_pub(keys[0]), current_key=_pub(keys[3]))
    assert [r.serial for r in followed] == [1, 2, 3]
    assert [r.new_key for r in followed] == [_pub(k) for k in keys[1:]]


def test_a_client_pinned_midway_follows_only_the_rest() -> None:
    keys = _keys(4)
    followed = rotation.follow(_chain(keys), pinned_key=_pub(keys[2]), current_key=_pub(keys[3]))
    assert [r.serial for r in followed] == [3]


def test_no_rotation_is_needed_for_the_pinned_key() -> None:
    keys = _keys(2)
    assert rotation.follow(_chain(keys), pinned_key=_pub(keys[1]), current_key=_pub(keys[1])) == []


def test_forged_statement_is_refused() -> None:
    old, new = _keys(2)
    signed = rotation.sign_rotation(serial=1, old=old, new=new, issued=DAY)
    forged = signed.replace(b'"serial":1', b'"serial":2')
    with pytest.raises(rotation.RotationError, match="not signed by the org key"):
        rotation.open_rotation(forged, old_public_key=_pub(old))


def test_statement_not_signed_by_the_old_key_is_refused() -> None:
    old, impostor, new = _keys(3)
    # The impostor claims to hand over the pinned key: it signs a statement naming it.
    text = rotation.sign_rotation(serial=1, old=impostor, new=new, issued=DAY)
    with pytest.raises(rotation.RotationError, match="not signed by the org key"):
        rotation.open_rotation(text, old_public_key=_pub(old))
    with pytest.raises(rotation.RotationError, match="no rotation statement hands over"):
        rotation.follow([text], pinned_key=_pub(old), current_key=_pub(new))


def test_statement_naming_another_old_key_is_refused() -> None:
    old, other, new = _keys(3)
    signed = rotation.sign_rotation(serial=1, old=other, new=new, issued=DAY)
    # Signed by the pinned key too, but it announces a handover from another key.
    cosigned = note.add_signatures(note.open_note(signed, [other.verifier]), [old])
    with pytest.raises(rotation.RotationError, match="replaces"):
        rotation.open_rotation(cosigned, old_public_key=_pub(old))


def test_new_key_that_did_not_sign_is_refused() -> None:
    old, new, stranger = _keys(3)
    signed = rotation.sign_rotation(serial=1, old=old, new=new, issued=DAY)
    opened = note.open_note(signed, [old.verifier])
    only_old = note.sign_note(opened.text, [old, stranger])  # no signature by `new`
    with pytest.raises(rotation.RotationError, match="did not sign its own announcement"):
        rotation.open_rotation(only_old, old_public_key=_pub(old))


def test_broken_chain_with_a_gap_is_refused() -> None:
    keys = _keys(3)
    first = rotation.sign_rotation(serial=1, old=keys[0], new=keys[1], issued=DAY)
    skipped = rotation.sign_rotation(serial=3, old=keys[1], new=keys[2], issued=DAY)
    with pytest.raises(rotation.RotationError, match="the chain is broken"):
        rotation.follow([first, skipped], pinned_key=_pub(keys[0]), current_key=_pub(keys[2]))


def test_broken_chain_missing_a_link_is_refused() -> None:
    keys = _keys(4)
    chain = _chain(keys)
    del chain[1]  # keys[1] -> keys[2] is withheld
    with pytest.raises(rotation.RotationError, match="not signed by the org key"):
        rotation.follow(chain, pinned_key=_pub(keys[0]), current_key=_pub(keys[3]))


def test_chain_that_stops_short_of_the_current_key_is_refused() -> None:
    keys = _keys(3)
    with pytest.raises(rotation.RotationError, match=f"ends at {fingerprint(_pub(keys[1]))}"):
        rotation.follow(_chain(keys)[:1], pinned_key=_pub(keys[0]), current_key=_pub(keys[2]))


def test_chain_that_loops_back_to_a_key_it_left_is_refused() -> None:
    a, b, c = _keys(3)
    loop = [
        rotation.sign_rotation(serial=1, old=a, new=b, issued=DAY),
        rotation.sign_rotation(serial=2, old=b, new=a, issued=DAY),
    ]
    with pytest.raises(rotation.RotationError, match="returns to a key"):
        rotation.follow(loop, pinned_key=_pub(a), current_key=_pub(c))


def test_malformed_statements_are_refused() -> None:
    old, new = _keys(2)
    with pytest.raises(rotation.RotationError):
        rotation.open_rotation(b"not a note", old_public_key=_pub(old))
    not_canonical = note.sign_note('{"serial": 1}\n', [old, new])
    with pytest.raises(rotation.RotationError, match="canonical"):
        rotation.open_rotation(not_canonical, old_public_key=_pub(old))
    with pytest.raises(ValueError, match="new key"):
        rotation.sign_rotation(serial=1, old=old, new=old, issued=DAY)
