"""After-sales pages: the buyer's request form (with a photo) and case page, the store's list and
answers, the operator's dispute queue and decision; bad form input shows its message and changes
nothing; another store's staff get a 404."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from mall.ledger.services import check_ledger
from mall.tenancy import tenant
from mall.trading.models import AfterSalesCase, Order
from tests.catalog.browse_helpers import png
from tests.conftest import login
from tests.merchant.helpers import area_client
from tests.trading.helpers import Mall, shopper, stock
from tests.trading.test_after_sales import lines_of, shipped_order
from tests.trading.test_fulfilment import owner_of

pytestmark = pytest.mark.usefixtures("english")
EN = {"Accept-Language": "en"}


@pytest.fixture()
def mall(db, make_merchant):
    return Mall(make_merchant)


def token_of(html: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', html)
    return found.group(1) or found.group(2)


def the_case(merchant) -> AfterSalesCase:
    from mall.extensions import db

    db.session.expire_all()
    with tenant(merchant.id):
        return db.session.scalars(select(AfterSalesCase).order_by(AfterSalesCase.id.desc())).first()


def test_a_return_from_request_to_refund_through_the_pages(app, db, client, make_user, mall):
    user = shopper(make_user, "returner")
    order = shipped_order(app, db, mall, user, (mall.green, 2))
    line = lines_of(mall.tea_house, order)["Green tea"]
    db.session.commit()
    login(client, user.username)
    detail = client.get(f"/orders/{order.id}", headers=EN).get_data(as_text=True)
    assert 'id="request-after-sales"' in detail
    form = client.get(f"/orders/{order.id}/after-sales/new", headers=EN).get_data(as_text=True)
    assert f'name="qty-{line.id}"' in form and "Changed my mind (unused)" in form
    bad = client.post(
        f"/orders/{order.id}/after-sales/new",
        data={"csrf_token": token_of(form), "kind": "return_refund", f"qty-{line.id}": "5", "reason": "quality"},
        headers=EN,
    )
    assert bad.status_code == 400 and "at most 2 can be in a request" in bad.get_data(as_text=True)
    assert the_case(mall.tea_house) is None
    sent = client.post(
        f"/orders/{order.id}/after-sales/new",
        data={
            "csrf_token": token_of(form),
            "kind": "return_refund",
            f"qty-{line.id}": "1",
            "reason": "quality",
            "description": "Mouldy smell",
            "amount": "39",
            "photos": (io.BytesIO(png()), "bag.png"),
        },
        headers=EN,
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    page = sent.get_data(as_text=True)
    assert 'id="case-status">Waiting for the store<' in page and "Mouldy smell" in page and "/media/" in page
    case = the_case(mall.tea_house)
    assert case.requested_cents == 3900 and len(case.photo_keys) == 1

    staff = area_client(app, owner_of(mall.tea_house), "merchant")
    listing = staff.get("/merchant/after-sales").get_data(as_text=True)
    assert f"#{case.id}" in listing and order.number in listing
    answer = staff.get(f"/merchant/after-sales/{case.id}").get_data(as_text=True)
    assert "Mouldy smell" in answer and 'id="approve"' in answer
    staff.post(
        f"/merchant/after-sales/{case.id}/approve",
        data={"csrf_token": token_of(answer), "amount": "39.00", "return_address": "Tea House returns, 1 Leaf Road"},
    )
    page = client.get(f"/orders/{order.id}/after-sales/{case.id}", headers=EN).get_data(as_text=True)
    assert 'id="case-status">Send the goods back<' in page and "1 Leaf Road" in page
    client.post(
        f"/orders/{order.id}/after-sales/{case.id}/ship-back",
        data={"csrf_token": token_of(page), "carrier": "SF", "tracking_number": "SF5550001"},
    )
    answer = staff.get(f"/merchant/after-sales/{case.id}").get_data(as_text=True)
    assert "SF5550001" in answer and 'id="receive-goods"' in answer
    before = stock(mall.tea_house, mall.green)
    done = staff.post(
        f"/merchant/after-sales/{case.id}/receive",
        data={"csrf_token": token_of(answer), "quality": "passed", "amount": "39", "note": "Unopened"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert 'id="case-status">Refunded<' in done and 'id="case-refunded">¥39.00<' in done
    assert stock(mall.tea_house, mall.green) == before + 1
    db.session.expire_all()
    assert db.session.get(Order, order.id).refunded_cents == 3900 and check_ledger().ok
    mine = client.get("/orders?tab=after_sales", headers=EN).get_data(as_text=True)
    assert order.number in mine and "¥39.00" in mine


def test_a_refusal_goes_to_the_operator_who_decides(app, db, client, make_user, mall):
    user = shopper(make_user, "disputer")
    order = shipped_order(app, db, mall, user, (mall.green, 1))
    line = lines_of(mall.tea_house, order)["Green tea"]
    db.session.commit()
    login(client, user.username)
    form = client.get(f"/orders/{order.id}/after-sales/new", headers=EN).get_data(as_text=True)
    client.post(
        f"/orders/{order.id}/after-sales/new",
        data={"csrf_token": token_of(form), "kind": "refund_only", f"qty-{line.id}": "1", "reason": "not_received"},
        headers=EN,
    )
    case = the_case(mall.tea_house)
    staff = area_client(app, owner_of(mall.tea_house), "merchant")
    answer = staff.get(f"/merchant/after-sales/{case.id}").get_data(as_text=True)
    refused = staff.post(
        f"/merchant/after-sales/{case.id}/reject",
        data={"csrf_token": token_of(answer), "reason": ""},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Give a reason" in refused and the_case(mall.tea_house).status == "requested"
    staff.post(f"/merchant/after-sales/{case.id}/reject", data={"csrf_token": token_of(answer), "reason": "Signed"})
    page = client.get(f"/orders/{order.id}/after-sales/{case.id}", headers=EN).get_data(as_text=True)
    assert "Escalate to the platform" in page
    client.post(
        f"/orders/{order.id}/after-sales/{case.id}/escalate",
        data={"csrf_token": token_of(page), "statement": "Not my signature", "photos": (io.BytesIO(png()), "s.png")},
        content_type="multipart/form-data",
    )
    operator = area_client(app, make_user(operator_role="operator"), "platform")
    queue = operator.get("/platform/platform_disputes/").get_data(as_text=True)
    assert f"#{case.id}" in queue and order.number in queue
    detail = operator.get(f"/platform/platform_disputes/{order.id}/{case.id}").get_data(as_text=True)
    assert "Not my signature" in detail and 'id="decide-form"' in detail
    operator.post(
        f"/platform/platform_disputes/{order.id}/{case.id}/decide",
        data={"csrf_token": token_of(detail), "decision": "buyer", "amount": "49", "note": "Forged signature"},
    )
    case = the_case(mall.tea_house)
    assert (case.status, case.refund_cents, case.decision) == ("refunded", 4900, "buyer")
    finance = area_client(app, make_user(operator_role="finance"), "platform")
    assert 'id="decide-form"' not in finance.get(f"/platform/platform_disputes/{order.id}/{case.id}").get_data(
        as_text=True
    )
    assert f"#{case.id}" in operator.get(f"/platform/platform_orders/{order.id}").get_data(as_text=True)


def test_another_store_and_another_buyer_get_404(app, db, client, make_user, mall):
    user = shopper(make_user, "owner_of_case")
    order = shipped_order(app, db, mall, user, (mall.green, 1))
    line = lines_of(mall.tea_house, order)["Green tea"]
    from mall.trading import after_sales

    case = after_sales.request_case(user.id, order.id, "refund_only", {line.id: 1}, "other")
    db.session.commit()
    other = area_client(app, owner_of(mall.pottery), "merchant")
    assert other.get(f"/merchant/after-sales/{case.id}").status_code == 404
    listing = other.get("/merchant/after-sales?status=all").get_data(as_text=True)
    assert f"#{case.id}" not in listing
    other.post(f"/merchant/after-sales/{case.id}/approve", data={"csrf_token": token_of(listing)})
    assert the_case(mall.tea_house).status == "requested"
    login(client, shopper(make_user, "stranger").username)
    assert client.get(f"/orders/{order.id}/after-sales/{case.id}", headers=EN).status_code == 404
    assert client.get(f"/orders/{order.id}/after-sales/new", headers=EN).status_code == 404
