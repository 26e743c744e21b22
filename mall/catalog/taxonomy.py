"""The platform taxonomy (P-03): categories of any depth, their commission rates, and what the mall,
the product editor and the order side read from them.

Categories keep a materialised ``path`` (``/3/17/42/``) and ``depth``; every write that changes the
tree (create, move) recomputes them for the whole subtree in the same transaction, so a subtree is
always ``path LIKE '<path>%'``. Public product rows copy the category path and names, so after a
move or rename a job (``resync_public_products``) re-syncs them through the publishing service once
the change is committed.

Services validate everything before they write (bad input raises ``TaxonomyInvalid`` with one
translated message per field, and nothing changes), flush, audit (area ``platform``) and leave the
commit to the caller. Attribute and spec templates: ``mall.catalog.category_templates``; brands and
tags: ``mall.catalog.brands``; field checks: ``mall.catalog.fields``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from blinker import Namespace
from flask import current_app
from sqlalchemy import BigInteger, func, select, type_coerce
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from mall.audit.services import diff, record_audit
from mall.catalog.cache import invalidate_catalog_pages
from mall.catalog.fields import (
    TaxonomyError,
    TaxonomyInvalid,
    clean_field,
    clean_slug,
    flag,
    format_commission,
    parse_commission,
)
from mall.catalog.models import (
    BannerSlide,
    Category,
    CategoryAttribute,
    CategorySpec,
    HomeBlock,
    Product,
    PublicProduct,
)
from mall.catalog.publishing import sync_public_product
from mall.errors import NotFound
from mall.extensions import db
from mall.i18n import _
from mall.jobs import enqueue, platform_job
from mall.tenancy import tenant
from mall.tenancy.models import TenantSchema

__all__ = [
    "CategoryNode",
    "TaxonomyError",
    "TaxonomyInvalid",
    "category_is_selectable",
    "category_tree",
    "create_category",
    "delete_category",
    "disabled_path_prefixes",
    "effective_commission_bp",
    "format_commission",
    "get_category",
    "inherited_attributes",
    "inherited_specs",
    "move_category",
    "parse_commission",
    "platform_commission_bp",
    "reorder_category",
    "set_category_enabled",
    "update_category",
]

CATEGORY_NAME_MAX = 60
CATEGORY_SLUG_MAX = 80
SEO_TITLE_MAX = 120
SEO_DESCRIPTION_MAX = 300
PATH_MAX = 400

signals = Namespace()
# Sent after any change of categories, their templates, brands, tags or the home page.
taxonomy_changed = signals.signal("taxonomy-changed")


def taxonomy_edited(kind: str, **info: Any) -> None:
    """What the mall shows changed: cached catalog pages are stale (now and after the commit)."""
    invalidate_catalog_pages()
    taxonomy_changed.send(kind, **info)


# ---------------------------------------------------------------------------------------------
# Reading the tree
# ---------------------------------------------------------------------------------------------


@dataclass
class CategoryNode:
    """One category in a nested tree (for menus, pickers and the operator's editor)."""

    id: int
    name: str
    slug: str
    parent_id: int | None
    depth: int
    path: str
    position: int
    is_enabled: bool
    commission_rate_bp: int | None
    child_count: int = 0
    attribute_count: int = 0
    spec_count: int = 0
    is_visible: bool = True  # enabled and every ancestor enabled
    children: list[CategoryNode] = field(default_factory=list)

    @property
    def is_leaf(self) -> bool:
        return self.child_count == 0

    @property
    def is_selectable(self) -> bool:
        """May receive products: see ``category_is_selectable``."""
        return self.is_visible and self.is_leaf


def get_category(category_id: Any) -> Category:
    """The category, or ``NotFound`` (also for malformed ids)."""
    try:
        key = int(category_id)
    except (TypeError, ValueError):
        key = 0
    category = db.session.get(Category, key) if 0 < key < 2**63 else None
    if category is None:
        raise NotFound(_("This category does not exist."))
    return category


def category_tree(enabled_only: bool = False, *, with_counts: bool = False) -> list[CategoryNode]:
    """The whole tree in sibling order. With ``enabled_only`` a disabled category and its whole
    subtree are left out (what the mall shows). ``with_counts`` adds attribute and spec counts."""
    rows = db.session.execute(
        select(
            Category.id,
            Category.name,
            Category.slug,
            Category.parent_id,
            Category.depth,
            Category.path,
            Category.position,
            Category.is_enabled,
            Category.commission_rate_bp,
        ).order_by(Category.depth, Category.position, Category.id)
    ).all()
    nodes = {row.id: CategoryNode(**row._mapping) for row in rows}
    if with_counts:
        for model, name in ((CategoryAttribute, "attribute_count"), (CategorySpec, "spec_count")):
            counts = select(model.category_id, func.count()).group_by(model.category_id)
            for category_id, count in db.session.execute(counts):
                setattr(nodes[category_id], name, count)
    roots: list[CategoryNode] = []
    for node in nodes.values():  # parents come first: rows are ordered by depth
        parent = nodes.get(node.parent_id) if node.parent_id else None
        if parent is not None:
            parent.child_count += 1
            node.is_visible = node.is_enabled and parent.is_visible
            parent.children.append(node)
        else:
            node.is_visible = node.is_enabled
            roots.append(node)
    if enabled_only:
        return _visible_only(roots)
    return roots


def _visible_only(nodes: list[CategoryNode]) -> list[CategoryNode]:
    kept = [node for node in nodes if node.is_enabled]
    for node in kept:
        node.children = _visible_only(node.children)
    return kept


def flatten_tree(nodes: list[CategoryNode]) -> list[CategoryNode]:
    """Depth-first, in display order (for indented lists and <select> options)."""
    flat: list[CategoryNode] = []
    for node in nodes:
        flat.append(node)
        flat.extend(flatten_tree(node.children))
    return flat


def ancestors_of(category: Category) -> list[Category]:
    """From the root down to ``category`` (itself included)."""
    ids = category.ancestor_ids
    found = {c.id: c for c in db.session.scalars(select(Category).where(Category.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def category_is_selectable(category_id: Any) -> bool:
    """May a product be put in this category? It exists, it and all its ancestors are enabled, and it
    is a leaf (has no sub-categories at all, enabled or not)."""
    try:
        category = get_category(category_id)
    except NotFound:
        return False
    if not all(c.is_enabled for c in ancestors_of(category)):
        return False
    return db.session.scalar(select(func.count()).where(Category.parent_id == category.id)) == 0


def disabled_path_prefixes() -> list[str]:
    """Paths of the disabled categories: a product whose ``category_path`` starts with one of them is
    in a hidden subtree (browsing and search leave such products out)."""
    return list(db.session.scalars(select(Category.path).where(Category.is_enabled.is_(False))))


def platform_commission_bp() -> int:
    """The platform's default commission rate (config ``PLATFORM_COMMISSION_BP``) in basis points."""
    return int(current_app.config["PLATFORM_COMMISSION_BP"])


def effective_commission_bp(category_id: Any, default_bp: int | None = None) -> int:
    """The commission rate of a category in basis points: its own, else the nearest ancestor's,
    else ``default_bp`` (the platform default ``PLATFORM_COMMISSION_BP`` when not given)."""
    if default_bp is None:
        default_bp = platform_commission_bp()
    try:
        category = get_category(category_id)
    except NotFound:
        return default_bp
    for ancestor in reversed(ancestors_of(category)):
        if ancestor.commission_rate_bp is not None:
            return ancestor.commission_rate_bp
    return default_bp


def _inherited(model: type, category_id: Any) -> list:
    category = get_category(category_id)
    ids = category.ancestor_ids
    rows = db.session.scalars(select(model).where(model.category_id.in_(ids))).all()
    level = {cid: index for index, cid in enumerate(ids)}
    rows = sorted(rows, key=lambda r: (level[r.category_id], r.position, r.id))
    merged: dict[str, Any] = {}  # insertion order: where the name first appears
    for row in rows:
        merged[row.name.casefold()] = row  # a deeper level replaces the entry in place
    return list(merged.values())


def inherited_attributes(category_id: Any) -> list[CategoryAttribute]:
    """The attribute templates a product of this category fills in: from the root down, a category's
    entry replacing a same-named one of an ancestor (keeping the ancestor's place in the order)."""
    return _inherited(CategoryAttribute, category_id)


def inherited_specs(category_id: Any) -> list[CategorySpec]:
    """The spec templates (SKU axes) for this category, inherited like ``inherited_attributes``."""
    return _inherited(CategorySpec, category_id)


# ---------------------------------------------------------------------------------------------
# Writing categories
# ---------------------------------------------------------------------------------------------


def _category_values(category: Category) -> dict[str, Any]:
    return {
        "name": category.name,
        "slug": category.slug,
        "parent_id": category.parent_id,
        "commission_rate_bp": category.commission_rate_bp,
        "seo_title": category.seo_title,
        "seo_description": category.seo_description,
        "is_enabled": category.is_enabled,
    }


def _name_taken(name: str, parent_id: int | None, category_id: int | None) -> bool:
    sibling = select(Category.id).where(
        func.lower(Category.name) == name.lower(),
        Category.parent_id.is_(None) if parent_id is None else Category.parent_id == parent_id,
        Category.id != (category_id or 0),
    )
    return db.session.scalar(sibling) is not None


def _clean_category(data: dict[str, Any], parent_id: int | None, category_id: int | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "name": clean_field(errors, "name", data.get("name"), CATEGORY_NAME_MAX, required=True),
        "slug": clean_slug(errors, data.get("slug"), CATEGORY_SLUG_MAX),
        "seo_title": clean_field(errors, "seo_title", data.get("seo_title"), SEO_TITLE_MAX),
        "seo_description": clean_field(
            errors, "seo_description", data.get("seo_description"), SEO_DESCRIPTION_MAX, multiline=True
        ),
    }
    try:
        values["commission_rate_bp"] = parse_commission(data.get("commission"))
    except TaxonomyError as error:
        errors["commission"] = error.message
    if "name" not in errors and _name_taken(values["name"], parent_id, category_id):
        errors["name"] = _("A category with this name exists already at this level.")
    if "slug" not in errors and db.session.scalar(
        select(Category.id).where(Category.slug == values["slug"], Category.id != (category_id or 0))
    ):
        errors["slug"] = _("Another category has this address already.")
    if errors:
        raise TaxonomyInvalid(errors)
    return values


def flush_unique(errors_on_clash: dict[str, str]) -> None:
    """Flush in a savepoint: a concurrent insert of the same unique value becomes a form error."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:
        raise TaxonomyInvalid(errors_on_clash) from exc


def _siblings(parent_id: int | None, *, lock: bool = False) -> list[Category]:
    query = select(Category).where(
        Category.parent_id.is_(None) if parent_id is None else Category.parent_id == parent_id
    )
    if lock:
        query = query.with_for_update()
    return list(db.session.scalars(query.order_by(Category.position, Category.id)))


def _place(category: Category, parent: Category | None) -> None:
    """Set ``path`` and ``depth`` from the parent (the category has its id)."""
    path = f"{parent.path if parent else '/'}{category.id}/"
    if len(path) > PATH_MAX:
        raise TaxonomyError(_("The category tree cannot go deeper here."), field="parent_id")
    category.path = path
    category.depth = parent.depth + 1 if parent else 0


def _parent(parent_id: Any) -> Category | None:
    if parent_id in (None, "", 0, "0"):
        return None
    try:
        return get_category(parent_id)
    except NotFound as exc:
        raise TaxonomyError(_("Choose an existing parent category."), field="parent_id") from exc


def create_category(
    *,
    name: str,
    slug: str,
    parent_id: Any = None,
    commission: Any = None,
    seo_title: str | None = None,
    seo_description: str | None = None,
    is_enabled: bool = True,
) -> Category:
    """A new category at the end of its siblings (``commission`` is a percentage, empty = inherit)."""
    parent = _parent(parent_id)
    values = _clean_category(
        {
            "name": name,
            "slug": slug,
            "commission": commission,
            "seo_title": seo_title,
            "seo_description": seo_description,
        },
        parent.id if parent else None,
        None,
    )
    siblings = _siblings(parent.id if parent else None, lock=True)
    category = Category(
        parent_id=parent.id if parent else None,
        position=max((s.position for s in siblings), default=-1) + 1,
        is_enabled=flag(is_enabled),
        **values,
    )
    db.session.add(category)
    flush_unique({"slug": _("Another category has this address already.")})
    _place(category, parent)
    db.session.flush()
    record_audit("category.create", area="platform", obj=category, changes=diff({}, _category_values(category)))
    taxonomy_edited("category", category_id=category.id)
    return category


def update_category(
    category: Category,
    *,
    name: str,
    slug: str,
    commission: Any = None,
    seo_title: str | None = None,
    seo_description: str | None = None,
) -> Category:
    """Rename, change the address, commission or SEO texts (the place in the tree stays)."""
    before = _category_values(category)
    values = _clean_category(
        {
            "name": name,
            "slug": slug,
            "commission": commission,
            "seo_title": seo_title,
            "seo_description": seo_description,
        },
        category.parent_id,
        category.id,
    )
    for key, value in values.items():
        setattr(category, key, value)
    flush_unique({"slug": _("Another category has this address already.")})
    changes = diff(before, _category_values(category))
    if changes:
        record_audit("category.edit", area="platform", obj=category, changes=changes)
        if "name" in changes:
            _resync_products_later(category)  # the name is part of the products' search text
        taxonomy_edited("category", category_id=category.id)
    return category


def move_category(category: Category, parent_id: Any, *, position: int | None = None) -> Category:
    """Put the category (with its whole subtree) under another parent, or at the top level.
    Refused under itself or one of its descendants; paths and depths of the subtree follow."""
    parent = _parent(parent_id)
    if parent is not None and parent.path.startswith(category.path):
        raise TaxonomyError(
            _("A category cannot be moved under itself or one of its sub-categories."), field="parent_id"
        )
    new_parent_id = parent.id if parent else None
    if new_parent_id == category.parent_id:
        if position is not None:
            reorder_category(category, position=position)
        return category
    if _name_taken(category.name, new_parent_id, category.id):
        raise TaxonomyError(_("A category with this name exists already at this level."), field="parent_id")
    old_path, old_parent_id = category.path, category.parent_id
    subtree = list(db.session.scalars(select(Category).where(Category.path.startswith(old_path)).with_for_update()))
    new_path = f"{parent.path if parent else '/'}{category.id}/"
    if len(new_path) + max(len(c.path) for c in subtree) - len(old_path) > PATH_MAX:
        raise TaxonomyError(_("The category tree cannot go deeper here."), field="parent_id")
    delta = (parent.depth + 1 if parent else 0) - category.depth
    for node in subtree:
        node.path = new_path + node.path[len(old_path) :]
        node.depth += delta
    category.parent_id = new_parent_id
    siblings = [s for s in _siblings(new_parent_id, lock=True) if s.id != category.id]
    index = len(siblings) if position is None else max(0, min(int(position), len(siblings)))
    siblings.insert(index, category)
    renumber(siblings)
    renumber([s for s in _siblings(old_parent_id) if s.id != category.id])
    db.session.flush()
    record_audit(
        "category.move",
        area="platform",
        obj=category,
        changes={"parent_id": [old_parent_id, new_parent_id], "path": [old_path, category.path]},
    )
    _resync_products_later(category)
    taxonomy_edited("category", category_id=category.id)
    return category


def renumber(items: list) -> None:
    for index, item in enumerate(items):
        if item.position != index:
            item.position = index


def reordered(items: list, item, direction: str | None, position: int | None) -> list:
    """``items`` with ``item`` moved one place up/down or to ``position`` (clamped)."""
    rest = [i for i in items if i is not item]
    current = items.index(item)
    if position is not None:
        target = max(0, min(int(position), len(rest)))
    elif direction == "up":
        target = max(0, current - 1)
    elif direction == "down":
        target = min(len(rest), current + 1)
    else:
        raise TaxonomyError(_("Choose up, down or a position."))
    rest.insert(target, item)
    return rest


def reorder_category(category: Category, *, direction: str | None = None, position: int | None = None) -> Category:
    """Move the category one place up or down among its siblings, or to ``position`` (0 = first)."""
    siblings = _siblings(category.parent_id, lock=True)
    before = [s.id for s in siblings]
    ordered = reordered(siblings, category, direction, position)
    renumber(ordered)
    db.session.flush()
    after = [s.id for s in ordered]
    if after != before:
        record_audit("category.reorder", area="platform", obj=category, changes={"order": [before, after]})
        taxonomy_edited("category", category_id=category.id)
    return category


def set_category_enabled(category: Category, enabled: bool) -> Category:
    """Disabling hides the category and its whole subtree from the mall and from the product editor."""
    enabled = flag(enabled)
    if category.is_enabled != enabled:
        category.is_enabled = enabled
        db.session.flush()
        record_audit(
            "category.enable" if enabled else "category.disable",
            area="platform",
            obj=category,
            changes={"is_enabled": [not enabled, enabled]},
        )
        taxonomy_edited("category", category_id=category.id)
    return category


def delete_category(category: Category) -> None:
    """Delete a category with no sub-categories, no published product and no home-page use.

    Store drafts are not scanned (they live in every store's schema): a draft that still names a
    deleted category fails validation when it is saved or submitted, and the merchant picks another.
    """
    if db.session.scalar(select(func.count()).where(Category.parent_id == category.id)):
        raise TaxonomyError(_("Delete or move its sub-categories first."))
    if db.session.scalar(select(func.count()).where(PublicProduct.category_id == category.id)):
        raise TaxonomyError(_("Products of the mall are in this category: disable it instead."))
    if db.session.scalar(select(func.count()).where(HomeBlock.config["category_id"].astext == str(category.id))):
        raise TaxonomyError(_("A home page block shows this category: remove the block first."))
    if db.session.scalar(select(func.count()).where(BannerSlide.slot == f"category:{category.id}")):
        raise TaxonomyError(_("This category has banner slides: remove them first."))
    record_audit(
        "category.delete",
        area="platform",
        obj=category,
        changes=diff(_category_values(category), {}),
    )
    parent_id = category.parent_id
    db.session.delete(category)
    db.session.flush()
    renumber(_siblings(parent_id))
    db.session.flush()
    taxonomy_edited("category", category_id=category.id)


# ---------------------------------------------------------------------------------------------
# Keeping the public copies of products in step after a move or rename
# ---------------------------------------------------------------------------------------------


def carries_tag(tag_id: int):
    """``public_products`` rows carrying the tag (``tag_ids @> ARRAY[id]``, served by the GIN index)."""
    return type_coerce(PublicProduct.tag_ids, postgresql.ARRAY(BigInteger)).contains([tag_id])


def _public_rows_of(kind: str, ref_id: int):
    """The ``public_products`` condition for the products that show this category (with its subtree),
    brand or tag."""
    if kind == "category":
        category = db.session.get(Category, ref_id)
        path = category.path if category is not None else f"/{ref_id}/"
        return PublicProduct.category_id.in_(select(Category.id).where(Category.path.startswith(path)))
    if kind == "brand":
        return PublicProduct.brand_id == ref_id
    if kind == "tag":
        return carries_tag(ref_id)
    raise ValueError(kind)


def resync_products_later(kind: str, ref_id: int) -> None:
    """After a category moved or was renamed, or a brand or tag was renamed: the public copies of the
    products concerned are re-synced by a job once this transaction commits (when there are any)."""
    if db.session.scalar(select(PublicProduct.id).where(_public_rows_of(kind, ref_id)).limit(1)) is not None:
        enqueue(resync_public_products, kind, ref_id)


def _resync_products_later(category: Category) -> None:
    resync_products_later("category", category.id)


@platform_job(queue="low")
def resync_public_products(kind: str, ref_id: int) -> int:
    """Re-sync, through the publishing service, the public rows of every product of a category's
    subtree, a brand or a tag (their path and search text follow the taxonomy). Idempotent; returns
    how many rows were written."""
    rows = db.session.execute(
        select(PublicProduct.merchant_id, PublicProduct.id).where(_public_rows_of(kind, ref_id))
    ).all()
    by_store: dict[int, list[int]] = {}
    for merchant_id, product_id in rows:
        by_store.setdefault(merchant_id, []).append(product_id)
    written = 0
    for merchant_id, product_ids in sorted(by_store.items()):
        schema = db.session.get(TenantSchema, merchant_id)
        if schema is None or schema.state != "active":
            continue  # an archived store: its rows are hidden already
        with tenant(merchant_id):
            for product in db.session.scalars(select(Product).where(Product.id.in_(product_ids))):
                sync_public_product(product)
                written += 1
    if kind in ("brand", "category"):  # the suggestion dictionary holds their names too
        from mall.catalog.search_terms import TAXONOMY_KINDS, rebuild_search_terms

        rebuild_search_terms(TAXONOMY_KINDS)
    return written
