"""The vault's tables, as SQLModel classes on the vault's own metadata.

What a seized database may reveal is set by DESIGN.md section 2: counts, padded sizes and
times coarsened to the day. So every time here is a `date`, no column holds an IP
address, secrets are stored only hashed or sealed, and precise values that would date an
event (a session's exact expiry, the last TOTP time step) are bound inside a hash or a
sealed value instead of stored in the clear. `tests/vault/test_models.py` holds the schema
to those rules.

Migrations are generated from `metadata`; change a table here, then add a revision.
"""

from __future__ import annotations

import enum
from datetime import date
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

# Stable constraint names, so migrations (and SQLite batch rebuilds) can refer to them.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# For primary keys the vault numbers itself (log positions, versions, the single org).
_FIXED: Final = {"autoincrement": False}


class VaultTable(SQLModel, registry=registry(metadata=metadata)):
    """Base of every vault table: they share `metadata`, not SQLModel's global one."""


class Role(enum.StrEnum):
    """An account's one role (DESIGN.md section 1). Two roles need two accounts."""

    ADMIN = "admin"
    INTAKE = "intake"
    CASEWORKER = "caseworker"
    AUDITOR = "auditor"


class KeyPurpose(enum.StrEnum):
    """What a server key signs."""

    LOG = "log"  # checkpoints of the audit log (C2SP signed notes)


def _enum(kind: type[enum.StrEnum], name: str) -> sa.Enum:
    # A VARCHAR with a CHECK constraint on both engines: no PostgreSQL enum type to alter
    # when a value is added, and the stored text is the value, not the Python name.
    return sa.Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [member.value for member in members],
    )


class ServerKey(VaultTable, table=True):
    """The public half of a key the server holds, so every worker agrees on it.

    The private key is in a mode 0600 file in the data dir, never in the database: a
    leaked database must not let anyone sign checkpoints.
    """

    __tablename__ = "server_key"

    id: int | None = Field(default=None, primary_key=True)
    purpose: KeyPurpose = Field(sa_type=_enum(KeyPurpose, "key_purpose"))
    #: The signed-note key name (C2SP signed-note), e.g. the log's origin line.
    name: str
    #: Raw Ed25519 public key, 32 bytes.
    public_key: bytes = Field(unique=True)
    created_on: date
    retired_on: date | None = None


class Org(VaultTable, table=True):
    """The one organisation this vault serves."""

    __tablename__ = "org"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_org"),)

    id: int = Field(default=1, primary_key=True, sa_column_kwargs=_FIXED)
    name: str
    #: The current org signing key: raw Ed25519 public key, 32 bytes.
    public_key: bytes
    #: What people compare aloud or on paper; derived from `public_key`.
    fingerprint: str = Field(unique=True)
    #: Recipient type, optional recovery recipient, ... (see the roster's policy).
    policy: dict[str, Any] = Field(sa_type=sa.JSON)
    created_on: date


class OrgKeyRotation(VaultTable, table=True):
    """A new org key, announced in a statement signed by the key it replaces."""

    __tablename__ = "org_key_rotation"

    #: 1 for the first rotation, then 2, ...: clients replay them in order.
    serial: int = Field(primary_key=True, ge=1, sa_column_kwargs=_FIXED)
    old_public_key: bytes
    new_public_key: bytes = Field(unique=True)
    #: The signed statement, exactly as signed and served.
    statement: bytes
    created_on: date


class BootstrapCode(VaultTable, table=True):
    """The one-time code `tvault serve` prints, which lets `tvault org init` register the org.

    Only a hash is stored: the code is random and long, so SHA-256 suffices.
    """

    __tablename__ = "bootstrap_code"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: bytes = Field(unique=True)
    expires_on: date
    used: bool = False


class Account(VaultTable, table=True):
    """A staff member's login. Disabled accounts stay, so the log keeps its meaning."""

    __tablename__ = "account"

    id: int | None = Field(default=None, primary_key=True)
    #: The random id the public roster shows instead of the username.
    opaque_id: str = Field(unique=True)
    username: str = Field(unique=True)
    role: Role = Field(sa_type=_enum(Role, "role"))
    #: Argon2id, PHC string format (parameters and salt included).
    password_hash: str
    #: The TOTP secret and the last accepted time step, sealed together under a key kept
    #: outside the database. Sealed, not stored apart: the step is a login time to
    #: 30 seconds. None until enrolment confirms a first code.
    totp_sealed: bytes | None = None
    disabled: bool = False
    created_on: date


class EnrolmentCode(VaultTable, table=True):
    """A one-time code that lets one account upload its keys.

    The code has three parts: this row's `id`, a server half (stored here only hashed)
    and a secret half that never reaches the server and keys the MAC of the uploaded keys.
    """

    __tablename__ = "enrolment_code"

    id: str = Field(primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    server_half_hash: bytes
    expires_on: date
    used: bool = False


class EnrolledKey(VaultTable, table=True):
    """Public keys an account uploaded at enrolment, for the admin to check and sign."""

    __tablename__ = "enrolled_key"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    enrolment_code_id: str = Field(foreign_key="enrolment_code.id", unique=True)
    #: The account's age recipient, in the org's recipient type.
    recipient: str
    #: Raw Ed25519 verify key, 32 bytes: replies and grants are signed with its pair.
    verify_key: bytes
    #: MAC of the keys under the enrolment code's secret half; `roster publish` checks it.
    enrolment_mac: bytes
    created_on: date


class LoginSession(VaultTable, table=True):
    """A staff login. Only a hash of the 256-bit token is stored.

    The expiry is kept to the day; an exact expiry, if wanted, travels inside the token
    itself, where `token_hash` binds it.
    """

    __tablename__ = "login_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: bytes = Field(unique=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    expires_on: date
    revoked: bool = False


class RosterVersion(VaultTable, table=True):
    """A roster as the admin signed it, in its two forms (`crypto.roster`): the staff
    roster and the public one a source reads. The newest version is served."""

    __tablename__ = "roster_version"

    version: int = Field(primary_key=True, ge=1, sa_column_kwargs=_FIXED)
    #: The signed staff roster, byte for byte as signed and served to staff.
    signed_roster: bytes
    #: The signed public roster of the same version (no staff names), served to anyone.
    signed_public_roster: bytes
    published_on: date
    expires_on: date


class LogEntry(VaultTable, table=True):
    """One entry of the audit log: leaf `leaf_index` of the RFC 6962 tree.

    Indices run 0, 1, 2, ... without gaps; appends keep that by running under
    `vault.db.lock_log`.
    """

    __tablename__ = "log_entry"
    __table_args__ = (sa.CheckConstraint("leaf_index >= 0", name="leaf_index_natural"),)

    leaf_index: int = Field(primary_key=True, sa_type=sa.BigInteger, sa_column_kwargs=_FIXED)
    #: The entry, canonically encoded (RFC 8785 JSON).
    entry: bytes
    #: SHA-256(0x00 || entry), RFC 6962 section 2.1.
    leaf_hash: bytes
    day: date


class LogNode(VaultTable, table=True):
    """The hash of a complete subtree: leaves [node_index * 2**level, (node_index+1) * 2**level).

    Only complete subtrees are stored, so a stored hash never changes; the hash of any
    range, and so any proof, is built from O(log n) of them.
    """

    __tablename__ = "log_node"
    __table_args__ = (
        sa.CheckConstraint("level >= 0", name="level_natural"),
        sa.CheckConstraint("node_index >= 0", name="node_index_natural"),
    )

    level: int = Field(primary_key=True, sa_column_kwargs=_FIXED)
    node_index: int = Field(primary_key=True, sa_type=sa.BigInteger, sa_column_kwargs=_FIXED)
    hash: bytes


class Checkpoint(VaultTable, table=True):
    """A signed tlog-checkpoint (C2SP) of the log at `tree_size` entries."""

    __tablename__ = "checkpoint"
    __table_args__ = (sa.CheckConstraint("tree_size >= 0", name="tree_size_natural"),)

    tree_size: int = Field(primary_key=True, sa_type=sa.BigInteger, sa_column_kwargs=_FIXED)
    root_hash: bytes
    #: The checkpoint as a signed note, exactly as served.
    signed_note: str
    day: date


# --- Submissions, records, replies and cases (issue 5, docs/submissions.md) ---------------

#: Characters in a record, submission or case id: 128 random bits in base32.
RECORD_ID_LENGTH: Final = 26
#: The holder name of the org's recovery recipient's header (not an account).
RECOVERY_HOLDER: Final = "recovery-recipient"


class RecordKind(enum.StrEnum):
    """A submission is one report and its attachments."""

    REPORT = "report"
    ATTACHMENT = "attachment"


class Submission(VaultTable, table=True):
    """One source upload: a report record and its attachments, staged until completed.

    A staged submission is invisible to everyone; after `expires_on` its records and
    chunks are deleted. Completion clears `staged` and keeps the row for its records.
    """

    __tablename__ = "submission"

    id: str = Field(primary_key=True, max_length=RECORD_ID_LENGTH)
    staged: bool = True
    expires_on: date
    created_on: date


class Record(VaultTable, table=True):
    """One sealed file: the age STREAM payload (in `PayloadChunk`s) and its headers.

    `completed` turns true with the submission's completion; until then the record is
    staged and nobody can list or fetch it.
    """

    __tablename__ = "record"
    __table_args__ = (
        sa.CheckConstraint("size >= 0", name="size_natural"),
        sa.CheckConstraint("received >= 0 AND received <= size", name="received_within_size"),
    )

    id: str = Field(primary_key=True, max_length=RECORD_ID_LENGTH)
    submission_id: str = Field(foreign_key="submission.id", index=True)
    kind: RecordKind = Field(sa_type=_enum(RecordKind, "record_kind"))
    #: The report an attachment belongs to; None for a report.
    parent_id: str | None = Field(default=None, foreign_key="record.id", index=True)
    #: The padded payload's length in bytes, as declared when the submission was created.
    size: int = Field(sa_type=sa.BigInteger)
    #: Payload bytes held so far: the next chunk must start here.
    received: int = Field(default=0, sa_type=sa.BigInteger)
    #: `crypto.commitment` of the payload, given at completion.
    commitment: bytes | None = None
    #: `crypto.codename.lookup_hash` of the source's lookup secret (reports only).
    lookup_hash: bytes | None = Field(default=None, unique=True)
    #: The index of the record's `record.submitted` log entry, once completed.
    log_index: int | None = Field(default=None, sa_type=sa.BigInteger)
    completed: bool = False
    created_on: date


class PayloadChunk(VaultTable, table=True):
    """Bytes [offset, offset + len(data)) of a record's payload."""

    __tablename__ = "payload_chunk"

    record_id: str = Field(primary_key=True, foreign_key="record.id")
    offset: int = Field(primary_key=True, sa_type=sa.BigInteger, sa_column_kwargs=_FIXED)
    data: bytes = Field(sa_type=sa.LargeBinary)


class RecordHeader(VaultTable, table=True):
    """The age header that lets one holder open a record's payload.

    `holder` is an account's opaque id, or `RECOVERY_HOLDER` for the recovery recipient
    (never served). A header added by a grant keeps the signed grant statement.
    """

    __tablename__ = "record_header"
    __table_args__ = (sa.UniqueConstraint("record_id", "holder"),)

    id: int | None = Field(default=None, primary_key=True)
    record_id: str = Field(foreign_key="record.id")
    holder: str = Field(index=True)
    header: bytes
    #: The signed grant statement (`tvault-grant/v1`); None for a header from the source.
    statement: bytes | None = None


def _numbered_per_record() -> tuple[sa.UniqueConstraint, sa.CheckConstraint]:
    return (
        sa.UniqueConstraint("record_id", "sequence"),
        sa.CheckConstraint("sequence >= 1", name="sequence_positive"),
    )


class _NumberedMessage(VaultTable):
    """A small whole age file about a record, numbered per record from 1."""

    id: int | None = Field(default=None, primary_key=True)
    record_id: str = Field(foreign_key="record.id")
    sequence: int
    sealed: bytes
    created_on: date


class Reply(_NumberedMessage, table=True):
    """A caseworker's reply to the source of a report, sealed to its reply recipient."""

    __tablename__ = "reply"
    __table_args__ = _numbered_per_record()

    #: The author's account opaque id.
    author: str


class Followup(_NumberedMessage, table=True):
    """A source's follow-up to a report, sealed to the roster's intake recipients (and
    the recovery recipient)."""

    __tablename__ = "followup"
    __table_args__ = _numbered_per_record()

    #: The source's `followup_mac` over record, sequence and SHA-256(sealed).
    mac: bytes


class CaseFile(VaultTable, table=True):
    """A caseworker's case: sealed metadata and, in `CaseRecord`, a list of records."""

    __tablename__ = "case_file"

    id: str = Field(primary_key=True, max_length=RECORD_ID_LENGTH)
    #: The creator's account opaque id.
    creator: str = Field(index=True)
    sealed: bytes
    created_on: date


class CaseRecord(VaultTable, table=True):
    """A record filed in a case."""

    __tablename__ = "case_record"

    case_id: str = Field(primary_key=True, foreign_key="case_file.id")
    record_id: str = Field(primary_key=True, foreign_key="record.id", index=True)


class PowRedemption(VaultTable, table=True):
    """A redeemed proof-of-work token, so it cannot be spent twice before it expires."""

    __tablename__ = "pow_redemption"

    nonce_hash: bytes = Field(primary_key=True)
    expires_on: date = Field(index=True)
