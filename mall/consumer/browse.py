"""Browsing the mall: home, category pages, brand hall and brand pages, new arrivals, the hot-seller
ranking, special offers and the product page. Anonymous visitors get these pages from the page
cache (``mall.catalog.cache``); logged-in shoppers always get a fresh page."""

from __future__ import annotations

import re

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from mall.catalog import browse, product_page
from mall.catalog import favorites as shopper_favorites
from mall.catalog.browse import ListingQuery
from mall.catalog.cache import anonymous_page_cache, cached_fragments
from mall.catalog.models import PublicProduct
from mall.catalog.money import format_cents
from mall.catalog.product_page import ProductHead, ProductPage, ProductUnavailable, load_product_page
from mall.consumer.views import blueprint
from mall.extensions import autocommit_reads, db
from mall.i18n import _
from mall.merchants.models import Merchant
from mall.trading.reviews import product_reviews
from mall.web.urls import external_url

blueprint.add_app_template_global(external_url, "external_url")


@blueprint.app_template_filter("yuan")
def yuan(cents: int | None) -> str:
    """Cents as a price: ``19900`` → ``¥199.00``."""
    return "" if cents is None else "¥" + format_cents(cents)


@blueprint.app_template_global("product_url")
def product_url(product: PublicProduct | ProductHead, external: bool = False) -> str:
    """The product page's readable address (``/p/<id>-<slug>``)."""
    values = {"product_id": product.id, "slug": product_slug(product)}
    return external_url("consumer.product", **values) if external else url_for("consumer.product", **values)


@blueprint.app_template_global("listing_url")
def listing_url(endpoint: str, values: dict, args: dict, **changes) -> str:
    """A listing page's address with its current filters (``args``: name → values) and some changed
    (``page=2``, ``sort="newest"``; ``None`` drops one)."""
    query = {**args, **changes}
    return url_for(endpoint, **values, **{k: v for k, v in query.items() if v not in (None, [], "")})


def product_slug(product: PublicProduct | ProductHead) -> str:
    return product.slug or "item"


def listing_args() -> dict:
    """The current filters, for links that change one of them (sort, page, brand)."""
    return {k: request.args.getlist(k) for k in ("sort", "min", "max", "brand") if request.args.get(k)}


def _canonical(endpoint: str, page: int = 1, **values) -> str:
    return external_url(endpoint, **values, **({"page": page} if page > 1 else {}))


@blueprint.get("/")
@anonymous_page_cache
def home():
    # A store's own subdomain is answered before this view (mall/consumer/shop.py).
    return render_template(
        "consumer/home.html",
        sections=browse.home_sections(),
        canonical=external_url("consumer.home"),
    )


@blueprint.get("/c/<slug>")
@anonymous_page_cache
def category(slug: str):
    category = browse.enabled_category(slug)
    query = ListingQuery.from_args(request.args)
    where = browse.in_category(category)
    return render_template(
        "consumer/category.html",
        category=category,
        trail=browse.breadcrumb(category),
        children=browse.sub_categories(category),
        page=browse.list_products(where, query),
        brands=browse.brand_facets(where, query),
        query=query,
        args=listing_args(),
        canonical=_canonical("consumer.category", query.page, slug=category.slug),
    )


@blueprint.get("/brands")
@anonymous_page_cache
def brands():
    category_slug = request.args.get("category")
    category = browse.enabled_category(category_slug) if category_slug else None
    initial = request.args.get("initial", "").upper()[:1] or None
    return render_template(
        "consumer/brands.html",
        hall=browse.brand_hall(initial=initial, category=category),
        initial=initial,
        category=category,
        categories=browse.top_categories(),
        canonical=external_url("consumer.brands"),
    )


@blueprint.get("/brands/<slug>")
@anonymous_page_cache
def brand(slug: str):
    brand = browse.enabled_brand(slug)
    query = ListingQuery.from_args(request.args)
    return render_template(
        "consumer/brand.html",
        brand=brand,
        logo=browse.media_keys([brand.logo_file_id]).get(brand.logo_file_id),
        page=browse.list_products([PublicProduct.brand_id == brand.id], query),
        query=query,
        args=listing_args(),
        canonical=_canonical("consumer.brand", query.page, slug=brand.slug),
    )


def _special_list(endpoint: str, where: list, *, default_sort: str, title: str, intro: str):
    query = ListingQuery.from_args(request.args, default_sort=default_sort)
    return render_template(
        "consumer/listing.html",
        endpoint=endpoint,
        title=title,
        intro=intro,
        page=browse.list_products(where, query),
        query=query,
        args=listing_args(),
        canonical=_canonical(endpoint, query.page),
    )


@blueprint.get("/new")
@anonymous_page_cache
def new_arrivals():
    return _special_list(
        "consumer.new_arrivals",
        [],
        default_sort="newest",
        title=_("New arrivals"),
        intro=_("The latest products of every store."),
    )


@blueprint.get("/offers")
@anonymous_page_cache
def offers():
    return _special_list(
        "consumer.offers",
        browse.offers_condition(),
        default_sort="sales",
        title=_("Special offers"),
        intro=_("Products selling below their market price."),
    )


@blueprint.get("/ranking")
@anonymous_page_cache
def ranking():
    category_slug = request.args.get("category")
    category = browse.enabled_category(category_slug) if category_slug else None
    return render_template(
        "consumer/ranking.html",
        products=browse.hot_ranking(category),
        category=category,
        categories=browse.top_categories(),
        canonical=external_url("consumer.ranking", **({"category": category.slug} if category else {})),
    )


@blueprint.get("/p/<int:product_id>")
def product_short(product_id: int):
    row = db.session.get(PublicProduct, product_id)
    if row is None:
        abort(404)
    return redirect(product_url(row), code=301)


@blueprint.get("/p/<int:product_id>-<slug>")
@anonymous_page_cache
def product(product_id: int, slug: str):
    user_id = current_user.id if current_user.is_authenticated else None
    if user_id is None:
        autocommit_reads()
    head = product_page.product_head(product_id)
    if head is None:
        abort(404)
    if slug != product_slug(head):
        return redirect(product_url(head), code=301)
    try:
        page = load_product_page(head, user_id)
    except ProductUnavailable as error:
        row = db.session.get(PublicProduct, product_id)
        return render_template("consumer/product_unavailable.html", row=row, message=error.message), 404
    if user_id is not None:
        shopper_favorites.record_view(user_id, product_id)
        db.session.commit()
    return render_template(
        "consumer/product.html",
        page=page,
        fragments=_product_fragments(page),
        reviews=product_reviews(head.store.id, product_id) if head.review_count else [],
        is_favorite=shopper_favorites.is_favorite(user_id, product_id),
        canonical=product_url(head, external=True),
    )


RELATED_MARK = re.compile(r"<!--p(\d+)-->")


def _product_fragments(page: ProductPage) -> dict[str, Markup]:
    """The store card, breadcrumb and related products: shared by many product pages, so cached."""
    store_id, category_id = page.row.store.id, page.row.category_id
    parts = cached_fragments(
        {
            f"store-card:{store_id}": lambda: render_template(
                "consumer/_product_store_card.html",
                **vars(product_page.store_card(db.session.get(Merchant, store_id))),
            ),
            f"breadcrumb:{category_id}": lambda: render_template(
                "consumer/_product_breadcrumb.html", breadcrumb=product_page.category_trail(category_id)
            ),
            f"related:{category_id}": lambda: render_template(
                "consumer/_product_related.html", products=product_page.related_products(category_id)
            ),
        }
    )
    return {
        "store_card": parts[f"store-card:{store_id}"],
        "breadcrumb": parts[f"breadcrumb:{category_id}"],
        "related": _without_product(parts[f"related:{category_id}"], page.row.id),
    }


def _without_product(cards: Markup, product_id: int) -> Markup:
    """The related cards (each after its ``<!--p<id>-->`` mark) except the page's own product."""
    pieces = RELATED_MARK.split(str(cards))  # [before, id, card, id, card, …]
    kept = [card for pid, card in zip(pieces[1::2], pieces[2::2], strict=True) if int(pid) != product_id]
    return Markup("".join(kept[: product_page.RELATED]))
