"""The fetch proof a caseworker checks before using anything the server sent with a header.

`GET /records/{RID}/header` appends this caseworker's `record.fetched` entry (part
`header`) in the transaction that reads the header, and answers with the header, that
entry's inclusion proof, a checkpoint signed by the log key, and the inclusion proof of the
record's `record.submitted` entry at the same tree size (docs/submissions.md). So a fetch
the server served without logging it, or logged under someone else, or a commitment it
made up, is caught here, before the header's file key or the payload is used.

`verify_fetch` is pure: the served JSON, who I am and the log key in, the verified
commitment and checkpoint out, or `ProofError` saying what failed. `follows` checks the new
checkpoint against the one this home kept before, so a log rolled back or forked between
two fetches is refused too.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from crypto.checkpoint import Checkpoint, open_checkpoint
from crypto.errors import ProofError
from crypto.merkle import verify_consistency, verify_inclusion
from crypto.merkle.rfc6962 import hash_leaf
from crypto.note import Verifier

# The action names of the server's event schema (vault.audit.events.Action), repeated
# here because the client may not import the server's code.
SUBMITTED: Final = "record.submitted"
FETCHED: Final = "record.fetched"
HEADER_PART: Final = "header"
_COMMITMENT_HEX: Final = 64


@dataclass(frozen=True)
class VerifiedFetch:
    """What a checked fetch proof establishes: the record's logged payload commitment,
    and the signed checkpoint (with its note, to keep) that covers both entries."""

    commitment: bytes
    holders: tuple[str, ...]
    checkpoint: Checkpoint
    note: bytes


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise ProofError(f"the {what} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ProofError(f"the {what} is not base64") from None


def _entry(part: Mapping[str, Any], what: str) -> tuple[bytes, dict[str, Any], int, list[bytes]]:
    """An entry's bytes, its decoded JSON, its index and its proof, all well-formed."""
    raw = _b64(part.get("entry"), f"{what} entry")
    try:
        event = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ProofError(f"the {what} entry is not JSON") from None
    index, proof = part.get("index"), part.get("proof")
    if not isinstance(event, dict) or not isinstance(index, int) or not isinstance(proof, list):
        raise ProofError(f"the {what} entry or its proof is malformed")
    return raw, event, index, [_b64(node, f"{what} proof") for node in proof]


def verify_fetch(
    served: Mapping[str, Any], *, record: str, account: str, log: Verifier, seen: int = 0
) -> VerifiedFetch:
    """Check the `submitted` and `fetch` parts of a served header against the log key.

    The checkpoint must be signed by `log` (the key the verified staff roster names) and
    be of its tree size; the fetch entry must say `account` fetched the header of
    `record`, be included, and be new: at or after index `seen`, the tree size of the
    checkpoint this client verified before asking (an older entry is an earlier fetch,
    replayed for one the server did not log). The submission entry must be `record`'s
    and be included at the same tree size. Raises `ProofError` saying which check failed.
    """
    fetch, submitted = served.get("fetch"), served.get("submitted")
    if not isinstance(fetch, Mapping) or not isinstance(submitted, Mapping):
        raise ProofError("the server sent the header without its fetch proof")
    note = fetch.get("checkpoint")
    if not isinstance(note, str):
        raise ProofError("the server sent no checkpoint with the header")
    checkpoint, _ = open_checkpoint(note.encode("utf-8"), origin=log.name, log=log)
    if fetch.get("tree_size") != checkpoint.tree_size:
        raise ProofError("the fetch proof is not for the signed checkpoint's tree size")
    raw, event, index, proof = _entry(fetch, "fetch")
    if (event.get("action"), event.get("actor"), event.get("record"), event.get("part")) != (
        FETCHED,
        account,
        record,
        HEADER_PART,
    ):
        raise ProofError("the log entry served is not this account's fetch of this header")
    check_included(raw, index, proof, checkpoint, "this fetch")
    # A checkpoint smaller than `seen` is a rollback, which `follows` names.
    if index < seen <= checkpoint.tree_size:
        raise ProofError(
            f"the fetch entry served ({index}) is older than the {seen} entries seen before: "
            "an earlier fetch replayed, so this one was not logged"
        )
    raw, event, index, proof = _entry(submitted, "submission")
    if event.get("action") != SUBMITTED or event.get("record") != record:
        raise ProofError("the submission entry served is not this record's")
    check_included(raw, index, proof, checkpoint, "the record's submission")
    commitment = str(event.get("commitment", ""))
    if len(commitment) != _COMMITMENT_HEX:
        raise ProofError("the submission entry holds no commitment")
    holders = event.get("holders")
    return VerifiedFetch(
        commitment=bytes.fromhex(commitment),
        holders=tuple(str(h) for h in holders) if isinstance(holders, list) else (),
        checkpoint=checkpoint,
        note=note.encode("utf-8"),
    )


def check_included(
    raw: bytes, index: int, proof: list[bytes], checkpoint: Checkpoint, what: str
) -> None:
    """Check entry `raw` is at `index` in the verified `checkpoint`; raises `ProofError`
    naming `what` (e.g. "this fetch") if the inclusion proof does not verify."""
    try:
        verify_inclusion(
            leaf_hash=hash_leaf(raw),
            index=index,
            tree_size=checkpoint.tree_size,
            proof=proof,
            root=checkpoint.root_hash,
        )
    except ProofError:
        raise ProofError(f"the log does not include {what} (bad inclusion proof)") from None


def follows(
    previous: Checkpoint,
    current: Checkpoint,
    consistency: Callable[[int, int], list[bytes]],
) -> None:
    """Return if `current` extends `previous`, the checkpoint this home verified last.

    `consistency(size1, size2)` fetches a consistency proof. Raises `ProofError` naming a
    rollback (fewer entries), a fork (other roots) or a changed log.
    """
    before, now = previous.tree_size, current.tree_size
    if previous.origin != current.origin:
        raise ProofError("the log is another than the one this home verified before")
    if now < before:
        raise ProofError(
            f"ROLLBACK: the log has {now} entries, fewer than the {before} seen before"
        )
    if now == before and current.root_hash != previous.root_hash:
        raise ProofError(f"FORK: two different logs of {now} entries were signed")
    if 0 < before < now:
        try:
            verify_consistency(
                size1=before,
                size2=now,
                proof=consistency(before, now),
                root1=previous.root_hash,
                root2=current.root_hash,
            )
        except ProofError:
            raise ProofError(
                f"FORK: the log of {now} entries does not extend the {before} seen before"
            ) from None
