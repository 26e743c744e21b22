"""The review gate between a store's products and the mall (P-04).

A store submits a new product (``Product.status`` "submitted") or an edit of a live one (a
``ProductRevision`` "submitted"); the products service then calls ``enqueue_review`` so the
platform's queue (``product_review_queue``, one table for all stores) lists it without scanning
every store's schema. An operator with ``products.review`` approves (the content goes live and the
public catalog is written), rejects with a reason (nothing live changes), or takes a live product
down for a violation. A trusted store's submissions are approved at once by ``approve_product``
with ``trusted=True``. Every decision is audited in the same transaction and the store's product
managers are told (in-site message and email).

Functions that touch a product expect its store bound (``with tenant(merchant_id)``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from mall.audit.services import record_audit
from mall.catalog.models import Product, ProductRevision, PublicProduct, ReviewQueueItem
from mall.catalog.publishing import sync_public_product
from mall.errors import DomainError, NotFound, PermissionDenied
from mall.extensions import db
from mall.i18n import L_, _
from mall.identity.access import staff_permissions
from mall.identity.models import User
from mall.merchants.models import Merchant, MerchantMembership, StaffMember
from mall.notifications.services import notify
from mall.tenancy.binding import require_merchant_id, tenant
from mall.web.urls import external_url

TRUSTED_NOTE = "trusted store auto-publish"
QUEUE_PAGE_SIZE = 50


class ReviewError(DomainError):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


# --- the queue (called by the products service) ----------------------------------------------------


def enqueue_review(product: Product, revision: ProductRevision | None = None) -> ReviewQueueItem:
    """Put the submitted product (or its submitted revision) in the platform's queue. A product has
    at most one pending item: an earlier one (a resubmission) is replaced."""
    merchant_id = require_merchant_id()
    db.session.flush()  # the product (and revision) ids
    _close_pending(merchant_id, product.id, "withdrawn")
    content_title = (revision.data or {}).get("title") if revision is not None else None
    item = ReviewQueueItem(
        merchant_id=merchant_id,
        product_id=product.id,
        revision_id=revision.id if revision is not None else None,
        kind="revision" if revision is not None else "new",
        title=str(content_title or product.title)[:120],
        submitted_at=(revision.submitted_at if revision is not None else product.submitted_at) or _now(),
        status="pending",
    )
    db.session.add(item)
    db.session.flush()
    return item


def withdraw_review(product: Product) -> None:
    """The store took its submission back (or deleted the product): it leaves the queue."""
    _close_pending(require_merchant_id(), product.id, "withdrawn")


def _close_pending(merchant_id: int, product_id: int, status: str, actor: User | None = None, reason=None) -> None:
    for item in db.session.scalars(
        select(ReviewQueueItem)
        .where(
            ReviewQueueItem.merchant_id == merchant_id,
            ReviewQueueItem.product_id == product_id,
            ReviewQueueItem.status == "pending",
        )
        .with_for_update(of=ReviewQueueItem)
    ):
        item.status = status
        item.decided_at = _now()
        item.decided_by_id = getattr(actor, "id", None)
        item.reason = reason
    db.session.flush()


def review_queue(
    *,
    status: str = "pending",
    merchant_id: int | None = None,
    kind: str | None = None,
    older_than_days: int | None = None,
    page: int = 1,
    per_page: int = QUEUE_PAGE_SIZE,
) -> tuple[list[ReviewQueueItem], int]:
    """One page of the queue across all stores (oldest waiting first) and the total count."""
    stmt = select(ReviewQueueItem)
    if status:
        stmt = stmt.where(ReviewQueueItem.status == status)
    if merchant_id:
        stmt = stmt.where(ReviewQueueItem.merchant_id == merchant_id)
    if kind:
        stmt = stmt.where(ReviewQueueItem.kind == kind)
    if older_than_days:
        stmt = stmt.where(ReviewQueueItem.submitted_at < _now() - timedelta(days=older_than_days))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    order = ReviewQueueItem.submitted_at.asc() if status == "pending" else ReviewQueueItem.decided_at.desc()
    items = db.session.scalars(
        stmt.order_by(order, ReviewQueueItem.id).limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).all()
    return list(items), total


def queue_stores() -> list[tuple[Merchant, int]]:
    """Stores with pending submissions and how many (for the queue's store filter)."""
    rows = db.session.execute(
        select(Merchant, func.count(ReviewQueueItem.id))
        .join(ReviewQueueItem, ReviewQueueItem.merchant_id == Merchant.id)
        .where(ReviewQueueItem.status == "pending")
        .group_by(Merchant.id)
        .order_by(Merchant.name)
    ).all()
    return [(merchant, count) for merchant, count in rows]


def get_queue_item(item_id: int) -> ReviewQueueItem:
    item = db.session.get(ReviewQueueItem, item_id)
    if item is None:
        raise NotFound(_("No such submission."))
    return item


def product_of(item: ReviewQueueItem) -> Product:
    """The item's product, read from its store (bound by the caller)."""
    product = db.session.get(Product, item.product_id)
    if product is None:
        raise NotFound(_("The product no longer exists in its store."))
    return product


def revision_of(item: ReviewQueueItem) -> ProductRevision | None:
    if item.revision_id is None:
        return None
    revision = db.session.get(ProductRevision, item.revision_id)
    if revision is None or revision.product_id != item.product_id:
        raise NotFound(_("The submitted changes no longer exist."))
    return revision


def open_revision(product: Product) -> ProductRevision | None:
    """The product's revision waiting for review, if any."""
    return db.session.scalar(
        select(ProductRevision).where(ProductRevision.product_id == product.id, ProductRevision.status == "submitted")
    )


def live_products(
    query: str = "", merchant_id: int | None = None, page: int = 1, per_page: int = QUEUE_PAGE_SIZE
) -> tuple[list[PublicProduct], int]:
    """Published products of all stores (for taking one down), newest first; ``query`` matches titles."""
    stmt = select(PublicProduct)
    if query.strip():
        pattern = "%" + query.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(PublicProduct.title.ilike(pattern, escape="\\"))
    if merchant_id:
        stmt = stmt.where(PublicProduct.merchant_id == merchant_id)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(
        stmt.order_by(PublicProduct.published_at.desc(), PublicProduct.id.desc())
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    ).all()
    return list(rows), total


# --- decisions -------------------------------------------------------------------------------------


def decide_queue_item(item: ReviewQueueItem, action: str, actor: User, reason: str = "") -> Product:
    """An operator's decision on one queue item ("approve" or "reject"). The item is locked first,
    so two operators deciding at once get one decision and one "already decided"."""
    locked = db.session.scalar(
        select(ReviewQueueItem)
        .where(ReviewQueueItem.id == item.id)
        .with_for_update(of=ReviewQueueItem)
        .execution_options(populate_existing=True)
    )
    if locked is None or locked.status != "pending":
        raise ReviewError(_("This submission was already decided or withdrawn."))
    if action not in ("approve", "reject"):
        raise ReviewError(_("Choose to approve or to reject."))
    with tenant(locked.merchant_id):
        product = product_of(locked)
        revision = revision_of(locked)
        waiting = (
            revision is not None and revision.status == "submitted"
            if locked.kind == "revision"
            else product.status == "submitted"
        )
        if not waiting:
            raise ReviewError(_("This submission was already decided or withdrawn."))
        if action == "approve":
            approve_product(product, actor)
        else:
            reject_product(product, actor, reason)
    return product


def approve_product(product: Product, actor: User | None, trusted: bool = False) -> PublicProduct | None:
    """Approve what the product has waiting — a new product or its submitted revision — and publish
    it. ``trusted=True`` is the trusted store's path (no operator; ``actor`` may be None): allowed
    only while the store is marked trusted. Atomic with its audit row and the public copy."""
    merchant = db.session.get(Merchant, require_merchant_id())
    if trusted:
        if not merchant.catalog_trusted:
            raise PermissionDenied(_("This store's products need the mall's review."))
    elif actor is None:
        raise PermissionDenied(_("Only an operator can approve products."))
    revision = None if product.status == "submitted" else open_revision(product)
    if product.status != "submitted" and revision is None:
        raise ReviewError(_("This product has nothing waiting for review."))
    now = _now()
    actor_id = getattr(actor, "id", None)
    if revision is None:
        before = {"status": product.status, "on_shelf": product.on_shelf}
        product.status = "approved"
        product.status_reason = None
        product.approved_at = product.approved_at or now
        product.approved_by_id = actor_id
        if product.shelve_at is None or product.shelve_at <= now:  # a later scheduled listing waits for its job
            product.on_shelf = True
            product.shelve_at = None
        action = "product.approve"
        changes = {"status": [before["status"], "approved"], "on_shelf": [before["on_shelf"], product.on_shelf]}
    else:
        if product.status != "approved":
            raise ReviewError(_("Changes can only be approved for a live product."))
        from mall.catalog.products import apply_content  # the products service owns the content shape

        apply_content(product, revision.data, actor_id)
        revision.status = "approved"
        revision.decided_at = now
        revision.decided_by_id = actor_id
        action = "product.revision.approve"
        changes = {"revision": [None, revision.id]}
    _close_pending(merchant.id, product.id, "approved", actor)
    db.session.flush()
    row = sync_public_product(product)
    if trusted:
        changes["review"] = [None, TRUSTED_NOTE]
    record_audit(
        action,
        area="merchant" if trusted else "platform",
        obj=product,
        object_type="Product",
        merchant_id=merchant.id,
        changes=changes,
        actor=actor,
    )
    if not trusted:
        if revision is None:
            subject = L_("“%(title)s” is approved", title=product.title)
            body = L_("Your product “%(title)s” passed review and is published in the mall.", title=product.title)
        else:
            subject = L_("Changes to “%(title)s” are approved", title=product.title)
            body = L_("The changes you submitted to “%(title)s” passed review and are live now.", title=product.title)
        _tell_product_managers(merchant, subject, body)
    return row


def reject_product(product: Product, actor: User, reason: str) -> None:
    """Refuse what the product has waiting, with the reason the store will read. A rejected revision
    leaves the live product exactly as it was."""
    reason = _required_reason(reason, _("Give the reason for the rejection."))
    merchant = db.session.get(Merchant, require_merchant_id())
    revision = None if product.status == "submitted" else open_revision(product)
    if product.status != "submitted" and revision is None:
        raise ReviewError(_("This product has nothing waiting for review."))
    if revision is None:
        product.status = "rejected"
        product.status_reason = reason
        action, title = "product.reject", product.title
        subject = L_("“%(title)s” was not approved", title=title)
        body = L_("Your product “%(title)s” was not approved. Reason: %(reason)s", title=title, reason=reason)
    else:
        revision.status = "rejected"
        revision.reason = reason
        revision.decided_at = _now()
        revision.decided_by_id = actor.id
        action, title = "product.revision.reject", product.title
        subject = L_("Changes to “%(title)s” were not approved", title=title)
        body = L_(
            "The changes you submitted to “%(title)s” were not approved; the live product is unchanged. "
            "Reason: %(reason)s",
            title=title,
            reason=reason,
        )
    _close_pending(merchant.id, product.id, "rejected", actor, reason)
    db.session.flush()
    sync_public_product(product)  # a resubmitted, once-approved product stays hidden while rejected
    record_audit(
        action,
        area="platform",
        obj=product,
        object_type="Product",
        merchant_id=merchant.id,
        changes={"reason": [None, reason], **({"revision": [None, revision.id]} if revision else {})},
        actor=actor,
    )
    _tell_product_managers(merchant, subject, body)


def take_down_product(product: Product, actor: User, reason: str) -> None:
    """Remove a live product from the mall for a violation: off shelf, hidden, its pending changes
    withdrawn. The store may fix it and submit it again."""
    reason = _required_reason(reason, _("Give the reason for taking the product down."))
    merchant = db.session.get(Merchant, require_merchant_id())
    if product.status != "approved":
        raise ReviewError(_("Only a live product can be taken down."))
    revision = open_revision(product)
    if revision is not None:
        revision.status = "withdrawn"
        revision.decided_at = _now()
        revision.decided_by_id = actor.id
    product.status = "taken_down"
    product.status_reason = reason
    product.on_shelf = False
    product.shelve_at = None
    _close_pending(merchant.id, product.id, "withdrawn", actor, reason)
    db.session.flush()
    sync_public_product(product)
    record_audit(
        "product.take_down",
        area="platform",
        obj=product,
        object_type="Product",
        merchant_id=merchant.id,
        changes={"status": ["approved", "taken_down"], "reason": [None, reason]},
        actor=actor,
    )
    _tell_product_managers(
        merchant,
        L_("“%(title)s” was taken down", title=product.title),
        L_(
            "The mall took down your product “%(title)s”. Reason: %(reason)s\nFix it and submit it for review again.",
            title=product.title,
            reason=reason,
        ),
    )


def set_catalog_trusted(merchant: Merchant, actor: User, trusted: bool) -> None:
    """Trust a store (its submissions publish without review) or stop trusting it. Audited."""
    before = merchant.catalog_trusted
    if before == trusted:
        return
    merchant.catalog_trusted = trusted
    db.session.flush()
    record_audit(
        "merchant.catalog_trusted",
        area="platform",
        obj=merchant,
        merchant_id=merchant.id,
        changes={"catalog_trusted": [before, trusted]},
        actor=actor,
    )


def _required_reason(reason: str | None, message: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReviewError(message, field="reason")
    return reason[:1000]


def product_manager_ids(merchant_id: int) -> list[int]:
    """Active staff of the bound store whose role grants ``products.manage``."""
    active = set(
        db.session.scalars(
            select(MerchantMembership.user_id).where(
                MerchantMembership.merchant_id == merchant_id, MerchantMembership.is_active.is_(True)
            )
        )
    )
    staff = db.session.scalars(select(StaffMember).where(StaffMember.is_active.is_(True))).all()
    return sorted(s.user_id for s in staff if s.user_id in active and "products.manage" in staff_permissions(s))


def _tell_product_managers(merchant: Merchant, subject: object, body: object) -> None:
    try:
        link = external_url("merchant.dashboard")
    except RuntimeError:  # outside a request, without MALL_BASE_URL or SERVER_NAME
        link = None
    for user_id in product_manager_ids(merchant.id):
        notify(user_id, subject, body, link)
