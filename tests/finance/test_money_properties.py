"""Property-based: random sequences of paid and completed orders (one or two stores per checkout,
with or without a mall coupon the platform funds) under changing commission rules, after-sales
refunds, refunds after completion, finance adjustments, settlement runs, confirmations, withdrawals
(approved, paid, failed, rejected, retried) across two stores. After every step: the ledger
balances; each store's money (pending + settleable + balance + being withdrawn) equals what the test
computes on its own (sales - commission - refunds + commission given back ± adjustments - paid out);
the platform's coupon expense is what it paid for orders less what refunds took back, and every
coupon is split over its lines without losing a cent; statements hold every settleable movement
once; and no paid line's commission ever changes when rules change."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select

from mall.errors import DomainError
from mall.extensions import db
from mall.finance import adjustments, commission, settlement, withdrawals
from mall.finance.models import Statement, Withdrawal
from mall.ledger.services import check_ledger, merchant_account, normal_balance, platform_account
from mall.marketing import coupons
from mall.marketing.models import CouponRedemption
from mall.payments import sandbox
from mall.payments import services as payments
from mall.payments.models import Refund
from mall.tenancy import tenant
from mall.trading import after_sales, fulfilment
from mall.trading import checkout as checkouts
from mall.trading.models import Checkout, Order, OrderLine
from tests.finance.test_settlement import finance_mall
from tests.trading.helpers import shopper
from tests.trading.test_fulfilment import owner_of
from tests.trading.test_trading_properties import _deliver

pytestmark = pytest.mark.usefixtures("english")
YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
REACHED: Counter[str] = Counter()  # what the examples got to, so the test proves it exercised them


class Money(RuleBasedStateMachine):
    def __init__(self, app, mall, buyer, owners, finance):
        super().__init__()
        self.app, self.mall, self.buyer, self.owners, self.finance = app, mall, buyer, owners, finance
        self.products = [mall.green, mall.black, mall.cup]
        self.expected = {mall.tea_house.id: 0, mall.pottery.id: 0}  # what each store is owed, by the test
        self.frozen: dict[int, tuple[int, int]] = {}  # line id → (rate, commission) when paid
        self.savepoint = db.session.begin_nested()
        self.context = app.test_request_context()
        self.context.push()

    def teardown(self):
        for statement in db.session.scalars(select(Statement)):
            REACHED[f"statement:{statement.status}"] += 1
        for withdrawal in db.session.scalars(select(Withdrawal)):
            REACHED[f"withdrawal:{withdrawal.status}"] += 1
        REACHED["negative balance"] += sum(normal_balance(merchant_account(m, "balance")) < 0 for m in self.expected)
        REACHED["clawback"] += len(
            db.session.scalars(select(Order).where(Order.status == "completed", Order.refunded_cents > 0)).all()
        )
        self.context.pop()
        self.savepoint.rollback()
        db.session.expire_all()

    def attempt(self, action):
        try:
            with db.session.begin_nested():
                return action()
        except DomainError:
            return None

    def merchant_of(self, row):
        return self.mall.store_of(row).id

    def lines(self, order: Order) -> list[OrderLine]:
        with tenant(order.merchant_id):
            return list(db.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)))

    # --- rules ---------------------------------------------------------------------------------

    @initialize()
    def a_completed_order(self):
        self.sell(0, 1, True)

    @rule(product=st.integers(0, 2), quantity=st.integers(1, 2), also=st.integers(-1, 2), complete=st.booleans(),
          coupon=st.sampled_from(["", "", "CUT7", "PCT15"]))  # fmt: skip
    def sell(self, product, quantity, complete, also=-1, coupon=""):
        """A buyer pays a checkout of one or two products (perhaps two stores), perhaps with a mall
        coupon (commission frozen now); the stores ship; maybe they complete."""
        items = [(self.products[product], quantity)] + ([(self.products[also], 1)] if also not in (-1, product) else [])
        cart = self.mall.fill_cart(self.buyer.id, *items)
        checkout = self.attempt(
            lambda: checkouts.place_order(self.buyer.id, cart, idempotency_key=uuid.uuid4().hex, coupon_code=coupon)
        )
        if checkout is None:
            return
        payment, _url = payments.start_payment(self.buyer.id, checkout.id, "sandbox")
        sandbox.decide(payment.provider_ref, "pay")
        _deliver("payment.succeeded", payment.provider_ref, payment.amount_cents)
        for order in db.session.get(Checkout, checkout.id).orders:
            REACHED["coupon"] += bool(order.platform_discount_cents)
            lines = self.lines(order)
            for line in lines:
                self.frozen[line.id] = (line.commission_bp, line.commission_cents)
            self.expected[order.merchant_id] += order.total_cents - sum(line.commission_cents for line in lines)
            with tenant(order.merchant_id):
                fulfilment.ship(self.owners[order.merchant_id], order.id, "SF", "SF123456")
            if complete:
                fulfilment.confirm_receipt(order.user_id, order.id)
                fulfilment.complete(order)

    @rule(scope=st.sampled_from(["merchant", "category", "default", "product"]), rate=st.integers(0, 2000),
          floor=st.sampled_from(["", "1", "3"]), cap=st.sampled_from(["", "5", "50"]))  # fmt: skip
    def commission_rule_changes(self, scope, rate, floor, cap):
        target = {
            "merchant": self.mall.tea_house.slug,
            "category": str(self.mall.green.category_id),
            "default": "",
            "product": str(self.mall.cup.id),
        }[scope]
        form = commission.RuleForm(scope=scope, target=target, rate=f"{rate / 100:.2f}", min_yuan=floor,
                                   cap_yuan=cap, starts_at=YESTERDAY)  # fmt: skip
        self.attempt(lambda: commission.add_rule(self.finance, form))

    @rule(data=st.data(), cents=st.integers(1, 5000))
    def refund_before_completion(self, data, cents):
        """A refund-only request for one unit, approved at a random amount (after-sales)."""
        orders = list(db.session.scalars(select(Order).where(Order.status == "shipped", Order.total_cents > 0)))
        if not orders:
            return
        order = data.draw(st.sampled_from(orders))
        line = data.draw(st.sampled_from(self.lines(order)))
        before = self.owed_by_refunds(order)
        case = self.attempt(
            lambda: after_sales.request_case(order.user_id, order.id, "refund_only", {line.id: 1}, "other")
        )
        if case is None:
            return
        with tenant(order.merchant_id):
            self.attempt(lambda: after_sales.approve(self.owners[order.merchant_id], case.id, f"{cents / 100:.2f}"))
        self.expected[order.merchant_id] -= self.owed_by_refunds(order) - before

    def owed_by_refunds(self, order: Order) -> int:
        """What refunds took from the store for ``order``: their amount and the coupon's share of it,
        less the commission given back."""
        refunds = list(db.session.scalars(select(Refund).where(Refund.order_id == order.id)))
        return sum(r.amount_cents + r.platform_cents - r.commission_cents for r in refunds)

    @rule(data=st.data(), cents=st.integers(1, 9000))
    def refund_after_completion(self, data, cents):
        orders = list(db.session.scalars(select(Order).where(Order.status == "completed", Order.total_cents > 0)))
        if not orders:
            return
        order = data.draw(st.sampled_from(orders))
        before = self.owed_by_refunds(order)
        self.attempt(
            lambda: adjustments.refund_completed_order(self.finance, order.id, f"{cents / 100:.2f}", "goodwill")
        )
        self.expected[order.merchant_id] -= self.owed_by_refunds(order) - before

    @rule(store=st.integers(0, 1), cents=st.integers(1, 3000), credit=st.booleans())
    def adjustment(self, store, cents, credit):
        merchant = (self.mall.tea_house, self.mall.pottery)[store]
        adjustments.adjust(self.finance, merchant.id, f"{cents / 100:.2f}", "credit" if credit else "deduct", "fix")
        self.expected[merchant.id] += cents if credit else -cents

    @rule(confirm=st.booleans())
    def settlement_run(self, confirm):
        run = settlement.run_settlement(self.finance, cutoff=datetime.now(UTC) + timedelta(seconds=1))
        if run and confirm:
            for statement in db.session.scalars(select(Statement).where(Statement.run_id == run.id)):
                settlement._confirm(statement, None)

    @rule(store=st.integers(0, 1), share=st.integers(1, 120), outcome=st.sampled_from(["pay", "pay", "fail", "reject"]))
    def withdrawal(self, store, share, outcome):
        """Withdraw a share of the balance (above 100 %: refused, nothing changes)."""
        merchant = (self.mall.tea_house, self.mall.pottery)[store]
        if normal_balance(merchant_account(merchant.id, "balance")) < 1000:
            self.settlement_run(True)  # a settlement comes first, so there is a balance to withdraw
        cents = max(1000, normal_balance(merchant_account(merchant.id, "balance")) * share // 100)
        with tenant(merchant.id):
            withdrawal = self.attempt(
                lambda: withdrawals.request_withdrawal(self.owners[merchant.id], f"{cents / 100:.2f}")
            )
        if withdrawal is None:
            return
        if outcome == "reject":
            withdrawals.reject_withdrawal(self.finance, withdrawal.id, "no")
            return
        withdrawals.approve_withdrawal(self.finance, withdrawal.id)
        withdrawals.approve_withdrawal(self.finance, withdrawal.id)  # retried
        withdrawals.payout_result(withdrawal.payout_ref, outcome == "pay", "account closed")
        withdrawals.payout_result(withdrawal.payout_ref, True)  # a duplicate (or contrary) late report
        if outcome == "pay":
            self.expected[merchant.id] -= withdrawal.amount_cents

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def the_ledger_balances(self):
        assert check_ledger().ok

    @invariant()
    def each_store_is_owed_what_the_test_computes(self):
        for merchant_id, expected in self.expected.items():
            owed = sum(
                normal_balance(merchant_account(merchant_id, name))
                for name in ("pending", "available", "balance", "withdrawing")
            )
            assert owed == expected, merchant_id

    @invariant()
    def the_platform_pays_the_coupons_less_what_refunds_took_back(self):
        paid = db.session.scalar(
            select(func.coalesce(func.sum(Order.platform_discount_cents), 0)).where(Order.paid_at.is_not(None))
        )
        taken_back = db.session.scalar(select(func.coalesce(func.sum(Refund.platform_cents), 0)))
        assert normal_balance(platform_account("discount_expense")) == paid - taken_back
        for redemption in db.session.scalars(select(CouponRedemption)):
            orders = db.session.get(Checkout, redemption.checkout_id).orders
            assert sum(o.platform_discount_cents for o in orders) == redemption.discount_cents
            for order in orders:
                lines = self.lines(order)
                assert sum(line.platform_discount_cents for line in lines) == order.platform_discount_cents
                assert all(line.platform_discount_cents < line.total_cents for line in lines)

    @invariant()
    def paid_commission_never_changes(self):
        for order in db.session.scalars(select(Order).where(Order.total_cents > 0)):
            for line in self.lines(order):
                if line.id in self.frozen:
                    assert (line.commission_bp, line.commission_cents) == self.frozen[line.id]

    @invariant()
    def the_balance_is_confirmed_statements_less_payouts(self):
        for merchant_id in self.expected:
            confirmed = db.session.scalar(
                select(func.coalesce(func.sum(Statement.total_cents), 0)).where(
                    Statement.merchant_id == merchant_id, Statement.status != "draft"
                )
            )
            paid_out = db.session.scalar(
                select(func.coalesce(func.sum(Withdrawal.amount_cents), 0)).where(
                    Withdrawal.merchant_id == merchant_id, Withdrawal.status == "paid"
                )
            )
            held = normal_balance(merchant_account(merchant_id, "balance")) + normal_balance(
                merchant_account(merchant_id, "withdrawing")
            )
            assert held == confirmed - paid_out


def test_random_money_sequences_keep_every_cent(app, db, make_user, make_merchant):
    mall = finance_mall(app, db, make_merchant)
    owners = {m.id: owner_of(m) for m in (mall.tea_house, mall.pottery)}
    finance = make_user(operator_role="finance")
    buyer = shopper(make_user)
    marketer = make_user(operator_role="operator")
    for code, kind, value in (("CUT7", "amount", "7"), ("PCT15", "percent", "15")):
        form = coupons.CouponForm(code=code, name=code, kind=kind, amount_yuan=value if kind == "amount" else "",
                                  percent=value if kind == "percent" else "", starts_at=YESTERDAY,
                                  ends_at="2099-01-01", per_user_limit="100000")  # fmt: skip
        coupons.create_coupon(marketer, form)
    for row in (mall.green, mall.black, mall.cup):  # enough stock for long sequences
        from mall.catalog.models import Sku

        with tenant(mall.store_of(row).id):
            for sku in db.session.scalars(select(Sku).where(Sku.product_id == row.id)):
                sku.stock = 500
    run_state_machine_as_test(
        lambda: Money(app, mall, buyer, owners, finance),
        settings=settings(
            max_examples=50,
            deadline=None,
            stateful_step_count=30,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
    reached = {key for key, n in REACHED.items() if n}
    assert {"statement:confirmed", "withdrawal:paid", "withdrawal:failed", "clawback", "coupon"} <= reached, REACHED
