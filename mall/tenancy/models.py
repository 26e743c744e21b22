"""Declarative bases for tenant tables and the platform's schema registry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, MetaData, Sequence, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from mall.extensions import NAMING_CONVENTION, db
from mall.tenancy.session import TENANT_SCHEMA

# One sequence in ``public`` numbers every tenant row of every store: ids are
# globally unique, so identity maps and cross-schema references never collide.
TENANT_ID_SEQUENCE = Sequence("tenant_row_id_seq", schema="public", metadata=db.metadata)


class TenantModel(db.Model):
    """Base of every tenant (per-merchant schema) model."""

    __abstract__ = True
    metadata = MetaData(schema=TENANT_SCHEMA, naming_convention=NAMING_CONVENTION)

    id: Mapped[int] = mapped_column(
        BigInteger,
        TENANT_ID_SEQUENCE,
        primary_key=True,
        server_default=text("nextval('public.tenant_row_id_seq')"),
    )


class TenantSchema(db.Model):
    """Where each merchant's schema stands: its migration revision and state."""

    __tablename__ = "tenant_schemas"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    schema_name: Mapped[str] = mapped_column(String(63), unique=True)
    revision: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    provisioned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    upgraded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    archive_key: Mapped[str | None] = mapped_column(String(500))
