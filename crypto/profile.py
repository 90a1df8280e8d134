"""Work factors for every key-stretching function in the vault, as one named profile.

Two profiles exist. `PRODUCTION` is what every real deployment runs. The test profile makes
the suite fast by weakening scrypt, Argon2id and proof of work; it can only be obtained by
passing an explicit flag, and `tvault serve` refuses it outside `--dev`, so a misconfigured
environment variable can never silently weaken a production vault.

This module never reads the environment (STYLE.md principle 8): callers decide.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.errors import CryptoError

PRODUCTION_NAME = "production"
TEST_NAME = "test"


class WeakProfileError(CryptoError):
    """A weak, test-only profile was requested without the explicit test flag."""


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """Argon2id cost parameters (RFC 9106 section 3.1)."""

    time_cost: int
    memory_kib: int
    parallelism: int


@dataclass(frozen=True, slots=True)
class KdfProfile:
    """The work factors one vault uses.

    `scrypt_log_n` is the age scrypt work factor for identity files; `password` stretches
    staff passwords; `codename` stretches source codenames; `pow_bits` is the proof-of-work
    difficulty of anonymous submissions.
    """

    name: str
    scrypt_log_n: int
    password: Argon2Params
    codename: Argon2Params
    pow_bits: int

    @property
    def is_test(self) -> bool:
        return self.name != PRODUCTION_NAME


# RFC 9106 section 4, second recommended option: t=3, p=4, m=64 MiB. The first option
# (2 GiB) would let a handful of parallel logins exhaust a small server, so we take the
# second and bound login concurrency instead (DESIGN.md section 3, "Passwords").
_RFC9106_SECOND = Argon2Params(time_cost=3, memory_kib=64 * 1024, parallelism=4)

PRODUCTION = KdfProfile(
    name=PRODUCTION_NAME,
    # age's own default for passphrase-encrypted files (about one second on a laptop).
    scrypt_log_n=18,
    password=_RFC9106_SECOND,
    # Codenames carry >= 100 bits of entropy, so stretching is defence in depth, not the
    # main barrier; it must still run on a phone in a browser.
    codename=_RFC9106_SECOND,
    pow_bits=20,
)

_TEST = KdfProfile(
    name=TEST_NAME,
    scrypt_log_n=2,
    password=Argon2Params(time_cost=1, memory_kib=8, parallelism=1),
    codename=Argon2Params(time_cost=1, memory_kib=8, parallelism=1),
    pow_bits=2,
)


def weak_test_profile(*, insecure_test_only: bool) -> KdfProfile:
    """Return the weak test profile.

    Raises `WeakProfileError` unless `insecure_test_only` is True: the flag must be spelled
    out at the call site so a weak profile never arrives by accident.
    """
    if insecure_test_only is not True:
        raise WeakProfileError("the test KDF profile needs the explicit test flag")
    return _TEST


def profile_named(name: str, *, allow_test: bool) -> KdfProfile:
    """Look a profile up by name, refusing the test profile unless `allow_test`.

    Raises `WeakProfileError` for the test profile without `allow_test`, and `CryptoError`
    for an unknown name.
    """
    if name == PRODUCTION_NAME:
        return PRODUCTION
    if name == TEST_NAME:
        if not allow_test:
            raise WeakProfileError(
                "the test KDF profile is weak and only allowed in development (--dev)"
            )
        return weak_test_profile(insecure_test_only=True)
    raise CryptoError(f"unknown KDF profile {name!r}")
