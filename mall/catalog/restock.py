"""Out-of-stock registration (C-19): "notify me when it is back".

A shopper registers for one sold-out SKU of a visible product (one waiting request per shopper and
SKU: a partial unique index, so registering twice changes nothing). When the SKU's stock goes from
0 to positive (``mall.catalog.inventory`` calls ``on_restocked``), a tenant job tells every waiting
registrant once (in-site message + email with the product link) and stamps ``notified_at``; the
stamp is set by the same UPDATE that picks the registrants, so a retried or duplicated job never
tells anyone twice. If the SKU sold out again (or left the mall) before the job ran, nobody is told
and the requests keep waiting for the next restock.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from mall.catalog.models import Product, PublicProduct, RestockRequest, Sku
from mall.catalog.paging import Page, paged
from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.i18n import L_, _
from mall.jobs import enqueue, tenant_job
from mall.notifications.services import notify
from mall.tenancy import require_merchant_id
from mall.web.urls import external_url


def product_path(product_id: int, slug: str) -> str:
    """The product page's path (``/p/<id>-<slug>``)."""
    return f"/p/{int(product_id)}-{slug or 'item'}"


def product_url(product_id: int, slug: str) -> str:
    """The product page as an absolute link for messages and emails (a path if no host is known)."""
    try:
        base = external_url("consumer.home").rstrip("/")
    except RuntimeError:  # a worker without MALL_BASE_URL or SERVER_NAME cannot build URLs
        base = ""
    return base + product_path(product_id, slug)


def sku_product_id(sku_id: int) -> int | None:
    """The product of a SKU of the bound store (None: not this store's)."""
    return db.session.scalar(select(Sku.product_id).where(Sku.id == sku_id))


def _visible_sku(sku_id: int) -> tuple[Sku, PublicProduct]:
    sku = db.session.get(Sku, sku_id)
    public = db.session.get(PublicProduct, sku.product_id) if sku is not None else None
    if (
        sku is None
        or not sku.is_active
        or public is None
        or not public.is_visible
        or public.merchant_id != require_merchant_id()
    ):
        raise NotFound(_("This product is not on sale."))
    return sku, public


def register_restock(user_id: int, sku_id: int) -> bool:
    """Ask to be told when a sold-out SKU (of the bound store) is back; True when newly registered.

    Only for SKUs with no stock of products the mall shows; registering again is harmless.
    """
    sku, _public = _visible_sku(sku_id)
    if sku.stock > 0:
        raise DomainError(_("This item is in stock: you can buy it now."), field="sku_id")
    inserted = db.session.execute(
        insert(RestockRequest)
        .values(sku_id=sku.id, user_id=user_id)
        .on_conflict_do_nothing(index_elements=["sku_id", "user_id"], index_where=RestockRequest.notified_at.is_(None))
        .returning(RestockRequest.id)
    ).scalar()
    return inserted is not None


def cancel_restock(user_id: int, sku_id: int) -> bool:
    """Withdraw a waiting request (also for a product that has left the mall); True when one went."""
    result = db.session.execute(
        delete(RestockRequest).where(
            RestockRequest.sku_id == sku_id, RestockRequest.user_id == user_id, RestockRequest.notified_at.is_(None)
        )
    )
    return result.rowcount > 0


def waiting_sku_ids(user_id: int, product_id: int) -> set[int]:
    """The product's SKUs this shopper waits for (the product page shows "we'll tell you")."""
    return set(
        db.session.scalars(
            select(RestockRequest.sku_id)
            .join(Sku, Sku.id == RestockRequest.sku_id)
            .where(
                Sku.product_id == product_id, RestockRequest.user_id == user_id, RestockRequest.notified_at.is_(None)
            )
        )
    )


def waiting_page(*, page: int = 1, per_page: int = 50) -> Page:
    """The store's SKUs with waiting registrants: ``(sku, product, count, first registered)``,
    the most wanted first."""
    waiting = (
        select(
            RestockRequest.sku_id,
            func.count().label("waiting"),
            func.min(RestockRequest.created_at).label("since"),
        )
        .where(RestockRequest.notified_at.is_(None))
        .group_by(RestockRequest.sku_id)
        .subquery()
    )
    stmt = (
        select(Sku, Product, waiting.c.waiting, waiting.c.since)
        .join(waiting, waiting.c.sku_id == Sku.id)
        .join(Product, Product.id == Sku.product_id)
        .order_by(waiting.c.waiting.desc(), waiting.c.since, Sku.id)
    )
    return paged(stmt, page, per_page)


def on_restocked(sku_ids: list[int]) -> list[int]:
    """Called when these SKUs went from 0 to positive: enqueue the notice for those with waiting
    registrants (after the commit); returns them."""
    wanted = sorted(
        set(
            db.session.scalars(
                select(RestockRequest.sku_id).where(
                    RestockRequest.sku_id.in_(sku_ids), RestockRequest.notified_at.is_(None)
                )
            )
        )
    )
    for sku_id in wanted:
        enqueue(notify_restocked, sku_id)
    return wanted


@tenant_job
def notify_restocked(sku_id: int) -> int:
    """Tell every waiting registrant of a restocked SKU, once; returns how many were told."""
    sku = db.session.get(Sku, sku_id)
    if sku is None or sku.stock <= 0 or not sku.is_active:
        return 0
    public = db.session.get(PublicProduct, sku.product_id)
    if public is None or not public.is_visible:
        return 0
    user_ids = list(
        db.session.scalars(
            update(RestockRequest)
            .where(RestockRequest.sku_id == sku.id, RestockRequest.notified_at.is_(None))
            .values(notified_at=func.now())
            .returning(RestockRequest.user_id)
        )
    )
    name = f"{public.title} ({sku.spec_key.replace('|', ' / ')})" if sku.spec_key else public.title
    link = product_url(public.id, public.slug)
    for user_id in user_ids:
        notify(
            user_id,
            L_("Back in stock: %(title)s", title=public.title),
            L_("%(name)s is back in stock. It may sell out again soon.", name=name),
            link,
        )
    return len(user_ids)
