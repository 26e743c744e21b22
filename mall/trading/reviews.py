"""Reviews (C-13): after receipt the buyer rates each order line (stars, text, photos) within
``MALL_REVIEW_DAYS``; lines not reviewed by then get a default five-star review (periodic job);
the store replies once; the buyer may edit their review once. Ratings roll up to the product's
public row and to the store, and the catalog pages showing them are refreshed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import func, select

from mall.catalog.cache import invalidate_catalog_pages
from mall.catalog.models import PublicProduct
from mall.catalog.paging import Page, paged
from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.i18n import _
from mall.identity.models import User
from mall.jobs.core import platform_job
from mall.merchants.models import Merchant
from mall.merchants.services import require_staff_permission
from mall.storage.services import Photo, UploadRejected, store_upload
from mall.tenancy import tenant
from mall.tenancy.binding import require_merchant_id
from mall.trading.models import Order, OrderLine, Review

TEXT_MAX, MAX_PHOTOS = 1000, 6
REVIEWABLE = ("received", "completed")


class ReviewError(DomainError):
    pass


def _text(value: str | None) -> str | None:
    text = re.sub(r"[ \t]+", " ", (value or "").replace("\r\n", "\n")).strip()
    if len(text) > TEXT_MAX:
        raise ReviewError(_("At most %(n)d characters.", n=TEXT_MAX), field="text")
    return text or None


def _stars(value) -> int:
    try:
        stars = int(value)
    except (TypeError, ValueError):
        stars = 0
    if not 1 <= stars <= 5:
        raise ReviewError(_("Choose one to five stars."), field="stars")
    return stars


def review_deadline(order: Order) -> datetime | None:
    if order.received_at is None:
        return None
    return order.received_at + timedelta(days=current_app.config["MALL_REVIEW_DAYS"])


def can_review(order: Order) -> bool:
    deadline = review_deadline(order)
    return order.status in REVIEWABLE and deadline is not None and datetime.now(UTC) < deadline


def reviews_of_order(order: Order) -> dict[int, Review]:
    """The order's reviews by order line id."""
    with tenant(order.merchant_id):
        reviews = list(db.session.scalars(select(Review).where(Review.order_id == order.id)))
        for review in reviews:
            db.session.expunge(review)
    return {review.order_line_id: review for review in reviews}


def write_review(
    user_id: int, order_id: int, line_id: int, stars, text: str | None, photos: list[Photo] = ()
) -> Review:
    order = db.session.scalar(select(Order).where(Order.id == order_id, Order.user_id == user_id))
    if order is None:
        raise NotFound(_("This order does not exist."))
    if not can_review(order):
        raise ReviewError(
            _(
                "This order cannot be reviewed now: reviews open at receipt and close %(n)d days later.",
                n=current_app.config["MALL_REVIEW_DAYS"],
            )
        )
    stars, text = _stars(stars), _text(text)
    photos = list(photos)
    if len(photos) > MAX_PHOTOS:
        raise ReviewError(_("At most %(n)d photos.", n=MAX_PHOTOS), field="photos")
    with tenant(order.merchant_id):
        line = db.session.scalar(select(OrderLine).where(OrderLine.id == line_id, OrderLine.order_id == order.id))
        if line is None:
            raise NotFound(_("This item is not in the order."))
        if db.session.scalar(select(Review.id).where(Review.order_line_id == line.id)) is not None:
            raise ReviewError(_("You reviewed this item already."))
        keys = []
        for photo in photos:
            try:
                keys.append(
                    store_upload(
                        photo.data,
                        photo.filename,
                        purpose="review-photo",
                        owner_id=user_id,
                        merchant_id=order.merchant_id,
                    ).key
                )
            except UploadRejected as error:
                raise ReviewError(error.message, field="photos") from error
        review = Review(
            order_id=order.id,
            order_line_id=line.id,
            product_id=line.product_id,
            user_id=user_id,
            specs=line.specs,
            stars=stars,
            text=text,
            photo_keys=keys,
        )
        db.session.add(review)
        db.session.flush()
    roll_up(order.merchant_id, line.product_id)
    return review


def edit_review(user_id: int, merchant_id: int, review_id: int, stars, text: str | None) -> Review:
    """The buyer changes their review, once."""
    stars, text = _stars(stars), _text(text)
    with tenant(merchant_id):
        review = db.session.scalar(
            select(Review).where(Review.id == review_id, Review.user_id == user_id).with_for_update()
        )
        if review is None:
            raise NotFound(_("This review does not exist."))
        if review.edit_count >= 1:
            raise ReviewError(_("A review can be changed only once."))
        review.stars, review.text, review.is_default = stars, text, False
        review.edit_count += 1
        review.updated_at = datetime.now(UTC)
        db.session.flush()
        product_id = review.product_id
    roll_up(merchant_id, product_id)
    return review


def reply(actor: User, review_id: int, text: str | None) -> Review:
    """The store answers a review (once)."""
    merchant_id = require_merchant_id()
    require_staff_permission(actor, "orders.manage")
    text = _text(text)
    if not text:
        raise ReviewError(_("Write the reply."), field="reply")
    review = db.session.scalar(select(Review).where(Review.id == review_id).with_for_update())
    if review is None:
        raise NotFound(_("This review does not exist."))
    if review.reply:
        raise ReviewError(_("This review has a reply already."))
    review.reply, review.replied_at = text, datetime.now(UTC)
    db.session.flush()
    invalidate_catalog_pages(merchant_id)
    return review


def store_reviews(page: int = 1, unanswered: bool = False) -> Page:
    """The bound store's reviews, newest first."""
    stmt = select(Review)
    if unanswered:
        stmt = stmt.where(Review.reply.is_(None), Review.is_default.is_(False))
    result = paged(stmt.order_by(Review.created_at.desc(), Review.id.desc()), page, 20)
    result.items = [row[0] for row in result.items]
    return result


def product_reviews(merchant_id: int, product_id: int, limit: int = 10) -> list[Review]:
    with tenant(merchant_id):
        reviews = list(
            db.session.scalars(
                select(Review)
                .where(Review.product_id == product_id)
                .order_by(Review.created_at.desc(), Review.id.desc())
                .limit(limit)
            )
        )
        for review in reviews:
            db.session.expunge(review)
    return reviews


def _average(total: int, count: int) -> Decimal | None:
    return (Decimal(total) / count).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if count else None


def roll_up(merchant_id: int, product_id: int) -> None:
    """Average stars and count of the product (its public row) and of the store."""
    with tenant(merchant_id):
        product_total, product_count = db.session.execute(
            select(func.coalesce(func.sum(Review.stars), 0), func.count()).where(Review.product_id == product_id)
        ).one()
        store_total, store_count = db.session.execute(
            select(func.coalesce(func.sum(Review.stars), 0), func.count())
        ).one()
    row = db.session.get(PublicProduct, product_id)
    if row is not None:
        row.rating, row.review_count = _average(product_total, product_count), product_count
    merchant = db.session.get(Merchant, merchant_id)
    merchant.rating, merchant.review_count = _average(store_total, store_count), store_count
    db.session.flush()
    invalidate_catalog_pages(merchant_id)


@platform_job(queue="default")
def give_default_reviews(limit: int = 200) -> int:
    """Lines not reviewed ``MALL_REVIEW_DAYS`` after receipt get a default five-star review
    (periodic); each order in its own transaction. Returns how many reviews were given."""
    cutoff = datetime.now(UTC) - timedelta(days=current_app.config["MALL_REVIEW_DAYS"])
    ids = list(
        db.session.scalars(
            select(Order.id)
            .where(Order.status.in_(REVIEWABLE), Order.received_at < cutoff, Order.reviews_closed_at.is_(None))
            .order_by(Order.id)
            .limit(limit)
        )
    )
    given = 0
    for order_id in ids:
        order = db.session.scalar(select(Order).where(Order.id == order_id).with_for_update(of=Order))
        if order is None or order.reviews_closed_at is not None:
            db.session.rollback()
            continue
        products = set()
        with tenant(order.merchant_id):
            reviewed = set(db.session.scalars(select(Review.order_line_id).where(Review.order_id == order.id)))
            for line in db.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)):
                if line.id not in reviewed:
                    db.session.add(
                        Review(
                            order_id=order.id,
                            order_line_id=line.id,
                            product_id=line.product_id,
                            user_id=order.user_id,
                            specs=line.specs,
                            stars=5,
                            is_default=True,
                        )
                    )
                    products.add(line.product_id)
                    given += 1
            db.session.flush()
        for product_id in products:
            roll_up(order.merchant_id, product_id)
        order.reviews_closed_at = datetime.now(UTC)
        db.session.commit()
    return given
