"""Store pages: the home (``/shop/<slug>/`` and ``<subdomain>.<MALL_DOMAIN>/``), its category pages
(``/shop/<slug>/c/<id>``) and search (``/shop/<slug>/search?q=``), and the themes' assets.

The store is bound by slug or subdomain (unknown, suspended or closed → 404); the home is the
published decoration rendered with the store's theme, the product lists use the same theme. Ids of
another store's categories or products are not found here (they are not in this store's schema, and
product lists are filtered by store).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from mall.catalog import store_products
from mall.catalog.browse import ListingQuery, list_products
from mall.catalog.models import PublicProduct
from mall.consumer.browse import listing_args, product_url
from mall.consumer.views import blueprint
from mall.decoration import services as decoration
from mall.decoration.rendering import Decoration, render_store_listing, render_store_page
from mall.decoration.themes import themes
from mall.extensions import db
from mall.favorites import services as favorites
from mall.i18n import _
from mall.identity.login import safe_next
from mall.merchants.models import Merchant
from mall.merchants.storefront import bind_store, store_from_host
from mall.web.urls import external_url

ASSET_MAX_AGE = 3600
VERSIONED_ASSET_MAX_AGE = 365 * 86400


def _store_page(merchant: Merchant | None, home_url: str | None = None):
    if merchant is None:
        abort(404)
    return render_store_page(merchant, _live_decoration(), home_url=home_url)


@blueprint.before_request
def store_subdomain_home():
    """On ``<subdomain>.<MALL_DOMAIN>`` the home page is the store's home page."""
    if request.endpoint == "consumer.home" and store_from_host(request.host):
        return _store_page(bind_store(), home_url="/")
    return None


@blueprint.get("/shop/<slug>/")
def store(slug: str):
    return _store_page(bind_store(slug))


def _live_decoration() -> Decoration | None:
    live = decoration.live_version()
    return Decoration.of_version(live) if live else None


def _store_listing(merchant: Merchant, listing: dict):
    return render_store_listing(merchant, _live_decoration(), listing)


@blueprint.get("/shop/<slug>/c/<int:store_category_id>")
def store_category(slug: str, store_category_id: int):
    """One of the store's own categories (with its sub-categories): that store's visible products."""
    merchant = bind_store(slug)
    if merchant is None:
        abort(404)
    category = store_products.visible_store_category(store_category_id)
    query = ListingQuery.from_args(request.args)
    where = store_products.in_store_categories(merchant.id, store_products.category_ids_with_children(category))
    return _store_listing(
        merchant,
        {
            "title": category.name,
            "page": list_products(where, query),
            "query": query,
            "args": listing_args(),
            "endpoint": "consumer.store_category",
            "endpoint_values": {"slug": slug, "store_category_id": category.id},
            "current_category_id": category.id,
            "canonical": external_url("consumer.store_category", slug=slug, store_category_id=category.id),
        },
    )


@blueprint.get("/shop/<slug>/search")
def store_search(slug: str):
    """Search within one store (every word must match; with no such product, any word)."""
    merchant = bind_store(slug)
    if merchant is None:
        abort(404)
    query = ListingQuery.from_args(request.args, default_sort="sales")
    found = store_products.search_store(merchant.id, request.args.get("q", ""), query)
    return _store_listing(
        merchant,
        {
            "title": _("Search results for “%(q)s”", q=found.text) if found.text else _("All products"),
            "page": found.page,
            "query": query,
            "args": {**listing_args(), **({"q": [found.text]} if found.text else {})},
            "endpoint": "consumer.store_search",
            "endpoint_values": {"slug": slug},
            "search_text": found.text,
            "relaxed": found.relaxed,
            "noindex": True,
            "canonical": None,
        },
    )


@blueprint.get("/shop/<slug>/p/<int:product_id>")
def store_product(slug: str, product_id: int):
    """A product by its number within a store: the product page, if the product is this store's."""
    merchant = bind_store(slug)
    row = db.session.get(PublicProduct, product_id) if merchant is not None else None
    if row is None or row.merchant_id != merchant.id:
        abort(404)
    return redirect(product_url(row), code=301)


@blueprint.get("/store/<slug>/")
def store_moved(slug: str):
    """The store pages' former address."""
    return redirect(url_for("consumer.store", slug=slug), code=301)


def _back_to_store(merchant: Merchant):
    return redirect(safe_next(request.form.get("next"), url_for("consumer.store", slug=merchant.slug)))


@blueprint.post("/shop/<slug>/follow")
def follow_store(slug: str):
    merchant = bind_store(slug)
    if merchant is None:
        abort(404)
    if not current_user.is_authenticated:
        flash(_("Log in to follow this store."), "info")
        return redirect(
            url_for("consumer.login", next=safe_next(request.form.get("next"), url_for("consumer.store", slug=slug)))
        )
    if favorites.follow_store(current_user.id, merchant.id):
        db.session.commit()
        flash(_("You follow %(store)s now.", store=merchant.name), "success")
    return _back_to_store(merchant)


@blueprint.post("/shop/<slug>/unfollow")
@login_required
def unfollow_store(slug: str):
    """Also for a store that has since been suspended or closed (from the followed stores list)."""
    merchant = db.session.scalar(select(Merchant).where(Merchant.slug == slug))
    if merchant is None:
        abort(404)
    if favorites.unfollow_store(current_user.id, merchant.id):
        db.session.commit()
        flash(_("You no longer follow %(store)s.", store=merchant.name), "info")
    if not merchant.is_open:
        return redirect(url_for("consumer.followed_stores"))
    return _back_to_store(merchant)


@blueprint.get("/account/following")
@login_required
def followed_stores():
    return render_template("consumer/following.html", follows=favorites.followed_stores(current_user.id))


@blueprint.get("/themes/<theme>/static/<path:filename>")
def theme_static(theme: str, filename: str):
    """A theme's asset, or the default theme's when the theme has none; never outside ``static/``."""
    path = themes().static_file(theme, filename)
    if path is None:
        abort(404)
    versioned = bool(request.args.get("v"))
    response = send_file(path, max_age=VERSIONED_ASSET_MAX_AGE if versioned else ASSET_MAX_AGE, conditional=True)
    response.cache_control.public = True
    if versioned:
        response.cache_control.immutable = True
    return response
