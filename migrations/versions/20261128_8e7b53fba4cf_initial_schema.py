"""Tables for the org, accounts, enrolment, sessions, rosters and the audit log

Revision ID: 8e7b53fba4cf
Revises:
Create Date: 2026-11-28 00:43:02.948243
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "8e7b53fba4cf"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opaque_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "admin",
                "intake",
                "caseworker",
                "auditor",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("totp_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
        sa.UniqueConstraint("opaque_id", name=op.f("uq_account_opaque_id")),
        sa.UniqueConstraint("username", name=op.f("uq_account_username")),
    )
    op.create_table(
        "bootstrap_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bootstrap_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_bootstrap_code_code_hash")),
    )
    op.create_table(
        "checkpoint",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("signed_note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.CheckConstraint("tree_size >= 0", name=op.f("ck_checkpoint_tree_size_natural")),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_checkpoint")),
    )
    op.create_table(
        "log_entry",
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.CheckConstraint("leaf_index >= 0", name=op.f("ck_log_entry_leaf_index_natural")),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_log_entry")),
    )
    op.create_table(
        "log_node",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("node_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("level >= 0", name=op.f("ck_log_node_level_natural")),
        sa.CheckConstraint("node_index >= 0", name=op.f("ck_log_node_node_index_natural")),
        sa.PrimaryKeyConstraint("level", "node_index", name=op.f("pk_log_node")),
    )
    op.create_table(
        "org",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_org_single_org")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_org_fingerprint")),
    )
    op.create_table(
        "org_key_rotation",
        sa.Column("serial", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("old_public_key", sa.LargeBinary(), nullable=False),
        sa.Column("new_public_key", sa.LargeBinary(), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_org_key_rotation")),
        sa.UniqueConstraint("new_public_key", name=op.f("uq_org_key_rotation_new_public_key")),
    )
    op.create_table(
        "roster_version",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("signed_roster", sa.LargeBinary(), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_roster_version")),
    )
    op.create_table(
        "server_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "log", name="key_purpose", native_enum=False, create_constraint=True, length=16
            ),
            nullable=False,
        ),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("retired_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_server_key")),
        sa.UniqueConstraint("public_key", name=op.f("uq_server_key_public_key")),
    )
    op.create_table(
        "enrolment_code",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("server_half_hash", sa.LargeBinary(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_enrolment_code_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolment_code")),
    )
    with op.batch_alter_table("enrolment_code", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enrolment_code_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "login_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_login_session_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_login_session_token_hash")),
    )
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_session_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "enrolled_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("enrolment_code_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("verify_key", sa.LargeBinary(), nullable=False),
        sa.Column("enrolment_mac", sa.LargeBinary(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_enrolled_key_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["enrolment_code_id"],
            ["enrolment_code.id"],
            name=op.f("fk_enrolled_key_enrolment_code_id_enrolment_code"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolled_key")),
        sa.UniqueConstraint("enrolment_code_id", name=op.f("uq_enrolled_key_enrolment_code_id")),
    )
    with op.batch_alter_table("enrolled_key", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enrolled_key_account_id"), ["account_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("enrolled_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrolled_key_account_id"))

    op.drop_table("enrolled_key")
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_session_account_id"))

    op.drop_table("login_session")
    with op.batch_alter_table("enrolment_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrolment_code_account_id"))

    op.drop_table("enrolment_code")
    op.drop_table("server_key")
    op.drop_table("roster_version")
    op.drop_table("org_key_rotation")
    op.drop_table("org")
    op.drop_table("log_node")
    op.drop_table("log_entry")
    op.drop_table("checkpoint")
    op.drop_table("bootstrap_code")
    op.drop_table("account")
