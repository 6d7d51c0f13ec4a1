"""The change notifications leave the tables' triggers: each worker sends them after its commit.

The triggers of migration 0006 sent a NOTIFY inside every transaction that queued an outbox item or wrote
a handoff event. PostgreSQL holds a server-wide lock from a notifying transaction's NOTIFY queue entry to
the end of its commit, the WAL flush included, so the busiest writes committed one at a time; and every
worker heard every notification, its own too. The workers now tell each other after the commit, only
what another worker acts on (handoff_api/services/change_publisher.py).

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None

# (table, channel) as migration 0006 made them.
NOTIFYING = (("outbox", "helpdesk_outbox"), ("handoff_events", "helpdesk_events"))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, channel in NOTIFYING:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS notify_{channel}()")


def downgrade() -> None:
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
