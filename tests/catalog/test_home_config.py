"""The operator's home page configuration (blocks, banner slides) and the standard taxonomy seed."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import force_locale
from PIL import Image
from sqlalchemy import func, select

from mall.audit.models import AuditEntry
from mall.catalog import home, taxonomy
from mall.catalog.fields import SLUG_RE, TaxonomyInvalid
from mall.catalog.models import (
    BannerSlide,
    Brand,
    Category,
    CategoryAttribute,
    CategorySpec,
    HomeBlock,
    Tag,
)
from mall.catalog.seed import seed_taxonomy
from mall.storage.services import Upload
from tests.conftest import csrf_token, login


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 40), (20, 90, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def image() -> Upload:
    return Upload(png(), "banner.png")


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# Blocks
# ---------------------------------------------------------------------------------------------


def test_blocks_keep_the_operators_order(db):
    hot = home.add_block({"kind": "hot_products"})
    banners = home.add_block({"kind": "banners", "title": "Welcome"})
    offers = home.add_block({"kind": "offers", "limit": "24", "is_enabled": ""})
    assert hot.config == {"limit": home.DEFAULT_LIMITS["hot_products"]} and banners.config == {}
    assert offers.config == {"limit": 24} and not offers.is_enabled
    assert [b.id for b in home.home_blocks()] == [hot.id, banners.id]
    assert [b.id for b in home.home_blocks(enabled_only=False)] == [hot.id, banners.id, offers.id]

    home.move_block(banners, direction="up")
    home.move_block(offers, position=0)
    assert [b.kind for b in home.home_blocks(enabled_only=False)] == ["offers", "banners", "hot_products"]
    home.set_block_enabled(offers, True)
    assert [b.kind for b in home.home_blocks()] == ["offers", "banners", "hot_products"]
    home.delete_block(banners)
    assert [(b.kind, b.position) for b in home.home_blocks()] == [("offers", 0), ("hot_products", 1)]
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "HomeBlock")).all()
    assert sorted(set(actions)) == [
        "home_block.create",
        "home_block.delete",
        "home_block.enable",
        "home_block.reorder",
    ]


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({"kind": "carousel"}, {"kind"}),
        ({"kind": "hot_products", "limit": "0"}, {"limit"}),
        ({"kind": "hot_products", "limit": "49"}, {"limit"}),
        ({"kind": "offers", "limit": "ten"}, {"limit"}),
        ({"kind": "category_zone"}, {"category_id"}),
        ({"kind": "category_zone", "category_id": "999999999"}, {"category_id"}),
        ({"kind": "stores", "title": "x" * 81}, {"title"}),
    ],
)
def test_bad_blocks_are_refused(db, english, data, fields):
    with pytest.raises(TaxonomyInvalid) as invalid:
        home.add_block(data)
    assert set(invalid.value.errors) == fields
    assert db.session.scalar(select(func.count()).select_from(HomeBlock)) == 0


def test_a_category_zone_follows_its_category(db):
    food = taxonomy.create_category(name="食品", slug="food")
    tea = taxonomy.create_category(name="茶叶", slug="tea", parent_id=food.id)
    zone = home.add_block({"kind": "category_zone", "category_id": str(tea.id), "limit": "16"})
    assert zone.config == {"category_id": tea.id, "limit": 16}
    assert home.home_blocks() == [zone]
    taxonomy.set_category_enabled(food, False)  # hidden by its parent
    assert home.home_blocks() == [] and home.home_blocks(enabled_only=False) == [zone]
    with force_locale("en"), pytest.raises(taxonomy.TaxonomyError, match="home page block shows this category"):
        taxonomy.delete_category(tea)


# ---------------------------------------------------------------------------------------------
# Slides
# ---------------------------------------------------------------------------------------------


def test_active_slides_respect_slot_window_and_order(db):
    tea = taxonomy.create_category(name="茶叶", slug="tea")
    always = home.add_slide({"slot": "home", "title": "Always", "link": "/"}, image())
    ended = home.add_slide({"slot": "home", "ends_at": NOW - timedelta(seconds=1)}, image())
    later = home.add_slide({"slot": "home", "starts_at": NOW + timedelta(hours=1)}, image())
    window = home.add_slide(
        {"slot": "home", "starts_at": NOW, "ends_at": NOW + timedelta(days=1), "link": "https://example.com/x"}, image()
    )
    off = home.add_slide({"slot": "home", "is_enabled": False}, image())
    category = home.add_slide({"slot": f"category:{tea.id}"}, image())
    assert [s.id for s in home.active_slides("home", NOW)] == [always.id, window.id]
    assert [s.id for s in home.active_slides(f"category:{tea.id}", NOW)] == [category.id]
    assert [s.id for s in home.active_slides("home", NOW + timedelta(hours=2))] == [always.id, later.id, window.id]
    assert ended.position == 1 and off.position == 4 and category.position == 0

    home.move_slide(window, position=0)
    assert [s.id for s in home.active_slides("home", NOW)] == [window.id, always.id]
    home.update_slide(window, {"slot": "home", "starts_at": NOW, "ends_at": NOW + timedelta(seconds=1)})
    assert [s.id for s in home.active_slides("home", NOW + timedelta(seconds=1))] == [always.id]
    home.delete_slide(always)
    assert home.active_slides("home", NOW) == [window]
    with force_locale("en"), pytest.raises(taxonomy.TaxonomyError, match="banner slides"):
        taxonomy.delete_category(tea)


@pytest.mark.parametrize(
    "link",
    ["javascript:alert(1)", "//evil.example/x", "ftp://files.example", "/path with space", "data:text/html,hi"],
)
def test_slide_links_must_be_site_paths_or_http(db, english, link):
    with pytest.raises(TaxonomyInvalid) as invalid:
        home.add_slide({"slot": "home", "link": link}, image())
    assert set(invalid.value.errors) == {"link"}
    assert db.session.scalar(select(func.count()).select_from(BannerSlide)) == 0


def test_bad_slides_are_refused_field_by_field(db, english):
    with pytest.raises(TaxonomyInvalid) as invalid:
        home.add_slide(
            {"slot": "category:987654321", "starts_at": "2026-12-02 10:00", "ends_at": "2026-12-01T10:00"}, image()
        )
    assert invalid.value.errors == {
        "slot": "This category does not exist.",
        "ends_at": "The end must come after the start.",
    }
    with pytest.raises(TaxonomyInvalid) as invalid:
        home.add_slide({"slot": "sidebar", "starts_at": "tomorrow"}, image())
    assert set(invalid.value.errors) == {"slot", "starts_at"}
    with pytest.raises(TaxonomyInvalid) as invalid:
        home.add_slide({"slot": "home"}, None)
    assert invalid.value.errors == {"image": "Upload the banner image."}
    with pytest.raises(TaxonomyInvalid) as invalid:
        home.add_slide({"slot": "home"}, Upload(b"GIF89a broken", "x.gif"))
    assert "not a valid image" in invalid.value.errors["image"]


def test_typed_times_are_read_in_the_display_time_zone(db):
    slide = home.add_slide({"slot": "home", "starts_at": "2026-12-01T20:00"}, image())
    assert slide.starts_at == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # Asia/Shanghai is UTC+8


# ---------------------------------------------------------------------------------------------
# The operator's page
# ---------------------------------------------------------------------------------------------


def test_home_page_admin_needs_catalog_manage(client, db, make_user):
    editor = make_user(operator_role="content_editor")
    login(client, editor.username, area="platform")
    assert client.get("/platform/platform_home/").status_code == 403
    response = client.post(
        "/platform/platform_home/blocks/new", data={"csrf_token": csrf_token(client, "/platform/"), "kind": "offers"}
    )
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(HomeBlock)) == 0


def test_operator_configures_blocks_and_slides(client, db, make_user):
    tea = taxonomy.create_category(name="茶叶", slug="tea")
    operator = make_user(operator_role="operator")
    login(client, operator.username, area="platform")
    page = "/platform/platform_home/"
    token = csrf_token(client, page)
    en = {"Accept-Language": "en"}

    response = client.post(page + "blocks/new", data={"csrf_token": token, "kind": "category_zone"}, headers=en)
    assert response.status_code == 400 and "Choose the category the zone shows." in response.get_data(as_text=True)
    response = client.post(
        page + "blocks/new",
        data={"csrf_token": token, "kind": "category_zone", "category_id": tea.id, "limit": "8", "is_enabled": "y"},
    )
    assert response.status_code == 302
    block = db.session.scalar(select(HomeBlock))
    assert (block.kind, block.config, block.is_enabled) == ("category_zone", {"category_id": tea.id, "limit": 8}, True)

    response = client.post(
        page + "slides/new",
        data={
            "csrf_token": token,
            "slot": "home",
            "title": "Spring tea",
            "link": "javascript:alert(1)",
            "image": (io.BytesIO(png()), "b.png"),
        },
        content_type="multipart/form-data",
        headers=en,
    )
    assert response.status_code == 400 and "Links must start with" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(BannerSlide)) == 0
    response = client.post(
        page + "slides/new",
        data={
            "csrf_token": token,
            "slot": f"category:{tea.id}",
            "title": "Spring tea",
            "link": "/category/tea",
            "starts_at": "2026-03-01T08:00",
            "is_enabled": "y",
            "image": (io.BytesIO(png()), "b.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    slide = db.session.scalar(select(BannerSlide))
    assert (slide.slot, slide.link, slide.starts_at) == (
        f"category:{tea.id}",
        "/category/tea",
        datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
    )
    html = client.get(page, headers=en).get_data(as_text=True)
    assert f'data-block="{block.id}" data-kind="category_zone"' in html and "Category: 茶叶" in html
    edit = client.get(f"{page}slides/{slide.id}").get_data(as_text=True)
    assert 'value="2026-03-01T08:00"' in edit  # shown again in the display time zone
    assert client.get(f"{page}blocks/{block.id}").status_code == 200
    assert client.get(f"{page}blocks/987654321").status_code == 404
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.actor_id == operator.id)).all()
    assert {"home_block.create", "banner_slide.create"} <= set(actions)


# ---------------------------------------------------------------------------------------------
# The standard taxonomy seed
# ---------------------------------------------------------------------------------------------


def _counts(db) -> dict[str, int]:
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Category, CategoryAttribute, CategorySpec, Brand, Tag, HomeBlock)
    }


def test_seed_is_realistic_and_idempotent(db):
    first = seed_taxonomy()
    counts = _counts(db)
    second = seed_taxonomy()
    assert _counts(db) == counts
    assert first["categories"] == second["categories"] and first["brands"] == second["brands"]
    assert not any(second["created"].values())

    tree = taxonomy.category_tree()
    assert len(tree) >= 8 and max(n.depth for n in taxonomy.flatten_tree(tree)) == 2
    assert counts["Brand"] >= 20 and counts["Tag"] >= 5
    for node in taxonomy.flatten_tree(tree):
        assert SLUG_RE.match(node.slug) and node.path.endswith(f"/{node.id}/")
    dresses = first["categories"]["dresses"]
    assert [n.name for n in taxonomy.ancestors_of(db.session.get(Category, dresses))] == ["服饰鞋包", "女装", "连衣裙"]
    assert "dresses" in first["leaf_categories"] and "apparel" not in first["leaf_categories"]
    assert taxonomy.category_is_selectable(dresses)
    names = [a.name for a in taxonomy.inherited_attributes(first["categories"]["green-tea"])]
    assert {"产地", "保质期", "茶叶等级"} <= set(names) and names.count("产地") == 1
    origin = next(a for a in taxonomy.inherited_attributes(first["categories"]["green-tea"]) if a.name == "产地")
    assert origin.input == "select" and origin.is_filterable and "福建" in origin.options
    specs = {s.name: s.values for s in taxonomy.inherited_specs(first["categories"]["smartphones"])}
    assert "8GB+256GB" in specs["版本"] and "黑色" in specs["颜色"]
    for attribute in db.session.scalars(select(CategoryAttribute)):
        assert attribute.input in ("text", "number") or attribute.options
    assert taxonomy.effective_commission_bp(first["categories"]["phone-cases"]) == 800
    assert taxonomy.effective_commission_bp(first["categories"]["smartphones"]) == 200
    assert db.session.scalar(select(func.count()).where(Brand.is_featured.is_(True))) >= 3
    assert {b.initial for b in db.session.scalars(select(Brand))} >= {"Q", "L", "N", "#"}

    blocks = home.home_blocks()
    assert [b.kind for b in blocks].count("category_zone") == 4
    assert [b.kind for b in blocks][:4] == ["banners", "hot_products", "stores", "brands"]
    zones = [b.config["category_id"] for b in blocks if b.kind == "category_zone"]
    assert zones == [n.id for n in tree[:4]]


def test_seed_leaves_an_operators_home_page_alone(db):
    mine = home.add_block({"kind": "offers"})
    report = seed_taxonomy()
    assert report["created"]["home_blocks"] == 0 and home.home_blocks() == [mine]
