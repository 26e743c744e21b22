"""The decoration editor in the merchant centre: forms without JavaScript, preview, publish, permissions."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from mall.audit.models import AuditEntry
from mall.decoration import services
from mall.merchants.models import MerchantMembership, StaffMember, StaffRole
from mall.tenancy import tenant
from tests.conftest import csrf_token, login
from tests.decoration.conftest import EN, add_modules, png_bytes


def _draft(store) -> list[dict]:
    with tenant(store.merchant.id):
        return services.current_draft().modules


def _add_staff(db, app, merchant, user, permissions: list[str]):
    with tenant(merchant.id):
        role = StaffRole(name=f"Role {user.username}", permissions=permissions)
        db.session.add(role)
        db.session.flush()
        db.session.add(StaffMember(user_id=user.id, role_id=role.id))
    db.session.add(MerchantMembership(merchant_id=merchant.id, user_id=user.id))
    db.session.flush()
    client = app.test_client()
    assert login(client, user.username, area="merchant").status_code == 302
    return client


def test_editor_page_lists_themes_settings_modules_and_versions(db, store):
    add_modules(store.merchant.id, store.owner, [("notice", {"text": "Opening hours changed"}, {})])
    page = store.client.get("/merchant/decoration", headers=EN).get_data(as_text=True)
    assert '<a href="/merchant/decoration" aria-current="page">Shop decoration</a>' in page  # sidebar link
    for theme in ("default", "classic", "magazine", "compact"):
        assert f'src="/themes/{theme}/static/preview.png"' in page
    assert "Simple default" in page and "Classic grid" in page and "Brand magazine" in page
    assert 'type="color" id="setting-primary_color" name="primary_color" value="#e4393c"' in page
    assert "Store notice" in page and "Opening hours changed" in page
    assert "No version has been published yet." in page
    assert page.count('name="csrf_token"') >= 8  # every form carries its token


def test_add_a_banner_with_an_uploaded_image_through_the_form(db, store):
    form = store.client.get("/merchant/decoration/modules/new?type=banner", headers=EN).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in form and 'name="slides-new-image"' in form
    response = store.post(
        "/merchant/decoration/modules/new?type=banner",
        {
            "slides-new-image": (io.BytesIO(png_bytes(900, 300)), "banner.png"),
            "slides-new-link": "/shop/decor-store/",
            "slides-new-alt": "Spring sale",
            "aspect": "wide",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/merchant/decoration#modules")
    [banner] = _draft(store)
    assert banner["type"] == "banner" and banner["config"]["slides"][0]["alt"] == "Spring sale"
    assert banner["config"]["slides"][0]["image"].startswith("public/decoration/")
    editor = store.client.get("/merchant/decoration", headers=EN).get_data(as_text=True)
    assert "Banner carousel" in editor and "1 image" in editor
    # The edit form shows the slide and keeps it when only the text changes.
    edit = store.client.get(f"/merchant/decoration/modules/{banner['id']}", headers=EN).get_data(as_text=True)
    assert f'src="/media/{banner["config"]["slides"][0]["image"]}"' in edit and 'value="Spring sale"' in edit
    response = store.post(
        f"/merchant/decoration/modules/{banner['id']}",
        {"slides-0-alt": "Summer sale", "slides-0-link": "", "aspect": "tall"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    [banner2] = _draft(store)
    assert banner2["config"]["slides"][0]["alt"] == "Summer sale"
    assert banner2["config"]["slides"][0]["image"] == banner["config"]["slides"][0]["image"]


def test_invalid_forms_show_field_errors_and_save_nothing(db, store):
    response = store.post(
        "/merchant/decoration/modules/new?type=image",
        {"image": (io.BytesIO(png_bytes()), "a.png"), "link": "javascript:alert(1)", "alt": "x"},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Links must start with http://, https:// or / (a page of this mall)." in page
    assert "Nothing was saved." in page and 'value="javascript:alert(1)"' in page  # the input is kept, escaped
    response = store.post("/merchant/decoration/modules/new?type=notice", {"text": ""})
    assert response.status_code == 400 and "This field is required." in response.get_data(as_text=True)
    assert _draft(store) == []
    assert store.client.get("/merchant/decoration/modules/new?type=marquee").status_code == 404


def test_reorder_with_plain_forms_and_remove(db, store):
    a, b = add_modules(
        store.merchant.id, store.owner, [("notice", {"text": "First"}, {}), ("notice", {"text": "Second"}, {})]
    )
    editor = store.client.get("/merchant/decoration", headers=EN).get_data(as_text=True)
    # No JavaScript needed: each arrow is a form posting a direction.
    assert f'action="/merchant/decoration/modules/{b["id"]}/move"' in editor and 'value="up"' in editor
    response = store.post(f"/merchant/decoration/modules/{b['id']}/move", {"direction": "up"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"#module-{b['id']}")
    assert [m["config"]["text"] for m in _draft(store)] == ["Second", "First"]
    assert store.post(f"/merchant/decoration/modules/{a['id']}/remove").status_code == 302
    assert [m["config"]["text"] for m in _draft(store)] == ["Second"]
    assert store.post(f"/merchant/decoration/modules/{a['id']}/remove").status_code == 404


def test_theme_and_settings_forms(db, store):
    assert store.post("/merchant/decoration/theme", {"theme": "magazine"}).status_code == 302
    editor = store.client.get("/merchant/decoration", headers=EN).get_data(as_text=True)
    assert "Theme settings · Brand magazine" in editor and 'name="hero_height"' in editor
    bad = store.post("/merchant/decoration/settings", {"accent_color": "url(javascript:alert(1))"})
    assert bad.status_code == 400
    assert "Enter a colour as # and six hexadecimal digits" in bad.get_data(as_text=True)
    good = store.post(
        "/merchant/decoration/settings", {"accent_color": "#112233", "hero_height": "medium", "show_contact": "1"}
    )
    assert good.status_code == 302
    with tenant(store.merchant.id):  # only what differs from the theme's defaults is kept
        assert services.current_draft().settings == {"accent_color": "#112233", "hero_height": "medium"}
    store.post("/merchant/decoration/settings", {"accent_color": "#112233"})  # an unticked box is "off"
    with tenant(store.merchant.id):
        assert services.current_draft().settings == {"accent_color": "#112233", "show_contact": False}
    unknown = store.post("/merchant/decoration/theme", {"theme": "nope"}, follow_redirects=True)
    assert "This theme does not exist." in unknown.get_data(as_text=True)


def test_preview_publish_and_restore_from_the_editor(db, store):
    add_modules(store.merchant.id, store.owner, [("notice", {"text": "Draft words"}, {})])
    preview = store.client.get("/merchant/decoration/preview", headers=EN).get_data(as_text=True)
    assert '<iframe src="/merchant/decoration/preview/page" width="1280"' in preview
    phone = store.client.get("/merchant/decoration/preview?device=phone", headers=EN).get_data(as_text=True)
    assert '<iframe src="/merchant/decoration/preview/page" width="390"' in phone
    page = store.client.get("/merchant/decoration/preview/page", headers=EN).get_data(as_text=True)
    assert "Draft words" in page and 'name="robots" content="noindex"' in page
    assert "Draft words" not in store.page()  # not published yet

    response = store.post("/merchant/decoration/publish", follow_redirects=True)
    assert "Version 1 is published: buyers see it now." in response.get_data(as_text=True)
    assert "Draft words" in store.page()
    again = store.post("/merchant/decoration/publish", follow_redirects=True).get_data(as_text=True)
    assert "Nothing to publish" in again

    [module] = _draft(store)
    store.post(f"/merchant/decoration/modules/{module['id']}", {"text": "New words", "style": "info"})
    store.post("/merchant/decoration/publish")
    assert "New words" in store.page()
    version_page = store.client.get("/merchant/decoration/versions/1/page", headers=EN).get_data(as_text=True)
    assert "Draft words" in version_page and "New words" not in version_page
    wrapper = store.client.get("/merchant/decoration/preview?version=1", headers=EN).get_data(as_text=True)
    assert 'src="/merchant/decoration/versions/1/page"' in wrapper
    assert store.client.get("/merchant/decoration/preview?version=9").status_code == 404

    restored = store.post("/merchant/decoration/versions/1/restore", {"publish": "1"}, follow_redirects=True)
    assert "Version 1 is restored and published." in restored.get_data(as_text=True)
    page = store.page()
    assert "Draft words" in page and "New words" not in page
    history = store.client.get("/merchant/decoration", headers=EN).get_data(as_text=True)
    assert re.search(r"<td>3 <span class=\"badge ok\">Live</span></td>", history)


def test_writes_need_a_csrf_token(db, store):
    response = store.client.post("/merchant/decoration/theme", data={"theme": "classic"}, headers=EN)
    assert response.status_code == 400
    with tenant(store.merchant.id):
        assert services.current_draft().theme == "default"


def test_every_decoration_route_requires_store_manage(app):
    endpoints = [rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("merchant.decoration")]
    assert len(endpoints) >= 12
    for endpoint in endpoints:
        assert getattr(app.view_functions[endpoint], "permission", None) == "store.manage", endpoint


def _routes(module_id: str) -> list[tuple[str, str, dict]]:
    return [
        ("GET", "/merchant/decoration", {}),
        ("GET", "/merchant/decoration/modules/new?type=notice", {}),
        ("GET", f"/merchant/decoration/modules/{module_id}", {}),
        ("GET", "/merchant/decoration/preview", {}),
        ("GET", "/merchant/decoration/preview/page", {}),
        ("GET", "/merchant/decoration/versions/1/page", {}),
        ("POST", "/merchant/decoration/theme", {"theme": "classic"}),
        ("POST", "/merchant/decoration/settings", {"primary_color": "#000000"}),
        ("POST", "/merchant/decoration/modules/new?type=notice", {"text": "Intruder"}),
        ("POST", f"/merchant/decoration/modules/{module_id}", {"text": "Intruder"}),
        ("POST", f"/merchant/decoration/modules/{module_id}/move", {"direction": "down"}),
        ("POST", f"/merchant/decoration/modules/{module_id}/remove", {}),
        ("POST", "/merchant/decoration/publish", {}),
        ("POST", "/merchant/decoration/versions/1/restore", {"publish": "1"}),
    ]


def _snapshot(db, store) -> tuple:
    with tenant(store.merchant.id):
        draft = services.current_draft()
        versions = [(v.version, v.modules) for v in services.list_versions()]
        return draft.theme, draft.settings, draft.modules, versions


def test_staff_without_store_manage_get_403_everywhere(db, app, store, make_user):
    [module] = add_modules(store.merchant.id, store.owner, [("notice", {"text": "Owner's words"}, {})])
    with tenant(store.merchant.id):
        services.publish(store.owner)
        services.add_module(store.owner, "notice", {"text": "Second"}, {})
    before = _snapshot(db, store)
    clerk = _add_staff(db, app, store.merchant, make_user(), ["orders.manage", "oplog.view"])
    token = csrf_token(clerk, "/merchant/")
    page = clerk.get("/merchant/", headers=EN).get_data(as_text=True)
    assert "Shop decoration" not in page  # no sidebar link either
    for method, path, data in _routes(module["id"]):
        response = clerk.open(path, method=method, data={**data, "csrf_token": token} if method == "POST" else None)
        assert response.status_code == 403, (method, path)
    assert _snapshot(db, store) == before
    # A custom role with store.manage may decorate.
    decorator = _add_staff(db, app, store.merchant, make_user(), ["store.manage"])
    assert decorator.get("/merchant/decoration").status_code == 200


def test_another_stores_staff_cannot_touch_this_stores_draft(db, make_store):
    a, b = make_store("Alpha Decor", "alpha-decor"), make_store("Beta Decor", "beta-decor")
    [module] = add_modules(a.merchant.id, a.owner, [("notice", {"text": "Alpha words"}, {})])
    with tenant(a.merchant.id):
        services.publish(a.owner)
    before = _snapshot(db, a)
    # B's owner is bound to store B: A's module and version do not exist there.
    assert b.client.get(f"/merchant/decoration/modules/{module['id']}").status_code == 404
    assert b.post(f"/merchant/decoration/modules/{module['id']}", {"text": "Hijacked"}).status_code == 404
    assert b.post(f"/merchant/decoration/modules/{module['id']}/remove").status_code == 404
    assert b.post(f"/merchant/decoration/modules/{module['id']}/move", {"direction": "down"}).status_code == 404
    assert b.client.get("/merchant/decoration/versions/1/page").status_code == 404
    assert b.post("/merchant/decoration/versions/1/restore").status_code == 404
    # Switching to a store one is not staff of is refused, and B's own writes stay in B.
    assert b.post(f"/merchant/switch/{a.merchant.id}").status_code == 404
    b.post("/merchant/decoration/theme", {"theme": "compact"})
    b.post("/merchant/decoration/publish")
    assert _snapshot(db, a) == before
    assert "Alpha words" not in b.client.get("/merchant/decoration/preview/page").get_data(as_text=True)
    with tenant(b.merchant.id):
        assert services.live_version().theme == "compact"


def test_anonymous_visitors_are_sent_to_the_merchant_login(client, db):
    response = client.get("/merchant/decoration")
    assert response.status_code == 302 and response.headers["Location"].startswith("/merchant/login")


def test_a_closed_store_can_be_looked_at_but_not_decorated(db, store):
    store.merchant.status = "closed"
    db.session.flush()
    assert store.client.get("/merchant/decoration").status_code == 200
    response = store.post("/merchant/decoration/theme", {"theme": "classic"})
    assert response.status_code == 403
    with tenant(store.merchant.id):
        assert services.current_draft().theme == "default"


@pytest.mark.parametrize("path", ["/merchant/decoration/modules/new?type=notice"])
def test_one_request_one_commit_with_its_audit_row(db, store, path):
    store.post(path, {"text": "Audited"})
    count = db.session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "decoration.module_add")
    )
    assert count == 1
