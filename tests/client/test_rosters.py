"""What a client does with a served roster: trust it only if the pinned org key signed
it, it is not older than one seen before, it has not expired, and it names a log key."""

from __future__ import annotations

import base64
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client.errors import ClientError
from client.home import Home
from client.rosters import check_served
from crypto import note, roster

ORG_KEY = note.Signer(roster.ORG_KEY_NAME, Ed25519PrivateKey.generate())
LOG_KEY = note.Signer.generate("testimony-vault/00112233aabbccdd")


def _signed(version: int, *, signer: note.Signer = ORG_KEY, **changes: Any) -> str:
    document: dict[str, Any] = {
        "type": roster.STAFF_TYPE,
        "org": {"name": "Org", "fingerprint": roster.fingerprint(ORG_KEY.verifier.public_key)},
        "version": version,
        "issued": date.today().isoformat(),
        "expires": (date.today() + timedelta(days=30)).isoformat(),
        "policy": {"recipient_type": "pq"},
        "log_key": LOG_KEY.verifier.vkey,
        "members": [],
    }
    document.update(changes)
    document = {k: v for k, v in document.items() if v is not None}
    return roster.sign_roster(document, signer).decode()


@pytest.fixture
def home(tmp_path: Path) -> Home:
    pinned = Home(tmp_path / "home")
    public_key = base64.b64encode(ORG_KEY.verifier.public_key).decode()
    pinned.save_state(org={"fingerprint": "F", "public_key": public_key})
    return pinned


def test_a_good_roster_is_trusted_and_its_version_remembered(home: Home) -> None:
    opened = check_served(home, _signed(2), kind="staff")
    assert opened is not None
    assert opened.version == 2
    assert home.state()["roster_version"] == 2


def test_no_roster_yet_is_not_an_error(home: Home) -> None:
    assert check_served(home, None, kind="staff") is None


def test_rollback_is_refused(home: Home) -> None:
    check_served(home, _signed(3), kind="staff")
    with pytest.raises(ClientError, match="rollback"):
        check_served(home, _signed(2), kind="staff")
    assert home.state()["roster_version"] == 3


def test_roster_signed_by_another_key_is_refused(home: Home) -> None:
    other = note.Signer(roster.ORG_KEY_NAME, Ed25519PrivateKey.generate())
    with pytest.raises(ClientError, match="did not sign"):
        check_served(home, _signed(1, signer=other), kind="staff")


def test_tampered_roster_is_refused(home: Home) -> None:
    signed = _signed(1).replace('"members":[]', '"members":[{}]')
    with pytest.raises(ClientError, match="did not sign"):
        check_served(home, signed, kind="staff")


def test_expired_roster_is_refused(home: Home) -> None:
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    with pytest.raises(ClientError, match="expired"):
        check_served(home, _signed(1, expires=yesterday), kind="staff")


def test_roster_without_log_key_is_refused(home: Home) -> None:
    with pytest.raises(ClientError, match="log key"):
        check_served(home, _signed(1, log_key=None), kind="staff")


def test_home_is_private(home: Home) -> None:
    assert (home.path.stat().st_mode & 0o777) == 0o700
    assert ((home.path / "state.json").stat().st_mode & 0o777) == 0o600


def test_a_home_others_can_read_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with pytest.raises(ClientError, match="chmod 700"):
        Home(shared).ensure()
