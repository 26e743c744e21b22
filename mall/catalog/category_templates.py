"""Attribute templates (material, origin…) and spec templates (colour, size: the axes of the SKU
matrix) of a category, edited on the operator's category page. Products of a category and of its
sub-categories inherit them (``mall.catalog.taxonomy.inherited_attributes``). Every write is checked
first (``TaxonomyInvalid`` with per-field messages, nothing written), flushed and audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from mall.audit.services import diff, record_audit
from mall.catalog.fields import TaxonomyInvalid, clean_field, clean_list, flag
from mall.catalog.models import ATTRIBUTE_INPUTS, Category, CategoryAttribute, CategorySpec
from mall.catalog.taxonomy import flush_unique, renumber, reordered, resync_products_later, taxonomy_edited
from mall.errors import NotFound
from mall.extensions import db
from mall.i18n import L_, _

TEMPLATE_NAME_MAX = 40  # attribute and spec names
OPTION_MAX = 40  # one attribute option or suggested spec value
OPTIONS_MAX = 100  # options per attribute, suggested values per spec
UNIT_MAX = 16

ATTRIBUTE_INPUT_LABELS = {
    "text": L_("Text"),
    "select": L_("One choice"),
    "multi": L_("Several choices"),
    "number": L_("Number"),
}


def _clean_options(errors: dict[str, str], name: str, value: Any) -> list[str]:
    options = clean_list(value)
    if len(options) > OPTIONS_MAX:
        errors[name] = _("At most %(max)s values (now %(n)s).", max=OPTIONS_MAX, n=len(options))
    too_long = [o for o in options if len(o) > OPTION_MAX]
    if too_long and name not in errors:
        errors[name] = _("Each value has at most %(max)s characters: %(value)s", max=OPTION_MAX, value=too_long[0][:60])
    return options


def _unique_template_name(errors: dict[str, str], model: type, category_id: int, name: str | None, own_id) -> None:
    if name is None or "name" in errors:
        return
    clash = db.session.scalar(
        select(model.id).where(
            model.category_id == category_id, func.lower(model.name) == name.lower(), model.id != (own_id or 0)
        )
    )
    if clash:
        errors["name"] = (
            _("This category has an attribute with this name already.")
            if model is CategoryAttribute
            else _("This category has a spec with this name already.")
        )


def clean_attribute(category: Category, data: dict[str, Any], attribute_id: int | None = None) -> dict[str, Any]:
    """Checked values of an attribute template, or ``TaxonomyInvalid`` (nothing written)."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "name": clean_field(errors, "name", data.get("name"), TEMPLATE_NAME_MAX, required=True),
        "unit": clean_field(errors, "unit", data.get("unit"), UNIT_MAX),
        "is_required": flag(data.get("is_required")),
        "is_filterable": flag(data.get("is_filterable")),
    }
    kind = str(data.get("input") or "text")
    if kind not in ATTRIBUTE_INPUTS:
        errors["input"] = _("Choose how the attribute is filled in.")
    values["input"] = kind
    options = _clean_options(errors, "options", data.get("options"))
    if kind in ("select", "multi"):
        if not options and "options" not in errors:
            errors["options"] = _("Give at least one option to choose from.")
        values["options"] = options
    else:
        values["options"] = []  # free text and numbers have no options
    _unique_template_name(errors, CategoryAttribute, category.id, values["name"], attribute_id)
    if errors:
        raise TaxonomyInvalid(errors)
    return values


def clean_spec(category: Category, data: dict[str, Any], spec_id: int | None = None) -> dict[str, Any]:
    """Checked values of a spec template, or ``TaxonomyInvalid`` (nothing written)."""
    errors: dict[str, str] = {}
    values = {
        "name": clean_field(errors, "name", data.get("name"), TEMPLATE_NAME_MAX, required=True),
        "values": _clean_options(errors, "values", data.get("values")),
    }
    _unique_template_name(errors, CategorySpec, category.id, values["name"], spec_id)
    if errors:
        raise TaxonomyInvalid(errors)
    return values


def _template_values(template) -> dict[str, Any]:
    keys = ("name", "input", "options", "unit", "is_required", "is_filterable", "values", "position")
    return {key: getattr(template, key) for key in keys if hasattr(template, key)}


def _action(template, verb: str) -> str:
    return f"{'category_attribute' if isinstance(template, CategoryAttribute) else 'category_spec'}.{verb}"


def _add_template(category: Category, model: type, values: dict[str, Any]):
    siblings = db.session.scalars(select(model).where(model.category_id == category.id).with_for_update()).all()
    template = model(category_id=category.id, position=max((t.position for t in siblings), default=-1) + 1, **values)
    db.session.add(template)
    flush_unique({"name": _("This name is taken in this category.")})
    record_audit(
        _action(template, "create"),
        area="platform",
        obj=template,
        changes={"category_id": [None, category.id], **diff({}, _template_values(template))},
    )
    db.session.expire(category, ["attributes", "specs"])
    taxonomy_edited("template", category_id=category.id)
    return template


def _update_template(template, values: dict[str, Any]):
    before = _template_values(template)
    for key, value in values.items():
        setattr(template, key, value)
    flush_unique({"name": _("This name is taken in this category.")})
    changes = diff(before, _template_values(template))
    if changes:
        record_audit(_action(template, "edit"), area="platform", obj=template, changes=changes)
        if isinstance(template, CategoryAttribute) and "name" in changes:
            resync_products_later("category", template.category_id)  # public rows name attributes
        taxonomy_edited("template", category_id=template.category_id)
    return template


def add_attribute(category: Category, data: dict[str, Any]) -> CategoryAttribute:
    """A new attribute template at the end of the category's list."""
    return _add_template(category, CategoryAttribute, clean_attribute(category, data))


def update_attribute(attribute: CategoryAttribute, data: dict[str, Any]) -> CategoryAttribute:
    return _update_template(attribute, clean_attribute(attribute.category, data, attribute.id))


def add_spec(category: Category, data: dict[str, Any]) -> CategorySpec:
    """A new spec template at the end of the category's list."""
    return _add_template(category, CategorySpec, clean_spec(category, data))


def update_spec(spec: CategorySpec, data: dict[str, Any]) -> CategorySpec:
    return _update_template(spec, clean_spec(spec.category, data, spec.id))


def move_template(template, *, direction: str | None = None, position: int | None = None):
    """Reorder an attribute or spec template among those of its category."""
    model = type(template)
    items = list(
        db.session.scalars(
            select(model).where(model.category_id == template.category_id).order_by(model.position, model.id)
        )
    )
    before = [t.id for t in items]
    ordered = reordered(items, template, direction, position)
    renumber(ordered)
    db.session.flush()
    after = [t.id for t in ordered]
    if after != before:
        record_audit(_action(template, "reorder"), area="platform", obj=template, changes={"order": [before, after]})
        db.session.expire(template.category, ["attributes", "specs"])
        taxonomy_edited("template", category_id=template.category_id)
    return template


def remove_template(template) -> None:
    """Remove an attribute or spec template. Products keep what they saved; an attribute value whose
    template is gone is no longer shown or searchable once the product is synced again."""
    category = template.category
    record_audit(
        _action(template, "delete"),
        area="platform",
        obj=template,
        changes={"category_id": [template.category_id, None], **diff(_template_values(template), {})},
    )
    db.session.delete(template)
    db.session.flush()
    model = type(template)
    renumber(
        list(
            db.session.scalars(select(model).where(model.category_id == category.id).order_by(model.position, model.id))
        )
    )
    db.session.flush()
    db.session.expire(category, ["attributes", "specs"])
    if model is CategoryAttribute:
        resync_products_later("category", category.id)  # the attribute's values leave the public rows
    taxonomy_edited("template", category_id=category.id)


def get_template(model: type, category: Category, template_id: Any):
    """An attribute or spec of ``category`` (``NotFound`` when it belongs to another category)."""
    try:
        key = int(template_id)
    except (TypeError, ValueError):
        key = 0
    template = db.session.get(model, key) if 0 < key < 2**63 else None
    if template is None or template.category_id != category.id:
        raise NotFound(_("This template does not exist."))
    return template
