"""Store settings in the merchant centre (M-02): the profile applies at once, name and address go to review."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Length

from mall.catalog.money import format_cents
from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import L_, _
from mall.merchant.access import require
from mall.merchant.views import blueprint
from mall.merchants import settings, store_changes
from mall.web.forms import attach_error


class ProfileForm(FlaskForm):
    """Every field is checked by ``settings.clean_profile``; the form only carries the values."""

    logo = FileField(L_("Logo"), render_kw={"accept": "image/jpeg,image/png,image/webp,image/gif"})
    remove_logo = BooleanField(L_("Remove the logo"))
    banner = FileField(L_("Banner"), render_kw={"accept": "image/jpeg,image/png,image/webp,image/gif"})
    remove_banner = BooleanField(L_("Remove the banner"))
    intro = TextAreaField(L_("Introduction"), render_kw={"rows": 5, "maxlength": settings.MAX_LENGTH["intro"]})
    province = StringField(L_("Province"))
    city = StringField(L_("City"))
    district = StringField(L_("District"))
    address = StringField(L_("Street address"))
    latitude = StringField(L_("Latitude"), render_kw={"inputmode": "decimal", "placeholder": "31.230416"})
    longitude = StringField(L_("Longitude"), render_kw={"inputmode": "decimal", "placeholder": "121.473701"})
    service_phone = TelField(L_("Customer service phone"))
    service_hours = StringField(L_("Service hours"), render_kw={"placeholder": L_("e.g. 9:00–21:00 daily")})
    offers_express = BooleanField(L_("Express delivery"))
    offers_pickup = BooleanField(L_("Store pick-up"))
    pickup_address = StringField(L_("Pick-up address"))
    return_contact = StringField(L_("Contact for returns"))
    return_phone = TelField(L_("Phone for returns"))
    return_address = StringField(L_("Return address"))
    notice = TextAreaField(L_("Store notice"), render_kw={"rows": 3, "maxlength": settings.MAX_LENGTH["notice"]})


class ShippingForm(FlaskForm):
    shipping_fee = StringField(L_("Express fee per order (yuan)"), render_kw={"inputmode": "decimal"})
    free_shipping_over = StringField(
        L_("Free shipping from an order value of (yuan)"), render_kw={"inputmode": "decimal"}
    )


def _shipping_form(formdata=None) -> ShippingForm:
    rule = settings.shipping_rule()
    return ShippingForm(
        formdata=formdata,
        data={
            "shipping_fee": format_cents(rule.fee_cents),
            "free_shipping_over": format_cents(rule.free_over_cents) if rule.free_over_cents is not None else "",
        },
    )


class NameChangeForm(FlaskForm):
    name = StringField(L_("New store name"), validators=[DataRequired(), Length(max=store_changes.NAME_MAX)])


class SlugChangeForm(FlaskForm):
    slug = StringField(L_("New store address"), validators=[DataRequired(), Length(max=40)])


CHANGE_FORMS = {"name": NameChangeForm, "slug": SlugChangeForm}


def _upload(file) -> settings.Upload | None:
    return settings.Upload(file.read(), file.filename or "") if file else None


def _settings_page(
    profile_form: ProfileForm | None = None, shipping_form: ShippingForm | None = None, **change_forms: FlaskForm
):
    profile = settings.get_store_profile()
    if profile_form is None:
        profile_form = ProfileForm(formdata=None, data=settings.profile_values(profile))
    forms = {field: change_forms.get(field) or form_class(formdata=None) for field, form_class in CHANGE_FORMS.items()}
    shipping_form = shipping_form or _shipping_form()
    failed = bool(profile_form.errors or shipping_form.errors or any(f.errors for f in forms.values()))
    return render_template(
        "merchant/settings.html",
        form=profile_form,
        shipping_form=shipping_form,
        name_form=forms["name"],
        slug_form=forms["slug"],
        images=settings.profile_images(profile),
        changes=store_changes.store_changes(),
        change_fields=store_changes.CHANGE_FIELDS,
    ), 400 if failed else 200


@blueprint.route("/settings", methods=["GET", "POST"])
@require("store.manage")
def store_settings():
    form = ProfileForm(data=settings.profile_values(settings.get_store_profile()))
    if form.validate_on_submit():
        try:
            settings.update_store_profile(
                current_user,
                {name: form[name].data for name in settings.PROFILE_FIELDS},
                logo=_upload(form.logo.data),
                banner=_upload(form.banner.data),
                remove_logo=form.remove_logo.data,
                remove_banner=form.remove_banner.data,
            )
        except settings.StoreSettingsInvalid as invalid:
            for name, message in invalid.errors.items():
                attach_error(form, DomainError(message, field=name))
        except DomainError as error:
            attach_error(form, error)
        else:
            db.session.commit()
            flash(_("Store settings saved."), "success")
            return redirect(url_for("merchant.store_settings"))
    return _settings_page(form)


@blueprint.post("/settings/shipping")
@require("store.manage")
def shipping_settings():
    form = _shipping_form(formdata=request.form)
    if form.validate_on_submit():
        try:
            settings.update_shipping_rule(current_user, form.shipping_fee.data, form.free_shipping_over.data)
        except settings.StoreSettingsInvalid as invalid:
            db.session.rollback()
            for name, message in invalid.errors.items():
                attach_error(form, DomainError(message, field=name))
        else:
            db.session.commit()
            flash(_("Shipping fee saved."), "success")
            return redirect(url_for("merchant.store_settings"))
    return _settings_page(shipping_form=form)


@blueprint.post("/settings/changes/<field>")
@require("store.manage")
def request_store_change(field: str):
    if field not in CHANGE_FORMS:
        abort(404)
    form = CHANGE_FORMS[field]()
    if form.validate_on_submit():
        try:
            store_changes.request_store_change(current_user, field, form[field].data)
        except DomainError as error:
            attach_error(form, error)
        else:
            db.session.commit()
            flash(_("Your request has been sent to the platform for review."), "success")
            return redirect(url_for("merchant.store_settings"))
    return _settings_page(**{field: form})


@blueprint.post("/settings/changes/<int:request_id>/cancel")
@require("store.manage")
def cancel_store_change(request_id: int):
    store_changes.cancel_store_change(current_user, request_id)
    db.session.commit()
    flash(_("Request withdrawn."), "success")
    return redirect(url_for("merchant.store_settings"))
