"""An in-memory vault speaking the source's half of docs/submissions.md, for unit tests.

Real crypto throughout (org key, signed public roster with staff_keys, proof-of-work
tokens, a Merkle log with signed checkpoints, age), so the client's checks run for real;
switches make it misbehave: drop connections, lose acknowledgements, forge a reply,
refuse sizes. Clients reach it through `httpx.MockTransport`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client.source import SourceServer
from crypto import age, identity, messages, note, pow, roster
from crypto.checkpoint import Checkpoint, sign_checkpoint
from crypto.codename import lookup_hash, verify_followup
from crypto.commitment import commit
from crypto.envelope import open_attachment, open_report_plaintext
from crypto.merkle.memory import MemoryTree
from crypto.merkle.rfc6962 import hash_leaf

URL = "https://vault.test"
DAY = date.today().isoformat()
POW_KEY = bytes(range(32))


def new_id() -> str:
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")


@dataclass
class Staged:
    kind: str
    size: int
    data: bytearray = field(default_factory=bytearray)
    commitment: str | None = None
    headers: dict[str, bytes] = field(default_factory=dict)
    log_index: int | None = None
    replies: list[dict[str, Any]] = field(default_factory=list)
    followups: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Submission:
    records: list[str]
    complete: bool = False
    lookup_hash: str | None = None


class SourceVault:
    def __init__(self, *, kind: str = "x25519", chunk_bytes: int = 64 * 1024) -> None:
        self.kind = kind
        self.org = note.Signer(roster.ORG_KEY_NAME, Ed25519PrivateKey.generate())
        self.log = note.Signer.generate("testimony-vault/fake-" + secrets.token_hex(4))
        self.tree = MemoryTree()
        self.entries: list[bytes] = []
        self.chunk_bytes = chunk_bytes
        self.staff: dict[str, identity.DeviceIdentity] = {}
        self.intake: list[str] = []
        self.submissions: dict[str, Submission] = {}
        self.records: dict[str, Staged] = {}
        self.redeemed: set[bytes] = set()
        self.requests: list[str] = []
        self.max_size = 1 << 30
        # Misbehaviour: drop the connection before storing (`drop`) or after storing
        # (`lose_ack`) the PUT numbers listed, counted from 1.
        self.drop: set[int] = set()
        self.lose_ack: set[int] = set()
        # Before the PUT numbers listed, the server loses the last 1000 bytes it held.
        self.forget: set[int] = set()
        self.conflicts = 0
        # The PUT numbers listed answer 429, as a server over its anonymous rate does.
        self.busy: set[int] = set()
        # How many times the answer to POST /submissions is lost after staging it.
        self.lose_created = 0
        # How many GET requests, from the first, fail as a dropped connection (a Tor
        # circuit that breaks before the org is even fetched).
        self.drop_gets = 0
        self.puts = 0
        self.roster_text = ""
        self.version = 0
        for name in ("in1", "in2"):
            self.add_staff(name, intake=True)
        self.add_staff("cw1", intake=False)
        self.publish()

    # --- org -------------------------------------------------------------------------

    def add_staff(self, name: str, *, intake: bool) -> str:
        ident = identity.generate(self.kind)  # type: ignore[arg-type]
        account = new_id()
        self.staff[account] = ident
        if intake:
            self.intake.append(account)
        return account

    @property
    def fingerprint(self) -> str:
        return roster.fingerprint(self.org.verifier.public_key)

    def publish(self, *, intake: list[str] | None = None, expires_in: int = 30) -> None:
        self.version += 1
        ids = self.intake if intake is None else intake
        document = {
            "type": roster.PUBLIC_TYPE,
            "org": {"name": "Fake", "fingerprint": self.fingerprint},
            "version": self.version,
            "issued": DAY,
            "expires": (date.today() + timedelta(days=expires_in)).isoformat(),
            "policy": {"recipient_type": self.kind},
            "log_key": self.log.verifier.vkey,
            "intake": [{"id": i, "recipient": self.staff[i].recipient} for i in ids],
            "staff_keys": [
                {"id": i, "verify_key": base64.b64encode(s.verify_key_bytes).decode()}
                for i, s in self.staff.items()
            ],
        }
        self.roster_text = roster.sign_roster(document, self.org).decode("utf-8")

    def server(self) -> SourceServer:
        server = SourceServer(URL, proxy=None)
        server._client = httpx.Client(
            base_url=URL + "/v1", transport=httpx.MockTransport(self.handle)
        )
        return server

    # --- what holders see ------------------------------------------------------------

    def open_record(self, rid: str, holder: str) -> bytes:
        """The plaintext of record `rid` opened by `holder`, commitment checked."""
        record = self.records[rid]
        ident = self.staff[holder].age_identity
        assert ident is not None
        out = io.BytesIO()
        age.decrypt(io.BytesIO(record.headers[holder] + bytes(record.data)), out, [ident])
        key = age.unwrap_file_key(record.headers[holder], [ident])
        digest = hashlib.sha256(bytes(record.data)).digest()
        assert commit(file_key=key, payload_sha256=digest).hex() == record.commitment
        return out.getvalue()

    def report_of(self, rid: str) -> dict[str, Any]:
        doc = open_report_plaintext(self.open_record(rid, self.intake[0]))
        value: dict[str, Any] = json.loads(doc)
        return value

    def attachment_of(self, rid: str, out_dir: Any) -> Any:
        return open_attachment(io.BytesIO(self.open_record(rid, self.intake[0])), out_dir)

    def reply(
        self, report: str, text: str, *, author: str | None = None, forge: bool = False
    ) -> None:
        """Post a reply by `author` (default: the first intake) to the source of `report`."""
        author = author or self.intake[0]
        record = self.records[report]
        sequence = len(record.replies) + 1
        key = Ed25519PrivateKey.generate() if forge else self.staff[author].signing_key
        signed = messages.sign_reply(
            record=report, sequence=sequence, author=author, message=text, signing_key=key
        )
        doc = json.loads(open_report_plaintext(self.open_record(report, self.intake[0])))
        out = io.BytesIO()
        age.encrypt(io.BytesIO(signed), out, [doc["reply"]["recipient"]])
        record.replies.append({"sequence": sequence, "sealed": out.getvalue()})

    def check_followup(self, report: str, sequence: int) -> bytes:
        """The follow-up's plaintext, after checking its MAC against the report's check."""
        item = self.records[report].followups[sequence - 1]
        doc = json.loads(open_report_plaintext(self.open_record(report, self.intake[0])))
        message = messages.followup_message(
            record=report,
            sequence=sequence,
            sealed_sha256=hashlib.sha256(item["sealed"]).digest(),
        )
        verify_followup(
            check=bytes.fromhex(doc["reply"]["followup_mac_check"]),
            message=message,
            mac=item["mac"],
        )
        ident = self.staff[self.intake[0]].age_identity
        assert ident is not None
        out = io.BytesIO()
        age.decrypt(io.BytesIO(item["sealed"]), out, [ident])
        return out.getvalue()

    # --- the log ---------------------------------------------------------------------

    def append(self, **event: Any) -> int:
        entry = roster.canonical_json({"day": DAY, **event})
        self.entries.append(entry)
        self.tree.append(hash_leaf(entry))
        return len(self.entries) - 1

    def checkpoint(self) -> str:
        size = len(self.entries)
        head = Checkpoint(self.log.name, size, self.tree.root(size))
        return sign_checkpoint(head, self.log).decode("utf-8")

    def proof(self, index: int, size: int) -> list[str]:
        return [
            base64.b64encode(h).decode()
            for h in self.tree.inclusion_proof(index=index, tree_size=size)
        ]

    # --- routes ------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path.removeprefix("/v1"), request.method
        self.requests.append(f"{method} {path}")
        if method == "GET" and self.drop_gets > 0:
            self.drop_gets -= 1
            raise httpx.ConnectError("dropped")
        body: Any = json.loads(request.content) if request.content and method == "POST" else {}
        if path == "/org":
            public = self.org.verifier.public_key
            return httpx.Response(
                200,
                json={
                    "fingerprint": self.fingerprint,
                    "public_key": base64.b64encode(public).decode(),
                    "policy": {"recipient_type": self.kind},
                    "roster": self.roster_text,
                },
            )
        if path == "/org/rotations":
            return httpx.Response(200, json={"statements": []})
        if path == "/tokens":
            token = pow.issue(POW_KEY, bits=4, now=time.time())
            return httpx.Response(201, json={"token": token, "bits": 4})
        if path == "/submissions" and method == "POST":
            return self._create(body)
        if path == "/log/checkpoint":
            return httpx.Response(200, text=self.checkpoint())
        if path == "/log/proof/inclusion":
            index, size = int(request.url.params["index"]), int(request.url.params["tree_size"])
            return httpx.Response(
                200, json={"index": index, "tree_size": size, "hashes": self.proof(index, size)}
            )
        if path == "/sources/lookup":
            return self._lookup(body)
        if path == "/sources/followups":
            return self._followup(body)
        if match := re.fullmatch(r"/submissions/(\w+)/records/(\w+)/payload", path):
            return self._put(match[1], match[2], int(request.url.params["offset"]), request.content)
        if match := re.fullmatch(r"/submissions/(\w+)/complete", path):
            return self._complete(match[1], body)
        if match := re.fullmatch(r"/submissions/(\w+)", path):
            return self._status(match[1])
        return problem(404, "no such route")

    def _create(self, body: dict[str, Any]) -> httpx.Response:
        records = body["records"]
        binding = hashlib.sha256(roster.canonical_json(records)).digest()
        token = body["pow"]["token"]
        try:
            pow.verify(
                POW_KEY, token, binding=binding, counter=body["pow"]["counter"], now=time.time()
            )
        except pow.PowError as exc:
            return problem(403, f"pow-refused: {exc}")
        nonce = pow.redemption(token).nonce_hash
        if nonce in self.redeemed:
            return problem(403, "pow-refused: the token was used already")
        self.redeemed.add(nonce)
        if any(r["size"] > self.max_size for r in records):
            return problem(413, "an attachment is larger than 512 MiB")
        sid = new_id()
        ids = []
        for r in records:
            rid = new_id()
            self.records[rid] = Staged(r["kind"], r["size"])
            ids.append(rid)
        self.submissions[sid] = Submission(ids)
        if self.lose_created:
            self.lose_created -= 1
            raise httpx.ReadError("the answer was lost")
        answer = [
            {"id": i, "kind": self.records[i].kind, "size": self.records[i].size} for i in ids
        ]
        return httpx.Response(
            201,
            json={"id": sid, "records": answer, "chunk_bytes": self.chunk_bytes, "expires": DAY},
        )

    def _status(self, sid: str) -> httpx.Response:
        submission = self.submissions.get(sid)
        if submission is None:
            return problem(404, "no such submission")
        records = [
            {"id": i, "kind": self.records[i].kind, "size": self.records[i].size,
             "received": len(self.records[i].data)}
            for i in submission.records
        ]  # fmt: skip
        state = "complete" if submission.complete else "open"
        return httpx.Response(200, json={"records": records, "state": state})

    def _put(self, sid: str, rid: str, offset: int, data: bytes) -> httpx.Response:
        self.puts += 1
        if self.puts in self.drop:
            raise httpx.ConnectError("dropped")
        if self.puts in self.busy:
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"detail": "busy"})
        record = self.records[rid]
        if self.puts in self.forget:
            del record.data[-1000:]
        if offset != len(record.data):
            self.conflicts += 1
            return httpx.Response(409, json={"detail": "offset", "received": len(record.data)})
        if len(data) > self.chunk_bytes or offset + len(data) > record.size:
            return problem(413, "too much")
        record.data += data
        if self.puts in self.lose_ack:
            raise httpx.ReadError("acknowledgement lost")
        return httpx.Response(200, json={"received": len(record.data)})

    def _complete(self, sid: str, body: dict[str, Any]) -> httpx.Response:
        submission = self.submissions[sid]
        holders = set(self.intake)
        if not submission.complete:
            for item in body["records"]:
                record = self.records[item["id"]]
                if len(record.data) != record.size:
                    return problem(409, "payload incomplete")
                headers = {h: base64.b64decode(v) for h, v in item["headers"].items()}
                if set(headers) != holders:
                    return problem(422, "holders")
                record.headers, record.commitment = headers, item["commitment"]
                record.log_index = self.append(
                    action="record.submitted",
                    actor="anonymous",
                    record=item["id"],
                    commitment=item["commitment"],
                    holders=sorted(holders),
                )
            submission.complete = True
            submission.lookup_hash = body["lookup_hash"]
        report = submission.records[0]
        index = self.records[report].log_index
        assert index is not None
        size = len(self.entries)
        return httpx.Response(
            200,
            json={
                "records": [
                    {"id": i, "log_index": self.records[i].log_index} for i in submission.records
                ],
                "receipt": {
                    "index": index,
                    "entry": base64.b64encode(self.entries[index]).decode(),
                    "tree_size": size,
                    "proof": self.proof(index, size),
                    "checkpoint": self.checkpoint(),
                },
            },
        )

    def _found(self, secret: str) -> Submission | None:
        wanted = lookup_hash(base64.b64decode(secret)).hex()
        return next((s for s in self.submissions.values() if s.lookup_hash == wanted), None)

    def _lookup(self, body: dict[str, Any]) -> httpx.Response:
        submission = self._found(body["lookup_secret"])
        if submission is None:
            return problem(404, "nothing matches")
        records, replies, followups = [], [], []
        for rid in submission.records:
            record = self.records[rid]
            assert record.log_index is not None
            records.append(
                {"id": rid, "kind": record.kind, "log_index": record.log_index,
                 "entry": base64.b64encode(self.entries[record.log_index]).decode()}
            )  # fmt: skip
            replies += [
                {"record": rid, "sequence": r["sequence"],
                 "sealed": base64.b64encode(r["sealed"]).decode()}
                for r in record.replies
            ]  # fmt: skip
            followups += [{"record": rid, "sequence": f["sequence"]} for f in record.followups]
        return httpx.Response(
            200, json={"records": records, "replies": replies, "followups": followups}
        )

    def _followup(self, body: dict[str, Any]) -> httpx.Response:
        submission = self._found(body["lookup_secret"])
        if submission is None or body["record"] not in submission.records:
            return problem(404, "nothing matches")
        record = self.records[body["record"]]
        if body["sequence"] != len(record.followups) + 1:
            return problem(409, "sequence")
        record.followups.append(
            {
                "sequence": body["sequence"],
                "sealed": base64.b64decode(body["sealed"]),
                "mac": bytes.fromhex(body["mac"]),
            }
        )
        return httpx.Response(201, json={"sequence": body["sequence"]})


def problem(status: int, detail: str) -> httpx.Response:
    return httpx.Response(status, json={"title": "refused", "status": status, "detail": detail})
