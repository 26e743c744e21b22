"""after-sales order index columns, refund commission share

The order index learns where its after-sales cases stand (the cases live in the store schemas),
how much of it was refunded, and which order a replacement replaces; a refund records the share
of commission it gave back.

Revision ID: 37145b9a9607
Revises: 0789b6e89e9e
Create Date: 2026-11-30 04:36:16.107424
"""

import sqlalchemy as sa
from alembic import op


revision = "37145b9a9607"
down_revision = "0789b6e89e9e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("case_status", sa.String(length=10), nullable=True), schema="public")
    op.add_column("orders", sa.Column("case_due_at", sa.DateTime(timezone=True), nullable=True), schema="public")
    op.add_column(
        "orders", sa.Column("refunded_cents", sa.BigInteger(), server_default="0", nullable=False), schema="public"
    )
    op.add_column("orders", sa.Column("replaces_order_id", sa.BigInteger(), nullable=True), schema="public")
    op.create_foreign_key(
        op.f("fk_orders_replaces_order_id_orders"),
        "orders",
        "orders",
        ["replaces_order_id"],
        ["id"],
        source_schema="public",
        referent_schema="public",
        ondelete="RESTRICT",
    )
    op.create_check_constraint(
        op.f("ck_orders_case_status"), "orders", "case_status IN ('open', 'disputed', 'closed')", schema="public"
    )
    op.create_check_constraint(
        op.f("ck_orders_refunded"), "orders", "refunded_cents BETWEEN 0 AND total_cents", schema="public"
    )
    op.create_index(
        "ix_orders_case_due",
        "orders",
        ["case_due_at"],
        unique=False,
        schema="public",
        postgresql_where=sa.text("case_due_at IS NOT NULL"),
    )
    op.create_index(
        "ix_orders_case_status",
        "orders",
        ["case_status", "updated_at"],
        unique=False,
        schema="public",
        postgresql_where=sa.text("case_status IS NOT NULL"),
    )
    op.add_column(
        "refunds", sa.Column("commission_cents", sa.BigInteger(), server_default="0", nullable=False), schema="public"
    )


def downgrade() -> None:
    op.drop_column("refunds", "commission_cents", schema="public")
    op.drop_index("ix_orders_case_status", table_name="orders", schema="public")
    op.drop_index("ix_orders_case_due", table_name="orders", schema="public")
    op.drop_constraint(op.f("ck_orders_refunded"), "orders", schema="public", type_="check")
    op.drop_constraint(op.f("ck_orders_case_status"), "orders", schema="public", type_="check")
    op.drop_constraint(op.f("fk_orders_replaces_order_id_orders"), "orders", schema="public", type_="foreignkey")
    op.drop_column("orders", "replaces_order_id", schema="public")
    op.drop_column("orders", "refunded_cents", schema="public")
    op.drop_column("orders", "case_due_at", schema="public")
    op.drop_column("orders", "case_status", schema="public")
