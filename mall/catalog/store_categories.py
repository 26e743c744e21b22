"""A store's own categories (two levels): managed in the merchant centre, picked in the product
editor, shown in the store's navigation.

Everything works on the bound store, flushes and is audited (area ``merchant``). Deleting a
category (with its sub-categories) removes its id from the products and pending revisions that
named it, and refreshes the public copies of live ones.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ARRAY, BigInteger, func, literal, select

from mall.audit.services import record_audit
from mall.catalog.cache import invalidate_catalog_pages
from mall.catalog.models import Product, ProductRevision, StoreCategory
from mall.catalog.publishing import sync_public_product
from mall.decoration.validation import clean_text
from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.i18n import _
from mall.tenancy.binding import require_merchant_id

NAME_MAX = 40
MAX_PER_LEVEL = 50


class StoreCategoryError(DomainError):
    pass


@dataclass
class StoreCategoryNode:
    id: int
    name: str
    parent_id: int | None
    position: int
    is_visible: bool
    children: list[StoreCategoryNode] = field(default_factory=list)


def store_category_tree(visible_only: bool = True) -> list[StoreCategoryNode]:
    """The bound store's categories in order, sub-categories under their parent. With
    ``visible_only`` hidden ones (and everything under a hidden parent) are left out."""
    rows = db.session.scalars(
        select(StoreCategory).order_by(StoreCategory.parent_id.is_not(None), StoreCategory.position, StoreCategory.id)
    ).all()
    nodes = {row.id: StoreCategoryNode(row.id, row.name, row.parent_id, row.position, row.is_visible) for row in rows}
    roots: list[StoreCategoryNode] = []
    for node in nodes.values():
        if node.parent_id is None:
            roots.append(node)
        elif node.parent_id in nodes:
            nodes[node.parent_id].children.append(node)
    if visible_only:
        roots = [root for root in roots if root.is_visible]
        for root in roots:
            root.children = [child for child in root.children if child.is_visible]
    return roots


def store_category_choices() -> list[tuple[int, str]]:
    """``(id, label)`` for the editor's picker: "Parent / Child" labels, hidden ones included."""
    choices = []
    for root in store_category_tree(visible_only=False):
        choices.append((root.id, root.name))
        choices.extend((child.id, f"{root.name} / {child.name}") for child in root.children)
    return choices


def get_store_category(category_id: Any) -> StoreCategory:
    try:
        key = int(category_id)
    except (TypeError, ValueError):
        key = 0
    category = db.session.get(StoreCategory, key) if 0 < key < 2**63 else None
    if category is None:
        raise NotFound(_("This store category does not exist."))
    return category


def _audit(action: str, category: StoreCategory, actor, changes: dict | None = None) -> None:
    """Every change is audited, and the store's cached pages (navigation, category grids) go stale."""
    db.session.flush()
    invalidate_catalog_pages(require_merchant_id())
    record_audit(
        action,
        area="merchant",
        obj=category,
        object_type="StoreCategory",
        merchant_id=require_merchant_id(),
        changes=changes,
        actor=actor,
    )


def _siblings(parent_id: int | None) -> list[StoreCategory]:
    condition = StoreCategory.parent_id.is_(None) if parent_id is None else StoreCategory.parent_id == parent_id
    return list(
        db.session.scalars(
            select(StoreCategory).where(condition).order_by(StoreCategory.position, StoreCategory.id).with_for_update()
        )
    )


def _clean_name(name: Any, parent_id: int | None, own_id: int | None = None) -> str:
    text = clean_text(unicodedata.normalize("NFC", str(name or "")))
    if not text:
        raise StoreCategoryError(_("Give the category a name."), field="name")
    if len(text) > NAME_MAX:
        raise StoreCategoryError(_("At most %(max)s characters (now %(n)s).", max=NAME_MAX, n=len(text)), field="name")
    folded = unicodedata.normalize("NFKC", text).casefold()
    for sibling in _siblings(parent_id):
        if sibling.id != own_id and unicodedata.normalize("NFKC", sibling.name).casefold() == folded:
            raise StoreCategoryError(_("There is already a category named %(name)s here.", name=text), field="name")
    return text


def create_store_category(actor, name: Any, parent_id: Any = None) -> StoreCategory:
    """A new category at the end of its level; a parent must be a top-level category (two levels)."""
    parent = None
    if parent_id not in (None, "", 0, "0"):
        parent = get_store_category(parent_id)
        if parent.parent_id is not None:
            raise StoreCategoryError(_("Sub-categories cannot have sub-categories."), field="parent_id")
    parent_key = parent.id if parent else None
    text = _clean_name(name, parent_key)
    siblings = _siblings(parent_key)
    if len(siblings) >= MAX_PER_LEVEL:
        raise StoreCategoryError(_("At most %(n)s categories per level.", n=MAX_PER_LEVEL), field="name")
    category = StoreCategory(name=text, parent_id=parent_key, position=len(siblings))
    db.session.add(category)
    _audit("store_category.create", category, actor, {"name": [None, text], "parent_id": [None, parent_key]})
    return category


def rename_store_category(actor, category: StoreCategory, name: Any) -> None:
    before = category.name
    category.name = _clean_name(name, category.parent_id, category.id)
    if before != category.name:
        _audit("store_category.rename", category, actor, {"name": [before, category.name]})


def move_store_category(actor, category: StoreCategory, direction: str) -> None:
    """One place up or down among its siblings."""
    if direction not in ("up", "down"):
        raise StoreCategoryError(_("Unknown direction."))
    siblings = _siblings(category.parent_id)
    index = next(i for i, s in enumerate(siblings) if s.id == category.id)
    target = index - 1 if direction == "up" else index + 1
    if not 0 <= target < len(siblings):
        return
    siblings[index], siblings[target] = siblings[target], siblings[index]
    for position, sibling in enumerate(siblings):
        sibling.position = position
    _audit("store_category.move", category, actor, {"position": [index, target]})


def set_store_category_visible(actor, category: StoreCategory, visible: bool) -> None:
    before = category.is_visible
    category.is_visible = visible
    if before != visible:
        _audit("store_category.visibility", category, actor, {"is_visible": [before, visible]})


def delete_store_category(actor, category: StoreCategory) -> int:
    """Delete the category and its sub-categories; products lose those ids. Returns how many
    products changed."""
    ids = {category.id, *db.session.scalars(select(StoreCategory.id).where(StoreCategory.parent_id == category.id))}
    changed = 0
    for product in db.session.scalars(
        select(Product)
        .where(Product.store_category_ids.op("&&")(literal(sorted(ids), ARRAY(BigInteger))))
        .with_for_update()
    ):
        product.store_category_ids = [i for i in product.store_category_ids if i not in ids]
        changed += 1
        if product.approved_at is not None:
            db.session.flush()
            sync_public_product(product)
    for revision in db.session.scalars(
        select(ProductRevision).where(ProductRevision.status.in_(("draft", "submitted")))
    ):
        kept = [i for i in (revision.data or {}).get("store_category_ids") or [] if i not in ids]
        if kept != list((revision.data or {}).get("store_category_ids") or []):
            revision.data = {**revision.data, "store_category_ids": kept}
    name, parent_id = category.name, category.parent_id
    _audit("store_category.delete", category, actor, {"name": [name, None], "products": [changed, None]})
    for child in db.session.scalars(select(StoreCategory).where(StoreCategory.parent_id == category.id)):
        db.session.delete(child)
    db.session.flush()  # children first: the parent's row would take them along (ON DELETE CASCADE)
    db.session.delete(category)
    db.session.flush()
    for position, sibling in enumerate(_siblings(parent_id)):
        sibling.position = position
    return changed


def store_category_counts() -> dict[int, int]:
    """Category id → how many of the store's (non-archived) products name it."""
    unnested = (
        select(func.unnest(Product.store_category_ids).label("category_id"))
        .where(Product.status != "archived")
        .subquery()
    )
    rows = db.session.execute(select(unnested.c.category_id, func.count()).group_by(unnested.c.category_id))
    return {category_id: count for category_id, count in rows}
