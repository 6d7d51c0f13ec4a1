"""Rasa events the broker consumer could not apply are set aside instead of stopping every transcript.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "broker_dead_letters",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_key", sa.String(200), nullable=False, unique=True),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_broker_dead_letters_conversation_id", "broker_dead_letters", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_broker_dead_letters_conversation_id", table_name="broker_dead_letters")
    op.drop_table("broker_dead_letters")
