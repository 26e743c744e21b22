"""A store's products (M-04): the editor's content, the review states, revisions, delete or archive.

Life cycle (see ``mall.catalog.models``): a draft, rejected or taken-down product is edited in
place; ``submit_product`` checks everything a submission needs and puts it in the platform's
review queue (``mall.catalog.review``); while submitted nothing changes except withdrawing it.
A live (approved) product is never edited in place: its edits go into the single open
``ProductRevision`` (``data`` = the whole new content) while the approved columns keep selling;
the revision is submitted, withdrawn or discarded like a product. A trusted store's submissions
are approved at once. Shelf state and schedules live in ``mall.catalog.shelf``, the merchant
centre's list in ``mall.catalog.product_list``.

Every function works on the bound store (another store's ids are simply not found), flushes and
leaves the commit to the caller; every write is audited (area ``merchant``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from mall.audit.services import diff, record_audit
from mall.catalog import images as product_images
from mall.catalog.inventory import adjust_stock
from mall.catalog.models import Product, ProductImage, ProductRevision, Sku, StockMovement
from mall.catalog.product_input import (
    ProductError,
    ProductInvalid,
    clean_product_input,
    content_to_raw,
    sku_matrix,
)
from mall.catalog.publishing import remove_public_product, sync_public_product
from mall.catalog.review import approve_product, enqueue_review, withdraw_review
from mall.decoration.media import VideoRejected
from mall.errors import NotFound
from mall.extensions import db
from mall.i18n import L_, _
from mall.merchants.models import Merchant
from mall.storage.services import Upload, UploadRejected
from mall.tenancy.binding import require_merchant_id

__all__ = [
    "EDITABLE_STATUSES",
    "ProductError",
    "ProductInvalid",
    "apply_content",
    "create_product",
    "delete_product",
    "discard_revision",
    "editable_content",
    "get_product",
    "open_revision",
    "product_content",
    "product_is_referenced",
    "save_product",
    "submit_product",
    "withdraw_product",
]

EDITABLE_STATUSES = ("draft", "rejected", "taken_down")  # edited in place
OPEN_REVISION = ("draft", "submitted")
STATUS_LABELS = {
    "draft": L_("Draft"),
    "submitted": L_("In review"),
    "approved": L_("Approved"),
    "rejected": L_("Rejected"),
    "taken_down": L_("Taken down"),
    "archived": L_("Archived"),
}


def _now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def get_product(product_id: Any, *, lock: bool = False) -> Product:
    """A product of the bound store (``lock``: row-locked for a write). Another store's id is not
    found: its rows are in another schema."""
    try:
        key = int(product_id)
    except (TypeError, ValueError):
        key = 0
    product = None
    if 0 < key < 2**63:
        stmt = select(Product).where(Product.id == key)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        product = db.session.scalar(stmt)
    if product is None:
        raise NotFound(_("This product does not exist in your store."))
    return product


def open_revision(product: Product) -> ProductRevision | None:
    """The live product's pending changes (being edited or waiting for review), if any."""
    return db.session.scalar(
        select(ProductRevision).where(
            ProductRevision.product_id == product.id, ProductRevision.status.in_(OPEN_REVISION)
        )
    )


def latest_revision(product: Product) -> ProductRevision | None:
    return db.session.scalar(
        select(ProductRevision)
        .where(ProductRevision.product_id == product.id)
        .order_by(ProductRevision.created_at.desc(), ProductRevision.id.desc())
        .limit(1)
    )


def product_content(product: Product) -> dict:
    """The product's whole editable content as JSON-able data (the shape of ``ProductRevision.data``).
    Stock is not content: it changes only through inventory movements."""
    keys = {key for key, _values in sku_matrix(product.specs or [])}
    return {
        "title": product.title,
        "subtitle": product.subtitle,
        "slug": product.slug,
        "category_id": product.category_id,
        "brand_id": product.brand_id,
        "tag_ids": list(product.tag_ids or []),
        "store_category_ids": list(product.store_category_ids or []),
        "specs": [{"name": s["name"], "values": list(s["values"])} for s in product.specs or []],
        "attributes": dict(product.attributes or {}),
        "description_html": product.description_html,
        "after_sales": product.after_sales,
        "video_file_id": product.video_file_id,
        "images": [image.file_id for image in sorted(product.images, key=lambda i: (i.position, i.id or 0))],
        "skus": [
            {
                "spec_values": dict(sku.spec_values or {}),
                "spec_key": sku.spec_key,
                "code": sku.code,
                "market_price_cents": sku.market_price_cents,
                "price_cents": sku.price_cents,
                "weight_grams": sku.weight_grams,
                "low_stock_threshold": sku.low_stock_threshold,
                "is_active": sku.is_active,
            }
            for sku in sorted(product.skus, key=lambda s: (s.position, s.id or 0))
            if sku.spec_key in keys
        ],
    }


def editable_content(product: Product) -> dict:
    """What the editor shows: the open revision's content for a live product, else the product's."""
    revision = open_revision(product) if product.status == "approved" else None
    return dict(revision.data) if revision is not None else product_content(product)


# ---------------------------------------------------------------------------------------------
# Writing content
# ---------------------------------------------------------------------------------------------


def apply_content(product: Product, data: dict, actor_id: int | None) -> None:
    """Write ``data`` (the shape of ``product_content``) onto the product: columns, images in order,
    SKUs matched by ``spec_key`` (existing ones updated, new ones created — with an ``initial`` stock
    movement when ``stock`` is given — and removed ones deactivated, or deleted when they have no
    stock history). A SKU code already used elsewhere in the store raises ``ProductInvalid``."""
    product.title = data["title"]
    product.subtitle = data.get("subtitle")
    product.category_id = data["category_id"]
    if product.id is None:
        product.slug = data.get("slug") or ""
        db.session.add(product)
        db.session.flush()
    product.slug = data.get("slug") or f"product-{product.id}"
    product.brand_id = data.get("brand_id")
    product.tag_ids = list(data.get("tag_ids") or [])
    product.store_category_ids = list(data.get("store_category_ids") or [])
    product.specs = [{"name": s["name"], "values": list(s["values"])} for s in data.get("specs") or []]
    product.attributes = dict(data.get("attributes") or {})
    product.description_html = data.get("description_html")
    product.after_sales = data.get("after_sales")
    product.video_file_id = data.get("video_file_id")
    product.updated_at = _now()
    _apply_images(product, list(data.get("images") or []))
    _apply_skus(product, list(data.get("skus") or []), actor_id)
    db.session.expire(product, ["images", "skus"])  # read back in position order


def _apply_images(product: Product, file_ids: list[int]) -> None:
    current = {image.file_id: image for image in product.images}
    added: list[ProductImage] = []
    for position, file_id in enumerate(dict.fromkeys(file_ids)):
        image = current.pop(file_id, None)
        if image is None:
            image = ProductImage(file_id=file_id, position=position)
            product.images.append(image)
            added.append(image)
        else:
            image.position = position
    for image in current.values():
        product.images.remove(image)
    db.session.flush()
    product_images.schedule_thumbnails(added)


def _apply_skus(product: Product, rows: list[dict], actor_id: int | None) -> None:
    existing = {sku.spec_key: sku for sku in product.skus}
    wanted = {row["spec_key"] for row in rows}
    incoming_codes = {row.get("code") for row in rows if row.get("code")}
    removed = [sku for key, sku in existing.items() if key not in wanted]
    with_history = _skus_with_movements([sku.id for sku in removed])
    for sku in removed:
        if sku.id in with_history:
            sku.is_active = False
            if sku.code in incoming_codes:
                sku.code = None  # the code moves to a new cell
        else:
            product.skus.remove(sku)
    for row in rows:  # codes that move between cells are released first (the index is not deferrable)
        sku = existing.get(row["spec_key"])
        if sku is not None and sku.code and sku.code != row.get("code"):
            sku.code = None
    db.session.flush()
    created: list[tuple[Sku, int]] = []
    try:
        with db.session.begin_nested():
            for position, row in enumerate(rows):
                sku = existing.get(row["spec_key"])
                if sku is None:
                    sku = Sku(spec_key=row["spec_key"], stock=0)
                    product.skus.append(sku)
                    if row.get("stock"):
                        created.append((sku, int(row["stock"])))
                sku.spec_values = dict(row.get("spec_values") or {})
                sku.code = row.get("code")
                sku.market_price_cents = row.get("market_price_cents")
                sku.price_cents = row["price_cents"]
                sku.weight_grams = row.get("weight_grams")
                sku.low_stock_threshold = row.get("low_stock_threshold")
                sku.is_active = bool(row.get("is_active", True))
                sku.position = position
            db.session.flush()
    except IntegrityError as error:
        raise _code_clash(error, rows) from error
    for sku, stock in created:
        adjust_stock(sku.id, stock, "initial", actor_id=actor_id, note=None)


def _skus_with_movements(sku_ids: list[int]) -> set[int]:
    if not sku_ids:
        return set()
    return set(db.session.scalars(select(StockMovement.sku_id).where(StockMovement.sku_id.in_(sku_ids)).distinct()))


def _code_clash(error: IntegrityError, rows: list[dict]) -> Exception:
    """The partial unique index on SKU codes refused a write: name the SKU field that clashed."""
    diag = getattr(error.orig, "diag", None)
    if getattr(diag, "constraint_name", None) != "uq_skus_code":
        return error
    match = re.search(r"\(code\)=\((.*)\)", getattr(diag, "message_detail", "") or "")
    code = match.group(1) if match else None
    index = next((i for i, row in enumerate(rows) if code is not None and row.get("code") == code), 0)
    return ProductInvalid(
        {f"sku-{index}-code": _("The code %(code)s is already used by another product of your store.", code=code)}
    )


def _store_uploads(content: dict, uploads: Sequence[Upload], video: Upload | None, actor_id: int | None) -> None:
    """Store new images (appended after the kept ones) and a new video, once all text is valid."""
    for upload in uploads:
        try:
            content["images"].append(product_images.store_product_image(upload, actor_id).id)
        except UploadRejected as error:
            message = _("%(file)s: %(reason)s", file=upload.filename, reason=error.message)
            raise ProductInvalid({"new_images": message}) from error
    if video is not None:
        try:
            content["video_file_id"] = product_images.store_product_video(video, actor_id).id
        except VideoRejected as error:
            raise ProductInvalid({"video": error.message}) from error


def _audit(action: str, product: Product, actor, changes: dict | None = None) -> None:
    db.session.flush()
    record_audit(
        action,
        area="merchant",
        obj=product,
        object_type="Product",
        merchant_id=require_merchant_id(),
        changes=changes,
        actor=actor,
    )


def _content_changes(before: dict, after: dict) -> dict:
    """What changed, with the long description reduced to a mark."""
    summary = lambda c: {**c, "description_html": bool(c.get("description_html"))}  # noqa: E731
    changes = diff(summary(before), summary(after))
    if before.get("description_html") != after.get("description_html"):
        changes["description_html"] = ["…", "…"]
    return changes


def create_product(actor, raw: dict, *, new_images: Sequence[Upload] = (), video: Upload | None = None) -> Product:
    """A new draft from the editor's values. Raises ``ProductInvalid`` (nothing written)."""
    content = clean_product_input(raw, new_images=len(new_images))
    _store_uploads(content, new_images, video, actor.id)
    product = Product(status="draft", created_by_id=actor.id)
    apply_content(product, content, actor.id)
    _audit("product.create", product, actor, {"title": [None, product.title]})
    return product


def save_product(
    actor, product: Product, raw: dict, *, new_images: Sequence[Upload] = (), video: Upload | None = None
) -> ProductRevision | None:
    """Save the editor's values: in place for a draft, rejected or taken-down product; into the open
    revision for a live one (returned), leaving the selling content untouched."""
    if product.status == "submitted":
        raise ProductError(_("This product is waiting for review: withdraw it to make changes."))
    if product.status == "archived":
        raise ProductError(_("An archived product cannot be changed."))
    revision = open_revision(product) if product.status == "approved" else None
    if revision is not None and revision.status == "submitted":
        raise ProductError(_("Your changes are waiting for review: withdraw them to edit again."))
    content = clean_product_input(raw, product=product, new_images=len(new_images))
    _store_uploads(content, new_images, video, actor.id)
    before = product_content(product)
    if product.status != "approved":
        apply_content(product, content, actor.id)
        _audit("product.update", product, actor, _content_changes(before, product_content(product)))
        return None
    if revision is None:
        if not _content_changes(before, content):
            raise ProductError(_("Nothing has changed: the live product stays as it is."))
        revision = ProductRevision(product_id=product.id, status="draft", data=content, created_by_id=actor.id)
        db.session.add(revision)
    else:
        revision.data = content
    _audit("product.revision.save", product, actor, _content_changes(before, content))
    return revision


# ---------------------------------------------------------------------------------------------
# Review states
# ---------------------------------------------------------------------------------------------


def submit_product(product: Product, actor) -> None:
    """Send the product (or the live product's pending changes) for review after checking everything
    a submission needs (``ProductInvalid`` per field). A trusted store's submission is approved at
    once and published."""
    now = _now()
    if product.status == "approved":
        revision = open_revision(product)
        if revision is None or revision.status != "draft":
            raise ProductError(_("There are no changes to submit."))
        revision.data = clean_product_input(content_to_raw(revision.data), product=product, strict=True)
        revision.status = "submitted"
        revision.submitted_at = now
        _audit("product.revision.submit", product, actor, {"revision": [None, revision.id]})
        enqueue_review(product, revision)
    elif product.status in EDITABLE_STATUSES:
        clean_product_input(content_to_raw(product_content(product)), product=product, strict=True)
        before = product.status
        product.status = "submitted"
        product.submitted_at = now
        product.status_reason = None
        _audit("product.submit", product, actor, {"status": [before, "submitted"]})
        enqueue_review(product)
    else:
        raise ProductError(_("This product cannot be submitted now."))
    merchant = db.session.get(Merchant, require_merchant_id())
    if merchant.catalog_trusted:
        approve_product(product, actor=None, trusted=True)


def withdraw_product(product: Product, actor) -> None:
    """Take a submission back from the review queue: the product (or its changes) can be edited again."""
    if product.status == "submitted":
        product.status = "draft"
        _audit("product.withdraw", product, actor, {"status": ["submitted", "draft"]})
    else:
        revision = open_revision(product) if product.status == "approved" else None
        if revision is None or revision.status != "submitted":
            raise ProductError(_("Nothing of this product is waiting for review."))
        revision.status = "draft"
        revision.submitted_at = None
        _audit("product.revision.withdraw", product, actor, {"revision": [revision.id, None]})
    withdraw_review(product)


def discard_revision(product: Product, actor) -> None:
    """Drop the live product's pending changes; the live content stays as it is."""
    revision = open_revision(product)
    if revision is None:
        raise ProductError(_("This product has no pending changes."))
    was_submitted = revision.status == "submitted"
    revision.status = "withdrawn"
    revision.decided_at = _now()
    revision.decided_by_id = actor.id
    _audit("product.revision.discard", product, actor, {"revision": [revision.id, None]})
    if was_submitted:
        withdraw_review(product)


# ---------------------------------------------------------------------------------------------
# Delete or archive
# ---------------------------------------------------------------------------------------------


def product_is_referenced(product: Product) -> bool:
    """Does an order line of this store name the product?"""
    from mall.trading.models import OrderLine

    require_merchant_id()
    return bool(db.session.scalar(select(exists().where(OrderLine.product_id == product.id))))


def delete_product(product: Product, actor) -> bool:
    """Delete the product with its SKUs, images and public copy — or, when an order references it,
    archive it (off shelf, hidden, kept for the orders). Returns True when deleted."""
    title = product.title
    if product_is_referenced(product):
        before = product.status
        revision = open_revision(product)
        if revision is not None:
            revision.status = "withdrawn"
            revision.decided_at = _now()
        product.status = "archived"
        product.on_shelf = False
        product.shelve_at = product.unshelve_at = None
        withdraw_review(product)
        db.session.flush()
        sync_public_product(product)
        _audit("product.archive", product, actor, {"status": [before, "archived"]})
        return False
    product_id = product.id
    withdraw_review(product)
    remove_public_product(product_id)
    db.session.delete(product)
    db.session.flush()
    record_audit(
        "product.delete",
        area="merchant",
        object_type="Product",
        object_id=product_id,
        merchant_id=require_merchant_id(),
        changes={"title": [title, None]},
        actor=actor,
    )
    return True
