"""`Accounts`: the org, accounts, sessions, enrolment and rosters over one engine.

Every method is one short transaction; the slow parts (Argon2id) run before it begins,
so no write lock is held while a password is hashed. Failures are `vault.errors`
subclasses and `vault.accounts.errors`; messages are safe to show to the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from crypto import note, roster
from crypto.enrolment import recipient_kind
from crypto.errors import CryptoError
from crypto.profile import KdfProfile
from crypto.rotation import RotationError, open_rotation
from vault.accounts import bootstrap, events, sessions, totp
from vault.accounts.backoff import Backoff
from vault.accounts.codes import code_hash, random_base32, same_hash, today
from vault.accounts.errors import SlowDown, Unauthenticated
from vault.accounts.passwords import UNUSABLE, Passwords, check_rule
from vault.accounts.refusals import (
    BAD_BOOTSTRAP_CODE,
    BAD_ENROLMENT_CODE,
    DEAD_SESSION,
    RefusalCounter,
)
from vault.db import session_scope
from vault.errors import Conflict, Forbidden, Invalid, NotFound
from vault.models import (
    Account,
    EnrolledKey,
    EnrolmentCode,
    KeyPurpose,
    Org,
    OrgKeyRotation,
    Role,
    RosterVersion,
    ServerKey,
)
from vault.records.deletion import drop_holder

USERNAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{1,62}")
USERNAME_RULE: Final = "a username is 2 to 63 of a-z, 0-9, '.', '_' and '-', starting alphanumeric"
ENROLMENT_LIFETIME: Final = timedelta(days=7)
#: Roles whose members receive sealed records and so enrol an age recipient.
RECIPIENT_ROLES: Final = frozenset({Role.INTAKE, Role.CASEWORKER})
#: The reason a `refused` entry gives when another role asks for what only admins do.
ADMIN_ONLY: Final = "admin-only"


@dataclass(frozen=True)
class NewAdmin:
    username: str
    password: str
    totp_secret: str
    totp_code: str


@dataclass(frozen=True)
class Enrolment:
    code_id: str
    server_half: str
    username: str
    password: str
    totp_secret: str
    totp_code: str
    recipient: str | None
    verify_key: bytes
    mac: bytes


@dataclass(frozen=True)
class IssuedCode:
    account: Account
    code_id: str
    server_half: str
    expires_on: date


class Accounts:
    """What the API holds: one per process, so the Argon2 bound and back-off are shared."""

    def __init__(self, *, engine: Engine, kdf: KdfProfile, seal_key: bytes, data_dir: Path) -> None:
        self._engine = engine
        self._seal_key = seal_key
        self._data_dir = data_dir
        self.passwords = Passwords(kdf.password)
        self.backoff = Backoff()
        self.refusals = RefusalCounter(engine)

    # --- the org -------------------------------------------------------------------

    def register_org(
        self,
        *,
        bootstrap_code: str,
        name: str,
        public_key: bytes,
        recipient_type: str,
        admin: NewAdmin,
        recovery_recipient: str | None = None,
    ) -> Org:
        """Register the org key and its first admin, using the bootstrap code up."""
        if not name.strip() or len(name) > 200:
            raise Invalid("the org name must be 1 to 200 characters")
        if recipient_type not in roster.RECIPIENT_TYPES:
            raise Invalid(f"the recipient type must be one of {', '.join(roster.RECIPIENT_TYPES)}")
        try:
            fingerprint = roster.fingerprint(public_key)
        except CryptoError:
            raise Invalid("the org key must be a 32-byte Ed25519 public key") from None
        policy = {"recipient_type": recipient_type}
        if recovery_recipient is not None:
            _check_recipient(Role.INTAKE, recovery_recipient, recipient_type)
            policy["recovery_recipient"] = recovery_recipient
        _check_username(admin.username)
        check_rule(admin.password, username=admin.username)
        totp.check_secret(admin.totp_secret)
        if totp.accept(admin.totp_secret, admin.totp_code, after_step=totp.NO_LOGIN_YET) is None:
            raise Invalid("the TOTP code does not match the TOTP secret")
        password_hash = self.passwords.hash(admin.password)
        with self._counting(BAD_BOOTSTRAP_CODE), session_scope(self._engine) as session:
            bootstrap.redeem(session, bootstrap_code)
            if session.get(Org, 1) is not None:
                raise Conflict("this vault already has an org")
            org = Org(
                name=name.strip(),
                public_key=public_key,
                fingerprint=fingerprint,
                policy=policy,
                created_on=today(),
            )
            session.add(org)
            account = self._new_account(admin.username, Role.ADMIN, password_hash)
            account.totp_sealed = self._seal(
                account, totp.TotpState(admin.totp_secret, totp.NO_LOGIN_YET)
            )
            session.add(account)
            events.record(
                session, "account.created", actor=account.opaque_id, target=account.opaque_id
            )
        bootstrap.forget_file(self._data_dir)
        return org

    def org(self) -> Org:
        with session_scope(self._engine, readonly=True) as session:
            org = session.get(Org, 1)
        if org is None:
            raise NotFound("this vault has no org yet; run tvault org init")
        return org

    def log_vkey(self) -> str | None:
        """The server's current log key as a C2SP vkey, or None if it has none yet."""
        with session_scope(self._engine, readonly=True) as session:
            key = session.exec(
                select(ServerKey).where(
                    ServerKey.purpose == KeyPurpose.LOG, col(ServerKey.retired_on).is_(None)
                )
            ).first()
        if key is None:
            return None
        return note.Verifier(key.name, note.key_id(key.name, key.public_key), key.public_key).vkey

    # --- login ---------------------------------------------------------------------

    def login(self, *, username: str, password: str, totp_code: str) -> tuple[str, datetime]:
        """Check password and TOTP; return a new session token and its expiry.

        Unknown username, wrong password, wrong or replayed code and disabled account all
        raise the same `Unauthenticated`, after the same Argon2id work; `SlowDown` if this
        username failed too often lately.
        """
        wait = self.backoff.wait_seconds(username)
        if wait:
            raise SlowDown(wait)
        with session_scope(self._engine, readonly=True) as session:
            found = session.exec(select(Account).where(Account.username == username)).first()
        matched = self.passwords.verify_or_dummy(
            None if found is None else found.password_hash, password
        )
        with session_scope(self._engine) as session:
            # FOR UPDATE: two logins racing with one code must not both see the old step
            # (PostgreSQL; SQLite's BEGIN IMMEDIATE already serializes them).
            account = (
                None if found is None else session.get(Account, found.id, with_for_update=True)
            )
            step = None
            if matched and account is not None and not account.disabled and account.totp_sealed:
                state = self._unseal(account)
                step = totp.accept(state.secret, totp_code, after_step=state.last_step)
            if account is None or step is None:
                actor = events.UNKNOWN if account is None else account.opaque_id
                events.record(session, "login.failed", actor=actor)
                failed = True
            else:
                account.totp_sealed = self._seal(account, totp.TotpState(state.secret, step))
                session.add(account)
                assert account.id is not None
                token, expires = sessions.issue(session, account_id=account.id)
                events.record(session, "login", actor=account.opaque_id)
                failed = False
        if failed:
            self.backoff.failed(username)
            raise Unauthenticated("wrong username, password or TOTP code")
        self.backoff.succeeded(username)
        return token, expires

    def logout(self, token: str) -> None:
        with session_scope(self._engine) as session:
            row = sessions.find(session, token)
            if row is None:
                self.refusals.count(DEAD_SESSION)
                raise Unauthenticated("no valid session")
            row.revoked = True
            session.add(row)
            account = session.get(Account, row.account_id)
            assert account is not None
            events.record(session, "logout", actor=account.opaque_id)

    def authenticate(self, token: str) -> Account:
        """The active account of a live session; raises `Unauthenticated` otherwise."""
        with session_scope(self._engine, readonly=True) as session:
            row = sessions.find(session, token)
            account = None if row is None else session.get(Account, row.account_id)
        if account is None or account.disabled:
            self.refusals.count(DEAD_SESSION)
            raise Unauthenticated("no valid session; log in again")
        return account

    # --- accounts ------------------------------------------------------------------

    def add_user(self, admin: Account, *, username: str, role: Role) -> IssuedCode:
        """Create an account awaiting enrolment, and its one-time enrolment code's id and
        server half (the caller's client adds the secret half)."""
        self._require_admin(admin)
        _check_username(username)
        server_half = random_base32(16)
        with session_scope(self._engine) as session:
            if session.exec(select(Account).where(Account.username == username)).first():
                raise Conflict(f"the username {username} is taken")
            account = self._new_account(username, role, UNUSABLE)
            session.add(account)
            session.flush()
            assert account.id is not None
            code = EnrolmentCode(
                id=random_base32(5),
                account_id=account.id,
                server_half_hash=code_hash(server_half),
                expires_on=today() + ENROLMENT_LIFETIME,
            )
            session.add(code)
            events.record(
                session, "account.created", actor=admin.opaque_id, target=account.opaque_id
            )
            events.record(
                session, "enrolment.issued", actor=admin.opaque_id, target=account.opaque_id
            )
        return IssuedCode(account, code.id, server_half, code.expires_on)

    def disable_user(self, admin: Account, *, username: str) -> None:
        """Disable the account, end its sessions, void its unused enrolment codes and delete
        its record headers (DESIGN.md section 2), all in one transaction."""
        self._require_admin(admin)
        if username == admin.username:
            raise Conflict("an admin cannot disable their own account")
        with session_scope(self._engine) as session:
            account = session.exec(select(Account).where(Account.username == username)).first()
            if account is None:
                raise NotFound(f"no account {username}")
            if account.disabled:
                raise Conflict(f"{username} is already disabled")
            account.disabled = True
            session.add(account)
            assert account.id is not None
            sessions.revoke_all(session, account_id=account.id)
            drop_holder(session, account.opaque_id)
            for code in session.exec(
                select(EnrolmentCode).where(EnrolmentCode.account_id == account.id)
            ):
                code.used = True
                session.add(code)
            events.record(
                session, "account.disabled", actor=admin.opaque_id, target=account.opaque_id
            )

    def enrolment_role(self, *, code_id: str, server_half: str, username: str) -> Role:
        """The role an enrolment code is for, so the client knows which keys to make.

        Uses nothing up. Raises `Forbidden` as `enrol` does for a bad code.
        """
        with self._counting(BAD_ENROLMENT_CODE), session_scope(self._engine, readonly=True) as s:
            _, account = _live_code(s, code_id, server_half, username, lock=False)
        return account.role

    def enrol(self, upload: Enrolment) -> Account:
        """Set the password and TOTP of the code's account and store its public keys.

        The code must be unused, unexpired and its account's; the recipient must be of the
        org's type for roles that receive records, absent for the others. The MAC is stored
        for `roster publish` to check; the server cannot check it (it lacks the key).
        """
        check_rule(upload.password, username=upload.username)
        totp.check_secret(upload.totp_secret)
        if totp.accept(upload.totp_secret, upload.totp_code, after_step=totp.NO_LOGIN_YET) is None:
            raise Invalid("the TOTP code does not match the TOTP secret")
        if len(upload.verify_key) != 32 or len(upload.mac) != 32:
            raise Invalid("the verify key and the MAC are 32 bytes each")
        password_hash = self.passwords.hash(upload.password)
        with self._counting(BAD_ENROLMENT_CODE), session_scope(self._engine) as session:
            code, account = _live_code(
                session, upload.code_id, upload.server_half, upload.username, lock=True
            )
            org = session.get(Org, 1)
            assert org is not None  # accounts exist only once the org does
            _check_recipient(account.role, upload.recipient, org.policy["recipient_type"])
            code.used = True
            account.password_hash = password_hash
            account.totp_sealed = self._seal(
                account, totp.TotpState(upload.totp_secret, totp.NO_LOGIN_YET)
            )
            assert account.id is not None
            session.add_all([code, account])
            session.add(
                EnrolledKey(
                    account_id=account.id,
                    enrolment_code_id=code.id,
                    recipient=upload.recipient or "",
                    verify_key=upload.verify_key,
                    enrolment_mac=upload.mac,
                    created_on=today(),
                )
            )
            events.record(
                session, "enrolment.completed", actor=account.opaque_id, target=account.opaque_id
            )
        return account

    def members(self, admin: Account) -> list[dict[str, Any]]:
        """Every account with its newest enrolled keys, for the admin's `roster publish`."""
        self._require_admin(admin)
        with session_scope(self._engine, readonly=True) as session:
            accounts = session.exec(select(Account).order_by(col(Account.id))).all()
            keys: dict[int, EnrolledKey] = {}
            for key in session.exec(select(EnrolledKey).order_by(col(EnrolledKey.id))):
                keys[key.account_id] = key
        return [_member(account, keys.get(account.id or 0)) for account in accounts]

    # --- rosters -------------------------------------------------------------------

    def publish_roster(self, admin: Account, *, staff: bytes, public: bytes) -> int:
        """Store a roster the org key signed, after checking it; returns its version.

        Both documents must verify against the org key, agree on version and expiry,
        follow the current version by exactly one, be unexpired and name the server's
        current log key.
        """
        self._require_admin(admin)
        org = self.org()
        log_vkey = self.log_vkey()
        try:
            opened = roster.open_roster(staff, org_public_key=org.public_key, kind="staff")
            opened_public = roster.open_roster(public, org_public_key=org.public_key, kind="public")
            roster.check_roster(opened, last_version=None, today=today())
        except roster.RosterError as exc:
            raise Invalid(exc.diagnostics()) from None
        if (opened.version, opened.expires) != (opened_public.version, opened_public.expires):
            raise Invalid("the staff and public rosters differ in version or expiry")
        if (
            log_vkey is None
            or opened.log_key.vkey != log_vkey
            or opened_public.log_key.vkey != log_vkey
        ):
            raise Invalid("the roster must name the server's current log key")
        with session_scope(self._engine) as session:
            latest = session.exec(
                select(RosterVersion).order_by(col(RosterVersion.version).desc())
            ).first()
            expected = 1 if latest is None else latest.version + 1
            if opened.version != expected:
                raise Conflict(f"the next roster version is {expected}, not {opened.version}")
            session.add(
                RosterVersion(
                    version=opened.version,
                    signed_roster=staff,
                    signed_public_roster=public,
                    published_on=today(),
                    expires_on=opened.expires,
                )
            )
            try:
                session.flush()
            except IntegrityError:  # another admin published this version a moment ago
                raise Conflict(f"roster version {opened.version} exists already") from None
            events.record(
                session, "roster.published", actor=admin.opaque_id, version=opened.version
            )
        return opened.version

    def latest_roster(self) -> RosterVersion | None:
        with session_scope(self._engine, readonly=True) as session:
            return session.exec(
                select(RosterVersion).order_by(col(RosterVersion.version).desc())
            ).first()

    # --- org key rotation ----------------------------------------------------------

    def rotate_org_key(self, admin: Account, *, statement: bytes) -> OrgKeyRotation:
        """Make the key `statement` announces the org key, and log it.

        The statement must be signed by the current org key and by the new one, carry the
        next serial and name a key the org never had. Rosters published from now on must
        verify against the new key; clients follow the statements (`rotations`) from the
        key they pinned.
        """
        self._require_admin(admin)
        with session_scope(self._engine) as session:
            # FOR UPDATE: two rotations racing from one key must not both succeed.
            org = session.get(Org, 1, with_for_update=True)
            if org is None:
                raise NotFound("this vault has no org yet; run tvault org init")
            try:
                rotation = open_rotation(statement, old_public_key=org.public_key)
            except RotationError as exc:
                raise Invalid(exc.diagnostics()) from None
            earlier = session.exec(select(OrgKeyRotation)).all()
            expected = len(earlier) + 1
            if rotation.serial != expected:
                raise Conflict(f"the next rotation serial is {expected}, not {rotation.serial}")
            if any(rotation.new_key in (r.old_public_key, r.new_public_key) for r in earlier):
                raise Invalid("the new org key was an org key before; make a fresh one")
            row = OrgKeyRotation(
                serial=rotation.serial,
                old_public_key=org.public_key,
                new_public_key=rotation.new_key,
                statement=statement,
                created_on=today(),
            )
            org.public_key = rotation.new_key
            org.fingerprint = roster.fingerprint(rotation.new_key)
            session.add_all([row, org])
            try:
                session.flush()
            except IntegrityError:  # another admin rotated a moment ago
                raise Conflict(f"rotation {rotation.serial} exists already") from None
            events.record(
                session, "org_key.rotated", actor=admin.opaque_id, version=rotation.serial
            )
        return row

    def rotations(self) -> list[OrgKeyRotation]:
        """Every rotation statement, in serial order."""
        with session_scope(self._engine, readonly=True) as session:
            return list(
                session.exec(select(OrgKeyRotation).order_by(col(OrgKeyRotation.serial))).all()
            )

    # --- helpers -------------------------------------------------------------------

    @contextmanager
    def _counting(self, reason: str) -> Iterator[None]:
        """Count a `Forbidden` raised inside as an anonymous refusal of `reason`: the
        caller has no session, so only the count is logged (`vault.accounts.refusals`)."""
        try:
            yield
        except Forbidden:
            self.refusals.count(reason)
            raise

    def _require_admin(self, account: Account) -> None:
        """Raise `Forbidden` unless `account` is an admin, logging the refusal first
        (DESIGN.md section 4: refusals of a known account are logged one by one)."""
        if account.role == Role.ADMIN:
            return
        with session_scope(self._engine) as session:
            events.refused(session, actor=account.opaque_id, reason=ADMIN_ONLY)
        raise Forbidden("only an admin account may do this")

    def _new_account(self, username: str, role: Role, password_hash: str) -> Account:
        return Account(
            opaque_id=random_base32(16).lower(),
            username=username,
            role=role,
            password_hash=password_hash,
            created_on=today(),
        )

    def _seal(self, account: Account, state: totp.TotpState) -> bytes:
        return totp.seal(self._seal_key, state, opaque_id=account.opaque_id)

    def _unseal(self, account: Account) -> totp.TotpState:
        assert account.totp_sealed is not None
        return totp.unseal(self._seal_key, account.totp_sealed, opaque_id=account.opaque_id)


def _live_code(
    session: Session, code_id: str, server_half: str, username: str, *, lock: bool
) -> tuple[EnrolmentCode, Account]:
    """The code's row and account if the code is live; `lock` (write sessions) holds the
    row so two enrolments racing with one code cannot both use it."""
    code = session.get(EnrolmentCode, code_id, with_for_update=lock)
    account = None if code is None else session.get(Account, code.account_id)
    if (
        code is None
        or account is None
        or code.used
        or code.expires_on < today()
        or account.disabled
        or account.username != username
        or not same_hash(code_hash(server_half), code.server_half_hash)
    ):
        raise Forbidden("the enrolment code is wrong, used or expired, or not this user's")
    return code, account


def _check_username(username: str) -> None:
    if not USERNAME.fullmatch(username):
        raise Invalid(USERNAME_RULE)


def _check_recipient(role: Role, recipient: str | None, recipient_type: str) -> None:
    if role not in RECIPIENT_ROLES:
        if recipient is not None:
            raise Invalid(f"a {role.value} account is never a recipient; enrol no age key")
        return
    if recipient is None:
        raise Invalid(f"a {role.value} account needs an age recipient")
    try:
        kind = recipient_kind(recipient)
    except CryptoError:
        raise Invalid("the recipient is not an age recipient") from None
    if kind != recipient_type:
        raise Invalid(f"the org's policy requires {recipient_type} recipients, not {kind}")


def _member(account: Account, key: EnrolledKey | None) -> dict[str, Any]:
    return {
        "id": account.opaque_id,
        "username": account.username,
        "role": account.role.value,
        "disabled": account.disabled,
        "enrolled": account.password_hash != UNUSABLE,
        "keys": None
        if key is None
        else {
            "code_id": key.enrolment_code_id,
            "recipient": key.recipient or None,
            "verify_key": key.verify_key,
            "mac": key.enrolment_mac,
        },
    }
