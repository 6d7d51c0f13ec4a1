"""Handoffs and identity verifications remember the conversation's language (en, de), so the desk's
notices and mails follow it.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels = None
depends_on = None


# A plain ADD COLUMN (SQLite has it): a batch copy of `handoffs` would drop a table other tables reference.
def upgrade() -> None:
    op.add_column("handoffs", sa.Column("language", sa.String(8), nullable=False, server_default="en"))
    op.add_column(
        "identity_verifications", sa.Column("language", sa.String(8), nullable=False, server_default="en")
    )


def downgrade() -> None:
    # DROP COLUMN in place (SQLite 3.35+, PostgreSQL), for the same reason as above.
    op.execute("ALTER TABLE identity_verifications DROP COLUMN language")
    op.execute("ALTER TABLE handoffs DROP COLUMN language")
