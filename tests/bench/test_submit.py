"""The harness of bench/submit.py, without servers: what it sends is a valid submission.

The bench's figures mean something only if the bare peer takes exactly what ours takes, and
if what ours takes is what a source's client would send: a 4 KiB report/v1 sealed to the
roster's holders, its commitment, and a proof of work solved for the exact records sent.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import time

import httpx
from fastapi.testclient import TestClient

from bench.submit import REPORT_BYTES, Holders, bare_app, report_plaintext, small_submission
from crypto import age, commitment, envelope, pow
from crypto.roster import canonical_json
from vault.report import parse_report

POW_KEY = os.urandom(32)


def _token_server(request: httpx.Request) -> httpx.Response:
    assert (request.method, request.url.path) == ("POST", "/v1/tokens")
    return httpx.Response(201, json={"token": pow.issue(POW_KEY, bits=4, now=time.time())})


def test_a_report_is_4_kib_of_valid_korean_report_v1() -> None:
    plaintext = report_plaintext(["A" * 26])
    assert len(plaintext) == REPORT_BYTES
    report = parse_report(envelope.open_report_plaintext(plaintext), require_reply=True)
    assert report.language == "ko"
    assert report.attachments is not None
    assert [a.record for a in report.attachments] == ["A" * 26]


def test_a_small_submission_opens_checks_and_is_taken_by_the_bare_peer() -> None:
    identity = age.generate_identity("pq")
    holders = Holders({"acct-intake": age.recipient_of(identity)})
    transport = httpx.MockTransport(_token_server)
    with httpx.Client(base_url="http://vault", transport=transport) as client:
        body = small_submission(client, holders)
    sent = json.loads(body)
    (record,) = sent["records"]
    payload = base64.b64decode(record["payload"])
    assert record["size"] == len(payload)
    # The proof of work is solved for the exact records sent, as the server checks it.
    binding = hashlib.sha256(canonical_json(sent["records"])).digest()
    pow.verify(POW_KEY, sent["pow"]["token"], binding=binding, counter=sent["pow"]["counter"],
               now=time.time())  # fmt: skip
    # The intake caseworker opens it, and the commitment is to this payload.
    header = base64.b64decode(record["headers"]["acct-intake"])
    file_key = age.unwrap_file_key(header, [identity])
    commitment.verify_commitment(
        file_key=file_key,
        payload_sha256=hashlib.sha256(payload).digest(),
        commitment=bytes.fromhex(record["commitment"]),
    )
    opened = io.BytesIO()
    age.decrypt(io.BytesIO(header + payload), opened, [identity])
    assert len(opened.getvalue()) == REPORT_BYTES

    with TestClient(bare_app()) as bare:
        taken = bare.post(
            "/v1/submissions", content=body, headers={"content-type": "application/json"}
        )
        assert taken.status_code == 201
        refused = bare.post("/v1/submissions", json={**sent, "extra": True})
        assert refused.status_code == 422
