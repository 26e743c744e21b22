"""Checkout: one checkout, one order per store, stock taken with conditional updates, idempotent
submits, totals that must match what the shopper saw, cancelling and closing unpaid orders."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from mall.catalog.models import StockMovement
from mall.notifications.models import SiteMessage
from mall.tenancy import tenant
from mall.trading import cart as carts
from mall.trading import checkout as checkouts
from mall.trading import orders as order_service
from mall.trading.models import Checkout, Order, OrderLine
from tests.jobs.helpers import work
from tests.trading.helpers import Mall, shopper, sku_id, stock

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture()
def mall(db, make_merchant):
    return Mall(make_merchant)


def key() -> str:
    return uuid.uuid4().hex


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_one_checkout_places_one_order_per_store_and_takes_the_stock(db, make_user, mall):
    user = shopper(make_user)
    cart = mall.fill_cart(user.id, (mall.green, 2), (mall.cup, 3))
    plan = checkouts.plan_checkout(user.id, cart, choices={mall.pottery.id: ("pickup", "Afternoon please")})
    assert [(s.merchant.name, s.goods_cents, s.shipping_cents) for s in plan.stores] == [
        ("Tea House", 7800, 1000),
        ("Pottery", 3600, 0),
    ]
    checkout = checkouts.place_order(
        user.id,
        cart,
        idempotency_key=key(),
        choices={mall.pottery.id: ("pickup", "Afternoon please")},
        expected_total_cents=12400,
    )
    assert checkout.total_cents == 12400 and checkout.status == "awaiting_payment"
    tea, pottery = sorted(checkout.orders, key=lambda o: o.merchant_id != mall.tea_house.id)
    assert (tea.delivery, tea.goods_cents, tea.shipping_cents, tea.total_cents) == ("express", 7800, 1000, 8800)
    assert tea.address["recipient"] == "Li Lei" and tea.item_count == 2 and tea.summary == "Green tea"
    assert (pottery.delivery, pottery.pickup_address, pottery.buyer_note) == (
        "pickup",
        "8 Clay Lane",
        "Afternoon please",
    )
    assert pottery.address is None and pottery.total_cents == 3600
    assert stock(mall.tea_house, mall.green) == 8 and stock(mall.pottery, mall.cup) == 47
    with tenant(mall.tea_house.id):
        lines = db.session.scalars(select(OrderLine)).all()
        movement = db.session.scalar(select(StockMovement).where(StockMovement.reason == "sale"))
    assert [(line.title, line.unit_price_cents, line.quantity, line.total_cents) for line in lines] == [
        ("Green tea", 3900, 2, 7800)
    ]
    assert movement.delta == -2 and movement.ref == f"order:{tea.number}"
    assert carts.view_cart(cart).items == []  # the bought lines left the cart


def test_free_shipping_from_the_store_threshold(db, make_user, mall):
    user = shopper(make_user)
    cart = mall.fill_cart(user.id, (mall.green, 3))  # ¥117 ≥ ¥100
    checkout = checkouts.place_order(user.id, cart, idempotency_key=key())
    assert checkout.orders[0].shipping_cents == 0 and checkout.total_cents == 11700


def test_submitting_the_same_checkout_twice_places_it_once(db, make_user, mall):
    user = shopper(make_user)
    cart = mall.fill_cart(user.id, (mall.green, 1), (mall.cup, 1))
    same = key()
    first = checkouts.place_order(user.id, cart, idempotency_key=same)
    mall.fill_cart(user.id, (mall.green, 1))  # something new in the cart meanwhile
    second = checkouts.place_order(user.id, cart, idempotency_key=same)
    assert second.id == first.id and count(db, Order) == 2 and count(db, Checkout) == 1
    assert stock(mall.tea_house, mall.green) == 9


def test_a_changed_total_places_nothing(db, make_user, mall):
    user = shopper(make_user)
    cart = mall.fill_cart(user.id, (mall.green, 1))
    with pytest.raises(checkouts.TotalChanged, match="Check the new total"):
        checkouts.place_order(user.id, cart, idempotency_key=key(), expected_total_cents=4900 - 1)
    db.session.rollback()  # as the view does


def test_a_changed_total_leaves_no_trace(app, committed_db, make_user, make_merchant):
    mall = Mall(make_merchant)
    user = shopper(make_user)
    cart = mall.fill_cart(user.id, (mall.green, 1))
    committed_db.session.commit()
    with pytest.raises(checkouts.TotalChanged):
        checkouts.place_order(user.id, cart, idempotency_key=key(), expected_total_cents=1)
    committed_db.session.rollback()
    assert count(committed_db, Checkout) == 0 and count(committed_db, Order) == 0
    assert stock(mall.tea_house, mall.green) == 10 and len(carts.view_cart(cart).items) == 1


@pytest.mark.parametrize(
    "setup, message",
    [
        ("no_address", "Choose a delivery address"),
        ("pickup_not_offered", "does not offer this delivery"),
        ("nothing_selected", "Select the items"),
        ("too_few_left", "cannot be bought as they are"),
        ("bad_key", "form expired"),
    ],
)
def test_what_cannot_be_placed(db, make_user, mall, setup, message):
    user = shopper(make_user, address=setup != "no_address")
    cart = mall.fill_cart(user.id, (mall.black, 2))
    choices, idempotency = None, key()
    if setup == "pickup_not_offered":
        choices = {mall.tea_house.id: ("pickup", "")}
    elif setup == "nothing_selected":
        carts.select_lines(cart, None, False)
    elif setup == "too_few_left":
        with tenant(mall.tea_house.id):
            from mall.catalog.inventory import adjust_stock

            adjust_stock(sku_id(mall.tea_house, mall.black), -1, "adjustment", note="breakage")
    elif setup == "bad_key":
        idempotency = "short"
    with pytest.raises(checkouts.CheckoutError, match=message):
        checkouts.place_order(user.id, cart, idempotency_key=idempotency, choices=choices)


def test_cancelling_an_unpaid_order_returns_stock_and_cart_lines(db, make_user, mall):
    user = shopper(make_user)
    cart = mall.fill_cart(user.id, (mall.green, 2), (mall.cup, 1))
    checkout = checkouts.place_order(user.id, cart, idempotency_key=key())
    tea = next(o for o in checkout.orders if o.merchant_id == mall.tea_house.id)
    order_service.cancel_unpaid_order(user.id, tea.id, "Changed my mind")
    assert tea.status == "cancelled" and tea.close_reason == "Changed my mind" and tea.closed_at is not None
    assert stock(mall.tea_house, mall.green) == 10 and checkout.status == "awaiting_payment"  # Pottery's is open
    assert [(i.title, i.line.quantity) for i in carts.view_cart(cart).items] == [("Green tea", 2)]
    with pytest.raises(order_service.IllegalTransition):
        order_service.cancel_unpaid_order(user.id, tea.id)
    with pytest.raises(order_service.IllegalTransition, match="cannot become"):
        order_service.transition(tea, "paid")
    pottery = next(o for o in checkout.orders if o.merchant_id == mall.pottery.id)
    order_service.cancel_unpaid_order(user.id, pottery.id)
    assert checkout.status == "closed"


def test_another_buyers_order_is_not_found(db, make_user, mall):
    owner, other = shopper(make_user), shopper(make_user)
    checkout = checkouts.place_order(owner.id, mall.fill_cart(owner.id, (mall.cup, 1)), idempotency_key=key())
    with pytest.raises(order_service.NotFound):
        order_service.cancel_unpaid_order(other.id, checkout.orders[0].id)
    with pytest.raises(order_service.NotFound):
        order_service.get_buyer_checkout(other.id, checkout.id)
    assert checkout.orders[0].status == "awaiting_payment"


def test_unpaid_orders_close_after_the_time_to_pay(app, committed_db, make_user, make_merchant):
    mall = Mall(make_merchant)
    user = shopper(make_user)
    late = checkouts.place_order(user.id, mall.fill_cart(user.id, (mall.green, 3)), idempotency_key=key())
    fresh = checkouts.place_order(user.id, mall.fill_cart(user.id, (mall.cup, 1)), idempotency_key=key())
    late.pay_by = datetime.now(UTC) - timedelta(minutes=1)
    committed_db.session.commit()
    assert order_service.close_unpaid_orders() == 1
    committed_db.session.expire_all()
    assert committed_db.session.get(Order, late.orders[0].id).status == "closed"
    assert committed_db.session.get(Order, fresh.orders[0].id).status == "awaiting_payment"
    assert committed_db.session.get(Checkout, late.id).status == "closed"
    work(app)  # the notification job
    subjects = committed_db.session.scalars(select(SiteMessage.subject).where(SiteMessage.user_id == user.id)).all()
    assert any(late.orders[0].number in subject for subject in subjects)  # the buyer is told (in their language)
    assert stock(mall.tea_house, mall.green) == 10
    assert order_service.close_unpaid_orders() == 0  # nothing left to close: running again changes nothing


def test_parallel_buyers_never_oversell_the_last_units(app, committed_db, make_user, make_merchant):
    mall = Mall(make_merchant)  # Black tea: 2 in stock
    buyers = [shopper(make_user) for _ in range(6)]
    for buyer in buyers:
        mall.fill_cart(buyer.id, (mall.black, 1))
    committed_db.session.commit()
    results: dict[int, str] = {}
    barrier = threading.Barrier(len(buyers))

    def buy(user_id: int) -> None:
        with app.app_context(), force_locale("en"):
            try:
                cart = carts.find_cart(user_id=user_id)
                barrier.wait(10)
                checkouts.place_order(user_id, cart, idempotency_key=key())
                committed_db.session.commit()
                results[user_id] = "bought"
            except checkouts.CheckoutError as error:
                committed_db.session.rollback()
                results[user_id] = str(error.message)
            except Exception as error:  # reported below
                committed_db.session.rollback()
                results[user_id] = f"crash: {error!r}"

    threads = [threading.Thread(target=buy, args=(b.id,)) for b in buyers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    outcomes = sorted(results.values())
    assert outcomes.count("bought") == 2, outcomes
    assert all("only 0 left" in o or "cannot be bought" in o for o in outcomes if o != "bought"), outcomes
    assert stock(mall.tea_house, mall.black) == 0 and count(committed_db, Order) == 2
