"""Codenames: pinned BIP-39 lists, a check word that catches every slip, and v1 keys.

The word lists come from the ``mnemonic`` package, as the client's do. It is a test
dependency: without it this module fails to import, loudly, rather than skipping.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import math
import random
import unicodedata
from typing import Literal

import pytest
from argon2.low_level import Type, hash_secret_raw

from crypto import age
from crypto.age import bech32
from crypto.codename import (
    Codename,
    CodenameError,
    Language,
    Wordlist,
    derive,
    generate,
    lookup_hash,
    parse,
    verify_followup,
)
from crypto.codename.checksum import check_word, is_valid, times_x
from crypto.codename.derive import V1_ARGON2
from crypto.errors import CryptoError, ProofError
from crypto.profile import PRODUCTION, Argon2Params, KdfProfile, weak_test_profile

try:
    from mnemonic import Mnemonic
except ModuleNotFoundError as missing:  # pragma: no cover - a broken environment
    raise ImportError(
        "tests/crypto/test_codename.py needs the `mnemonic` package (the maintained BIP-39 "
        "word lists): add it to pyproject.toml"
    ) from missing

EN = Wordlist("en", Mnemonic("english").wordlist)
KO = Wordlist("ko", Mnemonic("korean").wordlist)
LISTS = (EN, KO)
WEAK = weak_test_profile(insecure_test_only=True)
FINGERPRINT = b"MFRG-GZDF-MZTW-Q2LK-NNWG-23TP-OBYX-E4ZT"
OTHER_FINGERPRINT = b"MFRG-GZDF-MZTW-Q2LK-NNWG-23TP-OBYX-E4ZU"

# A fixed codename: ten entropy words, then the check word 1813.
ENTROPY = [0, 2047, 1, 1024, 777, 42, 1999, 314, 1592, 653]
KNOWN_EN = "abandon zoo ability length gentle aim wheat chef shove faculty tired"
KNOWN_KO = "가격 힘껏 가끔 실컷 살짝 강북 화면 냉방 중년 보름 통계"

# Computed once with derive() at the weak test profile and pinned: they must never change,
# or returning sources lose their replies. The pq recipient is long, so its SHA-256.
KNOWN_LOOKUP = "b36c98fdb23b61b8fd0bb94bbceb015f9dd79ba672470ed07f08a6941a5a655e"
KNOWN_FOLLOWUP = "a35070b8d6e80aed759a6ebcad7032b78975da9db1e6d38da905759e80c071e9"
KNOWN_RESUME = "6ac6e1155c5def97854fdec430d5321955e3eb567ad56dd2512ae5f2e4518b9f"
KNOWN_PQ_IDENTITY = "AGE-SECRET-KEY-PQ-180SR68M8VL4NJ5VG9XUKTGL2FSJM97U5PH5YULJFYDR42070GNEQYE3G8T"
KNOWN_PQ_RECIPIENT_SHA256 = "e14f27773557e8c6cf1d68604882b1ca84acee968dd1c46200e8cd3f761cd98b"
KNOWN_X25519_IDENTITY = "AGE-SECRET-KEY-1362WKZGCNXK76T3JXZ7F3GHQA6YGPVLFRA0Q0JPVN0YSY9DZVLMSCYHV7X"
KNOWN_X25519_RECIPIENT = "age1cxgkxakgutvc6ylglleruv6uca39xzyz9g35k9hszzcggn782ypq9qp63y"
# The same codename at the production profile (one real Argon2id run, about 0.5 s).
KNOWN_PRODUCTION_LOOKUP = "cb9aac5bb83b9cda96b0f0fddf63697a12e8d02cb67291e892e49362d3566948"


def _known() -> Codename:
    return Codename([*ENTROPY, 1813], EN)


def _hkdf_reference(master: bytes, info: bytes) -> bytes:
    """RFC 5869 with an empty salt and one output block, spelled out with hmac."""
    prk = hmac.digest(bytes(32), master, "sha256")
    return hmac.digest(prk, info + b"\x01", "sha256")


# --- word lists ---------------------------------------------------------------------------


def test_the_korean_list_ships_decomposed_and_is_normalised() -> None:
    raw = Mnemonic("korean").wordlist
    assert not unicodedata.is_normalized("NFC", raw[0])
    assert all(unicodedata.is_normalized("NFC", word) for word in KO.words)


@pytest.mark.parametrize("attack", ["changed-word", "swapped-words", "truncated", "wrong-lang"])
def test_a_list_other_than_the_pinned_one_is_refused(attack: str) -> None:
    words = list(Mnemonic("english").wordlist)
    lang: Language = "en"
    if attack == "changed-word":
        words[5] = "absurdly"
    elif attack == "swapped-words":
        words[1], words[2] = words[2], words[1]
    elif attack == "truncated":
        words = words[:-1]
    else:
        lang = "ko"
    with pytest.raises(CodenameError, match="pinned"):
        Wordlist(lang, words)


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(CodenameError):
        Wordlist("ja", Mnemonic("japanese").wordlist)  # type: ignore[arg-type]


# --- entropy ------------------------------------------------------------------------------


@pytest.mark.parametrize("wordlist", LISTS, ids=["en", "ko"])
def test_a_codename_carries_at_least_100_bits(wordlist: Wordlist) -> None:
    codename = generate(wordlist)
    random_words = len(codename.indices) - 1
    bits = random_words * math.log2(len(set(wordlist.words)))
    assert bits == codename.entropy_bits == 110 >= 100


def test_fewer_than_100_bits_is_refused() -> None:
    with pytest.raises(CodenameError):
        generate(EN, words=9)
    with pytest.raises(CodenameError):
        generate(EN, words=25)
    assert generate(EN, words=24).entropy_bits == 264


def test_codenames_are_fresh() -> None:
    assert len({generate(EN) for _ in range(50)}) == 50


# --- the check word -----------------------------------------------------------------------


def _gf_mul(a: int, b: int) -> int:
    """Naive GF(2^11) multiplication: schoolbook carry-less product, then reduction."""
    product = 0
    for bit in range(11):
        if b >> bit & 1:
            product ^= a << bit
    for bit in range(21, 10, -1):
        if product >> bit & 1:
            product ^= 0x805 << (bit - 11)
    return product


def test_x_is_primitive_so_weights_never_repeat() -> None:
    element, order = times_x(1), 1
    while element != 1:
        element, order = times_x(element), order + 1
    assert order == 2047


def test_check_word_matches_a_naive_weighted_sum() -> None:
    rng = random.Random(5)
    for _ in range(200):
        words = [rng.randrange(2048) for _ in range(rng.randrange(10, 25))]
        expected, weight = 0, 1
        for word in words:
            weight = _gf_mul(weight, 2)
            expected ^= _gf_mul(weight, word)
        assert check_word(words) == expected


@pytest.mark.parametrize("seed", range(3))
def test_every_single_word_substitution_is_caught(seed: int) -> None:
    rng = random.Random(seed)
    entropy = [rng.randrange(2048) for _ in range(10)]
    codename = [*entropy, check_word(entropy)]
    assert is_valid(codename)
    for position in range(len(codename)):
        for replacement in range(2048):
            if replacement != codename[position]:
                altered = list(codename)
                altered[position] = replacement
                assert not is_valid(altered), (position, replacement)


@pytest.mark.parametrize("seed", range(20))
def test_every_transposition_is_caught(seed: int) -> None:
    rng = random.Random(seed)
    entropy = [rng.randrange(2048) for _ in range(10)]
    codename = [*entropy, check_word(entropy)]
    for i in range(len(codename)):
        for j in range(i + 1, len(codename)):
            if codename[i] != codename[j]:
                swapped = list(codename)
                swapped[i], swapped[j] = swapped[j], swapped[i]
                assert not is_valid(swapped), (i, j)


# --- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize("wordlist", LISTS, ids=["en", "ko"])
def test_parse_round_trips(wordlist: Wordlist) -> None:
    for _ in range(20):
        codename = generate(wordlist)
        parsed = parse(str(codename), LISTS)
        assert parsed == codename
        assert parsed.lang == wordlist.lang
        assert str(parsed) == str(codename)
        assert parse(str(codename), LISTS, lang=wordlist.lang) == codename


def test_known_codename_spelled_in_both_languages() -> None:
    assert str(_known()) == KNOWN_EN
    assert str(Codename(_known().indices, KO)) == KNOWN_KO
    assert parse(KNOWN_KO, LISTS) == parse(KNOWN_EN, LISTS) == _known()


@pytest.mark.parametrize(
    "typed",
    [
        "  ABANDON   zoo\tAbility\nlength gentle aim wheat chef shove faculty tired  ",
        "abandon-zoo-ability-length-gentle-aim-wheat-chef-shove-faculty-tired",
        "abandon, zoo, ability, length, gentle, aim, wheat, chef, shove, faculty, tired.",
        # Full-width "abandon", then an ideographic space, as East Asian keyboards type.
        "\uff41\uff42\uff41\uff4e\uff44\uff4f\uff4e\u3000"
        "zoo ability length gentle aim wheat chef shove faculty tired",
    ],
    ids=["case-and-whitespace", "hyphens", "commas", "full-width-and-ideographic-space"],
)
def test_parse_tolerates_how_people_type(typed: str) -> None:
    assert parse(typed, LISTS) == _known()


def test_nfc_and_nfd_korean_give_the_same_codename_and_keys() -> None:
    nfc = parse(unicodedata.normalize("NFC", KNOWN_KO), LISTS)
    nfd = parse(unicodedata.normalize("NFD", KNOWN_KO), LISTS)
    assert nfc == nfd
    a = derive(nfc, org_fingerprint=FINGERPRINT, kind="x25519", profile=WEAK)
    b = derive(nfd, org_fingerprint=FINGERPRINT, kind="x25519", profile=WEAK)
    assert a.lookup_secret == b.lookup_secret
    assert a.reply_identity == b.reply_identity


@pytest.mark.parametrize(
    ("typed", "position", "suggestions"),
    [
        (KNOWN_EN.replace("ability", "abilty"), 3, ("ability",)),
        (KNOWN_EN.replace("faculty", "facluty"), 10, ("faculty",)),
        # "whaet" is one edit from "wheat" (swap) and from "what" (delete): both offered.
        (KNOWN_EN.replace("wheat", "whaet"), 7, ("what", "wheat")),
        (KNOWN_EN.replace("tired", "xqzvjk"), 11, ()),
        # One letter (jamo) off in a Korean syllable: 실컷 typed as 실컹, one jamo from
        # 실정 as well; a whole syllable away from everything else.
        (KNOWN_KO.replace("실컷", "실컹"), 4, ("실정", "실컷")),
        (KNOWN_KO.replace("중년", "중넌"), 9, ("중년",)),
    ],
    ids=[
        "dropped-letter",
        "swapped-letters",
        "ambiguous-typo",
        "nothing-close",
        "korean-jamo-typo-ambiguous",
        "korean-vowel-typo",
    ],
)
def test_an_unknown_word_is_named_with_suggestions(
    typed: str, position: int, suggestions: tuple[str, ...]
) -> None:
    with pytest.raises(CodenameError) as caught:
        parse(typed, LISTS)
    assert caught.value.position == position
    assert caught.value.suggestions == suggestions
    assert f"word {position} " in str(caught.value)


def test_error_messages_never_hold_a_codename_word() -> None:
    with pytest.raises(CodenameError) as caught:
        parse(KNOWN_EN.replace("ability", "abilty"), LISTS)
    text = str(caught.value) + caught.value.diagnostics() + repr(caught.value)
    for word in [*KNOWN_EN.split(), "abilty"]:
        assert word not in text


def test_a_substituted_valid_word_fails_the_check() -> None:
    with pytest.raises(CodenameError, match="check word"):
        parse(KNOWN_EN.replace("wheat", "whale"), LISTS)


def test_two_swapped_words_fail_the_check() -> None:
    words = KNOWN_EN.split()
    words[3], words[4] = words[4], words[3]
    with pytest.raises(CodenameError, match="check word"):
        parse(" ".join(words), LISTS)


def test_a_missing_word_is_refused_by_count() -> None:
    with pytest.raises(CodenameError, match="not 10"):
        parse(KNOWN_EN.rsplit(" ", 1)[0], LISTS)


def test_a_korean_word_in_an_english_codename_is_named() -> None:
    words = KNOWN_EN.split()
    words[1] = "힘껏"
    with pytest.raises(CodenameError) as caught:
        parse(" ".join(words), LISTS)
    assert caught.value.position == 2


def test_a_language_restriction_is_honoured() -> None:
    with pytest.raises(CodenameError, match="Korean word list"):
        parse(KNOWN_EN, LISTS, lang="ko")
    with pytest.raises(CodenameError):
        parse(KNOWN_EN, [KO], lang="en")


def test_a_codename_never_shows_its_words_in_repr() -> None:
    assert "abandon" not in repr(_known())
    keys = derive(_known(), org_fingerprint=FINGERPRINT, kind="x25519", profile=WEAK)
    assert KNOWN_LOOKUP not in repr(keys)
    assert KNOWN_X25519_IDENTITY not in repr(keys)


def test_a_codename_with_a_bad_check_cannot_be_built() -> None:
    with pytest.raises(CodenameError):
        Codename([*ENTROPY, 1812], EN)
    with pytest.raises(CodenameError):
        Codename([*ENTROPY[:-1], 2048, 0], EN)


# --- derivation ---------------------------------------------------------------------------


def test_known_answer_pq() -> None:
    keys = derive(_known(), org_fingerprint=FINGERPRINT, kind="pq", profile=WEAK)
    assert keys.reply_identity == KNOWN_PQ_IDENTITY
    assert hashlib.sha256(keys.reply_recipient.encode()).hexdigest() == KNOWN_PQ_RECIPIENT_SHA256
    assert keys.reply_recipient == age.recipient_of(KNOWN_PQ_IDENTITY)
    assert keys.lookup_secret.hex() == KNOWN_LOOKUP
    assert keys.followup_key.hex() == KNOWN_FOLLOWUP
    assert keys.resume_key.hex() == KNOWN_RESUME
    assert keys.version == "v1"


def test_known_answer_x25519() -> None:
    keys = derive(_known(), org_fingerprint=FINGERPRINT, kind="x25519", profile=WEAK)
    assert keys.reply_identity == KNOWN_X25519_IDENTITY
    assert keys.reply_recipient == KNOWN_X25519_RECIPIENT
    # The recipient type changes only the reply identity.
    assert keys.lookup_secret.hex() == KNOWN_LOOKUP


def test_known_answer_at_production_cost() -> None:
    keys = derive(_known(), org_fingerprint=FINGERPRINT, kind="pq", profile=PRODUCTION)
    assert keys.lookup_secret.hex() == KNOWN_PRODUCTION_LOOKUP


def test_derivation_follows_the_documented_layout() -> None:
    """Argon2id over 2-byte big-endian indices, salted with the label and fingerprint."""
    secret = b"".join(i.to_bytes(2, "big") for i in _known().indices)
    master = hash_secret_raw(
        secret=secret,
        salt=b"tvault/codename/v1" + FINGERPRINT,
        time_cost=1,
        memory_cost=8,
        parallelism=1,
        hash_len=32,
        type=Type.ID,
    )
    scalar = _hkdf_reference(master, b"tvault/codename/v1/reply-identity/X25519")
    assert _hkdf_reference(master, b"tvault/codename/v1/lookup").hex() == KNOWN_LOOKUP
    assert _hkdf_reference(master, b"tvault/codename/v1/followup-mac").hex() == KNOWN_FOLLOWUP
    assert _hkdf_reference(master, b"tvault/codename/v1/resume-state").hex() == KNOWN_RESUME
    keys = derive(_known(), org_fingerprint=FINGERPRINT, kind="x25519", profile=WEAK)
    assert keys.reply_identity == bech32.encode("AGE-SECRET-KEY-", scalar).upper()


def test_the_spelling_never_changes_the_keys() -> None:
    english = derive(parse(KNOWN_EN, LISTS), org_fingerprint=FINGERPRINT, kind="pq", profile=WEAK)
    korean = derive(parse(KNOWN_KO, LISTS), org_fingerprint=FINGERPRINT, kind="pq", profile=WEAK)
    assert english.reply_identity == korean.reply_identity
    assert english.lookup_secret == korean.lookup_secret


def test_another_org_gives_other_keys() -> None:
    ours = derive(_known(), org_fingerprint=FINGERPRINT, kind="pq", profile=WEAK)
    theirs = derive(_known(), org_fingerprint=OTHER_FINGERPRINT, kind="pq", profile=WEAK)
    for name in ("reply_identity", "lookup_secret", "followup_key", "resume_key"):
        assert getattr(ours, name) != getattr(theirs, name), name


def test_another_codename_gives_other_keys() -> None:
    a = derive(generate(EN), org_fingerprint=FINGERPRINT, kind="pq", profile=WEAK)
    b = derive(generate(EN), org_fingerprint=FINGERPRINT, kind="pq", profile=WEAK)
    assert a.lookup_secret != b.lookup_secret
    assert a.reply_identity != b.reply_identity


def test_each_key_is_separate() -> None:
    keys = derive(_known(), org_fingerprint=FINGERPRINT, kind="x25519", profile=WEAK)
    scalar = bech32.decode_as(keys.reply_identity, "AGE-SECRET-KEY-")
    secrets = {scalar, keys.lookup_secret, keys.followup_key, keys.resume_key}
    assert len(secrets) == 4
    assert keys.lookup_hash() not in secrets


@pytest.mark.parametrize("kind", ["pq", "x25519"])
def test_the_reply_identity_opens_what_is_sealed_to_its_recipient(
    kind: Literal["pq", "x25519"],
) -> None:
    keys = derive(generate(KO), org_fingerprint=FINGERPRINT, kind=kind, profile=WEAK)
    assert age.recipient_of(keys.reply_identity) == keys.reply_recipient
    sealed, opened = io.BytesIO(), io.BytesIO()
    age.encrypt(io.BytesIO("답장".encode()), sealed, [keys.reply_recipient])
    sealed.seek(0)
    age.decrypt(sealed, opened, [keys.reply_identity])
    assert opened.getvalue() == "답장".encode()


def test_lookup_hash_is_what_the_server_stores() -> None:
    keys = derive(_known(), org_fingerprint=FINGERPRINT, kind="pq", profile=WEAK)
    assert keys.lookup_hash() == lookup_hash(keys.lookup_secret)
    assert keys.lookup_hash() == hashlib.sha256(bytes.fromhex(KNOWN_LOOKUP)).digest()


def test_a_followup_verifies_with_the_check_from_the_report() -> None:
    keys = derive(_known(), org_fingerprint=FINGERPRINT, kind="pq", profile=WEAK)
    message = b'{"record":"r1","seq":2,"text":"..."}'
    mac = keys.followup_mac(message)
    verify_followup(check=keys.followup_check, message=message, mac=mac)
    with pytest.raises(ProofError):
        verify_followup(check=keys.followup_check, message=message + b" ", mac=mac)
    other = derive(generate(EN), org_fingerprint=FINGERPRINT, kind="pq", profile=WEAK)
    with pytest.raises(ProofError):
        verify_followup(check=keys.followup_check, message=message, mac=other.followup_mac(message))


def test_production_costs_other_than_v1_are_refused() -> None:
    assert PRODUCTION.codename == V1_ARGON2
    tuned = KdfProfile(
        name="production",
        scrypt_log_n=PRODUCTION.scrypt_log_n,
        password=PRODUCTION.password,
        codename=Argon2Params(time_cost=4, memory_kib=64 * 1024, parallelism=4),
        pow_bits=PRODUCTION.pow_bits,
    )
    with pytest.raises(CodenameError, match="fixed Argon2id costs"):
        derive(_known(), org_fingerprint=FINGERPRINT, kind="pq", profile=tuned)


def test_derive_refuses_bad_arguments() -> None:
    with pytest.raises(CodenameError):
        derive(_known(), org_fingerprint=b"", kind="pq", profile=WEAK)
    with pytest.raises(CodenameError):
        derive(_known(), org_fingerprint=FINGERPRINT, kind="scrypt", profile=WEAK)  # type: ignore[arg-type]


def test_codename_errors_are_crypto_errors() -> None:
    assert issubclass(CodenameError, CryptoError)
