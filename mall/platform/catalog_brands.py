"""The operator's brand and tag pages (P-03). Services in ``mall.catalog.brands`` check, write and
audit; these views carry forms and commit."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField, TextAreaField

from mall.catalog import brands
from mall.catalog.models import Brand, Tag
from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.i18n import L_, _
from mall.platform.catalog import PERMISSION, attach, check_csrf, options
from mall.platform.views import Secured
from mall.storage.services import Upload

IMAGE_ACCEPT = "image/jpeg,image/png,image/webp,image/gif"


def upload_of(file) -> Upload | None:
    """The uploaded file's bytes, or None when no file was chosen."""
    if not file or not getattr(file, "filename", None):
        return None
    return Upload(file.read(), file.filename or "")


class BrandForm(FlaskForm):
    name = StringField(L_("Name"), render_kw={"maxlength": brands.BRAND_NAME_MAX})
    slug = StringField(L_("Address (slug)"), render_kw={"maxlength": brands.BRAND_SLUG_MAX})
    initial = SelectField(
        L_("Index letter"),
        choices=options([("", L_("From the name"))] + [(c, c) for c in brands.INITIALS]),
        validate_choice=False,
    )
    logo = FileField(L_("Logo"), render_kw={"accept": IMAGE_ACCEPT})
    remove_logo = BooleanField(L_("Remove the logo"))
    story = TextAreaField(L_("Brand story"), render_kw={"rows": 5, "maxlength": brands.BRAND_STORY_MAX})
    is_featured = BooleanField(L_("Featured in the brand hall"))
    is_enabled = BooleanField(L_("Enabled"), default=True)
    position = StringField(L_("Position"), default="0", render_kw={"inputmode": "numeric"})


def _brand_data(brand: Brand) -> dict:
    keys = ("name", "slug", "initial", "story", "is_featured", "is_enabled", "position")
    return {key: getattr(brand, key) for key in keys}


def _form_values(form: FlaskForm, skip=("csrf_token", "logo", "remove_logo")) -> dict:
    return {name: field.data for name, field in form._fields.items() if name not in skip}


class BrandsView(Secured, BaseView):
    permission = PERMISSION

    @expose("/")
    def index(self):
        featured = {"1": True, "0": False}.get(request.args.get("featured", ""))
        enabled = {"1": True, "0": False}.get(request.args.get("enabled", ""))
        page = request.args.get("page", 1, type=int) or 1
        search = request.args.get("q", "")[:80]
        result = brands.list_brands(search=search, featured=featured, enabled=enabled, page=page)
        return self.render(
            "platform/catalog/brands.html",
            result=result,
            logos=brands.media_keys(b.logo_file_id for b in result.items),
            q=search,
            featured=request.args.get("featured", ""),
            enabled=request.args.get("enabled", ""),
        )

    def _page(self, form: BrandForm, brand: Brand | None, status: int = 200):
        logo = brands.media_keys([brand.logo_file_id]).get(brand.logo_file_id) if brand else None
        return self.render("platform/catalog/brand.html", form=form, brand=brand, logo=logo), status

    @expose("/new", methods=["GET", "POST"])
    def create(self):
        form = BrandForm()
        if form.validate_on_submit():
            try:
                brand = brands.create_brand(_form_values(form), logo=upload_of(form.logo.data))
            except DomainError as error:
                db.session.rollback()
                attach(form, error)
            else:
                db.session.commit()
                flash(_("Brand “%(name)s” created.", name=brand.name), "success")
                return redirect(url_for(".index"))
        return self._page(form, None, 400 if form.errors else 200)

    def _brand(self, brand_id: int) -> Brand:
        try:
            return brands.get_brand(brand_id)
        except NotFound:
            abort(404)

    @expose("/<int:brand_id>", methods=["GET", "POST"])
    def edit(self, brand_id: int):
        brand = self._brand(brand_id)
        form = BrandForm(data=_brand_data(brand)) if request.method == "GET" else BrandForm()
        if form.validate_on_submit():
            try:
                brands.update_brand(
                    brand, _form_values(form), logo=upload_of(form.logo.data), remove_logo=form.remove_logo.data
                )
            except DomainError as error:
                db.session.rollback()
                attach(form, error)
                brand = self._brand(brand_id)
            else:
                db.session.commit()
                flash(_("Brand saved."), "success")
                return redirect(url_for(".edit", brand_id=brand_id))
        return self._page(form, brand, 400 if form.errors else 200)

    @expose("/<int:brand_id>/delete", methods=["POST"])
    def delete(self, brand_id: int):
        check_csrf()
        brand = self._brand(brand_id)
        name = brand.name
        try:
            brands.delete_brand(brand)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return self._page(BrandForm(formdata=None, data=_brand_data(brand)), self._brand(brand_id), 400)
        db.session.commit()
        flash(_("Brand “%(name)s” deleted.", name=name), "success")
        return redirect(url_for(".index"))


class TagForm(FlaskForm):
    name = StringField(L_("Name"), render_kw={"maxlength": brands.TAG_NAME_MAX})
    slug = StringField(L_("Address (slug)"), render_kw={"maxlength": brands.TAG_SLUG_MAX})


class TagsView(Secured, BaseView):
    permission = PERMISSION

    def _list(self, form: TagForm | None = None, status: int = 200):
        search = request.args.get("q", "")[:40]
        return self.render(
            "platform/catalog/tags.html",
            tags=brands.list_tags(search),
            form=form or TagForm(formdata=None),
            q=search,
        ), status

    @expose("/")
    def index(self):
        return self._list()

    @expose("/new", methods=["POST"])
    def create(self):
        form = TagForm()
        if not form.validate_on_submit():
            abort(400)
        try:
            tag = brands.create_tag(_form_values(form))
        except DomainError as error:
            db.session.rollback()
            attach(form, error)
            return self._list(form, 400)
        db.session.commit()
        flash(_("Tag “%(name)s” created.", name=tag.name), "success")
        return redirect(url_for(".index"))

    def _tag(self, tag_id: int) -> Tag:
        try:
            return brands.get_tag(tag_id)
        except NotFound:
            abort(404)

    @expose("/<int:tag_id>", methods=["GET", "POST"])
    def edit(self, tag_id: int):
        tag = self._tag(tag_id)
        form = TagForm(data={"name": tag.name, "slug": tag.slug}) if request.method == "GET" else TagForm()
        if form.validate_on_submit():
            try:
                brands.update_tag(tag, _form_values(form))
            except DomainError as error:
                db.session.rollback()
                attach(form, error)
                tag = self._tag(tag_id)
            else:
                db.session.commit()
                flash(_("Tag saved."), "success")
                return redirect(url_for(".index"))
        return self.render("platform/catalog/tag.html", form=form, tag=tag), 400 if form.errors else 200

    @expose("/<int:tag_id>/delete", methods=["POST"])
    def delete(self, tag_id: int):
        check_csrf()
        tag = self._tag(tag_id)
        name = tag.name
        try:
            brands.delete_tag(tag)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return self._list(status=400)
        db.session.commit()
        flash(_("Tag “%(name)s” deleted.", name=name), "success")
        return redirect(url_for(".index"))
