"""Proof of work: stateless tokens, cheap to verify, bound to one upload.

Measured on the development VM (see bench/pow.py for the figures): verify takes a few
microseconds; solving 20 bits takes about a second. Tests never assert timings.
"""

from __future__ import annotations

import base64
import hashlib
import itertools

import pytest

from crypto.errors import CryptoError
from crypto.pow import PowError, issue, redemption, solve, verify
from crypto.profile import PRODUCTION, weak_test_profile

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
BINDING = hashlib.sha256(b"upload 1").digest()
NOW = 1_790_000_000
BITS = weak_test_profile(insecure_test_only=True).pow_bits + 6  # a few dozen tries


def _raw(token: str) -> bytearray:
    return bytearray(base64.urlsafe_b64decode(token + "=="))


def _text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _zero_bits(token: str, binding: bytes, counter: int) -> int:
    digest = hashlib.sha256(bytes(_raw(token)) + binding + counter.to_bytes(8, "big")).digest()
    value = int.from_bytes(digest, "big")
    return 256 - value.bit_length()


def test_solved_token_verifies() -> None:
    token = issue(KEY, bits=BITS, now=NOW)
    counter = solve(token, binding=BINDING)
    verify(KEY, token, binding=BINDING, counter=counter, now=NOW)
    assert _zero_bits(token, BINDING, counter) >= BITS


def test_solve_finds_the_first_solution() -> None:
    """A naive reference: no smaller counter has enough zero bits."""
    token = issue(KEY, bits=BITS, now=NOW)
    counter = solve(token, binding=BINDING)
    assert all(_zero_bits(token, BINDING, c) < BITS for c in range(counter))


def test_production_difficulty_is_the_profiles() -> None:
    token = issue(KEY, bits=PRODUCTION.pow_bits, now=NOW)
    assert _raw(token)[1] == PRODUCTION.pow_bits == 20


def test_tokens_are_fresh_and_url_safe() -> None:
    tokens = {issue(KEY, bits=BITS, now=NOW) for _ in range(20)}
    assert len(tokens) == 20
    for token in tokens:
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_token_from_another_server_key_is_refused() -> None:
    token = issue(OTHER_KEY, bits=BITS, now=NOW)
    counter = solve(token, binding=BINDING)
    with pytest.raises(PowError, match="not issued by this server"):
        verify(KEY, token, binding=BINDING, counter=counter, now=NOW)


@pytest.mark.parametrize(
    ("name", "offset"),
    [("lowered-bits", 1), ("extended-expiry", 5), ("modified-nonce", 20), ("modified-tag", 40)],
)
def test_tampered_token_is_refused(name: str, offset: int) -> None:
    raw = _raw(issue(KEY, bits=BITS, now=NOW))
    raw[offset] = (raw[offset] - 1) % 256 if name == "lowered-bits" else raw[offset] ^ 0x40
    token = _text(bytes(raw))
    counter = solve(token, binding=BINDING)
    with pytest.raises(PowError, match="not issued by this server"):
        verify(KEY, token, binding=BINDING, counter=counter, now=NOW)


def test_expired_token_is_refused() -> None:
    token = issue(KEY, bits=BITS, now=NOW, ttl=600)
    counter = solve(token, binding=BINDING)
    verify(KEY, token, binding=BINDING, counter=counter, now=NOW + 600)
    with pytest.raises(PowError, match="expired"):
        verify(KEY, token, binding=BINDING, counter=counter, now=NOW + 600 + 60)


def test_expiry_is_rounded_up_to_the_minute() -> None:
    token = issue(KEY, bits=BITS, now=NOW + 1, ttl=600)
    assert redemption(token).expires % 60 == 0
    assert NOW + 1 + 600 <= redemption(token).expires < NOW + 1 + 660


def test_work_done_for_another_upload_is_refused() -> None:
    token = issue(KEY, bits=BITS, now=NOW)
    # The first other upload whose solution does not solve this one by chance (1 in 2**BITS).
    for n in itertools.count(2):
        other = hashlib.sha256(b"upload %d" % n).digest()
        counter = solve(token, binding=other)
        if _zero_bits(token, BINDING, counter) < BITS:
            break
    verify(KEY, token, binding=other, counter=counter, now=NOW)
    with pytest.raises(PowError, match="not enough work"):
        verify(KEY, token, binding=BINDING, counter=counter, now=NOW)


def test_insufficient_work_is_refused() -> None:
    token = issue(KEY, bits=BITS, now=NOW)
    counter = next(c for c in range(10_000) if _zero_bits(token, BINDING, c) < BITS)
    with pytest.raises(PowError, match="not enough work"):
        verify(KEY, token, binding=BINDING, counter=counter, now=NOW)


@pytest.mark.parametrize("counter", [-1, 2**64])
def test_counter_out_of_range_is_refused(counter: int) -> None:
    token = issue(KEY, bits=BITS, now=NOW)
    with pytest.raises(PowError, match="counter"):
        verify(KEY, token, binding=BINDING, counter=counter, now=NOW)


@pytest.mark.parametrize(
    ("name", "token"),
    [
        ("empty", ""),
        ("not-base64", "!" * 78),
        ("truncated", None),
        ("padded", None),
        ("stray-character", None),
        ("wrong-version", None),
        ("zero-bits", None),
        ("non-ascii", "토큰"),
    ],
)
def test_malformed_token_is_refused(name: str, token: str | None) -> None:
    good = issue(KEY, bits=BITS, now=NOW)
    if name == "truncated":
        token = good[:-4]
    elif name == "padded":
        token = good + "=="
    elif name == "stray-character":
        token = good[:10] + "." + good[10:]
    elif name in ("wrong-version", "zero-bits"):
        raw = _raw(good)
        raw[0 if name == "wrong-version" else 1] = 2 if name == "wrong-version" else 0
        token = _text(bytes(raw))
    assert token is not None
    with pytest.raises(PowError, match="malformed"):
        verify(KEY, token, binding=BINDING, counter=0, now=NOW)
    with pytest.raises(PowError, match="malformed"):
        solve(token, binding=BINDING)


@pytest.mark.parametrize("binding", [b"", bytes(257)])
def test_binding_size_is_bounded(binding: bytes) -> None:
    token = issue(KEY, bits=BITS, now=NOW)
    with pytest.raises(PowError, match="binding"):
        solve(token, binding=binding)
    with pytest.raises(PowError, match="binding"):
        verify(KEY, token, binding=binding, counter=0, now=NOW)


def test_redemption_names_the_nonce_not_the_solution() -> None:
    """Two solutions of one token redeem the same nonce, so the second is refused."""
    token = issue(KEY, bits=BITS, now=NOW)
    first = redemption(token)
    assert first == redemption(token)
    assert len(first.nonce_hash) == 32
    assert first != redemption(issue(KEY, bits=BITS, now=NOW))


@pytest.mark.parametrize(
    ("key", "bits", "ttl"),
    [(bytes(31), 8, 600), (KEY, 0, 600), (KEY, 41, 600), (KEY, 8, 0)],
)
def test_issue_refuses_bad_parameters(key: bytes, bits: int, ttl: int) -> None:
    with pytest.raises(CryptoError):
        issue(key, bits=bits, now=NOW, ttl=ttl)


def test_verify_refuses_a_short_key() -> None:
    token = issue(KEY, bits=BITS, now=NOW)
    with pytest.raises(CryptoError):
        verify(bytes(16), token, binding=BINDING, counter=0, now=NOW)
