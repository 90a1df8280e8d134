"""Vectors the Python code produces for the page's JavaScript (web/test/core.test.mjs).

`python -m tests.web.vectors OUT.json` writes them; `tests/web/test_page_crypto.py` runs
node against them. Each vector is made by the very code `tvault submit` uses, so the page
agrees with the CLI or a test fails.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from mnemonic import Mnemonic

from crypto import envelope, note, pow, roster
from crypto.age import mlkem768x25519
from crypto.checkpoint import Checkpoint, sign_checkpoint
from crypto.codename import Wordlist, derive, generate
from crypto.commitment import commit
from crypto.merkle.memory import MemoryTree
from crypto.merkle.rfc6962 import hash_leaf
from crypto.messages import followup_message, sign_reply
from crypto.profile import weak_test_profile
from crypto.rotation import sign_rotation

B64 = base64.b64encode


def _b64(data: bytes) -> str:
    return B64(data).decode()


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def make_vectors() -> dict[str, Any]:
    profile = weak_test_profile(insecure_test_only=True)
    org_key = Ed25519PrivateKey.generate()
    fingerprint = roster.fingerprint(_raw(org_key))
    codenames = []
    cases: list[tuple[Literal["ko", "en"], Literal["pq", "x25519"]]] = [
        ("ko", "pq"),
        ("en", "x25519"),
        ("en", "pq"),
    ]
    for lang, kind in cases:
        words = Wordlist(lang, Mnemonic("korean" if lang == "ko" else "english").wordlist)
        codename = generate(words)
        keys = derive(codename, org_fingerprint=fingerprint.encode(), kind=kind, profile=profile)
        codenames.append(
            {
                "words": str(codename),
                "indices": list(codename.indices),
                "kind": kind,
                "reply_identity": keys.reply_identity,
                "reply_recipient": keys.reply_recipient,
                "lookup_hash": keys.lookup_hash().hex(),
                "followup_key": keys.followup_key.hex(),
                "resume_key": keys.resume_key.hex(),
            }
        )
    params = profile.codename
    reports = []
    for doc in (b'{"a":1}', json.dumps({"t": "가" * 700}, ensure_ascii=False).encode()):
        reports.append({"doc": _b64(doc), "sealed": _b64(envelope.seal_report_plaintext(doc))})
    attachments = []
    for name, size in (("photo.jpg", 1000), ("사진 한 장.jpg", 70000), ("x" * 120 + ".png", 5)):
        data = bytes((i * 7) % 251 for i in range(size))
        out = io.BytesIO()
        envelope.write_attachment(io.BytesIO(data), out, name=name, size=size)
        attachments.append({"name": name, "data": _b64(data), "envelope": _b64(out.getvalue())})
    key = b"k" * 32
    token = pow.issue(key, bits=8, now=time.time())
    records = [{"kind": "report", "size": 1100}, {"kind": "attachment", "size": 10300}]
    binding = hashlib.sha256(roster.canonical_json(records)).digest()
    counter = pow.solve(token, binding=binding)
    log_key = note.Signer.generate("tvault-log-test")
    staff_key = Ed25519PrivateKey.generate()
    intake = mlkem768x25519.MLKEM768X25519Identity.generate()
    document = {
        "type": roster.PUBLIC_TYPE,
        "version": 3,
        "issued": "2026-01-01",
        "expires": "2099-01-01",
        "log_key": log_key.verifier.vkey,
        "policy": {"recipient_type": "pq", "recovery_recipient": ""},
        "intake": [{"id": "A" * 26, "recipient": str(intake.recipient())}],
        "staff_keys": [{"id": "A" * 26, "verify_key": _b64(_raw(staff_key))}],
    }
    signed = roster.sign_roster(document, note.Signer("tvault-org", org_key))
    tampered = signed.replace(b'"version":3', b'"version":4')
    tree = MemoryTree()
    entries = [json.dumps({"action": "other", "n": i}).encode() for i in range(6)]
    entry = json.dumps(
        {"action": "record.submitted", "record": "R" * 26, "holders": ["A" * 26], "commitment": "c"}
    ).encode()
    entries.insert(4, entry)
    for e in entries:
        tree.append(hash_leaf(e))
    checkpoint = sign_checkpoint(Checkpoint(log_key.name, tree.tree_size, tree.root()), log_key)
    reply = sign_reply(
        record="R" * 26, sequence=1, author="A" * 26, message="답장입니다", signing_key=staff_key
    )
    file_key, digest = bytes(range(16)), hashlib.sha256(b"payload").digest()
    middle, newest = note.Signer.generate("tvault-org"), note.Signer.generate("tvault-org")
    first = note.Signer("tvault-org", org_key)
    today = date(2026, 1, 1)
    rotations = [
        sign_rotation(serial=1, old=first, new=middle, issued=today).decode(),
        sign_rotation(serial=2, old=middle, new=newest, issued=today).decode(),
    ]
    return {
        "fingerprint": fingerprint,
        "org_public_key": _b64(_raw(org_key)),
        "params": {"t": params.time_cost, "m": params.memory_kib, "p": params.parallelism},
        "codenames": codenames,
        "reports": reports,
        "attachments": attachments,
        "pow": {"token": token, "records": records, "counter": counter},
        "roster": signed.decode(),
        "tampered_roster": tampered.decode(),
        "intake_identity": str(intake),
        "receipt": {
            "entry": _b64(entry),
            "index": 4,
            "proof": [_b64(p) for p in tree.inclusion_proof(index=4)],
            "checkpoint": checkpoint.decode(),
        },
        "reply": reply.decode(),
        "commitment": {
            "file_key": file_key.hex(),
            "sha256": digest.hex(),
            "value": commit(file_key=file_key, payload_sha256=digest).hex(),
        },
        "rotation": {
            "statements": rotations,
            "current": _b64(newest.verifier.public_key),
            "middle": _b64(middle.verifier.public_key),
        },
        "followup": {
            "message": _b64(followup_message(record="R" * 26, sequence=2, sealed_sha256=digest)),
        },
    }


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(json.dumps(make_vectors(), ensure_ascii=False))
