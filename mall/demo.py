"""Demo data for ``mall serve``: an operator, two decorated stores with staff and products, more stores
with generated products, a consumer (idempotent)."""

from __future__ import annotations

from sqlalchemy import select

from mall.catalog.generate import generate_catalog, stock_store
from mall.catalog.models import PublicProduct, Sku
from mall.extensions import db
from mall.identity import services as accounts
from mall.merchants import services as stores
from mall.merchants.models import StaffMember, StaffRole
from mall.tenancy import tenant

DEMO_PASSWORD = "mall12345"
DEMO_SKUS_PER_STORE = 60  # approved products (a few SKUs each) in every demo store
DEMO_EXTRA_STORES = 6  # more stores with generated products, so browsing and search have content


def _user(username: str, email: str, phone: str | None = None):
    return accounts.find_user(username) or accounts.register_user(
        username, DEMO_PASSWORD, email=email, phone=phone, locale="zh_Hans_CN"
    )


DEMO_STORES = {
    "yuexiang": {
        "theme": "magazine",
        "colours": ((196, 72, 48), (248, 196, 112)),
        "banner": "秋冬家居焕新季",
        "notice": "全场满 199 元包邮，下单后 48 小时内发货。",
        "html": "<h2>关于悦享</h2><p>我们精选<strong>家居好物</strong>，每一件都经过亲自试用。</p>"
        "<ul><li>七天无理由退换</li><li>正品保障</li></ul>",
        "profile": {
            "intro": "精选家居生活好物的品牌旗舰店。",
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "address": "文三路 100 号",
            "service_phone": "0571-88886666",
            "service_hours": "每天 9:00–21:00",
            "offers_express": "1",
        },
    },
    "moxiang-books": {
        "theme": "classic",
        "colours": ((40, 70, 110), (150, 190, 220)),
        "banner": "新书上架 · 开卷有益",
        "notice": "会员购书享九五折。",
        "html": "<h2>墨香书屋</h2><p>一家小而美的独立书店，专注人文社科与诗歌。</p>",
        "profile": {
            "intro": "独立书店，人文社科与诗歌。",
            "province": "上海市",
            "city": "上海市",
            "district": "徐汇区",
            "address": "复兴西路 20 号",
            "service_phone": "021-66668888",
            "service_hours": "周一至周日 10:00–20:00",
            "offers_express": "1",
            "offers_pickup": "1",
            "pickup_address": "复兴西路 20 号门店",
        },
    },
}


def _banner_png(colours: tuple) -> bytes:
    """A simple gradient banner, so the demo needs no image files."""
    import io

    from PIL import Image

    width, height = 1200, 400
    (r1, g1, b1), (r2, g2, b2) = colours
    image = Image.new("RGB", (width, height))
    for x in range(width):
        t = x / (width - 1)
        colour = (round(r1 + (r2 - r1) * t), round(g1 + (g2 - g1) * t), round(b1 + (b2 - b1) * t))
        image.paste(colour, (x, 0, x + 1, height))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _decorate(owner, slug: str) -> None:
    """Store settings and a published decoration for a demo store that has none yet."""
    from mall.decoration import services as decoration
    from mall.merchants import settings
    from mall.storage.services import Upload

    spec = DEMO_STORES[slug]
    if settings.get_store_profile() is None:
        settings.update_store_profile(owner, spec["profile"])
    if decoration.live_version() is not None:
        return
    decoration.set_theme(owner, spec["theme"])
    banner = {"slides-new-image": Upload(_banner_png(spec["colours"]), "banner.png")}
    decoration.add_module(owner, "banner", {"slides-new-alt": spec["banner"]}, banner)
    decoration.add_module(owner, "notice", {"text": spec["notice"], "style": "promo"}, {})
    decoration.add_module(owner, "rich_text", {"html": spec["html"]}, {})
    decoration.add_module(owner, "product_grid", {"title": "新品上架", "source": "newest", "limit": "8"}, {})
    decoration.publish(owner)


def _demo_orders(buyer, owner) -> None:
    """The buyer's address and orders in several states (paid through the sandbox, shipped,
    received, completed; one awaiting payment) and two after-sales cases, so every order page,
    the after-sales pages and the ledger have data."""
    from flask import current_app

    from mall.merchants import settings
    from mall.trading import addresses
    from mall.trading import cart as carts
    from mall.trading import checkout as checkouts
    from mall.trading.models import Order

    if db.session.query(Order).filter_by(user_id=buyer.id).first() is not None:
        return
    if addresses.default_address(buyer.id) is None:
        addresses.add_address(
            buyer.id,
            {"recipient": "李明", "phone": "13900000001", "province": "上海市", "city": "上海市", "district": "黄浦区",
             "detail": "南京东路 100 号 5 楼", "postcode": "200001", "label": "家"},
        )  # fmt: skip
    yuexiang = stores.get_merchant_by_slug("yuexiang")
    with tenant(yuexiang.id):
        settings.update_shipping_rule(owner, "8", "99")
    rows = list(
        db.session.scalars(
            select(PublicProduct)
            .where(PublicProduct.merchant_id.in_([yuexiang.id, stores.get_merchant_by_slug("moxiang-books").id]))
            .where(PublicProduct.is_visible.is_(True), PublicProduct.stock_total > 5)
            .order_by(PublicProduct.id)
            .limit(6)
        )
    )
    with current_app.test_request_context():
        for step, row in enumerate(rows[:5]):
            cart = carts.get_or_create_cart(user_id=buyer.id)
            _put_in_cart(cart, row)
            checkout = checkouts.place_order(buyer.id, cart, idempotency_key=f"demo-checkout-{step:02d}-{row.id}")
            if step == 4:
                continue  # left awaiting payment
            _pay(buyer, checkout)
            (order,) = checkout.orders
            _advance(buyer, owner, order, step)
            if step in (1, 2):
                _demo_case(buyer, owner, order, step)
        _demo_coupon_order(buyer, owner)


def _put_in_cart(cart, row) -> None:
    """One unit of a product (a SKU with stock) in the cart."""
    from mall.trading import cart as carts

    with tenant(row.merchant_id):
        sku_id = db.session.scalar(select(Sku.id).where(Sku.product_id == row.id, Sku.stock > 2).limit(1))
    carts.add_to_cart(cart, row.id, sku_id, 1)


def _pay(buyer, checkout) -> None:
    """Pay the checkout on the sandbox gateway (its notification applied at once)."""
    from mall.payments import services as payments
    from mall.payments.sandbox import decide

    payment, _url = payments.start_payment(buyer.id, checkout.id, "sandbox")
    decide(payment.provider_ref, "pay")
    payments.capture(payment, payment.amount_cents)


def _advance(buyer, owner, order, step: int) -> None:
    """Take a paid order on: shipped (step 1), received (2), completed (3)."""
    from mall.trading import fulfilment

    if step >= 1:
        with tenant(order.merchant_id):
            fulfilment.ship(owner, order.id, "顺丰速运", f"SF{1000000 + order.id}")
    if step >= 2:
        fulfilment.confirm_receipt(buyer.id, order.id)
    if step >= 3:
        fulfilment.complete(order)


def _demo_coupon_order(buyer, owner) -> None:
    """One checkout across both stores with the mall's welcome coupon, completed: its orders, and
    the statement, show how the platform-funded discount splits."""
    from mall.trading import cart as carts
    from mall.trading import checkout as checkouts

    cart = carts.get_or_create_cart(user_id=buyer.id)
    for slug in ("yuexiang", "moxiang-books"):
        row = db.session.scalar(
            select(PublicProduct)
            .where(PublicProduct.merchant_id == stores.get_merchant_by_slug(slug).id)
            .where(PublicProduct.is_visible.is_(True), PublicProduct.stock_total > 5)
            .order_by(PublicProduct.id.desc())
            .limit(1)
        )
        _put_in_cart(cart, row)
    checkout = checkouts.place_order(buyer.id, cart, idempotency_key="demo-checkout-coupon", coupon_code="WELCOME10")
    _pay(buyer, checkout)
    for order in checkout.orders:
        _advance(buyer, owner, order, 3)


def _demo_coupons(admin) -> None:
    """The mall's coupons: one offered at checkout from ¥199, a welcome coupon by code."""
    from datetime import UTC, datetime, timedelta

    from mall.marketing import coupons

    start = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    end = (datetime.now(UTC) + timedelta(days=365)).strftime("%Y-%m-%d")
    for code, values in (
        ("MALL20", {"name": "满199减20", "kind": "amount", "amount_yuan": "20", "min_spend_yuan": "199"}),
        ("WELCOME10", {"name": "新人九折券", "kind": "percent", "percent": "10", "max_yuan": "30", "is_public": False}),
    ):
        if coupons.find_coupon(code) is None:
            form = coupons.CouponForm(code=code, starts_at=start, ends_at=end, per_user_limit="1", **values)
            coupons.create_coupon(admin, form)


def _demo_case(buyer, owner, order, step: int) -> None:
    """After-sales: a return waiting for the store (shipped order), a partial refund given (received)."""
    from mall.trading import after_sales
    from mall.trading.orders import order_lines

    line = order_lines(order)[0]
    if step == 1:
        after_sales.request_case(buyer.id, order.id, "return_refund", {line.id: 1}, "size", "尺码偏小，想退货。")
        return
    case = after_sales.request_case(
        buyer.id, order.id, "refund_only", {line.id: 1}, "damaged", "外包装有压痕，商品可用。", amount="5"
    )
    with tenant(order.merchant_id):
        after_sales.approve(owner, case.id)


def _demo_finance(admin) -> None:
    """The demo stores' verified bank accounts and paid deposits, and a settlement statement of the
    completed order waiting for the store to confirm it."""
    from datetime import UTC, datetime

    from mall.finance import deposits, settlement
    from mall.finance.models import SettlementRun
    from mall.onboarding.models import MerchantApplication

    if db.session.scalar(select(SettlementRun.id).limit(1)) is not None:
        return
    for slug, number in (("yuexiang", "6222021001112223333"), ("moxiang-books", "6222021001114445555")):
        merchant = stores.get_merchant_by_slug(slug)
        db.session.add(
            MerchantApplication(
                applicant_id=admin.id,
                status="approved",
                merchant_id=merchant.id,
                bank_account_name=merchant.name,
                bank_name="上海银行",
                bank_account_number=number,
            )
        )
        deposits.record_payment(admin, merchant.id, "5000", f"DEMO-{slug}")
    settlement.run_settlement(admin, cutoff=datetime.now(UTC))


def load_demo() -> dict:
    """Create whatever of the demo set is missing and commit; returns the logins to print."""
    admin = _user("admin", "admin@demo.mall.localhost")
    accounts.grant_operator_role(admin, role_code="sysadmin")
    finance = _user("finance", "finance@demo.mall.localhost")
    accounts.grant_operator_role(finance, role_code="finance")
    owner = _user("merchant", "merchant@demo.mall.localhost", "13800000001")
    clerk = _user("clerk01", "clerk@demo.mall.localhost")
    buyer = _user("buyer", "buyer@demo.mall.localhost", "13900000001")

    for name, slug in (("悦享生活旗舰店", "yuexiang"), ("墨香书屋", "moxiang-books")):
        merchant = stores.get_merchant_by_slug(slug) or stores.create_merchant(name, slug, owner)
        with tenant(merchant.id):
            _decorate(owner, slug)
            if not db.session.query(StaffRole).filter_by(name="客服主管").first():
                role = StaffRole(name="客服主管", permissions=["service.manage", "orders.manage", "oplog.view"])
                db.session.add(role)
                db.session.flush()
            else:
                role = db.session.query(StaffRole).filter_by(name="客服主管").one()
            if not db.session.query(StaffMember).filter_by(user_id=clerk.id).first():
                stores.add_staff(owner, clerk.username, f"custom:{role.id}")
        stock_store(merchant, DEMO_SKUS_PER_STORE)
    db.session.commit()
    generate_catalog(stores=DEMO_EXTRA_STORES, skus=DEMO_EXTRA_STORES * DEMO_SKUS_PER_STORE)
    _demo_coupons(admin)
    _demo_orders(buyer, owner)
    _demo_finance(admin)
    db.session.commit()
    return {
        "password": DEMO_PASSWORD,
        "accounts": {
            "operator": ("admin", "/platform/"),
            "merchant": ("merchant", "/merchant/"),
            "consumer": ("buyer", "/account/login"),
        },
    }
