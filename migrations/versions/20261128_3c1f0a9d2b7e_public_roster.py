"""The public roster beside the staff roster: sources must not learn staff names

Revision ID: 3c1f0a9d2b7e
Revises: 8e7b53fba4cf
Create Date: 2026-11-28 01:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c1f0a9d2b7e"
down_revision: str | None = "8e7b53fba4cf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No roster can exist before this revision is applied (nothing published one), so a
    # NOT NULL column without a default is safe; "always" rebuilds the table on SQLite,
    # which cannot add such a column in place.
    with op.batch_alter_table("roster_version", recreate="always") as batch_op:
        batch_op.add_column(sa.Column("signed_public_roster", sa.LargeBinary(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("roster_version", recreate="always") as batch_op:
        batch_op.drop_column("signed_public_roster")
