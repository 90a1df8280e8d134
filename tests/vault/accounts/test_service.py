"""Accounts over a real database (SQLite and PostgreSQL): org, login, enrolment, roster."""

from __future__ import annotations

import base64
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine
from sqlmodel import select

from crypto import age, note, roster
from vault.accounts import backoff, sealkey, startup
from vault.accounts.codes import today
from vault.accounts.errors import SlowDown, Unauthenticated
from vault.accounts.service import Accounts, Enrolment, NewAdmin
from vault.db import session_scope
from vault.errors import Conflict, Forbidden, Invalid
from vault.models import Account, EnrolmentCode, LogEntry, Role
from vault.settings import Settings

PASSWORD = "canary-password-7f3a9"
ORG_KEY = note.Signer(roster.ORG_KEY_NAME, Ed25519PrivateKey.generate())


def _code(secret: str, offset: int = 0) -> str:
    return str(pyotp.TOTP(secret).at(time.time() + 30 * offset))


@pytest.fixture
def accounts(engine: Engine, db_settings: Settings) -> Accounts:
    return Accounts(
        engine=engine,
        kdf=db_settings.kdf,
        seal_key=sealkey.load_or_create(db_settings.data_dir),
        data_dir=db_settings.data_dir,
    )


@pytest.fixture
def admin_secret(accounts: Accounts, engine: Engine, db_settings: Settings) -> str:
    code = startup.prepare(db_settings, engine)
    assert code is not None
    secret = pyotp.random_base32(32)
    accounts.register_org(
        bootstrap_code=code,
        name="Org",
        public_key=ORG_KEY.verifier.public_key,
        recipient_type="pq",
        admin=NewAdmin("admin", PASSWORD, secret, _code(secret)),
    )
    return secret


def _admin(accounts: Accounts, secret: str, offset: int = 1) -> Account:
    token, _ = accounts.login(username="admin", password=PASSWORD, totp_code=_code(secret, offset))
    return accounts.authenticate(token)


def _enrol(accounts: Accounts, admin: Account, username: str, role: Role) -> str:
    issued = accounts.add_user(admin, username=username, role=role)
    secret = pyotp.random_base32(32)
    recipient = (
        age.recipient_of(age.generate_identity("pq"))
        if role in (Role.INTAKE, Role.CASEWORKER)
        else None
    )
    accounts.enrol(
        Enrolment(
            code_id=issued.code_id,
            server_half=issued.server_half,
            username=username,
            password=PASSWORD,
            totp_secret=secret,
            totp_code=_code(secret, -1),
            recipient=recipient,
            verify_key=bytes(32),
            mac=bytes(32),
        )
    )
    return secret


def test_a_second_org_registration_is_refused(
    accounts: Accounts, admin_secret: str, engine: Engine, db_settings: Settings
) -> None:
    assert startup.prepare(db_settings, engine) is None  # an org exists: no new code
    with pytest.raises(Forbidden):
        accounts.register_org(
            bootstrap_code="AAAA",
            name="Org 2",
            public_key=bytes(32),
            recipient_type="pq",
            admin=NewAdmin("other", PASSWORD, admin_secret, _code(admin_secret)),
        )


def test_org_registration_with_a_weak_password_writes_nothing(
    accounts: Accounts, engine: Engine, db_settings: Settings
) -> None:
    code = startup.prepare(db_settings, engine)
    assert code is not None
    secret = pyotp.random_base32(32)
    with pytest.raises(Invalid, match="at least 12 characters"):
        accounts.register_org(
            bootstrap_code=code,
            name="Org",
            public_key=ORG_KEY.verifier.public_key,
            recipient_type="pq",
            admin=NewAdmin("admin", "short", secret, _code(secret)),
        )
    with pytest.raises(Invalid, match="TOTP code"):
        accounts.register_org(
            bootstrap_code=code,
            name="Org",
            public_key=ORG_KEY.verifier.public_key,
            recipient_type="pq",
            admin=NewAdmin("admin", PASSWORD, secret, "000000"),
        )
    # The code was not used up by the refusals.
    assert startup.prepare(db_settings, engine) is None


def test_two_logins_racing_with_one_code_do_not_both_succeed(
    accounts: Accounts, admin_secret: str
) -> None:
    code = _code(admin_secret, 1)
    barrier = threading.Barrier(4)

    def attempt() -> bool:
        barrier.wait()
        try:
            accounts.login(username="admin", password=PASSWORD, totp_code=code)
        except Unauthenticated:
            return False
        return True

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: attempt(), range(4)))
    assert outcomes.count(True) == 1


def test_org_init_removes_the_bootstrap_code_file(admin_secret: str, db_settings: Settings) -> None:
    assert not (db_settings.data_dir / "bootstrap-code").exists()


def test_login_codes_are_single_use(accounts: Accounts, admin_secret: str) -> None:
    code = _code(admin_secret, 1)
    accounts.login(username="admin", password=PASSWORD, totp_code=code)
    with pytest.raises(Unauthenticated):
        accounts.login(username="admin", password=PASSWORD, totp_code=code)


def test_unknown_user_wrong_password_and_wrong_code_look_the_same(
    accounts: Accounts, admin_secret: str, engine: Engine
) -> None:
    messages = set()
    for username, password, code in [
        ("nobody", PASSWORD, _code(admin_secret)),
        ("admin", PASSWORD + "x", _code(admin_secret)),
        ("admin", PASSWORD, "123456"),
    ]:
        with pytest.raises(Unauthenticated) as caught:
            accounts.login(username=username, password=password, totp_code=code)
        messages.add(str(caught.value))
    assert len(messages) == 1
    with session_scope(engine, readonly=True) as session:
        entries = [row.entry for row in session.exec(select(LogEntry))]
    assert b"nobody" not in b"".join(entries)
    assert any(b'"actor":"unknown"' in entry for entry in entries)


def test_repeated_failures_back_off_without_locking_out(
    accounts: Accounts, admin_secret: str
) -> None:
    for _ in range(backoff.FREE_FAILURES):
        with pytest.raises(Unauthenticated):
            accounts.login(username="admin", password="wrong password!", totp_code="000000")
    with pytest.raises(SlowDown) as caught:
        accounts.login(username="admin", password=PASSWORD, totp_code=_code(admin_secret, 1))
    assert caught.value.retry_after >= 1


def test_sessions_end_at_logout_and_at_disable(accounts: Accounts, admin_secret: str) -> None:
    admin = _admin(accounts, admin_secret)
    secret = _enrol(accounts, admin, "kim", Role.INTAKE)
    # Codes are single use and their steps only move forward: -1 went to enrolment.
    token, _ = accounts.login(username="kim", password=PASSWORD, totp_code=_code(secret, 0))
    accounts.logout(token)
    with pytest.raises(Unauthenticated):
        accounts.authenticate(token)
    token, _ = accounts.login(username="kim", password=PASSWORD, totp_code=_code(secret, 1))
    accounts.disable_user(admin, username="kim")
    with pytest.raises(Unauthenticated):
        accounts.authenticate(token)


def test_a_disabled_account_cannot_log_in(accounts: Accounts, admin_secret: str) -> None:
    admin = _admin(accounts, admin_secret)
    secret = _enrol(accounts, admin, "kim", Role.AUDITOR)
    accounts.disable_user(admin, username="kim")
    with pytest.raises(Unauthenticated):
        accounts.login(username="kim", password=PASSWORD, totp_code=_code(secret, 0))


def test_only_admins_manage_accounts(accounts: Accounts, admin_secret: str) -> None:
    admin = _admin(accounts, admin_secret)
    secret = _enrol(accounts, admin, "kim", Role.CASEWORKER)
    token, _ = accounts.login(username="kim", password=PASSWORD, totp_code=_code(secret, 1))
    kim = accounts.authenticate(token)
    with pytest.raises(Forbidden):
        accounts.add_user(kim, username="lee", role=Role.INTAKE)
    with pytest.raises(Forbidden):
        accounts.disable_user(kim, username="admin")
    with pytest.raises(Conflict):
        accounts.disable_user(admin, username="admin")
    with pytest.raises(Conflict):
        accounts.add_user(admin, username="kim", role=Role.INTAKE)


def test_an_enrolment_code_is_single_use_and_expires(
    accounts: Accounts, admin_secret: str, engine: Engine
) -> None:
    admin = _admin(accounts, admin_secret)
    issued = accounts.add_user(admin, username="kim", role=Role.AUDITOR)
    secret = pyotp.random_base32(32)
    upload = Enrolment(
        code_id=issued.code_id,
        server_half=issued.server_half,
        username="kim",
        password=PASSWORD,
        totp_secret=secret,
        totp_code=_code(secret),
        recipient=None,
        verify_key=bytes(32),
        mac=bytes(32),
    )
    with pytest.raises(Forbidden):
        accounts.enrol(Enrolment(**{**upload.__dict__, "server_half": "WRONG"}))
    with pytest.raises(Forbidden):
        accounts.enrol(Enrolment(**{**upload.__dict__, "username": "lee"}))
    with pytest.raises(Invalid, match="never a recipient"):
        accounts.enrol(
            Enrolment(**{**upload.__dict__, "recipient": age.recipient_of(age.generate_identity())})
        )
    with session_scope(engine) as session:
        row = session.get(EnrolmentCode, issued.code_id)
        assert row is not None
        row.expires_on = today() - timedelta(days=1)
        session.add(row)
    with pytest.raises(Forbidden):
        accounts.enrol(upload)
    with session_scope(engine) as session:
        row = session.get(EnrolmentCode, issued.code_id)
        assert row is not None
        row.expires_on = today()
        session.add(row)
    accounts.enrol(upload)
    with pytest.raises(Forbidden):
        accounts.enrol(upload)


def test_a_recipient_of_another_type_than_the_policy_is_refused(
    accounts: Accounts, admin_secret: str
) -> None:
    admin = _admin(accounts, admin_secret)
    issued = accounts.add_user(admin, username="kim", role=Role.INTAKE)
    secret = pyotp.random_base32(32)
    with pytest.raises(Invalid, match="requires pq"):
        accounts.enrol(
            Enrolment(
                code_id=issued.code_id,
                server_half=issued.server_half,
                username="kim",
                password=PASSWORD,
                totp_secret=secret,
                totp_code=_code(secret),
                recipient=age.recipient_of(age.generate_identity("x25519")),
                verify_key=bytes(32),
                mac=bytes(32),
            )
        )


def _rosters(accounts: Accounts, version: int, **changes: object) -> tuple[bytes, bytes]:
    common: dict[str, object] = {
        "org": {"name": "Org", "fingerprint": accounts.org().fingerprint},
        "version": version,
        "issued": today().isoformat(),
        "expires": (today() + timedelta(days=30)).isoformat(),
        "policy": {"recipient_type": "pq"},
        "log_key": accounts.log_vkey(),
    }
    common.update(changes)
    staff = roster.sign_roster({"type": roster.STAFF_TYPE, **common, "members": []}, ORG_KEY)
    public = roster.sign_roster({"type": roster.PUBLIC_TYPE, **common, "intake": []}, ORG_KEY)
    return staff, public


def _publish(accounts: Accounts, admin: Account, signed: tuple[bytes, bytes]) -> int:
    return accounts.publish_roster(admin, staff=signed[0], public=signed[1])


def test_roster_publication_checks_signature_version_expiry_and_log_key(
    accounts: Accounts, admin_secret: str
) -> None:
    admin = _admin(accounts, admin_secret)
    staff, public = _rosters(accounts, 1)
    forged = roster.sign_roster(
        {"type": roster.STAFF_TYPE, "version": 1},
        note.Signer(roster.ORG_KEY_NAME, Ed25519PrivateKey.generate()),
    )
    with pytest.raises(Invalid, match="did not sign"):
        accounts.publish_roster(admin, staff=forged, public=public)
    with pytest.raises(Invalid, match="expired"):
        _publish(accounts, admin, _rosters(accounts, 1, expires="2020-01-01"))
    other_log = note.Signer.generate("testimony-vault/ffffffffffffffff").verifier.vkey
    with pytest.raises(Invalid, match="log key"):
        _publish(accounts, admin, _rosters(accounts, 1, log_key=other_log))
    with pytest.raises(Conflict):
        _publish(accounts, admin, _rosters(accounts, 2))
    assert accounts.publish_roster(admin, staff=staff, public=public) == 1
    with pytest.raises(Conflict):  # replaying version 1
        accounts.publish_roster(admin, staff=staff, public=public)
    latest = accounts.latest_roster()
    assert latest is not None
    assert latest.signed_roster == staff


def test_no_secret_is_stored_in_the_clear(
    accounts: Accounts, admin_secret: str, db_settings: Settings, engine: Engine
) -> None:
    """Canaries: the password, the TOTP secret (raw and base32) and a session token."""
    token, _ = accounts.login(username="admin", password=PASSWORD, totp_code=_code(admin_secret, 1))
    engine.dispose()
    dump = b""
    url = db_settings.engine_url()
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        for path in Path(url.database).parent.glob("vault.sqlite3*"):
            dump += path.read_bytes()
    else:
        with session_scope(engine, readonly=True) as session:
            for table in ("account", "login_session", "bootstrap_code", "log_entry"):
                rows = session.connection().exec_driver_sql(f"SELECT * FROM {table}").all()
                dump += repr(rows).encode()
    assert dump  # the search saw the data
    raw_secret = base64.b32decode(admin_secret)
    for canary in (PASSWORD.encode(), admin_secret.encode(), raw_secret, token.encode()):
        assert canary not in dump
