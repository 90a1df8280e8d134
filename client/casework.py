"""A caseworker's desk: the verified roster, who I am in it, my keys, and the records I hold.

Nothing the server says about people or keys is used until the staff roster it serves has
been verified against the pinned org key (`client.rosters.check_served`): recipients to
seal or grant to, verify keys to check replies with, and the log key that signs the fetch
proofs all come from that roster. The identity file is opened only when a key is needed,
and must be the one the roster names for this account.

Commands built on the desk: `tvault inbox`, `grant`, `revoke` and `case create|add|list`
(here); `open` (`client.opening`); `reply` (`client.replying`); `export`
(`client.exporting`).
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from client import prompts
from client.auditing import keep_checkpoint, kept_checkpoint
from client.errors import ClientError
from client.fetchproof import VerifiedFetch, follows, verify_fetch
from client.home import IDENTITY_FILE, Home
from client.logserver import LogServer
from client.org import load_identity
from client.rosters import RECIPIENT_ROLES, check_served
from crypto import age, messages
from crypto.envelope import display_name
from crypto.errors import CryptoError, NoIdentityMatchError, ProofError
from crypto.identity import DeviceIdentity
from crypto.roster import Roster

RECOVERY_HOLDER: Final = "recovery-recipient"
#: What a record, case or account id may look like (vault.audit.events.OPAQUE_ID_PATTERN):
#: ids from the server name files and URL paths here, so nothing else is accepted.
_ID: Final = re.compile(r"[A-Za-z0-9_-]{16,64}")
CASE_TYPE: Final = "tvault-case/v1"
#: Replies, follow-ups and case metadata are small; a larger plaintext is refused unread.
MAX_SMALL_PLAINTEXT: Final = 1 << 20


class RecordServer(LogServer):
    """A `LogServer` that also streams record payloads."""

    def __enter__(self) -> RecordServer:
        return self

    @contextmanager
    def payload(self, record: str, *, offset: int) -> Iterator[httpx.Response]:
        """The payload response from byte `offset` (206, or 200 if the server restarts
        from 0). Raises `ClientError` for a refusal or an unreachable server."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            with self._client.stream(
                "GET", f"/records/{record}/payload", headers=headers
            ) as response:
                if not response.is_success:
                    response.read()
                    raise ClientError(_refusal(self.url, response))
                yield response
        except httpx.HTTPError as exc:
            raise ClientError(
                f"the connection to {self.url} failed ({exc}); run the same command again "
                "to continue where it stopped"
            ) from None


def _refusal(url: str, response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return f"{url} refused ({response.status_code})" + (f": {detail}" if detail else "")


@dataclass(frozen=True)
class FetchedHeader:
    """My header of a record, served with a fetch proof that verified."""

    record: str
    header: bytes
    size: int
    kind: str
    parent: str | None
    holders: tuple[str, ...]
    proof: VerifiedFetch


@dataclass
class Desk:
    """One logged-in caseworker at one server, with the staff roster verified."""

    server: RecordServer
    home: Home
    roster: Roster
    me: dict[str, Any]
    _identity: DeviceIdentity | None = field(default=None, repr=False)

    @classmethod
    def sit(cls, server: RecordServer, home: Home) -> Desk:
        """Verify the served staff roster and find this account in it.

        Raises `ClientError` if there is no session, no roster, a roster that does not
        verify, or this account is not an intake or caseworker member of it.
        """
        org = server.call("GET", "/org", auth=True)
        roster = check_served(home, org.get("staff_roster"), kind="staff")
        if roster is None:
            raise ClientError("the org has published no staff roster yet")
        username = home.state().get("username")
        mine = [m for m in roster.members if m.get("username") == username]
        if not mine or mine[0].get("role") not in RECIPIENT_ROLES:
            raise ClientError(
                f"{username} is not an intake or caseworker member of the verified roster"
            )
        return cls(server, home, roster, mine[0])

    @property
    def fingerprint(self) -> str:
        return str(self.home.state()["org"]["fingerprint"])

    def identity(self) -> DeviceIdentity:
        """My identity file, opened once (passphrase from TVAULT_PASSPHRASE or a prompt),
        checked to hold the keys the roster names for me."""
        if self._identity is None:
            passphrase = prompts.secret(prompts.PASSPHRASE, "Passphrase for your identity file")
            opened = load_identity(self.home, IDENTITY_FILE, passphrase=passphrase)
            verify_key = base64.b64encode(opened.verify_key_bytes).decode("ascii")
            if opened.age_identity is None or (opened.recipient, verify_key) != (
                self.me.get("recipient"),
                self.me.get("verify_key"),
            ):
                raise ClientError(
                    "this home's identity file holds other keys than the roster names "
                    "for you; ask your admin to publish a roster with your keys"
                )
            self._identity = opened
        return self._identity

    def member(self, username: str) -> dict[str, Any]:
        """The roster member named `username`; `ClientError` if there is none."""
        for member in self.roster.members:
            if member.get("username") == username:
                return member
        raise ClientError(f"{username} is not in the verified roster")

    def names(self) -> dict[str, str]:
        return {str(m["id"]): str(m["username"]) for m in self.roster.members}

    def verify_keys(self) -> dict[str, bytes]:
        """Opaque id → Ed25519 verify key, for every member of the verified roster."""
        return {
            str(m["id"]): base64.b64decode(m["verify_key"])
            for m in self.roster.members
            if m.get("verify_key")
        }

    def recipients_of(self, holders: tuple[str, ...] | list[str]) -> list[str]:
        """The recipients, from the verified roster, of the `holders` that are in it."""
        by_id = {m["id"]: m.get("recipient") for m in self.roster.members}
        recovery = self.roster.policy.get("recovery_recipient")
        found = [recovery if h == RECOVERY_HOLDER else by_id.get(h) for h in holders]
        return list(dict.fromkeys(r for r in found if r))

    def open_small(self, sealed: bytes) -> bytes:
        """Decrypt a small whole age file (reply, follow-up, case) with my identity.

        Raises `NoIdentityMatchError` if it was not sealed to me, another `CryptoError`
        if it is damaged or larger than `MAX_SMALL_PLAINTEXT`."""
        identity = self.identity().age_identity
        assert identity is not None  # checked by identity()
        sink = _BoundedSink(MAX_SMALL_PLAINTEXT)
        age.decrypt(io.BytesIO(sealed), sink, [identity])
        return sink.getvalue()


class _BoundedSink(io.BytesIO):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit

    def write(self, data: Any) -> int:
        chunk = memoryview(data)
        if self.tell() + chunk.nbytes > self._limit:
            raise CryptoError("the sealed message is larger than any message")
        return super().write(chunk)


def seal_small(plaintext: bytes, recipients: list[str]) -> str:
    """A whole age file of `plaintext` to `recipients`, base64 for the wire."""
    out = io.BytesIO()
    age.encrypt(io.BytesIO(plaintext), out, recipients)
    return base64.b64encode(out.getvalue()).decode("ascii")


# --- headers and their fetch proofs --------------------------------------------------


def checked_id(value: str, what: str = "record") -> str:
    """`value` if it can be an id; `ClientError` otherwise (a path, say, from a server)."""
    if not _ID.fullmatch(value):
        raise ClientError(f"{display_name(value)!s} is not a {what} id")
    return value


def fetch_header(desk: Desk, record: str) -> FetchedHeader:
    """Fetch my header of `record` (the server logs the fetch) and verify its proof.

    The fetch proof must verify against the log key of the verified roster, and the
    checkpoint it comes with must extend the one this home kept before; it is then kept.
    Raises `ClientError` saying what failed; nothing of the answer is used before that.
    """
    # What this home verified before asking: the fetch entry must come after it.
    previous = kept_checkpoint(desk.home, desk.fingerprint)
    seen = 0 if previous is None else previous.tree_size
    served = desk.server.call("GET", f"/records/{checked_id(record)}/header", auth=True)
    if not isinstance(served, dict):
        raise ClientError("the server sent a malformed header answer")
    account = str(desk.me["id"])
    log = desk.roster.log_key
    try:
        proof = verify_fetch(served, record=record, account=account, log=log, seen=seen)
        if previous is not None:
            follows(
                previous,
                proof.checkpoint,
                lambda size1, size2: desk.server.consistency(size1=size1, size2=size2),
            )
        header = base64.b64decode(served["header"], validate=True)
        size, kind = int(served["size"]), str(served["kind"])
        holders = tuple(str(h) for h in served.get("holders") or ())
    except ProofError as exc:
        raise ClientError(
            f"refusing record {record}: its fetch proof does not verify ({exc}); "
            "the server may be hiding or forging log entries"
        ) from None
    except (KeyError, TypeError, ValueError):
        raise ClientError("the server sent a malformed header answer") from None
    if previous is None or proof.checkpoint.tree_size > previous.tree_size:
        keep_checkpoint(desk.home, desk.fingerprint, proof.checkpoint, proof.note)
    parent = served.get("parent")
    return FetchedHeader(
        record, header, size, kind, None if parent is None else str(parent), holders, proof
    )


def file_key(desk: Desk, fetched: FetchedHeader) -> bytes:
    """The file key in my header; `ClientError` if the header is not sealed to me."""
    identity = desk.identity().age_identity
    assert identity is not None  # checked by identity()
    try:
        return age.unwrap_file_key(fetched.header, [identity])
    except NoIdentityMatchError:
        raise ClientError(
            f"the header the server sent for {fetched.record} is not sealed to your key"
        ) from None


# --- inbox ----------------------------------------------------------------------------


def records(desk: Desk) -> list[dict[str, Any]]:
    """The records I hold, as `GET /records` lists them (not logged: ids and sizes)."""
    listed = desk.server.call("GET", "/records", auth=True)
    if not isinstance(listed, list) or not all(isinstance(r, dict) for r in listed):
        raise ClientError("the server sent a malformed record list")
    return listed


def inbox(desk: Desk) -> list[dict[str, Any]]:
    """The records I hold, each with its holders' usernames from the verified roster."""
    names = desk.names()
    return [
        {**record, "holder_names": [names.get(str(h), str(h)) for h in record.get("holders", [])]}
        for record in records(desk)
    ]


def attachments_of(desk: Desk, record: str) -> list[str]:
    """The ids of the records I hold whose parent is `record`, in the server's order."""
    return [checked_id(str(r["id"])) for r in records(desk) if r.get("parent") == record]


# --- grant and revoke -----------------------------------------------------------------


def _colleague(desk: Desk, username: str) -> dict[str, Any]:
    member = desk.member(username)
    if member.get("role") not in RECIPIENT_ROLES or not member.get("recipient"):
        raise ClientError(f"{username} is not an intake caseworker or caseworker")
    return member


def grant(desk: Desk, record: str, username: str) -> dict[str, bool]:
    """Give `username` my file key of `record` and of its attachments, re-wrapped to their
    recipient from the verified roster, with a statement I sign. Granting again is
    harmless. Returns record id → whether it was newly granted."""
    target = _colleague(desk, username)
    signing_key = desk.identity().signing_key
    done: dict[str, bool] = {}
    for rid in [record, *attachments_of(desk, record)]:
        key = file_key(desk, fetch_header(desk, rid))
        header = age.make_header(key, [str(target["recipient"])])
        statement = messages.sign_grant(
            record=rid,
            target=str(target["id"]),
            recipient=str(target["recipient"]),
            author=str(desk.me["id"]),
            signing_key=signing_key,
        )
        body = {
            "target": target["id"],
            "header": base64.b64encode(header).decode("ascii"),
            "statement": statement.decode("utf-8"),
        }
        answer = desk.server.call("POST", f"/records/{rid}/grants", body, auth=True)
        done[rid] = bool(answer.get("granted")) if isinstance(answer, dict) else False
    return done


def revoke(desk: Desk, record: str, username: str) -> dict[str, bool]:
    """Remove `username`'s headers of `record` and its attachments. Revoking what they do
    not hold is harmless, as granting twice is. Returns record id → whether it was held."""
    target = checked_id(str(_colleague(desk, username)["id"]), "account")
    listed = {str(r["id"]): r for r in records(desk)}
    done: dict[str, bool] = {}
    for rid in [record, *attachments_of(desk, record)]:
        held = listed.get(rid)
        if held is not None and target not in held.get("holders", []):
            done[rid] = False
            continue
        desk.server.call("DELETE", f"/records/{checked_id(rid)}/grants/{target}", auth=True)
        done[rid] = True
    return done


# --- cases ----------------------------------------------------------------------------


def create_case(desk: Desk, name: str, note: str) -> str:
    """A case whose name and note are sealed to my own recipient; returns its id."""
    metadata = json.dumps({"type": CASE_TYPE, "name": name, "note": note}).encode("utf-8")
    sealed = seal_small(metadata, [desk.identity().recipient])
    created = desk.server.call("POST", "/cases", {"sealed": sealed}, auth=True)
    return str(created["id"])


def add_to_case(desk: Desk, case: str, record: str) -> None:
    path = f"/cases/{checked_id(case, 'case')}/records"
    desk.server.call("POST", path, {"record": checked_id(record)}, auth=True)


def list_cases(desk: Desk) -> list[dict[str, Any]]:
    """My cases, their metadata opened; one that does not open says so instead."""
    served = desk.server.call("GET", "/cases", auth=True)
    if not isinstance(served, list):
        raise ClientError("the server sent a malformed case list")
    cases = []
    for case in served:
        entry: dict[str, Any] = {"id": case.get("id"), "records": case.get("records", [])}
        try:
            metadata = json.loads(desk.open_small(base64.b64decode(case["sealed"])))
            if not isinstance(metadata, dict) or metadata.get("type") != CASE_TYPE:
                raise ValueError("not a case")
            entry |= {"name": str(metadata.get("name")), "note": str(metadata.get("note"))}
        except (CryptoError, KeyError, TypeError, ValueError):
            entry |= {"name": None, "note": None, "unreadable": True}
        cases.append(entry)
    return cases


def case_records(desk: Desk, case: str) -> list[str]:
    """The record ids of my case `case`; `ClientError` if I have no such case."""
    for entry in list_cases(desk):
        if entry["id"] == case:
            return [str(r) for r in entry["records"]]
    raise ClientError(f"you have no case {case}")
