"""Out-of-stock registration (C-19): only for sold-out SKUs of visible products, idempotent; the
notice goes to every waiting shopper once when the stock goes from 0 to positive (not for 3 → 5);
the shopper's endpoint; the merchant's list."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mall.catalog import restock
from mall.catalog.inventory import adjust_stock, set_stock
from mall.catalog.models import RestockRequest
from mall.catalog.publishing import sync_public_product
from mall.errors import DomainError, NotFound
from mall.extensions import db as _db
from mall.tenancy import tenant
from tests.catalog import stock_helpers
from tests.catalog.stock_helpers import make_product, messages_to
from tests.conftest import csrf_token, login
from tests.jobs.helpers import queued_jobs, work

pytestmark = pytest.mark.usefixtures("english")  # these tests read English messages
make_shop = stock_helpers.make_shop
shop = stock_helpers.shop


def _restock_jobs() -> int:
    return sum(1 for job in queued_jobs() if "notify_restocked" in (job.description or ""))


def _waiting(merchant_id: int, sku_id: int) -> int:
    with tenant(merchant_id):
        return _db.session.scalar(
            select(func.count()).where(RestockRequest.sku_id == sku_id, RestockRequest.notified_at.is_(None))
        )


def test_registration_only_for_sold_out_skus_of_visible_products_and_idempotent(db, make_user, make_merchant):
    merchant = make_merchant()
    shopper = make_user()
    product = make_product(merchant.id, [("颜色:红", 100, 0), ("颜色:蓝", 100, 3)])
    draft = make_product(merchant.id, [("", 100, 0)], approved=False)
    red, blue = product.skus
    with tenant(merchant.id):
        assert restock.register_restock(shopper.id, red.id) is True
        assert restock.register_restock(shopper.id, red.id) is False  # already waiting
        with pytest.raises(DomainError, match="in stock"):
            restock.register_restock(shopper.id, blue.id)
        with pytest.raises(NotFound):
            restock.register_restock(shopper.id, draft.skus[0].id)
        assert restock.waiting_sku_ids(shopper.id, product.id) == {red.id}
        product.on_shelf = False
        sync_public_product(product)
        with pytest.raises(NotFound):  # off shelf: not visible any more
            restock.register_restock(make_user().id, red.id)
        assert restock.cancel_restock(shopper.id, red.id) is True
    assert _waiting(merchant.id, red.id) == 0


def test_everyone_waiting_is_told_once_when_stock_goes_from_zero_to_positive(app, db, make_user, make_merchant):
    merchant = make_merchant()
    ann, bob = make_user(), make_user()
    product = make_product(merchant.id, [("颜色:红", 100, 0)], title="White tea")
    sku_id = product.skus[0].id
    with tenant(merchant.id):
        restock.register_restock(ann.id, sku_id)
        restock.register_restock(bob.id, sku_id)
        adjust_stock(sku_id, 5, "adjustment")  # 0 → 5
    db.session.commit()
    assert _restock_jobs() == 1
    work(app)
    for user in (ann, bob):
        [message] = messages_to(user.id)
        assert "White tea" in message.subject and "颜色:红" in message.body
        assert message.link == f"http://mall.test/p/{product.id}-longjing-tea"
    assert _waiting(merchant.id, sku_id) == 0

    with tenant(merchant.id):
        adjust_stock(sku_id, -5, "sale")  # 0 again
        adjust_stock(sku_id, 3, "return")  # 0 → 3, but nobody is waiting any more
        set_stock(sku_id, 5, "adjustment")  # 3 → 5: not a restock
    db.session.commit()
    assert _restock_jobs() == 0
    assert len(messages_to(ann.id)) == 1


def test_no_notice_for_three_to_five_even_with_someone_waiting(app, db, make_user, make_merchant):
    merchant = make_merchant()
    shopper = make_user()
    sku = make_product(merchant.id, [("", 100, 3)]).skus[0]
    with tenant(merchant.id):
        _db.session.add(RestockRequest(sku_id=sku.id, user_id=shopper.id))  # registered when it was 0
        adjust_stock(sku.id, 2, "adjustment")
    db.session.commit()
    assert _restock_jobs() == 0


def test_a_sku_sold_out_again_before_the_job_ran_keeps_its_registrants_waiting(app, db, make_user, make_merchant):
    merchant = make_merchant()
    shopper = make_user()
    sku = make_product(merchant.id, [("", 100, 0)]).skus[0]
    with tenant(merchant.id):
        restock.register_restock(shopper.id, sku.id)
        adjust_stock(sku.id, 1, "adjustment")
        adjust_stock(sku.id, -1, "sale")
    db.session.commit()
    work(app)
    assert messages_to(shopper.id) == [] and _waiting(merchant.id, sku.id) == 1
    with tenant(merchant.id):
        adjust_stock(sku.id, 2, "adjustment")
    db.session.commit()
    work(app)
    assert len(messages_to(shopper.id)) == 1 and _waiting(merchant.id, sku.id) == 0


def test_the_notify_me_endpoint(app, db, make_user, make_merchant):
    merchant = make_merchant()
    other = make_merchant()
    product = make_product(merchant.id, [("颜色:红", 100, 0), ("颜色:蓝", 100, 4)])
    foreign = make_product(other.id, [("", 100, 0)])
    red, blue = product.skus
    shopper = make_user()
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    path = f"/p/{product.id}/notify-me"

    anonymous = client.post(path, data={"sku_id": red.id, "csrf_token": csrf_token(client, "/account/login")})
    assert anonymous.status_code == 302 and "/account/login" in anonymous.headers["Location"]
    assert _waiting(merchant.id, red.id) == 0

    login(client, shopper.username)
    token = csrf_token(client, "/account/login")
    assert client.post(path, data={"sku_id": red.id}).status_code == 400  # no CSRF token
    done = client.post(path, data={"sku_id": red.id, "csrf_token": token})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/p/{product.id}-longjing-tea")
    assert _waiting(merchant.id, red.id) == 1
    in_stock = client.post(path, data={"sku_id": blue.id, "csrf_token": token}, follow_redirects=False)
    assert in_stock.status_code == 302 and _waiting(merchant.id, blue.id) == 0
    # Another store's SKU through this product's URL, or a SKU id this store does not have: 404.
    assert client.post(path, data={"sku_id": foreign.skus[0].id, "csrf_token": token}).status_code == 404
    assert client.post(f"/p/{foreign.id}/notify-me", data={"sku_id": red.id, "csrf_token": token}).status_code == 404
    assert client.post("/p/999999999/notify-me", data={"sku_id": red.id, "csrf_token": token}).status_code == 404
    cancel = client.post(f"{path}/cancel", data={"sku_id": red.id, "csrf_token": token})
    assert cancel.status_code == 302 and _waiting(merchant.id, red.id) == 0


def test_the_merchant_sees_waiting_requests_per_sku(db, make_user, shop, make_shop):
    product = make_product(shop.merchant.id, [("颜色:红", 100, 0), ("颜色:蓝", 100, 0)], title="Black tea")
    red, blue = product.skus
    with tenant(shop.merchant.id):
        for _ in range(3):
            restock.register_restock(make_user().id, red.id)
        restock.register_restock(make_user().id, blue.id)
    page = shop.get("/merchant/inventory/restock").get_data(as_text=True)
    assert "Black tea" in page and "<strong>3</strong>" in page and "<strong>1</strong>" in page
    assert page.index("颜色:红") < page.index("颜色:蓝")  # the most wanted first
    other = make_shop("Other", "other-tea")
    assert "Black tea" not in other.get("/merchant/inventory/restock").get_data(as_text=True)
