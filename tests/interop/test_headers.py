"""One payload, one header per recipient (DESIGN.md section 3), opened by the peers.

`header ‖ payload` must be a complete age file for every header `seal` makes, for every
header `rewrap` or `make_header` makes later, and the low-level calls must accept files
the peers made. X25519 headers open with age, pyrage and typage; hybrid ones with typage,
the one peer that has the type (age 1.1.1 and pyrage do not).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest

import crypto.age
from tests.interop.peers import Kind, Ours, Peer
from tests.interop.support import MULTI_CHUNK, KeyPair, KeyRing, get_peer, plaintext

X25519_MAKERS = ("age", "pyrage", "ours")


@dataclass(frozen=True)
class Case:
    """A peer that opens headers, and recipients whose keys several implementations made."""

    opener: Peer
    pairs: list[KeyPair]


@pytest.fixture(
    params=[
        ("x25519", "age", X25519_MAKERS),
        ("x25519", "pyrage", X25519_MAKERS),
        ("x25519", "typage", X25519_MAKERS),
        ("pq", "typage", ("typage", "ours")),
    ],
    ids=["x25519-age", "x25519-pyrage", "x25519-typage", "pq-typage"],
)
def case(request: pytest.FixtureRequest, keyring: KeyRing) -> Case:
    kind, opener, makers = request.param
    pairs = [keyring.pair(get_peer(request, maker), kind) for maker in makers]
    return Case(get_peer(request, opener), pairs)


def _seal(data: bytes, recipients: list[str]) -> tuple[crypto.age.Sealed, bytes]:
    payload = io.BytesIO()
    sealed = crypto.age.seal(io.BytesIO(data), payload, recipients)
    return sealed, payload.getvalue()


def test_each_sealed_header_opens_the_shared_payload(case: Case) -> None:
    data = plaintext(MULTI_CHUNK)
    sealed, payload = _seal(data, [p.recipient for p in case.pairs])
    assert set(sealed.headers) == {p.recipient for p in case.pairs}
    for pair in case.pairs:
        header = sealed.headers[pair.recipient]
        assert case.opener.decrypt(header + payload, [pair.identity]) == data


def test_rewrapped_header_opens_the_shared_payload(case: Case) -> None:
    holder, *colleagues = case.pairs
    data = plaintext(MULTI_CHUNK)
    sealed, payload = _seal(data, [holder.recipient])
    header = crypto.age.rewrap(
        sealed.headers[holder.recipient], [holder.identity], [c.recipient for c in colleagues]
    )
    for colleague in colleagues:
        assert case.opener.decrypt(header + payload, [colleague.identity]) == data


def test_made_header_opens_a_separately_sealed_payload(case: Case) -> None:
    data = plaintext(MULTI_CHUNK)
    file_key = crypto.age.new_file_key()
    payload = io.BytesIO()
    crypto.age.seal_payload(io.BytesIO(data), payload, file_key)
    for pair in case.pairs:
        header = crypto.age.make_header(file_key, [pair.recipient])
        assert case.opener.decrypt(header + payload.getvalue(), [pair.identity]) == data


@pytest.mark.parametrize(
    ("kind", "maker"),
    [("x25519", "age"), ("x25519", "pyrage"), ("x25519", "typage"), ("pq", "typage")],
)
def test_a_peers_file_unwraps_rewraps_and_opens_piecewise(
    request: pytest.FixtureRequest, ours: Ours, keyring: KeyRing, kind: Kind, maker: str
) -> None:
    """A file a peer made splits into a header we unwrap and rewrap, and a payload we open."""
    peer = get_peer(request, maker)
    holder, colleague = keyring.pair(peer, kind), keyring.pair(ours, kind)
    data = plaintext(MULTI_CHUNK)
    file = io.BytesIO(peer.encrypt(data, [holder.recipient], armor=False))
    header, payload_head = crypto.age.split_header(file)
    payload = payload_head + file.read()

    file_key = crypto.age.unwrap_file_key(header, [holder.identity])
    opened = io.BytesIO()
    crypto.age.open_payload(io.BytesIO(payload), opened, file_key)
    assert opened.getvalue() == data

    rewrapped = crypto.age.rewrap(header, [holder.identity], [colleague.recipient])
    assert crypto.age.unwrap_file_key(rewrapped, [colleague.identity]) == file_key
    assert peer.decrypt(rewrapped + payload, [colleague.identity]) == data
