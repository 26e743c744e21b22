"""The cart across stores: adding with stock and availability rules, quantities, selection,
grouping by store, live prices, the guest cart and its merge at log-in, and isolation."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from mall.catalog.models import Product, Sku
from mall.catalog.publishing import sync_public_product
from mall.errors import NotFound
from mall.tenancy import tenant
from mall.trading import cart as carts
from mall.trading.models import Cart, CartLine
from tests.catalog import browse_helpers as h
from tests.conftest import csrf_token, login

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture()
def shop(db, make_merchant):
    leaf = h.category("Tea", "tea")
    tea_house, pottery = make_merchant("Tea House", slug="tea-house"), make_merchant("Pottery", slug="pottery")
    green = h.product(tea_house, leaf, "Green tea", slug="green-tea", price=3900, stock=10)
    black = h.product(tea_house, leaf, "Black tea", slug="black-tea", price=4500, stock=2)
    cup = h.product(pottery, leaf, "Tea cup", slug="tea-cup", price=1200, stock=50)
    return {"tea_house": tea_house, "pottery": pottery, "green": green, "black": black, "cup": cup}


def sku_of(merchant, product_row) -> Sku:
    with tenant(merchant.id):
        return h.db.session.scalars(select(Sku).where(Sku.product_id == product_row.id)).first()


def add(cart, shop, key: str, quantity=1):
    merchant = shop["tea_house"] if key in ("green", "black") else shop["pottery"]
    return carts.add_to_cart(cart, shop[key].id, sku_of(merchant, shop[key]).id, quantity)


def test_lines_of_two_stores_are_grouped_by_store_with_live_totals(db, make_user, shop):
    cart = carts.get_or_create_cart(user_id=make_user().id)
    add(cart, shop, "green", 2)
    add(cart, shop, "cup", 3)
    add(cart, shop, "green", 1)  # the same SKU adds up on its line
    view = carts.view_cart(cart)
    assert [store.merchant.name for store in view.stores] == ["Tea House", "Pottery"]
    assert [(i.title, i.line.quantity, i.subtotal_cents) for i in view.items] == [
        ("Green tea", 3, 11700),
        ("Tea cup", 3, 3600),
    ]
    assert view.selected_total_cents == 15300 and view.count == 6 and carts.cart_count(cart) == 6
    assert view.stores[0].selected_total_cents == 11700


@pytest.mark.parametrize("quantity, message", [(0, "at least 1"), ("x", "at least 1"), (1000, "At most 999")])
def test_bad_quantities_are_refused(db, make_user, shop, quantity, message):
    cart = carts.get_or_create_cart(user_id=make_user().id)
    with pytest.raises(carts.CartError, match=message):
        add(cart, shop, "green", quantity)
    assert db.session.scalar(select(func.count()).select_from(CartLine)) == 0


def test_never_more_than_the_stock_in_the_cart(db, make_user, shop):
    cart = carts.get_or_create_cart(user_id=make_user().id)
    with pytest.raises(carts.CartError, match="Only 2 left"):
        add(cart, shop, "black", 3)
    add(cart, shop, "black", 2)
    with pytest.raises(carts.CartError, match="Only 2 left, and 2 are in your cart already"):
        add(cart, shop, "black", 1)
    line = carts.view_cart(cart).items[0].line
    with pytest.raises(carts.CartError, match="Only 2 left"):
        carts.set_quantity(cart, line.id, 5)
    assert carts.set_quantity(cart, line.id, 1).quantity == 1


def test_sold_out_hidden_or_foreign_skus_cannot_be_added(db, make_user, shop):
    cart = carts.get_or_create_cart(user_id=make_user().id)
    cup_sku = sku_of(shop["pottery"], shop["cup"])
    with pytest.raises(carts.CartError, match="Choose one of the product's options"):
        carts.add_to_cart(cart, shop["green"].id, cup_sku.id, 1)  # a SKU of another product and store
    with tenant(shop["tea_house"].id):
        product = db.session.get(Product, shop["black"].id)
        product.skus[0].stock = 0
        sync_public_product(product)
    with pytest.raises(carts.CartError, match="out of stock"):
        add(cart, shop, "black")
    shop["pottery"].status = "suspended"
    db.session.flush()
    with pytest.raises(carts.CartError, match="not available"):
        add(cart, shop, "cup")


def test_the_cart_says_what_changed_since_adding(db, make_user, shop):
    cart = carts.get_or_create_cart(user_id=make_user().id)
    add(cart, shop, "green", 4)
    add(cart, shop, "black", 2)
    add(cart, shop, "cup", 1)
    with tenant(shop["tea_house"].id):
        green = db.session.get(Product, shop["green"].id)
        green.skus[0].price_cents = 4200
        green.skus[0].stock = 3
        sync_public_product(green)
        black = db.session.get(Product, shop["black"].id)
        black.on_shelf = False
        sync_public_product(black)
    items = {item.title: item for item in carts.view_cart(cart).items}
    assert items["Green tea"].status == "short" and items["Green tea"].price_changed
    assert items["Green tea"].price_cents == 4200 and items["Green tea"].line.price_cents_added == 3900
    assert items["Black tea"].status == "unavailable" and items["Tea cup"].status == "ok"
    view = carts.view_cart(cart)
    assert view.selected_total_cents == 1200  # only what can be bought counts
    assert {item.title for item in view.problems} == {"Green tea", "Black tea"}


def test_selection_and_removal_touch_only_this_cart(db, make_user, shop):
    mine = carts.get_or_create_cart(user_id=make_user().id)
    theirs = carts.get_or_create_cart(user_id=make_user().id)
    green, cup = add(mine, shop, "green"), add(mine, shop, "cup")
    other = add(theirs, shop, "green")
    carts.select_lines(mine, [green.id], False)
    assert carts.view_cart(mine).selected_total_cents == 1200
    assert carts.remove_lines(mine, [other.id]) == 0  # another cart's line is not removed
    with pytest.raises(NotFound):
        carts.set_quantity(mine, other.id, 1)
    assert carts.remove_lines(mine, [green.id, cup.id]) == 2
    assert carts.view_cart(mine).items == [] and len(carts.view_cart(theirs).items) == 1


def test_a_guest_cart_joins_the_account_cart_at_log_in(db, make_user, shop):
    user = make_user()
    account = carts.get_or_create_cart(user_id=user.id)
    add(account, shop, "green", 1)
    guest = carts.get_or_create_cart(token="guest-token-1")
    add(guest, shop, "green", 2)
    add(guest, shop, "cup", 1)
    assert carts.merge_guest_cart("guest-token-1", user.id) == 2
    assert carts.find_cart(token="guest-token-1") is None
    assert [(i.title, i.line.quantity) for i in carts.view_cart(account).items] == [("Green tea", 3), ("Tea cup", 1)]
    assert carts.merge_guest_cart("no-such-token", user.id) == 0


# --- pages ------------------------------------------------------------------------------------------


def _form(page: str, product_id: int) -> dict:
    sku = re.search(r'name="sku_id" id="cart-sku" value="(\d+)"', page).group(1)
    return {"product_id": str(product_id), "sku_id": sku, "quantity": "2"}


def test_a_guest_adds_from_the_product_page_and_keeps_the_cart_after_logging_in(client, db, make_user, shop):
    page = client.get(f"/p/{shop['green'].id}-green-tea").get_data(as_text=True)
    assert 'id="add-to-cart"' in page and 'action="/cart/add"' in page
    response = client.post("/cart/add", data=_form(page, shop["green"].id))
    assert response.status_code == 302 and "mall_cart=" in response.headers["Set-Cookie"]
    cart_page = client.get("/cart").get_data(as_text=True)
    assert "Green tea" in cart_page and "¥78.00" in cart_page and "Tea House" in cart_page
    user = make_user("cart_user1")
    login(client, user.username)
    assert db.session.scalar(select(func.count()).select_from(Cart).where(Cart.token.is_not(None))) == 0
    assert client.get_cookie("mall_cart") is None
    account_page = client.get("/cart").get_data(as_text=True)
    assert "Green tea" in account_page and 'value="2"' in account_page
    client.post("/account/logout", data={"csrf_token": csrf_token(client, "/account")})
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)  # the account keeps it
    login(client, user.username)
    assert "Green tea" in client.get("/cart").get_data(as_text=True)


def test_adding_from_another_site_is_refused(client, db, shop):
    page = client.get(f"/p/{shop['green'].id}-green-tea").get_data(as_text=True)
    response = client.post("/cart/add", data=_form(page, shop["green"].id), headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(CartLine)) == 0


def test_too_many_is_refused_with_a_message_on_the_product_page(client, db, shop):
    page = client.get(f"/p/{shop['black'].id}-black-tea").get_data(as_text=True)
    form = {**_form(page, shop["black"].id), "quantity": "5"}
    response = client.post("/cart/add", data=form, follow_redirects=True)
    assert "Only 2 left." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(CartLine)) == 0


def test_quantity_selection_and_removal_through_the_cart_page(client, db, make_user, shop):
    user = make_user("cart_user2")
    cart = carts.get_or_create_cart(user_id=user.id)
    green, cup = add(cart, shop, "green"), add(cart, shop, "cup")
    login(client, user.username)
    token = csrf_token(client, "/cart")
    response = client.post(f"/cart/lines/{green.id}/quantity", data={"quantity": "11", "csrf_token": token})
    assert "Only 10 left." in client.get(response.headers["Location"]).get_data(as_text=True)
    client.post(f"/cart/lines/{green.id}/quantity", data={"quantity": "3", "csrf_token": token})
    client.post("/cart/selection", data={"line": [str(cup.id)], "action": "select", "csrf_token": token})
    page = client.get("/cart").get_data(as_text=True)
    assert re.search(r'id="cart-total">¥12.00<', page) and "1 item selected" in page
    client.post(f"/cart/lines/{cup.id}/remove", data={"csrf_token": token})
    db.session.expire_all()
    assert [(line.sku_id, line.quantity) for line in db.session.scalars(select(CartLine))] == [(green.sku_id, 3)]


def test_another_visitors_cart_lines_cannot_be_changed(client, db, make_user, shop):
    victim = carts.get_or_create_cart(user_id=make_user().id)
    line = add(victim, shop, "green", 2)
    login(client, make_user("cart_thief").username)
    token = csrf_token(client, "/cart")
    client.post(f"/cart/lines/{line.id}/quantity", data={"quantity": "1", "csrf_token": token})
    client.post(f"/cart/lines/{line.id}/remove", data={"csrf_token": token})
    client.post("/cart/selection", data={"line": [str(line.id)], "action": "remove", "csrf_token": token})
    db.session.expire_all()
    kept = db.session.get(CartLine, line.id)
    assert kept is not None and kept.quantity == 2
