"""The audit log's event schema and its one encoding, RFC 8785 canonical JSON.

An entry says who did what to which record or account, on which day, and nothing more.
DESIGN.md sections 2 and 4: no entry holds plaintext, a source's identity, a username as
typed or an IP address. The schema enforces that by construction rather than by review:

- the model forbids unknown fields, so there is no key to put an address or a name in;
- every string field is an enum, a fixed word, an opaque id or a hex digest, so no field
  can carry free text (a refusal's reason is a slug, not a message);
- each action has its own set of fields, required and allowed, checked at construction;
- `encode_event` checks the serialised keys once more against `FORBIDDEN_KEYS`.

An actor is an account's opaque id (`Account.opaque_id`, as the public roster shows it),
``"anonymous"`` for a source, or ``"unknown"`` for a failed login whose username matched
no account: the typed name is never logged, since it may be a password typed in the wrong
field or a real name.
"""

from __future__ import annotations

import enum
import json
from datetime import UTC, date, datetime
from typing import Annotated, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from crypto.roster import canonical_json

ANONYMOUS: Final = "anonymous"
"""The actor of anything a source does: sources are never identified."""

UNKNOWN: Final = "unknown"
"""The actor of a failed login whose username matched no account."""

OPERATOR: Final = "operator"
"""The actor of what the server's operator does on the host, e.g. a restore from backup:
the operator has no account, and the log says so rather than naming one."""

RETENTION: Final = "retention"
"""The actor of a deletion by the retention policy (`TVAULT_RETENTION_DAYS`): no person
chose that record on that day, so the log names the policy, not an account or the operator."""

OPAQUE_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{16,64}$"
"""An account's or record's opaque id: random, URL-safe, at least 16 characters.

The length floor keeps typical usernames out by accident as well as by convention; the
guarantee is that callers pass `Account.opaque_id`, never what a person typed.
"""

FORBIDDEN_KEYS: Final = frozenset(
    {
        "ip",
        "ip_address",
        "address",
        "remote_addr",
        "client",
        "host",
        "username",
        "user",
        "name",
        "email",
        "phone",
        "password",
        "plaintext",
        "text",
        "message",
        "narrative",
        "report",
        "codename",
        "token",
        "secret",
    }
)
"""Keys that must never appear in an entry (DESIGN.md section 2 and 4)."""

MAX_SAFE_INTEGER: Final = 2**53 - 1
"""The largest integer RFC 8785 can encode exactly (I-JSON numbers are IEEE doubles)."""

OpaqueId = Annotated[str, StringConstraints(pattern=OPAQUE_ID_PATTERN)]
Actor = Annotated[
    str,
    StringConstraints(
        pattern=rf"{OPAQUE_ID_PATTERN}|^{ANONYMOUS}$|^{UNKNOWN}$|^{OPERATOR}$|^{RETENTION}$"
    ),
]
Commitment = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,47}$")]


class Action(enum.StrEnum):
    """What happened. The value is what the entry holds; add values, never rename them."""

    LOGIN = "login"
    LOGIN_FAILED = "login.failed"
    LOGOUT = "logout"
    ACCOUNT_CREATED = "account.created"
    ACCOUNT_DISABLED = "account.disabled"
    ENROLMENT_ISSUED = "enrolment.issued"
    ENROLMENT_COMPLETED = "enrolment.completed"
    ROSTER_PUBLISHED = "roster.published"
    ORG_KEY_ROTATED = "org_key.rotated"
    REFUSED = "refused"
    REFUSALS_COUNTED = "refusals.counted"
    RECORD_SUBMITTED = "record.submitted"
    RECORD_FETCHED = "record.fetched"
    RECORD_GRANTED = "record.granted"
    RECORD_REVOKED = "record.revoked"
    RECORD_REPLIED = "record.replied"
    RECORD_EXPORTED = "record.exported"
    RECORD_DELETED = "record.deleted"
    BACKUP_RESTORED = "backup.restored"


# For each action: the fields it requires, then those it may also carry. Any other
# action-specific field is refused, so an entry's shape follows from its action.
_SHAPES: Final[dict[Action, tuple[frozenset[str], frozenset[str]]]] = {
    Action.LOGIN: (frozenset(), frozenset()),
    Action.LOGIN_FAILED: (frozenset(), frozenset()),
    Action.LOGOUT: (frozenset(), frozenset()),
    Action.ACCOUNT_CREATED: (frozenset({"target"}), frozenset()),
    Action.ACCOUNT_DISABLED: (frozenset({"target"}), frozenset()),
    Action.ENROLMENT_ISSUED: (frozenset({"target"}), frozenset()),
    Action.ENROLMENT_COMPLETED: (frozenset({"target"}), frozenset()),
    Action.ROSTER_PUBLISHED: (frozenset({"version"}), frozenset()),
    Action.ORG_KEY_ROTATED: (frozenset({"version"}), frozenset()),
    Action.REFUSED: (frozenset({"reason"}), frozenset({"record", "target"})),
    Action.REFUSALS_COUNTED: (frozenset({"reason", "count"}), frozenset()),
    Action.RECORD_SUBMITTED: (frozenset({"record", "commitment", "holders"}), frozenset()),
    Action.RECORD_FETCHED: (frozenset({"record", "part"}), frozenset()),
    Action.RECORD_GRANTED: (frozenset({"record", "target"}), frozenset()),
    Action.RECORD_REVOKED: (frozenset({"record", "target"}), frozenset()),
    Action.RECORD_REPLIED: (frozenset({"record"}), frozenset()),
    Action.RECORD_EXPORTED: (frozenset({"record"}), frozenset()),
    Action.RECORD_DELETED: (frozenset({"record"}), frozenset()),
    Action.BACKUP_RESTORED: (frozenset({"version"}), frozenset()),
}

_OPTIONAL_FIELDS: Final = frozenset(
    {"record", "part", "commitment", "holders", "target", "version", "reason", "count"}
)


def utc_today() -> date:
    """Today in UTC: the only time an entry holds (DESIGN.md section 2)."""
    return datetime.now(UTC).date()


class Event(BaseModel):
    """One security-relevant event, as the log records it.

    Construction raises pydantic's `ValidationError` (a `ValueError`) if a field is
    unknown or malformed, if the action lacks a field it requires or carries one it may
    not, or if ``"unknown"`` acts in anything but a failed login.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    action: Action
    actor: Actor
    day: date = Field(default_factory=utc_today)
    #: The record acted on.
    record: OpaqueId | None = None
    #: Which part of a record was fetched: its header (the key stanza), its payload, or its
    #: thread (the replies and follow-ups).
    part: Literal["header", "payload", "thread"] | None = None
    #: The payload commitment of a submission, lowercase hex SHA-256.
    commitment: Commitment | None = None
    #: The accounts a submission was sealed to, sorted and unique.
    holders: tuple[OpaqueId, ...] | None = None
    #: The account acted upon: granted to, revoked from, created, disabled, enrolled.
    target: OpaqueId | None = None
    #: A roster version, an org key rotation serial, or a restored backup's tree size.
    version: int | None = Field(default=None, ge=0, le=MAX_SAFE_INTEGER)
    #: Why something was refused, as a fixed slug (e.g. ``not-a-holder``).
    reason: Slug | None = None
    #: How many refusals of `reason` an interval saw (anonymous refusals are counted).
    count: int | None = Field(default=None, ge=1, le=MAX_SAFE_INTEGER)

    @field_validator("holders")
    @classmethod
    def _canonical_holders(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        # One set of holders has one encoding, whatever order the caller listed them in.
        return None if value is None else tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _shape(self) -> Event:
        required, optional = _SHAPES[self.action]
        present = {name for name in _OPTIONAL_FIELDS if getattr(self, name) is not None}
        if missing := required - present:
            raise ValueError(f"{self.action.value} needs {', '.join(sorted(missing))}")
        if extra := present - required - optional:
            raise ValueError(f"{self.action.value} does not take {', '.join(sorted(extra))}")
        if self.actor == UNKNOWN and self.action is not Action.LOGIN_FAILED:
            raise ValueError(f'only a failed login has the actor "{UNKNOWN}"')
        if self.actor == OPERATOR and self.action is not Action.BACKUP_RESTORED:
            raise ValueError(f'only a restore has the actor "{OPERATOR}"')
        if self.actor == RETENTION and self.action is not Action.RECORD_DELETED:
            raise ValueError(f'only a deletion has the actor "{RETENTION}"')
        return self


def encode_event(event: Event) -> bytes:
    """Return the entry for `event`: its fields as RFC 8785 canonical JSON, absent ones left out.

    Raises ValueError if a forbidden key would be written (a schema change gone wrong).
    """
    fields = event.model_dump(mode="json", exclude_none=True)
    if leaked := FORBIDDEN_KEYS.intersection(fields):
        raise ValueError(f"an entry may never hold {', '.join(sorted(leaked))}")
    return canonical_json(fields)


def decode_event(entry: bytes) -> Event:
    """Parse an entry back into its event, strictly.

    Raises ValueError unless `entry` is exactly the canonical encoding of a valid event.
    """
    try:
        event = Event.model_validate(json.loads(entry))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError("an entry is not JSON") from exc
    if encode_event(event) != entry:
        raise ValueError("an entry is not in its canonical encoding")
    return event
