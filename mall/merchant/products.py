"""Products in the merchant centre (M-04): the list, the editor, review actions, shelf, store categories.

Every route needs ``products.manage``. The rules live in ``mall.catalog.products`` (content and
review states), ``mall.catalog.shelf`` and ``mall.catalog.store_categories``; these views parse
forms, call one service, commit once, and show refusals as field errors (400) or flashes. A
product or category id of another store is not found in the bound store's schema: 404.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from mall.catalog import product_list, shelf
from mall.catalog import products as catalog
from mall.catalog import store_categories as store_cats
from mall.catalog.images import file_urls
from mall.catalog.models import Brand, Product, Tag
from mall.catalog.money import format_yuan
from mall.catalog.product_input import (
    MAX_IMAGES,
    MAX_SPECS,
    ProductInvalid,
    content_to_raw,
    preview_specs,
    sku_matrix,
)
from mall.catalog.taxonomy import (
    category_is_selectable,
    category_tree,
    flatten_tree,
    inherited_attributes,
    inherited_specs,
)
from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.i18n import _
from mall.merchant.access import require
from mall.merchant.views import blueprint
from mall.storage.services import Upload

_SKU_KEY = re.compile(r"^sku-(\d{1,4})-key$")


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _product(product_id: int, *, lock: bool = False) -> Product:
    try:
        return catalog.get_product(product_id, lock=lock)
    except NotFound:
        abort(404)


def _files(name: str) -> list[Upload]:
    return [Upload(f.read(), f.filename or "") for f in request.files.getlist(name) if f and f.filename]


def _file(name: str) -> Upload | None:
    files = _files(name)
    return files[0] if files else None


def _kept_images(form) -> list[str]:
    """Kept images in the order the merchant set (position fields), removed ones left out."""
    kept = []
    for index, file_id in enumerate(form.getlist("image_ids")):
        if form.get(f"image-remove-{file_id}"):
            continue
        position = form.get(f"image-pos-{file_id}", "")
        order = int(position) if position.strip().isdigit() else index + 1
        kept.append((order, index, file_id))
    return [file_id for _order, _index, file_id in sorted(kept)]


def editor_input(form) -> dict:
    """The editor form as the products service's raw values (parsing only; the service checks)."""
    raw = {
        name: form.get(name, "")
        for name in ("title", "subtitle", "slug", "category_id", "brand_id", "description_html", "after_sales")
    }
    raw["video_file_id"] = form.get("video_file_id", "")
    raw["remove_video"] = form.get("remove_video", "")
    raw["tag_ids"] = form.getlist("tag_ids")
    raw["store_category_ids"] = form.getlist("store_category_ids")
    raw["attributes"] = {name[5:]: form.getlist(name) for name in form if name.startswith("attr-")}
    raw["specs"] = [
        {"name": form.get(f"spec-{i}-name", ""), "values": form.get(f"spec-{i}-values", "")} for i in range(MAX_SPECS)
    ]
    skus = {}
    for name in form:
        match = _SKU_KEY.match(name)
        if match:
            i = match.group(1)
            skus[form.get(name, "")] = {
                "price": form.get(f"sku-{i}-price", ""),
                "market_price": form.get(f"sku-{i}-market_price", ""),
                "stock": form.get(f"sku-{i}-stock", ""),
                "code": form.get(f"sku-{i}-code", ""),
                "weight": form.get(f"sku-{i}-weight", ""),
                "is_active": form.get(f"sku-{i}-active") == "1",
            }
    raw["skus"] = skus
    raw["images"] = _kept_images(form)
    return raw


@dataclass
class SkuRow:
    index: int
    key: str
    values: dict
    data: dict
    live_stock: int | None  # the SKU exists: stock is shown, changed only in inventory


def _category_options() -> list[dict]:
    options = []
    for node in flatten_tree(category_tree(enabled_only=True)):
        options.append({"id": node.id, "name": node.name, "depth": node.depth, "selectable": node.is_leaf})
    return options


def _spec_text(values) -> str:
    return ", ".join(values) if isinstance(values, list | tuple) else str(values or "")


def _editor(product: Product | None, raw: dict, errors: dict | None = None, status: int = 200):
    category_id = raw.get("category_id")
    selectable = bool(str(category_id or "").isdigit() and category_is_selectable(category_id))
    specs = preview_specs(raw.get("specs"))
    live = {sku.spec_key: sku for sku in product.skus} if product is not None else {}
    rows = [
        SkuRow(i, key, values, (raw.get("skus") or {}).get(key) or {}, live[key].stock if key in live else None)
        for i, (key, values) in enumerate(sku_matrix(specs))
    ]
    raw_specs = list(raw.get("specs") or [])
    raw_specs += [{"name": "", "values": ""}] * (MAX_SPECS - len(raw_specs))
    image_ids = [int(i) for i in raw.get("images") or [] if str(i).isdigit()]
    video_id = int(raw["video_file_id"]) if str(raw.get("video_file_id") or "").isdigit() else None
    urls = file_urls([*image_ids, video_id])
    revision = catalog.open_revision(product) if product is not None and product.status == "approved" else None
    latest = catalog.latest_revision(product) if product is not None and product.status == "approved" else None
    return render_template(
        "merchant/products/editor.html",
        product=product,
        raw=raw,
        errors=errors or {},
        categories=_category_options(),
        category_selectable=selectable,
        attributes=inherited_attributes(category_id) if selectable else [],
        spec_templates=inherited_specs(category_id) if selectable else [],
        raw_specs=raw_specs[:MAX_SPECS],
        spec_text=_spec_text,
        rows=rows,
        brands=db.session.scalars(select(Brand).where(Brand.is_enabled.is_(True)).order_by(Brand.position, Brand.name)),
        tags=db.session.scalars(select(Tag).order_by(Tag.name)).all(),
        store_categories=store_cats.store_category_choices(),
        images=[(file_id, urls.get(file_id)) for file_id in image_ids],
        video_id=video_id,
        video_url=urls.get(video_id) if video_id else None,
        max_images=MAX_IMAGES,
        revision=revision,
        rejected_revision=latest if latest is not None and latest.status == "rejected" else None,
        readonly=_readonly(product, revision),
        status_labels=catalog.STATUS_LABELS,
        shelve_at=shelf.local_input_value(product.shelve_at) if product else "",
        unshelve_at=shelf.local_input_value(product.unshelve_at) if product else "",
        format_yuan=format_yuan,
    ), status


def _readonly(product: Product | None, revision) -> bool:
    if product is None:
        return False
    if product.status in ("submitted", "archived"):
        return True
    return product.status == "approved" and revision is not None and revision.status == "submitted"


def _saved_editor(product: Product, errors: dict, status: int = 400):
    """The editor showing what is saved (new uploads included) with the errors of a refused submit."""
    return _editor(product, content_to_raw(catalog.editable_content(product)), errors, status)


def _submit(product: Product):
    """Submit after a save (or on its own); a refused submission keeps the save and shows why."""
    try:
        with db.session.begin_nested():
            catalog.submit_product(product, current_user)
    except ProductInvalid as invalid:
        db.session.commit()
        flash(_("Saved, but not submitted yet: please correct the marked fields."), "error")
        return _saved_editor(product, invalid.errors)
    except DomainError as error:
        db.session.commit()
        flash(error.message, "error")
        return redirect(url_for("merchant.product_edit", product_id=product.id))
    db.session.commit()
    if product.status == "approved" and catalog.open_revision(product) is None:
        flash(_("Published: your store is trusted, so no review was needed."), "success")
    else:
        flash(_("Submitted for review. You will be told when it is decided."), "success")
    return redirect(url_for("merchant.product_edit", product_id=product.id))


# ---------------------------------------------------------------------------------------------
# The list and the editor
# ---------------------------------------------------------------------------------------------


@blueprint.get("/products")
@require("products.manage")
def products():
    tab = request.args.get("status", "all")
    tab = tab if tab in product_list.TABS else "all"
    q = request.args.get("q", "").strip()[:100]
    page = product_list.list_products(tab, q, request.args.get("page", 1, type=int) or 1)
    return render_template(
        "merchant/products/list.html",
        page=page,
        tab=tab,
        q=q,
        tabs=product_list.TABS,
        counts=product_list.tab_counts(),
        status_labels=catalog.STATUS_LABELS,
        format_yuan=format_yuan,
    )


@blueprint.route("/products/new", methods=["GET", "POST"])
@require("products.manage")
def product_new():
    if request.method == "GET":
        raw = {"category_id": request.args.get("category_id", ""), "skus": {}, "specs": []}
        return _editor(None, raw)
    raw = editor_input(request.form)
    action = request.form.get("action", "save")
    if action == "refresh":
        return _editor(None, raw)
    try:
        product = catalog.create_product(current_user, raw, new_images=_files("new_images"), video=_file("video"))
    except ProductInvalid as invalid:
        db.session.rollback()
        return _editor(None, raw, invalid.errors, 400)
    if action == "submit":
        return _submit(product)
    db.session.commit()
    flash(_("Draft saved."), "success")
    return redirect(url_for("merchant.product_edit", product_id=product.id))


@blueprint.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
@require("products.manage")
def product_edit(product_id: int):
    if request.method == "GET":
        product = _product(product_id)
        return _editor(product, content_to_raw(catalog.editable_content(product)))
    product = _product(product_id, lock=True)
    raw = editor_input(request.form)
    action = request.form.get("action", "save")
    if action == "refresh":
        return _editor(product, raw)
    try:
        revision = catalog.save_product(
            current_user, product, raw, new_images=_files("new_images"), video=_file("video")
        )
    except ProductInvalid as invalid:
        db.session.rollback()
        return _editor(_product(product_id), raw, invalid.errors, 400)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("merchant.product_edit", product_id=product_id))
    if action == "submit":
        return _submit(product)
    db.session.commit()
    if revision is not None:
        flash(_("Changes saved. The live product is unchanged until you submit them and they are approved."), "success")
    else:
        flash(_("Product saved."), "success")
    return redirect(url_for("merchant.product_edit", product_id=product.id))


# ---------------------------------------------------------------------------------------------
# Review, shelf and delete actions
# ---------------------------------------------------------------------------------------------


def _back(product_id: int):
    return redirect(url_for("merchant.product_edit", product_id=product_id))


@blueprint.post("/products/<int:product_id>/submit")
@require("products.manage")
def product_submit(product_id: int):
    return _submit(_product(product_id, lock=True))


def _simple_action(product_id: int, action, message: str):
    product = _product(product_id, lock=True)
    try:
        action(product)
    except ProductInvalid as invalid:
        db.session.rollback()
        for text in invalid.errors.values():
            flash(text, "error")
        return _back(product_id)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _back(product_id)
    db.session.commit()
    flash(message, "success")
    return _back(product_id)


@blueprint.post("/products/<int:product_id>/withdraw")
@require("products.manage")
def product_withdraw(product_id: int):
    return _simple_action(
        product_id, lambda p: catalog.withdraw_product(p, current_user), _("Withdrawn from review: you can edit again.")
    )


@blueprint.post("/products/<int:product_id>/discard")
@require("products.manage")
def product_discard(product_id: int):
    return _simple_action(
        product_id, lambda p: catalog.discard_revision(p, current_user), _("Pending changes discarded.")
    )


@blueprint.post("/products/<int:product_id>/shelf")
@require("products.manage")
def product_shelf(product_id: int):
    on_shelf = request.form.get("on_shelf") == "1"
    message = _("The product is on sale.") if on_shelf else _("The product is off shelf.")
    return _simple_action(product_id, lambda p: shelf.set_on_shelf(p, current_user, on_shelf), message)


@blueprint.post("/products/<int:product_id>/schedule")
@require("products.manage")
def product_schedule(product_id: int):
    shelve_at = request.form.get("shelve_at", "")
    unshelve_at = request.form.get("unshelve_at", "")
    return _simple_action(
        product_id,
        lambda p: shelf.schedule_shelf(p, current_user, shelve_at, unshelve_at),
        _("Shelf schedule saved."),
    )


@blueprint.post("/products/<int:product_id>/delete")
@require("products.manage")
def product_delete(product_id: int):
    product = _product(product_id, lock=True)
    title = product.title
    deleted = catalog.delete_product(product, current_user)
    db.session.commit()
    if deleted:
        flash(_("“%(title)s” is deleted.", title=title), "success")
    else:
        flash(_("“%(title)s” is archived: orders refer to it, so it cannot be deleted.", title=title), "success")
    return redirect(url_for("merchant.products"))


# ---------------------------------------------------------------------------------------------
# Store categories
# ---------------------------------------------------------------------------------------------


def _store_category(category_id: int):
    try:
        return store_cats.get_store_category(category_id)
    except NotFound:
        abort(404)


def _categories_page(errors: dict | None = None, values: dict | None = None, status: int = 200):
    return render_template(
        "merchant/products/store_categories.html",
        tree=store_cats.store_category_tree(visible_only=False),
        counts=store_cats.store_category_counts(),
        errors=errors or {},
        values=values or {},
    ), status


@blueprint.route("/store-categories", methods=["GET", "POST"])
@require("products.manage")
def store_categories():
    if request.method == "GET":
        return _categories_page()
    name, parent_id = request.form.get("name", ""), request.form.get("parent_id", "")
    try:
        store_cats.create_store_category(current_user, name, parent_id or None)
    except NotFound:
        abort(404)
    except DomainError as error:
        db.session.rollback()
        return _categories_page({error.field or "name": error.message}, {"name": name, "parent_id": parent_id}, 400)
    db.session.commit()
    flash(_("Category added."), "success")
    return redirect(url_for("merchant.store_categories"))


def _category_action(category_id: int, action, message: str):
    category = _store_category(category_id)
    try:
        action(category)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("merchant.store_categories"))
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("merchant.store_categories"))


@blueprint.post("/store-categories/<int:category_id>/rename")
@require("products.manage")
def store_category_rename(category_id: int):
    name = request.form.get("name", "")
    return _category_action(
        category_id, lambda c: store_cats.rename_store_category(current_user, c, name), _("Category renamed.")
    )


@blueprint.post("/store-categories/<int:category_id>/move")
@require("products.manage")
def store_category_move(category_id: int):
    direction = request.form.get("direction", "")
    return _category_action(
        category_id, lambda c: store_cats.move_store_category(current_user, c, direction), _("Order saved.")
    )


@blueprint.post("/store-categories/<int:category_id>/visibility")
@require("products.manage")
def store_category_visibility(category_id: int):
    visible = request.form.get("visible") == "1"
    message = _("The category is shown in your store.") if visible else _("The category is hidden from buyers.")
    return _category_action(
        category_id, lambda c: store_cats.set_store_category_visible(current_user, c, visible), message
    )


@blueprint.post("/store-categories/<int:category_id>/delete")
@require("products.manage")
def store_category_delete(category_id: int):
    return _category_action(
        category_id, lambda c: store_cats.delete_store_category(current_user, c), _("Category deleted.")
    )
