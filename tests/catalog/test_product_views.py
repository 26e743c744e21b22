"""The product pages of the merchant centre: list, editor (no JavaScript needed), actions, tampering
across stores, permissions."""

from __future__ import annotations

import html
import io
import re

import pytest
from sqlalchemy import func, select

from mall.catalog import products as svc
from mall.catalog import store_categories as cats
from mall.catalog.models import Product, ProductImage, PublicProduct, ReviewQueueItem, Sku
from mall.merchants.models import MerchantMembership, StaffMember
from mall.tenancy import tenant
from tests.catalog.product_helpers import image, make_live, make_taxonomy, png, raw_product, single_raw
from tests.conftest import csrf_token, login

pytestmark = pytest.mark.usefixtures("english")  # these tests read English messages


@pytest.fixture()
def tax(db):
    return make_taxonomy(db)


class Shop:
    def __init__(self, app, merchant, owner):
        self.merchant, self.owner = merchant, owner
        self.client = app.test_client()
        self.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        assert login(self.client, owner.username, area="merchant").status_code == 302

    def get(self, path):
        return self.client.get(path)

    def page(self, path) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)

    def post(self, path, data=None, **kw):
        token = csrf_token(self.client, "/merchant/store-categories")
        return self.client.post(path, data={**(data or {}), "csrf_token": token}, **kw)


@pytest.fixture()
def make_shop(app, db, make_user, make_merchant):
    def make_shop(name="Scarf Shop", slug=None) -> Shop:
        owner = make_user()
        return Shop(app, make_merchant(name, slug=slug, owner=owner), owner)

    return make_shop


@pytest.fixture()
def shop(make_shop):
    return make_shop("Scarf Shop", "scarf-shop")


def form(tax, **over) -> dict:
    """The editor form of a scarf with 颜色 x 尺码 (2 x 2), as a browser without JavaScript posts it."""
    data = {
        "title": "羊绒围巾 Cashmere scarf",
        "subtitle": "Warm",
        "slug": "",
        "category_id": str(tax.leaf.id),
        "brand_id": str(tax.brand.id),
        f"attr-{tax.material.id}": "羊绒",
        "spec-0-name": "颜色",
        "spec-0-values": "红, 灰",
        "spec-1-name": "尺码",
        "spec-1-values": "S, M",
        "spec-2-name": "",
        "spec-2-values": "",
        "description_html": "<p>Soft</p><img src=x onerror=alert(1)>",
        "after_sales": "7 days",
        "action": "save",
    }
    keys = ["颜色:红|尺码:S", "颜色:红|尺码:M", "颜色:灰|尺码:S", "颜色:灰|尺码:M"]
    for i, key in enumerate(keys):
        data.update(
            {
                f"sku-{i}-key": key,
                f"sku-{i}-price": f"{100 + i}.00",
                f"sku-{i}-market_price": "",
                f"sku-{i}-stock": str(i),
                f"sku-{i}-code": f"SC-{i}",
                f"sku-{i}-weight": "200",
                f"sku-{i}-active": "1",
            }
        )
    data.update(over)
    return data


def errors_of(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<p class="error" role="alert">([^<]+)</p>', page)]


def _products(db, merchant) -> list[Product]:
    with tenant(merchant.id):
        return db.session.scalars(select(Product).order_by(Product.id)).all()


# ------------------------------------------------------------------------------ the editor


def test_create_a_product_with_two_specs_and_images_through_the_form(db, tax, shop):
    page = shop.page("/merchant/products/new")
    assert '<a href="/merchant/products" aria-current="page">Products</a>' in page  # the sidebar link
    assert f'<option value="{tax.leaf.id}">' in page and f'<option value="{tax.root.id}" disabled>' in page
    assert 'enctype="multipart/form-data"' in page and 'name="new_images"' in page
    files = {"new_images": [(io.BytesIO(png((200, 0, 0))), "red.png"), (io.BytesIO(png((0, 0, 200))), "blue.png")]}
    response = shop.post("/merchant/products/new", {**form(tax), **files}, content_type="multipart/form-data")
    assert response.status_code == 302, errors_of(response.get_data(as_text=True))
    [product] = _products(db, shop.merchant)
    assert response.headers["Location"].endswith(f"/merchant/products/{product.id}/edit")
    with tenant(shop.merchant.id):
        skus = sorted(product.skus, key=lambda s: s.position)
        assert [(s.spec_key, s.price_cents, s.stock, s.code) for s in skus] == [
            ("颜色:红|尺码:S", 10000, 0, "SC-0"),
            ("颜色:红|尺码:M", 10100, 1, "SC-1"),
            ("颜色:灰|尺码:S", 10200, 2, "SC-2"),
            ("颜色:灰|尺码:M", 10300, 3, "SC-3"),
        ]
        assert product.description_html == "<p>Soft</p><img>" and product.status == "draft"
        first, second = svc.product_content(product)["images"]
    edit = shop.page(f"/merchant/products/{product.id}/edit")
    assert 'value="羊绒围巾 Cashmere scarf"' in edit and 'data-status="draft"' in edit
    assert 'name="sku-1-price" value="101.00"' in edit and '<span class="pe-stock">1</span>' in edit
    assert f'name="image-pos-{first}" value="1"' in edit and f'name="image-pos-{second}" value="2"' in edit
    assert "Submit for review" in edit and "Draft saved." in edit


def test_the_refresh_button_redraws_attributes_and_the_sku_table_without_saving(db, tax, shop):
    data = form(tax, action="refresh", **{"spec-1-values": "S, M, L"})
    response = shop.post("/merchant/products/new", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and _products(db, shop.merchant) == []
    assert f'name="attr-{tax.material.id}"' in page and f'name="attr-{tax.style.id}"' in page
    assert "Suggested for this category:" in page
    keys = re.findall(r'name="sku-\d+-key" value="([^"]+)"', page)
    assert [html.unescape(k) for k in keys] == [f"颜色:{c}|尺码:{s}" for c in "红灰" for s in "SML"]
    assert 'name="sku-0-price" value="100.00"' in page  # typed values stay with their SKU
    assert 'name="sku-2-price" value=""' in page  # the new L cell is empty


def test_wrong_fields_are_marked_and_nothing_is_written(db, tax, shop):
    data = form(tax, title="", **{"sku-1-price": "abc", "sku-2-code": "SC-3", "spec-1-values": "S, M"})
    data["new_images"] = (io.BytesIO(b"not an image"), "fake.png")
    response = shop.post("/merchant/products/new", data, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert errors_of(page) == [
        "This field is required.",
        "Enter an amount in yuan with at most two decimals, e.g. 199.00.",
        "Two SKUs have the code SC-3.",
    ]
    assert 'value="abc"' in page  # what was typed is kept
    assert _products(db, shop.merchant) == []
    bad_image = shop.post("/merchant/products/new", {**form(tax), "new_images": (io.BytesIO(b"nope"), "x.png")})
    assert bad_image.status_code == 400
    assert "x.png: This file is not a valid image; allowed: JPEG, PNG, WebP or GIF." in errors_of(
        bad_image.get_data(as_text=True)
    )
    assert _products(db, shop.merchant) == []


def test_save_and_submit_checks_everything_and_keeps_the_draft_when_refused(db, tax, shop):
    response = shop.post("/merchant/products/new", form(tax, action="submit"))  # no image
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Add at least one image." in errors_of(page)
    [product] = _products(db, shop.merchant)
    assert product.status == "draft"
    assert f'action="/merchant/products/{product.id}/edit"' in page  # the next save edits this draft
    data = {**form(tax, action="submit"), "new_images": (io.BytesIO(png()), "a.png")}
    response = shop.post(f"/merchant/products/{product.id}/edit", data, content_type="multipart/form-data")
    assert response.status_code == 302
    with tenant(shop.merchant.id):
        db.session.expire_all()
        assert db.session.get(Product, product.id).status == "submitted"
    page = shop.page(f"/merchant/products/{product.id}/edit")
    assert "Submitted for review." in page and "Withdraw from review" in page
    assert '<fieldset class="pe-fieldset" disabled>' in page  # read-only while in review
    refused = shop.post(f"/merchant/products/{product.id}/edit", form(tax, title="Sneaky"))
    assert refused.status_code == 302
    assert shop.post(f"/merchant/products/{product.id}/withdraw").status_code == 302
    with tenant(shop.merchant.id):
        db.session.expire_all()
        product = db.session.get(Product, product.id)
        assert (product.status, product.title) == ("draft", "羊绒围巾 Cashmere scarf")


def test_a_live_product_is_edited_into_pending_changes_and_shelved(db, tax, shop):
    with tenant(shop.merchant.id):
        product = svc.create_product(shop.owner, raw_product(tax), new_images=[image()])
        make_live(product, on_shelf=False)
        image_ids = [str(i) for i in svc.product_content(product)["images"]]
    edit = shop.page(f"/merchant/products/{product.id}/edit")
    assert "Put on shelf" in edit and "Save changes" in edit
    data = {**form(tax, title="New title"), "image_ids": image_ids}
    data.update({f"sku-{i}-key": k for i, k in enumerate(["颜色:红|尺码:S", "颜色:红|尺码:M", "颜色:红|尺码:L"])})
    data["spec-1-values"] = "S, M, L"
    data.pop("sku-3-key")
    assert shop.post(f"/merchant/products/{product.id}/edit", data).status_code == 400  # 灰 rows have no price
    data["spec-0-values"] = "红"
    assert shop.post(f"/merchant/products/{product.id}/edit", data).status_code == 302
    with tenant(shop.merchant.id):
        db.session.expire_all()
        product = db.session.get(Product, product.id)
        assert product.title == "羊绒围巾 Cashmere scarf" and svc.open_revision(product).data["title"] == "New title"
    page = shop.page(f"/merchant/products/{product.id}/edit")
    assert 'value="New title"' in page and "Pending changes not submitted" in page and "Discard changes" in page
    assert shop.post(f"/merchant/products/{product.id}/shelf", {"on_shelf": "1"}).status_code == 302
    assert db.session.get(PublicProduct, product.id).is_visible is True
    schedule = {"shelve_at": "", "unshelve_at": "2099-05-01T20:00"}
    assert shop.post(f"/merchant/products/{product.id}/schedule", schedule).status_code == 302
    page = shop.page(f"/merchant/products/{product.id}/edit")
    assert 'name="unshelve_at" value="2099-05-01T20:00"' in page
    past = shop.post(f"/merchant/products/{product.id}/schedule", {"shelve_at": "2000-01-01T10:00"})
    assert past.status_code == 302 and "Choose a time in the future." in shop.page(
        f"/merchant/products/{product.id}/edit"
    )
    assert shop.post(f"/merchant/products/{product.id}/discard").status_code == 302
    with tenant(shop.merchant.id):
        assert svc.open_revision(db.session.get(Product, product.id)) is None


def test_the_rejection_reason_is_shown(db, tax, shop):
    with tenant(shop.merchant.id):
        product = svc.create_product(shop.owner, single_raw(tax))
        product.status, product.status_reason = "rejected", "The photos are blurry"
    page = shop.page(f"/merchant/products/{product.id}/edit")
    assert "Rejected by the mall: The photos are blurry" in page


def test_delete_and_trusted_publishing_through_the_buttons(db, tax, shop):
    shop.merchant.catalog_trusted = True
    with tenant(shop.merchant.id):
        doomed = svc.create_product(shop.owner, single_raw(tax, title="Doomed"))
        product = svc.create_product(shop.owner, raw_product(tax), new_images=[image()])
    assert shop.post(f"/merchant/products/{product.id}/submit").status_code == 302
    public = db.session.get(PublicProduct, product.id)
    assert public is not None and public.is_visible and public.merchant_id == shop.merchant.id
    assert "Published: your store is trusted" in shop.page(f"/merchant/products/{product.id}/edit")
    response = shop.post(f"/merchant/products/{doomed.id}/delete")
    assert response.status_code == 302 and response.headers["Location"].endswith("/merchant/products")
    assert [p.id for p in _products(db, shop.merchant)] == [product.id]
    assert "“Doomed” is deleted." in shop.page("/merchant/products")


# ------------------------------------------------------------------------------ the list


def test_the_list_has_status_tabs_search_and_pages(db, tax, shop):
    with tenant(shop.merchant.id):
        for n in range(22):
            svc.create_product(shop.owner, single_raw(tax, title=f"Draft scarf {n:02d}"))
        live = svc.create_product(
            shop.owner, single_raw(tax, title="Live hat", skus={"": {"price": "5", "code": "HAT-9"}})
        )
        make_live(live)
        off = svc.create_product(shop.owner, single_raw(tax, title="Resting hat"))
        make_live(off, on_shelf=False)
        waiting = svc.create_product(shop.owner, single_raw(tax, title="Waiting hat"))
        waiting.status = "submitted"
    page = shop.page("/merchant/products")
    counts = dict(re.findall(r'data-tab="(\w+)">[^<]+<span class="pe-count">(\d+)</span>', page))
    assert counts == {
        "all": "25",
        "draft": "22",
        "review": "1",
        "live": "1",
        "off": "1",
        "rejected": "0",
        "archived": "0",
    }
    assert page.count("data-product=") == 20 and "Page 1 of 2" in page
    assert shop.page("/merchant/products?page=2").count("data-product=") == 5
    live_tab = shop.page("/merchant/products?status=live")
    assert "Live hat" in live_tab and "Resting hat" not in live_tab and "5.00" in live_tab
    assert "Resting hat" in shop.page("/merchant/products?status=off")
    assert "Waiting hat" in shop.page("/merchant/products?status=review")
    found = shop.page("/merchant/products?q=hat-9")
    assert found.count("data-product=") == 1 and "Live hat" in found
    assert shop.page("/merchant/products?q=scarf+07").count("data-product=") == 1
    assert "No product matches “nothing”." in shop.page("/merchant/products?q=nothing")


# ------------------------------------------------------------------------------ isolation and permissions


def test_another_stores_owner_cannot_reach_a_product_by_url(db, tax, shop, make_shop):
    with tenant(shop.merchant.id):
        product = svc.create_product(shop.owner, raw_product(tax), new_images=[image()])
        make_live(product)
    intruder = make_shop("Intruder")
    assert intruder.get(f"/merchant/products/{product.id}/edit").status_code == 404
    assert intruder.post(f"/merchant/products/{product.id}/edit", form(tax, title="Pwned")).status_code == 404
    for action, data in (
        ("submit", {}),
        ("withdraw", {}),
        ("discard", {}),
        ("shelf", {"on_shelf": "0"}),
        ("schedule", {"unshelve_at": "2099-01-01T10:00"}),
        ("delete", {}),
    ):
        assert intruder.post(f"/merchant/products/{product.id}/{action}", data).status_code == 404, action
    with tenant(shop.merchant.id):
        db.session.expire_all()
        product = db.session.get(Product, product.id)
        assert (product.title, product.on_shelf, product.unshelve_at) == ("羊绒围巾 Cashmere scarf", True, None)
    assert db.session.get(PublicProduct, product.id).is_visible
    assert db.session.scalar(select(func.count()).select_from(ReviewQueueItem)) == 0


def test_another_stores_ids_in_a_form_are_refused(db, tax, shop, make_shop):
    with tenant(shop.merchant.id):
        product = svc.create_product(
            shop.owner, single_raw(tax, skus={"": {"price": "5", "code": "A-1"}}), new_images=[image()]
        )
        their_sku = product.skus[0]
        their_image = product.images[0].file_id
        category = cats.create_store_category(shop.owner, "Theirs")
    intruder = make_shop("Intruder")
    data = form(tax, store_category_ids=str(category.id), image_ids=str(their_image))
    response = intruder.post("/merchant/products/new", data)
    assert response.status_code == 400
    assert errors_of(response.get_data(as_text=True)) == [
        "One of the store categories does not exist in your store.",
        "One of the images is not an image of your store.",
    ]
    # A SKU id of the other store in the form means nothing: SKUs are matched by spec key in the bound store.
    tampered = form(tax, **{"sku-0-id": str(their_sku.id), "sku-0-code": "A-2"})
    assert intruder.post("/merchant/products/new", tampered).status_code == 302
    [mine] = _products(db, intruder.merchant)
    with tenant(intruder.merchant.id):
        assert their_sku.id not in {s.id for s in mine.skus}
    with tenant(shop.merchant.id):
        db.session.expire_all()
        sku = db.session.get(Sku, their_sku.id)
        assert (sku.code, sku.price_cents, sku.product_id) == ("A-1", 500, product.id)
        assert db.session.scalar(select(func.count()).select_from(ProductImage)) == 1


def test_staff_without_products_manage_get_403(app, db, tax, shop, make_user):
    with tenant(shop.merchant.id):
        product = svc.create_product(shop.owner, single_raw(tax))
    packer = make_user()
    db.session.add(MerchantMembership(merchant_id=shop.merchant.id, user_id=packer.id))
    with tenant(shop.merchant.id):
        db.session.add(StaffMember(user_id=packer.id, role_code="orders"))
    db.session.flush()
    client = app.test_client()
    assert login(client, packer.username, area="merchant").status_code == 302
    for path in ("/merchant/products", "/merchant/products/new", f"/merchant/products/{product.id}/edit"):
        assert client.get(path).status_code == 403, path
    token = csrf_token(client, "/merchant/")
    for action in ("edit", "submit", "shelf", "delete"):
        response = client.post(f"/merchant/products/{product.id}/{action}", data={"csrf_token": token})
        assert response.status_code == 403, action
    assert 'href="/merchant/products"' not in client.get("/merchant/").get_data(as_text=True)
    with tenant(shop.merchant.id):
        assert db.session.get(Product, product.id) is not None

    manager = make_user()
    db.session.add(MerchantMembership(merchant_id=shop.merchant.id, user_id=manager.id))
    with tenant(shop.merchant.id):
        db.session.add(StaffMember(user_id=manager.id, role_code="product"))
    db.session.flush()
    client = app.test_client()
    assert login(client, manager.username, area="merchant").status_code == 302
    assert client.get("/merchant/products").status_code == 200
