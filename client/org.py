"""`tvault org init`, and pinning the org a client talks to.

The org key is made here, on the admin's machine, and only its public half reaches the
server. Every client pins the org by the fingerprint a person gave it: the key the server
presents must hash to that fingerprint, and a home pinned to one org refuses another.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Any, Literal

from client import prompts, recovery
from client.errors import ClientError
from client.home import ORG_KEY_FILE, Home
from client.http import Server
from crypto import identity, roster, rotation
from crypto.errors import CryptoError
from crypto.profile import KdfProfile


@dataclass(frozen=True)
class InitResult:
    fingerprint: str
    totp_secret: str
    org_key_file: str
    recovery_shares: list[str] | None


def init(
    server: Server,
    home: Home,
    *,
    bootstrap_code: str,
    org_name: str,
    admin: str,
    recipient_type: Literal["pq", "x25519"],
    profile: KdfProfile,
    recovery_split: tuple[int, int] | None = None,
) -> InitResult:
    """Make the org key, register it with the bootstrap code, create the admin account.

    `recovery_split` (threshold, shares) adds an offline recovery recipient whose
    identity is split into SLIP-39 shares and never stored (`client.recovery`).
    The org key file is written (sealed to the passphrase) before the server hears of the
    key, so a registered org never lacks its key; it is removed again if registration fails.
    """
    key_path = home.path / ORG_KEY_FILE
    if key_path.exists():
        raise ClientError(f"{key_path} already holds an org key; use another --home")
    password = prompts.secret(prompts.PASSWORD, f"Password for {admin}", confirm=True)
    passphrase = prompts.secret(prompts.PASSPHRASE, "Passphrase for the org key", confirm=True)
    org_key = identity.generate("none")
    save_identity(home, ORG_KEY_FILE, org_key, passphrase=passphrase, profile=profile)
    totp_secret = prompts.new_totp_secret()
    public_key = org_key.verify_key_bytes
    policy: dict[str, str] = {"recipient_type": recipient_type}
    shares = None
    if recovery_split is not None:
        threshold, count = recovery_split
        made = recovery.split(recipient_type, threshold=threshold, shares=count)
        policy["recovery_recipient"] = made.recipient
        shares = made.shares
    body = {
        "bootstrap_code": bootstrap_code,
        "name": org_name,
        "public_key": base64.b64encode(public_key).decode("ascii"),
        "recipient_type": recipient_type,
        "recovery_recipient": policy.get("recovery_recipient"),
        "admin": {
            "username": admin,
            "password": password,
            "totp_secret": totp_secret,
            "totp_code": prompts.confirm_totp(totp_secret),
        },
    }
    try:
        registered = server.call("POST", "/org", body)
    except ClientError:
        key_path.unlink(missing_ok=True)
        raise
    fingerprint = roster.fingerprint(public_key)
    if registered.get("fingerprint") != fingerprint:
        raise ClientError("the server reports another fingerprint than this org key's")
    home.save_state(
        server=server.url,
        org={"fingerprint": fingerprint, "public_key": registered["public_key"]},
        policy=policy,
        username=admin,
    )
    return InitResult(fingerprint, totp_secret, str(key_path), shares)


def pin(server: Server, home: Home, fingerprint: str) -> dict[str, Any]:
    """Fetch the org's public face and check its key against `fingerprint` and the home.

    The key the server presents must be the one pinned here, or the one `fingerprint`
    names when nothing is pinned yet, or a key that one handed over to through a chain of
    rotation statements (`crypto.rotation.follow`); the home then re-pins to it and
    remembers the keys it followed (``earlier``), so the fingerprint a person was given
    still works.
    Returns the org as the server gave it. Raises `ClientError` on any mismatch.
    """
    wanted, org, public_key = served_org(server, fingerprint)
    presented = roster.fingerprint(public_key)
    pinned = home.state().get("org")
    earlier: list[str] = [] if pinned is None else list(pinned.get("earlier", []))
    known = [roster.fingerprint(base64.b64decode(key)) for key in earlier]
    if pinned is not None and wanted not in (pinned.get("fingerprint"), *known):
        raise ClientError(
            f"{home.path} is pinned to org {pinned.get('fingerprint')}; use another --home"
        )
    trusted = None if pinned is None else base64.b64decode(pinned["public_key"])
    if trusted is None and presented == wanted:
        trusted = public_key
    if trusted != public_key:
        followed = follow_rotations(server, trusted, wanted, public_key)
        earlier += [base64.b64encode(r.old_key).decode("ascii") for r in followed]
    state = {"fingerprint": presented, "public_key": org["public_key"]}
    if earlier:
        state["earlier"] = list(dict.fromkeys(earlier))
    home.save_state(server=server.url, org=state)
    return org


def served_org(server: Server, fingerprint: str) -> tuple[str, dict[str, Any], bytes]:
    """`fingerprint` normalised, the org as the server gives it, and the org key it
    presents (not yet checked). Raises `ClientError` for a malformed fingerprint or key."""
    try:
        wanted = roster.normalise_fingerprint(fingerprint)
    except CryptoError as exc:
        raise ClientError(exc.diagnostics()) from None
    org: dict[str, Any] = server.call("GET", "/org")
    try:
        public_key = base64.b64decode(org["public_key"], validate=True)
        roster.fingerprint(public_key)
    except (KeyError, TypeError, ValueError, CryptoError):
        raise ClientError("the server sent a malformed org key") from None
    return wanted, org, public_key


def follow_rotations(
    server: Server, trusted: bytes | None, wanted: str, current: bytes
) -> list[rotation.Rotation]:
    """The verified chain of rotations from the trusted key (or, when nothing is pinned
    yet, the key `wanted` names) to `current`; `ClientError` if there is none."""
    served = server.call("GET", "/org/rotations")
    try:
        statements = [s.encode("utf-8") for s in served["statements"]]
    except (KeyError, TypeError, AttributeError):
        raise ClientError("the server sent malformed rotation statements") from None
    if trusted is None:
        trusted = _key_named(statements, wanted)
        if trusted is None:
            raise ClientError(
                f"the server's org key has fingerprint {roster.fingerprint(current)}, not "
                f"{wanted}, and no rotation statement hands over from {wanted}: "
                "this is not the org you named"
            )
    try:
        return rotation.follow(statements, pinned_key=trusted, current_key=current)
    except rotation.RotationError as exc:
        raise ClientError(
            f"refusing the server's org key {roster.fingerprint(current)}: {exc.diagnostics()}"
        ) from None


def _key_named(statements: list[bytes], wanted: str) -> bytes | None:
    for signed in statements:
        try:
            key = rotation.announced_old_key(signed)
        except rotation.RotationError:
            continue
        if roster.fingerprint(key) == wanted:
            return key
    return None


def earlier_keys(home: Home) -> list[bytes]:
    """The org keys this home followed rotations from, oldest first."""
    org = home.state().get("org") or {}
    return [base64.b64decode(key) for key in org.get("earlier", [])]


def pinned_key(home: Home) -> bytes:
    org = home.state().get("org")
    if not org:
        raise ClientError(f"{home.path} has no pinned org; run tvault login or tvault enroll")
    return base64.b64decode(org["public_key"])


def _save_identity(
    home: Home, name: str, ident: identity.DeviceIdentity, *, passphrase: str, profile: KdfProfile
) -> None:
    home.ensure()
    path = home.path / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as sink:
        identity.save(ident, sink, passphrase=passphrase, profile=profile)


def save_identity(
    home: Home, name: str, ident: identity.DeviceIdentity, *, passphrase: str, profile: KdfProfile
) -> None:
    """Write an identity file (mode 0600, never over an existing one)."""
    try:
        _save_identity(home, name, ident, passphrase=passphrase, profile=profile)
    except FileExistsError:
        raise ClientError(f"{home.path / name} exists already; use another --home") from None


def load_identity(home: Home, name: str, *, passphrase: str) -> identity.DeviceIdentity:
    path = home.path / name
    try:
        with path.open("rb") as source:
            return identity.load(source, passphrase=passphrase)
    except FileNotFoundError:
        raise ClientError(f"{path} does not exist") from None
    except CryptoError as exc:
        raise ClientError(f"cannot open {path}: {exc.diagnostics()}") from None
