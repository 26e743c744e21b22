"""Commission rules (P-07): priority product > store > category > platform default, minimum and
cap per line, effective dates, frozen at payment (later changes never touch paid lines), the
preview of a change, bad input refused with nothing written, and the operator page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from mall.errors import DomainError, PermissionDenied
from mall.finance import commission
from mall.finance.models import CommissionRule
from mall.tenancy import tenant
from mall.trading.models import OrderLine
from tests.merchant.helpers import area_client
from tests.trading.helpers import Mall, shopper
from tests.trading.test_fulfilment import paid_order

pytestmark = pytest.mark.usefixtures("english")
YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")


@pytest.fixture()
def mall(db, make_merchant):
    return Mall(make_merchant)


@pytest.fixture()
def finance(make_user):
    return make_user(operator_role="finance")


def rule(finance, scope, target="", rate="5", **values):
    form = commission.RuleForm(scope=scope, target=str(target), rate=rate, starts_at=YESTERDAY, **values)
    return commission.add_rule(finance, form)


def rate_of(mall, row):
    return commission.Rules(datetime.now(UTC)).rate_for(row.merchant_id, row.id, row.category_id)


def test_the_first_matching_rule_wins(app, db, mall, finance):
    green = mall.green
    assert rate_of(mall, green).bp == 500  # nothing set: the platform's configured default
    rule(finance, "default", rate="4")
    assert (rate_of(mall, green).bp, rate_of(mall, green).source.split(":")[0]) == (400, "default")
    green_category = db.session.get(commission.Category, green.category_id)
    green_category.commission_rate_bp = 700  # the taxonomy's own rate beats the default
    db.session.flush()
    assert rate_of(mall, green).bp == 700
    rule(finance, "category", green.category_id, rate="6")
    assert rate_of(mall, green).bp == 600
    rule(finance, "merchant", mall.tea_house.slug, rate="3")
    assert rate_of(mall, green).bp == 300 and rate_of(mall, mall.cup).bp == 600  # pottery: no store rule
    rule(finance, "product", green.id, rate="1.25")
    assert rate_of(mall, green).bp == 125 and rate_of(mall, mall.black).bp == 300


def test_minimum_cap_and_dates(app, db, mall, finance):
    rate = commission.Rate(500, min_cents=300, cap_cents=1000)
    assert [rate.commission(cents) for cents in (1000, 3900, 50000, 200)] == [300, 300, 1000, 200]
    assert commission.Rate(333).commission(1000) == 33 and commission.Rate(350).commission(1000) == 35
    future = (datetime.now(UTC) + timedelta(days=10)).strftime("%Y-%m-%d")
    commission.add_rule(
        finance, commission.RuleForm(scope="merchant", target=mall.tea_house.slug, rate="1", starts_at=future)
    )
    assert rate_of(mall, mall.green).bp == 500  # not yet
    ended = rule(finance, "merchant", mall.tea_house.slug, rate="2")
    commission.end_rule(finance, ended.id)
    assert rate_of(mall, mall.green).bp == 500  # no longer


def test_a_paid_line_keeps_its_commission_when_rules_change(app, db, make_user, mall, finance):
    rule(finance, "merchant", mall.tea_house.slug, rate="10", min_yuan="5")
    (order,) = paid_order(app, db, mall, shopper(make_user), (mall.green, 1))
    with tenant(mall.tea_house.id):
        line = db.session.scalar(select(OrderLine).where(OrderLine.order_id == order.id))
    assert (line.commission_bp, line.commission_cents) == (1000, 500)  # 10 % of ¥39 raised to ¥5
    rule(finance, "product", mall.green.id, rate="1")
    # the product rule now wins over any store rule, so a new store rule would change nothing for it
    assert commission.preview(commission.RuleForm(scope="merchant", target=mall.tea_house.slug, rate="2")) == []
    with tenant(mall.tea_house.id):
        db.session.refresh(line)
    assert (line.commission_bp, line.commission_cents) == (1000, 500)


def test_the_preview_shows_what_a_change_would_do(app, db, make_user, mall, finance):
    paid_order(app, db, mall, shopper(make_user), (mall.green, 2), (mall.cup, 1))
    rows = commission.preview(commission.RuleForm(scope="merchant", target=mall.tea_house.slug, rate="8"))
    assert [(r.merchant.id, r.lines, r.sales_cents, r.now_cents, r.proposed_cents) for r in rows] == [
        (mall.tea_house.id, 1, 7800, 390, 624)
    ]
    assert db.session.scalar(select(func.count()).select_from(CommissionRule)) == 0  # a preview writes nothing


@pytest.mark.parametrize(
    "values, message",
    [
        ({"scope": "galaxy"}, "Choose what the rule applies to"),
        ({"scope": "product", "target": "999999"}, "No product has this id"),
        ({"scope": "merchant", "target": "nope"}, "No store has this id"),
        ({"scope": "default", "rate": "abc"}, "Give the rate in per cent"),
        ({"scope": "default", "rate": "101"}, "at most 100 %"),
        ({"scope": "default", "min_yuan": "5", "cap_yuan": "1"}, "cap cannot be below"),
        ({"scope": "default", "starts_at": ""}, "Give a date"),
        ({"scope": "default", "starts_at": "tomorrow"}, "Give a date like"),
        ({"scope": "default", "ends_at": "2000-01-01"}, "end must come after"),
    ],
)
def test_bad_rules_are_refused_and_nothing_is_written(app, db, finance, values, message):
    form = commission.RuleForm(**{"scope": "default", "rate": "5", "starts_at": YESTERDAY, **values})
    with pytest.raises(DomainError, match=message):
        commission.add_rule(finance, form)
    assert db.session.scalar(select(func.count()).select_from(CommissionRule)) == 0


def test_only_finance_managers_change_rules_and_the_page_works(app, db, make_user, mall, finance):
    with pytest.raises(PermissionDenied):
        commission.add_rule(make_user(operator_role="operator"), commission.RuleForm(scope="default", rate="5"))
    client = area_client(app, finance, "platform")
    page = client.get("/platform/platform_commission/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    form = {
        "csrf_token": token,
        "scope": "merchant",
        "target": mall.tea_house.slug,
        "rate": "3",
        "starts_at": YESTERDAY,
    }
    bad = client.post("/platform/platform_commission/", data={**form, "rate": "x", "action": "add"})
    assert bad.status_code == 400 and "Give the rate in per cent" in bad.get_data(as_text=True)
    shown = client.post("/platform/platform_commission/", data={**form, "action": "preview"}).get_data(as_text=True)
    assert 'id="commission-preview"' in shown
    client.post("/platform/platform_commission/", data={**form, "action": "add"})
    listing = client.get("/platform/platform_commission/").get_data(as_text=True)
    assert "3.00 %" in listing
    viewer = area_client(app, make_user(operator_role="operator"), "platform")
    assert viewer.get("/platform/platform_commission/").status_code in (302, 403)
