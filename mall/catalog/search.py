"""Searching the public catalog (C-08) with PostgreSQL's built-in full-text search only.

Queries are cut into words by ``mall.catalog.text.words`` (jieba for Chinese), the same way the
index was, and all words must match (Latin words and single Chinese characters as prefixes,
``cashm`` → ``cashmere``). Filters: category subtree, brands, attribute values, price range, store.
Facets count exactly, each with the other filters applied but not its own (so choosing a brand
still shows the other brands' counts). Never a dead end: when all words find nothing the search
retries with any word (``relaxed == "any_word"``), then offers categories and brands whose names
match a word, and popular products (``relaxed == "suggestions"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy import Text, case, cast, func, literal, literal_column, or_, select, text, true, union_all
from sqlalchemy.dialects.postgresql import array

from mall.catalog.models import Brand, Category, CategoryAttribute, PublicProduct, SearchTerm
from mall.catalog.search_terms import rebuild_search_terms
from mall.catalog.text import is_cjk, words
from mall.extensions import db, read
from mall.merchants.models import Merchant

__all__ = ["rebuild_search_terms", "search_products", "search_stores", "suggest"]

SORTS = ("relevance", "sales", "price_asc", "price_desc", "newest")
# Price bands in cents: [0, 50), [50, 100), … [10000, ∞) yuan.
PRICE_EDGES = (0, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000)
MAX_WORDS = 12
FACET_LIMIT = 30
MAX_ATTRIBUTE_FACETS = 8
ATTRIBUTE_FACET_MAX_MATCHES = 2000  # without a category, attribute facets only up to this many matches
SALES_BOOST = 0.005  # per natural-log unit of sales: breaks ties among equally relevant products


@dataclass
class Facet:
    value: object
    label: str
    count: int
    selected: bool = False


@dataclass
class PriceBand:
    min_cents: int
    max_cents: int | None  # exclusive; None = no upper bound
    count: int
    selected: bool = False


@dataclass
class SearchResult:
    query: str
    words: list[str]
    sort: str
    page: int
    per_page: int
    total: int = 0
    items: list[Hit] = field(default_factory=list)
    relaxed: str | None = None  # None, "any_word" or "suggestions"
    category: Category | None = None
    breadcrumb: list[Category] = field(default_factory=list)
    categories: list[Facet] = field(default_factory=list)
    brands: list[Facet] = field(default_factory=list)
    price_bands: list[PriceBand] = field(default_factory=list)
    attributes: dict[str, list[Facet]] = field(default_factory=dict)
    suggested_categories: list[Category] = field(default_factory=list)
    suggested_brands: list[Brand] = field(default_factory=list)
    popular: list[PublicProduct] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page)) if self.per_page else 1


def _tsquery_text(query_words: list[str], operator: str) -> str:
    terms = []
    for word in query_words:
        lexeme = "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"
        prefix = not is_cjk(word) or len(word) == 1
        terms.append(lexeme + (":*" if prefix else ""))
    return f" {operator} ".join(terms)


def _tsquery(text_query: str):
    return func.to_tsquery(literal_column("'simple'::regconfig"), text_query)


def _attribute_clause(column, name: str, values: list[str]):
    """The product's attribute ``name`` is (or, for a list, contains) one of ``values``."""
    options = []
    for value in values:
        options.append(column.contains({name: value}))
        options.append(column.contains({name: [value]}))
        try:
            number = Decimal(value)
        except InvalidOperation:
            continue
        if number.is_finite():
            as_json = int(number) if number == number.to_integral_value() else float(number)
            options.append(column.contains({name: as_json}))
    return or_(*options)


class _Filters:
    """The facet filters on the matched rows, by facet, so each facet can leave out its own."""

    def __init__(self, columns, brand_ids, attributes, price_min, price_max):
        self.brand = [columns.brand_id.in_(brand_ids)] if brand_ids else []
        self.price = []
        if price_min is not None:
            self.price.append(columns.price_min_cents >= price_min)
        if price_max is not None:
            self.price.append(columns.price_min_cents <= price_max)
        self.attributes = {
            name: _attribute_clause(columns.attributes, name, values) for name, values in attributes.items()
        }

    def all(self, *, without: str | None = None) -> list:
        clauses = []
        if without != "brand":
            clauses += self.brand
        if without != "price":
            clauses += self.price
        clauses += [clause for name, clause in self.attributes.items() if without != f"attr:{name}"]
        return clauses


@dataclass
class _Search:
    """Everything one search statement needs; ``run`` answers with the page and every facet at once."""

    text_query: str | None
    category: Category | None
    brand_ids: list[int]
    attributes: dict[str, list[str]]
    price_min: int | None
    price_max: int | None
    merchant_id: int | None
    sort: str
    page: int
    per_page: int
    attribute_names: list[str]

    def matched(self):
        """The visible rows matching the words, the category and the store (materialised once: the
        full-text match is the expensive part, every count below reads this set)."""
        p = PublicProduct
        clauses = [p.is_visible.is_(True)]
        rank = literal_column("0.0")
        if self.text_query:
            tsq = _tsquery(self.text_query)
            clauses.append(p.search_vector.op("@@")(tsq))
            if self.sort == "relevance":  # ranking reads every match's vector: only when it orders the page
                rank = func.ts_rank(p.search_vector, tsq) + func.ln(1 + p.sales_count) * SALES_BOOST
        if self.merchant_id:
            clauses.append(p.merchant_id == self.merchant_id)
        if self.category is not None:
            clauses.append(p.category_path.startswith(self.category.path, autoescape=True))
        columns = (p.id, p.brand_id, p.category_id, p.price_min_cents, p.attributes, p.sales_count, p.published_at)
        return select(*columns, rank.label("rank")).where(*clauses).cte("matched").prefix_with("MATERIALIZED")

    def order(self, c) -> list:
        """The page's order over columns ``c`` (of the matched rows, or of the page's own rows)."""
        if self.sort == "relevance" and self.text_query:
            return [c.rank.desc(), c.sales_count.desc(), c.id.desc()]
        if self.sort in ("relevance", "sales"):
            return [c.sales_count.desc(), c.published_at.desc(), c.id.desc()]
        if self.sort == "price_asc":
            return [c.price_min_cents.asc(), c.id.asc()]
        if self.sort == "price_desc":
            return [c.price_min_cents.desc(), c.id.desc()]
        return [c.published_at.desc(), c.id.desc()]

    def statement(self):
        """One UNION ALL of (part, key, label, count) rows: the total, the page's ids in order, and
        the category, brand, price and attribute facets."""
        m = self.matched()
        f = _Filters(m.c, self.brand_ids, self.attributes, self.price_min, self.price_max)

        def row(part: str, key, label, count):
            return (literal(part).label("part"), cast(key, Text).label("key"), cast(label, Text).label("label"), count)

        parts = [select(*row("total", None, None, func.count())).select_from(m).where(*f.all())]
        # The page by ORDER BY … LIMIT (a top-N sort), then numbered: the union keeps no order.
        top = (
            select(m.c.id, m.c.rank, m.c.sales_count, m.c.price_min_cents, m.c.published_at)
            .where(*f.all())
            .order_by(*self.order(m.c))
            .limit(self.per_page)
            .offset((self.page - 1) * self.per_page)
            .subquery("top")
        )
        ranked = select(top.c.id, func.row_number().over(order_by=self.order(top.c)).label("n")).subquery("ranked")
        parts.append(select(*row("page", ranked.c.id, None, ranked.c.n)))
        # Counted by category first (integers: a few distinct ones), then by the next level below the
        # chosen category (from the categories' paths), named last.
        by_category = (
            select(m.c.category_id, func.count().label("n")).where(*f.all()).group_by(m.c.category_id)
        ).subquery("by_category")
        paths = (
            select(Category.path.label("category_path"), by_category.c.n)
            .join(by_category, by_category.c.category_id == Category.id)
            .subquery("paths")
        )
        prefix = self.category.path if self.category is not None else "/"
        child = func.split_part(func.substr(paths.c.category_path, len(prefix) + 1), "/", 1)
        children = (
            select(child.label("child"), func.sum(paths.c.n).label("n"))
            .where(paths.c.category_path.startswith(prefix, autoescape=True), child != "")
            .group_by(child)
        ).subquery("children")
        named = Category.__table__.alias("named")
        parts.append(
            select(*row("category", named.c.id, named.c.name, children.c.n)).join(
                named, cast(named.c.id, Text) == children.c.child
            )
        )
        brands = (
            select(m.c.brand_id, func.count().label("n"))
            .where(*f.all(without="brand"), m.c.brand_id.is_not(None))
            .group_by(m.c.brand_id)
        ).subquery("brand_counts")
        parts.append(select(*row("brand", Brand.id, Brand.name, brands.c.n)).join(Brand, Brand.id == brands.c.brand_id))
        edges = literal_column("ARRAY[" + ",".join(str(e) for e in PRICE_EDGES) + "]::bigint[]")
        bucket = func.width_bucket(m.c.price_min_cents, edges)
        parts.append(select(*row("price", bucket, None, func.count())).where(*f.all(without="price")).group_by(bucket))
        # Attribute facets once the search is narrow (a category, or few matches): across thousands of
        # products of every kind they would be long lists of unrelated attributes, and costly.
        narrow = (
            true()
            if self.category is not None
            else ~select(literal(1)).select_from(m).offset(ATTRIBUTE_FACET_MAX_MATCHES).exists()
        )
        free = [n for n in self.attribute_names if n not in self.attributes]
        groups = ([(free, None)] if free else []) + [
            ([n], f"attr:{n}") for n in self.attribute_names if n in self.attributes
        ]
        for names, without in groups:
            pairs = func.jsonb_each(m.c.attributes).table_valued("key", "value").render_derived("kv")
            value = pairs.c.value
            elements = (
                func.jsonb_array_elements_text(
                    case((func.jsonb_typeof(value) == "array", value), else_=func.jsonb_build_array(value))
                )
                .table_valued("v")
                .render_derived("el")
            )
            parts.append(
                select(*row("attr", pairs.c.key, elements.c.v, func.count()))
                .select_from(m)
                .join(pairs, true())
                .join(elements, true())
                .where(narrow, *f.all(without=without), m.c.attributes.has_any(array(names)), pairs.c.key.in_(names))
                .group_by(pairs.c.key, elements.c.v)
            )
        return union_all(*parts)

    def run(self, result: SearchResult) -> None:
        # Common words match a fifth of the catalog: the GIN index (a bitmap scan) still beats reading
        # every row, which PostgreSQL's default cost for random reads on disk would choose.
        db.session.execute(text("SET LOCAL random_page_cost = 1.1"))
        rows = db.session.execute(self.statement()).all()
        page_ids: list[tuple[int, int]] = []
        attributes: dict[str, list[Facet]] = {}
        for part, key, label, n in rows:
            count = int(n)  # sums come back as numeric
            if part == "total":
                result.total = count
            elif part == "page":
                page_ids.append((count, int(key)))
            elif part == "category":
                result.categories.append(Facet(int(key), label, count))
            elif part == "brand":
                result.brands.append(Facet(int(key), label, count, int(key) in self.brand_ids))
            elif part == "price" and int(key) >= 1:
                index = int(key)
                low = PRICE_EDGES[index - 1]
                high = PRICE_EDGES[index] if index < len(PRICE_EDGES) else None
                selected = self.price_min == low and self.price_max == (high - 1 if high is not None else None)
                result.price_bands.append(PriceBand(low, high, count, selected))
            elif part == "attr":
                attributes.setdefault(key, []).append(Facet(label, label, count, label in self.attributes.get(key, ())))
        result.categories = sorted(result.categories, key=lambda f: (-f.count, f.label))[:FACET_LIMIT]
        result.brands = sorted(result.brands, key=lambda f: (-f.count, f.label))[:FACET_LIMIT]
        result.price_bands.sort(key=lambda b: b.min_cents)
        for facets in attributes.values():
            facets.sort(key=lambda f: (-f.count, f.label))
            del facets[FACET_LIMIT:]
        ranked = sorted(attributes.items(), key=lambda kv: (-sum(f.count for f in kv[1]), kv[0]))
        result.attributes = dict(ranked[:MAX_ATTRIBUTE_FACETS])
        result.items = _load_page([product_id for _n, product_id in sorted(page_ids)])


@dataclass(frozen=True)
class StoreName:
    slug: str
    name: str


@dataclass(frozen=True)
class Hit:
    """What a result card shows of a product (read as plain values: 24 ORM objects and their stores
    cost a search page more than its facets do)."""

    id: int
    slug: str
    title: str
    main_image_key: str | None
    price_min_cents: int
    market_price_cents: int | None
    stock_total: int
    sales_count: int
    merchant: StoreName


_HIT_COLUMNS = (
    PublicProduct.id,
    PublicProduct.slug,
    PublicProduct.title,
    PublicProduct.main_image_key,
    PublicProduct.price_min_cents,
    PublicProduct.market_price_cents,
    PublicProduct.stock_total,
    PublicProduct.sales_count,
    Merchant.slug,
    Merchant.name,
)


def _load_page(ids: list[int]) -> list[Hit]:
    if not ids:
        return []
    rows = read(
        select(*_HIT_COLUMNS).join(Merchant, Merchant.id == PublicProduct.merchant_id).where(PublicProduct.id.in_(ids))
    )
    by_id = {row[0]: Hit(*row[:8], StoreName(row[8], row[9])) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def _clean_attributes(attributes: dict | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, values in (attributes or {}).items():
        if isinstance(values, str):
            values = [values]
        kept = [str(v) for v in values or [] if str(v).strip()]
        if str(name).strip() and kept:
            out[str(name)] = kept
    return out


def search_products(
    query: str | None,
    *,
    category_id: int | None = None,
    brand_ids=(),
    attributes: dict | None = None,
    price_min: int | None = None,
    price_max: int | None = None,
    merchant_id: int | None = None,
    sort: str = "relevance",
    page: int = 1,
    per_page: int = 24,
) -> SearchResult:
    """One page of visible products for ``query`` and filters, with facets and the relaxation path."""
    query = (query or "").strip()[:200]
    query_words = list(dict.fromkeys(words(query, for_search=False)))[:MAX_WORDS]
    sort = sort if sort in SORTS else "relevance"
    page = max(1, int(page or 1))
    result = SearchResult(query=query, words=query_words, sort=sort, page=page, per_page=per_page)
    category = db.session.get(Category, category_id) if category_id else None
    result.category = category
    if category is not None:
        by_id = {c.id: c for c in db.session.scalars(select(Category).where(Category.id.in_(category.ancestor_ids)))}
        result.breadcrumb = [by_id[i] for i in category.ancestor_ids if i in by_id]
    search = _Search(
        text_query=_tsquery_text(query_words, "&") if query_words else None,
        category=category,
        brand_ids=sorted({int(b) for b in brand_ids or () if str(b).isdigit()}),
        attributes=_clean_attributes(attributes),
        price_min=price_min,
        price_max=price_max,
        merchant_id=merchant_id,
        sort=sort,
        page=page,
        per_page=per_page,
        attribute_names=_attribute_names(category),
    )
    search.run(result)
    if result.total == 0 and len(query_words) > 1:
        search.text_query = _tsquery_text(query_words, "|")
        result = _fresh(result)
        search.run(result)
        if result.total:
            result.relaxed = "any_word"
    if result.total == 0 and query_words:
        result = _fresh(result)
        result.relaxed = "suggestions"
        _suggest_alternatives(result, query_words)
    return result


def _fresh(result: SearchResult) -> SearchResult:
    """The same search's header (query, category…) without counts or facets."""
    return SearchResult(
        query=result.query,
        words=result.words,
        sort=result.sort,
        page=result.page,
        per_page=result.per_page,
        category=result.category,
        breadcrumb=result.breadcrumb,
    )


def _attribute_names(category: Category | None) -> list[str]:
    """Filterable attributes of the category, its ancestors (inherited) and its subtree."""
    stmt = select(CategoryAttribute.name).where(CategoryAttribute.is_filterable.is_(True)).distinct()
    if category is not None:
        subtree = select(Category.id).where(Category.path.startswith(category.path, autoescape=True))
        stmt = stmt.where(
            or_(CategoryAttribute.category_id.in_(category.ancestor_ids), CategoryAttribute.category_id.in_(subtree))
        )
    return sorted(db.session.scalars(stmt))


def _like_any(column, query_words: list[str]):
    return or_(*(column.ilike("%" + _escape_like(w) + "%", escape="\\") for w in query_words))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _suggest_alternatives(result: SearchResult, query_words: list[str]) -> None:
    """Categories and brands named like a word of the query; popular products in any case."""
    result.suggested_categories = list(
        db.session.scalars(
            select(Category)
            .where(Category.is_enabled.is_(True), _like_any(Category.name, query_words))
            .order_by(Category.depth, Category.position, Category.id)
            .limit(12)
        )
    )
    result.suggested_brands = list(
        db.session.scalars(
            select(Brand)
            .where(Brand.is_enabled.is_(True), _like_any(Brand.name, query_words))
            .order_by(Brand.is_featured.desc(), Brand.position, Brand.name)
            .limit(12)
        )
    )
    if not result.suggested_categories:
        result.suggested_categories = list(
            db.session.scalars(
                select(Category)
                .where(Category.is_enabled.is_(True), Category.parent_id.is_(None))
                .order_by(Category.position, Category.id)
                .limit(12)
            )
        )
    result.popular = list(
        db.session.scalars(
            select(PublicProduct)
            .where(PublicProduct.is_visible.is_(True))
            .order_by(PublicProduct.sales_count.desc(), PublicProduct.id.desc())
            .limit(8)
        ).unique()
    )


@dataclass
class StoreHit:
    merchant: Merchant
    product_count: int


def search_stores(query: str | None, *, limit: int = 50) -> list[StoreHit]:
    """Open stores whose name contains every word of ``query`` (any word if none has them all)."""
    query_words = list(dict.fromkeys(words((query or "").strip()[:200], for_search=False)))[:MAX_WORDS]
    if not query_words:
        return []
    counts = (
        select(func.count(PublicProduct.id))
        .where(PublicProduct.merchant_id == Merchant.id, PublicProduct.is_visible.is_(True))
        .correlate(Merchant)
        .scalar_subquery()
    )
    for clause in (
        [Merchant.name.ilike("%" + _escape_like(w) + "%", escape="\\") for w in query_words],
        [_like_any(Merchant.name, query_words)],
    ):
        rows = db.session.execute(
            select(Merchant, counts.label("n"))
            .where(Merchant.status == "active", *clause)
            .order_by(counts.desc(), Merchant.name)
            .limit(limit)
        ).all()
        if rows:
            return [StoreHit(merchant, n) for merchant, n in rows]
    return []


def suggest(prefix: str | None, limit: int = 10) -> list[str]:
    """Terms starting with ``prefix`` (titles' words, brands, categories, stores), most used first."""
    prefix = " ".join((prefix or "").split()).lower()[:80]
    if not prefix:
        return []
    # A store's name counts its products too, but ranks below the words people search for.
    weight = func.max(case((SearchTerm.kind == "store", SearchTerm.weight / 10.0), else_=SearchTerm.weight))
    rows = db.session.execute(
        select(SearchTerm.term, weight)
        .where(SearchTerm.term.startswith(prefix, autoescape=True), SearchTerm.weight > 0)
        .group_by(SearchTerm.term)
        .order_by(weight.desc(), func.length(SearchTerm.term), SearchTerm.term)
        .limit(max(1, min(limit, 50)))
    ).all()
    return [term for term, _ in rows]
