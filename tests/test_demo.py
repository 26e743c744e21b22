from __future__ import annotations

from sqlalchemy import func, select

from mall.catalog.models import Product, PublicProduct, Sku
from mall.decoration.models import DecorationVersion
from mall.identity.models import User
from mall.merchants.models import Merchant, StaffMember
from mall.tenancy import tenant


def test_demo_data_lives_in_the_store_schemas_and_loads_twice(app, db, client):
    from mall.demo import DEMO_EXTRA_STORES, DEMO_SKUS_PER_STORE, load_demo

    logins = load_demo()
    load_demo()  # idempotent
    assert db.session.scalar(select(func.count(User.id))) == 6  # with the owner of the generated stores
    assert db.session.scalar(select(func.count(Merchant.id))) == 2 + DEMO_EXTRA_STORES
    merchants = db.session.scalars(select(Merchant).where(~Merchant.slug.like("gen%")).order_by(Merchant.slug)).all()
    assert [m.slug for m in merchants] == ["moxiang-books", "yuexiang"]
    for merchant in merchants:
        with tenant(merchant.id):
            assert db.session.scalar(select(func.count(StaffMember.id))) == 2
            assert db.session.scalar(select(func.count(DecorationVersion.id))) == 1
            assert db.session.scalar(select(func.count(Sku.id))) == DEMO_SKUS_PER_STORE
            products = db.session.scalar(select(func.count(Product.id)))
        visible = select(func.count()).where(PublicProduct.merchant_id == merchant.id, PublicProduct.is_visible)
        assert db.session.scalar(visible) == products > 0
        page = client.get(f"/shop/{merchant.slug}/").get_data(as_text=True)
        assert merchant.name in page and "新品上架" in page
    assert logins["accounts"]["operator"][0] == "admin"


def test_the_demo_buyer_has_orders_in_every_state_and_the_ledger_holds(app, db):
    from mall.demo import load_demo
    from mall.ledger.services import check_ledger
    from mall.trading.models import Order

    load_demo()
    load_demo()  # no second set of orders
    statuses = sorted(db.session.scalars(select(Order.status)))
    assert statuses == ["awaiting_payment", "completed", "completed", "completed", "paid", "received", "shipped"]
    # the welcome coupon (10 %, the mall pays) split over the two stores' orders of one checkout
    coupon_orders = list(db.session.scalars(select(Order).where(Order.platform_discount_cents > 0)))
    assert len({o.merchant_id for o in coupon_orders}) == 2 and len({o.checkout_id for o in coupon_orders}) == 1
    assert sorted(db.session.scalars(select(Order.case_status).where(Order.case_status.is_not(None)))) == [
        "closed",
        "open",
    ]  # a return waiting for the store, a partial refund given
    assert db.session.scalar(select(func.sum(Order.refunded_cents))) == 500
    result = check_ledger()
    assert result.ok and result.entries == 11  # five payments, three completions, one refund, two deposits
    from mall.finance.models import Statement

    statements = list(db.session.scalars(select(Statement)))
    assert [s.status for s in statements] == ["draft", "draft"]  # the completed orders', one per store
    assert sum(s.platform_discount_cents for s in statements) == sum(o.platform_discount_cents for o in coupon_orders)
    from mall.cli import ledger_check

    checked = app.test_cli_runner().invoke(ledger_check)  # what `mall ledger check` runs
    assert checked.exit_code == 0, checked.output
