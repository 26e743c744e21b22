"""A shopper's favourite products (with folders) and browsing history; followed stores are in
``shop.py`` (``/account/following``)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from mall.catalog import favorites as service
from mall.catalog.models import PublicProduct
from mall.consumer.browse import product_url
from mall.consumer.views import blueprint
from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import _
from mall.identity.login import safe_next
from mall.web.forms import page_number


def _folder_filter() -> int | str | None:
    value = request.args.get("folder", "")
    if value == service.UNFILED:
        return service.UNFILED
    return int(value) if value.isdigit() else None


def _favorites_page(*, status: int = 200, error: DomainError | None = None, name: str = ""):
    folder = _folder_filter()
    return render_template(
        "consumer/favorites.html",
        page=service.favorites(current_user.id, folder, page_number()),
        folders=service.folders(current_user.id),
        counts=service.favorite_counts(current_user.id),
        folder=folder,
        error=error,
        name=name,
    ), status


def _back(default: str):
    return redirect(safe_next(request.form.get("next"), default), code=303)


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


# ---------------------------------------------------------------------------------------------
# Adding and removing (from the product page and the lists)
# ---------------------------------------------------------------------------------------------


@blueprint.post("/p/<int:product_id>/favorite")
def add_favorite(product_id: int):
    row = db.session.get(PublicProduct, product_id)
    if row is None:
        abort(404)
    if not current_user.is_authenticated:
        flash(_("Log in to keep products in your favourites."), "info")
        return redirect(url_for("consumer.login", next=safe_next(request.form.get("next"), product_url(row))))
    try:
        added = service.add_favorite(current_user.id, product_id, _int_or_none(request.form.get("folder_id")))
    except DomainError as error:
        flash(error.message, "error")
        return _back(product_url(row))
    db.session.commit()
    if added:
        flash(_("Added to your favourites."), "success")
    return _back(product_url(row))


@blueprint.post("/p/<int:product_id>/unfavorite")
@login_required
def remove_favorite(product_id: int):
    if service.remove_favorite(current_user.id, product_id):
        db.session.commit()
        flash(_("Removed from your favourites."), "info")
    return _back(url_for("consumer.favorites"))


# ---------------------------------------------------------------------------------------------
# The favourites page and its folders
# ---------------------------------------------------------------------------------------------


@blueprint.get("/account/favorites")
@login_required
def favorites():
    try:
        return _favorites_page()
    except DomainError:  # a folder that is not (or no longer) this shopper's
        return redirect(url_for("consumer.favorites"))


@blueprint.post("/account/favorites/folders")
@login_required
def create_folder():
    name = request.form.get("name", "")
    try:
        folder = service.create_folder(current_user.id, name)
    except DomainError as error:
        return _favorites_page(status=400, error=error, name=name)
    db.session.commit()
    flash(_("Folder “%(name)s” created.", name=folder.name), "success")
    return redirect(url_for("consumer.favorites", folder=folder.id), code=303)


@blueprint.post("/account/favorites/folders/<int:folder_id>/rename")
@login_required
def rename_folder(folder_id: int):
    name = request.form.get("name", "")
    try:
        folder = service.rename_folder(current_user.id, folder_id, name)
    except DomainError as error:
        if error.status_code == 404:
            abort(404)
        return _favorites_page(status=400, error=error)
    db.session.commit()
    flash(_("Folder renamed to “%(name)s”.", name=folder.name), "success")
    return redirect(url_for("consumer.favorites", folder=folder.id), code=303)


@blueprint.post("/account/favorites/folders/<int:folder_id>/delete")
@login_required
def delete_folder(folder_id: int):
    try:
        moved = service.delete_folder(current_user.id, folder_id)
    except DomainError:
        abort(404)
    db.session.commit()
    flash(_("Folder deleted; its %(n)s products are kept in your favourites.", n=moved), "info")
    return redirect(url_for("consumer.favorites"), code=303)


@blueprint.post("/account/favorites/move")
@login_required
def move_favorites():
    product_ids = [int(v) for v in request.form.getlist("product_id") if v.isdigit()]
    target = request.form.get("folder_id", "")
    try:
        moved = service.move_favorites(current_user.id, product_ids, _int_or_none(target))
    except DomainError as error:
        if error.status_code == 404:
            abort(404)
        return _favorites_page(status=400, error=error)
    db.session.commit()
    flash(_("%(n)s products moved.", n=moved), "success")
    return _back(url_for("consumer.favorites"))


# ---------------------------------------------------------------------------------------------
# Browsing history
# ---------------------------------------------------------------------------------------------


@blueprint.get("/account/history")
@login_required
def history():
    return render_template("consumer/history.html", page=service.history(current_user.id, page_number()))


@blueprint.post("/account/history/clear")
@login_required
def clear_history():
    service.clear_history(current_user.id)
    db.session.commit()
    flash(_("Your browsing history is cleared."), "info")
    return redirect(url_for("consumer.history"), code=303)


@blueprint.post("/account/history/<int:product_id>/remove")
@login_required
def remove_from_history(product_id: int):
    if service.remove_from_history(current_user.id, product_id):
        db.session.commit()
    return redirect(url_for("consumer.history"), code=303)
