"""Records as caseworkers use them (docs/submissions.md, "Caseworker"): the inbox, headers
with the proof of their own fetch, payloads streamed from any offset, grants, revokes,
replies, exports, deletion and retention, and cases.

- `access`: who may act on a record, and the logged refusal of everyone else;
- `headers`: the stanza-type rule the server can check on a header it cannot open;
- `service`: `Records`, one method per caseworker action, each logged with its action;
- `payload`: streaming a payload chunk by chunk;
- `deletion`: deleting a record, retention, and dropping a disabled account's headers;
- `cases`: `Cases`, sealed case metadata and the records filed in it.
"""

from vault.records.access import NOT_A_HOLDER, NOT_A_RECIPIENT, RECIPIENT_ROLES
from vault.records.cases import Case, Cases
from vault.records.deletion import RetentionSweep, delete_record, drop_holder, purge_expired
from vault.records.headers import check_header, check_sealed
from vault.records.payload import PayloadStream, RangeNotSatisfiable, open_payload
from vault.records.service import FetchedHeader, RecordInfo, Records, Thread

__all__ = [
    "NOT_A_HOLDER",
    "NOT_A_RECIPIENT",
    "RECIPIENT_ROLES",
    "Case",
    "Cases",
    "FetchedHeader",
    "PayloadStream",
    "RangeNotSatisfiable",
    "RecordInfo",
    "Records",
    "RetentionSweep",
    "Thread",
    "check_header",
    "check_sealed",
    "delete_record",
    "drop_holder",
    "open_payload",
    "purge_expired",
]
