"""Platform taxonomy (P-03): the category tree, commission rates, attribute and spec templates, brands,
tags and the operator's pages for them."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from flask_babel import force_locale
from PIL import Image
from sqlalchemy import func, select

from mall.audit.models import AuditEntry
from mall.catalog import brands, taxonomy
from mall.catalog import category_templates as templates
from mall.catalog.fields import TaxonomyError, TaxonomyInvalid, parse_commission
from mall.catalog.models import Brand, Category, CategoryAttribute, Product, PublicProduct, Sku, Tag
from mall.catalog.publishing import sync_public_product
from mall.storage.models import StoredObject
from mall.storage.services import Upload
from mall.tenancy import tenant
from tests.conftest import csrf_token, login
from tests.jobs.helpers import work


def cat(name: str, slug: str, parent: Category | None = None, **kw) -> Category:
    return taxonomy.create_category(name=name, slug=slug, parent_id=parent.id if parent else None, **kw)


def png(width: int = 64, height: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def publish(db, make_merchant, category: Category, *, brand: Brand | None = None, tag: Tag | None = None):
    """A live product of a new store in ``category`` (with its public row)."""
    merchant = make_merchant()
    with tenant(merchant.id):
        product = Product(
            title="明前龙井 West Lake tea",
            slug="longjing",
            category_id=category.id,
            brand_id=brand.id if brand else None,
            tag_ids=[tag.id] if tag else [],
            status="approved",
            on_shelf=True,
            approved_at=datetime.now(UTC),
            skus=[Sku(spec_values={}, spec_key="", price_cents=12800, stock=5)],
        )
        db.session.add(product)
        db.session.flush()
        sync_public_product(product)
    return product


# ---------------------------------------------------------------------------------------------
# The tree
# ---------------------------------------------------------------------------------------------


def test_create_sets_path_depth_and_position(db):
    food = cat("食品", "food")
    tea = cat("茶叶", "tea", food)
    green = cat("绿茶", "green-tea", tea)
    black = cat("红茶", "black-tea", tea)
    assert food.path == f"/{food.id}/" and food.depth == 0
    assert tea.path == f"/{food.id}/{tea.id}/" and tea.depth == 1
    assert green.path == f"/{food.id}/{tea.id}/{green.id}/" and green.depth == 2
    assert (green.position, black.position) == (0, 1)
    assert [c.id for c in taxonomy.ancestors_of(green)] == [food.id, tea.id, green.id]


def test_move_recomputes_the_whole_subtree(db):
    food, drinks = cat("食品", "food"), cat("饮品", "drinks")
    tea = cat("茶叶", "tea", food)
    cat("零食", "snacks", food)
    green = cat("绿茶", "green-tea", tea)
    longjing = cat("龙井", "longjing", green)
    cat("果汁", "juice", drinks)

    taxonomy.move_category(tea, drinks.id)
    db.session.expire_all()
    assert tea.parent_id == drinks.id and tea.path == f"/{drinks.id}/{tea.id}/" and tea.depth == 1
    assert green.path == f"/{drinks.id}/{tea.id}/{green.id}/" and green.depth == 2
    assert longjing.path == f"{green.path}{longjing.id}/" and longjing.depth == 3
    assert tea.position == 1  # after the juice
    assert [c.slug for c in taxonomy.category_tree()[0].children] == ["snacks"]  # food's children renumbered
    assert db.session.get(Category, food.children[0].id).position == 0

    taxonomy.move_category(green, None)  # to the top level
    db.session.expire_all()
    assert green.parent_id is None and green.path == f"/{green.id}/" and green.depth == 0
    assert longjing.path == f"/{green.id}/{longjing.id}/" and longjing.depth == 1
    audit = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "category.move")).all()
    assert len(audit) == 2 and audit[0].changes["parent_id"] == [food.id, drinks.id]


def test_moving_under_itself_or_a_descendant_is_refused(db, english):
    food = cat("食品", "food")
    tea = cat("茶叶", "tea", food)
    green = cat("绿茶", "green-tea", tea)
    for target in (tea, green):
        with pytest.raises(TaxonomyError) as refused:
            taxonomy.move_category(tea, target.id)
        assert "cannot be moved under itself" in refused.value.message
    db.session.expire_all()
    assert tea.parent_id == food.id and green.path == f"/{food.id}/{tea.id}/{green.id}/"


def test_move_refuses_a_name_taken_at_the_new_level(db, english):
    food, drinks = cat("食品", "food"), cat("饮品", "drinks")
    tea = cat("茶叶", "tea", food)
    cat("茶叶", "tea-drinks", drinks)
    with pytest.raises(TaxonomyError, match="exists already at this level"):
        taxonomy.move_category(tea, drinks.id)


def test_reorder_up_down_and_to_a_position(db):
    root = cat("食品", "food")
    a, b, c = cat("A", "a", root), cat("B", "b", root), cat("C", "c", root)

    def order():
        db.session.expire_all()
        return [n.slug for n in taxonomy.category_tree()[0].children]

    taxonomy.reorder_category(c, direction="up")
    assert order() == ["a", "c", "b"]
    taxonomy.reorder_category(a, direction="down")
    assert order() == ["c", "a", "b"]
    taxonomy.reorder_category(c, direction="up")  # already first: no change
    assert order() == ["c", "a", "b"]
    taxonomy.reorder_category(b, position=0)
    assert order() == ["b", "c", "a"]
    assert sorted(x.position for x in (a, b, c)) == [0, 1, 2]


def test_disabling_hides_the_subtree_and_makes_it_unselectable(db):
    food = cat("食品", "food")
    tea = cat("茶叶", "tea", food)
    green = cat("绿茶", "green-tea", tea)
    snacks = cat("零食", "snacks", food)
    assert taxonomy.category_is_selectable(green.id) and taxonomy.category_is_selectable(snacks.id)
    assert not taxonomy.category_is_selectable(tea.id)  # not a leaf
    assert not taxonomy.category_is_selectable(999999999) and not taxonomy.category_is_selectable("x")

    taxonomy.set_category_enabled(tea, False)
    visible = taxonomy.flatten_tree(taxonomy.category_tree(enabled_only=True))
    assert [n.slug for n in visible] == ["food", "snacks"]
    everything = {n.slug: n for n in taxonomy.flatten_tree(taxonomy.category_tree())}
    assert not everything["green-tea"].is_visible and everything["green-tea"].is_enabled
    assert not taxonomy.category_is_selectable(green.id) and taxonomy.category_is_selectable(snacks.id)
    assert taxonomy.disabled_path_prefixes() == [tea.path]

    taxonomy.set_category_enabled(tea, True)
    assert taxonomy.category_is_selectable(green.id)
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == str(tea.id))).all()
    assert actions == ["category.create", "category.disable", "category.enable"]


def test_tree_counts_children_attributes_and_specs(db):
    food = cat("食品", "food")
    tea = cat("茶叶", "tea", food)
    templates.add_attribute(tea, {"name": "产地", "input": "text"})
    templates.add_spec(tea, {"name": "容量", "values": "50克\n100克"})
    node = taxonomy.category_tree(with_counts=True)[0]
    assert (node.child_count, node.children[0].attribute_count, node.children[0].spec_count) == (1, 1, 1)
    assert node.children[0].is_leaf and not node.is_leaf


def test_delete_is_refused_with_children_or_public_products(db, make_merchant, english):
    food = cat("食品", "food")
    tea = cat("茶叶", "tea", food)
    with pytest.raises(TaxonomyError, match="sub-categories first"):
        taxonomy.delete_category(food)
    publish(db, make_merchant, tea)
    with pytest.raises(TaxonomyError, match="disable it instead"):
        taxonomy.delete_category(tea)
    assert db.session.get(Category, tea.id) is not None

    snacks = cat("零食", "snacks", food)
    templates.add_attribute(snacks, {"name": "口味", "input": "select", "options": "甜,咸"})
    taxonomy.delete_category(snacks)
    assert db.session.get(Category, snacks.id) is None
    assert db.session.scalar(select(func.count()).where(CategoryAttribute.category_id == snacks.id)) == 0
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "category.delete")).object_id == str(
        snacks.id
    )


def test_category_fields_are_checked_together(db, english):
    cat("食品", "food")
    with pytest.raises(TaxonomyInvalid) as invalid:
        taxonomy.create_category(name="", slug="Bad Slug", commission="abc")
    assert set(invalid.value.errors) == {"name", "slug", "commission"}
    with pytest.raises(TaxonomyInvalid) as invalid:
        taxonomy.create_category(name="食品", slug="food")
    assert "exists already at this level" in invalid.value.errors["name"]
    assert "Another category has this address" in invalid.value.errors["slug"]
    assert db.session.scalar(select(func.count()).select_from(Category)) == 1


# ---------------------------------------------------------------------------------------------
# Commission
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "basis_points"),
    [("5.5", 550), ("5.55", 555), ("5.50 %", 550), ("５.５％", 550), ("0", 0), ("100", 10000), ("", None), (" ", None)],
)
def test_commission_percentages_are_parsed_exactly(typed, basis_points):
    assert parse_commission(typed) == basis_points


@pytest.mark.parametrize("typed", ["abc", "101", "-1", "5.555", "NaN", "Infinity", "0.001"])
def test_bad_commission_percentages_are_refused(typed, app):
    with app.app_context(), force_locale("en"), pytest.raises(TaxonomyError) as refused:
        parse_commission(typed)
    assert refused.value.field == "commission" and refused.value.message


def test_commission_is_shown_with_two_decimals():
    assert (taxonomy.format_commission(550), taxonomy.format_commission(5), taxonomy.format_commission(None)) == (
        "5.50",
        "0.05",
        "",
    )


def test_effective_commission_walks_up_to_the_platform_default(db, app):
    food = cat("食品", "food", commission="8")
    tea = cat("茶叶", "tea", food)
    green = cat("绿茶", "green-tea", tea, commission="2.25")
    longjing = cat("龙井", "longjing", green)
    other = cat("其他", "other")
    assert food.commission_rate_bp == 800 and tea.commission_rate_bp is None
    assert taxonomy.effective_commission_bp(tea.id) == 800
    assert taxonomy.effective_commission_bp(longjing.id) == 225
    assert taxonomy.effective_commission_bp(other.id) == app.config["PLATFORM_COMMISSION_BP"] == 500
    assert taxonomy.effective_commission_bp(other.id, 300) == 300
    assert taxonomy.effective_commission_bp(123456789, 300) == 300

    taxonomy.update_category(food, name="食品", slug="food", commission="")
    assert taxonomy.effective_commission_bp(tea.id) == 500


# ---------------------------------------------------------------------------------------------
# Attribute and spec templates
# ---------------------------------------------------------------------------------------------


def test_inherited_templates_child_overrides_parent(db):
    food = cat("食品", "food")
    tea = cat("茶叶", "tea", food)
    green = cat("绿茶", "green-tea", tea)
    templates.add_attribute(food, {"name": "产地", "input": "text"})
    templates.add_attribute(food, {"name": "保质期", "input": "number", "unit": "天"})
    templates.add_attribute(tea, {"name": "产地", "input": "select", "options": "福建\n云南"})
    templates.add_attribute(green, {"name": "等级", "input": "select", "options": ["特级", "一级"]})
    templates.add_spec(food, {"name": "规格", "values": "单盒"})
    templates.add_spec(green, {"name": "规格", "values": "50克,100克"})

    attributes = taxonomy.inherited_attributes(green.id)
    assert [(a.name, a.category_id) for a in attributes] == [("产地", tea.id), ("保质期", food.id), ("等级", green.id)]
    assert attributes[0].options == ["福建", "云南"]
    assert [(s.name, s.values) for s in taxonomy.inherited_specs(green.id)] == [("规格", ["50克", "100克"])]
    assert [a.name for a in taxonomy.inherited_attributes(food.id)] == ["产地", "保质期"]


def test_attribute_validation_errors(db, english):
    tea = cat("茶叶", "tea")
    templates.add_attribute(tea, {"name": "产地", "input": "text"})
    with pytest.raises(TaxonomyInvalid) as invalid:
        templates.add_attribute(tea, {"name": "等级", "input": "select", "options": " , ,"})
    assert invalid.value.errors == {"options": "Give at least one option to choose from."}
    with pytest.raises(TaxonomyInvalid) as invalid:
        templates.add_attribute(tea, {"name": " 产地 ", "input": "multi", "options": "a"})
    assert invalid.value.errors["name"] == "This category has an attribute with this name already."
    with pytest.raises(TaxonomyInvalid) as invalid:
        templates.add_attribute(tea, {"name": "x" * 41, "input": "bogus", "options": "o" * 41, "unit": "u" * 17})
    assert set(invalid.value.errors) == {"name", "input", "options", "unit"}
    with pytest.raises(TaxonomyInvalid) as invalid:
        templates.add_attribute(tea, {"name": "", "input": "select", "options": [str(i) for i in range(101)]})
    assert set(invalid.value.errors) == {"name", "options"}
    assert len(tea.attributes) == 1


def test_attribute_options_are_trimmed_and_deduplicated(db):
    tea = cat("茶叶", "tea")
    attribute = templates.add_attribute(
        tea, {"name": "产地", "input": "select", "options": " 福建 \n云南,福建，浙江、 云南 \n\n", "is_filterable": "y"}
    )
    assert attribute.options == ["福建", "云南", "浙江"] and attribute.is_filterable and not attribute.is_required
    free = templates.add_attribute(tea, {"name": "备注", "input": "text", "options": "ignored"})
    assert free.options == []
    templates.update_attribute(attribute, {"name": "产区", "input": "multi", "options": "福建\n云南"})
    assert (attribute.name, attribute.input, attribute.options) == ("产区", "multi", ["福建", "云南"])
    edit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "category_attribute.edit"))
    assert edit.changes["name"] == ["产地", "产区"]


def test_templates_reorder_and_remove(db, english):
    tea = cat("茶叶", "tea")
    a = templates.add_spec(tea, {"name": "颜色"})
    b = templates.add_spec(tea, {"name": "尺码"})
    c = templates.add_spec(tea, {"name": "容量"})
    templates.move_template(c, direction="up")
    db.session.expire_all()
    assert [s.name for s in tea.specs] == ["颜色", "容量", "尺码"]
    templates.move_template(a, position=2)
    db.session.expire_all()
    assert [s.name for s in tea.specs] == ["容量", "尺码", "颜色"]
    templates.remove_template(b)
    db.session.expire_all()
    assert [(s.name, s.position) for s in tea.specs] == [("容量", 0), ("颜色", 1)]
    with pytest.raises(TaxonomyInvalid) as invalid:
        templates.add_spec(tea, {"name": "颜色"})
    assert invalid.value.errors["name"] == "This category has a spec with this name already."


# ---------------------------------------------------------------------------------------------
# Brands and tags
# ---------------------------------------------------------------------------------------------


def test_brand_names_and_addresses_are_unique(db, english):
    brand = brands.create_brand({"name": "Northpeak Outdoor", "story": "Tents."})
    assert (brand.slug, brand.initial, brand.is_enabled, brand.is_featured) == (
        "northpeak-outdoor",
        "N",
        True,
        False,
    )
    with pytest.raises(TaxonomyInvalid) as invalid:
        brands.create_brand({"name": "northpeak outdoor", "slug": "northpeak-outdoor"})
    assert invalid.value.errors == {
        "name": "A brand with this name exists already.",
        "slug": "Another brand has this address already.",
    }
    with pytest.raises(TaxonomyInvalid) as invalid:
        brands.create_brand({"name": "青禾"})  # no Latin letters: the address must be typed
    assert set(invalid.value.errors) == {"slug"}
    chinese = brands.create_brand({"name": "青禾", "slug": "qinghe", "initial": "q", "is_featured": "on"})
    assert (chinese.initial, chinese.is_featured) == ("Q", True)
    assert brands.create_brand({"name": "九号", "slug": "jiuhao"}).initial == "#"
    with pytest.raises(TaxonomyInvalid) as invalid:
        brands.create_brand({"name": "Zed", "initial": "ZZ", "position": "-3"})
    assert set(invalid.value.errors) == {"initial", "position"}
    assert db.session.scalar(select(func.count()).select_from(Brand)) == 3


def test_brand_logo_is_a_validated_public_image(db, english):
    with pytest.raises(TaxonomyInvalid) as invalid:
        brands.create_brand({"name": "Lumina"}, logo=Upload(b"<svg onload=alert(1)>", "logo.svg"))
    assert "not a valid image" in invalid.value.errors["logo"]
    assert db.session.scalar(select(func.count()).select_from(StoredObject)) == 0
    brand = brands.create_brand({"name": "Lumina"}, logo=Upload(png(), "logo.png"))
    logo = db.session.get(StoredObject, brand.logo_file_id)
    assert logo.is_private is False and logo.purpose == "brand-logo" and logo.content_type == "image/png"
    assert brands.media_keys([brand.logo_file_id]) == {logo.id: logo.key}
    brands.update_brand(brand, {"name": "Lumina", "slug": "lumina"}, remove_logo=True)
    assert brand.logo_file_id is None


def test_brand_in_use_cannot_be_deleted(db, make_merchant, english):
    tea = cat("茶叶", "tea")
    used = brands.create_brand({"name": "Qinghe"})
    unused = brands.create_brand({"name": "Spare"})
    publish(db, make_merchant, tea, brand=used)
    with pytest.raises(TaxonomyError, match="disable it instead"):
        brands.delete_brand(used)
    brands.delete_brand(unused)
    assert db.session.scalars(select(Brand.slug)).all() == ["qinghe"]


def test_brand_list_search_and_featured_filter(db):
    brands.create_brand({"name": "Northpeak", "is_featured": True})
    brands.create_brand({"name": "Northwind"})
    brands.create_brand({"name": "Lumina", "is_featured": True})
    assert [b.name for b in brands.list_brands(search="north").items] == ["Northpeak", "Northwind"]
    assert [b.name for b in brands.list_brands(featured=True).items] == ["Lumina", "Northpeak"]
    assert brands.list_brands(search="%").total == 0


def test_tags_are_unique_and_in_use_tags_stay(db, make_merchant, english):
    tag = brands.create_tag({"name": "New", "slug": ""})
    assert tag.slug == "new"
    with pytest.raises(TaxonomyInvalid) as invalid:
        brands.create_tag({"name": "NEW", "slug": "new"})
    assert invalid.value.errors == {
        "name": "A tag with this name exists already.",
        "slug": "Another tag has this address already.",
    }
    publish(db, make_merchant, cat("茶叶", "tea"), tag=tag)
    with pytest.raises(TaxonomyError, match="carry this tag"):
        brands.delete_tag(tag)
    spare = brands.create_tag({"name": "包邮", "slug": "free-shipping"})
    brands.update_tag(spare, {"name": "全国包邮", "slug": "free-shipping"})
    brands.delete_tag(spare)
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "Tag")).all()
    assert sorted(actions) == ["tag.create", "tag.create", "tag.delete", "tag.edit"]


# ---------------------------------------------------------------------------------------------
# Public copies follow moves and renames
# ---------------------------------------------------------------------------------------------


def test_moving_a_category_resyncs_its_public_products(db, app, make_merchant):
    food, drinks = cat("食品", "food"), cat("饮品", "drinks")
    tea = cat("茶叶", "tea", food)
    green = cat("绿茶", "green-tea", tea)
    product = publish(db, make_merchant, green)
    assert db.session.get(PublicProduct, product.id).category_path == green.path

    taxonomy.move_category(tea, drinks.id)
    db.session.commit()  # a savepoint release in tests: the job is sent to the queue
    work(app)
    row = db.session.get(PublicProduct, product.id)
    assert row.category_path == f"/{drinks.id}/{tea.id}/{green.id}/"
    assert "饮品" in row.search_text and "食品" not in row.search_text


# ---------------------------------------------------------------------------------------------
# The operator's pages
# ---------------------------------------------------------------------------------------------

PAGES = ("/platform/platform_categories/", "/platform/platform_brands/", "/platform/platform_tags/")


def test_pages_need_catalog_manage(client, db, make_user):
    food = cat("食品", "food")
    editor = make_user(operator_role="content_editor")
    login(client, editor.username, area="platform")
    for path in (*PAGES, f"/platform/platform_categories/{food.id}", "/platform/platform_brands/new"):
        assert client.get(path).status_code == 403
    token = csrf_token(client, "/platform/")
    response = client.post(
        f"/platform/platform_categories/{food.id}/enable", data={"enabled": "0", "csrf_token": token}
    )
    assert response.status_code == 403
    assert db.session.get(Category, food.id).is_enabled


def test_pages_render_for_an_operator(client, db, make_user):
    food = cat("食品", "food", commission="8")
    tea = cat("茶叶", "tea", food)
    templates.add_attribute(tea, {"name": "产地", "input": "select", "options": "福建"})
    brand = brands.create_brand({"name": "Lumina", "is_featured": True}, logo=Upload(png(), "l.png"))
    brands.create_tag({"name": "新品", "slug": "new"})
    operator = make_user(operator_role="operator")
    login(client, operator.username, area="platform")
    en = {"Accept-Language": "en"}
    tree = client.get(PAGES[0], headers=en)
    assert tree.status_code == 200
    html = tree.get_data(as_text=True)
    assert f'data-category="{tea.id}" data-depth="1"' in html and "8.00 %" in html
    detail = client.get(f"/platform/platform_categories/{tea.id}", headers=en).get_data(as_text=True)
    assert "产地" in detail and "Attribute templates" in detail and "data-effective-commission>8.00 %" in detail
    listing = client.get(PAGES[1] + "?featured=1", headers=en).get_data(as_text=True)
    key = db.session.get(StoredObject, brand.logo_file_id).key
    assert f"/media/{key}" in listing and "Lumina" in listing
    assert "新品" in client.get(PAGES[2], headers=en).get_data(as_text=True)
    assert client.get(f"/platform/platform_brands/{brand.id}").status_code == 200
    assert client.get("/platform/platform_categories/new").status_code == 200
    assert client.get("/platform/platform_categories/987654321").status_code == 404


def test_operator_creates_and_edits_a_category_through_the_form(client, db, make_user):
    food = cat("食品", "food")
    operator = make_user(operator_role="operator")
    login(client, operator.username, area="platform")
    path = "/platform/platform_categories/new"
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "parent_id": str(food.id),
            "name": "茶叶",
            "slug": "tea",
            "commission": "5.5",
            "is_enabled": "y",
        },
    )
    assert response.status_code == 302
    tea = db.session.scalar(select(Category).where(Category.slug == "tea"))
    assert (tea.parent_id, tea.commission_rate_bp, tea.path) == (food.id, 550, f"/{food.id}/{tea.id}/")
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "category.create", AuditEntry.object_id == str(tea.id))
    )
    assert (
        entry.actor_id == operator.id
        and entry.area == "platform"
        and entry.changes["commission_rate_bp"]
        == [
            None,
            550,
        ]
    )

    page = f"/platform/platform_categories/{tea.id}"
    response = client.post(
        f"{page}/edit",
        data={"csrf_token": csrf_token(client, page), "name": "茶", "slug": "tea", "commission": "101"},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 400
    assert "The commission is between 0 and 100 %." in response.get_data(as_text=True)
    db.session.expire_all()
    assert (tea.name, tea.commission_rate_bp) == ("茶叶", 550)


def test_operator_forms_refuse_bad_input_and_missing_csrf(client, db, make_user):
    food = cat("食品", "food")
    tea = cat("茶叶", "tea", food)
    operator = make_user(operator_role="operator")
    login(client, operator.username, area="platform")
    page = f"/platform/platform_categories/{food.id}"
    en = {"Accept-Language": "en"}
    response = client.post(
        f"{page}/move", data={"csrf_token": csrf_token(client, page), "parent_id": str(tea.id)}, headers=en
    )
    assert response.status_code == 400 and "cannot be moved under itself" in response.get_data(as_text=True)
    response = client.post(f"{page}/enable", data={"enabled": "0"})
    assert response.status_code == 400
    response = client.post(f"{page}/delete", data={"csrf_token": csrf_token(client, page)}, headers=en)
    assert response.status_code == 400 and "sub-categories first" in response.get_data(as_text=True)
    db.session.expire_all()
    assert food.is_enabled and tea.parent_id == food.id


def test_operator_edits_templates_on_the_category_page(client, db, make_user):
    tea = cat("茶叶", "tea")
    operator = make_user(operator_role="operator")
    login(client, operator.username, area="platform")
    page = f"/platform/platform_categories/{tea.id}"
    token = csrf_token(client, page)
    response = client.post(
        f"{page}/attributes/new",
        data={"new-csrf_token": token, "new-name": "等级", "new-input": "select", "new-options": ""},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 400 and "Give at least one option" in response.get_data(as_text=True)
    response = client.post(
        f"{page}/attributes/new",
        data={"new-csrf_token": token, "new-name": "等级", "new-input": "select", "new-options": "特级\n一级"},
    )
    assert response.status_code == 302
    attribute = db.session.scalar(select(CategoryAttribute).where(CategoryAttribute.category_id == tea.id))
    assert attribute.options == ["特级", "一级"]
    response = client.post(
        f"{page}/attributes/{attribute.id}/edit",
        data={
            f"t{attribute.id}-{name}": value
            for name, value in (("csrf_token", token), ("name", "茶叶等级"), ("input", "text"))
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert (attribute.name, attribute.input, attribute.options) == ("茶叶等级", "text", [])
    other = cat("零食", "snacks")
    response = client.post(
        f"/platform/platform_categories/{other.id}/attributes/{attribute.id}/delete", data={"csrf_token": token}
    )
    assert response.status_code == 404  # an attribute of another category
    response = client.post(
        f"{page}/specs/new", data={"new-csrf_token": token, "new-name": "容量", "new-values": "50克"}
    )
    assert response.status_code == 302 and [s.name for s in db.session.get(Category, tea.id).specs] == ["容量"]


def test_operator_creates_a_brand_with_a_logo(client, db, make_user):
    operator = make_user(operator_role="operator")
    login(client, operator.username, area="platform")
    path = "/platform/platform_brands/new"
    token = csrf_token(client, path)
    response = client.post(
        path,
        data={"csrf_token": token, "name": "Lumina", "slug": "", "logo": (io.BytesIO(b"not an image"), "x.png")},
        content_type="multipart/form-data",
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 400 and "not a valid image" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Brand)) == 0
    response = client.post(
        path,
        data={
            "csrf_token": token,
            "name": "Lumina",
            "is_featured": "y",
            "is_enabled": "y",
            "position": "3",
            "logo": (io.BytesIO(png()), "logo.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    brand = db.session.scalar(select(Brand))
    assert (brand.slug, brand.initial, brand.is_featured, brand.position) == ("lumina", "L", True, 3)
    assert brand.logo_file_id is not None
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "brand.create")).actor_id == operator.id


def test_renaming_a_category_renews_its_suggestions(db, app, make_merchant):
    from mall.catalog.search import suggest

    food = cat("食品", "food")
    tea = cat("茶叶", "tea", food)
    publish(db, make_merchant, tea)
    from mall.catalog.search_terms import rebuild_search_terms

    rebuild_search_terms()
    assert "茶叶" in suggest("茶")
    taxonomy.update_category(tea, name="名茶", slug="tea")
    db.session.commit()
    work(app)
    assert "名茶" in suggest("名") and "茶叶" not in suggest("茶")
