"""SEO (robots.txt, paged sitemaps) and the anonymous page cache with its invalidation."""

from __future__ import annotations

import re

import pytest
import redis
from sqlalchemy import text

from mall.catalog.cache import invalidate_catalog_pages
from mall.catalog.models import Product
from mall.catalog.publishing import sync_public_product
from mall.tenancy import tenant
from tests.catalog import browse_helpers as h
from tests.catalog.browse_helpers import EN
from tests.conftest import csrf_token, login


@pytest.fixture()
def catalog(db, make_merchant):
    root = h.category("Apparel", "apparel")
    leaf = h.category("Scarves", "scarves", root)
    off = h.category("Retired", "retired", root, is_enabled=False)
    h.category("Old stock", "old-stock", off)
    h.brand("Highland")
    merchant = make_merchant("Wool House", slug="wool-house")
    products = [h.product(merchant, leaf, f"Scarf {n}", slug=f"scarf-{n}") for n in range(3)]
    hidden = h.product(merchant, leaf, "Hidden")
    hidden.is_visible = False
    suspended = make_merchant("Gone Store", slug="gone-store")
    suspended.status = "suspended"
    db.session.flush()
    return {"merchant": merchant, "products": products, "hidden": hidden, "leaf": leaf}


def _locs(xml: str) -> list[str]:
    return re.findall(r"<loc>([^<]+)</loc>", xml)


# ---------------------------------------------------------------------------------------------
# robots.txt and sitemaps
# ---------------------------------------------------------------------------------------------


def test_robots_txt(client, db):
    response = client.get("/robots.txt")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "User-agent: *"
    for path in ("/merchant", "/platform", "/account", "/search?"):
        assert f"Disallow: {path}" in lines
    assert "Sitemap: http://mall.test/sitemap.xml" in lines


def test_robots_txt_uses_the_configured_base_url(client, db, app, monkeypatch):
    monkeypatch.setitem(app.config, "MALL_BASE_URL", "https://www.example.com")
    assert "Sitemap: https://www.example.com/sitemap.xml" in client.get("/robots.txt").get_data(as_text=True)


def test_sitemap_index_and_paged_product_sitemaps(client, catalog, app, monkeypatch):
    monkeypatch.setitem(app.config, "MALL_SITEMAP_PAGE_SIZE", 2)
    index = client.get("/sitemap.xml")
    assert index.status_code == 200 and index.mimetype == "application/xml"
    body = index.get_data(as_text=True)
    assert "<sitemapindex" in body
    assert _locs(body) == [
        "http://mall.test/sitemap-categories.xml",
        "http://mall.test/sitemap-stores.xml",
        "http://mall.test/sitemap-products-1.xml",
        "http://mall.test/sitemap-products-2.xml",
    ]
    assert body.count("<lastmod>") == 2
    first = client.get("/sitemap-products-1.xml").get_data(as_text=True)
    second = client.get("/sitemap-products-2.xml").get_data(as_text=True)
    ids = [p.id for p in catalog["products"]]
    assert _locs(first) == [f"http://mall.test/p/{ids[0]}-scarf-0", f"http://mall.test/p/{ids[1]}-scarf-1"]
    assert _locs(second) == [f"http://mall.test/p/{ids[2]}-scarf-2"]  # the hidden product is not listed
    assert re.search(r"<lastmod>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00</lastmod>", first)
    assert client.get("/sitemap-products-3.xml").status_code == 404
    assert client.get("/sitemap-products-0.xml").status_code == 404


def test_sitemap_of_categories_brands_lists_and_stores(client, catalog):
    categories = _locs(client.get("/sitemap-categories.xml").get_data(as_text=True))
    assert "http://mall.test/c/apparel" in categories and "http://mall.test/c/scarves" in categories
    assert "http://mall.test/c/retired" not in categories and "http://mall.test/c/old-stock" not in categories
    assert "http://mall.test/brands/highland" in categories
    for path in ("/", "/brands", "/new", "/ranking", "/offers"):
        assert f"http://mall.test{path}" in categories
    stores = _locs(client.get("/sitemap-stores.xml").get_data(as_text=True))
    assert "http://mall.test/shop/wool-house/" in stores and "http://mall.test/shop/gone-store/" not in stores


def test_pages_have_titles_descriptions_and_canonical_links(client, catalog):
    page = client.get("/c/scarves?sort=newest&page=1", headers=EN).get_data(as_text=True)
    assert '<link rel="canonical" href="http://mall.test/c/scarves">' in page
    assert "<title>Scarves · Mall</title>" in page and '<meta name="description" content="Scarves from every' in page
    product = catalog["products"][0]
    page = client.get(f"/p/{product.id}-scarf-0", headers=EN).get_data(as_text=True)
    assert "<title>Scarf 0 · Wool House · Mall</title>" in page
    assert '<meta name="description" content="Scarf 0 from Wool House on the mall.">' in page


# ---------------------------------------------------------------------------------------------
# The anonymous page cache
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/c/apparel", "/brands/highland", "/ranking", "/offers", "/new", "/brands"])
def test_anonymous_pages_are_cached(client, catalog, path):
    first = client.get(path, headers=EN)
    second = client.get(path, headers=EN)
    assert first.status_code == second.status_code == 200
    assert first.headers["X-Cache"] == "miss" and second.headers["X-Cache"] == "hit"
    assert first.get_data() == second.get_data()
    assert client.get(path, headers={"Accept-Language": "zh-CN"}).headers["X-Cache"] == "miss"  # per language


def test_cached_pages_are_served_in_front_of_flask_to_visitors_without_cookies(client, catalog, app, monkeypatch):
    first = client.get("/", headers=EN)
    assert first.headers["X-Cache"] == "miss"

    def view_must_not_run():
        raise AssertionError("the view ran")

    monkeypatch.setitem(app.view_functions, "consumer.home", view_must_not_run)
    hit = client.get("/", headers=EN)
    assert hit.status_code == 200 and hit.headers["X-Cache"] == "hit" and hit.get_data() == first.get_data()
    assert (
        hit.headers["X-Frame-Options"] == "SAMEORIGIN"
        and "default-src 'self'" in hit.headers["Content-Security-Policy"]
    )
    # Another language is another page; a session cookie (a flash, a CSRF token, a login) means Flask decides.
    with pytest.raises(AssertionError, match="the view ran"):
        client.get("/", headers={"Accept-Language": "zh-CN"})
    client.set_cookie("session", "anything", domain="mall.test")
    with pytest.raises(AssertionError, match="the view ran"):
        client.get("/", headers=EN)


def test_a_product_change_is_visible_at_once(client, catalog, db):
    product = catalog["products"][0]
    path = f"/p/{product.id}-scarf-0"
    assert "¥100.00" in client.get(path, headers=EN).get_data(as_text=True)
    assert client.get(path, headers=EN).headers["X-Cache"] == "hit"
    assert client.get("/c/scarves", headers=EN).headers["X-Cache"] == "miss"
    with tenant(catalog["merchant"].id):
        live = db.session.get(Product, product.id)
        live.skus[0].price_cents = 12345
        sync_public_product(live)
    response = client.get(path, headers=EN)
    assert response.headers["X-Cache"] == "miss" and "¥123.45" in response.get_data(as_text=True)
    listing = client.get("/c/scarves", headers=EN)
    assert listing.headers["X-Cache"] == "miss" and "¥123.45" in listing.get_data(as_text=True)


def test_taxonomy_and_home_changes_invalidate_by_call(client, catalog):
    client.get("/", headers=EN)
    assert client.get("/", headers=EN).headers["X-Cache"] == "hit"
    invalidate_catalog_pages()
    assert client.get("/", headers=EN).headers["X-Cache"] == "miss"


def test_logged_in_shoppers_never_get_cached_pages(client, catalog, make_user):
    product = catalog["products"][0]
    path = f"/p/{product.id}-scarf-0"
    client.get(path, headers=EN)
    assert client.get(path, headers=EN).headers["X-Cache"] == "hit"
    user = make_user("cacheuser1")
    login(client, user.username)
    for _ in range(2):
        response = client.get(path, headers=EN)
        page = response.get_data(as_text=True)
        assert response.headers["X-Cache"] == "bypass"
        assert "cacheuser1" in page and f'action="/p/{product.id}/favorite"' in page
        home = client.get("/", headers=EN)
        assert home.headers["X-Cache"] == "bypass" and "cacheuser1" in home.get_data(as_text=True)


def test_pages_with_flashes_and_errors_are_not_cached(client, catalog, make_user):
    user = make_user("flashuser1")
    login(client, user.username)
    response = client.post("/account/logout", data={"csrf_token": csrf_token(client, "/account")})
    assert response.status_code == 302
    flashed = client.get("/", headers=EN)
    assert flashed.headers["X-Cache"] == "bypass" and 'class="flash flash-info"' in flashed.get_data(as_text=True)
    after = client.get("/", headers=EN)
    assert after.headers["X-Cache"] == "miss" and 'class="flash' not in after.get_data(as_text=True)
    for _ in range(2):
        missing = client.get("/c/no-such", headers=EN)
        assert missing.status_code == 404 and missing.headers.get("X-Cache") != "hit"
    redirect = client.get(f"/p/{catalog['products'][0].id}-old", headers=EN)
    assert redirect.status_code == 301 and client.get(f"/p/{catalog['products'][0].id}-old").status_code == 301


class _BrokenRedis:
    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise redis.ConnectionError("down")

        return fail


def test_pages_render_when_redis_is_down(client, catalog, app, monkeypatch):
    monkeypatch.setitem(app.extensions, "mall.redis", _BrokenRedis())
    product = catalog["products"][0]
    for path in ("/", "/c/apparel", f"/p/{product.id}-scarf-0", "/sitemap.xml"):
        response = client.get(path, headers=EN)
        assert response.status_code == 200, path
    with tenant(catalog["merchant"].id):
        from mall.extensions import db

        live = db.session.get(Product, product.id)
        live.skus[0].price_cents = 500
        sync_public_product(live)  # the invalidation cannot reach Redis: the change still goes through
    assert "¥5.00" in client.get(f"/p/{product.id}-scarf-0", headers=EN).get_data(as_text=True)


def test_the_generation_is_bumped_again_after_commit(committed_db):
    from mall.catalog.cache import catalog_generation

    db = committed_db
    start = catalog_generation()
    db.session.execute(text("SELECT 1"))  # a transaction is open, as in a request that changes products
    invalidate_catalog_pages()
    assert catalog_generation() == start + 1  # at once: pages rendered from now on are fresh
    db.session.commit()
    assert catalog_generation() == start + 2  # and after the commit (a page cached in between is dropped)
    db.session.commit()
    assert catalog_generation() == start + 2  # only once
    db.session.execute(text("SELECT 1"))
    invalidate_catalog_pages()
    db.session.rollback()
    db.session.commit()
    assert catalog_generation() == start + 3  # a rolled-back change is not bumped again


def test_unknown_query_parameters_skip_the_cache(client, catalog):
    for _ in range(2):
        assert client.get("/c/apparel?utm_source=x", headers=EN).headers["X-Cache"] == "bypass"
    client.get("/c/apparel?sort=newest&page=1", headers=EN)
    assert client.get("/c/apparel?sort=newest&page=1", headers=EN).headers["X-Cache"] == "hit"


def test_a_zero_cache_time_switches_the_page_cache_off(app, client, db):
    app.config["MALL_PAGE_CACHE_SECONDS"] = 0
    try:
        first, second = client.get("/"), client.get("/")
    finally:
        app.config["MALL_PAGE_CACHE_SECONDS"] = 300
    assert first.status_code == second.status_code == 200
    assert first.headers["X-Cache"] == second.headers["X-Cache"] == "bypass"
