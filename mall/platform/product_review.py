"""Operator product review (P-04): the queue of all stores' submissions, one submission with its
diff, decisions, live products and take-downs, and the trusted-store switch."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm

from mall.catalog import review
from mall.catalog.models import REVIEW_KINDS, REVIEW_STATUSES, Product
from mall.catalog.money import format_price
from mall.catalog.review_content import content_changes, present, present_product, sku_changes
from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import L_, _
from mall.identity.login import safe_next
from mall.identity.models import User
from mall.merchants.models import Merchant
from mall.platform.views import Secured
from mall.tenancy.binding import tenant
from mall.tenancy.models import TenantSchema

KIND_LABELS = {"new": L_("New product"), "revision": L_("Changes to a live product")}
STATUS_LABELS = {
    "pending": L_("Waiting"),
    "approved": L_("Approved"),
    "rejected": L_("Rejected"),
    "withdrawn": L_("Withdrawn"),
}
PRODUCT_STATUS_LABELS = {
    "draft": L_("Draft"),
    "submitted": L_("Submitted"),
    "approved": L_("Live"),
    "rejected": L_("Rejected"),
    "taken_down": L_("Taken down"),
    "archived": L_("Archived"),
}
AGES = (1, 3, 7, 14)


class ProductReviewView(Secured, BaseView):
    permission = "products.review"

    @expose("/")
    def index(self):
        status = request.args.get("status", "pending")
        status = status if status in REVIEW_STATUSES else "pending"
        kind = request.args.get("kind") if request.args.get("kind") in REVIEW_KINDS else None
        merchant_id = request.args.get("store", type=int)
        older = request.args.get("older_than", type=int)
        older = older if older in AGES else None
        page = max(1, request.args.get("page", 1, type=int))
        items, total = review.review_queue(
            status=status, merchant_id=merchant_id, kind=kind, older_than_days=older, page=page
        )
        return self.render(
            "platform/review/queue.html",
            items=items,
            total=total,
            page=page,
            pages=max(1, -(-total // review.QUEUE_PAGE_SIZE)),
            stores=review.queue_stores(),
            store=db.session.get(Merchant, merchant_id) if merchant_id else None,
            status=status,
            kind=kind,
            older_than=older,
            ages=AGES,
            kinds=KIND_LABELS,
            statuses=STATUS_LABELS,
            deciders=self._users({i.decided_by_id for i in items}),
            form=FlaskForm(),
        )

    @expose("/<int:item_id>")
    def detail(self, item_id: int):
        item = self._item(item_id)
        self._require_schema(item.merchant_id)
        with tenant(item.merchant_id):
            try:
                product = review.product_of(item)
                revision = review.revision_of(item)
            except DomainError:
                abort(404)
            live = present_product(product)
            proposed = present(revision.data) if revision is not None else live
            return self.render(
                "platform/review/item.html",
                item=item,
                merchant=item.merchant,
                product=product,
                revision=revision,
                shown=proposed,
                changes=content_changes(live, proposed) if revision is not None else [],
                sku_changes=sku_changes(live.skus, proposed.skus) if revision is not None else [],
                pending=item.status == "pending",
                **self._common(item.merchant),
            )

    @expose("/<int:item_id>/decide", methods=["POST"])
    def decide(self, item_id: int):
        FlaskForm().validate_on_submit() or abort(400)
        item = self._item(item_id)
        self._require_schema(item.merchant_id)
        action = request.form.get("action", "")
        try:
            review.decide_queue_item(item, action, current_user, request.form.get("reason", ""))
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for(".detail", item_id=item_id))
        db.session.commit()
        flash(_("Approved and published.") if action == "approve" else _("Rejected; the store is told why."), "success")
        return redirect(url_for(".index"))

    @expose("/live")
    def live(self):
        query = request.args.get("q", "")[:100]
        merchant_id = request.args.get("store", type=int)
        page = max(1, request.args.get("page", 1, type=int))
        rows, total = review.live_products(query, merchant_id, page)
        return self.render(
            "platform/review/live.html",
            rows=rows,
            total=total,
            page=page,
            pages=max(1, -(-total // review.QUEUE_PAGE_SIZE)),
            q=query,
            store=db.session.get(Merchant, merchant_id) if merchant_id else None,
            money=format_price,
        )

    @expose("/product/<int:merchant_id>/<int:product_id>")
    def product(self, merchant_id: int, product_id: int):
        merchant = db.session.get(Merchant, merchant_id) or abort(404)
        self._require_schema(merchant_id)
        with tenant(merchant_id):
            product = db.session.get(Product, product_id) or abort(404)
            return self.render(
                "platform/review/product.html",
                merchant=merchant,
                product=product,
                shown=present_product(product),
                revision=review.open_revision(product),
                **self._common(merchant),
            )

    @expose("/product/<int:merchant_id>/<int:product_id>/take-down", methods=["POST"])
    def take_down(self, merchant_id: int, product_id: int):
        FlaskForm().validate_on_submit() or abort(400)
        db.session.get(Merchant, merchant_id) or abort(404)
        self._require_schema(merchant_id)
        try:
            with tenant(merchant_id):
                product = db.session.get(Product, product_id) or abort(404)
                review.take_down_product(product, current_user, request.form.get("reason", ""))
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(_("The product is taken down and hidden from the mall; the store is told why."), "success")
        return redirect(url_for(".product", merchant_id=merchant_id, product_id=product_id))

    @expose("/store/<int:merchant_id>/trust", methods=["POST"])
    def trust(self, merchant_id: int):
        FlaskForm().validate_on_submit() or abort(400)
        merchant = db.session.get(Merchant, merchant_id) or abort(404)
        trusted = request.form.get("trusted") == "1"
        review.set_catalog_trusted(merchant, current_user, trusted)
        db.session.commit()
        if trusted:
            flash(_("“%(store)s” is trusted: its products publish without review.", store=merchant.name), "success")
        else:
            flash(_("“%(store)s” is no longer trusted: its products wait for review.", store=merchant.name), "success")
        return redirect(safe_next(request.form.get("next"), url_for(".index")))

    # --- helpers -----------------------------------------------------------------------------------

    def _item(self, item_id: int):
        try:
            return review.get_queue_item(item_id)
        except DomainError:
            abort(404)

    def _require_schema(self, merchant_id: int) -> None:
        """A store whose schema was archived and dropped has nothing left to show."""
        schema = db.session.get(TenantSchema, merchant_id)
        if schema is None or schema.state != "active":
            abort(404)

    def _users(self, ids) -> dict[int, User]:
        ids = {i for i in ids if i}
        if not ids:
            return {}
        return {u.id: u for u in db.session.query(User).filter(User.id.in_(ids))}

    def _common(self, merchant: Merchant) -> dict:
        return {
            "money": format_price,
            "kinds": KIND_LABELS,
            "statuses": STATUS_LABELS,
            "product_statuses": PRODUCT_STATUS_LABELS,
            "trusted_next": request.full_path.rstrip("?"),
            "form": FlaskForm(),
            "store_merchant": merchant,
        }
