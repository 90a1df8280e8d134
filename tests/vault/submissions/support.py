"""A vault ready for submissions, and sources that seal to it, for the vault and API tests.

`prepare_org` writes what `tvault org init` and `tvault roster publish` would leave behind
(the org, a signed public roster naming intake holders) straight into the database, so
these tests need no staff accounts. `seal_record` seals like a source client does: one
payload, one header per holder, and the payload commitment (`crypto.commitment`).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import httpx
from sqlalchemy.engine import Engine

from crypto import age, note, roster
from crypto import pow as crypto_pow
from crypto.codename import lookup_hash
from crypto.commitment import commit
from vault.accounts.codes import random_base32, today
from vault.db import session_scope
from vault.logkey import load_log_signer
from vault.models import RECOVERY_HOLDER, Org, RosterVersion
from vault.settings import Settings

ORG_KEY = note.Signer.generate(roster.ORG_KEY_NAME)


@dataclass
class OrgSetup:
    """The org's holders: opaque id to (identity, recipient); the recovery one if any."""

    log_signer: note.Signer
    holders: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def recipients(self) -> dict[str, str]:
        return {holder: recipient for holder, (_, recipient) in self.holders.items()}


def prepare_org(
    settings: Settings, engine: Engine, *, intake: int = 2, recovery: bool = False
) -> OrgSetup:
    """An org whose newest public roster names `intake` intake holders (pq recipients)."""
    signer = load_log_signer(settings, engine)
    setup = OrgSetup(signer)
    for _ in range(intake):
        identity = age.generate_identity("pq")
        setup.holders[random_base32(16)] = (identity, age.recipient_of(identity))
    policy: dict[str, Any] = {"recipient_type": "pq"}
    if recovery:
        identity = age.generate_identity("pq")
        policy["recovery_recipient"] = age.recipient_of(identity)
        setup.holders[RECOVERY_HOLDER] = (identity, policy["recovery_recipient"])
    intake_list = [
        {"id": holder, "recipient": recipient}
        for holder, (_, recipient) in setup.holders.items()
        if holder != RECOVERY_HOLDER
    ]
    public = signed_public_roster(1, policy, signer, intake_list)
    with session_scope(engine) as session:
        session.add(
            Org(
                name="Org",
                public_key=ORG_KEY.verifier.public_key,
                fingerprint=roster.fingerprint(ORG_KEY.verifier.public_key),
                policy=policy,
                created_on=today(),
            )
        )
        session.add(
            RosterVersion(
                version=1,
                signed_roster=b"unused here",
                signed_public_roster=public,
                published_on=today(),
                expires_on=today() + timedelta(days=30),
            )
        )
    return setup


def signed_public_roster(
    version: int, policy: dict[str, Any], log_signer: note.Signer, intake: list[dict[str, str]]
) -> bytes:
    """A public roster as `tvault roster publish` signs it, naming `intake`."""
    document = {
        "type": roster.PUBLIC_TYPE,
        "org": {"name": "Org", "fingerprint": roster.fingerprint(ORG_KEY.verifier.public_key)},
        "version": version,
        "issued": today().isoformat(),
        "expires": (today() + timedelta(days=30)).isoformat(),
        "policy": policy,
        "log_key": log_signer.verifier.vkey,
        "intake": intake,
    }
    return roster.sign_roster(document, ORG_KEY)


@dataclass(frozen=True)
class SealedRecord:
    plaintext: bytes
    payload: bytes
    file_key: bytes
    headers: dict[str, bytes]
    commitment: bytes


def seal_record(plaintext: bytes, recipients: dict[str, str]) -> SealedRecord:
    """Seal `plaintext` once, with one header per holder (holder id -> recipient)."""
    payload = io.BytesIO()
    sealed = age.seal(io.BytesIO(plaintext), payload, list(recipients.values()))
    data = payload.getvalue()
    headers = {holder: sealed.headers[recipient] for holder, recipient in recipients.items()}
    commitment = commit(file_key=sealed.file_key, payload_sha256=hashlib.sha256(data).digest())
    return SealedRecord(plaintext, data, sealed.file_key, headers, commitment)


def solve(token: str, binding: bytes) -> int:
    return crypto_pow.solve(token, binding=binding)


class Http(Protocol):
    """What the tests need of an HTTP client: `TestClient` and `httpx.Client` both fit."""

    def post(self, url: str, *, json: Any = ...) -> httpx.Response: ...
    def put(self, url: str, *, content: bytes = ..., headers: Any = ...) -> httpx.Response: ...
    def get(self, url: str) -> httpx.Response: ...


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def declare(sealed: list[SealedRecord]) -> list[dict[str, Any]]:
    kinds = ["report"] + ["attachment"] * (len(sealed) - 1)
    return [{"kind": k, "size": len(s.payload)} for k, s in zip(kinds, sealed, strict=True)]


def paid(http: Http, records: list[dict[str, Any]]) -> dict[str, Any]:
    """`POST /v1/tokens`, solved over `records`: the `pow` member of a submission."""
    response = http.post("/v1/tokens")
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    binding = hashlib.sha256(roster.canonical_json(records)).digest()
    return {"token": token, "counter": solve(token, binding)}


def create(http: Http, sealed: list[SealedRecord]) -> dict[str, Any]:
    records = declare(sealed)
    response = http.post("/v1/submissions", json={"records": records, "pow": paid(http, records)})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def upload(http: Http, created: dict[str, Any], sealed: list[SealedRecord], chunk: int) -> None:
    for state, record in zip(created["records"], sealed, strict=True):
        for offset in range(0, len(record.payload), chunk):
            response = http.put(
                f"/v1/submissions/{created['id']}/records/{state['id']}/payload?offset={offset}",
                content=record.payload[offset : offset + chunk],
                headers={"Content-Type": "application/octet-stream"},
            )
            assert response.status_code == 200, response.text


def completion(
    created: dict[str, Any], sealed: list[SealedRecord], lookup_secret: bytes
) -> dict[str, Any]:
    return {
        "records": [
            {
                "id": state["id"],
                "commitment": record.commitment.hex(),
                "headers": {holder: b64(header) for holder, header in record.headers.items()},
            }
            for state, record in zip(created["records"], sealed, strict=True)
        ],
        "lookup_hash": lookup_hash(lookup_secret).hex(),
    }


def submit(
    http: Http, org: OrgSetup, lookup_secret: bytes, *, count: int = 2
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A whole submission over HTTP: what `POST /v1/submissions` and `complete` answered."""
    sealed = [seal_record(os.urandom(2000 + i), org.recipients) for i in range(count)]
    created = create(http, sealed)
    upload(http, created, sealed, chunk=700)
    response = http.post(
        f"/v1/submissions/{created['id']}/complete",
        json=completion(created, sealed, lookup_secret),
    )
    assert response.status_code == 200, response.text
    done: dict[str, Any] = response.json()
    return created, done


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The RFC 9457 body of `response`, after checking it is one with `status`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body
