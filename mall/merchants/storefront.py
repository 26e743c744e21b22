"""Resolving a store for its public pages: by slug or by subdomain; unknown or hidden → None."""

from __future__ import annotations

from flask import current_app, request
from sqlalchemy import select

from mall.extensions import db
from mall.merchants.models import Merchant
from mall.tenancy.binding import bind_merchant


def store_from_host(host: str) -> str | None:
    """``<sub>.<MALL_DOMAIN>`` → ``sub`` (the store's subdomain), else None."""
    domain = current_app.config.get("MALL_DOMAIN")
    host = host.split(":")[0].lower()
    if not domain or not host.endswith("." + domain.lower()):
        return None
    sub = host[: -len(domain) - 1]
    return sub if sub and "." not in sub and sub != "www" else None


def bind_store(slug: str | None = None) -> Merchant | None:
    """Bind the store named by ``slug`` (or the request's subdomain) if it is open to buyers."""
    clause = None
    if slug:
        clause = Merchant.slug == slug
    else:
        sub = store_from_host(request.host)
        if sub:
            clause = Merchant.subdomain == sub
    if clause is None:
        return None
    merchant = db.session.scalar(select(Merchant).where(clause))
    if merchant is None or not merchant.is_open:
        return None  # suspended and closed stores are hidden, never a fallback
    bind_merchant(merchant.id)
    return merchant


def open_stores(limit: int = 12) -> list[Merchant]:
    return list(
        db.session.scalars(select(Merchant).where(Merchant.status == "active").order_by(Merchant.id).limit(limit))
    )
