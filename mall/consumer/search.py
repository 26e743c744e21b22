"""Mall search (C-08): ``/search`` for products (filters, facets, sorts, paging, relaxation) and
stores (``type=stores``), and ``/search/suggest`` for the search box's suggestions while typing."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import jsonify, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.routing import BuildError

from mall.catalog.models import PublicProduct
from mall.catalog.money import format_cents, format_price, parse_price
from mall.catalog.search import SORTS, Hit, search_products, search_stores, suggest
from mall.consumer.views import blueprint

PER_PAGE = 24
MAX_PAGE = 100  # deep pages of a full-text ranking are neither useful nor cheap
FILTER_KEYS = ("category", "brand", "attr", "min", "max")


def product_link(product: PublicProduct | Hit) -> str:
    """The product page (``/p/<id>-<slug>``), by its endpoint when the app has it."""
    slug = product.slug or "item"
    try:
        return url_for("consumer.product", product_id=product.id, slug=slug)
    except BuildError:
        return f"/p/{product.id}-{slug}"


class SearchLinks:
    """Links that change one thing of the current search and keep the rest (back to page 1)."""

    def __init__(self, args: MultiDict):
        self.args = MultiDict(args)

    def _url(self, params: MultiDict) -> str:
        pairs = [(k, v) for k, v in params.items(multi=True) if v not in ("", None)]
        return url_for("consumer.search") + ("?" + urlencode(pairs) if pairs else "")

    def _fresh(self) -> MultiDict:
        params = MultiDict(self.args)
        params.pop("page", None)
        return params

    def set(self, **values) -> str:
        """Replace (or, with None, remove) single-valued parameters."""
        params = self._fresh()
        for key, value in values.items():
            params.poplist(key)
            if value is not None:
                params.add(key, str(value))
        return self._url(params)

    def toggle(self, key: str, value) -> str:
        """Add ``value`` to a multi-valued parameter, or remove it when present."""
        params = self._fresh()
        values = params.poplist(key)
        value = str(value)
        values = [v for v in values if v != value] if value in values else [*values, value]
        for v in values:
            params.add(key, v)
        return self._url(params)

    def clear_filters(self) -> str:
        params = self._fresh()
        for key in FILTER_KEYS:
            params.poplist(key)
        return self._url(params)

    def price_band(self, min_cents: int, max_cents: int | None) -> str:
        """A price band [min, max) as the inclusive range min … max - 0.01 yuan."""

        return self.set(
            min=format_cents(min_cents, grouping=False),
            max=format_cents(max_cents - 1, grouping=False) if max_cents else None,
        )

    def page(self, number: int) -> str:
        params = MultiDict(self.args)
        params.poplist("page")
        if number > 1:
            params.add("page", str(number))
        return self._url(params)

    def hidden_fields(self, *skip: str) -> list[tuple[str, str]]:
        """The current parameters as (name, value) pairs for a form's hidden inputs."""
        return [(k, v) for k, v in self.args.items(multi=True) if k not in skip and k != "page"]


def _attribute_filters(values: list[str]) -> dict[str, list[str]]:
    chosen: dict[str, list[str]] = {}
    for item in values[:20]:
        name, sep, value = item.partition(":")
        if sep and name.strip() and value.strip():
            chosen.setdefault(name.strip(), []).append(value.strip())
    return chosen


@blueprint.get("/search")
def search():
    args = request.args
    query = args.get("q", "").strip()[:200]
    links = SearchLinks(args)
    if args.get("type") == "stores":
        return render_template(
            "consumer/search_stores.html", q=query, stores=search_stores(query), links=links, tab="stores"
        )
    page = min(max(args.get("page", 1, type=int) or 1, 1), MAX_PAGE)
    sort = args.get("sort") if args.get("sort") in SORTS else "relevance"
    price_min, price_max = parse_price(args.get("min")), parse_price(args.get("max"))
    attributes = _attribute_filters(args.getlist("attr"))
    result = search_products(
        query,
        category_id=args.get("category", type=int),
        brand_ids=[b for b in args.getlist("brand")[:20] if b.isdigit()],
        attributes=attributes,
        price_min=price_min,
        price_max=price_max,
        sort=sort,
        page=page,
        per_page=PER_PAGE,
    )
    filtered = any(args.get(k) for k in FILTER_KEYS)
    return render_template(
        "consumer/search.html",
        q=query,
        result=result,
        links=links,
        tab="products",
        sorts=SORTS,
        filtered=filtered,
        chosen_attributes=attributes,
        price_min=args.get("min", ""),
        price_max=args.get("max", ""),
        money=format_price,
        product_link=product_link,
    )


@blueprint.get("/search/suggest")
def search_suggest():
    """Terms for the search box while typing (JSON)."""
    prefix = request.args.get("q", "")[:80]
    response = jsonify(q=prefix, suggestions=suggest(prefix, limit=10))
    response.headers["Cache-Control"] = "public, max-age=60"
    return response
