"""The transparency audit log (DESIGN.md section 4): events, the stored tree, checkpoints.

- `events`: the typed event schema and its RFC 8785 encoding; nothing else enters the log.
- `store`: appends in the caller's transaction, roots and proofs from stored node hashes.
- `checkpoints`: signed checkpoints, and `record_and_prove` for events whose proof the
  caller hands back (a fetched header comes with the proof of its own fetch entry).
- `verify_log` (from `crypto.auditlog`): the pure check of entries against signed
  checkpoints, which the auditor's client shares.
"""

from crypto.auditlog import verify_log
from vault.audit.checkpoints import (
    LoggedEvent,
    SignedCheckpoint,
    latest_checkpoint,
    record_and_prove,
    record_and_prove_many,
    sign_checkpoint,
)
from vault.audit.events import (
    ANONYMOUS,
    OPERATOR,
    RETENTION,
    UNKNOWN,
    Action,
    Event,
    decode_event,
    encode_event,
)
from vault.audit.store import (
    LogIntegrityError,
    append,
    append_many,
    append_many_rooted,
    consistency_proof,
    entries,
    inclusion_proof,
    inclusion_proofs,
    root,
    tree_size,
)

__all__ = [
    "ANONYMOUS",
    "OPERATOR",
    "RETENTION",
    "UNKNOWN",
    "Action",
    "Event",
    "LogIntegrityError",
    "LoggedEvent",
    "SignedCheckpoint",
    "append",
    "append_many",
    "append_many_rooted",
    "consistency_proof",
    "decode_event",
    "encode_event",
    "entries",
    "inclusion_proof",
    "inclusion_proofs",
    "latest_checkpoint",
    "record_and_prove",
    "record_and_prove_many",
    "root",
    "sign_checkpoint",
    "tree_size",
    "verify_log",
]
