"""Identity files open with the stock `age` command, and what it yields is an identity file."""

import io

import pytest

from crypto import age, identity
from crypto.profile import weak_test_profile
from tests.interop.peers import AgeCli, Typage

PASSPHRASE = "a long passphrase typed on a caseworker laptop"


def _identity_file(ident: identity.DeviceIdentity) -> bytes:
    buf = io.BytesIO()
    profile = weak_test_profile(insecure_test_only=True)
    identity.save(ident, buf, passphrase=PASSPHRASE, profile=profile)
    return buf.getvalue()


def test_age_cli_opens_identity_file_and_decrypts_with_it(age_cli: AgeCli) -> None:
    ident = identity.generate("x25519")
    plaintext = age_cli.decrypt_passphrase(_identity_file(ident), PASSPHRASE)
    assert plaintext == identity.encode(ident)
    sealed = io.BytesIO()
    age.encrypt(io.BytesIO(b"contact report"), sealed, [ident.recipient])
    # The decrypted identity file, comments and all, is accepted by `age -i`.
    keys = [ln for ln in plaintext.decode().splitlines() if not ln.startswith("#")]
    assert age_cli.decrypt(sealed.getvalue(), keys) == b"contact report"


@pytest.mark.parametrize("kind", ["pq", "none"])
def test_age_cli_opens_identity_files_of_every_kind(age_cli: AgeCli, kind: str) -> None:
    ident = identity.generate(kind)  # type: ignore[arg-type]
    assert age_cli.decrypt_passphrase(_identity_file(ident), PASSPHRASE) == identity.encode(ident)


def test_typage_uses_the_hybrid_key_from_an_identity_file(typage: Typage) -> None:
    ident = identity.generate("pq")
    assert ident.age_identity is not None
    sealed = io.BytesIO()
    age.encrypt(io.BytesIO(b"contact report"), sealed, [ident.recipient])
    assert typage.decrypt(sealed.getvalue(), [ident.age_identity]) == b"contact report"
