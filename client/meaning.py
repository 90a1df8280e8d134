"""What the audit log's entries mean, checked as an auditor would (DESIGN.md section 4).

Replaying the entries proves they are the ones the log signed; this module checks that
what they say is possible. It follows who holds each record, entry by entry:

- a submission makes its `holders` the record's holders;
- a grant adds its `target`, a revoke removes it;
- a deletion leaves nobody holding the record;
- disabling an account deletes its headers (DESIGN.md section 2), so it holds nothing.

Then every `record.fetched` must be by an account that held the record at that entry, and
every `record.granted` by one that held it: a grant by someone who held nothing means the
server let a key be added that no holder's client made.

The action names are those of the server's event schema (`vault.audit.events.Action`),
repeated here because the client may not import the server's code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

SUBMITTED: Final = "record.submitted"
FETCHED: Final = "record.fetched"
GRANTED: Final = "record.granted"
REVOKED: Final = "record.revoked"
DELETED: Final = "record.deleted"
ACCOUNT_DISABLED: Final = "account.disabled"


@dataclass(frozen=True)
class Violation:
    """Entry `index` says something that could not have happened honestly."""

    index: int
    problem: str

    def __str__(self) -> str:
        return f"entry {self.index}: {self.problem}"


def decode_entries(entries: Iterable[bytes]) -> list[dict[str, Any]]:
    """Parse each entry as a JSON object. Raises ValueError naming the first that is not."""
    decoded = []
    for index, entry in enumerate(entries):
        try:
            value = json.loads(entry)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError(f"entry {index} is not JSON") from None
        if not isinstance(value, dict):
            raise ValueError(f"entry {index} is not a JSON object")
        decoded.append(value)
    return decoded


def check_meaning(
    events: Iterable[Mapping[str, Any]], *, names: Mapping[str, str] | None = None
) -> list[Violation]:
    """Every fetch and grant in `events` (decoded entries, from index 0) that was made by
    an account not holding the record then. `names` maps opaque ids to usernames for the
    messages. Returns the violations in log order; an empty list means none."""
    holders: dict[str, set[str]] = {}
    violations: list[Violation] = []

    def who(account: object) -> str:
        text = str(account)
        return f"{names[text]} ({text})" if names and text in names else text

    for index, event in enumerate(events):
        action, actor, record = event.get("action"), event.get("actor"), event.get("record")
        held = holders.get(str(record))
        if action == SUBMITTED:
            if held is not None:
                violations.append(Violation(index, f"record {record} was submitted twice"))
            holders[str(record)] = {str(h) for h in event.get("holders", ())}
        elif action == FETCHED and (held is None or actor not in held):
            part = event.get("part", "record")
            violations.append(
                Violation(
                    index,
                    f"{who(actor)} fetched the {part} of record {record} without holding it then",
                )
            )
        elif action == GRANTED:
            target = str(event.get("target"))
            if held is None or actor not in held:
                violations.append(
                    Violation(
                        index,
                        f"{who(actor)} granted record {record} to {who(target)} without holding it",
                    )
                )
            # The log says the target holds it now; later fetches by them follow from this
            # grant, which is already reported, so they are not reported again.
            holders.setdefault(str(record), set()).add(target)
        elif action == REVOKED and held is not None:
            held.discard(str(event.get("target")))
        elif action == DELETED and held is not None:
            held.clear()
        elif action == ACCOUNT_DISABLED:
            for account_holds in holders.values():
                account_holds.discard(str(event.get("target")))
    return violations
