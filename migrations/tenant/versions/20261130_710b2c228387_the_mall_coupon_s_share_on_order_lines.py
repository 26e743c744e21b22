"""the mall coupon's share on order lines

Revision ID: 710b2c228387
Revises: 13f5fa2c1b5b
Create Date: 2026-11-30 08:35:12.400175
"""

import sqlalchemy as sa
from alembic import op


revision = '710b2c228387'
down_revision = '13f5fa2c1b5b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("order_lines", sa.Column("platform_discount_cents", sa.BigInteger(), server_default="0", nullable=False))
    op.create_check_constraint(
        op.f("ck_order_lines_platform_discount"), "order_lines", "platform_discount_cents BETWEEN 0 AND total_cents"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_order_lines_platform_discount"), "order_lines", type_="check")
    op.drop_column("order_lines", "platform_discount_cents")
