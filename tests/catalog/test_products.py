"""The products service: SKU matrix, validation, states and revisions, apply_content, shelf, delete,
thumbnails, trusted stores, and one store never reaching another's rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from PIL import Image
from sqlalchemy import func, select

from mall.audit.models import AuditEntry
from mall.catalog import products as svc
from mall.catalog import shelf
from mall.catalog.images import product_image_url
from mall.catalog.inventory import adjust_stock
from mall.catalog.models import (
    Product,
    ProductImage,
    ProductRevision,
    PublicProduct,
    ReviewQueueItem,
    Sku,
    StockMovement,
    StoreCategory,
)
from mall.catalog.product_input import ProductError, ProductInvalid, sku_matrix
from mall.storage.backends import get_storage
from mall.storage.models import StoredObject
from mall.storage.services import Upload
from mall.tenancy import tenant
from mall.trading.models import OrderLine
from tests.catalog.product_helpers import image, make_live, make_taxonomy, mp4, raw_product, single_raw
from tests.jobs.helpers import work

pytestmark = pytest.mark.usefixtures("english")  # these tests read English messages


@pytest.fixture()
def tax(db):
    return make_taxonomy(db)


@pytest.fixture()
def shop(db, make_user, make_merchant):
    owner = make_user()
    return make_merchant("Scarf Shop", slug="scarf-shop", owner=owner), owner


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _skus(product: Product) -> list[Sku]:
    return sorted(product.skus, key=lambda s: s.position)


# ------------------------------------------------------------------------------ SKU matrix


def test_two_by_three_specs_make_six_skus_with_canonical_keys(db, tax, shop):
    merchant, owner = shop
    with tenant(merchant.id):
        product = svc.create_product(owner, raw_product(tax))
        skus = _skus(product)
        assert [s.spec_key for s in skus] == [
            "颜色:红|尺码:S",
            "颜色:红|尺码:M",
            "颜色:红|尺码:L",
            "颜色:灰|尺码:S",
            "颜色:灰|尺码:M",
            "颜色:灰|尺码:L",
        ]
        assert skus[4].spec_values == {"颜色": "灰", "尺码": "M"}
        assert {s.price_cents for s in skus} == {19900} and {s.market_price_cents for s in skus} == {29900}
        assert {s.weight_grams for s in skus} == {250} and all(s.is_active and s.stock == 0 for s in skus)
        assert product.specs == [{"name": "颜色", "values": ["红", "灰"]}, {"name": "尺码", "values": ["S", "M", "L"]}]
        assert product.status == "draft" and product.slug == "cashmere-scarf"
        assert product.description_html == "<p>Soft</p>"  # sanitised on save
        assert product.attributes == {
            str(tax.material.id): "羊绒",
            str(tax.style.id): ["休闲"],
            str(tax.length.id): "180.5",
        }


def test_no_specs_make_one_sku_with_an_empty_key_and_a_chinese_title_gets_an_id_slug(db, tax, shop):
    merchant, owner = shop
    assert sku_matrix([]) == [("", {})]
    with tenant(merchant.id):
        product = svc.create_product(owner, single_raw(tax, title="羊绒围巾"))
        [sku] = product.skus
        assert (sku.spec_key, sku.spec_values, sku.price_cents) == ("", {}, 9900)
        assert product.slug == f"product-{product.id}"


def test_initial_stock_is_a_movement_at_creation_and_ignored_later(db, tax, shop):
    merchant, owner = shop
    raw = raw_product(tax)
    raw["skus"]["颜色:红|尺码:S"]["stock"] = "5"
    with tenant(merchant.id):
        product = svc.create_product(owner, raw)
        red_s = _skus(product)[0]
        assert red_s.stock == 5
        moves = db.session.scalars(select(StockMovement)).all()
        assert [(m.sku_id, m.delta, m.stock_after, m.reason, m.actor_id) for m in moves] == [
            (red_s.id, 5, 5, "initial", owner.id)
        ]
        raw["skus"]["颜色:红|尺码:S"]["stock"] = "99"  # stock of an existing SKU is inventory's
        svc.save_product(owner, product, raw)
        db.session.refresh(red_s)
        assert red_s.stock == 5 and _count(db, StockMovement) == 1


# ------------------------------------------------------------------------------ validation


def test_every_wrong_field_has_its_message_and_nothing_is_written(db, tax, shop, make_merchant):
    merchant, owner = shop
    other = make_merchant("Other")
    with tenant(other.id):
        foreign = StoreCategory(name="Theirs")
        db.session.add(foreign)
        db.session.flush()
    raw = raw_product(
        tax,
        title=" ",
        subtitle="x" * 201,
        slug="Not a slug!",
        brand_id=str(tax.disabled_brand.id),
        store_category_ids=[str(foreign.id)],
        attributes={str(tax.material.id): "丝绸", str(tax.style.id): ["休闲", "朋克"], str(tax.length.id): "long"},
        specs=[{"name": "颜色", "values": "红, 灰"}, {"name": "尺码", "values": "S, M:L"}],
    )
    with tenant(merchant.id), pytest.raises(ProductInvalid) as caught:
        svc.create_product(owner, raw, new_images=[image()])
    errors = caught.value.errors
    assert errors == {
        "title": "This field is required.",
        "subtitle": "At most 200 characters (now 201).",
        "slug": "Use lower-case letters, digits and single hyphens only, e.g. tea-set.",
        "brand_id": "This brand does not exist or is no longer available.",
        "store_category_ids": "One of the store categories does not exist in your store.",
        f"attr-{tax.material.id}": "Choose one of the listed options.",
        f"attr-{tax.style.id}": "Choose among the listed options.",
        f"attr-{tax.length.id}": "Enter a number, e.g. 12.5.",
        "spec-1-values": "Spec values cannot contain “:” or “|”.",
    }
    with tenant(merchant.id):
        assert _count(db, Product) == 0 and _count(db, Sku) == 0
    assert _count(db, StoredObject) == 0  # uploads are stored only once the text is valid


def test_sku_prices_codes_and_category_are_checked_per_row(db, tax, shop):
    merchant, owner = shop
    raw = raw_product(tax, category_id=str(tax.root.id))  # not a leaf
    rows = raw["skus"]
    rows["颜色:红|尺码:S"]["price"] = ""
    rows["颜色:红|尺码:M"]["price"] = "1.234"
    rows["颜色:红|尺码:L"]["market_price"] = "100"  # below the 199.00 sale price
    rows["颜色:灰|尺码:S"]["price"] = "0"
    rows["颜色:灰|尺码:M"]["code"] = "SC-1"
    rows["颜色:灰|尺码:L"]["code"] = "SC-1"
    rows["颜色:灰|尺码:L"]["weight"] = "heavy"
    with tenant(merchant.id), pytest.raises(ProductInvalid) as caught:
        svc.create_product(owner, raw)
    assert caught.value.errors == {
        "category_id": "Choose an enabled category of the lowest level.",
        "sku-0-price": "Give the sale price.",
        "sku-1-price": "Enter an amount in yuan with at most two decimals, e.g. 199.00.",
        "sku-2-market_price": "The market price cannot be lower than the sale price.",
        "sku-3-price": "The sale price must be at least 0.01.",
        "sku-5-code": "Two SKUs have the code SC-1.",
        "sku-5-weight": "Enter a whole number (0 or more).",
    }


def test_spec_limits(db, tax, shop):
    merchant, owner = shop
    four = [{"name": f"轴{i}", "values": "a"} for i in range(4)]
    with tenant(merchant.id):
        with pytest.raises(ProductInvalid) as caught:
            svc.create_product(owner, raw_product(tax, specs=four))
        assert caught.value.errors == {"specs": "At most 3 specs."}
        too_many = [{"name": "颜色", "values": ",".join(str(i) for i in range(21))}, {"name": "颜色", "values": "x"}]
        with pytest.raises(ProductInvalid) as caught:
            svc.create_product(owner, raw_product(tax, specs=too_many))
        assert caught.value.errors == {
            "spec-0-values": "At most 20 values per spec.",
            "spec-1-name": "Two specs have the same name.",
        }


def test_sku_codes_are_unique_in_the_store_and_the_index_clash_is_a_field_error(db, tax, shop):
    merchant, owner = shop
    with tenant(merchant.id):
        first = svc.create_product(owner, single_raw(tax, skus={"": {"price": "10", "code": "SC-1"}}))
        with pytest.raises(ProductInvalid) as caught:
            svc.create_product(owner, single_raw(tax, skus={"": {"price": "10", "code": "SC-1"}}))
        assert caught.value.errors == {"sku-0-code": "The code SC-1 is already used by another product of your store."}
        # The same clash reaching the partial unique index (as a late approval could) is translated too.
        second = svc.create_product(owner, single_raw(tax))
        data = svc.product_content(second)
        data["skus"][0]["code"] = "SC-1"
        with pytest.raises(ProductInvalid) as caught:
            svc.apply_content(second, data, owner.id)
        assert caught.value.errors == {"sku-0-code": "The code SC-1 is already used by another product of your store."}
        assert db.session.scalar(select(func.count()).where(Sku.code == "SC-1")) == 1
        assert first.id != second.id


def test_required_attributes_and_images_are_enforced_at_submit(db, tax, shop):
    merchant, owner = shop
    with tenant(merchant.id):
        product = svc.create_product(owner, raw_product(tax, attributes={}))  # a draft may lack them
        with pytest.raises(ProductInvalid) as caught:
            svc.submit_product(product, owner)
        assert caught.value.errors == {
            f"attr-{tax.material.id}": "材质 is required.",
            "new_images": "Add at least one image.",
        }
        assert product.status == "draft" and _count(db, ReviewQueueItem) == 0


# ------------------------------------------------------------------------------ states


def _submittable(db, tax, owner, **over) -> Product:
    return svc.create_product(
        owner, raw_product(tax, **over), new_images=[image("a.png"), image("b.png", color=(0, 0, 200))]
    )


def test_draft_submit_withdraw_and_no_editing_while_submitted(db, tax, shop):
    merchant, owner = shop
    with tenant(merchant.id):
        product = _submittable(db, tax, owner)
        svc.submit_product(product, owner)
        assert product.status == "submitted" and product.submitted_at is not None
        [item] = db.session.scalars(select(ReviewQueueItem)).all()
        assert (item.product_id, item.kind, item.status, item.merchant_id) == (
            product.id,
            "new",
            "pending",
            merchant.id,
        )
        with pytest.raises(ProductError) as caught:
            svc.save_product(owner, product, raw_product(tax, title="Changed"))
        assert caught.value.message == "This product is waiting for review: withdraw it to make changes."
        assert product.title == "羊绒围巾 Cashmere scarf"
        svc.withdraw_product(product, owner)
        assert product.status == "draft" and item.status == "withdrawn"
        svc.save_product(owner, product, raw_product(tax, title="Changed"), new_images=[])
        assert product.title == "Changed"
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.object_type == "Product").order_by(AuditEntry.id)
        ).all()
        assert [e.action for e in entries] == ["product.create", "product.submit", "product.withdraw", "product.update"]
        assert {(e.area, e.merchant_id, e.actor_id) for e in entries} == {("merchant", merchant.id, owner.id)}
        assert entries[-1].changes["title"] == ["羊绒围巾 Cashmere scarf", "Changed"]


def test_a_rejected_product_is_edited_in_place_and_resubmitted(db, tax, shop):
    merchant, owner = shop
    with tenant(merchant.id):
        product = _submittable(db, tax, owner)
        product.status, product.status_reason = "rejected", "Blurry photos"
        svc.save_product(
            owner, product, raw_product(tax, title="Sharper", images=svc.product_content(product)["images"])
        )
        assert product.title == "Sharper" and product.status == "rejected"
        svc.submit_product(product, owner)
        assert product.status == "submitted" and product.status_reason is None


def test_editing_a_live_product_makes_one_revision_and_the_live_version_keeps_selling(db, tax, shop):
    merchant, owner = shop
    with tenant(merchant.id):
        product = _submittable(db, tax, owner)
        make_live(product)
        live_images = svc.product_content(product)["images"]
        changed = raw_product(tax, title="New title", images=live_images)
        changed["skus"]["颜色:红|尺码:S"]["price"] = "149.00"
        revision = svc.save_product(owner, product, changed)
        assert revision.status == "draft" and revision.data["title"] == "New title"
        assert revision.data["skus"][0]["price_cents"] == 14900
        db.session.expire_all()
        assert product.title == "羊绒围巾 Cashmere scarf" and _skus(product)[0].price_cents == 19900
        public = db.session.get(PublicProduct, product.id)
        assert public.title == "羊绒围巾 Cashmere scarf" and public.price_min_cents == 19900 and public.is_visible
        assert svc.editable_content(product)["title"] == "New title"
        # Saving again updates the same open revision.
        again = svc.save_product(owner, product, raw_product(tax, title="Newer title", images=live_images))
        assert again.id == revision.id and _count(db, ProductRevision) == 1
        svc.submit_product(product, owner)
        assert revision.status == "submitted" and product.status == "approved"
        item = db.session.scalar(select(ReviewQueueItem).where(ReviewQueueItem.status == "pending"))
        assert (item.kind, item.revision_id) == ("revision", revision.id)
        with pytest.raises(ProductError):
            svc.save_product(owner, product, raw_product(tax, title="Sneaky", images=live_images))
        svc.withdraw_product(product, owner)
        assert revision.status == "draft" and item.status == "withdrawn"
        svc.discard_revision(product, owner)
        assert revision.status == "withdrawn" and svc.open_revision(product) is None
        assert svc.editable_content(product)["title"] == "羊绒围巾 Cashmere scarf"
        assert product.title == "羊绒围巾 Cashmere scarf"
        # Saving the live content unchanged makes no revision.
        with pytest.raises(ProductError, match="Nothing has changed"):
            svc.save_product(owner, product, svc.content_to_raw(svc.product_content(product)))
        assert svc.open_revision(product) is None


def test_apply_content_matches_skus_by_key_and_keeps_those_with_history(db, tax, shop):
    merchant, owner = shop
    raw = raw_product(tax, specs=[{"name": "颜色", "values": "红, 灰, 白"}])
    raw["skus"] = {
        "颜色:红": {"price": "10", "code": "R"},
        "颜色:灰": {"price": "10", "code": "G", "stock": "3"},
        "颜色:白": {"price": "10", "code": "W"},
    }
    with tenant(merchant.id):
        product = svc.create_product(owner, raw)
        red, grey, white = _skus(product)
        data = svc.product_content(product)
        data["specs"] = [{"name": "颜色", "values": ["红", "蓝"]}]
        data["skus"] = [
            {**data["skus"][0], "price_cents": 1200, "code": "G"},  # red takes grey's code
            {"spec_values": {"颜色": "蓝"}, "spec_key": "颜色:蓝", "code": "R", "price_cents": 900, "stock": 4},
        ]
        svc.apply_content(product, data, owner.id)
        skus = {s.spec_key: s for s in product.skus}
        assert set(skus) == {"颜色:红", "颜色:灰", "颜色:蓝"}  # white had no history: deleted
        assert skus["颜色:红"].id == red.id and (skus["颜色:红"].price_cents, skus["颜色:红"].code) == (1200, "G")
        assert skus["颜色:灰"].id == grey.id and not skus["颜色:灰"].is_active and skus["颜色:灰"].stock == 3
        assert skus["颜色:灰"].code is None  # its code moved to red
        assert (skus["颜色:蓝"].code, skus["颜色:蓝"].stock, skus["颜色:蓝"].is_active) == ("R", 4, True)
        assert db.session.get(Sku, white.id) is None
        assert [s["spec_key"] for s in svc.product_content(product)["skus"]] == ["颜色:红", "颜色:蓝"]
        blue_moves = db.session.scalars(select(StockMovement).where(StockMovement.sku_id == skus["颜色:蓝"].id)).all()
        assert [(m.delta, m.reason) for m in blue_moves] == [(4, "initial")]


def test_trusted_store_publishes_on_submit(db, tax, shop):
    merchant, owner = shop
    merchant.catalog_trusted = True
    with tenant(merchant.id):
        product = _submittable(db, tax, owner)
        svc.submit_product(product, owner)
        assert product.status == "approved" and product.approved_at is not None and product.on_shelf
        public = db.session.get(PublicProduct, product.id)
        assert public is not None and public.is_visible and public.title == "羊绒围巾 Cashmere scarf"
        # A trusted store's edit of the live product goes live at once as well.
        images = svc.product_content(product)["images"]
        svc.save_product(owner, product, raw_product(tax, title="Trusted edit", images=images))
        svc.submit_product(product, owner)
        assert product.title == "Trusted edit" and svc.open_revision(product) is None
        assert db.session.get(PublicProduct, product.id).title == "Trusted edit"


# ------------------------------------------------------------------------------ shelf


def test_shelf_now_only_for_approved_products_and_the_public_row_follows(db, tax, shop):
    merchant, owner = shop
    with tenant(merchant.id):
        product = _submittable(db, tax, owner)
        with pytest.raises(ProductError) as caught:
            shelf.set_on_shelf(product, owner, True)
        assert caught.value.message == "Only an approved product can be put on shelf."
        make_live(product, on_shelf=False)
        assert db.session.get(PublicProduct, product.id).is_visible is False
        shelf.set_on_shelf(product, owner, True)
        assert db.session.get(PublicProduct, product.id).is_visible is True
        shelf.set_on_shelf(product, owner, False)
        assert product.status == "approved" and db.session.get(PublicProduct, product.id).is_visible is False


def test_scheduled_shelf_changes_are_applied_by_the_periodic_job(app, db, tax, shop, make_merchant):
    merchant, owner = shop
    before = datetime(2030, 1, 1, tzinfo=UTC)
    with tenant(merchant.id):
        product = _submittable(db, tax, owner)
        make_live(product, on_shelf=False)
        # 10:00 and 18:00 in the store's time (Asia/Shanghai, UTC+8).
        shelf.schedule_shelf(product, owner, "2030-01-02T10:00", "2030-01-02T18:00", now=before)
        assert product.shelve_at == datetime(2030, 1, 2, 2, 0, tzinfo=UTC)
        assert product.unshelve_at == datetime(2030, 1, 2, 10, 0, tzinfo=UTC)
        assert shelf.local_input_value(product.shelve_at) == "2030-01-02T10:00"
        with pytest.raises(ProductInvalid) as caught:
            shelf.schedule_shelf(product, owner, "2030-01-02T10:00", "2030-01-02T09:00", now=before)
        assert caught.value.errors == {"unshelve_at": "The product must go off shelf after it goes on shelf."}
        pending = _submittable(db, tax, owner, title="Still in review")
        shelf.schedule_shelf(pending, owner, "2030-01-02T10:00", "", now=before)
    suspended = make_merchant("Suspended")
    with tenant(suspended.id):
        hidden = svc.create_product(owner, single_raw(tax))
        make_live(hidden, on_shelf=False)
        hidden.shelve_at = datetime(2030, 1, 1, tzinfo=UTC)
    suspended.status = "suspended"
    db.session.commit()

    assert shelf.apply_shelf_schedules("2030-01-02T01:59:00+00:00") == 0
    assert shelf.apply_shelf_schedules("2030-01-02T02:00:00+00:00") == 1
    with tenant(merchant.id):
        db.session.expire_all()
        assert product.on_shelf and product.shelve_at is None and product.unshelve_at is not None
        assert db.session.get(PublicProduct, product.id).is_visible
        assert pending.shelve_at is not None and not pending.on_shelf  # waits for its approval
    assert shelf.apply_shelf_schedules("2030-01-02T10:00:00+00:00") == 1
    with tenant(merchant.id):
        db.session.expire_all()
        assert not product.on_shelf and product.unshelve_at is None
        assert not db.session.get(PublicProduct, product.id).is_visible
    with tenant(suspended.id):
        assert not db.session.get(Product, hidden.id).on_shelf  # suspended stores are skipped
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == str(product.id))).all()
    assert actions.count("product.shelf.scheduled") == 2


def test_a_late_job_applies_both_schedules_in_time_order(db, tax, shop):
    merchant, owner = shop
    with tenant(merchant.id):
        product = _submittable(db, tax, owner)
        make_live(product, on_shelf=False)
        shelf.schedule_shelf(
            product, owner, "2030-01-02T10:00", "2030-01-02T11:00", now=datetime(2030, 1, 1, tzinfo=UTC)
        )
        assert shelf.apply_due_schedules(datetime(2030, 1, 3, tzinfo=UTC)) == 1
        assert not product.on_shelf and product.shelve_at is None and product.unshelve_at is None


def test_the_periodic_job_is_registered():
    from mall.jobs.worker import periodic_jobs

    assert ("mall.catalog.shelf.apply_shelf_schedules", {"interval": 60}) in periodic_jobs()


# ------------------------------------------------------------------------------ delete or archive


def test_delete_removes_the_product_and_its_public_row(db, tax, shop):
    merchant, owner = shop
    with tenant(merchant.id):
        product = _submittable(db, tax, owner)
        make_live(product)
        product_id = product.id
        assert svc.product_is_referenced(product) is False  # no order_lines table yet
        assert svc.delete_product(product, owner) is True
        assert db.session.get(Product, product_id) is None and _count(db, Sku) == 0
    assert db.session.get(PublicProduct, product_id) is None
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "product.delete"))
    assert entry.object_id == str(product_id) and entry.changes == {"title": ["羊绒围巾 Cashmere scarf", None]}


def test_a_product_referenced_by_an_order_line_is_archived_instead(db, tax, shop):
    merchant, owner = shop
    with tenant(merchant.id):
        product = _submittable(db, tax, owner)
        make_live(product)
        assert svc.product_is_referenced(product) is False
        db.session.add(
            OrderLine(
                order_id=1,
                product_id=product.id,
                sku_id=product.skus[0].id,
                title=product.title,
                category_id=product.category_id,
                unit_price_cents=100,
                quantity=1,
                total_cents=100,
            )
        )
        db.session.flush()
        assert svc.product_is_referenced(product) is True
        assert svc.delete_product(product, owner) is False
        assert (product.status, product.on_shelf) == ("archived", False)
        with pytest.raises(ProductError):
            svc.save_product(owner, product, raw_product(tax))
        with pytest.raises(ProductError):
            shelf.set_on_shelf(product, owner, True)
    public = db.session.get(PublicProduct, product.id)
    assert public is not None and public.is_visible is False


# ------------------------------------------------------------------------------ images


def test_thumbnails_are_made_by_a_job_and_urls_fall_back_to_the_original(app, db, tax, shop):
    merchant, owner = shop
    with tenant(merchant.id):
        product = svc.create_product(
            owner, single_raw(tax), new_images=[image("big.jpg", size=(1200, 800), fmt="JPEG")]
        )
        [img] = product.images
        original = db.session.get(StoredObject, img.file_id)
        assert (original.purpose, original.merchant_id, original.is_private) == ("product-image", merchant.id, False)
        assert product_image_url(img) == f"/media/{original.key}"  # no thumbnail yet
    db.session.commit()
    work(app)
    with tenant(merchant.id):
        img = db.session.get(ProductImage, img.id)
        assert img.thumb_file_id is not None
        thumb = db.session.get(StoredObject, img.thumb_file_id)
        assert (thumb.purpose, thumb.width, thumb.height, thumb.content_type) == (
            "product-thumb",
            400,
            267,
            "image/jpeg",
        )
        assert product_image_url(img) == f"/media/{thumb.key}"
        assert product_image_url(img, thumb=False) == f"/media/{original.key}"
    with Image.open(__import__("io").BytesIO(get_storage().read(thumb.key))) as picture:
        assert picture.size == (400, 267)


def test_images_keep_their_order_and_removed_ones_go(db, tax, shop):
    merchant, owner = shop
    with tenant(merchant.id):
        product = svc.create_product(
            owner, single_raw(tax), new_images=[image("a.png"), image("b.png", color=(1, 2, 3)), image("c.png")]
        )
        a, _b, c = svc.product_content(product)["images"]
        svc.save_product(owner, product, single_raw(tax, images=[str(c), str(a)]))
        assert svc.product_content(product)["images"] == [c, a]
        assert [i.position for i in product.images] == [0, 1]


def test_a_video_is_checked_by_its_bytes_kept_removed_and_never_another_stores(db, tax, shop, make_merchant):
    merchant, owner = shop
    with tenant(merchant.id):
        with pytest.raises(ProductInvalid) as caught:
            svc.create_product(owner, single_raw(tax), video=Upload(b"not a video at all", "x.mp4"))
        assert caught.value.errors == {"video": "This file is not an MP4 or WebM video."}
        product = svc.create_product(owner, single_raw(tax), video=mp4())
        video = db.session.get(StoredObject, product.video_file_id)
        assert (video.content_type, video.merchant_id, video.is_private) == ("video/mp4", merchant.id, False)
        svc.save_product(owner, product, single_raw(tax, title="Kept", video_file_id=str(video.id)))
        assert product.video_file_id == video.id
        svc.save_product(owner, product, single_raw(tax, video_file_id=str(video.id), remove_video="1"))
        assert product.video_file_id is None
    other = make_merchant("Other")
    with tenant(other.id), pytest.raises(ProductInvalid) as caught:
        svc.create_product(owner, single_raw(tax, video_file_id=str(video.id)))
    assert caught.value.errors == {"video": "This video was not uploaded by this store."}


# ------------------------------------------------------------------------------ isolation


def test_one_store_never_reaches_another_stores_products_images_or_categories(db, tax, shop, make_merchant):
    merchant, owner = shop
    other = make_merchant("Other")
    with tenant(merchant.id):
        theirs = svc.create_product(owner, single_raw(tax), new_images=[image()])
        their_image = theirs.images[0].file_id
        category = StoreCategory(name="Mine")
        db.session.add(category)
        db.session.flush()
    with tenant(other.id):
        with pytest.raises(svc.NotFound):
            svc.get_product(theirs.id)
        with pytest.raises(ProductInvalid) as caught:
            svc.create_product(owner, single_raw(tax, images=[str(their_image)], store_category_ids=[str(category.id)]))
        assert caught.value.errors == {
            "images": "One of the images is not an image of your store.",
            "store_category_ids": "One of the store categories does not exist in your store.",
        }
        assert _count(db, Product) == 0
    with tenant(merchant.id):
        assert _count(db, Product) == 1


def test_stock_movements_still_sum_after_editing(db, tax, shop):
    merchant, owner = shop
    with tenant(merchant.id):
        product = svc.create_product(owner, single_raw(tax, skus={"": {"price": "5", "stock": "7"}}))
        [sku] = product.skus
        adjust_stock(sku.id, -2, "adjustment", actor_id=owner.id, note="broken")
        svc.save_product(owner, product, single_raw(tax, skus={"": {"price": "6", "stock": "50"}}))
        db.session.refresh(sku)
        total = db.session.scalar(select(func.sum(StockMovement.delta)).where(StockMovement.sku_id == sku.id))
        assert sku.stock == total == 5 and sku.price_cents == 600
