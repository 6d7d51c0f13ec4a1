"""E-mail follow-ups carry the engineers' replies: how far each was mailed, and its retries.

A follow-up starts after the last message already on its handoff, so only replies written after the
customer asked are mailed (handoff_api/services/followup_mail.py).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoff_followups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mailed_through", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("mail_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("mail_retry_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
    # Follow-ups asked for before this revision: only what engineers write from now on is mailed.
    op.execute(
        "UPDATE handoff_followups SET mailed_through = COALESCE("
        "(SELECT MAX(messages.id) FROM messages WHERE messages.handoff_id = handoff_followups.handoff_id), 0)"
    )


def downgrade() -> None:
    with op.batch_alter_table("handoff_followups", schema=None) as batch_op:
        batch_op.drop_column("last_error")
        batch_op.drop_column("mail_retry_at")
        batch_op.drop_column("mail_attempts")
        batch_op.drop_column("mailed_through")
