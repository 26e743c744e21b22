"""Bank transfer: the buyer gets the account and a reference, uploads the receipt (the orders then
wait for finance), finance confirms the amount that arrived (orders paid, money in the bank account
of the ledger) or rejects with a reason; refunds are paid back by hand; receipts are private."""

from __future__ import annotations

import re
import uuid

import pytest

from mall.errors import PermissionDenied
from mall.ledger.services import balance, check_ledger, merchant_account, normal_balance, platform_account
from mall.payments import bank_transfer
from mall.payments import services as payments
from mall.payments.models import Refund
from mall.trading import checkout as checkouts
from mall.trading import orders as order_service
from tests.catalog.browse_helpers import png
from tests.conftest import login
from tests.merchant.helpers import area_client
from tests.trading.helpers import Mall, shopper

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture()
def mall(db, make_merchant):
    return Mall(make_merchant)


def transfer(app, mall, user, *items):
    checkout = checkouts.place_order(user.id, mall.fill_cart(user.id, *items), idempotency_key=uuid.uuid4().hex)
    with app.test_request_context():
        payment, url = payments.start_payment(user.id, checkout.id, "bank_transfer")
    return checkout, payment, url


def test_receipt_then_finance_confirms(app, db, make_user, mall):
    user = shopper(make_user)
    checkout, payment, url = transfer(app, mall, user, (mall.green, 1))
    assert url == f"/payments/{payment.id}/bank-transfer" and re.fullmatch(r"BT[0-9A-F]{10}", payment.provider_ref)
    pay_by = checkout.pay_by
    bank_transfer.upload_proof(user.id, payment.id, png(), "receipt.png")
    assert payment.proof_file_id is not None and checkout.pay_by > pay_by  # the orders wait for finance
    assert bank_transfer.waiting_transfers() == [payment]
    with pytest.raises(PermissionDenied):
        bank_transfer.confirm_transfer(make_user(operator_role="operator"), payment.id, "49")
    finance = make_user(operator_role="finance")
    bank_transfer.confirm_transfer(finance, payment.id, "49.00")
    assert payment.status == "succeeded" and checkout.orders[0].status == "paid"
    assert balance(platform_account("bank")) == 4900 and balance(platform_account("provider_clearing")) == 0
    assert normal_balance(merchant_account(mall.tea_house.id, "pending")) == 4900 - 195 and check_ledger().ok
    with pytest.raises(bank_transfer.BankTransferError, match="settled already"):
        bank_transfer.confirm_transfer(finance, payment.id, "49.00")


def test_finance_rejects_and_the_buyer_can_pay_again(app, db, make_user, mall):
    user = shopper(make_user)
    checkout, payment, _url = transfer(app, mall, user, (mall.green, 1))
    bank_transfer.upload_proof(user.id, payment.id, png(), "receipt.png")
    finance = make_user(operator_role="finance")
    with pytest.raises(bank_transfer.BankTransferError, match="Give a reason"):
        bank_transfer.reject_transfer(finance, payment.id, "")
    bank_transfer.reject_transfer(finance, payment.id, "Nothing arrived with this reference")
    assert payment.status == "failed" and checkout.status == "awaiting_payment"
    with app.test_request_context():
        again, _url = payments.start_payment(user.id, checkout.id, "bank_transfer")
    assert again.id != payment.id and again.status == "pending"


def test_a_transfer_for_a_cancelled_order_is_paid_back_by_hand(app, db, make_user, mall):
    user = shopper(make_user)
    checkout, payment, _url = transfer(app, mall, user, (mall.cup, 2))
    bank_transfer.upload_proof(user.id, payment.id, png(), "receipt.png")
    order_service.cancel_unpaid_order(user.id, checkout.orders[0].id)
    finance = make_user(operator_role="finance")
    bank_transfer.confirm_transfer(finance, payment.id, "24")
    (refund,) = bank_transfer.manual_refunds()
    assert refund.amount_cents == 2400 and refund.status == "pending"
    bank_transfer.mark_refund_paid(finance, refund.id)
    assert db.session.get(Refund, refund.id).status == "succeeded"
    assert (
        balance(platform_account("bank")) == 0 and balance(platform_account("refunds_due")) == 0 and check_ledger().ok
    )


def test_the_pages_and_the_private_receipt(app, db, client, make_user, mall):
    user = shopper(make_user, "transfer_buyer")
    checkout, payment, url = transfer(app, mall, user, (mall.green, 1))
    db.session.commit()
    login(client, user.username)
    page = client.get(url, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert payment.provider_ref in page and "Pay ¥49.00 by bank transfer" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post(
        f"/payments/{payment.id}/proof",
        data={"csrf_token": token, "proof": (__import__("io").BytesIO(png()), "receipt.png")},
        content_type="multipart/form-data",
    )
    db.session.refresh(payment)
    proof = f"/files/{payment.proof_file_id}"
    desk = area_client(app, make_user(operator_role="finance"), "platform")
    listing = desk.get("/platform/platform_payments/").get_data(as_text=True)
    assert payment.provider_ref in listing
    receipt_link = re.search(rf'href="(/[^"]*{payment.proof_file_id})"', listing).group(1)
    assert desk.get(receipt_link).status_code == 200
    assert area_client(app, make_user(operator_role="operator"), "platform").get(receipt_link).status_code in (403, 404)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', listing)
    desk.post(
        f"/platform/platform_payments/transfers/{payment.id}/confirm",
        data={"csrf_token": token.group(1) or token.group(2), "received": "49.00"},
    )
    db.session.expire_all()
    assert checkout.orders[0].status == "paid"
    assert proof  # the buyer's own receipt stays readable by them
    assert client.get(receipt_link).status_code == 200
