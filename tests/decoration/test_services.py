"""Decoration services: the draft, module validation, theme settings, publish and restore, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mall.audit.models import AuditEntry
from mall.decoration import services
from mall.decoration.media import sniff_video
from mall.decoration.models import DecorationDraft, DecorationVersion
from mall.decoration.modules import ConfigInvalid, DecorationError, Upload
from mall.decoration.validation import link_problem, sanitize_html
from mall.errors import NotFound
from mall.storage.models import StoredObject
from mall.tenancy import tenant
from tests.decoration.conftest import add_modules, image_upload, mp4_bytes, png_bytes, webm_bytes


def _notice(text: str) -> tuple[str, dict, dict]:
    return ("notice", {"text": text, "style": "info"}, {})


def _draft_modules(merchant_id: int) -> list[dict]:
    with tenant(merchant_id):
        return services.current_draft().modules


def _objects(db) -> int:
    return db.session.scalar(select(func.count()).select_from(StoredObject))


def test_opening_the_editor_writes_nothing(db, store):
    with tenant(store.merchant.id):
        draft = services.current_draft()
        assert draft.theme == "default" and draft.modules == [] and draft.id is None
        assert db.session.scalar(select(func.count()).select_from(DecorationDraft)) == 0
        assert services.live_version() is None


def test_draft_publish_restore_round_trip(db, store):
    actor, mid = store.owner, store.merchant.id
    [first] = add_modules(mid, actor, [_notice("First words")])
    with tenant(mid):
        v1 = services.publish(actor)
        assert v1.version == 1 and v1.modules[0]["config"]["text"] == "First words"
        services.update_module(actor, first["id"], {"text": "Second words", "style": "warning"}, {})
        # The draft changed, the live version did not.
        assert services.live_version().version == 1
        assert services.live_version().modules[0]["config"]["text"] == "First words"
        assert services.has_unpublished_changes(services.current_draft(), services.live_version())
        v2 = services.publish(actor)
        assert v2.version == 2 and services.live_version().modules[0]["config"]["text"] == "Second words"
        assert services.current_draft().based_on_version == 2

        # Restore version 1 into the draft only: buyers still see version 2.
        draft = services.restore_version(actor, 1)
        assert draft.modules[0]["config"]["text"] == "First words" and draft.based_on_version == 1
        assert services.live_version().version == 2
        # Restore and publish at once: a new version 3 with version 1's content.
        services.update_module(actor, first["id"], {"text": "Scratch", "style": "info"}, {})
        services.restore_version(actor, 1, publish_now=True)
        live = services.live_version()
        assert live.version == 3 and live.modules == v1.modules and live.theme == v1.theme
        assert [v.version for v in services.list_versions()] == [3, 2, 1]
        assert services.publisher_names(services.list_versions()) == {actor.id: actor.username}
        with pytest.raises(NotFound):
            services.restore_version(actor, 99)


def test_publishing_an_unchanged_draft_is_refused(db, store):
    add_modules(store.merchant.id, store.owner, [_notice("Hello")])
    with tenant(store.merchant.id):
        services.publish(store.owner)
        with pytest.raises(DecorationError, match="Nothing to publish"):
            services.publish(store.owner)
        assert db.session.scalar(select(func.count()).select_from(DecorationVersion)) == 1


def test_version_numbers_belong_to_each_store(db, make_store):
    a, b = make_store(), make_store()
    for s in (a, b):
        add_modules(s.merchant.id, s.owner, [_notice(f"Notice of {s.merchant.name}")])
        with tenant(s.merchant.id):
            assert services.publish(s.owner).version == 1
    with tenant(a.merchant.id):
        assert services.live_version().modules[0]["config"]["text"] == f"Notice of {a.merchant.name}"


def test_theme_switch_keeps_the_settings_the_new_theme_knows(db, store):
    actor, mid = store.owner, store.merchant.id
    with tenant(mid):
        services.update_theme_settings(
            actor, {"primary_color": "#123ABC", "font": "serif", "logo_position": "center", "show_contact": ""}
        )
        draft = services.current_draft()
        assert draft.settings["primary_color"] == "#123abc" and draft.settings["show_contact"] is False
        services.set_theme(actor, "compact")
        draft = services.current_draft()
        assert draft.theme == "compact"
        # compact knows primary_color and logo_position; its fonts are rounded/sans, so "serif" is dropped.
        assert draft.settings == {"primary_color": "#123abc", "logo_position": "center", "show_contact": False}
        services.set_theme(actor, "magazine")
        assert services.current_draft().settings == {"logo_position": "center", "show_contact": False}
        with pytest.raises(DecorationError):
            services.set_theme(actor, "../default")
        assert services.current_draft().theme == "magazine"


@pytest.mark.parametrize(
    "form, field",
    [
        ({"primary_color": "red"}, "primary_color"),
        ({"primary_color": "#12345"}, "primary_color"),
        ({"primary_color": "#123456;background:url(x)"}, "primary_color"),
        ({"font": "Comic Sans"}, "font"),
        ({"font": "sans; } body { display:none"}, "font"),
        ({"logo_position": "top"}, "logo_position"),
    ],
)
def test_bad_theme_settings_change_nothing(db, store, form, field):
    with tenant(store.merchant.id):
        services.update_theme_settings(store.owner, {"primary_color": "#00ff00"})
        with pytest.raises(ConfigInvalid) as caught:
            services.update_theme_settings(store.owner, {"primary_color": "#0000ff", **form})
        assert field in caught.value.errors
        db.session.expire_all()
        assert services.current_draft().settings["primary_color"] == "#00ff00"


BAD_MODULES = [
    ("notice", {"text": ""}, {}, "text"),
    ("notice", {"text": "x" * 501}, {}, "text"),
    ("notice", {"text": "ok", "style": "blink"}, {}, "style"),
    ("rich_text", {"html": "<script>alert(1)</script>"}, {}, "html"),  # nothing visible remains
    ("rich_text", {"html": "<p>" + "x" * 20_001 + "</p>"}, {}, "html"),
    ("product_grid", {"source": "category", "limit": "8"}, {}, "category_id"),
    ("product_grid", {"source": "picked", "limit": "8"}, {}, "product_ids"),
    ("product_grid", {"source": "picked", "product_ids": "1, two", "limit": "8"}, {}, "product_ids"),
    ("product_grid", {"source": "newest", "limit": "500"}, {}, "limit"),
    ("product_grid", {"source": "newest", "limit": "-3"}, {}, "limit"),
    ("product_grid", {"source": "favourites"}, {}, "source"),
    ("coupon_strip", {"title": "t" * 61}, {}, "title"),
    ("image", {"alt": "no file"}, {}, "image"),
    ("image", {"link": "javascript:alert(1)"}, {"image": image_upload()}, "link"),
    ("image", {"link": "data:text/html,<script>alert(1)</script>"}, {"image": image_upload()}, "link"),
    ("image", {}, {"image": Upload(b"<svg onload=alert(1)>", "x.svg")}, "image"),
    ("banner", {}, {}, "slides-new-image"),
    ("banner", {"slides-new-link": "/ok"}, {}, "slides-new-image"),
    ("banner", {"slides-new-link": "//evil.example"}, {"slides-new-image": image_upload()}, "slides-new-link"),
    ("banner", {"slides-new-link": "java\tscript:alert(1)"}, {"slides-new-image": image_upload()}, "slides-new-link"),
    ("video", {}, {}, "video"),
    ("video", {}, {"video": Upload(png_bytes(), "film.mp4")}, "video"),
    ("video", {}, {"video": Upload(b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "film.mov")}, "video"),
    ("video", {"video_url": "https://videos.example/film.mp4"}, {}, "video_url"),
    ("video", {"video_url": "/media/../secret.mp4"}, {}, "video_url"),
    (
        "video",
        {"title": "x"},
        {"video": Upload(mp4_bytes(), "film.mp4"), "poster": Upload(b"GIF89", "p.gif")},
        "poster",
    ),
]


@pytest.mark.parametrize("kind, form, files, field", BAD_MODULES)
def test_invalid_modules_are_refused_and_change_nothing(db, store, kind, form, files, field):
    add_modules(store.merchant.id, store.owner, [_notice("Existing")])
    db.session.commit()  # like the earlier request that saved it (a savepoint release here)
    objects = _objects(db)
    with tenant(store.merchant.id), pytest.raises(ConfigInvalid) as caught:
        services.add_module(store.owner, kind, form, files)
    assert caught.value.errors.get(field)
    db.session.rollback()  # what the view does; the stored file rows (if any) go with it
    assert [m["type"] for m in _draft_modules(store.merchant.id)] == ["notice"]
    assert _objects(db) == objects


def test_text_errors_stop_uploads_from_being_stored(db, store):
    objects = _objects(db)
    with tenant(store.merchant.id), pytest.raises(ConfigInvalid):
        services.add_module(store.owner, "image", {"link": "javascript:x"}, {"image": image_upload()})
    assert _objects(db) == objects  # validated before anything was written


def test_unknown_module_type_and_slot(db, store):
    with tenant(store.merchant.id):
        with pytest.raises(DecorationError):
            services.add_module(store.owner, "marquee", {}, {})
        with pytest.raises(ConfigInvalid) as caught:
            services.add_module(store.owner, "notice", {"text": "x"}, {}, slot="sidebar")  # default has no sidebar
        assert "slot" in caught.value.errors
        services.set_theme(store.owner, "classic")
        module = services.add_module(store.owner, "notice", {"text": "x"}, {}, slot="sidebar")
        assert module["slot"] == "sidebar"


@pytest.mark.parametrize(
    "link, ok",
    [
        ("https://example.com/a?b=c#d", True),
        ("http://example.com", True),
        ("/shop/other/", True),
        ("/search?q=tea", True),
        ("javascript:alert(1)", False),
        ("JAVASCRIPT:alert(1)", False),
        (" javascript:alert(1)", False),
        ("java\nscript:alert(1)", False),
        ("javascript&colon;alert(1)", False),
        ("data:text/html;base64,PHNjcmlwdD4=", False),
        ("vbscript:msgbox(1)", False),
        ("//evil.example/", False),
        ("/\\evil.example", False),
        ("https://user:pw@evil.example/", False),
        ('/a" onmouseover="alert(1)', False),
        ("/a'><script>", False),
        ("ｊａｖａｓｃｒｉｐｔ:alert(1)", False),
        ("https://example.com/\u202egnp.exe", False),
        ("ftp://example.com/file", False),
        ("example.com", False),
        ("https://", False),
        ("/" + "a" * 600, False),
    ],
)
def test_links_are_http_https_or_site_paths(link, ok, app_ctx):
    assert (link_problem(link) is None) is ok


def test_rich_text_is_sanitised_when_saved(db, store):
    [module] = add_modules(
        store.merchant.id,
        store.owner,
        [
            (
                "rich_text",
                {
                    "html": '<h2 onclick="x()">Title</h2><p style="color:red">Body '
                    '<a href="javascript:alert(1)">bad</a> '
                    '<a href="https://example.com">good</a><img src="/media/public/x.png" onerror="alert(1)">'
                    '<img src="https://tracker.example/p.gif"></p><script>alert(1)</script><iframe src="/"></iframe>'
                },
                {},
            )
        ],
    )
    html = module["config"]["html"]
    assert html == sanitize_html(html)  # stored already clean
    assert "<h2>Title</h2>" in html and "onclick" not in html and "style" not in html and "<script" not in html
    assert 'href="https://example.com"' in html and "javascript" not in html and "iframe" not in html
    assert '<img src="/media/public/x.png">' in html and "tracker" not in html and "onerror" not in html


def test_videos_are_checked_by_their_first_bytes(db, store, app):
    assert sniff_video(mp4_bytes()) == ("video/mp4", "mp4")
    assert sniff_video(webm_bytes()) == ("video/webm", "webm")
    assert sniff_video(png_bytes()) is None
    assert sniff_video(b"\x1a\x45\xdf\xa3" + b"\x00" * 20 + b"matroska") is None  # Matroska but not WebM
    mid = store.merchant.id
    mp4, webm = add_modules(
        mid,
        store.owner,
        [
            ("video", {"title": "MP4"}, {"video": Upload(mp4_bytes(), "a.mp4"), "poster": image_upload()}),
            ("video", {}, {"video": Upload(webm_bytes(), "b.webm")}),
        ],
    )
    for module, content_type in ((mp4, "video/mp4"), (webm, "video/webm")):
        obj = db.session.scalar(select(StoredObject).where(StoredObject.key == module["config"]["video"]))
        assert obj.content_type == content_type and obj.merchant_id == mid and not obj.is_private
    assert mp4["config"]["poster"].endswith(".png")
    limit = app.config["DECORATION_VIDEO_MAX_BYTES"]
    app.config["DECORATION_VIDEO_MAX_BYTES"] = 10
    try:
        with tenant(mid), pytest.raises(ConfigInvalid, match="larger than"):
            services.add_module(store.owner, "video", {}, {"video": Upload(mp4_bytes(), "big.mp4")})
    finally:
        app.config["DECORATION_VIDEO_MAX_BYTES"] = limit


def test_a_video_address_must_be_a_video_of_this_store(db, make_store):
    a, b = make_store(), make_store()
    [a_video] = add_modules(a.merchant.id, a.owner, [("video", {}, {"video": Upload(mp4_bytes(), "a.mp4")})])
    [b_video] = add_modules(b.merchant.id, b.owner, [("video", {}, {"video": Upload(mp4_bytes(), "b.mp4")})])
    [a_image] = add_modules(a.merchant.id, a.owner, [("image", {}, {"image": image_upload()})])
    with tenant(a.merchant.id):
        reused = services.add_module(a.owner, "video", {"video_url": "/media/" + a_video["config"]["video"]}, {})
        assert reused["config"]["video"] == a_video["config"]["video"]
        for path in ("/media/" + b_video["config"]["video"], "/media/" + a_image["config"]["image"], "/media/nope.mp4"):
            with pytest.raises(ConfigInvalid) as caught:
                services.add_module(a.owner, "video", {"video_url": path}, {})
            assert "video_url" in caught.value.errors


def test_banner_slides_are_edited_replaced_and_removed(db, store):
    mid = store.merchant.id
    [banner] = add_modules(
        mid, store.owner, [("banner", {"slides-new-alt": "one"}, {"slides-new-image": image_upload("one.png")})]
    )
    first_key = banner["config"]["slides"][0]["image"]
    with tenant(mid):
        banner = services.update_module(
            store.owner,
            banner["id"],
            {"slides-0-alt": "one, renamed", "slides-0-link": "/shop/x/", "slides-new-alt": "two"},
            {"slides-new-image": image_upload("two.png", color=(0, 0, 255))},
        )
        slides = banner["config"]["slides"]
        assert [s["alt"] for s in slides] == ["one, renamed", "two"] and slides[0]["image"] == first_key
        assert slides[0]["link"] == "/shop/x/"
        banner = services.update_module(
            store.owner,
            banner["id"],
            {"slides-0-remove": "1", "slides-1-alt": "two"},
            {"slides-1-image": image_upload("three.png")},
        )
        [only] = banner["config"]["slides"]
        assert only["alt"] == "two" and only["image"] not in (first_key, slides[1]["image"])
        with pytest.raises(ConfigInvalid):  # removing the last slide leaves an empty carousel
            services.update_module(store.owner, banner["id"], {"slides-0-remove": "1"}, {})


def test_move_and_remove_modules(db, store):
    mid = store.merchant.id
    a, b, c = add_modules(mid, store.owner, [_notice("A"), _notice("B"), _notice("C")])
    with tenant(mid):
        services.move_module(store.owner, c["id"], "up")
        services.move_module(store.owner, a["id"], "up")  # already first: nothing happens
        services.move_module(store.owner, a["id"], "down")
        order = [m["config"]["text"] for m in services.current_draft().modules]
        assert order == ["C", "A", "B"]
        services.remove_module(store.owner, a["id"])
        assert [m["config"]["text"] for m in services.current_draft().modules] == ["C", "B"]
        with pytest.raises(NotFound):
            services.remove_module(store.owner, a["id"])
        with pytest.raises(DecorationError):
            services.move_module(store.owner, b["id"], "sideways")


def test_module_limit(db, store, monkeypatch):
    monkeypatch.setattr(services, "MAX_MODULES", 2)
    add_modules(store.merchant.id, store.owner, [_notice("1"), _notice("2")])
    with tenant(store.merchant.id), pytest.raises(DecorationError, match="at most 2"):
        services.add_module(store.owner, "notice", {"text": "3"}, {})


def test_every_write_is_audited_for_the_store(db, store):
    mid, actor = store.merchant.id, store.owner
    module, _other = add_modules(mid, actor, [_notice("A"), _notice("Z")])
    with tenant(mid):
        services.update_module(actor, module["id"], {"text": "B"}, {})
        services.move_module(actor, module["id"], "down")
        services.update_theme_settings(actor, {"primary_color": "#000000"})
        services.set_theme(actor, "classic")
        services.publish(actor)
        services.restore_version(actor, 1)
        services.remove_module(actor, module["id"])
    entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.merchant_id == mid, AuditEntry.action.like("decoration.%"))
        .order_by(AuditEntry.id)
    ).all()
    assert [e.action for e in entries] == [
        "decoration.module_add",
        "decoration.module_add",
        "decoration.module_edit",
        "decoration.module_move",
        "decoration.settings",
        "decoration.theme",
        "decoration.publish",
        "decoration.restore",
        "decoration.module_remove",
    ]
    assert {e.area for e in entries} == {"merchant"} and {e.actor_id for e in entries} == {actor.id}
    assert entries[2].changes["text"] == ["A", "B"]
    assert entries[5].changes == {"theme": ["default", "classic"]}
