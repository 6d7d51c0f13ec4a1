"""PostgreSQL tells every worker at commit that an outbox item was queued or a handoff event written.

Statement triggers call pg_notify, which PostgreSQL delivers when the writing transaction commits (and
drops with a rollback), without a statement more from the service. Listened to by
handoff_api/services/change_signals.py. SQLite serves one worker and gets nothing.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None

# (table, channel): the channel names are change_signals.OUTBOX_CHANNEL and EVENTS_CHANNEL.
NOTIFYING = (("outbox", "helpdesk_outbox"), ("handoff_events", "helpdesk_events"))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, channel in NOTIFYING:
        op.execute(
            f"CREATE FUNCTION notify_{channel}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_notify('{channel}', ''); RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_notify AFTER INSERT ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION notify_{channel}()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, channel in NOTIFYING:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS notify_{channel}()")
