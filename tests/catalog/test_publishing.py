"""The public catalog copy: written from approved content, hidden with its store, searchable in Chinese."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, text

from mall.catalog.models import Brand, Category, Product, PublicProduct, Sku
from mall.catalog.publishing import resync_store, sync_public_product
from mall.catalog.text import index_text, words
from mall.tenancy import tenant


def _taxonomy(db):
    root = Category(name="服饰", slug="apparel", path="/")
    db.session.add(root)
    db.session.flush()
    root.path = f"/{root.id}/"
    leaf = Category(name="围巾", slug="scarves", parent_id=root.id, depth=1, path="/")
    brand = Brand(name="Highland", slug="highland")
    db.session.add_all([leaf, brand])
    db.session.flush()
    leaf.path = f"{root.path}{leaf.id}/"
    return leaf, brand


def _product(db, category, brand, *, approved=True) -> Product:
    product = Product(
        title="羊绒围巾 Cashmere scarf",
        slug="cashmere-scarf",
        category_id=category.id,
        brand_id=brand.id,
        status="approved" if approved else "draft",
        on_shelf=approved,
        approved_at=datetime.now(UTC) if approved else None,
        skus=[
            Sku(spec_values={"颜色": "红"}, spec_key="颜色:红", price_cents=19900, market_price_cents=29900, stock=3),
            Sku(spec_values={"颜色": "灰"}, spec_key="颜色:灰", price_cents=24900, stock=0),
        ],
    )
    db.session.add(product)
    db.session.flush()
    return product


def test_words_segment_chinese_and_lower_case_the_rest():
    assert words("羊绒围巾 Cashmere") == ["羊绒", "围巾", "cashmere"]
    assert {"共和国", "中华人民共和国"} <= set(words("中华人民共和国"))  # long words also give their parts
    assert index_text("羊绒 围巾") == "羊绒 围巾"


def test_an_approved_product_is_copied_and_found_by_chinese_words(db, make_merchant):
    category, brand = _taxonomy(db)
    merchant = make_merchant("Tea House")
    with tenant(merchant.id):
        product = _product(db, category, brand)
        row = sync_public_product(product)
    assert (row.price_min_cents, row.price_max_cents, row.market_price_cents) == (19900, 24900, 29900)
    assert row.is_on_offer and row.stock_total == 3 and row.is_visible
    assert row.category_path == category.path and row.merchant_id == merchant.id
    query = text("SELECT id FROM public_products WHERE search_vector @@ to_tsquery('simple', :q)")
    assert db.session.scalars(query, {"q": "羊绒 & 围巾"}).all() == [product.id]
    assert db.session.scalars(query, {"q": "服饰 & highland"}).all() == [product.id]  # ancestors and brand


def test_unapproved_products_have_no_public_row_and_hidden_stores_hide_theirs(db, make_merchant):
    category, brand = _taxonomy(db)
    merchant = make_merchant("Tea House")
    with tenant(merchant.id):
        assert sync_public_product(_product(db, category, brand, approved=False)) is None
        live = _product(db, category, brand)
        sync_public_product(live)
    assert db.session.scalar(select(func.count()).select_from(PublicProduct)) == 1

    merchant.status = "suspended"
    resync_store(merchant.id)
    assert db.session.get(PublicProduct, live.id).is_visible is False
    merchant.status = "active"
    resync_store(merchant.id)
    assert db.session.get(PublicProduct, live.id).is_visible is True


def test_unreviewed_edits_of_a_taken_down_product_never_reach_the_public_row(db, make_merchant):
    category, brand = _taxonomy(db)
    merchant = make_merchant("Tea House")
    with tenant(merchant.id):
        product = _product(db, category, brand)
        sync_public_product(product)
        product.status = "taken_down"
        product.title = "Edited while taken down"  # edited in place, not reviewed
        product.skus[0].stock = 9
        db.session.flush()
        row = sync_public_product(product)
    assert row.title == "羊绒围巾 Cashmere scarf" and row.is_visible is False and row.stock_total == 9
    query = text("SELECT count(*) FROM public_products WHERE search_vector @@ to_tsquery('simple', 'edited')")
    assert db.session.scalar(query) == 0
