"""Checking a source's receipt: its `record.submitted` entry is in the signed log.

The checkpoint must be signed by the log key of the verified roster, and the entry's
inclusion proof must lead to its root (`crypto.merkle.verify_inclusion`). The entry must
say what the source knows: a submission of this record, sealed to holders the roster
names and with the commitment the client computed (both checked when submitting; a
returning source's roster may have changed since, and it never knew the commitment).
"""

from __future__ import annotations

import json
from typing import Any

from client.errors import ClientError
from client.fetchproof import check_included
from crypto.checkpoint import Checkpoint, open_checkpoint
from crypto.errors import ProofError
from crypto.roster import Roster


def open_signed_checkpoint(roster: Roster, note: bytes) -> Checkpoint:
    """The checkpoint in `note` if the roster's log key signed it; else `ClientError`."""
    try:
        checkpoint, _ = open_checkpoint(note, origin=roster.log_key.name, log=roster.log_key)
    except ProofError as exc:
        raise ClientError(f"the log checkpoint is not signed by the org's log key: {exc}") from None
    return checkpoint


def check_entry(
    entry: bytes,
    *,
    index: int,
    proof: list[bytes],
    checkpoint: Checkpoint,
    record: str,
    holders: set[str] | None = None,
    commitment: str | None = None,
) -> None:
    """Raise `ClientError` unless `entry` is record `record`'s submission, at `index` in
    the tree `checkpoint` signed."""
    try:
        check_included(entry, index, proof, checkpoint, f"the submission of record {record}")
    except ProofError as exc:
        raise ClientError(f"the receipt does not verify: {exc}") from None
    try:
        fields: Any = json.loads(entry)
    except ValueError:
        fields = None
    if (
        not isinstance(fields, dict)
        or fields.get("action") != "record.submitted"
        or fields.get("record") != record
    ):
        raise ClientError(f"the log entry at index {index} is not the submission of {record}")
    logged = fields.get("holders")
    if not isinstance(logged, list) or not logged:
        raise ClientError(f"the log entry of record {record} names no holder")
    if holders is not None and not set(logged) <= holders:
        raise ClientError(f"the log says record {record} was sealed to someone not on the roster")
    if commitment is not None and fields.get("commitment") != commitment:
        raise ClientError(f"the log holds another commitment than record {record}'s payload")
