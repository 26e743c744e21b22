"""The operator's taxonomy pages (P-03): the category tree with commission rates, moves and ordering,
and each category's attribute and spec templates. Brands and tags: ``catalog_brands``; the home
page: ``catalog_home``. Views only translate forms to service calls (``mall.catalog.taxonomy``,
``mall.catalog.category_templates``), which check, write and audit; the request commits."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from mall.catalog import category_templates as templates
from mall.catalog import taxonomy
from mall.catalog.fields import TaxonomyInvalid
from mall.catalog.models import ATTRIBUTE_INPUTS, CategoryAttribute, CategorySpec, PublicProduct
from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.i18n import L_, _
from mall.platform.views import Secured
from mall.web.forms import attach_error

PERMISSION = "catalog.manage"


def attach(form: FlaskForm, error: DomainError) -> None:
    """A refused write as form errors: one per field for ``TaxonomyInvalid``, else on its field or
    as a flash."""
    if isinstance(error, TaxonomyInvalid):
        for name, message in error.errors.items():
            attach_error(form, DomainError(message, field=name))
    else:
        attach_error(form, error)


def direction_and_position() -> tuple[str | None, int | None]:
    """``direction`` (up/down) or ``position`` (0 = first) from a reorder form; 400 when neither."""
    direction = request.form.get("direction")
    position = request.form.get("position", "").strip()
    if direction in ("up", "down"):
        return direction, None
    if position.isdigit() and int(position) < 100_000:
        return None, int(position)
    abort(400)


def options(pairs) -> list[SelectChoice]:
    """``(value, label)`` pairs as the choices of a select field."""
    return [SelectChoice(value, label) for value, label in pairs]


def check_csrf() -> None:
    FlaskForm().validate_on_submit() or abort(400)


class CategoryForm(FlaskForm):
    """Every field is checked by the service; the form carries the values (and the CSRF token)."""

    name = StringField(L_("Name"), render_kw={"maxlength": taxonomy.CATEGORY_NAME_MAX})
    slug = StringField(L_("Address (slug)"), render_kw={"maxlength": taxonomy.CATEGORY_SLUG_MAX})
    commission = StringField(L_("Commission (%)"), render_kw={"inputmode": "decimal", "placeholder": "5.00"})
    seo_title = StringField(L_("SEO title"), render_kw={"maxlength": taxonomy.SEO_TITLE_MAX})
    seo_description = TextAreaField(
        L_("SEO description"), render_kw={"rows": 2, "maxlength": taxonomy.SEO_DESCRIPTION_MAX}
    )


class NewCategoryForm(CategoryForm):
    parent_id = SelectField(L_("Parent category"), choices=[], validate_choice=False)
    is_enabled = BooleanField(L_("Enabled"), default=True)


class MoveForm(FlaskForm):
    parent_id = SelectField(L_("New parent category"), choices=[], validate_choice=False)


class AttributeForm(FlaskForm):
    name = StringField(L_("Name"), render_kw={"maxlength": templates.TEMPLATE_NAME_MAX})
    input = SelectField(
        L_("Input"), choices=options((k, templates.ATTRIBUTE_INPUT_LABELS[k]) for k in ATTRIBUTE_INPUTS), default="text"
    )
    options = TextAreaField(L_("Options"), render_kw={"rows": 3})
    unit = StringField(L_("Unit"), render_kw={"maxlength": templates.UNIT_MAX})
    is_required = BooleanField(L_("Required"))
    is_filterable = BooleanField(L_("Search filter"))


class SpecForm(FlaskForm):
    name = StringField(L_("Name"), render_kw={"maxlength": templates.TEMPLATE_NAME_MAX})
    values = TextAreaField(L_("Suggested values"), render_kw={"rows": 3})


TEMPLATE_KINDS = {"attributes": (CategoryAttribute, AttributeForm), "specs": (CategorySpec, SpecForm)}


def parent_choices(exclude_path: str | None = None) -> list[SelectChoice]:
    """Every category as an indented option (the subtree at ``exclude_path`` left out), top level first."""
    choices = [("", str(_("— Top level —")))]
    for node in taxonomy.flatten_tree(taxonomy.category_tree()):
        if exclude_path and node.path.startswith(exclude_path):
            continue
        label = "\u3000" * node.depth + node.name + ("" if node.is_enabled else f" ({_('disabled')})")
        choices.append((str(node.id), label))
    return options(choices)


def _template_data(template) -> dict:
    if isinstance(template, CategoryAttribute):
        return {
            "name": template.name,
            "input": template.input,
            "options": "\n".join(template.options or []),
            "unit": template.unit,
            "is_required": template.is_required,
            "is_filterable": template.is_filterable,
        }
    return {"name": template.name, "values": "\n".join(template.values or [])}


def _template_form(form_class: type, template) -> FlaskForm:
    return form_class(formdata=None, data=_template_data(template), prefix=f"t{template.id}")


def _category_data(category) -> dict:
    return {
        "name": category.name,
        "slug": category.slug,
        "commission": taxonomy.format_commission(category.commission_rate_bp),
        "seo_title": category.seo_title,
        "seo_description": category.seo_description,
    }


class CategoriesView(Secured, BaseView):
    permission = PERMISSION

    # -- the tree ---------------------------------------------------------------------------

    @expose("/")
    def index(self):
        return self._tree_page()

    def _tree_page(self, status: int = 200):
        nodes = taxonomy.flatten_tree(taxonomy.category_tree(with_counts=True))
        default_bp = taxonomy.platform_commission_bp()
        inherited = {}
        for node in nodes:  # parents come first in the flattened tree
            parent_rate = inherited.get(node.parent_id, default_bp)
            inherited[node.id] = node.commission_rate_bp if node.commission_rate_bp is not None else parent_rate
        first_of, last_of = {}, {}
        for node in nodes:
            first_of.setdefault(node.parent_id, node.id)
            last_of[node.parent_id] = node.id
        return self.render(
            "platform/catalog/categories.html",
            nodes=nodes,
            effective=inherited,
            default_bp=default_bp,
            format_commission=taxonomy.format_commission,
            first_of=first_of,
            last_of=last_of,
        ), status

    @expose("/new", methods=["GET", "POST"])
    def create(self):
        form = NewCategoryForm(parent_id=request.args.get("parent", ""))
        form.parent_id.choices = parent_choices()
        if form.validate_on_submit():
            try:
                category = taxonomy.create_category(
                    name=form.name.data,
                    slug=form.slug.data,
                    parent_id=form.parent_id.data or None,
                    commission=form.commission.data,
                    seo_title=form.seo_title.data,
                    seo_description=form.seo_description.data,
                    is_enabled=form.is_enabled.data,
                )
            except DomainError as error:
                db.session.rollback()
                attach(form, error)
            else:
                db.session.commit()
                flash(_("Category “%(name)s” created.", name=category.name), "success")
                return redirect(url_for(".detail", category_id=category.id))
        return self.render("platform/catalog/category_new.html", form=form), 400 if form.errors else 200

    # -- one category -----------------------------------------------------------------------

    def _category(self, category_id: int):
        try:
            return taxonomy.get_category(category_id)
        except NotFound:
            abort(404)

    def _detail_page(self, category, status: int = 200, **forms):
        ancestors = taxonomy.ancestors_of(category)
        edit_form = forms.get("edit_form") or CategoryForm(formdata=None, data=_category_data(category))
        move_form = forms.get("move_form") or MoveForm(formdata=None, data={"parent_id": str(category.parent_id or "")})
        move_form.parent_id.choices = parent_choices(exclude_path=category.path)
        template_forms = {}
        for kind, (model, form_class) in TEMPLATE_KINDS.items():
            rows = category.attributes if model is CategoryAttribute else category.specs
            template_forms[kind] = [
                (
                    row,
                    forms.get(f"{kind}:{row.id}")
                    or form_class(formdata=None, data=_template_data(row), prefix=f"t{row.id}"),
                )
                for row in rows
            ]
        own_ids = {category.id}
        inherited = {
            "attributes": [a for a in taxonomy.inherited_attributes(category.id) if a.category_id not in own_ids],
            "specs": [s for s in taxonomy.inherited_specs(category.id) if s.category_id not in own_ids],
        }
        names = {c.id: c.name for c in ancestors}
        children = sorted(category.children, key=lambda c: (c.position, c.id))
        product_count = db.session.scalar(
            select(func.count()).select_from(PublicProduct).where(PublicProduct.category_id == category.id)
        )
        return self.render(
            "platform/catalog/category.html",
            category=category,
            ancestors=ancestors,
            children=children,
            edit_form=edit_form,
            move_form=move_form,
            template_forms=template_forms,
            new_attribute_form=forms.get("new:attributes") or AttributeForm(formdata=None, prefix="new"),
            new_spec_form=forms.get("new:specs") or SpecForm(formdata=None, prefix="new"),
            inherited=inherited,
            ancestor_names=names,
            input_labels=templates.ATTRIBUTE_INPUT_LABELS,
            effective_bp=taxonomy.effective_commission_bp(category.id),
            format_commission=taxonomy.format_commission,
            selectable=taxonomy.category_is_selectable(category.id),
            product_count=product_count,
        ), status

    @expose("/<int:category_id>")
    def detail(self, category_id: int):
        return self._detail_page(self._category(category_id))

    @expose("/<int:category_id>/edit", methods=["POST"])
    def edit(self, category_id: int):
        category = self._category(category_id)
        form = CategoryForm()
        if not form.validate_on_submit():
            abort(400)
        try:
            taxonomy.update_category(
                category,
                name=form.name.data,
                slug=form.slug.data,
                commission=form.commission.data,
                seo_title=form.seo_title.data,
                seo_description=form.seo_description.data,
            )
        except DomainError as error:
            db.session.rollback()
            attach(form, error)
            return self._detail_page(self._category(category_id), 400, edit_form=form)
        db.session.commit()
        flash(_("Category saved."), "success")
        return redirect(url_for(".detail", category_id=category_id))

    @expose("/<int:category_id>/move", methods=["POST"])
    def move(self, category_id: int):
        category = self._category(category_id)
        form = MoveForm()
        form.parent_id.choices = parent_choices(exclude_path=category.path)
        if not form.validate_on_submit():
            abort(400)
        try:
            taxonomy.move_category(category, form.parent_id.data or None)
        except DomainError as error:
            db.session.rollback()
            attach(form, error)
            return self._detail_page(self._category(category_id), 400, move_form=form)
        db.session.commit()
        flash(_("Category moved."), "success")
        return redirect(url_for(".detail", category_id=category_id))

    def _act(self, category_id: int, action, message: str, back: str):
        """Run a one-button action; on refusal show the message on the page it came from (400)."""
        check_csrf()
        category = self._category(category_id)
        try:
            action(category)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            if back == "index":
                return self._tree_page(400)
            return self._detail_page(self._category(category_id), 400)
        db.session.commit()
        flash(message, "success")
        if back == "index":
            return redirect(url_for(".index") + f"#c{category_id}")
        return redirect(url_for(".detail", category_id=category_id))

    def _back(self) -> str:
        return "index" if request.form.get("back") == "index" else "detail"

    @expose("/<int:category_id>/reorder", methods=["POST"])
    def reorder(self, category_id: int):
        direction, position = direction_and_position()
        return self._act(
            category_id,
            lambda c: taxonomy.reorder_category(c, direction=direction, position=position),
            _("Order saved."),
            self._back(),
        )

    @expose("/<int:category_id>/enable", methods=["POST"])
    def enable(self, category_id: int):
        enabled = request.form.get("enabled") == "1"
        return self._act(
            category_id,
            lambda c: taxonomy.set_category_enabled(c, enabled),
            _("Category enabled.") if enabled else _("Category disabled: it and its sub-categories are hidden."),
            self._back(),
        )

    @expose("/<int:category_id>/delete", methods=["POST"])
    def delete(self, category_id: int):
        check_csrf()
        category = self._category(category_id)
        name, parent_id = category.name, category.parent_id
        try:
            taxonomy.delete_category(category)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return self._detail_page(self._category(category_id), 400)
        db.session.commit()
        flash(_("Category “%(name)s” deleted.", name=name), "success")
        return redirect(url_for(".detail", category_id=parent_id) if parent_id else url_for(".index"))

    # -- attribute and spec templates -----------------------------------------------------------

    def _template(self, category, kind: str, template_id: int):
        if kind not in TEMPLATE_KINDS:
            abort(404)
        try:
            return templates.get_template(TEMPLATE_KINDS[kind][0], category, template_id)
        except NotFound:
            abort(404)

    @expose("/<int:category_id>/<kind>/new", methods=["POST"])
    def add_template(self, category_id: int, kind: str):
        category = self._category(category_id)
        if kind not in TEMPLATE_KINDS:
            abort(404)
        form = TEMPLATE_KINDS[kind][1](prefix="new")
        if not form.validate_on_submit():
            abort(400)
        add = templates.add_attribute if kind == "attributes" else templates.add_spec
        try:
            add(category, {name: field.data for name, field in form._fields.items() if name != "csrf_token"})
        except DomainError as error:
            db.session.rollback()
            attach(form, error)
            return self._detail_page(self._category(category_id), 400, **{f"new:{kind}": form})
        db.session.commit()
        flash(_("Attribute added.") if kind == "attributes" else _("Spec added."), "success")
        return redirect(url_for(".detail", category_id=category_id) + f"#{kind}")

    @expose("/<int:category_id>/<kind>/<int:template_id>/edit", methods=["POST"])
    def edit_template(self, category_id: int, kind: str, template_id: int):
        category = self._category(category_id)
        template = self._template(category, kind, template_id)
        form = TEMPLATE_KINDS[kind][1](prefix=f"t{template.id}")
        if not form.validate_on_submit():
            abort(400)
        update = templates.update_attribute if kind == "attributes" else templates.update_spec
        try:
            update(template, {name: field.data for name, field in form._fields.items() if name != "csrf_token"})
        except DomainError as error:
            db.session.rollback()
            attach(form, error)
            return self._detail_page(self._category(category_id), 400, **{f"{kind}:{template_id}": form})
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for(".detail", category_id=category_id) + f"#{kind}")

    @expose("/<int:category_id>/<kind>/<int:template_id>/reorder", methods=["POST"])
    def reorder_template(self, category_id: int, kind: str, template_id: int):
        check_csrf()
        template = self._template(self._category(category_id), kind, template_id)
        direction, position = direction_and_position()
        try:
            templates.move_template(template, direction=direction, position=position)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return self._detail_page(self._category(category_id), 400)
        db.session.commit()
        return redirect(url_for(".detail", category_id=category_id) + f"#{kind}")

    @expose("/<int:category_id>/<kind>/<int:template_id>/delete", methods=["POST"])
    def delete_template(self, category_id: int, kind: str, template_id: int):
        check_csrf()
        template = self._template(self._category(category_id), kind, template_id)
        name = template.name
        templates.remove_template(template)
        db.session.commit()
        flash(_("“%(name)s” removed.", name=name), "success")
        return redirect(url_for(".detail", category_id=category_id) + f"#{kind}")
