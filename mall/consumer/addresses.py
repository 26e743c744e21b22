"""The address book pages (C-03): list, add, edit, make default, delete. Rules live in
``mall.trading.addresses``; a ``next`` parameter brings the shopper back (e.g. to checkout)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TelField

from mall.consumer.views import blueprint
from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import L_, _
from mall.identity.login import safe_next
from mall.trading import addresses as book


class AddressForm(FlaskForm):
    recipient = StringField(L_("Recipient"))
    phone = TelField(L_("Mobile number"))
    province = StringField(L_("Province"))
    city = StringField(L_("City"))
    district = StringField(L_("District"))
    detail = StringField(L_("Street address"))
    postcode = StringField(L_("Postcode"))
    label = StringField(L_("Label (e.g. home, office)"))
    make_default = BooleanField(L_("Use as my default address"))


def _next() -> str:
    return safe_next(request.values.get("next"), url_for("consumer.addresses"))


def _form_page(form: AddressForm, address=None, status: int = 200):
    return render_template("consumer/address_form.html", form=form, address=address, next=_next()), status


def _save(form: AddressForm, address=None):
    data = {name: getattr(form, name).data for name in book.FIELDS}
    try:
        if address is None:
            book.add_address(current_user.id, data, make_default=form.make_default.data)
        else:
            book.update_address(current_user.id, address.id, data, make_default=form.make_default.data)
    except book.AddressInvalid as invalid:
        db.session.rollback()
        for name, message in invalid.errors.items():
            getattr(form, name).errors = [message]
        return _form_page(form, address, 400)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _form_page(form, address, 400)
    db.session.commit()
    flash(_("Address saved."), "success")
    return redirect(_next())


@blueprint.get("/account/addresses")
@login_required
def addresses():
    return render_template(
        "consumer/addresses.html", addresses=book.addresses_of(current_user.id), limit=book.MAX_ADDRESSES
    )


@blueprint.route("/account/addresses/new", methods=["GET", "POST"])
@login_required
def add_address():
    form = AddressForm()
    if form.validate_on_submit():
        return _save(form)
    if request.method == "POST":  # only the CSRF token can fail here
        return _form_page(form, status=400)
    return _form_page(form)


@blueprint.route("/account/addresses/<int:address_id>/edit", methods=["GET", "POST"])
@login_required
def edit_address(address_id: int):
    address = book.get_address(current_user.id, address_id)
    form = AddressForm(obj=address if request.method == "GET" else None)
    if request.method == "GET":
        form.make_default.data = address.is_default
    if form.validate_on_submit():
        return _save(form, address)
    if request.method == "POST":
        return _form_page(form, address, 400)
    return _form_page(form, address)


@blueprint.post("/account/addresses/<int:address_id>/default")
@login_required
def default_address(address_id: int):
    book.set_default(current_user.id, address_id)
    db.session.commit()
    flash(_("Default address changed."), "success")
    return redirect(_next())


@blueprint.post("/account/addresses/<int:address_id>/delete")
@login_required
def delete_address(address_id: int):
    book.delete_address(current_user.id, address_id)
    db.session.commit()
    flash(_("Address deleted."), "info")
    return redirect(_next())
