"""The consumer store page: published decoration with the store's theme, header, cache, isolation."""

from __future__ import annotations

import json
import re

import pytest

from mall.decoration import services
from mall.extensions import redis_store
from mall.merchants.models import StoreProfile
from mall.storage.services import store_upload
from mall.tenancy import tenant
from tests.decoration.conftest import EN, add_modules, every_module, png_bytes

THEMES = ["default", "classic", "magazine", "compact"]


def _publish(store, theme: str | None = None) -> int:
    with tenant(store.merchant.id):
        if theme:
            services.set_theme(store.owner, theme)
        return services.publish(store.owner).version


def _live_keys(merchant_id: int) -> list[str]:
    return sorted(k.decode() for k in redis_store.client.scan_iter(match=f"mall:m{merchant_id}:decoration:live:*"))


def test_a_store_with_nothing_published_is_being_decorated(db, store):
    add_modules(store.merchant.id, store.owner, [("notice", {"text": "Draft only"}, {})])
    page = store.page()
    assert "This store is being decorated" in page
    assert "theme-default" in page and "Draft only" not in page  # drafts never reach buyers
    assert "Decor Store" in page and "No ratings yet" in page


@pytest.mark.parametrize("theme", THEMES)
def test_every_module_renders_in_every_theme(db, store, theme):
    modules = add_modules(store.merchant.id, store.owner, every_module())
    _publish(store, theme)
    page = store.page()
    assert f"theme-{theme}" in page and f"/themes/{theme}/static/theme.css" in page
    assert "/static/shop.css" in page
    banner, _grid, _coupons, _text, image, video, _notice = (m["config"] for m in modules)
    assert f'src="/media/{banner["slides"][0]["image"]}"' in page and 'alt="Banner alt"' in page
    assert 'href="/shop/elsewhere/"' in page
    assert "Our picks" in page and "New products will be shown here once they are on sale." in page
    assert "Coupons today" in page and "No coupons to claim right now." in page
    assert "<h2>Story</h2>" in page and "<p>Made by hand.</p>" in page
    assert f'src="/media/{image["image"]}"' in page and "Our workshop" in page
    assert re.search(r'<a href="https://example.com/about" rel="noopener noreferrer nofollow ugc">', page)
    assert f'<video controls playsinline preload="metadata" src="/media/{video["video"]}"' in page
    assert "How we make it" in page
    assert "Closed on Sunday" in page and "notice-promo" in page
    assert "This store is being decorated" not in page


def test_modules_appear_in_the_order_of_the_draft(db, store):
    a, _b = add_modules(
        store.merchant.id, store.owner, [("notice", {"text": "AAA"}, {}), ("notice", {"text": "BBB"}, {})]
    )
    with tenant(store.merchant.id):
        services.move_module(store.owner, a["id"], "down")
    _publish(store)
    page = store.page()
    assert page.index("BBB") < page.index("AAA")


def test_slots_of_a_theme_and_fallback_to_its_main_slot(db, store):
    with tenant(store.merchant.id):
        services.set_theme(store.owner, "classic")
        services.add_module(store.owner, "notice", {"text": "In the sidebar"}, {}, slot="sidebar")
        services.add_module(store.owner, "notice", {"text": "In the main column"}, {})
    _publish(store)
    page = store.page()
    sidebar = page.split('class="shop-slot shop-slot-sidebar"')[1].split("</aside>\n  <div")[0]
    assert "In the sidebar" in sidebar and "In the main column" not in sidebar
    # Magazine has no sidebar: the module is shown in its main column instead (and kept for later).
    _publish(store, "magazine")
    page = store.page()
    main = page.split('class="shop-slot shop-slot-main magazine-column"')[1]
    assert "In the sidebar" in main
    with tenant(store.merchant.id):
        assert {m["slot"] for m in services.current_draft().modules} == {"sidebar", "main"}


def test_draft_changes_reach_buyers_only_when_published(db, store):
    [notice] = add_modules(store.merchant.id, store.owner, [("notice", {"text": "Version one"}, {})])
    _publish(store)
    with tenant(store.merchant.id):
        services.update_module(store.owner, notice["id"], {"text": "Version two"}, {})
        services.set_theme(store.owner, "compact")
    page = store.page()
    assert "Version one" in page and "Version two" not in page and "theme-default" in page
    _publish(store)
    page = store.page()
    assert "Version two" in page and "Version one" not in page and "theme-compact" in page


def test_live_rendering_is_cached_by_merchant_theme_and_version(db, store):
    mid = store.merchant.id
    add_modules(mid, store.owner, [("notice", {"text": "Cached words"}, {})])
    _publish(store)
    assert "Cached words" in store.page()
    assert _live_keys(mid) == [f"mall:m{mid}:decoration:live:default:v1:c0:en"]
    # The next request is served from the cache (proved by changing the cached copy).
    key = _live_keys(mid)[0]
    cached = json.loads(redis_store.client.get(key))
    redis_store.client.set(key, json.dumps({**cached, "main": cached["main"].replace("Cached words", "From cache")}))
    assert "From cache" in store.page()
    # Another language is another entry.
    store.client.get(f"/shop/{store.merchant.slug}/", headers={"Accept-Language": "zh-CN"})
    assert f"mall:m{mid}:decoration:live:default:v1:c0:zh_Hans_CN" in _live_keys(mid)
    # Switching theme and publishing: the old entries are dropped and the new version renders fresh.
    assert _publish(store, "magazine") == 2
    assert _live_keys(mid) == []
    page = store.page()
    assert "Cached words" in page and "From cache" not in page and "theme-magazine" in page
    assert _live_keys(mid) == [f"mall:m{mid}:decoration:live:magazine:v2:c0:en"]


def test_previews_are_never_cached(db, store):
    add_modules(store.merchant.id, store.owner, [("notice", {"text": "Preview me"}, {})])
    response = store.client.get("/merchant/decoration/preview/page", headers=EN)
    assert response.status_code == 200 and "Preview me" in response.get_data(as_text=True)
    assert _live_keys(store.merchant.id) == []


def test_two_stores_with_the_same_version_numbers_do_not_collide(db, make_store):
    a, b = make_store("Alpha Decor", "alpha-decor"), make_store("Beta Decor", "beta-decor")
    add_modules(a.merchant.id, a.owner, every_module("Alpha "))
    add_modules(b.merchant.id, b.owner, every_module("Beta "))
    assert _publish(a, "classic") == 1 and _publish(b, "classic") == 1  # same theme, same version
    for _ in range(2):  # the second round is served from the cache
        page_a, page_b = a.page(), b.page()
        assert "Alpha Story" in page_a and "Beta" not in page_a.replace("Beta Decor", "")
        assert "Beta Story" in page_b and "Alpha" not in page_b.replace("Alpha Decor", "")
    assert _live_keys(a.merchant.id) == [f"mall:m{a.merchant.id}:decoration:live:classic:v1:c0:en"]
    assert _live_keys(b.merchant.id) == [f"mall:m{b.merchant.id}:decoration:live:classic:v1:c0:en"]


def test_one_stores_decoration_never_appears_on_another_stores_page(db, make_store, app):
    a, b = make_store("Alpha Decor", "alpha-decor"), make_store("Beta Decor", "beta-decor")
    a_modules = add_modules(a.merchant.id, a.owner, every_module("Alpha "))
    add_modules(b.merchant.id, b.owner, [("notice", {"text": "Beta notice"}, {})])
    _publish(a)
    _publish(b, "compact")
    a_media = [a_modules[0]["config"]["slides"][0]["image"], a_modules[4]["config"]["image"]]
    app.config["MALL_DOMAIN"] = "mall.test"
    try:
        page = b.page()
        assert "Alpha" not in page and not any(key in page for key in a_media) and "Beta notice" in page
        sub = b.client.get("/", base_url="http://beta-decor.mall.test", headers=EN).get_data(as_text=True)
        assert "Beta notice" in sub and "Alpha" not in sub and not any(key in sub for key in a_media)
        assert '<a href="/">Beta Decor</a>' in sub  # the store's home on its own subdomain is "/"
        sub_a = a.client.get("/", base_url="http://alpha-decor.mall.test", headers=EN).get_data(as_text=True)
        assert "Alpha Story" in sub_a and "Beta notice" not in sub_a
    finally:
        app.config["MALL_DOMAIN"] = None


@pytest.mark.parametrize("status", ["suspended", "closed"])
def test_hidden_and_unknown_stores_are_404_even_when_decorated(db, store, status):
    add_modules(store.merchant.id, store.owner, [("notice", {"text": "Secret"}, {})])
    _publish(store)
    store.merchant.status = status
    db.session.flush()
    response = store.client.get(f"/shop/{store.merchant.slug}/", headers=EN)
    assert response.status_code == 404 and "Secret" not in response.get_data(as_text=True)
    assert "This page does not exist." in response.get_data(as_text=True)
    assert store.client.get("/shop/no-such-store/").status_code == 404


def test_store_header_shows_profile_contact_and_logo(db, store):
    with tenant(store.merchant.id):
        logo = store_upload(png_bytes(64, 64), "logo.png", purpose="store-logo", merchant_id=store.merchant.id)
        db.session.add(
            StoreProfile(
                logo_file_id=logo.id,
                service_phone="400-123-4567",
                service_hours="9:00–21:00",
                intro="Tea from the hills",
                notice="Shipping resumes on Monday",
            )
        )
        db.session.flush()
    add_modules(store.merchant.id, store.owner, [("notice", {"text": "Hello"}, {})])
    _publish(store)
    page = store.page()
    assert f'src="/media/{logo.key}"' in page and 'alt="Logo of Decor Store"' in page
    assert '<a href="tel:4001234567">400-123-4567</a>' in page and "9:00–21:00" in page
    assert "Shipping resumes on Monday" in page
    assert "No ratings yet" in page
    assert "shop-categories" not in page  # no store categories yet: no empty navigation
    assert 'action="/shop/decor-store/follow"' in page and "0 followers" in page
    _publish(store, "classic")
    assert "Tea from the hills" in store.page()


def test_store_page_without_profile_row_has_no_contact(db, store):
    _publish(store)
    page = store.page()
    assert "shop-contact" not in page and "tel:" not in page


def test_the_former_address_redirects_permanently(db, store):
    response = store.client.get(f"/store/{store.merchant.slug}/")
    assert response.status_code == 301 and response.headers["Location"].endswith(f"/shop/{store.merchant.slug}/")
