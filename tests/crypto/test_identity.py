"""Identity files: sealed to a passphrase, loaded back, and readable by stock age tools."""

import io

import pyrage
import pytest

from crypto import age, identity
from crypto.errors import CryptoError, DecryptError
from crypto.identity import IdentityFileError
from crypto.profile import weak_test_profile

PROFILE = weak_test_profile(insecure_test_only=True)
PASSPHRASE = "correct horse battery staple"


def _sealed(ident: identity.DeviceIdentity, passphrase: str = PASSPHRASE) -> bytes:
    buf = io.BytesIO()
    identity.save(ident, buf, passphrase=passphrase, profile=PROFILE)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["pq", "x25519", "none"])
def test_round_trip(kind: str) -> None:
    ident = identity.generate(kind)  # type: ignore[arg-type]
    loaded = identity.load(io.BytesIO(_sealed(ident)), passphrase=PASSPHRASE)
    assert loaded.age_identity == ident.age_identity
    assert loaded.verify_key_bytes == ident.verify_key_bytes


def test_loaded_identity_opens_what_was_sealed_to_it() -> None:
    ident = identity.generate("pq")
    sealed = io.BytesIO()
    age.encrypt(io.BytesIO(b"testimony"), sealed, [ident.recipient])
    loaded = identity.load(io.BytesIO(_sealed(ident)), passphrase=PASSPHRASE)
    out = io.BytesIO()
    age.decrypt(io.BytesIO(sealed.getvalue()), out, [loaded.age_identity or ""])
    assert out.getvalue() == b"testimony"


def test_wrong_passphrase_is_a_decrypt_error() -> None:
    sealed = _sealed(identity.generate("x25519"))
    with pytest.raises(DecryptError):
        identity.load(io.BytesIO(sealed), passphrase="wrong passphrase")


def test_stock_decrypter_opens_identity_file_and_uses_it() -> None:
    """pyrage (rage) decrypts the file; its plaintext is a usable age identity file."""
    ident = identity.generate("x25519")
    plaintext = pyrage.passphrase.decrypt(_sealed(ident), PASSPHRASE)
    assert plaintext == identity.encode(ident)
    keys = [ln for ln in plaintext.decode().splitlines() if not ln.startswith("#")]
    stock_identity = pyrage.x25519.Identity.from_str(keys[0])
    ciphertext = pyrage.encrypt(b"report", [stock_identity.to_public()])
    assert pyrage.decrypt(ciphertext, [stock_identity]) == b"report"


def test_empty_passphrase_refused() -> None:
    with pytest.raises(IdentityFileError):
        identity.save(identity.generate("pq"), io.BytesIO(), passphrase="", profile=PROFILE)


def _seal_plaintext(plaintext: bytes) -> bytes:
    buf = io.BytesIO()
    age.encrypt(
        io.BytesIO(plaintext),
        buf,
        passphrase=PASSPHRASE,
        scrypt_work_factor=PROFILE.scrypt_log_n,
    )
    return buf.getvalue()


@pytest.mark.parametrize(
    "plaintext",
    [
        pytest.param(b"AGE-SECRET-KEY-1QQQ\n", id="no-format-line"),
        pytest.param(b"# tvault-identity: v1\n", id="no-signing-key"),
        pytest.param(
            b"# tvault-identity: v1\n# tvault-signing-key: TVAULT-ED25519-SECRET-KEY-1QQ\n",
            id="garbled-signing-key",
        ),
        pytest.param(b"\xff\xfe# tvault-identity: v1\n", id="not-ascii"),
        pytest.param(b"x" * (70 * 1024), id="oversized"),
    ],
)
def test_malformed_contents_refused(plaintext: bytes) -> None:
    with pytest.raises(CryptoError):
        identity.load(io.BytesIO(_seal_plaintext(plaintext)), passphrase=PASSPHRASE)


def test_two_age_keys_refused() -> None:
    good = identity.encode(identity.generate("x25519"))
    extra = age.generate_identity("x25519").encode() + b"\n"
    with pytest.raises(IdentityFileError):
        identity.load(io.BytesIO(_seal_plaintext(good + extra)), passphrase=PASSPHRASE)
