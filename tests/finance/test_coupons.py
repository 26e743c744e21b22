"""Mall coupons, the platform-funded discount (P-08, C-10, P-07): the operator sets them up; a coupon
spanning several stores is split over their lines to the cent; the buyer pays less, the platform
pays the difference and each store is credited its full price; refunds take the platform's share
back in proportion; statements show the split; limits hold and an unused coupon comes back."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from mall.errors import DomainError, PermissionDenied
from mall.extensions import db
from mall.finance import adjustments, reports
from mall.ledger.services import check_ledger, merchant_account, normal_balance, platform_account
from mall.marketing import coupons
from mall.marketing.models import CouponRedemption, PlatformCoupon
from mall.payments import sandbox
from mall.payments import services as payments
from mall.payments.models import Refund
from mall.tenancy import tenant
from mall.trading import cancellation, fulfilment
from mall.trading import checkout as checkouts
from mall.trading import orders as order_service
from mall.trading.models import Checkout, Order, OrderLine
from tests.conftest import login
from tests.finance.test_settlement import finance_mall, settle
from tests.jobs.helpers import work
from tests.merchant.helpers import area_client
from tests.merchant.helpers import english as english_client
from tests.trading.helpers import shopper, stock
from tests.trading.test_fulfilment import owner_of

pytestmark = pytest.mark.usefixtures("english")
YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")


@pytest.fixture()
def mall(app, db, make_merchant):
    return finance_mall(app, db, make_merchant)


@pytest.fixture()
def marketer(make_user):
    return make_user(operator_role="operator")


@pytest.fixture()
def finance(make_user):
    return make_user(operator_role="finance")


def coupon(marketer, code="CUT20", **values) -> PlatformCoupon:
    form = dict(name="¥20 off from ¥100", kind="amount", amount_yuan="20", min_spend_yuan="100",
                starts_at=YESTERDAY, ends_at="2099-01-01", per_user_limit="1")  # fmt: skip
    form.update(values)
    return coupons.create_coupon(marketer, coupons.CouponForm(code=code, **form))


def place(mall, user, *items, code="CUT20") -> Checkout:
    """Place a checkout as the page does: all of it, or (refused) nothing."""
    cart = mall.fill_cart(user.id, *items)
    with db.session.begin_nested():
        return checkouts.place_order(user.id, cart, idempotency_key=uuid.uuid4().hex, coupon_code=code)


def pay(app, db, user, checkout: Checkout) -> None:
    with app.test_request_context():
        payment, _url = payments.start_payment(user.id, checkout.id, "sandbox")
    sandbox.decide(payment.provider_ref, "pay")
    db.session.commit()
    work(app)
    db.session.expire_all()


def lines_of(order: Order) -> list[OrderLine]:
    with tenant(order.merchant_id):
        return list(db.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)))


def by_store(mall, checkout: Checkout) -> tuple[Order, Order]:
    orders = {o.merchant_id: o for o in db.session.get(Checkout, checkout.id).orders}
    return orders[mall.tea_house.id], orders[mall.pottery.id]


def test_a_coupon_across_two_stores_is_split_to_the_cent_and_funded_by_the_platform(app, db, make_user, mall, marketer):
    coupon(marketer)
    user = shopper(make_user)
    # Tea House: green x2 ¥78 + ¥10 express; Pottery: cup x3 ¥36. ¥20 off ¥114 of goods.
    checkout = place(mall, user, (mall.green, 2), (mall.cup, 3))
    tea, pottery = by_store(mall, checkout)
    # Split over what each line has to give (its price less the cent the buyer keeps paying):
    # 2000 x 7799/11398 = 1368.48 and 2000 x 3599/11398 = 631.51: the last cent to the larger remainder.
    assert (tea.platform_discount_cents, pottery.platform_discount_cents) == (1368, 632)
    assert [line.platform_discount_cents for line in lines_of(tea) + lines_of(pottery)] == [1368, 632]
    assert (tea.total_cents, tea.payable_cents, pottery.total_cents, pottery.payable_cents) == (8800, 7432, 3600, 2968)
    assert checkout.total_cents == 10400
    redemption = db.session.scalar(select(CouponRedemption).where(CouponRedemption.checkout_id == checkout.id))
    assert redemption.discount_cents == 2000 and db.session.get(PlatformCoupon, redemption.coupon_id).used_count == 1

    pay(app, db, user, checkout)
    tea, pottery = by_store(mall, checkout)
    assert tea.status == pottery.status == "paid"
    assert normal_balance(platform_account("provider_clearing")) == 10400  # what the buyer paid
    assert normal_balance(platform_account("discount_expense")) == 2000  # what the mall paid
    # each store is owed its full price less commission (5 %: ¥3.90 and ¥1.80)
    assert normal_balance(merchant_account(mall.tea_house.id, "pending")) == 8800 - 390
    assert normal_balance(merchant_account(mall.pottery.id, "pending")) == 3600 - 180
    assert check_ledger().ok
    day = datetime.now(UTC)
    totals = reports.report(day - timedelta(days=1), day + timedelta(days=1)).totals
    assert (totals.gmv_cents, totals.discounts_cents) == (12400, 2000)  # the finance report's "platform-funded"


def test_cancelling_a_paid_order_refunds_what_the_buyer_paid_and_takes_the_coupon_back(
    app, db, make_user, mall, marketer
):
    coupon(marketer)
    user = shopper(make_user)
    checkout = place(mall, user, (mall.green, 2), (mall.cup, 3))
    pay(app, db, user, checkout)
    tea, _pottery = by_store(mall, checkout)
    cancellation.cancel_paid_order(tea, "changed my mind", owner_of(mall.tea_house).id)
    (refund,) = db.session.scalars(select(Refund).where(Refund.order_id == tea.id))
    assert (refund.amount_cents, refund.platform_cents, refund.commission_cents) == (7432, 1368, 390)
    assert normal_balance(merchant_account(mall.tea_house.id, "pending")) == 0
    assert normal_balance(platform_account("discount_expense")) == 632  # only the pottery's share is spent
    assert normal_balance(platform_account("refunds_due")) == 7432
    assert check_ledger().ok


def test_a_refund_after_completion_and_the_statement_show_the_coupon(app, db, make_user, mall, marketer, finance):
    coupon(marketer, min_spend_yuan="50")
    user = shopper(make_user)
    checkout = place(mall, user, (mall.green, 2))  # ¥78 goods + ¥10 express, ¥20 off
    pay(app, db, user, checkout)
    (order,) = db.session.get(Checkout, checkout.id).orders
    assert (order.platform_discount_cents, order.payable_cents) == (2000, 6800)
    with tenant(mall.tea_house.id):
        fulfilment.ship(owner_of(mall.tea_house), order.id, "SF", "SF123456")
    fulfilment.confirm_receipt(user.id, order.id)
    fulfilment.complete(order)
    assert normal_balance(merchant_account(mall.tea_house.id, "available")) == 8800 - 390

    # Finance refunds ¥34 of the ¥68 the buyer paid: half, so half the coupon (¥10) goes back to the
    # platform and the store gives back ¥44 less half the commission it paid (¥1.95).
    refund = adjustments.refund_completed_order(finance, order.id, "34", "goodwill")
    assert (refund.amount_cents, refund.platform_cents, refund.commission_cents) == (3400, 1000, 195)
    assert normal_balance(merchant_account(mall.tea_house.id, "available")) == 8410 - 4400 + 195
    assert normal_balance(platform_account("discount_expense")) == 1000
    with pytest.raises(DomainError, match=r"at most ¥34\.00"):
        adjustments.refund_completed_order(finance, order.id, "34.01", "more than the buyer paid")

    statement = settle(mall, finance)[mall.tea_house.id]
    completed, clawback = _statement_lines(statement)
    assert (completed.sales_cents, completed.platform_discount_cents, completed.net_cents) == (8800, 2000, 8410)
    assert (clawback.refunds_cents, clawback.platform_discount_cents, clawback.net_cents) == (4400, -1000, -4205)
    assert statement.total_cents == 8410 - 4205 == normal_balance(merchant_account(mall.tea_house.id, "available"))
    assert statement.platform_discount_cents == 1000
    assert check_ledger().ok


def _statement_lines(statement):
    from mall.finance import settlement

    lines = [line for line, _order in settlement.statement_lines(statement)]
    return sorted(lines, key=lambda line: line.kind != "order_completed")


def test_limits_hold_and_an_unpaid_coupon_comes_back(app, db, make_user, mall, marketer):
    coupon(marketer, "ONCE", total_quantity="1")
    user, other = shopper(make_user), shopper(make_user)
    first = place(mall, user, (mall.green, 3), code="once")  # codes are not case-sensitive
    assert first.total_cents == 11700 - 2000
    with pytest.raises(DomainError, match="already used coupon ONCE"):
        place(mall, user, (mall.cup, 9), code="ONCE")
    with pytest.raises(DomainError, match="used up"):
        place(mall, other, (mall.cup, 9), code="ONCE")
    with pytest.raises(DomainError, match="no coupon with this code"):
        place(mall, other, (mall.cup, 9), code="NOPE")
    coupon(marketer)
    with pytest.raises(DomainError, match=r"needs goods of at least ¥100\.00"):
        place(mall, shopper(make_user), (mall.cup, 1), code="CUT20")
    # nothing was placed by the refusals, nor any stock taken
    assert db.session.scalar(select(func.count()).select_from(Checkout)) == 1
    assert stock(mall.pottery, mall.cup) == 50
    (order,) = db.session.get(Checkout, first.id).orders
    order_service.cancel_unpaid_order(user.id, order.id)
    assert db.session.scalar(select(PlatformCoupon.used_count).where(PlatformCoupon.code == "ONCE")) == 0
    assert db.session.scalar(select(CouponRedemption.status)) == "released"
    again = place(mall, shopper(make_user), (mall.green, 3), code="ONCE")  # the use came back
    assert again.total_cents == 9700


def test_a_percentage_coupon_is_capped_and_the_store_discount_leaves_a_cent_a_line(app, db, make_user, mall, marketer):
    coupon(marketer, "PCT10", kind="percent", amount_yuan="", percent="10", max_yuan="5", min_spend_yuan="")
    user = shopper(make_user)
    checkout = place(mall, user, (mall.cup, 2), code="PCT10")  # 10 % of ¥24 = ¥2.40
    (order,) = db.session.get(Checkout, checkout.id).orders
    assert order.platform_discount_cents == 240
    checkout = place(mall, user, (mall.green, 2), code="")  # no coupon at all
    assert db.session.get(Checkout, checkout.id).orders[0].platform_discount_cents == 0
    assert coupons.coupon_discount(db.session.scalar(select(PlatformCoupon)), 100_00, 1) == 500  # the cap
    owner = owner_of(mall.pottery)
    with tenant(mall.pottery.id), pytest.raises(DomainError, match=r"below ¥0\.01"):
        fulfilment.change_price(owner, order.id, "0", "21.60")  # ¥24 - ¥2.40 coupon - ¥21.60 = 0
    with tenant(mall.pottery.id):
        fulfilment.change_price(owner, order.id, "0", "21.59")
    assert order.payable_cents == 1 and db.session.get(Checkout, order.checkout_id).total_cents == 1


def test_operators_set_coupons_up_with_checked_values(app, db, make_user, marketer, finance):
    bad = [
        ({"code": "x"}, "3 to 32 letters"),
        ({"amount_yuan": "0"}, "more than ¥0"),
        ({"min_spend_yuan": "20"}, "minimum spend must be more than the amount off"),
        ({"kind": "percent", "percent": "100"}, "less than 100"),
        ({"ends_at": YESTERDAY}, "end must come after the start"),
        ({"starts_at": "soon"}, "Give a date like"),
        ({"per_user_limit": "0"}, "whole number greater than zero"),
    ]
    for values, message in bad:
        with pytest.raises(DomainError, match=message):
            coupon(marketer, **{"code": "GOOD1", **values})
    coupon(marketer, "GOOD1")
    with pytest.raises(DomainError, match="Another coupon has this code"):
        coupon(marketer, "good1")
    with pytest.raises(PermissionDenied):
        coupon(finance, "GOOD2")
    stopped = coupons.stop_coupon(marketer, db.session.scalar(select(PlatformCoupon.id)))
    assert stopped.disabled_at is not None
    with pytest.raises(DomainError, match="has ended"):
        coupons.check_usable(stopped, marketer.id, 100_000, 1)
    assert [c.code for c in db.session.scalars(select(PlatformCoupon))] == ["GOOD1"]


def _hidden(page: str) -> dict:
    fields = dict(re.findall(r'<input type="hidden" name="(csrf_token|key|total_cents)" value="([^"]*)"', page))
    fields["address_id"] = re.search(r'name="address_id" value="(\d+)" checked', page).group(1)
    return fields


def test_the_checkout_page_offers_the_best_coupon_and_the_order_pages_show_the_split(
    app, db, client, make_user, mall, marketer
):
    coupon(marketer)
    coupon(marketer, "HIDDEN5", name="Staff ¥5", amount_yuan="5", min_spend_yuan="", is_public=False)
    user = shopper(make_user, "coupon_buyer")
    mall.fill_cart(user.id, (mall.green, 2), (mall.cup, 3))
    login(english_client(client), user.username)
    page = client.get("/checkout").get_data(as_text=True)
    assert 'value="CUT20" checked' in page and "HIDDEN5" not in page  # the best public one, picked
    assert 'id="checkout-coupon-discount">−¥20.00<' in page and 'id="checkout-total">¥104.00<' in page
    form = _hidden(page)
    wrong = client.post("/checkout", data={**form, "coupon_code": "nope", "action": "update"}).get_data(as_text=True)
    assert 'id="coupon-error"' in wrong and "There is no coupon with this code." in wrong
    assert 'id="checkout-total">¥124.00<' in wrong  # no coupon while the code is wrong
    refused = client.post("/checkout", data={**_hidden(wrong), "coupon_code": "nope", "action": "place"})
    assert refused.status_code == 400 and db.session.scalar(select(func.count()).select_from(Checkout)) == 0
    typed = client.post("/checkout", data={**form, "coupon_code": "hidden5", "action": "update"}).get_data(as_text=True)
    assert 'id="checkout-total">¥119.00<' in typed and 'value="HIDDEN5"' in typed
    placed = client.post("/checkout", data={**_hidden(typed), "coupon_code": "HIDDEN5", "action": "place"})
    assert placed.status_code == 302
    tea, pottery = by_store(mall, db.session.scalar(select(Checkout)))
    assert tea.platform_discount_cents + pottery.platform_discount_cents == 500
    mine = client.get(f"/orders/{tea.id}").get_data(as_text=True)
    assert f"Mall coupon −¥{tea.platform_discount_cents / 100:.2f}" in mine

    store = area_client(app, owner_of(mall.tea_house), "merchant")
    detail = store.get(f"/merchant/orders/{tea.id}").get_data(as_text=True)
    assert "Mall coupon (platform-funded)" in detail
    assert f"Buyer pays ¥{tea.payable_cents / 100:.2f}" in detail
    operator = area_client(app, marketer, "platform")
    oversight = operator.get(f"/platform/platform_orders/{pottery.id}").get_data(as_text=True)
    assert f"Mall coupon, paid by the mall: ¥{pottery.platform_discount_cents / 100:.2f}" in oversight


def test_the_coupons_page(app, db, make_user, marketer):
    operator = area_client(app, marketer, "platform")
    page = operator.get("/platform/platform_coupons/").get_data(as_text=True)
    assert "No coupons yet." in page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', page)
    token = token.group(1) or token.group(2)
    data = {"csrf_token": token, "code": "new10", "name": "New buyers", "kind": "amount", "amount_yuan": "10",
            "min_spend_yuan": "50", "starts_at": YESTERDAY, "ends_at": "2099-01-01", "per_user_limit": "1",
            "is_public": "1"}  # fmt: skip
    bad = operator.post("/platform/platform_coupons/", data={**data, "min_spend_yuan": "5"})
    assert bad.status_code == 400 and "minimum spend must be more than the amount off" in bad.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(PlatformCoupon)) == 0
    done = operator.post("/platform/platform_coupons/", data=data, follow_redirects=True).get_data(as_text=True)
    assert "Coupon NEW10 added." in done and "¥10.00 off · on goods from ¥50.00" in done
    stranger = area_client(app, make_user(operator_role="finance"), "platform")
    assert stranger.get("/platform/platform_coupons/").status_code == 403


def test_parallel_checkouts_never_use_a_coupon_more_often_than_it_allows(app, committed_db, make_user, make_merchant):
    import threading

    from flask_babel import force_locale

    from mall.trading import cart as carts

    mall = finance_mall(app, committed_db, make_merchant)
    coupon(make_user(operator_role="operator"), "TWO", total_quantity="2", min_spend_yuan="")
    buyers = [shopper(make_user) for _ in range(5)]
    greedy = buyers[0]  # also tries twice at once: one use per buyer
    for buyer in buyers:
        mall.fill_cart(buyer.id, (mall.cup, 1))
    committed_db.session.commit()
    results: list[str] = []
    attempts = [*buyers, greedy]
    barrier = threading.Barrier(len(attempts))

    def buy(user_id: int) -> None:
        with app.app_context(), force_locale("en"):
            try:
                cart = carts.find_cart(user_id=user_id)
                barrier.wait(10)
                checkouts.place_order(user_id, cart, idempotency_key=uuid.uuid4().hex, coupon_code="TWO")
                committed_db.session.commit()
                results.append("used")
            except DomainError as error:
                committed_db.session.rollback()
                results.append(error.message)
            except Exception as error:  # reported below
                committed_db.session.rollback()
                results.append(f"crash: {error!r}")

    threads = [threading.Thread(target=buy, args=(user.id,)) for user in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results.count("used") == 2, results
    assert all("used up" in r or "already used" in r or "only 0 left" in r for r in results if r != "used"), results
    committed_db.session.expire_all()
    assert committed_db.session.scalar(select(PlatformCoupon.used_count).where(PlatformCoupon.code == "TWO")) == 2
    assert committed_db.session.scalar(select(func.count()).select_from(CouponRedemption)) == 2
    per_buyer = committed_db.session.execute(
        select(CouponRedemption.user_id, func.count()).group_by(CouponRedemption.user_id)
    ).all()
    assert all(n == 1 for _user, n in per_buyer)


def test_an_after_sales_refund_takes_back_the_coupon_share_of_what_it_refunds(app, db, make_user, mall, marketer):
    from mall.trading import after_sales

    coupon(marketer, min_spend_yuan="50")
    user = shopper(make_user)
    checkout = place(mall, user, (mall.green, 2), (mall.black, 1))  # ¥78 + ¥45, free express from ¥100
    pay(app, db, user, checkout)
    (order,) = db.session.get(Checkout, checkout.id).orders
    green, black = lines_of(order)
    # 2000 x 7799/12298 = 1268.3, 2000 x 4499/12298 = 731.7: the last cent to black tea
    assert (green.platform_discount_cents, black.platform_discount_cents, order.payable_cents) == (1268, 732, 10300)
    owner = owner_of(mall.tea_house)
    with tenant(mall.tea_house.id):
        fulfilment.ship(owner, order.id, "SF", "SF123456")
    case = after_sales.request_case(user.id, order.id, "refund_only", {green.id: 1}, "other")
    with tenant(mall.tea_house.id):
        after_sales.approve(owner, case.id)
    # one of two green teas: half of what the buyer paid for the line (¥78 - ¥12.68 = ¥65.32),
    # half of its coupon share and half of its commission (¥3.90)
    (refund,) = db.session.scalars(select(Refund).where(Refund.order_id == order.id))
    assert (refund.amount_cents, refund.platform_cents, refund.commission_cents) == (3266, 634, 195)
    assert normal_balance(platform_account("discount_expense")) == 2000 - 634
    pending = normal_balance(merchant_account(mall.tea_house.id, "pending"))
    assert pending == (12300 - 390 - 225) - (3266 + 634 - 195) == 7980
    fulfilment.confirm_receipt(user.id, order.id)
    fulfilment.complete(order)
    assert normal_balance(merchant_account(mall.tea_house.id, "available")) == 7980
    assert normal_balance(merchant_account(mall.tea_house.id, "pending")) == 0
    assert check_ledger().ok
