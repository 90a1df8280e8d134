"""X25519 (age, pyrage, typage) and mlkem768x25519 (typage), both directions.

Every file one side makes, the other opens, binary and armored, at each chunk boundary.
Keys come from either side: an identity one side generated is parsed by the other.
"""

from __future__ import annotations

import pytest

from crypto.errors import CryptoError
from tests.interop.peers import Kind, Ours, Peer, PeerError
from tests.interop.support import CHUNK, MULTI_CHUNK, SIZES, KeyRing, plaintext

PEER_KINDS = [("age", "x25519"), ("pyrage", "x25519"), ("typage", "x25519"), ("typage", "pq")]
CASES = [(peer, kind, size) for peer, kind in PEER_KINDS for size in SIZES]


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize(("peer", "kind", "size"), CASES, indirect=["peer"])
def test_ours_encrypts_peer_decrypts(
    ours: Ours, peer: Peer, keyring: KeyRing, kind: Kind, size: int, armor: bool
) -> None:
    pair = keyring.pair(peer, kind)
    data = plaintext(size)
    assert peer.decrypt(ours.encrypt(data, [pair.recipient], armor=armor), [pair.identity]) == data


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize(("peer", "kind", "size"), CASES, indirect=["peer"])
def test_peer_encrypts_ours_decrypts(
    ours: Ours, peer: Peer, keyring: KeyRing, kind: Kind, size: int, armor: bool
) -> None:
    pair = keyring.pair(ours, kind)
    data = plaintext(size)
    assert ours.decrypt(peer.encrypt(data, [pair.recipient], armor=armor), [pair.identity]) == data


@pytest.mark.parametrize(("peer", "kind"), PEER_KINDS, indirect=["peer"])
def test_both_sides_derive_the_same_recipient(
    ours: Ours, peer: Peer, keyring: KeyRing, kind: Kind
) -> None:
    theirs, mine = keyring.pair(peer, kind), keyring.pair(ours, kind)
    assert ours.recipient_of(theirs.identity) == theirs.recipient
    assert peer.recipient_of(mine.identity) == mine.recipient
    prefix = {"pq": "age1pq1", "x25519": "age1"}[kind]
    assert mine.recipient.startswith(prefix)
    assert theirs.recipient.startswith(prefix)


@pytest.mark.parametrize("maker", ["ours", "peer"])
@pytest.mark.parametrize(("peer", "kind"), PEER_KINDS, indirect=["peer"])
def test_keys_made_by_either_side_work_in_both_directions(
    ours: Ours, peer: Peer, keyring: KeyRing, kind: Kind, maker: str
) -> None:
    pair = keyring.pair(ours if maker == "ours" else peer, kind)
    data = plaintext(MULTI_CHUNK)
    assert peer.decrypt(ours.encrypt(data, [pair.recipient], armor=False), [pair.identity]) == data
    assert ours.decrypt(peer.encrypt(data, [pair.recipient], armor=False), [pair.identity]) == data


@pytest.mark.parametrize(("peer", "kind"), PEER_KINDS, indirect=["peer"])
def test_several_recipients_each_open_alone(
    ours: Ours, peer: Peer, keyring: KeyRing, kind: Kind
) -> None:
    pairs = [keyring.pair(peer, kind), keyring.pair(ours, kind)]
    recipients = [p.recipient for p in pairs]
    data = plaintext(CHUNK + 1)
    from_ours = ours.encrypt(data, recipients, armor=False)
    from_peer = peer.encrypt(data, recipients, armor=False)
    for pair in pairs:
        assert peer.decrypt(from_ours, [pair.identity]) == data
        assert ours.decrypt(from_peer, [pair.identity]) == data


@pytest.mark.parametrize(("peer", "kind"), PEER_KINDS, indirect=["peer"])
def test_a_stranger_opens_neither_way(ours: Ours, peer: Peer, keyring: KeyRing, kind: Kind) -> None:
    intended, stranger = keyring.pair(ours, kind), keyring.pair(peer, kind, index=1)
    data = plaintext(1)
    with pytest.raises(PeerError):
        peer.decrypt(ours.encrypt(data, [intended.recipient], armor=False), [stranger.identity])
    with pytest.raises(CryptoError):
        ours.decrypt(peer.encrypt(data, [intended.recipient], armor=False), [stranger.identity])
