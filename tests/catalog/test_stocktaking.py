"""Stocktaking sessions: snapshot at opening, partial saves, confirm applies counted - expected to the
current stock (so sales during counting are kept), one open session per store, cancel, isolation."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from mall.catalog import stocktaking
from mall.catalog.inventory import adjust_stock, movement_sum_matches
from mall.catalog.models import StockMovement, Stocktake, StocktakeLine
from mall.errors import DomainError, NotFound
from mall.extensions import db as _db
from mall.tenancy import tenant
from tests.catalog import stock_helpers
from tests.catalog.stock_helpers import flashes, make_product, movements_of, stock_of

pytestmark = pytest.mark.usefixtures("english")  # these tests read English messages
make_shop = stock_helpers.make_shop
shop = stock_helpers.shop


def _lines(stocktake: Stocktake) -> dict[int, StocktakeLine]:
    return {line.sku_id: line for line in stocktake.lines}


def test_confirm_applies_the_counted_difference_to_the_current_stock(db, shop):
    product = make_product(shop.merchant.id, [("颜色:红", 100, 10), ("颜色:蓝", 100, 4), ("颜色:绿", 100, 6)])
    red, blue, green = (s.id for s in product.skus)
    with tenant(shop.merchant.id):
        stocktake = stocktaking.open_stocktake(shop.owner, note="year end")
        lines = _lines(stocktake)
        assert [lines[i].expected for i in (red, blue, green)] == [10, 4, 6]
        adjust_stock(red, -2, "sale", ref="order-1")  # sold while counting: 8 now
        stocktaking.save_counts(shop.owner, stocktake.id, {lines[red].id: "9"})  # one unit missing
        stocktaking.save_counts(shop.owner, stocktake.id, {lines[blue].id: "6", lines[green].id: ""})  # 2 found
        result = stocktaking.confirm_stocktake(shop.owner, stocktake.id)
        assert (result.counted, result.changed, result.net) == (2, 2, 1)
        assert stocktake.status == "confirmed" and stocktake.closed_by_id == shop.owner.id
        assert all(movement_sum_matches(i) for i in (red, blue, green))
    assert stock_of(shop.merchant.id, red) == 7  # 8 - 1: the sale during counting is kept
    assert stock_of(shop.merchant.id, blue) == 6
    assert stock_of(shop.merchant.id, green) == 6  # not counted: unchanged
    assert movements_of(shop.merchant.id, red)[-1] == ("stocktake", -1, 7)
    with tenant(shop.merchant.id):
        movement = _db.session.scalars(select(StockMovement).where(StockMovement.sku_id == red)).all()[-1]
    assert movement.ref == f"stocktake-{stocktake.id}" and movement.actor_id == shop.owner.id


def test_one_open_stocktake_per_store_and_cancel_changes_no_stock(db, shop, make_shop):
    product = make_product(shop.merchant.id, [("", 100, 5)])
    with tenant(shop.merchant.id):
        first = stocktaking.open_stocktake(shop.owner)
        with pytest.raises(DomainError, match="already open"):
            stocktaking.open_stocktake(shop.owner)
        stocktaking.save_counts(shop.owner, first.id, {first.lines[0].id: "1"})
        stocktaking.cancel_stocktake(shop.owner, first.id)
        assert first.status == "cancelled"
        with pytest.raises(DomainError, match="already closed"):
            stocktaking.confirm_stocktake(shop.owner, first.id)
        second = stocktaking.open_stocktake(shop.owner)  # a new one may open now
    assert stock_of(shop.merchant.id, product.skus[0].id) == 5
    other = make_shop("Other", "other-store")
    make_product(other.merchant.id, [("", 100, 5)])
    with tenant(other.merchant.id):  # the rule is per store
        assert stocktaking.open_stocktake(other.owner).id != second.id


def test_chosen_products_only_and_foreign_products_are_404(db, shop, make_shop):
    tea = make_product(shop.merchant.id, [("", 100, 5)], title="Tea")
    make_product(shop.merchant.id, [("", 100, 5)], title="Cups")
    foreign = make_product(make_shop("Else", "else").merchant.id, [("", 100, 5)])
    with tenant(shop.merchant.id):
        with pytest.raises(NotFound):
            stocktaking.open_stocktake(shop.owner, product_ids=[tea.id, foreign.id])
        stocktake = stocktaking.open_stocktake(shop.owner, product_ids=[tea.id])
        assert [line.sku_id for line in stocktake.lines] == [tea.skus[0].id]


def test_a_bad_count_saves_nothing_and_a_foreign_line_is_404(db, shop):
    product = make_product(shop.merchant.id, [("颜色:红", 100, 5), ("颜色:蓝", 100, 5)])
    with tenant(shop.merchant.id):
        stocktake = stocktaking.open_stocktake(shop.owner)
        red, blue = stocktake.lines
        with pytest.raises(stocktaking.CountsInvalid) as invalid:
            stocktaking.save_counts(shop.owner, stocktake.id, {red.id: "4", blue.id: "-1"})
        assert invalid.value.errors == {blue.id: "Enter a whole number (0 or more)."}
        assert red.counted is None
        with pytest.raises(NotFound):
            stocktaking.save_counts(shop.owner, stocktake.id, {product.skus[0].id: "3"})  # not a line id


def test_a_difference_that_would_go_below_zero_refuses_the_whole_confirmation(db, shop):
    product = make_product(shop.merchant.id, [("颜色:红", 100, 5), ("颜色:蓝", 100, 5)])
    red, blue = (s.id for s in product.skus)
    with tenant(shop.merchant.id):
        stocktake = stocktaking.open_stocktake(shop.owner)
        lines = _lines(stocktake)
        stocktaking.save_counts(shop.owner, stocktake.id, {lines[red].id: "8", lines[blue].id: "3"})
        adjust_stock(blue, -5, "sale")  # all sold while counting; the count says 2 are missing
        _db.session.commit()
        with pytest.raises(DomainError, match="below zero"):
            stocktaking.confirm_stocktake(shop.owner, stocktake.id)
    _db.session.rollback()  # the view rolls back the refused request
    assert stock_of(shop.merchant.id, red) == 5 and stock_of(shop.merchant.id, blue) == 0  # red's +3 undone too
    with tenant(shop.merchant.id):
        assert _db.session.get(Stocktake, stocktake.id).status == "open"


def test_the_stocktake_pages(db, shop, make_shop):
    product = make_product(shop.merchant.id, [("颜色:红", 100, 10), ("颜色:蓝", 100, 4)], title="Pu'er")
    red, blue = (s.id for s in product.skus)
    opened = shop.post("/merchant/inventory/stocktakes", {"scope": "all", "note": "monthly"})
    assert opened.status_code == 302
    stocktake_id = int(re.search(r"/stocktakes/(\d+)$", opened.headers["Location"]).group(1))
    page = shop.get(f"/merchant/inventory/stocktakes/{stocktake_id}").get_data(as_text=True)
    line_ids = [int(i) for i in re.findall(r'name="count-(\d+)"', page)]
    assert len(line_ids) == 2 and "0 of 2 SKUs counted" in page

    bad = shop.post(f"/merchant/inventory/stocktakes/{stocktake_id}", {f"count-{line_ids[0]}": "x"})
    assert bad.status_code == 400 and "Enter a whole number (0 or more)." in bad.get_data(as_text=True)
    saved = shop.post(f"/merchant/inventory/stocktakes/{stocktake_id}", {f"count-{line_ids[0]}": "12"})
    assert saved.status_code == 302
    again = shop.post("/merchant/inventory/stocktakes", {"scope": "all"})
    assert again.status_code == 400 and "A stocktake is already open" in " ".join(flashes(again.get_data(as_text=True)))

    other = make_shop("Other", "other-shop")
    assert other.get(f"/merchant/inventory/stocktakes/{stocktake_id}").status_code == 404
    assert other.post(f"/merchant/inventory/stocktakes/{stocktake_id}/confirm").status_code == 404
    assert other.post(f"/merchant/inventory/stocktakes/{stocktake_id}/cancel").status_code == 404

    confirmed = shop.post(f"/merchant/inventory/stocktakes/{stocktake_id}/confirm")
    assert confirmed.status_code == 302
    assert stock_of(shop.merchant.id, red) == 12 and stock_of(shop.merchant.id, blue) == 4
    history = shop.get("/merchant/inventory/stocktakes").get_data(as_text=True)
    assert "Confirmed" in history and "1 / 2" in history
