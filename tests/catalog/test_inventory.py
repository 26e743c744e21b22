"""Inventory (M-05): conditional stock changes that never go negative (also between two connections
racing for the last unit), the movement log that always sums to the stock, several SKUs at once,
the low-stock alert that fires once and re-arms, availability for buyers, the merchant pages,
bulk edits, cross-store isolation and permissions."""

from __future__ import annotations

import random
import threading
import time

import pytest
from sqlalchemy import func, select, text

from mall.audit.models import AuditEntry
from mall.catalog import stock_edits
from mall.catalog.inventory import (
    InsufficientStock,
    adjust_stock,
    movement_sum_matches,
    release_stock,
    reserve_stock,
    set_stock,
    sku_availability,
)
from mall.catalog.models import PublicProduct, Sku, StockMovement
from mall.catalog.money import format_yuan, parse_yuan
from mall.errors import DomainError, NotFound
from mall.extensions import db as _db
from mall.mail.models import OutboxMessage
from mall.tenancy import bind_merchant, tenant
from tests.catalog import stock_helpers
from tests.catalog.stock_helpers import add_staff, flashes, make_product, messages_to, movements_of, owner_id, stock_of
from tests.jobs.helpers import queued_jobs, work

pytestmark = pytest.mark.usefixtures("english")  # these tests read English messages
make_shop = stock_helpers.make_shop
shop = stock_helpers.shop


def _low_stock_jobs() -> int:
    return sum(1 for job in queued_jobs() if "send_low_stock_alert" in (job.description or ""))


# --- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cents"),
    [("199", 19900), ("199.5", 19950), ("199.00", 19900), ("¥0.01", 1), (" 19.99 ", 1999), ("0.1", 10)],
)
def test_yuan_are_parsed_exactly_to_cents(app_ctx, text, cents):
    assert parse_yuan(text) == cents
    assert parse_yuan(format_yuan(cents)) == cents


@pytest.mark.parametrize("text", ["", "abc", "1.999", "-5", "1,299.00", "1e3", "12345678901"])
def test_bad_amounts_are_refused(app_ctx, text):
    with pytest.raises(DomainError):
        parse_yuan(text)


# --- the conditional update ---------------------------------------------------------------------


def test_stock_never_goes_below_zero_and_a_refusal_changes_nothing(db, make_merchant):
    merchant = make_merchant()
    sku = make_product(merchant.id, [("", 5000, 2)]).skus[0]
    with tenant(merchant.id):
        with pytest.raises(InsufficientStock) as refused:
            adjust_stock(sku.id, -3, "sale", ref="order-1")
        assert refused.value.available == 2 and refused.value.message == "Only 2 left."
        assert adjust_stock(sku.id, -2, "sale", ref="order-2") == 0
        assert sku.stock == 0  # the loaded object follows the row
        with pytest.raises(InsufficientStock):
            adjust_stock(sku.id, -1, "sale")
        assert movement_sum_matches(sku.id)
    assert movements_of(merchant.id, sku.id) == [("initial", 2, 2), ("sale", -2, 0)]


def test_two_connections_racing_for_the_last_unit_sell_it_once(app, committed_db, make_merchant):
    merchant = make_merchant("Race")
    sku_id = make_product(merchant.id, [("", 100, 1)], approved=False).skus[0].id
    committed_db.session.commit()

    with tenant(merchant.id):  # first buyer: takes the last unit, holds the row lock, not committed yet
        assert adjust_stock(sku_id, -1, "sale", ref="A") == 0
    first_pid = committed_db.session.scalar(text("SELECT pg_backend_pid()"))

    outcome: dict = {}

    def second_buyer():
        with app.app_context():
            bind_merchant(merchant.id)
            try:
                outcome["stock"] = adjust_stock(sku_id, -1, "sale", ref="B")
                _db.session.commit()
            except InsufficientStock as error:
                outcome["available"] = error.available
                _db.session.rollback()
            except Exception as error:  # reported by the assertions below
                outcome["error"] = repr(error)
                _db.session.rollback()
            finally:
                bind_merchant(None)
                _db.session.remove()

    thread = threading.Thread(target=second_buyer)
    thread.start()
    with committed_db.engine.connect() as watcher:  # wait until the second buyer waits for our lock
        for _attempt in range(2000):
            blocked = watcher.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
                {"pid": first_pid},
            ).scalar()
            if blocked or not thread.is_alive():
                break
            time.sleep(0.005)
        assert blocked, f"the second connection never waited for the row lock: {outcome}"
    committed_db.session.commit()
    thread.join(30)

    assert outcome == {"available": 0}  # re-checked on the committed row: refused, not -1
    assert stock_of(merchant.id, sku_id) == 0
    assert movements_of(merchant.id, sku_id) == [("initial", 1, 1), ("sale", -1, 0)]


def test_set_stock_writes_the_difference_and_nothing_when_unchanged(db, make_merchant):
    merchant = make_merchant()
    sku = make_product(merchant.id, [("", 5000, 7)]).skus[0]
    with tenant(merchant.id):
        assert set_stock(sku.id, 4, "adjustment", note="broken jars") == 4
        assert set_stock(sku.id, 4, "adjustment") == 4
        with pytest.raises(DomainError):
            set_stock(sku.id, -1, "adjustment")
    assert movements_of(merchant.id, sku.id) == [("initial", 7, 7), ("adjustment", -3, 4)]


def test_reserving_several_skus_is_all_or_nothing_and_names_the_failing_line(db, make_merchant):
    merchant = make_merchant()
    product = make_product(merchant.id, [("颜色:红", 100, 5), ("颜色:蓝", 100, 1), ("颜色:绿", 100, 4)])
    red, blue, green = (s.id for s in product.skus)
    with tenant(merchant.id):
        with pytest.raises(InsufficientStock) as refused:
            reserve_stock([(red, 2), (green, 1), (blue, 2)], ref="order-9")
        assert (refused.value.sku_id, refused.value.available, refused.value.requested) == (blue, 1, 2)
        assert [s.stock for s in product.skus] == [5, 1, 4]  # nothing taken, loaded objects included
        changes = reserve_stock([(green, 1), (red, 2), (red, 1)], ref="order-10")
        assert [(c.sku_id, c.before, c.after) for c in changes] == sorted([(red, 5, 2), (green, 4, 3)])
        release_stock([(red, 3)], reason="cancel", ref="order-10")
    assert stock_of(merchant.id, red) == 5
    assert movements_of(merchant.id, red)[1:] == [("sale", -3, 2), ("cancel", 3, 5)]


def test_the_movement_log_sums_to_the_stock_after_random_operations(db, make_merchant):
    rng = random.Random(20261129)
    merchant = make_merchant()
    product = make_product(merchant.id, [("颜色:红", 100, 5), ("颜色:蓝", 100, 0), ("颜色:绿", 100, 3)])
    ids = [s.id for s in product.skus]
    expected = {ids[0]: 5, ids[1]: 0, ids[2]: 3}
    refused = 0
    with tenant(merchant.id):
        for _step in range(150):
            sku_id = rng.choice(ids)
            operation = rng.choice(("sale", "return", "adjust", "count", "order"))
            try:
                if operation == "sale":
                    adjust_stock(sku_id, -rng.randint(1, 4), "sale")
                elif operation == "return":
                    release_stock([(sku_id, rng.randint(1, 3))], reason="return")
                elif operation == "adjust":
                    adjust_stock(sku_id, rng.choice([-5, -1, 2, 6]), "adjustment")
                elif operation == "count":
                    set_stock(sku_id, rng.randint(0, 8), "stocktake")
                else:
                    reserve_stock([(i, rng.randint(1, 2)) for i in rng.sample(ids, 2)])
            except InsufficientStock:
                refused += 1
            for i in ids:
                expected[i] = _db.session.scalar(select(Sku.stock).where(Sku.id == i))
                assert expected[i] >= 0
                assert movement_sum_matches(i)
        last = {
            row.sku_id: row.stock_after for row in _db.session.scalars(select(StockMovement).order_by(StockMovement.id))
        }
    assert refused > 0  # the sequence did try to oversell
    assert last == expected  # the newest movement of each SKU shows its stock


def test_the_public_copy_follows_stock_changes(db, make_merchant):
    merchant = make_merchant()
    product = make_product(merchant.id, [("颜色:红", 100, 5), ("颜色:蓝", 200, 1)])
    with tenant(merchant.id):
        adjust_stock(product.skus[0].id, -2, "sale")
    assert _db.session.get(PublicProduct, product.id).stock_total == 4


def test_availability_for_buyers(db, make_merchant):
    merchant = make_merchant()
    product = make_product(merchant.id, [("颜色:红", 100, 0), ("颜色:蓝", 100, 3), ("颜色:绿", 100, 40)])
    with tenant(merchant.id):
        out, few, many = product.skus
        assert sku_availability(out) == {"in_stock": False, "stock": 0, "label": "Out of stock"}
        assert sku_availability(few) == {"in_stock": True, "stock": 3, "label": "Only 3 left"}
        assert sku_availability(many) == {"in_stock": True, "stock": 40, "label": "In stock"}
        many.is_active = False
        assert sku_availability(many)["in_stock"] is False


# --- low-stock alert ----------------------------------------------------------------------------


def test_the_low_stock_alert_fires_once_and_re_arms_above_the_threshold(app, db, make_user, make_merchant):
    merchant = make_merchant("Tea House")
    manager, _client = add_staff(app, db, make_user, merchant, "product")
    clerk, _client = add_staff(app, db, make_user, merchant, "orders")
    owner = owner_id(merchant)
    sku = make_product(merchant.id, [("颜色:红", 100, 5)], title="Dragon Well").skus[0]
    with tenant(merchant.id):
        stock_edits.set_threshold(manager, sku.id, 3)
    db.session.commit()
    assert _low_stock_jobs() == 0  # 5 > 3: nothing to say

    with tenant(merchant.id):
        adjust_stock(sku.id, -2, "sale")  # 3: at the threshold
    db.session.commit()
    assert _low_stock_jobs() == 1
    with tenant(merchant.id):
        adjust_stock(sku.id, -1, "sale")  # 2: still low, already alerted
    db.session.commit()
    assert _low_stock_jobs() == 1
    work(app)

    for user_id in (owner, manager.id):
        [message] = messages_to(user_id)
        assert "Dragon Well" in message.body and "颜色:红" in message.body and "2" in message.body
        assert message.link and message.link.endswith("/merchant/inventory?stock=low")
    assert messages_to(clerk.id) == []  # no products.manage
    assert db.session.scalar(select(func.count()).where(OutboxMessage.to_address == manager.email)) == 1

    with tenant(merchant.id):
        adjust_stock(sku.id, -1, "sale")
        assert _db.session.get(Sku, sku.id).low_stock_alerted_at is not None
        adjust_stock(sku.id, 5, "adjustment")  # 6 > 3: re-armed
        assert _db.session.get(Sku, sku.id).low_stock_alerted_at is None
    db.session.commit()
    assert _low_stock_jobs() == 0
    with tenant(merchant.id):
        adjust_stock(sku.id, -3, "sale")  # 3 again: a new alert
    db.session.commit()
    assert _low_stock_jobs() == 1
    work(app)
    assert len(messages_to(manager.id)) == 2


def test_a_sku_restocked_before_the_alert_job_ran_is_left_out(app, db, make_merchant):
    merchant = make_merchant()
    sku = make_product(merchant.id, [("", 100, 5)]).skus[0]
    with tenant(merchant.id):
        sku.low_stock_threshold = 2
        adjust_stock(sku.id, -4, "sale")
        adjust_stock(sku.id, 10, "adjustment")
    db.session.commit()
    work(app)
    assert messages_to(owner_id(merchant)) == []


# --- merchant pages -----------------------------------------------------------------------------


def test_the_inventory_list_shows_skus_and_filters_low_and_out(db, shop):
    product = make_product(shop.merchant.id, [("颜色:红", 1990, 0), ("颜色:蓝", 2990, 8)], title="Oolong")
    with tenant(shop.merchant.id):
        product.skus[1].low_stock_threshold = 10
    page = shop.get("/merchant/inventory").get_data(as_text=True)
    assert "Oolong" in page and "¥19.90" in page and "颜色:蓝" in page and "Out of stock" in page
    out = shop.get("/merchant/inventory?stock=out").get_data(as_text=True)
    assert "颜色:红" in out and "颜色:蓝" not in out
    low = shop.get("/merchant/inventory?stock=low").get_data(as_text=True)
    assert "颜色:蓝" in low and "颜色:红" not in low


def test_a_manual_adjustment_records_who_and_why_and_is_audited(db, shop):
    sku = make_product(shop.merchant.id, [("", 1000, 5)]).skus[0]
    response = shop.post(f"/merchant/inventory/sku/{sku.id}/adjust", {"value": "-2", "note": "dropped a box"})
    assert response.status_code == 302
    assert stock_of(shop.merchant.id, sku.id) == 3
    with tenant(shop.merchant.id):
        movement = _db.session.scalars(select(StockMovement).order_by(StockMovement.id.desc())).first()
    assert (movement.reason, movement.delta, movement.actor_id, movement.note) == (
        "adjustment",
        -2,
        shop.owner.id,
        "dropped a box",
    )
    audit = _db.session.scalars(select(AuditEntry).where(AuditEntry.action == "inventory.adjust")).one()
    assert audit.merchant_id == shop.merchant.id and audit.changes["stock"] == [5, 3]
    page = shop.get(f"/merchant/inventory/sku/{sku.id}").get_data(as_text=True)
    assert "dropped a box" in page and shop.owner.username in page and "Manual adjustment" in page

    count = shop.post(
        f"/merchant/inventory/sku/{sku.id}/adjust", {"mode": "count", "value": "10", "note": "found more"}
    )
    assert count.status_code == 302 and stock_of(shop.merchant.id, sku.id) == 10


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"value": "-9", "note": "x"}, 409, "Only 5 left."),
        ({"value": "2"}, 400, "Say why the stock changes."),
        ({"value": "two", "note": "x"}, 400, "Enter a whole number, e.g. -3 or 5."),
        ({"value": "0", "note": "x"}, 400, "Enter a change other than zero."),
    ],
)
def test_refused_adjustments_change_nothing_and_say_why(db, shop, data, status, message):
    sku = make_product(shop.merchant.id, [("", 1000, 5)]).skus[0]
    response = shop.post(f"/merchant/inventory/sku/{sku.id}/adjust", data)
    assert response.status_code == status
    assert message in flashes(response.get_data(as_text=True))
    assert stock_of(shop.merchant.id, sku.id) == 5 and len(movements_of(shop.merchant.id, sku.id)) == 1


def test_thresholds_are_edited_in_the_list(db, shop):
    sku = make_product(shop.merchant.id, [("", 1000, 5)]).skus[0]
    assert shop.post(f"/merchant/inventory/sku/{sku.id}/threshold", {"threshold": "6"}).status_code == 302
    with tenant(shop.merchant.id):
        assert _db.session.get(Sku, sku.id).low_stock_threshold == 6
        assert _db.session.get(Sku, sku.id).low_stock_alerted_at is not None  # already low: alerted at once
    assert _low_stock_jobs() == 1
    assert shop.post(f"/merchant/inventory/sku/{sku.id}/threshold", {"threshold": ""}).status_code == 302
    _db.session.expire_all()
    with tenant(shop.merchant.id):
        sku_row = _db.session.get(Sku, sku.id)
        assert sku_row.low_stock_threshold is None and sku_row.low_stock_alerted_at is None


def test_the_store_movement_log_filters_by_reason_product_and_date_and_pages(db, shop):
    tea = make_product(shop.merchant.id, [("", 1000, 5)], title="Green tea")
    cups = make_product(shop.merchant.id, [("", 500, 60)], title="Tea cups")
    with tenant(shop.merchant.id):
        adjust_stock(tea.skus[0].id, -1, "sale", ref="order-77")
        for _ in range(55):
            adjust_stock(cups.skus[0].id, -1, "sale")
    sales = shop.get("/merchant/inventory/movements?reason=sale").get_data(as_text=True)
    assert "Page 1 of 2" in sales and "<td>Sale</td>" in sales and "<td>Initial stock</td>" not in sales
    only_tea = shop.get(f"/merchant/inventory/movements?product={tea.id}").get_data(as_text=True)
    assert "order-77" in only_tea and "Tea cups" not in only_tea
    assert "No stock changes yet." in shop.get("/merchant/inventory/movements?to=2000-01-01").get_data(as_text=True)
    with tenant(shop.merchant.id):
        page = stock_edits.movement_page(product_id=cups.id, page=2)
    assert page.total == 56 and len(page.items) == 6
    sku_page = shop.get(f"/merchant/inventory/sku/{cups.skus[0].id}?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in sku_page and f"/merchant/inventory/sku/{cups.skus[0].id}?page=1" in sku_page
    assert sku_page.count("<td>Sale</td>") == 5 and "<td>Initial stock</td>" in sku_page


# --- bulk edits ---------------------------------------------------------------------------------


def test_bulk_price_stock_and_threshold_edits(db, shop):
    product = make_product(shop.merchant.id, [("颜色:红", 1000, 5), ("颜色:蓝", 1000, 2), ("颜色:绿", 1000, 9)])
    red, blue, green = (s.id for s in product.skus)
    chosen = {"sku_ids": [str(red), str(blue)]}
    assert shop.post("/merchant/inventory/bulk", {**chosen, "action": "set_price", "value": "19.9"}).status_code == 302
    response = shop.post(
        "/merchant/inventory/bulk", {**chosen, "action": "add_stock", "value": "10", "note": "delivery"}
    )
    assert response.status_code == 302
    assert shop.post("/merchant/inventory/bulk", {**chosen, "action": "set_threshold", "value": "4"}).status_code == 302
    _db.session.expire_all()
    with tenant(shop.merchant.id):
        rows = {s.id: s for s in _db.session.scalars(select(Sku))}
        assert [(rows[i].price_cents, rows[i].stock, rows[i].low_stock_threshold) for i in (red, blue, green)] == [
            (1990, 15, 4),
            (1990, 12, 4),
            (1000, 9, None),
        ]
        assert all(movement_sum_matches(i) for i in (red, blue, green))
    assert movements_of(shop.merchant.id, blue)[-1] == ("adjustment", 10, 12)
    public = _db.session.get(PublicProduct, product.id)
    assert (public.price_min_cents, public.stock_total) == (1000, 36)


def test_a_bulk_edit_that_fails_for_one_sku_changes_none(db, shop):
    product = make_product(shop.merchant.id, [("颜色:红", 1000, 5), ("颜色:蓝", 1000, 2)])
    red, blue = (s.id for s in product.skus)
    response = shop.post(
        "/merchant/inventory/bulk",
        {"sku_ids": [str(red), str(blue)], "action": "add_stock", "value": "-3", "note": "breakage"},
    )
    assert response.status_code == 409
    assert "Longjing tea 颜色:蓝: only 2 left." in flashes(response.get_data(as_text=True))
    assert (stock_of(shop.merchant.id, red), stock_of(shop.merchant.id, blue)) == (5, 2)
    bad_price = shop.post("/merchant/inventory/bulk", {"sku_ids": [str(red)], "action": "set_price", "value": "1.999"})
    assert bad_price.status_code == 400


# --- isolation and permissions ------------------------------------------------------------------


def test_another_store_cannot_see_or_change_skus_by_url_or_form(db, make_shop):
    a = make_shop("Store A", "store-a")
    b = make_shop("Store B", "store-b")
    theirs = make_product(a.merchant.id, [("", 1000, 5)], title="A's tea").skus[0]
    ours = make_product(b.merchant.id, [("", 1000, 5)], title="B's tea").skus[0]
    assert b.get(f"/merchant/inventory/sku/{theirs.id}").status_code == 404
    assert b.post(f"/merchant/inventory/sku/{theirs.id}/adjust", {"value": "-1", "note": "x"}).status_code == 404
    assert b.post(f"/merchant/inventory/sku/{theirs.id}/threshold", {"threshold": "3"}).status_code == 404
    tampered = {"sku_ids": [str(ours.id), str(theirs.id)], "action": "add_stock", "value": "1", "note": "x"}
    assert b.post("/merchant/inventory/bulk", tampered).status_code == 404
    assert "A&#39;s tea" not in b.get(f"/merchant/inventory/movements?sku={theirs.id}").get_data(as_text=True)
    assert "A&#39;s tea" not in b.get("/merchant/inventory").get_data(as_text=True)
    assert stock_of(a.merchant.id, theirs.id) == 5 and stock_of(b.merchant.id, ours.id) == 5
    with tenant(b.merchant.id), pytest.raises(NotFound):
        adjust_stock(theirs.id, 1, "adjustment")


def test_staff_without_products_manage_get_403(app, db, make_user, shop):
    sku = make_product(shop.merchant.id, [("", 1000, 5)]).skus[0]
    _user, clerk = add_staff(app, db, make_user, shop.merchant, "orders")
    for path in ("/merchant/inventory", f"/merchant/inventory/sku/{sku.id}", "/merchant/inventory/movements",
                 "/merchant/inventory/stocktakes", "/merchant/inventory/transfer", "/merchant/inventory/restock",
                 "/merchant/inventory/export.csv"):  # fmt: skip
        assert clerk.get(path).status_code == 403, path
    from tests.conftest import csrf_token

    token = csrf_token(clerk, "/merchant/")
    response = clerk.post(
        f"/merchant/inventory/sku/{sku.id}/adjust", data={"value": "1", "note": "x", "csrf_token": token}
    )
    assert response.status_code == 403
    assert "/merchant/inventory" not in clerk.get("/merchant/").get_data(as_text=True)
    assert stock_of(shop.merchant.id, sku.id) == 5
    _user, manager = add_staff(app, db, make_user, shop.merchant, "product")
    assert manager.get("/merchant/inventory").status_code == 200
