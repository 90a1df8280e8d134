"""The test KDF profile is only reachable through an explicit flag."""

import pytest

from crypto.profile import (
    PRODUCTION,
    WeakProfileError,
    profile_named,
    weak_test_profile,
)


def test_production_meets_rfc9106_second_recommendation() -> None:
    p = PRODUCTION.password
    assert p.time_cost >= 3
    assert p.memory_kib >= 64 * 1024
    assert PRODUCTION.scrypt_log_n >= 18
    assert not PRODUCTION.is_test


@pytest.mark.parametrize("flag", [False, 0, 1, "yes", None])
def test_weak_profile_refused_without_literal_true_flag(flag: object) -> None:
    with pytest.raises(WeakProfileError):
        weak_test_profile(insecure_test_only=flag)  # type: ignore[arg-type]


def test_weak_profile_with_flag() -> None:
    assert weak_test_profile(insecure_test_only=True).is_test


def test_profile_by_name_refuses_test_outside_dev() -> None:
    assert profile_named("production", allow_test=False) is PRODUCTION
    with pytest.raises(WeakProfileError, match="--dev"):
        profile_named("test", allow_test=False)
    assert profile_named("test", allow_test=True).is_test


def test_unknown_profile_name() -> None:
    from crypto.errors import CryptoError

    with pytest.raises(CryptoError):
        profile_named("fast", allow_test=True)
