"""`tvault replies`: a source comes back with the codename (docs/submissions.md, "Source:
coming back").

The client looks its submission up by the codename's lookup secret, proves each record's
`record.submitted` entry against the latest checkpoint the roster's log key signed,
decrypts each reply with the codename's reply identity and checks its signature against
the roster's `staff_keys`, so a server can neither forge a reply nor hide that the
submission was logged. `--add FILE.json` sends a follow-up: a `report/v1` document
(validated like a report) sealed to the roster's intake recipients (and the recovery
recipient) in the report envelope, MAC'd with the codename's follow-up key over its
record, sequence number and ciphertext.
"""

from __future__ import annotations

import base64
import hashlib
import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client.errors import ClientError
from client.receipts import check_entry, open_signed_checkpoint
from client.source import DroppedError, RefusedError, SourceServer
from client.sourcing import SourceOrg, pin_org, read_codename
from client.submitting import read_report
from crypto import age, envelope, messages
from crypto.codename import CodenameKeys
from crypto.errors import CryptoError, ProofError
from crypto.profile import KdfProfile
from vault.report import encode_report

_ESCAPED = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"})


@dataclass(frozen=True)
class ShownReply:
    record: str
    sequence: int
    author: str
    message: str


@dataclass
class Thread:
    """What a returning source sees: its records, replies, and follow-ups sent."""

    records: list[dict[str, Any]] = field(default_factory=list)
    replies: list[ShownReply] = field(default_factory=list)
    followups: int = 0
    tree_size: int = 0
    added: int | None = None


def replies(
    server: SourceServer,
    *,
    fingerprint: str,
    profile: KdfProfile,
    add: Path | None = None,
) -> Thread:
    """Look the codename up, verify everything, optionally add a follow-up.

    Raises `ClientError` when the codename matches nothing, or when a receipt or a reply
    does not verify (a malicious server), saying which.
    """
    followup = None if add is None else read_report(add)[1]
    org = pin_org(server, fingerprint)
    keys = org.derive(read_codename(), profile)
    secret = base64.b64encode(keys.lookup_secret).decode("ascii")
    try:
        found = server.send("POST", "/sources/lookup", {"lookup_secret": secret})
    except RefusedError as exc:
        if exc.status == 404:
            raise ClientError(
                "no report at this org matches this codename: check every word, and the "
                "org fingerprint (a codename opens nothing at another org)"
            ) from None
        raise
    thread = Thread()
    try:
        thread.records = [_record(item) for item in found["records"]]
        sealed = [
            (str(r["record"]), int(r["sequence"]), _b64(r["sealed"])) for r in found["replies"]
        ]
        followups = [(str(f["record"]), int(f["sequence"])) for f in found["followups"]]
    except (KeyError, TypeError, ValueError):
        raise ClientError(f"{server.url} sent a malformed answer to the lookup") from None
    if not thread.records or thread.records[0]["kind"] != "report":
        raise ClientError(f"{server.url} sent a lookup without the report")
    thread.tree_size = _check_receipts(server, org, thread.records)
    ids = {r["id"] for r in thread.records}
    thread.replies = [_open_reply(org, keys, ids, *item) for item in sealed]
    thread.followups = len(followups)
    if followup is not None:
        report = thread.records[0]["id"]
        sequence = 1 + max((s for r, s in followups if r == report), default=0)
        _send_followup(server, org, keys, report, sequence, encode_report(followup))
        thread.added = sequence
    return thread


def _record(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(item["id"]),
        "kind": str(item["kind"]),
        "log_index": int(item["log_index"]),
        "entry": _b64(item["entry"]),
    }


def _b64(value: Any) -> bytes:
    return base64.b64decode(str(value), validate=True)


def _check_receipts(server: SourceServer, org: SourceOrg, records: list[dict[str, Any]]) -> int:
    """Prove every record's submission entry in the latest signed checkpoint."""
    checkpoint = open_signed_checkpoint(org.roster, server.checkpoint())
    for record in records:
        index = record["log_index"]
        if not 0 <= index < checkpoint.tree_size:
            raise ClientError(f"record {record['id']}'s log entry is not in the signed log")
        proof = server.inclusion(index=index, tree_size=checkpoint.tree_size)
        check_entry(
            record["entry"], index=index, proof=proof, checkpoint=checkpoint, record=record["id"]
        )
    return checkpoint.tree_size


def _open_reply(
    org: SourceOrg, keys: CodenameKeys, ids: set[str], record: str, sequence: int, sealed: bytes
) -> ShownReply:
    if record not in ids:
        raise ClientError(f"the server sent a reply to record {record}, which is not yours")
    out = io.BytesIO()
    try:
        age.decrypt(io.BytesIO(sealed), out, [keys.reply_identity])
        reply = messages.open_reply(out.getvalue(), verify_keys=org.staff_keys)
    except ProofError as exc:
        raise ClientError(f"refusing reply {sequence}: {exc} (a forged reply?)") from None
    except CryptoError:
        raise ClientError(f"reply {sequence} does not open with this codename") from None
    if (reply.record, reply.sequence) != (record, sequence):
        raise ClientError(f"reply {sequence} was signed for another record or place")
    return ShownReply(record, sequence, reply.author, reply.message)


def _send_followup(
    server: SourceServer,
    org: SourceOrg,
    keys: CodenameKeys,
    record: str,
    sequence: int,
    document: bytes,
) -> None:
    out = io.BytesIO()
    plaintext = envelope.seal_report_plaintext(document)
    age.encrypt(io.BytesIO(plaintext), out, list(org.holders.values()))
    sealed = out.getvalue()
    message = messages.followup_message(
        record=record, sequence=sequence, sealed_sha256=hashlib.sha256(sealed).digest()
    )
    body = {
        "lookup_secret": base64.b64encode(keys.lookup_secret).decode("ascii"),
        "record": record,
        "sequence": sequence,
        "sealed": base64.b64encode(sealed).decode("ascii"),
        "mac": keys.followup_mac(message).hex(),
    }
    try:
        # Not repeated blindly: a lost answer may hide a stored follow-up.
        server.send("POST", "/sources/followups", body, retry=False)
    except DroppedError as exc:
        raise ClientError(
            f"{exc}; the follow-up may or may not have arrived: run tvault replies (without "
            f"--add) and see whether it counts {sequence} follow-ups before sending it again"
        ) from None
    except RefusedError as exc:
        if exc.status == 409:
            raise ClientError(
                "another follow-up was added at the same time; run the command again"
            ) from None
        raise


def terminal_text(text: str) -> str:
    """`text` safe to print: every control, escape or format character (bidi included)
    escaped, except the line breaks and tabs a message is written with."""
    return "".join(
        char
        if char in "\n\t" or unicodedata.category(char) not in _ESCAPED
        else envelope.display_name(char)
        for char in text
    )
