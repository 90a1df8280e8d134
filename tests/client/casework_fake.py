"""An in-memory vault speaking the caseworker's half of docs/submissions.md, for unit tests.

It uses the real crypto (org key, signed roster, a Merkle log with signed checkpoints,
age sealing, commitments) so that the client's checks run for real, and it can be told
to misbehave as a malicious server would: swap a payload, serve a fetch without logging
it, roll its log back, forge a reply. Clients talk to it through `httpx.MockTransport`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import secrets
import tarfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client.casework import Desk, RecordServer
from client.home import IDENTITY_FILE, Home
from client.org import save_identity
from crypto import age, identity, messages, note, roster
from crypto.checkpoint import Checkpoint, sign_checkpoint
from crypto.commitment import commit
from crypto.envelope import seal_report_plaintext, write_attachment
from crypto.merkle.memory import MemoryTree
from crypto.merkle.rfc6962 import hash_leaf
from crypto.profile import weak_test_profile
from vault.report import encode_report, parse_report, template

URL = "https://vault.test"
PASSPHRASE = "fake vault identity passphrase"
DAY = date.today().isoformat()


def new_id() -> str:
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")


@dataclass
class Record:
    kind: str
    parent: str | None
    payload: bytes
    headers: dict[str, bytes]
    submitted: int
    replies: list[dict[str, Any]] = field(default_factory=list)
    followups: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Source:
    """What the source keeps: its reply identity and follow-up key."""

    reply_identity: str
    followup_key: bytes
    report: str
    attachments: list[str]


class FakeVault:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.org = note.Signer(roster.ORG_KEY_NAME, Ed25519PrivateKey.generate())
        self.log = note.Signer.generate("testimony-vault/fake" + secrets.token_hex(6))
        self.tree = MemoryTree()
        self.entries: list[bytes] = []
        self.tokens: dict[str, str] = {}
        self.members: list[dict[str, Any]] = []
        self.identities: dict[str, identity.DeviceIdentity] = {}
        self.ids: dict[str, str] = {}
        self.records: dict[str, Record] = {}
        self.cases: dict[str, dict[str, Any]] = {}
        self.exports: list[str] = []
        self.version = 0
        self.signed_roster = ""
        # Misbehaviour switches, as a malicious server would.
        self.swap_payload = False
        self.unlogged_fetch = False
        self.checkpoint_size: int | None = None
        self.drop_after: int | None = None
        self.ranges: list[str | None] = []

    # --- people --------------------------------------------------------------------

    def enrol(self, username: str, role: str) -> Home:
        """An account with an identity, a session and a home pinned to this org."""
        account = new_id()
        ident = identity.generate("x25519" if role in ("intake", "caseworker") else "none")
        self.identities[username], self.ids[username] = ident, account
        token = secrets.token_hex(16)
        self.tokens[token] = account
        self.members.append(
            {
                "id": account,
                "username": username,
                "role": role,
                "recipient": ident.recipient if ident.age_identity else None,
                "verify_key": base64.b64encode(ident.verify_key_bytes).decode("ascii"),
            }
        )
        home = Home(self.tmp_path / username)
        public = self.org.verifier.public_key
        home.save_state(
            server=URL,
            org={
                "fingerprint": roster.fingerprint(public),
                "public_key": base64.b64encode(public).decode("ascii"),
            },
            username=username,
        )
        home.save_session(token)
        profile = weak_test_profile(insecure_test_only=True)
        save_identity(home, IDENTITY_FILE, ident, passphrase=PASSPHRASE, profile=profile)
        return home

    @property
    def fingerprint(self) -> str:
        return roster.fingerprint(self.org.verifier.public_key)

    def publish(self) -> None:
        self.version += 1
        document = {
            "type": roster.STAFF_TYPE,
            "org": {
                "name": "Fake",
                "fingerprint": roster.fingerprint(self.org.verifier.public_key),
            },
            "version": self.version,
            "issued": DAY,
            "expires": (date.today() + timedelta(days=30)).isoformat(),
            "policy": {"recipient_type": "x25519"},
            "log_key": self.log.verifier.vkey,
            "members": self.members,
        }
        self.signed_roster = roster.sign_roster(document, self.org).decode("utf-8")

    def desk(self, username: str) -> Desk:
        home = Home(self.tmp_path / username)
        token = home.session_token()
        server = RecordServer(URL, proxy=None, token=token)
        server._client = httpx.Client(
            base_url=URL + "/v1", transport=httpx.MockTransport(self.handle)
        )
        return Desk.sit(server, home)

    def recipient(self, username: str) -> str:
        return self.identities[username].recipient

    # --- the log -------------------------------------------------------------------

    def append(self, **event: Any) -> int:
        entry = roster.canonical_json({"day": DAY, **event})
        self.entries.append(entry)
        self.tree.append(hash_leaf(entry))
        return len(self.entries) - 1

    def checkpoint(self, size: int) -> str:
        head = Checkpoint(self.log.name, size, self.tree.root(size))
        return sign_checkpoint(head, self.log).decode("utf-8")

    # --- a source submits ------------------------------------------------------------

    def _seal(self, kind: str, plaintext: bytes, holders: list[str], parent: str | None) -> str:
        rid = new_id()
        payload = io.BytesIO()
        sealed = age.seal(io.BytesIO(plaintext), payload, [self.recipient(h) for h in holders])
        by_id = {self.ids[h]: sealed.headers[self.recipient(h)] for h in holders}
        digest = hashlib.sha256(payload.getvalue()).digest()
        commitment = commit(file_key=sealed.file_key, payload_sha256=digest).hex()
        index = self.append(
            action="record.submitted",
            actor="anonymous",
            record=rid,
            commitment=commitment,
            holders=sorted(by_id),
        )
        self.records[rid] = Record(kind, parent, payload.getvalue(), by_id, index)
        return rid

    def submit(
        self,
        *,
        holders: list[str],
        files: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
        envelopes: list[bytes] = (),  # type: ignore[assignment]
        consent: dict[str, bool] | None = None,
    ) -> Source:
        """A report with attachments (real files, or raw envelopes a hostile source
        crafted), sealed to `holders`; the attachments are sealed first to name them."""
        reply_identity = age.generate_identity("x25519")
        followup_key = secrets.token_bytes(32)
        plains = [_envelope(name, data) for name, data in files] + list(envelopes)
        placeholder = "0" * 26
        attachment_ids = [self._seal("attachment", p, holders, placeholder) for p in plains]
        document = json.loads(template("ko"))
        document["reply"] = {
            "recipient": age.recipient_of(reply_identity),
            "followup_mac_check": followup_key.hex(),
        }
        document["attachments"] = [{"record": rid} for rid in attachment_ids] or None
        if consent is not None:
            document["consent"] = consent
        report = parse_report(json.dumps(document))
        rid = self._seal("report", seal_report_plaintext(encode_report(report)), holders, None)
        for attachment in attachment_ids:
            self.records[attachment].parent = rid
        return Source(reply_identity, followup_key, rid, attachment_ids)

    def follow_up(self, source: Source, text: bytes, *, to: list[str], forge: bool = False) -> None:
        record = self.records[source.report]
        sequence = len(record.followups) + 1
        out = io.BytesIO()
        age.encrypt(io.BytesIO(text), out, [self.recipient(u) for u in to])
        sealed = out.getvalue()
        message = messages.followup_message(
            record=source.report, sequence=sequence, sealed_sha256=hashlib.sha256(sealed).digest()
        )
        key = os.urandom(32) if forge else source.followup_key
        mac = hmac.digest(key, message, "sha256").hex()
        record.followups.append(
            {"sequence": sequence, "sealed": base64.b64encode(sealed).decode(), "mac": mac}
        )

    # --- HTTP ----------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v1")
        if path.startswith("/log/proof/consistency"):
            size1, size2 = (int(request.url.params[k]) for k in ("size1", "size2"))
            proof = self.tree.consistency_proof(size1=size1, size2=size2)
            return httpx.Response(200, json={"hashes": [_b64(h) for h in proof]})
        account = self.tokens.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
        if account is None:
            return _problem(401, "not logged in")
        if path == "/org":
            return httpx.Response(200, json={"staff_roster": self.signed_roster})
        parts = path.strip("/").split("/")
        body = json.loads(request.content) if request.content else None
        if parts[0] == "records":
            return self._records(request, account, parts[1:], body)
        if parts[0] == "cases":
            return self._cases(request.method, account, parts[1:], body)
        return _problem(404, "no such route")

    def _records(
        self, request: httpx.Request, account: str, parts: list[str], body: Any
    ) -> httpx.Response:
        if not parts:
            held = [
                {
                    "id": rid,
                    "kind": r.kind,
                    "parent": r.parent,
                    "size": len(r.payload),
                    "day": DAY,
                    "log_index": r.submitted,
                    "holders": sorted(r.headers),
                }
                for rid, r in self.records.items()
                if account in r.headers
            ]
            return httpx.Response(200, json=held)
        rid, what = parts[0], parts[1]
        record = self.records.get(rid)
        if record is None or account not in record.headers:
            self.append(action="refused", actor=account, reason="not-a-holder", record=rid)
            return _problem(404, "no such record")
        if what == "header":
            return self._header(rid, record, account)
        if what == "payload":
            return self._payload(request, record)
        if what == "thread":
            return httpx.Response(
                200, json={"replies": record.replies, "followups": record.followups}
            )
        if what == "replies":
            sequence = len(record.replies) + 1
            record.replies.append(
                {"sequence": sequence, "sealed": body["sealed"], "author": account}
            )
            return httpx.Response(201, json={"sequence": sequence})
        if what == "grants" and request.method == "POST":
            new = body["target"] not in record.headers
            messages.open_grant(body["statement"].encode(), verify_keys=self._verify_keys())
            record.headers[body["target"]] = base64.b64decode(body["header"])
            self.append(action="record.granted", actor=account, record=rid, target=body["target"])
            return httpx.Response(201 if new else 200, json={"granted": new})
        if what == "grants":
            record.headers.pop(parts[2], None)
            self.append(action="record.revoked", actor=account, record=rid, target=parts[2])
            return httpx.Response(204)
        if what == "exports":
            self.exports.append(rid)
            return httpx.Response(201, json={})
        return _problem(404, "no such route")

    def _verify_keys(self) -> dict[str, bytes]:
        return {m["id"]: base64.b64decode(m["verify_key"]) for m in self.members}

    def _header(self, rid: str, record: Record, account: str) -> httpx.Response:
        fetch = self.append(action="record.fetched", actor=account, record=rid, part="header")
        if self.unlogged_fetch:  # serve the proof of an older entry as if it were this one
            fetch = record.submitted
        size = self.checkpoint_size or len(self.entries)
        return httpx.Response(
            200,
            json={
                "header": _b64(record.headers[account]),
                "size": len(record.payload),
                "kind": record.kind,
                "parent": record.parent,
                "holders": sorted(record.headers),
                "submitted": self._proved(record.submitted, size),
                "fetch": {
                    **self._proved(fetch, size),
                    "tree_size": size,
                    "checkpoint": self.checkpoint(size),
                },
            },
        )

    def _proved(self, index: int, size: int) -> dict[str, Any]:
        proof = self.tree.inclusion_proof(index=index, tree_size=size)
        return {
            "index": index,
            "entry": _b64(self.entries[index]),
            "proof": [_b64(h) for h in proof],
        }

    def _payload(self, request: httpx.Request, record: Record) -> httpx.Response:
        payload = record.payload
        if self.swap_payload:
            payload = payload[:-1] + bytes([payload[-1] ^ 1])
        self.ranges.append(request.headers.get("Range"))
        start = int(request.headers.get("Range", "bytes=0-").removeprefix("bytes=").rstrip("-"))
        end = len(payload) if self.drop_after is None else min(len(payload), self.drop_after)
        status = 206 if start else 200
        return httpx.Response(status, content=payload[start:end])

    def _cases(self, method: str, account: str, parts: list[str], body: Any) -> httpx.Response:
        if method == "POST" and not parts:
            case = new_id()
            self.cases[case] = {"owner": account, "sealed": body["sealed"], "records": []}
            return httpx.Response(201, json={"id": case})
        if method == "POST":
            self.cases[parts[0]]["records"].append(body["record"])
            return httpx.Response(201, json={})
        mine = [
            {"id": cid, "sealed": c["sealed"], "records": c["records"]}
            for cid, c in self.cases.items()
            if c["owner"] == account
        ]
        return httpx.Response(200, json=mine)


def staffed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeVault:
    """A vault with an intake caseworker in1, a caseworker cw2 and an auditor au1, its
    roster published; identity files open with TVAULT_PASSPHRASE."""
    monkeypatch.setenv("TVAULT_PASSPHRASE", PASSPHRASE)
    fake = FakeVault(tmp_path)
    for user, role in [("in1", "intake"), ("cw2", "caseworker"), ("au1", "auditor")]:
        fake.enrol(user, role)
    fake.publish()
    return fake


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _problem(status: int, detail: str) -> httpx.Response:
    return httpx.Response(status, json={"title": "refused", "status": status, "detail": detail})


def _envelope(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    write_attachment(io.BytesIO(data), out, name=name, size=len(data))
    return out.getvalue()


def hostile_tar(*members: tuple[str, bytes, bytes]) -> bytes:
    """A tar archive of (name, type, data) members, as a hostile source could make."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = "/etc/passwd"
            else:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return out.getvalue()
