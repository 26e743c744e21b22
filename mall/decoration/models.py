"""Shop decoration: the draft being edited and the published versions (tenant schema)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mall.tenancy.models import TenantModel


class DecorationDraft(TenantModel):
    """The one draft of the store home: theme, theme settings and the ordered module list."""

    __tablename__ = "decoration_draft"

    theme: Mapped[str] = mapped_column(String(40))
    settings: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    modules: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    based_on_version: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_by_id: Mapped[int | None] = mapped_column(BigInteger)


class DecorationVersion(TenantModel):
    """A published decoration; the highest version is live, earlier ones can be restored."""

    __tablename__ = "decoration_versions"

    version: Mapped[int] = mapped_column(Integer, unique=True)
    theme: Mapped[str] = mapped_column(String(40))
    settings: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    modules: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_by_id: Mapped[int | None] = mapped_column(BigInteger)
