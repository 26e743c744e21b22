"""Store pages with real products: product-grid modules (every source), the store's category
navigation and category pages, store search, and isolation between stores."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale

from mall.catalog.models import Product
from mall.catalog.publishing import sync_public_product
from mall.decoration import services as decoration
from mall.tenancy import tenant
from tests.catalog import browse_helpers as h
from tests.catalog.browse_helpers import EN

THEMES = ["default", "classic", "magazine", "compact"]


def _tiles(html: str) -> list[str]:
    return re.findall(r'<span class="shop-product-title">([^<]+)</span>', html)


def _page(client, path: str, status: int = 200) -> str:
    response = client.get(path, headers=EN)
    assert response.status_code == status, (path, response.status_code)
    return response.get_data(as_text=True)


def _publish(merchant, owner, modules: list[dict], theme: str | None = None) -> None:
    with tenant(merchant.id), force_locale("en"):
        if theme:
            decoration.set_theme(owner, theme)
        for form in modules:
            decoration.add_module(owner, "product_grid", {"limit": "8", **form}, {})
        decoration.publish(owner)


@pytest.fixture()
def store(db, make_user, make_merchant):
    owner = make_user()
    merchant = make_merchant("Wool House", slug="wool-house", owner=owner)
    cat = h.category("Apparel", "apparel")
    winter = h.store_category(merchant, "Winter")
    hats = h.store_category(merchant, "Hats", parent=winter)
    hidden = h.store_category(merchant, "Hidden", is_visible=False)
    products = {
        "old": h.product(merchant, cat, "Old scarf", sales=50, published_days_ago=5, store_category_ids=[winter.id]),
        "new": h.product(merchant, cat, "New scarf", sales=1, published_days_ago=0),
        "hat": h.product(merchant, cat, "Wool hat", sales=10, published_days_ago=2, store_category_ids=[hats.id]),
    }
    return {"merchant": merchant, "owner": owner, "cat": cat, "winter": winter, "hats": hats, "hidden": hidden,
            **products}  # fmt: skip


@pytest.mark.parametrize("theme", THEMES)
def test_product_grids_show_real_products_from_every_source(client, store, theme, make_merchant):
    other = make_merchant("Other Store")
    foreign = h.product(other, store["cat"], "Foreign scarf")
    _publish(
        store["merchant"],
        store["owner"],
        [
            {"title": "Newest", "source": "newest"},
            {"title": "Best", "source": "best_sellers", "limit": "2"},
            {"title": "Winter", "source": "category", "category_id": str(store["winter"].id)},
            {
                "title": "Picked",
                "source": "picked",
                "product_ids": f"{store['hat'].id}, {foreign.id}, {store['old'].id}",
            },
        ],
        theme,
    )
    page = _page(client, "/shop/wool-house/")
    sections = page.split('class="shop-module mod-products')[1:]
    assert len(sections) == 4
    newest, best, winter, picked = (_tiles(s.split("</section>")[0]) for s in sections)
    assert newest == ["New scarf", "Wool hat", "Old scarf"]
    assert best == ["Old scarf", "Wool hat"]
    assert winter == ["Old scarf", "Wool hat"]  # the category and its sub-category
    assert picked == ["Wool hat", "Old scarf"]  # the merchant's order; another store's product never
    assert f'href="/p/{store["new"].id}-{store["new"].slug}"' in page and "¥100.00" in page
    assert "Foreign scarf" not in page


def test_a_grid_of_a_hidden_or_foreign_category_shows_its_empty_state(client, store, make_merchant):
    other = make_merchant("Other Store")
    foreign_category = h.store_category(other, "Theirs")
    h.product(other, store["cat"], "Foreign scarf", store_category_ids=[foreign_category.id])
    _publish(
        store["merchant"],
        store["owner"],
        [
            {"source": "category", "category_id": str(store["hidden"].id)},
            {"source": "category", "category_id": str(foreign_category.id)},
        ],
    )
    page = _page(client, "/shop/wool-house/")
    assert _tiles(page) == []
    assert page.count("Products of this category will be shown here once they are on sale.") == 2


def test_grid_cache_follows_product_changes(client, store, db):
    _publish(store["merchant"], store["owner"], [{"source": "newest"}])
    assert "¥100.00" in _page(client, "/shop/wool-house/")
    with tenant(store["merchant"].id):
        product = db.session.get(Product, store["new"].id)
        product.skus[0].price_cents = 8800
        sync_public_product(product)
    page = _page(client, "/shop/wool-house/")
    assert "¥88.00" in page
    with tenant(store["merchant"].id):
        product = db.session.get(Product, store["new"].id)
        product.on_shelf = False
        sync_public_product(product)
    assert "New scarf" not in _page(client, "/shop/wool-house/")


def test_store_navigation_lists_visible_categories(client, store):
    _publish(store["merchant"], store["owner"], [{"source": "newest"}])
    page = _page(client, "/shop/wool-house/")
    nav = page.split('class="shop-categories"')[1].split("</nav>")[0]
    assert f'href="/shop/wool-house/c/{store["winter"].id}">Winter</a>' in nav
    assert "Hidden" not in nav
    assert 'action="/shop/wool-house/search"' in page
    assert '<link rel="canonical" href="http://mall.test/shop/wool-house/">' in page


def test_store_category_page_lists_its_products_and_sub_categories(client, store):
    page = _page(client, f"/shop/wool-house/c/{store['winter'].id}")
    assert _tiles(page) == ["Old scarf", "Wool hat"]  # by sales
    assert "<title>Winter · Wool House · Mall</title>" in page
    assert "Wool House" in page and 'class="shop-categories"' in page  # the store's header and nav
    assert _tiles(_page(client, f"/shop/wool-house/c/{store['hats'].id}")) == ["Wool hat"]
    assert _tiles(_page(client, f"/shop/wool-house/c/{store['winter'].id}?sort=newest")) == ["Wool hat", "Old scarf"]
    _page(client, f"/shop/wool-house/c/{store['hidden'].id}", 404)
    _page(client, "/shop/wool-house/c/999999999", 404)


def test_store_search(client, store, make_merchant):
    h.product(store["merchant"], store["cat"], "羊绒围巾 Cashmere", sales=3)
    other = make_merchant("Other Store", slug="other-store")
    h.product(other, store["cat"], "羊绒围巾 elsewhere")
    page = _page(client, "/shop/wool-house/search?q=羊绒 围巾")
    assert _tiles(page) == ["羊绒围巾 Cashmere"] and "elsewhere" not in page
    assert 'name="robots" content="noindex"' in page
    assert _tiles(_page(client, "/shop/wool-house/search?q=cashm")) == ["羊绒围巾 Cashmere"]  # prefix
    relaxed = _page(client, "/shop/wool-house/search?q=hat zzzz")
    assert "showing products with any of them" in relaxed and _tiles(relaxed) == ["Wool hat"]
    everything = _page(client, "/shop/wool-house/search?q=")
    assert len(_tiles(everything)) == 4
    none = _page(client, "/shop/wool-house/search?q=zzzz")
    assert _tiles(none) == [] and "No product of this store matches" in none


def test_ids_of_another_store_are_not_found_in_store_urls(client, store, make_merchant):
    other = make_merchant("Other Store", slug="other-store")
    theirs = h.product(other, store["cat"], "Their scarf")
    their_category = h.store_category(other, "Theirs")
    _page(client, f"/shop/wool-house/p/{theirs.id}", 404)
    _page(client, f"/shop/wool-house/c/{their_category.id}", 404)
    response = client.get(f"/shop/other-store/p/{theirs.id}", headers=EN)
    assert response.status_code == 301 and response.headers["Location"].endswith(f"/p/{theirs.id}-{theirs.slug}")
    _page(client, "/shop/no-such-store/search?q=x", 404)


def test_suspended_store_pages_are_not_found(client, store, db):
    store["merchant"].status = "suspended"
    db.session.flush()
    _page(client, f"/shop/wool-house/c/{store['winter'].id}", 404)
    _page(client, "/shop/wool-house/search?q=scarf", 404)


def test_the_category_page_marks_its_category_and_shows_the_sub_categories(client, store):
    page = _page(client, f"/shop/wool-house/c/{store['hats'].id}")
    nav = page.split('class="shop-categories"')[1].split("</nav>")[0]
    assert f'class="shop-subcategory" href="/shop/wool-house/c/{store["hats"].id}" aria-current="page">Hats' in nav
    home = _page(client, "/shop/wool-house/")
    assert "shop-subcategory" not in home
