"""A store's own categories: two levels, order, visibility, delete (products lose the id), isolation,
and the merchant-centre pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mall.audit.models import AuditEntry
from mall.catalog import products as svc
from mall.catalog import store_categories as cats
from mall.catalog.models import ProductRevision, PublicProduct, StoreCategory
from mall.merchants.models import MerchantMembership, StaffMember
from mall.tenancy import tenant
from tests.catalog.product_helpers import make_live, make_taxonomy, single_raw
from tests.conftest import csrf_token, login

pytestmark = pytest.mark.usefixtures("english")  # these tests read English messages


@pytest.fixture()
def shop(db, make_user, make_merchant):
    owner = make_user()
    return make_merchant("Cat Shop", slug="cat-shop", owner=owner), owner


def _names(tree) -> list:
    return [(node.name, [child.name for child in node.children]) for node in tree]


def test_two_levels_in_order_with_hidden_ones_left_out(db, shop):
    merchant, owner = shop
    with tenant(merchant.id):
        scarves = cats.create_store_category(owner, "Scarves")
        hats = cats.create_store_category(owner, "Hats")
        wool = cats.create_store_category(owner, "Wool", scarves.id)
        silk = cats.create_store_category(owner, "Silk", scarves.id)
        with pytest.raises(cats.StoreCategoryError) as caught:
            cats.create_store_category(owner, "Too deep", wool.id)
        assert (caught.value.field, caught.value.message) == ("parent_id", "Sub-categories cannot have sub-categories.")
        with pytest.raises(cats.StoreCategoryError) as caught:
            cats.create_store_category(owner, " scarves ")
        assert caught.value.message == "There is already a category named scarves here."
        with pytest.raises(cats.StoreCategoryError) as caught:
            cats.create_store_category(owner, "")
        assert caught.value.message == "Give the category a name."
        assert _names(cats.store_category_tree()) == [("Scarves", ["Wool", "Silk"]), ("Hats", [])]
        cats.move_store_category(owner, hats, "up")
        cats.move_store_category(owner, silk, "up")
        cats.rename_store_category(owner, wool, "Merino")
        assert _names(cats.store_category_tree()) == [("Hats", []), ("Scarves", ["Silk", "Merino"])]
        cats.set_store_category_visible(owner, silk, False)
        cats.set_store_category_visible(owner, hats, False)
        assert _names(cats.store_category_tree()) == [("Scarves", ["Merino"])]
        assert _names(cats.store_category_tree(visible_only=False)) == [("Hats", []), ("Scarves", ["Silk", "Merino"])]
        cats.set_store_category_visible(owner, scarves, False)
        assert cats.store_category_tree() == []  # a hidden parent hides its children
        assert cats.store_category_choices() == [
            (hats.id, "Hats"),
            (scarves.id, "Scarves"),
            (silk.id, "Scarves / Silk"),
            (wool.id, "Scarves / Merino"),
        ]
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.merchant_id == merchant.id)).all()
    assert actions.count("store_category.create") == 4 and "store_category.rename" in actions


def test_delete_removes_the_ids_from_products_revisions_and_public_rows(db, shop):
    merchant, owner = shop
    tax = make_taxonomy(db)
    with tenant(merchant.id):
        scarves = cats.create_store_category(owner, "Scarves")
        wool = cats.create_store_category(owner, "Wool", scarves.id)
        keep = cats.create_store_category(owner, "Keep")
        ids = [str(scarves.id), str(wool.id), str(keep.id)]
        draft = svc.create_product(owner, single_raw(tax, store_category_ids=ids))
        live = svc.create_product(owner, single_raw(tax, store_category_ids=ids))
        make_live(live)
        revision = svc.save_product(owner, live, single_raw(tax, title="Changed", store_category_ids=ids))
        assert sorted(cats.store_category_counts().items()) == sorted({scarves.id: 2, wool.id: 2, keep.id: 2}.items())
        assert cats.delete_store_category(owner, scarves) == 2
        assert draft.store_category_ids == [keep.id] and live.store_category_ids == [keep.id]
        assert db.session.get(ProductRevision, revision.id).data["store_category_ids"] == [keep.id]
        assert db.session.scalars(select(StoreCategory.name)).all() == ["Keep"]
    assert db.session.get(PublicProduct, live.id).store_category_ids == [keep.id]


def test_another_stores_category_is_not_found(db, shop, make_merchant):
    merchant, owner = shop
    other = make_merchant("Other")
    with tenant(merchant.id):
        mine = cats.create_store_category(owner, "Mine")
    with tenant(other.id):
        with pytest.raises(cats.NotFound):
            cats.get_store_category(mine.id)
        with pytest.raises(cats.NotFound):
            cats.create_store_category(owner, "Child", mine.id)
        assert cats.store_category_tree(visible_only=False) == []


# ------------------------------------------------------------------------------ pages


def _client(app, user):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert login(client, user.username, area="merchant").status_code == 302
    return client


def _post(client, path, data=None):
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, "/merchant/store-categories")})


def test_the_page_creates_renames_moves_hides_and_deletes(app, db, shop):
    merchant, owner = shop
    client = _client(app, owner)
    page = client.get("/merchant/store-categories").get_data(as_text=True)
    assert '<a href="/merchant/store-categories" aria-current="page">Store categories</a>' in page
    assert "No store categories yet." in page
    assert _post(client, "/merchant/store-categories", {"name": "Scarves"}).status_code == 302
    with tenant(merchant.id):
        scarves = db.session.scalar(select(StoreCategory))
    assert (
        _post(client, "/merchant/store-categories", {"name": "Wool", "parent_id": str(scarves.id)}).status_code == 302
    )
    refused = _post(client, "/merchant/store-categories", {"name": "x" * 41})
    assert refused.status_code == 400 and "At most 40 characters (now 41)." in refused.get_data(as_text=True)
    _post(client, f"/merchant/store-categories/{scarves.id}/rename", {"name": "Shawls"})
    _post(client, f"/merchant/store-categories/{scarves.id}/visibility", {"visible": "0"})
    with tenant(merchant.id):
        db.session.expire_all()
        tree = cats.store_category_tree(visible_only=False)
        assert _names(tree) == [("Shawls", ["Wool"])] and tree[0].is_visible is False
    page = client.get("/merchant/store-categories").get_data(as_text=True)
    assert 'value="Shawls"' in page and "Hidden" in page and 'value="Wool"' in page
    assert _post(client, f"/merchant/store-categories/{scarves.id}/delete").status_code == 302
    with tenant(merchant.id):
        assert db.session.scalars(select(StoreCategory)).all() == []


def test_another_stores_owner_gets_404_and_staff_without_permission_403(app, db, shop, make_user, make_merchant):
    merchant, owner = shop
    with tenant(merchant.id):
        mine = cats.create_store_category(owner, "Mine")
    intruder = make_user()
    make_merchant("Intruder", owner=intruder)
    client = _client(app, intruder)
    for action, data in (
        ("rename", {"name": "Pwned"}),
        ("move", {"direction": "up"}),
        ("visibility", {}),
        ("delete", {}),
    ):
        assert _post(client, f"/merchant/store-categories/{mine.id}/{action}", data).status_code == 404
    assert _post(client, "/merchant/store-categories", {"name": "X", "parent_id": str(mine.id)}).status_code == 404
    with tenant(merchant.id):
        db.session.expire_all()
        assert [(c.name, c.is_visible) for c in db.session.scalars(select(StoreCategory))] == [("Mine", True)]

    packer = make_user()
    db.session.add(MerchantMembership(merchant_id=merchant.id, user_id=packer.id))
    with tenant(merchant.id):
        db.session.add(StaffMember(user_id=packer.id, role_code="orders"))
    db.session.flush()
    staff = _client(app, packer)
    assert staff.get("/merchant/store-categories").status_code == 403
    assert "Store categories" not in staff.get("/merchant/").get_data(as_text=True)


def test_every_change_makes_the_stores_cached_pages_stale(db, shop):
    from mall.catalog.cache import store_catalog_generation

    merchant, owner = shop
    with tenant(merchant.id):
        before = store_catalog_generation(merchant.id)
        category = cats.create_store_category(owner, "Teas")
        created = store_catalog_generation(merchant.id)
        cats.rename_store_category(owner, category, "Green teas")
        renamed = store_catalog_generation(merchant.id)
        cats.set_store_category_visible(owner, category, False)
        hidden = store_catalog_generation(merchant.id)
    assert before < created < renamed < hidden
