"""Payments through the sandbox gateway: the hosted page, signed notifications applied once,
captures posted to the ledger with commission frozen per line, failures and retries, money that
pays nothing refunded, and the gateway's transaction report."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
from sqlalchemy import func, select

from mall.ledger.models import JournalEntry
from mall.ledger.services import balance, check_ledger, merchant_account, normal_balance, platform_account
from mall.notifications.models import SiteMessage
from mall.payments import sandbox
from mall.payments import services as payments
from mall.payments.models import Payment, PaymentEvent, Refund, SandboxTransaction
from mall.tenancy import tenant
from mall.trading import checkout as checkouts
from mall.trading import orders as order_service
from mall.trading.models import OrderLine
from tests.jobs.helpers import work
from tests.trading.helpers import Mall, shopper

pytestmark = pytest.mark.usefixtures("english")

CLEARING = platform_account("provider_clearing")
DEFERRED = platform_account("commission_deferred")
REFUNDS_DUE = platform_account("refunds_due")


@pytest.fixture()
def mall(db, make_merchant):
    return Mall(make_merchant)


def placed(mall, user, *items, choices=None):
    return checkouts.place_order(
        user.id, mall.fill_cart(user.id, *items), idempotency_key=uuid.uuid4().hex, choices=choices
    )


def pay(app, db, checkout, outcome: str = "pay") -> Payment:
    """Start a sandbox payment, decide it on the gateway, deliver the notifications."""
    with app.test_request_context():
        payment, _url = payments.start_payment(checkout.user_id, checkout.id, "sandbox")
    sandbox.decide(payment.provider_ref, outcome)
    db.session.commit()
    work(app)
    db.session.refresh(payment)
    return payment


def notification(client, payload: dict, *, signature: str | None = None):
    body = json.dumps(payload).encode()
    return client.post(
        "/payments/notify/sandbox",
        data=body,
        headers={sandbox.SIGNATURE_HEADER: signature or sandbox.sign(body), "Content-Type": "application/json"},
    )


def test_paying_captures_the_orders_and_posts_the_ledger(app, db, make_user, mall):
    user = shopper(make_user)
    checkout = placed(mall, user, (mall.green, 2), (mall.cup, 3), choices={mall.pottery.id: ("pickup", "")})
    payment = pay(app, db, checkout)
    assert payment.status == "succeeded" and payment.amount_cents == 8800 + 3600
    assert checkout.status == "paid" and {o.status for o in checkout.orders} == {"paid"}
    tea = next(o for o in checkout.orders if o.merchant_id == mall.tea_house.id)
    pottery = next(o for o in checkout.orders if o.merchant_id == mall.pottery.id)
    assert re.fullmatch(r"\d{6}", pottery.pickup_code) and tea.pickup_code is None
    with tenant(mall.tea_house.id):
        line = db.session.scalar(select(OrderLine))
    assert (line.commission_bp, line.commission_cents) == (500, 390)  # 5 % of ¥78.00, frozen now
    assert balance(CLEARING) == 12400
    assert normal_balance(merchant_account(mall.tea_house.id, "pending")) == 8800 - 390
    assert normal_balance(merchant_account(mall.pottery.id, "pending")) == 3600 - 180
    assert normal_balance(DEFERRED) == 390 + 180 and check_ledger().ok
    messages = list(db.session.scalars(select(SiteMessage)))  # in each recipient's language (here the default)
    assert [m.user_id for m in messages].count(checkout.user_id) == 1
    assert any(tea.number in m.subject for m in messages) and any(pottery.number in m.subject for m in messages)


def test_a_duplicate_notification_changes_nothing(app, db, client, make_user, mall):
    checkout = placed(mall, shopper(make_user), (mall.green, 1))
    with app.test_request_context():
        payment, _url = payments.start_payment(checkout.user_id, checkout.id, "sandbox")
    db.session.commit()
    event = {
        "event_id": "evt_dup",
        "kind": "payment.succeeded",
        "transaction_id": payment.provider_ref,
        "amount_cents": 4900,
    }
    first, second = notification(client, event), notification(client, event)
    assert first.status_code == second.status_code == 200
    assert second.get_data(as_text=True) == "duplicate: already applied"
    entries = db.session.scalar(select(func.count()).select_from(JournalEntry))
    late_failure = {**event, "event_id": "evt_late", "kind": "payment.failed"}  # out of order: after the success
    assert notification(client, late_failure).get_data(as_text=True) == "ignored: payment already succeeded"
    db.session.refresh(payment)
    assert payment.status == "succeeded" and balance(CLEARING) == 4900
    assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == entries == 1


@pytest.mark.parametrize("signature", ["t=1,v1=00", "garbage", None])
def test_a_bad_signature_is_rejected_and_kept(app, db, client, make_user, mall, signature):
    checkout = placed(mall, shopper(make_user), (mall.green, 1))
    with app.test_request_context():
        payment, _url = payments.start_payment(checkout.user_id, checkout.id, "sandbox")
    db.session.commit()
    body = json.dumps(
        {"event_id": "evt_x", "kind": "payment.succeeded", "transaction_id": payment.provider_ref, "amount_cents": 4900}
    )
    forged = signature or f"t={int(time.time())},v1=" + "0" * 64
    response = client.post("/payments/notify/sandbox", data=body, headers={sandbox.SIGNATURE_HEADER: forged})
    assert response.status_code == 400
    rejected = db.session.scalar(select(PaymentEvent))
    assert rejected.verified is False and rejected.outcome.startswith("rejected")
    db.session.refresh(payment)
    assert payment.status == "pending" and checkout.orders[0].status == "awaiting_payment" and balance(CLEARING) == 0


def test_a_failed_payment_can_be_tried_again(app, db, make_user, mall):
    checkout = placed(mall, shopper(make_user), (mall.green, 1))
    failed = pay(app, db, checkout, "fail")
    assert failed.status == "failed" and failed.failure_reason == "card declined (sandbox)"
    assert checkout.status == "awaiting_payment" and balance(CLEARING) == 0
    assert pay(app, db, checkout).status == "succeeded" and checkout.status == "paid"


def test_a_payment_for_a_cancelled_order_is_refunded_by_itself(app, db, make_user, mall):
    user = shopper(make_user)
    checkout = placed(mall, user, (mall.green, 1), (mall.cup, 1))
    with app.test_request_context():
        payment, _url = payments.start_payment(user.id, checkout.id, "sandbox")
    cup_order = next(o for o in checkout.orders if o.merchant_id == mall.pottery.id)
    order_service.cancel_unpaid_order(user.id, cup_order.id)  # cancelled in another tab, then paid anyway
    sandbox.decide(payment.provider_ref, "pay")
    db.session.commit()
    work(app)  # the payment notification: captures, and refunds the cancelled order's ¥12.00
    work(app)  # the refund notification
    refund = db.session.scalar(select(Refund))
    assert refund.amount_cents == 1200 and refund.status == "succeeded"
    assert cup_order.status == "cancelled" and next(o for o in checkout.orders if o.id != cup_order.id).status == "paid"
    assert balance(CLEARING) == 4900 and balance(REFUNDS_DUE) == 0  # green tea ¥39 with its ¥10 shipping
    report = sandbox.transaction_report()
    assert f"{refund.provider_ref},refund,{refund.id},{payment.provider_ref},1200,succeeded" in report
    assert check_ledger().ok


def test_paying_twice_refunds_the_second_payment(app, db, make_user, mall):
    user = shopper(make_user)
    checkout = placed(mall, user, (mall.cup, 1))
    with app.test_request_context():
        first, _ = payments.start_payment(user.id, checkout.id, "sandbox")
        second, _ = payments.start_payment(user.id, checkout.id, "sandbox")  # a second tab
    sandbox.decide(first.provider_ref, "pay")
    sandbox.decide(second.provider_ref, "pay")
    db.session.commit()
    work(app)
    work(app)
    assert [r.amount_cents for r in db.session.scalars(select(Refund))] == [1200]
    assert balance(CLEARING) == 1200 and check_ledger().ok


def test_a_notification_is_retried_until_the_mall_acknowledges_it(app, db, make_user, mall, monkeypatch):
    checkout = placed(mall, shopper(make_user), (mall.green, 1))
    with app.test_request_context():
        payment, _url = payments.start_payment(checkout.user_id, checkout.id, "sandbox")
    real = payments.handle_notification
    calls = []

    def down_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database unavailable")
        return real(*args, **kwargs)

    monkeypatch.setattr(payments, "handle_notification", down_once)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    sandbox.decide(payment.provider_ref, "pay")
    db.session.commit()
    work(app)
    db.session.refresh(payment)
    assert payment.status == "pending"  # the mall answered 500: not acknowledged
    work(app, due=True)  # the retry
    db.session.refresh(payment)
    assert payment.status == "succeeded" and len(calls) == 2


def test_the_hosted_page_and_the_return_page(app, db, client, make_user, mall):
    from tests.conftest import login

    user = shopper(make_user, "payer01")
    checkout = placed(mall, user, (mall.green, 1))
    db.session.commit()
    login(client, user.username)
    headers = {"Accept-Language": "en"}
    summary = client.get(f"/checkouts/{checkout.id}", headers=headers).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', summary).group(1)
    response = client.post(f"/checkouts/{checkout.id}/pay", data={"csrf_token": token, "provider": "sandbox"})
    gateway = response.headers["Location"]
    assert "/sandbox-pay/sbx_pay_" in gateway
    page = client.get(gateway, headers=headers).get_data(as_text=True)
    assert "Pay ¥49.00" in page and 'id="sandbox-pay"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    back = client.post(gateway, data={"csrf_token": token, "outcome": "pay"})
    waiting = client.get(back.headers["Location"], headers=headers).get_data(as_text=True)
    assert "Waiting for the payment confirmation" in waiting
    work(app)
    done = client.get(back.headers["Location"], headers=headers).get_data(as_text=True)
    assert "Payment received" in done
    detail = client.get(f"/orders/{checkout.orders[0].id}", headers=headers).get_data(as_text=True)
    assert 'id="order-status">Awaiting shipment<' in detail


def test_the_transaction_report_is_for_finance_only(app, db, make_user, mall):
    from tests.merchant.helpers import area_client

    checkout = placed(mall, shopper(make_user), (mall.cup, 2))
    payment = pay(app, db, checkout)
    finance = area_client(app, make_user(operator_role="finance"), "platform")
    report = finance.get("/sandbox-pay/report.csv")
    assert (
        report.status_code == 200
        and f"{payment.provider_ref},payment,{payment.id},,2400,succeeded" in report.get_data(as_text=True)
    )
    nosy = area_client(app, make_user(), "consumer")
    assert nosy.get("/sandbox-pay/report.csv").status_code == 403
    assert db.session.scalar(select(func.count()).select_from(SandboxTransaction)) == 1


def test_notifications_reach_a_mall_that_trusts_only_its_own_host(app, db, make_user, mall, monkeypatch):
    monkeypatch.setitem(app.config, "TRUSTED_HOSTS", ["shop.example.com"])
    monkeypatch.setitem(app.config, "MALL_BASE_URL", "https://shop.example.com")
    checkout = placed(mall, shopper(make_user), (mall.cup, 1))
    with app.test_request_context(base_url="https://shop.example.com"):
        payment, _url = payments.start_payment(checkout.user_id, checkout.id, "sandbox")
    sandbox.decide(payment.provider_ref, "pay")
    db.session.commit()
    work(app)  # the gateway posts to the mall's own host
    db.session.refresh(payment)
    assert payment.status == "succeeded" and checkout.status == "paid"
