"""Tables for submissions, records, headers, replies, follow-ups, cases and PoW redemptions

Revision ID: 8ddadd3d5025
Revises: 3c1f0a9d2b7e
Create Date: 2026-11-28 03:15:11.652455
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "8ddadd3d5025"
down_revision: str | None = "3c1f0a9d2b7e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_file",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=26), nullable=False),
        sa.Column("creator", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_file")),
    )
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_file_creator"), ["creator"], unique=False)

    op.create_table(
        "pow_redemption",
        sa.Column("nonce_hash", sa.LargeBinary(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("nonce_hash", name=op.f("pk_pow_redemption")),
    )
    with op.batch_alter_table("pow_redemption", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pow_redemption_expires_on"), ["expires_on"], unique=False
        )

    op.create_table(
        "submission",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=26), nullable=False),
        sa.Column("staged", sa.Boolean(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission")),
    )
    op.create_table(
        "record",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=26), nullable=False),
        sa.Column("submission_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "report",
                "attachment",
                name="record_kind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("parent_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("commitment", sa.LargeBinary(), nullable=True),
        sa.Column("lookup_hash", sa.LargeBinary(), nullable=True),
        sa.Column("log_index", sa.BigInteger(), nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.CheckConstraint(
            "received >= 0 AND received <= size", name=op.f("ck_record_received_within_size")
        ),
        sa.CheckConstraint("size >= 0", name=op.f("ck_record_size_natural")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["record.id"], name=op.f("fk_record_parent_id_record")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submission.id"], name=op.f("fk_record_submission_id_submission")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record")),
        sa.UniqueConstraint("lookup_hash", name=op.f("uq_record_lookup_hash")),
    )
    with op.batch_alter_table("record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_record_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_record_submission_id"), ["submission_id"], unique=False
        )

    op.create_table(
        "case_record",
        sa.Column("case_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_file.id"], name=op.f("fk_case_record_case_id_case_file")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["record.id"], name=op.f("fk_case_record_record_id_record")
        ),
        sa.PrimaryKeyConstraint("case_id", "record_id", name=op.f("pk_case_record")),
    )
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_record_record_id"), ["record_id"], unique=False)

    op.create_table(
        "followup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("mac", sa.LargeBinary(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.CheckConstraint("sequence >= 1", name=op.f("ck_followup_sequence_positive")),
        sa.ForeignKeyConstraint(
            ["record_id"], ["record.id"], name=op.f("fk_followup_record_id_record")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup")),
        sa.UniqueConstraint("record_id", "sequence", name=op.f("uq_followup_record_id")),
    )
    op.create_table(
        "payload_chunk",
        sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("offset", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["record.id"], name=op.f("fk_payload_chunk_record_id_record")
        ),
        sa.PrimaryKeyConstraint("record_id", "offset", name=op.f("pk_payload_chunk")),
    )
    op.create_table(
        "record_header",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("holder", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("header", sa.LargeBinary(), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"], ["record.id"], name=op.f("fk_record_header_record_id_record")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_header")),
        sa.UniqueConstraint("record_id", "holder", name=op.f("uq_record_header_record_id")),
    )
    with op.batch_alter_table("record_header", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_record_header_holder"), ["holder"], unique=False)

    op.create_table(
        "reply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.CheckConstraint("sequence >= 1", name=op.f("ck_reply_sequence_positive")),
        sa.ForeignKeyConstraint(
            ["record_id"], ["record.id"], name=op.f("fk_reply_record_id_record")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply")),
        sa.UniqueConstraint("record_id", "sequence", name=op.f("uq_reply_record_id")),
    )


def downgrade() -> None:
    op.drop_table("reply")
    with op.batch_alter_table("record_header", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_header_holder"))

    op.drop_table("record_header")
    op.drop_table("payload_chunk")
    op.drop_table("followup")
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_record_record_id"))

    op.drop_table("case_record")
    with op.batch_alter_table("record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_submission_id"))
        batch_op.drop_index(batch_op.f("ix_record_parent_id"))

    op.drop_table("record")
    op.drop_table("submission")
    with op.batch_alter_table("pow_redemption", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pow_redemption_expires_on"))

    op.drop_table("pow_redemption")
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_file_creator"))

    op.drop_table("case_file")
