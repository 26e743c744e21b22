"""store follows

Revision ID: 9c1d4e2a7f10
Revises: 6b7fbe62508b
Create Date: 2026-11-29 23:40:00
"""

import sqlalchemy as sa
from alembic import op


revision = "9c1d4e2a7f10"
down_revision = "6b7fbe62508b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_follows",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["public.merchants.id"], name=op.f("fk_store_follows_merchant_id_merchants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["public.users.id"], name=op.f("fk_store_follows_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_follows")),
        sa.UniqueConstraint("user_id", "merchant_id", name=op.f("uq_store_follows_user_id_merchant_id")),
        schema="public",
    )
    op.create_index(op.f("ix_store_follows_merchant_id"), "store_follows", ["merchant_id"], unique=False, schema="public")


def downgrade() -> None:
    op.drop_index(op.f("ix_store_follows_merchant_id"), table_name="store_follows", schema="public")
    op.drop_table("store_follows", schema="public")
