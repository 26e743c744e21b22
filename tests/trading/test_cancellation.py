"""Cancelling a paid order: the buyer asks, the store accepts (stock back, full refund, ledger) or
declines with a reason; nothing of the kind once shipped; another store cannot answer."""

from __future__ import annotations

import re

import pytest

from mall.ledger.services import balance, check_ledger, merchant_account, normal_balance, platform_account
from mall.payments.models import Refund
from mall.tenancy import tenant
from mall.trading import cancellation, fulfilment
from mall.trading.orders import IllegalTransition
from tests.jobs.helpers import work
from tests.merchant.helpers import area_client
from tests.trading.helpers import Mall, shopper, stock
from tests.trading.test_fulfilment import owner_of, paid_order

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture()
def mall(db, make_merchant):
    return Mall(make_merchant)


def test_an_accepted_cancellation_restocks_and_refunds_in_full(app, db, make_user, mall):
    user = shopper(make_user)
    (order,) = paid_order(app, db, mall, user, (mall.green, 2))
    assert stock(mall.tea_house, mall.green) == 8
    with pytest.raises(cancellation.CancellationError, match="Give a reason"):
        cancellation.request_cancellation(user.id, order.id, " ")
    cancellation.request_cancellation(user.id, order.id, "Ordered the wrong tea")
    with pytest.raises(cancellation.CancellationError, match="asked to cancel this order already"):
        cancellation.request_cancellation(user.id, order.id, "again")
    with tenant(mall.tea_house.id):
        cancellation.answer_cancellation(owner_of(mall.tea_house), order.id, True)
    db.session.commit()
    work(app)  # the provider confirms the refund
    assert order.status == "cancelled" and order.close_reason == "Ordered the wrong tea"
    assert stock(mall.tea_house, mall.green) == 10
    (refund,) = db.session.query(Refund).all()
    assert refund.amount_cents == 8800 and refund.status == "succeeded" and refund.order_id == order.id
    assert normal_balance(merchant_account(mall.tea_house.id, "pending")) == 0
    assert normal_balance(platform_account("commission_deferred")) == 0
    assert balance(platform_account("provider_clearing")) == 0 and balance(platform_account("refunds_due")) == 0
    assert check_ledger().ok


def test_a_declined_cancellation_needs_a_reason_and_leaves_the_order(app, db, make_user, mall):
    user = shopper(make_user)
    (order,) = paid_order(app, db, mall, user, (mall.green, 1))
    cancellation.request_cancellation(user.id, order.id, "Too slow")
    owner = owner_of(mall.tea_house)
    with tenant(mall.tea_house.id):
        with pytest.raises(cancellation.CancellationError, match="Give a reason"):
            cancellation.answer_cancellation(owner, order.id, False, "")
        cancellation.answer_cancellation(owner, order.id, False, "Already packed")
    assert order.status == "paid" and order.cancel_requested_at is None
    assert db.session.query(Refund).count() == 0
    cancellation.request_cancellation(user.id, order.id, "Please, still")  # may ask again


def test_no_cancellation_once_shipped_and_none_from_another_store(app, db, make_user, mall):
    user = shopper(make_user)
    (order,) = paid_order(app, db, mall, user, (mall.green, 1))
    cancellation.request_cancellation(user.id, order.id, "Changed my mind")
    with tenant(mall.pottery.id), pytest.raises(fulfilment.NotFound):
        cancellation.answer_cancellation(owner_of(mall.pottery), order.id, True)
    with tenant(mall.tea_house.id):
        fulfilment.ship(owner_of(mall.tea_house), order.id, "SF", "SF123456")
    assert order.cancel_requested_at is None
    with pytest.raises(IllegalTransition):
        cancellation.request_cancellation(user.id, order.id, "Changed my mind")
    with tenant(mall.tea_house.id), pytest.raises(IllegalTransition):
        cancellation.answer_cancellation(owner_of(mall.tea_house), order.id, True)


def test_asking_and_answering_through_the_pages(app, db, client, make_user, mall):
    from tests.conftest import login

    user = shopper(make_user, "cancel_pages")
    (order,) = paid_order(app, db, mall, user, (mall.green, 1))
    login(client, user.username)
    headers = {"Accept-Language": "en"}
    page = client.get(f"/orders/{order.id}", headers=headers).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    asked = client.post(
        f"/orders/{order.id}/request-cancel",
        data={"csrf_token": token, "reason": "Wrong size"},
        headers=headers,
        follow_redirects=True,
    )
    assert 'id="cancel-pending"' in asked.get_data(as_text=True)
    merchant = area_client(app, owner_of(mall.tea_house), "merchant")
    detail = merchant.get(f"/merchant/orders/{order.id}").get_data(as_text=True)
    assert "Wrong size" in detail and 'id="cancel-request"' in detail
    token = re.search(r'name="csrf_token" value="([^"]+)"', detail).group(1)
    answered = merchant.post(
        f"/merchant/orders/{order.id}/cancellation",
        data={"csrf_token": token, "answer": "accept"},
        follow_redirects=True,
    )
    assert 'id="order-status">Cancelled<' in answered.get_data(as_text=True)
