"""The scrypt recipient with the age command (through a pseudo-terminal), pyrage and typage.

age and pyrage always encrypt at work factor 18 (about a second each), so their direction
runs once per format; ours and typage encrypt at a low work factor and cover more sizes.
"""

from __future__ import annotations

import pytest

from crypto.errors import CryptoError
from tests.interop.peers import Ours, Peer, PeerError
from tests.interop.support import CHUNK, MULTI_CHUNK, plaintext

PASSPHRASE = "correct horse battery staple, 증언"
FORMATS = pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
PEERS = ["age", "pyrage", "typage"]


@FORMATS
@pytest.mark.parametrize("size", [0, CHUNK, MULTI_CHUNK])
@pytest.mark.parametrize("peer", PEERS, indirect=True)
def test_ours_encrypts_peer_decrypts(ours: Ours, peer: Peer, size: int, armor: bool) -> None:
    data = plaintext(size)
    sealed = ours.encrypt_passphrase(data, PASSPHRASE, armor=armor)
    assert peer.decrypt_passphrase(sealed, PASSPHRASE) == data


@FORMATS
@pytest.mark.parametrize("peer", PEERS, indirect=True)
def test_peer_encrypts_ours_decrypts(ours: Ours, peer: Peer, armor: bool) -> None:
    data = plaintext(MULTI_CHUNK)
    sealed = peer.encrypt_passphrase(data, PASSPHRASE, armor=armor)
    assert ours.decrypt_passphrase(sealed, PASSPHRASE) == data


@pytest.mark.parametrize("peer", ["age", "pyrage"], indirect=True)
def test_peer_refuses_a_wrong_passphrase(ours: Ours, peer: Peer) -> None:
    sealed = ours.encrypt_passphrase(plaintext(1), PASSPHRASE, armor=False)
    with pytest.raises(PeerError):
        peer.decrypt_passphrase(sealed, PASSPHRASE + "!")


@pytest.mark.parametrize("peer", ["typage"], indirect=True)
def test_ours_refuses_a_wrong_passphrase(ours: Ours, peer: Peer) -> None:
    sealed = peer.encrypt_passphrase(plaintext(1), PASSPHRASE, armor=False)
    with pytest.raises(CryptoError):
        ours.decrypt_passphrase(sealed, PASSPHRASE + "!")
