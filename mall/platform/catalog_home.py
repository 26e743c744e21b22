"""The operator's home page configuration (C-04): blocks in order and banner slides per slot.
Services in ``mall.catalog.home`` check, write and audit; these views carry forms and commit."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_babel import to_user_timezone
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField

from mall.catalog import home, taxonomy
from mall.catalog.brands import media_keys
from mall.catalog.models import HOME_BLOCK_KINDS, BannerSlide, HomeBlock
from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.i18n import L_, _
from mall.platform.catalog import PERMISSION, attach, check_csrf, direction_and_position, options
from mall.platform.catalog_brands import IMAGE_ACCEPT, upload_of
from mall.platform.views import Secured


class BlockForm(FlaskForm):
    kind = SelectField(L_("Shows"), choices=options((k, home.BLOCK_KIND_LABELS[k]) for k in HOME_BLOCK_KINDS))
    title = StringField(L_("Title"), render_kw={"maxlength": home.BLOCK_TITLE_MAX})
    category_id = SelectField(L_("Category (for a category zone)"), choices=[], validate_choice=False)
    limit = StringField(L_("How many items"), render_kw={"inputmode": "numeric"})
    is_enabled = BooleanField(L_("Shown"), default=True)


class SlideForm(FlaskForm):
    slot = SelectField(L_("Where"), choices=[], validate_choice=False, default="home")
    image = FileField(L_("Image"), render_kw={"accept": IMAGE_ACCEPT})
    title = StringField(L_("Title"), render_kw={"maxlength": home.SLIDE_TITLE_MAX})
    link = StringField(L_("Link"), render_kw={"placeholder": "/category/tea", "maxlength": 500})
    starts_at = StringField(L_("Shown from"), render_kw={"type": "datetime-local"})
    ends_at = StringField(L_("Shown until"), render_kw={"type": "datetime-local"})
    is_enabled = BooleanField(L_("Enabled"), default=True)


def _category_pairs(first: str) -> list[tuple[str, str]]:
    return [("", first)] + [
        (str(node.id), "\u3000" * node.depth + node.name) for node in taxonomy.flatten_tree(taxonomy.category_tree())
    ]


def _block_form(form: BlockForm) -> BlockForm:
    form.category_id.choices = options(_category_pairs(str(_("— Choose —"))))
    return form


def _slide_form(form: SlideForm) -> SlideForm:
    form.slot.choices = options(
        [("home", str(_("Home page")))]
        + [
            (f"category:{value}", str(_("Category: %(name)s", name=label.strip("\u3000"))))
            for value, label in _category_pairs("")[1:]
        ]
    )
    return form


def _local(moment: datetime | None) -> str:
    """A stored time as the value of a ``datetime-local`` input in the display time zone."""
    return to_user_timezone(moment).strftime("%Y-%m-%dT%H:%M") if moment else ""


def _block_data(block: HomeBlock) -> dict:
    config = block.config or {}
    return {
        "kind": block.kind,
        "title": block.title,
        "category_id": str(config.get("category_id") or ""),
        "limit": str(config.get("limit") or ""),
        "is_enabled": block.is_enabled,
    }


def _slide_data(slide: BannerSlide) -> dict:
    return {
        "slot": slide.slot,
        "title": slide.title,
        "link": slide.link,
        "starts_at": _local(slide.starts_at),
        "ends_at": _local(slide.ends_at),
        "is_enabled": slide.is_enabled,
    }


def _values(form: FlaskForm, skip=("csrf_token", "image")) -> dict:
    return {name: field.data for name, field in form._fields.items() if name not in skip}


class HomePageView(Secured, BaseView):
    permission = PERMISSION

    def _page(self, status: int = 200, block_form: BlockForm | None = None, slide_form: SlideForm | None = None):
        slot = request.args.get("slot") or None
        try:
            slides = home.slides_of(home.check_slot(slot) if slot else None)
        except DomainError:
            abort(404)
        blocks = home.home_blocks(enabled_only=False)
        names = {node.id: node.name for node in taxonomy.flatten_tree(taxonomy.category_tree())}
        return self.render(
            "platform/catalog/home.html",
            blocks=blocks,
            slides=slides,
            images=media_keys(s.image_file_id for s in slides),
            slot=slot,
            slots=home.used_slots(),
            slot_label=lambda s: home.slot_label(s, names),
            category_names=names,
            kind_labels=home.BLOCK_KIND_LABELS,
            block_form=block_form or _block_form(BlockForm(formdata=None)),
            slide_form=slide_form or _slide_form(SlideForm(formdata=None)),
            now=datetime.now(UTC),
        ), status

    @expose("/")
    def index(self):
        return self._page()

    # -- blocks -----------------------------------------------------------------------------

    def _block(self, block_id: int) -> HomeBlock:
        try:
            return home.get_block(block_id)
        except NotFound:
            abort(404)

    @expose("/blocks/new", methods=["POST"])
    def add_block(self):
        form = _block_form(BlockForm())
        if not form.validate_on_submit():
            abort(400)
        try:
            home.add_block(_values(form))
        except DomainError as error:
            db.session.rollback()
            attach(form, error)
            return self._page(400, block_form=form)
        db.session.commit()
        flash(_("Block added."), "success")
        return redirect(url_for(".index"))

    @expose("/blocks/<int:block_id>", methods=["GET", "POST"])
    def edit_block(self, block_id: int):
        block = self._block(block_id)
        form = _block_form(BlockForm(data=_block_data(block)) if request.method == "GET" else BlockForm())
        if form.validate_on_submit():
            try:
                home.update_block(block, _values(form))
            except DomainError as error:
                db.session.rollback()
                attach(form, error)
                block = self._block(block_id)
            else:
                db.session.commit()
                flash(_("Block saved."), "success")
                return redirect(url_for(".index"))
        return self.render("platform/catalog/home_block.html", form=form, block=block), 400 if form.errors else 200

    def _block_action(self, block_id: int, action, message: str):
        check_csrf()
        block = self._block(block_id)
        try:
            action(block)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return self._page(400)
        db.session.commit()
        flash(message, "success")
        return redirect(url_for(".index"))

    @expose("/blocks/<int:block_id>/reorder", methods=["POST"])
    def reorder_block(self, block_id: int):
        direction, position = direction_and_position()
        return self._block_action(
            block_id, lambda b: home.move_block(b, direction=direction, position=position), _("Order saved.")
        )

    @expose("/blocks/<int:block_id>/enable", methods=["POST"])
    def enable_block(self, block_id: int):
        enabled = request.form.get("enabled") == "1"
        return self._block_action(
            block_id,
            lambda b: home.set_block_enabled(b, enabled),
            _("Block shown.") if enabled else _("Block hidden."),
        )

    @expose("/blocks/<int:block_id>/delete", methods=["POST"])
    def delete_block(self, block_id: int):
        return self._block_action(block_id, home.delete_block, _("Block removed."))

    # -- slides -----------------------------------------------------------------------------

    def _slide(self, slide_id: int) -> BannerSlide:
        try:
            return home.get_slide(slide_id)
        except NotFound:
            abort(404)

    @expose("/slides/new", methods=["POST"])
    def add_slide(self):
        form = _slide_form(SlideForm())
        if not form.validate_on_submit():
            abort(400)
        try:
            slide = home.add_slide(_values(form), upload_of(form.image.data))
        except DomainError as error:
            db.session.rollback()
            attach(form, error)
            return self._page(400, slide_form=form)
        db.session.commit()
        flash(_("Slide added."), "success")
        return redirect(url_for(".index", slot=slide.slot) + "#slides")

    @expose("/slides/<int:slide_id>", methods=["GET", "POST"])
    def edit_slide(self, slide_id: int):
        slide = self._slide(slide_id)
        form = _slide_form(SlideForm(data=_slide_data(slide)) if request.method == "GET" else SlideForm())
        if form.validate_on_submit():
            try:
                home.update_slide(slide, _values(form), upload_of(form.image.data))
            except DomainError as error:
                db.session.rollback()
                attach(form, error)
                slide = self._slide(slide_id)
            else:
                db.session.commit()
                flash(_("Slide saved."), "success")
                return redirect(url_for(".index", slot=slide.slot) + "#slides")
        image = media_keys([slide.image_file_id]).get(slide.image_file_id)
        return self.render(
            "platform/catalog/home_slide.html", form=form, slide=slide, image=image
        ), 400 if form.errors else 200

    @expose("/slides/<int:slide_id>/reorder", methods=["POST"])
    def reorder_slide(self, slide_id: int):
        check_csrf()
        slide = self._slide(slide_id)
        direction, position = direction_and_position()
        try:
            home.move_slide(slide, direction=direction, position=position)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return self._page(400)
        db.session.commit()
        return redirect(url_for(".index", slot=slide.slot) + "#slides")

    @expose("/slides/<int:slide_id>/delete", methods=["POST"])
    def delete_slide(self, slide_id: int):
        check_csrf()
        slide = self._slide(slide_id)
        slot = slide.slot
        home.delete_slide(slide)
        db.session.commit()
        flash(_("Slide removed."), "success")
        return redirect(url_for(".index", slot=slot) + "#slides")
