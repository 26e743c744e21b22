"""The sample-data generator: real stores, approved products, consistent stock and public rows."""

from __future__ import annotations

from sqlalchemy import func, select

from mall.catalog.generate import generate_catalog
from mall.catalog.models import Product, PublicProduct, Sku, StockMovement
from mall.merchants.models import Merchant
from mall.tenancy import tenant


def test_generated_stores_hold_exactly_the_asked_skus_with_consistent_stock(committed_db):
    db = committed_db
    report = generate_catalog(stores=3, skus=50, seed=7)
    assert (report.stores, report.skus) == (3, 50)
    merchants = db.session.scalars(select(Merchant).where(Merchant.slug.like("gen7-%")).order_by(Merchant.id)).all()
    assert [m.slug for m in merchants] == ["gen7-1", "gen7-2", "gen7-3"]
    total = 0
    for merchant in merchants:
        with tenant(merchant.id):
            skus = db.session.scalars(select(Sku)).all()
            total += len(skus)
            sums = dict(
                db.session.execute(
                    select(StockMovement.sku_id, func.sum(StockMovement.delta)).group_by(StockMovement.sku_id)
                ).all()
            )
            assert all(sums[s.id] == s.stock for s in skus)  # the movement log explains every unit
            products = db.session.scalars(select(Product)).all()
            assert all(p.status == "approved" and p.on_shelf for p in products)
        public = db.session.scalars(select(PublicProduct).where(PublicProduct.merchant_id == merchant.id)).all()
        assert sorted(p.id for p in public) == sorted(p.id for p in products)
        assert all(p.is_visible and p.search_text for p in public)
    assert total == 50

    again = generate_catalog(stores=3, skus=50, seed=7)  # resumable: existing stores are skipped
    assert again.stores == 0
