"""Product review (P-04): the queue across stores, approve / reject / take down, revisions with their
diff, the trusted-store path, permissions, audit rows and the store's notifications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from mall.audit.models import AuditEntry
from mall.catalog import review
from mall.catalog.models import (
    Brand,
    Category,
    Product,
    ProductImage,
    ProductRevision,
    PublicProduct,
    ReviewQueueItem,
    Sku,
)
from mall.catalog.products import product_content
from mall.catalog.search import search_products
from mall.errors import PermissionDenied
from mall.notifications.models import SiteMessage
from mall.storage.models import StoredObject
from mall.tenancy import tenant
from tests.conftest import csrf_token, login
from tests.jobs.helpers import work
from tests.test_areas import add_member

EN = {"Accept-Language": "en"}
BASE = "/platform/platform_product_review"


@dataclass
class Shop:
    merchant: object
    owner: object
    clerk: object  # staff without products.manage


@pytest.fixture()
def taxonomy(db):
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


@pytest.fixture()
def make_shop(db, make_user, make_merchant):
    def make_shop(name: str, slug: str) -> Shop:
        owner = make_user()
        merchant = make_merchant(name, slug=slug, owner=owner)
        clerk = make_user()
        add_member(db, merchant, clerk, role_code="orders")
        db.session.flush()
        return Shop(merchant, owner, clerk)

    return make_shop


@pytest.fixture()
def shop(make_shop) -> Shop:
    return make_shop("Tea House", "tea-house")


@pytest.fixture()
def operator(app, db, make_user):
    user = make_user(operator_role="operator")
    client = app.test_client()
    assert login(client, user.username, area="platform").status_code == 302
    return user, client


def _image(db, merchant_id: int, name: str = "a") -> StoredObject:
    obj = StoredObject(
        key=f"products/{merchant_id}/{name}.png",
        purpose="product-image",
        filename=f"{name}.png",
        content_type="image/png",
        size=10,
        sha256="0" * 64,
        merchant_id=merchant_id,
    )
    db.session.add(obj)
    db.session.flush()
    return obj


def submitted_product(db, shop: Shop, taxonomy, title: str = "羊绒围巾 Cashmere scarf") -> Product:
    """A product the store submitted for review (as the products service leaves it)."""
    category, brand = taxonomy
    image = _image(db, shop.merchant.id, f"img{title.__hash__() & 0xFFFF}")
    with tenant(shop.merchant.id):
        product = Product(
            title=title,
            slug="cashmere-scarf",
            category_id=category.id,
            brand_id=brand.id,
            status="submitted",
            submitted_at=datetime.now(UTC),
            specs=[{"name": "颜色", "values": ["红", "灰"]}],
            description_html='<p>Soft <b>wool</b></p><script>alert("x")</script>',
            images=[ProductImage(file_id=image.id, position=0)],
            skus=[
                Sku(
                    spec_values={"颜色": "红"}, spec_key="颜色:红", price_cents=19900, market_price_cents=29900, stock=3
                ),
                Sku(spec_values={"颜色": "灰"}, spec_key="颜色:灰", price_cents=24900, stock=0, position=1),
            ],
        )
        db.session.add(product)
        db.session.flush()
        review.enqueue_review(product)
    return product


def live_product(db, shop: Shop, taxonomy, operator_user) -> Product:
    product = submitted_product(db, shop, taxonomy)
    with tenant(shop.merchant.id):
        review.approve_product(product, operator_user)
    return product


def queue_item(db, product: Product) -> ReviewQueueItem:
    """The product's latest submission."""
    return db.session.scalar(
        select(ReviewQueueItem).where(ReviewQueueItem.product_id == product.id).order_by(ReviewQueueItem.id.desc())
    )


def post(client, path: str, data: dict):
    token = csrf_token(client, f"{BASE}/")
    return client.post(path, data={**data, "csrf_token": token}, headers=EN, follow_redirects=True)


def messages_of(db, user) -> list[SiteMessage]:
    return list(db.session.scalars(select(SiteMessage).where(SiteMessage.user_id == user.id)))


def audit_actions(db, merchant) -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).where(AuditEntry.merchant_id == merchant.id)))


def test_submit_approve_publishes_and_makes_it_searchable(app, db, shop, taxonomy, operator):
    user, client = operator
    product = submitted_product(db, shop, taxonomy)
    # The review gate: submitted is neither public nor searchable.
    assert db.session.get(PublicProduct, product.id) is None
    assert search_products("羊绒 围巾").total == 0

    queue = client.get(f"{BASE}/", headers=EN).get_data(as_text=True)
    assert "羊绒围巾 Cashmere scarf" in queue and "Tea House" in queue and "New product" in queue
    item = queue_item(db, product)
    page = client.get(f"{BASE}/{item.id}", headers=EN).get_data(as_text=True)
    assert "服饰 › 围巾" in page and "Highland" in page
    assert "¥199.00" in page and "¥299.00" in page and "¥249.00" in page and "颜色: 红" in page
    assert f"/media/products/{shop.merchant.id}/" in page
    assert "<b>wool</b>" in page and "<script>" not in page  # description rendered, sanitised

    done = post(client, f"{BASE}/{item.id}/decide", {"action": "approve"}).get_data(as_text=True)
    assert "Approved and published." in done
    db.session.expire_all()
    with tenant(shop.merchant.id):
        product = db.session.get(Product, product.id)
        assert (product.status, product.on_shelf, product.approved_by_id) == ("approved", True, user.id)
        assert product.approved_at is not None
    row = db.session.get(PublicProduct, product.id)
    assert row.is_visible and (row.price_min_cents, row.price_max_cents) == (19900, 24900)
    assert [p.id for p in search_products("羊绒 围巾").items] == [product.id]
    item = queue_item(db, product)
    assert (item.status, item.decided_by_id) == ("approved", user.id)
    assert "product.approve" in audit_actions(db, shop.merchant)
    assert "Nothing is waiting for review." in client.get(f"{BASE}/", headers=EN).get_data(as_text=True)

    work(app)
    subjects = [m.subject for m in messages_of(db, shop.owner)]
    assert len(subjects) == 1 and "羊绒围巾 Cashmere scarf" in subjects[0]
    assert messages_of(db, shop.clerk) == []  # only staff who manage products are told


def test_reject_needs_a_reason_keeps_it_unpublished_and_tells_the_store(app, db, shop, taxonomy, operator):
    user, client = operator
    product = submitted_product(db, shop, taxonomy)
    item = queue_item(db, product)
    page = post(client, f"{BASE}/{item.id}/decide", {"action": "reject", "reason": "  "}).get_data(as_text=True)
    assert "Give the reason for the rejection." in page
    assert queue_item(db, product).status == "pending"

    post(client, f"{BASE}/{item.id}/decide", {"action": "reject", "reason": "Photos show another brand"})
    db.session.expire_all()
    with tenant(shop.merchant.id):
        product = db.session.get(Product, product.id)
        assert (product.status, product.status_reason) == ("rejected", "Photos show another brand")
    assert db.session.get(PublicProduct, product.id) is None
    assert search_products("羊绒").total == 0
    item = queue_item(db, product)
    assert (item.status, item.reason) == ("rejected", "Photos show another brand")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "product.reject"))
    assert entry.actor_id == user.id and entry.changes["reason"] == [None, "Photos show another brand"]
    again = post(client, f"{BASE}/{item.id}/decide", {"action": "approve"}).get_data(as_text=True)
    assert "already decided" in again

    work(app)
    (message,) = messages_of(db, shop.owner)
    assert "Photos show another brand" in message.body and "羊绒围巾" in message.subject


def _submit_revision(db, shop: Shop, product: Product, change) -> ProductRevision:
    with tenant(shop.merchant.id):
        data = product_content(product)
        change(data)
        revision = ProductRevision(product_id=product.id, status="submitted", data=data, submitted_at=datetime.now(UTC))
        db.session.add(revision)
        db.session.flush()
        review.enqueue_review(product, revision)
    return revision


def _edit(data: dict) -> None:
    data["title"] = "羊绒围巾 新款"
    data["description_html"] = "<p>Softer than ever</p>"
    data["skus"][0]["price_cents"] = 17900
    data["skus"].append(
        {"spec_values": {"颜色": "蓝"}, "spec_key": "颜色:蓝", "price_cents": 21900, "stock": 4, "is_active": True}
    )
    data["skus"] = [s for s in data["skus"] if s["spec_key"] != "颜色:灰"]
    data["specs"] = [{"name": "颜色", "values": ["红", "蓝"]}]


def test_revision_shows_a_diff_and_approval_updates_live_and_public(app, db, shop, taxonomy, operator):
    user, client = operator
    product = live_product(db, shop, taxonomy, user)
    revision = _submit_revision(db, shop, product, _edit)
    item = queue_item(db, product)
    assert item.kind == "revision" and item.title == "羊绒围巾 新款"
    page = client.get(f"{BASE}/{item.id}", headers=EN).get_data(as_text=True)
    changes = page.split('id="changes"')[1].split("</table>")[0]
    assert "羊绒围巾 Cashmere scarf" in changes and "羊绒围巾 新款" in changes
    assert "¥199.00" in changes and "¥179.00" in changes  # red's price
    assert "颜色: 蓝" in changes and "added" in changes and "¥219.00" in changes
    assert "颜色: 灰" in changes and "removed" in changes
    assert "Spec: 颜色" in changes and "Description" in changes
    assert "Softer than ever" in page.split('id="changes"')[1]  # the submitted description is shown
    assert "Images" not in changes  # unchanged fields are not listed

    post(client, f"{BASE}/{item.id}/decide", {"action": "approve"})
    db.session.expire_all()
    with tenant(shop.merchant.id):
        product = db.session.get(Product, product.id)
        assert product.title == "羊绒围巾 新款"
        prices = {s.spec_key: (s.price_cents, s.is_active) for s in product.skus}
        assert prices["颜色:红"] == (17900, True) and prices["颜色:蓝"] == (21900, True)
        assert "颜色:灰" not in prices or prices["颜色:灰"][1] is False
        assert db.session.get(ProductRevision, revision.id).status == "approved"
    row = db.session.get(PublicProduct, product.id)
    assert (row.title, row.price_min_cents, row.price_max_cents) == ("羊绒围巾 新款", 17900, 21900)
    assert [p.id for p in search_products("新款").items] == [product.id]
    assert "product.revision.approve" in audit_actions(db, shop.merchant)


def test_revision_rejection_leaves_the_live_product_intact(app, db, shop, taxonomy, operator):
    user, client = operator
    product = live_product(db, shop, taxonomy, user)
    revision = _submit_revision(db, shop, product, _edit)
    item = queue_item(db, product)
    post(client, f"{BASE}/{item.id}/decide", {"action": "reject", "reason": "Misleading title"})
    db.session.expire_all()
    with tenant(shop.merchant.id):
        product = db.session.get(Product, product.id)
        assert (product.title, product.status) == ("羊绒围巾 Cashmere scarf", "approved")
        assert sorted(s.price_cents for s in product.skus) == [19900, 24900]
        revision = db.session.get(ProductRevision, revision.id)
        assert (revision.status, revision.reason, revision.decided_by_id) == ("rejected", "Misleading title", user.id)
    row = db.session.get(PublicProduct, product.id)
    assert row.is_visible and row.title == "羊绒围巾 Cashmere scarf"
    assert "product.revision.reject" in audit_actions(db, shop.merchant)
    work(app)
    assert any("Misleading title" in m.body for m in messages_of(db, shop.owner))


def test_take_down_hides_a_live_product(app, db, shop, taxonomy, operator):
    user, client = operator
    product = live_product(db, shop, taxonomy, user)
    _submit_revision(db, shop, product, _edit)
    assert client.get(f"{BASE}/live", headers=EN).get_data(as_text=True).count("羊绒围巾 Cashmere scarf") == 1
    url = f"{BASE}/product/{shop.merchant.id}/{product.id}"
    assert "Take the product down" in client.get(url, headers=EN).get_data(as_text=True)
    assert "Give the reason for taking" in post(client, f"{url}/take-down", {"reason": ""}).get_data(as_text=True)
    page = post(client, f"{url}/take-down", {"reason": "Counterfeit"}).get_data(as_text=True)
    assert "taken down" in page
    db.session.expire_all()
    with tenant(shop.merchant.id):
        product = db.session.get(Product, product.id)
        assert (product.status, product.status_reason, product.on_shelf) == ("taken_down", "Counterfeit", False)
        assert review.open_revision(product) is None  # its pending changes were withdrawn
    assert db.session.get(PublicProduct, product.id).is_visible is False
    assert search_products("羊绒").total == 0
    assert queue_item(db, product).kind == "revision" and queue_item(db, product).status == "withdrawn"
    assert "product.take_down" in audit_actions(db, shop.merchant)
    work(app)
    assert any("Counterfeit" in m.body for m in messages_of(db, shop.owner))
    again = post(client, f"{url}/take-down", {"reason": "again"}).get_data(as_text=True)
    assert "Only a live product can be taken down." in again


def test_queue_filters_by_store_kind_and_age(db, make_shop, taxonomy, operator):
    _user, client = operator
    tea, wool = make_shop("Tea House", "tea-house"), make_shop("Wool Shop", "wool-shop")
    submitted_product(db, tea, taxonomy, "Tea product")
    old = submitted_product(db, wool, taxonomy, "Wool product")
    queue_item(db, old).submitted_at = datetime(2020, 1, 1, tzinfo=UTC)
    db.session.flush()
    page = client.get(f"{BASE}/?store={wool.merchant.id}", headers=EN).get_data(as_text=True)
    assert "Wool product" in page and "Tea product" not in page
    page = client.get(f"{BASE}/?older_than=7", headers=EN).get_data(as_text=True)
    assert "Wool product" in page and "Tea product" not in page
    page = client.get(f"{BASE}/?kind=revision", headers=EN).get_data(as_text=True)
    assert "Wool product" not in page and "Tea product" not in page
    items, total = review.review_queue()
    assert total == 2 and [i.title for i in items] == ["Wool product", "Tea product"]  # oldest first


def test_withdrawn_and_resubmitted_submissions(db, shop, taxonomy):
    product = submitted_product(db, shop, taxonomy)
    with tenant(shop.merchant.id):
        review.withdraw_review(product)
        assert review.review_queue()[1] == 0
        review.enqueue_review(product)
        review.enqueue_review(product)  # a resubmission replaces the pending item
    statuses = sorted(i.status for i in db.session.scalars(select(ReviewQueueItem)))
    assert statuses == ["pending", "withdrawn", "withdrawn"]


def test_trusted_store_auto_publish(app, db, shop, taxonomy, operator):
    user, client = operator
    product = submitted_product(db, shop, taxonomy)
    with tenant(shop.merchant.id), pytest.raises(PermissionDenied):
        review.approve_product(product, None, trusted=True)  # not trusted yet

    item = queue_item(db, product)
    page = post(client, f"{BASE}/store/{shop.merchant.id}/trust", {"trusted": "1", "next": f"{BASE}/{item.id}"})
    assert "is trusted" in page.get_data(as_text=True)
    db.session.expire_all()
    assert shop.merchant.catalog_trusted is True
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "merchant.catalog_trusted"))
    assert entry.changes == {"catalog_trusted": [False, True]} and entry.actor_id == user.id

    with tenant(shop.merchant.id):
        product = db.session.get(Product, product.id)
        review.approve_product(product, None, trusted=True)
        assert product.status == "approved" and product.approved_by_id is None
    assert db.session.get(PublicProduct, product.id).is_visible
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "product.approve"))
    assert entry.changes["review"] == [None, "trusted store auto-publish"]
    assert queue_item(db, product).status == "approved"

    post(client, f"{BASE}/store/{shop.merchant.id}/trust", {"trusted": "0"})
    db.session.expire_all()
    assert shop.merchant.catalog_trusted is False


def test_only_operators_with_products_review(app, db, shop, taxonomy, make_user):
    product = submitted_product(db, shop, taxonomy)
    item = queue_item(db, product)
    agent = app.test_client()
    login(agent, make_user(operator_role="service_agent").username, area="platform")
    token = csrf_token(agent, "/platform/")
    for path in (f"{BASE}/", f"{BASE}/{item.id}", f"{BASE}/live", f"{BASE}/product/{shop.merchant.id}/{product.id}"):
        assert agent.get(path).status_code == 403
    for path, data in (
        (f"{BASE}/{item.id}/decide", {"action": "approve"}),
        (f"{BASE}/product/{shop.merchant.id}/{product.id}/take-down", {"reason": "x"}),
        (f"{BASE}/store/{shop.merchant.id}/trust", {"trusted": "1"}),
    ):
        assert agent.post(path, data={**data, "csrf_token": token}).status_code == 403
    assert queue_item(db, product).status == "pending"
    owner = app.test_client()
    login(owner, shop.owner.username)
    assert owner.get(f"{BASE}/").status_code == 403
    anonymous = app.test_client()
    assert anonymous.get(f"{BASE}/").headers["Location"].startswith("/platform/login")
    with tenant(shop.merchant.id), pytest.raises(PermissionDenied):
        review.approve_product(product, None)  # neither an operator nor the trusted path


def test_another_stores_product_ids_are_not_found(db, make_shop, taxonomy, operator):
    user, client = operator
    tea, wool = make_shop("Tea House", "tea-house"), make_shop("Wool Shop", "wool-shop")
    product = live_product(db, tea, taxonomy, user)
    assert client.get(f"{BASE}/product/{tea.merchant.id}/{product.id}").status_code == 200
    assert client.get(f"{BASE}/product/{wool.merchant.id}/{product.id}").status_code == 404
    response = client.post(
        f"{BASE}/product/{wool.merchant.id}/{product.id}/take-down",
        data={"reason": "x", "csrf_token": csrf_token(client, f"{BASE}/")},
    )
    assert response.status_code == 404
    assert client.get(f"{BASE}/999999999").status_code == 404
    with tenant(tea.merchant.id):
        assert db.session.get(Product, product.id).status == "approved"


def test_messages_are_written_in_the_recipients_language(app, db, shop, taxonomy, operator):
    _user, client = operator
    shop.owner.locale = "en"
    db.session.flush()
    product = submitted_product(db, shop, taxonomy)
    with force_locale("zh_Hans_CN"):
        post(client, f"{BASE}/{queue_item(db, product).id}/decide", {"action": "approve"})
    work(app)
    (message,) = messages_of(db, shop.owner)
    assert message.subject == "“羊绒围巾 Cashmere scarf” is approved"


def test_approving_or_rejecting_needs_something_waiting(db, shop, taxonomy, operator):
    user, _client = operator
    product = live_product(db, shop, taxonomy, user)
    with tenant(shop.merchant.id):
        with pytest.raises(review.ReviewError):
            review.approve_product(product, user)
        with pytest.raises(review.ReviewError):
            review.reject_product(product, user, "no")


def test_the_diff_names_attributes_images_and_sku_details(app_ctx):
    from mall.catalog.review_content import Presented, SkuLine, content_changes, sku_changes

    def sku(key, price, **kw):
        return SkuLine(key, key, kw.get("code", ""), None, price, 1, kw.get("weight"), kw.get("active", True))

    live = Presented(title="A", attributes=[("材质", "羊绒")], image_keys=["a", "b"])
    new = Presented(title="A", attributes=[("材质", "羊毛"), ("产地", "内蒙古")], image_keys=["b", "a"])
    with force_locale("en"):
        changes = {c.label: (c.before, c.after) for c in content_changes(live, new)}
        assert changes == {
            "Attribute: 材质": ("羊绒", "羊毛"),
            "Attribute: 产地": ("", "内蒙古"),
            "Images": ("2 images", "2 images (order or files changed)"),
        }
        (changed,) = sku_changes([sku("k", 100, weight=5)], [sku("k", 100, weight=6, active=False)])
        assert changed.kind == "changed"
        assert [(d.label, d.before, d.after) for d in changed.details] == [
            ("Weight (g)", "5", "6"),
            ("On sale", "yes", "no"),
        ]
