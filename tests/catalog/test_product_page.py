"""The product page: live content from the store's schema, SKU data for the picker, canonical URLs,
unavailable products, out-of-stock registration, the store card, related products, history."""

from __future__ import annotations

import html as html_lib
import json
import re

import pytest
from sqlalchemy import select

from mall.catalog.models import BrowsingHistory, CategoryAttribute, Product, Sku, StoreCategory
from mall.catalog.publishing import resync_store, sync_public_product
from mall.merchants.models import StoreProfile
from mall.tenancy import tenant
from tests.catalog import browse_helpers as h
from tests.catalog.browse_helpers import EN
from tests.conftest import login


def _sku_json(page: str) -> list[dict]:
    match = re.search(r'<script type="application/json" id="sku-data">(.*?)</script>', page, re.S)
    assert match, "no SKU data on the page"
    return json.loads(match.group(1))


@pytest.fixture()
def scarf(db, make_merchant):
    root = h.category("Apparel", "apparel")
    leaf = h.category("Scarves", "scarves", root)
    material = CategoryAttribute(category_id=root.id, name="Material", position=1)
    length = CategoryAttribute(category_id=leaf.id, name="Length", unit="cm", position=2)
    db.session.add_all([material, length])
    db.session.flush()
    merchant = make_merchant("Wool House", slug="wool-house")
    nav = h.store_category(merchant, "Winter")
    skus = [
        Sku(spec_values={"Colour": "Red", "Size": "S"}, spec_key="Colour:Red|Size:S", price_cents=19900,
            market_price_cents=29900, stock=3, position=0),
        Sku(spec_values={"Colour": "Red", "Size": "L"}, spec_key="Colour:Red|Size:L", price_cents=21900,
            stock=0, position=1),
        Sku(spec_values={"Colour": "Grey", "Size": "S"}, spec_key="Colour:Grey|Size:S", price_cents=24900,
            stock=7, position=2),
        Sku(spec_values={"Colour": "Grey", "Size": "L"}, spec_key="Colour:Grey|Size:L", price_cents=24900,
            stock=9, is_active=False, position=3),
    ]  # fmt: skip
    row = h.product(
        merchant,
        leaf,
        "Cashmere scarf",
        slug="cashmere-scarf",
        skus=skus,
        specs=[{"name": "Colour", "values": ["Red", "Grey"]}, {"name": "Size", "values": ["S", "L"]}],
        attributes={str(material.id): "Cashmere", str(length.id): "180"},
        description_html="<h2>Soft</h2><p>Made in the hills.</p><script>alert(1)</script>",
        after_sales="Returns within 7 days.",
        store_category_ids=[nav.id],
        sales=12,
        images=2,
    )
    return {"row": row, "merchant": merchant, "leaf": leaf, "nav": nav}


def test_product_page_shows_live_content_and_sku_data(client, scarf):
    row = scarf["row"]
    response = client.get(f"/p/{row.id}-cashmere-scarf", headers=EN)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    skus = _sku_json(page)
    assert [(s["specs"], s["price_cents"], s["stock"]) for s in skus] == [
        ({"Colour": "Red", "Size": "S"}, 19900, 3),
        ({"Colour": "Red", "Size": "L"}, 21900, 0),
        ({"Colour": "Grey", "Size": "S"}, 24900, 7),
    ]  # the inactive SKU is not offered
    assert skus[0]["price"] == "199.00" and skus[0]["market_price"] == "299.00"
    # The first SKU in stock is selected: its price, market price and stock are on the page.
    assert '<strong class="price" id="sku-price">¥199.00</strong>' in page
    assert "¥299.00" in page and "3 available" in page
    assert re.search(r'data-axis="Colour" data-value="Red" aria-pressed="true"', page)
    assert re.search(r'data-axis="Size" data-value="L" aria-pressed="false"', page)
    # Attributes by their names (and unit), sanitised description, after-sales notes.
    assert '<th scope="row">Material</th><td>Cashmere</td>' in page
    assert '<th scope="row">Length</th><td>180 cm</td>' in page
    assert "<h2>Soft</h2><p>Made in the hills.</p>" in page and "alert(1)" not in page
    assert "Returns within 7 days." in page
    # Gallery, store card, share link, SEO.
    assert page.count('class="gallery-thumbs"') == 1 and len(re.findall(r'data-full="/media/', page)) == 2
    assert 'href="/shop/wool-house/"' in page and "Wool House" in page
    assert f'href="/shop/wool-house/c/{scarf["nav"].id}">Winter</a>' in page
    canonical = f"http://mall.test/p/{row.id}-cashmere-scarf"
    assert f'<link rel="canonical" href="{canonical}">' in page
    assert f'id="share-link" type="text" readonly value="{canonical}"' in page
    assert "<title>Cashmere scarf · Wool House · Mall</title>" in page
    assert "/static/product.js" in page
    crumbs = page.split('class="breadcrumb"')[1].split("</nav>")[0]
    assert 'href="/c/apparel"' in crumbs and 'href="/c/scarves"' in crumbs
    # The picker posts the selected SKU to the cart (the first SKU in stock is preselected).
    assert 'action="/cart/add"' in page and f'name="product_id" value="{row.id}"' in page
    assert re.search(r'name="sku_id" id="cart-sku" value="\d+"', page) and 'id="add-to-cart">Add to cart<' in page


def test_the_store_logo_and_best_sellers_are_in_the_store_card(client, scarf, db):
    merchant = scarf["merchant"]
    logo = h.image(merchant.id, purpose="store-logo")
    with tenant(merchant.id):
        db.session.add(StoreProfile(logo_file_id=logo.id))
        db.session.flush()
    h.product(merchant, scarf["leaf"], "Best hat", sales=500)
    page = client.get(f"/p/{scarf['row'].id}-cashmere-scarf", headers=EN).get_data(as_text=True)
    card = page.split('class="store-card card"')[1].split("</aside>")[0]
    assert f'src="/media/{logo.key}"' in card
    ranking = card.split('class="store-card-ranking"')[1]
    assert ranking.index("Best hat") < ranking.index("Cashmere scarf")


def test_related_products_are_others_of_the_same_category(client, scarf, make_merchant):
    other_store = make_merchant("Other")
    h.product(other_store, scarf["leaf"], "Silk scarf", sales=3)
    h.product(other_store, h.category("Kitchen", "kitchen"), "Pan")
    page = client.get(f"/p/{scarf['row'].id}-cashmere-scarf", headers=EN).get_data(as_text=True)
    related = page.split('class="related"')[1]
    assert "Silk scarf" in related and "Pan" not in related and "Cashmere scarf" not in related


def test_wrong_or_missing_slug_redirects_permanently_to_the_canonical_url(client, scarf):
    row = scarf["row"]
    for path in (f"/p/{row.id}-old-title", f"/p/{row.id}"):
        response = client.get(path, headers=EN)
        assert response.status_code == 301
        assert response.headers["Location"].endswith(f"/p/{row.id}-cashmere-scarf")
    assert client.get("/p/999999999-cashmere-scarf", headers=EN).status_code == 404
    assert client.get("/p/999999999", headers=EN).status_code == 404


def test_an_invisible_product_is_404_but_says_it_is_unavailable(client, scarf, db):
    row, merchant = scarf["row"], scarf["merchant"]
    with tenant(merchant.id):
        product = db.session.get(Product, row.id)
        product.on_shelf = False
        sync_public_product(product)
    response = client.get(f"/p/{row.id}-cashmere-scarf", headers=EN)
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Cashmere scarf" in page and "This product is not available at the moment." in page
    assert 'name="robots" content="noindex"' in page and "sku-data" not in page


def test_products_of_a_suspended_store_are_unavailable(client, scarf, db):
    merchant = scarf["merchant"]
    merchant.status = "suspended"
    resync_store(merchant.id)
    response = client.get(f"/p/{scarf['row'].id}-cashmere-scarf", headers=EN)
    assert response.status_code == 404 and "not available" in response.get_data(as_text=True)


def test_out_of_stock_disables_buying_and_offers_notify_me(client, scarf, db, make_user):
    row, merchant = scarf["row"], scarf["merchant"]
    with tenant(merchant.id):
        product = db.session.get(Product, row.id)
        for sku in product.skus:
            sku.stock = 0
        sync_public_product(product)
    page = client.get(f"/p/{row.id}-cashmere-scarf", headers=EN).get_data(as_text=True)
    assert all(s["stock"] == 0 for s in _sku_json(page))
    assert '<span id="sku-stock" class="out-of-stock">Out of stock</span>' in page
    assert re.search(r'<input id="quantity"[^>]* disabled>', page)
    assert '<div class="restock" id="restock">' in page  # shown, not hidden
    assert f"/account/login?next=/p/{row.id}-cashmere-scarf" in page  # visitors are asked to log in
    assert "notify-me" not in page

    user = make_user("buyer01")
    login(client, user.username)
    page = client.get(f"/p/{row.id}-cashmere-scarf", headers=EN).get_data(as_text=True)
    form = page.split('id="restock-form"')[1].split("</form>")[0]
    assert f'action="/p/{row.id}/notify-me"' in form
    first_sku = _sku_json(page)[0]["id"]
    assert f'name="sku_id" id="restock-sku" value="{first_sku}"' in form and 'name="csrf_token"' in form


def test_in_stock_product_hides_the_restock_box(client, scarf):
    page = client.get(f"/p/{scarf['row'].id}-cashmere-scarf", headers=EN).get_data(as_text=True)
    assert '<div class="restock" id="restock" hidden>' in page
    assert not re.search(r'<input id="quantity"[^>]* disabled>', page)


def test_viewing_records_history_for_logged_in_shoppers_only(client, scarf, db, make_user):
    row = scarf["row"]
    client.get(f"/p/{row.id}-cashmere-scarf", headers=EN)
    assert db.session.scalars(select(BrowsingHistory)).all() == []
    user = make_user("viewer01")
    login(client, user.username)
    client.get(f"/p/{row.id}-cashmere-scarf", headers=EN)
    first = db.session.scalar(select(BrowsingHistory.viewed_at).where(BrowsingHistory.user_id == user.id))
    client.get(f"/p/{row.id}-cashmere-scarf", headers=EN)
    rows = db.session.execute(
        select(BrowsingHistory.product_id, BrowsingHistory.viewed_at).where(BrowsingHistory.user_id == user.id)
    ).all()
    assert len(rows) == 1 and rows[0].product_id == row.id and rows[0].viewed_at >= first


def test_sku_json_cannot_break_out_of_its_script_tag(client, db, make_merchant):
    leaf = h.category("Misc", "misc")
    merchant = make_merchant("Odd Store")
    row = h.product(
        merchant,
        leaf,
        "Odd",
        skus=[Sku(spec_values={"Style": "</script><b>x"}, spec_key="Style:x", price_cents=100, stock=1)],
        specs=[{"name": "Style", "values": ["</script><b>x"]}],
    )
    page = client.get(f"/p/{row.id}-{row.slug}", headers=EN).get_data(as_text=True)
    blob = page.split('id="sku-data">')[1].split("</script>")[0]
    assert "<" not in blob and json.loads(blob)[0]["specs"]["Style"] == "</script><b>x"
    assert html_lib.escape("</script><b>x") in page  # the button text is escaped


def test_store_categories_of_the_card_are_only_visible_ones(client, scarf, db):
    with tenant(scarf["merchant"].id):
        db.session.add(StoreCategory(name="Secret", is_visible=False))
        db.session.flush()
    page = client.get(f"/p/{scarf['row'].id}-cashmere-scarf", headers=EN).get_data(as_text=True)
    assert "Winter" in page and "Secret" not in page


def test_a_shopper_waiting_for_a_sku_sees_it_and_can_cancel(client, scarf, db, make_user):
    from mall.catalog.restock import register_restock

    row, merchant = scarf["row"], scarf["merchant"]
    user = make_user("waiter01")
    with tenant(merchant.id):
        product = db.session.get(Product, row.id)
        for sku in product.skus:
            sku.stock = 0
        sync_public_product(product)
        register_restock(user.id, product.skus[0].id)
    login(client, user.username)
    page = client.get(f"/p/{row.id}-cashmere-scarf", headers=EN).get_data(as_text=True)
    skus = _sku_json(page)
    assert [s["waiting"] for s in skus] == [True, False, False]
    waiting = page.split('id="restock-waiting"')[1].split("</form>")[0]
    assert f'action="/p/{row.id}/notify-me/cancel"' in waiting and "We will tell you" in waiting
    assert f'value="{skus[0]["id"]}"' in waiting
    assert re.search(r'<form id="restock-form"[^>]* hidden>', page)  # already registered for the selected SKU


# --- shared fragments (store card, breadcrumb, related products) -------------------------------------


def test_related_cards_are_shared_by_a_category_but_never_show_the_page_itself(client, scarf, make_merchant):
    other_store = make_merchant("Other")
    silk = h.product(other_store, scarf["leaf"], "Silk scarf", slug="silk-scarf", sales=3)
    first = client.get(f"/p/{scarf['row'].id}-cashmere-scarf", headers=EN).get_data(as_text=True)
    second = client.get(f"/p/{silk.id}-silk-scarf", headers=EN).get_data(as_text=True)  # from the cached cards
    assert "Silk scarf" in first.split('class="related"')[1]
    related = second.split('class="related"')[1]
    assert "Cashmere scarf" in related and "Silk scarf" not in related
    # A newly published product of the category retires the cached cards at once.
    h.product(other_store, scarf["leaf"], "Wool scarf", sales=1)
    again = client.get(f"/p/{scarf['row'].id}-cashmere-scarf", headers=EN).get_data(as_text=True)
    assert "Wool scarf" in again.split('class="related"')[1]


def test_the_store_card_follows_the_store_settings(client, db, make_user, make_merchant):
    from mall.merchants.settings import update_store_profile

    owner = make_user("cardowner")
    merchant = make_merchant("Tea House", slug="tea-house", owner=owner)
    row = h.product(merchant, h.category("Tea", "tea"), "Green tea", slug="green-tea")
    before = client.get(f"/p/{row.id}-green-tea", headers=EN).get_data(as_text=True)
    assert "021-12345678" not in before
    with tenant(merchant.id):
        update_store_profile(owner, {"service_phone": "021-12345678"})
    after = client.get(f"/p/{row.id}-green-tea", headers=EN).get_data(as_text=True)
    card = after.split('class="store-card card"')[1].split("</aside>")[0]
    assert "021-12345678" in card


def test_a_product_page_is_correct_with_the_fragment_cache_off(app, client, scarf, make_merchant):
    app.config["MALL_FRAGMENT_CACHE_SECONDS"] = 0
    try:
        h.product(make_merchant("Other"), scarf["leaf"], "Silk scarf", sales=3)
        page = client.get(f"/p/{scarf['row'].id}-cashmere-scarf", headers=EN).get_data(as_text=True)
    finally:
        app.config["MALL_FRAGMENT_CACHE_SECONDS"] = 300
    assert "Silk scarf" in page.split('class="related"')[1]
    assert "Wool House" in page.split('class="store-card card"')[1] and 'class="breadcrumb"' in page


def test_an_anonymous_page_reads_outside_a_transaction_and_the_pool_gets_its_transactions_back(
    app, committed_db, make_merchant
):
    """An anonymous product page only reads: no BEGIN/ROLLBACK round trips (``autocommit_reads``);
    the next user of the pooled connection is in transaction mode again, and writing is refused."""
    from sqlalchemy import event, insert

    from mall.extensions import autocommit_reads

    db = committed_db
    leaf = h.category("Scarves", "scarves")
    merchant = make_merchant("Wool House", slug="wool-house")
    product_id = h.product(merchant, leaf, "Cashmere scarf", slug="cashmere-scarf", images=2).id
    db.session.commit()
    db.session.remove()
    sent = []

    def spy(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement.split()[0], conn.connection.dbapi_connection.autocommit))

    event.listen(db.engine, "before_cursor_execute", spy)
    try:
        response = app.test_client().get(f"/p/{product_id}-cashmere-scarf")
    finally:
        event.remove(db.engine, "before_cursor_execute", spy)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Cashmere scarf" in page and page.count('class="gallery-thumbs"') == 1
    assert sent and all(autocommit for _verb, autocommit in sent)
    with db.engine.connect() as conn:
        assert conn.connection.dbapi_connection.autocommit is False
    with app.test_request_context("/"):
        autocommit_reads()
        with pytest.raises(RuntimeError, match="only reads"):
            db.session.execute(insert(BrowsingHistory).values(user_id=1, product_id=product_id))
        db.session.remove()
    assert db.session.scalar(select(BrowsingHistory.id)) is None
