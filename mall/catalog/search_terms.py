"""The suggestion dictionary (``search_terms``): words of visible products' titles, and the names of
brands, categories and stores that have visible products.

A term's weight is the number of visible products it comes from. The publishing service keeps the
weights exact as products change (``apply_term_changes`` with the product's terms before and after);
``rebuild_search_terms`` recounts them from the public catalog (after brands, categories or stores
are renamed, and in ``mall catalog reindex``). Terms are lower-cased, so prefixes match any case.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import String, cast, delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert

from mall.catalog.models import Brand, Category, PublicProduct, SearchTerm
from mall.catalog.text import words
from mall.extensions import db
from mall.merchants.models import Merchant

TERM_KINDS = ("word", "brand", "category", "store")
TAXONOMY_KINDS = ("brand", "category", "store")
TERM_LENGTH = 80
BATCH = 2000

Terms = dict[tuple[str, str], int | None]  # (term, kind) → ref id


def _term(text: str) -> str:
    return " ".join(text.split()).lower()[:TERM_LENGTH]


def title_words(title: str | None) -> set[str]:
    """The words of a title worth suggesting: at least two characters, not just digits."""
    return {_term(w) for w in words(title, for_search=False) if len(w) > 1 and not w.isdigit()}


def _category_ids(path: str | None) -> list[int]:
    return [int(part) for part in (path or "").strip("/").split("/") if part.isdigit()]


def product_terms(
    *, title: str | None, brand_id: int | None, category_path: str | None, merchant_id: int, visible: bool
) -> Terms:
    """The terms one public product contributes (none while it is hidden)."""
    if not visible:
        return {}
    terms: Terms = {(word, "word"): None for word in title_words(title)}
    brand = db.session.get(Brand, brand_id) if brand_id else None
    if brand is not None:
        terms[(_term(brand.name), "brand")] = brand.id
    ids = _category_ids(category_path)
    if ids:
        for cid, name in db.session.execute(select(Category.id, Category.name).where(Category.id.in_(ids))):
            terms[(_term(name), "category")] = cid
    merchant = db.session.get(Merchant, merchant_id)
    if merchant is not None:
        terms[(_term(merchant.name), "store")] = merchant.id
    return {key: ref for key, ref in terms.items() if key[0]}


def terms_of_row(row: PublicProduct | None) -> Terms:
    if row is None:
        return {}
    return product_terms(
        title=row.title,
        brand_id=row.brand_id,
        category_path=row.category_path,
        merchant_id=row.merchant_id,
        visible=bool(row.is_visible),
    )


def apply_term_changes(before: Terms, after: Terms) -> None:
    """Add one to each term a product gained, take one from each it lost; drop terms left at zero."""
    deltas: Counter[tuple[str, str]] = Counter()
    refs: dict[tuple[str, str], int | None] = {}
    for key, ref in after.items():
        if key not in before:
            deltas[key] += 1
            refs[key] = ref
    for key, ref in before.items():
        if key not in after:
            deltas[key] -= 1
            refs[key] = ref
    _add_weights(deltas, refs)


def _add_weights(deltas: Counter, refs: dict) -> None:
    rows = [
        {"term": term, "kind": kind, "ref_id": refs.get((term, kind)), "weight": delta}
        for (term, kind), delta in sorted(deltas.items())
        if delta
    ]
    table = SearchTerm.__table__
    for start in range(0, len(rows), BATCH):  # a statement holds at most 65535 parameters
        stmt = insert(SearchTerm).values(rows[start : start + BATCH])
        db.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[table.c.term, table.c.kind],
                set_={"weight": table.c.weight + stmt.excluded.weight, "ref_id": stmt.excluded.ref_id},
            )
        )
    lowered = [(row["term"], row["kind"]) for row in rows if row["weight"] < 0]
    if lowered:
        db.session.execute(
            delete(SearchTerm).where(tuple_(SearchTerm.term, SearchTerm.kind).in_(lowered), SearchTerm.weight <= 0)
        )


def rebuild_search_terms(kinds: tuple[str, ...] = TERM_KINDS) -> int:
    """Recount the terms of ``kinds`` from the visible public products (names as they are now);
    returns how many terms there are now. After renaming brands, categories or stores,
    ``kinds=TAXONOMY_KINDS`` is enough (and fast: it does not cut every title into words)."""
    kinds = tuple(k for k in kinds if k in TERM_KINDS)
    db.session.execute(delete(SearchTerm).where(SearchTerm.kind.in_(kinds)))
    weights: Counter[tuple[str, str]] = Counter()
    refs: dict[tuple[str, str], int | None] = {}
    visible = PublicProduct.is_visible.is_(True)

    def add(term: str, kind: str, ref: int | None, count: int) -> None:
        key = (_term(term), kind)
        if key[0]:
            weights[key] += count
            refs.setdefault(key, ref)

    if "brand" in kinds:
        for bid, name, count in db.session.execute(
            select(Brand.id, Brand.name, func.count(PublicProduct.id))
            .join(PublicProduct, PublicProduct.brand_id == Brand.id)
            .where(visible)
            .group_by(Brand.id, Brand.name)
        ):
            add(name, "brand", bid, count)
    if "category" in kinds:
        cid = func.unnest(func.string_to_array(func.trim(PublicProduct.category_path, "/"), "/")).label("cid")
        per_category = select(cid).where(visible).subquery()
        counted = (
            select(per_category.c.cid, func.count().label("n"))
            .where(per_category.c.cid != "")
            .group_by(per_category.c.cid)
            .subquery()
        )
        for category_id, name, count in db.session.execute(
            select(Category.id, Category.name, counted.c.n).join(counted, cast(Category.id, String) == counted.c.cid)
        ):
            add(name, "category", category_id, count)
    if "store" in kinds:
        for mid, name, count in db.session.execute(
            select(Merchant.id, Merchant.name, func.count(PublicProduct.id))
            .join(PublicProduct, PublicProduct.merchant_id == Merchant.id)
            .where(visible)
            .group_by(Merchant.id, Merchant.name)
        ):
            add(name, "store", mid, count)
    if "word" in kinds:
        for title in db.session.scalars(select(PublicProduct.title).where(visible).execution_options(yield_per=2000)):
            for word in title_words(title):
                weights[(word, "word")] += 1
    _add_weights(weights, refs)
    return db.session.scalar(select(func.count()).select_from(SearchTerm))
