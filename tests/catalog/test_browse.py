"""Mall browsing: home blocks, category pages (subtree, filters, sorting, paging), brands, lists."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from mall.catalog import browse
from mall.catalog.models import BannerSlide, HomeBlock
from tests.catalog import browse_helpers as h
from tests.catalog.browse_helpers import EN


def _titles(html: str) -> list[str]:
    return re.findall(r'<span class="product-card-title">([^<]+)</span>', html)


def _get(client, path: str) -> str:
    response = client.get(path, headers=EN)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


@pytest.fixture()
def shop(db, make_merchant):
    """A store with products in a two-level category tree."""
    root = h.category("Apparel", "apparel")
    scarves = h.category("Scarves", "scarves", root)
    hats = h.category("Hats", "hats", root)
    merchant = make_merchant("Wool House", slug="wool-house")
    return {"root": root, "scarves": scarves, "hats": hats, "merchant": merchant}


# ---------------------------------------------------------------------------------------------
# Home
# ---------------------------------------------------------------------------------------------


def test_home_default_layout_shows_blocks_with_content_and_hides_empty_ones(client, shop):
    h.product(shop["merchant"], shop["scarves"], "Red scarf", sales=30, market=20000, price=15000)
    h.product(shop["merchant"], shop["hats"], "Wool hat", sales=5)
    html = _get(client, "/")
    blocks = re.findall(r'data-block="([a-z_]+)"', html)
    # No banners, no brands: those blocks are left out; the rest in the default order.
    assert blocks == ["hot_products", "stores", "category_zone", "new_arrivals", "offers"]
    hot = html.split('data-block="hot_products"')[1].split("</section>")[0]
    assert _titles(hot) == ["Red scarf", "Wool hat"]  # by sales
    offers = html.split('data-block="offers"')[1].split("</section>")[0]
    assert _titles(offers) == ["Red scarf"] and "¥200.00" in offers and "¥150.00" in offers
    zone = html.split('data-block="category_zone"')[1].split("</section>")[0]
    assert 'href="/c/apparel"' in zone and 'href="/c/scarves"' in zone and 'href="/c/hats"' in zone
    assert "Wool House" in html.split('data-block="stores"')[1]
    assert 'action="/search"' in html and "One cart, every store" in html


def test_home_follows_the_operators_blocks_and_order(client, shop, db):
    slide_image = h.image(purpose="banner")
    db.session.add(BannerSlide(slot="home", image_file_id=slide_image.id, title="Big sale", link="/offers"))
    db.session.add(
        BannerSlide(
            slot="home",
            image_file_id=h.image(purpose="banner").id,
            title="Expired",
            ends_at=datetime.now(UTC) - timedelta(days=1),
        )
    )
    featured = h.brand("Highland", initial="H", is_featured=True)
    h.product(shop["merchant"], shop["scarves"], "Highland scarf", brand_row=featured, sales=3)
    db.session.add_all(
        [
            HomeBlock(kind="brands", title="Our brands", position=1),
            HomeBlock(kind="banners", position=2),
            HomeBlock(kind="new_arrivals", position=3, is_enabled=False),
            HomeBlock(kind="offers", position=4),  # nothing on offer: hidden
            HomeBlock(kind="category_zone", position=5, config={"category_id": shop["root"].id, "limit": 1}),
        ]
    )
    db.session.flush()
    html = _get(client, "/")
    assert re.findall(r'data-block="([a-z_]+)"', html) == ["brands", "banners", "category_zone"]
    assert "Our brands" in html and 'href="/brands/highland"' in html
    assert f'src="/media/{slide_image.key}"' in html and 'href="/offers"' in html and "Big sale" in html
    assert "Expired" not in html


def test_home_with_nothing_on_sale_says_so(client, db):
    html = _get(client, "/")
    assert "Nothing is on sale yet" in html and "data-block" not in html


def test_banner_links_that_are_not_safe_are_dropped(db):
    db.session.add(BannerSlide(slot="home", image_file_id=h.image(purpose="banner").id, link="javascript:alert(1)"))
    db.session.flush()
    assert [s.link for s in browse.banner_slides()] == [None]


# ---------------------------------------------------------------------------------------------
# Category pages
# ---------------------------------------------------------------------------------------------


def test_category_page_lists_the_whole_subtree_of_visible_products(client, shop, db):
    h.product(shop["merchant"], shop["scarves"], "Scarf")
    h.product(shop["merchant"], shop["hats"], "Hat")
    other = h.category("Kitchen", "kitchen")
    h.product(shop["merchant"], other, "Pan")
    hidden = h.product(shop["merchant"], shop["scarves"], "Hidden scarf")
    hidden.is_visible = False
    db.session.flush()
    html = _get(client, "/c/apparel")
    assert sorted(_titles(html)) == ["Hat", "Scarf"]
    assert 'href="/c/scarves"' in html and 'href="/c/hats"' in html  # sub-category navigation
    assert "<h1>Apparel" in html and "2 products" in html
    crumbs = html.split('class="breadcrumb"')[1].split("</nav>")[0]
    assert 'href="/"' in crumbs and "Apparel" in crumbs
    leaf = _get(client, "/c/scarves")
    assert _titles(leaf) == ["Scarf"] and 'href="/c/apparel"' in leaf.split('class="breadcrumb"')[1]


def test_disabled_categories_are_not_found_and_their_products_leave_the_parent(client, shop, db):
    h.product(shop["merchant"], shop["scarves"], "Scarf")
    h.product(shop["merchant"], shop["hats"], "Hat")
    shop["hats"].is_enabled = False
    db.session.flush()
    assert client.get("/c/hats", headers=EN).status_code == 404
    assert client.get("/c/no-such", headers=EN).status_code == 404
    html = _get(client, "/c/apparel")
    assert _titles(html) == ["Scarf"] and 'href="/c/hats"' not in html
    shop["root"].is_enabled = False
    db.session.flush()
    assert client.get("/c/scarves", headers=EN).status_code == 404  # a disabled ancestor hides it too


def test_category_seo_title_and_description(client, shop, db):
    shop["scarves"].seo_title = "Warm scarves for winter"
    shop["scarves"].seo_description = "Cashmere and wool scarves."
    db.session.flush()
    html = _get(client, "/c/scarves")
    assert "<title>Warm scarves for winter · Mall</title>" in html
    assert '<meta name="description" content="Cashmere and wool scarves.">' in html
    assert '<link rel="canonical" href="http://mall.test/c/scarves">' in html


def test_sorting_price_filter_brand_filter_and_paging(client, shop, db):
    a, b = h.brand("Alpha"), h.brand("Beta")
    m = shop["merchant"]
    h.product(m, shop["scarves"], "Cheap", price=1000, sales=1, brand_row=a, published_days_ago=3)
    h.product(m, shop["scarves"], "Middle", price=5000, sales=9, brand_row=b, published_days_ago=1)
    h.product(m, shop["scarves"], "Dear", price=9900, sales=5, brand_row=a, published_days_ago=2)
    assert _titles(_get(client, "/c/apparel")) == ["Middle", "Dear", "Cheap"]  # sales by default
    assert _titles(_get(client, "/c/apparel?sort=price_asc")) == ["Cheap", "Middle", "Dear"]
    assert _titles(_get(client, "/c/apparel?sort=price_desc")) == ["Dear", "Middle", "Cheap"]
    assert _titles(_get(client, "/c/apparel?sort=newest")) == ["Middle", "Dear", "Cheap"]
    assert _titles(_get(client, "/c/apparel?sort=bogus")) == ["Middle", "Dear", "Cheap"]
    assert _titles(_get(client, "/c/apparel?min=10&max=99.00&sort=price_asc")) == ["Cheap", "Middle", "Dear"]
    assert _titles(_get(client, "/c/apparel?min=10.01&max=99&sort=price_asc")) == ["Middle", "Dear"]
    assert _titles(_get(client, "/c/apparel?min=abc&max=50")) == ["Middle", "Cheap"]  # a non-price is ignored
    html = _get(client, f"/c/apparel?brand={a.id}&sort=price_asc")
    assert _titles(html) == ["Cheap", "Dear"]
    facets = html.split('class="brand-filter"')[1].split("</section>")[0]
    assert "Alpha" in facets and "(2)" in facets and "Beta" in facets and "(1)" in facets
    assert f'value="{a.id}" checked' in facets

    page = browse.list_products(browse.in_category(shop["root"]), browse.ListingQuery(per_page=2, page=2))
    assert [p.title for p in page.items] == ["Cheap"] and page.total == 3 and page.pages == 2
    assert not page.has_next and page.has_prev


def test_category_page_links_to_the_next_page_keeping_filters(client, shop, app, monkeypatch):
    for n in range(3):
        h.product(shop["merchant"], shop["scarves"], f"Scarf {n}", sales=n)
    monkeypatch.setattr(browse.ListingQuery, "from_args", _small_pages(browse.ListingQuery.from_args))
    html = _get(client, "/c/apparel?sort=price_asc")
    assert "Page 1 of 2" in html
    assert 'rel="next" href="/c/apparel?sort=price_asc&amp;page=2"' in html
    second = _get(client, "/c/apparel?sort=price_asc&page=2")
    assert len(_titles(second)) == 1 and 'rel="prev"' in second


def _small_pages(original):
    def from_args(args, **kw):
        return original(args, **{**kw, "per_page": 2})

    return from_args


def test_parse_price_is_exact():
    assert browse.parse_price("199") == 19900
    assert browse.parse_price("¥1,299.99") == 129999
    assert browse.parse_price("0.1") == 10
    assert browse.parse_price("-1") is None and browse.parse_price("abc") is None and browse.parse_price("") is None
    assert browse.parse_price("NaN") is None and browse.parse_price("1e40") is None


# ---------------------------------------------------------------------------------------------
# Brands, new arrivals, ranking, offers
# ---------------------------------------------------------------------------------------------


def test_brand_hall_featured_on_top_then_a_to_z(client, shop, db):
    h.brand("Zeta", initial="Z")
    h.brand("Apex", initial="A", is_featured=True)
    h.brand("Acme", initial="A")
    h.brand("星光", slug="xingguang", initial=None)
    h.brand("Gone", initial="G", is_enabled=False)
    html = _get(client, "/brands")
    featured = html.split('class="featured-brands"')[1].split("</section>")[0]
    assert "Apex" in featured and "Acme" not in featured
    groups = re.findall(r'<section class="brand-group" id="initial-([^"]+)">', html)
    assert groups == ["A", "Z", "#"]
    a_group = html.split('id="initial-A"')[1].split("</section>")[0]
    assert a_group.index("Acme") < a_group.index("Apex")
    assert "Gone" not in html
    only_z = _get(client, "/brands?initial=z")
    assert re.findall(r'id="initial-([^"]+)"', only_z) == ["Z"] and "featured-brands" not in only_z


def test_brand_hall_filtered_by_category_and_brand_page(client, shop, db):
    selling = h.brand("Selling", story="Since 1901.")
    h.brand("Idle")
    h.product(shop["merchant"], shop["scarves"], "Branded scarf", brand_row=selling)
    html = _get(client, "/brands?category=apparel")
    assert "Selling" in html and "Idle" not in html
    page = _get(client, "/brands/selling")
    assert "<h1>Selling</h1>" in page and "Since 1901." in page and _titles(page) == ["Branded scarf"]
    assert client.get("/brands/no-such", headers=EN).status_code == 404


def test_new_arrivals_ranking_and_offers(client, shop, db):
    m = shop["merchant"]
    h.product(m, shop["scarves"], "Old best-seller", sales=100, published_days_ago=30)
    h.product(m, shop["scarves"], "New arrival", sales=1, published_days_ago=0)
    h.product(m, h.category("Kitchen", "kitchen"), "Pan", sales=50, price=3000, market=4000, published_days_ago=1)
    assert _titles(_get(client, "/new")) == ["New arrival", "Pan", "Old best-seller"]
    ranking = _get(client, "/ranking")
    assert _titles(ranking) == ["Old best-seller", "Pan", "New arrival"]
    assert '<span class="product-card-rank">1</span>' in ranking
    assert _titles(_get(client, "/ranking?category=kitchen")) == ["Pan"]
    assert _titles(_get(client, "/offers")) == ["Pan"]
    assert client.get("/ranking?category=nope", headers=EN).status_code == 404


def test_ranking_is_capped_at_one_hundred(shop, db):
    assert browse.RANKING_SIZE == 100
    for n in range(3):
        h.product(shop["merchant"], shop["scarves"], f"P{n}", sales=n)
    assert [p.title for p in browse.hot_ranking(limit=2)] == ["P2", "P1"]


def test_recommended_stores_only_open_stores_with_visible_products(shop, db, make_merchant):
    h.product(shop["merchant"], shop["scarves"], "Scarf", sales=2)
    make_merchant("Empty Store")
    closed = make_merchant("Closed Store")
    h.product(closed, shop["scarves"], "Closed scarf", sales=50)
    closed.status = "suspended"
    from mall.catalog.publishing import resync_store

    resync_store(closed.id)
    tiles = browse.recommended_stores()
    assert [t.merchant.name for t in tiles] == ["Wool House"]
    assert tiles[0].product_count == 1 and [p.title for p in tiles[0].products] == ["Scarf"]
