"""Checking the rosters a server serves, and `tvault roster publish`.

A client trusts a roster only after `crypto.roster` verified it against the pinned org
key, and only if it is not older than the newest version this home has seen, has not
expired and names a log key.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from client.errors import ClientError
from client.home import ORG_KEY_FILE, Home
from client.http import Server
from client.org import earlier_keys, load_identity, pinned_key
from crypto import enrolment, note, roster
from crypto.roster import Roster, RosterError

RECIPIENT_ROLES = ("intake", "caseworker")


def today() -> Any:
    return datetime.now(UTC).date()


def check_served(
    home: Home, signed: str | None, *, kind: Literal["staff", "public"]
) -> Roster | None:
    """Verify a served roster against the pinned org and the last version seen, and
    remember its version. None if the server has no roster yet."""
    if signed is None:
        return None
    state = home.state()
    try:
        opened = roster.open_roster(
            signed.encode("utf-8"), org_public_key=pinned_key(home), kind=kind
        )
        roster.check_roster(opened, last_version=state.get("roster_version"), today=today())
    except RosterError as exc:
        raise ClientError(f"refusing the server's roster: {exc.diagnostics()}") from None
    home.save_state(roster_version=opened.version)
    return opened


def key_fingerprint(recipient: str | None, verify_key: bytes) -> str:
    """What an enrolling user and the admin compare: a short hash of both public keys."""
    digest = hashlib.sha256(f"{recipient or ''}\n".encode() + verify_key).digest()[:10]
    text = base64.b32encode(digest).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def publish(
    server: Server,
    home: Home,
    *,
    passphrase: str,
    valid_days: int,
    confirm: Callable[[list[dict[str, Any]]], bool],
) -> int:
    """Check each enrolment, let the admin confirm the fingerprints, sign and upload.

    Raises `ClientError` if a MAC does not verify (the server swapped a key), if the
    server has no log key, or if the admin declines.
    """
    org = server.call("GET", "/org", auth=True)
    if base64.b64decode(org["public_key"]) != pinned_key(home):
        raise ClientError("the server presents another org key than the one pinned here")
    current, verified_before = _current(home, org.get("staff_roster"))
    log_key = org.get("log_key")
    if not log_key:
        raise ClientError("the server has no log key yet, and a roster must name one")
    try:
        note.parse_verifier_key(log_key)
    except Exception:
        raise ClientError("the server's log key is malformed") from None
    policy = home.state().get("policy") or org["policy"]
    members = _checked_members(
        home,
        server.call("GET", "/admin/members", auth=True),
        current if verified_before else None,
    )
    recovery = policy.get("recovery_recipient")
    for member in [*members, {"username": "the recovery recipient", "recipient": recovery}]:
        recipient = member["recipient"]
        if (
            recipient is not None
            and enrolment.recipient_kind(recipient) != policy["recipient_type"]
        ):
            raise ClientError(
                f"{member['username']} enrolled a recipient that is not of the org's type "
                f"({policy['recipient_type']}); nothing published"
            )
    if not confirm(members):
        raise ClientError("not published")
    version = 1 if current is None else current.version + 1
    issued = today()
    common = {
        "org": {"name": org["name"], "fingerprint": org["fingerprint"]},
        "version": version,
        "issued": issued.isoformat(),
        "expires": (issued + timedelta(days=valid_days)).isoformat(),
        "policy": {k: policy[k] for k in ("recipient_type", "recovery_recipient") if k in policy},
        "log_key": log_key,
    }
    staff = {"type": roster.STAFF_TYPE, **common, "members": [_entry(m) for m in members]}
    public = {
        "type": roster.PUBLIC_TYPE,
        **common,
        "intake": [
            {"id": m["id"], "recipient": m["recipient"]} for m in members if m["role"] == "intake"
        ],
        # Verify keys without names, so a source can check who signed a reply
        # (docs/submissions.md, "The roster").
        "staff_keys": [
            {"id": m["id"], "verify_key": m["verify_key"]}
            for m in members
            if m["role"] in RECIPIENT_ROLES and m["verify_key"] is not None
        ],
    }
    signer = note.Signer(
        roster.ORG_KEY_NAME, load_identity(home, ORG_KEY_FILE, passphrase=passphrase).signing_key
    )
    body = {
        "staff": roster.sign_roster(staff, signer).decode("utf-8"),
        "public": roster.sign_roster(public, signer).decode("utf-8"),
    }
    published = server.call("POST", "/admin/roster", body, auth=True)
    home.save_state(roster_version=published["version"])
    return int(published["version"])


def _current(home: Home, signed: str | None) -> tuple[Roster | None, bool]:
    """The roster now served, and whether the pinned key signed it.

    Right after `org rotate-key` the served roster is still the one the previous key
    signed: it sets the next version, but its members are not trusted to skip the MAC
    checks, so the first roster under a new key re-checks every enrolment.
    """
    try:
        return check_served(home, signed, kind="staff"), True
    except ClientError:
        if signed is None:
            raise
        for key in reversed(earlier_keys(home)):
            try:
                opened = roster.open_roster(signed.encode(), org_public_key=key, kind="staff")
            except RosterError:
                continue
            last = home.state().get("roster_version")
            try:
                roster.check_roster(opened, last_version=last, today=today())
            except RosterError as exc:
                raise ClientError(f"refusing the server's roster: {exc.diagnostics()}") from None
            return opened, False
        raise


def _entry(member: dict[str, Any]) -> dict[str, Any]:
    return {k: member[k] for k in ("id", "username", "role", "recipient", "verify_key")}


def _checked_members(
    home: Home, served: list[dict[str, Any]], current: Roster | None
) -> list[dict[str, Any]]:
    secrets = home.enrolment_secrets()
    before = {} if current is None else {m["id"]: m for m in current.members}
    members = []
    for member in served:
        if member["disabled"] or not member["enrolled"]:
            continue
        keys = member["keys"]
        entry = {
            "id": member["id"],
            "username": member["username"],
            "role": member["role"],
            "recipient": None,
            "verify_key": None,
        }
        if keys is not None:
            _check_mac(member, keys, secrets, before.get(member["id"]))
            verify_key = base64.b64decode(keys["verify_key"])
            entry["recipient"] = keys["recipient"] if member["role"] in RECIPIENT_ROLES else None
            entry["verify_key"] = keys["verify_key"]
            entry["fingerprint"] = key_fingerprint(keys["recipient"], verify_key)
        elif member["role"] != "admin":
            continue  # enrolled without keys cannot happen for these roles; leave it out
        members.append(entry)
    return members


def _check_mac(
    member: dict[str, Any],
    keys: dict[str, Any],
    secrets: dict[str, dict[str, str]],
    before: dict[str, Any] | None,
) -> None:
    if before is not None and (before["recipient"], before["verify_key"]) == (
        keys["recipient"] if member["role"] in RECIPIENT_ROLES else None,
        keys["verify_key"],
    ):
        return  # these keys are in the roster this admin's client already verified
    kept = secrets.get(keys["code_id"])
    if kept is None or kept["username"] != member["username"]:
        raise ClientError(
            f"no enrolment code for {member['username']} was issued from this home, so "
            "its keys cannot be checked; add the user again from here"
        )
    expected = enrolment.enrolment_mac(
        kept["secret_half"],
        code_id=keys["code_id"],
        username=member["username"],
        recipient=keys["recipient"],
        verify_key=base64.b64decode(keys["verify_key"]),
    )
    if not enrolment.mac_matches(expected, base64.b64decode(keys["mac"])):
        raise ClientError(
            f"the keys the server holds for {member['username']} do not match what they "
            "enrolled: the server (or someone on the way) swapped them. Nothing published."
        )
