"""Operators' order oversight: search across stores, the whole record, adjustments with a reason
(audited, through the same rules), and permissions."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from mall.audit.models import AuditEntry
from mall.errors import DomainError, PermissionDenied
from mall.ledger.services import check_ledger, merchant_account, normal_balance
from mall.tenancy import tenant
from mall.trading import fulfilment, oversight
from mall.trading.orders import IllegalTransition
from tests.jobs.helpers import work
from tests.merchant.helpers import area_client
from tests.trading.helpers import Mall, shopper
from tests.trading.test_fulfilment import owner_of, paid_order

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture()
def mall(db, make_merchant):
    return Mall(make_merchant)


def test_search_across_stores(app, db, make_user, mall):
    alice, bob = shopper(make_user, "alice_buyer"), shopper(make_user, "bob_buyer")
    (tea,) = paid_order(app, db, mall, alice, (mall.green, 1))
    (cup,) = paid_order(app, db, mall, bob, (mall.cup, 1))
    assert [o.id for o in oversight.search_orders("alice_buyer").items] == [tea.id]
    assert [o.id for o in oversight.search_orders("Pottery").items] == [cup.id]
    assert [o.id for o in oversight.search_orders(cup.number).items] == [cup.id]
    assert {o.id for o in oversight.search_orders(status="paid").items} == {tea.id, cup.id}
    assert oversight.search_orders(status="shipped").total == 0


def test_operator_cancels_a_paid_order_with_a_refund_and_an_audit_row(app, db, make_user, mall):
    (order,) = paid_order(app, db, mall, shopper(make_user), (mall.green, 2))
    operator = make_user(operator_role="operator")
    with pytest.raises(DomainError, match="Give a reason"):
        oversight.adjust_status(operator, order.id, "cancelled", "")
    oversight.adjust_status(operator, order.id, "cancelled", "Store unreachable for a week")
    db.session.commit()
    work(app)
    record = oversight.order_record(order.id)
    assert order.status == "cancelled" and [r.status for r in record["refunds"]] == ["succeeded"]
    assert normal_balance(merchant_account(mall.tea_house.id, "pending")) == 0 and check_ledger().ok
    assert {e.kind for e in record["entries"]} == {"payment_captured", "refund_owed", "refund_paid"}
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "order.adjust"))
    assert audit.changes["status"] == ["paid", "cancelled"] and "unreachable" in audit.changes["reason"][1]


def test_adjustments_follow_the_rules_and_need_the_permission(app, db, make_user, mall):
    (order,) = paid_order(app, db, mall, shopper(make_user), (mall.green, 1))
    operator = make_user(operator_role="operator")
    with pytest.raises(IllegalTransition):
        oversight.adjust_status(operator, order.id, "completed", "skip ahead")
    with pytest.raises(PermissionDenied):
        oversight.adjust_status(make_user(operator_role="finance"), order.id, "cancelled", "no")
    with tenant(mall.tea_house.id):
        fulfilment.ship(owner_of(mall.tea_house), order.id, "SF", "SF123456")
    oversight.adjust_status(operator, order.id, "received", "Buyer confirmed by phone")
    oversight.adjust_status(operator, order.id, "completed", "After-sales window waived")
    assert order.status == "completed"
    assert normal_balance(merchant_account(mall.tea_house.id, "available")) == 4900 - 195


def test_the_operator_pages(app, db, make_user, mall):
    (order,) = paid_order(app, db, mall, shopper(make_user, "carol_buyer"), (mall.green, 1))
    client = area_client(app, make_user(operator_role="operator"), "platform")
    listing = client.get("/platform/platform_orders/?q=carol_buyer").get_data(as_text=True)
    assert order.number in listing
    detail = client.get(f"/platform/platform_orders/{order.id}").get_data(as_text=True)
    assert f"merchant:{mall.tea_house.id}:pending" in detail and "Green tea" in detail
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', detail)
    token = token.group(1) or token.group(2)
    client.post(
        f"/platform/platform_orders/{order.id}/adjust",
        data={"csrf_token": token, "to": "cancelled", "reason": "Fraud check"},
    )
    db.session.expire_all()
    assert oversight.order_record(order.id)["order"].status == "cancelled"
    viewer = area_client(app, make_user(operator_role="finance"), "platform")
    assert viewer.get(f"/platform/platform_orders/{order.id}").status_code == 200  # finance may look
    assert "Adjust the status" not in viewer.get(f"/platform/platform_orders/{order.id}").get_data(as_text=True)
    nobody = area_client(app, make_user(), "consumer")
    assert nobody.get("/platform/platform_orders/").status_code in (302, 403)
