"""Articles carry their language and the article they translate (German articles name their English
originals).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=False, server_default="en"))
        batch.add_column(sa.Column("translation_of", sa.String(100), nullable=True))
        batch.create_index("ix_articles_translation_of", ["translation_of"])


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_index("ix_articles_translation_of")
        batch.drop_column("translation_of")
        batch.drop_column("language")
