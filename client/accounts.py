"""`tvault login`, `logout`, `user add`, `user disable` and `enroll`."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Literal

from client import prompts
from client.errors import ClientError
from client.home import IDENTITY_FILE, Home
from client.http import Server
from client.org import pin, save_identity
from client.rosters import check_served, key_fingerprint
from crypto import enrolment, identity
from crypto.errors import CryptoError
from crypto.profile import KdfProfile


def login(server: Server, home: Home, *, fingerprint: str, username: str) -> dict[str, Any]:
    """Log in and keep the session token; refuse an org or roster that does not check."""
    pin(server, home, fingerprint)
    password = prompts.secret(prompts.PASSWORD, f"Password for {username}")
    code = prompts.secret(prompts.TOTP, "TOTP code")
    body = {"username": username, "password": password, "totp_code": code}
    session: dict[str, Any] = server.call("POST", "/auth/login", body)
    server.token = session["token"]
    try:
        org = server.call("GET", "/org", auth=True)
        staff = check_served(home, org.get("staff_roster"), kind="staff")
    except ClientError:
        server.call("POST", "/auth/logout", auth=True)
        raise
    home.save_session(session["token"])
    home.save_state(username=username)
    session["roster_version"] = None if staff is None else staff.version
    return session


def logout(server: Server, home: Home) -> bool:
    """End the session on the server and forget it here; False if there was none."""
    if server.token is None:
        return False
    try:
        server.call("POST", "/auth/logout", auth=True)
    finally:
        home.forget_session()
    return True


def add_user(server: Server, home: Home, *, username: str, role: str) -> dict[str, Any]:
    """Create the account and return its enrolment code, whose secret half stays here."""
    issued: dict[str, Any] = server.call(
        "POST", "/admin/users", {"username": username, "role": role}, auth=True
    )
    secret_half = enrolment.new_secret_half()
    home.remember_enrolment(issued["code_id"], username=username, secret_half=secret_half)
    code = enrolment.EnrolmentCode(issued["code_id"], issued["server_half"], secret_half)
    return {**issued, "enrolment_code": str(code)}


def disable_user(server: Server, *, username: str) -> None:
    server.call("POST", f"/admin/users/{username}/disable", auth=True)


@dataclass(frozen=True)
class Enrolled:
    username: str
    role: str
    totp_secret: str
    recipient: str | None
    key_fingerprint: str


def enroll(
    server: Server,
    home: Home,
    *,
    fingerprint: str,
    username: str,
    code: str,
    profile: KdfProfile,
) -> Enrolled:
    """Pin the org, make this account's identity, and enrol its public keys."""
    org = pin(server, home, fingerprint)
    try:
        parsed = enrolment.parse_code(code)
    except CryptoError as exc:
        raise ClientError(exc.diagnostics()) from None
    halves = {"code_id": parsed.code_id, "server_half": parsed.server_half, "username": username}
    role = server.call("POST", "/enrol/lookup", halves)["role"]
    if (home.path / IDENTITY_FILE).exists():
        raise ClientError(f"{home.path / IDENTITY_FILE} exists already; use another --home")
    kind: Literal["pq", "x25519", "none"] = "none"
    if role in ("intake", "caseworker"):
        served = org["policy"].get("recipient_type")
        if served not in ("pq", "x25519"):
            raise ClientError(f"the org's recipient type {served} is not supported")
        kind = "pq" if served == "pq" else "x25519"
    password = prompts.secret(prompts.PASSWORD, f"New password for {username}", confirm=True)
    passphrase = prompts.secret(
        prompts.PASSPHRASE, "Passphrase for your identity file", confirm=True
    )
    ident = identity.generate(kind)
    recipient = None if ident.age_identity is None else ident.recipient
    totp_secret = prompts.new_totp_secret()
    mac = enrolment.enrolment_mac(
        parsed.secret_half,
        code_id=parsed.code_id,
        username=username,
        recipient=recipient,
        verify_key=ident.verify_key_bytes,
    )
    server.call(
        "POST",
        "/enrol",
        {
            **halves,
            "password": password,
            "totp_secret": totp_secret,
            "totp_code": prompts.confirm_totp(totp_secret),
            "recipient": recipient,
            "verify_key": base64.b64encode(ident.verify_key_bytes).decode("ascii"),
            "mac": base64.b64encode(mac).decode("ascii"),
        },
    )
    save_identity(home, IDENTITY_FILE, ident, passphrase=passphrase, profile=profile)
    home.save_state(username=username)
    return Enrolled(
        username, role, totp_secret, recipient, key_fingerprint(recipient, ident.verify_key_bytes)
    )
