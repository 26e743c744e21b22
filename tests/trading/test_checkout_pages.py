"""The checkout and order pages: the flow from cart to placed orders, double submits, changed
totals, cancelling, and one buyer never seeing another's orders."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from mall.trading.models import Checkout, Order
from tests.conftest import login
from tests.trading.helpers import Mall, shopper, stock


@pytest.fixture()
def mall(db, make_merchant):
    return Mall(make_merchant)


def _form(page: str) -> dict:
    fields = dict(re.findall(r'<input type="hidden" name="(csrf_token|key|total_cents)" value="([^"]*)"', page))
    address = re.search(r'name="address_id" value="(\d+)" checked', page)
    if address:
        fields["address_id"] = address.group(1)
    return fields


def test_from_cart_to_placed_orders(client, db, make_user, mall):
    user = shopper(make_user, "checkout_user1")
    mall.fill_cart(user.id, (mall.green, 2), (mall.cup, 1))
    login(client, user.username)
    assert 'id="go-checkout"' in client.get("/cart").get_data(as_text=True)
    page = client.get("/checkout").get_data(as_text=True)
    assert "Tea House" in page and "Pottery" in page and re.search(r'id="checkout-total">¥100.00<', page)
    form = _form(page)
    # Choosing pick-up at Pottery and updating the totals keeps the same checkout key.
    updated = client.post(
        "/checkout", data={**form, f"delivery-{mall.pottery.id}": "pickup", "action": "update"}
    ).get_data(as_text=True)
    assert _form(updated)["key"] == form["key"] and 'value="pickup" checked' in updated
    data = {**form, f"delivery-{mall.pottery.id}": "pickup", f"note-{mall.pottery.id}": "After 5pm", "action": "place"}
    placed = client.post("/checkout", data=data)
    assert placed.status_code == 302 and "/checkouts/" in placed.headers["Location"]
    again = client.post("/checkout", data=data)  # the double click
    assert again.headers["Location"] == placed.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Order)) == 2
    summary = client.get(placed.headers["Location"]).get_data(as_text=True)
    assert "Your orders are placed" in summary and "¥100.00" in summary
    orders = client.get("/orders?tab=unpaid").get_data(as_text=True)
    assert orders.count('class="card order-row"') == 2 and "Awaiting payment (2)" in orders
    pottery = db.session.scalar(select(Order).where(Order.merchant_id == mall.pottery.id))
    detail = client.get(f"/orders/{pottery.id}").get_data(as_text=True)
    assert "8 Clay Lane" in detail and "After 5pm" in detail and "Tea cup" in detail


def test_a_changed_price_shows_the_new_total_and_places_nothing(client, db, make_user, mall):
    user = shopper(make_user, "checkout_user2")
    mall.fill_cart(user.id, (mall.green, 1))
    login(client, user.username)
    form = _form(client.get("/checkout").get_data(as_text=True))
    response = client.post("/checkout", data={**form, "total_cents": "100", "action": "place"})
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and "Prices or fees changed" in page and "¥49.00" in page
    assert db.session.scalar(select(func.count()).select_from(Checkout)) == 0
    assert stock(mall.tea_house, mall.green) == 10


def test_cancelling_from_the_order_page(client, db, make_user, mall):
    user = shopper(make_user, "checkout_user3")
    mall.fill_cart(user.id, (mall.green, 2))
    login(client, user.username)
    form = _form(client.get("/checkout").get_data(as_text=True))
    client.post("/checkout", data={**form, "action": "place"})
    order = db.session.scalar(select(Order))
    detail = client.get(f"/orders/{order.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', detail).group(1)
    response = client.post(f"/orders/{order.id}/cancel", data={"csrf_token": token}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "cancelled. Its items are back in your cart." in page and 'id="order-status">Cancelled<' in page
    assert stock(mall.tea_house, mall.green) == 10
    assert "Green tea" in client.get("/cart").get_data(as_text=True)


def test_checkout_needs_selected_items_and_a_login(client, db, make_user, mall):
    assert client.get("/checkout").status_code == 302  # log in first
    login(client, shopper(make_user, "checkout_user4").username)
    response = client.get("/checkout", follow_redirects=True)
    assert "Select the items you want to buy in your cart first." in response.get_data(as_text=True)


def test_another_buyers_orders_are_404(client, db, make_user, mall):
    from mall.trading import checkout as checkouts

    owner = shopper(make_user, "checkout_owner")
    checkout = checkouts.place_order(owner.id, mall.fill_cart(owner.id, (mall.cup, 1)), idempotency_key="k" * 20)
    login(client, shopper(make_user, "checkout_thief").username)
    order = checkout.orders[0]
    assert client.get(f"/orders/{order.id}").status_code == 404
    assert client.get(f"/checkouts/{checkout.id}").status_code == 404
    page = client.get("/orders").get_data(as_text=True)
    assert order.number not in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/cart").get_data(as_text=True))
    client.post(f"/orders/{order.id}/cancel", data={"csrf_token": token.group(1) if token else ""})
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "awaiting_payment"
