"""After-sales (C-14, M-07): refund only, return and refund, exchange with a zero-price replacement,
the quality check, platform arbitration, the deadlines' automatic outcomes, the money (never more
than paid, commission given back in proportion, completion held while a case is open), bad input
refused with nothing changed, and one store never reaching another's cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from mall.catalog.models import Sku, StockMovement
from mall.errors import DomainError, NotFound, PermissionDenied
from mall.ledger.services import check_ledger, merchant_account, normal_balance, platform_account
from mall.notifications.models import SiteMessage
from mall.payments.models import Refund
from mall.tenancy import tenant
from mall.trading import after_sales, fulfilment
from mall.trading.models import AfterSalesCase, Order, OrderLine
from tests.jobs.helpers import work
from tests.trading.helpers import Mall, shopper, sku_id, stock
from tests.trading.test_fulfilment import owner_of, paid_order

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture()
def mall(db, make_merchant):
    return Mall(make_merchant)


def shipped_order(app, db, mall, user, *items):
    (order,) = paid_order(app, db, mall, user, *items)
    merchant = mall.store_of(items[0][0])
    with tenant(merchant.id):
        fulfilment.ship(owner_of(merchant), order.id, "SF", "SF123456")
    return order


def lines_of(merchant, order) -> dict[str, OrderLine]:
    with tenant(merchant.id):
        return {line.title: line for line in db_lines(order)}


def db_lines(order):
    from mall.extensions import db

    return list(db.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)))


def in_store(merchant, fn, *args, **kwargs):
    with tenant(merchant.id):
        return fn(owner_of(merchant), *args, **kwargs)


def test_refund_only_for_one_unit_gives_back_its_share_of_commission(app, db, make_user, mall):
    user = shopper(make_user)
    order = shipped_order(app, db, mall, user, (mall.green, 3))  # ¥117 (free shipping), commission ¥5.85
    green = lines_of(mall.tea_house, order)["Green tea"]
    assert green.commission_cents == 585
    case = after_sales.request_case(user.id, order.id, "refund_only", {green.id: 1}, "damaged", "Leaking bag")
    assert case.requested_cents == 3900 and case.status == "requested"
    assert order.case_status == "open" and order.case_due_at is not None
    in_store(mall.tea_house, after_sales.approve, case.id)
    assert case.status == "refunded" and case.refund_cents == 3900
    assert order.refunded_cents == 3900 and order.case_status == "closed" and order.case_due_at is None
    refund = db.session.scalar(select(Refund).where(Refund.order_id == order.id))
    assert (refund.amount_cents, refund.commission_cents) == (3900, 195)
    assert normal_balance(merchant_account(mall.tea_house.id, "pending")) == (11700 - 585) - (3900 - 195)
    db.session.commit()
    work(app)  # the provider confirms the refund; notifications
    db.session.refresh(refund)
    assert refund.status == "succeeded"
    fulfilment.confirm_receipt(user.id, order.id)
    fulfilment.complete(order)
    assert normal_balance(merchant_account(mall.tea_house.id, "pending")) == 0
    assert normal_balance(merchant_account(mall.tea_house.id, "available")) == 7800 - 390
    assert normal_balance(platform_account("commission_revenue")) == 390
    assert normal_balance(platform_account("commission_deferred")) == 0
    assert normal_balance(platform_account("refunds_due")) == 0 and check_ledger().ok


def test_return_and_refund_puts_the_goods_back_in_stock(app, db, make_user, mall):
    user = shopper(make_user)
    order = shipped_order(app, db, mall, user, (mall.green, 2), (mall.black, 1))
    lines = lines_of(mall.tea_house, order)
    before = stock(mall.tea_house, mall.green)
    case = after_sales.request_case(
        user.id, order.id, "return_refund", {lines["Green tea"].id: 2}, "changed_mind", amount="70"
    )
    assert case.requested_cents == 7000
    in_store(mall.tea_house, after_sales.approve, case.id, return_address="Tea House, 1 Leaf Road")
    assert case.status == "approved" and case.return_address == "Tea House, 1 Leaf Road"
    with pytest.raises(after_sales.AfterSalesError, match="tracking number"):
        after_sales.ship_back(user.id, order.id, case.id, "SF", "x")
    after_sales.ship_back(user.id, order.id, case.id, "SF", "sf777888")
    assert case.status == "returning" and case.return_tracking == "SF777888"
    in_store(mall.tea_house, after_sales.receive, case.id, True, "Sealed, fine")
    assert case.status == "refunded" and case.refund_cents == 7000 and case.quality_passed
    assert stock(mall.tea_house, mall.green) == before + 2
    with tenant(mall.tea_house.id):
        move = db.session.scalar(select(StockMovement).where(StockMovement.ref == f"after-sales:{case.id}"))
        assert (move.reason, move.delta) == ("return", 2)
        assert db.session.get(OrderLine, lines["Green tea"].id).returned_quantity == 2
    assert order.refunded_cents == 7000 and check_ledger().ok


def test_a_failed_quality_check_can_be_escalated_and_the_platform_decides(app, db, make_user, mall):
    user = shopper(make_user)
    order = shipped_order(app, db, mall, user, (mall.green, 1))
    line = lines_of(mall.tea_house, order)["Green tea"]
    case = after_sales.request_case(user.id, order.id, "return_refund", {line.id: 1}, "quality")
    in_store(mall.tea_house, after_sales.approve, case.id)
    after_sales.ship_back(user.id, order.id, case.id, "YTO", "YT123456")
    with pytest.raises(after_sales.AfterSalesError, match="Give a reason"):
        in_store(mall.tea_house, after_sales.receive, case.id, False, "")
    in_store(mall.tea_house, after_sales.receive, case.id, False, "The bag was opened and half used")
    assert case.status == "rejected" and case.quality_passed is False
    with pytest.raises(after_sales.AfterSalesError, match="Give a reason"):
        after_sales.escalate(user.id, order.id, case.id, " ")
    after_sales.escalate(user.id, order.id, case.id, "It arrived opened; see the photo of the parcel")
    assert case.status == "disputed" and order.case_status == "disputed"
    in_store(mall.tea_house, after_sales.store_statement, case.id, "Our packing video shows it sealed")
    operator = make_user(operator_role="service_agent")
    with pytest.raises(PermissionDenied):
        after_sales.decide(operator, order.id, case.id, True, "no rights")
    judge = make_user(operator_role="operator")
    after_sales.decide(judge, order.id, case.id, True, "Carrier photo shows the parcel damaged", amount="20")
    assert case.status == "refunded" and case.refund_cents == 2000 and case.decision == "buyer"
    assert [e.action for e in case.events] == [
        "requested", "approved", "returned", "quality_failed", "escalated", "statement", "decided", "refunded"
    ]  # fmt: skip
    assert [e.actor for e in case.events][-3:] == ["store", "platform", "platform"]
    assert stock(mall.tea_house, mall.green) == 9  # a failed quality check puts nothing back
    assert order.case_status == "closed" and check_ledger().ok


def test_the_platform_may_decide_for_the_store(app, db, make_user, mall):
    user = shopper(make_user)
    order = shipped_order(app, db, mall, user, (mall.green, 1))
    line = lines_of(mall.tea_house, order)["Green tea"]
    case = after_sales.request_case(user.id, order.id, "refund_only", {line.id: 1}, "not_received")
    in_store(mall.tea_house, after_sales.reject, case.id, "Tracking shows it was delivered")
    after_sales.escalate(user.id, order.id, case.id, "I never got it")
    judge = make_user(operator_role="operator")
    after_sales.decide(judge, order.id, case.id, False, "Signed for by the buyer")
    assert (case.status, case.outcome) == ("closed", "decided_for_store")
    assert order.refunded_cents == 0 and order.case_status == "closed"


def test_exchange_sends_a_zero_price_replacement(app, db, make_user, mall):
    user = shopper(make_user)
    order = shipped_order(app, db, mall, user, (mall.green, 2))
    line = lines_of(mall.tea_house, order)["Green tea"]
    before = stock(mall.tea_house, mall.green)
    with pytest.raises(after_sales.AfterSalesError, match="same product"):
        after_sales.request_case(
            user.id, order.id, "exchange", {line.id: 1}, "size", exchange_sku_id=sku_id(mall.tea_house, mall.black)
        )
    case = after_sales.request_case(user.id, order.id, "exchange", {line.id: 1}, "wrong_item")
    in_store(mall.tea_house, after_sales.approve, case.id)
    after_sales.ship_back(user.id, order.id, case.id, "SF", "SF000111")
    in_store(mall.tea_house, after_sales.receive, case.id, True)
    assert case.status == "replaced" and case.refund_cents == 0
    replacement = db.session.get(Order, case.replacement_order_id)
    assert (replacement.status, replacement.total_cents, replacement.replaces_order_id) == ("paid", 0, order.id)
    assert replacement.address == order.address
    assert stock(mall.tea_house, mall.green) == before  # one back from the buyer, one out again
    (new_line,) = db_lines_in(mall.tea_house, replacement)
    assert (new_line.quantity, new_line.unit_price_cents, new_line.commission_cents) == (1, 0, 0)
    with tenant(mall.tea_house.id):
        fulfilment.ship(owner_of(mall.tea_house), replacement.id, "SF", "SF000222")
    fulfilment.confirm_receipt(user.id, replacement.id)
    fulfilment.complete(replacement)  # nothing to post: it cost nothing
    assert replacement.status == "completed" and order.refunded_cents == 0 and check_ledger().ok


def db_lines_in(merchant, order):
    with tenant(merchant.id):
        return db_lines(order)


def test_a_case_taking_everything_may_refund_shipping_too(app, db, make_user, mall):
    user = shopper(make_user)
    order = shipped_order(app, db, mall, user, (mall.green, 1))  # ¥39 + ¥10 shipping
    line = lines_of(mall.tea_house, order)["Green tea"]
    with pytest.raises(after_sales.AfterSalesError, match=r"at most ¥49\.00"):
        after_sales.request_case(user.id, order.id, "refund_only", {line.id: 1}, "not_received", amount="49.01")
    case = after_sales.request_case(user.id, order.id, "refund_only", {line.id: 1}, "not_received")
    assert case.requested_cents == 4900
    in_store(mall.tea_house, after_sales.approve, case.id)
    assert order.refunded_cents == order.total_cents == 4900
    with pytest.raises(after_sales.AfterSalesError, match="at most 0"):
        after_sales.request_case(user.id, order.id, "refund_only", {line.id: 1}, "other")
    fulfilment.confirm_receipt(user.id, order.id)
    fulfilment.complete(order)
    assert normal_balance(merchant_account(mall.tea_house.id, "pending")) == 0
    assert normal_balance(merchant_account(mall.tea_house.id, "available")) == 0
    assert normal_balance(platform_account("commission_deferred")) == 0 and check_ledger().ok


def test_a_discounted_order_refunds_what_was_paid_for_the_line(app, db, make_user, mall):
    from mall.trading import checkout as checkouts

    user = shopper(make_user)
    checkout = checkouts.place_order(
        user.id, mall.fill_cart(user.id, (mall.green, 1), (mall.black, 1)), idempotency_key="k" * 32
    )
    (order,) = checkout.orders
    with tenant(mall.tea_house.id):  # ¥84 goods, free shipping, ¥10 off → the lines paid ¥34.36 and ¥39.64
        fulfilment.change_price(owner_of(mall.tea_house), order.id, "0", "10")
    from mall.payments import sandbox
    from mall.payments import services as payments

    with app.test_request_context():
        payment, _url = payments.start_payment(user.id, checkout.id, "sandbox")
    sandbox.decide(payment.provider_ref, "pay")
    db.session.commit()
    work(app)
    with tenant(mall.tea_house.id):
        fulfilment.ship(owner_of(mall.tea_house), order.id, "SF", "SF123456")
    lines = lines_of(mall.tea_house, order)
    from tests.merchant.helpers import area_client

    shown = area_client(app, owner_of(mall.tea_house), "merchant").get(f"/merchant/orders/{order.id}")
    page = shown.get_data(as_text=True)  # the ¥10 off, split over the lines to the cent
    assert "Store-funded discount" in page and "¥4.64" in page and "¥5.36" in page and "¥39.64" in page
    operator = area_client(app, make_user(operator_role="operator"), "platform")
    assert "¥34.36" in operator.get(f"/platform/platform_orders/{order.id}").get_data(as_text=True)
    with pytest.raises(after_sales.AfterSalesError, match=r"at most ¥34\.36"):
        after_sales.request_case(user.id, order.id, "refund_only", {lines["Green tea"].id: 1}, "other", amount="35")
    case = after_sales.request_case(user.id, order.id, "refund_only", {lines["Black tea"].id: 1}, "other")
    assert case.requested_cents == 3964  # ¥45 less ¥5.36 of the ¥10 off (largest remainder)
    in_store(mall.tea_house, after_sales.approve, case.id)
    second = after_sales.request_case(user.id, order.id, "refund_only", {lines["Green tea"].id: 1}, "other")
    assert second.requested_cents == 3436  # the last line: its paid share, shipping was free
    in_store(mall.tea_house, after_sales.approve, second.id)
    assert order.refunded_cents == order.total_cents == 7400
    commission = sum(line.commission_cents for line in db_lines_in(mall.tea_house, order))
    assert sum(r.commission_cents for r in db.session.scalars(select(Refund))) == commission
    assert check_ledger().ok


@pytest.mark.parametrize(
    "kind, units, reason, amount, message",
    [
        ("refund_only", 3, "damaged", None, "at most 2 can be in a request"),
        ("refund_only", 1, "", None, "Choose a reason"),
        ("swap", 1, "damaged", None, "Choose what you want"),
        ("refund_only", 1, "damaged", "0", "more than zero"),
        ("refund_only", 1, "damaged", "abc", "Enter an amount"),
        ("exchange", 0, "damaged", None, "Choose the items"),
    ],
)
def test_bad_requests_change_nothing(app, db, make_user, mall, kind, units, reason, amount, message):
    user = shopper(make_user)
    order = shipped_order(app, db, mall, user, (mall.green, 2))
    line = lines_of(mall.tea_house, order)["Green tea"]
    with pytest.raises(DomainError, match=message):
        after_sales.request_case(user.id, order.id, kind, {line.id: units}, reason, amount=amount)
    assert order.case_status is None
    with tenant(mall.tea_house.id):
        assert db.session.scalar(select(AfterSalesCase.id)) is None


def test_requests_are_refused_at_the_wrong_time_or_twice(app, db, make_user, mall):
    user = shopper(make_user)
    (unshipped,) = paid_order(app, db, mall, user, (mall.green, 1))
    line = lines_of(mall.tea_house, unshipped)["Green tea"]
    with pytest.raises(after_sales.AfterSalesError, match="once the order has shipped"):
        after_sales.request_case(user.id, unshipped.id, "refund_only", {line.id: 1}, "other")
    with pytest.raises(NotFound):
        after_sales.request_case(shopper(make_user).id, unshipped.id, "refund_only", {line.id: 1}, "other")
    order = shipped_order(app, db, mall, user, (mall.green, 2))
    line = lines_of(mall.tea_house, order)["Green tea"]
    case = after_sales.request_case(user.id, order.id, "refund_only", {line.id: 1}, "other")
    with pytest.raises(after_sales.AfterSalesError, match="already has a request in progress"):
        after_sales.request_case(user.id, order.id, "refund_only", {line.id: 1}, "other")
    with pytest.raises(after_sales.AfterSalesError, match="moved on"):
        after_sales.ship_back(user.id, order.id, case.id, "SF", "SF123456")  # not approved yet
    after_sales.withdraw(user.id, order.id, case.id)
    assert (case.status, case.outcome, order.case_status) == ("closed", "withdrawn", "closed")
    with pytest.raises(after_sales.AfterSalesError, match="moved on"):
        in_store(mall.tea_house, after_sales.approve, case.id)
    again = after_sales.request_case(user.id, order.id, "refund_only", {line.id: 2}, "other")  # withdrawn frees it
    assert again.requested_cents == 8800  # everything left, so the ¥10 shipping too


def test_an_open_case_holds_completion(app, db, make_user, mall):
    user = shopper(make_user)
    order = shipped_order(app, db, mall, user, (mall.green, 1))
    fulfilment.confirm_receipt(user.id, order.id)
    line = lines_of(mall.tea_house, order)["Green tea"]
    case = after_sales.request_case(user.id, order.id, "refund_only", {line.id: 1}, "quality", amount="10")
    with pytest.raises(DomainError, match="after-sales request in progress"):
        fulfilment.complete(order)
    order.received_at = datetime.now(UTC) - timedelta(days=30)
    db.session.flush()
    assert fulfilment.complete_due_orders() == 0
    in_store(mall.tea_house, after_sales.reject, case.id, "Looks fine in your photo")
    after_sales.withdraw(user.id, order.id, case.id)
    fulfilment.complete(order)
    assert order.status == "completed"
    with pytest.raises(after_sales.AfterSalesError, match="until it is completed"):
        after_sales.request_case(user.id, order.id, "refund_only", {line.id: 1}, "other")


def test_another_store_never_reaches_a_case(app, db, make_user, mall):
    user = shopper(make_user)
    order = shipped_order(app, db, mall, user, (mall.green, 1))
    line = lines_of(mall.tea_house, order)["Green tea"]
    case = after_sales.request_case(user.id, order.id, "refund_only", {line.id: 1}, "other")
    with pytest.raises(NotFound):
        in_store(mall.pottery, after_sales.approve, case.id)
    with pytest.raises(NotFound):
        in_store(mall.pottery, after_sales.reject, case.id, "not mine")
    with pytest.raises(NotFound):
        after_sales.withdraw(shopper(make_user).id, order.id, case.id)
    with tenant(mall.pottery.id):
        assert after_sales.store_cases("all").total == 0
    assert case.status == "requested"


def _overdue(db, merchant, order, case):
    past = datetime.now(UTC) - timedelta(minutes=1)
    with tenant(merchant.id):
        db.session.execute(update(AfterSalesCase).where(AfterSalesCase.id == case.id).values(due_at=past))
    db.session.execute(update(Order).where(Order.id == order.id).values(case_due_at=past))
    db.session.commit()


def test_deadlines_have_automatic_outcomes(app, committed_db, make_user, make_merchant):
    db = committed_db
    mall = Mall(make_merchant)
    user = shopper(make_user)
    orders = [shipped_order(app, db, mall, user, (mall.green, 1)) for _ in range(4)]
    line_ids = [lines_of(mall.tea_house, o)["Green tea"].id for o in orders]
    silent = after_sales.request_case(user.id, orders[0].id, "refund_only", {line_ids[0]: 1}, "not_received")
    not_sent = after_sales.request_case(user.id, orders[1].id, "return_refund", {line_ids[1]: 1}, "quality")
    unconfirmed = after_sales.request_case(user.id, orders[2].id, "return_refund", {line_ids[2]: 1}, "quality")
    refused = after_sales.request_case(user.id, orders[3].id, "refund_only", {line_ids[3]: 1}, "quality")
    in_store(mall.tea_house, after_sales.approve, not_sent.id)
    in_store(mall.tea_house, after_sales.approve, unconfirmed.id)
    after_sales.ship_back(user.id, orders[2].id, unconfirmed.id, "SF", "SF424242")
    in_store(mall.tea_house, after_sales.reject, refused.id, "No")
    db.session.commit()
    assert after_sales.run_due_cases() == 0  # nothing is due yet
    before = stock(mall.tea_house, mall.green)
    for order, case in zip(orders, (silent, not_sent, unconfirmed, refused), strict=True):
        _overdue(db, mall.tea_house, order, case)
    assert after_sales.run_due_cases() == 4
    db.session.expire_all()
    with tenant(mall.tea_house.id):
        got = {c.id: (c.status, c.outcome) for c in db.session.scalars(select(AfterSalesCase))}
    assert got == {
        silent.id: ("refunded", None),
        not_sent.id: ("closed", "not_returned"),
        unconfirmed.id: ("refunded", None),
        refused.id: ("closed", "refused"),
    }
    assert stock(mall.tea_house, mall.green) == before + 1  # the parcel the store did not confirm
    assert [db.session.get(Order, o.id).case_status for o in orders] == ["closed"] * 4
    assert [db.session.get(Order, o.id).refunded_cents for o in orders] == [4900, 0, 4900, 0]
    assert after_sales.run_due_cases() == 0 and check_ledger().ok


def test_each_step_is_told_to_the_other_side(app, db, make_user, mall):
    user = shopper(make_user)
    order = shipped_order(app, db, mall, user, (mall.green, 1))
    db.session.commit()
    work(app)
    db.session.execute(SiteMessage.__table__.delete())
    line = lines_of(mall.tea_house, order)["Green tea"]
    owner = owner_of(mall.tea_house)
    owner.locale, user.locale = "en", "zh_Hans_CN"
    case = after_sales.request_case(user.id, order.id, "refund_only", {line.id: 1}, "damaged")
    in_store(mall.tea_house, after_sales.reject, case.id, "Photo shows no damage")
    db.session.commit()
    work(app)
    messages = {(m.user_id, m.subject) for m in db.session.scalars(select(SiteMessage))}
    assert (owner.id, f"After-sales request on order {order.number}") in messages  # each in their language
    assert (user.id, "售后申请被拒绝") in messages


def test_an_exchange_can_reuse_the_returned_unit(app, db, make_user, mall):
    """The returned unit is back in stock before the replacement takes one."""
    user = shopper(make_user)
    order = shipped_order(app, db, mall, user, (mall.black, 2))  # all of the black tea
    line = lines_of(mall.tea_house, order)["Black tea"]
    case = after_sales.request_case(user.id, order.id, "exchange", {line.id: 1}, "damaged")
    in_store(mall.tea_house, after_sales.approve, case.id)
    after_sales.ship_back(user.id, order.id, case.id, "SF", "SF999000")
    db.session.commit()
    with tenant(mall.tea_house.id):
        db.session.execute(update(Sku).where(Sku.id == line.sku_id).values(stock=0))
    db.session.commit()
    # the returned unit goes back to stock first, so the replacement can take it
    in_store(mall.tea_house, after_sales.receive, case.id, True)
    assert case.status == "replaced" and stock(mall.tea_house, mall.black) == 0


def test_a_request_is_refunded_what_is_left_when_another_took_the_shipping(app, db, make_user, mall):
    user = shopper(make_user)
    order = shipped_order(app, db, mall, user, (mall.green, 1), (mall.black, 1))  # ¥84 + ¥10 shipping
    lines = lines_of(mall.tea_house, order)
    black = after_sales.request_case(user.id, order.id, "refund_only", {lines["Black tea"].id: 1}, "other")
    green = after_sales.request_case(user.id, order.id, "refund_only", {lines["Green tea"].id: 1}, "other")
    assert (black.requested_cents, green.requested_cents) == (4500, 4900)  # the second takes all that is left
    in_store(mall.tea_house, after_sales.approve, black.id, amount="55")  # the store refunds shipping with it
    with tenant(mall.tea_house.id):
        after_sales._expire(order, green)  # the store stays silent on the other: approved automatically
    assert (green.status, green.refund_cents) == ("refunded", 3900)
    assert order.refunded_cents == order.total_cents == 9400 and check_ledger().ok


def test_the_platform_cannot_refund_more_than_is_left(app, db, make_user, mall):
    user = shopper(make_user)
    order = shipped_order(app, db, mall, user, (mall.green, 2))
    line = lines_of(mall.tea_house, order)["Green tea"]
    case = after_sales.request_case(user.id, order.id, "refund_only", {line.id: 1}, "damaged")
    in_store(mall.tea_house, after_sales.reject, case.id, "No damage")
    after_sales.escalate(user.id, order.id, case.id, "It is damaged")
    judge = make_user(operator_role="operator")
    with pytest.raises(after_sales.AfterSalesError, match=r"at most ¥39\.00"):
        after_sales.decide(judge, order.id, case.id, True, "Damaged", amount="40")
    assert case.status == "disputed" and order.refunded_cents == 0
