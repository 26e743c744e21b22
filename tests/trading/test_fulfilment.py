"""Fulfilment: shipping whole or in parcels, pick-up hand-over, tracking, receipt (by the buyer or
automatically), completion moving the store's money to available, the merchant's order pages and
export, and one store never touching another's orders."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from mall.errors import NotFound, PermissionDenied
from mall.ledger.services import check_ledger, merchant_account, normal_balance, platform_account
from mall.notifications.models import SiteMessage
from mall.payments import sandbox
from mall.payments import services as payments
from mall.tenancy import tenant
from mall.trading import checkout as checkouts
from mall.trading import fulfilment
from mall.trading.models import Order, OrderLine
from mall.trading.orders import IllegalTransition
from tests.jobs.helpers import work
from tests.merchant.helpers import add_staff_member, area_client
from tests.trading.helpers import Mall, shopper

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture()
def mall(db, make_merchant):
    return Mall(make_merchant)


def owner_of(merchant):
    from mall.extensions import db
    from mall.identity.models import User
    from mall.merchants.models import StaffMember

    with tenant(merchant.id):
        user_id = db.session.scalar(select(StaffMember.user_id).where(StaffMember.role_code == "owner"))
    return db.session.get(User, user_id)


def paid_order(app, db, mall, user, *items, choices=None) -> list[Order]:
    checkout = checkouts.place_order(
        user.id, mall.fill_cart(user.id, *items), idempotency_key=uuid.uuid4().hex, choices=choices
    )
    with app.test_request_context():
        payment, _url = payments.start_payment(user.id, checkout.id, "sandbox")
    sandbox.decide(payment.provider_ref, "pay")
    db.session.commit()
    work(app)
    return sorted(checkout.orders, key=lambda o: o.id)


def test_shipping_in_two_parcels(app, db, make_user, mall):
    user = shopper(make_user)
    (order,) = paid_order(app, db, mall, user, (mall.green, 3), (mall.black, 1))
    owner = owner_of(mall.tea_house)
    with tenant(mall.tea_house.id):
        green, black = sorted(db.session.scalars(select(OrderLine)), key=lambda line: line.title != "Green tea")
        fulfilment.ship(owner, order.id, "SF Express", "sf1234567", {green.id: 2})
    assert order.status == "partially_shipped"
    with pytest.raises(fulfilment.FulfilmentError, match="at most 1 left to ship"), tenant(mall.tea_house.id):
        fulfilment.ship(owner, order.id, "SF Express", "SF7654321", {green.id: 2})
    with tenant(mall.tea_house.id):
        fulfilment.ship(owner, order.id, "YTO", "YT0001", None)  # whatever is left
    assert order.status == "shipped" and order.shipped_at is not None
    parcels = fulfilment.shipments_of(order)
    assert [(p.tracking_number, [(line.order_line_id, line.quantity) for line in p.lines]) for p in parcels] == [
        ("SF1234567", [(green.id, 2)]),
        ("YT0001", sorted([(green.id, 1), (black.id, 1)])),
    ]
    with pytest.raises(IllegalTransition), tenant(mall.tea_house.id):
        fulfilment.ship(owner, order.id, "YTO", "YT0002")


@pytest.mark.parametrize(
    "carrier, tracking, message",
    [
        ("", "SF123456", "Give the carrier"),
        ("SF", "x", "A tracking number has"),
        ("SF", "SF 12", "A tracking number has"),
    ],
)
def test_bad_shipping_details_are_refused(app, db, make_user, mall, carrier, tracking, message):
    (order,) = paid_order(app, db, mall, shopper(make_user), (mall.green, 1))
    with pytest.raises(fulfilment.FulfilmentError, match=message), tenant(mall.tea_house.id):
        fulfilment.ship(owner_of(mall.tea_house), order.id, carrier, tracking)
    assert order.status == "paid"


def test_pick_up_is_handed_over_against_the_code(app, db, make_user, mall):
    (order,) = paid_order(app, db, mall, shopper(make_user), (mall.cup, 2), choices={mall.pottery.id: ("pickup", "")})
    owner = owner_of(mall.pottery)
    with tenant(mall.pottery.id):
        with pytest.raises(fulfilment.FulfilmentError, match="not the order's pick-up code"):
            fulfilment.hand_over(owner, order.id, "000000" if order.pickup_code != "000000" else "111111")
        with pytest.raises(fulfilment.FulfilmentError, match="handed over in the store"):
            fulfilment.ship(owner, order.id, "SF", "SF123456")
        fulfilment.hand_over(owner, order.id, order.pickup_code)
    assert order.status == "received" and order.received_at is not None


def test_receipt_then_completion_moves_the_money_to_available(app, db, make_user, mall):
    user = shopper(make_user)
    (order,) = paid_order(app, db, mall, user, (mall.green, 2))  # ¥78 + ¥10 shipping, commission 5 % of ¥78
    with tenant(mall.tea_house.id):
        fulfilment.ship(owner_of(mall.tea_house), order.id, "SF", "SF123456")
    with pytest.raises(NotFound):
        fulfilment.confirm_receipt(shopper(make_user).id, order.id)  # not this buyer's order
    fulfilment.confirm_receipt(user.id, order.id)
    assert order.status == "received"
    with pytest.raises(IllegalTransition):
        fulfilment.confirm_receipt(user.id, order.id)
    pending = merchant_account(mall.tea_house.id, "pending")
    assert normal_balance(pending) == 8800 - 390
    fulfilment.complete(order)
    assert order.status == "completed"
    assert normal_balance(pending) == 0
    assert normal_balance(merchant_account(mall.tea_house.id, "available")) == 8800 - 390
    assert normal_balance(platform_account("commission_revenue")) == 390
    assert normal_balance(platform_account("commission_deferred")) == 0 and check_ledger().ok


def test_periodic_jobs_confirm_receipt_and_complete_in_time(app, committed_db, make_user, make_merchant):
    mall = Mall(make_merchant)
    user = shopper(make_user)
    orders = [paid_order(app, committed_db, mall, user, (mall.green, 1))[0] for _ in range(2)]
    owner = owner_of(mall.tea_house)
    with tenant(mall.tea_house.id):
        for order in orders:
            fulfilment.ship(owner, order.id, "SF", "SF123456")
    orders[0].shipped_at = datetime.now(UTC) - timedelta(days=16)
    committed_db.session.commit()
    assert fulfilment.confirm_overdue_receipts() == 1
    committed_db.session.expire_all()
    first, second = (committed_db.session.get(Order, o.id) for o in orders)
    assert first.status == "received" and second.status == "shipped"
    assert fulfilment.complete_due_orders() == 0  # the after-sales window is still open
    first.received_at = datetime.now(UTC) - timedelta(days=8)
    committed_db.session.commit()
    assert fulfilment.complete_due_orders() == 1
    committed_db.session.expire_all()
    assert committed_db.session.get(Order, first.id).status == "completed" and check_ledger().ok
    work(app)  # the notification jobs
    told = {
        (m.user_id, first.number in m.subject) for m in committed_db.session.scalars(select(SiteMessage))
    }  # the buyer (received automatically) and the store's finance staff (money available)
    assert (user.id, True) in told and (owner.id, True) in told
    assert fulfilment.complete_due_orders() == 0


def test_staff_without_orders_permission_cannot_ship(app, db, make_user, mall):
    (order,) = paid_order(app, db, mall, shopper(make_user), (mall.green, 1))
    clerk = make_user()
    add_staff_member(db, mall.tea_house, clerk, "products")
    with pytest.raises(PermissionDenied), tenant(mall.tea_house.id):
        fulfilment.ship(clerk, order.id, "SF", "SF123456")
    assert order.status == "paid"


def test_the_merchant_order_pages_ship_and_export(app, db, make_user, mall):
    (order,) = paid_order(app, db, mall, shopper(make_user), (mall.green, 2))
    client = area_client(app, owner_of(mall.tea_house), "merchant")
    listing = client.get("/merchant/orders?status=to_ship").get_data(as_text=True)
    assert order.number in listing and "Awaiting shipment" in listing
    assert order.number in client.get(f"/merchant/orders?q={order.number}").get_data(as_text=True)
    detail = client.get(f"/merchant/orders/{order.id}").get_data(as_text=True)
    assert "Green tea" in detail and "Li Lei" in detail and "¥3.90 (5.00 %)" in detail
    slip = client.get(f"/merchant/orders/{order.id}/packing-slip").get_data(as_text=True)
    assert "@media print" in slip and "1 Nanjing East Road" in slip
    token = re.search(r'name="csrf_token" value="([^"]+)"', detail).group(1)
    shipped = client.post(
        f"/merchant/orders/{order.id}/ship",
        data={"csrf_token": token, "carrier": "SF Express", "tracking_number": "SF998877"},
        follow_redirects=True,
    )
    assert 'id="order-status">Shipped<' in shipped.get_data(as_text=True)
    shipment = fulfilment.shipments_of(order)[0]
    client.post(
        f"/merchant/orders/{order.id}/shipments/{shipment.id}/events",
        data={"csrf_token": token, "description": "Left the Shanghai hub", "location": "Shanghai"},
    )
    rows = list(
        csv.reader(io.StringIO(client.get("/merchant/orders/export.csv").get_data(as_text=True).lstrip("\ufeff")))
    )
    assert rows[0][0] == "order_number" and rows[1][0] == order.number and rows[1][7] == "88.00"
    workbook = load_workbook(io.BytesIO(client.get("/merchant/orders/export.xlsx").data))
    assert list(workbook.active.iter_rows(values_only=True))[1][0] == order.number


def test_the_buyer_sees_the_timeline_and_confirms(app, db, client, make_user, mall):
    from tests.conftest import login

    user = shopper(make_user, "buyer_tl")
    (order,) = paid_order(app, db, mall, user, (mall.green, 1))
    owner = owner_of(mall.tea_house)
    with tenant(mall.tea_house.id):
        shipment = fulfilment.ship(owner, order.id, "SF", "SF123456")
        fulfilment.add_tracking_event(owner, order.id, shipment.id, "Out for delivery", "Huangpu")
    db.session.commit()
    login(client, user.username)
    page = client.get(f"/orders/{order.id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "SF123456" in page and "Out for delivery (Huangpu)" in page and 'id="confirm-receipt"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    done = client.post(
        f"/orders/{order.id}/confirm",
        data={"csrf_token": token},
        follow_redirects=True,
        headers={"Accept-Language": "en"},
    )
    assert 'id="order-status">Received<' in done.get_data(as_text=True)


def test_another_stores_orders_are_404_in_the_merchant_centre(app, db, make_user, mall):
    (order,) = paid_order(app, db, mall, shopper(make_user), (mall.green, 1))
    other = area_client(app, owner_of(mall.pottery), "merchant")
    assert other.get(f"/merchant/orders/{order.id}").status_code == 404
    assert other.get(f"/merchant/orders/{order.id}/packing-slip").status_code == 404
    detail = other.get("/merchant/orders").get_data(as_text=True)
    assert order.number not in detail
    token = re.search(r'name="csrf_token" value="([^"]+)"', detail).group(1)
    other.post(
        f"/merchant/orders/{order.id}/ship", data={"csrf_token": token, "carrier": "SF", "tracking_number": "SF123456"}
    )
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "paid"
    assert order.number not in other.get("/merchant/orders/export.csv").get_data(as_text=True)


def test_the_store_changes_the_price_before_payment(app, db, make_user, mall):
    user = shopper(make_user)
    checkout = checkouts.place_order(
        user.id, mall.fill_cart(user.id, (mall.green, 2), (mall.cup, 1)), idempotency_key=uuid.uuid4().hex
    )
    tea = next(o for o in checkout.orders if o.merchant_id == mall.tea_house.id)
    owner = owner_of(mall.tea_house)
    with tenant(mall.tea_house.id):
        with pytest.raises(fulfilment.FulfilmentError, match="below"):
            fulfilment.change_price(owner, tea.id, "0", "100")
        fulfilment.change_price(owner, tea.id, "0", "8.00")  # free shipping and ¥8 off
    assert (tea.shipping_cents, tea.discount_cents, tea.total_cents) == (0, 800, 7000)
    assert checkout.total_cents == 7000 + 1200
    with app.test_request_context():
        payment, _url = payments.start_payment(user.id, checkout.id, "sandbox")
    assert payment.amount_cents == 8200
    sandbox.decide(payment.provider_ref, "pay")
    db.session.commit()
    work(app)
    assert tea.status == "paid"
    assert normal_balance(merchant_account(mall.tea_house.id, "pending")) == 7000 - 390  # the store funds the discount
    with tenant(mall.tea_house.id), pytest.raises(IllegalTransition, match="before the buyer pays"):
        fulfilment.change_price(owner, tea.id, "0", "1")


def test_the_store_note_stays_with_the_store(app, db, client, make_user, mall):
    from tests.conftest import login

    user = shopper(make_user, "note_buyer")
    (order,) = paid_order(app, db, mall, user, (mall.green, 1))
    with tenant(mall.tea_house.id):
        fulfilment.set_merchant_note(owner_of(mall.tea_house), order.id, "Fragile: double box")
    db.session.commit()
    merchant = area_client(app, owner_of(mall.tea_house), "merchant")
    assert "Fragile: double box" in merchant.get(f"/merchant/orders/{order.id}").get_data(as_text=True)
    login(client, user.username)
    assert "Fragile" not in client.get(f"/orders/{order.id}").get_data(as_text=True)


def test_the_carrier_webhook_adds_each_event_once(app, db, client, make_user, mall):
    (order,) = paid_order(app, db, mall, shopper(make_user), (mall.green, 1))
    with tenant(mall.tea_house.id):
        shipment = fulfilment.ship(owner_of(mall.tea_house), order.id, "SF", "SF123456")
    db.session.commit()
    with app.test_request_context():
        url = fulfilment.tracking_webhook_url(mall.tea_house.id, shipment.id)
    path = url.split("://", 1)[1].split("/", 1)[1]
    report = {
        "events": [
            {"id": "e1", "time": "2026-11-30T08:00:00+08:00", "description": "Picked up", "location": "Shanghai"},
            {"id": "e2", "time": "2026-11-30T20:00:00+08:00", "description": "Arrived at the Beijing hub"},
        ]
    }
    assert client.post(f"/{path}", json=report).get_json() == {"added": 2}
    assert client.post(f"/{path}", json=report).get_json() == {"added": 0}  # delivered again
    assert client.post(f"/{path[:-4]}0000", json=report).status_code == 403  # a forged token
    assert client.post(f"/{path}", json={"events": [{"id": "e3"}]}).status_code == 400
    (parcel,) = fulfilment.shipments_of(order)
    assert [(e.description, e.source) for e in parcel.events] == [
        ("Picked up", "carrier"),
        ("Arrived at the Beijing hub", "carrier"),
    ]
