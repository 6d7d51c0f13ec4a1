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
    op.add_column("articles", sa.Column("language", sa.String(8), nullable=False, server_default="en"))
    op.add_column("articles", sa.Column("translation_of", sa.String(100), nullable=True))
    op.create_index("ix_articles_translation_of", "articles", ["translation_of"])


def downgrade() -> None:
    op.drop_index("ix_articles_translation_of", table_name="articles")
    op.execute("ALTER TABLE articles DROP COLUMN translation_of")
    op.execute("ALTER TABLE articles DROP COLUMN language")
