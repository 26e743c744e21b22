"""platform coupons; the mall coupon's share on orders, refunds and statements

Platform-funded coupons and their uses; what each order, refund and statement line carries of them.

Revision ID: 55d485cc803f
Revises: 1414798de96d
Create Date: 2026-11-30 08:35:10.348984
"""

import sqlalchemy as sa
from alembic import op


revision = '55d485cc803f'
down_revision = '1414798de96d'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('platform_coupons',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('amount_off_cents', sa.BigInteger(), nullable=True),
    sa.Column('percent_bp', sa.Integer(), nullable=True),
    sa.Column('max_discount_cents', sa.BigInteger(), nullable=True),
    sa.Column('min_spend_cents', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('total_quantity', sa.Integer(), nullable=True),
    sa.Column('per_user_limit', sa.Integer(), server_default='1', nullable=False),
    sa.Column('used_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('is_public', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(kind = 'amount' AND amount_off_cents > 0 AND percent_bp IS NULL) OR (kind = 'percent' AND percent_bp BETWEEN 1 AND 9999 AND amount_off_cents IS NULL)", name=op.f('ck_platform_coupons_value')),
    sa.CheckConstraint("kind IN ('amount', 'percent')", name=op.f('ck_platform_coupons_kind')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_platform_coupons_period')),
    sa.CheckConstraint('max_discount_cents IS NULL OR max_discount_cents > 0', name=op.f('ck_platform_coupons_max_discount')),
    sa.CheckConstraint('min_spend_cents >= 0', name=op.f('ck_platform_coupons_min_spend')),
    sa.CheckConstraint('per_user_limit > 0', name=op.f('ck_platform_coupons_per_user')),
    sa.CheckConstraint('total_quantity IS NULL OR total_quantity > 0', name=op.f('ck_platform_coupons_quantity')),
    sa.CheckConstraint('used_count >= 0 AND (total_quantity IS NULL OR used_count <= total_quantity)', name=op.f('ck_platform_coupons_used')),
    sa.ForeignKeyConstraint(['created_by_id'], ['public.users.id'], name=op.f('fk_platform_coupons_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_platform_coupons')),
    sa.UniqueConstraint('code', name=op.f('uq_platform_coupons_code')),
    schema='public'
    )
    op.create_table('coupon_redemptions',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('coupon_id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('checkout_id', sa.BigInteger(), nullable=False),
    sa.Column('discount_cents', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=10), server_default='used', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('used', 'released')", name=op.f('ck_coupon_redemptions_status')),
    sa.CheckConstraint('discount_cents > 0', name=op.f('ck_coupon_redemptions_discount')),
    sa.ForeignKeyConstraint(['checkout_id'], ['public.checkouts.id'], name=op.f('fk_coupon_redemptions_checkout_id_checkouts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['coupon_id'], ['public.platform_coupons.id'], name=op.f('fk_coupon_redemptions_coupon_id_platform_coupons'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['public.users.id'], name=op.f('fk_coupon_redemptions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupon_redemptions')),
    sa.UniqueConstraint('checkout_id', name=op.f('uq_coupon_redemptions_checkout_id')),
    schema='public'
    )
    op.create_index('ix_coupon_redemptions_coupon_user', 'coupon_redemptions', ['coupon_id', 'user_id'], unique=False, schema='public')
    op.add_column("orders", sa.Column("platform_discount_cents", sa.BigInteger(), server_default="0", nullable=False), schema="public")
    op.drop_constraint(op.f("ck_orders_refunded"), "orders", schema="public", type_="check")
    op.create_check_constraint(
        op.f("ck_orders_refunded"), "orders", "refunded_cents BETWEEN 0 AND total_cents - platform_discount_cents", schema="public"
    )
    op.create_check_constraint(
        op.f("ck_orders_platform_discount"), "orders", "platform_discount_cents BETWEEN 0 AND total_cents", schema="public"
    )
    op.add_column("refunds", sa.Column("platform_cents", sa.BigInteger(), server_default="0", nullable=False), schema="public")
    op.add_column("statements", sa.Column("platform_discount_cents", sa.BigInteger(), server_default="0", nullable=False), schema="public")
    for column in ("store_discount_cents", "platform_discount_cents"):
        op.add_column("statement_lines", sa.Column(column, sa.BigInteger(), server_default="0", nullable=False), schema="public")


def downgrade() -> None:
    for column in ("store_discount_cents", "platform_discount_cents"):
        op.drop_column("statement_lines", column, schema="public")
    op.drop_column("statements", "platform_discount_cents", schema="public")
    op.drop_column("refunds", "platform_cents", schema="public")
    op.drop_constraint(op.f("ck_orders_platform_discount"), "orders", schema="public", type_="check")
    op.drop_constraint(op.f("ck_orders_refunded"), "orders", schema="public", type_="check")
    op.create_check_constraint(op.f("ck_orders_refunded"), "orders", "refunded_cents BETWEEN 0 AND total_cents", schema="public")
    op.drop_column("orders", "platform_discount_cents", schema="public")
    op.drop_index("ix_coupon_redemptions_coupon_user", table_name="coupon_redemptions", schema="public")
    op.drop_table("coupon_redemptions", schema="public")
    op.drop_table("platform_coupons", schema="public")
